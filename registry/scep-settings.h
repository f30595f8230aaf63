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
	gchar *value;
	gchar *type; /* enum literal */
	gchar *suffix;
} ScepSettingsSan;

/**
 * ScepSettings:
 *
 * The validated, typed settings of one instance. Field names follow the
 * registry keys (dots become underscores); strings are never NULL (empty
 * when unset and without default); enums keep the schema's literal. The
 * table in scep-settings.c maps every schema key to its field, and a test
 * checks that both agree.
 */
struct _ScepSettings {
	guint instance;
	gboolean enabled;
	gchar *scepurl;
	gchar *proxy;
	gchar *https_cacert;
	gchar *crypt_password; /* secret */
	gchar *caident;
	gchar *cafingerprint; /* lower-case hex, no separators */
	gchar *cafingerprint_hash;
	gint64 keysize;
	gchar *signalg;
	gchar *encalg;
	gboolean allow_legacy_algorithms;
	gboolean sscep_send_content_type;
	gchar *http_method;
	gint64 connect_timeout;
	gint64 request_timeout;
	gchar *use_ready_made_challenge_password_command;
	gchar *ndes_user;
	gchar *ndes_crypt_password; /* secret */
	gchar *ndes_auth;
	gchar *ndes_cacert;
	gint64 ndes_debuglevel;
	gchar *ndes_url;
	gchar *ndes_krb5_keytab;
	gchar *ndes_krb5_ccache;
	gint64 renewal_period;
	gint64 expiry_check_interval;
	gint64 renewal_threshold_percent;
	gchar *renewal_method;
	gchar *renewal_message_type;
	gchar *hostname_change_handling;
	gchar *subjectaltname_type;
	gchar *subjectaltname;
	gchar *subjectaltname_suffix;
	ScepSettingsSan other[SCEP_SETTINGS_N_OTHER_SANS];
	gchar *organization;
	gchar *organizationalunit;
	gchar *locality;
	gchar *state;
	gchar *country;
	gchar *multivalueseparator;
	gchar *sid_san_uri;
	gchar *certificate_template;
	gchar *key_usage;
	gchar *extended_key_usage;
	gint64 poll_interval;
	gint64 max_poll_time;
	gint64 retry_interval;
	gint64 ca_rollover_threshold_percent;
	gchar *cert_file;
	gchar *key_file;
	gchar *chain_file;
	gchar *post_install_command;
	gchar *post_install_unit;
	gchar *post_install_unit_action;
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
