#!/usr/bin/env bash
# The conformance suite (tests/conformance/, every case, --strict) over
# wss:// against $BUILD/cws-echo --tls-cert/--tls-key: the same cases as
# tests/integration/test_conformance.sh, each inside TLS, the certificate
# checked against the throwaway CA (run.py --cafile) and the host name.
set -u
cd "$(dirname "$0")/../../.."
BUILD=${BUILD:-build}
echo_bin=$BUILD/cws-echo
if [ ! -x "$echo_bin" ]; then
    echo "test_tls_conformance: $echo_bin is not built (make TLS=openssl)" >&2
    exit 1
fi
certs=$(mktemp -d "${TMPDIR:-/tmp}/cws-tls-conformance.XXXXXX")
trap 'rm -rf "$certs"' EXIT
/usr/bin/python3 tests/integration/tls/lib/certs.py "$certs" >/dev/null || exit 1
/usr/bin/python3 tests/conformance/run.py --strict --cafile "$certs/ca.pem" \
    --server "$echo_bin" --tls-cert "$certs/server.pem" --tls-key "$certs/server.key" \
    --host 127.0.0.1 --port 0
