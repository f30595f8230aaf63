#include "config.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <gnutls/gnutls.h>
#include <locale.h>
#include <signal.h>
#include <unistd.h>

#include "scep-dbus-daemon.h"
#include "scep-engine.h"

typedef struct {
	GMainLoop *loop;
	gint signal_received;
	gint exit_code;
} ScepMain;

/* the bus name is the service: without it the daemon has no reason to run (Type=dbus) */
static void
scep_main_name_lost_cb(ScepDbusDaemon *daemon, gpointer user_data)
{
	ScepMain *main_data = user_data;
	main_data->exit_code = 1;
	g_main_loop_quit(main_data->loop);
}

static gboolean
scep_main_signal_cb(gpointer user_data)
{
	ScepMain *main_data = user_data;
	main_data->signal_received = 1;
	g_message("engine: signal received, shutting down");
	g_main_loop_quit(main_data->loop);
	return G_SOURCE_CONTINUE;
}

int
main(int argc, char **argv)
{
	g_autofree gchar *registry_dir = NULL;
	g_autofree gchar *state_dir = NULL;
	g_autofree gchar *bus = NULL;
	g_autofree gchar *admin_group = NULL;
	gboolean verbose = FALSE;
	gboolean version = FALSE;
	g_autoptr(GError) error = NULL;
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(ScepEngine) engine = NULL;
	g_autoptr(ScepDbusDaemon) daemon = NULL;
	ScepMain main_data = { 0 };
	guint term_id;
	guint int_id;
	const GOptionEntry entries[] = {
		{ "registry-dir",
		  'r',
		  0,
		  G_OPTION_ARG_FILENAME,
		  &registry_dir,
		  N_("Registry directory (default /etc/scep-agent)"),
		  N_("DIR") },
		{ "state-dir",
		  's',
		  0,
		  G_OPTION_ARG_FILENAME,
		  &state_dir,
		  N_("State directory (default /var/lib/scep-agent)"),
		  N_("DIR") },
		{ "admin-group",
		  0,
		  0,
		  G_OPTION_ARG_STRING,
		  &admin_group,
		  N_("Group whose members may call the D-Bus methods besides root"),
		  N_("GROUP") },
		{ "bus",
		  'b',
		  0,
		  G_OPTION_ARG_STRING,
		  &bus,
		  N_("D-Bus bus to serve on: system (default), session or an address"),
		  N_("BUS") },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, N_("Log debug messages"), NULL },
		{ "version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Show the version"), NULL },
		{ NULL },
	};

	setlocale(LC_ALL, "");
	bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);

	context = g_option_context_new(NULL);
	g_option_context_set_summary(context,
				     _("Keeps the certificates of the registry's SCEP instances "
				       "enrolled, installed and renewed."));
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("%s\n", error->message);
		return 2;
	}
	if (version) {
		g_print("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		return 0;
	}
	if (bus == NULL)
		bus = g_strdup("system");
	if (verbose)
		g_setenv("G_MESSAGES_DEBUG", "scep-agent scep-ndes scep-registry", TRUE);
	gnutls_global_init();

	engine = scep_engine_new(registry_dir, state_dir, NULL);
	main_data.loop = g_main_loop_new(NULL, FALSE);
	term_id = g_unix_signal_add(SIGTERM, scep_main_signal_cb, &main_data);
	int_id = g_unix_signal_add(SIGINT, scep_main_signal_cb, &main_data);
	if (!scep_engine_load(engine, &error)) {
		g_printerr("scep-agent: %s\n", error->message);
		g_source_remove(term_id);
		g_source_remove(int_id);
		g_main_loop_unref(main_data.loop);
		return 1;
	}
	/* the name is taken only now that the engine has loaded: clients see the whole tree */
	daemon = scep_dbus_daemon_new(engine);
	g_signal_connect(daemon, "name-lost", G_CALLBACK(scep_main_name_lost_cb), &main_data);
	if (!scep_dbus_daemon_set_admin_group(daemon, admin_group, &error)) {
		g_printerr("scep-agent: %s\n", error->message);
		g_clear_error(&error);
		main_data.exit_code = 2;
	} else if (!scep_dbus_daemon_start(daemon, bus, &error)) {
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT)) {
			g_printerr("scep-agent: %s\n", error->message);
			main_data.exit_code = 2;
		} else {
			/* certificates are kept renewed without a bus too; under systemd
			 * (Type=dbus) the missing name still fails the start */
			g_warning("dbus: cannot serve on the %s bus, running without the D-Bus "
				  "service: %s",
				  bus,
				  error->message);
			g_clear_error(&error);
		}
	}
	if (main_data.exit_code == 0) {
		g_message("engine: running (pid %d)", (gint)getpid());
		g_main_loop_run(main_data.loop);
	}
	scep_dbus_daemon_stop(daemon);
	g_clear_object(&daemon);
	scep_engine_shutdown(engine);
	g_clear_object(&engine);
	g_source_remove(term_id);
	g_source_remove(int_id);
	g_main_loop_unref(main_data.loop);
	g_message("engine: stopped");
	gnutls_global_deinit();
	return main_data.exit_code;
}
