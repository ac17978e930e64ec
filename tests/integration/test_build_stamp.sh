#!/usr/bin/env bash
# The build notices a new compiler or new flags ($(BUILD)/build-flags):
# the library built with gcc, then `make CC=clang` in the same BUILD must
# recompile every object with clang, not link a mix; a `make` with nothing
# changed must leave the stamp and the objects alone; a changed OPT must
# recompile. And valgrind (3.19 on Debian 12) must be able to read the
# debug info of what clang built (the Makefile asks for DWARF 4). Only the
# library is built, in a temporary BUILD.
set -u
cd "$(dirname "$0")/../.."
for cc in gcc clang; do
    command -v $cc >/dev/null || { echo "skip: $cc not installed"; exit 0; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
B=$tmp/build
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

objects() { find "$B/obj" -name '*.o' | sort; }
# How each compiler signs the .comment section of what it writes.
mark() { case $1 in gcc) echo 'GCC: \(' ;; clang) echo 'clang version' ;; esac; }
made_by() { readelf -p .comment "$1" 2>/dev/null | grep -qE "$(mark "$2")"; }
# Every object, and every member of libcws.a, was compiled by $1, none by $2.
check_all() {
    local want=$1 other=$2 bad="" n=0 o
    for o in $(objects); do
        n=$((n + 1))
        made_by "$o" "$want" && ! made_by "$o" "$other" || bad="$bad ${o#$B/obj/}"
    done
    [ "$n" -gt 0 ] || { fail "no objects under $B/obj"; return; }
    [ -z "$bad" ] && ok "all $n objects compiled by $want" || fail "not compiled by $want:$bad"
    made_by "$B/libcws.a" "$other" && fail "libcws.a holds members compiled by $other" ||
        ok "libcws.a: $want only"
}
build() { make -s BUILD="$B" -j2 "$@" lib >"$tmp/make.log" 2>&1 || { cat "$tmp/make.log"; fail "make $*"; }; }

build CC=gcc
check_all gcc clang
[ -s "$B/build-flags" ] && ok "$B/build-flags written" || fail "no $B/build-flags"

stamp_before=$(stat -c %y "$B/build-flags")
sha_before=$(objects | xargs stat -c '%n %y' | sha1sum)
sleep 1 # a rewrite would show in the times
build CC=gcc
[ "$(stat -c %y "$B/build-flags")" = "$stamp_before" ] && ok "same flags: stamp untouched" ||
    fail "same flags: the stamp was rewritten"
[ "$(objects | xargs stat -c '%n %y' | sha1sum)" = "$sha_before" ] && ok "same flags: nothing recompiled" ||
    fail "same flags: objects were recompiled"

build CC=clang
check_all clang gcc
grep -qx 'CC=clang .*' "$B/build-flags" && ok "stamp names CC=clang" || fail "stamp: $(cat "$B/build-flags")"

# Valgrind reads the debug info of every member of clang's libcws.a (the
# program itself has none). With clang 14's default DWARF 5 it prints
# "unhandled dwarf2 abbrev form code" and fails.
if command -v valgrind >/dev/null; then
    printf '#include <cws.h>\nint main(void) { return cws_strerror(0) == 0; }\n' >"$tmp/main.c"
    clang -Iinclude -o "$tmp/main" "$tmp/main.c" -Wl,--whole-archive "$B/libcws.a" -Wl,--no-whole-archive
    if valgrind -q --error-exitcode=1 "$tmp/main" >"$tmp/vg.log" 2>&1 && ! grep -q dwarf "$tmp/vg.log"; then
        ok "valgrind reads clang's debug info"
    else
        fail "valgrind on clang's libcws.a: $(head -3 "$tmp/vg.log")"
    fi
else
    echo "skip: valgrind not installed, clang's debug info not checked"
fi

# A new OPT with the same compiler: one object is enough to tell.
one=$B/obj/src/sha1.o
before=$(stat -c %y "$one")
sleep 1
make -s BUILD="$B" CC=clang OPT="-O1 -g" "$one" >"$tmp/make.log" 2>&1 || { cat "$tmp/make.log"; fail "make OPT=-O1"; }
[ "$(stat -c %y "$one")" != "$before" ] && ok "new OPT: recompiled" || fail "new OPT: $one not recompiled"
grep -q -- '-O1 -g' "$B/build-flags" && ok "stamp holds the new OPT" || fail "stamp: $(cat "$B/build-flags")"

[ $fails -eq 0 ]
