#!/bin/bash
# bench-enroll.sh: one SCEP enrollment, timed, for scepctl and two peer clients (issue 3 §9)
#
# Usage (as root, Debian 12):
#   tests/bench-enroll.sh [--scepctl PATH] [--scepctl-arg ARG]... [--floor PATH]
#                         [--legacy-shim PATH] [--runs N] [--warmup N] [--csv FILE]
#                         [--clients LIST] [--port N] [--keep-tmp]
#
#   --scepctl PATH      our client (default: $SCEP_TOP_BUILDDIR/agent/scepctl, else
#                       ./build/agent/scepctl); when it is missing the script says
#                       "scepctl not built yet: skipping our column" and measures the peers
#   --scepctl-arg ARG   one more argument for every `scepctl request` (repeatable)
#   --floor PATH        tests/bench-floor-client.c built (default:
#                       $SCEP_TOP_BUILDDIR/tests/bench-floor-client, else
#                       ./build/tests/bench-floor-client): linked like scepctl, returns at once;
#                       measured in every round as client "floor", variant "startup"; when it
#                       is missing the script says so and skips that row
#   --legacy-shim PATH  tests/bench-legacy-provider.c built as a shared module (meson builds
#                       it as <builddir>/tests/bench-legacy-provider.so); certmonger needs it
#   --runs N            measured runs per client and variant (default 7, at least 5)
#   --warmup N          unmeasured rounds first, to warm the page cache (default 1)
#   --csv FILE          raw per-run results (default: bench-enroll.csv in the current directory)
#   --clients LIST      comma-separated subset of: scepctl,scepclient,certmonger (default: all)
#   --port N            scepserver port inside the private namespace (default 18080)
#   --keep-tmp          keep the work directory (logs of every run) and print its path
#
# From meson: meson test -C BUILDDIR --benchmark --suite bench-enroll -v
#
# What it does: re-executes itself in a private network namespace (unshare --net, lo up),
# makes a fresh micromdm CA depot, starts scepserver on 127.0.0.1:PORT (-challenge
# testbed-challenge -allowrenew 0), then runs rounds; each round runs every client in two
# variants, "pregen" (an existing 2048-bit RSA key, made outside the timing: PKCS#8 PEM given
# to scepctl as --key FILE and to certmonger as -k FILE without -g, PKCS#1 PEM for scepclient,
# which reads nothing else) and "keygen" (the client generates a 2048-bit key: scepctl
# --key-size 2048, certmonger -g 2048, scepclient with no key file), interleaved round-robin with the starting client rotated each
# round; the floor program (--floor) runs in the same rotation, once per round. Every run
# enrolls a unique CN and counts as ok only when the certificate exists,
# `openssl verify -CAfile` accepts it against the CA, its subject has that CN, and its public
# key is the key's. Failed runs are counted, never timed as a success.
#
# What is measured, per run:
#   scepctl, scepclient: the client process, under GNU time (peak RSS, its %M) under a small
#     /usr/bin/python3 wrapper (wall time on the monotonic clock, spawn to reap; CPU time
#     user+sys from wait4(), microseconds; both include about 1 ms for GNU time itself); see
#     rusage-run.py below
#   floor: the same wrapper around tests/bench-floor-client, which has scepctl's DT_NEEDED
#     libraries and whose main returns 0 at once: what loading and initialising the library
#     stack costs before scepctl does anything (GnuTLS's implicit global init included). Not a
#     client: scepctl minus floor is what to compare with the peers. Ok when it exits 0.
#   certmonger: one certmonger daemon per run (-s -n on a private dbus-daemon, own requests, CAs
#     and tmp dirs, LD_PRELOAD legacy-provider shim), started and reaped by the same wrapper.
#     At start it refreshes its built-in CAs (SelfSign, IPA, local...) through helpers; the
#     harness waits until it has settled (no child, CPU time still for 0.3 s) before measuring.
#     Wall time = `getcert add-scep-ca` + `getcert request -w` (the SCEP CA fetch starts with the
#     first). CPU time = the daemon plus the helpers it forks and waits for (key generation
#     child, scep-submit) from the settled state to its exit after SIGTERM (wait4 total minus
#     /proc/PID/stat utime+stime+cutime+cstime at the start, so +-1 clock tick). Peak RSS =
#     ru_maxrss over the daemon's whole life, i.e. its largest single process (not a sum), as
#     a resident daemon keeps it. Its getcert -w waits by polling, which shows in its wall time.
#
# Output: the load average at the start and the end (results from a busy machine are not
# comparable), a table of medians (and min-max of wall time) per client and variant on stdout, the
# raw runs in the CSV. Exit status 0 when every run of every measured client succeeded, 1 when
# a run failed or something is missing (said clearly), 2 on a usage error.
#
# Needs (Debian packages): scep, certmonger, dbus-daemon, openssl, python3 (/usr/bin/python3),
# time (GNU time), iproute2, util-linux; building the shim needs libssl-dev. It installs nothing
# itself.

set -u -o pipefail
# everything here talks to loopback in a private namespace: no proxy of the caller's
unset http_proxy https_proxy HTTPS_PROXY all_proxy ALL_PROXY

readonly CHALLENGE=testbed-challenge
readonly PY=/usr/bin/python3

scepctl=""
scepctl_extra=()
floor=""
shim=""
runs=7
warmup=1
csv="bench-enroll.csv"
clients="scepctl,scepclient,certmonger"
port=18080
keep_tmp=0
in_netns=0

usage()
{
	# $1 = exit status
	sed -n '4,27p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit "$1"
}

die()
{
	echo "bench-enroll: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case "$1" in
	--scepctl) scepctl="${2:?--scepctl needs a path}"; shift 2 ;;
	--scepctl-arg) scepctl_extra+=("${2?--scepctl-arg needs an argument}"); shift 2 ;;
	--floor) floor="${2:?--floor needs a path}"; shift 2 ;;
	--legacy-shim) shim="${2:?--legacy-shim needs a path}"; shift 2 ;;
	--runs) runs="${2:?--runs needs a number}"; shift 2 ;;
	--warmup) warmup="${2:?--warmup needs a number}"; shift 2 ;;
	--csv) csv="${2:?--csv needs a file}"; shift 2 ;;
	--clients) clients="${2:?--clients needs a list}"; shift 2 ;;
	--port) port="${2:?--port needs a number}"; shift 2 ;;
	--keep-tmp) keep_tmp=1; shift ;;
	--in-netns) in_netns=1; shift ;;
	-h | --help) usage 0 ;;
	*) echo "bench-enroll: unknown argument: $1" >&2; usage 2 ;;
	esac
done

case "$runs" in '' | *[!0-9]*) echo "bench-enroll: --runs must be a number" >&2; usage 2 ;; esac
case "$warmup" in '' | *[!0-9]*) echo "bench-enroll: --warmup must be a number" >&2; usage 2 ;; esac
case "$port" in '' | *[!0-9]*) echo "bench-enroll: --port must be a number" >&2; usage 2 ;; esac
[ "$runs" -ge 5 ] || { echo "bench-enroll: --runs must be at least 5" >&2; usage 2; }

want_scepctl=0
want_scepclient=0
want_certmonger=0
IFS=, read -r -a client_list <<<"$clients"
for c in "${client_list[@]}"; do
	case "$c" in
	scepctl) want_scepctl=1 ;;
	scepclient) want_scepclient=1 ;;
	certmonger) want_certmonger=1 ;;
	*) echo "bench-enroll: unknown client '$c' (scepctl, scepclient, certmonger)" >&2; usage 2 ;;
	esac
done

if [ -z "$scepctl" ]; then
	if [ -n "${SCEP_TOP_BUILDDIR:-}" ]; then
		scepctl="$SCEP_TOP_BUILDDIR/agent/scepctl"
	else
		scepctl="build/agent/scepctl"
	fi
fi
if [ -z "$floor" ]; then
	if [ -n "${SCEP_TOP_BUILDDIR:-}" ]; then
		floor="$SCEP_TOP_BUILDDIR/tests/bench-floor-client"
	else
		floor="build/tests/bench-floor-client"
	fi
fi

# ---- before entering the namespace: every tool present, paths made absolute ----

if [ "$in_netns" -eq 0 ]; then
	missing=()
	need()
	{
		# $1 = command or absolute path, $2 = Debian package
		if [ "${1#/}" != "$1" ]; then
			[ -x "$1" ] || missing+=("$1 (package $2)")
		else
			command -v "$1" >/dev/null 2>&1 || missing+=("$1 (package $2)")
		fi
	}
	need "$PY" python3
	need /usr/bin/time time
	need openssl openssl
	need unshare util-linux
	need ip iproute2
	need scepserver scep
	[ "$want_scepclient" -eq 1 ] && need scepclient scep
	if [ "$want_certmonger" -eq 1 ]; then
		need /usr/sbin/certmonger certmonger
		need getcert certmonger
		need dbus-daemon dbus-daemon
		[ -f /usr/share/dbus-1/session.conf ] ||
			missing+=("/usr/share/dbus-1/session.conf (package dbus-daemon)")
		if [ -z "$shim" ]; then
			missing+=("the legacy-provider shim for certmonger (build tests/bench-legacy-provider.c; meson needs libssl-dev) - pass --legacy-shim PATH")
		elif [ ! -f "$shim" ]; then
			missing+=("the legacy-provider shim $shim (not built? meson needs libssl-dev)")
		fi
	fi
	if [ "${#missing[@]}" -gt 0 ]; then
		echo "bench-enroll: missing, install it first (nothing is installed by this script):" >&2
		printf '  %s\n' "${missing[@]}" >&2
		exit 1
	fi
	if [ -n "$shim" ]; then
		shim="$(readlink -f "$shim")"
	fi
	if [ "$want_scepctl" -eq 1 ] && [ -x "$scepctl" ]; then
		scepctl="$(readlink -f "$scepctl")"
	fi
	if [ -x "$floor" ]; then
		floor="$(readlink -f "$floor")"
	else
		floor="$(readlink -m "$floor")"
	fi
	csv_dir="$(dirname "$csv")"
	[ -d "$csv_dir" ] || die "directory of --csv does not exist: $csv_dir"
	csv="$(readlink -f "$csv_dir")/$(basename "$csv")"

	unshare_args=(--net)
	# not root: a user namespace gives the capability to configure the new network namespace
	[ "$(id -u)" -eq 0 ] || unshare_args+=(--map-root-user)
	args=(--scepctl "$scepctl" --floor "$floor" --runs "$runs" --warmup "$warmup" --csv "$csv"
		--clients "$clients" --port "$port")
	[ -n "$shim" ] && args+=(--legacy-shim "$shim")
	for a in "${scepctl_extra[@]}"; do
		args+=(--scepctl-arg "$a")
	done
	[ "$keep_tmp" -eq 1 ] && args+=(--keep-tmp)
	# exec keeps the PID, so a SIGTERM from meson reaches the cleanup trap below
	exec unshare "${unshare_args[@]}" -- /bin/bash "$(readlink -f "$0")" --in-netns "${args[@]}"
fi

# ---- inside the private network namespace ----

ip link set lo up || die "cannot bring up lo in the private network namespace"

work="$(mktemp -d /tmp/bench-enroll.XXXXXX)" || die "cannot create a work directory"
server_pid=""
bus_pid=""
daemon_pid_file=""
daemon_wrapper_pid=""

cleanup()
{
	local pid
	if [ -n "$daemon_pid_file" ] && [ -s "$daemon_pid_file" ]; then
		pid="$(cat "$daemon_pid_file")"
		kill -TERM "$pid" 2>/dev/null
	fi
	if [ -n "$daemon_wrapper_pid" ]; then
		wait "$daemon_wrapper_pid" 2>/dev/null
	fi
	for pid in $bus_pid $server_pid; do
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [ "$keep_tmp" -eq 1 ]; then
		echo "bench-enroll: work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# the measuring wrapper: starts `/usr/bin/time -f %M CMD` and reaps it with wait4(); prints
# "exit wall_us cpu_us maxrss_kib" to OUT. Wall time and CPU time (user+sys, children included)
# come from here, with microsecond resolution (GNU time prints only hundredths); peak RSS comes
# from GNU time, because a child spawned by Python inherits Python's 9 MB as its ru_maxrss
# (recorded at exec) while one forked by GNU time starts from about 1 MB. GNU time's own fork and
# exec add about 1 ms of wall and CPU time, the same for every client. A TIMEOUT of 0 means none;
# with a PIDFILE other than "-", the PID of CMD (the child of GNU time) is written to it so that a
# daemon can be stopped by its PID.
cat >"$work/rusage-run.py" <<'EOF'
import os
import signal
import sys
import time

out_path, pid_path, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3])
rss_path = out_path + ".rss"
argv = ["/usr/bin/time", "-q", "-f", "%M", "-o", rss_path] + sys.argv[4:]
timer = None


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def on_alarm(signum, frame):
    for pid in children(timer) or [timer]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


signal.signal(signal.SIGALRM, on_alarm)
t0 = time.monotonic_ns()
timer = os.posix_spawn(argv[0], argv, os.environ)
if timeout > 0:
    signal.alarm(timeout)
if pid_path != "-":
    # GNU time forks CMD at once; give it a second at most
    for _ in range(1000):
        kids = children(timer)
        if kids:
            with open(pid_path, "w") as f:
                f.write(f"{kids[0]}\n")
            break
        time.sleep(0.001)
_, status, ru = os.wait4(timer, 0)
t1 = time.monotonic_ns()
signal.alarm(0)
code = os.waitstatus_to_exitcode(status)
if code < 0:
    code = 128 - code
try:
    with open(rss_path) as f:
        rss = int(f.read().split()[-1])
except (OSError, ValueError, IndexError):
    rss = 0
cpu_us = round((ru.ru_utime + ru.ru_stime) * 1e6)
with open(out_path, "w") as f:
    f.write(f"{code} {(t1 - t0) // 1000} {cpu_us} {rss}\n")
EOF

# the table: medians over the successful runs, min-max of their wall time
cat >"$work/summary.py" <<'EOF'
import csv
import statistics
import sys

rows = list(csv.DictReader(open(sys.argv[1])))
order = sys.argv[2].split(",")
groups = {}
for r in rows:
    groups.setdefault((r["client"], r["variant"]), []).append(r)


def med(values):
    return f"{statistics.median(values):.1f}" if values else "-"


header = ("client", "variant", "ok/total", "wall ms", "CPU ms", "peak RSS KiB", "wall min-max ms")
lines = [header]
medians = {}
for client in order:
    for variant in ("pregen", "keygen", "startup"):
        runs = groups.get((client, variant))
        if not runs:
            continue
        ok = [r for r in runs if r["ok"] == "1"]
        wall = [float(r["wall_ms"]) for r in ok]
        cpu = [float(r["cpu_ms"]) for r in ok]
        rss = [int(r["peak_rss_kib"]) for r in ok]
        span = f"{min(wall):.1f}-{max(wall):.1f}" if wall else "-"
        lines.append((client, variant, f"{len(ok)}/{len(runs)}", med(wall), med(cpu),
                      med(rss).replace(".0", ""), span))
        if ok:
            medians[(client, variant)] = (statistics.median(wall), statistics.median(cpu),
                                          statistics.median(rss))
widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
for n, line in enumerate(lines):
    print("  ".join(cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i])
                    for i, cell in enumerate(line)))
    if n == 0:
        print("  ".join("-" * w for w in widths))
if ("floor", "startup") in medians:
    print("floor: the cost of starting a program linked like scepctl (same libraries) before it "
          "does anything; compare scepctl minus floor with the peers")

# issue 3 §9 target: our medians of wall and CPU at or below the best peer's, RSS under 8 MiB
for variant in ("pregen", "keygen"):
    ours = medians.get(("scepctl", variant))
    peers = [v for (c, var), v in medians.items()
             if var == variant and c not in ("scepctl", "floor")]
    if ours is None or not peers:
        continue
    best_wall = min(p[0] for p in peers)
    best_cpu = min(p[1] for p in peers)
    print(f"target {variant}: wall {ours[0]:.1f} <= {best_wall:.1f} ms: "
          f"{'yes' if ours[0] <= best_wall else 'NO'}; "
          f"CPU {ours[1]:.1f} <= {best_cpu:.1f} ms: {'yes' if ours[1] <= best_cpu else 'NO'}; "
          f"peak RSS {ours[2]:.0f} < 8192 KiB: {'yes' if ours[2] < 8192 else 'NO'}")
EOF

# ---- the CA and scepserver ----

depot="$work/depot"
scepserver ca -init -depot "$depot" -keySize 2048 >"$work/ca-init.log" 2>&1 ||
	die "scepserver ca -init failed: $(cat "$work/ca-init.log")"
ca_pem="$depot/ca.pem"
url="http://127.0.0.1:$port/scep"

scepserver -depot "$depot" -port "$port" -challenge "$CHALLENGE" -allowrenew 0 \
	>"$work/scepserver.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 200); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		break
	fi
	kill -0 "$server_pid" 2>/dev/null || die "scepserver exited: $(cat "$work/scepserver.log")"
	sleep 0.05
done
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || die "scepserver does not listen on port $port"

printf '%s' "$CHALLENGE" >"$work/challenge"
chmod 600 "$work/challenge"

# ---- the private session bus for certmonger ----

if [ "$want_certmonger" -eq 1 ]; then
	# Debian's session.conf without service directories (no D-Bus activation of a second
	# certmonger with default paths) and with a socket in our work directory
	sed -e '/<standard_session_servicedirs/d' -e '/<servicedir>/d' \
		-e "s|<listen>.*</listen>|<listen>unix:path=$work/bus.socket</listen>|" \
		/usr/share/dbus-1/session.conf >"$work/bus.conf"
	dbus-daemon --config-file="$work/bus.conf" --nofork --print-address=3 \
		3>"$work/bus.address" 2>"$work/dbus.log" &
	bus_pid=$!
	for _ in $(seq 1 200); do
		[ -s "$work/bus.address" ] && break
		kill -0 "$bus_pid" 2>/dev/null || die "dbus-daemon exited: $(cat "$work/dbus.log")"
		sleep 0.02
	done
	[ -s "$work/bus.address" ] || die "dbus-daemon gave no address"
	bus_address="$(head -n 1 "$work/bus.address")"
	clk_tck="$(getconf CLK_TCK)"
fi

# ---- one run of each client; each sets run_ok, run_exit, run_wall_us, run_cpu_us, run_rss,
# run_note ----

read_result()
{
	# $1 = result file of rusage-run.py
	if [ -s "$1" ]; then
		read -r run_exit run_wall_us run_cpu_us run_rss <"$1"
	else
		run_exit=255 run_wall_us=0 run_cpu_us=0 run_rss=0
	fi
}

verify_cert()
{
	# $1 = certificate, $2 = key, $3 = CN; sets run_note on failure
	local cert="$1" key="$2" cn="$3" subject cert_pub key_pub
	if [ ! -s "$cert" ]; then
		run_note="no certificate written"
		return 1
	fi
	if ! openssl verify -CAfile "$ca_pem" "$cert" >"$cert.verify" 2>&1; then
		run_note="openssl verify failed: $(tr '\n' ' ' <"$cert.verify")"
		return 1
	fi
	subject="$(openssl x509 -in "$cert" -noout -subject -nameopt RFC2253 2>/dev/null)"
	subject="${subject#subject=}"
	case ",$subject," in
	*",CN=$cn,"*) ;;
	*)
		run_note="subject '$subject' lacks CN=$cn"
		return 1
		;;
	esac
	cert_pub="$(openssl x509 -in "$cert" -noout -pubkey 2>/dev/null)"
	key_pub="$(openssl pkey -in "$key" -pubout 2>/dev/null)"
	if [ -z "$key_pub" ] || [ "$cert_pub" != "$key_pub" ]; then
		run_note="certificate does not carry the public key of $key"
		return 1
	fi
	return 0
}

make_key()
{
	# $1 = file, $2 = pkcs1 (scepclient reads only that) or pkcs8
	if [ "$2" = pkcs1 ]; then
		openssl genrsa -traditional -out "$1" 2048 >/dev/null 2>&1
	else
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" >/dev/null 2>&1
	fi || die "openssl cannot generate a key"
	chmod 600 "$1"
}

run_scepctl()
{
	# $1 = variant, $2 = run directory, $3 = CN
	local variant="$1" dir="$2" cn="$3" key
	local args=(request "$url" --subject "CN=$cn" --challenge-file "$work/challenge"
		--out "$dir/out" "${scepctl_extra[@]}")
	mkdir -p "$dir/out"
	if [ "$variant" = pregen ]; then
		key="$dir/key.pem"
		make_key "$key" pkcs8
		args+=(--key "$key")
	else
		key="$dir/out/key.pem"
		args+=(--key-size 2048)
	fi
	"$PY" "$work/rusage-run.py" "$dir/result" - 120 "$scepctl" "${args[@]}" \
		>"$dir/client.log" 2>&1 </dev/null
	read_result "$dir/result"
	if [ "$run_exit" -ne 0 ]; then
		run_note="scepctl exit $run_exit: $(tail -n 1 "$dir/client.log")"
		return 1
	fi
	verify_cert "$dir/out/cert.pem" "$key" "$cn"
}

run_scepclient()
{
	local variant="$1" dir="$2" cn="$3"
	if [ "$variant" = pregen ]; then
		make_key "$dir/key.pem" pkcs1
	fi
	# a stale self.pem from a failed run makes the next run sign with the wrong key
	rm -f "$dir/self.pem"
	(cd "$dir" && "$PY" "$work/rusage-run.py" "$dir/result" - 120 scepclient \
		-server-url "$url" -challenge "$CHALLENGE" -private-key "$dir/key.pem" \
		-keySize 2048 -certificate "$dir/cert.pem" -cn "$cn" \
		>"$dir/client.log" 2>&1 </dev/null)
	read_result "$dir/result"
	if [ "$run_exit" -ne 0 ]; then
		run_note="scepclient exit $run_exit: $(tail -n 1 "$dir/client.log")"
		return 1
	fi
	verify_cert "$dir/cert.pem" "$dir/key.pem" "$cn"
}

run_floor()
{
	# $1 = variant (startup), $2 = run directory, $3 = CN (unused: it enrolls nothing)
	local dir="$2"
	"$PY" "$work/rusage-run.py" "$dir/result" - 120 "$floor" >"$dir/client.log" 2>&1 </dev/null
	read_result "$dir/result"
	if [ "$run_exit" -ne 0 ]; then
		run_note="floor exit $run_exit: $(tail -n 1 "$dir/client.log")"
		return 1
	fi
	return 0
}

proc_cpu_ticks()
{
	# $1 = PID: utime + stime + cutime + cstime (waited-for children) in clock ticks
	local stat fields
	stat="$(cat "/proc/$1/stat" 2>/dev/null)" || {
		echo 0
		return
	}
	# the command name may hold spaces: split after its closing parenthesis
	read -r -a fields <<<"${stat##*) }"
	echo $((fields[11] + fields[12] + fields[13] + fields[14]))
}

wait_quiet()
{
	# $1 = PID: until it has no child process and its CPU time stays still for 0.3 s (at most
	# 15 s)
	local pid="$1" last now still=0
	last="$(proc_cpu_ticks "$pid")"
	for _ in $(seq 1 150); do
		sleep 0.1
		now="$(proc_cpu_ticks "$pid")"
		if [ "$now" = "$last" ] && [ ! -s "/proc/$pid/task/$pid/children" ]; then
			still=$((still + 1))
			[ "$still" -ge 3 ] && return 0
		else
			still=0
		fi
		last="$now"
	done
	echo "bench-enroll: certmonger $pid did not settle within 15 s" >&2
}

run_certmonger()
{
	local variant="$1" dir="$2" cn="$3" t0 t1 pid rc_add rc_req daemon_wrapper cpu_before_ticks
	local keyopt=(-g 2048)
	mkdir -p "$dir/requests" "$dir/cas" "$dir/tmp" "$dir/home" "$dir/certs"
	if [ "$variant" = pregen ]; then
		make_key "$dir/certs/key.pem" pkcs8
		keyopt=()
	fi
	export DBUS_SESSION_BUS_ADDRESS="$bus_address"
	daemon_pid_file="$dir/daemon.pid"
	HOME="$dir/home" CERTMONGER_REQUESTS_DIR="$dir/requests" CERTMONGER_CAS_DIR="$dir/cas" \
		CERTMONGER_TMPDIR="$dir/tmp" LD_PRELOAD="$shim" \
		"$PY" "$work/rusage-run.py" "$dir/result" "$daemon_pid_file" 0 \
		/usr/sbin/certmonger -s -n -B >"$dir/daemon.log" 2>&1 </dev/null &
	daemon_wrapper=$!
	daemon_wrapper_pid=$daemon_wrapper
	# ready when it answers on the bus
	for _ in $(seq 1 500); do
		HOME="$dir/home" getcert list-cas -s >/dev/null 2>&1 && break
		kill -0 "$daemon_wrapper" 2>/dev/null || break
		sleep 0.01
	done
	pid=""
	[ -s "$daemon_pid_file" ] && pid="$(cat "$daemon_pid_file")"
	# at start it refreshes its built-in CAs (SelfSign, IPA, local...) through helpers, work that
	# has nothing to do with SCEP: let it settle, then count CPU time from here
	cpu_before_ticks=0
	if [ -n "$pid" ]; then
		wait_quiet "$pid"
		cpu_before_ticks="$(proc_cpu_ticks "$pid")"
	fi
	t0=$EPOCHREALTIME
	HOME="$dir/home" getcert add-scep-ca -s -c testbed -u "$url" -N "$ca_pem" \
		>"$dir/getcert.log" 2>&1 </dev/null
	rc_add=$?
	rc_req=255
	if [ "$rc_add" -eq 0 ]; then
		HOME="$dir/home" getcert request -s -c testbed "${keyopt[@]}" -k "$dir/certs/key.pem" \
			-f "$dir/certs/cert.pem" -N "CN=$cn" -L "$CHALLENGE" -I "$cn" \
			-w --wait-timeout 60 >>"$dir/getcert.log" 2>&1 </dev/null
		rc_req=$?
	fi
	t1=$EPOCHREALTIME
	if [ "$rc_req" -ne 0 ]; then
		HOME="$dir/home" getcert list -s -i "$cn" >"$dir/list.log" 2>&1 </dev/null
	fi
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
	wait "$daemon_wrapper"
	daemon_wrapper_pid=""
	daemon_pid_file=""
	unset DBUS_SESSION_BUS_ADDRESS
	read_result "$dir/result"
	[ -n "$pid" ] || run_note="certmonger did not start: $(tail -n 1 "$dir/daemon.log")"
	[ -n "$pid" ] || return 1
	# wall time: the two getcert calls; CPU: the daemon and its helpers from the settled state to
	# its exit; RSS: the largest process of its whole life (see the top)
	run_wall_us=$((${t1/./} - ${t0/./}))
	run_cpu_us=$((run_cpu_us - cpu_before_ticks * 1000000 / clk_tck))
	run_exit=$rc_req
	if [ "$rc_add" -ne 0 ]; then
		run_note="getcert add-scep-ca exit $rc_add: $(tail -n 1 "$dir/getcert.log")"
		return 1
	fi
	if [ "$rc_req" -ne 0 ]; then
		run_note="getcert request exit $rc_req: $(grep -E 'status:|ca-error:' "$dir/list.log" |
			tr -s ' \t\n' ' ')"
		return 1
	fi
	verify_cert "$dir/certs/cert.pem" "$dir/certs/key.pem" "$cn"
}

# ---- the rounds ----

order=()
[ "$want_scepctl" -eq 1 ] && order+=(scepctl)
[ "$want_scepclient" -eq 1 ] && order+=(scepclient)
[ "$want_certmonger" -eq 1 ] && order+=(certmonger)
if [ "$want_scepctl" -eq 1 ] && [ ! -x "$scepctl" ]; then
	echo "bench-enroll: scepctl not built yet: skipping our column ($scepctl does not exist)"
	order=("${order[@]:1}")
fi
[ "${#order[@]}" -gt 0 ] || die "no client left to measure"
# the floor row sits after scepctl's (or first), as a reference, not as a client
if [ -x "$floor" ]; then
	if [ "${order[0]}" = scepctl ]; then
		order=(scepctl floor "${order[@]:1}")
	else
		order=(floor "${order[@]}")
	fi
else
	echo "bench-enroll: floor program not built yet: skipping the floor row ($floor does not exist)"
fi

slots=()
for c in "${order[@]}"; do
	if [ "$c" = floor ]; then
		slots+=("floor:startup")
	else
		slots+=("$c:pregen" "$c:keygen")
	fi
done

echo "client,variant,round,cn,ok,exit,wall_ms,cpu_ms,peak_rss_kib,note" >"$csv"
variants="variants pregen and keygen"
[ -x "$floor" ] && variants="$variants (floor: startup)"
echo "bench-enroll: scepserver $url in a private network namespace; $runs runs (+$warmup warm-up)" \
	"of ${order[*]}, $variants, interleaved"
# other work on the machine inflates wall time (and CPU time, less so): say how busy it was
echo "bench-enroll: $(nproc) CPUs, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
failures=0
total_rounds=$((warmup + runs))
for round in $(seq 1 "$total_rounds"); do
	n=${#slots[@]}
	for k in $(seq 0 $((n - 1))); do
		slot="${slots[$(((k + round) % n))]}"
		client="${slot%%:*}"
		variant="${slot#*:}"
		cn="bench-$client-$variant-$round-$$"
		[ "$client" = floor ] && cn="-"
		dir="$work/runs/$round-$client-$variant"
		mkdir -p "$dir"
		run_note=""
		run_exit=255 run_wall_us=0 run_cpu_us=0 run_rss=0
		if "run_$client" "$variant" "$dir" "$cn"; then
			run_ok=1
		else
			run_ok=0
		fi
		if [ "$round" -le "$warmup" ]; then
			[ "$run_ok" -eq 1 ] ||
				echo "bench-enroll: warm-up $client $variant failed: $run_note" >&2
			continue
		fi
		measured=$((round - warmup))
		if [ "$run_ok" -eq 0 ]; then
			failures=$((failures + 1))
			echo "bench-enroll: run $measured $client $variant failed: $run_note" >&2
		fi
		note="${run_note//\"/\'}"
		printf '%s,%s,%d,%s,%d,%d,%d.%03d,%d.%03d,%d,"%s"\n' "$client" "$variant" "$measured" \
			"$cn" "$run_ok" "$run_exit" $((run_wall_us / 1000)) $((run_wall_us % 1000)) \
			$((run_cpu_us / 1000)) $((run_cpu_us % 1000)) "$run_rss" "$note" >>"$csv"
	done
done

echo "bench-enroll: load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
"$PY" "$work/summary.py" "$csv" "$(
	IFS=,
	echo "${order[*]}"
)" || die "cannot summarise $csv"
echo
echo "bench-enroll: raw runs in $csv"
if [ "$failures" -gt 0 ]; then
	echo "bench-enroll: $failures measured run(s) failed (see the ok column and the CSV notes)" >&2
	exit 1
fi
exit 0
