#!/bin/sh
# Regenerates the long-lived TLS test fixtures in this directory (see README.md).
# Run from anywhere: sh tests/data/tls/make-certs.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

cat >ca.cnf <<'CNF'
[ca]
default_ca = testca
[testca]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = anything
copy_extensions = none
unique_subject = no
[anything]
organizationName = optional
commonName = supplied
CNF
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n' >ca.ext
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' >server.ext
: >index.txt
echo 01 >serial

# validity 2000-01-01 .. 2100-01-01, so that a wrong clock on a test machine does not matter
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout ca.key -out ca.csr -subj "/O=scep-agent tests/CN=scep-agent test TLS CA"
openssl ca -batch -config ca.cnf -selfsign -keyfile ca.key -in ca.csr -notext \
	-startdate 20000101000000Z -enddate 21000101000000Z -extfile ca.ext -out ca.crt
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout server.key -out server.csr -subj "/O=scep-agent tests/CN=localhost"
openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -in server.csr -notext \
	-startdate 20000101000000Z -enddate 21000101000000Z -extfile server.ext -out server.crt

cp ca.crt "$here/ca.pem"
cat server.crt server.key >"$here/server.pem"
openssl verify -CAfile "$here/ca.pem" "$here/server.pem"
