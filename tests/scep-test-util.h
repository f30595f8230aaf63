/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Small helpers shared by the GTest programs: temporary directories, files, log messages and
 * async results. GLib only, like scep-test-peers.h; failures are test assertions.
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* a GSpawnChildSetupFunc: the child gets SIGKILL when the test process ends, also when an
 * assertion aborts it, so that no daemon a test started outlives the test */
void scep_test_die_with_parent(gpointer user_data);

/*
 * A probe of the main loop's responsiveness: a timeout source every @interval_ms on the
 * default main context records, per tick, how late it fired and
 * how much CPU time the calling (main) thread used since the previous tick. Lateness also
 * counts the host's scheduling; the CPU time per tick is what work of ours on the main loop
 * costs, whatever else the machine does, so that is what report() asserts on.
 */
typedef struct _ScepTestProbe ScepTestProbe;

ScepTestProbe *scep_test_probe_start(guint interval_ms);
void scep_test_probe_stop(ScepTestProbe *probe);
guint scep_test_probe_get_ticks(ScepTestProbe *probe);
/* the most any tick so far fired late, microseconds: a main loop blocked (not busy) for a
 * while shows here and not in the CPU time */
gint64 scep_test_probe_get_max_late(ScepTestProbe *probe);
/* prints lateness p50/p99/max and CPU per tick p99/max; asserts CPU p99 < @max_cpu_p99_us */
void scep_test_probe_report(ScepTestProbe *probe, const gchar *what, gint64 max_cpu_p99_us);
void scep_test_probe_free(ScepTestProbe *probe);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepTestProbe, scep_test_probe_free)

/*
 * Runs the openssl command with @args (openssl's own first argument onwards). @out (nullable):
 * its stdout followed by its stderr, where it says "verify OK" and most errors; @status: 0 when
 * it exited 0, else 1. FALSE, with the test marked failed and told to install the Debian package,
 * when openssl is not in PATH.
 */
gboolean scep_test_run_openssl(const gchar *const *args, gchar **out, gint *status);

/* g_dir_make_tmp() of @tmpl ("name-XXXXXX"), asserting that it worked */
gchar *scep_test_make_tmp_dir(const gchar *tmpl);

/* removes @path and, for a directory, everything below it; symbolic links are removed, never
 * followed; a missing @path is no error */
gboolean scep_test_remove_tree(const gchar *path, GError **error);

/* writes @contents (@len bytes, or up to its NUL when -1) to @path atomically with mode 0600,
 * creating the parent directories (0700) */
void scep_test_write_file(const gchar *path, const gchar *contents, gssize len);

/* the contents of @path, which must exist */
gchar *scep_test_read_file(const gchar *path);

/*
 * Log messages. g_test_expect_message() does not see G_LOG_USE_STRUCTURED messages in GLib
 * 2.74, so scep_test_log_init() installs a writer that does the two things tests need and
 * hands every other message to the default writer:
 * - scep_test_expect_warning(PATTERN) swallows the warnings that match PATTERN (a
 *   g_pattern_match_simple() glob) until scep_test_assert_expected_warning(), which asserts
 *   that there was exactly one;
 * - scep_test_capture_messages() records the g_message()s (still printed) until
 *   scep_test_assert_captured_message(PATTERN), which asserts that there was exactly one and
 *   that it matches.
 */
void scep_test_log_init(void);
void scep_test_expect_warning(const gchar *pattern);
void scep_test_assert_expected_warning(void);
void scep_test_capture_messages(void);
void scep_test_assert_captured_message(const gchar *pattern);

/* an async call run to completion on the global default main context: pass
 * scep_test_result_cb with the address of a GAsyncResult pointer set to NULL as its callback
 * and user data; scep_test_wait_result() iterates the context until the result is there and
 * returns it (the slot keeps the reference) */
void scep_test_result_cb(GObject *source, GAsyncResult *result, gpointer user_data);
GAsyncResult *scep_test_wait_result(GAsyncResult **slot);

G_END_DECLS
