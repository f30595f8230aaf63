/*
 * LD_PRELOAD shim for the enrollment benchmark (tests/bench-enroll.sh): certmonger must
 * decrypt scepserver's replies, whose envelope is single DES-CBC, which OpenSSL 3 only has in
 * its "legacy" provider, and certmonger does not read OPENSSL_CONF; so this library loads the
 * providers before certmonger's main() runs
 */
#include "config.h"

#include <openssl/provider.h>
#include <stdio.h>

static void scep_bench_legacy_provider_load(void) __attribute__((constructor));

static void
scep_bench_legacy_provider_load(void)
{
	/* loading any provider explicitly stops OpenSSL from loading "default" implicitly, so
	 * both are loaded; a failure is reported but never aborts the host process */
	if (OSSL_PROVIDER_load(NULL, "default") == NULL)
		fprintf(stderr, "bench-legacy-provider: cannot load the default provider\n");
	if (OSSL_PROVIDER_load(NULL, "legacy") == NULL)
		fprintf(stderr, "bench-legacy-provider: cannot load the legacy provider\n");
}
