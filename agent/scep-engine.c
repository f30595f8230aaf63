#include "config.h"

#include "scep-engine.h"

#include <errno.h>
#include <glib/gstdio.h>

#include "scep-settings-map.h"

struct _ScepEngine {
	GObject parent_instance;
	gchar *state_dir;
	ScepRegistry *registry;
	ScepClock *clock;
	GHashTable *profiles; /* instance (GUINT_TO_POINTER) -> ScepProfile (owned) */
	gulong changed_id;
	guint debounce_ms;
	gboolean shut_down;
	GFileMonitor *host_name_monitor; /* owned, nullable */
	guint host_name_id;              /* debounce of the monitor's events */
	gchar *host_name;                /* as last seen */
};

G_DEFINE_TYPE(ScepEngine, scep_engine, G_TYPE_OBJECT)

enum { SIGNAL_PROFILE_ADDED, SIGNAL_PROFILE_REMOVED, SIGNAL_LAST };
static guint signals[SIGNAL_LAST] = { 0 };

static void
scep_engine_add_profile(ScepEngine *self, ScepRegistrySnapshot *snapshot, guint instance)
{
	g_autoptr(ScepProfile) profile = scep_profile_new(instance, self->state_dir, self->clock);
	scep_profile_set_settings(profile, snapshot, SCEP_PROFILE_CHANGE_NONE);
	g_hash_table_insert(self->profiles, GUINT_TO_POINTER(instance), g_object_ref(profile));
	g_debug("engine: profile %s added", scep_profile_get_name(profile));
	/* announced before it starts, so that listeners see every transition */
	g_signal_emit(self, signals[SIGNAL_PROFILE_ADDED], 0, profile);
	scep_profile_start(profile);
}

static void
scep_engine_remove_profile(ScepEngine *self, guint instance)
{
	g_autoptr(ScepProfile) profile = NULL;
	gpointer value = NULL;
	if (!g_hash_table_steal_extended(self->profiles, GUINT_TO_POINTER(instance), NULL, &value))
		return;
	profile = value;
	g_message("profile %s: removed from the registry, installed files and state kept",
		  scep_profile_get_name(profile));
	scep_profile_stop(profile);
	g_signal_emit(self, signals[SIGNAL_PROFILE_REMOVED], 0, profile);
}

void
scep_engine_apply_changes(ScepEngine *self, GPtrArray *changes)
{
	ScepRegistrySnapshot *snapshot;
	g_return_if_fail(SCEP_IS_ENGINE(self));

	snapshot = scep_registry_get_snapshot(self->registry);
	for (guint i = 0; i < changes->len; i++) {
		ScepRegistryChange *change = g_ptr_array_index(changes, i);
		ScepProfile *profile =
		    g_hash_table_lookup(self->profiles, GUINT_TO_POINTER(change->instance));
		ScepProfileChange what = SCEP_PROFILE_CHANGE_NONE;
		if (change->kind == SCEP_REGISTRY_CHANGE_REMOVED) {
			scep_engine_remove_profile(self, change->instance);
			continue;
		}
		if (profile == NULL) {
			scep_engine_add_profile(self, snapshot, change->instance);
			continue;
		}
		for (guint k = 0; k < change->keys->len; k++) {
			ScepRegistryKeyChange *kc = g_ptr_array_index(change->keys, k);
			what |= scep_profile_change_from_string(kc->key->change);
			g_debug("profile %s: %s changed (%s)",
				scep_profile_get_name(profile),
				kc->key->name,
				kc->key->change);
		}
		scep_profile_set_settings(profile, snapshot, what);
	}
}

static void
scep_engine_registry_changed_cb(ScepRegistry *registry, GPtrArray *changes, gpointer user_data)
{
	ScepEngine *self = SCEP_ENGINE(user_data);
	if (self->shut_down)
		return;
	scep_engine_apply_changes(self, changes);
}

static gboolean
scep_engine_host_name_check_cb(gpointer user_data)
{
	ScepEngine *self = SCEP_ENGINE(user_data);
	g_autofree gchar *name = scep_settings_map_host_name();
	g_autoptr(GPtrArray) profiles = NULL;

	self->host_name_id = 0;
	if (self->shut_down || g_strcmp0(name, self->host_name) == 0)
		return G_SOURCE_REMOVE;
	g_message("engine: host name changed from %s to %s", self->host_name, name);
	g_free(self->host_name);
	self->host_name = g_steal_pointer(&name);
	profiles = scep_engine_get_profiles(self);
	for (guint i = 0; i < profiles->len; i++)
		scep_profile_host_name_changed(g_ptr_array_index(profiles, i));
	return G_SOURCE_REMOVE;
}

static void
scep_engine_host_name_file_cb(GFileMonitor *monitor,
			      GFile *file,
			      GFile *other_file,
			      GFileMonitorEvent event,
			      gpointer user_data)
{
	ScepEngine *self = SCEP_ENGINE(user_data);
	/* an editor's or g_file_set_contents()'s replace comes as several events: one look after
	 * they settle */
	g_clear_handle_id(&self->host_name_id, g_source_remove);
	self->host_name_id = g_timeout_add(self->debounce_ms, scep_engine_host_name_check_cb, self);
}

/*
 * The static host name can change at run time (hostnamectl, management writing /etc/hostname):
 * an inotify watch on its file, which costs no wake-up while nothing changes. The kernel's
 * host name cannot be watched (/proc/sys/kernel/hostname does not support poll), and inside the
 * unit's ProtectHostname= namespace it never changes anyway; systemd-hostnamed's
 * PropertiesChanged would need the system bus and a running hostnamed.
 */
static void
scep_engine_watch_host_name(ScepEngine *self)
{
	g_autoptr(GFile) file = g_file_new_for_path(scep_settings_map_host_name_file());
	g_autoptr(GError) error = NULL;

	self->host_name = scep_settings_map_host_name();
	self->host_name_monitor =
	    g_file_monitor_file(file, G_FILE_MONITOR_WATCH_MOVES, NULL, &error);
	if (self->host_name_monitor == NULL) {
		g_warning("engine: host name changes in %s are not watched: %s",
			  scep_settings_map_host_name_file(),
			  error->message);
		return;
	}
	g_signal_connect(
	    self->host_name_monitor, "changed", G_CALLBACK(scep_engine_host_name_file_cb), self);
	g_debug("engine: host name %s, watching %s",
		self->host_name,
		scep_settings_map_host_name_file());
}

gboolean
scep_engine_load(ScepEngine *self, GError **error)
{
	ScepRegistrySnapshot *snapshot;
	g_autoptr(GArray) instances = NULL;
	g_return_val_if_fail(SCEP_IS_ENGINE(self), FALSE);

	if (g_mkdir_with_parents(self->state_dir, 0700) != 0) {
		gint errsv = errno;
		g_set_error(error,
			    G_FILE_ERROR,
			    g_file_error_from_errno(errsv),
			    "cannot create the state directory %s: %s",
			    self->state_dir,
			    g_strerror(errsv));
		return FALSE;
	}
	if (!scep_registry_schema_ensure_loaded(error))
		return FALSE;
	if (!scep_registry_load(self->registry, error))
		return FALSE;
	scep_registry_set_debounce(self->registry, self->debounce_ms);
	if (!scep_registry_watch(self->registry, error))
		return FALSE;
	self->changed_id = g_signal_connect(
	    self->registry, "changed", G_CALLBACK(scep_engine_registry_changed_cb), self);
	scep_engine_watch_host_name(self);
	snapshot = scep_registry_get_snapshot(self->registry);
	for (guint i = 0; i < scep_registry_snapshot_get_problems(snapshot)->len; i++) {
		ScepRegistryProblem *p =
		    g_ptr_array_index(scep_registry_snapshot_get_problems(snapshot), i);
		g_autofree gchar *text = scep_registry_problem_to_string(p);
		g_warning("registry: %s", text);
	}
	instances = scep_registry_snapshot_get_instances(snapshot);
	g_message("engine: registry %s loaded, %u instances, state in %s",
		  scep_registry_get_dir(self->registry),
		  instances->len,
		  self->state_dir);
	for (guint i = 0; i < instances->len; i++)
		scep_engine_add_profile(self, snapshot, g_array_index(instances, guint, i));
	return TRUE;
}

void
scep_engine_shutdown(ScepEngine *self)
{
	GHashTableIter iter;
	gpointer value;
	g_return_if_fail(SCEP_IS_ENGINE(self));
	self->shut_down = TRUE;
	g_clear_handle_id(&self->host_name_id, g_source_remove);
	if (self->host_name_monitor != NULL) {
		g_signal_handlers_disconnect_by_data(self->host_name_monitor, self);
		g_file_monitor_cancel(self->host_name_monitor);
		g_clear_object(&self->host_name_monitor);
	}
	g_hash_table_iter_init(&iter, self->profiles);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		scep_profile_stop(SCEP_PROFILE(value));
}

void
scep_engine_set_debounce(ScepEngine *self, guint msec)
{
	g_return_if_fail(SCEP_IS_ENGINE(self));
	self->debounce_ms = msec;
}

ScepClock *
scep_engine_get_clock(ScepEngine *self)
{
	return self->clock;
}

ScepRegistry *
scep_engine_get_registry(ScepEngine *self)
{
	return self->registry;
}

const gchar *
scep_engine_get_state_dir(ScepEngine *self)
{
	return self->state_dir;
}

ScepProfile *
scep_engine_get_profile(ScepEngine *self, guint instance)
{
	g_return_val_if_fail(SCEP_IS_ENGINE(self), NULL);
	return g_hash_table_lookup(self->profiles, GUINT_TO_POINTER(instance));
}

static gint
scep_engine_profile_compare(gconstpointer a, gconstpointer b)
{
	guint ia = scep_profile_get_instance(*(ScepProfile *const *)a);
	guint ib = scep_profile_get_instance(*(ScepProfile *const *)b);
	return ia < ib ? -1 : ia > ib ? 1 : 0;
}

GPtrArray *
scep_engine_get_profiles(ScepEngine *self)
{
	GPtrArray *list = g_ptr_array_new();
	GHashTableIter iter;
	gpointer value;
	g_hash_table_iter_init(&iter, self->profiles);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		g_ptr_array_add(list, value);
	g_ptr_array_sort(list, scep_engine_profile_compare);
	return list;
}

static void
scep_engine_dispose(GObject *object)
{
	ScepEngine *self = SCEP_ENGINE(object);
	if (self->registry != NULL && self->changed_id != 0) {
		g_signal_handler_disconnect(self->registry, self->changed_id);
		self->changed_id = 0;
	}
	if (self->profiles != NULL) {
		scep_engine_shutdown(self);
		g_hash_table_remove_all(self->profiles);
	}
	g_clear_object(&self->registry);
	G_OBJECT_CLASS(scep_engine_parent_class)->dispose(object);
}

static void
scep_engine_finalize(GObject *object)
{
	ScepEngine *self = SCEP_ENGINE(object);
	g_free(self->state_dir);
	g_free(self->host_name);
	g_clear_pointer(&self->profiles, g_hash_table_unref);
	g_clear_object(&self->clock);
	G_OBJECT_CLASS(scep_engine_parent_class)->finalize(object);
}

static void
scep_engine_class_init(ScepEngineClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->dispose = scep_engine_dispose;
	object_class->finalize = scep_engine_finalize;

	signals[SIGNAL_PROFILE_ADDED] = g_signal_new("profile-added",
						     G_TYPE_FROM_CLASS(klass),
						     G_SIGNAL_RUN_LAST,
						     0,
						     NULL,
						     NULL,
						     NULL,
						     G_TYPE_NONE,
						     1,
						     SCEP_TYPE_PROFILE);
	signals[SIGNAL_PROFILE_REMOVED] = g_signal_new("profile-removed",
						       G_TYPE_FROM_CLASS(klass),
						       G_SIGNAL_RUN_LAST,
						       0,
						       NULL,
						       NULL,
						       NULL,
						       G_TYPE_NONE,
						       1,
						       SCEP_TYPE_PROFILE);
}

static void
scep_engine_init(ScepEngine *self)
{
	self->profiles = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_object_unref);
	self->debounce_ms = 100;
}

ScepEngine *
scep_engine_new(const gchar *registry_dir, const gchar *state_dir, ScepClock *clock)
{
	ScepEngine *self = g_object_new(SCEP_TYPE_ENGINE, NULL);
	self->registry = scep_registry_new(registry_dir);
	self->state_dir = g_strdup(state_dir != NULL ? state_dir : SCEP_DEFAULT_STATE_DIR);
	self->clock = clock != NULL ? g_object_ref(clock) : scep_clock_new_system();
	return self;
}
