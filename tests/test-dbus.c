/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The D-Bus API end to end: a private dbus-daemon started here (a session-type bus that lets
 * everything through, or a system-type bus with the shipped policy data/org.scepagent.Agent1.conf),
 * the real scep-agent (argv[1]) on it over a temporary registry and our SCEP responder, and
 * clients that use only the interface XML: the generated ScepDbus proxies in this process,
 * scepctl (argv[2]) and, as nobody (setpriv), scepctl and gdbus. argv[3] is the shipped policy.
 * Needs root (to run clients as nobody), dbus-daemon, setpriv and gdbus; a missing one is a
 * failure with a message.
 */
#include "config.h"

#include <fcntl.h>
#include <gio/gunixinputstream.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scep-dbus-generated.h"
#include "scep-test-peers.h"
#include "scep-test-util.h"

#define WAIT_SECONDS 60
#define BUS_NAME     "org.scepagent.Agent1"
#define ROOT_PATH    "/org/scepagent/Agent1"
#define CERT_PATH(n) "/org/scepagent/Agent1/certificates/" n
#define ERROR_PREFIX "org.scepagent.Agent1.Error."

static const gchar *agent_path;
static const gchar *scepctl_path;
static const gchar *policy_path;

typedef enum {
	BUS_OPEN,   /* session-type: every call reaches the daemon, which checks the caller */
	BUS_POLICY, /* system-type with the shipped policy */
} BusKind;

typedef struct {
	BusKind bus;
	gboolean responder;
	const gchar *admin_group; /* nullable: scep-agent --admin-group */
} Variant;

static const Variant open_plain = { BUS_OPEN, FALSE, NULL };
static const Variant open_responder = { BUS_OPEN, TRUE, NULL };
static const Variant policy_plain = { BUS_POLICY, FALSE, NULL };
/* nobody's primary group on Debian */
static const Variant open_admin_group = { BUS_OPEN, FALSE, "nogroup" };

typedef struct {
	guint old_state;
	guint new_state;
	gchar *instance;
} Transition;

typedef struct {
	gchar *tmp;
	gchar *registry_dir;
	gchar *state_dir;
	gchar *log_path;
	const gchar *admin_group;
	gchar *address;
	GPid bus_pid;
	GPid agent_pid;
	ScepTestResponder *responder;
	GDBusConnection *connection;
	GDBusObjectManager *manager;
	GArray *transitions; /* of Transition */
} Fixture;

/* ---- helpers ---- */

static gchar *
agent_log(Fixture *fx)
{
	gchar *log = NULL;
	if (!g_file_get_contents(fx->log_path, &log, NULL, NULL))
		return g_strdup("(no log)");
	return log;
}

#define WAIT_FOR(fx, cond)                                                                         \
	G_STMT_START                                                                               \
	{                                                                                          \
		gint64 end_ = g_get_monotonic_time() + WAIT_SECONDS * G_USEC_PER_SEC;              \
		while (!(cond)) {                                                                  \
			if (g_get_monotonic_time() > end_) {                                       \
				g_autofree gchar *log_ = agent_log(fx);                            \
				g_printerr("%s", log_);                                            \
				g_error("timed out waiting for %s", #cond);                        \
			}                                                                          \
			if (!g_main_context_iteration(NULL, FALSE))                                \
				g_usleep(10 * 1000);                                               \
		}                                                                                  \
	}                                                                                          \
	G_STMT_END

static void
write_file(const gchar *path, const gchar *text)
{
	g_autoptr(GError) error = NULL;
	g_file_set_contents(path, text, -1, &error);
	g_assert_no_error(error);
}

static gchar *
read_file(const gchar *path)
{
	gchar *text = NULL;
	if (!g_file_get_contents(path, &text, NULL, NULL))
		return g_strdup("");
	return text;
}

/* pushes a drop-in file registry.d/@name */
static void
push_dropin(Fixture *fx, const gchar *name, const gchar *text)
{
	g_autofree gchar *path = g_build_filename(fx->registry_dir, "registry.d", name, NULL);
	write_file(path, text);
}

static void
remove_dropin(Fixture *fx, const gchar *name)
{
	g_autofree gchar *path = g_build_filename(fx->registry_dir, "registry.d", name, NULL);
	g_assert_cmpint(g_unlink(path), ==, 0);
}

/* the keys of an enabled instance against the responder */
static gchar *
enabled_instance(Fixture *fx, guint n)
{
	return g_strdup_printf("network.scepclient.cert%u.enabled=true\n"
			       "network.scepclient.cert%u.scepurl=%s\n"
			       "network.scepclient.cert%u.crypt_password=sesame\n"
			       "network.scepclient.cert%u.subjectaltname=dbus%u.example.test\n",
			       n,
			       n,
			       scep_test_responder_get_url(fx->responder),
			       n,
			       n,
			       n);
}

static gchar *
disabled_instance(guint n)
{
	return g_strdup_printf("network.scepclient.cert%u.enabled=false\n"
			       "network.scepclient.cert%u.scepurl=http://127.0.0.1:9/scep\n",
			       n,
			       n);
}

static void
bus_start(Fixture *fx, BusKind kind)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *conf_path = g_build_filename(fx->tmp, "bus.conf", NULL);
	g_autofree gchar *socket = g_build_filename(fx->tmp, "bus", NULL);
	g_autofree gchar *conf = NULL;
	g_autofree gchar *policy = NULL;
	g_autoptr(GInputStream) stream = NULL;
	g_autoptr(GDataInputStream) data = NULL;
	gint out_fd = -1;
	const gchar *argv[] = {
		"dbus-daemon", "--nofork", "--print-address=1", NULL, NULL,
	};
	g_autofree gchar *conf_arg = g_strdup_printf("--config-file=%s", conf_path);

	if (kind == BUS_OPEN) {
		conf = g_strdup_printf(
		    "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration "
		    "1.0//EN\" \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
		    "<busconfig><type>session</type><listen>unix:path=%s</listen>"
		    "<auth>EXTERNAL</auth><policy context=\"default\"><allow user=\"*\"/>"
		    "<allow send_destination=\"*\" eavesdrop=\"true\"/><allow eavesdrop=\"true\"/>"
		    "<allow own=\"*\"/></policy></busconfig>\n",
		    socket);
	} else {
		policy = g_canonicalize_filename(policy_path, NULL);
		/* the default policy of Debian's system.conf, then ours */
		conf = g_strdup_printf(
		    "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration "
		    "1.0//EN\" \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
		    "<busconfig><type>system</type><listen>unix:path=%s</listen>"
		    "<auth>EXTERNAL</auth>"
		    "<policy context=\"default\"><allow user=\"*\"/><deny own=\"*\"/>"
		    "<deny send_type=\"method_call\"/><allow send_type=\"signal\"/>"
		    "<allow send_requested_reply=\"true\" send_type=\"method_return\"/>"
		    "<allow send_requested_reply=\"true\" send_type=\"error\"/>"
		    "<allow receive_type=\"method_call\"/><allow receive_type=\"method_return\"/>"
		    "<allow receive_type=\"error\"/><allow receive_type=\"signal\"/>"
		    "<allow send_destination=\"org.freedesktop.DBus\" "
		    "send_interface=\"org.freedesktop.DBus\"/>"
		    "<allow send_destination=\"org.freedesktop.DBus\" "
		    "send_interface=\"org.freedesktop.DBus.Introspectable\"/>"
		    "<allow send_destination=\"org.freedesktop.DBus\" "
		    "send_interface=\"org.freedesktop.DBus.Properties\"/>"
		    "</policy><include>%s</include></busconfig>\n",
		    socket,
		    policy);
	}
	write_file(conf_path, conf);
	argv[3] = conf_arg;
	g_spawn_async_with_pipes(NULL,
				 (gchar **)argv,
				 NULL,
				 G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH,
				 scep_test_die_with_parent,
				 NULL,
				 &fx->bus_pid,
				 NULL,
				 &out_fd,
				 NULL,
				 &error);
	g_assert_no_error(error);
	stream = g_unix_input_stream_new(out_fd, TRUE);
	data = g_data_input_stream_new(stream);
	fx->address = g_data_input_stream_read_line(data, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(fx->address);
	fx->connection = g_dbus_connection_new_for_address_sync(
	    fx->address,
	    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
		G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
	    NULL,
	    NULL,
	    &error);
	g_assert_no_error(error);
}

static gboolean
name_has_owner(Fixture *fx)
{
	g_autoptr(GVariant) reply = NULL;
	gboolean owned = FALSE;
	reply = g_dbus_connection_call_sync(fx->connection,
					    "org.freedesktop.DBus",
					    "/org/freedesktop/DBus",
					    "org.freedesktop.DBus",
					    "NameHasOwner",
					    g_variant_new("(s)", BUS_NAME),
					    G_VARIANT_TYPE("(b)"),
					    G_DBUS_CALL_FLAGS_NONE,
					    -1,
					    NULL,
					    NULL);
	if (reply != NULL)
		g_variant_get(reply, "(b)", &owned);
	return owned;
}

static void
transition_clear(gpointer data)
{
	Transition *t = data;
	g_free(t->instance);
}

static void
state_changed_cb(GDBusObjectManagerClient *manager,
		 GDBusObjectProxy *object,
		 GDBusProxy *proxy,
		 const gchar *sender,
		 const gchar *signal_name,
		 GVariant *parameters,
		 gpointer user_data)
{
	Fixture *fx = user_data;
	Transition t = { 0 };
	const gchar *reason = NULL;
	if (g_strcmp0(signal_name, "StateChanged") != 0)
		return;
	g_variant_get(parameters, "(uu&s)", &t.old_state, &t.new_state, &reason);
	t.instance = scep_dbus_certificate_dup_instance(SCEP_DBUS_CERTIFICATE(proxy));
	g_array_append_val(fx->transitions, t);
}

/* starts scep-agent on the bus and waits until it owns the name; then the object manager */
static void
agent_start(Fixture *fx)
{
	g_autoptr(GError) error = NULL;
	const gchar *argv[] = { agent_path,
				"--bus",
				fx->address,
				"--registry-dir",
				fx->registry_dir,
				"--state-dir",
				fx->state_dir,
				"--verbose",
				fx->admin_group != NULL ? "--admin-group" : NULL,
				fx->admin_group,
				NULL };
	gint log_fd = g_open(fx->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	g_assert_cmpint(log_fd, >=, 0);
	g_spawn_async_with_fds(NULL,
			       (gchar **)argv,
			       NULL,
			       G_SPAWN_DO_NOT_REAP_CHILD,
			       scep_test_die_with_parent,
			       NULL,
			       &fx->agent_pid,
			       -1,
			       log_fd,
			       log_fd,
			       &error);
	g_assert_no_error(error);
	close(log_fd);
	WAIT_FOR(fx, name_has_owner(fx));
	fx->manager =
	    scep_dbus_object_manager_client_new_sync(fx->connection,
						     G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_NONE,
						     BUS_NAME,
						     ROOT_PATH,
						     NULL,
						     &error);
	g_assert_no_error(error);
	g_signal_connect(fx->manager, "interface-proxy-signal", G_CALLBACK(state_changed_cb), fx);
}

static void
fixture_set_up(Fixture *fx, gconstpointer data)
{
	const Variant *variant = data;
	static const gchar *const args[] = { "--challenge", "sesame", NULL };
	g_autoptr(GError) error = NULL;
	g_autofree gchar *registry = NULL;
	g_autofree gchar *dropins = NULL;

	fx->admin_group = variant->admin_group;
	if (getuid() != 0)
		g_error("test-dbus needs root (clients run as nobody through setpriv)");
	for (guint i = 0; i < 3; i++) {
		const gchar *tools[] = { "dbus-daemon", "setpriv", "gdbus" };
		g_autofree gchar *found = g_find_program_in_path(tools[i]);
		if (found == NULL)
			g_error("%s is missing (Debian packages dbus, util-linux, libglib2.0-bin)",
				tools[i]);
	}
	fx->tmp = g_dir_make_tmp("test-dbus-XXXXXX", &error);
	g_assert_no_error(error);
	/* nobody must reach the bus socket */
	g_assert_cmpint(g_chmod(fx->tmp, 0755), ==, 0);
	fx->registry_dir = g_build_filename(fx->tmp, "registry", NULL);
	fx->state_dir = g_build_filename(fx->tmp, "state", NULL);
	fx->log_path = g_build_filename(fx->tmp, "agent.log", NULL);
	dropins = g_build_filename(fx->registry_dir, "registry.d", NULL);
	g_assert_cmpint(g_mkdir_with_parents(dropins, 0700), ==, 0);
	registry = g_build_filename(fx->registry_dir, "registry", NULL);
	write_file(registry, "");
	fx->transitions = g_array_new(FALSE, TRUE, sizeof(Transition));
	g_array_set_clear_func(fx->transitions, transition_clear);
	if (variant->responder) {
		fx->responder = scep_test_responder_start(args, &error);
		g_assert_no_error(error);
	}
	bus_start(fx, variant->bus);
}

static void
kill_wait(GPid *pid, gint sig)
{
	if (*pid == 0)
		return;
	kill(*pid, sig);
	waitpid(*pid, NULL, 0);
	g_spawn_close_pid(*pid);
	*pid = 0;
}

static void
fixture_tear_down(Fixture *fx, gconstpointer data)
{
	if (fx->tmp == NULL)
		return;
	g_clear_object(&fx->manager);
	kill_wait(&fx->agent_pid, SIGTERM);
	if (fx->connection != NULL)
		g_dbus_connection_close_sync(fx->connection, NULL, NULL);
	g_clear_object(&fx->connection);
	kill_wait(&fx->bus_pid, SIGTERM);
	g_clear_pointer(&fx->responder, scep_test_responder_free);
	if (fx->tmp != NULL) {
		g_autofree gchar *cmd = g_strdup_printf("rm -rf '%s'", fx->tmp);
		g_assert_cmpint(system(cmd), ==, 0);
	}
	g_clear_pointer(&fx->transitions, g_array_unref);
	g_free(fx->tmp);
	g_free(fx->registry_dir);
	g_free(fx->state_dir);
	g_free(fx->log_path);
	g_free(fx->address);
}

/* (transfer full) (nullable) the certificate proxy of @instance */
static ScepDbusCertificate *
get_cert(Fixture *fx, const gchar *instance)
{
	g_autofree gchar *path = g_strconcat(CERT_PATH(""), instance, NULL);
	GDBusInterface *iface = g_dbus_object_manager_get_interface(
	    fx->manager, path, "org.scepagent.Agent1.Certificate");
	return iface != NULL ? SCEP_DBUS_CERTIFICATE(iface) : NULL;
}

static gboolean
has_cert(Fixture *fx, const gchar *instance)
{
	g_autoptr(ScepDbusCertificate) cert = get_cert(fx, instance);
	return cert != NULL;
}

static gboolean
cert_in_state(Fixture *fx, const gchar *instance, guint state)
{
	g_autoptr(ScepDbusCertificate) cert = get_cert(fx, instance);
	return cert != NULL && scep_dbus_certificate_get_state(cert) == state;
}

static guint
count_new_state(Fixture *fx, const gchar *instance, guint state)
{
	guint n = 0;
	for (guint i = 0; i < fx->transitions->len; i++) {
		Transition *t = &g_array_index(fx->transitions, Transition, i);
		if (g_strcmp0(t->instance, instance) == 0 && t->new_state == state)
			n++;
	}
	return n;
}

static GVariant *
no_options(void)
{
	return g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0);
}

static void
assert_dbus_error(const GError *error, const gchar *name)
{
	g_autofree gchar *remote = NULL;
	g_assert_nonnull(error);
	remote = g_dbus_error_get_remote_error(error);
	if (g_strcmp0(remote, name) != 0)
		g_error("expected %s, got %s: %s", name, remote, error->message);
}

/* runs a program (as nobody when asked), returns its exit status; stdout in *@out */
static gint
run(gboolean as_nobody, const gchar *const *args, gchar **out)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *err = NULL;
	gint status = 0;
	if (as_nobody) {
		g_ptr_array_add(argv, (gpointer) "setpriv");
		g_ptr_array_add(argv, (gpointer) "--reuid=nobody");
		g_ptr_array_add(argv, (gpointer) "--regid=nogroup");
		g_ptr_array_add(argv, (gpointer) "--clear-groups");
		g_ptr_array_add(argv, (gpointer) "--");
	}
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	g_ptr_array_add(argv, NULL);
	g_spawn_sync(NULL,
		     (gchar **)argv->pdata,
		     NULL,
		     G_SPAWN_SEARCH_PATH,
		     NULL,
		     NULL,
		     out,
		     &err,
		     &status,
		     &error);
	g_assert_no_error(error);
	g_test_message("%s -> %d\nstdout: %s\nstderr: %s",
		       args[0],
		       WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		       out != NULL && *out != NULL ? *out : "",
		       err);
	g_assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* ---- objects ---- */

static void
test_objects_push_and_remove(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *text = disabled_instance(3);
	g_autoptr(ScepDbusCertificate) cert = NULL;

	agent_start(fx);
	g_assert_false(has_cert(fx, "cert3"));
	push_dropin(fx, "50-cert3", text);
	WAIT_FOR(fx, has_cert(fx, "cert3"));
	cert = get_cert(fx, "cert3");
	g_assert_cmpstr(scep_dbus_certificate_get_instance(cert), ==, "cert3");
	WAIT_FOR(fx, scep_dbus_certificate_get_state(cert) == 0);
	g_assert_cmpstr(scep_dbus_certificate_get_state_name(cert), ==, "disabled");
	g_assert_false(scep_dbus_certificate_get_enabled(cert));
	remove_dropin(fx, "50-cert3");
	WAIT_FOR(fx, !has_cert(fx, "cert3"));
}

/* a call to the agent at @path, synchronously */
static GVariant *
call_agent(Fixture *fx,
	   const gchar *path,
	   const gchar *iface,
	   const gchar *method,
	   GVariant *args,
	   GError **error)
{
	return g_dbus_connection_call_sync(fx->connection,
					   BUS_NAME,
					   path,
					   iface,
					   method,
					   args,
					   NULL,
					   G_DBUS_CALL_FLAGS_NONE,
					   -1,
					   NULL,
					   error);
}

/* the objects are made on demand from the profiles: introspection, Get and GetAll work as for
 * any exported object */
static void
test_objects_introspect_and_properties(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *text = disabled_instance(3);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) xml = NULL;
	g_autoptr(GVariant) parent = NULL;
	g_autoptr(GVariant) all = NULL;
	g_autoptr(GVariant) props = NULL;
	g_autoptr(GVariant) one = NULL;
	g_autoptr(GVariant) value = NULL;
	g_autoptr(GVariant) missing = NULL;
	g_autoptr(GDBusNodeInfo) node = NULL;
	const gchar *body;

	push_dropin(fx, "50-cert3", text);
	agent_start(fx);
	WAIT_FOR(fx, has_cert(fx, "cert3"));

	xml = call_agent(fx,
			 CERT_PATH("cert3"),
			 "org.freedesktop.DBus.Introspectable",
			 "Introspect",
			 NULL,
			 &error);
	g_assert_no_error(error);
	g_variant_get(xml, "(&s)", &body);
	node = g_dbus_node_info_new_for_xml(body, &error);
	g_assert_no_error(error);
	g_assert_nonnull(
	    g_dbus_node_info_lookup_interface(node, "org.scepagent.Agent1.Certificate"));

	/* the parent lists the instance as a child node */
	parent = call_agent(fx,
			    "/org/scepagent/Agent1/certificates",
			    "org.freedesktop.DBus.Introspectable",
			    "Introspect",
			    NULL,
			    &error);
	g_assert_no_error(error);
	g_variant_get(parent, "(&s)", &body);
	g_assert_nonnull(strstr(body, "<node name=\"cert3\""));

	all = call_agent(fx,
			 CERT_PATH("cert3"),
			 "org.freedesktop.DBus.Properties",
			 "GetAll",
			 g_variant_new("(s)", "org.scepagent.Agent1.Certificate"),
			 &error);
	g_assert_no_error(error);
	props = g_variant_get_child_value(all, 0);
	g_assert_cmpuint(g_variant_n_children(props), ==, 22);
	value = g_variant_lookup_value(props, "Instance", G_VARIANT_TYPE_STRING);
	g_assert_nonnull(value);
	g_assert_cmpstr(g_variant_get_string(value, NULL), ==, "cert3");
	g_clear_pointer(&value, g_variant_unref);
	value = g_variant_lookup_value(props, "NotAfter", G_VARIANT_TYPE_UINT64);
	g_assert_nonnull(value);
	g_assert_cmpuint(g_variant_get_uint64(value), ==, 0);
	g_clear_pointer(&value, g_variant_unref);

	one = call_agent(fx,
			 CERT_PATH("cert3"),
			 "org.freedesktop.DBus.Properties",
			 "Get",
			 g_variant_new("(ss)", "org.scepagent.Agent1.Certificate", "StateName"),
			 &error);
	g_assert_no_error(error);
	g_variant_get(one, "(v)", &value);
	g_assert_cmpstr(g_variant_get_string(value, NULL), ==, "disabled");

	/* an interface the object does not have, and an instance that does not exist */
	missing = call_agent(fx,
			     CERT_PATH("cert3"),
			     "org.freedesktop.DBus.Properties",
			     "Get",
			     g_variant_new("(ss)", "org.scepagent.Agent1.Certificate", "Nope"),
			     &error);
	g_assert_null(missing);
	g_assert_error(error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
	g_clear_error(&error);
	missing = call_agent(fx,
			     CERT_PATH("cert8"),
			     "org.freedesktop.DBus.Properties",
			     "GetAll",
			     g_variant_new("(s)", "org.scepagent.Agent1.Certificate"),
			     &error);
	g_assert_null(missing);
	g_assert_nonnull(error);
}

static void
test_manager_properties(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *text = disabled_instance(0);
	g_autoptr(ScepDbusManager) manager = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) summary = NULL;
	guint disabled = 99;
	guint total = 0;
	GVariantIter iter;
	const gchar *name;
	guint count;

	push_dropin(fx, "50-cert0", text);
	agent_start(fx);
	manager = scep_dbus_manager_proxy_new_sync(
	    fx->connection, G_DBUS_PROXY_FLAGS_NONE, BUS_NAME, ROOT_PATH, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(scep_dbus_manager_get_version(manager), ==, PACKAGE_VERSION);
	g_assert_cmpstr(scep_dbus_manager_get_registry_directory(manager), ==, fx->registry_dir);
	g_assert_cmpstr(scep_dbus_manager_get_state_directory(manager), ==, fx->state_dir);
	summary = scep_dbus_manager_dup_summary(manager);
	g_assert_nonnull(summary);
	g_variant_iter_init(&iter, summary);
	while (g_variant_iter_next(&iter, "{&su}", &name, &count)) {
		total += count;
		if (g_strcmp0(name, "disabled") == 0)
			disabled = count;
	}
	g_assert_cmpuint(g_variant_n_children(summary), ==, 11);
	g_assert_cmpuint(disabled, ==, 1);
	g_assert_cmpuint(total, ==, 1);
}

/* ---- an enrollment: StateChanged in order, then the properties ---- */

static void
test_enroll_state_changed(Fixture *fx, gconstpointer data)
{
	static const guint expected[] = { 2, 3, 4, 5, 7 }; /* fetching-ca .. valid */
	g_autofree gchar *text = NULL;
	g_autoptr(ScepDbusCertificate) cert = NULL;
	guint first = G_MAXUINT;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	agent_start(fx);
	text = enabled_instance(fx, 0);
	push_dropin(fx, "50-cert0", text);
	WAIT_FOR(fx, count_new_state(fx, "cert0", 7) + count_new_state(fx, "cert0", 10) > 0);
	/* the same sequence as the profile tests expect, each old state the previous new one */
	for (guint i = 0; i < fx->transitions->len; i++) {
		Transition *t = &g_array_index(fx->transitions, Transition, i);
		if (g_strcmp0(t->instance, "cert0") == 0 && t->new_state == expected[0]) {
			first = i;
			break;
		}
	}
	g_assert_cmpuint(first, !=, G_MAXUINT);
	g_assert_cmpuint(fx->transitions->len - first, >=, G_N_ELEMENTS(expected));
	for (guint i = 0; i < G_N_ELEMENTS(expected); i++) {
		Transition *t = &g_array_index(fx->transitions, Transition, first + i);
		g_assert_cmpuint(t->new_state, ==, expected[i]);
		if (i > 0)
			g_assert_cmpuint(t->old_state, ==, expected[i - 1]);
	}

	cert = get_cert(fx, "cert0");
	g_assert_nonnull(cert);
	g_assert_cmpuint(scep_dbus_certificate_get_state(cert), ==, 7);
	g_assert_cmpstr(scep_dbus_certificate_get_state_name(cert), ==, "valid");
	g_assert_true(scep_dbus_certificate_get_enabled(cert));
	g_assert_nonnull(strstr(scep_dbus_certificate_get_subject(cert), "dbus0.example.test"));
	g_assert_cmpstr(scep_dbus_certificate_get_issuer(cert), !=, "");
	g_assert_cmpstr(scep_dbus_certificate_get_serial(cert), !=, "");
	g_assert_cmpuint(scep_dbus_certificate_get_not_before(cert), >, 0);
	g_assert_cmpuint(scep_dbus_certificate_get_not_after(cert), >, (guint64)now);
	g_assert_cmpuint(scep_dbus_certificate_get_renewal_time(cert),
			 >,
			 scep_dbus_certificate_get_not_before(cert));
	g_assert_cmpuint(scep_dbus_certificate_get_renewal_time(cert),
			 <,
			 scep_dbus_certificate_get_not_after(cert));
	g_assert_cmpuint(scep_dbus_certificate_get_last_attempt(cert), >=, (guint64)now - 5);
	g_assert_cmpstr(scep_dbus_certificate_get_last_error(cert), ==, "");
	g_assert_cmpstr(scep_dbus_certificate_get_last_error_name(cert), ==, "");
	g_assert_cmpstr(scep_dbus_certificate_get_pending_transaction_id(cert), ==, "");
	g_assert_nonnull(strchr(scep_dbus_certificate_get_ca_fingerprint(cert), ':'));
	g_assert_true(
	    g_str_has_prefix(scep_dbus_certificate_get_certificate_path(cert), fx->state_dir));
	g_assert_true(
	    g_file_test(scep_dbus_certificate_get_certificate_path(cert), G_FILE_TEST_IS_REGULAR));
	g_assert_true(
	    g_file_test(scep_dbus_certificate_get_key_path(cert), G_FILE_TEST_IS_REGULAR));
	g_assert_true(
	    g_file_test(scep_dbus_certificate_get_chain_path(cert), G_FILE_TEST_IS_REGULAR));
}

static void
test_enroll_failure_last_error(Fixture *fx, gconstpointer data)
{
	g_autoptr(ScepDbusCertificate) cert = NULL;
	g_autoptr(GError) error = NULL;
	GVariantBuilder options;
	/* nothing listens on port 1 */
	push_dropin(fx,
		    "50-cert1",
		    "network.scepclient.cert1.enabled=true\n"
		    "network.scepclient.cert1.scepurl=http://127.0.0.1:1/scep\n"
		    "network.scepclient.cert1.crypt_password=sesame\n"
		    "network.scepclient.cert1.subjectaltname=fail.example.test\n");
	agent_start(fx);
	WAIT_FOR(fx, cert_in_state(fx, "cert1", 10));
	cert = get_cert(fx, "cert1");
	g_assert_cmpstr(scep_dbus_certificate_get_state_name(cert), ==, "failed");
	g_assert_cmpstr(scep_dbus_certificate_get_last_error(cert), !=, "");
	g_assert_cmpstr(scep_dbus_certificate_get_last_error_name(cert), ==, "network");
	g_assert_cmpuint(scep_dbus_certificate_get_attempt(cert), >=, 1);
	g_assert_cmpuint(scep_dbus_certificate_get_next_attempt(cert), >, 0);
	g_assert_cmpstr(scep_dbus_certificate_get_subject(cert), ==, "");
	g_assert_cmpuint(scep_dbus_certificate_get_not_after(cert), ==, 0);

	/* waiting for a renewal that fails returns the enrollment's error */
	g_variant_builder_init(&options, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add(&options, "{sv}", "wait", g_variant_new_boolean(TRUE));
	g_assert_false(scep_dbus_certificate_call_renew_sync(cert,
							     g_variant_builder_end(&options),
							     G_DBUS_CALL_FLAGS_NONE,
							     WAIT_SECONDS * 1000,
							     NULL,
							     &error));
	assert_dbus_error(error, ERROR_PREFIX "Failed");
}

/* ---- bad calls ---- */

static void
test_error_disabled(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *text = disabled_instance(0);
	g_autoptr(ScepDbusCertificate) cert = NULL;
	g_autoptr(GError) error = NULL;
	push_dropin(fx, "50-cert0", text);
	agent_start(fx);
	WAIT_FOR(fx, cert_in_state(fx, "cert0", 0));
	cert = get_cert(fx, "cert0");
	g_assert_false(scep_dbus_certificate_call_enroll_sync(
	    cert, no_options(), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error));
	assert_dbus_error(error, ERROR_PREFIX "Disabled");
}

static void
test_error_unconfigured(Fixture *fx, gconstpointer data)
{
	g_autoptr(ScepDbusCertificate) cert = NULL;
	g_autoptr(GError) error = NULL;
	/* enabled without a server URL */
	push_dropin(fx, "50-cert0", "network.scepclient.cert0.enabled=true\n");
	agent_start(fx);
	WAIT_FOR(fx, cert_in_state(fx, "cert0", 1));
	cert = get_cert(fx, "cert0");
	g_assert_cmpstr(scep_dbus_certificate_get_reason(cert), !=, "");
	g_assert_false(scep_dbus_certificate_call_renew_sync(
	    cert, no_options(), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error));
	assert_dbus_error(error, ERROR_PREFIX "Unconfigured");
}

static void
test_error_bad_options(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *text = disabled_instance(0);
	g_autoptr(ScepDbusCertificate) cert = NULL;
	g_autoptr(ScepDbusManager) manager = NULL;
	g_autoptr(GError) error = NULL;
	GVariantBuilder options;

	push_dropin(fx, "50-cert0", text);
	agent_start(fx);
	WAIT_FOR(fx, has_cert(fx, "cert0"));
	cert = get_cert(fx, "cert0");
	/* an unknown option */
	g_variant_builder_init(&options, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add(&options, "{sv}", "force", g_variant_new_boolean(TRUE));
	g_assert_false(scep_dbus_certificate_call_enroll_sync(
	    cert, g_variant_builder_end(&options), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error));
	assert_dbus_error(error, ERROR_PREFIX "InvalidArgument");
	g_clear_error(&error);
	/* a known option of the wrong type */
	g_variant_builder_init(&options, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add(&options, "{sv}", "wait", g_variant_new_string("yes"));
	g_assert_false(scep_dbus_certificate_call_renew_sync(
	    cert, g_variant_builder_end(&options), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error));
	assert_dbus_error(error, ERROR_PREFIX "InvalidArgument");
	g_clear_error(&error);
	/* "wait" is not an option of Reload */
	manager = scep_dbus_manager_proxy_new_sync(fx->connection,
						   G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES,
						   BUS_NAME,
						   ROOT_PATH,
						   NULL,
						   &error);
	g_assert_no_error(error);
	g_variant_builder_init(&options, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add(&options, "{sv}", "wait", g_variant_new_boolean(TRUE));
	g_assert_false(scep_dbus_manager_call_reload_sync(
	    manager, g_variant_builder_end(&options), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error));
	assert_dbus_error(error, ERROR_PREFIX "InvalidArgument");
}

static void
test_error_unknown_instance(Fixture *fx, gconstpointer data)
{
	g_autoptr(ScepDbusCertificate) cert = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *remote = NULL;
	agent_start(fx);
	cert = scep_dbus_certificate_proxy_new_sync(fx->connection,
						    G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES,
						    BUS_NAME,
						    CERT_PATH("cert9"),
						    NULL,
						    &error);
	g_assert_no_error(error);
	g_assert_false(scep_dbus_certificate_call_enroll_sync(
	    cert, no_options(), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error));
	remote = g_dbus_error_get_remote_error(error);
	g_assert_true(g_strcmp0(remote, "org.freedesktop.DBus.Error.UnknownObject") == 0 ||
		      g_strcmp0(remote, "org.freedesktop.DBus.Error.UnknownMethod") == 0);
}

static GVariant *
keys_dict(const gchar *const *pairs)
{
	GVariantBuilder builder;
	g_variant_builder_init(&builder, G_VARIANT_TYPE("a{ss}"));
	for (guint i = 0; pairs[i] != NULL; i += 2)
		g_variant_builder_add(&builder, "{ss}", pairs[i], pairs[i + 1]);
	return g_variant_builder_end(&builder);
}

static ScepDbusManager *
manager_proxy(Fixture *fx)
{
	g_autoptr(GError) error = NULL;
	ScepDbusManager *manager =
	    scep_dbus_manager_proxy_new_sync(fx->connection,
					     G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES,
					     BUS_NAME,
					     ROOT_PATH,
					     NULL,
					     &error);
	g_assert_no_error(error);
	return manager;
}

static void
test_set_registry_keys_invalid_value(Fixture *fx, gconstpointer data)
{
	static const gchar *const pairs[] = {
		"network.scepclient.cert0.enabled", "true", "network.scepclient.cert0.scepurl",
		"ftp://nowhere.example.test/",      NULL,
	};
	g_autofree gchar *text = disabled_instance(0);
	g_autofree gchar *path = g_build_filename(fx->registry_dir, "registry.d", "50-cert0", NULL);
	g_autofree gchar *base = g_build_filename(fx->registry_dir, "registry", NULL);
	g_autofree gchar *after = NULL;
	g_autofree gchar *base_after = NULL;
	g_autoptr(ScepDbusManager) manager = NULL;
	g_autoptr(GError) error = NULL;

	push_dropin(fx, "50-cert0", text);
	agent_start(fx);
	WAIT_FOR(fx, cert_in_state(fx, "cert0", 0));
	manager = manager_proxy(fx);
	g_assert_false(scep_dbus_manager_call_set_registry_keys_sync(
	    manager, keys_dict(pairs), no_options(), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error));
	assert_dbus_error(error, ERROR_PREFIX "InvalidValue");
	g_assert_nonnull(strstr(error->message, "network.scepclient.cert0.scepurl"));
	/* nothing written, not even the valid key before the invalid one */
	after = read_file(path);
	g_assert_cmpstr(after, ==, text);
	base_after = read_file(base);
	g_assert_cmpstr(base_after, ==, "");
	g_assert_true(cert_in_state(fx, "cert0", 0));
}

static void
test_set_registry_keys_unknown_key(Fixture *fx, gconstpointer data)
{
	static const gchar *const pairs[] = {
		"network.scepclient.cert0.scepur",
		"http://127.0.0.1:9/scep",
		NULL,
	};
	g_autoptr(ScepDbusManager) manager = NULL;
	g_autoptr(GError) error = NULL;
	agent_start(fx);
	manager = manager_proxy(fx);
	g_assert_false(scep_dbus_manager_call_set_registry_keys_sync(
	    manager, keys_dict(pairs), no_options(), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error));
	assert_dbus_error(error, ERROR_PREFIX "InvalidArgument");
	/* the message names the nearest known key */
	g_assert_nonnull(strstr(error->message, "network.scepclient.cert0.scepurl"));
}

static void
test_set_and_unset_registry_keys(Fixture *fx, gconstpointer data)
{
	static const gchar *const pairs[] = {
		"network.scepclient.cert2.enabled", "false", "network.scepclient.cert2.scepurl",
		"http://127.0.0.1:9/scep",          NULL,
	};
	static const gchar *const keys[] = {
		"network.scepclient.cert2.enabled",
		"network.scepclient.cert2.scepurl",
		"network.scepclient.cert2.cafingerprint", /* not set anywhere: not an error */
		NULL,
	};
	g_autofree gchar *base = g_build_filename(fx->registry_dir, "registry", NULL);
	g_autofree gchar *written = NULL;
	g_autoptr(ScepDbusManager) manager = NULL;
	g_autoptr(GError) error = NULL;
	GStatBuf st;

	agent_start(fx);
	manager = manager_proxy(fx);
	g_assert_true(scep_dbus_manager_call_set_registry_keys_sync(
	    manager, keys_dict(pairs), no_options(), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error));
	g_assert_no_error(error);
	/* the object exists when the call returns */
	WAIT_FOR(fx, has_cert(fx, "cert2"));
	written = read_file(base);
	g_assert_nonnull(
	    strstr(written, "network.scepclient.cert2.scepurl=http://127.0.0.1:9/scep"));
	g_assert_cmpint(g_stat(base, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	g_assert_true(scep_dbus_manager_call_unset_registry_keys_sync(
	    manager, keys, no_options(), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error));
	g_assert_no_error(error);
	WAIT_FOR(fx, !has_cert(fx, "cert2"));
}

static void
test_reload(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *text = disabled_instance(4);
	g_autofree gchar *base = g_build_filename(fx->registry_dir, "registry", NULL);
	g_autoptr(ScepDbusManager) manager = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) objects = NULL;
	g_autoptr(GVariant) object = NULL;
	agent_start(fx);
	manager = manager_proxy(fx);
	write_file(base, text);
	g_assert_true(scep_dbus_manager_call_reload_sync(
	    manager, no_options(), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error));
	g_assert_no_error(error);
	/* before the call returned: the object is there for GetManagedObjects at once */
	reply = call_agent(
	    fx, ROOT_PATH, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", NULL, &error);
	g_assert_no_error(error);
	objects = g_variant_get_child_value(reply, 0);
	object = g_variant_lookup_value(objects, CERT_PATH("cert4"), NULL);
	g_assert_nonnull(object);
}

/* ---- access ---- */

/* SetRegistryKeys as nobody through gdbus; returns its stderr+stdout */
static gchar *
gdbus_set_as_nobody(Fixture *fx)
{
	const gchar *args[] = { "timeout",
				"30",
				"gdbus",
				"call",
				"--address",
				fx->address,
				"--dest",
				BUS_NAME,
				"--object-path",
				ROOT_PATH,
				"--method",
				"org.scepagent.Agent1.Manager.SetRegistryKeys",
				"{'network.scepclient.cert0.enabled': 'true'}",
				"{}",
				NULL };
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	gchar *out = NULL;
	g_autofree gchar *err = NULL;
	gint status = 0;
	const gchar *prefix[] = {
		"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"
	};
	for (guint i = 0; i < G_N_ELEMENTS(prefix); i++)
		g_ptr_array_add(argv, (gpointer)prefix[i]);
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	g_ptr_array_add(argv, NULL);
	g_spawn_sync(NULL,
		     (gchar **)argv->pdata,
		     NULL,
		     G_SPAWN_SEARCH_PATH,
		     NULL,
		     NULL,
		     &out,
		     &err,
		     &status,
		     &error);
	g_assert_no_error(error);
	/* the call must fail */
	g_assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return g_strconcat(out, err, NULL);
}

static void
test_access_policy_refuses_nobody(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *text = disabled_instance(0);
	g_autofree gchar *path = g_build_filename(fx->registry_dir, "registry.d", "50-cert0", NULL);
	g_autofree gchar *out = NULL;
	g_autofree gchar *list = NULL;
	g_autofree gchar *reload = NULL;
	g_autofree gchar *gdbus_out = NULL;
	g_autofree gchar *after = NULL;
	g_autoptr(ScepDbusManager) manager = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *enroll[] = { scepctl_path, "--bus", fx->address, "--json",
				  "enroll",     "cert0", NULL };
	const gchar *reload_args[] = {
		scepctl_path, "--bus", fx->address, "--json", "reload", NULL
	};
	const gchar *list_args[] = { scepctl_path, "--bus", fx->address, "--json", "list", NULL };

	push_dropin(fx, "50-cert0", text);
	agent_start(fx);
	WAIT_FOR(fx, has_cert(fx, "cert0"));
	/* reading is for everyone */
	g_assert_cmpint(run(TRUE, list_args, &list), ==, 0);
	g_assert_nonnull(strstr(list, "\"Instance\": \"cert0\""));
	/* the mutating methods are refused by the bus, before the daemon sees them */
	g_assert_cmpint(run(TRUE, enroll, &out), ==, 1);
	g_assert_nonnull(strstr(out, "\"error\": \"org.freedesktop.DBus.Error.AccessDenied\""));
	g_assert_cmpint(run(TRUE, reload_args, &reload), ==, 1);
	g_assert_nonnull(strstr(reload, "\"error\": \"org.freedesktop.DBus.Error.AccessDenied\""));
	gdbus_out = gdbus_set_as_nobody(fx);
	g_assert_nonnull(strstr(gdbus_out, "org.freedesktop.DBus.Error.AccessDenied"));
	after = read_file(path);
	g_assert_cmpstr(after, ==, text);
	/* root may */
	manager = manager_proxy(fx);
	g_assert_true(scep_dbus_manager_call_reload_sync(
	    manager, no_options(), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error));
	g_assert_no_error(error);
}

static void
test_access_handler_refuses_nobody(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *text = disabled_instance(0);
	g_autofree gchar *path = g_build_filename(fx->registry_dir, "registry.d", "50-cert0", NULL);
	g_autofree gchar *out = NULL;
	g_autofree gchar *gdbus_out = NULL;
	g_autofree gchar *after = NULL;
	const gchar *enroll[] = { scepctl_path, "--bus", fx->address, "--json",
				  "enroll",     "cert0", NULL };

	push_dropin(fx, "50-cert0", text);
	agent_start(fx);
	WAIT_FOR(fx, has_cert(fx, "cert0"));
	/* this bus lets the call through: the daemon's own uid check refuses it */
	g_assert_cmpint(run(TRUE, enroll, &out), ==, 1);
	g_assert_nonnull(strstr(out, "\"error\": \"" ERROR_PREFIX "AccessDenied\""));
	gdbus_out = gdbus_set_as_nobody(fx);
	g_assert_nonnull(strstr(gdbus_out, ERROR_PREFIX "AccessDenied"));
	after = read_file(path);
	g_assert_cmpstr(after, ==, text);
}

static void
test_access_admin_group_allows(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *text = disabled_instance(0);
	g_autofree gchar *out = NULL;
	const gchar *enroll[] = { scepctl_path, "--bus", fx->address, "--json",
				  "enroll",     "cert0", NULL };

	push_dropin(fx, "50-cert0", text);
	agent_start(fx);
	WAIT_FOR(fx, has_cert(fx, "cert0"));
	/* nobody is in the admin group: the call reaches the profile, which is disabled */
	run(TRUE, enroll, &out);
	g_assert_null(strstr(out, "AccessDenied"));
	g_assert_nonnull(strstr(out, ERROR_PREFIX "Disabled"));
}

/* ---- scepctl ---- */

static void
test_scepctl_list_status(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *text = NULL;
	g_autofree gchar *list = NULL;
	g_autofree gchar *status = NULL;
	g_autofree gchar *missing = NULL;
	g_autofree gchar *table = NULL;
	const gchar *list_args[] = { scepctl_path, "--bus", fx->address, "list", "--json", NULL };
	const gchar *table_args[] = { scepctl_path, "--bus", fx->address, "list", NULL };
	const gchar *status_args[] = { scepctl_path, "--json", "--bus", fx->address,
				       "status",     "cert0",  NULL };
	const gchar *missing_args[] = { scepctl_path, "--json", "--bus", fx->address,
					"status",     "cert7",  NULL };

	agent_start(fx);
	text = enabled_instance(fx, 0);
	push_dropin(fx, "50-cert0", text);
	WAIT_FOR(fx, cert_in_state(fx, "cert0", 7));
	g_assert_cmpint(run(FALSE, list_args, &list), ==, 0);
	g_assert_nonnull(strstr(list, "\"instances\": [{"));
	g_assert_nonnull(strstr(list, "\"StateName\": \"valid\""));
	g_assert_cmpint(run(FALSE, table_args, &table), ==, 0);
	g_assert_nonnull(strstr(table, "cert0"));
	g_assert_nonnull(strstr(table, "valid"));
	/* not a terminal: no colour */
	g_assert_null(strchr(table, '\033'));
	g_assert_cmpint(run(FALSE, status_args, &status), ==, 0);
	g_assert_nonnull(strstr(status, "\"Instance\": \"cert0\""));
	g_assert_nonnull(strstr(status, "dbus0.example.test"));
	g_assert_nonnull(strstr(status, "\"State\": 7"));
	/* an unknown instance is a usage error */
	g_assert_cmpint(run(FALSE, missing_args, &missing), ==, 2);
	g_assert_nonnull(strstr(missing, ERROR_PREFIX "NotFound"));
}

static void
test_scepctl_renew_wait(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *text = NULL;
	g_autofree gchar *out = NULL;
	const gchar *renew_args[] = { scepctl_path, "--bus",  fx->address, "--json",
				      "renew",      "--wait", "cert0",     NULL };
	agent_start(fx);
	text = enabled_instance(fx, 0);
	push_dropin(fx, "50-cert0", text);
	WAIT_FOR(fx, cert_in_state(fx, "cert0", 7));
	g_assert_cmpint(run(FALSE, renew_args, &out), ==, 0);
	/* each transition as it happened, then the final state */
	g_assert_nonnull(strstr(out, "\"new_state_name\": \"renewing\""));
	g_assert_nonnull(strstr(out, "\"new_state_name\": \"valid\""));
	g_assert_nonnull(
	    strstr(out, "{\"result\": \"valid\", \"instance\": \"cert0\", \"state\": 7}"));
}

static void
test_scepctl_renew_wait_failed(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *out = NULL;
	const gchar *renew_args[] = { scepctl_path, "--bus",  fx->address, "--json",
				      "renew",      "--wait", "cert1",     NULL };
	push_dropin(fx,
		    "50-cert1",
		    "network.scepclient.cert1.enabled=true\n"
		    "network.scepclient.cert1.scepurl=http://127.0.0.1:1/scep\n"
		    "network.scepclient.cert1.crypt_password=sesame\n"
		    "network.scepclient.cert1.subjectaltname=fail.example.test\n");
	agent_start(fx);
	WAIT_FOR(fx, cert_in_state(fx, "cert1", 10));
	g_assert_cmpint(run(FALSE, renew_args, &out), ==, 1);
	g_assert_nonnull(strstr(out, "\"error\": \"" ERROR_PREFIX "Failed\""));
}

static void
test_scepctl_monitor(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *out_path = g_build_filename(fx->tmp, "monitor.out", NULL);
	g_autofree gchar *text = NULL;
	g_autofree gchar *out = NULL;
	const gchar *argv[] = { scepctl_path, "--bus", fx->address, "--json", "monitor", NULL };
	GPid pid = 0;
	gint status = 0;
	gint fd;

	agent_start(fx);
	fd = g_open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	g_assert_cmpint(fd, >=, 0);
	g_spawn_async_with_fds(NULL,
			       (gchar **)argv,
			       NULL,
			       G_SPAWN_DO_NOT_REAP_CHILD,
			       scep_test_die_with_parent,
			       NULL,
			       &pid,
			       -1,
			       fd,
			       -1,
			       &error);
	g_assert_no_error(error);
	close(fd);
	WAIT_FOR(fx, strstr((g_free(out), out = read_file(out_path)), "\"monitoring\"") != NULL);
	text = disabled_instance(5);
	push_dropin(fx, "50-cert5", text);
	WAIT_FOR(fx,
		 strstr((g_free(out), out = read_file(out_path)),
			"\"event\": \"added\", \"instance\": \"cert5\"") != NULL);
	WAIT_FOR(fx,
		 strstr((g_free(out), out = read_file(out_path)),
			"\"new_state_name\": \"disabled\"") != NULL);
	remove_dropin(fx, "50-cert5");
	WAIT_FOR(fx,
		 strstr((g_free(out), out = read_file(out_path)),
			"\"event\": \"removed\", \"instance\": \"cert5\"") != NULL);
	/* interrupted, it ends successfully */
	kill(pid, SIGINT);
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_spawn_close_pid(pid);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
	if (argc < 4) {
		g_printerr("usage: %s SCEP-AGENT SCEPCTL POLICY-FILE\n", argv[0]);
		return 1;
	}
	agent_path = argv[1];
	scepctl_path = argv[2];
	policy_path = argv[3];

#define ADD(path, variant, func)                                                                   \
	g_test_add(path, Fixture, &variant, fixture_set_up, func, fixture_tear_down)
	ADD("/scep/dbus/objects/push-and-remove", open_plain, test_objects_push_and_remove);
	ADD("/scep/dbus/objects/introspect-and-properties",
	    open_plain,
	    test_objects_introspect_and_properties);
	ADD("/scep/dbus/manager/properties", open_plain, test_manager_properties);
	ADD("/scep/dbus/manager/reload", open_plain, test_reload);
	ADD("/scep/dbus/manager/set-and-unset-keys", open_plain, test_set_and_unset_registry_keys);
	ADD("/scep/dbus/manager/set-keys-invalid-value",
	    open_plain,
	    test_set_registry_keys_invalid_value);
	ADD("/scep/dbus/manager/set-keys-unknown-key",
	    open_plain,
	    test_set_registry_keys_unknown_key);
	ADD("/scep/dbus/enroll/state-changed-in-order", open_responder, test_enroll_state_changed);
	ADD("/scep/dbus/enroll/failure-last-error", open_plain, test_enroll_failure_last_error);
	ADD("/scep/dbus/error/disabled", open_plain, test_error_disabled);
	ADD("/scep/dbus/error/unconfigured", open_plain, test_error_unconfigured);
	ADD("/scep/dbus/error/bad-options", open_plain, test_error_bad_options);
	ADD("/scep/dbus/error/unknown-instance", open_plain, test_error_unknown_instance);
	ADD("/scep/dbus/access/policy-refuses-nobody",
	    policy_plain,
	    test_access_policy_refuses_nobody);
	ADD("/scep/dbus/access/handler-refuses-nobody",
	    open_plain,
	    test_access_handler_refuses_nobody);
	ADD("/scep/dbus/access/admin-group-allows",
	    open_admin_group,
	    test_access_admin_group_allows);
	ADD("/scep/dbus/scepctl/list-status", open_responder, test_scepctl_list_status);
	ADD("/scep/dbus/scepctl/renew-wait", open_responder, test_scepctl_renew_wait);
	ADD("/scep/dbus/scepctl/renew-wait-failed", open_plain, test_scepctl_renew_wait_failed);
	ADD("/scep/dbus/scepctl/monitor", open_plain, test_scepctl_monitor);
#undef ADD
	return g_test_run();
}
