/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The real scep-agent process (path in argv[1]) with --registry-dir / --state-dir against our
 * responder: killed with SIGKILL while a request is pending and restarted (the same transaction
 * completes), killed at every crash point of an installation (SCEP_AGENT_TEST_CRASH_AT) and
 * restarted (a matching key and certificate are always installed), killed at every crash point
 * of the move that follows a change of cert_file, key_file and chain_file (the pair ends up at
 * the new paths, the old files gone, nothing enrolled again), a host name change seen through
 * the watched host name file (SCEP_AGENT_HOSTNAME_FILE), and SIGTERM. Time at process level only
 * through SCEP_AGENT_TIME_OFFSET.
 */
#include "config.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scep-cert-store.h"
#include "scep-gnutls-common.h"
#include "scep-test-peers.h"
#include "scep-test-util.h"

#define WAIT_SECONDS 60

static const gchar *agent_path;

typedef struct {
	gchar *tmp;
	gchar *registry_dir;
	gchar *state_dir;
	gchar *log_path;
	ScepTestResponder *responder;
	GPid pid;
	gchar *hostname_file; /* nullable: SCEP_AGENT_HOSTNAME_FILE of the agent */
} Fixture;

static void
fixture_set_up(Fixture *fx, gconstpointer data)
{
	static const gchar *const args[] = { "--challenge", "sesame", NULL };
	g_autoptr(GError) error = NULL;
	g_autofree gchar *registry = NULL;
	g_autofree gchar *text = NULL;

	fx->tmp = g_dir_make_tmp("test-agent-daemon-XXXXXX", &error);
	g_assert_no_error(error);
	fx->registry_dir = g_build_filename(fx->tmp, "registry", NULL);
	fx->state_dir = g_build_filename(fx->tmp, "state", NULL);
	fx->log_path = g_build_filename(fx->tmp, "agent.log", NULL);
	g_assert_cmpint(g_mkdir_with_parents(fx->registry_dir, 0700), ==, 0);
	fx->responder = scep_test_responder_start(args, &error);
	g_assert_no_error(error);
	registry = g_build_filename(fx->registry_dir, "registry", NULL);
	text = g_strdup_printf("network.scepclient.cert0.enabled=true\n"
			       "network.scepclient.cert0.scepurl=%s\n"
			       "network.scepclient.cert0.crypt_password=sesame\n"
			       "network.scepclient.cert0.subjectaltname=daemon.example.test\n"
			       "network.scepclient.cert0.poll_interval=10\n",
			       scep_test_responder_get_url(fx->responder));
	g_assert_true(g_file_set_contents(registry, text, -1, NULL));
}

static void
agent_kill(Fixture *fx, gint sig, gint *status)
{
	gint st = 0;
	if (fx->pid == 0)
		return;
	kill(fx->pid, sig);
	g_assert_cmpint(waitpid(fx->pid, &st, 0), ==, fx->pid);
	fx->pid = 0;
	if (status != NULL)
		*status = st;
}

static void
fixture_tear_down(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *cmd = NULL;
	agent_kill(fx, SIGKILL, NULL);
	g_clear_pointer(&fx->responder, scep_test_responder_free);
	cmd = g_strdup_printf("rm -rf '%s'", fx->tmp);
	g_assert_cmpint(system(cmd), ==, 0);
	g_free(fx->tmp);
	g_free(fx->registry_dir);
	g_free(fx->state_dir);
	g_free(fx->log_path);
	g_free(fx->hostname_file);
}

/* starts scep-agent; @crash_at / @offset: nullable environment for the hooks */
static void
agent_start(Fixture *fx, const gchar *crash_at, const gchar *offset)
{
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) env = g_get_environ();
	const gchar *argv[] = { agent_path,    "--registry-dir", fx->registry_dir,
				"--state-dir", fx->state_dir,    "--verbose",
				NULL };
	gint log_fd = g_open(fx->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	g_assert_cmpint(log_fd, >=, 0);
	env = g_environ_unsetenv(env, "SCEP_AGENT_TEST_CRASH_AT");
	env = g_environ_unsetenv(env, "SCEP_AGENT_TIME_OFFSET");
	env = g_environ_unsetenv(env, "SCEP_AGENT_HOSTNAME");
	env = g_environ_unsetenv(env, "SCEP_AGENT_HOSTNAME_FILE");
	if (fx->hostname_file != NULL)
		env = g_environ_setenv(env, "SCEP_AGENT_HOSTNAME_FILE", fx->hostname_file, TRUE);
	if (crash_at != NULL)
		env = g_environ_setenv(env, "SCEP_AGENT_TEST_CRASH_AT", crash_at, TRUE);
	if (offset != NULL)
		env = g_environ_setenv(env, "SCEP_AGENT_TIME_OFFSET", offset, TRUE);
	g_spawn_async_with_fds(NULL,
			       (gchar **)argv,
			       env,
			       G_SPAWN_DO_NOT_REAP_CHILD,
			       scep_test_die_with_parent,
			       NULL,
			       &fx->pid,
			       -1,
			       log_fd,
			       log_fd,
			       &error);
	g_assert_no_error(error);
	close(log_fd);
}

/* the persisted state number, -1 when there is no state file yet */
static gint
state_of(Fixture *fx)
{
	g_autofree gchar *path = g_build_filename(fx->state_dir, "cert0", "state", NULL);
	g_autoptr(GKeyFile) kf = g_key_file_new();
	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, NULL))
		return -1;
	return g_key_file_get_integer(kf, "state", "state", NULL);
}

/* a bounded wait for the daemon (network round trips), polling its state file */
static void
wait_state(Fixture *fx, gint state)
{
	gint64 end = g_get_monotonic_time() + WAIT_SECONDS * G_USEC_PER_SEC;
	while (state_of(fx) != state) {
		if (g_get_monotonic_time() > end) {
			g_autofree gchar *log = NULL;
			g_file_get_contents(fx->log_path, &log, NULL, NULL);
			g_printerr("%s", log != NULL ? log : "");
			g_error("timed out waiting for state %d (now %d)", state, state_of(fx));
		}
		g_usleep(50 * 1000);
	}
}

/* exits (by itself) within the bounded wait; returns the wait status */
static gint
wait_exit(Fixture *fx)
{
	gint64 end = g_get_monotonic_time() + WAIT_SECONDS * G_USEC_PER_SEC;
	gint st = 0;
	while (waitpid(fx->pid, &st, WNOHANG) == 0) {
		if (g_get_monotonic_time() > end)
			g_error("scep-agent did not exit");
		g_usleep(50 * 1000);
	}
	fx->pid = 0;
	return st;
}

static ScepCertPaths *
default_paths(Fixture *fx)
{
	g_autofree gchar *key = g_build_filename(fx->state_dir, "cert0", "key.pem", NULL);
	g_autofree gchar *cert = g_build_filename(fx->state_dir, "cert0", "cert.pem", NULL);
	g_autofree gchar *chain = g_build_filename(fx->state_dir, "cert0", "chain.pem", NULL);
	return scep_cert_paths_new(key, cert, chain);
}

static void
assert_pair(Fixture *fx)
{
	g_autoptr(ScepCertPaths) paths = default_paths(fx);
	g_autoptr(GError) error = NULL;
	g_assert_true(scep_cert_store_load(paths, NULL, NULL, &error));
	g_assert_no_error(error);
}

static gchar *
read_serial(Fixture *fx)
{
	g_autoptr(ScepCertPaths) paths = default_paths(fx);
	g_autofree gchar *data = NULL;
	g_assert_true(g_file_get_contents(paths->cert_path, &data, NULL, NULL));
	return g_compute_checksum_for_string(G_CHECKSUM_SHA256, data, -1);
}

static void
test_enroll_sigterm(Fixture *fx, gconstpointer data)
{
	gint status = 0;
	agent_start(fx, NULL, NULL);
	wait_state(fx, 7);
	assert_pair(fx);
	agent_kill(fx, SIGTERM, &status);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
}

static void
test_pending_sigkill(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *log = NULL;
	g_autofree gchar *tid = NULL;
	g_autofree gchar *needle = NULL;
	const gchar *p;
	gint status = 0;

	scep_test_responder_set_script(fx->responder, "[{\"status\": \"pending\"}]", &error);
	g_assert_no_error(error);
	agent_start(fx, NULL, NULL);
	wait_state(fx, 6);
	agent_kill(fx, SIGKILL, &status);
	g_assert_true(WIFSIGNALED(status));

	/* the CA approves while the agent is down; the restarted agent polls at once */
	scep_test_responder_set_script(fx->responder, "[{\"status\": \"success\"}]", &error);
	agent_start(fx, NULL, NULL);
	wait_state(fx, 7);
	assert_pair(fx);
	log = scep_test_responder_get_log(fx->responder, &error);
	g_assert_no_error(error);
	/* exactly one PKCSReq; every PKIOperation carries its transaction ID */
	g_assert_cmpint(
	    scep_test_responder_count_in_log(fx->responder, "\"message_type\": 19", NULL), ==, 1);
	g_assert_cmpint(
	    scep_test_responder_count_in_log(fx->responder, "\"message_type\": 20", NULL), >=, 1);
	p = strstr(log, "\"transaction_id\": \"");
	g_assert_nonnull(p);
	p += strlen("\"transaction_id\": \"");
	tid = g_strndup(p, strcspn(p, "\""));
	needle = g_strdup_printf("\"transaction_id\": \"%s\"", tid);
	g_assert_cmpint(scep_test_responder_count_in_log(fx->responder, needle, NULL),
			==,
			scep_test_responder_count_in_log(
			    fx->responder, "\"operation\": \"PKIOperation\"", NULL));
}

/* SIGKILL at @point during the installation of a renewal; after restart a matching pair */
static void
test_crash_point(Fixture *fx, gconstpointer data)
{
	const gchar *point = data;
	/* past the renewal point of a one-year certificate (renewal_period 30 days) */
	const gchar *offset = "29808000"; /* 345 days */
	g_autofree gchar *first = NULL;
	g_autofree gchar *second = NULL;
	g_autoptr(ScepCertPaths) paths = default_paths(fx);
	g_autoptr(GError) error = NULL;
	gint status = 0;

	agent_start(fx, NULL, NULL);
	wait_state(fx, 7);
	agent_kill(fx, SIGTERM, NULL);
	first = read_serial(fx);

	agent_start(fx, point, offset);
	status = wait_exit(fx);
	g_assert_true(WIFSIGNALED(status));
	g_assert_cmpint(WTERMSIG(status), ==, SIGKILL);
	/* even before the agent repairs anything, recovery yields one complete pair */
	g_assert_true(
	    scep_cert_store_recover(g_build_filename(fx->state_dir, "cert0", NULL), paths, &error));
	g_assert_no_error(error);
	assert_pair(fx);

	agent_start(fx, NULL, offset);
	wait_state(fx, 7);
	assert_pair(fx);
	second = read_serial(fx);
	/* the interrupted renewal was finished or redone: a new certificate is in place */
	g_assert_cmpstr(first, !=, second);
	agent_kill(fx, SIGTERM, NULL);
}

/* adds registry lines for cert0 ("key=value\n"...) to the registry file */
static void
registry_append(Fixture *fx, const gchar *lines)
{
	g_autofree gchar *path = g_build_filename(fx->registry_dir, "registry", NULL);
	g_autofree gchar *text = NULL;
	g_autofree gchar *more = NULL;
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	more = g_strconcat(text, lines, NULL);
	g_assert_true(g_file_set_contents(path, more, -1, NULL));
}

/* the installed certificate path recorded in the state file, NULL when none */
static gchar *
installed_cert_of(Fixture *fx)
{
	g_autofree gchar *path = g_build_filename(fx->state_dir, "cert0", "state", NULL);
	g_autoptr(GKeyFile) kf = g_key_file_new();
	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, NULL))
		return NULL;
	return g_key_file_get_string(kf, "state", "installed-cert-file", NULL);
}

static gchar *
contents_of(const gchar *path)
{
	gchar *data = NULL;
	g_assert_true(g_file_get_contents(path, &data, NULL, NULL));
	return data;
}

static ScepCertPaths *
moved_paths(Fixture *fx)
{
	g_autofree gchar *key = g_build_filename(fx->tmp, "moved", "private", "device.key", NULL);
	g_autofree gchar *cert = g_build_filename(fx->tmp, "moved", "device.crt", NULL);
	g_autofree gchar *chain = g_build_filename(fx->tmp, "moved", "chain.crt", NULL);
	return scep_cert_paths_new(key, cert, chain);
}

/* SIGKILL at @point while the installed pair moves to new paths (a change made while the
 * agent was down); after a restart the pair is at the new paths, the old files are gone */
static void
test_move_crash_point(Fixture *fx, gconstpointer data)
{
	const gchar *point = data;
	g_autoptr(ScepCertPaths) old = default_paths(fx);
	g_autoptr(ScepCertPaths) moved = moved_paths(fx);
	g_autofree gchar *journal_dir = g_build_filename(fx->state_dir, "cert0", NULL);
	g_autofree gchar *lines = NULL;
	g_autofree gchar *key_before = NULL;
	g_autofree gchar *cert_before = NULL;
	g_autofree gchar *chain_before = NULL;
	g_autofree gchar *key_after = NULL;
	g_autofree gchar *cert_after = NULL;
	g_autofree gchar *chain_after = NULL;
	const gchar *old_files[] = { old->key_path, old->cert_path, old->chain_path };
	g_autoptr(GError) error = NULL;
	gint64 end;
	struct stat st;
	gint status = 0;

	agent_start(fx, NULL, NULL);
	wait_state(fx, 7);
	agent_kill(fx, SIGTERM, NULL);
	key_before = contents_of(old->key_path);
	cert_before = contents_of(old->cert_path);
	chain_before = contents_of(old->chain_path);

	lines = g_strdup_printf("network.scepclient.cert0.key_file=%s\n"
				"network.scepclient.cert0.cert_file=%s\n"
				"network.scepclient.cert0.chain_file=%s\n",
				moved->key_path,
				moved->cert_path,
				moved->chain_path);
	registry_append(fx, lines);
	agent_start(fx, point, NULL);
	status = wait_exit(fx);
	g_assert_true(WIFSIGNALED(status));
	g_assert_cmpint(WTERMSIG(status), ==, SIGKILL);
	/* whatever the crash left: after recovery one complete pair, old or new */
	g_assert_true(scep_cert_store_recover(journal_dir, moved, &error));
	g_assert_no_error(error);
	g_assert_true(scep_cert_store_load(old, NULL, NULL, NULL) ||
		      scep_cert_store_load(moved, NULL, NULL, NULL));

	agent_start(fx, NULL, NULL);
	end = g_get_monotonic_time() + WAIT_SECONDS * G_USEC_PER_SEC;
	for (;;) {
		g_autofree gchar *installed = installed_cert_of(fx);
		if (g_strcmp0(installed, moved->cert_path) == 0)
			break;
		if (g_get_monotonic_time() > end)
			g_error("the installed pair was not moved to %s", moved->cert_path);
		g_usleep(50 * 1000);
	}
	g_assert_true(scep_cert_store_load(moved, NULL, NULL, &error));
	g_assert_no_error(error);
	key_after = contents_of(moved->key_path);
	cert_after = contents_of(moved->cert_path);
	chain_after = contents_of(moved->chain_path);
	g_assert_cmpstr(key_after, ==, key_before);
	g_assert_cmpstr(cert_after, ==, cert_before);
	g_assert_cmpstr(chain_after, ==, chain_before);
	g_assert_cmpint(g_stat(moved->key_path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	for (guint i = 0; i < G_N_ELEMENTS(old_files); i++) {
		g_autofree gchar *bak = g_strconcat(old_files[i], ".bak", NULL);
		g_assert_false(g_file_test(old_files[i], G_FILE_TEST_EXISTS));
		g_assert_false(g_file_test(bak, G_FILE_TEST_EXISTS));
	}
	/* moved, not enrolled again */
	g_assert_cmpint(scep_test_responder_count_in_log(
			    fx->responder, "\"operation\": \"PKIOperation\"", NULL),
			==,
			1);
	agent_kill(fx, SIGTERM, NULL);
}

/* the subject of the installed certificate (default paths), "" when none */
static gchar *
installed_subject(Fixture *fx)
{
	g_autoptr(ScepCertPaths) paths = default_paths(fx);
	g_auto(gnutls_x509_crt_t) cert = NULL;
	g_auto(ScepGnutlsDatum) dn = { NULL, 0 };
	if (!scep_cert_store_load(paths, &cert, NULL, NULL) ||
	    gnutls_x509_crt_get_dn3(cert, &dn, 0) < 0)
		return g_strdup("");
	return g_strndup((const gchar *)dn.data, dn.size);
}

/* hostname_change_handling=Reset in the real daemon: the host name file is watched */
static void
test_hostname_watch(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *subject = NULL;
	gint64 end;

	fx->hostname_file = g_build_filename(fx->tmp, "hostname", NULL);
	g_assert_true(g_file_set_contents(fx->hostname_file, "daemon-host1\n", -1, NULL));
	registry_append(fx,
			"network.scepclient.cert0.subjectaltname_type=DNS name (auto)\n"
			"network.scepclient.cert0.hostname_change_handling=Reset\n");
	agent_start(fx, NULL, NULL);
	wait_state(fx, 7);
	subject = installed_subject(fx);
	g_assert_cmpstr(subject, ==, "CN=daemon-host1");

	g_assert_true(g_file_set_contents(fx->hostname_file, "daemon-host2\n", -1, NULL));
	end = g_get_monotonic_time() + WAIT_SECONDS * G_USEC_PER_SEC;
	while (TRUE) {
		g_free(subject);
		subject = installed_subject(fx);
		if (g_strcmp0(subject, "CN=daemon-host2") == 0)
			break;
		if (g_get_monotonic_time() > end)
			g_error("no new certificate for the new host name (subject %s)", subject);
		g_usleep(50 * 1000);
	}
	g_assert_cmpint(
	    scep_test_responder_count_in_log(fx->responder, "\"message_type\": 19", NULL), ==, 2);
	agent_kill(fx, SIGTERM, NULL);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
	if (argc < 2)
		g_error("usage: test-agent-daemon PATH-OF-scep-agent");
	agent_path = argv[1];
	g_test_add("/scep/agent/daemon/enroll-sigterm",
		   Fixture,
		   NULL,
		   fixture_set_up,
		   test_enroll_sigterm,
		   fixture_tear_down);
	g_test_add("/scep/agent/daemon/pending-sigkill-restart",
		   Fixture,
		   NULL,
		   fixture_set_up,
		   test_pending_sigkill,
		   fixture_tear_down);
	for (guint i = 0; scep_cert_store_crash_points[i] != NULL; i++) {
		g_autofree gchar *path = g_strdup_printf("/scep/agent/daemon/crash-at/%s",
							 scep_cert_store_crash_points[i]);
		g_autofree gchar *move = g_strdup_printf("/scep/agent/daemon/move-crash-at/%s",
							 scep_cert_store_crash_points[i]);
		g_test_add(path,
			   Fixture,
			   scep_cert_store_crash_points[i],
			   fixture_set_up,
			   test_crash_point,
			   fixture_tear_down);
		g_test_add(move,
			   Fixture,
			   scep_cert_store_crash_points[i],
			   fixture_set_up,
			   test_move_crash_point,
			   fixture_tear_down);
	}
	g_test_add("/scep/agent/daemon/hostname-watch",
		   Fixture,
		   NULL,
		   fixture_set_up,
		   test_hostname_watch,
		   fixture_tear_down);
	return g_test_run();
}
