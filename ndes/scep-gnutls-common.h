#pragma once

#include <gio/gio.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs7.h>
#include <gnutls/x509.h>

G_BEGIN_DECLS

void scep_gnutls_trust_list_deinit(gnutls_x509_trust_list_t list);

G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gnutls_x509_crt_t, gnutls_x509_crt_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gnutls_x509_crq_t, gnutls_x509_crq_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gnutls_x509_dn_t, gnutls_x509_dn_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gnutls_x509_privkey_t, gnutls_x509_privkey_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gnutls_privkey_t, gnutls_privkey_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gnutls_pubkey_t, gnutls_pubkey_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gnutls_pkcs7_t, gnutls_pkcs7_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gnutls_x509_trust_list_t, scep_gnutls_trust_list_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gnutls_cipher_hd_t, gnutls_cipher_deinit, NULL)

/* gnutls_datum_t whose data was allocated by GnuTLS */
typedef gnutls_datum_t ScepGnutlsDatum;
void scep_gnutls_datum_clear(ScepGnutlsDatum *datum);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ScepGnutlsDatum, scep_gnutls_datum_clear)

gboolean scep_gnutls_rc_to_error(int rc, GError **error);
gboolean scep_gnutls_check(int rc, const gchar *what, GError **error);

GBytes *scep_gnutls_datum_to_bytes(const gnutls_datum_t *datum);
gnutls_datum_t scep_gnutls_datum_from_bytes(GBytes *bytes);

G_END_DECLS
