#!/usr/bin/env python3
"""cws-chat presence stays cheap at scale (issue 14 point 4).

N clients (5,000; PRESENCE_CLIENTS=N for another number) connect at once;
then all but one drop and reconnect at once, as after a restart. Every
client counts the frames it gets over its wave. Joins and leaves come in
batches, at most one presence message per 250 ms (fewer in a large room),
so each client gets a handful whatever N is, and the whole wave costs
frames linear in N. Sent one by one, each client got a frame for every
join after its own: N/2 on average, N²/2 in all (502 each for 1,000
clients; for 5,000, 12.5 M frames, of which the server dropped most
clients as they fell behind).

Afterwards every client's latest `online` is N, and the one that stayed
was told of every change: N - 1 left and N - 1 joined.

The clients are raw asyncio sockets that do the handshake and then read
frame headers: 5,000 `websockets` clients would load the machine more
than the server does. The server's frames are unmasked and, as no client
offers permessage-deflate, uncompressed; a ping is answered."""
import asyncio
import json
import os
import re
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from chatlib import ChatServer, Failure, check, main  # noqa: E402

N = int(os.environ.get("PRESENCE_CLIENTS", "5000"))
INTERVAL = 0.25       # seconds: the shortest time between presence batches
MAX_MEAN_FRAMES = 50  # per client over a wave: the bound
SETTLE = 1.5          # seconds of quiet that end a wave (batches are at most 1 s apart at 2N online)
WAVE_LIMIT = 45       # seconds a wave may take before the test gives up

OP_CONT, OP_TEXT, OP_PING = 0x0, 0x1, 0x9
STATUS_LINE = re.compile(rb"HTTP/1\.1 101 ")


class Client(asyncio.Protocol):
    """One chat connection that counts the data frames it receives and
    keeps the latest `online` figure and the presence batches' totals."""

    def __init__(self, port, name):
        self.request = (f"GET /ws?name={name} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n").encode()
        self.transport = None
        self.buf = bytearray()
        self.message = bytearray()  # a fragmented message so far
        self.upgraded = False
        self.lost = False
        self.frames = 0
        self.online = None
        self.joined = self.left = 0
        self.error = None

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc):
        self.lost = True

    def data_received(self, data):
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not STATUS_LINE.match(self.buf):
                self.error = bytes(self.buf[:end]).decode(errors="replace")
                self.transport.abort()
                return
            self.upgraded = True
            del self.buf[:end + 4]
        self.read_frames()

    def read_frames(self):
        buf, at = self.buf, 0
        while len(buf) - at >= 2:
            fin, opcode, n = buf[at] & 0x80, buf[at] & 0x0F, buf[at + 1] & 0x7F
            head = 2
            if n == 126:
                head = 4
            elif n == 127:
                head = 10
            if len(buf) - at < head:
                break
            if head > 2:
                n = int.from_bytes(buf[at + 2:at + head], "big")
            if len(buf) - at < head + n:
                break
            payload = buf[at + head:at + head + n]
            at += head + n
            if opcode == OP_PING:  # a masked pong (key 0) with the same payload
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
            elif opcode in (OP_CONT, OP_TEXT):
                self.frames += 1
                self.message += payload
                if fin:
                    self.on_message(bytes(self.message))
                    self.message.clear()
        del buf[:at]

    def on_message(self, raw):
        if b'"online"' not in raw:
            return
        m = json.loads(raw)
        self.online = m["online"]
        if m["type"] == "presence":
            self.joined += len(m["joined"]) + m["more_joined"]
            self.left += len(m["left"]) + m["more_left"]


async def connect_all(port, names):
    loop = asyncio.get_running_loop()
    made = await asyncio.gather(*(loop.create_connection(lambda n=n: Client(port, n), "127.0.0.1", port)
                                  for n in names))
    return [protocol for _, protocol in made]


async def wave(port, names, everyone, stayed=()):
    """Connects the named clients at once and waits until every client in
    `everyone` (these and those that stayed) says N online and a SETTLE of
    quiet has passed. Returns (the new clients, seconds until all said N)."""
    start = time.monotonic()
    clients = await connect_all(port, names)
    watched = clients + list(stayed)
    settled_at = None
    last_frames = -1
    while True:
        await asyncio.sleep(0.1)
        now = time.monotonic()
        refused = [c.error for c in watched if c.error]
        if refused:
            raise Failure(f"{len(refused)} handshakes refused, e.g. {refused[0]!r}")
        dropped = sum(c.lost for c in watched)
        if dropped:  # e.g. over --high-water: the server sent faster than they read
            raise Failure(f"the server dropped {dropped} connections after {now - start:.1f} s and "
                          f"{sum(c.frames for c in clients)} frames")
        if now - start > WAVE_LIMIT:
            behind = sum(c.online != everyone for c in watched)
            raise Failure(f"after {WAVE_LIMIT} s, {behind} of {len(watched)} clients do not yet see "
                          f"{everyone} online; {sum(c.frames for c in clients)} frames so far")
        frames = sum(c.frames for c in watched)
        if all(c.online == everyone for c in watched):
            if settled_at is None or frames != last_frames:
                settled_at, last_frames = now, frames
            elif now - settled_at >= SETTLE:
                return clients, settled_at - start
        else:
            settled_at = None


def frames_per_client(what, clients, seconds):
    """Prints the figures; returns what is wrong with them, or None."""
    frames = [c.frames for c in clients]
    mean, most = sum(frames) / len(frames), max(frames)
    # hello and synced, then at most one presence batch per INTERVAL.
    promised = 2 + seconds / INTERVAL + 2
    print(f"     {what}: {len(clients)} clients in {seconds:.1f} s; frames per client: mean {mean:.1f}, "
          f"max {most}, total {sum(frames)}")
    if mean >= MAX_MEAN_FRAMES:
        return f"{what}: {mean:.1f} frames per client on average, over {MAX_MEAN_FRAMES}"
    if most > promised:
        return f"{what}: a client got {most} frames in {seconds:.1f} s, over one per {INTERVAL * 1000:.0f} ms"
    return None


async def mass_reconnect_costs_frames_linear_in_clients():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * N + 200  # the server holds the old and new sockets for a moment; it inherits this limit
    if soft < need:
        check(hard >= need, f"{N} clients need {need} file descriptors; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    srv = ChatServer("--max-per-ip", "0").start()  # every client comes from 127.0.0.1
    try:
        clients, seconds = await wave(srv.port, [f"u{i}" for i in range(N)], N)
        first = frames_per_client("first connect", clients, seconds)

        stays, leaving = clients[0], clients[1:]
        stays.joined = stays.left = 0
        for c in leaving:  # all at once, as when the network comes back after a restart
            c.transport.abort()
        clients, seconds = await wave(srv.port, [f"r{i}" for i in range(N - 1)], N, stayed=[stays])
        again = frames_per_client("reconnect wave", clients, seconds)
        check(not first and not again, first or again)
        check(stays.left == N - 1 and stays.joined == N - 1,
              f"the client that stayed was told of {stays.left} leaves and {stays.joined} joins, not {N - 1} each")
        for c in clients + [stays]:
            c.transport.abort()
    finally:
        srv.cleanup()


main([mass_reconnect_costs_frames_linear_in_clients])
