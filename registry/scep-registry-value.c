#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "scep-registry-error.h"
#include "scep-registry-schema.h"

/* validation and normalisation of one value against its schema entry */

static const gchar *scep_registry_key_usages[] = {
	"digitalSignature", "nonRepudiation", "keyEncipherment",
	"dataEncipherment", "keyAgreement",   NULL,
};

static const gchar *scep_registry_ekus[] = {
	"clientAuth", "serverAuth", "emailProtection", "codeSigning", "ipsecIKE", NULL,
};

static gboolean
scep_registry_value_is_oid(const gchar *text)
{
	guint arcs = 0;
	const gchar *p = text;
	while (*p != '\0') {
		if (!g_ascii_isdigit(*p))
			return FALSE;
		while (g_ascii_isdigit(*p))
			p++;
		arcs++;
		if (*p == '.')
			p++;
		else if (*p != '\0')
			return FALSE;
	}
	return arcs >= 2 && p[-1] != '.';
}

static const gchar *
scep_registry_value_find_literal(const gchar *const *literals, const gchar *value)
{
	for (guint i = 0; literals[i] != NULL; i++) {
		if (g_ascii_strcasecmp(literals[i], value) == 0)
			return literals[i];
	}
	return NULL;
}

/* comma-separated list of names from @literals (or OIDs when @oids), canonical spelling */
static gchar *
scep_registry_value_normalize_list(const gchar *value,
				   const gchar *const *literals,
				   gboolean oids,
				   GError **error)
{
	g_auto(GStrv) parts = g_strsplit(value, ",", -1);
	g_autoptr(GPtrArray) out = g_ptr_array_new();
	if (value[0] == '\0')
		return g_strdup("");
	for (guint i = 0; parts[i] != NULL; i++) {
		const gchar *item = g_strstrip(parts[i]);
		const gchar *canonical = scep_registry_value_find_literal(literals, item);
		if (canonical == NULL && oids && scep_registry_value_is_oid(item))
			canonical = item;
		if (canonical == NULL) {
			g_set_error(error,
				    SCEP_REGISTRY_ERROR,
				    SCEP_REGISTRY_ERROR_INVALID_VALUE,
				    "unknown item '%s' in '%s'",
				    item,
				    value);
			return NULL;
		}
		for (guint j = 0; j < out->len; j++) {
			if (g_strcmp0(g_ptr_array_index(out, j), canonical) == 0) {
				g_set_error(error,
					    SCEP_REGISTRY_ERROR,
					    SCEP_REGISTRY_ERROR_INVALID_VALUE,
					    "'%s' given twice",
					    item);
				return NULL;
			}
		}
		g_ptr_array_add(out, (gpointer)canonical);
	}
	g_ptr_array_add(out, NULL);
	return g_strjoinv(",", (gchar **)out->pdata);
}

static gchar *
scep_registry_value_normalize_string(const ScepRegistryKey *key, const gchar *value, GError **error)
{
	if (value[0] == '\0')
		return g_strdup("");

	switch (key->format) {
	case SCEP_KEY_FORMAT_TEXT:
		return g_strdup(value);
	case SCEP_KEY_FORMAT_URL: {
		g_autoptr(GUri) uri = g_uri_parse(value, G_URI_FLAGS_NONE, NULL);
		const gchar *scheme = uri != NULL ? g_uri_get_scheme(uri) : NULL;
		if (uri == NULL ||
		    (g_ascii_strcasecmp(scheme, "http") != 0 &&
		     g_ascii_strcasecmp(scheme, "https") != 0) ||
		    g_uri_get_host(uri) == NULL || g_uri_get_host(uri)[0] == '\0')
			break;
		return g_strdup(value);
	}
	case SCEP_KEY_FORMAT_PROXY: {
		g_autofree gchar *with_scheme = strstr(value, "://") != NULL
						    ? g_strdup(value)
						    : g_strconcat("http://", value, NULL);
		g_autoptr(GUri) uri = g_uri_parse(with_scheme, G_URI_FLAGS_NONE, NULL);
		if (uri == NULL || g_ascii_strcasecmp(g_uri_get_scheme(uri), "http") != 0 ||
		    g_uri_get_host(uri) == NULL || g_uri_get_host(uri)[0] == '\0' ||
		    (g_uri_get_path(uri)[0] != '\0' && g_strcmp0(g_uri_get_path(uri), "/") != 0))
			break;
		return g_strdup(value);
	}
	case SCEP_KEY_FORMAT_FINGERPRINT: {
		g_autoptr(GString) hex = g_string_new(NULL);
		for (const gchar *p = value; *p != '\0'; p++) {
			if (*p == ':' || *p == ' ' || *p == '-')
				continue;
			if (!g_ascii_isxdigit(*p)) {
				g_string_truncate(hex, 0);
				break;
			}
			g_string_append_c(hex, g_ascii_tolower(*p));
		}
		if (hex->len != 32 && hex->len != 40 && hex->len != 64)
			break;
		return g_string_free(g_steal_pointer(&hex), FALSE);
	}
	case SCEP_KEY_FORMAT_PATH:
		if (!g_path_is_absolute(value))
			break;
		return g_strdup(value);
	case SCEP_KEY_FORMAT_COUNTRY:
		if (strlen(value) != 2 || !g_ascii_isalpha(value[0]) || !g_ascii_isalpha(value[1]))
			break;
		return g_ascii_strup(value, -1);
	case SCEP_KEY_FORMAT_SID: {
		g_auto(GStrv) parts = g_strsplit(value, "-", -1);
		guint n = g_strv_length(parts);
		gboolean ok = n >= 4 && g_ascii_strcasecmp(parts[0], "S") == 0;
		for (guint i = 1; ok && i < n; i++) {
			gsize len = strlen(parts[i]);
			ok = len > 0 && len <= 10 && strspn(parts[i], "0123456789") == len;
		}
		if (!ok)
			break;
		return g_strconcat("S", value + 1, NULL);
	}
	case SCEP_KEY_FORMAT_USER: {
		const gchar *at = strchr(value, '@');
		const gchar *bs = strchr(value, '\\');
		gboolean ok = TRUE;
		for (const gchar *p = value; *p != '\0'; p++) {
			if (g_ascii_isspace(*p) || g_ascii_iscntrl(*p))
				ok = FALSE;
		}
		if (at != NULL && (at == value || at[1] == '\0' || strchr(at + 1, '@') != NULL))
			ok = FALSE;
		if (bs != NULL && (bs == value || bs[1] == '\0' || strchr(bs + 1, '\\') != NULL))
			ok = FALSE;
		if (at != NULL && bs != NULL)
			ok = FALSE;
		if (!ok)
			break;
		return g_strdup(value);
	}
	case SCEP_KEY_FORMAT_UNIT: {
		const gchar *dot = strrchr(value, '.');
		if (dot == NULL || dot == value || dot[1] == '\0' ||
		    strspn(
			value,
			"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_.\\@-") !=
			strlen(value))
			break;
		return g_strdup(value);
	}
	case SCEP_KEY_FORMAT_KEY_USAGE:
		return scep_registry_value_normalize_list(
		    value, scep_registry_key_usages, FALSE, error);
	case SCEP_KEY_FORMAT_EKU:
		return scep_registry_value_normalize_list(value, scep_registry_ekus, TRUE, error);
	case SCEP_KEY_FORMAT_OID_OR_NAME: {
		gboolean ok = strlen(value) <= 255;
		for (const gchar *p = value; ok && *p != '\0'; p++) {
			if (g_ascii_iscntrl(*p))
				ok = FALSE;
		}
		if (!ok)
			break;
		return g_strdup(value);
	}
	case SCEP_KEY_FORMAT_COMMAND: {
		g_auto(GStrv) argv = NULL;
		if (!g_shell_parse_argv(value, NULL, &argv, NULL) || !g_path_is_absolute(argv[0]))
			break;
		return g_strdup(value);
	}
	default:
		break;
	}
	return NULL;
}

static gboolean
scep_registry_value_in_ranges(const ScepRegistryKey *key, gint64 v)
{
	if (key->ranges == NULL)
		return TRUE;
	for (guint i = 0; i + 1 < key->ranges->len; i += 2) {
		if (v >= g_array_index(key->ranges, gint64, i) &&
		    v <= g_array_index(key->ranges, gint64, i + 1))
			return TRUE;
	}
	return FALSE;
}

/**
 * scep_registry_key_normalize:
 * @key: the schema entry
 * @value: the value as written (escapes already resolved)
 * @error: return location
 *
 * Checks @value against the schema and returns its canonical form: enum
 * literals in the schema's spelling, "true"/"false", decimal integers,
 * fingerprints as lower-case hex without separators. An empty value of a
 * bool, int or enum key is the default. The error message quotes the
 * value unless the key is a secret, and says what was expected.
 *
 * Returns: (transfer full) (nullable): the canonical value
 */
gchar *
scep_registry_key_normalize(const ScepRegistryKey *key, const gchar *value, GError **error)
{
	g_autofree gchar *normal = NULL;
	g_autoptr(GError) error_local = NULL;

	if (!g_utf8_validate(value, -1, NULL)) {
		g_set_error_literal(error,
				    SCEP_REGISTRY_ERROR,
				    SCEP_REGISTRY_ERROR_INVALID_VALUE,
				    "value is not valid UTF-8");
		return NULL;
	}
	if (value[0] == '\0' && key->type != SCEP_KEY_TYPE_STRING)
		return g_strdup(key->default_value);

	switch (key->type) {
	case SCEP_KEY_TYPE_BOOL: {
		static const gchar *truths[] = { "true", "1", "yes", "on", NULL };
		static const gchar *falsehoods[] = { "false", "0", "no", "off", NULL };
		if (scep_registry_value_find_literal(truths, value) != NULL)
			normal = g_strdup("true");
		else if (scep_registry_value_find_literal(falsehoods, value) != NULL)
			normal = g_strdup("false");
		break;
	}
	case SCEP_KEY_TYPE_INT: {
		gchar *end = NULL;
		gint64 v;
		if (!g_ascii_isdigit(value[0]) && !(value[0] == '-' && g_ascii_isdigit(value[1])))
			break;
		errno = 0;
		v = g_ascii_strtoll(value, &end, 10);
		if (errno != 0 || *end != '\0' || !scep_registry_value_in_ranges(key, v))
			break;
		normal = g_strdup_printf("%" G_GINT64_FORMAT, v);
		break;
	}
	case SCEP_KEY_TYPE_ENUM: {
		const gchar *literal =
		    scep_registry_value_find_literal((const gchar *const *)key->values, value);
		if (literal != NULL)
			normal = g_strdup(literal);
		else if (key->paths && g_path_is_absolute(value))
			normal = g_strdup(value);
		break;
	}
	case SCEP_KEY_TYPE_STRING:
		normal = scep_registry_value_normalize_string(key, value, &error_local);
		break;
	default:
		g_assert_not_reached();
	}

	if (normal == NULL) {
		g_autofree gchar *expected = scep_registry_key_describe_expected(key);
		if (key->secret) {
			g_set_error(error,
				    SCEP_REGISTRY_ERROR,
				    SCEP_REGISTRY_ERROR_INVALID_VALUE,
				    "invalid secret value, expected %s",
				    expected);
		} else if (error_local != NULL) {
			g_set_error(error,
				    SCEP_REGISTRY_ERROR,
				    SCEP_REGISTRY_ERROR_INVALID_VALUE,
				    "invalid value: %s, expected %s",
				    error_local->message,
				    expected);
		} else {
			g_set_error(error,
				    SCEP_REGISTRY_ERROR,
				    SCEP_REGISTRY_ERROR_INVALID_VALUE,
				    "invalid value '%s', expected %s",
				    value,
				    expected);
		}
		return NULL;
	}
	return g_steal_pointer(&normal);
}

/**
 * scep_registry_key_describe_expected:
 *
 * Returns: what the key accepts, in words, for error messages and describe
 */
gchar *
scep_registry_key_describe_expected(const ScepRegistryKey *key)
{
	GString *str = g_string_new(NULL);
	switch (key->type) {
	case SCEP_KEY_TYPE_BOOL:
		g_string_append(str, "true or false");
		break;
	case SCEP_KEY_TYPE_INT:
		if (key->ranges == NULL) {
			g_string_append(str, "an integer");
			break;
		}
		for (guint i = 0; i + 1 < key->ranges->len; i += 2) {
			gint64 lo = g_array_index(key->ranges, gint64, i);
			gint64 hi = g_array_index(key->ranges, gint64, i + 1);
			if (i > 0)
				g_string_append(str, i + 2 < key->ranges->len ? ", " : " or ");
			if (lo == hi)
				g_string_append_printf(str, "%" G_GINT64_FORMAT, lo);
			else
				g_string_append_printf(str,
						       "an integer from %" G_GINT64_FORMAT
						       " to %" G_GINT64_FORMAT,
						       lo,
						       hi);
		}
		if (key->unit != NULL)
			g_string_append_printf(str, " (%s)", key->unit);
		break;
	case SCEP_KEY_TYPE_ENUM:
		g_string_append(str, "one of ");
		for (guint i = 0; key->values[i] != NULL; i++) {
			if (i > 0)
				g_string_append(str, ", ");
			g_string_append_printf(str, "'%s'", key->values[i]);
		}
		if (key->paths)
			g_string_append(str, " or an absolute path");
		break;
	case SCEP_KEY_TYPE_STRING:
		switch (key->format) {
		case SCEP_KEY_FORMAT_URL:
			g_string_append(str, "an http:// or https:// URL with a host");
			break;
		case SCEP_KEY_FORMAT_PROXY:
			g_string_append(str, "host:port or http://host:port");
			break;
		case SCEP_KEY_FORMAT_FINGERPRINT:
			g_string_append(str,
					"32, 40 or 64 hex digits (MD5, SHA-1 or SHA-256), "
					"colons and spaces allowed");
			break;
		case SCEP_KEY_FORMAT_PATH:
			g_string_append(str, "an absolute path");
			break;
		case SCEP_KEY_FORMAT_COUNTRY:
			g_string_append(str, "a two-letter country code");
			break;
		case SCEP_KEY_FORMAT_SID:
			g_string_append(str, "a security identifier like S-1-5-21-1-2-3-1104");
			break;
		case SCEP_KEY_FORMAT_USER:
			g_string_append(str, "user, DOMAIN\\user or user@domain without spaces");
			break;
		case SCEP_KEY_FORMAT_UNIT:
			g_string_append(str, "a systemd unit name like foo.service");
			break;
		case SCEP_KEY_FORMAT_KEY_USAGE:
			g_string_append(str, "a comma-separated list of ");
			g_string_append(str,
					"digitalSignature, nonRepudiation, keyEncipherment, "
					"dataEncipherment, keyAgreement");
			break;
		case SCEP_KEY_FORMAT_EKU:
			g_string_append(str,
					"a comma-separated list of clientAuth, serverAuth, "
					"emailProtection, codeSigning, ipsecIKE or dotted OIDs");
			break;
		case SCEP_KEY_FORMAT_OID_OR_NAME:
			g_string_append(str, "a template name or a dotted OID, at most 255 bytes");
			break;
		case SCEP_KEY_FORMAT_COMMAND:
			g_string_append(str, "a command line whose program is an absolute path");
			break;
		case SCEP_KEY_FORMAT_TEXT:
		default:
			g_string_append(str, "text");
			break;
		}
		if (key->format != SCEP_KEY_FORMAT_TEXT)
			g_string_append(str, ", or empty");
		break;
	default:
		break;
	}
	return g_string_free(str, FALSE);
}
