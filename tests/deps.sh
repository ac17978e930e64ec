#!/usr/bin/env bash
# Installs what `make test` needs on Debian; harmless to run again.
set -eu
cd "$(dirname "$0")/.."
pkgs="libcmocka-dev python3-websockets chromium valgrind clang libclang-rt-14-dev pkgconf g++ groff-base zlib1g-dev"
pkgs="$pkgs openssl"  # the CLI: throwaway certificates for tests/integration/tls (lib/certs.py)
pkgs="$pkgs libssl-dev"  # the TLS backend (make TLS=openssl), built and tested by make test
pkgs="$pkgs redis-server libhiredis-dev"  # cws-chat --redis (make REDIS=1) and its tests
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
# Node peers (ws, playwright-core) live in tests/node_modules, pinned by
# tests/package-lock.json.
if [ -f tests/package.json ]; then
    if [ ! -d tests/node_modules ] || [ tests/package.json -nt tests/node_modules ]; then
        (cd tests && npm ci --no-audit --no-fund --loglevel=error 2>/dev/null || npm install --no-audit --no-fund --loglevel=error)
        touch tests/node_modules
    fi
fi
echo "deps: ok"
