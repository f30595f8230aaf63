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
#include <string.h>
#include <sys/stat.h>

#include "scep-cert-store.h"
#include "scep-csr.h"
#include "scep-engine.h"
#include "scep-gnutls-common.h"
#include "scep-test-peers.h"

#define WAIT_SECONDS 60

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

/* ---- responsiveness: a 4096-bit key is generated off the main loop ---- */

typedef struct {
	gint64 expected;
	gint64 max_late;
	GArray *lates;
	gnutls_privkey_t key;
	gboolean done;
} Lateness;

static gint
compare_int64(gconstpointer a, gconstpointer b)
{
	gint64 x = *(const gint64 *)a;
	gint64 y = *(const gint64 *)b;
	return x < y ? -1 : x > y ? 1 : 0;
}

static gboolean
lateness_cb(gpointer user_data)
{
	Lateness *l = user_data;
	gint64 now = g_get_monotonic_time();
	gint64 late = now - l->expected;
	l->max_late = MAX(l->max_late, late);
	g_array_append_val(l->lates, late);
	l->expected = now + 5000;
	return G_SOURCE_CONTINUE;
}

static void
keygen_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	Lateness *l = user_data;
	l->key = scep_csr_generate_key_finish(result, NULL);
	l->done = TRUE;
}

static void
test_keygen_responsive(void)
{
	Lateness l = { 0 };
	g_autoptr(GArray) lates = g_array_new(FALSE, FALSE, sizeof(gint64));
	gint64 p99;
	guint id;
	gint64 start = g_get_monotonic_time();
	l.expected = start + 5000;
	l.lates = lates;
	id = g_timeout_add(5, lateness_cb, &l);
	scep_csr_generate_key_async(4096, NULL, keygen_done_cb, &l);
	while (!l.done)
		g_main_context_iteration(NULL, TRUE);
	g_source_remove(id);
	g_assert_nonnull(l.key);
	gnutls_privkey_deinit(l.key);
	g_assert_cmpuint(lates->len, >, 0);
	g_array_sort(lates, (GCompareFunc)compare_int64);
	p99 = g_array_index(lates, gint64, (lates->len * 99) / 100);
	g_test_message("4096-bit key in %" G_GINT64_FORMAT " ms, %u ticks of 5 ms, main loop late "
		       "by at most %" G_GINT64_FORMAT " us (99th percentile %" G_GINT64_FORMAT
		       " us)",
		       (g_get_monotonic_time() - start) / 1000,
		       lates->len,
		       l.max_late,
		       p99);
	/* the maximum also counts the scheduler's noise on a loaded 2-core machine */
	g_assert_cmpint(p99, <, 10000);
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
	gboolean scepserver = FALSE;

	for (gint i = 1; i < argc; i++) {
		if (g_strcmp0(argv[i], "--scepserver") == 0)
			scepserver = TRUE;
	}
	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
	/* the agent warns (e.g. about a failed post-install action) where tests provoke it */
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
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
#undef ADD
	g_test_add_func("/scep/agent/profile/keygen-responsive", test_keygen_responsive);
	return g_test_run();
}
