#!/usr/bin/python3
"""cws-echo serving wss:// (--tls-cert/--tls-key) against Python
`websockets` as the client, trusting only the throwaway CA: every length
form of RFC 6455 §5.2 in text and binary, fragmented messages, the close
handshake (1000, 4000 with a reason), 1009 for a message over
--max-message; TLS 1.2 and 1.3 with ALPN http/1.1, TLS 1.1 refused;
close_notify after the close handshake."""

import asyncio
import os
import socket
import ssl
import struct
import sys
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tlslib  # noqa: E402  (puts tests/integration/lib on the path)
import hostile_lib  # noqa: E402
import wscompat  # noqa: E402
from echo_peers import PythonPeer  # noqa: E402
from proc import STEP_TIMEOUT, Server, binary, run_cases  # noqa: E402

ECHO = binary("echo")
SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20]


def text_of(n):
    """A str whose UTF-8 form is exactly n bytes, with 1- to 4-byte characters."""
    s = "aé€😀" * (n // 10)
    return s + "x" * (n - len(s.encode()))


def bytes_of(n):
    return bytes((i * 7 + n) & 0xFF for i in range(n))


def echo(*args, cert="server"):
    return Server([ECHO, "--port", "0", *tlslib.server_args(cert), *args])


async def test_listening_line_names_wss():
    async with echo() as srv:
        assert srv.url.startswith("wss://127.0.0.1:"), srv.url


async def test_every_length_text_and_binary():
    async with echo() as srv:
        async with wscompat.connect(srv.url, ssl=tlslib.client_context()) as ws:
            for n in SIZES:
                for msg in (text_of(n), bytes_of(n)):
                    await ws.send(msg)
                    got = await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)
                    assert type(got) is type(msg), f"{n} bytes: opcode changed"
                    assert got == msg, f"{n} bytes of {type(msg).__name__} came back changed ({len(got)})"
            await ws.close()
            assert ws.close_code == 1000, ws.close_code


async def test_fragmented_messages_are_echoed_whole():
    async def fragments(parts):
        for p in parts:
            yield p
    async with echo() as srv:
        async with wscompat.connect(srv.url, ssl=tlslib.client_context()) as ws:
            text = ["frag-", "ménts ", text_of(70000), "", "-end 😀"]
            await ws.send(fragments(text))
            assert await asyncio.wait_for(ws.recv(), STEP_TIMEOUT) == "".join(text)
            data = [bytes_of(1), b"", bytes_of(65536), bytes_of(300000)]
            await ws.send(fragments(data))
            assert await asyncio.wait_for(ws.recv(), STEP_TIMEOUT) == b"".join(data)
            # 1,000 one-byte fragments: each a TLS record of its own.
            await ws.send(fragments([bytes([i & 0xFF]) for i in range(1000)]))
            got = await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)
            assert got == bytes(i & 0xFF for i in range(1000)), len(got)


async def test_close_codes_come_back():
    # RFC 6455 §5.5.1: the close is answered with the same code; echoing
    # the reason is optional.
    async with echo() as srv:
        for code, reason in ((1000, ""), (4000, "bye for now")):
            ws = await wscompat.connect(srv.url, ssl=tlslib.client_context())
            await ws.send("before the close")
            assert await asyncio.wait_for(ws.recv(), STEP_TIMEOUT) == "before the close"
            await asyncio.wait_for(ws.close(code, reason), STEP_TIMEOUT)
            assert ws.close_code == code, (code, ws.close_code)
            assert ws.close_reason in ("", reason), ws.close_reason


async def test_message_over_max_message_is_closed_with_1009():
    async with echo("--max-message", "1000") as srv:
        async with wscompat.connect(srv.url, ssl=tlslib.client_context()) as ws:
            await ws.send(b"x" * 1000)  # at the limit: echoed
            assert await asyncio.wait_for(ws.recv(), STEP_TIMEOUT) == b"x" * 1000
            await ws.send(b"y" * 1001)
            try:
                got = await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)
                raise AssertionError(f"a {len(got)}-byte answer instead of a close")
            except wscompat.ConnectionClosed:
                pass
            assert ws.close_code == 1009, ws.close_code


def legacy_context(lo, hi):
    """A client context that would speak TLS versions lo..hi (old ones
    need security level 0 in OpenSSL 3)."""
    ctx = tlslib.client_context()
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version, ctx.maximum_version = lo, hi
    return ctx


async def test_tls_12_and_13_with_alpn_only():
    V = ssl.TLSVersion
    async with echo() as srv:
        for version, name in ((V.TLSv1_2, "TLSv1.2"), (V.TLSv1_3, "TLSv1.3")):
            ctx = tlslib.client_context()
            ctx.minimum_version = ctx.maximum_version = version
            async with wscompat.connect(srv.url, ssl=ctx) as ws:
                obj = ws.transport.get_extra_info("ssl_object")
                assert obj.version() == name, obj.version()
                assert obj.selected_alpn_protocol() == "http/1.1", obj.selected_alpn_protocol()
                await ws.send(name)
                assert await asyncio.wait_for(ws.recv(), STEP_TIMEOUT) == name
        # A client that offers only TLS 1.1 (and 1.0) must be refused. The
        # same client against a server that allows 1.1 shows it can speak it.
        old = legacy_context(V.TLSv1, V.TLSv1_1)
        sctx = tlslib.server_context()
        sctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            sctx.minimum_version = V.TLSv1
        async with PythonPeer(ssl=sctx) as control:
            async with wscompat.connect(control.url, ssl=old) as ws:
                assert ws.transport.get_extra_info("ssl_object").version() == "TLSv1.1"
        try:
            ws = await asyncio.wait_for(wscompat.connect(srv.url, ssl=old), STEP_TIMEOUT)
            version = ws.transport.get_extra_info("ssl_object").version()
            await ws.close()
            raise AssertionError(f"cws-echo accepted {version}")
        except OSError:  # an alert (ssl.SSLError) or the connection dropped
            pass
        # Still serving after the refusal.
        async with wscompat.connect(srv.url, ssl=tlslib.client_context()) as ws:
            await ws.send("after")
            assert await asyncio.wait_for(ws.recv(), STEP_TIMEOUT) == "after"


async def test_close_notify_follows_the_close_handshake():
    # After the WebSocket close handshake the server ends TLS with
    # close_notify: an EOF without it is what a truncation attack looks
    # like (ssl.SSLEOFError with suppress_ragged_eofs off).
    async with echo() as srv:
        def run():
            c = hostile_lib.RawClient(srv.port, ssl_context=tlslib.client_context())
            try:
                c.send(hostile_lib.frame(0x1, b"last words"))
                fin, op, data = c.read_frame()
                assert (op, data) == (0x1, b"last words"), (op, data)
                c.send(hostile_lib.frame(0x8, struct.pack("!H", 1000) + b"done"))
                fin, op, data = c.read_frame()
                assert op == 0x8 and data[:2] == struct.pack("!H", 1000), (op, data)
                c.sock.suppress_ragged_eofs = False
                try:
                    rest = c.sock.recv(4096)
                except ssl.SSLEOFError as e:
                    raise AssertionError(f"TCP closed without close_notify: {e}")
                except socket.timeout:
                    raise AssertionError("the server kept the connection open after the close handshake")
                assert rest == b"", f"{len(rest)} bytes after the close frame"
            finally:
                c.close()
        await asyncio.wait_for(asyncio.to_thread(run), STEP_TIMEOUT * 2)


if __name__ == "__main__":
    sys.exit(run_cases([v for k, v in list(globals().items()) if k.startswith("test_")]))
