#!/usr/bin/env bash
# A throwaway EC P-256 CA and a server certificate for 127.0.0.1, signed by
# it, for the TLS benchmark (bench/run.sh tls). Nothing here is a secret:
# the keys live in DIR for the length of one run.
#   bench/tls_cert.sh DIR    writes DIR/ca.pem, DIR/server.pem, DIR/server.key
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"
ossl() { openssl "$@" 2> err.txt || { cat err.txt >&2; exit 1; }; }
ossl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
    -days 2 -subj "/CN=cws bench CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign"
ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
    -subj "/CN=127.0.0.1"
printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" > server.ext
ossl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -sha256 \
    -extfile server.ext -out server.pem
rm -f server.csr server.ext ca.srl err.txt
