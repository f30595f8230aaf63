#include "config.h"

#include "scep-settings-map.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <string.h>
#include <unistd.h>

G_DEFINE_QUARK(scep - settings - map - error - quark, scep_settings_map_error)

typedef struct {
	const gchar *name;
	gint value;
} ScepSettingsMapName;

static const ScepSettingsMapName scep_settings_map_ciphers[] = {
	{ "automatic", GNUTLS_CIPHER_UNKNOWN },  { "des", GNUTLS_CIPHER_DES_CBC },
	{ "3des", GNUTLS_CIPHER_3DES_CBC },      { "aes128", GNUTLS_CIPHER_AES_128_CBC },
	{ "aes192", GNUTLS_CIPHER_AES_192_CBC }, { "aes256", GNUTLS_CIPHER_AES_256_CBC },
};

static const ScepSettingsMapName scep_settings_map_digests[] = {
	{ "automatic", GNUTLS_DIG_UNKNOWN }, { "md5", GNUTLS_DIG_MD5 },
	{ "sha1", GNUTLS_DIG_SHA1 },         { "sha224", GNUTLS_DIG_SHA224 },
	{ "sha256", GNUTLS_DIG_SHA256 },     { "sha384", GNUTLS_DIG_SHA384 },
	{ "sha512", GNUTLS_DIG_SHA512 },
};

static const ScepSettingsMapName scep_settings_map_key_usages[] = {
	{ "digitalSignature", GNUTLS_KEY_DIGITAL_SIGNATURE },
	{ "nonRepudiation", GNUTLS_KEY_NON_REPUDIATION },
	{ "keyEncipherment", GNUTLS_KEY_KEY_ENCIPHERMENT },
	{ "dataEncipherment", GNUTLS_KEY_DATA_ENCIPHERMENT },
	{ "keyAgreement", GNUTLS_KEY_KEY_AGREEMENT },
};

static const struct {
	const gchar *name;
	const gchar *oid;
} scep_settings_map_ekus[] = {
	{ "clientAuth", GNUTLS_KP_TLS_WWW_CLIENT },
	{ "serverAuth", GNUTLS_KP_TLS_WWW_SERVER },
	{ "emailProtection", GNUTLS_KP_EMAIL_PROTECTION },
	{ "codeSigning", GNUTLS_KP_CODE_SIGNING },
	{ "ipsecIKE", "1.3.6.1.5.5.7.3.17" },
};

static gboolean
scep_settings_map_lookup(const ScepSettingsMapName *table, gsize n, const gchar *name, gint *out)
{
	for (gsize i = 0; i < n; i++) {
		if (g_ascii_strcasecmp(table[i].name, name) == 0) {
			*out = table[i].value;
			return TRUE;
		}
	}
	return FALSE;
}

gboolean
scep_settings_map_cipher(const gchar *encalg, gnutls_cipher_algorithm_t *out, GError **error)
{
	gint value = 0;
	if (g_ascii_strcasecmp(encalg, "blowfish") == 0) {
		g_set_error_literal(
		    error,
		    SCEP_SETTINGS_MAP_ERROR,
		    SCEP_SETTINGS_MAP_ERROR_UNSUPPORTED,
		    "encalg=blowfish is not supported: no SCEP server offers it, use "
		    "automatic, aes256, aes128 or 3des");
		return FALSE;
	}
	if (!scep_settings_map_lookup(scep_settings_map_ciphers,
				      G_N_ELEMENTS(scep_settings_map_ciphers),
				      encalg,
				      &value)) {
		g_set_error(error,
			    SCEP_SETTINGS_MAP_ERROR,
			    SCEP_SETTINGS_MAP_ERROR_INVALID,
			    "encalg '%s' is not known",
			    encalg);
		return FALSE;
	}
	*out = (gnutls_cipher_algorithm_t)value;
	return TRUE;
}

gboolean
scep_settings_map_digest(const gchar *signalg, gnutls_digest_algorithm_t *out, GError **error)
{
	gint value = 0;
	if (!scep_settings_map_lookup(scep_settings_map_digests,
				      G_N_ELEMENTS(scep_settings_map_digests),
				      signalg,
				      &value)) {
		g_set_error(error,
			    SCEP_SETTINGS_MAP_ERROR,
			    SCEP_SETTINGS_MAP_ERROR_INVALID,
			    "signalg '%s' is not known",
			    signalg);
		return FALSE;
	}
	*out = (gnutls_digest_algorithm_t)value;
	return TRUE;
}

ScepNdesClient *
scep_settings_map_new_client(const ScepSettings *s, GError **error)
{
	g_autoptr(ScepNdesClient) client = NULL;
	gnutls_cipher_algorithm_t cipher = GNUTLS_CIPHER_UNKNOWN;
	gnutls_digest_algorithm_t digest = GNUTLS_DIG_UNKNOWN;
	gnutls_digest_algorithm_t fp_alg = GNUTLS_DIG_UNKNOWN;

	if (!scep_settings_map_cipher(s->encalg, &cipher, error) ||
	    !scep_settings_map_digest(s->signalg, &digest, error))
		return NULL;
	client = scep_ndes_client_new(s->scepurl, error);
	if (client == NULL)
		return NULL;
	if (s->proxy[0] != '\0' && !scep_ndes_client_set_proxy(client, s->proxy, error))
		return NULL;
	if (s->https_cacert[0] != '\0' &&
	    !scep_ndes_client_set_ca_file(client, s->https_cacert, error))
		return NULL;
	scep_ndes_client_set_timeouts(client, (guint)s->connect_timeout, (guint)s->request_timeout);
	if (s->caident[0] != '\0')
		scep_ndes_client_set_ca_ident(client, s->caident);
	if (s->cafingerprint[0] != '\0') {
		if (g_strcmp0(s->cafingerprint_hash, "sha1") == 0)
			fp_alg = GNUTLS_DIG_SHA1;
		else if (g_strcmp0(s->cafingerprint_hash, "sha256") == 0)
			fp_alg = GNUTLS_DIG_SHA256;
		else
			fp_alg = GNUTLS_DIG_MD5;
		scep_ndes_client_set_fingerprint(client, s->cafingerprint, fp_alg);
	}
	scep_ndes_client_set_algorithms(client,
					cipher,
					digest,
					s->allow_legacy_algorithms
					    ? SCEP_CAPS_ALG_POLICY_ALLOW_LEGACY
					    : SCEP_CAPS_ALG_POLICY_DEFAULT);
	if (g_ascii_strcasecmp(s->http_method, "GET") == 0)
		scep_ndes_client_set_method(client, SCEP_NDES_METHOD_GET);
	else if (g_ascii_strcasecmp(s->http_method, "POST") == 0)
		scep_ndes_client_set_method(client, SCEP_NDES_METHOD_POST);
	else
		scep_ndes_client_set_method(client, SCEP_NDES_METHOD_AUTO);
	scep_ndes_client_set_send_content_type(client, s->sscep_send_content_type);
	return g_steal_pointer(&client);
}

/* ---- names of the device ---- */

static gchar *
scep_settings_map_host_short(void)
{
	const gchar *env = g_getenv("SCEP_AGENT_HOSTNAME");
	const gchar *host = env != NULL && env[0] != '\0' ? env : g_get_host_name();
	const gchar *dot = strchr(host, '.');
	return dot != NULL ? g_strndup(host, dot - host) : g_strdup(host);
}

/* the DNS domain: from $SCEP_AGENT_HOSTNAME or the host name if qualified, else the resolver */
static gchar *
scep_settings_map_dns_domain(void)
{
	const gchar *env = g_getenv("SCEP_AGENT_HOSTNAME");
	const gchar *host = env != NULL && env[0] != '\0' ? env : g_get_host_name();
	const gchar *dot = strchr(host, '.');
	struct addrinfo hints = { 0 };
	struct addrinfo *res = NULL;
	gchar *domain = NULL;

	if (dot != NULL)
		return g_strdup(dot + 1);
	if (env != NULL && env[0] != '\0')
		return g_strdup("");
	hints.ai_flags = AI_CANONNAME;
	if (getaddrinfo(host, NULL, &hints, &res) == 0 && res != NULL &&
	    res->ai_canonname != NULL) {
		dot = strchr(res->ai_canonname, '.');
		if (dot != NULL)
			domain = g_strdup(dot + 1);
	}
	if (res != NULL)
		freeaddrinfo(res);
	return domain != NULL ? domain : g_strdup("");
}

/* the first non-loopback IPv4 address that is up, else the first IPv6 one */
static gchar *
scep_settings_map_ip_address(GError **error)
{
	struct ifaddrs *list = NULL;
	gchar *found = NULL;
	if (getifaddrs(&list) != 0) {
		g_set_error_literal(error,
				    SCEP_SETTINGS_MAP_ERROR,
				    SCEP_SETTINGS_MAP_ERROR_INVALID,
				    "cannot list the network addresses of the device");
		return NULL;
	}
	for (gint family = AF_INET; found == NULL; family = AF_INET6) {
		for (struct ifaddrs *i = list; i != NULL && found == NULL; i = i->ifa_next) {
			gchar buf[INET6_ADDRSTRLEN];
			const void *addr;
			if (i->ifa_addr == NULL || i->ifa_addr->sa_family != family ||
			    (i->ifa_flags & IFF_LOOPBACK) != 0 || (i->ifa_flags & IFF_UP) == 0)
				continue;
			addr = family == AF_INET
				   ? (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr
				   : (const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
			if (family == AF_INET6 &&
			    IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr))
				continue;
			if (inet_ntop(family, addr, buf, sizeof(buf)) != NULL)
				found = g_strdup(buf);
		}
		if (family == AF_INET6)
			break;
	}
	freeifaddrs(list);
	if (found == NULL)
		g_set_error_literal(error,
				    SCEP_SETTINGS_MAP_ERROR,
				    SCEP_SETTINGS_MAP_ERROR_INVALID,
				    "subjectaltname_type IP address (auto): the device has no "
				    "usable network address");
	return found;
}

/* "", "none", "dot + DNS domain (auto)", or text with %D = DNS domain and %% = % */
static gchar *
scep_settings_map_apply_suffix(const gchar *value, const gchar *suffix)
{
	g_autofree gchar *domain = NULL;
	GString *out = g_string_new(value);
	if (suffix[0] == '\0' || g_ascii_strcasecmp(suffix, "none") == 0)
		return g_string_free(out, FALSE);
	domain = scep_settings_map_dns_domain();
	if (g_ascii_strcasecmp(suffix, "dot + DNS domain (auto)") == 0) {
		if (domain[0] != '\0')
			g_string_append_printf(out, ".%s", domain);
		return g_string_free(out, FALSE);
	}
	for (const gchar *p = suffix; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'D') {
			g_string_append(out, domain);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			g_string_append_c(out, '%');
			p++;
		} else {
			g_string_append_c(out, *p);
		}
	}
	return g_string_free(out, FALSE);
}

/* the value of one SAN slot of @type (enum literal) */
static gchar *
scep_settings_map_san_value(
    const gchar *type, const gchar *value, const gchar *suffix, const gchar *key, GError **error)
{
	ScepSanType t = scep_settings_san_type_from_string(type);
	g_autofree gchar *base = NULL;
	switch (t) {
	case SCEP_SAN_TYPE_IP_ADDRESS_AUTO:
		return scep_settings_map_ip_address(error);
	case SCEP_SAN_TYPE_DNS_NAME_AUTO:
		base = scep_settings_map_host_short();
		return scep_settings_map_apply_suffix(base, suffix);
	case SCEP_SAN_TYPE_DNS_NAME_AS_UPN_AUTO: {
		g_autofree gchar *domain = scep_settings_map_dns_domain();
		base = scep_settings_map_host_short();
		if (domain[0] == '\0') {
			g_set_error(error,
				    SCEP_SETTINGS_MAP_ERROR,
				    SCEP_SETTINGS_MAP_ERROR_INVALID,
				    "%s DNS name as UPN (auto): the device has no DNS domain",
				    key);
			return NULL;
		}
		return g_strdup_printf("%s$@%s", base, domain);
	}
	case SCEP_SAN_TYPE_NONE:
		return NULL;
	default:
		if (value[0] == '\0') {
			g_set_error(error,
				    SCEP_SETTINGS_MAP_ERROR,
				    SCEP_SETTINGS_MAP_ERROR_INVALID,
				    "%s is empty but its type %s needs a value",
				    key,
				    type);
			return NULL;
		}
		return g_strdup(value);
	}
}

static ScepCsrSanType
scep_settings_map_csr_san_type(const gchar *type)
{
	switch (scep_settings_san_type_from_string(type)) {
	case SCEP_SAN_TYPE_IP_ADDRESS:
	case SCEP_SAN_TYPE_IP_ADDRESS_AUTO:
		return SCEP_CSR_SAN_IP;
	case SCEP_SAN_TYPE_EMAIL_ADDRESS:
		return SCEP_CSR_SAN_EMAIL;
	case SCEP_SAN_TYPE_UPN:
	case SCEP_SAN_TYPE_DNS_NAME_AS_UPN_AUTO:
		return SCEP_CSR_SAN_UPN;
	default:
		return SCEP_CSR_SAN_DNS;
	}
}

gchar *
scep_settings_map_common_name(const ScepSettings *s, GError **error)
{
	return scep_settings_map_san_value(s->subjectaltname_type,
					   s->subjectaltname,
					   s->subjectaltname_suffix,
					   "subjectaltname",
					   error);
}

/* RFC 4514 escaping of one attribute value */
static void
scep_settings_map_append_value(GString *out, const gchar *value)
{
	gsize len = strlen(value);
	for (gsize i = 0; i < len; i++) {
		gchar c = value[i];
		if (strchr(",+\"\\<>;=", c) != NULL || (i == 0 && (c == '#' || c == ' ')) ||
		    (i == len - 1 && c == ' '))
			g_string_append_c(out, '\\');
		g_string_append_c(out, c);
	}
}

static void
scep_settings_map_append_attr(GString *out,
			      const gchar *attr,
			      const gchar *value,
			      const gchar *separator)
{
	g_auto(GStrv) parts = NULL;
	if (value[0] == '\0')
		return;
	if (separator[0] != '\0')
		parts = g_strsplit(value, separator, -1);
	else
		parts = g_strdupv((gchar *[]){ (gchar *)value, NULL });
	for (guint i = 0; parts[i] != NULL; i++) {
		g_autofree gchar *v = g_strstrip(g_strdup(parts[i]));
		if (v[0] == '\0')
			continue;
		g_string_append_printf(out, ",%s=", attr);
		scep_settings_map_append_value(out, v);
	}
}

gchar *
scep_settings_map_subject(const ScepSettings *s, GError **error)
{
	g_autofree gchar *cn = scep_settings_map_common_name(s, error);
	GString *dn;
	if (cn == NULL)
		return NULL;
	dn = g_string_new("CN=");
	scep_settings_map_append_value(dn, cn);
	scep_settings_map_append_attr(dn, "OU", s->organizationalunit, s->multivalueseparator);
	scep_settings_map_append_attr(dn, "O", s->organization, s->multivalueseparator);
	scep_settings_map_append_attr(dn, "L", s->locality, s->multivalueseparator);
	scep_settings_map_append_attr(dn, "ST", s->state, s->multivalueseparator);
	scep_settings_map_append_attr(dn, "C", s->country, "");
	return g_string_free(dn, FALSE);
}

static gboolean
scep_settings_map_is_oid(const gchar *text)
{
	gboolean dot = FALSE;
	for (const gchar *p = text; *p != '\0'; p++) {
		if (*p == '.')
			dot = TRUE;
		else if (!g_ascii_isdigit(*p))
			return FALSE;
	}
	return dot;
}

static gboolean
scep_settings_map_usages(ScepCsrParams *params, const ScepSettings *s, GError **error)
{
	g_auto(GStrv) kus = g_strsplit(s->key_usage, ",", -1);
	g_auto(GStrv) ekus = g_strsplit(s->extended_key_usage, ",", -1);
	g_autoptr(GPtrArray) oids = g_ptr_array_new();
	guint usage = 0;

	for (guint i = 0; kus[i] != NULL; i++) {
		gint bit = 0;
		if (kus[i][0] == '\0')
			continue;
		if (!scep_settings_map_lookup(scep_settings_map_key_usages,
					      G_N_ELEMENTS(scep_settings_map_key_usages),
					      kus[i],
					      &bit)) {
			g_set_error(error,
				    SCEP_SETTINGS_MAP_ERROR,
				    SCEP_SETTINGS_MAP_ERROR_INVALID,
				    "key_usage: '%s' is not known",
				    kus[i]);
			return FALSE;
		}
		usage |= (guint)bit;
	}
	scep_csr_params_set_key_usage(params, usage);
	for (guint i = 0; ekus[i] != NULL; i++) {
		const gchar *oid = NULL;
		if (ekus[i][0] == '\0')
			continue;
		for (guint j = 0; j < G_N_ELEMENTS(scep_settings_map_ekus); j++) {
			if (g_ascii_strcasecmp(scep_settings_map_ekus[j].name, ekus[i]) == 0)
				oid = scep_settings_map_ekus[j].oid;
		}
		g_ptr_array_add(oids, (gpointer)(oid != NULL ? oid : ekus[i]));
	}
	g_ptr_array_add(oids, NULL);
	return scep_csr_params_set_extended_key_usages(
	    params, (const gchar *const *)oids->pdata, error);
}

ScepCsrParams *
scep_settings_map_csr_params(const ScepSettings *s, GError **error)
{
	g_autoptr(ScepCsrParams) params = scep_csr_params_new();
	g_autofree gchar *dn = scep_settings_map_subject(s, error);
	g_autofree gchar *cn = NULL;

	if (dn == NULL || !scep_csr_params_set_subject(params, dn, error))
		return NULL;
	cn = scep_settings_map_common_name(s, error);
	if (cn == NULL ||
	    !scep_csr_params_add_san(
		params, scep_settings_map_csr_san_type(s->subjectaltname_type), cn, error))
		return NULL;
	for (guint i = 0; i < SCEP_SETTINGS_N_OTHER_SANS; i++) {
		const ScepSettingsSan *san = &s->other[i];
		g_autofree gchar *key = g_strdup_printf("subjectaltname_other%u", i + 1);
		g_autofree gchar *value = NULL;
		g_autoptr(GError) local = NULL;
		if (scep_settings_san_type_from_string(san->type) == SCEP_SAN_TYPE_NONE)
			continue;
		value =
		    scep_settings_map_san_value(san->type, san->value, san->suffix, key, &local);
		if (value == NULL) {
			if (local != NULL) {
				g_propagate_error(error, g_steal_pointer(&local));
				return NULL;
			}
			continue;
		}
		if (!scep_csr_params_add_san(
			params, scep_settings_map_csr_san_type(san->type), value, error))
			return NULL;
	}
	if (s->sid_san_uri[0] != '\0') {
		g_autofree gchar *uri = scep_csr_make_sid_uri(s->sid_san_uri, error);
		if (uri == NULL || !scep_csr_params_add_san(params, SCEP_CSR_SAN_URI, uri, error))
			return NULL;
	}
	if (!scep_settings_map_usages(params, s, error))
		return NULL;
	if (s->certificate_template[0] != '\0') {
		gboolean ok =
		    scep_settings_map_is_oid(s->certificate_template)
			? scep_csr_params_set_template(
			      params, s->certificate_template, 100, -1, error)
			: scep_csr_params_set_template_name(params, s->certificate_template, error);
		if (!ok)
			return NULL;
	}
	return g_steal_pointer(&params);
}

gboolean
scep_settings_map_check_challenge(const ScepSettings *s, GError **error)
{
	if (g_ascii_strcasecmp(s->use_ready_made_challenge_password_command, "NDES") == 0) {
		g_set_error_literal(
		    error,
		    SCEP_SETTINGS_MAP_ERROR,
		    SCEP_SETTINGS_MAP_ERROR_UNSUPPORTED,
		    "use_ready_made_challenge_password_command=NDES is not supported "
		    "by this build yet");
		return FALSE;
	}
	return TRUE;
}
