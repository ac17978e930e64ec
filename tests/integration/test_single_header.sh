#!/usr/bin/env bash
# The single-file header single/cws.h:
#   - is what tools/amalgamate.sh generates from today's sources;
#   - builds a two-file program (both files include it, one defines
#     CWS_IMPLEMENTATION) warning-free under gcc and clang, C11 and C17
#     with -Wpedantic, C99 without it (the public structs use anonymous
#     unions, a C11 feature gcc and clang accept in C99 as an extension),
#     with and without CWS_NO_RUNTIME, and the program computes the right
#     values (RFC 6455 §1.3 accept key, FIPS 180 SHA-1 of "abc");
#   - leaves all socket code out under CWS_NO_RUNTIME;
#   - defines no external symbol outside the cws_/cws__ namespace;
#   - under CWS_STATIC defines no external symbol at all (gcc and clang,
#     with and without CWS_NO_RUNTIME / CWS_NO_DEFLATE), and two libraries
#     that each embed it (tests/dist/static_*.c) link into one program, also
#     next to an ordinary copy, and both work; the misuses it names get
#     their #error;
#   - serves C++ files the declarations (the implementation stays C);
#   - refuses, with a clear #error, an implementation file that included a
#     system header first under strict C (the POSIX macros come too late).
# The unit tests built against it run separately as unit-single/*.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

want_accept="s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
want_sha1="a9993e364706816aba3e25717850c26c9cd0d89d"
version=$(sed -n 's/^#define CWS_VERSION_STRING "\(.*\)"/\1/p' include/cws.h)
flags="-Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes"

if out=$(make -s check-single-header 2>&1); then
    ok "single/cws.h matches tools/amalgamate.sh output"
else
    echo "$out" | tail -n 5
    fail "single/cws.h is stale"
fi

# Builds and runs the two-file program: $1 compiler, $2 standard, $3 extra.
two_file() {
    local cc=$1 std=$2 extra=$3 name="$1-$2${3:+-nort}"
    local exe="$work/two-$name" f=$flags
    [ "$std" = c99 ] && f=${flags/-Wpedantic/}
    if ! $cc -std="$std" $f $extra -c tests/dist/two_impl.c -o "$exe-impl.o" 2>"$exe.log" ||
       ! $cc -std="$std" $f $extra -c tests/dist/two_main.c -o "$exe-main.o" 2>>"$exe.log" ||
       ! $cc -o "$exe" "$exe-impl.o" "$exe-main.o" 2>>"$exe.log"; then
        head -n 20 "$exe.log"
        fail "two-file build $name"
        return
    fi
    local got
    got=$("$exe") || { fail "two-file program $name exited non-zero"; return; }
    if [ "$got" = "$version $want_accept $want_sha1" ]; then
        ok "two-file program $name"
    else
        fail "two-file program $name printed '$got'"
    fi
}

for cc in gcc clang; do
    command -v $cc >/dev/null || { fail "$cc not installed"; continue; }
    for std in c11 c17 c99; do
        two_file $cc $std ""
        two_file $cc $std "-DCWS_NO_RUNTIME"
    done
done

# Without the runtime nothing may reach for sockets or an event loop.
gcc -std=c11 $flags -DCWS_NO_RUNTIME -c tests/dist/two_impl.c -o "$work/nort.o"
if nm -u "$work/nort.o" | grep -Eqw 'socket|bind|listen|accept4?|connect|epoll_wait|poll|getaddrinfo'; then
    nm -u "$work/nort.o" | grep -Ew 'socket|bind|listen|accept4?|connect|epoll_wait|poll|getaddrinfo'
    fail "CWS_NO_RUNTIME build still references socket functions"
else
    ok "CWS_NO_RUNTIME leaves the socket code out"
fi
if nm --defined-only "$work/nort.o" | grep -q ' T cws_loop_new$'; then
    fail "CWS_NO_RUNTIME build defines cws_loop_new"
fi

# Every external symbol the implementation defines is public (cws_) or
# carries the private prefix (cws__): file-local helpers are static, so an
# embedder's program cannot clash with them.
gcc -std=c11 $flags -c tests/dist/two_impl.c -o "$work/syms.o"
foreign=$(nm -g --defined-only "$work/syms.o" | awk '{ print $3 }' | grep -v '^cws_' | grep -vx 'two_accept_key' || true)
[ -z "$foreign" ] && ok "every external symbol starts with cws_" ||
    fail "external symbols without the cws_ prefix (make them static or cws__):" $foreign

# CWS_STATIC: an implementation file exports nothing, whatever is left out.
printf '#define CWS_STATIC\n#define CWS_IMPLEMENTATION\n#include "%s/single/cws.h"\n' "$PWD" > "$work/static.c"
for cc in gcc clang; do
    command -v $cc >/dev/null || continue
    for extra in "" "-DCWS_NO_RUNTIME" "-DCWS_NO_DEFLATE" "-DCWS_NO_RUNTIME -DCWS_NO_DEFLATE"; do
        name="$cc${extra:+ $extra}"
        if ! $cc -std=c11 $flags $extra -c "$work/static.c" -o "$work/static.o" 2>"$work/static.log"; then
            head -n 20 "$work/static.log"
            fail "CWS_STATIC implementation file ($name) does not compile"
            continue
        fi
        exported=$(nm --defined-only --extern-only "$work/static.o" | awk '{ print $3 }')
        [ -z "$exported" ] && ok "CWS_STATIC exports no symbol ($name)" ||
            fail "CWS_STATIC still exports ($name):" $exported
    done
done

# Two libraries, each with its own private cws (A with the runtime, B
# without), in one program; then the same next to an ordinary cws
# (two_impl.c). As a control, two ordinary copies must clash.
for cc in gcc clang; do
    command -v $cc >/dev/null || continue
    exe=$work/static-$cc
    if ! $cc -std=c11 $flags -c tests/dist/static_a.c -o "$exe-a.o" 2>"$exe.log" ||
       ! $cc -std=c11 $flags -c tests/dist/static_b.c -o "$exe-b.o" 2>>"$exe.log" ||
       ! $cc -std=c11 $flags -c tests/dist/static_main.c -o "$exe-main.o" 2>>"$exe.log" ||
       ! $cc -std=c11 $flags -c tests/dist/two_impl.c -o "$exe-two.o" 2>>"$exe.log"; then
        head -n 20 "$exe.log"
        fail "CWS_STATIC program ($cc) does not compile"
        continue
    fi
    if $cc -o "$exe" "$exe-a.o" "$exe-b.o" "$exe-main.o" 2>>"$exe.log"; then
        [ "$("$exe")" = ok ] && ok "two libraries embedding cws with CWS_STATIC ($cc)" ||
            fail "CWS_STATIC program ($cc) printed '$("$exe")'"
    else
        head -n 20 "$exe.log"
        fail "two libraries embedding cws with CWS_STATIC do not link ($cc)"
    fi
    if $cc -o "$exe-mixed" "$exe-a.o" "$exe-b.o" "$exe-main.o" "$exe-two.o" 2>>"$exe.log" &&
       [ "$("$exe-mixed")" = ok ]; then
        ok "CWS_STATIC copies next to an ordinary cws ($cc)"
    else
        head -n 20 "$exe.log"
        fail "CWS_STATIC copies next to an ordinary cws ($cc)"
    fi
    if $cc -o "$exe-clash" "$exe-two.o" "$exe-two.o" 2>/dev/null; then
        fail "control: two ordinary copies of cws linked without a clash ($cc)"
    fi
done

# The misuses CWS_STATIC names: no CWS_IMPLEMENTATION in the file, or the
# first include made without CWS_STATIC (the public functions would stay
# external).
printf '#define CWS_STATIC\n#include "%s/single/cws.h"\n' "$PWD" > "$work/static-noimpl.c"
printf '#include "%s/single/cws.h"\n#define CWS_STATIC\n#define CWS_IMPLEMENTATION\n#include "%s/single/cws.h"\n' \
    "$PWD" "$PWD" > "$work/static-late.c"
for t in noimpl:'define CWS_IMPLEMENTATION too' late:'define CWS_STATIC before the first include'; do
    f=${t%%:*} want=${t#*:}
    if gcc -std=c11 $flags -c "$work/static-$f.c" -o "$work/static-$f.o" 2>"$work/static-$f.log"; then
        fail "CWS_STATIC misuse ($f) compiled"
    elif grep -q "$want" "$work/static-$f.log"; then
        ok "CWS_STATIC misuse ($f) stopped by its #error"
    else
        head -n 10 "$work/static-$f.log"
        fail "CWS_STATIC misuse ($f) failed without its #error"
    fi
done

# C++: the declarations compile as C++ and link with the C implementation.
if command -v g++ >/dev/null; then
    gcc -std=c11 $flags -c tests/dist/two_impl.c -o "$work/cxx-impl.o" &&
    if g++ -x c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -c tests/dist/two_main.c \
            -o "$work/cxx-main.o" 2>"$work/cxx.log" &&
       g++ -o "$work/cxx" "$work/cxx-impl.o" "$work/cxx-main.o" 2>>"$work/cxx.log" &&
       [ "$("$work/cxx")" = "$version $want_accept $want_sha1" ]; then
        ok "C++ file using the declarations"
    else
        head -n 20 "$work/cxx.log"
        fail "C++ file using the declarations"
    fi
fi

# A strict-C implementation file that includes <stdio.h> first: the hoisted
# feature macros are too late, and the header must say so.
if grep -q '__USE_POSIX199309' single/cws.h; then
    printf '#include <stdio.h>\n#define CWS_IMPLEMENTATION\n#include "%s/single/cws.h"\n' "$PWD" \
        > "$work/late.c"
    if gcc -std=c11 -c "$work/late.c" -o "$work/late.o" 2>"$work/late.log"; then
        fail "late include compiled: no #error"
    elif grep -q 'include it before any system header' "$work/late.log"; then
        ok "late include stopped by the #error"
    else
        head -n 10 "$work/late.log"
        fail "late include failed without the explaining #error"
    fi
    # Defining _DEFAULT_SOURCE instead is the documented way out.
    printf '#define _DEFAULT_SOURCE\n#include <stdio.h>\n#define CWS_IMPLEMENTATION\n#include "%s/single/cws.h"\n' \
        "$PWD" > "$work/late2.c"
    gcc -std=c11 $flags -c "$work/late2.c" -o "$work/late2.o" 2>"$work/late2.log" &&
        ok "_DEFAULT_SOURCE before a system include works" ||
        { head -n 10 "$work/late2.log"; fail "_DEFAULT_SOURCE before a system include"; }
fi

# Including the header twice in the implementation file is harmless.
printf '#define CWS_IMPLEMENTATION\n#include "%s/single/cws.h"\n#include "%s/single/cws.h"\nint main(void) { return cws_version()[0] == 0; }\n' \
    "$PWD" "$PWD" > "$work/twice.c"
gcc -std=c11 $flags "$work/twice.c" -o "$work/twice" 2>"$work/twice.log" && "$work/twice" &&
    ok "header included twice in the implementation file" ||
    { head -n 10 "$work/twice.log"; fail "header included twice"; }

echo
[ $fails -eq 0 ] && echo "single header: all checks passed" || echo "single header: $fails failed"
[ $fails -eq 0 ]
