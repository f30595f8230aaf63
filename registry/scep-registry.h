#pragma once

#include <gio/gio.h>

#include "scep-registry-error.h"
#include "scep-registry-schema.h"
#include "scep-registry-secret.h"
#include "scep-registry-snapshot.h"
#include "scep-settings.h"

G_BEGIN_DECLS

#define SCEP_TYPE_REGISTRY (scep_registry_get_type())
G_DECLARE_FINAL_TYPE(ScepRegistry, scep_registry, SCEP, REGISTRY, GObject)

typedef enum {
	SCEP_REGISTRY_CHANGE_ADDED,
	SCEP_REGISTRY_CHANGE_REMOVED,
	SCEP_REGISTRY_CHANGE_CHANGED,
} ScepRegistryChangeKind;

typedef struct {
	const ScepRegistryKey *key; /* borrowed from the schema */
	gchar *old_value;           /* nullable: unset before */
	gchar *new_value;           /* nullable: unset now */
} ScepRegistryKeyChange;

/**
 * ScepRegistryChange:
 *
 * What happened to one instance between two loads: added (keys lists every
 * key set), removed (every key that was set), or changed (exactly the keys
 * whose value as written differs, or that were set or unset).
 */
typedef struct {
	guint instance;
	ScepRegistryChangeKind kind;
	GPtrArray *keys; /* of ScepRegistryKeyChange */
} ScepRegistryChange;

void scep_registry_change_free(ScepRegistryChange *change);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepRegistryChange, scep_registry_change_free)

const gchar *scep_registry_change_kind_to_string(ScepRegistryChangeKind kind);

GPtrArray *scep_registry_diff(ScepRegistrySnapshot *old_snapshot,
			      ScepRegistrySnapshot *new_snapshot);

ScepRegistry *scep_registry_new(const gchar *dir);
const gchar *scep_registry_get_dir(ScepRegistry *self);
gboolean scep_registry_load(ScepRegistry *self, GError **error);
ScepRegistrySnapshot *scep_registry_get_snapshot(ScepRegistry *self);
void scep_registry_set_debounce(ScepRegistry *self, guint msec);
gboolean scep_registry_watch(ScepRegistry *self, GError **error);

gboolean scep_registry_set_value(ScepRegistry *self,
				 const gchar *full_key,
				 const gchar *value,
				 GError **error);
gboolean scep_registry_set_values(ScepRegistry *self,
				  const gchar *const *keys,
				  const gchar *const *values,
				  GError **error);
gboolean scep_registry_unset_value(ScepRegistry *self, const gchar *full_key, GError **error);

/* writing one file; exposed for tests */
gboolean scep_registry_file_replace_key(
    const gchar *path, const gchar *full_key, const gchar *value, gboolean *found, GError **error);
gboolean
scep_registry_write_atomic(const gchar *path, const gchar *contents, gsize len, GError **error);

G_END_DECLS
