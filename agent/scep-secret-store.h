#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * ScepSecretStore:
 *
 * Long-lived secrets (the mscep_admin account password, a static challenge), each named by an
 * instance ("cert0") and a name ("ndes-password"): both non-empty, at most 128 characters of
 * A-Z a-z 0-9 . _ -. A secret is UTF-8 text without NUL bytes, never empty.
 *
 * Backends:
 * - libsecret: the Secret Service (gnome-keyring and the like), items of the schema
 *   "org.scepagent.Secret" with the string attributes "instance" and "name", in the default
 *   collection. Used where a session bus with org.freedesktop.secrets is reachable.
 * - file: encrypted at rest for the root service that has no Secret Service: one GKeyFile (mode
 *   0600, replaced atomically), group = instance, key = name, value = `enc:v1:` (AES-256-GCM
 *   under the device key, see scep-registry-secret.h) with the additional data
 *   "secret-store/INSTANCE/NAME", so that a value copied to another entry does not decrypt.
 * - memory: for tests; gone with the object.
 *
 * Lookup of a missing secret fails with SCEP_SECRET_STORE_ERROR_NOT_FOUND. Clearing a missing
 * secret succeeds. Secrets returned by lookup are freed with scep_secret_free(), which wipes
 * them. No backend logs a secret.
 */

#define SCEP_SECRET_STORE_ERROR (scep_secret_store_error_quark())

typedef enum {
	SCEP_SECRET_STORE_ERROR_NOT_FOUND,        /* no such secret */
	SCEP_SECRET_STORE_ERROR_INVALID_ARGUMENT, /* a bad instance, name or secret */
	SCEP_SECRET_STORE_ERROR_UNAVAILABLE,      /* the backend cannot be used */
	SCEP_SECRET_STORE_ERROR_CORRUPT,          /* a stored secret cannot be decrypted or read */
} ScepSecretStoreError;

GQuark scep_secret_store_error_quark(void);

/* the environment variable that picks the backend: libsecret, file or memory */
#define SCEP_SECRET_STORE_BACKEND_ENV "SCEP_SECRET_BACKEND"

#define SCEP_TYPE_SECRET_STORE (scep_secret_store_get_type())
G_DECLARE_INTERFACE(ScepSecretStore, scep_secret_store, SCEP, SECRET_STORE, GObject)

/* every backend completes its operations with a GTask whose source object is the store:
 * lookup returns a pointer (a secret freed with scep_secret_free()), store and clear a boolean */
struct _ScepSecretStoreInterface {
	GTypeInterface g_iface;

	const gchar *(*get_backend_name)(ScepSecretStore *self);
	void (*lookup_async)(ScepSecretStore *self,
			     const gchar *instance,
			     const gchar *name,
			     GCancellable *cancellable,
			     GAsyncReadyCallback callback,
			     gpointer user_data);
	void (*store_async)(ScepSecretStore *self,
			    const gchar *instance,
			    const gchar *name,
			    const gchar *secret,
			    GCancellable *cancellable,
			    GAsyncReadyCallback callback,
			    gpointer user_data);
	void (*clear_async)(ScepSecretStore *self,
			    const gchar *instance,
			    const gchar *name,
			    GCancellable *cancellable,
			    GAsyncReadyCallback callback,
			    gpointer user_data);
};

const gchar *scep_secret_store_get_backend_name(ScepSecretStore *self);

void scep_secret_store_lookup_async(ScepSecretStore *self,
				    const gchar *instance,
				    const gchar *name,
				    GCancellable *cancellable,
				    GAsyncReadyCallback callback,
				    gpointer user_data);
gchar *scep_secret_store_lookup_finish(ScepSecretStore *self, GAsyncResult *result, GError **error);

void scep_secret_store_store_async(ScepSecretStore *self,
				   const gchar *instance,
				   const gchar *name,
				   const gchar *secret,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data);
gboolean
scep_secret_store_store_finish(ScepSecretStore *self, GAsyncResult *result, GError **error);

void scep_secret_store_clear_async(ScepSecretStore *self,
				   const gchar *instance,
				   const gchar *name,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data);
gboolean
scep_secret_store_clear_finish(ScepSecretStore *self, GAsyncResult *result, GError **error);

/* wipes, then frees */
void scep_secret_free(gchar *secret);

/* the backends */
ScepSecretStore *scep_secret_store_memory_new(void);
ScepSecretStore *scep_secret_store_file_new(const gchar *path, const gchar *key_path);
ScepSecretStore *scep_secret_store_libsecret_new(void);

/*
 * The backend for this process: SCEP_SECRET_BACKEND=libsecret|file|memory when set, else
 * libsecret when a session bus is reachable on which org.freedesktop.secrets has an owner or is
 * activatable, else file (at <state_dir>/secrets, under the device key of @registry_dir). Logs
 * which one and why. Meant for start-up: it may make two short blocking calls on the session bus.
 */
ScepSecretStore *
scep_secret_store_new_default(const gchar *state_dir, const gchar *registry_dir, GError **error);

G_END_DECLS
