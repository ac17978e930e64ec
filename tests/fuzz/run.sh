#!/usr/bin/env bash
# Runs every built libFuzzer harness for SECONDS each, FUZZ_JOBS at a time,
# and fails if any of them finds something (crash, sanitizer report, leak,
# broken invariant, timeout, out-of-memory).
#   FUZZ_DIR=build/fuzz tests/fuzz/run.sh SECONDS [harness...]
# Seeds come from tests/fuzz/corpus/<harness>/ (read only); inputs the
# fuzzer finds go to $FUZZ_DIR/corpus/<harness>/, findings to
# $FUZZ_DIR/artifacts/, the full output to $FUZZ_DIR/logs/<harness>.log.
# Replay a finding: $FUZZ_DIR/fuzz_<harness> <artifact file>
set -u
cd "$(dirname "$0")/../.."
secs=${1:-60}; shift || true
FUZZ_DIR=${FUZZ_DIR:-build/fuzz}
jobs=${FUZZ_JOBS:-2}

harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
    for b in "$FUZZ_DIR"/fuzz_*; do
        [ -x "$b" ] && [ -f "$b" ] && harnesses+=("$(basename "$b" | sed 's/^fuzz_//')")
    done
fi
[ ${#harnesses[@]} -gt 0 ] || { echo "run.sh: no harness built in $FUZZ_DIR" >&2; exit 1; }
mkdir -p "$FUZZ_DIR/logs" "$FUZZ_DIR/artifacts"

run_harness() {
    local h=$1
    local seeds=tests/fuzz/corpus/$h work=$FUZZ_DIR/corpus/$h
    local opts=(-max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
                -artifact_prefix="$FUZZ_DIR/artifacts/$h-" -close_fd_mask=1)
    mkdir -p "$work"
    [ -f "tests/fuzz/$h.dict" ] && opts+=(-dict="tests/fuzz/$h.dict")
    case $h in
        conn*) opts+=(-max_len=16384) ;;
        *) opts+=(-max_len=8192) ;;
    esac
    local dirs=("$work")
    [ -d "$seeds" ] && dirs+=("$seeds")
    if "$FUZZ_DIR/fuzz_$h" "${opts[@]}" "${dirs[@]}" >"$FUZZ_DIR/logs/$h.log" 2>&1; then
        echo "ok"
    else
        echo "FINDING"
    fi >"$FUZZ_DIR/logs/$h.status"
}

running=0
for h in "${harnesses[@]}"; do
    [ -x "$FUZZ_DIR/fuzz_$h" ] || { echo "run.sh: $FUZZ_DIR/fuzz_$h is not built" >&2; exit 1; }
    rm -f "$FUZZ_DIR/logs/$h.status"
    run_harness "$h" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait

failed=0
printf '%-14s %-8s %12s %9s %7s %7s\n' harness result execs exec/s cov ft
for h in "${harnesses[@]}"; do
    log=$FUZZ_DIR/logs/$h.log
    st=$(cat "$FUZZ_DIR/logs/$h.status" 2>/dev/null || echo FINDING)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    printf '%-14s %-8s %12s %9s %7s %7s\n' "$h" "$st" "${execs:--}" "${rate:--}" "${cov:--}" "${ft:--}"
    if [ "$st" != ok ]; then
        failed=1
        echo "---- $h: last lines of $log"
        grep -E 'ERROR|invariant failed|SUMMARY|Test unit written|^==[0-9]+==' "$log" | head -20
        tail -5 "$log"
    fi
done
exit $failed
