#include "config.h"

#include "scep-registry.h"

#include <string.h>

struct _ScepRegistry {
	GObject parent_instance;
	gchar *dir;                     /* owned */
	ScepRegistrySnapshot *snapshot; /* owned, nullable before the first load */
	GFileMonitor *dir_monitor;      /* owned, nullable */
	GFileMonitor *dropin_monitor;   /* owned, nullable */
	guint debounce_ms;
	guint debounce_id;
};

G_DEFINE_TYPE(ScepRegistry, scep_registry, G_TYPE_OBJECT)

enum { SIGNAL_CHANGED, SIGNAL_LAST };
static guint signals[SIGNAL_LAST] = { 0 };

void
scep_registry_change_free(ScepRegistryChange *change)
{
	g_ptr_array_unref(change->keys);
	g_free(change);
}

static void
scep_registry_key_change_free(ScepRegistryKeyChange *kc)
{
	/* a secret's values are plaintext (decrypted on load): wiped, not just released */
	if (kc->key != NULL && kc->key->secret) {
		scep_registry_secret_free(g_steal_pointer(&kc->old_value));
		scep_registry_secret_free(g_steal_pointer(&kc->new_value));
	}
	g_free(kc->old_value);
	g_free(kc->new_value);
	g_free(kc);
}

const gchar *
scep_registry_change_kind_to_string(ScepRegistryChangeKind kind)
{
	switch (kind) {
	case SCEP_REGISTRY_CHANGE_ADDED:
		return "added";
	case SCEP_REGISTRY_CHANGE_REMOVED:
		return "removed";
	case SCEP_REGISTRY_CHANGE_CHANGED:
		return "changed";
	default:
		return NULL;
	}
}

/**
 * scep_registry_diff:
 * @old_snapshot: (nullable): before
 * @new_snapshot: after
 *
 * Returns: (transfer full) (element-type ScepRegistryChange): one change per
 * instance that was added, removed or changed, in ascending instance order
 */
GPtrArray *
scep_registry_diff(ScepRegistrySnapshot *old_snapshot, ScepRegistrySnapshot *new_snapshot)
{
	GPtrArray *changes =
	    g_ptr_array_new_with_free_func((GDestroyNotify)scep_registry_change_free);
	g_autoptr(GArray) numbers = scep_registry_snapshot_get_instances(new_snapshot);
	guint n_keys = scep_registry_schema_get_n_keys();

	/* the union of both instance lists, ascending */
	if (old_snapshot != NULL) {
		g_autoptr(GArray) old_numbers = scep_registry_snapshot_get_instances(old_snapshot);
		for (guint i = 0; i < old_numbers->len; i++) {
			guint n = g_array_index(old_numbers, guint, i);
			if (!scep_registry_snapshot_has_instance(new_snapshot, n))
				g_array_append_val(numbers, n);
		}
		g_array_sort(numbers, (GCompareFunc)scep_registry_uint_compare);
	}
	for (guint i = 0; i < numbers->len; i++) {
		guint n = g_array_index(numbers, guint, i);
		gboolean in_old =
		    old_snapshot != NULL && scep_registry_snapshot_has_instance(old_snapshot, n);
		gboolean in_new = scep_registry_snapshot_has_instance(new_snapshot, n);
		g_autoptr(ScepRegistryChange) change = g_new0(ScepRegistryChange, 1);
		change->instance = n;
		change->kind = !in_old   ? SCEP_REGISTRY_CHANGE_ADDED
			       : !in_new ? SCEP_REGISTRY_CHANGE_REMOVED
					 : SCEP_REGISTRY_CHANGE_CHANGED;
		change->keys =
		    g_ptr_array_new_with_free_func((GDestroyNotify)scep_registry_key_change_free);
		for (guint k = 0; k < n_keys; k++) {
			const gchar *a =
			    in_old ? scep_registry_snapshot_get_raw(old_snapshot, n, k, NULL, NULL)
				   : NULL;
			const gchar *b =
			    in_new ? scep_registry_snapshot_get_raw(new_snapshot, n, k, NULL, NULL)
				   : NULL;
			ScepRegistryKeyChange *kc;
			if (g_strcmp0(a, b) == 0)
				continue;
			kc = g_new0(ScepRegistryKeyChange, 1);
			kc->key = scep_registry_schema_get_key(k);
			kc->old_value = g_strdup(a);
			kc->new_value = g_strdup(b);
			g_ptr_array_add(change->keys, kc);
		}
		if (change->keys->len > 0 || change->kind != SCEP_REGISTRY_CHANGE_CHANGED)
			g_ptr_array_add(changes, g_steal_pointer(&change));
	}
	return changes;
}

ScepRegistry *
scep_registry_new(const gchar *dir)
{
	ScepRegistry *self = g_object_new(SCEP_TYPE_REGISTRY, NULL);
	self->dir = g_strdup(dir != NULL ? dir : SCEP_DEFAULT_REGISTRY_DIR);
	return self;
}

const gchar *
scep_registry_get_dir(ScepRegistry *self)
{
	g_return_val_if_fail(SCEP_IS_REGISTRY(self), NULL);
	return self->dir;
}

/* replaces the snapshot by a fresh read, telling nobody */
static gboolean
scep_registry_load_quietly(ScepRegistry *self, GError **error)
{
	ScepRegistrySnapshot *snapshot = scep_registry_snapshot_load(self->dir, error);
	if (snapshot == NULL)
		return FALSE;
	g_clear_pointer(&self->snapshot, scep_registry_snapshot_unref);
	self->snapshot = snapshot;
	return TRUE;
}

/* emits "changed" for what differs between @old_snapshot and the current one; every path
 * that replaces a snapshot ends here, so listeners see file pushes, reloads and writes alike */
static void
scep_registry_emit_changes(ScepRegistry *self, ScepRegistrySnapshot *old_snapshot)
{
	g_autoptr(GPtrArray) changes = NULL;
	if (old_snapshot == NULL || old_snapshot == self->snapshot)
		return;
	changes = scep_registry_diff(old_snapshot, self->snapshot);
	g_debug("registry %s reloaded: %u instances changed", self->dir, changes->len);
	if (changes->len > 0)
		g_signal_emit(self, signals[SIGNAL_CHANGED], 0, changes);
}

static ScepRegistrySnapshot *
scep_registry_ref_snapshot(ScepRegistry *self)
{
	return self->snapshot != NULL ? scep_registry_snapshot_ref(self->snapshot) : NULL;
}

/**
 * scep_registry_load:
 *
 * (Re)reads the registry. Content problems are not failures: see the
 * snapshot's problems. A reload (not the first load) emits "changed" for
 * what differs.
 */
gboolean
scep_registry_load(ScepRegistry *self, GError **error)
{
	g_autoptr(ScepRegistrySnapshot) old_snapshot = NULL;
	g_return_val_if_fail(SCEP_IS_REGISTRY(self), FALSE);
	old_snapshot = scep_registry_ref_snapshot(self);
	if (!scep_registry_load_quietly(self, error))
		return FALSE;
	scep_registry_emit_changes(self, old_snapshot);
	return TRUE;
}

/**
 * scep_registry_get_snapshot:
 *
 * Returns: (transfer none) (nullable): the current snapshot; take a
 * reference to keep it across a reload
 */
ScepRegistrySnapshot *
scep_registry_get_snapshot(ScepRegistry *self)
{
	g_return_val_if_fail(SCEP_IS_REGISTRY(self), NULL);
	return self->snapshot;
}

void
scep_registry_set_debounce(ScepRegistry *self, guint msec)
{
	g_return_if_fail(SCEP_IS_REGISTRY(self));
	self->debounce_ms = msec;
}

static gboolean
scep_registry_debounce_cb(gpointer user_data)
{
	ScepRegistry *self = SCEP_REGISTRY(user_data);
	g_autoptr(GError) error = NULL;

	self->debounce_id = 0;
	/* on failure the last good registry stays in force; the next event retries */
	if (!scep_registry_load(self, &error))
		g_warning("registry %s not reloaded: %s", self->dir, error->message);
	return G_SOURCE_REMOVE;
}

static void
scep_registry_schedule_reload(ScepRegistry *self)
{
	g_clear_handle_id(&self->debounce_id, g_source_remove);
	self->debounce_id = g_timeout_add(self->debounce_ms, scep_registry_debounce_cb, self);
}

static gboolean scep_registry_watch_dropins(ScepRegistry *self, GError **error);

static void
scep_registry_dropin_changed_cb(GFileMonitor *monitor,
				GFile *file,
				GFile *other_file,
				GFileMonitorEvent event,
				gpointer user_data)
{
	ScepRegistry *self = SCEP_REGISTRY(user_data);
	g_autofree gchar *name = g_file_get_basename(file);
	g_autofree gchar *other = other_file != NULL ? g_file_get_basename(other_file) : NULL;
	/* hidden temporary files only matter when renamed onto a real name */
	if (name[0] == '.' && (other == NULL || other[0] == '.'))
		return;
	if (event == G_FILE_MONITOR_EVENT_ATTRIBUTE_CHANGED)
		return;
	scep_registry_schedule_reload(self);
}

static void
scep_registry_dir_changed_cb(GFileMonitor *monitor,
			     GFile *file,
			     GFile *other_file,
			     GFileMonitorEvent event,
			     gpointer user_data)
{
	ScepRegistry *self = SCEP_REGISTRY(user_data);
	g_autofree gchar *name = g_file_get_basename(file);
	g_autofree gchar *other = other_file != NULL ? g_file_get_basename(other_file) : NULL;

	if (g_strcmp0(name, "registry.d") == 0 || g_strcmp0(other, "registry.d") == 0) {
		/* the drop-in directory was created, deleted or replaced: watch it anew */
		g_autoptr(GError) error = NULL;
		if (!scep_registry_watch_dropins(self, &error))
			g_warning("cannot watch %s/registry.d: %s", self->dir, error->message);
		scep_registry_schedule_reload(self);
		return;
	}
	if (g_strcmp0(name, "registry") == 0 || g_strcmp0(other, "registry") == 0) {
		if (event != G_FILE_MONITOR_EVENT_ATTRIBUTE_CHANGED)
			scep_registry_schedule_reload(self);
	}
}

static gboolean
scep_registry_watch_dropins(ScepRegistry *self, GError **error)
{
	g_autofree gchar *path = g_build_filename(self->dir, "registry.d", NULL);
	g_autoptr(GFile) file = g_file_new_for_path(path);
	if (self->dropin_monitor != NULL) {
		g_file_monitor_cancel(self->dropin_monitor);
		g_clear_object(&self->dropin_monitor);
	}
	/* a missing directory is watched from the parent and picked up when created */
	if (!g_file_test(path, G_FILE_TEST_IS_DIR))
		return TRUE;
	self->dropin_monitor =
	    g_file_monitor_directory(file, G_FILE_MONITOR_WATCH_MOVES, NULL, error);
	if (self->dropin_monitor == NULL)
		return FALSE;
	g_signal_connect(
	    self->dropin_monitor, "changed", G_CALLBACK(scep_registry_dropin_changed_cb), self);
	return TRUE;
}

/**
 * scep_registry_watch:
 *
 * Watches the registry directory and its drop-in directory. Every burst of
 * file events is coalesced: the registry is reloaded once the events have
 * been quiet for the debounce time (200 ms by default), and "changed" is
 * emitted with one change per instance.
 */
gboolean
scep_registry_watch(ScepRegistry *self, GError **error)
{
	g_autoptr(GFile) dir = NULL;
	g_return_val_if_fail(SCEP_IS_REGISTRY(self), FALSE);
	if (self->dir_monitor != NULL)
		return TRUE;
	if (g_mkdir_with_parents(self->dir, 0700) != 0) {
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_UNAVAILABLE,
			    "cannot create %s: %s",
			    self->dir,
			    g_strerror(errno));
		return FALSE;
	}
	dir = g_file_new_for_path(self->dir);
	self->dir_monitor = g_file_monitor_directory(dir, G_FILE_MONITOR_WATCH_MOVES, NULL, error);
	if (self->dir_monitor == NULL)
		return FALSE;
	g_signal_connect(
	    self->dir_monitor, "changed", G_CALLBACK(scep_registry_dir_changed_cb), self);
	return scep_registry_watch_dropins(self, error);
}

/* the file whose value wins for @full_key, or the base file */
static gchar *
scep_registry_file_for_key(ScepRegistry *self, const gchar *full_key)
{
	const gchar *file = NULL;
	if (self->snapshot != NULL &&
	    scep_registry_snapshot_lookup(self->snapshot, full_key, &file, NULL) != NULL)
		return g_strdup(file);
	return g_build_filename(self->dir, "registry", NULL);
}

static const ScepRegistryKey *
scep_registry_check_key(const gchar *full_key, GError **error)
{
	const gchar *name = NULL;
	const ScepRegistryKey *key;
	guint number = 0;
	if (!scep_registry_parse_key(full_key, &number, &name)) {
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_UNKNOWN_KEY,
			    "%s: not a scep-agent key (keys look like %sN.NAME)",
			    full_key,
			    SCEP_REGISTRY_KEY_PREFIX);
		return NULL;
	}
	key = scep_registry_schema_lookup(name);
	if (key == NULL) {
		const gchar *suggestion = scep_registry_schema_suggest(name);
		if (suggestion != NULL)
			g_set_error(error,
				    SCEP_REGISTRY_ERROR,
				    SCEP_REGISTRY_ERROR_UNKNOWN_KEY,
				    "%s: unknown key; did you mean %s?",
				    full_key,
				    suggestion);
		else
			g_set_error(error,
				    SCEP_REGISTRY_ERROR,
				    SCEP_REGISTRY_ERROR_UNKNOWN_KEY,
				    "%s: unknown key",
				    full_key);
		return NULL;
	}
	return key;
}

/* validates @value and writes it where it wins, then re-reads quietly */
static gboolean
scep_registry_write_value(ScepRegistry *self,
			  const gchar *full_key,
			  const gchar *value,
			  GError **error)
{
	const ScepRegistryKey *key;
	g_autofree gchar *normal = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *encrypted = NULL;

	if (!scep_registry_schema_ensure_loaded(error))
		return FALSE;
	key = scep_registry_check_key(full_key, error);
	if (key == NULL)
		return FALSE;
	normal = scep_registry_key_normalize(key, value, error);
	if (normal == NULL) {
		g_prefix_error(error, "%s: ", full_key);
		return FALSE;
	}
	/* a secret is written encrypted under the device key (see scep-registry-secret.h) */
	if (key->secret && value[0] != '\0') {
		g_autofree gchar *key_path = scep_registry_secret_key_path(self->dir);
		g_autoptr(ScepRegistrySecretKey) secret_key =
		    scep_registry_secret_key_ensure(key_path, error);
		scep_registry_secret_free(g_steal_pointer(&normal));
		if (secret_key == NULL)
			return FALSE;
		encrypted = scep_registry_secret_encrypt(secret_key, key->name, value, error);
		if (encrypted == NULL) {
			g_prefix_error(error, "%s: ", full_key);
			return FALSE;
		}
		value = encrypted;
	}
	if (self->snapshot == NULL && !scep_registry_load_quietly(self, error))
		return FALSE;
	path = scep_registry_file_for_key(self, full_key);
	if (!scep_registry_file_replace_key(path, full_key, value, NULL, error))
		return FALSE;
	return scep_registry_load_quietly(self, error);
}

/**
 * scep_registry_set_value:
 *
 * Validates @value against the schema and writes it, atomically and
 * durably, into the file whose value currently wins (or the base file), so
 * that it takes effect; the snapshot is re-read and "changed" emitted. A
 * secret (crypt_*) is written encrypted (`enc:v1:`), creating the device
 * key on first use.
 */
gboolean
scep_registry_set_value(ScepRegistry *self,
			const gchar *full_key,
			const gchar *value,
			GError **error)
{
	const gchar *keys[] = { full_key, NULL };
	const gchar *values[] = { value, NULL };
	return scep_registry_set_values(self, keys, values, error);
}

/**
 * scep_registry_set_values:
 * @keys: (array zero-terminated=1): full keys
 * @values: (array zero-terminated=1): their values, as many as @keys
 *
 * Like scep_registry_set_value() for several keys: every key and value is
 * validated before anything is written, then all are written and one
 * "changed" is emitted for them together (also when a later write failed:
 * what was written takes effect).
 */
gboolean
scep_registry_set_values(ScepRegistry *self,
			 const gchar *const *keys,
			 const gchar *const *values,
			 GError **error)
{
	g_autoptr(ScepRegistrySnapshot) old_snapshot = NULL;
	gboolean ok = TRUE;

	g_return_val_if_fail(SCEP_IS_REGISTRY(self), FALSE);
	g_return_val_if_fail(g_strv_length((gchar **)keys) == g_strv_length((gchar **)values),
			     FALSE);
	if (!scep_registry_schema_ensure_loaded(error))
		return FALSE;
	for (guint i = 0; keys[i] != NULL; i++) {
		const ScepRegistryKey *key = scep_registry_check_key(keys[i], error);
		g_autofree gchar *normal = NULL;
		if (key == NULL)
			return FALSE;
		normal = scep_registry_key_normalize(key, values[i], error);
		if (normal == NULL) {
			g_prefix_error(error, "%s: ", keys[i]);
			return FALSE;
		}
		if (key->secret)
			scep_registry_secret_free(g_steal_pointer(&normal));
	}
	old_snapshot = scep_registry_ref_snapshot(self);
	for (guint i = 0; ok && keys[i] != NULL; i++)
		ok = scep_registry_write_value(self, keys[i], values[i], error);
	scep_registry_emit_changes(self, old_snapshot);
	return ok;
}

/**
 * scep_registry_unset_value:
 *
 * Removes @full_key from every file that sets it, so that the default
 * applies. Fails with %SCEP_REGISTRY_ERROR_NOT_FOUND when it was not set.
 */
gboolean
scep_registry_unset_value(ScepRegistry *self, const gchar *full_key, GError **error)
{
	const gchar *file = NULL;
	g_autoptr(ScepRegistrySnapshot) old_snapshot = NULL;
	g_return_val_if_fail(SCEP_IS_REGISTRY(self), FALSE);
	if (!scep_registry_schema_ensure_loaded(error))
		return FALSE;
	if (self->snapshot == NULL && !scep_registry_load_quietly(self, error))
		return FALSE;
	if (scep_registry_snapshot_lookup(self->snapshot, full_key, &file, NULL) == NULL) {
		if (scep_registry_check_key(full_key, error) == NULL)
			return FALSE;
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_NOT_FOUND,
			    "%s: not set",
			    full_key);
		return FALSE;
	}
	/* a key may be set in several files: remove it from each, last first; listeners see
	 * one change, not the intermediate values */
	old_snapshot = scep_registry_ref_snapshot(self);
	while (scep_registry_snapshot_lookup(self->snapshot, full_key, &file, NULL) != NULL) {
		g_autofree gchar *path = g_strdup(file);
		gboolean found = FALSE;
		if (!scep_registry_file_replace_key(path, full_key, NULL, &found, error) ||
		    !scep_registry_load_quietly(self, error)) {
			scep_registry_emit_changes(self, old_snapshot);
			return FALSE;
		}
		if (!found)
			break;
	}
	scep_registry_emit_changes(self, old_snapshot);
	return TRUE;
}

static void
scep_registry_dispose(GObject *object)
{
	ScepRegistry *self = SCEP_REGISTRY(object);
	g_clear_handle_id(&self->debounce_id, g_source_remove);
	if (self->dir_monitor != NULL)
		g_file_monitor_cancel(self->dir_monitor);
	if (self->dropin_monitor != NULL)
		g_file_monitor_cancel(self->dropin_monitor);
	g_clear_object(&self->dir_monitor);
	g_clear_object(&self->dropin_monitor);
	G_OBJECT_CLASS(scep_registry_parent_class)->dispose(object);
}

static void
scep_registry_finalize(GObject *object)
{
	ScepRegistry *self = SCEP_REGISTRY(object);
	g_clear_pointer(&self->snapshot, scep_registry_snapshot_unref);
	g_free(self->dir);
	G_OBJECT_CLASS(scep_registry_parent_class)->finalize(object);
}

static void
scep_registry_class_init(ScepRegistryClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->dispose = scep_registry_dispose;
	object_class->finalize = scep_registry_finalize;

	/**
	 * ScepRegistry::changed:
	 * @changes: (element-type ScepRegistryChange): one entry per instance
	 */
	signals[SIGNAL_CHANGED] = g_signal_new("changed",
					       G_TYPE_FROM_CLASS(klass),
					       G_SIGNAL_RUN_LAST,
					       0,
					       NULL,
					       NULL,
					       NULL,
					       G_TYPE_NONE,
					       1,
					       G_TYPE_PTR_ARRAY);
}

static void
scep_registry_init(ScepRegistry *self)
{
	self->debounce_ms = 200;
}
