#pragma once

#include <glib.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

G_BEGIN_DECLS

/* RFC 8894 3.2.1.2; the values are the wire values */
typedef enum {
	SCEP_MESSAGE_TYPE_CERT_REP = 3,
	SCEP_MESSAGE_TYPE_RENEWAL_REQ = 17,
	SCEP_MESSAGE_TYPE_UPDATE_REQ = 18,
	SCEP_MESSAGE_TYPE_PKCS_REQ = 19,
	SCEP_MESSAGE_TYPE_CERT_POLL = 20,
	SCEP_MESSAGE_TYPE_GET_CERT = 21,
	SCEP_MESSAGE_TYPE_GET_CRL = 22,
} ScepMessageType;

/* RFC 8894 3.2.1.3; the values are the wire values */
typedef enum {
	SCEP_PKI_STATUS_SUCCESS = 0,
	SCEP_PKI_STATUS_FAILURE = 2,
	SCEP_PKI_STATUS_PENDING = 3,
} ScepPkiStatus;

#define SCEP_NONCE_SIZE 16

const gchar *scep_fail_info_to_string(guint fail_info);

/**
 * ScepRequest:
 * @message_type: PKCSReq, RenewalReq, CertPoll, GetCert or GetCRL
 * @transaction_id: printable transaction ID
 * @sender_nonce: 16 random bytes (scep_message_generate_nonce())
 * @content: the CSR DER, IssuerAndSubject DER or IssuerAndSerialNumber DER
 * @recipient: the CA or RA encryption certificate
 * @cipher: content cipher of the envelope
 * @digest: digest of the signature
 * @signer_cert: self-signed certificate, or the current one for renewal
 * @signer_key: its key
 *
 * Everything is borrowed.
 */
typedef struct {
	ScepMessageType message_type;
	const gchar *transaction_id;
	guint8 sender_nonce[SCEP_NONCE_SIZE];
	GBytes *content;
	gnutls_x509_crt_t recipient;
	gnutls_cipher_algorithm_t cipher;
	gnutls_digest_algorithm_t digest;
	gnutls_x509_crt_t signer_cert;
	gnutls_privkey_t signer_key;
} ScepRequest;

GBytes *scep_message_build_request(const ScepRequest *request, GError **error);
void scep_message_generate_nonce(guint8 nonce[SCEP_NONCE_SIZE]);
GBytes *scep_message_build_issuer_and_subject(gnutls_x509_crt_t issuer,
					      const gnutls_datum_t *subject_dn_der,
					      GError **error);
GBytes *scep_message_build_issuer_and_serial(gnutls_x509_crt_t issuer,
					     const gnutls_datum_t *serial,
					     GError **error);

/**
 * ScepCertRepExpect:
 * @transaction_id: the transaction ID we sent
 * @sender_nonce: the 16-byte senderNonce we sent
 * @signers: (array length=n_signers): who may sign the reply: the RA signing
 *   certificate and/or the CA
 * @n_signers: their number
 * @recipient_cert: our certificate the reply is encrypted to (SUCCESS)
 * @recipient_key: its key (SUCCESS)
 * @requested_key: (nullable): when set, a SUCCESS must contain a certificate with this
 *   public key (PKCSReq, RenewalReq, CertPoll)
 *
 * Everything is borrowed.
 */
typedef struct {
	const gchar *transaction_id;
	const guint8 *sender_nonce;
	gnutls_x509_crt_t *signers;
	guint n_signers;
	gnutls_x509_crt_t recipient_cert;
	gnutls_privkey_t recipient_key;
	gnutls_pubkey_t requested_key;
} ScepCertRepExpect;

typedef struct _ScepCertRep ScepCertRep;

ScepCertRep *scep_cert_rep_parse(GBytes *der, const ScepCertRepExpect *expect, GError **error);
void scep_cert_rep_free(ScepCertRep *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepCertRep, scep_cert_rep_free)

ScepPkiStatus scep_cert_rep_get_status(const ScepCertRep *self);
gboolean scep_cert_rep_get_fail_info(const ScepCertRep *self, guint *fail_info);
const gchar *scep_cert_rep_get_fail_info_text(const ScepCertRep *self);
gchar *scep_cert_rep_describe_failure(const ScepCertRep *self);
const gchar *scep_cert_rep_get_transaction_id(const ScepCertRep *self);
const guint8 *scep_cert_rep_get_sender_nonce(const ScepCertRep *self);
GBytes *scep_cert_rep_get_issued_certificate(const ScepCertRep *self);
GPtrArray *scep_cert_rep_get_certificates(const ScepCertRep *self);
GPtrArray *scep_cert_rep_get_crls(const ScepCertRep *self);
gnutls_x509_crt_t scep_cert_rep_get_signer(const ScepCertRep *self);
gnutls_digest_algorithm_t scep_cert_rep_get_digest_algorithm(const ScepCertRep *self);

G_END_DECLS
