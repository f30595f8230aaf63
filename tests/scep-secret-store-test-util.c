/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "scep-secret-store-test-util.h"

#include "scep-test-util.h"

gchar *
scep_secret_store_test_lookup(ScepSecretStore *store,
			      const gchar *instance,
			      const gchar *name,
			      GError **error)
{
	g_autoptr(GAsyncResult) result = NULL;

	scep_secret_store_lookup_async(store, instance, name, NULL, scep_test_result_cb, &result);
	return scep_secret_store_lookup_finish(store, scep_test_wait_result(&result), error);
}

gboolean
scep_secret_store_test_store(ScepSecretStore *store,
			     const gchar *instance,
			     const gchar *name,
			     const gchar *secret,
			     GError **error)
{
	g_autoptr(GAsyncResult) result = NULL;

	scep_secret_store_store_async(
	    store, instance, name, secret, NULL, scep_test_result_cb, &result);
	return scep_secret_store_store_finish(store, scep_test_wait_result(&result), error);
}

gboolean
scep_secret_store_test_clear(ScepSecretStore *store,
			     const gchar *instance,
			     const gchar *name,
			     GError **error)
{
	g_autoptr(GAsyncResult) result = NULL;

	scep_secret_store_clear_async(store, instance, name, NULL, scep_test_result_cb, &result);
	return scep_secret_store_clear_finish(store, scep_test_wait_result(&result), error);
}

void
scep_secret_store_test_assert_store(ScepSecretStore *store,
				    const gchar *instance,
				    const gchar *name,
				    const gchar *secret)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(scep_secret_store_test_store(store, instance, name, secret, &error));
	g_assert_no_error(error);
}

void
scep_secret_store_test_assert_clear(ScepSecretStore *store,
				    const gchar *instance,
				    const gchar *name)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(scep_secret_store_test_clear(store, instance, name, &error));
	g_assert_no_error(error);
}

void
scep_secret_store_test_assert_found(ScepSecretStore *store,
				    const gchar *instance,
				    const gchar *name,
				    const gchar *expected)
{
	g_autoptr(GError) error = NULL;
	gchar *found = scep_secret_store_test_lookup(store, instance, name, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(found, ==, expected);
	scep_secret_free(found);
}

void
scep_secret_store_test_assert_not_found(ScepSecretStore *store,
					const gchar *instance,
					const gchar *name)
{
	g_autoptr(GError) error = NULL;
	gchar *found = scep_secret_store_test_lookup(store, instance, name, &error);

	g_assert_error(error, SCEP_SECRET_STORE_ERROR, SCEP_SECRET_STORE_ERROR_NOT_FOUND);
	g_assert_null(found);
}
