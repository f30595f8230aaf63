#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "scep-registry.h"
#include "scep-secret-store.h"

/* ScepSecretStore: the memory and file backends through the interface, what the file backend
 * leaves on disk, and how the backend is chosen. The libsecret backend has its own program
 * (test-secret-libsecret.c) that runs under dbus-run-session with a real gnome-keyring. */

#define PLAIN  "St0re-Me-S3cretly"
#define PLAIN2 "An0ther-S3cret"

typedef enum {
	BACKEND_MEMORY,
	BACKEND_FILE,
} Backend;

typedef struct {
	gchar *dir;
	gchar *path;
	gchar *key_path;
	ScepSecretStore *store;
} StoreFixture;

static void
store_rm_rf(const gchar *path)
{
	GDir *dir;
	const gchar *name;
	if (!g_file_test(path, G_FILE_TEST_IS_DIR) || g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
		g_unlink(path);
		return;
	}
	dir = g_dir_open(path, 0, NULL);
	if (dir != NULL) {
		while ((name = g_dir_read_name(dir)) != NULL) {
			g_autofree gchar *child = g_build_filename(path, name, NULL);
			store_rm_rf(child);
		}
		g_dir_close(dir);
	}
	g_rmdir(path);
}

static void
store_fixture_set_up(StoreFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	fx->dir = g_dir_make_tmp("scep-secret-store-XXXXXX", &error);
	g_assert_no_error(error);
	fx->path = g_build_filename(fx->dir, "state", "secrets", NULL);
	fx->key_path = g_build_filename(fx->dir, "etc", ".secret-key", NULL);
	if (GPOINTER_TO_INT(data) == BACKEND_FILE)
		fx->store = scep_secret_store_file_new(fx->path, fx->key_path);
	else
		fx->store = scep_secret_store_memory_new();
}

static void
store_fixture_tear_down(StoreFixture *fx, gconstpointer data)
{
	g_clear_object(&fx->store);
	store_rm_rf(fx->dir);
	g_free(fx->dir);
	g_free(fx->path);
	g_free(fx->key_path);
}

/* ---- running the async API to completion ---- */

static void
store_result_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GAsyncResult **out = user_data;
	*out = g_object_ref(result);
	g_main_context_wakeup(NULL);
}

static GAsyncResult *
store_wait(GAsyncResult **slot)
{
	while (*slot == NULL)
		g_main_context_iteration(NULL, TRUE);
	return *slot;
}

static gchar *
store_lookup(ScepSecretStore *store, const gchar *instance, const gchar *name, GError **error)
{
	g_autoptr(GAsyncResult) result = NULL;
	scep_secret_store_lookup_async(store, instance, name, NULL, store_result_cb, &result);
	return scep_secret_store_lookup_finish(store, store_wait(&result), error);
}

static gboolean
store_store(ScepSecretStore *store,
	    const gchar *instance,
	    const gchar *name,
	    const gchar *secret,
	    GError **error)
{
	g_autoptr(GAsyncResult) result = NULL;
	scep_secret_store_store_async(
	    store, instance, name, secret, NULL, store_result_cb, &result);
	return scep_secret_store_store_finish(store, store_wait(&result), error);
}

static gboolean
store_clear(ScepSecretStore *store, const gchar *instance, const gchar *name, GError **error)
{
	g_autoptr(GAsyncResult) result = NULL;
	scep_secret_store_clear_async(store, instance, name, NULL, store_result_cb, &result);
	return scep_secret_store_clear_finish(store, store_wait(&result), error);
}

/* ---- every backend ---- */

static void
test_store_round_trip(StoreFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	gchar *found;
	g_assert_true(store_store(fx->store, "cert0", "ndes-password", PLAIN, &error));
	g_assert_no_error(error);
	found = store_lookup(fx->store, "cert0", "ndes-password", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(found, ==, PLAIN);
	scep_secret_free(found);
}

static void
test_store_missing(StoreFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	gchar *found = store_lookup(fx->store, "cert0", "ndes-password", &error);
	g_assert_error(error, SCEP_SECRET_STORE_ERROR, SCEP_SECRET_STORE_ERROR_NOT_FOUND);
	g_assert_null(found);
}

static void
test_store_keyed_by_instance_and_name(StoreFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	gchar *found;
	g_assert_true(store_store(fx->store, "cert0", "challenge", PLAIN, &error));
	g_assert_true(store_store(fx->store, "cert1", "challenge", PLAIN2, &error));
	g_assert_no_error(error);
	found = store_lookup(fx->store, "cert1", "challenge", &error);
	g_assert_cmpstr(found, ==, PLAIN2);
	scep_secret_free(found);
	found = store_lookup(fx->store, "cert0", "ndes-password", &error);
	g_assert_error(error, SCEP_SECRET_STORE_ERROR, SCEP_SECRET_STORE_ERROR_NOT_FOUND);
	g_assert_null(found);
}

static void
test_store_replace(StoreFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	gchar *found;
	g_assert_true(store_store(fx->store, "cert0", "challenge", PLAIN, &error));
	g_assert_true(store_store(fx->store, "cert0", "challenge", PLAIN2, &error));
	g_assert_no_error(error);
	found = store_lookup(fx->store, "cert0", "challenge", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(found, ==, PLAIN2);
	scep_secret_free(found);
}

static void
test_store_clear(StoreFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	gchar *found;
	g_assert_true(store_store(fx->store, "cert0", "challenge", PLAIN, &error));
	g_assert_true(store_store(fx->store, "cert0", "other", PLAIN2, &error));
	g_assert_true(store_clear(fx->store, "cert0", "challenge", &error));
	g_assert_no_error(error);
	found = store_lookup(fx->store, "cert0", "challenge", &error);
	g_assert_error(error, SCEP_SECRET_STORE_ERROR, SCEP_SECRET_STORE_ERROR_NOT_FOUND);
	g_assert_null(found);
	g_clear_error(&error);
	/* the other secret of the instance stays */
	found = store_lookup(fx->store, "cert0", "other", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(found, ==, PLAIN2);
	scep_secret_free(found);
}

static void
test_store_clear_missing(StoreFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_assert_true(store_clear(fx->store, "cert0", "challenge", &error));
	g_assert_no_error(error);
}

static void
test_store_invalid_arguments(StoreFixture *fx, gconstpointer data)
{
	const gchar *bad_names[] = { "", "cert 0", "a/b", "a=b", "[x]", "é" };
	g_autofree gchar *long_name = g_strnfill(129, 'a');
	g_autoptr(GError) error = NULL;
	for (guint i = 0; i < G_N_ELEMENTS(bad_names); i++) {
		gchar *found = store_lookup(fx->store, bad_names[i], "challenge", &error);
		g_assert_error(
		    error, SCEP_SECRET_STORE_ERROR, SCEP_SECRET_STORE_ERROR_INVALID_ARGUMENT);
		g_assert_null(found);
		g_clear_error(&error);
		g_assert_false(store_store(fx->store, "cert0", bad_names[i], PLAIN, &error));
		g_assert_error(
		    error, SCEP_SECRET_STORE_ERROR, SCEP_SECRET_STORE_ERROR_INVALID_ARGUMENT);
		g_clear_error(&error);
	}
	g_assert_false(store_clear(fx->store, long_name, "challenge", &error));
	g_assert_error(error, SCEP_SECRET_STORE_ERROR, SCEP_SECRET_STORE_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_false(store_store(fx->store, "cert0", "challenge", "", &error));
	g_assert_error(error, SCEP_SECRET_STORE_ERROR, SCEP_SECRET_STORE_ERROR_INVALID_ARGUMENT);
}

/* ---- the file backend on disk ---- */

static void
test_store_file_encrypted(StoreFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *contents = NULL;
	GStatBuf st;
	g_assert_true(store_store(fx->store, "cert0", "ndes-password", PLAIN, &error));
	g_assert_no_error(error);
	g_assert_true(g_file_get_contents(fx->path, &contents, NULL, &error));
	g_assert_null(strstr(contents, PLAIN));
	g_assert_nonnull(strstr(contents, "[cert0]"));
	g_assert_nonnull(strstr(contents, "ndes-password=enc:v1:"));
	g_assert_cmpint(g_stat(fx->path, &st), ==, 0);
	g_assert_cmpuint(st.st_mode & 07777, ==, 0600);
	/* the device key was made on the first store */
	g_assert_cmpint(g_stat(fx->key_path, &st), ==, 0);
	g_assert_cmpuint(st.st_mode & 07777, ==, 0600);
	g_assert_cmpint(st.st_size, ==, SCEP_REGISTRY_SECRET_KEY_SIZE);
}

static void
test_store_file_persists(StoreFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepSecretStore) again = NULL;
	gchar *found;
	g_assert_true(store_store(fx->store, "cert0", "ndes-password", PLAIN, &error));
	g_assert_no_error(error);
	g_clear_object(&fx->store);
	again = scep_secret_store_file_new(fx->path, fx->key_path);
	found = store_lookup(again, "cert0", "ndes-password", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(found, ==, PLAIN);
	scep_secret_free(found);
}

static void
test_store_file_moved_value(StoreFixture *fx, gconstpointer data)
{
	/* a value copied to another entry does not decrypt (it is bound to its place) */
	g_autoptr(GError) error = NULL;
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autofree gchar *value = NULL;
	gchar *found;
	g_assert_true(store_store(fx->store, "cert0", "ndes-password", PLAIN, &error));
	g_assert_no_error(error);
	g_assert_true(g_key_file_load_from_file(kf, fx->path, G_KEY_FILE_NONE, &error));
	value = g_key_file_get_string(kf, "cert0", "ndes-password", &error);
	g_assert_no_error(error);
	g_key_file_set_string(kf, "cert1", "ndes-password", value);
	g_assert_true(g_key_file_save_to_file(kf, fx->path, &error));
	found = store_lookup(fx->store, "cert1", "ndes-password", &error);
	g_assert_error(error, SCEP_SECRET_STORE_ERROR, SCEP_SECRET_STORE_ERROR_CORRUPT);
	g_assert_null(strstr(error->message, PLAIN));
	g_assert_nonnull(strstr(error->message, "cert1/ndes-password"));
	g_assert_null(found);
}

static void
test_store_file_wrong_key(StoreFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	gchar *found;
	g_assert_true(store_store(fx->store, "cert0", "ndes-password", PLAIN, &error));
	g_assert_no_error(error);
	/* another device key in place of the one that encrypted */
	g_assert_cmpint(g_unlink(fx->key_path), ==, 0);
	{
		g_autoptr(ScepRegistrySecretKey) other =
		    scep_registry_secret_key_ensure(fx->key_path, &error);
		g_assert_no_error(error);
	}
	found = store_lookup(fx->store, "cert0", "ndes-password", &error);
	g_assert_error(error, SCEP_SECRET_STORE_ERROR, SCEP_SECRET_STORE_ERROR_CORRUPT);
	g_assert_null(strstr(error->message, PLAIN));
	g_assert_null(found);
}

static void
test_store_file_missing_key(StoreFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	gchar *found;
	g_assert_true(store_store(fx->store, "cert0", "ndes-password", PLAIN, &error));
	g_assert_no_error(error);
	g_assert_cmpint(g_unlink(fx->key_path), ==, 0);
	found = store_lookup(fx->store, "cert0", "ndes-password", &error);
	g_assert_error(error, SCEP_SECRET_STORE_ERROR, SCEP_SECRET_STORE_ERROR_UNAVAILABLE);
	g_assert_nonnull(strstr(error->message, fx->key_path));
	g_assert_null(found);
	/* a lookup never makes a key */
	g_assert_false(g_file_test(fx->key_path, G_FILE_TEST_EXISTS));
}

static void
test_store_file_garbage(StoreFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *dir = g_path_get_dirname(fx->path);
	gchar *found;
	g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
	g_assert_true(g_file_set_contents(fx->path, "this is not a key file\n", -1, &error));
	found = store_lookup(fx->store, "cert0", "ndes-password", &error);
	g_assert_error(error, SCEP_SECRET_STORE_ERROR, SCEP_SECRET_STORE_ERROR_CORRUPT);
	g_assert_null(found);
}

static void
test_store_file_parallel(StoreFixture *fx, gconstpointer data)
{
	/* operations run in worker threads; concurrent stores must not lose each other */
	GAsyncResult *results[16] = { NULL };
	g_autoptr(GError) error = NULL;
	for (guint i = 0; i < G_N_ELEMENTS(results); i++) {
		g_autofree gchar *name = g_strdup_printf("s%u", i);
		g_autofree gchar *secret = g_strdup_printf("secret-%u", i);
		scep_secret_store_store_async(
		    fx->store, "cert0", name, secret, NULL, store_result_cb, &results[i]);
	}
	for (guint i = 0; i < G_N_ELEMENTS(results); i++) {
		store_wait(&results[i]);
		g_assert_true(scep_secret_store_store_finish(fx->store, results[i], &error));
		g_assert_no_error(error);
		g_clear_object(&results[i]);
	}
	for (guint i = 0; i < G_N_ELEMENTS(results); i++) {
		g_autofree gchar *name = g_strdup_printf("s%u", i);
		g_autofree gchar *want = g_strdup_printf("secret-%u", i);
		gchar *found = store_lookup(fx->store, "cert0", name, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(found, ==, want);
		scep_secret_free(found);
	}
}

/* g_test_expect_message() does not see G_LOG_USE_STRUCTURED messages in GLib 2.74: the
 * messages logged are captured by this writer instead */
static GPtrArray *captured_messages;

static GLogWriterOutput
store_capture_writer(GLogLevelFlags level,
		     const GLogField *fields,
		     gsize n_fields,
		     gpointer user_data)
{
	const gchar *message = NULL;
	for (gsize i = 0; i < n_fields; i++) {
		if (g_str_equal(fields[i].key, "MESSAGE") && fields[i].length < 0)
			message = fields[i].value;
	}
	if ((level & G_LOG_LEVEL_MESSAGE) != 0 && message != NULL && captured_messages != NULL)
		g_ptr_array_add(captured_messages, g_strdup(message));
	return g_log_writer_default(level, fields, n_fields, user_data);
}

static void
store_capture_start(void)
{
	g_clear_pointer(&captured_messages, g_ptr_array_unref);
	captured_messages = g_ptr_array_new_with_free_func(g_free);
}

/* exactly one message was logged since store_capture_start(), and it matches @pattern */
static void
store_capture_assert(const gchar *pattern)
{
	g_assert_nonnull(captured_messages);
	g_assert_cmpuint(captured_messages->len, ==, 1);
	g_test_message("logged '%s', expected '%s'",
		       (const gchar *)g_ptr_array_index(captured_messages, 0),
		       pattern);
	g_assert_true(g_pattern_match_simple(pattern, g_ptr_array_index(captured_messages, 0)));
	g_clear_pointer(&captured_messages, g_ptr_array_unref);
}

/* ---- choosing the backend ---- */

static void
test_store_choose_env(void)
{
	const gchar *names[] = { "memory", "file", "libsecret" };
	g_autoptr(GError) error = NULL;
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autoptr(ScepSecretStore) store = NULL;
		g_setenv(SCEP_SECRET_STORE_BACKEND_ENV, names[i], TRUE);
		store_capture_start();
		store =
		    scep_secret_store_new_default("/nonexistent/state", "/nonexistent/etc", &error);
		store_capture_assert("secret store: *");
		g_assert_no_error(error);
		g_assert_cmpstr(scep_secret_store_get_backend_name(store), ==, names[i]);
	}
	g_unsetenv(SCEP_SECRET_STORE_BACKEND_ENV);
}

static void
test_store_choose_env_invalid(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepSecretStore) store = NULL;
	g_setenv(SCEP_SECRET_STORE_BACKEND_ENV, "kwallet", TRUE);
	store = scep_secret_store_new_default(NULL, NULL, &error);
	g_assert_error(error, SCEP_SECRET_STORE_ERROR, SCEP_SECRET_STORE_ERROR_INVALID_ARGUMENT);
	g_assert_null(store);
	g_unsetenv(SCEP_SECRET_STORE_BACKEND_ENV);
}

static void
test_store_choose_no_session_bus(void)
{
	/* the root service: no session bus at all, so the encrypted file */
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepSecretStore) store = NULL;
	g_unsetenv(SCEP_SECRET_STORE_BACKEND_ENV);
	g_unsetenv("DBUS_SESSION_BUS_ADDRESS");
	store_capture_start();
	store = scep_secret_store_new_default("/nonexistent/state", "/nonexistent/etc", &error);
	store_capture_assert("secret store: file backend *no session bus*");
	g_assert_no_error(error);
	g_assert_cmpstr(scep_secret_store_get_backend_name(store), ==, "file");
}

static void
test_store_choose_bus_without_secrets(void)
{
	/* a session bus on which nobody offers org.freedesktop.secrets: the file, too */
	g_autoptr(GTestDBus) bus = g_test_dbus_new(G_TEST_DBUS_NONE);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepSecretStore) store = NULL;
	g_autofree gchar *daemon = g_find_program_in_path("dbus-daemon");
	if (daemon == NULL) {
		g_test_fail_printf("dbus-daemon is missing (Debian package dbus-daemon)");
		return;
	}
	g_unsetenv(SCEP_SECRET_STORE_BACKEND_ENV);
	g_test_dbus_up(bus);
	store_capture_start();
	store = scep_secret_store_new_default("/nonexistent/state", "/nonexistent/etc", &error);
	store_capture_assert("secret store: file backend *no org.freedesktop.secrets*");
	g_assert_no_error(error);
	g_assert_cmpstr(scep_secret_store_get_backend_name(store), ==, "file");
	g_test_dbus_down(bus);
}

static void
store_add(const gchar *area,
	  const gchar *name,
	  Backend backend,
	  void (*func)(StoreFixture *, gconstpointer))
{
	g_autofree gchar *path = g_strdup_printf("/scep/secrets/%s/%s", area, name);
	g_test_add(path,
		   StoreFixture,
		   GINT_TO_POINTER(backend),
		   store_fixture_set_up,
		   func,
		   store_fixture_tear_down);
}

int
main(int argc, char **argv)
{
	const struct {
		const gchar *area;
		Backend backend;
	} backends[] = { { "memory", BACKEND_MEMORY }, { "file", BACKEND_FILE } };

	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
	g_log_set_writer_func(store_capture_writer, NULL, NULL);
	g_unsetenv(SCEP_REGISTRY_SECRET_KEY_ENV);

	for (guint i = 0; i < G_N_ELEMENTS(backends); i++) {
		const gchar *a = backends[i].area;
		Backend b = backends[i].backend;
		store_add(a, "round-trip", b, test_store_round_trip);
		store_add(a, "missing", b, test_store_missing);
		store_add(
		    a, "keyed-by-instance-and-name", b, test_store_keyed_by_instance_and_name);
		store_add(a, "replace", b, test_store_replace);
		store_add(a, "clear", b, test_store_clear);
		store_add(a, "clear-missing", b, test_store_clear_missing);
		store_add(a, "invalid-arguments", b, test_store_invalid_arguments);
	}
	store_add("file", "encrypted-on-disk", BACKEND_FILE, test_store_file_encrypted);
	store_add("file", "persists", BACKEND_FILE, test_store_file_persists);
	store_add("file", "moved-value", BACKEND_FILE, test_store_file_moved_value);
	store_add("file", "wrong-key", BACKEND_FILE, test_store_file_wrong_key);
	store_add("file", "missing-key", BACKEND_FILE, test_store_file_missing_key);
	store_add("file", "garbage", BACKEND_FILE, test_store_file_garbage);
	store_add("file", "parallel", BACKEND_FILE, test_store_file_parallel);
	g_test_add_func("/scep/secrets/choose/env", test_store_choose_env);
	g_test_add_func("/scep/secrets/choose/env-invalid", test_store_choose_env_invalid);
	g_test_add_func("/scep/secrets/choose/no-session-bus", test_store_choose_no_session_bus);
	g_test_add_func("/scep/secrets/choose/bus-without-secrets",
			test_store_choose_bus_without_secrets);
	return g_test_run();
}
