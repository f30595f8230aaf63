#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "scep-ca-certs.h"
#include "scep-gnutls-common.h"
#include "scep-ndes-error.h"

/* 2010-06-01, 2012-06-01 and 2023-01-01, 00:00 UTC: inside the validity of the captured bundles */
#define TIME_2010 G_GINT64_CONSTANT(1275350400)
#define TIME_2012 G_GINT64_CONSTANT(1338508800)
#define TIME_2023 G_GINT64_CONSTANT(1672531200)

static GBytes *
load_file(const gchar *dir, const gchar *name)
{
	g_autofree gchar *path = g_test_build_filename(G_TEST_DIST, "data", dir, name, NULL);
	g_autoptr(GError) error = NULL;
	gchar *data = NULL;
	gsize len = 0;

	g_file_get_contents(path, &data, &len, &error);
	g_assert_no_error(error);
	return g_bytes_new_take(data, len);
}

static ScepCaCerts *
load_vector(const gchar *name)
{
	g_autoptr(GBytes) bytes = load_file("vectors", name);
	g_autoptr(GError) error = NULL;
	ScepCaCerts *certs = scep_ca_certs_parse(bytes, &error);

	g_assert_no_error(error);
	g_assert_nonnull(certs);
	return certs;
}

static gchar *
subject_of(gnutls_x509_crt_t crt)
{
	g_auto(ScepGnutlsDatum) dn = { NULL, 0 };
	g_assert_nonnull(crt);
	g_assert_cmpint(gnutls_x509_crt_get_dn3(crt, &dn, 0), ==, 0);
	return g_strndup((const gchar *)dn.data, dn.size);
}

static void
assert_subject_contains(gnutls_x509_crt_t crt, const gchar *needle)
{
	g_autofree gchar *subject = subject_of(crt);
	if (strstr(subject, needle) == NULL)
		g_test_fail_printf("subject '%s' does not contain '%s'", subject, needle);
}

static unsigned int
key_usage_of(gnutls_x509_crt_t crt)
{
	unsigned int usage = 0;
	g_assert_cmpint(gnutls_x509_crt_get_key_usage(crt, &usage, NULL), >=, 0);
	return usage;
}

/* an NDES bundle: split RA, CA = the issuer of the RA */
static void
assert_ndes_split_ra(ScepCaCerts *certs,
		     guint n_certs,
		     const gchar *ra_name,
		     const gchar *ca_name,
		     const gchar *root_name)
{
	gnutls_x509_crt_t sign = scep_ca_certs_get_ra_sign(certs);
	gnutls_x509_crt_t enc = scep_ca_certs_get_ra_encrypt(certs);
	GPtrArray *signers = scep_ca_certs_get_signers(certs);

	g_assert_cmpuint(scep_ca_certs_get_all(certs)->len, ==, n_certs);
	g_assert_true(scep_ca_certs_has_ra(certs));
	g_assert_true(sign != enc);
	assert_subject_contains(sign, ra_name);
	assert_subject_contains(enc, ra_name);
	g_assert_true((key_usage_of(sign) & GNUTLS_KEY_DIGITAL_SIGNATURE) != 0);
	g_assert_true((key_usage_of(enc) & GNUTLS_KEY_KEY_ENCIPHERMENT) != 0);
	g_assert_true((key_usage_of(enc) & GNUTLS_KEY_DIGITAL_SIGNATURE) == 0);
	assert_subject_contains(scep_ca_certs_get_ca(certs), ca_name);
	assert_subject_contains(scep_ca_certs_get_root(certs), root_name);
	g_assert_cmpuint(scep_ca_certs_get_intermediates(certs)->len, ==, 0);
	g_assert_cmpuint(signers->len, ==, 2);
	g_assert_true(g_ptr_array_index(signers, 0) == sign);
	g_assert_true(g_ptr_array_index(signers, 1) == scep_ca_certs_get_ca(certs));
	/* the RA was issued by the CA chosen */
	g_assert_true(gnutls_x509_crt_check_issuer(sign, scep_ca_certs_get_ca(certs)) != 0);
}

static void
test_classify_ndes_ivpntest(void)
{
	g_autoptr(ScepCaCerts) certs = load_vector("ndes-ivpntest-getcacert.p7b");
	assert_ndes_split_ra(certs, 3, "CN=ivpntest.com", "qasrv10", "qasrv10");
	g_assert_true(scep_ca_certs_get_ca(certs) == scep_ca_certs_get_root(certs));
}

static void
test_classify_ndes_wellsfargo_prod(void)
{
	g_autoptr(ScepCaCerts) certs = load_vector("ndes-wellsfargo-prod-getcacert.p7b");
	assert_ndes_split_ra(certs,
			     4,
			     "CN=WIFCA02P-NDES",
			     "CN=Wells Fargo Infrastructure CA 02",
			     "Wells Fargo Infrastructure Root Certification Authority");
}

static void
test_classify_ndes_wellsfargo_uat(void)
{
	g_autoptr(ScepCaCerts) certs = load_vector("ndes-wellsfargo-uat-getcacert.p7b");
	assert_ndes_split_ra(certs,
			     4,
			     "CN=WIFCA02U-NDES",
			     "CN=Wells Fargo UAT Infrastructure CA 02",
			     "Wells Fargo UAT Intranet Root Certification Authority");
}

static void
test_classify_ndes_bmw(void)
{
	g_autoptr(ScepCaCerts) certs = load_vector("ndes-bmw-getcacert.p7b");
	/* the RA is called "SCEP Issuing CA 2" although it is no CA: extensions decide */
	assert_ndes_split_ra(certs,
			     4,
			     "CN=SCEP Issuing CA 2",
			     "CN=BMW Group Issuing CA 2",
			     "CN=BMW Group Root CA V2");
}

static void
test_classify_cisco_ber(void)
{
	g_autoptr(ScepCaCerts) certs = load_vector("cisco-trusteddevice-getcacert-ber.p7b");
	gnutls_x509_crt_t ra = scep_ca_certs_get_ra_sign(certs);

	g_assert_cmpuint(scep_ca_certs_get_all(certs)->len, ==, 3);
	g_assert_true(scep_ca_certs_has_ra(certs));
	g_assert_true(ra == scep_ca_certs_get_ra_encrypt(certs));
	assert_subject_contains(ra, "CN=Cisco Trusted Device SCEP RA");
	assert_subject_contains(scep_ca_certs_get_ca(certs), "CN=Trusted Device SubCA");
	assert_subject_contains(scep_ca_certs_get_root(certs), "CN=Device Management Root CA");
	g_assert_cmpuint(scep_ca_certs_get_signers(certs)->len, ==, 2);
}

static void
test_classify_ruby_ra_marked_ca(void)
{
	g_autoptr(ScepCaCerts) certs = load_vector("ruby-acme-getcacert.p7b");
	gnutls_x509_crt_t ra = scep_ca_certs_get_ra_sign(certs);
	unsigned int ca_flag = 0;

	g_assert_cmpuint(scep_ca_certs_get_all(certs)->len, ==, 2);
	g_assert_true(scep_ca_certs_has_ra(certs));
	g_assert_true(ra == scep_ca_certs_get_ra_encrypt(certs));
	assert_subject_contains(ra, "CN=ACME SCEP RA");
	/* it really says CA:TRUE */
	g_assert_cmpint(gnutls_x509_crt_get_basic_constraints(ra, NULL, &ca_flag, NULL), >=, 0);
	g_assert_cmpuint(ca_flag, !=, 0);
	assert_subject_contains(scep_ca_certs_get_ca(certs), "CN=ACME Root CA");
	g_assert_true(scep_ca_certs_get_ca(certs) == scep_ca_certs_get_root(certs));
}

static void
assert_single_ca(ScepCaCerts *certs)
{
	gnutls_x509_crt_t ca = scep_ca_certs_get_ca(certs);

	g_assert_cmpuint(scep_ca_certs_get_all(certs)->len, ==, 1);
	g_assert_false(scep_ca_certs_has_ra(certs));
	assert_subject_contains(ca, "O=etcd-ca");
	g_assert_true(scep_ca_certs_get_root(certs) == ca);
	g_assert_true(scep_ca_certs_get_ra_sign(certs) == ca);
	g_assert_true(scep_ca_certs_get_ra_encrypt(certs) == ca);
	g_assert_cmpuint(scep_ca_certs_get_signers(certs)->len, ==, 1);
	g_assert_cmpint(
	    scep_ca_certs_get_role(certs, 0), ==, SCEP_CA_CERT_ROLE_CA | SCEP_CA_CERT_ROLE_ROOT);
}

static void
test_classify_single_pem(void)
{
	g_autoptr(ScepCaCerts) certs = load_vector("micromdm-testca.crt");
	assert_single_ca(certs);
}

static GBytes *
pem_to_der(GBytes *pem)
{
	g_auto(gnutls_x509_crt_t) crt = NULL;
	g_auto(ScepGnutlsDatum) der = { NULL, 0 };
	gnutls_datum_t in = scep_gnutls_datum_from_bytes(pem);

	g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der), ==, 0);
	return scep_gnutls_datum_to_bytes(&der);
}

static void
test_classify_single_der(void)
{
	g_autoptr(GBytes) pem = load_file("vectors", "micromdm-testca.crt");
	g_autoptr(GBytes) der = pem_to_der(pem);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepCaCerts) certs = scep_ca_certs_parse(der, &error);

	g_assert_no_error(error);
	assert_single_ca(certs);
}

static void
test_classify_pkcs7_pem(void)
{
	g_autoptr(GBytes) der = load_file("vectors", "ndes-ivpntest-getcacert.p7b");
	g_autofree gchar *b64 = g_base64_encode(g_bytes_get_data(der, NULL), g_bytes_get_size(der));
	g_autofree gchar *pem =
	    g_strdup_printf("-----BEGIN PKCS7-----\n%s\n-----END PKCS7-----\n", b64);
	g_autoptr(GBytes) bytes = g_bytes_new(pem, strlen(pem));
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepCaCerts) certs = scep_ca_certs_parse(bytes, &error);

	g_assert_no_error(error);
	assert_ndes_split_ra(certs, 3, "CN=ivpntest.com", "qasrv10", "qasrv10");
}

static void
assert_parse_fails(GBytes *bytes, const gchar *needle)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepCaCerts) certs = scep_ca_certs_parse(bytes, &error);

	g_assert_null(certs);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
	if (strstr(error->message, needle) == NULL)
		g_test_fail_printf("message '%s' lacks '%s'", error->message, needle);
}

static void
test_parse_empty(void)
{
	g_autoptr(GBytes) bytes = g_bytes_new_static("", 0);
	assert_parse_fails(bytes, "empty");
}

static void
test_parse_garbage(void)
{
	static const gchar garbage[] = "<html><body>Service Unavailable</body></html>";
	g_autoptr(GBytes) bytes = g_bytes_new_static(garbage, sizeof(garbage) - 1);
	assert_parse_fails(bytes, "neither a certificate nor a PKCS#7 bundle");
}

static void
test_parse_truncated(void)
{
	g_autoptr(GBytes) full = load_file("vectors", "ndes-ivpntest-getcacert.p7b");
	g_autoptr(GBytes) part = g_bytes_new_from_bytes(full, 0, g_bytes_get_size(full) - 100);
	assert_parse_fails(part, "truncated");
}

static void
test_parse_truncated_ber(void)
{
	g_autoptr(GBytes) full = load_file("vectors", "cisco-trusteddevice-getcacert-ber.p7b");
	g_autoptr(GBytes) part = g_bytes_new_from_bytes(full, 0, 2000);
	assert_parse_fails(part, "truncated");
}

static void
assert_pin_ok(const gchar *vector,
	      const gchar *pin,
	      gnutls_digest_algorithm_t alg,
	      const gchar *pinned_name)
{
	g_autoptr(ScepCaCerts) certs = load_vector(vector);
	g_autoptr(GError) error = NULL;

	g_assert_true(scep_ca_certs_check_fingerprint(certs, pin, alg, &error));
	g_assert_no_error(error);
	assert_subject_contains(scep_ca_certs_get_pinned(certs), pinned_name);
}

static void
test_pin_md5(void)
{
	assert_pin_ok("ndes-ivpntest-getcacert.p7b",
		      "137f4daa5da0651bbd548cc2d3d4ced0",
		      GNUTLS_DIG_UNKNOWN,
		      "qasrv10");
	assert_pin_ok("ndes-ivpntest-getcacert.p7b",
		      "13:7F:4D:AA:5D:A0:65:1B:BD:54:8C:C2:D3:D4:CE:D0",
		      GNUTLS_DIG_MD5,
		      "qasrv10");
}

static void
test_pin_sha1(void)
{
	assert_pin_ok("ndes-ivpntest-getcacert.p7b",
		      "66 6c 62 55 96 85 55 f7 f3 11 c4 b0 f0 11 46 65 22 a1 b9 73",
		      GNUTLS_DIG_UNKNOWN,
		      "qasrv10");
	assert_pin_ok("ndes-ivpntest-getcacert.p7b",
		      "666C6255968555F7F311C4B0F011466522A1B973",
		      GNUTLS_DIG_SHA1,
		      "qasrv10");
	assert_pin_ok("ruby-acme-getcacert.p7b",
		      "f35f6bd1640bc18198b930d197103b45f06e53db",
		      GNUTLS_DIG_UNKNOWN,
		      "ACME Root CA");
}

static void
test_pin_sha256(void)
{
	assert_pin_ok("ndes-ivpntest-getcacert.p7b",
		      "9F:79:9f:1d:71:87:5c:6c:45:1b:3c:e5:b9:57:7e:c9:7b:84:23:ad:57:fc:2e:1a:"
		      "a9:ee:e7:c9:05:75:17:2A",
		      GNUTLS_DIG_SHA256,
		      "qasrv10");
}

static void
test_pin_root_or_issuing(void)
{
	assert_pin_ok("ndes-wellsfargo-prod-getcacert.p7b",
		      "edb52603d702aeaf0b79a74bdad9a025227ea3a0fb4bf79a4d87012fb1f62886",
		      GNUTLS_DIG_UNKNOWN,
		      "Root Certification Authority");
	assert_pin_ok("ndes-wellsfargo-prod-getcacert.p7b",
		      "FF2F237BE85CE2445D597F01438A09C5C7B3F9955B047FD35424406ED2466D3B",
		      GNUTLS_DIG_UNKNOWN,
		      "Infrastructure CA 02");
}

static void
test_pin_wrong(void)
{
	g_autoptr(ScepCaCerts) certs = load_vector("ndes-ivpntest-getcacert.p7b");
	g_autoptr(GError) error = NULL;
	const gchar *wrong = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

	g_assert_false(scep_ca_certs_check_fingerprint(certs, wrong, GNUTLS_DIG_UNKNOWN, &error));
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_UNTRUSTED);
	g_assert_nonnull(strstr(error->message, "00:11:22:33:44:55:66:77:88:99:AA:BB"));
	g_assert_nonnull(strstr(error->message, "9F:79:9F:1D:71:87:5C:6C:45:1B:3C:E5"));
	g_assert_null(scep_ca_certs_get_pinned(certs));
}

static void
test_pin_malformed(void)
{
	g_autoptr(ScepCaCerts) certs = load_vector("ndes-ivpntest-getcacert.p7b");
	g_autoptr(GError) error1 = NULL;
	g_autoptr(GError) error2 = NULL;
	g_autoptr(GError) error3 = NULL;

	g_assert_false(scep_ca_certs_check_fingerprint(certs, "xyz", GNUTLS_DIG_UNKNOWN, &error1));
	g_assert_error(error1, SCEP_NDES_ERROR, SCEP_NDES_ERROR_INVALID_ARGUMENT);
	/* an MD5 value said to be SHA-256 */
	g_assert_false(scep_ca_certs_check_fingerprint(
	    certs, "137f4daa5da0651bbd548cc2d3d4ced0", GNUTLS_DIG_SHA256, &error2));
	g_assert_error(error2, SCEP_NDES_ERROR, SCEP_NDES_ERROR_INVALID_ARGUMENT);
	g_assert_false(scep_ca_certs_check_fingerprint(certs, "1234", GNUTLS_DIG_UNKNOWN, &error3));
	g_assert_error(error3, SCEP_NDES_ERROR, SCEP_NDES_ERROR_INVALID_ARGUMENT);
}

static void
assert_chain_ok(const gchar *vector, const gchar *pin, gint64 now)
{
	g_autoptr(ScepCaCerts) certs = load_vector(vector);
	g_autoptr(GError) error = NULL;

	if (pin != NULL) {
		g_assert_true(
		    scep_ca_certs_check_fingerprint(certs, pin, GNUTLS_DIG_UNKNOWN, &error));
		g_assert_no_error(error);
	}
	g_assert_true(scep_ca_certs_verify_chain(certs, now, &error));
	g_assert_no_error(error);
}

static void
test_chain_valid_in_the_past(void)
{
	assert_chain_ok(
	    "ndes-ivpntest-getcacert.p7b", "137f4daa5da0651bbd548cc2d3d4ced0", TIME_2010);
	assert_chain_ok("ndes-wellsfargo-prod-getcacert.p7b",
			"edb52603d702aeaf0b79a74bdad9a025227ea3a0fb4bf79a4d87012fb1f62886",
			TIME_2012);
	assert_chain_ok("ndes-wellsfargo-prod-getcacert.p7b",
			"ff2f237be85ce2445d597f01438a09c5c7b3f9955b047fd35424406ed2466d3b",
			TIME_2012);
	assert_chain_ok("ndes-wellsfargo-uat-getcacert.p7b", NULL, TIME_2012);
	assert_chain_ok("cisco-trusteddevice-getcacert-ber.p7b", NULL, TIME_2023);
	/* the RA marked CA:TRUE is verified as an end entity */
	assert_chain_ok(
	    "ruby-acme-getcacert.p7b", "f35f6bd1640bc18198b930d197103b45f06e53db", TIME_2010);
	/* 2011-06-01 */
	assert_chain_ok("ndes-bmw-getcacert.p7b", NULL, G_GINT64_CONSTANT(1306886400));
}

static void
test_chain_expired_today(void)
{
	g_autoptr(ScepCaCerts) certs = load_vector("ndes-ivpntest-getcacert.p7b");
	g_autoptr(GError) error = NULL;

	g_assert_true(scep_ca_certs_check_fingerprint(
	    certs, "137f4daa5da0651bbd548cc2d3d4ced0", GNUTLS_DIG_MD5, &error));
	g_assert_false(
	    scep_ca_certs_verify_chain(certs, g_get_real_time() / G_USEC_PER_SEC, &error));
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_UNTRUSTED);
	g_assert_nonnull(strstr(error->message, "expired"));
}

static void
test_chain_not_yet_valid(void)
{
	g_autoptr(ScepCaCerts) certs = load_vector("ndes-bmw-getcacert.p7b");
	g_autoptr(GError) error = NULL;

	/* 2001-01-01 */
	g_assert_false(scep_ca_certs_verify_chain(certs, G_GINT64_CONSTANT(978307200), &error));
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_UNTRUSTED);
	g_assert_nonnull(strstr(error->message, "not yet valid"));
}

/* PEM of the certificates of @vector for which @keep returns TRUE, in bundle order */
static GString *
pem_of(ScepCaCerts *certs, ScepCaCertRole roles)
{
	GString *out = g_string_new(NULL);
	GPtrArray *all = scep_ca_certs_get_all(certs);

	for (guint i = 0; i < all->len; i++) {
		g_auto(ScepGnutlsDatum) pem = { NULL, 0 };
		if ((scep_ca_certs_get_role(certs, i) & roles) == 0)
			continue;
		g_assert_cmpint(
		    gnutls_x509_crt_export2(g_ptr_array_index(all, i), GNUTLS_X509_FMT_PEM, &pem),
		    ==,
		    0);
		g_string_append_len(out, (const gchar *)pem.data, (gssize)pem.size);
	}
	return out;
}

static void
test_chain_broken(void)
{
	g_autoptr(ScepCaCerts) ivpn = load_vector("ndes-ivpntest-getcacert.p7b");
	g_autoptr(ScepCaCerts) wf = load_vector("ndes-wellsfargo-prod-getcacert.p7b");
	g_autoptr(GString) pem = NULL;
	g_autoptr(GString) pem_root = NULL;
	g_autoptr(GBytes) bytes = NULL;
	g_autoptr(ScepCaCerts) mixed = NULL;
	g_autoptr(GError) error = NULL;

	/* ivpntest's RA certificates next to a CA that did not issue them */
	pem = pem_of(ivpn, SCEP_CA_CERT_ROLE_RA_SIGN | SCEP_CA_CERT_ROLE_RA_ENCRYPT);
	pem_root = pem_of(wf, SCEP_CA_CERT_ROLE_ROOT);
	g_string_append(pem, pem_root->str);
	bytes = g_bytes_new(pem->str, pem->len);
	mixed = scep_ca_certs_parse(bytes, &error);
	g_assert_no_error(error);
	assert_subject_contains(scep_ca_certs_get_ca(mixed), "Wells Fargo");
	g_assert_false(scep_ca_certs_verify_chain(mixed, TIME_2010, &error));
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_UNTRUSTED);
	g_assert_nonnull(strstr(error->message, "does not chain"));
}

static void
test_chain_bad_signature(void)
{
	g_autoptr(ScepCaCerts) ivpn = load_vector("ndes-ivpntest-getcacert.p7b");
	g_auto(ScepGnutlsDatum) der = { NULL, 0 };
	g_autoptr(GByteArray) tampered = g_byte_array_new();
	g_autoptr(GString) pem = NULL;
	g_autofree gchar *b64 = NULL;
	g_autoptr(GBytes) bytes = NULL;
	g_autoptr(ScepCaCerts) certs = NULL;
	g_autoptr(GError) error = NULL;

	/* the RA signing certificate with the last byte of its signature flipped */
	g_assert_cmpint(
	    gnutls_x509_crt_export2(scep_ca_certs_get_ra_sign(ivpn), GNUTLS_X509_FMT_DER, &der),
	    ==,
	    0);
	g_byte_array_append(tampered, der.data, der.size);
	tampered->data[tampered->len - 1] ^= 0x01;
	b64 = g_base64_encode(tampered->data, tampered->len);
	pem = pem_of(ivpn, SCEP_CA_CERT_ROLE_CA | SCEP_CA_CERT_ROLE_RA_ENCRYPT);
	g_string_append_printf(
	    pem, "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n", b64);
	bytes = g_bytes_new(pem->str, pem->len);
	certs = scep_ca_certs_parse(bytes, &error);
	g_assert_no_error(error);
	g_assert_false(scep_ca_certs_verify_chain(certs, TIME_2010, &error));
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_UNTRUSTED);
	g_assert_nonnull(strstr(error->message, "does not verify"));
	g_assert_nonnull(strstr(error->message, "RA signing"));
}

static ScepCaCerts *
micromdm_current(void)
{
	g_autoptr(ScepCaCerts) current = load_vector("micromdm-testca.crt");
	return g_steal_pointer(&current);
}

static void
test_next_signed_by_ca(void)
{
	g_autoptr(ScepCaCerts) current = micromdm_current();
	g_autoptr(GBytes) reply = load_file("pki", "getnextcacert-signed-by-ca.der");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepCaCerts) next = scep_ca_certs_parse_next(reply, current, &error);

	g_assert_no_error(error);
	g_assert_nonnull(next);
	assert_subject_contains(scep_ca_certs_get_ca(next), "CN=Next Test CA");
}

static void
assert_next_fails(const gchar *fixture, GBytes *bytes, gint code, const gchar *needle)
{
	g_autoptr(ScepCaCerts) current = micromdm_current();
	g_autoptr(GBytes) reply = bytes != NULL ? g_bytes_ref(bytes) : load_file("pki", fixture);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepCaCerts) next = scep_ca_certs_parse_next(reply, current, &error);

	g_assert_null(next);
	g_assert_error(error, SCEP_NDES_ERROR, code);
	if (strstr(error->message, needle) == NULL)
		g_test_fail_printf("message '%s' lacks '%s'", error->message, needle);
}

static void
test_next_signed_by_other(void)
{
	assert_next_fails("getnextcacert-signed-by-other.der",
			  NULL,
			  SCEP_NDES_ERROR_UNTRUSTED,
			  "not signed by the current CA");
}

static void
test_next_unsigned(void)
{
	assert_next_fails("next-ca-certs-only.p7b", NULL, SCEP_NDES_ERROR_UNTRUSTED, "not signed");
}

static void
test_next_truncated(void)
{
	g_autoptr(GBytes) full = load_file("pki", "getnextcacert-signed-by-ca.der");
	g_autoptr(GBytes) part = g_bytes_new_from_bytes(full, 0, g_bytes_get_size(full) / 2);
	g_autoptr(GBytes) empty = g_bytes_new_static("", 0);

	assert_next_fails(NULL, part, SCEP_NDES_ERROR_BAD_RESPONSE, "truncated");
	assert_next_fails(NULL, empty, SCEP_NDES_ERROR_BAD_RESPONSE, "empty");
}

static void
test_describe(void)
{
	g_autoptr(ScepCaCerts) certs = load_vector("ndes-ivpntest-getcacert.p7b");
	g_autofree gchar *text = scep_ca_certs_describe(certs);

	g_assert_nonnull(strstr(text, "RA signing"));
	g_assert_nonnull(strstr(text, "RA encryption"));
	g_assert_nonnull(strstr(text, ": CA, root"));
	g_assert_nonnull(strstr(text, "13:7F:4D:AA:5D:A0:65:1B:BD:54:8C:C2:D3:D4:CE:D0"));
	g_assert_nonnull(
	    strstr(text, "66:6C:62:55:96:85:55:F7:F3:11:C4:B0:F0:11:46:65:22:A1:B9:73"));
	g_assert_nonnull(strstr(text, "not after: 2014-"));
}

static void
test_save(void)
{
	g_autoptr(ScepCaCerts) certs = load_vector("ndes-wellsfargo-prod-getcacert.p7b");
	g_autoptr(GError) error = NULL;
	g_autofree gchar *dir = g_build_filename(g_get_user_cache_dir(), "ca-out", NULL);
	const gchar *names[] = {
		"ca.pem", "chain.pem", "all.pem", "ra-sign.pem", "ra-encrypt.pem"
	};
	const guint counts[] = { 1, 2, 4, 1, 1 };

	g_assert_true(scep_ca_certs_save(certs, dir, &error));
	g_assert_no_error(error);
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autoptr(GBytes) bytes = NULL;
		g_autoptr(ScepCaCerts) back = NULL;
		g_autofree gchar *path = g_build_filename(dir, names[i], NULL);
		gchar *data = NULL;
		gsize len = 0;

		g_file_get_contents(path, &data, &len, &error);
		g_assert_no_error(error);
		bytes = g_bytes_new_take(data, len);
		back = scep_ca_certs_parse(bytes, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(scep_ca_certs_get_all(back)->len, ==, counts[i]);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

	g_test_add_func("/scep/ca-certs/classify/ndes-ivpntest", test_classify_ndes_ivpntest);
	g_test_add_func("/scep/ca-certs/classify/ndes-wellsfargo-prod",
			test_classify_ndes_wellsfargo_prod);
	g_test_add_func("/scep/ca-certs/classify/ndes-wellsfargo-uat",
			test_classify_ndes_wellsfargo_uat);
	g_test_add_func("/scep/ca-certs/classify/ndes-bmw", test_classify_ndes_bmw);
	g_test_add_func("/scep/ca-certs/classify/cisco-ber", test_classify_cisco_ber);
	g_test_add_func("/scep/ca-certs/classify/ruby-ra-marked-ca",
			test_classify_ruby_ra_marked_ca);
	g_test_add_func("/scep/ca-certs/classify/single-pem", test_classify_single_pem);
	g_test_add_func("/scep/ca-certs/classify/single-der", test_classify_single_der);
	g_test_add_func("/scep/ca-certs/classify/pkcs7-pem", test_classify_pkcs7_pem);
	g_test_add_func("/scep/ca-certs/parse/empty", test_parse_empty);
	g_test_add_func("/scep/ca-certs/parse/garbage", test_parse_garbage);
	g_test_add_func("/scep/ca-certs/parse/truncated", test_parse_truncated);
	g_test_add_func("/scep/ca-certs/parse/truncated-ber", test_parse_truncated_ber);
	g_test_add_func("/scep/ca-certs/pin/md5", test_pin_md5);
	g_test_add_func("/scep/ca-certs/pin/sha1", test_pin_sha1);
	g_test_add_func("/scep/ca-certs/pin/sha256", test_pin_sha256);
	g_test_add_func("/scep/ca-certs/pin/root-or-issuing", test_pin_root_or_issuing);
	g_test_add_func("/scep/ca-certs/pin/wrong", test_pin_wrong);
	g_test_add_func("/scep/ca-certs/pin/malformed", test_pin_malformed);
	g_test_add_func("/scep/ca-certs/chain/valid-in-the-past", test_chain_valid_in_the_past);
	g_test_add_func("/scep/ca-certs/chain/expired-today", test_chain_expired_today);
	g_test_add_func("/scep/ca-certs/chain/not-yet-valid", test_chain_not_yet_valid);
	g_test_add_func("/scep/ca-certs/chain/broken", test_chain_broken);
	g_test_add_func("/scep/ca-certs/chain/bad-signature", test_chain_bad_signature);
	g_test_add_func("/scep/ca-certs/next/signed-by-ca", test_next_signed_by_ca);
	g_test_add_func("/scep/ca-certs/next/signed-by-other", test_next_signed_by_other);
	g_test_add_func("/scep/ca-certs/next/unsigned", test_next_unsigned);
	g_test_add_func("/scep/ca-certs/next/truncated", test_next_truncated);
	g_test_add_func("/scep/ca-certs/describe", test_describe);
	g_test_add_func("/scep/ca-certs/save", test_save);
	return g_test_run();
}
