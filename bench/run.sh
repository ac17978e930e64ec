#!/usr/bin/env bash
# Runs the cws benchmarks and writes bench/RESULTS.md.
#   bench/run.sh [all|load|micro|deflate|fanout|tls|profile]
#     all      micro benchmark + load scenarios + permessage-deflate +
#              fan-out + TLS (what `make bench` runs)
#     load     load scenarios only
#     micro    micro benchmark only
#     deflate  permessage-deflate only (`make bench-deflate`): the codec
#              benches (cws vs zlib 1 and 6), echo of 1-4 KiB JSON with
#              compression against the peers' own permessage-deflate, and
#              memory per connection after one compressed message; its own
#              part of RESULTS.md, the rest is left as it is
#     fanout   fan-out (`make bench-fanout`, issue 18): R receivers, S
#              senders with D messages in flight each, every delivery
#              checked, against the no-library yardstick, cws-echo
#              --broadcast, cws-chat (its JSON), Node ws and libwebsockets;
#              the 1 -> 256 messages-per-round sweep and the light-load
#              latency; its own part of RESULTS.md
#     tls      TLS (`make bench-tls`, issue 12): echo (64 B, 1 KiB, 64 KiB)
#              and handshakes over wss:// against ws://, cws-echo (its
#              TLS build, $BENCH_TLS_BUILD, default $BUILD/tls) and Node
#              ws, with a throwaway EC P-256 certificate (tls_cert.sh);
#              its own part of RESULTS.md
#     profile  perf profiles (cpu-clock sampling) of the reflector under
#              (a) and of cws-echo / bcast_server under (a), (b), (d), (e)
#              into $BUILD/bench/profile-*.txt
# Environment: BUILD (build dir, default build), BENCH_RUNS (runs per
# measurement, default 3; the median is reported), BENCH_SECONDS (measured
# seconds per run, default 3), BENCH_SERVER_CPU / BENCH_CLIENT_CPU (cores
# for taskset, default 1 and 0), BENCH_PEERS (default "lws wslay node").
#
# Every server runs pinned to one core and the load generator to the other;
# each measurement starts a fresh server. Scenario (c) needs ~10,000 file
# descriptors on each side: the script raises the soft `ulimit -n` to the
# hard limit (check it with `ulimit -Hn`; 20,000 or more is enough).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
B=$BUILD/bench
what=${1:-all}
RUNS=${BENCH_RUNS:-3}
DUR=${BENCH_SECONDS:-3}
SCPU=${BENCH_SERVER_CPU:-1}
CCPU=${BENCH_CLIENT_CPU:-0}
PEERS=${BENCH_PEERS:-lws wslay node}
RAW=$B/results.txt
RAWD=$B/results-deflate.txt
RAWF=$B/results-fanout.txt
RAWT=$B/results-tls.txt
# TLS (issue 12): cws-echo built with TLS=openssl (bench.mk builds it there)
TLSB=${BENCH_TLS_BUILD:-$BUILD/tls}
CERTS=""   # run_tls: the throwaway CA and server certificate (bench/tls_cert.sh)
# permessage-deflate scenarios: connections for the memory figure
PMD_IDLE=${BENCH_PMD_IDLE_CONNS:-2000}
TMP=$(mktemp -d)
SPID=""
trap 'stop_server; rm -rf "$TMP"' EXIT

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# The command line of each server, by name; an empty result means "absent".
server_cmd() {
    case $1 in
        cws) [ -x "$BUILD/cws-echo" ] && echo "$BUILD/cws-echo --port 0" ;;
        cws-bcast) [ -x "$B/bcast_server" ] && echo "$B/bcast_server --port 0" ;;
        reflector) [ -x "$B/reflector" ] && echo "$B/reflector --port 0" ;;
        lws) [ -x "$B/lws_echo" ] && echo "$B/lws_echo --port 0" ;;
        wslay) [ -x "$B/wslay_echo" ] && echo "$B/wslay_echo --port 0" ;;
        node|node-deflate)
              command -v node >/dev/null &&
              (cd tests 2>/dev/null && node -e "require('ws')" 2>/dev/null) &&
              echo "node bench/peers/ws_echo.js --port 0$([ "$1" = node-deflate ] && echo " --deflate")" ;;
        cws-deflate) [ -x "$BUILD/cws-echo" ] && echo "$BUILD/cws-echo --port 0 --deflate" ;;
        lws-deflate) [ -x "$B/lws_echo" ] && echo "$B/lws_echo --port 0 --deflate" ;;
        # fan-out: every message to every client, the sender included
        yardstick) [ -x "$B/fanout_yardstick" ] && echo "$B/fanout_yardstick --port 0" ;;
        cws-broadcast) [ -x "$BUILD/cws-echo" ] && echo "$BUILD/cws-echo --port 0 --broadcast --ping-interval 0" ;;
        # a fresh history each start (replayed history would not count, but
        # costs the setup); limits off for one address with 1,000 clients
        chat) [ -x "$BUILD/cws-chat" ] &&
              echo "$BUILD/cws-chat --port 0 --history $(mktemp -d "$TMP/chat.XXXXXX")/history --fsync never" \
                   "--rate 1000000 --burst 1000000 --max-per-ip 0 --ping-interval 3600000" ;;
        lws-broadcast) [ -x "$B/lws_echo" ] && echo "$B/lws_echo --port 0 --broadcast" ;;
        node-broadcast)
              command -v node >/dev/null &&
              (cd tests 2>/dev/null && node -e "require('ws')" 2>/dev/null) &&
              echo "node bench/peers/ws_echo.js --port 0 --broadcast" ;;
        # TLS: the same TLS build of cws-echo serves ws:// and wss://
        cws-ws) [ -x "$TLSB/cws-echo" ] && echo "$TLSB/cws-echo --port 0" ;;
        cws-wss) [ -x "$TLSB/cws-echo" ] && [ -n "$CERTS" ] &&
              echo "$TLSB/cws-echo --port 0 --tls-cert $CERTS/server.pem --tls-key $CERTS/server.key" ;;
        node-ws) server_cmd node ;;
        node-wss)
              [ -n "$CERTS" ] && server_cmd node | sed "s|\$| --tls-cert $CERTS/server.pem --tls-key $CERTS/server.key|" ;;
    esac
    return 0
}

# start_server NAME [env...]: sets SPID and SPORT; returns 1 if it won't start.
start_server() {
    local name=$1; shift
    local cmd; cmd=$(server_cmd "$name")
    [ -n "$cmd" ] || return 1
    : > "$TMP/out"
    # shellcheck disable=SC2086
    env "$@" taskset -c "$SCPU" $cmd > "$TMP/out" 2> "$TMP/err" &
    SPID=$!
    for _ in $(seq 100); do
        if grep -q "listening on" "$TMP/out"; then
            SPORT=$(head -n1 "$TMP/out" | sed -n 's/.*:\([0-9][0-9]*\)[^0-9]*$/\1/p')
            [ -n "$SPORT" ] && return 0
        fi
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.05
    done
    echo "run.sh: $name did not start: $(head -c 300 "$TMP/err")" >&2
    stop_server
    return 1
}

stop_server() {
    [ -n "$SPID" ] || return 0
    kill -TERM "$SPID" 2>/dev/null
    for _ in $(seq 40); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
    SPID=""
}

# GEN: the generator (fanout_load for the fan-out section)
GEN=loadgen
loadgen() {
    timeout 120 taskset -c "$CCPU" "$B/$GEN" --port "$SPORT" --server-pid "$SPID" "$@"
}

# measure SERVER SCENARIO LOADGEN-ARGS...: RUNS runs, each on a fresh server.
# Results go to $OUT (the load scenarios' file unless run_deflate says).
OUT=$RAW
measure() {
    local server=$1 scen=$2; shift 2
    for r in $(seq "$RUNS"); do
        start_server "$server" || { echo "server=$server scen=$scen run=$r skipped=1" >> "$OUT"; return; }
        local line
        if line=$(loadgen "$@" 2> "$TMP/lg.err"); then
            echo "server=$server scen=$scen run=$r $line" >> "$OUT"
            printf '  %-10s %-4s run %d: %s\n' "$server" "$scen" "$r" "$line"
        else
            echo "server=$server scen=$scen run=$r failed=1" >> "$OUT"
            echo "  $server $scen run $r FAILED: $(head -c 300 "$TMP/lg.err")"
        fi
        stop_server
    done
}

# Allocation calls per message in steady state, through the LD_PRELOAD shim:
# measure_allocs SERVER SCENARIO LOADGEN-ARGS...
measure_allocs() {
    local server=$1 scen=$2; shift 2
    start_server "$server" LD_PRELOAD="$PWD/$B/malloc_count.so" MALLOC_COUNT_FILE="$TMP/mc.bin" || return
    local line
    if line=$(loadgen --warmup 1 --duration "$DUR" --malloc-file "$TMP/mc.bin" "$@" 2> "$TMP/lg.err"); then
        echo "server=$server scen=$scen run=1 $line" >> "$OUT"
        printf '  %-10s %s: %s\n' "$server" "$scen" "$line"
    else
        echo "  $server $scen FAILED: $(head -c 300 "$TMP/lg.err")"
    fi
    stop_server
}

run_load() {
    : > "$RAW"
    local L=(--warmup 1 --duration "$DUR")
    echo "== (a) 64 B messages, 100 connections, 8 in flight each"
    for s in cws $PEERS; do measure "$s" a "${L[@]}" --conns 100 --depth 8 --size 64; done
    measure reflector a "${L[@]}" --mode raw --conns 100 --depth 8 --size 64
    echo "== (b) 16 KiB messages, 10 connections, 4 in flight each"
    for s in cws $PEERS; do measure "$s" b "${L[@]}" --conns 10 --depth 4 --size 16384; done
    measure reflector b "${L[@]}" --mode raw --conns 10 --depth 4 --size 16384
    echo "== (c) 10,000 idle connections (handshake + one 64 B echo each)"
    for s in cws $PEERS; do measure "$s" c --mode idle --conns 10000 --size 64; done
    echo "== (d) broadcast, 1 sender, 64 B messages"
    measure cws-bcast d1k "${L[@]}" --mode bcast --receivers 1000 --depth 8 --size 64
    measure cws-bcast d10k "${L[@]}" --mode bcast --receivers 10000 --depth 8 --size 64
    echo "== (e) handshake rate: connect, handshake, one echo, close; 50 at a time"
    for s in cws $PEERS; do measure "$s" e "${L[@]}" --mode handshake --conns 50 --size 64; done
    echo "== allocation calls per message in steady state (malloc_count.so)"
    for s in cws lws wslay; do measure_allocs "$s" alloc --conns 100 --depth 8 --size 64; done
    measure_allocs cws-bcast alloc-d10k --mode bcast --receivers 10000 --depth 8 --size 64
}

# permessage-deflate (RFC 7692): codec tables, echo with compression
# against the peers' own extension, memory per connection.
run_deflate() {
    : > "$RAWD"
    OUT=$RAWD
    local L=(--warmup 1 --duration "$DUR") dpeers=""
    for p in $PEERS; do case $p in lws|node) dpeers="$dpeers $p-deflate" ;; esac; done
    echo "== codec: cws_deflate vs zlib levels 1 and 6 (bench/codec_deflate.c)"
    taskset -c "$SCPU" "$B/codec_deflate" > "$B/codec_deflate.txt" 2>&1 || echo "codec_deflate FAILED" >> "$B/codec_deflate.txt"
    cat "$B/codec_deflate.txt"
    echo "== codec: cws_inflate vs zlib (bench/codec_inflate.c)"
    taskset -c "$SCPU" "$B/codec_inflate" > "$B/codec_inflate.txt" 2>&1 || echo "codec_inflate FAILED" >> "$B/codec_inflate.txt"
    cat "$B/codec_inflate.txt"
    "$B/deflate_state" >> "$RAWD" || echo "deflate_state FAILED"
    echo "== (f) 1-4 KiB JSON chat messages, 50 connections, 4 in flight each, permessage-deflate"
    for s in cws-deflate $dpeers; do measure "$s" f "${L[@]}" --deflate --conns 50 --depth 4; done
    measure cws f "${L[@]}" --json --conns 50 --depth 4
    echo "== (f-nct) the same with server_ and client_no_context_takeover"
    for s in cws-deflate $dpeers; do measure "$s" f-nct "${L[@]}" --deflate --no-context-takeover --conns 50 --depth 4; done
    echo "== (g) $PMD_IDLE idle connections, one compressed echo each (context takeover, window 15)"
    for s in cws-deflate $dpeers; do measure "$s" g --mode idle --deflate --conns "$PMD_IDLE"; done
    echo "== (g-nct) the same with server_ and client_no_context_takeover"
    for s in cws-deflate $dpeers; do measure "$s" g-nct --mode idle --deflate --no-context-takeover --conns "$PMD_IDLE"; done
    echo "== allocation calls per message with permessage-deflate (malloc_count.so)"
    measure_allocs cws-deflate alloc-f --deflate --conns 50 --depth 4
    measure_allocs cws-deflate alloc-f-nct --deflate --no-context-takeover --conns 50 --depth 4
    OUT=$RAW
}

# Fan-out (issue 18): deliveries per server CPU-second against the
# no-library yardstick, in one run.
run_fanout() {
    : > "$RAWF"
    OUT=$RAWF
    GEN=fanout_load
    local L=(--warmup 1 --duration "$DUR") fpeers=""
    for p in $PEERS; do case $p in lws|node) fpeers="$fpeers $p-broadcast" ;; esac; done
    echo "== fan-out: 1,000 receivers, 10 senders x 4 in flight, 64 B"
    for s in yardstick cws-broadcast $fpeers; do measure "$s" f1k "${L[@]}" --receivers 1000 --senders 10 --depth 4 --size 64; done
    measure chat f1k "${L[@]}" --chat --receivers 1000 --senders 10 --depth 4 --size 64
    echo "== fan-out: 10,000 receivers, 10 senders x 4 in flight, 64 B"
    for s in yardstick cws-broadcast $fpeers; do measure "$s" f10k "${L[@]}" --receivers 10000 --senders 10 --depth 4 --size 64; done
    echo "== fan-out: 100 receivers, 10 senders x 4 in flight, 16 KiB"
    for s in yardstick cws-broadcast $fpeers; do measure "$s" f16k "${L[@]}" --receivers 100 --senders 10 --depth 4 --size 16384; done
    echo "== fan-out: 1,000 receivers, 64 senders x 4 in flight (~256 messages per round), 64 B"
    for s in yardstick cws-broadcast $fpeers; do measure "$s" f64s "${L[@]}" --receivers 1000 --senders 64 --depth 4 --size 64; done
    measure chat f64s "${L[@]}" --chat --receivers 1000 --senders 64 --depth 4 --size 64
    echo "== fan-out sweep: 1,000 receivers, 1 to 256 messages in flight (per round)"
    for sd in "1 1" "1 4" "4 4" "16 4" "64 4"; do
        set -- $sd
        for s in yardstick cws-broadcast; do
            measure "$s" "sweep$(($1 * $2))" "${L[@]}" --receivers 1000 --senders "$1" --depth "$2" --size 64
        done
    done
    echo "== fan-out light load: 1,000 receivers, 50 messages/s in all (10 senders), latency"
    for s in yardstick cws-broadcast $fpeers; do measure "$s" light "${L[@]}" --receivers 1000 --senders 10 --rate 50 --size 64; done
    measure chat light "${L[@]}" --chat --receivers 1000 --senders 10 --rate 50 --size 64
    GEN=loadgen
    OUT=$RAW
}

# TLS (issue 12): echo and handshakes over wss:// against ws://, cws and
# Node ws, in one run. A fresh EC P-256 CA and server certificate first.
run_tls() {
    : > "$RAWT"
    OUT=$RAWT
    CERTS=$TMP/tls
    bench/tls_cert.sh "$CERTS" || { echo "run.sh: cannot make the TLS certificates" >&2; CERTS=""; OUT=$RAW; return 1; }
    local L=(--warmup 1 --duration "$DUR") servers="cws-ws cws-wss"
    for p in $PEERS; do [ "$p" = node ] && servers="$servers node-ws node-wss"; done
    # tls_measure SCEN LOADGEN-ARGS...: every server; --tls for the wss:// ones
    tls_measure() {
        local scen=$1 s; shift
        for s in $servers; do
            case $s in *-wss) measure "$s" "$scen" "$@" --tls ;; *) measure "$s" "$scen" "$@" ;; esac
        done
    }
    echo "== TLS: 64 B messages, 100 connections, 8 in flight each"
    tls_measure t64 "${L[@]}" --conns 100 --depth 8 --size 64
    echo "== TLS: 1 KiB messages, 100 connections, 8 in flight each"
    tls_measure t1k "${L[@]}" --conns 100 --depth 8 --size 1024
    echo "== TLS: 64 KiB messages, 10 connections, 4 in flight each"
    tls_measure t64k "${L[@]}" --conns 10 --depth 4 --size 65536
    echo "== TLS: handshakes (full TLS handshake, upgrade, one 64 B echo, close); 50 at a time"
    tls_measure th "${L[@]}" --mode handshake --conns 50 --size 64
    OUT=$RAW
}

run_profile() {
    command -v perf >/dev/null || { echo "perf not installed"; return 1; }
    for spec in "reflector a --mode raw --conns 100 --depth 8 --size 64" \
                "cws a --conns 100 --depth 8 --size 64" "cws b --conns 10 --depth 4 --size 16384" \
                "cws-bcast d10k --mode bcast --receivers 10000 --depth 8 --size 64" \
                "cws e --mode handshake --conns 50 --size 64"; do
        set -- $spec
        local server=$1 scen=$2; shift 2
        start_server "$server" || continue
        loadgen --warmup 1 --duration 6 "$@" > "$TMP/lg.out" 2>&1 &
        local lg=$!
        sleep 2
        perf record -q -e cpu-clock -g -p "$SPID" -o "$TMP/perf.data" -- sleep 3 > /dev/null 2>&1
        wait $lg
        local out="$B/profile-$server-$scen.txt" comm; comm=$(cat /proc/"$SPID"/comm 2>/dev/null)
        {
            echo "# load: $(cat "$TMP/lg.out")"
            echo "# share of samples by binary (kernel vs server vs libc):"
            perf report -i "$TMP/perf.data" --stdio --no-children --sort dso -g none 2> /dev/null | grep '%'
            echo "# top functions overall:"
            perf report -i "$TMP/perf.data" --stdio --no-children --percent-limit 0.7 -g none 2> /dev/null | grep '%'
            echo "# top functions in user space (percent of all samples):"
            perf report -i "$TMP/perf.data" --stdio --no-children --dsos "$comm,libc.so.6" --percent-limit 0.2 -g none 2> /dev/null | grep '%'
        } > "$out"
        echo "== profile $server ($scen): $(cat "$TMP/lg.out")"
        sed -n '2,/top functions overall/p' "$out" | grep '%'
        sed -n '/in user space/,$p' "$out" | grep '%' | head -12
        stop_server
    done
}

describe_machine() {
    echo "- Load average when the run started: $LOAD0 (1, 5, 15 min; other work on the machine shares both cores)$PSI0"
    echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -n1), $(nproc) cores (\`nproc\`), $(lscpu | sed -n 's/^Hypervisor vendor: *//p') virtual machine; shared and noisy"
    echo "- Kernel: $(uname -r); glibc $(ldd --version 2>&1 | head -n1 | awk '{print $NF}'); $(${CC:-cc} --version | head -n1)"
    echo "- Peers: libwebsockets $(dpkg-query -W -f='${Version}' libwebsockets-dev 2>/dev/null), wslay $(dpkg-query -W -f='${Version}' libwslay-dev 2>/dev/null), Node $(node --version 2>/dev/null) with ws $(cd tests 2>/dev/null && node -p "require('ws/package.json').version" 2>/dev/null)"
    echo "- Server pinned to core $SCPU, load generator to core $CCPU (taskset); $RUNS runs of $DUR s (after 1 s warm-up) per figure, median reported; \`ulimit -n\` $(ulimit -n)"
}

snapshot_load() {
    LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
    # CPU pressure (PSI): the share of time some runnable task waited for a core
    PSI0=$(sed -n 's/^some avg10=\([0-9.]*\) avg60=\([0-9.]*\).*/; CPU pressure \1% (10 s), \2% (60 s)/p' /proc/pressure/cpu 2>/dev/null)
}
snapshot_load
micro_out=""
if [ "$what" = fanout ]; then
    run_fanout
    describe_machine > "$B/machine-fanout.md"
    python3 bench/report.py fanout "$RAWF" "$B/machine-fanout.md" bench/RESULTS.md
    exit 0
fi
describe_tls() {
    describe_machine
    echo "- TLS: cws-echo and the generator with $(openssl version 2>/dev/null | awk '{print $1, $2}') (the system's libssl), Node with its bundled OpenSSL $(node -p process.versions.openssl 2>/dev/null); server certificate EC P-256 signed by a throwaway P-256 CA (\`bench/tls_cert.sh\`), the generator does not verify it"
}
if [ "$what" = tls ]; then
    run_tls
    describe_tls > "$B/machine-tls.md"
    python3 bench/report.py tls "$RAWT" "$B/machine-tls.md" bench/RESULTS.md
    exit 0
fi
if [ "$what" = deflate ]; then
    run_deflate
    describe_machine > "$B/machine-deflate.md"
    python3 bench/report.py deflate "$RAWD" "$B/codec_deflate.txt" "$B/codec_inflate.txt" \
        "$B/machine-deflate.md" bench/RESULTS.md
    exit 0
fi
if [ "$what" = all ] || [ "$what" = micro ]; then
    echo "== micro benchmark"
    micro_out=$(taskset -c "$SCPU" "$B/micro") || { echo "micro benchmark failed"; exit 1; }
    echo "$micro_out"
    echo "$micro_out" > "$B/micro.md"
fi
if [ "$what" = all ] || [ "$what" = load ]; then
    run_load
fi
if [ "$what" = profile ]; then
    run_profile
    exit 0
fi
[ -f "$B/micro.md" ] || : > "$B/micro.md"
[ -f "$RAW" ] || : > "$RAW"
describe_machine > "$B/machine.md"
python3 bench/report.py "$RAW" "$B/micro.md" "$B/machine.md" bench/RESULTS.md
if [ "$what" = all ]; then
    snapshot_load
    run_deflate
    describe_machine > "$B/machine-deflate.md"
    python3 bench/report.py deflate "$RAWD" "$B/codec_deflate.txt" "$B/codec_inflate.txt" \
        "$B/machine-deflate.md" bench/RESULTS.md
    snapshot_load
    run_fanout
    describe_machine > "$B/machine-fanout.md"
    python3 bench/report.py fanout "$RAWF" "$B/machine-fanout.md" bench/RESULTS.md
    snapshot_load
    run_tls
    describe_tls > "$B/machine-tls.md"
    python3 bench/report.py tls "$RAWT" "$B/machine-tls.md" bench/RESULTS.md
fi
