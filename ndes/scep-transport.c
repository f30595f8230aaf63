#include "config.h"

#include "scep-transport.h"

#include <libsoup/soup.h>
#include <string.h>

#include "scep-ndes-error.h"

/*
 * The SCEP HTTP transport: bytes in, bytes out. It knows the SCEP operations' URLs, methods
 * and content types, and nothing about the messages themselves.
 */

#define SCEP_TRANSPORT_USER_AGENT              "scep-agent/" PACKAGE_VERSION
#define SCEP_TRANSPORT_READ_CHUNK              16384
#define SCEP_TRANSPORT_ERROR_BODY              4096 /* bytes of an error page we read at most */
#define SCEP_TRANSPORT_MAX_RESPONSE_SIZE_LIMIT (G_MAXUINT / 2) /* bytes */
#define SCEP_TRANSPORT_EXCERPT_MAX             200 /* printable characters of an error page we show */

struct _ScepTransport {
	GObject parent_instance;
	SoupSession *session; /* owned */
	GUri *uri;            /* owned */
	gchar *url;           /* owned */
	gchar *proxy;         /* owned, nullable */
	gchar *ca_file;       /* owned, nullable: absolute; NULL means system trust */
	gchar *ca_ident;      /* owned, nullable */
	guint connect_timeout;
	guint timeout;
	gsize max_response_size;
};

G_DEFINE_TYPE(ScepTransport, scep_transport, G_TYPE_OBJECT)
G_DEFINE_BOXED_TYPE(ScepTransportReply,
		    scep_transport_reply,
		    scep_transport_reply_copy,
		    scep_transport_reply_free)

enum {
	PROP_0,
	PROP_URL,
	PROP_PROXY,
	PROP_CA_FILE,
	PROP_CONNECT_TIMEOUT,
	PROP_TIMEOUT,
	PROP_MAX_RESPONSE_SIZE,
	PROP_CA_IDENT,
	N_PROPS
};

static GParamSpec *scep_transport_props[N_PROPS] = {
	NULL,
};

typedef enum {
	SCEP_TRANSPORT_KIND_CA_CAPS,
	SCEP_TRANSPORT_KIND_CA_CERT,
	SCEP_TRANSPORT_KIND_NEXT_CA_CERT,
	SCEP_TRANSPORT_KIND_PKI_OPERATION,
} ScepTransportKind;

typedef enum {
	SCEP_TRANSPORT_EXPIRED_NONE,
	SCEP_TRANSPORT_EXPIRED_CONNECT,
	SCEP_TRANSPORT_EXPIRED_TOTAL,
} ScepTransportExpired;

/* one operation, from the first request through redirects to the end of the body */
typedef struct {
	ScepTransport *self; /* unowned: the task holds a reference */
	ScepTransportKind kind;
	const gchar *operation;           /* static */
	const gchar *method;              /* static */
	GBytes *body;                     /* owned, nullable: POST body */
	gboolean body_content_type;       /* send Content-Type with the POST body */
	gsize message_size;               /* for logs only */
	GUri *uri;                        /* owned: the current request URI */
	gchar *display_url;               /* owned: the current URI without the message parameter */
	guint redirects;                  /* redirects followed so far */
	SoupMessage *msg;                 /* owned, nullable */
	gulong wrote_headers_id;          /* on msg */
	GInputStream *stream;             /* owned, nullable */
	GByteArray *buffer;               /* owned, nullable */
	gsize read_limit;                 /* bytes */
	gboolean truncate;                /* reading an error page: stop quietly at read_limit */
	gboolean truncated;               /* ... and it did stop there */
	GCancellable *cancellable;        /* owned: cancelled by the caller and by the deadlines */
	GCancellable *caller_cancellable; /* owned, nullable */
	gulong caller_cancelled_id;       /* on caller_cancellable */
	GSource *connect_source;          /* owned, nullable */
	GSource *deadline_source;         /* owned, nullable */
	ScepTransportExpired expired;
	guint connect_timeout; /* seconds, 0 = none */
	guint timeout;         /* seconds, 0 = none */
	gint64 start_time;     /* monotonic, microseconds */
	guint8 chunk[SCEP_TRANSPORT_READ_CHUNK];
} ScepTransportRequest;

ScepTransportReply *
scep_transport_reply_copy(const ScepTransportReply *reply)
{
	ScepTransportReply *copy = NULL;

	g_return_val_if_fail(reply != NULL, NULL);

	copy = g_new0(ScepTransportReply, 1);
	copy->status = reply->status;
	copy->content_type = g_strdup(reply->content_type);
	copy->body = reply->body != NULL ? g_bytes_ref(reply->body) : NULL;
	return copy;
}

void
scep_transport_reply_free(ScepTransportReply *reply)
{
	if (reply == NULL)
		return;
	g_free(reply->content_type);
	g_clear_pointer(&reply->body, g_bytes_unref);
	g_free(reply);
}

static void
scep_transport_source_clear(GSource **source)
{
	if (*source == NULL)
		return;
	g_source_destroy(*source);
	g_clear_pointer(source, g_source_unref);
}

static void
scep_transport_stream_close_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	/* closing early drops the connection; nothing to report */
	g_input_stream_close_finish(G_INPUT_STREAM(source), result, NULL);
}

/* stop the timers and let go of the connection; the request may still be returned */
static void
scep_transport_request_stop(ScepTransportRequest *req)
{
	scep_transport_source_clear(&req->connect_source);
	scep_transport_source_clear(&req->deadline_source);
	if (req->msg != NULL)
		g_clear_signal_handler(&req->wrote_headers_id, req->msg);
	if (req->stream != NULL) {
		g_input_stream_close_async(
		    req->stream, G_PRIORITY_DEFAULT, NULL, scep_transport_stream_close_cb, NULL);
		g_clear_object(&req->stream);
	}
}

static void
scep_transport_request_free(ScepTransportRequest *req)
{
	scep_transport_request_stop(req);
	if (req->caller_cancelled_id != 0)
		g_cancellable_disconnect(req->caller_cancellable, req->caller_cancelled_id);
	g_clear_object(&req->caller_cancellable);
	g_clear_object(&req->cancellable);
	g_clear_object(&req->msg);
	g_clear_pointer(&req->buffer, g_byte_array_unref);
	g_clear_pointer(&req->body, g_bytes_unref);
	g_clear_pointer(&req->uri, g_uri_unref);
	g_free(req->display_url);
	g_free(req);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepTransportRequest, scep_transport_request_free)

static gint64
scep_transport_request_elapsed_ms(ScepTransportRequest *req)
{
	return (g_get_monotonic_time() - req->start_time) / 1000;
}

/* the URI as text for logs and errors: no user info, no fragment, no message parameter */
static gchar *
scep_transport_uri_to_display(GUri *uri)
{
	g_autofree gchar *base = NULL;
	g_auto(GStrv) params = NULL;
	g_autoptr(GString) query = g_string_new(NULL);
	const gchar *raw_query = g_uri_get_query(uri);

	base = g_uri_to_string_partial(
	    uri, G_URI_HIDE_USERINFO | G_URI_HIDE_QUERY | G_URI_HIDE_FRAGMENT);
	if (raw_query == NULL)
		return g_steal_pointer(&base);
	params = g_strsplit(raw_query, "&", -1);
	for (guint i = 0; params[i] != NULL; i++) {
		if (g_ascii_strncasecmp(params[i], "message=", 8) == 0)
			continue;
		g_string_append(query, query->len > 0 ? "&" : "?");
		g_string_append(query, params[i]);
	}
	return g_strconcat(base, query->str, NULL);
}

static GUri *
scep_transport_parse_url(const gchar *url, GError **error)
{
	g_autoptr(GUri) uri = NULL;
	g_autoptr(GError) error_local = NULL;
	const gchar *scheme = NULL;
	const gchar *host = NULL;

	if (url == NULL || url[0] == '\0') {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_INVALID_ARGUMENT,
				    "no server URL given");
		return NULL;
	}
	uri = g_uri_parse(url, SOUP_HTTP_URI_FLAGS, &error_local);
	if (uri == NULL) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "invalid server URL: %s",
			    error_local->message);
		return NULL;
	}
	if (g_uri_get_userinfo(uri) != NULL) {
		/* the URL ends up in logs; credentials have no place there */
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_INVALID_ARGUMENT,
				    "invalid server URL: user name or password in the URL");
		return NULL;
	}
	scheme = g_uri_get_scheme(uri);
	if (g_strcmp0(scheme, "http") != 0 && g_strcmp0(scheme, "https") != 0) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "invalid server URL %s: scheme %s is neither http nor https",
			    url,
			    scheme);
		return NULL;
	}
	host = g_uri_get_host(uri);
	if (host == NULL || host[0] == '\0') {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "invalid server URL %s: no host",
			    url);
		return NULL;
	}
	return g_steal_pointer(&uri);
}

/* the server URL with operation= (and message= when given, already escaped) appended to any
 * query the URL already has */
static GUri *
scep_transport_build_uri(ScepTransport *self, const gchar *operation, const gchar *message)
{
	g_autoptr(GString) query = g_string_new(NULL);
	const gchar *base_query = g_uri_get_query(self->uri);

	if (base_query != NULL && base_query[0] != '\0') {
		g_string_append(query, base_query);
		g_string_append_c(query, '&');
	}
	g_string_append_printf(query, "operation=%s", operation);
	if (message != NULL)
		g_string_append_printf(query, "&message=%s", message);
	return g_uri_build(SOUP_HTTP_URI_FLAGS,
			   g_uri_get_scheme(self->uri),
			   NULL,
			   g_uri_get_host(self->uri),
			   g_uri_get_port(self->uri),
			   g_uri_get_path(self->uri),
			   query->str,
			   NULL);
}

/* lower-cased media type without parameters, or NULL */
static gchar *
scep_transport_dup_media_type(SoupMessageHeaders *headers)
{
	const gchar *value = soup_message_headers_get_one(headers, "Content-Type");
	g_autofree gchar *type = NULL;

	if (value == NULL)
		return NULL;
	type = g_strndup(value, strcspn(value, ";"));
	g_strstrip(type);
	if (type[0] == '\0')
		return NULL;
	return g_ascii_strdown(type, -1);
}

static gboolean
scep_transport_is_html(const gchar *content_type)
{
	return g_strcmp0(content_type, "text/html") == 0 ||
	       g_strcmp0(content_type, "application/xhtml+xml") == 0;
}

static gboolean
scep_transport_is_text(const gchar *content_type)
{
	return content_type == NULL || g_str_has_prefix(content_type, "text/") ||
	       scep_transport_is_html(content_type) ||
	       g_strcmp0(content_type, "application/xml") == 0 ||
	       g_strcmp0(content_type, "application/json") == 0;
}

/* does the text at p (NUL bytes already removed) open a tag whose content is not text? */
static gboolean
scep_transport_html_opens_code(const gchar *p, gsize len)
{
	const gchar *names[] = { "style", "script" };

	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		gsize n = strlen(names[i]);
		if (len >= n && g_ascii_strncasecmp(p, names[i], n) == 0)
			return TRUE;
	}
	return FALSE;
}

/* the first printable characters of an error page: NUL bytes dropped (NDES pages are UTF-16LE),
 * HTML tags, styles and scripts removed, white space collapsed */
static gchar *
scep_transport_body_excerpt(GByteArray *buffer, const gchar *content_type)
{
	g_autoptr(GString) text = g_string_new(NULL);
	g_autoptr(GString) out = g_string_new(NULL);
	gboolean html = scep_transport_is_html(content_type);
	gboolean in_tag = FALSE;
	gboolean in_code = FALSE;
	gboolean space = FALSE;

	for (guint i = 0; i < buffer->len; i++) {
		if (buffer->data[i] != '\0')
			g_string_append_c(text, (gchar)buffer->data[i]);
	}
	for (gsize i = 0; i < text->len && out->len < SCEP_TRANSPORT_EXCERPT_MAX; i++) {
		gchar c = text->str[i];
		if (html && c == '<') {
			if (in_code && text->str[i + 1] != '/')
				continue;
			in_code =
			    scep_transport_html_opens_code(text->str + i + 1, text->len - i - 1);
			in_tag = TRUE;
			continue;
		}
		if (in_tag) {
			if (c == '>') {
				in_tag = FALSE;
				space = TRUE;
			}
			continue;
		}
		if (in_code)
			continue;
		if (g_ascii_isspace(c)) {
			space = TRUE;
			continue;
		}
		if (!g_ascii_isprint(c))
			continue;
		if (space && out->len > 0)
			g_string_append_c(out, ' ');
		space = FALSE;
		g_string_append_c(out, c);
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

static const gchar *
scep_transport_describe_tls_errors(GTlsCertificateFlags flags)
{
	if (flags & G_TLS_CERTIFICATE_UNKNOWN_CA)
		return "issued by an unknown certificate authority";
	if (flags & G_TLS_CERTIFICATE_BAD_IDENTITY)
		return "issued for another host name";
	if (flags & G_TLS_CERTIFICATE_NOT_ACTIVATED)
		return "not yet valid";
	if (flags & G_TLS_CERTIFICATE_EXPIRED)
		return "expired";
	if (flags & G_TLS_CERTIFICATE_REVOKED)
		return "revoked";
	if (flags & G_TLS_CERTIFICATE_INSECURE)
		return "using an insecure algorithm";
	return "failed validation";
}

/* every failure of sending or reading ends here: timeouts, cancellation, network, TLS */
static void
scep_transport_request_return_io_error(GTask *task, GError *error_io)
{
	ScepTransportRequest *req = g_task_get_task_data(task);
	g_autoptr(GError) error = error_io;
	GTlsCertificateFlags tls_flags = 0;

	scep_transport_request_stop(req);
	if (req->expired == SCEP_TRANSPORT_EXPIRED_CONNECT) {
		g_task_return_new_error(task,
					SCEP_NDES_ERROR,
					SCEP_NDES_ERROR_TIMEOUT,
					"%s: no connection to %s within %u s",
					req->operation,
					req->display_url,
					req->connect_timeout);
		return;
	}
	if (req->expired == SCEP_TRANSPORT_EXPIRED_TOTAL) {
		g_task_return_new_error(task,
					SCEP_NDES_ERROR,
					SCEP_NDES_ERROR_TIMEOUT,
					"%s: no complete reply from %s within %u s",
					req->operation,
					req->display_url,
					req->timeout);
		return;
	}
	if (g_cancellable_is_cancelled(req->caller_cancellable)) {
		if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
			g_clear_error(&error);
			g_set_error_literal(
			    &error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "operation was cancelled");
		}
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
		g_task_return_new_error(task,
					SCEP_NDES_ERROR,
					SCEP_NDES_ERROR_TIMEOUT,
					"%s: %s did not answer in time: %s",
					req->operation,
					req->display_url,
					error->message);
		return;
	}
	if (req->msg != NULL)
		tls_flags = soup_message_get_tls_peer_certificate_errors(req->msg);
	if (error->domain == G_TLS_ERROR && tls_flags != 0) {
		g_task_return_new_error(
		    task,
		    SCEP_NDES_ERROR,
		    SCEP_NDES_ERROR_NETWORK,
		    "%s: TLS connection to %s failed: the server certificate is "
		    "not trusted (%s)",
		    req->operation,
		    req->display_url,
		    scep_transport_describe_tls_errors(tls_flags));
		return;
	}
	if (error->domain == G_TLS_ERROR) {
		g_task_return_new_error(task,
					SCEP_NDES_ERROR,
					SCEP_NDES_ERROR_NETWORK,
					"%s: TLS connection to %s failed: %s",
					req->operation,
					req->display_url,
					error->message);
		return;
	}
	g_task_return_new_error(task,
				SCEP_NDES_ERROR,
				SCEP_NDES_ERROR_NETWORK,
				"%s: cannot reach %s: %s",
				req->operation,
				req->display_url,
				error->message);
}

static void
scep_transport_request_return_error(GTask *task, GError *error)
{
	ScepTransportRequest *req = g_task_get_task_data(task);

	scep_transport_request_stop(req);
	g_task_return_error(task, error);
}

static gboolean
scep_transport_request_connect_timeout_cb(gpointer user_data)
{
	ScepTransportRequest *req = user_data;

	g_clear_pointer(&req->connect_source, g_source_unref);
	if (req->expired == SCEP_TRANSPORT_EXPIRED_NONE)
		req->expired = SCEP_TRANSPORT_EXPIRED_CONNECT;
	g_cancellable_cancel(req->cancellable);
	return G_SOURCE_REMOVE;
}

static gboolean
scep_transport_request_deadline_cb(gpointer user_data)
{
	ScepTransportRequest *req = user_data;

	g_clear_pointer(&req->deadline_source, g_source_unref);
	if (req->expired == SCEP_TRANSPORT_EXPIRED_NONE)
		req->expired = SCEP_TRANSPORT_EXPIRED_TOTAL;
	g_cancellable_cancel(req->cancellable);
	return G_SOURCE_REMOVE;
}

static GSource *
scep_transport_timeout_source_new(guint seconds, GSourceFunc func, gpointer user_data)
{
	GSource *source = g_timeout_source_new((guint)MIN((guint64)seconds * 1000, G_MAXUINT));

	g_source_set_callback(source, func, user_data, NULL);
	g_source_attach(source, g_main_context_get_thread_default());
	return source;
}

static void
scep_transport_request_caller_cancelled_cb(GCancellable *caller_cancellable, gpointer user_data)
{
	g_cancellable_cancel(G_CANCELLABLE(user_data));
}

/* the request headers went out: connected (and TLS handshake done, or the proxy reached) */
static void
scep_transport_request_wrote_headers_cb(SoupMessage *msg, gpointer user_data)
{
	ScepTransportRequest *req = user_data;

	scep_transport_source_clear(&req->connect_source);
}

static void scep_transport_request_send(GTask *task);

static void scep_transport_request_read_next(GTask *task);

static gpointer
scep_transport_request_build_result(GTask *task, GDestroyNotify *free_func, GError **error)
{
	ScepTransportRequest *req = g_task_get_task_data(task);
	SoupMessageHeaders *headers = soup_message_get_response_headers(req->msg);
	g_autofree gchar *content_type = scep_transport_dup_media_type(headers);
	g_autoptr(ScepTransportReply) reply = NULL;
	const gchar *expected = NULL;
	const gchar *expected_alt = NULL;

	switch (req->kind) {
	case SCEP_TRANSPORT_KIND_CA_CAPS:
		if (scep_transport_is_html(content_type)) {
			g_set_error(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "%s: %s answered with an HTML page (%s), not with capabilities",
				    req->operation,
				    req->display_url,
				    content_type);
			return NULL;
		}
		if (content_type != NULL && !g_str_has_prefix(content_type, "text/")) {
			g_set_error(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "%s: unexpected content type %s from %s (expected text/plain)",
				    req->operation,
				    content_type,
				    req->display_url);
			return NULL;
		}
		if (!g_utf8_validate((const gchar *)req->buffer->data, req->buffer->len, NULL)) {
			g_set_error(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "%s: the capabilities from %s are not text",
				    req->operation,
				    req->display_url);
			return NULL;
		}
		*free_func = g_free;
		return g_strndup((const gchar *)req->buffer->data, req->buffer->len);
	case SCEP_TRANSPORT_KIND_CA_CERT:
		expected = "application/x-x509-ca-cert";
		expected_alt = "application/x-x509-ca-ra-cert";
		break;
	case SCEP_TRANSPORT_KIND_NEXT_CA_CERT:
		expected = "application/x-x509-next-ca-cert";
		break;
	case SCEP_TRANSPORT_KIND_PKI_OPERATION:
	default:
		expected = "application/x-pki-message";
		break;
	}
	if (g_strcmp0(content_type, expected) != 0 && g_strcmp0(content_type, expected_alt) != 0) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "%s: unexpected content type %s from %s (expected %s%s%s)",
			    req->operation,
			    content_type != NULL ? content_type : "(none)",
			    req->display_url,
			    expected,
			    expected_alt != NULL ? " or " : "",
			    expected_alt != NULL ? expected_alt : "");
		return NULL;
	}
	if (req->buffer->len == 0) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "%s: empty reply from %s",
			    req->operation,
			    req->display_url);
		return NULL;
	}
	reply = g_new0(ScepTransportReply, 1);
	reply->status = soup_message_get_status(req->msg);
	reply->content_type = g_steal_pointer(&content_type);
	reply->body = g_byte_array_free_to_bytes(g_steal_pointer(&req->buffer));
	*free_func = (GDestroyNotify)scep_transport_reply_free;
	return g_steal_pointer(&reply);
}

/* the whole body (or as much of an error page as we want) has been read */
static void
scep_transport_request_done(GTask *task)
{
	ScepTransportRequest *req = g_task_get_task_data(task);
	SoupMessageHeaders *headers = soup_message_get_response_headers(req->msg);
	guint status = soup_message_get_status(req->msg);
	g_autoptr(GError) error = NULL;
	GDestroyNotify free_func = NULL;
	gpointer result = NULL;

	scep_transport_request_stop(req);
	g_debug("%s: %s %s: HTTP %u, %u bytes in %" G_GINT64_FORMAT " ms",
		req->operation,
		req->method,
		req->display_url,
		status,
		req->buffer->len,
		scep_transport_request_elapsed_ms(req));

	if (!SOUP_STATUS_IS_SUCCESSFUL(status)) {
		g_autofree gchar *content_type = scep_transport_dup_media_type(headers);
		g_autofree gchar *excerpt = NULL;
		const gchar *reason = soup_message_get_reason_phrase(req->msg);

		if (reason == NULL || reason[0] == '\0')
			reason = soup_status_get_phrase(status);
		if (req->buffer->len == 0) {
			excerpt = g_strdup("no body");
		} else if (!scep_transport_is_text(content_type)) {
			excerpt = g_strdup_printf("%s%u bytes of %s",
						  req->truncated ? "more than " : "",
						  req->buffer->len,
						  content_type);
		} else {
			excerpt = scep_transport_body_excerpt(req->buffer, content_type);
			if (excerpt[0] == '\0') {
				g_free(excerpt);
				excerpt = g_strdup("no text in the body");
			}
		}
		g_task_return_new_error(task,
					SCEP_NDES_ERROR,
					SCEP_NDES_ERROR_HTTP_STATUS,
					"%s: HTTP %u %s from %s: %s",
					req->operation,
					status,
					reason != NULL ? reason : "",
					req->display_url,
					excerpt);
		return;
	}

	result = scep_transport_request_build_result(task, &free_func, &error);
	if (result == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	g_task_return_pointer(task, result, free_func);
}

static void
scep_transport_request_read_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = G_TASK(user_data);
	ScepTransportRequest *req = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	gssize n;

	n = g_input_stream_read_finish(G_INPUT_STREAM(source), result, &error);
	if (n < 0) {
		scep_transport_request_return_io_error(task, g_steal_pointer(&error));
		return;
	}
	if (n == 0) {
		scep_transport_request_done(task);
		return;
	}
	g_byte_array_append(req->buffer, req->chunk, (guint)n);
	if (req->truncate && req->buffer->len >= req->read_limit) {
		req->truncated = TRUE;
		scep_transport_request_done(task);
		return;
	}
	if (req->buffer->len > req->read_limit) {
		scep_transport_request_return_error(
		    task,
		    g_error_new(SCEP_NDES_ERROR,
				SCEP_NDES_ERROR_BAD_RESPONSE,
				"%s: the reply from %s is larger than the limit of %" G_GSIZE_FORMAT
				" bytes",
				req->operation,
				req->display_url,
				req->read_limit));
		return;
	}
	scep_transport_request_read_next(g_steal_pointer(&task));
}

static void
scep_transport_request_read_next(GTask *task)
{
	ScepTransportRequest *req = g_task_get_task_data(task);
	gsize want = sizeof(req->chunk);

	/* for an error page, read no more than we keep; otherwise one byte past the limit is
	 * enough to know it is too big */
	if (req->truncate)
		want = MIN(want, req->read_limit - req->buffer->len);
	g_input_stream_read_async(req->stream,
				  req->chunk,
				  want,
				  G_PRIORITY_DEFAULT,
				  req->cancellable,
				  scep_transport_request_read_cb,
				  task);
}

/* a 3xx: follow it ourselves, within the same scheme and a few times only */
static gboolean
scep_transport_request_redirect(ScepTransportRequest *req, guint status, GError **error)
{
	SoupMessageHeaders *headers = soup_message_get_response_headers(req->msg);
	const gchar *location = soup_message_headers_get_one(headers, "Location");
	g_autoptr(GUri) target = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *target_display = NULL;

	if (location == NULL) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_HTTP_STATUS,
			    "%s: HTTP %u redirect from %s without a Location header",
			    req->operation,
			    status,
			    req->display_url);
		return FALSE;
	}
	target = g_uri_parse_relative(req->uri, location, SOUP_HTTP_URI_FLAGS, &error_local);
	if (target == NULL) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_HTTP_STATUS,
			    "%s: HTTP %u redirect from %s to an invalid location: %s",
			    req->operation,
			    status,
			    req->display_url,
			    error_local->message);
		return FALSE;
	}
	target_display = scep_transport_uri_to_display(target);
	if (g_strcmp0(g_uri_get_scheme(target), g_uri_get_scheme(req->uri)) != 0) {
		g_set_error(
		    error,
		    SCEP_NDES_ERROR,
		    SCEP_NDES_ERROR_HTTP_STATUS,
		    "%s: refusing the HTTP %u redirect from %s to %s: it changes the scheme "
		    "from %s to %s",
		    req->operation,
		    status,
		    req->display_url,
		    target_display,
		    g_uri_get_scheme(req->uri),
		    g_uri_get_scheme(target));
		return FALSE;
	}
	if (g_uri_get_host(target) == NULL || g_uri_get_host(target)[0] == '\0') {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_HTTP_STATUS,
			    "%s: HTTP %u redirect from %s to a location without a host",
			    req->operation,
			    status,
			    req->display_url);
		return FALSE;
	}
	if (req->redirects >= SCEP_TRANSPORT_MAX_REDIRECTS) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_HTTP_STATUS,
			    "%s: too many redirects (more than %u), the last from %s to %s",
			    req->operation,
			    (guint)SCEP_TRANSPORT_MAX_REDIRECTS,
			    req->display_url,
			    target_display);
		return FALSE;
	}
	req->redirects++;
	g_debug("%s: HTTP %u redirect %u from %s to %s",
		req->operation,
		status,
		req->redirects,
		req->display_url,
		target_display);

	/* 303 means "get the answer elsewhere"; the others repeat the request as it was */
	if (status == SOUP_STATUS_SEE_OTHER) {
		req->method = SOUP_METHOD_GET;
		g_clear_pointer(&req->body, g_bytes_unref);
	}
	g_clear_pointer(&req->uri, g_uri_unref);
	req->uri = g_steal_pointer(&target);
	g_free(req->display_url);
	req->display_url = g_steal_pointer(&target_display);
	return TRUE;
}

static void
scep_transport_request_send_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = G_TASK(user_data);
	ScepTransportRequest *req = g_task_get_task_data(task);
	SoupMessageHeaders *headers = NULL;
	g_autoptr(GError) error = NULL;
	guint status;

	req->stream = soup_session_send_finish(SOUP_SESSION(source), result, &error);
	scep_transport_source_clear(&req->connect_source);
	if (req->stream == NULL) {
		scep_transport_request_return_io_error(task, g_steal_pointer(&error));
		return;
	}
	status = soup_message_get_status(req->msg);
	headers = soup_message_get_response_headers(req->msg);
	g_debug("%s: %s %s: HTTP %u after %" G_GINT64_FORMAT " ms",
		req->operation,
		req->method,
		req->display_url,
		status,
		scep_transport_request_elapsed_ms(req));

	if (status == SOUP_STATUS_MOVED_PERMANENTLY || status == SOUP_STATUS_FOUND ||
	    status == SOUP_STATUS_SEE_OTHER || status == SOUP_STATUS_TEMPORARY_REDIRECT ||
	    status == SOUP_STATUS_PERMANENT_REDIRECT) {
		if (!scep_transport_request_redirect(req, status, &error)) {
			scep_transport_request_return_error(task, g_steal_pointer(&error));
			return;
		}
		g_input_stream_close_async(
		    req->stream, G_PRIORITY_DEFAULT, NULL, scep_transport_stream_close_cb, NULL);
		g_clear_object(&req->stream);
		g_clear_signal_handler(&req->wrote_headers_id, req->msg);
		g_clear_object(&req->msg);
		scep_transport_request_send(g_steal_pointer(&task));
		return;
	}

	if (SOUP_STATUS_IS_SUCCESSFUL(status)) {
		req->read_limit = req->self->max_response_size;
		req->truncate = FALSE;
		/* refuse a declared oversize body before reading any of it */
		if (soup_message_headers_get_encoding(headers) == SOUP_ENCODING_CONTENT_LENGTH &&
		    (guint64)soup_message_headers_get_content_length(headers) > req->read_limit) {
			scep_transport_request_return_error(
			    task,
			    g_error_new(SCEP_NDES_ERROR,
					SCEP_NDES_ERROR_BAD_RESPONSE,
					"%s: the reply from %s (%" G_GOFFSET_FORMAT
					" bytes) is larger than the limit of %" G_GSIZE_FORMAT
					" bytes",
					req->operation,
					req->display_url,
					soup_message_headers_get_content_length(headers),
					req->read_limit));
			return;
		}
	} else {
		req->read_limit = MIN(req->self->max_response_size, SCEP_TRANSPORT_ERROR_BODY);
		req->truncate = TRUE;
	}
	req->buffer = g_byte_array_new();
	scep_transport_request_read_next(g_steal_pointer(&task));
}

static void
scep_transport_request_send(GTask *task)
{
	ScepTransportRequest *req = g_task_get_task_data(task);
	ScepTransport *self = req->self;

	req->msg = soup_message_new_from_uri(req->method, req->uri);
	soup_message_add_flags(req->msg, SOUP_MESSAGE_NO_REDIRECT);
	if (req->body != NULL) {
		soup_message_set_request_body_from_bytes(
		    req->msg,
		    req->body_content_type ? "application/x-pki-message" : NULL,
		    req->body);
	}
	req->wrote_headers_id = g_signal_connect(
	    req->msg, "wrote-headers", G_CALLBACK(scep_transport_request_wrote_headers_cb), req);
	if (req->connect_timeout > 0) {
		scep_transport_source_clear(&req->connect_source);
		req->connect_source = scep_transport_timeout_source_new(
		    req->connect_timeout, scep_transport_request_connect_timeout_cb, req);
	}
	if (req->message_size > 0) {
		g_debug("%s: %s %s, message of %" G_GSIZE_FORMAT " bytes",
			req->operation,
			req->method,
			req->display_url,
			req->message_size);
	} else {
		g_debug("%s: %s %s", req->operation, req->method, req->display_url);
	}
	soup_session_send_async(self->session,
				req->msg,
				G_PRIORITY_DEFAULT,
				req->cancellable,
				scep_transport_request_send_cb,
				task);
}

static ScepTransportRequest *
scep_transport_request_new(ScepTransport *self,
			   ScepTransportKind kind,
			   const gchar *operation,
			   const gchar *message)
{
	ScepTransportRequest *req = g_new0(ScepTransportRequest, 1);

	req->self = self;
	req->kind = kind;
	req->operation = operation;
	req->method = SOUP_METHOD_GET;
	req->uri = scep_transport_build_uri(self, operation, message);
	req->display_url = scep_transport_uri_to_display(req->uri);
	req->cancellable = g_cancellable_new();
	req->connect_timeout = self->connect_timeout;
	req->timeout = self->timeout;
	return req;
}

static void
scep_transport_request_start(ScepTransport *self,
			     ScepTransportRequest *req_owned,
			     GCancellable *cancellable,
			     GAsyncReadyCallback callback,
			     gpointer user_data,
			     gpointer source_tag)
{
	g_autoptr(ScepTransportRequest) req = req_owned;
	g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
	ScepTransportRequest *req_unowned = req;

	g_task_set_source_tag(task, source_tag);
	g_task_set_task_data(
	    task, g_steal_pointer(&req), (GDestroyNotify)scep_transport_request_free);
	req_unowned->start_time = g_get_monotonic_time();
	if (cancellable != NULL) {
		req_unowned->caller_cancellable = g_object_ref(cancellable);
		/* runs at once when already cancelled */
		req_unowned->caller_cancelled_id =
		    g_cancellable_connect(cancellable,
					  G_CALLBACK(scep_transport_request_caller_cancelled_cb),
					  g_object_ref(req_unowned->cancellable),
					  g_object_unref);
	}
	if (req_unowned->timeout > 0) {
		req_unowned->deadline_source = scep_transport_timeout_source_new(
		    req_unowned->timeout, scep_transport_request_deadline_cb, req_unowned);
	}
	scep_transport_request_send(g_steal_pointer(&task));
}

/* GET `?operation=@operation&message=<CA identifier>`, the identifier URL-escaped; when
 * @always_ident is FALSE the message parameter is left out without an identifier */
static void
scep_transport_start_ca_operation(ScepTransport *self,
				  ScepTransportKind kind,
				  const gchar *operation,
				  gboolean always_ident,
				  GCancellable *cancellable,
				  GAsyncReadyCallback callback,
				  gpointer user_data,
				  gpointer source_tag)
{
	g_autofree gchar *ident = NULL;

	if (self->ca_ident != NULL || always_ident)
		ident =
		    g_uri_escape_string(self->ca_ident != NULL ? self->ca_ident : "", NULL, FALSE);
	scep_transport_request_start(self,
				     scep_transport_request_new(self, kind, operation, ident),
				     cancellable,
				     callback,
				     user_data,
				     source_tag);
}

static gpointer
scep_transport_operation_finish(ScepTransport *self,
				GAsyncResult *result,
				gpointer source_tag,
				GError **error)
{
	g_return_val_if_fail(SCEP_IS_TRANSPORT(self), NULL);
	g_return_val_if_fail(g_task_is_valid(result, self), NULL);
	g_return_val_if_fail(g_async_result_is_tagged(result, source_tag), NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

/**
 * scep_transport_get_ca_caps_async:
 *
 * GET `?operation=GetCACaps` (with `&message=<CA identifier>` when one is set). The result is
 * the body as text: any text type or none is accepted, an HTML page is an error.
 */
void
scep_transport_get_ca_caps_async(ScepTransport *self,
				 GCancellable *cancellable,
				 GAsyncReadyCallback callback,
				 gpointer user_data)
{
	g_return_if_fail(SCEP_IS_TRANSPORT(self));
	g_return_if_fail(self->uri != NULL);
	scep_transport_start_ca_operation(self,
					  SCEP_TRANSPORT_KIND_CA_CAPS,
					  "GetCACaps",
					  FALSE,
					  cancellable,
					  callback,
					  user_data,
					  scep_transport_get_ca_caps_async);
}

/**
 * scep_transport_get_ca_caps_finish:
 *
 * Returns: (transfer full): the capabilities text as the server sent it, or %NULL
 */
gchar *
scep_transport_get_ca_caps_finish(ScepTransport *self, GAsyncResult *result, GError **error)
{
	return scep_transport_operation_finish(
	    self, result, scep_transport_get_ca_caps_async, error);
}

/**
 * scep_transport_get_ca_cert_async:
 *
 * GET `?operation=GetCACert&message=<CA identifier>` (the identifier URL-escaped, empty when
 * none is set). Accepted content types: `application/x-x509-ca-cert` (one DER certificate)
 * and `application/x-x509-ca-ra-cert` (a degenerate PKCS#7).
 */
void
scep_transport_get_ca_cert_async(ScepTransport *self,
				 GCancellable *cancellable,
				 GAsyncReadyCallback callback,
				 gpointer user_data)
{
	g_return_if_fail(SCEP_IS_TRANSPORT(self));
	g_return_if_fail(self->uri != NULL);
	scep_transport_start_ca_operation(self,
					  SCEP_TRANSPORT_KIND_CA_CERT,
					  "GetCACert",
					  TRUE,
					  cancellable,
					  callback,
					  user_data,
					  scep_transport_get_ca_cert_async);
}

ScepTransportReply *
scep_transport_get_ca_cert_finish(ScepTransport *self, GAsyncResult *result, GError **error)
{
	return scep_transport_operation_finish(
	    self, result, scep_transport_get_ca_cert_async, error);
}

/**
 * scep_transport_get_next_ca_cert_async:
 *
 * GET `?operation=GetNextCACert&message=<CA identifier>`; the reply must be
 * `application/x-x509-next-ca-cert`.
 */
void
scep_transport_get_next_ca_cert_async(ScepTransport *self,
				      GCancellable *cancellable,
				      GAsyncReadyCallback callback,
				      gpointer user_data)
{
	g_return_if_fail(SCEP_IS_TRANSPORT(self));
	g_return_if_fail(self->uri != NULL);
	scep_transport_start_ca_operation(self,
					  SCEP_TRANSPORT_KIND_NEXT_CA_CERT,
					  "GetNextCACert",
					  TRUE,
					  cancellable,
					  callback,
					  user_data,
					  scep_transport_get_next_ca_cert_async);
}

ScepTransportReply *
scep_transport_get_next_ca_cert_finish(ScepTransport *self, GAsyncResult *result, GError **error)
{
	return scep_transport_operation_finish(
	    self, result, scep_transport_get_next_ca_cert_async, error);
}

/**
 * scep_transport_pki_operation_async:
 * @message: the DER pkiMessage (PKCSReq, RenewalReq, CertPoll, GetCert or GetCRL)
 * @flags: POST or GET, and whether a POST carries a Content-Type
 *
 * POST `?operation=PKIOperation` with the DER as the body, or GET with
 * `&message=<percent-encoded standard base64>`. The reply must be `application/x-pki-message`.
 */
void
scep_transport_pki_operation_async(ScepTransport *self,
				   GBytes *message,
				   ScepTransportPkiFlags flags,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data)
{
	ScepTransportRequest *req = NULL;
	g_autofree gchar *escaped = NULL;

	g_return_if_fail(SCEP_IS_TRANSPORT(self));
	g_return_if_fail(self->uri != NULL);
	g_return_if_fail(message != NULL);

	if (g_bytes_get_size(message) == 0) {
		g_task_report_new_error(self,
					callback,
					user_data,
					scep_transport_pki_operation_async,
					SCEP_NDES_ERROR,
					SCEP_NDES_ERROR_INVALID_ARGUMENT,
					"PKIOperation: empty message");
		return;
	}
	if (flags & SCEP_TRANSPORT_PKI_FLAGS_POST) {
		req = scep_transport_request_new(
		    self, SCEP_TRANSPORT_KIND_PKI_OPERATION, "PKIOperation", NULL);
		req->method = SOUP_METHOD_POST;
		req->body = g_bytes_ref(message);
		req->body_content_type = (flags & SCEP_TRANSPORT_PKI_FLAGS_CONTENT_TYPE) != 0;
	} else {
		gsize size = 0;
		gconstpointer data = g_bytes_get_data(message, &size);
		g_autofree gchar *b64 = g_base64_encode(data, size);

		/* NULL allowed set: '+', '/' and '=' become %2B, %2F and %3D */
		escaped = g_uri_escape_string(b64, NULL, FALSE);
		req = scep_transport_request_new(
		    self, SCEP_TRANSPORT_KIND_PKI_OPERATION, "PKIOperation", escaped);
	}
	req->message_size = g_bytes_get_size(message);
	scep_transport_request_start(
	    self, req, cancellable, callback, user_data, scep_transport_pki_operation_async);
}

ScepTransportReply *
scep_transport_pki_operation_finish(ScepTransport *self, GAsyncResult *result, GError **error)
{
	return scep_transport_operation_finish(
	    self, result, scep_transport_pki_operation_async, error);
}

/**
 * scep_transport_new:
 * @url: the SCEP URL, e.g. `http://ndes.example/certsrv/mscep/mscep.dll`; any query it has
 *   is kept and the SCEP parameters are appended to it
 *
 * Returns: (transfer full): a transport using system trust, no proxy, default timeouts and
 *   the default response size limit, or %NULL when @url is not an http or https URL with a host
 */
ScepTransport *
scep_transport_new(const gchar *url, GError **error)
{
	g_autoptr(GUri) uri = scep_transport_parse_url(url, error);
	ScepTransport *self = NULL;

	if (uri == NULL)
		return NULL;
	self = g_object_new(SCEP_TYPE_TRANSPORT, NULL);
	self->uri = g_steal_pointer(&uri);
	self->url = g_uri_to_string_partial(self->uri, G_URI_HIDE_FRAGMENT);
	return self;
}

const gchar *
scep_transport_get_url(ScepTransport *self)
{
	g_return_val_if_fail(SCEP_IS_TRANSPORT(self), NULL);
	return self->url;
}

/**
 * scep_transport_set_proxy:
 * @proxy: (nullable): `http://host:port` or `host:port`; %NULL or "" for direct connections
 *
 * Applies to connections made after the call.
 */
gboolean
scep_transport_set_proxy(ScepTransport *self, const gchar *proxy, GError **error)
{
	g_autofree gchar *proxy_url = NULL;
	g_autoptr(GUri) uri = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GProxyResolver) resolver = NULL;

	g_return_val_if_fail(SCEP_IS_TRANSPORT(self), FALSE);

	if (proxy == NULL || proxy[0] == '\0') {
		soup_session_set_proxy_resolver(self->session, NULL);
		g_clear_pointer(&self->proxy, g_free);
		g_object_notify_by_pspec(G_OBJECT(self), scep_transport_props[PROP_PROXY]);
		return TRUE;
	}
	proxy_url =
	    strstr(proxy, "://") != NULL ? g_strdup(proxy) : g_strconcat("http://", proxy, NULL);
	uri = g_uri_parse(proxy_url, G_URI_FLAGS_NONE, &error_local);
	if (uri == NULL) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "invalid proxy %s: %s",
			    proxy,
			    error_local->message);
		return FALSE;
	}
	if (g_strcmp0(g_uri_get_scheme(uri), "http") != 0) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "invalid proxy %s: only http proxies are supported",
			    proxy);
		return FALSE;
	}
	if (g_uri_get_host(uri) == NULL || g_uri_get_host(uri)[0] == '\0' ||
	    g_uri_get_port(uri) <= 0) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "invalid proxy %s: expected http://host:port or host:port",
			    proxy);
		return FALSE;
	}
	resolver = g_simple_proxy_resolver_new(proxy_url, NULL);
	soup_session_set_proxy_resolver(self->session, resolver);
	g_free(self->proxy);
	self->proxy = g_steal_pointer(&proxy_url);
	g_object_notify_by_pspec(G_OBJECT(self), scep_transport_props[PROP_PROXY]);
	return TRUE;
}

/**
 * scep_transport_get_proxy:
 *
 * Returns: (nullable): the proxy as an `http://host:port` URL, or %NULL for direct connections
 */
const gchar *
scep_transport_get_proxy(ScepTransport *self)
{
	g_return_val_if_fail(SCEP_IS_TRANSPORT(self), NULL);
	return self->proxy;
}

/**
 * scep_transport_set_ca_file:
 * @ca_file: (nullable): PEM file of the CA certificates to trust for https (relative paths
 *   are made absolute against the current directory); %NULL for system trust
 *
 * Applies to connections made after the call.
 */
gboolean
scep_transport_set_ca_file(ScepTransport *self, const gchar *ca_file, GError **error)
{
	g_autofree gchar *path = NULL;
	g_autoptr(GTlsDatabase) database = NULL;
	g_autoptr(GError) error_local = NULL;

	g_return_val_if_fail(SCEP_IS_TRANSPORT(self), FALSE);

	if (ca_file == NULL || ca_file[0] == '\0') {
		GTlsBackend *backend = g_tls_backend_get_default();
		database = g_tls_backend_get_default_database(backend);
		/* a NULL database would make every certificate fail validation */
		soup_session_set_tls_database(self->session, database);
		g_clear_pointer(&self->ca_file, g_free);
		g_object_notify_by_pspec(G_OBJECT(self), scep_transport_props[PROP_CA_FILE]);
		return TRUE;
	}
	/* GTlsFileDatabase fails every validation with a relative path */
	path = g_canonicalize_filename(ca_file, NULL);
	database = g_tls_file_database_new(path, &error_local);
	if (database == NULL) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "cannot use %s as CA file: %s",
			    path,
			    error_local->message);
		return FALSE;
	}
	soup_session_set_tls_database(self->session, database);
	g_free(self->ca_file);
	self->ca_file = g_steal_pointer(&path);
	g_object_notify_by_pspec(G_OBJECT(self), scep_transport_props[PROP_CA_FILE]);
	return TRUE;
}

/**
 * scep_transport_get_ca_file:
 *
 * Returns: (nullable): the absolute path of the pinned CA file, or %NULL for system trust
 */
const gchar *
scep_transport_get_ca_file(ScepTransport *self)
{
	g_return_val_if_fail(SCEP_IS_TRANSPORT(self), NULL);
	return self->ca_file;
}

/**
 * scep_transport_set_connect_timeout:
 * @seconds: time allowed from the start of a request until its headers are sent (DNS, TCP,
 *   proxy, TLS handshake); 0 for none
 */
void
scep_transport_set_connect_timeout(ScepTransport *self, guint seconds)
{
	g_return_if_fail(SCEP_IS_TRANSPORT(self));
	if (self->connect_timeout == seconds)
		return;
	self->connect_timeout = seconds;
	g_object_notify_by_pspec(G_OBJECT(self), scep_transport_props[PROP_CONNECT_TIMEOUT]);
}

guint
scep_transport_get_connect_timeout(ScepTransport *self)
{
	g_return_val_if_fail(SCEP_IS_TRANSPORT(self), 0);
	return self->connect_timeout;
}

/**
 * scep_transport_set_timeout:
 * @seconds: time allowed for a whole operation, redirects and body included; 0 for none
 */
void
scep_transport_set_timeout(ScepTransport *self, guint seconds)
{
	g_return_if_fail(SCEP_IS_TRANSPORT(self));
	if (self->timeout == seconds)
		return;
	self->timeout = seconds;
	/* libsoup's own I/O inactivity timeout, never shorter than our deadline */
	soup_session_set_timeout(self->session, seconds);
	g_object_notify_by_pspec(G_OBJECT(self), scep_transport_props[PROP_TIMEOUT]);
}

guint
scep_transport_get_timeout(ScepTransport *self)
{
	g_return_val_if_fail(SCEP_IS_TRANSPORT(self), 0);
	return self->timeout;
}

/**
 * scep_transport_set_max_response_size:
 * @max_size: the largest successful reply body accepted, in bytes (1 to 2 GiB)
 */
void
scep_transport_set_max_response_size(ScepTransport *self, gsize max_size)
{
	g_return_if_fail(SCEP_IS_TRANSPORT(self));
	g_return_if_fail(max_size > 0);
	/* the body is collected in a GByteArray, whose length is a guint */
	g_return_if_fail(max_size <= SCEP_TRANSPORT_MAX_RESPONSE_SIZE_LIMIT);
	if (self->max_response_size == max_size)
		return;
	self->max_response_size = max_size;
	g_object_notify_by_pspec(G_OBJECT(self), scep_transport_props[PROP_MAX_RESPONSE_SIZE]);
}

gsize
scep_transport_get_max_response_size(ScepTransport *self)
{
	g_return_val_if_fail(SCEP_IS_TRANSPORT(self), 0);
	return self->max_response_size;
}

/**
 * scep_transport_set_ca_ident:
 * @ca_ident: (nullable): the CA identifier sent as `message=` with GetCACaps, GetCACert and
 *   GetNextCACert; %NULL for none
 */
void
scep_transport_set_ca_ident(ScepTransport *self, const gchar *ca_ident)
{
	g_return_if_fail(SCEP_IS_TRANSPORT(self));
	if (ca_ident != NULL && ca_ident[0] == '\0')
		ca_ident = NULL;
	if (g_strcmp0(self->ca_ident, ca_ident) == 0)
		return;
	g_free(self->ca_ident);
	self->ca_ident = g_strdup(ca_ident);
	g_object_notify_by_pspec(G_OBJECT(self), scep_transport_props[PROP_CA_IDENT]);
}

const gchar *
scep_transport_get_ca_ident(ScepTransport *self)
{
	g_return_val_if_fail(SCEP_IS_TRANSPORT(self), NULL);
	return self->ca_ident;
}

static void
scep_transport_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	ScepTransport *self = SCEP_TRANSPORT(object);

	switch (prop_id) {
	case PROP_URL:
		g_value_set_string(value, self->url);
		break;
	case PROP_PROXY:
		g_value_set_string(value, self->proxy);
		break;
	case PROP_CA_FILE:
		g_value_set_string(value, self->ca_file);
		break;
	case PROP_CONNECT_TIMEOUT:
		g_value_set_uint(value, self->connect_timeout);
		break;
	case PROP_TIMEOUT:
		g_value_set_uint(value, self->timeout);
		break;
	case PROP_MAX_RESPONSE_SIZE:
		g_value_set_uint64(value, self->max_response_size);
		break;
	case PROP_CA_IDENT:
		g_value_set_string(value, self->ca_ident);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
		break;
	}
}

static void
scep_transport_set_property(GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
	ScepTransport *self = SCEP_TRANSPORT(object);

	switch (prop_id) {
	case PROP_CONNECT_TIMEOUT:
		scep_transport_set_connect_timeout(self, g_value_get_uint(value));
		break;
	case PROP_TIMEOUT:
		scep_transport_set_timeout(self, g_value_get_uint(value));
		break;
	case PROP_MAX_RESPONSE_SIZE:
		scep_transport_set_max_response_size(self, (gsize)g_value_get_uint64(value));
		break;
	case PROP_CA_IDENT:
		scep_transport_set_ca_ident(self, g_value_get_string(value));
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
		break;
	}
}

static void
scep_transport_dispose(GObject *object)
{
	ScepTransport *self = SCEP_TRANSPORT(object);

	if (self->session != NULL)
		soup_session_abort(self->session);
	g_clear_object(&self->session);
	G_OBJECT_CLASS(scep_transport_parent_class)->dispose(object);
}

static void
scep_transport_finalize(GObject *object)
{
	ScepTransport *self = SCEP_TRANSPORT(object);

	g_clear_pointer(&self->uri, g_uri_unref);
	g_free(self->url);
	g_free(self->proxy);
	g_free(self->ca_file);
	g_free(self->ca_ident);
	G_OBJECT_CLASS(scep_transport_parent_class)->finalize(object);
}

static void
scep_transport_class_init(ScepTransportClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->get_property = scep_transport_get_property;
	object_class->set_property = scep_transport_set_property;
	object_class->dispose = scep_transport_dispose;
	object_class->finalize = scep_transport_finalize;

	scep_transport_props[PROP_URL] =
	    g_param_spec_string("url", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	scep_transport_props[PROP_PROXY] = g_param_spec_string(
	    "proxy",
	    NULL,
	    NULL,
	    NULL,
	    G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
	scep_transport_props[PROP_CA_FILE] = g_param_spec_string(
	    "ca-file",
	    NULL,
	    NULL,
	    NULL,
	    G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
	scep_transport_props[PROP_CONNECT_TIMEOUT] =
	    g_param_spec_uint("connect-timeout",
			      NULL,
			      NULL,
			      0,
			      G_MAXUINT,
			      SCEP_TRANSPORT_DEFAULT_CONNECT_TIMEOUT,
			      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
	scep_transport_props[PROP_TIMEOUT] =
	    g_param_spec_uint("timeout",
			      NULL,
			      NULL,
			      0,
			      G_MAXUINT,
			      SCEP_TRANSPORT_DEFAULT_TIMEOUT,
			      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
	scep_transport_props[PROP_MAX_RESPONSE_SIZE] = g_param_spec_uint64(
	    "max-response-size",
	    NULL,
	    NULL,
	    1,
	    SCEP_TRANSPORT_MAX_RESPONSE_SIZE_LIMIT,
	    SCEP_TRANSPORT_DEFAULT_MAX_RESPONSE_SIZE,
	    G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
	scep_transport_props[PROP_CA_IDENT] = g_param_spec_string(
	    "ca-ident",
	    NULL,
	    NULL,
	    NULL,
	    G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
	g_object_class_install_properties(object_class, N_PROPS, scep_transport_props);
}

static void
scep_transport_init(ScepTransport *self)
{
	self->connect_timeout = SCEP_TRANSPORT_DEFAULT_CONNECT_TIMEOUT;
	self->timeout = SCEP_TRANSPORT_DEFAULT_TIMEOUT;
	self->max_response_size = SCEP_TRANSPORT_DEFAULT_MAX_RESPONSE_SIZE;
	self->session = soup_session_new_with_options(
	    "user-agent", SCEP_TRANSPORT_USER_AGENT, "timeout", self->timeout, NULL);
	/* direct connections unless a proxy is configured: no environment proxies */
	soup_session_set_proxy_resolver(self->session, NULL);
}
