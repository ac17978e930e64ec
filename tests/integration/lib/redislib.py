"""Helpers for the tests of cws-chat on Redis (docs/deployment.md): a real
redis-server on a free loopback port in a temporary directory (AOF on,
appendfsync always, no RDB), nodes of the Redis-enabled chat
($BUILD/redis/cws-chat, built by `make test` when hiredis is installed),
a tiny RESP client to look at what Redis holds, and clients that record
every message they get so a test can check one gapless order.

Every process is killed by cleanup(), which the tests call in `finally`."""

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
from chatlib import BUILD, REPO, STEP, ChatServer, Failure, connect, greeting  # noqa: E402
from wscompat import ConnectionClosed  # noqa: E402

REDIS_CHAT = os.path.join(REPO, BUILD, "redis", "cws-chat")
# Rate and connection limits are per client address, and every test
# client is 127.0.0.1: the tests lift them.
OPEN_LIMITS = ["--max-per-ip", "0", "--rate", "1000000", "--burst", "1000000"]


def require_redis():
    """Exits non-zero, loudly, when the test cannot run: never a silent pass."""
    missing = []
    if not shutil.which("redis-server"):
        missing.append("redis-server (Debian package redis-server)")
    if not os.access(REDIS_CHAT, os.X_OK):
        missing.append(f"{REDIS_CHAT} (built by `make test` when hiredis, Debian libhiredis-dev, is installed)")
    if missing:
        print("FAIL the Redis tests need: " + "; ".join(missing) + ". Run `make deps`, then `make test`.")
        sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """redis-server with AOF fsynced on every write: an acknowledged write
    survives kill -9. restart() keeps the port and the data directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="cws-redis-test-")
        self.port = free_port()
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--dir", self.dir, "--daemonize", "no", "--protected-mode", "no"],
            stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + STEP
        while True:
            try:
                if self.command("PING") == "PONG":
                    return self
            except (OSError, Failure):  # not listening yet, or LOADING its AOF
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise Failure(f"redis-server did not start: {self.logtext()[-2000:]}")
            time.sleep(0.02)

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def logtext(self):
        with open(os.path.join(self.dir, "redis.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(STEP)
        if self.proc:
            self.log.close()

    def restart(self):
        self.kill()
        return self.start()

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def command(self, *args):
        """One command over a fresh connection; the reply decoded (str,
        int, None, list; an error raises)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=STEP) as s:
            req = f"*{len(args)}\r\n" + "".join(f"${len(str(a).encode())}\r\n{a}\r\n" for a in args)
            s.sendall(req.encode())
            f = s.makefile("rb")
            return _resp(f)


def _resp(f):
    line = f.readline()
    if not line:
        raise OSError("redis closed the connection")
    kind, rest = line[:1], line[1:-2].decode()
    if kind == b"+":
        return rest
    if kind == b"-":
        raise Failure(f"redis error: {rest}")
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode()
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_resp(f) for _ in range(n)]
    raise Failure(f"unexpected RESP {line!r}")


def start_node(redis, *args, prefix=None):
    """A cws-chat node on a free port, with its room in redis."""
    extra = ["--redis", redis.address] + (["--redis-prefix", prefix] if prefix else [])
    node = ChatServer(*(extra + OPEN_LIMITS + list(args)), history=False, binary=REDIS_CHAT)
    return node.start()


async def join_node(node, since=None, epoch=None, timeout=STEP):
    """Connects (retrying while the node answers 503, before it has
    reached Redis) and reads up to synced: (ws, hello, messages, notices)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            ws = await connect(node, since, None, epoch)
            break
        except (OSError, Exception) as e:  # noqa: BLE001 -- an HTTP 503 surfaces as the library's own error
            if time.monotonic() > deadline:
                raise Failure(f"cannot join node {node.port}: {e}")
            await asyncio.sleep(0.05)
    return (ws,) + await greeting(ws)


class Recorder:
    """A client that keeps every message it gets, reconnecting with
    since=its last seq (and the epoch) when asked to resume elsewhere."""

    def __init__(self, node):
        self.node = node
        self.seqs = []      # every message's seq, in arrival order
        self.texts = {}
        self.epoch = None
        self.ws = None
        self.task = None
        self.closed_code = None
        self.notices = []

    async def start(self, since=None):
        ws, hello, replayed, notices = await join_node(self.node, since=since, epoch=self.epoch)
        self.epoch = hello["epoch"]
        self.notices += notices
        for m in replayed:
            self._keep(m)
        if since is None and not self.seqs:
            self.base = hello["seq"]  # it counts from here
        self.ws = ws
        self.task = asyncio.ensure_future(self._read(ws))
        return self

    def _keep(self, m):
        self.seqs.append(m["seq"])
        self.texts[m["seq"]] = m["text"]

    async def _read(self, ws):
        # ws.recv() itself, not chatlib.recv: asyncio.wait_for of Python
        # 3.11 may swallow the cancel of stop_reading(), leaving it hung.
        try:
            while True:
                m = json.loads(await ws.recv())
                if m["type"] == "message":
                    self._keep(m)
                elif m["type"] == "notice":
                    self.notices.append(m)
        except ConnectionClosed:
            self.closed_code = ws.close_code

    @property
    def last(self):
        return self.seqs[-1] if self.seqs else self.base

    async def stop_reading(self):
        if self.task:
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 -- it ended either way
                pass
            self.task = None

    async def resume(self, node):
        """Reconnects to node with since=last (after its connection died)."""
        await self.stop_reading()
        self.node = node
        await self.start(since=self.last)

    async def wait_for(self, seq, timeout=STEP * 3):
        deadline = time.monotonic() + timeout
        while self.last < seq:
            if time.monotonic() > deadline:
                raise Failure(f"client of node {self.node.port} stuck at seq {self.last}, wanted {seq}")
            await asyncio.sleep(0.02)

    def check_gapless(self, upto):
        """Every seq from its start to upto, once, in order."""
        want = list(range(self.base + 1, upto + 1))
        if self.seqs != want:
            dup = len(self.seqs) - len(set(self.seqs))
            missing = sorted(set(want) - set(self.seqs))[:10]
            raise Failure(f"client of node {self.node.port}: {len(self.seqs)} messages, {dup} duplicates, "
                          f"missing {missing}..., first {self.seqs[:5]}, base {self.base}")

    async def close(self):
        await self.stop_reading()
        if self.ws:
            await self.ws.close()


async def keep_posting(ws, label, stop, sent, pause):
    """Posts label-0, label-1, ... every pause seconds until stop is set;
    counts them in sent[0]."""
    j = 0
    while not stop.is_set():
        await ws.send(json.dumps({"type": "message", "text": f"{label}-{j}"}))
        j += 1
        sent[0] += 1
        await asyncio.sleep(pause)


async def shutdown(clients, nodes, redis):
    """The end of every test: clients closed, nodes stopped (exit 0, no
    sanitizer report), redis-server killed, temp dirs gone."""
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    for n in nodes:
        n.cleanup()
    redis.cleanup()


async def stored_count(redis, want, timeout=STEP):
    """The stream's length once it reaches want (posts still on their way),
    or whatever it is after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        n = redis.command("XLEN", "cws-chat:log")
        if n >= want or time.monotonic() > deadline:
            return n
        await asyncio.sleep(0.05)


def stream_entries(redis, prefix="cws-chat"):
    """What Redis holds: [(seq, message text, post id or None)], oldest first."""
    out = []
    for eid, fields in redis.command("XRANGE", f"{prefix}:log", "-", "+"):
        f = dict(zip(fields[::2], fields[1::2]))
        out.append((int(eid.split("-")[0]), json.loads(f["m"])["text"], f.get("i")))
    return out
