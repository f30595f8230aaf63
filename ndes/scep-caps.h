#pragma once

#include <glib.h>
#include <gnutls/gnutls.h>

G_BEGIN_DECLS

/**
 * ScepCaps:
 *
 * The capabilities a SCEP server lists in its GetCACaps reply (RFC 8894 §3.5.2).
 *
 * Parsing: the body is split into lines (LF or CRLF), each line trimmed of surrounding white
 * space, empty lines dropped. Keywords are matched case-insensitively; unknown keywords are kept
 * (as sent) so that tools can show them; a keyword listed twice is kept once. An empty body is
 * valid and means "no capabilities". A body over 64 KiB, one that is not UTF-8 text (NUL or
 * other control bytes), or one that looks like an HTML page (an error page served with status
 * 200) is an error that names the problem.
 */
typedef struct _ScepCaps ScepCaps;

/* the largest GetCACaps body we accept */
#define SCEP_CAPS_MAX_SIZE (64 * 1024)

/**
 * ScepCapsAlgPolicy:
 * @SCEP_CAPS_ALG_POLICY_DEFAULT: AES and SHA-2 when offered, 3DES and SHA-1 only when the
 *   server offers nothing better, never single DES or MD5
 * @SCEP_CAPS_ALG_POLICY_ALLOW_LEGACY: as above, but single DES and MD5 may be chosen when the
 *   server offers nothing else (and may be asked for explicitly)
 */
typedef enum {
	SCEP_CAPS_ALG_POLICY_DEFAULT = 0,
	SCEP_CAPS_ALG_POLICY_ALLOW_LEGACY = 1,
} ScepCapsAlgPolicy;

ScepCaps *scep_caps_parse(const gchar *text, gsize len, GError **error);
ScepCaps *scep_caps_new_empty(void);
void scep_caps_free(ScepCaps *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepCaps, scep_caps_free)

gboolean scep_caps_has(const ScepCaps *self, const gchar *keyword);
/* the keywords as sent, in order, without duplicates; NULL-terminated, owned by @self */
const gchar *const *scep_caps_get_keywords(const ScepCaps *self);
/* the keywords joined by ", ", or "none" */
gchar *scep_caps_to_string(const ScepCaps *self);

/* POSTPKIOperation or SCEPStandard */
gboolean scep_caps_supports_post(const ScepCaps *self);
/* Renewal (RenewalReq, messageType 17) */
gboolean scep_caps_supports_renewal(const ScepCaps *self);
/* GetNextCACert (CA rollover) */
gboolean scep_caps_supports_get_next_ca_cert(const ScepCaps *self);
/* Update (UpdateReq) */
gboolean scep_caps_supports_update(const ScepCaps *self);
/* SCEPStandard: implies AES, POSTPKIOperation and SHA-256 */
gboolean scep_caps_is_scep_standard(const ScepCaps *self);

/*
 * Algorithm choice.
 *
 * What counts as offered:
 *   AES-128-CBC  keyword "AES", or "SCEPStandard" (RFC 8894 defines "AES" as AES128-CBC)
 *   AES-192-CBC, AES-256-CBC
 *                the same keywords: RFC 8894 has no keyword for them; they are never chosen
 *                automatically, only when asked for explicitly
 *   3DES-CBC     keyword "DES3"
 *   DES-CBC      always (the implicit baseline of pre-RFC SCEP), but legacy
 *   SHA-256      keyword "SHA-256", or "SCEPStandard"
 *   SHA-512      keyword "SHA-512"; SHA-224 / SHA-384: keywords "SHA-224" / "SHA-384"
 *   SHA-1        keyword "SHA-1"
 *   MD5          always (implicit baseline), but legacy
 *
 * Automatic choice (@preferred = GNUTLS_CIPHER_UNKNOWN / GNUTLS_DIG_UNKNOWN), first match wins:
 *
 *   cipher                                   | digest
 *   -----------------------------------------+------------------------------------------
 *   1. AES offered        -> AES-128-CBC     | 1. SHA-256 offered -> SHA-256
 *   2. DES3 offered       -> 3DES-CBC        | 2. SHA-512 offered -> SHA-512
 *   3. ALLOW_LEGACY       -> DES-CBC         | 3. SHA-1 offered   -> SHA-1
 *   4. otherwise: error                      | 4. ALLOW_LEGACY    -> MD5
 *                                            | 5. otherwise: error
 *
 * Explicit choice (@preferred set, from the registry's encalg / signalg): honoured when the
 * algorithm is offered as above; DES-CBC and MD5 additionally need ALLOW_LEGACY. Anything else,
 * including ciphers that SCEP cannot carry, is an error naming the wanted algorithm and what the
 * server offers. An explicit choice is never silently replaced by another algorithm.
 *
 * Errors are SCEP_NDES_ERROR_UNSUPPORTED.
 */
gboolean scep_caps_choose_cipher(const ScepCaps *self,
				 ScepCapsAlgPolicy policy,
				 gnutls_cipher_algorithm_t preferred,
				 gnutls_cipher_algorithm_t *out,
				 GError **error);
gboolean scep_caps_choose_digest(const ScepCaps *self,
				 ScepCapsAlgPolicy policy,
				 gnutls_digest_algorithm_t preferred,
				 gnutls_digest_algorithm_t *out,
				 GError **error);

G_END_DECLS
