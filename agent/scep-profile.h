#pragma once

#include <gio/gio.h>

#include "scep-clock.h"
#include "scep-registry.h"

G_BEGIN_DECLS

/**
 * ScepProfileState:
 *
 * The lifecycle of one certificate instance (DESIGN.md). The values are API: they cross D-Bus;
 * only ever append.
 */
typedef enum {
	SCEP_PROFILE_STATE_DISABLED = 0,
	SCEP_PROFILE_STATE_UNCONFIGURED = 1,
	SCEP_PROFILE_STATE_FETCHING_CA = 2,
	SCEP_PROFILE_STATE_CHALLENGE = 3,
	SCEP_PROFILE_STATE_GENERATING_KEY = 4,
	SCEP_PROFILE_STATE_SUBMITTING = 5,
	SCEP_PROFILE_STATE_PENDING = 6,
	SCEP_PROFILE_STATE_VALID = 7,
	SCEP_PROFILE_STATE_RENEWING = 8,
	SCEP_PROFILE_STATE_REJECTED = 9,
	SCEP_PROFILE_STATE_FAILED = 10,
} ScepProfileState;

#define SCEP_PROFILE_STATE_LAST SCEP_PROFILE_STATE_FAILED

/* "disabled", "unconfigured", "fetching-ca", ... */
const gchar *scep_profile_state_to_string(ScepProfileState state);

/**
 * ScepProfileChange:
 *
 * What a registry change set means for a profile, by the schema's `change` field.
 */
typedef enum {
	SCEP_PROFILE_CHANGE_NONE = 0,
	SCEP_PROFILE_CHANGE_ENABLE = 1 << 0,
	SCEP_PROFILE_CHANGE_NEXT_OPERATION = 1 << 1,
	SCEP_PROFILE_CHANGE_RESCHEDULE = 1 << 2,
	SCEP_PROFILE_CHANGE_RE_ENROLL = 1 << 3,
	SCEP_PROFILE_CHANGE_REINSTALL = 1 << 4,
} ScepProfileChange;

/* the flag for a schema `change` literal ("enable", "re-enroll", ...) */
ScepProfileChange scep_profile_change_from_string(const gchar *change);

#define SCEP_TYPE_PROFILE (scep_profile_get_type())
G_DECLARE_FINAL_TYPE(ScepProfile, scep_profile, SCEP, PROFILE, GObject)

/* @state_dir: the agent's state directory; the profile keeps <state_dir>/cert<N>/ */
ScepProfile *scep_profile_new(guint instance, const gchar *state_dir, ScepClock *clock);

/*
 * Takes the instance's settings from @snapshot (a reference is kept; NULL settings = invalid,
 * the snapshot's reason is shown). Before scep_profile_start() this only stores them; after,
 * @changes says what to do (see ScepProfileChange).
 */
void scep_profile_set_settings(ScepProfile *self,
			       ScepRegistrySnapshot *snapshot,
			       ScepProfileChange changes);

/*
 * Start-up: finishes or rolls back an interrupted installation (scep_cert_store_recover),
 * loads the persisted state and the installed pair, and resumes: a pending request is polled
 * with its transaction, an in-flight operation restarts from its "need to" step.
 */
void scep_profile_start(ScepProfile *self);

/*
 * The device's host name may have changed (the engine watches the static host name): with
 * hostname_change_handling=Reset the subject is compared at once (it also is at every
 * scheduled evaluation), and a start-over follows when it no longer matches. Nothing happens
 * with Ignore.
 */
void scep_profile_host_name_changed(ScepProfile *self);

/* cancels what runs and removes every deadline; the state file and installed files stay */
void scep_profile_stop(ScepProfile *self);

/* the one transition function: logs, persists, emits notify::state and "state-changed" */
void scep_profile_set_state(ScepProfile *self, ScepProfileState state, const gchar *reason);

/* an enrollment (start-over) now; completes when it ends: TRUE when installed or pending */
void scep_profile_enroll_async(ScepProfile *self,
			       GCancellable *cancellable,
			       GAsyncReadyCallback callback,
			       gpointer user_data);
gboolean scep_profile_enroll_finish(ScepProfile *self, GAsyncResult *result, GError **error);
/* a renewal by the configured method now (an enrollment when nothing is installed) */
void scep_profile_renew_async(ScepProfile *self,
			      GCancellable *cancellable,
			      GAsyncReadyCallback callback,
			      gpointer user_data);
gboolean scep_profile_renew_finish(ScepProfile *self, GAsyncResult *result, GError **error);
/* cancels the operation in flight (it then fails with G_IO_ERROR_CANCELLED and backs off) */
void scep_profile_cancel(ScepProfile *self);

const gchar *scep_profile_get_name(ScepProfile *self);
guint scep_profile_get_instance(ScepProfile *self);
gboolean scep_profile_get_enabled(ScepProfile *self);
ScepProfileState scep_profile_get_state(ScepProfile *self);
const gchar *scep_profile_get_reason(ScepProfile *self);
/* of the installed certificate (NULL / 0 when none) */
const gchar *scep_profile_get_subject(ScepProfile *self);
const gchar *scep_profile_get_issuer(ScepProfile *self);
const gchar *scep_profile_get_serial(ScepProfile *self);
gint64 scep_profile_get_not_before(ScepProfile *self);
gint64 scep_profile_get_not_after(ScepProfile *self);
/* when renewal is due (jitter included), 0 when nothing is installed */
gint64 scep_profile_get_renewal_time(ScepProfile *self);
/* when the next operation or check is planned, 0 when none */
gint64 scep_profile_get_next_attempt(ScepProfile *self);
guint scep_profile_get_attempt(ScepProfile *self);
const gchar *scep_profile_get_last_error(ScepProfile *self);
const gchar *scep_profile_get_last_error_name(ScepProfile *self);
gint64 scep_profile_get_last_attempt(ScepProfile *self);
const gchar *scep_profile_get_renewal_method(ScepProfile *self);
const gchar *scep_profile_get_ca_fingerprint(ScepProfile *self);
const gchar *scep_profile_get_cert_path(ScepProfile *self);
const gchar *scep_profile_get_key_path(ScepProfile *self);
const gchar *scep_profile_get_chain_path(ScepProfile *self);
/* of the pending request, NULL when none */
const gchar *scep_profile_get_transaction_id(ScepProfile *self);

G_END_DECLS
