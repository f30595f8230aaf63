#include "config.h"

#include "scep-signed-data.h"

#include <string.h>

#include "scep-asn1.h"
#include "scep-gnutls-common.h"
#include "scep-ndes-error.h"

/*
 * Our own CMS SignedData reader and signature verifier (RFC 5652 5). GnuTLS cannot
 * verify a SignedData whose content is empty (every FAILURE and PENDING CertRep), and
 * does not check that the certificate it is given is the one the SignerInfo names;
 * this verifier does both, for BER as well as DER input.
 */

struct _ScepSignedData {
	GBytes *sd_der;           /* owned: the SignedData the offsets refer to */
	asn1_node sd;             /* owned */
	gchar *content_type;      /* owned */
	GBytes *content;          /* owned, nullable: absent */
	GPtrArray *certificates;  /* owned: GBytes */
	GPtrArray *crls;          /* owned: GBytes */
	guint n_signers;          /* in signerInfos */
	gchar *digest_oid;        /* owned, nullable: of the first signer */
	gchar *signature_oid;     /* owned, nullable */
	GBytes *signature;        /* owned, nullable */
	GBytes *signed_attrs_der; /* owned, nullable: re-tagged as SET OF for hashing */
	GHashTable *attributes;   /* owned: OID → GBytes (first value's TLV) */
	GBytes *sid_issuer;       /* owned, nullable */
	GBytes *sid_serial;       /* owned, nullable */
	GBytes *sid_ski;          /* owned, nullable */
	gnutls_x509_crt_t signer; /* borrowed from the candidates, after verification */
};

void
scep_signed_data_free(ScepSignedData *self)
{
	if (self == NULL)
		return;
	g_clear_pointer(&self->sd_der, g_bytes_unref);
	scep_asn1_node_free(self->sd);
	g_free(self->content_type);
	g_clear_pointer(&self->content, g_bytes_unref);
	g_clear_pointer(&self->certificates, g_ptr_array_unref);
	g_clear_pointer(&self->crls, g_ptr_array_unref);
	g_free(self->digest_oid);
	g_free(self->signature_oid);
	g_clear_pointer(&self->signature, g_bytes_unref);
	g_clear_pointer(&self->signed_attrs_der, g_bytes_unref);
	g_clear_pointer(&self->attributes, g_hash_table_unref);
	g_clear_pointer(&self->sid_issuer, g_bytes_unref);
	g_clear_pointer(&self->sid_serial, g_bytes_unref);
	g_clear_pointer(&self->sid_ski, g_bytes_unref);
	g_free(self);
}

static gboolean
scep_signed_data_read_set(asn1_node node, const gchar *name, GPtrArray *out, GError **error)
{
	guint n = 0;
	if (!scep_asn1_count(node, name, &n, error))
		return FALSE;
	for (guint i = 1; i <= n; i++) {
		g_autofree gchar *path = g_strdup_printf("%s.?%u", name, i);
		GBytes *value = scep_asn1_read_bytes(node, path, error);
		if (value == NULL)
			return FALSE;
		g_ptr_array_add(out, value);
	}
	return TRUE;
}

static gboolean
scep_signed_data_parse_attributes(ScepSignedData *self, GError **error)
{
	const gchar *name = "signerInfos.?1.signedAttrs";
	gsize len = 0;
	const guint8 *der = g_bytes_get_data(self->sd_der, &len);
	int start = 0;
	int end = 0;
	int rc;
	guint n = 0;
	guint8 *copy;

	rc = asn1_der_decoding_startEnd(self->sd, der, (int)len, name, &start, &end);
	if (rc == ASN1_ELEMENT_NOT_FOUND)
		return TRUE;
	if (!scep_asn1_check(rc, SCEP_NDES_ERROR_BAD_RESPONSE, "signed attributes", NULL, error))
		return FALSE;
	if (start < 0 || end < start || (gsize)end >= len || der[start] != 0xa0) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "signed attributes are not encoded as [0] IMPLICIT SET");
		return FALSE;
	}
	/* the signature covers the DER of SET OF Attribute: same bytes, universal tag */
	copy = g_memdup2(der + start, (gsize)(end - start + 1));
	copy[0] = 0x31;
	self->signed_attrs_der = g_bytes_new_take(copy, (gsize)(end - start + 1));

	if (!scep_asn1_count(self->sd, name, &n, error))
		return FALSE;
	for (guint i = 1; i <= n; i++) {
		g_autofree gchar *type_path = g_strdup_printf("%s.?%u.type", name, i);
		g_autofree gchar *values_path = g_strdup_printf("%s.?%u.values", name, i);
		g_autofree gchar *value_path = g_strdup_printf("%s.?%u.values.?1", name, i);
		g_autofree gchar *oid = scep_asn1_read_oid(self->sd, type_path, error);
		g_autoptr(GBytes) value = NULL;
		guint n_values = 0;

		if (oid == NULL)
			return FALSE;
		if (!scep_asn1_count(self->sd, values_path, &n_values, error))
			return FALSE;
		if (n_values == 0 ||
		    (n_values > 1 && (g_strcmp0(oid, SCEP_OID_ATTR_CONTENT_TYPE) == 0 ||
				      g_strcmp0(oid, SCEP_OID_ATTR_MESSAGE_DIGEST) == 0))) {
			g_set_error(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "signed attribute %s has %u values",
				    oid,
				    n_values);
			return FALSE;
		}
		if (g_hash_table_contains(self->attributes, oid)) {
			g_set_error(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "signed attribute %s appears twice",
				    oid);
			return FALSE;
		}
		value = scep_asn1_read_bytes(self->sd, value_path, error);
		if (value == NULL)
			return FALSE;
		g_hash_table_insert(
		    self->attributes, g_steal_pointer(&oid), g_steal_pointer(&value));
	}
	return TRUE;
}

static gboolean
scep_signed_data_parse_signer(ScepSignedData *self, GError **error)
{
	g_autofree gchar *sid = NULL;

	self->digest_oid =
	    scep_asn1_read_oid(self->sd, "signerInfos.?1.digestAlgorithm.algorithm", error);
	if (self->digest_oid == NULL)
		return FALSE;
	self->signature_oid =
	    scep_asn1_read_oid(self->sd, "signerInfos.?1.signatureAlgorithm.algorithm", error);
	if (self->signature_oid == NULL)
		return FALSE;
	self->signature = scep_asn1_read_bytes(self->sd, "signerInfos.?1.signature", error);
	if (self->signature == NULL)
		return FALSE;
	sid = scep_asn1_read_choice(self->sd, "signerInfos.?1.sid", error);
	if (sid == NULL)
		return FALSE;
	if (g_strcmp0(sid, "issuerAndSerialNumber") == 0) {
		self->sid_issuer = scep_asn1_read_bytes(
		    self->sd, "signerInfos.?1.sid.issuerAndSerialNumber.issuer", error);
		if (self->sid_issuer == NULL)
			return FALSE;
		self->sid_serial = scep_asn1_read_bytes(
		    self->sd, "signerInfos.?1.sid.issuerAndSerialNumber.serialNumber", error);
		if (self->sid_serial == NULL)
			return FALSE;
	} else {
		self->sid_ski = scep_asn1_read_bytes(
		    self->sd, "signerInfos.?1.sid.subjectKeyIdentifier", error);
		if (self->sid_ski == NULL)
			return FALSE;
	}
	return scep_signed_data_parse_attributes(self, error);
}

/**
 * scep_signed_data_new_from_bytes:
 * @content_info: DER or BER of a ContentInfo holding a SignedData
 * @error: return location
 *
 * Parses without verifying. A SignedData without signers (certs-only) is fine.
 *
 * Returns: (transfer full): the parsed SignedData, or %NULL with
 * %SCEP_NDES_ERROR_BAD_RESPONSE
 */
ScepSignedData *
scep_signed_data_new_from_bytes(GBytes *content_info, GError **error)
{
	g_autoptr(ScepSignedData) self = g_new0(ScepSignedData, 1);
	g_auto(asn1_node) ci = NULL;
	g_autofree gchar *content_type = NULL;
	g_autoptr(GBytes) econtent = NULL;

	self->certificates = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	self->crls = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	self->attributes =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_bytes_unref);

	ci = scep_asn1_decode_bytes("ContentInfo", content_info, error);
	if (ci == NULL)
		return NULL;
	content_type = scep_asn1_read_oid(ci, "contentType", error);
	if (content_type == NULL)
		return NULL;
	if (g_strcmp0(content_type, SCEP_OID_SIGNED_DATA) != 0) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "content type %s is not signedData",
			    content_type);
		return NULL;
	}
	self->sd_der = scep_asn1_read_bytes(ci, "content", error);
	if (self->sd_der == NULL)
		return NULL;
	self->sd = scep_asn1_decode_bytes("SignedData", self->sd_der, error);
	if (self->sd == NULL)
		return NULL;

	self->content_type = scep_asn1_read_oid(self->sd, "encapContentInfo.eContentType", error);
	if (self->content_type == NULL)
		return NULL;
	econtent = scep_asn1_read_optional(self->sd, "encapContentInfo.eContent", error);
	if (econtent != NULL) {
		self->content = scep_asn1_unwrap_octet_string(econtent, error);
		if (self->content == NULL) {
			g_prefix_error(error, "eContent: ");
			return NULL;
		}
	}
	if (!scep_signed_data_read_set(self->sd, "certificates", self->certificates, error) ||
	    !scep_signed_data_read_set(self->sd, "crls", self->crls, error))
		return NULL;
	if (!scep_asn1_count(self->sd, "signerInfos", &self->n_signers, error))
		return NULL;
	if (self->n_signers > 0 && !scep_signed_data_parse_signer(self, error))
		return NULL;
	return g_steal_pointer(&self);
}

/* a private alias, so that this cleanup cannot clash with a shared one */
typedef gnutls_x509_dn_t ScepSignedDataDn;
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(ScepSignedDataDn, gnutls_x509_dn_deinit, NULL)

static gchar *
scep_signed_data_dn_to_string(const guint8 *data, gsize len)
{
	g_auto(ScepSignedDataDn) dn = NULL;
	g_auto(ScepGnutlsDatum) str = { NULL, 0 };
	gnutls_datum_t raw = { (unsigned char *)data, (unsigned int)len };

	if (gnutls_x509_dn_init(&dn) < 0 || gnutls_x509_dn_import(dn, &raw) < 0 ||
	    gnutls_x509_dn_get_str2(dn, &str, 0) < 0)
		return g_strdup("(unreadable name)");
	return g_strndup((const gchar *)str.data, str.size);
}

/**
 * scep_signed_data_dup_signer_id:
 *
 * Returns: (transfer full): how the SignerInfo names its signer, for messages
 */
gchar *
scep_signed_data_dup_signer_id(ScepSignedData *self)
{
	if (self->sid_issuer != NULL) {
		gsize len = 0;
		const guint8 *data = g_bytes_get_data(self->sid_issuer, &len);
		g_autofree gchar *issuer = scep_signed_data_dn_to_string(data, len);
		const guint8 *serial = g_bytes_get_data(self->sid_serial, &len);
		GString *str = g_string_new(NULL);

		g_string_append_printf(str, "issuer '%s' serial ", issuer);
		for (gsize i = 0; i < len; i++)
			g_string_append_printf(str, "%02x", serial[i]);
		return g_string_free(str, FALSE);
	}
	if (self->sid_ski != NULL) {
		gsize len = 0;
		const guint8 *ski = g_bytes_get_data(self->sid_ski, &len);
		GString *str = g_string_new("subject key identifier ");
		for (gsize i = 0; i < len; i++)
			g_string_append_printf(str, "%02x", ski[i]);
		return g_string_free(str, FALSE);
	}
	return g_strdup("(no signer)");
}

static gboolean
scep_signed_data_names(ScepSignedData *self, gnutls_x509_crt_t cert)
{
	gsize len = 0;
	const guint8 *data;

	if (self->sid_issuer != NULL) {
		g_auto(ScepGnutlsDatum) issuer = { NULL, 0 };
		guint8 serial[64];
		size_t serial_size = sizeof(serial);

		if (gnutls_x509_crt_get_raw_issuer_dn(cert, &issuer) < 0 ||
		    gnutls_x509_crt_get_serial(cert, serial, &serial_size) < 0)
			return FALSE;
		data = g_bytes_get_data(self->sid_issuer, &len);
		if (len != issuer.size || memcmp(data, issuer.data, len) != 0)
			return FALSE;
		data = g_bytes_get_data(self->sid_serial, &len);
		return scep_asn1_serial_equal(data, len, serial, serial_size);
	}
	if (self->sid_ski != NULL) {
		guint8 ski[64];
		size_t ski_size = sizeof(ski);
		unsigned int critical = 0;

		if (gnutls_x509_crt_get_subject_key_id(cert, ski, &ski_size, &critical) < 0)
			return FALSE;
		data = g_bytes_get_data(self->sid_ski, &len);
		return len == ski_size && memcmp(data, ski, len) == 0;
	}
	return FALSE;
}

static gchar *
scep_signed_data_describe_candidates(gnutls_x509_crt_t *candidates, guint n_candidates)
{
	GString *str = g_string_new(NULL);
	for (guint i = 0; i < n_candidates; i++) {
		g_auto(ScepGnutlsDatum) dn = { NULL, 0 };
		if (str->len > 0)
			g_string_append(str, ", ");
		if (gnutls_x509_crt_get_dn3(candidates[i], &dn, 0) >= 0)
			g_string_append_printf(str, "'%.*s'", (int)dn.size, (const gchar *)dn.data);
		else
			g_string_append(str, "(unreadable name)");
	}
	if (n_candidates == 0)
		g_string_append(str, "none given");
	return g_string_free(str, FALSE);
}

static gboolean
scep_signed_data_check_attributes(ScepSignedData *self,
				  gnutls_digest_algorithm_t digest,
				  GError **error)
{
	GBytes *content_type = g_hash_table_lookup(self->attributes, SCEP_OID_ATTR_CONTENT_TYPE);
	GBytes *message_digest =
	    g_hash_table_lookup(self->attributes, SCEP_OID_ATTR_MESSAGE_DIGEST);
	g_autofree gchar *content_type_oid = NULL;
	g_autoptr(GBytes) expected = NULL;
	guint8 hash[64];
	gsize content_len = 0;
	const guint8 *content = NULL;

	if (content_type == NULL || message_digest == NULL) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "signed attributes lack contentType or messageDigest");
		return FALSE;
	}
	content_type_oid = scep_asn1_decode_oid(content_type, error);
	if (content_type_oid == NULL)
		return FALSE;
	if (g_strcmp0(content_type_oid, self->content_type) != 0) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "contentType attribute %s differs from the content type %s",
			    content_type_oid,
			    self->content_type);
		return FALSE;
	}
	expected = scep_asn1_unwrap_octet_string(message_digest, error);
	if (expected == NULL)
		return FALSE;
	if (self->content != NULL)
		content = g_bytes_get_data(self->content, &content_len);
	if (!scep_gnutls_check(
		gnutls_hash_fast(
		    digest, content != NULL ? content : (guint8 *)"", content_len, hash),
		"content digest",
		error))
		return FALSE;
	if (g_bytes_get_size(expected) != gnutls_hash_get_len(digest) ||
	    memcmp(g_bytes_get_data(expected, NULL), hash, gnutls_hash_get_len(digest)) != 0) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "messageDigest does not match the content");
		return FALSE;
	}
	return TRUE;
}

/**
 * scep_signed_data_verify:
 * @self: a parsed SignedData with one signer
 * @candidates: (array length=n_candidates): the only certificates that may have signed;
 *   certificates embedded in the SignedData are not trusted by themselves
 * @n_candidates: their number
 * @error: return location
 *
 * Finds the signer among @candidates by the SignerInfo's issuer and serial number (or
 * subject key identifier), checks contentType and messageDigest, and verifies the
 * signature. SHA-1 and MD5 are accepted, as old servers use them.
 *
 * Returns: %TRUE if a candidate signed it; %SCEP_NDES_ERROR_BAD_RESPONSE otherwise
 */
gboolean
scep_signed_data_verify(ScepSignedData *self,
			gnutls_x509_crt_t *candidates,
			guint n_candidates,
			GError **error)
{
	gnutls_x509_crt_t signer = NULL;
	gnutls_digest_algorithm_t digest;
	gnutls_sign_algorithm_t sign;
	g_auto(gnutls_pubkey_t) pubkey = NULL;
	gnutls_datum_t data = { (unsigned char *)"", 0 };
	gnutls_datum_t signature;
	int rc;

	self->signer = NULL;
	if (self->n_signers != 1) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "the SignedData has %u signers, expected one",
			    self->n_signers);
		return FALSE;
	}
	for (guint i = 0; i < n_candidates && signer == NULL; i++) {
		if (scep_signed_data_names(self, candidates[i]))
			signer = candidates[i];
	}
	if (signer == NULL) {
		g_autofree gchar *found = scep_signed_data_dup_signer_id(self);
		g_autofree gchar *expected =
		    scep_signed_data_describe_candidates(candidates, n_candidates);
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "signed by an unknown signer (%s); expected one of: %s",
			    found,
			    expected);
		return FALSE;
	}

	digest = gnutls_oid_to_digest(self->digest_oid);
	if (digest == GNUTLS_DIG_UNKNOWN) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_UNSUPPORTED,
			    "digest algorithm %s is not supported",
			    self->digest_oid);
		return FALSE;
	}
	sign = gnutls_oid_to_sign(self->signature_oid);
	if (sign == GNUTLS_SIGN_UNKNOWN) {
		/* the "legacy" form: rsaEncryption plus the digest algorithm */
		gnutls_pk_algorithm_t pk = gnutls_oid_to_pk(self->signature_oid);
		if (pk != GNUTLS_PK_UNKNOWN)
			sign = gnutls_pk_to_sign(pk, digest);
	}
	if (sign == GNUTLS_SIGN_UNKNOWN) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_UNSUPPORTED,
			    "signature algorithm %s is not supported",
			    self->signature_oid);
		return FALSE;
	}

	if (self->signed_attrs_der != NULL) {
		if (!scep_signed_data_check_attributes(self, digest, error))
			return FALSE;
		data = scep_gnutls_datum_from_bytes(self->signed_attrs_der);
	} else if (self->content != NULL) {
		data = scep_gnutls_datum_from_bytes(self->content);
	}

	if (!scep_gnutls_check(gnutls_pubkey_init(&pubkey), "pubkey init", error))
		return FALSE;
	if (!scep_gnutls_check(
		gnutls_pubkey_import_x509(pubkey, signer, 0), "signer certificate", error))
		return FALSE;
	signature = scep_gnutls_datum_from_bytes(self->signature);
	rc =
	    gnutls_pubkey_verify_data2(pubkey, sign, GNUTLS_VERIFY_ALLOW_BROKEN, &data, &signature);
	if (rc < 0) {
		g_autofree gchar *expected = scep_signed_data_describe_candidates(&signer, 1);
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "the signature by %s does not verify: %s",
			    expected,
			    gnutls_strerror(rc));
		return FALSE;
	}
	self->signer = signer;
	return TRUE;
}

/* Returns: (transfer none) (nullable): the candidate that signed, after a successful verify */
gnutls_x509_crt_t
scep_signed_data_get_signer(ScepSignedData *self)
{
	return self->signer;
}

guint
scep_signed_data_get_n_signers(ScepSignedData *self)
{
	return self->n_signers;
}

/* the first signer's digest algorithm; %GNUTLS_DIG_UNKNOWN without signers */
gnutls_digest_algorithm_t
scep_signed_data_get_digest_algorithm(ScepSignedData *self)
{
	if (self->digest_oid == NULL)
		return GNUTLS_DIG_UNKNOWN;
	return gnutls_oid_to_digest(self->digest_oid);
}

const gchar *
scep_signed_data_get_signature_algorithm_oid(ScepSignedData *self)
{
	return self->signature_oid;
}

gboolean
scep_signed_data_has_signed_attributes(ScepSignedData *self)
{
	return self->signed_attrs_der != NULL;
}

/* Returns: (transfer none) (nullable): the DER of the attribute's (first) value */
GBytes *
scep_signed_data_get_attribute(ScepSignedData *self, const gchar *oid)
{
	return g_hash_table_lookup(self->attributes, oid);
}

static GBytes *
scep_signed_data_require_attribute(ScepSignedData *self, const gchar *oid, GError **error)
{
	GBytes *value = g_hash_table_lookup(self->attributes, oid);
	if (value == NULL)
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "signed attribute %s is missing",
			    oid);
	return value;
}

/**
 * scep_signed_data_dup_attribute_string:
 *
 * Returns: (transfer full): a PrintableString, UTF8String or IA5String attribute as
 * text; a missing or malformed attribute is an error
 */
gchar *
scep_signed_data_dup_attribute_string(ScepSignedData *self, const gchar *oid, GError **error)
{
	GBytes *value = scep_signed_data_require_attribute(self, oid, error);
	gchar *text;
	if (value == NULL)
		return NULL;
	text = scep_asn1_decode_string(value, error);
	if (text == NULL)
		g_prefix_error(error, "signed attribute %s: ", oid);
	return text;
}

/* Returns: (transfer full): the content octets of an OCTET STRING attribute */
GBytes *
scep_signed_data_dup_attribute_octets(ScepSignedData *self, const gchar *oid, GError **error)
{
	GBytes *value = scep_signed_data_require_attribute(self, oid, error);
	GBytes *octets;
	if (value == NULL)
		return NULL;
	octets = scep_asn1_unwrap_octet_string(value, error);
	if (octets == NULL)
		g_prefix_error(error, "signed attribute %s: ", oid);
	return octets;
}

const gchar *
scep_signed_data_get_content_type(ScepSignedData *self)
{
	return self->content_type;
}

/* Returns: (transfer none) (nullable): eContent; %NULL when absent, empty when empty */
GBytes *
scep_signed_data_get_content(ScepSignedData *self)
{
	return self->content;
}

/* Returns: (transfer none) (element-type GBytes): the embedded certificates, as sent */
GPtrArray *
scep_signed_data_get_certificates(ScepSignedData *self)
{
	return self->certificates;
}

/* Returns: (transfer none) (element-type GBytes): the embedded CRLs */
GPtrArray *
scep_signed_data_get_crls(ScepSignedData *self)
{
	return self->crls;
}
