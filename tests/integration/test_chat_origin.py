#!/usr/bin/env python3
"""Cross-site WebSocket hijacking (issue 17): cws-chat refuses a
browser's handshake whose Origin is not its own with HTTP 403, before a
byte of the history leaves; --allow-origin admits more ('*': any);
clients without Origin are not affected. cws-echo stays open unless
--same-origin or --allow-origin asks it to check. Raw handshakes (to
choose Host and Origin freely and see every byte) and Python websockets
(a real peer, with origin=)."""
import asyncio
import os
import socket
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from chatlib import STEP, ChatServer, check, connect, join, main, post_and_wait  # noqa: E402
from proc import Server, binary  # noqa: E402
import wscompat  # noqa: E402

SECRET = "the launch code is 0000"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3


def handshake(port, origin=None, host=None, path="/ws", wait_for=b'"synced"'):
    """A raw upgrade with the given Origin (None: no field) and Host
    (default 127.0.0.1:port). Returns (status, every byte received): until
    the server closes, or, after a 101, until wait_for arrives."""
    host = host or f"127.0.0.1:{port}"
    req = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n")
    if origin is not None:
        req += f"Origin: {origin}\r\n"
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=STEP) as s:
        s.sendall((req + "\r\n").encode())
        while True:
            if data.startswith(b"HTTP/1.1 101 ") and (wait_for is None or wait_for in data):
                break
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    check(data.startswith(b"HTTP/1.1 "), f"no HTTP answer: {data[:200]!r}")
    return int(data[9:12]), data


def refused(port, origin, **kw):
    status, data = handshake(port, origin, **kw)
    check(status == 403, f"Origin {origin!r}: status {status}, expected 403")
    return data


def admitted(port, origin, **kw):
    status, data = handshake(port, origin, **kw)
    check(status == 101, f"Origin {origin!r}: status {status}, expected 101: {data[:200]!r}")
    return data


async def with_secret(*args):
    """A chat with SECRET in its history, posted by a client without Origin."""
    srv = ChatServer(*args).start()
    ws, _, _, _ = await join(srv, name="victim")
    await post_and_wait(ws, SECRET)
    await ws.close()
    return srv


async def ws_status(url, origin):
    """Opens a websockets client with origin; returns 101 or the refusal's status."""
    try:
        ws = await asyncio.wait_for(wscompat.connect(url, origin=origin), STEP)
    except Exception as e:  # InvalidStatusCode (websockets < 13) or InvalidStatus
        status = getattr(e, "status_code", None) or getattr(getattr(e, "response", None), "status_code", None)
        check(status is not None, f"{origin}: {type(e).__name__}: {e}")
        return status
    await ws.close()
    return 101


async def foreign_origin_refused():
    srv = await with_secret()
    try:
        port = srv.port
        for origin in ("https://evil.example", "http://evil.example", "null",
                       f"http://127.0.0.1:{port + 1 if port < 65535 else port - 1}",
                       f"http://localhost:{port}",  # Host says 127.0.0.1
                       f"http://127.0.0.1:{port}/",  # not an origin
                       f"http://user@127.0.0.1:{port}",
                       f"ftp://127.0.0.1:{port}", ""):
            data = refused(port, origin)
            check(SECRET.encode() not in data and b'"hello"' not in data, f"{origin!r}: the chat leaked: {data!r}")
        # A real client with a foreign origin is refused the same way.
        check(await ws_status(srv.ws_url(), "https://evil.example") == 403, "websockets client admitted")
        # Nothing was posted by the refused ones: the history holds the secret only.
        ws, hello, messages, _ = await join(srv)
        check([m["text"] for m in messages] == [SECRET], f"history {messages}")
        await ws.close()
    finally:
        srv.cleanup()


async def own_origin_admitted():
    srv = await with_secret()
    try:
        port = srv.port
        for origin, host in ((f"http://127.0.0.1:{port}", None), (f"https://127.0.0.1:{port}", None),
                             (f"HTTP://127.0.0.1:{port}", None), (f"http://localhost:{port}", f"localhost:{port}"),
                             (f"http://LocalHost:{port}", f"localhost:{port}")):
            data = admitted(port, origin, host=host)
            check(SECRET.encode() in data, f"{origin}: history missing")
        # The page's own origin through a real client.
        ws = await connect(srv, origin=f"http://127.0.0.1:{port}")
        await ws.close()
    finally:
        srv.cleanup()


async def no_origin_admitted():
    srv = await with_secret()
    try:
        data = admitted(srv.port, None)
        check(SECRET.encode() in data, "history missing")
        ws, _, messages, _ = await join(srv)  # websockets sends no Origin by default
        check(messages and messages[-1]["text"] == SECRET, f"history {messages}")
        await ws.close()
    finally:
        srv.cleanup()


async def allow_origin_list():
    srv = await with_secret("--allow-origin", "https://a.example", "--allow-origin=http://b.example:8080")
    try:
        port = srv.port
        admitted(port, "https://a.example")
        admitted(port, "https://A.Example")
        admitted(port, "http://b.example:8080")
        admitted(port, f"http://127.0.0.1:{port}")  # its own stays admitted
        admitted(port, None)
        for origin in ("https://evil.example", "http://a.example", "https://a.example:8443", "null",
                       "http://b.example"):
            check(SECRET.encode() not in refused(port, origin), f"{origin}: leaked")
        check(await ws_status(srv.ws_url(), "https://a.example") == 101, "websockets client refused")
    finally:
        srv.cleanup()


async def allow_origin_star():
    srv = await with_secret("--allow-origin", "*")
    try:
        for origin in ("https://evil.example", "null", f"http://127.0.0.1:{srv.port}", None):
            admitted(srv.port, origin)
    finally:
        srv.cleanup()


async def bad_allow_origin_value():
    # A value that can never match a browser's Origin is a usage error.
    for value in ("https://a.example/", "a.example", "", "http://a@b"):
        srv = ChatServer("--allow-origin", value)
        try:
            srv.start()
            raise AssertionError(f"--allow-origin {value!r} was accepted")
        except Exception as e:  # noqa: BLE001
            check("did not start" in str(e), f"{value!r}: {e}")
            check(srv.proc.wait(STEP) == 2, f"{value!r}: exit status {srv.proc.returncode}")
            check("--allow-origin" in srv.stderr(), f"{value!r}: {srv.stderr()!r}")
        finally:
            srv.cleanup()


# ---- cws-echo: a test tool, open unless asked ----

async def echo_open_by_default():
    async with Server([binary("echo"), "--port", "0"]) as srv:
        for origin in ("null", "https://evil.example", f"http://127.0.0.1:{srv.port}", None):
            admitted(srv.port, origin, path="/", wait_for=None)
        # about:blank's Origin through a real client, and an echo.
        ws = await asyncio.wait_for(wscompat.connect(srv.url, origin="null"), STEP)
        await ws.send("hi")
        check(await asyncio.wait_for(ws.recv(), STEP) == "hi", "no echo")
        await ws.close()


async def echo_allow_origin():
    async with Server([binary("echo"), "--port", "0", "--allow-origin", "https://a.example",
                       "--allow-origin", "null"]) as srv:
        p = srv.port
        admitted(p, "https://a.example", path="/", wait_for=None)
        admitted(p, "null", path="/", wait_for=None)
        admitted(p, None, path="/", wait_for=None)
        refused(p, "https://evil.example", path="/")
        refused(p, f"http://127.0.0.1:{p}", path="/")  # not without --same-origin
        check(await ws_status(srv.url, "https://evil.example") == 403, "websockets client admitted")


async def echo_same_origin():
    async with Server([binary("echo"), "--port", "0", "--same-origin"]) as srv:
        p = srv.port
        admitted(p, f"http://127.0.0.1:{p}", path="/", wait_for=None)
        admitted(p, None, path="/", wait_for=None)
        refused(p, "null", path="/")
        refused(p, "https://evil.example", path="/")


if __name__ == "__main__":
    main([foreign_origin_refused, own_origin_admitted, no_origin_admitted, allow_origin_list,
          allow_origin_star, bad_allow_origin_value, echo_open_by_default, echo_allow_origin,
          echo_same_origin])
