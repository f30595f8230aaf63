/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * ScepNdesClient and scepctl end to end: against micromdm's scepserver (when run under
 * tests/scepserver-netns.sh) and against our scriptable responder (otherwise).
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "scep-gnutls-common.h"
#include "scep-ndes-client.h"
#include "scep-ndes-error.h"
#include "scep-test-peers.h"
#include "scep-test-util.h"

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

static gnutls_privkey_t
test_key(void)
{
	/* one 2048-bit key per program run would make transaction IDs collide: make fresh ones */
	g_autoptr(GError) error = NULL;
	gnutls_privkey_t key = scep_csr_generate_key(2048, &error);
	g_assert_no_error(error);
	return key;
}

static ScepNdesOutcome *
enroll(ScepNdesClient *client,
       const gchar *subject,
       const gchar *challenge,
       gnutls_privkey_t key,
       ScepMessageType type,
       gnutls_x509_crt_t signer_cert,
       gnutls_privkey_t signer_key,
       GError **error)
{
	g_autoptr(ScepCsrParams) params = scep_csr_params_new();
	g_autoptr(GAsyncResult) result = NULL;
	ScepNdesEnrollRequest request = {
		.message_type = type,
		.csr_params = params,
		.key = key,
		.signer_cert = signer_cert,
		.signer_key = signer_key,
	};
	g_assert_true(scep_csr_params_set_subject(params, subject, NULL));
	if (challenge != NULL)
		scep_csr_params_set_challenge_password(params, challenge);
	scep_ndes_client_enroll_async(client, &request, NULL, store_result_cb, &result);
	return scep_ndes_client_enroll_finish(client, wait_for(&result), error);
}

static ScepNdesOutcome *
poll_once(ScepNdesClient *client, ScepPending *pending, GError **error)
{
	g_autoptr(GAsyncResult) result = NULL;
	scep_ndes_client_poll_async(client, pending, NULL, store_result_cb, &result);
	return scep_ndes_client_poll_finish(client, wait_for(&result), error);
}

static gchar *
der_to_pem(GBytes *der)
{
	g_autofree gchar *b64 = g_base64_encode(g_bytes_get_data(der, NULL), g_bytes_get_size(der));
	GString *pem = g_string_new("-----BEGIN CERTIFICATE-----\n");
	for (gsize off = 0; off < strlen(b64); off += 64)
		g_string_append_printf(pem, "%.64s\n", b64 + off);
	g_string_append(pem, "-----END CERTIFICATE-----\n");
	return g_string_free(pem, FALSE);
}

/* `openssl verify -CAfile` (an independent check that the issued certificate chains) */
static void
assert_openssl_verifies(ScepNdesOutcome *outcome)
{
	g_autofree gchar *dir = g_dir_make_tmp("enroll-XXXXXX", NULL);
	g_autofree gchar *ca = g_build_filename(dir, "ca.pem", NULL);
	g_autofree gchar *cert = g_build_filename(dir, "cert.pem", NULL);
	g_autofree gchar *cert_pem = der_to_pem(outcome->certificate);
	g_autoptr(GString) chain = g_string_new(NULL);
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	const gchar *argv[] = { "openssl", "verify", "-CAfile", ca, cert, NULL };
	gint status = -1;

	g_assert_nonnull(outcome->chain);
	for (guint i = 0; i < outcome->chain->len; i++) {
		g_autofree gchar *pem = der_to_pem(g_ptr_array_index(outcome->chain, i));
		g_string_append(chain, pem);
	}
	g_assert_true(g_file_set_contents(ca, chain->str, -1, NULL));
	g_assert_true(g_file_set_contents(cert, cert_pem, -1, NULL));
	if (g_find_program_in_path("openssl") == NULL)
		g_error("openssl is missing: apt-get install openssl");
	g_assert_true(g_spawn_sync(NULL,
				   (gchar **)argv,
				   NULL,
				   G_SPAWN_SEARCH_PATH,
				   NULL,
				   NULL,
				   &out,
				   &err,
				   &status,
				   NULL));
	g_test_message("openssl verify: %s%s", out, err);
	g_assert_true(g_spawn_check_wait_status(status, NULL));
	g_assert_nonnull(strstr(out, ": OK"));
	g_unlink(ca);
	g_unlink(cert);
	g_rmdir(dir);
}

static gnutls_x509_crt_t
crt_from_der(GBytes *der)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t datum = scep_gnutls_datum_from_bytes(der);
	g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_DER), ==, 0);
	return crt;
}

/* ---- against scepserver ---- */

static ScepNdesClient *
scepserver_client(void)
{
	g_autoptr(GError) error = NULL;
	ScepNdesClient *client = scep_ndes_client_new(scep_test_scepserver_url(), &error);
	g_assert_no_error(error);
	return client;
}

static void
test_scepserver_caps_and_ca(void)
{
	g_autoptr(ScepNdesClient) client = scepserver_client();
	g_autoptr(GAsyncResult) result = NULL;
	g_autoptr(GError) error = NULL;
	ScepCaCerts *certs;

	scep_ndes_client_fetch_ca_async(client, NULL, store_result_cb, &result);
	g_assert_true(scep_ndes_client_fetch_ca_finish(client, wait_for(&result), &error));
	g_assert_no_error(error);
	g_assert_true(scep_caps_supports_post(scep_ndes_client_get_caps(client)));
	g_assert_true(scep_caps_has(scep_ndes_client_get_caps(client), "Renewal"));
	certs = scep_ndes_client_get_ca_certs(client);
	g_assert_nonnull(certs);
	g_assert_false(scep_ca_certs_has_ra(certs));
	g_assert_false(scep_ndes_client_get_ca_pinned(client));
}

static void
test_scepserver_pin(void)
{
	g_autoptr(ScepNdesClient) client = scepserver_client();
	g_autoptr(ScepNdesClient) pinned = scepserver_client();
	g_autoptr(ScepNdesClient) wrong = scepserver_client();
	g_autoptr(GAsyncResult) r1 = NULL;
	g_autoptr(GAsyncResult) r2 = NULL;
	g_autoptr(GAsyncResult) r3 = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *fp = NULL;

	scep_ndes_client_fetch_ca_async(client, NULL, store_result_cb, &r1);
	g_assert_true(scep_ndes_client_fetch_ca_finish(client, wait_for(&r1), NULL));
	fp = scep_ca_cert_get_fingerprint(
	    scep_ca_certs_get_ca(scep_ndes_client_get_ca_certs(client)), GNUTLS_DIG_SHA256);
	scep_ndes_client_set_fingerprint(pinned, fp, GNUTLS_DIG_SHA256);
	scep_ndes_client_fetch_ca_async(pinned, NULL, store_result_cb, &r2);
	g_assert_true(scep_ndes_client_fetch_ca_finish(pinned, wait_for(&r2), &error));
	g_assert_no_error(error);
	g_assert_true(scep_ndes_client_get_ca_pinned(pinned));
	scep_ndes_client_set_fingerprint(
	    wrong,
	    "0000000000000000000000000000000000000000000000000000000000000000",
	    GNUTLS_DIG_SHA256);
	scep_ndes_client_fetch_ca_async(wrong, NULL, store_result_cb, &r3);
	g_assert_false(scep_ndes_client_fetch_ca_finish(wrong, wait_for(&r3), &error));
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_UNTRUSTED);
	g_assert_null(scep_ndes_client_get_ca_certs(wrong));
}

static void
test_scepserver_enroll_method(gconstpointer data)
{
	ScepNdesMethod method = GPOINTER_TO_INT(data);
	g_autoptr(ScepNdesClient) client = scepserver_client();
	g_auto(gnutls_privkey_t) key = test_key();
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesOutcome) outcome = NULL;

	scep_ndes_client_set_method(client, method);
	outcome = enroll(client,
			 method == SCEP_NDES_METHOD_GET ? "CN=enroll-get" : "CN=enroll-post",
			 scep_test_scepserver_challenge(),
			 key,
			 SCEP_MESSAGE_TYPE_PKCS_REQ,
			 NULL,
			 NULL,
			 &error);
	g_assert_no_error(error);
	g_assert_cmpint(outcome->status, ==, SCEP_NDES_STATUS_ISSUED);
	assert_openssl_verifies(outcome);
}

static void
test_scepserver_renewal(gconstpointer data)
{
	ScepMessageType type = GPOINTER_TO_INT(data);
	g_autoptr(ScepNdesClient) client = scepserver_client();
	g_auto(gnutls_privkey_t) key = test_key();
	g_auto(gnutls_privkey_t) new_key = test_key();
	g_auto(gnutls_x509_crt_t) old = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesOutcome) first = NULL;
	g_autoptr(ScepNdesOutcome) renewed = NULL;

	first = enroll(client,
		       "CN=renew-me",
		       scep_test_scepserver_challenge(),
		       key,
		       SCEP_MESSAGE_TYPE_PKCS_REQ,
		       NULL,
		       NULL,
		       &error);
	g_assert_no_error(error);
	old = crt_from_der(first->certificate);
	/* scepserver with a challenge set refuses a renewal without one (test-servers.md) */
	renewed = enroll(client,
			 "CN=renew-me",
			 scep_test_scepserver_challenge(),
			 new_key,
			 type,
			 old,
			 key,
			 &error);
	g_assert_no_error(error);
	g_assert_cmpint(renewed->status, ==, SCEP_NDES_STATUS_ISSUED);
	g_assert_false(g_bytes_equal(first->certificate, renewed->certificate));
	assert_openssl_verifies(renewed);
}

static void
test_scepserver_wrong_challenge(void)
{
	g_autoptr(ScepNdesClient) client = scepserver_client();
	g_auto(gnutls_privkey_t) key = test_key();
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesOutcome) outcome = NULL;

	outcome = enroll(client,
			 "CN=wrong",
			 "not-the-challenge",
			 key,
			 SCEP_MESSAGE_TYPE_PKCS_REQ,
			 NULL,
			 NULL,
			 &error);
	g_assert_null(outcome);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_REJECTED);
	g_assert_nonnull(strstr(error->message, "badRequest: transaction not permitted"));
}

static gchar *
scepctl_path(void)
{
	return g_build_filename(g_getenv("SCEP_TOP_BUILDDIR"), "agent", "scepctl", NULL);
}

/* runs scepctl with @stdin_text on standard input and @env (NAME, VALUE pairs, nullable) set
 * in its environment; returns the exit status */
static gint
run_scepctl_env(const gchar *const *args,
		const gchar *const *env,
		const gchar *stdin_text,
		gchar **out)
{
	g_autofree gchar *exe = scepctl_path();
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *err = NULL;

	g_ptr_array_add(argv, exe);
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	g_ptr_array_add(argv, NULL);
	launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_PIPE |
					     G_SUBPROCESS_FLAGS_STDOUT_PIPE |
					     G_SUBPROCESS_FLAGS_STDERR_PIPE);
	for (guint i = 0; env != NULL && env[i] != NULL; i += 2)
		g_subprocess_launcher_setenv(launcher, env[i], env[i + 1], TRUE);
	proc = g_subprocess_launcher_spawnv(launcher, (const gchar *const *)argv->pdata, &error);
	g_assert_no_error(error);
	g_assert_true(g_subprocess_communicate_utf8(
	    proc, stdin_text != NULL ? stdin_text : "", NULL, out, &err, &error));
	g_assert_no_error(error);
	g_test_message("scepctl stdout: %s", *out);
	g_test_message("scepctl stderr: %s", err);
	g_assert_true(g_subprocess_get_if_exited(proc));
	return g_subprocess_get_exit_status(proc);
}

/* runs scepctl with @stdin_text on standard input; returns the exit status */
static gint
run_scepctl(const gchar *const *args, const gchar *stdin_text, gchar **out)
{
	return run_scepctl_env(args, NULL, stdin_text, out);
}

/* ---- scepctl and the proxy environment ---- */

/* an HTTP proxy that answers GetCACert with a fixed CA certificate and everything else with
 * GetCACaps text, and remembers the request lines; it accepts in its own thread, as the test
 * waits for scepctl synchronously */
typedef struct {
	GMutex lock;
	GPtrArray *request_lines; /* of gchar* */
	GBytes *ca_der;
	GSocket *listener;
	GThread *thread;
} FakeProxy;

static void
fake_proxy_serve(FakeProxy *proxy, GSocket *socket)
{
	static const gchar caps[] = "POSTPKIOperation\nSHA-256\nAES\n";
	g_autoptr(GSocketConnection) connection =
	    g_socket_connection_factory_create_connection(socket);
	GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(connection));
	g_autoptr(GDataInputStream) data =
	    g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(connection)));
	g_autofree gchar *line = NULL;
	g_autofree gchar *reply = NULL;

	g_filter_input_stream_set_close_base_stream(G_FILTER_INPUT_STREAM(data), FALSE);
	line = g_data_input_stream_read_line(data, NULL, NULL, NULL);
	if (line == NULL)
		return;
	for (;;) {
		g_autofree gchar *header = g_data_input_stream_read_line(data, NULL, NULL, NULL);
		if (header == NULL || header[0] == '\r' || header[0] == '\0')
			break;
	}
	g_mutex_lock(&proxy->lock);
	g_ptr_array_add(proxy->request_lines, g_strdup(g_strchomp(line)));
	g_mutex_unlock(&proxy->lock);
	if (strstr(line, "operation=GetCACert") != NULL) {
		gsize size = g_bytes_get_size(proxy->ca_der);
		reply =
		    g_strdup_printf("HTTP/1.1 200 OK\r\nContent-Type: application/x-x509-ca-cert"
				    "\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
				    size);
		g_output_stream_write_all(out, reply, strlen(reply), NULL, NULL, NULL);
		g_output_stream_write_all(
		    out, g_bytes_get_data(proxy->ca_der, NULL), size, NULL, NULL, NULL);
	} else {
		reply = g_strdup_printf("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
					"Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
					strlen(caps),
					caps);
		g_output_stream_write_all(out, reply, strlen(reply), NULL, NULL, NULL);
	}
	g_io_stream_close(G_IO_STREAM(connection), NULL, NULL);
}

static gpointer
fake_proxy_thread(gpointer user_data)
{
	FakeProxy *proxy = user_data;
	for (;;) {
		/* ends when the test shuts the listening socket down */
		g_autoptr(GSocket) socket = g_socket_accept(proxy->listener, NULL, NULL);
		if (socket == NULL)
			return NULL;
		fake_proxy_serve(proxy, socket);
	}
}

/* starts the proxy on a loopback port; returns "127.0.0.1:PORT" */
static gchar *
fake_proxy_start(FakeProxy *proxy)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) any = g_inet_socket_address_new(loopback, 0);
	g_autoptr(GSocketAddress) local = NULL;

	g_autofree gchar *dir = g_dir_make_tmp("fake-proxy-XXXXXX", NULL);
	g_autofree gchar *ca_path = g_build_filename(dir, "ca.der", NULL);
	g_autofree gchar *key_path = g_build_filename(dir, "ca.key", NULL);
	const gchar *argv[] = { "openssl", "req",     "-x509",    "-newkey", "rsa:2048",
				"-nodes",  "-keyout", key_path,   "-subj",   "/CN=proxy-test-ca",
				"-days",   "1",       "-outform", "DER",     "-out",
				ca_path,   NULL };
	gint status = -1;
	gchar *ca = NULL;
	gsize ca_len = 0;

	/* a CA certificate valid now, for GetCACert */
	g_assert_true(g_spawn_sync(NULL,
				   (gchar **)argv,
				   NULL,
				   G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
				       G_SPAWN_STDERR_TO_DEV_NULL,
				   NULL,
				   NULL,
				   NULL,
				   NULL,
				   &status,
				   &error));
	g_assert_no_error(error);
	g_assert_true(g_spawn_check_wait_status(status, &error));
	g_assert_true(g_file_get_contents(ca_path, &ca, &ca_len, &error));
	proxy->ca_der = g_bytes_new_take(ca, ca_len);
	g_assert_true(scep_test_remove_tree(dir, &error));
	g_assert_no_error(error);
	g_mutex_init(&proxy->lock);
	proxy->request_lines = g_ptr_array_new_with_free_func(g_free);
	proxy->listener =
	    g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
	g_assert_no_error(error);
	g_assert_true(g_socket_bind(proxy->listener, any, TRUE, &error));
	g_assert_true(g_socket_listen(proxy->listener, &error));
	g_assert_no_error(error);
	local = g_socket_get_local_address(proxy->listener, &error);
	g_assert_no_error(error);
	proxy->thread = g_thread_new("fake-proxy", fake_proxy_thread, proxy);
	return g_strdup_printf("127.0.0.1:%u",
			       g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local)));
}

static void
fake_proxy_stop(FakeProxy *proxy)
{
	g_socket_shutdown(proxy->listener, TRUE, TRUE, NULL);
	g_socket_close(proxy->listener, NULL);
	g_thread_join(proxy->thread);
	g_object_unref(proxy->listener);
	g_ptr_array_unref(proxy->request_lines);
	g_bytes_unref(proxy->ca_der);
	g_mutex_clear(&proxy->lock);
}

/* a loopback port nothing listens on (bound, then closed) */
static guint16
closed_port(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSocket) socket =
	    g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
	g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) any = g_inet_socket_address_new(loopback, 0);
	g_autoptr(GSocketAddress) local = NULL;
	g_assert_no_error(error);
	g_assert_true(g_socket_bind(socket, any, FALSE, &error));
	g_assert_no_error(error);
	local = g_socket_get_local_address(socket, &error);
	g_assert_no_error(error);
	return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local));
}

static guint
fake_proxy_count(FakeProxy *proxy)
{
	guint n;
	g_mutex_lock(&proxy->lock);
	n = proxy->request_lines->len;
	g_mutex_unlock(&proxy->lock);
	return n;
}

/* scepctl reads the proxy from the environment as curl does: http_proxy (a value without a
 * scheme is http://), no_proxy excludes hosts, --proxy "" connects directly, and the upper
 * case HTTP_PROXY is ignored for http */
static void
test_scepctl_proxy_environment(void)
{
	FakeProxy proxy = { 0 };
	g_autofree gchar *proxy_hostport = NULL;
	g_autofree gchar *url = NULL;
	g_autofree gchar *expected = NULL;
	g_autofree gchar *out = NULL;
	const gchar *args[] = { "getcaps", NULL, NULL, NULL, NULL };

	proxy_hostport = fake_proxy_start(&proxy);
	/* the SCEP server itself is not there: only the proxy can answer */
	url = g_strdup_printf("http://127.0.0.1:%u/scep", closed_port());
	args[1] = url;

	{
		const gchar *env[] = {
			"http_proxy", proxy_hostport, "no_proxy", "example.test", NULL
		};
		g_assert_cmpint(run_scepctl_env(args, env, NULL, &out), ==, 0);
		g_assert_nonnull(strstr(out, "POSTPKIOperation"));
		g_assert_cmpuint(fake_proxy_count(&proxy), ==, 2);
		/* GetCACaps and GetCACert, both as proxy requests: the absolute URI */
		expected = g_strdup_printf("GET %s?operation=GetCACaps", url);
		g_assert_true(
		    g_str_has_prefix(g_ptr_array_index(proxy.request_lines, 0), expected));
		g_clear_pointer(&out, g_free);
	}
	{
		/* excluded by no_proxy (a suffix entry with a leading dot matches the host) */
		const gchar *env[] = { "http_proxy", proxy_hostport, "no_proxy", ".0.0.1", NULL };
		g_assert_cmpint(run_scepctl_env(args, env, NULL, &out), ==, 1);
		g_assert_cmpuint(fake_proxy_count(&proxy), ==, 2);
		g_clear_pointer(&out, g_free);
	}
	{
		/* --proxy "" connects directly */
		const gchar *env[] = { "http_proxy", proxy_hostport, NULL };
		args[2] = "--proxy";
		args[3] = "";
		g_assert_cmpint(run_scepctl_env(args, env, NULL, &out), ==, 1);
		g_assert_cmpuint(fake_proxy_count(&proxy), ==, 2);
		args[2] = NULL;
		args[3] = NULL;
		g_clear_pointer(&out, g_free);
	}
	{
		/* HTTP_PROXY is not read for http; all_proxy is */
		const gchar *env[] = { "HTTP_PROXY", proxy_hostport, NULL };
		const gchar *env_all[] = { "all_proxy", proxy_hostport, NULL };
		g_assert_cmpint(run_scepctl_env(args, env, NULL, &out), ==, 1);
		g_assert_cmpuint(fake_proxy_count(&proxy), ==, 2);
		g_clear_pointer(&out, g_free);
		g_assert_cmpint(run_scepctl_env(args, env_all, NULL, &out), ==, 0);
		g_assert_cmpuint(fake_proxy_count(&proxy), ==, 4);
	}
	fake_proxy_stop(&proxy);
}

static void
test_scepserver_scepctl_request(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("scepctl-XXXXXX", NULL);
	g_autofree gchar *key = g_build_filename(dir, "key.pem", NULL);
	g_autofree gchar *cert = g_build_filename(dir, "cert.pem", NULL);
	g_autofree gchar *chain = g_build_filename(dir, "chain.pem", NULL);
	g_autofree gchar *out = NULL;
	const gchar *args[] = {
		"request", scep_test_scepserver_url(), "--subject", "CN=scepctl", "--out", dir, NULL
	};
	struct stat st;

	g_assert_cmpint(run_scepctl(args, scep_test_scepserver_challenge(), &out), ==, 0);
	g_assert_cmpint(g_stat(key, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	g_assert_cmpint(g_stat(cert, &st), ==, 0);
	g_assert_cmpint(g_stat(chain, &st), ==, 0);
	{
		const gchar *argv[] = { "openssl", "verify", "-CAfile", chain, cert, NULL };
		gint status = -1;
		g_assert_true(g_spawn_sync(NULL,
					   (gchar **)argv,
					   NULL,
					   G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
					   NULL,
					   NULL,
					   NULL,
					   NULL,
					   &status,
					   NULL));
		g_assert_true(g_spawn_check_wait_status(status, NULL));
	}
	g_unlink(key);
	g_unlink(cert);
	g_unlink(chain);
	g_rmdir(dir);
}

static void
test_scepserver_scepctl_rejected(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("scepctl-XXXXXX", NULL);
	g_autofree gchar *key = g_build_filename(dir, "key.pem", NULL);
	g_autofree gchar *cert = g_build_filename(dir, "cert.pem", NULL);
	g_autofree gchar *out = NULL;
	const gchar *args[] = { "request",   scep_test_scepserver_url(),
				"--subject", "CN=scepctl-wrong",
				"--out",     dir,
				"--json",    NULL };

	g_assert_cmpint(run_scepctl(args, "wrong-challenge\n", &out), ==, 4);
	g_assert_nonnull(strstr(out, "\"result\": \"rejected\""));
	g_assert_nonnull(strstr(out, "badRequest"));
	g_assert_false(g_file_test(cert, G_FILE_TEST_EXISTS));
	g_unlink(key);
	g_rmdir(dir);
}

/* ---- against our responder ---- */

static ScepTestResponder *
responder_start(const gchar *const *args)
{
	g_autoptr(GError) error = NULL;
	ScepTestResponder *responder = scep_test_responder_start(args, &error);
	g_assert_no_error(error);
	return responder;
}

static void
responder_script(ScepTestResponder *responder, const gchar *json)
{
	g_autoptr(GError) error = NULL;
	g_assert_true(scep_test_responder_set_script(responder, json, &error));
	g_assert_no_error(error);
}

static ScepNdesClient *
responder_client(ScepTestResponder *responder)
{
	g_autoptr(GError) error = NULL;
	ScepNdesClient *client =
	    scep_ndes_client_new(scep_test_responder_get_url(responder), &error);
	g_assert_no_error(error);
	return client;
}

static void
test_responder_pending_restart(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	g_autoptr(ScepNdesClient) client = responder_client(responder);
	g_auto(gnutls_privkey_t) key = test_key();
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesOutcome) first = NULL;
	g_autoptr(ScepNdesOutcome) second = NULL;
	g_autoptr(ScepNdesOutcome) third = NULL;
	g_autoptr(ScepPending) restored = NULL;
	g_autoptr(ScepNdesClient) client2 = NULL;
	g_autofree gchar *state = NULL;
	g_autofree gchar *tid = NULL;
	g_autofree gchar *state_dir = g_dir_make_tmp("pending-XXXXXX", NULL);
	g_autofree gchar *state_path = g_build_filename(state_dir, "pending.state", NULL);
	guint8 nonce_before[SCEP_NONCE_SIZE];
	struct stat st;
	gsize len = 0;

	responder_script(responder,
			 "[{\"status\": \"pending\"}, {\"status\": \"pending\"}, "
			 "{\"status\": \"success\"}]");
	first =
	    enroll(client, "CN=pending", NULL, key, SCEP_MESSAGE_TYPE_PKCS_REQ, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(first->status, ==, SCEP_NDES_STATUS_PENDING);
	g_assert_nonnull(first->pending);

	/* "restart": the state goes to a file, the client away, a new one comes from the file */
	g_assert_true(scep_pending_save(first->pending, state_path, &error));
	g_assert_no_error(error);
	g_assert_cmpint(g_stat(state_path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	g_clear_object(&client);
	restored = scep_pending_load(state_path, &error);
	g_assert_no_error(error);
	state = scep_pending_to_data(restored, &len);
	g_assert_nonnull(strstr(state, first->transaction_id));
	scep_pending_text_free(g_steal_pointer(&state));
	g_assert_cmpstr(restored->transaction_id, ==, first->transaction_id);
	client2 = scep_ndes_client_new_for_pending(restored, &error);
	g_assert_no_error(error);

	memcpy(nonce_before, restored->sender_nonce, SCEP_NONCE_SIZE);
	second = poll_once(client2, restored, &error);
	g_assert_no_error(error);
	g_assert_cmpint(second->status, ==, SCEP_NDES_STATUS_PENDING);
	/* a fresh nonce per message */
	g_assert_true(memcmp(nonce_before, restored->sender_nonce, SCEP_NONCE_SIZE) != 0);
	third = poll_once(client2, restored, &error);
	g_assert_no_error(error);
	g_assert_cmpint(third->status, ==, SCEP_NDES_STATUS_ISSUED);
	g_assert_cmpstr(third->transaction_id, ==, first->transaction_id);
	assert_openssl_verifies(third);

	/* the responder saw one PKCSReq and two CertPolls, all with our transaction ID */
	g_assert_cmpint(
	    scep_test_responder_count_in_log(responder, "\"message_type\": 19", NULL), ==, 1);
	g_assert_cmpint(
	    scep_test_responder_count_in_log(responder, "\"message_type\": 20", NULL), ==, 2);
	tid = g_strdup_printf("\"transaction_id\": \"%s\"", first->transaction_id);
	g_assert_cmpint(scep_test_responder_count_in_log(responder, tid, NULL), ==, 3);
	g_unlink(state_path);
	g_rmdir(state_dir);
}

static void
test_responder_fail_info(void)
{
	static const struct {
		guint value;
		const gchar *words;
	} cases[] = {
		{ 0, "badAlg" },  { 1, "badMessageCheck" }, { 2, "badRequest" },
		{ 3, "badTime" }, { 4, "badCertId" },       { 99, "failInfo 99" },
	};
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(ScepNdesClient) client = responder_client(responder);
		g_auto(gnutls_privkey_t) key = test_key();
		g_autoptr(GError) error = NULL;
		g_autoptr(ScepNdesOutcome) outcome = NULL;
		g_autofree gchar *script = g_strdup_printf(
		    "[{\"status\": \"failure\", \"failinfo\": %u}]", cases[i].value);
		responder_script(responder, script);
		outcome = enroll(
		    client, "CN=fail", NULL, key, SCEP_MESSAGE_TYPE_PKCS_REQ, NULL, NULL, &error);
		g_assert_null(outcome);
		g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_REJECTED);
		g_test_message("failInfo %u: %s", cases[i].value, error->message);
		g_assert_nonnull(strstr(error->message, cases[i].words));
	}
}

static void
test_responder_split_ra_oaep(void)
{
	const gchar *args[] = {
		"--ra", "split", "--oaep", "--no-certs-in-reply", "--ra-first", NULL
	};
	g_autoptr(ScepTestResponder) responder = responder_start(args);
	g_autoptr(ScepNdesClient) client = responder_client(responder);
	g_auto(gnutls_privkey_t) key = test_key();
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesOutcome) outcome = NULL;
	ScepCaCerts *certs;

	outcome = enroll(
	    client, "CN=ndes-style", NULL, key, SCEP_MESSAGE_TYPE_PKCS_REQ, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(outcome->status, ==, SCEP_NDES_STATUS_ISSUED);
	certs = scep_ndes_client_get_ca_certs(client);
	g_assert_true(scep_ca_certs_has_ra(certs));
	g_assert_true(scep_ca_certs_get_ra_sign(certs) != scep_ca_certs_get_ra_encrypt(certs));
	assert_openssl_verifies(outcome);
}

typedef struct {
	const gchar *script;
	GQuark domain;
	gint code;
	const gchar *words;
} HostileCase;

static const HostileCase hostile_cases[] = {
	{ "[{\"hostile\": \"bad-signature\"}]", 0, SCEP_NDES_ERROR_BAD_RESPONSE, "signature" },
	{ "[{\"hostile\": \"wrong-signer\"}]", 0, SCEP_NDES_ERROR_BAD_RESPONSE, "signature" },
	{ "[{\"hostile\": \"wrong-nonce\"}]", 0, SCEP_NDES_ERROR_BAD_RESPONSE, "recipientNonce" },
	{ "[{\"hostile\": \"wrong-transaction-id\"}]",
	  0,
	  SCEP_NDES_ERROR_BAD_RESPONSE,
	  "transaction" },
	{ "[{\"hostile\": \"wrong-message-type\"}]",
	  0,
	  SCEP_NDES_ERROR_BAD_RESPONSE,
	  "messageType" },
	{ "[{\"hostile\": \"truncated\"}]", 0, SCEP_NDES_ERROR_BAD_RESPONSE, "SignedData" },
	{ "[{\"hostile\": \"html-200\"}]", 0, SCEP_NDES_ERROR_BAD_RESPONSE, "text/html" },
	{ "[{\"hostile\": \"http-500-empty\"}]", 0, SCEP_NDES_ERROR_HTTP_STATUS, "500" },
	{ "[{\"hostile\": \"slow\", \"delay\": 5}]", 0, SCEP_NDES_ERROR_TIMEOUT, NULL },
	{ "[{\"hostile\": \"huge\"}]", 0, SCEP_NDES_ERROR_BAD_RESPONSE, NULL },
};

static void
test_responder_hostile(gconstpointer data)
{
	const HostileCase *hc = data;
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	g_autoptr(ScepNdesClient) client = responder_client(responder);
	g_auto(gnutls_privkey_t) key = test_key();
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesOutcome) outcome = NULL;

	scep_ndes_client_set_timeouts(client, 2, 2);
	responder_script(responder, hc->script);
	outcome =
	    enroll(client, "CN=hostile", NULL, key, SCEP_MESSAGE_TYPE_PKCS_REQ, NULL, NULL, &error);
	g_assert_null(outcome);
	g_assert_nonnull(error);
	g_test_message("%s: %s", hc->script, error->message);
	g_assert_error(error, SCEP_NDES_ERROR, hc->code);
	if (hc->words != NULL)
		g_assert_nonnull(strstr(error->message, hc->words));
}

static void
test_responder_replay(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	g_autoptr(ScepNdesClient) client = responder_client(responder);
	g_auto(gnutls_privkey_t) key = test_key();
	g_auto(gnutls_privkey_t) key2 = test_key();
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesOutcome) first = NULL;
	g_autoptr(ScepNdesOutcome) second = NULL;

	responder_script(responder, "[{\"status\": \"success\"}, {\"hostile\": \"replay\"}]");
	first =
	    enroll(client, "CN=replay", NULL, key, SCEP_MESSAGE_TYPE_PKCS_REQ, NULL, NULL, &error);
	g_assert_no_error(error);
	second =
	    enroll(client, "CN=replay", NULL, key2, SCEP_MESSAGE_TYPE_PKCS_REQ, NULL, NULL, &error);
	g_assert_null(second);
	g_test_message("replay: %s", error->message);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
}

/*
 * A replay inside one transaction: the poll is answered with the PENDING CertRep of the
 * PKCSReq, byte for byte. Its transactionID and signature are right; only its recipientNonce
 * (the PKCSReq's senderNonce, not the CertPoll's) gives it away.
 */
static void
test_responder_replay_same_transaction(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	g_autoptr(ScepNdesClient) client = responder_client(responder);
	g_auto(gnutls_privkey_t) key = test_key();
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesOutcome) first = NULL;
	g_autoptr(ScepNdesOutcome) second = NULL;
	g_autofree gchar *tid = NULL;

	responder_script(responder, "[{\"status\": \"pending\"}, {\"hostile\": \"replay\"}]");
	first = enroll(
	    client, "CN=replay-poll", NULL, key, SCEP_MESSAGE_TYPE_PKCS_REQ, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(first->status, ==, SCEP_NDES_STATUS_PENDING);
	second = poll_once(client, first->pending, &error);
	g_assert_null(second);
	g_test_message("replay within the transaction: %s", error->message);
	g_assert_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE);
	g_assert_nonnull(strstr(error->message, "recipientNonce"));
	/* the responder did replay, to a CertPoll of the same transaction */
	g_assert_cmpint(
	    scep_test_responder_count_in_log(responder, "\"answer\": \"replay\"", NULL), ==, 1);
	g_assert_cmpint(
	    scep_test_responder_count_in_log(responder, "\"message_type\": 20", NULL), ==, 1);
	tid = g_strdup_printf("\"transaction_id\": \"%s\"", first->transaction_id);
	g_assert_cmpint(scep_test_responder_count_in_log(responder, tid, NULL), ==, 2);
}

static void
test_responder_scepctl_hostile(gconstpointer data)
{
	const gchar *script = data;
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	g_autofree gchar *dir = g_dir_make_tmp("scepctl-XXXXXX", NULL);
	g_autofree gchar *key = g_build_filename(dir, "key.pem", NULL);
	g_autofree gchar *cert = g_build_filename(dir, "cert.pem", NULL);
	g_autofree gchar *out = NULL;
	const gchar *args[] = { "request",   scep_test_responder_get_url(responder),
				"--subject", "CN=scepctl-hostile",
				"--out",     dir,
				NULL };

	responder_script(responder, script);
	g_assert_cmpint(run_scepctl(args, "", &out), ==, 1);
	g_assert_false(g_file_test(cert, G_FILE_TEST_EXISTS));
	g_unlink(key);
	g_rmdir(dir);
}

static void
test_responder_scepctl_pending(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	g_autofree gchar *dir = g_dir_make_tmp("scepctl-XXXXXX", NULL);
	g_autofree gchar *key = g_build_filename(dir, "key.pem", NULL);
	g_autofree gchar *cert = g_build_filename(dir, "cert.pem", NULL);
	g_autofree gchar *chain = g_build_filename(dir, "chain.pem", NULL);
	g_autofree gchar *state = g_build_filename(dir, "pending.state", NULL);
	g_autofree gchar *out = NULL;
	g_autofree gchar *out2 = NULL;
	const gchar *url = scep_test_responder_get_url(responder);
	const gchar *args[] = { "request", url, "--subject", "CN=scepctl-pending",
				"--out",   dir, NULL };
	const gchar *poll_args[] = { "poll", url, "--state", state, NULL };
	struct stat st;

	responder_script(responder, "[{\"status\": \"pending\"}, {\"status\": \"success\"}]");
	g_assert_cmpint(run_scepctl(args, "", &out), ==, 3);
	g_assert_cmpint(g_stat(state, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	g_assert_false(g_file_test(cert, G_FILE_TEST_EXISTS));
	g_assert_cmpint(run_scepctl(poll_args, NULL, &out2), ==, 0);
	g_assert_true(g_file_test(cert, G_FILE_TEST_EXISTS));
	g_unlink(key);
	g_unlink(cert);
	g_unlink(chain);
	g_unlink(state);
	g_rmdir(dir);
}

int
main(int argc, char **argv)
{
	/* no desktop proxy settings in tests (GSettings may be absent) */
	g_setenv("GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

	if (scep_test_scepserver_url() != NULL) {
		g_test_add_func("/scep/enroll/scepserver/caps-and-ca", test_scepserver_caps_and_ca);
		g_test_add_func("/scep/enroll/scepserver/fingerprint-pin", test_scepserver_pin);
		g_test_add_data_func("/scep/enroll/scepserver/pkcsreq-post",
				     GINT_TO_POINTER(SCEP_NDES_METHOD_POST),
				     test_scepserver_enroll_method);
		g_test_add_data_func("/scep/enroll/scepserver/pkcsreq-get",
				     GINT_TO_POINTER(SCEP_NDES_METHOD_GET),
				     test_scepserver_enroll_method);
		g_test_add_data_func("/scep/enroll/scepserver/renewal-renewalreq",
				     GINT_TO_POINTER(SCEP_MESSAGE_TYPE_RENEWAL_REQ),
				     test_scepserver_renewal);
		g_test_add_data_func("/scep/enroll/scepserver/renewal-pkcsreq-old-cert",
				     GINT_TO_POINTER(SCEP_MESSAGE_TYPE_PKCS_REQ),
				     test_scepserver_renewal);
		g_test_add_func("/scep/enroll/scepserver/wrong-challenge",
				test_scepserver_wrong_challenge);
		g_test_add_func("/scep/enroll/scepserver/scepctl-request",
				test_scepserver_scepctl_request);
		g_test_add_func("/scep/enroll/scepserver/scepctl-rejected",
				test_scepserver_scepctl_rejected);
		return g_test_run();
	}

	g_test_add_func("/scep/enroll/responder/pending-twice-restart",
			test_responder_pending_restart);
	g_test_add_func("/scep/enroll/responder/fail-info", test_responder_fail_info);
	g_test_add_func("/scep/enroll/responder/split-ra-oaep", test_responder_split_ra_oaep);
	for (guint i = 0; i < G_N_ELEMENTS(hostile_cases); i++) {
		g_autofree gchar *name = g_strdup_printf("/scep/enroll/responder/hostile/%u", i);
		g_test_add_data_func(name, &hostile_cases[i], test_responder_hostile);
	}
	g_test_add_func("/scep/enroll/responder/hostile/replay", test_responder_replay);
	g_test_add_func("/scep/enroll/responder/hostile/replay-same-transaction",
			test_responder_replay_same_transaction);
	g_test_add_data_func("/scep/enroll/responder/scepctl-hostile/html-200",
			     "[{\"hostile\": \"html-200\"}]",
			     test_responder_scepctl_hostile);
	g_test_add_data_func("/scep/enroll/responder/scepctl-hostile/bad-signature",
			     "[{\"hostile\": \"bad-signature\"}]",
			     test_responder_scepctl_hostile);
	g_test_add_func("/scep/enroll/scepctl/proxy-environment", test_scepctl_proxy_environment);
	g_test_add_func("/scep/enroll/responder/scepctl-pending-poll",
			test_responder_scepctl_pending);
	return g_test_run();
}
