#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>

#include "scep-ndes-error.h"
#include "scep-transport.h"

/*
 * The SCEP transport against in-process SoupServers on 127.0.0.1: an http server, an https
 * server with the test CA of tests/data/tls, a server acting as HTTP proxy, and a TCP server
 * that accepts and never answers. The client uses the async API on the same main context.
 */

#define BIG_BODY_SIZE  (10 * 1024 * 1024)
#define BIG_CHUNK_SIZE (64 * 1024)

typedef struct {
	SoupServer *server;            /* owned: http */
	gchar *base;                   /* owned: http://127.0.0.1:PORT */
	SoupServer *tls_server;        /* owned: https */
	gchar *tls_base;               /* owned: https://127.0.0.1:PORT */
	SoupServer *proxy_server;      /* owned: answers proxy requests itself */
	gchar *proxy_hostport;         /* owned: 127.0.0.1:PORT */
	GSocketService *silent;        /* owned, nullable: accepts and never answers */
	GPtrArray *silent_connections; /* owned, of GSocketConnection */
	GPtrArray *paused;             /* owned, of SoupServerMessage never answered */

	/* what /scep saw last */
	guint requests;
	gchar *seen_method;
	gchar *seen_path;
	gchar *seen_query; /* raw, still percent-encoded */
	gchar *seen_content_type;
	gchar *seen_transfer_encoding;
	gchar *seen_user_agent;
	goffset seen_content_length;
	GBytes *seen_body;

	/* what /scep answers */
	guint reply_status;
	gchar *reply_content_type;       /* nullable: no header */
	GBytes *reply_body;              /* nullable: no body */
	GCancellable *cancel_on_request; /* nullable: cancelled when /scep is hit */

	/* other handlers */
	guint loop_requests;
	guint proxy_requests;
	gchar *proxy_seen_host;        /* host of the request URI as the proxy saw it */
	gchar *proxy_seen_host_header; /* Host: */
	gchar *proxy_seen_path;
	gchar *proxy_seen_query;

	/* the streaming handlers */
	SoupServerMessage *stream_msg; /* owned, nullable */
	GSource *stream_source;        /* owned, nullable */
	gsize stream_appended;         /* body bytes handed to the server so far */
	gboolean stream_finished;

	/* the client's result */
	GAsyncResult *result; /* owned, nullable */
	gsize stream_appended_at_result;
	gboolean stream_finished_at_result;
} Fixture;

static gchar *
fixture_server_base(SoupServer *server)
{
	GSList *uris = soup_server_get_uris(server);
	GUri *uri = NULL;
	gchar *base = NULL;

	g_assert_nonnull(uris);
	uri = uris->data;
	base = g_strdup_printf("%s://127.0.0.1:%d", g_uri_get_scheme(uri), g_uri_get_port(uri));
	g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
	return base;
}

static void
fixture_record(Fixture *f, SoupServerMessage *msg)
{
	SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);
	GUri *uri = soup_server_message_get_uri(msg);

	f->requests++;
	g_free(f->seen_method);
	f->seen_method = g_strdup(soup_server_message_get_method(msg));
	g_free(f->seen_path);
	f->seen_path = g_strdup(g_uri_get_path(uri));
	g_free(f->seen_query);
	f->seen_query = g_strdup(g_uri_get_query(uri));
	g_free(f->seen_content_type);
	f->seen_content_type = g_strdup(soup_message_headers_get_one(headers, "Content-Type"));
	g_free(f->seen_transfer_encoding);
	f->seen_transfer_encoding =
	    g_strdup(soup_message_headers_get_one(headers, "Transfer-Encoding"));
	g_free(f->seen_user_agent);
	f->seen_user_agent = g_strdup(soup_message_headers_get_one(headers, "User-Agent"));
	f->seen_content_length = soup_message_headers_get_content_length(headers);
	g_clear_pointer(&f->seen_body, g_bytes_unref);
	f->seen_body = soup_message_body_flatten(soup_server_message_get_request_body(msg));
}

static void
fixture_scep_cb(SoupServer *server,
		SoupServerMessage *msg,
		const char *path,
		GHashTable *query,
		gpointer user_data)
{
	Fixture *f = user_data;
	SoupMessageHeaders *headers = soup_server_message_get_response_headers(msg);

	fixture_record(f, msg);
	if (f->cancel_on_request != NULL) {
		g_cancellable_cancel(f->cancel_on_request);
		soup_server_message_pause(msg);
		g_ptr_array_add(f->paused, g_object_ref(msg));
		return;
	}
	soup_server_message_set_status(msg, f->reply_status, NULL);
	if (f->reply_content_type != NULL)
		soup_message_headers_replace(headers, "Content-Type", f->reply_content_type);
	if (f->reply_body != NULL) {
		soup_message_body_append_bytes(soup_server_message_get_response_body(msg),
					       f->reply_body);
	}
}

/* answers with a redirect to @target, keeping the query */
static void
fixture_redirect(SoupServerMessage *msg, guint status, const gchar *target)
{
	g_autofree gchar *location =
	    g_strdup_printf("%s?%s", target, g_uri_get_query(soup_server_message_get_uri(msg)));

	soup_server_message_set_status(msg, status, NULL);
	soup_message_headers_replace(
	    soup_server_message_get_response_headers(msg), "Location", location);
}

/* /moved: relative redirect to /scep */
static void
fixture_moved_cb(SoupServer *server,
		 SoupServerMessage *msg,
		 const char *path,
		 GHashTable *query,
		 gpointer user_data)
{
	fixture_redirect(msg, SOUP_STATUS_FOUND, "/scep");
}

/* /temporary: 307 to /scep, which repeats a POST with its body */
static void
fixture_temporary_cb(SoupServer *server,
		     SoupServerMessage *msg,
		     const char *path,
		     GHashTable *query,
		     gpointer user_data)
{
	fixture_redirect(msg, SOUP_STATUS_TEMPORARY_REDIRECT, "/scep");
}

/* /loop: redirects to itself forever */
static void
fixture_loop_cb(SoupServer *server,
		SoupServerMessage *msg,
		const char *path,
		GHashTable *query,
		gpointer user_data)
{
	Fixture *f = user_data;

	f->loop_requests++;
	fixture_redirect(msg, SOUP_STATUS_MOVED_PERMANENTLY, "/loop");
}

/* /to-http on the https server: downgrade to the plain http server */
static void
fixture_to_http_cb(SoupServer *server,
		   SoupServerMessage *msg,
		   const char *path,
		   GHashTable *query,
		   gpointer user_data)
{
	Fixture *f = user_data;
	g_autofree gchar *target = g_strconcat(f->base, "/scep", NULL);

	fixture_redirect(msg, SOUP_STATUS_FOUND, target);
}

/* /slow: never answers */
static void
fixture_slow_cb(SoupServer *server,
		SoupServerMessage *msg,
		const char *path,
		GHashTable *query,
		gpointer user_data)
{
	Fixture *f = user_data;

	soup_server_message_pause(msg);
	g_ptr_array_add(f->paused, g_object_ref(msg));
}

static void
fixture_stream_stop(Fixture *f)
{
	if (f->stream_source != NULL) {
		g_source_destroy(f->stream_source);
		g_clear_pointer(&f->stream_source, g_source_unref);
	}
	if (f->stream_msg != NULL)
		g_signal_handlers_disconnect_by_data(f->stream_msg, f);
	g_clear_object(&f->stream_msg);
}

static void
fixture_stream_finished_cb(SoupServerMessage *msg, gpointer user_data)
{
	Fixture *f = user_data;

	f->stream_finished = TRUE;
	fixture_stream_stop(f);
}

static void
fixture_stream_append(Fixture *f)
{
	SoupMessageBody *body = soup_server_message_get_response_body(f->stream_msg);
	gsize n = MIN(BIG_CHUNK_SIZE, BIG_BODY_SIZE - f->stream_appended);
	g_autofree guint8 *chunk = g_malloc(n);

	memset(chunk, 'x', n);
	soup_message_body_append(body, SOUP_MEMORY_COPY, chunk, n);
	f->stream_appended += n;
	if (f->stream_appended >= BIG_BODY_SIZE)
		soup_message_body_complete(body);
}

static gboolean
fixture_stream_next_cb(gpointer user_data)
{
	Fixture *f = user_data;

	g_clear_pointer(&f->stream_source, g_source_unref);
	fixture_stream_append(f);
	soup_server_message_unpause(f->stream_msg);
	return G_SOURCE_REMOVE;
}

/* paced, so that the client could never receive the whole body before it must give up */
static void
fixture_stream_wrote_chunk_cb(SoupServerMessage *msg, gpointer user_data)
{
	Fixture *f = user_data;

	if (f->stream_appended >= BIG_BODY_SIZE || f->stream_source != NULL)
		return;
	f->stream_source = g_timeout_source_new(2);
	g_source_set_callback(f->stream_source, fixture_stream_next_cb, f, NULL);
	g_source_attach(f->stream_source, NULL);
}

static void
fixture_stream_start(Fixture *f, SoupServerMessage *msg, gboolean declare_length)
{
	SoupMessageHeaders *headers = soup_server_message_get_response_headers(msg);

	g_assert_null(f->stream_msg);
	f->stream_msg = g_object_ref(msg);
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_message_headers_replace(headers, "Content-Type", "application/x-pki-message");
	if (declare_length)
		soup_message_headers_set_content_length(headers, BIG_BODY_SIZE);
	else
		soup_message_headers_set_encoding(headers, SOUP_ENCODING_CHUNKED);
	g_signal_connect(msg, "wrote-chunk", G_CALLBACK(fixture_stream_wrote_chunk_cb), f);
	g_signal_connect(msg, "finished", G_CALLBACK(fixture_stream_finished_cb), f);
	fixture_stream_append(f);
}

/* /big: a 10 MB chunked body */
static void
fixture_big_cb(SoupServer *server,
	       SoupServerMessage *msg,
	       const char *path,
	       GHashTable *query,
	       gpointer user_data)
{
	fixture_stream_start(user_data, msg, FALSE);
}

/* /big-length: a 10 MB body announced by Content-Length */
static void
fixture_big_length_cb(SoupServer *server,
		      SoupServerMessage *msg,
		      const char *path,
		      GHashTable *query,
		      gpointer user_data)
{
	fixture_stream_start(user_data, msg, TRUE);
}

/* /slow-body: headers and a first chunk, then nothing */
static void
fixture_slow_body_cb(SoupServer *server,
		     SoupServerMessage *msg,
		     const char *path,
		     GHashTable *query,
		     gpointer user_data)
{
	Fixture *f = user_data;
	SoupMessageHeaders *headers = soup_server_message_get_response_headers(msg);

	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_message_headers_replace(headers, "Content-Type", "application/x-pki-message");
	soup_message_headers_set_encoding(headers, SOUP_ENCODING_CHUNKED);
	soup_message_body_append(
	    soup_server_message_get_response_body(msg), SOUP_MEMORY_STATIC, "0123456789", 10);
	g_ptr_array_add(f->paused, g_object_ref(msg));
}

/* the proxy: records what it was asked for and answers itself */
static void
fixture_proxy_cb(SoupServer *server,
		 SoupServerMessage *msg,
		 const char *path,
		 GHashTable *query,
		 gpointer user_data)
{
	Fixture *f = user_data;
	GUri *uri = soup_server_message_get_uri(msg);
	SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);
	const gchar *caps = "POSTPKIOperation\nSHA-256";

	f->proxy_requests++;
	g_free(f->proxy_seen_host);
	f->proxy_seen_host = g_strdup(g_uri_get_host(uri));
	g_free(f->proxy_seen_host_header);
	f->proxy_seen_host_header = g_strdup(soup_message_headers_get_one(headers, "Host"));
	g_free(f->proxy_seen_path);
	f->proxy_seen_path = g_strdup(g_uri_get_path(uri));
	g_free(f->proxy_seen_query);
	f->proxy_seen_query = g_strdup(g_uri_get_query(uri));
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_server_message_set_response(msg, "text/plain", SOUP_MEMORY_COPY, caps, strlen(caps));
}

static gboolean
fixture_silent_incoming_cb(GSocketService *service,
			   GSocketConnection *connection,
			   GObject *source_object,
			   gpointer user_data)
{
	Fixture *f = user_data;

	g_ptr_array_add(f->silent_connections, g_object_ref(connection));
	return TRUE;
}

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GTlsCertificate) cert = NULL;
	g_autofree gchar *server_pem = NULL;

	f->paused = g_ptr_array_new_with_free_func(g_object_unref);
	f->silent_connections = g_ptr_array_new_with_free_func(g_object_unref);
	f->reply_status = SOUP_STATUS_OK;

	f->server = soup_server_new(NULL, NULL);
	soup_server_add_handler(f->server, "/scep", fixture_scep_cb, f, NULL);
	soup_server_add_handler(f->server, "/moved", fixture_moved_cb, f, NULL);
	soup_server_add_handler(f->server, "/temporary", fixture_temporary_cb, f, NULL);
	soup_server_add_handler(f->server, "/loop", fixture_loop_cb, f, NULL);
	soup_server_add_handler(f->server, "/slow", fixture_slow_cb, f, NULL);
	soup_server_add_handler(f->server, "/slow-body", fixture_slow_body_cb, f, NULL);
	soup_server_add_handler(f->server, "/big", fixture_big_cb, f, NULL);
	soup_server_add_handler(f->server, "/big-length", fixture_big_length_cb, f, NULL);
	soup_server_listen_local(f->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
	g_assert_no_error(error);
	f->base = fixture_server_base(f->server);

	server_pem = g_test_build_filename(G_TEST_DIST, "data", "tls", "server.pem", NULL);
	cert = g_tls_certificate_new_from_file(server_pem, &error);
	g_assert_no_error(error);
	f->tls_server = soup_server_new("tls-certificate", cert, NULL);
	soup_server_add_handler(f->tls_server, "/scep", fixture_scep_cb, f, NULL);
	soup_server_add_handler(f->tls_server, "/to-http", fixture_to_http_cb, f, NULL);
	soup_server_listen_local(
	    f->tls_server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY | SOUP_SERVER_LISTEN_HTTPS, &error);
	g_assert_no_error(error);
	f->tls_base = fixture_server_base(f->tls_server);
	g_assert_true(g_str_has_prefix(f->tls_base, "https://"));

	f->proxy_server = soup_server_new(NULL, NULL);
	soup_server_add_handler(f->proxy_server, NULL, fixture_proxy_cb, f, NULL);
	soup_server_listen_local(f->proxy_server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
	g_assert_no_error(error);
	{
		g_autofree gchar *proxy_base = fixture_server_base(f->proxy_server);
		f->proxy_hostport = g_strdup(proxy_base + strlen("http://"));
	}
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
	fixture_stream_stop(f);
	g_clear_object(&f->result);
	/* let closes and aborted reads settle before the servers go */
	while (g_main_context_iteration(NULL, FALSE))
		;
	if (f->silent != NULL) {
		g_socket_service_stop(f->silent);
		g_socket_listener_close(G_SOCKET_LISTENER(f->silent));
		g_clear_object(&f->silent);
	}
	g_ptr_array_unref(f->silent_connections);
	for (guint i = 0; i < f->paused->len; i++)
		soup_server_message_unpause(g_ptr_array_index(f->paused, i));
	soup_server_disconnect(f->server);
	soup_server_disconnect(f->tls_server);
	soup_server_disconnect(f->proxy_server);
	while (g_main_context_iteration(NULL, FALSE))
		;
	g_ptr_array_unref(f->paused);
	g_clear_object(&f->server);
	g_clear_object(&f->tls_server);
	g_clear_object(&f->proxy_server);
	g_free(f->base);
	g_free(f->tls_base);
	g_free(f->proxy_hostport);
	g_free(f->seen_method);
	g_free(f->seen_path);
	g_free(f->seen_query);
	g_free(f->seen_content_type);
	g_free(f->seen_transfer_encoding);
	g_free(f->seen_user_agent);
	g_clear_pointer(&f->seen_body, g_bytes_unref);
	g_free(f->reply_content_type);
	g_clear_pointer(&f->reply_body, g_bytes_unref);
	g_clear_object(&f->cancel_on_request);
	g_free(f->proxy_seen_host);
	g_free(f->proxy_seen_host_header);
	g_free(f->proxy_seen_path);
	g_free(f->proxy_seen_query);
}

static void
fixture_set_reply(Fixture *f, guint status, const gchar *content_type, const gchar *body)
{
	f->reply_status = status;
	g_free(f->reply_content_type);
	f->reply_content_type = g_strdup(content_type);
	g_clear_pointer(&f->reply_body, g_bytes_unref);
	if (body != NULL)
		f->reply_body = g_bytes_new(body, strlen(body));
}

static void
fixture_result_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	Fixture *f = user_data;

	g_assert_null(f->result);
	f->result = g_object_ref(result);
	f->stream_appended_at_result = f->stream_appended;
	f->stream_finished_at_result = f->stream_finished;
}

static GAsyncResult *
fixture_wait(Fixture *f)
{
	while (f->result == NULL)
		g_main_context_iteration(NULL, TRUE);
	return f->result;
}

static ScepTransport *
fixture_transport(Fixture *f, const gchar *base, const gchar *path)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *url = g_strconcat(base, path, NULL);
	ScepTransport *transport = scep_transport_new(url, &error);

	g_assert_no_error(error);
	g_assert_nonnull(transport);
	return transport;
}

static gchar *
fixture_get_caps(Fixture *f, ScepTransport *transport, GError **error)
{
	scep_transport_get_ca_caps_async(transport, NULL, fixture_result_cb, f);
	return scep_transport_get_ca_caps_finish(transport, fixture_wait(f), error);
}

static ScepTransportReply *
fixture_get_ca_cert(Fixture *f, ScepTransport *transport, GError **error)
{
	scep_transport_get_ca_cert_async(transport, NULL, fixture_result_cb, f);
	return scep_transport_get_ca_cert_finish(transport, fixture_wait(f), error);
}

static ScepTransportReply *
fixture_pki_operation(Fixture *f,
		      ScepTransport *transport,
		      GBytes *message,
		      ScepTransportPkiFlags flags,
		      GError **error)
{
	scep_transport_pki_operation_async(transport, message, flags, NULL, fixture_result_cb, f);
	return scep_transport_pki_operation_finish(transport, fixture_wait(f), error);
}

static void
assert_error_mentions(const GError *error, const gchar *text)
{
	g_assert_nonnull(error);
	if (strstr(error->message, text) == NULL)
		g_test_message("error \"%s\" does not mention \"%s\"", error->message, text);
	g_assert_nonnull(strstr(error->message, text));
}

/* DER-like bytes whose standard base64 is "+/+//gA=": every character that needs escaping */
static GBytes *
fixture_awkward_message(void)
{
	static const guint8 data[] = { 0xfb, 0xff, 0xbf, 0xfe, 0x00 };

	return g_bytes_new_static(data, sizeof(data));
}

/* a POST PKIOperation of a message the test does not look at again */
static ScepTransportReply *
fixture_post(Fixture *f, ScepTransport *transport, GError **error)
{
	g_autoptr(GBytes) message = fixture_awkward_message();

	return fixture_pki_operation(f, transport, message, SCEP_TRANSPORT_PKI_FLAGS_POST, error);
}

/* trust only the test CA of tests/data/tls, which issued the https server's certificate */
static void
fixture_pin_test_ca(ScepTransport *transport)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *ca_file =
	    g_test_build_filename(G_TEST_DIST, "data", "tls", "ca.pem", NULL);

	g_assert_true(scep_transport_set_ca_file(transport, ca_file, &error));
	g_assert_no_error(error);
}

static void
test_new_rejects_bad_urls(void)
{
	const gchar *bad[] = {
		"",
		"ftp://ndes.example/certsrv/mscep/mscep.dll",
		"ndes.example/certsrv/mscep/mscep.dll",
		"http://",
		"http:///certsrv/mscep/mscep.dll",
		"https://user:secret@ndes.example/certsrv/mscep/mscep.dll",
	};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(ScepTransport) transport = scep_transport_new(bad[i], &error);

		g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_INVALID_ARGUMENT);
		g_assert_null(transport);
		/* a password never appears in an error message */
		g_assert_null(strstr(error->message, "secret"));
	}
}

static void
test_new_accepts_ndes_urls(void)
{
	const gchar *good[] = {
		"http://ndes.example/certsrv/mscep/mscep.dll",
		"HTTPS://ndes.example:8443/certsrv/mscep/pkiclient.exe",
		"http://[::1]/scep?tenant=a",
	};

	for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(ScepTransport) transport = scep_transport_new(good[i], &error);

		g_assert_no_error(error);
		g_assert_nonnull(transport);
	}
}

static void
test_new_keeps_path_and_query(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep?tenant=a%20b");
	g_autoptr(GError) error = NULL;
	g_autofree gchar *caps = NULL;

	fixture_set_reply(f, SOUP_STATUS_OK, "text/plain", "SHA-256");
	caps = fixture_get_caps(f, transport, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(f->seen_path, ==, "/scep");
	g_assert_cmpstr(f->seen_query, ==, "tenant=a%20b&operation=GetCACaps");
}

static void
test_caps_request(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autofree gchar *caps = NULL;

	fixture_set_reply(f, SOUP_STATUS_OK, "text/plain", "POSTPKIOperation\nSHA-256\nAES");
	caps = fixture_get_caps(f, transport, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(caps, ==, "POSTPKIOperation\nSHA-256\nAES");
	g_assert_cmpuint(f->requests, ==, 1);
	g_assert_cmpstr(f->seen_method, ==, "GET");
	g_assert_cmpstr(f->seen_query, ==, "operation=GetCACaps");
	g_assert_cmpstr(f->seen_user_agent, ==, "scep-agent/" PACKAGE_VERSION);
}

static void
test_caps_ca_ident(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autofree gchar *caps = NULL;

	fixture_set_reply(f, SOUP_STATUS_OK, "text/plain", "SHA-256");
	scep_transport_set_ca_ident(transport, "My CA/1");
	caps = fixture_get_caps(f, transport, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(f->seen_query, ==, "operation=GetCACaps&message=My%20CA%2F1");
}

static void
test_caps_without_content_type(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autofree gchar *caps = NULL;

	fixture_set_reply(f, SOUP_STATUS_OK, NULL, "Renewal\nDES3");
	caps = fixture_get_caps(f, transport, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(caps, ==, "Renewal\nDES3");
}

static void
test_caps_html_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autofree gchar *caps = NULL;

	fixture_set_reply(
	    f, SOUP_STATUS_OK, "Text/HTML; charset=utf-8", "<html><body>Sign in</body></html>");
	caps = fixture_get_caps(f, transport, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
	assert_error_mentions(error, "HTML");
	g_assert_null(caps);
}

static void
test_ca_cert_request(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;
	g_autofree gchar *ident = NULL;

	fixture_set_reply(f, SOUP_STATUS_OK, "application/x-x509-ca-cert", "0\x82 DER");
	scep_transport_set_ca_ident(transport, "Issuing CA+1=x&y");
	reply = fixture_get_ca_cert(f, transport, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(f->seen_method, ==, "GET");
	g_assert_cmpstr(f->seen_query, ==, "operation=GetCACert&message=Issuing%20CA%2B1%3Dx%26y");
	ident = g_uri_unescape_string(f->seen_query + strlen("operation=GetCACert&message="), NULL);
	g_assert_cmpstr(ident, ==, "Issuing CA+1=x&y");
	g_assert_cmpuint(reply->status, ==, 200);
	g_assert_cmpstr(reply->content_type, ==, "application/x-x509-ca-cert");
	g_assert_cmpmem(
	    g_bytes_get_data(reply->body, NULL), g_bytes_get_size(reply->body), "0\x82 DER", 6);
}

static void
test_ca_cert_content_type_parameters(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;

	fixture_set_reply(
	    f, SOUP_STATUS_OK, "Application/X-X509-CA-RA-Cert ; charset=binary", "bundle");
	reply = fixture_get_ca_cert(f, transport, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(reply->content_type, ==, "application/x-x509-ca-ra-cert");
}

static void
test_ca_cert_wrong_content_type(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;

	fixture_set_reply(f, SOUP_STATUS_OK, "text/html; charset=utf-8", "<html></html>");
	reply = fixture_get_ca_cert(f, transport, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
	assert_error_mentions(error, "content type text/html");
	g_assert_null(reply);
}

static void
test_next_ca_cert_request(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;

	fixture_set_reply(f, SOUP_STATUS_OK, "application/x-x509-next-ca-cert", "signed");
	scep_transport_set_ca_ident(transport, "ca");
	scep_transport_get_next_ca_cert_async(transport, NULL, fixture_result_cb, f);
	reply = scep_transport_get_next_ca_cert_finish(transport, fixture_wait(f), &error);
	g_assert_no_error(error);
	g_assert_cmpstr(f->seen_query, ==, "operation=GetNextCACert&message=ca");
	g_assert_cmpstr(reply->content_type, ==, "application/x-x509-next-ca-cert");
}

static void
test_next_ca_cert_wrong_content_type(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;

	fixture_set_reply(f, SOUP_STATUS_OK, "application/x-x509-ca-cert", "cert");
	scep_transport_get_next_ca_cert_async(transport, NULL, fixture_result_cb, f);
	reply = scep_transport_get_next_ca_cert_finish(transport, fixture_wait(f), &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
	assert_error_mentions(error, "application/x-x509-ca-cert");
}

static void
test_pki_post(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;
	g_autoptr(GBytes) message = fixture_awkward_message();

	fixture_set_reply(f, SOUP_STATUS_OK, "application/x-pki-message", "certrep");
	reply = fixture_pki_operation(f, transport, message, SCEP_TRANSPORT_PKI_FLAGS_POST, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(f->seen_method, ==, "POST");
	g_assert_cmpstr(f->seen_query, ==, "operation=PKIOperation");
	g_assert_true(g_bytes_equal(f->seen_body, message));
	g_assert_null(f->seen_content_type);
	/* a plain Content-Length body, as IIS wants it */
	g_assert_null(f->seen_transfer_encoding);
	g_assert_cmpint(f->seen_content_length, ==, g_bytes_get_size(message));
	g_assert_cmpstr(reply->content_type, ==, "application/x-pki-message");
	g_assert_cmpmem(
	    g_bytes_get_data(reply->body, NULL), g_bytes_get_size(reply->body), "certrep", 7);
}

static void
test_pki_post_content_type(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;
	g_autoptr(GBytes) message = fixture_awkward_message();

	fixture_set_reply(f, SOUP_STATUS_OK, "application/x-pki-message", "certrep");
	reply = fixture_pki_operation(f,
				      transport,
				      message,
				      SCEP_TRANSPORT_PKI_FLAGS_POST |
					  SCEP_TRANSPORT_PKI_FLAGS_CONTENT_TYPE,
				      &error);
	g_assert_no_error(error);
	g_assert_cmpstr(f->seen_method, ==, "POST");
	g_assert_cmpstr(f->seen_content_type, ==, "application/x-pki-message");
	g_assert_true(g_bytes_equal(f->seen_body, message));
}

static void
test_pki_get(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;
	g_autoptr(GBytes) message = fixture_awkward_message();
	g_autofree gchar *b64 = NULL;
	g_autofree guchar *decoded = NULL;
	const gchar *raw = NULL;
	gsize decoded_len = 0;

	fixture_set_reply(f, SOUP_STATUS_OK, "application/x-pki-message", "certrep");
	reply = fixture_pki_operation(f, transport, message, SCEP_TRANSPORT_PKI_FLAGS_NONE, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(f->seen_method, ==, "GET");
	g_assert_cmpuint(g_bytes_get_size(f->seen_body), ==, 0);
	g_assert_true(g_str_has_prefix(f->seen_query, "operation=PKIOperation&message="));
	raw = f->seen_query + strlen("operation=PKIOperation&message=");
	g_assert_cmpstr(raw, ==, "%2B%2F%2B%2F%2FgA%3D");
	b64 = g_uri_unescape_string(raw, NULL);
	g_assert_cmpstr(b64, ==, "+/+//gA=");
	decoded = g_base64_decode(b64, &decoded_len);
	g_assert_cmpmem(
	    decoded, decoded_len, g_bytes_get_data(message, NULL), g_bytes_get_size(message));
}

static void
test_pki_wrong_content_type(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;

	fixture_set_reply(f, SOUP_STATUS_OK, "text/plain", "not a CertRep");
	reply = fixture_post(f, transport, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
	assert_error_mentions(error, "content type text/plain");
	g_assert_null(reply);
}

static void
test_pki_empty_reply(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;

	fixture_set_reply(f, SOUP_STATUS_OK, "application/x-pki-message", NULL);
	reply = fixture_post(f, transport, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
	assert_error_mentions(error, "empty reply");
}

static void
test_status_500_with_body(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;

	fixture_set_reply(f,
			  SOUP_STATUS_INTERNAL_SERVER_ERROR,
			  "text/plain; charset=utf-8",
			  "operation not implemented\n");
	reply = fixture_post(f, transport, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_HTTP_STATUS);
	assert_error_mentions(error, "HTTP 500 Internal Server Error");
	assert_error_mentions(error, ": operation not implemented");
}

static void
test_status_500_without_body(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;

	fixture_set_reply(f, SOUP_STATUS_INTERNAL_SERVER_ERROR, NULL, NULL);
	reply = fixture_get_ca_cert(f, transport, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_HTTP_STATUS);
	assert_error_mentions(error, "HTTP 500");
	assert_error_mentions(error, "no body");
}

static void
test_status_404(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/nowhere");
	g_autoptr(GError) error = NULL;
	g_autofree gchar *caps = NULL;

	caps = fixture_get_caps(f, transport, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_HTTP_STATUS);
	assert_error_mentions(error, "HTTP 404 Not Found");
	g_assert_null(caps);
}

static void
test_status_html_excerpt(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autofree gchar *caps = NULL;

	fixture_set_reply(f,
			  SOUP_STATUS_SERVICE_UNAVAILABLE,
			  "text/html",
			  "<!DOCTYPE html><html><head><title>503 - Service Unavailable</title>"
			  "<style type=\"text/css\">body{margin:0}</style></head>\n"
			  "<body><h1>The   NDES\tapp pool is stopped.</h1></body></html>");
	caps = fixture_get_caps(f, transport, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_HTTP_STATUS);
	assert_error_mentions(error, ": 503 - Service Unavailable The NDES app pool is stopped.");
	g_assert_null(strstr(error->message, "margin"));
	g_assert_null(strstr(error->message, "<"));
}

static void
test_status_binary_body(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;

	fixture_set_reply(f, SOUP_STATUS_BAD_REQUEST, "application/octet-stream", "\x01\x02\x03");
	reply = fixture_get_ca_cert(f, transport, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_HTTP_STATUS);
	assert_error_mentions(error, "HTTP 400 Bad Request");
	assert_error_mentions(error, ": 3 bytes of application/octet-stream");
}

/* NDES writes its pages in UTF-16LE without a byte order mark */
static void
test_status_utf16_page(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autofree gchar *caps = NULL;
	const gchar *text = "<p>Access denied</p>";
	g_autoptr(GByteArray) page = g_byte_array_new();

	for (gsize i = 0; text[i] != '\0'; i++) {
		guint8 unit[2] = { (guint8)text[i], 0 };
		g_byte_array_append(page, unit, 2);
	}
	fixture_set_reply(f, SOUP_STATUS_FORBIDDEN, "text/html", NULL);
	f->reply_body = g_bytes_new(page->data, page->len);
	caps = fixture_get_caps(f, transport, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_HTTP_STATUS);
	assert_error_mentions(error, "HTTP 403 Forbidden");
	assert_error_mentions(error, ": Access denied");
}

static void
test_redirect_same_scheme(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/moved");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;

	fixture_set_reply(f, SOUP_STATUS_OK, "application/x-x509-ca-cert", "cert");
	reply = fixture_get_ca_cert(f, transport, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(f->requests, ==, 1);
	g_assert_cmpstr(f->seen_path, ==, "/scep");
	g_assert_cmpstr(f->seen_query, ==, "operation=GetCACert&message=");
}

static void
test_redirect_keeps_post(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/temporary");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;
	g_autoptr(GBytes) message = fixture_awkward_message();

	fixture_set_reply(f, SOUP_STATUS_OK, "application/x-pki-message", "certrep");
	reply = fixture_pki_operation(f, transport, message, SCEP_TRANSPORT_PKI_FLAGS_POST, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(f->seen_path, ==, "/scep");
	g_assert_cmpstr(f->seen_method, ==, "POST");
	g_assert_true(g_bytes_equal(f->seen_body, message));
}

static void
test_redirect_scheme_change_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->tls_base, "/to-http");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;

	fixture_pin_test_ca(transport);
	fixture_set_reply(f, SOUP_STATUS_OK, "application/x-x509-ca-cert", "cert");
	reply = fixture_get_ca_cert(f, transport, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_HTTP_STATUS);
	assert_error_mentions(error, "from https to http");
	g_assert_cmpuint(f->requests, ==, 0);
}

static void
test_redirect_loop(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/loop");
	g_autoptr(GError) error = NULL;
	g_autofree gchar *caps = NULL;

	caps = fixture_get_caps(f, transport, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_HTTP_STATUS);
	assert_error_mentions(error, "too many redirects");
	/* the first request and five redirects followed */
	g_assert_cmpuint(f->loop_requests, ==, SCEP_TRANSPORT_MAX_REDIRECTS + 1);
}

static void
test_limit_streamed_body(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/big");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;

	g_assert_cmpuint(scep_transport_get_max_response_size(transport), ==, 1024 * 1024);
	reply = fixture_post(f, transport, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
	assert_error_mentions(error, "larger than the limit of 1048576 bytes");
	/* the client gave up while the server was still sending: it never had the whole body */
	g_assert_false(f->stream_finished_at_result);
	g_assert_cmpuint(f->stream_appended_at_result, <, BIG_BODY_SIZE / 2);
	g_assert_cmpuint(f->stream_appended_at_result, >, 1024 * 1024);
}

static void
test_limit_content_length(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/big-length");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;

	reply = fixture_post(f, transport, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
	assert_error_mentions(error, "(10485760 bytes) is larger than the limit");
	/* refused on the headers: at most the first chunks were ever produced */
	g_assert_cmpuint(f->stream_appended_at_result, <=, 4 * BIG_CHUNK_SIZE);
}

static void
test_limit_exact_size_accepted(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;
	g_autofree gchar *body = g_strnfill(1000, 'c');

	scep_transport_set_max_response_size(transport, 1000);
	fixture_set_reply(f, SOUP_STATUS_OK, "application/x-x509-ca-cert", body);
	reply = fixture_get_ca_cert(f, transport, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_bytes_get_size(reply->body), ==, 1000);
}

static void
test_limit_one_byte_over(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;
	g_autofree gchar *body = g_strnfill(1001, 'c');

	scep_transport_set_max_response_size(transport, 1000);
	fixture_set_reply(f, SOUP_STATUS_OK, "application/x-x509-ca-cert", body);
	reply = fixture_get_ca_cert(f, transport, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
	assert_error_mentions(error, "larger than the limit of 1000 bytes");
}

static void
test_timeout_total(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/slow");
	g_autoptr(GError) error = NULL;
	g_autofree gchar *caps = NULL;
	gint64 start = g_get_monotonic_time();
	gint64 elapsed_ms;

	scep_transport_set_timeout(transport, 1);
	caps = fixture_get_caps(f, transport, &error);
	elapsed_ms = (g_get_monotonic_time() - start) / 1000;
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_TIMEOUT);
	assert_error_mentions(error, "no complete reply");
	g_assert_cmpint(elapsed_ms, >=, 900);
	g_assert_cmpint(elapsed_ms, <, 10000);
}

static void
test_timeout_total_during_body(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/slow-body");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;

	scep_transport_set_timeout(transport, 1);
	reply = fixture_post(f, transport, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_TIMEOUT);
	assert_error_mentions(error, "no complete reply");
}

static void
test_timeout_connect(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GSocketAddress) address = NULL;
	g_autoptr(GSocketAddress) effective = NULL;
	g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autofree gchar *base = NULL;
	g_autofree gchar *caps = NULL;

	/* a TCP server that accepts and never speaks: the TLS handshake never completes */
	f->silent = g_socket_service_new();
	address = g_inet_socket_address_new(loopback, 0);
	g_socket_listener_add_address(G_SOCKET_LISTENER(f->silent),
				      address,
				      G_SOCKET_TYPE_STREAM,
				      G_SOCKET_PROTOCOL_TCP,
				      NULL,
				      &effective,
				      &error);
	g_assert_no_error(error);
	g_signal_connect(f->silent, "incoming", G_CALLBACK(fixture_silent_incoming_cb), f);
	g_socket_service_start(f->silent);
	base = g_strdup_printf("https://127.0.0.1:%u",
			       g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(effective)));

	transport = fixture_transport(f, base, "/scep");
	scep_transport_set_connect_timeout(transport, 1);
	scep_transport_set_timeout(transport, 30);
	caps = fixture_get_caps(f, transport, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_TIMEOUT);
	assert_error_mentions(error, "no connection to");
	g_assert_cmpuint(f->silent_connections->len, ==, 1);
}

static void
test_network_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GSocket) socket = NULL;
	g_autoptr(GSocketAddress) address = NULL;
	g_autoptr(GSocketAddress) bound = NULL;
	g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autofree gchar *base = NULL;
	g_autofree gchar *caps = NULL;

	/* a port that is bound (so nobody else takes it) but not listening */
	socket =
	    g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
	g_assert_no_error(error);
	address = g_inet_socket_address_new(loopback, 0);
	g_assert_true(g_socket_bind(socket, address, FALSE, &error));
	bound = g_socket_get_local_address(socket, &error);
	g_assert_no_error(error);
	base = g_strdup_printf("http://127.0.0.1:%u",
			       g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound)));

	transport = fixture_transport(f, base, "/scep");
	caps = fixture_get_caps(f, transport, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_NETWORK);
	assert_error_mentions(error, "refused");
}

static void
test_cancel_while_waiting(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;

	f->cancel_on_request = g_cancellable_new();
	scep_transport_get_ca_cert_async(transport, f->cancel_on_request, fixture_result_cb, f);
	reply = scep_transport_get_ca_cert_finish(transport, fixture_wait(f), &error);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_cmpuint(f->requests, ==, 1);
}

static void
test_cancel_before_start(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	g_autofree gchar *caps = NULL;

	g_cancellable_cancel(cancellable);
	scep_transport_get_ca_caps_async(transport, cancellable, fixture_result_cb, f);
	caps = scep_transport_get_ca_caps_finish(transport, fixture_wait(f), &error);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_cmpuint(f->requests, ==, 0);
}

static void
test_https_pinned_ca(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->tls_base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autofree gchar *caps = NULL;

	fixture_pin_test_ca(transport);
	fixture_set_reply(f, SOUP_STATUS_OK, "text/plain", "SCEPStandard");
	caps = fixture_get_caps(f, transport, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(caps, ==, "SCEPStandard");
}

static void
test_https_relative_ca_file(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->tls_base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autofree gchar *caps = NULL;
	g_autofree gchar *old_dir = g_get_current_dir();
	g_autofree gchar *tls_dir = g_test_build_filename(G_TEST_DIST, "data", "tls", NULL);
	g_autofree gchar *expected = NULL;
	gboolean ok;

	g_assert_cmpint(g_chdir(tls_dir), ==, 0);
	ok = scep_transport_set_ca_file(transport, "ca.pem", &error);
	expected = g_canonicalize_filename("ca.pem", NULL);
	g_assert_cmpint(g_chdir(old_dir), ==, 0);
	g_assert_no_error(error);
	g_assert_true(ok);
	g_assert_true(g_path_is_absolute(scep_transport_get_ca_file(transport)));
	g_assert_cmpstr(scep_transport_get_ca_file(transport), ==, expected);
	fixture_set_reply(f, SOUP_STATUS_OK, "text/plain", "AES");
	caps = fixture_get_caps(f, transport, &error);
	g_assert_no_error(error);
}

static void
test_https_missing_ca_file(void)
{
	g_autoptr(ScepTransport) transport = NULL;
	g_autoptr(GError) error = NULL;

	transport = scep_transport_new("https://127.0.0.1/scep", &error);
	g_assert_no_error(error);
	g_assert_false(scep_transport_set_ca_file(transport, "/nonexistent/ca.pem", &error));
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_INVALID_ARGUMENT);
	g_assert_null(scep_transport_get_ca_file(transport));
}

static void
test_https_system_trust_refuses(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = fixture_transport(f, f->tls_base, "/scep");
	g_autoptr(GError) error = NULL;
	g_autofree gchar *caps = NULL;

	g_assert_null(scep_transport_get_ca_file(transport));
	fixture_set_reply(f, SOUP_STATUS_OK, "text/plain", "AES");
	caps = fixture_get_caps(f, transport, &error);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_NETWORK);
	assert_error_mentions(error, "not trusted");
	g_assert_cmpuint(f->requests, ==, 0);
}

static void
test_proxy_url(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *caps = NULL;
	g_autofree gchar *proxy = g_strconcat("http://", f->proxy_hostport, NULL);

	/* the name cannot resolve: only a proxy can answer */
	transport = fixture_transport(f, "http://ndes.example.invalid", "/certsrv/mscep/mscep.dll");
	g_assert_true(scep_transport_set_proxy(transport, proxy, &error));
	g_assert_no_error(error);
	caps = fixture_get_caps(f, transport, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(caps, ==, "POSTPKIOperation\nSHA-256");
	g_assert_cmpuint(f->proxy_requests, ==, 1);
	g_assert_cmpstr(f->proxy_seen_host, ==, "ndes.example.invalid");
	g_assert_cmpstr(f->proxy_seen_host_header, ==, "ndes.example.invalid");
	g_assert_cmpstr(f->proxy_seen_path, ==, "/certsrv/mscep/mscep.dll");
	g_assert_cmpstr(f->proxy_seen_query, ==, "operation=GetCACaps");
}

static void
test_proxy_host_port(Fixture *f, gconstpointer data)
{
	g_autoptr(ScepTransport) transport = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *caps = NULL;
	g_autofree gchar *expected = g_strconcat("http://", f->proxy_hostport, NULL);

	transport = fixture_transport(f, "http://ndes.example.invalid", "/certsrv/mscep/mscep.dll");
	g_assert_true(scep_transport_set_proxy(transport, f->proxy_hostport, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(scep_transport_get_proxy(transport), ==, expected);
	caps = fixture_get_caps(f, transport, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(f->proxy_requests, ==, 1);
	g_assert_cmpstr(f->proxy_seen_host_header, ==, "ndes.example.invalid");
}

static void
test_proxy_invalid(void)
{
	const gchar *bad[] = { "socks5://127.0.0.1:1080", "http://", "proxy.example" };
	g_autoptr(GError) error_new = NULL;
	g_autoptr(ScepTransport) transport =
	    scep_transport_new("http://ndes.example/scep", &error_new);

	g_assert_no_error(error_new);
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;

		g_assert_false(scep_transport_set_proxy(transport, bad[i], &error));
		g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_INVALID_ARGUMENT);
	}
	g_assert_null(scep_transport_get_proxy(transport));
}

static void
add_fixture_test(const gchar *path, void (*func)(Fixture *, gconstpointer))
{
	g_test_add(path, Fixture, NULL, fixture_set_up, func, fixture_tear_down);
}

int
main(int argc, char **argv)
{
	/* with a proxy, GIO instantiates the default proxy resolver too; glib-networking's GNOME
	 * one needs GSettings schemas, which G_TEST_OPTION_ISOLATE_DIRS hides (fatal error) */
	g_setenv("GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

	g_test_add_func("/scep/transport/new/rejects-bad-urls", test_new_rejects_bad_urls);
	g_test_add_func("/scep/transport/new/accepts-ndes-urls", test_new_accepts_ndes_urls);
	add_fixture_test("/scep/transport/new/keeps-path-and-query", test_new_keeps_path_and_query);
	add_fixture_test("/scep/transport/caps/request", test_caps_request);
	add_fixture_test("/scep/transport/caps/ca-ident", test_caps_ca_ident);
	add_fixture_test("/scep/transport/caps/without-content-type",
			 test_caps_without_content_type);
	add_fixture_test("/scep/transport/caps/html-refused", test_caps_html_refused);
	add_fixture_test("/scep/transport/ca-cert/request", test_ca_cert_request);
	add_fixture_test("/scep/transport/ca-cert/content-type-parameters",
			 test_ca_cert_content_type_parameters);
	add_fixture_test("/scep/transport/ca-cert/wrong-content-type",
			 test_ca_cert_wrong_content_type);
	add_fixture_test("/scep/transport/next-ca-cert/request", test_next_ca_cert_request);
	add_fixture_test("/scep/transport/next-ca-cert/wrong-content-type",
			 test_next_ca_cert_wrong_content_type);
	add_fixture_test("/scep/transport/pki/post", test_pki_post);
	add_fixture_test("/scep/transport/pki/post-content-type", test_pki_post_content_type);
	add_fixture_test("/scep/transport/pki/get-base64", test_pki_get);
	add_fixture_test("/scep/transport/pki/wrong-content-type", test_pki_wrong_content_type);
	add_fixture_test("/scep/transport/pki/empty-reply", test_pki_empty_reply);
	add_fixture_test("/scep/transport/status/500-with-body", test_status_500_with_body);
	add_fixture_test("/scep/transport/status/500-without-body", test_status_500_without_body);
	add_fixture_test("/scep/transport/status/404", test_status_404);
	add_fixture_test("/scep/transport/status/html-excerpt", test_status_html_excerpt);
	add_fixture_test("/scep/transport/status/binary-body", test_status_binary_body);
	add_fixture_test("/scep/transport/status/utf16-page", test_status_utf16_page);
	add_fixture_test("/scep/transport/redirect/same-scheme", test_redirect_same_scheme);
	add_fixture_test("/scep/transport/redirect/keeps-post", test_redirect_keeps_post);
	add_fixture_test("/scep/transport/redirect/scheme-change-refused",
			 test_redirect_scheme_change_refused);
	add_fixture_test("/scep/transport/redirect/loop", test_redirect_loop);
	add_fixture_test("/scep/transport/limit/streamed-body", test_limit_streamed_body);
	add_fixture_test("/scep/transport/limit/content-length", test_limit_content_length);
	add_fixture_test("/scep/transport/limit/exact-size-accepted",
			 test_limit_exact_size_accepted);
	add_fixture_test("/scep/transport/limit/one-byte-over", test_limit_one_byte_over);
	add_fixture_test("/scep/transport/timeout/total", test_timeout_total);
	add_fixture_test("/scep/transport/timeout/total-during-body",
			 test_timeout_total_during_body);
	add_fixture_test("/scep/transport/timeout/connect", test_timeout_connect);
	add_fixture_test("/scep/transport/network/refused", test_network_refused);
	add_fixture_test("/scep/transport/cancel/while-waiting", test_cancel_while_waiting);
	add_fixture_test("/scep/transport/cancel/before-start", test_cancel_before_start);
	add_fixture_test("/scep/transport/https/pinned-ca", test_https_pinned_ca);
	add_fixture_test("/scep/transport/https/relative-ca-file", test_https_relative_ca_file);
	g_test_add_func("/scep/transport/https/missing-ca-file", test_https_missing_ca_file);
	add_fixture_test("/scep/transport/https/system-trust-refuses",
			 test_https_system_trust_refuses);
	add_fixture_test("/scep/transport/proxy/url", test_proxy_url);
	add_fixture_test("/scep/transport/proxy/host-port", test_proxy_host_port);
	g_test_add_func("/scep/transport/proxy/invalid", test_proxy_invalid);

	return g_test_run();
}
