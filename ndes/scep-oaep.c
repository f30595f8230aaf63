#include "config.h"

#include "scep-oaep.h"

#include <gnutls/crypto.h>
#include <string.h>

#include "scep-ndes-error.h"
#include "scep-rsa.h"

/*
 * RSAES-OAEP decryption (RFC 8017 7.1.2). GnuTLS 3.7.9 and nettle 3.8.1 have no OAEP,
 * so the padding is removed here on top of the blinded private-key operation of
 * scep-rsa.c (nettle's side-channel silent CRT).
 * Every failure after the RSA step gives the same error, and the checks on the
 * decoded block run without secret-dependent branches until the final verdict.
 */

#define SCEP_OAEP_ERROR_TEXT "RSAES-OAEP decryption failed"

/* MGF1 (RFC 8017 B.2.1): @mask = first @mask_len octets of Hash(seed || counter) ... */
static gboolean
scep_oaep_mgf1(gnutls_digest_algorithm_t hash,
	       const guint8 *seed,
	       gsize seed_len,
	       guint8 *mask,
	       gsize mask_len)
{
	gsize h_len = gnutls_hash_get_len(hash);
	g_autofree guint8 *block = g_malloc(seed_len + 4);
	guint8 digest[64];
	gboolean ok = TRUE;

	memcpy(block, seed, seed_len);
	for (guint32 counter = 0; mask_len > 0; counter++) {
		gsize n = MIN(mask_len, h_len);
		block[seed_len] = (guint8)(counter >> 24);
		block[seed_len + 1] = (guint8)(counter >> 16);
		block[seed_len + 2] = (guint8)(counter >> 8);
		block[seed_len + 3] = (guint8)counter;
		if (gnutls_hash_fast(hash, block, seed_len + 4, digest) < 0) {
			ok = FALSE;
			break;
		}
		memcpy(mask, digest, n);
		mask += n;
		mask_len -= n;
	}
	gnutls_memset(digest, 0, sizeof(digest));
	gnutls_memset(block, 0, seed_len + 4);
	return ok;
}

/* 1 when @x is 0, else 0, without a branch */
static guint
scep_oaep_ct_is_zero(guint32 x)
{
	return (guint)((~x & (x - 1)) >> 31);
}

static guint
scep_oaep_ct_eq(guint32 a, guint32 b)
{
	return scep_oaep_ct_is_zero(a ^ b);
}

/*
 * Returns 1 and the offset of the message in @db when @em is a valid encoding.
 * EM = 0x00 || maskedSeed || maskedDB; DB = lHash' || PS (zeros) || 0x01 || M
 */
static guint
scep_oaep_decode(
    gnutls_digest_algorithm_t hash, const guint8 *lhash, guint8 *em, gsize k, gsize *msg_offset)
{
	gsize h_len = gnutls_hash_get_len(hash);
	guint8 *seed = em + 1;
	guint8 *db = em + 1 + h_len;
	gsize db_len = k - h_len - 1;
	g_autofree guint8 *mask = g_malloc(db_len);
	guint good;
	guint diff = 0;
	guint looking = 1;
	guint invalid = 0;
	guint32 index = 0;

	good = scep_oaep_ct_is_zero(em[0]);
	/* seed = maskedSeed xor MGF(maskedDB), DB = maskedDB xor MGF(seed) */
	if (!scep_oaep_mgf1(hash, db, db_len, mask, h_len))
		good = 0;
	for (gsize i = 0; i < h_len; i++)
		seed[i] ^= mask[i];
	if (!scep_oaep_mgf1(hash, seed, h_len, mask, db_len))
		good = 0;
	for (gsize i = 0; i < db_len; i++)
		db[i] ^= mask[i];
	gnutls_memset(mask, 0, db_len);

	for (gsize i = 0; i < h_len; i++)
		diff |= db[i] ^ lhash[i];
	good &= scep_oaep_ct_is_zero(diff);

	for (gsize i = h_len; i < db_len; i++) {
		guint is_one = scep_oaep_ct_eq(db[i], 1);
		guint is_zero = scep_oaep_ct_is_zero(db[i]);
		guint take = looking & is_one;
		index = (index & (take - 1u)) | ((guint32)i & (0u - take));
		invalid |= looking & (is_zero ^ 1u) & (is_one ^ 1u);
		looking &= is_one ^ 1u;
	}
	good &= (invalid ^ 1u) & (looking ^ 1u);
	*msg_offset = 1 + h_len + index + 1;
	return good;
}

/**
 * scep_oaep_decrypt:
 * @key: an RSA private key whose parameters can be exported
 * @hash: the OAEP hash, also used for MGF1 (SHA-1 by default in CMS)
 * @label: (nullable): the OAEP label; %NULL for the empty label
 * @ciphertext: the encrypted block, exactly as long as the modulus
 * @out: buffer for the message
 * @out_size: size of @out; a longer message is a decryption failure
 * @out_len: (out): length of the message
 * @error: return location
 *
 * Every decoding failure (wrong key, tampered block, bad padding, a message that
 * does not fit) gives the same %SCEP_NDES_ERROR_CRYPTO error.
 */
gboolean
scep_oaep_decrypt(gnutls_privkey_t key,
		  gnutls_digest_algorithm_t hash,
		  const gnutls_datum_t *label,
		  GBytes *ciphertext,
		  guint8 *out,
		  gsize out_size,
		  gsize *out_len,
		  GError **error)
{
	g_autoptr(ScepRsaKey) rsa = NULL;
	g_autoptr(GError) error_local = NULL;
	gsize c_len = 0;
	const guint8 *c_data = g_bytes_get_data(ciphertext, &c_len);
	gsize h_len = gnutls_hash_get_len(hash);
	guint8 lhash[64];
	gsize k;
	gsize offset = 0;
	g_autofree guint8 *em = NULL;
	guint good = 0;

	if (h_len == 0 || h_len > sizeof(lhash)) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_UNSUPPORTED,
				    "unsupported RSAES-OAEP hash algorithm");
		return FALSE;
	}
	if (gnutls_privkey_get_pk_algorithm(key, NULL) != GNUTLS_PK_RSA) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_INVALID_ARGUMENT,
				    "RSAES-OAEP needs an RSA key");
		return FALSE;
	}
	if (gnutls_hash_fast(hash,
			     label != NULL ? label->data : (const guint8 *)"",
			     label != NULL ? label->size : 0,
			     lhash) < 0) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_UNSUPPORTED,
				    "unsupported RSAES-OAEP hash algorithm");
		return FALSE;
	}

	rsa = scep_rsa_key_new(key, &error_local);
	if (rsa == NULL) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_CRYPTO,
			    "RSAES-OAEP needs an exportable RSA key: %s",
			    error_local->message);
		return FALSE;
	}
	k = scep_rsa_key_get_size(rsa);
	if (c_len == k && k >= 2 * h_len + 2) {
		em = g_malloc0(k);
		if (scep_rsa_key_private_op(rsa, c_data, c_len, em, NULL))
			good = scep_oaep_decode(hash, lhash, em, k, &offset);
	}

	if (good == 1 && k - offset <= out_size) {
		*out_len = k - offset;
		memcpy(out, em + offset, *out_len);
		gnutls_memset(em, 0, k);
		return TRUE;
	}
	if (em != NULL)
		gnutls_memset(em, 0, k);
	g_set_error_literal(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_CRYPTO, SCEP_OAEP_ERROR_TEXT);
	return FALSE;
}
