#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# mkcerts.sh: makes throw-away TLS material for the STS stub's TLS tests (nothing here is committed).
#
# Usage: mkcerts.sh DIR
# Writes into DIR (created if needed):
#   ca.pem, ca.key                 a test CA
#   server.pem, server.key         signed by the CA, SAN 127.0.0.1 and localhost (the good cert)
#   selfsigned.pem, selfsigned.key self-signed, SAN 127.0.0.1 and localhost (must be refused)
#   wronghost.pem, wronghost.key   signed by the CA, SAN wrong.example only (must be refused)
# All certificates are valid for 2 days; keys are EC P-256 so generation is fast.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: mkcerts.sh DIR" >&2
    exit 64
fi
command -v openssl >/dev/null 2>&1 || { echo "mkcerts.sh: openssl not found" >&2; exit 69; }

dir=$1
mkdir -p "$dir"
umask 077
cd "$dir"

newkey() {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

# Extensions for leaf certificates; the SAN is what curl and OpenSSL check (RFC 6125),
# the CN is ignored when a SAN is present.
leafext() {
    printf '%s\n' \
        "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth" \
        "subjectKeyIdentifier=hash" \
        "subjectAltName=$1" >"$2"
}

newkey ca.key
openssl req -x509 -new -key ca.key -sha256 -days 2 -subj "/CN=stsrole test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" -out ca.pem

signed() { # name san
    newkey "$1.key"
    openssl req -new -key "$1.key" -subj "/CN=$1" -out "$1.csr"
    leafext "$2" "$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days 2 \
        -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

signed server "IP:127.0.0.1,DNS:localhost"
signed wronghost "DNS:wrong.example"

newkey selfsigned.key
leafext "IP:127.0.0.1,DNS:localhost" selfsigned.ext
openssl req -x509 -new -key selfsigned.key -sha256 -days 2 -subj "/CN=localhost" \
    -extensions v3_self -config /dev/stdin -out selfsigned.pem <<CONF
[req]
distinguished_name = dn
[dn]
[v3_self]
$(cat selfsigned.ext)
CONF
rm -f selfsigned.ext ca.srl

# Readable by the tests whoever runs them; the keys are worthless outside this directory.
chmod 644 ./*.pem ./*.key
