#!/bin/bash
# The main job, end to end:  agent/demo.sh [OUTDIR]
#
# On a fresh Debian 12 machine (as root) it installs what is missing, builds, starts Debian's
# micromdm scepserver as a local SCEP CA inside a private network namespace (it listens on every
# interface), writes a demo registry with two certificate instances that use different renewal
# methods (cert0: Renewal, cert1: Start-over), starts the scep-agent daemon on it and prints, live,
# every state transition the agent logs while it enrolls both certificates. Then the thin client
# is "switched off for 13 hours": the agent is stopped and started again with its clock 13 hours
# ahead (SCEP_AGENT_TIME_OFFSET; the CA issues 1-day certificates and the registry asks for
# renewal at 50 % of the lifetime), and both certificates are renewed, each by its own method.
# The keys, certificates and chains stay in OUTDIR (default: a new directory under /tmp, printed
# at the end); everything started is stopped. Takes well under a minute.
set -u
# everything here talks to loopback in a private namespace: no proxy of the caller's
unset http_proxy https_proxy HTTPS_PROXY all_proxy ALL_PROXY
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
# the build directory (default: build)
builddir=${SCEP_DEMO_BUILDDIR:-build}
export SCEP_DEMO_BUILDDIR=$builddir

if [ "${SCEP_DEMO_IN_NETNS:-}" != "1" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "agent/demo.sh needs root: scepserver listens on every interface, so it runs in a private network namespace" >&2
        exit 2
    fi
    bash tests/install-deps.sh || exit 2
    [ -d "$builddir" ] || meson setup "$builddir" >/dev/null || exit 2
    ninja -C "$builddir" >/dev/null || { ninja -C "$builddir"; exit 2; }
    out=${1:-$(mktemp -d /tmp/scep-agent-demo.XXXXXX)}
    mkdir -p "$out" || exit 2
    out=$(cd "$out" && pwd)
    SCEP_DEMO_IN_NETNS=1 exec unshare --net "$0" "$out"
fi

out=$1
ip link set lo up || exit 2
work=$(mktemp -d /tmp/scep-agent-demo-work.XXXXXX)
server_pid=
agent_pid=
tail_pid=
cleanup() {
    [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
    [ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null && wait "$tail_pid" 2>/dev/null
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
agent=$builddir/agent/scep-agent
registry=$work/registry
state=$work/state
log=$work/agent.log

step "starting a local SCEP CA (micromdm scepserver, 1-day certificates) on 127.0.0.1:18080 in a private network namespace"
scepserver ca -init -depot "$work/depot" -keySize 2048 -organization "scep-agent demo" >/dev/null 2>&1 || exit 1
scepserver -depot "$work/depot" -port 18080 -challenge demo-challenge -allowrenew 0 -crtvalid 1 \
    >"$work/server.log" 2>&1 &
server_pid=$!
url=http://127.0.0.1:18080/scep
for _ in $(seq 100); do
    "$builddir/agent/scepctl" getcaps "$url" >/dev/null 2>&1 && break
    sleep 0.1
done
fp=$(openssl x509 -in "$work/depot/ca.pem" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d :)
echo "CA certificate SHA-256 $fp (pinned in the registry)"

step "writing the demo registry: cert0 renews by Renewal, cert1 by Start-over"
mkdir -p "$registry" "$out/cert0" "$out/cert1"
{
    for n in 0 1; do
        p=network.scepclient.cert$n
        echo "$p.enabled=true"
        echo "$p.scepurl=$url"
        echo "$p.crypt_password=demo-challenge"
        echo "$p.cafingerprint=$fp"
        echo "$p.cafingerprint_hash=sha256"
        echo "$p.subjectaltname_type=DNS name"
        echo "$p.subjectaltname=demo-thin-client-$n.example"
        echo "$p.organization=scep-agent demo"
        echo "$p.renewal_period=1"
        echo "$p.renewal_threshold_percent=50"
        echo "$p.cert_file=$out/cert$n/cert.pem"
        echo "$p.key_file=$out/cert$n/key.pem"
        echo "$p.chain_file=$out/cert$n/chain.pem"
    done
    echo "network.scepclient.cert0.renewal_method=Renewal"
    echo "network.scepclient.cert1.renewal_method=Start-over"
} >"$registry/registry"
sed 's/crypt_password=.*/crypt_password=(secret)/' "$registry/registry"

: >"$log"
tail -n +1 -F "$log" 2>/dev/null | grep --line-buffered -E "profile cert[0-9]+: [a-z-]+ -> |engine:" &
tail_pid=$!

# how many times each instance entered "valid" from another state (a re-plan logs valid -> valid)
valid_count() { grep -E "profile cert$1: [a-z-]+ -> valid" "$log" | grep -vc "valid -> valid"; }
wait_valid() {
    for _ in $(seq 400); do
        [ "$(valid_count 0)" -ge "$1" ] && [ "$(valid_count 1)" -ge "$1" ] && return 0
        if ! kill -0 "$agent_pid" 2>/dev/null; then echo "scep-agent died" >&2; return 1; fi
        sleep 0.1
    done
    echo "timed out" >&2
    return 1
}

step "starting scep-agent: both instances are enrolled (state by state)"
"$agent" --registry-dir "$registry" --state-dir "$state" 2>>"$log" &
agent_pid=$!
wait_valid 1 || exit 1
sleep 0.3
for n in 0 1; do
    printf 'cert%s: ' "$n"
    openssl x509 -in "$out/cert$n/cert.pem" -noout -serial -enddate | tr '\n' ' '
    echo
done

step "the thin client is switched off for 13 hours: SIGTERM, then the agent restarts 13 h later"
kill -TERM "$agent_pid"; wait "$agent_pid"; agent_pid=
SCEP_AGENT_TIME_OFFSET=46800 "$agent" --registry-dir "$registry" --state-dir "$state" 2>>"$log" &
agent_pid=$!
wait_valid 2 || exit 1
sleep 0.3
kill -TERM "$agent_pid"; wait "$agent_pid"; agent_pid=
sleep 0.2

step "the requests sent: two enrollments, then cert0 renewed with a request signed by its old certificate, cert1 started over"
grep -E "submitting: " "$log" | sed 's/^.*profile/profile/'
echo "(the CA dates certificates by its own clock, 13 h behind the agent's, so the renewed"
echo " certificates are past their renewal point too: the agent waits retry_interval instead"
echo " of renewing in a loop)"
for n in 0 1; do
    echo "--- cert$n"
    openssl x509 -in "$out/cert$n/cert.pem" -noout -subject -serial -dates
    openssl verify -CAfile "$work/depot/ca.pem" "$out/cert$n/cert.pem" || exit 1
    ls -l "$out/cert$n"
done
printf '\nkeys, certificates and chains are in %s\n' "$out"
