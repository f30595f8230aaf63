/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * End to end: ScepEngine in process (fake clock) with use_ready_made_challenge_password_command
 * =NDES fetches one-time challenges from the mscep_admin stand-in (Apache + mod_auth_gssapi,
 * NTLM through gss-ntlmssp, Kerberos through a MIT KDC) and enrolls with micromdm scepserver,
 * whose -csrverifierexec accepts only a challenge the page issued, and only once. Run by meson
 * through `tests/ndes-admin-server.sh --with-scepserver`.
 */
#include "config.h"

#include <gnutls/x509.h>
#include <string.h>

#include "scep-engine.h"

#define WAIT_SECONDS 120

typedef struct {
	gchar *tmp;
	gchar *registry_dir;
	gchar *state_dir;
	ScepClock *clock;
	ScepEngine *engine;
	GHashTable *keys;
	GArray *states;
	guint tick_id;
} Fixture;

static gboolean
tick_cb(gpointer user_data)
{
	return G_SOURCE_CONTINUE;
}

static const gchar *
env(const gchar *name)
{
	const gchar *value = g_getenv(name);
	if (value == NULL)
		g_test_message(
		    "%s not set: run through tests/ndes-admin-server.sh --with-scepserver", name);
	g_assert_nonnull(value);
	return value;
}

static void
state_changed_cb(ScepProfile *profile, guint old, guint state, const gchar *reason, Fixture *fx)
{
	ScepProfileState s = state;
	g_test_message(
	    "cert%u: %u -> %u: %s", scep_profile_get_instance(profile), old, state, reason);
	if (old != state)
		g_array_append_val(fx->states, s);
}

static void
profile_added_cb(ScepEngine *engine, ScepProfile *profile, Fixture *fx)
{
	g_signal_connect(profile, "state-changed", G_CALLBACK(state_changed_cb), fx);
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

/* until @count entries into @state, or a failure; a bounded real-time wait */
static gboolean
wait_for_state(Fixture *fx, ScepProfileState state, guint count)
{
	gint64 end = g_get_monotonic_time() + WAIT_SECONDS * G_USEC_PER_SEC;
	while (count_state(fx, state) < count) {
		if (count_state(fx, SCEP_PROFILE_STATE_FAILED) > 0 || g_get_monotonic_time() > end)
			return FALSE;
		g_main_context_iteration(NULL, TRUE);
	}
	return TRUE;
}

/* SHA-256 of scepserver's CA certificate, to pin it */
static gchar *
depot_ca_fingerprint(void)
{
	g_autofree gchar *path =
	    g_build_filename(env("SCEP_TEST_SCEPSERVER_DEPOT"), "ca.pem", NULL);
	g_autofree gchar *data = NULL;
	gsize len = 0;
	gnutls_datum_t datum;
	gnutls_x509_crt_t crt = NULL;
	guchar fp[32];
	size_t fp_len = sizeof(fp);
	GString *hex = g_string_new(NULL);
	g_assert_true(g_file_get_contents(path, &data, &len, NULL));
	datum.data = (guchar *)data;
	datum.size = (guint)len;
	g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_PEM), ==, 0);
	g_assert_cmpint(
	    gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp, &fp_len), ==, 0);
	gnutls_x509_crt_deinit(crt);
	for (gsize i = 0; i < fp_len; i++)
		g_string_append_printf(hex, "%02x", fp[i]);
	return g_string_free(hex, FALSE);
}

static void
fixture_set(Fixture *fx, const gchar *key, const gchar *value)
{
	g_hash_table_insert(fx->keys, g_strdup(key), g_strdup(value));
}

static void
fixture_set_up(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *fp = NULL;
	fx->tmp = g_dir_make_tmp("test-ndes-e2e-XXXXXX", &error);
	g_assert_no_error(error);
	fx->registry_dir = g_build_filename(fx->tmp, "registry", NULL);
	fx->state_dir = g_build_filename(fx->tmp, "state", NULL);
	g_assert_cmpint(g_mkdir_with_parents(fx->registry_dir, 0700), ==, 0);
	fx->clock = scep_clock_new_fake(g_get_real_time() / G_USEC_PER_SEC);
	fx->keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	fx->states = g_array_new(FALSE, FALSE, sizeof(ScepProfileState));
	fx->tick_id = g_timeout_add(50, tick_cb, NULL);
	fixture_set(fx, "cert0.enabled", "true");
	fixture_set(fx, "cert0.scepurl", env("SCEP_TEST_SCEPSERVER_URL"));
	fp = depot_ca_fingerprint();
	fixture_set(fx, "cert0.cafingerprint", fp);
	fixture_set(fx, "cert0.cafingerprint_hash", "sha256");
	fixture_set(fx, "cert0.subjectaltname_type", "DNS name");
	fixture_set(fx, "cert0.subjectaltname", "device1.example.test");
	fixture_set(fx, "cert0.retry_interval", "60");
	fixture_set(fx, "cert0.use_ready_made_challenge_password_command", "NDES");
	fixture_set(fx, "cert0.ndes.challenge_password_retrieval.url", env("NDES_ADMIN_HTTP_URL"));
	fixture_set(fx, "cert0.ndes.challenge_password_retrieval.cacert", "none (not using https)");
	/* a static challenge is never sent instead of the fetched one */
	fixture_set(fx, "cert0.crypt_password", "static-challenge-not-used");
}

static void
fixture_tear_down(Fixture *fx, gconstpointer data)
{
	if (fx->engine != NULL) {
		scep_engine_shutdown(fx->engine);
		g_clear_object(&fx->engine);
		for (guint i = 0; i < 50 && g_main_context_iteration(NULL, FALSE); i++)
			;
	}
	g_clear_object(&fx->clock);
	g_source_remove(fx->tick_id);
	g_hash_table_unref(fx->keys);
	g_array_unref(fx->states);
	if (fx->tmp != NULL) {
		g_autofree gchar *cmd = g_strdup_printf("rm -rf '%s'", fx->tmp);
		g_assert_cmpint(system(cmd), ==, 0);
	}
	g_free(fx->tmp);
	g_free(fx->registry_dir);
	g_free(fx->state_dir);
}

static void
fixture_start_engine(Fixture *fx)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) text = g_string_new(NULL);
	g_autoptr(GList) names = g_hash_table_get_keys(fx->keys);
	g_autofree gchar *path = g_build_filename(fx->registry_dir, "registry", NULL);
	for (GList *l = names; l != NULL; l = l->next) {
		/* the registry's escapes: a backslash is written doubled */
		g_autoptr(GString) value = g_string_new(g_hash_table_lookup(fx->keys, l->data));
		g_string_replace(value, "\\", "\\\\", 0);
		g_string_append_printf(
		    text, "network.scepclient.%s=%s\n", (const gchar *)l->data, value->str);
	}
	g_assert_true(g_file_set_contents(path, text->str, (gssize)text->len, &error));
	fx->engine = scep_engine_new(fx->registry_dir, fx->state_dir, fx->clock);
	scep_engine_set_debounce(fx->engine, 20);
	g_signal_connect(fx->engine, "profile-added", G_CALLBACK(profile_added_cb), fx);
	g_assert_true(scep_engine_load(fx->engine, &error));
	g_assert_no_error(error);
}

static GStrv
read_lines(const gchar *path)
{
	g_autofree gchar *text = NULL;
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	g_auto(GStrv) lines = NULL;
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		if (lines[i][0] != '\0')
			g_strv_builder_add(builder, lines[i]);
	}
	return g_strv_builder_end(builder);
}

/* the verifier's record: @n challenges used, all different, each issued by the page */
static void
assert_used(guint n)
{
	g_auto(GStrv) issued = read_lines(env("NDES_ADMIN_ISSUED"));
	g_auto(GStrv) used = read_lines(env("NDES_ADMIN_USED"));
	g_assert_cmpuint(g_strv_length(used), ==, n);
	for (guint i = 0; used[i] != NULL; i++) {
		g_assert_true(g_strv_contains((const gchar *const *)issued, used[i]));
		for (guint j = 0; j < i; j++)
			g_assert_cmpstr(used[i], !=, used[j]);
	}
}

/* the files of the stand-in are shared by the tests of this process: start from empty */
static void
reset_records(void)
{
	g_assert_true(g_file_set_contents(env("NDES_ADMIN_USED"), "", 0, NULL));
}

/* first enrollment with a fetched challenge; then a renewal that the CA refuses (no
 * challenge in it) falls back to start-over, which fetches a new one */
static void
test_enroll_fallback(Fixture *fx, gconstpointer data)
{
	const gchar *auth = data;
	ScepProfile *profile;
	g_autofree gchar *serial = NULL;

	reset_records();
	fixture_set(fx, "cert0.ndes.challenge_password_retrieval.auth", auth);
	if (g_strcmp0(auth, "Kerberos") == 0) {
		g_autofree gchar *user = g_strdup_printf("alice@%s", env("NDES_ADMIN_REALM"));
		fixture_set(fx, "cert0.ndes.challenge_password_retrieval.user", user);
	} else {
		g_autofree gchar *user = g_strdup_printf("%s\\alice", env("NDES_ADMIN_DOMAIN"));
		fixture_set(fx, "cert0.ndes.challenge_password_retrieval.user", user);
	}
	fixture_set(fx, "cert0.ndes.challenge_password_retrieval.crypt_password", "alice-password");
	fixture_set(fx, "cert0.renewal_method", "Fallback to start-over");
	fixture_start_engine(fx);

	g_assert_true(wait_for_state(fx, SCEP_PROFILE_STATE_VALID, 1));
	profile = scep_engine_get_profile(fx->engine, 0);
	g_assert_cmpuint(count_state(fx, SCEP_PROFILE_STATE_CHALLENGE), ==, 1);
	assert_used(1);
	serial = g_strdup(scep_profile_get_serial(profile));

	/* renewal: signed with the certificate, no challenge fetched; refused; start-over
	 * with a new challenge */
	scep_clock_fake_set(fx->clock, scep_profile_get_renewal_time(profile));
	g_assert_true(wait_for_state(fx, SCEP_PROFILE_STATE_VALID, 2));
	g_assert_cmpuint(count_state(fx, SCEP_PROFILE_STATE_REJECTED), ==, 1);
	g_assert_cmpuint(count_state(fx, SCEP_PROFILE_STATE_CHALLENGE), ==, 2);
	g_assert_cmpstr(scep_profile_get_serial(profile), !=, serial);
	assert_used(2);
}

/* a wrong account password: FAILED with the reason, no request sent */
static void
test_wrong_password(Fixture *fx, gconstpointer data)
{
	const gchar *auth = data;
	ScepProfile *profile;
	gint64 end = g_get_monotonic_time() + WAIT_SECONDS * G_USEC_PER_SEC;

	reset_records();
	fixture_set(fx, "cert0.ndes.challenge_password_retrieval.auth", auth);
	fixture_set(fx,
		    "cert0.ndes.challenge_password_retrieval.user",
		    g_strcmp0(auth, "Kerberos") == 0 ? "alice@ndes.test" : "TESTBED\\alice");
	fixture_set(fx, "cert0.ndes.challenge_password_retrieval.crypt_password", "wrong-password");
	fixture_start_engine(fx);
	while (count_state(fx, SCEP_PROFILE_STATE_FAILED) == 0 && g_get_monotonic_time() < end)
		g_main_context_iteration(NULL, TRUE);
	profile = scep_engine_get_profile(fx->engine, 0);
	g_assert_cmpuint(scep_profile_get_state(profile), ==, SCEP_PROFILE_STATE_FAILED);
	g_assert_nonnull(strstr(scep_profile_get_reason(profile), "mscep_admin"));
	g_assert_null(strstr(scep_profile_get_reason(profile), "wrong-password"));
	g_assert_cmpuint(count_state(fx, SCEP_PROFILE_STATE_SUBMITTING), ==, 0);
	assert_used(0);
}

/* libsoup reports GSSAPI failures with g_warning before the final 401 */
static gboolean
fatal_handler(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
	return !(g_strcmp0(domain, "libsoup") == 0 && (level & G_LOG_LEVEL_WARNING));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
	g_test_log_set_fatal_handler(fatal_handler, NULL);
	g_test_add("/scep/ndes-e2e/ntlm/enroll-then-fallback",
		   Fixture,
		   "NTLM",
		   fixture_set_up,
		   test_enroll_fallback,
		   fixture_tear_down);
	g_test_add("/scep/ndes-e2e/kerberos/enroll-then-fallback",
		   Fixture,
		   "Kerberos",
		   fixture_set_up,
		   test_enroll_fallback,
		   fixture_tear_down);
	g_test_add("/scep/ndes-e2e/ntlm/wrong-password",
		   Fixture,
		   "NTLM",
		   fixture_set_up,
		   test_wrong_password,
		   fixture_tear_down);
	g_test_add("/scep/ndes-e2e/kerberos/wrong-password",
		   Fixture,
		   "Kerberos",
		   fixture_set_up,
		   test_wrong_password,
		   fixture_tear_down);
	return g_test_run();
}
