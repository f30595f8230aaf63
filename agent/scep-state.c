#include "config.h"

#include "scep-state.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <string.h>
#include <unistd.h>

#define SCEP_STATE_GROUP "state"

ScepState *
scep_state_new(void)
{
	return g_new0(ScepState, 1);
}

void
scep_state_free(ScepState *self)
{
	if (self == NULL)
		return;
	g_free(self->reason);
	g_free(self->last_error);
	g_free(self->last_error_name);
	g_free(self->operation);
	g_clear_pointer(&self->new_key_pem, g_bytes_unref);
	g_clear_pointer(&self->pending, scep_pending_free);
	g_clear_pointer(&self->ca_certs_der, g_ptr_array_unref);
	g_free(self->request_subject);
	g_free(self->installed_subject);
	g_free(self->installed_key_path);
	g_free(self->installed_cert_path);
	g_free(self->installed_chain_path);
	g_free(self->ca_fingerprint);
	g_free(self->next_ca_fingerprint);
	g_free(self->next_ca_checked_for);
	g_free(self->rollover_ca_fingerprint);
	g_free(self->rollover_pin);
	g_free(self);
}

static gboolean
scep_state_errno(GError **error, const gchar *what, const gchar *path)
{
	gint errsv = errno;
	g_set_error(error,
		    G_FILE_ERROR,
		    g_file_error_from_errno(errsv),
		    "cannot %s %s: %s",
		    what,
		    path,
		    g_strerror(errsv));
	return FALSE;
}

gboolean
scep_state_write_atomic(const gchar *path, const gchar *data, gsize len, gint mode, GError **error)
{
	g_autofree gchar *dir = g_path_get_dirname(path);
	g_autofree gchar *base = g_path_get_basename(path);
	g_autofree gchar *tmp = g_strdup_printf("%s/.%s.XXXXXX", dir, base);
	gsize done = 0;
	gint fd;
	gint dfd;

	fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, mode);
	if (fd < 0)
		return scep_state_errno(error, "create a temporary file for", path);
	if (fchmod(fd, (mode_t)mode) != 0) {
		scep_state_errno(error, "set the mode of", tmp);
		close(fd);
		g_unlink(tmp);
		return FALSE;
	}
	while (done < len) {
		gssize n = write(fd, data + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			scep_state_errno(error, "write", tmp);
			close(fd);
			g_unlink(tmp);
			return FALSE;
		}
		done += (gsize)n;
	}
	if (fsync(fd) != 0) {
		scep_state_errno(error, "fsync", tmp);
		close(fd);
		g_unlink(tmp);
		return FALSE;
	}
	close(fd);
	if (g_rename(tmp, path) != 0) {
		scep_state_errno(error, "rename over", path);
		g_unlink(tmp);
		return FALSE;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return scep_state_errno(error, "open the directory", dir);
	if (fsync(dfd) != 0) {
		scep_state_errno(error, "fsync the directory", dir);
		close(dfd);
		return FALSE;
	}
	close(dfd);
	return TRUE;
}

static void
scep_state_set_opt_string(GKeyFile *kf, const gchar *key, const gchar *value)
{
	if (value != NULL)
		g_key_file_set_string(kf, SCEP_STATE_GROUP, key, value);
}

static gchar *
scep_state_get_opt_string(GKeyFile *kf, const gchar *key)
{
	return g_key_file_get_string(kf, SCEP_STATE_GROUP, key, NULL);
}

static gint64
scep_state_get_int(GKeyFile *kf, const gchar *key)
{
	g_autoptr(GError) error = NULL;
	gint64 v = g_key_file_get_int64(kf, SCEP_STATE_GROUP, key, &error);
	return error != NULL ? 0 : v;
}

static void
scep_state_wipe_string(gchar *text)
{
	if (text == NULL)
		return;
	gnutls_memset(text, 0, strlen(text));
	g_free(text);
}

gboolean
scep_state_save(const ScepState *self, const gchar *path, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	gchar *text = NULL;
	gsize len = 0;
	gboolean ok;

	g_key_file_set_integer(kf, SCEP_STATE_GROUP, "state", self->state);
	scep_state_set_opt_string(kf, "reason", self->reason);
	g_key_file_set_uint64(kf, SCEP_STATE_GROUP, "attempt", self->attempt);
	g_key_file_set_int64(kf, SCEP_STATE_GROUP, "next-attempt", self->next_attempt);
	scep_state_set_opt_string(kf, "last-error", self->last_error);
	scep_state_set_opt_string(kf, "last-error-name", self->last_error_name);
	g_key_file_set_int64(kf, SCEP_STATE_GROUP, "last-attempt", self->last_attempt);
	scep_state_set_opt_string(kf, "operation", self->operation);
	if (self->new_key_pem != NULL) {
		g_autofree gchar *b64 = g_base64_encode(g_bytes_get_data(self->new_key_pem, NULL),
							g_bytes_get_size(self->new_key_pem));
		g_key_file_set_string(kf, SCEP_STATE_GROUP, "new-key", b64);
		gnutls_memset(b64, 0, strlen(b64));
	}
	if (self->pending != NULL) {
		gsize plen = 0;
		gchar *ptext = scep_pending_to_data(self->pending, &plen);
		g_autofree gchar *b64 = g_base64_encode((const guchar *)ptext, plen);
		scep_pending_text_free(ptext);
		g_key_file_set_string(kf, SCEP_STATE_GROUP, "pending", b64);
		gnutls_memset(b64, 0, strlen(b64));
	}
	if (self->ca_certs_der != NULL && self->ca_certs_der->len > 0) {
		g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_free);
		for (guint i = 0; i < self->ca_certs_der->len; i++) {
			GBytes *der = g_ptr_array_index(self->ca_certs_der, i);
			g_ptr_array_add(
			    list,
			    g_base64_encode(g_bytes_get_data(der, NULL), g_bytes_get_size(der)));
		}
		g_key_file_set_string_list(
		    kf, SCEP_STATE_GROUP, "ca-certs", (const gchar *const *)list->pdata, list->len);
	}
	if (self->reenroll_requested)
		g_key_file_set_boolean(kf, SCEP_STATE_GROUP, "reenroll-requested", TRUE);
	scep_state_set_opt_string(kf, "request-subject", self->request_subject);
	scep_state_set_opt_string(kf, "installed-subject", self->installed_subject);
	scep_state_set_opt_string(kf, "installed-key-file", self->installed_key_path);
	scep_state_set_opt_string(kf, "installed-cert-file", self->installed_cert_path);
	scep_state_set_opt_string(kf, "installed-chain-file", self->installed_chain_path);
	scep_state_set_opt_string(kf, "ca-fingerprint", self->ca_fingerprint);
	if (self->ca_not_after != 0) {
		g_key_file_set_int64(kf, SCEP_STATE_GROUP, "ca-not-before", self->ca_not_before);
		g_key_file_set_int64(kf, SCEP_STATE_GROUP, "ca-not-after", self->ca_not_after);
	}
	scep_state_set_opt_string(kf, "next-ca-fingerprint", self->next_ca_fingerprint);
	scep_state_set_opt_string(kf, "next-ca-checked-for", self->next_ca_checked_for);
	if (self->next_ca_checked_at != 0)
		g_key_file_set_int64(
		    kf, SCEP_STATE_GROUP, "next-ca-checked-at", self->next_ca_checked_at);
	scep_state_set_opt_string(kf, "rollover-ca-fingerprint", self->rollover_ca_fingerprint);
	scep_state_set_opt_string(kf, "rollover-pin", self->rollover_pin);
	text = g_key_file_to_data(kf, &len, NULL);
	ok = scep_state_write_atomic(path, text, len, 0600, error);
	scep_state_wipe_string(text);
	return ok;
}

ScepState *
scep_state_load(const gchar *path, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(ScepState) self = scep_state_new();
	g_autoptr(GError) local = NULL;
	gchar *b64 = NULL;
	g_auto(GStrv) cas = NULL;

	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local)) {
		if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			return g_steal_pointer(&self);
		g_propagate_prefixed_error(error, g_steal_pointer(&local), "%s: ", path);
		return NULL;
	}
	self->state = (gint)scep_state_get_int(kf, "state");
	self->reason = scep_state_get_opt_string(kf, "reason");
	self->attempt = (guint)scep_state_get_int(kf, "attempt");
	self->next_attempt = scep_state_get_int(kf, "next-attempt");
	self->last_error = scep_state_get_opt_string(kf, "last-error");
	self->last_error_name = scep_state_get_opt_string(kf, "last-error-name");
	self->last_attempt = scep_state_get_int(kf, "last-attempt");
	self->operation = scep_state_get_opt_string(kf, "operation");
	b64 = scep_state_get_opt_string(kf, "new-key");
	if (b64 != NULL) {
		gsize n = 0;
		guchar *raw = g_base64_decode(b64, &n);
		self->new_key_pem = scep_pending_secret_bytes_new(raw, n);
		gnutls_memset(raw, 0, n);
		g_free(raw);
		scep_state_wipe_string(g_steal_pointer(&b64));
	}
	b64 = scep_state_get_opt_string(kf, "pending");
	if (b64 != NULL) {
		gsize n = 0;
		guchar *raw = g_base64_decode(b64, &n);
		self->pending = scep_pending_new_from_data((const gchar *)raw, n, &local);
		gnutls_memset(raw, 0, n);
		g_free(raw);
		scep_state_wipe_string(g_steal_pointer(&b64));
		if (self->pending == NULL) {
			g_propagate_prefixed_error(
			    error, g_steal_pointer(&local), "%s: pending request: ", path);
			return NULL;
		}
	}
	self->reenroll_requested =
	    g_key_file_get_boolean(kf, SCEP_STATE_GROUP, "reenroll-requested", NULL);
	self->request_subject = scep_state_get_opt_string(kf, "request-subject");
	self->installed_subject = scep_state_get_opt_string(kf, "installed-subject");
	self->installed_key_path = scep_state_get_opt_string(kf, "installed-key-file");
	self->installed_cert_path = scep_state_get_opt_string(kf, "installed-cert-file");
	self->installed_chain_path = scep_state_get_opt_string(kf, "installed-chain-file");
	self->ca_fingerprint = scep_state_get_opt_string(kf, "ca-fingerprint");
	self->ca_not_before = scep_state_get_int(kf, "ca-not-before");
	self->ca_not_after = scep_state_get_int(kf, "ca-not-after");
	self->next_ca_fingerprint = scep_state_get_opt_string(kf, "next-ca-fingerprint");
	self->next_ca_checked_for = scep_state_get_opt_string(kf, "next-ca-checked-for");
	self->next_ca_checked_at = scep_state_get_int(kf, "next-ca-checked-at");
	self->rollover_ca_fingerprint = scep_state_get_opt_string(kf, "rollover-ca-fingerprint");
	self->rollover_pin = scep_state_get_opt_string(kf, "rollover-pin");
	cas = g_key_file_get_string_list(kf, SCEP_STATE_GROUP, "ca-certs", NULL, NULL);
	if (cas != NULL) {
		self->ca_certs_der = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
		for (guint i = 0; cas[i] != NULL; i++) {
			gsize n = 0;
			guchar *raw = g_base64_decode(cas[i], &n);
			g_ptr_array_add(self->ca_certs_der, g_bytes_new_take(raw, n));
		}
	}
	return g_steal_pointer(&self);
}
