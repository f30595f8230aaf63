#include "config.h"

#include "scep-post-install.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define SCEP_POST_INSTALL_DEFAULT_TIMEOUT 60
#define SCEP_POST_INSTALL_STDERR_MAX      4096
#define SCEP_POST_INSTALL_EXCERPT_MAX     400

G_DEFINE_QUARK(scep - post - install - error - quark, scep_post_install_error)

/* one program run: argv, its process, the stderr reader and the timeout */
typedef struct {
	gchar *what;               /* "command" or "systemctl restart x.service", for messages */
	GStrv argv;                /* owned */
	GSubprocess *process;      /* owned, nullable */
	GByteArray *stderr_buf;    /* owned, capped at SCEP_POST_INSTALL_STDERR_MAX */
	GCancellable *read_cancel; /* owned */
	GSource *timeout_source;   /* owned, nullable */
	gulong cancelled_id;
	pid_t pid; /* also the process group */
	gboolean wait_done;
	gboolean read_done;
	gboolean timed_out;
	GError *wait_error; /* owned, nullable */
} ScepPostInstallRun;

typedef struct {
	gchar *instance;
	gchar *cert_file;
	gchar *key_file;
	gchar *chain_file;
	guint timeout_seconds;
	GPtrArray *runs; /* owned, of owned ScepPostInstallRun, in order */
	guint current;
	GError *first_error;   /* owned, nullable */
	GMainContext *context; /* owned */
} ScepPostInstallData;

static ScepPostInstallRun *
scep_post_install_run_new(gchar *what, GStrv argv)
{
	ScepPostInstallRun *run = g_new0(ScepPostInstallRun, 1);

	run->what = what;
	run->argv = argv;
	run->stderr_buf = g_byte_array_new();
	return run;
}

static void
scep_post_install_run_free(ScepPostInstallRun *run)
{
	g_free(run->what);
	g_strfreev(run->argv);
	g_clear_object(&run->process);
	g_byte_array_unref(run->stderr_buf);
	g_clear_object(&run->read_cancel);
	if (run->timeout_source != NULL) {
		g_source_destroy(run->timeout_source);
		g_source_unref(run->timeout_source);
	}
	g_clear_error(&run->wait_error);
	g_free(run);
}

static void
scep_post_install_data_free(ScepPostInstallData *data)
{
	g_free(data->instance);
	g_free(data->cert_file);
	g_free(data->key_file);
	g_free(data->chain_file);
	g_ptr_array_unref(data->runs);
	g_clear_error(&data->first_error);
	g_main_context_unref(data->context);
	g_free(data);
}

gboolean
scep_post_install_params_is_empty(const ScepPostInstallParams *params)
{
	g_return_val_if_fail(params != NULL, TRUE);
	return (params->command == NULL || params->command[0] == '\0') &&
	       (params->unit == NULL || params->unit[0] == '\0');
}

static gchar *
scep_post_install_find_systemctl(void)
{
	const gchar *override = g_getenv("SCEP_AGENT_SYSTEMCTL");
	gchar *found;

	if (override != NULL && override[0] != '\0')
		return g_strdup(override);
	found = g_find_program_in_path("systemctl");
	if (found != NULL)
		return found;
	return g_strdup("/usr/bin/systemctl");
}

static gboolean
scep_post_install_check_unit(const gchar *unit, GError **error)
{
	if (unit[0] == '-' || strchr(unit, '/') != NULL || !g_utf8_validate(unit, -1, NULL)) {
		g_set_error(error,
			    SCEP_POST_INSTALL_ERROR,
			    SCEP_POST_INSTALL_ERROR_INVALID,
			    "not a systemd unit name: %s",
			    unit);
		return FALSE;
	}
	for (const gchar *p = unit; *p != '\0'; p++) {
		if (g_ascii_isspace(*p) || g_ascii_iscntrl(*p)) {
			g_set_error(error,
				    SCEP_POST_INSTALL_ERROR,
				    SCEP_POST_INSTALL_ERROR_INVALID,
				    "not a systemd unit name: %s",
				    unit);
			return FALSE;
		}
	}
	return TRUE;
}

/* the list of programs to run, checked before anything runs */
static GPtrArray *
scep_post_install_plan(const ScepPostInstallParams *params, GError **error)
{
	g_autoptr(GPtrArray) runs =
	    g_ptr_array_new_with_free_func((GDestroyNotify)scep_post_install_run_free);

	if (params->command != NULL && params->command[0] != '\0') {
		g_autoptr(GError) error_local = NULL;
		g_auto(GStrv) argv = NULL;
		gchar *what;

		if (!g_shell_parse_argv(params->command, NULL, &argv, &error_local)) {
			g_set_error(error,
				    SCEP_POST_INSTALL_ERROR,
				    SCEP_POST_INSTALL_ERROR_INVALID,
				    "cannot parse post-install command: %s",
				    error_local->message);
			return NULL;
		}
		if (!g_path_is_absolute(argv[0])) {
			g_set_error(error,
				    SCEP_POST_INSTALL_ERROR,
				    SCEP_POST_INSTALL_ERROR_INVALID,
				    "post-install program is not an absolute path: %s",
				    argv[0]);
			return NULL;
		}
		what = g_strdup_printf("post-install command %s", argv[0]);
		g_ptr_array_add(runs, scep_post_install_run_new(what, g_steal_pointer(&argv)));
	}
	if (params->unit != NULL && params->unit[0] != '\0') {
		const gchar *action = params->unit_action;
		GStrv argv;

		if (action == NULL || action[0] == '\0')
			action = "restart";
		if (g_strcmp0(action, "restart") != 0 && g_strcmp0(action, "reload") != 0) {
			g_set_error(error,
				    SCEP_POST_INSTALL_ERROR,
				    SCEP_POST_INSTALL_ERROR_INVALID,
				    "unknown post-install unit action: %s",
				    action);
			return NULL;
		}
		if (!scep_post_install_check_unit(params->unit, error))
			return NULL;
		argv = g_new0(gchar *, 4);
		argv[0] = scep_post_install_find_systemctl();
		argv[1] = g_strdup(action);
		argv[2] = g_strdup(params->unit);
		g_ptr_array_add(
		    runs,
		    scep_post_install_run_new(
			g_strdup_printf("systemctl %s %s", action, params->unit), argv));
	}
	return g_steal_pointer(&runs);
}

static void
scep_post_install_child_setup(gpointer user_data)
{
	/* its own process group, so that a timeout kills whatever it started as well */
	setpgid(0, 0);
}

static void
scep_post_install_kill(ScepPostInstallRun *run)
{
	if (run->pid > 0 && !run->wait_done) {
		kill(-run->pid, SIGKILL);
		kill(run->pid, SIGKILL);
	}
}

static gchar *
scep_post_install_excerpt(GByteArray *buf)
{
	g_autofree gchar *text = NULL;
	g_autofree gchar *valid = NULL;
	gsize len = MIN(buf->len, SCEP_POST_INSTALL_EXCERPT_MAX);

	if (len == 0)
		return g_strdup("");
	text = g_strndup((const gchar *)buf->data, len);
	valid = g_utf8_make_valid(text, -1);
	g_strstrip(valid);
	/* one line for the log and the D-Bus property */
	g_strdelimit(valid, "\r\n\t", ' ');
	return g_steal_pointer(&valid);
}

static void scep_post_install_next(GTask *task);

static void
scep_post_install_run_finished(GTask *task, ScepPostInstallRun *run)
{
	ScepPostInstallData *data = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *excerpt = scep_post_install_excerpt(run->stderr_buf);

	if (run->cancelled_id != 0) {
		g_cancellable_disconnect(g_task_get_cancellable(task), run->cancelled_id);
		run->cancelled_id = 0;
	}
	if (run->timeout_source != NULL) {
		g_source_destroy(run->timeout_source);
		g_clear_pointer(&run->timeout_source, g_source_unref);
	}

	if (g_task_return_error_if_cancelled(task))
		return;
	if (run->timed_out) {
		error = g_error_new(SCEP_POST_INSTALL_ERROR,
				    SCEP_POST_INSTALL_ERROR_TIMEOUT,
				    "%s did not finish within %u s and was killed",
				    run->what,
				    data->timeout_seconds);
	} else if (run->wait_error != NULL) {
		error = g_error_new(SCEP_POST_INSTALL_ERROR,
				    SCEP_POST_INSTALL_ERROR_SPAWN,
				    "%s: %s",
				    run->what,
				    run->wait_error->message);
	} else if (g_subprocess_get_if_signaled(run->process)) {
		error = g_error_new(SCEP_POST_INSTALL_ERROR,
				    SCEP_POST_INSTALL_ERROR_SIGNALED,
				    "%s was killed by signal %d%s%s",
				    run->what,
				    g_subprocess_get_term_sig(run->process),
				    excerpt[0] != '\0' ? ": " : "",
				    excerpt);
	} else if (g_subprocess_get_exit_status(run->process) != 0) {
		error = g_error_new(SCEP_POST_INSTALL_ERROR,
				    SCEP_POST_INSTALL_ERROR_EXIT_STATUS,
				    "%s exited with status %d%s%s",
				    run->what,
				    g_subprocess_get_exit_status(run->process),
				    excerpt[0] != '\0' ? ": " : "",
				    excerpt);
	} else {
		g_debug("%s succeeded", run->what);
	}
	if (error != NULL && data->first_error == NULL)
		data->first_error = g_steal_pointer(&error);
	else if (error != NULL)
		g_warning("instance %s: %s", data->instance, error->message);

	data->current++;
	scep_post_install_next(task);
}

static void
scep_post_install_check_done(GTask *task, ScepPostInstallRun *run)
{
	if (run->wait_done && run->read_done)
		scep_post_install_run_finished(task, run);
}

static void scep_post_install_read_cb(GObject *source, GAsyncResult *result, gpointer user_data);

static void
scep_post_install_read_next(GTask *task, ScepPostInstallRun *run)
{
	GInputStream *stream = g_subprocess_get_stderr_pipe(run->process);

	g_input_stream_read_bytes_async(
	    stream, 1024, G_PRIORITY_DEFAULT, run->read_cancel, scep_post_install_read_cb, task);
}

static ScepPostInstallRun *
scep_post_install_current(GTask *task)
{
	ScepPostInstallData *data = g_task_get_task_data(task);

	return g_ptr_array_index(data->runs, data->current);
}

static void
scep_post_install_read_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = G_TASK(user_data);
	ScepPostInstallRun *run = scep_post_install_current(task);
	g_autoptr(GBytes) bytes = NULL;

	bytes = g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), result, NULL);
	if (bytes != NULL && g_bytes_get_size(bytes) > 0) {
		gsize room = SCEP_POST_INSTALL_STDERR_MAX -
			     MIN(run->stderr_buf->len, SCEP_POST_INSTALL_STDERR_MAX);
		gsize size = 0;
		const guint8 *chunk = g_bytes_get_data(bytes, &size);

		g_byte_array_append(run->stderr_buf, chunk, (guint)MIN(size, room));
		scep_post_install_read_next(g_steal_pointer(&task), run);
		return;
	}
	/* end of file, an error, or cancelled because the process has exited */
	run->read_done = TRUE;
	scep_post_install_check_done(task, run);
}

static void
scep_post_install_wait_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = G_TASK(user_data);
	ScepPostInstallRun *run = scep_post_install_current(task);

	if (!g_subprocess_wait_finish(G_SUBPROCESS(source), result, &run->wait_error))
		scep_post_install_kill(run);
	run->wait_done = TRUE;
	/* a leftover child may keep stderr open: do not wait for it */
	if (!run->read_done)
		g_cancellable_cancel(run->read_cancel);
	scep_post_install_check_done(task, run);
}

static gboolean
scep_post_install_timeout_cb(gpointer user_data)
{
	ScepPostInstallRun *run = user_data;

	run->timed_out = TRUE;
	scep_post_install_kill(run);
	g_clear_pointer(&run->timeout_source, g_source_unref);
	return G_SOURCE_REMOVE;
}

static void
scep_post_install_cancelled_cb(GCancellable *cancellable, gpointer user_data)
{
	ScepPostInstallRun *run = user_data;

	scep_post_install_kill(run);
}

static GSubprocessLauncher *
scep_post_install_launcher_new(ScepPostInstallData *data)
{
	g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(
	    G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
	const struct {
		const gchar *name;
		const gchar *value;
	} env[] = {
		{ "SCEP_INSTANCE", data->instance },
		{ "SCEP_CERT_FILE", data->cert_file },
		{ "SCEP_KEY_FILE", data->key_file },
		{ "SCEP_CHAIN_FILE", data->chain_file },
	};

	for (guint i = 0; i < G_N_ELEMENTS(env); i++) {
		if (env[i].value != NULL)
			g_subprocess_launcher_setenv(launcher, env[i].name, env[i].value, TRUE);
		else
			g_subprocess_launcher_unsetenv(launcher, env[i].name);
	}
	g_subprocess_launcher_set_child_setup(launcher, scep_post_install_child_setup, NULL, NULL);
	return g_steal_pointer(&launcher);
}

static void
scep_post_install_next(GTask *task)
{
	ScepPostInstallData *data = g_task_get_task_data(task);
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autoptr(GError) error = NULL;
	GCancellable *cancellable = g_task_get_cancellable(task);
	ScepPostInstallRun *run;
	const gchar *identifier;

	if (data->current >= data->runs->len) {
		if (data->first_error != NULL)
			g_task_return_error(task, g_steal_pointer(&data->first_error));
		else
			g_task_return_boolean(task, TRUE);
		return;
	}
	run = g_ptr_array_index(data->runs, data->current);
	g_debug("instance %s: running %s", data->instance, run->what);
	launcher = scep_post_install_launcher_new(data);
	run->process =
	    g_subprocess_launcher_spawnv(launcher, (const gchar *const *)run->argv, &error);
	if (run->process == NULL) {
		if (data->first_error == NULL) {
			data->first_error = g_error_new(SCEP_POST_INSTALL_ERROR,
							SCEP_POST_INSTALL_ERROR_SPAWN,
							"cannot start %s: %s",
							run->what,
							error->message);
		} else {
			g_warning("instance %s: cannot start %s: %s",
				  data->instance,
				  run->what,
				  error->message);
		}
		data->current++;
		scep_post_install_next(task);
		return;
	}
	identifier = g_subprocess_get_identifier(run->process);
	run->pid = identifier != NULL ? (pid_t)g_ascii_strtoll(identifier, NULL, 10) : 0;
	run->read_cancel = g_cancellable_new();

	/* not _seconds(): that one is coalesced to whole seconds and may fire early */
	run->timeout_source = g_timeout_source_new(data->timeout_seconds * 1000);
	g_source_set_callback(run->timeout_source, scep_post_install_timeout_cb, run, NULL);
	g_source_set_static_name(run->timeout_source, "[scep-agent] post-install timeout");
	g_source_attach(run->timeout_source, data->context);
	if (cancellable != NULL) {
		run->cancelled_id = g_cancellable_connect(
		    cancellable, G_CALLBACK(scep_post_install_cancelled_cb), run, NULL);
	}

	scep_post_install_read_next(g_object_ref(task), run);
	g_subprocess_wait_async(run->process, NULL, scep_post_install_wait_cb, g_object_ref(task));
	/* @task's own reference is dropped by the caller; the callbacks hold theirs */
}

void
scep_post_install_run_async(const ScepPostInstallParams *params,
			    GCancellable *cancellable,
			    GAsyncReadyCallback callback,
			    gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) runs = NULL;
	ScepPostInstallData *data;

	g_return_if_fail(params != NULL);
	g_return_if_fail(cancellable == NULL || G_IS_CANCELLABLE(cancellable));

	task = g_task_new(NULL, cancellable, callback, user_data);
	g_task_set_source_tag(task, scep_post_install_run_async);
	g_task_set_name(task, "scep_post_install_run_async");

	runs = scep_post_install_plan(params, &error);
	if (runs == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	data = g_new0(ScepPostInstallData, 1);
	data->instance = g_strdup(params->instance != NULL ? params->instance : "");
	data->cert_file = g_strdup(params->cert_file);
	data->key_file = g_strdup(params->key_file);
	data->chain_file = g_strdup(params->chain_file);
	data->timeout_seconds = params->timeout_seconds > 0 ? params->timeout_seconds
							    : SCEP_POST_INSTALL_DEFAULT_TIMEOUT;
	data->runs = g_steal_pointer(&runs);
	data->context = g_main_context_ref_thread_default();
	g_task_set_task_data(task, data, (GDestroyNotify)scep_post_install_data_free);
	if (g_task_return_error_if_cancelled(task))
		return;
	scep_post_install_next(task);
}

gboolean
scep_post_install_run_finish(GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, NULL), FALSE);
	g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == scep_post_install_run_async,
			     FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}
