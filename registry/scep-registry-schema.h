#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
	SCEP_KEY_TYPE_BOOL,
	SCEP_KEY_TYPE_INT,
	SCEP_KEY_TYPE_ENUM,
	SCEP_KEY_TYPE_STRING,
} ScepKeyType;

typedef enum {
	SCEP_KEY_FORMAT_TEXT,
	SCEP_KEY_FORMAT_URL,
	SCEP_KEY_FORMAT_PROXY,
	SCEP_KEY_FORMAT_FINGERPRINT,
	SCEP_KEY_FORMAT_PATH,
	SCEP_KEY_FORMAT_COUNTRY,
	SCEP_KEY_FORMAT_SID,
	SCEP_KEY_FORMAT_USER,
	SCEP_KEY_FORMAT_UNIT,
	SCEP_KEY_FORMAT_KEY_USAGE,
	SCEP_KEY_FORMAT_EKU,
	SCEP_KEY_FORMAT_OID_OR_NAME,
	SCEP_KEY_FORMAT_COMMAND,
} ScepKeyFormat;

/* the prefix every key carries, followed by the instance number */
#define SCEP_REGISTRY_KEY_PREFIX "network.scepclient.cert"

/**
 * ScepRegistryKey:
 *
 * One key of the schema (data/scep-registry.schema), after templates were
 * expanded. Owned by the schema, which lives as long as the process.
 */
typedef struct {
	guint index; /* position in the schema */
	gchar *name; /* without the "network.scepclient.certN." prefix */
	ScepKeyType type;
	ScepKeyFormat format;
	gchar *default_value; /* normalised, never NULL */
	gchar **values;       /* enum literals, nullable */
	gboolean paths;       /* enum: an absolute path is accepted too */
	GArray *ranges;       /* int: pairs of gint64 (min, max), nullable */
	gboolean secret;
	gchar *unit; /* nullable */
	gchar *change;
	gchar *origin;
	gchar *summary;
	gchar *description;
} ScepRegistryKey;

gboolean scep_registry_schema_ensure_loaded(GError **error);
guint scep_registry_schema_get_n_keys(void);
const ScepRegistryKey *scep_registry_schema_get_key(guint index);
const ScepRegistryKey *scep_registry_schema_lookup(const gchar *name);
const gchar *scep_registry_schema_suggest(const gchar *name);

gchar *scep_registry_key_normalize(const ScepRegistryKey *key, const gchar *value, GError **error);
gchar *scep_registry_key_describe_expected(const ScepRegistryKey *key);
const gchar *scep_registry_key_type_to_string(ScepKeyType type);
const gchar *scep_registry_key_format_to_string(ScepKeyFormat format);

gboolean scep_registry_parse_key(const gchar *full_key, guint *instance, const gchar **name);

G_END_DECLS
