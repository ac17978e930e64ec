#!/usr/bin/env bash
# The man pages of the example programs: render without groff warnings,
# carry the version of include/cws.h, and document every flag the program's
# own --help lists (so a new flag without a man entry fails here).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
version=$(sed -n 's/^#define CWS_VERSION_STRING "\(.*\)"/\1/p' include/cws.h)

for prog in cws-chat cws-echo cws-client; do
    page="man/$prog.1"
    [ -f "$page" ] || { fail "$page missing"; continue; }
    if command -v groff >/dev/null; then
        warn=$(groff -t -man -ww -z "$page" 2>&1)
        [ -z "$warn" ] && ok "$page renders cleanly" || fail "$page: $warn"
    else
        echo "skip: groff not installed, $page not rendered"
    fi
    grep -q "^\.TH .*\"cws $version\"" "$page" && ok "$page says cws $version" ||
        fail "$page: .TH does not name cws $version"
    exe="$BUILD/$prog"
    if [ ! -x "$exe" ]; then fail "$exe not built"; continue; fi
    help=$("$exe" --help 2>&1)
    flags=$(echo "$help" | grep -oE -- '--[a-z][a-z-]*' | sort -u)
    [ -n "$flags" ] || { fail "$prog --help lists no flags"; continue; }
    # In roff a dash is written \-.
    text=$(sed 's/\\-/-/g' "$page")
    missing=""
    for f in $flags; do
        echo "$text" | grep -qE -- "(^|[^a-z-])$f([^a-z-]|$)" || missing="$missing $f"
    done
    [ -z "$missing" ] && ok "$page documents all $(echo $flags | wc -w) flags of --help" ||
        fail "$page lacks:$missing"
done
[ $fails -eq 0 ]
