#!/usr/bin/env bash
# Runs the test programs and prints one closing line "N passed, N failed".
#   tests/run.sh              every suite
#   tests/run.sh unit         cmocka unit tests only
#   tests/run.sh integration  real-socket tests only (Python, Node, Chromium)
# A suite is one program: build/tests/test_* (cmocka) or
# tests/integration/test_*.{sh,py,js}. Each exits non-zero on failure.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
what=${1:-all}
passed=0; failed=0; failures=()

run_one() {
    local name=$1; shift
    local start=$SECONDS
    echo "=== $name"
    if timeout 600 "$@"; then
        passed=$((passed + 1)); echo "--- ok   $name ($((SECONDS - start)) s)"
    else
        failed=$((failed + 1)); failures+=("$name"); echo "--- FAIL $name ($((SECONDS - start)) s)"
    fi
}

if [ "$what" = all ] || [ "$what" = unit ]; then
    for t in "$BUILD"/tests/test_*; do
        [ -x "$t" ] || continue
        run_one "unit/$(basename "$t")" "$t"
    done
    # The same tests linked with the library built from single/cws.h
    # (tools/tools.mk); once that variant is built, none may be missing.
    if [ -d "$BUILD/tests-single" ]; then
        for t in "$BUILD"/tests/test_*; do
            [ -x "$t" ] || continue
            s="$BUILD/tests-single/$(basename "$t")"
            if [ -x "$s" ]; then
                run_one "unit-single/$(basename "$t")" "$s"
            else
                run_one "unit-single/$(basename "$t") (not built)" false
            fi
        done
    fi
fi

if [ "$what" = all ] || [ "$what" = integration ]; then
    for t in tests/integration/test_*; do
        case "$t" in
            *.py) run_one "${t#tests/}" /usr/bin/python3 "$t" ;;
            *.js|*.mjs) run_one "${t#tests/}" node "$t" ;;
            *.sh) run_one "${t#tests/}" bash "$t" ;;
            *) continue ;;
        esac
    done
fi

echo
for f in "${failures[@]+"${failures[@]}"}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
