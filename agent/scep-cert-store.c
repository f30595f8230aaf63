#include "config.h"

#include "scep-cert-store.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scep-csr.h"
#include "scep-gnutls-common.h"

#define SCEP_CERT_STORE_JOURNAL     "cert-install.journal"
#define SCEP_CERT_STORE_JOURNAL_TMP ".cert-install.journal.tmp"
#define SCEP_CERT_STORE_STAGED_EXT  ".scep-new"
#define SCEP_CERT_STORE_BAK_TMP_EXT ".scep-bak"

const gchar *const scep_cert_store_crash_points[] = {
	"staged", "journaled", "committed", "renamed-key", "renamed-cert", "renamed-chain", NULL,
};

/* the three files in installation order; @role names them in the journal */
typedef struct {
	const gchar *role;
	const gchar *target; /* nullable: chain not managed */
	mode_t mode;
} ScepCertStoreFile;

ScepCertPaths *
scep_cert_paths_new(const gchar *key_path, const gchar *cert_path, const gchar *chain_path)
{
	ScepCertPaths *self = g_new0(ScepCertPaths, 1);

	self->key_path = g_strdup(key_path);
	self->cert_path = g_strdup(cert_path);
	self->chain_path = g_strdup(chain_path);
	return self;
}

void
scep_cert_paths_free(ScepCertPaths *self)
{
	if (self == NULL)
		return;
	g_free(self->key_path);
	g_free(self->cert_path);
	g_free(self->chain_path);
	g_free(self);
}

static void
scep_cert_store_crash_at(const gchar *point)
{
	const gchar *want = g_getenv("SCEP_AGENT_TEST_CRASH_AT");

	if (want != NULL && g_strcmp0(want, point) == 0)
		raise(SIGKILL);
}

gchar *
scep_cert_store_staged_path(const gchar *target)
{
	g_autofree gchar *dir = g_path_get_dirname(target);
	g_autofree gchar *base = g_path_get_basename(target);
	g_autofree gchar *name = g_strdup_printf(".%s" SCEP_CERT_STORE_STAGED_EXT, base);

	return g_build_filename(dir, name, NULL);
}

static gchar *
scep_cert_store_bak_tmp_path(const gchar *target)
{
	g_autofree gchar *dir = g_path_get_dirname(target);
	g_autofree gchar *base = g_path_get_basename(target);
	g_autofree gchar *name = g_strdup_printf(".%s" SCEP_CERT_STORE_BAK_TMP_EXT, base);

	return g_build_filename(dir, name, NULL);
}

static gboolean
scep_cert_store_set_errno(GError **error, int errsv, const gchar *what, const gchar *path)
{
	g_set_error(error,
		    G_IO_ERROR,
		    g_io_error_from_errno(errsv),
		    "cannot %s %s: %s",
		    what,
		    path,
		    g_strerror(errsv));
	return FALSE;
}

static gboolean
scep_cert_store_unlink(const gchar *path, GError **error)
{
	/* ENOTDIR: a parent is not a directory, so there is nothing to remove either */
	if (unlink(path) < 0 && errno != ENOENT && errno != ENOTDIR)
		return scep_cert_store_set_errno(error, errno, "remove", path);
	return TRUE;
}

static gboolean
scep_cert_store_fsync_dir(const gchar *dir, GError **error)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return scep_cert_store_set_errno(error, errno, "open directory", dir);
	if (fsync(fd) < 0 && errno != EINVAL) {
		int errsv = errno;
		close(fd);
		return scep_cert_store_set_errno(error, errsv, "sync directory", dir);
	}
	close(fd);
	return TRUE;
}

static gboolean
scep_cert_store_fsync_parent(const gchar *path, GError **error)
{
	g_autofree gchar *dir = g_path_get_dirname(path);

	return scep_cert_store_fsync_dir(dir, error);
}

/* a new file with exactly @mode (whatever the umask), written in full and fsynced */
static gboolean
scep_cert_store_write_synced(
    const gchar *path, const guint8 *data, gsize len, mode_t mode, GError **error)
{
	gsize done = 0;
	int fd;

	if (!scep_cert_store_unlink(path, error))
		return FALSE;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return scep_cert_store_set_errno(error, errno, "create", path);
	if (fchmod(fd, mode) < 0) {
		int errsv = errno;
		close(fd);
		return scep_cert_store_set_errno(error, errsv, "set the mode of", path);
	}
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int errsv = errno;
			close(fd);
			return scep_cert_store_set_errno(error, errsv, "write", path);
		}
		done += (gsize)n;
	}
	if (fsync(fd) < 0) {
		int errsv = errno;
		close(fd);
		return scep_cert_store_set_errno(error, errsv, "sync", path);
	}
	if (close(fd) < 0)
		return scep_cert_store_set_errno(error, errno, "close", path);
	return TRUE;
}

static gboolean
scep_cert_store_rename(const gchar *from, const gchar *to, GError **error)
{
	if (rename(from, to) < 0) {
		int errsv = errno;
		g_set_error(error,
			    G_IO_ERROR,
			    g_io_error_from_errno(errsv),
			    "cannot rename %s to %s: %s",
			    from,
			    to,
			    g_strerror(errsv));
		return FALSE;
	}
	return TRUE;
}

/* @dest becomes a copy of @src (same mode), atomically: a temporary beside it, then rename */
static gboolean
scep_cert_store_copy_atomic(const gchar *src, const gchar *dest, GError **error)
{
	g_autofree gchar *contents = NULL;
	g_autofree gchar *tmp = scep_cert_store_bak_tmp_path(dest);
	g_autoptr(GError) error_local = NULL;
	gsize len = 0;
	struct stat st;
	gboolean ok;

	if (stat(src, &st) < 0)
		return scep_cert_store_set_errno(error, errno, "stat", src);
	if (!g_file_get_contents(src, &contents, &len, &error_local)) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_FAILED,
			    "cannot read %s: %s",
			    src,
			    error_local->message);
		return FALSE;
	}
	ok = scep_cert_store_write_synced(
	    tmp, (const guint8 *)contents, len, st.st_mode & 0777, error);
	/* keys pass through here too */
	memset(contents, 0, len);
	if (!ok)
		return FALSE;
	return scep_cert_store_rename(tmp, dest, error);
}

/* keeps @target as "<target>.bak": a hard link (the target is later replaced by rename, not
 * rewritten, so the link keeps the old contents), or a copy where links are not possible */
static gboolean
scep_cert_store_backup(const gchar *target, GError **error)
{
	g_autofree gchar *bak = g_strconcat(target, ".bak", NULL);
	g_autofree gchar *tmp = scep_cert_store_bak_tmp_path(target);

	if (access(target, F_OK) < 0)
		return TRUE;
	if (!scep_cert_store_unlink(tmp, error))
		return FALSE;
	if (link(target, tmp) == 0)
		return scep_cert_store_rename(tmp, bak, error);
	return scep_cert_store_copy_atomic(target, bak, error);
}

/* ---- loading and matching ---- */

static void
scep_cert_store_wipe_free(gpointer data)
{
	GByteArray *array = data;

	memset(array->data, 0, array->len);
	g_byte_array_unref(array);
}

static GBytes *
scep_cert_store_read(const gchar *path, GError **error)
{
	g_autoptr(GError) error_local = NULL;
	gchar *contents = NULL;
	gsize len = 0;
	GByteArray *array;

	if (!g_file_get_contents(path, &contents, &len, &error_local)) {
		if (g_error_matches(error_local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s is missing", path);
			return NULL;
		}
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_FAILED,
			    "cannot read %s: %s",
			    path,
			    error_local->message);
		return NULL;
	}
	array = g_byte_array_new_take((guint8 *)contents, len);
	return g_bytes_new_with_free_func(
	    array->data, array->len, scep_cert_store_wipe_free, array);
}

static gnutls_x509_crt_t
scep_cert_store_import_cert(GBytes *data, const gchar *what, GError **error)
{
	g_auto(gnutls_x509_crt_t) cert = NULL;
	gnutls_datum_t datum = scep_gnutls_datum_from_bytes(data);
	int rc;

	if (gnutls_x509_crt_init(&cert) < 0) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, "out of memory");
		return NULL;
	}
	rc = gnutls_x509_crt_import(cert, &datum, GNUTLS_X509_FMT_PEM);
	if (rc < 0)
		rc = gnutls_x509_crt_import(cert, &datum, GNUTLS_X509_FMT_DER);
	if (rc < 0) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_DATA,
			    "%s is not a certificate: %s",
			    what,
			    gnutls_strerror(rc));
		return NULL;
	}
	return g_steal_pointer(&cert);
}

static gnutls_privkey_t
scep_cert_store_import_key(GBytes *data, const gchar *what, GError **error)
{
	g_autoptr(GError) error_local = NULL;
	gnutls_privkey_t key = scep_csr_import_key(data, &error_local);

	if (key == NULL) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_DATA,
			    "%s: %s",
			    what,
			    error_local->message);
		return NULL;
	}
	return key;
}

static gboolean
scep_cert_store_check_match(gnutls_x509_crt_t cert,
			    gnutls_privkey_t key,
			    const gchar *what,
			    GError **error)
{
	g_auto(gnutls_pubkey_t) cert_pub = NULL;
	g_auto(gnutls_pubkey_t) key_pub = NULL;
	g_auto(ScepGnutlsDatum) cert_der = { NULL, 0 };
	g_auto(ScepGnutlsDatum) key_der = { NULL, 0 };

	if (gnutls_pubkey_init(&cert_pub) < 0 || gnutls_pubkey_init(&key_pub) < 0 ||
	    gnutls_pubkey_import_x509(cert_pub, cert, 0) < 0 ||
	    gnutls_pubkey_import_privkey(key_pub, key, 0, 0) < 0 ||
	    gnutls_pubkey_export2(cert_pub, GNUTLS_X509_FMT_DER, &cert_der) < 0 ||
	    gnutls_pubkey_export2(key_pub, GNUTLS_X509_FMT_DER, &key_der) < 0) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_DATA,
			    "%s: cannot compare the public keys",
			    what);
		return FALSE;
	}
	if (cert_der.size != key_der.size ||
	    memcmp(cert_der.data, key_der.data, cert_der.size) != 0) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_DATA,
			    "%s: the private key does not belong to the certificate",
			    what);
		return FALSE;
	}
	return TRUE;
}

static gboolean
scep_cert_store_load_files(const gchar *key_path,
			   const gchar *cert_path,
			   gnutls_x509_crt_t *cert_out,
			   gnutls_privkey_t *key_out,
			   GError **error)
{
	g_autoptr(GBytes) key_data = NULL;
	g_autoptr(GBytes) cert_data = NULL;
	g_auto(gnutls_x509_crt_t) cert = NULL;
	g_auto(gnutls_privkey_t) key = NULL;

	cert_data = scep_cert_store_read(cert_path, error);
	if (cert_data == NULL)
		return FALSE;
	key_data = scep_cert_store_read(key_path, error);
	if (key_data == NULL)
		return FALSE;
	cert = scep_cert_store_import_cert(cert_data, cert_path, error);
	if (cert == NULL)
		return FALSE;
	key = scep_cert_store_import_key(key_data, key_path, error);
	if (key == NULL)
		return FALSE;
	if (!scep_cert_store_check_match(cert, key, cert_path, error))
		return FALSE;
	if (cert_out != NULL)
		*cert_out = g_steal_pointer(&cert);
	if (key_out != NULL)
		*key_out = g_steal_pointer(&key);
	return TRUE;
}

gboolean
scep_cert_store_load(const ScepCertPaths *paths,
		     gnutls_x509_crt_t *cert_out,
		     gnutls_privkey_t *key_out,
		     GError **error)
{
	g_return_val_if_fail(paths != NULL, FALSE);
	g_return_val_if_fail(paths->key_path != NULL && paths->cert_path != NULL, FALSE);
	return scep_cert_store_load_files(
	    paths->key_path, paths->cert_path, cert_out, key_out, error);
}

/* ---- the journal ---- */

static gboolean
scep_cert_store_write_journal(const gchar *journal_dir,
			      const ScepCertStoreFile *files,
			      gboolean committed,
			      GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autofree gchar *path = g_build_filename(journal_dir, SCEP_CERT_STORE_JOURNAL, NULL);
	g_autofree gchar *tmp = g_build_filename(journal_dir, SCEP_CERT_STORE_JOURNAL_TMP, NULL);
	g_autofree gchar *data = NULL;
	gsize len = 0;

	g_key_file_set_boolean(kf, "journal", "committed", committed);
	for (guint i = 0; files[i].role != NULL; i++) {
		g_autofree gchar *group = g_strdup_printf("file %s", files[i].role);
		g_autofree gchar *staged = NULL;

		if (files[i].target == NULL)
			continue;
		staged = scep_cert_store_staged_path(files[i].target);
		g_key_file_set_string(kf, group, "staged", staged);
		g_key_file_set_string(kf, group, "target", files[i].target);
	}
	data = g_key_file_to_data(kf, &len, NULL);
	if (!scep_cert_store_write_synced(tmp, (const guint8 *)data, len, 0600, error))
		return FALSE;
	if (!scep_cert_store_rename(tmp, path, error))
		return FALSE;
	return scep_cert_store_fsync_dir(journal_dir, error);
}

/* ---- installation ---- */

static gboolean
scep_cert_store_ensure_dir(const gchar *path, int mode, GError **error)
{
	g_autofree gchar *dir = g_path_get_dirname(path);

	if (g_file_test(dir, G_FILE_TEST_IS_DIR))
		return TRUE;
	if (g_mkdir_with_parents(dir, mode) < 0)
		return scep_cert_store_set_errno(error, errno, "create directory", dir);
	/* make the new directory entry itself durable */
	return scep_cert_store_fsync_parent(dir, error);
}

static gboolean
scep_cert_store_sync_dirs(const ScepCertStoreFile *files, GError **error)
{
	for (guint i = 0; files[i].role != NULL; i++) {
		if (files[i].target == NULL)
			continue;
		if (!scep_cert_store_fsync_parent(files[i].target, error))
			return FALSE;
	}
	return TRUE;
}

static void
scep_cert_store_unlink_staged(const ScepCertStoreFile *files)
{
	for (guint i = 0; files[i].role != NULL; i++) {
		g_autofree gchar *staged = NULL;

		if (files[i].target == NULL)
			continue;
		staged = scep_cert_store_staged_path(files[i].target);
		(void)unlink(staged);
	}
}

/* after the commit mark; on failure recovery runs at once so that no mixed set stays in place */
static gboolean
scep_cert_store_replace(const gchar *journal_dir,
			const ScepCertPaths *paths,
			const ScepCertStoreFile *files,
			GError **error)
{
	const gchar *rename_points[] = { "renamed-key", "renamed-cert", "renamed-chain" };
	g_autoptr(GError) error_local = NULL;
	gboolean ok = TRUE;

	for (guint i = 0; ok && files[i].role != NULL; i++) {
		if (files[i].target != NULL)
			ok = scep_cert_store_backup(files[i].target, &error_local);
	}
	for (guint i = 0; ok && files[i].role != NULL; i++) {
		if (files[i].target != NULL) {
			g_autofree gchar *staged = scep_cert_store_staged_path(files[i].target);

			ok = scep_cert_store_rename(staged, files[i].target, &error_local);
		}
		if (ok)
			scep_cert_store_crash_at(rename_points[i]);
	}
	if (ok)
		ok = scep_cert_store_sync_dirs(files, &error_local);
	if (ok)
		return TRUE;
	g_propagate_prefixed_error(error,
				   g_steal_pointer(&error_local),
				   "installation of %s interrupted: ",
				   paths->cert_path);
	if (!scep_cert_store_recover(journal_dir, paths, &error_local))
		g_warning("cannot repair the installation of %s: %s",
			  paths->cert_path,
			  error_local->message);
	return FALSE;
}

gboolean
scep_cert_store_install(const gchar *journal_dir,
			const ScepCertPaths *paths,
			GBytes *key_pem,
			GBytes *cert_pem,
			GBytes *chain_pem,
			GError **error)
{
	g_auto(gnutls_x509_crt_t) cert = NULL;
	g_auto(gnutls_privkey_t) key = NULL;
	g_autofree gchar *journal = NULL;
	ScepCertStoreFile files[] = {
		{ "key", paths->key_path, 0600 },
		{ "cert", paths->cert_path, 0644 },
		{ "chain", paths->chain_path, 0644 },
		{ NULL, NULL, 0 },
	};
	GBytes *contents[] = { key_pem, cert_pem, chain_pem };

	g_return_val_if_fail(journal_dir != NULL, FALSE);
	g_return_val_if_fail(paths != NULL, FALSE);
	g_return_val_if_fail(paths->key_path != NULL && paths->cert_path != NULL, FALSE);
	g_return_val_if_fail(key_pem != NULL && cert_pem != NULL, FALSE);

	for (guint i = 0; files[i].role != NULL; i++) {
		if (files[i].target != NULL && !g_path_is_absolute(files[i].target)) {
			g_set_error(error,
				    G_IO_ERROR,
				    G_IO_ERROR_INVALID_ARGUMENT,
				    "%s path is not absolute: %s",
				    files[i].role,
				    files[i].target);
			return FALSE;
		}
	}

	/* a key that does not belong to the certificate never replaces anything */
	cert = scep_cert_store_import_cert(cert_pem, "new certificate", error);
	if (cert == NULL)
		return FALSE;
	key = scep_cert_store_import_key(key_pem, "new key", error);
	if (key == NULL)
		return FALSE;
	if (!scep_cert_store_check_match(cert, key, "new certificate", error))
		return FALSE;

	/* finish or undo an interrupted installation first */
	if (!scep_cert_store_recover(journal_dir, paths, error))
		return FALSE;

	if (g_mkdir_with_parents(journal_dir, 0700) < 0)
		return scep_cert_store_set_errno(error, errno, "create directory", journal_dir);
	if (!scep_cert_store_ensure_dir(paths->key_path, 0700, error))
		return FALSE;
	for (guint i = 1; files[i].role != NULL; i++) {
		if (files[i].target != NULL &&
		    !scep_cert_store_ensure_dir(files[i].target, 0755, error))
			return FALSE;
	}

	/* 1. staged files beside their targets, durable */
	for (guint i = 0; files[i].role != NULL; i++) {
		g_autofree gchar *staged = NULL;
		gconstpointer data = NULL;
		gsize len = 0;

		if (files[i].target == NULL)
			continue;
		staged = scep_cert_store_staged_path(files[i].target);
		if (contents[i] != NULL)
			data = g_bytes_get_data(contents[i], &len);
		if (!scep_cert_store_write_synced(staged, data, len, files[i].mode, error)) {
			scep_cert_store_unlink_staged(files);
			return FALSE;
		}
	}
	if (!scep_cert_store_sync_dirs(files, error)) {
		scep_cert_store_unlink_staged(files);
		return FALSE;
	}
	scep_cert_store_crash_at("staged");

	/* 2. the journal says what will happen */
	if (!scep_cert_store_write_journal(journal_dir, files, FALSE, error)) {
		scep_cert_store_unlink_staged(files);
		return FALSE;
	}
	scep_cert_store_crash_at("journaled");

	/* 3. the point of no return */
	if (!scep_cert_store_write_journal(journal_dir, files, TRUE, error)) {
		g_autoptr(GError) error_local = NULL;

		/* the journal may or may not be committed now: let recovery decide */
		if (!scep_cert_store_recover(journal_dir, paths, &error_local))
			g_warning("cannot undo the installation of %s: %s",
				  paths->cert_path,
				  error_local->message);
		return FALSE;
	}
	scep_cert_store_crash_at("committed");

	/* 4. backups of the old files, then the renames */
	if (!scep_cert_store_replace(journal_dir, paths, files, error))
		return FALSE;

	/* 5. done */
	journal = g_build_filename(journal_dir, SCEP_CERT_STORE_JOURNAL, NULL);
	if (!scep_cert_store_unlink(journal, error))
		return FALSE;
	return scep_cert_store_fsync_dir(journal_dir, error);
}

/* ---- moving to new paths ---- */

static gboolean
scep_cert_store_path_in(const gchar *path, const ScepCertPaths *paths)
{
	return g_strcmp0(path, paths->key_path) == 0 || g_strcmp0(path, paths->cert_path) == 0 ||
	       g_strcmp0(path, paths->chain_path) == 0;
}

/* the files of @from (and their backups) that are not also files of @to */
static gboolean
scep_cert_store_remove_old(const ScepCertPaths *from, const ScepCertPaths *to, GError **error)
{
	const gchar *old[] = { from->key_path, from->cert_path, from->chain_path };

	for (guint i = 0; i < G_N_ELEMENTS(old); i++) {
		g_autofree gchar *bak = NULL;

		if (old[i] == NULL || scep_cert_store_path_in(old[i], to))
			continue;
		bak = g_strconcat(old[i], ".bak", NULL);
		if (!scep_cert_store_unlink(old[i], error) || !scep_cert_store_unlink(bak, error))
			return FALSE;
		if (!scep_cert_store_fsync_parent(old[i], error))
			return FALSE;
	}
	return TRUE;
}

gboolean
scep_cert_store_move(const gchar *journal_dir,
		     const ScepCertPaths *from,
		     const ScepCertPaths *to,
		     gboolean *moved,
		     GError **error)
{
	g_auto(gnutls_x509_crt_t) old_cert = NULL;
	g_auto(gnutls_x509_crt_t) new_cert = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GBytes) key = NULL;
	g_autoptr(GBytes) cert = NULL;
	g_autoptr(GBytes) chain = NULL;

	g_return_val_if_fail(journal_dir != NULL, FALSE);
	g_return_val_if_fail(from != NULL && to != NULL, FALSE);

	if (moved != NULL)
		*moved = FALSE;
	if (!scep_cert_store_load(from, &old_cert, NULL, &error_local))
		return TRUE;
	if (scep_cert_store_load(to, &new_cert, NULL, NULL)) {
		if (!gnutls_x509_crt_equals(old_cert, new_cert)) {
			g_set_error(error,
				    G_IO_ERROR,
				    G_IO_ERROR_EXISTS,
				    "%s already holds another certificate with its key",
				    to->cert_path);
			return FALSE;
		}
		/* installed there before an interruption: only the old files are left to go */
	} else {
		key = scep_cert_store_read(from->key_path, error);
		if (key == NULL)
			return FALSE;
		cert = scep_cert_store_read(from->cert_path, error);
		if (cert == NULL)
			return FALSE;
		if (from->chain_path != NULL)
			chain = scep_cert_store_read(from->chain_path, NULL);
		if (!scep_cert_store_install(journal_dir, to, key, cert, chain, error))
			return FALSE;
	}
	if (moved != NULL)
		*moved = TRUE;
	return scep_cert_store_remove_old(from, to, error);
}

/* ---- recovery ---- */

typedef struct {
	gchar *staged;
	gchar *target;
} ScepCertStoreEntry;

static void
scep_cert_store_entry_clear(ScepCertStoreEntry *entry)
{
	g_clear_pointer(&entry->staged, g_free);
	g_clear_pointer(&entry->target, g_free);
}

static const gchar *const scep_cert_store_roles[] = { "key", "cert", "chain" };

/* roll back a committed journal whose result would not be a matching pair */
static gboolean
scep_cert_store_roll_back(ScepCertStoreEntry *entries, GError **error)
{
	for (guint i = 0; i < G_N_ELEMENTS(scep_cert_store_roles); i++) {
		g_autofree gchar *bak = NULL;

		if (entries[i].target == NULL)
			continue;
		if (g_file_test(entries[i].staged, G_FILE_TEST_EXISTS)) {
			if (!scep_cert_store_unlink(entries[i].staged, error))
				return FALSE;
			continue;
		}
		/* already replaced: the backup is the old file */
		bak = g_strconcat(entries[i].target, ".bak", NULL);
		if (g_file_test(bak, G_FILE_TEST_EXISTS)) {
			if (!scep_cert_store_copy_atomic(bak, entries[i].target, error))
				return FALSE;
		} else if (!scep_cert_store_unlink(entries[i].target, error)) {
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
scep_cert_store_roll_forward(ScepCertStoreEntry *entries, GError **error)
{
	g_autoptr(GError) error_local = NULL;
	const gchar *final[2];

	/* key and certificate as they would be after the renames */
	for (guint i = 0; i < 2; i++) {
		final[i] = g_file_test(entries[i].staged, G_FILE_TEST_EXISTS) ? entries[i].staged
									      : entries[i].target;
	}
	if (!scep_cert_store_load_files(final[0], final[1], NULL, NULL, &error_local)) {
		g_warning("interrupted installation of %s cannot be finished, restoring the "
			  "previous files: %s",
			  entries[1].target,
			  error_local->message);
		return scep_cert_store_roll_back(entries, error);
	}
	for (guint i = 0; i < G_N_ELEMENTS(scep_cert_store_roles); i++) {
		if (entries[i].target == NULL ||
		    !g_file_test(entries[i].staged, G_FILE_TEST_EXISTS))
			continue;
		if (!scep_cert_store_backup(entries[i].target, error))
			return FALSE;
		if (!scep_cert_store_rename(entries[i].staged, entries[i].target, error))
			return FALSE;
	}
	g_message("finished the interrupted installation of %s", entries[1].target);
	return TRUE;
}

static gboolean
scep_cert_store_recover_journal(const gchar *journal_dir, const gchar *journal, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error_local = NULL;
	ScepCertStoreEntry entries[3] = { { NULL, NULL } };
	gboolean committed;
	gboolean ok = TRUE;

	if (!g_key_file_load_from_file(kf, journal, G_KEY_FILE_NONE, &error_local)) {
		/* written atomically, so this is not a half-written journal: refuse to guess */
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_DATA,
			    "cannot read installation journal %s: %s",
			    journal,
			    error_local->message);
		return FALSE;
	}
	committed = g_key_file_get_boolean(kf, "journal", "committed", NULL);
	for (guint i = 0; i < G_N_ELEMENTS(scep_cert_store_roles); i++) {
		g_autofree gchar *group = g_strdup_printf("file %s", scep_cert_store_roles[i]);

		entries[i].staged = g_key_file_get_string(kf, group, "staged", NULL);
		entries[i].target = g_key_file_get_string(kf, group, "target", NULL);
		if ((entries[i].staged == NULL) != (entries[i].target == NULL) ||
		    (i < 2 && entries[i].target == NULL)) {
			g_set_error(error,
				    G_IO_ERROR,
				    G_IO_ERROR_INVALID_DATA,
				    "installation journal %s is incomplete",
				    journal);
			ok = FALSE;
		}
	}
	if (ok && committed) {
		ok = scep_cert_store_roll_forward(entries, error);
	} else if (ok) {
		g_message("discarding the interrupted installation of %s", entries[1].target);
		for (guint i = 0; ok && i < G_N_ELEMENTS(scep_cert_store_roles); i++) {
			if (entries[i].staged != NULL)
				ok = scep_cert_store_unlink(entries[i].staged, error);
		}
	}
	for (guint i = 0; ok && i < G_N_ELEMENTS(scep_cert_store_roles); i++) {
		if (entries[i].target != NULL)
			ok = scep_cert_store_fsync_parent(entries[i].target, error);
	}
	for (guint i = 0; i < G_N_ELEMENTS(scep_cert_store_roles); i++)
		scep_cert_store_entry_clear(&entries[i]);
	if (!ok)
		return FALSE;
	if (!scep_cert_store_unlink(journal, error))
		return FALSE;
	return scep_cert_store_fsync_dir(journal_dir, error);
}

/* installed files that do not form a pair, with a complete backup pair beside them */
static gboolean
scep_cert_store_repair_pair(const ScepCertPaths *paths, GError **error)
{
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *key_bak = g_strconcat(paths->key_path, ".bak", NULL);
	g_autofree gchar *cert_bak = g_strconcat(paths->cert_path, ".bak", NULL);
	g_autofree gchar *chain_bak = NULL;

	if (!g_file_test(paths->key_path, G_FILE_TEST_EXISTS) &&
	    !g_file_test(paths->cert_path, G_FILE_TEST_EXISTS))
		return TRUE;
	if (scep_cert_store_load(paths, NULL, NULL, &error_local))
		return TRUE;
	if (!scep_cert_store_load_files(key_bak, cert_bak, NULL, NULL, NULL))
		return TRUE;
	g_warning("installed key and certificate are not a valid pair (%s), restoring the backup",
		  error_local->message);
	if (!scep_cert_store_copy_atomic(key_bak, paths->key_path, error))
		return FALSE;
	if (!scep_cert_store_copy_atomic(cert_bak, paths->cert_path, error))
		return FALSE;
	if (paths->chain_path != NULL) {
		chain_bak = g_strconcat(paths->chain_path, ".bak", NULL);
		if (g_file_test(chain_bak, G_FILE_TEST_EXISTS) &&
		    !scep_cert_store_copy_atomic(chain_bak, paths->chain_path, error))
			return FALSE;
	}
	return TRUE;
}

gboolean
scep_cert_store_recover(const gchar *journal_dir, const ScepCertPaths *paths, GError **error)
{
	g_autofree gchar *journal = NULL;
	g_autofree gchar *journal_tmp = NULL;
	const gchar *targets[3];

	g_return_val_if_fail(journal_dir != NULL, FALSE);
	g_return_val_if_fail(paths != NULL, FALSE);
	g_return_val_if_fail(paths->key_path != NULL && paths->cert_path != NULL, FALSE);

	journal = g_build_filename(journal_dir, SCEP_CERT_STORE_JOURNAL, NULL);
	journal_tmp = g_build_filename(journal_dir, SCEP_CERT_STORE_JOURNAL_TMP, NULL);
	if (g_file_test(journal, G_FILE_TEST_EXISTS) &&
	    !scep_cert_store_recover_journal(journal_dir, journal, error))
		return FALSE;
	if (!scep_cert_store_unlink(journal_tmp, error))
		return FALSE;

	/* leftovers without a journal: staged files never became part of an installation */
	targets[0] = paths->key_path;
	targets[1] = paths->cert_path;
	targets[2] = paths->chain_path;
	for (guint i = 0; i < G_N_ELEMENTS(targets); i++) {
		g_autofree gchar *staged = NULL;
		g_autofree gchar *bak = NULL;
		g_autofree gchar *bak_tmp = NULL;
		g_autofree gchar *bak_copy_tmp = NULL;

		if (targets[i] == NULL)
			continue;
		staged = scep_cert_store_staged_path(targets[i]);
		bak = g_strconcat(targets[i], ".bak", NULL);
		bak_tmp = scep_cert_store_bak_tmp_path(targets[i]);
		bak_copy_tmp = scep_cert_store_bak_tmp_path(bak);
		if (!scep_cert_store_unlink(staged, error))
			return FALSE;
		if (!scep_cert_store_unlink(bak_tmp, error))
			return FALSE;
		if (!scep_cert_store_unlink(bak_copy_tmp, error))
			return FALSE;
	}
	return scep_cert_store_repair_pair(paths, error);
}
