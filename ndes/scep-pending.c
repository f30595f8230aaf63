#include "config.h"

#include "scep-pending.h"

#include <string.h>

#include "scep-csr.h"
#include "scep-ndes-error.h"

#define SCEP_PENDING_GROUP "pending"

typedef struct {
	gpointer data;
	gsize size;
} ScepPendingSecret;

static void
scep_pending_secret_free(gpointer user_data)
{
	ScepPendingSecret *secret = user_data;
	gnutls_memset(secret->data, 0, secret->size);
	g_free(secret->data);
	g_free(secret);
}

GBytes *
scep_pending_secret_bytes_new(gconstpointer data, gsize size)
{
	ScepPendingSecret *secret = g_new0(ScepPendingSecret, 1);
	secret->data = g_memdup2(data, size);
	secret->size = size;
	return g_bytes_new_with_free_func(secret->data, size, scep_pending_secret_free, secret);
}

ScepPending *
scep_pending_new(void)
{
	ScepPending *self = g_new0(ScepPending, 1);
	self->message_type = SCEP_MESSAGE_TYPE_PKCS_REQ;
	self->ca_certs_der = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	return self;
}

static GBytes *
scep_pending_bytes_ref0(GBytes *bytes)
{
	return bytes != NULL ? g_bytes_ref(bytes) : NULL;
}

ScepPending *
scep_pending_copy(const ScepPending *self)
{
	ScepPending *copy = scep_pending_new();
	copy->url = g_strdup(self->url);
	copy->ca_ident = g_strdup(self->ca_ident);
	copy->transaction_id = g_strdup(self->transaction_id);
	copy->message_type = self->message_type;
	copy->key_pem = scep_pending_bytes_ref0(self->key_pem);
	copy->key_path = g_strdup(self->key_path);
	copy->signer_cert_der = scep_pending_bytes_ref0(self->signer_cert_der);
	copy->signer_key_pem = scep_pending_bytes_ref0(self->signer_key_pem);
	copy->subject_der = scep_pending_bytes_ref0(self->subject_der);
	for (guint i = 0; i < self->ca_certs_der->len; i++)
		g_ptr_array_add(copy->ca_certs_der,
				g_bytes_ref(g_ptr_array_index(self->ca_certs_der, i)));
	memcpy(copy->sender_nonce, self->sender_nonce, SCEP_NONCE_SIZE);
	copy->first_submitted = self->first_submitted;
	copy->last_polled = self->last_polled;
	copy->poll_count = self->poll_count;
	copy->cipher = self->cipher;
	copy->digest = self->digest;
	copy->post = self->post;
	copy->send_content_type = self->send_content_type;
	return copy;
}

void
scep_pending_free(ScepPending *self)
{
	if (self == NULL)
		return;
	g_free(self->url);
	g_free(self->ca_ident);
	g_free(self->transaction_id);
	g_clear_pointer(&self->key_pem, g_bytes_unref);
	g_free(self->key_path);
	g_clear_pointer(&self->signer_cert_der, g_bytes_unref);
	g_clear_pointer(&self->signer_key_pem, g_bytes_unref);
	g_clear_pointer(&self->subject_der, g_bytes_unref);
	g_ptr_array_unref(self->ca_certs_der);
	g_free(self);
}

void
scep_pending_text_free(gchar *text)
{
	if (text == NULL)
		return;
	gnutls_memset(text, 0, strlen(text));
	g_free(text);
}

static void
scep_pending_set_base64(GKeyFile *kf, const gchar *key, GBytes *bytes)
{
	g_autofree gchar *b64 = NULL;
	if (bytes == NULL)
		return;
	b64 = g_base64_encode(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
	g_key_file_set_string(kf, SCEP_PENDING_GROUP, key, b64);
}

static void
scep_pending_set_secret(GKeyFile *kf, const gchar *key, GBytes *pem)
{
	gsize size = 0;
	const gchar *data;
	gchar *text;
	if (pem == NULL)
		return;
	data = g_bytes_get_data(pem, &size);
	text = g_strndup(data, size);
	g_key_file_set_string(kf, SCEP_PENDING_GROUP, key, text);
	scep_pending_text_free(text);
}

gchar *
scep_pending_to_data(const ScepPending *self, gsize *length)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autofree gchar *nonce = NULL;
	g_autoptr(GPtrArray) certs = g_ptr_array_new_with_free_func(g_free);
	gchar *data;

	g_key_file_set_string(kf, SCEP_PENDING_GROUP, "url", self->url != NULL ? self->url : "");
	if (self->ca_ident != NULL)
		g_key_file_set_string(kf, SCEP_PENDING_GROUP, "ca-ident", self->ca_ident);
	g_key_file_set_string(kf,
			      SCEP_PENDING_GROUP,
			      "transaction-id",
			      self->transaction_id != NULL ? self->transaction_id : "");
	g_key_file_set_integer(kf, SCEP_PENDING_GROUP, "message-type", (gint)self->message_type);
	scep_pending_set_secret(kf, "key", self->key_pem);
	if (self->key_path != NULL)
		g_key_file_set_string(kf, SCEP_PENDING_GROUP, "key-path", self->key_path);
	scep_pending_set_base64(kf, "signer-cert", self->signer_cert_der);
	scep_pending_set_secret(kf, "signer-key", self->signer_key_pem);
	scep_pending_set_base64(kf, "subject", self->subject_der);
	for (guint i = 0; i < self->ca_certs_der->len; i++) {
		GBytes *der = g_ptr_array_index(self->ca_certs_der, i);
		g_ptr_array_add(
		    certs, g_base64_encode(g_bytes_get_data(der, NULL), g_bytes_get_size(der)));
	}
	g_key_file_set_string_list(
	    kf, SCEP_PENDING_GROUP, "ca-certs", (const gchar *const *)certs->pdata, certs->len);
	nonce = g_malloc0(SCEP_NONCE_SIZE * 2 + 1);
	for (guint i = 0; i < SCEP_NONCE_SIZE; i++)
		g_snprintf(nonce + i * 2, 3, "%02x", self->sender_nonce[i]);
	g_key_file_set_string(kf, SCEP_PENDING_GROUP, "sender-nonce", nonce);
	g_key_file_set_int64(kf, SCEP_PENDING_GROUP, "first-submitted", self->first_submitted);
	g_key_file_set_int64(kf, SCEP_PENDING_GROUP, "last-polled", self->last_polled);
	g_key_file_set_uint64(kf, SCEP_PENDING_GROUP, "poll-count", self->poll_count);
	g_key_file_set_string(kf,
			      SCEP_PENDING_GROUP,
			      "cipher",
			      gnutls_cipher_get_name(self->cipher) != NULL
				  ? gnutls_cipher_get_name(self->cipher)
				  : "");
	g_key_file_set_string(kf,
			      SCEP_PENDING_GROUP,
			      "digest",
			      gnutls_digest_get_name(self->digest) != NULL
				  ? gnutls_digest_get_name(self->digest)
				  : "");
	g_key_file_set_boolean(kf, SCEP_PENDING_GROUP, "post", self->post);
	g_key_file_set_boolean(
	    kf, SCEP_PENDING_GROUP, "send-content-type", self->send_content_type);
	data = g_key_file_to_data(kf, length, NULL);
	/* the GKeyFile's own copy of the key is freed with it; wipe what we can reach */
	g_key_file_remove_key(kf, SCEP_PENDING_GROUP, "key", NULL);
	g_key_file_remove_key(kf, SCEP_PENDING_GROUP, "signer-key", NULL);
	return data;
}

static gboolean
scep_pending_bad(GError **error, const gchar *what)
{
	g_set_error(error,
		    SCEP_NDES_ERROR,
		    SCEP_NDES_ERROR_INVALID_ARGUMENT,
		    "pending state: missing or invalid %s",
		    what);
	return FALSE;
}

static GBytes *
scep_pending_get_base64(GKeyFile *kf, const gchar *key)
{
	g_autofree gchar *b64 = g_key_file_get_string(kf, SCEP_PENDING_GROUP, key, NULL);
	guchar *raw;
	gsize size = 0;
	if (b64 == NULL || b64[0] == '\0')
		return NULL;
	raw = g_base64_decode(b64, &size);
	if (raw == NULL || size == 0) {
		g_free(raw);
		return NULL;
	}
	return g_bytes_new_take(raw, size);
}

static GBytes *
scep_pending_get_secret(GKeyFile *kf, const gchar *key)
{
	gchar *text = g_key_file_get_string(kf, SCEP_PENDING_GROUP, key, NULL);
	GBytes *bytes;
	if (text == NULL)
		return NULL;
	if (text[0] == '\0') {
		g_free(text);
		return NULL;
	}
	bytes = scep_pending_secret_bytes_new(text, strlen(text));
	scep_pending_text_free(text);
	return bytes;
}

ScepPending *
scep_pending_new_from_data(const gchar *data, gsize length, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(ScepPending) self = scep_pending_new();
	g_auto(GStrv) certs = NULL;
	g_autofree gchar *nonce = NULL;
	g_autofree gchar *cipher = NULL;
	g_autofree gchar *digest = NULL;
	gint message_type;

	if (!g_key_file_load_from_data(kf, data, length, G_KEY_FILE_NONE, error)) {
		g_prefix_error(error, "pending state: ");
		return NULL;
	}
	self->url = g_key_file_get_string(kf, SCEP_PENDING_GROUP, "url", NULL);
	if (self->url == NULL || self->url[0] == '\0') {
		scep_pending_bad(error, "url");
		return NULL;
	}
	self->ca_ident = g_key_file_get_string(kf, SCEP_PENDING_GROUP, "ca-ident", NULL);
	self->transaction_id =
	    g_key_file_get_string(kf, SCEP_PENDING_GROUP, "transaction-id", NULL);
	if (self->transaction_id == NULL || self->transaction_id[0] == '\0') {
		scep_pending_bad(error, "transaction-id");
		return NULL;
	}
	message_type = g_key_file_get_integer(kf, SCEP_PENDING_GROUP, "message-type", NULL);
	if (message_type != SCEP_MESSAGE_TYPE_PKCS_REQ &&
	    message_type != SCEP_MESSAGE_TYPE_RENEWAL_REQ) {
		scep_pending_bad(error, "message-type");
		return NULL;
	}
	self->message_type = (ScepMessageType)message_type;
	self->key_pem = scep_pending_get_secret(kf, "key");
	self->key_path = g_key_file_get_string(kf, SCEP_PENDING_GROUP, "key-path", NULL);
	if (self->key_pem == NULL && self->key_path == NULL) {
		scep_pending_bad(error, "key or key-path");
		return NULL;
	}
	self->signer_cert_der = scep_pending_get_base64(kf, "signer-cert");
	if (self->signer_cert_der == NULL) {
		scep_pending_bad(error, "signer-cert");
		return NULL;
	}
	self->signer_key_pem = scep_pending_get_secret(kf, "signer-key");
	self->subject_der = scep_pending_get_base64(kf, "subject");
	if (self->subject_der == NULL) {
		scep_pending_bad(error, "subject");
		return NULL;
	}
	certs = g_key_file_get_string_list(kf, SCEP_PENDING_GROUP, "ca-certs", NULL, NULL);
	for (guint i = 0; certs != NULL && certs[i] != NULL; i++) {
		gsize size = 0;
		guchar *raw = g_base64_decode(certs[i], &size);
		if (raw == NULL || size == 0) {
			g_free(raw);
			scep_pending_bad(error, "ca-certs");
			return NULL;
		}
		g_ptr_array_add(self->ca_certs_der, g_bytes_new_take(raw, size));
	}
	if (self->ca_certs_der->len == 0) {
		scep_pending_bad(error, "ca-certs");
		return NULL;
	}
	nonce = g_key_file_get_string(kf, SCEP_PENDING_GROUP, "sender-nonce", NULL);
	if (nonce == NULL || strlen(nonce) != SCEP_NONCE_SIZE * 2) {
		scep_pending_bad(error, "sender-nonce");
		return NULL;
	}
	for (guint i = 0; i < SCEP_NONCE_SIZE; i++) {
		gint hi = g_ascii_xdigit_value(nonce[i * 2]);
		gint lo = g_ascii_xdigit_value(nonce[i * 2 + 1]);
		if (hi < 0 || lo < 0) {
			scep_pending_bad(error, "sender-nonce");
			return NULL;
		}
		self->sender_nonce[i] = (guint8)(hi << 4 | lo);
	}
	self->first_submitted =
	    g_key_file_get_int64(kf, SCEP_PENDING_GROUP, "first-submitted", NULL);
	self->last_polled = g_key_file_get_int64(kf, SCEP_PENDING_GROUP, "last-polled", NULL);
	self->poll_count = (guint)g_key_file_get_uint64(kf, SCEP_PENDING_GROUP, "poll-count", NULL);
	cipher = g_key_file_get_string(kf, SCEP_PENDING_GROUP, "cipher", NULL);
	self->cipher = cipher != NULL ? gnutls_cipher_get_id(cipher) : GNUTLS_CIPHER_UNKNOWN;
	if (self->cipher == GNUTLS_CIPHER_UNKNOWN) {
		scep_pending_bad(error, "cipher");
		return NULL;
	}
	digest = g_key_file_get_string(kf, SCEP_PENDING_GROUP, "digest", NULL);
	self->digest = digest != NULL ? gnutls_digest_get_id(digest) : GNUTLS_DIG_UNKNOWN;
	if (self->digest == GNUTLS_DIG_UNKNOWN) {
		scep_pending_bad(error, "digest");
		return NULL;
	}
	self->post = g_key_file_get_boolean(kf, SCEP_PENDING_GROUP, "post", NULL);
	self->send_content_type =
	    g_key_file_get_boolean(kf, SCEP_PENDING_GROUP, "send-content-type", NULL);
	return g_steal_pointer(&self);
}

gboolean
scep_pending_save(const ScepPending *self, const gchar *path, GError **error)
{
	gsize length = 0;
	gchar *data = scep_pending_to_data(self, &length);
	gboolean ok = g_file_set_contents_full(
	    path, data, (gssize)length, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
	scep_pending_text_free(data);
	return ok;
}

ScepPending *
scep_pending_load(const gchar *path, GError **error)
{
	gchar *data = NULL;
	gsize length = 0;
	ScepPending *self;
	if (!g_file_get_contents(path, &data, &length, error))
		return NULL;
	self = scep_pending_new_from_data(data, length, error);
	scep_pending_text_free(data);
	return self;
}

gnutls_privkey_t
scep_pending_dup_key(const ScepPending *self, GError **error)
{
	if (self->key_pem != NULL)
		return scep_csr_import_key(self->key_pem, error);
	if (self->key_path != NULL)
		return scep_csr_load_key(self->key_path, error);
	g_set_error_literal(
	    error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_INVALID_ARGUMENT, "pending state has no key");
	return NULL;
}
