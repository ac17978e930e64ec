"""Helpers for the cws-chat tests: start the server on an ephemeral port
with a temporary history file and web root, talk its JSON protocol
(docs/chat-protocol.md), and bound every wait so a hang is a failure."""

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wscompat  # noqa: E402  (shared with the echo tests)
from wscompat import ConnectionClosed  # noqa: E402,F401

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("BUILD", "build")
BINARY = os.path.join(REPO, BUILD, "cws-chat")
WEB = os.path.join(REPO, "examples", "chat", "web")
STEP = 10.0  # seconds any single wait may take


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


class ChatServer:
    """One cws-chat process. The history file and a copy of the web root
    live in a temporary directory that survives restarts of the server
    (restart() keeps the same history) and is removed by cleanup()."""

    def __init__(self, *args, tmp=None, history=None, web=None, binary=BINARY):
        """history=False: no --history (a Redis node, redislib.py)."""
        if not os.access(binary, os.X_OK):
            sys.exit(f"missing {binary}: build it first (make BUILD={BUILD} examples)")
        self.binary = binary
        self.tmp = tmp or tempfile.mkdtemp(prefix="cws-chat-test-")
        self.history = os.path.join(self.tmp, "history.log") if history is None else history
        self.web = web or WEB
        self.args = list(args)
        self.proc = None
        self.port = None
        self.err_path = os.path.join(self.tmp, "stderr.txt")

    def start(self):
        self.err = open(self.err_path, "ab")
        # CHAT_WRAPPER="valgrind --leak-check=full --error-exitcode=99" runs
        # the server under a checker; its exit status then tells.
        history = ["--history", self.history] if self.history else []
        argv = os.environ.get("CHAT_WRAPPER", "").split() + [self.binary, "--port", "0"] + history + ["--web", self.web] + self.args
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.err, cwd=self.tmp)
        line = self._first_line()
        check(line.startswith("listening on http://127.0.0.1:"), f"unexpected first line {line!r}")
        self.port = int(line.rsplit(":", 1)[1])
        return self

    def _first_line(self):
        deadline = time.monotonic() + STEP
        fd = self.proc.stdout.fileno()
        os.set_blocking(fd, False)
        buf = b""
        while b"\n" not in buf:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise Failure(f"server did not start: {buf!r} / {self.stderr()!r}")
            try:
                chunk = os.read(fd, 256)
                buf += chunk or b""
            except BlockingIOError:
                time.sleep(0.01)
        return buf.split(b"\n", 1)[0].decode()

    @property
    def pid(self):
        return self.proc.pid

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def ws_url(self, since=None, name=None, epoch=None):
        q = []
        if since is not None:
            q.append(f"since={since}")
        if epoch is not None:
            q.append(f"epoch={epoch}")
        if name is not None:
            q.append(f"name={name}")
        return f"ws://127.0.0.1:{self.port}/ws" + ("?" + "&".join(q) if q else "")

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace")

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self, sig=signal.SIGTERM, timeout=STEP):
        """Signals the server and returns its exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failure(f"server ignored signal {sig} for {timeout} s")
        self.proc.stdout.close()
        self.err.close()
        return rc

    def restart(self):
        self.stop()
        return self.start()

    def cleanup(self):
        """Stops the server (SIGTERM: it must exit 0), removes the temporary
        directory, and fails the test on any sanitizer report."""
        failing = sys.exc_info()[0] is not None
        rc = 0
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(STEP)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = "timeout"
        if self.proc is not None:
            self.proc.stdout.close()
            self.err.close()
        report = self.stderr() if os.path.exists(self.err_path) else ""
        shutil.rmtree(self.tmp, ignore_errors=True)
        if failing:
            return
        for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            check(marker not in report, "sanitizer report:\n" + report[-3000:])
        check(rc == 0, f"server exit status {rc} on SIGTERM:\n{report[-2000:]}")


async def connect(server, since=None, name=None, epoch=None, **kw):
    # An unbounded receive queue: the client library otherwise stops reading
    # when 32 messages wait unread, and would then miss our close frame.
    kw.setdefault("max_queue", None)
    return await asyncio.wait_for(wscompat.connect(server.ws_url(since, name, epoch), **kw), STEP)


async def recv(ws, timeout=STEP):
    """The next message as a dict."""
    raw = await asyncio.wait_for(ws.recv(), timeout)
    check(isinstance(raw, str), f"binary message from the chat: {raw!r}")
    return json.loads(raw)


async def recv_type(ws, *types, timeout=STEP):
    """Skips messages until one of the given types arrives."""
    deadline = time.monotonic() + timeout
    while True:
        m = await recv(ws, max(0.01, deadline - time.monotonic()))
        if m["type"] in types:
            return m


def presence_count(m, kind):
    """How many a presence batch says joined (kind "joined") or left ("left")."""
    return len(m[kind]) + m["more_" + kind]


async def until_online(ws, n, timeout=STEP):
    """Skips messages until a presence batch says n are online; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        m = await recv_type(ws, "presence", timeout=max(0.01, deadline - time.monotonic()))
        if m["online"] == n:
            return m


async def join(server, since=None, name=None, epoch=None, **kw):
    """Connects and reads the greeting up to `synced`. Returns
    (ws, hello, replayed messages, notices)."""
    ws = await connect(server, since, name, epoch, **kw)
    return (ws,) + await greeting(ws)


async def greeting(ws):
    """Reads hello, the replay and synced: (hello, replayed messages, notices)."""
    hello = await recv(ws)
    check(hello["type"] == "hello", f"first message is not hello: {hello}")
    messages, notices = [], []
    while True:
        m = await recv(ws)
        if m["type"] == "synced":
            check(m["seq"] == hello["seq"] or m["seq"] >= hello["seq"], f"synced {m} after hello {hello}")
            return hello, messages, notices
        if m["type"] == "message":
            messages.append(m)
        elif m["type"] == "notice":
            notices.append(m)
        else:
            raise Failure(f"unexpected {m} before synced")


async def post(ws, text):
    await ws.send(json.dumps({"type": "message", "text": text}))


async def post_id(ws, text, pid):
    """Posts with a post id (docs/chat-protocol.md, "Posts with an id")."""
    await ws.send(json.dumps({"type": "message", "text": text, "id": pid}))


async def answer(ws):
    """The next message or error sent to ws."""
    return await recv_type(ws, "message", "error")


async def post_and_wait(ws, text):
    """Posts and returns our own message as the server relayed it."""
    await post(ws, text)
    while True:
        m = await recv_type(ws, "message", "error")
        check(m["type"] == "message", f"post refused: {m}")
        if m["text"] == text:
            return m


async def closed_with(ws, timeout=STEP):
    """Waits until ws is closed (reading and discarding); returns the code."""
    try:
        async def drain():
            while True:
                await ws.recv()
        await asyncio.wait_for(drain(), timeout)
    except ConnectionClosed:
        pass
    return ws.close_code


def http_get(port, target, method="GET", raw=None, timeout=STEP):
    """A raw HTTP/1.1 request; returns (status, headers dict, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        req = raw or (f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
        s.sendall(req.encode() if isinstance(req, str) else req)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def main(tests):
    """Runs async test functions in order, each bounded; exits 1 on failure."""
    failed = 0
    for t in tests:
        start = time.monotonic()
        try:
            asyncio.run(asyncio.wait_for(t(), 120))
            print(f"ok   {t.__name__} ({time.monotonic() - start:.1f} s)")
        except Exception as e:  # noqa: BLE001 -- report every failure the same way
            failed += 1
            print(f"FAIL {t.__name__}: {type(e).__name__}: {e}")
    sys.exit(1 if failed else 0)
