#include "config.h"

#include "scep-secret-store.h"

#include <libsecret/secret.h>
#include <string.h>

#include "scep-registry.h"

#define SCEP_SECRET_STORE_MAX_NAME 128
#define SECRETS_BUS_NAME           "org.freedesktop.secrets"

G_DEFINE_QUARK(scep - secret - store - error - quark, scep_secret_store_error)

G_DEFINE_INTERFACE(ScepSecretStore, scep_secret_store, G_TYPE_OBJECT)

static void
scep_secret_store_default_init(ScepSecretStoreInterface *iface)
{
}

void
scep_secret_free(gchar *secret)
{
	scep_registry_secret_free(secret);
}

static gboolean
scep_secret_store_name_is_valid(const gchar *text)
{
	gsize len = text != NULL ? strlen(text) : 0;
	if (len == 0 || len > SCEP_SECRET_STORE_MAX_NAME)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		gchar c = text[i];
		if (!g_ascii_isalnum(c) && c != '.' && c != '_' && c != '-')
			return FALSE;
	}
	return TRUE;
}

/* the arguments are checked once here, so that every backend gets valid ones */
static gboolean
scep_secret_store_check_args(const gchar *instance,
			     const gchar *name,
			     const gchar *secret,
			     gboolean need_secret,
			     GError **error)
{
	if (!scep_secret_store_name_is_valid(instance) || !scep_secret_store_name_is_valid(name)) {
		g_set_error_literal(
		    error,
		    SCEP_SECRET_STORE_ERROR,
		    SCEP_SECRET_STORE_ERROR_INVALID_ARGUMENT,
		    "instance and name must be 1 to 128 characters of A-Z a-z 0-9 . _ -");
		return FALSE;
	}
	if (need_secret &&
	    (secret == NULL || secret[0] == '\0' || !g_utf8_validate(secret, -1, NULL))) {
		g_set_error(error,
			    SCEP_SECRET_STORE_ERROR,
			    SCEP_SECRET_STORE_ERROR_INVALID_ARGUMENT,
			    "secret %s/%s: must be non-empty UTF-8 text",
			    instance,
			    name);
		return FALSE;
	}
	return TRUE;
}

/* every operation, in every backend, completes a task of this shape */
static GTask *
scep_secret_store_task_new(gpointer store,
			   gpointer source_tag,
			   GCancellable *cancellable,
			   GAsyncReadyCallback callback,
			   gpointer user_data)
{
	GTask *task = g_task_new(store, cancellable, callback, user_data);
	g_task_set_source_tag(task, source_tag);
	return task;
}

/* "instance/name", as errors name a secret */
static gchar *
scep_secret_store_id(const gchar *instance, const gchar *name)
{
	return g_strdup_printf("%s/%s", instance, name);
}

static void
scep_secret_store_report_invalid(ScepSecretStore *self,
				 gpointer source_tag,
				 GError *error,
				 GAsyncReadyCallback callback,
				 gpointer user_data)
{
	g_autoptr(GTask) task =
	    scep_secret_store_task_new(self, source_tag, NULL, callback, user_data);
	g_task_return_error(task, error);
}

const gchar *
scep_secret_store_get_backend_name(ScepSecretStore *self)
{
	g_return_val_if_fail(SCEP_IS_SECRET_STORE(self), NULL);
	return SCEP_SECRET_STORE_GET_IFACE(self)->get_backend_name(self);
}

/**
 * scep_secret_store_lookup_async:
 *
 * Looks up the secret of (@instance, @name).
 */
void
scep_secret_store_lookup_async(ScepSecretStore *self,
			       const gchar *instance,
			       const gchar *name,
			       GCancellable *cancellable,
			       GAsyncReadyCallback callback,
			       gpointer user_data)
{
	GError *error = NULL;
	g_return_if_fail(SCEP_IS_SECRET_STORE(self));
	if (!scep_secret_store_check_args(instance, name, NULL, FALSE, &error)) {
		scep_secret_store_report_invalid(
		    self, scep_secret_store_lookup_async, error, callback, user_data);
		return;
	}
	SCEP_SECRET_STORE_GET_IFACE(self)->lookup_async(
	    self, instance, name, cancellable, callback, user_data);
}

/**
 * scep_secret_store_lookup_finish:
 *
 * Returns: (transfer full): the secret, to be freed with scep_secret_free();
 * %NULL with %SCEP_SECRET_STORE_ERROR_NOT_FOUND when there is none
 */
gchar *
scep_secret_store_lookup_finish(ScepSecretStore *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

/**
 * scep_secret_store_store_async:
 *
 * Stores @secret as (@instance, @name), replacing what was there.
 */
void
scep_secret_store_store_async(ScepSecretStore *self,
			      const gchar *instance,
			      const gchar *name,
			      const gchar *secret,
			      GCancellable *cancellable,
			      GAsyncReadyCallback callback,
			      gpointer user_data)
{
	GError *error = NULL;
	g_return_if_fail(SCEP_IS_SECRET_STORE(self));
	if (!scep_secret_store_check_args(instance, name, secret, TRUE, &error)) {
		scep_secret_store_report_invalid(
		    self, scep_secret_store_store_async, error, callback, user_data);
		return;
	}
	SCEP_SECRET_STORE_GET_IFACE(self)->store_async(
	    self, instance, name, secret, cancellable, callback, user_data);
}

gboolean
scep_secret_store_store_finish(ScepSecretStore *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}

/**
 * scep_secret_store_clear_async:
 *
 * Removes the secret of (@instance, @name); succeeds when there was none.
 */
void
scep_secret_store_clear_async(ScepSecretStore *self,
			      const gchar *instance,
			      const gchar *name,
			      GCancellable *cancellable,
			      GAsyncReadyCallback callback,
			      gpointer user_data)
{
	GError *error = NULL;
	g_return_if_fail(SCEP_IS_SECRET_STORE(self));
	if (!scep_secret_store_check_args(instance, name, NULL, FALSE, &error)) {
		scep_secret_store_report_invalid(
		    self, scep_secret_store_clear_async, error, callback, user_data);
		return;
	}
	SCEP_SECRET_STORE_GET_IFACE(self)->clear_async(
	    self, instance, name, cancellable, callback, user_data);
}

gboolean
scep_secret_store_clear_finish(ScepSecretStore *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}

/* ---- memory backend (tests) ---- */

#define SCEP_TYPE_SECRET_STORE_MEMORY (scep_secret_store_memory_get_type())
G_DECLARE_FINAL_TYPE(
    ScepSecretStoreMemory, scep_secret_store_memory, SCEP, SECRET_STORE_MEMORY, GObject)

struct _ScepSecretStoreMemory {
	GObject parent_instance;
	GHashTable *secrets; /* "instance/name" -> secret, wiped on removal */
};

static void scep_secret_store_memory_iface_init(ScepSecretStoreInterface *iface);

G_DEFINE_TYPE_WITH_CODE(ScepSecretStoreMemory,
			scep_secret_store_memory,
			G_TYPE_OBJECT,
			G_IMPLEMENT_INTERFACE(SCEP_TYPE_SECRET_STORE,
					      scep_secret_store_memory_iface_init))

static const gchar *
scep_secret_store_memory_get_backend_name(ScepSecretStore *store)
{
	return "memory";
}

static void
scep_secret_store_memory_lookup_async(ScepSecretStore *store,
				      const gchar *instance,
				      const gchar *name,
				      GCancellable *cancellable,
				      GAsyncReadyCallback callback,
				      gpointer user_data)
{
	ScepSecretStoreMemory *self = SCEP_SECRET_STORE_MEMORY(store);
	g_autoptr(GTask) task = scep_secret_store_task_new(
	    self, scep_secret_store_memory_lookup_async, cancellable, callback, user_data);
	g_autofree gchar *id = scep_secret_store_id(instance, name);
	const gchar *secret = g_hash_table_lookup(self->secrets, id);
	if (secret == NULL) {
		g_task_return_new_error(task,
					SCEP_SECRET_STORE_ERROR,
					SCEP_SECRET_STORE_ERROR_NOT_FOUND,
					"secret %s not found",
					id);
		return;
	}
	g_task_return_pointer(task, g_strdup(secret), (GDestroyNotify)scep_secret_free);
}

static void
scep_secret_store_memory_store_async(ScepSecretStore *store,
				     const gchar *instance,
				     const gchar *name,
				     const gchar *secret,
				     GCancellable *cancellable,
				     GAsyncReadyCallback callback,
				     gpointer user_data)
{
	ScepSecretStoreMemory *self = SCEP_SECRET_STORE_MEMORY(store);
	g_autoptr(GTask) task = scep_secret_store_task_new(
	    self, scep_secret_store_memory_store_async, cancellable, callback, user_data);
	g_hash_table_replace(self->secrets, scep_secret_store_id(instance, name), g_strdup(secret));
	g_task_return_boolean(task, TRUE);
}

static void
scep_secret_store_memory_clear_async(ScepSecretStore *store,
				     const gchar *instance,
				     const gchar *name,
				     GCancellable *cancellable,
				     GAsyncReadyCallback callback,
				     gpointer user_data)
{
	ScepSecretStoreMemory *self = SCEP_SECRET_STORE_MEMORY(store);
	g_autoptr(GTask) task = scep_secret_store_task_new(
	    self, scep_secret_store_memory_clear_async, cancellable, callback, user_data);
	g_autofree gchar *id = scep_secret_store_id(instance, name);
	g_hash_table_remove(self->secrets, id);
	g_task_return_boolean(task, TRUE);
}

static void
scep_secret_store_memory_finalize(GObject *object)
{
	ScepSecretStoreMemory *self = SCEP_SECRET_STORE_MEMORY(object);
	g_hash_table_unref(self->secrets);
	G_OBJECT_CLASS(scep_secret_store_memory_parent_class)->finalize(object);
}

static void
scep_secret_store_memory_iface_init(ScepSecretStoreInterface *iface)
{
	iface->get_backend_name = scep_secret_store_memory_get_backend_name;
	iface->lookup_async = scep_secret_store_memory_lookup_async;
	iface->store_async = scep_secret_store_memory_store_async;
	iface->clear_async = scep_secret_store_memory_clear_async;
}

static void
scep_secret_store_memory_class_init(ScepSecretStoreMemoryClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = scep_secret_store_memory_finalize;
}

static void
scep_secret_store_memory_init(ScepSecretStoreMemory *self)
{
	self->secrets = g_hash_table_new_full(
	    g_str_hash, g_str_equal, g_free, (GDestroyNotify)scep_secret_free);
}

ScepSecretStore *
scep_secret_store_memory_new(void)
{
	return SCEP_SECRET_STORE(g_object_new(SCEP_TYPE_SECRET_STORE_MEMORY, NULL));
}

/* ---- file backend: encrypted at rest under the device key ---- */

#define SCEP_TYPE_SECRET_STORE_FILE (scep_secret_store_file_get_type())
G_DECLARE_FINAL_TYPE(ScepSecretStoreFile, scep_secret_store_file, SCEP, SECRET_STORE_FILE, GObject)

struct _ScepSecretStoreFile {
	GObject parent_instance;
	gchar *path;     /* the store */
	gchar *key_path; /* the device key */
	GMutex lock;     /* one read-modify-write at a time; operations run in worker threads */
};

static void scep_secret_store_file_iface_init(ScepSecretStoreInterface *iface);

G_DEFINE_TYPE_WITH_CODE(ScepSecretStoreFile,
			scep_secret_store_file,
			G_TYPE_OBJECT,
			G_IMPLEMENT_INTERFACE(SCEP_TYPE_SECRET_STORE,
					      scep_secret_store_file_iface_init))

typedef enum {
	SCEP_SECRET_STORE_OP_LOOKUP,
	SCEP_SECRET_STORE_OP_STORE,
	SCEP_SECRET_STORE_OP_CLEAR,
} ScepSecretStoreOpKind;

typedef struct {
	ScepSecretStoreOpKind kind;
	gchar *instance;
	gchar *name;
	gchar *secret; /* nullable, wiped */
} ScepSecretStoreOp;

static void
scep_secret_store_op_free(ScepSecretStoreOp *op)
{
	g_free(op->instance);
	g_free(op->name);
	scep_secret_free(op->secret);
	g_free(op);
}

static ScepSecretStoreOp *
scep_secret_store_op_new(ScepSecretStoreOpKind kind,
			 const gchar *instance,
			 const gchar *name,
			 const gchar *secret)
{
	ScepSecretStoreOp *op = g_new0(ScepSecretStoreOp, 1);
	op->kind = kind;
	op->instance = g_strdup(instance);
	op->name = g_strdup(name);
	op->secret = g_strdup(secret);
	return op;
}

static const gchar *
scep_secret_store_file_get_backend_name(ScepSecretStore *store)
{
	return "file";
}

static gchar *
scep_secret_store_file_context(const ScepSecretStoreOp *op)
{
	return g_strdup_printf("secret-store/%s/%s", op->instance, op->name);
}

/* registry errors (device key, atomic write) become secret store errors, message kept */
static void
scep_secret_store_file_convert_error(GError **error, gint code)
{
	if (error == NULL || *error == NULL || (*error)->domain == SCEP_SECRET_STORE_ERROR)
		return;
	(*error)->domain = SCEP_SECRET_STORE_ERROR;
	(*error)->code = code;
}

/* a missing file is an empty store */
static GKeyFile *
scep_secret_store_file_read(ScepSecretStoreFile *self, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error_local = NULL;
	if (!g_key_file_load_from_file(kf, self->path, G_KEY_FILE_NONE, &error_local)) {
		if (g_error_matches(error_local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			return g_steal_pointer(&kf);
		g_set_error(error,
			    SCEP_SECRET_STORE_ERROR,
			    g_error_matches(error_local, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_PARSE)
				? SCEP_SECRET_STORE_ERROR_CORRUPT
				: SCEP_SECRET_STORE_ERROR_UNAVAILABLE,
			    "secret store %s: %s",
			    self->path,
			    error_local->message);
		return NULL;
	}
	return g_steal_pointer(&kf);
}

static gboolean
scep_secret_store_file_write(ScepSecretStoreFile *self, GKeyFile *kf, GError **error)
{
	gsize len = 0;
	g_autofree gchar *data = g_key_file_to_data(kf, &len, NULL);
	if (!scep_registry_write_atomic(self->path, data, len, error)) {
		scep_secret_store_file_convert_error(error, SCEP_SECRET_STORE_ERROR_UNAVAILABLE);
		g_prefix_error(error, "secret store %s: ", self->path);
		return FALSE;
	}
	return TRUE;
}

static gchar *
scep_secret_store_file_lookup_locked(ScepSecretStoreFile *self,
				     const ScepSecretStoreOp *op,
				     GError **error)
{
	g_autoptr(GKeyFile) kf = scep_secret_store_file_read(self, error);
	g_autofree gchar *value = NULL;
	g_autofree gchar *context = NULL;
	g_autoptr(ScepRegistrySecretKey) key = NULL;
	gchar *plain;
	if (kf == NULL)
		return NULL;
	value = g_key_file_get_string(kf, op->instance, op->name, NULL);
	if (value == NULL) {
		g_set_error(error,
			    SCEP_SECRET_STORE_ERROR,
			    SCEP_SECRET_STORE_ERROR_NOT_FOUND,
			    "secret %s/%s not found",
			    op->instance,
			    op->name);
		return NULL;
	}
	key = scep_registry_secret_key_load(self->key_path, error);
	if (key == NULL) {
		scep_secret_store_file_convert_error(error, SCEP_SECRET_STORE_ERROR_UNAVAILABLE);
		return NULL;
	}
	context = scep_secret_store_file_context(op);
	plain = scep_registry_secret_decrypt(key, context, value, error);
	if (plain == NULL) {
		scep_secret_store_file_convert_error(error, SCEP_SECRET_STORE_ERROR_CORRUPT);
		g_prefix_error(error, "secret %s/%s: ", op->instance, op->name);
		return NULL;
	}
	return plain;
}

static gboolean
scep_secret_store_file_store_locked(ScepSecretStoreFile *self,
				    const ScepSecretStoreOp *op,
				    GError **error)
{
	g_autoptr(GKeyFile) kf = scep_secret_store_file_read(self, error);
	g_autoptr(ScepRegistrySecretKey) key = NULL;
	g_autofree gchar *context = NULL;
	g_autofree gchar *value = NULL;
	if (kf == NULL)
		return FALSE;
	key = scep_registry_secret_key_ensure(self->key_path, error);
	if (key == NULL) {
		scep_secret_store_file_convert_error(error, SCEP_SECRET_STORE_ERROR_UNAVAILABLE);
		return FALSE;
	}
	context = scep_secret_store_file_context(op);
	value = scep_registry_secret_encrypt(key, context, op->secret, error);
	if (value == NULL) {
		scep_secret_store_file_convert_error(error, SCEP_SECRET_STORE_ERROR_UNAVAILABLE);
		return FALSE;
	}
	g_key_file_set_string(kf, op->instance, op->name, value);
	return scep_secret_store_file_write(self, kf, error);
}

static gboolean
scep_secret_store_file_clear_locked(ScepSecretStoreFile *self,
				    const ScepSecretStoreOp *op,
				    GError **error)
{
	g_autoptr(GKeyFile) kf = scep_secret_store_file_read(self, error);
	gsize n_left = 0;
	if (kf == NULL)
		return FALSE;
	if (!g_key_file_has_key(kf, op->instance, op->name, NULL))
		return TRUE;
	g_key_file_remove_key(kf, op->instance, op->name, NULL);
	g_strfreev(g_key_file_get_keys(kf, op->instance, &n_left, NULL));
	if (n_left == 0)
		g_key_file_remove_group(kf, op->instance, NULL);
	return scep_secret_store_file_write(self, kf, error);
}

static void
scep_secret_store_file_thread_cb(GTask *task,
				 gpointer source_object,
				 gpointer task_data,
				 GCancellable *cancellable)
{
	ScepSecretStoreFile *self = SCEP_SECRET_STORE_FILE(source_object);
	const ScepSecretStoreOp *op = task_data;
	GError *error = NULL;

	if (g_task_return_error_if_cancelled(task))
		return;
	g_mutex_lock(&self->lock);
	if (op->kind == SCEP_SECRET_STORE_OP_LOOKUP) {
		gchar *plain = scep_secret_store_file_lookup_locked(self, op, &error);
		g_mutex_unlock(&self->lock);
		if (plain == NULL)
			g_task_return_error(task, error);
		else
			g_task_return_pointer(task, plain, (GDestroyNotify)scep_secret_free);
		return;
	}
	if (op->kind == SCEP_SECRET_STORE_OP_STORE
		? scep_secret_store_file_store_locked(self, op, &error)
		: scep_secret_store_file_clear_locked(self, op, &error)) {
		g_mutex_unlock(&self->lock);
		g_task_return_boolean(task, TRUE);
		return;
	}
	g_mutex_unlock(&self->lock);
	g_task_return_error(task, error);
}

static void
scep_secret_store_file_run(ScepSecretStore *store,
			   gpointer tag,
			   ScepSecretStoreOp *op,
			   GCancellable *cancellable,
			   GAsyncReadyCallback callback,
			   gpointer user_data)
{
	g_autoptr(GTask) task =
	    scep_secret_store_task_new(store, tag, cancellable, callback, user_data);
	g_task_set_task_data(task, op, (GDestroyNotify)scep_secret_store_op_free);
	g_task_run_in_thread(task, scep_secret_store_file_thread_cb);
}

static void
scep_secret_store_file_lookup_async(ScepSecretStore *store,
				    const gchar *instance,
				    const gchar *name,
				    GCancellable *cancellable,
				    GAsyncReadyCallback callback,
				    gpointer user_data)
{
	scep_secret_store_file_run(
	    store,
	    scep_secret_store_file_lookup_async,
	    scep_secret_store_op_new(SCEP_SECRET_STORE_OP_LOOKUP, instance, name, NULL),
	    cancellable,
	    callback,
	    user_data);
}

static void
scep_secret_store_file_store_async(ScepSecretStore *store,
				   const gchar *instance,
				   const gchar *name,
				   const gchar *secret,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data)
{
	scep_secret_store_file_run(
	    store,
	    scep_secret_store_file_store_async,
	    scep_secret_store_op_new(SCEP_SECRET_STORE_OP_STORE, instance, name, secret),
	    cancellable,
	    callback,
	    user_data);
}

static void
scep_secret_store_file_clear_async(ScepSecretStore *store,
				   const gchar *instance,
				   const gchar *name,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data)
{
	scep_secret_store_file_run(
	    store,
	    scep_secret_store_file_clear_async,
	    scep_secret_store_op_new(SCEP_SECRET_STORE_OP_CLEAR, instance, name, NULL),
	    cancellable,
	    callback,
	    user_data);
}

static void
scep_secret_store_file_finalize(GObject *object)
{
	ScepSecretStoreFile *self = SCEP_SECRET_STORE_FILE(object);
	g_free(self->path);
	g_free(self->key_path);
	g_mutex_clear(&self->lock);
	G_OBJECT_CLASS(scep_secret_store_file_parent_class)->finalize(object);
}

static void
scep_secret_store_file_iface_init(ScepSecretStoreInterface *iface)
{
	iface->get_backend_name = scep_secret_store_file_get_backend_name;
	iface->lookup_async = scep_secret_store_file_lookup_async;
	iface->store_async = scep_secret_store_file_store_async;
	iface->clear_async = scep_secret_store_file_clear_async;
}

static void
scep_secret_store_file_class_init(ScepSecretStoreFileClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = scep_secret_store_file_finalize;
}

static void
scep_secret_store_file_init(ScepSecretStoreFile *self)
{
	g_mutex_init(&self->lock);
}

/**
 * scep_secret_store_file_new:
 * @path: the store file (created with mode 0600 on the first store)
 * @key_path: the device key (created on the first store when missing)
 */
ScepSecretStore *
scep_secret_store_file_new(const gchar *path, const gchar *key_path)
{
	ScepSecretStoreFile *self = g_object_new(SCEP_TYPE_SECRET_STORE_FILE, NULL);
	self->path = g_strdup(path);
	self->key_path = g_strdup(key_path);
	return SCEP_SECRET_STORE(self);
}

/* ---- libsecret backend: the Secret Service ---- */

#define SCEP_TYPE_SECRET_STORE_LIBSECRET (scep_secret_store_libsecret_get_type())
G_DECLARE_FINAL_TYPE(
    ScepSecretStoreLibsecret, scep_secret_store_libsecret, SCEP, SECRET_STORE_LIBSECRET, GObject)

struct _ScepSecretStoreLibsecret {
	GObject parent_instance;
};

static void scep_secret_store_libsecret_iface_init(ScepSecretStoreInterface *iface);

G_DEFINE_TYPE_WITH_CODE(ScepSecretStoreLibsecret,
			scep_secret_store_libsecret,
			G_TYPE_OBJECT,
			G_IMPLEMENT_INTERFACE(SCEP_TYPE_SECRET_STORE,
					      scep_secret_store_libsecret_iface_init))

static const SecretSchema scep_secret_store_schema = {
	"org.scepagent.Secret",
	SECRET_SCHEMA_NONE,
	{
	    { "instance", SECRET_SCHEMA_ATTRIBUTE_STRING },
	    { "name", SECRET_SCHEMA_ATTRIBUTE_STRING },
	    { NULL, 0 },
	},
};

static const gchar *
scep_secret_store_libsecret_get_backend_name(ScepSecretStore *store)
{
	return "libsecret";
}

/* libsecret's errors keep their text (never a secret) under our domain */
static GError *
scep_secret_store_libsecret_error(GError *error, const gchar *what, const gchar *id)
{
	GError *converted = g_error_new(SCEP_SECRET_STORE_ERROR,
					SCEP_SECRET_STORE_ERROR_UNAVAILABLE,
					"secret service: %s %s: %s",
					what,
					id,
					error->message);
	g_error_free(error);
	return converted;
}

static void
scep_secret_store_libsecret_lookup_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	const gchar *id = g_task_get_task_data(task);
	GError *error = NULL;
	gchar *found = secret_password_lookup_finish(result, &error);
	if (error != NULL) {
		g_task_return_error(task, scep_secret_store_libsecret_error(error, "lookup", id));
		return;
	}
	if (found == NULL) {
		g_task_return_new_error(task,
					SCEP_SECRET_STORE_ERROR,
					SCEP_SECRET_STORE_ERROR_NOT_FOUND,
					"secret %s not found",
					id);
		return;
	}
	/* libsecret's copy is wiped by secret_password_free(), ours by scep_secret_free() */
	g_task_return_pointer(task, g_strdup(found), (GDestroyNotify)scep_secret_free);
	secret_password_free(found);
}

static GTask *
scep_secret_store_libsecret_task(ScepSecretStore *store,
				 gpointer tag,
				 const gchar *instance,
				 const gchar *name,
				 GCancellable *cancellable,
				 GAsyncReadyCallback callback,
				 gpointer user_data)
{
	GTask *task = scep_secret_store_task_new(store, tag, cancellable, callback, user_data);
	g_task_set_task_data(task, scep_secret_store_id(instance, name), g_free);
	return task;
}

static void
scep_secret_store_libsecret_lookup_async(ScepSecretStore *store,
					 const gchar *instance,
					 const gchar *name,
					 GCancellable *cancellable,
					 GAsyncReadyCallback callback,
					 gpointer user_data)
{
	GTask *task = scep_secret_store_libsecret_task(store,
						       scep_secret_store_libsecret_lookup_async,
						       instance,
						       name,
						       cancellable,
						       callback,
						       user_data);
	secret_password_lookup(&scep_secret_store_schema,
			       cancellable,
			       scep_secret_store_libsecret_lookup_cb,
			       task,
			       "instance",
			       instance,
			       "name",
			       name,
			       NULL);
}

/* store and clear: success, or libsecret's error for @what */
static void
scep_secret_store_libsecret_return(GTask *task, GError *error, const gchar *what)
{
	if (error != NULL) {
		g_task_return_error(
		    task,
		    scep_secret_store_libsecret_error(error, what, g_task_get_task_data(task)));
		return;
	}
	g_task_return_boolean(task, TRUE);
}

static void
scep_secret_store_libsecret_store_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;
	/* FALSE always comes with an error */
	secret_password_store_finish(result, &error);
	scep_secret_store_libsecret_return(task, error, "store");
}

static void
scep_secret_store_libsecret_store_async(ScepSecretStore *store,
					const gchar *instance,
					const gchar *name,
					const gchar *secret,
					GCancellable *cancellable,
					GAsyncReadyCallback callback,
					gpointer user_data)
{
	GTask *task = scep_secret_store_libsecret_task(store,
						       scep_secret_store_libsecret_store_async,
						       instance,
						       name,
						       cancellable,
						       callback,
						       user_data);
	g_autofree gchar *label = g_strdup_printf("scep-agent %s %s", instance, name);
	secret_password_store(&scep_secret_store_schema,
			      SECRET_COLLECTION_DEFAULT,
			      label,
			      secret,
			      cancellable,
			      scep_secret_store_libsecret_store_cb,
			      task,
			      "instance",
			      instance,
			      "name",
			      name,
			      NULL);
}

static void
scep_secret_store_libsecret_clear_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;
	/* FALSE without an error: there was nothing to remove, which is fine */
	secret_password_clear_finish(result, &error);
	scep_secret_store_libsecret_return(task, error, "clear");
}

static void
scep_secret_store_libsecret_clear_async(ScepSecretStore *store,
					const gchar *instance,
					const gchar *name,
					GCancellable *cancellable,
					GAsyncReadyCallback callback,
					gpointer user_data)
{
	GTask *task = scep_secret_store_libsecret_task(store,
						       scep_secret_store_libsecret_clear_async,
						       instance,
						       name,
						       cancellable,
						       callback,
						       user_data);
	secret_password_clear(&scep_secret_store_schema,
			      cancellable,
			      scep_secret_store_libsecret_clear_cb,
			      task,
			      "instance",
			      instance,
			      "name",
			      name,
			      NULL);
}

static void
scep_secret_store_libsecret_iface_init(ScepSecretStoreInterface *iface)
{
	iface->get_backend_name = scep_secret_store_libsecret_get_backend_name;
	iface->lookup_async = scep_secret_store_libsecret_lookup_async;
	iface->store_async = scep_secret_store_libsecret_store_async;
	iface->clear_async = scep_secret_store_libsecret_clear_async;
}

static void
scep_secret_store_libsecret_class_init(ScepSecretStoreLibsecretClass *klass)
{
}

static void
scep_secret_store_libsecret_init(ScepSecretStoreLibsecret *self)
{
}

ScepSecretStore *
scep_secret_store_libsecret_new(void)
{
	return SCEP_SECRET_STORE(g_object_new(SCEP_TYPE_SECRET_STORE_LIBSECRET, NULL));
}

/* ---- choosing the backend ---- */

/* no autolaunch: only a session bus that the environment names counts */
static gboolean
scep_secret_store_session_has_secrets(gchar **why)
{
	g_autoptr(GDBusConnection) bus = NULL;
	g_autoptr(GVariant) owner = NULL;
	g_autoptr(GVariant) activatable = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree const gchar **names = NULL;
	const gchar *address = g_getenv("DBUS_SESSION_BUS_ADDRESS");
	gboolean has_owner = FALSE;

	if (address == NULL || address[0] == '\0') {
		*why = g_strdup("no session bus");
		return FALSE;
	}
	bus = g_dbus_connection_new_for_address_sync(
	    address,
	    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
		G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
	    NULL,
	    NULL,
	    &error);
	if (bus == NULL) {
		*why = g_strdup_printf("session bus unreachable: %s", error->message);
		return FALSE;
	}
	owner = g_dbus_connection_call_sync(bus,
					    "org.freedesktop.DBus",
					    "/org/freedesktop/DBus",
					    "org.freedesktop.DBus",
					    "NameHasOwner",
					    g_variant_new("(s)", SECRETS_BUS_NAME),
					    G_VARIANT_TYPE("(b)"),
					    G_DBUS_CALL_FLAGS_NONE,
					    1000,
					    NULL,
					    NULL);
	if (owner != NULL)
		g_variant_get(owner, "(b)", &has_owner);
	if (has_owner) {
		*why = g_strdup(SECRETS_BUS_NAME " has an owner on the session bus");
		return TRUE;
	}
	activatable = g_dbus_connection_call_sync(bus,
						  "org.freedesktop.DBus",
						  "/org/freedesktop/DBus",
						  "org.freedesktop.DBus",
						  "ListActivatableNames",
						  NULL,
						  G_VARIANT_TYPE("(as)"),
						  G_DBUS_CALL_FLAGS_NONE,
						  1000,
						  NULL,
						  NULL);
	if (activatable != NULL) {
		g_variant_get(activatable, "(^a&s)", &names);
		if (g_strv_contains(names, SECRETS_BUS_NAME)) {
			*why = g_strdup(SECRETS_BUS_NAME " is activatable on the session bus");
			return TRUE;
		}
	}
	*why = g_strdup("no " SECRETS_BUS_NAME " on the session bus");
	return FALSE;
}

ScepSecretStore *
scep_secret_store_new_default(const gchar *state_dir, const gchar *registry_dir, GError **error)
{
	const gchar *want = g_getenv(SCEP_SECRET_STORE_BACKEND_ENV);
	g_autofree gchar *why = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *key_path = NULL;

	if (want != NULL && want[0] != '\0') {
		if (g_strcmp0(want, "libsecret") != 0 && g_strcmp0(want, "file") != 0 &&
		    g_strcmp0(want, "memory") != 0) {
			g_set_error(error,
				    SCEP_SECRET_STORE_ERROR,
				    SCEP_SECRET_STORE_ERROR_INVALID_ARGUMENT,
				    "%s=%s: expected libsecret, file or memory",
				    SCEP_SECRET_STORE_BACKEND_ENV,
				    want);
			return NULL;
		}
		why = g_strdup_printf("chosen by %s", SCEP_SECRET_STORE_BACKEND_ENV);
	} else {
		want = scep_secret_store_session_has_secrets(&why) ? "libsecret" : "file";
	}
	if (g_strcmp0(want, "libsecret") == 0) {
		g_message("secret store: libsecret backend (%s)", why);
		return scep_secret_store_libsecret_new();
	}
	if (g_strcmp0(want, "memory") == 0) {
		g_message("secret store: memory backend, secrets are lost at exit (%s)", why);
		return scep_secret_store_memory_new();
	}
	path = g_build_filename(
	    state_dir != NULL ? state_dir : SCEP_DEFAULT_STATE_DIR, "secrets", NULL);
	key_path = scep_registry_secret_key_path(registry_dir);
	g_message("secret store: file backend %s, device key %s (%s)", path, key_path, why);
	return scep_secret_store_file_new(path, key_path);
}
