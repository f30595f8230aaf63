/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "scep-test-util.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>

gchar *
scep_test_make_tmp_dir(const gchar *tmpl)
{
	g_autoptr(GError) error = NULL;
	gchar *dir = g_dir_make_tmp(tmpl, &error);

	g_assert_no_error(error);
	return dir;
}

static gboolean
scep_test_remove_error(const gchar *path, GError **error)
{
	gint saved_errno = errno;

	g_set_error(error,
		    G_IO_ERROR,
		    g_io_error_from_errno(saved_errno),
		    "cannot remove %s: %s",
		    path,
		    g_strerror(saved_errno));
	return FALSE;
}

gboolean
scep_test_remove_tree(const gchar *path, GError **error)
{
	g_autoptr(GDir) dir = NULL;
	const gchar *name;

	if (!g_file_test(path, G_FILE_TEST_IS_DIR) || g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
		if (g_unlink(path) != 0 && errno != ENOENT)
			return scep_test_remove_error(path, error);
		return TRUE;
	}
	dir = g_dir_open(path, 0, error);
	if (dir == NULL)
		return FALSE;
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *child = g_build_filename(path, name, NULL);
		if (!scep_test_remove_tree(child, error))
			return FALSE;
	}
	if (g_rmdir(path) != 0)
		return scep_test_remove_error(path, error);
	return TRUE;
}

void
scep_test_write_file(const gchar *path, const gchar *contents, gssize len)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *parent = g_path_get_dirname(path);

	g_assert_cmpint(g_mkdir_with_parents(parent, 0700), ==, 0);
	g_file_set_contents_full(path, contents, len, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error);
	g_assert_no_error(error);
}

gchar *
scep_test_read_file(const gchar *path)
{
	g_autoptr(GError) error = NULL;
	gchar *contents = NULL;

	g_file_get_contents(path, &contents, NULL, &error);
	g_assert_no_error(error);
	return contents;
}

/* ---- log messages ---- */

static const gchar *scep_test_expected_warning; /* nullable: a glob */
static guint scep_test_expected_warning_seen;
static GPtrArray *scep_test_captured_messages; /* nullable, of gchar* */

static GLogWriterOutput
scep_test_log_writer(GLogLevelFlags level,
		     const GLogField *fields,
		     gsize n_fields,
		     gpointer user_data)
{
	const gchar *message = NULL;

	for (gsize i = 0; i < n_fields; i++) {
		if (g_str_equal(fields[i].key, "MESSAGE") && fields[i].length < 0)
			message = fields[i].value;
	}
	if (message != NULL && (level & G_LOG_LEVEL_WARNING) != 0 &&
	    scep_test_expected_warning != NULL &&
	    g_pattern_match_simple(scep_test_expected_warning, message)) {
		scep_test_expected_warning_seen++;
		return G_LOG_WRITER_HANDLED;
	}
	if (message != NULL && (level & G_LOG_LEVEL_MESSAGE) != 0 &&
	    scep_test_captured_messages != NULL)
		g_ptr_array_add(scep_test_captured_messages, g_strdup(message));
	return g_log_writer_default(level, fields, n_fields, user_data);
}

void
scep_test_log_init(void)
{
	g_log_set_writer_func(scep_test_log_writer, NULL, NULL);
}

void
scep_test_expect_warning(const gchar *pattern)
{
	scep_test_expected_warning = pattern;
	scep_test_expected_warning_seen = 0;
}

void
scep_test_assert_expected_warning(void)
{
	g_assert_cmpuint(scep_test_expected_warning_seen, ==, 1);
	scep_test_expected_warning = NULL;
}

void
scep_test_capture_messages(void)
{
	g_clear_pointer(&scep_test_captured_messages, g_ptr_array_unref);
	scep_test_captured_messages = g_ptr_array_new_with_free_func(g_free);
}

void
scep_test_assert_captured_message(const gchar *pattern)
{
	const gchar *logged;

	g_assert_nonnull(scep_test_captured_messages);
	g_assert_cmpuint(scep_test_captured_messages->len, ==, 1);
	logged = g_ptr_array_index(scep_test_captured_messages, 0);
	g_test_message("logged '%s', expected '%s'", logged, pattern);
	g_assert_true(g_pattern_match_simple(pattern, logged));
	g_clear_pointer(&scep_test_captured_messages, g_ptr_array_unref);
}

/* ---- async results ---- */

void
scep_test_result_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GAsyncResult **slot = user_data;

	g_assert_null(*slot);
	*slot = g_object_ref(result);
	g_main_context_wakeup(NULL);
}

GAsyncResult *
scep_test_wait_result(GAsyncResult **slot)
{
	while (*slot == NULL)
		g_main_context_iteration(NULL, TRUE);
	return *slot;
}

void
scep_test_die_with_parent(gpointer user_data)
{
	/* async-signal-safe: runs between fork and exec */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* the CPU time the calling thread has used, in microseconds */
static gint64
scep_test_thread_cpu_us(void)
{
	struct timespec ts;
	g_assert_cmpint(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts), ==, 0);
	return (gint64)ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

struct _ScepTestProbe {
	GSource *source; /* owned, NULL once stopped */
	guint interval_ms;
	gint64 expected; /* monotonic time of the next tick */
	GArray *lates;   /* (element-type gint64): microseconds late, one per tick */
	GArray *cpus; /* (element-type gint64): main-thread CPU microseconds since the last tick */
	gint64 cpu_last; /* main-thread CPU time at the last tick */
	gint64 started;  /* monotonic */
	gint64 stopped;  /* monotonic */
};

static gboolean
scep_test_probe_tick_cb(gpointer user_data)
{
	ScepTestProbe *probe = user_data;
	gint64 now = g_get_monotonic_time();
	gint64 late = MAX(now - probe->expected, 0);
	gint64 cpu = scep_test_thread_cpu_us();
	gint64 cpu_used = cpu - probe->cpu_last;
	g_array_append_val(probe->lates, late);
	g_array_append_val(probe->cpus, cpu_used);
	probe->cpu_last = cpu;
	probe->expected = now + (gint64)probe->interval_ms * 1000;
	return G_SOURCE_CONTINUE;
}

ScepTestProbe *
scep_test_probe_start(guint interval_ms)
{
	ScepTestProbe *probe = g_new0(ScepTestProbe, 1);
	probe->interval_ms = interval_ms;
	probe->lates = g_array_new(FALSE, FALSE, sizeof(gint64));
	probe->cpus = g_array_new(FALSE, FALSE, sizeof(gint64));
	probe->cpu_last = scep_test_thread_cpu_us();
	probe->started = g_get_monotonic_time();
	probe->expected = probe->started + (gint64)interval_ms * 1000;
	probe->source = g_timeout_source_new(interval_ms);
	g_source_set_callback(probe->source, scep_test_probe_tick_cb, probe, NULL);
	g_source_attach(probe->source, NULL);
	return probe;
}

void
scep_test_probe_stop(ScepTestProbe *probe)
{
	if (probe->source == NULL)
		return;
	probe->stopped = g_get_monotonic_time();
	/* a tick that is due but was not dispatched yet (the loop was busy or blocked until now)
	 * counts too */
	if (probe->stopped > probe->expected)
		scep_test_probe_tick_cb(probe);
	g_source_destroy(probe->source);
	g_clear_pointer(&probe->source, g_source_unref);
}

guint
scep_test_probe_get_ticks(ScepTestProbe *probe)
{
	return probe->lates->len;
}

gint64
scep_test_probe_get_max_late(ScepTestProbe *probe)
{
	gint64 max = 0;
	for (guint i = 0; i < probe->lates->len; i++)
		max = MAX(max, g_array_index(probe->lates, gint64, i));
	return max;
}

static gint
scep_test_compare_int64(gconstpointer a, gconstpointer b)
{
	gint64 x = *(const gint64 *)a;
	gint64 y = *(const gint64 *)b;
	return x < y ? -1 : x > y ? 1 : 0;
}

/* the @percent-th percentile (nearest rank) of the sorted @values */
static gint64
scep_test_percentile(GArray *values, guint percent)
{
	guint rank = (values->len * percent + 99) / 100;
	return g_array_index(values, gint64, MAX(rank, 1) - 1);
}

void
scep_test_probe_report(ScepTestProbe *probe, const gchar *what, gint64 max_cpu_p99_us)
{
	gint64 cpu_p99;

	scep_test_probe_stop(probe);
	g_assert_cmpuint(probe->lates->len, >, 0);
	g_array_sort(probe->lates, scep_test_compare_int64);
	g_array_sort(probe->cpus, scep_test_compare_int64);
	cpu_p99 = scep_test_percentile(probe->cpus, 99);
	g_test_message("%s: %" G_GINT64_FORMAT " ms, %u ticks of %u ms, main loop late by p50 "
		       "%" G_GINT64_FORMAT " us, p99 %" G_GINT64_FORMAT " us, max %" G_GINT64_FORMAT
		       " us; main-thread CPU per tick p99 %" G_GINT64_FORMAT
		       " us, max %" G_GINT64_FORMAT " us",
		       what,
		       (probe->stopped - probe->started) / 1000,
		       probe->lates->len,
		       probe->interval_ms,
		       scep_test_percentile(probe->lates, 50),
		       scep_test_percentile(probe->lates, 99),
		       g_array_index(probe->lates, gint64, probe->lates->len - 1),
		       cpu_p99,
		       g_array_index(probe->cpus, gint64, probe->cpus->len - 1));
	g_assert_cmpint(cpu_p99, <, max_cpu_p99_us);
}

void
scep_test_probe_free(ScepTestProbe *probe)
{
	if (probe == NULL)
		return;
	scep_test_probe_stop(probe);
	g_array_unref(probe->lates);
	g_array_unref(probe->cpus);
	g_free(probe);
}

gboolean
scep_test_run_openssl(const gchar *const *args, gchar **out, gint *status)
{
	g_autofree gchar *openssl = g_find_program_in_path("openssl");
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *std_out = NULL;
	g_autofree gchar *std_err = NULL;
	gint wait_status = 0;

	if (openssl == NULL) {
		g_test_fail_printf(
		    "openssl not found in PATH: install the Debian package 'openssl'");
		return FALSE;
	}
	g_ptr_array_add(argv, openssl);
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	g_ptr_array_add(argv, NULL);
	g_spawn_sync(NULL,
		     (gchar **)argv->pdata,
		     NULL,
		     G_SPAWN_DEFAULT,
		     NULL,
		     NULL,
		     &std_out,
		     &std_err,
		     &wait_status,
		     &error);
	g_assert_no_error(error);
	g_test_message("openssl %s: %s%s", args[0], std_out, std_err);
	if (out != NULL)
		*out = g_strconcat(std_out, std_err, NULL);
	*status = g_spawn_check_wait_status(wait_status, NULL) ? 0 : 1;
	return TRUE;
}
