#pragma once

#include <glib.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

G_BEGIN_DECLS

gboolean scep_oaep_decrypt(gnutls_privkey_t key,
			   gnutls_digest_algorithm_t hash,
			   const gnutls_datum_t *label,
			   GBytes *ciphertext,
			   guint8 *out,
			   gsize out_size,
			   gsize *out_len,
			   GError **error);

G_END_DECLS
