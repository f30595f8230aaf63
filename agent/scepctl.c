#include "config.h"

#include <errno.h>
#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <locale.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "scep-dbus-generated.h"
#include "scep-gnutls-common.h"
#include "scep-ndes-client.h"
#include "scep-ndes-error.h"

/* exit codes by outcome (issue 3, §7) */
#define SCEPCTL_EXIT_OK       0
#define SCEPCTL_EXIT_FAILED   1
#define SCEPCTL_EXIT_USAGE    2
#define SCEPCTL_EXIT_PENDING  3
#define SCEPCTL_EXIT_REJECTED 4

typedef struct {
	GMainLoop *loop;
	ScepNdesClient *client;
	gint exit_code;
	/* options */
	gboolean json;
	gboolean verbose;
	gchar *out_dir;
	gchar *fingerprint;
	gchar *ca_ident;
	gchar *proxy;
	gchar *ca_file;
	gint timeout;
	gchar *method;
	gchar *cipher;
	gchar *digest;
	gboolean allow_legacy;
	gchar *subject;
	gchar **sans;
	gint key_size;
	gchar *key_file;
	gchar *challenge_file;
	gchar *signer_cert_file;
	gchar *signer_key_file;
	gchar *message;
	gchar *state_file;
	gchar *serial;
	/* request state */
	gchar *verb;
	gchar *url;
	gchar *challenge; /* secret */
	gnutls_privkey_t key;
	gnutls_x509_crt_t signer_cert;
	gnutls_privkey_t signer_key;
	ScepPending *pending;
} ScepCtl;

static void
scepctl_wipe_free(gchar *secret)
{
	if (secret == NULL)
		return;
	gnutls_memset(secret, 0, strlen(secret));
	g_free(secret);
}

static void
scepctl_clear(ScepCtl *ctl)
{
	g_clear_pointer(&ctl->loop, g_main_loop_unref);
	g_clear_object(&ctl->client);
	g_free(ctl->out_dir);
	g_free(ctl->fingerprint);
	g_free(ctl->ca_ident);
	g_free(ctl->proxy);
	g_free(ctl->ca_file);
	g_free(ctl->method);
	g_free(ctl->cipher);
	g_free(ctl->digest);
	g_free(ctl->subject);
	g_strfreev(ctl->sans);
	g_free(ctl->key_file);
	g_free(ctl->challenge_file);
	g_free(ctl->signer_cert_file);
	g_free(ctl->signer_key_file);
	g_free(ctl->message);
	g_free(ctl->state_file);
	g_free(ctl->serial);
	g_free(ctl->verb);
	g_free(ctl->url);
	scepctl_wipe_free(ctl->challenge);
	g_clear_pointer(&ctl->key, gnutls_privkey_deinit);
	g_clear_pointer(&ctl->signer_cert, gnutls_x509_crt_deinit);
	g_clear_pointer(&ctl->signer_key, gnutls_privkey_deinit);
	g_clear_pointer(&ctl->pending, scep_pending_free);
}

/* ---- output ---- */

static gchar *
scepctl_json_string(const gchar *text)
{
	GString *str = g_string_new("\"");
	for (const gchar *p = text != NULL ? text : ""; *p != '\0'; p++) {
		guchar c = (guchar)*p;
		if (c == '"' || c == '\\')
			g_string_append_printf(str, "\\%c", c);
		else if (c == '\n')
			g_string_append(str, "\\n");
		else if (c < 0x20)
			g_string_append_printf(str, "\\u%04x", c);
		else
			g_string_append_c(str, (gchar)c);
	}
	g_string_append_c(str, '"');
	return g_string_free(str, FALSE);
}

static const gchar *
scepctl_error_name(const GError *error)
{
	static const gchar *const names[] = { "network",  "http-status", "bad-response",
					      "rejected", "unsupported", "invalid-argument",
					      "crypto",   "untrusted",   "auth",
					      "timeout" };
	if (error->domain == SCEP_NDES_ERROR && error->code >= 0 &&
	    (gsize)error->code < G_N_ELEMENTS(names))
		return names[error->code];
	if (error->domain == G_IO_ERROR && error->code == G_IO_ERROR_TIMED_OUT)
		return "timeout";
	if (error->domain == G_OPTION_ERROR || error->domain == G_FILE_ERROR)
		return "usage";
	return "failed";
}

static gint
scepctl_exit_code_for(const GError *error)
{
	if (error->domain == SCEP_NDES_ERROR && error->code == SCEP_NDES_ERROR_REJECTED)
		return SCEPCTL_EXIT_REJECTED;
	if (error->domain == SCEP_NDES_ERROR && error->code == SCEP_NDES_ERROR_INVALID_ARGUMENT)
		return SCEPCTL_EXIT_USAGE;
	if (error->domain == G_OPTION_ERROR || error->domain == G_FILE_ERROR)
		return SCEPCTL_EXIT_USAGE;
	return SCEPCTL_EXIT_FAILED;
}

static void
scepctl_fail(ScepCtl *ctl, const GError *error)
{
	ctl->exit_code = scepctl_exit_code_for(error);
	if (ctl->json) {
		g_autofree gchar *msg = scepctl_json_string(error->message);
		g_print("{\"result\": \"%s\", \"error\": \"%s\", \"message\": %s}\n",
			ctl->exit_code == SCEPCTL_EXIT_REJECTED ? "rejected" : "error",
			scepctl_error_name(error),
			msg);
	} else if (ctl->exit_code == SCEPCTL_EXIT_REJECTED) {
		g_printerr(_("Rejected by the CA: %s\n"), error->message);
	} else {
		g_printerr(_("Error: %s\n"), error->message);
	}
	if (ctl->loop != NULL)
		g_main_loop_quit(ctl->loop);
}

static gchar *
scepctl_der_to_pem(GBytes *der, const gchar *label)
{
	g_autofree gchar *b64 = g_base64_encode(g_bytes_get_data(der, NULL), g_bytes_get_size(der));
	GString *pem = g_string_new(NULL);
	gsize len = strlen(b64);
	g_string_append_printf(pem, "-----BEGIN %s-----\n", label);
	for (gsize off = 0; off < len; off += 64)
		g_string_append_printf(pem, "%.64s\n", b64 + off);
	g_string_append_printf(pem, "-----END %s-----\n", label);
	return g_string_free(pem, FALSE);
}

static gboolean
scepctl_write_file(const gchar *path, const gchar *data, gsize len, gint mode, GError **error)
{
	return g_file_set_contents_full(
	    path, data, (gssize)len, G_FILE_SET_CONTENTS_CONSISTENT, mode, error);
}

static gboolean
scepctl_ensure_dir(const gchar *dir, GError **error)
{
	if (g_mkdir_with_parents(dir, 0755) != 0) {
		gint errsv = errno;
		g_set_error(error,
			    G_FILE_ERROR,
			    g_file_error_from_errno(errsv),
			    "cannot create %s: %s",
			    dir,
			    g_strerror(errsv));
		return FALSE;
	}
	return TRUE;
}

/* cert.pem and chain.pem into @dir */
static gboolean
scepctl_write_issued(ScepCtl *ctl, ScepNdesOutcome *outcome, const gchar *dir, GError **error)
{
	g_autofree gchar *cert_pem = scepctl_der_to_pem(outcome->certificate, "CERTIFICATE");
	g_autofree gchar *cert_path = g_build_filename(dir, "cert.pem", NULL);
	g_autofree gchar *chain_path = g_build_filename(dir, "chain.pem", NULL);
	g_autoptr(GString) chain = g_string_new(NULL);

	for (guint i = 0; outcome->chain != NULL && i < outcome->chain->len; i++) {
		g_autofree gchar *pem =
		    scepctl_der_to_pem(g_ptr_array_index(outcome->chain, i), "CERTIFICATE");
		g_string_append(chain, pem);
	}
	if (!scepctl_ensure_dir(dir, error))
		return FALSE;
	if (!scepctl_write_file(chain_path, chain->str, chain->len, 0644, error))
		return FALSE;
	if (!scepctl_write_file(cert_path, cert_pem, strlen(cert_pem), 0644, error))
		return FALSE;
	if (ctl->json) {
		g_autofree gchar *tid = scepctl_json_string(outcome->transaction_id);
		g_autofree gchar *cp = scepctl_json_string(cert_path);
		g_print("{\"result\": \"issued\", \"transaction_id\": %s, \"certificate\": %s}\n",
			tid,
			cp);
	} else {
		g_print(_("Certificate issued (transaction %s), written to %s\n"),
			outcome->transaction_id,
			cert_path);
	}
	return TRUE;
}

static void
scepctl_report_pending(ScepCtl *ctl, ScepNdesOutcome *outcome, const gchar *state_path)
{
	ctl->exit_code = SCEPCTL_EXIT_PENDING;
	if (ctl->json) {
		g_autofree gchar *tid = scepctl_json_string(outcome->transaction_id);
		g_autofree gchar *sp = scepctl_json_string(state_path);
		g_print(
		    "{\"result\": \"pending\", \"transaction_id\": %s, \"state\": %s}\n", tid, sp);
	} else {
		g_print(_("Request pending (transaction %s); poll later with: scepctl poll URL "
			  "--state %s\n"),
			outcome->transaction_id,
			state_path);
	}
}

/* ---- common client set-up ---- */

static gboolean
scepctl_parse_fingerprint(const gchar *spec, gchar **hex, gnutls_digest_algorithm_t *alg)
{
	const gchar *colon = strchr(spec, ':');
	*alg = GNUTLS_DIG_UNKNOWN;
	if (colon != NULL && colon - spec <= 6) {
		g_autofree gchar *name = g_ascii_strdown(spec, colon - spec);
		if (g_strcmp0(name, "md5") == 0)
			*alg = GNUTLS_DIG_MD5;
		else if (g_strcmp0(name, "sha1") == 0 || g_strcmp0(name, "sha-1") == 0)
			*alg = GNUTLS_DIG_SHA1;
		else if (g_strcmp0(name, "sha256") == 0 || g_strcmp0(name, "sha-256") == 0)
			*alg = GNUTLS_DIG_SHA256;
		if (*alg != GNUTLS_DIG_UNKNOWN) {
			*hex = g_strdup(colon + 1);
			return TRUE;
		}
	}
	*hex = g_strdup(spec);
	return TRUE;
}

/* the first of @name and @other (nullable) that is set and not empty */
static const gchar *
scepctl_getenv_either(const gchar *name, const gchar *other)
{
	const gchar *value = g_getenv(name);
	if (value != NULL && value[0] != '\0')
		return value;
	value = other != NULL ? g_getenv(other) : NULL;
	return value != NULL && value[0] != '\0' ? value : NULL;
}

/* whether @host is excluded by @no_proxy: "*", or comma-separated names and domain suffixes
 * ("example.com" and ".example.com" both match example.com and its subdomains) */
static gboolean
scepctl_no_proxy_matches(const gchar *no_proxy, const gchar *host)
{
	g_auto(GStrv) entries = g_strsplit(no_proxy, ",", -1);
	gsize host_len = strlen(host);

	for (guint i = 0; entries[i] != NULL; i++) {
		const gchar *entry = g_strstrip(entries[i]);
		gsize len;
		if (g_strcmp0(entry, "*") == 0)
			return TRUE;
		while (entry[0] == '.')
			entry++;
		len = strlen(entry);
		if (len == 0 || len > host_len)
			continue;
		if (g_ascii_strcasecmp(host + host_len - len, entry) == 0 &&
		    (len == host_len || host[host_len - len - 1] == '.'))
			return TRUE;
	}
	return FALSE;
}

/*
 * The proxy for @url from the environment, read as curl reads it: no_proxy/NO_PROXY first;
 * then https_proxy/HTTPS_PROXY for https, http_proxy (lower case only, as the upper case name
 * can be set by a CGI request header) for http; then all_proxy/ALL_PROXY. A value without a
 * scheme is an http:// proxy. NULL: connect directly. The value may hold credentials: it is
 * never printed.
 */
static gchar *
scepctl_proxy_from_environment(const gchar *url)
{
	g_autoptr(GUri) uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
	const gchar *no_proxy;
	const gchar *value;

	if (uri == NULL || g_uri_get_host(uri) == NULL)
		return NULL;
	no_proxy = scepctl_getenv_either("no_proxy", "NO_PROXY");
	if (no_proxy != NULL && scepctl_no_proxy_matches(no_proxy, g_uri_get_host(uri)))
		return NULL;
	if (g_ascii_strcasecmp(g_uri_get_scheme(uri), "https") == 0)
		value = scepctl_getenv_either("https_proxy", "HTTPS_PROXY");
	else
		value = scepctl_getenv_either("http_proxy", NULL);
	if (value == NULL)
		value = scepctl_getenv_either("all_proxy", "ALL_PROXY");
	if (value == NULL)
		return NULL;
	if (strstr(value, "://") == NULL)
		return g_strconcat("http://", value, NULL);
	return g_strdup(value);
}

static gboolean
scepctl_setup_client(ScepCtl *ctl, GError **error)
{
	gnutls_cipher_algorithm_t cipher = GNUTLS_CIPHER_UNKNOWN;
	gnutls_digest_algorithm_t digest = GNUTLS_DIG_UNKNOWN;

	ctl->client = scep_ndes_client_new(ctl->url, error);
	if (ctl->client == NULL)
		return FALSE;
	/* --proxy wins over the environment; --proxy "" connects directly */
	if (ctl->proxy == NULL)
		ctl->proxy = scepctl_proxy_from_environment(ctl->url);
	if (ctl->proxy != NULL && ctl->proxy[0] != '\0' &&
	    !scep_ndes_client_set_proxy(ctl->client, ctl->proxy, error))
		return FALSE;
	if (ctl->ca_file != NULL && !scep_ndes_client_set_ca_file(ctl->client, ctl->ca_file, error))
		return FALSE;
	if (ctl->timeout > 0)
		scep_ndes_client_set_timeouts(
		    ctl->client, (guint)ctl->timeout, (guint)ctl->timeout);
	if (ctl->ca_ident != NULL)
		scep_ndes_client_set_ca_ident(ctl->client, ctl->ca_ident);
	if (ctl->fingerprint != NULL) {
		g_autofree gchar *hex = NULL;
		gnutls_digest_algorithm_t alg;
		scepctl_parse_fingerprint(ctl->fingerprint, &hex, &alg);
		scep_ndes_client_set_fingerprint(ctl->client, hex, alg);
	}
	if (ctl->cipher != NULL) {
		cipher = gnutls_cipher_get_id(ctl->cipher);
		if (cipher == GNUTLS_CIPHER_UNKNOWN) {
			g_set_error(error,
				    G_OPTION_ERROR,
				    G_OPTION_ERROR_BAD_VALUE,
				    "unknown cipher '%s' (e.g. AES-256-CBC, AES-128-CBC, 3DES-CBC)",
				    ctl->cipher);
			return FALSE;
		}
	}
	if (ctl->digest != NULL) {
		digest = gnutls_digest_get_id(ctl->digest);
		if (digest == GNUTLS_DIG_UNKNOWN) {
			g_set_error(error,
				    G_OPTION_ERROR,
				    G_OPTION_ERROR_BAD_VALUE,
				    "unknown digest '%s' (e.g. SHA256, SHA512, SHA1)",
				    ctl->digest);
			return FALSE;
		}
	}
	scep_ndes_client_set_algorithms(ctl->client,
					cipher,
					digest,
					ctl->allow_legacy ? SCEP_CAPS_ALG_POLICY_ALLOW_LEGACY
							  : SCEP_CAPS_ALG_POLICY_DEFAULT);
	if (ctl->method != NULL) {
		if (g_ascii_strcasecmp(ctl->method, "get") == 0) {
			scep_ndes_client_set_method(ctl->client, SCEP_NDES_METHOD_GET);
		} else if (g_ascii_strcasecmp(ctl->method, "post") == 0) {
			scep_ndes_client_set_method(ctl->client, SCEP_NDES_METHOD_POST);
		} else {
			g_set_error(error,
				    G_OPTION_ERROR,
				    G_OPTION_ERROR_BAD_VALUE,
				    "--method must be get or post, not '%s'",
				    ctl->method);
			return FALSE;
		}
	}
	return TRUE;
}

/* ---- getcaps / getca / getnextca ---- */

/* the certificates as JSON objects (role, subject, fingerprints), comma separated */
static gchar *
scepctl_certs_json(ScepCaCerts *certs)
{
	GPtrArray *all = scep_ca_certs_get_all(certs);
	GString *list = g_string_new(NULL);

	for (guint i = 0; i < all->len; i++) {
		gnutls_x509_crt_t crt = g_ptr_array_index(all, i);
		g_auto(ScepGnutlsDatum) dn = { NULL, 0 };
		g_autofree gchar *role =
		    scep_ca_cert_role_to_string(scep_ca_certs_get_role(certs, i));
		g_autofree gchar *sha256 = scep_ca_cert_get_fingerprint(crt, GNUTLS_DIG_SHA256);
		g_autofree gchar *sha1 = scep_ca_cert_get_fingerprint(crt, GNUTLS_DIG_SHA1);
		g_autofree gchar *js_role = scepctl_json_string(role);
		g_autofree gchar *js_dn = NULL;
		gnutls_x509_crt_get_dn3(crt, &dn, 0);
		js_dn = scepctl_json_string((const gchar *)dn.data);
		g_string_append_printf(list,
				       "%s{\"role\": %s, \"subject\": %s, \"sha256\": \"%s\", "
				       "\"sha1\": \"%s\"}",
				       i > 0 ? ", " : "",
				       js_role,
				       js_dn,
				       sha256,
				       sha1);
	}
	return g_string_free(list, FALSE);
}

static void
scepctl_print_ca(ScepCtl *ctl)
{
	ScepCaCerts *certs = scep_ndes_client_get_ca_certs(ctl->client);
	g_autofree gchar *caps = scep_caps_to_string(scep_ndes_client_get_caps(ctl->client));
	gboolean pinned = scep_ndes_client_get_ca_pinned(ctl->client);

	if (g_strcmp0(ctl->verb, "getcaps") == 0) {
		if (ctl->json) {
			const gchar *const *kw =
			    scep_caps_get_keywords(scep_ndes_client_get_caps(ctl->client));
			g_autoptr(GString) list = g_string_new(NULL);
			for (guint i = 0; kw[i] != NULL; i++) {
				g_autofree gchar *s = scepctl_json_string(kw[i]);
				g_string_append_printf(list, "%s%s", i > 0 ? ", " : "", s);
			}
			g_print("{\"result\": \"ok\", \"caps\": [%s]}\n", list->str);
		} else {
			g_print(_("Capabilities: %s\n"), caps);
		}
		return;
	}
	if (ctl->json) {
		g_autofree gchar *list = scepctl_certs_json(certs);
		g_print("{\"result\": \"ok\", \"pinned\": %s, \"certificates\": [%s]}\n",
			pinned ? "true" : "false",
			list);
	} else {
		g_autofree gchar *desc = scep_ca_certs_describe(certs);
		g_print("%s\n", desc);
		if (!pinned)
			g_print(_("Warning: no fingerprint given, the CA is not verified against a "
				  "pin\n"));
	}
}

static void
scepctl_fetch_ca_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	ScepCtl *ctl = user_data;
	g_autoptr(GError) error = NULL;
	if (!scep_ndes_client_fetch_ca_finish(SCEP_NDES_CLIENT(source), result, &error)) {
		scepctl_fail(ctl, error);
		return;
	}
	if (ctl->out_dir != NULL && g_strcmp0(ctl->verb, "getca") == 0 &&
	    !scep_ca_certs_save(scep_ndes_client_get_ca_certs(ctl->client), ctl->out_dir, &error)) {
		scepctl_fail(ctl, error);
		return;
	}
	scepctl_print_ca(ctl);
	ctl->exit_code = SCEPCTL_EXIT_OK;
	g_main_loop_quit(ctl->loop);
}

static void
scepctl_next_ca_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	ScepCtl *ctl = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepCaCerts) next =
	    scep_ndes_client_get_next_ca_finish(SCEP_NDES_CLIENT(source), result, &error);
	g_autofree gchar *desc = NULL;
	if (next == NULL) {
		scepctl_fail(ctl, error);
		return;
	}
	if (ctl->out_dir != NULL && !scep_ca_certs_save(next, ctl->out_dir, &error)) {
		scepctl_fail(ctl, error);
		return;
	}
	if (ctl->json) {
		g_autofree gchar *list = scepctl_certs_json(next);
		g_print("{\"result\": \"ok\", \"certificates\": [%s]}\n", list);
	} else {
		desc = scep_ca_certs_describe(next);
		g_print("%s\n", desc);
	}
	ctl->exit_code = SCEPCTL_EXIT_OK;
	g_main_loop_quit(ctl->loop);
}

/* ---- request ---- */

static void
scepctl_enroll_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	ScepCtl *ctl = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesOutcome) outcome = NULL;

	if (ctl->pending != NULL)
		outcome = scep_ndes_client_poll_finish(SCEP_NDES_CLIENT(source), result, &error);
	else
		outcome = scep_ndes_client_enroll_finish(SCEP_NDES_CLIENT(source), result, &error);
	if (outcome == NULL) {
		scepctl_fail(ctl, error);
		return;
	}
	if (outcome->status == SCEP_NDES_STATUS_PENDING) {
		g_autofree gchar *state_path =
		    ctl->state_file != NULL ? g_strdup(ctl->state_file)
					    : g_build_filename(ctl->out_dir, "pending.state", NULL);
		if (!scep_pending_save(outcome->pending, state_path, &error)) {
			scepctl_fail(ctl, error);
			return;
		}
		scepctl_report_pending(ctl, outcome, state_path);
		g_main_loop_quit(ctl->loop);
		return;
	}
	if (!scepctl_write_issued(ctl, outcome, ctl->out_dir, &error)) {
		scepctl_fail(ctl, error);
		return;
	}
	ctl->exit_code = SCEPCTL_EXIT_OK;
	g_main_loop_quit(ctl->loop);
}

static void
scepctl_request_send(ScepCtl *ctl)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepCsrParams) params = scep_csr_params_new();
	g_autoptr(GBytes) key_pem = NULL;
	g_autofree gchar *key_path = g_build_filename(ctl->out_dir, "key.pem", NULL);
	ScepNdesEnrollRequest request = {
		.message_type = SCEP_MESSAGE_TYPE_PKCS_REQ,
		.csr_params = params,
		.key = ctl->key,
		.key_path = key_path,
		.signer_cert = ctl->signer_cert,
		.signer_key = ctl->signer_key,
	};

	if (ctl->message != NULL && g_ascii_strcasecmp(ctl->message, "renewalreq") == 0)
		request.message_type = SCEP_MESSAGE_TYPE_RENEWAL_REQ;
	if (!scep_csr_params_set_subject(params, ctl->subject, &error)) {
		scepctl_fail(ctl, error);
		return;
	}
	for (guint i = 0; ctl->sans != NULL && ctl->sans[i] != NULL; i++) {
		if (!scep_csr_params_add_san_spec(params, ctl->sans[i], &error)) {
			scepctl_fail(ctl, error);
			return;
		}
	}
	if (ctl->challenge != NULL && ctl->challenge[0] != '\0')
		scep_csr_params_set_challenge_password(params, ctl->challenge);
	g_clear_pointer(&ctl->challenge, scepctl_wipe_free);

	/* the key is on disk before the request leaves, so a pending state can refer to it */
	key_pem = scep_csr_export_key_pem(ctl->key, &error);
	if (key_pem == NULL || !scepctl_ensure_dir(ctl->out_dir, &error) ||
	    !scepctl_write_file(key_path,
				g_bytes_get_data(key_pem, NULL),
				g_bytes_get_size(key_pem),
				0600,
				&error)) {
		scepctl_fail(ctl, error);
		return;
	}
	/* g_file_set_contents_full applies the mode to the new file; make sure of it */
	g_chmod(key_path, 0600);
	scep_ndes_client_enroll_async(ctl->client, &request, NULL, scepctl_enroll_cb, ctl);
}

static void
scepctl_keygen_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	ScepCtl *ctl = user_data;
	g_autoptr(GError) error = NULL;
	ctl->key = scep_csr_generate_key_finish(result, &error);
	if (ctl->key == NULL) {
		scepctl_fail(ctl, error);
		return;
	}
	scepctl_request_send(ctl);
}

static gboolean
scepctl_read_challenge(ScepCtl *ctl, GError **error)
{
	gchar *data = NULL;
	gsize len = 0;
	if (ctl->challenge_file != NULL) {
		if (!g_file_get_contents(ctl->challenge_file, &data, &len, error))
			return FALSE;
	} else if (!isatty(STDIN_FILENO)) {
		g_autoptr(GInputStream) in = g_unix_input_stream_new(STDIN_FILENO, FALSE);
		g_autoptr(GByteArray) buf = g_byte_array_new();
		guint8 chunk[256];
		gssize n;
		while ((n = g_input_stream_read(in, chunk, sizeof(chunk), NULL, error)) > 0)
			g_byte_array_append(buf, chunk, (guint)n);
		if (n < 0)
			return FALSE;
		g_byte_array_append(buf, (const guint8 *)"", 1);
		len = buf->len - 1;
		data = g_strndup((const gchar *)buf->data, len);
		gnutls_memset(buf->data, 0, buf->len);
	} else {
		return TRUE;
	}
	/* one line: the trailing newline is not part of the challenge */
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		data[--len] = '\0';
	ctl->challenge = data;
	return TRUE;
}

/* --signer-cert and --signer-key: who signs the request (renewal, GetCert, GetCRL) */
static gboolean
scepctl_load_signer(ScepCtl *ctl, GError **error)
{
	g_autofree gchar *data = NULL;
	gsize len = 0;
	gnutls_datum_t datum;

	if ((ctl->signer_cert_file == NULL) != (ctl->signer_key_file == NULL)) {
		g_set_error_literal(error,
				    G_OPTION_ERROR,
				    G_OPTION_ERROR_BAD_VALUE,
				    _("--signer-cert and --signer-key go together"));
		return FALSE;
	}
	if (ctl->signer_cert_file == NULL)
		return TRUE;
	if (!g_file_get_contents(ctl->signer_cert_file, &data, &len, error))
		return FALSE;
	datum.data = (guchar *)data;
	datum.size = (guint)len;
	if (gnutls_x509_crt_init(&ctl->signer_cert) < 0 ||
	    (gnutls_x509_crt_import(ctl->signer_cert, &datum, GNUTLS_X509_FMT_PEM) < 0 &&
	     gnutls_x509_crt_import(ctl->signer_cert, &datum, GNUTLS_X509_FMT_DER) < 0)) {
		g_set_error(error,
			    G_OPTION_ERROR,
			    G_OPTION_ERROR_BAD_VALUE,
			    "%s: not a certificate",
			    ctl->signer_cert_file);
		return FALSE;
	}
	ctl->signer_key = scep_csr_load_key(ctl->signer_key_file, error);
	return ctl->signer_key != NULL;
}

static gboolean
scepctl_request_start(ScepCtl *ctl, GError **error)
{
	if (ctl->subject == NULL || ctl->out_dir == NULL) {
		g_set_error_literal(error,
				    G_OPTION_ERROR,
				    G_OPTION_ERROR_BAD_VALUE,
				    _("request needs --subject DN and --out DIR"));
		return FALSE;
	}
	if (ctl->message != NULL && g_ascii_strcasecmp(ctl->message, "pkcsreq") != 0 &&
	    g_ascii_strcasecmp(ctl->message, "renewalreq") != 0) {
		g_set_error_literal(error,
				    G_OPTION_ERROR,
				    G_OPTION_ERROR_BAD_VALUE,
				    _("--message must be pkcsreq or renewalreq"));
		return FALSE;
	}
	if (!scepctl_read_challenge(ctl, error))
		return FALSE;
	if (!scepctl_load_signer(ctl, error))
		return FALSE;
	if (ctl->key_file != NULL) {
		ctl->key = scep_csr_load_key(ctl->key_file, error);
		if (ctl->key == NULL)
			return FALSE;
		scepctl_request_send(ctl);
		return TRUE;
	}
	scep_csr_generate_key_async(
	    ctl->key_size > 0 ? (guint)ctl->key_size : 2048, NULL, scepctl_keygen_cb, ctl);
	return TRUE;
}

/* ---- poll ---- */

static gboolean
scepctl_poll_start(ScepCtl *ctl, GError **error)
{
	if (ctl->state_file == NULL) {
		g_set_error_literal(
		    error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, _("poll needs --state FILE"));
		return FALSE;
	}
	ctl->pending = scep_pending_load(ctl->state_file, error);
	if (ctl->pending == NULL)
		return FALSE;
	if (ctl->out_dir == NULL)
		ctl->out_dir = g_path_get_dirname(ctl->state_file);
	g_clear_object(&ctl->client);
	/* the URL on the command line wins: the server may have moved */
	g_free(ctl->pending->url);
	ctl->pending->url = g_strdup(ctl->url);
	ctl->client = scep_ndes_client_new_for_pending(ctl->pending, error);
	if (ctl->client == NULL)
		return FALSE;
	if (ctl->timeout > 0)
		scep_ndes_client_set_timeouts(
		    ctl->client, (guint)ctl->timeout, (guint)ctl->timeout);
	scep_ndes_client_poll_async(ctl->client, ctl->pending, NULL, scepctl_enroll_cb, ctl);
	return TRUE;
}

/* ---- getcert / getcrl ---- */

static void
scepctl_query_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	ScepCtl *ctl = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) items = NULL;
	gboolean crl = g_strcmp0(ctl->verb, "getcrl") == 0;
	g_autoptr(GString) pem = g_string_new(NULL);

	if (crl)
		items = scep_ndes_client_get_crl_finish(SCEP_NDES_CLIENT(source), result, &error);
	else
		items = scep_ndes_client_get_cert_finish(SCEP_NDES_CLIENT(source), result, &error);
	if (items == NULL) {
		scepctl_fail(ctl, error);
		return;
	}
	for (guint i = 0; i < items->len; i++) {
		g_autofree gchar *one = scepctl_der_to_pem(g_ptr_array_index(items, i),
							   crl ? "X509 CRL" : "CERTIFICATE");
		g_string_append(pem, one);
	}
	if (ctl->out_dir != NULL) {
		g_autofree gchar *path =
		    g_build_filename(ctl->out_dir, crl ? "crl.pem" : "cert.pem", NULL);
		if (!scepctl_ensure_dir(ctl->out_dir, &error) ||
		    !scepctl_write_file(path, pem->str, pem->len, 0644, &error)) {
			scepctl_fail(ctl, error);
			return;
		}
	}
	if (ctl->json) {
		g_autofree gchar *js = scepctl_json_string(pem->str);
		g_print("{\"result\": \"ok\", \"pem\": %s}\n", js);
	} else {
		g_print("%s", pem->str);
	}
	ctl->exit_code = SCEPCTL_EXIT_OK;
	g_main_loop_quit(ctl->loop);
}

/* hex digits, optionally with a 0x prefix and ':' or ' ' between bytes; an odd count of
 * digits means a leading zero */
static GBytes *
scepctl_parse_serial(const gchar *text, GError **error)
{
	g_autoptr(GString) digits = g_string_new(NULL);
	g_autoptr(GByteArray) raw = g_byte_array_new();
	const gchar *p = text;

	if (p == NULL) {
		g_set_error_literal(error,
				    G_OPTION_ERROR,
				    G_OPTION_ERROR_BAD_VALUE,
				    _("this command needs --serial HEX"));
		return NULL;
	}
	if (g_str_has_prefix(p, "0x") || g_str_has_prefix(p, "0X"))
		p += 2;
	for (; *p != '\0'; p++) {
		if (*p == ':' || *p == ' ')
			continue;
		if (!g_ascii_isxdigit(*p)) {
			g_set_error(error,
				    G_OPTION_ERROR,
				    G_OPTION_ERROR_BAD_VALUE,
				    "--serial: '%s' is not hexadecimal",
				    text);
			return NULL;
		}
		g_string_append_c(digits, *p);
	}
	if (digits->len == 0) {
		g_set_error_literal(error,
				    G_OPTION_ERROR,
				    G_OPTION_ERROR_BAD_VALUE,
				    _("this command needs --serial HEX"));
		return NULL;
	}
	if (digits->len % 2 == 1)
		g_string_prepend_c(digits, '0');
	for (gsize i = 0; i < digits->len; i += 2) {
		guint8 b = (guint8)(g_ascii_xdigit_value(digits->str[i]) << 4 |
				    g_ascii_xdigit_value(digits->str[i + 1]));
		g_byte_array_append(raw, &b, 1);
	}
	return g_bytes_new(raw->data, raw->len);
}

static gboolean
scepctl_query_start(ScepCtl *ctl, GError **error)
{
	g_autoptr(GBytes) serial = scepctl_parse_serial(ctl->serial, error);

	if (serial == NULL)
		return FALSE;
	if (!scepctl_load_signer(ctl, error))
		return FALSE;
	if (g_strcmp0(ctl->verb, "getcrl") == 0)
		scep_ndes_client_get_crl_async(ctl->client,
					       serial,
					       ctl->signer_cert,
					       ctl->signer_key,
					       NULL,
					       scepctl_query_cb,
					       ctl);
	else
		scep_ndes_client_get_cert_async(ctl->client,
						serial,
						ctl->signer_cert,
						ctl->signer_key,
						NULL,
						scepctl_query_cb,
						ctl);
	return TRUE;
}

/* ---- main ---- */

static const gchar *const scepctl_verbs[] = { "getcaps", "getca",   "getnextca", "request",
					      "poll",    "getcert", "getcrl",    NULL };

/* starts the verb's operation; the main loop ends it */
static gboolean
scepctl_start(ScepCtl *ctl, GError **error)
{
	if (g_strcmp0(ctl->verb, "getcaps") == 0 || g_strcmp0(ctl->verb, "getca") == 0) {
		scep_ndes_client_fetch_ca_async(ctl->client, NULL, scepctl_fetch_ca_cb, ctl);
		return TRUE;
	}
	if (g_strcmp0(ctl->verb, "getnextca") == 0) {
		scep_ndes_client_get_next_ca_async(ctl->client, NULL, scepctl_next_ca_cb, ctl);
		return TRUE;
	}
	if (g_strcmp0(ctl->verb, "request") == 0)
		return scepctl_request_start(ctl, error);
	if (g_strcmp0(ctl->verb, "poll") == 0)
		return scepctl_poll_start(ctl, error);
	return scepctl_query_start(ctl, error);
}

static void
scepctl_print_usage(void)
{
	g_printerr(
	    _("Usage: scepctl [--json] [--bus system|session|ADDRESS] list | status INSTANCE "
	      "| monitor | enroll INSTANCE | renew [--wait] INSTANCE | reload\n"));
	g_printerr(_("Usage: scepctl COMMAND URL [OPTION...]\n"
		     "Commands: getcaps, getca, getnextca, request, poll, getcert, getcrl\n"
		     "Run scepctl COMMAND --help for the options of a command.\n"));
}

/* ---- daemon verbs: talk to scep-agent over D-Bus, through the XML's interfaces only ---- */

#define SCEPCTL_DBUS_NAME  "org.scepagent.Agent1"
#define SCEPCTL_DBUS_PATH  "/org/scepagent/Agent1"
#define SCEPCTL_DBUS_CERTS "/org/scepagent/Agent1/certificates/"
#define SCEPCTL_DBUS_ERROR "org.scepagent.Agent1.Error."

typedef struct {
	GMainLoop *loop;
	gint exit_code;
	gboolean json;
	gboolean wait;
	gboolean verbose;
	gboolean color;
	gchar *bus;
	gchar *verb;
	gchar *instance;
	GDBusConnection *connection;
	GDBusObjectManager *manager;
	ScepDbusCertificate *cert;
} ScepCtlDaemon;

static void
scepctl_daemon_clear(ScepCtlDaemon *d)
{
	g_clear_object(&d->cert);
	g_clear_object(&d->manager);
	g_clear_object(&d->connection);
	g_clear_pointer(&d->loop, g_main_loop_unref);
	g_free(d->bus);
	g_free(d->verb);
	g_free(d->instance);
}

/* the pinned state values of data/org.scepagent.Agent1.xml */
static const gchar *
scepctl_state_name(guint state)
{
	static const gchar *const names[] = { "disabled",  "unconfigured",   "fetching-ca",
					      "challenge", "generating-key", "submitting",
					      "pending",   "valid",          "renewing",
					      "rejected",  "failed" };
	return state < G_N_ELEMENTS(names) ? names[state] : "unknown";
}

/* SGR colour of a state, for a terminal */
static const gchar *
scepctl_state_color(guint state)
{
	switch (state) {
	case 7: /* valid */
		return "\033[32m";
	case 9:  /* rejected */
	case 10: /* failed */
	case 1:  /* unconfigured */
		return "\033[31m";
	case 0: /* disabled */
		return "\033[2m";
	default: /* in flight or pending */
		return "\033[33m";
	}
}

static gchar *
scepctl_format_time(guint64 when)
{
	g_autoptr(GDateTime) dt = NULL;
	if (when == 0 || when > (guint64)G_MAXINT64)
		return g_strdup("-");
	dt = g_date_time_new_from_unix_local((gint64)when);
	if (dt == NULL)
		return g_strdup("-");
	return g_date_time_format(dt, "%Y-%m-%d %H:%M:%S");
}

/* the D-Bus error name (or a local kind) and the exit code of scepctl(1) */
static gint
scepctl_daemon_classify(const GError *error, gchar **name)
{
	g_autofree gchar *remote = NULL;
	if (g_dbus_error_is_remote_error(error))
		remote = g_dbus_error_get_remote_error(error);
	if (remote != NULL) {
		static const gchar *const usage[] = {
			SCEPCTL_DBUS_ERROR "NotFound",
			SCEPCTL_DBUS_ERROR "InvalidArgument",
			SCEPCTL_DBUS_ERROR "InvalidValue",
			SCEPCTL_DBUS_ERROR "Disabled",
			SCEPCTL_DBUS_ERROR "Unconfigured",
			"org.freedesktop.DBus.Error.UnknownObject",
			"org.freedesktop.DBus.Error.UnknownMethod",
			"org.freedesktop.DBus.Error.InvalidArgs",
			NULL,
		};
		gint code = SCEPCTL_EXIT_FAILED;
		if (g_strcmp0(remote, SCEPCTL_DBUS_ERROR "Rejected") == 0)
			code = SCEPCTL_EXIT_REJECTED;
		else if (g_strv_contains(usage, remote))
			code = SCEPCTL_EXIT_USAGE;
		*name = g_steal_pointer(&remote);
		return code;
	}
	if (error->domain == G_OPTION_ERROR) {
		*name = g_strdup("usage");
		return SCEPCTL_EXIT_USAGE;
	}
	*name = g_strdup("failed");
	return SCEPCTL_EXIT_FAILED;
}

/* takes @error */
static void
scepctl_daemon_fail(ScepCtlDaemon *d, GError *error_in)
{
	g_autoptr(GError) error = error_in;
	g_autofree gchar *name = NULL;
	g_autofree gchar *message = NULL;
	d->exit_code = scepctl_daemon_classify(error, &name);
	if (g_dbus_error_is_remote_error(error))
		g_dbus_error_strip_remote_error(error);
	message = g_strdup(error->message);
	if (d->json) {
		g_autofree gchar *js_name = scepctl_json_string(name);
		g_autofree gchar *js_msg = scepctl_json_string(message);
		g_print("{\"result\": \"%s\", \"error\": %s, \"message\": %s}\n",
			d->exit_code == SCEPCTL_EXIT_REJECTED ? "rejected" : "error",
			js_name,
			js_msg);
	} else if (d->exit_code == SCEPCTL_EXIT_REJECTED) {
		g_printerr(_("Rejected by the CA: %s\n"), message);
	} else {
		g_printerr(_("Error: %s\n"), message);
	}
	if (d->loop != NULL)
		g_main_loop_quit(d->loop);
}

static GDBusConnection *
scepctl_daemon_bus(const gchar *bus, GError **error)
{
	if (bus == NULL || g_strcmp0(bus, "system") == 0)
		return g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, error);
	if (g_strcmp0(bus, "session") == 0)
		return g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, error);
	if (!g_dbus_is_supported_address(bus, NULL)) {
		g_set_error(error,
			    G_OPTION_ERROR,
			    G_OPTION_ERROR_BAD_VALUE,
			    _("--bus must be system, session or a D-Bus address, not \"%s\""),
			    bus);
		return NULL;
	}
	return g_dbus_connection_new_for_address_sync(
	    bus,
	    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
		G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
	    NULL,
	    NULL,
	    error);
}

static gboolean
scepctl_daemon_connect(ScepCtlDaemon *d, GError **error)
{
	g_autofree gchar *owner = NULL;
	d->connection = scepctl_daemon_bus(d->bus, error);
	if (d->connection == NULL)
		return FALSE;
	d->manager =
	    scep_dbus_object_manager_client_new_sync(d->connection,
						     G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_NONE,
						     SCEPCTL_DBUS_NAME,
						     SCEPCTL_DBUS_PATH,
						     NULL,
						     error);
	if (d->manager == NULL)
		return FALSE;
	owner =
	    g_dbus_object_manager_client_get_name_owner(G_DBUS_OBJECT_MANAGER_CLIENT(d->manager));
	/* monitor waits for the daemon to appear */
	if (owner == NULL && g_strcmp0(d->verb, "monitor") != 0) {
		g_set_error_literal(error,
				    G_IO_ERROR,
				    G_IO_ERROR_FAILED,
				    _("scep-agent is not running on this bus"));
		return FALSE;
	}
	return TRUE;
}

static gboolean
scepctl_daemon_find(ScepCtlDaemon *d, GError **error)
{
	g_autofree gchar *path = g_strconcat(SCEPCTL_DBUS_CERTS, d->instance, NULL);
	GDBusInterface *iface = NULL;
	if (g_variant_is_object_path(path))
		iface = g_dbus_object_manager_get_interface(
		    d->manager, path, "org.scepagent.Agent1.Certificate");
	if (iface == NULL) {
		g_autofree gchar *message = g_strdup_printf(_("No such instance: %s"), d->instance);
		/* reported like the daemon's own NotFound */
		g_propagate_error(
		    error, g_dbus_error_new_for_dbus_error(SCEPCTL_DBUS_ERROR "NotFound", message));
		return FALSE;
	}
	d->cert = SCEP_DBUS_CERTIFICATE(iface);
	return TRUE;
}

static gint
scepctl_strv_compare(const void *a, const void *b)
{
	return g_strcmp0(*(const gchar *const *)a, *(const gchar *const *)b);
}

/* every property of @proxy as one JSON object, keyed by the D-Bus property names */
static gchar *
scepctl_proxy_json(GDBusProxy *proxy)
{
	g_auto(GStrv) names = g_dbus_proxy_get_cached_property_names(proxy);
	GString *out = g_string_new("{");
	guint n = 0;
	if (names == NULL)
		return g_string_free(g_string_append_c(out, '}'), FALSE);
	qsort(names, g_strv_length(names), sizeof(gchar *), scepctl_strv_compare);
	for (guint i = 0; names[i] != NULL; i++) {
		g_autoptr(GVariant) value = g_dbus_proxy_get_cached_property(proxy, names[i]);
		g_autofree gchar *js_name = scepctl_json_string(names[i]);
		if (value == NULL)
			continue;
		g_string_append_printf(out, "%s%s: ", n++ > 0 ? ", " : "", js_name);
		if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING)) {
			g_autofree gchar *s =
			    scepctl_json_string(g_variant_get_string(value, NULL));
			g_string_append(out, s);
		} else if (g_variant_is_of_type(value, G_VARIANT_TYPE_BOOLEAN)) {
			g_string_append(out, g_variant_get_boolean(value) ? "true" : "false");
		} else if (g_variant_is_of_type(value, G_VARIANT_TYPE_UINT32)) {
			g_string_append_printf(out, "%u", g_variant_get_uint32(value));
		} else if (g_variant_is_of_type(value, G_VARIANT_TYPE_UINT64)) {
			g_string_append_printf(
			    out, "%" G_GUINT64_FORMAT, g_variant_get_uint64(value));
		} else {
			g_autofree gchar *text = g_variant_print(value, FALSE);
			g_autofree gchar *s = scepctl_json_string(text);
			g_string_append(out, s);
		}
	}
	g_string_append_c(out, '}');
	return g_string_free(out, FALSE);
}

static GList *
scepctl_daemon_certificates(ScepCtlDaemon *d)
{
	GList *objects = g_dbus_object_manager_get_objects(d->manager);
	GList *certs = NULL;
	for (GList *l = objects; l != NULL; l = l->next) {
		ScepDbusCertificate *cert =
		    scep_dbus_object_get_certificate(SCEP_DBUS_OBJECT(l->data));
		if (cert != NULL)
			certs = g_list_prepend(certs, cert);
	}
	g_list_free_full(objects, g_object_unref);
	return g_list_reverse(certs);
}

/* instances in numeric order: cert2 before cert10 */
static gint
scepctl_cert_compare(gconstpointer a, gconstpointer b)
{
	const gchar *na = scep_dbus_certificate_get_instance((ScepDbusCertificate *)a);
	const gchar *nb = scep_dbus_certificate_get_instance((ScepDbusCertificate *)b);
	gsize la = na != NULL ? strlen(na) : 0;
	gsize lb = nb != NULL ? strlen(nb) : 0;
	if (la != lb)
		return la < lb ? -1 : 1;
	return g_strcmp0(na, nb);
}

/* @text padded to @width columns, in colour when asked */
static void
scepctl_print_cell(GString *line, const gchar *text, guint width, const gchar *color)
{
	glong len = g_utf8_strlen(text, -1);
	if (color != NULL)
		g_string_append(line, color);
	g_string_append(line, text);
	if (color != NULL)
		g_string_append(line, "\033[0m");
	for (glong i = len; i < (glong)width; i++)
		g_string_append_c(line, ' ');
	g_string_append_c(line, ' ');
}

static void
scepctl_daemon_list(ScepCtlDaemon *d)
{
	GList *certs = g_list_sort(scepctl_daemon_certificates(d), scepctl_cert_compare);
	if (d->json) {
		GString *out = g_string_new("{\"instances\": [");
		for (GList *l = certs; l != NULL; l = l->next) {
			g_autofree gchar *obj = scepctl_proxy_json(G_DBUS_PROXY(l->data));
			g_string_append_printf(out, "%s%s", l != certs ? ", " : "", obj);
		}
		g_string_append(out, "]}\n");
		g_print("%s", out->str);
		g_string_free(out, TRUE);
	} else {
		g_autoptr(GString) line = g_string_new(NULL);
		scepctl_print_cell(line, _("INSTANCE"), 9, NULL);
		scepctl_print_cell(line, _("STATE"), 14, NULL);
		scepctl_print_cell(line, _("EXPIRES"), 19, NULL);
		scepctl_print_cell(line, _("NEXT ATTEMPT"), 19, NULL);
		g_string_append(line, _("SUBJECT"));
		g_print("%s\n", line->str);
		for (GList *l = certs; l != NULL; l = l->next) {
			ScepDbusCertificate *cert = l->data;
			guint state = scep_dbus_certificate_get_state(cert);
			g_autofree gchar *expires =
			    scepctl_format_time(scep_dbus_certificate_get_not_after(cert));
			g_autofree gchar *next =
			    scepctl_format_time(scep_dbus_certificate_get_next_attempt(cert));
			const gchar *subject = scep_dbus_certificate_get_subject(cert);
			g_string_truncate(line, 0);
			scepctl_print_cell(line, scep_dbus_certificate_get_instance(cert), 9, NULL);
			scepctl_print_cell(line,
					   scepctl_state_name(state),
					   14,
					   d->color ? scepctl_state_color(state) : NULL);
			scepctl_print_cell(line, expires, 19, NULL);
			scepctl_print_cell(line, next, 19, NULL);
			g_string_append(line,
					subject != NULL && subject[0] != '\0' ? subject : "-");
			g_print("%s\n", line->str);
		}
	}
	g_list_free_full(certs, g_object_unref);
	d->exit_code = SCEPCTL_EXIT_OK;
}

static void
scepctl_print_field(const gchar *label, const gchar *value)
{
	g_autoptr(GString) line = g_string_new(NULL);
	scepctl_print_cell(line, label, 22, NULL);
	g_string_append(line, value != NULL && value[0] != '\0' ? value : "-");
	g_print("%s\n", line->str);
}

static void
scepctl_print_time_field(const gchar *label, guint64 when)
{
	g_autofree gchar *text = scepctl_format_time(when);
	scepctl_print_field(label, text);
}

static void
scepctl_daemon_status(ScepCtlDaemon *d)
{
	ScepDbusCertificate *c = d->cert;
	guint state = scep_dbus_certificate_get_state(c);
	g_autofree gchar *state_text = NULL;
	g_autofree gchar *attempt = NULL;

	d->exit_code = SCEPCTL_EXIT_OK;
	if (d->json) {
		g_autofree gchar *obj = scepctl_proxy_json(G_DBUS_PROXY(c));
		g_print("%s\n", obj);
		return;
	}
	state_text = d->color ? g_strdup_printf("%s%s\033[0m (%u)",
						scepctl_state_color(state),
						scepctl_state_name(state),
						state)
			      : g_strdup_printf("%s (%u)", scepctl_state_name(state), state);
	attempt = g_strdup_printf("%u", scep_dbus_certificate_get_attempt(c));
	scepctl_print_field(_("Instance"), scep_dbus_certificate_get_instance(c));
	scepctl_print_field(_("Enabled"),
			    scep_dbus_certificate_get_enabled(c) ? _("yes") : _("no"));
	scepctl_print_field(_("State"), state_text);
	scepctl_print_field(_("Reason"), scep_dbus_certificate_get_reason(c));
	scepctl_print_field(_("Subject"), scep_dbus_certificate_get_subject(c));
	scepctl_print_field(_("Issuer"), scep_dbus_certificate_get_issuer(c));
	scepctl_print_field(_("Serial"), scep_dbus_certificate_get_serial(c));
	scepctl_print_time_field(_("Valid from"), scep_dbus_certificate_get_not_before(c));
	scepctl_print_time_field(_("Valid until"), scep_dbus_certificate_get_not_after(c));
	scepctl_print_time_field(_("Renewal time"), scep_dbus_certificate_get_renewal_time(c));
	scepctl_print_time_field(_("Next attempt"), scep_dbus_certificate_get_next_attempt(c));
	scepctl_print_field(_("Failed attempts"), attempt);
	scepctl_print_time_field(_("Last attempt"), scep_dbus_certificate_get_last_attempt(c));
	scepctl_print_field(_("Last error"), scep_dbus_certificate_get_last_error(c));
	scepctl_print_field(_("Last error kind"), scep_dbus_certificate_get_last_error_name(c));
	scepctl_print_field(_("Renewal method"), scep_dbus_certificate_get_renewal_method(c));
	scepctl_print_field(_("CA fingerprint"), scep_dbus_certificate_get_ca_fingerprint(c));
	scepctl_print_field(_("Certificate file"), scep_dbus_certificate_get_certificate_path(c));
	scepctl_print_field(_("Key file"), scep_dbus_certificate_get_key_path(c));
	scepctl_print_field(_("Chain file"), scep_dbus_certificate_get_chain_path(c));
	scepctl_print_field(_("Pending transaction"),
			    scep_dbus_certificate_get_pending_transaction_id(c));
}

/* ---- monitor and renew --wait: signals as they arrive ---- */

static const gchar *
scepctl_object_instance(GDBusObject *object)
{
	const gchar *path = g_dbus_object_get_object_path(object);
	const gchar *slash = strrchr(path, '/');
	return slash != NULL ? slash + 1 : path;
}

static void
scepctl_print_transition(
    ScepCtlDaemon *d, const gchar *instance, guint old_state, guint new_state, const gchar *reason)
{
	if (d->json) {
		g_autofree gchar *js_inst = scepctl_json_string(instance);
		g_autofree gchar *js_reason = scepctl_json_string(reason);
		g_print("{\"event\": \"state-changed\", \"instance\": %s, \"old_state\": %u, "
			"\"old_state_name\": \"%s\", \"new_state\": %u, \"new_state_name\": "
			"\"%s\", \"reason\": %s}\n",
			js_inst,
			old_state,
			scepctl_state_name(old_state),
			new_state,
			scepctl_state_name(new_state),
			js_reason);
		return;
	}
	g_print("%s: %s -> %s%s%s%s%s\n",
		instance,
		scepctl_state_name(old_state),
		d->color ? scepctl_state_color(new_state) : "",
		scepctl_state_name(new_state),
		d->color ? "\033[0m" : "",
		reason != NULL && reason[0] != '\0' ? ": " : "",
		reason != NULL ? reason : "");
}

static void
scepctl_print_object_event(ScepCtlDaemon *d, GDBusObject *object, gboolean added)
{
	const gchar *instance = scepctl_object_instance(object);
	if (d->json) {
		g_autofree gchar *js_inst = scepctl_json_string(instance);
		g_print("{\"event\": \"%s\", \"instance\": %s}\n",
			added ? "added" : "removed",
			js_inst);
	} else if (added) {
		g_print(_("%s: added\n"), instance);
	} else {
		g_print(_("%s: removed\n"), instance);
	}
}

static void
scepctl_monitor_added_cb(GDBusObjectManager *manager, GDBusObject *object, gpointer user_data)
{
	scepctl_print_object_event(user_data, object, TRUE);
}

static void
scepctl_monitor_removed_cb(GDBusObjectManager *manager, GDBusObject *object, gpointer user_data)
{
	scepctl_print_object_event(user_data, object, FALSE);
}

static void
scepctl_monitor_signal_cb(GDBusObjectManagerClient *manager,
			  GDBusObjectProxy *object,
			  GDBusProxy *proxy,
			  const gchar *sender,
			  const gchar *signal_name,
			  GVariant *parameters,
			  gpointer user_data)
{
	ScepCtlDaemon *d = user_data;
	guint old_state = 0;
	guint new_state = 0;
	const gchar *reason = NULL;
	if (g_strcmp0(signal_name, "StateChanged") != 0 ||
	    !g_variant_is_of_type(parameters, G_VARIANT_TYPE("(uus)")))
		return;
	g_variant_get(parameters, "(uu&s)", &old_state, &new_state, &reason);
	scepctl_print_transition(
	    d, scepctl_object_instance(G_DBUS_OBJECT(object)), old_state, new_state, reason);
}

static void
scepctl_monitor_properties_cb(GDBusObjectManagerClient *manager,
			      GDBusObjectProxy *object,
			      GDBusProxy *proxy,
			      GVariant *changed,
			      const gchar *const *invalidated,
			      gpointer user_data)
{
	ScepCtlDaemon *d = user_data;
	const gchar *instance = scepctl_object_instance(G_DBUS_OBJECT(object));
	GVariantIter iter;
	const gchar *name;
	GVariant *value;

	if (d->json) {
		g_autofree gchar *js_inst = scepctl_json_string(instance);
		g_autofree gchar *props = scepctl_proxy_json(proxy);
		g_autoptr(GString) names = g_string_new(NULL);
		g_variant_iter_init(&iter, changed);
		while (g_variant_iter_next(&iter, "{&sv}", &name, &value)) {
			g_autofree gchar *js_name = scepctl_json_string(name);
			g_string_append_printf(names, "%s%s", names->len > 0 ? ", " : "", js_name);
			g_variant_unref(value);
		}
		g_print("{\"event\": \"properties-changed\", \"instance\": %s, \"changed\": [%s], "
			"\"properties\": %s}\n",
			js_inst,
			names->str,
			props);
		return;
	}
	g_variant_iter_init(&iter, changed);
	while (g_variant_iter_next(&iter, "{&sv}", &name, &value)) {
		g_autoptr(GVariant) owned = value;
		g_autofree gchar *text = NULL;
		if (g_variant_is_of_type(owned, G_VARIANT_TYPE_STRING))
			text = g_strdup(g_variant_get_string(owned, NULL));
		else if (g_variant_is_of_type(owned, G_VARIANT_TYPE_UINT64))
			text = scepctl_format_time(g_variant_get_uint64(owned));
		else
			text = g_variant_print(owned, FALSE);
		g_print("%s: %s = %s\n", instance, name, text);
	}
}

static gboolean
scepctl_daemon_quit_cb(gpointer user_data)
{
	ScepCtlDaemon *d = user_data;
	d->exit_code = SCEPCTL_EXIT_OK;
	g_main_loop_quit(d->loop);
	return G_SOURCE_CONTINUE;
}

static void
scepctl_daemon_monitor(ScepCtlDaemon *d)
{
	guint term_id;
	guint int_id;
	g_signal_connect(d->manager, "object-added", G_CALLBACK(scepctl_monitor_added_cb), d);
	g_signal_connect(d->manager, "object-removed", G_CALLBACK(scepctl_monitor_removed_cb), d);
	g_signal_connect(
	    d->manager, "interface-proxy-signal", G_CALLBACK(scepctl_monitor_signal_cb), d);
	g_signal_connect(d->manager,
			 "interface-proxy-properties-changed",
			 G_CALLBACK(scepctl_monitor_properties_cb),
			 d);
	if (d->json)
		g_print("{\"event\": \"monitoring\"}\n");
	else
		g_print(_("Monitoring scep-agent; press Ctrl+C to stop\n"));
	term_id = g_unix_signal_add(SIGTERM, scepctl_daemon_quit_cb, d);
	int_id = g_unix_signal_add(SIGINT, scepctl_daemon_quit_cb, d);
	g_main_loop_run(d->loop);
	g_source_remove(term_id);
	g_source_remove(int_id);
	g_signal_handlers_disconnect_by_data(d->manager, d);
}

/* ---- enroll, renew, reload ---- */

static void
scepctl_wait_state_cb(ScepDbusCertificate *cert,
		      guint old_state,
		      guint new_state,
		      const gchar *reason,
		      gpointer user_data)
{
	ScepCtlDaemon *d = user_data;
	scepctl_print_transition(
	    d, scep_dbus_certificate_get_instance(cert), old_state, new_state, reason);
}

/* the state after the operation, asked for (not cached) */
static guint
scepctl_daemon_get_state(ScepCtlDaemon *d, GError **error)
{
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) value = NULL;
	reply = g_dbus_connection_call_sync(
	    d->connection,
	    SCEPCTL_DBUS_NAME,
	    g_dbus_proxy_get_object_path(G_DBUS_PROXY(d->cert)),
	    "org.freedesktop.DBus.Properties",
	    "Get",
	    g_variant_new("(ss)", "org.scepagent.Agent1.Certificate", "State"),
	    G_VARIANT_TYPE("(v)"),
	    G_DBUS_CALL_FLAGS_NONE,
	    -1,
	    NULL,
	    error);
	if (reply == NULL)
		return G_MAXUINT;
	g_variant_get(reply, "(v)", &value);
	return g_variant_is_of_type(value, G_VARIANT_TYPE_UINT32) ? g_variant_get_uint32(value)
								  : G_MAXUINT;
}

static void
scepctl_daemon_report_final(ScepCtlDaemon *d)
{
	g_autoptr(GError) error = NULL;
	guint state = scepctl_daemon_get_state(d, &error);
	const gchar *instance = d->instance;
	if (state == G_MAXUINT) {
		if (error == NULL)
			error = g_error_new_literal(
			    G_IO_ERROR, G_IO_ERROR_FAILED, _("the daemon sent no state"));
		scepctl_daemon_fail(d, g_steal_pointer(&error));
		return;
	}
	if (state == 7)
		d->exit_code = SCEPCTL_EXIT_OK;
	else if (state == 6)
		d->exit_code = SCEPCTL_EXIT_PENDING;
	else if (state == 9)
		d->exit_code = SCEPCTL_EXIT_REJECTED;
	else
		d->exit_code = SCEPCTL_EXIT_FAILED;
	if (d->json) {
		g_autofree gchar *js_inst = scepctl_json_string(instance);
		g_print("{\"result\": \"%s\", \"instance\": %s, \"state\": %u}\n",
			scepctl_state_name(state),
			js_inst,
			state);
	} else if (state == 7) {
		g_print(_("%s: the certificate is valid\n"), instance);
	} else if (state == 6) {
		g_print(_("%s: the request is pending at the CA\n"), instance);
	} else {
		g_print(_("%s: ended in state %s\n"), instance, scepctl_state_name(state));
	}
}

static void
scepctl_daemon_operation_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	ScepCtlDaemon *d = user_data;
	g_autoptr(GError) error = NULL;
	gboolean ok;
	if (g_strcmp0(d->verb, "enroll") == 0)
		ok = scep_dbus_certificate_call_enroll_finish(d->cert, result, &error);
	else
		ok = scep_dbus_certificate_call_renew_finish(d->cert, result, &error);
	if (!ok) {
		scepctl_daemon_fail(d, g_steal_pointer(&error));
		return;
	}
	if (d->wait) {
		scepctl_daemon_report_final(d);
	} else {
		d->exit_code = SCEPCTL_EXIT_OK;
		if (d->json) {
			g_autofree gchar *js_inst = scepctl_json_string(d->instance);
			g_print("{\"result\": \"started\", \"instance\": %s}\n", js_inst);
		} else if (g_strcmp0(d->verb, "enroll") == 0) {
			g_print(_("%s: enrollment started\n"), d->instance);
		} else {
			g_print(_("%s: renewal started\n"), d->instance);
		}
	}
	g_main_loop_quit(d->loop);
}

static void
scepctl_daemon_operation(ScepCtlDaemon *d)
{
	GVariantBuilder options;
	/* with --wait the daemon answers when the operation has ended: no call timeout */
	gint timeout = d->wait ? G_MAXINT : -1;
	g_variant_builder_init(&options, G_VARIANT_TYPE_VARDICT);
	if (d->wait) {
		g_variant_builder_add(&options, "{sv}", "wait", g_variant_new_boolean(TRUE));
		g_signal_connect(d->cert, "state-changed", G_CALLBACK(scepctl_wait_state_cb), d);
	}
	if (g_strcmp0(d->verb, "enroll") == 0)
		scep_dbus_certificate_call_enroll(d->cert,
						  g_variant_builder_end(&options),
						  G_DBUS_CALL_FLAGS_NONE,
						  timeout,
						  NULL,
						  scepctl_daemon_operation_cb,
						  d);
	else
		scep_dbus_certificate_call_renew(d->cert,
						 g_variant_builder_end(&options),
						 G_DBUS_CALL_FLAGS_NONE,
						 timeout,
						 NULL,
						 scepctl_daemon_operation_cb,
						 d);
	g_main_loop_run(d->loop);
	g_signal_handlers_disconnect_by_data(d->cert, d);
}

static void
scepctl_daemon_reload(ScepCtlDaemon *d)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepDbusManager) manager = NULL;
	manager = scep_dbus_manager_proxy_new_sync(d->connection,
						   G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES,
						   SCEPCTL_DBUS_NAME,
						   SCEPCTL_DBUS_PATH,
						   NULL,
						   &error);
	if (manager == NULL || !scep_dbus_manager_call_reload_sync(
				   manager,
				   g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0),
				   G_DBUS_CALL_FLAGS_NONE,
				   -1,
				   NULL,
				   &error)) {
		scepctl_daemon_fail(d, g_steal_pointer(&error));
		return;
	}
	d->exit_code = SCEPCTL_EXIT_OK;
	if (d->json)
		g_print("{\"result\": \"reloaded\"}\n");
	else
		g_print(_("The registry was reloaded\n"));
}

static const gchar *const scepctl_daemon_verbs[] = { "list",  "status", "monitor", "enroll",
						     "renew", "reload", NULL };

/* the first argument that is not an option (nor the value of --bus) */
static const gchar *
scepctl_find_verb(gint argc, gchar **argv)
{
	for (gint i = 1; i < argc; i++) {
		if (g_strcmp0(argv[i], "--bus") == 0) {
			i++;
			continue;
		}
		if (argv[i][0] != '-')
			return argv[i];
	}
	return NULL;
}

static gint
scepctl_daemon_main(gint argc, gchar **argv)
{
	ScepCtlDaemon d = { 0 };
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	gint code;
	const GOptionEntry entries[] = {
		{ "json", 0, 0, G_OPTION_ARG_NONE, &d.json, N_("Print JSON"), NULL },
		{ "bus",
		  0,
		  0,
		  G_OPTION_ARG_STRING,
		  &d.bus,
		  N_("The bus of the daemon: system (default), session or an address"),
		  "BUS" },
		{ "wait",
		  0,
		  0,
		  G_OPTION_ARG_NONE,
		  &d.wait,
		  N_("Follow the operation until it has ended"),
		  NULL },
		{ "verbose",
		  'v',
		  0,
		  G_OPTION_ARG_NONE,
		  &d.verbose,
		  N_("Print debug messages"),
		  NULL },
		{ NULL }
	};
	gboolean needs_instance;

	context = g_option_context_new(_("COMMAND [INSTANCE]"));
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("%s\n", error->message);
		return SCEPCTL_EXIT_USAGE;
	}
	d.verb = g_strdup(argc > 1 ? argv[1] : "");
	needs_instance = g_strcmp0(d.verb, "status") == 0 || g_strcmp0(d.verb, "enroll") == 0 ||
			 g_strcmp0(d.verb, "renew") == 0;
	if (argc != (needs_instance ? 3 : 2) || (d.wait && !needs_instance) ||
	    (d.wait && g_strcmp0(d.verb, "status") == 0)) {
		scepctl_print_usage();
		scepctl_daemon_clear(&d);
		return SCEPCTL_EXIT_USAGE;
	}
	if (needs_instance)
		d.instance = g_strdup(argv[2]);
	if (d.verbose)
		g_log_set_debug_enabled(TRUE);
	d.color = !d.json && isatty(STDOUT_FILENO) && g_getenv("NO_COLOR") == NULL &&
		  g_strcmp0(g_getenv("TERM"), "dumb") != 0;
	d.loop = g_main_loop_new(NULL, FALSE);
	d.exit_code = SCEPCTL_EXIT_FAILED;

	if (!scepctl_daemon_connect(&d, &error) ||
	    (needs_instance && !scepctl_daemon_find(&d, &error))) {
		scepctl_daemon_fail(&d, g_steal_pointer(&error));
	} else if (g_strcmp0(d.verb, "list") == 0) {
		scepctl_daemon_list(&d);
	} else if (g_strcmp0(d.verb, "status") == 0) {
		scepctl_daemon_status(&d);
	} else if (g_strcmp0(d.verb, "monitor") == 0) {
		scepctl_daemon_monitor(&d);
	} else if (g_strcmp0(d.verb, "reload") == 0) {
		scepctl_daemon_reload(&d);
	} else {
		scepctl_daemon_operation(&d);
	}
	code = d.exit_code;
	scepctl_daemon_clear(&d);
	return code;
}

int
main(int argc, char **argv)
{
	ScepCtl ctl = { 0 };
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	gint code;
	const GOptionEntry common[] = {
		{ "json", 0, 0, G_OPTION_ARG_NONE, &ctl.json, N_("Print JSON"), NULL },
		{ "verbose",
		  'v',
		  0,
		  G_OPTION_ARG_NONE,
		  &ctl.verbose,
		  N_("Print debug messages"),
		  NULL },
		{ "out",
		  'o',
		  0,
		  G_OPTION_ARG_FILENAME,
		  &ctl.out_dir,
		  N_("Output directory"),
		  "DIR" },
		{ "fingerprint",
		  0,
		  0,
		  G_OPTION_ARG_STRING,
		  &ctl.fingerprint,
		  N_("Pinned CA fingerprint"),
		  "ALG:HEX" },
		{ "ca-ident", 0, 0, G_OPTION_ARG_STRING, &ctl.ca_ident, N_("CA identifier"), "ID" },
		{ "proxy",
		  0,
		  0,
		  G_OPTION_ARG_STRING,
		  &ctl.proxy,
		  N_("HTTP proxy (default: from https_proxy, http_proxy, all_proxy and no_proxy; "
		     "\"\" for none)"),
		  "URL" },
		{ "cacert",
		  0,
		  0,
		  G_OPTION_ARG_FILENAME,
		  &ctl.ca_file,
		  N_("CA file for HTTPS"),
		  "FILE" },
		{ "timeout", 0, 0, G_OPTION_ARG_INT, &ctl.timeout, N_("Timeout in seconds"), "S" },
		{ "method", 0, 0, G_OPTION_ARG_STRING, &ctl.method, N_("get or post"), "METHOD" },
		{ "cipher", 0, 0, G_OPTION_ARG_STRING, &ctl.cipher, N_("Content cipher"), "NAME" },
		{ "digest",
		  0,
		  0,
		  G_OPTION_ARG_STRING,
		  &ctl.digest,
		  N_("Signature digest"),
		  "NAME" },
		{ "allow-legacy",
		  0,
		  0,
		  G_OPTION_ARG_NONE,
		  &ctl.allow_legacy,
		  N_("Allow DES and MD5"),
		  NULL },
		{ "subject", 0, 0, G_OPTION_ARG_STRING, &ctl.subject, N_("Subject DN"), "DN" },
		{ "san",
		  0,
		  0,
		  G_OPTION_ARG_STRING_ARRAY,
		  &ctl.sans,
		  N_("Subject alternative name"),
		  "TYPE:VALUE" },
		{ "key-size", 0, 0, G_OPTION_ARG_INT, &ctl.key_size, N_("RSA key size"), "N" },
		{ "key", 0, 0, G_OPTION_ARG_FILENAME, &ctl.key_file, N_("Existing key"), "FILE" },
		{ "challenge-file",
		  0,
		  0,
		  G_OPTION_ARG_FILENAME,
		  &ctl.challenge_file,
		  N_("Read the challenge from FILE (else from standard input)"),
		  "FILE" },
		{ "signer-cert",
		  0,
		  0,
		  G_OPTION_ARG_FILENAME,
		  &ctl.signer_cert_file,
		  N_("Current certificate for renewal"),
		  "FILE" },
		{ "signer-key",
		  0,
		  0,
		  G_OPTION_ARG_FILENAME,
		  &ctl.signer_key_file,
		  N_("Its key"),
		  "FILE" },
		{ "message",
		  0,
		  0,
		  G_OPTION_ARG_STRING,
		  &ctl.message,
		  N_("pkcsreq or renewalreq"),
		  "TYPE" },
		{ "state",
		  0,
		  0,
		  G_OPTION_ARG_FILENAME,
		  &ctl.state_file,
		  N_("Pending state"),
		  "FILE" },
		{ "serial", 0, 0, G_OPTION_ARG_STRING, &ctl.serial, N_("Serial number"), "HEX" },
		{ NULL }
	};

	setlocale(LC_ALL, "");
	bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);

	/* verbs that take an instance (or none) talk to the daemon */
	if (scepctl_find_verb(argc, argv) != NULL &&
	    g_strv_contains(scepctl_daemon_verbs, scepctl_find_verb(argc, argv)))
		return scepctl_daemon_main(argc, argv);
	if (argc < 2 || !g_strv_contains(scepctl_verbs, argv[1])) {
		scepctl_print_usage();
		return SCEPCTL_EXIT_USAGE;
	}
	ctl.verb = g_strdup(argv[1]);
	context = g_option_context_new(_("URL"));
	g_option_context_add_main_entries(context, common, GETTEXT_PACKAGE);
	g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
	/* drop the verb: argv[1] */
	for (gint i = 1; i < argc - 1; i++)
		argv[i] = argv[i + 1];
	argc--;
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("%s\n", error->message);
		scepctl_clear(&ctl);
		return SCEPCTL_EXIT_USAGE;
	}
	if (argc != 2) {
		scepctl_print_usage();
		scepctl_clear(&ctl);
		return SCEPCTL_EXIT_USAGE;
	}
	if (ctl.verbose)
		g_log_set_debug_enabled(TRUE);
	ctl.url = g_strdup(argv[1]);
	ctl.loop = g_main_loop_new(NULL, FALSE);
	ctl.exit_code = SCEPCTL_EXIT_FAILED;

	if (!scepctl_setup_client(&ctl, &error)) {
		scepctl_fail(&ctl, error);
		code = ctl.exit_code == SCEPCTL_EXIT_FAILED ? SCEPCTL_EXIT_USAGE : ctl.exit_code;
		scepctl_clear(&ctl);
		return code;
	}
	if (!scepctl_start(&ctl, &error)) {
		scepctl_fail(&ctl, error);
		code = ctl.exit_code;
		scepctl_clear(&ctl);
		return code;
	}
	g_main_loop_run(ctl.loop);
	code = ctl.exit_code;
	scepctl_clear(&ctl);
	return code;
}
