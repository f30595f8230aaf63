#include "config.h"

#include "scep-error.h"

#include "scep-ndes-error.h"
#include "scep-post-install.h"
#include "scep-registry-error.h"
#include "scep-settings-map.h"

static const GDBusErrorEntry scep_error_entries[] = {
	{ SCEP_ERROR_FAILED, "org.scepagent.Agent1.Error.Failed" },
	{ SCEP_ERROR_NOT_FOUND, "org.scepagent.Agent1.Error.NotFound" },
	{ SCEP_ERROR_INVALID_ARGUMENT, "org.scepagent.Agent1.Error.InvalidArgument" },
	{ SCEP_ERROR_INVALID_VALUE, "org.scepagent.Agent1.Error.InvalidValue" },
	{ SCEP_ERROR_ACCESS_DENIED, "org.scepagent.Agent1.Error.AccessDenied" },
	{ SCEP_ERROR_BUSY, "org.scepagent.Agent1.Error.Busy" },
	{ SCEP_ERROR_DISABLED, "org.scepagent.Agent1.Error.Disabled" },
	{ SCEP_ERROR_UNCONFIGURED, "org.scepagent.Agent1.Error.Unconfigured" },
	{ SCEP_ERROR_REJECTED, "org.scepagent.Agent1.Error.Rejected" },
	{ SCEP_ERROR_CANCELLED, "org.scepagent.Agent1.Error.Cancelled" },
	{ SCEP_ERROR_INTERNAL, "org.scepagent.Agent1.Error.Internal" },
};

/* one entry per code, in order */
G_STATIC_ASSERT(G_N_ELEMENTS(scep_error_entries) == SCEP_ERROR_LAST + 1);

GQuark
scep_error_quark(void)
{
	static gsize quark = 0;
	g_dbus_error_register_error_domain(
	    "scep-error-quark", &quark, scep_error_entries, G_N_ELEMENTS(scep_error_entries));
	return (GQuark)quark;
}

static gint
scep_error_code_for_ndes(gint code)
{
	switch (code) {
	case SCEP_NDES_ERROR_REJECTED:
		return SCEP_ERROR_REJECTED;
	default:
		/* network, HTTP status, bad response, unsupported, crypto, untrusted, auth,
		 * timeout; an unusable argument inside an operation is not a malformed D-Bus call
		 * either */
		return SCEP_ERROR_FAILED;
	}
}

static gint
scep_error_code_for_registry(gint code)
{
	switch (code) {
	case SCEP_REGISTRY_ERROR_NOT_FOUND:
		return SCEP_ERROR_NOT_FOUND;
	case SCEP_REGISTRY_ERROR_INVALID_VALUE:
	case SCEP_REGISTRY_ERROR_SYNTAX:
		return SCEP_ERROR_INVALID_VALUE;
	case SCEP_REGISTRY_ERROR_UNKNOWN_KEY:
		return SCEP_ERROR_INVALID_ARGUMENT;
	default:
		return SCEP_ERROR_FAILED;
	}
}

static gint
scep_error_code_for_io(gint code)
{
	switch (code) {
	case G_IO_ERROR_CANCELLED:
		return SCEP_ERROR_CANCELLED;
	case G_IO_ERROR_NOT_FOUND:
		return SCEP_ERROR_NOT_FOUND;
	case G_IO_ERROR_INVALID_ARGUMENT:
		return SCEP_ERROR_INVALID_ARGUMENT;
	case G_IO_ERROR_PERMISSION_DENIED:
		return SCEP_ERROR_ACCESS_DENIED;
	case G_IO_ERROR_BUSY:
		return SCEP_ERROR_BUSY;
	default:
		return SCEP_ERROR_FAILED;
	}
}

void
scep_error_convert(GError **perror)
{
	GError *error;
	gint code;

	if (perror == NULL || *perror == NULL)
		return;
	error = *perror;
	if (error->domain == SCEP_ERROR)
		return;
	if (g_dbus_error_is_remote_error(error))
		g_dbus_error_strip_remote_error(error);
	if (error->domain == SCEP_NDES_ERROR) {
		code = scep_error_code_for_ndes(error->code);
	} else if (error->domain == SCEP_REGISTRY_ERROR) {
		code = scep_error_code_for_registry(error->code);
	} else if (error->domain == SCEP_SETTINGS_MAP_ERROR) {
		code = SCEP_ERROR_UNCONFIGURED;
	} else if (error->domain == SCEP_POST_INSTALL_ERROR || error->domain == G_FILE_ERROR ||
		   error->domain == G_KEY_FILE_ERROR) {
		code = SCEP_ERROR_FAILED;
	} else if (error->domain == G_IO_ERROR) {
		code = scep_error_code_for_io(error->code);
	} else {
		g_warning("unmapped error %s:%d: %s",
			  g_quark_to_string(error->domain),
			  error->code,
			  error->message);
		code = SCEP_ERROR_INTERNAL;
	}
	error->domain = SCEP_ERROR;
	error->code = code;
}
