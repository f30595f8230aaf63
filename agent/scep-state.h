#pragma once

#include <gio/gio.h>

#include "scep-pending.h"

G_BEGIN_DECLS

/**
 * ScepState:
 * @state: the ScepProfileState value when saved
 * @reason: (nullable): why the instance is in that state
 * @attempt: failed attempts in a row (0 after a success)
 * @next_attempt: when the next operation is due (Unix seconds, 0 = none planned)
 * @last_error: (nullable): text of the last failure
 * @last_error_name: (nullable): its short name ("network", "rejected", ...)
 * @last_attempt: when the last operation started (Unix seconds, 0 = never)
 * @operation: (nullable): the operation in flight or to retry: "enroll", "renew", "start-over"
 * @new_key_pem: (nullable): the key of a request that was about to be or was submitted
 *   (secret): re-submitting with it keeps the transaction ID, which RFC 8894 derives from it
 * @pending: (nullable): a request the CA has pending (transaction ID, key, nonce, CA certs)
 * @ca_certs_der: (element-type GBytes) (nullable): the CA certificates last fetched
 * @reenroll_requested: a subject, SAN or key setting changed since the installed certificate
 *   was requested: a new enrollment (start-over) is owed, also after a restart
 * @request_subject: (nullable): the subject DN (RFC 4514) of the request in flight or pending
 * @installed_subject: (nullable): the subject DN that was requested for the installed
 *   certificate (the CA may have issued another one); NULL = not known (an older state file)
 * @installed_key_path: (nullable): where the installed key is (NULL = not known: the
 *   configured paths are assumed); likewise @installed_cert_path and @installed_chain_path
 * @ca_fingerprint: (nullable): SHA-256 fingerprint of the CA certificate last fetched
 * @ca_not_before: its notBefore (Unix seconds, 0 = not known)
 * @ca_not_after: its notAfter (Unix seconds, 0 = not known)
 * @next_ca_fingerprint: (nullable): SHA-256 fingerprint of the next CA certificate that
 *   GetNextCACert returned (signed by the current CA; kept in <instance>/next-ca/), until it
 *   becomes the current one
 * @next_ca_checked_for: (nullable): the @ca_fingerprint for which GetNextCACert was done (or
 *   found unsupported): it is not asked again for the same CA
 * @next_ca_checked_at: when GetNextCACert was last tried (Unix seconds, 0 = never)
 * @rollover_ca_fingerprint: (nullable): SHA-256 fingerprint of a CA certificate the agent
 *   trusts in place of the configured pin: the CA moved to it after GetNextCACert, signed by the
 *   pinned CA, had announced it
 * @rollover_pin: (nullable): the cafingerprint value that trust was followed from; when
 *   cafingerprint changes, the administrator has taken over and the trust is dropped
 *
 * What one instance persists in <state-dir>/<instance>/state (GKeyFile, mode 0600), written
 * atomically and durably (temporary file, fsync, rename, directory fsync). Keys that a file
 * lacks take their zero value, and keys this version does not know are ignored, so older and
 * newer state files load both ways.
 */
typedef struct {
	gint state;
	gchar *reason;
	guint attempt;
	gint64 next_attempt;
	gchar *last_error;
	gchar *last_error_name;
	gint64 last_attempt;
	gchar *operation;
	GBytes *new_key_pem;
	ScepPending *pending;
	GPtrArray *ca_certs_der;
	gboolean reenroll_requested;
	gchar *request_subject;
	gchar *installed_subject;
	gchar *installed_key_path;
	gchar *installed_cert_path;
	gchar *installed_chain_path;
	gchar *ca_fingerprint;
	gint64 ca_not_before;
	gint64 ca_not_after;
	gchar *next_ca_fingerprint;
	gchar *next_ca_checked_for;
	gint64 next_ca_checked_at;
	gchar *rollover_ca_fingerprint;
	gchar *rollover_pin;
} ScepState;

ScepState *scep_state_new(void);
void scep_state_free(ScepState *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepState, scep_state_free)

/* a missing file gives a fresh state (G_FILE_ERROR_NOENT is not an error here) */
ScepState *scep_state_load(const gchar *path, GError **error);
gboolean scep_state_save(const ScepState *self, const gchar *path, GError **error);

/* temporary file beside @path, fsync, rename, fsync of the directory */
gboolean
scep_state_write_atomic(const gchar *path, const gchar *data, gsize len, gint mode, GError **error);

G_END_DECLS
