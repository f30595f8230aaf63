#pragma once

#include <glib.h>
#include <libtasn1.h>

G_BEGIN_DECLS

/* OIDs shared by the CMS code */
#define SCEP_OID_DATA                 "1.2.840.113549.1.7.1"
#define SCEP_OID_SIGNED_DATA          "1.2.840.113549.1.7.2"
#define SCEP_OID_ENVELOPED_DATA       "1.2.840.113549.1.7.3"
#define SCEP_OID_RSA_ENCRYPTION       "1.2.840.113549.1.1.1"
#define SCEP_OID_RSAES_OAEP           "1.2.840.113549.1.1.7"
#define SCEP_OID_MGF1                 "1.2.840.113549.1.1.8"
#define SCEP_OID_P_SPECIFIED          "1.2.840.113549.1.1.9"
#define SCEP_OID_ATTR_CONTENT_TYPE    "1.2.840.113549.1.9.3"
#define SCEP_OID_ATTR_MESSAGE_DIGEST  "1.2.840.113549.1.9.4"
#define SCEP_OID_ATTR_SIGNING_TIME    "1.2.840.113549.1.9.5"
#define SCEP_OID_SCEP_MESSAGE_TYPE    "2.16.840.1.113733.1.9.2"
#define SCEP_OID_SCEP_PKI_STATUS      "2.16.840.1.113733.1.9.3"
#define SCEP_OID_SCEP_FAIL_INFO       "2.16.840.1.113733.1.9.4"
#define SCEP_OID_SCEP_SENDER_NONCE    "2.16.840.1.113733.1.9.5"
#define SCEP_OID_SCEP_RECIPIENT_NONCE "2.16.840.1.113733.1.9.6"
#define SCEP_OID_SCEP_TRANSACTION_ID  "2.16.840.1.113733.1.9.7"
#define SCEP_OID_SCEP_FAIL_INFO_TEXT  "1.3.6.1.5.5.7.24.1"

void scep_asn1_node_free(asn1_node node);
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(asn1_node, scep_asn1_node_free, NULL)

asn1_node scep_asn1_get_definitions(void);

gboolean scep_asn1_check(int rc, gint code, const gchar *what, const gchar *detail, GError **error);

asn1_node scep_asn1_create(const gchar *type, GError **error);
asn1_node scep_asn1_decode(const gchar *type, const guint8 *data, gsize len, GError **error);
asn1_node scep_asn1_decode_bytes(const gchar *type, GBytes *bytes, GError **error);
GBytes *scep_asn1_encode(asn1_node node, const gchar *what, GError **error);

GBytes *scep_asn1_read_bytes(asn1_node node, const gchar *name, GError **error);
GBytes *scep_asn1_read_optional(asn1_node node, const gchar *name, GError **error);
gchar *scep_asn1_read_oid(asn1_node node, const gchar *name, GError **error);
gchar *scep_asn1_read_choice(asn1_node node, const gchar *name, GError **error);
gboolean scep_asn1_read_uint(asn1_node node, const gchar *name, guint *value, GError **error);
gboolean scep_asn1_count(asn1_node node, const gchar *name, guint *count, GError **error);
gboolean
scep_asn1_write(asn1_node node, const gchar *name, const void *value, gsize len, GError **error);
gboolean scep_asn1_write_bytes(asn1_node node, const gchar *name, GBytes *value, GError **error);

GBytes *scep_asn1_unwrap_octet_string(GBytes *tlv, GError **error);
GBytes *scep_asn1_encode_octet_string(const guint8 *data, gsize len);
GBytes *scep_asn1_encode_string(guint etype, const gchar *text);
gchar *scep_asn1_decode_string(GBytes *tlv, GError **error);
gchar *scep_asn1_decode_oid(GBytes *tlv, GError **error);

gboolean scep_asn1_serial_equal(const guint8 *a, gsize a_len, const guint8 *b, gsize b_len);

G_END_DECLS
