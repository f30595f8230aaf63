#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "scep-registry.h"
#include "scep-test-util.h"

/* tests of the registry: syntax, validation, defaults, schema vs code, instances,
 * override order, the watcher and the writer */

#define K(n, name) SCEP_REGISTRY_KEY_PREFIX #n "." #name

typedef struct {
	gchar *dir;
	gchar *base;    /* dir/registry */
	gchar *dropins; /* dir/registry.d */
	ScepRegistry *registry;
	GPtrArray *emissions; /* of GPtrArray of ScepRegistryChange */
} RegFixture;

static void
reg_fixture_set_up(RegFixture *fx, gconstpointer data)
{
	fx->dir = scep_test_make_tmp_dir("scep-registry-XXXXXX");
	fx->base = g_build_filename(fx->dir, "registry", NULL);
	fx->dropins = g_build_filename(fx->dir, "registry.d", NULL);
	g_assert_cmpint(g_mkdir(fx->dropins, 0700), ==, 0);
	fx->emissions = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
}

static void
reg_fixture_tear_down(RegFixture *fx, gconstpointer data)
{
	g_clear_object(&fx->registry);
	/* let cancelled monitors and pending sources finish */
	while (g_main_context_iteration(NULL, FALSE))
		;
	scep_test_remove_tree(fx->dir, NULL);
	g_free(fx->dir);
	g_free(fx->base);
	g_free(fx->dropins);
	g_ptr_array_unref(fx->emissions);
}

/* writes @contents to DIR/@rel, creating registry.d when needed */
static gchar *
reg_write(RegFixture *fx, const gchar *rel, const gchar *contents, gssize len)
{
	gchar *path = g_build_filename(fx->dir, rel, NULL);
	scep_test_write_file(path, contents, len);
	return path;
}

static ScepRegistrySnapshot *
reg_load(RegFixture *fx)
{
	g_autoptr(GError) error = NULL;
	ScepRegistrySnapshot *snap = scep_registry_snapshot_load(fx->dir, &error);
	g_assert_no_error(error);
	g_assert_nonnull(snap);
	return snap;
}

static ScepRegistrySnapshot *
reg_load_base(RegFixture *fx, const gchar *contents)
{
	g_autofree gchar *path = reg_write(fx, "registry", contents, -1);
	return reg_load(fx);
}

/* the first problem of @severity about @key (or any key when NULL) at @line (any when 0) */
static ScepRegistryProblem *
reg_find_problem(ScepRegistrySnapshot *snap,
		 ScepRegistryProblemSeverity severity,
		 const gchar *key,
		 guint line)
{
	GPtrArray *problems = scep_registry_snapshot_get_problems(snap);
	for (guint i = 0; i < problems->len; i++) {
		ScepRegistryProblem *p = g_ptr_array_index(problems, i);
		if (p->severity != severity)
			continue;
		if (key != NULL && g_strcmp0(p->key, key) != 0)
			continue;
		if (line != 0 && p->line != line)
			continue;
		return p;
	}
	return NULL;
}

static void
reg_dump_problems(ScepRegistrySnapshot *snap)
{
	GPtrArray *problems = scep_registry_snapshot_get_problems(snap);
	for (guint i = 0; i < problems->len; i++) {
		g_autofree gchar *s =
		    scep_registry_problem_to_string(g_ptr_array_index(problems, i));
		g_test_message("problem: %s", s);
	}
}

static void
reg_assert_value(ScepRegistrySnapshot *snap, const gchar *key, const gchar *expected)
{
	const gchar *value = scep_registry_snapshot_lookup(snap, key, NULL, NULL);
	g_assert_cmpstr(value, ==, expected);
}

/* ---- syntax ---- */

static void
test_syntax_comments_blank_white_space(RegFixture *fx, gconstpointer data)
{
	g_autoptr(ScepRegistrySnapshot) snap =
	    reg_load_base(fx,
			  "# a comment\n"
			  "\n"
			  "   \t  \n"
			  "\t  # an indented comment\n"
			  "  " K(0, caident) "   =   spaced out \t \n" K(
			      0, locality) "=Berlin\n"
					   "# " K(0, state) "=commented\n");
	reg_dump_problems(snap);
	g_assert_cmpuint(scep_registry_snapshot_get_problems(snap)->len, ==, 0);
	reg_assert_value(snap, K(0, caident), "spaced out");
	reg_assert_value(snap, K(0, locality), "Berlin");
	reg_assert_value(snap, K(0, state), NULL);
}

static void
test_syntax_bom(RegFixture *fx, gconstpointer data)
{
	g_autoptr(ScepRegistrySnapshot) snap =
	    reg_load_base(fx, "\xef\xbb\xbf" K(0, caident) "=after-bom\n" K(0, locality) "=x\n");
	const gchar *file = NULL;
	guint line = 0;
	reg_dump_problems(snap);
	g_assert_cmpuint(scep_registry_snapshot_get_problems(snap)->len, ==, 0);
	g_assert_cmpstr(
	    scep_registry_snapshot_lookup(snap, K(0, caident), &file, &line), ==, "after-bom");
	g_assert_cmpuint(line, ==, 1);
}

static void
test_syntax_equals_in_value(RegFixture *fx, gconstpointer data)
{
	g_autoptr(ScepRegistrySnapshot) snap = reg_load_base(fx, K(0, caident) "=a=b==c=\n");
	g_assert_cmpuint(scep_registry_snapshot_get_problems(snap)->len, ==, 0);
	reg_assert_value(snap, K(0, caident), "a=b==c=");
}

static void
test_syntax_hash_in_value(RegFixture *fx, gconstpointer data)
{
	g_autoptr(ScepRegistrySnapshot) snap =
	    reg_load_base(fx, K(0, caident) "=#first # not a comment\n");
	g_assert_cmpuint(scep_registry_snapshot_get_problems(snap)->len, ==, 0);
	reg_assert_value(snap, K(0, caident), "#first # not a comment");
}

static void
test_syntax_escapes(RegFixture *fx, gconstpointer data)
{
	g_autoptr(ScepRegistrySnapshot) snap =
	    reg_load_base(fx,
			  K(0, caident) "=a\\\\b\n" K(1, caident) "=line1\\nline2\n" K(2, caident) "=col1\\tcol2\n" K(
			      3,
			      caident) "=cr\\r\n" K(4,
						    caident) "=\\s lead and trail "
							     "\\s\n" K(
								 5,
								 caident) "=\\x"
									  "41\\"
									  "x7e"
									  "\\xc"
									  "3\\x"
									  "a9"
									  "\n" K(
									      6,
									      caident) "=\\\\n is "
										       "not a "
										       "newline\n");
	reg_dump_problems(snap);
	g_assert_cmpuint(scep_registry_snapshot_get_problems(snap)->len, ==, 0);
	reg_assert_value(snap, K(0, caident), "a\\b");
	reg_assert_value(snap, K(1, caident), "line1\nline2");
	reg_assert_value(snap, K(2, caident), "col1\tcol2");
	reg_assert_value(snap, K(3, caident), "cr\r");
	reg_assert_value(snap, K(4, caident), "  lead and trail  ");
	reg_assert_value(snap, K(5, caident), "A~\xc3\xa9");
	reg_assert_value(snap, K(6, caident), "\\n is not a newline");
}

static void
test_syntax_bad_escapes(RegFixture *fx, gconstpointer data)
{
	/* line N holds instance N - 1 */
	static const gchar *bad[] = { "=ab\\qcd", "=\\x4", "=\\xzz", "=\\x00", "=trailing\\" };
	g_autoptr(GString) contents = g_string_new(NULL);
	g_autoptr(ScepRegistrySnapshot) snap = NULL;
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
		g_string_append_printf(
		    contents, SCEP_REGISTRY_KEY_PREFIX "%u.caident%s\n", i, bad[i]);
	snap = reg_load_base(fx, contents->str);
	reg_dump_problems(snap);
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree gchar *key = scep_registry_make_key(i, "caident");
		ScepRegistryProblem *p =
		    reg_find_problem(snap, SCEP_REGISTRY_PROBLEM_ERROR, key, i + 1);
		g_assert_nonnull(p);
		g_assert_cmpstr(p->file, ==, fx->base);
		g_assert_cmpuint(p->line, ==, i + 1);
		g_assert_nonnull(strstr(p->message, "escape"));
		/* the instance is unconfigured and says why */
		g_assert_null(scep_registry_snapshot_get_settings(snap, i));
		g_assert_nonnull(
		    strstr(scep_registry_snapshot_get_invalid_reason(snap, i), "caident"));
	}
}

static void
test_syntax_no_equals(RegFixture *fx, gconstpointer data)
{
	g_autoptr(ScepRegistrySnapshot) snap =
	    reg_load_base(fx, "# comment\n" K(0, caident) "=x\njust some words\n");
	ScepRegistryProblem *p = reg_find_problem(snap, SCEP_REGISTRY_PROBLEM_ERROR, NULL, 3);
	g_assert_nonnull(p);
	g_assert_cmpstr(p->file, ==, fx->base);
	g_assert_cmpuint(p->line, ==, 3);
	g_assert_cmpuint(scep_registry_snapshot_count_errors(snap), ==, 1);
	reg_assert_value(snap, K(0, caident), "x");
}

static void
test_syntax_invalid_utf8(RegFixture *fx, gconstpointer data)
{
	g_autoptr(ScepRegistrySnapshot) snap =
	    reg_load_base(fx, K(0, locality) "=ok\n" K(0, caident) "=bad\xff\xfe\n");
	ScepRegistryProblem *p = reg_find_problem(snap, SCEP_REGISTRY_PROBLEM_ERROR, NULL, 2);
	g_assert_nonnull(p);
	g_assert_cmpstr(p->file, ==, fx->base);
	g_assert_nonnull(strstr(p->message, "UTF-8"));
}

static void
test_syntax_nul_byte(RegFixture *fx, gconstpointer data)
{
	static const gchar contents[] =
	    K(0, locality) "=ok\n" K(0, caident) "=be\0fore\n" K(1, caident) "=after\n";
	g_autofree gchar *path = reg_write(fx, "registry", contents, sizeof(contents) - 1);
	g_autoptr(ScepRegistrySnapshot) snap = reg_load(fx);
	ScepRegistryProblem *p = reg_find_problem(snap, SCEP_REGISTRY_PROBLEM_ERROR, NULL, 2);
	g_assert_nonnull(p);
	g_assert_cmpstr(p->file, ==, path);
	g_assert_nonnull(strstr(p->message, "NUL"));
	/* the value is not cut at the NUL, and the next line is still read */
	g_assert_cmpstr(scep_registry_snapshot_lookup(snap, K(0, caident), NULL, NULL), !=, "be");
	reg_assert_value(snap, K(1, caident), "after");
}

static void
test_syntax_overlong_line(RegFixture *fx, gconstpointer data)
{
	g_autoptr(GString) contents = g_string_new(K(0, caident) "=");
	g_autoptr(ScepRegistrySnapshot) snap = NULL;
	ScepRegistryProblem *p;
	for (guint i = 0; i < 70 * 1024; i++)
		g_string_append_c(contents, 'a' + (i % 26));
	g_string_append(contents, "\n" K(0, locality) "=after\n");
	snap = reg_load_base(fx, contents->str);
	p = reg_find_problem(snap, SCEP_REGISTRY_PROBLEM_ERROR, NULL, 1);
	g_assert_nonnull(p);
	g_assert_cmpstr(p->file, ==, fx->base);
	/* nothing truncated is taken as a value */
	g_assert_null(scep_registry_snapshot_lookup(snap, K(0, caident), NULL, NULL));
	reg_assert_value(snap, K(0, locality), "after");
}

/* an unreadable value (invalid UTF-8, NUL) of a known key must not leave the
 * instance running on the default of that key: cert0 has invalid UTF-8, cert1 a NUL */
static void
test_syntax_broken_line_invalidates_instance(RegFixture *fx, gconstpointer data)
{
	static const gchar contents[] = K(0, locality) "=ok\n" K(0, keysize) "=4096\xff\n" K(
	    1, locality) "=ok\n" K(1, keysize) "=40\00096\n";
	g_autofree gchar *path = reg_write(fx, "registry", contents, sizeof(contents) - 1);
	g_autoptr(ScepRegistrySnapshot) snap = reg_load(fx);
	reg_dump_problems(snap);
	g_assert_cmpuint(scep_registry_snapshot_count_errors(snap), ==, 2);
	for (guint n = 0; n < 2; n++) {
		const gchar *reason = scep_registry_snapshot_get_invalid_reason(snap, n);
		g_assert_null(scep_registry_snapshot_get_settings(snap, n));
		g_assert_nonnull(reason);
		g_assert_nonnull(strstr(reason, "keysize"));
	}
}

static gchar *
reg_random_value(void)
{
	static const gchar *pieces[] = {
		"a",   "Z", "0", " ",        "  ",   "\n",   "\t",   "\r",  "\\",
		"\\n", "#", "=", "\xc3\xa9", "\x01", "\x0b", "\x7f", "\\s", "\xe2\x82\xac"
	};
	GString *s = g_string_new(NULL);
	guint n = (guint)g_test_rand_int_range(0, 12);
	for (guint i = 0; i < n; i++)
		g_string_append(s, pieces[g_test_rand_int_range(0, G_N_ELEMENTS(pieces))]);
	return g_string_free(s, FALSE);
}

static void
test_syntax_escape_round_trip(RegFixture *fx, gconstpointer data)
{
	const guint n = 300;
	g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GString) contents = g_string_new(NULL);
	g_autoptr(ScepRegistrySnapshot) snap = NULL;

	for (guint i = 0; i < n; i++) {
		g_autofree gchar *escaped = NULL;
		g_autofree gchar *back = NULL;
		g_autoptr(GError) error = NULL;
		static const gchar *fixed[] = {
			" ", "  two lead, two trail  ", "ends with \\", "\n\n", ""
		};
		/* a few fixed hard cases first */
		gchar *value = i < G_N_ELEMENTS(fixed) ? g_strdup(fixed[i]) : reg_random_value();
		escaped = scep_registry_escape(value);
		g_assert_null(strchr(escaped, '\n'));
		back = scep_registry_unescape(escaped, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(back, ==, value);
		/* and through a file, with white space around the escaped value */
		g_string_append_printf(
		    contents, " " SCEP_REGISTRY_KEY_PREFIX "%u.caident =\t%s \n", i, escaped);
		g_ptr_array_add(values, value);
	}
	snap = reg_load_base(fx, contents->str);
	reg_dump_problems(snap);
	g_assert_cmpuint(scep_registry_snapshot_count_errors(snap), ==, 0);
	for (guint i = 0; i < n; i++) {
		g_autofree gchar *key = scep_registry_make_key(i, "caident");
		const gchar *got = scep_registry_snapshot_lookup(snap, key, NULL, NULL);
		g_assert_cmpstr(got, ==, g_ptr_array_index(values, i));
	}
}

/* ---- validation ---- */

typedef struct {
	const gchar *path;      /* test path */
	const gchar *name;      /* key name */
	const gchar *line;      /* value as written */
	const gchar *offending; /* what the message must quote */
	const gchar *extra;     /* nullable: more lines before */
} RegInvalidCase;

static const RegInvalidCase reg_invalid_cases[] = {
	{ "/scep/registry/validate/bool", "enabled", "maybe", "maybe", NULL },
	{ "/scep/registry/validate/int-out-of-range", "connect_timeout", "601", "601", NULL },
	{ "/scep/registry/validate/int-not-a-number", "connect_timeout", "12abc", "12abc", NULL },
	{ "/scep/registry/validate/keysize-1024", "keysize", "1024", "1024", NULL },
	{ "/scep/registry/validate/threshold-30", "renewal_threshold_percent", "30", "30", NULL },
	{ "/scep/registry/validate/enum-unknown", "signalg", "sha999", "sha999", NULL },
	{ "/scep/registry/validate/url-ftp",
	  "scepurl",
	  "ftp://ca.example/x",
	  "ftp://ca.example/x",
	  NULL },
	{ "/scep/registry/validate/url-no-host",
	  "scepurl",
	  "http:///certsrv",
	  "http:///certsrv",
	  NULL },
	{ "/scep/registry/validate/proxy",
	  "proxy",
	  "socks5://p.example:1080",
	  "socks5://p.example:1080",
	  NULL },
	{ "/scep/registry/validate/fingerprint-length",
	  "cafingerprint",
	  "0123456789abcdef",
	  "0123456789abcdef",
	  NULL },
	{ "/scep/registry/validate/fingerprint-hash-mismatch",
	  "cafingerprint",
	  "00112233445566778899aabbccddeeff00112233",
	  "00112233445566778899aabbccddeeff00112233",
	  K(0, cafingerprint_hash) "=md5\n" },
	{ "/scep/registry/validate/path-relative",
	  "cert_file",
	  "certs/me.pem",
	  "certs/me.pem",
	  NULL },
	{ "/scep/registry/validate/country", "country", "DEU", "DEU", NULL },
	{ "/scep/registry/validate/sid", "sid_san_uri", "S-1-x-21", "S-1-x-21", NULL },
	{ "/scep/registry/validate/user",
	  "ndes.challenge_password_retrieval.user",
	  "john doe",
	  "john doe",
	  NULL },
	{ "/scep/registry/validate/key-usage",
	  "key_usage",
	  "digitalSignature,frobnicate",
	  "frobnicate",
	  NULL },
	{ "/scep/registry/validate/command-relative",
	  "post_install_command",
	  "systemctl restart nginx",
	  "systemctl restart nginx",
	  NULL },
};

static void
test_validate_invalid(RegFixture *fx, gconstpointer data)
{
	const RegInvalidCase *c = data;
	g_autofree gchar *key = scep_registry_make_key(0, c->name);
	g_autofree gchar *contents =
	    g_strdup_printf("# first line\n%s=%s\n%s" K(0, locality) "=x\n",
			    key,
			    c->line,
			    c->extra != NULL ? c->extra : "");
	g_autoptr(ScepRegistrySnapshot) snap = reg_load_base(fx, contents);
	const ScepRegistryKey *schema_key = scep_registry_schema_lookup(c->name);
	g_autofree gchar *expected = NULL;
	g_autofree gchar *quoted = g_strdup_printf("%s", c->offending);
	ScepRegistryProblem *p;
	const gchar *reason;

	g_assert_nonnull(schema_key);
	reg_dump_problems(snap);
	p = reg_find_problem(snap, SCEP_REGISTRY_PROBLEM_ERROR, key, 0);
	g_assert_nonnull(p);
	g_assert_cmpstr(p->file, ==, fx->base);
	g_assert_cmpuint(p->line, ==, 2);
	g_assert_cmpstr(p->key, ==, key);
	g_assert_cmpint(p->instance, ==, 0);
	/* the offending value is quoted */
	g_assert_nonnull(strstr(p->message, quoted));
	/* and what was expected is said */
	if (g_strcmp0(c->name, "cafingerprint") == 0 && c->extra != NULL) {
		g_assert_nonnull(strstr(p->message, "32"));
	} else {
		expected = scep_registry_key_describe_expected(schema_key);
		g_assert_nonnull(strstr(p->message, expected));
	}
	/* a bad value never becomes the default: the instance is unconfigured */
	g_assert_null(scep_registry_snapshot_get_settings(snap, 0));
	reason = scep_registry_snapshot_get_invalid_reason(snap, 0);
	g_assert_nonnull(reason);
	g_assert_nonnull(strstr(reason, c->name));
}

static ScepSettings *
reg_load_valid_settings(RegFixture *fx, const gchar *contents, ScepRegistrySnapshot **out)
{
	ScepRegistrySnapshot *snap = reg_load_base(fx, contents);
	ScepSettings *settings;
	reg_dump_problems(snap);
	g_assert_cmpuint(scep_registry_snapshot_count_errors(snap), ==, 0);
	settings = scep_registry_snapshot_get_settings(snap, 0);
	g_assert_nonnull(settings);
	*out = snap;
	return settings;
}

static void
test_validate_enum_case_insensitive(RegFixture *fx, gconstpointer data)
{
	g_autoptr(ScepRegistrySnapshot) snap = NULL;
	ScepSettings *s = reg_load_valid_settings(
	    fx,
	    K(0, signalg) "=SHA256\n" K(0, renewal_method) "=fallback TO start-OVER\n" K(
		0, http_method) "=post\n",
	    &snap);
	g_assert_cmpstr(s->signalg, ==, "sha256");
	g_assert_cmpstr(s->renewal_method, ==, "Fallback to start-over");
	g_assert_cmpstr(s->http_method, ==, "POST");
	g_assert_cmpint(
	    scep_settings_get_renewal_method(s), ==, SCEP_RENEWAL_METHOD_FALLBACK_TO_START_OVER);
}

static void
test_validate_eku_oid(RegFixture *fx, gconstpointer data)
{
	g_autoptr(ScepRegistrySnapshot) snap = NULL;
	ScepSettings *s = reg_load_valid_settings(
	    fx, K(0, extended_key_usage) "=clientauth, 1.3.6.1.5.5.7.3.2,1.2.840.113549\n", &snap);
	g_assert_cmpstr(s->extended_key_usage, ==, "clientAuth,1.3.6.1.5.5.7.3.2,1.2.840.113549");
}

static void
test_validate_normalized(RegFixture *fx, gconstpointer data)
{
	g_autoptr(ScepRegistrySnapshot) snap = NULL;
	ScepSettings *s = reg_load_valid_settings(
	    fx,
	    K(0, country) "=de\n" K(
		0, cafingerprint) "=AA:BB:CC:DD:EE:FF:00:11:22:"
				  "33:44:55:66:77:88:99\n" K(0, enabled) "=yes\n" K(
				      0,
				      scepurl) "=http://ca/x\n" K(0,
								  subjectaltname) "=host.example\n",
	    &snap);
	g_assert_cmpstr(s->country, ==, "DE");
	g_assert_cmpstr(s->cafingerprint, ==, "aabbccddeeff00112233445566778899");
	g_assert_true(s->enabled);
}

/* secrets: neither a bad escape nor an invalid byte shows the secret in any problem */
static void
test_validate_secret_masked(RegFixture *fx, gconstpointer data)
{
	g_autoptr(ScepRegistrySnapshot) snap = reg_load_base(
	    fx,
	    K(0, crypt_password) "=Sup3rS3cretLeft\\qTopS3cretRight\n" K(
		1, ndes.challenge_password_retrieval.crypt_password) "=An0therSecr3t\\xffTail99\n");
	static const gchar *fragments[] = { "Sup3rS3cretLeft", "TopS3cretRight", "An0therSecr3t",
					    "Tail99",          "S3cret",         "Secr3t" };
	GPtrArray *problems = scep_registry_snapshot_get_problems(snap);
	reg_dump_problems(snap);
	g_assert_nonnull(
	    reg_find_problem(snap, SCEP_REGISTRY_PROBLEM_ERROR, K(0, crypt_password), 1));
	g_assert_nonnull(reg_find_problem(snap,
					  SCEP_REGISTRY_PROBLEM_ERROR,
					  K(1, ndes.challenge_password_retrieval.crypt_password),
					  0));
	for (guint i = 0; i < problems->len; i++) {
		ScepRegistryProblem *p = g_ptr_array_index(problems, i);
		g_autofree gchar *s = scep_registry_problem_to_string(p);
		for (guint j = 0; j < G_N_ELEMENTS(fragments); j++)
			g_assert_null(strstr(s, fragments[j]));
		/* not even the character after the bad backslash */
		g_assert_null(strstr(s, "\\q"));
	}
	for (guint n = 0; n < 2; n++) {
		const gchar *reason = scep_registry_snapshot_get_invalid_reason(snap, n);
		g_assert_nonnull(reason);
		for (guint j = 0; j < G_N_ELEMENTS(fragments); j++)
			g_assert_null(strstr(reason, fragments[j]));
	}
}

static void
test_validate_unknown_key(RegFixture *fx, gconstpointer data)
{
	g_autoptr(ScepRegistrySnapshot) snap =
	    reg_load_base(fx, K(0, locality) "=x\n" K(0, renewl_period) "=10\n");
	ScepRegistryProblem *p =
	    reg_find_problem(snap, SCEP_REGISTRY_PROBLEM_WARNING, K(0, renewl_period), 2);
	g_assert_nonnull(p);
	g_assert_cmpstr(p->file, ==, fx->base);
	g_assert_nonnull(strstr(p->message, "renewal_period"));
	g_assert_cmpuint(scep_registry_snapshot_count_errors(snap), ==, 0);
	g_assert_nonnull(scep_registry_snapshot_get_settings(snap, 0));
	g_assert_null(scep_registry_snapshot_get_invalid_reason(snap, 0));
	g_assert_cmpint(scep_registry_snapshot_get_settings(snap, 0)->renewal_period, ==, 30);
}

/* ---- defaults, schema vs code ---- */

static gchar *
reg_field_to_string(const ScepSettings *s, const ScepSettingsField *f)
{
	gconstpointer member = G_STRUCT_MEMBER_P(s, f->offset);
	switch (f->type) {
	case SCEP_KEY_TYPE_BOOL:
		return g_strdup(*(const gboolean *)member ? "true" : "false");
	case SCEP_KEY_TYPE_INT:
		return g_strdup_printf("%" G_GINT64_FORMAT, *(const gint64 *)member);
	case SCEP_KEY_TYPE_ENUM:
	case SCEP_KEY_TYPE_STRING:
		return g_strdup(*(gchar *const *)member);
	default:
		g_assert_not_reached();
	}
	return NULL;
}

static const ScepSettingsField *
reg_find_field(const gchar *name)
{
	guint n_fields = 0;
	const ScepSettingsField *fields = scep_settings_get_fields(&n_fields);
	for (guint i = 0; i < n_fields; i++) {
		if (g_strcmp0(fields[i].key, name) == 0)
			return &fields[i];
	}
	g_test_message("schema key %s has no settings field", name);
	g_assert_not_reached();
	return NULL;
}

static void
test_defaults(RegFixture *fx, gconstpointer data)
{
	g_autoptr(ScepRegistrySnapshot) snap = NULL;
	ScepSettings *s = reg_load_valid_settings(fx, K(0, enabled) "=\n", &snap);
	guint n_keys = scep_registry_schema_get_n_keys();
	g_assert_cmpuint(n_keys, >, 40);
	for (guint i = 0; i < n_keys; i++) {
		const ScepRegistryKey *key = scep_registry_schema_get_key(i);
		const ScepSettingsField *f = reg_find_field(key->name);
		g_autofree gchar *got = NULL;
		g_assert_nonnull(f);
		got = reg_field_to_string(s, f);
		if (g_strcmp0(got, key->default_value) != 0)
			g_test_message("key %s: default '%s', settings '%s'",
				       key->name,
				       key->default_value,
				       got);
		g_assert_cmpstr(got, ==, key->default_value);
	}
	g_assert_cmpuint(s->instance, ==, 0);
}

static void
test_schema_fields_agree(void)
{
	guint n_fields = 0;
	const ScepSettingsField *fields = scep_settings_get_fields(&n_fields);
	guint n_keys = scep_registry_schema_get_n_keys();
	for (guint i = 0; i < n_keys; i++) {
		const ScepRegistryKey *key = scep_registry_schema_get_key(i);
		const ScepSettingsField *f = reg_find_field(key->name);
		g_assert_cmpstr(scep_registry_key_type_to_string(f->type),
				==,
				scep_registry_key_type_to_string(key->type));
		g_assert_cmpuint(key->index, ==, i);
		g_assert_true(scep_registry_schema_lookup(key->name) == key);
	}
	for (guint i = 0; i < n_fields; i++) {
		if (scep_registry_schema_lookup(fields[i].key) == NULL)
			g_test_message("settings field %s has no schema key", fields[i].key);
		g_assert_nonnull(scep_registry_schema_lookup(fields[i].key));
		/* each field once */
		for (guint j = i + 1; j < n_fields; j++) {
			g_assert_cmpstr(fields[i].key, !=, fields[j].key);
			g_assert_cmpuint(fields[i].offset, !=, fields[j].offset);
		}
	}
	g_assert_cmpuint(n_fields, ==, n_keys);
}

static void
test_schema_secrets(void)
{
	guint n_keys = scep_registry_schema_get_n_keys();
	guint n_secrets = 0;
	for (guint i = 0; i < n_keys; i++) {
		const ScepRegistryKey *key = scep_registry_schema_get_key(i);
		gboolean named =
		    g_str_has_prefix(key->name, "crypt_") || strstr(key->name, ".crypt_") != NULL;
		if (named != key->secret)
			g_test_message("key %s: secret=%d", key->name, key->secret);
		g_assert_cmpint(named, ==, key->secret);
		if (key->secret)
			n_secrets++;
	}
	g_assert_cmpuint(n_secrets, ==, 2);
}

static void
test_schema_defaults_normalize(void)
{
	guint n_keys = scep_registry_schema_get_n_keys();
	for (guint i = 0; i < n_keys; i++) {
		const ScepRegistryKey *key = scep_registry_schema_get_key(i);
		g_autoptr(GError) error = NULL;
		g_autofree gchar *normal =
		    scep_registry_key_normalize(key, key->default_value, &error);
		if (error != NULL)
			g_test_message("key %s: %s", key->name, error->message);
		g_assert_no_error(error);
		g_assert_cmpstr(normal, ==, key->default_value);
		g_assert_nonnull(key->summary);
		g_assert_cmpstr(key->summary, !=, "");
		g_assert_nonnull(key->description);
		g_assert_cmpstr(key->description, !=, "");
	}
}

/* ---- instances ---- */

static void
test_instances_sparse(RegFixture *fx, gconstpointer data)
{
	g_autoptr(ScepRegistrySnapshot) snap =
	    reg_load_base(fx, K(12, locality) "=c\n" K(0, locality) "=a\n" K(7, locality) "=b\n");
	g_autoptr(GArray) numbers = scep_registry_snapshot_get_instances(snap);
	g_assert_cmpuint(numbers->len, ==, 3);
	g_assert_cmpuint(g_array_index(numbers, guint, 0), ==, 0);
	g_assert_cmpuint(g_array_index(numbers, guint, 1), ==, 7);
	g_assert_cmpuint(g_array_index(numbers, guint, 2), ==, 12);
	g_assert_nonnull(scep_registry_snapshot_get_settings(snap, 12));
	g_assert_false(scep_registry_snapshot_has_instance(snap, 1));
}

static void
test_instances_leading_zero(RegFixture *fx, gconstpointer data)
{
	g_autoptr(ScepRegistrySnapshot) snap =
	    reg_load_base(fx, K(0, locality) "=a\n" K(01, locality) "=b\n");
	g_autoptr(GArray) numbers = scep_registry_snapshot_get_instances(snap);
	ScepRegistryProblem *p =
	    reg_find_problem(snap, SCEP_REGISTRY_PROBLEM_WARNING, K(01, locality), 2);
	g_assert_cmpuint(numbers->len, ==, 1);
	g_assert_cmpuint(g_array_index(numbers, guint, 0), ==, 0);
	g_assert_false(scep_registry_snapshot_has_instance(snap, 1));
	g_assert_nonnull(p);
	g_assert_cmpstr(p->file, ==, fx->base);
	reg_assert_value(snap, K(0, locality), "a");
}

static void
test_instances_bad_one_isolated(RegFixture *fx, gconstpointer data)
{
	g_autoptr(ScepRegistrySnapshot) snap =
	    reg_load_base(fx,
			  K(0, keysize) "=4096\n" K(1, keysize) "=1024\n" K(2, keysize) "=3072\n" K(
			      1, locality) "=x\n");
	ScepSettings *s0 = scep_registry_snapshot_get_settings(snap, 0);
	ScepSettings *s2 = scep_registry_snapshot_get_settings(snap, 2);
	g_assert_null(scep_registry_snapshot_get_settings(snap, 1));
	g_assert_nonnull(strstr(scep_registry_snapshot_get_invalid_reason(snap, 1), "keysize"));
	g_assert_nonnull(s0);
	g_assert_nonnull(s2);
	g_assert_cmpint(s0->keysize, ==, 4096);
	g_assert_cmpint(s2->keysize, ==, 3072);
	g_assert_null(scep_registry_snapshot_get_invalid_reason(snap, 0));
	g_assert_null(scep_registry_snapshot_get_invalid_reason(snap, 2));
	g_assert_cmpuint(scep_registry_snapshot_count_errors(snap), ==, 1);
}

/* ---- override order ---- */

static void
test_override_order(RegFixture *fx, gconstpointer data)
{
	g_autofree gchar *a = reg_write(fx, "registry.d/10-a", K(0, caident) "=from-10-a\n", -1);
	g_autofree gchar *b = reg_write(fx, "registry.d/20-b", K(0, caident) "=from-20-b\n", -1);
	g_autofree gchar *c =
	    reg_write(fx, "registry.d/9-c", "# nine\n\n" K(0, caident) "=from-9-c\n", -1);
	g_autofree gchar *base =
	    reg_write(fx, "registry", K(0, caident) "=from-base\n" K(0, locality) "=base\n", -1);
	g_autoptr(ScepRegistrySnapshot) snap = reg_load(fx);
	const gchar *file = NULL;
	guint line = 0;
	g_assert_cmpstr(
	    scep_registry_snapshot_lookup(snap, K(0, caident), &file, &line), ==, "from-9-c");
	g_assert_cmpstr(file, ==, c);
	g_assert_cmpuint(line, ==, 3);
	g_assert_cmpstr(
	    scep_registry_snapshot_lookup(snap, K(0, locality), &file, &line), ==, "base");
	g_assert_cmpstr(file, ==, base);
	g_assert_cmpuint(line, ==, 2);
	g_assert_cmpuint(scep_registry_snapshot_get_problems(snap)->len, ==, 0);
}

static void
test_override_ignored_files(RegFixture *fx, gconstpointer data)
{
	static const gchar *ignored[] = { "registry.d/.hidden",
					  "registry.d/99-z~",
					  "registry.d/99-z.dpkg-new",
					  "registry.d/99-z.dpkg-old",
					  "registry.d/.99-z.ABCDEF" };
	g_autofree gchar *a = reg_write(fx, "registry.d/50-a", K(0, caident) "=winner\n", -1);
	g_autoptr(ScepRegistrySnapshot) snap = NULL;
	const gchar *file = NULL;
	for (guint i = 0; i < G_N_ELEMENTS(ignored); i++) {
		g_autofree gchar *p =
		    reg_write(fx, ignored[i], K(0, caident) "=ignored\n" K(5, caident) "=x\n", -1);
	}
	snap = reg_load(fx);
	g_assert_cmpstr(
	    scep_registry_snapshot_lookup(snap, K(0, caident), &file, NULL), ==, "winner");
	g_assert_cmpstr(file, ==, a);
	g_assert_false(scep_registry_snapshot_has_instance(snap, 5));
}

static void
test_override_same_file_later_wins(RegFixture *fx, gconstpointer data)
{
	g_autoptr(ScepRegistrySnapshot) snap =
	    reg_load_base(fx, K(0, caident) "=first\n" K(0, caident) "=second\n");
	guint line = 0;
	g_assert_cmpstr(
	    scep_registry_snapshot_lookup(snap, K(0, caident), NULL, &line), ==, "second");
	g_assert_cmpuint(line, ==, 2);
	/* a duplicate in one file is worth a warning */
	g_assert_nonnull(reg_find_problem(snap, SCEP_REGISTRY_PROBLEM_WARNING, K(0, caident), 2));
}

/* ---- watcher ---- */

static void
reg_changed_cb(ScepRegistry *registry, GPtrArray *changes, gpointer user_data)
{
	RegFixture *fx = user_data;
	g_ptr_array_add(fx->emissions, g_ptr_array_ref(changes));
}

static gboolean
reg_flag_cb(gpointer user_data)
{
	gboolean *flag = user_data;
	*flag = TRUE;
	return G_SOURCE_REMOVE;
}

/* iterates the main context until @n emissions arrived or @timeout_ms passed */
static gboolean
reg_wait_emissions(RegFixture *fx, guint n, guint timeout_ms)
{
	gboolean timed_out = FALSE;
	guint id = g_timeout_add(timeout_ms, reg_flag_cb, &timed_out);
	while (fx->emissions->len < n && !timed_out)
		g_main_context_iteration(NULL, TRUE);
	if (!timed_out)
		g_source_remove(id);
	return fx->emissions->len >= n;
}

/* iterates the main context for @ms, whatever happens */
static void
reg_settle(guint ms)
{
	gboolean done = FALSE;
	g_timeout_add(ms, reg_flag_cb, &done);
	while (!done)
		g_main_context_iteration(NULL, TRUE);
}

static void
reg_watch_start(RegFixture *fx, guint debounce_ms)
{
	g_autoptr(GError) error = NULL;
	fx->registry = scep_registry_new(fx->dir);
	scep_registry_set_debounce(fx->registry, debounce_ms);
	g_assert_true(scep_registry_load(fx->registry, &error));
	g_assert_no_error(error);
	g_signal_connect(fx->registry, "changed", G_CALLBACK(reg_changed_cb), fx);
	g_assert_true(scep_registry_watch(fx->registry, &error));
	g_assert_no_error(error);
}

static ScepRegistryChange *
reg_emission_find(RegFixture *fx, guint emission, guint instance)
{
	GPtrArray *changes = g_ptr_array_index(fx->emissions, emission);
	for (guint i = 0; i < changes->len; i++) {
		ScepRegistryChange *c = g_ptr_array_index(changes, i);
		if (c->instance == instance)
			return c;
	}
	return NULL;
}

/* the change of @instance, which must exist */
static ScepRegistryChange *
reg_emission_change(RegFixture *fx, guint emission, guint instance)
{
	ScepRegistryChange *c = reg_emission_find(fx, emission, instance);
	if (c == NULL) {
		g_test_message("emission %u has no change of cert%u", emission, instance);
		g_assert_not_reached();
	}
	return c;
}

static ScepRegistryKeyChange *
reg_change_key(ScepRegistryChange *change, const gchar *name)
{
	for (guint i = 0; i < change->keys->len; i++) {
		ScepRegistryKeyChange *kc = g_ptr_array_index(change->keys, i);
		if (g_strcmp0(kc->key->name, name) == 0)
			return kc;
	}
	g_test_message("cert%u: no change of %s", change->instance, name);
	g_assert_not_reached();
	return NULL;
}

/* the last emission holds exactly one change: @instance's @name from @old_value to @new_value */
static void
reg_assert_single_change(RegFixture *fx,
			 guint instance,
			 const gchar *name,
			 const gchar *old_value,
			 const gchar *new_value)
{
	GPtrArray *changes = g_ptr_array_index(fx->emissions, fx->emissions->len - 1);
	ScepRegistryChange *c;
	ScepRegistryKeyChange *kc;
	g_assert_cmpuint(changes->len, ==, 1);
	c = g_ptr_array_index(changes, 0);
	g_assert_cmpuint(c->instance, ==, instance);
	g_assert_cmpint(c->kind, ==, SCEP_REGISTRY_CHANGE_CHANGED);
	g_assert_cmpuint(c->keys->len, ==, 1);
	kc = reg_change_key(c, name);
	g_assert_nonnull(kc);
	g_assert_cmpstr(kc->old_value, ==, old_value);
	g_assert_cmpstr(kc->new_value, ==, new_value);
}

#define REG_WAIT_MS 5000

static void
test_watch_atomic_replace(RegFixture *fx, gconstpointer data)
{
	g_autofree gchar *p = reg_write(fx, "registry", K(0, caident) "=one\n", -1);
	g_autoptr(GError) error = NULL;
	reg_watch_start(fx, 100);
	g_file_set_contents(fx->base, K(0, caident) "=two\n", -1, &error);
	g_assert_no_error(error);
	g_assert_true(reg_wait_emissions(fx, 1, REG_WAIT_MS));
	reg_assert_single_change(fx, 0, "caident", "one", "two");
	reg_assert_value(scep_registry_get_snapshot(fx->registry), K(0, caident), "two");
}

static void
test_watch_in_place_rewrite(RegFixture *fx, gconstpointer data)
{
	g_autofree gchar *p = reg_write(fx, "registry", K(0, caident) "=one\n", -1);
	FILE *fp;
	reg_watch_start(fx, 100);
	fp = fopen(fx->base, "w");
	g_assert_nonnull(fp);
	fputs(K(0, caident) "=rewritten\n", fp);
	g_assert_cmpint(fclose(fp), ==, 0);
	g_assert_true(reg_wait_emissions(fx, 1, REG_WAIT_MS));
	reg_assert_single_change(fx, 0, "caident", "one", "rewritten");
}

static void
test_watch_dropin_delete_recreate(RegFixture *fx, gconstpointer data)
{
	g_autofree gchar *p = reg_write(fx, "registry", K(0, caident) "=base\n", -1);
	g_autofree gchar *d = reg_write(fx, "registry.d/50-x", K(0, caident) "=dropin\n", -1);
	reg_watch_start(fx, 100);
	g_assert_cmpint(g_unlink(d), ==, 0);
	g_assert_true(reg_wait_emissions(fx, 1, REG_WAIT_MS));
	reg_assert_single_change(fx, 0, "caident", "dropin", "base");
	g_free(reg_write(fx, "registry.d/50-x", K(0, caident) "=again\n", -1));
	g_assert_true(reg_wait_emissions(fx, 2, REG_WAIT_MS));
	reg_assert_single_change(fx, 0, "caident", "base", "again");
}

static void
test_watch_dropin_dir_delete_recreate(RegFixture *fx, gconstpointer data)
{
	g_autofree gchar *p = reg_write(fx, "registry", K(0, caident) "=base\n", -1);
	g_autofree gchar *d = reg_write(fx, "registry.d/50-x", K(0, caident) "=dropin\n", -1);
	reg_watch_start(fx, 100);
	g_assert_true(scep_test_remove_tree(fx->dropins, NULL));
	g_assert_true(reg_wait_emissions(fx, 1, REG_WAIT_MS));
	reg_assert_single_change(fx, 0, "caident", "dropin", "base");
	g_assert_cmpint(g_mkdir(fx->dropins, 0700), ==, 0);
	g_free(reg_write(fx, "registry.d/60-y", K(0, caident) "=new-dir\n", -1));
	g_assert_true(reg_wait_emissions(fx, 2, REG_WAIT_MS));
	reg_assert_single_change(fx, 0, "caident", "base", "new-dir");
	/* and the new directory is watched too */
	g_free(reg_write(fx, "registry.d/60-y", K(0, caident) "=later\n", -1));
	g_assert_true(reg_wait_emissions(fx, 3, REG_WAIT_MS));
	reg_assert_single_change(fx, 0, "caident", "new-dir", "later");
}

static void
test_watch_dropin_added(RegFixture *fx, gconstpointer data)
{
	g_autofree gchar *p = reg_write(fx, "registry", K(0, caident) "=base\n", -1);
	reg_watch_start(fx, 100);
	g_free(reg_write(fx, "registry.d/70-new", K(0, caident) "=added\n", -1));
	g_assert_true(reg_wait_emissions(fx, 1, REG_WAIT_MS));
	reg_assert_single_change(fx, 0, "caident", "base", "added");
}

static void
test_watch_instances_added_removed(RegFixture *fx, gconstpointer data)
{
	g_autofree gchar *p = reg_write(fx, "registry", K(0, caident) "=zero\n", -1);
	g_autofree gchar *d =
	    reg_write(fx, "registry.d/50-one", K(1, caident) "=one\n" K(1, locality) "=L\n", -1);
	ScepRegistryChange *c;
	GPtrArray *changes;
	/* long enough that the unlink and the write surely fall into one burst */
	reg_watch_start(fx, 250);
	g_assert_cmpint(g_unlink(d), ==, 0);
	g_free(reg_write(fx, "registry.d/60-two", K(2, caident) "=two\n", -1));
	g_assert_true(reg_wait_emissions(fx, 1, REG_WAIT_MS));
	reg_settle(400);
	g_assert_cmpuint(fx->emissions->len, ==, 1);
	changes = g_ptr_array_index(fx->emissions, 0);
	g_assert_cmpuint(changes->len, ==, 2);
	c = reg_emission_change(fx, 0, 1);
	g_assert_nonnull(c);
	g_assert_cmpint(c->kind, ==, SCEP_REGISTRY_CHANGE_REMOVED);
	g_assert_cmpuint(c->keys->len, ==, 2);
	g_assert_cmpstr(reg_change_key(c, "locality")->old_value, ==, "L");
	g_assert_null(reg_change_key(c, "locality")->new_value);
	c = reg_emission_change(fx, 0, 2);
	g_assert_nonnull(c);
	g_assert_cmpint(c->kind, ==, SCEP_REGISTRY_CHANGE_ADDED);
	g_assert_cmpuint(c->keys->len, ==, 1);
	g_assert_null(reg_change_key(c, "caident")->old_value);
	g_assert_cmpstr(reg_change_key(c, "caident")->new_value, ==, "two");
	g_assert_null(reg_emission_find(fx, 0, 0));
}

static void
test_watch_burst(RegFixture *fx, gconstpointer data)
{
	g_autofree gchar *p = reg_write(fx,
					"registry",
					K(0, caident) "=c0\n" K(0, keysize) "=2048\n" K(
					    1, caident) "=c1\n" K(1, locality) "=L\n",
					-1);
	g_autofree gchar *d0 = g_build_filename(fx->dropins, "10-cert0", NULL);
	g_autofree gchar *d1 = g_build_filename(fx->dropins, "20-cert1", NULL);
	gint64 start;
	ScepRegistryChange *c;
	ScepRegistryKeyChange *kc;
	GPtrArray *changes;

	/* the default is 200 ms; 250 ms keeps a loaded CI machine from splitting the burst */
	reg_watch_start(fx, 250);
	start = g_get_monotonic_time();
	for (guint i = 0; i < 50; i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *contents = NULL;
		gboolean last = i >= 48;
		if (i % 2 == 0) {
			/* back and forth on keysize and organization, settling on caident and
			 * country */
			contents =
			    last ? g_strdup(K(0, caident) "=final0\n" K(0, keysize) "=2048\n" K(
				       0, country) "=DE\n")
				 : g_strdup_printf(K(0, caident) "=tmp%u\n" K(0, keysize) "=%s\n" K(
						       0, organization) "=org%u\n",
						   i,
						   i % 4 == 0 ? "4096" : "3072",
						   i);
			g_file_set_contents_full(
			    d0, contents, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error);
		} else {
			contents = last ? g_strdup(K(1, locality) "=L2\n" K(1, caident) "=c1\n")
					: g_strdup_printf(
					      K(1, locality) "=tmp%u\n" K(1, state) "=s%u\n", i, i);
			g_file_set_contents_full(
			    d1, contents, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error);
		}
		g_assert_no_error(error);
		/* let the monitors see the events while the burst goes on */
		while (g_main_context_iteration(NULL, FALSE))
			;
	}
	g_test_message("burst written in %" G_GINT64_FORMAT " us", g_get_monotonic_time() - start);
	g_assert_true(reg_wait_emissions(fx, 1, REG_WAIT_MS));
	/* nothing more follows */
	reg_settle(600);
	g_assert_cmpuint(fx->emissions->len, ==, 1);

	changes = g_ptr_array_index(fx->emissions, 0);
	for (guint i = 0; i < changes->len; i++) {
		ScepRegistryChange *ch = g_ptr_array_index(changes, i);
		for (guint j = 0; j < ch->keys->len; j++) {
			ScepRegistryKeyChange *k = g_ptr_array_index(ch->keys, j);
			g_test_message("cert%u %s: %s -> %s",
				       ch->instance,
				       k->key->name,
				       k->old_value,
				       k->new_value);
		}
	}
	g_assert_cmpuint(changes->len, ==, 2);
	c = reg_emission_change(fx, 0, 0);
	g_assert_nonnull(c);
	g_assert_cmpint(c->kind, ==, SCEP_REGISTRY_CHANGE_CHANGED);
	g_assert_cmpuint(c->keys->len, ==, 2);
	kc = reg_change_key(c, "caident");
	g_assert_nonnull(kc);
	g_assert_cmpstr(kc->old_value, ==, "c0");
	g_assert_cmpstr(kc->new_value, ==, "final0");
	kc = reg_change_key(c, "country");
	g_assert_nonnull(kc);
	g_assert_null(kc->old_value);
	g_assert_cmpstr(kc->new_value, ==, "DE");

	c = reg_emission_change(fx, 0, 1);
	g_assert_nonnull(c);
	g_assert_cmpint(c->kind, ==, SCEP_REGISTRY_CHANGE_CHANGED);
	g_assert_cmpuint(c->keys->len, ==, 1);
	kc = reg_change_key(c, "locality");
	g_assert_nonnull(kc);
	g_assert_cmpstr(kc->old_value, ==, "L");
	g_assert_cmpstr(kc->new_value, ==, "L2");
}

static void
test_watch_hidden_temp_ignored(RegFixture *fx, gconstpointer data)
{
	g_autofree gchar *p = reg_write(fx, "registry", K(0, caident) "=base\n", -1);
	reg_watch_start(fx, 100);
	g_free(reg_write(fx, "registry.d/.50-x.tmpXYZ", K(0, caident) "=hidden\n", -1));
	g_free(reg_write(fx, "registry.d/50-x~", K(0, caident) "=backup\n", -1));
	reg_settle(500);
	/* an emission, if any, must not carry a change */
	for (guint i = 0; i < fx->emissions->len; i++)
		g_assert_cmpuint(((GPtrArray *)g_ptr_array_index(fx->emissions, i))->len, ==, 0);
	reg_assert_value(scep_registry_get_snapshot(fx->registry), K(0, caident), "base");
}

static void
test_watch_dropin_dir_replaced_by_rename(RegFixture *fx, gconstpointer data)
{
	g_autofree gchar *p = reg_write(fx, "registry", K(0, caident) "=base\n", -1);
	g_autofree gchar *d = reg_write(fx, "registry.d/50-x", K(0, caident) "=old-dir\n", -1);
	g_autofree gchar *next = g_build_filename(fx->dir, "registry.d.next", NULL);
	g_autofree gchar *prev = g_build_filename(fx->dir, "registry.d.prev", NULL);
	reg_watch_start(fx, 100);
	/* a whole new drop-in directory swapped in by two renames */
	g_free(reg_write(fx, "registry.d.next/50-x", K(0, caident) "=new-dir\n", -1));
	g_assert_cmpint(g_rename(fx->dropins, prev), ==, 0);
	g_assert_cmpint(g_rename(next, fx->dropins), ==, 0);
	g_assert_true(reg_wait_emissions(fx, 1, REG_WAIT_MS));
	reg_settle(300);
	reg_assert_value(scep_registry_get_snapshot(fx->registry), K(0, caident), "new-dir");
	/* the swapped-in directory is the one watched now, not the renamed old one */
	g_free(reg_write(fx, "registry.d.prev/50-x", K(0, caident) "=stale\n", -1));
	g_free(reg_write(fx, "registry.d/50-x", K(0, caident) "=after-swap\n", -1));
	g_assert_true(reg_wait_emissions(fx, fx->emissions->len + 1, REG_WAIT_MS));
	reg_settle(300);
	reg_assert_value(scep_registry_get_snapshot(fx->registry), K(0, caident), "after-swap");
}

/* ---- the committed example registry ---- */

static void
test_fixture_example(void)
{
	g_autofree gchar *dir =
	    g_test_build_filename(G_TEST_DIST, "data", "registry", "example", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepRegistrySnapshot) snap = scep_registry_snapshot_load(dir, &error);
	g_autoptr(GArray) numbers = NULL;
	ScepSettings *s0;
	ScepSettings *s3;
	g_assert_no_error(error);
	reg_dump_problems(snap);
	g_assert_cmpuint(scep_registry_snapshot_get_problems(snap)->len, ==, 0);
	numbers = scep_registry_snapshot_get_instances(snap);
	g_assert_cmpuint(numbers->len, ==, 2);
	s0 = scep_registry_snapshot_get_settings(snap, 0);
	s3 = scep_registry_snapshot_get_settings(snap, 3);
	g_assert_nonnull(s0);
	g_assert_nonnull(s3);
	g_assert_true(s0->enabled);
	g_assert_cmpstr(s0->cafingerprint, ==, "3a9b1c440de567f891abcdef01234567");
	g_assert_cmpstr(s0->ndes_user, ==, "EXAMPLE\\scep-enroll");
	g_assert_cmpstr(s0->ndes_crypt_password, ==, "not-a-real-password");
	g_assert_cmpint(s0->keysize, ==, 3072);
	g_assert_cmpint(s0->renewal_period, ==, 14);
	g_assert_cmpstr(s0->post_install_unit, ==, "nginx.service");
	g_assert_true(scep_settings_has_auto_subject(s0));
	g_assert_cmpstr(s3->crypt_password, ==, " static challenge ");
	g_assert_cmpstr(s3->subjectaltname_type, ==, "UPN");
	g_assert_cmpstr(s3->organizationalunit, ==, "Thin Clients;Lab");
	g_assert_cmpint(s3->keysize, ==, 2048);
}

/* ---- writing ---- */

static void
test_write_keeps_lines(RegFixture *fx, gconstpointer data)
{
	static const gchar before[] =
	    "# managed by hand\n"
	    "\n"
	    "  " K(0, caident) " =  old value  \n"
			       "\t# keep: odd   spacing\t\n" K(
				   0, locality) "=Berlin # literal\n"
						"not a key value line\n" K(1, state) "=\\sBY\n";
	static const gchar after[] =
	    "# managed by hand\n"
	    "\n" K(0, caident) "=new\n"
			       "\t# keep: odd   spacing\t\n" K(
				   0, locality) "=Berlin # literal\n"
						"not a key value line\n" K(1, state) "=\\sBY\n";
	g_autofree gchar *p = reg_write(fx, "registry", before, -1);
	g_autoptr(ScepRegistry) registry = scep_registry_new(fx->dir);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *contents = NULL;
	g_assert_true(scep_registry_set_value(registry, K(0, caident), "new", &error));
	g_assert_no_error(error);
	contents = scep_test_read_file(fx->base);
	g_assert_cmpstr(contents, ==, after);
}

static void
test_write_appends(RegFixture *fx, gconstpointer data)
{
	static const gchar before[] = "# comment\n" K(0, caident) "=x\n";
	g_autofree gchar *p = reg_write(fx, "registry", before, -1);
	g_autoptr(ScepRegistry) registry = scep_registry_new(fx->dir);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *contents = NULL;
	g_assert_true(scep_registry_set_value(registry, K(3, locality), " two\nlines ", &error));
	g_assert_no_error(error);
	contents = scep_test_read_file(fx->base);
	g_assert_cmpstr(
	    contents, ==, "# comment\n" K(0, caident) "=x\n" K(3, locality) "=\\stwo\\nlines\\s\n");
	reg_assert_value(scep_registry_get_snapshot(registry), K(3, locality), " two\nlines ");
}

static void
test_write_appends_without_final_newline(RegFixture *fx, gconstpointer data)
{
	g_autofree gchar *p = reg_write(fx, "registry", "# no newline at the end", -1);
	g_autoptr(ScepRegistry) registry = scep_registry_new(fx->dir);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *contents = NULL;
	g_assert_true(scep_registry_set_value(registry, K(0, locality), "x", &error));
	g_assert_no_error(error);
	contents = scep_test_read_file(fx->base);
	g_assert_cmpstr(contents, ==, "# no newline at the end\n" K(0, locality) "=x\n");
}

static void
test_write_creates_base(RegFixture *fx, gconstpointer data)
{
	g_autoptr(ScepRegistry) registry = scep_registry_new(fx->dir);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *contents = NULL;
	g_assert_true(scep_registry_set_value(registry, K(0, keysize), "4096", &error));
	g_assert_no_error(error);
	contents = scep_test_read_file(fx->base);
	g_assert_cmpstr(contents, ==, K(0, keysize) "=4096\n");
}

static void
test_write_winning_dropin(RegFixture *fx, gconstpointer data)
{
	static const gchar base[] = K(0, caident) "=base\n";
	static const gchar early[] = K(0, caident) "=early\n";
	g_autofree gchar *p = reg_write(fx, "registry", base, -1);
	g_autofree gchar *e = reg_write(fx, "registry.d/10-early", early, -1);
	g_autofree gchar *w =
	    reg_write(fx, "registry.d/50-win", "# pushed\n" K(0, caident) "=win\n", -1);
	g_autoptr(ScepRegistry) registry = scep_registry_new(fx->dir);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *c_base = NULL;
	g_autofree gchar *c_early = NULL;
	g_autofree gchar *c_win = NULL;
	g_assert_true(scep_registry_set_value(registry, K(0, caident), "changed", &error));
	g_assert_no_error(error);
	c_base = scep_test_read_file(p);
	c_early = scep_test_read_file(e);
	c_win = scep_test_read_file(w);
	g_assert_cmpstr(c_base, ==, base);
	g_assert_cmpstr(c_early, ==, early);
	g_assert_cmpstr(c_win, ==, "# pushed\n" K(0, caident) "=changed\n");
	reg_assert_value(scep_registry_get_snapshot(registry), K(0, caident), "changed");
}

/* writes tell listeners like file pushes do: one "changed" per call, with the final values */
static void
test_write_emits_changed(RegFixture *fx, gconstpointer data)
{
	g_autofree gchar *p = reg_write(fx, "registry", K(0, caident) "=base\n", -1);
	g_autofree gchar *a = reg_write(fx, "registry.d/10-a", K(0, caident) "=a\n", -1);
	g_autoptr(ScepRegistry) registry = scep_registry_new(fx->dir);
	g_autoptr(GError) error = NULL;
	const gchar *keys[] = { K(0, locality), K(1, caident), NULL };
	const gchar *values[] = { "Berlin", "x", NULL };
	ScepRegistryChange *change;
	ScepRegistryKeyChange *kc;

	g_assert_true(scep_registry_load(registry, &error));
	g_assert_no_error(error);
	g_signal_connect(registry, "changed", G_CALLBACK(reg_changed_cb), fx);

	/* two keys, two instances: one emission */
	g_assert_true(scep_registry_set_values(registry, keys, values, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(fx->emissions->len, ==, 1);
	g_assert_cmpuint(((GPtrArray *)g_ptr_array_index(fx->emissions, 0))->len, ==, 2);

	/* a key set in two files: one change from the winning value straight to unset */
	g_assert_true(scep_registry_unset_value(registry, K(0, caident), &error));
	g_assert_no_error(error);
	g_assert_cmpuint(fx->emissions->len, ==, 2);
	g_assert_cmpuint(((GPtrArray *)g_ptr_array_index(fx->emissions, 1))->len, ==, 1);
	change = g_ptr_array_index((GPtrArray *)g_ptr_array_index(fx->emissions, 1), 0);
	g_assert_cmpuint(change->keys->len, ==, 1);
	kc = g_ptr_array_index(change->keys, 0);
	g_assert_cmpstr(kc->old_value, ==, "a");
	g_assert_null(kc->new_value);

	/* an invalid value anywhere: nothing written, nothing emitted */
	values[1] = "";
	keys[0] = K(0, keysize);
	values[0] = "1024";
	g_assert_false(scep_registry_set_values(registry, keys, values, &error));
	g_assert_error(error, SCEP_REGISTRY_ERROR, SCEP_REGISTRY_ERROR_INVALID_VALUE);
	g_assert_cmpuint(fx->emissions->len, ==, 2);
}

static void
test_write_unset_everywhere(RegFixture *fx, gconstpointer data)
{
	g_autofree gchar *p =
	    reg_write(fx, "registry", "# c\n" K(0, caident) "=base\n" K(0, locality) "=L\n", -1);
	g_autofree gchar *a =
	    reg_write(fx, "registry.d/10-a", K(0, caident) "=a\n" K(0, caident) "=a2\n", -1);
	g_autofree gchar *b = reg_write(fx, "registry.d/20-b", K(0, caident) "=b\n# end\n", -1);
	g_autoptr(ScepRegistry) registry = scep_registry_new(fx->dir);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *c_base = NULL;
	g_autofree gchar *c_a = NULL;
	g_autofree gchar *c_b = NULL;
	g_assert_true(scep_registry_unset_value(registry, K(0, caident), &error));
	g_assert_no_error(error);
	c_base = scep_test_read_file(p);
	c_a = scep_test_read_file(a);
	c_b = scep_test_read_file(b);
	g_assert_cmpstr(c_base, ==, "# c\n" K(0, locality) "=L\n");
	g_assert_cmpstr(c_a, ==, "");
	g_assert_cmpstr(c_b, ==, "# end\n");
	reg_assert_value(scep_registry_get_snapshot(registry), K(0, caident), NULL);
	/* a second unset says it is not set */
	g_assert_false(scep_registry_unset_value(registry, K(0, caident), &error));
	g_assert_error(error, SCEP_REGISTRY_ERROR, SCEP_REGISTRY_ERROR_NOT_FOUND);
}

static void
test_write_unset_bom_first_line(RegFixture *fx, gconstpointer data)
{
	g_autofree gchar *p = reg_write(
	    fx, "registry", "\xef\xbb\xbf" K(0, caident) "=x\n" K(0, locality) "=L\n", -1);
	g_autoptr(ScepRegistry) registry = scep_registry_new(fx->dir);
	g_autoptr(GError) error = NULL;
	gboolean ok = scep_registry_unset_value(registry, K(0, caident), &error);
	g_assert_no_error(error);
	g_assert_true(ok);
	reg_assert_value(scep_registry_get_snapshot(registry), K(0, caident), NULL);
}

static void
test_write_set_bom_first_line(RegFixture *fx, gconstpointer data)
{
	g_autofree gchar *p = reg_write(fx, "registry", "\xef\xbb\xbf" K(0, caident) "=x\n", -1);
	g_autoptr(ScepRegistry) registry = scep_registry_new(fx->dir);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *contents = NULL;
	g_assert_true(scep_registry_set_value(registry, K(0, caident), "y", &error));
	g_assert_no_error(error);
	/* replaced in place, not appended as a duplicate */
	contents = scep_test_read_file(p);
	g_assert_cmpstr(contents, ==, "\xef\xbb\xbf" K(0, caident) "=y\n");
	g_assert_cmpuint(
	    scep_registry_snapshot_get_problems(scep_registry_get_snapshot(registry))->len, ==, 0);
}

static void
test_write_invalid_refused(RegFixture *fx, gconstpointer data)
{
	static const gchar before[] = K(0, keysize) "=2048\n";
	g_autofree gchar *p = reg_write(fx, "registry", before, -1);
	g_autoptr(ScepRegistry) registry = scep_registry_new(fx->dir);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *contents = NULL;
	g_assert_false(scep_registry_set_value(registry, K(0, keysize), "1024", &error));
	g_assert_error(error, SCEP_REGISTRY_ERROR, SCEP_REGISTRY_ERROR_INVALID_VALUE);
	g_clear_error(&error);
	g_assert_false(scep_registry_set_value(registry, K(0, renewl_period), "3", &error));
	g_assert_error(error, SCEP_REGISTRY_ERROR, SCEP_REGISTRY_ERROR_UNKNOWN_KEY);
	g_assert_nonnull(strstr(error->message, "renewal_period"));
	contents = scep_test_read_file(p);
	g_assert_cmpstr(contents, ==, before);
}

static void
test_write_mode(RegFixture *fx, gconstpointer data)
{
	g_autofree gchar *p = reg_write(fx, "registry", K(0, caident) "=x\n", -1);
	g_autofree gchar *d = reg_write(fx, "registry.d/50-x", K(0, locality) "=x\n", -1);
	g_autoptr(ScepRegistry) registry = scep_registry_new(fx->dir);
	g_autoptr(GError) error = NULL;
	GStatBuf st;
	g_assert_cmpint(g_chmod(p, 0644), ==, 0);
	g_assert_cmpint(g_chmod(d, 0664), ==, 0);
	g_assert_true(scep_registry_set_value(registry, K(0, caident), "y", &error));
	g_assert_no_error(error);
	g_assert_true(scep_registry_set_value(registry, K(0, locality), "y", &error));
	g_assert_no_error(error);
	g_assert_cmpint(g_stat(p, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 07777, ==, 0600);
	g_assert_cmpint(g_stat(d, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 07777, ==, 0600);
}

/* g_test_add() casts the fixture functions */
#define reg_add(path, func)                                                                        \
	g_test_add(path, RegFixture, NULL, reg_fixture_set_up, func, reg_fixture_tear_down)

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
	g_assert_true(scep_registry_schema_ensure_loaded(&error));
	g_assert_no_error(error);

	reg_add("/scep/registry/syntax/comments-blank-white-space",
		test_syntax_comments_blank_white_space);
	reg_add("/scep/registry/syntax/bom", test_syntax_bom);
	reg_add("/scep/registry/syntax/equals-in-value", test_syntax_equals_in_value);
	reg_add("/scep/registry/syntax/hash-in-value", test_syntax_hash_in_value);
	reg_add("/scep/registry/syntax/escapes", test_syntax_escapes);
	reg_add("/scep/registry/syntax/bad-escapes", test_syntax_bad_escapes);
	reg_add("/scep/registry/syntax/no-equals", test_syntax_no_equals);
	reg_add("/scep/registry/syntax/invalid-utf8", test_syntax_invalid_utf8);
	reg_add("/scep/registry/syntax/nul-byte", test_syntax_nul_byte);
	reg_add("/scep/registry/syntax/overlong-line", test_syntax_overlong_line);
	reg_add("/scep/registry/syntax/broken-line-invalidates-instance",
		test_syntax_broken_line_invalidates_instance);
	reg_add("/scep/registry/syntax/escape-round-trip", test_syntax_escape_round_trip);

	for (guint i = 0; i < G_N_ELEMENTS(reg_invalid_cases); i++) {
		g_test_add(reg_invalid_cases[i].path,
			   RegFixture,
			   &reg_invalid_cases[i],
			   reg_fixture_set_up,
			   test_validate_invalid,
			   reg_fixture_tear_down);
	}
	reg_add("/scep/registry/validate/enum-case-insensitive",
		test_validate_enum_case_insensitive);
	reg_add("/scep/registry/validate/eku-oid", test_validate_eku_oid);
	reg_add("/scep/registry/validate/normalized", test_validate_normalized);
	reg_add("/scep/registry/validate/secret-masked", test_validate_secret_masked);
	reg_add("/scep/registry/validate/unknown-key", test_validate_unknown_key);

	reg_add("/scep/registry/defaults", test_defaults);
	g_test_add_func("/scep/registry/schema/fields-agree", test_schema_fields_agree);
	g_test_add_func("/scep/registry/schema/secrets", test_schema_secrets);
	g_test_add_func("/scep/registry/schema/defaults-normalize", test_schema_defaults_normalize);

	reg_add("/scep/registry/instances/sparse", test_instances_sparse);
	reg_add("/scep/registry/instances/leading-zero", test_instances_leading_zero);
	reg_add("/scep/registry/instances/bad-one-isolated", test_instances_bad_one_isolated);

	reg_add("/scep/registry/override/order", test_override_order);
	reg_add("/scep/registry/override/ignored-files", test_override_ignored_files);
	reg_add("/scep/registry/override/same-file-later-wins", test_override_same_file_later_wins);

	reg_add("/scep/registry/watch/atomic-replace", test_watch_atomic_replace);
	reg_add("/scep/registry/watch/in-place-rewrite", test_watch_in_place_rewrite);
	reg_add("/scep/registry/watch/dropin-delete-recreate", test_watch_dropin_delete_recreate);
	reg_add("/scep/registry/watch/dropin-dir-delete-recreate",
		test_watch_dropin_dir_delete_recreate);
	reg_add("/scep/registry/watch/dropin-added", test_watch_dropin_added);
	reg_add("/scep/registry/watch/instances-added-removed", test_watch_instances_added_removed);
	reg_add("/scep/registry/watch/burst", test_watch_burst);
	reg_add("/scep/registry/watch/hidden-temp-ignored", test_watch_hidden_temp_ignored);
	reg_add("/scep/registry/watch/dropin-dir-replaced-by-rename",
		test_watch_dropin_dir_replaced_by_rename);
	g_test_add_func("/scep/registry/fixture/example", test_fixture_example);

	reg_add("/scep/registry/write/keeps-lines", test_write_keeps_lines);
	reg_add("/scep/registry/write/appends", test_write_appends);
	reg_add("/scep/registry/write/appends-without-final-newline",
		test_write_appends_without_final_newline);
	reg_add("/scep/registry/write/creates-base", test_write_creates_base);
	reg_add("/scep/registry/write/winning-dropin", test_write_winning_dropin);
	reg_add("/scep/registry/write/unset-everywhere", test_write_unset_everywhere);
	reg_add("/scep/registry/write/emits-changed", test_write_emits_changed);
	reg_add("/scep/registry/write/unset-bom-first-line", test_write_unset_bom_first_line);
	reg_add("/scep/registry/write/set-bom-first-line", test_write_set_bom_first_line);
	reg_add("/scep/registry/write/invalid-refused", test_write_invalid_refused);
	reg_add("/scep/registry/write/mode", test_write_mode);

	return g_test_run();
}
