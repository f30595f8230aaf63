#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * ScepTransportReply:
 * @status: the final HTTP status code (2xx; other statuses are errors)
 * @content_type: the lower-cased media type without parameters, or %NULL when the
 *   server sent none
 * @body: the response body, never %NULL (possibly empty)
 *
 * What the server answered to one SCEP HTTP operation.
 */
typedef struct {
	guint status;
	gchar *content_type; /* owned, nullable */
	GBytes *body;        /* owned */
} ScepTransportReply;

#define SCEP_TYPE_TRANSPORT_REPLY (scep_transport_reply_get_type())
GType scep_transport_reply_get_type(void);
ScepTransportReply *scep_transport_reply_copy(const ScepTransportReply *reply);
void scep_transport_reply_free(ScepTransportReply *reply);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepTransportReply, scep_transport_reply_free)

/**
 * ScepTransportPkiFlags:
 * @SCEP_TRANSPORT_PKI_FLAGS_NONE: GET with the message base64-encoded in the query
 * @SCEP_TRANSPORT_PKI_FLAGS_POST: POST the DER message as the body (when the server
 *   advertises `POSTPKIOperation` or `SCEPStandard`)
 * @SCEP_TRANSPORT_PKI_FLAGS_CONTENT_TYPE: with POST, send
 *   `Content-Type: application/x-pki-message` (the body stays raw DER)
 */
typedef enum {
	SCEP_TRANSPORT_PKI_FLAGS_NONE = 0,
	SCEP_TRANSPORT_PKI_FLAGS_POST = 1 << 0,
	SCEP_TRANSPORT_PKI_FLAGS_CONTENT_TYPE = 1 << 1,
} ScepTransportPkiFlags;

/* defaults */
#define SCEP_TRANSPORT_DEFAULT_CONNECT_TIMEOUT   30        /* seconds */
#define SCEP_TRANSPORT_DEFAULT_TIMEOUT           120       /* seconds */
#define SCEP_TRANSPORT_DEFAULT_MAX_RESPONSE_SIZE (1 << 20) /* bytes */
#define SCEP_TRANSPORT_MAX_REDIRECTS             5

#define SCEP_TYPE_TRANSPORT (scep_transport_get_type())
G_DECLARE_FINAL_TYPE(ScepTransport, scep_transport, SCEP, TRANSPORT, GObject)

ScepTransport *scep_transport_new(const gchar *url, GError **error);

const gchar *scep_transport_get_url(ScepTransport *self);

gboolean scep_transport_set_proxy(ScepTransport *self, const gchar *proxy, GError **error);
const gchar *scep_transport_get_proxy(ScepTransport *self);

gboolean scep_transport_set_ca_file(ScepTransport *self, const gchar *ca_file, GError **error);
const gchar *scep_transport_get_ca_file(ScepTransport *self);

void scep_transport_set_connect_timeout(ScepTransport *self, guint seconds);
guint scep_transport_get_connect_timeout(ScepTransport *self);

void scep_transport_set_timeout(ScepTransport *self, guint seconds);
guint scep_transport_get_timeout(ScepTransport *self);

void scep_transport_set_max_response_size(ScepTransport *self, gsize max_size);
gsize scep_transport_get_max_response_size(ScepTransport *self);

void scep_transport_set_ca_ident(ScepTransport *self, const gchar *ca_ident);
const gchar *scep_transport_get_ca_ident(ScepTransport *self);

void scep_transport_get_ca_caps_async(ScepTransport *self,
				      GCancellable *cancellable,
				      GAsyncReadyCallback callback,
				      gpointer user_data);
gchar *scep_transport_get_ca_caps_finish(ScepTransport *self, GAsyncResult *result, GError **error);

void scep_transport_get_ca_cert_async(ScepTransport *self,
				      GCancellable *cancellable,
				      GAsyncReadyCallback callback,
				      gpointer user_data);
ScepTransportReply *
scep_transport_get_ca_cert_finish(ScepTransport *self, GAsyncResult *result, GError **error);

void scep_transport_get_next_ca_cert_async(ScepTransport *self,
					   GCancellable *cancellable,
					   GAsyncReadyCallback callback,
					   gpointer user_data);
ScepTransportReply *
scep_transport_get_next_ca_cert_finish(ScepTransport *self, GAsyncResult *result, GError **error);

void scep_transport_pki_operation_async(ScepTransport *self,
					GBytes *message,
					ScepTransportPkiFlags flags,
					GCancellable *cancellable,
					GAsyncReadyCallback callback,
					gpointer user_data);
ScepTransportReply *
scep_transport_pki_operation_finish(ScepTransport *self, GAsyncResult *result, GError **error);

G_END_DECLS
