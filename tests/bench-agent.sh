#!/bin/bash
# bench-agent.sh: the idle scep-agent with 1 and with 1,000 valid instances, and certmonger
# tracking the same certificates, in one run (issue 4 §10)
#
# Usage (as root, Debian 12):
#   tests/bench-agent.sh [--agent PATH] [--floor-daemon PATH] [--instances LIST]
#                        [--idle-seconds N] [--settle-seconds N] [--pushes N] [--key-cache DIR]
#                        [--csv FILE] [--daemons LIST] [--port N] [--push-port N] [--keep-tmp]
#
#   --agent PATH         the daemon (default: $SCEP_TOP_BUILDDIR/agent/scep-agent, else
#                        ./build/agent/scep-agent); when it is missing the script says
#                        "scep-agent not built yet", measures certmonger, and fails
#   --floor-daemon PATH  tests/bench-floor-daemon.c built (default:
#                        $SCEP_TOP_BUILDDIR/tests/bench-floor-daemon, else
#                        ./build/tests/bench-floor-daemon): the smallest GIO daemon, measured
#                        once per run as daemon "gio-floor"; when it is missing the script says
#                        so and skips that row
#   --instances LIST     comma-separated instance counts (default 1,1000)
#   --idle-seconds N     length of the wake-up window (default 60)
#   --settle-seconds N   quiet time before measuring: no new log line, no CPU time, no child
#                        process for N seconds (default 5)
#   --pushes N           registry pushes per agent run (default 7, at least 5)
#   --key-cache DIR      RSA keys made once and reused by later runs (default:
#                        $SCEP_TOP_BUILDDIR/tests/bench-agent-keys, else ./bench-agent-keys)
#   --csv FILE           raw results (default: bench-agent.csv in the current directory)
#   --daemons LIST       subset of agent,certmonger (default both)
#   --port N             scepserver port inside the private namespace (default 18080)
#   --push-port N        port of the push listener (default 18090)
#   --keep-tmp           keep the work directory (logs, registries, straces) and print its path
#
# From meson: meson test -C BUILDDIR --benchmark --suite bench-agent -v
#
# What it does: re-executes itself in a private network namespace (unshare --net, lo up), makes
# a micromdm CA depot and starts scepserver on 127.0.0.1:PORT (the instances' scepurl, so that
# nothing leaves the namespace if the agent talks to its CA), and a private dbus-daemon
# (certmonger needs one; the agent gets its address as --bus). Then N RSA-2048 keys (from the
# key cache) and certificates issued by that CA, valid for a year, CN=benchK.example.test.
# Each daemon run gets a fresh copy of them, and runs alone:
#   agent:      a registry with instances cert0..cert{N-1} (enabled, scepurl, cafingerprint of
#               the CA (SHA-256), crypt_password, subjectaltname = the certificate's CN,
#               cert_file/key_file/chain_file naming the copied files), an
#               empty state directory; `scep-agent --registry-dir R --state-dir S --bus ADDR`
#               with G_DEBUG and MALLOC_CHECK_ unset. Settled = the quiet time above; then the
#               last state each instance logged ("profile certK: OLD -> NEW: reason") must be
#               valid for all N (for an instance that logged nothing: state=7 in its
#               STATE_DIR/certK/state).
#   certmonger: `certmonger -s -n -B` with its own requests/CA/tmp directories, the same CA
#               added (`getcert add-scep-ca -N ca.pem`), and `getcert start-tracking -s -c CA
#               -f cert -k key` per certificate; settled when all N are MONITORING and it has
#               been quiet.
#   gio-floor:  (once per run, whatever --daemons says) tests/bench-floor-daemon, linked with
#               gio-unix-2.0 only: `bench-floor-daemon --bus ADDR --watch DIR` connects to the
#               bus, exports one object with one readable property, owns a well-known name,
#               watches an empty directory and quits on SIGTERM; with G_DEBUG and MALLOC_CHECK_
#               unset; settled = the quiet time above. It has no certificates (0 in the table):
#               its figures are the floor that GLib/GIO impose on any daemon of ours, so that
#               scep-agent minus gio-floor is what our own code costs.
# Measured per run:
#   memory:     /proc/PID/smaps_rollup of the daemon process: USS = Private_Clean +
#               Private_Dirty, both shown, with RSS and PSS for context (KiB). Private_Clean is
#               mostly library code that no other running process maps at that moment, so it
#               varies with what else runs; Private_Dirty is the daemon's own heap and data.
#   wake-ups:   `strace -f -c` attached to every thread for --idle-seconds: the total number
#               of system calls, the blocking waits among them (poll, ppoll, epoll_wait,
#               epoll_pwait, select, pselect6, futex, nanosleep, clock_nanosleep) and the
#               timerfd calls. A call that was already blocked when strace attached is not
#               counted (strace may list it as restart_syscall). "No periodic wake-ups" passes when fewer than 2 blocking waits happened
#               in the window: any timer with a period up to half the window shows at least 2.
#   push delay: (agent only, after the idle window) a listener on 127.0.0.1:PUSH-PORT; a new
#               enabled instance whose scepurl points at it is written to registry.d (temporary
#               file, fsync, rename; T0 just before rename()), and the delay is the arrival of
#               its first HTTP request line (both on CLOCK_MONOTONIC); median over --pushes.
# Targets (issue 4 §10), PASS/FAIL each: USS <= 3 MiB with 1 instance and <= 16 MiB with
# 1,000; no periodic wake-ups when idle; push to first request <= 300 ms (median, every agent
# run). certmonger's and gio-floor's figures are reported for comparison, without targets.
#
# Output: a table on stdout, raw figures in the CSV. Exit status 0 when every target passed,
# 1 when one failed, something could not be measured or is missing (said clearly), 2 on a
# usage error.
#
# Needs (Debian packages): scep, certmonger, dbus-daemon, openssl, python3 (/usr/bin/python3 with
# python3-cryptography), strace, iproute2, util-linux. It installs nothing itself.

set -u -o pipefail
# everything here talks to loopback in a private namespace: no proxy of the caller's
unset http_proxy https_proxy HTTPS_PROXY all_proxy ALL_PROXY

readonly CHALLENGE=testbed-challenge
readonly PY=/usr/bin/python3
readonly USS_TARGET_1_KIB=$((3 * 1024))
readonly USS_TARGET_1000_KIB=$((16 * 1024))
readonly PUSH_TARGET_MS=300

agent=""
floor_daemon=""
instances="1,1000"
idle_seconds=60
settle_seconds=5
pushes=7
key_cache=""
csv="bench-agent.csv"
daemons="agent,certmonger"
port=18080
push_port=18090
keep_tmp=0
in_netns=0

usage()
{
	# $1 = exit status
	sed -n '4,29p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit "$1"
}

die()
{
	echo "bench-agent: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case "$1" in
	--agent) agent="${2:?--agent needs a path}"; shift 2 ;;
	--floor-daemon) floor_daemon="${2:?--floor-daemon needs a path}"; shift 2 ;;
	--instances) instances="${2:?--instances needs a list}"; shift 2 ;;
	--idle-seconds) idle_seconds="${2:?--idle-seconds needs a number}"; shift 2 ;;
	--settle-seconds) settle_seconds="${2:?--settle-seconds needs a number}"; shift 2 ;;
	--pushes) pushes="${2:?--pushes needs a number}"; shift 2 ;;
	--key-cache) key_cache="${2:?--key-cache needs a directory}"; shift 2 ;;
	--csv) csv="${2:?--csv needs a file}"; shift 2 ;;
	--daemons) daemons="${2:?--daemons needs a list}"; shift 2 ;;
	--port) port="${2:?--port needs a number}"; shift 2 ;;
	--push-port) push_port="${2:?--push-port needs a number}"; shift 2 ;;
	--keep-tmp) keep_tmp=1; shift ;;
	--in-netns) in_netns=1; shift ;;
	-h | --help) usage 0 ;;
	*) echo "bench-agent: unknown argument: $1" >&2; usage 2 ;;
	esac
done

for v in "$idle_seconds" "$settle_seconds" "$pushes" "$port" "$push_port"; do
	case "$v" in '' | *[!0-9]*) echo "bench-agent: not a number: '$v'" >&2; usage 2 ;; esac
done
[ "$pushes" -ge 5 ] || { echo "bench-agent: --pushes must be at least 5" >&2; usage 2; }
[ "$idle_seconds" -ge 2 ] || { echo "bench-agent: --idle-seconds must be at least 2" >&2; usage 2; }
IFS=, read -r -a counts <<<"$instances"
for n in "${counts[@]}"; do
	case "$n" in '' | 0 | *[!0-9]*)
		echo "bench-agent: --instances: not a positive number: '$n'" >&2
		usage 2
		;;
	esac
done
want_agent=0
want_certmonger=0
IFS=, read -r -a daemon_list <<<"$daemons"
for d in "${daemon_list[@]}"; do
	case "$d" in
	agent) want_agent=1 ;;
	certmonger) want_certmonger=1 ;;
	*) echo "bench-agent: unknown daemon '$d' (agent, certmonger)" >&2; usage 2 ;;
	esac
done

if [ -z "$agent" ]; then
	if [ -n "${SCEP_TOP_BUILDDIR:-}" ]; then
		agent="$SCEP_TOP_BUILDDIR/agent/scep-agent"
	else
		agent="build/agent/scep-agent"
	fi
fi
if [ -z "$floor_daemon" ]; then
	if [ -n "${SCEP_TOP_BUILDDIR:-}" ]; then
		floor_daemon="$SCEP_TOP_BUILDDIR/tests/bench-floor-daemon"
	else
		floor_daemon="build/tests/bench-floor-daemon"
	fi
fi
if [ -z "$key_cache" ]; then
	if [ -n "${SCEP_TOP_BUILDDIR:-}" ]; then
		key_cache="$SCEP_TOP_BUILDDIR/tests/bench-agent-keys"
	else
		key_cache="bench-agent-keys"
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
	"$PY" -c 'import cryptography' 2>/dev/null ||
		missing+=("python module cryptography for $PY (package python3-cryptography)")
	need openssl openssl
	need unshare util-linux
	need ip iproute2
	need strace strace
	need timeout coreutils
	need scepserver scep
	need dbus-daemon dbus-daemon
	[ -f /usr/share/dbus-1/session.conf ] ||
		missing+=("/usr/share/dbus-1/session.conf (package dbus-daemon)")
	if [ "$want_certmonger" -eq 1 ]; then
		need /usr/sbin/certmonger certmonger
		need getcert certmonger
	fi
	if [ "${#missing[@]}" -gt 0 ]; then
		echo "bench-agent: missing, install it first (nothing is installed by this script):" >&2
		printf '  %s\n' "${missing[@]}" >&2
		exit 1
	fi
	[ "$(id -u)" -eq 0 ] || die "run it as root (private network namespace, strace of daemons)"
	if [ -x "$agent" ]; then
		agent="$(readlink -f "$agent")"
	else
		agent="$(readlink -m "$agent")"
	fi
	if [ -x "$floor_daemon" ]; then
		floor_daemon="$(readlink -f "$floor_daemon")"
	else
		floor_daemon="$(readlink -m "$floor_daemon")"
	fi
	mkdir -p "$key_cache" || die "cannot create the key cache $key_cache"
	key_cache="$(readlink -f "$key_cache")"
	csv_dir="$(dirname "$csv")"
	[ -d "$csv_dir" ] || die "directory of --csv does not exist: $csv_dir"
	csv="$(readlink -f "$csv_dir")/$(basename "$csv")"
	args=(--agent "$agent" --floor-daemon "$floor_daemon" --instances "$instances" --idle-seconds "$idle_seconds"
		--settle-seconds "$settle_seconds" --pushes "$pushes" --key-cache "$key_cache"
		--csv "$csv" --daemons "$daemons" --port "$port" --push-port "$push_port")
	[ "$keep_tmp" -eq 1 ] && args+=(--keep-tmp)
	# exec keeps the PID, so a SIGTERM from meson reaches the cleanup trap below
	exec unshare --net -- /bin/bash "$(readlink -f "$0")" --in-netns "${args[@]}"
fi

# ---- inside the private network namespace ----

ip link set lo up || die "cannot bring up lo in the private network namespace"

helper="$(dirname "$(readlink -f "$0")")/bench-agent-helper.py"
[ -f "$helper" ] || die "missing $helper"
work="$(mktemp -d /tmp/bench-agent.XXXXXX)" || die "cannot create a work directory"
server_pid=""
bus_pid=""
daemon_pid=""
strace_pid=""

stop_pid()
{
	# $1 = PID of a child of this shell: SIGTERM, up to 10 s, then SIGKILL; sets stop_status
	local pid="$1" i killed=0 rc
	stop_status=""
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		killed=1
	fi
	wait "$pid" 2>/dev/null
	rc=$?
	if [ "$killed" -eq 1 ]; then
		stop_status="killed"
	else
		stop_status="$rc"
	fi
}

stop_daemon()
{
	# stops $daemon_pid (stop_pid) and says how in exit_text, for the table
	stop_pid "$daemon_pid"
	daemon_pid=""
	case "$stop_status" in
	0) exit_text="SIGTERM: exit 0" ;;
	killed) exit_text="SIGTERM ignored for 10 s: killed" ;;
	*) exit_text="SIGTERM: exit $stop_status" ;;
	esac
}

cleanup()
{
	local pid
	for pid in $strace_pid $daemon_pid $bus_pid $server_pid; do
		stop_pid "$pid"
	done
	if [ "$keep_tmp" -eq 1 ]; then
		echo "bench-agent: work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

clk_tck="$(getconf CLK_TCK)"

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

wait_settled()
{
	# $1 = PID, $2 = log file, $3 = the longest wait in seconds: until the log has not grown, the
	# CPU time has not moved and there was no child process for $settle_seconds; returns 1 on
	# timeout or when the process is gone
	local pid="$1" log="$2" limit="$3" last_cpu now_cpu last_size now_size still=0 need i
	need=$((settle_seconds * 10))
	last_cpu="$(proc_cpu_ticks "$pid")"
	last_size="$(stat -c %s "$log" 2>/dev/null || echo 0)"
	for i in $(seq 1 $((limit * 10))); do
		sleep 0.1
		kill -0 "$pid" 2>/dev/null || return 1
		now_cpu="$(proc_cpu_ticks "$pid")"
		now_size="$(stat -c %s "$log" 2>/dev/null || echo 0)"
		if [ "$now_cpu" = "$last_cpu" ] && [ "$now_size" = "$last_size" ] &&
			[ -z "$(cat /proc/"$pid"/task/*/children 2>/dev/null)" ]; then
			still=$((still + 1))
			[ "$still" -ge "$need" ] && return 0
		else
			still=0
		fi
		last_cpu="$now_cpu"
		last_size="$now_size"
	done
	return 1
}

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
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	kill -0 "$server_pid" 2>/dev/null || die "scepserver exited: $(cat "$work/scepserver.log")"
	sleep 0.05
done
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || die "scepserver does not listen on port $port"
printf '%s' "$CHALLENGE" >"$work/challenge"
chmod 600 "$work/challenge"

# ---- a private session bus (Debian's session.conf without service directories, so that nothing
# is D-Bus-activated with default paths) ----

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

# ---- keys and certificates ----

max_count=0
for n in "${counts[@]}"; do
	[ "$n" -gt "$max_count" ] && max_count="$n"
done
echo "bench-agent: $max_count certificates from the CA of scepserver $url (private namespace)"
"$PY" "$helper" certs --ca-cert "$ca_pem" --ca-key "$depot/ca.key" --out "$work/certs" \
	--count "$max_count" --key-cache "$key_cache" || die "cannot make the certificates"

copy_certs()
{
	# $1 = count, $2 = destination: a fresh copy of cert0..cert{$1-1}
	local k
	mkdir -p "$2"
	for k in $(seq 0 $(($1 - 1))); do
		cp -a "$work/certs/cert$k" "$2/" || return 1
	done
}

# ---- measuring ----

measure_memory()
{
	# $1 = PID; sets mem_rss mem_pss mem_uss mem_clean mem_dirty (KiB)
	read -r mem_rss mem_pss mem_uss mem_clean mem_dirty < <("$PY" "$helper" memory "$1") ||
		mem_rss="" mem_pss="" mem_uss="" mem_clean="" mem_dirty=""
}

library_sharers()
{
	# $1 = PID; prints "PID:name" of the other processes that map the daemon's big libraries:
	# pages they map too count as shared, not in the daemon's USS (Private_Clean shrinks), so
	# a USS measured beside them is not the USS of the daemon alone
	local pid="$1" f p out=()
	for f in /proc/[0-9]*/maps; do
		p=${f#/proc/}
		p=${p%/maps}
		[ "$p" = "$pid" ] || [ "$p" = "$$" ] || [ "$p" = "$BASHPID" ] && continue
		if grep -qE 'libgio-2\.0\.so|libgnutls\.so|libsoup-3\.0\.so' "$f" 2>/dev/null; then
			out+=("$p:$(cat "/proc/$p/comm" 2>/dev/null)")
		fi
	done
	echo "${out[*]}"
}

note_sharers()
{
	# $1 = PID, $2 = label
	local sharers
	sharers="$(library_sharers "$1")"
	if [ -n "$sharers" ]; then
		echo "bench-agent: NOTE $2: other processes map libgio/libgnutls/libsoup, so their pages do not count in its USS: $sharers"
	else
		echo "bench-agent: $2: no other process maps libgio/libgnutls/libsoup (USS of the daemon alone)"
	fi
}

measure_wakeups()
{
	# $1 = PID, $2 = output file; sets sys_total sys_waits sys_timerfd sys_detail
	local pid="$1" out="$2" tids=() t
	for t in /proc/"$pid"/task/*; do
		tids+=(-p "${t##*/}")
	done
	timeout -s INT "$idle_seconds" strace -f -c -o "$out" "${tids[@]}" 2>"$out.err" &
	strace_pid=$!
	wait "$strace_pid"
	strace_pid=""
	# the summary table: "% time seconds usecs/call calls [errors] syscall", then "total"
	read -r sys_total sys_waits sys_timerfd sys_detail < <(awk '
		$NF == "total" { next }
		$1 ~ /^[0-9.]+$/ && NF >= 5 {
			calls = $4; name = $NF
			# a call that was blocked when strace attached comes back as restart_syscall:
			# listed, not counted
			if (name != "restart_syscall") total += calls
			if (name ~ /^(poll|ppoll|epoll_wait|epoll_pwait|epoll_pwait2|select|pselect6|futex|nanosleep|clock_nanosleep)$/)
				waits += calls
			if (name ~ /^timerfd/) timerfd += calls
			detail = detail (detail == "" ? "" : ",") name "=" calls
		}
		END { printf "%d %d %d %s\n", total, waits, timerfd, (detail == "" ? "none" : detail) }
	' "$out")
	if ! grep -q 'attached' "$out.err"; then
		sys_detail="strace did not attach: $(tr '\n' ' ' <"$out.err")"
		sys_total="" sys_waits="" sys_timerfd=""
	fi
}

echo "daemon,instances,settled,valid,rss_kib,pss_kib,uss_kib,private_clean_kib,private_dirty_kib,threads,idle_s,syscalls,waits,timerfd,syscall_detail,push_median_ms,push_min_ms,push_max_ms,push_ok,exit" >"$csv"
push_csv="${csv%.csv}-pushes.csv"
echo "label,push,instance,delay_ms" >"$push_csv"
rows=()
results=()
verdicts=()
failures=0

record()
{
	# one CSV line and one table row from the run's variables
	local push_text="-"
	[ -n "$push_median" ] && push_text="$push_median ($push_min-$push_max, $push_ok)"
	[ -z "$push_median" ] && [ -n "$push_ok" ] && push_text="none ($push_ok)"
	echo "$1,$2,$settled,$valid,$mem_rss,$mem_pss,$mem_uss,$mem_clean,$mem_dirty,$threads,$idle_seconds,$sys_total,$sys_waits,$sys_timerfd,\"$sys_detail\",$push_median,$push_min,$push_max,$push_ok,$exit_text" >>"$csv"
	rows+=("$1|$2|$valid|$mem_uss|$mem_clean|$mem_dirty|$mem_rss|$mem_pss|$threads|$sys_total|$sys_waits|$sys_timerfd|$push_text|$exit_text")
	results+=("$1 $2: syscalls in ${idle_seconds} s: $sys_detail")
}

reset_run()
{
	settled="no" valid="-" mem_rss="" mem_pss="" mem_uss="" mem_clean="" mem_dirty="" threads=""
	sys_total="" sys_waits="" sys_timerfd="" sys_detail="" push_median="" push_min=""
	push_max="" push_ok="" exit_text=""
}

run_agent()
{
	# $1 = instance count
	local n="$1" dir limit log k last_states state
	dir="$work/agent-$n"
	reset_run
	mkdir -p "$dir/registry" "$dir/state"
	copy_certs "$n" "$dir/certs" || die "cannot copy the certificates"
	"$PY" "$helper" registry --out "$dir/registry/registry" --certs "$dir/certs" --count "$n" \
		--url "$url" --challenge-file "$work/challenge" --ca-cert "$ca_pem" ||
		die "cannot write the registry"
	log="$dir/agent.log"
	echo "bench-agent: scep-agent with $n instance(s): starting"
	env -u G_DEBUG -u MALLOC_CHECK_ -u G_MESSAGES_DEBUG \
		"$agent" --registry-dir "$dir/registry" --state-dir "$dir/state" --bus "$bus_address" \
		>"$log" 2>&1 </dev/null &
	daemon_pid=$!
	limit=$((60 + n / 5))
	if wait_settled "$daemon_pid" "$log" "$limit"; then
		settled="yes"
	elif ! kill -0 "$daemon_pid" 2>/dev/null; then
		wait "$daemon_pid"
		exit_text="exited $? before settling: $(tail -n 1 "$log" | tr ',' ';')"
		daemon_pid=""
		echo "bench-agent: scep-agent with $n instance(s) $exit_text" >&2
		record agent "$n"
		failures=$((failures + 1))
		return
	else
		settled="no (still busy after $limit s)"
	fi
	# the last state each instance logged ("profile certK: OLD -> NEW: reason"); for an instance
	# that logged none, the state persisted in STATE_DIR/certK/state (VALID = 7)
	last_states="$(sed -n 's/.*profile \(cert[0-9]*\): [^>]*-> \([^:]*\):.*/\1 \2/p' "$log" |
		awk '{ last[$1] = tolower($2) } END { for (i in last) print i, last[i] }')"
	valid=0
	for k in $(seq 0 $((n - 1))); do
		state="$(awk -v i="cert$k" '$1 == i { print $2 }' <<<"$last_states")"
		if [ -z "$state" ] && [ -f "$dir/state/cert$k/state" ]; then
			[ "$(sed -n 's/^state=//p' "$dir/state/cert$k/state")" = 7 ] && state=valid
		fi
		[ "$state" = valid ] && valid=$((valid + 1))
	done
	valid="$valid/$n"
	threads="$(awk '/^Threads:/ { print $2 }' "/proc/$daemon_pid/status")"
	measure_memory "$daemon_pid"
	note_sharers "$daemon_pid" "scep-agent with $n instance(s)"
	echo "bench-agent: scep-agent with $n instance(s): settled=$settled valid=$valid USS=$mem_uss KiB; $idle_seconds idle seconds under strace"
	measure_wakeups "$daemon_pid" "$dir/strace.txt"
	echo "bench-agent: scep-agent with $n instance(s): $pushes registry pushes"
	"$PY" "$helper" push --registry-dir "$dir/registry" --port "$push_port" --pushes "$pushes" \
		--first "$n" --certs-dir "$dir/certs" --challenge-file "$work/challenge" --ca-cert "$ca_pem" \
		--csv "$push_csv" --label "agent-$n" >"$dir/push.log" 2>&1
	sed 's/^/  /' "$dir/push.log"
	read -r _ push_median _ push_min _ push_max _ push_ok < <(grep '^median' "$dir/push.log")
	[ "${push_median:-}" = "-" ] && push_median=""
	kill -0 "$daemon_pid" 2>/dev/null || {
		wait "$daemon_pid"
		exit_text="died during the run (status $?): $(tail -n 1 "$log" | tr ',' ';')"
		daemon_pid=""
		failures=$((failures + 1))
		record agent "$n"
		return
	}
	stop_daemon
	record agent "$n"
}

run_certmonger()
{
	# $1 = certificate count
	local n="$1" dir k limit monitoring log
	dir="$work/certmonger-$n"
	reset_run
	push_ok=""
	mkdir -p "$dir/requests" "$dir/cas" "$dir/tmp" "$dir/home"
	copy_certs "$n" "$dir/certs" || die "cannot copy the certificates"
	log="$dir/certmonger.log"
	export DBUS_SESSION_BUS_ADDRESS="$bus_address"
	echo "bench-agent: certmonger with $n certificate(s): starting"
	HOME="$dir/home" CERTMONGER_REQUESTS_DIR="$dir/requests" CERTMONGER_CAS_DIR="$dir/cas" \
		CERTMONGER_TMPDIR="$dir/tmp" env -u G_DEBUG -u MALLOC_CHECK_ \
		/usr/sbin/certmonger -s -n -B >"$log" 2>&1 </dev/null &
	daemon_pid=$!
	for _ in $(seq 1 500); do
		HOME="$dir/home" getcert list-cas -s >/dev/null 2>&1 && break
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.01
	done
	if ! kill -0 "$daemon_pid" 2>/dev/null; then
		wait "$daemon_pid"
		exit_text="certmonger exited $?: $(tail -n 1 "$log" | tr ',' ';')"
		daemon_pid=""
		unset DBUS_SESSION_BUS_ADDRESS
		failures=$((failures + 1))
		record certmonger "$n"
		return
	fi
	HOME="$dir/home" getcert add-scep-ca -s -c bench -u "$url" -N "$ca_pem" \
		>>"$dir/getcert.log" 2>&1 </dev/null ||
		echo "bench-agent: getcert add-scep-ca failed: $(tail -n 1 "$dir/getcert.log")" >&2
	for k in $(seq 0 $((n - 1))); do
		HOME="$dir/home" getcert start-tracking -s -c bench -I "bench$k" \
			-f "$dir/certs/cert$k/cert.pem" -k "$dir/certs/cert$k/key.pem" \
			>>"$dir/getcert.log" 2>&1 </dev/null ||
			echo "bench-agent: getcert start-tracking bench$k failed: $(tail -n 1 "$dir/getcert.log")" >&2
	done
	limit=$((60 + n / 5))
	monitoring=0
	for _ in $(seq 1 "$limit"); do
		monitoring="$(HOME="$dir/home" getcert list -s 2>/dev/null | grep -c 'status: MONITORING')"
		[ "$monitoring" -ge "$n" ] && break
		sleep 1
	done
	valid="$monitoring/$n"
	if wait_settled "$daemon_pid" "$log" "$limit"; then
		settled="yes"
	else
		settled="no (still busy after $limit s)"
	fi
	threads="$(awk '/^Threads:/ { print $2 }' "/proc/$daemon_pid/status")"
	measure_memory "$daemon_pid"
	note_sharers "$daemon_pid" "certmonger with $n certificate(s)"
	echo "bench-agent: certmonger with $n certificate(s): settled=$settled monitoring=$valid USS=$mem_uss KiB; $idle_seconds idle seconds under strace"
	measure_wakeups "$daemon_pid" "$dir/strace.txt"
	stop_daemon
	unset DBUS_SESSION_BUS_ADDRESS
	record certmonger "$n"
}

run_floor_daemon()
{
	# the smallest GIO daemon, alone on the same bus: no certificates, no pushes
	local dir="$work/gio-floor" log
	reset_run
	mkdir -p "$dir/watch"
	log="$dir/floor.log"
	echo "bench-agent: gio-floor: starting"
	env -u G_DEBUG -u MALLOC_CHECK_ -u G_MESSAGES_DEBUG \
		"$floor_daemon" --bus "$bus_address" --watch "$dir/watch" >"$log" 2>&1 </dev/null &
	daemon_pid=$!
	if wait_settled "$daemon_pid" "$log" 60; then
		settled="yes"
	elif ! kill -0 "$daemon_pid" 2>/dev/null; then
		wait "$daemon_pid"
		exit_text="exited $? before settling: $(tail -n 1 "$log" | tr ',' ';')"
		daemon_pid=""
		echo "bench-agent: gio-floor $exit_text" >&2
		record gio-floor 0
		failures=$((failures + 1))
		return
	else
		settled="no (still busy after 60 s)"
	fi
	threads="$(awk '/^Threads:/ { print $2 }' "/proc/$daemon_pid/status")"
	measure_memory "$daemon_pid"
	note_sharers "$daemon_pid" "gio-floor"
	echo "bench-agent: gio-floor: settled=$settled USS=$mem_uss KiB; $idle_seconds idle seconds under strace"
	measure_wakeups "$daemon_pid" "$dir/strace.txt"
	stop_daemon
	record gio-floor 0
}

agent_missing=0
if [ "$want_agent" -eq 1 ]; then
	if [ -x "$agent" ]; then
		for n in "${counts[@]}"; do
			run_agent "$n"
		done
	else
		agent_missing=1
		echo "bench-agent: scep-agent not built yet: no figures for our column ($agent does not exist)"
	fi
fi
if [ -x "$floor_daemon" ]; then
	run_floor_daemon
else
	echo "bench-agent: floor daemon not built yet: skipping the gio-floor row ($floor_daemon does not exist)"
fi
if [ "$want_certmonger" -eq 1 ]; then
	for n in "${counts[@]}"; do
		run_certmonger "$n"
	done
fi

# ---- the table and the targets ----

echo
{
	echo "daemon|instances|valid|USS KiB|Priv_Clean|Priv_Dirty|RSS KiB|PSS KiB|threads|syscalls/${idle_seconds}s|waits|timerfd|push->request ms median (min-max, ok)|shutdown"
	for r in "${rows[@]}"; do
		echo "$r"
	done
} | awk -F'|' '
	{ for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR; nf = NF }
	END {
		for (r = 1; r <= n; r++) {
			line = ""
			for (i = 1; i <= nf; i++)
				line = line (i > 1 ? "  " : "") sprintf(i <= 2 || i >= 13 ? "%-" w[i] "s" : "%" w[i] "s", cell[r, i])
			print line
			if (r == 1) {
				line = ""
				for (i = 1; i <= nf; i++) { d = ""; for (j = 0; j < w[i]; j++) d = d "-"; line = line (i > 1 ? "  " : "") d }
				print line
			}
		}
	}'
for r in "${rows[@]}"; do
	if [ "${r%%|*}" = gio-floor ]; then
		echo "gio-floor: the USS of the smallest GIO daemon (bus name, one object, a directory monitor, SIGTERM) before it does anything; compare scep-agent minus gio-floor with the target"
		break
	fi
done
echo
for r in "${results[@]}"; do
	echo "  $r"
done
echo

verdict()
{
	# $1 = PASS|FAIL, $2 = text
	echo "target: $2: $1"
	[ "$1" = PASS ] || failures=$((failures + 1))
}

if [ "$want_agent" -eq 1 ]; then
	if [ "$agent_missing" -eq 1 ]; then
		verdict FAIL "every scep-agent target (scep-agent not built yet)"
	fi
	for r in "${rows[@]}"; do
		IFS='|' read -r d n v uss _ _ _ _ _ total waits _ push _ <<<"$r"
		[ "$d" = agent ] || continue
		case "$n" in
		1) limit_kib=$USS_TARGET_1_KIB ;;
		1000) limit_kib=$USS_TARGET_1000_KIB ;;
		*) limit_kib="" ;;
		esac
		if [ -n "$limit_kib" ]; then
			if [ -z "$uss" ]; then
				verdict FAIL "USS with $n instance(s) <= $((limit_kib / 1024)) MiB (not measured)"
			elif [ "$v" != "$n/$n" ]; then
				verdict FAIL "USS with $n instance(s) <= $((limit_kib / 1024)) MiB ($uss KiB, but only $v instances valid)"
			elif [ "$uss" -le "$limit_kib" ]; then
				verdict PASS "USS with $n instance(s) <= $((limit_kib / 1024)) MiB ($uss KiB)"
			else
				verdict FAIL "USS with $n instance(s) <= $((limit_kib / 1024)) MiB ($uss KiB)"
			fi
		fi
		if [ -z "$waits" ]; then
			verdict FAIL "no periodic wake-ups with $n instance(s) (not measured)"
		elif [ "$waits" -lt 2 ]; then
			verdict PASS "no periodic wake-ups with $n instance(s) ($waits blocking waits, $total syscalls in $idle_seconds s)"
		else
			verdict FAIL "no periodic wake-ups with $n instance(s) ($waits blocking waits, $total syscalls in $idle_seconds s)"
		fi
		push_ms="${push%% *}"
		if [ "$push" = "-" ] || [ "$push_ms" = none ]; then
			verdict FAIL "push to first request <= $PUSH_TARGET_MS ms with $n instance(s) (no request seen: $push)"
		elif awk -v m="$push_ms" -v t="$PUSH_TARGET_MS" 'BEGIN { exit !(m <= t) }'; then
			verdict PASS "push to first request <= $PUSH_TARGET_MS ms with $n instance(s) (median $push_ms ms)"
		else
			verdict FAIL "push to first request <= $PUSH_TARGET_MS ms with $n instance(s) (median $push_ms ms)"
		fi
	done
fi
echo
echo "bench-agent: raw figures in $csv and $push_csv"
[ "$failures" -eq 0 ] || exit 1
exit 0
