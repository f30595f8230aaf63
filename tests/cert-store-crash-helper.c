/*
 * cert-store-crash-helper: performs one scep_cert_store_install() so that test-cert-store can
 * run it with SCEP_AGENT_TEST_CRASH_AT=<point> and watch it die by SIGKILL.
 *
 * usage: cert-store-crash-helper JOURNAL_DIR KEY_PATH CERT_PATH CHAIN_PATH NEW_KEY NEW_CERT
 *                                NEW_CHAIN [FSIZE_LIMIT_BYTES]
 * CHAIN_PATH "-" means no chain. With FSIZE_LIMIT_BYTES, files larger than that cannot be written
 * (RLIMIT_FSIZE), which makes the installation fail part-way.
 * Exit status: 0 installed, 1 installation failed (message on stderr), 2 usage.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>

#include "scep-cert-store.h"

static GBytes *
read_bytes(const gchar *path)
{
	g_autoptr(GError) error = NULL;
	gchar *contents = NULL;
	gsize len = 0;

	if (!g_file_get_contents(path, &contents, &len, &error)) {
		g_printerr("%s\n", error->message);
		return NULL;
	}
	return g_bytes_new_take(contents, len);
}

int
main(int argc, char **argv)
{
	g_autoptr(ScepCertPaths) paths = NULL;
	g_autoptr(GBytes) key = NULL;
	g_autoptr(GBytes) cert = NULL;
	g_autoptr(GBytes) chain = NULL;
	g_autoptr(GError) error = NULL;

	if (argc != 8 && argc != 9) {
		g_printerr("usage: %s JOURNAL_DIR KEY CERT CHAIN NEW_KEY NEW_CERT NEW_CHAIN "
			   "[FSIZE_LIMIT]\n",
			   argv[0]);
		return 2;
	}
	key = read_bytes(argv[5]);
	cert = read_bytes(argv[6]);
	chain = read_bytes(argv[7]);
	if (key == NULL || cert == NULL || chain == NULL)
		return 2;
	if (argc == 9) {
		struct rlimit limit;

		limit.rlim_cur = limit.rlim_max = (rlim_t)g_ascii_strtoull(argv[8], NULL, 10);
		/* a write beyond the limit then fails with EFBIG instead of killing us */
		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &limit) < 0) {
			perror("setrlimit");
			return 2;
		}
	}
	paths =
	    scep_cert_paths_new(argv[2], argv[3], g_strcmp0(argv[4], "-") == 0 ? NULL : argv[4]);
	if (!scep_cert_store_install(argv[1], paths, key, cert, chain, &error)) {
		g_printerr("install failed: %s\n", error->message);
		return 1;
	}
	return 0;
}
