#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "scep-post-install.h"
#include "scep-test-util.h"

typedef struct {
	gchar *dir;
	GAsyncResult *result;
} Fixture;

static void
fixture_setup(Fixture *fx, gconstpointer user_data)
{
	fx->dir = scep_test_make_tmp_dir("test-post-install-XXXXXX");
	g_unsetenv("SCEP_AGENT_SYSTEMCTL");
}

static void
fixture_teardown(Fixture *fx, gconstpointer user_data)
{
	g_clear_object(&fx->result);
	scep_test_remove_tree(fx->dir, NULL);
	g_free(fx->dir);
	g_unsetenv("SCEP_AGENT_SYSTEMCTL");
}

static gboolean
set_flag_cb(gpointer user_data)
{
	gboolean *flag = user_data;

	*flag = TRUE;
	return G_SOURCE_REMOVE;
}

/* runs @params to completion (bounded by @limit seconds); returns the elapsed seconds */
static gdouble
run(Fixture *fx,
    const ScepPostInstallParams *params,
    GCancellable *cancellable,
    GError **error,
    gboolean *ok)
{
	gboolean expired = FALSE;
	guint guard = g_timeout_add_seconds(30, set_flag_cb, &expired);
	gint64 start = g_get_monotonic_time();

	g_clear_object(&fx->result);
	scep_post_install_run_async(params, cancellable, scep_test_result_cb, &fx->result);
	/* never from inside the call */
	g_assert_null(fx->result);
	while (fx->result == NULL && !expired)
		g_main_context_iteration(NULL, TRUE);
	g_assert_false(expired);
	g_source_remove(guard);
	*ok = scep_post_install_run_finish(fx->result, error);
	return (gdouble)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
}

static gchar *
write_script(Fixture *fx, const gchar *name, const gchar *body)
{
	g_autofree gchar *path = g_build_filename(fx->dir, name, NULL);
	g_autofree gchar *text = g_strdup_printf("#!/bin/sh\n%s\n", body);

	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	g_assert_cmpint(g_chmod(path, 0755), ==, 0);
	return g_steal_pointer(&path);
}

static gchar *
read_file(const gchar *path)
{
	gchar *contents = NULL;

	if (!g_file_get_contents(path, &contents, NULL, NULL))
		return NULL;
	return contents;
}

static void
test_success(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *marker = g_build_filename(fx->dir, "ran", NULL);
	g_autofree gchar *command = g_strdup_printf("/usr/bin/touch '%s'", marker);
	ScepPostInstallParams params = { .instance = "cert0", .command = command };
	gboolean ok = FALSE;

	run(fx, &params, NULL, &error, &ok);
	g_assert_no_error(error);
	g_assert_true(ok);
	g_assert_true(g_file_test(marker, G_FILE_TEST_EXISTS));
}

static void
test_nothing_configured(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	ScepPostInstallParams params = { .instance = "cert0", .command = "", .unit = NULL };
	gboolean ok = FALSE;

	g_assert_true(scep_post_install_params_is_empty(&params));
	run(fx, &params, NULL, &error, &ok);
	g_assert_no_error(error);
	g_assert_true(ok);
}

static void
test_exit_status(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *script = write_script(
	    fx, "fail.sh", "echo some output\necho 'reload failed: no such file' >&2\nexit 3");
	ScepPostInstallParams params = { .instance = "cert0", .command = script };
	gboolean ok = TRUE;

	run(fx, &params, NULL, &error, &ok);
	g_assert_false(ok);
	g_assert_error(error, SCEP_POST_INSTALL_ERROR, SCEP_POST_INSTALL_ERROR_EXIT_STATUS);
	g_test_message("error: %s", error->message);
	g_assert_nonnull(strstr(error->message, "status 3"));
	g_assert_nonnull(strstr(error->message, "reload failed: no such file"));
	/* standard output is not part of it */
	g_assert_null(strstr(error->message, "some output"));
}

static void
test_stderr_excerpt_bounded(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	/* 1 MiB on stderr: more than a pipe holds, so it must be read while it runs */
	g_autofree gchar *script =
	    write_script(fx, "noisy.sh", "head -c 1048576 /dev/zero | tr '\\0' e >&2\nexit 1");
	ScepPostInstallParams params = { .instance = "cert0", .command = script };
	gboolean ok = TRUE;

	run(fx, &params, NULL, &error, &ok);
	g_assert_error(error, SCEP_POST_INSTALL_ERROR, SCEP_POST_INSTALL_ERROR_EXIT_STATUS);
	g_assert_cmpuint(strlen(error->message), <, 1024);
}

static void
test_signaled(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *script = write_script(fx, "self-kill.sh", "kill -TERM $$");
	ScepPostInstallParams params = { .instance = "cert0", .command = script };
	gboolean ok = TRUE;

	run(fx, &params, NULL, &error, &ok);
	g_assert_error(error, SCEP_POST_INSTALL_ERROR, SCEP_POST_INSTALL_ERROR_SIGNALED);
}

static gboolean
process_gone(const gchar *pid_text)
{
	g_autofree gchar *stat_path =
	    g_strdup_printf("/proc/%s/stat", g_strstrip((gchar *)pid_text));
	g_autofree gchar *stat = read_file(stat_path);
	const gchar *state;

	if (stat == NULL)
		return TRUE;
	/* a zombie waiting for its reaper counts as gone */
	state = strrchr(stat, ')');
	return state != NULL && state[1] == ' ' && state[2] == 'Z';
}

static void
test_timeout(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *pid_file = g_build_filename(fx->dir, "child.pid", NULL);
	g_autofree gchar *body =
	    g_strdup_printf("sleep 60 &\necho $! > '%s'\nsleep 60\n", pid_file);
	g_autofree gchar *script = write_script(fx, "hang.sh", body);
	g_autofree gchar *child_pid = NULL;
	ScepPostInstallParams params = {
		.instance = "cert0",
		.command = script,
		.timeout_seconds = 1,
	};
	gboolean ok = TRUE;
	gdouble elapsed;
	gint64 start;

	elapsed = run(fx, &params, NULL, &error, &ok);
	g_assert_false(ok);
	g_assert_error(error, SCEP_POST_INSTALL_ERROR, SCEP_POST_INSTALL_ERROR_TIMEOUT);
	g_assert_cmpfloat(elapsed, >=, 0.9);
	g_assert_cmpfloat(elapsed, <, 10.0);

	/* the background child (same process group, holding stderr open) was killed too */
	child_pid = read_file(pid_file);
	g_assert_nonnull(child_pid);
	start = g_get_monotonic_time();
	while (!process_gone(child_pid) && g_get_monotonic_time() - start < 5 * G_USEC_PER_SEC)
		g_usleep(10 * 1000);
	g_assert_true(process_gone(child_pid));
}

static void
test_environment(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *out = g_build_filename(fx->dir, "env.txt", NULL);
	g_autofree gchar *body = g_strdup_printf(
	    "printf '%%s\\n' \"$SCEP_INSTANCE\" \"$SCEP_CERT_FILE\" \"$SCEP_KEY_FILE\" "
	    "\"$SCEP_CHAIN_FILE\" > '%s'",
	    out);
	g_autofree gchar *script = write_script(fx, "env.sh", body);
	g_autofree gchar *contents = NULL;
	ScepPostInstallParams params = {
		.instance = "cert7",
		.command = script,
		.cert_file = "/var/lib/x/cert.pem",
		.key_file = "/var/lib/x/key.pem",
		.chain_file = "/var/lib/x/chain.pem",
	};
	gboolean ok = FALSE;

	run(fx, &params, NULL, &error, &ok);
	g_assert_no_error(error);
	contents = read_file(out);
	g_assert_cmpstr(
	    contents, ==, "cert7\n/var/lib/x/cert.pem\n/var/lib/x/key.pem\n/var/lib/x/chain.pem\n");
}

static void
test_arguments_no_shell(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *out = g_build_filename(fx->dir, "args.txt", NULL);
	g_autofree gchar *never = g_build_filename(fx->dir, "never", NULL);
	g_autofree gchar *body = g_strdup_printf("printf '%%s\\n' \"$@\" > '%s'", out);
	g_autofree gchar *script = write_script(fx, "args.sh", body);
	/* quoting is honoured; ';', '>' and '$' are not interpreted by any shell */
	g_autofree gchar *command =
	    g_strdup_printf("%s 'two words' $HOME ; /usr/bin/touch %s > x", script, never);
	g_autofree gchar *contents = NULL;
	g_autofree gchar *expected = NULL;
	ScepPostInstallParams params = { .instance = "cert0", .command = command };
	gboolean ok = FALSE;

	run(fx, &params, NULL, &error, &ok);
	g_assert_no_error(error);
	g_assert_false(g_file_test(never, G_FILE_TEST_EXISTS));
	contents = read_file(out);
	expected = g_strdup_printf("two words\n$HOME\n;\n/usr/bin/touch\n%s\n>\nx\n", never);
	g_assert_cmpstr(contents, ==, expected);
}

static void
test_relative_refused(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	ScepPostInstallParams params = { .instance = "cert0", .command = "touch /tmp/x" };
	gboolean ok = TRUE;

	run(fx, &params, NULL, &error, &ok);
	g_assert_false(ok);
	g_assert_error(error, SCEP_POST_INSTALL_ERROR, SCEP_POST_INSTALL_ERROR_INVALID);
}

static void
test_unparsable_refused(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	ScepPostInstallParams params = { .instance = "cert0",
					 .command = "/bin/echo 'unterminated" };
	gboolean ok = TRUE;

	run(fx, &params, NULL, &error, &ok);
	g_assert_error(error, SCEP_POST_INSTALL_ERROR, SCEP_POST_INSTALL_ERROR_INVALID);
}

static void
test_spawn_failure(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *missing = g_build_filename(fx->dir, "does-not-exist", NULL);
	ScepPostInstallParams params = { .instance = "cert0", .command = missing };
	gboolean ok = TRUE;

	run(fx, &params, NULL, &error, &ok);
	g_assert_error(error, SCEP_POST_INSTALL_ERROR, SCEP_POST_INSTALL_ERROR_SPAWN);
}

static gchar *
fake_systemctl(Fixture *fx, gint exit_status, gchar **record_out)
{
	g_autofree gchar *record = g_build_filename(fx->dir, "systemctl.args", NULL);
	g_autofree gchar *body = g_strdup_printf(
	    "printf '%%s\\n' \"$@\" >> '%s'\necho 'Job failed' >&2\nexit %d", record, exit_status);
	gchar *script = write_script(fx, "systemctl", body);

	g_setenv("SCEP_AGENT_SYSTEMCTL", script, TRUE);
	*record_out = g_steal_pointer(&record);
	return script;
}

/* @params succeeds against a systemctl that succeeds, which was called with @expected (one
 * argument a line) */
static void
assert_systemctl_called(Fixture *fx, const ScepPostInstallParams *params, const gchar *expected)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *record = NULL;
	g_autofree gchar *script = fake_systemctl(fx, 0, &record);
	g_autofree gchar *contents = NULL;
	gboolean ok = FALSE;

	run(fx, params, NULL, &error, &ok);
	g_assert_no_error(error);
	g_assert_true(ok);
	contents = read_file(record);
	g_assert_cmpstr(contents, ==, expected);
}

static void
test_unit_restart(Fixture *fx, gconstpointer user_data)
{
	ScepPostInstallParams params = { .instance = "cert0", .unit = "nginx.service" };

	/* no action given: restart */
	assert_systemctl_called(fx, &params, "restart\nnginx.service\n");
}

static void
test_unit_reload(Fixture *fx, gconstpointer user_data)
{
	ScepPostInstallParams params = {
		.instance = "cert0",
		.unit = "apache2.service",
		.unit_action = "reload",
	};

	assert_systemctl_called(fx, &params, "reload\napache2.service\n");
}

static void
test_unit_failure(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *record = NULL;
	g_autofree gchar *script = fake_systemctl(fx, 1, &record);
	ScepPostInstallParams params = { .instance = "cert0", .unit = "nginx.service" };
	gboolean ok = TRUE;

	run(fx, &params, NULL, &error, &ok);
	g_assert_error(error, SCEP_POST_INSTALL_ERROR, SCEP_POST_INSTALL_ERROR_EXIT_STATUS);
	g_assert_nonnull(strstr(error->message, "systemctl restart nginx.service"));
	g_assert_nonnull(strstr(error->message, "Job failed"));
}

static void
test_unit_bad_name(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *record = NULL;
	g_autofree gchar *script = fake_systemctl(fx, 0, &record);
	ScepPostInstallParams params = { .instance = "cert0", .unit = "--force" };
	gboolean ok = TRUE;

	run(fx, &params, NULL, &error, &ok);
	g_assert_error(error, SCEP_POST_INSTALL_ERROR, SCEP_POST_INSTALL_ERROR_INVALID);
	g_assert_false(g_file_test(record, G_FILE_TEST_EXISTS));
}

static void
test_unit_bad_action(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	ScepPostInstallParams params = {
		.instance = "cert0",
		.unit = "nginx.service",
		.unit_action = "stop",
	};
	gboolean ok = TRUE;

	run(fx, &params, NULL, &error, &ok);
	g_assert_error(error, SCEP_POST_INSTALL_ERROR, SCEP_POST_INSTALL_ERROR_INVALID);
}

/* the command fails, the unit is still restarted, and the command's failure is reported */
static void
test_command_failure_then_unit(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *record = NULL;
	g_autofree gchar *script = fake_systemctl(fx, 0, &record);
	g_autofree gchar *contents = NULL;
	ScepPostInstallParams params = {
		.instance = "cert0",
		.command = "/bin/false",
		.unit = "nginx.service",
	};
	gboolean ok = TRUE;

	run(fx, &params, NULL, &error, &ok);
	g_assert_error(error, SCEP_POST_INSTALL_ERROR, SCEP_POST_INSTALL_ERROR_EXIT_STATUS);
	g_assert_nonnull(strstr(error->message, "/bin/false"));
	contents = read_file(record);
	g_assert_cmpstr(contents, ==, "restart\nnginx.service\n");
}

static gboolean
cancel_cb(gpointer user_data)
{
	g_cancellable_cancel(G_CANCELLABLE(user_data));
	return G_SOURCE_REMOVE;
}

static void
test_cancel(Fixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	ScepPostInstallParams params = {
		.instance = "cert0",
		.command = "/bin/sleep 60",
		.timeout_seconds = 120,
	};
	gboolean ok = TRUE;
	gdouble elapsed;

	g_timeout_add(200, cancel_cb, cancellable);
	elapsed = run(fx, &params, cancellable, &error, &ok);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_cmpfloat(elapsed, <, 10.0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

#define ADD(path, func) g_test_add(path, Fixture, NULL, fixture_setup, func, fixture_teardown)
	ADD("/scep/post-install/success", test_success);
	ADD("/scep/post-install/nothing-configured", test_nothing_configured);
	ADD("/scep/post-install/exit-status", test_exit_status);
	ADD("/scep/post-install/stderr-excerpt-bounded", test_stderr_excerpt_bounded);
	ADD("/scep/post-install/signaled", test_signaled);
	ADD("/scep/post-install/timeout", test_timeout);
	ADD("/scep/post-install/environment", test_environment);
	ADD("/scep/post-install/arguments-no-shell", test_arguments_no_shell);
	ADD("/scep/post-install/relative-refused", test_relative_refused);
	ADD("/scep/post-install/unparsable-refused", test_unparsable_refused);
	ADD("/scep/post-install/spawn-failure", test_spawn_failure);
	ADD("/scep/post-install/unit-restart", test_unit_restart);
	ADD("/scep/post-install/unit-reload", test_unit_reload);
	ADD("/scep/post-install/unit-failure", test_unit_failure);
	ADD("/scep/post-install/unit-bad-name", test_unit_bad_name);
	ADD("/scep/post-install/unit-bad-action", test_unit_bad_action);
	ADD("/scep/post-install/command-failure-then-unit", test_command_failure_then_unit);
	ADD("/scep/post-install/cancel", test_cancel);
#undef ADD
	return g_test_run();
}
