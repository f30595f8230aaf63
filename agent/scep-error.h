#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define SCEP_ERROR (scep_error_quark())

/**
 * ScepError:
 *
 * The one error domain that crosses D-Bus; every code has a name
 * org.scepagent.Agent1.Error.* (data/org.scepagent.Agent1.xml). The values are API: only ever
 * append.
 */
typedef enum {
	SCEP_ERROR_FAILED = 0,           /* org.scepagent.Agent1.Error.Failed */
	SCEP_ERROR_NOT_FOUND = 1,        /* org.scepagent.Agent1.Error.NotFound */
	SCEP_ERROR_INVALID_ARGUMENT = 2, /* org.scepagent.Agent1.Error.InvalidArgument */
	SCEP_ERROR_INVALID_VALUE = 3,    /* org.scepagent.Agent1.Error.InvalidValue */
	SCEP_ERROR_ACCESS_DENIED = 4,    /* org.scepagent.Agent1.Error.AccessDenied */
	SCEP_ERROR_BUSY = 5,             /* org.scepagent.Agent1.Error.Busy */
	SCEP_ERROR_DISABLED = 6,         /* org.scepagent.Agent1.Error.Disabled */
	SCEP_ERROR_UNCONFIGURED = 7,     /* org.scepagent.Agent1.Error.Unconfigured */
	SCEP_ERROR_REJECTED = 8,         /* org.scepagent.Agent1.Error.Rejected */
	SCEP_ERROR_CANCELLED = 9,        /* org.scepagent.Agent1.Error.Cancelled */
	SCEP_ERROR_INTERNAL = 10,        /* org.scepagent.Agent1.Error.Internal */
} ScepError;

#define SCEP_ERROR_LAST SCEP_ERROR_INTERNAL

/* registers the D-Bus error names on first use */
GQuark scep_error_quark(void);

/*
 * Converts *@perror in place into SCEP_ERROR, keeping its message: SCEP_NDES_ERROR,
 * SCEP_REGISTRY_ERROR, SCEP_SETTINGS_MAP_ERROR, SCEP_POST_INSTALL_ERROR, G_IO_ERROR,
 * G_FILE_ERROR and G_KEY_FILE_ERROR are mapped; anything else becomes SCEP_ERROR_INTERNAL with
 * a g_warning. Only the D-Bus glue calls this, just before returning to the caller.
 */
void scep_error_convert(GError **perror);

G_END_DECLS
