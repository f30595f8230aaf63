/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * GetNextCACert, GetCert, GetCRL and GetCACert pinning: ScepNdesClient and the scepctl verbs
 * (getnextca, getcert, getcrl, getca) against our scriptable responder
 * (tests/scep-responder.py, independent crypto) and, for replies the responder cannot make,
 * an in-process SoupServer serving bytes the responder made.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>

#include "scep-gnutls-common.h"
#include "scep-ndes-client.h"
#include "scep-ndes-error.h"
#include "scep-test-peers.h"

/* ---- helpers ---- */

static void
store_result_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GAsyncResult **out = user_data;
	*out = g_object_ref(result);
}

static GAsyncResult *
wait_for(GAsyncResult **slot)
{
	while (*slot == NULL)
		g_main_context_iteration(NULL, TRUE);
	return *slot;
}

static ScepTestResponder *
responder_start(const gchar *const *args)
{
	g_autoptr(GError) error = NULL;
	ScepTestResponder *responder = scep_test_responder_start(args, &error);
	g_assert_no_error(error);
	return responder;
}

static const gchar *const next_ca_args[] = { "--next-ca", NULL };
/*
 * all responders share the keys in tests/data/responder/keys; with --intermediate the
 * GetNextCACert reply is signed by the issuing CA's key, which is not the root CA's
 */
static const gchar *const other_ca_args[] = { "--next-ca", "--intermediate", NULL };

static ScepNdesClient *
client_for(const gchar *url)
{
	g_autoptr(GError) error = NULL;
	ScepNdesClient *client = scep_ndes_client_new(url, &error);
	g_assert_no_error(error);
	return client;
}

static gnutls_x509_crt_t
crt_from_data(const gchar *data, gsize len, gnutls_x509_crt_fmt_t fmt)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t datum = { (guchar *)data, (guint)len };
	g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_import(crt, &datum, fmt), ==, 0);
	return crt;
}

static gnutls_x509_crt_t
crt_from_der(GBytes *der)
{
	return crt_from_data(
	    g_bytes_get_data(der, NULL), g_bytes_get_size(der), GNUTLS_X509_FMT_DER);
}

/* a PEM certificate from the responder's state dir */
static gnutls_x509_crt_t
responder_crt(ScepTestResponder *responder, const gchar *name)
{
	g_autofree gchar *path = scep_test_responder_get_file(responder, name);
	g_autofree gchar *pem = NULL;
	gsize len = 0;
	g_assert_true(g_file_get_contents(path, &pem, &len, NULL));
	return crt_from_data(pem, len, GNUTLS_X509_FMT_PEM);
}

/* SHA-256 of the DER, by GLib (not by our code): upper-case hex with colons */
static gchar *
sha256_colons(gnutls_x509_crt_t crt)
{
	g_auto(ScepGnutlsDatum) der = { NULL, 0 };
	g_autofree gchar *hex = NULL;
	GString *str = g_string_new(NULL);

	g_assert_cmpint(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der), ==, 0);
	hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, der.data, der.size);
	for (gsize i = 0; hex[i] != '\0'; i += 2)
		g_string_append_printf(str, "%s%c%c", i == 0 ? "" : ":", hex[i], hex[i + 1]);
	return g_ascii_strup(g_string_free(str, FALSE), -1);
}

static gchar *
der_to_pem(GBytes *der, const gchar *label)
{
	g_autofree gchar *b64 = g_base64_encode(g_bytes_get_data(der, NULL), g_bytes_get_size(der));
	GString *pem = g_string_new(NULL);
	g_string_append_printf(pem, "-----BEGIN %s-----\n", label);
	for (gsize off = 0; off < strlen(b64); off += 64)
		g_string_append_printf(pem, "%.64s\n", b64 + off);
	g_string_append_printf(pem, "-----END %s-----\n", label);
	return g_string_free(pem, FALSE);
}

/* one certificate issued by the responder (PKCSReq, answered SUCCESS); @key_out its key */
static ScepNdesOutcome *
enroll_one(ScepTestResponder *responder, const gchar *subject, gnutls_privkey_t *key_out)
{
	g_autoptr(ScepNdesClient) client = client_for(scep_test_responder_get_url(responder));
	g_autoptr(ScepCsrParams) params = scep_csr_params_new();
	g_autoptr(GAsyncResult) result = NULL;
	g_autoptr(GError) error = NULL;
	ScepNdesOutcome *outcome;
	ScepNdesEnrollRequest request = {
		.message_type = SCEP_MESSAGE_TYPE_PKCS_REQ,
		.csr_params = params,
	};

	*key_out = scep_csr_generate_key(2048, &error);
	g_assert_no_error(error);
	request.key = *key_out;
	g_assert_true(scep_csr_params_set_subject(params, subject, NULL));
	scep_ndes_client_enroll_async(client, &request, NULL, store_result_cb, &result);
	outcome = scep_ndes_client_enroll_finish(client, wait_for(&result), &error);
	g_assert_no_error(error);
	g_assert_cmpint(outcome->status, ==, SCEP_NDES_STATUS_ISSUED);
	return outcome;
}

/* the certificate's serial number as raw bytes */
static GBytes *
serial_of(GBytes *der)
{
	g_auto(gnutls_x509_crt_t) crt = crt_from_der(der);
	guint8 buf[64];
	size_t size = sizeof(buf);
	g_assert_cmpint(gnutls_x509_crt_get_serial(crt, buf, &size), ==, 0);
	return g_bytes_new(buf, size);
}

/* "0a1b..." or, with @colons, "0A:1B:..." */
static gchar *
serial_hex(GBytes *der, gboolean colons)
{
	g_autoptr(GBytes) serial = serial_of(der);
	gsize size = 0;
	const guint8 *data = g_bytes_get_data(serial, &size);
	GString *str = g_string_new(NULL);
	for (gsize i = 0; i < size; i++) {
		if (colons)
			g_string_append_printf(str, i == 0 ? "%02X" : ":%02X", data[i]);
		else
			g_string_append_printf(str, "%02x", data[i]);
	}
	return g_string_free(str, FALSE);
}

static GPtrArray *
get_cert(ScepNdesClient *client,
	 GBytes *serial,
	 gnutls_x509_crt_t signer_cert,
	 gnutls_privkey_t signer_key,
	 GError **error)
{
	g_autoptr(GAsyncResult) result = NULL;
	scep_ndes_client_get_cert_async(
	    client, serial, signer_cert, signer_key, NULL, store_result_cb, &result);
	return scep_ndes_client_get_cert_finish(client, wait_for(&result), error);
}

static GPtrArray *
get_crl(ScepNdesClient *client, GBytes *serial, GError **error)
{
	g_autoptr(GAsyncResult) result = NULL;
	scep_ndes_client_get_crl_async(client, serial, NULL, NULL, NULL, store_result_cb, &result);
	return scep_ndes_client_get_crl_finish(client, wait_for(&result), error);
}

static ScepCaCerts *
get_next_ca(ScepNdesClient *client, GError **error)
{
	g_autoptr(GAsyncResult) result = NULL;
	scep_ndes_client_get_next_ca_async(client, NULL, store_result_cb, &result);
	return scep_ndes_client_get_next_ca_finish(client, wait_for(&result), error);
}

static gint
log_count(ScepTestResponder *responder, const gchar *needle)
{
	g_autoptr(GError) error = NULL;
	gint n = scep_test_responder_count_in_log(responder, needle, &error);
	g_assert_no_error(error);
	return n;
}

/* ---- scepctl ---- */

typedef struct {
	gint status;
	gchar *out;
	gchar *err;
} ScepctlRun;

static void
scepctl_run_free(ScepctlRun *run)
{
	g_free(run->out);
	g_free(run->err);
	g_free(run);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepctlRun, scepctl_run_free)

/*
 * runs scepctl without blocking the main context (an in-process SoupServer may have to
 * answer it); standard input is empty
 */
static ScepctlRun *
run_scepctl(const gchar *const *args)
{
	g_autofree gchar *exe =
	    g_build_filename(g_getenv("SCEP_TOP_BUILDDIR"), "agent", "scepctl", NULL);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GAsyncResult) result = NULL;
	g_autoptr(GError) error = NULL;
	ScepctlRun *run = g_new0(ScepctlRun, 1);

	g_ptr_array_add(argv, exe);
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	g_ptr_array_add(argv, NULL);
	proc = g_subprocess_newv((const gchar *const *)argv->pdata,
				 G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
				     G_SUBPROCESS_FLAGS_STDERR_PIPE,
				 &error);
	g_assert_no_error(error);
	g_subprocess_communicate_utf8_async(proc, "", NULL, store_result_cb, &result);
	g_assert_true(g_subprocess_communicate_utf8_finish(
	    proc, wait_for(&result), &run->out, &run->err, &error));
	g_assert_no_error(error);
	g_assert_true(g_subprocess_get_if_exited(proc));
	run->status = g_subprocess_get_exit_status(proc);
	g_test_message("scepctl %s: exit %d\nstdout: %s\nstderr: %s",
		       args[0],
		       run->status,
		       run->out,
		       run->err);
	return run;
}

static void
assert_contains(const gchar *haystack, const gchar *needle)
{
	if (haystack == NULL || strstr(haystack, needle) == NULL)
		g_error("'%s' lacks '%s'", haystack != NULL ? haystack : "(null)", needle);
}

/* @dir does not exist or is empty */
static void
assert_nothing_written(const gchar *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	if (d != NULL)
		g_assert_null(g_dir_read_name(d));
}

/* ---- a server of canned replies (what the responder cannot send) ---- */

typedef struct {
	SoupServer *server;
	gchar *url;
	GBytes *caps;
	GBytes *ca_cert;
	gchar *ca_cert_type;
	GBytes *next_ca;
} CannedServer;

static void
canned_server_free(CannedServer *self)
{
	if (self->server != NULL)
		soup_server_disconnect(self->server);
	g_clear_object(&self->server);
	g_free(self->url);
	g_clear_pointer(&self->caps, g_bytes_unref);
	g_clear_pointer(&self->ca_cert, g_bytes_unref);
	g_free(self->ca_cert_type);
	g_clear_pointer(&self->next_ca, g_bytes_unref);
	g_free(self);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CannedServer, canned_server_free)

static void
canned_server_cb(SoupServer *server,
		 SoupServerMessage *msg,
		 const char *path,
		 GHashTable *query,
		 gpointer user_data)
{
	CannedServer *self = user_data;
	const gchar *op = query != NULL ? g_hash_table_lookup(query, "operation") : NULL;
	GBytes *body = NULL;
	const gchar *type = NULL;

	if (g_strcmp0(op, "GetCACaps") == 0) {
		body = self->caps;
		type = "text/plain";
	} else if (g_strcmp0(op, "GetCACert") == 0) {
		body = self->ca_cert;
		type = self->ca_cert_type;
	} else if (g_strcmp0(op, "GetNextCACert") == 0) {
		body = self->next_ca;
		type = "application/x-x509-next-ca-cert";
	}
	if (body == NULL) {
		soup_server_message_set_status(msg, SOUP_STATUS_NOT_FOUND, NULL);
		return;
	}
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_message_headers_replace(
	    soup_server_message_get_response_headers(msg), "Content-Type", type);
	soup_message_body_append_bytes(soup_server_message_get_response_body(msg), body);
}

static GBytes *
fetch(const gchar *base, const gchar *operation)
{
	g_autofree gchar *url = g_strdup_printf("%s?operation=%s", base, operation);
	g_autoptr(GError) error = NULL;
	GBytes *body = NULL;
	guint status = 0;

	g_assert_true(scep_test_http_request(url, "GET", NULL, NULL, &status, &body, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(status, ==, 200);
	return body;
}

/*
 * GetCACaps and GetCACert of @current, GetNextCACert of @other: a GetNextCACert reply,
 * correctly signed, but by a CA that is not the current one
 */
static CannedServer *
canned_server_new_foreign_next_ca(ScepTestResponder *current, ScepTestResponder *other)
{
	CannedServer *self = g_new0(CannedServer, 1);
	g_autoptr(GError) error = NULL;
	GSList *uris;

	self->caps = fetch(scep_test_responder_get_url(current), "GetCACaps");
	/* a degenerate PKCS#7: the responder's default has RA certificates besides the CA */
	self->ca_cert = fetch(scep_test_responder_get_url(current), "GetCACert");
	self->ca_cert_type = g_strdup("application/x-x509-ca-ra-cert");
	self->next_ca = fetch(scep_test_responder_get_url(other), "GetNextCACert");
	self->server = soup_server_new(NULL, NULL);
	soup_server_add_handler(self->server, "/scep", canned_server_cb, self, NULL);
	g_assert_true(
	    soup_server_listen_local(self->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
	g_assert_no_error(error);
	uris = soup_server_get_uris(self->server);
	g_assert_nonnull(uris);
	self->url = g_strdup_printf("http://127.0.0.1:%d/scep", g_uri_get_port(uris->data));
	g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
	return self;
}

/* ---- GetNextCACert, client ---- */

static void
test_next_ca_client(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(next_ca_args);
	g_autoptr(ScepNdesClient) client = client_for(scep_test_responder_get_url(responder));
	g_auto(gnutls_x509_crt_t) expected = responder_crt(responder, "next-ca.pem");
	g_auto(gnutls_x509_crt_t) current = responder_crt(responder, "ca.pem");
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepCaCerts) next = NULL;

	next = get_next_ca(client, &error);
	g_assert_no_error(error);
	g_assert_nonnull(next);
	g_assert_true(gnutls_x509_crt_equals(scep_ca_certs_get_ca(next), expected));
	/* the current CA stays what GetCACert gave */
	g_assert_true(gnutls_x509_crt_equals(
	    scep_ca_certs_get_ca(scep_ndes_client_get_ca_certs(client)), current));
	g_assert_cmpint(log_count(responder, "\"operation\": \"GetNextCACert\""), ==, 1);
}

static void
test_next_ca_not_advertised(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	g_autoptr(ScepNdesClient) client = client_for(scep_test_responder_get_url(responder));
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepCaCerts) next = NULL;

	next = get_next_ca(client, &error);
	g_assert_null(next);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_UNSUPPORTED);
	assert_contains(error->message, "GetNextCACert");
	/* decided from the caps: the operation is never sent */
	g_assert_cmpint(log_count(responder, "\"operation\": \"GetCACaps\""), ==, 1);
	g_assert_cmpint(log_count(responder, "\"operation\": \"GetNextCACert\""), ==, 0);
}

static void
test_next_ca_wrong_signer(void)
{
	g_autoptr(ScepTestResponder) current = responder_start(next_ca_args);
	g_autoptr(ScepTestResponder) other = responder_start(other_ca_args);
	g_autoptr(CannedServer) server = canned_server_new_foreign_next_ca(current, other);
	g_autoptr(ScepNdesClient) client = client_for(server->url);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepCaCerts) next = NULL;

	next = get_next_ca(client, &error);
	g_assert_null(next);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_UNTRUSTED);
	assert_contains(error->message, "not signed by the current CA");
}

/* ---- GetCert / GetCRL, client ---- */

static void
test_get_cert_throwaway_signer(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	g_auto(gnutls_privkey_t) key = NULL;
	g_autoptr(ScepNdesOutcome) issued = enroll_one(responder, "CN=getcert", &key);
	g_autoptr(GBytes) serial = serial_of(issued->certificate);
	g_autoptr(ScepNdesClient) client = client_for(scep_test_responder_get_url(responder));
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) certs = NULL;

	certs = get_cert(client, serial, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(certs->len, ==, 1);
	g_assert_true(g_bytes_equal(g_ptr_array_index(certs, 0), issued->certificate));
	g_assert_cmpint(log_count(responder, "\"message_type\": 21"), ==, 1);
}

static void
test_get_cert_own_signer(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	g_auto(gnutls_privkey_t) key = NULL;
	g_autoptr(ScepNdesOutcome) issued = enroll_one(responder, "CN=getcert-own", &key);
	g_autoptr(GBytes) serial = serial_of(issued->certificate);
	g_auto(gnutls_x509_crt_t) signer = crt_from_der(issued->certificate);
	g_autoptr(ScepNdesClient) client = client_for(scep_test_responder_get_url(responder));
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) certs = NULL;

	/* the reply is encrypted to the issued certificate's key */
	certs = get_cert(client, serial, signer, key, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(certs->len, ==, 1);
	g_assert_true(g_bytes_equal(g_ptr_array_index(certs, 0), issued->certificate));
}

static void
test_get_cert_signer_without_key(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	g_auto(gnutls_x509_crt_t) ca = responder_crt(responder, "ca.pem");
	g_autoptr(ScepNdesClient) client = client_for(scep_test_responder_get_url(responder));
	g_autoptr(GBytes) serial = g_bytes_new_static("\x02", 1);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) certs = NULL;

	certs = get_cert(client, serial, ca, NULL, &error);
	g_assert_null(certs);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_INVALID_ARGUMENT);
	g_assert_cmpint(log_count(responder, "\"operation\": \"PKIOperation\""), ==, 0);
}

static void
test_get_cert_unknown_serial(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	g_autoptr(ScepNdesClient) client = client_for(scep_test_responder_get_url(responder));
	g_autoptr(GBytes) serial = g_bytes_new_static("\x7f\x01\x02\x03\x04\x05", 6);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) certs = NULL;

	certs = get_cert(client, serial, NULL, NULL, &error);
	g_assert_null(certs);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_REJECTED);
	assert_contains(error->message, "badCertId");
}

static void
test_get_cert_pending_reply(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	g_autoptr(ScepNdesClient) client = client_for(scep_test_responder_get_url(responder));
	g_autoptr(GBytes) serial = g_bytes_new_static("\x02", 1);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) certs = NULL;

	g_assert_true(
	    scep_test_responder_set_script(responder, "[{\"status\": \"pending\"}]", NULL));
	certs = get_cert(client, serial, NULL, NULL, &error);
	g_assert_null(certs);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
	assert_contains(error->message, "no certificate");
}

/* a renewal revokes the old certificate at the responder: the CRL must list it */
static void
test_get_crl_lists_revoked(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	g_auto(gnutls_privkey_t) key = NULL;
	g_auto(gnutls_privkey_t) new_key = NULL;
	g_autoptr(ScepNdesOutcome) issued = enroll_one(responder, "CN=getcrl", &key);
	g_auto(gnutls_x509_crt_t) old = crt_from_der(issued->certificate);
	g_autoptr(ScepNdesClient) client = client_for(scep_test_responder_get_url(responder));
	g_autoptr(ScepCsrParams) params = scep_csr_params_new();
	g_autoptr(GAsyncResult) result = NULL;
	g_autoptr(ScepNdesOutcome) renewed = NULL;
	g_autoptr(GBytes) old_serial = serial_of(issued->certificate);
	g_autoptr(GPtrArray) crls = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(gnutls_x509_crt_t) ca = responder_crt(responder, "ca.pem");
	gnutls_x509_crl_t crl = NULL;
	gnutls_datum_t datum;
	ScepNdesEnrollRequest request = {
		.message_type = SCEP_MESSAGE_TYPE_RENEWAL_REQ,
		.csr_params = params,
		.signer_cert = old,
		.signer_key = key,
	};
	guint verify = 0;
	gboolean listed = FALSE;

	new_key = scep_csr_generate_key(2048, &error);
	g_assert_no_error(error);
	request.key = new_key;
	g_assert_true(scep_csr_params_set_subject(params, "CN=getcrl", NULL));
	scep_ndes_client_enroll_async(client, &request, NULL, store_result_cb, &result);
	renewed = scep_ndes_client_enroll_finish(client, wait_for(&result), &error);
	g_assert_no_error(error);

	crls = get_crl(client, old_serial, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(crls->len, ==, 1);
	datum = scep_gnutls_datum_from_bytes(g_ptr_array_index(crls, 0));
	g_assert_cmpint(gnutls_x509_crl_init(&crl), ==, 0);
	g_assert_cmpint(gnutls_x509_crl_import(crl, &datum, GNUTLS_X509_FMT_DER), ==, 0);
	g_assert_cmpint(gnutls_x509_crl_verify(crl, &ca, 1, 0, &verify), ==, 0);
	g_assert_cmpuint(verify, ==, 0);
	for (gint i = 0; i < gnutls_x509_crl_get_crt_count(crl); i++) {
		guint8 buf[64];
		size_t size = sizeof(buf);
		g_assert_cmpint(gnutls_x509_crl_get_crt_serial(crl, i, buf, &size, NULL), ==, 0);
		if (size == g_bytes_get_size(old_serial) &&
		    memcmp(buf, g_bytes_get_data(old_serial, NULL), size) == 0)
			listed = TRUE;
	}
	gnutls_x509_crl_deinit(crl);
	g_assert_true(listed);
	g_assert_cmpint(log_count(responder, "\"message_type\": 22"), ==, 1);
}

/* ---- scepctl getnextca ---- */

static void
test_scepctl_getnextca(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(next_ca_args);
	g_auto(gnutls_x509_crt_t) next = responder_crt(responder, "next-ca.pem");
	g_autofree gchar *fp = sha256_colons(next);
	const gchar *args[] = { "getnextca", scep_test_responder_get_url(responder), NULL };
	g_autoptr(ScepctlRun) run = run_scepctl(args);

	g_assert_cmpint(run->status, ==, 0);
	assert_contains(run->out, "scep-agent test next CA");
	assert_contains(run->out, fp);
}

static void
test_scepctl_getnextca_json_out(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(next_ca_args);
	g_auto(gnutls_x509_crt_t) next = responder_crt(responder, "next-ca.pem");
	g_autofree gchar *fp = sha256_colons(next);
	g_autofree gchar *dir = g_dir_make_tmp("getnextca-XXXXXX", NULL);
	g_autofree gchar *saved = g_build_filename(dir, "ca.pem", NULL);
	g_autofree gchar *saved_pem = NULL;
	g_autofree gchar *want_json = g_strdup_printf("\"sha256\": \"%s\"", fp);
	const gchar *args[] = { "getnextca", scep_test_responder_get_url(responder),
				"--json",    "--out",
				dir,         NULL };
	g_autoptr(ScepctlRun) run = run_scepctl(args);
	g_auto(gnutls_x509_crt_t) saved_crt = NULL;
	gsize len = 0;

	g_assert_cmpint(run->status, ==, 0);
	g_assert_true(g_str_has_prefix(run->out, "{\"result\": \"ok\", \"certificates\": [{"));
	assert_contains(run->out, want_json);
	assert_contains(run->out, "CN=scep-agent test next CA");
	g_assert_true(g_file_get_contents(saved, &saved_pem, &len, NULL));
	saved_crt = crt_from_data(saved_pem, len, GNUTLS_X509_FMT_PEM);
	g_assert_true(gnutls_x509_crt_equals(saved_crt, next));
	g_assert_cmpstr(run->err, ==, "");
}

static void
test_scepctl_getnextca_not_advertised(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	const gchar *args[] = { "getnextca", scep_test_responder_get_url(responder), NULL };
	const gchar *json_args[] = {
		"getnextca", scep_test_responder_get_url(responder), "--json", NULL
	};
	g_autoptr(ScepctlRun) run = run_scepctl(args);
	g_autoptr(ScepctlRun) json = run_scepctl(json_args);

	/* not a usage error: the server (not the command line) lacks the operation */
	g_assert_cmpint(run->status, ==, 1);
	assert_contains(run->err, "does not advertise GetNextCACert");
	g_assert_cmpstr(run->out, ==, "");
	g_assert_cmpint(json->status, ==, 1);
	assert_contains(json->out, "\"result\": \"error\", \"error\": \"unsupported\"");
}

static void
test_scepctl_getnextca_wrong_signer(void)
{
	g_autoptr(ScepTestResponder) current = responder_start(next_ca_args);
	g_autoptr(ScepTestResponder) other = responder_start(other_ca_args);
	g_autoptr(CannedServer) server = canned_server_new_foreign_next_ca(current, other);
	g_autofree gchar *dir = g_dir_make_tmp("getnextca-XXXXXX", NULL);
	const gchar *args[] = { "getnextca", server->url, "--out", dir, NULL };
	g_autoptr(ScepctlRun) run = run_scepctl(args);

	g_assert_cmpint(run->status, ==, 1);
	assert_contains(run->err, "not signed by the current CA");
	assert_nothing_written(dir);
	g_rmdir(dir);
}

/* ---- scepctl getcert / getcrl ---- */

static void
test_scepctl_getcert(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	g_auto(gnutls_privkey_t) key = NULL;
	g_autoptr(ScepNdesOutcome) issued = enroll_one(responder, "CN=scepctl-getcert", &key);
	g_autofree gchar *serial = serial_hex(issued->certificate, TRUE);
	g_autofree gchar *pem = der_to_pem(issued->certificate, "CERTIFICATE");
	const gchar *args[] = {
		"getcert", scep_test_responder_get_url(responder), "--serial", serial, NULL
	};
	g_autoptr(ScepctlRun) run = run_scepctl(args);

	g_assert_cmpint(run->status, ==, 0);
	g_assert_cmpstr(run->out, ==, pem);
}

static void
test_scepctl_getcert_json_out(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	g_auto(gnutls_privkey_t) key = NULL;
	g_autoptr(ScepNdesOutcome) issued = enroll_one(responder, "CN=scepctl-getcert", &key);
	g_autofree gchar *hex = serial_hex(issued->certificate, FALSE);
	g_autofree gchar *serial = g_strconcat("0x", hex, NULL);
	g_autofree gchar *pem = der_to_pem(issued->certificate, "CERTIFICATE");
	g_autofree gchar *dir = g_dir_make_tmp("getcert-XXXXXX", NULL);
	g_autofree gchar *path = g_build_filename(dir, "cert.pem", NULL);
	g_autofree gchar *written = NULL;
	const gchar *args[] = { "getcert",  scep_test_responder_get_url(responder),
				"--serial", serial,
				"--json",   "--out",
				dir,        NULL };
	g_autoptr(ScepctlRun) run = run_scepctl(args);

	g_assert_cmpint(run->status, ==, 0);
	g_assert_true(g_str_has_prefix(
	    run->out, "{\"result\": \"ok\", \"pem\": \"-----BEGIN CERTIFICATE-----\\n"));
	g_assert_true(g_file_get_contents(path, &written, NULL, NULL));
	g_assert_cmpstr(written, ==, pem);
	g_unlink(path);
	g_rmdir(dir);
}

/*
 * --signer-cert/--signer-key: the issued certificate asks for itself (the reply is encrypted
 * to it); with @data set, the key file holds another key, which must fail at the responder's
 * signature check, proving the options are used
 */
static void
test_scepctl_getcert_signer(gconstpointer data)
{
	gboolean wrong_key = GPOINTER_TO_INT(data);
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	g_auto(gnutls_privkey_t) key = NULL;
	g_autoptr(ScepNdesOutcome) issued = enroll_one(responder, "CN=scepctl-signer", &key);
	g_autofree gchar *serial = serial_hex(issued->certificate, FALSE);
	g_autofree gchar *pem = der_to_pem(issued->certificate, "CERTIFICATE");
	g_autofree gchar *dir = g_dir_make_tmp("getcert-XXXXXX", NULL);
	g_autofree gchar *cert_path = g_build_filename(dir, "signer.pem", NULL);
	g_autofree gchar *key_path = g_build_filename(dir, "signer.key", NULL);
	g_auto(gnutls_privkey_t) other = NULL;
	g_autoptr(GBytes) key_pem = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *args[] = { "getcert",
				scep_test_responder_get_url(responder),
				"--serial",
				serial,
				"--signer-cert",
				cert_path,
				"--signer-key",
				key_path,
				NULL };
	g_autoptr(ScepctlRun) run = NULL;

	if (wrong_key) {
		other = scep_csr_generate_key(2048, &error);
		g_assert_no_error(error);
	}
	key_pem = scep_csr_export_key_pem(wrong_key ? other : key, &error);
	g_assert_no_error(error);
	g_assert_true(g_file_set_contents(cert_path, pem, -1, NULL));
	g_assert_true(g_file_set_contents(
	    key_path, g_bytes_get_data(key_pem, NULL), (gssize)g_bytes_get_size(key_pem), NULL));
	run = run_scepctl(args);
	if (wrong_key) {
		g_assert_cmpint(run->status, ==, 4);
		assert_contains(run->err, "badMessageCheck");
		g_assert_cmpstr(run->out, ==, "");
	} else {
		g_assert_cmpint(run->status, ==, 0);
		g_assert_cmpstr(run->out, ==, pem);
	}
	g_unlink(cert_path);
	g_unlink(key_path);
	g_rmdir(dir);
}

static void
test_scepctl_getcert_signer_without_key(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	g_autofree gchar *ca = scep_test_responder_get_file(responder, "ca.pem");
	const gchar *args[] = { "getcert",
				scep_test_responder_get_url(responder),
				"--serial",
				"02",
				"--signer-cert",
				ca,
				NULL };
	g_autoptr(ScepctlRun) run = run_scepctl(args);

	g_assert_cmpint(run->status, ==, 2);
	assert_contains(run->err, "--signer-cert and --signer-key");
	g_assert_cmpint(log_count(responder, "\"operation\": \"PKIOperation\""), ==, 0);
}

static void
test_scepctl_getcert_unknown_serial(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	const gchar *args[] = { "getcert",  scep_test_responder_get_url(responder),
				"--serial", "7f:01:02:03:04:05",
				"--json",   NULL };
	g_autoptr(ScepctlRun) run = run_scepctl(args);

	g_assert_cmpint(run->status, ==, 4);
	assert_contains(run->out, "\"result\": \"rejected\"");
	assert_contains(run->out, "badCertId");
}

static void
test_scepctl_getcert_bad_serial(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	const gchar *none[] = { "getcert", scep_test_responder_get_url(responder), NULL };
	const gchar *bad[] = {
		"getcrl", scep_test_responder_get_url(responder), "--serial", "12xz", NULL
	};
	g_autoptr(ScepctlRun) none_run = run_scepctl(none);
	g_autoptr(ScepctlRun) bad_run = run_scepctl(bad);

	g_assert_cmpint(none_run->status, ==, 2);
	assert_contains(none_run->err, "--serial");
	g_assert_cmpint(bad_run->status, ==, 2);
	assert_contains(bad_run->err, "not hexadecimal");
	/* refused before anything went to the server */
	g_assert_cmpint(log_count(responder, "\"operation\": \"PKIOperation\""), ==, 0);
}

static void
test_scepctl_getcrl(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	g_auto(gnutls_privkey_t) key = NULL;
	g_autoptr(ScepNdesOutcome) issued = enroll_one(responder, "CN=scepctl-getcrl", &key);
	g_autofree gchar *serial = serial_hex(issued->certificate, FALSE);
	g_autofree gchar *dir = g_dir_make_tmp("getcrl-XXXXXX", NULL);
	g_autofree gchar *path = g_build_filename(dir, "crl.pem", NULL);
	g_autofree gchar *written = NULL;
	g_auto(gnutls_x509_crt_t) ca = responder_crt(responder, "ca.pem");
	const gchar *args[] = { "getcrl",   scep_test_responder_get_url(responder),
				"--serial", serial,
				"--out",    dir,
				NULL };
	g_autoptr(ScepctlRun) run = run_scepctl(args);
	gnutls_x509_crl_t crl = NULL;
	gnutls_datum_t datum;
	gsize len = 0;
	guint verify = 0;

	g_assert_cmpint(run->status, ==, 0);
	g_assert_true(g_str_has_prefix(run->out, "-----BEGIN X509 CRL-----\n"));
	g_assert_true(g_file_get_contents(path, &written, &len, NULL));
	g_assert_cmpstr(written, ==, run->out);
	datum.data = (guchar *)written;
	datum.size = (guint)len;
	g_assert_cmpint(gnutls_x509_crl_init(&crl), ==, 0);
	g_assert_cmpint(gnutls_x509_crl_import(crl, &datum, GNUTLS_X509_FMT_PEM), ==, 0);
	g_assert_cmpint(gnutls_x509_crl_verify(crl, &ca, 1, 0, &verify), ==, 0);
	gnutls_x509_crl_deinit(crl);
	g_assert_cmpuint(verify, ==, 0);
	g_unlink(path);
	g_rmdir(dir);
}

/* ---- scepctl getca ---- */

static void
test_scepctl_getca_pinned_out(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	g_auto(gnutls_x509_crt_t) ca = responder_crt(responder, "ca.pem");
	g_autofree gchar *fp = sha256_colons(ca);
	g_autofree gchar *pin = g_strconcat("sha256:", fp, NULL);
	g_autofree gchar *dir = g_dir_make_tmp("getca-XXXXXX", NULL);
	g_autofree gchar *saved = g_build_filename(dir, "ca.pem", NULL);
	g_autofree gchar *saved_pem = NULL;
	const gchar *args[] = {
		"getca", scep_test_responder_get_url(responder), "--fingerprint", pin, "--out", dir,
		NULL
	};
	g_autoptr(ScepctlRun) run = run_scepctl(args);
	g_auto(gnutls_x509_crt_t) saved_crt = NULL;
	gsize len = 0;

	g_assert_cmpint(run->status, ==, 0);
	assert_contains(run->out, fp);
	/* the default responder is NDES-like: split RA certificates, told apart by usage */
	assert_contains(run->out, "RA signing");
	assert_contains(run->out, "RA encryption");
	g_assert_null(strstr(run->out, "not verified against a pin"));
	g_assert_true(g_file_get_contents(saved, &saved_pem, &len, NULL));
	saved_crt = crt_from_data(saved_pem, len, GNUTLS_X509_FMT_PEM);
	g_assert_true(gnutls_x509_crt_equals(saved_crt, ca));
}

static void
test_scepctl_getca_fingerprint_mismatch(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	g_auto(gnutls_x509_crt_t) ca = responder_crt(responder, "ca.pem");
	g_autofree gchar *actual = sha256_colons(ca);
	const gchar *wrong = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF";
	const gchar *wrong_colons = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
				    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";
	g_autofree gchar *pin = g_strconcat("SHA256:", wrong, NULL);
	g_autofree gchar *dir = g_dir_make_tmp("getca-XXXXXX", NULL);
	g_autofree gchar *out_dir = g_build_filename(dir, "out", NULL);
	const gchar *args[] = { "getca",
				scep_test_responder_get_url(responder),
				"--fingerprint",
				pin,
				"--out",
				out_dir,
				NULL };
	g_autoptr(ScepctlRun) run = run_scepctl(args);

	g_assert_cmpint(run->status, ==, 1);
	assert_contains(run->err, "fingerprint mismatch");
	assert_contains(run->err, wrong_colons);
	assert_contains(run->err, actual);
	g_assert_cmpstr(run->out, ==, "");
	g_assert_false(g_file_test(out_dir, G_FILE_TEST_EXISTS));
	assert_nothing_written(dir);
	g_rmdir(dir);
}

int
main(int argc, char **argv)
{
	/* no desktop proxy settings in tests (GSettings may be absent) */
	g_setenv("GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

	g_test_add_func("/scep/ops/next-ca/client", test_next_ca_client);
	g_test_add_func("/scep/ops/next-ca/not-advertised", test_next_ca_not_advertised);
	g_test_add_func("/scep/ops/next-ca/wrong-signer", test_next_ca_wrong_signer);
	g_test_add_func("/scep/ops/get-cert/throwaway-signer", test_get_cert_throwaway_signer);
	g_test_add_func("/scep/ops/get-cert/own-signer", test_get_cert_own_signer);
	g_test_add_func("/scep/ops/get-cert/signer-without-key", test_get_cert_signer_without_key);
	g_test_add_func("/scep/ops/get-cert/unknown-serial", test_get_cert_unknown_serial);
	g_test_add_func("/scep/ops/get-cert/pending-reply", test_get_cert_pending_reply);
	g_test_add_func("/scep/ops/get-crl/lists-revoked", test_get_crl_lists_revoked);
	g_test_add_func("/scep/ops/scepctl/getnextca", test_scepctl_getnextca);
	g_test_add_func("/scep/ops/scepctl/getnextca-json-out", test_scepctl_getnextca_json_out);
	g_test_add_func("/scep/ops/scepctl/getnextca-not-advertised",
			test_scepctl_getnextca_not_advertised);
	g_test_add_func("/scep/ops/scepctl/getnextca-wrong-signer",
			test_scepctl_getnextca_wrong_signer);
	g_test_add_func("/scep/ops/scepctl/getcert", test_scepctl_getcert);
	g_test_add_func("/scep/ops/scepctl/getcert-json-out", test_scepctl_getcert_json_out);
	g_test_add_data_func("/scep/ops/scepctl/getcert-signer",
			     GINT_TO_POINTER(FALSE),
			     test_scepctl_getcert_signer);
	g_test_add_data_func("/scep/ops/scepctl/getcert-signer-wrong-key",
			     GINT_TO_POINTER(TRUE),
			     test_scepctl_getcert_signer);
	g_test_add_func("/scep/ops/scepctl/getcert-signer-without-key",
			test_scepctl_getcert_signer_without_key);
	g_test_add_func("/scep/ops/scepctl/getcert-unknown-serial",
			test_scepctl_getcert_unknown_serial);
	g_test_add_func("/scep/ops/scepctl/getcert-bad-serial", test_scepctl_getcert_bad_serial);
	g_test_add_func("/scep/ops/scepctl/getcrl", test_scepctl_getcrl);
	g_test_add_func("/scep/ops/scepctl/getca-pinned-out", test_scepctl_getca_pinned_out);
	g_test_add_func("/scep/ops/scepctl/getca-fingerprint-mismatch",
			test_scepctl_getca_fingerprint_mismatch);
	return g_test_run();
}
