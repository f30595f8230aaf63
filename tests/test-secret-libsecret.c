#include "config.h"

#include <gio/gio.h>
#include <libsecret/secret.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include "scep-secret-store-test-util.h"
#include "scep-secret-store.h"
#include "scep-test-util.h"

/* The libsecret backend against a real Secret Service: gnome-keyring-daemon on a private
 * session bus. Run as `dbus-run-session -- test-secret-libsecret`; the program starts
 * `gnome-keyring-daemon --unlock --components=secrets --foreground` itself (unlock password on
 * its standard input, HOME and XDG directories in a temporary directory), waits until
 * org.freedesktop.secrets has an owner, runs the tests, and stops the daemon by its PID. */

#define PLAIN  "K3yring-S3cret"
#define PLAIN2 "K3yring-Other"

/* ---- tests (each on its own instance name: one keyring serves them all) ---- */

static void
test_keyring_store_lookup(void)
{
	g_autoptr(ScepSecretStore) store = scep_secret_store_libsecret_new();
	g_assert_cmpstr(scep_secret_store_get_backend_name(store), ==, "libsecret");
	scep_secret_store_test_assert_store(store, "cert0", "ndes-password", PLAIN);
	scep_secret_store_test_assert_found(store, "cert0", "ndes-password", PLAIN);
}

static void
test_keyring_lookup_missing(void)
{
	g_autoptr(ScepSecretStore) store = scep_secret_store_libsecret_new();
	scep_secret_store_test_assert_not_found(store, "cert1", "ndes-password");
}

static void
test_keyring_clear(void)
{
	g_autoptr(ScepSecretStore) store = scep_secret_store_libsecret_new();
	scep_secret_store_test_assert_store(store, "cert2", "challenge", PLAIN);
	scep_secret_store_test_assert_clear(store, "cert2", "challenge");
	scep_secret_store_test_assert_not_found(store, "cert2", "challenge");
	/* clearing again is no error */
	scep_secret_store_test_assert_clear(store, "cert2", "challenge");
}

static void
test_keyring_replace(void)
{
	g_autoptr(ScepSecretStore) store = scep_secret_store_libsecret_new();
	scep_secret_store_test_assert_store(store, "cert3", "challenge", PLAIN);
	scep_secret_store_test_assert_store(store, "cert3", "challenge", PLAIN2);
	scep_secret_store_test_assert_found(store, "cert3", "challenge", PLAIN2);
}

static void
test_keyring_keyed_by_instance_and_name(void)
{
	g_autoptr(ScepSecretStore) store = scep_secret_store_libsecret_new();
	scep_secret_store_test_assert_store(store, "cert4", "challenge", PLAIN);
	scep_secret_store_test_assert_store(store, "cert5", "challenge", PLAIN2);
	scep_secret_store_test_assert_found(store, "cert4", "challenge", PLAIN);
	scep_secret_store_test_assert_not_found(store, "cert4", "ndes-password");
}

static void
test_keyring_schema(void)
{
	/* the items follow the documented schema, so that other tools find them */
	static const SecretSchema schema = {
		"org.scepagent.Secret",
		SECRET_SCHEMA_NONE,
		{
		    { "instance", SECRET_SCHEMA_ATTRIBUTE_STRING },
		    { "name", SECRET_SCHEMA_ATTRIBUTE_STRING },
		    { NULL, 0 },
		},
	};
	g_autoptr(ScepSecretStore) store = scep_secret_store_libsecret_new();
	g_autoptr(GError) error = NULL;
	gchar *found;
	scep_secret_store_test_assert_store(store, "cert6", "ndes-password", PLAIN);
	found = secret_password_lookup_sync(
	    &schema, NULL, &error, "instance", "cert6", "name", "ndes-password", NULL);
	g_assert_no_error(error);
	g_assert_cmpstr(found, ==, PLAIN);
	secret_password_free(found);
}

static void
test_keyring_chosen_automatically(void)
{
	g_autoptr(ScepSecretStore) store = NULL;
	g_autoptr(GError) error = NULL;
	g_unsetenv(SCEP_SECRET_STORE_BACKEND_ENV);
	scep_test_capture_messages();
	store = scep_secret_store_new_default("/nonexistent/state", "/nonexistent/etc", &error);
	scep_test_assert_captured_message(
	    "secret store: libsecret backend (org.freedesktop.secrets has an owner*");
	g_assert_no_error(error);
	g_assert_cmpstr(scep_secret_store_get_backend_name(store), ==, "libsecret");
}

/* ---- the keyring daemon ---- */

static void
keyring_name_appeared_cb(GDBusConnection *connection,
			 const gchar *name,
			 const gchar *owner,
			 gpointer user_data)
{
	*(gboolean *)user_data = TRUE;
}

static gboolean
keyring_timeout_cb(gpointer user_data)
{
	*(gboolean *)user_data = TRUE;
	return G_SOURCE_REMOVE;
}

/* the daemon goes with us even when a test aborts */
static void
keyring_child_setup(gpointer user_data)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static GSubprocess *
keyring_start(const gchar *home, GError **error)
{
	g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(
	    G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
	g_autoptr(GSubprocess) proc = NULL;
	g_autofree gchar *data = g_build_filename(home, "data", NULL);
	g_autofree gchar *config = g_build_filename(home, "config", NULL);
	g_autofree gchar *cache = g_build_filename(home, "cache", NULL);
	g_autofree gchar *runtime = g_build_filename(home, "runtime", NULL);
	const gchar *const dirs[] = { data, config, cache, runtime };
	GOutputStream *input;
	const gchar *password = "keyring-unlock-password";
	gboolean appeared = FALSE;
	gboolean timed_out = FALSE;
	guint watch;
	guint timeout;

	for (guint i = 0; i < G_N_ELEMENTS(dirs); i++)
		g_mkdir_with_parents(dirs[i], 0700);
	g_subprocess_launcher_set_child_setup(launcher, keyring_child_setup, NULL, NULL);
	g_subprocess_launcher_setenv(launcher, "HOME", home, TRUE);
	g_subprocess_launcher_setenv(launcher, "XDG_DATA_HOME", data, TRUE);
	g_subprocess_launcher_setenv(launcher, "XDG_CONFIG_HOME", config, TRUE);
	g_subprocess_launcher_setenv(launcher, "XDG_CACHE_HOME", cache, TRUE);
	g_subprocess_launcher_setenv(launcher, "XDG_RUNTIME_DIR", runtime, TRUE);
	proc = g_subprocess_launcher_spawn(launcher,
					   error,
					   "gnome-keyring-daemon",
					   "--unlock",
					   "--components=secrets",
					   "--foreground",
					   NULL);
	if (proc == NULL)
		return NULL;
	g_test_message("gnome-keyring-daemon: pid %s", g_subprocess_get_identifier(proc));
	input = g_subprocess_get_stdin_pipe(proc);
	if (!g_output_stream_write_all(input, password, strlen(password), NULL, NULL, error) ||
	    !g_output_stream_close(input, NULL, error)) {
		g_subprocess_force_exit(proc);
		g_subprocess_wait(proc, NULL, NULL);
		return NULL;
	}

	watch = g_bus_watch_name(G_BUS_TYPE_SESSION,
				 "org.freedesktop.secrets",
				 G_BUS_NAME_WATCHER_FLAGS_NONE,
				 keyring_name_appeared_cb,
				 NULL,
				 &appeared,
				 NULL);
	timeout = g_timeout_add_seconds(20, keyring_timeout_cb, &timed_out);
	while (!appeared && !timed_out)
		g_main_context_iteration(NULL, TRUE);
	g_bus_unwatch_name(watch);
	if (!timed_out)
		g_source_remove(timeout);
	if (!appeared) {
		g_set_error_literal(error,
				    G_IO_ERROR,
				    G_IO_ERROR_TIMED_OUT,
				    "org.freedesktop.secrets got no owner within 20 s");
		g_subprocess_force_exit(proc);
		g_subprocess_wait(proc, NULL, NULL);
		return NULL;
	}
	return g_steal_pointer(&proc);
}

static void
keyring_stop(GSubprocess *proc)
{
	g_subprocess_send_signal(proc, SIGTERM);
	g_subprocess_wait(proc, NULL, NULL);
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSubprocess) keyring = NULL;
	g_autofree gchar *home = NULL;
	g_autofree gchar *daemon = NULL;
	const gchar *bus = NULL;
	int rc;

	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
	scep_test_log_init();

	/* missing pieces are failures with the reason, never skips */
	bus = g_getenv("DBUS_SESSION_BUS_ADDRESS");
	if (bus == NULL || bus[0] == '\0') {
		g_printerr("test-secret-libsecret: no session bus; run it as "
			   "`dbus-run-session -- %s` (Debian package dbus-bin)\n",
			   argv[0]);
		return 1;
	}
	daemon = g_find_program_in_path("gnome-keyring-daemon");
	if (daemon == NULL) {
		g_printerr("test-secret-libsecret: gnome-keyring-daemon is missing (Debian package "
			   "gnome-keyring; tests/install-deps.sh installs it)\n");
		return 1;
	}
	home = g_dir_make_tmp("scep-keyring-XXXXXX", &error);
	if (home == NULL) {
		g_printerr("test-secret-libsecret: %s\n", error->message);
		return 1;
	}
	keyring = keyring_start(home, &error);
	if (keyring == NULL) {
		g_printerr("test-secret-libsecret: cannot start gnome-keyring-daemon: %s\n",
			   error->message);
		scep_test_remove_tree(home, NULL);
		return 1;
	}

	g_test_add_func("/scep/secrets/libsecret/store-lookup", test_keyring_store_lookup);
	g_test_add_func("/scep/secrets/libsecret/lookup-missing", test_keyring_lookup_missing);
	g_test_add_func("/scep/secrets/libsecret/clear", test_keyring_clear);
	g_test_add_func("/scep/secrets/libsecret/replace", test_keyring_replace);
	g_test_add_func("/scep/secrets/libsecret/keyed-by-instance-and-name",
			test_keyring_keyed_by_instance_and_name);
	g_test_add_func("/scep/secrets/libsecret/schema", test_keyring_schema);
	g_test_add_func("/scep/secrets/libsecret/chosen-automatically",
			test_keyring_chosen_automatically);
	rc = g_test_run();

	secret_service_disconnect();
	keyring_stop(keyring);
	scep_test_remove_tree(home, NULL);
	return rc;
}
