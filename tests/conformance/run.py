#!/usr/bin/env python3
"""Runs the conformance cases against a WebSocket echo server.

    run.py --url ws://127.0.0.1:9001            a server already running
    run.py --server build/cws-echo --port 0     start one (it must print a
                                                line with ws://HOST:PORT)
Options: --cases 1.,6.6 (id prefixes), --max-message N (the server's
limit, default 16 MiB), --strict (exit non-zero unless every case is OK),
--list; --tls speaks wss:// (a wss:// --url implies it)
without checking the certificate, --cafile FILE checks it against that CA
(and the host name). The permessage-deflate groups (12-15) need a server with the
extension on: with --server, the same command plus --deflate-args
(default "--deflate", as cws-echo takes it) is started for them; with
--url, give --deflate-url (default: the --url server itself).
--deflate-threshold N tells the suite that server compresses only echoes
of N bytes or more (default 0: every echo must come compressed). Each case reports OK, NON-STRICT (the right outcome, but e.g. TCP
dropped instead of the exact close code) or FAILED, like Autobahn; the
exit status is non-zero if any case FAILED (or, with --strict, is not OK).
Python 3 standard library only."""
import argparse
import os
import re
import shlex
import socket
import ssl
import subprocess
import sys
import threading
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cases import CASES, Context  # noqa: E402
import cases_deflate  # noqa: E402,F401  (registers groups 12-15)
import wsclient  # noqa: E402
from wsclient import CaseFailed, Closed, NonStrict  # noqa: E402


def start_server(argv):
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 15
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"wss?://(\[[^\]]+\]|[^:/\s]+):(\d+)", line)
        if m:
            # Keep draining its output (so it never blocks on a full pipe)
            # and keep it, to show what a crashing server said.
            proc.output = lines
            threading.Thread(target=lambda: [lines.append(x) for x in proc.stdout], daemon=True).start()
            return proc, m.group(1).strip("[]"), int(m.group(2))
    proc.kill()
    sys.exit("run.py: the server did not print ws://HOST:PORT; it said:\n" + "".join(lines))


class Servers:
    """The servers under test: the main one and variants started on first
    use (the --server command with extra arguments)."""

    def __init__(self, argv, variants):
        self.argv, self.variants = argv, variants
        self.procs = {}   # name -> (proc, host, port)
        self.urls = {}    # name -> (host, port), for --url

    def start(self, name):
        proc, host, port = start_server(self.argv + self.variants[name])
        wait_port(host, port)
        self.procs[name] = (proc, host, port)
        return host, port

    def __call__(self, name):
        if name in self.urls:
            return self.urls[name]
        if name in self.procs:
            return self.procs[name][1:]
        if self.argv is None or name not in self.variants:
            return None
        return self.start(name)

    def dead(self):
        """(name, status) of a server that exited, or None."""
        for name, (proc, _, _) in self.procs.items():
            if proc.poll() is not None:
                return name, proc.returncode
        return None

    def stop(self):
        """Stops them all; returns the complaints (exit status, hangs)."""
        bad = []
        for name, (proc, _, _) in self.procs.items():
            exited = proc.poll() is not None
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                bad.append("the %s server did not exit within 10 s of SIGTERM" % name)
                continue
            # A server that stops cleanly on SIGTERM must exit with 0 (a
            # sanitizer build reports leaks through its exit status); death
            # by the signal itself is fine for servers that do not catch it.
            if exited or proc.returncode > 0:
                bad.append("the %s server exited with status %d; its last output:\n%s"
                           % (name, proc.returncode, "".join(proc.output[-30:])))
        return bad


def wait_port(host, port):
    for _ in range(100):
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("run.py: nothing listens on %s:%d" % (host, port))


def run_case(ctx, fn):
    try:
        fn(ctx)
        return "OK", ""
    except NonStrict as e:
        return "NON-STRICT", str(e)
    except CaseFailed as e:
        return "FAILED", str(e)
    except Closed:
        return "FAILED", "connection closed unexpectedly"
    except (socket.timeout, TimeoutError):
        return "FAILED", "timed out"
    except OSError as e:
        return "FAILED", "socket error: %s" % e
    except Exception:  # a bug in the case itself must not hide the others
        return "FAILED", "exception in the case: " + traceback.format_exc(limit=3).replace("\n", " | ")


def parse_url(url):
    m = re.match(r"wss?://(\[[^\]]+\]|[^:/]+):(\d+)", url)
    if not m:
        sys.exit("run.py: a URL must look like ws://HOST:PORT or wss://HOST:PORT")
    return m.group(1).strip("[]"), int(m.group(2))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url")
    ap.add_argument("--server", nargs=argparse.REMAINDER, help="command that starts the server (last option)")
    ap.add_argument("--cases", default="", help="comma-separated case id prefixes")
    ap.add_argument("--max-message", type=int, default=16 << 20)
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--strict", action="store_true")
    ap.add_argument("--deflate-args", default="--deflate",
                    help="appended to the --server command for groups 12-15 (permessage-deflate)")
    ap.add_argument("--deflate-url", help="with --url: a server with permessage-deflate on")
    ap.add_argument("--deflate-threshold", type=int, default=0,
                    help="the deflate server compresses echoes of this size and more (default 0: all)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--tls", action="store_true", help="speak wss:// (the certificate is not checked)")
    ap.add_argument("--cafile", help="speak wss://, checking the certificate against this CA")
    args = ap.parse_args()
    if args.tls or args.cafile or (args.url or "").startswith("wss://"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if args.cafile:
            ctx.load_verify_locations(args.cafile)
        else:
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        wsclient.TLS_CONTEXT = ctx

    prefixes = [p for p in args.cases.split(",") if p]
    selected = [c for c in CASES if not prefixes or any(c[0] == p or c[0].startswith(p) for p in prefixes)]
    if args.list:
        for cid, desc, _ in selected:
            print("%-8s %s" % (cid, desc))
        return 0

    servers = Servers(args.server, {"main": [], "deflate": shlex.split(args.deflate_args)})
    if args.server:
        host, port = servers("main")
    elif args.url:
        host, port = parse_url(args.url)
        servers.urls["main"] = (host, port)
        servers.urls["deflate"] = parse_url(args.deflate_url or args.url)
        wait_port(host, port)
    else:
        sys.exit("run.py: give --url or --server")
    ctx = Context(host, port, args.max_message, args.timeout, servers=servers,
                  deflate_threshold=args.deflate_threshold)

    results = []
    start = time.monotonic()
    server_failed = []
    try:
        for cid, desc, fn in selected:
            t0 = time.monotonic()
            verdict, why = run_case(ctx, fn)
            dead = servers.dead()
            if dead:
                verdict, why = "FAILED", "the %s server exited (status %s) during this case" % dead
            results.append((cid, desc, verdict, why))
            print("%-10s %-8s %5.2fs  %s%s" % (verdict, cid, time.monotonic() - t0, desc,
                                               "\n                             -> " + why if why else ""),
                  flush=True)
            if dead:
                break
    finally:
        server_failed = servers.stop()
        for why in server_failed:
            print("FAILED: " + why)

    # Summary per group, like Autobahn's report.
    groups = {}
    for cid, _, verdict, _ in results:
        g = cid.split(".")[0]
        groups.setdefault(g, {"OK": 0, "NON-STRICT": 0, "FAILED": 0})[verdict] += 1
    names = {"1": "framing", "2": "ping/pong", "3": "reserved bits", "4": "reserved opcodes",
             "5": "fragmentation", "6": "UTF-8", "7": "close", "9": "large/many", "10": "misc",
             "12": "deflate echo", "13": "deflate params", "14": "deflate offers",
             "15": "deflate hostile", "H": "handshake"}
    print("\n%-6s %-18s %5s %11s %7s" % ("group", "", "OK", "NON-STRICT", "FAILED"))
    order = sorted(groups, key=lambda g: (g == "H", int(g) if g.isdigit() else 0))
    for g in order:
        c = groups[g]
        print("%-6s %-18s %5d %11d %7d" % (g, names.get(g, ""), c["OK"], c["NON-STRICT"], c["FAILED"]))
    tot = {k: sum(c[k] for c in groups.values()) for k in ("OK", "NON-STRICT", "FAILED")}
    print("%-6s %-18s %5d %11d %7d   (%d cases, %.1f s)" % ("all", "", tot["OK"], tot["NON-STRICT"],
                                                           tot["FAILED"], len(results), time.monotonic() - start))
    for cid, desc, verdict, why in results:
        if verdict != "OK":
            print("%s %s: %s" % (verdict, cid, why))
    if server_failed:
        return 1
    if len(results) < len(selected):
        print("FAILED: %d cases did not run" % (len(selected) - len(results)))
        return 1
    if tot["FAILED"] or (args.strict and tot["NON-STRICT"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
