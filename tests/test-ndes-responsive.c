/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * ScepNdesClient keeps the main loop answering while it works with 4096-bit keys (issue 4 §7):
 * the CSR, the self-signed signer, the pkiMessage signature and envelope and, on the reply, the
 * signature check and the decryption run in worker threads. A 5 ms timeout source probes the
 * main loop during whole requests against our responder (tests/scep-responder.py, independent
 * crypto), whose 99th-percentile lateness must stay under 10 ms. The CSR the client finishes
 * in a worker must be byte for byte the one scep_csr_build() makes with the new key.
 */
#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "scep-gnutls-common.h"
#include "scep-ndes-client.h"
#include "scep-test-peers.h"
#include "scep-test-util.h"

#define PROBE_INTERVAL_MS 5
/*
 * Issue 4 §7: the main loop answers within 10 ms. How late the ticks come is measured and
 * printed, but what is asserted is the main thread's own CPU time between two ticks: work of
 * ours on the main loop (an RSA operation with a 4096-bit key takes 20-80 ms) shows there
 * whatever else the machine does, while lateness also counts the host's scheduling, which on a
 * shared 2-core VM reached p99 of 20-30 ms with nothing of ours running on the main thread.
 */
#define PROBE_MAX_P99_US 10000

/*
 * A request of about 150 ms gives some 30 ticks, so one request's 99th percentile would be its
 * maximum: a single scheduler hiccup on a busy 2-core machine. Each case repeats its request
 * (at least MIN_ROUNDS times) until the probe has MIN_TICKS ticks; the maximum is printed too.
 */
#define MIN_ROUNDS 3
#define MAX_ROUNDS 50
#define MIN_TICKS  200

/* ---- helpers ---- */

static void
store_result_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GAsyncResult **out = user_data;
	*out = g_object_ref(result);
}

static ScepTestResponder *
responder_start(const gchar *const *args)
{
	g_autoptr(GError) error = NULL;
	ScepTestResponder *responder = scep_test_responder_start(args, &error);
	g_assert_no_error(error);
	return responder;
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

static gnutls_privkey_t
key_4096(void)
{
	g_autoptr(GError) error = NULL;
	gint64 start = g_get_monotonic_time();
	gnutls_privkey_t key = scep_csr_generate_key(4096, &error);
	g_assert_no_error(error);
	g_test_message("4096-bit key generated in %" G_GINT64_FORMAT " ms (outside the probe)",
		       (g_get_monotonic_time() - start) / 1000);
	return key;
}

/* ---- the probe (tests/scep-test-util.h) ---- */

/* whether to run round @round (from 0) of a probed case */
static gboolean
probe_wants_more(ScepTestProbe *probe, guint round)
{
	return round < MIN_ROUNDS ||
	       (scep_test_probe_get_ticks(probe) < MIN_TICKS && round < MAX_ROUNDS);
}

/* enough ticks for a 99th percentile that is not just the maximum, and the bound */
static void
probe_report(ScepTestProbe *probe, const gchar *what)
{
	g_assert_cmpuint(scep_test_probe_get_ticks(probe), >=, MIN_TICKS);
	scep_test_probe_report(probe, what, PROBE_MAX_P99_US);
}

/* ---- requests ---- */

static ScepCsrParams *
make_params(const gchar *subject)
{
	g_autoptr(ScepCsrParams) params = scep_csr_params_new();
	g_autoptr(GError) error = NULL;
	g_assert_true(scep_csr_params_set_subject(params, subject, &error));
	g_assert_no_error(error);
	scep_csr_params_set_challenge_password(params, "responsive-challenge");
	g_assert_true(scep_csr_params_add_san_spec(params, "dns:responsive.example.com", &error));
	g_assert_true(scep_csr_params_add_san_spec(params, "upn:host$@example.com", &error));
	g_assert_true(
	    scep_csr_params_set_template(params, "1.3.6.1.4.1.311.21.8.1.2.3", 100, 4, &error));
	g_assert_no_error(error);
	return g_steal_pointer(&params);
}

/* one enrollment, waited for in the main loop (which the caller's probe is watching) */
static ScepNdesOutcome *
enroll(ScepNdesClient *client,
       const gchar *subject,
       gnutls_privkey_t key,
       ScepMessageType type,
       gnutls_x509_crt_t signer_cert,
       gnutls_privkey_t signer_key,
       GError **error)
{
	g_autoptr(ScepCsrParams) params = make_params(subject);
	g_autoptr(GAsyncResult) result = NULL;
	ScepNdesEnrollRequest request = {
		.message_type = type,
		.csr_params = params,
		.key = key,
		.signer_cert = signer_cert,
		.signer_key = signer_key,
	};

	scep_ndes_client_enroll_async(client, &request, NULL, store_result_cb, &result);
	/* the parameters are borrowed for the call only */
	g_clear_pointer(&params, scep_csr_params_free);
	while (result == NULL)
		g_main_context_iteration(NULL, TRUE);
	return scep_ndes_client_enroll_finish(client, result, error);
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

/* the issued certificate carries @key's public key */
static void
assert_issued_for(ScepNdesOutcome *outcome, gnutls_privkey_t key)
{
	g_auto(gnutls_x509_crt_t) crt = NULL;
	g_auto(gnutls_pubkey_t) pub = NULL;
	guint8 want[64], got[64];
	size_t want_len = sizeof(want), got_len = sizeof(got);

	g_assert_cmpint(outcome->status, ==, SCEP_NDES_STATUS_ISSUED);
	g_assert_nonnull(outcome->certificate);
	crt = crt_from_der(outcome->certificate);
	g_assert_cmpint(gnutls_pubkey_init(&pub), ==, 0);
	g_assert_cmpint(gnutls_pubkey_import_privkey(pub, key, 0, 0), ==, 0);
	g_assert_cmpint(
	    gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, want, &want_len), ==, 0);
	g_assert_cmpint(
	    gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, got, &got_len), ==, 0);
	g_assert_cmpmem(got, got_len, want, want_len);
}

/* PKCSReq with a self-signed signer, a fresh client (so GetCACaps and GetCACert) per round;
 * the reply's content key is wrapped with PKCS#1 v1.5 or, as NDES does, with OAEP */
static void
test_enroll_4096(gconstpointer data)
{
	const gchar *const *args = data;
	g_autoptr(ScepTestResponder) responder = responder_start(args);
	g_auto(gnutls_privkey_t) key = key_4096();
	g_autoptr(ScepTestProbe) probe = scep_test_probe_start(PROBE_INTERVAL_MS);
	guint round;

	for (round = 0; probe_wants_more(probe, round); round++) {
		g_autoptr(ScepNdesClient) client = responder_client(responder);
		g_autoptr(GError) error = NULL;
		g_autoptr(ScepNdesOutcome) outcome = NULL;
		outcome = enroll(client,
				 "CN=responsive-4096,O=Scep Agent Tests",
				 key,
				 SCEP_MESSAGE_TYPE_PKCS_REQ,
				 NULL,
				 NULL,
				 &error);
		g_assert_no_error(error);
		assert_issued_for(outcome, key);
	}
	scep_test_probe_stop(probe);
	probe_report(probe, "PKCSReq, 4096-bit key");
	g_assert_cmpint(
	    scep_test_responder_count_in_log(responder, "\"message_type\": 19", NULL), ==, round);
}

/* RenewalReq signed with the current certificate and its 4096-bit key, for a new 4096-bit key */
static void
test_renew_4096(void)
{
	static const gchar *const args[] = { "--caps",
					     "POSTPKIOperation,SHA-256,AES,Renewal,SCEPStandard",
					     NULL };
	g_autoptr(ScepTestResponder) responder = responder_start(args);
	g_autoptr(ScepNdesClient) client = responder_client(responder);
	g_auto(gnutls_privkey_t) key = key_4096();
	g_auto(gnutls_privkey_t) new_key = key_4096();
	g_auto(gnutls_x509_crt_t) current = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesOutcome) first = NULL;
	g_autoptr(ScepTestProbe) probe = NULL;
	guint round;

	first = enroll(
	    client, "CN=responsive-renew", key, SCEP_MESSAGE_TYPE_PKCS_REQ, NULL, NULL, &error);
	g_assert_no_error(error);
	assert_issued_for(first, key);
	current = crt_from_der(first->certificate);

	probe = scep_test_probe_start(PROBE_INTERVAL_MS);
	for (round = 0; probe_wants_more(probe, round); round++) {
		g_autoptr(ScepNdesOutcome) renewed = NULL;
		renewed = enroll(client,
				 "CN=responsive-renew",
				 new_key,
				 SCEP_MESSAGE_TYPE_RENEWAL_REQ,
				 current,
				 key,
				 &error);
		g_assert_no_error(error);
		assert_issued_for(renewed, new_key);
	}
	scep_test_probe_stop(probe);
	probe_report(probe, "RenewalReq, 4096-bit keys");
	g_assert_cmpint(
	    scep_test_responder_count_in_log(responder, "\"message_type\": 17", NULL), ==, round);
}

/* the base64 of the CSR scep_csr_build() makes for @subject with @key, as the responder
 * stores it for a pending transaction */
static gchar *
expected_csr_base64(const gchar *subject, gnutls_privkey_t key)
{
	g_autoptr(ScepCsrParams) params = make_params(subject);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) csr = scep_csr_build(params, key, GNUTLS_DIG_SHA256, &error);
	g_assert_no_error(error);
	return g_base64_encode(g_bytes_get_data(csr, NULL), g_bytes_get_size(csr));
}

/*
 * PENDING, then CertPoll from the pending state until the certificate is issued. The CSR the
 * responder stored is byte for byte scep_csr_build()'s with the new key, although the client
 * builds it in a worker from a copy of the parameters (a multi-valued RDN makes
 * scep_csr_build() splice the subject, so that path is covered too).
 */
static void
test_poll_4096(void)
{
	static const gchar *const subject = "CN=responsive-poll,OU=b+OU=a,O=Scep Agent Tests";
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	g_auto(gnutls_privkey_t) key = key_4096();
	g_autofree gchar *csr_b64 = expected_csr_base64(subject, key);
	g_autofree gchar *state_path = scep_test_responder_get_file(responder, "state.json");
	g_autoptr(ScepTestProbe) probe = NULL;
	guint round;

	probe = scep_test_probe_start(PROBE_INTERVAL_MS);
	for (round = 0; probe_wants_more(probe, round); round++) {
		g_autoptr(ScepNdesClient) client = responder_client(responder);
		g_autoptr(ScepNdesClient) poller = NULL;
		g_autoptr(GError) error = NULL;
		g_autoptr(ScepNdesOutcome) first = NULL;
		g_autoptr(ScepNdesOutcome) polled = NULL;
		g_autoptr(GAsyncResult) result = NULL;
		g_autofree gchar *state = NULL;

		g_assert_true(scep_test_responder_set_script(
		    responder, "[{\"status\": \"pending\"}, {\"status\": \"success\"}]", &error));
		g_assert_no_error(error);
		first =
		    enroll(client, subject, key, SCEP_MESSAGE_TYPE_PKCS_REQ, NULL, NULL, &error);
		g_assert_no_error(error);
		g_assert_cmpint(first->status, ==, SCEP_NDES_STATUS_PENDING);
		g_assert_nonnull(first->pending);
		g_assert_true(g_file_get_contents(state_path, &state, NULL, &error));
		g_assert_no_error(error);
		g_assert_nonnull(strstr(state, csr_b64));

		poller = scep_ndes_client_new_for_pending(first->pending, &error);
		g_assert_no_error(error);
		scep_ndes_client_poll_async(poller, first->pending, NULL, store_result_cb, &result);
		while (result == NULL)
			g_main_context_iteration(NULL, TRUE);
		polled = scep_ndes_client_poll_finish(poller, result, &error);
		g_assert_no_error(error);
		assert_issued_for(polled, key);
		g_assert_cmpuint(first->pending->poll_count, ==, 1);
	}
	scep_test_probe_stop(probe);
	probe_report(probe, "PKCSReq answered PENDING + CertPoll, 4096-bit key");
	g_assert_cmpint(
	    scep_test_responder_count_in_log(responder, "\"message_type\": 20", NULL), ==, round);
}

/* a request cancelled while its signing runs in a worker ends with G_IO_ERROR_CANCELLED */
static void
test_cancel(void)
{
	g_autoptr(ScepTestResponder) responder = responder_start(NULL);
	g_autoptr(ScepNdesClient) client = responder_client(responder);
	g_auto(gnutls_privkey_t) key = key_4096();
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	g_autoptr(GAsyncResult) result = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesOutcome) outcome = NULL;
	g_autoptr(ScepCsrParams) params = make_params("CN=responsive-cancel");
	ScepNdesEnrollRequest request = {
		.message_type = SCEP_MESSAGE_TYPE_PKCS_REQ,
		.csr_params = params,
		.key = key,
	};

	/* the CA first, so that the request goes straight to its worker */
	scep_ndes_client_fetch_ca_async(client, NULL, store_result_cb, &result);
	while (result == NULL)
		g_main_context_iteration(NULL, TRUE);
	g_assert_true(scep_ndes_client_fetch_ca_finish(client, result, &error));
	g_assert_no_error(error);
	g_clear_object(&result);

	scep_ndes_client_enroll_async(client, &request, cancellable, store_result_cb, &result);
	g_cancellable_cancel(cancellable);
	while (result == NULL)
		g_main_context_iteration(NULL, TRUE);
	outcome = scep_ndes_client_enroll_finish(client, result, &error);
	g_assert_null(outcome);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	/* the worker finished, but nothing went to the server */
	g_assert_cmpint(
	    scep_test_responder_count_in_log(responder, "\"operation\": \"PKIOperation\"", NULL),
	    ==,
	    0);
}

int
main(int argc, char **argv)
{
	static const gchar *const pkcs1_args[] = { NULL };
	static const gchar *const oaep_args[] = { "--oaep", "--no-certs-in-reply", NULL };

	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
	gnutls_global_init();
	g_test_add_data_func("/scep/ndes/responsive/enroll-4096", pkcs1_args, test_enroll_4096);
	g_test_add_data_func("/scep/ndes/responsive/enroll-4096-oaep", oaep_args, test_enroll_4096);
	g_test_add_func("/scep/ndes/responsive/renew-4096", test_renew_4096);
	g_test_add_func("/scep/ndes/responsive/poll-4096", test_poll_4096);
	g_test_add_func("/scep/ndes/responsive/cancel", test_cancel);
	return g_test_run();
}
