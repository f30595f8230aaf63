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

bash tests/install-deps.sh || exit 2

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
