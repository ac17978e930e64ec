#!/usr/bin/env bash
# make install into a temporary DESTDIR, then:
#   - the tree has the header, both libraries with the versioned soname and
#     its symlinks, cws.pc, and (when the examples are built) the example
#     programs and their man pages;
#   - the shared library exports only cws_* symbols (no cws__ internals);
#   - a small program builds with `pkg-config --cflags --libs cws` against
#     the relocated tree, statically and dynamically, and runs;
#   - make uninstall removes every file again.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

version=$(sed -n 's/^#define CWS_VERSION_STRING "\(.*\)"/\1/p' include/cws.h)
major=${version%%.*}
prefix=/usr/local
dest="$work/stage"
root="$dest$prefix"

if ! make -s BUILD="$BUILD" install PREFIX="$prefix" DESTDIR="$dest" >"$work/install.log" 2>&1; then
    tail -n 20 "$work/install.log"
    fail "make install"
    exit 1
fi
ok "make install PREFIX=$prefix DESTDIR=..."

for f in include/cws.h lib/libcws.a "lib/libcws.so.$version" lib/pkgconfig/cws.pc; do
    [ -f "$root/$f" ] && ok "installed $f" || fail "missing $f"
done
[ "$(readlink "$root/lib/libcws.so.$major")" = "libcws.so.$version" ] &&
    ok "libcws.so.$major -> libcws.so.$version" || fail "libcws.so.$major symlink"
[ "$(readlink -f "$root/lib/libcws.so")" = "$(readlink -f "$root/lib/libcws.so.$version")" ] &&
    ok "libcws.so resolves to libcws.so.$version" || fail "libcws.so symlink"
soname=$(readelf -d "$root/lib/libcws.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libcws.so.$major" ] && ok "soname $soname" || fail "soname is '$soname'"
cmp -s include/cws.h "$root/include/cws.h" || fail "installed cws.h differs from include/cws.h"

# The example programs and man pages come along when they were built.
for p in cws-chat cws-echo cws-client; do
    [ -x "$BUILD/$p" ] || { echo "skip: $p not built"; continue; }
    [ -x "$root/bin/$p" ] && ok "installed bin/$p" || fail "missing bin/$p"
    if [ -f "man/$p.1" ]; then
        [ -f "$root/share/man/man1/$p.1" ] && ok "installed man1/$p.1" || fail "missing man1/$p.1"
    fi
done

# Exports: cws_ only, never the cws__ internals.
exports=$(nm -D --defined-only "$root/lib/libcws.so.$version" | awk '{ print $NF }')
bad=$(echo "$exports" | grep -v '^cws_' | grep -Ev '^(_init|_fini|_edata|_end|__bss_start)$' || true)
private=$(echo "$exports" | grep '^cws__' || true)
count=$(echo "$exports" | grep -c '^cws_[a-z0-9]' || true)
[ -z "$bad" ] && ok "all $count exported symbols start with cws_" || fail "exported non-cws_ symbols: $bad"
[ -z "$private" ] && ok "no cws__ internal is exported" || fail "exported internals: $private"
# Every function the header declares is exported.
missing=""
for fn in $(grep -o 'CWS_API [^(]*(' include/cws.h | grep -o 'cws_[a-z0-9_]*($' | tr -d '('); do
    echo "$exports" | grep -qx "$fn" || missing="$missing $fn"
done
[ -z "$missing" ] && ok "every CWS_API function is exported" || fail "declared but not exported:$missing"

# A program built through pkg-config against the staged tree.
export PKG_CONFIG_PATH="$root/lib/pkgconfig"
export PKG_CONFIG_LIBDIR="$root/lib/pkgconfig"
pc() { pkg-config --define-prefix "$@" cws; }
pcver=$(pc --modversion)
[ "$pcver" = "$version" ] && ok "pkg-config --modversion cws = $pcver" || fail "modversion '$pcver'"
cflags=$(pc --cflags)
libs=$(pc --libs)
case "$cflags" in *"$root/include"*) ok "cflags point into DESTDIR ($cflags)" ;; *) fail "cflags '$cflags'" ;; esac

cat >"$work/prog.c" <<'EOF'
#include <cws.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    /* RFC 6455 §1.3 */
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    cws_str k = {key, strlen(key)};
    char accept[29];
    cws_hs_accept_key(k, accept);
    printf("%s %s\n", cws_version(), accept);
    return strcmp(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != 0;
}
EOF
want="$version s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
# A sanitizer build (make SANITIZE=1 test) installs instrumented libraries.
san=""
nm "$root/lib/libcws.a" 2>/dev/null | grep -q '__asan_' && san="-fsanitize=address,undefined"

# shellcheck disable=SC2086
if cc -std=c11 -Wall -Wextra -Werror $san $cflags "$work/prog.c" -o "$work/prog-dyn" $libs; then
    if readelf -d "$work/prog-dyn" | grep -q "NEEDED.*libcws.so.$major"; then
        ok "dynamic build needs libcws.so.$major"
    else
        fail "dynamic build does not need libcws.so.$major"
    fi
    got=$(LD_LIBRARY_PATH="$root/lib" "$work/prog-dyn") && [ "$got" = "$want" ] &&
        ok "dynamic program prints '$got'" || fail "dynamic program printed '$got'"
else
    fail "dynamic build with pkg-config"
fi

static_libs=$(pc --libs --static | sed 's/-lcws/-Wl,-Bstatic -lcws -Wl,-Bdynamic/')
# shellcheck disable=SC2086
if cc -std=c11 -Wall -Wextra -Werror $san $cflags "$work/prog.c" -o "$work/prog-static" $static_libs; then
    readelf -d "$work/prog-static" | grep -q 'NEEDED.*libcws' &&
        fail "static build still needs libcws.so" || ok "static build has no libcws.so dependency"
    got=$("$work/prog-static") && [ "$got" = "$want" ] &&
        ok "static program prints '$got'" || fail "static program printed '$got'"
else
    fail "static build with pkg-config"
fi

# Uninstall leaves no file behind (directories may stay).
make -s BUILD="$BUILD" uninstall PREFIX="$prefix" DESTDIR="$dest" >"$work/uninstall.log" 2>&1 ||
    { tail -n 20 "$work/uninstall.log"; fail "make uninstall"; }
left=$(find "$dest" ! -type d)
[ -z "$left" ] && ok "make uninstall removed every file" || fail "left after uninstall: $left"

echo
[ $fails -eq 0 ] && echo "install: all checks passed" || echo "install: $fails failed"
[ $fails -eq 0 ]
