#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench-agent-helper: the Python parts of tests/bench-agent.sh (issue 4 section 10).

Run with Debian's /usr/bin/python3 (python3-cryptography).  Subcommands:

  certs --ca-cert PEM --ca-key PEM --out DIR --count N --key-cache DIR
      N RSA-2048 keys and certificates, valid from an hour ago for 365 days, issued by the
      given CA: DIR/certK/key.pem (PKCS#8, 0600), cert.pem, chain.pem (the CA) for K in
      0..N-1; subject CN=benchK.example.test, SAN DNS:benchK.example.test, keyUsage
      digitalSignature+keyEncipherment, EKU clientAuth.  Keys are taken from the key cache
      (keyK.pem) and the missing ones generated there first, on every core: 1,000 RSA keys
      take minutes, certificates take milliseconds.

  registry --out FILE --certs DIR --count N --url URL --challenge-file FILE [--ca-cert PEM]
      A registry base file with instances cert0..cert{N-1}, enabled, pointing at the
      certificates written by `certs` (cert_file, key_file, chain_file), the CA pinned by
      its SHA-256 fingerprint when --ca-cert is given.

  push --registry-dir DIR --port N --pushes N --first INDEX --certs-dir DIR
       --challenge-file FILE [--ca-cert PEM] [--timeout S] [--gap S]
       [--csv FILE --label TEXT]
      Listens on 127.0.0.1:PORT (HTTP, answers 404), then N times: writes a new enabled
      instance cert<INDEX+k> whose scepurl is http://127.0.0.1:PORT/push<k>/scep into
      registry.d/50-push<k> (written as .tmp, fsynced, then renamed: T0 is taken just
      before rename()), and waits for the first HTTP request whose path starts with
      /push<k>/.  Delay = arrival of that request's line (CLOCK_MONOTONIC, same clock as
      T0) - T0.  Prints one line per push and "median MS" at the end; exit 1 when a push
      saw no request within the timeout.

  memory PID
      "rss pss uss private_clean private_dirty" (KiB) from /proc/PID/smaps_rollup
      (USS = Private_Clean + Private_Dirty).
"""

import argparse
import datetime
import http.server
import multiprocessing
import os
import statistics
import sys
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def write_file(path, data, mode):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def make_key(path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    write_file(path + ".tmp", pem, 0o600)
    os.rename(path + ".tmp", path)


def cmd_certs(args):
    os.makedirs(args.key_cache, exist_ok=True)
    missing = [os.path.join(args.key_cache, f"key{k}.pem") for k in range(args.count)
               if not os.path.exists(os.path.join(args.key_cache, f"key{k}.pem"))]
    if missing:
        print(f"bench-agent: generating {len(missing)} RSA-2048 keys into {args.key_cache} "
              f"(once; later runs reuse them)", file=sys.stderr, flush=True)
        with multiprocessing.Pool(os.cpu_count() or 1) as pool:
            pool.map(make_key, missing, chunksize=8)
    with open(args.ca_cert, "rb") as f:
        ca_pem = f.read()
    ca_cert = x509.load_pem_x509_certificate(ca_pem)
    with open(args.ca_key, "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), password=None)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    for k in range(args.count):
        with open(os.path.join(args.key_cache, f"key{k}.pem"), "rb") as f:
            key_pem = f.read()
        key = serialization.load_pem_private_key(key_pem, password=None)
        name = f"bench{k}.example.test"
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                .issuer_name(ca_cert.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=365))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                             key_encipherment=True, data_encipherment=False,
                                             key_agreement=False, key_cert_sign=False,
                                             crl_sign=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                               critical=False)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    ca_key.public_key()), critical=False)
                .sign(ca_key, hashes.SHA256()))
        d = os.path.join(args.out, f"cert{k}")
        os.makedirs(d, exist_ok=True)
        write_file(os.path.join(d, "key.pem"), key_pem, 0o600)
        write_file(os.path.join(d, "cert.pem"), cert.public_bytes(serialization.Encoding.PEM),
                   0o644)
        write_file(os.path.join(d, "chain.pem"), ca_pem, 0o644)
    return 0


def escape(value):
    # the registry's value escapes: a backslash and leading/trailing blanks need them
    return value.replace("\\", "\\\\")


def ca_fingerprint(path):
    # SHA-256 of the CA certificate, for cafingerprint (an unpinned CA is warned about)
    if not path:
        return None
    with open(path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    return cert.fingerprint(hashes.SHA256()).hex()


def instance_lines(name, url, challenge, certs_dir, k, fingerprint):
    d = os.path.join(certs_dir, f"cert{k}")
    p = f"network.scepclient.{name}."
    pin = [f"{p}cafingerprint={fingerprint}", f"{p}cafingerprint_hash=sha256"] if fingerprint else []
    return [
        f"{p}enabled=true",
        f"{p}scepurl={url}",
    ] + pin + [
        f"{p}crypt_password={escape(challenge)}",
        f"{p}subjectaltname_type=DNS name",
        f"{p}subjectaltname=bench{k}.example.test",
        f"{p}cert_file={d}/cert.pem",
        f"{p}key_file={d}/key.pem",
        f"{p}chain_file={d}/chain.pem",
    ]


def read_challenge(path):
    with open(path) as f:
        return f.read().strip()


def cmd_registry(args):
    challenge = read_challenge(args.challenge_file)
    fingerprint = ca_fingerprint(args.ca_cert)
    lines = ["# bench-agent: one enabled instance per pre-installed certificate"]
    for k in range(args.count):
        lines += instance_lines(f"cert{k}", args.url, challenge, args.certs, k, fingerprint)
    write_file(args.out, ("\n".join(lines) + "\n").encode(), 0o600)
    return 0


class Arrivals:
    def __init__(self):
        self.cond = threading.Condition()
        self.first = {}  # path prefix -> monotonic ns of the first request line

    def record(self, path, t):
        prefix = "/" + path.lstrip("/").split("/", 1)[0]
        with self.cond:
            if prefix not in self.first:
                self.first[prefix] = t
                self.cond.notify_all()

    def wait(self, prefix, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while prefix not in self.first:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return self.first[prefix]


def make_handler(arrivals):
    class Handler(http.server.BaseHTTPRequestHandler):
        def parse_request(self):
            # the request line has just been read: that is the arrival time
            arrivals.record(self.raw_requestline.decode("latin-1").split(" ")[1]
                            if self.raw_requestline.count(b" ") >= 2 else "/",
                            time.monotonic_ns())
            return super().parse_request()

        def answer(self):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()

        do_GET = answer
        do_POST = answer

        def log_message(self, *args):
            pass

    return Handler


def cmd_push(args):
    challenge = read_challenge(args.challenge_file)
    fingerprint = ca_fingerprint(args.ca_cert)
    arrivals = Arrivals()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(arrivals))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 3600},
                              daemon=True)
    thread.start()
    drop_in = os.path.join(args.registry_dir, "registry.d")
    os.makedirs(drop_in, exist_ok=True)
    delays = []
    failed = 0
    csv = open(args.csv, "a") if args.csv else None
    for k in range(args.pushes):
        index = args.first + k
        name = f"cert{index}"
        url = f"http://127.0.0.1:{args.port}/push{k}/scep"
        d = os.path.join(args.certs_dir, f"cert{index}")
        os.makedirs(d, exist_ok=True)
        lines = instance_lines(name, url, challenge, args.certs_dir, index, fingerprint)
        target = os.path.join(drop_in, f"50-push{index}")
        tmp = target + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, ("\n".join(lines) + "\n").encode())
        os.fsync(fd)
        os.close(fd)
        t0 = time.monotonic_ns()
        os.rename(tmp, target)
        t1 = arrivals.wait(f"/push{k}", args.timeout)
        if t1 is None:
            failed += 1
            print(f"push {k + 1}: {name}: no request within {args.timeout:.0f} s", flush=True)
            if csv:
                csv.write(f"{args.label},{k + 1},{name},\n")
        else:
            ms = (t1 - t0) / 1e6
            delays.append(ms)
            print(f"push {k + 1}: {name}: first request after {ms:.1f} ms", flush=True)
            if csv:
                csv.write(f"{args.label},{k + 1},{name},{ms:.3f}\n")
        # let the agent finish with the instance (it fails against this listener) before the
        # next push, so that pushes do not overlap
        time.sleep(args.gap)
    if csv:
        csv.close()
    # no server.shutdown(): it waits for the poll interval; the thread is a daemon thread
    server.server_close()
    if delays:
        print(f"median {statistics.median(delays):.1f} min {min(delays):.1f} "
              f"max {max(delays):.1f} ok {len(delays)}/{args.pushes}")
    else:
        print(f"median - min - max - ok 0/{args.pushes}")
    return 1 if failed else 0


def cmd_memory(args):
    fields = {}
    with open(f"/proc/{args.pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":"):
                fields[parts[0][:-1]] = int(parts[1])
    uss = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    print(f"{fields.get('Rss', 0)} {fields.get('Pss', 0)} {uss} "
          f"{fields.get('Private_Clean', 0)} {fields.get('Private_Dirty', 0)}")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("certs")
    p.add_argument("--ca-cert", required=True)
    p.add_argument("--ca-key", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--key-cache", required=True)
    p = sub.add_parser("registry")
    p.add_argument("--out", required=True)
    p.add_argument("--certs", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--challenge-file", required=True)
    p.add_argument("--ca-cert", help="pin this CA certificate (cafingerprint, SHA-256)")
    p = sub.add_parser("push")
    p.add_argument("--registry-dir", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pushes", type=int, default=7)
    p.add_argument("--first", type=int, required=True)
    p.add_argument("--certs-dir", required=True)
    p.add_argument("--challenge-file", required=True)
    p.add_argument("--ca-cert", help="pin this CA certificate (cafingerprint, SHA-256)")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--gap", type=float, default=1.5)
    p.add_argument("--csv")
    p.add_argument("--label", default="")
    p = sub.add_parser("memory")
    p.add_argument("pid", type=int)
    args = parser.parse_args()
    return {"certs": cmd_certs, "registry": cmd_registry, "push": cmd_push,
            "memory": cmd_memory}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
