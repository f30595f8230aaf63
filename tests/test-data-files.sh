#!/bin/bash
# The data files of scep-agent are valid and do what they claim (TAP output):
#  - the D-Bus interface XML: well-formed, accepted by gdbus-codegen, parsed by GDBus
#    (g_dbus_node_info_new_for_xml, in data-files-bus-stub), every member documented;
#  - the bus policy, loaded into a private system-type dbus-daemon: root owns the name and calls
#    the methods; nobody reads properties, introspects, lists objects and receives signals, but
#    cannot own the name, call a method of Manager or Certificate, or set a property;
#  - the activation file and the unit agree on the bus name; the unit passes
#    `systemd-analyze verify` and its `systemd-analyze security` exposure is at most 2.0;
#  - every man page renders with groff without a warning; the generated scep-agent-registry(5)
#    names every key of the schema.
# Needs root (to run clients as nobody), dbus-daemon, gdbus, xmllint, setpriv, systemd-analyze,
# groff and man (Debian: dbus, libglib2.0-bin, libxml2-utils, util-linux, systemd, groff-base,
# man-db). A missing tool is a failure with a message, never a skip.
set -u

xml='' policy='' activation='' unit='' schema='' stub='' daemon=''
man_pages=()
while [ $# -gt 0 ]; do
    case "$1" in
    --xml) xml=$2 ;;
    --policy) policy=$2 ;;
    --activation) activation=$2 ;;
    --unit) unit=$2 ;;
    --man) man_pages+=("$2") ;;
    --schema) schema=$2 ;;
    --stub) stub=$2 ;;
    --daemon) daemon=$2 ;;
    *) echo "Bail out! unknown argument $1"; exit 1 ;;
    esac
    shift 2
done

py=/usr/bin/python3
bus_name=org.scepagent.Agent1
manager_path=/org/scepagent/Agent1
cert_path=/org/scepagent/Agent1/certificates/cert0

n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
    n=$((n + 1))
    fail=1
    echo "not ok $n - $1"
    [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/# /'
    return 0
}
check() { # check DESCRIPTION COMMAND...: ok when the command succeeds, its output shown if not
    local desc=$1 out
    shift
    if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc" "$out"; fi
}

tmp=$(mktemp -d /tmp/test-data-files.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT

missing=()
for tool in xmllint gdbus gdbus-codegen dbus-daemon setpriv systemd-analyze groff man; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
[ -x "$py" ] || missing+=("$py")
if [ ${#missing[@]} -gt 0 ]; then
    not_ok "tools present (missing: ${missing[*]}; install dbus libglib2.0-bin libxml2-utils util-linux systemd groff-base man-db)"
    echo "1..$n"
    exit 1
fi
ok "tools present"

# ---- the interface XML ----
check "interface XML is well-formed (xmllint)" xmllint --noout "$xml"
check "interface XML parses with g_dbus_node_info_new_for_xml and has both interfaces" \
    "$stub" check "$xml"
mkdir "$tmp/codegen"
check "gdbus-codegen generates C code with the object manager from the XML" \
    gdbus-codegen --interface-prefix org.scepagent.Agent1. --c-namespace ScepDbus \
    --c-generate-object-manager --c-generate-autocleanup all \
    --generate-c-code "$tmp/codegen/scep-dbus-generated" "$xml"
check "the generated header declares the certificate skeleton, StateChanged and the object manager" \
    grep -q -e 'scep_dbus_certificate_emit_state_changed' "$tmp/codegen/scep-dbus-generated.h"
if grep -q 'scep_dbus_object_manager_client_new' "$tmp/codegen/scep-dbus-generated.h" &&
    grep -q 'scep_dbus_manager_call_set_registry_keys' "$tmp/codegen/scep-dbus-generated.h"; then
    ok "the generated header has the object manager client and SetRegistryKeys"
else
    not_ok "the generated header has the object manager client and SetRegistryKeys"
fi

# every interface, method, property and signal is preceded by a doc comment whose symbol is its
# name (gdbus-codegen's convention), and every argument has an @name: line in it
doc_check=$("$py" - "$xml" <<'PY'
import sys
import xml.etree.ElementTree as ET
tree = ET.parse(sys.argv[1], parser=ET.XMLParser(target=ET.TreeBuilder(insert_comments=True)))
problems = []
count = 0
def symbol(comment):
    for line in comment.text.splitlines():
        line = line.strip()
        if line:
            return line.split(":", 1)[0] if ":" in line else None
    return None
def walk(parent, iface):
    global count
    prev = None
    for el in parent:
        if el.tag is ET.Comment:
            prev = el
            continue
        if el.tag in ("interface", "method", "property", "signal"):
            count += 1
            name = el.get("name")
            where = f"{iface}.{name}" if iface else name
            if prev is None or symbol(prev) != name:
                problems.append(f"{el.tag} {where}: no doc comment starting '{name}:'")
            else:
                text = prev.text
                body = "\n".join(l for l in text.splitlines()[1:] if not l.strip().startswith("@"))
                if len(body.split()) < 3:
                    problems.append(f"{el.tag} {where}: doc comment has no description")
                for arg in el.findall("arg"):
                    if f"@{arg.get('name')}:" not in text:
                        problems.append(f"{el.tag} {where}: argument {arg.get('name')} undocumented")
            if el.tag == "interface":
                walk(el, name)
        prev = None
walk(tree.getroot(), None)
for p in problems:
    print(p)
print(f"{count} members checked")
sys.exit(1 if problems else 0)
PY
)
if [ $? -eq 0 ]; then ok "every interface, method, property, signal and argument is documented ($(tail -n1 <<<"$doc_check"))"; else not_ok "every member documented" "$doc_check"; fi

# the members the issue asks for, with their types (a rename here breaks every client)
members_check=$("$py" - "$xml" <<'PY'
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
want = {
    "org.scepagent.Agent1.Manager": {
        "property": {"Version": "s", "Summary": "a{su}"},
        "method": {"Reload": "a{sv}", "SetRegistryKeys": "a{ss}a{sv}", "UnsetRegistryKeys": "asa{sv}"},
        "signal": {},
    },
    "org.scepagent.Agent1.Certificate": {
        "property": {
            "Instance": "s", "Enabled": "b", "State": "u", "StateName": "s", "Reason": "s",
            "Subject": "s", "Issuer": "s", "Serial": "s", "NotBefore": "t", "NotAfter": "t",
            "RenewalTime": "t", "NextAttempt": "t", "LastAttempt": "t", "LastError": "s",
            "LastErrorName": "s", "RenewalMethod": "s", "CaFingerprint": "s",
            "CertificatePath": "s", "KeyPath": "s", "ChainPath": "s", "PendingTransactionId": "s",
        },
        "method": {"Enroll": "a{sv}", "Renew": "a{sv}", "Cancel": "a{sv}"},
        "signal": {"StateChanged": "uus"},
    },
}
bad = []
for iname, kinds in want.items():
    iface = root.find(f"interface[@name='{iname}']")
    if iface is None:
        bad.append(f"no interface {iname}")
        continue
    for kind, members in kinds.items():
        for name, sig in members.items():
            el = iface.find(f"{kind}[@name='{name}']")
            if el is None:
                bad.append(f"{iname}: no {kind} {name}")
                continue
            if kind == "property":
                got = el.get("type")
                if el.get("access") != "read":
                    bad.append(f"{iname}.{name}: not read-only")
            else:
                got = "".join(a.get("type") for a in el.findall("arg") if a.get("direction", "in") == "in")
            if got != sig:
                bad.append(f"{iname}.{name}: signature {got}, want {sig}")
    for method in iface.findall("method"):
        ins = [a for a in method.findall("arg") if a.get("direction", "in") == "in"]
        if not ins or ins[-1].get("type") != "a{sv}" or ins[-1].get("name") != "options":
            bad.append(f"{iname}.{method.get('name')}: does not end in a{{sv}} options")
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
)
if [ $? -eq 0 ]; then ok "the interfaces have every member of issue 5 with its type; every method ends in a{sv} options"; else not_ok "interface members" "$members_check"; fi

errors_doc=$(grep -o 'org\.scepagent\.Agent1\.Error\.[A-Za-z]*' "$xml" | sort -u | tr '\n' ' ')
missing_errors=()
for e in Failed NotFound InvalidArgument InvalidValue AccessDenied Busy Disabled Cancelled Internal; do
    grep -q "org.scepagent.Agent1.Error.$e\b" "$xml" || missing_errors+=("$e")
done
if [ ${#missing_errors[@]} -eq 0 ]; then ok "every error name is documented: $errors_doc"; else not_ok "error names documented (missing: ${missing_errors[*]})"; fi

# ---- activation file, unit and policy agree ----
consistency=$("$py" - "$activation" "$unit" "$policy" "$xml" <<'PY'
import configparser, sys
import xml.etree.ElementTree as ET
activation, unit, policy, xml = sys.argv[1:]
bad = []
cp = configparser.ConfigParser(interpolation=None)
cp.optionxform = str
cp.read(activation)
if not cp.has_section("D-BUS Service"):
    bad.append("activation: no [D-BUS Service]")
else:
    s = cp["D-BUS Service"]
    if s.get("Name") != "org.scepagent.Agent1": bad.append(f"activation: Name={s.get('Name')}")
    if s.get("SystemdService") != "scep-agent.service": bad.append("activation: SystemdService")
    if s.get("User") != "root": bad.append("activation: User")
    if not s.get("Exec", "").startswith("/") or "@" in s.get("Exec", ""): bad.append(f"activation: Exec={s.get('Exec')}")
u = configparser.ConfigParser(interpolation=None, strict=False)
u.optionxform = str
u.read(unit)
if u.get("Service", "Type", fallback="") != "dbus": bad.append("unit: Type is not dbus")
if u.get("Service", "BusName", fallback="") != "org.scepagent.Agent1": bad.append("unit: BusName")
if "@" in u.get("Service", "ExecStart", fallback="@"): bad.append("unit: ExecStart not configured")
root = ET.parse(policy).getroot()
owners = [a.get("own") for p in root.findall("policy[@user='root']") for a in p.findall("allow") if a.get("own")]
if owners != ["org.scepagent.Agent1"]: bad.append(f"policy: root owns {owners}")
ifaces = [i.get("name") for i in ET.parse(xml).getroot().findall("interface")]
allowed = {a.get("send_interface") for p in root.findall("policy[@user='root']") for a in p.findall("allow")}
for i in ifaces:
    if i not in allowed: bad.append(f"policy: root may not call {i}")
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
)
if [ $? -eq 0 ]; then ok "activation file, unit, policy and XML agree on the bus name and interfaces"; else not_ok "activation/unit/policy consistency" "$consistency"; fi

# ---- the policy in a private system-type bus ----
if [ "$(id -u)" -ne 0 ]; then
    not_ok "bus policy tests need root (to run clients as nobody); run the tests as root"
else
    chmod 0755 "$tmp"
    cat >"$tmp/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$tmp/bus</listen>
  <auth>EXTERNAL</auth>
  <!-- the default policy of Debian's /usr/share/dbus-1/system.conf -->
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus" send_member="UpdateActivationEnvironment"/>
  </policy>
  <include>$(realpath "$policy")</include>
</busconfig>
EOF
    dbus-daemon --config-file="$tmp/bus.conf" --nofork --print-address=1 >"$tmp/address" 2>"$tmp/bus.log" &
    pids+=($!)
    for _ in $(seq 100); do [ -s "$tmp/address" ] && break; kill -0 "${pids[-1]}" 2>/dev/null || break; sleep 0.05; done
    address=$(head -n1 "$tmp/address")
    if [ -z "$address" ]; then
        not_ok "a private dbus-daemon starts with the shipped policy included" "$(cat "$tmp/bus.log")"
    else
        ok "a private dbus-daemon starts with the shipped policy included"
        as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }
        call() { # call PATH IFACE.METHOD ARGS... (as root)
            local path=$1 method=$2
            shift 2
            timeout 20 gdbus call --address "$address" --dest "$bus_name" --object-path "$path" --method "$method" "$@"
        }
        call_nobody() { # the same as nobody
            local path=$1 method=$2
            shift 2
            as_nobody timeout 20 gdbus call --address "$address" --dest "$bus_name" --object-path "$path" --method "$method" "$@"
        }
        refused() { # refused DESCRIPTION COMMAND...: the call fails with AccessDenied
            local desc=$1 out
            shift
            if out=$("$@" 2>&1); then
                not_ok "$desc" "succeeded: $out"
            elif grep -q 'org.freedesktop.DBus.Error.AccessDenied' <<<"$out"; then
                ok "$desc"
            else
                not_ok "$desc" "failed, but not with AccessDenied: $out"
            fi
        }

        out=$(as_nobody "$stub" own "$address" "$xml" 2>&1)
        rc=$?
        if [ $rc -eq 3 ] && grep -q 'AccessDenied' <<<"$out"; then
            ok "nobody cannot own $bus_name"
        else
            not_ok "nobody cannot own $bus_name" "exit $rc: $out"
        fi

        mkfifo "$tmp/stub.out"
        "$stub" own "$address" "$xml" >"$tmp/stub.out" 2>"$tmp/stub.log" &
        pids+=($!)
        if read -r -t 20 line <"$tmp/stub.out" && [ "$line" = ready ]; then
            ok "root owns $bus_name"
        else
            not_ok "root owns $bus_name" "$(cat "$tmp/stub.log")"
        fi

        out=$(call_nobody "$manager_path" org.freedesktop.DBus.Properties.Get org.scepagent.Agent1.Manager Version 2>&1)
        if [ "$out" = "(<'stub'>,)" ]; then ok "nobody reads a Manager property (Properties.Get Version)"; else not_ok "nobody reads a Manager property" "$out"; fi
        out=$(call_nobody "$cert_path" org.freedesktop.DBus.Properties.GetAll org.scepagent.Agent1.Certificate 2>&1)
        if grep -q "'Instance': <'cert0'>" <<<"$out"; then ok "nobody reads all Certificate properties (Properties.GetAll)"; else not_ok "nobody reads all Certificate properties" "$out"; fi
        check "nobody introspects the certificate object" \
            as_nobody gdbus introspect --address "$address" --dest "$bus_name" --object-path "$cert_path"
        out=$(call_nobody "$manager_path" org.freedesktop.DBus.ObjectManager.GetManagedObjects 2>&1)
        if grep -q "$cert_path" <<<"$out"; then ok "nobody lists the objects (GetManagedObjects)"; else not_ok "nobody lists the objects" "$out"; fi
        check "nobody pings the daemon (Peer.Ping)" call_nobody "$manager_path" org.freedesktop.DBus.Peer.Ping

        refused "nobody is refused Manager.Reload" call_nobody "$manager_path" org.scepagent.Agent1.Manager.Reload '{}'
        refused "nobody is refused Manager.SetRegistryKeys" call_nobody "$manager_path" \
            org.scepagent.Agent1.Manager.SetRegistryKeys "{'network.scepclient.cert0.enabled': 'true'}" '{}'
        refused "nobody is refused Manager.UnsetRegistryKeys" call_nobody "$manager_path" \
            org.scepagent.Agent1.Manager.UnsetRegistryKeys "['network.scepclient.cert0.enabled']" '{}'
        refused "nobody is refused Certificate.Enroll" call_nobody "$cert_path" org.scepagent.Agent1.Certificate.Enroll '{}'
        refused "nobody is refused Certificate.Renew" call_nobody "$cert_path" org.scepagent.Agent1.Certificate.Renew '{}'
        refused "nobody is refused Certificate.Cancel" call_nobody "$cert_path" org.scepagent.Agent1.Certificate.Cancel '{}'
        refused "nobody is refused Properties.Set" call_nobody "$cert_path" org.freedesktop.DBus.Properties.Set \
            org.scepagent.Agent1.Certificate Enabled '<true>'

        check "root calls Manager.Reload" call "$manager_path" org.scepagent.Agent1.Manager.Reload '{}'
        check "root calls Manager.SetRegistryKeys" call "$manager_path" \
            org.scepagent.Agent1.Manager.SetRegistryKeys "{'network.scepclient.cert0.enabled': 'true'}" '{}'
        check "root calls Certificate.Cancel" call "$cert_path" org.scepagent.Agent1.Certificate.Cancel '{}'

        # nobody receives StateChanged (the stub emits it when root calls Enroll); the monitor's
        # match rule is in place once it has printed the name's owner (same connection, in order)
        # setpriv itself, not the as_nobody function: $! must be the monitor's PID (setpriv
        # execs it), not a subshell's, or cleanup leaves the monitor running
        setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
            gdbus monitor --address "$address" --dest "$bus_name" >"$tmp/monitor" 2>&1 &
        pids+=($!)
        for _ in $(seq 200); do grep -q 'is owned by' "$tmp/monitor" && break; sleep 0.05; done
        check "root calls Certificate.Enroll" call "$cert_path" org.scepagent.Agent1.Certificate.Enroll '{}'
        for _ in $(seq 200); do grep -q 'StateChanged' "$tmp/monitor" && break; sleep 0.05; done
        if grep -q "org.scepagent.Agent1.Certificate.StateChanged (uint32 1, uint32 2, 'stub enroll')" "$tmp/monitor"; then
            ok "nobody receives the StateChanged signal"
        else
            not_ok "nobody receives the StateChanged signal" "$(cat "$tmp/monitor")"
        fi
    fi
fi

# ---- the unit ----
mkdir -p "$tmp/units" "$tmp/man/man1" "$tmp/man/man5" "$tmp/man/man8"
for m in "${man_pages[@]}"; do
    base=$(basename "$m")
    cp "$m" "$tmp/man/man${base##*.}/$base"
done
# verify the unit as installed, but with the binary from the build tree (verify checks that
# ExecStart= is executable) and the man pages from the source tree (it checks Documentation=)
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
sed "s|^ExecStart=$exec_start|ExecStart=$(realpath "$daemon")|" "$unit" >"$tmp/units/scep-agent.service"
out=$(cd "$tmp/units" && MANPATH="$tmp/man" SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=yes "$tmp/units/scep-agent.service" 2>&1)
rc=$?
# without systemd as PID 1, verify still loads and checks the unit offline; only complaints
# about our unit count
if [ $rc -eq 0 ] && ! grep -q 'scep-agent' <<<"$out"; then
    ok "systemd-analyze verify accepts the unit (ExecStart, Documentation= man pages)"
else
    not_ok "systemd-analyze verify accepts the unit" "exit $rc: $out"
fi
out=$(systemd-analyze security --offline=yes --no-pager "$tmp/units/scep-agent.service" 2>&1)
exposure=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$out")
if [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }'; then
    ok "systemd-analyze security exposure $exposure <= 2.0"
else
    not_ok "systemd-analyze security exposure ${exposure:-unknown} <= 2.0" "$(grep -e '✗' -e Overall <<<"$out")"
fi

# ---- man pages ----
for m in "${man_pages[@]}"; do
    base=$(basename "$m")
    out=$(groff -ww -z -man "$m" 2>&1)
    if [ -s "$m" ] && [ -z "$out" ]; then ok "$base renders with groff -ww without a warning"; else not_ok "$base renders without a warning" "${out:-empty file}"; fi
    out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$m" 2>&1 >/dev/null)
    if [ $? -eq 0 ] && [ -z "$out" ]; then ok "$base renders with man -l"; else not_ok "$base renders with man -l" "$out"; fi
done

# the generated page names every key of the schema ({N} expanded by index)
registry_man=''
for m in "${man_pages[@]}"; do [[ $m == *.5 ]] && registry_man=$m; done
keys_check=$("$py" - "$schema" "$registry_man" <<'PY'
import re, subprocess, sys, os
schema, page = sys.argv[1:]
names, index = [], {}
group = None
for line in open(schema, encoding="utf-8"):
    line = line.strip()
    if line.startswith("[") and line.endswith("]"):
        group = line[1:-1]
        names.append(group)
    elif group and line.startswith("index="):
        index[group] = line.split("=", 1)[1]
keys = []
for g in names:
    if "{N}" in g:
        lo, hi = map(int, index[g].split("-"))
        keys += [g.replace("{N}", str(i)) for i in range(lo, hi + 1)]
    else:
        keys.append(g)
env = dict(os.environ, MANWIDTH="200", LC_ALL="C.UTF-8")
text = subprocess.run(["man", "-l", page], capture_output=True, text=True, env=env).stdout
text = re.sub(".\b", "", text)
shown = set(re.findall(r"network\.scepclient\.certN\.(\S+)", text))
missing = [k for k in keys if k not in shown]
print(f"{len(keys)} keys" if not missing else "missing: " + ", ".join(missing))
sys.exit(1 if missing else 0)
PY
)
if [ $? -eq 0 ]; then ok "scep-agent-registry.5 documents every schema key ($keys_check)"; else not_ok "scep-agent-registry.5 documents every schema key" "$keys_check"; fi

echo "1..$n"
exit $fail
