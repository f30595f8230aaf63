#include "config.h"

#include "scep-ndes-client.h"

#include <string.h>

#include "scep-gnutls-common.h"
#include "scep-ndes-error.h"
#include "scep-transport.h"

struct _ScepNdesClient {
	GObject parent_instance;
	ScepTransport *transport; /* owned */
	gchar *pin;               /* owned, nullable */
	gnutls_digest_algorithm_t pin_alg;
	gnutls_cipher_algorithm_t cipher;
	gnutls_digest_algorithm_t digest;
	ScepCapsAlgPolicy policy;
	ScepNdesMethod method;
	gboolean send_content_type;
	ScepCaps *caps;        /* owned, nullable */
	ScepCaCerts *ca_certs; /* owned, nullable */
	GBytes *ca_payload;    /* owned, nullable */
	gboolean ca_pinned;
};

G_DEFINE_TYPE(ScepNdesClient, scep_ndes_client, G_TYPE_OBJECT)

void
scep_ndes_outcome_free(ScepNdesOutcome *self)
{
	if (self == NULL)
		return;
	g_clear_pointer(&self->certificate, g_bytes_unref);
	g_clear_pointer(&self->chain, g_ptr_array_unref);
	g_clear_pointer(&self->pending, scep_pending_free);
	g_free(self->transaction_id);
	g_free(self);
}

static void
scep_ndes_client_finalize(GObject *object)
{
	ScepNdesClient *self = SCEP_NDES_CLIENT(object);
	g_clear_object(&self->transport);
	g_free(self->pin);
	g_clear_pointer(&self->caps, scep_caps_free);
	g_clear_pointer(&self->ca_certs, scep_ca_certs_free);
	g_clear_pointer(&self->ca_payload, g_bytes_unref);
	G_OBJECT_CLASS(scep_ndes_client_parent_class)->finalize(object);
}

static void
scep_ndes_client_class_init(ScepNdesClientClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = scep_ndes_client_finalize;
}

static void
scep_ndes_client_init(ScepNdesClient *self)
{
	self->pin_alg = GNUTLS_DIG_UNKNOWN;
	self->cipher = GNUTLS_CIPHER_UNKNOWN;
	self->digest = GNUTLS_DIG_UNKNOWN;
}

ScepNdesClient *
scep_ndes_client_new(const gchar *url, GError **error)
{
	g_autoptr(ScepNdesClient) self = g_object_new(SCEP_TYPE_NDES_CLIENT, NULL);
	self->transport = scep_transport_new(url, error);
	if (self->transport == NULL)
		return NULL;
	return g_steal_pointer(&self);
}

gboolean
scep_ndes_client_set_proxy(ScepNdesClient *self, const gchar *proxy, GError **error)
{
	g_return_val_if_fail(SCEP_IS_NDES_CLIENT(self), FALSE);
	return scep_transport_set_proxy(self->transport, proxy, error);
}

gboolean
scep_ndes_client_set_ca_file(ScepNdesClient *self, const gchar *ca_file, GError **error)
{
	g_return_val_if_fail(SCEP_IS_NDES_CLIENT(self), FALSE);
	return scep_transport_set_ca_file(self->transport, ca_file, error);
}

void
scep_ndes_client_set_timeouts(ScepNdesClient *self, guint connect_seconds, guint total_seconds)
{
	g_return_if_fail(SCEP_IS_NDES_CLIENT(self));
	if (connect_seconds > 0)
		scep_transport_set_connect_timeout(self->transport, connect_seconds);
	if (total_seconds > 0)
		scep_transport_set_timeout(self->transport, total_seconds);
}

void
scep_ndes_client_set_ca_ident(ScepNdesClient *self, const gchar *ca_ident)
{
	g_return_if_fail(SCEP_IS_NDES_CLIENT(self));
	scep_transport_set_ca_ident(self->transport, ca_ident);
}

void
scep_ndes_client_set_fingerprint(ScepNdesClient *self,
				 const gchar *pin,
				 gnutls_digest_algorithm_t alg)
{
	g_return_if_fail(SCEP_IS_NDES_CLIENT(self));
	g_free(self->pin);
	self->pin = g_strdup(pin);
	self->pin_alg = alg;
}

void
scep_ndes_client_set_algorithms(ScepNdesClient *self,
				gnutls_cipher_algorithm_t cipher,
				gnutls_digest_algorithm_t digest,
				ScepCapsAlgPolicy policy)
{
	g_return_if_fail(SCEP_IS_NDES_CLIENT(self));
	self->cipher = cipher;
	self->digest = digest;
	self->policy = policy;
}

void
scep_ndes_client_set_method(ScepNdesClient *self, ScepNdesMethod method)
{
	g_return_if_fail(SCEP_IS_NDES_CLIENT(self));
	self->method = method;
}

void
scep_ndes_client_set_send_content_type(ScepNdesClient *self, gboolean send_content_type)
{
	g_return_if_fail(SCEP_IS_NDES_CLIENT(self));
	self->send_content_type = send_content_type;
}

const gchar *
scep_ndes_client_get_url(ScepNdesClient *self)
{
	g_return_val_if_fail(SCEP_IS_NDES_CLIENT(self), NULL);
	return scep_transport_get_url(self->transport);
}

const ScepCaps *
scep_ndes_client_get_caps(ScepNdesClient *self)
{
	g_return_val_if_fail(SCEP_IS_NDES_CLIENT(self), NULL);
	return self->caps;
}

ScepCaCerts *
scep_ndes_client_get_ca_certs(ScepNdesClient *self)
{
	g_return_val_if_fail(SCEP_IS_NDES_CLIENT(self), NULL);
	return self->ca_certs;
}

gboolean
scep_ndes_client_get_ca_pinned(ScepNdesClient *self)
{
	g_return_val_if_fail(SCEP_IS_NDES_CLIENT(self), FALSE);
	return self->ca_pinned;
}

GBytes *
scep_ndes_client_get_ca_payload(ScepNdesClient *self)
{
	g_return_val_if_fail(SCEP_IS_NDES_CLIENT(self), NULL);
	return self->ca_payload;
}

/* ---- helpers ---- */

static GBytes *
scep_ndes_crt_to_der(gnutls_x509_crt_t crt, GError **error)
{
	g_auto(ScepGnutlsDatum) datum = { NULL, 0 };
	if (!scep_gnutls_check(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &datum),
			       "export certificate",
			       error))
		return NULL;
	return scep_gnutls_datum_to_bytes(&datum);
}

static gnutls_x509_crt_t
scep_ndes_crt_from_der(GBytes *der, GError **error)
{
	g_auto(gnutls_x509_crt_t) crt = NULL;
	gnutls_datum_t datum = scep_gnutls_datum_from_bytes(der);
	if (!scep_gnutls_check(gnutls_x509_crt_init(&crt), "certificate", error))
		return NULL;
	if (!scep_gnutls_check(gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_DER),
			       "import certificate",
			       error))
		return NULL;
	return g_steal_pointer(&crt);
}

static gnutls_x509_crt_t
scep_ndes_crt_copy(gnutls_x509_crt_t crt, GError **error)
{
	g_autoptr(GBytes) der = scep_ndes_crt_to_der(crt, error);
	if (der == NULL)
		return NULL;
	return scep_ndes_crt_from_der(der, error);
}

static gnutls_privkey_t
scep_ndes_key_copy(gnutls_privkey_t key, GBytes **pem_out, GError **error)
{
	g_autoptr(GBytes) pem = scep_csr_export_key_pem(key, error);
	gnutls_privkey_t copy;
	if (pem == NULL)
		return NULL;
	copy = scep_csr_import_key(pem, error);
	if (copy != NULL && pem_out != NULL)
		*pem_out = g_steal_pointer(&pem);
	return copy;
}

static gnutls_pubkey_t
scep_ndes_pubkey_from_privkey(gnutls_privkey_t key, GError **error)
{
	g_auto(gnutls_pubkey_t) pub = NULL;
	if (!scep_gnutls_check(gnutls_pubkey_init(&pub), "public key", error))
		return NULL;
	if (!scep_gnutls_check(gnutls_pubkey_import_privkey(pub, key, 0, 0),
			       "public key of the private key",
			       error))
		return NULL;
	return g_steal_pointer(&pub);
}

static GBytes *
scep_ndes_crt_subject_der(gnutls_x509_crt_t crt, GError **error)
{
	gnutls_datum_t dn = { NULL, 0 };
	if (!scep_gnutls_check(gnutls_x509_crt_get_raw_dn(crt, &dn), "subject", error))
		return NULL;
	/* the datum points into the certificate: copy it */
	return g_bytes_new(dn.data, dn.size);
}

/* a bundle of PEM certificates from a list of DERs (to rebuild ScepCaCerts from a state) */
static ScepCaCerts *
scep_ndes_ca_certs_from_ders(GPtrArray *ders, GError **error)
{
	g_autoptr(GString) pem = g_string_new(NULL);
	g_autoptr(GBytes) payload = NULL;
	for (guint i = 0; i < ders->len; i++) {
		g_autofree gchar *b64 = NULL;
		GBytes *der = g_ptr_array_index(ders, i);
		b64 = g_base64_encode(g_bytes_get_data(der, NULL), g_bytes_get_size(der));
		g_string_append(pem, "-----BEGIN CERTIFICATE-----\n");
		for (gsize off = 0; off < strlen(b64); off += 64)
			g_string_append_printf(pem, "%.64s\n", b64 + off);
		g_string_append(pem, "-----END CERTIFICATE-----\n");
	}
	payload = g_bytes_new(pem->str, pem->len);
	return scep_ca_certs_parse(payload, error);
}

/*
 * The issued certificate must chain to the CA of the (verified) GetCACert bundle: the CA,
 * its intermediates and the root are the trust anchors here, since scep_ca_certs_verify_chain()
 * already tied them to the pin.
 */
static gboolean
scep_ndes_verify_issued(ScepCaCerts *ca_certs, GBytes *issued_der, GError **error)
{
	g_auto(gnutls_x509_trust_list_t) list = NULL;
	g_auto(gnutls_x509_crt_t) issued = NULL;
	GPtrArray *intermediates = scep_ca_certs_get_intermediates(ca_certs);
	g_autoptr(GPtrArray) anchors = g_ptr_array_new();
	unsigned int voutput = 0;
	gnutls_x509_crt_t *copies;
	guint n = 0;

	issued = scep_ndes_crt_from_der(issued_der, error);
	if (issued == NULL)
		return FALSE;
	g_ptr_array_add(anchors, scep_ca_certs_get_ca(ca_certs));
	if (scep_ca_certs_get_root(ca_certs) != scep_ca_certs_get_ca(ca_certs))
		g_ptr_array_add(anchors, scep_ca_certs_get_root(ca_certs));
	for (guint i = 0; intermediates != NULL && i < intermediates->len; i++)
		g_ptr_array_add(anchors, g_ptr_array_index(intermediates, i));

	if (!scep_gnutls_check(gnutls_x509_trust_list_init(&list, 0), "trust list", error))
		return FALSE;
	/* the trust list takes ownership of what it is given: give it copies */
	copies = g_new0(gnutls_x509_crt_t, anchors->len);
	for (guint i = 0; i < anchors->len; i++) {
		copies[n] = scep_ndes_crt_copy(g_ptr_array_index(anchors, i), error);
		if (copies[n] == NULL) {
			for (guint j = 0; j < n; j++)
				gnutls_x509_crt_deinit(copies[j]);
			g_free(copies);
			return FALSE;
		}
		n++;
	}
	if (gnutls_x509_trust_list_add_cas(list, copies, n, 0) < 0) {
		for (guint j = 0; j < n; j++)
			gnutls_x509_crt_deinit(copies[j]);
		g_free(copies);
		g_set_error_literal(
		    error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_CRYPTO, "cannot build the trust list");
		return FALSE;
	}
	g_free(copies);
	if (!scep_gnutls_check(
		gnutls_x509_trust_list_verify_crt(list, &issued, 1, 0, &voutput, NULL),
		"verify the issued certificate",
		error))
		return FALSE;
	if (voutput != 0) {
		g_auto(ScepGnutlsDatum) out = { NULL, 0 };
		gnutls_certificate_verification_status_print(voutput, GNUTLS_CRT_X509, &out, 0);
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_UNTRUSTED,
			    "the issued certificate does not chain to the CA: %s",
			    out.data != NULL ? (const gchar *)out.data : "unknown reason");
		return FALSE;
	}
	return TRUE;
}

static GPtrArray *
scep_ndes_chain_ders(ScepCaCerts *ca_certs, GError **error)
{
	g_autoptr(GPtrArray) chain = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	GPtrArray *intermediates = scep_ca_certs_get_intermediates(ca_certs);
	GBytes *der = scep_ndes_crt_to_der(scep_ca_certs_get_ca(ca_certs), error);
	if (der == NULL)
		return NULL;
	g_ptr_array_add(chain, der);
	for (guint i = 0; intermediates != NULL && i < intermediates->len; i++) {
		der = scep_ndes_crt_to_der(g_ptr_array_index(intermediates, i), error);
		if (der == NULL)
			return NULL;
		g_ptr_array_add(chain, der);
	}
	if (scep_ca_certs_get_root(ca_certs) != scep_ca_certs_get_ca(ca_certs)) {
		der = scep_ndes_crt_to_der(scep_ca_certs_get_root(ca_certs), error);
		if (der == NULL)
			return NULL;
		g_ptr_array_add(chain, der);
	}
	return g_steal_pointer(&chain);
}

/* ---- fetch_ca ---- */

static void
scep_ndes_client_fetch_ca_cert_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = G_TASK(user_data);
	ScepNdesClient *self = g_task_get_source_object(task);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;
	g_autoptr(ScepCaCerts) certs = NULL;

	reply = scep_transport_get_ca_cert_finish(SCEP_TRANSPORT(source), result, &error);
	if (reply == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	certs = scep_ca_certs_parse(reply->body, &error);
	if (certs == NULL) {
		g_prefix_error(&error, "GetCACert: ");
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	/* the pin comes before anything else in the bundle is trusted */
	if (self->pin != NULL) {
		if (!scep_ca_certs_check_fingerprint(certs, self->pin, self->pin_alg, &error)) {
			g_task_return_error(task, g_steal_pointer(&error));
			return;
		}
	} else {
		g_debug("no CA fingerprint pinned: trusting the CA on first use");
	}
	if (!scep_ca_certs_verify_chain(certs, g_get_real_time() / G_USEC_PER_SEC, &error)) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	g_clear_pointer(&self->ca_certs, scep_ca_certs_free);
	self->ca_certs = g_steal_pointer(&certs);
	g_clear_pointer(&self->ca_payload, g_bytes_unref);
	self->ca_payload = g_bytes_ref(reply->body);
	self->ca_pinned = self->pin != NULL;
	g_task_return_boolean(task, TRUE);
}

static void
scep_ndes_client_fetch_caps_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = G_TASK(user_data);
	GCancellable *cancellable = g_task_get_cancellable(task);
	ScepNdesClient *self = g_task_get_source_object(task);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	ScepCaps *caps;

	text = scep_transport_get_ca_caps_finish(SCEP_TRANSPORT(source), result, &error);
	if (text == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	caps = scep_caps_parse(text, strlen(text), &error);
	if (caps == NULL) {
		g_prefix_error(&error, "GetCACaps: ");
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	g_clear_pointer(&self->caps, scep_caps_free);
	self->caps = caps;
	scep_transport_get_ca_cert_async(self->transport,
					 cancellable,
					 scep_ndes_client_fetch_ca_cert_cb,
					 g_steal_pointer(&task));
}

void
scep_ndes_client_fetch_ca_async(ScepNdesClient *self,
				GCancellable *cancellable,
				GAsyncReadyCallback callback,
				gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	g_return_if_fail(SCEP_IS_NDES_CLIENT(self));
	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, scep_ndes_client_fetch_ca_async);
	scep_transport_get_ca_caps_async(
	    self->transport, cancellable, scep_ndes_client_fetch_caps_cb, g_steal_pointer(&task));
}

gboolean
scep_ndes_client_fetch_ca_finish(ScepNdesClient *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}

/* one step of an operation that needs the caps and CA certificates; owns @task */
typedef void (*ScepNdesClientStep)(ScepNdesClient *self, GTask *task);

typedef struct {
	GTask *task; /* owned */
	ScepNdesClientStep next;
} ScepNdesWithCa;

static void
scep_ndes_client_with_ca_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autofree ScepNdesWithCa *with = user_data;
	g_autoptr(GTask) task = with->task;
	g_autoptr(GError) error = NULL;

	if (!scep_ndes_client_fetch_ca_finish(SCEP_NDES_CLIENT(source), result, &error)) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	with->next(SCEP_NDES_CLIENT(source), g_steal_pointer(&task));
}

/* runs @next with @task_in (owned) once the caps and CA certificates are there, fetching
 * them first when needed */
static void
scep_ndes_client_with_ca(ScepNdesClient *self, GTask *task_in, ScepNdesClientStep next)
{
	ScepNdesWithCa *with;

	if (self->ca_certs != NULL && self->caps != NULL) {
		next(self, task_in);
		return;
	}
	with = g_new0(ScepNdesWithCa, 1);
	with->task = task_in;
	with->next = next;
	scep_ndes_client_fetch_ca_async(
	    self, g_task_get_cancellable(task_in), scep_ndes_client_with_ca_cb, with);
}

/* ---- one PKIOperation ---- */

typedef enum {
	SCEP_NDES_OP_ENROLL,
	SCEP_NDES_OP_POLL,
	SCEP_NDES_OP_GET_CERT,
	SCEP_NDES_OP_GET_CRL,
} ScepNdesOpKind;

/*
 * One PKIOperation. The main thread fills it in and hands it to a worker twice: to build the
 * request (every private-key operation: the CSR, the self-signed signer, the envelope and the
 * signature) and to read the reply (signature check, decryption, chain check). While a worker
 * has it, the main thread leaves it alone: the task that owns it only waits for the worker.
 */
typedef struct {
	ScepNdesOpKind kind;
	ScepMessageType message_type;
	gchar *transaction_id;
	guint8 nonce[SCEP_NONCE_SIZE];
	GBytes *content;               /* secret for PKCSReq/RenewalReq (holds the challenge) */
	gnutls_x509_crt_t signer_cert; /* owned; NULL until built for a self-signed signer */
	gnutls_privkey_t signer_key;   /* owned */
	gnutls_privkey_t key;          /* owned, nullable: the new key */
	GBytes *key_pem;               /* owned, nullable, secret */
	gchar *key_path;               /* owned, nullable */
	GBytes *signer_key_pem;        /* owned, nullable, secret: a renewal signer's key */
	gnutls_pubkey_t requested_key; /* owned, nullable */
	GBytes *subject_der;           /* owned, nullable; GetCert/GetCRL: the serial */
	/* owned: our own copy, from a pending state or the client's GetCACert payload */
	ScepCaCerts *ca_certs;
	ScepPending *pending; /* borrowed (poll): updated after building, on the main thread */
	gnutls_cipher_algorithm_t cipher;
	gnutls_digest_algorithm_t digest;
	ScepTransportPkiFlags flags;
	ScepCsrParams *csr_params; /* owned, nullable, secret: enroll: the CSR to build */
	GBytes *csr_der;           /* owned, nullable, secret: enroll: the CSR */
	GBytes *message;           /* owned, nullable: the pkiMessage, once built */
	GBytes *reply;             /* owned, nullable: the CertRep, once received */
} ScepNdesOp;

static void
scep_ndes_op_free(gpointer data)
{
	ScepNdesOp *op = data;
	g_free(op->transaction_id);
	g_clear_pointer(&op->content, g_bytes_unref);
	g_clear_pointer(&op->signer_cert, gnutls_x509_crt_deinit);
	g_clear_pointer(&op->signer_key, gnutls_privkey_deinit);
	g_clear_pointer(&op->key, gnutls_privkey_deinit);
	g_clear_pointer(&op->key_pem, g_bytes_unref);
	g_free(op->key_path);
	g_clear_pointer(&op->signer_key_pem, g_bytes_unref);
	g_clear_pointer(&op->requested_key, gnutls_pubkey_deinit);
	g_clear_pointer(&op->subject_der, g_bytes_unref);
	g_clear_pointer(&op->ca_certs, scep_ca_certs_free);
	g_clear_pointer(&op->csr_params, scep_csr_params_free);
	g_clear_pointer(&op->csr_der, g_bytes_unref);
	g_clear_pointer(&op->message, g_bytes_unref);
	g_clear_pointer(&op->reply, g_bytes_unref);
	gnutls_memset(op->nonce, 0, sizeof(op->nonce));
	g_free(op);
}

static gboolean
scep_ndes_client_choose(ScepNdesClient *self, ScepNdesOp *op, GError **error)
{
	gboolean post;
	if (!scep_caps_choose_cipher(self->caps, self->policy, self->cipher, &op->cipher, error))
		return FALSE;
	if (!scep_caps_choose_digest(self->caps, self->policy, self->digest, &op->digest, error))
		return FALSE;
	if (self->method == SCEP_NDES_METHOD_POST)
		post = TRUE;
	else if (self->method == SCEP_NDES_METHOD_GET)
		post = FALSE;
	else
		post = scep_caps_supports_post(self->caps);
	op->flags = post ? SCEP_TRANSPORT_PKI_FLAGS_POST : SCEP_TRANSPORT_PKI_FLAGS_NONE;
	if (post && self->send_content_type)
		op->flags |= SCEP_TRANSPORT_PKI_FLAGS_CONTENT_TYPE;
	return TRUE;
}

static ScepPending *
scep_ndes_op_make_pending(ScepNdesClient *self, ScepNdesOp *op, GError **error)
{
	g_autoptr(ScepPending) pending = scep_pending_new();
	GPtrArray *all = scep_ca_certs_get_all(op->ca_certs);

	pending->url = g_strdup(scep_transport_get_url(self->transport));
	pending->ca_ident = g_strdup(scep_transport_get_ca_ident(self->transport));
	pending->transaction_id = g_strdup(op->transaction_id);
	pending->message_type = op->message_type;
	if (op->key_path != NULL)
		pending->key_path = g_strdup(op->key_path);
	else
		pending->key_pem = g_bytes_ref(op->key_pem);
	pending->signer_cert_der = scep_ndes_crt_to_der(op->signer_cert, error);
	if (pending->signer_cert_der == NULL)
		return NULL;
	if (op->signer_key_pem != NULL)
		pending->signer_key_pem = g_bytes_ref(op->signer_key_pem);
	pending->subject_der = g_bytes_ref(op->subject_der);
	for (guint i = 0; i < all->len; i++) {
		GBytes *der = scep_ndes_crt_to_der(g_ptr_array_index(all, i), error);
		if (der == NULL)
			return NULL;
		g_ptr_array_add(pending->ca_certs_der, der);
	}
	memcpy(pending->sender_nonce, op->nonce, SCEP_NONCE_SIZE);
	pending->first_submitted = g_get_real_time() / G_USEC_PER_SEC;
	pending->cipher = op->cipher;
	pending->digest = op->digest;
	pending->post = (op->flags & SCEP_TRANSPORT_PKI_FLAGS_POST) != 0;
	pending->send_content_type = (op->flags & SCEP_TRANSPORT_PKI_FLAGS_CONTENT_TYPE) != 0;
	return g_steal_pointer(&pending);
}

/*
 * Runs @thread_func on @task_in's ScepNdesOp in a worker thread, then @callback on this thread
 * with @task_in (owned) as its user data. The worker task borrows the op, so it must not return
 * early on cancellation: the callback checks for it once the worker is done.
 */
static void
scep_ndes_op_run_in_worker(GTask *task_in,
			   GTaskThreadFunc thread_func,
			   GAsyncReadyCallback callback)
{
	g_autoptr(GTask) worker =
	    g_task_new(NULL, g_task_get_cancellable(task_in), callback, task_in);
	g_task_set_source_tag(worker, scep_ndes_op_run_in_worker);
	g_task_set_task_data(worker, g_task_get_task_data(task_in), NULL);
	g_task_run_in_thread(worker, thread_func);
}

/* ---- building the request (worker) ---- */

/* PKCSReq/RenewalReq: the CSR, the self-signed signer (for the subject, and as the signer of a
 * first enrollment) */
static gboolean
scep_ndes_op_build_enroll(ScepNdesOp *op, GError **error)
{
	g_auto(gnutls_x509_crt_t) self_signed = NULL;

	if (op->csr_der == NULL) {
		g_autoptr(GBytes) csr =
		    scep_csr_build(op->csr_params, op->key, GNUTLS_DIG_SHA256, error);
		if (csr == NULL)
			return FALSE;
		/* the CSR holds the challenge: keep a copy that is wiped, wipe this one */
		op->csr_der = scep_pending_secret_bytes_new(g_bytes_get_data(csr, NULL),
							    g_bytes_get_size(csr));
		gnutls_memset((gpointer)g_bytes_get_data(csr, NULL), 0, g_bytes_get_size(csr));
	}
	/* the self-signed signer also tells us the CSR's subject, for CertPoll */
	self_signed = scep_csr_make_self_signed_signer(op->key, op->csr_der, error);
	if (self_signed == NULL)
		return FALSE;
	op->subject_der = scep_ndes_crt_subject_der(self_signed, error);
	if (op->subject_der == NULL)
		return FALSE;
	if (op->signer_cert == NULL) {
		op->signer_cert = g_steal_pointer(&self_signed);
		op->signer_key = scep_ndes_key_copy(op->key, NULL, error);
		if (op->signer_key == NULL)
			return FALSE;
	}
	op->content = g_bytes_ref(op->csr_der);
	return TRUE;
}

/* GetCert/GetCRL: a self-signed signer when none was given, the IssuerAndSerialNumber */
static gboolean
scep_ndes_op_build_query(ScepNdesOp *op, GError **error)
{
	g_auto(gnutls_pubkey_t) pub = NULL;
	gnutls_datum_t serial;

	if (op->signer_cert == NULL) {
		g_autoptr(ScepCsrParams) params = scep_csr_params_new();
		g_autoptr(GBytes) csr = NULL;
		if (!scep_csr_params_set_subject(params, "CN=" SCEP_CSR_SELF_SIGNED_CN, error))
			return FALSE;
		csr = scep_csr_build(params, op->signer_key, GNUTLS_DIG_SHA256, error);
		if (csr == NULL)
			return FALSE;
		op->signer_cert = scep_csr_make_self_signed_signer(op->signer_key, csr, error);
		if (op->signer_cert == NULL)
			return FALSE;
	}
	pub = scep_ndes_pubkey_from_privkey(op->signer_key, error);
	if (pub == NULL)
		return FALSE;
	op->transaction_id = scep_csr_transaction_id(pub);
	if (op->transaction_id == NULL) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_CRYPTO,
				    "cannot derive the transaction ID");
		return FALSE;
	}
	serial = scep_gnutls_datum_from_bytes(op->subject_der);
	op->content = scep_message_build_issuer_and_serial(
	    scep_ca_certs_get_ca(op->ca_certs), &serial, error);
	return op->content != NULL;
}

/* the pkiMessage: envelope to the CA/RA, signed by the signer, with a fresh nonce */
static gboolean
scep_ndes_op_build_message(ScepNdesOp *op, GError **error)
{
	ScepRequest request = {
		.message_type = op->message_type,
		.transaction_id = op->transaction_id,
		.content = op->content,
		.recipient = scep_ca_certs_get_ra_encrypt(op->ca_certs),
		.cipher = op->cipher,
		.digest = op->digest,
		.signer_cert = op->signer_cert,
		.signer_key = op->signer_key,
	};

	scep_message_generate_nonce(op->nonce);
	memcpy(request.sender_nonce, op->nonce, SCEP_NONCE_SIZE);
	op->message = scep_message_build_request(&request, error);
	return op->message != NULL;
}

static void
scep_ndes_op_build_thread_cb(GTask *task,
			     gpointer source_object,
			     gpointer task_data,
			     GCancellable *cancellable)
{
	ScepNdesOp *op = task_data;
	g_autoptr(GError) error = NULL;
	gboolean ok = TRUE;

	if (g_task_return_error_if_cancelled(task))
		return;
	if (op->kind == SCEP_NDES_OP_ENROLL)
		ok = scep_ndes_op_build_enroll(op, &error);
	else if (op->kind == SCEP_NDES_OP_GET_CERT || op->kind == SCEP_NDES_OP_GET_CRL)
		ok = scep_ndes_op_build_query(op, &error);
	if (ok)
		ok = scep_ndes_op_build_message(op, &error);
	if (!ok) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	g_task_return_boolean(task, TRUE);
}

/* ---- reading the reply (worker) ---- */

/* in a worker: the CertRep's signature and decryption, and the chain of an issued certificate */
static void
scep_ndes_op_read_reply_thread_cb(GTask *task,
				  gpointer source_object,
				  gpointer task_data,
				  GCancellable *cancellable)
{
	ScepNdesOp *op = task_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepCertRep) rep = NULL;
	GPtrArray *signers = scep_ca_certs_get_signers(op->ca_certs);
	ScepCertRepExpect expect = {
		.transaction_id = op->transaction_id,
		.sender_nonce = op->nonce,
		.signers = (gnutls_x509_crt_t *)signers->pdata,
		.n_signers = signers->len,
		.recipient_cert = op->signer_cert,
		.recipient_key = op->signer_key,
		.requested_key = op->requested_key,
	};

	if (g_task_return_error_if_cancelled(task))
		return;
	rep = scep_cert_rep_parse(op->reply, &expect, &error);
	if (rep == NULL) {
		g_prefix_error(&error, "transaction %s: ", op->transaction_id);
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	/* SUCCESS: the message layer matched our public key; now the chain */
	if (scep_cert_rep_get_status(rep) == SCEP_PKI_STATUS_SUCCESS &&
	    (op->kind == SCEP_NDES_OP_ENROLL || op->kind == SCEP_NDES_OP_POLL) &&
	    !scep_ndes_verify_issued(
		op->ca_certs, scep_cert_rep_get_issued_certificate(rep), &error)) {
		g_prefix_error(&error, "transaction %s: ", op->transaction_id);
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	g_task_return_pointer(task, g_steal_pointer(&rep), (GDestroyNotify)scep_cert_rep_free);
}

/* GetCert/GetCRL: the certificates or CRLs of a checked reply */
static void
scep_ndes_client_return_items(GTask *task, ScepNdesOp *op, ScepCertRep *rep)
{
	GPtrArray *items = op->kind == SCEP_NDES_OP_GET_CERT ? scep_cert_rep_get_certificates(rep)
							     : scep_cert_rep_get_crls(rep);
	g_autoptr(GPtrArray) copy = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);

	if (scep_cert_rep_get_status(rep) != SCEP_PKI_STATUS_SUCCESS || items->len == 0) {
		g_task_return_new_error(task,
					SCEP_NDES_ERROR,
					SCEP_NDES_ERROR_BAD_RESPONSE,
					"transaction %s: the reply holds no %s",
					op->transaction_id,
					op->kind == SCEP_NDES_OP_GET_CERT ? "certificate" : "CRL");
		return;
	}
	for (guint i = 0; i < items->len; i++)
		g_ptr_array_add(copy, g_bytes_ref(g_ptr_array_index(items, i)));
	g_task_return_pointer(task, g_steal_pointer(&copy), (GDestroyNotify)g_ptr_array_unref);
}

static void
scep_ndes_client_reply_read_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = G_TASK(user_data);
	ScepNdesClient *self = g_task_get_source_object(task);
	ScepNdesOp *op = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepCertRep) rep = NULL;
	g_autoptr(ScepNdesOutcome) outcome = NULL;

	if (g_task_return_error_if_cancelled(task))
		return;
	rep = g_task_propagate_pointer(G_TASK(result), &error);
	if (rep == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	if (scep_cert_rep_get_status(rep) == SCEP_PKI_STATUS_FAILURE) {
		g_autofree gchar *why = scep_cert_rep_describe_failure(rep);
		g_task_return_new_error(task, SCEP_NDES_ERROR, SCEP_NDES_ERROR_REJECTED, "%s", why);
		return;
	}
	if (op->kind == SCEP_NDES_OP_GET_CERT || op->kind == SCEP_NDES_OP_GET_CRL) {
		scep_ndes_client_return_items(task, op, rep);
		return;
	}

	outcome = g_new0(ScepNdesOutcome, 1);
	outcome->transaction_id = g_strdup(op->transaction_id);
	if (scep_cert_rep_get_status(rep) == SCEP_PKI_STATUS_PENDING) {
		outcome->status = SCEP_NDES_STATUS_PENDING;
		if (op->pending != NULL) {
			outcome->pending = scep_pending_copy(op->pending);
		} else {
			outcome->pending = scep_ndes_op_make_pending(self, op, &error);
			if (outcome->pending == NULL) {
				g_task_return_error(task, g_steal_pointer(&error));
				return;
			}
		}
		g_debug("transaction %s: pending", op->transaction_id);
		g_task_return_pointer(
		    task, g_steal_pointer(&outcome), (GDestroyNotify)scep_ndes_outcome_free);
		return;
	}

	/* SUCCESS, the chain checked by the worker */
	outcome->status = SCEP_NDES_STATUS_ISSUED;
	outcome->certificate = g_bytes_ref(scep_cert_rep_get_issued_certificate(rep));
	outcome->chain = scep_ndes_chain_ders(op->ca_certs, &error);
	if (outcome->chain == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	g_debug("transaction %s: certificate issued", op->transaction_id);
	g_task_return_pointer(
	    task, g_steal_pointer(&outcome), (GDestroyNotify)scep_ndes_outcome_free);
}

static void
scep_ndes_client_pki_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = G_TASK(user_data);
	ScepNdesOp *op = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;

	reply = scep_transport_pki_operation_finish(SCEP_TRANSPORT(source), result, &error);
	if (reply == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	op->reply = g_bytes_ref(reply->body);
	scep_ndes_op_run_in_worker(g_steal_pointer(&task),
				   scep_ndes_op_read_reply_thread_cb,
				   scep_ndes_client_reply_read_cb);
}

static void
scep_ndes_client_request_built_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = G_TASK(user_data);
	ScepNdesClient *self = g_task_get_source_object(task);
	ScepNdesOp *op = g_task_get_task_data(task);
	GCancellable *cancellable = g_task_get_cancellable(task);
	g_autoptr(GError) error = NULL;

	if (g_task_return_error_if_cancelled(task))
		return;
	if (!g_task_propagate_boolean(G_TASK(result), &error)) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	if (op->pending != NULL) {
		memcpy(op->pending->sender_nonce, op->nonce, SCEP_NONCE_SIZE);
		op->pending->last_polled = g_get_real_time() / G_USEC_PER_SEC;
		op->pending->poll_count++;
	}
	g_debug("transaction %s: sending message type %u by %s",
		op->transaction_id,
		(guint)op->message_type,
		(op->flags & SCEP_TRANSPORT_PKI_FLAGS_POST) ? "POST" : "GET");
	scep_transport_pki_operation_async(self->transport,
					   op->message,
					   op->flags,
					   cancellable,
					   scep_ndes_client_pki_cb,
					   g_steal_pointer(&task));
}

/* builds the request in a worker, sends it, reads the reply in a worker; owns @task_in */
static void
scep_ndes_client_send(ScepNdesClient *self, GTask *task_in)
{
	g_autoptr(GTask) task = task_in;
	ScepNdesOp *op = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;

	/* the workers get their own CA certificates: a fetch_ca may replace the client's */
	if (op->ca_certs == NULL) {
		op->ca_certs = scep_ca_certs_parse(self->ca_payload, &error);
		if (op->ca_certs == NULL) {
			g_task_return_error(task, g_steal_pointer(&error));
			return;
		}
	}
	scep_ndes_op_run_in_worker(g_steal_pointer(&task),
				   scep_ndes_op_build_thread_cb,
				   scep_ndes_client_request_built_cb);
}

/* ---- enroll ---- */

static gboolean
scep_ndes_client_enroll_prepare(ScepNdesClient *self, ScepNdesOp *op, GError **error)
{
	if (!scep_ndes_client_choose(self, op, error))
		return FALSE;
	op->requested_key = scep_ndes_pubkey_from_privkey(op->key, error);
	if (op->requested_key == NULL)
		return FALSE;
	op->transaction_id = scep_csr_transaction_id(op->requested_key);
	if (op->transaction_id == NULL) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_CRYPTO,
				    "cannot derive the transaction ID");
		return FALSE;
	}
	return TRUE;
}

static void
scep_ndes_client_enroll_have_ca(ScepNdesClient *self, GTask *task_in)
{
	g_autoptr(GTask) task = task_in;
	g_autoptr(GError) error = NULL;

	if (!scep_ndes_client_enroll_prepare(self, g_task_get_task_data(task), &error)) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	scep_ndes_client_send(self, g_steal_pointer(&task));
}

void
scep_ndes_client_enroll_async(ScepNdesClient *self,
			      const ScepNdesEnrollRequest *request,
			      GCancellable *cancellable,
			      GAsyncReadyCallback callback,
			      gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	g_autoptr(GError) error = NULL;
	ScepNdesOp *op;

	g_return_if_fail(SCEP_IS_NDES_CLIENT(self));
	g_return_if_fail(request != NULL && request->key != NULL);

	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, scep_ndes_client_enroll_async);
	op = g_new0(ScepNdesOp, 1);
	op->kind = SCEP_NDES_OP_ENROLL;
	g_task_set_task_data(task, op, scep_ndes_op_free);

	if (request->message_type != SCEP_MESSAGE_TYPE_PKCS_REQ &&
	    request->message_type != SCEP_MESSAGE_TYPE_RENEWAL_REQ) {
		g_task_return_new_error(
		    task,
		    SCEP_NDES_ERROR,
		    SCEP_NDES_ERROR_INVALID_ARGUMENT,
		    "enrollment needs PKCSReq or RenewalReq, not message type %u",
		    (guint)request->message_type);
		return;
	}
	if ((request->signer_cert == NULL) != (request->signer_key == NULL)) {
		g_task_return_new_error(
		    task,
		    SCEP_NDES_ERROR,
		    SCEP_NDES_ERROR_INVALID_ARGUMENT,
		    "a signer certificate needs its key, and the other way round");
		return;
	}
	op->message_type = request->message_type;
	op->key = scep_ndes_key_copy(request->key, &op->key_pem, &error);
	if (op->key == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	op->key_path = g_strdup(request->key_path);
	if (request->signer_cert != NULL) {
		op->signer_cert = scep_ndes_crt_copy(request->signer_cert, &error);
		if (op->signer_cert == NULL) {
			g_task_return_error(task, g_steal_pointer(&error));
			return;
		}
		op->signer_key =
		    scep_ndes_key_copy(request->signer_key, &op->signer_key_pem, &error);
		if (op->signer_key == NULL) {
			g_task_return_error(task, g_steal_pointer(&error));
			return;
		}
	}
	if (request->csr_der != NULL) {
		op->csr_der = scep_pending_secret_bytes_new(
		    g_bytes_get_data(request->csr_der, NULL), g_bytes_get_size(request->csr_der));
	} else if (request->csr_params != NULL) {
		/* borrowed for this call only: a worker builds and signs the CSR from a copy */
		op->csr_params = scep_csr_params_copy(request->csr_params);
	} else {
		g_task_return_new_error(task,
					SCEP_NDES_ERROR,
					SCEP_NDES_ERROR_INVALID_ARGUMENT,
					"enrollment needs CSR parameters or a CSR");
		return;
	}

	scep_ndes_client_with_ca(self, g_steal_pointer(&task), scep_ndes_client_enroll_have_ca);
}

ScepNdesOutcome *
scep_ndes_client_enroll_finish(ScepNdesClient *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

/* ---- poll ---- */

ScepNdesClient *
scep_ndes_client_new_for_pending(const ScepPending *pending, GError **error)
{
	g_autoptr(ScepNdesClient) self = scep_ndes_client_new(pending->url, error);
	if (self == NULL)
		return NULL;
	if (pending->ca_ident != NULL)
		scep_ndes_client_set_ca_ident(self, pending->ca_ident);
	self->cipher = pending->cipher;
	self->digest = pending->digest;
	self->method = pending->post ? SCEP_NDES_METHOD_POST : SCEP_NDES_METHOD_GET;
	self->send_content_type = pending->send_content_type;
	return g_steal_pointer(&self);
}

void
scep_ndes_client_poll_async(ScepNdesClient *self,
			    ScepPending *pending,
			    GCancellable *cancellable,
			    GAsyncReadyCallback callback,
			    gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	g_autoptr(GError) error = NULL;
	gnutls_datum_t subject;
	ScepNdesOp *op;

	g_return_if_fail(SCEP_IS_NDES_CLIENT(self));
	g_return_if_fail(pending != NULL);

	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, scep_ndes_client_poll_async);
	op = g_new0(ScepNdesOp, 1);
	op->kind = SCEP_NDES_OP_POLL;
	op->message_type = SCEP_MESSAGE_TYPE_CERT_POLL;
	op->pending = pending;
	g_task_set_task_data(task, op, scep_ndes_op_free);

	op->ca_certs = scep_ndes_ca_certs_from_ders(pending->ca_certs_der, &error);
	if (op->ca_certs == NULL ||
	    !scep_ca_certs_verify_chain(op->ca_certs, g_get_real_time() / G_USEC_PER_SEC, &error)) {
		g_prefix_error(&error, "pending state: ");
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	op->key = scep_pending_dup_key(pending, &error);
	if (op->key == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	op->requested_key = scep_ndes_pubkey_from_privkey(op->key, &error);
	if (op->requested_key == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	op->signer_cert = scep_ndes_crt_from_der(pending->signer_cert_der, &error);
	if (op->signer_cert == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	if (pending->signer_key_pem != NULL)
		op->signer_key = scep_csr_import_key(pending->signer_key_pem, &error);
	else
		op->signer_key = scep_pending_dup_key(pending, &error);
	if (op->signer_key == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	op->transaction_id = g_strdup(pending->transaction_id);
	op->cipher = pending->cipher;
	op->digest = pending->digest;
	op->flags = pending->post ? SCEP_TRANSPORT_PKI_FLAGS_POST : SCEP_TRANSPORT_PKI_FLAGS_NONE;
	if (pending->post && pending->send_content_type)
		op->flags |= SCEP_TRANSPORT_PKI_FLAGS_CONTENT_TYPE;
	subject = scep_gnutls_datum_from_bytes(pending->subject_der);
	op->content = scep_message_build_issuer_and_subject(
	    scep_ca_certs_get_ca(op->ca_certs), &subject, &error);
	if (op->content == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	scep_ndes_client_send(self, g_steal_pointer(&task));
}

ScepNdesOutcome *
scep_ndes_client_poll_finish(ScepNdesClient *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

/* ---- GetNextCACert ---- */

static void
scep_ndes_client_next_ca_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = G_TASK(user_data);
	ScepNdesClient *self = g_task_get_source_object(task);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTransportReply) reply = NULL;
	ScepCaCerts *next;

	reply = scep_transport_get_next_ca_cert_finish(SCEP_TRANSPORT(source), result, &error);
	if (reply == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	next = scep_ca_certs_parse_next(reply->body, self->ca_certs, &error);
	if (next == NULL) {
		g_prefix_error(&error, "GetNextCACert: ");
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	g_task_return_pointer(task, next, (GDestroyNotify)scep_ca_certs_free);
}

static void
scep_ndes_client_next_ca_start(ScepNdesClient *self, GTask *task_in)
{
	g_autoptr(GTask) task = task_in;
	GCancellable *cancellable = g_task_get_cancellable(task);
	if (!scep_caps_supports_get_next_ca_cert(self->caps)) {
		g_task_return_new_error(task,
					SCEP_NDES_ERROR,
					SCEP_NDES_ERROR_UNSUPPORTED,
					"the server does not advertise GetNextCACert");
		return;
	}
	scep_transport_get_next_ca_cert_async(
	    self->transport, cancellable, scep_ndes_client_next_ca_cb, g_steal_pointer(&task));
}

void
scep_ndes_client_get_next_ca_async(ScepNdesClient *self,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	g_return_if_fail(SCEP_IS_NDES_CLIENT(self));
	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, scep_ndes_client_get_next_ca_async);
	scep_ndes_client_with_ca(self, g_steal_pointer(&task), scep_ndes_client_next_ca_start);
}

ScepCaCerts *
scep_ndes_client_get_next_ca_finish(ScepNdesClient *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

/* ---- GetCert / GetCRL ---- */

static void
scep_ndes_client_query_ready(ScepNdesClient *self, GTask *task_in)
{
	g_autoptr(GTask) task = task_in;
	g_autoptr(GError) error = NULL;
	/* the signer, the transaction ID and the IssuerAndSerialNumber are made in the worker */
	if (!scep_ndes_client_choose(self, g_task_get_task_data(task), &error)) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	scep_ndes_client_send(self, g_steal_pointer(&task));
}

static void
scep_ndes_client_query_key_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = G_TASK(user_data);
	ScepNdesClient *self = g_task_get_source_object(task);
	ScepNdesOp *op = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	op->signer_key = scep_csr_generate_key_finish(result, &error);
	if (op->signer_key == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	/* not g_task_get_source_object(task) in the call: argument order is unspecified */
	scep_ndes_client_query_ready(self, g_steal_pointer(&task));
}

static void
scep_ndes_client_query_have_ca(ScepNdesClient *self, GTask *task_in)
{
	g_autoptr(GTask) task = task_in;
	GCancellable *cancellable = g_task_get_cancellable(task);
	ScepNdesOp *op = g_task_get_task_data(task);
	if (op->signer_key == NULL) {
		scep_csr_generate_key_async(
		    2048, cancellable, scep_ndes_client_query_key_cb, g_steal_pointer(&task));
		return;
	}
	scep_ndes_client_query_ready(self, g_steal_pointer(&task));
}

/* GetCert or GetCRL by @kind; the source tag is the public function's */
static void
scep_ndes_client_query_async(ScepNdesClient *self,
			     ScepNdesOpKind kind,
			     GBytes *serial,
			     gnutls_x509_crt_t signer_cert,
			     gnutls_privkey_t signer_key,
			     GCancellable *cancellable,
			     GAsyncReadyCallback callback,
			     gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	g_autoptr(GError) error = NULL;
	ScepNdesOp *op = NULL;

	g_return_if_fail(SCEP_IS_NDES_CLIENT(self));
	g_return_if_fail(serial != NULL);

	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task,
			      kind == SCEP_NDES_OP_GET_CERT
				  ? (gpointer)scep_ndes_client_get_cert_async
				  : (gpointer)scep_ndes_client_get_crl_async);
	op = g_new0(ScepNdesOp, 1);
	op->kind = kind;
	op->message_type =
	    kind == SCEP_NDES_OP_GET_CERT ? SCEP_MESSAGE_TYPE_GET_CERT : SCEP_MESSAGE_TYPE_GET_CRL;
	/* the serial travels in subject_der until the IssuerAndSerialNumber is built */
	op->subject_der = g_bytes_ref(serial);
	g_task_set_task_data(task, op, scep_ndes_op_free);
	if ((signer_cert == NULL) != (signer_key == NULL)) {
		g_task_return_new_error(
		    task,
		    SCEP_NDES_ERROR,
		    SCEP_NDES_ERROR_INVALID_ARGUMENT,
		    "a signer certificate needs its key, and the other way round");
		return;
	}
	if (signer_cert != NULL) {
		op->signer_cert = scep_ndes_crt_copy(signer_cert, &error);
		if (op->signer_cert != NULL)
			op->signer_key = scep_ndes_key_copy(signer_key, NULL, &error);
		if (op->signer_key == NULL) {
			g_task_return_error(task, g_steal_pointer(&error));
			return;
		}
	}
	scep_ndes_client_with_ca(self, g_steal_pointer(&task), scep_ndes_client_query_have_ca);
}

static GPtrArray *
scep_ndes_client_query_finish(ScepNdesClient *self,
			      GAsyncResult *result,
			      gpointer source_tag,
			      GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), NULL);
	g_return_val_if_fail(g_async_result_is_tagged(result, source_tag), NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

void
scep_ndes_client_get_cert_async(ScepNdesClient *self,
				GBytes *serial,
				gnutls_x509_crt_t signer_cert,
				gnutls_privkey_t signer_key,
				GCancellable *cancellable,
				GAsyncReadyCallback callback,
				gpointer user_data)
{
	scep_ndes_client_query_async(self,
				     SCEP_NDES_OP_GET_CERT,
				     serial,
				     signer_cert,
				     signer_key,
				     cancellable,
				     callback,
				     user_data);
}

GPtrArray *
scep_ndes_client_get_cert_finish(ScepNdesClient *self, GAsyncResult *result, GError **error)
{
	return scep_ndes_client_query_finish(self, result, scep_ndes_client_get_cert_async, error);
}

void
scep_ndes_client_get_crl_async(ScepNdesClient *self,
			       GBytes *serial,
			       gnutls_x509_crt_t signer_cert,
			       gnutls_privkey_t signer_key,
			       GCancellable *cancellable,
			       GAsyncReadyCallback callback,
			       gpointer user_data)
{
	scep_ndes_client_query_async(self,
				     SCEP_NDES_OP_GET_CRL,
				     serial,
				     signer_cert,
				     signer_key,
				     cancellable,
				     callback,
				     user_data);
}

GPtrArray *
scep_ndes_client_get_crl_finish(ScepNdesClient *self, GAsyncResult *result, GError **error)
{
	return scep_ndes_client_query_finish(self, result, scep_ndes_client_get_crl_async, error);
}
