#!/usr/bin/env bash
# Checks the conformance suite itself: runs it against two independent
# echo servers, Node `ws` (tests/node_modules) and Python `websockets`
# (Debian python3-websockets), and prints each one's summary. Cases a peer
# does not pass are explained in tests/conformance/README.md (whether our
# case or the peer is wrong, with the RFC section). The full output goes to
# $BUILD/conformance-<peer>.log. Exits non-zero only if a peer could not be
# run at all.
#   tests/conformance/peers.sh [run.py options, e.g. --cases 6.]
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
mkdir -p "$BUILD"
status=0
for peer in ws websockets; do
    case $peer in
        ws) cmd=(node tests/conformance/peers/echo_ws.js) ;;
        websockets) cmd=(/usr/bin/python3 tests/conformance/peers/echo_websockets.py) ;;
    esac
    log=$BUILD/conformance-$peer.log
    echo "=== peer: $peer (${cmd[*]})"
    /usr/bin/python3 tests/conformance/run.py "$@" --server "${cmd[@]}" >"$log" 2>&1
    rc=$?
    # The summary table and the list of cases that were not OK.
    sed -n '/^group /,$p' "$log"
    if ! grep -q '^all ' "$log"; then
        echo "peers.sh: the suite did not run against $peer (exit $rc); see $log"
        status=1
    fi
    echo
done
exit $status
