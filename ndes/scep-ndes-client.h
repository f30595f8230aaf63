#pragma once

#include <gio/gio.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "scep-ca-certs.h"
#include "scep-caps.h"
#include "scep-csr.h"
#include "scep-message.h"
#include "scep-pending.h"

G_BEGIN_DECLS

/**
 * ScepNdesMethod:
 * @SCEP_NDES_METHOD_AUTO: POST when the caps advertise POSTPKIOperation or SCEPStandard,
 *   else GET
 * @SCEP_NDES_METHOD_GET: always GET
 * @SCEP_NDES_METHOD_POST: always POST
 */
typedef enum {
	SCEP_NDES_METHOD_AUTO = 0,
	SCEP_NDES_METHOD_GET = 1,
	SCEP_NDES_METHOD_POST = 2,
} ScepNdesMethod;

/**
 * ScepNdesStatus:
 * @SCEP_NDES_STATUS_ISSUED: the certificate was issued
 * @SCEP_NDES_STATUS_PENDING: the CA must approve; poll later with the #ScepPending
 *
 * A rejection is an error (%SCEP_NDES_ERROR_REJECTED), not a status.
 */
typedef enum {
	SCEP_NDES_STATUS_ISSUED = 0,
	SCEP_NDES_STATUS_PENDING = 1,
} ScepNdesStatus;

/**
 * ScepNdesOutcome:
 * @status: issued or pending
 * @certificate: (nullable): the issued certificate (DER), when issued
 * @chain: (element-type GBytes): the CA, intermediates and root (DER), when issued
 * @pending: (nullable): the state to poll with, when pending
 * @transaction_id: the transaction ID
 */
typedef struct {
	ScepNdesStatus status;
	GBytes *certificate;
	GPtrArray *chain;
	ScepPending *pending;
	gchar *transaction_id;
} ScepNdesOutcome;

void scep_ndes_outcome_free(ScepNdesOutcome *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepNdesOutcome, scep_ndes_outcome_free)

/**
 * ScepNdesEnrollRequest:
 * @message_type: %SCEP_MESSAGE_TYPE_PKCS_REQ or %SCEP_MESSAGE_TYPE_RENEWAL_REQ
 * @csr_params: (nullable): what goes into the CSR, including the challenge (a secret: the
 *   CSR built from it is wiped after use); ignored when @csr_der is set
 * @csr_der: (nullable): a ready CSR signed by @key
 * @key: the new key (the CSR's)
 * @key_path: (nullable): where @key is stored; a pending state then refers to the file instead
 *   of embedding the key
 * @signer_cert: (nullable): the current certificate for renewal; %NULL = a self-signed signer
 *   made from the CSR
 * @signer_key: (nullable): its key
 *
 * Everything is borrowed for the duration of the call only; the operation keeps copies.
 */
typedef struct {
	ScepMessageType message_type;
	const ScepCsrParams *csr_params;
	GBytes *csr_der;
	gnutls_privkey_t key;
	const gchar *key_path;
	gnutls_x509_crt_t signer_cert;
	gnutls_privkey_t signer_key;
} ScepNdesEnrollRequest;

#define SCEP_TYPE_NDES_CLIENT (scep_ndes_client_get_type())
G_DECLARE_FINAL_TYPE(ScepNdesClient, scep_ndes_client, SCEP, NDES_CLIENT, GObject)

ScepNdesClient *scep_ndes_client_new(const gchar *url, GError **error);

/* ---- options (set before the first operation) ---- */
gboolean scep_ndes_client_set_proxy(ScepNdesClient *self, const gchar *proxy, GError **error);
gboolean scep_ndes_client_set_ca_file(ScepNdesClient *self, const gchar *ca_file, GError **error);
void
scep_ndes_client_set_timeouts(ScepNdesClient *self, guint connect_seconds, guint total_seconds);
void scep_ndes_client_set_ca_ident(ScepNdesClient *self, const gchar *ca_ident);
/* @pin: hex; @alg: MD5, SHA1, SHA256 or UNKNOWN (by length); NULL = no pin (allowed, flagged) */
void scep_ndes_client_set_fingerprint(ScepNdesClient *self,
				      const gchar *pin,
				      gnutls_digest_algorithm_t alg);
void scep_ndes_client_set_algorithms(ScepNdesClient *self,
				     gnutls_cipher_algorithm_t cipher,
				     gnutls_digest_algorithm_t digest,
				     ScepCapsAlgPolicy policy);
void scep_ndes_client_set_method(ScepNdesClient *self, ScepNdesMethod method);
void scep_ndes_client_set_send_content_type(ScepNdesClient *self, gboolean send_content_type);
const gchar *scep_ndes_client_get_url(ScepNdesClient *self);

/* ---- GetCACaps + GetCACert ---- */

/*
 * GetCACaps, then GetCACert: the CA fingerprint is checked (when a pin is set) before
 * anything else is trusted, then the chain is verified. The results stay in the client.
 */
void scep_ndes_client_fetch_ca_async(ScepNdesClient *self,
				     GCancellable *cancellable,
				     GAsyncReadyCallback callback,
				     gpointer user_data);
gboolean
scep_ndes_client_fetch_ca_finish(ScepNdesClient *self, GAsyncResult *result, GError **error);
/* after fetch_ca (or from a pending state): owned by @self, NULL before */
const ScepCaps *scep_ndes_client_get_caps(ScepNdesClient *self);
ScepCaCerts *scep_ndes_client_get_ca_certs(ScepNdesClient *self);
/* whether the CA was checked against a fingerprint pin (FALSE = trusted on first use) */
gboolean scep_ndes_client_get_ca_pinned(ScepNdesClient *self);
/* the raw GetCACert payload */
GBytes *scep_ndes_client_get_ca_payload(ScepNdesClient *self);

/* ---- PKCSReq / RenewalReq ---- */

/* fetches the CA first when not done yet; REJECTED is an error (SCEP_NDES_ERROR_REJECTED) */
void scep_ndes_client_enroll_async(ScepNdesClient *self,
				   const ScepNdesEnrollRequest *request,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data);
ScepNdesOutcome *
scep_ndes_client_enroll_finish(ScepNdesClient *self, GAsyncResult *result, GError **error);

/* ---- CertPoll ---- */

/*
 * CertPoll (IssuerAndSubject) with @pending's transaction ID and key, a fresh senderNonce;
 * @pending is updated (nonce, poll count, time): save it again. The CA certificates come from
 * @pending, not from the network. A client made only for polling needs no fetch_ca.
 */
void scep_ndes_client_poll_async(ScepNdesClient *self,
				 ScepPending *pending,
				 GCancellable *cancellable,
				 GAsyncReadyCallback callback,
				 gpointer user_data);
ScepNdesOutcome *
scep_ndes_client_poll_finish(ScepNdesClient *self, GAsyncResult *result, GError **error);

/* a client for @pending's URL, CA identifier and algorithms */
ScepNdesClient *scep_ndes_client_new_for_pending(const ScepPending *pending, GError **error);

/* ---- GetNextCACert ---- */

/* SCEP_NDES_ERROR_UNSUPPORTED unless the caps advertise GetNextCACert */
void scep_ndes_client_get_next_ca_async(ScepNdesClient *self,
					GCancellable *cancellable,
					GAsyncReadyCallback callback,
					gpointer user_data);
ScepCaCerts *
scep_ndes_client_get_next_ca_finish(ScepNdesClient *self, GAsyncResult *result, GError **error);

/* ---- GetCert / GetCRL (IssuerAndSerialNumber) ---- */

/*
 * GetCert: the certificate with @serial issued by the CA. GetCRL: the CRL covering the
 * certificate with @serial. @signer_cert / @signer_key: who asks (the reply is encrypted to
 * it); NULL = a throw-away 2048-bit key with a self-signed certificate. The result is a
 * (element-type GBytes) array of DER certificates or CRLs.
 */
void scep_ndes_client_get_cert_async(ScepNdesClient *self,
				     GBytes *serial,
				     gnutls_x509_crt_t signer_cert,
				     gnutls_privkey_t signer_key,
				     GCancellable *cancellable,
				     GAsyncReadyCallback callback,
				     gpointer user_data);
GPtrArray *
scep_ndes_client_get_cert_finish(ScepNdesClient *self, GAsyncResult *result, GError **error);
void scep_ndes_client_get_crl_async(ScepNdesClient *self,
				    GBytes *serial,
				    gnutls_x509_crt_t signer_cert,
				    gnutls_privkey_t signer_key,
				    GCancellable *cancellable,
				    GAsyncReadyCallback callback,
				    gpointer user_data);
GPtrArray *
scep_ndes_client_get_crl_finish(ScepNdesClient *self, GAsyncResult *result, GError **error);

G_END_DECLS
