#include "config.h"

#include "scep-csr.h"

#include <gnutls/crypto.h>
#include <gnutls/x509-ext.h>
#include <string.h>

#include "scep-gnutls-common.h"
#include "scep-ndes-error.h"
#include "scep-rsa.h"

/* local names so that the cleanup helpers cannot clash with shared ones */
typedef gnutls_subject_alt_names_t ScepCsrSans;
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(ScepCsrSans, gnutls_subject_alt_names_deinit, NULL)
typedef gnutls_x509_key_purposes_t ScepCsrPurposes;
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(ScepCsrPurposes, gnutls_x509_key_purpose_deinit, NULL)

typedef struct {
	ScepCsrSanType type;
	GBytes *value; /* owned: raw bytes (IP) or text without NUL */
} ScepCsrSan;

struct _ScepCsrParams {
	GBytes *subject;        /* owned, nullable: DER Name */
	GPtrArray *sans;        /* owned, of ScepCsrSan */
	gchar *challenge;       /* owned, nullable, secret */
	unsigned int key_usage; /* GNUTLS_KEY_* */
	GPtrArray *ekus;        /* owned, of dotted OIDs */
	gchar *template_oid;    /* owned, nullable: extension OID */
	GBytes *template_value; /* owned, nullable: extension DER */
};

/* ---- small DER writer and reader ---- */

static void
scep_csr_der_append_len(GByteArray *out, gsize len)
{
	guint8 buf[9];
	guint n = 0;

	if (len < 0x80) {
		guint8 b = (guint8)len;
		g_byte_array_append(out, &b, 1);
		return;
	}
	while (len > 0) {
		buf[8 - n] = (guint8)(len & 0xff);
		len >>= 8;
		n++;
	}
	buf[8 - n] = (guint8)(0x80 | n);
	g_byte_array_append(out, buf + 8 - n, n + 1);
}

static void
scep_csr_der_append_tlv(GByteArray *out, guint8 tag, const guint8 *data, gsize len)
{
	g_byte_array_append(out, &tag, 1);
	scep_csr_der_append_len(out, len);
	if (len > 0)
		g_byte_array_append(out, data, (guint)len);
}

/* a definite-length TLV at @p; FALSE when it does not fit in @len */
static gboolean
scep_csr_der_read_tlv(const guint8 *p, gsize len, gsize *header, gsize *content)
{
	gsize n;
	gsize value = 0;

	if (len < 2)
		return FALSE;
	if ((p[1] & 0x80) == 0) {
		*header = 2;
		*content = p[1];
	} else {
		n = p[1] & 0x7f;
		if (n == 0 || n > 4 || len < 2 + n)
			return FALSE;
		for (gsize i = 0; i < n; i++)
			value = (value << 8) | p[2 + i];
		*header = 2 + n;
		*content = value;
	}
	return *header + *content <= len;
}

static gboolean
scep_csr_oid_is_valid(gchar **arcs)
{
	guint n = g_strv_length(arcs);
	guint64 first = 0;

	if (n < 2)
		return FALSE;
	for (guint i = 0; i < n; i++) {
		guint64 arc = 0;
		if (!g_ascii_string_to_unsigned(arcs[i], 10, 0, G_MAXUINT32, &arc, NULL))
			return FALSE;
		if (arcs[i][0] == '0' && arcs[i][1] != '\0')
			return FALSE;
		if (i == 0 && arc > 2)
			return FALSE;
		if (i == 0)
			first = arc;
		if (i == 1 && first < 2 && arc > 39)
			return FALSE;
	}
	return TRUE;
}

static gboolean
scep_csr_der_append_oid(GByteArray *out, const gchar *dotted, GError **error)
{
	g_auto(GStrv) arcs = g_strsplit(dotted, ".", -1);
	g_autoptr(GByteArray) body = g_byte_array_new();
	guint64 first = 0;

	if (!scep_csr_oid_is_valid(arcs)) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "'%s' is not an object identifier",
			    dotted);
		return FALSE;
	}
	first = g_ascii_strtoull(arcs[0], NULL, 10);
	for (guint i = 1; arcs[i] != NULL; i++) {
		guint64 arc = g_ascii_strtoull(arcs[i], NULL, 10);
		guint8 buf[10];
		guint len = 0;

		if (i == 1)
			arc += first * 40;
		do {
			buf[9 - len] = (guint8)((arc & 0x7f) | (len > 0 ? 0x80 : 0));
			arc >>= 7;
			len++;
		} while (arc > 0);
		g_byte_array_append(body, buf + 10 - len, len);
	}
	scep_csr_der_append_tlv(out, 0x06, body->data, body->len);
	return TRUE;
}

/* DER order of SET OF elements: as octet strings, a prefix first */
static gint
scep_csr_der_compare(gconstpointer a, gconstpointer b)
{
	GByteArray *x = *(GByteArray *const *)a;
	GByteArray *y = *(GByteArray *const *)b;
	int rc = memcmp(x->data, y->data, MIN(x->len, y->len));
	if (rc != 0)
		return rc;
	return x->len < y->len ? -1 : x->len > y->len ? 1 : 0;
}

/* ---- distinguished names ---- */

typedef enum {
	SCEP_CSR_STRING_UTF8 = 0x0c,
	SCEP_CSR_STRING_PRINTABLE = 0x13,
	SCEP_CSR_STRING_IA5 = 0x16,
} ScepCsrStringTag;

typedef struct {
	const gchar *name;
	const gchar *oid;
	ScepCsrStringTag tag;
} ScepCsrAttr;

static const ScepCsrAttr scep_csr_attrs[] = {
	{ "CN", "2.5.4.3", SCEP_CSR_STRING_UTF8 },
	{ "SN", "2.5.4.4", SCEP_CSR_STRING_UTF8 },
	{ "surname", "2.5.4.4", SCEP_CSR_STRING_UTF8 },
	{ "serialNumber", "2.5.4.5", SCEP_CSR_STRING_PRINTABLE },
	{ "C", "2.5.4.6", SCEP_CSR_STRING_PRINTABLE },
	{ "L", "2.5.4.7", SCEP_CSR_STRING_UTF8 },
	{ "ST", "2.5.4.8", SCEP_CSR_STRING_UTF8 },
	{ "S", "2.5.4.8", SCEP_CSR_STRING_UTF8 },
	{ "street", "2.5.4.9", SCEP_CSR_STRING_UTF8 },
	{ "O", "2.5.4.10", SCEP_CSR_STRING_UTF8 },
	{ "OU", "2.5.4.11", SCEP_CSR_STRING_UTF8 },
	{ "title", "2.5.4.12", SCEP_CSR_STRING_UTF8 },
	{ "postalCode", "2.5.4.17", SCEP_CSR_STRING_UTF8 },
	{ "GN", "2.5.4.42", SCEP_CSR_STRING_UTF8 },
	{ "givenName", "2.5.4.42", SCEP_CSR_STRING_UTF8 },
	{ "initials", "2.5.4.43", SCEP_CSR_STRING_UTF8 },
	{ "pseudonym", "2.5.4.65", SCEP_CSR_STRING_UTF8 },
	{ "DC", "0.9.2342.19200300.100.1.25", SCEP_CSR_STRING_IA5 },
	{ "UID", "0.9.2342.19200300.100.1.1", SCEP_CSR_STRING_UTF8 },
	{ "emailAddress", "1.2.840.113549.1.9.1", SCEP_CSR_STRING_IA5 },
	{ "E", "1.2.840.113549.1.9.1", SCEP_CSR_STRING_IA5 },
	{ "EMAIL", "1.2.840.113549.1.9.1", SCEP_CSR_STRING_IA5 },
};

static gboolean
scep_csr_is_printable_string(const gchar *s, gsize len)
{
	for (gsize i = 0; i < len; i++) {
		gchar c = s[i];
		if (g_ascii_isalnum(c) || strchr(" '()+,-./:=?", c) != NULL)
			continue;
		return FALSE;
	}
	return TRUE;
}

static gboolean
scep_csr_is_ascii(const gchar *s, gsize len)
{
	for (gsize i = 0; i < len; i++) {
		if ((guchar)s[i] >= 0x80 || (guchar)s[i] < 0x20)
			return FALSE;
	}
	return TRUE;
}

/* one AttributeTypeAndValue, DER */
static GByteArray *
scep_csr_encode_ava(const gchar *type, const GString *value, GError **error)
{
	g_autoptr(GByteArray) body = g_byte_array_new();
	g_autoptr(GByteArray) ava = g_byte_array_new();
	g_autofree gchar *type_trimmed = g_strstrip(g_strdup(type));
	const gchar *oid = NULL;
	ScepCsrStringTag tag = SCEP_CSR_STRING_UTF8;

	for (guint i = 0; i < G_N_ELEMENTS(scep_csr_attrs); i++) {
		if (g_ascii_strcasecmp(scep_csr_attrs[i].name, type_trimmed) == 0) {
			oid = scep_csr_attrs[i].oid;
			tag = scep_csr_attrs[i].tag;
			break;
		}
	}
	if (oid == NULL) {
		const gchar *dotted = type_trimmed;
		if (g_ascii_strncasecmp(dotted, "OID.", 4) == 0)
			dotted += 4;
		if (!g_ascii_isdigit(dotted[0])) {
			g_set_error(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_INVALID_ARGUMENT,
				    "unknown attribute '%s' in the subject",
				    type_trimmed);
			return NULL;
		}
		oid = dotted;
	}
	if (value->len == 0) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "attribute '%s' of the subject has an empty value",
			    type_trimmed);
		return NULL;
	}
	if (!g_utf8_validate_len(value->str, value->len, NULL) ||
	    memchr(value->str, 0, value->len)) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "attribute '%s' of the subject is not UTF-8 text",
			    type_trimmed);
		return NULL;
	}
	if (tag == SCEP_CSR_STRING_PRINTABLE &&
	    !scep_csr_is_printable_string(value->str, value->len)) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "attribute '%s' of the subject allows only letters, digits and "
			    "\" '()+,-./:=?\"",
			    type_trimmed);
		return NULL;
	}
	if (tag == SCEP_CSR_STRING_IA5 && !scep_csr_is_ascii(value->str, value->len)) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "attribute '%s' of the subject must be ASCII",
			    type_trimmed);
		return NULL;
	}
	if (g_strcmp0(oid, "2.5.4.6") == 0 && value->len != 2) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "country '%s' must be a two-letter code",
			    value->str);
		return NULL;
	}
	if (!scep_csr_der_append_oid(body, oid, error))
		return NULL;
	scep_csr_der_append_tlv(body, tag, (const guint8 *)value->str, value->len);
	scep_csr_der_append_tlv(ava, 0x30, body->data, body->len);
	return g_steal_pointer(&ava);
}

static gboolean
scep_csr_hex_value(gchar c, guint *out)
{
	gint v = g_ascii_xdigit_value(c);
	if (v < 0)
		return FALSE;
	*out = (guint)v;
	return TRUE;
}

static void
scep_csr_byte_array_unref(gpointer data)
{
	g_byte_array_unref(data);
}

static void
scep_csr_ptr_array_unref(gpointer data)
{
	g_ptr_array_unref(data);
}

/* RFC 4514 parsing into RDNs (string order) of encoded AVAs */
static GPtrArray *
scep_csr_parse_dn(const gchar *dn, GError **error)
{
	g_autoptr(GPtrArray) rdns = g_ptr_array_new_with_free_func(scep_csr_ptr_array_unref);
	g_autoptr(GPtrArray) rdn = g_ptr_array_new_with_free_func(scep_csr_byte_array_unref);
	g_autoptr(GString) type = g_string_new(NULL);
	g_autoptr(GString) value = g_string_new(NULL);
	gboolean in_value = FALSE;
	gsize keep = 0; /* value length up to the last escaped or non-space character */
	const gchar *p = dn;

	for (;;) {
		gchar c = *p;
		if (c == '\0' || (in_value && (c == ',' || c == '+' || c == ';'))) {
			GByteArray *ava;
			if (!in_value) {
				g_set_error(error,
					    SCEP_NDES_ERROR,
					    SCEP_NDES_ERROR_INVALID_ARGUMENT,
					    "subject '%s': '%s' has no '='",
					    dn,
					    type->str);
				return NULL;
			}
			g_string_truncate(value, keep);
			ava = scep_csr_encode_ava(type->str, value, error);
			if (ava == NULL) {
				g_prefix_error(error, "subject '%s': ", dn);
				return NULL;
			}
			g_ptr_array_add(rdn, ava);
			if (c != '+') {
				g_ptr_array_add(rdns, g_steal_pointer(&rdn));
				rdn = g_ptr_array_new_with_free_func(scep_csr_byte_array_unref);
			}
			if (c == '\0')
				break;
			g_string_truncate(type, 0);
			g_string_truncate(value, 0);
			in_value = FALSE;
			keep = 0;
			p++;
			continue;
		}
		if (!in_value) {
			if (c == '=')
				in_value = TRUE;
			else
				g_string_append_c(type, c);
			p++;
			continue;
		}
		if (c == '\\') {
			guint hi = 0;
			guint lo = 0;
			if (p[1] == '\0') {
				g_set_error(error,
					    SCEP_NDES_ERROR,
					    SCEP_NDES_ERROR_INVALID_ARGUMENT,
					    "subject '%s' ends in a lone backslash",
					    dn);
				return NULL;
			}
			if (scep_csr_hex_value(p[1], &hi) && p[2] != '\0' &&
			    scep_csr_hex_value(p[2], &lo)) {
				g_string_append_c(value, (gchar)(hi << 4 | lo));
				p += 3;
			} else {
				g_string_append_c(value, p[1]);
				p += 2;
			}
			keep = value->len;
			continue;
		}
		if (c == ' ' && value->len == 0) {
			p++;
			continue;
		}
		g_string_append_c(value, c);
		if (c != ' ')
			keep = value->len;
		p++;
	}
	if (rdns->len == 0) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_INVALID_ARGUMENT,
				    "the subject is empty");
		return NULL;
	}
	return g_steal_pointer(&rdns);
}

GBytes *
scep_csr_dn_to_der(const gchar *dn, GError **error)
{
	g_autoptr(GPtrArray) rdns = NULL;
	g_autoptr(GByteArray) seq = g_byte_array_new();
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autofree gchar *trimmed = NULL;

	g_return_val_if_fail(dn != NULL, NULL);

	trimmed = g_strstrip(g_strdup(dn));
	if (*trimmed == '\0') {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_INVALID_ARGUMENT,
				    "the subject is empty");
		return NULL;
	}
	rdns = scep_csr_parse_dn(dn, error);
	if (rdns == NULL)
		return NULL;
	/* RFC 4514: the string starts with the last RDN of the sequence */
	for (guint i = rdns->len; i > 0; i--) {
		GPtrArray *rdn = g_ptr_array_index(rdns, i - 1);
		g_autoptr(GByteArray) set = g_byte_array_new();
		g_ptr_array_sort(rdn, scep_csr_der_compare);
		for (guint j = 0; j < rdn->len; j++) {
			GByteArray *ava = g_ptr_array_index(rdn, j);
			g_byte_array_append(set, ava->data, ava->len);
		}
		scep_csr_der_append_tlv(seq, 0x31, set->data, set->len);
	}
	scep_csr_der_append_tlv(out, 0x30, seq->data, seq->len);
	return g_byte_array_free_to_bytes(g_steal_pointer(&out));
}

/* ---- subject alternative names ---- */

static void
scep_csr_san_free(gpointer data)
{
	ScepCsrSan *san = data;
	g_bytes_unref(san->value);
	g_free(san);
}

static gboolean
scep_csr_check_dns(const gchar *value, GError **error)
{
	gsize len = strlen(value);
	gboolean ok = len > 0 && len <= 253 && value[0] != '.' && value[len - 1] != '.' &&
		      strstr(value, "..") == NULL;

	for (gsize i = 0; ok && i < len; i++) {
		gchar c = value[i];
		ok = g_ascii_isalnum(c) || c == '-' || c == '.' || (c == '*' && i == 0) || c == '_';
	}
	if (!ok) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "'%s' is not a DNS name",
			    value);
	}
	return ok;
}

static gboolean
scep_csr_check_email(const gchar *value, gboolean utf8, const gchar *what, GError **error)
{
	const gchar *at = strchr(value, '@');
	gboolean ok = at != NULL && at != value && at[1] != '\0' && strchr(at + 1, '@') == NULL &&
		      strchr(value, ' ') == NULL;

	if (ok && !utf8)
		ok = scep_csr_is_ascii(value, strlen(value));
	if (!ok) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "'%s' is not a valid %s",
			    value,
			    what);
	}
	return ok;
}

static gboolean
scep_csr_check_sid(const gchar *sid, GError **error)
{
	g_auto(GStrv) parts = g_strsplit(sid, "-", -1);
	guint n = g_strv_length(parts);
	gboolean ok = n >= 4 && n <= 18 && g_ascii_strcasecmp(parts[0], "S") == 0 &&
		      g_strcmp0(parts[1], "1") == 0 && g_strcmp0(parts[2], "5") == 0;

	for (guint i = 3; ok && i < n; i++) {
		guint64 v = 0;
		ok = parts[i][0] != '\0' && strlen(parts[i]) <= 10 &&
		     g_ascii_string_to_unsigned(parts[i], 10, 0, G_MAXUINT32, &v, NULL);
	}
	if (!ok) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "'%s' is not a Windows SID of the form S-1-5-<n>(-<n>)*",
			    sid);
	}
	return ok;
}

gchar *
scep_csr_make_sid_uri(const gchar *sid, GError **error)
{
	g_return_val_if_fail(sid != NULL, NULL);
	if (!scep_csr_check_sid(sid, error))
		return NULL;
	/* the SID itself with an upper-case S, as Windows writes it */
	return g_strdup_printf("%sS%s", SCEP_CSR_MS_SID_URI_PREFIX, sid + 1);
}

static gboolean
scep_csr_check_uri(const gchar *value, GError **error)
{
	const gchar *colon = strchr(value, ':');
	gboolean ok = colon != NULL && colon != value && g_ascii_isalpha(value[0]) &&
		      colon[1] != '\0' && scep_csr_is_ascii(value, strlen(value)) &&
		      strchr(value, ' ') == NULL;

	for (const gchar *p = value; ok && p < colon; p++)
		ok = g_ascii_isalnum(*p) || *p == '+' || *p == '-' || *p == '.';
	if (!ok) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "'%s' is not a URI",
			    value);
		return FALSE;
	}
	if (g_str_has_prefix(value, SCEP_CSR_MS_SID_URI_PREFIX))
		return scep_csr_check_sid(value + strlen(SCEP_CSR_MS_SID_URI_PREFIX), error);
	return TRUE;
}

gboolean
scep_csr_params_add_san(ScepCsrParams *self,
			ScepCsrSanType type,
			const gchar *value,
			GError **error)
{
	ScepCsrSan *san;
	GBytes *bytes = NULL;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(value != NULL, FALSE);

	switch (type) {
	case SCEP_CSR_SAN_DNS:
		if (!scep_csr_check_dns(value, error))
			return FALSE;
		break;
	case SCEP_CSR_SAN_IP: {
		g_autoptr(GInetAddress) addr = g_inet_address_new_from_string(value);
		if (addr == NULL) {
			g_set_error(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_INVALID_ARGUMENT,
				    "'%s' is not an IPv4 or IPv6 address",
				    value);
			return FALSE;
		}
		bytes = g_bytes_new(g_inet_address_to_bytes(addr),
				    g_inet_address_get_native_size(addr));
		break;
	}
	case SCEP_CSR_SAN_EMAIL:
		if (!scep_csr_check_email(value, FALSE, "e-mail address", error))
			return FALSE;
		break;
	case SCEP_CSR_SAN_UPN:
		if (!g_utf8_validate(value, -1, NULL) ||
		    !scep_csr_check_email(value, TRUE, "user principal name", error)) {
			if (error != NULL && *error == NULL)
				g_set_error(error,
					    SCEP_NDES_ERROR,
					    SCEP_NDES_ERROR_INVALID_ARGUMENT,
					    "user principal name is not UTF-8");
			return FALSE;
		}
		break;
	case SCEP_CSR_SAN_URI:
		if (!scep_csr_check_uri(value, error))
			return FALSE;
		break;
	default:
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "unknown subject alternative name type %d",
			    (gint)type);
		return FALSE;
	}
	if (bytes == NULL)
		bytes = g_bytes_new(value, strlen(value));
	san = g_new0(ScepCsrSan, 1);
	san->type = type;
	san->value = bytes;
	g_ptr_array_add(self->sans, san);
	return TRUE;
}

gboolean
scep_csr_params_add_san_spec(ScepCsrParams *self, const gchar *spec, GError **error)
{
	static const struct {
		const gchar *name;
		ScepCsrSanType type;
	} types[] = {
		{ "dns", SCEP_CSR_SAN_DNS },     { "ip", SCEP_CSR_SAN_IP },
		{ "email", SCEP_CSR_SAN_EMAIL }, { "upn", SCEP_CSR_SAN_UPN },
		{ "uri", SCEP_CSR_SAN_URI },
	};
	const gchar *colon;
	g_autofree gchar *type = NULL;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(spec != NULL, FALSE);

	colon = strchr(spec, ':');
	if (colon == NULL) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "subject alternative name '%s' is not TYPE:VALUE",
			    spec);
		return FALSE;
	}
	type = g_strndup(spec, (gsize)(colon - spec));
	if (g_ascii_strcasecmp(type, "sid") == 0) {
		g_autofree gchar *uri = scep_csr_make_sid_uri(colon + 1, error);
		if (uri == NULL)
			return FALSE;
		return scep_csr_params_add_san(self, SCEP_CSR_SAN_URI, uri, error);
	}
	for (guint i = 0; i < G_N_ELEMENTS(types); i++) {
		if (g_ascii_strcasecmp(type, types[i].name) == 0)
			return scep_csr_params_add_san(self, types[i].type, colon + 1, error);
	}
	g_set_error(error,
		    SCEP_NDES_ERROR,
		    SCEP_NDES_ERROR_INVALID_ARGUMENT,
		    "unknown subject alternative name type '%s' (expected dns, ip, email, upn, "
		    "uri or sid)",
		    type);
	return FALSE;
}

/* ---- parameters ---- */

static void
scep_csr_wipe_string(gchar *s)
{
	if (s == NULL)
		return;
	gnutls_memset(s, 0, strlen(s));
	g_free(s);
}

ScepCsrParams *
scep_csr_params_new(void)
{
	ScepCsrParams *self = g_new0(ScepCsrParams, 1);
	self->sans = g_ptr_array_new_with_free_func(scep_csr_san_free);
	self->ekus = g_ptr_array_new_with_free_func(g_free);
	self->key_usage = GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT;
	g_ptr_array_add(self->ekus, g_strdup(GNUTLS_KP_TLS_WWW_CLIENT));
	return self;
}

void
scep_csr_params_free(ScepCsrParams *self)
{
	if (self == NULL)
		return;
	g_clear_pointer(&self->subject, g_bytes_unref);
	g_ptr_array_unref(self->sans);
	g_ptr_array_unref(self->ekus);
	scep_csr_wipe_string(self->challenge);
	g_free(self->template_oid);
	g_clear_pointer(&self->template_value, g_bytes_unref);
	g_free(self);
}

/**
 * scep_csr_params_copy:
 *
 * A deep copy, e.g. for a worker thread that builds the request later; the challenge is
 * copied too and wiped again when the copy is freed.
 */
ScepCsrParams *
scep_csr_params_copy(const ScepCsrParams *self)
{
	ScepCsrParams *copy;

	g_return_val_if_fail(self != NULL, NULL);
	copy = g_new0(ScepCsrParams, 1);
	copy->subject = self->subject != NULL ? g_bytes_ref(self->subject) : NULL;
	copy->sans = g_ptr_array_new_with_free_func(scep_csr_san_free);
	for (guint i = 0; i < self->sans->len; i++) {
		const ScepCsrSan *san = g_ptr_array_index(self->sans, i);
		ScepCsrSan *dup = g_new0(ScepCsrSan, 1);
		dup->type = san->type;
		dup->value = g_bytes_ref(san->value);
		g_ptr_array_add(copy->sans, dup);
	}
	copy->challenge = g_strdup(self->challenge);
	copy->key_usage = self->key_usage;
	copy->ekus = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < self->ekus->len; i++)
		g_ptr_array_add(copy->ekus, g_strdup(g_ptr_array_index(self->ekus, i)));
	copy->template_oid = g_strdup(self->template_oid);
	copy->template_value =
	    self->template_value != NULL ? g_bytes_ref(self->template_value) : NULL;
	return copy;
}

gboolean
scep_csr_params_set_subject(ScepCsrParams *self, const gchar *dn, GError **error)
{
	GBytes *der;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(dn != NULL, FALSE);

	der = scep_csr_dn_to_der(dn, error);
	if (der == NULL)
		return FALSE;
	g_clear_pointer(&self->subject, g_bytes_unref);
	self->subject = der;
	return TRUE;
}

void
scep_csr_params_set_challenge_password(ScepCsrParams *self, const gchar *password)
{
	g_return_if_fail(self != NULL);
	scep_csr_wipe_string(self->challenge);
	self->challenge = g_strdup(password);
}

void
scep_csr_params_set_key_usage(ScepCsrParams *self, unsigned int usage)
{
	g_return_if_fail(self != NULL);
	self->key_usage = usage;
}

gboolean
scep_csr_params_set_extended_key_usages(ScepCsrParams *self,
					const gchar *const *oids,
					GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);

	for (guint i = 0; oids != NULL && oids[i] != NULL; i++) {
		g_auto(GStrv) arcs = g_strsplit(oids[i], ".", -1);
		if (!scep_csr_oid_is_valid(arcs)) {
			g_set_error(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_INVALID_ARGUMENT,
				    "extended key usage '%s' is not an object identifier",
				    oids[i]);
			return FALSE;
		}
	}
	g_ptr_array_set_size(self->ekus, 0);
	for (guint i = 0; oids != NULL && oids[i] != NULL; i++)
		g_ptr_array_add(self->ekus, g_strdup(oids[i]));
	return TRUE;
}

gboolean
scep_csr_params_set_template_name(ScepCsrParams *self, const gchar *name, GError **error)
{
	g_autofree gunichar2 *utf16 = NULL;
	glong n_units = 0;
	g_autoptr(GByteArray) be = g_byte_array_new();
	g_autoptr(GByteArray) out = g_byte_array_new();

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(name != NULL, FALSE);

	if (*name == '\0') {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_INVALID_ARGUMENT,
				    "certificate template name is empty");
		return FALSE;
	}
	utf16 = g_utf8_to_utf16(name, -1, NULL, &n_units, NULL);
	if (utf16 == NULL) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_INVALID_ARGUMENT,
				    "certificate template name is not UTF-8");
		return FALSE;
	}
	/* BMPString: UTF-16 big-endian */
	for (glong i = 0; i < n_units; i++) {
		guint8 pair[2] = { (guint8)(utf16[i] >> 8), (guint8)(utf16[i] & 0xff) };
		g_byte_array_append(be, pair, 2);
	}
	scep_csr_der_append_tlv(out, 0x1e, be->data, be->len);
	g_free(self->template_oid);
	self->template_oid = g_strdup(SCEP_CSR_OID_MS_TEMPLATE_NAME);
	g_clear_pointer(&self->template_value, g_bytes_unref);
	self->template_value = g_byte_array_free_to_bytes(g_steal_pointer(&out));
	return TRUE;
}

static void
scep_csr_der_append_uint(GByteArray *out, guint value)
{
	guint8 buf[5];
	guint len = 0;

	do {
		buf[4 - len] = (guint8)(value & 0xff);
		value >>= 8;
		len++;
	} while (value > 0);
	/* keep it positive */
	if (buf[5 - len] & 0x80) {
		buf[4 - len] = 0;
		len++;
	}
	scep_csr_der_append_tlv(out, 0x02, buf + 5 - len, len);
}

gboolean
scep_csr_params_set_template(
    ScepCsrParams *self, const gchar *oid, guint major, gint minor, GError **error)
{
	g_autoptr(GByteArray) body = g_byte_array_new();
	g_autoptr(GByteArray) out = g_byte_array_new();

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(oid != NULL, FALSE);

	if (!scep_csr_der_append_oid(body, oid, error)) {
		g_prefix_error(error, "certificate template: ");
		return FALSE;
	}
	scep_csr_der_append_uint(body, major);
	if (minor >= 0)
		scep_csr_der_append_uint(body, (guint)minor);
	scep_csr_der_append_tlv(out, 0x30, body->data, body->len);
	g_free(self->template_oid);
	self->template_oid = g_strdup(SCEP_CSR_OID_MS_TEMPLATE);
	g_clear_pointer(&self->template_value, g_bytes_unref);
	self->template_value = g_byte_array_free_to_bytes(g_steal_pointer(&out));
	return TRUE;
}

/* ---- building ---- */

static gboolean
scep_csr_add_extensions(gnutls_x509_crq_t crq, const ScepCsrParams *params, GError **error)
{
	g_auto(ScepGnutlsDatum) ext = { NULL, 0 };

	/*
	 * every extension goes through set_extension_by_oid with its own criticality:
	 * gnutls_x509_crq_set_key_purpose_oid() would copy keyUsage's criticality to the EKU
	 */
	if (params->ekus->len > 0) {
		g_auto(ScepCsrPurposes) purposes = NULL;
		if (!scep_gnutls_check(gnutls_x509_key_purpose_init(&purposes),
				       "cannot create extended key usage",
				       error))
			return FALSE;
		for (guint i = 0; i < params->ekus->len; i++) {
			const gchar *oid = g_ptr_array_index(params->ekus, i);
			if (!scep_gnutls_check(gnutls_x509_key_purpose_set(purposes, oid),
					       "cannot add extended key usage",
					       error))
				return FALSE;
		}
		if (!scep_gnutls_check(gnutls_x509_ext_export_key_purposes(purposes, &ext),
				       "cannot encode extended key usage",
				       error))
			return FALSE;
		if (!scep_gnutls_check(gnutls_x509_crq_set_extension_by_oid(
					   crq, "2.5.29.37", ext.data, ext.size, 0),
				       "cannot set extended key usage",
				       error))
			return FALSE;
		scep_gnutls_datum_clear(&ext);
	}
	if (params->key_usage != 0) {
		if (!scep_gnutls_check(gnutls_x509_ext_export_key_usage(params->key_usage, &ext),
				       "cannot encode key usage",
				       error))
			return FALSE;
		if (!scep_gnutls_check(gnutls_x509_crq_set_extension_by_oid(
					   crq, "2.5.29.15", ext.data, ext.size, 1),
				       "cannot set key usage",
				       error))
			return FALSE;
		scep_gnutls_datum_clear(&ext);
	}
	if (params->sans->len > 0) {
		g_auto(ScepCsrSans) sans = NULL;
		if (!scep_gnutls_check(gnutls_subject_alt_names_init(&sans),
				       "cannot create subject alternative names",
				       error))
			return FALSE;
		for (guint i = 0; i < params->sans->len; i++) {
			ScepCsrSan *san = g_ptr_array_index(params->sans, i);
			gnutls_datum_t value = scep_gnutls_datum_from_bytes(san->value);
			g_autoptr(GByteArray) utf8 = NULL;
			int rc;

			switch (san->type) {
			case SCEP_CSR_SAN_DNS:
				rc = gnutls_subject_alt_names_set(
				    sans, GNUTLS_SAN_DNSNAME, &value, NULL);
				break;
			case SCEP_CSR_SAN_IP:
				rc = gnutls_subject_alt_names_set(
				    sans, GNUTLS_SAN_IPADDRESS, &value, NULL);
				break;
			case SCEP_CSR_SAN_EMAIL:
				rc = gnutls_subject_alt_names_set(
				    sans, GNUTLS_SAN_RFC822NAME, &value, NULL);
				break;
			case SCEP_CSR_SAN_URI:
				rc = gnutls_subject_alt_names_set(
				    sans, GNUTLS_SAN_URI, &value, NULL);
				break;
			case SCEP_CSR_SAN_UPN:
			default:
				/* otherName value: [0] EXPLICIT UTF8String, GnuTLS adds the [0] */
				utf8 = g_byte_array_new();
				scep_csr_der_append_tlv(utf8, 0x0c, value.data, value.size);
				value.data = utf8->data;
				value.size = utf8->len;
				rc = gnutls_subject_alt_names_set(
				    sans, GNUTLS_SAN_OTHERNAME, &value, SCEP_CSR_OID_MS_UPN);
				break;
			}
			if (!scep_gnutls_check(rc, "cannot add subject alternative name", error))
				return FALSE;
		}
		if (!scep_gnutls_check(gnutls_x509_ext_export_subject_alt_names(sans, &ext),
				       "cannot encode subject alternative names",
				       error))
			return FALSE;
		if (!scep_gnutls_check(gnutls_x509_crq_set_extension_by_oid(
					   crq, "2.5.29.17", ext.data, ext.size, 0),
				       "cannot set subject alternative names",
				       error))
			return FALSE;
		scep_gnutls_datum_clear(&ext);
	}
	if (params->template_value != NULL) {
		gsize len = 0;
		const guint8 *data = g_bytes_get_data(params->template_value, &len);
		if (!scep_gnutls_check(gnutls_x509_crq_set_extension_by_oid(
					   crq, params->template_oid, data, len, 0),
				       "cannot set certificate template",
				       error))
			return FALSE;
	}
	return TRUE;
}

static void
scep_csr_wipe_byte_array(GByteArray *array)
{
	if (array == NULL)
		return;
	gnutls_memset(array->data, 0, array->len);
	g_byte_array_unref(array);
}
typedef GByteArray ScepCsrSecretArray;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepCsrSecretArray, scep_csr_wipe_byte_array)

#define SCEP_CSR_OID_CHALLENGE_PASSWORD "1.2.840.113549.1.9.7"

/*
 * gnutls_x509_crq_set_challenge_password() first normalizes the password (PRECIS, NFKC)
 * with libunistring, whose tables add about 380 KiB to the resident set of a scepctl run.
 * A password of letters, digits and " ()+,-./:=?" comes out of that normalization unchanged,
 * and GnuTLS then writes it as a PrintableString (GnuTLS 3.7.9 takes an apostrophe, which
 * PrintableString allows, as a reason for UTF8String): that attribute value is written here,
 * byte for byte the same. Anything else still goes through GnuTLS.
 */
static gboolean
scep_csr_set_challenge_password(gnutls_x509_crq_t crq, const gchar *challenge, GError **error)
{
	gsize len = strlen(challenge);
	g_autoptr(ScepCsrSecretArray) value = NULL;

	if (len == 0 || !scep_csr_is_printable_string(challenge, len) ||
	    strchr(challenge, '\'') != NULL)
		return scep_gnutls_check(gnutls_x509_crq_set_challenge_password(crq, challenge),
					 "cannot set the challenge password",
					 error);
	/* sized up front: a reallocation would leave an unwiped copy behind */
	value = g_byte_array_sized_new((guint)len + 10);
	scep_csr_der_append_tlv(value, 0x13, (const guint8 *)challenge, len);
	return scep_gnutls_check(gnutls_x509_crq_set_attribute_by_oid(
				     crq, SCEP_CSR_OID_CHALLENGE_PASSWORD, value->data, value->len),
				 "cannot set the challenge password",
				 error);
}

/*
 * GnuTLS cannot write a multi-valued RDN, so the request is built with an empty subject,
 * exported, the subject spliced into CertificationRequestInfo, re-imported and signed again.
 */
static GByteArray *
scep_csr_splice_subject(const gnutls_datum_t *der, GBytes *subject, GError **error)
{
	const guint8 *p = der->data;
	gsize len = der->size;
	gsize hdr = 0, content = 0;
	gsize cri_hdr = 0, cri_len = 0;
	gsize ver_hdr = 0, ver_len = 0;
	gsize subj_hdr = 0, subj_len = 0;
	const guint8 *cri;
	const guint8 *rest;
	gsize rest_len;
	gsize tail_off;
	g_autoptr(ScepCsrSecretArray) new_cri = g_byte_array_new();
	g_autoptr(ScepCsrSecretArray) body = g_byte_array_new();
	GByteArray *out = g_byte_array_new();
	gsize subject_len = 0;
	const guint8 *subject_data = g_bytes_get_data(subject, &subject_len);

	if (!scep_csr_der_read_tlv(p, len, &hdr, &content) || p[0] != 0x30 ||
	    !scep_csr_der_read_tlv(p + hdr, content, &cri_hdr, &cri_len) || p[hdr] != 0x30) {
		g_byte_array_unref(out);
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_CRYPTO,
				    "cannot read the request GnuTLS built");
		return NULL;
	}
	cri = p + hdr + cri_hdr;
	if (!scep_csr_der_read_tlv(cri, cri_len, &ver_hdr, &ver_len) || cri[0] != 0x02 ||
	    !scep_csr_der_read_tlv(
		cri + ver_hdr + ver_len, cri_len - ver_hdr - ver_len, &subj_hdr, &subj_len) ||
	    cri[ver_hdr + ver_len] != 0x30) {
		g_byte_array_unref(out);
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_CRYPTO,
				    "cannot find the subject in the request GnuTLS built");
		return NULL;
	}
	rest = cri + ver_hdr + ver_len + subj_hdr + subj_len;
	rest_len = cri_len - (ver_hdr + ver_len + subj_hdr + subj_len);
	g_byte_array_append(body, cri, (guint)(ver_hdr + ver_len));
	g_byte_array_append(body, subject_data, (guint)subject_len);
	g_byte_array_append(body, rest, (guint)rest_len);
	scep_csr_der_append_tlv(new_cri, 0x30, body->data, body->len);
	/* signatureAlgorithm and signature follow the CRI; they are replaced by signing again */
	tail_off = hdr + cri_hdr + cri_len;
	g_byte_array_set_size(body, 0);
	g_byte_array_append(body, new_cri->data, new_cri->len);
	g_byte_array_append(body, p + tail_off, (guint)(hdr + content - tail_off));
	scep_csr_der_append_tlv(out, 0x30, body->data, body->len);
	return out;
}

/*
 * The common case, a subject without multi-valued RDNs, is written through GnuTLS one
 * RDN at a time (values passed as raw TLVs, so string types are kept); then the request is
 * signed once. Returns FALSE, without error, when the subject has a multi-valued RDN.
 */
static gboolean
scep_csr_set_single_valued_subject(gnutls_x509_crq_t crq, GBytes *subject, GError **error)
{
	g_auto(gnutls_x509_dn_t) dn = NULL;
	gnutls_datum_t datum = scep_gnutls_datum_from_bytes(subject);

	if (!scep_gnutls_check(gnutls_x509_dn_init(&dn), "cannot create a name", error))
		return FALSE;
	if (gnutls_x509_dn_import(dn, &datum) < 0)
		return FALSE;
	/* first pass: only single-valued RDNs */
	for (int irdn = 0;; irdn++) {
		gnutls_x509_ava_st ava;
		if (gnutls_x509_dn_get_rdn_ava(dn, irdn, 0, &ava) < 0)
			break;
		if (gnutls_x509_dn_get_rdn_ava(dn, irdn, 1, &ava) >= 0)
			return FALSE;
	}
	for (int irdn = 0;; irdn++) {
		gnutls_x509_ava_st ava;
		g_autoptr(GByteArray) tlv = g_byte_array_new();
		g_autofree gchar *oid = NULL;
		if (gnutls_x509_dn_get_rdn_ava(dn, irdn, 0, &ava) < 0)
			break;
		oid = g_strndup((const gchar *)ava.oid.data, ava.oid.size);
		scep_csr_der_append_tlv(tlv, (guint8)ava.value_tag, ava.value.data, ava.value.size);
		if (!scep_gnutls_check(
			gnutls_x509_crq_set_dn_by_oid(crq, oid, 1, tlv->data, tlv->len),
			"cannot set the subject",
			error))
			return FALSE;
	}
	return TRUE;
}

/* whether the signed request @der carries exactly @subject (GnuTLS wrote it as we meant) */
static gboolean
scep_csr_has_subject(const gnutls_datum_t *der, GBytes *subject)
{
	gsize subject_len = 0;
	const guint8 *subject_data = g_bytes_get_data(subject, &subject_len);
	gsize hdr = 0, content = 0, cri_hdr = 0, cri_len = 0, ver_hdr = 0, ver_len = 0;
	const guint8 *p = der->data;
	const guint8 *cri;
	if (!scep_csr_der_read_tlv(p, der->size, &hdr, &content) ||
	    !scep_csr_der_read_tlv(p + hdr, content, &cri_hdr, &cri_len))
		return FALSE;
	cri = p + hdr + cri_hdr;
	if (!scep_csr_der_read_tlv(cri, cri_len, &ver_hdr, &ver_len))
		return FALSE;
	return cri_len - ver_hdr - ver_len >= subject_len &&
	       memcmp(cri + ver_hdr + ver_len, subject_data, subject_len) == 0;
}

GBytes *
scep_csr_build(const ScepCsrParams *params,
	       gnutls_privkey_t key,
	       gnutls_digest_algorithm_t dig,
	       GError **error)
{
	g_auto(gnutls_x509_crq_t) crq = NULL;
	g_auto(gnutls_x509_crq_t) final = NULL;
	g_auto(gnutls_pubkey_t) pub = NULL;
	g_auto(gnutls_privkey_t) fast_signer = NULL;
	g_auto(ScepGnutlsDatum) der = { NULL, 0 };
	g_autoptr(ScepCsrSecretArray) spliced = NULL;
	g_autoptr(GError) error_local = NULL;
	gnutls_privkey_t signer;
	gnutls_datum_t spliced_datum;
	gboolean single_valued;
	GBytes *result;

	g_return_val_if_fail(params != NULL, NULL);
	g_return_val_if_fail(key != NULL, NULL);

	if (params->subject == NULL) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_INVALID_ARGUMENT,
				    "the request has no subject");
		return NULL;
	}
	if (dig == GNUTLS_DIG_UNKNOWN)
		dig = GNUTLS_DIG_SHA256;

	if (!scep_gnutls_check(gnutls_x509_crq_init(&crq), "cannot create request", error))
		return NULL;
	if (!scep_gnutls_check(gnutls_pubkey_init(&pub), "cannot create public key", error))
		return NULL;
	if (!scep_gnutls_check(
		gnutls_pubkey_import_privkey(pub, key, 0, 0), "cannot read the public key", error))
		return NULL;
	if (!scep_gnutls_check(gnutls_x509_crq_set_version(crq, 1), "cannot set version", error))
		return NULL;
	if (!scep_gnutls_check(
		gnutls_x509_crq_set_pubkey(crq, pub), "cannot set public key", error))
		return NULL;
	if (params->challenge != NULL &&
	    !scep_csr_set_challenge_password(crq, params->challenge, error))
		return NULL;
	if (!scep_csr_add_extensions(crq, params, error))
		return NULL;
	single_valued = scep_csr_set_single_valued_subject(crq, params->subject, &error_local);
	if (error_local != NULL) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}
	/* GnuTLS writes the request; the RSA signature itself is ours (scep-rsa.c) when the
	 * key's parameters can be read, else GnuTLS's */
	fast_signer = scep_rsa_privkey_new_signer(key);
	signer = fast_signer != NULL ? fast_signer : key;
	if (!scep_gnutls_check(gnutls_x509_crq_privkey_sign(crq, signer, dig, 0),
			       "cannot sign the request",
			       error))
		return NULL;
	if (!scep_gnutls_check(gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &der),
			       "cannot export the request",
			       error))
		return NULL;
	if (single_valued && scep_csr_has_subject(&der, params->subject)) {
		result = scep_gnutls_datum_to_bytes(&der);
		gnutls_memset(der.data, 0, der.size);
		return result;
	}

	spliced = scep_csr_splice_subject(&der, params->subject, error);
	gnutls_memset(der.data, 0, der.size);
	if (spliced == NULL)
		return NULL;
	spliced_datum.data = spliced->data;
	spliced_datum.size = spliced->len;
	if (!scep_gnutls_check(gnutls_x509_crq_init(&final), "cannot create request", error))
		return NULL;
	if (!scep_gnutls_check(gnutls_x509_crq_import(final, &spliced_datum, GNUTLS_X509_FMT_DER),
			       "cannot re-read the request",
			       error))
		return NULL;
	if (!scep_gnutls_check(gnutls_x509_crq_privkey_sign(final, signer, dig, 0),
			       "cannot sign the request",
			       error))
		return NULL;
	scep_gnutls_datum_clear(&der);
	if (!scep_gnutls_check(gnutls_x509_crq_export2(final, GNUTLS_X509_FMT_DER, &der),
			       "cannot export the request",
			       error))
		return NULL;
	if (!scep_gnutls_check(
		gnutls_x509_crq_verify(final, 0), "the request does not verify", error))
		return NULL;
	result = scep_gnutls_datum_to_bytes(&der);
	gnutls_memset(der.data, 0, der.size);
	return result;
}

/* ---- keys ---- */

gnutls_privkey_t
scep_csr_generate_key(guint bits, GError **error)
{
	g_auto(gnutls_privkey_t) key = NULL;

	if (bits != 2048 && bits != 3072 && bits != 4096) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "RSA key size %u is not supported (use 2048, 3072 or 4096)",
			    bits);
		return NULL;
	}
	if (!scep_gnutls_check(gnutls_privkey_init(&key), "cannot create private key", error))
		return NULL;
	if (!scep_gnutls_check(gnutls_privkey_generate2(key, GNUTLS_PK_RSA, bits, 0, NULL, 0),
			       "cannot generate RSA key",
			       error))
		return NULL;
	return g_steal_pointer(&key);
}

static void
scep_csr_generate_key_thread_cb(GTask *task,
				gpointer source_object,
				gpointer task_data,
				GCancellable *cancellable)
{
	GError *error = NULL;
	gnutls_privkey_t key = scep_csr_generate_key(GPOINTER_TO_UINT(task_data), &error);

	if (key == NULL) {
		g_task_return_error(task, error);
		return;
	}
	g_task_return_pointer(task, key, (GDestroyNotify)gnutls_privkey_deinit);
}

void
scep_csr_generate_key_async(guint bits,
			    GCancellable *cancellable,
			    GAsyncReadyCallback callback,
			    gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);

	g_task_set_source_tag(task, scep_csr_generate_key_async);
	g_task_set_task_data(task, GUINT_TO_POINTER(bits), NULL);
	/* the key is dropped if the caller has given up; generation cannot be interrupted */
	g_task_set_return_on_cancel(task, TRUE);
	g_task_run_in_thread(task, scep_csr_generate_key_thread_cb);
}

gnutls_privkey_t
scep_csr_generate_key_finish(GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
	g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == scep_csr_generate_key_async,
			     NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

gnutls_privkey_t
scep_csr_import_key(GBytes *data, GError **error)
{
	g_auto(gnutls_privkey_t) key = NULL;
	gnutls_datum_t datum;
	int rc;

	g_return_val_if_fail(data != NULL, NULL);

	datum = scep_gnutls_datum_from_bytes(data);
	if (!scep_gnutls_check(gnutls_privkey_init(&key), "cannot create private key", error))
		return NULL;
	rc = gnutls_privkey_import_x509_raw(key, &datum, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (rc < 0)
		rc = gnutls_privkey_import_x509_raw(key, &datum, GNUTLS_X509_FMT_DER, NULL, 0);
	if (rc < 0) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "not an unencrypted private key: %s",
			    gnutls_strerror(rc));
		return NULL;
	}
	if (gnutls_privkey_get_pk_algorithm(key, NULL) != GNUTLS_PK_RSA) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_INVALID_ARGUMENT,
				    "only RSA keys can be used for SCEP");
		return NULL;
	}
	return g_steal_pointer(&key);
}

gnutls_privkey_t
scep_csr_load_key(const gchar *path, GError **error)
{
	gchar *contents = NULL;
	gsize len = 0;
	g_autoptr(GBytes) bytes = NULL;
	gnutls_privkey_t key;

	g_return_val_if_fail(path != NULL, NULL);

	if (!g_file_get_contents(path, &contents, &len, error))
		return NULL;
	bytes = g_bytes_new_static(contents, len);
	key = scep_csr_import_key(bytes, error);
	gnutls_memset(contents, 0, len);
	g_free(contents);
	if (key == NULL)
		g_prefix_error(error, "%s: ", path);
	return key;
}

typedef struct {
	gsize len;
	guint8 data[];
} ScepCsrSecretBuffer;

static void
scep_csr_secret_buffer_free(gpointer data)
{
	ScepCsrSecretBuffer *buf = data;
	gnutls_memset(buf->data, 0, buf->len);
	g_free(buf);
}

GBytes *
scep_csr_export_key_pem(gnutls_privkey_t key, GError **error)
{
	g_auto(gnutls_x509_privkey_t) xkey = NULL;
	g_auto(ScepGnutlsDatum) pem = { NULL, 0 };
	ScepCsrSecretBuffer *buf;

	g_return_val_if_fail(key != NULL, NULL);

	if (!scep_gnutls_check(
		gnutls_privkey_export_x509(key, &xkey), "cannot export private key", error))
		return NULL;
	if (!scep_gnutls_check(gnutls_x509_privkey_export2_pkcs8(
				   xkey, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &pem),
			       "cannot encode private key",
			       error))
		return NULL;
	buf = g_malloc(sizeof(ScepCsrSecretBuffer) + pem.size);
	buf->len = pem.size;
	memcpy(buf->data, pem.data, pem.size);
	gnutls_memset(pem.data, 0, pem.size);
	return g_bytes_new_with_free_func(buf->data, buf->len, scep_csr_secret_buffer_free, buf);
}

/* ---- self-signed signer and transaction ID ---- */

static gboolean
scep_csr_key_matches(gnutls_x509_crq_t crq, gnutls_pubkey_t pub)
{
	guint8 a[64];
	guint8 b[64];
	size_t a_len = sizeof(a);
	size_t b_len = sizeof(b);

	if (gnutls_x509_crq_get_key_id(crq, GNUTLS_KEYID_USE_SHA256, a, &a_len) < 0)
		return FALSE;
	if (gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, b, &b_len) < 0)
		return FALSE;
	return a_len == b_len && memcmp(a, b, a_len) == 0;
}

gnutls_x509_crt_t
scep_csr_make_self_signed_signer(gnutls_privkey_t key, GBytes *csr_der, GError **error)
{
	g_auto(gnutls_x509_crq_t) crq = NULL;
	g_auto(gnutls_x509_crt_t) crt = NULL;
	g_auto(gnutls_x509_crt_t) fresh = NULL;
	g_auto(gnutls_pubkey_t) pub = NULL;
	g_auto(gnutls_privkey_t) fast_signer = NULL;
	g_auto(ScepGnutlsDatum) dn = { NULL, 0 };
	g_auto(ScepGnutlsDatum) der = { NULL, 0 };
	gnutls_privkey_t signer;
	gnutls_datum_t csr;
	guint8 serial[16];
	time_t now = time(NULL);
	int rc;

	g_return_val_if_fail(key != NULL, NULL);
	g_return_val_if_fail(csr_der != NULL, NULL);

	csr = scep_gnutls_datum_from_bytes(csr_der);
	if (!scep_gnutls_check(gnutls_x509_crq_init(&crq), "cannot create request", error))
		return NULL;
	rc = gnutls_x509_crq_import(crq, &csr, GNUTLS_X509_FMT_DER);
	if (rc < 0) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "not a DER certificate request: %s",
			    gnutls_strerror(rc));
		return NULL;
	}
	if (!scep_gnutls_check(gnutls_pubkey_init(&pub), "cannot create public key", error))
		return NULL;
	if (!scep_gnutls_check(
		gnutls_pubkey_import_privkey(pub, key, 0, 0), "cannot read the public key", error))
		return NULL;
	if (!scep_csr_key_matches(crq, pub)) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_INVALID_ARGUMENT,
				    "the request is not for this key");
		return NULL;
	}
	if (!scep_gnutls_check(gnutls_x509_crt_init(&crt), "cannot create certificate", error))
		return NULL;
	/* subject and public key from the request (also checks its signature) */
	if (!scep_gnutls_check(
		gnutls_x509_crt_set_crq(crt, crq), "cannot take the subject of the request", error))
		return NULL;
	rc = gnutls_x509_crq_get_dn3(crq, &dn, 0);
	if (rc < 0 || dn.size == 0) {
		if (!scep_gnutls_check(
			gnutls_x509_crt_set_dn(crt, "CN=" SCEP_CSR_SELF_SIGNED_CN, NULL),
			"cannot set the subject",
			error))
			return NULL;
	}
	if (!scep_gnutls_check(gnutls_x509_crt_set_version(crt, 3), "cannot set version", error))
		return NULL;
	if (!scep_gnutls_check(gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial)),
			       "cannot make a serial number",
			       error))
		return NULL;
	serial[0] = (serial[0] & 0x7f) | 0x40; /* positive, 16 significant octets */
	if (!scep_gnutls_check(gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)),
			       "cannot set serial number",
			       error))
		return NULL;
	if (!scep_gnutls_check(gnutls_x509_crt_set_activation_time(crt, now - 10 * 60),
			       "cannot set validity",
			       error))
		return NULL;
	if (!scep_gnutls_check(gnutls_x509_crt_set_expiration_time(crt, now + 7 * 24 * 3600),
			       "cannot set validity",
			       error))
		return NULL;
	if (!scep_gnutls_check(gnutls_x509_crt_set_key_usage(
				   crt, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT),
			       "cannot set key usage",
			       error))
		return NULL;
	/* as in scep_csr_build(): GnuTLS's encoding, our RSA signature when we can */
	fast_signer = scep_rsa_privkey_new_signer(key);
	signer = fast_signer != NULL ? fast_signer : key;
	if (!scep_gnutls_check(gnutls_x509_crt_privkey_sign(crt, crt, signer, GNUTLS_DIG_SHA256, 0),
			       "cannot sign the signer certificate",
			       error))
		return NULL;
	/* a freshly signed handle misbehaves as a trust anchor: hand out a re-imported one */
	if (!scep_gnutls_check(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der),
			       "cannot export the signer certificate",
			       error))
		return NULL;
	if (!scep_gnutls_check(gnutls_x509_crt_init(&fresh), "cannot create certificate", error))
		return NULL;
	if (!scep_gnutls_check(gnutls_x509_crt_import(fresh, &der, GNUTLS_X509_FMT_DER),
			       "cannot re-import the signer certificate",
			       error))
		return NULL;
	return g_steal_pointer(&fresh);
}

gchar *
scep_csr_transaction_id(gnutls_pubkey_t key)
{
	g_auto(ScepGnutlsDatum) spki = { NULL, 0 };
	guint8 hash[32];
	GString *hex;

	g_return_val_if_fail(key != NULL, NULL);

	if (gnutls_pubkey_export2(key, GNUTLS_X509_FMT_DER, &spki) < 0)
		return NULL;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, spki.data, spki.size, hash) < 0)
		return NULL;
	hex = g_string_sized_new(64);
	for (guint i = 0; i < sizeof(hash); i++)
		g_string_append_printf(hex, "%02X", hash[i]);
	return g_string_free(hex, FALSE);
}
