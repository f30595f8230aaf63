#pragma once

#include <gio/gio.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

G_BEGIN_DECLS

/* RFC 8894 §2.3 signer for first enrollment, and the Microsoft SID URI (KB5014754) */
#define SCEP_CSR_SELF_SIGNED_CN       "SCEP SIGNER"
#define SCEP_CSR_MS_SID_URI_PREFIX    "tag:microsoft.com,2022-09-14:sid:"
#define SCEP_CSR_OID_MS_UPN           "1.3.6.1.4.1.311.20.2.3"
#define SCEP_CSR_OID_MS_TEMPLATE_NAME "1.3.6.1.4.1.311.20.2"
#define SCEP_CSR_OID_MS_TEMPLATE      "1.3.6.1.4.1.311.21.7"

typedef enum {
	SCEP_CSR_SAN_DNS,
	SCEP_CSR_SAN_IP,
	SCEP_CSR_SAN_EMAIL,
	SCEP_CSR_SAN_UPN,
	SCEP_CSR_SAN_URI,
} ScepCsrSanType;

/* ---- keys ---- */

/* RSA keys of 2048, 3072 or 4096 bits; anything else is SCEP_NDES_ERROR_INVALID_ARGUMENT */
gnutls_privkey_t scep_csr_generate_key(guint bits, GError **error);
/* the same in a worker thread (4096-bit keys take up to about 2 s) */
void scep_csr_generate_key_async(guint bits,
				 GCancellable *cancellable,
				 GAsyncReadyCallback callback,
				 gpointer user_data);
gnutls_privkey_t scep_csr_generate_key_finish(GAsyncResult *result, GError **error);
/* a PEM (PKCS#8 or PKCS#1) or DER private key, unencrypted */
gnutls_privkey_t scep_csr_import_key(GBytes *data, GError **error);
gnutls_privkey_t scep_csr_load_key(const gchar *path, GError **error);
/* unencrypted PKCS#8 PEM; the buffer is wiped when the GBytes is freed */
GBytes *scep_csr_export_key_pem(gnutls_privkey_t key, GError **error);

/* ---- request parameters ---- */

/*
 * ScepCsrParams:
 *
 * What goes into the CSR. Defaults: no subject (building then fails), no SANs, no challenge,
 * keyUsage digitalSignature + keyEncipherment (critical), EKU clientAuth (not critical), no
 * template extension. The challenge password is a secret: it is never logged and its copy is
 * wiped when replaced or freed.
 */
typedef struct _ScepCsrParams ScepCsrParams;

ScepCsrParams *scep_csr_params_new(void);
void scep_csr_params_free(ScepCsrParams *self);
ScepCsrParams *scep_csr_params_copy(const ScepCsrParams *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepCsrParams, scep_csr_params_free)

/*
 * @dn is an RFC 4514 string: RDNs separated by ',', the AVAs of a multi-valued RDN by '+',
 * backslash escapes (\, \+ \" \\ \< \> \; \= \# and \XX hex). As in RFC 4514 (and GnuTLS), the
 * string starts with the *last* RDN: "CN=host,OU=a+OU=b,O=Org,C=DE" is encoded as
 * C=DE / O=Org / {OU=a, OU=b} / CN=host, the AVAs of one RDN sorted as DER SET OF requires.
 * (`openssl req -nameopt RFC2253` reverses every AVA, inside an RDN too, so it prints this as
 * "CN=host,OU=b+OU=a,O=Org,C=DE"; `-nameopt oneline` shows the encoded order.)
 * Attribute names: CN, SN, serialNumber, C, L, ST (or S), street, O, OU, title, GN (givenName),
 * initials, pseudonym, postalCode, DC, UID, emailAddress (or E, EMAIL), or a dotted OID
 * (optionally "OID."-prefixed). C and serialNumber are PrintableString, DC and emailAddress
 * IA5String, everything else UTF8String.
 */
gboolean scep_csr_params_set_subject(ScepCsrParams *self, const gchar *dn, GError **error);
/* the DER Name for an RFC 4514 string, as scep_csr_params_set_subject() encodes it */
GBytes *scep_csr_dn_to_der(const gchar *dn, GError **error);

/* validated: DNS names, IPv4/IPv6 literals, e-mail (ASCII), UPN (UTF-8, with '@'), URIs */
gboolean scep_csr_params_add_san(ScepCsrParams *self,
				 ScepCsrSanType type,
				 const gchar *value,
				 GError **error);
/* "TYPE:VALUE" with TYPE dns, ip, email, upn, uri or sid (sid:S-1-5-… becomes the MS SID URI) */
gboolean scep_csr_params_add_san_spec(ScepCsrParams *self, const gchar *spec, GError **error);
/* SCEP_CSR_MS_SID_URI_PREFIX + the SID, after checking the form S-1-5-<n>(-<n>)* */
gchar *scep_csr_make_sid_uri(const gchar *sid, GError **error);

void scep_csr_params_set_challenge_password(ScepCsrParams *self, const gchar *password);
/* GNUTLS_KEY_* bits; 0 = no keyUsage extension */
void scep_csr_params_set_key_usage(ScepCsrParams *self, unsigned int usage);
/* dotted OIDs; NULL or empty = no EKU extension */
gboolean scep_csr_params_set_extended_key_usages(ScepCsrParams *self,
						 const gchar *const *oids,
						 GError **error);
/* v1 template name extension (1.3.6.1.4.1.311.20.2, BMPString); replaces a v2 template */
gboolean scep_csr_params_set_template_name(ScepCsrParams *self, const gchar *name, GError **error);
/* v2 template extension (1.3.6.1.4.1.311.21.7); @minor < 0 = absent; replaces a v1 name */
gboolean scep_csr_params_set_template(
    ScepCsrParams *self, const gchar *oid, guint major, gint minor, GError **error);

/* ---- building ---- */

/* a DER PKCS#10 request signed with @key; @dig SHA-256 etc. (GNUTLS_DIG_UNKNOWN = SHA-256) */
GBytes *scep_csr_build(const ScepCsrParams *params,
		       gnutls_privkey_t key,
		       gnutls_digest_algorithm_t dig,
		       GError **error);

/*
 * RFC 8894 §2.3 temporary signer for first enrollment: subject = the CSR's subject
 * (CN=SCEP SIGNER when empty), the CSR's public key (which must be @key's), a random positive
 * 127-bit serial, notBefore 10 minutes back, notAfter 7 days ahead, keyUsage digitalSignature +
 * keyEncipherment, signed with SHA-256. Returned freshly re-imported from DER.
 */
gnutls_x509_crt_t
scep_csr_make_self_signed_signer(gnutls_privkey_t key, GBytes *csr_der, GError **error);

/* RFC 8894 §3.2.1.1: upper-case hex SHA-256 of the DER SubjectPublicKeyInfo; NULL on failure */
gchar *scep_csr_transaction_id(gnutls_pubkey_t key);

G_END_DECLS
