#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SCEP_REGISTRY_ERROR (scep_registry_error_quark())

typedef enum {
	SCEP_REGISTRY_ERROR_NOT_FOUND,     /* no such key or instance */
	SCEP_REGISTRY_ERROR_INVALID_VALUE, /* a value the schema does not allow */
	SCEP_REGISTRY_ERROR_UNAVAILABLE,   /* the registry directory or a file cannot be used */
	SCEP_REGISTRY_ERROR_SYNTAX,        /* a line that is not KEY=VALUE, or a bad escape */
	SCEP_REGISTRY_ERROR_UNKNOWN_KEY,   /* a key the schema does not know */
} ScepRegistryError;

GQuark scep_registry_error_quark(void);

G_END_DECLS
