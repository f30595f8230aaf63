#pragma once

#include <glib.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

G_BEGIN_DECLS

/*
 * ScepRsaKey:
 *
 * The parameters of one RSA private key in nettle's form, for private-key operations that
 * cost less than GnuTLS's: every operation is blinded with a fresh random factor whose
 * inverse is found without a constant-time inversion (see scep-rsa.c), the exponentiation is
 * nettle's side-channel silent CRT, and every result is checked with the public key before it
 * is used. The object is immutable once made and holds no other state, so one key may be used
 * by several threads at once. The secret parameters are wiped when it is freed.
 */
typedef struct _ScepRsaKey ScepRsaKey;

/* the parameters of an exportable RSA key (not RSA-PSS, not a PKCS#11 handle) */
ScepRsaKey *scep_rsa_key_new(gnutls_privkey_t key, GError **error);
/* from raw big-endian parameters: @e1 = d mod (p-1), @e2 = d mod (q-1), @coef = q^-1 mod p */
ScepRsaKey *scep_rsa_key_new_from_raw(const gnutls_datum_t *n,
				      const gnutls_datum_t *e,
				      const gnutls_datum_t *d,
				      const gnutls_datum_t *p,
				      const gnutls_datum_t *q,
				      const gnutls_datum_t *e1,
				      const gnutls_datum_t *e2,
				      const gnutls_datum_t *coef,
				      GError **error);
void scep_rsa_key_free(ScepRsaKey *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepRsaKey, scep_rsa_key_free)

/* octets of the modulus: the size of every signature, ciphertext and raw result */
gsize scep_rsa_key_get_size(const ScepRsaKey *self);

/* @out (scep_rsa_key_get_size() octets) = @in ^ d mod n, for a big-endian @in < n */
gboolean scep_rsa_key_private_op(
    const ScepRsaKey *self, const guint8 *in, gsize in_len, guint8 *out, GError **error);

/* RSASSA-PKCS1-v1_5 over a DER DigestInfo; @signature gets scep_rsa_key_get_size() octets and
 * has been verified with the public key */
gboolean scep_rsa_key_sign_digest_info(const ScepRsaKey *self,
				       const guint8 *digest_info,
				       gsize digest_info_len,
				       guint8 *signature,
				       GError **error);

/* RSAES-PKCS1-v1_5 decryption of a message that must be exactly @out_size octets long; the
 * padding is checked without secret-dependent branches, and every failure gives the same
 * error */
gboolean scep_rsa_key_decrypt_pkcs1(const ScepRsaKey *self,
				    const guint8 *ciphertext,
				    gsize ciphertext_len,
				    guint8 *out,
				    gsize out_size,
				    GError **error);

/*
 * A new GnuTLS key that signs (RSA PKCS#1 v1.5, any digest) through a ScepRsaKey made from
 * @key, so that GnuTLS still writes the certificate, request and SignedData encodings. It
 * cannot decrypt or be exported. Returns %NULL when @key is not an exportable RSA key: sign
 * with @key itself then. Free with gnutls_privkey_deinit(). Made per call, as the callers in
 * ndes/ do, it is used by one thread only; the ScepRsaKey inside would allow more.
 */
gnutls_privkey_t scep_rsa_privkey_new_signer(gnutls_privkey_t key);

G_END_DECLS
