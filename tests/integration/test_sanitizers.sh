#!/usr/bin/env bash
# Memory and undefined-behaviour checks of every unit test:
#   1. builds them with ASan+UBSan into $BUILD/sanitizers/asan and runs
#      each one; any sanitizer report fails it (1b: the poll backend's
#      runtime tests the same way, from $BUILD/sanitizers/poll-asan);
#   2. runs each unit test binary of $BUILD/tests/ under valgrind (memcheck,
#      definite and indirect leaks are errors);
#   3. runs $BUILD/cws-echo under valgrind through the conformance suite.
# No test is skipped under valgrind: each takes a few seconds at most. A
# test still running after VALGRIND_TIMEOUT seconds (default 120) fails.
# The runs of each stage go SAN_JOBS (default 2) at a time, one a core:
# they are single-threaded, and the whole script took five minutes one
# after the other.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
# Everything this script builds or writes stays under $BUILD, so `make
# clean` removes it. The sanitizers/ level keeps the names apart from
# $BUILD/asan, the top Makefile's default for `make SANITIZE=1` (which may
# itself be this BUILD: then these nest as build/asan/sanitizers/...).
SAN_DIR=$BUILD/sanitizers
ASAN_BUILD=$SAN_DIR/asan
POLL_BUILD=$SAN_DIR/poll-asan
VALGRIND_TIMEOUT=${VALGRIND_TIMEOUT:-120}
SAN_JOBS=${SAN_JOBS:-2}
LOGS=$SAN_DIR/logs
failed=0; ran=0
mkdir -p "$LOGS"

# check LABEL LOG PATTERN CMD...: runs CMD into LOG and says ok or FAIL,
# with LOG's lines that match PATTERN.
check() {
    local label=$1 log=$2 pat=$3
    shift 3
    if "$@" >"$log" 2>&1; then
        echo "ok   $label"
    else
        echo "FAIL $label (log: $log)"
        grep -E "$pat" "$log" | head -30
    fi
}
# spawn ...: check in the background, SAN_JOBS at once; each job's report
# goes to its own file, printed (and counted) by settle in order.
njob=0
spawn() {
    while [ "$(jobs -rp | wc -l)" -ge "$SAN_JOBS" ]; do wait -n; done
    njob=$((njob + 1))
    check "$@" >"$LOGS/job.$njob.out" 2>&1 &
}
settle() {
    wait
    for i in $(seq 1 "$njob"); do
        cat "$LOGS/job.$i.out"
        grep -q '^ok   ' "$LOGS/job.$i.out" && ran=$((ran + 1))
        grep -q '^FAIL ' "$LOGS/job.$i.out" && { ran=$((ran + 1)); failed=$((failed + 1)); }
        rm -f "$LOGS/job.$i.out"
    done
    njob=0
}

echo "--- building the unit tests with ASan+UBSan into $ASAN_BUILD"
if ! make -s SANITIZE=1 BUILD="$ASAN_BUILD" -j2 tests >"$LOGS/asan-build.log" 2>&1; then
    cat "$LOGS/asan-build.log"
    echo "test_sanitizers: the sanitizer build failed" >&2
    exit 1
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "$ASAN_BUILD"/tests/test_*; do
    [ -x "$t" ] && [ -f "$t" ] || continue
    spawn "asan+ubsan $(basename "$t")" "$LOGS/$(basename "$t").asan.log" 'ERROR|runtime error|SUMMARY|FAILED' \
        timeout 300 "$t"
done
settle

# 1b. The poll(2) backend (the default off Linux) under ASan+UBSan: the
#     runtime's unit tests, built with -DCWS_USE_POLL.
echo "--- building the runtime tests with -DCWS_USE_POLL and ASan+UBSan into $POLL_BUILD"
if ! make -s SANITIZE=1 BUILD="$POLL_BUILD" OPT="-O1 -g -DCWS_USE_POLL" -j2 tests \
        >"$LOGS/poll-asan-build.log" 2>&1; then
    cat "$LOGS/poll-asan-build.log"
    echo "test_sanitizers: the poll sanitizer build failed" >&2
    exit 1
fi
for t in "$POLL_BUILD"/tests/test_runtime_*; do
    [ -x "$t" ] && [ -f "$t" ] || continue
    spawn "poll+asan  $(basename "$t")" "$LOGS/$(basename "$t").poll-asan.log" 'ERROR|runtime error|SUMMARY|FAILED' \
        timeout 300 "$t"
done
settle

if ! command -v valgrind >/dev/null; then
    echo "test_sanitizers: valgrind is not installed (make deps)" >&2
    exit 1
fi
# Under `make SANITIZE=1 test` the binaries of $BUILD are ASan builds
# already, and ASan and valgrind cannot run together: stages 2 and 3 are
# what the plain build's run is for.
if nm "$BUILD/libcws.a" 2>/dev/null | grep -q '__asan_'; then
    echo "test_sanitizers: $BUILD is a sanitizer build; valgrind stages left to the plain build"
    echo "test_sanitizers: $ran runs, $failed failed"
    [ "$ran" -gt 0 ] && [ "$failed" -eq 0 ]
    exit
fi
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] && [ -f "$t" ] || continue
    spawn "valgrind   $(basename "$t")" "$LOGS/$(basename "$t").valgrind.log" '^==[0-9]+==' \
        timeout "$VALGRIND_TIMEOUT" valgrind -q --leak-check=full --error-exitcode=1 \
        --errors-for-leak-kinds=definite,indirect "$t"
done
settle

# 3. The server side under hostile input: the conformance suite against
#    cws-echo running under valgrind (its exit status after SIGTERM carries
#    any error or leak; run.py fails on it). A few seconds.
if [ -x "$BUILD/cws-echo" ]; then
    ran=$((ran + 1))
    log=$LOGS/cws-echo.valgrind.log
    if timeout 300 /usr/bin/python3 tests/conformance/run.py --strict --timeout 30 --server \
            valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite,indirect \
            "$BUILD/cws-echo" --port 0 >"$log" 2>&1; then
        echo "ok   valgrind   cws-echo under the conformance suite"
    else
        failed=$((failed + 1))
        echo "FAIL valgrind   cws-echo under the conformance suite (log: $log)"
        grep -vE '^OK ' "$log" | tail -30
    fi
fi

echo "test_sanitizers: $ran runs, $failed failed"
[ "$ran" -gt 0 ] && [ "$failed" -eq 0 ]
