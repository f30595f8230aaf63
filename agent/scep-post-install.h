#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define SCEP_POST_INSTALL_ERROR (scep_post_install_error_quark())

/**
 * ScepPostInstallError:
 * @SCEP_POST_INSTALL_ERROR_INVALID: the command cannot be parsed, its program is not an
 *   absolute path, or the unit name or action is unusable
 * @SCEP_POST_INSTALL_ERROR_SPAWN: the program could not be started
 * @SCEP_POST_INSTALL_ERROR_EXIT_STATUS: it exited with a non-zero status (message has the status
 *   and an excerpt of its standard error)
 * @SCEP_POST_INSTALL_ERROR_SIGNALED: it was killed by a signal
 * @SCEP_POST_INSTALL_ERROR_TIMEOUT: it did not finish in time and was killed
 */
typedef enum {
	SCEP_POST_INSTALL_ERROR_INVALID,
	SCEP_POST_INSTALL_ERROR_SPAWN,
	SCEP_POST_INSTALL_ERROR_EXIT_STATUS,
	SCEP_POST_INSTALL_ERROR_SIGNALED,
	SCEP_POST_INSTALL_ERROR_TIMEOUT,
} ScepPostInstallError;

GQuark scep_post_install_error_quark(void);

/*
 * ScepPostInstallParams: what to run after an installation (all strings are copied by
 * scep_post_install_run_async()).
 * @instance: "cert0" etc., given as SCEP_INSTANCE
 * @command: nullable/empty = none; split like a shell would (g_shell_parse_argv) and run
 *   WITHOUT a shell; the program must be an absolute path
 * @unit: nullable/empty = none; a systemd unit to restart or reload
 * @unit_action: "restart" (also when NULL/empty) or "reload"
 * @timeout_seconds: for each of command and unit action; 0 means 60
 * @cert_file, @key_file, @chain_file: given as SCEP_CERT_FILE, SCEP_KEY_FILE, SCEP_CHAIN_FILE
 *   (nullable: then the variable is unset)
 */
typedef struct {
	const gchar *instance;
	const gchar *command;
	const gchar *unit;
	const gchar *unit_action;
	guint timeout_seconds;
	const gchar *cert_file;
	const gchar *key_file;
	const gchar *chain_file;
} ScepPostInstallParams;

/* TRUE when neither a command nor a unit is set (running it would do nothing) */
gboolean scep_post_install_params_is_empty(const ScepPostInstallParams *params);

/*
 * scep_post_install_run_async:
 *
 * Runs the command (if any), then `systemctl ACTION UNIT` (if a unit is set; the program is
 * $SCEP_AGENT_SYSTEMCTL when set, else systemctl from PATH or /usr/bin/systemctl), each in its
 * own process group with stdin /dev/null, stdout discarded and stderr captured (an excerpt goes
 * into the error). A program still running after the timeout is killed with its whole process
 * group (SIGKILL). Cancelling kills it too and reports G_IO_ERROR_CANCELLED. When both are set
 * and the command fails, the unit action still runs; the first failure is reported. Nothing is
 * ever undone: the result is only a report.
 */
void scep_post_install_run_async(const ScepPostInstallParams *params,
				 GCancellable *cancellable,
				 GAsyncReadyCallback callback,
				 gpointer user_data);
gboolean scep_post_install_run_finish(GAsyncResult *result, GError **error);

G_END_DECLS
