/*
 * The floor of tests/bench-agent.sh (issue 4): the smallest GIO daemon that does what any D-Bus
 * system service of ours must do, linked with gio-unix-2.0 only (GIO, GObject, GLib). It
 * connects to a message bus, exports one object with one readable property through
 * g_dbus_connection_register_object, owns a well-known name, watches a directory with a
 * GFileMonitor and quits on SIGTERM. Its idle USS is what GLib and GIO cost a daemon before it
 * does anything of its own: scep-agent minus this is what our code costs.
 *
 *   bench-floor-daemon --bus ADDRESS --watch DIR
 *
 * Exit status 0 after SIGTERM, 1 when the bus connection, the monitor or the name fails, 2 on
 * a usage error.
 */
#include "config.h"

#include <gio/gio.h>
#include <glib-unix.h>
#include <signal.h>
#include <string.h>

#define FLOOR_BUS_NAME "org.scepagent.BenchFloor"
#define FLOOR_PATH     "/org/scepagent/BenchFloor"

/* static introspection data, as gdbus-codegen makes it for the agent (no XML parsed at start) */
static const GDBusPropertyInfo floor_version_property = {
	-1, (gchar *)"Version", (gchar *)"s", G_DBUS_PROPERTY_INFO_FLAGS_READABLE, NULL
};
static const GDBusPropertyInfo *const floor_properties[] = { &floor_version_property, NULL };
static const GDBusInterfaceInfo floor_interface = {
	-1,   (gchar *)"org.scepagent.BenchFloor1",   NULL,
	NULL, (GDBusPropertyInfo **)floor_properties, NULL
};

typedef struct {
	GMainLoop *loop;
	gint exit_code;
	guint changes;
} Floor;

static GVariant *
floor_get_property(GDBusConnection *connection,
		   const gchar *sender,
		   const gchar *object_path,
		   const gchar *interface_name,
		   const gchar *property_name,
		   GError **error,
		   gpointer user_data)
{
	return g_variant_new_string(PACKAGE_VERSION);
}

static const GDBusInterfaceVTable floor_vtable = { NULL, floor_get_property, NULL, { NULL } };

static void
floor_name_lost_cb(GDBusConnection *connection, const gchar *name, gpointer user_data)
{
	Floor *floor = user_data;
	g_printerr("bench-floor-daemon: name %s lost or not acquired\n", name);
	floor->exit_code = 1;
	g_main_loop_quit(floor->loop);
}

static void
floor_changed_cb(GFileMonitor *monitor,
		 GFile *file,
		 GFile *other_file,
		 GFileMonitorEvent event_type,
		 gpointer user_data)
{
	Floor *floor = user_data;
	floor->changes++;
}

static gboolean
floor_signal_cb(gpointer user_data)
{
	Floor *floor = user_data;
	g_main_loop_quit(floor->loop);
	return G_SOURCE_CONTINUE;
}

int
main(int argc, char **argv)
{
	const gchar *address = NULL;
	const gchar *watch = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GDBusConnection) connection = NULL;
	g_autoptr(GFile) dir = NULL;
	g_autoptr(GFileMonitor) monitor = NULL;
	Floor floor = { 0 };
	guint object_id;
	guint owner_id;
	guint term_id;

	for (gint i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--bus") == 0)
			address = argv[i + 1];
		else if (strcmp(argv[i], "--watch") == 0)
			watch = argv[i + 1];
	}
	if (address == NULL || watch == NULL || argc != 5) {
		g_printerr("usage: bench-floor-daemon --bus ADDRESS --watch DIR\n");
		return 2;
	}

	connection = g_dbus_connection_new_for_address_sync(
	    address,
	    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
		G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
	    NULL,
	    NULL,
	    &error);
	if (connection == NULL) {
		g_printerr("bench-floor-daemon: %s: %s\n", address, error->message);
		return 1;
	}
	/* a closed connection loses the name, which ends the loop with status 1 */
	g_dbus_connection_set_exit_on_close(connection, FALSE);

	dir = g_file_new_for_path(watch);
	monitor = g_file_monitor_directory(dir, G_FILE_MONITOR_WATCH_MOVES, NULL, &error);
	if (monitor == NULL) {
		g_printerr("bench-floor-daemon: %s: %s\n", watch, error->message);
		return 1;
	}

	floor.loop = g_main_loop_new(NULL, FALSE);
	g_signal_connect(monitor, "changed", G_CALLBACK(floor_changed_cb), &floor);
	term_id = g_unix_signal_add(SIGTERM, floor_signal_cb, &floor);
	object_id = g_dbus_connection_register_object(connection,
						      FLOOR_PATH,
						      (GDBusInterfaceInfo *)&floor_interface,
						      &floor_vtable,
						      &floor,
						      NULL,
						      &error);
	if (object_id == 0) {
		g_printerr("bench-floor-daemon: %s\n", error->message);
		floor.exit_code = 1;
		owner_id = 0;
	} else {
		owner_id = g_bus_own_name_on_connection(connection,
							FLOOR_BUS_NAME,
							G_BUS_NAME_OWNER_FLAGS_NONE,
							NULL,
							floor_name_lost_cb,
							&floor,
							NULL);
		g_main_loop_run(floor.loop);
	}

	if (owner_id != 0)
		g_bus_unown_name(owner_id);
	if (object_id != 0)
		g_dbus_connection_unregister_object(connection, object_id);
	g_file_monitor_cancel(monitor);
	g_source_remove(term_id);
	if (!g_dbus_connection_flush_sync(connection, NULL, &error) ||
	    !g_dbus_connection_close_sync(connection, NULL, &error)) {
		/* the bus may be gone already: nothing left to tell it */
		g_clear_error(&error);
	}
	g_main_loop_unref(floor.loop);
	return floor.exit_code;
}
