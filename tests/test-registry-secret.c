#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "scep-registry.h"
#include "scep-test-util.h"

/* crypt_* values encrypted at rest: the enc:v1: form, the device key file, the loader, and
 * scep-registry end to end. The path of the built scep-registry is the first argument. */

#define K(n, name) SCEP_REGISTRY_KEY_PREFIX #n "." #name
#define PLAIN      "Pl41nS3cretValue"
#define PLAIN_NDES "Ndes-Acc0unt-Pw"

static const gchar *secret_tool = NULL;

typedef struct {
	gchar *dir;
	gchar *base;
	gchar *key_path;
} SecretFixture;

static void
secret_fixture_set_up(SecretFixture *fx, gconstpointer data)
{
	g_unsetenv(SCEP_REGISTRY_SECRET_KEY_ENV);
	fx->dir = scep_test_make_tmp_dir("scep-registry-secret-XXXXXX");
	fx->base = g_build_filename(fx->dir, "registry", NULL);
	fx->key_path = g_build_filename(fx->dir, SCEP_REGISTRY_SECRET_KEY_BASENAME, NULL);
}

static void
secret_fixture_tear_down(SecretFixture *fx, gconstpointer data)
{
	g_unsetenv(SCEP_REGISTRY_SECRET_KEY_ENV);
	scep_test_remove_tree(fx->dir, NULL);
	g_free(fx->dir);
	g_free(fx->base);
	g_free(fx->key_path);
}

static gchar *
secret_encrypt_with(const gchar *key_path, const gchar *context, const gchar *plain)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepRegistrySecretKey) key = scep_registry_secret_key_ensure(key_path, &error);
	gchar *enc;
	g_assert_no_error(error);
	enc = scep_registry_secret_encrypt(key, context, plain, &error);
	g_assert_no_error(error);
	return enc;
}

/* flips one bit of the decoded blob at @offset (negative: from the end) */
static gchar *
secret_tamper(const gchar *value, gssize offset)
{
	g_autofree guchar *blob = NULL;
	g_autofree gchar *b64 = NULL;
	gsize len = 0;
	g_assert_true(g_str_has_prefix(value, SCEP_REGISTRY_SECRET_PREFIX));
	blob = g_base64_decode(value + strlen(SCEP_REGISTRY_SECRET_PREFIX), &len);
	g_assert_cmpuint(len, >, 28);
	blob[offset >= 0 ? (gsize)offset : len - (gsize)(-offset)] ^= 0x01;
	b64 = g_base64_encode(blob, len);
	return g_strconcat(SCEP_REGISTRY_SECRET_PREFIX, b64, NULL);
}

/* no problem message or invalid reason may quote the plaintext or the ciphertext */
static void
secret_assert_problems_clean(ScepRegistrySnapshot *snap, const gchar *plain, const gchar *enc)
{
	GPtrArray *problems = scep_registry_snapshot_get_problems(snap);
	g_autoptr(GArray) numbers = scep_registry_snapshot_get_instances(snap);
	const gchar *b64 = enc != NULL ? enc + strlen(SCEP_REGISTRY_SECRET_PREFIX) : NULL;
	for (guint i = 0; i < problems->len; i++) {
		g_autofree gchar *text =
		    scep_registry_problem_to_string(g_ptr_array_index(problems, i));
		g_test_message("problem: %s", text);
		g_assert_null(strstr(text, plain));
		if (b64 != NULL)
			g_assert_null(strstr(text, b64));
	}
	for (guint i = 0; i < numbers->len; i++) {
		const gchar *reason = scep_registry_snapshot_get_invalid_reason(
		    snap, g_array_index(numbers, guint, i));
		if (reason == NULL)
			continue;
		g_assert_null(strstr(reason, plain));
		if (b64 != NULL)
			g_assert_null(strstr(reason, b64));
	}
}

static ScepRegistryProblem *
secret_find_error(ScepRegistrySnapshot *snap, const gchar *full_key)
{
	GPtrArray *problems = scep_registry_snapshot_get_problems(snap);
	for (guint i = 0; i < problems->len; i++) {
		ScepRegistryProblem *p = g_ptr_array_index(problems, i);
		if (p->severity == SCEP_REGISTRY_PROBLEM_ERROR && g_strcmp0(p->key, full_key) == 0)
			return p;
	}
	return NULL;
}

/* a registry with cert0 enabled and its static challenge set to @value */
static void
secret_write_registry(SecretFixture *fx, const gchar *value)
{
	static const gchar *const lines[] = {
		K(0, enabled) "=true",
		K(0, scepurl) "=http://127.0.0.1/scep",
		K(0, subjectaltname_type) "=DNS name",
		K(0, subjectaltname) "=device.example.test",
	};
	g_autoptr(GString) contents = g_string_new(NULL);
	for (guint i = 0; i < G_N_ELEMENTS(lines); i++)
		g_string_append_printf(contents, "%s\n", lines[i]);
	/* line 5 */
	g_string_append_printf(contents, "%s=%s\n", K(0, crypt_password), value);
	scep_test_write_file(fx->base, contents->str, -1);
}

/* ---- the enc:v1: form ---- */

static void
test_secret_round_trip(SecretFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepRegistrySecretKey) key =
	    scep_registry_secret_key_ensure(fx->key_path, &error);
	g_autofree gchar *enc1 = NULL;
	g_autofree gchar *enc2 = NULL;
	g_autofree gchar *dec = NULL;
	g_autofree guchar *blob = NULL;
	gsize len = 0;
	g_assert_no_error(error);
	enc1 = scep_registry_secret_encrypt(key, "crypt_password", PLAIN, &error);
	g_assert_no_error(error);
	enc2 = scep_registry_secret_encrypt(key, "crypt_password", PLAIN, &error);
	g_assert_no_error(error);
	g_assert_true(scep_registry_secret_is_encrypted(enc1));
	g_assert_null(strstr(enc1, PLAIN));
	/* a fresh nonce each time */
	g_assert_cmpstr(enc1, !=, enc2);
	/* nonce 12 + ciphertext + tag 16 */
	blob = g_base64_decode(enc1 + strlen(SCEP_REGISTRY_SECRET_PREFIX), &len);
	g_assert_cmpuint(len, ==, 12 + strlen(PLAIN) + 16);
	dec = scep_registry_secret_decrypt(key, "crypt_password", enc1, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(dec, ==, PLAIN);
}

static void
test_secret_tampered(SecretFixture *fx, gconstpointer data)
{
	/* data: the byte flipped: in the nonce (0), the ciphertext (12) or the tag (-1) */
	gssize offset = GPOINTER_TO_INT(data) == 2 ? -1 : GPOINTER_TO_INT(data) * 12;
	g_autofree gchar *enc = secret_encrypt_with(fx->key_path, "crypt_password", PLAIN);
	g_autofree gchar *bad = secret_tamper(enc, offset);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepRegistrySecretKey) key = scep_registry_secret_key_load(fx->key_path, &error);
	g_autofree gchar *dec = NULL;
	g_autoptr(ScepRegistrySnapshot) snap = NULL;
	ScepRegistryProblem *problem;
	g_assert_no_error(error);
	dec = scep_registry_secret_decrypt(key, "crypt_password", bad, &error);
	g_assert_error(error, SCEP_REGISTRY_ERROR, SCEP_REGISTRY_ERROR_INVALID_VALUE);
	g_assert_null(dec);
	g_assert_null(strstr(error->message, PLAIN));
	g_clear_error(&error);

	/* in the registry: an error on that key, the instance unconfigured, nothing quoted */
	secret_write_registry(fx, bad);
	snap = scep_registry_snapshot_load(fx->dir, &error);
	g_assert_no_error(error);
	problem = secret_find_error(snap, K(0, crypt_password));
	g_assert_nonnull(problem);
	g_assert_cmpstr(problem->file, ==, fx->base);
	g_assert_cmpuint(problem->line, ==, 5);
	g_assert_null(scep_registry_snapshot_get_settings(snap, 0));
	g_assert_nonnull(
	    strstr(scep_registry_snapshot_get_invalid_reason(snap, 0), K(0, crypt_password)));
	secret_assert_problems_clean(snap, PLAIN, bad);
}

static void
test_secret_not_base64(SecretFixture *fx, gconstpointer data)
{
	g_autofree gchar *enc = secret_encrypt_with(fx->key_path, "crypt_password", PLAIN);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepRegistrySecretKey) key = scep_registry_secret_key_load(fx->key_path, &error);
	g_autofree gchar *bad = g_strdup(enc);
	g_autofree gchar *dec = NULL;
	g_assert_no_error(error);
	/* g_base64_decode() would skip the '*': the value must be refused, not half-read */
	bad[strlen(SCEP_REGISTRY_SECRET_PREFIX) + 4] = '*';
	dec = scep_registry_secret_decrypt(key, "crypt_password", bad, &error);
	g_assert_error(error, SCEP_REGISTRY_ERROR, SCEP_REGISTRY_ERROR_INVALID_VALUE);
	g_clear_error(&error);
	dec = scep_registry_secret_decrypt(key, "crypt_password", "enc:v1:AAAA", &error);
	g_assert_error(error, SCEP_REGISTRY_ERROR, SCEP_REGISTRY_ERROR_INVALID_VALUE);
	g_assert_null(dec);
}

static void
test_secret_other_context(SecretFixture *fx, gconstpointer data)
{
	/* a static challenge pasted into the NDES password key does not decrypt */
	g_autofree gchar *enc = secret_encrypt_with(fx->key_path, "crypt_password", PLAIN);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepRegistrySecretKey) key = scep_registry_secret_key_load(fx->key_path, &error);
	g_autofree gchar *dec = NULL;
	g_assert_no_error(error);
	dec = scep_registry_secret_decrypt(
	    key, "ndes.challenge_password_retrieval.crypt_password", enc, &error);
	g_assert_error(error, SCEP_REGISTRY_ERROR, SCEP_REGISTRY_ERROR_INVALID_VALUE);
	g_assert_null(dec);
}

/* ---- the device key file ---- */

static void
test_secret_key_created(SecretFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepRegistrySecretKey) key = NULL;
	g_autoptr(GDir) dir = NULL;
	g_autofree gchar *enc = NULL;
	g_autofree gchar *dec = NULL;
	GStatBuf st;
	const gchar *name;
	guint n_files = 0;

	g_assert_false(g_file_test(fx->key_path, G_FILE_TEST_EXISTS));
	key = scep_registry_secret_key_ensure(fx->key_path, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(scep_registry_secret_key_get_path(key), ==, fx->key_path);
	g_assert_cmpint(g_stat(fx->key_path, &st), ==, 0);
	g_assert_true(S_ISREG(st.st_mode));
	g_assert_cmpuint(st.st_mode & 07777, ==, 0600);
	g_assert_cmpint(st.st_size, ==, SCEP_REGISTRY_SECRET_KEY_SIZE);
	/* no temporary file left behind */
	dir = g_dir_open(fx->dir, 0, &error);
	g_assert_no_error(error);
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_assert_cmpstr(name, ==, SCEP_REGISTRY_SECRET_KEY_BASENAME);
		n_files++;
	}
	g_assert_cmpuint(n_files, ==, 1);
	/* a second ensure reads the same key */
	enc = scep_registry_secret_encrypt(key, "x", PLAIN, &error);
	g_assert_no_error(error);
	g_clear_pointer(&key, scep_registry_secret_key_free);
	key = scep_registry_secret_key_ensure(fx->key_path, &error);
	g_assert_no_error(error);
	dec = scep_registry_secret_decrypt(key, "x", enc, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(dec, ==, PLAIN);
}

typedef struct {
	const gchar *path;
	GError *error;
	gchar *enc;
} SecretRace;

static gpointer
secret_race_thread(gpointer data)
{
	SecretRace *race = data;
	g_autoptr(ScepRegistrySecretKey) key =
	    scep_registry_secret_key_ensure(race->path, &race->error);
	if (key != NULL)
		race->enc = scep_registry_secret_encrypt(key, "race", PLAIN, &race->error);
	return NULL;
}

static void
test_secret_key_created_once(SecretFixture *fx, gconstpointer data)
{
	/* several first uses at once: one key wins, and everyone uses that one */
	SecretRace races[8] = { { 0 } };
	GThread *threads[G_N_ELEMENTS(races)];
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepRegistrySecretKey) key = NULL;
	for (guint i = 0; i < G_N_ELEMENTS(races); i++) {
		races[i].path = fx->key_path;
		threads[i] = g_thread_new("race", secret_race_thread, &races[i]);
	}
	for (guint i = 0; i < G_N_ELEMENTS(races); i++)
		g_thread_join(threads[i]);
	key = scep_registry_secret_key_load(fx->key_path, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < G_N_ELEMENTS(races); i++) {
		g_autofree gchar *dec = NULL;
		g_assert_no_error(races[i].error);
		dec = scep_registry_secret_decrypt(key, "race", races[i].enc, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(dec, ==, PLAIN);
		g_free(races[i].enc);
	}
}

static void
test_secret_key_loose_mode(SecretFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepRegistrySecretKey) key =
	    scep_registry_secret_key_ensure(fx->key_path, &error);
	g_assert_no_error(error);
	g_clear_pointer(&key, scep_registry_secret_key_free);
	g_assert_cmpint(g_chmod(fx->key_path, 0644), ==, 0);
	key = scep_registry_secret_key_load(fx->key_path, &error);
	g_assert_error(error, SCEP_REGISTRY_ERROR, SCEP_REGISTRY_ERROR_UNAVAILABLE);
	g_assert_nonnull(strstr(error->message, "0600"));
	g_assert_null(key);
}

static void
test_secret_key_wrong_size(SecretFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepRegistrySecretKey) key = NULL;
	g_autofree gchar *contents = NULL;
	scep_test_write_file(fx->key_path, "short", -1);
	key = scep_registry_secret_key_ensure(fx->key_path, &error);
	g_assert_error(error, SCEP_REGISTRY_ERROR, SCEP_REGISTRY_ERROR_UNAVAILABLE);
	g_assert_null(key);
	/* ensure never replaces an existing (if broken) key */
	contents = scep_test_read_file(fx->key_path);
	g_assert_cmpstr(contents, ==, "short");
}

static void
test_secret_key_env(SecretFixture *fx, gconstpointer data)
{
	g_autofree gchar *other = g_build_filename(fx->dir, "elsewhere", "device.key", NULL);
	g_autofree gchar *def = NULL;
	g_autofree gchar *env = NULL;
	def = scep_registry_secret_key_path(fx->dir);
	g_assert_cmpstr(def, ==, fx->key_path);
	g_setenv(SCEP_REGISTRY_SECRET_KEY_ENV, other, TRUE);
	env = scep_registry_secret_key_path(fx->dir);
	g_assert_cmpstr(env, ==, other);
}

/* ---- the loader ---- */

static void
test_secret_wrong_key(SecretFixture *fx, gconstpointer data)
{
	/* a value from another device (another key) is an error naming the key only */
	g_autofree gchar *other_key = g_build_filename(fx->dir, "other.key", NULL);
	g_autofree gchar *enc = secret_encrypt_with(other_key, "crypt_password", PLAIN);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepRegistrySecretKey) mine =
	    scep_registry_secret_key_ensure(fx->key_path, &error);
	g_autoptr(ScepRegistrySnapshot) snap = NULL;
	ScepRegistryProblem *problem;
	g_assert_no_error(error);
	secret_write_registry(fx, enc);
	snap = scep_registry_snapshot_load(fx->dir, &error);
	g_assert_no_error(error);
	problem = secret_find_error(snap, K(0, crypt_password));
	g_assert_nonnull(problem);
	g_assert_nonnull(strstr(problem->message, "decrypt"));
	g_assert_null(scep_registry_snapshot_get_settings(snap, 0));
	secret_assert_problems_clean(snap, PLAIN, enc);
}

static void
test_secret_missing_key(SecretFixture *fx, gconstpointer data)
{
	g_autofree gchar *other_key = g_build_filename(fx->dir, "other.key", NULL);
	g_autofree gchar *enc = secret_encrypt_with(other_key, "crypt_password", PLAIN);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepRegistrySnapshot) snap = NULL;
	ScepRegistryProblem *problem;
	secret_write_registry(fx, enc);
	snap = scep_registry_snapshot_load(fx->dir, &error);
	g_assert_no_error(error);
	problem = secret_find_error(snap, K(0, crypt_password));
	g_assert_nonnull(problem);
	g_assert_nonnull(strstr(problem->message, fx->key_path));
	g_assert_null(scep_registry_snapshot_get_settings(snap, 0));
	/* loading never creates a key */
	g_assert_false(g_file_test(fx->key_path, G_FILE_TEST_EXISTS));
	secret_assert_problems_clean(snap, PLAIN, enc);
}

static void
test_secret_settings_plaintext(SecretFixture *fx, gconstpointer data)
{
	/* what the daemon reads: the plaintext, in memory only */
	g_autofree gchar *enc = secret_encrypt_with(fx->key_path, "crypt_password", PLAIN);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepRegistry) registry = scep_registry_new(fx->dir);
	ScepRegistrySnapshot *snap;
	ScepSettings *settings;
	guint index = scep_registry_schema_lookup("crypt_password")->index;
	secret_write_registry(fx, enc);
	g_assert_true(scep_registry_load(registry, &error));
	g_assert_no_error(error);
	snap = scep_registry_get_snapshot(registry);
	settings = scep_registry_snapshot_get_settings(snap, 0);
	g_assert_nonnull(settings);
	g_assert_cmpstr(settings->crypt_password, ==, PLAIN);
	g_assert_true(scep_registry_snapshot_is_encrypted(snap, 0, index));
	g_assert_cmpuint(scep_registry_snapshot_count_errors(snap), ==, 0);
}

static void
test_secret_clear_still_works(SecretFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepRegistrySnapshot) snap = NULL;
	ScepSettings *settings;
	guint index = scep_registry_schema_lookup("crypt_password")->index;
	secret_write_registry(fx, PLAIN);
	snap = scep_registry_snapshot_load(fx->dir, &error);
	g_assert_no_error(error);
	settings = scep_registry_snapshot_get_settings(snap, 0);
	g_assert_nonnull(settings);
	g_assert_cmpstr(settings->crypt_password, ==, PLAIN);
	g_assert_false(scep_registry_snapshot_is_encrypted(snap, 0, index));
	/* no key is needed, and none is made, for a clear value */
	g_assert_false(g_file_test(fx->key_path, G_FILE_TEST_EXISTS));
}

static void
test_secret_set_value_encrypts(SecretFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepRegistry) registry = scep_registry_new(fx->dir);
	g_autofree gchar *contents = NULL;
	ScepSettings *settings;
	secret_write_registry(fx, "");
	g_assert_true(scep_registry_set_value(
	    registry, K(0, ndes.challenge_password_retrieval.crypt_password), PLAIN_NDES, &error));
	g_assert_no_error(error);
	contents = scep_test_read_file(fx->base);
	g_assert_null(strstr(contents, PLAIN_NDES));
	g_assert_nonnull(
	    strstr(contents, K(0, ndes.challenge_password_retrieval.crypt_password) "=enc:v1:"));
	settings = scep_registry_snapshot_get_settings(scep_registry_get_snapshot(registry), 0);
	g_assert_nonnull(settings);
	g_assert_cmpstr(settings->ndes_crypt_password, ==, PLAIN_NDES);
}

/* ---- scep-registry end to end ---- */

typedef struct {
	gint status;
	gchar *out;
	gchar *err;
} SecretRun;

static void
secret_run_free(SecretRun *r)
{
	g_free(r->out);
	g_free(r->err);
	g_free(r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SecretRun, secret_run_free)

static SecretRun *
secret_run_tool(SecretFixture *fx, const gchar *input, const gchar *command, const gchar *arg)
{
	g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(
	    G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
	    G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GError) error = NULL;
	SecretRun *r = g_new0(SecretRun, 1);
	const gchar *argv[] = { secret_tool, "--registry-dir", fx->dir, command, arg, NULL };
	g_subprocess_launcher_setenv(launcher, "LC_ALL", "C.UTF-8", TRUE);
	g_subprocess_launcher_setenv(launcher, "LANGUAGE", "C", TRUE);
	proc = g_subprocess_launcher_spawnv(launcher, argv, &error);
	g_assert_no_error(error);
	g_subprocess_communicate_utf8(
	    proc, input != NULL ? input : "", NULL, &r->out, &r->err, &error);
	g_assert_no_error(error);
	r->status = g_subprocess_get_if_exited(proc) ? g_subprocess_get_exit_status(proc) : -1;
	g_test_message("%s: exit %d\nstdout: %s\nstderr: %s", command, r->status, r->out, r->err);
	return r;
}

static void
secret_assert_run_clean(SecretRun *r)
{
	g_assert_null(strstr(r->out, PLAIN));
	g_assert_null(strstr(r->err, PLAIN));
}

static void
test_secret_cli_set(SecretFixture *fx, gconstpointer data)
{
	g_autoptr(SecretRun) set = secret_run_tool(fx, PLAIN "\n", "set", K(0, crypt_password));
	g_autofree gchar *contents = NULL;
	g_autoptr(ScepRegistrySnapshot) snap = NULL;
	g_autoptr(GError) error = NULL;
	GStatBuf st;

	g_assert_cmpint(set->status, ==, 0);
	secret_assert_run_clean(set);
	/* the file holds the encrypted form only */
	contents = scep_test_read_file(fx->base);
	g_assert_null(strstr(contents, PLAIN));
	g_assert_true(g_str_has_prefix(contents, K(0, crypt_password) "=enc:v1:"));
	/* the device key was made on first use, root only */
	g_assert_cmpint(g_stat(fx->key_path, &st), ==, 0);
	g_assert_cmpuint(st.st_mode & 07777, ==, 0600);
	/* and the loader gets the plaintext back */
	snap = scep_registry_snapshot_load(fx->dir, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(
	    scep_registry_snapshot_lookup(snap, K(0, crypt_password), NULL, NULL), ==, PLAIN);
}

static void
test_secret_cli_masked(SecretFixture *fx, gconstpointer data)
{
	g_autoptr(SecretRun) set = secret_run_tool(fx, PLAIN, "set", K(0, crypt_password));
	g_autoptr(SecretRun) get = secret_run_tool(fx, NULL, "get", K(0, crypt_password));
	g_autoptr(SecretRun) list = secret_run_tool(fx, NULL, "list", NULL);
	g_autoptr(SecretRun) instances = secret_run_tool(fx, NULL, "instances", NULL);
	g_assert_cmpint(set->status, ==, 0);
	g_assert_cmpint(get->status, ==, 0);
	g_assert_cmpstr(get->out, ==, "********\n");
	g_assert_cmpint(list->status, ==, 0);
	g_assert_cmpstr(list->out, ==, K(0, crypt_password) "=********\n");
	/* neither the plaintext nor the stored form is shown */
	g_assert_null(strstr(list->out, "enc:v1:"));
	g_assert_null(strstr(get->out, "enc:v1:"));
	secret_assert_run_clean(get);
	secret_assert_run_clean(list);
	secret_assert_run_clean(instances);
}

static void
test_secret_cli_check_clear(SecretFixture *fx, gconstpointer data)
{
	/* a pushed clear value is a warning; an encrypted one is not */
	g_autofree gchar *enc = secret_encrypt_with(
	    fx->key_path, "ndes.challenge_password_retrieval.crypt_password", PLAIN_NDES);
	g_autofree gchar *contents =
	    g_strdup_printf(K(0, crypt_password) "=" PLAIN "\n" K(
				0, ndes.challenge_password_retrieval.crypt_password) "=%s\n",
			    enc);
	g_autofree gchar *want = g_strdup_printf(
	    "%s:1: " K(
		0, crypt_password) ": warning: stored in clear; `scep-registry set` encrypts it\n",
	    fx->base);
	g_autoptr(SecretRun) check = NULL;
	scep_test_write_file(fx->base, contents, -1);
	check = secret_run_tool(fx, NULL, "check", NULL);
	g_assert_cmpint(check->status, ==, 0);
	g_assert_cmpstr(check->out, ==, want);
	g_assert_nonnull(strstr(check->err, "0 errors, 1 warnings"));
	secret_assert_run_clean(check);
	g_assert_null(strstr(check->out, PLAIN_NDES));
}

static void
test_secret_cli_check_undecryptable(SecretFixture *fx, gconstpointer data)
{
	g_autofree gchar *other_key = g_build_filename(fx->dir, "other.key", NULL);
	g_autofree gchar *enc = secret_encrypt_with(other_key, "crypt_password", PLAIN);
	g_autofree gchar *prefix = NULL;
	g_autoptr(SecretRun) check = NULL;
	g_autoptr(SecretRun) instances = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepRegistrySecretKey) key =
	    scep_registry_secret_key_ensure(fx->key_path, &error);
	g_assert_no_error(error);
	secret_write_registry(fx, enc);
	prefix = g_strdup_printf("%s:5: " K(0, crypt_password) ": cannot be decrypted", fx->base);
	check = secret_run_tool(fx, NULL, "check", NULL);
	instances = secret_run_tool(fx, NULL, "instances", NULL);
	g_assert_cmpint(check->status, ==, 1);
	g_assert_true(g_str_has_prefix(check->out, prefix));
	g_assert_true(
	    g_str_has_prefix(instances->out, "cert0\tunconfigured: " K(0, crypt_password)));
	secret_assert_run_clean(check);
	secret_assert_run_clean(instances);
	g_assert_null(strstr(check->out, enc + strlen(SCEP_REGISTRY_SECRET_PREFIX)));
}

static void
secret_add(const gchar *path, gconstpointer data, void (*func)(SecretFixture *, gconstpointer))
{
	g_test_add(
	    path, SecretFixture, data, secret_fixture_set_up, func, secret_fixture_tear_down);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

	secret_tool = argc > 1 ? argv[1] : g_getenv("SCEP_REGISTRY_TOOL");
	if (secret_tool == NULL || !g_file_test(secret_tool, G_FILE_TEST_IS_EXECUTABLE)) {
		g_printerr("test-registry-secret: pass the path of the built scep-registry as the "
			   "first argument or in SCEP_REGISTRY_TOOL (got %s)\n",
			   secret_tool != NULL ? secret_tool : "nothing");
		return 1;
	}

	secret_add("/scep/registry/secret/round-trip", NULL, test_secret_round_trip);
	secret_add(
	    "/scep/registry/secret/tampered-nonce", GINT_TO_POINTER(0), test_secret_tampered);
	secret_add(
	    "/scep/registry/secret/tampered-ciphertext", GINT_TO_POINTER(1), test_secret_tampered);
	secret_add("/scep/registry/secret/tampered-tag", GINT_TO_POINTER(2), test_secret_tampered);
	secret_add("/scep/registry/secret/not-base64", NULL, test_secret_not_base64);
	secret_add("/scep/registry/secret/other-context", NULL, test_secret_other_context);
	secret_add("/scep/registry/secret/key-created", NULL, test_secret_key_created);
	secret_add("/scep/registry/secret/key-created-once", NULL, test_secret_key_created_once);
	secret_add("/scep/registry/secret/key-loose-mode", NULL, test_secret_key_loose_mode);
	secret_add("/scep/registry/secret/key-wrong-size", NULL, test_secret_key_wrong_size);
	secret_add("/scep/registry/secret/key-env", NULL, test_secret_key_env);
	secret_add("/scep/registry/secret/wrong-key", NULL, test_secret_wrong_key);
	secret_add("/scep/registry/secret/missing-key", NULL, test_secret_missing_key);
	secret_add(
	    "/scep/registry/secret/settings-plaintext", NULL, test_secret_settings_plaintext);
	secret_add("/scep/registry/secret/clear-still-works", NULL, test_secret_clear_still_works);
	secret_add(
	    "/scep/registry/secret/set-value-encrypts", NULL, test_secret_set_value_encrypts);
	secret_add("/scep/registry/secret/cli-set", NULL, test_secret_cli_set);
	secret_add("/scep/registry/secret/cli-masked", NULL, test_secret_cli_masked);
	secret_add("/scep/registry/secret/cli-check-clear", NULL, test_secret_cli_check_clear);
	secret_add("/scep/registry/secret/cli-check-undecryptable",
		   NULL,
		   test_secret_cli_check_undecryptable);
	return g_test_run();
}
