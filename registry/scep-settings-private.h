#pragma once

#include "scep-settings.h"

G_BEGIN_DECLS

ScepSettings *scep_settings_new_from_snapshot(ScepRegistrySnapshot *snapshot, guint instance);

G_END_DECLS
