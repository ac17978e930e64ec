#!/usr/bin/env bash
# Runs the test programs and prints one closing line "N passed, N failed".
#   tests/run.sh              every suite
#   tests/run.sh unit         cmocka unit tests only
#   tests/run.sh integration  real-socket tests only (Python, Node, Chromium)
#   tests/run.sh tls          the TLS tests, against a TLS=openssl build
#                             (tests/unit/tls, tests/integration/tls)
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

run_scripts() {
    for t in "$1"/test_*; do
        case "$t" in
            *.py) run_one "${t#tests/}" /usr/bin/python3 "$t" ;;
            *.js|*.mjs) run_one "${t#tests/}" node "$t" ;;
            *.sh) run_one "${t#tests/}" bash "$t" ;;
            *) continue ;;
        esac
    done
}

if [ "$what" = all ] || [ "$what" = integration ]; then
    run_scripts tests/integration
fi

if [ "$what" = tls ]; then
    # Each present in a TLS build: none may be missing.
    for t in "$BUILD"/tests/tls/test_*; do
        [ -x "$t" ] || { run_one "unit/tls (not built: make TLS=openssl)" false; continue; }
        run_one "unit/tls/$(basename "$t")" "$t"
        s="$BUILD/tests-single/tls/$(basename "$t")"
        if [ -x "$s" ]; then run_one "unit-single/tls/$(basename "$t")" "$s"
        else run_one "unit-single/tls/$(basename "$t") (not built)" false; fi
    done
    run_scripts tests/integration/tls
fi

echo
for f in "${failures[@]+"${failures[@]}"}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
