#!/usr/bin/python3
"""The interop matrix: cws against independent WebSocket implementations,
in both roles, over real loopback sockets. Writes the table (markdown) to
--out (default: docs/interop.md) and exits 1 if any cell is red.

  BUILD=build /usr/bin/python3 tests/interop/run_matrix.py [--out FILE]

Every peer speaks the small path protocol described in cws_peer.c; each
client prints "CHECK name ok|fail|na detail" lines and each server "CLOSE
path code reason" lines, which this script joins into one row per pair."""

import argparse
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))
PY = "/usr/bin/python3"
ROW_TIMEOUT = 60

COLUMNS = [
    ("text_0", "text 0 B"), ("text_1", "text 1 B"), ("text_125", "text 125 B"),
    ("text_64K", "text 64 KiB"), ("text_4M", "text 4 MiB"),
    ("binary_0", "binary 0 B"), ("binary_1", "binary 1 B"), ("binary_125", "binary 125 B"),
    ("binary_64K", "binary 64 KiB"), ("binary_4M", "binary 4 MiB"),
    ("ping_out", "client ping → pong"), ("ping_in", "server ping → pong"),
    ("close_1000", "client closes 1000"), ("close_4001", "server closes 4001"),
    ("deflate", "permessage-deflate 64 KiB"),
]

# What the server must report for the close initiated by each side (the
# client's view is in its own CHECK line).
SERVER_CLOSE = {
    "close_1000": ("/close-1000", "1000", "client bye"),
    "close_4001": ("/close-4001", "4001", None),
}


def peer_versions():
    """One line naming the versions this run used."""
    def run(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "?"
    py = run([PY, "-c", "import websockets; print(websockets.__version__)"])
    ws = run(["node", "-p", f"require({os.path.join(REPO, 'tests', 'node_modules', 'ws', 'package.json')!r}).version"])
    chromium = run(["/usr/bin/chromium", "--version"]).split(" built")[0]
    return f"websockets {py}, ws {ws}, {chromium}"


def build_peer():
    """Compiles cws_peer.c against $BUILD/libcws.a (with the sanitizers
    if that library was built with them)."""
    out = os.path.join(BUILD, "interop", "cws_peer")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    # Built under a private name, then renamed: two users at once never
    # run a half-written binary.
    tmp = f"{out}.{os.getpid()}.{threading.get_ident()}"
    base = ["cc", "-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-O2",
            "-I", os.path.join(REPO, "include"), os.path.join(HERE, "cws_peer.c"),
            os.path.join(BUILD, "libcws.a"), "-o", tmp]
    for extra in ([], ["-fsanitize=address,undefined"]):
        r = subprocess.run(base + extra, capture_output=True, text=True)
        if r.returncode == 0:
            os.replace(tmp, out)
            return out
    sys.exit("cannot build cws_peer:\n" + r.stderr)


class Server:
    """A server process whose first line is "listening on URL"; later
    lines are collected in .lines."""

    def __init__(self, name, argv):
        self.name = name
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=None,
                                     stdin=subprocess.DEVNULL, text=True, cwd=REPO)
        first = self.proc.stdout.readline().strip()
        if not first.startswith("listening on ws://"):
            self.stop()
            raise RuntimeError(f"{name}: unexpected first line {first!r}")
        self.url = first.split(" ", 2)[2]
        self.lines = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_client(argv):
    """{check: (status, detail)} from a client's CHECK lines."""
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=ROW_TIMEOUT, cwd=REPO)
        out, err = r.stdout, r.stderr
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = "timed out"
    checks = {}
    for line in out.splitlines():
        parts = line.split(" ", 3)
        if len(parts) >= 3 and parts[0] == "CHECK":
            checks[parts[1]] = (parts[2], parts[3] if len(parts) > 3 else "")
    if err.strip():
        print(err.strip()[-2000:], file=sys.stderr)
    return checks


def server_saw(server, path, code, reason):
    """Waits briefly for the server's report of the close on path."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        for line in server.lines:
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[0] == "CLOSE" and parts[1] == path:
                got_reason = parts[3] if len(parts) > 3 else ""
                return parts[2] == code and (reason is None or got_reason == reason), line
        time.sleep(0.02)
    return False, f"no CLOSE {path} line from the server"


def judge(checks, ctrl):
    """One row: {column: "ok"|"fail"|"na"}, and the failure details."""
    row, notes = {}, []
    for key, _ in COLUMNS:
        status, detail = checks.get(key, ("fail", "no result"))
        if status == "ok" and key in SERVER_CLOSE:
            ok, line = server_saw(ctrl, *SERVER_CLOSE[key])
            if not ok:
                status, detail = "fail", "server: " + line
        row[key] = status
        if status == "fail":
            notes.append(f"{key}: {detail}")
    return row, notes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(REPO, "docs", "interop.md"))
    args = ap.parse_args()
    start = time.monotonic()
    peer = build_peer()
    node_peer = os.path.join(HERE, "node_peer.js")
    py_peer = os.path.join(HERE, "py_peer.py")
    echo = os.path.join(BUILD, "cws-echo")

    rows = []  # (server label, client label, row, notes)
    servers = []
    try:
        echo_srv = Server("cws-echo", [echo, "--port", "0"])
        servers.append(echo_srv)
        deflate_srv = Server("cws-echo --deflate", [echo, "--port", "0", "--deflate"])
        servers.append(deflate_srv)
        # Our server: cws-echo for the messages and the client's ping,
        # cws_peer serve (same runtime) for what cws-echo cannot be told
        # to do: ping the client, close with 4001, report the codes it saw.
        for client_label, argv in (
            ("Python websockets", [PY, py_peer, "client"]),
            ("Node ws", ["node", node_peer, "client"]),
            ("Chromium (native WebSocket)", ["node", node_peer, "browser"]),
        ):
            ctrl = Server("cws_peer serve", [peer, "serve"])
            servers.append(ctrl)
            checks = run_client(argv + [echo_srv.url, ctrl.url, deflate_srv.url])
            row, notes = judge(checks, ctrl)
            rows.append(("cws (cws-echo + cws_peer serve)", client_label, row, notes))
            ctrl.stop()
        for server_label, argv in (
            ("Python websockets", [PY, py_peer, "serve"]),
            ("Node ws", ["node", node_peer, "serve"]),
        ):
            srv = Server(server_label, argv)
            servers.append(srv)
            # The same peer accepting permessage-deflate, for that column.
            dsrv = Server(server_label + " --deflate", argv + ["--deflate"])
            servers.append(dsrv)
            checks = run_client([peer, "client", srv.url, srv.url, dsrv.url])
            row, notes = judge(checks, srv)
            rows.append((server_label, "cws (cws_peer client)", row, notes))
            srv.stop()
            dsrv.stop()
    finally:
        for s in servers:
            s.stop()
    # cws-echo ends cleanly on SIGTERM; anything else is a crash or a
    # sanitizer's report (in a SANITIZE=1 build).
    echo_statuses = [(s.name, s.proc.returncode) for s in servers if s.name.startswith("cws-echo")]

    mark = {"ok": "✅", "fail": "❌", "na": "—"}
    lines = [
        "# Interop matrix",
        "",
        "Generated by `tests/interop/run_matrix.py` (run in `make test` by",
        "`tests/integration/test_interop_matrix.sh`, which fails if a cell is red",
        "or if this table no longer matches a fresh run). Each row is one pair",
        "over real loopback sockets:",
        "",
        "- **text / binary N**: the client sends one message of N bytes and gets",
        "  it back byte-identical with the same opcode (text is valid UTF-8 with",
        "  1- to 4-byte characters).",
        "- **client ping → pong**: the client pings with a payload and the pong",
        "  carries the same payload (a browser's WebSocket API cannot ping: —).",
        "- **server ping → pong**: the server pings with a payload; the pong it",
        "  gets carries the same payload.",
        "- **client closes 1000**: the client closes with 1000 \"client bye\"; the",
        "  server reports 1000 with that reason and the client 1000.",
        "- **server closes 4001**: the server closes with 4001 \"server bye\"; the",
        "  client reports 4001 with that reason and the server 4001.",
        "- **permessage-deflate 64 KiB**: against a server that accepts it",
        "  (`cws-echo --deflate`, or the peer with deflate on), the client offers",
        "  permessage-deflate (RFC 7692), sees it agreed, and a compressible text",
        "  and an incompressible binary message of 64 KiB each come back",
        "  byte-identical. More variants (window bits, context takeover,",
        "  thresholds, 1009) are in `tests/integration/test_deflate_interop*`.",
        "",
        "Our server is `cws-echo` for the messages and the client's ping",
        "(`cws-echo --deflate` for the deflate column), and",
        "`tests/interop/cws_peer.c serve` (the same runtime, `cws_server`) for the",
        "server ping and the closes, which `cws-echo` has no way to trigger or",
        "report. Our client is `tests/interop/cws_peer.c client` (`cws_connect_wait`).",
        "Peers: Python `websockets` (Debian python3-websockets), Node `ws`",
        "(tests/node_modules), headless Chromium driven by `playwright-core`.",
        f"Last generated with: {peer_versions()}.",
        "",
        "| server | client | " + " | ".join(title for _, title in COLUMNS) + " |",
        "|---|---|" + "---|" * len(COLUMNS),
    ]
    failed = False
    for server_label, client_label, row, notes in rows:
        lines.append(f"| {server_label} | {client_label} | " +
                     " | ".join(mark.get(row[k], "❌") for k, _ in COLUMNS) + " |")
        failed |= any(row[k] == "fail" for k, _ in COLUMNS)
    lines.append("")
    text = "\n".join(lines)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(text)
    for server_label, client_label, _, notes in rows:
        for n in notes:
            print(f"FAILED {server_label} × {client_label}: {n}", file=sys.stderr)
    for label, status in echo_statuses:
        if status != 0:
            print(f"FAILED {label} exited with status {status}", file=sys.stderr)
            failed = True
    if len(echo_statuses) != 2:
        print("FAILED a cws-echo did not start", file=sys.stderr)
        failed = True
    print(f"matrix done in {time.monotonic() - start:.1f} s", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
