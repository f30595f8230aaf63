/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Shared by test-secret-store and test-secret-libsecret: the ScepSecretStore operations run to
 * completion on the default main context, with the results of the _finish functions.
 */

#pragma once

#include "scep-secret-store.h"

G_BEGIN_DECLS

gchar *scep_secret_store_test_lookup(ScepSecretStore *store,
				     const gchar *instance,
				     const gchar *name,
				     GError **error);
gboolean scep_secret_store_test_store(ScepSecretStore *store,
				      const gchar *instance,
				      const gchar *name,
				      const gchar *secret,
				      GError **error);
gboolean scep_secret_store_test_clear(ScepSecretStore *store,
				      const gchar *instance,
				      const gchar *name,
				      GError **error);

/* the same, asserting that store and clear succeed, and that lookup finds @expected or (not
 * found) nothing */
void scep_secret_store_test_assert_store(ScepSecretStore *store,
					 const gchar *instance,
					 const gchar *name,
					 const gchar *secret);
void scep_secret_store_test_assert_clear(ScepSecretStore *store,
					 const gchar *instance,
					 const gchar *name);
void scep_secret_store_test_assert_found(ScepSecretStore *store,
					 const gchar *instance,
					 const gchar *name,
					 const gchar *expected);
void scep_secret_store_test_assert_not_found(ScepSecretStore *store,
					     const gchar *instance,
					     const gchar *name);

G_END_DECLS
