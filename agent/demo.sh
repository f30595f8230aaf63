#!/bin/bash
# The main job, end to end, against an embedded default CA:
#   agent/demo.sh [OUTDIR]
# On a fresh Debian 12 machine (as root) it installs what is missing, builds,
# starts Debian's micromdm scepserver as a local SCEP CA inside a private
# network namespace, and enrolls a certificate with scepctl step by step:
# capabilities, CA certificate and its fingerprint, key generation, PKCSReq,
# the issued certificate checked with openssl. The key, certificate and chain
# stay in OUTDIR (default: a new directory under /tmp, printed at the end);
# everything started is stopped.
#
# This drives the protocol engine through scepctl. The daemon with its
# registry-driven lifecycle and renewals comes with the agent issue and will
# take over this script.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ "${SCEP_DEMO_IN_NETNS:-}" != "1" ]; then
    bash tests/install-deps.sh || exit 2
    [ -d build ] || meson setup build >/dev/null || exit 2
    ninja -C build >/dev/null || { ninja -C build; exit 2; }
    out=${1:-$(mktemp -d /tmp/scep-agent-demo.XXXXXX)}
    mkdir -p "$out" || exit 2
    out=$(cd "$out" && pwd)
    if [ "$(id -u)" -ne 0 ]; then
        echo "agent/demo.sh needs root: scepserver listens on every interface, so it runs in a private network namespace" >&2
        exit 2
    fi
    SCEP_DEMO_IN_NETNS=1 exec unshare --net "$0" "$out"
fi

out=$1
ip link set lo up || exit 2
work=$(mktemp -d /tmp/scep-agent-demo-ca.XXXXXX)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "starting a local SCEP CA (micromdm scepserver) on 127.0.0.1:18080 in a private network namespace"
scepserver ca -init -depot "$work/depot" -keySize 2048 -organization "scep-agent demo" >/dev/null 2>&1 || exit 1
scepserver -depot "$work/depot" -port 18080 -challenge demo-challenge -allowrenew 0 >"$work/server.log" 2>&1 &
server_pid=$!
url=http://127.0.0.1:18080/scep
scepctl=build/agent/scepctl
for _ in $(seq 100); do
    "$scepctl" getcaps "$url" >/dev/null 2>&1 && break
    sleep 0.1
done

step "GetCACaps"
"$scepctl" getcaps "$url" || exit 1

step "GetCACert: the CA certificate, its role and fingerprints"
"$scepctl" getca "$url" --out "$out" || exit 1
fp=$(openssl x509 -in "$out/ca.pem" -noout -fingerprint -sha256 | cut -d= -f2)

step "enrolling CN=demo-thin-client with a fresh RSA-2048 key, pinned to SHA-256 $fp"
printf 'demo-challenge' >"$work/challenge"
G_MESSAGES_DEBUG=scep-ndes "$scepctl" request "$url" --subject "CN=demo-thin-client,O=scep-agent demo" \
    --san dns:demo-thin-client.example --key-size 2048 \
    --fingerprint "sha256:$fp" --challenge-file "$work/challenge" --out "$out" || exit 1

step "the enrolled certificate"
openssl x509 -in "$out/cert.pem" -noout -subject -issuer -serial -dates -ext subjectAltName,keyUsage,extendedKeyUsage
openssl verify -CAfile "$out/ca.pem" "$out/cert.pem" || exit 1
ls -l "$out"
printf '\nkey, certificate and chain are in %s\n' "$out"
