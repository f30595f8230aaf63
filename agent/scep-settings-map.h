#pragma once

#include <gio/gio.h>

#include "scep-csr.h"
#include "scep-ndes-admin.h"
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
 * (auto) types, with the suffix applied (see scep_settings_map_host_name()) */
gchar *scep_settings_map_common_name(const ScepSettings *settings, GError **error);

/*
 * The device's host name, read afresh on every call (so that a change is seen without a
 * restart): $SCEP_AGENT_HOSTNAME when set (tests, or an override); else the static host name,
 * the first line of scep_settings_map_host_name_file() that is neither empty nor a comment
 * (hostname(5)); else the kernel's host name (gethostname()). The static name comes first
 * because it is what systemd gives the kernel at boot and what hostnamectl and management
 * change, and because it stays readable under the unit's ProtectHostname=, whose private UTS
 * namespace freezes the kernel's name at the start of the service.
 */
gchar *scep_settings_map_host_name(void);
/* the file the static host name is read from: $SCEP_AGENT_HOSTNAME_FILE (tests), else
 * /etc/hostname; the engine watches it */
const gchar *scep_settings_map_host_name_file(void);

/*
 * The subject and SAN functions below never ask the resolver: where the settings need the DNS
 * domain of an unqualified host name they take it from a cache, and fail with
 * G_IO_ERROR_WOULD_BLOCK while it is unknown or out of date (ten minutes; one after a resolver
 * failure). The caller then refreshes it, off the main loop, and maps again.
 */
void scep_settings_map_refresh_dns_domain_async(GCancellable *cancellable,
						GAsyncReadyCallback callback,
						gpointer user_data);
gboolean scep_settings_map_refresh_dns_domain_finish(GAsyncResult *result, GError **error);
/* RFC 4514 subject: CN, then OU, O, L, ST (split at multivalueseparator) and C */
gchar *scep_settings_map_subject(const ScepSettings *settings, GError **error);

/* subject, SANs (first SAN, other slots, SID URI), keyUsage, EKU and template; no challenge */
ScepCsrParams *scep_settings_map_csr_params(const ScepSettings *settings, GError **error);

/* whether the challenge settings can be used (NDES: user and password, or a Kerberos keytab or
 * credential cache; NTLM passwords up to 128 characters) */
gboolean scep_settings_map_check_challenge(const ScepSettings *settings, GError **error);

/* ndes6: whether the challenge is fetched from NDES mscep_admin
 * (use_ready_made_challenge_password_command=NDES) */
gboolean scep_settings_map_challenge_from_ndes(const ScepSettings *settings);
/* the mscep_admin URL: ndes.challenge_password_retrieval.url, or scepurl's scheme and host
 * (https unless cacert is "none (not using https)") + /certsrv/mscep_admin/ */
gchar *scep_settings_map_ndes_url(const ScepSettings *settings, GError **error);
/* the retrieval configured from the settings; @ca_certs: the CA certificates just obtained by
 * GetCACert, trusted when cacert is "from getca operation" */
ScepNdesAdmin *scep_settings_map_new_ndes_admin(const ScepSettings *settings,
						ScepCaCerts *ca_certs,
						GError **error);

G_END_DECLS
