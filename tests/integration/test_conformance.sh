#!/usr/bin/env bash
# The conformance suite (tests/conformance/, Autobahn-style cases) against
# $BUILD/cws-echo on an ephemeral loopback port. Every case must be OK:
# NON-STRICT counts as a failure here (--strict), FAILED of course too.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
echo_bin=$BUILD/cws-echo
if [ ! -x "$echo_bin" ]; then
    echo "test_conformance: $echo_bin is not built (make BUILD=$BUILD examples)" >&2
    exit 1
fi
exec /usr/bin/python3 tests/conformance/run.py --strict --server "$echo_bin" --host 127.0.0.1 --port 0
