/* mscep_admin challenge retrieval: page decoding and reading, outcome classification, and
 * fetches from an in-process SoupServer (http and https) serving our own fixtures */
#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

#include "scep-ndes-admin.h"
#include "scep-test-util.h"

typedef enum {
	ENC_UTF8,
	ENC_UTF8_BOM,
	ENC_UTF16LE,
	ENC_UTF16LE_BOM,
	ENC_UTF16BE,
	ENC_UTF16BE_BOM,
} Encoding;

/* a fixture page as bytes in @enc, with @password in place of @PASSWORD@ */
static GBytes *
load_page(const gchar *name, const gchar *password, Encoding enc)
{
	g_autofree gchar *path =
	    g_test_build_filename(G_TEST_DIST, "data", "ndes-admin", name, NULL);
	g_autofree gchar *text = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) page = NULL;
	g_autofree gchar *converted = NULL;
	gsize len = 0;
	GByteArray *out = g_byte_array_new();

	g_assert_true(g_file_get_contents(path, &text, NULL, &error));
	g_assert_no_error(error);
	page = g_string_new(text);
	if (password != NULL)
		g_string_replace(page, "@PASSWORD@", password, 0);
	switch (enc) {
	case ENC_UTF8_BOM:
		g_byte_array_append(out, (const guint8 *)"\xef\xbb\xbf", 3);
		/* fall through */
	case ENC_UTF8:
		g_byte_array_append(out, (const guint8 *)page->str, page->len);
		break;
	case ENC_UTF16LE_BOM:
		g_byte_array_append(out, (const guint8 *)"\xff\xfe", 2);
		/* fall through */
	case ENC_UTF16LE:
		converted = g_convert(
		    page->str, (gssize)page->len, "UTF-16LE", "UTF-8", NULL, &len, &error);
		g_assert_no_error(error);
		g_byte_array_append(out, (const guint8 *)converted, (guint)len);
		break;
	case ENC_UTF16BE_BOM:
		g_byte_array_append(out, (const guint8 *)"\xfe\xff", 2);
		/* fall through */
	case ENC_UTF16BE:
		converted = g_convert(
		    page->str, (gssize)page->len, "UTF-16BE", "UTF-8", NULL, &len, &error);
		g_assert_no_error(error);
		g_byte_array_append(out, (const guint8 *)converted, (guint)len);
		break;
	}
	return g_byte_array_free_to_bytes(out);
}

/* ---- decoding ---- */

static void
test_decode(gconstpointer data)
{
	Encoding enc = GPOINTER_TO_INT(data);
	g_autoptr(GBytes) page = load_page("password.html", "31FE1850FA31F036", enc);
	g_autofree gchar *text = scep_ndes_admin_decode_page(page);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesChallenge) challenge = NULL;

	g_assert_true(g_utf8_validate(text, -1, NULL));
	g_assert_true(g_str_has_prefix(text, "<HTML><Head>"));
	g_assert_nonnull(strstr(text, "The enrollment challenge password is:"));
	challenge = scep_ndes_admin_parse_page(page, 1000, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(scep_ndes_challenge_get_password(challenge), ==, "31FE1850FA31F036");
	g_assert_cmpint(scep_ndes_challenge_get_fetched_at(challenge), ==, 1000);
}

static void
test_decode_non_ascii(void)
{
	/* UTF-16LE without BOM, with characters outside Latin-1 and a surrogate pair */
	const gchar *utf8 = "<p>Kennwort f\xc3\xbcr \xe2\x82\xac \xf0\x9f\x94\x91 ok</p>";
	gsize len = 0;
	g_autofree gchar *le = g_convert(utf8, -1, "UTF-16LE", "UTF-8", NULL, &len, NULL);
	g_autoptr(GBytes) bytes = g_bytes_new(le, len);
	g_autofree gchar *text = scep_ndes_admin_decode_page(bytes);
	g_assert_cmpstr(text, ==, utf8);
}

static void
test_decode_invalid_utf8(void)
{
	g_autoptr(GBytes) bytes = g_bytes_new_static("ab\xff\xfe\xfd cd", 8);
	g_autofree gchar *text = scep_ndes_admin_decode_page(bytes);
	g_assert_true(g_utf8_validate(text, -1, NULL));
	g_assert_true(g_str_has_prefix(text, "ab"));
	g_assert_true(g_str_has_suffix(text, " cd"));
}

/* ---- reading ---- */

/* @page yields no challenge: returns the error */
static GError *
parse_error(GBytes *page)
{
	GError *error = NULL;
	g_autoptr(ScepNdesChallenge) challenge = scep_ndes_admin_parse_page(page, 0, &error);

	g_assert_null(challenge);
	g_assert_nonnull(error);
	return error;
}

static void
test_parse_not_first_hex(void)
{
	/* the thumbprint comes first and is hex too: the label decides */
	g_autoptr(GBytes) page = load_page("password.html", "0011AABB", ENC_UTF16LE);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesChallenge) challenge = scep_ndes_admin_parse_page(page, 0, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(scep_ndes_challenge_get_password(challenge), ==, "0011AABB");
}

static void
test_parse_any_length(void)
{
	const gchar *passwords[] = { "A1", "31FE1850FA31F036", "0123456789abcdef0123456789ABCDEF" };
	for (guint i = 0; i < G_N_ELEMENTS(passwords); i++) {
		g_autoptr(GBytes) page = load_page("password.html", passwords[i], ENC_UTF16LE);
		g_autoptr(GError) error = NULL;
		g_autoptr(ScepNdesChallenge) challenge =
		    scep_ndes_admin_parse_page(page, 0, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(scep_ndes_challenge_get_password(challenge), ==, passwords[i]);
	}
}

static void
test_parse_cache_full(void)
{
	g_autoptr(GBytes) page = load_page("cache-full.html", NULL, ENC_UTF16LE);
	g_autoptr(GError) error = parse_error(page);
	g_assert_error(error, SCEP_NDES_ADMIN_ERROR, SCEP_NDES_ADMIN_ERROR_CACHE_FULL);
}

static void
test_parse_no_permission(void)
{
	g_autoptr(GBytes) page = load_page("no-permission.html", NULL, ENC_UTF16LE_BOM);
	g_autoptr(GError) error = parse_error(page);
	g_assert_error(error, SCEP_NDES_ADMIN_ERROR, SCEP_NDES_ADMIN_ERROR_NO_PERMISSION);
}

static void
test_parse_garbage_quotes_200(void)
{
	g_autoptr(GBytes) page = load_page("garbage.html", NULL, ENC_UTF8);
	g_autoptr(GError) error = parse_error(page);
	const gchar *quote;
	const gchar *end;
	g_assert_error(error, SCEP_NDES_ADMIN_ERROR, SCEP_NDES_ADMIN_ERROR_UNEXPECTED_PAGE);
	/* the page's text, tags removed, white space collapsed, cut at 200 characters */
	quote = strstr(error->message, "\"Welcome to the intranet Welcome to the intranet This");
	g_assert_nonnull(quote);
	end = strrchr(error->message, '"');
	g_assert_cmpint(g_utf8_strlen(quote + 1, end - quote - 1), ==, 200);
	g_assert_null(strstr(error->message, "<"));
}

static void
test_parse_label_without_password(void)
{
	g_autoptr(GBytes) page = load_page("password.html", "not-a-password", ENC_UTF16LE);
	g_autoptr(GError) error = parse_error(page);
	g_assert_error(error, SCEP_NDES_ADMIN_ERROR, SCEP_NDES_ADMIN_ERROR_UNEXPECTED_PAGE);
	/* nothing after the label is quoted */
	g_assert_null(strstr(error->message, "not-a-password"));
	g_assert_null(strstr(error->message, "expire"));
}

static void
test_parse_empty(void)
{
	g_autoptr(GBytes) page = g_bytes_new_static("", 0);
	g_autoptr(GError) error = parse_error(page);
	g_assert_error(error, SCEP_NDES_ADMIN_ERROR, SCEP_NDES_ADMIN_ERROR_UNEXPECTED_PAGE);
}

static void
test_challenge_fresh(void)
{
	g_autoptr(ScepNdesChallenge) challenge = scep_ndes_challenge_new("AB", 10000);
	g_assert_true(scep_ndes_challenge_is_fresh(challenge, 10000));
	g_assert_true(scep_ndes_challenge_is_fresh(challenge, 10000 + 57 * 60));
	g_assert_false(scep_ndes_challenge_is_fresh(challenge, 10000 + 57 * 60 + 1));
	g_assert_false(scep_ndes_challenge_is_fresh(challenge, 9999));
}

static void
test_default_url(void)
{
	struct {
		const gchar *scep;
		gboolean https;
		const gchar *want;
	} cases[] = {
		{ "http://ndes.example/certsrv/mscep/mscep.dll",
		  FALSE,
		  "http://ndes.example/certsrv/mscep_admin/" },
		{ "http://ndes.example/certsrv/mscep/mscep.dll",
		  TRUE,
		  "https://ndes.example/certsrv/mscep_admin/" },
		{ "http://ndes.example:8080/certsrv/mscep/mscep.dll",
		  FALSE,
		  "http://ndes.example:8080/certsrv/mscep_admin/" },
		{ "http://ndes.example:8080/scep",
		  TRUE,
		  "https://ndes.example/certsrv/mscep_admin/" },
		{ "https://ndes.example:8443/scep?x=1",
		  TRUE,
		  "https://ndes.example:8443/certsrv/mscep_admin/" },
		{ "http://127.0.0.1:18080/scep",
		  FALSE,
		  "http://127.0.0.1:18080/certsrv/mscep_admin/" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *url =
		    scep_ndes_admin_default_url(cases[i].scep, cases[i].https, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(url, ==, cases[i].want);
	}
}

static void
test_default_url_bad(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *url = scep_ndes_admin_default_url("ftp://x/", FALSE, &error);
	g_assert_null(url);
	g_assert_error(error, SCEP_NDES_ADMIN_ERROR, SCEP_NDES_ADMIN_ERROR_INVALID_ARGUMENT);
}

/* ---- fetching from an in-process server ---- */

typedef enum {
	SERVE_PASSWORD,   /* a fresh random password each time, UTF-16LE without BOM */
	SERVE_CACHE_FULL, /* UTF-16LE without BOM */
	SERVE_NO_PERMISSION,
	SERVE_GARBAGE,
	SERVE_BASIC_ONLY,  /* 401 with Basic only */
	SERVE_NTLM_REFUSE, /* 401 NTLM to everything: the NTLM handshake never succeeds */
	SERVE_500,
} Serve;

typedef struct {
	SoupServer *server;
	GUri *uri;
	Serve serve;
	guint requests;
	gchar *last_password;
	gboolean saw_authorization;
} Fixture;

static void
server_cb(SoupServer *server,
	  SoupServerMessage *msg,
	  const char *path,
	  GHashTable *query,
	  gpointer user_data)
{
	Fixture *fx = user_data;
	SoupMessageHeaders *resp = soup_server_message_get_response_headers(msg);
	g_autoptr(GBytes) page = NULL;

	fx->requests++;
	if (soup_message_headers_get_one(soup_server_message_get_request_headers(msg),
					 "Authorization") != NULL)
		fx->saw_authorization = TRUE;
	if (g_strcmp0(path, SCEP_NDES_ADMIN_PATH) != 0) {
		soup_server_message_set_status(msg, SOUP_STATUS_NOT_FOUND, NULL);
		return;
	}
	switch (fx->serve) {
	case SERVE_PASSWORD:
		g_free(fx->last_password);
		fx->last_password = g_strdup_printf("%08X%08X", g_random_int(), g_random_int());
		page = load_page("password.html", fx->last_password, ENC_UTF16LE);
		break;
	case SERVE_CACHE_FULL:
		page = load_page("cache-full.html", NULL, ENC_UTF16LE);
		break;
	case SERVE_NO_PERMISSION:
		page = load_page("no-permission.html", NULL, ENC_UTF16LE);
		break;
	case SERVE_GARBAGE:
		page = load_page("garbage.html", NULL, ENC_UTF8);
		break;
	case SERVE_BASIC_ONLY:
		soup_message_headers_append(resp, "WWW-Authenticate", "Basic realm=\"ndes\"");
		soup_server_message_set_status(msg, SOUP_STATUS_UNAUTHORIZED, NULL);
		return;
	case SERVE_NTLM_REFUSE:
		soup_message_headers_append(resp, "WWW-Authenticate", "NTLM");
		soup_server_message_set_status(msg, SOUP_STATUS_UNAUTHORIZED, NULL);
		return;
	case SERVE_500:
		soup_server_message_set_status(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, NULL);
		return;
	}
	/* like IIS: text/html without a charset */
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_server_message_set_response(msg,
					 "text/html",
					 SOUP_MEMORY_COPY,
					 g_bytes_get_data(page, NULL),
					 g_bytes_get_size(page));
}

static void
fixture_start(Fixture *fx, gboolean https)
{
	g_autoptr(GError) error = NULL;
	GSList *uris;
	SoupServerListenOptions options = SOUP_SERVER_LISTEN_IPV4_ONLY;

	if (https) {
		g_autofree gchar *pem =
		    g_test_build_filename(G_TEST_DIST, "data", "tls", "server.pem", NULL);
		g_autoptr(GTlsCertificate) cert = g_tls_certificate_new_from_file(pem, &error);
		g_assert_no_error(error);
		fx->server = soup_server_new("tls-certificate", cert, NULL);
		options |= SOUP_SERVER_LISTEN_HTTPS;
	} else {
		fx->server = soup_server_new(NULL, NULL);
	}
	soup_server_add_handler(fx->server, NULL, server_cb, fx, NULL);
	g_assert_true(soup_server_listen_local(fx->server, 0, options, &error));
	g_assert_no_error(error);
	uris = soup_server_get_uris(fx->server);
	g_assert_nonnull(uris);
	fx->uri = g_uri_ref(uris->data);
	g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
}

static void
fixture_set_up(Fixture *fx, gconstpointer data)
{
	fixture_start(fx, FALSE);
}

static void
fixture_set_up_https(Fixture *fx, gconstpointer data)
{
	fixture_start(fx, TRUE);
}

static void
fixture_tear_down(Fixture *fx, gconstpointer data)
{
	soup_server_disconnect(fx->server);
	g_clear_object(&fx->server);
	g_clear_pointer(&fx->uri, g_uri_unref);
	g_clear_pointer(&fx->last_password, g_free);
}

/* the admin for the fixture's page, NTLM with a user and a password */
static ScepNdesAdmin *
fixture_admin(Fixture *fx)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *url = g_strdup_printf("%s://127.0.0.1:%d" SCEP_NDES_ADMIN_PATH,
						g_uri_get_scheme(fx->uri),
						g_uri_get_port(fx->uri));
	ScepNdesAdmin *admin = scep_ndes_admin_new(url, &error);
	g_assert_no_error(error);
	g_assert_true(scep_ndes_admin_set_user(admin, "TESTBED\\alice", &error));
	scep_ndes_admin_set_password(admin, "alice-password");
	scep_ndes_admin_set_timeout(admin, 20);
	return admin;
}

static ScepNdesChallenge *
fetch(ScepNdesAdmin *admin, GError **error)
{
	g_autoptr(GAsyncResult) result = NULL;

	scep_ndes_admin_fetch_async(admin, NULL, scep_test_result_cb, &result);
	return scep_ndes_admin_fetch_finish(admin, scep_test_wait_result(&result), error);
}

/* the fetch yields no challenge: returns the error */
static GError *
fetch_error(ScepNdesAdmin *admin)
{
	GError *error = NULL;
	g_autoptr(ScepNdesChallenge) challenge = fetch(admin, &error);

	g_assert_null(challenge);
	g_assert_nonnull(error);
	return error;
}

static void
test_fetch_password(Fixture *fx, gconstpointer data)
{
	g_autoptr(ScepNdesAdmin) admin = fixture_admin(fx);
	g_autoptr(GError) error = NULL;
	gint64 before = g_get_real_time() / G_USEC_PER_SEC;
	g_autoptr(ScepNdesChallenge) challenge = NULL;

	fx->serve = SERVE_PASSWORD;
	challenge = fetch(admin, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(scep_ndes_challenge_get_password(challenge), ==, fx->last_password);
	g_assert_cmpint(scep_ndes_challenge_get_fetched_at(challenge), >=, before);
	g_assert_cmpint(
	    scep_ndes_challenge_get_fetched_at(challenge), <=, g_get_real_time() / G_USEC_PER_SEC);
}

static void
test_fetch_new_each_time(Fixture *fx, gconstpointer data)
{
	g_autoptr(ScepNdesAdmin) admin = fixture_admin(fx);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesChallenge) first = NULL;
	g_autoptr(ScepNdesChallenge) second = NULL;

	fx->serve = SERVE_PASSWORD;
	first = fetch(admin, &error);
	g_assert_no_error(error);
	second = fetch(admin, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(fx->requests, ==, 2);
	g_assert_cmpstr(scep_ndes_challenge_get_password(second), ==, fx->last_password);
	g_assert_cmpstr(
	    scep_ndes_challenge_get_password(first), !=, scep_ndes_challenge_get_password(second));
}

static void
test_fetch_error(Fixture *fx, gconstpointer data)
{
	const gint *spec = data; /* { serve, error code } */
	g_autoptr(ScepNdesAdmin) admin = fixture_admin(fx);
	g_autoptr(GError) error = NULL;

	fx->serve = (Serve)spec[0];
	error = fetch_error(admin);
	g_assert_error(error, SCEP_NDES_ADMIN_ERROR, spec[1]);
}

static const gint case_cache_full[] = { SERVE_CACHE_FULL, SCEP_NDES_ADMIN_ERROR_CACHE_FULL };
static const gint case_no_permission[] = { SERVE_NO_PERMISSION,
					   SCEP_NDES_ADMIN_ERROR_NO_PERMISSION };
static const gint case_garbage[] = { SERVE_GARBAGE, SCEP_NDES_ADMIN_ERROR_UNEXPECTED_PAGE };
static const gint case_basic_only[] = { SERVE_BASIC_ONLY, SCEP_NDES_ADMIN_ERROR_NO_CREDENTIALS };
static const gint case_500[] = { SERVE_500, SCEP_NDES_ADMIN_ERROR_HTTP_STATUS };

static void
test_fetch_ntlm_refused(Fixture *fx, gconstpointer data)
{
	g_autoptr(ScepNdesAdmin) admin = fixture_admin(fx);
	g_autoptr(GError) error = NULL;

	fx->serve = SERVE_NTLM_REFUSE;
	error = fetch_error(admin);
	g_assert_error(error, SCEP_NDES_ADMIN_ERROR, SCEP_NDES_ADMIN_ERROR_LOGIN_REFUSED);
	/* credentials went out (an NTLM message), and the password is not in the message */
	g_assert_true(fx->saw_authorization);
	g_assert_null(strstr(error->message, "alice-password"));
}

static void
test_fetch_no_password(Fixture *fx, gconstpointer data)
{
	g_autoptr(ScepNdesAdmin) admin = fixture_admin(fx);
	g_autoptr(GError) error = NULL;

	fx->serve = SERVE_PASSWORD;
	scep_ndes_admin_set_password(admin, NULL);
	error = fetch_error(admin);
	g_assert_error(error, SCEP_NDES_ADMIN_ERROR, SCEP_NDES_ADMIN_ERROR_NO_CREDENTIALS);
	g_assert_cmpuint(fx->requests, ==, 0);
}

static void
test_fetch_ntlm_password_cap(Fixture *fx, gconstpointer data)
{
	g_autoptr(ScepNdesAdmin) admin = fixture_admin(fx);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesChallenge) challenge = NULL;
	g_autofree gchar *ok = g_strnfill(SCEP_NDES_ADMIN_NTLM_MAX_PASSWORD, 'p');
	g_autofree gchar *too_long = g_strnfill(SCEP_NDES_ADMIN_NTLM_MAX_PASSWORD + 1, 'p');

	fx->serve = SERVE_PASSWORD;
	scep_ndes_admin_set_password(admin, too_long);
	error = fetch_error(admin);
	g_assert_error(error, SCEP_NDES_ADMIN_ERROR, SCEP_NDES_ADMIN_ERROR_INVALID_ARGUMENT);
	g_assert_null(strstr(error->message, too_long));
	g_assert_cmpuint(fx->requests, ==, 0);
	g_clear_error(&error);
	scep_ndes_admin_set_password(admin, ok);
	challenge = fetch(admin, &error);
	g_assert_no_error(error);
	g_assert_nonnull(challenge);
}

static void
test_fetch_network(void)
{
	/* a port nobody listens on: bind one, learn it, close it */
	g_autoptr(GSocket) sock =
	    g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
	g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
	g_autoptr(GSocketAddress) bound = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *url = NULL;
	g_autoptr(ScepNdesAdmin) admin = NULL;

	g_assert_true(g_socket_bind(sock, any, TRUE, &error));
	bound = g_socket_get_local_address(sock, &error);
	url = g_strdup_printf("http://127.0.0.1:%u" SCEP_NDES_ADMIN_PATH,
			      g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound)));
	g_socket_close(sock, NULL);
	admin = scep_ndes_admin_new(url, &error);
	g_assert_no_error(error);
	scep_ndes_admin_set_password(admin, "x");
	error = fetch_error(admin);
	g_assert_error(error, SCEP_NDES_ADMIN_ERROR, SCEP_NDES_ADMIN_ERROR_NETWORK);
}

static void
test_fetch_https_trust_file(Fixture *fx, gconstpointer data)
{
	g_autoptr(ScepNdesAdmin) admin = fixture_admin(fx);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesChallenge) challenge = NULL;
	g_autofree gchar *ca = g_test_build_filename(G_TEST_DIST, "data", "tls", "ca.pem", NULL);

	fx->serve = SERVE_PASSWORD;
	g_assert_true(scep_ndes_admin_set_trust_file(admin, ca, &error));
	challenge = fetch(admin, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(scep_ndes_challenge_get_password(challenge), ==, fx->last_password);
}

static void
test_fetch_https_trust_pem(Fixture *fx, gconstpointer data)
{
	g_autoptr(ScepNdesAdmin) admin = fixture_admin(fx);
	g_autoptr(GError) error = NULL;
	g_autoptr(ScepNdesChallenge) challenge = NULL;
	g_autofree gchar *ca = g_test_build_filename(G_TEST_DIST, "data", "tls", "ca.pem", NULL);
	g_autofree gchar *pem = NULL;
	gsize len = 0;
	g_autoptr(GBytes) bytes = NULL;

	g_assert_true(g_file_get_contents(ca, &pem, &len, &error));
	bytes = g_bytes_new(pem, len);
	fx->serve = SERVE_PASSWORD;
	g_assert_true(scep_ndes_admin_set_trust_pem(admin, bytes, &error));
	challenge = fetch(admin, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(scep_ndes_challenge_get_password(challenge), ==, fx->last_password);
}

static void
test_fetch_https_untrusted(Fixture *fx, gconstpointer data)
{
	/* system trust does not know the test CA */
	g_autoptr(ScepNdesAdmin) admin = fixture_admin(fx);
	g_autoptr(GError) error = NULL;

	fx->serve = SERVE_PASSWORD;
	error = fetch_error(admin);
	g_assert_error(error, SCEP_NDES_ADMIN_ERROR, SCEP_NDES_ADMIN_ERROR_TLS);
	g_assert_cmpuint(fx->requests, ==, 0);
}

static void
test_trust_bad_file(void)
{
	g_autoptr(ScepNdesAdmin) admin = scep_ndes_admin_new("https://127.0.0.1/", NULL);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *html =
	    g_test_build_filename(G_TEST_DIST, "data", "ndes-admin", "garbage.html", NULL);
	g_assert_false(scep_ndes_admin_set_trust_file(admin, html, &error));
	g_assert_error(error, SCEP_NDES_ADMIN_ERROR, SCEP_NDES_ADMIN_ERROR_INVALID_ARGUMENT);
}

static void
test_bad_url(void)
{
	const gchar *bad[] = { "ndes.example/certsrv", "ftp://ndes.example/", "http:///x" };
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(ScepNdesAdmin) admin = scep_ndes_admin_new(bad[i], &error);
		g_assert_null(admin);
		g_assert_error(
		    error, SCEP_NDES_ADMIN_ERROR, SCEP_NDES_ADMIN_ERROR_INVALID_ARGUMENT);
	}
}

static void
test_bad_user(void)
{
	g_autoptr(ScepNdesAdmin) admin = scep_ndes_admin_new("http://127.0.0.1/", NULL);
	const gchar *bad[] = { "DOMAIN\\", "\\user", "user@", "a:b" };
	g_assert_true(scep_ndes_admin_set_user(admin, "DOMAIN\\user", NULL));
	g_assert_true(scep_ndes_admin_set_user(admin, "user@domain.example", NULL));
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_assert_false(scep_ndes_admin_set_user(admin, bad[i], &error));
		g_assert_error(
		    error, SCEP_NDES_ADMIN_ERROR, SCEP_NDES_ADMIN_ERROR_INVALID_ARGUMENT);
	}
}

/* Kerberos without anything to log in with fails before any request */
static void
test_kerberos_empty_ccache(Fixture *fx, gconstpointer data)
{
	g_autoptr(ScepNdesAdmin) admin = fixture_admin(fx);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *ccache = g_strdup_printf("FILE:%s/no-such-ccache", g_get_tmp_dir());

	fx->serve = SERVE_PASSWORD;
	scep_ndes_admin_set_auth(admin, SCEP_NDES_ADMIN_AUTH_KERBEROS);
	scep_ndes_admin_set_krb5_ccache(admin, ccache);
	error = fetch_error(admin);
	g_assert_error(error, SCEP_NDES_ADMIN_ERROR, SCEP_NDES_ADMIN_ERROR_NO_CREDENTIALS);
	g_assert_cmpuint(fx->requests, ==, 0);
}

static void
test_kerberos_no_password(Fixture *fx, gconstpointer data)
{
	g_autoptr(ScepNdesAdmin) admin = fixture_admin(fx);
	g_autoptr(GError) error = NULL;

	fx->serve = SERVE_PASSWORD;
	scep_ndes_admin_set_auth(admin, SCEP_NDES_ADMIN_AUTH_KERBEROS);
	scep_ndes_admin_set_password(admin, NULL);
	error = fetch_error(admin);
	g_assert_error(error, SCEP_NDES_ADMIN_ERROR, SCEP_NDES_ADMIN_ERROR_NO_CREDENTIALS);
	g_assert_cmpuint(fx->requests, ==, 0);
}

static void
add_fetch(const gchar *path, gconstpointer data, void (*func)(Fixture *, gconstpointer))
{
	g_test_add(path, Fixture, data, fixture_set_up, func, fixture_tear_down);
}

static void
add_fetch_https(const gchar *path, void (*func)(Fixture *, gconstpointer))
{
	g_test_add(path, Fixture, NULL, fixture_set_up_https, func, fixture_tear_down);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
	/* no Kerberos configuration of the machine leaks in */
	g_setenv("KRB5_CONFIG", "/dev/null", TRUE);

	g_test_add_data_func(
	    "/scep/ndes-admin/decode/utf16le", GINT_TO_POINTER(ENC_UTF16LE), test_decode);
	g_test_add_data_func(
	    "/scep/ndes-admin/decode/utf16le-bom", GINT_TO_POINTER(ENC_UTF16LE_BOM), test_decode);
	g_test_add_data_func(
	    "/scep/ndes-admin/decode/utf16be", GINT_TO_POINTER(ENC_UTF16BE), test_decode);
	g_test_add_data_func(
	    "/scep/ndes-admin/decode/utf16be-bom", GINT_TO_POINTER(ENC_UTF16BE_BOM), test_decode);
	g_test_add_data_func(
	    "/scep/ndes-admin/decode/utf8", GINT_TO_POINTER(ENC_UTF8), test_decode);
	g_test_add_data_func(
	    "/scep/ndes-admin/decode/utf8-bom", GINT_TO_POINTER(ENC_UTF8_BOM), test_decode);
	g_test_add_func("/scep/ndes-admin/decode/non-ascii", test_decode_non_ascii);
	g_test_add_func("/scep/ndes-admin/decode/invalid-utf8", test_decode_invalid_utf8);
	g_test_add_func("/scep/ndes-admin/parse/label-not-first-hex", test_parse_not_first_hex);
	g_test_add_func("/scep/ndes-admin/parse/any-length", test_parse_any_length);
	g_test_add_func("/scep/ndes-admin/parse/cache-full", test_parse_cache_full);
	g_test_add_func("/scep/ndes-admin/parse/no-permission", test_parse_no_permission);
	g_test_add_func("/scep/ndes-admin/parse/garbage-quoted", test_parse_garbage_quotes_200);
	g_test_add_func("/scep/ndes-admin/parse/label-without-password",
			test_parse_label_without_password);
	g_test_add_func("/scep/ndes-admin/parse/empty", test_parse_empty);
	g_test_add_func("/scep/ndes-admin/challenge/fresh", test_challenge_fresh);
	g_test_add_func("/scep/ndes-admin/url/default", test_default_url);
	g_test_add_func("/scep/ndes-admin/url/default-bad", test_default_url_bad);
	g_test_add_func("/scep/ndes-admin/url/bad", test_bad_url);
	g_test_add_func("/scep/ndes-admin/user/bad", test_bad_user);
	g_test_add_func("/scep/ndes-admin/trust/bad-file", test_trust_bad_file);

	add_fetch("/scep/ndes-admin/fetch/password", NULL, test_fetch_password);
	add_fetch("/scep/ndes-admin/fetch/new-each-time", NULL, test_fetch_new_each_time);
	add_fetch("/scep/ndes-admin/fetch/cache-full", case_cache_full, test_fetch_error);
	add_fetch("/scep/ndes-admin/fetch/no-permission", case_no_permission, test_fetch_error);
	add_fetch("/scep/ndes-admin/fetch/garbage", case_garbage, test_fetch_error);
	add_fetch("/scep/ndes-admin/fetch/401-no-ntlm-offered", case_basic_only, test_fetch_error);
	add_fetch("/scep/ndes-admin/fetch/http-500", case_500, test_fetch_error);
	add_fetch("/scep/ndes-admin/fetch/401-ntlm-refused", NULL, test_fetch_ntlm_refused);
	add_fetch("/scep/ndes-admin/fetch/no-password", NULL, test_fetch_no_password);
	add_fetch("/scep/ndes-admin/fetch/ntlm-password-cap", NULL, test_fetch_ntlm_password_cap);
	g_test_add_func("/scep/ndes-admin/fetch/network", test_fetch_network);
	add_fetch_https("/scep/ndes-admin/fetch/https-trust-file", test_fetch_https_trust_file);
	add_fetch_https("/scep/ndes-admin/fetch/https-trust-pem", test_fetch_https_trust_pem);
	add_fetch_https("/scep/ndes-admin/fetch/https-untrusted", test_fetch_https_untrusted);
	add_fetch("/scep/ndes-admin/kerberos/empty-ccache", NULL, test_kerberos_empty_ccache);
	add_fetch("/scep/ndes-admin/kerberos/no-password", NULL, test_kerberos_no_password);

	return g_test_run();
}
