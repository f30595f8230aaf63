#include "config.h"

#include "scep-registry-snapshot.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "scep-registry-error.h"
#include "scep-registry-secret.h"
#include "scep-settings-private.h"

/* longest accepted line; a longer one is an error, not a truncation */
#define SCEP_REGISTRY_MAX_LINE (64 * 1024)

typedef struct {
	guint32 file; /* index into files */
	guint32 line;
} ScepRegistryOrigin;

typedef struct {
	guint number;
	const gchar **values;        /* n_keys, in strings or the schema; NULL = unset */
	ScepRegistryOrigin *origins; /* n_keys */
	ScepSettings *settings;      /* nullable: NULL when invalid */
	gchar *reason;               /* nullable: the first error */
} ScepRegistryInstance;

typedef struct {
	gchar *key;
	gchar *value;
	ScepRegistryOrigin origin;
} ScepRegistryForeign;

struct _ScepRegistrySnapshot {
	gint ref_count;
	gchar *dir;
	GPtrArray *files;      /* gchar*, paths read */
	GHashTable *instances; /* &number -> ScepRegistryInstance */
	GPtrArray *foreign;    /* ScepRegistryForeign: keys the schema does not know */
	GPtrArray *problems;   /* ScepRegistryProblem */
	GStringChunk *strings; /* every value, deduplicated */
	GPtrArray *secrets;    /* gchar*: decrypted enc:v1: values, apart from strings, wiped */
	ScepRegistrySecretKey *secret_key; /* nullable: read at the first enc:v1: value */
	guint n_keys;
};

void
scep_registry_problem_free(ScepRegistryProblem *problem)
{
	g_free(problem->file);
	g_free(problem->key);
	g_free(problem->message);
	g_free(problem);
}

/**
 * scep_registry_problem_to_string:
 *
 * Returns: the problem as FILE:LINE: KEY: message, leaving out what is unknown
 */
gchar *
scep_registry_problem_to_string(const ScepRegistryProblem *problem)
{
	GString *str = g_string_new(NULL);
	if (problem->file != NULL) {
		g_string_append(str, problem->file);
		if (problem->line > 0)
			g_string_append_printf(str, ":%u", problem->line);
		g_string_append(str, ": ");
	}
	if (problem->key != NULL)
		g_string_append_printf(str, "%s: ", problem->key);
	if (problem->severity == SCEP_REGISTRY_PROBLEM_WARNING)
		g_string_append(str, "warning: ");
	g_string_append(str, problem->message);
	return g_string_free(str, FALSE);
}

void
scep_registry_entry_free(ScepRegistryEntry *entry)
{
	g_free(entry->key);
	/* a secret's value is plaintext (decrypted on load): wiped, not just released */
	if (entry->secret)
		scep_registry_secret_free(g_steal_pointer(&entry->value));
	g_free(entry->value);
	g_free(entry);
}

static void
scep_registry_instance_free(ScepRegistryInstance *inst)
{
	g_free(inst->origins);
	g_free(inst->reason);
	if (inst->settings != NULL)
		scep_settings_free(inst->settings);
	g_free(inst);
}

static void
scep_registry_foreign_free(ScepRegistryForeign *f)
{
	g_free(f->key);
	g_free(f->value);
	g_free(f);
}

ScepRegistrySnapshot *
scep_registry_snapshot_ref(ScepRegistrySnapshot *self)
{
	g_atomic_int_inc(&self->ref_count);
	return self;
}

void
scep_registry_snapshot_unref(ScepRegistrySnapshot *self)
{
	GHashTableIter iter;
	gpointer value;
	if (!g_atomic_int_dec_and_test(&self->ref_count))
		return;
	g_hash_table_iter_init(&iter, self->instances);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		ScepRegistryInstance *inst = value;
		/* secrets are wiped, not just released */
		for (guint i = 0; i < self->n_keys; i++) {
			if (inst->values[i] != NULL && scep_registry_schema_get_key(i)->secret)
				memset((gchar *)inst->values[i], 0, strlen(inst->values[i]));
		}
		g_free(inst->values);
		scep_registry_instance_free(inst);
	}
	g_hash_table_unref(self->instances);
	g_ptr_array_unref(self->secrets);
	g_clear_pointer(&self->secret_key, scep_registry_secret_key_free);
	g_ptr_array_unref(self->files);
	g_ptr_array_unref(self->foreign);
	g_ptr_array_unref(self->problems);
	g_string_chunk_free(self->strings);
	g_free(self->dir);
	g_free(self);
}

gchar *
scep_registry_make_key(guint instance, const gchar *name)
{
	return g_strdup_printf(SCEP_REGISTRY_KEY_PREFIX "%u.%s", instance, name);
}

/**
 * scep_registry_unescape:
 * @text: a value as written in a registry file, surrounding white space removed
 *
 * Resolves the escapes: \\ backslash, \n newline, \t tab, \r carriage
 * return, \s space (to keep leading or trailing spaces) and \xHH any byte.
 * Anything else after a backslash, or a backslash at the end, is an error.
 */
gchar *
scep_registry_unescape(const gchar *text, GError **error)
{
	g_autoptr(GString) out = NULL;
	const gchar *bs = strchr(text, '\\');
	if (bs == NULL)
		return g_strdup(text);
	out = g_string_new_len(text, bs - text);
	for (const gchar *p = bs; *p != '\0'; p++) {
		if (*p != '\\') {
			g_string_append_c(out, *p);
			continue;
		}
		p++;
		switch (*p) {
		case '\\':
			g_string_append_c(out, '\\');
			break;
		case 'n':
			g_string_append_c(out, '\n');
			break;
		case 't':
			g_string_append_c(out, '\t');
			break;
		case 'r':
			g_string_append_c(out, '\r');
			break;
		case 's':
			g_string_append_c(out, ' ');
			break;
		case 'x': {
			gint hi = g_ascii_xdigit_value(p[1]);
			gint lo = hi >= 0 ? g_ascii_xdigit_value(p[2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				g_set_error_literal(error,
						    SCEP_REGISTRY_ERROR,
						    SCEP_REGISTRY_ERROR_SYNTAX,
						    "bad escape: \\x needs two hex digits, not 00");
				return NULL;
			}
			g_string_append_c(out, (gchar)(hi * 16 + lo));
			p += 2;
			break;
		}
		case '\0':
			g_set_error_literal(error,
					    SCEP_REGISTRY_ERROR,
					    SCEP_REGISTRY_ERROR_SYNTAX,
					    "bad escape: backslash at the end of the line");
			return NULL;
		default:
			g_set_error(error,
				    SCEP_REGISTRY_ERROR,
				    SCEP_REGISTRY_ERROR_SYNTAX,
				    "bad escape '\\%c' (known: \\\\ \\n \\t \\r \\s \\xHH)",
				    *p);
			return NULL;
		}
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/**
 * scep_registry_escape:
 *
 * The inverse of scep_registry_unescape(): the value as it must be written
 * so that reading it back gives @value.
 */
gchar *
scep_registry_escape(const gchar *value)
{
	GString *out = g_string_new(NULL);
	gsize len = strlen(value);
	for (gsize i = 0; i < len; i++) {
		guchar c = (guchar)value[i];
		if (c == '\\')
			g_string_append(out, "\\\\");
		else if (c == '\n')
			g_string_append(out, "\\n");
		else if (c == '\t')
			g_string_append(out, "\\t");
		else if (c == '\r')
			g_string_append(out, "\\r");
		else if (c == ' ' && (i == 0 || i == len - 1))
			g_string_append(out, "\\s");
		else if (c < 0x20 || c == 0x7f)
			g_string_append_printf(out, "\\x%02x", c);
		else
			g_string_append_c(out, (gchar)c);
	}
	return g_string_free(out, FALSE);
}

void
scep_registry_snapshot_add_problem(ScepRegistrySnapshot *self,
				   ScepRegistryProblemSeverity severity,
				   guint instance,
				   guint key_index,
				   const gchar *format,
				   ...)
{
	ScepRegistryInstance *inst = g_hash_table_lookup(self->instances, &instance);
	ScepRegistryProblem *problem = g_new0(ScepRegistryProblem, 1);
	va_list args;

	va_start(args, format);
	problem->message = g_strdup_vprintf(format, args);
	va_end(args);
	problem->severity = severity;
	problem->instance = (gint)instance;
	if (key_index != G_MAXUINT) {
		const ScepRegistryKey *key = scep_registry_schema_get_key(key_index);
		problem->key = scep_registry_make_key(instance, key->name);
		if (inst != NULL) {
			/* a missing key has no line: point at the line that enabled the
			 * instance, or at any line of it, so that the file is named */
			guint at = key_index;
			const ScepRegistryKey *enabled = scep_registry_schema_lookup("enabled");
			if (inst->values[at] == NULL && enabled != NULL)
				at = enabled->index;
			for (guint k = 0; inst->values[at] == NULL && k < self->n_keys; k++)
				at = k;
			if (inst->values[at] != NULL) {
				ScepRegistryOrigin *o = &inst->origins[at];
				problem->file = g_strdup(g_ptr_array_index(self->files, o->file));
				problem->line = o->line;
			}
		}
	}
	if (severity == SCEP_REGISTRY_PROBLEM_ERROR && inst != NULL && inst->reason == NULL) {
		inst->reason = problem->key != NULL
				   ? g_strdup_printf("%s: %s",
						     scep_registry_schema_get_key(key_index)->name,
						     problem->message)
				   : g_strdup(problem->message);
	}
	g_ptr_array_add(self->problems, problem);
}

static void
scep_registry_snapshot_add_line_problem(ScepRegistrySnapshot *self,
					ScepRegistryProblemSeverity severity,
					const gchar *file,
					guint line,
					const gchar *key,
					gint instance,
					const gchar *message)
{
	ScepRegistryProblem *problem = g_new0(ScepRegistryProblem, 1);
	problem->severity = severity;
	problem->file = g_strdup(file);
	problem->line = line;
	problem->key = g_strdup(key);
	problem->instance = instance;
	problem->message = g_strdup(message);
	if (severity == SCEP_REGISTRY_PROBLEM_ERROR && instance >= 0) {
		guint n = (guint)instance;
		ScepRegistryInstance *inst = g_hash_table_lookup(self->instances, &n);
		if (inst != NULL && inst->reason == NULL)
			inst->reason = g_strdup_printf("%s: %s", key, message);
	}
	g_ptr_array_add(self->problems, problem);
}

static ScepRegistryInstance *
scep_registry_snapshot_ensure_instance(ScepRegistrySnapshot *self, guint number)
{
	ScepRegistryInstance *inst = g_hash_table_lookup(self->instances, &number);
	if (inst != NULL)
		return inst;
	inst = g_new0(ScepRegistryInstance, 1);
	inst->number = number;
	inst->values = g_new0(const gchar *, self->n_keys);
	inst->origins = g_new0(ScepRegistryOrigin, self->n_keys);
	g_hash_table_insert(self->instances, &inst->number, inst);
	return inst;
}

/* an enc:v1: secret is kept decrypted in memory only, in its own allocation that is wiped when
 * the snapshot goes; the device key is read once per load, at the first encrypted value */
static const gchar *
scep_registry_snapshot_decrypt_secret(ScepRegistrySnapshot *self,
				      const ScepRegistryKey *key,
				      const gchar *value,
				      GError **error)
{
	gchar *plain;
	if (self->secret_key == NULL) {
		g_autofree gchar *key_path = scep_registry_secret_key_path(self->dir);
		self->secret_key = scep_registry_secret_key_load(key_path, error);
		if (self->secret_key == NULL) {
			g_prefix_error(error, "cannot be decrypted: ");
			return NULL;
		}
	}
	plain = scep_registry_secret_decrypt(self->secret_key, key->name, value, error);
	if (plain == NULL)
		return NULL;
	g_ptr_array_add(self->secrets, plain);
	return plain;
}

static void
scep_registry_snapshot_parse_line(ScepRegistrySnapshot *self,
				  guint file_index,
				  guint lineno,
				  gchar *line)
{
	const gchar *path = g_ptr_array_index(self->files, file_index);
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *value = NULL;
	const gchar *name = NULL;
	const ScepRegistryKey *key;
	ScepRegistryInstance *inst;
	guint number = 0;
	gchar *eq;
	gchar *full_key;

	g_strstrip(line);
	if (line[0] == '\0' || line[0] == '#')
		return;
	eq = strchr(line, '=');
	if (eq == NULL) {
		scep_registry_snapshot_add_line_problem(self,
							SCEP_REGISTRY_PROBLEM_ERROR,
							path,
							lineno,
							NULL,
							-1,
							"not a KEY=VALUE line");
		return;
	}
	*eq = '\0';
	full_key = g_strstrip(line);
	if (full_key[0] == '\0' || strpbrk(full_key, " \t") != NULL ||
	    !g_utf8_validate(full_key, -1, NULL)) {
		scep_registry_snapshot_add_line_problem(
		    self,
		    SCEP_REGISTRY_PROBLEM_ERROR,
		    path,
		    lineno,
		    NULL,
		    -1,
		    "bad key: empty, with white space or not UTF-8");
		return;
	}
	if (!scep_registry_parse_key(full_key, &number, &name)) {
		g_autofree gchar *msg =
		    g_strdup_printf("not a scep-agent key, ignored (keys look like %sN.NAME "
				    "with N a number without leading zeros)",
				    SCEP_REGISTRY_KEY_PREFIX);
		scep_registry_snapshot_add_line_problem(
		    self, SCEP_REGISTRY_PROBLEM_WARNING, path, lineno, full_key, -1, msg);
		return;
	}
	key = scep_registry_schema_lookup(name);
	value = scep_registry_unescape(g_strstrip(eq + 1), &error_local);
	if (key == NULL) {
		const gchar *suggestion = scep_registry_schema_suggest(name);
		g_autofree gchar *msg =
		    suggestion != NULL
			? g_strdup_printf("unknown key, ignored; did you mean %s?", suggestion)
			: g_strdup("unknown key, ignored");
		ScepRegistryForeign *f = g_new0(ScepRegistryForeign, 1);
		scep_registry_snapshot_add_line_problem(
		    self, SCEP_REGISTRY_PROBLEM_WARNING, path, lineno, full_key, (gint)number, msg);
		f->key = g_strdup(full_key);
		f->value = value != NULL ? g_steal_pointer(&value) : g_strdup("");
		f->origin.file = file_index;
		f->origin.line = lineno;
		g_ptr_array_add(self->foreign, f);
		return;
	}
	inst = scep_registry_snapshot_ensure_instance(self, number);
	if (value == NULL) {
		/* the escape error quotes a character of the value: not for secrets */
		const gchar *msg =
		    key->secret ? "bad escape in a secret value" : error_local->message;
		scep_registry_snapshot_add_line_problem(
		    self, SCEP_REGISTRY_PROBLEM_ERROR, path, lineno, full_key, (gint)number, msg);
		/* remember the line so that the instance is not silently valid */
		value = g_strdup("");
		if (inst->reason == NULL)
			inst->reason = g_strdup_printf("%s: %s", name, msg);
	}
	if (inst->values[key->index] != NULL) {
		ScepRegistryOrigin *o = &inst->origins[key->index];
		if (o->file == file_index) {
			g_autofree gchar *msg =
			    g_strdup_printf("set again, line %u is overridden", o->line);
			scep_registry_snapshot_add_line_problem(self,
								SCEP_REGISTRY_PROBLEM_WARNING,
								path,
								lineno,
								full_key,
								(gint)number,
								msg);
		}
	}
	if (key->secret && scep_registry_secret_is_encrypted(value)) {
		g_autoptr(GError) error_secret = NULL;
		const gchar *plain =
		    scep_registry_snapshot_decrypt_secret(self, key, value, &error_secret);
		if (plain == NULL) {
			/* the message names the key and the device key file, never the value */
			scep_registry_snapshot_add_line_problem(self,
								SCEP_REGISTRY_PROBLEM_ERROR,
								path,
								lineno,
								full_key,
								(gint)number,
								error_secret->message);
			plain = g_string_chunk_insert_const(self->strings, "");
		}
		inst->values[key->index] = plain;
	} else {
		inst->values[key->index] = g_string_chunk_insert_const(self->strings, value);
	}
	inst->origins[key->index].file = file_index;
	inst->origins[key->index].line = lineno;
}

/* a line that cannot be read still names its instance when its key is readable:
 * the instance must not silently fall back to a default */
static void
scep_registry_snapshot_add_dropped_line(ScepRegistrySnapshot *self,
					const gchar *path,
					guint lineno,
					const gchar *line,
					gsize len,
					const gchar *message)
{
	const gchar *eq = memchr(line, '=', len);
	g_autofree gchar *full_key = NULL;
	const gchar *name = NULL;
	guint number = 0;

	if (eq != NULL) {
		full_key = g_strstrip(g_strndup(line, eq - line));
		if (!g_utf8_validate(full_key, -1, NULL) ||
		    !scep_registry_parse_key(full_key, &number, &name) ||
		    scep_registry_schema_lookup(name) == NULL)
			g_clear_pointer(&full_key, g_free);
	}
	if (full_key != NULL)
		scep_registry_snapshot_ensure_instance(self, number);
	scep_registry_snapshot_add_line_problem(self,
						SCEP_REGISTRY_PROBLEM_ERROR,
						path,
						lineno,
						full_key,
						full_key != NULL ? (gint)number : -1,
						message);
}

static gboolean
scep_registry_snapshot_parse_file(ScepRegistrySnapshot *self, const gchar *path, GError **error)
{
	g_autofree gchar *buf = NULL;
	gsize cap = 0;
	gssize len;
	guint lineno = 0;
	guint file_index;
	FILE *fp = fopen(path, "re");

	if (fp == NULL) {
		if (errno == ENOENT)
			return TRUE;
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_UNAVAILABLE,
			    "%s: %s",
			    path,
			    g_strerror(errno));
		return FALSE;
	}
	file_index = self->files->len;
	g_ptr_array_add(self->files, g_strdup(path));
	while ((len = getline(&buf, &cap, fp)) >= 0) {
		gchar *line = buf;
		lineno++;
		if (lineno == 1 && len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
			line += 3;
		if ((gsize)len > SCEP_REGISTRY_MAX_LINE) {
			scep_registry_snapshot_add_dropped_line(self,
								path,
								lineno,
								line,
								(gsize)len - (gsize)(line - buf),
								"line longer than 64 KiB, ignored");
			continue;
		}
		if (strlen(line) != (gsize)len - (gsize)(line - buf)) {
			scep_registry_snapshot_add_dropped_line(
			    self,
			    path,
			    lineno,
			    line,
			    (gsize)len - (gsize)(line - buf),
			    "line contains a NUL byte, ignored");
			continue;
		}
		if (!g_utf8_validate(line, -1, NULL)) {
			scep_registry_snapshot_add_dropped_line(self,
								path,
								lineno,
								line,
								(gsize)len - (gsize)(line - buf),
								"line is not valid UTF-8, ignored");
			continue;
		}
		scep_registry_snapshot_parse_line(self, file_index, lineno, line);
	}
	if (ferror(fp)) {
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_UNAVAILABLE,
			    "%s: read error",
			    path);
		fclose(fp);
		return FALSE;
	}
	fclose(fp);
	return TRUE;
}

static gint
scep_registry_strcmp_cb(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const gchar *const *)a, *(const gchar *const *)b);
}

/* drop-ins: every regular file in registry.d, in byte order, except hidden files,
 * editor backups (~) and package manager leftovers */
static GPtrArray *
scep_registry_list_dropins(const gchar *dropin_dir, GError **error)
{
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GDir) dir = g_dir_open(dropin_dir, 0, &error_local);
	const gchar *name;

	if (dir == NULL) {
		if (g_error_matches(error_local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			return g_steal_pointer(&names);
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_UNAVAILABLE,
			    "%s",
			    error_local->message);
		return NULL;
	}
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *path = NULL;
		if (name[0] == '.' || g_str_has_suffix(name, "~") ||
		    strstr(name, ".dpkg-") != NULL || g_str_has_suffix(name, ".tmp"))
			continue;
		path = g_build_filename(dropin_dir, name, NULL);
		if (!g_file_test(path, G_FILE_TEST_IS_REGULAR))
			continue;
		g_ptr_array_add(names, g_steal_pointer(&path));
	}
	g_ptr_array_sort(names, scep_registry_strcmp_cb);
	return g_steal_pointer(&names);
}

/**
 * scep_registry_snapshot_load:
 * @dir: the registry directory, holding `registry` and `registry.d/`
 *
 * Reads and validates the whole registry. Problems in the content never
 * make this fail: they are collected (see
 * scep_registry_snapshot_get_problems()) and make only the instances they
 * touch invalid. It fails only when a file exists but cannot be read.
 */
ScepRegistrySnapshot *
scep_registry_snapshot_load(const gchar *dir, GError **error)
{
	g_autoptr(ScepRegistrySnapshot) self = NULL;
	g_autofree gchar *base = NULL;
	g_autofree gchar *dropin_dir = NULL;
	g_autoptr(GPtrArray) dropins = NULL;
	GHashTableIter iter;
	gpointer value;

	if (!scep_registry_schema_ensure_loaded(error))
		return NULL;
	self = g_new0(ScepRegistrySnapshot, 1);
	self->ref_count = 1;
	self->dir = g_strdup(dir);
	self->n_keys = scep_registry_schema_get_n_keys();
	self->files = g_ptr_array_new_with_free_func(g_free);
	self->instances = g_hash_table_new(g_int_hash, g_int_equal);
	self->foreign = g_ptr_array_new_with_free_func((GDestroyNotify)scep_registry_foreign_free);
	self->problems = g_ptr_array_new_with_free_func((GDestroyNotify)scep_registry_problem_free);
	self->strings = g_string_chunk_new(64 * 1024);
	self->secrets = g_ptr_array_new_with_free_func((GDestroyNotify)scep_registry_secret_free);

	base = g_build_filename(dir, "registry", NULL);
	if (!scep_registry_snapshot_parse_file(self, base, error))
		return NULL;
	dropin_dir = g_build_filename(dir, "registry.d", NULL);
	dropins = scep_registry_list_dropins(dropin_dir, error);
	if (dropins == NULL)
		return NULL;
	for (guint i = 0; i < dropins->len; i++) {
		if (!scep_registry_snapshot_parse_file(self, g_ptr_array_index(dropins, i), error))
			return NULL;
	}

	/* validate each instance; one bad instance leaves the others alone */
	g_hash_table_iter_init(&iter, self->instances);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		ScepRegistryInstance *inst = value;
		ScepSettings *settings = scep_settings_new_from_snapshot(self, inst->number);
		if (inst->reason == NULL)
			inst->settings = settings;
		else if (settings != NULL)
			scep_settings_free(settings);
	}
	return g_steal_pointer(&self);
}

const gchar *
scep_registry_snapshot_get_dir(ScepRegistrySnapshot *self)
{
	return self->dir;
}

gint
scep_registry_uint_compare(gconstpointer a, gconstpointer b)
{
	guint x = *(const guint *)a, y = *(const guint *)b;
	return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * scep_registry_snapshot_get_instances:
 *
 * Returns: (transfer full): the instance numbers, ascending
 */
GArray *
scep_registry_snapshot_get_instances(ScepRegistrySnapshot *self)
{
	GArray *numbers =
	    g_array_sized_new(FALSE, FALSE, sizeof(guint), g_hash_table_size(self->instances));
	GHashTableIter iter;
	gpointer key;
	g_hash_table_iter_init(&iter, self->instances);
	while (g_hash_table_iter_next(&iter, &key, NULL))
		g_array_append_val(numbers, *(guint *)key);
	g_array_sort(numbers, scep_registry_uint_compare);
	return numbers;
}

gboolean
scep_registry_snapshot_has_instance(ScepRegistrySnapshot *self, guint instance)
{
	return g_hash_table_contains(self->instances, &instance);
}

/**
 * scep_registry_snapshot_get_raw:
 *
 * Returns: (nullable): the value as written (escapes resolved), or %NULL when unset
 */
const gchar *
scep_registry_snapshot_get_raw(
    ScepRegistrySnapshot *self, guint instance, guint key_index, const gchar **file, guint *line)
{
	ScepRegistryInstance *inst = g_hash_table_lookup(self->instances, &instance);
	if (inst == NULL || key_index >= self->n_keys || inst->values[key_index] == NULL)
		return NULL;
	if (file != NULL)
		*file = g_ptr_array_index(self->files, inst->origins[key_index].file);
	if (line != NULL)
		*line = inst->origins[key_index].line;
	return inst->values[key_index];
}

/* while validating: keep the canonical form of a valid value instead of the raw one */
void
scep_registry_snapshot_set_normalized(ScepRegistrySnapshot *self,
				      guint instance,
				      guint key_index,
				      const gchar *normal)
{
	ScepRegistryInstance *inst = g_hash_table_lookup(self->instances, &instance);
	const ScepRegistryKey *key = scep_registry_schema_get_key(key_index);
	if (inst == NULL || inst->values[key_index] == NULL ||
	    g_strcmp0(inst->values[key_index], normal) == 0)
		return;
	/* enum literals live in the schema for the whole process */
	for (guint i = 0; key->values != NULL && key->values[i] != NULL; i++) {
		if (g_strcmp0(key->values[i], normal) == 0) {
			inst->values[key_index] = key->values[i];
			return;
		}
	}
	inst->values[key_index] = g_string_chunk_insert_const(self->strings, normal);
}

/**
 * scep_registry_snapshot_lookup:
 * @full_key: any key, known to the schema or not
 *
 * Returns: (nullable): the value as written, or %NULL when the key is not set
 */
const gchar *
scep_registry_snapshot_lookup(ScepRegistrySnapshot *self,
			      const gchar *full_key,
			      const gchar **file,
			      guint *line)
{
	const gchar *name = NULL;
	guint number = 0;
	if (scep_registry_parse_key(full_key, &number, &name)) {
		const ScepRegistryKey *key = scep_registry_schema_lookup(name);
		if (key != NULL)
			return scep_registry_snapshot_get_raw(self, number, key->index, file, line);
	}
	for (guint i = self->foreign->len; i > 0; i--) {
		ScepRegistryForeign *f = g_ptr_array_index(self->foreign, i - 1);
		if (g_strcmp0(f->key, full_key) != 0)
			continue;
		if (file != NULL)
			*file = g_ptr_array_index(self->files, f->origin.file);
		if (line != NULL)
			*line = f->origin.line;
		return f->value;
	}
	return NULL;
}

/**
 * scep_registry_snapshot_is_encrypted:
 *
 * Returns: %TRUE when the value of @key_index was written encrypted
 * (`enc:v1:`) and decrypted on load; %FALSE when unset, written in clear, or
 * not decryptable
 */
gboolean
scep_registry_snapshot_is_encrypted(ScepRegistrySnapshot *self, guint instance, guint key_index)
{
	ScepRegistryInstance *inst = g_hash_table_lookup(self->instances, &instance);
	guint index = 0;
	if (inst == NULL || key_index >= self->n_keys || inst->values[key_index] == NULL)
		return FALSE;
	return g_ptr_array_find(self->secrets, inst->values[key_index], &index);
}

/**
 * scep_registry_snapshot_get_problems:
 *
 * Returns: (transfer none) (element-type ScepRegistryProblem): errors and
 * warnings in the order found
 */
GPtrArray *
scep_registry_snapshot_get_problems(ScepRegistrySnapshot *self)
{
	return self->problems;
}

guint
scep_registry_snapshot_count_errors(ScepRegistrySnapshot *self)
{
	guint n = 0;
	for (guint i = 0; i < self->problems->len; i++) {
		ScepRegistryProblem *p = g_ptr_array_index(self->problems, i);
		if (p->severity == SCEP_REGISTRY_PROBLEM_ERROR)
			n++;
	}
	return n;
}

/**
 * scep_registry_snapshot_get_settings:
 *
 * Returns: (transfer none) (nullable): the validated settings of @instance,
 * or %NULL when the instance does not exist or is invalid (see
 * scep_registry_snapshot_get_invalid_reason())
 */
ScepSettings *
scep_registry_snapshot_get_settings(ScepRegistrySnapshot *self, guint instance)
{
	ScepRegistryInstance *inst = g_hash_table_lookup(self->instances, &instance);
	return inst != NULL ? inst->settings : NULL;
}

/**
 * scep_registry_snapshot_get_invalid_reason:
 *
 * Returns: (nullable): why @instance is unconfigured, naming the key, or
 * %NULL when it is valid or does not exist
 */
const gchar *
scep_registry_snapshot_get_invalid_reason(ScepRegistrySnapshot *self, guint instance)
{
	ScepRegistryInstance *inst = g_hash_table_lookup(self->instances, &instance);
	return inst != NULL ? inst->reason : NULL;
}

/**
 * scep_registry_snapshot_list:
 * @prefix: (nullable): only keys starting with this
 *
 * Returns: (transfer full) (element-type ScepRegistryEntry): every key set,
 * instances in ascending order and keys in schema order, then the unknown keys
 */
GPtrArray *
scep_registry_snapshot_list(ScepRegistrySnapshot *self, const gchar *prefix)
{
	GPtrArray *entries =
	    g_ptr_array_new_with_free_func((GDestroyNotify)scep_registry_entry_free);
	g_autoptr(GArray) numbers = scep_registry_snapshot_get_instances(self);
	for (guint i = 0; i < numbers->len; i++) {
		guint number = g_array_index(numbers, guint, i);
		ScepRegistryInstance *inst = g_hash_table_lookup(self->instances, &number);
		for (guint k = 0; k < self->n_keys; k++) {
			const ScepRegistryKey *key;
			ScepRegistryEntry *entry;
			g_autofree gchar *full = NULL;
			if (inst->values[k] == NULL)
				continue;
			key = scep_registry_schema_get_key(k);
			full = scep_registry_make_key(number, key->name);
			if (prefix != NULL && !g_str_has_prefix(full, prefix))
				continue;
			entry = g_new0(ScepRegistryEntry, 1);
			entry->key = g_steal_pointer(&full);
			entry->value = g_strdup(inst->values[k]);
			entry->file = g_ptr_array_index(self->files, inst->origins[k].file);
			entry->line = inst->origins[k].line;
			entry->secret = key->secret;
			entry->known = TRUE;
			g_ptr_array_add(entries, entry);
		}
	}
	for (guint i = 0; i < self->foreign->len; i++) {
		ScepRegistryForeign *f = g_ptr_array_index(self->foreign, i);
		ScepRegistryEntry *entry;
		if (prefix != NULL && !g_str_has_prefix(f->key, prefix))
			continue;
		entry = g_new0(ScepRegistryEntry, 1);
		entry->key = g_strdup(f->key);
		entry->value = g_strdup(f->value);
		entry->file = g_ptr_array_index(self->files, f->origin.file);
		entry->line = f->origin.line;
		/* an unknown key that looks like a secret is treated as one */
		entry->secret = strstr(f->key, "crypt_") != NULL;
		g_ptr_array_add(entries, entry);
	}
	return entries;
}
