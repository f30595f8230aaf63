#!/usr/bin/python3
"""Writes the man page scep-agent-registry(5) from data/scep-registry.schema.

    gen-registry-man.py SCHEMA OUTPUT [VERSION]

The schema is a GKeyFile: one group per key (the part after
"network.scepclient.cert<N>."), with the fields described at its top. A group
name containing {N} stands for several keys, N taking every value of `index`.
Fails (exit status 1, message on stderr) on anything it does not understand, so
a broken schema breaks the build instead of the man page.
"""

import re
import sys

TYPES = ("bool", "int", "enum", "string")
CHANGES = {
    "none": "nothing is redone; the new value is used the next time it is needed",
    "next-operation": "used from the next operation (request, poll, renewal) on; "
    "an operation in flight keeps the old value",
    "reschedule": "the instance's timers are planned again at once",
    "re-enroll": "a new enrollment starts at once (new key, new request), because "
    "the installed certificate no longer matches the settings",
    "reinstall": "the installed file is moved to the new place",
    "enable": "the instance is enabled or disabled at once",
}
FORMATS = {
    "url": "an http:// or https:// URL with a host",
    "proxy": "host:port or http://host:port",
    "fingerprint": "32, 40 or 64 hex digits (MD5, SHA-1 or SHA-256), colons and spaces allowed",
    "path": "an absolute path",
    "country": "a two-letter country code",
    "sid": "a security identifier like S-1-5-21-1-2-3-1104",
    "user": "user, DOMAIN\\user or user@domain without spaces",
    "unit": "a systemd unit name like foo.service",
    "key-usage": "a comma-separated list of digitalSignature, nonRepudiation, "
    "keyEncipherment, dataEncipherment, keyAgreement",
    "eku": "a comma-separated list of clientAuth, serverAuth, emailProtection, "
    "codeSigning, ipsecIKE or dotted OIDs",
    "oid-or-name": "a template name or a dotted OID, at most 255 bytes",
    "command": "a command line whose program is an absolute path",
    "text": "text",
}
ORIGINS = {
    "IGEL": "IGEL OS, same name",
    "IGEL-inferred": "inferred from IGEL OS",
    "proposed": "a proposed name in the IGEL OS style",
    "scep-agent": "an addition of scep-agent",
}
ESCAPES = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


class SchemaError(Exception):
    pass


def unescape(value):
    """GKeyFile string escapes; an unknown escape is kept as written (as GLib does)."""
    out = []
    i = 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value) and value[i + 1] in ESCAPES:
            out.append(ESCAPES[value[i + 1]])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def parse_schema(path):
    groups = []
    current = None
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            where = f"{path}:{lineno}"
            if stripped.startswith("["):
                if not stripped.endswith("]"):
                    raise SchemaError(f"{where}: bad group line")
                current = {"name": stripped[1:-1], "where": where}
                if any(g["name"] == current["name"] for g in groups):
                    raise SchemaError(f"{where}: group [{current['name']}] twice")
                groups.append(current)
                continue
            if current is None or "=" not in line:
                raise SchemaError(f"{where}: not KEY=VALUE inside a group")
            field, value = line.split("=", 1)
            field = field.strip()
            if field in current:
                raise SchemaError(f"{where}: field {field} twice")
            current[field] = unescape(value.lstrip())
    if not groups:
        raise SchemaError(f"{path}: no keys")
    return groups


def parse_index(group):
    text = group.get("index")
    if "{N}" not in group["name"]:
        if text is not None:
            raise SchemaError(f"{group['where']}: index without {{N}} in the name")
        return None
    m = re.fullmatch(r"(\d+)-(\d+)", text or "")
    if m is None or int(m.group(1)) > int(m.group(2)):
        raise SchemaError(f"{group['where']}: {{N}} needs index=FROM-TO")
    return list(range(int(m.group(1)), int(m.group(2)) + 1))


def describe_range(text, unit):
    parts = []
    for alt in text.split("|"):
        m = re.fullmatch(r"(-?\d+)(?:-(-?\d+))?", alt.strip())
        if m is None:
            raise SchemaError(f"bad range alternative '{alt}'")
        parts.append(m.group(1) if m.group(2) is None else f"an integer from {m.group(1)} to {m.group(2)}")
    text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]
    return text + (f" ({unit})" if unit else "")


def describe_accepted(group):
    kind = group.get("type")
    if kind not in TYPES:
        raise SchemaError(f"{group['where']}: type must be one of {', '.join(TYPES)}")
    if kind == "bool":
        return "true or false"
    if kind == "int":
        if "range" not in group:
            return "an integer" + (f" ({group['unit']})" if "unit" in group else "")
        return describe_range(group["range"], group.get("unit"))
    if kind == "enum":
        values = group.get("values")
        if not values:
            raise SchemaError(f"{group['where']}: enum without values")
        text = "one of " + ", ".join(f"\x01{v}\x02" for v in values.split("|"))
        text += " (case does not matter)"
        if group.get("paths") == "true":
            text += ", or an absolute path"
        return text
    fmt = group.get("format", "text")
    if fmt not in FORMATS:
        raise SchemaError(f"{group['where']}: unknown format {fmt}")
    return FORMATS[fmt] if fmt == "text" else FORMATS[fmt] + ", or empty"


def roff(text):
    """Escapes text for a troff line (or several, for embedded newlines)."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    # \x01 and \x02 mark quotes, typeset as typographic quotes
    text = text.replace("\x01", "\\(lq").replace("\x02", "\\(rq")
    lines = []
    for line in text.split("\n"):
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def key_entry(group):
    for field in ("type", "change", "summary", "description"):
        if field not in group:
            raise SchemaError(f"{group['where']}: [{group['name']}] lacks {field}")
    if group["change"] not in CHANGES:
        raise SchemaError(f"{group['where']}: unknown change {group['change']}")
    if group.get("secret", "false") not in ("true", "false"):
        raise SchemaError(f"{group['where']}: secret must be true or false")
    indexes = parse_index(group)
    name = group["name"]
    out = []
    if indexes is None:
        names = [name]
    else:
        names = [name.replace("{N}", str(n)) for n in indexes]
    for i, n in enumerate(names):
        out.append(".TP" if i == 0 else ".TQ")
        # \: lets a long name break after a dot on a narrow terminal
        breakable = roff(n).replace(".", ".\\:")
        out.append(f"\\fBnetwork.scepclient.cert\\fR\\fIN\\fR\\fB.{breakable}\\fR")

    def subst(text):
        if indexes is None:
            return roff(text)
        return roff(text).replace("{N}", "\\fIM\\fR")

    out.append(subst(group["summary"]) + ".")
    if indexes is not None:
        listed = ", ".join(str(n) for n in indexes[:-1]) + f" or {indexes[-1]}"
        out.append(f"\\fIM\\fR is {listed}.")
    out.append(".RS")
    out.append(".PD 0")
    rows = [
        ("Type", group["type"]),
        ("Accepts", describe_accepted(group)),
        ("Default", f"\x01{group.get('default', '')}\x02"
         + (" (empty)" if group.get("default", "") == "" else "")),
        ("Secret", "yes: never shown, logged or sent over D-Bus"
         if group.get("secret") == "true" else "no"),
        ("On change", f"{group['change']}: {CHANGES[group['change']]}"),
    ]
    if "origin" in group:
        rows.append(("Origin", ORIGINS.get(group["origin"], group["origin"])))
    for label, value in rows:
        out.append(".TP 12")
        out.append(f"{label}:")
        out.append(roff(value))
    out.append(".PD")
    out.append(".PP")
    out.append(subst(group["description"]))
    out.append(".RE")
    return out


HEADER = r""".\" Generated by data/gen-registry-man.py from data/scep-registry.schema: do not edit.
.TH SCEP\-AGENT\-REGISTRY 5 "" "scep\-agent @VERSION@" "File Formats"
.\" key names are long: ragged right instead of stretched lines
.ad l
.SH NAME
scep\-agent\-registry \- settings of the certificate instances of scep\-agent
.SH SYNOPSIS
.B /etc/scep\-agent/registry
.br
.B /etc/scep\-agent/registry.d/*
.SH DESCRIPTION
.BR scep\-agent (8)
manages one certificate per instance \fBcert0\fR, \fBcert1\fR, \&... of the registry keys
\fBnetwork.scepclient.cert\fR\fIN\fR\fB.\fR\fIname\fR, which central device management
pushes. The registry is a directory (default \fI/etc/scep\-agent\fR, \fB\-\-registry\-dir\fR
on every program) holding a base file \fIregistry\fR and a drop\-in directory
\fIregistry.d/\fR. The base file is read first, then every regular file in \fIregistry.d/\fR
in byte order of the names; a later value wins. Files whose name starts with \(lq.\(rq, ends
with \(lq~\(rq or \(lq.tmp\(rq, or contains \(lq.dpkg\-\(rq are ignored (editor backups,
package leftovers, temporary files).
.PP
The files are UTF\-8 text, one setting per line:
.PP
.RS
.nf
# a comment: the first non\-blank character is '#'
network.scepclient.cert0.enabled = true
network.scepclient.cert0.scepurl=http://ndes.example.com/certsrv/mscep/mscep.dll
network.scepclient.cert0.organizationalunit=Thin clients # '#' inside a value is kept
.fi
.RE
.PP
White space around the key and the value is removed. In values a backslash starts an
escape: \fB\e\e\fR backslash, \fB\en\fR newline, \fB\et\fR tab, \fB\er\fR carriage return,
\fB\es\fR a space (to keep a leading or trailing one), \fB\ex\fR\fIHH\fR any byte except NUL.
Any other escape is an error.
.PP
An empty value of a bool, int or enum key means its default; an invalid value never does:
the instance is then \fIunconfigured\fR and says which key and why, while the other instances
keep working. Unknown keys are warnings that name the nearest known key. Instances are
\fBcert0\fR, \fBcert1\fR, \&... in any number, gaps allowed; \fBcert01\fR is not an instance.
Enum values are matched without regard to case.
.PP
Keys named \fBcrypt_*\fR are secrets: accepted in clear in the files, which are readable by
root only (mode 0600), but never printed by any tool, never logged and never sent over D\-Bus.
.PP
The agent watches both places and acts on every change within a fraction of a second; what it
does depends on the key (\(lqOn change\(rq below). Edit the files with
.BR scep\-registry (1),
which validates values and writes atomically; a management agent may also use the D\-Bus
method \fBSetRegistryKeys\fR of \fBorg.scepagent.Agent1.Manager\fR, which applies the same
validation.
.SH KEYS
Each entry names the key, with \fIN\fR the instance number, then its type, the values it
accepts, its default, whether it is a secret, what the agent does when it changes, and its
origin.
"""

FOOTER = r""".SH FILES
.TP
.I /etc/scep\-agent/registry
The base registry file.
.TP
.I /etc/scep\-agent/registry.d/
Drop\-in registry files, read after the base file in byte order of the names.
.TP
.I scep\-agent/scep\-registry.schema
The schema this page is generated from, in the data directory (usually \fI/usr/share\fR);
\fBscep\-registry describe\fR \fIKEY\fR prints one entry.
.SH SEE ALSO
.BR scep\-agent (8),
.BR scep\-registry (1),
.BR scepctl (1)
"""


def main(argv):
    if len(argv) not in (3, 4):
        sys.stderr.write("usage: gen-registry-man.py SCHEMA OUTPUT [VERSION]\n")
        return 2
    version = argv[3] if len(argv) == 4 else ""
    try:
        groups = parse_schema(argv[1])
        body = []
        for group in groups:
            body.extend(key_entry(group))
    except (SchemaError, OSError) as e:
        sys.stderr.write(f"gen-registry-man.py: {e}\n")
        return 1
    text = HEADER.replace("@VERSION@", roff(version)) + "\n".join(body) + "\n" + FOOTER
    with open(argv[2], "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
