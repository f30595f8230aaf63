#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "scep-csr.h"
#include "scep-gnutls-common.h"
#include "scep-ndes-error.h"
#include "scep-test-util.h"

#define TEST_SID "S-1-5-21-3623811015-3361044348-30300820-1013"

/* one 2048-bit key for all tests that do not test key generation itself */
static gnutls_privkey_t shared_key;

static gnutls_privkey_t
get_key(void)
{
	if (shared_key == NULL) {
		g_autoptr(GError) error = NULL;
		shared_key = scep_csr_generate_key(2048, &error);
		g_assert_no_error(error);
	}
	return shared_key;
}

static gchar *
write_tmp(const gchar *name, GBytes *bytes)
{
	/* the per-test directory of G_TEST_OPTION_ISOLATE_DIRS, removed by GLib afterwards */
	gchar *path = g_build_filename(g_get_user_cache_dir(), name, NULL);
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(g_mkdir_with_parents(g_get_user_cache_dir(), 0700), ==, 0);

	g_file_set_contents(
	    path, g_bytes_get_data(bytes, NULL), (gssize)g_bytes_get_size(bytes), &error);
	g_assert_no_error(error);
	return path;
}

/* `openssl req -verify -text` of @csr; the test fails when the signature does not verify */
static gchar *
openssl_req_text(GBytes *csr, const gchar *nameopt)
{
	g_autofree gchar *path = write_tmp("csr.der", csr);
	const gchar *args[] = { "req", "-verify", "-text",    "-noout", "-inform", "DER",
				"-in", path,      "-nameopt", nameopt,  NULL };
	gchar *out = NULL;
	gint status = 1;

	if (!scep_test_run_openssl(args, &out, &status))
		return g_strdup("");
	g_test_message("%s", out);
	g_assert_cmpint(status, ==, 0);
	g_assert_nonnull(strstr(out, "verify OK"));
	return out;
}

static gchar *
openssl_asn1parse(GBytes *der)
{
	g_autofree gchar *path = write_tmp("asn1.der", der);
	const gchar *args[] = { "asn1parse", "-inform", "DER", "-in", path, NULL };
	gchar *out = NULL;
	gint status = 1;

	if (!scep_test_run_openssl(args, &out, &status))
		return g_strdup("");
	g_assert_cmpint(status, ==, 0);
	return out;
}

static void
assert_contains(const gchar *text, const gchar *needle)
{
	if (strstr(text, needle) == NULL)
		g_test_fail_printf("'%s' not found in:\n%s", needle, text);
}

static GBytes *
build(ScepCsrParams *params)
{
	g_autoptr(GError) error = NULL;
	GBytes *csr = scep_csr_build(params, get_key(), GNUTLS_DIG_SHA256, &error);

	g_assert_no_error(error);
	g_assert_nonnull(csr);
	return csr;
}

static ScepCsrParams *
params_with_subject(const gchar *dn)
{
	g_autoptr(ScepCsrParams) params = scep_csr_params_new();
	g_autoptr(GError) error = NULL;

	g_assert_true(scep_csr_params_set_subject(params, dn, &error));
	g_assert_no_error(error);
	return g_steal_pointer(&params);
}

static void
test_subject_multi_valued(void)
{
	g_autoptr(ScepCsrParams) params =
	    params_with_subject("CN=host.example.com,OU=Ops+OU=Lab,O=Example\\, Inc.,C=DE");
	g_autoptr(GBytes) csr = build(params);
	g_autofree gchar *text = openssl_req_text(csr, "RFC2253");

	/*
	 * one RDN holds both OUs and C is encoded first; RFC2253 output reverses every entry,
	 * so the DER SET order Lab, Ops prints as Ops+Lab (the oneline test sees DER order)
	 */
	assert_contains(text, "Subject: CN=host.example.com,OU=Ops+OU=Lab,O=Example\\, Inc.,C=DE");
}

static void
test_subject_order_multiline(void)
{
	g_autoptr(ScepCsrParams) params = params_with_subject("CN=a,OU=x+OU=y,DC=example,DC=com");
	g_autoptr(GBytes) csr = build(params);
	g_autofree gchar *text = openssl_req_text(csr, "oneline");

	assert_contains(text, "DC = com, DC = example, OU = x + OU = y, CN = a");
}

static void
test_subject_asn1(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) der = scep_csr_dn_to_der("CN=a,OU=x+OU=y,C=DE", &error);
	g_autofree gchar *hex = NULL;
	/* SEQ { SET { C PrintableString DE }, SET { OU x, OU y }, SET { CN a } } */
	static const gchar expected[] = "302f"
					"310b300906035504061302"
					"4445"
					"3114"
					"3008060355040b0c0178"
					"3008060355040b0c0179"
					"310a300806035504030c0161";

	g_assert_no_error(error);
	hex = g_strdup("");
	for (gsize i = 0; i < g_bytes_get_size(der); i++) {
		gchar *next = g_strdup_printf(
		    "%s%02x", hex, ((const guint8 *)g_bytes_get_data(der, NULL))[i]);
		g_free(hex);
		hex = next;
	}
	g_assert_cmpstr(hex, ==, expected);
}

static void
test_sans(void)
{
	g_autoptr(ScepCsrParams) params = params_with_subject("CN=client01");
	g_autoptr(GError) error = NULL;
	const gchar *specs[] = { "dns:client01.example.com",
				 "ip:192.0.2.10",
				 "ip:2001:db8::1",
				 "email:admin@example.com",
				 "upn:client01$@corp.example.com",
				 "uri:https://example.com/device/1",
				 "sid:" TEST_SID,
				 NULL };
	g_autoptr(GBytes) csr = NULL;
	g_autofree gchar *text = NULL;

	for (guint i = 0; specs[i] != NULL; i++) {
		g_assert_true(scep_csr_params_add_san_spec(params, specs[i], &error));
		g_assert_no_error(error);
	}
	csr = build(params);
	text = openssl_req_text(csr, "RFC2253");
	assert_contains(text, "DNS:client01.example.com");
	assert_contains(text, "IP Address:192.0.2.10");
	assert_contains(text, "IP Address:2001:DB8:0:0:0:0:0:1");
	assert_contains(text, "email:admin@example.com");
	assert_contains(text, "othername: UPN::client01$@corp.example.com");
	assert_contains(text, "URI:https://example.com/device/1");
	assert_contains(text, "URI:tag:microsoft.com,2022-09-14:sid:" TEST_SID);
}

static void
test_upn_der(void)
{
	g_autoptr(ScepCsrParams) params = params_with_subject("CN=u");
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) csr = NULL;
	g_autofree gchar *dump = NULL;

	g_assert_true(scep_csr_params_add_san(params, SCEP_CSR_SAN_UPN, "a@b", &error));
	g_assert_no_error(error);
	csr = build(params);
	dump = openssl_asn1parse(csr);
	/* SAN = SEQ { [0] { OID 1.3.6.1.4.1.311.20.2.3, [0] { UTF8String "a@b" } } } */
	assert_contains(dump, "[HEX DUMP]:3015A013060A2B060104018237140203A0050C03614062");
}

static void
test_challenge_password(void)
{
	g_autoptr(ScepCsrParams) params = params_with_subject("CN=c");
	g_autoptr(GBytes) csr = NULL;
	g_autofree gchar *text = NULL;

	scep_csr_params_set_challenge_password(params, "6D2A1F3B9C0E4D77");
	csr = build(params);
	text = openssl_req_text(csr, "RFC2253");
	assert_contains(text, "challengePassword");
	assert_contains(text, ":6D2A1F3B9C0E4D77");
}

static void
test_usage_criticality(void)
{
	g_autoptr(ScepCsrParams) params = params_with_subject("CN=k");
	g_autoptr(GBytes) csr = build(params);
	g_autofree gchar *text = openssl_req_text(csr, "RFC2253");

	assert_contains(text, "X509v3 Key Usage: critical");
	assert_contains(text, "Digital Signature, Key Encipherment");
	assert_contains(text, "TLS Web Client Authentication");
	g_assert_null(strstr(text, "X509v3 Extended Key Usage: critical"));
	assert_contains(text, "X509v3 Extended Key Usage: \n");
}

static void
test_template_v1(void)
{
	g_autoptr(ScepCsrParams) params = params_with_subject("CN=t");
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) csr = NULL;
	g_autofree gchar *dump = NULL;

	g_assert_true(scep_csr_params_set_template_name(params, "Machine", &error));
	g_assert_no_error(error);
	csr = build(params);
	dump = openssl_asn1parse(csr);
	assert_contains(dump, ":1.3.6.1.4.1.311.20.2\n");
	/* BMPString "Machine" */
	assert_contains(dump, "[HEX DUMP]:1E0E004D0061006300680069006E0065");
}

static void
test_template_v2(void)
{
	g_autoptr(ScepCsrParams) params = params_with_subject("CN=t");
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) csr = NULL;
	g_autofree gchar *dump = NULL;

	g_assert_true(scep_csr_params_set_template(
	    params, "1.3.6.1.4.1.311.21.8.1234567.89", 100, 3, &error));
	g_assert_no_error(error);
	csr = build(params);
	dump = openssl_asn1parse(csr);
	assert_contains(dump, ":1.3.6.1.4.1.311.21.7\n");
	/* SEQ { OID 1.3.6.1.4.1.311.21.8.1234567.89, INTEGER 100, INTEGER 3 } */
	assert_contains(dump, "[HEX DUMP]:3015060D2B0601040182371508CBAD0759020164020103");
}

static void
test_template_v2_large_major(void)
{
	g_autoptr(ScepCsrParams) params = params_with_subject("CN=t");
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) csr = NULL;
	g_autofree gchar *dump = NULL;

	/* 128 needs a leading zero octet; no minor version */
	g_assert_true(scep_csr_params_set_template(params, "1.2.3", 128, -1, &error));
	g_assert_no_error(error);
	csr = build(params);
	dump = openssl_asn1parse(csr);
	assert_contains(dump, "[HEX DUMP]:300806022A0302020080");
}

static void
assert_key_bits(gnutls_privkey_t key, guint bits)
{
	unsigned int got = 0;
	g_assert_cmpint(gnutls_privkey_get_pk_algorithm(key, &got), ==, GNUTLS_PK_RSA);
	g_assert_cmpuint(got, ==, bits);
}

static void
test_key_3072(void)
{
	g_autoptr(GError) error = NULL;
	g_auto(gnutls_privkey_t) key = scep_csr_generate_key(3072, &error);
	g_autoptr(ScepCsrParams) params = params_with_subject("CN=k3072");
	g_autoptr(GBytes) csr = NULL;
	g_autofree gchar *text = NULL;

	g_assert_no_error(error);
	assert_key_bits(key, 3072);
	csr = scep_csr_build(params, key, GNUTLS_DIG_SHA512, &error);
	g_assert_no_error(error);
	text = openssl_req_text(csr, "RFC2253");
	assert_contains(text, "Public-Key: (3072 bit)");
	assert_contains(text, "sha512WithRSAEncryption");
}

static void
test_key_4096(void)
{
	g_autoptr(GError) error = NULL;
	g_auto(gnutls_privkey_t) key = scep_csr_generate_key(4096, &error);

	g_assert_no_error(error);
	assert_key_bits(key, 4096);
}

static void
key_ready_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	gnutls_privkey_t *out = user_data;
	g_autoptr(GError) error = NULL;

	*out = scep_csr_generate_key_finish(result, &error);
	g_assert_no_error(error);
}

static void
test_key_async(void)
{
	gnutls_privkey_t key = NULL;
	g_autoptr(GMainContext) context = g_main_context_new();

	g_main_context_push_thread_default(context);
	scep_csr_generate_key_async(2048, NULL, key_ready_cb, &key);
	while (key == NULL)
		g_main_context_iteration(context, TRUE);
	g_main_context_pop_thread_default(context);
	assert_key_bits(key, 2048);
	gnutls_privkey_deinit(key);
}

static void
key_failed_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GError **out = user_data;
	gnutls_privkey_t key = scep_csr_generate_key_finish(result, out);
	g_assert_null(key);
}

static void
test_key_async_bad_size(void)
{
	GError *error = NULL;
	g_autoptr(GMainContext) context = g_main_context_new();

	g_main_context_push_thread_default(context);
	scep_csr_generate_key_async(1024, NULL, key_failed_cb, &error);
	while (error == NULL)
		g_main_context_iteration(context, TRUE);
	g_main_context_pop_thread_default(context);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_INVALID_ARGUMENT);
	g_error_free(error);
}

static void
test_key_bad_size(void)
{
	g_autoptr(GError) error = NULL;
	gnutls_privkey_t key = scep_csr_generate_key(1024, &error);

	g_assert_null(key);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_INVALID_ARGUMENT);
	assert_contains(error->message, "1024");
}

static gchar *
transaction_id_of(gnutls_privkey_t key)
{
	g_auto(gnutls_pubkey_t) pub = NULL;
	g_assert_cmpint(gnutls_pubkey_init(&pub), ==, 0);
	g_assert_cmpint(gnutls_pubkey_import_privkey(pub, key, 0, 0), ==, 0);
	return scep_csr_transaction_id(pub);
}

static void
test_key_export_load(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) pem = scep_csr_export_key_pem(get_key(), &error);
	g_autofree gchar *path = NULL;
	g_auto(gnutls_privkey_t) back = NULL;
	g_autofree gchar *id1 = NULL;
	g_autofree gchar *id2 = NULL;

	g_assert_no_error(error);
	g_assert_nonnull(g_strstr_len(g_bytes_get_data(pem, NULL),
				      (gssize)g_bytes_get_size(pem),
				      "-----BEGIN PRIVATE KEY-----"));
	path = write_tmp("key.pem", pem);
	back = scep_csr_load_key(path, &error);
	g_assert_no_error(error);
	id1 = transaction_id_of(get_key());
	id2 = transaction_id_of(back);
	g_assert_cmpstr(id1, ==, id2);
}

static void
test_key_load_garbage(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) junk = g_bytes_new_static("not a key\n", 10);
	g_autofree gchar *path = write_tmp("junk.pem", junk);
	gnutls_privkey_t key = scep_csr_load_key(path, &error);

	g_assert_null(key);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_INVALID_ARGUMENT);
	assert_contains(error->message, path);
}

static void
test_transaction_id(void)
{
	g_autoptr(GError) error = NULL;
	g_auto(gnutls_privkey_t) other = scep_csr_generate_key(2048, &error);
	g_autofree gchar *a1 = transaction_id_of(get_key());
	g_autofree gchar *a2 = transaction_id_of(get_key());
	g_autofree gchar *b = transaction_id_of(other);

	g_assert_no_error(error);
	g_assert_cmpuint(strlen(a1), ==, 64);
	for (guint i = 0; a1[i] != '\0'; i++)
		g_assert_true(g_ascii_isdigit(a1[i]) || (a1[i] >= 'A' && a1[i] <= 'F'));
	g_assert_cmpstr(a1, ==, a2);
	g_assert_cmpstr(a1, !=, b);
}

static void
test_transaction_id_openssl(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) pem = scep_csr_export_key_pem(get_key(), &error);
	g_autofree gchar *key_path = write_tmp("txid-key.pem", pem);
	g_autofree gchar *pub_path = g_build_filename(g_get_user_cache_dir(), "txid-pub.der", NULL);
	const gchar *args_pub[] = { "pkey", "-in",  key_path, "-pubout", "-outform",
				    "DER",  "-out", pub_path, NULL };
	const gchar *args_dgst[] = { "dgst", "-sha256", "-r", pub_path, NULL };
	g_autofree gchar *out1 = NULL;
	g_autofree gchar *out2 = NULL;
	g_autofree gchar *id = transaction_id_of(get_key());
	g_autofree gchar *id_lower = g_ascii_strdown(id, -1);
	gint status = 1;

	g_assert_no_error(error);
	if (!scep_test_run_openssl(args_pub, &out1, &status))
		return;
	g_assert_cmpint(status, ==, 0);
	if (!scep_test_run_openssl(args_dgst, &out2, &status))
		return;
	g_assert_cmpint(status, ==, 0);
	g_assert_true(g_str_has_prefix(out2, id_lower));
}

static void
test_self_signed(void)
{
	g_autoptr(ScepCsrParams) params = params_with_subject("CN=device-42,O=Example");
	g_autoptr(GBytes) csr = build(params);
	g_autoptr(GError) error = NULL;
	g_auto(gnutls_x509_crt_t) crt = scep_csr_make_self_signed_signer(get_key(), csr, &error);
	g_auto(ScepGnutlsDatum) pem = { NULL, 0 };
	g_auto(ScepGnutlsDatum) dn = { NULL, 0 };
	g_autoptr(GBytes) pem_bytes = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *out = NULL;
	gint status = 1;
	unsigned int usage = 0;

	g_assert_no_error(error);
	g_assert_nonnull(crt);
	g_assert_cmpint(gnutls_x509_crt_get_activation_time(crt), <, time(NULL) - 60);
	g_assert_cmpint(gnutls_x509_crt_get_expiration_time(crt), >, time(NULL));
	g_assert_cmpint(gnutls_x509_crt_get_dn3(crt, &dn, 0), ==, 0);
	g_assert_cmpstr((const gchar *)dn.data, ==, "CN=device-42,O=Example");
	g_assert_cmpint(gnutls_x509_crt_get_key_usage(crt, &usage, NULL), >=, 0);
	g_assert_cmpuint(usage, ==, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT);

	g_assert_cmpint(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem), ==, 0);
	pem_bytes = g_bytes_new(pem.data, pem.size);
	path = write_tmp("self.pem", pem_bytes);
	{
		const gchar *args[] = { "verify", "-CAfile", path, path, NULL };
		if (!scep_test_run_openssl(args, &out, &status))
			return;
	}
	g_test_message("%s", out);
	g_assert_cmpint(status, ==, 0);
	assert_contains(out, ": OK");
}

static void
test_self_signed_empty_subject(void)
{
	g_auto(gnutls_x509_crq_t) crq = NULL;
	g_auto(gnutls_pubkey_t) pub = NULL;
	g_auto(ScepGnutlsDatum) der = { NULL, 0 };
	g_auto(ScepGnutlsDatum) dn = { NULL, 0 };
	g_autoptr(GBytes) csr = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(gnutls_x509_crt_t) crt = NULL;

	/* a request without subject, made directly with GnuTLS */
	g_assert_cmpint(gnutls_x509_crq_init(&crq), ==, 0);
	g_assert_cmpint(gnutls_pubkey_init(&pub), ==, 0);
	g_assert_cmpint(gnutls_pubkey_import_privkey(pub, get_key(), 0, 0), ==, 0);
	g_assert_cmpint(gnutls_x509_crq_set_pubkey(crq, pub), ==, 0);
	g_assert_cmpint(gnutls_x509_crq_privkey_sign(crq, get_key(), GNUTLS_DIG_SHA256, 0), ==, 0);
	g_assert_cmpint(gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &der), ==, 0);
	csr = g_bytes_new(der.data, der.size);
	crt = scep_csr_make_self_signed_signer(get_key(), csr, &error);
	g_assert_no_error(error);
	g_assert_cmpint(gnutls_x509_crt_get_dn3(crt, &dn, 0), ==, 0);
	g_assert_cmpstr((const gchar *)dn.data, ==, "CN=SCEP SIGNER");
}

static void
test_self_signed_wrong_key(void)
{
	g_autoptr(ScepCsrParams) params = params_with_subject("CN=x");
	g_autoptr(GBytes) csr = build(params);
	g_autoptr(GError) error = NULL;
	g_auto(gnutls_privkey_t) other = scep_csr_generate_key(2048, &error);
	gnutls_x509_crt_t crt;

	g_assert_no_error(error);
	crt = scep_csr_make_self_signed_signer(other, csr, &error);
	g_assert_null(crt);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_INVALID_ARGUMENT);
}

static void
assert_subject_fails(const gchar *dn, const gchar *needle)
{
	g_autoptr(ScepCsrParams) params = scep_csr_params_new();
	g_autoptr(GError) error = NULL;

	g_assert_false(scep_csr_params_set_subject(params, dn, &error));
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_INVALID_ARGUMENT);
	assert_contains(error->message, needle);
}

static void
test_bad_subject(void)
{
	assert_subject_fails("", "empty");
	assert_subject_fails("   ", "empty");
	assert_subject_fails("CN", "no '='");
	assert_subject_fails("XX=1", "unknown attribute 'XX'");
	assert_subject_fails("CN=a,C=DEU", "two-letter");
	assert_subject_fails("CN=", "empty value");
	assert_subject_fails("CN=a\\", "backslash");
	assert_subject_fails("1.x=y", "not an object identifier");
}

static void
test_build_without_subject(void)
{
	g_autoptr(ScepCsrParams) params = scep_csr_params_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) csr = scep_csr_build(params, get_key(), GNUTLS_DIG_SHA256, &error);

	g_assert_null(csr);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_INVALID_ARGUMENT);
}

static void
assert_san_fails(const gchar *spec, const gchar *needle)
{
	g_autoptr(ScepCsrParams) params = scep_csr_params_new();
	g_autoptr(GError) error = NULL;

	g_assert_false(scep_csr_params_add_san_spec(params, spec, &error));
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_INVALID_ARGUMENT);
	assert_contains(error->message, needle);
}

static void
test_bad_san(void)
{
	assert_san_fails("fax:+49123", "unknown subject alternative name type 'fax'");
	assert_san_fails("client.example.com", "TYPE:VALUE");
	assert_san_fails("ip:300.1.2.3", "not an IPv4 or IPv6 address");
	assert_san_fails("ip:fe80:::1", "not an IPv4 or IPv6 address");
	assert_san_fails("dns:bad host", "not a DNS name");
	assert_san_fails("email:nobody", "e-mail");
	assert_san_fails("upn:user", "user principal name");
	assert_san_fails("uri:no-scheme", "not a URI");
}

static void
test_bad_sid(void)
{
	assert_san_fails("sid:S-1-5", "Windows SID");
	assert_san_fails("sid:S-1-1-0", "Windows SID");
	assert_san_fails("sid:S-1-5-21-abc", "Windows SID");
	assert_san_fails("sid:S-1-5-21-99999999999", "Windows SID");
	assert_san_fails("uri:tag:microsoft.com,2022-09-14:sid:X-1-5-21", "Windows SID");
}

int
main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

	g_test_add_func("/scep/csr/subject/multi-valued", test_subject_multi_valued);
	g_test_add_func("/scep/csr/subject/order", test_subject_order_multiline);
	g_test_add_func("/scep/csr/subject/der", test_subject_asn1);
	g_test_add_func("/scep/csr/subject/bad", test_bad_subject);
	g_test_add_func("/scep/csr/subject/missing", test_build_without_subject);
	g_test_add_func("/scep/csr/san/all-types", test_sans);
	g_test_add_func("/scep/csr/san/upn-der", test_upn_der);
	g_test_add_func("/scep/csr/san/bad", test_bad_san);
	g_test_add_func("/scep/csr/san/bad-sid", test_bad_sid);
	g_test_add_func("/scep/csr/challenge-password", test_challenge_password);
	g_test_add_func("/scep/csr/usage-criticality", test_usage_criticality);
	g_test_add_func("/scep/csr/template/v1", test_template_v1);
	g_test_add_func("/scep/csr/template/v2", test_template_v2);
	g_test_add_func("/scep/csr/template/v2-large-major", test_template_v2_large_major);
	g_test_add_func("/scep/csr/key/3072", test_key_3072);
	g_test_add_func("/scep/csr/key/4096", test_key_4096);
	g_test_add_func("/scep/csr/key/async", test_key_async);
	g_test_add_func("/scep/csr/key/async-bad-size", test_key_async_bad_size);
	g_test_add_func("/scep/csr/key/bad-size", test_key_bad_size);
	g_test_add_func("/scep/csr/key/export-load", test_key_export_load);
	g_test_add_func("/scep/csr/key/load-garbage", test_key_load_garbage);
	g_test_add_func("/scep/csr/transaction-id/stable", test_transaction_id);
	g_test_add_func("/scep/csr/transaction-id/openssl", test_transaction_id_openssl);
	g_test_add_func("/scep/csr/self-signed/openssl-verify", test_self_signed);
	g_test_add_func("/scep/csr/self-signed/empty-subject", test_self_signed_empty_subject);
	g_test_add_func("/scep/csr/self-signed/wrong-key", test_self_signed_wrong_key);
	rc = g_test_run();
	g_clear_pointer(&shared_key, gnutls_privkey_deinit);
	return rc;
}
