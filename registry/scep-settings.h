#pragma once

#include <glib.h>

#include "scep-registry-snapshot.h"

G_BEGIN_DECLS

typedef enum {
	SCEP_RENEWAL_METHOD_RENEWAL,
	SCEP_RENEWAL_METHOD_START_OVER,
	SCEP_RENEWAL_METHOD_FALLBACK_TO_START_OVER,
} ScepRenewalMethod;

typedef enum {
	SCEP_SAN_TYPE_NONE,
	SCEP_SAN_TYPE_IP_ADDRESS,
	SCEP_SAN_TYPE_DNS_NAME,
	SCEP_SAN_TYPE_IP_ADDRESS_AUTO,
	SCEP_SAN_TYPE_DNS_NAME_AUTO,
	SCEP_SAN_TYPE_EMAIL_ADDRESS,
	SCEP_SAN_TYPE_DNS_NAME_AS_UPN_AUTO,
	SCEP_SAN_TYPE_UPN,
} ScepSanType;

#define SCEP_SETTINGS_N_OTHER_SANS 4

typedef struct {
	const gchar *value;
	const gchar *type; /* enum literal */
	const gchar *suffix;
} ScepSettingsSan;

/**
 * ScepSettings:
 *
 * The validated, typed settings of one instance. Field names follow the
 * registry keys (dots become underscores); strings are never NULL (empty
 * when unset and without default); enums keep the schema's literal. The
 * strings belong to the snapshot the settings came from: keep a reference
 * to the snapshot as long as the settings are used. The table in
 * scep-settings.c maps every schema key to its field, and a test checks
 * that both agree.
 */
struct _ScepSettings {
	guint instance;
	gboolean enabled;
	const gchar *scepurl;
	const gchar *proxy;
	const gchar *https_cacert;
	const gchar *crypt_password; /* secret */
	const gchar *caident;
	const gchar *cafingerprint; /* lower-case hex, no separators */
	const gchar *cafingerprint_hash;
	gint64 keysize;
	const gchar *signalg;
	const gchar *encalg;
	gboolean allow_legacy_algorithms;
	gboolean sscep_send_content_type;
	const gchar *http_method;
	gint64 connect_timeout;
	gint64 request_timeout;
	const gchar *use_ready_made_challenge_password_command;
	const gchar *ndes_user;
	const gchar *ndes_crypt_password; /* secret */
	const gchar *ndes_auth;
	const gchar *ndes_cacert;
	gint64 ndes_debuglevel;
	const gchar *ndes_url;
	const gchar *ndes_krb5_keytab;
	const gchar *ndes_krb5_ccache;
	gint64 renewal_period;
	gint64 expiry_check_interval;
	gint64 renewal_threshold_percent;
	const gchar *renewal_method;
	const gchar *renewal_message_type;
	const gchar *hostname_change_handling;
	const gchar *subjectaltname_type;
	const gchar *subjectaltname;
	const gchar *subjectaltname_suffix;
	ScepSettingsSan other[SCEP_SETTINGS_N_OTHER_SANS];
	const gchar *organization;
	const gchar *organizationalunit;
	const gchar *locality;
	const gchar *state;
	const gchar *country;
	const gchar *multivalueseparator;
	const gchar *sid_san_uri;
	const gchar *certificate_template;
	const gchar *key_usage;
	const gchar *extended_key_usage;
	gint64 poll_interval;
	gint64 max_poll_time;
	gint64 retry_interval;
	gint64 ca_rollover_threshold_percent;
	const gchar *cert_file;
	const gchar *key_file;
	const gchar *chain_file;
	const gchar *post_install_command;
	const gchar *post_install_unit;
	const gchar *post_install_unit_action;
	gint64 post_install_timeout;
};

void scep_settings_free(ScepSettings *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepSettings, scep_settings_free)

ScepRenewalMethod scep_settings_get_renewal_method(const ScepSettings *self);
ScepSanType scep_settings_san_type_from_string(const gchar *literal);
gboolean scep_settings_has_auto_subject(const ScepSettings *self);

/* for tests: the table of fields */
typedef struct {
	const gchar *key;
	ScepKeyType type;
	gsize offset;
} ScepSettingsField;

const ScepSettingsField *scep_settings_get_fields(guint *n_fields);

G_END_DECLS
