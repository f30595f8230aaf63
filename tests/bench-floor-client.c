/*
 * The floor of tests/bench-enroll.sh (issue 3): a program linked like scepctl, with the same
 * DT_NEEDED libraries in the same order (GLib, GIO, GObject, GnuTLS, libtasn1, hogweed,
 * libsoup 3, GMP; with theirs, about 35 shared objects), whose main returns 0 at once. Its wall
 * time, CPU time and peak RSS are what the dynamic loader, relocations and the libraries'
 * constructors (GnuTLS's implicit global init among them) cost before scepctl does anything:
 * scepctl minus this is what our code costs, the part to compare with the peers.
 *
 * meson links with --as-needed, so every library has to be referenced to stay in DT_NEEDED:
 * with an argument (the benchmark gives none) it prints what each library says of itself.
 */
#include "config.h"

#include <gio/gio.h>
#include <gmp.h>
#include <gnutls/gnutls.h>
#include <libsoup/soup.h>
#include <libtasn1.h>
#include <nettle/rsa.h>
#include <stdio.h>

int
main(int argc, char **argv)
{
	struct rsa_public_key rsa;
	mpz_t n;

	if (argc < 2)
		return 0;
	/* never in the benchmark: one symbol of each library scepctl needs */
	rsa_public_key_init(&rsa);
	rsa_public_key_clear(&rsa);
	mpz_init_set_ui(n, 65537);
	printf("glib >= 2.74: %s, gobject: %s, gio: %s, gnutls %s, libtasn1 %s, libsoup %u.%u, "
	       "gmp: %lu\n",
	       glib_check_version(2, 74, 0) == NULL ? "yes" : "no",
	       g_type_name(G_TYPE_OBJECT),
	       g_quark_to_string(G_IO_ERROR),
	       gnutls_check_version(NULL),
	       asn1_check_version(NULL),
	       soup_get_major_version(),
	       soup_get_minor_version(),
	       mpz_get_ui(n));
	mpz_clear(n);
	return 0;
}
