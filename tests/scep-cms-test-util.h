#pragma once

#include <glib.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

G_BEGIN_DECLS

/* shared by test-scep-cms and test-scep-message: OpenSSL as the independent oracle,
 * keys and certificates made at test time in a private temporary directory */

typedef struct {
	gchar *dir;
	gchar *ca_cert, *ca_key;         /* CA, also signs the issued certificate */
	gchar *ra_cert, *ra_key;         /* RA: signs CertReps, receives requests */
	gchar *client_cert, *client_key; /* requester's self-signed certificate */
	gchar *other_cert, *other_key;   /* a valid signer nobody expects */
	gchar *issued_cert;              /* issued by the CA for client_key */
	gchar *issued_other_cert;        /* issued by the CA for other_key */
} ScepCmsTestPki;

const ScepCmsTestPki *scep_cms_test_pki(void);
void scep_cms_test_pki_cleanup(void);

gchar *scep_cms_test_path(const gchar *name);
gboolean scep_cms_test_run(const gchar *const *argv, gchar **out_stdout, GError **error);
void scep_cms_test_run_ok(const gchar *first, ...) G_GNUC_NULL_TERMINATED;
gchar *scep_cms_test_run_capture(const gchar *first, ...) G_GNUC_NULL_TERMINATED;
/* building an argument vector of borrowed strings; scep_cms_test_run_argv() ends it with
 * NULL, runs it, asserts success and returns the standard output */
void scep_cms_test_argv_add(GPtrArray *argv, const gchar *first, ...) G_GNUC_NULL_TERMINATED;
void scep_cms_test_argv_add_valist(GPtrArray *argv, const gchar *first, va_list args);
gchar *scep_cms_test_run_argv(GPtrArray *argv);

GBytes *scep_cms_test_read(const gchar *path);
gchar *scep_cms_test_vector_path(const gchar *name);
GBytes *scep_cms_test_read_vector(const gchar *name);
void scep_cms_test_write(const gchar *path, GBytes *bytes);

gnutls_x509_crt_t scep_cms_test_load_cert(const gchar *path);
gnutls_x509_crt_t scep_cms_test_load_vector_cert(const gchar *name);
gnutls_x509_crt_t scep_cms_test_load_cert_bytes(GBytes *bytes, gnutls_x509_crt_fmt_t format);
gnutls_privkey_t scep_cms_test_load_key(const gchar *path);
GBytes *scep_cms_test_flip(GBytes *bytes, gsize offset);
gssize scep_cms_test_find(GBytes *haystack, GBytes *needle);
GBytes *scep_cms_test_pem_to_der(GBytes *pem, const gchar *label);
GBytes *scep_cms_test_read_vector_pem(const gchar *name, const gchar *label);
gnutls_x509_crt_t scep_cms_test_load_cert_nth(const gchar *path, guint index);
gnutls_pubkey_t scep_cms_test_load_pubkey(const gchar *cert_path);

/* OpenSSL as the other side of an envelope: decrypt a file, encrypt to the client */
GBytes *scep_cms_test_openssl_decrypt(const gchar *in, const gchar *recip_cert, const gchar *key);
GBytes *
scep_cms_test_openssl_encrypt(GBytes *plain, const gchar *cipher, ...) G_GNUC_NULL_TERMINATED;

G_END_DECLS
