#!/bin/sh
# Regenerates the GetNextCACert fixtures of tests/test-scep-ca-certs.c (see README.md).
# Run from this directory; needs openssl (3.x). The outputs are committed, so tests do not
# depend on this script.
set -eu
V=../vectors
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# the CA certificate that the next GetCACert will return (a rollover CA)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/next.key" -out "$T/next.pem" \
	-subj "/O=scep-agent tests/CN=Next Test CA" -days 36500 \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
openssl crl2pkcs7 -nocrl -certfile "$T/next.pem" -outform DER -out next-ca-certs-only.p7b

# signed by the current CA (micromdm's test CA, RSA-4096, key with an empty passphrase)
openssl cms -sign -nodetach -binary -in next-ca-certs-only.p7b -outform DER \
	-signer $V/micromdm-testca.crt -inkey $V/micromdm-testca.key -passin pass: -md sha256 \
	-out getnextcacert-signed-by-ca.der

# the same content signed by an unrelated self-signed key
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other.key" -out "$T/other.pem" \
	-subj "/CN=Impostor CA" -days 36500
openssl cms -sign -nodetach -binary -in next-ca-certs-only.p7b -outform DER \
	-signer "$T/other.pem" -inkey "$T/other.key" -md sha256 \
	-out getnextcacert-signed-by-other.der
