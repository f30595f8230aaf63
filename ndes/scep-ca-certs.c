#include "config.h"

#include "scep-ca-certs.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <gnutls/pkcs7.h>
#include <string.h>

#include "scep-gnutls-common.h"
#include "scep-ndes-error.h"

struct _ScepCaCerts {
	GPtrArray *all;           /* owned, of gnutls_x509_crt_t */
	GArray *roles;            /* of ScepCaCertRole, parallel to all */
	GPtrArray *intermediates; /* borrowed from all */
	GPtrArray *signers;       /* borrowed from all */
	gint ca;
	gint root;
	gint ra_encrypt; /* -1 when there is no RA */
	gint ra_sign;    /* -1 when there is no RA */
	gint pinned;     /* -1 until a fingerprint matched */
};

static void
scep_ca_certs_crt_free(gpointer crt)
{
	gnutls_x509_crt_deinit(crt);
}

void
scep_ca_certs_free(ScepCaCerts *self)
{
	if (self == NULL)
		return;
	g_ptr_array_unref(self->intermediates);
	g_ptr_array_unref(self->signers);
	g_ptr_array_unref(self->all);
	g_array_unref(self->roles);
	g_free(self);
}

static ScepCaCerts *
scep_ca_certs_new(void)
{
	ScepCaCerts *self = g_new0(ScepCaCerts, 1);
	self->all = g_ptr_array_new_with_free_func(scep_ca_certs_crt_free);
	self->roles = g_array_new(FALSE, TRUE, sizeof(ScepCaCertRole));
	self->intermediates = g_ptr_array_new();
	self->signers = g_ptr_array_new();
	self->ca = -1;
	self->root = -1;
	self->ra_encrypt = -1;
	self->ra_sign = -1;
	self->pinned = -1;
	return self;
}

static gnutls_x509_crt_t
scep_ca_certs_crt(const ScepCaCerts *self, gint index)
{
	if (index < 0)
		return NULL;
	return g_ptr_array_index(self->all, (guint)index);
}

/* a subject (or issuer) DN for messages; never NULL */
static gchar *
scep_ca_certs_dup_dn(gnutls_x509_crt_t crt, gboolean issuer)
{
	g_auto(ScepGnutlsDatum) dn = { NULL, 0 };
	int rc = issuer ? gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0)
			: gnutls_x509_crt_get_dn3(crt, &dn, 0);
	if (rc < 0 || dn.data == NULL)
		return g_strdup("(unreadable name)");
	return g_strndup((const gchar *)dn.data, dn.size);
}

static gboolean
scep_ca_certs_add_der(ScepCaCerts *self, const gnutls_datum_t *der, GError **error)
{
	g_auto(gnutls_x509_crt_t) crt = NULL;
	ScepCaCertRole role = SCEP_CA_CERT_ROLE_NONE;
	int rc;

	if (self->all->len >= SCEP_CA_CERTS_MAX_COUNT) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "too many certificates in the CA reply (limit %u)",
			    (guint)SCEP_CA_CERTS_MAX_COUNT);
		return FALSE;
	}
	if (!scep_gnutls_check(gnutls_x509_crt_init(&crt), "cannot create certificate", error))
		return FALSE;
	rc = gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER);
	if (rc < 0) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "cannot read a certificate of the CA reply: %s",
			    gnutls_strerror(rc));
		return FALSE;
	}
	g_ptr_array_add(self->all, g_steal_pointer(&crt));
	g_array_append_val(self->roles, role);
	return TRUE;
}

static gboolean
scep_ca_certs_load_pkcs7(ScepCaCerts *self,
			 const gnutls_datum_t *data,
			 gnutls_x509_crt_fmt_t fmt,
			 GError **error)
{
	g_auto(gnutls_pkcs7_t) p7 = NULL;
	int count;

	if (!scep_gnutls_check(gnutls_pkcs7_init(&p7), "cannot create PKCS#7", error))
		return FALSE;
	if (gnutls_pkcs7_import(p7, data, fmt) < 0)
		return FALSE; /* not PKCS#7: the caller tries the next form */
	count = gnutls_pkcs7_get_crt_count(p7);
	if (count <= 0) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "the PKCS#7 bundle of the CA reply holds no certificates");
		return FALSE;
	}
	for (int i = 0; i < count; i++) {
		g_auto(ScepGnutlsDatum) der = { NULL, 0 };
		int rc = gnutls_pkcs7_get_crt_raw2(p7, (unsigned)i, &der);
		if (rc < 0) {
			g_set_error(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "cannot read a certificate of the PKCS#7 bundle: %s",
				    gnutls_strerror(rc));
			return FALSE;
		}
		if (!scep_ca_certs_add_der(self, &der, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
scep_ca_certs_load_pem_certs(ScepCaCerts *self, const gnutls_datum_t *data, GError **error)
{
	gnutls_x509_crt_t *list = NULL;
	unsigned int count = 0;
	gboolean ok = TRUE;
	int rc = gnutls_x509_crt_list_import2(&list, &count, data, GNUTLS_X509_FMT_PEM, 0);

	if (rc < 0 || count == 0) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "cannot read the PEM certificates of the CA reply: %s",
			    rc < 0 ? gnutls_strerror(rc) : "none found");
		return FALSE;
	}
	for (unsigned int i = 0; i < count; i++) {
		ScepCaCertRole role = SCEP_CA_CERT_ROLE_NONE;
		if (ok && self->all->len < SCEP_CA_CERTS_MAX_COUNT) {
			g_ptr_array_add(self->all, list[i]);
			g_array_append_val(self->roles, role);
			continue;
		}
		ok = FALSE;
		gnutls_x509_crt_deinit(list[i]);
	}
	gnutls_free(list);
	if (!ok) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "too many certificates in the CA reply (limit %u)",
			    (guint)SCEP_CA_CERTS_MAX_COUNT);
	}
	return ok;
}

static gboolean
scep_ca_certs_is_ca(gnutls_x509_crt_t crt)
{
	unsigned int ca = 0;
	unsigned int usage = 0;
	int rc = gnutls_x509_crt_get_basic_constraints(crt, NULL, &ca, NULL);

	if (rc < 0 || ca == 0)
		return FALSE;
	rc = gnutls_x509_crt_get_key_usage(crt, &usage, NULL);
	if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return TRUE;
	if (rc < 0)
		return FALSE;
	/* a CA:TRUE certificate that cannot sign certificates is used as an RA (ruby server) */
	return (usage & GNUTLS_KEY_KEY_CERT_SIGN) != 0;
}

static gboolean
scep_ca_certs_is_self_issued(gnutls_x509_crt_t crt)
{
	return gnutls_x509_crt_check_issuer(crt, crt) != 0;
}

/* the index of a certificate in @candidates (a mask over all) that issued @child, or -1 */
static gint
scep_ca_certs_find_issuer(const ScepCaCerts *self, gint child, const gboolean *is_ca)
{
	gnutls_x509_crt_t crt = scep_ca_certs_crt(self, child);
	for (guint i = 0; i < self->all->len; i++) {
		if ((gint)i == child || !is_ca[i])
			continue;
		if (gnutls_x509_crt_check_issuer(crt, g_ptr_array_index(self->all, i)) != 0)
			return (gint)i;
	}
	return -1;
}

/* among non-CA certificates with one of @usage_bits (or no keyUsage), the newest */
static gint
scep_ca_certs_pick_ra(const ScepCaCerts *self, const gboolean *is_ca, unsigned int usage_bits)
{
	gint best = -1;
	time_t best_time = 0;

	for (guint i = 0; i < self->all->len; i++) {
		gnutls_x509_crt_t crt = g_ptr_array_index(self->all, i);
		unsigned int usage = 0;
		int rc;
		time_t activation;

		if (is_ca[i])
			continue;
		rc = gnutls_x509_crt_get_key_usage(crt, &usage, NULL);
		if (rc >= 0 && (usage & usage_bits) == 0)
			continue;
		if (rc < 0 && rc != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			continue;
		activation = gnutls_x509_crt_get_activation_time(crt);
		if (best < 0 || activation > best_time) {
			best = (gint)i;
			best_time = activation;
		}
	}
	return best;
}

static void
scep_ca_certs_add_role(ScepCaCerts *self, gint index, ScepCaCertRole role)
{
	if (index < 0)
		return;
	g_array_index(self->roles, ScepCaCertRole, index) |= role;
}

static gboolean
scep_ca_certs_classify(ScepCaCerts *self, GError **error)
{
	guint n = self->all->len;
	g_autofree gboolean *is_ca = g_new0(gboolean, n);
	gboolean any_ca = FALSE;
	gint anchor_ra;
	gint cur;

	for (guint i = 0; i < n; i++) {
		is_ca[i] = scep_ca_certs_is_ca(g_ptr_array_index(self->all, i));
		any_ca = any_ca || is_ca[i];
	}
	/* RFC 8894 §4.2.1.1: a single certificate is the CA certificate, whatever it says */
	if (n == 1)
		is_ca[0] = any_ca = TRUE;
	/* old CAs without basicConstraints: fall back to self-signed certificates */
	for (guint i = 0; !any_ca && i < n; i++) {
		if (scep_ca_certs_is_self_issued(g_ptr_array_index(self->all, i)))
			is_ca[i] = TRUE;
	}
	for (guint i = 0; i < n; i++)
		any_ca = any_ca || is_ca[i];
	if (!any_ca) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "the CA reply holds %u certificates but no CA certificate",
			    n);
		return FALSE;
	}

	self->ra_encrypt = scep_ca_certs_pick_ra(self, is_ca, GNUTLS_KEY_KEY_ENCIPHERMENT);
	self->ra_sign = scep_ca_certs_pick_ra(self, is_ca, GNUTLS_KEY_DIGITAL_SIGNATURE);
	if (self->ra_encrypt < 0 && self->ra_sign >= 0) {
		g_set_error_literal(
		    error,
		    SCEP_NDES_ERROR,
		    SCEP_NDES_ERROR_BAD_RESPONSE,
		    "the CA reply has an RA signing certificate but no RA encryption "
		    "certificate");
		return FALSE;
	}
	if (self->ra_sign < 0 && self->ra_encrypt >= 0) {
		g_set_error_literal(
		    error,
		    SCEP_NDES_ERROR,
		    SCEP_NDES_ERROR_BAD_RESPONSE,
		    "the CA reply has an RA encryption certificate but no RA signing "
		    "certificate");
		return FALSE;
	}

	/* the issuing CA: the one that issued the RA */
	anchor_ra = self->ra_sign;
	if (anchor_ra >= 0)
		self->ca = scep_ca_certs_find_issuer(self, anchor_ra, is_ca);
	if (self->ca < 0 && self->ra_encrypt >= 0)
		self->ca = scep_ca_certs_find_issuer(self, self->ra_encrypt, is_ca);
	/* otherwise the lowest CA: one that issued no other CA certificate */
	for (guint i = 0; self->ca < 0 && i < n; i++) {
		gboolean issued_other = FALSE;
		if (!is_ca[i])
			continue;
		for (guint j = 0; j < n && !issued_other; j++) {
			if (j == i || !is_ca[j])
				continue;
			issued_other =
			    gnutls_x509_crt_check_issuer(g_ptr_array_index(self->all, j),
							 g_ptr_array_index(self->all, i)) != 0;
		}
		if (!issued_other)
			self->ca = (gint)i;
	}
	for (guint i = 0; self->ca < 0 && i < n; i++) {
		if (is_ca[i])
			self->ca = (gint)i;
	}

	/* the root: walk up from the CA inside the bundle */
	cur = self->ca;
	for (guint steps = 0; steps < n; steps++) {
		gint parent;
		if (scep_ca_certs_is_self_issued(scep_ca_certs_crt(self, cur)))
			break;
		parent = scep_ca_certs_find_issuer(self, cur, is_ca);
		if (parent < 0)
			break;
		cur = parent;
	}
	self->root = cur;

	scep_ca_certs_add_role(self, self->ca, SCEP_CA_CERT_ROLE_CA);
	scep_ca_certs_add_role(self, self->root, SCEP_CA_CERT_ROLE_ROOT);
	scep_ca_certs_add_role(self, self->ra_encrypt, SCEP_CA_CERT_ROLE_RA_ENCRYPT);
	scep_ca_certs_add_role(self, self->ra_sign, SCEP_CA_CERT_ROLE_RA_SIGN);
	for (guint i = 0; i < n; i++) {
		if (is_ca[i] && (gint)i != self->ca && (gint)i != self->root) {
			scep_ca_certs_add_role(self, (gint)i, SCEP_CA_CERT_ROLE_INTERMEDIATE);
			g_ptr_array_add(self->intermediates, g_ptr_array_index(self->all, i));
		}
	}
	if (self->ra_sign >= 0)
		g_ptr_array_add(self->signers, scep_ca_certs_crt(self, self->ra_sign));
	g_ptr_array_add(self->signers, scep_ca_certs_crt(self, self->ca));
	return TRUE;
}

static gboolean
scep_ca_certs_is_pem(const guint8 *data, gsize len)
{
	return g_strstr_len((const gchar *)data, (gssize)MIN(len, 65536), "-----BEGIN ") != NULL;
}

/**
 * scep_ca_certs_parse:
 * @payload: the body of a GetCACert reply
 * @error: return location
 *
 * Reads and classifies the certificates. Nothing is trusted yet: call
 * scep_ca_certs_check_fingerprint() and scep_ca_certs_verify_chain() next.
 *
 * Returns: (transfer full): the certificates, or %NULL with @error set
 */
ScepCaCerts *
scep_ca_certs_parse(GBytes *payload, GError **error)
{
	g_autoptr(ScepCaCerts) self = scep_ca_certs_new();
	gsize len = 0;
	const guint8 *data;
	gnutls_datum_t datum;
	g_autoptr(GError) error_local = NULL;

	g_return_val_if_fail(payload != NULL, NULL);

	data = g_bytes_get_data(payload, &len);
	if (len == 0) {
		g_set_error_literal(
		    error, SCEP_NDES_ERROR, SCEP_NDES_ERROR_BAD_RESPONSE, "the CA reply is empty");
		return NULL;
	}
	if (len > SCEP_CA_CERTS_MAX_SIZE) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "the CA reply is too large (%" G_GSIZE_FORMAT " bytes, limit %u)",
			    len,
			    (guint)SCEP_CA_CERTS_MAX_SIZE);
		return NULL;
	}
	datum = scep_gnutls_datum_from_bytes(payload);

	if (scep_ca_certs_is_pem(data, len)) {
		if (g_strstr_len((const gchar *)data, (gssize)len, "-----BEGIN PKCS7-----") !=
		    NULL) {
			if (!scep_ca_certs_load_pkcs7(
				self, &datum, GNUTLS_X509_FMT_PEM, &error_local)) {
				if (error_local != NULL) {
					g_propagate_error(error, g_steal_pointer(&error_local));
					return NULL;
				}
				g_set_error_literal(error,
						    SCEP_NDES_ERROR,
						    SCEP_NDES_ERROR_BAD_RESPONSE,
						    "the CA reply holds an unreadable PEM PKCS#7");
				return NULL;
			}
		} else if (!scep_ca_certs_load_pem_certs(self, &datum, error)) {
			return NULL;
		}
	} else if (!scep_ca_certs_load_pkcs7(self, &datum, GNUTLS_X509_FMT_DER, &error_local)) {
		g_auto(gnutls_x509_crt_t) crt = NULL;
		if (error_local != NULL) {
			g_propagate_error(error, g_steal_pointer(&error_local));
			return NULL;
		}
		if (!scep_gnutls_check(
			gnutls_x509_crt_init(&crt), "cannot create certificate", error))
			return NULL;
		if (gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_DER) < 0) {
			g_set_error(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "the CA reply (%" G_GSIZE_FORMAT " bytes) is neither a "
				    "certificate nor a PKCS#7 bundle, or it is truncated",
				    len);
			return NULL;
		}
		if (!scep_ca_certs_add_der(self, &datum, error))
			return NULL;
	}

	if (!scep_ca_certs_classify(self, error))
		return NULL;
	return g_steal_pointer(&self);
}

/* a fresh copy through DER: a trust list takes ownership, and new handles verify reliably */
static gnutls_x509_crt_t
scep_ca_certs_copy_crt(gnutls_x509_crt_t crt, GError **error)
{
	g_auto(ScepGnutlsDatum) der = { NULL, 0 };
	g_auto(gnutls_x509_crt_t) copy = NULL;

	if (!scep_gnutls_check(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der),
			       "cannot export certificate",
			       error))
		return NULL;
	if (!scep_gnutls_check(gnutls_x509_crt_init(&copy), "cannot create certificate", error))
		return NULL;
	if (!scep_gnutls_check(gnutls_x509_crt_import(copy, &der, GNUTLS_X509_FMT_DER),
			       "cannot import certificate",
			       error))
		return NULL;
	return g_steal_pointer(&copy);
}

/**
 * scep_ca_certs_parse_next:
 * @signed_reply: the body of a GetNextCACert reply
 * @current: the certificates in use now (checked and verified)
 * @error: return location
 *
 * Returns: (transfer full): the next CA certificates, or %NULL with @error set
 */
ScepCaCerts *
scep_ca_certs_parse_next(GBytes *signed_reply, ScepCaCerts *current, GError **error)
{
	g_auto(gnutls_pkcs7_t) p7 = NULL;
	g_auto(ScepGnutlsDatum) content = { NULL, 0 };
	g_autoptr(GBytes) inner = NULL;
	g_autoptr(GPtrArray) candidates = g_ptr_array_new();
	gnutls_datum_t datum;
	int signatures;
	int last_rc = 0;
	gboolean verified = FALSE;
	gsize len = 0;

	g_return_val_if_fail(signed_reply != NULL, NULL);
	g_return_val_if_fail(current != NULL, NULL);

	g_bytes_get_data(signed_reply, &len);
	if (len == 0) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "the GetNextCACert reply is empty");
		return NULL;
	}
	datum = scep_gnutls_datum_from_bytes(signed_reply);
	if (!scep_gnutls_check(gnutls_pkcs7_init(&p7), "cannot create PKCS#7", error))
		return NULL;
	if (gnutls_pkcs7_import(p7, &datum, GNUTLS_X509_FMT_DER) < 0) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "the GetNextCACert reply (%" G_GSIZE_FORMAT " bytes) is not a PKCS#7 "
			    "SignedData, or it is truncated",
			    len);
		return NULL;
	}
	signatures = gnutls_pkcs7_get_signature_count(p7);
	if (signatures <= 0) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_UNTRUSTED,
				    "the GetNextCACert reply is not signed");
		return NULL;
	}

	g_ptr_array_add(candidates, scep_ca_certs_get_ca(current));
	if (current->pinned >= 0 && current->pinned != current->ca)
		g_ptr_array_add(candidates, scep_ca_certs_crt(current, current->pinned));
	for (guint c = 0; c < candidates->len && !verified; c++) {
		for (int idx = 0; idx < signatures && !verified; idx++) {
			/* time is checked by scep_ca_certs_verify_chain(); here only the signature
			 */
			int rc = gnutls_pkcs7_verify_direct(
			    p7,
			    g_ptr_array_index(candidates, c),
			    (unsigned)idx,
			    NULL,
			    GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
				GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS);
			/* 65536: the signature is good, the CA's keyUsage lacks digitalSignature */
			if (rc == 0 || rc == GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE)
				verified = TRUE;
			else
				last_rc = rc;
		}
	}
	if (!verified) {
		g_autofree gchar *subject =
		    scep_ca_certs_dup_dn(scep_ca_certs_get_ca(current), FALSE);
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_UNTRUSTED,
			    "the GetNextCACert reply is not signed by the current CA '%s' (%s)",
			    subject,
			    last_rc < 0 ? gnutls_strerror(last_rc)
					: "unexpected verification result");
		return NULL;
	}
	if (gnutls_pkcs7_get_embedded_data(p7, 0, &content) < 0 || content.size == 0) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "the GetNextCACert reply carries no certificates");
		return NULL;
	}
	inner = scep_gnutls_datum_to_bytes(&content);
	return scep_ca_certs_parse(inner, error);
}

gnutls_x509_crt_t
scep_ca_certs_get_ca(const ScepCaCerts *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return scep_ca_certs_crt(self, self->ca);
}

gnutls_x509_crt_t
scep_ca_certs_get_root(const ScepCaCerts *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return scep_ca_certs_crt(self, self->root);
}

gboolean
scep_ca_certs_has_ra(const ScepCaCerts *self)
{
	g_return_val_if_fail(self != NULL, FALSE);
	return self->ra_sign >= 0;
}

gnutls_x509_crt_t
scep_ca_certs_get_ra_encrypt(const ScepCaCerts *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return scep_ca_certs_crt(self, self->ra_encrypt >= 0 ? self->ra_encrypt : self->ca);
}

gnutls_x509_crt_t
scep_ca_certs_get_ra_sign(const ScepCaCerts *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return scep_ca_certs_crt(self, self->ra_sign >= 0 ? self->ra_sign : self->ca);
}

GPtrArray *
scep_ca_certs_get_intermediates(const ScepCaCerts *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->intermediates;
}

GPtrArray *
scep_ca_certs_get_all(const ScepCaCerts *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->all;
}

GPtrArray *
scep_ca_certs_get_signers(const ScepCaCerts *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->signers;
}

ScepCaCertRole
scep_ca_certs_get_role(const ScepCaCerts *self, guint index)
{
	g_return_val_if_fail(self != NULL, SCEP_CA_CERT_ROLE_NONE);
	g_return_val_if_fail(index < self->roles->len, SCEP_CA_CERT_ROLE_NONE);
	return g_array_index(self->roles, ScepCaCertRole, index);
}

gnutls_x509_crt_t
scep_ca_certs_get_pinned(const ScepCaCerts *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return scep_ca_certs_crt(self, self->pinned);
}

gchar *
scep_ca_cert_role_to_string(ScepCaCertRole role)
{
	g_autoptr(GPtrArray) names = g_ptr_array_new_null_terminated(5, NULL, TRUE);

	if (role & SCEP_CA_CERT_ROLE_CA)
		g_ptr_array_add(names, (gpointer) "CA");
	if (role & SCEP_CA_CERT_ROLE_ROOT)
		g_ptr_array_add(names, (gpointer) "root");
	if (role & SCEP_CA_CERT_ROLE_INTERMEDIATE)
		g_ptr_array_add(names, (gpointer) "intermediate");
	if (role & SCEP_CA_CERT_ROLE_RA_SIGN)
		g_ptr_array_add(names, (gpointer) "RA signing");
	if (role & SCEP_CA_CERT_ROLE_RA_ENCRYPT)
		g_ptr_array_add(names, (gpointer) "RA encryption");
	if (names->len == 0)
		return g_strdup("unused");
	return g_strjoinv(", ", (gchar **)names->pdata);
}

gchar *
scep_ca_cert_get_fingerprint(gnutls_x509_crt_t crt, gnutls_digest_algorithm_t alg)
{
	guint8 buf[64];
	size_t size = sizeof(buf);
	GString *str;

	g_return_val_if_fail(crt != NULL, NULL);
	if (gnutls_x509_crt_get_fingerprint(crt, alg, buf, &size) < 0)
		return NULL;
	str = g_string_sized_new(size * 3);
	for (size_t i = 0; i < size; i++)
		g_string_append_printf(str, i == 0 ? "%02X" : ":%02X", buf[i]);
	return g_string_free(str, FALSE);
}

/* hex digits only, upper case; NULL when @pin holds anything but hex, ':' and ' ' */
static gchar *
scep_ca_certs_normalize_pin(const gchar *pin)
{
	GString *str = g_string_new(NULL);
	for (const gchar *p = pin; *p != '\0'; p++) {
		if (*p == ':' || *p == ' ')
			continue;
		if (!g_ascii_isxdigit(*p)) {
			g_string_free(str, TRUE);
			return NULL;
		}
		g_string_append_c(str, g_ascii_toupper(*p));
	}
	return g_string_free(str, FALSE);
}

static gchar *
scep_ca_certs_strip_colons(const gchar *fingerprint)
{
	g_auto(GStrv) parts = g_strsplit(fingerprint, ":", -1);
	return g_strjoinv("", parts);
}

gboolean
scep_ca_certs_check_fingerprint(ScepCaCerts *self,
				const gchar *pin,
				gnutls_digest_algorithm_t alg,
				GError **error)
{
	g_autofree gchar *want = NULL;
	g_autoptr(GString) actual = g_string_new(NULL);
	gint candidates[2];
	guint n_candidates = 0;
	gsize hexlen;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(pin != NULL, FALSE);

	want = scep_ca_certs_normalize_pin(pin);
	if (want == NULL || *want == '\0') {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "CA fingerprint '%s' is not hexadecimal",
			    pin);
		return FALSE;
	}
	hexlen = strlen(want);
	if (alg == GNUTLS_DIG_UNKNOWN) {
		if (hexlen == 32)
			alg = GNUTLS_DIG_MD5;
		else if (hexlen == 40)
			alg = GNUTLS_DIG_SHA1;
		else if (hexlen == 64)
			alg = GNUTLS_DIG_SHA256;
	}
	if (alg != GNUTLS_DIG_MD5 && alg != GNUTLS_DIG_SHA1 && alg != GNUTLS_DIG_SHA256) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "CA fingerprint has %" G_GSIZE_FORMAT
			    " hex digits: expected 32 (MD5), 40 (SHA-1) or 64 (SHA-256)",
			    hexlen);
		return FALSE;
	}
	if (hexlen != gnutls_hash_get_len(alg) * 2) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_INVALID_ARGUMENT,
			    "CA fingerprint has %" G_GSIZE_FORMAT " hex digits, but %s needs %u",
			    hexlen,
			    gnutls_digest_get_name(alg),
			    gnutls_hash_get_len(alg) * 2);
		return FALSE;
	}

	candidates[n_candidates++] = self->ca;
	if (self->root != self->ca)
		candidates[n_candidates++] = self->root;
	for (guint i = 0; i < n_candidates; i++) {
		g_autofree gchar *fp = NULL;
		g_autofree gchar *fp_plain = NULL;
		g_autofree gchar *subject = NULL;

		fp = scep_ca_cert_get_fingerprint(scep_ca_certs_crt(self, candidates[i]), alg);
		if (fp == NULL)
			continue;
		fp_plain = scep_ca_certs_strip_colons(fp);
		if (g_strcmp0(fp_plain, want) == 0) {
			self->pinned = candidates[i];
			return TRUE;
		}
		subject = scep_ca_certs_dup_dn(scep_ca_certs_crt(self, candidates[i]), FALSE);
		g_string_append_printf(actual,
				       "%s%s (%s '%s')",
				       i == 0 ? "" : ", ",
				       fp,
				       candidates[i] == self->ca ? "CA" : "root",
				       subject);
	}
	{
		g_autofree gchar *want_colons = NULL;
		GString *tmp = g_string_new(NULL);
		for (gsize i = 0; i < hexlen; i += 2)
			g_string_append_printf(tmp, i == 0 ? "%.2s" : ":%.2s", want + i);
		want_colons = g_string_free(tmp, FALSE);
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_UNTRUSTED,
			    "CA certificate fingerprint mismatch: expected %s %s, server sent %s",
			    gnutls_digest_get_name(alg),
			    want_colons,
			    actual->str);
	}
	return FALSE;
}

static gchar *
scep_ca_certs_format_time(time_t t)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc((gint64)t);
	if (dt == NULL)
		return g_strdup("(invalid time)");
	return g_date_time_format(dt, "%Y-%m-%d %H:%M:%S UTC");
}

static gboolean
scep_ca_certs_check_time(gnutls_x509_crt_t crt, const gchar *what, gint64 now, GError **error)
{
	time_t not_before = gnutls_x509_crt_get_activation_time(crt);
	time_t not_after = gnutls_x509_crt_get_expiration_time(crt);
	g_autofree gchar *subject = NULL;
	g_autofree gchar *at = NULL;
	g_autofree gchar *when = NULL;

	if (not_before != (time_t)-1 && now < (gint64)not_before) {
		subject = scep_ca_certs_dup_dn(crt, FALSE);
		at = scep_ca_certs_format_time((time_t)now);
		when = scep_ca_certs_format_time(not_before);
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_UNTRUSTED,
			    "%s certificate '%s' is not yet valid: valid from %s, checked at %s",
			    what,
			    subject,
			    when,
			    at);
		return FALSE;
	}
	if (not_after != (time_t)-1 && now > (gint64)not_after) {
		subject = scep_ca_certs_dup_dn(crt, FALSE);
		at = scep_ca_certs_format_time((time_t)now);
		when = scep_ca_certs_format_time(not_after);
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_UNTRUSTED,
			    "%s certificate '%s' has expired: valid until %s, checked at %s",
			    what,
			    subject,
			    when,
			    at);
		return FALSE;
	}
	return TRUE;
}

static const gchar *
scep_ca_certs_role_word(const ScepCaCerts *self, gint index)
{
	if (index == self->ca)
		return "CA";
	if (index == self->root)
		return "root";
	if (index == self->ra_sign)
		return "RA signing";
	if (index == self->ra_encrypt)
		return "RA encryption";
	return "intermediate";
}

/* @target up to the anchor through the bundle; a path ending anywhere else is an error */
static gboolean
scep_ca_certs_verify_one(ScepCaCerts *self,
			 gint target,
			 gint anchor,
			 gnutls_x509_trust_list_t tl,
			 gint64 now,
			 GError **error)
{
	g_autofree gboolean *is_ca = g_new0(gboolean, self->all->len);
	g_autofree gnutls_x509_crt_t *chain = g_new0(gnutls_x509_crt_t, self->all->len);
	g_autofree gint *path = g_new0(gint, self->all->len + 1);
	guint n_chain = 0;
	guint n_path = 0;
	gint cur = target;
	unsigned int status = 0;
	int rc;

	for (guint i = 0; i < self->all->len; i++) {
		ScepCaCertRole role = g_array_index(self->roles, ScepCaCertRole, i);
		is_ca[i] = (role & (SCEP_CA_CERT_ROLE_CA | SCEP_CA_CERT_ROLE_ROOT |
				    SCEP_CA_CERT_ROLE_INTERMEDIATE)) != 0;
	}
	while (cur != anchor) {
		gint parent;
		if (n_chain >= self->all->len)
			break;
		chain[n_chain++] = scep_ca_certs_crt(self, cur);
		path[n_path++] = cur;
		parent = scep_ca_certs_find_issuer(self, cur, is_ca);
		if (parent < 0 || parent == cur)
			break;
		cur = parent;
	}
	if (cur != anchor) {
		g_autofree gchar *subject =
		    scep_ca_certs_dup_dn(scep_ca_certs_crt(self, target), FALSE);
		g_autofree gchar *anchor_subject =
		    scep_ca_certs_dup_dn(scep_ca_certs_crt(self, anchor), FALSE);
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_UNTRUSTED,
			    "%s certificate '%s' does not chain to the trusted certificate '%s'",
			    scep_ca_certs_role_word(self, target),
			    subject,
			    anchor_subject);
		return FALSE;
	}
	path[n_path++] = anchor;

	rc = gnutls_x509_trust_list_verify_crt2(tl,
						chain,
						n_chain,
						NULL,
						0,
						GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
						    GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS |
						    GNUTLS_VERIFY_ALLOW_SIGN_WITH_SHA1,
						&status,
						NULL);
	if (rc < 0 || status != 0) {
		g_autofree gchar *subject =
		    scep_ca_certs_dup_dn(scep_ca_certs_crt(self, target), FALSE);
		g_auto(ScepGnutlsDatum) why = { NULL, 0 };
		if (rc >= 0)
			gnutls_certificate_verification_status_print(
			    status, GNUTLS_CRT_X509, &why, 0);
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_UNTRUSTED,
			    "%s certificate '%s' does not verify: %s",
			    scep_ca_certs_role_word(self, target),
			    subject,
			    rc < 0             ? gnutls_strerror(rc)
			    : why.data != NULL ? (const gchar *)why.data
					       : "broken chain");
		return FALSE;
	}
	for (guint i = 0; i < n_path; i++) {
		if (!scep_ca_certs_check_time(scep_ca_certs_crt(self, path[i]),
					      scep_ca_certs_role_word(self, path[i]),
					      now,
					      error))
			return FALSE;
	}
	return TRUE;
}

gboolean
scep_ca_certs_verify_chain(ScepCaCerts *self, gint64 now, GError **error)
{
	g_auto(gnutls_x509_trust_list_t) tl = NULL;
	gnutls_x509_crt_t anchor_copy;
	gint anchor;
	gint targets[3];
	guint n_targets = 0;

	g_return_val_if_fail(self != NULL, FALSE);

	anchor = self->pinned >= 0 ? self->pinned : self->root;
	if (!scep_gnutls_check(
		gnutls_x509_trust_list_init(&tl, 0), "cannot create trust list", error))
		return FALSE;
	anchor_copy = scep_ca_certs_copy_crt(scep_ca_certs_crt(self, anchor), error);
	if (anchor_copy == NULL)
		return FALSE;
	if (gnutls_x509_trust_list_add_cas(tl, &anchor_copy, 1, 0) != 1) {
		gnutls_x509_crt_deinit(anchor_copy);
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_CRYPTO,
				    "cannot add the trusted certificate to a trust list");
		return FALSE;
	}

	/* the anchor itself must be valid now, even when nothing chains to it */
	if (!scep_ca_certs_check_time(
		scep_ca_certs_crt(self, anchor), scep_ca_certs_role_word(self, anchor), now, error))
		return FALSE;
	if (self->ca != anchor)
		targets[n_targets++] = self->ca;
	if (self->ra_sign >= 0)
		targets[n_targets++] = self->ra_sign;
	if (self->ra_encrypt >= 0 && self->ra_encrypt != self->ra_sign)
		targets[n_targets++] = self->ra_encrypt;
	for (guint i = 0; i < n_targets; i++) {
		if (!scep_ca_certs_verify_one(self, targets[i], anchor, tl, now, error))
			return FALSE;
	}
	return TRUE;
}

gchar *
scep_ca_certs_describe(const ScepCaCerts *self)
{
	GString *str = g_string_new(NULL);

	g_return_val_if_fail(self != NULL, NULL);
	for (guint i = 0; i < self->all->len; i++) {
		gnutls_x509_crt_t crt = g_ptr_array_index(self->all, i);
		g_autofree gchar *role =
		    scep_ca_cert_role_to_string(scep_ca_certs_get_role(self, i));
		g_autofree gchar *subject = scep_ca_certs_dup_dn(crt, FALSE);
		g_autofree gchar *issuer = scep_ca_certs_dup_dn(crt, TRUE);
		g_autofree gchar *not_after =
		    scep_ca_certs_format_time(gnutls_x509_crt_get_expiration_time(crt));
		g_autofree gchar *md5 = scep_ca_cert_get_fingerprint(crt, GNUTLS_DIG_MD5);
		g_autofree gchar *sha1 = scep_ca_cert_get_fingerprint(crt, GNUTLS_DIG_SHA1);
		g_autofree gchar *sha256 = scep_ca_cert_get_fingerprint(crt, GNUTLS_DIG_SHA256);

		g_string_append_printf(str,
				       "certificate %u: %s\n"
				       "  subject:   %s\n"
				       "  issuer:    %s\n"
				       "  not after: %s\n"
				       "  MD5:       %s\n"
				       "  SHA-1:     %s\n"
				       "  SHA-256:   %s\n",
				       i + 1,
				       role,
				       subject,
				       issuer,
				       not_after,
				       md5 != NULL ? md5 : "-",
				       sha1 != NULL ? sha1 : "-",
				       sha256 != NULL ? sha256 : "-");
	}
	return g_string_free(str, FALSE);
}

static gboolean
scep_ca_certs_append_pem(GString *out, gnutls_x509_crt_t crt, GError **error)
{
	g_auto(ScepGnutlsDatum) pem = { NULL, 0 };
	if (!scep_gnutls_check(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem),
			       "cannot export certificate",
			       error))
		return FALSE;
	g_string_append_len(out, (const gchar *)pem.data, (gssize)pem.size);
	return TRUE;
}

static gboolean
scep_ca_certs_write_pem(
    const gchar *dir, const gchar *name, gnutls_x509_crt_t *crts, guint n, GError **error)
{
	g_autoptr(GString) out = g_string_new(NULL);
	g_autofree gchar *path = g_build_filename(dir, name, NULL);

	for (guint i = 0; i < n; i++) {
		if (!scep_ca_certs_append_pem(out, crts[i], error))
			return FALSE;
	}
	return g_file_set_contents(path, out->str, (gssize)out->len, error);
}

gboolean
scep_ca_certs_save(const ScepCaCerts *self, const gchar *dir, GError **error)
{
	g_autoptr(GPtrArray) chain = g_ptr_array_new();
	gnutls_x509_crt_t one;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(dir != NULL, FALSE);

	if (g_mkdir_with_parents(dir, 0755) != 0) {
		int saved = errno;
		g_set_error(error,
			    G_IO_ERROR,
			    g_io_error_from_errno(saved),
			    "cannot create %s: %s",
			    dir,
			    g_strerror(saved));
		return FALSE;
	}
	one = scep_ca_certs_get_ca(self);
	if (!scep_ca_certs_write_pem(dir, "ca.pem", &one, 1, error))
		return FALSE;
	g_ptr_array_add(chain, one);
	for (guint i = 0; i < self->intermediates->len; i++)
		g_ptr_array_add(chain, g_ptr_array_index(self->intermediates, i));
	if (self->root != self->ca)
		g_ptr_array_add(chain, scep_ca_certs_get_root(self));
	if (!scep_ca_certs_write_pem(
		dir, "chain.pem", (gnutls_x509_crt_t *)chain->pdata, chain->len, error))
		return FALSE;
	if (!scep_ca_certs_write_pem(
		dir, "all.pem", (gnutls_x509_crt_t *)self->all->pdata, self->all->len, error))
		return FALSE;
	if (self->ra_sign >= 0) {
		one = scep_ca_certs_crt(self, self->ra_sign);
		if (!scep_ca_certs_write_pem(dir, "ra-sign.pem", &one, 1, error))
			return FALSE;
		one = scep_ca_certs_crt(self, self->ra_encrypt);
		if (!scep_ca_certs_write_pem(dir, "ra-encrypt.pem", &one, 1, error))
			return FALSE;
	}
	return TRUE;
}
