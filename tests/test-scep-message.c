#include "config.h"

#include <gnutls/crypto.h>
#include <string.h>

#include "scep-asn1.h"
#include "scep-cms-test-util.h"
#include "scep-gnutls-common.h"
#include "scep-message.h"
#include "scep-ndes-error.h"
#include "scep-signed-data.h"

/* pkiMessage requests checked by OpenSSL; CertReps built by an independent stack
 * (tests/scep-cms-certrep.py: asn1crypto + cryptography, envelopes by openssl cms) and
 * real captures read by us */

#define TEST_TID   "c3RhYmxlLXRyYW5zYWN0aW9uLWlk+/="
#define TEST_NONCE "00112233445566778899aabbccddeeff"

typedef struct {
	gnutls_x509_crt_t ca;
	gnutls_x509_crt_t ra;
	gnutls_x509_crt_t other;
	gnutls_x509_crt_t client;
	gnutls_privkey_t client_key;
	gnutls_pubkey_t client_pubkey;
	gnutls_x509_crt_t signers[2];
	guint8 nonce[SCEP_NONCE_SIZE];
	ScepCertRepExpect expect;
} Ctx;

static void
ctx_init(Ctx *ctx)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	static const guint8 nonce[SCEP_NONCE_SIZE] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
						       0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
						       0xcc, 0xdd, 0xee, 0xff };

	memset(ctx, 0, sizeof(*ctx));
	ctx->ca = scep_cms_test_load_cert(pki->ca_cert);
	ctx->ra = scep_cms_test_load_cert(pki->ra_cert);
	ctx->other = scep_cms_test_load_cert(pki->other_cert);
	ctx->client = scep_cms_test_load_cert(pki->client_cert);
	ctx->client_key = scep_cms_test_load_key(pki->client_key);
	ctx->client_pubkey = scep_cms_test_load_pubkey(pki->client_cert);
	ctx->signers[0] = ctx->ra;
	ctx->signers[1] = ctx->ca;
	memcpy(ctx->nonce, nonce, sizeof(nonce));
	ctx->expect.transaction_id = TEST_TID;
	ctx->expect.sender_nonce = ctx->nonce;
	ctx->expect.signers = ctx->signers;
	ctx->expect.n_signers = 2;
	ctx->expect.recipient_cert = ctx->client;
	ctx->expect.recipient_key = ctx->client_key;
	ctx->expect.requested_key = ctx->client_pubkey;
}

static void
ctx_clear(Ctx *ctx)
{
	gnutls_x509_crt_deinit(ctx->ca);
	gnutls_x509_crt_deinit(ctx->ra);
	gnutls_x509_crt_deinit(ctx->other);
	gnutls_x509_crt_deinit(ctx->client);
	gnutls_privkey_deinit(ctx->client_key);
	gnutls_pubkey_deinit(ctx->client_pubkey);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Ctx, ctx_clear)

/* ---- requests, checked by openssl cms ---- */

typedef struct {
	const gchar *name;
	gnutls_cipher_algorithm_t cipher;
	gnutls_digest_algorithm_t digest;
} RequestCase;

static const RequestCase request_cases[] = {
	{ "des-sha1", GNUTLS_CIPHER_DES_CBC, GNUTLS_DIG_SHA1 },
	{ "3des-sha256", GNUTLS_CIPHER_3DES_CBC, GNUTLS_DIG_SHA256 },
	{ "aes128-sha256", GNUTLS_CIPHER_AES_128_CBC, GNUTLS_DIG_SHA256 },
	{ "aes256-sha512", GNUTLS_CIPHER_AES_256_CBC, GNUTLS_DIG_SHA512 },
};

static GBytes *
test_make_csr(void)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_autofree gchar *out = scep_cms_test_path("request.csr");
	scep_cms_test_run_ok("openssl",
			     "req",
			     "-new",
			     "-key",
			     pki->client_key,
			     "-subj",
			     "/CN=client",
			     "-outform",
			     "DER",
			     "-out",
			     out,
			     NULL);
	return scep_cms_test_read(out);
}

/* a request from the client to the RA; callers may change fields before building */
static void
test_request_init(
    Ctx *ctx, ScepRequest *request, const RequestCase *rc, GBytes *content, ScepMessageType type)
{
	memset(request, 0, sizeof(*request));
	request->message_type = type;
	request->transaction_id = TEST_TID;
	memcpy(request->sender_nonce, ctx->nonce, SCEP_NONCE_SIZE);
	request->content = content;
	request->recipient = ctx->ra;
	request->cipher = rc->cipher;
	request->digest = rc->digest;
	request->signer_cert = ctx->client;
	request->signer_key = ctx->client_key;
}

static GBytes *
test_build_request(Ctx *ctx, const RequestCase *rc, GBytes *content, ScepMessageType type)
{
	ScepRequest request;
	g_autoptr(GError) error = NULL;
	GBytes *der;

	test_request_init(ctx, &request, rc, content, type);
	der = scep_message_build_request(&request, &error);
	g_assert_no_error(error);
	g_assert_nonnull(der);
	return der;
}

static void
test_assert_match(GRegex *regex, const gchar *text)
{
	gboolean matched = g_regex_match(regex, text, 0, NULL);
	if (!matched)
		g_test_message("'%s' does not match:\n%s", g_regex_get_pattern(regex), text);
	g_assert_true(matched);
}

static void
test_request_openssl(gconstpointer data)
{
	const RequestCase *rc = data;
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_auto(Ctx) ctx;
	g_autoptr(GBytes) csr = test_make_csr();
	g_autoptr(GBytes) request = NULL;
	g_autoptr(GBytes) recovered = NULL;
	g_autofree gchar *req_path = scep_cms_test_path("request.der");
	g_autofree gchar *env_path = scep_cms_test_path("request-envelope.der");

	ctx_init(&ctx);
	request = test_build_request(&ctx, rc, csr, SCEP_MESSAGE_TYPE_PKCS_REQ);
	scep_cms_test_write(req_path, request);
	/* the signature verifies with the embedded signer certificate */
	scep_cms_test_run_ok("openssl",
			     "cms",
			     "-verify",
			     "-noverify",
			     "-inform",
			     "DER",
			     "-in",
			     req_path,
			     "-out",
			     env_path,
			     NULL);
	recovered = scep_cms_test_openssl_decrypt(env_path, pki->ra_cert, pki->ra_key);
	g_assert_cmpmem(g_bytes_get_data(recovered, NULL),
			g_bytes_get_size(recovered),
			g_bytes_get_data(csr, NULL),
			g_bytes_get_size(csr));
}

static void
test_request_attributes(void)
{
	g_auto(Ctx) ctx;
	g_autoptr(GBytes) csr = test_make_csr();
	g_autoptr(GBytes) request = NULL;
	g_autofree gchar *req_path = scep_cms_test_path("request-attrs.der");
	g_autofree gchar *printed = NULL;
	g_autoptr(GRegex) message_type = NULL;
	g_autoptr(GRegex) transaction_id = NULL;
	g_autofree gchar *tid_escaped = NULL;
	g_autofree gchar *tid_pattern = NULL;
	g_autoptr(GRegex) nonce = NULL;

	ctx_init(&ctx);
	request = test_build_request(&ctx, &request_cases[2], csr, SCEP_MESSAGE_TYPE_RENEWAL_REQ);
	scep_cms_test_write(req_path, request);
	printed = scep_cms_test_run_capture(
	    "openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", req_path, NULL);
	message_type =
	    g_regex_new("113733\\.1\\.9\\.2\\)\\s+set:\\s+PRINTABLESTRING:17\\s", 0, 0, NULL);
	tid_escaped = g_regex_escape_string(TEST_TID, -1);
	tid_pattern =
	    g_strdup_printf("113733\\.1\\.9\\.7\\)\\s+set:\\s+PRINTABLESTRING:%s\\s", tid_escaped);
	transaction_id = g_regex_new(tid_pattern, 0, 0, NULL);
	nonce = g_regex_new("113733\\.1\\.9\\.5\\)\\s+set:\\s+OCTET STRING:\\s+0000 - 00 11 22 33 "
			    "44 55 66 77-88 99 aa bb cc .*\\n\\s+000d - dd ee ff ",
			    0,
			    0,
			    NULL);
	g_assert_nonnull(message_type);
	g_assert_nonnull(transaction_id);
	g_assert_nonnull(nonce);
	test_assert_match(message_type, printed);
	test_assert_match(transaction_id, printed);
	test_assert_match(nonce, printed);
	/* the signer certificate is included, and signingTime is present */
	g_assert_nonnull(strstr(printed, "signingTime"));
	g_assert_nonnull(strstr(printed, "CN=SCEP SIGNER"));
}

static void
test_request_not_a_request(void)
{
	g_auto(Ctx) ctx;
	g_autoptr(GBytes) content = g_bytes_new_static("\x30\x00", 2);
	ScepRequest request;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) der = NULL;

	ctx_init(&ctx);
	test_request_init(&ctx, &request, &request_cases[2], content, SCEP_MESSAGE_TYPE_CERT_REP);
	der = scep_message_build_request(&request, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_INVALID_ARGUMENT);
	g_assert_null(der);
}

static void
test_request_bad_transaction_id(void)
{
	g_auto(Ctx) ctx;
	g_autoptr(GBytes) content = g_bytes_new_static("\x30\x00", 2);
	const gchar *bad[] = { "", "tab\there", "umlaut-\xc3\xa4", "under_score" };

	ctx_init(&ctx);
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		ScepRequest request;
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) der = NULL;

		test_request_init(
		    &ctx, &request, &request_cases[2], content, SCEP_MESSAGE_TYPE_PKCS_REQ);
		request.transaction_id = bad[i];
		der = scep_message_build_request(&request, &error);
		g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_INVALID_ARGUMENT);
		g_assert_null(der);
	}
}

static void
test_nonce_random(void)
{
	guint8 a[SCEP_NONCE_SIZE] = { 0 };
	guint8 b[SCEP_NONCE_SIZE] = { 0 };
	scep_message_generate_nonce(a);
	scep_message_generate_nonce(b);
	g_assert_true(memcmp(a, b, SCEP_NONCE_SIZE) != 0);
}

static gchar *
test_asn1parse(GBytes *der)
{
	g_autofree gchar *path = scep_cms_test_path("asn1parse.der");
	scep_cms_test_write(path, der);
	return scep_cms_test_run_capture(
	    "openssl", "asn1parse", "-inform", "DER", "-in", path, NULL);
}

static void
test_issuer_and_subject(void)
{
	g_auto(Ctx) ctx;
	g_auto(ScepGnutlsDatum) subject = { NULL, 0 };
	g_autoptr(GBytes) der = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *parsed = NULL;
	g_autoptr(GRegex) shape = NULL;

	ctx_init(&ctx);
	g_assert_cmpint(gnutls_x509_crt_get_raw_dn(ctx.client, &subject), ==, 0);
	der = scep_message_build_issuer_and_subject(ctx.ca, &subject, &error);
	g_assert_no_error(error);
	parsed = test_asn1parse(der);
	/* SEQUENCE { issuer Name (the CA's subject), subject Name } */
	shape = g_regex_new("d=0.*SEQUENCE.*\\n.*d=1.*SEQUENCE(.*\\n)+.*:Test CA\\n.*d=1.*SEQUENCE("
			    ".*\\n)+.*:SCEP SIGNER\\n$",
			    0,
			    0,
			    NULL);
	test_assert_match(shape, parsed);
}

static void
test_issuer_and_serial(void)
{
	g_auto(Ctx) ctx;
	guint8 serial_data[] = { 0x00, 0x8c, 0x67, 0x2b, 0xe0 };
	gnutls_datum_t serial = { serial_data, sizeof(serial_data) };
	g_autoptr(GBytes) der = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *parsed = NULL;

	ctx_init(&ctx);
	der = scep_message_build_issuer_and_serial(ctx.ca, &serial, &error);
	g_assert_no_error(error);
	parsed = test_asn1parse(der);
	g_assert_nonnull(strstr(parsed, ":Test CA"));
	g_assert_nonnull(strstr(parsed, "INTEGER           :8C672BE0"));
}

/* ---- CertReps from the independent responder code ---- */

static GBytes *
test_cert_rep_valist(const gchar *signer,
		     const gchar *key,
		     const gchar *transaction_id,
		     const gchar *recipient_nonce,
		     const gchar *first,
		     va_list args)
{
	g_autofree gchar *script = g_test_build_filename(G_TEST_DIST, "scep-cms-certrep.py", NULL);
	g_autofree gchar *out = scep_cms_test_path("certrep.der");
	g_autoptr(GPtrArray) argv = g_ptr_array_new();

	scep_cms_test_argv_add(argv,
			       "/usr/bin/python3",
			       script,
			       "--signer-cert",
			       signer,
			       "--signer-key",
			       key,
			       "--out",
			       out,
			       NULL);
	if (transaction_id != NULL)
		scep_cms_test_argv_add(argv, "--transaction-id", transaction_id, NULL);
	if (recipient_nonce != NULL)
		scep_cms_test_argv_add(argv, "--recipient-nonce", recipient_nonce, NULL);
	scep_cms_test_argv_add_valist(argv, first, args);
	g_free(scep_cms_test_run_argv(argv));
	return scep_cms_test_read(out);
}

/* a CertRep by tests/scep-cms-certrep.py, signed by @signer with @key, for @transaction_id
 * and with @recipient_nonce (hex), each left out when NULL; the NULL-terminated options of
 * the script say the rest */
static GBytes *
test_cert_rep(const gchar *signer,
	      const gchar *key,
	      const gchar *transaction_id,
	      const gchar *recipient_nonce,
	      const gchar *first,
	      ...)
{
	GBytes *reply;
	va_list args;

	va_start(args, first);
	reply = test_cert_rep_valist(signer, key, transaction_id, recipient_nonce, first, args);
	va_end(args);
	return reply;
}

/* the usual CertRep: signed by the RA, for our transaction, with our nonce */
static GBytes *
test_ra_cert_rep(const gchar *first, ...)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	GBytes *reply;
	va_list args;

	va_start(args, first);
	reply = test_cert_rep_valist(pki->ra_cert, pki->ra_key, TEST_TID, TEST_NONCE, first, args);
	va_end(args);
	return reply;
}

/* a certs-only PKCS#7 (issued + CA) by openssl, enveloped to the client by openssl; returns
 * the envelope's path */
static gchar *
test_success_envelope(const gchar *issued, const gchar *cipher, gboolean oaep)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_autofree gchar *degenerate_path = scep_cms_test_path("degenerate.der");
	g_autoptr(GBytes) degenerate = NULL;
	g_autoptr(GBytes) envelope = NULL;
	gchar *envelope_path = scep_cms_test_path("success-envelope.der");

	scep_cms_test_run_ok("openssl",
			     "crl2pkcs7",
			     "-nocrl",
			     "-certfile",
			     issued,
			     "-certfile",
			     pki->ca_cert,
			     "-outform",
			     "DER",
			     "-out",
			     degenerate_path,
			     NULL);
	degenerate = scep_cms_test_read(degenerate_path);
	envelope =
	    scep_cms_test_openssl_encrypt(degenerate,
					  cipher,
					  "-keyopt",
					  oaep ? "rsa_padding_mode:oaep" : "rsa_padding_mode:pkcs1",
					  NULL);
	scep_cms_test_write(envelope_path, envelope);
	return envelope_path;
}

static GBytes *
test_issued_der(const gchar *path)
{
	g_auto(gnutls_x509_crt_t) crt = scep_cms_test_load_cert(path);
	g_auto(ScepGnutlsDatum) der = { NULL, 0 };
	g_assert_cmpint(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der), ==, 0);
	return scep_gnutls_datum_to_bytes(&der);
}

typedef struct {
	const gchar *name;
	const gchar *cipher;
	gboolean oaep;
	const gchar *digest;
	gboolean ber;
	gboolean ca_signs;
} SuccessCase;

static const SuccessCase success_cases[] = {
	{ "aes128-sha256", "-aes128", FALSE, "sha256", FALSE, FALSE },
	{ "des-sha1-micromdm-style", "-des", FALSE, "sha1", FALSE, TRUE },
	{ "3des-md5", "-des3", FALSE, "md5", FALSE, FALSE },
	{ "oaep-aes128-sha1-ndes-style", "-aes128", TRUE, "sha1", FALSE, FALSE },
	{ "aes256-sha512-ber", "-aes256", FALSE, "sha512", TRUE, FALSE },
};

static void
test_cert_rep_success(gconstpointer data)
{
	const SuccessCase *sc = data;
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_auto(Ctx) ctx;
	g_autofree gchar *envelope = test_success_envelope(pki->issued_cert, sc->cipher, sc->oaep);
	g_autoptr(GBytes) reply = NULL;
	g_autoptr(GBytes) issued = test_issued_der(pki->issued_cert);
	g_autoptr(ScepCertRep) rep = NULL;
	g_autoptr(GError) error = NULL;
	GBytes *got;

	ctx_init(&ctx);
	reply = test_cert_rep(sc->ca_signs ? pki->ca_cert : pki->ra_cert,
			      sc->ca_signs ? pki->ca_key : pki->ra_key,
			      TEST_TID,
			      TEST_NONCE,
			      "--status",
			      "0",
			      "--digest",
			      sc->digest,
			      "--content",
			      envelope,
			      sc->ber ? "--ber" : "--include-cert",
			      NULL);
	rep = scep_cert_rep_parse(reply, &ctx.expect, &error);
	g_assert_no_error(error);
	g_assert_nonnull(rep);
	g_assert_cmpint(scep_cert_rep_get_status(rep), ==, SCEP_PKI_STATUS_SUCCESS);
	g_assert_true(scep_cert_rep_get_signer(rep) == (sc->ca_signs ? ctx.ca : ctx.ra));
	g_assert_cmpstr(scep_cert_rep_get_transaction_id(rep), ==, TEST_TID);
	g_assert_cmpuint(scep_cert_rep_get_certificates(rep)->len, ==, 2);
	got = scep_cert_rep_get_issued_certificate(rep);
	g_assert_nonnull(got);
	g_assert_cmpmem(g_bytes_get_data(got, NULL),
			g_bytes_get_size(got),
			g_bytes_get_data(issued, NULL),
			g_bytes_get_size(issued));
}

/* the reply is refused as a bad response whose message contains @fragment */
static void
test_expect_bad(Ctx *ctx, GBytes *reply, const gchar *fragment)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepCertRep) rep = scep_cert_rep_parse(reply, &ctx->expect, &error);
	g_assert_null(rep);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
	if (strstr(error->message, fragment) == NULL)
		g_test_message("expected '%s' in: %s", fragment, error->message);
	g_assert_nonnull(strstr(error->message, fragment));
}

static void
test_cert_rep_success_not_our_key(void)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_auto(Ctx) ctx;
	g_autofree gchar *envelope =
	    test_success_envelope(pki->issued_other_cert, "-aes128", FALSE);
	g_autoptr(GBytes) reply = NULL;

	ctx_init(&ctx);
	reply = test_ra_cert_rep("--content", envelope, NULL);
	test_expect_bad(&ctx, reply, "carries our public key");
}

static void
test_cert_rep_success_no_content(void)
{
	g_auto(Ctx) ctx;
	g_autoptr(GBytes) reply = NULL;

	ctx_init(&ctx);
	reply = test_ra_cert_rep("--empty-content", NULL);
	test_expect_bad(&ctx, reply, "SUCCESS but carries no content");
}

static ScepCertRep *
test_parse_ok(Ctx *ctx, GBytes *reply)
{
	g_autoptr(GError) error = NULL;
	ScepCertRep *rep = scep_cert_rep_parse(reply, &ctx->expect, &error);
	g_assert_no_error(error);
	g_assert_nonnull(rep);
	return rep;
}

static void
test_cert_rep_pending_empty_content(void)
{
	g_auto(Ctx) ctx;
	g_autoptr(GBytes) reply = NULL;
	g_autoptr(ScepCertRep) rep = NULL;

	ctx_init(&ctx);
	reply = test_ra_cert_rep("--status", "3", "--empty-content", NULL);
	rep = test_parse_ok(&ctx, reply);
	g_assert_cmpint(scep_cert_rep_get_status(rep), ==, SCEP_PKI_STATUS_PENDING);
	g_assert_null(scep_cert_rep_get_issued_certificate(rep));
	g_assert_false(scep_cert_rep_get_fail_info(rep, NULL));
}

static void
test_cert_rep_pending_no_content(void)
{
	g_auto(Ctx) ctx;
	g_autoptr(GBytes) reply = NULL;
	g_autoptr(ScepCertRep) rep = NULL;

	ctx_init(&ctx);
	reply = test_ra_cert_rep("--status", "3", NULL);
	rep = test_parse_ok(&ctx, reply);
	g_assert_cmpint(scep_cert_rep_get_status(rep), ==, SCEP_PKI_STATUS_PENDING);
}

static void
test_cert_rep_failure(gconstpointer data)
{
	guint fail_info = GPOINTER_TO_UINT(data);
	g_auto(Ctx) ctx;
	g_autofree gchar *fail_info_text = g_strdup_printf("%u", fail_info);
	g_autoptr(GBytes) reply = NULL;
	g_autoptr(ScepCertRep) rep = NULL;
	g_autofree gchar *described = NULL;
	guint got = 999;
	static const gchar *names[] = {
		"badAlg: ", "badMessageCheck: ", "badRequest: ", "badTime: ", "badCertId: "
	};

	ctx_init(&ctx);
	reply = test_ra_cert_rep("--status", "2", "--fail-info", fail_info_text, NULL);
	rep = test_parse_ok(&ctx, reply);
	g_assert_cmpint(scep_cert_rep_get_status(rep), ==, SCEP_PKI_STATUS_FAILURE);
	g_assert_true(scep_cert_rep_get_fail_info(rep, &got));
	g_assert_cmpuint(got, ==, fail_info);
	described = scep_cert_rep_describe_failure(rep);
	g_assert_true(g_str_has_prefix(described, names[fail_info]));
	g_assert_true(g_str_has_prefix(scep_fail_info_to_string(fail_info), names[fail_info]));
	g_assert_null(scep_cert_rep_get_fail_info_text(rep));
}

static void
test_cert_rep_failure_unknown_number(void)
{
	g_auto(Ctx) ctx;
	g_autoptr(GBytes) reply = NULL;
	g_autoptr(ScepCertRep) rep = NULL;
	g_autofree gchar *described = NULL;
	guint got = 0;

	ctx_init(&ctx);
	reply = test_ra_cert_rep("--status", "2", "--fail-info", "14606", "--empty-content", NULL);
	rep = test_parse_ok(&ctx, reply);
	g_assert_true(scep_cert_rep_get_fail_info(rep, &got));
	g_assert_cmpuint(got, ==, 14606);
	g_assert_null(scep_fail_info_to_string(14606));
	described = scep_cert_rep_describe_failure(rep);
	g_assert_cmpstr(described, ==, "failInfo 14606 (unknown)");
}

static void
test_cert_rep_failure_text(void)
{
	g_auto(Ctx) ctx;
	g_autoptr(GBytes) reply = NULL;
	g_autoptr(ScepCertRep) rep = NULL;
	g_autofree gchar *described = NULL;

	ctx_init(&ctx);
	reply = test_ra_cert_rep("--status",
				 "2",
				 "--fail-info",
				 "2",
				 "--fail-info-text",
				 "challenge password expired",
				 NULL);
	rep = test_parse_ok(&ctx, reply);
	g_assert_cmpstr(scep_cert_rep_get_fail_info_text(rep), ==, "challenge password expired");
	described = scep_cert_rep_describe_failure(rep);
	g_assert_cmpstr(described,
			==,
			"badRequest: transaction not permitted or supported (server says: "
			"challenge password expired)");
}

static void
test_cert_rep_no_sender_nonce(void)
{
	g_auto(Ctx) ctx;
	g_autoptr(GBytes) reply = NULL;
	g_autoptr(ScepCertRep) rep = NULL;

	ctx_init(&ctx);
	reply = test_ra_cert_rep("--status", "3", "--no-sender-nonce", NULL);
	rep = test_parse_ok(&ctx, reply);
	g_assert_null(scep_cert_rep_get_sender_nonce(rep));
}

static void
test_cert_rep_sender_nonce(void)
{
	g_auto(Ctx) ctx;
	g_autoptr(GBytes) reply = NULL;
	g_autoptr(ScepCertRep) rep = NULL;
	static const guint8 expected[] = { 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
					   0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };

	ctx_init(&ctx);
	reply = test_ra_cert_rep(
	    "--status", "3", "--sender-nonce", "fedcba98765432100123456789abcdef", NULL);
	rep = test_parse_ok(&ctx, reply);
	g_assert_cmpmem(scep_cert_rep_get_sender_nonce(rep), SCEP_NONCE_SIZE, expected, 16);
}

/* ---- hostile replies: each its own clear error ---- */

static void
test_hostile_flipped_signature(void)
{
	g_auto(Ctx) ctx;
	g_autoptr(GBytes) reply = NULL;
	g_autoptr(GBytes) broken = NULL;

	ctx_init(&ctx);
	reply = test_ra_cert_rep("--status", "2", "--fail-info", "2", NULL);
	broken = scep_cms_test_flip(reply, g_bytes_get_size(reply) - 3);
	test_expect_bad(&ctx, broken, "CertRep signature: the signature by 'CN=Test RA,O=Test'");
}

static void
test_hostile_flipped_content(void)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_auto(Ctx) ctx;
	g_autofree gchar *envelope_path = test_success_envelope(pki->issued_cert, "-aes128", FALSE);
	g_autoptr(GBytes) envelope = scep_cms_test_read(envelope_path);
	g_autoptr(GBytes) reply = NULL;
	g_autoptr(GBytes) broken = NULL;
	gssize at;

	ctx_init(&ctx);
	reply = test_ra_cert_rep("--content", envelope_path, NULL);
	at = scep_cms_test_find(reply, envelope);
	g_assert_cmpint(at, >, 0);
	broken = scep_cms_test_flip(reply, (gsize)at + g_bytes_get_size(envelope) - 20);
	test_expect_bad(&ctx, broken, "messageDigest does not match the content");
}

static void
test_hostile_wrong_signer(void)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_auto(Ctx) ctx;
	g_autoptr(GBytes) reply = NULL;

	ctx_init(&ctx);
	/* a valid signature by a certificate with the RA's name, embedded in the reply */
	reply = test_cert_rep(pki->other_cert,
			      pki->other_key,
			      TEST_TID,
			      TEST_NONCE,
			      "--status",
			      "3",
			      "--include-cert",
			      NULL);
	test_expect_bad(&ctx, reply, "signed by an unknown signer (issuer 'CN=Test RA,O=Test'");
}

static void
test_hostile_wrong_nonce(void)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_auto(Ctx) ctx;
	g_autoptr(GBytes) reply = NULL;

	ctx_init(&ctx);
	reply = test_cert_rep(pki->ra_cert,
			      pki->ra_key,
			      TEST_TID,
			      "00112233445566778899aabbccddeefe",
			      "--status",
			      "3",
			      NULL);
	test_expect_bad(&ctx, reply, "recipientNonce is not our senderNonce");
}

static void
test_hostile_missing_nonce(void)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_auto(Ctx) ctx;
	g_autoptr(GBytes) reply = NULL;

	ctx_init(&ctx);
	reply = test_cert_rep(pki->ra_cert, pki->ra_key, TEST_TID, NULL, "--status", "3", NULL);
	test_expect_bad(&ctx, reply, "has no recipientNonce");
}

static void
test_hostile_wrong_transaction_id(void)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_auto(Ctx) ctx;
	g_autoptr(GBytes) reply = NULL;

	ctx_init(&ctx);
	reply = test_cert_rep(
	    pki->ra_cert, pki->ra_key, "someone-else", TEST_NONCE, "--status", "3", NULL);
	test_expect_bad(&ctx, reply, "is for transaction 'someone-else', not ours");
}

static void
test_hostile_wrong_message_type(void)
{
	g_auto(Ctx) ctx;
	g_autoptr(GBytes) reply = NULL;

	ctx_init(&ctx);
	reply = test_ra_cert_rep("--status", "3", "--message-type", "19", NULL);
	test_expect_bad(&ctx, reply, "messageType '19', not CertRep (3)");
}

static void
test_hostile_bad_status(void)
{
	g_auto(Ctx) ctx;
	g_autoptr(GBytes) reply = NULL;

	ctx_init(&ctx);
	reply = test_ra_cert_rep("--status", "1", NULL);
	test_expect_bad(&ctx, reply, "pkiStatus '1', not 0, 2 or 3");
}

static void
test_hostile_truncated(void)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_auto(Ctx) ctx;
	g_autofree gchar *envelope = test_success_envelope(pki->issued_cert, "-aes128", FALSE);
	g_autoptr(GBytes) reply = NULL;
	gsize len;

	ctx_init(&ctx);
	reply = test_ra_cert_rep("--content", envelope, NULL);
	len = g_bytes_get_size(reply);
	for (gsize cut = 0; cut < len; cut += (cut < 40 ? 1 : 23)) {
		g_autoptr(GBytes) part = g_bytes_new_from_bytes(reply, 0, cut);
		test_expect_bad(&ctx, part, "the reply is not a CMS SignedData");
	}
}

static void
test_hostile_garbage(void)
{
	g_auto(Ctx) ctx;
	const gchar *html = "<html><body>Service Unavailable</body></html>";
	g_autoptr(GBytes) page = g_bytes_new_static(html, strlen(html));

	ctx_init(&ctx);
	test_expect_bad(&ctx, page, "the reply is not a CMS SignedData");
	for (guint round = 0; round < 100; round++) {
		guint8 noise[512];
		g_autoptr(GBytes) garbage = NULL;
		g_assert_cmpint(gnutls_rnd(GNUTLS_RND_NONCE, noise, sizeof(noise)), ==, 0);
		/* make some of it look like a SEQUENCE */
		if (round % 2 == 0)
			noise[0] = 0x30;
		garbage = g_bytes_new(noise, 1 + round * 5);
		test_expect_bad(&ctx, garbage, "the reply is not a CMS SignedData");
	}
}

/* ---- real captures through the whole CertRep path ---- */

static void
test_vector_expect(ScepSignedData *sd, gchar **tid, guint8 nonce[SCEP_NONCE_SIZE])
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) recipient_nonce = NULL;

	*tid = scep_signed_data_dup_attribute_string(sd, SCEP_OID_SCEP_TRANSACTION_ID, &error);
	g_assert_no_error(error);
	recipient_nonce =
	    scep_signed_data_dup_attribute_octets(sd, SCEP_OID_SCEP_RECIPIENT_NONCE, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_bytes_get_size(recipient_nonce), ==, SCEP_NONCE_SIZE);
	memcpy(nonce, g_bytes_get_data(recipient_nonce, NULL), SCEP_NONCE_SIZE);
}

static ScepCertRep *
test_vector_parse(GBytes *der,
		  gnutls_x509_crt_t signer,
		  gnutls_x509_crt_t recipient,
		  gnutls_privkey_t key,
		  gnutls_pubkey_t requested,
		  GError **error)
{
	g_autoptr(GError) local_error = NULL;
	g_autoptr(ScepSignedData) sd = scep_signed_data_new_from_bytes(der, &local_error);
	g_autofree gchar *tid = NULL;
	guint8 nonce[SCEP_NONCE_SIZE];
	ScepCertRepExpect expect = { 0 };

	g_assert_no_error(local_error);
	test_vector_expect(sd, &tid, nonce);
	expect.transaction_id = tid;
	expect.sender_nonce = nonce;
	expect.signers = &signer;
	expect.n_signers = 1;
	expect.recipient_cert = recipient;
	expect.recipient_key = key;
	expect.requested_key = requested;
	return scep_cert_rep_parse(der, &expect, error);
}

static void
test_vector_libscep_success(void)
{
	g_autofree gchar *creds = scep_cms_test_vector_path("libscep-test-credentials.pem");
	g_autoptr(GBytes) der =
	    scep_cms_test_read_vector_pem("libscep-extserver-certrep-success.pem", "PKCS7");
	g_auto(gnutls_x509_crt_t) ca = scep_cms_test_load_cert_nth(creds, 0);
	g_auto(gnutls_x509_crt_t) client = scep_cms_test_load_cert_nth(creds, 1);
	g_auto(gnutls_privkey_t) key = scep_cms_test_load_key(creds);
	g_autoptr(ScepCertRep) rep = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(gnutls_x509_crt_t) issued = NULL;
	g_auto(ScepGnutlsDatum) dn = { NULL, 0 };

	rep = test_vector_parse(der, ca, client, key, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(scep_cert_rep_get_status(rep), ==, SCEP_PKI_STATUS_SUCCESS);
	g_assert_true(scep_cert_rep_get_signer(rep) == ca);
	g_assert_cmpint(scep_cert_rep_get_digest_algorithm(rep), ==, GNUTLS_DIG_MD5);
	g_assert_nonnull(scep_cert_rep_get_issued_certificate(rep));
	issued = scep_cms_test_load_cert_bytes(scep_cert_rep_get_issued_certificate(rep),
					       GNUTLS_X509_FMT_DER);
	g_assert_cmpint(gnutls_x509_crt_get_dn3(issued, &dn, 0), ==, 0);
	g_assert_cmpstr(
	    (const gchar *)dn.data, ==, "CN=foo.bar,O=Internet Widgits Pty Ltd,ST=Some-State,C=AU");
}

static void
test_vector_libscep_pending(void)
{
	g_autofree gchar *creds = scep_cms_test_vector_path("libscep-test-credentials.pem");
	g_autoptr(GBytes) der =
	    scep_cms_test_read_vector_pem("libscep-extserver-certrep-pending.pem", "PKCS7");
	g_auto(gnutls_x509_crt_t) ca = scep_cms_test_load_cert_nth(creds, 0);
	g_autoptr(ScepCertRep) rep = NULL;
	g_autoptr(GError) error = NULL;

	rep = test_vector_parse(der, ca, NULL, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(scep_cert_rep_get_status(rep), ==, SCEP_PKI_STATUS_PENDING);
	g_assert_nonnull(scep_cert_rep_get_sender_nonce(rep));
}

static void
test_vector_libscep_failure(void)
{
	g_autofree gchar *creds = scep_cms_test_vector_path("libscep-test-credentials.pem");
	g_autoptr(GBytes) der =
	    scep_cms_test_read_vector_pem("libscep-extserver-certrep-failure.pem", "PKCS7");
	g_auto(gnutls_x509_crt_t) ca = scep_cms_test_load_cert_nth(creds, 0);
	g_autoptr(ScepCertRep) rep = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *described = NULL;
	guint fail_info = 99;

	rep = test_vector_parse(der, ca, NULL, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(scep_cert_rep_get_status(rep), ==, SCEP_PKI_STATUS_FAILURE);
	g_assert_true(scep_cert_rep_get_fail_info(rep, &fail_info));
	g_assert_cmpuint(fail_info, ==, 0);
	described = scep_cert_rep_describe_failure(rep);
	g_assert_cmpstr(described, ==, "badAlg: unrecognized or unsupported algorithm");
}

/* all checks before decryption pass; the device's key is not published */
static void
test_vector_nii_success(void)
{
	g_autoptr(GBytes) der = scep_cms_test_read_vector("nii-certrep-success.der");
	g_auto(gnutls_x509_crt_t) ca = scep_cms_test_load_vector_cert("nii-ca.der");
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_auto(gnutls_privkey_t) wrong_key = scep_cms_test_load_key(pki->client_key);
	g_autoptr(ScepCertRep) rep = NULL;
	g_autoptr(GError) error = NULL;

	rep = test_vector_parse(der, ca, NULL, wrong_key, NULL, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_CRYPTO);
	g_assert_nonnull(strstr(error->message, "cannot decrypt the content-encryption key"));
	g_assert_null(rep);
}

/* NDES: signature verified with the RA signing certificate, key transport by OAEP */
static void
test_vector_ndes_oaep(void)
{
	g_autoptr(GBytes) der =
	    scep_cms_test_read_vector("ndes-certprov-certrep-success-nocerts.der");
	g_auto(gnutls_x509_crt_t) ra =
	    scep_cms_test_load_vector_cert("ndes-certprov-ra-signing.pem");
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_auto(gnutls_privkey_t) wrong_key = scep_cms_test_load_key(pki->client_key);
	g_autoptr(ScepCertRep) rep = NULL;
	g_autoptr(GError) error = NULL;

	rep = test_vector_parse(der, ra, NULL, wrong_key, NULL, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_CRYPTO);
	g_assert_cmpstr(error->message, ==, "CertRep: envelope: RSAES-OAEP decryption failed");
	g_assert_null(rep);
}

static void
test_vector_bt_unknown_signer(void)
{
	g_autoptr(GBytes) der =
	    scep_cms_test_read_vector("bt-certrep-failure-failinfo14606-ber.der");
	g_auto(gnutls_x509_crt_t) unrelated = scep_cms_test_load_vector_cert("nii-ca.der");
	g_autoptr(ScepSignedData) sd = NULL;
	g_autoptr(ScepCertRep) rep = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *tid = NULL;
	ScepCertRepExpect expect = { 0 };
	guint8 nonce[SCEP_NONCE_SIZE] = { 0 };

	sd = scep_signed_data_new_from_bytes(der, &error);
	g_assert_no_error(error);
	tid = scep_signed_data_dup_attribute_string(sd, SCEP_OID_SCEP_TRANSACTION_ID, &error);
	g_assert_no_error(error);
	expect.transaction_id = tid;
	expect.sender_nonce = nonce;
	expect.signers = &unrelated;
	expect.n_signers = 1;
	rep = scep_cert_rep_parse(der, &expect, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
	g_assert_true(
	    g_str_has_prefix(error->message, "CertRep signature: signed by an unknown signer"));
	g_assert_null(rep);
}

int
main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
	for (gsize i = 0; i < G_N_ELEMENTS(request_cases); i++) {
		g_autofree gchar *path =
		    g_strdup_printf("/scep/message/request/openssl/%s", request_cases[i].name);
		g_test_add_data_func(path, &request_cases[i], test_request_openssl);
	}
	g_test_add_func("/scep/message/request/attributes", test_request_attributes);
	g_test_add_func("/scep/message/request/not-a-request", test_request_not_a_request);
	g_test_add_func("/scep/message/request/bad-transaction-id",
			test_request_bad_transaction_id);
	g_test_add_func("/scep/message/request/nonce-random", test_nonce_random);
	g_test_add_func("/scep/message/request/issuer-and-subject", test_issuer_and_subject);
	g_test_add_func("/scep/message/request/issuer-and-serial", test_issuer_and_serial);
	for (gsize i = 0; i < G_N_ELEMENTS(success_cases); i++) {
		g_autofree gchar *path =
		    g_strdup_printf("/scep/message/cert-rep/success/%s", success_cases[i].name);
		g_test_add_data_func(path, &success_cases[i], test_cert_rep_success);
	}
	g_test_add_func("/scep/message/cert-rep/success-not-our-key",
			test_cert_rep_success_not_our_key);
	g_test_add_func("/scep/message/cert-rep/success-no-content",
			test_cert_rep_success_no_content);
	g_test_add_func("/scep/message/cert-rep/pending-empty-content",
			test_cert_rep_pending_empty_content);
	g_test_add_func("/scep/message/cert-rep/pending-no-content",
			test_cert_rep_pending_no_content);
	for (guint i = 0; i <= 4; i++) {
		g_autofree gchar *path = g_strdup_printf("/scep/message/cert-rep/failure/%u", i);
		g_test_add_data_func(path, GUINT_TO_POINTER(i), test_cert_rep_failure);
	}
	g_test_add_func("/scep/message/cert-rep/failure-unknown-number",
			test_cert_rep_failure_unknown_number);
	g_test_add_func("/scep/message/cert-rep/failure-text", test_cert_rep_failure_text);
	g_test_add_func("/scep/message/cert-rep/no-sender-nonce", test_cert_rep_no_sender_nonce);
	g_test_add_func("/scep/message/cert-rep/sender-nonce", test_cert_rep_sender_nonce);
	g_test_add_func("/scep/message/hostile/flipped-signature", test_hostile_flipped_signature);
	g_test_add_func("/scep/message/hostile/flipped-content", test_hostile_flipped_content);
	g_test_add_func("/scep/message/hostile/wrong-signer", test_hostile_wrong_signer);
	g_test_add_func("/scep/message/hostile/wrong-nonce", test_hostile_wrong_nonce);
	g_test_add_func("/scep/message/hostile/missing-nonce", test_hostile_missing_nonce);
	g_test_add_func("/scep/message/hostile/wrong-transaction-id",
			test_hostile_wrong_transaction_id);
	g_test_add_func("/scep/message/hostile/wrong-message-type",
			test_hostile_wrong_message_type);
	g_test_add_func("/scep/message/hostile/bad-status", test_hostile_bad_status);
	g_test_add_func("/scep/message/hostile/truncated", test_hostile_truncated);
	g_test_add_func("/scep/message/hostile/garbage", test_hostile_garbage);
	g_test_add_func("/scep/message/vectors/libscep-success-decrypted",
			test_vector_libscep_success);
	g_test_add_func("/scep/message/vectors/libscep-pending", test_vector_libscep_pending);
	g_test_add_func("/scep/message/vectors/libscep-failure", test_vector_libscep_failure);
	g_test_add_func("/scep/message/vectors/nii-success", test_vector_nii_success);
	g_test_add_func("/scep/message/vectors/ndes-oaep", test_vector_ndes_oaep);
	g_test_add_func("/scep/message/vectors/bt-unknown-signer", test_vector_bt_unknown_signer);
	rc = g_test_run();
	scep_cms_test_pki_cleanup();
	return rc;
}
