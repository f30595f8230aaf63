#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""scep-responder: a scriptable SCEP server (RFC 8894) for tests.

Written against an independent crypto stack (asn1crypto for the structures,
python3-cryptography for RSA, ciphers and X.509 building), never against the
project's own ndes/ code, so that a bug on both sides cannot pass unseen.
Run it with Debian's /usr/bin/python3 (it has both modules).

Start-up
  Listens on 127.0.0.1 (port 0 unless --port) and prints exactly one line to
  stdout once it accepts connections:  READY http://127.0.0.1:PORT/scep
  Everything else goes to stderr.  SIGTERM ends it.
  The SCEP path is /scep; /certsrv/mscep/mscep.dll and /cgi-bin/pkiclient.exe
  are served too.

Options
  --state-dir DIR      keys, certificates, serial counter, issued certificates
                       and pending transactions live here; a restarted
                       responder with the same DIR keeps its CA and its pending
                       transactions (default: a fresh temporary directory)
  --ra split|combined|none
                       split (default, NDES style): RA signing certificate
                       (digitalSignature) + RA encryption certificate
                       (keyEncipherment); combined: one RA certificate with
                       both; none: the CA signs and decrypts itself
  --intermediate       root CA -> issuing CA -> RA and end-entity certificates
  --ra-first           put the RA certificates first in GetCACert (NDES order);
                       default order is CA, intermediates, RA
  --caps LIST          comma separated GetCACaps list (default
                       POSTPKIOperation,SHA-256,SHA-512,SHA-1,AES,DES3,Renewal,
                       SCEPStandard and GetNextCACert with --next-ca)
  --cacaps-status N    answer GetCACaps with HTTP status N and an empty body
  --next-ca            have a next CA for GetNextCACert (else HTTP 404)
  --ca-valid-seconds N validity of the CA certificates made at start-up (root and
                       issuing CA; default 3650 days)
  --ca-age-seconds N   they became valid N seconds ago (default 60), so that a
                       CA's rollover point or expiry is near without waiting
  --challenge X        PKCSReq must carry challengePassword X (renewals signed
                       by a certificate of this CA need none)
  --valid-days N       validity of issued certificates (default 365)
  --valid-seconds N    validity in seconds (overrides --valid-days)
  --reply-digest sha256|sha1|sha512
                       digest of CertRep signatures (default sha256)
  --reply-cipher aes128|aes256|3des|des
                       content cipher of CertRep envelopes (default aes128)
  --oaep               wrap the CertRep content key with RSAES-OAEP
                       (SHA-1, MGF1-SHA-1, empty parameters) as real NDES does;
                       default RSAES-PKCS1-v1_5
  --no-certs-in-reply  no certificates in the CertRep SignedData (NDES style)
  --script FILE.json   initial script (see below)
  --port N, --port-file FILE (the port number is written there when ready)
  --key-dir DIR        take NAME.key from DIR instead of generating a key for
                       NAME (ca, issuing-ca, ra-sign, ra-enc, ra, rogue,
                       next-ca); tests/data/responder/keys holds such keys
  --watch-stdin        exit when stdin reaches end of file (the parent died)

Operations
  GET  ?operation=GetCACaps | GetCACert | GetNextCACert
  GET  ?operation=PKIOperation&message=<percent-encoded standard base64>
  POST ?operation=PKIOperation  with the raw DER body
  GetCACert: one DER certificate (application/x-x509-ca-cert) with --ra none
  and no --intermediate, else a degenerate PKCS#7 (application/x-x509-ca-ra-cert).
  PKIOperation message types: PKCSReq 19, RenewalReq 17, CertPoll 20
  (IssuerAndSubject), GetCert 21 and GetCRL 22 (IssuerAndSerialNumber).
  Requests are checked: the SignedData signature over the signed attributes
  with the embedded signer certificate, the messageDigest, and the envelope is
  decrypted (PKCS#1 v1.5 or OAEP; DES, 3DES, AES-128/192/256-CBC).  A request
  that fails a check gets FAILURE badMessageCheck (1); a wrong challenge gets
  FAILURE badRequest (2); an unknown certificate or transaction badCertId (4).

Script (--script FILE, or POST /control)
  A JSON list of steps; one step is consumed per PKIOperation, the last one
  repeats.  Without a script every request is answered as its content merits
  (status "success").  Step keys:
    "status": "success" | "pending" | "failure"
    "failinfo": integer (any, also > 4; default 2), "failinfo_text": string
    "delay": seconds to wait before answering (other requests are not blocked)
    "subject_cn": the issued certificate gets this CN instead of the requested
                  subject (a CA that writes its own subject, as NDES templates
                  that take it from the directory do)
    "hostile": one of
        bad-signature         one byte of the CertRep signature flipped
        wrong-signer          valid signature by a key/certificate that is not
                              the RA or CA (its self-signed certificate included)
        wrong-nonce           recipientNonce is not the request's senderNonce
        wrong-transaction-id  transactionID is not the request's
        wrong-message-type    messageType "message_type" (default 19) instead of 3
        replay                the previous CertRep again, byte for byte
        truncated             the CertRep DER cut in half
        html-200              an HTML page, status 200, text/html
        http-500-empty        status 500, empty body
        slow                  like "delay" (default 10 s), then a normal answer
        huge                  a 10 MiB application/x-pki-message body, streamed
        wrong-content-type    a valid CertRep sent as text/plain
  "status" may also name a hostile action directly ({"status": "html-200"}).
  A pending PKCSReq is remembered under its transactionID; a later CertPoll for
  it consumes the next step (success issues the certificate).

Control
  POST /control  body: a JSON list (the new script, step counter reset) or an
                 object {"script": [...], "clear_log": true, "caps": [...],
                 "rollover": true}
                 "rollover" (needs --next-ca): the next CA becomes the issuing CA
                 and root, with new RA certificates it issued; GetCACert serves
                 them, GetNextCACert answers 404 from then on, and requests
                 signed by certificates of the previous CA still count as
                 renewals (as AD CS accepts them after a CA renewal)
  GET  /log      JSON list of the requests seen, in order; each entry is
                 {"operation", "method", "message_type", "transaction_id",
                  "challenge", "renewal", "step", "answer", "error"}
                 written with json.dumps defaults (", " and ": " separators),
                 e.g. "message_type": 20 or "answer": "pending"
  GET  /control  the current script
"""

import argparse
import base64
import datetime
import json
import os
import secrets
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from asn1crypto import algos, cms, core, parser
from asn1crypto import crl as acrl
from asn1crypto import csr as acsr
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as sympadding
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

OID_MESSAGE_TYPE = "2.16.840.1.113733.1.9.2"
OID_PKI_STATUS = "2.16.840.1.113733.1.9.3"
OID_FAIL_INFO = "2.16.840.1.113733.1.9.4"
OID_SENDER_NONCE = "2.16.840.1.113733.1.9.5"
OID_RECIPIENT_NONCE = "2.16.840.1.113733.1.9.6"
OID_TRANSACTION_ID = "2.16.840.1.113733.1.9.7"
OID_FAIL_INFO_TEXT = "1.3.6.1.5.5.7.24.1"

MSG_CERTREP = 3
MSG_RENEWALREQ = 17
MSG_PKCSREQ = 19
MSG_CERTPOLL = 20
MSG_GETCERT = 21
MSG_GETCRL = 22
MSG_NAMES = {
    3: "CertRep",
    17: "RenewalReq",
    18: "UpdateReq",
    19: "PKCSReq",
    20: "CertPoll",
    21: "GetCert",
    22: "GetCRL",
}

FAIL_BAD_MESSAGE_CHECK = 1
FAIL_BAD_REQUEST = 2
FAIL_BAD_CERT_ID = 4

HOSTILE = {
    "bad-signature",
    "wrong-signer",
    "wrong-nonce",
    "wrong-transaction-id",
    "wrong-message-type",
    "replay",
    "truncated",
    "html-200",
    "http-500-empty",
    "slow",
    "huge",
    "wrong-content-type",
}

HASHES = {
    "md5": hashes.MD5,
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}

DEFAULT_CAPS = [
    "POSTPKIOperation",
    "SHA-256",
    "SHA-512",
    "SHA-1",
    "AES",
    "DES3",
    "Renewal",
    "SCEPStandard",
]

SCEP_PATHS = ("/scep", "/certsrv/mscep/mscep.dll", "/cgi-bin/pkiclient.exe")


class RequestError(Exception):
    """A request we cannot even answer with a CertRep (HTTP 400)."""


def log(msg):
    sys.stderr.write("scep-responder: %s\n" % msg)
    sys.stderr.flush()


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


# ---- key and certificate files ----


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def key_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def name_of(cn):
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "scep-agent tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def key_usage(digital_signature=False, key_encipherment=False, ca=False):
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def build_cert(subject, pub, issuer_name, issuer_key, serial, not_after, ca, usage, eku=None,
               san=None, issuer_pub=None, not_before=None):
    nb = not_before or now_utc() - datetime.timedelta(seconds=60)
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(pub)
        .serial_number(serial)
        .not_valid_before(nb)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_pub or issuer_key.public_key()),
            critical=False,
        )
    )
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if san is not None:
        b = b.add_extension(san, critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Identity:
    """A certificate and its key, kept as NAME.pem / NAME.key in the state dir."""

    def __init__(self, cert, key):
        self.cert = cert
        self.key = key
        self.der = cert.public_bytes(serialization.Encoding.DER)
        self.acert = ax509.Certificate.load(self.der)


KEY_DIR = None


def load_or_create(state_dir, name, make):
    cpath = os.path.join(state_dir, name + ".pem")
    kpath = os.path.join(state_dir, name + ".key")
    if os.path.exists(cpath) and os.path.exists(kpath):
        with open(cpath, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        with open(kpath, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
        return Identity(cert, key)
    if KEY_DIR and os.path.exists(os.path.join(KEY_DIR, name + ".key")):
        # pre-generated test keys: RSA key generation is the slowest part of start-up
        with open(os.path.join(KEY_DIR, name + ".key"), "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
    else:
        key = new_key()
    cert = make(key)
    write_atomic(kpath, key_pem(key))
    os.chmod(kpath, 0o600)
    write_atomic(cpath, cert_pem(cert))
    return Identity(cert, key)


# ---- CMS helpers (asn1crypto structure, cryptography primitives) ----


def attr(oid, value):
    """One CMS attribute whose single value is the asn1crypto object VALUE."""
    return cms.CMSAttribute({"type": cms.CMSAttributeType(oid), "values": [core.Any.load(value.dump())]})


def attr_value(signed_attrs, oid):
    for a in signed_attrs:
        if a["type"].dotted == oid:
            vals = list(a["values"])
            if not vals:
                return None
            return core.load(vals[0].dump()).native
    return None


def sorted_attrs(attrs):
    """DER SET OF: members ordered by their encodings."""
    return cms.CMSAttributes(sorted(attrs, key=lambda a: a.dump()))


def der_header(tag, length):
    if length < 0x80:
        return bytes([tag, length])
    n = (length.bit_length() + 7) // 8
    return bytes([tag, 0x80 | n]) + length.to_bytes(n, "big")


def certificate_set(certs_der):
    """A CertificateSet in the order given: asn1crypto would sort a SET OF it builds,
    and clients take the first certificate of a degenerate PKCS#7 as the issued one."""
    body = b"".join(certs_der)
    return cms.CertificateSet.load(der_header(0x31, len(body)) + body)


def degenerate_p7(certs_der, crls_der=()):
    sd = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [],
            "encap_content_info": {"content_type": "data"},
            "certificates": certificate_set(certs_der),
            "signer_infos": [],
        }
    )
    if crls_der:
        sd["crls"] = [cms.RevocationInfoChoice({"crl": acrl.CertificateList.load(c)}) for c in crls_der]
    return cms.ContentInfo({"content_type": "signed_data", "content": sd}).dump()


def unpad(data, block):
    if not data or len(data) % block:
        raise RequestError("encrypted content is not a whole number of blocks")
    n = data[-1]
    if n < 1 or n > block or data[-n:] != bytes([n]) * n:
        raise RequestError("bad block cipher padding")
    return data[:-n]


def cipher_for(name, key, iv):
    if name in ("des", "tripledes_3key"):
        return Cipher(algorithms.TripleDES(key), modes.CBC(iv)), 8
    return Cipher(algorithms.AES(key), modes.CBC(iv)), 16


REPLY_CIPHERS = {
    "aes128": ("aes128_cbc", 16, 16),
    "aes192": ("aes192_cbc", 24, 16),
    "aes256": ("aes256_cbc", 32, 16),
    "3des": ("tripledes_3key", 24, 8),
    "des": ("des", 8, 8),
}


def envelope(content, recipient_acert, recipient_pub, cipher="aes128", oaep=False):
    """EnvelopedData ContentInfo (DER) holding CONTENT for one recipient."""
    alg, klen, block = REPLY_CIPHERS[cipher]
    key = secrets.token_bytes(klen)
    iv = secrets.token_bytes(block)
    c, _ = cipher_for(alg, key, iv)
    padder = sympadding.PKCS7(block * 8).padder()
    padded = padder.update(content) + padder.finalize()
    enc = c.encryptor()
    ciphertext = enc.update(padded) + enc.finalize()
    if oaep:
        wrapped = recipient_pub.encrypt(
            key, padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
        )
        kea = cms.KeyEncryptionAlgorithm({"algorithm": "rsaes_oaep", "parameters": algos.RSAESOAEPParams.load(b"\x30\x00")})
    else:
        wrapped = recipient_pub.encrypt(key, padding.PKCS1v15())
        kea = cms.KeyEncryptionAlgorithm({"algorithm": "rsaes_pkcs1v15", "parameters": core.Null()})
    ktri = cms.KeyTransRecipientInfo(
        {
            "version": "v0",
            "rid": cms.RecipientIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {"issuer": recipient_acert.issuer, "serial_number": recipient_acert.serial_number}
                    )
                }
            ),
            "key_encryption_algorithm": kea,
            "encrypted_key": wrapped,
        }
    )
    ed = cms.EnvelopedData(
        {
            "version": "v0",
            "recipient_infos": [cms.RecipientInfo({"ktri": ktri})],
            "encrypted_content_info": {
                "content_type": "data",
                "content_encryption_algorithm": {"algorithm": alg, "parameters": core.OctetString(iv)},
                "encrypted_content": ciphertext,
            },
        }
    )
    return cms.ContentInfo({"content_type": "enveloped_data", "content": ed}).dump()


def octets(method, contents):
    """The bytes of an OCTET STRING, primitive or constructed (BER segments)."""
    if method == 0:
        return contents
    out = b""
    while contents:
        _cls, m, _tag, header, inner, trailer = parser.parse(contents, strict=False)
        out += octets(m, inner)
        contents = contents[len(header) + len(inner) + len(trailer):]
    return out


def encrypted_content_bytes(eci):
    """encryptedContent [0] IMPLICIT OCTET STRING, which many clients send constructed."""
    rest = eci.contents
    while rest:
        cls, m, tag, header, inner, trailer = parser.parse(rest, strict=False)
        if cls == 2 and tag == 0:
            return octets(m, inner)
        rest = rest[len(header) + len(inner) + len(trailer):]
    return b""


def decrypt_envelope(der, identities):
    """Decrypt an EnvelopedData ContentInfo with the first identity it is addressed to."""
    ci = cms.ContentInfo.load(der)
    if ci["content_type"].native != "enveloped_data":
        raise RequestError("pkcsPKIEnvelope is %s, not enveloped_data" % ci["content_type"].native)
    ed = ci["content"]
    key = None
    for ri in ed["recipient_infos"]:
        if ri.name != "ktri":
            continue
        ktri = ri.chosen
        rid = ktri["rid"]
        for ident in identities:
            if rid.name == "issuer_and_serial_number":
                ias = rid.chosen
                if ias["serial_number"].native != ident.acert.serial_number:
                    continue
                if ias["issuer"].dump() != ident.acert.issuer.dump() and ias["issuer"] != ident.acert.issuer:
                    continue
            alg = ktri["key_encryption_algorithm"]["algorithm"].native
            ek = ktri["encrypted_key"].native
            try:
                if alg == "rsaes_oaep":
                    params = ktri["key_encryption_algorithm"]["parameters"]
                    h = HASHES[params["hash_algorithm"]["algorithm"].native]()
                    mh = HASHES[params["mask_gen_algorithm"]["parameters"]["algorithm"].native]()
                    key = ident.key.decrypt(ek, padding.OAEP(mgf=padding.MGF1(mh), algorithm=h, label=None))
                else:
                    key = ident.key.decrypt(ek, padding.PKCS1v15())
            except ValueError:
                continue
            break
        if key is not None:
            break
    if key is None:
        raise RequestError("no recipient info this responder can decrypt")
    eci = ed["encrypted_content_info"]
    calg = eci["content_encryption_algorithm"]
    name = calg["algorithm"].native
    if name not in ("des", "tripledes_3key", "aes128_cbc", "aes192_cbc", "aes256_cbc"):
        raise RequestError("content encryption %s not supported" % name)
    params = calg["parameters"]
    if params.native is None:
        iv = bytes(8 if name in ("des", "tripledes_3key") else 16)
    else:
        iv = calg.encryption_iv
    c, block = cipher_for(name, key, iv)
    dec = c.decryptor()
    data = encrypted_content_bytes(eci)
    plain = dec.update(data) + dec.finalize()
    return unpad(plain, block), name


# ---- the CA ----


class Ca:
    def __init__(self, args):
        self.args = args
        self.dir = args.state_dir
        os.makedirs(os.path.join(self.dir, "issued"), exist_ok=True)
        self.lock = threading.RLock()
        far = now_utc() + datetime.timedelta(days=3650)
        ca_nb = None
        ca_na = far
        if args.ca_age_seconds is not None:
            ca_nb = now_utc() - datetime.timedelta(seconds=args.ca_age_seconds)
        if args.ca_valid_seconds is not None:
            ca_na = (ca_nb or now_utc() - datetime.timedelta(seconds=60)) + datetime.timedelta(seconds=args.ca_valid_seconds)
        # certificates issued by a previous CA (after a rollover) still count as ours
        self.previous = []

        def make_root(key):
            return build_cert(
                name_of("scep-agent test root CA"),
                key.public_key(),
                name_of("scep-agent test root CA"),
                key,
                x509.random_serial_number(),
                ca_na,
                True,
                key_usage(digital_signature=True, ca=True),
                not_before=ca_nb,
            )

        self.root = load_or_create(self.dir, "ca", make_root)
        if args.intermediate:

            def make_issuing(key):
                return build_cert(
                    name_of("scep-agent test issuing CA"),
                    key.public_key(),
                    self.root.cert.subject,
                    self.root.key,
                    x509.random_serial_number(),
                    ca_na,
                    True,
                    key_usage(digital_signature=True, ca=True),
                    not_before=ca_nb,
                )

            self.issuing = load_or_create(self.dir, "issuing-ca", make_issuing)
            self.chain = [self.issuing, self.root]
        else:
            self.issuing = self.root
            self.chain = [self.root]
        self.ra_sign = self.ra_enc = None
        if args.ra == "split":
            self.ra_sign = load_or_create(self.dir, "ra-sign", self._make_ra("scep-agent test RA signing", True, False))
            self.ra_enc = load_or_create(self.dir, "ra-enc", self._make_ra("scep-agent test RA encryption", False, True))
        elif args.ra == "combined":
            self.ra_sign = self.ra_enc = load_or_create(self.dir, "ra", self._make_ra("scep-agent test RA", True, True))
        self.signer = self.ra_sign or self.issuing
        self.decrypters = [i for i in (self.ra_enc, self.issuing) if i is not None]

        def make_rogue(key):
            return build_cert(
                name_of("scep-agent rogue signer"),
                key.public_key(),
                name_of("scep-agent rogue signer"),
                key,
                x509.random_serial_number(),
                far,
                False,
                key_usage(digital_signature=True, key_encipherment=True),
            )

        self.rogue = load_or_create(self.dir, "rogue", make_rogue)
        self.next = None
        if args.next_ca:

            def make_next(key):
                return build_cert(
                    name_of("scep-agent test next CA"),
                    key.public_key(),
                    name_of("scep-agent test next CA"),
                    key,
                    x509.random_serial_number(),
                    far + datetime.timedelta(days=3650),
                    True,
                    key_usage(digital_signature=True, ca=True),
                )

            self.next = load_or_create(self.dir, "next-ca", make_next)
        with open(os.path.join(self.dir, "chain.pem"), "wb") as f:
            for ident in self.chain:
                f.write(cert_pem(ident.cert))
        self.state_path = os.path.join(self.dir, "state.json")
        if os.path.exists(self.state_path):
            with open(self.state_path) as f:
                self.state = json.load(f)
        else:
            self.state = {"next_serial": 2, "pending": {}, "revoked": []}
            self.save()

    def _make_ra(self, cn, sign, enc):
        def make(key):
            return build_cert(
                name_of(cn),
                key.public_key(),
                self.issuing.cert.subject,
                self.issuing.key,
                x509.random_serial_number(),
                now_utc() + datetime.timedelta(days=3650),
                False,
                key_usage(digital_signature=sign, key_encipherment=enc),
            )

        return make

    def save(self):
        write_atomic(self.state_path, json.dumps(self.state, indent=1).encode())

    def ca_certs_der(self):
        """Certificates of GetCACert, in the configured order."""
        cas = [i.der for i in reversed(self.chain)]
        ras = []
        if self.ra_sign is not None:
            ras.append(self.ra_sign.der)
        if self.ra_enc is not None and self.ra_enc is not self.ra_sign:
            ras.append(self.ra_enc.der)
        return ras + cas if self.args.ra_first else cas + ras

    def issued_by_us(self, cert):
        """True when CERT was issued by our issuing CA, or by one it replaced in a rollover
        (signature checked)."""
        for ca in [self.issuing] + self.previous:
            if cert.issuer != ca.cert.subject:
                continue
            try:
                ca.cert.public_key().verify(
                    cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm
                )
            except Exception:
                continue
            return os.path.exists(self.issued_path(cert.serial_number))
        return False

    def rollover(self):
        """The next CA takes over: it issues from now on, with RA certificates of its own."""
        if self.next is None:
            raise ValueError("no next CA (start with --next-ca)")
        with self.lock:
            self.previous.append(self.issuing)
            self.root = self.issuing = self.next
            self.chain = [self.next]
            self.next = None
            if self.args.ra == "split":
                self.ra_sign = load_or_create(self.dir, "next-ra-sign", self._make_ra("scep-agent test next RA signing", True, False))
                self.ra_enc = load_or_create(self.dir, "next-ra-enc", self._make_ra("scep-agent test next RA encryption", False, True))
            elif self.args.ra == "combined":
                self.ra_sign = self.ra_enc = load_or_create(self.dir, "next-ra", self._make_ra("scep-agent test next RA", True, True))
            self.signer = self.ra_sign or self.issuing
            # requests encrypted for the previous RA or CA still decrypt
            self.decrypters = [i for i in (self.ra_enc, self.issuing) if i is not None] + self.decrypters
        log("rollover: the next CA issues from now on")

    def issued_path(self, serial):
        return os.path.join(self.dir, "issued", "%x.pem" % serial)

    def issue(self, csr_der, revoke=None, subject_cn=None):
        csr = x509.load_der_x509_csr(csr_der)
        try:
            san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            san = None
        if self.args.valid_seconds is not None:
            not_after = now_utc() + datetime.timedelta(seconds=self.args.valid_seconds)
        else:
            not_after = now_utc() + datetime.timedelta(days=self.args.valid_days)
        with self.lock:
            serial = self.state["next_serial"]
            self.state["next_serial"] = serial + 1
            if revoke is not None and revoke not in self.state["revoked"]:
                self.state["revoked"].append(revoke)
            self.save()
        subject = csr.subject
        if subject_cn is not None:
            subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
        cert = build_cert(
            subject,
            csr.public_key(),
            self.issuing.cert.subject,
            self.issuing.key,
            serial,
            not_after,
            False,
            key_usage(digital_signature=True, key_encipherment=True),
            eku=[ExtendedKeyUsageOID.CLIENT_AUTH],
            san=san,
        )
        write_atomic(self.issued_path(serial), cert_pem(cert))
        return cert

    def find_issued(self, serial):
        path = self.issued_path(serial)
        if not os.path.exists(path):
            return None
        with open(path, "rb") as f:
            return x509.load_pem_x509_certificate(f.read())

    def crl_der(self):
        b = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.issuing.cert.subject)
            .last_update(now_utc() - datetime.timedelta(seconds=60))
            .next_update(now_utc() + datetime.timedelta(days=7))
        )
        for serial in self.state["revoked"]:
            b = b.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(now_utc() - datetime.timedelta(seconds=30))
                .build()
            )
        return b.sign(self.issuing.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def sign(self, content, attrs, signer, digest, include_certs):
        """SignedData ContentInfo over CONTENT (bytes or None) with ATTRS signed."""
        h = HASHES[digest]
        md = hashes.Hash(h())
        md.update(content or b"")
        all_attrs = list(attrs) + [
            cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            cms.CMSAttribute({"type": "message_digest", "values": [md.finalize()]}),
            cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": now_utc()})]}),
        ]
        signed = sorted_attrs(all_attrs)
        sig = signer.key.sign(signed.dump(), padding.PKCS1v15(), h())
        si = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    {
                        "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                            {"issuer": signer.acert.issuer, "serial_number": signer.acert.serial_number}
                        )
                    }
                ),
                "digest_algorithm": {"algorithm": digest},
                "signed_attrs": signed,
                "signature_algorithm": {"algorithm": "rsassa_pkcs1v15"},
                "signature": sig,
            }
        )
        eci = {"content_type": "data"}
        if content is not None:
            eci["content"] = content
        sd = {
            "version": "v1",
            "digest_algorithms": [{"algorithm": digest}],
            "encap_content_info": eci,
            "signer_infos": [si],
        }
        if include_certs:
            sd["certificates"] = certificate_set([c.der for c in include_certs])
        return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(sd)}).dump()


# ---- requests ----


class PkiRequest:
    """A parsed and checked PKIOperation message."""

    def __init__(self, der, ca):
        try:
            ci = cms.ContentInfo.load(der)
            if ci["content_type"].native != "signed_data":
                raise RequestError("not a SignedData but %s" % ci["content_type"].native)
            sd = ci["content"]
            sis = list(sd["signer_infos"])
            if len(sis) != 1:
                raise RequestError("%d signer infos" % len(sis))
            si = sis[0]
            attrs = si["signed_attrs"]
            self.message_type = int(attr_value(attrs, OID_MESSAGE_TYPE))
            self.transaction_id = attr_value(attrs, OID_TRANSACTION_ID)
            self.sender_nonce = attr_value(attrs, OID_SENDER_NONCE)
        except RequestError:
            raise
        except Exception as e:
            raise RequestError("cannot parse the request: %r" % e)
        if self.transaction_id is None or self.sender_nonce is None:
            raise RequestError("transactionID or senderNonce missing")
        self.error = None
        self.content = None
        self.content_cipher = None
        self.signer_cert = None
        self.signer_acert = None
        self.digest = si["digest_algorithm"]["algorithm"].native
        # the signer certificate: the one the sid names, among the certificates sent
        sid = si["sid"]
        for c in sd["certificates"] or []:
            if c.name != "certificate":
                continue
            ac = c.chosen
            if sid.name == "issuer_and_serial_number":
                if ac.serial_number == sid.chosen["serial_number"].native and ac.issuer == sid.chosen["issuer"]:
                    self.signer_acert = ac
            elif ac.key_identifier == sid.chosen.native:
                self.signer_acert = ac
        if self.signer_acert is None:
            self.error = "signer certificate not in the request"
            return
        self.signer_cert = x509.load_der_x509_certificate(self.signer_acert.dump())
        econtent = sd["encap_content_info"]["content"]
        econtent = econtent.native if econtent is not None else None
        if isinstance(econtent, core.Asn1Value):
            econtent = econtent.dump()
        try:
            h = HASHES[self.digest]
            md = hashes.Hash(h())
            md.update(econtent or b"")
            if attr_value(attrs, "1.2.840.113549.1.9.4") != md.finalize():
                self.error = "messageDigest does not match the content"
                return
            signed = b"\x31" + attrs.dump()[1:]
            self.signer_cert.public_key().verify(si["signature"].native, signed, padding.PKCS1v15(), h())
        except Exception as e:
            self.error = "request signature does not verify: %r" % e
            return
        if econtent is None:
            self.error = "request has no content"
            return
        try:
            self.content, self.content_cipher = decrypt_envelope(econtent, ca.decrypters)
        except Exception as e:
            self.error = "cannot decrypt the request: %s" % e


# ---- the HTTP server ----


class Responder:
    def __init__(self, args):
        self.args = args
        self.ca = Ca(args)
        self.lock = threading.Lock()
        self.script = []
        self.step_index = 0
        self.log = []
        self.last_reply = None
        self.caps = list(args.caps) if args.caps else list(DEFAULT_CAPS) + (["GetNextCACert"] if args.next_ca else [])
        if args.script:
            with open(args.script) as f:
                self.set_script(json.load(f))

    def set_script(self, steps):
        if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
            raise ValueError("a script is a JSON list of objects")
        for s in steps:
            st = s.get("status", "success")
            if st in HOSTILE:
                s.setdefault("hostile", st)
                s["status"] = "success"
            elif st not in ("success", "pending", "failure"):
                raise ValueError("unknown status %r" % st)
            if "hostile" in s and s["hostile"] not in HOSTILE:
                raise ValueError("unknown hostile action %r" % s["hostile"])
        with self.lock:
            self.script = steps
            self.step_index = 0

    def next_step(self):
        with self.lock:
            if not self.script:
                return -1, {"status": "success"}
            i = min(self.step_index, len(self.script) - 1)
            self.step_index += 1
            return i, dict(self.script[i])

    def record(self, entry):
        with self.lock:
            self.log.append(entry)
        log(" ".join("%s=%s" % (k, v) for k, v in entry.items() if v is not None))


def certrep(resp, req, status, failinfo=None, failinfo_text=None, content=None, step=None):
    """Build a CertRep answering REQ (hostile twists from STEP applied)."""
    step = step or {}
    hostile = step.get("hostile")
    ca = resp.ca
    attrs = [
        attr(OID_MESSAGE_TYPE, core.PrintableString(str(step.get("message_type", 19)) if hostile == "wrong-message-type" else "3")),
        attr(OID_PKI_STATUS, core.PrintableString({"success": "0", "failure": "2", "pending": "3"}[status])),
        attr(
            OID_TRANSACTION_ID,
            core.PrintableString("deadbeef" + secrets.token_hex(8) if hostile == "wrong-transaction-id" else req.transaction_id),
        ),
        attr(OID_SENDER_NONCE, core.OctetString(secrets.token_bytes(16))),
        attr(OID_RECIPIENT_NONCE, core.OctetString(secrets.token_bytes(16) if hostile == "wrong-nonce" else req.sender_nonce)),
    ]
    if status == "failure":
        attrs.append(attr(OID_FAIL_INFO, core.PrintableString(str(failinfo))))
        if failinfo_text:
            attrs.append(attr(OID_FAIL_INFO_TEXT, core.UTF8String(failinfo_text)))
    body = None
    if status == "success" and content is not None:
        body = envelope(
            content,
            req.signer_acert,
            req.signer_cert.public_key(),
            cipher=resp.args.reply_cipher,
            oaep=resp.args.oaep,
        )
    signer = ca.rogue if hostile == "wrong-signer" else ca.signer
    certs = None if resp.args.no_certs_in_reply else [signer] + ([] if signer is ca.issuing else [ca.issuing])
    if hostile == "wrong-signer":
        certs = [ca.rogue]
    der = ca.sign(body, attrs, signer, resp.args.reply_digest, certs)
    if hostile == "bad-signature":
        sd = cms.ContentInfo.load(der)
        si = sd["content"]["signer_infos"][0]
        sig = bytearray(si["signature"].native)
        sig[len(sig) // 2] ^= 0x01
        si["signature"] = bytes(sig)
        der = sd.dump(force=True)
    return der


def handle_pki(resp, req, step, entry):
    """The answer (status, failinfo, text, content) to a checked request."""
    ca = resp.ca
    status = step.get("status", "success")
    failinfo = step.get("failinfo", FAIL_BAD_REQUEST)
    text = step.get("failinfo_text")
    if req.error is not None:
        entry["error"] = req.error
        return "failure", FAIL_BAD_MESSAGE_CHECK, None, None
    mt = req.message_type
    if mt in (MSG_PKCSREQ, MSG_RENEWALREQ, 18):
        try:
            csr = x509.load_der_x509_csr(req.content)
            if not csr.is_signature_valid:
                raise ValueError("CSR signature invalid")
            cri = acsr.CertificationRequest.load(req.content)["certification_request_info"]
            challenge = None
            for a in cri["attributes"]:
                if a["type"].native == "challenge_password":
                    challenge = a["values"][0].native
        except Exception as e:
            entry["error"] = "bad CSR: %s" % e
            return "failure", FAIL_BAD_REQUEST, None, None
        renewal = ca.issued_by_us(req.signer_cert)
        entry["renewal"] = renewal
        if resp.args.challenge is not None:
            entry["challenge"] = challenge == resp.args.challenge
        if mt == MSG_RENEWALREQ and not renewal:
            entry["error"] = "RenewalReq not signed by a certificate of this CA"
            return "failure", FAIL_BAD_REQUEST, None, None
        if not renewal and resp.args.challenge is not None and challenge != resp.args.challenge:
            entry["error"] = "wrong challenge"
            return "failure", FAIL_BAD_REQUEST, None, None
        if status == "failure":
            return "failure", failinfo, text, None
        if status == "pending":
            with ca.lock:
                ca.state["pending"][req.transaction_id] = {
                    "csr": base64.b64encode(req.content).decode(),
                    "revoke": req.signer_cert.serial_number if renewal else None,
                }
                ca.save()
            return "pending", None, None, None
        cert = ca.issue(req.content, revoke=req.signer_cert.serial_number if renewal else None,
                        subject_cn=step.get("subject_cn"))
        return "success", None, None, issued_p7(ca, cert)
    if mt == MSG_CERTPOLL:
        with ca.lock:
            pend = ca.state["pending"].get(req.transaction_id)
        if pend is None:
            entry["error"] = "no pending transaction %s" % req.transaction_id
            return "failure", FAIL_BAD_CERT_ID, None, None
        if status == "pending":
            return "pending", None, None, None
        with ca.lock:
            ca.state["pending"].pop(req.transaction_id, None)
            ca.save()
        if status == "failure":
            return "failure", failinfo, text, None
        cert = ca.issue(base64.b64decode(pend["csr"]), revoke=pend.get("revoke"),
                        subject_cn=step.get("subject_cn"))
        return "success", None, None, issued_p7(ca, cert)
    if mt in (MSG_GETCERT, MSG_GETCRL):
        try:
            ias = cms.IssuerAndSerialNumber.load(req.content)
            serial = ias["serial_number"].native
            ias["issuer"].native
        except Exception as e:
            entry["error"] = "bad IssuerAndSerialNumber: %r" % e
            return "failure", FAIL_BAD_REQUEST, None, None
        if status == "failure":
            return "failure", failinfo, text, None
        if status == "pending":
            return "pending", None, None, None
        if mt == MSG_GETCERT:
            cert = ca.find_issued(serial)
            if cert is None:
                entry["error"] = "no certificate with serial %x" % serial
                return "failure", FAIL_BAD_CERT_ID, None, None
            return "success", None, None, degenerate_p7([cert.public_bytes(serialization.Encoding.DER)])
        return "success", None, None, degenerate_p7([], [ca.crl_der()])
    entry["error"] = "message type %d not supported" % mt
    return "failure", FAIL_BAD_REQUEST, None, None


def issued_p7(ca, cert):
    return degenerate_p7([cert.public_bytes(serialization.Encoding.DER)] + [i.der for i in ca.chain])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "scep-responder/1"

    def log_message(self, fmt, *args):
        pass

    def send(self, code, ctype, body):
        self.send_response(code)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        self.dispatch(None)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.dispatch(self.rfile.read(n) if n else b"")

    def dispatch(self, body):
        try:
            self.route(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:
            log("internal error: %r" % e)
            try:
                self.send(500, "text/plain", ("internal error: %r" % e).encode())
            except Exception:
                pass

    def route(self, body):
        resp = self.server.responder
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/log" and body is None:
            with resp.lock:
                data = json.dumps(resp.log)
            return self.send(200, "application/json", data.encode())
        if url.path == "/control":
            if body is None:
                with resp.lock:
                    data = json.dumps(resp.script)
                return self.send(200, "application/json", data.encode())
            try:
                req = json.loads(body)
                if isinstance(req, list):
                    resp.set_script(req)
                else:
                    if "script" in req:
                        resp.set_script(req["script"])
                    if req.get("clear_log"):
                        with resp.lock:
                            resp.log = []
                    if "caps" in req:
                        resp.caps = list(req["caps"])
                    if req.get("rollover"):
                        resp.ca.rollover()
            except Exception as e:
                return self.send(400, "text/plain", ("bad control request: %s" % e).encode())
            return self.send(200, "text/plain", b"ok\n")
        if url.path not in SCEP_PATHS:
            return self.send(404, "text/plain", b"not found\n")
        # parse_qs would turn an unescaped '+' of base64 into a space: split by hand
        query = {}
        for part in url.query.split("&"):
            k, _, v = part.partition("=")
            query[urllib.parse.unquote(k)] = urllib.parse.unquote(v)
        op = query.get("operation", "")
        entry = {"operation": op, "method": self.command, "message_type": None, "transaction_id": None,
                 "challenge": None, "renewal": None, "step": None, "answer": None, "error": None}
        if op == "GetCACaps":
            if resp.args.cacaps_status:
                entry["answer"] = "http-%d" % resp.args.cacaps_status
                resp.record(entry)
                return self.send(resp.args.cacaps_status, "text/plain", b"")
            entry["answer"] = "caps"
            resp.record(entry)
            return self.send(200, "text/plain", "\n".join(resp.caps).encode())
        if op == "GetCACert":
            certs = resp.ca.ca_certs_der()
            entry["answer"] = "%d certificates" % len(certs)
            resp.record(entry)
            if len(certs) == 1:
                return self.send(200, "application/x-x509-ca-cert", certs[0])
            return self.send(200, "application/x-x509-ca-ra-cert", degenerate_p7(certs))
        if op == "GetNextCACert":
            if resp.ca.next is None:
                entry["answer"] = "http-404"
                resp.record(entry)
                return self.send(404, "text/plain", b"no next CA\n")
            ca = resp.ca
            inner = degenerate_p7([ca.next.der])
            der = ca.sign(inner, [], ca.issuing, "sha256", [ca.issuing])
            entry["answer"] = "next-ca"
            resp.record(entry)
            return self.send(200, "application/x-x509-next-ca-cert", der)
        if op != "PKIOperation":
            entry["answer"] = "http-400"
            resp.record(entry)
            return self.send(400, "text/plain", b"unknown operation\n")
        if body is None:
            try:
                body = base64.b64decode(query.get("message", "").replace(" ", "+"), validate=False)
            except Exception:
                body = b""
        self.pki_operation(resp, body, entry)

    def pki_operation(self, resp, der, entry):
        idx, step = resp.next_step()
        entry["step"] = idx
        hostile = step.get("hostile")
        delay = step.get("delay", 10 if hostile == "slow" else 0)
        try:
            req = PkiRequest(der, resp.ca)
        except RequestError as e:
            entry["error"] = str(e)
            entry["answer"] = "http-400"
            resp.record(entry)
            return self.send(400, "text/plain", ("bad request: %s\n" % e).encode())
        entry["message_type"] = req.message_type
        entry["transaction_id"] = req.transaction_id
        if delay:
            time.sleep(float(delay))
        if hostile == "html-200":
            entry["answer"] = hostile
            resp.record(entry)
            return self.send(200, "text/html", b"<html><head><title>Error</title></head><body>Server busy</body></html>\n")
        if hostile == "http-500-empty":
            entry["answer"] = hostile
            resp.record(entry)
            return self.send(500, None, b"")
        if hostile == "huge":
            entry["answer"] = hostile
            resp.record(entry)
            return self.send_huge()
        if hostile == "replay":
            with resp.lock:
                prev = resp.last_reply
            if prev is not None:
                entry["answer"] = hostile
                resp.record(entry)
                return self.send(200, "application/x-pki-message", prev)
            entry["error"] = "nothing to replay yet, answering normally"
        status, failinfo, text, content = handle_pki(resp, req, step, entry)
        der = certrep(resp, req, status, failinfo, text, content, step)
        with resp.lock:
            resp.last_reply = der
        entry["answer"] = status if status != "failure" else "failure:%d" % failinfo
        if hostile and hostile != "replay":
            entry["answer"] += "+" + hostile
        resp.record(entry)
        if hostile == "truncated":
            return self.send(200, "application/x-pki-message", der[: len(der) // 2])
        if hostile == "wrong-content-type":
            return self.send(200, "text/plain", der)
        return self.send(200, "application/x-pki-message", der)

    def send_huge(self):
        total = 10 * 1024 * 1024
        self.send_response(200)
        self.send_header("Content-Type", "application/x-pki-message")
        self.send_header("Content-Length", str(total))
        self.end_headers()
        # a plausible start: a SEQUENCE claiming the whole body
        head = b"\x30\x84" + (total - 6).to_bytes(4, "big")
        chunk = bytes(65536)
        self.wfile.write(head)
        sent = len(head)
        while sent < total:
            n = min(len(chunk), total - sent)
            self.wfile.write(chunk[:n])
            sent += n


def exit_on_stdin_eof():
    """The parent holds our stdin: when it dies without stopping us, we go too."""
    while sys.stdin.buffer.read(4096):
        pass
    log("stdin closed, exiting")
    os._exit(0)


def main():
    p = argparse.ArgumentParser(description="scriptable SCEP responder for tests", epilog=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--state-dir")
    p.add_argument("--ra", choices=["split", "combined", "none"], default="split")
    p.add_argument("--intermediate", action="store_true")
    p.add_argument("--ra-first", action="store_true")
    p.add_argument("--caps", type=lambda s: [c.strip() for c in s.split(",") if c.strip()])
    p.add_argument("--cacaps-status", type=int)
    p.add_argument("--next-ca", action="store_true")
    p.add_argument("--ca-valid-seconds", type=int)
    p.add_argument("--ca-age-seconds", type=int)
    p.add_argument("--challenge")
    p.add_argument("--valid-days", type=int, default=365)
    p.add_argument("--valid-seconds", type=int)
    p.add_argument("--reply-digest", choices=["sha256", "sha1", "sha512"], default="sha256")
    p.add_argument("--reply-cipher", choices=sorted(REPLY_CIPHERS), default="aes128")
    p.add_argument("--oaep", action="store_true")
    p.add_argument("--no-certs-in-reply", action="store_true")
    p.add_argument("--script")
    p.add_argument("--key-dir")
    p.add_argument("--watch-stdin", action="store_true")
    args = p.parse_args()
    global KEY_DIR
    KEY_DIR = args.key_dir
    if args.state_dir is None:
        args.state_dir = tempfile.mkdtemp(prefix="scep-responder-")
    os.makedirs(args.state_dir, exist_ok=True)
    responder = Responder(args)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.responder = responder
    port = server.server_address[1]
    if args.port_file:
        write_atomic(args.port_file, b"%d\n" % port)
    sys.stdout.write("READY http://127.0.0.1:%d/scep\n" % port)
    sys.stdout.flush()
    log("listening on 127.0.0.1:%d, state in %s" % (port, args.state_dir))
    if args.watch_stdin:
        threading.Thread(target=exit_on_stdin_eof, daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
