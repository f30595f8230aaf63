#include "config.h"

#include "scep-profile.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>

#include "scep-cert-store.h"
#include "scep-gnutls-common.h"
#include "scep-ndes-client.h"
#include "scep-ndes-error.h"
#include "scep-post-install.h"
#include "scep-settings-map.h"
#include "scep-state.h"

#define SCEP_PROFILE_DAY         (24 * 3600)
#define SCEP_PROFILE_MAX_BACKOFF (24 * 3600)
#define SCEP_PROFILE_MAX_JITTER  3600
/* how far in the future a stored time may be before it is taken for a clock set back */
#define SCEP_PROFILE_CLOCK_SLACK 300

typedef enum {
	SCEP_PROFILE_OP_NONE,
	SCEP_PROFILE_OP_ENROLL,     /* nothing installed: first enrollment */
	SCEP_PROFILE_OP_RENEW,      /* signed with the current certificate */
	SCEP_PROFILE_OP_START_OVER, /* a certificate exists but enrolls again like the first time */
	SCEP_PROFILE_OP_POLL,       /* CertPoll of a pending request */
	SCEP_PROFILE_OP_CA_REFRESH, /* GetCACert and GetNextCACert only: the CA's rollover point */
} ScepProfileOp;

struct _ScepProfile {
	GObject parent_instance;
	guint instance;
	gchar *name;
	gchar *state_dir;
	gchar *dir;
	gchar *state_path;
	ScepClock *clock;
	gulong jump_id;
	ScepRegistrySnapshot *snapshot; /* owned, nullable */
	const ScepSettings *settings;   /* borrowed from snapshot, NULL when invalid */
	gchar *invalid_reason;
	gboolean started;
	gboolean stopped;
	gboolean looking_up_dns; /* for the evaluation (hostname_change_handling=Reset) */

	ScepProfileState state;
	gchar *reason;
	ScepState *persist; /* owned; what goes into the state file */

	ScepCertPaths *paths;
	/* the installed pair is not kept parsed (~28 KiB per instance): its facts are, and it is
	 * loaded again when a renewal needs it */
	gboolean has_cert;
	GBytes *subject_der; /* nullable: raw subject DN of the installed certificate */
	gchar *subject;
	gchar *issuer;
	gchar *serial;
	gint64 not_before;
	gint64 not_after;
	/* the earlier of notAfter and the expiry of the CA certificates it chains to (chain file):
	 * a certificate whose CA expired is of no use any more, whatever its own notAfter says */
	gint64 expiry;
	gint64 renewal_time;

	guint deadline_id;
	gint64 next_wake;
	gboolean resume_poll;

	/* the operation in flight */
	ScepProfileOp op;
	GCancellable *cancellable;
	ScepNdesClient *client;
	gnutls_privkey_t new_key;
	GPtrArray *waiters; /* of GTask */
	GCancellable *post_cancellable;
	/* which CA pin this operation's GetCACert uses (scep_profile_ca_pin()) */
	guint ca_pin_index;
	/* the request in flight was built from the current subject, SAN and key settings, so its
	 * installation fulfils a re-enrollment request */
	gboolean request_current;
	/* an explicit request that arrived during a CA rollover check, started after it */
	gboolean queued_request;
	gboolean queued_start_over;

	/* ndes6: NDES mscep_admin retrieval; the admin keeps its session (connection-based auth)
	 * as long as the settings stay; the challenge lives from its fetch to its one use */
	ScepNdesAdmin *ndes_admin;    /* owned, nullable; dropped on new settings */
	ScepNdesChallenge *challenge; /* owned, nullable, wiped on free */
	gint64 challenge_at;          /* clock time of its fetch */
};

G_DEFINE_TYPE(ScepProfile, scep_profile, G_TYPE_OBJECT)

enum {
	PROP_0,
	PROP_NAME,
	PROP_INSTANCE,
	PROP_ENABLED,
	PROP_STATE,
	PROP_REASON,
	PROP_SUBJECT,
	PROP_ISSUER,
	PROP_SERIAL,
	PROP_NOT_BEFORE,
	PROP_NOT_AFTER,
	PROP_RENEWAL_TIME,
	PROP_NEXT_ATTEMPT,
	PROP_ATTEMPT,
	PROP_LAST_ERROR,
	PROP_LAST_ERROR_NAME,
	PROP_LAST_ATTEMPT,
	PROP_RENEWAL_METHOD,
	PROP_CA_FINGERPRINT,
	PROP_CERT_PATH,
	PROP_KEY_PATH,
	PROP_CHAIN_PATH,
	PROP_TRANSACTION_ID,
	PROP_LAST
};
static GParamSpec *props[PROP_LAST] = { NULL };

enum { SIGNAL_STATE_CHANGED, SIGNAL_POST_INSTALL_FINISHED, SIGNAL_LAST };
static guint signals[SIGNAL_LAST] = { 0 };

static void scep_profile_evaluate(ScepProfile *self);
static void scep_profile_op_begin(ScepProfile *self, ScepProfileOp op, const gchar *why);
static void scep_profile_op_fail(ScepProfile *self, GError *error);
static void scep_profile_fetch_ndes_challenge(ScepProfile *self);
static void scep_profile_run_post_install(ScepProfile *self);
static void scep_profile_complete_waiters(ScepProfile *self, const GError *error);
static void scep_profile_challenge(ScepProfile *self);
static void scep_profile_request_begin(ScepProfile *self, gboolean start_over);

static const gchar *const scep_profile_state_names[] = {
	"disabled", "unconfigured", "fetching-ca", "challenge", "generating-key", "submitting",
	"pending",  "valid",        "renewing",    "rejected",  "failed",
};

const gchar *
scep_profile_state_to_string(ScepProfileState state)
{
	if ((guint)state < G_N_ELEMENTS(scep_profile_state_names))
		return scep_profile_state_names[state];
	return "unknown";
}

ScepProfileChange
scep_profile_change_from_string(const gchar *change)
{
	if (g_strcmp0(change, "enable") == 0)
		return SCEP_PROFILE_CHANGE_ENABLE;
	if (g_strcmp0(change, "next-operation") == 0)
		return SCEP_PROFILE_CHANGE_NEXT_OPERATION;
	if (g_strcmp0(change, "reschedule") == 0)
		return SCEP_PROFILE_CHANGE_RESCHEDULE;
	if (g_strcmp0(change, "re-enroll") == 0)
		return SCEP_PROFILE_CHANGE_RE_ENROLL;
	if (g_strcmp0(change, "reinstall") == 0)
		return SCEP_PROFILE_CHANGE_REINSTALL;
	return SCEP_PROFILE_CHANGE_NONE;
}

static const gchar *
scep_profile_op_to_string(ScepProfileOp op)
{
	switch (op) {
	case SCEP_PROFILE_OP_ENROLL:
		return "enroll";
	case SCEP_PROFILE_OP_RENEW:
		return "renew";
	case SCEP_PROFILE_OP_START_OVER:
		return "start-over";
	case SCEP_PROFILE_OP_POLL:
		return "poll";
	default:
		return NULL;
	}
}

static gchar *
scep_profile_time_to_string(gint64 t)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(t);
	return dt != NULL ? g_date_time_format_iso8601(dt)
			  : g_strdup_printf("%" G_GINT64_FORMAT, t);
}

/* ---- persistence ---- */

static void
scep_profile_save(ScepProfile *self)
{
	g_autoptr(GError) error = NULL;
	if (!self->started)
		return;
	self->persist->state = (gint)self->state;
	g_free(self->persist->reason);
	self->persist->reason = g_strdup(self->reason);
	if (g_mkdir_with_parents(self->dir, 0700) != 0) {
		g_warning(
		    "profile %s: cannot create %s: %s", self->name, self->dir, g_strerror(errno));
		return;
	}
	if (!scep_state_save(self->persist, self->state_path, &error))
		g_warning("profile %s: state not saved: %s", self->name, error->message);
}

/* ---- the one transition function ---- */

void
scep_profile_set_state(ScepProfile *self, ScepProfileState state, const gchar *reason)
{
	ScepProfileState old;
	g_return_if_fail(SCEP_IS_PROFILE(self));

	old = self->state;
	if (old == state && g_strcmp0(reason, self->reason) == 0)
		return;
	self->state = state;
	g_free(self->reason);
	self->reason = g_strdup(reason != NULL ? reason : "");
	g_message("profile %s: %s -> %s: %s",
		  self->name,
		  scep_profile_state_to_string(old),
		  scep_profile_state_to_string(state),
		  self->reason);
	scep_profile_save(self);
	g_object_freeze_notify(G_OBJECT(self));
	if (old != state)
		g_object_notify_by_pspec(G_OBJECT(self), props[PROP_STATE]);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_REASON]);
	g_object_thaw_notify(G_OBJECT(self));
	g_signal_emit(
	    self, signals[SIGNAL_STATE_CHANGED], 0, (guint)old, (guint)state, self->reason);
}

/* ---- the installed pair ---- */

static void
scep_profile_clear_cert(ScepProfile *self)
{
	self->has_cert = FALSE;
	g_clear_pointer(&self->subject_der, g_bytes_unref);
	g_clear_pointer(&self->subject, g_free);
	g_clear_pointer(&self->issuer, g_free);
	g_clear_pointer(&self->serial, g_free);
	self->not_before = 0;
	self->not_after = 0;
	self->expiry = 0;
	self->renewal_time = 0;
}

static gint64
scep_profile_compute_renewal_time(ScepProfile *self)
{
	gint64 lifetime = self->expiry - self->not_before;
	gint64 t = self->expiry;
	gint64 jitter_max;
	gint64 jitter = 0;
	g_autofree gchar *seed_text = NULL;
	g_autoptr(GRand) rand = NULL;

	if (self->settings == NULL || lifetime <= 0)
		return self->expiry;
	t = self->expiry - self->settings->renewal_period * SCEP_PROFILE_DAY;
	if (self->settings->renewal_threshold_percent > 0)
		t = MIN(t,
			self->not_before +
			    lifetime * self->settings->renewal_threshold_percent / 100);
	/* a lifetime shorter than renewal_period would renew right after every installation */
	t = MAX(t, self->not_before + lifetime / 2);
	/* deterministic per instance and certificate: stable across restarts, spread in a fleet */
	jitter_max = MIN(SCEP_PROFILE_MAX_JITTER, lifetime / 100);
	if (jitter_max > 0) {
		seed_text =
		    g_strdup_printf("%s/%s", self->name, self->serial != NULL ? self->serial : "");
		rand = g_rand_new_with_seed(g_str_hash(seed_text));
		jitter = (gint64)g_rand_double_range(rand, 0, (gdouble)jitter_max);
	}
	return MAX(self->not_before, t - jitter);
}

static gchar *
scep_profile_crt_dn(gnutls_x509_crt_t crt, gboolean issuer)
{
	g_auto(ScepGnutlsDatum) dn = { NULL, 0 };
	gint rc = issuer ? gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0)
			 : gnutls_x509_crt_get_dn3(crt, &dn, 0);
	return rc < 0 ? g_strdup("") : g_strndup((const gchar *)dn.data, dn.size);
}

static void
scep_profile_notify_cert(ScepProfile *self)
{
	g_object_freeze_notify(G_OBJECT(self));
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_SUBJECT]);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_ISSUER]);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_SERIAL]);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_NOT_BEFORE]);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_NOT_AFTER]);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_RENEWAL_TIME]);
	g_object_thaw_notify(G_OBJECT(self));
}

/*
 * When the CA certificates that @cert chains to in the installed chain file expire (the
 * earliest notAfter on the path up from @cert), G_MAXINT64 when the chain file names no issuer
 * of @cert. After a CA rollover the old CA may expire before certificates it issued.
 */
static gint64
scep_profile_chain_expiry(ScepProfile *self, gnutls_x509_crt_t cert)
{
	g_autofree gchar *text = NULL;
	gsize len = 0;
	gnutls_x509_crt_t *list = NULL;
	guint n = 0;
	gnutls_datum_t datum;
	gnutls_x509_crt_t current = cert;
	gint64 expiry = G_MAXINT64;

	if (self->paths->chain_path == NULL ||
	    !g_file_get_contents(self->paths->chain_path, &text, &len, NULL) || len == 0)
		return G_MAXINT64;
	datum.data = (guchar *)text;
	datum.size = (guint)len;
	if (gnutls_x509_crt_list_import2(&list, &n, &datum, GNUTLS_X509_FMT_PEM, 0) < 0)
		return G_MAXINT64;
	/* at most one step per certificate: a loop in the chain ends there */
	for (guint step = 0; step < n; step++) {
		gnutls_x509_crt_t issuer = NULL;
		for (guint i = 0; i < n && issuer == NULL; i++) {
			if (list[i] != current && gnutls_x509_crt_check_issuer(current, list[i]))
				issuer = list[i];
		}
		if (issuer == NULL)
			break;
		expiry = MIN(expiry, (gint64)gnutls_x509_crt_get_expiration_time(issuer));
		if (gnutls_x509_crt_check_issuer(issuer, issuer))
			break;
		current = issuer;
	}
	for (guint i = 0; i < n; i++)
		gnutls_x509_crt_deinit(list[i]);
	gnutls_free(list);
	return expiry;
}

/* the installed pair; FALSE (quietly) when there is none or it is unusable */
static gboolean
scep_profile_load_cert(ScepProfile *self)
{
	g_autoptr(GError) error = NULL;
	g_auto(gnutls_x509_crt_t) cert = NULL;
	gnutls_datum_t raw_dn = { NULL, 0 };
	guchar serial[64];
	size_t serial_len = sizeof(serial);

	scep_profile_clear_cert(self);
	/* the key is loaded too, to be sure it matches; it is not kept */
	if (!scep_cert_store_load(self->paths, &cert, NULL, &error)) {
		if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
			g_warning("profile %s: installed certificate unusable: %s",
				  self->name,
				  error->message);
		scep_profile_notify_cert(self);
		return FALSE;
	}
	self->has_cert = TRUE;
	self->subject = scep_profile_crt_dn(cert, FALSE);
	self->issuer = scep_profile_crt_dn(cert, TRUE);
	if (gnutls_x509_crt_get_raw_dn(cert, &raw_dn) >= 0) {
		self->subject_der = g_bytes_new(raw_dn.data, raw_dn.size);
		gnutls_free(raw_dn.data);
	}
	if (gnutls_x509_crt_get_serial(cert, serial, &serial_len) >= 0) {
		GString *hex = g_string_new(NULL);
		for (gsize i = 0; i < serial_len; i++)
			g_string_append_printf(hex, "%02X", serial[i]);
		self->serial = g_string_free(hex, FALSE);
	}
	self->not_before = gnutls_x509_crt_get_activation_time(cert);
	self->not_after = gnutls_x509_crt_get_expiration_time(cert);
	self->expiry = MIN(self->not_after, scep_profile_chain_expiry(self, cert));
	self->renewal_time = scep_profile_compute_renewal_time(self);
	scep_profile_notify_cert(self);
	return TRUE;
}

/* ---- deadlines ---- */

static gboolean
scep_profile_deadline_cb(gpointer user_data)
{
	ScepProfile *self = SCEP_PROFILE(user_data);
	self->deadline_id = 0;
	scep_profile_evaluate(self);
	return G_SOURCE_REMOVE;
}

static void
scep_profile_clear_deadline(ScepProfile *self)
{
	if (self->deadline_id != 0) {
		scep_clock_remove(self->clock, self->deadline_id);
		self->deadline_id = 0;
	}
}

/* re-evaluate at @when (wall clock) */
static void
scep_profile_plan(ScepProfile *self, gint64 when)
{
	scep_profile_clear_deadline(self);
	self->deadline_id =
	    scep_clock_add_deadline(self->clock, when, scep_profile_deadline_cb, self, NULL);
	if (self->next_wake != when) {
		g_autofree gchar *iso = scep_profile_time_to_string(when);
		g_debug("profile %s: next check at %s", self->name, iso);
		self->next_wake = when;
		g_object_notify_by_pspec(G_OBJECT(self), props[PROP_NEXT_ATTEMPT]);
	}
}

/* ---- settings ---- */

static ScepCertPaths *
scep_profile_make_paths(ScepProfile *self)
{
	const ScepSettings *s = self->settings;
	g_autofree gchar *key = g_build_filename(self->dir, "key.pem", NULL);
	g_autofree gchar *cert = g_build_filename(self->dir, "cert.pem", NULL);
	g_autofree gchar *chain = g_build_filename(self->dir, "chain.pem", NULL);
	return scep_cert_paths_new(s != NULL && s->key_file[0] != '\0' ? s->key_file : key,
				   s != NULL && s->cert_file[0] != '\0' ? s->cert_file : cert,
				   s != NULL && s->chain_file[0] != '\0' ? s->chain_file : chain);
}

static gboolean
scep_profile_paths_equal(const ScepCertPaths *a, const ScepCertPaths *b)
{
	return g_strcmp0(a->key_path, b->key_path) == 0 &&
	       g_strcmp0(a->cert_path, b->cert_path) == 0 &&
	       g_strcmp0(a->chain_path, b->chain_path) == 0;
}

static ScepCertPaths *
scep_profile_installed_paths(ScepProfile *self)
{
	const ScepState *p = self->persist;
	if (p->installed_key_path == NULL || p->installed_cert_path == NULL)
		return NULL;
	return scep_cert_paths_new(
	    p->installed_key_path, p->installed_cert_path, p->installed_chain_path);
}

static void
scep_profile_set_installed_paths(ScepProfile *self)
{
	ScepState *p = self->persist;
	g_free(p->installed_key_path);
	g_free(p->installed_cert_path);
	g_free(p->installed_chain_path);
	p->installed_key_path = g_strdup(self->paths->key_path);
	p->installed_cert_path = g_strdup(self->paths->cert_path);
	p->installed_chain_path = g_strdup(self->paths->chain_path);
}

/*
 * The installed key, certificate and chain belong at the configured paths. After a change of
 * key_file, cert_file or chain_file (also one made while the agent was not running, or a move
 * that a crash interrupted: the installed paths are persisted) they are moved from @old, and the
 * old files removed, by scep_cert_store_move(). A move that fails is tried again at the next
 * start or path change; meanwhile the instance looks for its certificate at the new paths.
 */
static void
scep_profile_ensure_installed_paths(ScepProfile *self, const ScepCertPaths *old)
{
	g_autoptr(GError) error = NULL;
	gboolean moved = FALSE;

	if (old == NULL || scep_profile_paths_equal(old, self->paths))
		return;
	if (!scep_cert_store_move(self->dir, old, self->paths, &moved, &error)) {
		g_warning("profile %s: certificate not moved from %s to %s: %s",
			  self->name,
			  old->cert_path,
			  self->paths->cert_path,
			  error->message);
		return;
	}
	scep_profile_set_installed_paths(self);
	scep_profile_save(self);
	if (!moved)
		return;
	g_message("profile %s: key, certificate and chain moved to %s, %s and %s; the files at the "
		  "old paths were removed",
		  self->name,
		  self->paths->key_path,
		  self->paths->cert_path,
		  self->paths->chain_path);
	scep_profile_run_post_install(self);
}

void
scep_profile_set_settings(ScepProfile *self,
			  ScepRegistrySnapshot *snapshot,
			  ScepProfileChange changes)
{
	g_autoptr(ScepCertPaths) old_paths = NULL;
	g_return_if_fail(SCEP_IS_PROFILE(self));

	if (snapshot != NULL)
		scep_registry_snapshot_ref(snapshot);
	g_clear_pointer(&self->snapshot, scep_registry_snapshot_unref);
	self->snapshot = snapshot;
	/* ndes6: the mscep_admin retrieval is made again from the new settings */
	g_clear_object(&self->ndes_admin);
	self->settings =
	    snapshot != NULL ? scep_registry_snapshot_get_settings(snapshot, self->instance) : NULL;
	g_free(self->invalid_reason);
	self->invalid_reason =
	    snapshot != NULL
		? g_strdup(scep_registry_snapshot_get_invalid_reason(snapshot, self->instance))
		: NULL;
	old_paths = g_steal_pointer(&self->paths);
	self->paths = scep_profile_make_paths(self);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_ENABLED]);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_RENEWAL_METHOD]);
	if (!self->started)
		return;

	if (old_paths != NULL && !scep_profile_paths_equal(old_paths, self->paths)) {
		g_autoptr(ScepCertPaths) installed = scep_profile_installed_paths(self);
		scep_profile_ensure_installed_paths(self,
						    installed != NULL ? installed : old_paths);
		g_object_notify_by_pspec(G_OBJECT(self), props[PROP_CERT_PATH]);
		g_object_notify_by_pspec(G_OBJECT(self), props[PROP_KEY_PATH]);
		g_object_notify_by_pspec(G_OBJECT(self), props[PROP_CHAIN_PATH]);
	}
	/* (an enrollment in flight loads the pair it installs) */
	if (self->op == SCEP_PROFILE_OP_NONE || self->op == SCEP_PROFILE_OP_POLL ||
	    self->op == SCEP_PROFILE_OP_CA_REFRESH)
		scep_profile_load_cert(self);
	if ((changes & SCEP_PROFILE_CHANGE_RE_ENROLL) != 0) {
		g_autoptr(GBytes) stale = g_steal_pointer(&self->persist->new_key_pem);
		/* persisted: a restart before the new certificate is installed still owes it */
		if (self->has_cert)
			self->persist->reenroll_requested = TRUE;
		self->request_current = FALSE;
		scep_profile_save(self);
		if (self->persist->pending != NULL) {
			g_message("profile %s: pending transaction %s dropped: the request changed",
				  self->name,
				  self->persist->pending->transaction_id);
			g_clear_pointer(&self->persist->pending, scep_pending_free);
		}
	}
	if ((changes & (SCEP_PROFILE_CHANGE_RE_ENROLL | SCEP_PROFILE_CHANGE_NEXT_OPERATION |
			SCEP_PROFILE_CHANGE_ENABLE)) != 0) {
		/* what failed may work with the new settings: no waiting for the back-off */
		self->persist->attempt = 0;
		self->persist->next_attempt = 0;
	}
	if (self->settings == NULL || !self->settings->enabled) {
		if (self->op != SCEP_PROFILE_OP_NONE)
			g_cancellable_cancel(self->cancellable);
	}
	if (self->op == SCEP_PROFILE_OP_NONE || self->op == SCEP_PROFILE_OP_POLL ||
	    self->settings == NULL || !self->settings->enabled)
		scep_profile_evaluate(self);
}

/* ---- the operation ---- */

static void
scep_profile_complete_waiters(ScepProfile *self, const GError *error)
{
	g_autoptr(GPtrArray) waiters = g_steal_pointer(&self->waiters);
	self->waiters = g_ptr_array_new_with_free_func(g_object_unref);
	for (guint i = 0; i < waiters->len; i++) {
		GTask *task = g_ptr_array_index(waiters, i);
		if (error != NULL)
			g_task_return_error(task, g_error_copy(error));
		else
			g_task_return_boolean(task, TRUE);
	}
}

static void
scep_profile_op_end(ScepProfile *self)
{
	self->op = SCEP_PROFILE_OP_NONE;
	self->ca_pin_index = 0;
	self->request_current = FALSE;
	g_clear_object(&self->cancellable);
	g_clear_object(&self->client);
	g_clear_pointer(&self->new_key, gnutls_privkey_deinit);
	/* a one-time challenge is never kept past its operation */
	g_clear_pointer(&self->challenge, scep_ndes_challenge_free);
}

static const gchar *
scep_profile_error_name(const GError *error)
{
	static const gchar *const names[] = { "network",  "http-status", "bad-response",
					      "rejected", "unsupported", "invalid-argument",
					      "crypto",   "untrusted",   "auth",
					      "timeout" };
	if (error->domain == SCEP_NDES_ERROR && error->code >= 0 &&
	    (gsize)error->code < G_N_ELEMENTS(names))
		return names[error->code];
	if (error->domain == SCEP_SETTINGS_MAP_ERROR)
		return "configuration";
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return "cancelled";
	if (error->domain == SCEP_POST_INSTALL_ERROR)
		return "post-install";
	return "failed";
}

static void
scep_profile_set_last_error(ScepProfile *self, const GError *error)
{
	g_free(self->persist->last_error);
	g_free(self->persist->last_error_name);
	self->persist->last_error = error != NULL ? g_strdup(error->message) : NULL;
	self->persist->last_error_name =
	    error != NULL ? g_strdup(scep_profile_error_name(error)) : NULL;
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_LAST_ERROR]);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_LAST_ERROR_NAME]);
}

/* retry_interval * 2^(attempt-1), at most 24 h, +-20 % */
static gint64
scep_profile_backoff(ScepProfile *self)
{
	gint64 base = self->settings != NULL ? self->settings->retry_interval : 300;
	gint64 delay = base;
	gdouble jitter;
	for (guint i = 1; i < self->persist->attempt && delay < SCEP_PROFILE_MAX_BACKOFF; i++)
		delay *= 2;
	delay = MIN(delay, SCEP_PROFILE_MAX_BACKOFF);
	jitter = g_random_double_range(-0.2, 0.2);
	return MAX(1, delay + (gint64)(jitter * (gdouble)delay));
}

static void
scep_profile_op_fail(ScepProfile *self, GError *error)
{
	g_autoptr(GError) owned = error;
	ScepProfileOp op = self->op;
	gboolean rejected = g_error_matches(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_REJECTED);
	gint64 now;
	g_autofree gchar *reason = NULL;
	g_autofree gchar *when = NULL;

	scep_profile_op_end(self);
	if (self->stopped) {
		scep_profile_complete_waiters(self, error);
		return;
	}
	scep_profile_set_last_error(self, error);
	if (rejected) {
		/* a rejected request is finished: a retry uses a new key */
		g_clear_pointer(&self->persist->new_key_pem, g_bytes_unref);
		g_clear_pointer(&self->persist->pending, scep_pending_free);
	}
	if (rejected && op == SCEP_PROFILE_OP_RENEW && self->settings != NULL &&
	    scep_settings_get_renewal_method(self->settings) ==
		SCEP_RENEWAL_METHOD_FALLBACK_TO_START_OVER) {
		reason = g_strdup_printf("renewal rejected (%s), falling back to start-over",
					 error->message);
		scep_profile_set_state(self, SCEP_PROFILE_STATE_REJECTED, reason);
		scep_profile_op_begin(self, SCEP_PROFILE_OP_START_OVER, reason);
		return;
	}
	if (error->domain == SCEP_SETTINGS_MAP_ERROR) {
		g_free(self->persist->operation);
		self->persist->operation = NULL;
		scep_profile_set_state(self, SCEP_PROFILE_STATE_UNCONFIGURED, error->message);
		scep_profile_complete_waiters(self, error);
		return;
	}
	if (self->settings == NULL || !self->settings->enabled) {
		scep_profile_complete_waiters(self, error);
		scep_profile_evaluate(self);
		return;
	}
	now = scep_clock_get_wall(self->clock);
	self->persist->attempt++;
	self->persist->next_attempt = now + scep_profile_backoff(self);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_ATTEMPT]);
	when = scep_profile_time_to_string(self->persist->next_attempt);
	reason = g_strdup_printf(
	    "%s (attempt %u, next at %s)", error->message, self->persist->attempt, when);
	scep_profile_set_state(
	    self, rejected ? SCEP_PROFILE_STATE_REJECTED : SCEP_PROFILE_STATE_FAILED, reason);
	scep_profile_complete_waiters(self, error);
	scep_profile_plan(self, self->persist->next_attempt);
}

static gchar *
scep_profile_der_to_pem(GBytes *der, const gchar *label)
{
	g_autofree gchar *b64 = g_base64_encode(g_bytes_get_data(der, NULL), g_bytes_get_size(der));
	GString *pem = g_string_new(NULL);
	gsize len = strlen(b64);
	g_string_append_printf(pem, "-----BEGIN %s-----\n", label);
	for (gsize off = 0; off < len; off += 64)
		g_string_append_printf(pem, "%.64s\n", b64 + off);
	g_string_append_printf(pem, "-----END %s-----\n", label);
	return g_string_free(pem, FALSE);
}

static void
scep_profile_post_install_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(ScepProfile) self = SCEP_PROFILE(user_data);
	g_autoptr(GError) error = NULL;
	if (!scep_post_install_run_finish(result, &error)) {
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			return;
		g_warning("profile %s: post-install action failed (the new certificate stays "
			  "installed): %s",
			  self->name,
			  error->message);
		scep_profile_set_last_error(self, error);
		scep_profile_save(self);
		g_signal_emit(
		    self, signals[SIGNAL_POST_INSTALL_FINISHED], 0, FALSE, error->message);
		return;
	}
	g_message("profile %s: post-install action done", self->name);
	g_signal_emit(self, signals[SIGNAL_POST_INSTALL_FINISHED], 0, TRUE, "");
}

static void
scep_profile_run_post_install(ScepProfile *self)
{
	const ScepSettings *s = self->settings;
	ScepPostInstallParams params = { 0 };
	if (s == NULL)
		return;
	params.instance = self->name;
	params.command = s->post_install_command;
	params.unit = s->post_install_unit;
	params.unit_action = s->post_install_unit_action;
	params.timeout_seconds = (guint)s->post_install_timeout;
	params.cert_file = self->paths->cert_path;
	params.key_file = self->paths->key_path;
	params.chain_file = self->paths->chain_path;
	if (scep_post_install_params_is_empty(&params))
		return;
	g_cancellable_cancel(self->post_cancellable);
	g_clear_object(&self->post_cancellable);
	self->post_cancellable = g_cancellable_new();
	scep_post_install_run_async(
	    &params, self->post_cancellable, scep_profile_post_install_cb, g_object_ref(self));
}

static void
scep_profile_install(ScepProfile *self, ScepNdesOutcome *outcome, gnutls_privkey_t key)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) key_pem = scep_csr_export_key_pem(key, &error);
	g_autofree gchar *cert_text = NULL;
	g_autoptr(GString) chain = g_string_new(NULL);
	g_autoptr(GBytes) cert_pem = NULL;
	g_autoptr(GBytes) chain_pem = NULL;
	g_autofree gchar *until = NULL;
	g_autofree gchar *reason = NULL;
	ScepProfileOp op = self->op;
	gboolean fulfils;

	if (key_pem == NULL) {
		scep_profile_op_fail(self, g_steal_pointer(&error));
		return;
	}
	cert_text = scep_profile_der_to_pem(outcome->certificate, "CERTIFICATE");
	cert_pem = g_bytes_new(cert_text, strlen(cert_text));
	for (guint i = 0; outcome->chain != NULL && i < outcome->chain->len; i++) {
		g_autofree gchar *one =
		    scep_profile_der_to_pem(g_ptr_array_index(outcome->chain, i), "CERTIFICATE");
		g_string_append(chain, one);
	}
	chain_pem = g_bytes_new(chain->str, chain->len);
	if (!scep_cert_store_install(
		self->dir, self->paths, key_pem, cert_pem, chain_pem, &error)) {
		g_prefix_error(&error, "installation failed, the previous certificate stays: ");
		scep_profile_op_fail(self, g_steal_pointer(&error));
		return;
	}
	fulfils = ((op == SCEP_PROFILE_OP_START_OVER || op == SCEP_PROFILE_OP_ENROLL) &&
		   self->request_current) ||
		  (op == SCEP_PROFILE_OP_POLL &&
		   (g_strcmp0(self->persist->operation, "start-over") == 0 ||
		    g_strcmp0(self->persist->operation, "enroll") == 0));
	scep_profile_op_end(self);
	/* a pending request never outlives a re-enrollment request (it is dropped then), so a
	 * polled start-over was built from the current settings too */
	if (fulfils)
		self->persist->reenroll_requested = FALSE;
	scep_profile_set_installed_paths(self);
	g_free(self->persist->installed_subject);
	self->persist->installed_subject = g_steal_pointer(&self->persist->request_subject);
	self->persist->attempt = 0;
	self->persist->next_attempt = 0;
	g_clear_pointer(&self->persist->new_key_pem, g_bytes_unref);
	g_clear_pointer(&self->persist->pending, scep_pending_free);
	g_clear_pointer(&self->persist->operation, g_free);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_TRANSACTION_ID]);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_ATTEMPT]);
	scep_profile_set_last_error(self, NULL);
	scep_profile_load_cert(self);
	until = scep_profile_time_to_string(self->not_after);
	reason = g_strdup_printf("certificate %s installed (%s), valid until %s",
				 self->serial != NULL ? self->serial : "?",
				 self->subject != NULL ? self->subject : "",
				 until);
	scep_profile_set_state(self, SCEP_PROFILE_STATE_VALID, reason);
	scep_profile_complete_waiters(self, NULL);
	scep_profile_run_post_install(self);
	scep_profile_evaluate(self);
}

static void
scep_profile_handle_outcome(ScepProfile *self, ScepNdesOutcome *outcome)
{
	g_autofree gchar *reason = NULL;
	if (outcome->status == SCEP_NDES_STATUS_ISSUED) {
		g_autoptr(GError) error = NULL;
		g_auto(gnutls_privkey_t) key = NULL;
		if (self->new_key != NULL)
			key = g_steal_pointer(&self->new_key);
		else if (self->persist->pending != NULL)
			key = scep_pending_dup_key(self->persist->pending, &error);
		if (key == NULL) {
			if (error == NULL)
				error = g_error_new_literal(
				    SCEP_NDES_ERROR, SCEP_NDES_ERROR_CRYPTO, "the new key is lost");
			scep_profile_op_fail(self, g_steal_pointer(&error));
			return;
		}
		scep_profile_install(self, outcome, key);
		return;
	}
	/* pending: the key lives in the pending state from now on */
	if (outcome->pending != NULL) {
		g_clear_pointer(&self->persist->pending, scep_pending_free);
		self->persist->pending = g_steal_pointer(&outcome->pending);
	}
	g_clear_pointer(&self->persist->new_key_pem, g_bytes_unref);
	scep_profile_op_end(self);
	if (self->persist->pending == NULL) {
		scep_profile_op_fail(self,
				     g_error_new_literal(SCEP_NDES_ERROR,
							 SCEP_NDES_ERROR_BAD_RESPONSE,
							 "pending reply without a pending state"));
		return;
	}
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_TRANSACTION_ID]);
	reason = g_strdup_printf("transaction %s pending at the CA (poll %u)",
				 self->persist->pending->transaction_id,
				 self->persist->pending->poll_count);
	scep_profile_set_state(self, SCEP_PROFILE_STATE_PENDING, reason);
	scep_profile_save(self);
	scep_profile_complete_waiters(self, NULL);
	scep_profile_evaluate(self);
}

static void
scep_profile_enroll_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(ScepProfile) self = SCEP_PROFILE(user_data);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesOutcome) outcome = NULL;
	if (self->op == SCEP_PROFILE_OP_POLL)
		outcome = scep_ndes_client_poll_finish(SCEP_NDES_CLIENT(source), result, &error);
	else
		outcome = scep_ndes_client_enroll_finish(SCEP_NDES_CLIENT(source), result, &error);
	if (outcome == NULL) {
		scep_profile_op_fail(self, g_steal_pointer(&error));
		return;
	}
	scep_profile_handle_outcome(self, outcome);
}

static void scep_profile_submit(ScepProfile *self);

static void
scep_profile_submit_dns_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(ScepProfile) self = SCEP_PROFILE(user_data);
	g_autoptr(GError) error = NULL;
	if (!scep_settings_map_refresh_dns_domain_finish(result, &error)) {
		scep_profile_op_fail(self, g_steal_pointer(&error));
		return;
	}
	scep_profile_submit(self);
}

static void
scep_profile_submit(ScepProfile *self)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepCsrParams) params = scep_settings_map_csr_params(self->settings, &error);
	const ScepCaps *caps = scep_ndes_client_get_caps(self->client);
	ScepNdesEnrollRequest request = {
		.message_type = SCEP_MESSAGE_TYPE_PKCS_REQ,
		.key = self->new_key,
	};
	g_auto(gnutls_x509_crt_t) signer_cert = NULL;
	g_auto(gnutls_privkey_t) signer_key = NULL;
	g_autofree gchar *reason = NULL;

	if (params == NULL && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
		/* the subject or a SAN needs the DNS domain: asked off the main loop, then again */
		g_debug("profile %s: %s", self->name, error->message);
		scep_settings_map_refresh_dns_domain_async(
		    self->cancellable, scep_profile_submit_dns_cb, g_object_ref(self));
		return;
	}
	if (params == NULL) {
		scep_profile_op_fail(self, g_steal_pointer(&error));
		return;
	}
	/* what was asked for: the CA may issue another subject, which must not count as a change
	 * of the device's name (hostname_change_handling) */
	g_free(self->persist->request_subject);
	self->persist->request_subject = scep_settings_map_subject(self->settings, NULL);
	self->request_current = TRUE;
	if (self->challenge != NULL &&
	    scep_clock_get_wall(self->clock) - self->challenge_at > SCEP_NDES_CHALLENGE_MAX_AGE) {
		/* too old to trust (NDES: 60 minutes): a new one, the key stays */
		g_message("profile %s: the challenge password is too old, fetching a new one",
			  self->name);
		g_clear_pointer(&self->challenge, scep_ndes_challenge_free);
		g_clear_pointer(&self->new_key, gnutls_privkey_deinit);
		scep_profile_fetch_ndes_challenge(self);
		return;
	}
	if (self->challenge != NULL) {
		/* fetched for this request only; wiped as soon as the request is built */
		g_autoptr(ScepNdesChallenge) challenge = g_steal_pointer(&self->challenge);
		scep_csr_params_set_challenge_password(params,
						       scep_ndes_challenge_get_password(challenge));
	} else if (self->settings->crypt_password[0] != '\0' &&
		   !scep_settings_map_challenge_from_ndes(self->settings)) {
		scep_csr_params_set_challenge_password(params, self->settings->crypt_password);
	}
	request.csr_params = params;
	if (self->op == SCEP_PROFILE_OP_RENEW) {
		if (!scep_cert_store_load(self->paths, &signer_cert, &signer_key, &error)) {
			g_prefix_error(&error, "the current certificate cannot sign the renewal: ");
			scep_profile_op_fail(self, g_steal_pointer(&error));
			return;
		}
		request.signer_cert = signer_cert;
		request.signer_key = signer_key;
		if (g_strcmp0(self->settings->renewal_message_type, "RenewalReq") == 0 &&
		    caps != NULL && scep_caps_supports_renewal(caps))
			request.message_type = SCEP_MESSAGE_TYPE_RENEWAL_REQ;
		reason = g_strdup_printf("%s signed with the current certificate %s",
					 request.message_type == SCEP_MESSAGE_TYPE_RENEWAL_REQ
					     ? "RenewalReq"
					     : "PKCSReq",
					 self->serial != NULL ? self->serial : "");
	} else {
		reason = g_strdup("PKCSReq with a self-signed signer");
	}
	scep_profile_set_state(self, SCEP_PROFILE_STATE_SUBMITTING, reason);
	scep_ndes_client_enroll_async(
	    self->client, &request, self->cancellable, scep_profile_enroll_cb, g_object_ref(self));
}

static void
scep_profile_keygen_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(ScepProfile) self = SCEP_PROFILE(user_data);
	g_autoptr(GError) error = NULL;
	gnutls_privkey_t key = scep_csr_generate_key_finish(result, &error);
	if (key == NULL) {
		scep_profile_op_fail(self, g_steal_pointer(&error));
		return;
	}
	if (g_cancellable_set_error_if_cancelled(self->cancellable, &error)) {
		gnutls_privkey_deinit(key);
		scep_profile_op_fail(self, g_steal_pointer(&error));
		return;
	}
	self->new_key = key;
	/* durable before the request leaves: after a crash the same key (and so the same
	 * transaction ID) is sent again instead of a new transaction */
	g_clear_pointer(&self->persist->new_key_pem, g_bytes_unref);
	self->persist->new_key_pem = scep_csr_export_key_pem(key, &error);
	if (self->persist->new_key_pem == NULL) {
		scep_profile_op_fail(self, g_steal_pointer(&error));
		return;
	}
	scep_profile_save(self);
	scep_profile_submit(self);
}

static void
scep_profile_ensure_key(ScepProfile *self)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *reason = NULL;
	guint bits = (guint)self->settings->keysize;

	if (self->persist->new_key_pem != NULL) {
		gnutls_privkey_t key = scep_csr_import_key(self->persist->new_key_pem, &error);
		guint have = 0;
		if (key != NULL)
			gnutls_privkey_get_pk_algorithm(key, &have);
		if (key != NULL && have == bits) {
			g_message("profile %s: reusing the key of the interrupted request",
				  self->name);
			self->new_key = key;
			scep_profile_submit(self);
			return;
		}
		if (key != NULL)
			gnutls_privkey_deinit(key);
		g_clear_pointer(&self->persist->new_key_pem, g_bytes_unref);
	}
	reason = g_strdup_printf("generating an RSA-%u key", bits);
	scep_profile_set_state(self, SCEP_PROFILE_STATE_GENERATING_KEY, reason);
	scep_csr_generate_key_async(
	    bits, self->cancellable, scep_profile_keygen_cb, g_object_ref(self));
}

static void
scep_profile_ndes_challenge_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(ScepProfile) self = SCEP_PROFILE(user_data);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesChallenge) challenge =
	    scep_ndes_admin_fetch_finish(SCEP_NDES_ADMIN(source), result, &error);
	if (self->op == SCEP_PROFILE_OP_NONE)
		return;
	if (challenge == NULL) {
		g_prefix_error(&error, "challenge from mscep_admin: ");
		scep_profile_op_fail(self, g_steal_pointer(&error));
		return;
	}
	g_clear_pointer(&self->challenge, scep_ndes_challenge_free);
	self->challenge = g_steal_pointer(&challenge);
	self->challenge_at = scep_clock_get_wall(self->clock);
	g_message("profile %s: one-time challenge password received from mscep_admin", self->name);
	scep_profile_ensure_key(self);
}

/* a fresh one-time challenge from NDES mscep_admin, right before the request that needs it */
static void
scep_profile_fetch_ndes_challenge(ScepProfile *self)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *reason = NULL;
	if (self->ndes_admin == NULL) {
		self->ndes_admin = scep_settings_map_new_ndes_admin(
		    self->settings, scep_ndes_client_get_ca_certs(self->client), &error);
		if (self->ndes_admin == NULL) {
			scep_profile_op_fail(self, g_steal_pointer(&error));
			return;
		}
	}
	g_clear_pointer(&self->challenge, scep_ndes_challenge_free);
	reason = g_strdup_printf("fetching a one-time challenge password from %s (%s as %s)",
				 scep_ndes_admin_get_url(self->ndes_admin),
				 self->settings->ndes_auth,
				 self->settings->ndes_user);
	scep_profile_set_state(self, SCEP_PROFILE_STATE_CHALLENGE, reason);
	scep_ndes_admin_fetch_async(self->ndes_admin,
				    self->cancellable,
				    scep_profile_ndes_challenge_cb,
				    g_object_ref(self));
}

static void
scep_profile_challenge(ScepProfile *self)
{
	g_autoptr(GError) error = NULL;
	if (!scep_settings_map_check_challenge(self->settings, &error)) {
		scep_profile_op_fail(self, g_steal_pointer(&error));
		return;
	}
	/* renewal signed with the current certificate needs no challenge */
	if (scep_settings_map_challenge_from_ndes(self->settings) &&
	    self->op != SCEP_PROFILE_OP_RENEW) {
		scep_profile_fetch_ndes_challenge(self);
		return;
	}
	if (self->op != SCEP_PROFILE_OP_RENEW)
		scep_profile_set_state(self,
				       SCEP_PROFILE_STATE_CHALLENGE,
				       self->settings->crypt_password[0] != '\0'
					   ? "static challenge password from the registry"
					   : "no challenge password configured");
	scep_profile_ensure_key(self);
}

/* ---- CA rollover ---- */

/*
 * The pins GetCACert tries in turn while the previous one is refused (CA rollover):
 * 0: the CA certificate the agent followed a rollover to from the configured pin,
 * 1: the configured pin (cafingerprint; none = trust on first use, then nothing else is tried),
 * 2: the next CA certificate that GetNextCACert (signed by a pinned CA) announced.
 * FALSE when pin @index does not apply; @pin_out: NULL for the configured one.
 */
static gboolean
scep_profile_ca_pin(ScepProfile *self, guint index, const gchar **pin_out)
{
	const ScepState *p = self->persist;
	const gchar *configured = self->settings->cafingerprint;

	*pin_out = NULL;
	if (index == 1)
		return TRUE;
	if (configured[0] == '\0')
		return FALSE;
	if (index == 0 && p->rollover_ca_fingerprint != NULL &&
	    g_strcmp0(p->rollover_pin, configured) == 0) {
		*pin_out = p->rollover_ca_fingerprint;
		return TRUE;
	}
	if (index == 2 && p->next_ca_fingerprint != NULL &&
	    g_strcmp0(p->next_ca_fingerprint, p->rollover_ca_fingerprint) != 0) {
		*pin_out = p->next_ca_fingerprint;
		return TRUE;
	}
	return FALSE;
}

/* a client from the settings, pinned to CA pin @from or the next one that applies; NULL with
 * @error unset when no pin is left */
static ScepNdesClient *
scep_profile_new_client(ScepProfile *self, guint from, GError **error)
{
	g_autoptr(ScepNdesClient) client = NULL;
	const gchar *pin = NULL;

	while (from <= 2 && !scep_profile_ca_pin(self, from, &pin))
		from++;
	if (from > 2)
		return NULL;
	client = scep_settings_map_new_client(self->settings, error);
	if (client == NULL)
		return NULL;
	if (pin != NULL)
		scep_ndes_client_set_fingerprint(client, pin, GNUTLS_DIG_SHA256);
	self->ca_pin_index = from;
	return g_steal_pointer(&client);
}

/*
 * When GetNextCACert is due for the current CA: at its rollover point
 * (ca_rollover_threshold_percent of its lifetime), and after a try that brought nothing new
 * expiry_check_interval later. 0 when it is not: the CA is not known yet, or its next CA was
 * fetched already.
 */
static gint64
scep_profile_next_ca_due(ScepProfile *self)
{
	const ScepState *p = self->persist;
	gint64 at;

	if (self->settings == NULL || p->ca_fingerprint == NULL ||
	    p->ca_not_after <= p->ca_not_before)
		return 0;
	if (g_strcmp0(p->next_ca_checked_for, p->ca_fingerprint) == 0)
		return 0;
	at = p->ca_not_before + (p->ca_not_after - p->ca_not_before) *
				    self->settings->ca_rollover_threshold_percent / 100;
	if (p->next_ca_checked_at > 0)
		at = MAX(at,
			 p->next_ca_checked_at +
			     self->settings->expiry_check_interval * SCEP_PROFILE_DAY);
	return at;
}

static void
scep_profile_remove_next_ca_dir(ScepProfile *self)
{
	g_autofree gchar *dir = g_build_filename(self->dir, "next-ca", NULL);
	g_autoptr(GDir) listing = g_dir_open(dir, 0, NULL);
	const gchar *name;

	if (listing == NULL)
		return;
	while ((name = g_dir_read_name(listing)) != NULL) {
		g_autofree gchar *path = g_build_filename(dir, name, NULL);
		if (g_unlink(path) != 0)
			g_debug("profile %s: cannot remove %s: %s",
				self->name,
				path,
				g_strerror(errno));
	}
	if (g_rmdir(dir) != 0)
		g_debug("profile %s: cannot remove %s: %s", self->name, dir, g_strerror(errno));
}

/* the CA certificate just fetched into the state: identity, validity, the bundle */
static void
scep_profile_remember_ca(ScepProfile *self, ScepCaCerts *certs)
{
	ScepState *p = self->persist;
	gnutls_x509_crt_t ca = scep_ca_certs_get_ca(certs);
	g_autofree gchar *fp = scep_ca_cert_get_fingerprint(ca, GNUTLS_DIG_SHA256);
	GPtrArray *all = scep_ca_certs_get_all(certs);

	if (g_strcmp0(p->next_ca_fingerprint, fp) == 0) {
		/* trusted from now on in place of the configured pin, which named the old CA */
		g_message(
		    "profile %s: the CA moved to the next CA certificate %s that GetNextCACert "
		    "announced; it is trusted in place of cafingerprint until cafingerprint "
		    "is changed",
		    self->name,
		    fp);
		if (self->settings->cafingerprint[0] != '\0') {
			g_free(p->rollover_ca_fingerprint);
			p->rollover_ca_fingerprint = g_strdup(fp);
			g_free(p->rollover_pin);
			p->rollover_pin = g_strdup(self->settings->cafingerprint);
		}
		g_clear_pointer(&p->next_ca_fingerprint, g_free);
		scep_profile_remove_next_ca_dir(self);
	} else if (p->ca_fingerprint != NULL && g_strcmp0(p->ca_fingerprint, fp) != 0) {
		g_message("profile %s: the CA certificate changed from %s to %s",
			  self->name,
			  p->ca_fingerprint,
			  fp);
	}
	if (g_strcmp0(p->ca_fingerprint, fp) != 0) {
		g_free(p->ca_fingerprint);
		p->ca_fingerprint = g_steal_pointer(&fp);
		g_object_notify_by_pspec(G_OBJECT(self), props[PROP_CA_FINGERPRINT]);
	}
	p->ca_not_before = gnutls_x509_crt_get_activation_time(ca);
	p->ca_not_after = gnutls_x509_crt_get_expiration_time(ca);
	g_clear_pointer(&p->ca_certs_der, g_ptr_array_unref);
	p->ca_certs_der = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	for (guint i = 0; i < all->len; i++) {
		g_auto(ScepGnutlsDatum) der = { NULL, 0 };
		if (gnutls_x509_crt_export2(g_ptr_array_index(all, i), GNUTLS_X509_FMT_DER, &der) >=
		    0)
			g_ptr_array_add(p->ca_certs_der, g_bytes_new(der.data, der.size));
	}
}

/* the next CA bundle, kept in <instance>/next-ca/ beside the current one */
static void
scep_profile_keep_next_ca(ScepProfile *self, ScepCaCerts *next)
{
	ScepState *p = self->persist;
	ScepCaCerts *current = scep_ndes_client_get_ca_certs(self->client);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *next_dir = g_build_filename(self->dir, "next-ca", NULL);
	g_autofree gchar *fp =
	    scep_ca_cert_get_fingerprint(scep_ca_certs_get_ca(next), GNUTLS_DIG_SHA256);
	g_autofree gchar *old_root = NULL;
	g_autofree gchar *new_root = NULL;

	if (g_strcmp0(fp, p->ca_fingerprint) == 0) {
		g_message("profile %s: GetNextCACert returned the current CA certificate: no "
			  "rollover yet, asking again in %" G_GINT64_FORMAT " days",
			  self->name,
			  self->settings->expiry_check_interval);
		return;
	}
	if (!scep_ca_certs_save(next, next_dir, &error)) {
		g_warning("profile %s: next CA not saved, asking again in %" G_GINT64_FORMAT
			  " days: %s",
			  self->name,
			  self->settings->expiry_check_interval,
			  error->message);
		return;
	}
	g_message("profile %s: next CA certificate %s saved in %s", self->name, fp, next_dir);
	g_free(p->next_ca_fingerprint);
	p->next_ca_fingerprint = g_steal_pointer(&fp);
	g_free(p->next_ca_checked_for);
	p->next_ca_checked_for = g_strdup(p->ca_fingerprint);
	old_root = scep_ca_cert_get_fingerprint(scep_ca_certs_get_root(current), GNUTLS_DIG_SHA256);
	new_root = scep_ca_cert_get_fingerprint(scep_ca_certs_get_root(next), GNUTLS_DIG_SHA256);
	if (g_strcmp0(old_root, new_root) != 0)
		g_warning("profile %s: the CA's root changes from %s to %s: relying parties must "
			  "trust the new root before the CA moves to it",
			  self->name,
			  old_root,
			  new_root);
}

/* a CA rollover check ends: back to what the instance was doing (or a queued request) */
static void
scep_profile_ca_refresh_done(ScepProfile *self, GError *error)
{
	g_autoptr(GError) owned = error;
	gboolean queued = self->queued_request;
	gboolean start_over = self->queued_start_over;

	if (error != NULL && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		self->persist->next_ca_checked_at = scep_clock_get_wall(self->clock);
		g_warning("profile %s: CA rollover check failed, trying again in %" G_GINT64_FORMAT
			  " days: %s",
			  self->name,
			  self->settings != NULL ? self->settings->expiry_check_interval : 1,
			  error->message);
	}
	scep_profile_op_end(self);
	self->queued_request = FALSE;
	self->queued_start_over = FALSE;
	scep_profile_save(self);
	if (self->stopped) {
		g_autoptr(GError) cancelled =
		    g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CANCELLED, "profile stopped");
		scep_profile_complete_waiters(self, cancelled);
		return;
	}
	if (queued && self->settings != NULL && self->settings->enabled) {
		scep_profile_request_begin(self, start_over);
		return;
	}
	if (queued) {
		g_autoptr(GError) disabled = g_error_new(G_IO_ERROR,
							 G_IO_ERROR_NOT_SUPPORTED,
							 "profile %s is no longer enabled",
							 self->name);
		scep_profile_complete_waiters(self, disabled);
	}
	scep_profile_evaluate(self);
}

/* a step before the challenge failed */
static void
scep_profile_ca_step_failed(ScepProfile *self, GError *error)
{
	if (self->op == SCEP_PROFILE_OP_CA_REFRESH)
		scep_profile_ca_refresh_done(self, error);
	else
		scep_profile_op_fail(self, error);
}

/* the CA (and the next CA when due) are known: on to the request, or done */
static void
scep_profile_ca_ready(ScepProfile *self)
{
	if (self->op == SCEP_PROFILE_OP_CA_REFRESH)
		scep_profile_ca_refresh_done(self, NULL);
	else
		scep_profile_challenge(self);
}

static void
scep_profile_next_ca_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(ScepProfile) self = SCEP_PROFILE(user_data);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepCaCerts) next =
	    scep_ndes_client_get_next_ca_finish(SCEP_NDES_CLIENT(source), result, &error);

	if (self->op == SCEP_PROFILE_OP_NONE)
		return;
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		scep_profile_ca_step_failed(self, g_steal_pointer(&error));
		return;
	}
	self->persist->next_ca_checked_at = scep_clock_get_wall(self->clock);
	if (next == NULL)
		g_warning("profile %s: GetNextCACert failed, asking again in %" G_GINT64_FORMAT
			  " days: %s",
			  self->name,
			  self->settings->expiry_check_interval,
			  error->message);
	else
		scep_profile_keep_next_ca(self, next);
	scep_profile_save(self);
	scep_profile_ca_ready(self);
}

static void scep_profile_fetch_ca_cb(GObject *source, GAsyncResult *result, gpointer user_data);

/*
 * GetCACert was refused by the pin: the server may have moved to the next CA certificate, which
 * cafingerprint does not name yet. TRUE when GetCACert was started again with the next pin.
 */
static gboolean
scep_profile_retry_ca_pin(ScepProfile *self, const GError *error)
{
	g_autoptr(GError) error_local = NULL;
	g_autoptr(ScepNdesClient) client = NULL;
	guint tried = self->ca_pin_index;

	if (!g_error_matches(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_UNTRUSTED))
		return FALSE;
	client = scep_profile_new_client(self, tried + 1, &error_local);
	if (client == NULL)
		return FALSE;
	g_message("profile %s: %s; trying the CA certificate %s instead",
		  self->name,
		  error->message,
		  tried == 0 ? "that cafingerprint names" : "that GetNextCACert announced");
	g_clear_object(&self->client);
	self->client = g_steal_pointer(&client);
	scep_ndes_client_fetch_ca_async(
	    self->client, self->cancellable, scep_profile_fetch_ca_cb, g_object_ref(self));
	return TRUE;
}

static void
scep_profile_fetch_ca_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(ScepProfile) self = SCEP_PROFILE(user_data);
	g_autoptr(GError) error = NULL;
	ScepState *p = self->persist;
	gint64 due;

	if (!scep_ndes_client_fetch_ca_finish(SCEP_NDES_CLIENT(source), result, &error)) {
		if (!scep_profile_retry_ca_pin(self, error))
			scep_profile_ca_step_failed(self, g_steal_pointer(&error));
		return;
	}
	scep_profile_remember_ca(self, scep_ndes_client_get_ca_certs(self->client));
	if (!scep_ndes_client_get_ca_pinned(self->client))
		g_warning("profile %s: cafingerprint is empty, the CA is trusted on first use",
			  self->name);
	due = scep_profile_next_ca_due(self);
	if (due != 0 && scep_clock_get_wall(self->clock) >= due) {
		const ScepCaps *caps = scep_ndes_client_get_caps(self->client);
		if (caps != NULL && scep_caps_supports_get_next_ca_cert(caps)) {
			g_message("profile %s: CA certificate past %" G_GINT64_FORMAT
				  "%% of its lifetime, asking for the next one",
				  self->name,
				  self->settings->ca_rollover_threshold_percent);
			scep_ndes_client_get_next_ca_async(self->client,
							   self->cancellable,
							   scep_profile_next_ca_cb,
							   g_object_ref(self));
			return;
		}
		g_message("profile %s: CA certificate past its rollover point, but the server does "
			  "not offer GetNextCACert: the next CA will be taken from GetCACert once "
			  "the server presents it",
			  self->name);
		/* not asked again for this CA */
		g_free(p->next_ca_checked_for);
		p->next_ca_checked_for = g_strdup(p->ca_fingerprint);
		p->next_ca_checked_at = scep_clock_get_wall(self->clock);
	}
	scep_profile_save(self);
	scep_profile_ca_ready(self);
}

static void
scep_profile_op_begin(ScepProfile *self, ScepProfileOp op, const gchar *why)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *reason = NULL;

	scep_profile_clear_deadline(self);
	self->op = op;
	self->cancellable = g_cancellable_new();
	if (op == SCEP_PROFILE_OP_CA_REFRESH) {
		/* not an enrollment attempt: last_attempt and the state stay, the reason says it */
		self->client = scep_profile_new_client(self, 0, &error);
		if (self->client == NULL) {
			scep_profile_ca_refresh_done(self, g_steal_pointer(&error));
			return;
		}
		reason = g_strdup_printf("%s: GetCACaps, GetCACert and GetNextCACert from %s",
					 why,
					 self->settings->scepurl);
		scep_profile_set_state(self, self->state, reason);
		scep_ndes_client_fetch_ca_async(
		    self->client, self->cancellable, scep_profile_fetch_ca_cb, g_object_ref(self));
		return;
	}
	self->persist->last_attempt = scep_clock_get_wall(self->clock);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_LAST_ATTEMPT]);
	if (op == SCEP_PROFILE_OP_POLL) {
		ScepPending *pending = self->persist->pending;
		self->client = scep_ndes_client_new_for_pending(pending, &error);
		if (self->client == NULL) {
			scep_profile_op_fail(self, g_steal_pointer(&error));
			return;
		}
		scep_ndes_client_set_timeouts(self->client,
					      (guint)self->settings->connect_timeout,
					      (guint)self->settings->request_timeout);
		g_debug(
		    "profile %s: CertPoll for transaction %s", self->name, pending->transaction_id);
		scep_ndes_client_poll_async(self->client,
					    pending,
					    self->cancellable,
					    scep_profile_enroll_cb,
					    g_object_ref(self));
		return;
	}
	g_free(self->persist->operation);
	self->persist->operation = g_strdup(scep_profile_op_to_string(op));
	if (op != SCEP_PROFILE_OP_ENROLL)
		scep_profile_set_state(self, SCEP_PROFILE_STATE_RENEWING, why);
	self->client = scep_profile_new_client(self, 0, &error);
	if (self->client == NULL) {
		scep_profile_op_fail(self, g_steal_pointer(&error));
		return;
	}
	reason = op == SCEP_PROFILE_OP_ENROLL
		     ? g_strdup_printf(
			   "%s: GetCACaps and GetCACert from %s", why, self->settings->scepurl)
		     : g_strdup_printf("GetCACaps and GetCACert from %s", self->settings->scepurl);
	scep_profile_set_state(self, SCEP_PROFILE_STATE_FETCHING_CA, reason);
	scep_ndes_client_fetch_ca_async(
	    self->client, self->cancellable, scep_profile_fetch_ca_cb, g_object_ref(self));
}

/* ---- what to do now ---- */

static void
scep_profile_evaluate_dns_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(ScepProfile) self = SCEP_PROFILE(user_data);
	scep_settings_map_refresh_dns_domain_finish(result, NULL);
	self->looking_up_dns = FALSE;
	if (!self->stopped)
		scep_profile_evaluate(self);
}

/*
 * Whether the subject the settings ask for now (with the host name read afresh) differs from
 * the one that was asked for when the installed certificate was requested. The request is
 * compared rather than the certificate: a CA that writes its own subject (NDES templates that
 * take it from the directory) would otherwise make every new certificate "not match" and the
 * instance enroll in a loop. A state file from before this was recorded falls back to the
 * certificate's subject. When the subject needs a DNS domain that is not known yet, the resolver
 * is asked off the main loop, @looking_up is set and the evaluation runs again once it answered.
 */
static gboolean
scep_profile_subject_changed(ScepProfile *self, gboolean *looking_up)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *dn = scep_settings_map_subject(self->settings, &error);
	g_autoptr(GBytes) want = NULL;
	g_autoptr(GBytes) have = NULL;

	*looking_up = FALSE;
	if (dn == NULL && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
		*looking_up = TRUE;
		if (!self->looking_up_dns) {
			g_debug("profile %s: %s", self->name, error->message);
			self->looking_up_dns = TRUE;
			scep_settings_map_refresh_dns_domain_async(
			    NULL, scep_profile_evaluate_dns_cb, g_object_ref(self));
		}
		return FALSE;
	}
	if (dn == NULL || !self->has_cert)
		return FALSE;
	want = scep_csr_dn_to_der(dn, NULL);
	if (self->persist->installed_subject != NULL)
		have = scep_csr_dn_to_der(self->persist->installed_subject, NULL);
	else if (self->subject_der != NULL)
		have = g_bytes_ref(self->subject_der);
	return want != NULL && have != NULL && !g_bytes_equal(want, have);
}

/*
 * Times that were stored under a wall clock later set back (or wrong when the agent last ran)
 * would stall the instance: a back-off is never longer than the longest one from now, and
 * what happened cannot have happened in the future.
 */
static void
scep_profile_clamp_to_clock(ScepProfile *self, gint64 now)
{
	ScepState *p = self->persist;
	gint64 longest = SCEP_PROFILE_MAX_BACKOFF + SCEP_PROFILE_MAX_BACKOFF / 5;

	if (p->last_attempt > now + SCEP_PROFILE_CLOCK_SLACK) {
		p->last_attempt = now;
		g_object_notify_by_pspec(G_OBJECT(self), props[PROP_LAST_ATTEMPT]);
	}
	if (p->attempt > 0 && p->next_attempt > now + longest) {
		g_autofree gchar *was = scep_profile_time_to_string(p->next_attempt);
		p->next_attempt = now + scep_profile_backoff(self);
		g_message(
		    "profile %s: next attempt was planned at %s, beyond any back-off from now "
		    "(the clock was set back): re-planned",
		    self->name,
		    was);
	}
	if (p->next_ca_checked_at > now + SCEP_PROFILE_CLOCK_SLACK)
		p->next_ca_checked_at = now;
	if (p->pending != NULL) {
		if (p->pending->first_submitted > now + SCEP_PROFILE_CLOCK_SLACK)
			p->pending->first_submitted = now;
		if (p->pending->last_polled > now + SCEP_PROFILE_CLOCK_SLACK)
			p->pending->last_polled = now;
	}
}

static void
scep_profile_evaluate_pending(ScepProfile *self, gint64 now)
{
	ScepPending *pending = self->persist->pending;
	gint64 give_up = pending->first_submitted + self->settings->max_poll_time;
	gint64 next;
	g_autofree gchar *reason = NULL;

	if (now >= give_up) {
		g_autoptr(GError) error =
		    g_error_new(SCEP_NDES_ERROR,
				SCEP_NDES_ERROR_TIMEOUT,
				"transaction %s still pending after %" G_GINT64_FORMAT
				" s (max_poll_time), given up",
				pending->transaction_id,
				self->settings->max_poll_time);
		g_clear_pointer(&self->persist->pending, scep_pending_free);
		g_object_notify_by_pspec(G_OBJECT(self), props[PROP_TRANSACTION_ID]);
		self->op = SCEP_PROFILE_OP_POLL;
		scep_profile_op_fail(self, g_steal_pointer(&error));
		return;
	}
	reason = g_strdup_printf("transaction %s pending at the CA (poll %u)",
				 pending->transaction_id,
				 pending->poll_count);
	scep_profile_set_state(self, SCEP_PROFILE_STATE_PENDING, reason);
	next = (pending->last_polled > 0 ? pending->last_polled : pending->first_submitted) +
	       self->settings->poll_interval;
	if (self->resume_poll || now >= next) {
		self->resume_poll = FALSE;
		scep_profile_op_begin(self, SCEP_PROFILE_OP_POLL, reason);
		return;
	}
	scep_profile_plan(self, MIN(next, give_up));
}

static void
scep_profile_evaluate(ScepProfile *self)
{
	const ScepSettings *s = self->settings;
	g_autoptr(GError) error = NULL;
	ScepProfileOp op = SCEP_PROFILE_OP_NONE;
	g_autofree gchar *why = NULL;
	gboolean looking_up = FALSE;
	gint64 now;

	if (!self->started || self->stopped || self->op != SCEP_PROFILE_OP_NONE)
		return;
	scep_profile_clear_deadline(self);
	if (s == NULL) {
		scep_profile_set_state(self,
				       SCEP_PROFILE_STATE_UNCONFIGURED,
				       self->invalid_reason != NULL ? self->invalid_reason
								    : "no valid settings");
		return;
	}
	if (!s->enabled) {
		scep_profile_set_state(self, SCEP_PROFILE_STATE_DISABLED, "enabled is false");
		return;
	}
	if (!scep_settings_map_check_challenge(s, &error)) {
		scep_profile_set_state(self, SCEP_PROFILE_STATE_UNCONFIGURED, error->message);
		return;
	}
	now = scep_clock_get_wall(self->clock);
	scep_profile_clamp_to_clock(self, now);
	if (self->persist->pending != NULL) {
		scep_profile_evaluate_pending(self, now);
		return;
	}
	if (!self->has_cert) {
		op = SCEP_PROFILE_OP_ENROLL;
		why = g_strdup("no certificate installed");
	} else if (now >= self->expiry && self->persist->operation == NULL &&
		   now < self->persist->last_attempt + s->retry_interval) {
		/* expired right after an attempt: the CA's clock and ours disagree */
		g_autofree gchar *when = scep_profile_time_to_string(self->expiry);
		g_autofree gchar *reason = g_strdup_printf(
		    "certificate expired at %s although just obtained: check the clock", when);
		scep_profile_set_state(self, SCEP_PROFILE_STATE_FAILED, reason);
		scep_profile_plan(self, self->persist->last_attempt + s->retry_interval);
		return;
	} else if (now >= self->expiry) {
		g_autofree gchar *when = scep_profile_time_to_string(self->expiry);
		op = SCEP_PROFILE_OP_START_OVER;
		why =
		    self->expiry < self->not_after
			? g_strdup_printf("the CA certificate that issued the certificate expired "
					  "at %s: start-over",
					  when)
			: g_strdup_printf("certificate expired at %s: start-over", when);
	} else if (self->persist->reenroll_requested) {
		op = SCEP_PROFILE_OP_START_OVER;
		why = g_strdup("subject, SAN or key settings changed: new enrollment");
	} else if (g_strcmp0(s->hostname_change_handling, "Reset") == 0 &&
		   scep_profile_subject_changed(self, &looking_up)) {
		op = SCEP_PROFILE_OP_START_OVER;
		why = g_strdup("the subject no longer matches (hostname_change_handling=Reset): "
			       "start-over");
	} else if (now >= self->renewal_time && self->persist->operation == NULL &&
		   now < self->persist->last_attempt + s->retry_interval) {
		/* a certificate that is due right after it was obtained (a CA that shortens
		 * lifetimes): never renew in a tight loop */
		g_autofree gchar *until = scep_profile_time_to_string(self->not_after);
		g_autofree gchar *reason = g_strdup_printf(
		    "valid until %s, renewal due but the last attempt was less than "
		    "retry_interval ago",
		    until);
		scep_profile_set_state(self, SCEP_PROFILE_STATE_VALID, reason);
		scep_profile_plan(self, self->persist->last_attempt + s->retry_interval);
		return;
	} else if (now >= self->renewal_time) {
		ScepRenewalMethod method = scep_settings_get_renewal_method(s);
		op = method == SCEP_RENEWAL_METHOD_START_OVER ? SCEP_PROFILE_OP_START_OVER
							      : SCEP_PROFILE_OP_RENEW;
		why = g_strdup_printf("renewal due (renewal_method %s)", s->renewal_method);
	}
	if (looking_up)
		return; /* again once the resolver has answered */
	if (op == SCEP_PROFILE_OP_NONE) {
		g_autofree gchar *until = scep_profile_time_to_string(self->not_after);
		g_autofree gchar *ca_until = scep_profile_time_to_string(self->expiry);
		g_autofree gchar *renew = scep_profile_time_to_string(self->renewal_time);
		g_autofree gchar *reason =
		    self->expiry < self->not_after
			? g_strdup_printf(
			      "valid until %s (its CA certificate until %s), renewal at %s",
			      until,
			      ca_until,
			      renew)
			: g_strdup_printf("valid until %s, renewal at %s", until, renew);
		gint64 ca_due = scep_profile_next_ca_due(self);
		gint64 wake =
		    MIN(self->renewal_time, now + s->expiry_check_interval * SCEP_PROFILE_DAY);
		scep_profile_set_state(self, SCEP_PROFILE_STATE_VALID, reason);
		if (ca_due != 0 && now >= ca_due) {
			scep_profile_op_begin(self,
					      SCEP_PROFILE_OP_CA_REFRESH,
					      "CA certificate at its rollover point");
			return;
		}
		scep_profile_plan(self, ca_due != 0 ? MIN(wake, ca_due) : wake);
		return;
	}
	if (self->persist->attempt > 0 && self->persist->next_attempt > now) {
		/* backing off: the state and reason of the failure stay */
		if (self->state != SCEP_PROFILE_STATE_FAILED &&
		    self->state != SCEP_PROFILE_STATE_REJECTED)
			scep_profile_set_state(self,
					       SCEP_PROFILE_STATE_FAILED,
					       self->persist->last_error != NULL
						   ? self->persist->last_error
						   : "waiting to retry");
		scep_profile_plan(self, self->persist->next_attempt);
		return;
	}
	scep_profile_op_begin(self, op, why);
}

/* ---- start / stop ---- */

static void
scep_profile_time_jumped_cb(ScepClock *clock, gpointer user_data)
{
	ScepProfile *self = SCEP_PROFILE(user_data);
	g_debug("profile %s: wall clock changed, re-planning", self->name);
	scep_profile_evaluate(self);
}

void
scep_profile_start(ScepProfile *self)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepState) loaded = NULL;
	g_autoptr(ScepCertPaths) installed = NULL;

	g_return_if_fail(SCEP_IS_PROFILE(self));
	if (self->started)
		return;
	if (g_mkdir_with_parents(self->dir, 0700) != 0)
		g_warning(
		    "profile %s: cannot create %s: %s", self->name, self->dir, g_strerror(errno));
	loaded = scep_state_load(self->state_path, &error);
	if (loaded == NULL) {
		g_warning("profile %s: state file unreadable, starting afresh: %s",
			  self->name,
			  error->message);
		g_clear_error(&error);
	} else {
		scep_state_free(self->persist);
		self->persist = g_steal_pointer(&loaded);
		if (g_file_test(self->state_path, G_FILE_TEST_EXISTS) &&
		    self->persist->state >= 0 && self->persist->state <= SCEP_PROFILE_STATE_LAST)
			self->state = (ScepProfileState)self->persist->state;
		g_free(self->reason);
		self->reason = g_strdup(self->persist->reason != NULL ? self->persist->reason : "");
	}
	/* an interrupted installation is finished or undone (the journal names its files); the
	 * installed paths are repaired too when the configured ones changed meanwhile */
	installed = scep_profile_installed_paths(self);
	if (!scep_cert_store_recover(self->dir, self->paths, &error) ||
	    (installed != NULL && !scep_profile_paths_equal(installed, self->paths) &&
	     !scep_cert_store_recover(self->dir, installed, &error))) {
		g_warning("profile %s: repair of the installation failed: %s",
			  self->name,
			  error->message);
		g_clear_error(&error);
	}
	self->started = TRUE;
	scep_profile_ensure_installed_paths(self, installed);
	scep_profile_load_cert(self);
	if (self->has_cert && installed == NULL) {
		/* a state file from before the installed paths were recorded */
		scep_profile_set_installed_paths(self);
		scep_profile_save(self);
	}
	if (self->persist->pending != NULL) {
		g_message("profile %s: resuming pending transaction %s",
			  self->name,
			  self->persist->pending->transaction_id);
		self->resume_poll = TRUE;
	}
	self->jump_id = g_signal_connect(
	    self->clock, "time-jumped", G_CALLBACK(scep_profile_time_jumped_cb), self);
	scep_profile_evaluate(self);
}

void
scep_profile_host_name_changed(ScepProfile *self)
{
	g_return_if_fail(SCEP_IS_PROFILE(self));
	if (self->settings == NULL ||
	    g_strcmp0(self->settings->hostname_change_handling, "Reset") != 0)
		return;
	g_debug("profile %s: the host name may have changed, checking the subject", self->name);
	/* an operation in flight evaluates again when it ends */
	scep_profile_evaluate(self);
}

void
scep_profile_stop(ScepProfile *self)
{
	g_return_if_fail(SCEP_IS_PROFILE(self));
	self->stopped = TRUE;
	scep_profile_clear_deadline(self);
	if (self->cancellable != NULL)
		g_cancellable_cancel(self->cancellable);
	if (self->post_cancellable != NULL)
		g_cancellable_cancel(self->post_cancellable);
	if (self->jump_id != 0) {
		g_signal_handler_disconnect(self->clock, self->jump_id);
		self->jump_id = 0;
	}
}

void
scep_profile_cancel(ScepProfile *self)
{
	g_return_if_fail(SCEP_IS_PROFILE(self));
	if (self->cancellable != NULL)
		g_cancellable_cancel(self->cancellable);
}

/* ---- explicit operations ---- */

static void
scep_profile_request(ScepProfile *self,
		     gboolean start_over,
		     GCancellable *cancellable,
		     GAsyncReadyCallback callback,
		     gpointer user_data,
		     gpointer tag)
{
	g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, tag);
	if (self->settings == NULL || !self->settings->enabled || !self->started) {
		g_task_return_new_error(task,
					G_IO_ERROR,
					G_IO_ERROR_NOT_SUPPORTED,
					"profile %s is %s",
					self->name,
					scep_profile_state_to_string(self->state));
		return;
	}
	g_ptr_array_add(self->waiters, g_steal_pointer(&task));
	if (self->op == SCEP_PROFILE_OP_CA_REFRESH) {
		/* started when the rollover check is done */
		self->queued_request = TRUE;
		self->queued_start_over |= start_over;
		return;
	}
	if (self->op != SCEP_PROFILE_OP_NONE)
		return;
	scep_profile_request_begin(self, start_over);
}

static void
scep_profile_request_begin(ScepProfile *self, gboolean start_over)
{
	ScepProfileOp op;

	if (self->persist->pending != NULL) {
		self->resume_poll = TRUE;
		scep_profile_evaluate(self);
		return;
	}
	self->persist->attempt = 0;
	self->persist->next_attempt = 0;
	if (!self->has_cert)
		op = SCEP_PROFILE_OP_ENROLL;
	else if (start_over || self->expiry <= scep_clock_get_wall(self->clock) ||
		 scep_settings_get_renewal_method(self->settings) == SCEP_RENEWAL_METHOD_START_OVER)
		op = SCEP_PROFILE_OP_START_OVER;
	else
		op = SCEP_PROFILE_OP_RENEW;
	scep_profile_op_begin(self, op, start_over ? "enrollment requested" : "renewal requested");
}

void
scep_profile_enroll_async(ScepProfile *self,
			  GCancellable *cancellable,
			  GAsyncReadyCallback callback,
			  gpointer user_data)
{
	g_return_if_fail(SCEP_IS_PROFILE(self));
	scep_profile_request(
	    self, TRUE, cancellable, callback, user_data, scep_profile_enroll_async);
}

gboolean
scep_profile_enroll_finish(ScepProfile *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}

void
scep_profile_renew_async(ScepProfile *self,
			 GCancellable *cancellable,
			 GAsyncReadyCallback callback,
			 gpointer user_data)
{
	g_return_if_fail(SCEP_IS_PROFILE(self));
	scep_profile_request(
	    self, FALSE, cancellable, callback, user_data, scep_profile_renew_async);
}

gboolean
scep_profile_renew_finish(ScepProfile *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}

/* ---- getters ---- */

const gchar *
scep_profile_get_name(ScepProfile *self)
{
	return self->name;
}

guint
scep_profile_get_instance(ScepProfile *self)
{
	return self->instance;
}

gboolean
scep_profile_get_enabled(ScepProfile *self)
{
	return self->settings != NULL && self->settings->enabled;
}

ScepProfileState
scep_profile_get_state(ScepProfile *self)
{
	return self->state;
}

const gchar *
scep_profile_get_reason(ScepProfile *self)
{
	return self->reason;
}

const gchar *
scep_profile_get_subject(ScepProfile *self)
{
	return self->subject;
}

const gchar *
scep_profile_get_issuer(ScepProfile *self)
{
	return self->issuer;
}

const gchar *
scep_profile_get_serial(ScepProfile *self)
{
	return self->serial;
}

gint64
scep_profile_get_not_before(ScepProfile *self)
{
	return self->not_before;
}

gint64
scep_profile_get_not_after(ScepProfile *self)
{
	return self->not_after;
}

gint64
scep_profile_get_renewal_time(ScepProfile *self)
{
	return self->renewal_time;
}

gint64
scep_profile_get_next_attempt(ScepProfile *self)
{
	return self->deadline_id != 0 ? self->next_wake : 0;
}

guint
scep_profile_get_attempt(ScepProfile *self)
{
	return self->persist->attempt;
}

const gchar *
scep_profile_get_last_error(ScepProfile *self)
{
	return self->persist->last_error;
}

const gchar *
scep_profile_get_last_error_name(ScepProfile *self)
{
	return self->persist->last_error_name;
}

gint64
scep_profile_get_last_attempt(ScepProfile *self)
{
	return self->persist->last_attempt;
}

const gchar *
scep_profile_get_renewal_method(ScepProfile *self)
{
	return self->settings != NULL ? self->settings->renewal_method : NULL;
}

const gchar *
scep_profile_get_ca_fingerprint(ScepProfile *self)
{
	return self->persist->ca_fingerprint;
}

const gchar *
scep_profile_get_cert_path(ScepProfile *self)
{
	return self->paths->cert_path;
}

const gchar *
scep_profile_get_key_path(ScepProfile *self)
{
	return self->paths->key_path;
}

const gchar *
scep_profile_get_chain_path(ScepProfile *self)
{
	return self->paths->chain_path;
}

const gchar *
scep_profile_get_transaction_id(ScepProfile *self)
{
	return self->persist->pending != NULL ? self->persist->pending->transaction_id : NULL;
}

/* ---- GObject ---- */

static void
scep_profile_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	ScepProfile *self = SCEP_PROFILE(object);
	switch (prop_id) {
	case PROP_NAME:
		g_value_set_string(value, self->name);
		break;
	case PROP_INSTANCE:
		g_value_set_uint(value, self->instance);
		break;
	case PROP_ENABLED:
		g_value_set_boolean(value, scep_profile_get_enabled(self));
		break;
	case PROP_STATE:
		g_value_set_uint(value, self->state);
		break;
	case PROP_REASON:
		g_value_set_string(value, self->reason);
		break;
	case PROP_SUBJECT:
		g_value_set_string(value, self->subject);
		break;
	case PROP_ISSUER:
		g_value_set_string(value, self->issuer);
		break;
	case PROP_SERIAL:
		g_value_set_string(value, self->serial);
		break;
	case PROP_NOT_BEFORE:
		g_value_set_int64(value, self->not_before);
		break;
	case PROP_NOT_AFTER:
		g_value_set_int64(value, self->not_after);
		break;
	case PROP_RENEWAL_TIME:
		g_value_set_int64(value, self->renewal_time);
		break;
	case PROP_NEXT_ATTEMPT:
		g_value_set_int64(value, scep_profile_get_next_attempt(self));
		break;
	case PROP_ATTEMPT:
		g_value_set_uint(value, self->persist->attempt);
		break;
	case PROP_LAST_ERROR:
		g_value_set_string(value, self->persist->last_error);
		break;
	case PROP_LAST_ERROR_NAME:
		g_value_set_string(value, self->persist->last_error_name);
		break;
	case PROP_LAST_ATTEMPT:
		g_value_set_int64(value, self->persist->last_attempt);
		break;
	case PROP_RENEWAL_METHOD:
		g_value_set_string(value, scep_profile_get_renewal_method(self));
		break;
	case PROP_CA_FINGERPRINT:
		g_value_set_string(value, self->persist->ca_fingerprint);
		break;
	case PROP_CERT_PATH:
		g_value_set_string(value, self->paths->cert_path);
		break;
	case PROP_KEY_PATH:
		g_value_set_string(value, self->paths->key_path);
		break;
	case PROP_CHAIN_PATH:
		g_value_set_string(value, self->paths->chain_path);
		break;
	case PROP_TRANSACTION_ID:
		g_value_set_string(value, scep_profile_get_transaction_id(self));
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
		break;
	}
}

static void
scep_profile_dispose(GObject *object)
{
	ScepProfile *self = SCEP_PROFILE(object);
	if (self->clock != NULL)
		scep_profile_stop(self);
	if (self->waiters != NULL && self->waiters->len > 0) {
		g_autoptr(GError) error =
		    g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CANCELLED, "profile removed");
		scep_profile_complete_waiters(self, error);
	}
	g_clear_object(&self->clock);
	g_clear_object(&self->ndes_admin);
	g_clear_pointer(&self->challenge, scep_ndes_challenge_free);
	G_OBJECT_CLASS(scep_profile_parent_class)->dispose(object);
}

static void
scep_profile_finalize(GObject *object)
{
	ScepProfile *self = SCEP_PROFILE(object);
	scep_profile_clear_cert(self);
	g_free(self->name);
	g_free(self->state_dir);
	g_free(self->dir);
	g_free(self->state_path);
	g_free(self->reason);
	g_free(self->invalid_reason);
	g_clear_pointer(&self->snapshot, scep_registry_snapshot_unref);
	g_clear_pointer(&self->persist, scep_state_free);
	g_clear_pointer(&self->paths, scep_cert_paths_free);
	g_clear_object(&self->cancellable);
	g_clear_object(&self->post_cancellable);
	g_clear_object(&self->client);
	g_clear_pointer(&self->new_key, gnutls_privkey_deinit);
	g_clear_pointer(&self->waiters, g_ptr_array_unref);
	G_OBJECT_CLASS(scep_profile_parent_class)->finalize(object);
}

static void
scep_profile_class_init(ScepProfileClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

	object_class->get_property = scep_profile_get_property;
	object_class->dispose = scep_profile_dispose;
	object_class->finalize = scep_profile_finalize;

	props[PROP_NAME] = g_param_spec_string("name", NULL, NULL, NULL, ro);
	props[PROP_INSTANCE] = g_param_spec_uint("instance", NULL, NULL, 0, G_MAXUINT, 0, ro);
	props[PROP_ENABLED] = g_param_spec_boolean("enabled", NULL, NULL, FALSE, ro);
	props[PROP_STATE] = g_param_spec_uint(
	    "state", NULL, NULL, 0, SCEP_PROFILE_STATE_LAST, SCEP_PROFILE_STATE_DISABLED, ro);
	props[PROP_REASON] = g_param_spec_string("reason", NULL, NULL, NULL, ro);
	props[PROP_SUBJECT] = g_param_spec_string("subject", NULL, NULL, NULL, ro);
	props[PROP_ISSUER] = g_param_spec_string("issuer", NULL, NULL, NULL, ro);
	props[PROP_SERIAL] = g_param_spec_string("serial", NULL, NULL, NULL, ro);
	props[PROP_NOT_BEFORE] =
	    g_param_spec_int64("not-before", NULL, NULL, G_MININT64, G_MAXINT64, 0, ro);
	props[PROP_NOT_AFTER] =
	    g_param_spec_int64("not-after", NULL, NULL, G_MININT64, G_MAXINT64, 0, ro);
	props[PROP_RENEWAL_TIME] =
	    g_param_spec_int64("renewal-time", NULL, NULL, G_MININT64, G_MAXINT64, 0, ro);
	props[PROP_NEXT_ATTEMPT] =
	    g_param_spec_int64("next-attempt", NULL, NULL, G_MININT64, G_MAXINT64, 0, ro);
	props[PROP_ATTEMPT] = g_param_spec_uint("attempt", NULL, NULL, 0, G_MAXUINT, 0, ro);
	props[PROP_LAST_ERROR] = g_param_spec_string("last-error", NULL, NULL, NULL, ro);
	props[PROP_LAST_ERROR_NAME] = g_param_spec_string("last-error-name", NULL, NULL, NULL, ro);
	props[PROP_LAST_ATTEMPT] =
	    g_param_spec_int64("last-attempt", NULL, NULL, G_MININT64, G_MAXINT64, 0, ro);
	props[PROP_RENEWAL_METHOD] = g_param_spec_string("renewal-method", NULL, NULL, NULL, ro);
	props[PROP_CA_FINGERPRINT] = g_param_spec_string("ca-fingerprint", NULL, NULL, NULL, ro);
	props[PROP_CERT_PATH] = g_param_spec_string("cert-path", NULL, NULL, NULL, ro);
	props[PROP_KEY_PATH] = g_param_spec_string("key-path", NULL, NULL, NULL, ro);
	props[PROP_CHAIN_PATH] = g_param_spec_string("chain-path", NULL, NULL, NULL, ro);
	props[PROP_TRANSACTION_ID] = g_param_spec_string("transaction-id", NULL, NULL, NULL, ro);
	g_object_class_install_properties(object_class, PROP_LAST, props);

	/* (old state, new state, reason) */
	signals[SIGNAL_STATE_CHANGED] = g_signal_new("state-changed",
						     G_TYPE_FROM_CLASS(klass),
						     G_SIGNAL_RUN_LAST,
						     0,
						     NULL,
						     NULL,
						     NULL,
						     G_TYPE_NONE,
						     3,
						     G_TYPE_UINT,
						     G_TYPE_UINT,
						     G_TYPE_STRING);
	/* (success, error message or "") after the post-install action of an installation */
	signals[SIGNAL_POST_INSTALL_FINISHED] = g_signal_new("post-install-finished",
							     G_TYPE_FROM_CLASS(klass),
							     G_SIGNAL_RUN_LAST,
							     0,
							     NULL,
							     NULL,
							     NULL,
							     G_TYPE_NONE,
							     2,
							     G_TYPE_BOOLEAN,
							     G_TYPE_STRING);
}

static void
scep_profile_init(ScepProfile *self)
{
	self->persist = scep_state_new();
	self->waiters = g_ptr_array_new_with_free_func(g_object_unref);
	self->reason = g_strdup("");
	self->state = SCEP_PROFILE_STATE_UNCONFIGURED;
}

ScepProfile *
scep_profile_new(guint instance, const gchar *state_dir, ScepClock *clock)
{
	ScepProfile *self = g_object_new(SCEP_TYPE_PROFILE, NULL);
	self->instance = instance;
	self->name = g_strdup_printf("cert%u", instance);
	self->state_dir = g_strdup(state_dir);
	self->dir = g_build_filename(state_dir, self->name, NULL);
	self->state_path = g_build_filename(self->dir, "state", NULL);
	self->clock = g_object_ref(clock);
	self->paths = scep_profile_make_paths(self);
	return self;
}
