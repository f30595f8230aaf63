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

#define SCEP_SETTINGS_MAP_HOSTNAME_FILE "/etc/hostname"

const gchar *
scep_settings_map_host_name_file(void)
{
	const gchar *env = g_getenv("SCEP_AGENT_HOSTNAME_FILE");
	return env != NULL && env[0] != '\0' ? env : SCEP_SETTINGS_MAP_HOSTNAME_FILE;
}

/* hostname(5): the first line that is neither empty nor a comment; NULL when there is none */
static gchar *
scep_settings_map_read_host_name_file(void)
{
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;
	if (!g_file_get_contents(scep_settings_map_host_name_file(), &text, NULL, NULL))
		return NULL;
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		gchar *line = g_strstrip(lines[i]);
		if (line[0] != '\0' && line[0] != '#')
			return g_strdup(line);
	}
	return NULL;
}

gchar *
scep_settings_map_host_name(void)
{
	const gchar *env = g_getenv("SCEP_AGENT_HOSTNAME");
	gchar *name;
	gchar buf[256] = { 0 };

	if (env != NULL && env[0] != '\0')
		return g_strdup(env);
	name = scep_settings_map_read_host_name_file();
	if (name != NULL)
		return name;
	/* not g_get_host_name(): it keeps the first answer for the life of the process */
	if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0')
		return g_strdup("localhost");
	return g_strdup(buf);
}

static gchar *
scep_settings_map_host_short(void)
{
	g_autofree gchar *host = scep_settings_map_host_name();
	const gchar *dot = strchr(host, '.');
	return dot != NULL ? g_strndup(host, dot - host) : g_strdup(host);
}

/*
 * The DNS domain of an unqualified host name comes from the resolver, which can block for
 * seconds when no name server answers, so it is never asked on the main loop: the settings are
 * mapped from a cache, and scep_settings_map_refresh_dns_domain_async() fills it in a worker
 * thread when the mapping said G_IO_ERROR_WOULD_BLOCK (a thread because getaddrinfo() has no
 * asynchronous form, as in GLib's own GThreadedResolver, whose GResolver API does not give the
 * canonical name). An answer is kept for ten minutes per
 * host name. When the resolver cannot answer (no name server reachable: EAI_AGAIN and the like,
 * not "no such name"), the last answer for the same name stays in use, else that failure is
 * what the mapping says; either way for one minute, then the resolver is asked again.
 */
#define SCEP_SETTINGS_MAP_DNS_DOMAIN_TTL  (10 * G_TIME_SPAN_MINUTE)
#define SCEP_SETTINGS_MAP_DNS_FAILURE_TTL G_TIME_SPAN_MINUTE
static GMutex scep_settings_map_dns_lock;
static gchar *scep_settings_map_dns_host;    /* guarded by the lock */
static gchar *scep_settings_map_dns_domain;  /* guarded by the lock; NULL: no answer */
static gchar *scep_settings_map_dns_failure; /* guarded by the lock; why there is no answer */
static gint64 scep_settings_map_dns_until;   /* monotonic; guarded by the lock */
/* main thread only: the refresh in flight and the tasks waiting for it */
static GPtrArray *scep_settings_map_dns_waiters;

/*
 * The DNS domain: from $SCEP_AGENT_HOSTNAME or the host name if qualified, else the cached
 * answer of the resolver for the current host name; G_IO_ERROR_WOULD_BLOCK when there is none
 * or it is out of date. A name without its domain is never returned because the DNS was down
 * for a moment: it would be requested (and, with hostname_change_handling=Reset, enrolled).
 */
static gchar *
scep_settings_map_lookup_dns_domain(GError **error)
{
	const gchar *env = g_getenv("SCEP_AGENT_HOSTNAME");
	g_autofree gchar *host = scep_settings_map_host_name();
	g_autoptr(GMutexLocker) locker = NULL;
	const gchar *dot = strchr(host, '.');

	if (dot != NULL)
		return g_strdup(dot + 1);
	if (env != NULL && env[0] != '\0')
		return g_strdup("");
	locker = g_mutex_locker_new(&scep_settings_map_dns_lock);
	if (g_strcmp0(scep_settings_map_dns_host, host) != 0 ||
	    g_get_monotonic_time() >= scep_settings_map_dns_until) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_WOULD_BLOCK,
			    "the DNS domain of %s is not known yet",
			    host);
		return NULL;
	}
	if (scep_settings_map_dns_domain == NULL) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_HOST_NOT_FOUND,
			    "cannot find the DNS domain of %s: %s",
			    host,
			    scep_settings_map_dns_failure);
		return NULL;
	}
	return g_strdup(scep_settings_map_dns_domain);
}

/* worker thread: ask the resolver, then update the cache */
static void
scep_settings_map_dns_thread_cb(GTask *task,
				gpointer source_object,
				gpointer task_data,
				GCancellable *cancellable)
{
	const gchar *host = task_data;
	struct addrinfo hints = { .ai_flags = AI_CANONNAME };
	struct addrinfo *res = NULL;
	g_autoptr(GMutexLocker) locker = NULL;
	g_autofree gchar *domain = NULL;
	gint64 ttl = SCEP_SETTINGS_MAP_DNS_DOMAIN_TTL;
	int rc = getaddrinfo(host, NULL, &hints, &res);

	if (rc == 0) {
		const gchar *dot =
		    res->ai_canonname != NULL ? strchr(res->ai_canonname, '.') : NULL;
		domain = g_strdup(dot != NULL ? dot + 1 : "");
	} else if (rc == EAI_NONAME || rc == EAI_NODATA) {
		/* the resolver answered: the name has no domain */
		domain = g_strdup("");
	}
	if (res != NULL)
		freeaddrinfo(res);

	locker = g_mutex_locker_new(&scep_settings_map_dns_lock);
	g_clear_pointer(&scep_settings_map_dns_failure, g_free);
	if (domain == NULL) {
		ttl = SCEP_SETTINGS_MAP_DNS_FAILURE_TTL;
		if (g_strcmp0(scep_settings_map_dns_host, host) == 0 &&
		    scep_settings_map_dns_domain != NULL) {
			g_debug("DNS domain of %s: %s; using the last answer, %s",
				host,
				gai_strerror(rc),
				scep_settings_map_dns_domain);
			domain = g_strdup(scep_settings_map_dns_domain);
		} else {
			scep_settings_map_dns_failure = g_strdup(gai_strerror(rc));
		}
	}
	g_free(scep_settings_map_dns_host);
	g_free(scep_settings_map_dns_domain);
	scep_settings_map_dns_host = g_strdup(host);
	scep_settings_map_dns_domain = g_steal_pointer(&domain);
	scep_settings_map_dns_until = g_get_monotonic_time() + ttl;
	g_task_return_boolean(task, TRUE);
}

static void
scep_settings_map_dns_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GPtrArray) waiters = g_steal_pointer(&scep_settings_map_dns_waiters);
	for (guint i = 0; i < waiters->len; i++)
		g_task_return_boolean(g_ptr_array_index(waiters, i), TRUE);
}

/*
 * Asks the resolver for the DNS domain of the current host name in a worker thread and keeps
 * its answer for the mapping functions; one lookup at a time, whoever asks while it runs waits
 * for it. Fails only when @cancellable is cancelled: what the resolver said is what the mapping
 * says next.
 */
void
scep_settings_map_refresh_dns_domain_async(GCancellable *cancellable,
					   GAsyncReadyCallback callback,
					   gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
	g_autoptr(GTask) lookup = NULL;

	g_task_set_source_tag(task, scep_settings_map_refresh_dns_domain_async);
	if (scep_settings_map_dns_waiters != NULL) {
		g_ptr_array_add(scep_settings_map_dns_waiters, g_steal_pointer(&task));
		return;
	}
	scep_settings_map_dns_waiters = g_ptr_array_new_with_free_func(g_object_unref);
	g_ptr_array_add(scep_settings_map_dns_waiters, g_steal_pointer(&task));
	lookup = g_task_new(NULL, NULL, scep_settings_map_dns_done_cb, NULL);
	g_task_set_source_tag(lookup, scep_settings_map_refresh_dns_domain_async);
	g_task_set_task_data(lookup, scep_settings_map_host_name(), g_free);
	g_task_run_in_thread(lookup, scep_settings_map_dns_thread_cb);
}

gboolean
scep_settings_map_refresh_dns_domain_finish(GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, NULL), FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
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
scep_settings_map_apply_suffix(const gchar *value, const gchar *suffix, GError **error)
{
	g_autofree gchar *domain = NULL;
	GString *out;
	if (suffix[0] == '\0' || g_ascii_strcasecmp(suffix, "none") == 0)
		return g_strdup(value);
	domain = scep_settings_map_lookup_dns_domain(error);
	if (domain == NULL)
		return NULL;
	out = g_string_new(value);
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
		return scep_settings_map_apply_suffix(base, suffix, error);
	case SCEP_SAN_TYPE_DNS_NAME_AS_UPN_AUTO: {
		g_autofree gchar *domain = scep_settings_map_lookup_dns_domain(error);
		if (domain == NULL)
			return NULL;
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

/* a configuration error of the NDES retrieval as a settings error (the key named) */
static gpointer
scep_settings_map_admin_error(GError *error_local, GError **error)
{
	g_set_error(error,
		    SCEP_SETTINGS_MAP_ERROR,
		    SCEP_SETTINGS_MAP_ERROR_INVALID,
		    "ndes.challenge_password_retrieval: %s",
		    error_local->message);
	return NULL;
}

static gboolean
scep_settings_map_is_ndes(const ScepSettings *s)
{
	return g_ascii_strcasecmp(s->use_ready_made_challenge_password_command, "NDES") == 0;
}

gboolean
scep_settings_map_challenge_from_ndes(const ScepSettings *s)
{
	return scep_settings_map_is_ndes(s);
}

gboolean
scep_settings_map_check_challenge(const ScepSettings *s, GError **error)
{
	gboolean kerberos;
	if (!scep_settings_map_is_ndes(s))
		return TRUE;
	kerberos = g_strcmp0(s->ndes_auth, "Kerberos") == 0;
	if (s->ndes_user[0] == '\0' &&
	    !(kerberos && (s->ndes_krb5_keytab[0] != '\0' || s->ndes_krb5_ccache[0] != '\0'))) {
		g_set_error_literal(error,
				    SCEP_SETTINGS_MAP_ERROR,
				    SCEP_SETTINGS_MAP_ERROR_INVALID,
				    "use_ready_made_challenge_password_command=NDES needs "
				    "ndes.challenge_password_retrieval.user");
		return FALSE;
	}
	if (s->ndes_crypt_password[0] == '\0' &&
	    !(kerberos && (s->ndes_krb5_keytab[0] != '\0' || s->ndes_krb5_ccache[0] != '\0'))) {
		g_set_error_literal(error,
				    SCEP_SETTINGS_MAP_ERROR,
				    SCEP_SETTINGS_MAP_ERROR_INVALID,
				    "use_ready_made_challenge_password_command=NDES needs "
				    "ndes.challenge_password_retrieval.crypt_password");
		return FALSE;
	}
	if (!kerberos &&
	    g_utf8_strlen(s->ndes_crypt_password, -1) > SCEP_NDES_ADMIN_NTLM_MAX_PASSWORD) {
		g_set_error(error,
			    SCEP_SETTINGS_MAP_ERROR,
			    SCEP_SETTINGS_MAP_ERROR_UNSUPPORTED,
			    "ndes.challenge_password_retrieval.crypt_password is longer than %u "
			    "characters, which NTLM in this build refuses",
			    (guint)SCEP_NDES_ADMIN_NTLM_MAX_PASSWORD);
		return FALSE;
	}
	return TRUE;
}

/* whether mscep_admin is fetched over https (anything but "none" in cacert) */
static gboolean
scep_settings_map_ndes_https(const ScepSettings *s)
{
	return !g_str_has_prefix(s->ndes_cacert, "none");
}

gchar *
scep_settings_map_ndes_url(const ScepSettings *s, GError **error)
{
	g_autoptr(GError) error_local = NULL;
	gchar *url;
	if (s->ndes_url[0] != '\0')
		return g_strdup(s->ndes_url);
	url =
	    scep_ndes_admin_default_url(s->scepurl, scep_settings_map_ndes_https(s), &error_local);
	if (url == NULL) {
		g_set_error(error,
			    SCEP_SETTINGS_MAP_ERROR,
			    SCEP_SETTINGS_MAP_ERROR_INVALID,
			    "ndes.challenge_password_retrieval: %s",
			    error_local->message);
		return NULL;
	}
	return url;
}

/* the CA certificates of a GetCACert answer (no RA certificates) as PEM */
static GBytes *
scep_settings_map_ca_pem(ScepCaCerts *ca_certs)
{
	GPtrArray *all = scep_ca_certs_get_all(ca_certs);
	GString *pem = g_string_new(NULL);
	gnutls_x509_crt_t ra_sign = scep_ca_certs_get_ra_sign(ca_certs);
	gnutls_x509_crt_t ra_encrypt = scep_ca_certs_get_ra_encrypt(ca_certs);
	gnutls_x509_crt_t ca = scep_ca_certs_get_ca(ca_certs);
	for (guint i = 0; i < all->len; i++) {
		gnutls_x509_crt_t crt = g_ptr_array_index(all, i);
		gnutls_datum_t out = { NULL, 0 };
		if (crt != ca && (crt == ra_sign || crt == ra_encrypt))
			continue;
		if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &out) < 0)
			continue;
		g_string_append_len(pem, (const gchar *)out.data, out.size);
		gnutls_free(out.data);
	}
	return g_string_free_to_bytes(pem);
}

ScepNdesAdmin *
scep_settings_map_new_ndes_admin(const ScepSettings *s, ScepCaCerts *ca_certs, GError **error)
{
	g_autofree gchar *url = scep_settings_map_ndes_url(s, error);
	g_autoptr(ScepNdesAdmin) admin = NULL;
	g_autoptr(GError) error_local = NULL;
	gboolean kerberos = g_strcmp0(s->ndes_auth, "Kerberos") == 0;

	if (url == NULL)
		return NULL;
	admin = scep_ndes_admin_new(url, &error_local);
	if (admin == NULL)
		return scep_settings_map_admin_error(error_local, error);
	if (kerberos) {
		/* a later instance with another origin would need a restart (libsoup) */
		if (!scep_ndes_admin_trust_gssapi_url(url, &error_local))
			return scep_settings_map_admin_error(error_local, error);
		scep_ndes_admin_set_auth(admin, SCEP_NDES_ADMIN_AUTH_KERBEROS);
	}
	if (!scep_ndes_admin_set_user(admin, s->ndes_user, &error_local))
		return scep_settings_map_admin_error(error_local, error);
	scep_ndes_admin_set_password(admin, s->ndes_crypt_password);
	scep_ndes_admin_set_krb5_keytab(admin, s->ndes_krb5_keytab);
	scep_ndes_admin_set_krb5_ccache(admin, s->ndes_krb5_ccache);
	if (s->proxy[0] != '\0' && !scep_ndes_admin_set_proxy(admin, s->proxy, &error_local))
		return scep_settings_map_admin_error(error_local, error);
	scep_ndes_admin_set_timeout(admin, (guint)s->request_timeout);
	if (g_str_has_prefix(s->ndes_cacert, "/")) {
		if (!scep_ndes_admin_set_trust_file(admin, s->ndes_cacert, &error_local))
			return scep_settings_map_admin_error(error_local, error);
	} else if (g_strcmp0(s->ndes_cacert, "from getca operation") == 0 && ca_certs != NULL) {
		g_autoptr(GBytes) pem = scep_settings_map_ca_pem(ca_certs);
		if (!scep_ndes_admin_set_trust_pem(admin, pem, &error_local))
			return scep_settings_map_admin_error(error_local, error);
	}
	return g_steal_pointer(&admin);
}
