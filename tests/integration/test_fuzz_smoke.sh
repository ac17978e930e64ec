#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz/) and runs each for about
# FUZZ_SECONDS (default 5) seconds, two at a time; any finding fails
# (a smoke test: `make fuzz` is the long run).
# Skipped (exit 0, with a message) when clang or its libFuzzer runtime
# (Debian libclang-rt-14-dev) is missing.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
FUZZ_CC=${FUZZ_CC:-clang}
secs=${FUZZ_SECONDS:-5}

probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' \
    >"$probe_dir/probe.c"
if ! command -v "$FUZZ_CC" >/dev/null ||
   ! "$FUZZ_CC" -fsanitize=fuzzer,address,undefined "$probe_dir/probe.c" -o "$probe_dir/probe" 2>/dev/null; then
    echo "SKIP test_fuzz_smoke: $FUZZ_CC with libFuzzer is not available (install clang and libclang-rt-14-dev: make deps)"
    exit 0
fi

if ! make -s BUILD="$BUILD" FUZZ_CC="$FUZZ_CC" -j2 fuzz-build; then
    echo "test_fuzz_smoke: building the harnesses failed" >&2
    exit 1
fi
FUZZ_DIR=$BUILD/fuzz FUZZ_JOBS=2 tests/fuzz/run.sh "$secs"
