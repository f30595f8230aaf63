#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Self-test of tests/scep-responder.py (TAP), against clients that are neither
ours nor the responder's code:

- micromdm's scepclient (Debian package `scep`): enrollment, wrong challenge,
  renewal by RenewalReq, with the NDES-style split RA;
- the openssl CLI for everything it can do (CSR with challengePassword,
  self-signed signer, EnvelopedData of the request, CertRep signature
  verification, CertRep decryption incl. RSAES-OAEP and single DES,
  certificate chain verification, CRL parsing);
- a small client section below (asn1crypto + cryptography, sharing no code with
  the responder) only for what the openssl CLI cannot do: the SCEP signed
  attributes of a request and reading those of a CertRep.

Every check is a TAP line; a missing tool fails with a message, never skips.
"""

import base64
import http.client
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

from asn1crypto import cms, core
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

HERE = os.path.dirname(os.path.abspath(__file__))
RESPONDER = os.path.join(HERE, "scep-responder.py")
PYTHON = "/usr/bin/python3"
OPENSSL = shutil.which("openssl")
SCEPCLIENT = shutil.which("scepclient")
KEYS = os.path.join(HERE, "data", "responder", "keys")
CLIENT_KEYS = [os.path.join(KEYS, "client-%d.key" % i) for i in range(1, 5)]
CLIENT_COUNT = [0]

OID = {
    "messageType": "2.16.840.1.113733.1.9.2",
    "pkiStatus": "2.16.840.1.113733.1.9.3",
    "failInfo": "2.16.840.1.113733.1.9.4",
    "senderNonce": "2.16.840.1.113733.1.9.5",
    "recipientNonce": "2.16.840.1.113733.1.9.6",
    "transactionID": "2.16.840.1.113733.1.9.7",
    "failInfoText": "1.3.6.1.5.5.7.24.1",
}

TMP = tempfile.mkdtemp(prefix="responder-selftest-")
RESULTS = []


# ---- running things ----


def run(argv, check=True, input=None):
    p = subprocess.run(argv, input=input, capture_output=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (argv[0:3], p.returncode, p.stderr.decode(errors="replace")))
    return p


def openssl(*args, check=True, input=None):
    return run([OPENSSL] + list(args), check=check, input=input)


class Responder:
    def __init__(self, *args, state_dir=None):
        self.state_dir = state_dir or tempfile.mkdtemp(dir=TMP)
        self.args = list(args)
        self.proc = subprocess.Popen(
            [PYTHON, RESPONDER, "--state-dir", self.state_dir, "--key-dir", KEYS, "--watch-stdin"] + self.args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(os.path.join(self.state_dir, "..", os.path.basename(self.state_dir) + ".log"), "a"),
        )
        line = self.proc.stdout.readline().decode()
        if not line.startswith("READY http://127.0.0.1:"):
            self.proc.kill()
            raise AssertionError("responder did not start: %r" % line)
        self.url = line.split()[1]
        self.port = urllib.parse.urlsplit(self.url).port

    def file(self, name):
        return os.path.join(self.state_dir, name)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc.stdout.close()
        self.proc.stdin.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def http(self, method, path, body=None, timeout=30):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        c.request(method, path, body=body, headers={"Content-Type": "application/x-pki-message"} if body else {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, r.getheader("Content-Type"), data

    def get(self, query):
        return self.http("GET", "/scep?" + query)

    def control(self, obj):
        status, _, data = self.http("POST", "/control", json.dumps(obj).encode())
        assert status == 200, data
        return data

    def log(self):
        return json.loads(self.http("GET", "/log")[2])


def check(name):
    """Decorator: one TAP line per check."""

    def wrap(fn):
        RESULTS.append((name, fn))
        return fn

    return wrap


# ---- the small independent client (no code shared with the responder) ----


class Client:
    """A SCEP requester: openssl CLI for keys, CSR, envelope; asn1crypto for the SCEP attributes."""

    def __init__(self, cn, challenge=None, key=None, cert=None):
        self.dir = tempfile.mkdtemp(dir=TMP)
        self.key = os.path.join(self.dir, "key.pem")
        self.cn = cn
        if key is None:  # pre-generated keys, in turn: key generation would dominate the run time
            key = CLIENT_KEYS[CLIENT_COUNT[0] % len(CLIENT_KEYS)]
            CLIENT_COUNT[0] += 1
        shutil.copy(key, self.key)
        cfg = os.path.join(self.dir, "req.cnf")
        with open(cfg, "w") as f:
            f.write("[req]\ndistinguished_name = dn\nattributes = attrs\nprompt = no\n")
            f.write("req_extensions = ext\n[dn]\nCN = %s\n[attrs]\n" % cn)
            if challenge is not None:
                f.write("challengePassword = %s\n" % challenge)
            f.write("[ext]\nsubjectAltName = DNS:%s.example.org\n" % cn)
        self.csr_der = os.path.join(self.dir, "csr.der")
        openssl("req", "-new", "-key", self.key, "-config", cfg, "-outform", "DER", "-out", self.csr_der)
        self.signer = os.path.join(self.dir, "signer.pem")
        if cert is None:
            openssl("req", "-x509", "-new", "-key", self.key, "-subj", "/CN=selftest signer", "-days", "1",
                    "-out", self.signer)
        else:
            shutil.copy(cert, self.signer)
        with open(self.key, "rb") as f:
            self.pkey = serialization.load_pem_private_key(f.read(), None)
        with open(self.signer, "rb") as f:
            self.cert = x509.load_pem_x509_certificate(f.read())
        pub = self.pkey.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
        h = hashes.Hash(hashes.SHA256())
        h.update(pub)
        self.transaction_id = h.finalize().hex()
        self.sender_nonce = None

    def envelope(self, content, recipient_pem, cipher="-aes128"):
        src = os.path.join(self.dir, "content.der")
        out = os.path.join(self.dir, "env.der")
        with open(src, "wb") as f:
            f.write(content)
        openssl("cms", "-encrypt", "-binary", "-outform", "DER", cipher, "-in", src, "-out", out, recipient_pem)
        with open(out, "rb") as f:
            return f.read()

    def message(self, message_type, content, recipient_pem, digest="sha256"):
        """SignedData: eContent = openssl's EnvelopedData, SCEP attributes signed by our signer."""
        env = self.envelope(content, recipient_pem)
        self.sender_nonce = secrets.token_bytes(16)
        md = hashes.Hash(getattr(hashes, digest.upper())())
        md.update(env)

        def a(oid, value):
            return cms.CMSAttribute({"type": cms.CMSAttributeType(oid), "values": [core.Any.load(value.dump())]})

        attrs = cms.CMSAttributes(
            [
                cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
                cms.CMSAttribute({"type": "message_digest", "values": [md.finalize()]}),
                a(OID["messageType"], core.PrintableString(str(message_type))),
                a(OID["transactionID"], core.PrintableString(self.transaction_id)),
                a(OID["senderNonce"], core.OctetString(self.sender_nonce)),
            ]
        )
        sig = self.pkey.sign(attrs.dump(), padding.PKCS1v15(), getattr(hashes, digest.upper())())
        acert = ax509.Certificate.load(self.cert.public_bytes(serialization.Encoding.DER))
        si = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    {"issuer_and_serial_number": {"issuer": acert.issuer, "serial_number": acert.serial_number}}
                ),
                "digest_algorithm": {"algorithm": digest},
                "signed_attrs": attrs,
                "signature_algorithm": {"algorithm": "rsassa_pkcs1v15"},
                "signature": sig,
            }
        )
        sd = cms.SignedData(
            {
                "version": "v1",
                "digest_algorithms": [{"algorithm": digest}],
                "encap_content_info": {"content_type": "data", "content": env},
                "certificates": [acert],
                "signer_infos": [si],
            }
        )
        return cms.ContentInfo({"content_type": "signed_data", "content": sd}).dump()

    def csr(self):
        with open(self.csr_der, "rb") as f:
            return f.read()

    def send(self, responder, der, get=False):
        if get:
            q = "operation=PKIOperation&message=" + urllib.parse.quote(base64.b64encode(der).decode(), safe="")
            return responder.get(q)
        return responder.http("POST", "/scep?operation=PKIOperation", der)

    def save(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path


def reply_attrs(der):
    """SCEP attributes of a CertRep (read with asn1crypto, no verification)."""
    sd = cms.ContentInfo.load(der)["content"]
    out = {}
    for at in sd["signer_infos"][0]["signed_attrs"]:
        for k, oid in OID.items():
            if at["type"].dotted == oid:
                out[k] = core.load(at["values"][0].dump()).native
    out["signer"] = sd["signer_infos"][0]["sid"].chosen["issuer"].human_friendly
    return out


def verify_reply(client, der, cafile, certfile=None, content=True):
    """openssl cms -verify of a CertRep; returns the eContent (EnvelopedData) or b''."""
    path = client.save("rep.der", der)
    out = os.path.join(client.dir, "rep-content.der")
    args = ["cms", "-verify", "-inform", "DER", "-in", path, "-CAfile", cafile, "-purpose", "any", "-out", out]
    if certfile:
        args += ["-certfile", certfile]
    if not content:
        args += ["-content", "/dev/null"]
    openssl(*args)
    with open(out, "rb") as f:
        return f.read()


def decrypt_issued(client, env, legacy=False):
    """openssl cms -decrypt of the reply's envelope; returns the issued cert path and the p7."""
    envp = client.save("rep-env.der", env)
    p7 = os.path.join(client.dir, "issued.p7b")
    args = ["cms", "-decrypt", "-inform", "DER", "-in", envp, "-inkey", client.key, "-recip", client.signer,
            "-binary", "-out", p7]
    if legacy:
        args += ["-provider", "legacy", "-provider", "default"]
    openssl(*args)
    certs = openssl("pkcs7", "-inform", "DER", "-in", p7, "-print_certs").stdout.decode()
    first = certs[certs.index("-----BEGIN CERTIFICATE-----"): certs.index("-----END CERTIFICATE-----") + 25]
    return client.save("issued.pem", first.encode() + b"\n"), certs


def assert_eq(a, b, what):
    if a != b:
        raise AssertionError("%s: %r != %r" % (what, a, b))


# ---- checks ----


@check("GetCACaps: default list, --caps, --cacaps-status")
def t_caps():
    with Responder() as r:
        status, ctype, body = r.get("operation=GetCACaps")
        assert_eq(status, 200, "status")
        assert ctype.startswith("text/plain"), ctype
        caps = body.decode().split("\n")
        for c in ("POSTPKIOperation", "SHA-256", "AES", "Renewal"):
            assert c in caps, caps
    with Responder("--caps", "AES,SHA-512,GetNextCACert") as r:
        assert_eq(r.get("operation=GetCACaps")[2], b"AES\nSHA-512\nGetNextCACert", "custom caps")
    with Responder("--cacaps-status", "503") as r:
        status, _, body = r.get("operation=GetCACaps")
        assert_eq((status, body), (503, b""), "cacaps status")


def p7_certs(der):
    ci = cms.ContentInfo.load(der)
    return [x509.load_der_x509_certificate(c.chosen.dump()) for c in ci["content"]["certificates"]]


def usage(cert):
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    if bc.ca:
        return "ca"
    return ("s" if ku.digital_signature else "") + ("e" if ku.key_encipherment else "")


@check("GetCACert: single DER with --ra none, PKCS#7 with split/combined RA and intermediate")
def t_getcacert():
    with Responder("--ra", "none") as r:
        status, ctype, body = r.get("operation=GetCACert&message=ca")
        assert_eq(ctype, "application/x-x509-ca-cert", "content type")
        with open(r.file("ca.pem"), "rb") as f:
            ca = x509.load_pem_x509_certificate(f.read())
        assert_eq(body, ca.public_bytes(serialization.Encoding.DER), "CA DER")
    with Responder("--ra", "split") as r:
        _, ctype, body = r.get("operation=GetCACert")
        assert_eq(ctype, "application/x-x509-ca-ra-cert", "content type")
        assert_eq([usage(c) for c in p7_certs(body)], ["ca", "s", "e"], "split usages")
        for pem in ("ra-sign.pem", "ra-enc.pem"):
            openssl("verify", "-CAfile", r.file("ca.pem"), r.file(pem))
    with Responder("--ra", "combined", "--ra-first") as r:
        assert_eq([usage(c) for c in p7_certs(r.get("operation=GetCACert")[2])], ["se", "ca"], "combined")
    with Responder("--intermediate", "--ra", "none") as r:
        certs = p7_certs(r.get("operation=GetCACert")[2])
        assert_eq([usage(c) for c in certs], ["ca", "ca"], "intermediate usages")
        assert_eq(certs[1].issuer, certs[0].subject, "issuing CA issued by root")


@check("scepclient: enrollment through the split RA, the issued certificate verifies")
def t_scepclient_enroll():
    with Responder("--challenge", "s3cret") as r:
        d = tempfile.mkdtemp(dir=TMP)
        p = run([SCEPCLIENT, "-server-url", r.url, "-challenge", "s3cret", "-private-key", d + "/key.pem",
                 "-certificate", d + "/cert.pem", "-cn", "selftest-scepclient"], check=False)
        assert p.returncode == 0 and os.path.exists(d + "/cert.pem"), p.stderr.decode()
        openssl("verify", "-CAfile", r.file("ca.pem"), d + "/cert.pem")
        text = openssl("x509", "-in", d + "/cert.pem", "-noout", "-subject", "-ext",
                       "keyUsage,extendedKeyUsage").stdout.decode()
        assert "CN = selftest-scepclient" in text and "TLS Web Client Authentication" in text, text
        log = r.log()
        assert_eq(log[-1]["message_type"], 19, "message type")
        assert_eq(log[-1]["challenge"], True, "challenge matched")
        # renewal: scepclient sends a RenewalReq signed by the certificate it holds
        os.remove(d + "/csr.pem")
        p = run([SCEPCLIENT, "-server-url", r.url, "-private-key", d + "/key.pem",
                 "-certificate", d + "/cert.pem", "-cn", "selftest-scepclient"], check=False)
        assert p.returncode == 0, p.stderr.decode()
        log = r.log()
        assert_eq((log[-1]["message_type"], log[-1]["renewal"], log[-1]["answer"]), (17, True, "success"),
                  "renewal")
        openssl("verify", "-CAfile", r.file("ca.pem"), d + "/cert.pem")
        assert_eq(openssl("x509", "-in", d + "/cert.pem", "-noout", "-serial").stdout, b"serial=03\n", "serial")


@check("scepclient: a wrong challenge gives FAILURE badRequest")
def t_scepclient_wrong_challenge():
    with Responder("--challenge", "s3cret") as r:
        d = tempfile.mkdtemp(dir=TMP)
        p = run([SCEPCLIENT, "-server-url", r.url, "-challenge", "wrong", "-private-key", d + "/key.pem",
                 "-certificate", d + "/cert.pem", "-cn", "selftest-bad"], check=False)
        out = (p.stdout + p.stderr).decode()
        assert "badRequest" in out, out
        assert not os.path.exists(d + "/cert.pem")
        assert_eq((r.log()[-1]["challenge"], r.log()[-1]["answer"]), (False, "failure:2"), "log")


def enroll(r, client, get=False, ra_enc="ra-enc.pem", cafile="ca.pem", certfile=None, legacy=False):
    der = client.message(19, client.csr(), r.file(ra_enc))
    status, ctype, rep = client.send(r, der, get=get)
    assert_eq((status, ctype), (200, "application/x-pki-message"), "HTTP")
    attrs = reply_attrs(rep)
    assert_eq(attrs["pkiStatus"], "0", "pkiStatus")
    assert_eq(attrs["recipientNonce"], client.sender_nonce, "recipientNonce")
    assert_eq(attrs["transactionID"], client.transaction_id, "transactionID")
    env = verify_reply(client, rep, r.file(cafile), certfile)
    return decrypt_issued(client, env, legacy=legacy)


@check("openssl client: PKCSReq by GET, reply verified and decrypted by openssl, SAN copied")
def t_openssl_get():
    with Responder("--challenge", "pw") as r:
        c = Client("selftest-get", challenge="pw")
        issued, _ = enroll(r, c, get=True)
        openssl("verify", "-CAfile", r.file("ca.pem"), issued)
        text = openssl("x509", "-in", issued, "-noout", "-ext", "subjectAltName").stdout.decode()
        assert "DNS:selftest-get.example.org" in text, text
        assert_eq(r.log()[-1]["method"], "GET", "method")


@check("NDES style: OAEP key transport, no certificates, SHA-1, single DES, intermediate CA")
def t_ndes_style():
    with Responder("--oaep", "--no-certs-in-reply", "--reply-digest", "sha1", "--reply-cipher", "des",
                   "--intermediate") as r:
        c = Client("selftest-ndes")
        der = c.message(19, c.csr(), r.file("ra-enc.pem"))
        status, _, rep = c.send(r, der)
        sd = cms.ContentInfo.load(rep)["content"]
        assert sd["certificates"].native is None, "certificates present"
        assert_eq(sd["signer_infos"][0]["digest_algorithm"]["algorithm"].native, "sha1", "digest")
        # openssl 3.0 cms has no -untrusted: the chain file (issuing CA + root) is the trust store
        openssl("verify", "-CAfile", r.file("ca.pem"), r.file("issuing-ca.pem"))
        env = verify_reply(c, rep, r.file("chain.pem"), r.file("ra-sign.pem"))
        ed = cms.ContentInfo.load(env)["content"]
        ktri = ed["recipient_infos"][0].chosen
        assert_eq(ktri["key_encryption_algorithm"]["algorithm"].native, "rsaes_oaep", "key transport")
        assert_eq(ktri["key_encryption_algorithm"]["parameters"].dump(), b"\x30\x00", "OAEP params")
        assert_eq(ed["encrypted_content_info"]["content_encryption_algorithm"]["algorithm"].native, "des", "cipher")
        issued, certs = decrypt_issued(c, env, legacy=True)
        openssl("verify", "-CAfile", r.file("ca.pem"), "-untrusted", r.file("issuing-ca.pem"), issued)
        assert certs.count("BEGIN CERTIFICATE") == 3, "issued + issuing CA + root"


@check("combined RA and --ra none: request encrypted to the certificate GetCACert names")
def t_ra_variants():
    with Responder("--ra", "combined", "--reply-cipher", "3des") as r:
        issued, _ = enroll(r, Client("selftest-comb"), ra_enc="ra.pem")
        openssl("verify", "-CAfile", r.file("ca.pem"), issued)
    with Responder("--ra", "none", "--reply-cipher", "aes256") as r:
        issued, _ = enroll(r, Client("selftest-none"), ra_enc="ca.pem")
        openssl("verify", "-CAfile", r.file("ca.pem"), issued)


def certpoll(r, c):
    # IssuerAndSubject ::= SEQUENCE { issuer Name, subject Name }
    csr = x509.load_der_x509_csr(c.csr())
    ca = x509.load_pem_x509_certificate(open(r.file("ca.pem"), "rb").read())
    body = core.Sequence.load(
        b"\x30" + der_len(len(ca.subject.public_bytes()) + len(csr.subject.public_bytes()))
        + ca.subject.public_bytes() + csr.subject.public_bytes()
    ).dump()
    return c.send(r, c.message(20, body, r.file("ra-enc.pem")))


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


@check("script: PENDING twice then SUCCESS through CertPoll, also across a restart")
def t_pending():
    state = tempfile.mkdtemp(dir=TMP)
    r = Responder(state_dir=state)
    try:
        r.control([{"status": "pending"}, {"status": "pending"}, {"status": "success"}])
        c = Client("selftest-pending")
        status, _, rep = c.send(r, c.message(19, c.csr(), r.file("ra-enc.pem")))
        a = reply_attrs(rep)
        assert_eq((a["pkiStatus"], a["recipientNonce"]), ("3", c.sender_nonce), "first pending")
        verify_reply(c, rep, r.file("ca.pem"), content=False)
        _, _, rep = certpoll(r, c)
        assert_eq(reply_attrs(rep)["pkiStatus"], "3", "second pending")
        r.stop()
        r = Responder(state_dir=state)
        r.control([{"status": "success"}])
        _, _, rep = certpoll(r, c)
        a = reply_attrs(rep)
        assert_eq((a["pkiStatus"], a["transactionID"], a["recipientNonce"]),
                  ("0", c.transaction_id, c.sender_nonce), "success after restart")
        issued, _ = decrypt_issued(c, verify_reply(c, rep, r.file("ca.pem")))
        openssl("verify", "-CAfile", r.file("ca.pem"), issued)
        assert_eq(r.log()[-1]["message_type"], 20, "CertPoll logged")
        _, _, rep = certpoll(r, c)
        assert_eq((reply_attrs(rep)["pkiStatus"], reply_attrs(rep)["failInfo"]), ("2", "4"), "poll after issue")
    finally:
        r.stop()


@check("script: FAILURE with any failInfo (7) and failInfoText")
def t_failure():
    with Responder() as r:
        r.control([{"status": "failure", "failinfo": 7, "failinfo_text": "manager said no"}])
        c = Client("selftest-fail")
        _, _, rep = c.send(r, c.message(19, c.csr(), r.file("ra-enc.pem")))
        a = reply_attrs(rep)
        assert_eq((a["pkiStatus"], a["failInfo"], a["failInfoText"]), ("2", "7", "manager said no"), "attrs")
        verify_reply(c, rep, r.file("ca.pem"), content=False)


@check("RenewalReq signed by a certificate not issued by this CA is refused")
def t_renewal_foreign():
    with Responder() as r:
        c = Client("selftest-foreign")
        _, _, rep = c.send(r, c.message(17, c.csr(), r.file("ra-enc.pem")))
        assert_eq((reply_attrs(rep)["pkiStatus"], reply_attrs(rep)["failInfo"]), ("2", "2"), "refused")


@check("PKCSReq signed by an issued certificate needs no challenge (renewal)")
def t_renewal_pkcsreq():
    with Responder("--challenge", "pw") as r:
        c = Client("selftest-r1", challenge="pw")
        issued, _ = enroll(r, c)
        c2 = Client("selftest-r1", key=c.key, cert=issued)  # same key, signed by the issued certificate
        issued2, _ = enroll(r, c2)
        assert_eq(r.log()[-1]["renewal"], True, "renewal")
        openssl("verify", "-CAfile", r.file("ca.pem"), issued2)


@check("GetCert, GetCRL (revoked renewed certificate), unknown serial -> badCertId")
def t_getcert_getcrl():
    with Responder() as r:
        c = Client("selftest-gc")
        issued, _ = enroll(r, c)
        cert = x509.load_pem_x509_certificate(open(issued, "rb").read())
        acert = ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
        ias = cms.IssuerAndSerialNumber({"issuer": acert.issuer, "serial_number": acert.serial_number}).dump()
        _, _, rep = c.send(r, c.message(21, ias, r.file("ra-enc.pem")))
        got, _ = decrypt_issued(c, verify_reply(c, rep, r.file("ca.pem")))
        assert_eq(open(got, "rb").read(), open(issued, "rb").read(), "GetCert")
        bad = cms.IssuerAndSerialNumber({"issuer": acert.issuer, "serial_number": 999999}).dump()
        _, _, rep = c.send(r, c.message(21, bad, r.file("ra-enc.pem")))
        assert_eq(reply_attrs(rep)["failInfo"], "4", "badCertId")
        # renew with PKCSReq signed by the issued cert: the old one is revoked
        c2 = Client("selftest-gc", key=c.key, cert=issued)
        enroll(r, c2)
        _, _, rep = c.send(r, c.message(22, ias, r.file("ra-enc.pem")))
        envp = c.save("crl-env.der", verify_reply(c, rep, r.file("ca.pem")))
        p7 = os.path.join(c.dir, "crl.p7")
        openssl("cms", "-decrypt", "-inform", "DER", "-in", envp, "-inkey", c.key, "-recip", c.signer,
                "-binary", "-out", p7)
        crl = openssl("pkcs7", "-inform", "DER", "-in", p7, "-print").stdout.decode()
        assert "crl:" in crl and "serialNumber: 2\n" in crl, crl


@check("GetNextCACert: signed by the current CA, carries the next CA; 404 without --next-ca")
def t_next_ca():
    with Responder("--next-ca") as r:
        assert "GetNextCACert" in r.get("operation=GetCACaps")[2].decode()
        status, ctype, body = r.get("operation=GetNextCACert")
        assert_eq((status, ctype), (200, "application/x-x509-next-ca-cert"), "reply")
        c = Client("selftest-next")
        inner = verify_reply(c, body, r.file("ca.pem"))
        certs = p7_certs(inner)
        nxt = x509.load_pem_x509_certificate(open(r.file("next-ca.pem"), "rb").read())
        assert_eq(certs, [nxt], "next CA")
    with Responder() as r:
        assert_eq(r.get("operation=GetNextCACert")[0], 404, "no next CA")


def hostile(r, step, c=None):
    r.control([step])
    c = c or Client("selftest-h")
    t = time.monotonic()
    status, ctype, rep = c.send(r, c.message(19, c.csr(), r.file("ra-enc.pem")))
    return c, status, ctype, rep, time.monotonic() - t


@check("hostile: bad-signature, wrong-signer, wrong-nonce, wrong-transaction-id, wrong-message-type")
def t_hostile_cms():
    with Responder() as r:
        c, _, _, rep, _ = hostile(r, {"hostile": "bad-signature"})
        p = openssl("cms", "-verify", "-inform", "DER", "-in", c.save("x.der", rep), "-noverify", "-out",
                    "/dev/null", check=False)
        # -noverify skips the chain: a failure here is the signature itself
        assert p.returncode != 0, "flipped signature verified"
        assert_eq(reply_attrs(rep)["pkiStatus"], "0", "still a plausible SUCCESS")
        c, _, _, rep, _ = hostile(r, {"hostile": "wrong-signer"})
        openssl("cms", "-verify", "-inform", "DER", "-in", c.save("x.der", rep), "-noverify", "-out", "/dev/null")
        p = openssl("cms", "-verify", "-inform", "DER", "-in", c.save("x.der", rep), "-CAfile", r.file("ca.pem"),
                    "-purpose", "any", "-out", "/dev/null", check=False)
        assert p.returncode != 0, "rogue signer accepted by openssl"
        assert "rogue" in reply_attrs(rep)["signer"], reply_attrs(rep)["signer"]
        c, _, _, rep, _ = hostile(r, {"hostile": "wrong-nonce"})
        assert reply_attrs(rep)["recipientNonce"] != c.sender_nonce
        verify_reply(c, rep, r.file("ca.pem"))
        c, _, _, rep, _ = hostile(r, {"status": "wrong-transaction-id"})
        assert reply_attrs(rep)["transactionID"] != c.transaction_id
        c, _, _, rep, _ = hostile(r, {"hostile": "wrong-message-type", "message_type": 19})
        assert_eq(reply_attrs(rep)["messageType"], "19", "message type")
        assert_eq([e["answer"] for e in r.log()][-1], "success+wrong-message-type", "log answer")


@check("hostile: replay, truncated, html-200, http-500-empty, wrong-content-type, huge")
def t_hostile_http():
    with Responder() as r:
        c, _, _, first, _ = hostile(r, {"status": "success"})
        c, status, _, rep, _ = hostile(r, {"hostile": "replay"})
        assert_eq(rep, first, "replayed bytes")
        c, status, ctype, rep, _ = hostile(r, {"hostile": "truncated"})
        assert_eq(rep[:2], b"\x30\x82", "starts like a CertRep")
        declared = int.from_bytes(rep[2:4], "big") + 4
        assert_eq(len(rep), declared // 2, "half of the DER")
        assert_eq(r.log()[-1]["answer"], "success+truncated", "log")
        c, status, ctype, rep, _ = hostile(r, {"hostile": "html-200"})
        assert_eq((status, ctype), (200, "text/html"), "html")
        assert rep.startswith(b"<html>")
        c, status, ctype, rep, _ = hostile(r, {"hostile": "http-500-empty"})
        assert_eq((status, rep), (500, b""), "500")
        c, status, ctype, rep, _ = hostile(r, {"hostile": "wrong-content-type"})
        assert_eq(ctype, "text/plain", "content type")
        verify_reply(c, rep, r.file("ca.pem"))
        c, status, ctype, rep, _ = hostile(r, {"hostile": "huge"})
        assert_eq((status, ctype, len(rep)), (200, "application/x-pki-message", 10 * 1024 * 1024), "huge")


@check("hostile: slow reply does not block other requests")
def t_hostile_slow():
    with Responder() as r:
        r.control([{"hostile": "slow", "delay": 2}])
        c = Client("selftest-slow")
        der = c.message(19, c.csr(), r.file("ra-enc.pem"))
        box = {}
        th = threading.Thread(target=lambda: box.update(res=c.send(r, der)))
        t = time.monotonic()
        th.start()
        time.sleep(0.3)
        assert_eq(r.get("operation=GetCACaps")[0], 200, "caps while slow")
        assert time.monotonic() - t < 1.5, "GetCACaps was blocked"
        th.join(10)
        assert time.monotonic() - t >= 2, "not slow"
        assert_eq(reply_attrs(box["res"][2])["pkiStatus"], "0", "slow then success")


@check("requests the responder cannot trust: bad signature -> badMessageCheck, garbage -> HTTP 400")
def t_bad_requests():
    with Responder() as r:
        c = Client("selftest-badreq")
        der = bytearray(c.message(19, c.csr(), r.file("ra-enc.pem")))
        sig = cms.ContentInfo.load(bytes(der))["content"]["signer_infos"][0]["signature"].native
        i = bytes(der).index(sig)
        der[i + 10] ^= 0xFF
        _, _, rep = c.send(r, bytes(der))
        assert_eq((reply_attrs(rep)["pkiStatus"], reply_attrs(rep)["failInfo"]), ("2", "1"), "badMessageCheck")
        assert "signature" in r.log()[-1]["error"], r.log()[-1]
        assert_eq(c.send(r, b"\x30\x03\x02\x01\x00")[0], 400, "garbage")


@check("control: bad scripts refused, last step repeats, log lists every request")
def t_control():
    with Responder() as r:
        status, _, body = r.http("POST", "/control", b'[{"status": "later"}]')
        assert_eq(status, 400, "bad status refused")
        status, _, _ = r.http("POST", "/control", b'[{"hostile": "explode"}]')
        assert_eq(status, 400, "bad hostile refused")
        r.control({"script": [{"status": "failure", "failinfo": 0}, {"status": "pending"}], "clear_log": True})
        answers = []
        for _ in range(3):
            c = Client("selftest-ctl")
            _, _, rep = c.send(r, c.message(19, c.csr(), r.file("ra-enc.pem")))
            answers.append(reply_attrs(rep)["pkiStatus"])
        assert_eq(answers, ["2", "3", "3"], "steps")
        log = r.log()
        assert_eq([(e["operation"], e["step"], e["answer"]) for e in log],
                  [("PKIOperation", 0, "failure:0"), ("PKIOperation", 1, "pending"), ("PKIOperation", 1, "pending")],
                  "log")
        assert '"message_type": 19' in r.http("GET", "/log")[2].decode()


def main():
    global RESULTS
    if len(sys.argv) > 1:  # run only the checks whose name contains an argument
        RESULTS = [(n, f) for n, f in RESULTS if any(a in n for a in sys.argv[1:])]
    missing = [n for n, p in (("openssl", OPENSSL), ("scepclient (Debian package scep)", SCEPCLIENT)) if p is None]
    print("1..%d" % len(RESULTS))
    failed = 0
    for i, (name, fn) in enumerate(RESULTS, 1):
        t = time.monotonic()
        try:
            if missing:
                raise AssertionError("missing tools: %s" % ", ".join(missing))
            fn()
            print("ok %d - %s (%.1fs)" % (i, name, time.monotonic() - t))
        except Exception:
            failed += 1
            print("not ok %d - %s" % (i, name))
            for line in traceback.format_exc().splitlines():
                print("# " + line)
        sys.stdout.flush()
    shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
