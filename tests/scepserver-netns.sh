#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# scepserver-netns.sh CMD [ARGS...]
#
# Runs CMD inside a private network namespace together with Debian's micromdm
# scepserver (package `scep`), which binds every interface and so must never
# run in the host's namespace.  Inside the namespace:
#   - a fresh CA depot in a temporary directory (scepserver ca -init),
#   - scepserver -depot D -port 18080 -challenge testbed-challenge -allowrenew 0 -debug
#     (+ -crtvalid $SCEP_TEST_SCEPSERVER_CRTVALID and
#        -csrverifierexec $SCEP_TEST_SCEPSERVER_CSRVERIFIER when those are set),
#   - waits (bounded) until it answers GetCACaps,
#   - exports SCEP_TEST_SCEPSERVER_URL=http://127.0.0.1:18080/scep,
#     SCEP_TEST_SCEPSERVER_CHALLENGE=testbed-challenge and
#     SCEP_TEST_SCEPSERVER_DEPOT=<depot dir>,
#   - runs CMD, stops scepserver by PID, removes the depot, exits with CMD's status.
# scepserver's own log goes to $SCEP_TEST_SCEPSERVER_LOG if set, else to stderr.
# Needs root (unshare --net).  A missing tool is a failure (exit 1), never a skip.

set -u

PORT=18080
CHALLENGE=testbed-challenge

die() {
	echo "scepserver-netns: $*" >&2
	exit 1
}

if [ $# -lt 1 ]; then
	die "usage: scepserver-netns.sh CMD [ARGS...]"
fi

if [ "${SCEP_NETNS_INSIDE:-}" != "1" ]; then
	command -v scepserver >/dev/null 2>&1 ||
		die "scepserver not found: install Debian's 'scep' package (apt-get install scep)"
	command -v unshare >/dev/null 2>&1 || die "unshare not found (util-linux)"
	command -v ip >/dev/null 2>&1 || die "ip not found (iproute2)"
	if ! unshare --net true 2>/dev/null; then
		die "cannot create a network namespace (unshare --net failed; this needs root)"
	fi
	SCEP_NETNS_INSIDE=1 exec unshare --net -- "$0" "$@"
	die "exec unshare failed"
fi

# ---- inside the private network namespace ----
ip link set lo up || die "ip link set lo up failed"

DEPOT_PARENT=$(mktemp -d "${TMPDIR:-/tmp}/scepserver-XXXXXX") || die "mktemp failed"
DEPOT="$DEPOT_PARENT/depot"
SERVER_PID=

cleanup() {
	if [ -n "$SERVER_PID" ]; then
		kill -TERM "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
	fi
	rm -rf "$DEPOT_PARENT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

scepserver ca -init -depot "$DEPOT" -keySize 2048 >"$DEPOT_PARENT/ca-init.log" 2>&1 ||
	die "scepserver ca -init failed: $(cat "$DEPOT_PARENT/ca-init.log")"

args=(-depot "$DEPOT" -port "$PORT" -challenge "$CHALLENGE" -allowrenew 0 -debug)
if [ -n "${SCEP_TEST_SCEPSERVER_CRTVALID:-}" ]; then
	args+=(-crtvalid "$SCEP_TEST_SCEPSERVER_CRTVALID")
fi
if [ -n "${SCEP_TEST_SCEPSERVER_CSRVERIFIER:-}" ]; then
	args+=(-csrverifierexec "$SCEP_TEST_SCEPSERVER_CSRVERIFIER")
fi

if [ -n "${SCEP_TEST_SCEPSERVER_LOG:-}" ]; then
	scepserver "${args[@]}" >>"$SCEP_TEST_SCEPSERVER_LOG" 2>&1 &
else
	scepserver "${args[@]}" >&2 &
fi
SERVER_PID=$!

# bounded wait (10 s) until GetCACaps answers; plain bash, no curl needed
ready=0
for _ in $(seq 1 100); do
	if ! kill -0 "$SERVER_PID" 2>/dev/null; then
		SERVER_PID=
		die "scepserver exited during start-up"
	fi
	# the braces keep 2>/dev/null from applying to the whole script (exec)
	if { exec 3<>"/dev/tcp/127.0.0.1/$PORT"; } 2>/dev/null; then
		printf 'GET /scep?operation=GetCACaps HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
		reply=$(timeout 2 cat <&3)
		exec 3<&- 3>&-
		case "$reply" in
		"HTTP/1."?" 200"*POSTPKIOperation*)
			ready=1
			break
			;;
		esac
	fi
	sleep 0.1
done
[ "$ready" = 1 ] || die "scepserver did not answer GetCACaps within 10 s"

export SCEP_TEST_SCEPSERVER_URL="http://127.0.0.1:$PORT/scep"
export SCEP_TEST_SCEPSERVER_CHALLENGE="$CHALLENGE"
export SCEP_TEST_SCEPSERVER_DEPOT="$DEPOT"
unset SCEP_NETNS_INSIDE

"$@"
status=$?
exit "$status"
