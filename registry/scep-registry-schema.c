#include "config.h"

#include "scep-registry-schema.h"

#include <gio/gio.h>
#include <string.h>

#include "scep-registry-error.h"
#include "scep-registry-resources.h"

#define SCEP_REGISTRY_SCHEMA_RESOURCE "/org/scepagent/registry/scep-registry.schema"

typedef struct {
	GPtrArray *keys;     /* owned, of ScepRegistryKey */
	GHashTable *by_name; /* name -> ScepRegistryKey, borrowed */
} ScepRegistrySchema;

static ScepRegistrySchema *scep_registry_schema = NULL;
static GError *scep_registry_schema_error = NULL;

static const gchar *scep_registry_format_names[] = {
	[SCEP_KEY_FORMAT_TEXT] = "text",       [SCEP_KEY_FORMAT_URL] = "url",
	[SCEP_KEY_FORMAT_PROXY] = "proxy",     [SCEP_KEY_FORMAT_FINGERPRINT] = "fingerprint",
	[SCEP_KEY_FORMAT_PATH] = "path",       [SCEP_KEY_FORMAT_COUNTRY] = "country",
	[SCEP_KEY_FORMAT_SID] = "sid",         [SCEP_KEY_FORMAT_USER] = "user",
	[SCEP_KEY_FORMAT_UNIT] = "unit",       [SCEP_KEY_FORMAT_KEY_USAGE] = "key-usage",
	[SCEP_KEY_FORMAT_EKU] = "eku",         [SCEP_KEY_FORMAT_OID_OR_NAME] = "oid-or-name",
	[SCEP_KEY_FORMAT_COMMAND] = "command",
};

const gchar *
scep_registry_key_type_to_string(ScepKeyType type)
{
	switch (type) {
	case SCEP_KEY_TYPE_BOOL:
		return "bool";
	case SCEP_KEY_TYPE_INT:
		return "int";
	case SCEP_KEY_TYPE_ENUM:
		return "enum";
	case SCEP_KEY_TYPE_STRING:
		return "string";
	default:
		return NULL;
	}
}

const gchar *
scep_registry_key_format_to_string(ScepKeyFormat format)
{
	if ((guint)format >= G_N_ELEMENTS(scep_registry_format_names))
		return NULL;
	return scep_registry_format_names[format];
}

static void
scep_registry_key_free(ScepRegistryKey *key)
{
	g_free(key->name);
	g_free(key->default_value);
	g_strfreev(key->values);
	if (key->ranges != NULL)
		g_array_unref(key->ranges);
	g_free(key->unit);
	g_free(key->change);
	g_free(key->origin);
	g_free(key->summary);
	g_free(key->description);
	g_free(key);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepRegistryKey, scep_registry_key_free)

static gboolean
scep_registry_parse_int64(const gchar *text, gint64 *out)
{
	gchar *end = NULL;
	gint64 v;
	if (text == NULL || *text == '\0')
		return FALSE;
	if (!g_ascii_isdigit(text[0]) && text[0] != '-')
		return FALSE;
	errno = 0;
	v = g_ascii_strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0')
		return FALSE;
	*out = v;
	return TRUE;
}

static GArray *
scep_registry_parse_ranges(const gchar *text, GError **error)
{
	g_autoptr(GArray) ranges = g_array_new(FALSE, FALSE, sizeof(gint64));
	g_auto(GStrv) alts = g_strsplit(text, "|", -1);
	for (guint i = 0; alts[i] != NULL; i++) {
		g_auto(GStrv) ends = NULL;
		gint64 lo, hi;
		/* a leading '-' would be a negative number: split at the first inner '-' */
		const gchar *dash = strchr(alts[i] + 1, '-');
		if (dash != NULL) {
			g_autofree gchar *a = g_strndup(alts[i], dash - alts[i]);
			if (!scep_registry_parse_int64(a, &lo) ||
			    !scep_registry_parse_int64(dash + 1, &hi) || lo > hi) {
				g_set_error(error,
					    SCEP_REGISTRY_ERROR,
					    SCEP_REGISTRY_ERROR_SYNTAX,
					    "bad range '%s'",
					    alts[i]);
				return NULL;
			}
		} else {
			if (!scep_registry_parse_int64(alts[i], &lo)) {
				g_set_error(error,
					    SCEP_REGISTRY_ERROR,
					    SCEP_REGISTRY_ERROR_SYNTAX,
					    "bad range '%s'",
					    alts[i]);
				return NULL;
			}
			hi = lo;
		}
		g_array_append_val(ranges, lo);
		g_array_append_val(ranges, hi);
	}
	return g_steal_pointer(&ranges);
}

static gchar *
scep_registry_expand(const gchar *text, const gchar *n)
{
	g_autoptr(GString) str = g_string_new(text);
	if (n != NULL)
		g_string_replace(str, "{N}", n, 0);
	return g_string_free(g_steal_pointer(&str), FALSE);
}

static ScepRegistryKey *
scep_registry_schema_key_new(GKeyFile *kf, const gchar *group, const gchar *n, GError **error)
{
	g_autoptr(ScepRegistryKey) key = g_new0(ScepRegistryKey, 1);
	g_autofree gchar *type = NULL;
	g_autofree gchar *format = NULL;
	g_autofree gchar *values = NULL;
	g_autofree gchar *range = NULL;
	g_autofree gchar *def = NULL;
	g_autofree gchar *summary = NULL;
	g_autofree gchar *description = NULL;

	key->name = scep_registry_expand(group, n);
	type = g_key_file_get_string(kf, group, "type", error);
	if (type == NULL)
		return NULL;
	if (g_strcmp0(type, "bool") == 0) {
		key->type = SCEP_KEY_TYPE_BOOL;
	} else if (g_strcmp0(type, "int") == 0) {
		key->type = SCEP_KEY_TYPE_INT;
	} else if (g_strcmp0(type, "enum") == 0) {
		key->type = SCEP_KEY_TYPE_ENUM;
	} else if (g_strcmp0(type, "string") == 0) {
		key->type = SCEP_KEY_TYPE_STRING;
	} else {
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_SYNTAX,
			    "%s: unknown type %s",
			    group,
			    type);
		return NULL;
	}
	format = g_key_file_get_string(kf, group, "format", NULL);
	if (format != NULL) {
		gboolean found = FALSE;
		for (guint i = 0; i < G_N_ELEMENTS(scep_registry_format_names); i++) {
			if (g_strcmp0(format, scep_registry_format_names[i]) == 0) {
				key->format = i;
				found = TRUE;
			}
		}
		if (!found) {
			g_set_error(error,
				    SCEP_REGISTRY_ERROR,
				    SCEP_REGISTRY_ERROR_SYNTAX,
				    "%s: unknown format %s",
				    group,
				    format);
			return NULL;
		}
	}
	values = g_key_file_get_string(kf, group, "values", NULL);
	if (values != NULL)
		key->values = g_strsplit(values, "|", -1);
	if (key->type == SCEP_KEY_TYPE_ENUM && key->values == NULL) {
		g_set_error(error,
			    SCEP_REGISTRY_ERROR,
			    SCEP_REGISTRY_ERROR_SYNTAX,
			    "%s: enum without values",
			    group);
		return NULL;
	}
	key->paths = g_key_file_get_boolean(kf, group, "paths", NULL);
	range = g_key_file_get_string(kf, group, "range", NULL);
	if (range != NULL) {
		key->ranges = scep_registry_parse_ranges(range, error);
		if (key->ranges == NULL) {
			g_prefix_error(error, "%s: ", group);
			return NULL;
		}
	}
	key->secret = g_key_file_get_boolean(kf, group, "secret", NULL);
	key->unit = g_key_file_get_string(kf, group, "unit", NULL);
	key->change = g_key_file_get_string(kf, group, "change", error);
	if (key->change == NULL)
		return NULL;
	key->origin = g_key_file_get_string(kf, group, "origin", error);
	if (key->origin == NULL)
		return NULL;
	summary = g_key_file_get_string(kf, group, "summary", error);
	if (summary == NULL)
		return NULL;
	key->summary = scep_registry_expand(summary, n);
	description = g_key_file_get_string(kf, group, "description", error);
	if (description == NULL)
		return NULL;
	key->description = scep_registry_expand(description, n);

	/* the default must itself be valid */
	def = g_key_file_get_string(kf, group, "default", error);
	if (def == NULL)
		return NULL;
	key->default_value = g_strdup(def);
	if (def[0] != '\0' || key->type == SCEP_KEY_TYPE_STRING) {
		g_autofree gchar *normal = scep_registry_key_normalize(key, def, error);
		if (normal == NULL) {
			g_prefix_error(error, "%s: bad default: ", group);
			return NULL;
		}
		g_free(key->default_value);
		key->default_value = g_steal_pointer(&normal);
	}
	return g_steal_pointer(&key);
}

static ScepRegistrySchema *
scep_registry_schema_load(GError **error)
{
	g_autoptr(GBytes) data = NULL;
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_auto(GStrv) groups = NULL;
	g_autoptr(GPtrArray) keys =
	    g_ptr_array_new_with_free_func((GDestroyNotify)scep_registry_key_free);
	g_autoptr(GHashTable) by_name = g_hash_table_new(g_str_hash, g_str_equal);
	ScepRegistrySchema *schema;

	data = g_resources_lookup_data(
	    SCEP_REGISTRY_SCHEMA_RESOURCE, G_RESOURCE_LOOKUP_FLAGS_NONE, error);
	if (data == NULL)
		return NULL;
	if (!g_key_file_load_from_bytes(kf, data, G_KEY_FILE_NONE, error)) {
		g_prefix_error(error, "registry schema: ");
		return NULL;
	}
	groups = g_key_file_get_groups(kf, NULL);
	for (guint i = 0; groups[i] != NULL; i++) {
		g_autofree gchar *index = g_key_file_get_string(kf, groups[i], "index", NULL);
		gint64 first = 0, last = 0;
		if (index != NULL) {
			g_autoptr(GArray) r = scep_registry_parse_ranges(index, error);
			if (r == NULL || r->len != 2) {
				g_prefix_error(
				    error, "registry schema: %s: bad index: ", groups[i]);
				return NULL;
			}
			first = g_array_index(r, gint64, 0);
			last = g_array_index(r, gint64, 1);
		}
		for (gint64 n = first; n <= last; n++) {
			g_autofree gchar *nstr =
			    index != NULL ? g_strdup_printf("%" G_GINT64_FORMAT, n) : NULL;
			ScepRegistryKey *key =
			    scep_registry_schema_key_new(kf, groups[i], nstr, error);
			if (key == NULL) {
				g_prefix_error(error, "registry schema: ");
				return NULL;
			}
			key->index = keys->len;
			g_ptr_array_add(keys, key);
			g_hash_table_insert(by_name, key->name, key);
		}
	}
	schema = g_new0(ScepRegistrySchema, 1);
	schema->keys = g_steal_pointer(&keys);
	schema->by_name = g_steal_pointer(&by_name);
	return schema;
}

/**
 * scep_registry_schema_ensure_loaded:
 *
 * Loads the schema embedded in the program once. It can only fail if the
 * build embedded a broken schema, which the tests catch.
 */
gboolean
scep_registry_schema_ensure_loaded(GError **error)
{
	static gsize once = 0;
	if (g_once_init_enter(&once)) {
		g_resources_register(scep_registry_get_resource());
		scep_registry_schema = scep_registry_schema_load(&scep_registry_schema_error);
		g_once_init_leave(&once, 1);
	}
	if (scep_registry_schema == NULL) {
		g_propagate_error(error, g_error_copy(scep_registry_schema_error));
		return FALSE;
	}
	return TRUE;
}

static ScepRegistrySchema *
scep_registry_schema_get(void)
{
	g_autoptr(GError) error = NULL;
	if (!scep_registry_schema_ensure_loaded(&error))
		g_critical("%s", error->message);
	return scep_registry_schema;
}

guint
scep_registry_schema_get_n_keys(void)
{
	ScepRegistrySchema *schema = scep_registry_schema_get();
	return schema != NULL ? schema->keys->len : 0;
}

const ScepRegistryKey *
scep_registry_schema_get_key(guint index)
{
	ScepRegistrySchema *schema = scep_registry_schema_get();
	g_return_val_if_fail(schema != NULL && index < schema->keys->len, NULL);
	return g_ptr_array_index(schema->keys, index);
}

const ScepRegistryKey *
scep_registry_schema_lookup(const gchar *name)
{
	ScepRegistrySchema *schema = scep_registry_schema_get();
	if (schema == NULL || name == NULL)
		return NULL;
	return g_hash_table_lookup(schema->by_name, name);
}

static guint
scep_registry_edit_distance(const gchar *a, const gchar *b)
{
	gsize la = strlen(a), lb = strlen(b);
	g_autofree guint *prev = g_new(guint, lb + 1);
	g_autofree guint *cur = g_new(guint, lb + 1);
	for (gsize j = 0; j <= lb; j++)
		prev[j] = j;
	for (gsize i = 1; i <= la; i++) {
		guint *tmp;
		cur[0] = i;
		for (gsize j = 1; j <= lb; j++) {
			guint cost = g_ascii_tolower(a[i - 1]) == g_ascii_tolower(b[j - 1]) ? 0 : 1;
			cur[j] = MIN(MIN(prev[j] + 1, cur[j - 1] + 1), prev[j - 1] + cost);
		}
		tmp = prev;
		prev = cur;
		cur = tmp;
	}
	return prev[lb];
}

/**
 * scep_registry_schema_suggest:
 * @name: an unknown key name, without the instance prefix
 *
 * Returns: (nullable): the nearest known key name, when it is near enough
 */
const gchar *
scep_registry_schema_suggest(const gchar *name)
{
	ScepRegistrySchema *schema = scep_registry_schema_get();
	const gchar *best = NULL;
	guint best_distance = G_MAXUINT;
	if (schema == NULL)
		return NULL;
	for (guint i = 0; i < schema->keys->len; i++) {
		const ScepRegistryKey *key = g_ptr_array_index(schema->keys, i);
		guint d = scep_registry_edit_distance(name, key->name);
		if (d < best_distance) {
			best_distance = d;
			best = key->name;
		}
	}
	/* more than a third of the name changed is no longer a typo */
	if (best_distance > MAX(2, strlen(name) / 3))
		return NULL;
	return best;
}

/**
 * scep_registry_parse_key:
 * @full_key: a key like network.scepclient.cert3.scepurl
 * @instance: (out): the instance number
 * @name: (out): points into @full_key, at the name after the instance
 *
 * Returns: %TRUE when @full_key has the shape of an instance key; the name
 * may still be unknown to the schema.
 */
gboolean
scep_registry_parse_key(const gchar *full_key, guint *instance, const gchar **name)
{
	const gchar *p;
	guint64 n = 0;
	if (!g_str_has_prefix(full_key, SCEP_REGISTRY_KEY_PREFIX))
		return FALSE;
	p = full_key + strlen(SCEP_REGISTRY_KEY_PREFIX);
	if (!g_ascii_isdigit(*p))
		return FALSE;
	/* cert01 would be a second spelling of cert1 */
	if (p[0] == '0' && g_ascii_isdigit(p[1]))
		return FALSE;
	while (g_ascii_isdigit(*p)) {
		n = n * 10 + (guint64)(*p - '0');
		if (n > G_MAXINT32)
			return FALSE;
		p++;
	}
	if (*p != '.' || p[1] == '\0')
		return FALSE;
	*instance = (guint)n;
	*name = p + 1;
	return TRUE;
}
