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
 *
 * What one instance persists in <state-dir>/<instance>/state (GKeyFile, mode 0600), written
 * atomically and durably (temporary file, fsync, rename, directory fsync).
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
