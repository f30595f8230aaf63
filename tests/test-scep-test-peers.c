/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The test-peer helpers themselves: the responder starts, answers, takes a
 * script, logs, restarts with its CA, stops; the scepserver harness exported
 * a URL that answers.  Run under tests/scepserver-netns.sh.
 */

#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "scep-test-peers.h"

static GBytes *
peers_http_get(const gchar *url, guint *status)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) body = NULL;
	gboolean ok = scep_test_http_request(url, "GET", NULL, NULL, status, &body, &error);

	g_assert_no_error(error);
	g_assert_true(ok);
	return g_steal_pointer(&body);
}

static gboolean
peers_bytes_contain(GBytes *bytes, const gchar *needle)
{
	gsize len = 0;
	const gchar *data = g_bytes_get_data(bytes, &len);

	return data != NULL && memmem(data, len, needle, strlen(needle)) != NULL;
}

static void
test_responder_start_and_caps(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTestResponder) r = scep_test_responder_start(NULL, &error);
	g_autofree gchar *url = NULL;
	g_autoptr(GBytes) body = NULL;
	guint status = 0;

	g_assert_no_error(error);
	g_assert_nonnull(r);
	g_assert_true(g_str_has_prefix(scep_test_responder_get_url(r), "http://127.0.0.1:"));
	g_assert_true(g_str_has_suffix(scep_test_responder_get_url(r), "/scep"));
	g_assert_cmpuint(scep_test_responder_get_port(r), >, 0);
	url = g_strdup_printf("%s?operation=GetCACaps", scep_test_responder_get_url(r));
	body = peers_http_get(url, &status);
	g_assert_cmpuint(status, ==, 200);
	g_assert_true(peers_bytes_contain(body, "POSTPKIOperation"));
}

static void
test_responder_extra_args(void)
{
	const gchar *args[] = { "--caps", "AES,SHA-256", NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTestResponder) r = scep_test_responder_start(args, &error);
	g_autofree gchar *url = NULL;
	g_autoptr(GBytes) body = NULL;
	guint status = 0;

	g_assert_no_error(error);
	url = g_strdup_printf("%s?operation=GetCACaps", scep_test_responder_get_url(r));
	body = peers_http_get(url, &status);
	g_assert_cmpuint(status, ==, 200);
	g_assert_cmpmem(g_bytes_get_data(body, NULL),
			g_bytes_get_size(body),
			"AES\nSHA-256",
			strlen("AES\nSHA-256"));
}

static void
test_responder_bad_args_fail(void)
{
	const gchar *args[] = { "--ra", "nonsense", NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTestResponder) r = scep_test_responder_start(args, &error);

	g_assert_null(r);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_FAILED);
}

static void
test_responder_script_rejected(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTestResponder) r = scep_test_responder_start(NULL, &error);

	g_assert_no_error(error);
	g_assert_false(scep_test_responder_set_script(r, "[{\"status\": \"maybe\"}]", &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "maybe"));
	g_clear_error(&error);
	g_assert_true(scep_test_responder_set_script(r,
						     "[{\"status\": \"pending\"}, "
						     "{\"hostile\": \"truncated\"}]",
						     &error));
	g_assert_no_error(error);
}

static void
test_responder_log_counts(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTestResponder) r = scep_test_responder_start(NULL, &error);
	g_autofree gchar *url = NULL;
	g_autofree gchar *log = NULL;
	guint status = 0;

	g_assert_no_error(error);
	url = g_strdup_printf("%s?operation=GetCACert", scep_test_responder_get_url(r));
	for (guint i = 0; i < 2; i++) {
		g_autoptr(GBytes) body = peers_http_get(url, &status);
		g_assert_cmpuint(status, ==, 200);
	}
	g_assert_cmpint(
	    scep_test_responder_count_in_log(r, "\"operation\": \"GetCACert\"", &error), ==, 2);
	g_assert_no_error(error);
	log = scep_test_responder_get_log(r, &error);
	g_assert_no_error(error);
	g_assert_true(g_str_has_prefix(log, "["));
	g_assert_true(scep_test_responder_clear_log(r, &error));
	g_assert_cmpint(scep_test_responder_count_in_log(r, "GetCACert", &error), ==, 0);
	g_assert_no_error(error);
}

static void
test_responder_restart_keeps_ca(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTestResponder) r = scep_test_responder_start(NULL, &error);
	g_autofree gchar *ca_path = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	g_autofree gchar *url_before = NULL;
	g_autofree gchar *url = NULL;
	g_autoptr(GBytes) body = NULL;
	guint status = 0;

	g_assert_no_error(error);
	ca_path = scep_test_responder_get_ca_cert_pem(r);
	g_assert_true(g_file_get_contents(ca_path, &before, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(g_str_has_prefix(before, "-----BEGIN CERTIFICATE-----"));
	url_before = g_strdup(scep_test_responder_get_url(r));
	g_assert_true(scep_test_responder_restart(r, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(scep_test_responder_get_url(r), ==, url_before);
	g_assert_true(g_file_get_contents(ca_path, &after, NULL, &error));
	g_assert_cmpstr(before, ==, after);
	url = g_strdup_printf("%s?operation=GetCACaps", scep_test_responder_get_url(r));
	body = peers_http_get(url, &status);
	g_assert_cmpuint(status, ==, 200);
}

static void
test_responder_stop_closes_port(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepTestResponder) r = scep_test_responder_start(NULL, &error);
	g_autofree gchar *url = NULL;
	g_autofree gchar *state_dir = NULL;

	g_assert_no_error(error);
	url = g_strdup_printf("%s?operation=GetCACaps", scep_test_responder_get_url(r));
	state_dir = g_strdup(scep_test_responder_get_state_dir(r));
	scep_test_responder_stop(r);
	scep_test_responder_stop(r); /* idempotent */
	g_assert_false(scep_test_http_request(url, "GET", NULL, NULL, NULL, NULL, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
	g_assert_true(g_file_test(state_dir, G_FILE_TEST_IS_DIR));
	g_clear_pointer(&r, scep_test_responder_free);
	g_assert_false(g_file_test(state_dir, G_FILE_TEST_EXISTS));
}

static void
test_scepserver_answers(void)
{
	const gchar *base = scep_test_scepserver_url();
	g_autofree gchar *url = NULL;
	g_autoptr(GBytes) body = NULL;
	guint status = 0;

	if (base == NULL) {
		g_test_message("SCEP_TEST_SCEPSERVER_URL is not set: run this test under "
			       "tests/scepserver-netns.sh");
		g_test_fail();
		return;
	}
	g_assert_cmpstr(scep_test_scepserver_challenge(), ==, "testbed-challenge");
	g_assert_true(g_file_test(scep_test_scepserver_depot(), G_FILE_TEST_IS_DIR));
	url = g_strdup_printf("%s?operation=GetCACaps", base);
	body = peers_http_get(url, &status);
	g_assert_cmpuint(status, ==, 200);
	g_assert_true(peers_bytes_contain(body, "POSTPKIOperation"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
	g_test_add_func("/scep/peers/responder/start-and-caps", test_responder_start_and_caps);
	g_test_add_func("/scep/peers/responder/extra-args", test_responder_extra_args);
	g_test_add_func("/scep/peers/responder/bad-args-fail", test_responder_bad_args_fail);
	g_test_add_func("/scep/peers/responder/script-rejected", test_responder_script_rejected);
	g_test_add_func("/scep/peers/responder/log-counts", test_responder_log_counts);
	g_test_add_func("/scep/peers/responder/restart-keeps-ca", test_responder_restart_keeps_ca);
	g_test_add_func("/scep/peers/responder/stop-closes-port", test_responder_stop_closes_port);
	g_test_add_func("/scep/peers/scepserver/answers", test_scepserver_answers);
	return g_test_run();
}
