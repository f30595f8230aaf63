#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Secrets encrypted at rest under a device key.
 *
 * Form of an encrypted value (registry crypt_* values, the file secret store):
 *
 *   enc:v1:BASE64(nonce || ciphertext || tag)
 *
 * AES-256-GCM (GnuTLS AEAD), a random 12-byte nonce per value, a 16-byte tag, standard base64
 * with padding. The additional authenticated data is a context string chosen by the caller (the
 * registry uses the schema name of the key, e.g. "crypt_password"), so that a value cannot be
 * moved to another kind of secret unnoticed. The plaintext is UTF-8 without NUL bytes.
 *
 * The device key is 32 random bytes in a file of mode 0600 owned by the user that runs us (root),
 * by default `<registry-dir>/.secret-key`, or the path in the environment variable
 * SCEP_SECRET_KEY_FILE. It lives next to the registry because both readers, the scep-registry
 * tool (run by root, no daemon) and the daemon, already know that directory and no other; the
 * tool (which writes the registry anyway) creates the key on first use, while the daemon, which
 * only reads /etc under ProtectSystem=strict, only ever reads it. Hidden, so the loader never
 * takes it for registry content. It keeps secrets out of pushed files, copies of single registry
 * files, logs and backups that leave out hidden files; it does not protect against root.
 */

#define SCEP_REGISTRY_SECRET_PREFIX       "enc:v1:"
#define SCEP_REGISTRY_SECRET_KEY_ENV      "SCEP_SECRET_KEY_FILE"
#define SCEP_REGISTRY_SECRET_KEY_BASENAME ".secret-key"
#define SCEP_REGISTRY_SECRET_KEY_SIZE     32

typedef struct _ScepRegistrySecretKey ScepRegistrySecretKey;

gchar *scep_registry_secret_key_path(const gchar *registry_dir);
ScepRegistrySecretKey *scep_registry_secret_key_load(const gchar *path, GError **error);
ScepRegistrySecretKey *scep_registry_secret_key_ensure(const gchar *path, GError **error);
const gchar *scep_registry_secret_key_get_path(ScepRegistrySecretKey *key);
void scep_registry_secret_key_free(ScepRegistrySecretKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepRegistrySecretKey, scep_registry_secret_key_free)

gboolean scep_registry_secret_is_encrypted(const gchar *value);
gchar *scep_registry_secret_encrypt(ScepRegistrySecretKey *key,
				    const gchar *context,
				    const gchar *plaintext,
				    GError **error);
gchar *scep_registry_secret_decrypt(ScepRegistrySecretKey *key,
				    const gchar *context,
				    const gchar *value,
				    GError **error);

/* wipes, then frees; for plaintext secrets */
void scep_registry_secret_free(gchar *secret);

G_END_DECLS
