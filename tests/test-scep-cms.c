#include "config.h"

#include <gnutls/crypto.h>
#include <string.h>

#include "scep-asn1.h"
#include "scep-cms-test-util.h"
#include "scep-envelope.h"
#include "scep-gnutls-common.h"
#include "scep-ndes-error.h"
#include "scep-oaep.h"
#include "scep-signed-data.h"

/* The CMS layer checked against OpenSSL (an independent implementation) and against
 * real captures from other SCEP clients and servers. */

typedef struct {
	const gchar *name;
	gnutls_cipher_algorithm_t cipher;
	const gchar *openssl_flag;
} CipherCase;

static const CipherCase cipher_cases[] = {
	{ "des", GNUTLS_CIPHER_DES_CBC, "-des" },
	{ "3des", GNUTLS_CIPHER_3DES_CBC, "-des3" },
	{ "aes128", GNUTLS_CIPHER_AES_128_CBC, "-aes128" },
	{ "aes192", GNUTLS_CIPHER_AES_192_CBC, "-aes192" },
	{ "aes256", GNUTLS_CIPHER_AES_256_CBC, "-aes256" },
};

static GBytes *
test_random_bytes(gsize len)
{
	guint8 *data = g_malloc(len);
	g_assert_cmpint(gnutls_rnd(GNUTLS_RND_NONCE, data, len), ==, 0);
	return g_bytes_new_take(data, len);
}

static void
test_assert_bytes_equal(GBytes *a, GBytes *b)
{
	g_assert_nonnull(a);
	g_assert_nonnull(b);
	g_assert_cmpmem(g_bytes_get_data(a, NULL),
			g_bytes_get_size(a),
			g_bytes_get_data(b, NULL),
			g_bytes_get_size(b));
}

/* scep_envelope_decrypt() by the holder of the certificate and key in @cert_path, @key_path */
static GBytes *
test_decrypt_as(GBytes *envelope, const gchar *cert_path, const gchar *key_path, GError **error)
{
	g_auto(gnutls_x509_crt_t) cert = scep_cms_test_load_cert(cert_path);
	g_auto(gnutls_privkey_t) key = scep_cms_test_load_key(key_path);
	return scep_envelope_decrypt(envelope, cert, key, error);
}

/* the client opens @envelope and finds @plain */
static void
test_assert_client_decrypts(GBytes *envelope, GBytes *plain)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) recovered =
	    test_decrypt_as(envelope, pki->client_cert, pki->client_key, &error);

	g_assert_no_error(error);
	test_assert_bytes_equal(plain, recovered);
}

static void
test_inspect_as_client(GBytes *envelope, ScepEnvelopeInfo *info)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_auto(gnutls_x509_crt_t) client = scep_cms_test_load_cert(pki->client_cert);
	g_autoptr(GError) error = NULL;

	g_assert_true(scep_envelope_inspect(envelope, client, info, &error));
	g_assert_no_error(error);
}

static void
test_envelope_to_openssl(gconstpointer data)
{
	const CipherCase *cc = data;
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_auto(gnutls_x509_crt_t) ra = scep_cms_test_load_cert(pki->ra_cert);
	g_autoptr(GBytes) plain = test_random_bytes(777);
	g_autoptr(GBytes) envelope = NULL;
	g_autoptr(GBytes) recovered = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *env_path = scep_cms_test_path("ours-envelope.der");

	envelope = scep_envelope_encrypt(plain, ra, cc->cipher, &error);
	g_assert_no_error(error);
	scep_cms_test_write(env_path, envelope);
	recovered = scep_cms_test_openssl_decrypt(env_path, pki->ra_cert, pki->ra_key);
	test_assert_bytes_equal(plain, recovered);
}

static void
test_envelope_from_openssl(gconstpointer data)
{
	const CipherCase *cc = data;
	g_autoptr(GBytes) plain = test_random_bytes(1000);
	g_autoptr(GBytes) envelope = scep_cms_test_openssl_encrypt(plain, cc->openssl_flag, NULL);
	ScepEnvelopeInfo info = { 0 };

	test_inspect_as_client(envelope, &info);
	g_assert_cmpint(info.cipher, ==, cc->cipher);
	g_assert_cmpint(info.key_transport, ==, SCEP_KEY_TRANSPORT_RSA_PKCS1);
	g_assert_true(info.recipient_found);
	test_assert_client_decrypts(envelope, plain);
}

static void
test_envelope_from_openssl_ber(void)
{
	g_autoptr(GBytes) plain = test_random_bytes(5000);
	g_autoptr(GBytes) envelope =
	    scep_cms_test_openssl_encrypt(plain, "-aes256", "-stream", NULL);
	const guint8 *der = g_bytes_get_data(envelope, NULL);

	/* indefinite length at the top: really BER */
	g_assert_cmphex(der[0], ==, 0x30);
	g_assert_cmphex(der[1], ==, 0x80);
	test_assert_client_decrypts(envelope, plain);
}

static void
test_envelope_from_openssl_oaep(void)
{
	g_autoptr(GBytes) plain = test_random_bytes(600);
	g_autoptr(GBytes) envelope = scep_cms_test_openssl_encrypt(
	    plain, "-aes128", "-keyopt", "rsa_padding_mode:oaep", NULL);
	ScepEnvelopeInfo info = { 0 };

	test_inspect_as_client(envelope, &info);
	g_assert_cmpint(info.key_transport, ==, SCEP_KEY_TRANSPORT_RSA_OAEP);
	g_assert_cmpint(info.oaep_hash, ==, GNUTLS_DIG_SHA1);
	test_assert_client_decrypts(envelope, plain);
}

static void
test_envelope_from_openssl_oaep_sha256(void)
{
	g_autoptr(GBytes) plain = test_random_bytes(600);
	g_autoptr(GBytes) envelope = scep_cms_test_openssl_encrypt(plain,
								   "-aes256",
								   "-keyopt",
								   "rsa_padding_mode:oaep",
								   "-keyopt",
								   "rsa_oaep_md:sha256",
								   "-keyopt",
								   "rsa_mgf1_md:sha256",
								   NULL);
	ScepEnvelopeInfo info = { 0 };

	test_inspect_as_client(envelope, &info);
	g_assert_cmpint(info.key_transport, ==, SCEP_KEY_TRANSPORT_RSA_OAEP);
	g_assert_cmpint(info.oaep_hash, ==, GNUTLS_DIG_SHA256);
	test_assert_client_decrypts(envelope, plain);
}

static void
test_envelope_wrong_key(void)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_autoptr(GBytes) plain = test_random_bytes(100);
	g_autoptr(GBytes) envelope = scep_cms_test_openssl_encrypt(plain, "-aes128", NULL);
	g_autoptr(GBytes) recovered = NULL;
	g_autoptr(GError) error = NULL;

	recovered = test_decrypt_as(envelope, pki->client_cert, pki->other_key, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_CRYPTO);
	g_assert_null(recovered);
	g_assert_nonnull(strstr(error->message, "content-encryption key"));
}

static void
test_envelope_wrong_key_oaep(void)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_autoptr(GBytes) plain = test_random_bytes(100);
	g_autoptr(GBytes) envelope = scep_cms_test_openssl_encrypt(
	    plain, "-aes128", "-keyopt", "rsa_padding_mode:oaep", NULL);
	g_autoptr(GBytes) recovered = NULL;
	g_autoptr(GError) error = NULL;

	recovered = test_decrypt_as(envelope, pki->client_cert, pki->other_key, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_CRYPTO);
	g_assert_nonnull(strstr(error->message, "RSAES-OAEP decryption failed"));
	g_assert_null(recovered);
}

static void
test_envelope_bad_padding(void)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_auto(gnutls_x509_crt_t) client = scep_cms_test_load_cert(pki->client_cert);
	g_autoptr(GBytes) plain = test_random_bytes(64);
	g_autoptr(GBytes) envelope = NULL;
	g_autoptr(GBytes) broken = NULL;
	g_autoptr(GBytes) recovered = NULL;
	g_autoptr(GError) error = NULL;

	envelope = scep_envelope_encrypt(plain, client, GNUTLS_CIPHER_AES_128_CBC, &error);
	g_assert_no_error(error);
	/* the ciphertext ends the DER; flipping the previous block's last byte flips the
	 * last plaintext byte, which is the pad length */
	broken = scep_cms_test_flip(envelope, g_bytes_get_size(envelope) - 17);
	recovered = test_decrypt_as(broken, pki->client_cert, pki->client_key, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_CRYPTO);
	g_assert_nonnull(strstr(error->message, "bad padding"));
	g_assert_null(recovered);
}

static void
test_envelope_choose_recipient(void)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_autoptr(GBytes) plain = test_random_bytes(50);
	g_autoptr(GBytes) envelope =
	    scep_cms_test_openssl_encrypt(plain, "-aes128", "-recip", pki->ra_cert, NULL);
	ScepEnvelopeInfo info = { 0 };

	test_inspect_as_client(envelope, &info);
	g_assert_cmpuint(info.n_recipients, ==, 2);
	g_assert_true(info.recipient_found);
	test_assert_client_decrypts(envelope, plain);
}

static void
test_envelope_not_for_us(void)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_autoptr(GBytes) plain = test_random_bytes(50);
	g_autoptr(GBytes) envelope =
	    scep_cms_test_openssl_encrypt(plain, "-aes128", "-recip", pki->ra_cert, NULL);
	g_autoptr(GBytes) recovered = NULL;
	g_autoptr(GError) error = NULL;

	recovered = test_decrypt_as(envelope, pki->other_cert, pki->other_key, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
	g_assert_nonnull(strstr(error->message, "none of its 2 recipients"));
	g_assert_null(recovered);
}

static void
test_envelope_truncated(void)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_autoptr(GBytes) plain = test_random_bytes(300);
	g_autoptr(GBytes) envelope = scep_cms_test_openssl_encrypt(plain, "-aes128", NULL);
	gsize len = g_bytes_get_size(envelope);

	for (gsize cut = 0; cut < len; cut += (cut < 64 ? 1 : 37)) {
		g_autoptr(GBytes) part = g_bytes_new_from_bytes(envelope, 0, cut);
		g_autoptr(GBytes) recovered = NULL;
		g_autoptr(GError) error = NULL;

		recovered = test_decrypt_as(part, pki->client_cert, pki->client_key, &error);
		g_assert_null(recovered);
		g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
	}
}

/* ---- RSAES-OAEP against openssl pkeyutl ---- */

static GBytes *
test_oaep_encrypt(GBytes *plain, const gchar *const *opts, guint n_opts)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_autofree gchar *in = scep_cms_test_path("oaep-in.bin");
	g_autofree gchar *out = scep_cms_test_path("oaep-out.bin");
	g_autoptr(GPtrArray) argv = g_ptr_array_new();

	scep_cms_test_write(in, plain);
	scep_cms_test_argv_add(argv,
			       "openssl",
			       "pkeyutl",
			       "-encrypt",
			       "-certin",
			       "-inkey",
			       pki->client_cert,
			       "-in",
			       in,
			       "-out",
			       out,
			       "-pkeyopt",
			       "rsa_padding_mode:oaep",
			       NULL);
	for (guint i = 0; i < n_opts; i++)
		scep_cms_test_argv_add(argv, "-pkeyopt", opts[i], NULL);
	g_free(scep_cms_test_run_argv(argv));
	return scep_cms_test_read(out);
}

static void
test_oaep_check(gnutls_digest_algorithm_t hash,
		const gnutls_datum_t *label,
		const gchar *const *opts,
		guint n_opts)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_auto(gnutls_privkey_t) key = scep_cms_test_load_key(pki->client_key);
	g_autoptr(GBytes) plain = test_random_bytes(32);
	g_autoptr(GBytes) ciphertext = test_oaep_encrypt(plain, opts, n_opts);
	g_autoptr(GError) error = NULL;
	guint8 out[64];
	gsize out_len = 0;

	g_assert_true(
	    scep_oaep_decrypt(key, hash, label, ciphertext, out, sizeof(out), &out_len, &error));
	g_assert_no_error(error);
	g_assert_cmpmem(out, out_len, g_bytes_get_data(plain, NULL), g_bytes_get_size(plain));
}

static void
test_oaep_sha1(void)
{
	test_oaep_check(GNUTLS_DIG_SHA1, NULL, NULL, 0);
}

static void
test_oaep_sha256(void)
{
	const gchar *opts[] = { "rsa_oaep_md:sha256", "rsa_mgf1_md:sha256" };
	test_oaep_check(GNUTLS_DIG_SHA256, NULL, opts, G_N_ELEMENTS(opts));
}

static void
test_oaep_label(void)
{
	const gchar *opts[] = { "rsa_oaep_label:736365702d6c6162656c" };
	gnutls_datum_t label = { (guint8 *)"scep-label", 10 };
	test_oaep_check(GNUTLS_DIG_SHA1, &label, opts, G_N_ELEMENTS(opts));
}

/* wrong key, tampered block, wrong hash, wrong label and too small a buffer all give
 * one and the same error */
static void
test_oaep_single_error(void)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_auto(gnutls_privkey_t) key = scep_cms_test_load_key(pki->client_key);
	g_auto(gnutls_privkey_t) other_key = scep_cms_test_load_key(pki->other_key);
	g_autoptr(GBytes) plain = test_random_bytes(32);
	g_autoptr(GBytes) ciphertext = test_oaep_encrypt(plain, NULL, 0);
	g_autoptr(GBytes) tampered = scep_cms_test_flip(ciphertext, 100);
	g_autoptr(GBytes) shortened = g_bytes_new_from_bytes(ciphertext, 1, 255);
	gnutls_datum_t label = { (guint8 *)"x", 1 };
	struct {
		gnutls_privkey_t key;
		gnutls_digest_algorithm_t hash;
		const gnutls_datum_t *label;
		GBytes *ciphertext;
		gsize out_size;
	} cases[] = {
		{ other_key, GNUTLS_DIG_SHA1, NULL, ciphertext, 64 },
		{ key, GNUTLS_DIG_SHA1, NULL, tampered, 64 },
		{ key, GNUTLS_DIG_SHA256, NULL, ciphertext, 64 },
		{ key, GNUTLS_DIG_SHA1, &label, ciphertext, 64 },
		{ key, GNUTLS_DIG_SHA1, NULL, ciphertext, 31 },
		{ key, GNUTLS_DIG_SHA1, NULL, shortened, 64 },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		guint8 out[64];
		gsize out_len = 0;

		g_assert_false(scep_oaep_decrypt(cases[i].key,
						 cases[i].hash,
						 cases[i].label,
						 cases[i].ciphertext,
						 out,
						 cases[i].out_size,
						 &out_len,
						 &error));
		g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_CRYPTO);
		g_assert_cmpstr(error->message, ==, "RSAES-OAEP decryption failed");
	}
}

/* ---- SignedData verifier against openssl cms -sign ---- */

static GBytes *
test_openssl_sign(GBytes *content,
		  const gchar *signer,
		  const gchar *key,
		  const gchar *const *extra,
		  guint n_extra)
{
	g_autofree gchar *in = scep_cms_test_path("sign-in.bin");
	g_autofree gchar *out = scep_cms_test_path("signed.der");
	g_autoptr(GPtrArray) argv = g_ptr_array_new();

	scep_cms_test_write(in, content);
	scep_cms_test_argv_add(argv,
			       "openssl",
			       "cms",
			       "-sign",
			       "-binary",
			       "-nodetach",
			       "-outform",
			       "DER",
			       "-in",
			       in,
			       "-out",
			       out,
			       "-signer",
			       signer,
			       "-inkey",
			       key,
			       NULL);
	for (guint i = 0; i < n_extra; i++)
		g_ptr_array_add(argv, (gpointer)extra[i]);
	g_free(scep_cms_test_run_argv(argv));
	return scep_cms_test_read(out);
}

typedef struct {
	const gchar *name;
	const gchar *extra[4];
	guint n_extra;
	gnutls_digest_algorithm_t digest;
	gboolean attrs;
	gboolean ber;
} SignCase;

static const SignCase sign_cases[] = {
	{ "sha256", { "-md", "sha256" }, 2, GNUTLS_DIG_SHA256, TRUE, FALSE },
	{ "sha1", { "-md", "sha1" }, 2, GNUTLS_DIG_SHA1, TRUE, FALSE },
	{ "md5", { "-md", "md5" }, 2, GNUTLS_DIG_MD5, TRUE, FALSE },
	{ "sha512-ber", { "-md", "sha512", "-stream" }, 3, GNUTLS_DIG_SHA512, TRUE, TRUE },
	{ "no-signed-attributes",
	  { "-md", "sha256", "-noattr" },
	  3,
	  GNUTLS_DIG_SHA256,
	  FALSE,
	  FALSE },
	{ "subject-key-identifier",
	  { "-md", "sha256", "-keyid" },
	  3,
	  GNUTLS_DIG_SHA256,
	  TRUE,
	  FALSE },
};

static void
test_signed_data_from_openssl(gconstpointer data)
{
	const SignCase *sc = data;
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_auto(gnutls_x509_crt_t) ra = scep_cms_test_load_cert(pki->ra_cert);
	g_auto(gnutls_x509_crt_t) ca = scep_cms_test_load_cert(pki->ca_cert);
	gnutls_x509_crt_t candidates[] = { ca, ra };
	g_autoptr(GBytes) content = test_random_bytes(2000);
	g_autoptr(GBytes) signed_der =
	    test_openssl_sign(content, pki->ra_cert, pki->ra_key, sc->extra, sc->n_extra);
	g_autoptr(ScepSignedData) sd = NULL;
	g_autoptr(GError) error = NULL;

	if (sc->ber)
		g_assert_cmphex(((const guint8 *)g_bytes_get_data(signed_der, NULL))[1], ==, 0x80);
	sd = scep_signed_data_new_from_bytes(signed_der, &error);
	g_assert_no_error(error);
	g_assert_true(scep_signed_data_verify(sd, candidates, 2, &error));
	g_assert_no_error(error);
	g_assert_true(scep_signed_data_get_signer(sd) == ra);
	g_assert_cmpint(scep_signed_data_get_digest_algorithm(sd), ==, sc->digest);
	g_assert_cmpint(scep_signed_data_has_signed_attributes(sd), ==, sc->attrs);
	g_assert_cmpstr(scep_signed_data_get_content_type(sd), ==, SCEP_OID_DATA);
	test_assert_bytes_equal(scep_signed_data_get_content(sd), content);
	/* openssl embeds the signer certificate */
	g_assert_cmpuint(scep_signed_data_get_certificates(sd)->len, ==, 1);
}

/* @signed_der parses, but fails to verify against the RA certificate; returns the error */
static GError *
test_ra_verify_error(GBytes *signed_der)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_auto(gnutls_x509_crt_t) ra = scep_cms_test_load_cert(pki->ra_cert);
	g_autoptr(ScepSignedData) sd = NULL;
	GError *error = NULL;

	sd = scep_signed_data_new_from_bytes(signed_der, &error);
	g_assert_no_error(error);
	g_assert_false(scep_signed_data_verify(sd, &ra, 1, &error));
	g_assert_null(scep_signed_data_get_signer(sd));
	return error;
}

/* a valid signature by a certificate that is not a candidate, although it is
 * embedded and has the same subject as the expected signer */
static void
test_signed_data_wrong_signer(void)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_autoptr(GBytes) content = test_random_bytes(100);
	g_autoptr(GBytes) signed_der =
	    test_openssl_sign(content, pki->other_cert, pki->other_key, NULL, 0);
	g_autoptr(GError) error = test_ra_verify_error(signed_der);

	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
	g_assert_nonnull(strstr(error->message, "unknown signer"));
	g_assert_nonnull(strstr(error->message, "Test RA"));
}

static void
test_signed_data_flipped_signature(void)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_autoptr(GBytes) content = test_random_bytes(100);
	g_autoptr(GBytes) signed_der =
	    test_openssl_sign(content, pki->ra_cert, pki->ra_key, NULL, 0);
	/* the signature is the last field of the last SignerInfo */
	g_autoptr(GBytes) broken = scep_cms_test_flip(signed_der, g_bytes_get_size(signed_der) - 5);
	g_autoptr(GError) error = test_ra_verify_error(broken);

	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
	g_assert_nonnull(strstr(error->message, "does not verify"));
}

static void
test_signed_data_flipped_content(void)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_autoptr(GBytes) content = test_random_bytes(100);
	g_autoptr(GBytes) signed_der =
	    test_openssl_sign(content, pki->ra_cert, pki->ra_key, NULL, 0);
	gssize at = scep_cms_test_find(signed_der, content);
	g_autoptr(GBytes) broken = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(at, >, 0);
	broken = scep_cms_test_flip(signed_der, (gsize)at + 50);
	error = test_ra_verify_error(broken);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
	g_assert_nonnull(strstr(error->message, "messageDigest does not match"));
}

static void
test_signed_data_truncated(void)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_autoptr(GBytes) content = test_random_bytes(300);
	g_autoptr(GBytes) signed_der =
	    test_openssl_sign(content, pki->ra_cert, pki->ra_key, NULL, 0);
	gsize len = g_bytes_get_size(signed_der);

	for (gsize cut = 0; cut < len; cut += (cut < 64 ? 1 : 29)) {
		g_autoptr(GBytes) part = g_bytes_new_from_bytes(signed_der, 0, cut);
		g_autoptr(ScepSignedData) sd = NULL;
		g_autoptr(GError) error = NULL;

		sd = scep_signed_data_new_from_bytes(part, &error);
		g_assert_null(sd);
		g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
	}
}

static void
test_signed_data_garbage(void)
{
	for (guint round = 0; round < 200; round++) {
		g_autoptr(GBytes) garbage = test_random_bytes(1 + round * 7);
		g_autoptr(ScepSignedData) sd = NULL;
		g_autoptr(GError) error = NULL;

		sd = scep_signed_data_new_from_bytes(garbage, &error);
		g_assert_null(sd);
		g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
	}
}

/* ---- real captures: PKCSReq messages from other clients ---- */

typedef struct {
	const gchar *vector;
	const gchar *key; /* vector name, or NULL: not decryptable */
	gboolean key_encrypted_pem;
	gnutls_cipher_algorithm_t cipher;
	gboolean has_iv;
	gnutls_digest_algorithm_t digest;
} PkcsReqCase;

static const PkcsReqCase pkcsreq_cases[] = {
	{ "micromdm-apple-pkcsreq.der",
	  "micromdm-testca.key",
	  TRUE,
	  GNUTLS_CIPHER_3DES_CBC,
	  TRUE,
	  GNUTLS_DIG_SHA1 },
	{ "ejbca-openscep-pkcsreq.der",
	  "ejbca-adminca1-testkey.pem",
	  FALSE,
	  GNUTLS_CIPHER_DES_CBC,
	  TRUE,
	  GNUTLS_DIG_MD5 },
	{ "ejbca-sscep-pkcsreq.der",
	  "ejbca-adminca1-testkey.pem",
	  FALSE,
	  GNUTLS_CIPHER_DES_CBC,
	  TRUE,
	  GNUTLS_DIG_MD5 },
	{ "ejbca-javascepclient-pkcsreq-noiv.der",
	  "ejbca-adminca1-testkey.pem",
	  FALSE,
	  GNUTLS_CIPHER_DES_CBC,
	  FALSE,
	  GNUTLS_DIG_MD5 },
	{ "ejbca-ciscovpn-pkcsreq.der",
	  "ejbca-adminca1-testkey.pem",
	  FALSE,
	  GNUTLS_CIPHER_DES_CBC,
	  TRUE,
	  GNUTLS_DIG_MD5 },
	{ "macos-2015-pkcsreq-to-adcs-ra.der",
	  NULL,
	  FALSE,
	  GNUTLS_CIPHER_3DES_CBC,
	  TRUE,
	  GNUTLS_DIG_SHA512 },
};

static void
test_vector_pkcsreq(gconstpointer data)
{
	const PkcsReqCase *pc = data;
	g_autoptr(GBytes) der = scep_cms_test_read_vector(pc->vector);
	g_autoptr(ScepSignedData) sd = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(gnutls_x509_crt_t) signer = NULL;
	g_autofree gchar *vector_path = NULL;
	g_autofree gchar *env_path = scep_cms_test_path("vector-envelope.der");
	g_autofree gchar *key_path = NULL;
	g_auto(gnutls_privkey_t) key = NULL;
	g_autoptr(GBytes) csr = NULL;
	g_autoptr(GBytes) expected = NULL;
	g_autofree gchar *message_type = NULL;
	ScepEnvelopeInfo info = { 0 };
	gboolean verified;

	sd = scep_signed_data_new_from_bytes(der, &error);
	g_assert_no_error(error);
	g_assert_cmpint(scep_signed_data_get_digest_algorithm(sd), ==, pc->digest);
	message_type =
	    scep_signed_data_dup_attribute_string(sd, SCEP_OID_SCEP_MESSAGE_TYPE, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(message_type, ==, "19");

	/* the client's own self-signed certificate travels inside the request */
	g_assert_cmpuint(scep_signed_data_get_certificates(sd)->len, >=, 1);
	signer = scep_cms_test_load_cert_bytes(
	    g_ptr_array_index(scep_signed_data_get_certificates(sd), 0), GNUTLS_X509_FMT_DER);
	verified = scep_signed_data_verify(sd, &signer, 1, &error);
	if (g_str_has_prefix(pc->vector, "ejbca-javascepclient")) {
		/* OpenSSL rejects this signature as well (vectors README) */
		g_assert_false(verified);
		g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
		g_clear_error(&error);
	} else {
		g_assert_no_error(error);
		g_assert_true(verified);
	}

	g_assert_true(scep_envelope_inspect(scep_signed_data_get_content(sd), NULL, &info, &error));
	g_assert_no_error(error);
	g_assert_cmpint(info.cipher, ==, pc->cipher);
	g_assert_cmpint(info.has_iv, ==, pc->has_iv);
	g_assert_cmpint(info.key_transport, ==, SCEP_KEY_TRANSPORT_RSA_PKCS1);
	if (pc->key == NULL)
		return;

	/* OpenSSL's plaintext is the reference */
	vector_path = scep_cms_test_vector_path(pc->key);
	if (pc->key_encrypted_pem) {
		key_path = scep_cms_test_path("vector-key.pem");
		scep_cms_test_run_ok("openssl",
				     "rsa",
				     "-in",
				     vector_path,
				     "-passin",
				     "pass:",
				     "-out",
				     key_path,
				     NULL);
	} else {
		key_path = g_strdup(vector_path);
	}
	scep_cms_test_write(env_path, scep_signed_data_get_content(sd));
	expected = scep_cms_test_openssl_decrypt(env_path, NULL, key_path);

	key = scep_cms_test_load_key(key_path);
	csr = scep_envelope_decrypt(scep_signed_data_get_content(sd), NULL, key, &error);
	g_assert_no_error(error);
	test_assert_bytes_equal(csr, expected);
	/* and it is a CSR */
	g_assert_cmphex(((const guint8 *)g_bytes_get_data(csr, NULL))[0], ==, 0x30);
}

/* ---- real captures: CertReps, signature and envelope ---- */

/* @der parses, and verifies against @signer alone */
static ScepSignedData *
test_parse_verified(GBytes *der, gnutls_x509_crt_t *signer)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepSignedData) sd = scep_signed_data_new_from_bytes(der, &error);

	g_assert_no_error(error);
	g_assert_true(scep_signed_data_verify(sd, signer, 1, &error));
	g_assert_no_error(error);
	return g_steal_pointer(&sd);
}

static void
test_vector_certrep_nii(void)
{
	g_autoptr(GBytes) der = scep_cms_test_read_vector("nii-certrep-success.der");
	g_auto(gnutls_x509_crt_t) ca = scep_cms_test_load_vector_cert("nii-ca.der");
	g_autoptr(ScepSignedData) sd = test_parse_verified(der, &ca);
	g_autoptr(GError) error = NULL;
	ScepEnvelopeInfo info = { 0 };

	g_assert_cmpuint(scep_signed_data_get_certificates(sd)->len, ==, 0);
	g_assert_cmpint(scep_signed_data_get_digest_algorithm(sd), ==, GNUTLS_DIG_MD5);
	g_assert_true(scep_envelope_inspect(scep_signed_data_get_content(sd), NULL, &info, &error));
	g_assert_cmpint(info.cipher, ==, GNUTLS_CIPHER_DES_CBC);
}

static void
test_vector_certrep_micromdm(void)
{
	g_autoptr(GBytes) der = scep_cms_test_read_vector("micromdm-2016-certrep-success.der");
	g_auto(gnutls_x509_crt_t) ca = scep_cms_test_load_vector_cert("micromdm-testca.crt");
	g_autoptr(ScepSignedData) sd = test_parse_verified(der, &ca);
	g_autoptr(GError) error = NULL;
	ScepEnvelopeInfo info = { 0 };

	g_assert_cmpuint(scep_signed_data_get_certificates(sd)->len, ==, 2);
	g_assert_cmpint(scep_signed_data_get_digest_algorithm(sd), ==, GNUTLS_DIG_SHA1);
	/* constructed [0] encryptedContent and rsaEncryption without NULL parameters */
	g_assert_true(scep_envelope_inspect(scep_signed_data_get_content(sd), NULL, &info, &error));
	g_assert_no_error(error);
	g_assert_cmpint(info.cipher, ==, GNUTLS_CIPHER_DES_CBC);
	g_assert_cmpint(info.key_transport, ==, SCEP_KEY_TRANSPORT_RSA_PKCS1);
}

static void
test_vector_certrep_ndes_oaep(void)
{
	g_autoptr(GBytes) der =
	    scep_cms_test_read_vector("ndes-certprov-certrep-success-nocerts.der");
	g_auto(gnutls_x509_crt_t) ra =
	    scep_cms_test_load_vector_cert("ndes-certprov-ra-signing.pem");
	g_autoptr(ScepSignedData) sd = test_parse_verified(der, &ra);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *issued = NULL;
	ScepEnvelopeInfo info = { 0 };

	g_assert_cmpuint(scep_signed_data_get_certificates(sd)->len, ==, 0);
	g_assert_true(scep_signed_data_get_signer(sd) == ra);
	/* Microsoft's own attribute, a UTF8String */
	issued = scep_signed_data_dup_attribute_string(sd, "1.3.6.1.4.1.311.21.38", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(issued, ==, "Issued");
	g_assert_true(scep_envelope_inspect(scep_signed_data_get_content(sd), NULL, &info, &error));
	g_assert_no_error(error);
	g_assert_cmpint(info.key_transport, ==, SCEP_KEY_TRANSPORT_RSA_OAEP);
	g_assert_cmpint(info.oaep_hash, ==, GNUTLS_DIG_SHA1);
	g_assert_cmpint(info.cipher, ==, GNUTLS_CIPHER_AES_128_CBC);
	g_assert_cmpuint(info.n_recipients, ==, 1);
}

static void
test_vector_certrep_bt_ber(void)
{
	g_autoptr(GBytes) der =
	    scep_cms_test_read_vector("bt-certrep-failure-failinfo14606-ber.der");
	g_auto(gnutls_x509_crt_t) unrelated = scep_cms_test_load_vector_cert("nii-ca.der");
	g_autoptr(ScepSignedData) sd = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *fail_info = NULL;
	g_autofree gchar *status = NULL;

	sd = scep_signed_data_new_from_bytes(der, &error);
	g_assert_no_error(error);
	g_assert_cmpint(scep_signed_data_get_digest_algorithm(sd), ==, GNUTLS_DIG_MD5);
	/* an explicit empty OCTET STRING */
	g_assert_nonnull(scep_signed_data_get_content(sd));
	g_assert_cmpuint(g_bytes_get_size(scep_signed_data_get_content(sd)), ==, 0);
	status = scep_signed_data_dup_attribute_string(sd, SCEP_OID_SCEP_PKI_STATUS, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(status, ==, "2");
	fail_info = scep_signed_data_dup_attribute_string(sd, SCEP_OID_SCEP_FAIL_INFO, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(fail_info, ==, "14606");
	g_assert_null(scep_signed_data_get_attribute(sd, SCEP_OID_SCEP_SENDER_NONCE));
	/* the signer's certificate is not published */
	g_assert_false(scep_signed_data_verify(sd, &unrelated, 1, &error));
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
	g_assert_nonnull(strstr(error->message, "unknown signer"));
	g_assert_nonnull(strstr(error->message, "BT Test Root CA"));
}

static void
test_vector_certrep_libscep(gconstpointer data)
{
	const gchar *name = data;
	g_autoptr(GBytes) der = scep_cms_test_read_vector_pem(name, "PKCS7");
	g_autofree gchar *creds = scep_cms_test_vector_path("libscep-test-credentials.pem");
	g_auto(gnutls_x509_crt_t) ca = scep_cms_test_load_cert_nth(creds, 0);
	g_autoptr(ScepSignedData) sd = test_parse_verified(der, &ca);

	g_assert_cmpint(scep_signed_data_get_digest_algorithm(sd), ==, GNUTLS_DIG_MD5);
}

int
main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
	for (gsize i = 0; i < G_N_ELEMENTS(cipher_cases); i++) {
		g_autofree gchar *to =
		    g_strdup_printf("/scep/cms/envelope/to-openssl/%s", cipher_cases[i].name);
		g_autofree gchar *from =
		    g_strdup_printf("/scep/cms/envelope/from-openssl/%s", cipher_cases[i].name);
		g_test_add_data_func(to, &cipher_cases[i], test_envelope_to_openssl);
		g_test_add_data_func(from, &cipher_cases[i], test_envelope_from_openssl);
	}
	g_test_add_func("/scep/cms/envelope/from-openssl-ber", test_envelope_from_openssl_ber);
	g_test_add_func("/scep/cms/envelope/from-openssl-oaep", test_envelope_from_openssl_oaep);
	g_test_add_func("/scep/cms/envelope/from-openssl-oaep-sha256",
			test_envelope_from_openssl_oaep_sha256);
	g_test_add_func("/scep/cms/envelope/wrong-key", test_envelope_wrong_key);
	g_test_add_func("/scep/cms/envelope/wrong-key-oaep", test_envelope_wrong_key_oaep);
	g_test_add_func("/scep/cms/envelope/bad-padding", test_envelope_bad_padding);
	g_test_add_func("/scep/cms/envelope/choose-recipient", test_envelope_choose_recipient);
	g_test_add_func("/scep/cms/envelope/not-for-us", test_envelope_not_for_us);
	g_test_add_func("/scep/cms/envelope/truncated", test_envelope_truncated);
	g_test_add_func("/scep/cms/oaep/sha1", test_oaep_sha1);
	g_test_add_func("/scep/cms/oaep/sha256", test_oaep_sha256);
	g_test_add_func("/scep/cms/oaep/label", test_oaep_label);
	g_test_add_func("/scep/cms/oaep/single-error", test_oaep_single_error);
	for (gsize i = 0; i < G_N_ELEMENTS(sign_cases); i++) {
		g_autofree gchar *path =
		    g_strdup_printf("/scep/cms/signed-data/from-openssl/%s", sign_cases[i].name);
		g_test_add_data_func(path, &sign_cases[i], test_signed_data_from_openssl);
	}
	g_test_add_func("/scep/cms/signed-data/wrong-signer", test_signed_data_wrong_signer);
	g_test_add_func("/scep/cms/signed-data/flipped-signature",
			test_signed_data_flipped_signature);
	g_test_add_func("/scep/cms/signed-data/flipped-content", test_signed_data_flipped_content);
	g_test_add_func("/scep/cms/signed-data/truncated", test_signed_data_truncated);
	g_test_add_func("/scep/cms/signed-data/garbage", test_signed_data_garbage);
	for (gsize i = 0; i < G_N_ELEMENTS(pkcsreq_cases); i++) {
		g_autofree gchar *path =
		    g_strdup_printf("/scep/cms/vectors/pkcsreq/%s", pkcsreq_cases[i].vector);
		g_test_add_data_func(path, &pkcsreq_cases[i], test_vector_pkcsreq);
	}
	g_test_add_func("/scep/cms/vectors/certrep/nii-md5-des", test_vector_certrep_nii);
	g_test_add_func("/scep/cms/vectors/certrep/micromdm-2016", test_vector_certrep_micromdm);
	g_test_add_func("/scep/cms/vectors/certrep/ndes-oaep", test_vector_certrep_ndes_oaep);
	g_test_add_func("/scep/cms/vectors/certrep/bt-ber-unknown-signer",
			test_vector_certrep_bt_ber);
	g_test_add_data_func("/scep/cms/vectors/certrep/libscep-pending",
			     "libscep-extserver-certrep-pending.pem",
			     test_vector_certrep_libscep);
	g_test_add_data_func("/scep/cms/vectors/certrep/libscep-failure",
			     "libscep-extserver-certrep-failure.pem",
			     test_vector_certrep_libscep);
	g_test_add_data_func("/scep/cms/vectors/certrep/libscep-success",
			     "libscep-extserver-certrep-success.pem",
			     test_vector_certrep_libscep);
	rc = g_test_run();
	scep_cms_test_pki_cleanup();
	return rc;
}
