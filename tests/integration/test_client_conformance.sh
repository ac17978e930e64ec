#!/usr/bin/env bash
# Client-role conformance: cws-client against a deliberately broken server
# (tests/conformance/client/), one RFC 6455 rule per case. Every case must
# be OK.
set -u
cd "$(dirname "$0")/../.."
export BUILD=${BUILD:-build}
exec timeout 90 /usr/bin/python3 tests/conformance/client/run.py
