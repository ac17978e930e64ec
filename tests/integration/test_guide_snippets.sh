#!/usr/bin/env bash
# Every C block of docs/guide.md and docs/security.md compiles, and the
# guide's server and client snippets work together. The HTML comment line right before a block says
# what it is:
#   <!-- excerpt: FILE -->   the block must appear word for word in FILE
#   <!-- snippet: single --> built against single/cws.h (and run)
#   <!-- snippet: NAME -->   (or nothing) a complete file built against
#                            include/cws.h and libcws.a; linked if it has
#                            main(). NAME server/client are run together.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
work=$(mktemp -d)
server_pid=
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
lib="$BUILD/libcws.a"
[ -f "$lib" ] || { echo "FAIL: $lib not built"; exit 1; }
san=""
nm "$lib" 2>/dev/null | grep -q '__asan_' && san="-fsanitize=address,undefined"
flags="-std=c11 -Wall -Wextra -Wpedantic -Werror $san"

# Split the docs: work/N.c for each block, work/N.kind holding the marker.
awk -v dir="$work" '
    /^<!-- (excerpt|snippet): .* -->$/ { marker = $0; sub(/^<!-- /, "", marker); sub(/ -->$/, "", marker); next }
    /^```c$/ { n++; file = dir "/" n ".c"; printf "" > file
               print (marker == "" ? "snippet: snippet" n : marker) > (dir "/" n ".kind")
               inblock = 1; marker = ""; next }
    /^```/ && inblock { inblock = 0; close(file); next }
    inblock { print > file; next }
    /[^ \t]/ { marker = "" }
' docs/guide.md docs/security.md
count=$(ls "$work"/*.c 2>/dev/null | wc -l)
[ "$count" -gt 0 ] || { echo "FAIL: no C blocks found in the docs"; exit 1; }

for f in $(ls "$work"/*.c | sort -V); do
    n=$(basename "$f" .c)
    kind=$(cat "$work/$n.kind")
    case "$kind" in
    excerpt:*)
        src=${kind#excerpt: }
        # Each block must be a contiguous run of lines of src.
        if python3 - "$f" "$src" <<'PY'
import sys
block = open(sys.argv[1]).read()
sys.exit(0 if block in open(sys.argv[2]).read() else 1)
PY
        then ok "block $n is an excerpt of $src"
        else fail "block $n is not word for word in $src"; fi
        ;;
    "snippet: single")
        if gcc $flags -c "$f" -I single -o "$work/$n.o" 2>"$work/$n.log" &&
           gcc $san "$work/$n.o" -o "$work/$n" 2>>"$work/$n.log" && "$work/$n" >/dev/null; then
            ok "block $n builds and runs with single/cws.h"
        else
            head -n 20 "$work/$n.log"; fail "block $n with single/cws.h"
        fi
        ;;
    snippet:*)
        name=${kind#snippet: }
        for cc in gcc clang; do
            if ! $cc $flags -Iinclude -c "$f" -o "$work/$n-$cc.o" 2>"$work/$n.log"; then
                head -n 20 "$work/$n.log"; fail "block $n ($name) does not compile with $cc"; continue 2
            fi
        done
        if grep -q 'int main' "$f"; then
            if gcc $san -pthread "$work/$n-gcc.o" "$lib" -o "$work/$name" 2>"$work/$n.log"; then
                ok "block $n ($name) compiles with gcc and clang and links"
            else
                head -n 20 "$work/$n.log"; fail "block $n ($name) does not link"
            fi
        else
            ok "block $n ($name) compiles with gcc and clang"
        fi
        ;;
    esac
done

# The server snippet on an ephemeral port, the client snippet against it.
if [ -x "$work/server" ] && [ -x "$work/client" ]; then
    "$work/server" 0 >"$work/server.out" 2>&1 &
    server_pid=$!
    for _ in $(seq 50); do grep -q listening "$work/server.out" && break; sleep 0.1; done
    url=$(sed -n 's/^listening on \(ws:.*\)$/\1/p' "$work/server.out")
    if [ -z "$url" ]; then
        cat "$work/server.out"; fail "server snippet did not start"
    else
        got=$(timeout 10 "$work/client" "$url" 2>&1)
        if [ "$got" = "$(printf 'got: hello\nclosed with 1000')" ]; then
            ok "client snippet talked to the server snippet: $(echo $got)"
        else
            fail "client snippet printed: $got"
        fi
    fi
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=
else
    fail "server or client snippet missing"
fi

echo
[ $fails -eq 0 ] && echo "docs: all $count C blocks checked" || echo "docs: $fails failed"
[ $fails -eq 0 ]
