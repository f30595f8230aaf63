/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * ScepEngine and ScepProfile in process: a temporary registry and state directory, a FAKE
 * ScepClock (time moves only when the test says so: no test sleeps through a real period), and
 * real servers: our scriptable responder (tests/scep-responder.py), and micromdm's scepserver
 * when run with --scepserver under tests/scepserver-netns.sh.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <netdb.h>
#include <string.h>
#include <sys/stat.h>

#include "scep-cert-store.h"
#include "scep-csr.h"
#include "scep-engine.h"
#include "scep-gnutls-common.h"
#include "scep-test-peers.h"
#include "scep-test-util.h"

#define WAIT_SECONDS 60

/* g_test_expect_message() does not see G_LOG_USE_STRUCTURED messages in GLib 2.74: warnings
 * and messages are recorded here (and still printed) so that tests can look for them */
static GPtrArray *captured_log; /* of "WARNING text" / "MESSAGE text" */

static GLogWriterOutput
capture_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
	const gchar *message = NULL;
	for (gsize i = 0; i < n_fields; i++) {
		if (g_str_equal(fields[i].key, "MESSAGE") && fields[i].length < 0)
			message = fields[i].value;
	}
	if (message != NULL && (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE)) != 0)
		g_ptr_array_add(
		    captured_log,
		    g_strdup_printf("%s %s",
				    (level & G_LOG_LEVEL_WARNING) != 0 ? "WARNING" : "MESSAGE",
				    message));
	return g_log_writer_default(level, fields, n_fields, user_data);
}

/* captured lines matching the glob @pattern ("WARNING *root changes*") */
static guint
captured_count(const gchar *pattern)
{
	guint n = 0;
	for (guint i = 0; i < captured_log->len; i++) {
		if (g_pattern_match_simple(pattern, g_ptr_array_index(captured_log, i)))
			n++;
	}
	return n;
}

typedef struct {
	gchar *tmp;
	gchar *registry_dir;
	gchar *state_dir;
	ScepClock *clock;
	ScepEngine *engine;
	ScepTestResponder *responder;
	const gchar *url;
	GHashTable *keys; /* "cert0.enabled" -> "true" */
	GArray *states;   /* ScepProfileState entered by cert0, in order */
	guint post_ok;
	guint post_failed;
	gchar *post_message;
	guint tick_id;
	gchar *hostname_file;
} Fixture;

static gboolean
tick_cb(gpointer user_data)
{
	return G_SOURCE_CONTINUE;
}

/* iterate the main loop until @cond holds; a bounded real-time wait for network round trips */
#define WAIT_FOR(cond)                                                                             \
	G_STMT_START                                                                               \
	{                                                                                          \
		gint64 end_ = g_get_monotonic_time() + WAIT_SECONDS * G_USEC_PER_SEC;              \
		while (!(cond)) {                                                                  \
			if (g_get_monotonic_time() > end_)                                         \
				g_error("timed out waiting for %s", #cond);                        \
			g_main_context_iteration(NULL, TRUE);                                      \
		}                                                                                  \
	}                                                                                          \
	G_STMT_END

static void
fixture_write_registry(Fixture *fx)
{
	g_autoptr(GString) text = g_string_new("# written by test-profile\n");
	g_autoptr(GList) names = g_hash_table_get_keys(fx->keys);
	g_autofree gchar *path = g_build_filename(fx->registry_dir, "registry", NULL);
	g_autoptr(GError) error = NULL;
	names = g_list_sort(names, (GCompareFunc)g_strcmp0);
	for (GList *l = names; l != NULL; l = l->next)
		g_string_append_printf(text,
				       "network.scepclient.%s=%s\n",
				       (const gchar *)l->data,
				       (const gchar *)g_hash_table_lookup(fx->keys, l->data));
	g_file_set_contents(path, text->str, (gssize)text->len, &error);
	g_assert_no_error(error);
}

static void
fixture_set(Fixture *fx, const gchar *key, const gchar *value)
{
	g_hash_table_insert(fx->keys, g_strdup(key), g_strdup(value));
}

static gchar *
ca_fingerprint(const gchar *pem_path)
{
	g_autofree gchar *data = NULL;
	gsize len = 0;
	gnutls_datum_t datum;
	g_auto(gnutls_x509_crt_t) crt = NULL;
	guchar fp[32];
	size_t fp_len = sizeof(fp);
	GString *hex = g_string_new(NULL);
	g_assert_true(g_file_get_contents(pem_path, &data, &len, NULL));
	datum.data = (guchar *)data;
	datum.size = (guint)len;
	g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_PEM), ==, 0);
	g_assert_cmpint(
	    gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp, &fp_len), ==, 0);
	for (gsize i = 0; i < fp_len; i++)
		g_string_append_printf(hex, "%02x", fp[i]);
	return g_string_free(hex, FALSE);
}

static void
state_changed_cb(ScepProfile *profile, guint old, guint state, const gchar *reason, Fixture *fx)
{
	ScepProfileState s = state;
	/* states entered: a new reason in the same state is not counted */
	if (scep_profile_get_instance(profile) == 0 && old != state)
		g_array_append_val(fx->states, s);
}

static void
post_install_cb(ScepProfile *profile, gboolean ok, const gchar *message, Fixture *fx)
{
	if (ok)
		fx->post_ok++;
	else
		fx->post_failed++;
	g_free(fx->post_message);
	fx->post_message = g_strdup(message);
}

static void
profile_added_cb(ScepEngine *engine, ScepProfile *profile, Fixture *fx)
{
	g_signal_connect(profile, "state-changed", G_CALLBACK(state_changed_cb), fx);
	g_signal_connect(profile, "post-install-finished", G_CALLBACK(post_install_cb), fx);
}

static void
fixture_start_engine(Fixture *fx)
{
	g_autoptr(GError) error = NULL;
	fixture_write_registry(fx);
	fx->engine = scep_engine_new(fx->registry_dir, fx->state_dir, fx->clock);
	scep_engine_set_debounce(fx->engine, 20);
	g_signal_connect(fx->engine, "profile-added", G_CALLBACK(profile_added_cb), fx);
	g_assert_true(scep_engine_load(fx->engine, &error));
	g_assert_no_error(error);
}

static void
fixture_stop_engine(Fixture *fx)
{
	scep_engine_shutdown(fx->engine);
	g_clear_object(&fx->engine);
	/* let cancelled operations finish */
	for (guint i = 0; i < 50 && g_main_context_iteration(NULL, FALSE); i++)
		;
}

static void
fixture_init(Fixture *fx, const gchar *url)
{
	g_autoptr(GError) error = NULL;
	fx->tmp = g_dir_make_tmp("test-profile-XXXXXX", &error);
	g_assert_no_error(error);
	fx->registry_dir = g_build_filename(fx->tmp, "registry", NULL);
	fx->state_dir = g_build_filename(fx->tmp, "state", NULL);
	g_assert_cmpint(g_mkdir_with_parents(fx->registry_dir, 0700), ==, 0);
	fx->clock = scep_clock_new_fake(g_get_real_time() / G_USEC_PER_SEC);
	fx->keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	fx->states = g_array_new(FALSE, FALSE, sizeof(ScepProfileState));
	fx->tick_id = g_timeout_add(50, tick_cb, NULL);
	fx->url = url;
	g_ptr_array_set_size(captured_log, 0);
	/* the static host name comes from a file of the test (written by tests that need it) */
	fx->hostname_file = g_build_filename(fx->tmp, "hostname", NULL);
	g_setenv("SCEP_AGENT_HOSTNAME_FILE", fx->hostname_file, TRUE);
	/* empty = not set (unsetenv() is not thread-safe once GLib's workers exist) */
	g_setenv("SCEP_AGENT_HOSTNAME", "", TRUE);
	fixture_set(fx, "cert0.enabled", "true");
	fixture_set(fx, "cert0.scepurl", url);
	fixture_set(fx, "cert0.subjectaltname_type", "DNS name");
	fixture_set(fx, "cert0.subjectaltname", "device1.example.test");
	fixture_set(fx, "cert0.organization", "scep-agent tests");
	fixture_set(fx, "cert0.retry_interval", "60");
}

static void
fixture_set_up(Fixture *fx, gconstpointer data)
{
	const gchar *const *extra = data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) args = g_ptr_array_new();
	g_autofree gchar *ca = NULL;
	g_autofree gchar *fp = NULL;
	g_ptr_array_add(args, (gpointer) "--challenge");
	g_ptr_array_add(args, (gpointer) "sesame");
	for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
		g_ptr_array_add(args, (gpointer)extra[i]);
	g_ptr_array_add(args, NULL);
	fx->responder = scep_test_responder_start((const gchar *const *)args->pdata, &error);
	g_assert_no_error(error);
	fixture_init(fx, scep_test_responder_get_url(fx->responder));
	ca = scep_test_responder_get_ca_cert_pem(fx->responder);
	fp = ca_fingerprint(ca);
	fixture_set(fx, "cert0.crypt_password", "sesame");
	fixture_set(fx, "cert0.cafingerprint", fp);
	fixture_set(fx, "cert0.cafingerprint_hash", "sha256");
}

static void
fixture_tear_down(Fixture *fx, gconstpointer data)
{
	if (fx->engine != NULL)
		fixture_stop_engine(fx);
	g_clear_pointer(&fx->responder, scep_test_responder_free);
	g_clear_object(&fx->clock);
	g_source_remove(fx->tick_id);
	g_hash_table_unref(fx->keys);
	g_array_unref(fx->states);
	g_free(fx->post_message);
	if (fx->tmp != NULL) {
		g_autofree gchar *cmd = g_strdup_printf("rm -rf '%s'", fx->tmp);
		g_assert_cmpint(system(cmd), ==, 0);
	}
	g_free(fx->tmp);
	g_free(fx->registry_dir);
	g_free(fx->state_dir);
	g_free(fx->hostname_file);
	g_setenv("SCEP_AGENT_HOSTNAME", "", TRUE);
}

static guint
count_state(Fixture *fx, ScepProfileState state)
{
	guint n = 0;
	for (guint i = 0; i < fx->states->len; i++) {
		if (g_array_index(fx->states, ScepProfileState, i) == state)
			n++;
	}
	return n;
}

static ScepProfile *
profile0(Fixture *fx)
{
	ScepProfile *profile = scep_engine_get_profile(fx->engine, 0);
	g_assert_nonnull(profile);
	return profile;
}

static gint
log_count(Fixture *fx, const gchar *needle)
{
	return scep_test_responder_count_in_log(fx->responder, needle, NULL);
}

/* the installed key matches the installed certificate; key 0600 */
static void
assert_installed(Fixture *fx)
{
	ScepProfile *profile = profile0(fx);
	g_autoptr(ScepCertPaths) paths = scep_cert_paths_new(scep_profile_get_key_path(profile),
							     scep_profile_get_cert_path(profile),
							     scep_profile_get_chain_path(profile));
	g_autoptr(GError) error = NULL;
	struct stat st;
	g_assert_true(scep_cert_store_load(paths, NULL, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpint(g_stat(scep_profile_get_key_path(profile), &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	g_assert_true(g_file_test(scep_profile_get_chain_path(profile), G_FILE_TEST_IS_REGULAR));
}

static void
enroll_first(Fixture *fx)
{
	fixture_start_engine(fx);
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_VALID) >= 1 ||
		 count_state(fx, SCEP_PROFILE_STATE_FAILED) >= 1);
	g_assert_cmpuint(scep_profile_get_state(profile0(fx)), ==, SCEP_PROFILE_STATE_VALID);
}

/* ---- tests ---- */

static void
test_enroll(Fixture *fx, gconstpointer data)
{
	ScepProfileState expected[] = {
		SCEP_PROFILE_STATE_FETCHING_CA,    SCEP_PROFILE_STATE_CHALLENGE,
		SCEP_PROFILE_STATE_GENERATING_KEY, SCEP_PROFILE_STATE_SUBMITTING,
		SCEP_PROFILE_STATE_VALID,
	};
	ScepProfile *profile;
	g_autofree gchar *state_file = NULL;

	enroll_first(fx);
	profile = profile0(fx);
	g_assert_cmpuint(fx->states->len, >=, G_N_ELEMENTS(expected));
	for (guint i = 0; i < G_N_ELEMENTS(expected); i++)
		g_assert_cmpuint(g_array_index(fx->states, ScepProfileState, i), ==, expected[i]);
	assert_installed(fx);
	g_assert_nonnull(strstr(scep_profile_get_subject(profile), "CN=device1.example.test"));
	g_assert_nonnull(strstr(scep_profile_get_subject(profile), "O=scep-agent tests"));
	g_assert_cmpint(
	    scep_profile_get_renewal_time(profile), >, scep_profile_get_not_before(profile));
	g_assert_cmpint(
	    scep_profile_get_renewal_time(profile), <, scep_profile_get_not_after(profile));
	/* defaults: the files live under the state directory, the state is persisted */
	g_assert_true(g_str_has_prefix(scep_profile_get_cert_path(profile), fx->state_dir));
	state_file = g_build_filename(fx->state_dir, "cert0", "state", NULL);
	g_assert_true(g_file_test(state_file, G_FILE_TEST_IS_REGULAR));
	g_assert_cmpint(log_count(fx, "\"message_type\": 19"), ==, 1);
	g_assert_cmpint(log_count(fx, "\"challenge\": true"), ==, 1);
	/* valid and idle: the next wake-up is the renewal (or the expiry check), not sooner */
	g_assert_cmpint(
	    scep_profile_get_next_attempt(profile), >=, scep_clock_get_wall(fx->clock) + 3600);
}

static void
test_pending_restart(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *tid = NULL;
	g_autofree gchar *needle = NULL;

	scep_test_responder_set_script(fx->responder, "[{\"status\": \"pending\"}]", &error);
	g_assert_no_error(error);
	fixture_start_engine(fx);
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_PENDING) >= 1);
	tid = g_strdup(scep_profile_get_transaction_id(profile0(fx)));
	g_assert_nonnull(tid);

	/* restart while pending: the new engine resumes the same transaction */
	fixture_stop_engine(fx);
	g_array_set_size(fx->states, 0);
	scep_test_responder_set_script(fx->responder, "[{\"status\": \"success\"}]", &error);
	g_assert_no_error(error);
	fixture_start_engine(fx);
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_VALID) >= 1);
	assert_installed(fx);
	g_assert_cmpint(count_state(fx, SCEP_PROFILE_STATE_GENERATING_KEY), ==, 0);
	g_assert_cmpint(log_count(fx, "\"message_type\": 19"), ==, 1);
	g_assert_cmpint(log_count(fx, "\"message_type\": 20"), >=, 1);
	needle = g_strdup_printf("\"transaction_id\": \"%s\"", tid);
	g_assert_cmpint(
	    log_count(fx, needle), ==, log_count(fx, "\"operation\": \"PKIOperation\""));
}

static void
test_pending_poll_interval(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	ScepProfile *profile;
	gint64 now;

	fixture_set(fx, "cert0.poll_interval", "120");
	scep_test_responder_set_script(fx->responder, "[{\"status\": \"pending\"}]", &error);
	fixture_start_engine(fx);
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_PENDING) >= 1);
	profile = profile0(fx);
	now = scep_clock_get_wall(fx->clock);
	/* first_submitted comes from the real clock the request was sent with */
	g_assert_cmpint(scep_profile_get_next_attempt(profile), >=, now + 118);
	g_assert_cmpint(scep_profile_get_next_attempt(profile), <=, now + 122);
	/* nothing is polled before the interval has passed */
	scep_clock_fake_set(fx->clock, scep_profile_get_next_attempt(profile) - 1);
	for (guint i = 0; i < 20; i++)
		g_main_context_iteration(NULL, FALSE);
	g_assert_cmpint(log_count(fx, "\"message_type\": 20"), ==, 0);
	scep_test_responder_set_script(fx->responder, "[{\"status\": \"success\"}]", &error);
	scep_clock_fake_set(fx->clock, scep_profile_get_next_attempt(profile));
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_VALID) >= 1);
	g_assert_cmpint(log_count(fx, "\"message_type\": 20"), ==, 1);
}

static void
renew_and_check(Fixture *fx, const gchar *method, const gchar *message_type)
{
	ScepProfile *profile;
	g_autofree gchar *old_serial = NULL;

	fixture_set(fx, "cert0.renewal_method", method);
	if (message_type != NULL)
		fixture_set(fx, "cert0.renewal_message_type", message_type);
	enroll_first(fx);
	profile = profile0(fx);
	old_serial = g_strdup(scep_profile_get_serial(profile));
	scep_test_responder_clear_log(fx->responder, NULL);
	/* just before the renewal point nothing happens */
	scep_clock_fake_set(fx->clock, scep_profile_get_renewal_time(profile) - 1);
	for (guint i = 0; i < 20; i++)
		g_main_context_iteration(NULL, FALSE);
	g_assert_cmpint(count_state(fx, SCEP_PROFILE_STATE_RENEWING), ==, 0);
	scep_clock_fake_set(fx->clock, scep_profile_get_renewal_time(profile));
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_VALID) >= 2 ||
		 count_state(fx, SCEP_PROFILE_STATE_FAILED) >= 1);
	g_assert_cmpuint(scep_profile_get_state(profile), ==, SCEP_PROFILE_STATE_VALID);
	g_assert_cmpint(count_state(fx, SCEP_PROFILE_STATE_RENEWING), ==, 1);
	g_assert_cmpstr(scep_profile_get_serial(profile), !=, old_serial);
	assert_installed(fx);
}

static void
test_renew_pkcsreq(Fixture *fx, gconstpointer data)
{
	renew_and_check(fx, "Renewal", NULL);
	/* a PKCSReq signed with the old certificate (the responder recognises its own) */
	g_assert_cmpint(log_count(fx, "\"message_type\": 19"), ==, 1);
	g_assert_cmpint(log_count(fx, "\"renewal\": true"), ==, 1);
	g_assert_cmpint(count_state(fx, SCEP_PROFILE_STATE_CHALLENGE), ==, 1);
}

static void
test_renew_renewalreq(Fixture *fx, gconstpointer data)
{
	renew_and_check(fx, "Renewal", "RenewalReq");
	g_assert_cmpint(log_count(fx, "\"message_type\": 17"), ==, 1);
	g_assert_cmpint(log_count(fx, "\"renewal\": true"), ==, 1);
}

static void
test_renew_start_over(Fixture *fx, gconstpointer data)
{
	renew_and_check(fx, "Start-over", NULL);
	/* self-signed signer and the challenge, like the first time */
	g_assert_cmpint(log_count(fx, "\"message_type\": 19"), ==, 1);
	g_assert_cmpint(log_count(fx, "\"renewal\": false"), ==, 1);
	g_assert_cmpint(log_count(fx, "\"challenge\": true"), ==, 1);
	g_assert_cmpint(count_state(fx, SCEP_PROFILE_STATE_CHALLENGE), ==, 2);
}

static void
test_renew_fallback(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	ScepProfile *profile;

	fixture_set(fx, "cert0.renewal_method", "Fallback to start-over");
	enroll_first(fx);
	profile = profile0(fx);
	scep_test_responder_clear_log(fx->responder, NULL);
	/* the renewal is rejected, the start-over succeeds */
	scep_test_responder_set_script(
	    fx->responder,
	    "[{\"status\": \"failure\", \"failinfo\": 2}, {\"status\": \"success\"}]",
	    &error);
	g_assert_no_error(error);
	scep_clock_fake_set(fx->clock, scep_profile_get_renewal_time(profile));
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_VALID) >= 2 ||
		 count_state(fx, SCEP_PROFILE_STATE_FAILED) >= 1);
	g_assert_cmpuint(scep_profile_get_state(profile), ==, SCEP_PROFILE_STATE_VALID);
	g_assert_cmpint(count_state(fx, SCEP_PROFILE_STATE_REJECTED), ==, 1);
	g_assert_cmpint(log_count(fx, "\"renewal\": true"), ==, 1);
	g_assert_cmpint(log_count(fx, "\"renewal\": false"), ==, 1);
	g_assert_cmpint(log_count(fx, "\"answer\": \"failure:2\""), ==, 1);
	assert_installed(fx);
}

static void
test_disable_enable(Fixture *fx, gconstpointer data)
{
	ScepProfile *profile;
	g_autofree gchar *serial = NULL;

	enroll_first(fx);
	profile = profile0(fx);
	serial = g_strdup(scep_profile_get_serial(profile));
	fixture_set(fx, "cert0.enabled", "false");
	fixture_write_registry(fx);
	WAIT_FOR(scep_profile_get_state(profile) == SCEP_PROFILE_STATE_DISABLED);
	g_assert_false(scep_profile_get_enabled(profile));
	/* the installed pair stays */
	assert_installed(fx);
	g_assert_cmpint(scep_profile_get_next_attempt(profile), ==, 0);
	fixture_set(fx, "cert0.enabled", "true");
	fixture_write_registry(fx);
	WAIT_FOR(scep_profile_get_state(profile) == SCEP_PROFILE_STATE_VALID);
	/* nothing re-enrolled: the valid certificate is kept */
	g_assert_cmpstr(scep_profile_get_serial(profile), ==, serial);
	g_assert_cmpint(log_count(fx, "\"message_type\": 19"), ==, 1);
}

static void
test_subject_change(Fixture *fx, gconstpointer data)
{
	ScepProfile *profile;

	enroll_first(fx);
	profile = profile0(fx);
	fixture_set(fx, "cert0.subjectaltname", "device2.example.test");
	fixture_write_registry(fx);
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_VALID) >= 2 ||
		 count_state(fx, SCEP_PROFILE_STATE_FAILED) >= 1);
	g_assert_nonnull(strstr(scep_profile_get_subject(profile), "CN=device2.example.test"));
	g_assert_cmpint(log_count(fx, "\"message_type\": 19"), ==, 2);
	assert_installed(fx);
}

static void
test_expired_at_startup(Fixture *fx, gconstpointer data)
{
	gint64 not_after;

	fixture_set(fx, "cert0.renewal_method", "Renewal");
	enroll_first(fx);
	not_after = scep_profile_get_not_after(profile0(fx));
	fixture_stop_engine(fx);
	scep_test_responder_clear_log(fx->responder, NULL);
	g_array_set_size(fx->states, 0);
	/* the device was off until the expiry; the re-issued certificate (dated by the
	 * responder's real clock) must end at least a second later than the old one */
	while (g_get_real_time() / G_USEC_PER_SEC <= not_after - 600 + 1)
		g_usleep(100 * 1000);
	scep_clock_fake_set(fx->clock, not_after);
	fixture_start_engine(fx);
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_VALID) >= 1 ||
		 count_state(fx, SCEP_PROFILE_STATE_FAILED) >= 1);
	g_assert_cmpuint(scep_profile_get_state(profile0(fx)), ==, SCEP_PROFILE_STATE_VALID);
	/* start-over although renewal_method is Renewal: self-signed signer with the challenge */
	g_assert_cmpint(log_count(fx, "\"renewal\": false"), ==, 1);
	g_assert_cmpint(log_count(fx, "\"challenge\": true"), ==, 1);
	g_assert_cmpint(count_state(fx, SCEP_PROFILE_STATE_CHALLENGE), ==, 1);
}

static void
test_post_install(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *out = g_build_filename(fx->tmp, "post-install-out", NULL);
	g_autofree gchar *cmd = NULL;
	g_autofree gchar *written = NULL;
	ScepProfile *profile;

	cmd =
	    g_strdup_printf("/bin/sh -c 'printf %%s \"$SCEP_INSTANCE $SCEP_CERT_FILE\" > %s'", out);
	fixture_set(fx, "cert0.post_install_command", cmd);
	enroll_first(fx);
	profile = profile0(fx);
	WAIT_FOR(fx->post_ok + fx->post_failed >= 1);
	g_assert_cmpuint(fx->post_ok, ==, 1);
	g_assert_true(g_file_get_contents(out, &written, NULL, NULL));
	g_assert_true(g_str_has_prefix(written, "cert0 "));
	g_assert_true(g_str_has_suffix(written, scep_profile_get_cert_path(profile)));
}

static void
test_post_install_failure(Fixture *fx, gconstpointer data)
{
	ScepProfile *profile;

	fixture_set(fx, "cert0.post_install_command", "/bin/sh -c 'echo broken >&2; exit 3'");
	enroll_first(fx);
	profile = profile0(fx);
	WAIT_FOR(fx->post_ok + fx->post_failed >= 1);
	g_assert_cmpuint(fx->post_failed, ==, 1);
	/* reported, and the installation stays */
	g_assert_cmpstr(scep_profile_get_last_error_name(profile), ==, "post-install");
	g_assert_cmpuint(scep_profile_get_state(profile), ==, SCEP_PROFILE_STATE_VALID);
	assert_installed(fx);
}

static void
test_unreachable_backoff(Fixture *fx, gconstpointer data)
{
	ScepProfile *profile;
	gint64 first;
	gint64 second;
	gint64 now;

	/* the responder is stopped: nothing listens on its port any more */
	scep_test_responder_stop(fx->responder);
	fixture_set(fx, "cert0.retry_interval", "100");
	fixture_start_engine(fx);
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_FAILED) >= 1);
	profile = profile0(fx);
	now = scep_clock_get_wall(fx->clock);
	first = scep_profile_get_next_attempt(profile) - now;
	g_assert_cmpuint(scep_profile_get_attempt(profile), ==, 1);
	g_assert_cmpstr(scep_profile_get_last_error_name(profile), ==, "network");
	/* retry_interval +- 20 % */
	g_assert_cmpint(first, >=, 80);
	g_assert_cmpint(first, <=, 120);
	scep_clock_fake_set(fx->clock, scep_profile_get_next_attempt(profile));
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_FAILED) >= 2);
	now = scep_clock_get_wall(fx->clock);
	second = scep_profile_get_next_attempt(profile) - now;
	g_assert_cmpuint(scep_profile_get_attempt(profile), ==, 2);
	/* doubled: 200 s +- 20 % */
	g_assert_cmpint(second, >=, 160);
	g_assert_cmpint(second, <=, 240);
	/* persisted: a restart keeps waiting for the same next attempt */
	fixture_stop_engine(fx);
	fixture_start_engine(fx);
	g_assert_cmpuint(scep_profile_get_state(profile0(fx)), ==, SCEP_PROFILE_STATE_FAILED);
	g_assert_cmpint(scep_profile_get_next_attempt(profile0(fx)), ==, now + second);
}

static void
test_unconfigured(Fixture *fx, gconstpointer data)
{
	/* ndes6: NDES retrieval without its account is a configuration error */
	fixture_set(fx, "cert0.use_ready_made_challenge_password_command", "NDES");
	fixture_set(fx, "cert0.ndes.challenge_password_retrieval.crypt_password", "placeholder");
	fixture_start_engine(fx);
	g_assert_cmpuint(scep_profile_get_state(profile0(fx)), ==, SCEP_PROFILE_STATE_UNCONFIGURED);
	g_assert_nonnull(strstr(scep_profile_get_reason(profile0(fx)),
				"ndes.challenge_password_retrieval.user"));
	g_assert_cmpint(log_count(fx, "\"operation\""), ==, 0);
}

/* ---- helpers for the lifecycle tests ---- */

/* what is due runs; nothing waits */
static void
drain(void)
{
	for (guint i = 0; i < 20; i++)
		g_main_context_iteration(NULL, FALSE);
}

/* the certificates of a PEM file, in order */
static GPtrArray *
load_pem_certs(const gchar *path)
{
	g_autofree gchar *data = NULL;
	gsize len = 0;
	gnutls_datum_t datum;
	gnutls_x509_crt_t *list = NULL;
	guint n = 0;
	GPtrArray *certs = g_ptr_array_new_with_free_func((GDestroyNotify)gnutls_x509_crt_deinit);
	g_assert_true(g_file_get_contents(path, &data, &len, NULL));
	datum.data = (guchar *)data;
	datum.size = (guint)len;
	if (len > 0)
		g_assert_cmpint(
		    gnutls_x509_crt_list_import2(&list, &n, &datum, GNUTLS_X509_FMT_PEM, 0), >=, 0);
	for (guint i = 0; i < n; i++)
		g_ptr_array_add(certs, list[i]);
	gnutls_free(list);
	return certs;
}

/* lower-case hex without separators */
static gchar *
normalize_fp(const gchar *fp)
{
	GString *out = g_string_new(NULL);
	for (const gchar *p = fp; *p != '\0'; p++) {
		if (g_ascii_isxdigit(*p))
			g_string_append_c(out, g_ascii_tolower(*p));
	}
	return g_string_free(out, FALSE);
}

static gchar *
crt_fingerprint(gnutls_x509_crt_t crt)
{
	guchar fp[32];
	size_t fp_len = sizeof(fp);
	GString *hex = g_string_new(NULL);
	g_assert_cmpint(
	    gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp, &fp_len), ==, 0);
	for (gsize i = 0; i < fp_len; i++)
		g_string_append_printf(hex, "%02x", fp[i]);
	return g_string_free(hex, FALSE);
}

static gchar *
file_contents(const gchar *path)
{
	gchar *data = NULL;
	g_assert_true(g_file_get_contents(path, &data, NULL, NULL));
	return data;
}

/* the validity of the responder's current CA (ca.pem) */
static void
responder_ca_validity(Fixture *fx, gint64 *not_before, gint64 *not_after)
{
	g_autofree gchar *path = scep_test_responder_get_ca_cert_pem(fx->responder);
	g_autoptr(GPtrArray) certs = load_pem_certs(path);
	g_assert_cmpuint(certs->len, ==, 1);
	*not_before = gnutls_x509_crt_get_activation_time(g_ptr_array_index(certs, 0));
	*not_after = gnutls_x509_crt_get_expiration_time(g_ptr_array_index(certs, 0));
}

static void
responder_control(Fixture *fx, const gchar *json)
{
	g_autoptr(GError) error = NULL;
	g_assert_true(scep_test_responder_set_script(fx->responder, json, &error));
	g_assert_no_error(error);
}

/* ---- CA rollover ---- */

/* enrolled under a CA 85 % through its life; returns when GetNextCACert has been done at the
 * rollover point (90 %) and not before; @due_out: that point */
static void
ca_rollover_until_next_ca(Fixture *fx, gint64 *due_out)
{
	ScepProfile *profile;
	gint64 ca_nb = 0;
	gint64 ca_na = 0;
	gint64 due;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *next_dir = g_build_filename(fx->state_dir, "cert0", "next-ca", NULL);
	g_autofree gchar *saved = g_build_filename(next_dir, "ca.pem", NULL);
	g_autofree gchar *next_pem = scep_test_responder_get_file(fx->responder, "next-ca.pem");
	g_autofree gchar *want_fp = ca_fingerprint(next_pem);
	g_autofree gchar *have_fp = NULL;

	enroll_first(fx);
	profile = profile0(fx);
	serial = g_strdup(scep_profile_get_serial(profile));
	responder_ca_validity(fx, &ca_nb, &ca_na);
	due = ca_nb + (ca_na - ca_nb) * 90 / 100;
	g_assert_cmpint(scep_clock_get_wall(fx->clock), <, due);
	/* the enrollment's GetCACert came before the rollover point: no GetNextCACert */
	g_assert_cmpint(log_count(fx, "GetNextCACert"), ==, 0);
	/* the next wake-up is the rollover point, before the renewal */
	g_assert_cmpint(scep_profile_get_renewal_time(profile), >, due);
	g_assert_cmpint(scep_profile_get_next_attempt(profile), ==, due);

	scep_clock_fake_set(fx->clock, due - 1);
	drain();
	g_assert_cmpint(log_count(fx, "GetNextCACert"), ==, 0);
	g_assert_false(g_file_test(saved, G_FILE_TEST_EXISTS));

	scep_clock_fake_set(fx->clock, due);
	WAIT_FOR(log_count(fx, "GetNextCACert") >= 1 &&
		 scep_profile_get_next_attempt(profile) != 0);
	g_assert_cmpint(log_count(fx, "\"operation\": \"GetNextCACert\""), ==, 1);
	/* the next CA bundle is kept beside the current one */
	g_assert_true(g_file_test(saved, G_FILE_TEST_IS_REGULAR));
	have_fp = ca_fingerprint(saved);
	g_assert_cmpstr(have_fp, ==, want_fp);
	/* the next CA is a new root: said in a warning */
	g_assert_cmpuint(
	    captured_count("WARNING profile cert0: the CA's root changes from *"), ==, 1);
	/* a check, not an enrollment: the installed certificate stays and the state too */
	g_assert_cmpint(log_count(fx, "\"operation\": \"PKIOperation\""), ==, 1);
	g_assert_cmpstr(scep_profile_get_serial(profile), ==, serial);
	g_assert_cmpuint(scep_profile_get_state(profile), ==, SCEP_PROFILE_STATE_VALID);
	g_assert_cmpint(count_state(fx, SCEP_PROFILE_STATE_FETCHING_CA), ==, 1);
	/* done for this CA: the next wake-up is the renewal */
	g_assert_cmpint(
	    scep_profile_get_next_attempt(profile), ==, scep_profile_get_renewal_time(profile));
	*due_out = due;
}

/* the installed chain file holds exactly the responder's next CA */
static void
assert_chain_is_next_ca(Fixture *fx)
{
	g_autofree gchar *next_pem = scep_test_responder_get_file(fx->responder, "next-ca.pem");
	g_autofree gchar *want_fp = ca_fingerprint(next_pem);
	g_autoptr(GPtrArray) chain = load_pem_certs(scep_profile_get_chain_path(profile0(fx)));
	g_autofree gchar *have_fp = NULL;
	g_assert_cmpuint(chain->len, ==, 1);
	have_fp = crt_fingerprint(g_ptr_array_index(chain, 0));
	g_assert_cmpstr(have_fp, ==, want_fp);
	g_assert_nonnull(
	    strstr(scep_profile_get_issuer(profile0(fx)), "CN=scep-agent test next CA"));
}

static void
test_ca_rollover(Fixture *fx, gconstpointer data)
{
	ScepProfile *profile;
	gint64 due = 0;
	g_autofree gchar *next_pem = scep_test_responder_get_file(fx->responder, "next-ca.pem");
	g_autofree gchar *next_fp = ca_fingerprint(next_pem);
	g_autofree gchar *next_dir = g_build_filename(fx->state_dir, "cert0", "next-ca", NULL);
	g_autofree gchar *have_fp = NULL;

	ca_rollover_until_next_ca(fx, &due);
	profile = profile0(fx);
	g_assert_true(g_file_test(next_dir, G_FILE_TEST_IS_DIR));

	/* the CA moves to the next CA certificate, which cafingerprint does not name */
	responder_control(fx, "{\"rollover\": true, \"clear_log\": true}");
	scep_clock_fake_set(fx->clock, scep_profile_get_renewal_time(profile));
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_VALID) >= 2 ||
		 count_state(fx, SCEP_PROFILE_STATE_FAILED) >= 1);
	g_assert_cmpuint(scep_profile_get_state(profile), ==, SCEP_PROFILE_STATE_VALID);
	/* refused by the pin, then accepted as the CA that GetNextCACert announced */
	g_assert_cmpint(log_count(fx, "\"operation\": \"GetCACert\""), ==, 2);
	g_assert_cmpuint(captured_count("MESSAGE *moved to the next CA certificate*"), ==, 1);
	have_fp = normalize_fp(scep_profile_get_ca_fingerprint(profile));
	g_assert_cmpstr(have_fp, ==, next_fp);
	/* it is the current CA now: no "next" one is kept any more */
	g_assert_false(g_file_test(next_dir, G_FILE_TEST_EXISTS));
	/* a renewal signed with the certificate of the old CA, issued by the new one */
	g_assert_cmpint(log_count(fx, "\"renewal\": true"), ==, 1);
	assert_installed(fx);
	assert_chain_is_next_ca(fx);
	g_assert_false(g_file_test(scep_profile_get_chain_path(profile), G_FILE_TEST_IS_SYMLINK));

	/* later enrollments trust the new CA at once */
	responder_control(fx, "{\"clear_log\": true}");
	fixture_set(fx, "cert0.subjectaltname", "device2.example.test");
	fixture_write_registry(fx);
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_VALID) >= 3 ||
		 count_state(fx, SCEP_PROFILE_STATE_FAILED) >= 1);
	g_assert_cmpuint(scep_profile_get_state(profile), ==, SCEP_PROFILE_STATE_VALID);
	g_assert_cmpint(log_count(fx, "\"operation\": \"GetCACert\""), ==, 1);
	g_assert_cmpint(log_count(fx, "\"renewal\": false"), ==, 1);
	g_assert_nonnull(strstr(scep_profile_get_subject(profile), "CN=device2.example.test"));
	assert_chain_is_next_ca(fx);
	assert_installed(fx);
}

static void
test_ca_rollover_old_ca_expired(Fixture *fx, gconstpointer data)
{
	ScepProfile *profile;
	gint64 due = 0;
	gint64 ca_nb = 0;
	gint64 ca_na = 0;

	ca_rollover_until_next_ca(fx, &due);
	profile = profile0(fx);
	responder_ca_validity(fx, &ca_nb, &ca_na);
	/* the certificate outlives its CA: renewal is planned from the CA's expiry */
	g_assert_cmpint(scep_profile_get_not_after(profile), >, ca_na);
	g_assert_cmpint(scep_profile_get_renewal_time(profile), <, ca_na);

	/* the device sleeps through the renewal and the old CA's expiry; the CA moved meanwhile */
	responder_control(fx, "{\"rollover\": true, \"clear_log\": true}");
	scep_clock_fake_set(fx->clock, ca_na + 1);
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_VALID) >= 2 ||
		 count_state(fx, SCEP_PROFILE_STATE_FAILED) >= 1);
	g_assert_cmpuint(scep_profile_get_state(profile), ==, SCEP_PROFILE_STATE_VALID);
	/* a start-over (its CA is gone, so it cannot be renewed), like the first time */
	g_assert_cmpuint(
	    captured_count("MESSAGE *the CA certificate that issued the certificate expired*"),
	    ==,
	    1);
	g_assert_cmpint(log_count(fx, "\"renewal\": false"), ==, 1);
	g_assert_cmpint(log_count(fx, "\"challenge\": true"), ==, 1);
	assert_installed(fx);
	assert_chain_is_next_ca(fx);
	g_assert_cmpint(scep_profile_get_renewal_time(profile), >, ca_na);
}

typedef struct {
	gboolean done;
	gboolean ok;
	GError *error;
} RequestResult;

static void
renew_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	RequestResult *r = user_data;
	r->ok = scep_profile_renew_finish(SCEP_PROFILE(source), result, &r->error);
	r->done = TRUE;
}

/* a renewal asked for while the rollover check runs starts when it ends */
static void
test_ca_rollover_queued_renew(Fixture *fx, gconstpointer data)
{
	ScepProfile *profile;
	RequestResult r = { FALSE, FALSE, NULL };
	g_autofree gchar *serial = NULL;
	gint64 ca_nb = 0;
	gint64 ca_na = 0;

	enroll_first(fx);
	profile = profile0(fx);
	serial = g_strdup(scep_profile_get_serial(profile));
	responder_ca_validity(fx, &ca_nb, &ca_na);
	/* the check starts inside the clock's signal: no deadline is planned while it runs */
	scep_clock_fake_set(fx->clock, ca_nb + (ca_na - ca_nb) * 90 / 100);
	g_assert_cmpint(scep_profile_get_next_attempt(profile), ==, 0);
	scep_profile_renew_async(profile, NULL, renew_done_cb, &r);
	WAIT_FOR(r.done);
	g_assert_no_error(r.error);
	g_assert_true(r.ok);
	g_assert_cmpint(log_count(fx, "\"operation\": \"GetNextCACert\""), ==, 1);
	g_assert_cmpint(log_count(fx, "\"renewal\": true"), ==, 1);
	g_assert_cmpstr(scep_profile_get_serial(profile), !=, serial);
	g_assert_cmpuint(scep_profile_get_state(profile), ==, SCEP_PROFILE_STATE_VALID);
}

/* ---- host name ---- */

static void
write_hostname(Fixture *fx, const gchar *name)
{
	g_autofree gchar *text = g_strdup_printf("# written by test-profile\n%s\n", name);
	g_autoptr(GError) error = NULL;
	g_file_set_contents(fx->hostname_file, text, -1, &error);
	g_assert_no_error(error);
}

static void
hostname_set_up(Fixture *fx, gconstpointer data)
{
	fixture_set_up(fx, NULL);
	fixture_set(fx, "cert0.subjectaltname_type", "DNS name (auto)");
	fixture_set(fx, "cert0.subjectaltname", "");
	fixture_set(fx, "cert0.hostname_change_handling", data);
	write_hostname(fx, "host1.example.test");
}

static void
test_hostname_reset(Fixture *fx, gconstpointer data)
{
	ScepProfile *profile;

	enroll_first(fx);
	profile = profile0(fx);
	g_assert_nonnull(strstr(scep_profile_get_subject(profile), "CN=host1,"));
	/* the file monitor notices; no restart, no registry change */
	write_hostname(fx, "host2.example.test");
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_VALID) >= 2 ||
		 count_state(fx, SCEP_PROFILE_STATE_FAILED) >= 1);
	g_assert_cmpuint(scep_profile_get_state(profile), ==, SCEP_PROFILE_STATE_VALID);
	g_assert_cmpuint(captured_count("MESSAGE engine: host name changed from host1.example.test "
					"to host2.example.test"),
			 ==,
			 1);
	g_assert_nonnull(strstr(scep_profile_get_subject(profile), "CN=host2,"));
	/* a start-over: self-signed signer and the challenge */
	g_assert_cmpint(log_count(fx, "\"renewal\": false"), ==, 2);
	assert_installed(fx);
	/* and only one */
	drain();
	scep_clock_fake_advance(fx->clock, 3600);
	drain();
	g_assert_cmpint(log_count(fx, "\"message_type\": 19"), ==, 2);
}

static void
test_hostname_ignore(Fixture *fx, gconstpointer data)
{
	ScepProfile *profile;
	g_autofree gchar *serial = NULL;

	enroll_first(fx);
	profile = profile0(fx);
	serial = g_strdup(scep_profile_get_serial(profile));
	write_hostname(fx, "host2.example.test");
	WAIT_FOR(captured_count("MESSAGE engine: host name changed *") == 1);
	drain();
	/* at the next scheduled check neither */
	scep_clock_fake_advance(fx->clock, 2 * 24 * 3600);
	drain();
	g_assert_cmpint(log_count(fx, "\"operation\": \"PKIOperation\""), ==, 1);
	g_assert_cmpstr(scep_profile_get_serial(profile), ==, serial);
	g_assert_nonnull(strstr(scep_profile_get_subject(profile), "CN=host1,"));
	/* the renewal asks for the new name */
	scep_clock_fake_set(fx->clock, scep_profile_get_renewal_time(profile));
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_VALID) >= 2 ||
		 count_state(fx, SCEP_PROFILE_STATE_FAILED) >= 1);
	g_assert_nonnull(strstr(scep_profile_get_subject(profile), "CN=host2,"));
	g_assert_cmpint(log_count(fx, "\"renewal\": true"), ==, 1);
}

/*
 * No name server reachable (run in a network namespace with only loopback: meson test
 * profile-no-dns): a subject that needs the DNS domain of an unqualified host name is not
 * requested without it; the attempt fails and is retried, the instance stays configured.
 */
static void
test_dns_outage(Fixture *fx, gconstpointer data)
{
	const gchar *host = "scep-agent-no-dns-host";
	struct addrinfo hints = { .ai_flags = AI_CANONNAME };
	struct addrinfo *res = NULL;
	ScepProfile *profile;
	int rc = getaddrinfo(host, NULL, &hints, &res);

	if (res != NULL)
		freeaddrinfo(res);
	if (rc != EAI_AGAIN)
		g_error(
		    "the resolver must be unreachable for this test (got \"%s\" for %s); run it "
		    "as meson test profile-no-dns",
		    gai_strerror(rc),
		    host);
	write_hostname(fx, host);
	fixture_set(fx, "cert0.subjectaltname_suffix", "dot + DNS domain (auto)");
	fixture_start_engine(fx);
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_FAILED) >= 1 ||
		 count_state(fx, SCEP_PROFILE_STATE_UNCONFIGURED) >= 1 ||
		 count_state(fx, SCEP_PROFILE_STATE_VALID) >= 1);
	profile = profile0(fx);
	g_assert_cmpuint(scep_profile_get_state(profile), ==, SCEP_PROFILE_STATE_FAILED);
	g_assert_nonnull(strstr(scep_profile_get_last_error(profile), "DNS domain"));
	g_assert_cmpuint(scep_profile_get_next_attempt(profile), >, 0);
	/* nothing was requested under the bare host name */
	g_assert_cmpint(log_count(fx, "\"operation\": \"PKIOperation\""), ==, 0);
}

/*
 * A name server that answers every query after SLOW_DNS_DELAY_MS: A queries with 127.0.0.9
 * under the name asked, others with no record. Its own thread with blocking sockets, so that
 * it answers even while the main loop is blocked.
 */
#define SLOW_DNS_DELAY_MS 1000

typedef struct {
	GSocket *socket;
	GThread *thread;
	gint stop;     /* atomic */
	gint answered; /* atomic */
	GMutex lock;
	GPtrArray *names; /* guarded by the lock: the names asked, in order */
} SlowDns;

/* the question's name (dotted) and the offset just past its QTYPE and QCLASS */
static gchar *
slow_dns_question(const guint8 *msg, gsize len, gsize *end, guint16 *qtype)
{
	g_autoptr(GString) name = g_string_new(NULL);
	gsize at = 12;

	while (at < len && msg[at] != 0) {
		guint label = msg[at];
		if (label > 63 || at + 1 + label >= len)
			return NULL;
		if (name->len > 0)
			g_string_append_c(name, '.');
		g_string_append_len(name, (const gchar *)msg + at + 1, label);
		at += 1 + label;
	}
	if (at + 5 > len)
		return NULL;
	*qtype = (guint16)(msg[at + 1] << 8 | msg[at + 2]);
	*end = at + 5;
	return g_string_free(g_steal_pointer(&name), FALSE);
}

static gpointer
slow_dns_thread(gpointer user_data)
{
	SlowDns *dns = user_data;

	while (!g_atomic_int_get(&dns->stop)) {
		guint8 msg[512];
		g_autoptr(GSocketAddress) from = NULL;
		g_autoptr(GByteArray) reply = g_byte_array_new();
		g_autofree gchar *name = NULL;
		gssize len;
		gsize end = 0;
		guint16 qtype = 0;

		if (!g_socket_condition_timed_wait(
			dns->socket, G_IO_IN, 100 * G_TIME_SPAN_MILLISECOND, NULL, NULL))
			continue;
		len =
		    g_socket_receive_from(dns->socket, &from, (gchar *)msg, sizeof msg, NULL, NULL);
		if (len < 12)
			continue;
		name = slow_dns_question(msg, (gsize)len, &end, &qtype);
		if (name == NULL)
			continue;
		g_mutex_lock(&dns->lock);
		g_ptr_array_add(dns->names, g_strdup(name));
		g_mutex_unlock(&dns->lock);
		g_usleep(SLOW_DNS_DELAY_MS * 1000);
		{
			/* header: same ID, QR RD RA, NOERROR, one question, one answer for A */
			const guint8 head[] = { msg[0], msg[1],     0x81, 0x80, 0, 1,
						0,      qtype == 1, 0,    0,    0, 0 };
			/* name (pointer to the question's), A, IN, TTL 60, 4 octets, 127.0.0.9 */
			const guint8 answer[] = { 0xc0, 0x0c, 0, 1, 0,   1, 0, 0,
						  0,    60,   0, 4, 127, 0, 0, 9 };
			g_byte_array_append(reply, head, sizeof head);
			g_byte_array_append(reply, msg + 12, (guint)(end - 12));
			if (qtype == 1)
				g_byte_array_append(reply, answer, sizeof answer);
		}
		g_socket_send_to(
		    dns->socket, from, (const gchar *)reply->data, reply->len, NULL, NULL);
		g_atomic_int_inc(&dns->answered);
	}
	return NULL;
}

static SlowDns *
slow_dns_start(void)
{
	SlowDns *dns = g_new0(SlowDns, 1);
	g_autoptr(GError) error = NULL;
	g_autoptr(GInetAddress) loopback = g_inet_address_new_from_string("127.0.0.1");
	g_autoptr(GSocketAddress) address = g_inet_socket_address_new(loopback, 53);

	dns->socket = g_socket_new(
	    G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
	g_assert_no_error(error);
	if (!g_socket_bind(dns->socket, address, TRUE, &error))
		g_error("a name server on 127.0.0.1:53 is needed for this test (root, in a network "
			"namespace: meson test profile-slow-dns): %s",
			error->message);
	g_mutex_init(&dns->lock);
	dns->names = g_ptr_array_new_with_free_func(g_free);
	dns->thread = g_thread_new("slow-dns", slow_dns_thread, dns);
	return dns;
}

static void
slow_dns_stop(SlowDns *dns)
{
	g_atomic_int_set(&dns->stop, 1);
	g_thread_join(dns->thread);
	g_object_unref(dns->socket);
	g_ptr_array_unref(dns->names);
	g_mutex_clear(&dns->lock);
	g_free(dns);
}

/*
 * A name server that takes a second to answer (meson test profile-slow-dns: a network and mount
 * namespace whose /etc/resolv.conf names 127.0.0.1 and the search domain corp.example.test):
 * the main loop keeps running while the resolver waits, and the request then carries the
 * domain it found. getaddrinfo() on the main loop would stall it for the whole lookup.
 */
static void
test_dns_slow(Fixture *fx, gconstpointer data)
{
	const gchar *host = "scep-agent-slow-dns-host";
	g_autofree gchar *resolv = NULL;
	g_autoptr(ScepTestProbe) probe = NULL;
	SlowDns *dns;
	ScepProfile *profile;
	gint64 started;
	gint64 waited;
	gint64 max_late;

	if (!g_file_get_contents("/etc/resolv.conf", &resolv, NULL, NULL) ||
	    strstr(resolv, "nameserver 127.0.0.1") == NULL ||
	    strstr(resolv, "search corp.example.test") == NULL)
		g_error(
		    "/etc/resolv.conf must name 127.0.0.1 and search corp.example.test for this "
		    "test; run it as meson test profile-slow-dns");
	dns = slow_dns_start();
	write_hostname(fx, host);
	fixture_set(fx, "cert0.subjectaltname_suffix", "dot + DNS domain (auto)");
	probe = scep_test_probe_start(5);
	started = g_get_monotonic_time();
	fixture_start_engine(fx);
	WAIT_FOR(g_atomic_int_get(&dns->answered) >= 1);
	waited = g_get_monotonic_time() - started;
	scep_test_probe_stop(probe);
	max_late = scep_test_probe_get_max_late(probe);
	g_test_message("first answer after %" G_GINT64_FORMAT " ms; main loop late by at most "
		       "%" G_GINT64_FORMAT " ms meanwhile",
		       waited / 1000,
		       max_late / 1000);
	g_assert_cmpint(waited, >=, SLOW_DNS_DELAY_MS * 1000);
	g_assert_cmpint(max_late, <, SLOW_DNS_DELAY_MS * 1000 / 2);

	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_VALID) >= 1 ||
		 count_state(fx, SCEP_PROFILE_STATE_FAILED) >= 1);
	profile = profile0(fx);
	g_assert_cmpuint(scep_profile_get_state(profile), ==, SCEP_PROFILE_STATE_VALID);
	g_assert_nonnull(strstr(scep_profile_get_subject(profile),
				"CN=scep-agent-slow-dns-host.corp.example.test"));
	g_mutex_lock(&dns->lock);
	g_assert_cmpuint(dns->names->len, >=, 1);
	g_assert_cmpstr(
	    g_ptr_array_index(dns->names, 0), ==, "scep-agent-slow-dns-host.corp.example.test");
	g_mutex_unlock(&dns->lock);
	slow_dns_stop(dns);
}

/* without any file event: the scheduled evaluation reads the host name afresh */
static void
test_hostname_reset_scheduled(Fixture *fx, gconstpointer data)
{
	ScepProfile *profile;
	gint64 wake;

	enroll_first(fx);
	profile = profile0(fx);
	g_setenv("SCEP_AGENT_HOSTNAME", "host3", TRUE);
	drain();
	g_assert_cmpint(log_count(fx, "\"message_type\": 19"), ==, 1);
	wake = scep_profile_get_next_attempt(profile);
	g_assert_cmpint(wake, <, scep_profile_get_renewal_time(profile));
	/* time passing (no clock jump) up to the daily expiry check */
	scep_clock_fake_advance(fx->clock, wake - scep_clock_get_wall(fx->clock));
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_VALID) >= 2 ||
		 count_state(fx, SCEP_PROFILE_STATE_FAILED) >= 1);
	g_assert_nonnull(strstr(scep_profile_get_subject(profile), "CN=host3,"));
	g_assert_cmpint(log_count(fx, "\"message_type\": 19"), ==, 2);
}

/* a CA that writes its own subject: the request, not the certificate, is what must match */
static void
test_hostname_reset_ca_subject(Fixture *fx, gconstpointer data)
{
	ScepProfile *profile;

	responder_control(fx, "[{\"status\": \"success\", \"subject_cn\": \"assigned-by-ca\"}]");
	enroll_first(fx);
	profile = profile0(fx);
	g_assert_cmpstr(scep_profile_get_subject(profile), ==, "CN=assigned-by-ca");
	drain();
	scep_clock_fake_advance(fx->clock, 2 * 24 * 3600);
	drain();
	g_assert_cmpint(log_count(fx, "\"message_type\": 19"), ==, 1);
	/* a real change of the name still counts, once */
	write_hostname(fx, "host2.example.test");
	WAIT_FOR(log_count(fx, "\"message_type\": 19") >= 2 &&
		 scep_profile_get_state(profile) == SCEP_PROFILE_STATE_VALID);
	drain();
	scep_clock_fake_advance(fx->clock, 2 * 24 * 3600);
	drain();
	g_assert_cmpint(log_count(fx, "\"message_type\": 19"), ==, 2);
}

/* ---- cert_file, key_file, chain_file ---- */

typedef struct {
	gchar *key;
	gchar *cert;
	gchar *chain;
} Installed;

static void
installed_read(Fixture *fx, Installed *in)
{
	ScepProfile *profile = profile0(fx);
	in->key = file_contents(scep_profile_get_key_path(profile));
	in->cert = file_contents(scep_profile_get_cert_path(profile));
	in->chain = file_contents(scep_profile_get_chain_path(profile));
}

static void
installed_clear(Installed *in)
{
	g_free(in->key);
	g_free(in->cert);
	g_free(in->chain);
}

static void
set_moved_paths(Fixture *fx, gchar **dir_out)
{
	g_autofree gchar *dir = g_build_filename(fx->tmp, "moved", "tls", NULL);
	g_autofree gchar *key = g_build_filename(dir, "device.key", NULL);
	g_autofree gchar *cert = g_build_filename(dir, "device.crt", NULL);
	g_autofree gchar *chain = g_build_filename(dir, "ca-chain.crt", NULL);
	fixture_set(fx, "cert0.key_file", key);
	fixture_set(fx, "cert0.cert_file", cert);
	fixture_set(fx, "cert0.chain_file", chain);
	*dir_out = g_steal_pointer(&dir);
}

/* the same files at the new paths, none left at the old ones, nothing enrolled again */
static void
assert_moved(Fixture *fx, const gchar *dir, Installed *before, const gchar *const *old)
{
	ScepProfile *profile = profile0(fx);
	Installed after = { NULL, NULL, NULL };
	g_autofree gchar *state = NULL;
	g_autofree gchar *state_path = g_build_filename(fx->state_dir, "cert0", "state", NULL);

	g_assert_true(g_str_has_prefix(scep_profile_get_cert_path(profile), dir));
	g_assert_true(g_str_has_prefix(scep_profile_get_key_path(profile), dir));
	g_assert_true(g_str_has_prefix(scep_profile_get_chain_path(profile), dir));
	assert_installed(fx);
	installed_read(fx, &after);
	g_assert_cmpstr(after.key, ==, before->key);
	g_assert_cmpstr(after.cert, ==, before->cert);
	g_assert_cmpstr(after.chain, ==, before->chain);
	installed_clear(&after);
	for (guint i = 0; old[i] != NULL; i++) {
		g_autofree gchar *bak = g_strconcat(old[i], ".bak", NULL);
		g_assert_false(g_file_test(old[i], G_FILE_TEST_EXISTS));
		g_assert_false(g_file_test(bak, G_FILE_TEST_EXISTS));
	}
	g_assert_cmpint(log_count(fx, "\"operation\": \"PKIOperation\""), ==, 1);
	g_assert_cmpuint(scep_profile_get_state(profile), ==, SCEP_PROFILE_STATE_VALID);
	/* the installed paths are recorded for a move while the agent is down */
	state = file_contents(state_path);
	g_assert_nonnull(strstr(state, scep_profile_get_cert_path(profile)));
}

static void
test_move_files(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *out = g_build_filename(fx->tmp, "post-install-out", NULL);
	g_autofree gchar *cmd =
	    g_strdup_printf("/bin/sh -c 'printf %%s \"$SCEP_CERT_FILE $SCEP_KEY_FILE\" > %s'", out);
	g_autofree gchar *dir = NULL;
	g_autofree gchar *written = NULL;
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	g_auto(GStrv) old = NULL;
	Installed before = { NULL, NULL, NULL };
	ScepProfile *profile;

	fixture_set(fx, "cert0.post_install_command", cmd);
	enroll_first(fx);
	profile = profile0(fx);
	WAIT_FOR(fx->post_ok >= 1);
	installed_read(fx, &before);
	g_strv_builder_add(builder, scep_profile_get_key_path(profile));
	g_strv_builder_add(builder, scep_profile_get_cert_path(profile));
	g_strv_builder_add(builder, scep_profile_get_chain_path(profile));
	old = g_strv_builder_end(builder);
	set_moved_paths(fx, &dir);
	fixture_write_registry(fx);
	WAIT_FOR(g_str_has_prefix(scep_profile_get_cert_path(profile), dir));
	assert_moved(fx, dir, &before, (const gchar *const *)old);
	/* services learn the new paths from the post-install action */
	WAIT_FOR(fx->post_ok >= 2);
	written = file_contents(out);
	g_assert_true(g_str_has_prefix(written, scep_profile_get_cert_path(profile)));
	g_assert_true(g_str_has_suffix(written, scep_profile_get_key_path(profile)));
	installed_clear(&before);
}

static void
test_move_files_offline(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *dir = NULL;
	g_autofree gchar *old_key = NULL;
	g_autofree gchar *old_cert = NULL;
	g_autofree gchar *old_chain = NULL;
	Installed before = { NULL, NULL, NULL };

	enroll_first(fx);
	installed_read(fx, &before);
	old_key = g_strdup(scep_profile_get_key_path(profile0(fx)));
	old_cert = g_strdup(scep_profile_get_cert_path(profile0(fx)));
	old_chain = g_strdup(scep_profile_get_chain_path(profile0(fx)));
	/* the paths change while the agent is not running */
	fixture_stop_engine(fx);
	set_moved_paths(fx, &dir);
	fixture_start_engine(fx);
	{
		const gchar *old[] = { old_key, old_cert, old_chain, NULL };
		assert_moved(fx, dir, &before, old);
	}
	installed_clear(&before);
}

/* ---- clock jumps (the clock's time-jumped signal, which the system clock emits on
 * TFD_TIMER_CANCEL_ON_SET) ---- */

static void
test_clock_jump_forward(Fixture *fx, gconstpointer data)
{
	ScepProfile *profile;
	g_autofree gchar *serial = NULL;

	enroll_first(fx);
	profile = profile0(fx);
	serial = g_strdup(scep_profile_get_serial(profile));
	g_assert_cmpint(count_state(fx, SCEP_PROFILE_STATE_RENEWING), ==, 0);
	/* the wall clock is set past the renewal point: the profile acts inside the signal,
	 * before its own deadline could fire from the main loop */
	scep_clock_fake_set(fx->clock, scep_profile_get_renewal_time(profile) + 3600);
	g_assert_cmpint(count_state(fx, SCEP_PROFILE_STATE_RENEWING), ==, 1);
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_VALID) >= 2 ||
		 count_state(fx, SCEP_PROFILE_STATE_FAILED) >= 1);
	g_assert_cmpuint(scep_profile_get_state(profile), ==, SCEP_PROFILE_STATE_VALID);
	g_assert_cmpstr(scep_profile_get_serial(profile), !=, serial);
	assert_installed(fx);
}

static void
test_clock_jump_back(Fixture *fx, gconstpointer data)
{
	ScepProfile *profile;
	gint64 now;
	gint64 wait;

	scep_test_responder_stop(fx->responder);
	fixture_set(fx, "cert0.retry_interval", "100");
	fixture_start_engine(fx);
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_FAILED) >= 1);
	profile = profile0(fx);
	g_assert_cmpuint(scep_profile_get_attempt(profile), ==, 1);
	/* the clock was a year ahead and is set right: the retry must not wait for a year */
	scep_clock_fake_set(fx->clock, scep_clock_get_wall(fx->clock) - 365 * 24 * 3600);
	now = scep_clock_get_wall(fx->clock);
	wait = scep_profile_get_next_attempt(profile) - now;
	g_assert_cmpint(wait, >=, 80);
	g_assert_cmpint(wait, <=, 120);
	g_assert_cmpint(scep_profile_get_last_attempt(profile), <=, now);
	g_assert_cmpuint(captured_count("MESSAGE *the clock was set back*"), ==, 1);
	scep_clock_fake_set(fx->clock, scep_profile_get_next_attempt(profile));
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_FAILED) >= 2);
	g_assert_cmpuint(scep_profile_get_attempt(profile), ==, 2);
}

/* ---- a re-enrollment request survives a restart ---- */

static void
test_reenroll_restart(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	ScepProfile *profile;

	enroll_first(fx);
	/* the server is down when the subject changes: the start-over fails and backs off */
	scep_test_responder_stop(fx->responder);
	fixture_set(fx, "cert0.subjectaltname", "device2.example.test");
	fixture_write_registry(fx);
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_FAILED) >= 1);
	g_assert_cmpstr(scep_profile_get_last_error_name(profile0(fx)), ==, "network");
	fixture_stop_engine(fx);

	g_assert_true(scep_test_responder_restart(fx->responder, &error));
	g_assert_no_error(error);
	g_array_set_size(fx->states, 0);
	fixture_start_engine(fx);
	profile = profile0(fx);
	/* still owed after the restart: at the next attempt */
	g_assert_cmpuint(scep_profile_get_state(profile), ==, SCEP_PROFILE_STATE_FAILED);
	g_assert_nonnull(strstr(scep_profile_get_subject(profile), "CN=device1.example.test"));
	scep_clock_fake_set(fx->clock, scep_profile_get_next_attempt(profile));
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_VALID) >= 1 ||
		 count_state(fx, SCEP_PROFILE_STATE_FAILED) >= 2);
	g_assert_cmpuint(scep_profile_get_state(profile), ==, SCEP_PROFILE_STATE_VALID);
	g_assert_nonnull(strstr(scep_profile_get_subject(profile), "CN=device2.example.test"));
	g_assert_cmpint(log_count(fx, "\"renewal\": false"), ==, 1);
	g_assert_cmpint(log_count(fx, "\"challenge\": true"), ==, 1);
	assert_installed(fx);
}

/* a start-over held pending across a restart fulfils the request: no second one follows */
static void
test_reenroll_pending_restart(Fixture *fx, gconstpointer data)
{
	ScepProfile *profile;

	enroll_first(fx);
	responder_control(fx, "[{\"status\": \"pending\"}]");
	fixture_set(fx, "cert0.subjectaltname", "device2.example.test");
	fixture_write_registry(fx);
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_PENDING) >= 1);
	fixture_stop_engine(fx);

	responder_control(fx, "[{\"status\": \"success\"}]");
	g_array_set_size(fx->states, 0);
	fixture_start_engine(fx);
	profile = profile0(fx);
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_VALID) >= 1 ||
		 count_state(fx, SCEP_PROFILE_STATE_FAILED) >= 1);
	g_assert_nonnull(strstr(scep_profile_get_subject(profile), "CN=device2.example.test"));
	drain();
	scep_clock_fake_advance(fx->clock, 3600);
	drain();
	g_assert_cmpuint(scep_profile_get_state(profile), ==, SCEP_PROFILE_STATE_VALID);
	/* the first enrollment and the start-over; the CertPoll completed the latter */
	g_assert_cmpint(log_count(fx, "\"message_type\": 19"), ==, 2);
	g_assert_cmpint(log_count(fx, "\"message_type\": 20"), ==, 1);
	assert_installed(fx);
}

/* ---- responsiveness: a 4096-bit key is generated off the main loop ---- */

typedef struct {
	gnutls_privkey_t key;
	gboolean done;
} KeygenWait;

static void
keygen_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	KeygenWait *wait = user_data;
	wait->key = scep_csr_generate_key_finish(result, NULL);
	wait->done = TRUE;
}

/*
 * The lateness of a 5 ms tick is measured and printed; what is asserted is the main thread's
 * own CPU time between ticks (tests/scep-test-util.h): key generation on the main loop would
 * show there as 0.1-2 s, while lateness also counts the host's scheduling noise.
 */
static void
test_keygen_responsive(void)
{
	KeygenWait wait = { 0 };
	g_autoptr(ScepTestProbe) probe = scep_test_probe_start(5);
	scep_csr_generate_key_async(4096, NULL, keygen_done_cb, &wait);
	while (!wait.done)
		g_main_context_iteration(NULL, TRUE);
	scep_test_probe_stop(probe);
	g_assert_nonnull(wait.key);
	gnutls_privkey_deinit(wait.key);
	scep_test_probe_report(probe, "4096-bit key generated in a worker", 10000);
}

/* ---- micromdm scepserver (run under tests/scepserver-netns.sh) ---- */

static void
scepserver_set_up(Fixture *fx, gconstpointer data)
{
	const gchar *url = scep_test_scepserver_url();
	if (url == NULL)
		g_error("--scepserver needs tests/scepserver-netns.sh (SCEP_TEST_SCEPSERVER_URL)");
	fixture_init(fx, url);
	fixture_set(fx, "cert0.crypt_password", scep_test_scepserver_challenge());
}

static void
test_scepserver_enroll_renew(Fixture *fx, gconstpointer data)
{
	ScepProfile *profile;
	g_autofree gchar *serial = NULL;

	fixture_set(fx, "cert0.renewal_method", "Renewal");
	enroll_first(fx);
	profile = profile0(fx);
	assert_installed(fx);
	serial = g_strdup(scep_profile_get_serial(profile));
	scep_clock_fake_set(fx->clock, scep_profile_get_renewal_time(profile));
	WAIT_FOR(count_state(fx, SCEP_PROFILE_STATE_VALID) >= 2 ||
		 count_state(fx, SCEP_PROFILE_STATE_FAILED) >= 1);
	g_assert_cmpuint(scep_profile_get_state(profile), ==, SCEP_PROFILE_STATE_VALID);
	g_assert_cmpstr(scep_profile_get_serial(profile), !=, serial);
	assert_installed(fx);
}

int
main(int argc, char **argv)
{
	static const gchar *const renewal_caps[] = { "--caps",
						     "POSTPKIOperation,SHA-256,AES,Renewal",
						     NULL };
	/* the responder dates certificates by the real clock: a short lifetime keeps the
	 * re-issued certificate valid at the fake clock's time after the expiry */
	static const gchar *const short_validity[] = { "--valid-seconds", "600", NULL };
	/* a CA 85 % through its life (rollover point at 90 %, i.e. in 500 s; expiry in 1500 s),
	 * with a next CA for GetNextCACert */
	static const gchar *const ca_rollover[] = { "--next-ca", "--ca-age-seconds",
						    "8500",      "--ca-valid-seconds",
						    "10000",     NULL };
	gboolean scepserver = FALSE;

	for (gint i = 1; i < argc; i++) {
		if (g_strcmp0(argv[i], "--scepserver") == 0)
			scepserver = TRUE;
	}
	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
	/* the agent warns (e.g. about a failed post-install action) where tests provoke it */
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	captured_log = g_ptr_array_new_with_free_func(g_free);
	g_log_set_writer_func(capture_writer, NULL, NULL);
	gnutls_global_init();

	if (scepserver) {
		g_test_add("/scep/agent/scepserver/enroll-renew",
			   Fixture,
			   NULL,
			   scepserver_set_up,
			   test_scepserver_enroll_renew,
			   fixture_tear_down);
		return g_test_run();
	}
#define ADD(path, func, data)                                                                      \
	g_test_add("/scep/agent/" path, Fixture, data, fixture_set_up, func, fixture_tear_down)
	ADD("profile/enroll", test_enroll, NULL);
	ADD("profile/pending-restart", test_pending_restart, NULL);
	ADD("profile/pending-poll-interval", test_pending_poll_interval, NULL);
	ADD("profile/renew-pkcsreq", test_renew_pkcsreq, NULL);
	ADD("profile/renew-renewalreq", test_renew_renewalreq, renewal_caps);
	ADD("profile/renew-start-over", test_renew_start_over, NULL);
	ADD("profile/renew-fallback", test_renew_fallback, NULL);
	ADD("profile/disable-enable", test_disable_enable, NULL);
	ADD("profile/subject-change", test_subject_change, NULL);
	ADD("profile/expired-at-startup", test_expired_at_startup, short_validity);
	ADD("profile/post-install", test_post_install, NULL);
	ADD("profile/post-install-failure", test_post_install_failure, NULL);
	ADD("profile/unreachable-backoff", test_unreachable_backoff, NULL);
	ADD("profile/unconfigured", test_unconfigured, NULL);
	ADD("profile/ca-rollover", test_ca_rollover, ca_rollover);
	ADD("profile/ca-rollover-old-ca-expired", test_ca_rollover_old_ca_expired, ca_rollover);
	ADD("profile/ca-rollover-queued-renew", test_ca_rollover_queued_renew, ca_rollover);
	ADD("profile/move-files", test_move_files, NULL);
	ADD("profile/move-files-offline", test_move_files_offline, NULL);
	ADD("profile/clock-jump-forward", test_clock_jump_forward, NULL);
	ADD("profile/clock-jump-back", test_clock_jump_back, NULL);
	ADD("profile/reenroll-restart", test_reenroll_restart, NULL);
	ADD("profile/reenroll-pending-restart", test_reenroll_pending_restart, NULL);
#undef ADD
#define ADD_HOSTNAME(path, func, handling)                                                         \
	g_test_add("/scep/agent/" path, Fixture, handling, hostname_set_up, func, fixture_tear_down)
	ADD_HOSTNAME("profile/hostname-reset", test_hostname_reset, "Reset");
	ADD_HOSTNAME("profile/hostname-ignore", test_hostname_ignore, "Ignore");
	ADD_HOSTNAME("profile/hostname-reset-scheduled", test_hostname_reset_scheduled, "Reset");
	ADD_HOSTNAME("profile/hostname-reset-ca-subject", test_hostname_reset_ca_subject, "Reset");
	ADD_HOSTNAME("profile/dns-outage", test_dns_outage, "Reset");
	ADD_HOSTNAME("profile/dns-slow", test_dns_slow, "Reset");
#undef ADD_HOSTNAME
	g_test_add_func("/scep/agent/profile/keygen-responsive", test_keygen_responsive);
	return g_test_run();
}
