#include "config.h"

#include "scep-registry-secret.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scep-registry-error.h"

#define SCEP_REGISTRY_SECRET_NONCE_SIZE 12
#define SCEP_REGISTRY_SECRET_TAG_SIZE   16

struct _ScepRegistrySecretKey {
	guint8 bytes[SCEP_REGISTRY_SECRET_KEY_SIZE];
	gchar *path;
};

void
scep_registry_secret_free(gchar *secret)
{
	if (secret == NULL)
		return;
	gnutls_memset(secret, 0, strlen(secret));
	g_free(secret);
}

void
scep_registry_secret_key_free(ScepRegistrySecretKey *key)
{
	if (key == NULL)
		return;
	gnutls_memset(key->bytes, 0, sizeof(key->bytes));
	g_free(key->path);
	g_free(key);
}

/**
 * scep_registry_secret_key_path:
 * @registry_dir: (nullable): the registry directory; %NULL for the default
 *
 * Returns: SCEP_SECRET_KEY_FILE when set, else `<registry_dir>/.secret-key`
 */
gchar *
scep_registry_secret_key_path(const gchar *registry_dir)
{
	const gchar *env = g_getenv(SCEP_REGISTRY_SECRET_KEY_ENV);
	if (env != NULL && env[0] != '\0')
		return g_strdup(env);
	return g_build_filename(registry_dir != NULL ? registry_dir : SCEP_DEFAULT_REGISTRY_DIR,
				SCEP_REGISTRY_SECRET_KEY_BASENAME,
				NULL);
}

const gchar *
scep_registry_secret_key_get_path(ScepRegistrySecretKey *key)
{
	return key->path;
}

static gboolean
scep_registry_secret_read_all(int fd, guint8 *buf, gsize len)
{
	while (len > 0) {
		gssize n = read(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return FALSE;
		buf += n;
		len -= (gsize)n;
	}
	return TRUE;
}

/* the key file must be ours, a regular file, readable by nobody else, exactly the key */
static ScepRegistrySecretKey *
scep_registry_secret_key_read_fd(int fd, const gchar *path, GError **error)
{
	g_autoptr(ScepRegistrySecretKey) key = NULL;
	struct stat st;

	if (fstat(fd, &st) != 0) {
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_UNAVAILABLE,
			    "device key %s: %s",
			    path,
			    g_strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size != SCEP_REGISTRY_SECRET_KEY_SIZE) {
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_UNAVAILABLE,
			    "device key %s: not a regular file of %d bytes",
			    path,
			    SCEP_REGISTRY_SECRET_KEY_SIZE);
		return NULL;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_UNAVAILABLE,
			    "device key %s: must be owned by uid %u and have mode 0600 "
			    "(it has uid %u, mode %04o)",
			    path,
			    (guint)geteuid(),
			    (guint)st.st_uid,
			    (guint)(st.st_mode & 07777));
		return NULL;
	}
	key = g_new0(ScepRegistrySecretKey, 1);
	key->path = g_strdup(path);
	if (!scep_registry_secret_read_all(fd, key->bytes, sizeof(key->bytes))) {
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_UNAVAILABLE,
			    "device key %s: read error",
			    path);
		return NULL;
	}
	return g_steal_pointer(&key);
}

/**
 * scep_registry_secret_key_load:
 *
 * Reads an existing device key. It fails with %SCEP_REGISTRY_ERROR_NOT_FOUND
 * when the file does not exist, and with %SCEP_REGISTRY_ERROR_UNAVAILABLE
 * when it cannot be read or is not owned by us with mode 0600.
 */
ScepRegistrySecretKey *
scep_registry_secret_key_load(const gchar *path, GError **error)
{
	ScepRegistrySecretKey *key;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		gint saved = errno;
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    saved == ENOENT ? SCEP_REGISTRY_ERROR_NOT_FOUND
					    : SCEP_REGISTRY_ERROR_UNAVAILABLE,
			    "device key %s: %s",
			    path,
			    g_strerror(saved));
		return NULL;
	}
	key = scep_registry_secret_key_read_fd(fd, path, error);
	close(fd);
	return key;
}

static gboolean
scep_registry_secret_write_key_file(const gchar *tmp, int fd, const guint8 *bytes, GError **error)
{
	gsize done = 0;
	while (done < SCEP_REGISTRY_SECRET_KEY_SIZE) {
		gssize n = write(fd, bytes + done, SCEP_REGISTRY_SECRET_KEY_SIZE - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			g_set_error(error,
				    SCEP_REGISTRY_ERROR,
				    SCEP_REGISTRY_ERROR_UNAVAILABLE,
				    "device key %s: write failed: %s",
				    tmp,
				    g_strerror(errno));
			return FALSE;
		}
		done += (gsize)n;
	}
	if (fsync(fd) != 0) {
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_UNAVAILABLE,
			    "device key %s: fsync failed: %s",
			    tmp,
			    g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

/* a complete key file appears under @path at once, or not at all: written to a hidden temporary
 * file, synced, then hard-linked, which (unlike rename) never replaces a key that another process
 * created meanwhile: values already encrypted under that key stay readable */
static gboolean
scep_registry_secret_key_create(const gchar *path, GError **error)
{
	g_autofree gchar *dir = g_path_get_dirname(path);
	g_autofree gchar *base = g_path_get_basename(path);
	g_autofree gchar *tmp = g_strdup_printf("%s/.%s.XXXXXX", dir, base);
	guint8 bytes[SCEP_REGISTRY_SECRET_KEY_SIZE];
	gboolean ok;
	int rc;
	int fd;
	int dfd;

	if (g_mkdir_with_parents(dir, 0700) != 0) {
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_UNAVAILABLE,
			    "cannot create %s: %s",
			    dir,
			    g_strerror(errno));
		return FALSE;
	}
	rc = gnutls_rnd(GNUTLS_RND_KEY, bytes, sizeof(bytes));
	if (rc < 0) {
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_UNAVAILABLE,
			    "cannot make a device key: %s",
			    gnutls_strerror(rc));
		return FALSE;
	}
	fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		gnutls_memset(bytes, 0, sizeof(bytes));
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_UNAVAILABLE,
			    "cannot create a file in %s: %s",
			    dir,
			    g_strerror(errno));
		return FALSE;
	}
	ok = scep_registry_secret_write_key_file(tmp, fd, bytes, error);
	gnutls_memset(bytes, 0, sizeof(bytes));
	close(fd);
	if (ok && link(tmp, path) != 0 && errno != EEXIST) {
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_UNAVAILABLE,
			    "device key %s: %s",
			    path,
			    g_strerror(errno));
		ok = FALSE;
	}
	g_unlink(tmp);
	if (!ok)
		return FALSE;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return TRUE;
}

/**
 * scep_registry_secret_key_ensure:
 *
 * Reads the device key, creating it first (32 random bytes, mode 0600,
 * atomically) when the file does not exist.
 */
ScepRegistrySecretKey *
scep_registry_secret_key_ensure(const gchar *path, GError **error)
{
	g_autoptr(GError) error_local = NULL;
	ScepRegistrySecretKey *key = scep_registry_secret_key_load(path, &error_local);
	if (key != NULL)
		return key;
	if (!g_error_matches(error_local, SCEP_REGISTRY_ERROR, SCEP_REGISTRY_ERROR_NOT_FOUND)) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}
	if (!scep_registry_secret_key_create(path, error))
		return NULL;
	return scep_registry_secret_key_load(path, error);
}

gboolean
scep_registry_secret_is_encrypted(const gchar *value)
{
	return value != NULL && g_str_has_prefix(value, SCEP_REGISTRY_SECRET_PREFIX);
}

static gboolean
scep_registry_secret_cipher_init(ScepRegistrySecretKey *key,
				 gnutls_aead_cipher_hd_t *handle,
				 GError **error)
{
	gnutls_datum_t datum = { key->bytes, sizeof(key->bytes) };
	int rc = gnutls_aead_cipher_init(handle, GNUTLS_CIPHER_AES_256_GCM, &datum);
	if (rc < 0) {
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_UNAVAILABLE,
			    "AES-256-GCM unavailable: %s",
			    gnutls_strerror(rc));
		return FALSE;
	}
	return TRUE;
}

/**
 * scep_registry_secret_encrypt:
 * @context: the additional authenticated data; the same is needed to decrypt
 *
 * Returns: (transfer full): `enc:v1:` and the base64 of nonce, ciphertext and tag
 */
gchar *
scep_registry_secret_encrypt(ScepRegistrySecretKey *key,
			     const gchar *context,
			     const gchar *plaintext,
			     GError **error)
{
	gnutls_aead_cipher_hd_t handle = NULL;
	gsize ptext_len = strlen(plaintext);
	gsize blob_len =
	    SCEP_REGISTRY_SECRET_NONCE_SIZE + ptext_len + SCEP_REGISTRY_SECRET_TAG_SIZE;
	g_autofree guint8 *blob = g_malloc0(blob_len);
	g_autofree gchar *b64 = NULL;
	size_t ctext_len = ptext_len + SCEP_REGISTRY_SECRET_TAG_SIZE;
	int rc;

	rc = gnutls_rnd(GNUTLS_RND_NONCE, blob, SCEP_REGISTRY_SECRET_NONCE_SIZE);
	if (rc < 0) {
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_UNAVAILABLE,
			    "cannot make a nonce: %s",
			    gnutls_strerror(rc));
		return NULL;
	}
	if (!scep_registry_secret_cipher_init(key, &handle, error))
		return NULL;
	rc = gnutls_aead_cipher_encrypt(handle,
					blob,
					SCEP_REGISTRY_SECRET_NONCE_SIZE,
					context,
					strlen(context),
					SCEP_REGISTRY_SECRET_TAG_SIZE,
					plaintext,
					ptext_len,
					blob + SCEP_REGISTRY_SECRET_NONCE_SIZE,
					&ctext_len);
	gnutls_aead_cipher_deinit(handle);
	if (rc < 0 || ctext_len != ptext_len + SCEP_REGISTRY_SECRET_TAG_SIZE) {
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_UNAVAILABLE,
			    "encryption failed: %s",
			    gnutls_strerror(rc));
		return NULL;
	}
	b64 = g_base64_encode(blob, blob_len);
	return g_strconcat(SCEP_REGISTRY_SECRET_PREFIX, b64, NULL);
}

/* g_base64_decode() skips what is not base64: a damaged value must fail instead */
static gboolean
scep_registry_secret_is_base64(const gchar *text)
{
	gsize len = strlen(text);
	gsize pad = 0;
	if (len == 0 || len % 4 != 0)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		gchar c = text[i];
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || !(g_ascii_isalnum(c) || c == '+' || c == '/'))
			return FALSE;
	}
	return pad <= 2;
}

/**
 * scep_registry_secret_decrypt:
 *
 * The error never quotes @value nor anything decrypted from it; callers
 * prefix the name of what failed.
 *
 * Returns: (transfer full): the plaintext, to be freed with
 * scep_registry_secret_free()
 */
gchar *
scep_registry_secret_decrypt(ScepRegistrySecretKey *key,
			     const gchar *context,
			     const gchar *value,
			     GError **error)
{
	gnutls_aead_cipher_hd_t handle = NULL;
	const gchar *b64;
	g_autofree guint8 *blob = NULL;
	gsize blob_len = 0;
	gchar *plaintext;
	size_t ptext_len;
	gsize alloc_len;
	int rc;

	if (!scep_registry_secret_is_encrypted(value)) {
		g_set_error_literal(error,
				    SCEP_REGISTRY_ERROR,
				    SCEP_REGISTRY_ERROR_INVALID_VALUE,
				    "not an " SCEP_REGISTRY_SECRET_PREFIX " value");
		return NULL;
	}
	b64 = value + strlen(SCEP_REGISTRY_SECRET_PREFIX);
	if (!scep_registry_secret_is_base64(b64)) {
		g_set_error_literal(error,
				    SCEP_REGISTRY_ERROR,
				    SCEP_REGISTRY_ERROR_INVALID_VALUE,
				    "damaged encrypted value: not base64");
		return NULL;
	}
	blob = g_base64_decode(b64, &blob_len);
	if (blob_len < SCEP_REGISTRY_SECRET_NONCE_SIZE + SCEP_REGISTRY_SECRET_TAG_SIZE) {
		g_set_error_literal(error,
				    SCEP_REGISTRY_ERROR,
				    SCEP_REGISTRY_ERROR_INVALID_VALUE,
				    "damaged encrypted value: too short");
		return NULL;
	}
	ptext_len = blob_len - SCEP_REGISTRY_SECRET_NONCE_SIZE - SCEP_REGISTRY_SECRET_TAG_SIZE;
	alloc_len = ptext_len + 1;
	plaintext = g_malloc0(alloc_len);
	if (!scep_registry_secret_cipher_init(key, &handle, error)) {
		g_free(plaintext);
		return NULL;
	}
	rc = gnutls_aead_cipher_decrypt(handle,
					blob,
					SCEP_REGISTRY_SECRET_NONCE_SIZE,
					context,
					strlen(context),
					SCEP_REGISTRY_SECRET_TAG_SIZE,
					blob + SCEP_REGISTRY_SECRET_NONCE_SIZE,
					blob_len - SCEP_REGISTRY_SECRET_NONCE_SIZE,
					plaintext,
					&ptext_len);
	gnutls_aead_cipher_deinit(handle);
	if (rc < 0) {
		gnutls_memset(plaintext, 0, alloc_len);
		g_free(plaintext);
		g_set_error(
		    error,
		    SCEP_REGISTRY_ERROR,
		    SCEP_REGISTRY_ERROR_INVALID_VALUE,
		    "cannot be decrypted with the device key %s (another device's key, or a "
		    "damaged value)",
		    key->path);
		return NULL;
	}
	if (ptext_len >= alloc_len || strlen(plaintext) != ptext_len ||
	    !g_utf8_validate(plaintext, -1, NULL)) {
		gnutls_memset(plaintext, 0, alloc_len);
		g_free(plaintext);
		g_set_error_literal(error,
				    SCEP_REGISTRY_ERROR,
				    SCEP_REGISTRY_ERROR_INVALID_VALUE,
				    "decrypted value is not UTF-8 text");
		return NULL;
	}
	return plaintext;
}
