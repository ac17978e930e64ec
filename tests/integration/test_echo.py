#!/usr/bin/python3
"""cws-echo against a real peer, Python `websockets`: messages of every
length-encoding boundary come back byte-identical with the same opcode,
pings get pongs, closes are answered, signals close clients with 1001."""

import asyncio
import os
import random
import signal
import socket
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from proc import Process, Server, binary, run_cases, STEP_TIMEOUT  # noqa: E402
import wscompat  # noqa: E402

ECHO = binary("echo")
# RFC 6455 §5.2: 125 is the largest 7-bit length, 126/127 switch to the
# 16-bit form, 65535/65536 its last value and the first 64-bit one.
SIZES = [0, 1, 125, 126, 127, 65535, 65536, 1 << 20, 4 << 20]


def text_of(n):
    """A str whose UTF-8 form is exactly n bytes, with 1- to 4-byte
    characters so the server's UTF-8 check sees every sequence length."""
    s = "aé€😀" * (n // 10)  # 1 + 2 + 3 + 4 bytes
    return s + "x" * (n - len(s.encode()))


def bytes_of(n, seed=1):
    return random.Random(seed + n).randbytes(n)


async def recv(ws):
    return await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)


async def test_text_every_length_encoding():
    async with Server([ECHO, "--port", "0"]) as srv:
        async with wscompat.connect(srv.url) as ws:
            for n in SIZES:
                msg = text_of(n)
                await ws.send(msg)
                got = await recv(ws)
                assert isinstance(got, str), f"{n}: text came back as {type(got).__name__}"
                assert got == msg, f"{n}: text changed ({len(got.encode())} bytes back)"


async def test_binary_every_length_encoding():
    async with Server([ECHO, "--port", "0"]) as srv:
        async with wscompat.connect(srv.url) as ws:
            for n in SIZES:
                msg = bytes_of(n)
                await ws.send(msg)
                got = await recv(ws)
                assert isinstance(got, bytes), f"{n}: binary came back as {type(got).__name__}"
                assert got == msg, f"{n}: bytes changed ({len(got)} back)"


async def test_pipelined_messages_keep_order_and_opcode():
    async with Server([ECHO, "--port", "0"]) as srv:
        async with wscompat.connect(srv.url) as ws:
            sent = [text_of(i * 37) if i % 2 else bytes_of(i * 53) for i in range(200)]
            for m in sent:  # all in flight before the first reply is read
                await ws.send(m)
            for i, m in enumerate(sent):
                assert await recv(ws) == m, f"message {i} differs"


async def test_fragmented_message_comes_back_whole():
    async with Server([ECHO, "--port", "0"]) as srv:
        async with wscompat.connect(srv.url) as ws:
            parts = [b"ab", b"", b"c" * 70000, b"d"]
            await ws.send(parts)  # an iterable is sent as fragments (§5.4)
            assert await recv(ws) == b"".join(parts)
            await ws.send(["héllo ", "wörld"])
            assert await recv(ws) == "héllo wörld"


async def test_ping_gets_pong_with_same_payload():
    async with Server([ECHO, "--port", "0"]) as srv:
        async with wscompat.connect(srv.url) as ws:
            for payload in [b"", b"rtt-probe", bytes(range(125))]:
                pong = await ws.ping(payload)  # resolves on the matching pong (§5.5.3)
                await asyncio.wait_for(pong, STEP_TIMEOUT)
            # A ping between messages must not disturb them.
            await ws.send("before")
            pong = await ws.ping(b"between")
            await ws.send("after")
            assert await recv(ws) == "before"
            assert await recv(ws) == "after"
            await asyncio.wait_for(pong, STEP_TIMEOUT)


async def test_client_close_is_answered_with_its_code():
    async with Server([ECHO, "--port", "0"]) as srv:
        ws = await wscompat.connect(srv.url)
        await ws.send("x")
        assert await recv(ws) == "x"
        await asyncio.wait_for(ws.close(1000, "bye"), STEP_TIMEOUT)
        # RFC 6455 §5.5.1: the answer echoes the status code it received;
        # echoing the reason is optional (cws answers with the code alone).
        assert ws.close_code == 1000, ws.close_code
        assert ws.close_reason in ("", "bye"), repr(ws.close_reason)
        ws = await wscompat.connect(srv.url)  # a private-use code (§7.4.2) too
        await asyncio.wait_for(ws.close(4001, "custom"), STEP_TIMEOUT)
        assert ws.close_code == 4001, ws.close_code


async def test_any_path_is_accepted():
    async with Server([ECHO, "--port", "0"]) as srv:
        for path in ["/", "/echo", "/a/b/c?x=1&y=%20"]:
            async with wscompat.connect(srv.url + path) as ws:
                await ws.send(path)
                assert await recv(ws) == path


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


async def test_ipv6_loopback_url_has_brackets():
    if not have_ipv6_loopback():
        print("  (no ::1 here: skipped)")
        return
    async with Server([ECHO, "--host", "::1", "--port", "0"]) as srv:
        assert srv.url.startswith("ws://[::1]:"), srv.url
        async with wscompat.connect(srv.url + "/") as ws:
            await ws.send("v6")
            assert await recv(ws) == "v6"


async def test_concurrent_clients_get_only_their_own_echo():
    async with Server([ECHO, "--port", "0"]) as srv:
        async def one(k):
            async with wscompat.connect(srv.url) as ws:
                for i in range(50):
                    await ws.send(f"{k}:{i}")
                for i in range(50):
                    assert await recv(ws) == f"{k}:{i}"
        await asyncio.gather(*(one(k) for k in range(20)))


async def test_max_message_over_limit_closes_1009():
    async with Server([ECHO, "--port", "0", "--max-message", "1000"]) as srv:
        async with wscompat.connect(srv.url) as ws:
            await ws.send(bytes_of(1000))
            assert await recv(ws) == bytes_of(1000)
            await ws.send(bytes_of(1001))
            await asyncio.wait_for(ws.wait_closed(), STEP_TIMEOUT)
            assert ws.close_code == 1009, ws.close_code  # RFC 6455 §7.4.1


async def test_default_limit_is_16_mib_and_such_a_message_comes_back():
    # The echo queues a whole message on its way back: this fails if the
    # socket's send queue limit is below the message limit.
    async with Server([ECHO, "--port", "0"]) as srv:
        async with wscompat.connect(srv.url) as ws:
            big = bytes_of(16 << 20)
            await ws.send(big)
            assert await asyncio.wait_for(ws.recv(), 30) == big
            try:
                await ws.send(big + b"!")
            except wscompat.ConnectionClosed:
                pass  # the server may close before we have sent it all
            await asyncio.wait_for(ws.wait_closed(), STEP_TIMEOUT)
            assert ws.close_code == 1009, ws.close_code


async def shutdown_on(sig):
    async with Server([ECHO, "--port", "0"]) as srv:
        clients = [await wscompat.connect(srv.url) for _ in range(3)]
        for ws in clients:  # each connection fully open before the signal
            await ws.send("hi")
            assert await recv(ws) == "hi"
        srv.proc.send_signal(sig)
        for ws in clients:
            await asyncio.wait_for(ws.wait_closed(), STEP_TIMEOUT)
            assert ws.close_code == 1001, ws.close_code
        status, _, err = await srv.wait()
        assert status == 0, f"exit status {status}: {err}"


async def test_sigterm_closes_clients_with_1001_and_exits_0():
    await shutdown_on(signal.SIGTERM)


async def test_sigint_closes_clients_with_1001_and_exits_0():
    await shutdown_on(signal.SIGINT)


async def test_help_and_bad_usage():
    async with Process([ECHO, "--help"]) as p:
        status, out, _ = await p.wait()
        assert status == 0 and b"--max-message" in out, (status, out)
    for bad in (["--port", "70000"], ["--port"], ["--nope"], ["--max-message", "x"]):
        async with Process([ECHO, *bad]) as p:
            status, _, err = await p.wait()
            assert status == 2 and "cws-echo" in err, (bad, status, err)


if __name__ == "__main__":
    sys.exit(run_cases([v for k, v in list(globals().items()) if k.startswith("test_")]))
