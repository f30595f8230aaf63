#include "config.h"

#include "scep-cms-test-util.h"

#include <string.h>

#include "scep-gnutls-common.h"
#include "scep-test-util.h"

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

void
scep_cms_test_argv_add_valist(GPtrArray *argv, const gchar *first, va_list args)
{
	for (const gchar *arg = first; arg != NULL; arg = va_arg(args, const gchar *))
		g_ptr_array_add(argv, (gpointer)arg);
}

void
scep_cms_test_argv_add(GPtrArray *argv, const gchar *first, ...)
{
	va_list args;

	va_start(args, first);
	scep_cms_test_argv_add_valist(argv, first, args);
	va_end(args);
}

/* appends the terminating NULL to @argv, runs it and asserts that it succeeds */
gchar *
scep_cms_test_run_argv(GPtrArray *argv)
{
	g_autoptr(GError) error = NULL;
	gchar *out = NULL;

	g_ptr_array_add(argv, NULL);
	scep_cms_test_run((const gchar *const *)argv->pdata, &out, &error);
	g_assert_no_error(error);
	return out;
}

void
scep_cms_test_run_ok(const gchar *first, ...)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	va_list args;

	va_start(args, first);
	scep_cms_test_argv_add_valist(argv, first, args);
	va_end(args);
	g_free(scep_cms_test_run_argv(argv));
}

gchar *
scep_cms_test_run_capture(const gchar *first, ...)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	va_list args;

	va_start(args, first);
	scep_cms_test_argv_add_valist(argv, first, args);
	va_end(args);
	return scep_cms_test_run_argv(argv);
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
	ScepCmsTestPki *pki;

	if (scep_cms_test_pki_singleton != NULL)
		return scep_cms_test_pki_singleton;
	pki = g_new0(ScepCmsTestPki, 1);
	pki->dir = scep_test_make_tmp_dir("scep-cms-XXXXXX");
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

void
scep_cms_test_pki_cleanup(void)
{
	ScepCmsTestPki *pki = scep_cms_test_pki_singleton;
	if (pki == NULL)
		return;
	scep_test_remove_tree(pki->dir, NULL);
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

/* a file of tests/data/vectors */
gchar *
scep_cms_test_vector_path(const gchar *name)
{
	return g_test_build_filename(G_TEST_DIST, "data", "vectors", name, NULL);
}

GBytes *
scep_cms_test_read_vector(const gchar *name)
{
	g_autofree gchar *path = scep_cms_test_vector_path(name);
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

gnutls_x509_crt_t
scep_cms_test_load_vector_cert(const gchar *name)
{
	g_autofree gchar *path = scep_cms_test_vector_path(name);
	return scep_cms_test_load_cert(path);
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

/* the DER inside the PEM block labelled @label of a file of tests/data/vectors */
GBytes *
scep_cms_test_read_vector_pem(const gchar *name, const gchar *label)
{
	g_autoptr(GBytes) pem = scep_cms_test_read_vector(name);
	return scep_cms_test_pem_to_der(pem, label);
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

/* openssl cms -decrypt of the DER envelope at @in with @key, for @recip_cert or (NULL) for
 * whichever recipient @key opens; OpenSSL 3 keeps single DES in its legacy provider */
GBytes *
scep_cms_test_openssl_decrypt(const gchar *in, const gchar *recip_cert, const gchar *key)
{
	g_autofree gchar *out = scep_cms_test_path("openssl-plain.bin");
	g_autoptr(GPtrArray) argv = g_ptr_array_new();

	scep_cms_test_argv_add(argv,
			       "openssl",
			       "cms",
			       "-decrypt",
			       "-provider",
			       "legacy",
			       "-provider",
			       "default",
			       "-inform",
			       "DER",
			       "-in",
			       in,
			       NULL);
	if (recip_cert != NULL)
		scep_cms_test_argv_add(argv, "-recip", recip_cert, NULL);
	scep_cms_test_argv_add(argv, "-inkey", key, "-binary", "-out", out, NULL);
	g_free(scep_cms_test_run_argv(argv));
	return scep_cms_test_read(out);
}

/* openssl cms -encrypt of @plain to the client certificate with @cipher (an openssl flag such
 * as "-aes128"), followed by the NULL-terminated further options: -keyopt for the client's
 * key transport, -recip for more recipients */
GBytes *
scep_cms_test_openssl_encrypt(GBytes *plain, const gchar *cipher, ...)
{
	const ScepCmsTestPki *pki = scep_cms_test_pki();
	g_autofree gchar *in = scep_cms_test_path("openssl-in.bin");
	g_autofree gchar *out = scep_cms_test_path("openssl-envelope.der");
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	va_list args;

	scep_cms_test_write(in, plain);
	/* -keyopt applies to the -recip before it */
	scep_cms_test_argv_add(argv,
			       "openssl",
			       "cms",
			       "-encrypt",
			       "-provider",
			       "legacy",
			       "-provider",
			       "default",
			       "-binary",
			       "-in",
			       in,
			       "-outform",
			       "DER",
			       "-out",
			       out,
			       cipher,
			       "-recip",
			       pki->client_cert,
			       NULL);
	va_start(args, cipher);
	scep_cms_test_argv_add_valist(argv, va_arg(args, const gchar *), args);
	va_end(args);
	g_free(scep_cms_test_run_argv(argv));
	return scep_cms_test_read(out);
}
