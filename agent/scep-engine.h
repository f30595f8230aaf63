#pragma once

#include <gio/gio.h>

#include "scep-clock.h"
#include "scep-profile.h"
#include "scep-registry.h"

G_BEGIN_DECLS

#define SCEP_TYPE_ENGINE (scep_engine_get_type())
G_DECLARE_FINAL_TYPE(ScepEngine, scep_engine, SCEP, ENGINE, GObject)

/*
 * @registry_dir: NULL = SCEP_DEFAULT_REGISTRY_DIR; @state_dir: NULL = SCEP_DEFAULT_STATE_DIR;
 * @clock: NULL = the system clock
 */
ScepEngine *scep_engine_new(const gchar *registry_dir, const gchar *state_dir, ScepClock *clock);

/* registry reload debounce (default 100 ms); set before scep_engine_load() */
void scep_engine_set_debounce(ScepEngine *self, guint msec);

/*
 * Loads the registry, creates and starts one profile per instance, and watches the registry:
 * every change set is acted on (see scep_engine_apply_changes()). Also watches the static host
 * name's file (scep_settings_map_host_name_file(): /etc/hostname, or $SCEP_AGENT_HOSTNAME_FILE
 * for tests) with a file monitor; when the host name read from it changes, every profile is
 * told (scep_profile_host_name_changed()).
 */
gboolean scep_engine_load(ScepEngine *self, GError **error);

/*
 * Acts on registry change sets: added -> new profile; removed -> profile stopped and dropped
 * (installed files and state stay); changed -> the union of the changed keys' `change` fields:
 * enable (enable/disable), next-operation (used from the next operation; a failed instance
 * retries at once), reschedule (timers re-planned), re-enroll (new enrollment), reinstall (files
 * moved to the new paths), none (nothing).
 */
void scep_engine_apply_changes(ScepEngine *self, GPtrArray *changes);

/* stops every profile (cancels what runs); the engine can then be dropped */
void scep_engine_shutdown(ScepEngine *self);

ScepClock *scep_engine_get_clock(ScepEngine *self);
ScepRegistry *scep_engine_get_registry(ScepEngine *self);
const gchar *scep_engine_get_state_dir(ScepEngine *self);
/* (transfer none) (nullable) */
ScepProfile *scep_engine_get_profile(ScepEngine *self, guint instance);
/* (transfer container) (element-type ScepProfile) in instance order */
GPtrArray *scep_engine_get_profiles(ScepEngine *self);

G_END_DECLS
