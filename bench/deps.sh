#!/usr/bin/env bash
# Installs the benchmark peers' packages on Debian; harmless to run again.
#   libwebsockets-dev, libwslay-dev   (C peers: bench/peers/*.c)
#   npm ws                            (Node peer: bench/peers/ws_echo.js)
#   libssl-dev, openssl               (the generator's wss:// side, the TLS
#                                      build of cws-echo, tls_cert.sh)
# plus the tools run.sh uses (taskset from util-linux, perf when available).
set -eu
cd "$(dirname "$0")/.."
pkgs="libwebsockets-dev libwslay-dev libssl-dev openssl pkg-config util-linux"
# Node may come from elsewhere than Debian (e.g. NodeSource): ask for the
# Debian packages only when the commands are missing.
command -v node >/dev/null || pkgs="$pkgs nodejs"
command -v npm >/dev/null || pkgs="$pkgs npm"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
# Node's ws: the copy the integration tests pin (tests/package-lock.json)
# serves the benchmark too.
if ! (cd tests && node -e "require('ws')" 2>/dev/null); then
    (cd tests && { npm ci --no-audit --no-fund --loglevel=error 2>/dev/null ||
                   npm install --no-audit --no-fund --loglevel=error; })
fi
echo "bench-deps: ok"
