#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * Retrieval of the one-time challenge password from Microsoft NDES's `mscep_admin` page
 * (`/certsrv/mscep_admin/`), authenticated with NTLM or Kerberos (HTTP Negotiate).
 *
 * The password fetched is single-use and expires (60 minutes by default on NDES): fetch it right
 * before the request that needs it, never reuse it after a rejection and never after
 * SCEP_NDES_CHALLENGE_MAX_AGE seconds, and free it (which wipes it) as soon as it is used.
 * Neither it nor the account password is ever logged.
 */

#define SCEP_NDES_ADMIN_ERROR (scep_ndes_admin_error_quark())

/**
 * ScepNdesAdminError:
 * @SCEP_NDES_ADMIN_ERROR_CACHE_FULL: NDES answered "The password cache is full" (too many
 *   unused challenges, 5 by default; one expires after 60 minutes)
 * @SCEP_NDES_ADMIN_ERROR_NO_PERMISSION: the account logged in but may not enroll ("You do not
 *   have sufficient permission to enroll with SCEP")
 * @SCEP_NDES_ADMIN_ERROR_LOGIN_REFUSED: credentials were offered and refused: HTTP 401 after
 *   NTLM or Kerberos, or the KDC refused the account's password or keytab
 * @SCEP_NDES_ADMIN_ERROR_NO_CREDENTIALS: there was nothing to log in with: no password, no
 *   Kerberos ticket in the configured credential cache, or a 401 without any credentials sent
 * @SCEP_NDES_ADMIN_ERROR_UNEXPECTED_PAGE: HTTP 200 with a page that is none of the known
 *   ones; the message quotes the first 200 characters of its text (never a password)
 * @SCEP_NDES_ADMIN_ERROR_HTTP_STATUS: any other HTTP status than 200 and 401
 * @SCEP_NDES_ADMIN_ERROR_NETWORK: the server could not be reached or the transfer broke off
 * @SCEP_NDES_ADMIN_ERROR_TLS: the server's certificate is not trusted (or another TLS error)
 * @SCEP_NDES_ADMIN_ERROR_KERBEROS: the Kerberos library failed otherwise (KDC unreachable,
 *   bad keytab, bad configuration)
 * @SCEP_NDES_ADMIN_ERROR_INVALID_ARGUMENT: the configuration cannot be used (bad URL, user,
 *   CA file, password too long for NTLM)
 */
typedef enum {
	SCEP_NDES_ADMIN_ERROR_CACHE_FULL,
	SCEP_NDES_ADMIN_ERROR_NO_PERMISSION,
	SCEP_NDES_ADMIN_ERROR_LOGIN_REFUSED,
	SCEP_NDES_ADMIN_ERROR_NO_CREDENTIALS,
	SCEP_NDES_ADMIN_ERROR_UNEXPECTED_PAGE,
	SCEP_NDES_ADMIN_ERROR_HTTP_STATUS,
	SCEP_NDES_ADMIN_ERROR_NETWORK,
	SCEP_NDES_ADMIN_ERROR_TLS,
	SCEP_NDES_ADMIN_ERROR_KERBEROS,
	SCEP_NDES_ADMIN_ERROR_INVALID_ARGUMENT,
} ScepNdesAdminError;

GQuark scep_ndes_admin_error_quark(void);

/* the path NDES serves the page on */
#define SCEP_NDES_ADMIN_PATH "/certsrv/mscep_admin/"
/* NTLM passwords longer than this are refused (libsoup 3.2.3 overflows at ~256 bytes) */
#define SCEP_NDES_ADMIN_NTLM_MAX_PASSWORD 128
/* a fetched challenge is not used after this many seconds (NDES: 60 minutes, less a margin) */
#define SCEP_NDES_CHALLENGE_MAX_AGE (57 * 60)

/**
 * ScepNdesChallenge:
 *
 * A one-time challenge password fetched from mscep_admin, with the wall-clock time it was
 * fetched. scep_ndes_challenge_free() wipes the password.
 */
typedef struct _ScepNdesChallenge ScepNdesChallenge;

/* copies @password; @fetched_at in Unix seconds */
ScepNdesChallenge *scep_ndes_challenge_new(const gchar *password, gint64 fetched_at);
const gchar *scep_ndes_challenge_get_password(const ScepNdesChallenge *self);
gint64 scep_ndes_challenge_get_fetched_at(const ScepNdesChallenge *self);
/* whether it may still be used at @now (Unix seconds): fetched at most
 * SCEP_NDES_CHALLENGE_MAX_AGE seconds before, and not in the future */
gboolean scep_ndes_challenge_is_fresh(const ScepNdesChallenge *self, gint64 now);
void scep_ndes_challenge_free(ScepNdesChallenge *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepNdesChallenge, scep_ndes_challenge_free)

/*
 * The page as text: UTF-16LE or UTF-16BE when it starts with the byte order mark or when every
 * other byte is NUL, UTF-8 otherwise (invalid sequences replaced); the page's own meta charset
 * and the Content-Type charset are ignored (NDES claims UTF-8 and sends UTF-16LE).
 */
gchar *scep_ndes_admin_decode_page(GBytes *body);

/*
 * Reads a page served with HTTP 200: the password after the label "enrollment challenge
 * password is:" (any length of hex digits), or SCEP_NDES_ADMIN_ERROR_CACHE_FULL,
 * _NO_PERMISSION or _UNEXPECTED_PAGE. @fetched_at is stored in the result.
 */
ScepNdesChallenge *scep_ndes_admin_parse_page(GBytes *body, gint64 fetched_at, GError **error);

/* the scheme and host (and port, when the scheme stays) of @scep_url followed by
 * SCEP_NDES_ADMIN_PATH, over https when @https, else http */
gchar *scep_ndes_admin_default_url(const gchar *scep_url, gboolean https, GError **error);

typedef enum {
	SCEP_NDES_ADMIN_AUTH_NTLM,
	SCEP_NDES_ADMIN_AUTH_KERBEROS,
} ScepNdesAdminAuth;

#define SCEP_TYPE_NDES_ADMIN (scep_ndes_admin_get_type())
G_DECLARE_FINAL_TYPE(ScepNdesAdmin, scep_ndes_admin, SCEP, NDES_ADMIN, GObject)

/* @url: the mscep_admin page (http or https) */
ScepNdesAdmin *scep_ndes_admin_new(const gchar *url, GError **error);
const gchar *scep_ndes_admin_get_url(ScepNdesAdmin *self);

/*
 * Kerberos: libsoup uses Negotiate for an http URL only when $SOUP_GSSAPI_TRUSTED_URIS lists
 * its origin (and then for https ones only when listed too), and reads that variable once per
 * process. So every Kerberos ScepNdesAdmin created before libsoup reads it appends its origin
 * ("http://HOST:PORT/"); one for another origin created later in the same process fails its
 * fetches with SCEP_NDES_ADMIN_ERROR_INVALID_ARGUMENT (a restart is needed). A process that
 * will use several origins registers them all up front with scep_ndes_admin_trust_gssapi_url().
 * Sessions carry Negotiate only when Kerberos is chosen, NTLM only when NTLM is.
 */
gboolean scep_ndes_admin_trust_gssapi_url(const gchar *url, GError **error);
void scep_ndes_admin_set_auth(ScepNdesAdmin *self, ScepNdesAdminAuth auth);
ScepNdesAdminAuth scep_ndes_admin_get_auth(ScepNdesAdmin *self);

/* `DOMAIN\user` or `user@domain`; for Kerberos the principal is user@DOMAIN (upper-cased) */
gboolean scep_ndes_admin_set_user(ScepNdesAdmin *self, const gchar *user, GError **error);

/* the account's password (copied; wiped when replaced or on finalize); NULL or "" = none.
 * Longer than SCEP_NDES_ADMIN_NTLM_MAX_PASSWORD is refused for NTLM at fetch time */
void scep_ndes_admin_set_password(ScepNdesAdmin *self, const gchar *password);

/*
 * Kerberos credentials, in order of preference: a client keytab (a ticket for the user, or
 * for the keytab's first principal when no user is set), an existing credential cache (used as
 * it is), else the password. Keytab and password tickets go into a private in-memory cache
 * (MEMORY:) made for each fetch and destroyed after it. The cache is handed to GSSAPI with
 * gss_krb5_ccache_name(), which sets the default cache of the calling thread (the thread that
 * runs the main context): Kerberos fetches of all ScepNdesAdmin objects of the process are
 * therefore run one after another, never at the same time.
 */
void scep_ndes_admin_set_krb5_keytab(ScepNdesAdmin *self, const gchar *path);
void scep_ndes_admin_set_krb5_ccache(ScepNdesAdmin *self, const gchar *name);

/* TLS trust for https URLs; default: the system's trust store */
gboolean scep_ndes_admin_set_trust_file(ScepNdesAdmin *self, const gchar *pem_file, GError **error);
/* "from getca operation": trust exactly these PEM certificates (the SCEP CA chain) */
gboolean scep_ndes_admin_set_trust_pem(ScepNdesAdmin *self, GBytes *pem, GError **error);

gboolean scep_ndes_admin_set_proxy(ScepNdesAdmin *self, const gchar *proxy, GError **error);
/* seconds without progress before a request fails (default 60; 0 = none) */
void scep_ndes_admin_set_timeout(ScepNdesAdmin *self, guint seconds);

void scep_ndes_admin_fetch_async(ScepNdesAdmin *self,
				 GCancellable *cancellable,
				 GAsyncReadyCallback callback,
				 gpointer user_data);
ScepNdesChallenge *
scep_ndes_admin_fetch_finish(ScepNdesAdmin *self, GAsyncResult *result, GError **error);

G_END_DECLS
