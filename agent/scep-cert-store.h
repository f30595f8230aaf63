#pragma once

#include <gio/gio.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

G_BEGIN_DECLS

/*
 * ScepCertPaths: where one instance's key, certificate and chain are installed (absolute
 * paths). @chain_path may be NULL: then no chain is written or checked.
 */
typedef struct {
	gchar *key_path;
	gchar *cert_path;
	gchar *chain_path;
} ScepCertPaths;

ScepCertPaths *
scep_cert_paths_new(const gchar *key_path, const gchar *cert_path, const gchar *chain_path);
void scep_cert_paths_free(ScepCertPaths *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepCertPaths, scep_cert_paths_free)

/* the names of the crash points of SCEP_AGENT_TEST_CRASH_AT, in the order they are reached */
extern const gchar *const scep_cert_store_crash_points[];

/*
 * scep_cert_store_install:
 * @journal_dir: the instance's state directory (created 0700 if missing); holds the journal
 * @key_pem: the private key (PEM or DER); @cert_pem: the certificate (first one is used for the
 * match check); @chain_pem: nullable, written as is (NULL = an empty chain file)
 *
 * Replaces key, certificate and chain together or not at all. The key must match the
 * certificate (else G_IO_ERROR_INVALID_DATA and nothing is touched). Staged files are written
 * next to each target as ".<name>.scep-new" (key 0600, certificate and chain 0644) and fsynced;
 * then a journal listing staged -> target is written atomically into @journal_dir, gets a
 * "committed" mark (atomic rewrite), the old files are kept as "<target>.bak" (hard link, or a
 * fsynced copy), the staged files are renamed over the targets (key, certificate, chain), the
 * directories fsynced and the journal removed. Missing target directories are created (0700
 * for the key's directory, 0755 for the others).
 *
 * A crash at any point leaves either the old or the new complete set once
 * scep_cert_store_recover() has run. Test hook: with SCEP_AGENT_TEST_CRASH_AT=<point> (one of
 * scep_cert_store_crash_points) the process raises SIGKILL at that point.
 */
gboolean scep_cert_store_install(const gchar *journal_dir,
				 const ScepCertPaths *paths,
				 GBytes *key_pem,
				 GBytes *cert_pem,
				 GBytes *chain_pem,
				 GError **error);

/*
 * scep_cert_store_recover:
 *
 * Start-up repair. A journal without the commit mark: the staged files are deleted (the old
 * set is untouched). A committed journal: the remaining renames are finished (roll forward),
 * unless the resulting key and certificate would not match, in which case the files already
 * replaced are restored from their backups and the staged files deleted. Then stray staged
 * files of @paths (and a stray journal temporary) are removed. Installed files that form a valid
 * pair are never removed or replaced.
 */
gboolean
scep_cert_store_recover(const gchar *journal_dir, const ScepCertPaths *paths, GError **error);

/*
 * scep_cert_store_load:
 * @cert_out: (nullable): the installed certificate
 * @key_out: (nullable): the installed private key
 *
 * Fails with G_IO_ERROR_NOT_FOUND when the key or the certificate is missing, and with
 * G_IO_ERROR_INVALID_DATA when one cannot be parsed or the key does not match the certificate.
 */
gboolean scep_cert_store_load(const ScepCertPaths *paths,
			      gnutls_x509_crt_t *cert_out,
			      gnutls_privkey_t *key_out,
			      GError **error);

/*
 * scep_cert_store_move:
 * @journal_dir: as for scep_cert_store_install()
 * @from: where the pair is installed now
 * @to: where it is to be (cert_file, key_file or chain_file changed)
 * @moved: (out) (optional): whether the pair is now at @to
 *
 * Moves the installed key, certificate and chain: the set is installed at @to with
 * scep_cert_store_install() (all three together or none, crash-safe through the journal), and
 * only then are the files of @from that are not also files of @to removed, with their ".bak"
 * backups (an unmanaged copy of a private key is not left behind). When @to already holds the
 * same certificate with its key (a move interrupted after its installation), only the removal
 * is done, so calling this again after a crash finishes the move. When @from holds no valid
 * pair nothing happens (TRUE, @moved FALSE). When @to holds a valid pair of another certificate
 * nothing is moved or removed (G_IO_ERROR_EXISTS).
 */
gboolean scep_cert_store_move(const gchar *journal_dir,
			      const ScepCertPaths *from,
			      const ScepCertPaths *to,
			      gboolean *moved,
			      GError **error);

/* the staged name of @target: "<dir>/.<basename>.scep-new" */
gchar *scep_cert_store_staged_path(const gchar *target);

G_END_DECLS
