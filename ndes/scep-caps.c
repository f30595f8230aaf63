#include "config.h"

#include "scep-caps.h"

#include <string.h>

#include "scep-ndes-error.h"

struct _ScepCaps {
	GPtrArray *keywords; /* owned, of gchar*, NULL-terminated */
};

ScepCaps *
scep_caps_new_empty(void)
{
	ScepCaps *self = g_new0(ScepCaps, 1);
	self->keywords = g_ptr_array_new_null_terminated(8, g_free, TRUE);
	return self;
}

void
scep_caps_free(ScepCaps *self)
{
	if (self == NULL)
		return;
	g_ptr_array_unref(self->keywords);
	g_free(self);
}

static gboolean
scep_caps_looks_like_html(const gchar *text, gsize len)
{
	gsize i = 0;
	g_autofree gchar *head = NULL;

	while (i < len && g_ascii_isspace(text[i]))
		i++;
	if (i < len && text[i] == '<')
		return TRUE;
	/* an HTML page with leading text is still a page */
	head = g_ascii_strdown(text, (gssize)MIN(len, 4096));
	return strstr(head, "<html") != NULL || strstr(head, "<!doctype") != NULL ||
	       strstr(head, "<body") != NULL;
}

static void
scep_caps_add_keyword(ScepCaps *self, const gchar *keyword)
{
	if (scep_caps_has(self, keyword))
		return;
	g_ptr_array_add(self->keywords, g_strdup(keyword));
}

/**
 * scep_caps_parse:
 * @text: the GetCACaps body (not necessarily NUL-terminated)
 * @len: its length in bytes
 * @error: return location
 *
 * Returns: (transfer full): the capabilities, or %NULL with @error set
 * (%SCEP_NDES_ERROR_BAD_RESPONSE)
 */
ScepCaps *
scep_caps_parse(const gchar *text, gsize len, GError **error)
{
	g_autoptr(ScepCaps) self = scep_caps_new_empty();
	g_autofree gchar *copy = NULL;
	g_auto(GStrv) lines = NULL;

	g_return_val_if_fail(text != NULL || len == 0, NULL);

	if (len > SCEP_CAPS_MAX_SIZE) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_BAD_RESPONSE,
			    "capabilities reply too large (%" G_GSIZE_FORMAT " bytes, limit %u)",
			    len,
			    (guint)SCEP_CAPS_MAX_SIZE);
		return NULL;
	}
	if (len == 0)
		return g_steal_pointer(&self);
	if (!g_utf8_validate_len(text, len, NULL)) {
		g_set_error_literal(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "capabilities reply is not text (invalid UTF-8)");
		return NULL;
	}
	for (gsize i = 0; i < len; i++) {
		guchar c = (guchar)text[i];
		if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') {
			g_set_error(error,
				    SCEP_NDES_ERROR,
				    SCEP_NDES_ERROR_BAD_RESPONSE,
				    "capabilities reply is not text (control byte 0x%02x at offset "
				    "%" G_GSIZE_FORMAT ")",
				    c,
				    i);
			return NULL;
		}
	}
	if (scep_caps_looks_like_html(text, len)) {
		g_set_error_literal(
		    error,
		    SCEP_NDES_ERROR,
		    SCEP_NDES_ERROR_BAD_RESPONSE,
		    "capabilities reply looks like an HTML page, not a keyword list");
		return NULL;
	}

	copy = g_strndup(text, len);
	lines = g_strsplit(copy, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		gchar *keyword = g_strstrip(lines[i]);
		if (*keyword == '\0')
			continue;
		scep_caps_add_keyword(self, keyword);
	}
	return g_steal_pointer(&self);
}

/**
 * scep_caps_has:
 * @self: capabilities
 * @keyword: a keyword, matched case-insensitively
 *
 * Returns: whether the server listed @keyword
 */
gboolean
scep_caps_has(const ScepCaps *self, const gchar *keyword)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(keyword != NULL, FALSE);

	for (guint i = 0; i < self->keywords->len; i++) {
		if (g_ascii_strcasecmp(g_ptr_array_index(self->keywords, i), keyword) == 0)
			return TRUE;
	}
	return FALSE;
}

const gchar *const *
scep_caps_get_keywords(const ScepCaps *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return (const gchar *const *)self->keywords->pdata;
}

gchar *
scep_caps_to_string(const ScepCaps *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	if (self->keywords->len == 0)
		return g_strdup("none");
	return g_strjoinv(", ", (gchar **)self->keywords->pdata);
}

gboolean
scep_caps_is_scep_standard(const ScepCaps *self)
{
	return scep_caps_has(self, "SCEPStandard");
}

gboolean
scep_caps_supports_post(const ScepCaps *self)
{
	return scep_caps_has(self, "POSTPKIOperation") || scep_caps_is_scep_standard(self);
}

gboolean
scep_caps_supports_renewal(const ScepCaps *self)
{
	return scep_caps_has(self, "Renewal");
}

gboolean
scep_caps_supports_get_next_ca_cert(const ScepCaps *self)
{
	return scep_caps_has(self, "GetNextCACert");
}

gboolean
scep_caps_supports_update(const ScepCaps *self)
{
	return scep_caps_has(self, "Update");
}

/* what the server offers for one algorithm family, for error messages */
static gchar *
scep_caps_describe_offer(const ScepCaps *self, const gchar *const *family)
{
	g_autoptr(GPtrArray) found = g_ptr_array_new_null_terminated(4, NULL, TRUE);

	for (guint i = 0; family[i] != NULL; i++) {
		if (scep_caps_has(self, family[i]))
			g_ptr_array_add(found, (gpointer)family[i]);
	}
	if (found->len == 0)
		return g_strdup("no keyword for it");
	return g_strjoinv(", ", (gchar **)found->pdata);
}

static const gchar *const scep_caps_cipher_family[] = { "AES", "DES3", "SCEPStandard", NULL };
static const gchar *const scep_caps_digest_family[] = { "SHA-1",   "SHA-224", "SHA-256",
							"SHA-384", "SHA-512", "SCEPStandard",
							NULL };

static gboolean
scep_caps_offers_aes(const ScepCaps *self)
{
	return scep_caps_has(self, "AES") || scep_caps_is_scep_standard(self);
}

/* *known is FALSE when @alg is not a cipher SCEP can carry */
static gboolean
scep_caps_cipher_offered(const ScepCaps *self, gint alg, gboolean *known)
{
	*known = TRUE;
	switch (alg) {
	case GNUTLS_CIPHER_AES_128_CBC:
	case GNUTLS_CIPHER_AES_192_CBC:
	case GNUTLS_CIPHER_AES_256_CBC:
		return scep_caps_offers_aes(self);
	case GNUTLS_CIPHER_3DES_CBC:
		return scep_caps_has(self, "DES3");
	case GNUTLS_CIPHER_DES_CBC:
		return TRUE;
	default:
		*known = FALSE;
		return FALSE;
	}
}

static const gchar *
scep_caps_cipher_name(gint alg)
{
	const gchar *name = gnutls_cipher_get_name((gnutls_cipher_algorithm_t)alg);
	return name != NULL ? name : "unknown cipher";
}

static gboolean
scep_caps_digest_offered(const ScepCaps *self, gint alg, gboolean *known)
{
	*known = TRUE;
	switch (alg) {
	case GNUTLS_DIG_SHA256:
		return scep_caps_has(self, "SHA-256") || scep_caps_is_scep_standard(self);
	case GNUTLS_DIG_SHA512:
		return scep_caps_has(self, "SHA-512");
	case GNUTLS_DIG_SHA384:
		return scep_caps_has(self, "SHA-384");
	case GNUTLS_DIG_SHA224:
		return scep_caps_has(self, "SHA-224");
	case GNUTLS_DIG_SHA1:
		return scep_caps_has(self, "SHA-1");
	case GNUTLS_DIG_MD5:
		return TRUE;
	default:
		*known = FALSE;
		return FALSE;
	}
}

static const gchar *
scep_caps_digest_name(gint alg)
{
	const gchar *name = gnutls_digest_get_name((gnutls_digest_algorithm_t)alg);
	return name != NULL ? name : "unknown digest";
}

/*
 * One algorithm family (content ciphers or digests): how its members are offered and named,
 * and the order of automatic choice. Algorithm IDs are GnuTLS enum values, 0 = unknown.
 */
typedef struct {
	const gchar *what;               /* "content cipher", "digest" */
	const gchar *const *keywords;    /* the caps named in errors */
	const gint *preference;          /* best first, 0-terminated; the legacy one last */
	gint legacy;                     /* only with SCEP_CAPS_ALG_POLICY_ALLOW_LEGACY */
	const gchar *legacy_description; /* "single DES", "MD5" */
	gboolean (*offered)(const ScepCaps *self, gint alg, gboolean *known);
	const gchar *(*name)(gint alg);
} ScepCapsAlgFamily;

static const gint scep_caps_cipher_preference[] = {
	GNUTLS_CIPHER_AES_128_CBC, GNUTLS_CIPHER_3DES_CBC, GNUTLS_CIPHER_DES_CBC, 0
};
static const gint scep_caps_digest_preference[] = {
	GNUTLS_DIG_SHA256, GNUTLS_DIG_SHA512, GNUTLS_DIG_SHA1, GNUTLS_DIG_MD5, 0
};

static const ScepCapsAlgFamily scep_caps_ciphers = {
	.what = "content cipher",
	.keywords = scep_caps_cipher_family,
	.preference = scep_caps_cipher_preference,
	.legacy = GNUTLS_CIPHER_DES_CBC,
	.legacy_description = "single DES",
	.offered = scep_caps_cipher_offered,
	.name = scep_caps_cipher_name,
};

static const ScepCapsAlgFamily scep_caps_digests = {
	.what = "digest",
	.keywords = scep_caps_digest_family,
	.preference = scep_caps_digest_preference,
	.legacy = GNUTLS_DIG_MD5,
	.legacy_description = "MD5",
	.offered = scep_caps_digest_offered,
	.name = scep_caps_digest_name,
};

/* a configured algorithm: usable for SCEP, allowed by @policy and offered by the server */
static gboolean
scep_caps_check_preferred(const ScepCaps *self,
			  const ScepCapsAlgFamily *family,
			  gboolean legacy_ok,
			  gint preferred,
			  const gchar *offer,
			  GError **error)
{
	gboolean known = FALSE;
	gboolean offered = family->offered(self, preferred, &known);
	const gchar *name = family->name(preferred);

	if (!known) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_UNSUPPORTED,
			    "%s %s cannot be used for SCEP (server offers: %s)",
			    family->what,
			    name,
			    offer);
		return FALSE;
	}
	if (preferred == family->legacy && !legacy_ok) {
		g_set_error(error,
			    SCEP_NDES_ERROR,
			    SCEP_NDES_ERROR_UNSUPPORTED,
			    "%s %s is legacy and not allowed by policy (server offers: %s)",
			    family->what,
			    name,
			    offer);
		return FALSE;
	}
	if (!offered) {
		g_set_error(
		    error,
		    SCEP_NDES_ERROR,
		    SCEP_NDES_ERROR_UNSUPPORTED,
		    "%s %s is configured but the server does not offer it (server offers: %s)",
		    family->what,
		    name,
		    offer);
		return FALSE;
	}
	return TRUE;
}

/* @preferred when set and acceptable, else the best the server offers that @policy allows */
static gboolean
scep_caps_choose(const ScepCaps *self,
		 const ScepCapsAlgFamily *family,
		 ScepCapsAlgPolicy policy,
		 gint preferred,
		 gint *out,
		 GError **error)
{
	gboolean legacy_ok = policy == SCEP_CAPS_ALG_POLICY_ALLOW_LEGACY;
	g_autofree gchar *offer = scep_caps_describe_offer(self, family->keywords);

	if (preferred != 0) {
		if (!scep_caps_check_preferred(self, family, legacy_ok, preferred, offer, error))
			return FALSE;
		*out = preferred;
		return TRUE;
	}
	for (guint i = 0; family->preference[i] != 0; i++) {
		gint alg = family->preference[i];
		gboolean known = FALSE;
		if (alg == family->legacy && !legacy_ok)
			continue;
		if (family->offered(self, alg, &known)) {
			*out = alg;
			return TRUE;
		}
	}
	g_set_error(error,
		    SCEP_NDES_ERROR,
		    SCEP_NDES_ERROR_UNSUPPORTED,
		    "server offers no acceptable %s (offers: %s); %s would need the legacy policy",
		    family->what,
		    offer,
		    family->legacy_description);
	return FALSE;
}

gboolean
scep_caps_choose_cipher(const ScepCaps *self,
			ScepCapsAlgPolicy policy,
			gnutls_cipher_algorithm_t preferred,
			gnutls_cipher_algorithm_t *out,
			GError **error)
{
	gint chosen = 0;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(out != NULL, FALSE);

	if (!scep_caps_choose(self, &scep_caps_ciphers, policy, (gint)preferred, &chosen, error))
		return FALSE;
	*out = (gnutls_cipher_algorithm_t)chosen;
	return TRUE;
}

gboolean
scep_caps_choose_digest(const ScepCaps *self,
			ScepCapsAlgPolicy policy,
			gnutls_digest_algorithm_t preferred,
			gnutls_digest_algorithm_t *out,
			GError **error)
{
	gint chosen = 0;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(out != NULL, FALSE);

	if (!scep_caps_choose(self, &scep_caps_digests, policy, (gint)preferred, &chosen, error))
		return FALSE;
	*out = (gnutls_digest_algorithm_t)chosen;
	return TRUE;
}
