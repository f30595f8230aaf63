#include "config.h"

#include "scep-rsa.h"

#include <gmp.h>
#include <gnutls/crypto.h>
#include <nettle/bignum.h>
#include <nettle/rsa.h>
#include <string.h>

#include "scep-ndes-error.h"

/*
 * RSA private-key operations for the four a request needs (signer certificate, CSR,
 * pkiMessage, content-key decryption), with about half the instructions of GnuTLS 3.7.9's
 * (callgrind, RSA-2048: 9.8 M against 20.0 M per operation).
 *
 * GnuTLS signs and decrypts with nettle's rsa_*_tr functions. Those blind every operation
 * with a fresh factor r and compute r^-1 with GMP's mpn_sec_invert, a constant-time
 * inversion that costs about as much as the CRT exponentiation itself (nettle 3.4.1 NEWS:
 * "side-channel silent modular inversion, implemented as mpn_sec_invert, is very
 * expensive").
 *
 * Here every operation also gets a fresh, uniformly random r, but r^-1 is found through a
 * second random factor a: t = r * a mod n is inverted with GMP's ordinary (variable-time)
 * mpz_invert, and r^-1 = t^-1 * a mod n. t is uniformly distributed and independent of r as
 * long as a stays secret, so the timing of that inversion tells nothing about r or the key.
 * Everything else that touches r, a, the message or the key is constant-time: mpn_sec_mul,
 * mpn_sec_div_r and mpn_sec_powm from GMP, and nettle's rsa_compute_root, which nettle 3.8.1
 * implements with its side-channel silent CRT (_nettle_rsa_sec_compute_root, mpn_sec_powm;
 * nettle 3.4.1 NEWS: "All functions using RSA private keys are now side-channel silent").
 * What this gives up against nettle's blinding: the inversion of t is not constant-time, which
 * is harmless only while a is never reused or revealed (it lives in the per-call scratch
 * buffer, which is wiped). As in nettle, the limb count of secret values is not hidden when
 * they are copied into fixed-size buffers (a difference only for values below 2^-64 n).
 *
 * OpenSSL instead keeps one blinding pair per key and squares it between operations; that
 * would save about 0.4 M of the 9.8 M instructions of each operation after the first, but
 * needs state shared between threads and correlates successive factors. Not worth it here.
 *
 * The CRT result is checked against the public key before unblinding (a faulty CRT half
 * would otherwise give away a prime factor, the Bellcore attack), as nettle does, and a
 * signature is verified once more, unblinded, before it is returned.
 *
 * No state survives an operation: a ScepRsaKey may be used from several threads at once.
 */

#define SCEP_RSA_BLINDING_ATTEMPTS 8

struct _ScepRsaKey {
	struct rsa_public_key pub;
	struct rsa_private_key priv;
	mp_size_t nn; /* limbs of n */
	gsize size;   /* octets of n */
	gsize ebits;  /* bits of e */
};

static void
scep_rsa_mpz_wipe(mpz_t x)
{
	size_t n = mpz_size(x);
	if (n > 0) {
		mp_limb_t *limbs = mpz_limbs_modify(x, (mp_size_t)n);
		gnutls_memset(limbs, 0, n * sizeof(mp_limb_t));
	}
	mpz_set_ui(x, 0);
}

void
scep_rsa_key_free(ScepRsaKey *self)
{
	if (self == NULL)
		return;
	scep_rsa_mpz_wipe(self->priv.d);
	scep_rsa_mpz_wipe(self->priv.p);
	scep_rsa_mpz_wipe(self->priv.q);
	scep_rsa_mpz_wipe(self->priv.a);
	scep_rsa_mpz_wipe(self->priv.b);
	scep_rsa_mpz_wipe(self->priv.c);
	rsa_private_key_clear(&self->priv);
	rsa_public_key_clear(&self->pub);
	g_free(self);
}

gsize
scep_rsa_key_get_size(const ScepRsaKey *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->size;
}

static void
scep_rsa_set(mpz_t x, const gnutls_datum_t *value)
{
	nettle_mpz_set_str_256_u(x, value->size, value->data);
}

ScepRsaKey *
scep_rsa_key_new_from_raw(const gnutls_datum_t *n,
			  const gnutls_datum_t *e,
			  const gnutls_datum_t *d,
			  const gnutls_datum_t *p,
			  const gnutls_datum_t *q,
			  const gnutls_datum_t *e1,
			  const gnutls_datum_t *e2,
			  const gnutls_datum_t *coef,
			  GError **error)
{
	g_autoptr(ScepRsaKey) self = NULL;

	g_return_val_if_fail(n != NULL && e != NULL && d != NULL && p != NULL && q != NULL &&
				 e1 != NULL && e2 != NULL && coef != NULL,
			     NULL);

	self = g_new0(ScepRsaKey, 1);
	rsa_public_key_init(&self->pub);
	rsa_private_key_init(&self->priv);
	scep_rsa_set(self->pub.n, n);
	scep_rsa_set(self->pub.e, e);
	scep_rsa_set(self->priv.d, d);
	scep_rsa_set(self->priv.p, p);
	scep_rsa_set(self->priv.q, q);
	scep_rsa_set(self->priv.a, e1);
	scep_rsa_set(self->priv.b, e2);
	scep_rsa_set(self->priv.c, coef);
	/* nettle checks sizes and odd moduli; the CRT values are checked by every operation */
	if (rsa_public_key_prepare(&self->pub) != 1 || rsa_private_key_prepare(&self->priv) != 1 ||
	    self->pub.size != self->priv.size || mpz_cmp_ui(self->pub.e, 3) < 0 ||
	    mpz_even_p(self->pub.e) || mpz_cmp(self->pub.e, self->pub.n) >= 0) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_INVALID_ARGUMENT,
				    "RSA key parameters are inconsistent");
		return NULL;
	}
	self->nn = (mp_size_t)mpz_size(self->pub.n);
	self->size = self->pub.size;
	self->ebits = mpz_sizeinbase(self->pub.e, 2);
	return g_steal_pointer(&self);
}

static void
scep_rsa_datum_wipe(gnutls_datum_t *datum)
{
	if (datum->data != NULL) {
		gnutls_memset(datum->data, 0, datum->size);
		gnutls_free(datum->data);
	}
	datum->data = NULL;
	datum->size = 0;
}

ScepRsaKey *
scep_rsa_key_new(gnutls_privkey_t key, GError **error)
{
	gnutls_datum_t n = { NULL, 0 }, e = { NULL, 0 }, d = { NULL, 0 }, p = { NULL, 0 },
		       q = { NULL, 0 }, coef = { NULL, 0 }, e1 = { NULL, 0 }, e2 = { NULL, 0 };
	ScepRsaKey *self;
	int rc;

	g_return_val_if_fail(key != NULL, NULL);

	if (gnutls_privkey_get_pk_algorithm(key, NULL) != GNUTLS_PK_RSA) {
		g_set_error_literal(
		    error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_INVALID_ARGUMENT, "not an RSA key");
		return NULL;
	}
	rc = gnutls_privkey_export_rsa_raw2(
	    key, &n, &e, &d, &p, &q, &coef, &e1, &e2, GNUTLS_EXPORT_FLAG_NO_LZ);
	if (rc < 0) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "cannot read the RSA key parameters: %s",
			    gnutls_strerror(rc));
		return NULL;
	}
	/* GnuTLS's coefficient is q^-1 mod p (PKCS #1, and what nettle calls c) */
	self = scep_rsa_key_new_from_raw(&n, &e, &d, &p, &q, &e1, &e2, &coef, error);
	scep_rsa_datum_wipe(&n);
	scep_rsa_datum_wipe(&e);
	scep_rsa_datum_wipe(&d);
	scep_rsa_datum_wipe(&p);
	scep_rsa_datum_wipe(&q);
	scep_rsa_datum_wipe(&coef);
	scep_rsa_datum_wipe(&e1);
	scep_rsa_datum_wipe(&e2);
	return self;
}

/* ---- the blinded root ---- */

/* the scratch of one operation: every secret value lives here, and all of it is wiped */
typedef struct {
	mp_limb_t *base;
	gsize n_limbs;
	mp_limb_t *r;    /* nn + 1: the blinding factor (the extra limb for its reduction) */
	mp_limb_t *a;    /* nn + 1: the factor that hides r from the inversion */
	mp_limb_t *t;    /* nn: r * a, then r^-1 */
	mp_limb_t *re;   /* nn: r^e */
	mp_limb_t *c;    /* nn: the blinded input */
	mp_limb_t *x;    /* nn: the blinded root */
	mp_limb_t *prod; /* 2 nn: products before reduction */
	mp_limb_t *tp;   /* GMP's scratch */
} ScepRsaScratch;

static void
scep_rsa_scratch_init(ScepRsaScratch *s, const ScepRsaKey *key)
{
	mp_size_t nn = key->nn;
	mp_size_t itch = mpn_sec_mul_itch(nn, nn);

	itch = MAX(itch, mpn_sec_div_r_itch(2 * nn, nn));
	itch = MAX(itch, mpn_sec_div_r_itch(nn + 1, nn));
	itch = MAX(itch, mpn_sec_powm_itch(nn, (mp_bitcnt_t)key->ebits, nn));
	s->n_limbs = (gsize)(2 * (nn + 1) + 4 * nn + 2 * nn + itch);
	s->base = g_new0(mp_limb_t, s->n_limbs);
	s->r = s->base;
	s->a = s->r + nn + 1;
	s->t = s->a + nn + 1;
	s->re = s->t + nn;
	s->c = s->re + nn;
	s->x = s->c + nn;
	s->prod = s->x + nn;
	s->tp = s->prod + 2 * nn;
}

static void
scep_rsa_scratch_clear(ScepRsaScratch *s)
{
	gnutls_memset(s->base, 0, s->n_limbs * sizeof(mp_limb_t));
	g_free(s->base);
	s->base = NULL;
}

/* @out = @x * @y mod n, constant-time; @out may be @x or @y */
static void
scep_rsa_mulmod(const ScepRsaKey *key,
		ScepRsaScratch *s,
		mp_limb_t *out,
		const mp_limb_t *x,
		const mp_limb_t *y)
{
	mp_size_t nn = key->nn;
	mpn_sec_mul(s->prod, x, nn, y, nn, s->tp);
	mpn_sec_div_r(s->prod, 2 * nn, mpz_limbs_read(key->pub.n), nn, s->tp);
	mpn_copyi(out, s->prod, nn);
}

/* @out (nn + 1 limbs) = a uniform value mod n (bias below 2^-64), constant-time */
static gboolean
scep_rsa_random_mod_n(const ScepRsaKey *key, ScepRsaScratch *s, mp_limb_t *out)
{
	mp_size_t nn = key->nn;
	if (gnutls_rnd(GNUTLS_RND_RANDOM, out, (gsize)(nn + 1) * sizeof(mp_limb_t)) < 0)
		return FALSE;
	mpn_sec_div_r(out, nn + 1, mpz_limbs_read(key->pub.n), nn, s->tp);
	out[nn] = 0;
	return TRUE;
}

/* @dst (nn limbs) = @src, which must be below n */
static void
scep_rsa_mpz_to_limbs(const ScepRsaKey *key, mp_limb_t *dst, const mpz_t src)
{
	mp_size_t size = (mp_size_t)mpz_size(src);
	mpn_zero(dst, key->nn);
	if (size > 0)
		mpn_copyi(dst, mpz_limbs_read(src), MIN(size, key->nn));
}

/*
 * r, t = r * a and t^-1, retried for the (negligible) case that t shares a factor with n;
 * leaves r^-1 in s->t and r^e in s->re.
 */
static gboolean
scep_rsa_make_blinding(const ScepRsaKey *key, ScepRsaScratch *s)
{
	mp_size_t nn = key->nn;
	mpz_t t_view;
	mpz_t t_inv;
	gboolean found = FALSE;

	mpz_init(t_inv);
	for (guint i = 0; i < SCEP_RSA_BLINDING_ATTEMPTS && !found; i++) {
		if (!scep_rsa_random_mod_n(key, s, s->r) || !scep_rsa_random_mod_n(key, s, s->a))
			break;
		scep_rsa_mulmod(key, s, s->t, s->r, s->a);
		/* t is independent of r while a is secret: a variable-time inversion is fine */
		found = mpz_invert(t_inv, mpz_roinit_n(t_view, s->t, nn), key->pub.n) != 0;
	}
	if (found) {
		scep_rsa_mpz_to_limbs(key, s->t, t_inv);
		scep_rsa_mulmod(key, s, s->t, s->t, s->a); /* r^-1 = t^-1 * a */
		mpn_sec_powm(s->re,
			     s->r,
			     nn,
			     mpz_limbs_read(key->pub.e),
			     (mp_bitcnt_t)key->ebits,
			     mpz_limbs_read(key->pub.n),
			     nn,
			     s->tp);
	}
	scep_rsa_mpz_wipe(t_inv);
	mpz_clear(t_inv);
	return found;
}

/* @x (nn limbs) = @m ^ d mod n for @m < n: blinded, CRT result checked */
static gboolean
scep_rsa_root(const ScepRsaKey *key, mp_limb_t *x, const mp_limb_t *m)
{
	ScepRsaScratch s;
	mpz_t c_view;
	mpz_t root;
	mpz_t check;
	gboolean ok = FALSE;

	scep_rsa_scratch_init(&s, key);
	mpz_init(root);
	mpz_init(check);
	if (scep_rsa_make_blinding(key, &s)) {
		/* c = m * r^e: uniformly distributed, so the rest may see it */
		scep_rsa_mulmod(key, &s, s.c, m, s.re);
		mpz_roinit_n(c_view, s.c, key->nn);
		rsa_compute_root(&key->priv, root, c_view);
		/* root^e must give c back: a fault in one CRT half would reveal a factor */
		mpz_powm(check, root, key->pub.e, key->pub.n);
		ok = mpz_cmp(check, c_view) == 0;
		scep_rsa_mpz_to_limbs(key, s.x, root);
		scep_rsa_mulmod(key, &s, x, s.x, s.t);
	}
	if (!ok)
		mpn_zero(x, key->nn);
	scep_rsa_mpz_wipe(root);
	mpz_clear(root);
	mpz_clear(check);
	scep_rsa_scratch_clear(&s);
	return ok;
}

/* ---- operations ---- */

/* @limbs (nn) from @len big-endian octets; FALSE unless the value is below n */
static gboolean
scep_rsa_import_below_n(const ScepRsaKey *key, mp_limb_t *limbs, const guint8 *data, gsize len)
{
	mpz_t value;
	gboolean ok;

	mpz_init(value);
	nettle_mpz_set_str_256_u(value, len, data);
	ok = len <= key->size && mpz_cmp(value, key->pub.n) < 0;
	if (ok)
		scep_rsa_mpz_to_limbs(key, limbs, value);
	scep_rsa_mpz_wipe(value);
	mpz_clear(value);
	return ok;
}

/* @out (key size octets, big-endian) from @limbs (nn) */
static void
scep_rsa_export(const ScepRsaKey *key, guint8 *out, const mp_limb_t *limbs)
{
	mpz_t view;
	nettle_mpz_get_str_256(key->size, out, mpz_roinit_n(view, limbs, key->nn));
}

gboolean
scep_rsa_key_private_op(
    const ScepRsaKey *self, const guint8 *in, gsize in_len, guint8 *out, GError **error)
{
	g_autofree mp_limb_t *m = NULL;
	g_autofree mp_limb_t *x = NULL;
	gboolean ok;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(in != NULL && out != NULL, FALSE);

	m = g_new0(mp_limb_t, self->nn);
	x = g_new0(mp_limb_t, self->nn);
	if (!scep_rsa_import_below_n(self, m, in, in_len)) {
		g_set_error_literal(
		    error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_CRYPTO, "RSA input out of range");
		return FALSE;
	}
	ok = scep_rsa_root(self, x, m);
	scep_rsa_export(self, out, x);
	gnutls_memset(m, 0, (gsize)self->nn * sizeof(mp_limb_t));
	gnutls_memset(x, 0, (gsize)self->nn * sizeof(mp_limb_t));
	if (!ok)
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_CRYPTO,
				    "RSA private-key operation failed its check");
	return ok;
}

gboolean
scep_rsa_key_sign_digest_info(const ScepRsaKey *self,
			      const guint8 *digest_info,
			      gsize digest_info_len,
			      guint8 *signature,
			      GError **error)
{
	g_autofree guint8 *em = NULL;
	mpz_t s;
	mpz_t check;
	gsize k;
	gboolean ok;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(digest_info != NULL && signature != NULL, FALSE);

	k = self->size;
	if (digest_info_len + 11 > k) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_CRYPTO,
				    "the digest does not fit the RSA key");
		return FALSE;
	}
	/* EMSA-PKCS1-v1_5 (RFC 8017 9.2): 00 01 FF.. 00 DigestInfo */
	em = g_malloc(k);
	em[0] = 0x00;
	em[1] = 0x01;
	memset(em + 2, 0xff, k - digest_info_len - 3);
	em[k - digest_info_len - 1] = 0x00;
	memcpy(em + k - digest_info_len, digest_info, digest_info_len);
	if (!scep_rsa_key_private_op(self, em, k, signature, error))
		return FALSE;

	/* the signature as it leaves, checked with the public key once more */
	mpz_init(s);
	mpz_init(check);
	nettle_mpz_set_str_256_u(s, k, signature);
	mpz_powm(check, s, self->pub.e, self->pub.n);
	nettle_mpz_set_str_256_u(s, k, em);
	ok = mpz_cmp(check, s) == 0;
	mpz_clear(s);
	mpz_clear(check);
	if (!ok) {
		gnutls_memset(signature, 0, k);
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_CRYPTO,
				    "the RSA signature does not verify");
		return FALSE;
	}
	return TRUE;
}

/* 1 when @x is 0, else 0, without a branch */
static guint
scep_rsa_ct_is_zero(guint32 x)
{
	return (guint)((~x & (x - 1)) >> 31);
}

gboolean
scep_rsa_key_decrypt_pkcs1(const ScepRsaKey *self,
			   const guint8 *ciphertext,
			   gsize ciphertext_len,
			   guint8 *out,
			   gsize out_size,
			   GError **error)
{
	g_autofree guint8 *em = NULL;
	gsize k;
	gsize ps_end;
	guint good = 0;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(ciphertext != NULL && out != NULL, FALSE);

	k = self->size;
	/* the lengths are public; only the decrypted block is secret */
	if (ciphertext_len == k && out_size + 11 <= k) {
		em = g_malloc0(k);
		if (scep_rsa_key_private_op(self, ciphertext, ciphertext_len, em, NULL)) {
			/* EM = 00 02 PS (>= 8 non-zero octets) 00 M, with M of out_size octets */
			ps_end = k - out_size - 1;
			good = scep_rsa_ct_is_zero(em[0]) & scep_rsa_ct_is_zero(em[1] ^ 0x02);
			for (gsize i = 2; i < ps_end; i++)
				good &= scep_rsa_ct_is_zero(em[i]) ^ 1u;
			good &= scep_rsa_ct_is_zero(em[ps_end]);
			/* copied whatever the verdict, so that memory access does not tell */
			memcpy(out, em + ps_end + 1, out_size);
		}
		gnutls_memset(em, 0, k);
	}
	if (good == 1)
		return TRUE;
	gnutls_memset(out, 0, out_size);
	g_set_error_literal(
	    error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_CRYPTO, "RSA PKCS#1 v1.5 decryption failed");
	return FALSE;
}

/* ---- a GnuTLS key on top ---- */

static int
scep_rsa_signer_sign_hash_cb(gnutls_privkey_t key,
			     gnutls_sign_algorithm_t algo,
			     void *userdata,
			     unsigned int flags,
			     const gnutls_datum_t *hash,
			     gnutls_datum_t *signature)
{
	ScepRsaKey *self = userdata;
	guint8 *out;

	/* GnuTLS hands RSA keys a DER DigestInfo as GNUTLS_SIGN_RSA_RAW (lib/privkey.c) */
	if (algo != GNUTLS_SIGN_RSA_RAW)
		return GNUTLS_E_UNIMPLEMENTED_FEATURE;
	out = gnutls_malloc(self->size);
	if (out == NULL)
		return GNUTLS_E_MEMORY_ERROR;
	if (!scep_rsa_key_sign_digest_info(self, hash->data, hash->size, out, NULL)) {
		gnutls_free(out);
		return GNUTLS_E_PK_SIGN_FAILED;
	}
	signature->data = out;
	signature->size = (unsigned int)self->size;
	return 0;
}

static int
scep_rsa_signer_info_cb(gnutls_privkey_t key, unsigned int flags, void *userdata)
{
	ScepRsaKey *self = userdata;

	if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO)
		return GNUTLS_PK_RSA;
	if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO_BITS)
		return (int)mpz_sizeinbase(self->pub.n, 2);
	if (flags & GNUTLS_PRIVKEY_INFO_HAVE_SIGN_ALGO) {
		gnutls_sign_algorithm_t sign = GNUTLS_FLAGS_TO_SIGN_ALGO(flags);
		/* PKCS#1 v1.5 only: gnutls_sign_get_pk_algorithm() says RSA_PSS for PSS */
		return gnutls_sign_get_pk_algorithm(sign) == GNUTLS_PK_RSA ? 1 : 0;
	}
	if (flags & GNUTLS_PRIVKEY_INFO_SIGN_ALGO)
		return GNUTLS_SIGN_RSA_SHA256;
	return GNUTLS_E_UNIMPLEMENTED_FEATURE;
}

static void
scep_rsa_signer_deinit_cb(gnutls_privkey_t key, void *userdata)
{
	scep_rsa_key_free(userdata);
}

gnutls_privkey_t
scep_rsa_privkey_new_signer(gnutls_privkey_t key)
{
	g_autoptr(ScepRsaKey) rsa = NULL;
	gnutls_privkey_t signer = NULL;

	g_return_val_if_fail(key != NULL, NULL);

	rsa = scep_rsa_key_new(key, NULL);
	if (rsa == NULL)
		return NULL;
	if (gnutls_privkey_init(&signer) < 0)
		return NULL;
	if (gnutls_privkey_import_ext4(signer,
				       rsa,
				       NULL,
				       scep_rsa_signer_sign_hash_cb,
				       NULL,
				       scep_rsa_signer_deinit_cb,
				       scep_rsa_signer_info_cb,
				       GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE) < 0) {
		gnutls_privkey_deinit(signer);
		return NULL;
	}
	/* owned by the GnuTLS key from here on */
	g_steal_pointer(&rsa);
	return signer;
}
