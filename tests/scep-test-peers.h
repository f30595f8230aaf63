/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Test peers for GTest programs: our scriptable SCEP responder
 * (tests/scep-responder.py, independent crypto) and the micromdm scepserver
 * started by tests/scepserver-netns.sh.  GLib only: nothing here uses ndes/,
 * so a bug shared by client and helper cannot hide.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _ScepTestResponder ScepTestResponder;

/* spawns /usr/bin/python3 $G_TEST_SRCDIR/scep-responder.py --state-dir <tmp> EXTRA_ARGS...
 * and waits (bounded) for its READY line; see the script's --help for the arguments */
ScepTestResponder *scep_test_responder_start(const gchar *const *extra_args, GError **error);

/* http://127.0.0.1:PORT/scep */
const gchar *scep_test_responder_get_url(ScepTestResponder *self);
guint16 scep_test_responder_get_port(ScepTestResponder *self);
const gchar *scep_test_responder_get_state_dir(ScepTestResponder *self);

/* path of the trust anchor (the root CA certificate, PEM) under the state dir */
gchar *scep_test_responder_get_ca_cert_pem(ScepTestResponder *self);

/* path of NAME under the state dir: "ca.pem", "issuing-ca.pem", "chain.pem",
 * "ra-sign.pem", "ra-enc.pem", "ra.pem" (combined), "rogue.pem", "next-ca.pem",
 * "issued/<serial hex>.pem", "state.json" */
gchar *scep_test_responder_get_file(ScepTestResponder *self, const gchar *name);

/* POST /control: JSON replacing the script (a list of steps) or a control object */
gboolean scep_test_responder_set_script(ScepTestResponder *self, const gchar *json, GError **error);

/* GET /log: the raw JSON list of requests seen */
gchar *scep_test_responder_get_log(ScepTestResponder *self, GError **error);

/* occurrences of NEEDLE (e.g. "\"message_type\": 20") in the log; -1 on error */
gint scep_test_responder_count_in_log(ScepTestResponder *self, const gchar *needle, GError **error);

gboolean scep_test_responder_clear_log(ScepTestResponder *self, GError **error);

/* stops the responder and starts it again with the same arguments, state dir
 * and port: the CA and pending transactions survive, the script and log do not */
gboolean scep_test_responder_restart(ScepTestResponder *self, GError **error);

/* SIGTERM by PID and wait (SIGKILL after 5 s); idempotent */
void scep_test_responder_stop(ScepTestResponder *self);

/* stops it if needed, removes the state dir, frees */
void scep_test_responder_free(ScepTestResponder *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepTestResponder, scep_test_responder_free)

/* a blocking HTTP/1.0 request over GSocketClient (no libsoup); STATUS and
 * BODY_OUT may be NULL; fails only on transport errors, not on HTTP status */
gboolean scep_test_http_request(const gchar *url,
				const gchar *method,
				const gchar *content_type,
				GBytes *body,
				guint *status,
				GBytes **body_out,
				GError **error);

/* set by tests/scepserver-netns.sh; NULL when the test does not run under it */
const gchar *scep_test_scepserver_url(void);
const gchar *scep_test_scepserver_challenge(void);
const gchar *scep_test_scepserver_depot(void);

G_END_DECLS
