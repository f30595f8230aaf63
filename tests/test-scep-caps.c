#include "config.h"

#include <string.h>

#include "scep-caps.h"
#include "scep-ndes-error.h"

static ScepCaps *
parse_ok(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	ScepCaps *caps = scep_caps_parse(text, strlen(text), &error);
	g_assert_no_error(error);
	g_assert_nonnull(caps);
	return caps;
}

static void
assert_parse_fails(const gchar *text, gsize len, const gchar *needle)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepCaps) caps = scep_caps_parse(text, len, &error);

	g_assert_null(caps);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
	if (strstr(error->message, needle) == NULL)
		g_test_fail_printf("message '%s' lacks '%s'", error->message, needle);
}

static void
test_parse_ejbca(void)
{
	g_autofree gchar *path =
	    g_test_build_filename(G_TEST_DIST, "data", "vectors", "ejbca-getcacaps.txt", NULL);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	gsize len = 0;
	g_autoptr(ScepCaps) caps = NULL;
	const gchar *const *keywords;

	g_file_get_contents(path, &text, &len, &error);
	g_assert_no_error(error);
	caps = scep_caps_parse(text, len, &error);
	g_assert_no_error(error);
	keywords = scep_caps_get_keywords(caps);
	g_assert_cmpuint(g_strv_length((gchar **)keywords), ==, 8);
	g_assert_cmpstr(keywords[0], ==, "POSTPKIOperation");
	g_assert_cmpstr(keywords[7], ==, "SCEPStandard");
	g_assert_true(scep_caps_supports_post(caps));
	g_assert_true(scep_caps_supports_renewal(caps));
	g_assert_false(scep_caps_supports_get_next_ca_cert(caps));
	g_assert_false(scep_caps_supports_update(caps));
}

static void
test_parse_crlf_case_space(void)
{
	g_autoptr(ScepCaps) caps =
	    parse_ok("  getnextcacert \r\nPOSTPKIOPERATION\r\n\r\n\tsha-256\r\nupdate\r\n");

	g_assert_true(scep_caps_has(caps, "GetNextCACert"));
	g_assert_true(scep_caps_has(caps, "SHA-256"));
	g_assert_true(scep_caps_supports_post(caps));
	g_assert_true(scep_caps_supports_get_next_ca_cert(caps));
	g_assert_true(scep_caps_supports_update(caps));
	g_assert_false(scep_caps_supports_renewal(caps));
	/* kept as sent, without the white space */
	g_assert_cmpstr(scep_caps_get_keywords(caps)[0], ==, "getnextcacert");
	g_assert_cmpuint(g_strv_length((gchar **)scep_caps_get_keywords(caps)), ==, 4);
}

static void
test_parse_unknown_kept(void)
{
	g_autoptr(ScepCaps) caps = parse_ok("Renewal\nX-Vendor-Thing\nrenewal\n");
	g_autofree gchar *text = scep_caps_to_string(caps);

	g_assert_true(scep_caps_has(caps, "x-vendor-thing"));
	/* a duplicate in another case is kept once */
	g_assert_cmpstr(text, ==, "Renewal, X-Vendor-Thing");
}

static void
test_parse_empty(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepCaps) caps = scep_caps_parse("", 0, &error);
	g_autoptr(ScepCaps) blank = parse_ok("\r\n  \n");
	g_autofree gchar *text = NULL;

	g_assert_no_error(error);
	g_assert_nonnull(caps);
	g_assert_cmpuint(g_strv_length((gchar **)scep_caps_get_keywords(caps)), ==, 0);
	g_assert_cmpuint(g_strv_length((gchar **)scep_caps_get_keywords(blank)), ==, 0);
	g_assert_false(scep_caps_supports_post(caps));
	text = scep_caps_to_string(caps);
	g_assert_cmpstr(text, ==, "none");
}

static void
test_parse_html(void)
{
	const gchar *page = "<!DOCTYPE html>\n<html><body>Error</body></html>\n";
	const gchar *late = "Server Error\n<html><body>500</body></html>";

	assert_parse_fails(page, strlen(page), "HTML");
	assert_parse_fails(late, strlen(late), "HTML");
}

static void
test_parse_too_large(void)
{
	gsize len = SCEP_CAPS_MAX_SIZE + 1;
	g_autofree gchar *big = g_malloc(len);

	memset(big, 'A', len);
	assert_parse_fails(big, len, "too large");
}

static void
test_parse_binary(void)
{
	static const gchar nul[] = "AES\0DES3";
	static const gchar latin1[] = "SHA-256\n\xff\xfe";

	assert_parse_fails(nul, sizeof(nul) - 1, "not text");
	assert_parse_fails(latin1, sizeof(latin1) - 1, "not text");
}

static void
test_post_by_scep_standard(void)
{
	g_autoptr(ScepCaps) caps = parse_ok("SCEPStandard");
	g_autoptr(ScepCaps) none = parse_ok("Renewal");

	g_assert_true(scep_caps_supports_post(caps));
	g_assert_false(scep_caps_supports_post(none));
}

static gnutls_cipher_algorithm_t
choose_cipher(const gchar *text, ScepCapsAlgPolicy policy, gnutls_cipher_algorithm_t preferred)
{
	g_autoptr(ScepCaps) caps = parse_ok(text);
	g_autoptr(GError) error = NULL;
	gnutls_cipher_algorithm_t out = GNUTLS_CIPHER_UNKNOWN;

	g_assert_true(scep_caps_choose_cipher(caps, policy, preferred, &out, &error));
	g_assert_no_error(error);
	return out;
}

static void
assert_cipher_fails(const gchar *text,
		    ScepCapsAlgPolicy policy,
		    gnutls_cipher_algorithm_t preferred,
		    const gchar *needle1,
		    const gchar *needle2)
{
	g_autoptr(ScepCaps) caps = parse_ok(text);
	g_autoptr(GError) error = NULL;
	gnutls_cipher_algorithm_t out = GNUTLS_CIPHER_UNKNOWN;

	g_assert_false(scep_caps_choose_cipher(caps, policy, preferred, &out, &error));
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_UNSUPPORTED);
	if (strstr(error->message, needle1) == NULL || strstr(error->message, needle2) == NULL)
		g_test_fail_printf(
		    "message '%s' lacks '%s' or '%s'", error->message, needle1, needle2);
}

static void
test_cipher_automatic(void)
{
	const ScepCapsAlgPolicy def = SCEP_CAPS_ALG_POLICY_DEFAULT;
	const ScepCapsAlgPolicy legacy = SCEP_CAPS_ALG_POLICY_ALLOW_LEGACY;

	g_assert_cmpint(choose_cipher("AES\nDES3", def, 0), ==, GNUTLS_CIPHER_AES_128_CBC);
	g_assert_cmpint(choose_cipher("SCEPStandard", def, 0), ==, GNUTLS_CIPHER_AES_128_CBC);
	g_assert_cmpint(choose_cipher("DES3\nSHA-1", def, 0), ==, GNUTLS_CIPHER_3DES_CBC);
	/* legacy permission does not lower the choice when something better is offered */
	g_assert_cmpint(choose_cipher("DES3", legacy, 0), ==, GNUTLS_CIPHER_3DES_CBC);
	g_assert_cmpint(choose_cipher("Renewal", legacy, 0), ==, GNUTLS_CIPHER_DES_CBC);
	assert_cipher_fails("Renewal\nSHA-1", def, 0, "no acceptable content cipher", "legacy");
	assert_cipher_fails("", def, 0, "offers: no keyword for it", "single DES");
}

static void
test_cipher_explicit(void)
{
	const ScepCapsAlgPolicy def = SCEP_CAPS_ALG_POLICY_DEFAULT;
	const ScepCapsAlgPolicy legacy = SCEP_CAPS_ALG_POLICY_ALLOW_LEGACY;

	g_assert_cmpint(
	    choose_cipher("AES\nDES3", def, GNUTLS_CIPHER_3DES_CBC), ==, GNUTLS_CIPHER_3DES_CBC);
	g_assert_cmpint(
	    choose_cipher("AES", def, GNUTLS_CIPHER_AES_256_CBC), ==, GNUTLS_CIPHER_AES_256_CBC);
	g_assert_cmpint(
	    choose_cipher("AES", legacy, GNUTLS_CIPHER_DES_CBC), ==, GNUTLS_CIPHER_DES_CBC);
	assert_cipher_fails("DES3", def, GNUTLS_CIPHER_AES_256_CBC, "AES-256-CBC", "offers: DES3");
	assert_cipher_fails("AES", def, GNUTLS_CIPHER_3DES_CBC, "3DES-CBC", "offers: AES");
	assert_cipher_fails("AES\nDES3", def, GNUTLS_CIPHER_DES_CBC, "DES-CBC", "legacy");
	assert_cipher_fails("AES", def, GNUTLS_CIPHER_AES_128_GCM, "cannot be used", "AES");
}

static gnutls_digest_algorithm_t
choose_digest(const gchar *text, ScepCapsAlgPolicy policy, gnutls_digest_algorithm_t preferred)
{
	g_autoptr(ScepCaps) caps = parse_ok(text);
	g_autoptr(GError) error = NULL;
	gnutls_digest_algorithm_t out = GNUTLS_DIG_UNKNOWN;

	g_assert_true(scep_caps_choose_digest(caps, policy, preferred, &out, &error));
	g_assert_no_error(error);
	return out;
}

static void
assert_digest_fails(const gchar *text,
		    ScepCapsAlgPolicy policy,
		    gnutls_digest_algorithm_t preferred,
		    const gchar *needle1,
		    const gchar *needle2)
{
	g_autoptr(ScepCaps) caps = parse_ok(text);
	g_autoptr(GError) error = NULL;
	gnutls_digest_algorithm_t out = GNUTLS_DIG_UNKNOWN;

	g_assert_false(scep_caps_choose_digest(caps, policy, preferred, &out, &error));
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_UNSUPPORTED);
	if (strstr(error->message, needle1) == NULL || strstr(error->message, needle2) == NULL)
		g_test_fail_printf(
		    "message '%s' lacks '%s' or '%s'", error->message, needle1, needle2);
}

static void
test_digest_automatic(void)
{
	const ScepCapsAlgPolicy def = SCEP_CAPS_ALG_POLICY_DEFAULT;
	const ScepCapsAlgPolicy legacy = SCEP_CAPS_ALG_POLICY_ALLOW_LEGACY;

	g_assert_cmpint(choose_digest("SHA-1\nSHA-512\nSHA-256", def, 0), ==, GNUTLS_DIG_SHA256);
	g_assert_cmpint(choose_digest("SCEPStandard", def, 0), ==, GNUTLS_DIG_SHA256);
	g_assert_cmpint(choose_digest("SHA-1\nSHA-512", def, 0), ==, GNUTLS_DIG_SHA512);
	g_assert_cmpint(choose_digest("sha-1\nDES3", def, 0), ==, GNUTLS_DIG_SHA1);
	g_assert_cmpint(choose_digest("DES3", legacy, 0), ==, GNUTLS_DIG_MD5);
	assert_digest_fails("DES3\nRenewal", def, 0, "no acceptable digest", "MD5");
}

static void
test_digest_explicit(void)
{
	const ScepCapsAlgPolicy def = SCEP_CAPS_ALG_POLICY_DEFAULT;
	const ScepCapsAlgPolicy legacy = SCEP_CAPS_ALG_POLICY_ALLOW_LEGACY;

	g_assert_cmpint(choose_digest("SHA-1\nSHA-256", def, GNUTLS_DIG_SHA1), ==, GNUTLS_DIG_SHA1);
	g_assert_cmpint(choose_digest("SHA-512", def, GNUTLS_DIG_SHA512), ==, GNUTLS_DIG_SHA512);
	g_assert_cmpint(choose_digest("SHA-256", legacy, GNUTLS_DIG_MD5), ==, GNUTLS_DIG_MD5);
	assert_digest_fails("SHA-1", def, GNUTLS_DIG_SHA512, "SHA512", "offers: SHA-1");
	assert_digest_fails("SHA-256", def, GNUTLS_DIG_MD5, "MD5", "legacy");
	assert_digest_fails("SHA-256", def, GNUTLS_DIG_SHA3_256, "cannot be used", "SHA-256");
}

static void
test_legacy_ejbca(void)
{
	g_autofree gchar *path = g_test_build_filename(
	    G_TEST_DIST, "data", "vectors", "ejbca-getcacaps-legacy.txt", NULL);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	gsize len = 0;
	g_autoptr(ScepCaps) caps = NULL;
	gnutls_cipher_algorithm_t cipher = GNUTLS_CIPHER_UNKNOWN;
	gnutls_digest_algorithm_t digest = GNUTLS_DIG_UNKNOWN;

	g_file_get_contents(path, &text, &len, &error);
	g_assert_no_error(error);
	caps = scep_caps_parse(text, len, &error);
	g_assert_no_error(error);
	/* EJBCA 6/7: no AES, so 3DES; SHA-256 is listed */
	g_assert_true(scep_caps_choose_cipher(caps, 0, GNUTLS_CIPHER_UNKNOWN, &cipher, &error));
	g_assert_cmpint(cipher, ==, GNUTLS_CIPHER_3DES_CBC);
	g_assert_true(scep_caps_choose_digest(caps, 0, GNUTLS_DIG_UNKNOWN, &digest, &error));
	g_assert_cmpint(digest, ==, GNUTLS_DIG_SHA256);
	g_assert_no_error(error);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

	g_test_add_func("/scep/caps/parse/ejbca", test_parse_ejbca);
	g_test_add_func("/scep/caps/parse/crlf-case-space", test_parse_crlf_case_space);
	g_test_add_func("/scep/caps/parse/unknown-kept", test_parse_unknown_kept);
	g_test_add_func("/scep/caps/parse/empty", test_parse_empty);
	g_test_add_func("/scep/caps/parse/html", test_parse_html);
	g_test_add_func("/scep/caps/parse/too-large", test_parse_too_large);
	g_test_add_func("/scep/caps/parse/binary", test_parse_binary);
	g_test_add_func("/scep/caps/post-by-scep-standard", test_post_by_scep_standard);
	g_test_add_func("/scep/caps/cipher/automatic", test_cipher_automatic);
	g_test_add_func("/scep/caps/cipher/explicit", test_cipher_explicit);
	g_test_add_func("/scep/caps/digest/automatic", test_digest_automatic);
	g_test_add_func("/scep/caps/digest/explicit", test_digest_explicit);
	g_test_add_func("/scep/caps/legacy-ejbca", test_legacy_ejbca);
	return g_test_run();
}
