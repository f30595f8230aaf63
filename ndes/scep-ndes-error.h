#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SCEP_NDES_ERROR (scep_ndes_error_quark())

/**
 * ScepNdesError:
 * @SCEP_NDES_ERROR_NETWORK: the server could not be reached, or the transfer broke off
 * @SCEP_NDES_ERROR_HTTP_STATUS: the server answered with an HTTP error status
 * @SCEP_NDES_ERROR_BAD_RESPONSE: the reply is malformed, unexpected or fails verification
 * @SCEP_NDES_ERROR_REJECTED: the CA refused the request (SCEP FAILURE)
 * @SCEP_NDES_ERROR_UNSUPPORTED: the server offers nothing we are allowed to use
 * @SCEP_NDES_ERROR_INVALID_ARGUMENT: the caller passed something unusable (bad key, bad DN, ...)
 * @SCEP_NDES_ERROR_CRYPTO: a local cryptographic operation failed
 * @SCEP_NDES_ERROR_UNTRUSTED: a certificate does not match the pin or does not chain
 * @SCEP_NDES_ERROR_AUTH: authentication to the server failed
 * @SCEP_NDES_ERROR_TIMEOUT: the server did not answer in time
 */
typedef enum {
	SCEP_NDES_ERROR_NETWORK,
	SCEP_NDES_ERROR_HTTP_STATUS,
	SCEP_NDES_ERROR_BAD_RESPONSE,
	SCEP_NDES_ERROR_REJECTED,
	SCEP_NDES_ERROR_UNSUPPORTED,
	SCEP_NDES_ERROR_INVALID_ARGUMENT,
	SCEP_NDES_ERROR_CRYPTO,
	SCEP_NDES_ERROR_UNTRUSTED,
	SCEP_NDES_ERROR_AUTH,
	SCEP_NDES_ERROR_TIMEOUT,
} ScepNdesError;

GQuark scep_ndes_error_quark(void);

G_END_DECLS
