#include "config.h"

#include "scep-dbus-daemon.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include "scep-dbus-generated.h"
#include "scep-error.h"

struct _ScepDbusDaemon {
	GObject parent_instance;
	ScepEngine *engine;          /* owned */
	GDBusConnection *connection; /* owned, nullable */
	ScepDbusManager *manager;    /* owned: the Manager skeleton */
	GHashTable *certs;           /* profile (unowned key) -> ScepDbusCert (owned) */
	GHashTable *certs_by_name;   /* profile name (unowned) -> ScepDbusCert (unowned) */
	GPtrArray *dirty;            /* of ScepDbusCert (unowned) with changes not yet sent */
	guint flush_id;              /* idle that sends PropertiesChanged for @dirty */
	guint summary_id;            /* idle that recounts the Summary property */
	guint object_manager_id;     /* org.freedesktop.DBus.ObjectManager at SCEP_DBUS_PATH */
	guint subtree_id;            /* the certificate objects under SCEP_DBUS_CERTIFICATES_PATH */
	gulong added_id;
	gulong removed_id;
	guint owner_id;
	gboolean manager_exported;
	gboolean has_admin_group;
	gid_t admin_gid; /* callers in this group may call the methods too */
};

G_DEFINE_TYPE(ScepDbusDaemon, scep_dbus_daemon, G_TYPE_OBJECT)

enum { SIGNAL_NAME_ACQUIRED, SIGNAL_NAME_LOST, SIGNAL_LAST };
static guint signals[SIGNAL_LAST] = { 0 };

#define SCEP_DBUS_CERTIFICATE_IFACE "org.scepagent.Agent1.Certificate"
#define SCEP_DBUS_CERT_N_PROPS      22

/* One exported certificate object. The object holds no copy of the properties: every read
 * comes from the profile, and a change is sent as PropertiesChanged only when the value the
 * clients last saw differs (a hash of it is kept per property), so that the idle daemon costs
 * little memory per instance. A hash collision (2^-32 per change) would only drop one
 * PropertiesChanged; Get, GetAll and GetManagedObjects always read the profile. */
typedef struct {
	ScepDbusDaemon *daemon; /* unowned: the daemon owns this */
	ScepProfile *profile;   /* owned */
	gchar *path;            /* owned: the object path */
	gulong notify_id;
	gulong state_changed_id;
	guint32 dirty;   /* a bit per entry of scep_dbus_cert_props[] not yet sent */
	gboolean queued; /* in daemon->dirty */
	guint32 sent_hash[SCEP_DBUS_CERT_N_PROPS]; /* g_variant_hash() of each value as last sent */
} ScepDbusCert;

typedef enum {
	SCEP_DBUS_CALL_ENROLL,
	SCEP_DBUS_CALL_RENEW,
	SCEP_DBUS_CALL_CANCEL,
	SCEP_DBUS_CALL_RELOAD,
	SCEP_DBUS_CALL_SET_KEYS,
	SCEP_DBUS_CALL_UNSET_KEYS,
} ScepDbusCall;

/* one mutating method call, from the handler through the caller check to the reply */
typedef struct {
	ScepDbusDaemon *self;              /* owned */
	GDBusMethodInvocation *invocation; /* owned until completed (completing consumes it) */
	ScepDbusCall kind;
	ScepProfile *profile; /* owned, nullable */
	GVariant *keys;       /* owned, nullable: a{ss} or as */
	gboolean wait;
} ScepDbusRequest;

static void
scep_dbus_request_free(ScepDbusRequest *req)
{
	/* every path completes the invocation before freeing */
	g_warn_if_fail(req->invocation == NULL);
	g_clear_object(&req->self);
	g_clear_object(&req->profile);
	g_clear_pointer(&req->keys, g_variant_unref);
	g_free(req);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepDbusRequest, scep_dbus_request_free)

static void
scep_dbus_request_return_error(ScepDbusRequest *req, GError *error)
{
	g_autoptr(GError) owned = error;
	scep_error_convert(&owned);
	g_debug("dbus: %s.%s from %s failed: %s",
		g_dbus_method_invocation_get_interface_name(req->invocation),
		g_dbus_method_invocation_get_method_name(req->invocation),
		g_dbus_method_invocation_get_sender(req->invocation),
		owned->message);
	g_dbus_method_invocation_take_error(g_steal_pointer(&req->invocation),
					    g_steal_pointer(&owned));
}

static void
scep_dbus_request_return_ok(ScepDbusRequest *req)
{
	g_dbus_method_invocation_return_value(g_steal_pointer(&req->invocation), NULL);
}

/* ---- summary ---- */

static void
scep_dbus_daemon_update_summary(ScepDbusDaemon *self)
{
	g_autoptr(GPtrArray) profiles = scep_engine_get_profiles(self->engine);
	guint counts[SCEP_PROFILE_STATE_LAST + 1] = { 0 };
	GVariantBuilder builder;

	for (guint i = 0; i < profiles->len; i++) {
		ScepProfileState state = scep_profile_get_state(g_ptr_array_index(profiles, i));
		if (state <= SCEP_PROFILE_STATE_LAST)
			counts[state]++;
	}
	g_variant_builder_init(&builder, G_VARIANT_TYPE("a{su}"));
	for (guint s = 0; s <= SCEP_PROFILE_STATE_LAST; s++)
		g_variant_builder_add(
		    &builder, "{su}", scep_profile_state_to_string((ScepProfileState)s), counts[s]);
	scep_dbus_manager_set_summary(self->manager, g_variant_builder_end(&builder));
}

/* ---- the Certificate properties, read from the profile ---- */

typedef enum {
	SCEP_DBUS_PROP_STRING,     /* s; NULL is sent as "" */
	SCEP_DBUS_PROP_TIME,       /* t from an int64 of unix seconds; none (<= 0) is 0 */
	SCEP_DBUS_PROP_BOOLEAN,    /* b */
	SCEP_DBUS_PROP_UINT,       /* u */
	SCEP_DBUS_PROP_STATE_NAME, /* s from the uint state */
} ScepDbusPropKind;

/* each D-Bus property and the profile property it shows */
static const struct {
	const gchar *name;
	const gchar *source;
	ScepDbusPropKind kind;
} scep_dbus_cert_props[SCEP_DBUS_CERT_N_PROPS] = {
	{ "Instance", "name", SCEP_DBUS_PROP_STRING },
	{ "Enabled", "enabled", SCEP_DBUS_PROP_BOOLEAN },
	{ "State", "state", SCEP_DBUS_PROP_UINT },
	{ "StateName", "state", SCEP_DBUS_PROP_STATE_NAME },
	{ "Reason", "reason", SCEP_DBUS_PROP_STRING },
	{ "Subject", "subject", SCEP_DBUS_PROP_STRING },
	{ "Issuer", "issuer", SCEP_DBUS_PROP_STRING },
	{ "Serial", "serial", SCEP_DBUS_PROP_STRING },
	{ "NotBefore", "not-before", SCEP_DBUS_PROP_TIME },
	{ "NotAfter", "not-after", SCEP_DBUS_PROP_TIME },
	{ "RenewalTime", "renewal-time", SCEP_DBUS_PROP_TIME },
	{ "NextAttempt", "next-attempt", SCEP_DBUS_PROP_TIME },
	{ "Attempt", "attempt", SCEP_DBUS_PROP_UINT },
	{ "LastAttempt", "last-attempt", SCEP_DBUS_PROP_TIME },
	{ "LastError", "last-error", SCEP_DBUS_PROP_STRING },
	{ "LastErrorName", "last-error-name", SCEP_DBUS_PROP_STRING },
	{ "RenewalMethod", "renewal-method", SCEP_DBUS_PROP_STRING },
	{ "CaFingerprint", "ca-fingerprint", SCEP_DBUS_PROP_STRING },
	{ "CertificatePath", "cert-path", SCEP_DBUS_PROP_STRING },
	{ "KeyPath", "key-path", SCEP_DBUS_PROP_STRING },
	{ "ChainPath", "chain-path", SCEP_DBUS_PROP_STRING },
	{ "PendingTransactionId", "transaction-id", SCEP_DBUS_PROP_STRING },
};

/* a floating GVariant of property @idx of @profile */
static GVariant *
scep_dbus_cert_prop_value(ScepProfile *profile, guint idx)
{
	g_auto(GValue) value = G_VALUE_INIT;
	g_object_get_property(G_OBJECT(profile), scep_dbus_cert_props[idx].source, &value);
	switch (scep_dbus_cert_props[idx].kind) {
	case SCEP_DBUS_PROP_STRING: {
		const gchar *text = g_value_get_string(&value);
		/* strings without a value are empty on the bus, never absent */
		return g_variant_new_string(text != NULL ? text : "");
	}
	case SCEP_DBUS_PROP_TIME: {
		gint64 when = g_value_get_int64(&value);
		return g_variant_new_uint64(when > 0 ? (guint64)when : 0);
	}
	case SCEP_DBUS_PROP_BOOLEAN:
		return g_variant_new_boolean(g_value_get_boolean(&value));
	case SCEP_DBUS_PROP_UINT:
		return g_variant_new_uint32(g_value_get_uint(&value));
	case SCEP_DBUS_PROP_STATE_NAME:
		return g_variant_new_string(
		    scep_profile_state_to_string((ScepProfileState)g_value_get_uint(&value)));
	}
	g_assert_not_reached();
}

/* the a{sv} of every property, as GetManagedObjects and InterfacesAdded carry it; the hashes
 * of what clients now know are remembered */
static GVariant *
scep_dbus_cert_all_props(ScepDbusCert *cert)
{
	GVariantBuilder builder;
	g_variant_builder_init(&builder, G_VARIANT_TYPE_VARDICT);
	for (guint i = 0; i < SCEP_DBUS_CERT_N_PROPS; i++) {
		GVariant *value = g_variant_ref_sink(scep_dbus_cert_prop_value(cert->profile, i));
		cert->sent_hash[i] = g_variant_hash(value);
		g_variant_builder_add(&builder, "{sv}", scep_dbus_cert_props[i].name, value);
		g_variant_unref(value);
	}
	return g_variant_builder_end(&builder);
}

/* PropertiesChanged for what changed since the clients last heard */
static void
scep_dbus_cert_flush(ScepDbusCert *cert)
{
	ScepDbusDaemon *self = cert->daemon;
	GVariantBuilder builder;
	gboolean any = FALSE;
	g_autoptr(GError) error = NULL;

	if (cert->dirty == 0)
		return;
	g_variant_builder_init(&builder, G_VARIANT_TYPE_VARDICT);
	for (guint i = 0; i < SCEP_DBUS_CERT_N_PROPS; i++) {
		g_autoptr(GVariant) value = NULL;
		guint hash;
		if ((cert->dirty & (1u << i)) == 0)
			continue;
		value = g_variant_ref_sink(scep_dbus_cert_prop_value(cert->profile, i));
		hash = g_variant_hash(value);
		if (hash == cert->sent_hash[i])
			continue;
		cert->sent_hash[i] = hash;
		g_variant_builder_add(&builder, "{sv}", scep_dbus_cert_props[i].name, value);
		any = TRUE;
	}
	cert->dirty = 0;
	if (!any || self->connection == NULL) {
		g_variant_builder_clear(&builder);
		return;
	}
	if (!g_dbus_connection_emit_signal(
		self->connection,
		NULL,
		cert->path,
		"org.freedesktop.DBus.Properties",
		"PropertiesChanged",
		g_variant_new("(sa{sv}as)", SCEP_DBUS_CERTIFICATE_IFACE, &builder, NULL),
		&error))
		g_debug("dbus: PropertiesChanged on %s: %s", cert->path, error->message);
}

static gboolean
scep_dbus_daemon_flush_cb(gpointer user_data)
{
	ScepDbusDaemon *self = SCEP_DBUS_DAEMON(user_data);
	g_autoptr(GPtrArray) dirty = g_steal_pointer(&self->dirty);
	self->flush_id = 0;
	self->dirty = g_ptr_array_new();
	for (guint i = 0; i < dirty->len; i++) {
		ScepDbusCert *cert = g_ptr_array_index(dirty, i);
		cert->queued = FALSE;
		scep_dbus_cert_flush(cert);
	}
	return G_SOURCE_REMOVE;
}

static gboolean
scep_dbus_daemon_summary_cb(gpointer user_data)
{
	ScepDbusDaemon *self = SCEP_DBUS_DAEMON(user_data);
	self->summary_id = 0;
	scep_dbus_daemon_update_summary(self);
	return G_SOURCE_REMOVE;
}

/* changes of one main-loop iteration go out as one PropertiesChanged per object, as
 * GDBusInterfaceSkeleton does it */
static void
scep_dbus_cert_notify_cb(GObject *object, GParamSpec *pspec, gpointer user_data)
{
	ScepDbusCert *cert = user_data;
	ScepDbusDaemon *self = cert->daemon;
	const gchar *name = g_param_spec_get_name(pspec);
	guint32 bits = 0;

	for (guint i = 0; i < SCEP_DBUS_CERT_N_PROPS; i++) {
		if (g_strcmp0(scep_dbus_cert_props[i].source, name) == 0)
			bits |= 1u << i;
	}
	if (bits == 0)
		return;
	cert->dirty |= bits;
	if (!cert->queued) {
		cert->queued = TRUE;
		g_ptr_array_add(self->dirty, cert);
	}
	if (self->flush_id == 0)
		self->flush_id = g_idle_add(scep_dbus_daemon_flush_cb, self);
	/* the Summary counts states: recounted once per burst */
	if (g_strcmp0(name, "state") == 0 && self->summary_id == 0)
		self->summary_id = g_idle_add(scep_dbus_daemon_summary_cb, self);
}

static void
scep_dbus_cert_state_changed_cb(
    ScepProfile *profile, guint old_state, guint new_state, const gchar *reason, gpointer user_data)
{
	ScepDbusCert *cert = user_data;
	g_autoptr(GError) error = NULL;
	/* PropertiesChanged for State, StateName and Reason goes out first, so that a client
	 * reading the properties on StateChanged sees the new values */
	scep_dbus_cert_flush(cert);
	if (cert->daemon->connection == NULL)
		return;
	if (!g_dbus_connection_emit_signal(
		cert->daemon->connection,
		NULL,
		cert->path,
		SCEP_DBUS_CERTIFICATE_IFACE,
		"StateChanged",
		g_variant_new("(uus)", old_state, new_state, reason != NULL ? reason : ""),
		&error))
		g_debug("dbus: StateChanged on %s: %s", cert->path, error->message);
}

static void
scep_dbus_cert_free(ScepDbusCert *cert)
{
	if (cert->queued)
		g_ptr_array_remove_fast(cert->daemon->dirty, cert);
	g_clear_signal_handler(&cert->notify_id, cert->profile);
	g_clear_signal_handler(&cert->state_changed_id, cert->profile);
	g_clear_object(&cert->profile);
	g_free(cert->path);
	g_free(cert);
}

/* ---- options and the caller check ---- */

/* an option the method does not know, or one of the wrong type, is refused */
static gboolean
scep_dbus_parse_options(GVariant *options, gboolean allow_wait, gboolean *wait, GError **error)
{
	GVariantIter iter;
	const gchar *key;
	GVariant *value;

	g_variant_iter_init(&iter, options);
	while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
		g_autoptr(GVariant) owned = value;
		if (allow_wait && g_strcmp0(key, "wait") == 0) {
			if (!g_variant_is_of_type(owned, G_VARIANT_TYPE_BOOLEAN)) {
				g_set_error(error,
					    SCEP_ERROR,
					    SCEP_ERROR_INVALID_ARGUMENT,
					    "option \"wait\" must be a boolean (b), not %s",
					    g_variant_get_type_string(owned));
				return FALSE;
			}
			*wait = g_variant_get_boolean(owned);
			continue;
		}
		g_set_error(
		    error, SCEP_ERROR, SCEP_ERROR_INVALID_ARGUMENT, "unknown option \"%s\"", key);
		return FALSE;
	}
	return TRUE;
}

static void scep_dbus_daemon_dispatch(ScepDbusRequest *req);

/* whether @uid belongs to @gid, as primary or supplementary group (local NSS lookup) */
static gboolean
scep_dbus_daemon_uid_in_group(guint32 uid, gid_t gid)
{
	struct passwd pwd;
	struct passwd *found = NULL;
	gchar buf[4096];
	gid_t groups[256];
	int n = G_N_ELEMENTS(groups);
	if (getpwuid_r((uid_t)uid, &pwd, buf, sizeof(buf), &found) != 0 || found == NULL)
		return FALSE;
	if (pwd.pw_gid == gid)
		return TRUE;
	if (getgrouplist(pwd.pw_name, pwd.pw_gid, groups, &n) < 0)
		return FALSE;
	for (int i = 0; i < n; i++) {
		if (groups[i] == gid)
			return TRUE;
	}
	return FALSE;
}

/**
 * scep_dbus_daemon_set_admin_group:
 * @group: (nullable): a group whose members may call the methods besides root
 *
 * The bus policy must let the group through too (see org.scepagent.Agent1.conf).
 */
gboolean
scep_dbus_daemon_set_admin_group(ScepDbusDaemon *self, const gchar *group, GError **error)
{
	struct group grp;
	struct group *found = NULL;
	gchar buf[4096];
	g_return_val_if_fail(SCEP_IS_DBUS_DAEMON(self), FALSE);
	self->has_admin_group = FALSE;
	if (group == NULL)
		return TRUE;
	if (getgrnam_r(group, &grp, buf, sizeof(buf), &found) != 0 || found == NULL) {
		g_set_error(error,
			    SCEP_ERROR,
			    SCEP_ERROR_INVALID_ARGUMENT,
			    "admin group %s does not exist",
			    group);
		return FALSE;
	}
	self->admin_gid = grp.gr_gid;
	self->has_admin_group = TRUE;
	return TRUE;
}

static void
scep_dbus_daemon_caller_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(ScepDbusRequest) req = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	guint32 uid;

	reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
	if (reply == NULL) {
		g_warning("dbus: cannot get the uid of %s: %s",
			  g_dbus_method_invocation_get_sender(req->invocation),
			  error->message);
		scep_dbus_request_return_error(req,
					       g_error_new(SCEP_ERROR,
							   SCEP_ERROR_ACCESS_DENIED,
							   "cannot determine the caller's uid"));
		return;
	}
	g_variant_get(reply, "(u)", &uid);
	/* root, or the user the daemon runs as (the same in production; a session bus in
	 * development) */
	if (uid != 0 && uid != (guint32)geteuid() &&
	    !(req->self->has_admin_group &&
	      scep_dbus_daemon_uid_in_group(uid, req->self->admin_gid))) {
		g_message("dbus: %s.%s refused for uid %u",
			  g_dbus_method_invocation_get_interface_name(req->invocation),
			  g_dbus_method_invocation_get_method_name(req->invocation),
			  uid);
		scep_dbus_request_return_error(
		    req,
		    g_error_new(SCEP_ERROR,
				SCEP_ERROR_ACCESS_DENIED,
				"%s needs root (caller uid %u)",
				g_dbus_method_invocation_get_method_name(req->invocation),
				uid));
		return;
	}
	scep_dbus_daemon_dispatch(g_steal_pointer(&req));
}

/* takes @req; asks the bus for the caller's uid, then acts */
static void
scep_dbus_daemon_authorize(ScepDbusRequest *req)
{
	const gchar *sender = g_dbus_method_invocation_get_sender(req->invocation);
	GDBusConnection *connection = g_dbus_method_invocation_get_connection(req->invocation);
	if (sender == NULL) {
		g_autoptr(ScepDbusRequest) owned = req;
		scep_dbus_request_return_error(
		    owned,
		    g_error_new_literal(
			SCEP_ERROR, SCEP_ERROR_ACCESS_DENIED, "callers must come through a bus"));
		return;
	}
	g_dbus_connection_call(connection,
			       "org.freedesktop.DBus",
			       "/org/freedesktop/DBus",
			       "org.freedesktop.DBus",
			       "GetConnectionUnixUser",
			       g_variant_new("(s)", sender),
			       G_VARIANT_TYPE("(u)"),
			       G_DBUS_CALL_FLAGS_NONE,
			       -1,
			       NULL,
			       scep_dbus_daemon_caller_cb,
			       req);
}

static ScepDbusRequest *
scep_dbus_request_new(ScepDbusDaemon *self,
		      GDBusMethodInvocation *invocation,
		      ScepDbusCall kind,
		      ScepProfile *profile)
{
	ScepDbusRequest *req = g_new0(ScepDbusRequest, 1);
	req->self = g_object_ref(self);
	req->invocation = invocation;
	req->kind = kind;
	req->profile = profile != NULL ? g_object_ref(profile) : NULL;
	return req;
}

/* common to every handler: options checked, then the caller; takes @invocation */
static gboolean
scep_dbus_daemon_handle(ScepDbusDaemon *self,
			GDBusMethodInvocation *invocation,
			ScepDbusCall kind,
			ScepProfile *profile,
			GVariant *keys,
			GVariant *options)
{
	g_autoptr(ScepDbusRequest) req = scep_dbus_request_new(self, invocation, kind, profile);
	g_autoptr(GError) error = NULL;
	gboolean allow_wait = kind == SCEP_DBUS_CALL_ENROLL || kind == SCEP_DBUS_CALL_RENEW;

	if (!scep_dbus_parse_options(options, allow_wait, &req->wait, &error)) {
		scep_dbus_request_return_error(req, g_steal_pointer(&error));
		return G_DBUS_METHOD_INVOCATION_HANDLED;
	}
	req->keys = keys != NULL ? g_variant_ref(keys) : NULL;
	scep_dbus_daemon_authorize(g_steal_pointer(&req));
	return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- the actions, after the caller check ---- */

static void
scep_dbus_daemon_operation_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(ScepDbusRequest) req = user_data;
	g_autoptr(GError) error = NULL;
	gboolean ok;

	if (req->kind == SCEP_DBUS_CALL_ENROLL)
		ok = scep_profile_enroll_finish(SCEP_PROFILE(source), result, &error);
	else
		ok = scep_profile_renew_finish(SCEP_PROFILE(source), result, &error);
	if (req->invocation == NULL) {
		/* not waited for: the outcome is seen through StateChanged and the properties */
		if (!ok)
			g_debug("profile %s: requested operation ended: %s",
				scep_profile_get_name(SCEP_PROFILE(source)),
				error->message);
		return;
	}
	if (!ok) {
		scep_dbus_request_return_error(req, g_steal_pointer(&error));
		return;
	}
	scep_dbus_request_return_ok(req);
}

static void
scep_dbus_daemon_operation(ScepDbusRequest *req)
{
	g_autoptr(ScepDbusRequest) owned = req;
	ScepProfile *profile = req->profile;
	const gchar *verb = req->kind == SCEP_DBUS_CALL_ENROLL ? "enrollment" : "renewal";

	/* invalid settings read as disabled too: say what is wrong first */
	if (scep_profile_get_state(profile) == SCEP_PROFILE_STATE_UNCONFIGURED) {
		scep_dbus_request_return_error(req,
					       g_error_new(SCEP_ERROR,
							   SCEP_ERROR_UNCONFIGURED,
							   "instance %s is unconfigured: %s",
							   scep_profile_get_name(profile),
							   scep_profile_get_reason(profile)));
		return;
	}
	if (!scep_profile_get_enabled(profile)) {
		scep_dbus_request_return_error(req,
					       g_error_new(SCEP_ERROR,
							   SCEP_ERROR_DISABLED,
							   "instance %s is disabled",
							   scep_profile_get_name(profile)));
		return;
	}
	g_message("profile %s: %s requested over D-Bus by %s",
		  scep_profile_get_name(profile),
		  verb,
		  g_dbus_method_invocation_get_sender(req->invocation));
	if (!req->wait)
		scep_dbus_request_return_ok(req);
	if (req->kind == SCEP_DBUS_CALL_ENROLL)
		scep_profile_enroll_async(
		    profile, NULL, scep_dbus_daemon_operation_done_cb, g_steal_pointer(&owned));
	else
		scep_profile_renew_async(
		    profile, NULL, scep_dbus_daemon_operation_done_cb, g_steal_pointer(&owned));
}

/* acts on what changed between @old_snapshot and the registry's current snapshot */
static gboolean
scep_dbus_daemon_reload(ScepDbusDaemon *self, GError **error)
{
	/* the registry emits "changed" and the engine acts on it, as for a file push; on
	 * failure the registry keeps its previous snapshot */
	if (!scep_registry_load(scep_engine_get_registry(self->engine), error))
		return FALSE;
	scep_dbus_daemon_update_summary(self);
	return TRUE;
}

/* the key names are checked before anything is written: InvalidArgument */
static const ScepRegistryKey *
scep_dbus_daemon_check_key(const gchar *full_key, GError **error)
{
	const gchar *name = NULL;
	const ScepRegistryKey *key;
	guint instance = 0;
	const gchar *suggestion;

	if (!scep_registry_parse_key(full_key, &instance, &name)) {
		g_set_error(error,
			    SCEP_ERROR,
			    SCEP_ERROR_INVALID_ARGUMENT,
			    "%s: not a scep-agent key (keys look like %sN.NAME)",
			    full_key,
			    SCEP_REGISTRY_KEY_PREFIX);
		return NULL;
	}
	key = scep_registry_schema_lookup(name);
	if (key != NULL)
		return key;
	suggestion = scep_registry_schema_suggest(name);
	if (suggestion != NULL)
		g_set_error(error,
			    SCEP_ERROR,
			    SCEP_ERROR_INVALID_ARGUMENT,
			    "%s: unknown key; did you mean %s%u.%s?",
			    full_key,
			    SCEP_REGISTRY_KEY_PREFIX,
			    instance,
			    suggestion);
	else
		g_set_error(
		    error, SCEP_ERROR, SCEP_ERROR_INVALID_ARGUMENT, "%s: unknown key", full_key);
	return NULL;
}

static gboolean
scep_dbus_daemon_set_keys(ScepDbusDaemon *self, GVariant *keys, GError **error)
{
	ScepRegistry *registry = scep_engine_get_registry(self->engine);
	g_autoptr(GPtrArray) names = NULL;
	g_autoptr(GPtrArray) values = NULL;
	GVariantIter iter;
	const gchar *full_key;
	const gchar *value;
	gboolean ok;

	if (!scep_registry_schema_ensure_loaded(error))
		return FALSE;
	/* every key and value is checked before anything is written */
	g_variant_iter_init(&iter, keys);
	while (g_variant_iter_next(&iter, "{&s&s}", &full_key, &value)) {
		const ScepRegistryKey *key = scep_dbus_daemon_check_key(full_key, error);
		g_autofree gchar *normal = NULL;
		g_autoptr(GError) local = NULL;
		if (key == NULL)
			return FALSE;
		/* secrets never travel over the bus: they are set with scep-registry on the device
		 */
		if (key->secret) {
			g_set_error(
			    error,
			    SCEP_ERROR,
			    SCEP_ERROR_INVALID_ARGUMENT,
			    "%s: secrets are not accepted over D-Bus; use scep-registry set",
			    full_key);
			return FALSE;
		}
		normal = scep_registry_key_normalize(key, value, &local);
		if (normal == NULL) {
			/* the schema's messages never echo a secret value */
			g_set_error(error,
				    SCEP_ERROR,
				    SCEP_ERROR_INVALID_VALUE,
				    "%s: %s",
				    full_key,
				    local->message);
			return FALSE;
		}
	}
	/* all keys written, then one "changed" that the engine acts on */
	names = g_ptr_array_new();
	values = g_ptr_array_new();
	g_variant_iter_init(&iter, keys);
	while (g_variant_iter_next(&iter, "{&s&s}", &full_key, &value)) {
		g_ptr_array_add(names, (gpointer)full_key);
		g_ptr_array_add(values, (gpointer)value);
	}
	g_ptr_array_add(names, NULL);
	g_ptr_array_add(values, NULL);
	ok = scep_registry_set_values(registry,
				      (const gchar *const *)names->pdata,
				      (const gchar *const *)values->pdata,
				      error);
	if (ok)
		g_message("registry: %u keys set over D-Bus", names->len - 1);
	scep_dbus_daemon_update_summary(self);
	return ok;
}

static gboolean
scep_dbus_daemon_unset_keys(ScepDbusDaemon *self, GVariant *keys, GError **error)
{
	ScepRegistry *registry = scep_engine_get_registry(self->engine);
	GVariantIter iter;
	const gchar *full_key;
	gboolean ok = TRUE;

	if (!scep_registry_schema_ensure_loaded(error))
		return FALSE;
	g_variant_iter_init(&iter, keys);
	while (g_variant_iter_next(&iter, "&s", &full_key)) {
		if (scep_dbus_daemon_check_key(full_key, error) == NULL)
			return FALSE;
	}
	g_variant_iter_init(&iter, keys);
	while (ok && g_variant_iter_next(&iter, "&s", &full_key)) {
		g_autoptr(GError) local = NULL;
		if (scep_registry_unset_value(registry, full_key, &local)) {
			g_message("registry: %s unset over D-Bus", full_key);
			continue;
		}
		/* a key that is not set anywhere is not an error */
		if (g_error_matches(local, SCEP_REGISTRY_ERROR, SCEP_REGISTRY_ERROR_NOT_FOUND))
			continue;
		g_propagate_error(error, g_steal_pointer(&local));
		ok = FALSE;
	}
	scep_dbus_daemon_update_summary(self);
	return ok;
}

static void
scep_dbus_daemon_dispatch(ScepDbusRequest *req)
{
	g_autoptr(ScepDbusRequest) owned = req;
	g_autoptr(GError) error = NULL;
	gboolean ok = TRUE;

	switch (req->kind) {
	case SCEP_DBUS_CALL_ENROLL:
	case SCEP_DBUS_CALL_RENEW:
		scep_dbus_daemon_operation(g_steal_pointer(&owned));
		return;
	case SCEP_DBUS_CALL_CANCEL:
		g_message("profile %s: cancel requested over D-Bus",
			  scep_profile_get_name(req->profile));
		scep_profile_cancel(req->profile);
		break;
	case SCEP_DBUS_CALL_RELOAD:
		g_message("registry: reload requested over D-Bus");
		ok = scep_dbus_daemon_reload(req->self, &error);
		break;
	case SCEP_DBUS_CALL_SET_KEYS:
		ok = scep_dbus_daemon_set_keys(req->self, req->keys, &error);
		break;
	case SCEP_DBUS_CALL_UNSET_KEYS:
		ok = scep_dbus_daemon_unset_keys(req->self, req->keys, &error);
		break;
	}
	if (!ok) {
		scep_dbus_request_return_error(req, g_steal_pointer(&error));
		return;
	}
	scep_dbus_request_return_ok(req);
}

/* ---- handlers ---- */

/* Enroll, Renew and Cancel on a certificate object */
static void
scep_dbus_cert_method_call(GDBusConnection *connection,
			   const gchar *sender,
			   const gchar *object_path,
			   const gchar *interface_name,
			   const gchar *method_name,
			   GVariant *parameters,
			   GDBusMethodInvocation *invocation,
			   gpointer user_data)
{
	ScepDbusCert *cert = user_data;
	g_autoptr(GVariant) options = g_variant_get_child_value(parameters, 0);
	ScepDbusCall kind;

	if (g_strcmp0(method_name, "Enroll") == 0)
		kind = SCEP_DBUS_CALL_ENROLL;
	else if (g_strcmp0(method_name, "Renew") == 0)
		kind = SCEP_DBUS_CALL_RENEW;
	else
		kind = SCEP_DBUS_CALL_CANCEL;
	scep_dbus_daemon_handle(cert->daemon, invocation, kind, cert->profile, NULL, options);
}

static GVariant *
scep_dbus_cert_get_property(GDBusConnection *connection,
			    const gchar *sender,
			    const gchar *object_path,
			    const gchar *interface_name,
			    const gchar *property_name,
			    GError **error,
			    gpointer user_data)
{
	ScepDbusCert *cert = user_data;
	for (guint i = 0; i < SCEP_DBUS_CERT_N_PROPS; i++) {
		if (g_strcmp0(scep_dbus_cert_props[i].name, property_name) == 0)
			return scep_dbus_cert_prop_value(cert->profile, i);
	}
	/* GDBus checks names against the interface info first: not reached */
	g_set_error(error,
		    G_DBUS_ERROR,
		    G_DBUS_ERROR_UNKNOWN_PROPERTY,
		    "no property %s on %s",
		    property_name,
		    object_path);
	return NULL;
}

static const GDBusInterfaceVTable scep_dbus_cert_vtable = {
	.method_call = scep_dbus_cert_method_call,
	.get_property = scep_dbus_cert_get_property,
	.set_property = NULL,
};

/* the subtree of certificate objects: one node per profile, made on demand */
static gchar **
scep_dbus_subtree_enumerate(GDBusConnection *connection,
			    const gchar *sender,
			    const gchar *object_path,
			    gpointer user_data)
{
	ScepDbusDaemon *self = SCEP_DBUS_DAEMON(user_data);
	GStrvBuilder *builder = g_strv_builder_new();
	GHashTableIter iter;
	gpointer name;
	gchar **nodes;

	g_hash_table_iter_init(&iter, self->certs_by_name);
	while (g_hash_table_iter_next(&iter, &name, NULL))
		g_strv_builder_add(builder, name);
	nodes = g_strv_builder_end(builder);
	g_strv_builder_unref(builder);
	return nodes;
}

static GDBusInterfaceInfo **
scep_dbus_subtree_introspect(GDBusConnection *connection,
			     const gchar *sender,
			     const gchar *object_path,
			     const gchar *node,
			     gpointer user_data)
{
	ScepDbusDaemon *self = SCEP_DBUS_DAEMON(user_data);
	GDBusInterfaceInfo **infos;
	/* the parent node itself has no interface of its own */
	if (node == NULL || !g_hash_table_contains(self->certs_by_name, node))
		return NULL;
	infos = g_new0(GDBusInterfaceInfo *, 2);
	infos[0] = g_dbus_interface_info_ref(scep_dbus_certificate_interface_info());
	return infos;
}

static const GDBusInterfaceVTable *
scep_dbus_subtree_dispatch(GDBusConnection *connection,
			   const gchar *sender,
			   const gchar *object_path,
			   const gchar *interface_name,
			   const gchar *node,
			   gpointer *out_user_data,
			   gpointer user_data)
{
	ScepDbusDaemon *self = SCEP_DBUS_DAEMON(user_data);
	ScepDbusCert *cert;
	if (node == NULL || g_strcmp0(interface_name, SCEP_DBUS_CERTIFICATE_IFACE) != 0)
		return NULL;
	cert = g_hash_table_lookup(self->certs_by_name, node);
	if (cert == NULL)
		return NULL;
	*out_user_data = cert;
	return &scep_dbus_cert_vtable;
}

static const GDBusSubtreeVTable scep_dbus_subtree_vtable = {
	.enumerate = scep_dbus_subtree_enumerate,
	.introspect = scep_dbus_subtree_introspect,
	.dispatch = scep_dbus_subtree_dispatch,
};

/* org.freedesktop.DBus.ObjectManager at the root, over the certificate objects */
static const gchar scep_dbus_object_manager_xml[] =
    "<node>"
    "  <interface name='org.freedesktop.DBus.ObjectManager'>"
    "    <method name='GetManagedObjects'>"
    "      <arg name='objects' type='a{oa{sa{sv}}}' direction='out'/>"
    "    </method>"
    "    <signal name='InterfacesAdded'>"
    "      <arg name='object_path' type='o'/>"
    "      <arg name='interfaces_and_properties' type='a{sa{sv}}'/>"
    "    </signal>"
    "    <signal name='InterfacesRemoved'>"
    "      <arg name='object_path' type='o'/>"
    "      <arg name='interfaces' type='as'/>"
    "    </signal>"
    "  </interface>"
    "</node>";

static GDBusInterfaceInfo *
scep_dbus_object_manager_interface_info(void)
{
	static gsize node = 0;
	if (g_once_init_enter(&node)) {
		g_autoptr(GError) error = NULL;
		GDBusNodeInfo *parsed =
		    g_dbus_node_info_new_for_xml(scep_dbus_object_manager_xml, &error);
		g_assert_no_error(error);
		g_once_init_leave(&node, (gsize)parsed);
	}
	return ((GDBusNodeInfo *)node)->interfaces[0];
}

/* {"org.scepagent.Agent1.Certificate": {properties}} of one object */
static GVariant *
scep_dbus_cert_interfaces(ScepDbusCert *cert)
{
	GVariantBuilder builder;
	g_variant_builder_init(&builder, G_VARIANT_TYPE("a{sa{sv}}"));
	g_variant_builder_add(
	    &builder, "{s@a{sv}}", SCEP_DBUS_CERTIFICATE_IFACE, scep_dbus_cert_all_props(cert));
	return g_variant_builder_end(&builder);
}

static void
scep_dbus_object_manager_method_call(GDBusConnection *connection,
				     const gchar *sender,
				     const gchar *object_path,
				     const gchar *interface_name,
				     const gchar *method_name,
				     GVariant *parameters,
				     GDBusMethodInvocation *invocation,
				     gpointer user_data)
{
	ScepDbusDaemon *self = SCEP_DBUS_DAEMON(user_data);
	GVariantBuilder builder;
	GHashTableIter iter;
	gpointer value;

	/* GetManagedObjects is the interface's only method */
	g_variant_builder_init(&builder, G_VARIANT_TYPE("a{oa{sa{sv}}}"));
	g_hash_table_iter_init(&iter, self->certs);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		ScepDbusCert *cert = value;
		/* what is read here is what the clients know: pending changes are sent first */
		scep_dbus_cert_flush(cert);
		g_variant_builder_add(
		    &builder, "{o@a{sa{sv}}}", cert->path, scep_dbus_cert_interfaces(cert));
	}
	g_dbus_method_invocation_return_value(invocation,
					      g_variant_new("(a{oa{sa{sv}}})", &builder));
}

static const GDBusInterfaceVTable scep_dbus_object_manager_vtable = {
	.method_call = scep_dbus_object_manager_method_call,
};

static gboolean
scep_dbus_daemon_handle_reload_cb(ScepDbusManager *iface,
				  GDBusMethodInvocation *invocation,
				  GVariant *options,
				  gpointer user_data)
{
	return scep_dbus_daemon_handle(
	    SCEP_DBUS_DAEMON(user_data), invocation, SCEP_DBUS_CALL_RELOAD, NULL, NULL, options);
}

static gboolean
scep_dbus_daemon_handle_set_registry_keys_cb(ScepDbusManager *iface,
					     GDBusMethodInvocation *invocation,
					     GVariant *keys,
					     GVariant *options,
					     gpointer user_data)
{
	return scep_dbus_daemon_handle(
	    SCEP_DBUS_DAEMON(user_data), invocation, SCEP_DBUS_CALL_SET_KEYS, NULL, keys, options);
}

static gboolean
scep_dbus_daemon_handle_unset_registry_keys_cb(ScepDbusManager *iface,
					       GDBusMethodInvocation *invocation,
					       const gchar *const *keys,
					       GVariant *options,
					       gpointer user_data)
{
	g_autoptr(GVariant) list = g_variant_ref_sink(g_variant_new_strv(keys, -1));
	return scep_dbus_daemon_handle(SCEP_DBUS_DAEMON(user_data),
				       invocation,
				       SCEP_DBUS_CALL_UNSET_KEYS,
				       NULL,
				       list,
				       options);
}

/* ---- certificate objects ---- */

static void
scep_dbus_daemon_add_profile(ScepDbusDaemon *self, ScepProfile *profile)
{
	ScepDbusCert *cert;
	g_autoptr(GVariant) interfaces = NULL;
	g_autoptr(GError) error = NULL;

	if (g_hash_table_contains(self->certs, profile))
		return;
	cert = g_new0(ScepDbusCert, 1);
	cert->daemon = self;
	cert->profile = g_object_ref(profile);
	cert->path =
	    g_strdup_printf("%s/%s", SCEP_DBUS_CERTIFICATES_PATH, scep_profile_get_name(profile));
	cert->notify_id =
	    g_signal_connect(profile, "notify", G_CALLBACK(scep_dbus_cert_notify_cb), cert);
	cert->state_changed_id = g_signal_connect(
	    profile, "state-changed", G_CALLBACK(scep_dbus_cert_state_changed_cb), cert);
	g_hash_table_insert(self->certs, profile, cert);
	g_hash_table_insert(self->certs_by_name, (gpointer)scep_profile_get_name(profile), cert);
	/* also when not connected yet: the hashes of the values start right */
	interfaces = g_variant_ref_sink(scep_dbus_cert_interfaces(cert));
	if (self->connection != NULL &&
	    !g_dbus_connection_emit_signal(self->connection,
					   NULL,
					   SCEP_DBUS_PATH,
					   "org.freedesktop.DBus.ObjectManager",
					   "InterfacesAdded",
					   g_variant_new("(o@a{sa{sv}})", cert->path, interfaces),
					   &error))
		g_debug("dbus: InterfacesAdded for %s: %s", cert->path, error->message);
	g_debug("dbus: exported %s", cert->path);
	if (self->summary_id == 0)
		self->summary_id = g_idle_add(scep_dbus_daemon_summary_cb, self);
}

static void
scep_dbus_daemon_remove_profile(ScepDbusDaemon *self, ScepProfile *profile)
{
	ScepDbusCert *cert = g_hash_table_lookup(self->certs, profile);
	g_autoptr(GError) error = NULL;
	const gchar *const interfaces[] = { SCEP_DBUS_CERTIFICATE_IFACE, NULL };

	if (cert == NULL)
		return;
	g_hash_table_remove(self->certs_by_name, scep_profile_get_name(profile));
	if (self->connection != NULL &&
	    !g_dbus_connection_emit_signal(self->connection,
					   NULL,
					   SCEP_DBUS_PATH,
					   "org.freedesktop.DBus.ObjectManager",
					   "InterfacesRemoved",
					   g_variant_new("(o^as)", cert->path, interfaces),
					   &error))
		g_debug("dbus: InterfacesRemoved for %s: %s", cert->path, error->message);
	g_debug("dbus: unexported %s", cert->path);
	g_hash_table_remove(self->certs, profile);
	if (self->summary_id == 0)
		self->summary_id = g_idle_add(scep_dbus_daemon_summary_cb, self);
}

static void
scep_dbus_daemon_profile_added_cb(ScepEngine *engine, ScepProfile *profile, gpointer user_data)
{
	scep_dbus_daemon_add_profile(SCEP_DBUS_DAEMON(user_data), profile);
}

static void
scep_dbus_daemon_profile_removed_cb(ScepEngine *engine, ScepProfile *profile, gpointer user_data)
{
	scep_dbus_daemon_remove_profile(SCEP_DBUS_DAEMON(user_data), profile);
}

/* ---- the bus ---- */

static void
scep_dbus_daemon_name_acquired_cb(GDBusConnection *connection,
				  const gchar *name,
				  gpointer user_data)
{
	g_message("dbus: name %s acquired", name);
	g_signal_emit(user_data, signals[SIGNAL_NAME_ACQUIRED], 0);
}

static void
scep_dbus_daemon_name_lost_cb(GDBusConnection *connection, const gchar *name, gpointer user_data)
{
	if (connection == NULL || g_dbus_connection_is_closed(connection))
		g_warning("dbus: the bus connection is gone, name %s lost", name);
	else
		g_warning("dbus: name %s lost or owned by another process", name);
	g_signal_emit(user_data, signals[SIGNAL_NAME_LOST], 0);
}

static GDBusConnection *
scep_dbus_daemon_connect(const gchar *bus, GError **error)
{
	g_autoptr(GDBusConnection) connection = NULL;
	if (bus == NULL || g_strcmp0(bus, "system") == 0)
		connection = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, error);
	else if (g_strcmp0(bus, "session") == 0)
		connection = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, error);
	else if (g_dbus_is_supported_address(bus, NULL))
		connection = g_dbus_connection_new_for_address_sync(
		    bus,
		    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
			G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
		    NULL,
		    NULL,
		    error);
	else
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_ARGUMENT,
			    "--bus must be system, session or a D-Bus address, not \"%s\"",
			    bus);
	if (connection == NULL)
		return NULL;
	/* a closed connection means a lost name, handled by the owner, not a silent exit */
	g_dbus_connection_set_exit_on_close(connection, FALSE);
	return g_steal_pointer(&connection);
}

gboolean
scep_dbus_daemon_start(ScepDbusDaemon *self, const gchar *bus, GError **error)
{
	g_return_val_if_fail(SCEP_IS_DBUS_DAEMON(self), FALSE);
	g_return_val_if_fail(self->connection == NULL, FALSE);

	self->connection = scep_dbus_daemon_connect(bus, error);
	if (self->connection == NULL)
		return FALSE;
	if (!g_dbus_interface_skeleton_export(
		G_DBUS_INTERFACE_SKELETON(self->manager), self->connection, SCEP_DBUS_PATH, error))
		return FALSE;
	self->manager_exported = TRUE;
	self->object_manager_id =
	    g_dbus_connection_register_object(self->connection,
					      SCEP_DBUS_PATH,
					      scep_dbus_object_manager_interface_info(),
					      &scep_dbus_object_manager_vtable,
					      self,
					      NULL,
					      error);
	if (self->object_manager_id == 0)
		return FALSE;
	self->subtree_id = g_dbus_connection_register_subtree(self->connection,
							      SCEP_DBUS_CERTIFICATES_PATH,
							      &scep_dbus_subtree_vtable,
							      G_DBUS_SUBTREE_FLAGS_NONE,
							      self,
							      NULL,
							      error);
	if (self->subtree_id == 0)
		return FALSE;
	/* the tree is complete: only now may clients find the name */
	self->owner_id = g_bus_own_name_on_connection(self->connection,
						      SCEP_DBUS_NAME,
						      G_BUS_NAME_OWNER_FLAGS_NONE,
						      scep_dbus_daemon_name_acquired_cb,
						      scep_dbus_daemon_name_lost_cb,
						      self,
						      NULL);
	return TRUE;
}

void
scep_dbus_daemon_stop(ScepDbusDaemon *self)
{
	g_return_if_fail(SCEP_IS_DBUS_DAEMON(self));
	if (self->connection != NULL) {
		/* what changed last is still sent before the connection goes */
		g_clear_handle_id(&self->flush_id, g_source_remove);
		scep_dbus_daemon_flush_cb(self);
	}
	g_clear_handle_id(&self->owner_id, g_bus_unown_name);
	if (self->subtree_id != 0) {
		g_dbus_connection_unregister_subtree(self->connection, self->subtree_id);
		self->subtree_id = 0;
	}
	if (self->object_manager_id != 0) {
		g_dbus_connection_unregister_object(self->connection, self->object_manager_id);
		self->object_manager_id = 0;
	}
	if (self->manager_exported) {
		g_dbus_interface_skeleton_unexport(G_DBUS_INTERFACE_SKELETON(self->manager));
		self->manager_exported = FALSE;
	}
	if (self->connection != NULL) {
		g_autoptr(GError) error = NULL;
		if (!g_dbus_connection_flush_sync(self->connection, NULL, &error))
			g_debug("dbus: flush on stop: %s", error->message);
	}
	g_clear_object(&self->connection);
}

/* ---- GObject ---- */

static void
scep_dbus_daemon_dispose(GObject *object)
{
	ScepDbusDaemon *self = SCEP_DBUS_DAEMON(object);
	scep_dbus_daemon_stop(self);
	if (self->engine != NULL) {
		g_clear_signal_handler(&self->added_id, self->engine);
		g_clear_signal_handler(&self->removed_id, self->engine);
	}
	g_clear_handle_id(&self->flush_id, g_source_remove);
	g_clear_handle_id(&self->summary_id, g_source_remove);
	if (self->certs_by_name != NULL)
		g_hash_table_remove_all(self->certs_by_name);
	if (self->certs != NULL)
		g_hash_table_remove_all(self->certs);
	if (self->manager != NULL)
		g_signal_handlers_disconnect_by_data(self->manager, self);
	g_clear_object(&self->manager);
	g_clear_object(&self->engine);
	G_OBJECT_CLASS(scep_dbus_daemon_parent_class)->dispose(object);
}

static void
scep_dbus_daemon_finalize(GObject *object)
{
	ScepDbusDaemon *self = SCEP_DBUS_DAEMON(object);
	g_clear_pointer(&self->certs_by_name, g_hash_table_unref);
	g_clear_pointer(&self->certs, g_hash_table_unref);
	g_clear_pointer(&self->dirty, g_ptr_array_unref);
	G_OBJECT_CLASS(scep_dbus_daemon_parent_class)->finalize(object);
}

static void
scep_dbus_daemon_class_init(ScepDbusDaemonClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->dispose = scep_dbus_daemon_dispose;
	object_class->finalize = scep_dbus_daemon_finalize;

	signals[SIGNAL_NAME_ACQUIRED] = g_signal_new("name-acquired",
						     G_TYPE_FROM_CLASS(klass),
						     G_SIGNAL_RUN_LAST,
						     0,
						     NULL,
						     NULL,
						     NULL,
						     G_TYPE_NONE,
						     0);
	signals[SIGNAL_NAME_LOST] = g_signal_new("name-lost",
						 G_TYPE_FROM_CLASS(klass),
						 G_SIGNAL_RUN_LAST,
						 0,
						 NULL,
						 NULL,
						 NULL,
						 G_TYPE_NONE,
						 0);
}

static void
scep_dbus_daemon_init(ScepDbusDaemon *self)
{
	self->certs = g_hash_table_new_full(
	    g_direct_hash, g_direct_equal, NULL, (GDestroyNotify)scep_dbus_cert_free);
	self->certs_by_name = g_hash_table_new(g_str_hash, g_str_equal);
	self->dirty = g_ptr_array_new();
}

ScepDbusDaemon *
scep_dbus_daemon_new(ScepEngine *engine)
{
	ScepDbusDaemon *self;
	g_autoptr(GPtrArray) profiles = NULL;
	ScepRegistry *registry;

	g_return_val_if_fail(SCEP_IS_ENGINE(engine), NULL);
	self = g_object_new(SCEP_TYPE_DBUS_DAEMON, NULL);
	self->engine = g_object_ref(engine);
	registry = scep_engine_get_registry(engine);
	self->manager = scep_dbus_manager_skeleton_new();
	scep_dbus_manager_set_version(self->manager, PACKAGE_VERSION);
	scep_dbus_manager_set_registry_directory(self->manager, scep_registry_get_dir(registry));
	scep_dbus_manager_set_state_directory(self->manager, scep_engine_get_state_dir(engine));
	g_signal_connect(
	    self->manager, "handle-reload", G_CALLBACK(scep_dbus_daemon_handle_reload_cb), self);
	g_signal_connect(self->manager,
			 "handle-set-registry-keys",
			 G_CALLBACK(scep_dbus_daemon_handle_set_registry_keys_cb),
			 self);
	g_signal_connect(self->manager,
			 "handle-unset-registry-keys",
			 G_CALLBACK(scep_dbus_daemon_handle_unset_registry_keys_cb),
			 self);
	self->added_id = g_signal_connect(
	    engine, "profile-added", G_CALLBACK(scep_dbus_daemon_profile_added_cb), self);
	self->removed_id = g_signal_connect(
	    engine, "profile-removed", G_CALLBACK(scep_dbus_daemon_profile_removed_cb), self);
	profiles = scep_engine_get_profiles(engine);
	for (guint i = 0; i < profiles->len; i++)
		scep_dbus_daemon_add_profile(self, g_ptr_array_index(profiles, i));
	scep_dbus_daemon_update_summary(self);
	return self;
}
