#pragma once

#include <gio/gio.h>

#include "scep-csr.h"
#include "scep-ndes-client.h"
#include "scep-settings.h"

G_BEGIN_DECLS

#define SCEP_SETTINGS_MAP_ERROR (scep_settings_map_error_quark())

/**
 * ScepSettingsMapError:
 * @SCEP_SETTINGS_MAP_ERROR_INVALID: a setting cannot be used as it is (names the key)
 * @SCEP_SETTINGS_MAP_ERROR_UNSUPPORTED: a setting asks for something this build cannot do
 */
typedef enum {
	SCEP_SETTINGS_MAP_ERROR_INVALID,
	SCEP_SETTINGS_MAP_ERROR_UNSUPPORTED,
} ScepSettingsMapError;

GQuark scep_settings_map_error_quark(void);

/* the registry's settings as engine options: URL, proxy, TLS trust, timeouts, CA identifier,
 * fingerprint pin, encalg/signalg (blowfish refused), legacy policy, HTTP method, content type */
ScepNdesClient *scep_settings_map_new_client(const ScepSettings *settings, GError **error);

/* encalg / signalg literals as GnuTLS algorithms ("automatic" = UNKNOWN) */
gboolean
scep_settings_map_cipher(const gchar *encalg, gnutls_cipher_algorithm_t *out, GError **error);
gboolean
scep_settings_map_digest(const gchar *signalg, gnutls_digest_algorithm_t *out, GError **error);

/* the value the CN and the first SAN take: subjectaltname, or the device's name for the
 * (auto) types, with the suffix applied; $SCEP_AGENT_HOSTNAME overrides the host name */
gchar *scep_settings_map_common_name(const ScepSettings *settings, GError **error);

/* RFC 4514 subject: CN, then OU, O, L, ST (split at multivalueseparator) and C */
gchar *scep_settings_map_subject(const ScepSettings *settings, GError **error);

/* subject, SANs (first SAN, other slots, SID URI), keyUsage, EKU and template; no challenge */
ScepCsrParams *scep_settings_map_csr_params(const ScepSettings *settings, GError **error);

/* whether the challenge comes from NDES mscep_admin (not supported by this build yet) */
gboolean scep_settings_map_check_challenge(const ScepSettings *settings, GError **error);

G_END_DECLS
