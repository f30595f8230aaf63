#include "config.h"

#include "scep-registry-error.h"

G_DEFINE_QUARK(scep - registry - error - quark, scep_registry_error)
