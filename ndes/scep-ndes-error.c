#include "config.h"

#include "scep-ndes-error.h"

G_DEFINE_QUARK(scep - ndes - error - quark, scep_ndes_error)
