/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "scep-test-peers.h"

#include <errno.h>
#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "scep-test-util.h"

#define SCEP_TEST_PYTHON           "/usr/bin/python3"
#define SCEP_TEST_READY_TIMEOUT_MS 60000
#define SCEP_TEST_STOP_TIMEOUT_S   5
#define SCEP_TEST_HTTP_TIMEOUT_S   30

struct _ScepTestResponder {
	GSubprocess *proc;
	gchar *state_dir;
	gchar *url;
	guint16 port;
	GPtrArray *extra_args; /* (owned) of gchar*, NULL-terminated */
};

/* reads the READY line from the responder's stdout, at most TIMEOUT_MS */
static gchar *
scep_test_read_ready_line(GSubprocess *proc, gint timeout_ms, GError **error)
{
	GInputStream *out = g_subprocess_get_stdout_pipe(proc);
	g_autoptr(GString) line = g_string_new(NULL);
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	GPollFD pfd = { 0 };

	pfd.fd = g_unix_input_stream_get_fd(G_UNIX_INPUT_STREAM(out));
	pfd.events = G_IO_IN | G_IO_HUP | G_IO_ERR;
	while (strchr(line->str, '\n') == NULL) {
		gint64 left_ms = (deadline - g_get_monotonic_time()) / 1000;
		gchar buf[256];
		gssize n;

		if (left_ms <= 0) {
			g_set_error(error,
				    G_IO_ERROR,
				    G_IO_ERROR_TIMED_OUT,
				    "scep-responder printed no READY line within %d ms",
				    timeout_ms);
			return NULL;
		}
		pfd.revents = 0;
		if (g_poll(&pfd, 1, (gint)left_ms) <= 0)
			continue;
		/* one byte at a time: never read past the line */
		n = g_input_stream_read(out, buf, 1, NULL, error);
		if (n < 0)
			return NULL;
		if (n == 0) {
			g_set_error(
			    error,
			    G_IO_ERROR,
			    G_IO_ERROR_FAILED,
			    "scep-responder exited before it was ready (see its stderr above)");
			return NULL;
		}
		g_string_append_len(line, buf, n);
	}
	g_strchomp(line->str);
	return g_strdup(line->str);
}

static gboolean
scep_test_responder_spawn(ScepTestResponder *self, GError **error)
{
	const gchar *srcdir = g_getenv("G_TEST_SRCDIR");
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autofree gchar *script = NULL;
	g_autofree gchar *key_dir = NULL;
	g_autofree gchar *line = NULL;
	g_autoptr(GUri) uri = NULL;

	if (srcdir == NULL) {
		g_set_error_literal(error,
				    G_IO_ERROR,
				    G_IO_ERROR_NOT_FOUND,
				    "G_TEST_SRCDIR is not set: cannot find scep-responder.py");
		return FALSE;
	}
	if (!g_file_test(SCEP_TEST_PYTHON, G_FILE_TEST_IS_EXECUTABLE)) {
		g_set_error_literal(error,
				    G_IO_ERROR,
				    G_IO_ERROR_NOT_FOUND,
				    SCEP_TEST_PYTHON
				    " is missing: install python3, python3-asn1crypto "
				    "and python3-cryptography");
		return FALSE;
	}
	script = g_build_filename(srcdir, "scep-responder.py", NULL);
	g_ptr_array_add(argv, g_strdup(SCEP_TEST_PYTHON));
	g_ptr_array_add(argv, g_strdup(script));
	g_ptr_array_add(argv, g_strdup("--state-dir"));
	g_ptr_array_add(argv, g_strdup(self->state_dir));
	/* a test that aborts never calls stop: the closed stdin pipe ends the responder */
	g_ptr_array_add(argv, g_strdup("--watch-stdin"));
	key_dir = g_build_filename(srcdir, "data", "responder", "keys", NULL);
	if (g_file_test(key_dir, G_FILE_TEST_IS_DIR)) {
		g_ptr_array_add(argv, g_strdup("--key-dir"));
		g_ptr_array_add(argv, g_strdup(key_dir));
	}
	if (self->port != 0) {
		g_ptr_array_add(argv, g_strdup("--port"));
		g_ptr_array_add(argv, g_strdup_printf("%u", self->port));
	}
	for (guint i = 0; i + 1 < self->extra_args->len; i++)
		g_ptr_array_add(argv, g_strdup(g_ptr_array_index(self->extra_args, i)));
	g_ptr_array_add(argv, NULL);

	launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE |
					     G_SUBPROCESS_FLAGS_STDIN_PIPE);
	/* the responder ends with the test, also when an assertion aborts it */
	g_subprocess_launcher_set_child_setup(launcher, scep_test_die_with_parent, NULL, NULL);
	self->proc =
	    g_subprocess_launcher_spawnv(launcher, (const gchar *const *)argv->pdata, error);
	if (self->proc == NULL)
		return FALSE;
	line = scep_test_read_ready_line(self->proc, SCEP_TEST_READY_TIMEOUT_MS, error);
	if (line == NULL) {
		scep_test_responder_stop(self);
		return FALSE;
	}
	if (!g_str_has_prefix(line, "READY http://127.0.0.1:")) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_DATA,
			    "unexpected first line from scep-responder: %s",
			    line);
		scep_test_responder_stop(self);
		return FALSE;
	}
	g_free(self->url);
	self->url = g_strdup(line + strlen("READY "));
	uri = g_uri_parse(self->url, G_URI_FLAGS_NONE, error);
	if (uri == NULL) {
		scep_test_responder_stop(self);
		return FALSE;
	}
	self->port = (guint16)g_uri_get_port(uri);
	return TRUE;
}

ScepTestResponder *
scep_test_responder_start(const gchar *const *extra_args, GError **error)
{
	g_autoptr(ScepTestResponder) self = g_new0(ScepTestResponder, 1);

	self->extra_args = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; extra_args != NULL && extra_args[i] != NULL; i++)
		g_ptr_array_add(self->extra_args, g_strdup(extra_args[i]));
	g_ptr_array_add(self->extra_args, NULL);
	self->state_dir = g_dir_make_tmp("scep-responder-XXXXXX", error);
	if (self->state_dir == NULL)
		return NULL;
	if (!scep_test_responder_spawn(self, error))
		return NULL;
	return g_steal_pointer(&self);
}

const gchar *
scep_test_responder_get_url(ScepTestResponder *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->url;
}

guint16
scep_test_responder_get_port(ScepTestResponder *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->port;
}

const gchar *
scep_test_responder_get_state_dir(ScepTestResponder *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->state_dir;
}

gchar *
scep_test_responder_get_file(ScepTestResponder *self, const gchar *name)
{
	g_return_val_if_fail(self != NULL, NULL);
	return g_build_filename(self->state_dir, name, NULL);
}

gchar *
scep_test_responder_get_ca_cert_pem(ScepTestResponder *self)
{
	return scep_test_responder_get_file(self, "ca.pem");
}

/* http://127.0.0.1:PORT/PATH on the responder */
static gchar *
scep_test_responder_build_url(ScepTestResponder *self, const gchar *path)
{
	return g_strdup_printf("http://127.0.0.1:%u%s", self->port, path);
}

gboolean
scep_test_responder_set_script(ScepTestResponder *self, const gchar *json, GError **error)
{
	g_autofree gchar *url = NULL;
	g_autoptr(GBytes) body = NULL;
	g_autoptr(GBytes) reply = NULL;
	guint status = 0;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(json != NULL, FALSE);
	url = scep_test_responder_build_url(self, "/control");
	body = g_bytes_new(json, strlen(json));
	if (!scep_test_http_request(url, "POST", "application/json", body, &status, &reply, error))
		return FALSE;
	if (status != 200) {
		gsize len = 0;
		const gchar *text = g_bytes_get_data(reply, &len);
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_ARGUMENT,
			    "scep-responder refused the script (HTTP %u): %.*s",
			    status,
			    (gint)len,
			    text != NULL ? text : "");
		return FALSE;
	}
	return TRUE;
}

gboolean
scep_test_responder_clear_log(ScepTestResponder *self, GError **error)
{
	return scep_test_responder_set_script(self, "{\"clear_log\": true}", error);
}

gchar *
scep_test_responder_get_log(ScepTestResponder *self, GError **error)
{
	g_autofree gchar *url = NULL;
	g_autoptr(GBytes) reply = NULL;
	guint status = 0;
	gsize len = 0;
	const gchar *data;

	g_return_val_if_fail(self != NULL, NULL);
	url = scep_test_responder_build_url(self, "/log");
	if (!scep_test_http_request(url, "GET", NULL, NULL, &status, &reply, error))
		return NULL;
	if (status != 200) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "GET /log gave HTTP %u", status);
		return NULL;
	}
	data = g_bytes_get_data(reply, &len);
	return g_strndup(data, len);
}

gint
scep_test_responder_count_in_log(ScepTestResponder *self, const gchar *needle, GError **error)
{
	g_autofree gchar *text = NULL;
	const gchar *p;
	gint count = 0;

	g_return_val_if_fail(needle != NULL && needle[0] != '\0', -1);
	text = scep_test_responder_get_log(self, error);
	if (text == NULL)
		return -1;
	for (p = strstr(text, needle); p != NULL; p = strstr(p + strlen(needle), needle))
		count++;
	return count;
}

static void
scep_test_wait_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	gboolean *done = user_data;

	g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL);
	*done = TRUE;
}

static gboolean
scep_test_timeout_cb(gpointer user_data)
{
	gboolean *timed_out = user_data;

	*timed_out = TRUE;
	return G_SOURCE_REMOVE;
}

/* waits for PROC at most SECONDS, in a private main context */
static gboolean
scep_test_wait_bounded(GSubprocess *proc, guint seconds)
{
	g_autoptr(GMainContext) ctx = g_main_context_new();
	g_autoptr(GSource) timeout = g_timeout_source_new_seconds(seconds);
	gboolean done = FALSE;
	gboolean timed_out = FALSE;

	g_main_context_push_thread_default(ctx);
	g_source_set_callback(timeout, scep_test_timeout_cb, &timed_out, NULL);
	g_source_attach(timeout, ctx);
	g_subprocess_wait_async(proc, NULL, scep_test_wait_cb, &done);
	while (!done && !timed_out)
		g_main_context_iteration(ctx, TRUE);
	g_source_destroy(timeout);
	/* the wait callback must run before its stack variables go */
	while (!done) {
		g_subprocess_force_exit(proc);
		g_main_context_iteration(ctx, TRUE);
	}
	g_main_context_pop_thread_default(ctx);
	return !timed_out;
}

void
scep_test_responder_stop(ScepTestResponder *self)
{
	g_return_if_fail(self != NULL);
	if (self->proc == NULL)
		return;
	g_subprocess_send_signal(self->proc, SIGTERM);
	if (!scep_test_wait_bounded(self->proc, SCEP_TEST_STOP_TIMEOUT_S))
		g_printerr("# scep-responder ignored SIGTERM for %u s and was killed\n",
			   (guint)SCEP_TEST_STOP_TIMEOUT_S);
	g_clear_object(&self->proc);
}

gboolean
scep_test_responder_restart(ScepTestResponder *self, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	scep_test_responder_stop(self);
	return scep_test_responder_spawn(self, error);
}

void
scep_test_responder_free(ScepTestResponder *self)
{
	g_autoptr(GError) error = NULL;

	if (self == NULL)
		return;
	scep_test_responder_stop(self);
	if (self->state_dir != NULL && !scep_test_remove_tree(self->state_dir, &error))
		g_printerr("# %s\n", error->message);
	g_free(self->state_dir);
	g_free(self->url);
	g_ptr_array_unref(self->extra_args);
	g_free(self);
}

gboolean
scep_test_http_request(const gchar *url,
		       const gchar *method,
		       const gchar *content_type,
		       GBytes *body,
		       guint *status,
		       GBytes **body_out,
		       GError **error)
{
	g_autoptr(GUri) uri = NULL;
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GSocketConnection) conn = NULL;
	g_autoptr(GString) head = g_string_new(NULL);
	g_autoptr(GOutputStream) mem = g_memory_output_stream_new_resizable();
	g_autoptr(GBytes) raw = NULL;
	const gchar *path;
	const gchar *query;
	const gchar *data;
	const gchar *end;
	gsize len = 0;
	guint code = 0;

	g_return_val_if_fail(url != NULL && method != NULL, FALSE);
	uri = g_uri_parse(url, G_URI_FLAGS_ENCODED, error);
	if (uri == NULL)
		return FALSE;
	if (g_strcmp0(g_uri_get_scheme(uri), "http") != 0 || g_uri_get_host(uri) == NULL) {
		g_set_error(
		    error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "not an http URL: %s", url);
		return FALSE;
	}
	g_socket_client_set_timeout(client, SCEP_TEST_HTTP_TIMEOUT_S);
	/* loopback only; and the proxy resolver would read GSettings, absent in isolated dirs */
	g_socket_client_set_enable_proxy(client, FALSE);
	conn = g_socket_client_connect_to_host(
	    client,
	    g_uri_get_host(uri),
	    (guint16)(g_uri_get_port(uri) > 0 ? g_uri_get_port(uri) : 80),
	    NULL,
	    error);
	if (conn == NULL)
		return FALSE;
	path = g_uri_get_path(uri);
	query = g_uri_get_query(uri);
	g_string_append_printf(head,
			       "%s %s%s%s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n",
			       method,
			       path[0] != '\0' ? path : "/",
			       query != NULL ? "?" : "",
			       query != NULL ? query : "",
			       g_uri_get_host(uri));
	if (content_type != NULL)
		g_string_append_printf(head, "Content-Type: %s\r\n", content_type);
	if (body != NULL)
		g_string_append_printf(
		    head, "Content-Length: %" G_GSIZE_FORMAT "\r\n", g_bytes_get_size(body));
	g_string_append(head, "\r\n");
	if (!g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(conn)),
				       head->str,
				       head->len,
				       NULL,
				       NULL,
				       error))
		return FALSE;
	if (body != NULL && g_bytes_get_size(body) > 0 &&
	    !g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(conn)),
				       g_bytes_get_data(body, NULL),
				       g_bytes_get_size(body),
				       NULL,
				       NULL,
				       error))
		return FALSE;
	if (g_output_stream_splice(mem,
				   g_io_stream_get_input_stream(G_IO_STREAM(conn)),
				   G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
				   NULL,
				   error) < 0)
		return FALSE;
	raw = g_memory_output_stream_steal_as_bytes(G_MEMORY_OUTPUT_STREAM(mem));
	data = g_bytes_get_data(raw, &len);
	if (len >= 12 && memcmp(data, "HTTP/1.", 7) == 0 && g_ascii_isdigit(data[9]) &&
	    g_ascii_isdigit(data[10]) && g_ascii_isdigit(data[11]))
		code = (guint)((data[9] - '0') * 100 + (data[10] - '0') * 10 + (data[11] - '0'));
	if (code == 0) {
		g_set_error(
		    error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "no HTTP status line from %s", url);
		return FALSE;
	}
	end = memmem(data, len, "\r\n\r\n", 4);
	if (end == NULL) {
		g_set_error(
		    error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "no end of headers from %s", url);
		return FALSE;
	}
	if (status != NULL)
		*status = code;
	if (body_out != NULL)
		*body_out = g_bytes_new_from_bytes(
		    raw, (gsize)(end + 4 - data), len - (gsize)(end + 4 - data));
	return TRUE;
}

const gchar *
scep_test_scepserver_url(void)
{
	return g_getenv("SCEP_TEST_SCEPSERVER_URL");
}

const gchar *
scep_test_scepserver_challenge(void)
{
	return g_getenv("SCEP_TEST_SCEPSERVER_CHALLENGE");
}

const gchar *
scep_test_scepserver_depot(void)
{
	return g_getenv("SCEP_TEST_SCEPSERVER_DEPOT");
}
