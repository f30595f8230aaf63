#include "config.h"

#include <string.h>

#include "scep-registry-error.h"
#include "scep-settings-private.h"

#define FIELD(name, type, member)                                                                  \
	{                                                                                          \
		name, SCEP_KEY_TYPE_##type, G_STRUCT_OFFSET(ScepSettings, member)                  \
	}
#define OTHER_SAN(n)                                                                               \
	FIELD("subjectaltname_other" #n, STRING, other[n - 1].value),                              \
	    FIELD("subjectaltname_other" #n "_type", ENUM, other[n - 1].type),                     \
	    FIELD("subjectaltname_other" #n "_suffix", STRING, other[n - 1].suffix)

/* every schema key and the field holding it; test-registry checks both directions */
static const ScepSettingsField scep_settings_fields[] = {
	FIELD("enabled", BOOL, enabled),
	FIELD("scepurl", STRING, scepurl),
	FIELD("proxy", STRING, proxy),
	FIELD("https_cacert", STRING, https_cacert),
	FIELD("crypt_password", STRING, crypt_password),
	FIELD("caident", STRING, caident),
	FIELD("cafingerprint", STRING, cafingerprint),
	FIELD("cafingerprint_hash", ENUM, cafingerprint_hash),
	FIELD("keysize", INT, keysize),
	FIELD("signalg", ENUM, signalg),
	FIELD("encalg", ENUM, encalg),
	FIELD("allow_legacy_algorithms", BOOL, allow_legacy_algorithms),
	FIELD("sscep.send_content_type", BOOL, sscep_send_content_type),
	FIELD("http_method", ENUM, http_method),
	FIELD("connect_timeout", INT, connect_timeout),
	FIELD("request_timeout", INT, request_timeout),
	FIELD("use_ready_made_challenge_password_command",
	      ENUM,
	      use_ready_made_challenge_password_command),
	FIELD("ndes.challenge_password_retrieval.user", STRING, ndes_user),
	FIELD("ndes.challenge_password_retrieval.crypt_password", STRING, ndes_crypt_password),
	FIELD("ndes.challenge_password_retrieval.auth", ENUM, ndes_auth),
	FIELD("ndes.challenge_password_retrieval.cacert", ENUM, ndes_cacert),
	FIELD("ndes.challenge_password_retrieval.debuglevel", INT, ndes_debuglevel),
	FIELD("ndes.challenge_password_retrieval.url", STRING, ndes_url),
	FIELD("ndes.challenge_password_retrieval.krb5_keytab", STRING, ndes_krb5_keytab),
	FIELD("ndes.challenge_password_retrieval.krb5_ccache", STRING, ndes_krb5_ccache),
	FIELD("renewal_period", INT, renewal_period),
	FIELD("expiry_check_interval", INT, expiry_check_interval),
	FIELD("renewal_threshold_percent", INT, renewal_threshold_percent),
	FIELD("renewal_method", ENUM, renewal_method),
	FIELD("renewal_message_type", ENUM, renewal_message_type),
	FIELD("hostname_change_handling", ENUM, hostname_change_handling),
	FIELD("subjectaltname_type", ENUM, subjectaltname_type),
	FIELD("subjectaltname", STRING, subjectaltname),
	FIELD("subjectaltname_suffix", STRING, subjectaltname_suffix),
	OTHER_SAN(1),
	OTHER_SAN(2),
	OTHER_SAN(3),
	OTHER_SAN(4),
	FIELD("organization", STRING, organization),
	FIELD("organizationalunit", STRING, organizationalunit),
	FIELD("locality", STRING, locality),
	FIELD("state", STRING, state),
	FIELD("country", STRING, country),
	FIELD("multivalueseparator", STRING, multivalueseparator),
	FIELD("sid_san_uri", STRING, sid_san_uri),
	FIELD("certificate_template", STRING, certificate_template),
	FIELD("key_usage", STRING, key_usage),
	FIELD("extended_key_usage", STRING, extended_key_usage),
	FIELD("poll_interval", INT, poll_interval),
	FIELD("max_poll_time", INT, max_poll_time),
	FIELD("retry_interval", INT, retry_interval),
	FIELD("ca_rollover_threshold_percent", INT, ca_rollover_threshold_percent),
	FIELD("cert_file", STRING, cert_file),
	FIELD("key_file", STRING, key_file),
	FIELD("chain_file", STRING, chain_file),
	FIELD("post_install_command", STRING, post_install_command),
	FIELD("post_install_unit", STRING, post_install_unit),
	FIELD("post_install_unit_action", ENUM, post_install_unit_action),
	FIELD("post_install_timeout", INT, post_install_timeout),
};

static const gchar *scep_settings_san_types[] = {
	[SCEP_SAN_TYPE_NONE] = "None",
	[SCEP_SAN_TYPE_IP_ADDRESS] = "IP address",
	[SCEP_SAN_TYPE_DNS_NAME] = "DNS name",
	[SCEP_SAN_TYPE_IP_ADDRESS_AUTO] = "IP address (auto)",
	[SCEP_SAN_TYPE_DNS_NAME_AUTO] = "DNS name (auto)",
	[SCEP_SAN_TYPE_EMAIL_ADDRESS] = "Email address",
	[SCEP_SAN_TYPE_DNS_NAME_AS_UPN_AUTO] = "DNS name as UPN (auto)",
	[SCEP_SAN_TYPE_UPN] = "UPN",
};

const ScepSettingsField *
scep_settings_get_fields(guint *n_fields)
{
	*n_fields = G_N_ELEMENTS(scep_settings_fields);
	return scep_settings_fields;
}

static const ScepSettingsField *
scep_settings_find_field(const gchar *key)
{
	for (guint i = 0; i < G_N_ELEMENTS(scep_settings_fields); i++) {
		if (g_strcmp0(scep_settings_fields[i].key, key) == 0)
			return &scep_settings_fields[i];
	}
	return NULL;
}

void
scep_settings_free(ScepSettings *self)
{
	/* the strings belong to the snapshot */
	g_free(self);
}

/* the field of each schema key, by schema index, built once */
static const ScepSettingsField **
scep_settings_fields_by_key(void)
{
	static const ScepSettingsField **by_key = NULL;
	if (g_once_init_enter(&by_key)) {
		guint n_keys = scep_registry_schema_get_n_keys();
		const ScepSettingsField **table = g_new0(const ScepSettingsField *, n_keys);
		for (guint i = 0; i < n_keys; i++)
			table[i] = scep_settings_find_field(scep_registry_schema_get_key(i)->name);
		g_once_init_leave(&by_key, table);
	}
	return by_key;
}

ScepSanType
scep_settings_san_type_from_string(const gchar *literal)
{
	for (guint i = 0; i < G_N_ELEMENTS(scep_settings_san_types); i++) {
		if (g_strcmp0(scep_settings_san_types[i], literal) == 0)
			return i;
	}
	return SCEP_SAN_TYPE_NONE;
}

ScepRenewalMethod
scep_settings_get_renewal_method(const ScepSettings *self)
{
	if (g_strcmp0(self->renewal_method, "Start-over") == 0)
		return SCEP_RENEWAL_METHOD_START_OVER;
	if (g_strcmp0(self->renewal_method, "Fallback to start-over") == 0)
		return SCEP_RENEWAL_METHOD_FALLBACK_TO_START_OVER;
	return SCEP_RENEWAL_METHOD_RENEWAL;
}

static gboolean
scep_settings_san_type_is_auto(const gchar *literal)
{
	return g_str_has_suffix(literal, "(auto)");
}

gboolean
scep_settings_has_auto_subject(const ScepSettings *self)
{
	return scep_settings_san_type_is_auto(self->subjectaltname_type);
}

static gboolean
scep_settings_store(ScepSettings *self, const ScepSettingsField *f, const gchar *normal)
{
	gpointer member = G_STRUCT_MEMBER_P(self, f->offset);
	switch (f->type) {
	case SCEP_KEY_TYPE_BOOL:
		*(gboolean *)member = g_strcmp0(normal, "true") == 0;
		return TRUE;
	case SCEP_KEY_TYPE_INT:
		*(gint64 *)member = g_ascii_strtoll(normal, NULL, 10);
		return TRUE;
	case SCEP_KEY_TYPE_ENUM:
	case SCEP_KEY_TYPE_STRING:
		*(const gchar **)member = normal;
		return TRUE;
	default:
		return FALSE;
	}
}

static guint
scep_settings_key_index(const gchar *name)
{
	const ScepRegistryKey *key = scep_registry_schema_lookup(name);
	return key != NULL ? key->index : G_MAXUINT;
}

/* rules that involve more than one key */
static void
scep_settings_check_instance(ScepSettings *self, ScepRegistrySnapshot *snapshot)
{
	guint n = self->instance;
	if (self->enabled && self->scepurl[0] == '\0') {
		scep_registry_snapshot_add_problem(snapshot,
						   SCEP_REGISTRY_PROBLEM_ERROR,
						   n,
						   scep_settings_key_index("scepurl"),
						   "required for an enabled instance");
	}
	if (!scep_settings_san_type_is_auto(self->subjectaltname_type) &&
	    self->subjectaltname[0] == '\0' && self->enabled) {
		scep_registry_snapshot_add_problem(
		    snapshot,
		    SCEP_REGISTRY_PROBLEM_ERROR,
		    n,
		    scep_settings_key_index("subjectaltname"),
		    "required when subjectaltname_type is '%s' (not an automatic type)",
		    self->subjectaltname_type);
	}
	if (self->cafingerprint[0] != '\0') {
		gsize want = g_strcmp0(self->cafingerprint_hash, "md5") == 0    ? 32
			     : g_strcmp0(self->cafingerprint_hash, "sha1") == 0 ? 40
										: 64;
		if (strlen(self->cafingerprint) != want) {
			scep_registry_snapshot_add_problem(
			    snapshot,
			    SCEP_REGISTRY_PROBLEM_ERROR,
			    n,
			    scep_settings_key_index("cafingerprint"),
			    "'%s' has %zu hex digits but cafingerprint_hash %s needs %zu",
			    self->cafingerprint,
			    strlen(self->cafingerprint),
			    self->cafingerprint_hash,
			    want);
		}
	} else if (self->enabled) {
		scep_registry_snapshot_add_problem(
		    snapshot,
		    SCEP_REGISTRY_PROBLEM_WARNING,
		    n,
		    scep_settings_key_index("cafingerprint"),
		    "not set: the CA certificate will not be pinned");
	}
	if (self->enabled &&
	    g_strcmp0(self->use_ready_made_challenge_password_command, "NDES") == 0 &&
	    self->ndes_user[0] == '\0' && self->ndes_krb5_ccache[0] == '\0' &&
	    self->ndes_krb5_keytab[0] == '\0') {
		scep_registry_snapshot_add_problem(
		    snapshot,
		    SCEP_REGISTRY_PROBLEM_ERROR,
		    n,
		    scep_settings_key_index("ndes.challenge_password_retrieval.user"),
		    "required when use_ready_made_challenge_password_command is NDES");
	}
	if (self->post_install_command[0] != '\0' && self->post_install_unit[0] != '\0') {
		scep_registry_snapshot_add_problem(snapshot,
						   SCEP_REGISTRY_PROBLEM_ERROR,
						   n,
						   scep_settings_key_index("post_install_unit"),
						   "cannot be combined with post_install_command");
	}
}

/**
 * scep_settings_new_from_snapshot:
 *
 * Validates every value of @instance against the schema, recording each
 * problem in @snapshot with its file and line, then the rules that span
 * several keys.
 *
 * Returns: (transfer full) (nullable): the settings, or %NULL when an error
 * was found
 */
ScepSettings *
scep_settings_new_from_snapshot(ScepRegistrySnapshot *snapshot, guint instance)
{
	g_autoptr(ScepSettings) self = g_new0(ScepSettings, 1);
	gboolean ok = TRUE;
	guint n_keys = scep_registry_schema_get_n_keys();
	const ScepSettingsField **fields = scep_settings_fields_by_key();

	self->instance = instance;
	for (guint i = 0; i < n_keys; i++) {
		const ScepRegistryKey *key = scep_registry_schema_get_key(i);
		const ScepSettingsField *f = fields[i];
		const gchar *raw =
		    scep_registry_snapshot_get_raw(snapshot, instance, i, NULL, NULL);
		g_autofree gchar *normal = NULL;
		g_autoptr(GError) error_local = NULL;
		if (f == NULL) {
			g_critical("schema key %s has no settings field", key->name);
			return NULL;
		}
		if (raw == NULL) {
			scep_settings_store(self, f, key->default_value);
			continue;
		}
		normal = scep_registry_key_normalize(key, raw, &error_local);
		if (normal == NULL) {
			scep_registry_snapshot_add_problem(snapshot,
							   SCEP_REGISTRY_PROBLEM_ERROR,
							   instance,
							   i,
							   "%s",
							   error_local->message);
			ok = FALSE;
			continue;
		}
		if (raw[0] == '\0' && key->type != SCEP_KEY_TYPE_STRING) {
			/* an empty value is the default; keep the raw empty value as written */
			scep_settings_store(self, f, key->default_value);
			continue;
		}
		scep_registry_snapshot_set_normalized(snapshot, instance, i, normal);
		scep_settings_store(
		    self, f, scep_registry_snapshot_get_raw(snapshot, instance, i, NULL, NULL));
	}
	if (ok)
		scep_settings_check_instance(self, snapshot);
	if (!ok || scep_registry_snapshot_get_invalid_reason(snapshot, instance) != NULL)
		return NULL;
	return g_steal_pointer(&self);
}
