#pragma once

#include <glib.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

G_BEGIN_DECLS

/**
 * ScepKeyTransport:
 * @SCEP_KEY_TRANSPORT_UNKNOWN: not understood
 * @SCEP_KEY_TRANSPORT_RSA_PKCS1: rsaEncryption, PKCS#1 v1.5
 * @SCEP_KEY_TRANSPORT_RSA_OAEP: id-RSAES-OAEP (what NDES uses)
 */
typedef enum {
	SCEP_KEY_TRANSPORT_UNKNOWN = 0,
	SCEP_KEY_TRANSPORT_RSA_PKCS1 = 1,
	SCEP_KEY_TRANSPORT_RSA_OAEP = 2,
} ScepKeyTransport;

/**
 * ScepEnvelopeInfo:
 * @n_recipients: number of RecipientInfos of any kind
 * @recipient_found: the chosen KeyTransRecipientInfo names the given certificate
 *   (otherwise it was taken as the only one there is)
 * @key_transport: key transport of the chosen KeyTransRecipientInfo
 * @oaep_hash: hash (and MGF1 hash) for %SCEP_KEY_TRANSPORT_RSA_OAEP
 * @cipher: content cipher
 * @has_iv: the content cipher's parameters carry an IV (absent means all zero)
 */
typedef struct {
	guint n_recipients;
	gboolean recipient_found;
	ScepKeyTransport key_transport;
	gnutls_digest_algorithm_t oaep_hash;
	gnutls_cipher_algorithm_t cipher;
	gboolean has_iv;
} ScepEnvelopeInfo;

GBytes *scep_envelope_encrypt(GBytes *plaintext,
			      gnutls_x509_crt_t recipient,
			      gnutls_cipher_algorithm_t cipher,
			      GError **error);
GBytes *scep_envelope_decrypt(GBytes *content_info,
			      gnutls_x509_crt_t recipient_cert,
			      gnutls_privkey_t recipient_key,
			      GError **error);
gboolean scep_envelope_inspect(GBytes *content_info,
			       gnutls_x509_crt_t recipient_cert,
			       ScepEnvelopeInfo *info,
			       GError **error);

const gchar *scep_envelope_cipher_to_oid(gnutls_cipher_algorithm_t cipher);
gnutls_cipher_algorithm_t scep_envelope_cipher_from_oid(const gchar *oid);

G_END_DECLS
