#include "config.h"

#include "scep-cms-test-util.h"

#include <glib/gstdio.h>
#include <string.h>

#include "scep-gnutls-common.h"

static ScepCmsTestPki *scep_cms_test_pki_singleton = NULL;

/* runs a program; a missing program or a non-zero exit is an error with its stderr */
gboolean
scep_cms_test_run(const gchar *const *argv, gchar **out_stdout, GError **error)
{
	g_autofree gchar *err = NULL;
	g_autofree gchar *cmdline = g_strjoinv(" ", (gchar **)argv);
	gint status = 0;

	if (!g_spawn_sync(NULL,
			  (gchar **)argv,
			  NULL,
			  G_SPAWN_SEARCH_PATH,
			  NULL,
			  NULL,
			  out_stdout,
			  &err,
			  &status,
			  error)) {
		g_prefix_error(error, "%s: ", cmdline);
		return FALSE;
	}
	if (!g_spawn_check_wait_status(status, error)) {
		g_prefix_error(error, "%s: %s: ", cmdline, err != NULL ? err : "");
		return FALSE;
	}
	return TRUE;
}

static GPtrArray *
scep_cms_test_argv(const gchar *first, va_list args)
{
	GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
	for (const gchar *arg = first; arg != NULL; arg = va_arg(args, const gchar *))
		g_ptr_array_add(argv, g_strdup(arg));
	g_ptr_array_add(argv, NULL);
	return argv;
}

void
scep_cms_test_run_ok(const gchar *first, ...)
{
	g_autoptr(GPtrArray) argv = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *out = NULL;
	va_list args;

	va_start(args, first);
	argv = scep_cms_test_argv(first, args);
	va_end(args);
	scep_cms_test_run((const gchar *const *)argv->pdata, &out, &error);
	g_assert_no_error(error);
}

gchar *
scep_cms_test_run_capture(const gchar *first, ...)
{
	g_autoptr(GPtrArray) argv = NULL;
	g_autoptr(GError) error = NULL;
	gchar *out = NULL;
	va_list args;

	va_start(args, first);
	argv = scep_cms_test_argv(first, args);
	va_end(args);
	scep_cms_test_run((const gchar *const *)argv->pdata, &out, &error);
	g_assert_no_error(error);
	return out;
}

gchar *
scep_cms_test_path(const gchar *name)
{
	return g_build_filename(scep_cms_test_pki()->dir, name, NULL);
}

static void
scep_cms_test_make_self_signed(const gchar *dir,
			       const gchar *name,
			       const gchar *subject,
			       const gchar *ext,
			       gchar **cert,
			       gchar **key)
{
	*cert = g_strdup_printf("%s/%s.pem", dir, name);
	*key = g_strdup_printf("%s/%s.key", dir, name);
	scep_cms_test_run_ok("openssl",
			     "req",
			     "-x509",
			     "-newkey",
			     "rsa:2048",
			     "-nodes",
			     "-keyout",
			     *key,
			     "-out",
			     *cert,
			     "-subj",
			     subject,
			     "-days",
			     "2",
			     "-addext",
			     ext,
			     NULL);
}

static gchar *
scep_cms_test_issue(const ScepCmsTestPki *pki, const gchar *name, const gchar *key)
{
	g_autofree gchar *csr = g_strdup_printf("%s/%s.csr", pki->dir, name);
	g_autofree gchar *subject = g_strdup_printf("/CN=%s", name);
	g_autofree gchar *serial = g_strdup_printf("%s/ca.srl", pki->dir);
	gchar *cert = g_strdup_printf("%s/%s.pem", pki->dir, name);

	scep_cms_test_run_ok(
	    "openssl", "req", "-new", "-key", key, "-subj", subject, "-out", csr, NULL);
	scep_cms_test_run_ok("openssl",
			     "x509",
			     "-req",
			     "-in",
			     csr,
			     "-CA",
			     pki->ca_cert,
			     "-CAkey",
			     pki->ca_key,
			     "-CAserial",
			     serial,
			     "-CAcreateserial",
			     "-days",
			     "1",
			     "-out",
			     cert,
			     NULL);
	return cert;
}

/* created on first use, removed by scep_cms_test_pki_cleanup() */
const ScepCmsTestPki *
scep_cms_test_pki(void)
{
	g_autoptr(GError) error = NULL;
	ScepCmsTestPki *pki;

	if (scep_cms_test_pki_singleton != NULL)
		return scep_cms_test_pki_singleton;
	pki = g_new0(ScepCmsTestPki, 1);
	pki->dir = g_dir_make_tmp("scep-cms-XXXXXX", &error);
	g_assert_no_error(error);
	scep_cms_test_pki_singleton = pki;
	scep_cms_test_make_self_signed(pki->dir,
				       "ca",
				       "/O=Test/CN=Test CA",
				       "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
				       &pki->ca_cert,
				       &pki->ca_key);
	scep_cms_test_make_self_signed(pki->dir,
				       "ra",
				       "/O=Test/CN=Test RA",
				       "keyUsage=critical,digitalSignature,keyEncipherment",
				       &pki->ra_cert,
				       &pki->ra_key);
	scep_cms_test_make_self_signed(pki->dir,
				       "client",
				       "/CN=SCEP SIGNER",
				       "keyUsage=critical,digitalSignature,keyEncipherment",
				       &pki->client_cert,
				       &pki->client_key);
	scep_cms_test_make_self_signed(pki->dir,
				       "other",
				       "/O=Test/CN=Test RA",
				       "keyUsage=critical,digitalSignature,keyEncipherment",
				       &pki->other_cert,
				       &pki->other_key);
	pki->issued_cert = scep_cms_test_issue(pki, "issued", pki->client_key);
	pki->issued_other_cert = scep_cms_test_issue(pki, "issued-other", pki->other_key);
	return pki;
}

static void
scep_cms_test_rm_rf(const gchar *path)
{
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	const gchar *name;

	if (dir != NULL) {
		while ((name = g_dir_read_name(dir)) != NULL) {
			g_autofree gchar *child = g_build_filename(path, name, NULL);
			scep_cms_test_rm_rf(child);
		}
		g_rmdir(path);
		return;
	}
	g_unlink(path);
}

void
scep_cms_test_pki_cleanup(void)
{
	ScepCmsTestPki *pki = scep_cms_test_pki_singleton;
	if (pki == NULL)
		return;
	scep_cms_test_rm_rf(pki->dir);
	g_free(pki->dir);
	g_free(pki->ca_cert);
	g_free(pki->ca_key);
	g_free(pki->ra_cert);
	g_free(pki->ra_key);
	g_free(pki->client_cert);
	g_free(pki->client_key);
	g_free(pki->other_cert);
	g_free(pki->other_key);
	g_free(pki->issued_cert);
	g_free(pki->issued_other_cert);
	g_free(pki);
	scep_cms_test_pki_singleton = NULL;
}

GBytes *
scep_cms_test_read(const gchar *path)
{
	g_autoptr(GError) error = NULL;
	gchar *data = NULL;
	gsize len = 0;

	g_file_get_contents(path, &data, &len, &error);
	g_assert_no_error(error);
	return g_bytes_new_take(data, len);
}

GBytes *
scep_cms_test_read_vector(const gchar *name)
{
	g_autofree gchar *path = g_test_build_filename(G_TEST_DIST, "data", "vectors", name, NULL);
	return scep_cms_test_read(path);
}

void
scep_cms_test_write(const gchar *path, GBytes *bytes)
{
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	const gchar *data = g_bytes_get_data(bytes, &len);

	g_file_set_contents(path, data, (gssize)len, &error);
	g_assert_no_error(error);
}

gnutls_x509_crt_t
scep_cms_test_load_cert_bytes(GBytes *bytes, gnutls_x509_crt_fmt_t format)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t datum = scep_gnutls_datum_from_bytes(bytes);

	g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_import(crt, &datum, format), ==, 0);
	return crt;
}

/* the first certificate of a PEM or DER file */
gnutls_x509_crt_t
scep_cms_test_load_cert(const gchar *path)
{
	g_autoptr(GBytes) bytes = scep_cms_test_read(path);
	gboolean pem = g_strstr_len(g_bytes_get_data(bytes, NULL),
				    (gssize)g_bytes_get_size(bytes),
				    "-----BEGIN") != NULL;
	return scep_cms_test_load_cert_bytes(bytes,
					     pem ? GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER);
}

/* an unencrypted PEM private key, also when it follows certificates in the file */
gnutls_privkey_t
scep_cms_test_load_key(const gchar *path)
{
	g_autoptr(GBytes) bytes = scep_cms_test_read(path);
	gnutls_privkey_t key = NULL;
	gnutls_datum_t datum = scep_gnutls_datum_from_bytes(bytes);

	g_assert_cmpint(gnutls_privkey_init(&key), ==, 0);
	g_assert_cmpint(
	    gnutls_privkey_import_x509_raw(key, &datum, GNUTLS_X509_FMT_PEM, NULL, 0), ==, 0);
	return key;
}

/* a copy with the byte at @offset inverted */
GBytes *
scep_cms_test_flip(GBytes *bytes, gsize offset)
{
	gsize len = 0;
	guint8 *copy = g_memdup2(g_bytes_get_data(bytes, &len), g_bytes_get_size(bytes));
	g_assert_cmpuint(offset, <, len);
	copy[offset] ^= 0xff;
	return g_bytes_new_take(copy, len);
}

gssize
scep_cms_test_find(GBytes *haystack, GBytes *needle)
{
	gsize h_len = 0;
	gsize n_len = 0;
	const guint8 *h = g_bytes_get_data(haystack, &h_len);
	const guint8 *n = g_bytes_get_data(needle, &n_len);
	const guint8 *hit = memmem(h, h_len, n, n_len);
	return hit != NULL ? hit - h : -1;
}

GBytes *
scep_cms_test_pem_to_der(GBytes *pem, const gchar *label)
{
	gnutls_datum_t in = scep_gnutls_datum_from_bytes(pem);
	g_auto(ScepGnutlsDatum) out = { NULL, 0 };

	g_assert_cmpint(gnutls_pem_base64_decode2(label, &in, &out), ==, 0);
	return scep_gnutls_datum_to_bytes(&out);
}

/* the @index-th certificate of a PEM file holding several */
gnutls_x509_crt_t
scep_cms_test_load_cert_nth(const gchar *path, guint index)
{
	g_autoptr(GBytes) bytes = scep_cms_test_read(path);
	gnutls_datum_t datum = scep_gnutls_datum_from_bytes(bytes);
	gnutls_x509_crt_t *list = NULL;
	unsigned int n = 0;
	gnutls_x509_crt_t result;

	g_assert_cmpint(
	    gnutls_x509_crt_list_import2(&list, &n, &datum, GNUTLS_X509_FMT_PEM, 0), ==, 0);
	g_assert_cmpuint(index, <, n);
	result = list[index];
	for (unsigned int i = 0; i < n; i++) {
		if (i != index)
			gnutls_x509_crt_deinit(list[i]);
	}
	gnutls_free(list);
	return result;
}

gnutls_pubkey_t
scep_cms_test_load_pubkey(const gchar *cert_path)
{
	g_auto(gnutls_x509_crt_t) crt = scep_cms_test_load_cert(cert_path);
	gnutls_pubkey_t pubkey = NULL;

	g_assert_cmpint(gnutls_pubkey_init(&pubkey), ==, 0);
	g_assert_cmpint(gnutls_pubkey_import_x509(pubkey, crt, 0), ==, 0);
	return pubkey;
}
