#!/usr/bin/env python3
"""examples/sansio (the guide's poll() echo server on layers 1-4 only)
against real peers: Python websockets for echo, ping and close, two clients
at once, and a raw socket for HTTP refusals and a protocol violation."""
import asyncio
import base64
import os
import socket
import subprocess
import sys

import websockets

BUILD = os.environ.get("BUILD", "build")
EXE = os.path.join(BUILD, "cws-sansio")


def start():
    p = subprocess.Popen([EXE, "--port", "0"], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if not line.startswith("listening on "):
        p.kill()
        raise SystemExit(f"unexpected first line: {line!r}")
    return p, int(line.split()[-1])


async def echo_checks(port):
    url = f"ws://127.0.0.1:{port}/"
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send("héllo ✓")
        assert await ws.recv() == "héllo ✓", "text echo"
        blob = os.urandom(200_000)  # several reads, 64-bit length header
        await ws.send(blob)
        assert await ws.recv() == blob, "binary echo"
        pong = await ws.ping(b"p1")
        await asyncio.wait_for(pong, 5)
        # A fragmented message comes back whole.
        await ws.send(["frag", "mented"])
        assert await ws.recv() == "fragmented", "fragmented echo"
        await ws.close(1000, "bye")
    assert ws.close_code == 1000, f"close code {ws.close_code}"
    # Two clients at once, interleaved.
    a = await websockets.connect(url)
    b = await websockets.connect(url)
    await a.send("from a")
    await b.send("from b")
    assert await b.recv() == "from b"
    assert await a.recv() == "from a"
    await a.close()
    await b.close()


def raw(port, data, want_close=True):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(data)
    got = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    return got


def handshake_bytes():
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n\r\n").encode()


def raw_checks(port):
    r = raw(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 426"), f"plain GET: {r[:40]!r}"
    r = raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Version: 13\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 400"), f"no key: {r[:40]!r}"
    r = raw(port, b"NOT HTTP AT ALL\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 400"), f"garbage: {r[:40]!r}"
    # An unmasked client frame right behind the request (same segment):
    # 101, then a close frame with 1002 (RFC 6455 §5.1), then TCP close.
    r = raw(port, handshake_bytes() + b"\x81\x02hi")
    head, _, rest = r.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), f"upgrade: {head[:40]!r}"
    assert rest[:1] == b"\x88" and rest[2:4] == (1002).to_bytes(2, "big"), f"close frame {rest!r}"


def main():
    if not os.access(EXE, os.X_OK):
        print(f"FAIL: {EXE} not built")
        return 1
    p, port = start()
    try:
        asyncio.run(asyncio.wait_for(echo_checks(port), 30))
        print("ok: echo, ping, fragmented, close 1000, two clients")
        raw_checks(port)
        print("ok: HTTP 426/400 refusals, 1002 on an unmasked frame")
        # Still serving after all that.
        asyncio.run(asyncio.wait_for(echo_checks(port), 30))
        print("ok: still serving")
    finally:
        p.kill()
        p.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
