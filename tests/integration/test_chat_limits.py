#!/usr/bin/env python3
"""cws-chat under abuse, while other clients keep chatting: over-long text
and names get errors; an oversize message is closed with 1009; a flood
gets rate_limited errors, then 1008; a slowloris is dropped after the handshake timeout; a client
that stops reading is dropped at the high-water mark and the server's
memory stays bounded."""
import asyncio
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from chatlib import (ChatServer, ConnectionClosed, check, closed_with, join, main, post, post_and_wait,  # noqa: E402
                     presence_count, recv, recv_type, until_online)


async def still_chatting(srv, ws, label):
    m = await post_and_wait(ws, f"still fine after {label}")
    check(m["type"] == "message", f"bystander broken after {label}")


async def long_text_and_bad_names():
    srv = ChatServer("--rate", "1000", "--burst", "1000").start()
    try:
        ws, hello, _, _ = await join(srv)
        limit = hello["max_text"]
        m = await post_and_wait(ws, "é" * (limit // 2))  # exactly the limit, in bytes
        check(len(m["text"].encode()) == limit, "text at the limit refused")
        await post(ws, "x" * (limit + 1))
        m = await recv_type(ws, "error")
        check(m["code"] == "too_long", f"over-long text: {m}")
        # Controls (C0, DEL, C1), line separators and format characters
        # (Cf): names that would show as someone else's, or reorder the line.
        impostors = ("bell\x07", "new\nline", "del\x7f", "nel\u0085", "c1\u009b31m", "evil\u202egnp.exe",
                     "al\u200bice", "al\u200dice", "\ufeffalice", "al\u00adice", "\u2066alice\u2069", "ls\u2028x",
                     "p\u2029x", "\u061calice", "\u0600x", "\u0890x", "\u180ex", "\u2060x", "\u206fx",
                     "\ufff9x", "\U000110bdx", "\U00013430x", "\U0001bca0x", "\U0001d173x", "tag\U000e0041",
                     "\U000e0001x", "\U000e007fx")
        for name in ("n" * (hello["max_name"] + 1), 7) + impostors:
            await ws.send('{"type":"name","name":%s}' % json.dumps(name))
            m = await recv_type(ws, "error", "rename")
            check(m["type"] == "error" and m["code"] == "bad_name", f"name {name!r}: {m}")
        # Names are not identities: "anonymous", case variants, other
        # scripts and emoji (without joiners) are fine.
        for name in ("anonymous", "Alice", "alice", "ALICE", "année", "Ωμέγα", "\u0645\u0631\u062d\u0628\u0627",
                     "\U0001f600", "a\u00a0b"):
            await ws.send('{"type":"name","name":%s}' % json.dumps(name))
            m = await recv_type(ws, "error", "rename")
            check(m["type"] == "rename" and m["name"] == name, f"name {name!r}: {m}")
        await still_chatting(srv, ws, "bad names")
        await ws.close()
    finally:
        srv.cleanup()


async def oversize_message_is_closed_1009():
    srv = ChatServer("--max-message", "8192").start()
    try:
        bystander, _, _, _ = await join(srv)
        big, _, _, _ = await join(srv)
        await big.send('{"type":"message","text":"' + "x" * 9000 + '"}')
        code = await closed_with(big)
        check(code == 1009, f"oversize closed with {code}")
        await still_chatting(srv, bystander, "an oversize message")
        await bystander.close()
    finally:
        srv.cleanup()


async def flood_is_closed_1008():
    srv = ChatServer("--rate", "5", "--burst", "10").start()
    try:
        # Limits are per address: the bystander is another client (127.0.0.2).
        bystander, _, _, _ = await join(srv, local_addr=("127.0.0.2", 0))
        flooder, _, _, _ = await join(srv)
        start = time.monotonic()
        try:
            for i in range(200):
                await post(flooder, f"flood {i}")
        except Exception:  # noqa: BLE001 -- the server may close mid-flood
            pass
        refused = 0
        try:
            while True:
                m = await recv_type(flooder, "error")
                check(m["code"] == "rate_limited", f"flood refused with {m}")
                refused += 1
        except ConnectionClosed:
            pass
        code = await closed_with(flooder)
        allowed = 10 + 5 * (time.monotonic() - start) + 1  # burst + rate x time
        check(code == 1008, f"flood closed with {code}")
        check(refused >= 10, f"closed after {refused} rate_limited errors, not after --burst (10) of them")
        # The bystander saw at most what the bucket let through, then goes on.
        seen = 0
        while True:
            m = await recv_type(bystander, "message", "presence")
            if m["type"] == "presence" and presence_count(m, "left"):
                break
            seen += 1
        check(seen <= allowed, f"{seen} flood messages relayed, the bucket allows {allowed:.0f}")
        await still_chatting(srv, bystander, "a flood")
        await bystander.close()
    finally:
        srv.cleanup()


async def slowloris_is_dropped_after_the_handshake_timeout():
    srv = ChatServer("--handshake-timeout", "500").start()
    try:
        bystander, _, _, _ = await join(srv)
        loop = asyncio.get_running_loop()
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.setblocking(False)
        start = time.monotonic()
        request = b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        dropped = None
        for b in request:  # one byte every 50 ms: never finishes in time
            try:
                s.send(bytes([b]))
            except OSError:
                dropped = time.monotonic()
                break
            try:
                await asyncio.wait_for(loop.sock_recv(s, 1024), 0.05)
                dropped = time.monotonic()  # EOF (or an error answer): dropped
                break
            except asyncio.TimeoutError:
                pass
            except OSError:
                dropped = time.monotonic()
                break
            if b == ord("\n"):
                await still_chatting(srv, bystander, "slowloris bytes")
        s.close()
        check(dropped is not None, "slowloris client never dropped")
        elapsed = dropped - start
        check(0.4 <= elapsed <= 3.0, f"dropped after {elapsed:.2f} s with a 0.5 s timeout")
        await still_chatting(srv, bystander, "a slowloris")
        await bystander.close()
    finally:
        srv.cleanup()


def raw_ws_client(port):
    """A WebSocket client that completes the handshake, then never reads."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    return s


async def stalled_readers_are_dropped_and_memory_stays_bounded():
    hw = 256 * 1024
    srv = ChatServer("--high-water", str(hw), "--rate", "1000000", "--burst", "1000000").start()
    stalled = []
    try:
        poster, _, _, _ = await join(srv)
        stalled = [raw_ws_client(srv.port) for _ in range(20)]
        await until_online(poster, 21)
        rss_before = srv.rss_kb()
        text = "y" * 4000
        sent = 0
        leaves = 0
        # 3000 messages of 4 KB: 12 MB for each stalled reader if nothing
        # bounded it, 240 MB for the twenty.
        for batch in range(60):
            for i in range(50):
                await post(poster, f"{sent} {text}")
                sent += 1
            got = 0
            while got < 50:
                m = await recv(poster)
                got += m["type"] == "message"
                leaves += presence_count(m, "left") if m["type"] == "presence" else 0
        while leaves < 20:
            m = await recv_type(poster, "presence")
            leaves += presence_count(m, "left")
        rss_after = srv.rss_kb()
        growth_mb = (rss_after - rss_before) / 1024
        print(f"  RSS {rss_before} kB -> {rss_after} kB ({growth_mb:+.1f} MB) after 12 MB x 20 stalled readers")
        check(growth_mb < 40, f"RSS grew by {growth_mb:.1f} MB")
        _, hello, _, _ = await join(srv, since=10**9)
        check(hello["online"] == 2, f"stalled readers still counted: {hello['online']}")
        await still_chatting(srv, poster, "stalled readers")
        await poster.close()
    finally:
        for s in stalled:
            s.close()
        srv.cleanup()


main([long_text_and_bad_names, oversize_message_is_closed_1009, flood_is_closed_1008,
      slowloris_is_dropped_after_the_handshake_timeout, stalled_readers_are_dropped_and_memory_stays_bounded])
