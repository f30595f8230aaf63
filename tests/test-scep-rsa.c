#include "config.h"

#include <glib/gstdio.h>
#include <gmp.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <nettle/bignum.h>
#include <nettle/rsa.h>
#include <string.h>

#include "scep-csr.h"
#include "scep-gnutls-common.h"
#include "scep-ndes-error.h"
#include "scep-rsa.h"
#include "scep-test-util.h"

/*
 * scep-rsa.c: RSA private-key operations over nettle with a cheap blinding. Every result is
 * compared with an independent computation: GnuTLS's own (deterministic) PKCS#1 v1.5
 * signatures and decryptions, nettle's unblinded rsa_compute_root, and the openssl CLI.
 */

/* one 2048-bit key for the tests that do not need another size */
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

static gnutls_privkey_t
generate_key(gnutls_pk_algorithm_t algo, guint bits)
{
	gnutls_privkey_t key = NULL;
	g_assert_cmpint(gnutls_privkey_init(&key), ==, 0);
	g_assert_cmpint(gnutls_privkey_generate2(key, algo, bits, 0, NULL, 0), ==, 0);
	return key;
}

static gnutls_pubkey_t
public_key(gnutls_privkey_t key)
{
	gnutls_pubkey_t pub = NULL;
	g_assert_cmpint(gnutls_pubkey_init(&pub), ==, 0);
	g_assert_cmpint(gnutls_pubkey_import_privkey(pub, key, 0, 0), ==, 0);
	return pub;
}

/* ---- openssl ---- */

static gchar *
write_tmp(const gchar *name, const void *data, gsize len)
{
	/* the per-test directory of G_TEST_OPTION_ISOLATE_DIRS, removed by GLib afterwards */
	gchar *path = g_build_filename(g_get_user_cache_dir(), name, NULL);
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(g_mkdir_with_parents(g_get_user_cache_dir(), 0700), ==, 0);
	g_file_set_contents(path, data, (gssize)len, &error);
	g_assert_no_error(error);
	return path;
}

/* ---- helpers ---- */

static ScepRsaKey *
rsa_key(gnutls_privkey_t key)
{
	g_autoptr(GError) error = NULL;
	ScepRsaKey *rsa = scep_rsa_key_new(key, &error);
	g_assert_no_error(error);
	g_assert_nonnull(rsa);
	return rsa;
}

/* the raw parameters of @key, as scep_rsa_key_new_from_raw() takes them */
typedef struct {
	gnutls_datum_t n, e, d, p, q, coef, e1, e2;
} RawKey;

static void
raw_key_export(gnutls_privkey_t key, RawKey *raw)
{
	g_assert_cmpint(gnutls_privkey_export_rsa_raw2(key,
						       &raw->n,
						       &raw->e,
						       &raw->d,
						       &raw->p,
						       &raw->q,
						       &raw->coef,
						       &raw->e1,
						       &raw->e2,
						       GNUTLS_EXPORT_FLAG_NO_LZ),
			==,
			0);
}

static void
raw_key_clear(RawKey *raw)
{
	gnutls_datum_t *all[] = { &raw->n, &raw->e,    &raw->d,  &raw->p,
				  &raw->q, &raw->coef, &raw->e1, &raw->e2 };
	for (guint i = 0; i < G_N_ELEMENTS(all); i++)
		g_clear_pointer(&all[i]->data, gnutls_free);
}

static ScepRsaKey *
raw_key_load(const RawKey *raw, GError **error)
{
	return scep_rsa_key_new_from_raw(
	    &raw->n, &raw->e, &raw->d, &raw->p, &raw->q, &raw->e1, &raw->e2, &raw->coef, error);
}

/* a DER DigestInfo for SHA-256 of @data */
static GBytes *
digest_info_sha256(const void *data, gsize len)
{
	static const guint8 prefix[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
					 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
	guint8 buf[sizeof(prefix) + 32];

	memcpy(buf, prefix, sizeof(prefix));
	g_assert_cmpint(
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, buf + sizeof(prefix)), ==, 0);
	return g_bytes_new(buf, sizeof(buf));
}

/* ---- signatures ---- */

/*
 * PKCS#1 v1.5 signatures are deterministic: through the fast signer they must be the very
 * bytes GnuTLS makes with the key itself, for every message, digest and operation (each with a
 * fresh blinding factor), and they must verify.
 */
static void
check_signatures_match_gnutls(gnutls_privkey_t key, guint rounds)
{
	g_auto(gnutls_privkey_t) signer = scep_rsa_privkey_new_signer(key);
	g_auto(gnutls_pubkey_t) pub = public_key(key);
	const gnutls_digest_algorithm_t digests[] = {
		GNUTLS_DIG_SHA1, GNUTLS_DIG_SHA256, GNUTLS_DIG_SHA384, GNUTLS_DIG_SHA512
	};

	g_assert_nonnull(signer);
	for (guint i = 0; i < rounds; i++) {
		guint8 message[64];
		gnutls_datum_t data = { message, 1 + i % sizeof(message) };
		gnutls_digest_algorithm_t dig = digests[i % G_N_ELEMENTS(digests)];
		g_auto(ScepGnutlsDatum) ours = { NULL, 0 };
		g_auto(ScepGnutlsDatum) theirs = { NULL, 0 };

		g_assert_cmpint(gnutls_rnd(GNUTLS_RND_NONCE, message, sizeof(message)), ==, 0);
		g_assert_cmpint(gnutls_privkey_sign_data(signer, dig, 0, &data, &ours), ==, 0);
		g_assert_cmpint(gnutls_privkey_sign_data(key, dig, 0, &data, &theirs), ==, 0);
		g_assert_cmpmem(ours.data, ours.size, theirs.data, theirs.size);
		g_assert_cmpint(gnutls_pubkey_verify_data2(
				    pub, gnutls_pk_to_sign(GNUTLS_PK_RSA, dig), 0, &data, &ours),
				>=,
				0);
	}
}

static void
test_sign_matches_gnutls(void)
{
	check_signatures_match_gnutls(get_key(), 200);
}

/* a modulus that does not fill its top limb, and a larger one */
static void
test_sign_other_sizes(void)
{
	const guint sizes[] = { 2100, 3072 };

	for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
		g_auto(gnutls_privkey_t) key = generate_key(GNUTLS_PK_RSA, sizes[i]);
		g_autoptr(ScepRsaKey) rsa = rsa_key(key);
		g_assert_cmpuint(scep_rsa_key_get_size(rsa), ==, (sizes[i] + 7) / 8);
		check_signatures_match_gnutls(key, 24);
	}
}

/* the raw operation against nettle's unblinded root, over many random inputs */
static void
test_private_op_matches_nettle(void)
{
	g_autoptr(ScepRsaKey) rsa = rsa_key(get_key());
	RawKey raw = { 0 };
	struct rsa_private_key priv;
	gsize k = scep_rsa_key_get_size(rsa);
	g_autofree guint8 *in = g_malloc(k);
	g_autofree guint8 *out = g_malloc(k);
	g_autofree guint8 *expected = g_malloc(k);
	mpz_t x, m;

	raw_key_export(get_key(), &raw);
	rsa_private_key_init(&priv);
	nettle_mpz_set_str_256_u(priv.d, raw.d.size, raw.d.data);
	nettle_mpz_set_str_256_u(priv.p, raw.p.size, raw.p.data);
	nettle_mpz_set_str_256_u(priv.q, raw.q.size, raw.q.data);
	nettle_mpz_set_str_256_u(priv.a, raw.e1.size, raw.e1.data);
	nettle_mpz_set_str_256_u(priv.b, raw.e2.size, raw.e2.data);
	nettle_mpz_set_str_256_u(priv.c, raw.coef.size, raw.coef.data);
	g_assert_cmpint(rsa_private_key_prepare(&priv), ==, 1);
	mpz_init(x);
	mpz_init(m);

	for (guint i = 0; i < 300; i++) {
		g_autoptr(GError) error = NULL;
		g_assert_cmpint(gnutls_rnd(GNUTLS_RND_NONCE, in, k), ==, 0);
		in[0] &= 0x7f; /* below n: n's top octet has its top bit set */
		if (i < 2) {
			/* 0 ^ d = 0 and 1 ^ d = 1 */
			memset(in, 0, k);
			in[k - 1] = (guint8)i;
		}
		g_assert_true(scep_rsa_key_private_op(rsa, in, k, out, &error));
		g_assert_no_error(error);
		nettle_mpz_set_str_256_u(m, k, in);
		rsa_compute_root(&priv, x, m);
		nettle_mpz_get_str_256(k, expected, x);
		g_assert_cmpmem(out, k, expected, k);
	}
	mpz_clear(x);
	mpz_clear(m);
	rsa_private_key_clear(&priv);
	raw_key_clear(&raw);
}

static void
test_private_op_out_of_range(void)
{
	g_autoptr(ScepRsaKey) rsa = rsa_key(get_key());
	gsize k = scep_rsa_key_get_size(rsa);
	g_autofree guint8 *in = g_malloc(k + 1);
	g_autofree guint8 *out = g_malloc(k);
	g_autoptr(GError) error = NULL;

	memset(in, 0xff, k + 1); /* above n */
	g_assert_false(scep_rsa_key_private_op(rsa, in, k, out, &error));
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_CRYPTO);
	g_clear_error(&error);
	memset(in, 0, k + 1); /* too long, although the value is small */
	g_assert_false(scep_rsa_key_private_op(rsa, in, k + 1, out, &error));
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_CRYPTO);
}

/* a signature made through the fast signer, checked by `openssl dgst -verify` */
static void
test_sign_openssl_verifies(void)
{
	g_auto(gnutls_privkey_t) signer = scep_rsa_privkey_new_signer(get_key());
	g_auto(gnutls_pubkey_t) pub = public_key(get_key());
	g_auto(ScepGnutlsDatum) pem = { NULL, 0 };
	g_auto(ScepGnutlsDatum) sig = { NULL, 0 };
	const gchar *text = "a message for openssl";
	gnutls_datum_t data = { (guint8 *)text, (unsigned int)strlen(text) };
	g_autofree gchar *pub_path = NULL;
	g_autofree gchar *sig_path = NULL;
	g_autofree gchar *data_path = NULL;
	g_autofree gchar *out = NULL;
	gint status = 1;

	g_assert_nonnull(signer);
	g_assert_cmpint(gnutls_privkey_sign_data(signer, GNUTLS_DIG_SHA256, 0, &data, &sig), ==, 0);
	g_assert_cmpint(gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_PEM, &pem), ==, 0);
	pub_path = write_tmp("pub.pem", pem.data, pem.size);
	sig_path = write_tmp("sig.bin", sig.data, sig.size);
	data_path = write_tmp("data.txt", data.data, data.size);
	{
		const gchar *args[] = { "dgst",       "-sha256", "-verify", pub_path,
					"-signature", sig_path,  data_path, NULL };
		if (!scep_test_run_openssl(args, &out, &status))
			return;
	}
	g_assert_cmpint(status, ==, 0);
	g_assert_nonnull(strstr(out, "Verified OK"));

	/* and openssl does say no to a flipped bit */
	g_clear_pointer(&out, g_free);
	sig.data[sig.size / 2] ^= 0x01;
	g_clear_pointer(&sig_path, g_free);
	sig_path = write_tmp("sig.bin", sig.data, sig.size);
	{
		const gchar *args[] = { "dgst",       "-sha256", "-verify", pub_path,
					"-signature", sig_path,  data_path, NULL };
		if (!scep_test_run_openssl(args, &out, &status))
			return;
	}
	g_assert_cmpint(status, !=, 0);
}

/* scep_csr_build() and scep_csr_make_self_signed_signer() sign through scep-rsa.c: their
 * output must verify with GnuTLS and with openssl (self-signature checked explicitly) */
static void
test_csr_and_signer_verify(void)
{
	g_autoptr(ScepCsrParams) params = scep_csr_params_new();
	g_autoptr(GBytes) csr = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(gnutls_x509_crq_t) crq = NULL;
	g_auto(gnutls_x509_crt_t) crt = NULL;
	g_auto(ScepGnutlsDatum) crt_pem = { NULL, 0 };
	g_auto(ScepGnutlsDatum) crt_der = { NULL, 0 };
	gnutls_datum_t csr_datum;
	g_autofree gchar *csr_path = NULL;
	g_autofree gchar *crt_path = NULL;
	g_autofree gchar *bad_path = NULL;
	g_autofree gchar *out = NULL;
	unsigned int verify_status = 1;
	gint status = 1;

	g_assert_true(scep_csr_params_set_subject(params, "CN=rsa-test,O=Example", &error));
	g_assert_no_error(error);
	scep_csr_params_set_challenge_password(params, "ABCDEF0123456789");
	csr = scep_csr_build(params, get_key(), GNUTLS_DIG_SHA256, &error);
	g_assert_no_error(error);
	g_assert_nonnull(csr);
	crt = scep_csr_make_self_signed_signer(get_key(), csr, &error);
	g_assert_no_error(error);
	g_assert_nonnull(crt);

	/* GnuTLS */
	csr_datum = scep_gnutls_datum_from_bytes(csr);
	g_assert_cmpint(gnutls_x509_crq_init(&crq), ==, 0);
	g_assert_cmpint(gnutls_x509_crq_import(crq, &csr_datum, GNUTLS_X509_FMT_DER), ==, 0);
	g_assert_cmpint(gnutls_x509_crq_verify(crq, 0), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_verify(crt, &crt, 1, 0, &verify_status), ==, 0);
	g_assert_cmpuint(verify_status, ==, 0);

	/* openssl */
	csr_path = write_tmp("csr.der", g_bytes_get_data(csr, NULL), g_bytes_get_size(csr));
	{
		const gchar *args[] = { "req", "-verify", "-noout", "-inform",
					"DER", "-in",     csr_path, NULL };
		if (!scep_test_run_openssl(args, &out, &status))
			return;
	}
	g_assert_cmpint(status, ==, 0);
	g_assert_nonnull(strstr(out, "verify OK"));
	g_clear_pointer(&out, g_free);

	g_assert_cmpint(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &crt_pem), ==, 0);
	crt_path = write_tmp("self.pem", crt_pem.data, crt_pem.size);
	{
		const gchar *args[] = { "verify",  "-partial_chain", "-check_ss_sig",
					"-CAfile", crt_path,         crt_path,
					NULL };
		if (!scep_test_run_openssl(args, &out, &status))
			return;
	}
	g_assert_cmpint(status, ==, 0);
	g_assert_nonnull(strstr(out, ": OK"));
	g_clear_pointer(&out, g_free);

	/* the same check fails on a certificate whose signature has a flipped bit */
	g_assert_cmpint(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &crt_der), ==, 0);
	crt_der.data[crt_der.size - 10] ^= 0x01;
	{
		g_autofree gchar *b64 = g_base64_encode(crt_der.data, crt_der.size);
		g_autofree gchar *bad_pem = g_strdup_printf(
		    "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n", b64);
		bad_path = write_tmp("bad.pem", bad_pem, strlen(bad_pem));
	}
	{
		const gchar *args[] = { "verify",  "-partial_chain", "-check_ss_sig",
					"-CAfile", bad_path,         bad_path,
					NULL };
		if (!scep_test_run_openssl(args, &out, &status))
			return;
	}
	g_assert_cmpint(status, !=, 0);
}

/* ---- faults ---- */

static void
bump(gnutls_datum_t *value)
{
	/* + 2 in the last octet keeps the value in range and wrong (an odd change for e1 or e2
	 * could still be right modulo the order of the element; + 2 never is in practice) */
	value->data[value->size - 1] += 2;
}

static void
assert_key_faults(ScepRsaKey *rsa, gnutls_privkey_t key)
{
	g_autoptr(GBytes) info = digest_info_sha256("fault", 5);
	gsize k = scep_rsa_key_get_size(rsa);
	g_autofree guint8 *sig = g_malloc(k);
	g_autofree guint8 *in = g_malloc0(k);
	g_autofree guint8 *out = g_malloc(k);
	g_autoptr(GError) error = NULL;
	g_auto(gnutls_pubkey_t) pub = public_key(key);
	g_auto(ScepGnutlsDatum) ct = { NULL, 0 };
	gnutls_datum_t cek = { (guint8 *)"0123456789abcdef", 16 };
	guint8 plain[16];

	memset(sig, 0x5a, k);
	g_assert_false(scep_rsa_key_sign_digest_info(
	    rsa, g_bytes_get_data(info, NULL), g_bytes_get_size(info), sig, &error));
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_CRYPTO);
	g_clear_error(&error);
	/* nothing of the faulty result leaves */
	for (gsize i = 0; i < k; i++)
		g_assert_cmpuint(sig[i], ==, 0);

	in[k - 1] = 7;
	g_assert_false(scep_rsa_key_private_op(rsa, in, k, out, &error));
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_CRYPTO);
	g_clear_error(&error);
	for (gsize i = 0; i < k; i++)
		g_assert_cmpuint(out[i], ==, 0);

	g_assert_cmpint(gnutls_pubkey_encrypt_data(pub, 0, &cek, &ct), ==, 0);
	g_assert_false(scep_rsa_key_decrypt_pkcs1(rsa, ct.data, ct.size, plain, 16, &error));
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_CRYPTO);
}

/* a wrong CRT parameter (a "fault" in one half of the computation) must never give a result:
 * such a signature would reveal a prime factor of n */
static void
test_corrupted_key_is_detected(void)
{
	const gchar *which[] = { "e1", "e2", "coef", "d-unused" };

	for (guint i = 0; i < G_N_ELEMENTS(which); i++) {
		RawKey raw = { 0 };
		g_autoptr(ScepRsaKey) good = NULL;
		g_autoptr(ScepRsaKey) bad = NULL;
		g_autoptr(GBytes) info = digest_info_sha256("control", 7);
		g_autoptr(GError) error = NULL;
		g_autofree guint8 *sig = NULL;

		g_test_message("corrupting %s", which[i]);
		raw_key_export(get_key(), &raw);
		/* control: the same raw parameters, unchanged, do sign */
		good = raw_key_load(&raw, &error);
		g_assert_no_error(error);
		sig = g_malloc(scep_rsa_key_get_size(good));
		g_assert_true(scep_rsa_key_sign_digest_info(
		    good, g_bytes_get_data(info, NULL), g_bytes_get_size(info), sig, &error));
		g_assert_no_error(error);

		if (g_str_equal(which[i], "e1"))
			bump(&raw.e1);
		else if (g_str_equal(which[i], "e2"))
			bump(&raw.e2);
		else if (g_str_equal(which[i], "coef"))
			bump(&raw.coef);
		else
			bump(&raw.d);
		bad = raw_key_load(&raw, &error);
		g_assert_no_error(error);
		if (g_str_equal(which[i], "d-unused")) {
			/* the CRT never uses d: a wrong d must not matter (and does not fault) */
			g_assert_true(scep_rsa_key_sign_digest_info(bad,
								    g_bytes_get_data(info, NULL),
								    g_bytes_get_size(info),
								    sig,
								    &error));
			g_assert_no_error(error);
		} else {
			assert_key_faults(bad, get_key());
		}
		raw_key_clear(&raw);
	}
}

static void
test_inconsistent_key_rejected(void)
{
	RawKey raw = { 0 };
	g_autoptr(ScepRsaKey) rsa = NULL;
	g_autoptr(GError) error = NULL;

	raw_key_export(get_key(), &raw);
	raw.p.data[raw.p.size - 1] &= 0xfe; /* an even prime */
	rsa = raw_key_load(&raw, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_INVALID_ARGUMENT);
	g_assert_null(rsa);
	raw_key_clear(&raw);
}

/* ---- decryption ---- */

static void
test_decrypt_matches_gnutls(void)
{
	g_autoptr(ScepRsaKey) rsa = rsa_key(get_key());
	g_auto(gnutls_pubkey_t) pub = public_key(get_key());
	const gsize sizes[] = { 8, 16, 24, 32 };

	for (guint i = 0; i < 100; i++) {
		gsize size = sizes[i % G_N_ELEMENTS(sizes)];
		guint8 cek[32];
		guint8 ours[32];
		guint8 theirs[32];
		gnutls_datum_t plain = { cek, (unsigned int)size };
		g_auto(ScepGnutlsDatum) ct = { NULL, 0 };
		g_autoptr(GError) error = NULL;

		g_assert_cmpint(gnutls_rnd(GNUTLS_RND_NONCE, cek, size), ==, 0);
		g_assert_cmpint(gnutls_pubkey_encrypt_data(pub, 0, &plain, &ct), ==, 0);
		g_assert_true(
		    scep_rsa_key_decrypt_pkcs1(rsa, ct.data, ct.size, ours, size, &error));
		g_assert_no_error(error);
		g_assert_cmpint(
		    gnutls_privkey_decrypt_data2(get_key(), 0, &ct, theirs, size), ==, 0);
		g_assert_cmpmem(ours, size, cek, size);
		g_assert_cmpmem(theirs, size, cek, size);
	}
}

static void
test_decrypt_rejects(void)
{
	g_autoptr(ScepRsaKey) rsa = rsa_key(get_key());
	g_auto(gnutls_pubkey_t) pub = public_key(get_key());
	gsize k = scep_rsa_key_get_size(rsa);
	guint8 cek[16] = "0123456789abcdef";
	guint8 out[32];
	gnutls_datum_t plain = { cek, sizeof(cek) };
	g_auto(ScepGnutlsDatum) ct = { NULL, 0 };
	g_autofree guint8 *big = g_malloc(k);
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(gnutls_pubkey_encrypt_data(pub, 0, &plain, &ct), ==, 0);
	/* the right size decrypts (control) */
	g_assert_true(scep_rsa_key_decrypt_pkcs1(rsa, ct.data, ct.size, out, 16, &error));
	g_assert_no_error(error);
	/* another expected size: the padding does not end where it must */
	g_assert_false(scep_rsa_key_decrypt_pkcs1(rsa, ct.data, ct.size, out, 24, &error));
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_CRYPTO);
	g_clear_error(&error);
	g_assert_false(scep_rsa_key_decrypt_pkcs1(rsa, ct.data, ct.size, out, 8, &error));
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_CRYPTO);
	g_clear_error(&error);
	/* a changed ciphertext */
	ct.data[ct.size / 2] ^= 0x40;
	g_assert_false(scep_rsa_key_decrypt_pkcs1(rsa, ct.data, ct.size, out, 16, &error));
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_CRYPTO);
	g_clear_error(&error);
	/* a truncated one */
	g_assert_false(scep_rsa_key_decrypt_pkcs1(rsa, ct.data, ct.size - 1, out, 16, &error));
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_CRYPTO);
	g_clear_error(&error);
	/* one that is not below n */
	memset(big, 0xff, k);
	g_assert_false(scep_rsa_key_decrypt_pkcs1(rsa, big, k, out, 16, &error));
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_CRYPTO);
}

/* ---- keys that are not for us ---- */

static void
test_not_rsa(void)
{
	g_auto(gnutls_privkey_t) ec = generate_key(GNUTLS_PK_ECDSA, 256);
	g_autoptr(ScepRsaKey) rsa = NULL;
	g_autoptr(GError) error = NULL;
	gnutls_privkey_t signer = scep_rsa_privkey_new_signer(ec);

	/* the callers then sign with the key itself */
	g_assert_null(signer);
	rsa = scep_rsa_key_new(ec, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_INVALID_ARGUMENT);
	g_assert_null(rsa);
}

/* the signer is RSA PKCS#1 v1.5 only: RSA-PSS is refused, not signed wrongly */
static void
test_signer_refuses_pss(void)
{
	g_auto(gnutls_privkey_t) signer = scep_rsa_privkey_new_signer(get_key());
	g_auto(ScepGnutlsDatum) sig = { NULL, 0 };
	gnutls_datum_t data = { (guint8 *)"pss", 3 };

	g_assert_nonnull(signer);
	g_assert_cmpint(
	    gnutls_privkey_sign_data2(signer, GNUTLS_SIGN_RSA_PSS_SHA256, 0, &data, &sig), <, 0);
}

/* ---- threads ---- */

typedef struct {
	ScepRsaKey *rsa;
	GBytes *info;
	GBytes *expected;
	guint failures;
} ThreadData;

static gpointer
sign_thread(gpointer user_data)
{
	ThreadData *data = user_data;
	gsize k = scep_rsa_key_get_size(data->rsa);
	g_autofree guint8 *sig = g_malloc(k);

	for (guint i = 0; i < 40; i++) {
		if (!scep_rsa_key_sign_digest_info(data->rsa,
						   g_bytes_get_data(data->info, NULL),
						   g_bytes_get_size(data->info),
						   sig,
						   NULL) ||
		    memcmp(sig, g_bytes_get_data(data->expected, NULL), k) != 0)
			data->failures++;
	}
	return NULL;
}

/* one ScepRsaKey, four threads signing at once: no shared state to race on */
static void
test_threads_share_a_key(void)
{
	g_autoptr(ScepRsaKey) rsa = rsa_key(get_key());
	g_autoptr(GBytes) info = digest_info_sha256("threads", 7);
	g_auto(ScepGnutlsDatum) expected = { NULL, 0 };
	gnutls_datum_t info_datum = scep_gnutls_datum_from_bytes(info);
	g_autoptr(GBytes) expected_bytes = NULL;
	ThreadData data[4];
	GThread *threads[4];

	/* GnuTLS's signature of the same DigestInfo */
	g_assert_cmpint(gnutls_privkey_sign_hash(get_key(),
						 GNUTLS_DIG_SHA256,
						 GNUTLS_PRIVKEY_SIGN_FLAG_TLS1_RSA,
						 &info_datum,
						 &expected),
			==,
			0);
	expected_bytes = g_bytes_new(expected.data, expected.size);
	for (guint i = 0; i < G_N_ELEMENTS(threads); i++) {
		data[i] = (ThreadData){ rsa, info, expected_bytes, 0 };
		threads[i] = g_thread_new("sign", sign_thread, &data[i]);
	}
	for (guint i = 0; i < G_N_ELEMENTS(threads); i++) {
		g_thread_join(threads[i]);
		g_assert_cmpuint(data[i].failures, ==, 0);
	}
}

/* ---- the CSR challenge password written without GnuTLS's normalization ---- */

static GBytes *
challenge_attribute(gnutls_x509_crq_t crq)
{
	guint8 buf[512];
	size_t len = sizeof(buf);
	g_assert_cmpint(
	    gnutls_x509_crq_get_attribute_by_oid(crq, "1.2.840.113549.1.9.7", 0, buf, &len), ==, 0);
	return g_bytes_new(buf, len);
}

/* scep-csr.c writes PrintableString challenges itself (scep-csr.c explains why): the value
 * must be the one gnutls_x509_crq_set_challenge_password() writes, for every character */
static void
test_csr_challenge_encoding(void)
{
	const gchar *passwords[] = {
		"testbed-challenge",
		"6D2A1F3B9C0E4D77",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		" ()+,-./:=?",
		" leading and trailing ",
		"x",
		"it's",      /* GnuTLS's own path: UTF8String */
		"p@ss*word", /* GnuTLS's own path: not PrintableString */
		"gr\xc3\xbc\xc3\x9f"
		"e",  /* GnuTLS's own path: UTF-8 */
		NULL, /* 200 characters: a long-form DER length */
	};
	g_autofree gchar *long_password = g_strnfill(200, 'Z');

	passwords[G_N_ELEMENTS(passwords) - 1] = long_password;
	for (guint i = 0; i < G_N_ELEMENTS(passwords); i++) {
		g_autoptr(ScepCsrParams) params = scep_csr_params_new();
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) csr = NULL;
		g_autoptr(GBytes) ours = NULL;
		g_autoptr(GBytes) theirs = NULL;
		g_auto(gnutls_x509_crq_t) built = NULL;
		g_auto(gnutls_x509_crq_t) reference = NULL;
		gnutls_datum_t datum;
		gchar back[256];
		size_t back_len = sizeof(back);

		g_test_message("challenge '%s'", passwords[i]);
		g_assert_true(scep_csr_params_set_subject(params, "CN=challenge", &error));
		scep_csr_params_set_challenge_password(params, passwords[i]);
		csr = scep_csr_build(params, get_key(), GNUTLS_DIG_SHA256, &error);
		g_assert_no_error(error);
		datum = scep_gnutls_datum_from_bytes(csr);
		g_assert_cmpint(gnutls_x509_crq_init(&built), ==, 0);
		g_assert_cmpint(gnutls_x509_crq_import(built, &datum, GNUTLS_X509_FMT_DER), ==, 0);
		ours = challenge_attribute(built);

		g_assert_cmpint(gnutls_x509_crq_init(&reference), ==, 0);
		g_assert_cmpint(
		    gnutls_x509_crq_set_challenge_password(reference, passwords[i]), ==, 0);
		theirs = challenge_attribute(reference);
		g_assert_cmpmem(g_bytes_get_data(ours, NULL),
				g_bytes_get_size(ours),
				g_bytes_get_data(theirs, NULL),
				g_bytes_get_size(theirs));
		g_assert_cmpint(
		    gnutls_x509_crq_get_challenge_password(built, back, &back_len), ==, 0);
		g_assert_cmpint(gnutls_x509_crq_verify(built, 0), ==, 0);
	}
}

int
main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

	g_test_add_func("/scep/rsa/sign/matches-gnutls", test_sign_matches_gnutls);
	g_test_add_func("/scep/rsa/sign/other-sizes", test_sign_other_sizes);
	g_test_add_func("/scep/rsa/sign/openssl-verifies", test_sign_openssl_verifies);
	g_test_add_func("/scep/rsa/sign/csr-and-signer-verify", test_csr_and_signer_verify);
	g_test_add_func("/scep/rsa/sign/refuses-pss", test_signer_refuses_pss);
	g_test_add_func("/scep/rsa/private-op/matches-nettle", test_private_op_matches_nettle);
	g_test_add_func("/scep/rsa/private-op/out-of-range", test_private_op_out_of_range);
	g_test_add_func("/scep/rsa/fault/corrupted-key", test_corrupted_key_is_detected);
	g_test_add_func("/scep/rsa/fault/inconsistent-key", test_inconsistent_key_rejected);
	g_test_add_func("/scep/rsa/decrypt/matches-gnutls", test_decrypt_matches_gnutls);
	g_test_add_func("/scep/rsa/decrypt/rejects", test_decrypt_rejects);
	g_test_add_func("/scep/rsa/not-rsa", test_not_rsa);
	g_test_add_func("/scep/rsa/threads", test_threads_share_a_key);
	g_test_add_func("/scep/rsa/csr-challenge-encoding", test_csr_challenge_encoding);
	rc = g_test_run();
	g_clear_pointer(&shared_key, gnutls_privkey_deinit);
	return rc;
}
