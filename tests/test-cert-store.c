#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "scep-cert-store.h"
#include "scep-csr.h"
#include "scep-gnutls-common.h"
#include "scep-test-util.h"

/* ---- two key/certificate/chain sets, made once ---- */

typedef struct {
	GBytes *key;   /* PEM */
	GBytes *cert;  /* PEM */
	GBytes *chain; /* PEM, distinct per set */
	gchar *key_file;
	gchar *cert_file;
	gchar *chain_file;
} Pair;

static Pair pair_a;
static Pair pair_b;
static const gchar *crash_helper;
static gchar *pairs_dir;

static void
make_pair(Pair *pair, const gchar *name)
{
	g_autoptr(GError) error = NULL;
	g_auto(gnutls_privkey_t) key = NULL;
	g_autoptr(ScepCsrParams) params = scep_csr_params_new();
	g_autoptr(GBytes) csr = NULL;
	g_auto(gnutls_x509_crt_t) cert = NULL;
	g_auto(ScepGnutlsDatum) pem = { NULL, 0 };
	g_autofree gchar *dn = g_strdup_printf("CN=%s", name);
	g_autofree gchar *chain = NULL;
	g_autofree gchar *base = NULL;

	key = scep_csr_generate_key(2048, &error);
	g_assert_no_error(error);
	g_assert_true(scep_csr_params_set_subject(params, dn, &error));
	csr = scep_csr_build(params, key, GNUTLS_DIG_SHA256, &error);
	g_assert_no_error(error);
	cert = scep_csr_make_self_signed_signer(key, csr, &error);
	g_assert_no_error(error);
	g_assert_cmpint(gnutls_x509_crt_export2(cert, GNUTLS_X509_FMT_PEM, &pem), ==, 0);

	pair->key = scep_csr_export_key_pem(key, &error);
	g_assert_no_error(error);
	pair->cert = g_bytes_new(pem.data, pem.size);
	/* the chain is only carried along; its text tells the sets apart */
	chain = g_strdup_printf("chain of %s\n%.*s", name, (int)pem.size, (const gchar *)pem.data);
	pair->chain = g_bytes_new(chain, strlen(chain));

	base = g_build_filename(pairs_dir, name, NULL);
	pair->key_file = g_strconcat(base, ".key", NULL);
	pair->cert_file = g_strconcat(base, ".crt", NULL);
	pair->chain_file = g_strconcat(base, ".chain", NULL);
	g_assert_true(g_file_set_contents(pair->key_file,
					  g_bytes_get_data(pair->key, NULL),
					  (gssize)g_bytes_get_size(pair->key),
					  NULL));
	g_assert_true(
	    g_file_set_contents(pair->cert_file, (const gchar *)pem.data, pem.size, NULL));
	g_assert_true(g_file_set_contents(pair->chain_file, chain, -1, NULL));
}

static gboolean
file_equals(const gchar *path, GBytes *bytes)
{
	g_autofree gchar *contents = NULL;
	gsize len = 0;

	if (!g_file_get_contents(path, &contents, &len, NULL))
		return FALSE;
	return len == g_bytes_get_size(bytes) &&
	       memcmp(contents, g_bytes_get_data(bytes, NULL), len) == 0;
}

/* ---- fixture ---- */

typedef struct {
	gchar *dir;
	gchar *state_dir;
	ScepCertPaths *paths;
} Fixture;

static void
fixture_setup(Fixture *fx, gconstpointer user_data)
{
	g_autofree gchar *certs = NULL;

	fx->dir = scep_test_make_tmp_dir("test-cert-store-XXXXXX");
	fx->state_dir = g_build_filename(fx->dir, "state", "cert0", NULL);
	certs = g_build_filename(fx->dir, "certs", NULL);
	fx->paths = scep_cert_paths_new(NULL, NULL, NULL);
	fx->paths->key_path = g_build_filename(certs, "key.pem", NULL);
	fx->paths->cert_path = g_build_filename(certs, "cert.pem", NULL);
	fx->paths->chain_path = g_build_filename(certs, "chain.pem", NULL);
}

static void
fixture_teardown(Fixture *fx, gconstpointer user_data)
{
	scep_test_remove_tree(fx->dir, NULL);
	g_free(fx->dir);
	g_free(fx->state_dir);
	scep_cert_paths_free(fx->paths);
}

static void
install_ok(Fixture *fx, const Pair *pair)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(scep_cert_store_install(
	    fx->state_dir, fx->paths, pair->key, pair->cert, pair->chain, &error));
	g_assert_no_error(error);
}

static guint
file_mode(const gchar *path)
{
	struct stat st;

	g_assert_cmpint(g_stat(path, &st), ==, 0);
	return st.st_mode & 07777;
}

/* the installed key and certificate match, and the whole set is @pair's */
static void
assert_installed(Fixture *fx, const Pair *pair)
{
	g_autoptr(GError) error = NULL;
	g_auto(gnutls_x509_crt_t) cert = NULL;
	g_auto(gnutls_privkey_t) key = NULL;

	g_assert_true(scep_cert_store_load(fx->paths, &cert, &key, &error));
	g_assert_no_error(error);
	g_assert_nonnull(cert);
	g_assert_nonnull(key);
	g_assert_true(file_equals(fx->paths->key_path, pair->key));
	g_assert_true(file_equals(fx->paths->cert_path, pair->cert));
	g_assert_true(file_equals(fx->paths->chain_path, pair->chain));
	g_assert_cmpuint(file_mode(fx->paths->key_path), ==, 0600);
	g_assert_cmpuint(file_mode(fx->paths->cert_path), ==, 0644);
	g_assert_cmpuint(file_mode(fx->paths->chain_path), ==, 0644);
}

static void
assert_nothing_installed(Fixture *fx)
{
	g_autoptr(GError) error = NULL;

	g_assert_false(scep_cert_store_load(fx->paths, NULL, NULL, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
	/* no key without its certificate either */
	g_assert_false(g_file_test(fx->paths->key_path, G_FILE_TEST_EXISTS));
	g_assert_false(g_file_test(fx->paths->cert_path, G_FILE_TEST_EXISTS));
}

/* nothing but the targets and their backups in the directory, no journal in the state dir */
static void
assert_no_leftovers(Fixture *fx)
{
	g_autofree gchar *certs = g_path_get_dirname(fx->paths->cert_path);
	g_autoptr(GDir) dir = g_dir_open(certs, 0, NULL);
	g_autoptr(GDir) state = NULL;
	const gchar *name;

	g_assert_nonnull(dir);
	while ((name = g_dir_read_name(dir)) != NULL) {
		if (g_str_has_prefix(name, "."))
			g_test_message("leftover %s in %s", name, certs);
		g_assert_false(g_str_has_prefix(name, "."));
	}
	state = g_dir_open(fx->state_dir, 0, NULL);
	if (state != NULL) {
		name = g_dir_read_name(state);
		if (name != NULL)
			g_test_message("leftover %s in %s", name, fx->state_dir);
		g_assert_null(name);
	}
}

/* ---- tests ---- */

static void
test_round_trip(Fixture *fx, gconstpointer user_data)
{
	install_ok(fx, &pair_a);
	assert_installed(fx, &pair_a);
	assert_no_leftovers(fx);
}

static void
test_first_install_no_backup(Fixture *fx, gconstpointer user_data)
{
	g_autofree gchar *bak = g_strconcat(fx->paths->key_path, ".bak", NULL);

	install_ok(fx, &pair_a);
	g_assert_false(g_file_test(bak, G_FILE_TEST_EXISTS));
}

static void
test_umask_ignored(Fixture *fx, gconstpointer user_data)
{
	mode_t old = umask(0077);

	install_ok(fx, &pair_a);
	umask(old);
	assert_installed(fx, &pair_a);
}

static void
test_backup(Fixture *fx, gconstpointer user_data)
{
	g_autofree gchar *key_bak = g_strconcat(fx->paths->key_path, ".bak", NULL);
	g_autofree gchar *cert_bak = g_strconcat(fx->paths->cert_path, ".bak", NULL);
	g_autofree gchar *chain_bak = g_strconcat(fx->paths->chain_path, ".bak", NULL);

	install_ok(fx, &pair_a);
	install_ok(fx, &pair_b);
	assert_installed(fx, &pair_b);
	g_assert_true(file_equals(key_bak, pair_a.key));
	g_assert_true(file_equals(cert_bak, pair_a.cert));
	g_assert_true(file_equals(chain_bak, pair_a.chain));
	g_assert_cmpuint(file_mode(key_bak), ==, 0600);
	assert_no_leftovers(fx);
}

static void
test_load_mismatch(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *certs = g_path_get_dirname(fx->paths->cert_path);

	g_assert_cmpint(g_mkdir_with_parents(certs, 0700), ==, 0);
	g_assert_true(g_file_set_contents(fx->paths->key_path,
					  g_bytes_get_data(pair_a.key, NULL),
					  (gssize)g_bytes_get_size(pair_a.key),
					  NULL));
	g_assert_true(g_file_set_contents(fx->paths->cert_path,
					  g_bytes_get_data(pair_b.cert, NULL),
					  (gssize)g_bytes_get_size(pair_b.cert),
					  NULL));
	g_assert_false(scep_cert_store_load(fx->paths, NULL, NULL, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
}

static void
test_load_missing(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;

	g_assert_false(scep_cert_store_load(fx->paths, NULL, NULL, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

static void
test_install_mismatch_refused(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;

	install_ok(fx, &pair_a);
	g_assert_false(scep_cert_store_install(
	    fx->state_dir, fx->paths, pair_b.key, pair_a.cert, pair_b.chain, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
	assert_installed(fx, &pair_a);
	assert_no_leftovers(fx);
}

static void
test_creates_directories(Fixture *fx, gconstpointer user_data)
{
	g_autofree gchar *key_dir = g_build_filename(fx->dir, "new", "private", NULL);
	g_autofree gchar *cert_dir = g_build_filename(fx->dir, "other", "certs", NULL);

	g_free(fx->paths->key_path);
	g_free(fx->paths->cert_path);
	g_free(fx->paths->chain_path);
	fx->paths->key_path = g_build_filename(key_dir, "key.pem", NULL);
	fx->paths->cert_path = g_build_filename(cert_dir, "cert.pem", NULL);
	fx->paths->chain_path = g_build_filename(cert_dir, "chain.pem", NULL);
	install_ok(fx, &pair_a);
	assert_installed(fx, &pair_a);
	g_assert_cmpuint(file_mode(key_dir), ==, 0700);
	g_assert_cmpuint(file_mode(cert_dir), ==, 0755);
	g_assert_cmpuint(file_mode(fx->state_dir), ==, 0700);
}

static void
test_no_chain(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;

	g_clear_pointer(&fx->paths->chain_path, g_free);
	install_ok(fx, &pair_a);
	g_assert_true(scep_cert_store_install(
	    fx->state_dir, fx->paths, pair_b.key, pair_b.cert, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(scep_cert_store_load(fx->paths, NULL, NULL, &error));
	g_assert_true(file_equals(fx->paths->cert_path, pair_b.cert));
}

/* runs the helper installing @pair; returns its wait status */
static gint
run_helper(Fixture *fx, const Pair *pair, const gchar *crash_at, const gchar *fsize_limit)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_auto(GStrv) envp = g_get_environ();
	g_autofree gchar *err_text = NULL;
	gint status = 0;

	if (crash_at != NULL)
		envp = g_environ_setenv(envp, "SCEP_AGENT_TEST_CRASH_AT", crash_at, TRUE);
	else
		envp = g_environ_unsetenv(envp, "SCEP_AGENT_TEST_CRASH_AT");
	g_ptr_array_add(argv, (gpointer)crash_helper);
	g_ptr_array_add(argv, fx->state_dir);
	g_ptr_array_add(argv, fx->paths->key_path);
	g_ptr_array_add(argv, fx->paths->cert_path);
	g_ptr_array_add(argv, fx->paths->chain_path);
	g_ptr_array_add(argv, pair->key_file);
	g_ptr_array_add(argv, pair->cert_file);
	g_ptr_array_add(argv, pair->chain_file);
	if (fsize_limit != NULL)
		g_ptr_array_add(argv, (gpointer)fsize_limit);
	g_ptr_array_add(argv, NULL);
	g_assert_true(g_spawn_sync(NULL,
				   (gchar **)argv->pdata,
				   envp,
				   G_SPAWN_DEFAULT,
				   NULL,
				   NULL,
				   NULL,
				   &err_text,
				   &status,
				   &error));
	g_assert_no_error(error);
	if (err_text != NULL && err_text[0] != '\0')
		g_test_message("helper: %s", err_text);
	return status;
}

static void
recover_ok(Fixture *fx)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(scep_cert_store_recover(fx->state_dir, fx->paths, &error));
	g_assert_no_error(error);
}

static gboolean
point_is_after_commit(const gchar *point)
{
	return g_str_equal(point, "committed") || g_str_has_prefix(point, "renamed-");
}

/* an old set installed, the helper killed at @point while installing the new one */
static void
test_crash_replace(Fixture *fx, gconstpointer user_data)
{
	const gchar *point = user_data;
	gint status;

	install_ok(fx, &pair_a);
	status = run_helper(fx, &pair_b, point, NULL);
	g_assert_true(WIFSIGNALED(status));
	g_assert_cmpint(WTERMSIG(status), ==, SIGKILL);

	recover_ok(fx);
	assert_installed(fx, point_is_after_commit(point) ? &pair_b : &pair_a);
	assert_no_leftovers(fx);
	/* recovering again changes nothing */
	recover_ok(fx);
	assert_installed(fx, point_is_after_commit(point) ? &pair_b : &pair_a);
	/* and the next installation works */
	install_ok(fx, &pair_a);
	assert_installed(fx, &pair_a);
}

/* nothing installed yet, the helper killed at @point */
static void
test_crash_first(Fixture *fx, gconstpointer user_data)
{
	const gchar *point = user_data;
	gint status;

	status = run_helper(fx, &pair_b, point, NULL);
	g_assert_true(WIFSIGNALED(status));
	g_assert_cmpint(WTERMSIG(status), ==, SIGKILL);

	recover_ok(fx);
	if (point_is_after_commit(point))
		assert_installed(fx, &pair_b);
	else
		assert_nothing_installed(fx);
	assert_no_leftovers(fx);
}

/* without the hook the helper installs normally (so the crash tests test the hook, not luck) */
static void
test_helper_installs(Fixture *fx, gconstpointer user_data)
{
	gint status;

	install_ok(fx, &pair_a);
	status = run_helper(fx, &pair_b, NULL, NULL);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	assert_installed(fx, &pair_b);
	assert_no_leftovers(fx);
}

/* the chain cannot be written (file size limit): key and certificate were staged already */
static void
test_failed_install_keeps_old(Fixture *fx, gconstpointer user_data)
{
	g_autofree gchar *big = NULL;
	g_autofree gchar *big_chain = NULL;
	g_autoptr(GBytes) chain = NULL;
	Pair pair = pair_b;
	gint status;

	install_ok(fx, &pair_a);
	big = g_strnfill(64 * 1024, 'x');
	big_chain = g_build_filename(fx->dir, "big.chain", NULL);
	g_assert_true(g_file_set_contents(big_chain, big, -1, NULL));
	pair.chain_file = big_chain;
	status = run_helper(fx, &pair, NULL, "16384");
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 1);
	assert_installed(fx, &pair_a);
	assert_no_leftovers(fx);
}

static void
test_failed_install_bad_dir(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *blocker = g_build_filename(fx->dir, "blocker", NULL);

	install_ok(fx, &pair_a);
	/* the chain's directory is a regular file */
	g_assert_true(g_file_set_contents(blocker, "x", -1, NULL));
	g_free(fx->paths->chain_path);
	fx->paths->chain_path = g_build_filename(blocker, "chain.pem", NULL);
	g_assert_false(scep_cert_store_install(
	    fx->state_dir, fx->paths, pair_b.key, pair_b.cert, pair_b.chain, &error));
	g_assert_nonnull(error);
	g_assert_true(file_equals(fx->paths->key_path, pair_a.key));
	g_assert_true(file_equals(fx->paths->cert_path, pair_a.cert));
	g_assert_true(scep_cert_store_load(fx->paths, NULL, NULL, NULL));
}

static void
test_recover_stray_staged(Fixture *fx, gconstpointer user_data)
{
	g_autofree gchar *staged_key = NULL;
	g_autofree gchar *staged_cert = NULL;

	install_ok(fx, &pair_a);
	staged_key = scep_cert_store_staged_path(fx->paths->key_path);
	staged_cert = scep_cert_store_staged_path(fx->paths->cert_path);
	g_assert_true(g_str_has_prefix(strrchr(staged_key, '/'), "/."));
	g_assert_true(g_file_set_contents(staged_key, "junk", -1, NULL));
	g_assert_true(g_file_set_contents(staged_cert, "junk", -1, NULL));
	recover_ok(fx);
	g_assert_false(g_file_test(staged_key, G_FILE_TEST_EXISTS));
	g_assert_false(g_file_test(staged_cert, G_FILE_TEST_EXISTS));
	assert_installed(fx, &pair_a);
	assert_no_leftovers(fx);
}

/* a key without its certificate (the new key beside the old certificate) is repaired from the
 * backup set */
static void
test_recover_key_without_cert(Fixture *fx, gconstpointer user_data)
{
	install_ok(fx, &pair_b);
	install_ok(fx, &pair_a);
	/* now the .bak set is B; put B's key beside A's certificate */
	g_assert_true(g_file_set_contents(fx->paths->key_path,
					  g_bytes_get_data(pair_b.key, NULL),
					  (gssize)g_bytes_get_size(pair_b.key),
					  NULL));
	g_assert_false(scep_cert_store_load(fx->paths, NULL, NULL, NULL));
	scep_test_expect_warning("*not a valid pair*");
	recover_ok(fx);
	scep_test_assert_expected_warning();
	g_assert_true(scep_cert_store_load(fx->paths, NULL, NULL, NULL));
	g_assert_true(file_equals(fx->paths->key_path, pair_b.key));
	g_assert_true(file_equals(fx->paths->cert_path, pair_b.cert));
}

/* a valid installed set is never touched by recovery, even with a different backup */
static void
test_recover_keeps_valid(Fixture *fx, gconstpointer user_data)
{
	install_ok(fx, &pair_b);
	install_ok(fx, &pair_a);
	recover_ok(fx);
	assert_installed(fx, &pair_a);
}

/* committed journal, but the staged certificate does not belong to the staged key: roll back */
static void
test_recover_committed_mismatch(Fixture *fx, gconstpointer user_data)
{
	g_autofree gchar *staged_cert = scep_cert_store_staged_path(fx->paths->cert_path);
	gint status;

	install_ok(fx, &pair_a);
	status = run_helper(fx, &pair_b, "renamed-key", NULL);
	g_assert_true(WIFSIGNALED(status));
	/* B's key is in place, B's certificate still staged: spoil the staged certificate */
	g_assert_true(g_file_set_contents(staged_cert,
					  g_bytes_get_data(pair_a.cert, NULL),
					  (gssize)g_bytes_get_size(pair_a.cert),
					  NULL));
	scep_test_expect_warning("*cannot be finished*");
	recover_ok(fx);
	scep_test_assert_expected_warning();
	assert_installed(fx, &pair_a);
	assert_no_leftovers(fx);
}

int
main(int argc, char **argv)
{
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	int rc;

	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
	scep_test_log_init();
	crash_helper = argc > 1 ? argv[1] : g_getenv("SCEP_CERT_STORE_CRASH_HELPER");
	if (crash_helper == NULL) {
		g_printerr("usage: %s PATH-TO-cert-store-crash-helper\n", argv[0]);
		return 1;
	}
	pairs_dir = scep_test_make_tmp_dir("test-cert-store-pairs-XXXXXX");
	make_pair(&pair_a, "pair-a");
	make_pair(&pair_b, "pair-b");

#define ADD(path, func) g_test_add(path, Fixture, NULL, fixture_setup, func, fixture_teardown)
	ADD("/scep/cert-store/round-trip", test_round_trip);
	ADD("/scep/cert-store/first-install-no-backup", test_first_install_no_backup);
	ADD("/scep/cert-store/umask-ignored", test_umask_ignored);
	ADD("/scep/cert-store/backup", test_backup);
	ADD("/scep/cert-store/load-mismatch", test_load_mismatch);
	ADD("/scep/cert-store/load-missing", test_load_missing);
	ADD("/scep/cert-store/install-mismatch-refused", test_install_mismatch_refused);
	ADD("/scep/cert-store/creates-directories", test_creates_directories);
	ADD("/scep/cert-store/no-chain", test_no_chain);
	ADD("/scep/cert-store/helper-installs", test_helper_installs);
	ADD("/scep/cert-store/failed-install-keeps-old", test_failed_install_keeps_old);
	ADD("/scep/cert-store/failed-install-bad-dir", test_failed_install_bad_dir);
	ADD("/scep/cert-store/recover-stray-staged", test_recover_stray_staged);
	ADD("/scep/cert-store/recover-key-without-cert", test_recover_key_without_cert);
	ADD("/scep/cert-store/recover-keeps-valid", test_recover_keeps_valid);
	ADD("/scep/cert-store/recover-committed-mismatch", test_recover_committed_mismatch);
#undef ADD
	for (guint i = 0; scep_cert_store_crash_points[i] != NULL; i++) {
		const gchar *point = scep_cert_store_crash_points[i];
		gchar *replace = g_strdup_printf("/scep/cert-store/crash/replace/%s", point);
		gchar *first = g_strdup_printf("/scep/cert-store/crash/first/%s", point);

		g_test_add(
		    replace, Fixture, point, fixture_setup, test_crash_replace, fixture_teardown);
		g_test_add(
		    first, Fixture, point, fixture_setup, test_crash_first, fixture_teardown);
		g_ptr_array_add(names, replace);
		g_ptr_array_add(names, first);
	}
	rc = g_test_run();
	scep_test_remove_tree(pairs_dir, NULL);
	return rc;
}
