#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "scep-registry.h"

/*
 * Test hook: SCEP_REGISTRY_TEST_PAUSE=<point> makes the writer announce
 * "paused <point>" on stderr and stop there, so that a test can kill it at
 * that exact moment. Points: partial (half the temporary file written),
 * synced (temporary file complete and synced), renamed (after the rename,
 * before the directory sync).
 */
static void
scep_registry_writer_test_pause(const gchar *point)
{
	const gchar *want = g_getenv("SCEP_REGISTRY_TEST_PAUSE");
	if (want == NULL || g_strcmp0(want, point) != 0)
		return;
	fprintf(stderr, "paused %s\n", point);
	fflush(stderr);
	for (;;)
		pause();
}

static gboolean
scep_registry_write_all(int fd, const gchar *data, gsize len, GError **error)
{
	while (len > 0) {
		gssize n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			g_set_error(error,
				    SCEP_REGISTRY_ERROR,
				    SCEP_REGISTRY_ERROR_UNAVAILABLE,
				    "write failed: %s",
				    g_strerror(errno));
			return FALSE;
		}
		data += n;
		len -= (gsize)n;
	}
	return TRUE;
}

/**
 * scep_registry_write_atomic:
 *
 * Replaces @path by @contents so that a crash at any moment leaves either
 * the old file or the new one: a temporary file in the same directory
 * (hidden, so the loader never reads it), fsync, rename over @path, fsync
 * of the directory. The result has mode 0600.
 */
gboolean
scep_registry_write_atomic(const gchar *path, const gchar *contents, gsize len, GError **error)
{
	g_autofree gchar *dir = g_path_get_dirname(path);
	g_autofree gchar *base = g_path_get_basename(path);
	g_autofree gchar *tmp = g_strdup_printf("%s/.%s.XXXXXX", dir, base);
	int fd;
	int dfd;

	if (g_mkdir_with_parents(dir, 0700) != 0) {
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_UNAVAILABLE,
			    "cannot create %s: %s",
			    dir,
			    g_strerror(errno));
		return FALSE;
	}
	fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_UNAVAILABLE,
			    "cannot create a temporary file in %s: %s",
			    dir,
			    g_strerror(errno));
		return FALSE;
	}
	if (!scep_registry_write_all(fd, contents, len / 2, error)) {
		close(fd);
		g_unlink(tmp);
		return FALSE;
	}
	scep_registry_writer_test_pause("partial");
	if (!scep_registry_write_all(fd, contents + len / 2, len - len / 2, error) ||
	    fsync(fd) != 0) {
		if (error != NULL && *error == NULL)
			g_set_error(error,
				    SCEP_REGISTRY_ERROR,
				    SCEP_REGISTRY_ERROR_UNAVAILABLE,
				    "fsync of %s failed: %s",
				    tmp,
				    g_strerror(errno));
		close(fd);
		g_unlink(tmp);
		return FALSE;
	}
	close(fd);
	scep_registry_writer_test_pause("synced");
	if (g_rename(tmp, path) != 0) {
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_UNAVAILABLE,
			    "cannot rename %s to %s: %s",
			    tmp,
			    path,
			    g_strerror(errno));
		g_unlink(tmp);
		return FALSE;
	}
	scep_registry_writer_test_pause("renamed");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) != 0) {
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_UNAVAILABLE,
			    "fsync of directory %s failed: %s",
			    dir,
			    g_strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return FALSE;
	}
	close(dfd);
	return TRUE;
}

/* the key of a KEY=VALUE line, or NULL for comments, blank and broken lines */
static gchar *
scep_registry_line_key(const gchar *line)
{
	const gchar *p = line;
	const gchar *eq;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '#' || *p == '\0')
		return NULL;
	eq = strchr(p, '=');
	if (eq == NULL)
		return NULL;
	return g_strstrip(g_strndup(p, eq - p));
}

/**
 * scep_registry_file_replace_key:
 * @value: (nullable): the new value (unescaped), or %NULL to remove the key
 * @found: (out) (optional): whether the key was in the file
 *
 * Rewrites @path atomically with the last line setting @full_key replaced
 * (or appended when absent), or with every line setting it removed when
 * @value is %NULL. Every other line stays byte for byte as it was.
 */
gboolean
scep_registry_file_replace_key(
    const gchar *path, const gchar *full_key, const gchar *value, gboolean *found, GError **error)
{
	g_autofree gchar *contents = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GString) out = g_string_new(NULL);
	g_autofree gchar *new_line = NULL;
	g_auto(GStrv) lines = NULL;
	gint last = -1;
	gsize bom = 0;
	guint n_lines;

	if (!g_file_get_contents(path, &contents, NULL, &error_local)) {
		if (!g_error_matches(error_local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
			g_set_error(error,
				    SCEP_REGISTRY_ERROR,
				    SCEP_REGISTRY_ERROR_UNAVAILABLE,
				    "%s",
				    error_local->message);
			return FALSE;
		}
		contents = g_strdup("");
	}
	if (value != NULL) {
		g_autofree gchar *escaped = scep_registry_escape(value);
		new_line = g_strdup_printf("%s=%s", full_key, escaped);
	}
	/* keep a byte order mark where it was, whatever happens to the first line */
	if (g_str_has_prefix(contents, "\xef\xbb\xbf"))
		g_string_append(out, "\xef\xbb\xbf");
	bom = out->len;
	lines = g_strsplit(contents + bom, "\n", -1);
	n_lines = g_strv_length(lines);
	for (guint i = 0; i < n_lines; i++) {
		g_autofree gchar *key = scep_registry_line_key(lines[i]);
		if (g_strcmp0(key, full_key) == 0)
			last = (gint)i;
	}
	if (found != NULL)
		*found = last >= 0;
	for (guint i = 0; i < n_lines; i++) {
		g_autofree gchar *key = scep_registry_line_key(lines[i]);
		/* the piece after the final newline is empty: it is no line */
		if (i + 1 == n_lines && lines[i][0] == '\0')
			break;
		if (g_strcmp0(key, full_key) == 0) {
			if (value == NULL || (gint)i != last)
				continue;
			g_string_append(out, new_line);
		} else {
			g_string_append(out, lines[i]);
		}
		g_string_append_c(out, '\n');
	}
	if (value != NULL && last < 0) {
		if (out->len > bom && out->str[out->len - 1] != '\n')
			g_string_append_c(out, '\n');
		g_string_append(out, new_line);
		g_string_append_c(out, '\n');
	}
	return scep_registry_write_atomic(path, out->str, out->len, error);
}
