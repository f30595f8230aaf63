#include "config.h"

#include "scep-message.h"

#include <string.h>

#include "scep-asn1.h"
#include "scep-envelope.h"
#include "scep-gnutls-common.h"
#include "scep-ndes-error.h"
#include "scep-rsa.h"
#include "scep-signed-data.h"

/* SCEP pkiMessage (RFC 8894 3.2): requests are signed with GnuTLS, CertReps are read
 * and verified with our own SignedData verifier */

/* a private alias, so that this cleanup cannot clash with a shared one */
typedef gnutls_pkcs7_attrs_t ScepMessageAttrs;
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(ScepMessageAttrs, gnutls_pkcs7_attrs_deinit, NULL)

/**
 * scep_fail_info_to_string:
 * @fail_info: a failInfo value
 *
 * Returns: (nullable): the RFC 8894 name and meaning, %NULL for unknown values
 */
const gchar *
scep_fail_info_to_string(guint fail_info)
{
	switch (fail_info) {
	case 0:
		return "badAlg: unrecognized or unsupported algorithm";
	case 1:
		return "badMessageCheck: integrity check (signature verification) failed";
	case 2:
		return "badRequest: transaction not permitted or supported";
	case 3:
		return "badTime: the signingTime attribute was not sufficiently close to the "
		       "system time";
	case 4:
		return "badCertId: no certificate could be identified matching the provided "
		       "criteria";
	default:
		return NULL;
	}
}

/* RFC 8894 4.2: 16 random bytes */
void
scep_message_generate_nonce(guint8 nonce[SCEP_NONCE_SIZE])
{
	if (gnutls_rnd(GNUTLS_RND_NONCE, nonce, SCEP_NONCE_SIZE) < 0)
		g_return_if_reached();
}

static gboolean
scep_message_is_printable(const gchar *text)
{
	if (text == NULL || text[0] == '\0')
		return FALSE;
	for (const gchar *p = text; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && strchr(" '()+,-./:=?", *p) == NULL)
			return FALSE;
	}
	return TRUE;
}

static gboolean
scep_message_add_attr(
    ScepMessageAttrs *attrs, const gchar *oid, GBytes *value, unsigned flags, GError **error)
{
	gnutls_datum_t datum = scep_gnutls_datum_from_bytes(value);
	return scep_gnutls_check(
	    gnutls_pkcs7_add_attr(attrs, oid, &datum, flags), "signed attribute", error);
}

/**
 * scep_message_build_request:
 * @request: what to send
 * @error: return location
 *
 * Builds a pkiMessage: @request->content enveloped to @request->recipient, signed by
 * @request->signer_cert (included) with messageType, transactionID and senderNonce.
 *
 * Returns: (transfer full): DER of the pkiMessage
 */
GBytes *
scep_message_build_request(const ScepRequest *request, GError **error)
{
	g_autoptr(GBytes) envelope = NULL;
	g_autoptr(GBytes) message_type = NULL;
	g_autoptr(GBytes) transaction_id = NULL;
	g_autoptr(GBytes) nonce = NULL;
	g_autofree gchar *message_type_text = NULL;
	g_auto(ScepMessageAttrs) attrs = NULL;
	g_auto(gnutls_pkcs7_t) p7 = NULL;
	g_auto(gnutls_privkey_t) fast_signer = NULL;
	g_auto(ScepGnutlsDatum) out = { NULL, 0 };
	gnutls_privkey_t signer_key;
	gnutls_datum_t envelope_datum;

	switch (request->message_type) {
	case SCEP_MESSAGE_TYPE_RENEWAL_REQ:
	case SCEP_MESSAGE_TYPE_UPDATE_REQ:
	case SCEP_MESSAGE_TYPE_PKCS_REQ:
	case SCEP_MESSAGE_TYPE_CERT_POLL:
	case SCEP_MESSAGE_TYPE_GET_CERT:
	case SCEP_MESSAGE_TYPE_GET_CRL:
		break;
	case SCEP_MESSAGE_TYPE_CERT_REP:
	default:
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "message type %u is not a request",
			    (guint)request->message_type);
		return NULL;
	}
	if (!scep_message_is_printable(request->transaction_id)) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_INVALID_ARGUMENT,
				    "the transaction ID must be a non-empty PrintableString");
		return NULL;
	}
	if (request->content == NULL || request->recipient == NULL ||
	    request->signer_cert == NULL || request->signer_key == NULL) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_INVALID_ARGUMENT,
				    "a request needs content, a recipient and a signer");
		return NULL;
	}

	envelope =
	    scep_envelope_encrypt(request->content, request->recipient, request->cipher, error);
	if (envelope == NULL)
		return NULL;

	message_type_text = g_strdup_printf("%u", (guint)request->message_type);
	message_type = scep_asn1_encode_string(ASN1_ETYPE_PRINTABLE_STRING, message_type_text);
	transaction_id =
	    scep_asn1_encode_string(ASN1_ETYPE_PRINTABLE_STRING, request->transaction_id);
	nonce = g_bytes_new(request->sender_nonce, SCEP_NONCE_SIZE);
	if (message_type == NULL || transaction_id == NULL) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_CRYPTO,
				    "cannot encode the signed attributes");
		return NULL;
	}
	if (!scep_message_add_attr(&attrs, SCEP_OID_SCEP_MESSAGE_TYPE, message_type, 0, error) ||
	    !scep_message_add_attr(
		&attrs, SCEP_OID_SCEP_TRANSACTION_ID, transaction_id, 0, error) ||
	    !scep_message_add_attr(&attrs,
				   SCEP_OID_SCEP_SENDER_NONCE,
				   nonce,
				   GNUTLS_PKCS7_ATTR_ENCODE_OCTET_STRING,
				   error))
		return NULL;

	envelope_datum = scep_gnutls_datum_from_bytes(envelope);
	if (!scep_gnutls_check(gnutls_pkcs7_init(&p7), "pkcs7 init", error))
		return NULL;
	/* GnuTLS writes the SignedData; the RSA signature is ours (scep-rsa.c) when the key's
	 * parameters can be read, else GnuTLS's */
	fast_signer = scep_rsa_privkey_new_signer(request->signer_key);
	signer_key = fast_signer != NULL ? fast_signer : request->signer_key;
	/* INCLUDE_CERT is mandatory: servers encrypt their reply to the embedded signer */
	if (!scep_gnutls_check(gnutls_pkcs7_sign(p7,
						 request->signer_cert,
						 signer_key,
						 &envelope_datum,
						 attrs,
						 NULL,
						 request->digest,
						 GNUTLS_PKCS7_EMBED_DATA |
						     GNUTLS_PKCS7_INCLUDE_CERT |
						     GNUTLS_PKCS7_INCLUDE_TIME),
			       "signing the request",
			       error))
		return NULL;
	if (!scep_gnutls_check(gnutls_pkcs7_export2(p7, GNUTLS_X509_FMT_DER, &out),
			       "exporting the request",
			       error))
		return NULL;
	return scep_gnutls_datum_to_bytes(&out);
}

static GBytes *
scep_message_build_pair(const gchar *type,
			const gchar *second_name,
			gnutls_x509_crt_t issuer,
			const gnutls_datum_t *second,
			GError **error)
{
	g_auto(ScepGnutlsDatum) issuer_dn = { NULL, 0 };
	g_auto(asn1_node) node = NULL;

	if (issuer == NULL || second == NULL || second->size == 0) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "%s needs an issuer certificate and a %s",
			    type,
			    second_name);
		return NULL;
	}
	/* the CA's subject is the issuer of the certificate asked for */
	if (!scep_gnutls_check(gnutls_x509_crt_get_raw_dn(issuer, &issuer_dn), "CA name", error))
		return NULL;
	node = scep_asn1_create(type, error);
	if (node == NULL)
		return NULL;
	if (!scep_asn1_write(node, "issuer", issuer_dn.data, issuer_dn.size, error) ||
	    !scep_asn1_write(node, second_name, second->data, second->size, error))
		return NULL;
	return scep_asn1_encode(node, type, error);
}

/**
 * scep_message_build_issuer_and_subject:
 * @issuer: the CA certificate
 * @subject_dn_der: DER of the subject Name of the pending request
 *
 * Returns: (transfer full): DER of the CertPoll content (RFC 8894 3.3.3)
 */
GBytes *
scep_message_build_issuer_and_subject(gnutls_x509_crt_t issuer,
				      const gnutls_datum_t *subject_dn_der,
				      GError **error)
{
	if (subject_dn_der != NULL && subject_dn_der->size > 0 && subject_dn_der->data[0] != 0x30) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_INVALID_ARGUMENT,
				    "the subject is not a DER Name");
		return NULL;
	}
	return scep_message_build_pair(
	    "IssuerAndSubject", "subject", issuer, subject_dn_der, error);
}

/**
 * scep_message_build_issuer_and_serial:
 * @issuer: the CA certificate
 * @serial: the serial number's content octets (as gnutls_x509_crt_get_serial() gives)
 *
 * Returns: (transfer full): DER of the GetCert / GetCRL content (RFC 8894 3.3.4)
 */
GBytes *
scep_message_build_issuer_and_serial(gnutls_x509_crt_t issuer,
				     const gnutls_datum_t *serial,
				     GError **error)
{
	return scep_message_build_pair(
	    "IssuerAndSerialNumber", "serialNumber", issuer, serial, error);
}

struct _ScepCertRep {
	ScepPkiStatus status;
	gboolean has_fail_info;
	guint fail_info;
	gchar *fail_info_text; /* owned, nullable */
	gchar *transaction_id; /* owned */
	gboolean has_sender_nonce;
	guint8 sender_nonce[SCEP_NONCE_SIZE];
	GBytes *issued;           /* owned, nullable */
	GPtrArray *certificates;  /* owned: GBytes DER */
	GPtrArray *crls;          /* owned: GBytes DER */
	gnutls_x509_crt_t signer; /* borrowed from the expectation */
	gnutls_digest_algorithm_t digest;
};

void
scep_cert_rep_free(ScepCertRep *self)
{
	if (self == NULL)
		return;
	g_free(self->fail_info_text);
	g_free(self->transaction_id);
	g_clear_pointer(&self->issued, g_bytes_unref);
	g_clear_pointer(&self->certificates, g_ptr_array_unref);
	g_clear_pointer(&self->crls, g_ptr_array_unref);
	g_free(self);
}

static gboolean
scep_cert_rep_parse_number(const gchar *text, guint *value)
{
	guint64 number = 0;
	if (text[0] == '\0' || strlen(text) > 9)
		return FALSE;
	for (const gchar *p = text; *p != '\0'; p++) {
		if (!g_ascii_isdigit(*p))
			return FALSE;
		number = number * 10 + (guint64)(*p - '0');
	}
	*value = (guint)number;
	return TRUE;
}

static gboolean
scep_cert_rep_check_attributes(ScepCertRep *self,
			       ScepSignedData *sd,
			       const ScepCertRepExpect *expect,
			       GError **error)
{
	g_autofree gchar *message_type = NULL;
	g_autofree gchar *status = NULL;
	g_autoptr(GBytes) recipient_nonce = NULL;
	GBytes *sender_nonce;
	guint number = 0;

	if (scep_signed_data_get_attribute(sd, SCEP_OID_SCEP_MESSAGE_TYPE) == NULL) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "the reply has no messageType");
		return FALSE;
	}
	message_type = scep_signed_data_dup_attribute_string(sd, SCEP_OID_SCEP_MESSAGE_TYPE, error);
	if (message_type == NULL)
		return FALSE;
	if (!scep_cert_rep_parse_number(message_type, &number) ||
	    number != SCEP_MESSAGE_TYPE_CERT_REP) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "the reply has messageType '%s', not CertRep (3)",
			    message_type);
		return FALSE;
	}

	if (scep_signed_data_get_attribute(sd, SCEP_OID_SCEP_TRANSACTION_ID) == NULL) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "the CertRep has no transactionID");
		return FALSE;
	}
	self->transaction_id =
	    scep_signed_data_dup_attribute_string(sd, SCEP_OID_SCEP_TRANSACTION_ID, error);
	if (self->transaction_id == NULL)
		return FALSE;
	if (g_strcmp0(self->transaction_id, expect->transaction_id) != 0) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "the CertRep is for transaction '%s', not ours ('%s')",
			    self->transaction_id,
			    expect->transaction_id);
		return FALSE;
	}

	if (scep_signed_data_get_attribute(sd, SCEP_OID_SCEP_RECIPIENT_NONCE) == NULL) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "the CertRep has no recipientNonce");
		return FALSE;
	}
	recipient_nonce =
	    scep_signed_data_dup_attribute_octets(sd, SCEP_OID_SCEP_RECIPIENT_NONCE, error);
	if (recipient_nonce == NULL)
		return FALSE;
	if (expect->sender_nonce == NULL || g_bytes_get_size(recipient_nonce) != SCEP_NONCE_SIZE ||
	    memcmp(g_bytes_get_data(recipient_nonce, NULL),
		   expect->sender_nonce,
		   SCEP_NONCE_SIZE) != 0) {
		g_set_error_literal(
		    error,
		    SCEP_NDES_ERROR,
		    SCEP_NDES_ERROR_BAD_RESPONSE,
		    "the CertRep's recipientNonce is not our senderNonce (a replayed "
		    "or misdirected reply)");
		return FALSE;
	}

	/* optional: some servers send none */
	sender_nonce = scep_signed_data_get_attribute(sd, SCEP_OID_SCEP_SENDER_NONCE);
	if (sender_nonce != NULL) {
		g_autoptr(GBytes) value = scep_asn1_unwrap_octet_string(sender_nonce, NULL);
		if (value != NULL && g_bytes_get_size(value) == SCEP_NONCE_SIZE) {
			memcpy(self->sender_nonce, g_bytes_get_data(value, NULL), SCEP_NONCE_SIZE);
			self->has_sender_nonce = TRUE;
		}
	}

	if (scep_signed_data_get_attribute(sd, SCEP_OID_SCEP_PKI_STATUS) == NULL) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "the CertRep has no pkiStatus");
		return FALSE;
	}
	status = scep_signed_data_dup_attribute_string(sd, SCEP_OID_SCEP_PKI_STATUS, error);
	if (status == NULL)
		return FALSE;
	if (!scep_cert_rep_parse_number(status, &number) ||
	    (number != SCEP_PKI_STATUS_SUCCESS && number != SCEP_PKI_STATUS_FAILURE &&
	     number != SCEP_PKI_STATUS_PENDING)) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "the CertRep has pkiStatus '%s', not 0, 2 or 3",
			    status);
		return FALSE;
	}
	self->status = (ScepPkiStatus)number;
	return TRUE;
}

static gboolean
scep_cert_rep_read_failure(ScepCertRep *self, ScepSignedData *sd, GError **error)
{
	if (scep_signed_data_get_attribute(sd, SCEP_OID_SCEP_FAIL_INFO) != NULL) {
		g_autofree gchar *fail_info =
		    scep_signed_data_dup_attribute_string(sd, SCEP_OID_SCEP_FAIL_INFO, error);
		if (fail_info == NULL)
			return FALSE;
		if (!scep_cert_rep_parse_number(fail_info, &self->fail_info)) {
			g_set_error(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "the CertRep has failInfo '%s', not a number",
				    fail_info);
			return FALSE;
		}
		self->has_fail_info = TRUE;
	}
	if (scep_signed_data_get_attribute(sd, SCEP_OID_SCEP_FAIL_INFO_TEXT) != NULL) {
		g_autoptr(GError) error_local = NULL;
		self->fail_info_text = scep_signed_data_dup_attribute_string(
		    sd, SCEP_OID_SCEP_FAIL_INFO_TEXT, &error_local);
		if (self->fail_info_text == NULL)
			g_debug("ignoring unreadable failInfoText: %s", error_local->message);
	}
	return TRUE;
}

static gboolean
scep_cert_rep_has_key(GBytes *der, const guint8 *key_id, gsize key_id_size)
{
	g_auto(gnutls_x509_crt_t) crt = NULL;
	gnutls_datum_t datum = scep_gnutls_datum_from_bytes(der);
	guint8 id[64];
	size_t id_size = sizeof(id);

	if (gnutls_x509_crt_init(&crt) < 0 ||
	    gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, id, &id_size) < 0)
		return FALSE;
	return id_size == key_id_size && memcmp(id, key_id, id_size) == 0;
}

static gboolean
scep_cert_rep_is_ca(GBytes *der)
{
	g_auto(gnutls_x509_crt_t) crt = NULL;
	gnutls_datum_t datum = scep_gnutls_datum_from_bytes(der);
	unsigned int critical = 0;

	if (gnutls_x509_crt_init(&crt) < 0 ||
	    gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_DER) < 0)
		return FALSE;
	return gnutls_x509_crt_get_ca_status(crt, &critical) > 0;
}

static gboolean
scep_cert_rep_read_success(ScepCertRep *self,
			   ScepSignedData *sd,
			   const ScepCertRepExpect *expect,
			   GError **error)
{
	GBytes *content = scep_signed_data_get_content(sd);
	g_autoptr(GBytes) plaintext = NULL;
	g_autoptr(ScepSignedData) degenerate = NULL;
	GPtrArray *certificates;
	GPtrArray *crls;

	if (content == NULL || g_bytes_get_size(content) == 0) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "the CertRep says SUCCESS but carries no content");
		return FALSE;
	}
	if (expect->recipient_key == NULL) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_INVALID_ARGUMENT,
				    "no key to decrypt the CertRep with");
		return FALSE;
	}
	plaintext =
	    scep_envelope_decrypt(content, expect->recipient_cert, expect->recipient_key, error);
	if (plaintext == NULL) {
		g_prefix_error(error, "CertRep: ");
		return FALSE;
	}
	degenerate = scep_signed_data_new_from_bytes(plaintext, error);
	if (degenerate == NULL) {
		g_prefix_error(error,
			       "CertRep: the decrypted content is not a certificates-only "
			       "PKCS#7: ");
		return FALSE;
	}
	certificates = scep_signed_data_get_certificates(degenerate);
	crls = scep_signed_data_get_crls(degenerate);
	for (guint i = 0; i < certificates->len; i++)
		g_ptr_array_add(self->certificates,
				g_bytes_ref(g_ptr_array_index(certificates, i)));
	for (guint i = 0; i < crls->len; i++)
		g_ptr_array_add(self->crls, g_bytes_ref(g_ptr_array_index(crls, i)));
	if (certificates->len == 0 && crls->len == 0) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "the CertRep SUCCESS holds no certificate and no CRL");
		return FALSE;
	}

	if (expect->requested_key != NULL) {
		guint8 key_id[64];
		size_t key_id_size = sizeof(key_id);
		if (!scep_gnutls_check(
			gnutls_pubkey_get_key_id(
			    expect->requested_key, GNUTLS_KEYID_USE_SHA256, key_id, &key_id_size),
			"our key id",
			error))
			return FALSE;
		for (guint i = 0; i < certificates->len && self->issued == NULL; i++) {
			GBytes *der = g_ptr_array_index(certificates, i);
			if (scep_cert_rep_has_key(der, key_id, key_id_size))
				self->issued = g_bytes_ref(der);
		}
		if (self->issued == NULL) {
			g_set_error(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "none of the %u certificates in the CertRep carries our public "
				    "key",
				    certificates->len);
			return FALSE;
		}
		return TRUE;
	}
	for (guint i = 0; i < certificates->len && self->issued == NULL; i++) {
		GBytes *der = g_ptr_array_index(certificates, i);
		if (!scep_cert_rep_is_ca(der))
			self->issued = g_bytes_ref(der);
	}
	return TRUE;
}

/**
 * scep_cert_rep_parse:
 * @der: the reply body, DER or BER
 * @expect: what the reply must match
 * @error: return location
 *
 * Verifies the signature (by one of @expect->signers), messageType, transactionID,
 * recipientNonce and pkiStatus; for SUCCESS decrypts the content and extracts the
 * certificates (and CRLs). FAILURE and PENDING are results, not errors.
 *
 * Returns: (transfer full): the reply, or %NULL with %SCEP_NDES_ERROR_BAD_RESPONSE (or
 * %SCEP_NDES_ERROR_CRYPTO when decryption fails)
 */
ScepCertRep *
scep_cert_rep_parse(GBytes *der, const ScepCertRepExpect *expect, GError **error)
{
	g_autoptr(ScepCertRep) self = g_new0(ScepCertRep, 1);
	g_autoptr(ScepSignedData) sd = NULL;

	self->certificates = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	self->crls = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);

	sd = scep_signed_data_new_from_bytes(der, error);
	if (sd == NULL) {
		g_prefix_error(error, "the reply is not a CMS SignedData: ");
		return NULL;
	}
	if (!scep_signed_data_verify(sd, expect->signers, expect->n_signers, error)) {
		g_prefix_error(error, "CertRep signature: ");
		return NULL;
	}
	self->signer = scep_signed_data_get_signer(sd);
	self->digest = scep_signed_data_get_digest_algorithm(sd);
	if (!scep_cert_rep_check_attributes(self, sd, expect, error))
		return NULL;
	if (self->status == SCEP_PKI_STATUS_FAILURE && !scep_cert_rep_read_failure(self, sd, error))
		return NULL;
	if (self->status == SCEP_PKI_STATUS_SUCCESS &&
	    !scep_cert_rep_read_success(self, sd, expect, error))
		return NULL;
	return g_steal_pointer(&self);
}

ScepPkiStatus
scep_cert_rep_get_status(const ScepCertRep *self)
{
	return self->status;
}

/* Returns: %TRUE when the reply carries a failInfo, stored in @fail_info */
gboolean
scep_cert_rep_get_fail_info(const ScepCertRep *self, guint *fail_info)
{
	if (self->has_fail_info && fail_info != NULL)
		*fail_info = self->fail_info;
	return self->has_fail_info;
}

/* Returns: (nullable): the failInfoText attribute (RFC 8894), if the server sent one */
const gchar *
scep_cert_rep_get_fail_info_text(const ScepCertRep *self)
{
	return self->fail_info_text;
}

/**
 * scep_cert_rep_describe_failure:
 *
 * Returns: (transfer full): the failure in words, e.g. "badRequest: transaction not
 * permitted or supported" or "failInfo 14606 (unknown)", with the server's text
 */
gchar *
scep_cert_rep_describe_failure(const ScepCertRep *self)
{
	GString *str = g_string_new(NULL);
	if (!self->has_fail_info) {
		g_string_append(str, "no failInfo given");
	} else if (scep_fail_info_to_string(self->fail_info) != NULL) {
		g_string_append(str, scep_fail_info_to_string(self->fail_info));
	} else {
		g_string_append_printf(str, "failInfo %u (unknown)", self->fail_info);
	}
	if (self->fail_info_text != NULL)
		g_string_append_printf(str, " (server says: %s)", self->fail_info_text);
	return g_string_free(str, FALSE);
}

const gchar *
scep_cert_rep_get_transaction_id(const ScepCertRep *self)
{
	return self->transaction_id;
}

/* Returns: (nullable): the server's 16-byte senderNonce, if it sent one */
const guint8 *
scep_cert_rep_get_sender_nonce(const ScepCertRep *self)
{
	return self->has_sender_nonce ? self->sender_nonce : NULL;
}

/* Returns: (transfer none) (nullable): DER of the issued certificate (SUCCESS) */
GBytes *
scep_cert_rep_get_issued_certificate(const ScepCertRep *self)
{
	return self->issued;
}

/* Returns: (transfer none) (element-type GBytes): all certificates of a SUCCESS */
GPtrArray *
scep_cert_rep_get_certificates(const ScepCertRep *self)
{
	return self->certificates;
}

/* Returns: (transfer none) (element-type GBytes): the CRLs of a GetCRL SUCCESS */
GPtrArray *
scep_cert_rep_get_crls(const ScepCertRep *self)
{
	return self->crls;
}

/* Returns: (transfer none): which of the expected signers signed the reply */
gnutls_x509_crt_t
scep_cert_rep_get_signer(const ScepCertRep *self)
{
	return self->signer;
}

gnutls_digest_algorithm_t
scep_cert_rep_get_digest_algorithm(const ScepCertRep *self)
{
	return self->digest;
}
