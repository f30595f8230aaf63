#include "config.h"

#include "scep-asn1.h"

#include <stdlib.h>
#include <string.h>

#include "scep-ndes-error.h"

/* the table asn1Parser generates from scep-cms.asn; it includes config.h when asked */
#define HAVE_CONFIG_H 1
#include "scep-cms-asn1.h"

#define SCEP_ASN1_MODULE "SCEPCMS."

void
scep_asn1_node_free(asn1_node node)
{
	asn1_delete_structure(&node);
}

static gpointer
scep_asn1_definitions_init_cb(gpointer data)
{
	asn1_node definitions = NULL;
	gchar detail[ASN1_MAX_ERROR_DESCRIPTION_SIZE] = { 0 };
	int rc = asn1_array2tree(scep_cms_asn1_tab, &definitions, detail);
	if (rc != ASN1_SUCCESS) {
		/* a broken built-in module is a packaging bug; every caller reports it */
		g_warning("cannot load the cms asn.1 module: %s %s", asn1_strerror(rc), detail);
		return NULL;
	}
	return definitions;
}

/**
 * scep_asn1_get_definitions:
 *
 * Returns: (transfer none) (nullable): the parsed SCEPCMS module, created once and
 * shared by every thread; %NULL only if the built-in module is broken
 */
asn1_node
scep_asn1_get_definitions(void)
{
	static GOnce once = G_ONCE_INIT;
	g_once(&once, scep_asn1_definitions_init_cb, NULL);
	return once.retval;
}

/**
 * scep_asn1_check:
 * @rc: a libtasn1 return code
 * @code: the #ScepNdesError code to use on failure
 * @what: what was being done
 * @detail: (nullable): libtasn1's error description buffer, if any
 * @error: return location
 *
 * Returns: %TRUE for %ASN1_SUCCESS, otherwise sets @error
 */
gboolean
scep_asn1_check(int rc, gint code, const gchar *what, const gchar *detail, GError **error)
{
	if (rc == ASN1_SUCCESS)
		return TRUE;
	if (detail != NULL && detail[0] != '\0') {
		g_set_error(
		    error, SCEP_NDES_ERROR, code, "%s: %s (%s)", what, asn1_strerror(rc), detail);
		return FALSE;
	}
	g_set_error(error, SCEP_NDES_ERROR, code, "%s: %s", what, asn1_strerror(rc));
	return FALSE;
}

asn1_node
scep_asn1_create(const gchar *type, GError **error)
{
	asn1_node definitions = scep_asn1_get_definitions();
	g_auto(asn1_node) node = NULL;
	g_autofree gchar *name = g_strconcat(SCEP_ASN1_MODULE, type, NULL);

	if (definitions == NULL) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_CRYPTO,
				    "the built-in cms asn.1 module cannot be loaded");
		return NULL;
	}
	if (!scep_asn1_check(asn1_create_element(definitions, name, &node),
			     SCEP_NDES_ERROR_CRYPTO,
			     type,
			     NULL,
			     error))
		return NULL;
	return g_steal_pointer(&node);
}

/**
 * scep_asn1_decode:
 * @type: a type of the SCEPCMS module, e.g. "ContentInfo"
 *
 * Decodes BER or DER. Trailing bytes after the value are an error.
 * Errors are %SCEP_NDES_ERROR_BAD_RESPONSE.
 */
asn1_node
scep_asn1_decode(const gchar *type, const guint8 *data, gsize len, GError **error)
{
	g_auto(asn1_node) node = NULL;
	gchar detail[ASN1_MAX_ERROR_DESCRIPTION_SIZE] = { 0 };
	int consumed;
	int rc;
	g_autofree gchar *what = NULL;

	if (len == 0 || len > G_MAXINT / 2) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "cannot decode %s: %s",
			    type,
			    len == 0 ? "no data" : "too large");
		return NULL;
	}
	node = scep_asn1_create(type, error);
	if (node == NULL)
		return NULL;
	consumed = (int)len;
	rc = asn1_der_decoding2(&node, data, &consumed, 0, detail);
	what = g_strdup_printf("cannot decode %s", type);
	if (!scep_asn1_check(rc, SCEP_NDES_ERROR_BAD_RESPONSE, what, detail, error))
		return NULL;
	if ((gsize)consumed != len) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "cannot decode %s: %" G_GSIZE_FORMAT " trailing bytes",
			    type,
			    len - (gsize)consumed);
		return NULL;
	}
	return g_steal_pointer(&node);
}

asn1_node
scep_asn1_decode_bytes(const gchar *type, GBytes *bytes, GError **error)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(bytes, &len);
	return scep_asn1_decode(type, data, len, error);
}

/* DER encoding of a whole structure; errors are %SCEP_NDES_ERROR_CRYPTO */
GBytes *
scep_asn1_encode(asn1_node node, const gchar *what, GError **error)
{
	gchar detail[ASN1_MAX_ERROR_DESCRIPTION_SIZE] = { 0 };
	int len = 0;
	int rc = asn1_der_coding(node, "", NULL, &len, detail);
	g_autofree guint8 *buf = NULL;
	g_autofree gchar *message = g_strdup_printf("cannot encode %s", what);

	if (rc != ASN1_MEM_ERROR) {
		if (rc == ASN1_SUCCESS)
			rc = ASN1_GENERIC_ERROR;
		scep_asn1_check(rc, SCEP_NDES_ERROR_CRYPTO, message, detail, error);
		return NULL;
	}
	buf = g_malloc(len);
	if (!scep_asn1_check(asn1_der_coding(node, "", buf, &len, detail),
			     SCEP_NDES_ERROR_CRYPTO,
			     message,
			     detail,
			     error))
		return NULL;
	return g_bytes_new_take(g_steal_pointer(&buf), len);
}

static GBytes *
scep_asn1_read_internal(asn1_node node, const gchar *name, gboolean optional, GError **error)
{
	int len = 0;
	int rc = asn1_read_value(node, name, NULL, &len);
	g_autofree guint8 *buf = NULL;
	g_autofree gchar *what = NULL;

	if (optional && (rc == ASN1_ELEMENT_NOT_FOUND || rc == ASN1_VALUE_NOT_FOUND))
		return NULL;
	if (rc == ASN1_SUCCESS && len == 0)
		return g_bytes_new(NULL, 0);
	what = g_strdup_printf("cannot read %s", name);
	if (rc != ASN1_MEM_ERROR) {
		if (rc == ASN1_SUCCESS)
			rc = ASN1_GENERIC_ERROR;
		scep_asn1_check(rc, SCEP_NDES_ERROR_BAD_RESPONSE, what, NULL, error);
		return NULL;
	}
	buf = g_malloc(len);
	if (!scep_asn1_check(asn1_read_value(node, name, buf, &len),
			     SCEP_NDES_ERROR_BAD_RESPONSE,
			     what,
			     NULL,
			     error))
		return NULL;
	return g_bytes_new_take(g_steal_pointer(&buf), len);
}

/**
 * scep_asn1_read_bytes:
 *
 * Reads the value of @name: the content octets for INTEGER and OCTET STRING (the
 * chunks of a constructed BER string joined), the whole TLV for ANY. A missing
 * element is an error (%SCEP_NDES_ERROR_BAD_RESPONSE).
 */
GBytes *
scep_asn1_read_bytes(asn1_node node, const gchar *name, GError **error)
{
	return scep_asn1_read_internal(node, name, FALSE, error);
}

/* like scep_asn1_read_bytes(), but returns %NULL without error when @name is absent */
GBytes *
scep_asn1_read_optional(asn1_node node, const gchar *name, GError **error)
{
	return scep_asn1_read_internal(node, name, TRUE, error);
}

static gchar *
scep_asn1_bytes_to_string(GBytes *bytes)
{
	gsize len = 0;
	const gchar *data = g_bytes_get_data(bytes, &len);
	/* libtasn1 counts the terminating NUL for OIDs and CHOICE names */
	while (len > 0 && data[len - 1] == '\0')
		len--;
	return g_strndup(data, len);
}

gchar *
scep_asn1_read_oid(asn1_node node, const gchar *name, GError **error)
{
	g_autoptr(GBytes) bytes = scep_asn1_read_bytes(node, name, error);
	if (bytes == NULL)
		return NULL;
	return scep_asn1_bytes_to_string(bytes);
}

/* the name of the alternative a CHOICE holds */
gchar *
scep_asn1_read_choice(asn1_node node, const gchar *name, GError **error)
{
	return scep_asn1_read_oid(node, name, error);
}

/* a small non-negative INTEGER such as a version */
gboolean
scep_asn1_read_uint(asn1_node node, const gchar *name, guint *value, GError **error)
{
	g_autoptr(GBytes) bytes = scep_asn1_read_bytes(node, name, error);
	const guint8 *data;
	gsize len = 0;
	guint result = 0;

	if (bytes == NULL)
		return FALSE;
	data = g_bytes_get_data(bytes, &len);
	if (len == 0 || len > 4 || (data[0] & 0x80) != 0) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "%s is not a small non-negative integer",
			    name);
		return FALSE;
	}
	for (gsize i = 0; i < len; i++)
		result = (result << 8) | data[i];
	*value = result;
	return TRUE;
}

/* number of members of a SET OF / SEQUENCE OF; an absent OPTIONAL one counts 0 */
gboolean
scep_asn1_count(asn1_node node, const gchar *name, guint *count, GError **error)
{
	int n = 0;
	int rc = asn1_number_of_elements(node, name, &n);
	g_autofree gchar *what = NULL;

	if (rc == ASN1_ELEMENT_NOT_FOUND) {
		*count = 0;
		return TRUE;
	}
	what = g_strdup_printf("cannot count %s", name);
	if (!scep_asn1_check(rc, SCEP_NDES_ERROR_BAD_RESPONSE, what, NULL, error))
		return FALSE;
	*count = (guint)n;
	return TRUE;
}

/* errors are %SCEP_NDES_ERROR_CRYPTO: writing only fails on our own mistakes */
gboolean
scep_asn1_write(asn1_node node, const gchar *name, const void *value, gsize len, GError **error)
{
	g_autofree gchar *what = g_strdup_printf("cannot write %s", name);
	if (len > G_MAXINT / 2) {
		g_set_error(error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_CRYPTO, "%s: too large", what);
		return FALSE;
	}
	return scep_asn1_check(asn1_write_value(node, name, value, (int)len),
			       SCEP_NDES_ERROR_CRYPTO,
			       what,
			       NULL,
			       error);
}

gboolean
scep_asn1_write_bytes(asn1_node node, const gchar *name, GBytes *value, GError **error)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(value, &len);
	/* libtasn1 takes a zero length as "NUL-terminated string" */
	if (len == 0)
		return scep_asn1_write(node, name, "", 0, error);
	return scep_asn1_write(node, name, data, len, error);
}

/**
 * scep_asn1_unwrap_octet_string:
 * @tlv: an OCTET STRING TLV, DER or BER (constructed, indefinite length)
 *
 * Returns: the content octets
 */
GBytes *
scep_asn1_unwrap_octet_string(GBytes *tlv, GError **error)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(tlv, &len);
	unsigned char *str = NULL;
	unsigned int str_len = 0;
	unsigned int ber_len = 0;
	int rc;
	GBytes *result;

	if (len == 0 || len > G_MAXINT / 2) {
		g_set_error_literal(
		    error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE, "not an OCTET STRING");
		return NULL;
	}
	/* libtasn1 refuses an empty string, which servers send as an empty content */
	if ((len == 2 && (data[0] == 0x04 || data[0] == 0x24) && data[1] == 0x00) ||
	    (len == 4 && data[0] == 0x24 && data[1] == 0x80 && data[2] == 0x00 && data[3] == 0x00))
		return g_bytes_new(NULL, 0);
	rc = asn1_decode_simple_ber(
	    ASN1_ETYPE_OCTET_STRING, data, (unsigned int)len, &str, &str_len, &ber_len);
	if (!scep_asn1_check(
		rc, SCEP_NDES_ERROR_BAD_RESPONSE, "cannot decode OCTET STRING", NULL, error)) {
		free(str);
		return NULL;
	}
	if (ber_len != len) {
		free(str);
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "trailing bytes after OCTET STRING");
		return NULL;
	}
	result = g_bytes_new(str, str_len);
	free(str);
	return result;
}

static GBytes *
scep_asn1_encode_simple(guint etype, const guint8 *data, gsize len)
{
	guint8 tl[ASN1_MAX_TL_SIZE];
	unsigned int tl_len = sizeof(tl);
	GByteArray *out;

	g_return_val_if_fail(len < G_MAXINT / 2, NULL);
	if (asn1_encode_simple_der(etype, data, (unsigned int)len, tl, &tl_len) != ASN1_SUCCESS)
		return NULL;
	out = g_byte_array_sized_new(tl_len + len);
	g_byte_array_append(out, tl, tl_len);
	if (len > 0)
		g_byte_array_append(out, data, len);
	return g_byte_array_free_to_bytes(out);
}

GBytes *
scep_asn1_encode_octet_string(const guint8 *data, gsize len)
{
	return scep_asn1_encode_simple(ASN1_ETYPE_OCTET_STRING, data, len);
}

/* DER of a string type (ASN1_ETYPE_PRINTABLE_STRING, ASN1_ETYPE_UTF8_STRING, ...) */
GBytes *
scep_asn1_encode_string(guint etype, const gchar *text)
{
	return scep_asn1_encode_simple(etype, (const guint8 *)text, strlen(text));
}

/**
 * scep_asn1_decode_string:
 * @tlv: a PrintableString, UTF8String or IA5String TLV
 *
 * Returns: the text, valid UTF-8 without NUL bytes
 */
gchar *
scep_asn1_decode_string(GBytes *tlv, GError **error)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(tlv, &len);
	const unsigned char *str = NULL;
	unsigned int str_len = 0;
	guint etype;

	if (len < 2 || len > G_MAXINT / 2) {
		g_set_error_literal(
		    error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE, "not a string value");
		return NULL;
	}
	switch (data[0]) {
	case 0x13:
		etype = ASN1_ETYPE_PRINTABLE_STRING;
		break;
	case 0x0c:
		etype = ASN1_ETYPE_UTF8_STRING;
		break;
	case 0x16:
		etype = ASN1_ETYPE_IA5_STRING;
		break;
	default:
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "string value has unexpected tag 0x%02x",
			    data[0]);
		return NULL;
	}
	if (asn1_decode_simple_der(etype, data, (unsigned int)len, &str, &str_len) !=
		ASN1_SUCCESS ||
	    (gsize)(str - data) + str_len != len) {
		g_set_error_literal(
		    error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE, "malformed string value");
		return NULL;
	}
	if (memchr(str, '\0', str_len) != NULL ||
	    !g_utf8_validate((const gchar *)str, str_len, NULL)) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "string value is not valid text");
		return NULL;
	}
	return g_strndup((const gchar *)str, str_len);
}

/* the dotted form of an OBJECT IDENTIFIER TLV */
gchar *
scep_asn1_decode_oid(GBytes *tlv, GError **error)
{
	g_auto(asn1_node) node = scep_asn1_decode_bytes("ObjectIdentifierValue", tlv, error);
	if (node == NULL)
		return NULL;
	return scep_asn1_read_oid(node, "", error);
}

/* INTEGER contents compared as numbers: leading zero octets do not count */
gboolean
scep_asn1_serial_equal(const guint8 *a, gsize a_len, const guint8 *b, gsize b_len)
{
	while (a_len > 1 && a[0] == 0) {
		a++;
		a_len--;
	}
	while (b_len > 1 && b[0] == 0) {
		b++;
		b_len--;
	}
	return a_len == b_len && memcmp(a, b, a_len) == 0;
}
