#!/usr/bin/python3
"""cws-client against hostile raw servers (docs/security.md, "The
command-line client"): terminal escape sequences, C1 controls and
newlines in messages and in the close reason come out escaped, one
message per line, unless --raw; a server that answers the handshake and
then goes silent is given up by the keepalive with a clear message."""

import asyncio
import base64
import hashlib
import os
import re
import socket
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from proc import Process, binary, run_cases, STEP_TIMEOUT  # noqa: E402

CLIENT = binary("client")

# What the server sends, and how the client must print it by default.
HOSTILE = [
    (b"\x81", "\x1b]0;pwned\x07".encode(), b"\\e]0;pwned\\a"),   # retitles an xterm
    (b"\x81", b"a\nb", b"a\\nb"),                               # one message, one line
    (b"\x81", "\u009b31m".encode(), b"\\u009b31m"),             # C1 CSI, as UTF-8 c2 9b
    (b"\x81", b"t\tx\x7f\x00\r\x01", b"t\\tx\\x7f\\x00\\r\\x01"),
    (b"\x81", "wörld 😀 back\\slash".encode(), "wörld 😀 back\\slash".encode()),  # as is
    (b"\x82", b"\x1b[2J", b"1b5b324a"),                         # binary: hex, as before
]
CLOSE_REASON = "\x1b[31mred\u0085".encode()  # colour, then C1 NEL (a newline on some terminals)
CLOSE_REASON_SHOWN = "\\e[31mred\\u0085"


def frame(first, payload):
    assert len(payload) < 126
    return first + bytes([len(payload)]) + payload


class RawServer:
    """A loopback server for one client: completes the handshake, sends
    `send` (bytes) at once, then reads until the client closes TCP and
    answers nothing more. `received` holds the client's bytes after the
    handshake."""

    def __init__(self, send=b""):
        self.send = send
        self.received = b""
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(1)
        self.lsock.settimeout(STEP_TIMEOUT)
        self.url = f"ws://127.0.0.1:{self.lsock.getsockname()[1]}/"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        with self.lsock:
            conn, _ = self.lsock.accept()
        with conn:
            conn.settimeout(3 * STEP_TIMEOUT)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            key = re.search(rb"(?im)^sec-websocket-key:\s*(\S+)", head).group(1)
            accept = base64.b64encode(hashlib.sha1(
                key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())  # RFC 6455 §1.3
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
                         + self.send)
            try:
                while True:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    self.received += chunk
            except OSError:
                return

    def join(self):
        self.thread.join(STEP_TIMEOUT)


def hostile_server():
    frames = b"".join(frame(first, payload) for first, payload, _ in HOSTILE)
    close = frame(b"\x88", struct.pack("!H", 1001) + CLOSE_REASON)
    return RawServer(frames + close)


async def run_until_exit(args, timeout=STEP_TIMEOUT):
    """Runs cws-client with stdin left open (so it never starts the close
    itself) until it exits: (status, stdout, stderr as bytes, seconds)."""
    start = time.monotonic()
    async with Process([CLIENT, *args]) as p:
        out, err, _ = await asyncio.wait_for(
            asyncio.gather(p.proc.stdout.read(), p.proc.stderr.read(), p.proc.wait()), timeout)
        return p.proc.returncode, out, err, time.monotonic() - start


def control_bytes(data):
    """Control bytes a terminal would obey: C0 but newline, DEL, and C1 in
    UTF-8 (c2 80..c2 9f)."""
    found = [b for b in set(data) if (b < 0x20 and b != 0x0A) or b == 0x7F]
    return found + re.findall(rb"\xc2[\x80-\x9f]", data)


async def test_control_characters_are_escaped_one_message_one_line():
    server = hostile_server()
    status, out, err, _ = await run_until_exit([server.url])
    server.join()
    assert status == 1, (status, err)  # closed with 1001
    assert out == b"".join(shown + b"\n" for _, _, shown in HOSTILE), out
    assert out.count(b"\n") == len(HOSTILE), out
    assert not control_bytes(out), out
    assert not control_bytes(err), err
    text = err.decode()
    assert f"connection closed with code 1001: {CLOSE_REASON_SHOWN}\n" in text, text


async def test_raw_passes_messages_through_but_not_the_close_reason():
    server = hostile_server()
    status, out, err, _ = await run_until_exit(["--raw", server.url])
    server.join()
    assert status == 1, (status, err)
    want = b"".join((payload if first == b"\x81" else shown) + b"\n"
                    for first, payload, shown in HOSTILE)  # binary stays hex
    assert out == want, out
    assert not control_bytes(err), err  # stderr is the terminal even in a pipe
    assert CLOSE_REASON_SHOWN in err.decode(), err


async def test_binary_flag_prints_binary_raw():
    server = RawServer(frame(b"\x82", b"\x00\x1b[2J\xff") + frame(b"\x88", struct.pack("!H", 1000)))
    status, out, err, _ = await run_until_exit(["--binary", server.url])
    server.join()
    assert status == 0, (status, err)
    assert out == b"\x00\x1b[2J\xff\n", out


async def test_silent_server_is_given_up_by_the_keepalive():
    server = RawServer()  # the 101, then silence: no pong, no close
    status, out, err, seconds = await run_until_exit(
        ["--keepalive", "1", "--keepalive-timeout", "1", server.url])
    server.join()
    assert status == 1, (status, err)
    assert b"cws-client: no pong within 1 s" in err, err
    # A masked ping (fin + opcode 9) went out, one interval after the open.
    assert server.received[:1] == b"\x89", server.received
    print(f"    given up after {seconds:.1f} s (ping at 1 s, deadline 1 s later)")


async def test_fractional_keepalive():
    server = RawServer()
    status, _, err, _ = await run_until_exit(
        ["--keepalive", "0.2", "--keepalive-timeout", "0.3", server.url])
    server.join()
    assert status == 1 and b"no pong within 0.3 s" in err, (status, err)


async def test_keepalive_defaults_and_off():
    # The defaults (30 s, 10 s) are too slow to wait for here: -v says
    # what the client configured, and --help documents it.
    for args, want in [([], "keepalive: ping every 30 s, pong within 10 s\n"),
                       (["--keepalive", "5", "--keepalive-timeout", "2.5"],
                        "keepalive: ping every 5 s, pong within 2.5 s\n"),
                       (["--keepalive", "0"], "keepalive: off\n")]:
        server = RawServer(frame(b"\x88", struct.pack("!H", 1000)))
        status, _, err, _ = await run_until_exit(["-v", *args, server.url])
        server.join()
        assert status == 0, (args, status, err)
        assert want in err.decode(), (args, err)
    async with Process([CLIENT, "--help"]) as p:
        status, out, _ = await p.wait()
    help_text = " ".join(out.decode().split())
    assert "--keepalive N ping every N seconds (default 30; 0: never)" in help_text, help_text
    assert "pong may take (default 10)" in help_text, help_text


async def test_keepalive_usage_errors():
    for args in (["--keepalive", "-1"], ["--keepalive", "x"], ["--keepalive-timeout", "0"],
                 ["--keepalive-timeout", "1e9"], ["--keepalive"]):
        async with Process([CLIENT, *args, "ws://127.0.0.1:9/"]) as p:
            status, _, err = await p.wait()
        assert status == 2 and "keepalive" in err, (args, status, err)


if __name__ == "__main__":
    sys.exit(run_cases([v for k, v in list(globals().items()) if k.startswith("test_")]))
