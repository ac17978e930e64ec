"""Echo servers for testing cws-client, each reporting what it saw as a
list of events (dicts) in one shape:
  {"event": "open", "path": str, "headers": {lowercase name: value}, "protocol": str}
    (PythonPeer over TLS adds "tls": {"version": str, "alpn": str or None})
  {"event": "message", "binary": bool, "len": int}
  {"event": "close", "code": int, "reason": str}
Besides echoing, the Python and Node peers obey two text commands:
"please-binary" (answered with binary 00 01 fe ff) and "please-close"
(the server closes with 1001 "going")."""

import asyncio
import json
import os

import wscompat
from proc import PEERS, STEP_TIMEOUT, Process, Server, binary


class Peer:
    name = "?"
    reports = True  # False: a server that reports no events (cws-echo)
    drops_after_close = False

    def __init__(self):
        self.events = []
        self.url = None

    async def wait_event(self, kind, timeout=STEP_TIMEOUT):
        """The first event of this kind, waiting for it if needed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for e in self.events:
                if e["event"] == kind:
                    return e
            if loop.time() > deadline:
                raise AssertionError(f"{self.name}: no {kind!r} event in {self.events}")
            await asyncio.sleep(0.01)


class PythonPeer(Peer):
    """Python `websockets`, in this process. Once the client's close has
    arrived it neither echoes nor reports the messages still queued."""

    drops_after_close = True

    def __init__(self, delay=0.0, max_queue=32, ssl=None):
        super().__init__()
        self.delay = delay  # seconds per message: a slow reader
        self.max_queue = max_queue
        self.ssl = ssl  # an ssl.SSLContext with the server's certificate: wss://

    name = "python-websockets"

    async def _handler(self, ws, path=None):
        self.events.append({
            "event": "open",
            "path": wscompat.request_path(ws),
            "headers": {k.lower(): v for k, v in wscompat.request_headers(ws).raw_items()},
            "protocol": ws.subprotocol or "",
        })
        tls = ws.transport.get_extra_info("ssl_object")
        if tls is not None:  # wss://: what the client's TLS agreed to
            self.events[-1]["tls"] = {"version": tls.version(), "alpn": tls.selected_alpn_protocol()}
        try:
            async for m in ws:
                if self.delay:
                    await asyncio.sleep(self.delay)
                size = len(m) if isinstance(m, bytes) else len(m.encode())
                self.events.append({"event": "message", "binary": isinstance(m, bytes), "len": size})
                if m == "please-binary":
                    await ws.send(b"\x00\x01\xfe\xff")
                elif m == "please-close":
                    await ws.close(1001, "going")
                else:
                    await ws.send(m)
        except wscompat.ConnectionClosed:
            pass
        self.events.append({"event": "close", "code": ws.close_code, "reason": ws.close_reason or ""})

    async def __aenter__(self):
        tls = {"ssl": self.ssl} if self.ssl else {}
        self.server = await wscompat.serve(self._handler, subprotocols=["chat.v1", "other.v2"],
                                           max_queue=self.max_queue, **tls)
        self.url = f"{'wss' if self.ssl else 'ws'}://127.0.0.1:{wscompat.port(self.server)}"
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await asyncio.wait_for(self.server.wait_closed(), STEP_TIMEOUT)


class NodePeer(Peer):
    """Node `ws`, as a child process (peers/echo_server.js)."""

    name = "node-ws"

    def __init__(self, tls=None):
        super().__init__()
        self.tls = tls  # (certificate file, key file): serve wss:// (https.createServer)

    async def _collect(self):
        while True:
            line = await self.proc.proc.stdout.readline()
            if not line:
                return
            self.events.append(json.loads(line))

    async def __aenter__(self):
        tls = ["--tls-cert", self.tls[0], "--tls-key", self.tls[1]] if self.tls else []
        self.proc = Server(["node", os.path.join(PEERS, "echo_server.js"), *tls])
        await self.proc.__aenter__()
        self.url = self.proc.url
        self.reader = asyncio.create_task(self._collect())
        return self

    async def __aexit__(self, *exc):
        self.reader.cancel()
        await self.proc.stop()


class CwsEchoPeer(Peer):
    """Our own cws-echo: it echoes, but reports nothing."""

    name = "cws-echo"
    reports = False

    def __init__(self, args=()):
        super().__init__()
        self.args = list(args)  # e.g. --tls-cert FILE --tls-key FILE

    async def __aenter__(self):
        self.proc = Server([binary("echo"), "--port", "0", *self.args])
        await self.proc.__aenter__()
        self.url = self.proc.url
        return self

    async def __aexit__(self, *exc):
        await self.proc.stop()


ALL = [PythonPeer, NodePeer, CwsEchoPeer]


async def run_client(args, stdin=b"", expect=None, timeout=STEP_TIMEOUT):
    """Runs $BUILD/cws-client to its end with stdin as input: (status, out, err).
    With expect, stdin stays open until that much output has come back:
    a server may drop echoes it has not sent yet when our close arrives
    (Python websockets does), so EOF right away would lose them."""
    async with Process([binary("client"), *args]) as p:
        if expect is None:
            out, err = await asyncio.wait_for(p.proc.communicate(stdin), timeout)
            return p.proc.returncode, out, err.decode("utf-8", "replace")
        p.proc.stdin.write(stdin)
        try:
            out = await asyncio.wait_for(p.proc.stdout.readexactly(len(expect)), timeout)
        except asyncio.IncompleteReadError as e:
            out = e.partial
        p.proc.stdin.close()
        status, rest, err = await p.wait(timeout)
        return status, out + rest, err


async def each_peer(peers, check):
    """Runs check(peer) against a fresh instance of each peer class (or a
    factory such as lambda: PythonPeer(ssl=ctx)), naming the peer on failure."""
    for peer_class in peers:
        async with peer_class() as peer:
            try:
                await check(peer)
            except AssertionError as e:
                raise AssertionError(f"against {peer.name}: {e}") from e
