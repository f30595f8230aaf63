#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "scep-registry.h"

/* exit codes, documented in --help and README.md */
enum {
	SCEP_REGISTRY_EXIT_OK = 0,
	SCEP_REGISTRY_EXIT_FAILED = 1,  /* check found errors, or a file could not be used */
	SCEP_REGISTRY_EXIT_USAGE = 2,   /* bad command line, unknown key, invalid value */
	SCEP_REGISTRY_EXIT_NOT_SET = 3, /* unset of a key that is not set */
};

#define SCEP_REGISTRY_SECRET_MASK "********"

static gint scep_registry_tool_error(gint code, const gchar *format, ...) G_GNUC_PRINTF(2, 3);

static gint
scep_registry_tool_error(gint code, const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *msg = NULL;
	va_start(args, format);
	msg = g_strdup_vprintf(format, args);
	va_end(args);
	g_printerr("scep-registry: %s\n", msg);
	return code;
}

static gint
scep_registry_tool_exit_for_error(const GError *error)
{
	if (g_error_matches(error, SCEP_REGISTRY_ERROR, SCEP_REGISTRY_ERROR_UNKNOWN_KEY) ||
	    g_error_matches(error, SCEP_REGISTRY_ERROR, SCEP_REGISTRY_ERROR_INVALID_VALUE))
		return SCEP_REGISTRY_EXIT_USAGE;
	if (g_error_matches(error, SCEP_REGISTRY_ERROR, SCEP_REGISTRY_ERROR_NOT_FOUND))
		return SCEP_REGISTRY_EXIT_NOT_SET;
	return SCEP_REGISTRY_EXIT_FAILED;
}

/* short names (keysize) and template names (cert%.keysize) are accepted where a key is asked */
static const ScepRegistryKey *
scep_registry_tool_lookup_any(const gchar *text)
{
	const gchar *name = NULL;
	guint n = 0;
	const gchar *pct = SCEP_REGISTRY_KEY_PREFIX "%.";
	if (scep_registry_parse_key(text, &n, &name))
		return scep_registry_schema_lookup(name);
	if (g_str_has_prefix(text, pct))
		return scep_registry_schema_lookup(text + strlen(pct));
	return scep_registry_schema_lookup(text);
}

static gboolean
scep_registry_tool_is_secret(const gchar *full_key)
{
	const ScepRegistryKey *key = scep_registry_tool_lookup_any(full_key);
	if (key != NULL)
		return key->secret;
	return strstr(full_key, "crypt_") != NULL;
}

static gint
scep_registry_tool_get(ScepRegistry *registry, const gchar *full_key)
{
	ScepRegistrySnapshot *snapshot = scep_registry_get_snapshot(registry);
	const gchar *name = NULL;
	const ScepRegistryKey *key = NULL;
	const gchar *value;
	guint n = 0;

	if (scep_registry_parse_key(full_key, &n, &name))
		key = scep_registry_schema_lookup(name);
	value = scep_registry_snapshot_lookup(snapshot, full_key, NULL, NULL);
	if (value == NULL && key == NULL) {
		const gchar *suggestion = name != NULL ? scep_registry_schema_suggest(name) : NULL;
		if (suggestion != NULL)
			return scep_registry_tool_error(SCEP_REGISTRY_EXIT_USAGE,
							_("%s: unknown key; did you mean %s?"),
							full_key,
							suggestion);
		return scep_registry_tool_error(
		    SCEP_REGISTRY_EXIT_USAGE, _("%s: unknown key"), full_key);
	}
	if (value == NULL)
		value = key->default_value;
	if (scep_registry_tool_is_secret(full_key))
		value = value[0] != '\0' ? SCEP_REGISTRY_SECRET_MASK : "";
	g_print("%s\n", value);
	return SCEP_REGISTRY_EXIT_OK;
}

/* a secret comes from a terminal prompt without echo, or from standard input */
static gchar *
scep_registry_tool_read_secret(const gchar *full_key, GError **error)
{
	g_autoptr(GString) secret = g_string_new(NULL);
	gboolean tty = isatty(STDIN_FILENO);
	struct termios old_tio, new_tio;
	int c;

	if (tty) {
		g_printerr(_("Value of %s (not shown): "), full_key);
		if (tcgetattr(STDIN_FILENO, &old_tio) == 0) {
			new_tio = old_tio;
			new_tio.c_lflag &= ~(tcflag_t)ECHO;
			tcsetattr(STDIN_FILENO, TCSANOW, &new_tio);
		}
	}
	while ((c = getchar()) != EOF) {
		if (tty && c == '\n')
			break;
		g_string_append_c(secret, (gchar)c);
	}
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &old_tio);
		g_printerr("\n");
	}
	/* one final newline from `echo` or a file is not part of the secret */
	if (secret->len > 0 && secret->str[secret->len - 1] == '\n')
		g_string_truncate(secret, secret->len - 1);
	if (secret->len > 0 && secret->str[secret->len - 1] == '\r')
		g_string_truncate(secret, secret->len - 1);
	if (secret->len == 0) {
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_INVALID_VALUE,
			    "%s",
			    _("no value given on standard input"));
		return NULL;
	}
	return g_string_free(g_steal_pointer(&secret), FALSE);
}

static gint
scep_registry_tool_set(ScepRegistry *registry, gchar **args, guint n_args)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *secret = NULL;
	const gchar *full_key = args[0];
	const gchar *value;

	if (scep_registry_tool_is_secret(full_key)) {
		if (n_args != 1)
			return scep_registry_tool_error(
			    SCEP_REGISTRY_EXIT_USAGE,
			    _("%s is a secret: it is read from standard input or a prompt, "
			      "never from the command line"),
			    full_key);
		secret = scep_registry_tool_read_secret(full_key, &error);
		if (secret == NULL)
			return scep_registry_tool_error(
			    SCEP_REGISTRY_EXIT_USAGE, "%s", error->message);
		value = secret;
	} else {
		if (n_args != 2)
			return scep_registry_tool_error(SCEP_REGISTRY_EXIT_USAGE,
							_("usage: scep-registry set KEY VALUE"));
		value = args[1];
	}
	if (!scep_registry_set_value(registry, full_key, value, &error)) {
		if (secret != NULL)
			memset(secret, 0, strlen(secret));
		return scep_registry_tool_error(
		    scep_registry_tool_exit_for_error(error), "%s", error->message);
	}
	if (secret != NULL)
		memset(secret, 0, strlen(secret));
	return SCEP_REGISTRY_EXIT_OK;
}

static gint
scep_registry_tool_unset(ScepRegistry *registry, const gchar *full_key)
{
	g_autoptr(GError) error = NULL;
	if (!scep_registry_unset_value(registry, full_key, &error))
		return scep_registry_tool_error(
		    scep_registry_tool_exit_for_error(error), "%s", error->message);
	return SCEP_REGISTRY_EXIT_OK;
}

static gint
scep_registry_tool_list(ScepRegistry *registry, const gchar *prefix)
{
	g_autoptr(GPtrArray) entries =
	    scep_registry_snapshot_list(scep_registry_get_snapshot(registry), prefix);
	for (guint i = 0; i < entries->len; i++) {
		ScepRegistryEntry *entry = g_ptr_array_index(entries, i);
		g_autofree gchar *escaped = scep_registry_escape(entry->value);
		g_print("%s=%s\n",
			entry->key,
			entry->secret && entry->value[0] != '\0' ? SCEP_REGISTRY_SECRET_MASK
								 : escaped);
	}
	return SCEP_REGISTRY_EXIT_OK;
}

static gint
scep_registry_tool_instances(ScepRegistry *registry)
{
	ScepRegistrySnapshot *snapshot = scep_registry_get_snapshot(registry);
	g_autoptr(GArray) numbers = scep_registry_snapshot_get_instances(snapshot);
	for (guint i = 0; i < numbers->len; i++) {
		guint n = g_array_index(numbers, guint, i);
		ScepSettings *settings = scep_registry_snapshot_get_settings(snapshot, n);
		if (settings == NULL)
			g_print(_("cert%u\tunconfigured: %s\n"),
				n,
				scep_registry_snapshot_get_invalid_reason(snapshot, n));
		else if (settings->enabled)
			g_print(_("cert%u\tenabled\n"), n);
		else
			g_print(_("cert%u\tdisabled\n"), n);
	}
	return SCEP_REGISTRY_EXIT_OK;
}

static gint
scep_registry_tool_describe(const gchar *text)
{
	const ScepRegistryKey *key = scep_registry_tool_lookup_any(text);
	g_autofree gchar *expected = NULL;
	if (key == NULL) {
		const gchar *suggestion = scep_registry_schema_suggest(text);
		if (suggestion != NULL)
			return scep_registry_tool_error(SCEP_REGISTRY_EXIT_USAGE,
							_("%s: unknown key; did you mean %s?"),
							text,
							suggestion);
		return scep_registry_tool_error(
		    SCEP_REGISTRY_EXIT_USAGE, _("%s: unknown key"), text);
	}
	expected = scep_registry_key_describe_expected(key);
	g_print("%s%%.%s\n", SCEP_REGISTRY_KEY_PREFIX, key->name);
	g_print(_("  Summary:   %s\n"), key->summary);
	g_print(_("  Type:      %s\n"), scep_registry_key_type_to_string(key->type));
	g_print(_("  Accepts:   %s\n"), expected);
	g_print(_("  Default:   %s\n"),
		key->default_value[0] != '\0' ? key->default_value : "\"\"");
	g_print(_("  Secret:    %s\n"), key->secret ? _("yes") : _("no"));
	g_print(_("  On change: %s\n"), key->change);
	g_print(_("  Origin:    %s\n"), key->origin);
	g_print("\n  %s\n", key->description);
	return SCEP_REGISTRY_EXIT_OK;
}

/* secrets written in clear (a pushed file) work, but `set` would encrypt them: one warning each */
static guint
scep_registry_tool_check_clear_secrets(ScepRegistrySnapshot *snapshot)
{
	g_autoptr(GArray) numbers = scep_registry_snapshot_get_instances(snapshot);
	guint n_keys = scep_registry_schema_get_n_keys();
	guint warnings = 0;
	for (guint i = 0; i < numbers->len; i++) {
		guint n = g_array_index(numbers, guint, i);
		for (guint k = 0; k < n_keys; k++) {
			const ScepRegistryKey *key = scep_registry_schema_get_key(k);
			ScepRegistryProblem problem = { SCEP_REGISTRY_PROBLEM_WARNING };
			g_autofree gchar *full_key = NULL;
			g_autofree gchar *line = NULL;
			const gchar *file = NULL;
			const gchar *value;
			if (!key->secret)
				continue;
			value =
			    scep_registry_snapshot_get_raw(snapshot, n, k, &file, &problem.line);
			if (value == NULL || value[0] == '\0' ||
			    scep_registry_snapshot_is_encrypted(snapshot, n, k))
				continue;
			full_key = scep_registry_make_key(n, key->name);
			problem.file = (gchar *)file;
			problem.key = full_key;
			problem.instance = (gint)n;
			problem.message =
			    (gchar *)"stored in clear; `scep-registry set` encrypts it";
			line = scep_registry_problem_to_string(&problem);
			g_print("%s\n", line);
			warnings++;
		}
	}
	return warnings;
}

static gint
scep_registry_tool_check(ScepRegistry *registry)
{
	ScepRegistrySnapshot *snapshot = scep_registry_get_snapshot(registry);
	GPtrArray *problems = scep_registry_snapshot_get_problems(snapshot);
	guint errors = scep_registry_snapshot_count_errors(snapshot);
	guint clear;
	for (guint i = 0; i < problems->len; i++) {
		g_autofree gchar *line =
		    scep_registry_problem_to_string(g_ptr_array_index(problems, i));
		g_print("%s\n", line);
	}
	clear = scep_registry_tool_check_clear_secrets(snapshot);
	g_printerr(_("%u errors, %u warnings\n"), errors, problems->len - errors + clear);
	return errors > 0 ? SCEP_REGISTRY_EXIT_FAILED : SCEP_REGISTRY_EXIT_OK;
}

int
main(int argc, char **argv)
{
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepRegistry) registry = NULL;
	g_autofree gchar *registry_dir = NULL;
	g_autofree gchar *summary = NULL;
	const gchar *command;
	guint n_args;
	const GOptionEntry entries[] = {
		{ "registry-dir",
		  'd',
		  0,
		  G_OPTION_ARG_FILENAME,
		  &registry_dir,
		  N_("Registry directory (default /etc/scep-agent)"),
		  N_("DIR") },
		{ NULL },
	};

	setlocale(LC_ALL, "");
	bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);

	context = g_option_context_new(_("COMMAND [ARGUMENTS]"));
	summary = g_strdup_printf(
	    "%s\n\n%s",
	    _("Read and edit the scep-agent registry (network.scepclient.certN.* keys)."),
	    _("Commands:\n"
	      "  get KEY             print the value (the default when unset)\n"
	      "  set KEY VALUE       set a value; secrets (crypt_*) are read from\n"
	      "                      standard input or a prompt instead\n"
	      "  unset KEY           remove a key from every registry file\n"
	      "  list [PREFIX]       print every key set, KEY=VALUE\n"
	      "  instances           print each instance and its state\n"
	      "  describe KEY        explain a key from the schema\n"
	      "  check               validate; print FILE:LINE: KEY: message\n"
	      "\n"
	      "Exit status: 0 success, 1 errors found or a file could not be used,\n"
	      "2 usage error, unknown key or invalid value, 3 key not set.\n"
	      "Secret values are never printed."));
	g_option_context_set_summary(context, summary);
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
	if (!g_option_context_parse(context, &argc, &argv, &error))
		return scep_registry_tool_error(SCEP_REGISTRY_EXIT_USAGE, "%s", error->message);
	if (argc < 2)
		return scep_registry_tool_error(SCEP_REGISTRY_EXIT_USAGE,
						_("no command given; see --help"));
	command = argv[1];
	n_args = (guint)argc - 2;

	if (!scep_registry_schema_ensure_loaded(&error))
		return scep_registry_tool_error(SCEP_REGISTRY_EXIT_FAILED, "%s", error->message);
	if (g_strcmp0(command, "describe") == 0) {
		if (n_args != 1)
			return scep_registry_tool_error(SCEP_REGISTRY_EXIT_USAGE,
							_("usage: scep-registry describe KEY"));
		return scep_registry_tool_describe(argv[2]);
	}

	registry = scep_registry_new(registry_dir);
	if (!scep_registry_load(registry, &error))
		return scep_registry_tool_error(SCEP_REGISTRY_EXIT_FAILED, "%s", error->message);

	if (g_strcmp0(command, "get") == 0) {
		if (n_args != 1)
			return scep_registry_tool_error(SCEP_REGISTRY_EXIT_USAGE,
							_("usage: scep-registry get KEY"));
		return scep_registry_tool_get(registry, argv[2]);
	}
	if (g_strcmp0(command, "set") == 0) {
		if (n_args < 1 || n_args > 2)
			return scep_registry_tool_error(SCEP_REGISTRY_EXIT_USAGE,
							_("usage: scep-registry set KEY VALUE"));
		return scep_registry_tool_set(registry, argv + 2, n_args);
	}
	if (g_strcmp0(command, "unset") == 0) {
		if (n_args != 1)
			return scep_registry_tool_error(SCEP_REGISTRY_EXIT_USAGE,
							_("usage: scep-registry unset KEY"));
		return scep_registry_tool_unset(registry, argv[2]);
	}
	if (g_strcmp0(command, "list") == 0) {
		if (n_args > 1)
			return scep_registry_tool_error(SCEP_REGISTRY_EXIT_USAGE,
							_("usage: scep-registry list [PREFIX]"));
		return scep_registry_tool_list(registry, n_args == 1 ? argv[2] : NULL);
	}
	if (g_strcmp0(command, "instances") == 0)
		return scep_registry_tool_instances(registry);
	if (g_strcmp0(command, "check") == 0)
		return scep_registry_tool_check(registry);
	return scep_registry_tool_error(
	    SCEP_REGISTRY_EXIT_USAGE, _("unknown command '%s'; see --help"), command);
}
