#!/usr/bin/env bash
# The interop matrix (tests/interop/run_matrix.py): cws in both roles
# against Python websockets, Node ws and headless Chromium. Fails if any
# cell is red, or if the checked-in docs/interop.md shows a different
# pass/fail table than this run (regenerate it with the command below).
#   BUILD=build /usr/bin/python3 tests/interop/run_matrix.py
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export BUILD
out=$(mktemp)
trap 'rm -f "$out"' EXIT

status=0
timeout 120 /usr/bin/python3 tests/interop/run_matrix.py --out "$out" || status=1

# Only the table rows carry results; the prose around them may change.
if ! diff <(grep '^|' docs/interop.md) <(grep '^|' "$out"); then
    echo "docs/interop.md differs from this run (lines above: < checked in, > now)"
    status=1
fi
[ "$status" -eq 0 ] && echo "interop matrix: all cells green, docs/interop.md up to date"
exit "$status"
