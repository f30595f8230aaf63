#pragma once

#include <glib.h>

#include "scep-registry-schema.h"

G_BEGIN_DECLS

typedef enum {
	SCEP_REGISTRY_PROBLEM_ERROR,
	SCEP_REGISTRY_PROBLEM_WARNING,
} ScepRegistryProblemSeverity;

/**
 * ScepRegistryProblem:
 *
 * Something wrong in the registry, located as precisely as possible. Secret
 * values never appear in the message.
 */
typedef struct {
	ScepRegistryProblemSeverity severity;
	gchar *file;    /* nullable */
	guint line;     /* 0 when not tied to a line */
	gchar *key;     /* nullable, the full key */
	gint instance;  /* -1 when not tied to an instance */
	gchar *message; /* lower case, no full stop */
} ScepRegistryProblem;

void scep_registry_problem_free(ScepRegistryProblem *problem);
gchar *scep_registry_problem_to_string(const ScepRegistryProblem *problem);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepRegistryProblem, scep_registry_problem_free)

/* one explicitly set key, as listed by scep_registry_snapshot_list() */
typedef struct {
	gchar *key;        /* full key */
	gchar *value;      /* as written, escapes resolved */
	const gchar *file; /* borrowed from the snapshot */
	guint line;
	gboolean secret;
	gboolean known;
} ScepRegistryEntry;

void scep_registry_entry_free(ScepRegistryEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepRegistryEntry, scep_registry_entry_free)

typedef struct _ScepRegistrySnapshot ScepRegistrySnapshot;
typedef struct _ScepSettings ScepSettings;

ScepRegistrySnapshot *scep_registry_snapshot_load(const gchar *dir, GError **error);
ScepRegistrySnapshot *scep_registry_snapshot_ref(ScepRegistrySnapshot *self);
void scep_registry_snapshot_unref(ScepRegistrySnapshot *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepRegistrySnapshot, scep_registry_snapshot_unref)

const gchar *scep_registry_snapshot_get_dir(ScepRegistrySnapshot *self);
GArray *scep_registry_snapshot_get_instances(ScepRegistrySnapshot *self);
gboolean scep_registry_snapshot_has_instance(ScepRegistrySnapshot *self, guint instance);
const gchar *scep_registry_snapshot_get_raw(
    ScepRegistrySnapshot *self, guint instance, guint key_index, const gchar **file, guint *line);
const gchar *scep_registry_snapshot_lookup(ScepRegistrySnapshot *self,
					   const gchar *full_key,
					   const gchar **file,
					   guint *line);
GPtrArray *scep_registry_snapshot_get_problems(ScepRegistrySnapshot *self);
gboolean
scep_registry_snapshot_is_encrypted(ScepRegistrySnapshot *self, guint instance, guint key_index);
guint scep_registry_snapshot_count_errors(ScepRegistrySnapshot *self);
ScepSettings *scep_registry_snapshot_get_settings(ScepRegistrySnapshot *self, guint instance);
const gchar *scep_registry_snapshot_get_invalid_reason(ScepRegistrySnapshot *self, guint instance);
GPtrArray *scep_registry_snapshot_list(ScepRegistrySnapshot *self, const gchar *prefix);

/* used by scep-settings.c while validating */
void scep_registry_snapshot_add_problem(ScepRegistrySnapshot *self,
					ScepRegistryProblemSeverity severity,
					guint instance,
					guint key_index,
					const gchar *format,
					...) G_GNUC_PRINTF(5, 6);

void scep_registry_snapshot_set_normalized(ScepRegistrySnapshot *self,
					   guint instance,
					   guint key_index,
					   const gchar *normal);
gchar *scep_registry_unescape(const gchar *text, GError **error);
gchar *scep_registry_escape(const gchar *value);
gint scep_registry_uint_compare(gconstpointer a, gconstpointer b);
gchar *scep_registry_make_key(guint instance, const gchar *name);

G_END_DECLS
