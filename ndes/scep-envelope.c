#include "config.h"

#include "scep-envelope.h"

#include <string.h>

#include "scep-asn1.h"
#include "scep-gnutls-common.h"
#include "scep-ndes-error.h"
#include "scep-oaep.h"
#include "scep-rsa.h"

/* CMS EnvelopedData (RFC 5652 6), which GnuTLS does not implement: one
 * KeyTransRecipientInfo, RSA key transport, a CBC content cipher */

#define SCEP_ENVELOPE_MAX_KEY 32

typedef struct {
	const gchar *oid;
	gnutls_cipher_algorithm_t cipher;
} ScepEnvelopeCipherOid;

static const ScepEnvelopeCipherOid scep_envelope_ciphers[] = {
	{ "1.3.14.3.2.7", GNUTLS_CIPHER_DES_CBC },
	{ "1.2.840.113549.3.7", GNUTLS_CIPHER_3DES_CBC },
	{ "2.16.840.1.101.3.4.1.2", GNUTLS_CIPHER_AES_128_CBC },
	{ "2.16.840.1.101.3.4.1.22", GNUTLS_CIPHER_AES_192_CBC },
	{ "2.16.840.1.101.3.4.1.42", GNUTLS_CIPHER_AES_256_CBC },
};

const gchar *
scep_envelope_cipher_to_oid(gnutls_cipher_algorithm_t cipher)
{
	for (gsize i = 0; i < G_N_ELEMENTS(scep_envelope_ciphers); i++) {
		if (scep_envelope_ciphers[i].cipher == cipher)
			return scep_envelope_ciphers[i].oid;
	}
	return NULL;
}

gnutls_cipher_algorithm_t
scep_envelope_cipher_from_oid(const gchar *oid)
{
	for (gsize i = 0; i < G_N_ELEMENTS(scep_envelope_ciphers); i++) {
		if (g_strcmp0(scep_envelope_ciphers[i].oid, oid) == 0)
			return scep_envelope_ciphers[i].cipher;
	}
	return GNUTLS_CIPHER_UNKNOWN;
}

static void
scep_envelope_wipe_bytes(guint8 *data, gsize len)
{
	if (data != NULL)
		gnutls_memset(data, 0, len);
}

/**
 * scep_envelope_encrypt:
 * @plaintext: the content (id-data)
 * @recipient: the RSA certificate to encrypt to
 * @cipher: DES, 3DES or AES-128/192/256 in CBC mode
 * @error: return location
 *
 * Returns: (transfer full): DER of a ContentInfo holding an EnvelopedData with one
 * KeyTransRecipientInfo (v0, issuerAndSerialNumber, rsaEncryption PKCS#1 v1.5)
 */
GBytes *
scep_envelope_encrypt(GBytes *plaintext,
		      gnutls_x509_crt_t recipient,
		      gnutls_cipher_algorithm_t cipher,
		      GError **error)
{
	const gchar *cipher_oid = scep_envelope_cipher_to_oid(cipher);
	g_auto(gnutls_pubkey_t) pubkey = NULL;
	g_auto(gnutls_cipher_hd_t) handle = NULL;
	g_auto(ScepGnutlsDatum) encrypted_key = { NULL, 0 };
	g_auto(ScepGnutlsDatum) issuer = { NULL, 0 };
	g_auto(asn1_node) ed = NULL;
	g_auto(asn1_node) ci = NULL;
	g_autoptr(GBytes) ed_der = NULL;
	g_autoptr(GBytes) iv_param = NULL;
	g_autofree guint8 *buf = NULL;
	guint8 serial[64];
	size_t serial_size = sizeof(serial);
	guint8 key[SCEP_ENVELOPE_MAX_KEY];
	guint8 iv[16];
	gnutls_datum_t key_datum;
	gnutls_datum_t iv_datum;
	gsize plain_len = 0;
	const guint8 *plain = g_bytes_get_data(plaintext, &plain_len);
	gsize key_size;
	gsize block_size;
	gsize padded_len;
	gboolean ok;
	const gchar *ktri = "recipientInfos.?LAST.ktri";
	g_autofree gchar *path = NULL;

	if (cipher_oid == NULL) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "content cipher %s is not supported for SCEP",
			    gnutls_cipher_get_name(cipher));
		return NULL;
	}
	if (!scep_gnutls_check(gnutls_pubkey_init(&pubkey), "pubkey init", error))
		return NULL;
	if (!scep_gnutls_check(
		gnutls_pubkey_import_x509(pubkey, recipient, 0), "recipient certificate", error))
		return NULL;
	if (gnutls_pubkey_get_pk_algorithm(pubkey, NULL) != GNUTLS_PK_RSA) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_INVALID_ARGUMENT,
				    "the recipient certificate has no RSA key");
		return NULL;
	}
	if (!scep_gnutls_check(
		gnutls_x509_crt_get_raw_issuer_dn(recipient, &issuer), "recipient issuer", error))
		return NULL;
	if (!scep_gnutls_check(gnutls_x509_crt_get_serial(recipient, serial, &serial_size),
			       "recipient serial number",
			       error))
		return NULL;

	/* content: PKCS#7 padding (always 1..block size octets), then CBC */
	key_size = gnutls_cipher_get_key_size(cipher);
	block_size = gnutls_cipher_get_block_size(cipher);
	padded_len = plain_len + block_size - plain_len % block_size;
	buf = g_malloc(padded_len);
	if (plain_len > 0)
		memcpy(buf, plain, plain_len);
	memset(buf + plain_len, (int)(padded_len - plain_len), padded_len - plain_len);
	if (!scep_gnutls_check(gnutls_rnd(GNUTLS_RND_KEY, key, key_size), "random key", error))
		return NULL;
	if (!scep_gnutls_check(gnutls_rnd(GNUTLS_RND_NONCE, iv, block_size), "random iv", error))
		return NULL;
	key_datum.data = key;
	key_datum.size = (unsigned int)key_size;
	iv_datum.data = iv;
	iv_datum.size = (unsigned int)block_size;
	ok = scep_gnutls_check(gnutls_cipher_init(&handle, cipher, &key_datum, &iv_datum),
			       "content cipher",
			       error) &&
	     scep_gnutls_check(
		 gnutls_cipher_encrypt(handle, buf, padded_len), "content encryption", error) &&
	     scep_gnutls_check(gnutls_pubkey_encrypt_data(pubkey, 0, &key_datum, &encrypted_key),
			       "key transport",
			       error);
	scep_envelope_wipe_bytes(key, sizeof(key));
	if (!ok)
		return NULL;

	ed = scep_asn1_create("EnvelopedData", error);
	if (ed == NULL)
		return NULL;
	iv_param = scep_asn1_encode_octet_string(iv, block_size);
	path = g_strdup_printf("%s.rid.issuerAndSerialNumber.serialNumber", ktri);
	if (!scep_asn1_write(ed, "version", "0", 0, error) ||
	    !scep_asn1_write(ed, "originatorInfo", NULL, 0, error) ||
	    !scep_asn1_write(ed, "recipientInfos", "NEW", 1, error) ||
	    !scep_asn1_write(ed, "recipientInfos.?LAST", "ktri", 1, error) ||
	    !scep_asn1_write(ed, "recipientInfos.?LAST.ktri.version", "0", 0, error) ||
	    !scep_asn1_write(
		ed, "recipientInfos.?LAST.ktri.rid", "issuerAndSerialNumber", 1, error) ||
	    !scep_asn1_write(ed,
			     "recipientInfos.?LAST.ktri.rid.issuerAndSerialNumber.issuer",
			     issuer.data,
			     issuer.size,
			     error) ||
	    !scep_asn1_write(ed, path, serial, serial_size, error) ||
	    !scep_asn1_write(ed,
			     "recipientInfos.?LAST.ktri.keyEncryptionAlgorithm.algorithm",
			     SCEP_OID_RSA_ENCRYPTION,
			     1,
			     error) ||
	    !scep_asn1_write(ed,
			     "recipientInfos.?LAST.ktri.keyEncryptionAlgorithm.parameters",
			     "\x05\x00",
			     2,
			     error) ||
	    !scep_asn1_write(ed,
			     "recipientInfos.?LAST.ktri.encryptedKey",
			     encrypted_key.data,
			     encrypted_key.size,
			     error) ||
	    !scep_asn1_write(ed, "encryptedContentInfo.contentType", SCEP_OID_DATA, 1, error) ||
	    !scep_asn1_write(ed,
			     "encryptedContentInfo.contentEncryptionAlgorithm.algorithm",
			     cipher_oid,
			     1,
			     error) ||
	    !scep_asn1_write_bytes(ed,
				   "encryptedContentInfo.contentEncryptionAlgorithm.parameters",
				   iv_param,
				   error) ||
	    !scep_asn1_write(ed, "encryptedContentInfo.encryptedContent", buf, padded_len, error) ||
	    !scep_asn1_write(ed, "unprotectedAttrs", NULL, 0, error))
		return NULL;
	ed_der = scep_asn1_encode(ed, "EnvelopedData", error);
	if (ed_der == NULL)
		return NULL;

	ci = scep_asn1_create("ContentInfo", error);
	if (ci == NULL)
		return NULL;
	if (!scep_asn1_write(ci, "contentType", SCEP_OID_ENVELOPED_DATA, 1, error) ||
	    !scep_asn1_write_bytes(ci, "content", ed_der, error))
		return NULL;
	return scep_asn1_encode(ci, "ContentInfo", error);
}

typedef struct {
	asn1_node ed; /* owned */
	gchar *ktri;  /* owned: path of the chosen KeyTransRecipientInfo */
	ScepEnvelopeInfo info;
	GBytes *oaep_label;        /* owned, nullable */
	GBytes *encrypted_key;     /* owned */
	GBytes *iv;                /* owned, nullable: all zero */
	GBytes *encrypted_content; /* owned */
} ScepEnvelopeParsed;

static void
scep_envelope_parsed_clear(ScepEnvelopeParsed *self)
{
	scep_asn1_node_free(self->ed);
	g_free(self->ktri);
	g_clear_pointer(&self->oaep_label, g_bytes_unref);
	g_clear_pointer(&self->encrypted_key, g_bytes_unref);
	g_clear_pointer(&self->iv, g_bytes_unref);
	g_clear_pointer(&self->encrypted_content, g_bytes_unref);
	memset(self, 0, sizeof(*self));
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ScepEnvelopeParsed, scep_envelope_parsed_clear)

static gboolean
scep_envelope_rid_matches(asn1_node ed, const gchar *rid, gnutls_x509_crt_t cert, GError **error)
{
	g_autofree gchar *choice = NULL;
	g_autofree gchar *path = NULL;
	g_autoptr(GBytes) value = NULL;
	gsize len = 0;
	const guint8 *data;

	if (cert == NULL)
		return FALSE;
	choice = scep_asn1_read_choice(ed, rid, error);
	if (choice == NULL)
		return FALSE;
	if (g_strcmp0(choice, "issuerAndSerialNumber") == 0) {
		g_auto(ScepGnutlsDatum) issuer = { NULL, 0 };
		g_autoptr(GBytes) serial = NULL;
		guint8 cert_serial[64];
		size_t cert_serial_size = sizeof(cert_serial);

		path = g_strdup_printf("%s.issuerAndSerialNumber.issuer", rid);
		value = scep_asn1_read_bytes(ed, path, error);
		if (value == NULL)
			return FALSE;
		if (gnutls_x509_crt_get_raw_issuer_dn(cert, &issuer) < 0)
			return FALSE;
		data = g_bytes_get_data(value, &len);
		if (len != issuer.size || memcmp(data, issuer.data, len) != 0)
			return FALSE;
		g_free(path);
		path = g_strdup_printf("%s.issuerAndSerialNumber.serialNumber", rid);
		serial = scep_asn1_read_bytes(ed, path, error);
		if (serial == NULL)
			return FALSE;
		if (gnutls_x509_crt_get_serial(cert, cert_serial, &cert_serial_size) < 0)
			return FALSE;
		data = g_bytes_get_data(serial, &len);
		return scep_asn1_serial_equal(data, len, cert_serial, cert_serial_size);
	}
	if (g_strcmp0(choice, "subjectKeyIdentifier") == 0) {
		guint8 ski[64];
		size_t ski_size = sizeof(ski);
		unsigned int critical = 0;

		path = g_strdup_printf("%s.subjectKeyIdentifier", rid);
		value = scep_asn1_read_bytes(ed, path, error);
		if (value == NULL)
			return FALSE;
		if (gnutls_x509_crt_get_subject_key_id(cert, ski, &ski_size, &critical) < 0)
			return FALSE;
		data = g_bytes_get_data(value, &len);
		return len == ski_size && memcmp(data, ski, len) == 0;
	}
	return FALSE;
}

static gnutls_digest_algorithm_t
scep_envelope_digest_from_algorithm(asn1_node node, const gchar *name, GError **error)
{
	g_autofree gchar *path =
	    name[0] != '\0' ? g_strdup_printf("%s.algorithm", name) : g_strdup("algorithm");
	g_autofree gchar *oid = scep_asn1_read_oid(node, path, error);
	gnutls_digest_algorithm_t digest;

	if (oid == NULL)
		return GNUTLS_DIG_UNKNOWN;
	digest = gnutls_oid_to_digest(oid);
	if (digest == GNUTLS_DIG_UNKNOWN)
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_UNSUPPORTED,
			    "RSAES-OAEP hash %s is not supported",
			    oid);
	return digest;
}

/* RFC 8017 A.2.1 with the RFC 4055 defaults; MGF1 must use the same hash */
static gboolean
scep_envelope_parse_oaep_params(ScepEnvelopeParsed *self, GBytes *params, GError **error)
{
	g_auto(asn1_node) node = NULL;
	g_autoptr(GBytes) present = NULL;
	gsize len = 0;
	const guint8 *data;

	self->info.oaep_hash = GNUTLS_DIG_SHA1;
	if (params == NULL)
		return TRUE;
	data = g_bytes_get_data(params, &len);
	/* some writers put NULL where the SEQUENCE belongs */
	if ((len == 2 && data[0] == 0x30 && data[1] == 0x00) ||
	    (len == 2 && data[0] == 0x05 && data[1] == 0x00))
		return TRUE;
	node = scep_asn1_decode_bytes("RSAES-OAEP-params", params, error);
	if (node == NULL)
		return FALSE;

	/* a SEQUENCE has no value of its own: probe its first field */
	present = scep_asn1_read_optional(node, "hashAlgorithm.algorithm", error);
	if (present != NULL) {
		self->info.oaep_hash =
		    scep_envelope_digest_from_algorithm(node, "hashAlgorithm", error);
		if (self->info.oaep_hash == GNUTLS_DIG_UNKNOWN)
			return FALSE;
	}
	g_clear_pointer(&present, g_bytes_unref);

	/* a SEQUENCE has no value of its own: probe its first field */
	present = scep_asn1_read_optional(node, "maskGenAlgorithm.algorithm", error);
	if (present != NULL) {
		g_autofree gchar *mgf =
		    scep_asn1_read_oid(node, "maskGenAlgorithm.algorithm", error);
		g_autoptr(GBytes) mgf_params = NULL;
		g_auto(asn1_node) mgf_hash = NULL;
		gnutls_digest_algorithm_t digest;

		if (mgf == NULL)
			return FALSE;
		if (g_strcmp0(mgf, SCEP_OID_MGF1) != 0) {
			g_set_error(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_UNSUPPORTED,
				    "RSAES-OAEP mask generation %s is not supported",
				    mgf);
			return FALSE;
		}
		mgf_params = scep_asn1_read_bytes(node, "maskGenAlgorithm.parameters", error);
		if (mgf_params == NULL)
			return FALSE;
		mgf_hash = scep_asn1_decode_bytes("AlgorithmIdentifier", mgf_params, error);
		if (mgf_hash == NULL)
			return FALSE;
		digest = scep_envelope_digest_from_algorithm(mgf_hash, "", error);
		if (digest == GNUTLS_DIG_UNKNOWN)
			return FALSE;
		if (digest != self->info.oaep_hash) {
			g_set_error_literal(error,
					    SCEP_NDES_ERROR,
					    SCEP_NDES_ERROR_UNSUPPORTED,
					    "RSAES-OAEP with different OAEP and MGF1 hashes is "
					    "not supported");
			return FALSE;
		}
	} else if (self->info.oaep_hash != GNUTLS_DIG_SHA1) {
		/* the default MGF is MGF1 with SHA-1 */
		g_set_error_literal(
		    error,
		    SCEP_NDES_ERROR,
		    SCEP_NDES_ERROR_UNSUPPORTED,
		    "RSAES-OAEP with different OAEP and MGF1 hashes is not supported");
		return FALSE;
	}
	g_clear_pointer(&present, g_bytes_unref);

	/* a SEQUENCE has no value of its own: probe its first field */
	present = scep_asn1_read_optional(node, "pSourceAlgorithm.algorithm", error);
	if (present != NULL) {
		g_autofree gchar *psource =
		    scep_asn1_read_oid(node, "pSourceAlgorithm.algorithm", error);
		g_autoptr(GBytes) label = NULL;

		if (psource == NULL)
			return FALSE;
		if (g_strcmp0(psource, SCEP_OID_P_SPECIFIED) != 0) {
			g_set_error(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_UNSUPPORTED,
				    "RSAES-OAEP label source %s is not supported",
				    psource);
			return FALSE;
		}
		label = scep_asn1_read_optional(node, "pSourceAlgorithm.parameters", error);
		if (label != NULL) {
			self->oaep_label = scep_asn1_unwrap_octet_string(label, error);
			if (self->oaep_label == NULL)
				return FALSE;
		}
	}
	return TRUE;
}

static gboolean
scep_envelope_parse(ScepEnvelopeParsed *self,
		    GBytes *content_info,
		    gnutls_x509_crt_t recipient_cert,
		    GError **error)
{
	g_auto(asn1_node) ci = NULL;
	g_autofree gchar *content_type = NULL;
	g_autoptr(GBytes) content = NULL;
	g_autofree gchar *key_alg = NULL;
	g_autofree gchar *cipher_oid = NULL;
	g_autofree gchar *path = NULL;
	g_autoptr(GBytes) params = NULL;
	g_autofree gchar *only_ktri = NULL;
	guint n_ktri = 0;

	ci = scep_asn1_decode_bytes("ContentInfo", content_info, error);
	if (ci == NULL) {
		g_prefix_error(error, "envelope: ");
		return FALSE;
	}
	content_type = scep_asn1_read_oid(ci, "contentType", error);
	if (content_type == NULL)
		return FALSE;
	if (g_strcmp0(content_type, SCEP_OID_ENVELOPED_DATA) != 0) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "envelope: content type %s is not envelopedData",
			    content_type);
		return FALSE;
	}
	content = scep_asn1_read_bytes(ci, "content", error);
	if (content == NULL)
		return FALSE;
	self->ed = scep_asn1_decode_bytes("EnvelopedData", content, error);
	if (self->ed == NULL) {
		g_prefix_error(error, "envelope: ");
		return FALSE;
	}

	if (!scep_asn1_count(self->ed, "recipientInfos", &self->info.n_recipients, error))
		return FALSE;
	for (guint i = 1; i <= self->info.n_recipients; i++) {
		g_autofree gchar *ri = g_strdup_printf("recipientInfos.?%u", i);
		g_autofree gchar *choice = scep_asn1_read_choice(self->ed, ri, error);
		g_autofree gchar *rid = NULL;

		if (choice == NULL)
			return FALSE;
		if (g_strcmp0(choice, "ktri") != 0)
			continue;
		n_ktri++;
		g_free(only_ktri);
		only_ktri = g_strdup_printf("%s.ktri", ri);
		rid = g_strdup_printf("%s.ktri.rid", ri);
		if (scep_envelope_rid_matches(self->ed, rid, recipient_cert, NULL)) {
			self->ktri = g_strdup_printf("%s.ktri", ri);
			self->info.recipient_found = TRUE;
			break;
		}
	}
	if (self->ktri == NULL && n_ktri == 1) {
		g_debug("envelope: using the only key transport recipient, it does not name us");
		self->ktri = g_steal_pointer(&only_ktri);
	}
	if (self->ktri == NULL) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "envelope: none of its %u recipients is our certificate",
			    self->info.n_recipients);
		return FALSE;
	}

	path = g_strdup_printf("%s.keyEncryptionAlgorithm.algorithm", self->ktri);
	key_alg = scep_asn1_read_oid(self->ed, path, error);
	if (key_alg == NULL)
		return FALSE;
	g_free(path);
	path = g_strdup_printf("%s.keyEncryptionAlgorithm.parameters", self->ktri);
	params = scep_asn1_read_optional(self->ed, path, error);
	if (g_strcmp0(key_alg, SCEP_OID_RSA_ENCRYPTION) == 0) {
		self->info.key_transport = SCEP_KEY_TRANSPORT_RSA_PKCS1;
	} else if (g_strcmp0(key_alg, SCEP_OID_RSAES_OAEP) == 0) {
		self->info.key_transport = SCEP_KEY_TRANSPORT_RSA_OAEP;
		if (!scep_envelope_parse_oaep_params(self, params, error)) {
			g_prefix_error(error, "envelope: ");
			return FALSE;
		}
	} else {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_UNSUPPORTED,
			    "envelope: key transport algorithm %s is not supported",
			    key_alg);
		return FALSE;
	}
	g_free(path);
	path = g_strdup_printf("%s.encryptedKey", self->ktri);
	self->encrypted_key = scep_asn1_read_bytes(self->ed, path, error);
	if (self->encrypted_key == NULL)
		return FALSE;

	cipher_oid = scep_asn1_read_oid(
	    self->ed, "encryptedContentInfo.contentEncryptionAlgorithm.algorithm", error);
	if (cipher_oid == NULL)
		return FALSE;
	self->info.cipher = scep_envelope_cipher_from_oid(cipher_oid);
	if (self->info.cipher == GNUTLS_CIPHER_UNKNOWN) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_UNSUPPORTED,
			    "envelope: content cipher %s is not supported",
			    cipher_oid);
		return FALSE;
	}
	g_clear_pointer(&params, g_bytes_unref);
	params = scep_asn1_read_optional(
	    self->ed, "encryptedContentInfo.contentEncryptionAlgorithm.parameters", error);
	if (params != NULL && !(g_bytes_get_size(params) == 2 &&
				memcmp(g_bytes_get_data(params, NULL), "\x05\x00", 2) == 0)) {
		self->iv = scep_asn1_unwrap_octet_string(params, error);
		if (self->iv == NULL) {
			g_prefix_error(error, "envelope: content cipher IV: ");
			return FALSE;
		}
		if (g_bytes_get_size(self->iv) != gnutls_cipher_get_block_size(self->info.cipher)) {
			g_set_error(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "envelope: IV of %" G_GSIZE_FORMAT " bytes for %s",
				    g_bytes_get_size(self->iv),
				    gnutls_cipher_get_name(self->info.cipher));
			return FALSE;
		}
		self->info.has_iv = TRUE;
	}
	self->encrypted_content =
	    scep_asn1_read_optional(self->ed, "encryptedContentInfo.encryptedContent", error);
	if (self->encrypted_content == NULL) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "envelope: no encrypted content");
		return FALSE;
	}
	return TRUE;
}

/**
 * scep_envelope_inspect:
 * @content_info: DER or BER of a ContentInfo holding an EnvelopedData
 * @recipient_cert: (nullable): our certificate, to find our RecipientInfo
 * @info: (out): what the envelope uses
 *
 * Parses without decrypting, e.g. to report what a server used.
 */
gboolean
scep_envelope_inspect(GBytes *content_info,
		      gnutls_x509_crt_t recipient_cert,
		      ScepEnvelopeInfo *info,
		      GError **error)
{
	g_auto(ScepEnvelopeParsed) parsed = { 0 };
	if (!scep_envelope_parse(&parsed, content_info, recipient_cert, error))
		return FALSE;
	*info = parsed.info;
	return TRUE;
}

static gboolean
scep_envelope_unwrap_key(
    ScepEnvelopeParsed *parsed, gnutls_privkey_t key, guint8 *cek, gsize key_size, GError **error)
{
	if (parsed->info.key_transport == SCEP_KEY_TRANSPORT_RSA_PKCS1) {
		gnutls_datum_t ciphertext = scep_gnutls_datum_from_bytes(parsed->encrypted_key);
		g_autoptr(ScepRsaKey) rsa = scep_rsa_key_new(key, NULL);
		gboolean ok;

		/* a fixed-size output leaves no length to learn from; our blinded decryption
		 * (scep-rsa.c) when the key's parameters can be read, else GnuTLS's */
		if (rsa != NULL)
			ok = scep_rsa_key_decrypt_pkcs1(
			    rsa, ciphertext.data, ciphertext.size, cek, key_size, NULL);
		else
			ok = gnutls_privkey_decrypt_data2(key, 0, &ciphertext, cek, key_size) >= 0;
		if (!ok) {
			g_set_error_literal(error,
					    SCEP_NDES_ERROR,
					    SCEP_NDES_ERROR_CRYPTO,
					    "envelope: cannot decrypt the content-encryption key");
			return FALSE;
		}
		return TRUE;
	}
	if (parsed->info.key_transport == SCEP_KEY_TRANSPORT_RSA_OAEP) {
		guint8 buf[SCEP_ENVELOPE_MAX_KEY];
		gsize len = 0;
		gnutls_datum_t label = { NULL, 0 };
		gboolean ok;

		if (parsed->oaep_label != NULL)
			label = scep_gnutls_datum_from_bytes(parsed->oaep_label);
		ok = scep_oaep_decrypt(key,
				       parsed->info.oaep_hash,
				       parsed->oaep_label != NULL ? &label : NULL,
				       parsed->encrypted_key,
				       buf,
				       sizeof(buf),
				       &len,
				       error);
		if (ok && len != key_size) {
			g_set_error_literal(
			    error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_CRYPTO,
			    "envelope: the content-encryption key has the wrong size");
			ok = FALSE;
		}
		if (ok)
			memcpy(cek, buf, key_size);
		gnutls_memset(buf, 0, sizeof(buf));
		if (!ok)
			g_prefix_error(error, "envelope: ");
		return ok;
	}
	g_set_error_literal(
	    error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_UNSUPPORTED, "envelope: unknown key transport");
	return FALSE;
}

/**
 * scep_envelope_decrypt:
 * @content_info: DER or BER of a ContentInfo holding an EnvelopedData
 * @recipient_cert: (nullable): our certificate, to find our RecipientInfo by
 *   issuer and serial number (or SKI); without a match the only key transport
 *   RecipientInfo is used
 * @recipient_key: our RSA private key
 * @error: return location
 *
 * Key transport by rsaEncryption (PKCS#1 v1.5) or RSAES-OAEP; content in DES, 3DES or
 * AES-CBC; a missing IV means an all-zero IV.
 *
 * Returns: (transfer full): the plaintext
 */
GBytes *
scep_envelope_decrypt(GBytes *content_info,
		      gnutls_x509_crt_t recipient_cert,
		      gnutls_privkey_t recipient_key,
		      GError **error)
{
	g_auto(ScepEnvelopeParsed) parsed = { 0 };
	g_auto(gnutls_cipher_hd_t) handle = NULL;
	guint8 cek[SCEP_ENVELOPE_MAX_KEY];
	guint8 zero_iv[16] = { 0 };
	gnutls_datum_t key_datum;
	gnutls_datum_t iv_datum;
	gsize key_size;
	gsize block_size;
	gsize len = 0;
	const guint8 *ciphertext;
	g_autofree guint8 *buf = NULL;
	guint pad;
	guint bad = 0;
	gboolean ok;

	if (!scep_envelope_parse(&parsed, content_info, recipient_cert, error))
		return NULL;
	key_size = gnutls_cipher_get_key_size(parsed.info.cipher);
	block_size = gnutls_cipher_get_block_size(parsed.info.cipher);
	ciphertext = g_bytes_get_data(parsed.encrypted_content, &len);
	if (len == 0 || len % block_size != 0) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "envelope: encrypted content of %" G_GSIZE_FORMAT
			    " bytes is not a whole number of blocks",
			    len);
		return NULL;
	}
	if (!scep_envelope_unwrap_key(&parsed, recipient_key, cek, key_size, error))
		return NULL;

	key_datum.data = cek;
	key_datum.size = (unsigned int)key_size;
	if (parsed.iv != NULL) {
		iv_datum = scep_gnutls_datum_from_bytes(parsed.iv);
	} else {
		iv_datum.data = zero_iv;
		iv_datum.size = (unsigned int)block_size;
	}
	buf = g_memdup2(ciphertext, len);
	ok = scep_gnutls_check(
		 gnutls_cipher_init(&handle, parsed.info.cipher, &key_datum, &iv_datum),
		 "envelope: content cipher",
		 error) &&
	     scep_gnutls_check(
		 gnutls_cipher_decrypt(handle, buf, len), "envelope: content decryption", error);
	gnutls_memset(cek, 0, sizeof(cek));
	if (!ok)
		return NULL;

	/* PKCS#7 padding: every pad byte is checked */
	pad = buf[len - 1];
	if (pad == 0 || pad > block_size) {
		bad = 1;
	} else {
		for (gsize i = len - pad; i < len; i++)
			bad |= buf[i] ^ pad;
	}
	if (bad != 0) {
		gnutls_memset(buf, 0, len);
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_CRYPTO,
				    "envelope: decryption failed (bad padding)");
		return NULL;
	}
	return g_bytes_new_take(g_steal_pointer(&buf), len - pad);
}
