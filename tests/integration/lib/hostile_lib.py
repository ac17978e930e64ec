"""Tools for the hostile-input tests (test_hostile_*.py): start a server,
read its memory from /proc, speak raw WebSocket bytes over a plain socket,
and measure how a normal client fares meanwhile (Probe)."""

import asyncio
import base64
import os
import re
import resource
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))
sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wscompat  # noqa: E402


class Server:
    """A server process that prints "listening on ws://127.0.0.1:PORT" (or
    http://) first; .port is known once made, later stdout lines collect
    in .lines (cws_peer serve reports "CLOSE path code reason" there)."""

    def __init__(self, argv):
        if not os.access(argv[0], os.X_OK):
            sys.exit(f"missing {argv[0]}: build it first")
        # In a sanitizer build, freed blocks wait in ASan's quarantine
        # (256 MiB by default) and would count as the server's memory.
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "quarantine_size_mb=1"]))
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.stderr,
                                     stdin=subprocess.DEVNULL, text=True, cwd=REPO, env=env)
        first = self.proc.stdout.readline()
        m = re.match(r"listening on \w+://127\.0\.0\.1:(\d+)", first)
        if not m:
            self.stop()
            raise AssertionError(f"{argv[0]}: unexpected first line {first!r}")
        self.port = int(m.group(1))
        self.lines = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_close_line(self, path, timeout):
        """The first "CLOSE path code reason" line for path as (code,
        reason), or None if none came within timeout."""
        deadline = time.monotonic() + timeout
        while True:
            for line in list(self.lines):
                parts = line.split(" ", 3)
                if parts[0] == "CLOSE" and len(parts) >= 3 and parts[1] == path:
                    return int(parts[2]), parts[3] if len(parts) > 3 else ""
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.01)

    def alive(self):
        return self.proc.poll() is None

    def status_kib(self, field):
        """VmRSS (now) or VmHWM (peak) in KiB, from /proc/PID/status."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise AssertionError(f"no {field} in /proc/{self.proc.pid}/status")

    def rss(self):
        return self.status_kib("VmRSS")

    def peak_rss(self):
        return self.status_kib("VmHWM")

    def stop(self):
        """Ends the server; raises if it had died on its own or did not
        exit cleanly on SIGTERM (a crash, or a sanitizer's report)."""
        died = self.proc.poll() is not None
        if not died:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        if died or rc not in (0, -signal.SIGTERM):
            self.stderr.seek(0)
            tail = self.stderr.read()[-3000:].decode("utf-8", "replace")
            raise AssertionError(f"{self.proc.args[0]} {'died' if died else 'exited'} with status {rc}:\n{tail}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def example(name, *args):
    """$BUILD/cws-<name> on an ephemeral port."""
    return Server([os.path.join(BUILD, "cws-" + name), "--port", "0", *args])


_peer_path = []


def peer(*args):
    """tests/interop/cws_peer.c serve: a server on the runtime with every
    limit and timer settable, which reports each socket's close code.
    Compiled once per test program."""
    if not _peer_path:
        sys.path.insert(0, os.path.join(REPO, "tests", "interop"))
        import run_matrix
        _peer_path.append(run_matrix.build_peer())
    return Server([_peer_path[0], "serve", *args])


# ---------------------------------------------------------------- raw bytes

MASK = b"\x37\xfa\x21\x3d"


def frame(opcode, payload=b"", fin=True, length=None, mask=MASK):
    """A client frame (masked, RFC 6455 §5.3); length overrides the
    encoded payload length."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | opcode
    if n < 126:
        head = struct.pack("!BB", b0, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", b0, 0x80 | 127, n)
    return head + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))


def upgrade_request(port, path="/"):
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n\r\n").encode()


class RawClient:
    """A WebSocket client that sends whatever bytes it is told to."""

    def __init__(self, port, path="/attack", rcvbuf=None, timeout=10, ssl_context=None):
        self.sock = socket.socket()
        if rcvbuf:
            # Before connect, so the window never grows past it.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        if ssl_context is not None:  # wss://: the same bytes inside TLS
            self.sock = ssl_context.wrap_socket(self.sock, server_hostname="127.0.0.1")
        self.sock.sendall(upgrade_request(port, path))
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError("server closed during the handshake")
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise AssertionError(f"handshake refused: {head[:80]!r}")

    def send(self, data):
        self.sock.sendall(data)

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_frame(self):
        """(fin, opcode, payload) of the server's next frame; EOFError at
        the end of the stream (ConnectionResetError passes through)."""
        b0, b1 = self._need(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._need(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._need(8))[0]
        if b1 & 0x80:
            raise AssertionError("the server masked a frame (RFC 6455 §5.1)")
        return b0 >> 7, b0 & 0x0F, self._need(n)

    def read_until_close(self, timeout):
        """Reads frames until a close frame or the end of the stream.
        Returns (close code or None, frames seen before, how it ended:
        "close", "eof", "reset" or "timeout")."""
        self.sock.settimeout(timeout)
        seen = []
        try:
            while True:
                fin, op, data = self.read_frame()
                if op == 0x8:
                    code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                    return code, seen, "close"
                seen.append((op, len(data)))
        except EOFError:
            return None, seen, "eof"
        except ConnectionResetError:
            return None, seen, "reset"
        except socket.timeout:
            return None, seen, "timeout"

    def ended(self, timeout):
        """Waits for the end of the TCP stream (FIN or RST), discarding
        data; True if it ended within timeout."""
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not self.sock.recv(1 << 16):
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        return False

    def close(self):
        self.sock.close()


# ---------------------------------------------------------------- probe

class Probe:
    """A normal client (Python websockets) in its own thread: pings the
    server every interval and records each round trip, so a test can show
    that the server stayed responsive during an attack. With echo=True
    it sends a message and waits for its echo instead (an echo server);
    with ssl_context it connects over wss://."""

    def __init__(self, port, path="/probe", interval=0.1, limit=2.0, ssl_context=None, echo=False):
        scheme = "ws" if ssl_context is None else "wss"
        self.url = f"{scheme}://127.0.0.1:{port}{path}"
        self.tls = {} if ssl_context is None else {"ssl": ssl_context}
        self.echo = echo
        self.interval, self.limit = interval, limit
        self.rtts, self.errors = [], []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self):
        try:
            async with wscompat.connect(self.url, **self.tls) as ws:
                # Read whatever the server sends (a chat sends messages):
                # an unread queue would stall the pongs too.
                drain = None if self.echo else asyncio.ensure_future(self._drain(ws))
                while not self._stop.is_set():
                    start = time.monotonic()
                    if self.echo:
                        sent = os.urandom(8).hex()
                        await ws.send(sent)
                        got = await asyncio.wait_for(ws.recv(), self.limit)
                        if got != sent:
                            raise AssertionError(f"echo {got!r} of {sent!r}")
                    else:
                        waiter = await ws.ping(os.urandom(8))
                        await asyncio.wait_for(waiter, self.limit)
                    self.rtts.append(time.monotonic() - start)
                    await asyncio.sleep(self.interval)
                if drain:
                    drain.cancel()
        except Exception as e:  # the test reports it
            self.errors.append(repr(e))

    @staticmethod
    async def _drain(ws):
        try:
            async for _ in ws:
                pass
        except wscompat.ConnectionClosed:
            pass

    def __enter__(self):
        self._thread.start()
        deadline = time.monotonic() + 5
        while not self.rtts and not self.errors and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self.rtts:
            raise AssertionError(f"probe could not reach the server: {self.errors}")
        return self

    def __exit__(self, *exc):
        # One more round trip after the attack shows the server still
        # answers, however short the attack was.
        n = len(self.rtts)
        deadline = time.monotonic() + self.limit + 1
        while len(self.rtts) == n and not self.errors and time.monotonic() < deadline:
            time.sleep(0.01)
        self._stop.set()
        self._thread.join(self.limit + 2)

    def verdict(self):
        """Problem text, or None; prints the round trips either way."""
        if self.rtts:
            s = sorted(self.rtts)
            print(f"    normal client: {len(s)} {'echoes' if self.echo else 'pings'}, rtt median {s[len(s) // 2] * 1000:.1f} ms, "
                  f"max {s[-1] * 1000:.1f} ms", flush=True)
        if self.errors:
            return f"the normal client failed: {self.errors[0]}"
        if len(self.rtts) < 2:
            return f"the normal client got fewer than 2 {'echoes' if self.echo else 'pongs'}"
        return None


# ---------------------------------------------------------------- slowloris

def raise_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        raise AssertionError(f"cannot raise the fd limit to {want} (hard limit {hard})")


def slowloris(srv, count, opening, trickle, limit_s):
    """Opens count connections to srv, connection i sending opening(i) at
    once and then trickle(i) every 200 ms (None: nothing more), and waits
    up to limit_s seconds for the server to end them all. Returns a dict:
    opened (seconds the connecting took), rss_with_them (the server's
    VmRSS then, KiB), trickled (bytes), lives (sorted seconds each
    connection lasted), answers (what the server sent, per connection
    that got anything), pending (connections still open at the end)."""
    sel = selectors.DefaultSelector()
    conns = []
    start = time.monotonic()
    for i in range(count):
        s = socket.socket()
        s.connect(("127.0.0.1", srv.port))
        first = opening(i)
        if first:
            s.sendall(first)
        s.setblocking(False)
        c = {"opened": time.monotonic(), "answer": b"", "ended": None, "trickle": trickle(i), "sock": s}
        conns.append(c)
        sel.register(s, selectors.EVENT_READ, c)
    opened = time.monotonic() - start
    rss_with_them = srv.rss()
    pending, trickled = count, 0
    last_trickle = time.monotonic()
    while pending and time.monotonic() - start < limit_s:
        if time.monotonic() - last_trickle >= 0.2:
            last_trickle = time.monotonic()
            for c in conns:
                if c["trickle"] is not None and c["ended"] is None:
                    try:
                        c["sock"].send(c["trickle"])
                        trickled += len(c["trickle"])
                    except OSError:
                        pass  # dropped: select reports it
        for key, _ in sel.select(0.05):
            try:
                data = key.fileobj.recv(4096)
            except ConnectionResetError:
                data = b""
            if data:
                key.data["answer"] += data
                continue
            key.data["ended"] = time.monotonic() - key.data["opened"]
            sel.unregister(key.fileobj)
            key.fileobj.close()
            pending -= 1
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    sel.close()
    return {"opened": opened, "rss_with_them": rss_with_them, "trickled": trickled, "pending": pending,
            "lives": sorted(c["ended"] for c in conns if c["ended"] is not None),
            "answers": [c["answer"] for c in conns if c["answer"]]}


# ---------------------------------------------------------------- running

def run(cases):
    """Runs each case (a function returning None or a problem text);
    prints one line per case; returns the exit status."""
    failed = 0
    for case in cases:
        start = time.monotonic()
        try:
            problem = case()
        except Exception as e:  # any exception fails this case only
            import traceback
            traceback.print_exc()
            problem = repr(e)
        took = time.monotonic() - start
        if problem:
            failed += 1
            print(f"FAIL {case.__name__} ({took:.1f} s): {problem}", flush=True)
        else:
            print(f"ok   {case.__name__} ({took:.1f} s)", flush=True)
    print(f"{len(cases) - failed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


def memory_line(server, base_kib, bound_kib):
    """Prints the server's memory and returns a problem if the peak went
    over base + bound."""
    peak = server.peak_rss()
    print(f"    server memory: VmRSS before {base_kib} KiB, now {server.rss()} KiB, peak (VmHWM) "
          f"{peak} KiB; bound {base_kib + bound_kib} KiB", flush=True)
    if peak > base_kib + bound_kib:
        return f"server peak RSS {peak} KiB over the bound {base_kib + bound_kib} KiB"
    return None
