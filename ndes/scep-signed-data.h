#pragma once

#include <glib.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

G_BEGIN_DECLS

typedef struct _ScepSignedData ScepSignedData;

ScepSignedData *scep_signed_data_new_from_bytes(GBytes *content_info, GError **error);
void scep_signed_data_free(ScepSignedData *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepSignedData, scep_signed_data_free)

gboolean scep_signed_data_verify(ScepSignedData *self,
				 gnutls_x509_crt_t *candidates,
				 guint n_candidates,
				 GError **error);
gnutls_x509_crt_t scep_signed_data_get_signer(ScepSignedData *self);
gchar *scep_signed_data_dup_signer_id(ScepSignedData *self);

guint scep_signed_data_get_n_signers(ScepSignedData *self);
gnutls_digest_algorithm_t scep_signed_data_get_digest_algorithm(ScepSignedData *self);
const gchar *scep_signed_data_get_signature_algorithm_oid(ScepSignedData *self);
gboolean scep_signed_data_has_signed_attributes(ScepSignedData *self);
GBytes *scep_signed_data_get_attribute(ScepSignedData *self, const gchar *oid);
gchar *
scep_signed_data_dup_attribute_string(ScepSignedData *self, const gchar *oid, GError **error);
GBytes *
scep_signed_data_dup_attribute_octets(ScepSignedData *self, const gchar *oid, GError **error);

const gchar *scep_signed_data_get_content_type(ScepSignedData *self);
GBytes *scep_signed_data_get_content(ScepSignedData *self);
GPtrArray *scep_signed_data_get_certificates(ScepSignedData *self);
GPtrArray *scep_signed_data_get_crls(ScepSignedData *self);

G_END_DECLS
