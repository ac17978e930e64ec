#!/usr/bin/env bash
# The TLS unit tests (tests/unit/tls) under ASan+UBSan and under valgrind:
#   1. builds them with TLS=openssl SANITIZE=1 into $BUILD/sanitizers/asan
#      and runs each; any sanitizer report fails it;
#   2. runs $BUILD's own (a plain TLS build) under valgrind memcheck with
#      every leak kind an error, "still reachable" included: OpenSSL 3
#      frees all it allocated at exit (OPENSSL_cleanup), so nothing needs
#      a suppression, and a TLS object we forget to free shows.
# $BUILD is a TLS build (tests/run.sh tls).
set -u
cd "$(dirname "$0")/../../.."
BUILD=${BUILD:-build/tls}
SAN_BUILD=$BUILD/sanitizers/asan
LOGS=$BUILD/sanitizers/logs
failed=0; ran=0
mkdir -p "$LOGS"

tests=$(cd tests/unit/tls && ls test_*.c | sed 's/\.c$//')
if ! command -v valgrind >/dev/null; then
    echo "test_tls_sanitizers: valgrind is not installed (make deps)" >&2
    exit 1
fi

# valgrind runs on one core while the ASan build takes the other (and
# then its tests): a third of the time of one after the other.
valgrind_all() {
    for t in $tests; do
        log=$LOGS/$t.valgrind.log
        if timeout 300 valgrind -q --leak-check=full --error-exitcode=1 --show-leak-kinds=all \
                --errors-for-leak-kinds=all "$BUILD/tests/tls/$t" >"$log" 2>&1; then
            echo "ok   valgrind   tls/$t"
        else
            echo "FAIL valgrind   tls/$t (log: $log)"
            grep -E '^==[0-9]+==' "$log" | head -30
        fi
    done
}
vg_pid=
if nm "$BUILD/libcws.a" 2>/dev/null | grep -q '__asan_'; then
    echo "test_tls_sanitizers: $BUILD is a sanitizer build; valgrind left to the plain build"
else
    valgrind_all >"$LOGS/valgrind.out" 2>&1 &
    vg_pid=$!
fi

echo "--- building the TLS unit tests with ASan+UBSan into $SAN_BUILD"
if ! make -s TLS=openssl SANITIZE=1 BUILD="$SAN_BUILD" -j2 \
        $(for t in $tests; do echo "$SAN_BUILD/tests/tls/$t"; done) >"$LOGS/asan-build.log" 2>&1; then
    cat "$LOGS/asan-build.log"
    echo "test_tls_sanitizers: the sanitizer build failed" >&2
    [ -n "$vg_pid" ] && kill "$vg_pid"
    exit 1
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in $tests; do
    ran=$((ran + 1))
    log=$LOGS/$t.asan.log
    if timeout 300 "$SAN_BUILD/tests/tls/$t" >"$log" 2>&1; then
        echo "ok   asan+ubsan tls/$t"
    else
        failed=$((failed + 1))
        echo "FAIL asan+ubsan tls/$t (log: $log)"
        grep -E 'ERROR|runtime error|SUMMARY|FAILED' "$log" | head -20
    fi
done

if [ -n "$vg_pid" ]; then
    wait "$vg_pid"
    cat "$LOGS/valgrind.out"
    ran=$((ran + $(grep -c '^ok   valgrind\|^FAIL valgrind' "$LOGS/valgrind.out")))
    failed=$((failed + $(grep -c '^FAIL valgrind' "$LOGS/valgrind.out")))
fi

echo "test_tls_sanitizers: $ran runs, $failed failed"
[ "$ran" -gt 0 ] && [ "$failed" -eq 0 ]
