#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "scep-registry.h"
#include "scep-secret-store-test-util.h"
#include "scep-secret-store.h"
#include "scep-test-util.h"

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
store_fixture_set_up(StoreFixture *fx, gconstpointer data)
{
	fx->dir = scep_test_make_tmp_dir("scep-secret-store-XXXXXX");
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
	scep_test_remove_tree(fx->dir, NULL);
	g_free(fx->dir);
	g_free(fx->path);
	g_free(fx->key_path);
}

/* ---- every backend ---- */

static void
test_store_round_trip(StoreFixture *fx, gconstpointer data)
{
	scep_secret_store_test_assert_store(fx->store, "cert0", "ndes-password", PLAIN);
	scep_secret_store_test_assert_found(fx->store, "cert0", "ndes-password", PLAIN);
}

static void
test_store_missing(StoreFixture *fx, gconstpointer data)
{
	scep_secret_store_test_assert_not_found(fx->store, "cert0", "ndes-password");
}

static void
test_store_keyed_by_instance_and_name(StoreFixture *fx, gconstpointer data)
{
	scep_secret_store_test_assert_store(fx->store, "cert0", "challenge", PLAIN);
	scep_secret_store_test_assert_store(fx->store, "cert1", "challenge", PLAIN2);
	scep_secret_store_test_assert_found(fx->store, "cert1", "challenge", PLAIN2);
	scep_secret_store_test_assert_not_found(fx->store, "cert0", "ndes-password");
}

static void
test_store_replace(StoreFixture *fx, gconstpointer data)
{
	scep_secret_store_test_assert_store(fx->store, "cert0", "challenge", PLAIN);
	scep_secret_store_test_assert_store(fx->store, "cert0", "challenge", PLAIN2);
	scep_secret_store_test_assert_found(fx->store, "cert0", "challenge", PLAIN2);
}

static void
test_store_clear(StoreFixture *fx, gconstpointer data)
{
	scep_secret_store_test_assert_store(fx->store, "cert0", "challenge", PLAIN);
	scep_secret_store_test_assert_store(fx->store, "cert0", "other", PLAIN2);
	scep_secret_store_test_assert_clear(fx->store, "cert0", "challenge");
	scep_secret_store_test_assert_not_found(fx->store, "cert0", "challenge");
	/* the other secret of the instance stays */
	scep_secret_store_test_assert_found(fx->store, "cert0", "other", PLAIN2);
}

static void
test_store_clear_missing(StoreFixture *fx, gconstpointer data)
{
	scep_secret_store_test_assert_clear(fx->store, "cert0", "challenge");
}

static void
test_store_invalid_arguments(StoreFixture *fx, gconstpointer data)
{
	const gchar *bad_names[] = { "", "cert 0", "a/b", "a=b", "[x]", "é" };
	g_autofree gchar *long_name = g_strnfill(129, 'a');
	g_autoptr(GError) error = NULL;
	for (guint i = 0; i < G_N_ELEMENTS(bad_names); i++) {
		gchar *found =
		    scep_secret_store_test_lookup(fx->store, bad_names[i], "challenge", &error);
		g_assert_error(
		    error, SCEP_SECRET_STORE_ERROR, SCEP_SECRET_STORE_ERROR_INVALID_ARGUMENT);
		g_assert_null(found);
		g_clear_error(&error);
		g_assert_false(
		    scep_secret_store_test_store(fx->store, "cert0", bad_names[i], PLAIN, &error));
		g_assert_error(
		    error, SCEP_SECRET_STORE_ERROR, SCEP_SECRET_STORE_ERROR_INVALID_ARGUMENT);
		g_clear_error(&error);
	}
	g_assert_false(scep_secret_store_test_clear(fx->store, long_name, "challenge", &error));
	g_assert_error(error, SCEP_SECRET_STORE_ERROR, SCEP_SECRET_STORE_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_false(scep_secret_store_test_store(fx->store, "cert0", "challenge", "", &error));
	g_assert_error(error, SCEP_SECRET_STORE_ERROR, SCEP_SECRET_STORE_ERROR_INVALID_ARGUMENT);
}

/* ---- the file backend on disk ---- */

static void
test_store_file_encrypted(StoreFixture *fx, gconstpointer data)
{
	g_autofree gchar *contents = NULL;
	GStatBuf st;
	scep_secret_store_test_assert_store(fx->store, "cert0", "ndes-password", PLAIN);
	contents = scep_test_read_file(fx->path);
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
	g_autoptr(ScepSecretStore) again = NULL;
	scep_secret_store_test_assert_store(fx->store, "cert0", "ndes-password", PLAIN);
	g_clear_object(&fx->store);
	again = scep_secret_store_file_new(fx->path, fx->key_path);
	scep_secret_store_test_assert_found(again, "cert0", "ndes-password", PLAIN);
}

static void
test_store_file_moved_value(StoreFixture *fx, gconstpointer data)
{
	/* a value copied to another entry does not decrypt (it is bound to its place) */
	g_autoptr(GError) error = NULL;
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autofree gchar *value = NULL;
	gchar *found;
	scep_secret_store_test_assert_store(fx->store, "cert0", "ndes-password", PLAIN);
	g_assert_true(g_key_file_load_from_file(kf, fx->path, G_KEY_FILE_NONE, &error));
	value = g_key_file_get_string(kf, "cert0", "ndes-password", &error);
	g_assert_no_error(error);
	g_key_file_set_string(kf, "cert1", "ndes-password", value);
	g_assert_true(g_key_file_save_to_file(kf, fx->path, &error));
	found = scep_secret_store_test_lookup(fx->store, "cert1", "ndes-password", &error);
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
	scep_secret_store_test_assert_store(fx->store, "cert0", "ndes-password", PLAIN);
	/* another device key in place of the one that encrypted */
	g_assert_cmpint(g_unlink(fx->key_path), ==, 0);
	{
		g_autoptr(ScepRegistrySecretKey) other =
		    scep_registry_secret_key_ensure(fx->key_path, &error);
		g_assert_no_error(error);
	}
	found = scep_secret_store_test_lookup(fx->store, "cert0", "ndes-password", &error);
	g_assert_error(error, SCEP_SECRET_STORE_ERROR, SCEP_SECRET_STORE_ERROR_CORRUPT);
	g_assert_null(strstr(error->message, PLAIN));
	g_assert_null(found);
}

static void
test_store_file_missing_key(StoreFixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	gchar *found;
	scep_secret_store_test_assert_store(fx->store, "cert0", "ndes-password", PLAIN);
	g_assert_cmpint(g_unlink(fx->key_path), ==, 0);
	found = scep_secret_store_test_lookup(fx->store, "cert0", "ndes-password", &error);
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
	gchar *found;
	scep_test_write_file(fx->path, "this is not a key file\n", -1);
	found = scep_secret_store_test_lookup(fx->store, "cert0", "ndes-password", &error);
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
		    fx->store, "cert0", name, secret, NULL, scep_test_result_cb, &results[i]);
	}
	for (guint i = 0; i < G_N_ELEMENTS(results); i++) {
		scep_test_wait_result(&results[i]);
		g_assert_true(scep_secret_store_store_finish(fx->store, results[i], &error));
		g_assert_no_error(error);
		g_clear_object(&results[i]);
	}
	for (guint i = 0; i < G_N_ELEMENTS(results); i++) {
		g_autofree gchar *name = g_strdup_printf("s%u", i);
		g_autofree gchar *want = g_strdup_printf("secret-%u", i);
		scep_secret_store_test_assert_found(fx->store, "cert0", name, want);
	}
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
		scep_test_capture_messages();
		store =
		    scep_secret_store_new_default("/nonexistent/state", "/nonexistent/etc", &error);
		scep_test_assert_captured_message("secret store: *");
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
	scep_test_capture_messages();
	store = scep_secret_store_new_default("/nonexistent/state", "/nonexistent/etc", &error);
	scep_test_assert_captured_message("secret store: file backend *no session bus*");
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
	scep_test_capture_messages();
	store = scep_secret_store_new_default("/nonexistent/state", "/nonexistent/etc", &error);
	scep_test_assert_captured_message(
	    "secret store: file backend *no org.freedesktop.secrets*");
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
	scep_test_log_init();
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
