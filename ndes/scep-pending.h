#pragma once

#include <gio/gio.h>
#include <gnutls/gnutls.h>

#include "scep-message.h"

G_BEGIN_DECLS

/**
 * ScepPending:
 * @url: the SCEP server URL
 * @ca_ident: (nullable): the CA identifier sent with GetCACert
 * @transaction_id: the transaction ID of the request (CertPoll reuses it)
 * @message_type: the request that is pending (PKCSReq or RenewalReq)
 * @key_pem: (nullable): the new key, unencrypted PKCS#8 PEM (secret; wiped when freed);
 *   %NULL when @key_path refers to it
 * @key_path: (nullable): where the new key is stored
 * @signer_cert_der: the certificate our requests are signed with (and the reply encrypted to)
 * @signer_key_pem: (nullable): the signer's key when it is not the new key (renewal signed with
 *   the current certificate); secret
 * @subject_der: the DER Name of the request's subject (IssuerAndSubject)
 * @ca_certs_der: (element-type GBytes): every GetCACert certificate, as received
 * @sender_nonce: the senderNonce of the last message sent
 * @first_submitted: when the request was first submitted (Unix seconds)
 * @last_polled: when the last CertPoll was sent (Unix seconds, 0 = never)
 * @poll_count: CertPoll messages sent so far
 * @cipher: content cipher of the envelopes
 * @digest: digest of the signatures
 * @post: PKIOperation by POST (else GET)
 * @send_content_type: with POST, send Content-Type application/x-pki-message
 *
 * Everything needed to poll a pending enrollment later, also after a restart. Serialised as a
 * GKeyFile text (group "pending"); the file is written with mode 0600 since it may hold a key.
 */
typedef struct {
	gchar *url;
	gchar *ca_ident;
	gchar *transaction_id;
	ScepMessageType message_type;
	GBytes *key_pem;
	gchar *key_path;
	GBytes *signer_cert_der;
	GBytes *signer_key_pem;
	GBytes *subject_der;
	GPtrArray *ca_certs_der;
	guint8 sender_nonce[SCEP_NONCE_SIZE];
	gint64 first_submitted;
	gint64 last_polled;
	guint poll_count;
	gnutls_cipher_algorithm_t cipher;
	gnutls_digest_algorithm_t digest;
	gboolean post;
	gboolean send_content_type;
} ScepPending;

ScepPending *scep_pending_new(void);
ScepPending *scep_pending_copy(const ScepPending *self);
void scep_pending_free(ScepPending *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepPending, scep_pending_free)

/* a GBytes whose buffer is wiped when freed (for PEM keys) */
GBytes *scep_pending_secret_bytes_new(gconstpointer data, gsize size);

/* GKeyFile text; the result holds the key: wipe it (scep_pending_text_free) */
gchar *scep_pending_to_data(const ScepPending *self, gsize *length);
void scep_pending_text_free(gchar *text);
ScepPending *scep_pending_new_from_data(const gchar *data, gsize length, GError **error);

/* written atomically with mode 0600 */
gboolean scep_pending_save(const ScepPending *self, const gchar *path, GError **error);
ScepPending *scep_pending_load(const gchar *path, GError **error);

/* the new key: from @key_pem, or loaded from @key_path */
gnutls_privkey_t scep_pending_dup_key(const ScepPending *self, GError **error);

G_END_DECLS
