/* mscep_admin retrieval against the real stand-in of tests/ndes-admin-server.sh: Apache httpd
 * with mod_auth_gssapi, a MIT KDC (Kerberos) and gss-ntlmssp (NTLM); run by meson through that
 * script, which exports NDES_ADMIN_* and KRB5_CONFIG */
#include "config.h"

#include <string.h>

#include "scep-ndes-admin.h"

typedef enum {
	TRUST_NONE, /* system trust */
	TRUST_GETCA,
	TRUST_FILE,
} Trust;

typedef struct {
	ScepNdesAdminAuth auth;
	gboolean https;
	Trust trust;
	const gchar *user; /* without domain */
	const gchar *password;
	gint expect; /* -1 = a password */
} Case;

static const gchar *
env(const gchar *name)
{
	const gchar *value = g_getenv(name);
	if (value == NULL || value[0] == '\0')
		g_test_message("%s is not set: run this test through tests/ndes-admin-server.sh",
			       name);
	g_assert_nonnull(value);
	g_assert_cmpstr(value, !=, "");
	return value;
}

static void
fetch_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GAsyncResult **out = user_data;
	*out = g_object_ref(result);
}

static ScepNdesChallenge *
fetch(ScepNdesAdmin *admin, GError **error)
{
	g_autoptr(GAsyncResult) result = NULL;
	scep_ndes_admin_fetch_async(admin, NULL, fetch_done_cb, &result);
	while (result == NULL)
		g_main_context_iteration(NULL, TRUE);
	return scep_ndes_admin_fetch_finish(admin, result, error);
}

/* whether @password is a line of the stand-in's list of issued challenges */
static gboolean
was_issued(const gchar *password)
{
	g_autofree gchar *issued = NULL;
	g_auto(GStrv) lines = NULL;
	g_assert_true(g_file_get_contents(env("NDES_ADMIN_ISSUED"), &issued, NULL, NULL));
	lines = g_strsplit(issued, "\n", -1);
	return g_strv_contains((const gchar *const *)lines, password);
}

static ScepNdesAdmin *
make_admin(const Case *c)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesAdmin) admin = scep_ndes_admin_new(
	    env(c->https ? "NDES_ADMIN_HTTPS_URL" : "NDES_ADMIN_HTTP_URL"), &error);
	g_autofree gchar *user = NULL;
	g_autofree gchar *realm = g_ascii_strdown(env("NDES_ADMIN_REALM"), -1);

	g_assert_no_error(error);
	scep_ndes_admin_set_auth(admin, c->auth);
	if (c->auth == SCEP_NDES_ADMIN_AUTH_NTLM)
		user = g_strdup_printf("%s\\%s", env("NDES_ADMIN_DOMAIN"), c->user);
	else
		user = g_strdup_printf("%s@%s", c->user, realm);
	g_assert_true(scep_ndes_admin_set_user(admin, user, &error));
	scep_ndes_admin_set_password(admin, c->password);
	scep_ndes_admin_set_timeout(admin, 30);
	if (c->trust == TRUST_FILE) {
		g_assert_true(scep_ndes_admin_set_trust_file(admin, env("NDES_ADMIN_CA"), &error));
	} else if (c->trust == TRUST_GETCA) {
		/* what the agent passes: the CA certificate obtained by GetCACert, as PEM */
		g_autofree gchar *pem = NULL;
		gsize len = 0;
		g_autoptr(GBytes) bytes = NULL;
		g_assert_true(g_file_get_contents(env("NDES_ADMIN_CA"), &pem, &len, &error));
		bytes = g_bytes_new(pem, len);
		g_assert_true(scep_ndes_admin_set_trust_pem(admin, bytes, &error));
	}
	g_assert_no_error(error);
	return g_steal_pointer(&admin);
}

static void
test_case(gconstpointer data)
{
	const Case *c = data;
	g_autoptr(ScepNdesAdmin) admin = make_admin(c);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesChallenge) challenge = fetch(admin, &error);

	if (c->expect < 0) {
		g_assert_no_error(error);
		g_assert_nonnull(challenge);
		g_assert_cmpuint(strlen(scep_ndes_challenge_get_password(challenge)), ==, 16);
		g_assert_true(was_issued(scep_ndes_challenge_get_password(challenge)));
		return;
	}
	g_assert_null(challenge);
	g_assert_error(error, SCEP_NDES_ADMIN_ERROR, c->expect);
	if (c->password != NULL)
		g_assert_null(strstr(error->message, c->password));
}

/* one object, two fetches: two different challenges, both issued (the session stays) */
static void
test_repeat(gconstpointer data)
{
	const Case *c = data;
	g_autoptr(ScepNdesAdmin) admin = make_admin(c);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesChallenge) first = fetch(admin, &error);
	g_autoptr(ScepNdesChallenge) second = NULL;
	g_assert_no_error(error);
	second = fetch(admin, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(
	    scep_ndes_challenge_get_password(first), !=, scep_ndes_challenge_get_password(second));
	g_assert_true(was_issued(scep_ndes_challenge_get_password(first)));
	g_assert_true(was_issued(scep_ndes_challenge_get_password(second)));
}

/* Kerberos with a configured credential cache that holds no ticket */
static void
test_kerberos_no_ticket(void)
{
	static const Case c = {
		SCEP_NDES_ADMIN_AUTH_KERBEROS, FALSE, TRUST_NONE, "alice", NULL, 0
	};
	g_autoptr(ScepNdesAdmin) admin = make_admin(&c);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesChallenge) challenge = NULL;
	g_autofree gchar *ccache = g_strdup_printf("FILE:%s/empty.ccache", g_get_tmp_dir());

	scep_ndes_admin_set_krb5_ccache(admin, ccache);
	challenge = fetch(admin, &error);
	g_assert_null(challenge);
	g_assert_error(error, SCEP_NDES_ADMIN_ERROR, SCEP_NDES_ADMIN_ERROR_NO_CREDENTIALS);
}

/* Kerberos with an existing credential cache (made by MIT kinit) and no password */
static void
test_kerberos_existing_ccache(void)
{
	static const Case c = {
		SCEP_NDES_ADMIN_AUTH_KERBEROS, FALSE, TRUST_NONE, "alice", NULL, 0
	};
	g_autoptr(ScepNdesAdmin) admin = make_admin(&c);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesChallenge) challenge = NULL;
	g_autofree gchar *ccache = g_strdup_printf("FILE:%s/alice.ccache", g_get_tmp_dir());
	/* kinit's prompt must not reach stdout: that is the TAP stream */
	g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(
	    G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
	g_autoptr(GSubprocess) kinit = NULL;
	g_autofree gchar *principal = g_strdup_printf("alice@%s", env("NDES_ADMIN_REALM"));

	g_subprocess_launcher_setenv(launcher, "KRB5CCNAME", ccache, TRUE);
	kinit = g_subprocess_launcher_spawn(launcher, &error, "kinit", principal, NULL);
	g_assert_no_error(error);
	g_assert_true(
	    g_subprocess_communicate_utf8(kinit, "alice-password\n", NULL, NULL, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(g_subprocess_get_successful(kinit));

	scep_ndes_admin_set_krb5_ccache(admin, ccache);
	challenge = fetch(admin, &error);
	g_assert_no_error(error);
	g_assert_true(was_issued(scep_ndes_challenge_get_password(challenge)));
}

#define NTLM     SCEP_NDES_ADMIN_AUTH_NTLM
#define KERBEROS SCEP_NDES_ADMIN_AUTH_KERBEROS

static const Case ntlm_ok = { NTLM, FALSE, TRUST_NONE, "alice", "alice-password", -1 };
static const Case ntlm_wrong = {
	NTLM, FALSE, TRUST_NONE, "alice", "wrong-password", SCEP_NDES_ADMIN_ERROR_LOGIN_REFUSED
};
static const Case ntlm_unknown_user = {
	NTLM, FALSE, TRUST_NONE, "mallory", "alice-password", SCEP_NDES_ADMIN_ERROR_LOGIN_REFUSED
};
static const Case krb_ok = { KERBEROS, FALSE, TRUST_NONE, "alice", "alice-password", -1 };
static const Case krb_wrong = { KERBEROS,         FALSE,
				TRUST_NONE,       "alice",
				"wrong-password", SCEP_NDES_ADMIN_ERROR_LOGIN_REFUSED };
static const Case krb_unknown_user = { KERBEROS,  FALSE, TRUST_NONE,
				       "mallory", "x",   SCEP_NDES_ADMIN_ERROR_LOGIN_REFUSED };
static const Case krb_no_password = { KERBEROS, FALSE, TRUST_NONE,
				      "alice",  NULL,  SCEP_NDES_ADMIN_ERROR_NO_CREDENTIALS };
static const Case http_getca = { NTLM, FALSE, TRUST_GETCA, "alice", "alice-password", -1 };
static const Case http_file = { NTLM, FALSE, TRUST_FILE, "alice", "alice-password", -1 };
static const Case https_none = {
	NTLM, TRUE, TRUST_NONE, "alice", "alice-password", SCEP_NDES_ADMIN_ERROR_TLS
};
static const Case https_getca = { NTLM, TRUE, TRUST_GETCA, "alice", "alice-password", -1 };
static const Case https_file = { NTLM, TRUE, TRUST_FILE, "alice", "alice-password", -1 };
static const Case https_krb_none = { KERBEROS,         TRUE,
				     TRUST_NONE,       "alice",
				     "alice-password", SCEP_NDES_ADMIN_ERROR_TLS };
static const Case https_krb_getca = { KERBEROS, TRUE, TRUST_GETCA, "alice", "alice-password", -1 };
static const Case https_krb_file = { KERBEROS, TRUE, TRUST_FILE, "alice", "alice-password", -1 };
static const Case ntlm_cache_full = {
	NTLM, FALSE, TRUST_NONE, "cachefull", "cachefull-password", SCEP_NDES_ADMIN_ERROR_CACHE_FULL
};
static const Case ntlm_no_permission = {
	NTLM, FALSE, TRUST_NONE, "noperm", "noperm-password", SCEP_NDES_ADMIN_ERROR_NO_PERMISSION
};
static const Case krb_cache_full = { KERBEROS,
				     FALSE,
				     TRUST_NONE,
				     "cachefull",
				     "cachefull-password",
				     SCEP_NDES_ADMIN_ERROR_CACHE_FULL };
static const Case krb_no_permission = { KERBEROS,          FALSE,
					TRUST_NONE,        "noperm",
					"noperm-password", SCEP_NDES_ADMIN_ERROR_NO_PERMISSION };

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
	/* both origins, before libsoup reads the list (as the agent does for all its instances) */
	g_assert_true(scep_ndes_admin_trust_gssapi_url(env("NDES_ADMIN_HTTP_URL"), NULL));
	g_assert_true(scep_ndes_admin_trust_gssapi_url(env("NDES_ADMIN_HTTPS_URL"), NULL));

	g_test_add_data_func("/scep/ndes-admin-real/ntlm/ok", &ntlm_ok, test_case);
	g_test_add_data_func("/scep/ndes-admin-real/ntlm/wrong-password", &ntlm_wrong, test_case);
	g_test_add_data_func(
	    "/scep/ndes-admin-real/ntlm/unknown-user", &ntlm_unknown_user, test_case);
	g_test_add_data_func("/scep/ndes-admin-real/ntlm/repeat", &ntlm_ok, test_repeat);
	g_test_add_data_func("/scep/ndes-admin-real/kerberos/ok", &krb_ok, test_case);
	g_test_add_data_func(
	    "/scep/ndes-admin-real/kerberos/wrong-password", &krb_wrong, test_case);
	g_test_add_data_func(
	    "/scep/ndes-admin-real/kerberos/unknown-user", &krb_unknown_user, test_case);
	g_test_add_data_func(
	    "/scep/ndes-admin-real/kerberos/no-password", &krb_no_password, test_case);
	g_test_add_func("/scep/ndes-admin-real/kerberos/no-ticket", test_kerberos_no_ticket);
	g_test_add_func("/scep/ndes-admin-real/kerberos/existing-ccache",
			test_kerberos_existing_ccache);
	g_test_add_data_func("/scep/ndes-admin-real/kerberos/repeat", &krb_ok, test_repeat);
	g_test_add_data_func("/scep/ndes-admin-real/http/cacert-getca", &http_getca, test_case);
	g_test_add_data_func("/scep/ndes-admin-real/http/cacert-file", &http_file, test_case);
	g_test_add_data_func(
	    "/scep/ndes-admin-real/https/ntlm-cacert-none", &https_none, test_case);
	g_test_add_data_func(
	    "/scep/ndes-admin-real/https/ntlm-cacert-getca", &https_getca, test_case);
	g_test_add_data_func(
	    "/scep/ndes-admin-real/https/ntlm-cacert-file", &https_file, test_case);
	g_test_add_data_func(
	    "/scep/ndes-admin-real/https/kerberos-cacert-none", &https_krb_none, test_case);
	g_test_add_data_func(
	    "/scep/ndes-admin-real/https/kerberos-cacert-getca", &https_krb_getca, test_case);
	g_test_add_data_func(
	    "/scep/ndes-admin-real/https/kerberos-cacert-file", &https_krb_file, test_case);
	g_test_add_data_func("/scep/ndes-admin-real/ntlm/cache-full", &ntlm_cache_full, test_case);
	g_test_add_data_func(
	    "/scep/ndes-admin-real/ntlm/no-permission", &ntlm_no_permission, test_case);
	g_test_add_data_func(
	    "/scep/ndes-admin-real/kerberos/cache-full", &krb_cache_full, test_case);
	g_test_add_data_func(
	    "/scep/ndes-admin-real/kerberos/no-permission", &krb_no_permission, test_case);
	return g_test_run();
}
