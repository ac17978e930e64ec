#!/usr/bin/env python3
"""cws-chat against connections that never read (issue 17 point 1): with
the history full of the most expensive text it accepts (200 posts of
4,096 bytes that double when JSON-escaped), 100 raw connections that only
send the upgrade request hold less than 64 MiB in total, server RSS plus
the kernel's TCP memory, because the replay is queued a piece at a time
as the client reads; a normal client is served meanwhile. Text holding
C0 controls other than tab and newline, DEL or C1 controls (six bytes
each once escaped) is refused with `bad_text` and neither stored nor
broadcast."""
import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from chatlib import BINARY, ChatServer, check, connect, join, main, post, post_and_wait, recv, recv_type, until_online  # noqa: E402

IDLE = 100  # connections that never read
BOUND = 64 * 1024 * 1024  # bytes they may cost, all told
PAGE = os.sysconf("SC_PAGE_SIZE")


def expensive_text(i):
    """4,096 bytes of UTF-8 that escape to 8,192 in the chat's JSON (see
    put_escaped in examples/chat/json.c): '"' and '\\' become two bytes,
    U+2028 (three) becomes the six of \\u2028, tab and newline two. The
    first eight characters spell i in binary so that every post differs."""
    text = "".join('"\\'[(i >> b) & 1] for b in range(8)) + "\u2028" * 1362 + "\t\n"
    assert len(text.encode()) == 4096
    return text


def tcp_mem():
    """Bytes of the kernel's TCP memory, all sockets of the machine."""
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                fields = line.split()
                return int(fields[fields.index("mem") + 1]) * PAGE
    raise AssertionError("no TCP line in /proc/net/sockstat")


def footprint(srv):
    return srv.rss_kb() * 1024 + tcp_mem()


def skmem_by_side(port):
    """Bytes the kernel holds for the server's end and for the clients' end
    of the connections to port (ss -tm: receive queue, send queue and
    forward allocation), or None without ss. Only to say where it is."""
    sides = {}
    for side, filt in (("server", f"sport = :{port}"), ("clients", f"dport = :{port}")):
        try:
            out = subprocess.run(["ss", "-tmnH", "state", "established", filt], capture_output=True,
                                 text=True, timeout=5).stdout
        except (OSError, subprocess.TimeoutExpired):
            return None
        total = 0
        for part in out.split("skmem:(")[1:]:
            kv = {}
            for item in part.split(")", 1)[0].split(","):
                key = item.rstrip("0123456789")
                kv[key] = int(item[len(key):] or 0)
            total += kv.get("r", 0) + kv.get("w", 0) + kv.get("f", 0)
        sides[side] = total
    return sides


def idle_upgrade(port):
    """What an attacker sends: a valid upgrade for /ws (no since=, so the
    default replay of the last 200 messages), default socket buffers, and
    then nothing, never reading."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    return s


async def join_raw(srv):
    """Like chatlib.join, but keeps the size of each replayed message."""
    ws = await connect(srv)
    hello = await recv(ws)
    check(hello["type"] == "hello", f"first message is not hello: {hello}")
    messages = []
    while True:
        raw = await asyncio.wait_for(ws.recv(), 10)
        m = json.loads(raw)
        if m["type"] == "synced":
            return ws, hello, messages
        check(m["type"] == "message", f"unexpected {m} before synced")
        messages.append((m, len(raw.encode())))


async def settle(srv, base):
    """Samples the growth every 0.25 s for at least 2 s until it stops
    growing (less than 256 KiB in the last second), at most 8 s; returns
    the largest seen."""
    start = time.monotonic()
    samples = []
    while True:
        samples.append(footprint(srv) - base)
        elapsed = time.monotonic() - start
        if elapsed >= 8 or (elapsed >= 2 and len(samples) >= 5 and samples[-1] - samples[-5] < 256 * 1024):
            return max(samples)
        await asyncio.sleep(0.25)


async def control_characters_are_refused():
    srv = ChatServer("--rate", "1000", "--burst", "1000").start()
    try:
        ws, _, _, _ = await join(srv)
        bystander, _, _, _ = await join(srv)
        await until_online(ws, 2)
        accepted = ["tab\tand\nnewline", "\ttabbed", "last line\n"]
        refused = ["\x01", "esc \x1b[31mred", "nul \x00", "cr\r\n", "bs\x08", "del\x7f",
                   "nel \u0085", "csi \u009b31m", "pad\u0080", "apc\u009f", "\x01" * 4000]
        for text in accepted:
            m = await post_and_wait(ws, text)
            check(m["text"] == text, f"{text!r} relayed as {m['text']!r}")
        for text in refused:
            await post(ws, text)
            m = await recv_type(ws, "error", "message")
            check(m["type"] == "error" and m["code"] == "bad_text", f"{text!r}: {m}")
        # Not broadcast: the next message anyone sees is the one after.
        await post_and_wait(ws, "after the refused ones")
        seen = []
        while not seen or seen[-1] != "after the refused ones":
            seen.append((await recv_type(bystander, "message"))["text"])
        check(seen == accepted + ["after the refused ones"], f"the bystander saw {seen}")
        # Nor stored: a client replaying everything gets the accepted only.
        fresh, _, messages, _ = await join(srv, since=0)
        stored = [m["text"] for m in messages]
        check(stored == accepted + ["after the refused ones"], f"the history holds {stored}")
        for w in (ws, bystander, fresh):
            await w.close()
    finally:
        srv.cleanup()


async def idle_connections_cost_little():
    srv = ChatServer("--rate", "1000000", "--burst", "1000000", "--max-per-ip", "0").start()  # 101 from one address
    idle = []
    ws = None
    try:
        filler, _, _, _ = await join(srv)
        for i in range(200):
            await post_and_wait(filler, expensive_text(i))
        await filler.close()
        await asyncio.sleep(0.5)
        base_rss, base_tcp = srv.rss_kb() * 1024, tcp_mem()
        base = base_rss + base_tcp

        start = time.monotonic()
        idle = [idle_upgrade(srv.port) for _ in range(IDLE)]
        opened = time.monotonic() - start

        # A normal client meanwhile: hello, the whole replay and synced
        # within a few seconds, and its own post back within 2 s.
        start = time.monotonic()
        ws, hello, replayed = await asyncio.wait_for(join_raw(srv), 5)
        joined = time.monotonic() - start
        check(hello["online"] == IDLE + 1, f"online {hello['online']}: not all {IDLE} idle connections were upgraded")
        texts = [m["text"] for m, _ in replayed]
        check(texts == [expensive_text(i) for i in range(200)], f"replayed {len(texts)} messages, not the 200 posted")
        replay_bytes = sum(n for _, n in replayed)
        start = time.monotonic()
        await asyncio.wait_for(post_and_wait(ws, "served while 100 do not read"), 2)
        echoed = time.monotonic() - start

        growth = await settle(srv, base)
        rss, tcp = srv.rss_kb() * 1024 - base_rss, tcp_mem() - base_tcp
        sides = skmem_by_side(srv.port)
        mib, kib = 1 << 20, 1 << 10
        print(f"     {IDLE} idle connections, each owed a replay of {replay_bytes // kib} KiB (200 messages):"
              f" {growth / mib:.1f} MiB in total at the peak, {growth / IDLE / kib:.0f} KiB per connection")
        print(f"     at the end: server RSS {rss / mib:+.1f} MiB, kernel TCP {tcp / mib:+.1f} MiB"
              + (f" (server ends {sides['server'] / mib:.1f} MiB, idle clients' ends {sides['clients'] / mib:.1f} MiB)"
                 if sides else "")
              + f"; connected in {opened * 1000:.0f} ms, a normal client synced in {joined * 1000:.0f} ms"
              f" and had its post back in {echoed * 1000:.0f} ms")
        # ASan's shadow and quarantine, or valgrind, make RSS no measure of
        # the server's own: there only the kernel's share is bounded.
        with open(BINARY, "rb") as f:
            plain = not os.environ.get("CHAT_WRAPPER") and b"__asan_init" not in f.read()
        if not plain:
            growth = tcp
        check(growth < BOUND, f"{IDLE} idle connections cost {growth / mib:.1f} MiB,"
              f" {growth / IDLE / kib:.0f} KiB each (bound {BOUND // mib} MiB"
              + ("" if plain else ", kernel TCP memory only under a checker") + ")")

        # Still served after the measurement.
        await asyncio.wait_for(post_and_wait(ws, "and still served"), 2)
    finally:
        for s in idle:
            s.close()
        if ws is not None:
            await ws.close()
        srv.cleanup()


main([control_characters_are_refused, idle_connections_cost_little])
