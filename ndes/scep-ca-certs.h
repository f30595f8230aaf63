#pragma once

#include <gio/gio.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

G_BEGIN_DECLS

/**
 * ScepCaCerts:
 *
 * The certificates of a GetCACert / GetNextCACert reply, classified by their extensions (never
 * by their position; a degenerate PKCS#7 certificate SET is DER-sorted, so order means nothing):
 *
 * - a certificate is a *CA certificate* when basicConstraints says CA:TRUE and its keyUsage is
 *   absent or contains keyCertSign. A CA:TRUE certificate whose keyUsage lacks keyCertSign
 *   (the ruby test server's RA) is treated as an end-entity certificate, i.e. as an RA.
 * - every other certificate is an *RA candidate*: the RA encryption certificate is one with
 *   keyEncipherment or without keyUsage; the RA signing certificate is one with digitalSignature
 *   or without keyUsage. One certificate may be both (Cisco). When several candidates fit a
 *   role, the one with the latest notBefore wins.
 * - the *CA* (the one that issues our certificate) is the CA certificate that issued the RA
 *   signing certificate (or else the RA encryption certificate); without RA, or when no bundled
 *   CA issued the RA, it is the lowest CA certificate (one that issued no other CA certificate
 *   in the bundle).
 * - the *root* is the top of the CA's issuer chain inside the bundle (the CA itself when it is
 *   self-signed or its issuer is absent); *intermediates* are all other CA certificates.
 * - with no RA, the CA serves as encryption and signing certificate.
 *
 * The allowed CertRep signers are the RA signing certificate and the CA.
 */
typedef struct _ScepCaCerts ScepCaCerts;

/* roles of one certificate; several may apply (a combined RA, a self-signed CA that is root) */
typedef enum {
	SCEP_CA_CERT_ROLE_NONE = 0,
	SCEP_CA_CERT_ROLE_CA = 1 << 0,
	SCEP_CA_CERT_ROLE_ROOT = 1 << 1,
	SCEP_CA_CERT_ROLE_INTERMEDIATE = 1 << 2,
	SCEP_CA_CERT_ROLE_RA_ENCRYPT = 1 << 3,
	SCEP_CA_CERT_ROLE_RA_SIGN = 1 << 4,
} ScepCaCertRole;

/* the largest GetCACert payload and certificate count we accept */
#define SCEP_CA_CERTS_MAX_SIZE  (1024 * 1024)
#define SCEP_CA_CERTS_MAX_COUNT 64

/* a single DER or PEM certificate, PEM certificates, or a degenerate PKCS#7 (DER, BER or PEM) */
ScepCaCerts *scep_ca_certs_parse(GBytes *payload, GError **error);
/*
 * A GetNextCACert reply: a SignedData whose content is a degenerate certs-only PKCS#7, signed by
 * @current's CA (or by the certificate @current was pinned to, when that is another one).
 * Anything else (unsigned, signed by another key, no content) is refused.
 */
ScepCaCerts *scep_ca_certs_parse_next(GBytes *signed_reply, ScepCaCerts *current, GError **error);
void scep_ca_certs_free(ScepCaCerts *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepCaCerts, scep_ca_certs_free)

/* all getters return certificates owned by @self */
gnutls_x509_crt_t scep_ca_certs_get_ca(const ScepCaCerts *self);
gnutls_x509_crt_t scep_ca_certs_get_root(const ScepCaCerts *self);
/* the RA encryption certificate, or the CA when there is no RA */
gnutls_x509_crt_t scep_ca_certs_get_ra_encrypt(const ScepCaCerts *self);
/* the RA signing certificate, or the CA when there is no RA */
gnutls_x509_crt_t scep_ca_certs_get_ra_sign(const ScepCaCerts *self);
/* whether the bundle has an RA (at least one non-CA certificate) */
gboolean scep_ca_certs_has_ra(const ScepCaCerts *self);
/* (element-type gnutls_x509_crt_t) CA certificates other than the CA and the root */
GPtrArray *scep_ca_certs_get_intermediates(const ScepCaCerts *self);
/* (element-type gnutls_x509_crt_t) every certificate, in the order received */
GPtrArray *scep_ca_certs_get_all(const ScepCaCerts *self);
/* (element-type gnutls_x509_crt_t) who may sign a CertRep: the RA signing certificate and CA */
GPtrArray *scep_ca_certs_get_signers(const ScepCaCerts *self);
/* role flags of the @index-th certificate of scep_ca_certs_get_all() */
ScepCaCertRole scep_ca_certs_get_role(const ScepCaCerts *self, guint index);
/* e.g. "CA, root" or "RA signing, RA encryption", "unused" for none */
gchar *scep_ca_cert_role_to_string(ScepCaCertRole role);

/*
 * Checks @pin against the fingerprint of the CA certificate's DER. @pin is hex, any case, with
 * optional ':' or ' ' separators. @alg is GNUTLS_DIG_MD5, GNUTLS_DIG_SHA1 or GNUTLS_DIG_SHA256,
 * or GNUTLS_DIG_UNKNOWN to infer it from the length (32, 40 or 64 hex digits).
 *
 * When the bundle holds a root above the issuing CA, a pin of either is accepted: administrators
 * see the root's thumbprint in some tools (and in NDES's mscep_admin page on some setups) and the
 * issuing CA's in others. The matched certificate becomes the trust anchor for
 * scep_ca_certs_verify_chain(). On mismatch the error (SCEP_NDES_ERROR_UNTRUSTED) names the
 * expected value and the actual fingerprint(s).
 */
gboolean scep_ca_certs_check_fingerprint(ScepCaCerts *self,
					 const gchar *pin,
					 gnutls_digest_algorithm_t alg,
					 GError **error);
/* the certificate the pin matched, or NULL when no pin was checked */
gnutls_x509_crt_t scep_ca_certs_get_pinned(const ScepCaCerts *self);

/*
 * Verifies that the CA, the intermediates it needs and the RA certificates chain to the trust
 * anchor (the pinned certificate, or the root when no pin was checked — which then proves only
 * that the bundle is consistent), and that every certificate on those paths is valid at @now
 * (Unix seconds). Errors are SCEP_NDES_ERROR_UNTRUSTED and say which certificate failed and why.
 */
gboolean scep_ca_certs_verify_chain(ScepCaCerts *self, gint64 now, GError **error);

/* colon-separated upper-case hex of @alg over the certificate's DER */
gchar *scep_ca_cert_get_fingerprint(gnutls_x509_crt_t crt, gnutls_digest_algorithm_t alg);
/* a human description: per certificate its role, subject, issuer, not-after, fingerprints */
gchar *scep_ca_certs_describe(const ScepCaCerts *self);
/*
 * Writes PEM files into @dir (created if needed): ca.pem; chain.pem (CA, intermediates, root);
 * all.pem (every certificate as received); ra-sign.pem and ra-encrypt.pem when there is an RA.
 */
gboolean scep_ca_certs_save(const ScepCaCerts *self, const gchar *dir, GError **error);

G_END_DECLS
