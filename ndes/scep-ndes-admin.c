#include "config.h"

#include "scep-ndes-admin.h"

#include <gssapi/gssapi_krb5.h>
#include <krb5.h>
#include <libsoup/soup.h>
#include <string.h>

#include "scep-gnutls-common.h"

#define SCEP_NDES_ADMIN_DEFAULT_TIMEOUT 60
#define SCEP_NDES_ADMIN_MAX_PAGE        (256 * 1024)
#define SCEP_NDES_ADMIN_QUOTE_CHARS     200
#define SCEP_NDES_ADMIN_LABEL           "enrollment challenge password is:"

G_DEFINE_QUARK(scep - ndes - admin - error - quark, scep_ndes_admin_error)

static void
scep_ndes_admin_wipe_string(gchar *text)
{
	if (text == NULL)
		return;
	explicit_bzero(text, strlen(text));
	g_free(text);
}

/* ---- the challenge ---- */

struct _ScepNdesChallenge {
	gchar *password; /* owned, wiped */
	gint64 fetched_at;
};

ScepNdesChallenge *
scep_ndes_challenge_new(const gchar *password, gint64 fetched_at)
{
	ScepNdesChallenge *self;
	g_return_val_if_fail(password != NULL, NULL);
	self = g_new0(ScepNdesChallenge, 1);
	self->password = g_strdup(password);
	self->fetched_at = fetched_at;
	return self;
}

const gchar *
scep_ndes_challenge_get_password(const ScepNdesChallenge *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->password;
}

gint64
scep_ndes_challenge_get_fetched_at(const ScepNdesChallenge *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->fetched_at;
}

gboolean
scep_ndes_challenge_is_fresh(const ScepNdesChallenge *self, gint64 now)
{
	g_return_val_if_fail(self != NULL, FALSE);
	return now >= self->fetched_at && now - self->fetched_at <= SCEP_NDES_CHALLENGE_MAX_AGE;
}

void
scep_ndes_challenge_free(ScepNdesChallenge *self)
{
	if (self == NULL)
		return;
	scep_ndes_admin_wipe_string(self->password);
	g_free(self);
}

/* ---- reading the page ---- */

static gchar *
scep_ndes_admin_decode_utf16(const guint8 *data, gsize len, gboolean big_endian)
{
	gsize n = len / 2;
	g_autofree gunichar2 *units = g_new0(gunichar2, n + 1);
	GString *out = g_string_sized_new(n);

	for (gsize i = 0; i < n; i++) {
		units[i] = big_endian ? (gunichar2)((data[2 * i] << 8) | data[2 * i + 1])
				      : (gunichar2)((data[2 * i + 1] << 8) | data[2 * i]);
	}
	/* by hand rather than g_utf16_to_utf8 so that a stray surrogate does not lose the page */
	for (gsize i = 0; i < n; i++) {
		gunichar c = units[i];
		if (c >= 0xd800 && c < 0xdc00 && i + 1 < n && units[i + 1] >= 0xdc00 &&
		    units[i + 1] < 0xe000) {
			c = 0x10000 + ((c - 0xd800) << 10) + (units[i + 1] - 0xdc00);
			i++;
		} else if (c >= 0xd800 && c < 0xe000) {
			c = 0xfffd;
		}
		if (c == 0)
			continue;
		g_string_append_unichar(out, c);
	}
	return g_string_free(out, FALSE);
}

gchar *
scep_ndes_admin_decode_page(GBytes *body)
{
	gsize len = 0;
	const guint8 *data = body != NULL ? g_bytes_get_data(body, &len) : NULL;
	gsize nul_even = 0;
	gsize nul_odd = 0;
	gsize probe;

	if (data == NULL || len == 0)
		return g_strdup("");
	if (len >= 2 && data[0] == 0xff && data[1] == 0xfe)
		return scep_ndes_admin_decode_utf16(data + 2, len - 2, FALSE);
	if (len >= 2 && data[0] == 0xfe && data[1] == 0xff)
		return scep_ndes_admin_decode_utf16(data + 2, len - 2, TRUE);
	if (len >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf) {
		data += 3;
		len -= 3;
	} else {
		/* no byte order mark: ASCII-range text in UTF-16 has a NUL in every other byte */
		probe = MIN(len, 512) & ~(gsize)1;
		for (gsize i = 0; i < probe; i += 2) {
			if (data[i] == 0)
				nul_even++;
			if (data[i + 1] == 0)
				nul_odd++;
		}
		if (probe >= 2 && nul_odd * 4 >= probe / 2 * 3 && nul_even * 4 < probe / 2)
			return scep_ndes_admin_decode_utf16(data, len, FALSE);
		if (probe >= 2 && nul_even * 4 >= probe / 2 * 3 && nul_odd * 4 < probe / 2)
			return scep_ndes_admin_decode_utf16(data, len, TRUE);
	}
	return g_utf8_make_valid((const gchar *)data, (gssize)len);
}

/* the visible text of an HTML page: tags become spaces, a few entities are decoded, runs of
 * white space become one space */
static gchar *
scep_ndes_admin_page_text(const gchar *html)
{
	GString *out = g_string_sized_new(strlen(html));
	gboolean space = TRUE;

	for (const gchar *p = html; *p != '\0';) {
		gunichar c;
		if (*p == '<') {
			const gchar *end = strchr(p, '>');
			if (end == NULL)
				break;
			p = end + 1;
			c = ' ';
		} else if (*p == '&') {
			static const struct {
				const gchar *name;
				gunichar c;
			} entities[] = {
				{ "&nbsp;", ' ' }, { "&amp;", '&' },  { "&lt;", '<' },
				{ "&gt;", '>' },   { "&quot;", '"' }, { "&#39;", '\'' },
			};
			c = '&';
			p++;
			for (guint i = 0; i < G_N_ELEMENTS(entities); i++) {
				gsize n = strlen(entities[i].name);
				if (g_ascii_strncasecmp(p - 1, entities[i].name, n) == 0) {
					c = entities[i].c;
					p += n - 1;
					break;
				}
			}
		} else {
			c = g_utf8_get_char(p);
			p = g_utf8_next_char(p);
		}
		if (g_unichar_isspace(c) || c == 0xa0) {
			if (!space)
				g_string_append_c(out, ' ');
			space = TRUE;
			continue;
		}
		g_string_append_unichar(out, c);
		space = FALSE;
	}
	if (out->len > 0 && out->str[out->len - 1] == ' ')
		g_string_truncate(out, out->len - 1);
	return g_string_free(out, FALSE);
}

/* at most SCEP_NDES_ADMIN_QUOTE_CHARS characters of @text (of its first @len bytes) */
static gchar *
scep_ndes_admin_quote(const gchar *text, gsize len)
{
	g_autofree gchar *head = g_strndup(text, len);
	glong chars = g_utf8_strlen(head, -1);
	if (chars <= SCEP_NDES_ADMIN_QUOTE_CHARS)
		return g_steal_pointer(&head);
	return g_utf8_substring(head, 0, SCEP_NDES_ADMIN_QUOTE_CHARS);
}

ScepNdesChallenge *
scep_ndes_admin_parse_page(GBytes *body, gint64 fetched_at, GError **error)
{
	g_autofree gchar *html = scep_ndes_admin_decode_page(body);
	g_autofree gchar *text = scep_ndes_admin_page_text(html);
	/* ASCII lower-casing keeps byte offsets */
	g_autofree gchar *lower = g_ascii_strdown(text, -1);
	const gchar *label = strstr(lower, SCEP_NDES_ADMIN_LABEL);
	g_autofree gchar *quote = NULL;

	if (label != NULL) {
		const gchar *p = text + (label - lower) + strlen(SCEP_NDES_ADMIN_LABEL);
		const gchar *start;
		while (*p == ' ')
			p++;
		start = p;
		while (g_ascii_isxdigit(*p))
			p++;
		if (p > start && !g_ascii_isalnum(*p)) {
			g_autofree gchar *password = g_strndup(start, (gsize)(p - start));
			ScepNdesChallenge *challenge =
			    scep_ndes_challenge_new(password, fetched_at);
			explicit_bzero(password, strlen(password));
			/* the text holds the password too */
			explicit_bzero(text, strlen(text));
			explicit_bzero(lower, strlen(lower));
			explicit_bzero(html, strlen(html));
			return challenge;
		}
		/* never quote what follows the label: it might be a password after all */
		quote = scep_ndes_admin_quote(text, (gsize)(label - lower));
		g_set_error(error,
			    SCEP_NDES_ADMIN_ERROR,
			    SCEP_NDES_ADMIN_ERROR_UNEXPECTED_PAGE,
			    "mscep_admin page has the challenge label but no hexadecimal password "
			    "after it: \"%s\"",
			    quote);
		explicit_bzero(text, strlen(text));
		explicit_bzero(lower, strlen(lower));
		explicit_bzero(html, strlen(html));
		return NULL;
	}
	if (strstr(lower, "password cache is full") != NULL) {
		g_set_error_literal(
		    error,
		    SCEP_NDES_ADMIN_ERROR,
		    SCEP_NDES_ADMIN_ERROR_CACHE_FULL,
		    "NDES password cache is full: too many unused challenge passwords "
		    "(5 by default); one expires 60 minutes after it was issued");
		return NULL;
	}
	if (strstr(lower, "do not have sufficient permission") != NULL) {
		g_set_error_literal(
		    error,
		    SCEP_NDES_ADMIN_ERROR,
		    SCEP_NDES_ADMIN_ERROR_NO_PERMISSION,
		    "the NDES account has no permission to enroll with SCEP (Enroll "
		    "permission on the NDES certificate templates)");
		return NULL;
	}
	quote = scep_ndes_admin_quote(text, strlen(text));
	g_set_error(error,
		    SCEP_NDES_ADMIN_ERROR,
		    SCEP_NDES_ADMIN_ERROR_UNEXPECTED_PAGE,
		    "mscep_admin page is not an NDES challenge page: \"%s\"",
		    quote);
	return NULL;
}

gchar *
scep_ndes_admin_default_url(const gchar *scep_url, gboolean https, GError **error)
{
	g_autoptr(GUri) uri = NULL;
	g_autoptr(GError) error_local = NULL;
	const gchar *scheme;
	const gchar *want = https ? "https" : "http";
	gint port;

	uri = g_uri_parse(scep_url, G_URI_FLAGS_NONE, &error_local);
	if (uri == NULL) {
		g_set_error(error,
			    SCEP_NDES_ADMIN_ERROR,
			    SCEP_NDES_ADMIN_ERROR_INVALID_ARGUMENT,
			    "cannot derive the mscep_admin URL from %s: %s",
			    scep_url,
			    error_local->message);
		return NULL;
	}
	scheme = g_uri_get_scheme(uri);
	if ((g_ascii_strcasecmp(scheme, "http") != 0 && g_ascii_strcasecmp(scheme, "https") != 0) ||
	    g_uri_get_host(uri) == NULL || g_uri_get_host(uri)[0] == '\0') {
		g_set_error(
		    error,
		    SCEP_NDES_ADMIN_ERROR,
		    SCEP_NDES_ADMIN_ERROR_INVALID_ARGUMENT,
		    "cannot derive the mscep_admin URL from %s: not an http(s) URL with a host",
		    scep_url);
		return NULL;
	}
	/* a port belongs to the scheme it was given for */
	port = g_ascii_strcasecmp(scheme, want) == 0 ? g_uri_get_port(uri) : -1;
	return g_uri_join(G_URI_FLAGS_NONE,
			  want,
			  NULL,
			  g_uri_get_host(uri),
			  port,
			  SCEP_NDES_ADMIN_PATH,
			  NULL,
			  NULL);
}

/* ---- Kerberos ---- */

typedef struct {
	krb5_context ctx;
	krb5_principal principal;
	krb5_keytab keytab;
	krb5_ccache ccache;
	krb5_get_init_creds_opt *opt;
	krb5_creds creds;
	gboolean have_creds;
} ScepNdesKrb;

static void
scep_ndes_krb_clear(ScepNdesKrb *krb)
{
	if (krb->ctx == NULL)
		return;
	if (krb->have_creds)
		krb5_free_cred_contents(krb->ctx, &krb->creds);
	if (krb->opt != NULL)
		krb5_get_init_creds_opt_free(krb->ctx, krb->opt);
	if (krb->ccache != NULL)
		krb5_cc_close(krb->ctx, krb->ccache);
	if (krb->keytab != NULL)
		krb5_kt_close(krb->ctx, krb->keytab);
	if (krb->principal != NULL)
		krb5_free_principal(krb->ctx, krb->principal);
	krb5_free_context(krb->ctx);
	memset(krb, 0, sizeof(*krb));
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ScepNdesKrb, scep_ndes_krb_clear)

static gboolean
scep_ndes_krb_check(
    ScepNdesKrb *krb, krb5_error_code rc, gint code, const gchar *what, GError **error)
{
	const char *msg;
	if (rc == 0)
		return TRUE;
	msg = krb->ctx != NULL ? krb5_get_error_message(krb->ctx, rc) : NULL;
	g_set_error(error, SCEP_NDES_ADMIN_ERROR, code, "%s: %s", what, msg != NULL ? msg : "?");
	if (msg != NULL)
		krb5_free_error_message(krb->ctx, msg);
	return FALSE;
}

/* `DOMAIN\user` and `user@domain` as a principal name user@DOMAIN; "" stays "" */
static gchar *
scep_ndes_admin_krb5_principal_name(const gchar *user)
{
	const gchar *backslash = strchr(user, '\\');
	const gchar *at = strrchr(user, '@');
	g_autofree gchar *realm = NULL;
	if (backslash != NULL) {
		g_autofree gchar *domain = g_strndup(user, (gsize)(backslash - user));
		realm = g_ascii_strup(domain, -1);
		return g_strdup_printf("%s@%s", backslash + 1, realm);
	}
	if (at != NULL) {
		g_autofree gchar *name = g_strndup(user, (gsize)(at - user));
		realm = g_ascii_strup(at + 1, -1);
		return g_strdup_printf("%s@%s", name, realm);
	}
	return g_strdup(user);
}

typedef struct {
	gchar *principal; /* "" = from the keytab */
	gchar *password;  /* wiped */
	gchar *keytab;
	gchar *ccache; /* an existing cache to check */
} ScepNdesKinit;

static void
scep_ndes_kinit_free(ScepNdesKinit *kinit)
{
	g_free(kinit->principal);
	scep_ndes_admin_wipe_string(kinit->password);
	g_free(kinit->keytab);
	g_free(kinit->ccache);
	g_free(kinit);
}

static gboolean
scep_ndes_kinit_check_ccache(ScepNdesKrb *krb, const gchar *name, GError **error)
{
	krb5_principal principal = NULL;
	krb5_error_code rc = krb5_cc_resolve(krb->ctx, name, &krb->ccache);
	if (rc == 0)
		rc = krb5_cc_get_principal(krb->ctx, krb->ccache, &principal);
	if (rc != 0) {
		const char *msg = krb5_get_error_message(krb->ctx, rc);
		g_set_error(error,
			    SCEP_NDES_ADMIN_ERROR,
			    SCEP_NDES_ADMIN_ERROR_NO_CREDENTIALS,
			    "no Kerberos ticket in the credential cache %s: %s",
			    name,
			    msg);
		krb5_free_error_message(krb->ctx, msg);
		return FALSE;
	}
	krb5_free_principal(krb->ctx, principal);
	return TRUE;
}

static gboolean
scep_ndes_kinit_keytab_principal(ScepNdesKrb *krb, GError **error)
{
	krb5_kt_cursor cursor;
	krb5_keytab_entry entry;
	krb5_error_code rc = krb5_kt_start_seq_get(krb->ctx, krb->keytab, &cursor);
	if (!scep_ndes_krb_check(
		krb, rc, SCEP_NDES_ADMIN_ERROR_KERBEROS, "cannot read the keytab", error))
		return FALSE;
	rc = krb5_kt_next_entry(krb->ctx, krb->keytab, &entry, &cursor);
	if (rc == 0) {
		rc = krb5_copy_principal(krb->ctx, entry.principal, &krb->principal);
		krb5_free_keytab_entry_contents(krb->ctx, &entry);
	}
	krb5_kt_end_seq_get(krb->ctx, krb->keytab, &cursor);
	return scep_ndes_krb_check(
	    krb, rc, SCEP_NDES_ADMIN_ERROR_NO_CREDENTIALS, "no principal in the keytab", error);
}

static gint
scep_ndes_kinit_error_code(krb5_error_code rc)
{
	switch (rc) {
	case KRB5KDC_ERR_PREAUTH_FAILED:
	case KRB5KRB_AP_ERR_BAD_INTEGRITY:
	case KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN:
	case KRB5KDC_ERR_CLIENT_REVOKED:
	case KRB5KDC_ERR_KEY_EXP:
	case KRB5KDC_ERR_ETYPE_NOSUPP:
		return SCEP_NDES_ADMIN_ERROR_LOGIN_REFUSED;
	case KRB5_KDC_UNREACH:
	case KRB5_REALM_CANT_RESOLVE:
		return SCEP_NDES_ADMIN_ERROR_NETWORK;
	default:
		return SCEP_NDES_ADMIN_ERROR_KERBEROS;
	}
}

/* in a worker thread: a ticket into a new MEMORY: cache; returns its name */
static gchar *
scep_ndes_kinit_run(ScepNdesKinit *kinit, GError **error)
{
	g_auto(ScepNdesKrb) krb = { 0 };
	g_autofree gchar *name = NULL;
	g_autofree gchar *who = NULL;
	krb5_error_code rc;
	char *unparsed = NULL;

	rc = krb5_init_context(&krb.ctx);
	if (rc != 0) {
		g_set_error(error,
			    SCEP_NDES_ADMIN_ERROR,
			    SCEP_NDES_ADMIN_ERROR_KERBEROS,
			    "cannot initialise Kerberos: error %d",
			    (gint)rc);
		return NULL;
	}
	if (kinit->ccache != NULL) {
		if (!scep_ndes_kinit_check_ccache(&krb, kinit->ccache, error))
			return NULL;
		return g_strdup(kinit->ccache);
	}
	if (kinit->keytab != NULL) {
		rc = krb5_kt_resolve(krb.ctx, kinit->keytab, &krb.keytab);
		if (!scep_ndes_krb_check(&krb,
					 rc,
					 SCEP_NDES_ADMIN_ERROR_KERBEROS,
					 "cannot open the client keytab",
					 error))
			return NULL;
	}
	if (kinit->principal[0] != '\0') {
		rc = krb5_parse_name(krb.ctx, kinit->principal, &krb.principal);
		if (!scep_ndes_krb_check(&krb,
					 rc,
					 SCEP_NDES_ADMIN_ERROR_INVALID_ARGUMENT,
					 "bad Kerberos user name",
					 error))
			return NULL;
	} else if (krb.keytab != NULL) {
		if (!scep_ndes_kinit_keytab_principal(&krb, error))
			return NULL;
	} else {
		g_set_error_literal(error,
				    SCEP_NDES_ADMIN_ERROR,
				    SCEP_NDES_ADMIN_ERROR_NO_CREDENTIALS,
				    "no Kerberos user configured");
		return NULL;
	}
	if (krb5_unparse_name(krb.ctx, krb.principal, &unparsed) == 0) {
		who = g_strdup(unparsed);
		krb5_free_unparsed_name(krb.ctx, unparsed);
	}
	rc = krb5_get_init_creds_opt_alloc(krb.ctx, &krb.opt);
	if (!scep_ndes_krb_check(
		&krb, rc, SCEP_NDES_ADMIN_ERROR_KERBEROS, "cannot set up Kerberos", error))
		return NULL;
	if (krb.keytab != NULL) {
		rc = krb5_get_init_creds_keytab(
		    krb.ctx, &krb.creds, krb.principal, krb.keytab, 0, NULL, krb.opt);
	} else {
		if (kinit->password == NULL || kinit->password[0] == '\0') {
			g_set_error(
			    error,
			    SCEP_NDES_ADMIN_ERROR,
			    SCEP_NDES_ADMIN_ERROR_NO_CREDENTIALS,
			    "no password, keytab or credential cache for the Kerberos user %s",
			    who);
			return NULL;
		}
		rc = krb5_get_init_creds_password(krb.ctx,
						  &krb.creds,
						  krb.principal,
						  kinit->password,
						  NULL,
						  NULL,
						  0,
						  NULL,
						  krb.opt);
	}
	if (rc != 0) {
		const char *msg = krb5_get_error_message(krb.ctx, rc);
		g_set_error(error,
			    SCEP_NDES_ADMIN_ERROR,
			    scep_ndes_kinit_error_code(rc),
			    "Kerberos login of %s failed: %s",
			    who,
			    msg);
		krb5_free_error_message(krb.ctx, msg);
		return NULL;
	}
	krb.have_creds = TRUE;
	name = g_strdup_printf("MEMORY:scep-ndes-%08x%08x", g_random_int(), g_random_int());
	rc = krb5_cc_resolve(krb.ctx, name, &krb.ccache);
	if (rc == 0)
		rc = krb5_cc_initialize(krb.ctx, krb.ccache, krb.principal);
	if (rc == 0)
		rc = krb5_cc_store_cred(krb.ctx, krb.ccache, &krb.creds);
	if (!scep_ndes_krb_check(&krb,
				 rc,
				 SCEP_NDES_ADMIN_ERROR_KERBEROS,
				 "cannot store the Kerberos ticket",
				 error))
		return NULL;
	/* closing keeps a MEMORY: cache; it is destroyed after the fetch */
	g_debug("mscep_admin: Kerberos ticket for %s", who);
	return g_steal_pointer(&name);
}

static void
scep_ndes_kinit_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
	GError *error = NULL;
	gchar *name = scep_ndes_kinit_run(task_data, &error);
	if (name == NULL)
		g_task_return_error(task, error);
	else
		g_task_return_pointer(task, name, g_free);
}

static void
scep_ndes_admin_destroy_ccache(const gchar *name)
{
	krb5_context ctx = NULL;
	krb5_ccache cc = NULL;
	if (krb5_init_context(&ctx) != 0)
		return;
	if (krb5_cc_resolve(ctx, name, &cc) == 0)
		krb5_cc_destroy(ctx, cc);
	krb5_free_context(ctx);
}

/* ---- the object ---- */

struct _ScepNdesAdmin {
	GObject parent_instance;
	gchar *url;
	SoupSession *session;
	ScepNdesAdminAuth auth;
	gboolean negotiate_added;
	gchar *user;
	gchar *password; /* owned, wiped, nullable */
	gchar *keytab;
	gchar *ccache;
	GError *auth_error; /* owned, nullable: why Kerberos cannot work in this process */
};

G_DEFINE_TYPE(ScepNdesAdmin, scep_ndes_admin, G_TYPE_OBJECT)

static void
scep_ndes_admin_finalize(GObject *object)
{
	ScepNdesAdmin *self = SCEP_NDES_ADMIN(object);
	g_free(self->url);
	g_clear_object(&self->session);
	g_free(self->user);
	scep_ndes_admin_wipe_string(self->password);
	g_free(self->keytab);
	g_free(self->ccache);
	g_clear_error(&self->auth_error);
	G_OBJECT_CLASS(scep_ndes_admin_parent_class)->finalize(object);
}

static void
scep_ndes_admin_class_init(ScepNdesAdminClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = scep_ndes_admin_finalize;
}

static void
scep_ndes_admin_init(ScepNdesAdmin *self)
{
	self->user = g_strdup("");
}

ScepNdesAdmin *
scep_ndes_admin_new(const gchar *url, GError **error)
{
	g_autoptr(ScepNdesAdmin) self = NULL;
	g_autoptr(GUri) uri = NULL;
	g_autoptr(GError) error_local = NULL;
	const gchar *scheme;
	GTlsBackend *backend;
	g_autoptr(GTlsDatabase) database = NULL;

	g_return_val_if_fail(url != NULL, NULL);
	uri = g_uri_parse(url, G_URI_FLAGS_NONE, &error_local);
	if (uri == NULL) {
		g_set_error(error,
			    SCEP_NDES_ADMIN_ERROR,
			    SCEP_NDES_ADMIN_ERROR_INVALID_ARGUMENT,
			    "bad mscep_admin URL %s: %s",
			    url,
			    error_local->message);
		return NULL;
	}
	scheme = g_uri_get_scheme(uri);
	if ((g_ascii_strcasecmp(scheme, "http") != 0 && g_ascii_strcasecmp(scheme, "https") != 0) ||
	    g_uri_get_host(uri) == NULL || g_uri_get_host(uri)[0] == '\0') {
		g_set_error(error,
			    SCEP_NDES_ADMIN_ERROR,
			    SCEP_NDES_ADMIN_ERROR_INVALID_ARGUMENT,
			    "bad mscep_admin URL %s: not an http(s) URL with a host",
			    url);
		return NULL;
	}
	self = g_object_new(SCEP_TYPE_NDES_ADMIN, NULL);
	self->url = g_strdup(url);
	self->session = soup_session_new_with_options("timeout",
						      SCEP_NDES_ADMIN_DEFAULT_TIMEOUT,
						      "user-agent",
						      PACKAGE_NAME "/" PACKAGE_VERSION,
						      NULL);
	/* a session without a database fails every certificate */
	backend = g_tls_backend_get_default();
	database = g_tls_backend_get_default_database(backend);
	soup_session_set_tls_database(self->session, database);
	/* connection-based auth is not on by default; Negotiate is added only for Kerberos */
	soup_session_add_feature_by_type(self->session, SOUP_TYPE_AUTH_NTLM);
	return g_steal_pointer(&self);
}

const gchar *
scep_ndes_admin_get_url(ScepNdesAdmin *self)
{
	g_return_val_if_fail(SCEP_IS_NDES_ADMIN(self), NULL);
	return self->url;
}

/*
 * libsoup uses Negotiate for an http URL only when $SOUP_GSSAPI_TRUSTED_URIS lists it, and then
 * for https URLs too only when listed; it reads the variable once, when the Negotiate class is
 * initialised (adding the feature to a session does that). Entries match on scheme, exact
 * host and port. So before the first Kerberos session the origin of this URL is appended; one
 * that comes later cannot be added any more.
 */
gboolean
scep_ndes_admin_trust_gssapi_url(const gchar *url, GError **error)
{
	g_autoptr(GUri) uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
	const gchar *current = g_getenv("SOUP_GSSAPI_TRUSTED_URIS");
	g_auto(GStrv) entries = g_strsplit(current != NULL ? current : "", ",", -1);
	g_autoptr(GString) value = g_string_new(current);
	g_autofree gchar *scheme = NULL;
	g_autofree gchar *host = NULL;
	g_autofree gchar *entry = NULL;
	gint port;

	if (uri == NULL)
		return TRUE;
	/* libsoup parses the entries with scheme normalisation: a missing port is the default
	 * one, so the port is always written */
	scheme = g_ascii_strdown(g_uri_get_scheme(uri), -1);
	host = g_ascii_strdown(g_uri_get_host(uri), -1);
	port = g_uri_get_port(uri);
	if (port < 0)
		port = g_strcmp0(scheme, "https") == 0 ? 443 : 80;
	entry = g_strdup_printf("%s://%s:%d/", scheme, host, port);
	if (g_strv_contains((const gchar *const *)entries, entry))
		return TRUE;
	if (g_type_class_peek(SOUP_TYPE_AUTH_NEGOTIATE) != NULL) {
		g_set_error(error,
			    SCEP_NDES_ADMIN_ERROR,
			    SCEP_NDES_ADMIN_ERROR_INVALID_ARGUMENT,
			    "Kerberos to %s needs a restart of the process: libsoup reads the "
			    "URLs it may use Negotiate with (SOUP_GSSAPI_TRUSTED_URIS) only once",
			    entry);
		return FALSE;
	}
	if (value->len > 0)
		g_string_append_c(value, ',');
	g_string_append(value, entry);
	g_setenv("SOUP_GSSAPI_TRUSTED_URIS", value->str, TRUE);
	return TRUE;
}

void
scep_ndes_admin_set_auth(ScepNdesAdmin *self, ScepNdesAdminAuth auth)
{
	g_return_if_fail(SCEP_IS_NDES_ADMIN(self));
	self->auth = auth;
	g_clear_error(&self->auth_error);
	if (auth == SCEP_NDES_ADMIN_AUTH_KERBEROS) {
		/* before the feature is added: that initialises the class */
		scep_ndes_admin_trust_gssapi_url(self->url, &self->auth_error);
		soup_session_remove_feature_by_type(self->session, SOUP_TYPE_AUTH_NTLM);
		if (!self->negotiate_added)
			soup_session_add_feature_by_type(self->session, SOUP_TYPE_AUTH_NEGOTIATE);
		self->negotiate_added = TRUE;
		return;
	}
	if (self->negotiate_added)
		soup_session_remove_feature_by_type(self->session, SOUP_TYPE_AUTH_NEGOTIATE);
	self->negotiate_added = FALSE;
	if (!soup_session_has_feature(self->session, SOUP_TYPE_AUTH_NTLM))
		soup_session_add_feature_by_type(self->session, SOUP_TYPE_AUTH_NTLM);
}

ScepNdesAdminAuth
scep_ndes_admin_get_auth(ScepNdesAdmin *self)
{
	g_return_val_if_fail(SCEP_IS_NDES_ADMIN(self), SCEP_NDES_ADMIN_AUTH_NTLM);
	return self->auth;
}

gboolean
scep_ndes_admin_set_user(ScepNdesAdmin *self, const gchar *user, GError **error)
{
	g_return_val_if_fail(SCEP_IS_NDES_ADMIN(self), FALSE);
	if (user == NULL)
		user = "";
	if (!g_utf8_validate(user, -1, NULL) || strchr(user, ':') != NULL ||
	    g_str_has_prefix(user, "\\") || g_str_has_suffix(user, "\\") ||
	    g_str_has_prefix(user, "@") || g_str_has_suffix(user, "@")) {
		g_set_error(error,
			    SCEP_NDES_ADMIN_ERROR,
			    SCEP_NDES_ADMIN_ERROR_INVALID_ARGUMENT,
			    "bad mscep_admin user \"%s\": use DOMAIN\\user or user@domain",
			    user);
		return FALSE;
	}
	g_free(self->user);
	self->user = g_strdup(user);
	return TRUE;
}

void
scep_ndes_admin_set_password(ScepNdesAdmin *self, const gchar *password)
{
	g_return_if_fail(SCEP_IS_NDES_ADMIN(self));
	scep_ndes_admin_wipe_string(self->password);
	self->password = password != NULL && password[0] != '\0' ? g_strdup(password) : NULL;
}

void
scep_ndes_admin_set_krb5_keytab(ScepNdesAdmin *self, const gchar *path)
{
	g_return_if_fail(SCEP_IS_NDES_ADMIN(self));
	g_free(self->keytab);
	self->keytab = path != NULL && path[0] != '\0' ? g_strdup(path) : NULL;
}

void
scep_ndes_admin_set_krb5_ccache(ScepNdesAdmin *self, const gchar *name)
{
	g_return_if_fail(SCEP_IS_NDES_ADMIN(self));
	g_free(self->ccache);
	self->ccache = name != NULL && name[0] != '\0' ? g_strdup(name) : NULL;
}

gboolean
scep_ndes_admin_set_trust_file(ScepNdesAdmin *self, const gchar *pem_file, GError **error)
{
	g_autofree gchar *path = NULL;
	g_autoptr(GTlsDatabase) database = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GList) certs = NULL;

	g_return_val_if_fail(SCEP_IS_NDES_ADMIN(self), FALSE);
	/* GTlsFileDatabase fails every validation with a relative path */
	path = g_canonicalize_filename(pem_file, NULL);
	certs = g_tls_certificate_list_new_from_file(path, &error_local);
	if (certs == NULL) {
		g_set_error(error,
			    SCEP_NDES_ADMIN_ERROR,
			    SCEP_NDES_ADMIN_ERROR_INVALID_ARGUMENT,
			    "cannot use %s as CA file for mscep_admin: %s",
			    path,
			    error_local != NULL ? error_local->message : "no certificate in it");
		return FALSE;
	}
	g_list_free_full(g_steal_pointer(&certs), g_object_unref);
	database = g_tls_file_database_new(path, &error_local);
	if (database == NULL) {
		g_set_error(error,
			    SCEP_NDES_ADMIN_ERROR,
			    SCEP_NDES_ADMIN_ERROR_INVALID_ARGUMENT,
			    "cannot use %s as CA file for mscep_admin: %s",
			    path,
			    error_local->message);
		return FALSE;
	}
	soup_session_set_tls_database(self->session, database);
	return TRUE;
}

/* ---- "from getca operation": a GTlsDatabase trusting exactly some PEM certificates ---- */

/* GLib 2.74 has no in-memory GTlsDatabase, and GTlsFileDatabase re-reads its file later, so
 * a small one of our own verifies with GnuTLS against the pinned certificates */
#define SCEP_TYPE_NDES_PINNED_DATABASE (scep_ndes_pinned_database_get_type())
G_DECLARE_FINAL_TYPE(
    ScepNdesPinnedDatabase, scep_ndes_pinned_database, SCEP, NDES_PINNED_DATABASE, GTlsDatabase)

struct _ScepNdesPinnedDatabase {
	GTlsDatabase parent_instance;
	GBytes *pem; /* owned, immutable: read from worker threads */
};

G_DEFINE_TYPE(ScepNdesPinnedDatabase, scep_ndes_pinned_database, G_TYPE_TLS_DATABASE)

static gchar *
scep_ndes_pinned_identity_host(GSocketConnectable *identity)
{
	if (identity == NULL)
		return NULL;
	if (G_IS_NETWORK_ADDRESS(identity))
		return g_strdup(g_network_address_get_hostname(G_NETWORK_ADDRESS(identity)));
	if (G_IS_NETWORK_SERVICE(identity))
		return g_strdup(g_network_service_get_domain(G_NETWORK_SERVICE(identity)));
	if (G_IS_INET_SOCKET_ADDRESS(identity))
		return g_inet_address_to_string(
		    g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(identity)));
	return NULL;
}

static GTlsCertificateFlags
scep_ndes_pinned_database_verify_chain(GTlsDatabase *database,
				       GTlsCertificate *chain,
				       const gchar *purpose,
				       GSocketConnectable *identity,
				       GTlsInteraction *interaction,
				       GTlsDatabaseVerifyFlags flags,
				       GCancellable *cancellable,
				       GError **error)
{
	ScepNdesPinnedDatabase *self = SCEP_NDES_PINNED_DATABASE(database);
	g_auto(gnutls_x509_trust_list_t) list = NULL;
	g_autoptr(GPtrArray) certs =
	    g_ptr_array_new_with_free_func((GDestroyNotify)gnutls_x509_crt_deinit);
	g_autofree gchar *host = scep_ndes_pinned_identity_host(identity);
	gnutls_datum_t pem = scep_gnutls_datum_from_bytes(self->pem);
	GTlsCertificateFlags result = 0;
	unsigned int status = 0;

	if (gnutls_x509_trust_list_init(&list, 0) < 0 ||
	    gnutls_x509_trust_list_add_trust_mem(list, &pem, NULL, GNUTLS_X509_FMT_PEM, 0, 0) <= 0)
		return G_TLS_CERTIFICATE_GENERIC_ERROR;
	for (GTlsCertificate *c = chain; c != NULL; c = g_tls_certificate_get_issuer(c)) {
		g_autoptr(GByteArray) der = NULL;
		gnutls_x509_crt_t crt = NULL;
		gnutls_datum_t datum;
		g_object_get(c, "certificate", &der, NULL);
		if (der == NULL || gnutls_x509_crt_init(&crt) < 0)
			return G_TLS_CERTIFICATE_GENERIC_ERROR;
		g_ptr_array_add(certs, crt);
		datum.data = der->data;
		datum.size = der->len;
		if (gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_DER) < 0)
			return G_TLS_CERTIFICATE_GENERIC_ERROR;
	}
	if (certs->len == 0)
		return G_TLS_CERTIFICATE_GENERIC_ERROR;
	if (gnutls_x509_trust_list_verify_crt(
		list, (gnutls_x509_crt_t *)certs->pdata, certs->len, 0, &status, NULL) < 0)
		return G_TLS_CERTIFICATE_GENERIC_ERROR;
	if (status & (GNUTLS_CERT_EXPIRED))
		result |= G_TLS_CERTIFICATE_EXPIRED;
	if (status & (GNUTLS_CERT_NOT_ACTIVATED))
		result |= G_TLS_CERTIFICATE_NOT_ACTIVATED;
	if (status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA))
		result |= G_TLS_CERTIFICATE_UNKNOWN_CA;
	if (status & GNUTLS_CERT_REVOKED)
		result |= G_TLS_CERTIFICATE_REVOKED;
	if (status & GNUTLS_CERT_INSECURE_ALGORITHM)
		result |= G_TLS_CERTIFICATE_INSECURE;
	if (status != 0 && result == 0)
		result |= G_TLS_CERTIFICATE_GENERIC_ERROR;
	if (host != NULL && !gnutls_x509_crt_check_hostname(g_ptr_array_index(certs, 0), host))
		result |= G_TLS_CERTIFICATE_BAD_IDENTITY;
	return result;
}

static void
scep_ndes_pinned_database_finalize(GObject *object)
{
	ScepNdesPinnedDatabase *self = SCEP_NDES_PINNED_DATABASE(object);
	g_clear_pointer(&self->pem, g_bytes_unref);
	G_OBJECT_CLASS(scep_ndes_pinned_database_parent_class)->finalize(object);
}

static void
scep_ndes_pinned_database_class_init(ScepNdesPinnedDatabaseClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = scep_ndes_pinned_database_finalize;
	G_TLS_DATABASE_CLASS(klass)->verify_chain = scep_ndes_pinned_database_verify_chain;
}

static void
scep_ndes_pinned_database_init(ScepNdesPinnedDatabase *self)
{
}

gboolean
scep_ndes_admin_set_trust_pem(ScepNdesAdmin *self, GBytes *pem, GError **error)
{
	g_auto(gnutls_x509_trust_list_t) list = NULL;
	g_autoptr(ScepNdesPinnedDatabase) database = NULL;
	gnutls_datum_t datum;

	g_return_val_if_fail(SCEP_IS_NDES_ADMIN(self), FALSE);
	g_return_val_if_fail(pem != NULL, FALSE);
	datum = scep_gnutls_datum_from_bytes(pem);
	if (gnutls_x509_trust_list_init(&list, 0) < 0 ||
	    gnutls_x509_trust_list_add_trust_mem(list, &datum, NULL, GNUTLS_X509_FMT_PEM, 0, 0) <=
		0) {
		g_set_error_literal(error,
				    SCEP_NDES_ADMIN_ERROR,
				    SCEP_NDES_ADMIN_ERROR_INVALID_ARGUMENT,
				    "no CA certificate to trust for mscep_admin");
		return FALSE;
	}
	database = g_object_new(SCEP_TYPE_NDES_PINNED_DATABASE, NULL);
	database->pem = g_bytes_ref(pem);
	soup_session_set_tls_database(self->session, G_TLS_DATABASE(database));
	return TRUE;
}

gboolean
scep_ndes_admin_set_proxy(ScepNdesAdmin *self, const gchar *proxy, GError **error)
{
	g_autoptr(GProxyResolver) resolver = NULL;
	g_autofree gchar *proxy_url = NULL;
	g_return_val_if_fail(SCEP_IS_NDES_ADMIN(self), FALSE);
	if (proxy == NULL || proxy[0] == '\0') {
		soup_session_set_proxy_resolver(self->session, NULL);
		return TRUE;
	}
	proxy_url =
	    strstr(proxy, "://") != NULL ? g_strdup(proxy) : g_strdup_printf("http://%s", proxy);
	if (!g_uri_is_valid(proxy_url, G_URI_FLAGS_NONE, NULL)) {
		g_set_error(error,
			    SCEP_NDES_ADMIN_ERROR,
			    SCEP_NDES_ADMIN_ERROR_INVALID_ARGUMENT,
			    "bad proxy %s",
			    proxy);
		return FALSE;
	}
	resolver = g_simple_proxy_resolver_new(proxy_url, NULL);
	soup_session_set_proxy_resolver(self->session, resolver);
	return TRUE;
}

void
scep_ndes_admin_set_timeout(ScepNdesAdmin *self, guint seconds)
{
	g_return_if_fail(SCEP_IS_NDES_ADMIN(self));
	soup_session_set_timeout(self->session, seconds);
}

/* ---- fetching ---- */

/* Kerberos fetches run one at a time: the default credential cache is per thread */
static GQueue scep_ndes_admin_krb_queue = G_QUEUE_INIT;
static gboolean scep_ndes_admin_krb_busy = FALSE;

typedef struct {
	SoupMessage *msg;       /* owned, nullable */
	gchar *ccache;          /* the cache GSSAPI uses, nullable */
	gboolean own_ccache;    /* a MEMORY: cache of ours, destroyed at the end */
	gboolean holds_krb;     /* this fetch owns scep_ndes_admin_krb_busy */
	gboolean creds_offered; /* NTLM credentials given, or a Kerberos ticket at hand */
	gboolean creds_refused; /* libsoup asked again after credentials were given */
} ScepNdesFetch;

static void
scep_ndes_fetch_free(ScepNdesFetch *fetch)
{
	g_clear_object(&fetch->msg);
	g_free(fetch->ccache);
	g_free(fetch);
}

static void scep_ndes_admin_krb_start(GTask *task);

static gboolean
scep_ndes_admin_krb_next_cb(gpointer user_data)
{
	GTask *task = g_queue_pop_head(&scep_ndes_admin_krb_queue);
	if (task != NULL)
		scep_ndes_admin_krb_start(task);
	return G_SOURCE_REMOVE;
}

/* every fetch ends here */
static void
scep_ndes_admin_fetch_return(GTask *task, ScepNdesChallenge *challenge, GError *error)
{
	ScepNdesFetch *fetch = g_task_get_task_data(task);
	if (fetch->holds_krb) {
		OM_uint32 minor = 0;
		gss_krb5_ccache_name(&minor, NULL, NULL);
		if (fetch->own_ccache && fetch->ccache != NULL)
			scep_ndes_admin_destroy_ccache(fetch->ccache);
		fetch->holds_krb = FALSE;
		scep_ndes_admin_krb_busy = FALSE;
		if (!g_queue_is_empty(&scep_ndes_admin_krb_queue)) {
			scep_ndes_admin_krb_busy = TRUE;
			g_idle_add(scep_ndes_admin_krb_next_cb, NULL);
		}
	}
	if (error != NULL)
		g_task_return_error(task, error);
	else
		g_task_return_pointer(task, challenge, (GDestroyNotify)scep_ndes_challenge_free);
	g_object_unref(task);
}

static gboolean
scep_ndes_admin_authenticate_cb(SoupMessage *msg,
				SoupAuth *auth,
				gboolean retrying,
				gpointer user_data)
{
	GTask *task = G_TASK(user_data);
	ScepNdesAdmin *self = g_task_get_source_object(task);
	ScepNdesFetch *fetch = g_task_get_task_data(task);

	if (retrying) {
		fetch->creds_refused = TRUE;
		return FALSE;
	}
	if (self->auth != SCEP_NDES_ADMIN_AUTH_NTLM ||
	    !G_TYPE_CHECK_INSTANCE_TYPE(auth, SOUP_TYPE_AUTH_NTLM) || self->password == NULL)
		return FALSE;
	g_debug("mscep_admin: NTLM login as %s", self->user);
	soup_auth_authenticate(auth, self->user, self->password);
	fetch->creds_offered = TRUE;
	return TRUE;
}

/* the schemes of the WWW-Authenticate headers, for messages */
static gchar *
scep_ndes_admin_offered_schemes(SoupMessage *msg)
{
	SoupMessageHeaders *headers = soup_message_get_response_headers(msg);
	SoupMessageHeadersIter iter;
	const char *name;
	const char *value;
	GString *out = g_string_new(NULL);
	soup_message_headers_iter_init(&iter, headers);
	while (soup_message_headers_iter_next(&iter, &name, &value)) {
		g_autofree gchar *scheme = NULL;
		if (g_ascii_strcasecmp(name, "WWW-Authenticate") != 0)
			continue;
		scheme = g_strndup(value, strcspn(value, " ,"));
		if (out->len > 0)
			g_string_append(out, ", ");
		g_string_append(out, scheme);
	}
	if (out->len == 0)
		g_string_append(out, "none");
	return g_string_free(out, FALSE);
}

static GError *
scep_ndes_admin_unauthorized_error(ScepNdesAdmin *self, ScepNdesFetch *fetch)
{
	g_autofree gchar *offered = scep_ndes_admin_offered_schemes(fetch->msg);
	if (self->auth == SCEP_NDES_ADMIN_AUTH_KERBEROS)
		return g_error_new(SCEP_NDES_ADMIN_ERROR,
				   SCEP_NDES_ADMIN_ERROR_LOGIN_REFUSED,
				   "mscep_admin refused the Kerberos login of %s (HTTP 401, the "
				   "server offers: %s)",
				   self->user[0] != '\0' ? self->user : "the ticket's user",
				   offered);
	if (fetch->creds_offered)
		return g_error_new(SCEP_NDES_ADMIN_ERROR,
				   SCEP_NDES_ADMIN_ERROR_LOGIN_REFUSED,
				   "mscep_admin refused the NTLM login of %s (HTTP 401)",
				   self->user);
	return g_error_new(SCEP_NDES_ADMIN_ERROR,
			   SCEP_NDES_ADMIN_ERROR_NO_CREDENTIALS,
			   "mscep_admin asks for a login (HTTP 401, the server offers: %s) and no "
			   "NTLM login could be offered",
			   offered);
}

static void
scep_ndes_admin_read_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GTask *task = G_TASK(user_data);
	ScepNdesAdmin *self = g_task_get_source_object(task);
	ScepNdesFetch *fetch = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) body = NULL;
	ScepNdesChallenge *challenge;
	guint status;

	body = soup_session_send_and_read_finish(SOUP_SESSION(source), result, &error);
	if (body == NULL) {
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
			scep_ndes_admin_fetch_return(task, NULL, g_steal_pointer(&error));
			return;
		}
		scep_ndes_admin_fetch_return(task,
					     NULL,
					     g_error_new(SCEP_NDES_ADMIN_ERROR,
							 error->domain == G_TLS_ERROR
							     ? SCEP_NDES_ADMIN_ERROR_TLS
							     : SCEP_NDES_ADMIN_ERROR_NETWORK,
							 "cannot fetch %s: %s",
							 self->url,
							 error->message));
		return;
	}
	status = soup_message_get_status(fetch->msg);
	g_debug("mscep_admin: HTTP %u, %" G_GSIZE_FORMAT " bytes", status, g_bytes_get_size(body));
	if (status == SOUP_STATUS_UNAUTHORIZED) {
		scep_ndes_admin_fetch_return(
		    task, NULL, scep_ndes_admin_unauthorized_error(self, fetch));
		return;
	}
	if (status != SOUP_STATUS_OK) {
		const gchar *phrase = soup_message_get_reason_phrase(fetch->msg);
		scep_ndes_admin_fetch_return(task,
					     NULL,
					     g_error_new(SCEP_NDES_ADMIN_ERROR,
							 SCEP_NDES_ADMIN_ERROR_HTTP_STATUS,
							 "mscep_admin answered HTTP %u %s",
							 status,
							 phrase != NULL ? phrase : ""));
		return;
	}
	if (g_bytes_get_size(body) > SCEP_NDES_ADMIN_MAX_PAGE) {
		scep_ndes_admin_fetch_return(
		    task,
		    NULL,
		    g_error_new(SCEP_NDES_ADMIN_ERROR,
				SCEP_NDES_ADMIN_ERROR_UNEXPECTED_PAGE,
				"mscep_admin page too large (%" G_GSIZE_FORMAT " bytes)",
				g_bytes_get_size(body)));
		return;
	}
	challenge = scep_ndes_admin_parse_page(body, g_get_real_time() / G_USEC_PER_SEC, &error);
	/* the body holds the password: wipe our copy (the bytes are ours alone now) */
	if (g_bytes_get_size(body) > 0)
		explicit_bzero((gpointer)g_bytes_get_data(body, NULL), g_bytes_get_size(body));
	if (challenge == NULL) {
		scep_ndes_admin_fetch_return(task, NULL, g_steal_pointer(&error));
		return;
	}
	g_debug("mscep_admin: challenge password received");
	scep_ndes_admin_fetch_return(task, challenge, NULL);
}

static void
scep_ndes_admin_send(GTask *task)
{
	ScepNdesAdmin *self = g_task_get_source_object(task);
	ScepNdesFetch *fetch = g_task_get_task_data(task);

	fetch->msg = soup_message_new(SOUP_METHOD_GET, self->url);
	soup_message_headers_replace(
	    soup_message_get_request_headers(fetch->msg), "Accept", "text/html");
	g_signal_connect(
	    fetch->msg, "authenticate", G_CALLBACK(scep_ndes_admin_authenticate_cb), task);
	g_debug("mscep_admin: GET %s (%s)",
		self->url,
		self->auth == SCEP_NDES_ADMIN_AUTH_KERBEROS ? "Kerberos" : "NTLM");
	soup_session_send_and_read_async(self->session,
					 fetch->msg,
					 G_PRIORITY_DEFAULT,
					 g_task_get_cancellable(task),
					 scep_ndes_admin_read_cb,
					 task);
}

static void
scep_ndes_admin_kinit_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GTask *task = G_TASK(user_data);
	ScepNdesFetch *fetch = g_task_get_task_data(task);
	ScepNdesAdmin *self = g_task_get_source_object(task);
	GError *error = NULL;
	gchar *name = g_task_propagate_pointer(G_TASK(result), &error);
	OM_uint32 major;
	OM_uint32 minor = 0;

	if (name == NULL) {
		scep_ndes_admin_fetch_return(task, NULL, error);
		return;
	}
	fetch->ccache = name;
	fetch->own_ccache = self->ccache == NULL;
	fetch->creds_offered = TRUE;
	if (g_cancellable_is_cancelled(g_task_get_cancellable(task))) {
		scep_ndes_admin_fetch_return(task,
					     NULL,
					     g_error_new_literal(G_IO_ERROR,
								 G_IO_ERROR_CANCELLED,
								 "mscep_admin fetch cancelled"));
		return;
	}
	if (self->auth_error != NULL) {
		scep_ndes_admin_fetch_return(task, NULL, g_error_copy(self->auth_error));
		return;
	}
	major = gss_krb5_ccache_name(&minor, fetch->ccache, NULL);
	if (GSS_ERROR(major)) {
		scep_ndes_admin_fetch_return(task,
					     NULL,
					     g_error_new(SCEP_NDES_ADMIN_ERROR,
							 SCEP_NDES_ADMIN_ERROR_KERBEROS,
							 "cannot select the Kerberos credential "
							 "cache (GSSAPI status %u.%u)",
							 (guint)major,
							 (guint)minor));
		return;
	}
	scep_ndes_admin_send(task);
}

static void
scep_ndes_admin_krb_start(GTask *task)
{
	ScepNdesAdmin *self = g_task_get_source_object(task);
	ScepNdesFetch *fetch = g_task_get_task_data(task);
	ScepNdesKinit *kinit = g_new0(ScepNdesKinit, 1);
	g_autoptr(GTask) thread_task = NULL;

	fetch->holds_krb = TRUE;
	kinit->principal = scep_ndes_admin_krb5_principal_name(self->user);
	kinit->password = g_strdup(self->password);
	kinit->keytab = g_strdup(self->keytab);
	kinit->ccache = self->keytab == NULL ? g_strdup(self->ccache) : NULL;
	thread_task = g_task_new(NULL, NULL, scep_ndes_admin_kinit_cb, task);
	g_task_set_task_data(thread_task, kinit, (GDestroyNotify)scep_ndes_kinit_free);
	g_task_run_in_thread(thread_task, scep_ndes_kinit_thread);
}

void
scep_ndes_admin_fetch_async(ScepNdesAdmin *self,
			    GCancellable *cancellable,
			    GAsyncReadyCallback callback,
			    gpointer user_data)
{
	GTask *task;

	g_return_if_fail(SCEP_IS_NDES_ADMIN(self));
	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, scep_ndes_admin_fetch_async);
	g_task_set_task_data(task, g_new0(ScepNdesFetch, 1), (GDestroyNotify)scep_ndes_fetch_free);

	if (self->auth == SCEP_NDES_ADMIN_AUTH_KERBEROS) {
		if (scep_ndes_admin_krb_busy) {
			g_queue_push_tail(&scep_ndes_admin_krb_queue, task);
			return;
		}
		scep_ndes_admin_krb_busy = TRUE;
		scep_ndes_admin_krb_start(task);
		return;
	}
	if (self->password == NULL) {
		scep_ndes_admin_fetch_return(task,
					     NULL,
					     g_error_new(SCEP_NDES_ADMIN_ERROR,
							 SCEP_NDES_ADMIN_ERROR_NO_CREDENTIALS,
							 "no password for the NTLM login of %s",
							 self->user));
		return;
	}
	if (g_utf8_strlen(self->password, -1) > SCEP_NDES_ADMIN_NTLM_MAX_PASSWORD) {
		scep_ndes_admin_fetch_return(
		    task,
		    NULL,
		    g_error_new(SCEP_NDES_ADMIN_ERROR,
				SCEP_NDES_ADMIN_ERROR_INVALID_ARGUMENT,
				"the NTLM password of %s is longer than %u characters, which this "
				"build refuses (libsoup bug)",
				self->user,
				(guint)SCEP_NDES_ADMIN_NTLM_MAX_PASSWORD));
		return;
	}
	scep_ndes_admin_send(task);
}

ScepNdesChallenge *
scep_ndes_admin_fetch_finish(ScepNdesAdmin *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(SCEP_IS_NDES_ADMIN(self), NULL);
	g_return_val_if_fail(g_task_is_valid(result, self), NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}
