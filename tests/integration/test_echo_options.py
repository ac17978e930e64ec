#!/usr/bin/python3
"""cws-echo's server policies on the command line: --ping-interval,
--handshake-timeout and --high-water reach cws_server_config, and
--broadcast relays to every client. Raw
sockets, since a WebSocket library would answer pings and read frames
behind the test's back. (Messages, limits and signals: test_echo.py.)"""

import asyncio
import os
import socket
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from proc import Process, Server, binary, run_cases, STEP_TIMEOUT  # noqa: E402

ECHO = binary("echo")

RAW_KEY = b"dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3


def raw_open(port, rcvbuf=0):
    """A blocking loopback socket past a WebSocket handshake; returns it
    and the bytes that came after the 101 head."""
    s = socket.socket()
    if rcvbuf:  # before connect, so the window is small from the start
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(STEP_TIMEOUT)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Key: " + RAW_KEY +
              b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        assert chunk, f"closed during the handshake: {head!r}"
        head += chunk
    head, rest = head.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101 "), head
    return s, rest


def raw_frame(opcode, payload):
    """A masked client frame (RFC 6455 §5.2)."""
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    key = b"\x01\x02\x03\x04"
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def raw_frames(buf):
    """Splits server frames (unmasked) off buf: ([(opcode, payload)], rest)."""
    out = []
    while len(buf) >= 2:
        n, at = buf[1] & 0x7F, 2
        if n == 126:
            n, at = int.from_bytes(buf[2:4], "big"), 4
        elif n == 127:
            n, at = int.from_bytes(buf[2:10], "big"), 10
        if len(buf) < at + n:
            break
        out.append((buf[0] & 0x0F, buf[at:at + n]))
        buf = buf[at + n:]
    return out, buf


def raw_read_until(s, want, limit, buf=b""):
    """Reads frames (buf: bytes already received) until one of opcode
    `want` (returns its payload), EOF or a reset (None); fails after limit
    seconds."""
    end = time.monotonic() + limit
    while True:
        frames, buf = raw_frames(buf)
        for op, payload in frames:
            if op == want:
                return payload
        if time.monotonic() > end:
            raise AssertionError(f"no frame with opcode {want} within {limit} s")
        try:
            chunk = s.recv(1 << 16)
        except ConnectionResetError:
            return None
        if not chunk:
            return None
        buf += chunk


async def test_ping_interval_option():
    async with Server([ECHO, "--port", "0", "--ping-interval", "100"]) as srv:
        s, rest = await asyncio.to_thread(raw_open, srv.port)
        with s:
            for _ in range(2):  # the default (30 s) would not ping in time
                payload = await asyncio.to_thread(raw_read_until, s, 0x9, 5, rest)
                rest = b""
                assert payload is not None, "closed instead of pinging"
                s.sendall(raw_frame(0xA, payload))


async def test_handshake_timeout_option():
    async with Server([ECHO, "--port", "0", "--handshake-timeout", "200"]) as srv:
        def slow_client():
            with socket.create_connection(("127.0.0.1", srv.port), STEP_TIMEOUT) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and nothing more
                start = time.monotonic()
                got = s.recv(4096)  # the default (10 s) would hit our 5 s limit
                return got, time.monotonic() - start
        got, waited = await asyncio.wait_for(asyncio.to_thread(slow_client), 5)
        assert got == b"", f"an answer instead of a silent drop: {got!r}"
        assert waited < 4, waited


async def test_high_water_option_closes_a_reader_that_falls_behind_1008():
    # 16 MiB of echoes is within the default mark (2 x 16 MiB + 64 KiB) but
    # far past 200000 bytes when the client reads nothing meanwhile. It must
    # also exceed what loopback TCP buffers hold (tcp_wmem's maximum is
    # 4 MiB): a slow (e.g. ASan) server otherwise drains into the kernel.
    async with Server([ECHO, "--port", "0", "--high-water", "200000"]) as srv:
        def flood():
            s, rest = raw_open(srv.port, rcvbuf=4096)
            with s:
                msg = raw_frame(0x2, bytes(64 << 10))
                try:
                    for _ in range(256):
                        s.sendall(msg)
                except OSError:  # the server may stop reading once it closes
                    pass
                return raw_read_until(s, 0x8, 10, rest)
        payload = await asyncio.wait_for(asyncio.to_thread(flood), 20)
        assert payload is not None, "dropped without a close frame"
        assert int.from_bytes(payload[:2], "big") == 1008, payload


def raw_read_data(s, count, limit, buf=b""):
    """Reads frames until count text/binary ones came: [(opcode, payload)]."""
    end = time.monotonic() + limit
    got = []
    while True:
        frames, buf = raw_frames(buf)
        got += [(op, p) for op, p in frames if op in (0x1, 0x2)]
        if len(got) >= count:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"{len(got)} of {count} messages within {limit} s: {got!r}")
        chunk = s.recv(1 << 16)
        assert chunk, f"closed after {got!r}"
        buf += chunk


async def test_broadcast_reaches_every_client_sender_included_in_order():
    async with Server([ECHO, "--port", "0", "--broadcast"]) as srv:
        def run():
            # Each 101 is sent once the socket is open, so all three are
            # receivers before the first message.
            clients = [raw_open(srv.port) for _ in range(3)]
            try:
                sender = clients[0][0]
                binary = bytes(range(256)) * 2  # over 125 bytes: a 16-bit length
                sender.sendall(raw_frame(0x1, "héllo".encode()) + raw_frame(0x2, binary))
                return [raw_read_data(s, 2, 5, rest) for s, rest in clients], binary
            finally:
                for s, _ in clients:
                    s.close()
        got, binary = await asyncio.wait_for(asyncio.to_thread(run), 20)
        for i, frames in enumerate(got):
            assert frames == [(0x1, "héllo".encode()), (0x2, binary)], (i, frames)


async def test_options_are_in_help_and_bad_values_are_refused():
    async with Process([ECHO, "--help"]) as p:
        status, out, _ = await p.wait()
    for flag in (b"--ping-interval", b"--handshake-timeout", b"--high-water", b"--broadcast"):
        assert status == 0 and flag in out, (flag, status, out)
    for bad in (["--high-water", "0"], ["--high-water", "1x"], ["--ping-interval", "-1"],
                ["--ping-interval", "4294967295"], ["--handshake-timeout", "0"],
                ["--handshake-timeout"]):
        async with Process([ECHO, *bad]) as p:
            status, _, err = await p.wait()
            assert status == 2 and "cws-echo" in err, (bad, status, err)


if __name__ == "__main__":
    sys.exit(run_cases([v for k, v in list(globals().items()) if k.startswith("test_")]))
