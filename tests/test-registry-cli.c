#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "scep-registry.h"
#include "scep-test-util.h"

/* scep-registry end to end: every command's output and exit code, secrets
 * masked, and a writer killed in the middle of a write. The path of the
 * tool is the first argument (meson passes it), or SCEP_REGISTRY_TOOL. */

#define K(n, name) SCEP_REGISTRY_KEY_PREFIX #n "." #name

static const gchar *cli_tool = NULL;

typedef struct {
	gchar *dir;
	gchar *base;
	gchar *dropins;
} CliFixture;

typedef struct {
	gint status; /* exit status, or -1 when killed */
	gchar *out;
	gchar *err;
} CliResult;

static void
cli_result_free(CliResult *r)
{
	g_free(r->out);
	g_free(r->err);
	g_free(r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CliResult, cli_result_free)

static void
cli_fixture_set_up(CliFixture *fx, gconstpointer data)
{
	fx->dir = scep_test_make_tmp_dir("scep-registry-cli-XXXXXX");
	fx->base = g_build_filename(fx->dir, "registry", NULL);
	fx->dropins = g_build_filename(fx->dir, "registry.d", NULL);
	g_assert_cmpint(g_mkdir(fx->dropins, 0700), ==, 0);
}

static void
cli_fixture_tear_down(CliFixture *fx, gconstpointer data)
{
	scep_test_remove_tree(fx->dir, NULL);
	g_free(fx->dir);
	g_free(fx->base);
	g_free(fx->dropins);
}

static gchar *
cli_write(CliFixture *fx, const gchar *rel, const gchar *contents)
{
	gchar *path = g_build_filename(fx->dir, rel, NULL);
	scep_test_write_file(path, contents, -1);
	return path;
}

static GSubprocessLauncher *
cli_launcher(GSubprocessFlags flags)
{
	GSubprocessLauncher *launcher = g_subprocess_launcher_new(flags);
	g_subprocess_launcher_setenv(launcher, "LC_ALL", "C.UTF-8", TRUE);
	g_subprocess_launcher_setenv(launcher, "LANGUAGE", "C", TRUE);
	g_subprocess_launcher_unsetenv(launcher, "SCEP_REGISTRY_TEST_PAUSE");
	return launcher;
}

static GPtrArray *
cli_argv(CliFixture *fx, const gchar *first, va_list args)
{
	GPtrArray *argv = g_ptr_array_new();
	g_ptr_array_add(argv, (gpointer)cli_tool);
	g_ptr_array_add(argv, (gpointer) "--registry-dir");
	g_ptr_array_add(argv, fx->dir);
	for (const gchar *a = first; a != NULL; a = va_arg(args, const gchar *))
		g_ptr_array_add(argv, (gpointer)a);
	g_ptr_array_add(argv, NULL);
	return argv;
}

/* runs the tool with --registry-dir and the NULL-terminated arguments */
static CliResult *
cli_run(CliFixture *fx, const gchar *input, const gchar *first, ...)
{
	g_autoptr(GSubprocessLauncher) launcher =
	    cli_launcher(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
			 G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_autoptr(GPtrArray) argv = NULL;
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GError) error = NULL;
	CliResult *r = g_new0(CliResult, 1);
	va_list args;

	va_start(args, first);
	argv = cli_argv(fx, first, args);
	va_end(args);
	proc = g_subprocess_launcher_spawnv(launcher, (const gchar *const *)argv->pdata, &error);
	g_assert_no_error(error);
	g_subprocess_communicate_utf8(
	    proc, input != NULL ? input : "", NULL, &r->out, &r->err, &error);
	g_assert_no_error(error);
	r->status = g_subprocess_get_if_exited(proc) ? g_subprocess_get_exit_status(proc) : -1;
	g_test_message("exit %d\nstdout: %s\nstderr: %s", r->status, r->out, r->err);
	return r;
}

static gboolean
cli_has_line_prefix(const gchar *text, const gchar *prefix)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		if (g_str_has_prefix(lines[i], prefix))
			return TRUE;
	}
	return FALSE;
}

static void
test_cli_help(CliFixture *fx, gconstpointer data)
{
	g_autoptr(CliResult) r = cli_run(fx, NULL, "--help", NULL);
	g_assert_cmpint(r->status, ==, 0);
	g_assert_nonnull(strstr(r->out, "get KEY"));
	g_assert_nonnull(strstr(r->out, "check"));
	g_assert_nonnull(strstr(r->out, "Exit status"));
	g_assert_nonnull(strstr(r->out, "3 key not set"));
}

static void
test_cli_no_command(CliFixture *fx, gconstpointer data)
{
	g_autoptr(CliResult) r = cli_run(fx, NULL, NULL, NULL);
	g_assert_cmpint(r->status, ==, 2);
	g_assert_cmpstr(r->out, ==, "");
	g_assert_cmpstr(r->err, !=, "");
}

static void
test_cli_unknown_command(CliFixture *fx, gconstpointer data)
{
	g_autoptr(CliResult) r = cli_run(fx, NULL, "frobnicate", NULL);
	g_assert_cmpint(r->status, ==, 2);
	g_assert_nonnull(strstr(r->err, "frobnicate"));
	g_assert_cmpstr(r->out, ==, "");
}

static void
test_cli_bad_option(CliFixture *fx, gconstpointer data)
{
	g_autoptr(CliResult) r = cli_run(fx, NULL, "--no-such-option", "list", NULL);
	g_assert_cmpint(r->status, ==, 2);
}

static void
test_cli_wrong_arguments(CliFixture *fx, gconstpointer data)
{
	g_autoptr(CliResult) get = cli_run(fx, NULL, "get", NULL);
	g_autoptr(CliResult) set = cli_run(fx, NULL, "set", K(0, caident), "a", "b", NULL);
	g_autoptr(CliResult) unset = cli_run(fx, NULL, "unset", NULL);
	g_autoptr(CliResult) describe = cli_run(fx, NULL, "describe", NULL);
	g_autoptr(CliResult) list = cli_run(fx, NULL, "list", "a", "b", NULL);
	g_assert_cmpint(get->status, ==, 2);
	g_assert_cmpint(set->status, ==, 2);
	g_assert_cmpint(unset->status, ==, 2);
	g_assert_cmpint(describe->status, ==, 2);
	g_assert_cmpint(list->status, ==, 2);
	g_assert_false(g_file_test(fx->base, G_FILE_TEST_EXISTS));
}

static void
test_cli_get(CliFixture *fx, gconstpointer data)
{
	g_autofree gchar *p = cli_write(fx, "registry", K(0, caident) "=\\sspaced\n");
	g_autofree gchar *d = cli_write(fx, "registry.d/50-x", K(0, locality) "=Berlin\n");
	g_autoptr(CliResult) r = cli_run(fx, NULL, "get", K(0, locality), NULL);
	g_autoptr(CliResult) r2 = cli_run(fx, NULL, "get", K(0, caident), NULL);
	g_assert_cmpint(r->status, ==, 0);
	g_assert_cmpstr(r->out, ==, "Berlin\n");
	g_assert_cmpint(r2->status, ==, 0);
	g_assert_cmpstr(r2->out, ==, " spaced\n");
}

static void
test_cli_get_default(CliFixture *fx, gconstpointer data)
{
	g_autoptr(CliResult) r = cli_run(fx, NULL, "get", K(4, keysize), NULL);
	g_autoptr(CliResult) r2 = cli_run(fx, NULL, "get", K(4, renewal_method), NULL);
	g_assert_cmpint(r->status, ==, 0);
	g_assert_cmpstr(r->out, ==, "2048\n");
	g_assert_cmpint(r2->status, ==, 0);
	g_assert_cmpstr(r2->out, ==, "Renewal\n");
}

static void
test_cli_get_unknown(CliFixture *fx, gconstpointer data)
{
	g_autoptr(CliResult) r = cli_run(fx, NULL, "get", K(0, renewl_period), NULL);
	g_autoptr(CliResult) r2 = cli_run(fx, NULL, "get", "some.other.key", NULL);
	g_assert_cmpint(r->status, ==, 2);
	g_assert_nonnull(strstr(r->err, "renewal_period"));
	g_assert_cmpstr(r->out, ==, "");
	g_assert_cmpint(r2->status, ==, 2);
}

static void
test_cli_get_secret_masked(CliFixture *fx, gconstpointer data)
{
	g_autofree gchar *p =
	    cli_write(fx,
		      "registry",
		      K(0, crypt_password) "=Ch4llengeS3cret\n" K(
			  0, ndes.challenge_password_retrieval.crypt_password) "=\n");
	g_autoptr(CliResult) r = cli_run(fx, NULL, "get", K(0, crypt_password), NULL);
	g_autoptr(CliResult) r2 =
	    cli_run(fx, NULL, "get", K(0, ndes.challenge_password_retrieval.crypt_password), NULL);
	g_assert_cmpint(r->status, ==, 0);
	g_assert_cmpstr(r->out, ==, "********\n");
	g_assert_null(strstr(r->err, "Ch4llenge"));
	/* an empty secret is shown as empty, which reveals nothing */
	g_assert_cmpint(r2->status, ==, 0);
	g_assert_cmpstr(r2->out, ==, "\n");
}

static void
test_cli_set(CliFixture *fx, gconstpointer data)
{
	g_autofree gchar *p = cli_write(fx, "registry", "# keep me\n" K(0, keysize) "=2048\n");
	g_autoptr(CliResult) r = cli_run(fx, NULL, "set", K(0, keysize), "4096", NULL);
	g_autoptr(CliResult) r2 = cli_run(fx, NULL, "set", K(0, caident), " lead", NULL);
	g_autoptr(CliResult) get = cli_run(fx, NULL, "get", K(0, caident), NULL);
	g_autofree gchar *contents = scep_test_read_file(fx->base);
	g_assert_cmpint(r->status, ==, 0);
	g_assert_cmpstr(r->out, ==, "");
	g_assert_cmpint(r2->status, ==, 0);
	g_assert_cmpstr(
	    contents, ==, "# keep me\n" K(0, keysize) "=4096\n" K(0, caident) "=\\slead\n");
	g_assert_cmpstr(get->out, ==, " lead\n");
}

static void
test_cli_set_invalid(CliFixture *fx, gconstpointer data)
{
	static const gchar before[] = K(0, keysize) "=2048\n";
	g_autofree gchar *p = cli_write(fx, "registry", before);
	g_autoptr(CliResult) r = cli_run(fx, NULL, "set", K(0, keysize), "1024", NULL);
	g_autofree gchar *contents = scep_test_read_file(fx->base);
	g_assert_cmpint(r->status, ==, 2);
	g_assert_nonnull(strstr(r->err, "1024"));
	g_assert_nonnull(strstr(r->err, "4096"));
	g_assert_cmpstr(contents, ==, before);
}

static void
test_cli_set_unknown_key(CliFixture *fx, gconstpointer data)
{
	g_autoptr(CliResult) r = cli_run(fx, NULL, "set", K(0, renewl_period), "5", NULL);
	g_autoptr(CliResult) r2 =
	    cli_run(fx, NULL, "set", "network.scepclient.certX.keysize", "5", NULL);
	g_assert_cmpint(r->status, ==, 2);
	g_assert_nonnull(strstr(r->err, "renewal_period"));
	g_assert_cmpint(r2->status, ==, 2);
	g_assert_false(g_file_test(fx->base, G_FILE_TEST_EXISTS));
}

static void
test_cli_set_secret_argv_refused(CliFixture *fx, gconstpointer data)
{
	g_autoptr(CliResult) r =
	    cli_run(fx, NULL, "set", K(0, crypt_password), "OnTheCmdLine42", NULL);
	g_autoptr(CliResult) r2 = cli_run(fx,
					  NULL,
					  "set",
					  K(2, ndes.challenge_password_retrieval.crypt_password),
					  "OnTheCmdLine42",
					  NULL);
	g_assert_cmpint(r->status, ==, 2);
	g_assert_null(strstr(r->err, "OnTheCmdLine42"));
	g_assert_null(strstr(r->out, "OnTheCmdLine42"));
	g_assert_cmpint(r2->status, ==, 2);
	g_assert_false(g_file_test(fx->base, G_FILE_TEST_EXISTS));
}

static void
test_cli_set_secret_stdin(CliFixture *fx, gconstpointer data)
{
	g_autoptr(CliResult) r =
	    cli_run(fx, " Fr0m Stdin\\pw\n", "set", K(0, crypt_password), NULL);
	g_autoptr(CliResult) get = cli_run(fx, NULL, "get", K(0, crypt_password), NULL);
	g_autoptr(ScepRegistrySnapshot) snap = NULL;
	g_autoptr(GError) error = NULL;
	g_assert_cmpint(r->status, ==, 0);
	g_assert_null(strstr(r->out, "Fr0m"));
	g_assert_null(strstr(r->err, "Fr0m"));
	snap = scep_registry_snapshot_load(fx->dir, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(scep_registry_snapshot_lookup(snap, K(0, crypt_password), NULL, NULL),
			==,
			" Fr0m Stdin\\pw");
	g_assert_cmpstr(get->out, ==, "********\n");
}

static void
test_cli_set_secret_stdin_empty(CliFixture *fx, gconstpointer data)
{
	g_autoptr(CliResult) r = cli_run(fx, "", "set", K(0, crypt_password), NULL);
	g_assert_cmpint(r->status, ==, 2);
	g_assert_false(g_file_test(fx->base, G_FILE_TEST_EXISTS));
}

static void
test_cli_unset(CliFixture *fx, gconstpointer data)
{
	g_autofree gchar *p = cli_write(fx, "registry", K(0, caident) "=a\n" K(0, locality) "=L\n");
	g_autofree gchar *d = cli_write(fx, "registry.d/50-x", K(0, caident) "=b\n");
	g_autoptr(CliResult) r = cli_run(fx, NULL, "unset", K(0, caident), NULL);
	g_autoptr(CliResult) again = cli_run(fx, NULL, "unset", K(0, caident), NULL);
	g_autoptr(CliResult) never = cli_run(fx, NULL, "unset", K(7, keysize), NULL);
	g_autoptr(CliResult) unknown = cli_run(fx, NULL, "unset", K(0, renewl_period), NULL);
	g_autofree gchar *c_base = scep_test_read_file(p);
	g_autofree gchar *c_drop = scep_test_read_file(d);
	g_assert_cmpint(r->status, ==, 0);
	g_assert_cmpstr(c_base, ==, K(0, locality) "=L\n");
	g_assert_cmpstr(c_drop, ==, "");
	g_assert_cmpint(again->status, ==, 3);
	g_assert_cmpint(never->status, ==, 3);
	g_assert_cmpint(unknown->status, ==, 2);
}

static void
test_cli_list(CliFixture *fx, gconstpointer data)
{
	g_autofree gchar *p =
	    cli_write(fx,
		      "registry",
		      K(10, caident) "=ten\n" K(2, keysize) "=4096\n" K(
			  2, crypt_password) "=L1stS3cret\n" K(2, caident) "=a b\\n\n");
	g_autofree gchar *d = cli_write(
	    fx, "registry.d/50-x", K(2, locality) "=L\n" K(2, crypt_pasword) "=Typ0S3cret\n");
	g_autoptr(CliResult) all = cli_run(fx, NULL, "list", NULL);
	g_autoptr(CliResult) two = cli_run(fx, NULL, "list", SCEP_REGISTRY_KEY_PREFIX "2.", NULL);
	g_autoptr(CliResult) none = cli_run(fx, NULL, "list", "nothing.", NULL);
	g_assert_cmpint(all->status, ==, 0);
	/* instances ascending, keys in schema order, escapes re-applied, secrets masked */
	g_assert_cmpstr(
	    all->out,
	    ==,
	    K(2, crypt_password) "=********\n" K(2, caident) "=a b\\n\n" K(2, keysize) "=4096\n" K(
		2, locality) "=L\n" K(10, caident) "=ten\n" K(2, crypt_pasword) "=********\n");
	g_assert_null(strstr(all->err, "S3cret"));
	g_assert_cmpint(two->status, ==, 0);
	g_assert_null(strstr(two->out, "ten"));
	g_assert_nonnull(strstr(two->out, K(2, locality) "=L\n"));
	g_assert_cmpint(none->status, ==, 0);
	g_assert_cmpstr(none->out, ==, "");
}

static void
test_cli_instances(CliFixture *fx, gconstpointer data)
{
	g_autofree gchar *p = cli_write(
	    fx,
	    "registry",
	    K(0, enabled) "=true\n" K(0, scepurl) "=http://ca.example/x\n" K(
		0,
		subjectaltname) "=host.example\n" K(0,
						    cafingerprint) "=00112233445566778899aabbccddee"
								   "ff\n" K(
								       3,
								       enabled) "=false"
										"\n" K(
										    5,
										    keysize) "=1024"
											     "\n");
	g_autoptr(CliResult) r = cli_run(fx, NULL, "instances", NULL);
	g_auto(GStrv) lines = NULL;
	g_assert_cmpint(r->status, ==, 0);
	g_assert_true(
	    g_str_has_prefix(r->out, "cert0\tenabled\ncert3\tdisabled\ncert5\tunconfigured: "));
	g_assert_nonnull(strstr(r->out, "keysize"));
	g_assert_true(g_str_has_suffix(r->out, "\n"));
	lines = g_strsplit(r->out, "\n", -1);
	g_assert_cmpuint(g_strv_length(lines), ==, 4);
}

static void
test_cli_describe(CliFixture *fx, gconstpointer data)
{
	static const gchar *forms[] = { "keysize",
					K(3, keysize),
					SCEP_REGISTRY_KEY_PREFIX "%.keysize" };
	for (guint i = 0; i < G_N_ELEMENTS(forms); i++) {
		g_autoptr(CliResult) r = cli_run(fx, NULL, "describe", forms[i], NULL);
		g_assert_cmpint(r->status, ==, 0);
		g_assert_true(g_str_has_prefix(r->out, SCEP_REGISTRY_KEY_PREFIX "%.keysize\n"));
		g_assert_nonnull(strstr(r->out, "RSA key size"));
		g_assert_nonnull(strstr(r->out, "2048"));
		g_assert_nonnull(strstr(r->out, "3072"));
		g_assert_nonnull(strstr(r->out, "int"));
	}
}

static void
test_cli_describe_secret_and_dotted(CliFixture *fx, gconstpointer data)
{
	g_autoptr(CliResult) r =
	    cli_run(fx, NULL, "describe", "ndes.challenge_password_retrieval.crypt_password", NULL);
	g_assert_cmpint(r->status, ==, 0);
	g_assert_nonnull(strstr(r->out, "Secret:    yes"));
}

static void
test_cli_describe_unknown(CliFixture *fx, gconstpointer data)
{
	g_autoptr(CliResult) r = cli_run(fx, NULL, "describe", "renewl_period", NULL);
	g_autoptr(CliResult) r2 = cli_run(fx, NULL, "describe", "zzzzzzzzzzzzzzzzzz", NULL);
	g_assert_cmpint(r->status, ==, 2);
	g_assert_nonnull(strstr(r->err, "renewal_period"));
	g_assert_cmpstr(r->out, ==, "");
	g_assert_cmpint(r2->status, ==, 2);
}

static void
test_cli_check_errors(CliFixture *fx, gconstpointer data)
{
	g_autofree gchar *p =
	    cli_write(fx,
		      "registry",
		      "# pushed\n" K(0, keysize) "=1024\n" K(
			  0, crypt_password) "=Ch3ck\\qS3cret\n" K(1, renewl_period) "=3\n");
	g_autofree gchar *prefix_keysize = g_strdup_printf("%s:2: " K(0, keysize) ": ", fx->base);
	g_autofree gchar *prefix_secret =
	    g_strdup_printf("%s:3: " K(0, crypt_password) ": ", fx->base);
	g_autofree gchar *prefix_unknown =
	    g_strdup_printf("%s:4: " K(1, renewl_period) ": ", fx->base);
	g_autoptr(CliResult) r = cli_run(fx, NULL, "check", NULL);
	g_assert_cmpint(r->status, ==, 1);
	g_assert_true(cli_has_line_prefix(r->out, prefix_keysize));
	g_assert_true(cli_has_line_prefix(r->out, prefix_secret));
	g_assert_true(cli_has_line_prefix(r->out, prefix_unknown));
	g_assert_nonnull(strstr(r->out, "'1024'"));
	g_assert_nonnull(strstr(r->out, "renewal_period"));
	g_assert_null(strstr(r->out, "Ch3ck"));
	g_assert_null(strstr(r->out, "S3cret"));
	g_assert_null(strstr(r->err, "Ch3ck"));
	g_assert_null(strstr(r->err, "S3cret"));
}

static void
test_cli_check_clean(CliFixture *fx, gconstpointer data)
{
	g_autofree gchar *p = cli_write(fx, "registry", K(0, keysize) "=4096\n");
	g_autoptr(CliResult) r = cli_run(fx, NULL, "check", NULL);
	g_assert_cmpint(r->status, ==, 0);
	g_assert_cmpstr(r->out, ==, "");
}

static void
test_cli_check_warnings_only(CliFixture *fx, gconstpointer data)
{
	g_autofree gchar *p = cli_write(fx, "registry", K(0, renewl_period) "=3\n");
	g_autoptr(CliResult) r = cli_run(fx, NULL, "check", NULL);
	g_assert_cmpint(r->status, ==, 0);
	g_assert_nonnull(strstr(r->out, "renewal_period"));
}

static void
test_cli_unreadable(CliFixture *fx, gconstpointer data)
{
	/* a directory where the base file should be cannot be read */
	g_assert_cmpint(g_mkdir(fx->base, 0700), ==, 0);
	{
		g_autoptr(CliResult) r = cli_run(fx, NULL, "list", NULL);
		g_assert_cmpint(r->status, ==, 1);
		g_assert_cmpstr(r->err, !=, "");
	}
}

/* ---- a writer killed in the middle ---- */

static gboolean
cli_has_hidden_file(const gchar *dir_path)
{
	g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
	const gchar *name;
	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		if (name[0] == '.')
			return TRUE;
	}
	return FALSE;
}

static void
test_cli_killed_writer(CliFixture *fx, gconstpointer data)
{
	const gchar *point = data;
	g_autoptr(GString) old_contents = g_string_new("# a long registry, so that half of it is "
						       "a real partial write\n");
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GDataInputStream) err = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepRegistrySnapshot) snap = NULL;
	g_autofree gchar *line = NULL;
	g_autofree gchar *expected_line = g_strdup_printf("paused %s", point);
	g_autofree gchar *after = NULL;
	g_autofree gchar *p = NULL;
	g_autofree gchar *new_contents = NULL;
	gboolean want_new = g_strcmp0(point, "renamed") == 0;

	for (guint i = 0; i < 400; i++)
		g_string_append_printf(
		    old_contents, SCEP_REGISTRY_KEY_PREFIX "%u.caident=value number %u\n", i, i);
	g_string_append(old_contents, K(0, locality) "=old\n");
	new_contents = g_strdup(old_contents->str);
	/* the expected result: the last line replaced */
	new_contents[strlen(new_contents) - strlen("old\n")] = '\0';
	{
		gchar *tmp = g_strconcat(new_contents, "new\n", NULL);
		g_free(new_contents);
		new_contents = tmp;
	}
	p = cli_write(fx, "registry", old_contents->str);

	launcher = cli_launcher(G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_subprocess_launcher_setenv(launcher, "SCEP_REGISTRY_TEST_PAUSE", point, TRUE);
	proc = g_subprocess_launcher_spawn(launcher,
					   &error,
					   cli_tool,
					   "--registry-dir",
					   fx->dir,
					   "set",
					   K(0, locality),
					   "new",
					   NULL);
	g_assert_no_error(error);
	err = g_data_input_stream_new(g_subprocess_get_stderr_pipe(proc));
	line = g_data_input_stream_read_line_utf8(err, NULL, NULL, &error);
	g_assert_no_error(error);
	/* the writer stopped at the point; kill it there */
	g_assert_cmpstr(line, ==, expected_line);
	g_subprocess_send_signal(proc, SIGKILL);
	g_subprocess_wait(proc, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(g_subprocess_get_if_signaled(proc));
	g_assert_cmpint(g_subprocess_get_term_sig(proc), ==, SIGKILL);

	after = scep_test_read_file(p);
	g_assert_true(g_strcmp0(after, old_contents->str) == 0 ||
		      g_strcmp0(after, new_contents) == 0);
	/* before the rename the old file stays; after it, the new one is complete */
	g_assert_cmpstr(after, ==, want_new ? new_contents : old_contents->str);
	if (!want_new)
		g_assert_true(cli_has_hidden_file(fx->dir));

	/* the registry loads without errors; leftover temporary files are ignored */
	snap = scep_registry_snapshot_load(fx->dir, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(scep_registry_snapshot_count_errors(snap), ==, 0);
	g_assert_cmpuint(scep_registry_snapshot_get_problems(snap)->len, ==, 0);
	g_assert_cmpstr(scep_registry_snapshot_lookup(snap, K(0, locality), NULL, NULL),
			==,
			want_new ? "new" : "old");
	{
		g_autoptr(CliResult) check = cli_run(fx, NULL, "check", NULL);
		g_assert_cmpint(check->status, ==, 0);
	}
}

/* g_test_add() casts the fixture functions */
#define cli_add(path, func)                                                                        \
	g_test_add(path, CliFixture, NULL, cli_fixture_set_up, func, cli_fixture_tear_down)

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

	cli_tool = argc > 1 ? argv[1] : g_getenv("SCEP_REGISTRY_TOOL");
	if (cli_tool == NULL || !g_file_test(cli_tool, G_FILE_TEST_IS_EXECUTABLE)) {
		g_printerr("test-registry-cli: pass the path of the built scep-registry as the "
			   "first argument or in SCEP_REGISTRY_TOOL (got %s)\n",
			   cli_tool != NULL ? cli_tool : "nothing");
		return 1;
	}

	cli_add("/scep/registry/cli/help", test_cli_help);
	cli_add("/scep/registry/cli/no-command", test_cli_no_command);
	cli_add("/scep/registry/cli/unknown-command", test_cli_unknown_command);
	cli_add("/scep/registry/cli/bad-option", test_cli_bad_option);
	cli_add("/scep/registry/cli/wrong-arguments", test_cli_wrong_arguments);
	cli_add("/scep/registry/cli/get", test_cli_get);
	cli_add("/scep/registry/cli/get-default", test_cli_get_default);
	cli_add("/scep/registry/cli/get-unknown", test_cli_get_unknown);
	cli_add("/scep/registry/cli/get-secret-masked", test_cli_get_secret_masked);
	cli_add("/scep/registry/cli/set", test_cli_set);
	cli_add("/scep/registry/cli/set-invalid", test_cli_set_invalid);
	cli_add("/scep/registry/cli/set-unknown-key", test_cli_set_unknown_key);
	cli_add("/scep/registry/cli/set-secret-argv-refused", test_cli_set_secret_argv_refused);
	cli_add("/scep/registry/cli/set-secret-stdin", test_cli_set_secret_stdin);
	cli_add("/scep/registry/cli/set-secret-stdin-empty", test_cli_set_secret_stdin_empty);
	cli_add("/scep/registry/cli/unset", test_cli_unset);
	cli_add("/scep/registry/cli/list", test_cli_list);
	cli_add("/scep/registry/cli/instances", test_cli_instances);
	cli_add("/scep/registry/cli/describe", test_cli_describe);
	cli_add("/scep/registry/cli/describe-secret-dotted", test_cli_describe_secret_and_dotted);
	cli_add("/scep/registry/cli/describe-unknown", test_cli_describe_unknown);
	cli_add("/scep/registry/cli/check-errors", test_cli_check_errors);
	cli_add("/scep/registry/cli/check-clean", test_cli_check_clean);
	cli_add("/scep/registry/cli/check-warnings-only", test_cli_check_warnings_only);
	cli_add("/scep/registry/cli/unreadable", test_cli_unreadable);
	g_test_add("/scep/registry/cli/killed-writer/partial",
		   CliFixture,
		   "partial",
		   cli_fixture_set_up,
		   test_cli_killed_writer,
		   cli_fixture_tear_down);
	g_test_add("/scep/registry/cli/killed-writer/synced",
		   CliFixture,
		   "synced",
		   cli_fixture_set_up,
		   test_cli_killed_writer,
		   cli_fixture_tear_down);
	g_test_add("/scep/registry/cli/killed-writer/renamed",
		   CliFixture,
		   "renamed",
		   cli_fixture_set_up,
		   test_cli_killed_writer,
		   cli_fixture_tear_down);

	return g_test_run();
}
