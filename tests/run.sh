#!/bin/bash
# The whole test suite, from a fresh Debian 12 machine:
#   tests/run.sh [BUILDDIR]
# As root it first installs the Debian packages that are missing (build
# dependencies and the real servers the tests run against). Then it
# configures, builds and runs every test with meson, and ends with one line
# "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
builddir=${1:-build}

packages=(
    meson ninja-build pkg-config gcc gettext
    libglib2.0-dev libglib2.0-bin libsoup-3.0-dev glib-networking
    libgnutls28-dev libtasn1-6-dev libtasn1-bin nettle-dev libsecret-1-dev libssl-dev
    openssl python3 python3-asn1crypto python3-cryptography
    scep certmonger dbus libxml2-utils iproute2 util-linux time
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing Debian packages (run as root to install them): ${missing[*]}" >&2
        exit 2
    fi
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || exit 2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || exit 2
fi

setup_args=()
[ "${CI:-}" = "true" ] && setup_args+=(--werror)
if [ -d "$builddir" ]; then
    meson setup --reconfigure "${setup_args[@]}" "$builddir" >/dev/null || exit 2
else
    meson setup "${setup_args[@]}" "$builddir" >/dev/null || exit 2
fi
ninja -C "$builddir" || exit 2

meson test -C "$builddir" --print-errorlogs --no-rebuild
status=$?

# one plain summary line from meson's own results
log="$builddir/meson-logs/testlog.json"
if [ -f "$log" ]; then
    /usr/bin/python3 - "$log" <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif r == "SKIP":
        skipped += 1
    else:
        failed += 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
fi
exit $status
