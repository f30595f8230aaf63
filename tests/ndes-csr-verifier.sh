#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# scepserver -csrverifierexec for the NDES test bed (tests/ndes-admin-server.sh): the CSR
# arrives on stdin as DER; it is accepted (exit 0) only when its challengePassword is one that
# the mscep_admin stand-in issued ($NDES_ADMIN_ISSUED) and that was not used before
# ($NDES_ADMIN_USED, appended to on acceptance). Refusals are logged to stderr (scepserver's log).
set -u
[ -n "${NDES_ADMIN_ISSUED:-}" ] && [ -n "${NDES_ADMIN_USED:-}" ] || {
	echo "ndes-csr-verifier: NDES_ADMIN_ISSUED/NDES_ADMIN_USED not set" >&2
	exit 1
}
text=$(openssl req -inform DER -noout -text 2>&1) || {
	echo "ndes-csr-verifier: not a CSR: $text" >&2
	exit 1
}
challenge=$(printf '%s\n' "$text" | sed -n 's/^ *challengePassword *: *//p' | head -n1 | tr -d '\r ')
if [ -z "$challenge" ]; then
	echo "ndes-csr-verifier: no challengePassword in the CSR" >&2
	exit 1
fi
if ! grep -qxF -- "$challenge" "$NDES_ADMIN_ISSUED"; then
	echo "ndes-csr-verifier: challenge not issued by mscep_admin" >&2
	exit 1
fi
if grep -qxF -- "$challenge" "$NDES_ADMIN_USED"; then
	echo "ndes-csr-verifier: challenge already used" >&2
	exit 1
fi
echo "$challenge" >>"$NDES_ADMIN_USED"
exit 0
