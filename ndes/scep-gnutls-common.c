#include "config.h"

#include "scep-gnutls-common.h"

#include "scep-ndes-error.h"

void
scep_gnutls_datum_clear(ScepGnutlsDatum *datum)
{
	gnutls_free(datum->data);
	datum->data = NULL;
	datum->size = 0;
}

void
scep_gnutls_trust_list_deinit(gnutls_x509_trust_list_t list)
{
	gnutls_x509_trust_list_deinit(list, 1);
}

/**
 * scep_gnutls_rc_to_error:
 * @rc: a GnuTLS return code
 * @error: return location
 *
 * Returns: %TRUE when @rc is not negative, otherwise sets @error to
 * %SCEP_NDES_ERROR_CRYPTO with GnuTLS's text and returns %FALSE.
 */
gboolean
scep_gnutls_rc_to_error(int rc, GError **error)
{
	return scep_gnutls_check(rc, NULL, error);
}

/**
 * scep_gnutls_check:
 * @rc: a GnuTLS return code
 * @what: (nullable): what was being done, for the message
 * @error: return location
 *
 * Like scep_gnutls_rc_to_error(), with context in the message.
 */
gboolean
scep_gnutls_check(int rc, const gchar *what, GError **error)
{
	if (rc >= 0)
		return TRUE;
	if (what != NULL) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_CRYPTO,
			    "%s: %s",
			    what,
			    gnutls_strerror(rc));
		return FALSE;
	}
	g_set_error_literal(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_CRYPTO, gnutls_strerror(rc));
	return FALSE;
}

GBytes *
scep_gnutls_datum_to_bytes(const gnutls_datum_t *datum)
{
	return g_bytes_new(datum->data, datum->size);
}

/* the result borrows the memory of @bytes */
gnutls_datum_t
scep_gnutls_datum_from_bytes(GBytes *bytes)
{
	gsize size = 0;
	gnutls_datum_t datum;
	datum.data = (unsigned char *)g_bytes_get_data(bytes, &size);
	datum.size = (unsigned int)size;
	return datum;
}
