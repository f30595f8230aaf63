/*
 * A stand-in owner of org.scepagent.Agent1 for tests/test-data-files.sh: it parses the shipped
 * interface XML with g_dbus_node_info_new_for_xml, exports the Manager (with an ObjectManager)
 * and one Certificate object "cert0" built from that XML, and answers every method with
 * success, so that the bus policy can be tested against real calls.
 *
 *   data-files-bus-stub check XML          parse the XML and check both interfaces exist
 *   data-files-bus-stub own ADDRESS XML    own the name on the bus at ADDRESS; prints "ready"
 *                                          when exported and owned; exit 3 when the bus
 *                                          refuses the name; ends on SIGTERM or SIGINT
 *
 * Certificate.Enroll also emits StateChanged(1, 2, "stub enroll"), so a test can check that
 * signals reach unprivileged clients.
 */
#include "config.h"

#include <gio/gio.h>
#include <glib-unix.h>
#include <stdio.h>

#define STUB_BUS_NAME          "org.scepagent.Agent1"
#define STUB_MANAGER_PATH      "/org/scepagent/Agent1"
#define STUB_CERT_PATH         "/org/scepagent/Agent1/certificates/cert0"
#define STUB_MANAGER_IFACE     "org.scepagent.Agent1.Manager"
#define STUB_CERT_IFACE        "org.scepagent.Agent1.Certificate"
#define STUB_EXIT_NAME_REFUSED 3

static const gchar stub_object_manager_xml[] =
    "<node>"
    "  <interface name='org.freedesktop.DBus.ObjectManager'>"
    "    <method name='GetManagedObjects'>"
    "      <arg name='objects' direction='out' type='a{oa{sa{sv}}}'/>"
    "    </method>"
    "  </interface>"
    "</node>";

typedef struct {
	GDBusNodeInfo *node;    /* owned */
	GDBusNodeInfo *om_node; /* owned */
	GDBusConnection *connection;
} StubData;

/* the zero value of a type: false, 0, "", "/", an empty array, or a tuple of those */
static GVariant *
stub_default_value(const GVariantType *type)
{
	if (g_variant_type_is_array(type))
		return g_variant_new_array(g_variant_type_element(type), NULL, 0);
	if (g_variant_type_is_tuple(type)) {
		g_autoptr(GPtrArray) children = g_ptr_array_new();
		for (const GVariantType *t = g_variant_type_first(type); t != NULL;
		     t = g_variant_type_next(t))
			g_ptr_array_add(children, stub_default_value(t));
		return g_variant_new_tuple((GVariant **)children->pdata, children->len);
	}
	if (g_variant_type_equal(type, G_VARIANT_TYPE_BOOLEAN))
		return g_variant_new_boolean(FALSE);
	if (g_variant_type_equal(type, G_VARIANT_TYPE_STRING))
		return g_variant_new_string("");
	if (g_variant_type_equal(type, G_VARIANT_TYPE_OBJECT_PATH))
		return g_variant_new_object_path("/");
	if (g_variant_type_equal(type, G_VARIANT_TYPE_SIGNATURE))
		return g_variant_new_signature("");
	if (g_variant_type_equal(type, G_VARIANT_TYPE_BYTE))
		return g_variant_new_byte(0);
	if (g_variant_type_equal(type, G_VARIANT_TYPE_INT16))
		return g_variant_new_int16(0);
	if (g_variant_type_equal(type, G_VARIANT_TYPE_UINT16))
		return g_variant_new_uint16(0);
	if (g_variant_type_equal(type, G_VARIANT_TYPE_INT32))
		return g_variant_new_int32(0);
	if (g_variant_type_equal(type, G_VARIANT_TYPE_UINT32))
		return g_variant_new_uint32(0);
	if (g_variant_type_equal(type, G_VARIANT_TYPE_INT64))
		return g_variant_new_int64(0);
	if (g_variant_type_equal(type, G_VARIANT_TYPE_UINT64))
		return g_variant_new_uint64(0);
	if (g_variant_type_equal(type, G_VARIANT_TYPE_DOUBLE))
		return g_variant_new_double(0);
	/* a variant or anything else the XML should never use */
	return g_variant_new_variant(g_variant_new_string(""));
}

static GVariant *
stub_property_value(const gchar *interface_name, GDBusPropertyInfo *property)
{
	if (g_strcmp0(property->name, "Instance") == 0)
		return g_variant_new_string("cert0");
	if (g_strcmp0(property->name, "Version") == 0)
		return g_variant_new_string("stub");
	return stub_default_value(G_VARIANT_TYPE(property->signature));
}

/* a{sv} of every property of @iface */
static GVariant *
stub_all_properties(GDBusInterfaceInfo *iface)
{
	GVariantBuilder builder;
	g_variant_builder_init(&builder, G_VARIANT_TYPE_VARDICT);
	for (guint i = 0; iface->properties != NULL && iface->properties[i] != NULL; i++)
		g_variant_builder_add(&builder,
				      "{sv}",
				      iface->properties[i]->name,
				      stub_property_value(iface->name, iface->properties[i]));
	return g_variant_builder_end(&builder);
}

static GVariant *
stub_managed_objects(StubData *data)
{
	GDBusInterfaceInfo *manager =
	    g_dbus_node_info_lookup_interface(data->node, STUB_MANAGER_IFACE);
	GDBusInterfaceInfo *cert = g_dbus_node_info_lookup_interface(data->node, STUB_CERT_IFACE);
	GVariantBuilder objects;
	GVariantBuilder ifaces;

	g_variant_builder_init(&objects, G_VARIANT_TYPE("a{oa{sa{sv}}}"));
	g_variant_builder_init(&ifaces, G_VARIANT_TYPE("a{sa{sv}}"));
	g_variant_builder_add(&ifaces, "{s@a{sv}}", manager->name, stub_all_properties(manager));
	g_variant_builder_add(&objects, "{oa{sa{sv}}}", STUB_MANAGER_PATH, &ifaces);
	g_variant_builder_init(&ifaces, G_VARIANT_TYPE("a{sa{sv}}"));
	g_variant_builder_add(&ifaces, "{s@a{sv}}", cert->name, stub_all_properties(cert));
	g_variant_builder_add(&objects, "{oa{sa{sv}}}", STUB_CERT_PATH, &ifaces);
	return g_variant_new("(@a{oa{sa{sv}}})", g_variant_builder_end(&objects));
}

static void
stub_method_call_cb(GDBusConnection *connection,
		    const gchar *sender,
		    const gchar *object_path,
		    const gchar *interface_name,
		    const gchar *method_name,
		    GVariant *parameters,
		    GDBusMethodInvocation *invocation,
		    gpointer user_data)
{
	StubData *data = user_data;
	const GDBusMethodInfo *method = g_dbus_method_invocation_get_method_info(invocation);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariantType) out_type = NULL;
	GPtrArray *out_types;

	if (g_strcmp0(interface_name, "org.freedesktop.DBus.ObjectManager") == 0) {
		g_dbus_method_invocation_return_value(invocation, stub_managed_objects(data));
		return;
	}
	if (g_strcmp0(interface_name, STUB_CERT_IFACE) == 0 &&
	    g_strcmp0(method_name, "Enroll") == 0) {
		if (!g_dbus_connection_emit_signal(connection,
						   NULL,
						   object_path,
						   STUB_CERT_IFACE,
						   "StateChanged",
						   g_variant_new("(uus)", 1, 2, "stub enroll"),
						   &error)) {
			g_dbus_method_invocation_return_gerror(invocation, error);
			return;
		}
	}
	/* success with the zero value of every out argument */
	out_types = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_type_free);
	for (guint i = 0; method->out_args != NULL && method->out_args[i] != NULL; i++)
		g_ptr_array_add(out_types, g_variant_type_new(method->out_args[i]->signature));
	out_type = g_variant_type_new_tuple((const GVariantType *const *)out_types->pdata,
					    (gint)out_types->len);
	g_ptr_array_unref(out_types);
	g_dbus_method_invocation_return_value(invocation, stub_default_value(out_type));
}

static GVariant *
stub_get_property_cb(GDBusConnection *connection,
		     const gchar *sender,
		     const gchar *object_path,
		     const gchar *interface_name,
		     const gchar *property_name,
		     GError **error,
		     gpointer user_data)
{
	StubData *data = user_data;
	GDBusInterfaceInfo *iface = g_dbus_node_info_lookup_interface(data->node, interface_name);
	GDBusPropertyInfo *property = g_dbus_interface_info_lookup_property(iface, property_name);
	return stub_property_value(interface_name, property);
}

static const GDBusInterfaceVTable stub_vtable = {
	.method_call = stub_method_call_cb,
	.get_property = stub_get_property_cb,
};

static GDBusNodeInfo *
stub_load_xml(const gchar *path, GError **error)
{
	g_autofree gchar *xml = NULL;
	g_autoptr(GDBusNodeInfo) node = NULL;

	if (!g_file_get_contents(path, &xml, NULL, error))
		return NULL;
	node = g_dbus_node_info_new_for_xml(xml, error);
	if (node == NULL) {
		g_prefix_error(error, "%s: ", path);
		return NULL;
	}
	if (g_dbus_node_info_lookup_interface(node, STUB_MANAGER_IFACE) == NULL ||
	    g_dbus_node_info_lookup_interface(node, STUB_CERT_IFACE) == NULL) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_NOT_FOUND,
			    "%s: lacks %s or %s",
			    path,
			    STUB_MANAGER_IFACE,
			    STUB_CERT_IFACE);
		return NULL;
	}
	return g_steal_pointer(&node);
}

static gboolean
stub_register(StubData *data, GError **error)
{
	GDBusInterfaceInfo *om =
	    g_dbus_node_info_lookup_interface(data->om_node, "org.freedesktop.DBus.ObjectManager");
	if (g_dbus_connection_register_object(
		data->connection,
		STUB_MANAGER_PATH,
		g_dbus_node_info_lookup_interface(data->node, STUB_MANAGER_IFACE),
		&stub_vtable,
		data,
		NULL,
		error) == 0)
		return FALSE;
	if (g_dbus_connection_register_object(
		data->connection, STUB_MANAGER_PATH, om, &stub_vtable, data, NULL, error) == 0)
		return FALSE;
	return g_dbus_connection_register_object(
		   data->connection,
		   STUB_CERT_PATH,
		   g_dbus_node_info_lookup_interface(data->node, STUB_CERT_IFACE),
		   &stub_vtable,
		   data,
		   NULL,
		   error) != 0;
}

/* RequestName with DO_NOT_QUEUE; FALSE when the bus refuses it (policy) or it is taken */
static gboolean
stub_request_name(GDBusConnection *connection, GError **error)
{
	g_autoptr(GVariant) reply = NULL;
	guint32 result = 0;

	reply = g_dbus_connection_call_sync(connection,
					    "org.freedesktop.DBus",
					    "/org/freedesktop/DBus",
					    "org.freedesktop.DBus",
					    "RequestName",
					    g_variant_new("(su)", STUB_BUS_NAME, 4u),
					    G_VARIANT_TYPE("(u)"),
					    G_DBUS_CALL_FLAGS_NONE,
					    10000,
					    NULL,
					    error);
	if (reply == NULL)
		return FALSE;
	g_variant_get(reply, "(u)", &result);
	if (result != 1) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_EXISTS,
			    "RequestName answered %u, not primary owner",
			    result);
		return FALSE;
	}
	return TRUE;
}

static gboolean
stub_quit_cb(gpointer user_data)
{
	g_main_loop_quit(user_data);
	return G_SOURCE_CONTINUE;
}

static int
stub_own(const gchar *address, const gchar *xml_path)
{
	StubData data = { 0 };
	g_autoptr(GError) error = NULL;
	g_autoptr(GDBusConnection) connection = NULL;
	g_autoptr(GMainLoop) loop = NULL;
	guint term_id;
	guint int_id;

	data.node = stub_load_xml(xml_path, &error);
	if (data.node == NULL) {
		g_printerr("data-files-bus-stub: %s\n", error->message);
		return 1;
	}
	data.om_node = g_dbus_node_info_new_for_xml(stub_object_manager_xml, &error);
	g_assert_no_error(error);
	connection = g_dbus_connection_new_for_address_sync(
	    address,
	    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
		G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
	    NULL,
	    NULL,
	    &error);
	if (connection == NULL) {
		g_printerr(
		    "data-files-bus-stub: cannot connect to %s: %s\n", address, error->message);
		g_dbus_node_info_unref(data.node);
		g_dbus_node_info_unref(data.om_node);
		return 1;
	}
	data.connection = connection;
	/* exported before the name is taken, as the daemon does */
	if (!stub_register(&data, &error)) {
		g_printerr("data-files-bus-stub: %s\n", error->message);
		g_dbus_node_info_unref(data.node);
		g_dbus_node_info_unref(data.om_node);
		return 1;
	}
	if (!stub_request_name(connection, &error)) {
		g_printerr("data-files-bus-stub: name refused: %s\n", error->message);
		g_dbus_node_info_unref(data.node);
		g_dbus_node_info_unref(data.om_node);
		return STUB_EXIT_NAME_REFUSED;
	}
	loop = g_main_loop_new(NULL, FALSE);
	term_id = g_unix_signal_add(SIGTERM, stub_quit_cb, loop);
	int_id = g_unix_signal_add(SIGINT, stub_quit_cb, loop);
	g_print("ready\n");
	fflush(stdout);
	g_main_loop_run(loop);
	g_source_remove(term_id);
	g_source_remove(int_id);
	g_dbus_connection_flush_sync(connection, NULL, NULL);
	g_dbus_node_info_unref(data.node);
	g_dbus_node_info_unref(data.om_node);
	return 0;
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GDBusNodeInfo) node = NULL;

	if (argc == 3 && g_strcmp0(argv[1], "check") == 0) {
		node = stub_load_xml(argv[2], &error);
		if (node == NULL) {
			g_printerr("data-files-bus-stub: %s\n", error->message);
			return 1;
		}
		return 0;
	}
	if (argc == 4 && g_strcmp0(argv[1], "own") == 0)
		return stub_own(argv[2], argv[3]);
	g_printerr("usage: data-files-bus-stub check XML | own ADDRESS XML\n");
	return 2;
}
