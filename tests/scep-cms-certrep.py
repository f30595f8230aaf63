#!/usr/bin/python3
# Builds SCEP CertRep messages (RFC 8894) for test-scep-message with an independent
# stack (asn1crypto + cryptography), never with our own ndes/ code, so that a bug
# shared by writer and reader cannot pass unseen. Run it with Debian's /usr/bin/python3.
#
#   scep-cms-certrep.py --signer-cert C.pem --signer-key K.pem --out reply.der
#       [--digest sha256|sha1|md5|sha512] [--message-type 3] [--status 0|2|3|...]
#       [--fail-info N] [--fail-info-text TEXT] [--transaction-id ID]
#       [--recipient-nonce HEX] [--sender-nonce HEX] [--no-sender-nonce]
#       [--content FILE | --empty-content] [--include-cert] [--ber] [--no-attrs]

import argparse
import sys

from asn1crypto import algos, cms, core, x509
from cryptography.x509 import load_pem_x509_certificate
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

SCEP = '2.16.840.1.113733.1.9.'
HASHES = {
    'md5': hashes.MD5,
    'sha1': hashes.SHA1,
    'sha256': hashes.SHA256,
    'sha512': hashes.SHA512,
}


def attribute(oid, value):
    return cms.CMSAttribute({'type': oid, 'values': [value]})


def tlv_split(data):
    """yield (tag byte, content) for each DER TLV in data (single-byte tags only)"""
    pos = 0
    while pos < len(data):
        start = pos
        pos += 1
        first = data[pos]
        pos += 1
        if first & 0x80:
            n = first & 0x7f
            length = int.from_bytes(data[pos:pos + n], 'big')
            pos += n
        else:
            length = first
        yield data[start:start + 1], data[pos:pos + length]
        pos += length


def indefinite(tag, children):
    return tag + b'\x80' + b''.join(children) + b'\x00\x00'


def octets_to_ber(content):
    """constructed OCTET STRING in chunks of 8 bytes, indefinite length"""
    chunks = [core.OctetString(content[i:i + 8]).dump() for i in range(0, len(content), 8)]
    return indefinite(b'\x24', chunks)


def to_ber(content_info_der):
    """ContentInfo, SignedData, digestAlgorithms, encapContentInfo and eContent in BER
    indefinite-length form; certificates and SignerInfos stay DER"""
    (ci_tag, ci_body), = tlv_split(content_info_der)
    oid, explicit = list(tlv_split(ci_body))
    oid_tag, oid_body = oid
    exp_tag, exp_body = explicit
    (sd_tag, sd_body), = tlv_split(exp_body)
    parts = []
    for tag, body in tlv_split(sd_body):
        if tag == b'\x30':  # encapContentInfo
            inner = []
            for t2, b2 in tlv_split(body):
                if t2 == b'\xa0':
                    (_, octets), = tlv_split(b2)
                    inner.append(indefinite(b'\xa0', [octets_to_ber(octets)]))
                else:
                    inner.append(t2 + der_len(len(b2)) + b2)
            parts.append(indefinite(b'\x30', inner))
        elif tag == b'\x31':  # digestAlgorithms / signerInfos
            parts.append(indefinite(b'\x31', [t + der_len(len(b)) + b for t, b in tlv_split(body)]))
        else:
            parts.append(tag + der_len(len(body)) + body)
    sd = indefinite(b'\x30', parts)
    return indefinite(b'\x30', [oid_tag + der_len(len(oid_body)) + oid_body,
                                indefinite(b'\xa0', [sd])])


def der_len(n):
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, 'big')
    return bytes([0x80 | len(raw)]) + raw


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--signer-cert', required=True)
    p.add_argument('--signer-key', required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--digest', default='sha256', choices=sorted(HASHES))
    p.add_argument('--message-type', default='3')
    p.add_argument('--status', default='0')
    p.add_argument('--fail-info')
    p.add_argument('--fail-info-text')
    p.add_argument('--transaction-id', default='test-transaction')
    p.add_argument('--recipient-nonce')
    p.add_argument('--sender-nonce', default='00112233445566778899aabbccddeeff')
    p.add_argument('--no-sender-nonce', action='store_true')
    p.add_argument('--content')
    p.add_argument('--empty-content', action='store_true')
    p.add_argument('--include-cert', action='store_true')
    p.add_argument('--ber', action='store_true')
    p.add_argument('--no-attrs', action='store_true')
    a = p.parse_args()

    with open(a.signer_cert, 'rb') as f:
        pem = f.read()
    signer_cert = load_pem_x509_certificate(pem)
    cert = x509.Certificate.load(signer_cert.public_bytes(serialization.Encoding.DER))
    with open(a.signer_key, 'rb') as f:
        key = serialization.load_pem_private_key(f.read(), password=None)

    content = None
    if a.content:
        with open(a.content, 'rb') as f:
            content = f.read()
    elif a.empty_content:
        content = b''

    h = HASHES[a.digest]
    encap = {'content_type': 'data'}
    if content is not None:
        encap['content'] = core.OctetString(content)

    hasher = hashes.Hash(h())
    hasher.update(content if content is not None else b'')
    digest = hasher.finalize()

    attrs = [
        attribute('content_type', cms.ContentType('data')),
        attribute('message_digest', core.OctetString(digest)),
        attribute(SCEP + '2', core.PrintableString(a.message_type)),
        attribute(SCEP + '3', core.PrintableString(a.status)),
        attribute(SCEP + '7', core.PrintableString(a.transaction_id)),
    ]
    if a.recipient_nonce:
        attrs.append(attribute(SCEP + '6', core.OctetString(bytes.fromhex(a.recipient_nonce))))
    if not a.no_sender_nonce:
        attrs.append(attribute(SCEP + '5', core.OctetString(bytes.fromhex(a.sender_nonce))))
    if a.fail_info is not None:
        attrs.append(attribute(SCEP + '4', core.PrintableString(a.fail_info)))
    if a.fail_info_text is not None:
        attrs.append(attribute('1.3.6.1.5.5.7.24.1', core.UTF8String(a.fail_info_text)))

    signer = {
        'version': 'v1',
        'sid': cms.SignerIdentifier({'issuer_and_serial_number': cms.IssuerAndSerialNumber({
            'issuer': cert.issuer, 'serial_number': cert.serial_number})}),
        'digest_algorithm': algos.DigestAlgorithm({'algorithm': a.digest}),
        'signature_algorithm': algos.SignedDigestAlgorithm({'algorithm': a.digest + '_rsa'}),
    }
    if a.no_attrs:
        to_sign = content if content is not None else b''
    else:
        signed_attrs = cms.CMSAttributes(attrs)
        signer['signed_attrs'] = signed_attrs
        to_sign = b'\x31' + signed_attrs.dump()[1:]
    signer['signature'] = key.sign(to_sign, padding.PKCS1v15(), h())

    sd = {
        'version': 'v1',
        'digest_algorithms': [algos.DigestAlgorithm({'algorithm': a.digest})],
        'encap_content_info': encap,
        'signer_infos': [cms.SignerInfo(signer)],
    }
    if a.include_cert:
        sd['certificates'] = [cert]
    out = cms.ContentInfo({'content_type': 'signed_data', 'content': cms.SignedData(sd)}).dump()
    if a.ber:
        out = to_ber(out)
    with open(a.out, 'wb') as f:
        f.write(out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
