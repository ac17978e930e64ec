#!/bin/sh
# Generates the single-file header (stb style) from include/cws.h and src/.
#
#   tools/amalgamate.sh [OUTPUT]     (default: standard output)
#
# Layout of the result:
#   1. usage notes and the license
#   2. feature-test macros found in the sources (_POSIX_C_SOURCE, ...),
#      hoisted and #ifndef-guarded, only when CWS_IMPLEMENTATION is defined:
#      they take effect only before the first system include
#   3. include/cws.h: the declarations, always
#   4. under #ifdef CWS_IMPLEMENTATION (once): the private headers and
#      src/*.c, then src/runtime/*.c under #ifndef CWS_NO_RUNTIME
#
# Each `#include "..."` of a private header is inlined at its first use and
# dropped after; `#include "cws.h"` is dropped (section 3 already holds it).
#
# CWS_STATIC (the user defines it): every cws function and object of the
# implementation gets internal linkage in that translation unit, so two
# libraries that each embed cws link into one program. The public
# declarations get it through CWS_API (static CWS__UNUSED under CWS_STATIC);
# in the pasted src/ files, every file-scope declaration or definition of a
# non-static cws_/cws__ function or object is prefixed here with CWS__LINK
# (empty, or static CWS__UNUSED), and a leading `extern` of one becomes
# CWS__EXTERN. CWS__UNUSED is __attribute__((unused)) on gcc/clang: a
# program that calls a few functions must not warn about the rest.
# System includes stay where they are (they may sit under an #ifdef).
# The source lists are globbed, so new files are picked up without edits.
# POSIX sh and awk only.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

out=${1:-}
LC_ALL=C
export LC_ALL

core=$(ls src/*.c 2>/dev/null | sort || true)
deflate=$(ls src/deflate/*.c 2>/dev/null | sort || true)
runtime=$(ls src/runtime/*.c 2>/dev/null | sort || true)
[ -f include/cws.h ] || { echo "amalgamate: include/cws.h not found" >&2; exit 1; }

tmp=$(mktemp "${TMPDIR:-/tmp}/cws-amalgamate.XXXXXX")
trap 'rm -f "$tmp"' EXIT INT TERM

# shellcheck disable=SC2086
awk -v core="$(echo $core)" -v deflate="$(echo $deflate)" -v runtime="$(echo $runtime)" '
function fail(msg) { print "amalgamate: " msg > "/dev/stderr"; failed = 1; exit 1 }

function out(s) { buf[++nbuf] = s }

# Collapses "a/./b/../c" to "a/c".
function normalize(p,    parts, n, i, stack, k, r) {
    n = split(p, parts, "/")
    k = 0
    for (i = 1; i <= n; i++) {
        if (parts[i] == "" || parts[i] == ".") continue
        if (parts[i] == ".." && k > 0 && stack[k] != "..") { k--; continue }
        stack[++k] = parts[i]
    }
    r = ""
    for (i = 1; i <= k; i++) r = r (i > 1 ? "/" : "") stack[i]
    return r
}

function dirname(p) { if (p !~ /\//) return "."; sub(/\/[^\/]*$/, "", p); return p }

function exists(p,    line, rc) {
    rc = (getline line < p)
    if (rc >= 0) { close(p); return 1 }
    return 0
}

# A quoted include resolves against the including file, then include/, src/.
function resolve(name, from,    c) {
    c = normalize(dirname(from) "/" name); if (exists(c)) return c
    c = normalize("include/" name);        if (exists(c)) return c
    c = normalize("src/" name);            if (exists(c)) return c
    return ""
}

function is_feature(name) { return name ~ /^_[A-Z0-9_]*SOURCE$/ }

function note_feature(name, value) {
    sub(/[ \t]*\/[*\/].*$/, "", value)   # a trailing comment is not the value
    if (section == "runtime") rt_features = 1; else core_features = 1
    if (!(name in feature)) { forder[++nfeature] = name; feature[name] = value; return }
    # Two files asking for different levels: keep the higher one.
    if (value != feature[name] && value + 0 > feature[name] + 0) feature[name] = value
}

# Returns the code of s without comments and with string and character
# literals emptied; lk_comment carries an open /* */ to the next line.
function code_only(s,    r, c, i, n, q) {
    r = ""; n = length(s); i = 1
    while (i <= n) {
        c = substr(s, i, 1)
        if (lk_comment) {
            if (c == "*" && substr(s, i + 1, 1) == "/") { lk_comment = 0; r = r " "; i += 2 }
            else i++
            continue
        }
        if (c == "/" && substr(s, i + 1, 1) == "*") { lk_comment = 1; i += 2; continue }
        if (c == "/" && substr(s, i + 1, 1) == "/") break
        if (c == "\"" || c == "\047") {
            q = c; i++
            while (i <= n && substr(s, i, 1) != q) { if (substr(s, i, 1) == "\\") i++; i++ }
            r = r q q; i++
            continue
        }
        r = r c; i++
    }
    return r
}

function count(s, re) { return gsub(re, "", s) }

# CWS_STATIC support (see the top of this file): returns line of file p with
# CWS__LINK or CWS__EXTERN where it declares a cws_/cws__ function or object
# at file scope. Tracks braces, parentheses, comments and preprocessor lines
# in lk_* (emit() keeps them per file). A declaration this does not
# recognise (say, a return type on its own line) keeps external linkage and
# fails the nm check of tests/integration/test_single_header.sh.
function linkage(p, line,    code, at_top, pos, name, before, first, after) {
    if (p ~ /^include\//) return line
    if (lk_pp || (!lk_comment && line ~ /^[ \t]*#/)) { lk_pp = (line ~ /\\$/); return line }
    at_top = (!lk_comment && lk_depth == 0 && lk_paren == 0 && !lk_mid)
    code = code_only(line)
    lk_depth += count(code, "[{]") - count(code, "[}]")
    lk_paren += count(code, "[(]") - count(code, "[)]")
    if (lk_depth == 0 && lk_paren == 0 && code ~ /[^ \t]/) {
        sub(/[ \t]+$/, "", code)
        lk_mid = (code !~ /[;}]$/)
    } else if (lk_depth > 0) lk_mid = 0
    if (!at_top || line !~ /^[A-Za-z_]/) return line
    # The declared name: the first cws_ identifier followed by ( [ = ; or ,
    # (not a struct/union/enum tag), before any parenthesis.
    if (!match(code, /(^|[^A-Za-z0-9_])cws_[A-Za-z0-9_]*[ \t]*[(\[=;,]/)) return line
    pos = (substr(code, RSTART, 4) == "cws_") ? RSTART : RSTART + 1
    before = substr(code, 1, pos - 1)
    if (before ~ /[(]/ || before ~ /(struct|union|enum)[ \t]+$/) return line
    name = substr(code, pos, RSTART + RLENGTH - pos)
    sub(/[^A-Za-z0-9_].*$/, "", name)
    after = substr(code, RSTART + RLENGTH - 1)
    first = code; sub(/^[ \t]*/, "", first); sub(/[^A-Za-z0-9_].*$/, "", first)
    if (first == "static" || first == "typedef") return line
    if (first == "extern") {
        if (after ~ /^\[[ \t]*\]/)
            fail(p ": extern " name "[] needs its size for CWS_STATIC (a static declaration must be complete)")
        sub(/^extern/, "CWS__EXTERN", line)
        return line
    }
    defined_in_src[name] = 1
    return "CWS__LINK " line
}

# Prints buf[from..to] of a public header. A CWS_API function that src/ does
# not define (an API whose code has not landed yet) would be, under
# CWS_STATIC, a static function declared and never defined, which gcc
# reports even when unused (and no pragma scoped to the declaration stops
# it): such a declaration is left out under CWS_STATIC.
function print_public(from, to,    i, code, name, wrap, depth) {
    wrap = 0; depth = 0
    for (i = from; i <= to; i++) {
        if (!wrap && buf[i] ~ /^CWS_API[ \t]/) {
            code = buf[i]
            if (match(code, /cws_[A-Za-z0-9_]*[ \t]*[(]/)) {
                name = substr(code, RSTART, RLENGTH)
                sub(/[ \t]*[(]$/, "", name)
                if (!(name in defined_in_src)) {
                    print "#ifndef CWS_STATIC /* " name ": not in src/ yet */"
                    wrap = 1
                }
            }
        }
        print buf[i]
        if (wrap) {
            code = buf[i]
            depth += count(code, "[(]") - count(code, "[)]")
            if (depth == 0 && code ~ /;/) { print "#endif"; wrap = 0 }
        }
    }
    if (wrap) fail("unterminated declaration in a public header")
}

# Emits file p with its private includes inlined (each file once).
function emit(p,    lines, n, i, line, m, name, target, what, rest, sv_depth, sv_paren, sv_mid, sv_comment, sv_pp) {
    if (p in seen) return
    seen[p] = 1
    sv_depth = lk_depth; sv_paren = lk_paren; sv_mid = lk_mid; sv_comment = lk_comment; sv_pp = lk_pp
    lk_depth = lk_paren = lk_mid = lk_comment = lk_pp = 0
    n = 0
    while ((getline line < p) > 0) lines[++n] = line
    close(p)
    out("/* ---- file: " p " ---- */")
    for (i = 1; i <= n; i++) {
        line = lines[i]
        # "#ifndef _X_SOURCE / #define _X_SOURCE v / #endif": hoisted.
        if (line ~ /^[ \t]*#[ \t]*ifndef[ \t]+_[A-Z0-9_]*SOURCE[ \t]*$/ && i + 2 <= n \
            && lines[i + 2] ~ /^[ \t]*#[ \t]*endif/) {
            name = line; sub(/^[ \t]*#[ \t]*ifndef[ \t]+/, "", name); sub(/[ \t]*$/, "", name)
            rest = lines[i + 1]
            if (rest ~ ("^[ \t]*#[ \t]*define[ \t]+" name "([ \t]|$)")) {
                sub("^[ \t]*#[ \t]*define[ \t]+" name "[ \t]*", "", rest)
                note_feature(name, rest)
                i += 2
                continue
            }
        }
        # A bare "#define _X_SOURCE v": hoisted.
        if (line ~ /^[ \t]*#[ \t]*define[ \t]+_[A-Z0-9_]*SOURCE([ \t]|$)/) {
            rest = line; sub(/^[ \t]*#[ \t]*define[ \t]+/, "", rest)
            name = rest; sub(/[ \t].*$/, "", name)
            if (is_feature(name)) {
                sub(/^[^ \t]*[ \t]*/, "", rest)
                note_feature(name, rest)
                continue
            }
        }
        if (line ~ /^[ \t]*#[ \t]*include[ \t]*"/) {
            target = line
            sub(/^[ \t]*#[ \t]*include[ \t]*"/, "", target)
            sub(/".*$/, "", target)
            what = resolve(target, p)
            if (what == "") fail(p ": cannot resolve #include \"" target "\"")
            if (what == "include/cws.h" && public_done) continue
            if (what in seen) continue
            emit(what)
            out("/* ---- (back in " p ") ---- */")
            continue
        }
        out(linkage(p, line))
    }
    if (p !~ /^include\// && (lk_depth != 0 || lk_paren != 0 || lk_comment))
        fail(p ": unbalanced braces, parentheses or comment (amalgamate.sh lost track)")
    lk_depth = sv_depth; lk_paren = sv_paren; lk_mid = sv_mid; lk_comment = sv_comment; lk_pp = sv_pp
}

BEGIN {
    # Section 3 first (buffered), so that every file it pulls in is known.
    emit("include/cws.h")
    public_done = 1
    emit("include/cws_util.h")
    public_end = nbuf
    emit("include/cws_deflate.h")
    deflate_public_end = nbuf

    ncore = split(core, cf, " ")
    ndef = split(deflate, df, " ")
    nrt = split(runtime, rf, " ")
    for (i = 1; i <= ncore; i++) emit(cf[i])
    core_end = nbuf
    for (i = 1; i <= ndef; i++) emit(df[i])
    deflate_end = nbuf
    section = "runtime"
    for (i = 1; i <= nrt; i++) emit(rf[i])

    while ((getline line < "include/cws.h") > 0)
        if (line ~ /^#define CWS_VERSION_STRING /) { version = line; sub(/^[^"]*"/, "", version); sub(/".*/, "", version) }
    close("include/cws.h")
    license = "LICENSE"
    nlic = 0
    while ((getline line < license) > 0) lic[++nlic] = line
    close(license)

    print "/*"
    print " * cws " version " -- a WebSocket (RFC 6455) library in C, as one header file."
    print " *"
    print " * GENERATED by tools/amalgamate.sh from include/cws.h and src/: do not edit."
    print " * Change the sources and run `make single-header`."
    print " *"
    print " * Use it like the stb libraries:"
    print " *"
    print " *   in every file that uses the API:      #include \"cws.h\""
    print " *   in exactly one C file of the program: #define CWS_IMPLEMENTATION"
    print " *                                         #include \"cws.h\""
    print " *"
    print " * In the file that defines CWS_IMPLEMENTATION, include this header BEFORE"
    print " * any system header (or define _DEFAULT_SOURCE yourself, e.g. with"
    print " * -D_DEFAULT_SOURCE): the implementation needs POSIX declarations, and the"
    print " * feature-test macros that enable them (below) only work before the first"
    print " * system include. Other files need nothing special."
    print " *"
    print " * Options, defined before the include in the implementation file:"
    print " *   CWS_NO_RUNTIME  leave out layer 5 (cws_loop, cws_server, cws_connect:"
    print " *                   sockets and epoll/poll). What remains (layers 1-4)"
    print " *                   does no I/O and needs only the C standard library"
    print " *                   plus a random source (getrandom or /dev/urandom)."
    print " *                   Define it in every file, or at least in the"
    print " *                   implementation file, to drop the runtime declarations."
    print " *                   With the runtime, link with -pthread where the libc"
    print " *                   keeps POSIX threads apart (glibc before 2.34, some"
    print " *                   BSDs): cws_loop_post takes a mutex."
    print " *"
    print " *   CWS_TLS_OPENSSL a TLS transport for the runtime, through OpenSSL: wss://"
    print " *                   clients and servers with a certificate (see"
    print " *                   cws_tls_backend). Link with -lssl -lcrypto. Without it"
    print " *                   the single header has no TLS and needs no OpenSSL."
    print " *"
    print " *   CWS_NO_DEFLATE  leave out the DEFLATE codec (cws_deflate.h) and with"
    print " *                   it permessage-deflate (RFC 7692): offers are then"
    print " *                   declined and compressed frames fail with 1002."
    print " *"
    print " *   CWS_STATIC      give every function and object of the library internal"
    print " *                   linkage (static) in the implementation file, so that"
    print " *                   two libraries that each embed cws link into one"
    print " *                   program without clashing. Define it before the first"
    print " *                   include of this header, together with"
    print " *                   CWS_IMPLEMENTATION: only that file can then call cws."
    print " *                   Functions it does not call cost no warning (they are"
    print " *                   marked unused) and, optimized, no code."
    print " *"
    print " * Needs C11 (C99 compilers that accept anonymous unions, as gcc and clang"
    print " * do without -pedantic, work too). C++ files may include this header for"
    print " * the declarations (they are extern \"C\"), but the file that defines"
    print " * CWS_IMPLEMENTATION must be compiled as C."
    print " * Library-internal functions have external linkage (internal under"
    print " * CWS_STATIC) and the reserved prefix cws__; file-local ones are static."
    print " *"
    for (i = 1; i <= nlic; i++) print (lic[i] == "" ? " *" : " * " lic[i])
    print " */"
    print ""
    print "/* Feature-test macros the implementation needs (hoisted from src/). */"
    print "#if defined(CWS_IMPLEMENTATION) && !defined(CWS__FEATURES_DONE)"
    print "#define CWS__FEATURES_DONE"
    for (i = 1; i <= nfeature; i++) {
        print "#ifndef " forder[i]
        print "#define " forder[i] (feature[forder[i]] == "" ? "" : " " feature[forder[i]])
        print "#endif"
    }
    print "#endif"
    print ""
    print "/* CWS_STATIC: the public functions become static (and unused-warning"
    print " * free), here and through CWS__LINK in the implementation below. */"
    print "#ifndef CWS__UNUSED"
    print "#if defined(__GNUC__) || defined(__clang__)"
    print "#define CWS__UNUSED __attribute__((unused))"
    print "#else"
    print "#define CWS__UNUSED"
    print "#endif"
    print "#endif"
    print "#if defined(CWS_STATIC) && !defined(CWS_IMPLEMENTATION)"
    print "#error \"cws.h: CWS_STATIC makes cws private to the file that compiles it: define CWS_IMPLEMENTATION too, before the include\""
    print "#endif"
    print "#if defined(CWS_STATIC) && !defined(CWS_API)"
    print "#define CWS_API static CWS__UNUSED"
    print "#define CWS__API_STATIC"
    print "#endif"
    print ""
    print_public(1, public_end)
    print ""
    print "#ifndef CWS_NO_DEFLATE"
    print_public(public_end + 1, deflate_public_end)
    print "#endif /* CWS_NO_DEFLATE */"
    print ""
    print "/* ======================================================================"
    print " * Implementation (only where CWS_IMPLEMENTATION is defined, once)"
    print " * ==================================================================== */"
    print "#if defined(CWS_IMPLEMENTATION) && !defined(CWS__IMPLEMENTATION_DONE)"
    print "#define CWS__IMPLEMENTATION_DONE"
    print ""
    print "/* Linkage of the library functions and objects (tools/amalgamate.sh"
    print " * puts these in front of each): external, or static under CWS_STATIC. */"
    print "#ifdef CWS_STATIC"
    print "#ifndef CWS__API_STATIC"
    print "#error \"cws.h: define CWS_STATIC before the first include of cws.h in this file, and leave CWS_API undefined\""
    print "#endif"
    print "#define CWS__LINK static CWS__UNUSED"
    print "#define CWS__EXTERN static CWS__UNUSED"
    print "#else"
    print "#define CWS__LINK"
    print "#define CWS__EXTERN extern"
    print "#endif"
    if (nfeature > 0) {
        print ""
        print "/* glibc fixes its feature set at the first system include; if that came"
        print " * before this header, the POSIX declarations used below are missing. */"
        if (!core_features) print "#ifndef CWS_NO_RUNTIME"
        print "#if defined(__GLIBC__) && !defined(__USE_POSIX199309)"
        print "#error \"cws.h: include it before any system header in the file that defines CWS_IMPLEMENTATION, or define _DEFAULT_SOURCE\""
        print "#endif"
        if (!core_features) print "#endif"
    }
    print ""
    for (i = deflate_public_end + 1; i <= core_end; i++) print buf[i]
    if (deflate_end > core_end) {
        print ""
        print "#ifndef CWS_NO_DEFLATE"
        for (i = core_end + 1; i <= deflate_end; i++) print buf[i]
        print "#endif /* CWS_NO_DEFLATE */"
    }
    if (nbuf > deflate_end) {
        print ""
        print "#ifndef CWS_NO_RUNTIME"
        for (i = deflate_end + 1; i <= nbuf; i++) print buf[i]
        print "#endif /* CWS_NO_RUNTIME */"
    }
    print ""
    print "#endif /* CWS_IMPLEMENTATION */"
}
' > "$tmp"

if [ -n "$out" ]; then
    mkdir -p "$(dirname "$out")"
    cp "$tmp" "$out"
else
    cat "$tmp"
fi
