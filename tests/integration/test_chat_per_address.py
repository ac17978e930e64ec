#!/usr/bin/env python3
"""cws-chat's limits hold per client address, not per connection: a
reconnect does not refill the rate bucket; a post over the rate gets
error rate_limited and the connection stays open, one that keeps going is
closed with 1008; --max-per-ip refuses more connections from one address
with HTTP 429 while other addresses (127.0.0.2) get in; X-Forwarded-For
counts only from a --trust-proxy, right-most entry first, and a malformed
one from it gets 400."""
import asyncio
import os
import socket
import sys
import time

from websockets.exceptions import InvalidHandshake

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from chatlib import (STEP, ChatServer, ConnectionClosed, check, closed_with, join, main, post,  # noqa: E402
                     post_and_wait, recv_type)

OTHER = "127.0.0.2"  # a second client address: all of 127/8 is loopback on Linux


def upgrade(port, source="127.0.0.1", forwarded=None):
    """A raw WebSocket handshake from source; returns (status, socket).
    The socket is left open (and unread) after a 101, closed otherwise."""
    s = socket.socket()
    s.settimeout(STEP)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    extra = "".join(f"X-Forwarded-For: {v}\r\n" for v in ([forwarded] if isinstance(forwarded, str) else forwarded or []))
    s.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n").encode())
    head = b""
    while b"\r\n" not in head:
        chunk = s.recv(4096)
        check(chunk, f"connection closed without an answer after {head!r}")
        head += chunk
    status = int(head.split(b" ", 2)[1])
    if status != 101:
        s.close()
    return status, s


def upgrade_status(port, source="127.0.0.1", forwarded=None, keep=None):
    status, s = upgrade(port, source, forwarded)
    if status == 101 and keep is not None:
        keep.append(s)
    return status


async def join_from(srv, source, forwarded=None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else None
    return await join(srv, local_addr=(source, 0), headers=headers)


async def join_once_admitted(srv, source, forwarded):
    """join_from, retried while the server has yet to read the FIN of
    connections just closed (they count until then)."""
    deadline = time.monotonic() + STEP
    while True:
        try:
            return await join_from(srv, source, forwarded)
        except InvalidHandshake:  # 429
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def answer(ws, text):
    """Posts text; returns the error it got or our own message relayed."""
    await post(ws, text)
    while True:
        m = await recv_type(ws, "message", "error")
        if m["type"] == "error" or m["text"] == text:
            return m


async def stored(srv):
    """How many messages the server has stored: the seq a newcomer is told."""
    ws, hello, _, _ = await join_from(srv, OTHER)
    await ws.close()
    return hello["seq"]


async def reconnecting_does_not_refill_the_bucket():
    srv = ChatServer("--rate", "1", "--burst", "10").start()
    try:
        start = time.monotonic()
        ws, _, _, _ = await join(srv)
        for i in range(10):
            await post_and_wait(ws, f"burst {i}")
        await ws.close()
        ws, _, _, _ = await join(srv)  # the same address, a fresh connection
        refused = 0
        for i in range(5):
            m = await answer(ws, f"after reconnecting {i}")
            refused += m["type"] == "error"
            if m["type"] == "error":
                check(m["code"] == "rate_limited", f"refused with {m}")
        await ws.close()
        allowed = 10 + 1 * (time.monotonic() - start)  # burst + rate x time
        count = await stored(srv)
        print(f"  {count} stored of 15 posted, {refused} of 5 refused after the reconnect; the bucket allows {allowed:.1f}")
        check(count <= allowed, f"{count} messages stored: the reconnect refilled the bucket (allowed {allowed:.1f})")
        check(refused >= 3, f"only {refused} of 5 posts refused after reconnecting")
    finally:
        srv.cleanup()


async def over_the_rate_is_an_error_and_the_connection_stays():
    srv = ChatServer("--rate", "5", "--burst", "3").start()
    try:
        ws, _, _, _ = await join(srv)
        for i in range(3):
            await post_and_wait(ws, f"within {i}")
        m = await answer(ws, "one too many")
        check(m["type"] == "error" and m["code"] == "rate_limited", f"over the rate: {m}")
        check(isinstance(m.get("text"), str) and m["text"], f"no explanation: {m}")
        # A name change is broadcast too, so it costs a token as well.
        await ws.send('{"type":"name","name":"fast"}')
        m = await recv_type(ws, "rename", "error")
        check(m["type"] == "error" and m["code"] == "rate_limited", f"rename over the rate: {m}")
        await asyncio.sleep(0.5)  # 2.5 tokens back
        m = await post_and_wait(ws, "after waiting")
        check(m["text"] == "after waiting", "the connection did not recover")
        count = await stored(srv)
        check(count == 4, f"{count} messages stored, expected the 4 accepted ones")
        await ws.close()
    finally:
        srv.cleanup()


async def a_client_that_keeps_going_is_closed_1008():
    srv = ChatServer("--rate", "1", "--burst", "3").start()
    try:
        bystander, _, _, _ = await join_from(srv, OTHER)
        flooder, _, _, _ = await join(srv)
        try:
            for i in range(50):
                await post(flooder, f"flood {i}")
        except Exception:  # noqa: BLE001 -- the server may close mid-flood
            pass
        errors = 0
        try:
            while True:
                m = await recv_type(flooder, "error")
                check(m["code"] == "rate_limited", f"refused with {m}")
                errors += 1
        except ConnectionClosed:
            pass
        code = await closed_with(flooder)
        check(code == 1008, f"flooder closed with {code}")
        check(flooder.close_reason == "rate limit exceeded", f"close reason {flooder.close_reason!r}")
        # burst accepted, then burst refused with an error, then closed
        check(errors == 3, f"{errors} rate_limited errors before the close, expected --burst (3)")
        m = await post_and_wait(bystander, "another address is not limited")
        check(m["type"] == "message", "the bystander was limited")
        await bystander.close()
    finally:
        srv.cleanup()


async def admit_after_a_close(port, keep, label):
    """The server learns of a close when it reads the FIN: retry briefly."""
    deadline = time.monotonic() + STEP
    while True:
        status = upgrade_status(port, keep=keep)
        if status == 101 or time.monotonic() > deadline:
            check(status == 101, f"{label}: still {status}")
            return
        await asyncio.sleep(0.05)


async def max_per_ip_refuses_with_429():
    srv = ChatServer("--max-per-ip", "3").start()
    held = []
    try:
        for i in range(3):
            check(upgrade_status(srv.port, keep=held) == 101, f"connection {i + 1} of 3 refused")
        check(upgrade_status(srv.port, keep=held) == 429, "a 4th connection from one address was admitted")
        check(upgrade_status(srv.port, OTHER, keep=held) == 101, "another address was refused")
        held.pop(0).close()
        await admit_after_a_close(srv.port, held, "after one of the 3 closed")
        check(upgrade_status(srv.port, keep=held) == 429, "a 4th connection admitted after the swap")
        # The count is of connections open, whatever they did.
        ws, _, _, _ = await join_from(srv, OTHER)
        await post_and_wait(ws, "the limit is per address")
        await ws.close()
    finally:
        for s in held:
            s.close()
        srv.cleanup()


async def sixty_four_per_address_by_default():
    srv = ChatServer().start()
    held = []
    try:
        for i in range(64):
            check(upgrade_status(srv.port, keep=held) == 101, f"connection {i + 1} of 64 refused")
        check(upgrade_status(srv.port, keep=held) == 429, "a 65th connection from one address was admitted")
        check(upgrade_status(srv.port, OTHER, keep=held) == 101, "another address was refused")
    finally:
        for s in held:
            s.close()
        srv.cleanup()


async def forwarded_for_from_an_untrusted_peer_is_ignored():
    srv = ChatServer("--max-per-ip", "2", "--rate", "1", "--burst", "2").start()
    held = []
    try:
        check(upgrade_status(srv.port, forwarded="10.0.0.1", keep=held) == 101, "first refused")
        check(upgrade_status(srv.port, forwarded="10.0.0.2", keep=held) == 101, "second refused")
        check(upgrade_status(srv.port, forwarded="10.0.0.3", keep=held) == 429,
              "a spoofed X-Forwarded-For escaped --max-per-ip")
        check(upgrade_status(srv.port, OTHER, forwarded="not an address", keep=held) == 101,
              "a malformed X-Forwarded-For from an untrusted peer was not ignored")
        for s in held[:2]:
            s.close()
        held = held[2:]
        # The bucket too: both connections draw on 127.0.0.1's.
        a, _, _, _ = await join_once_admitted(srv, "127.0.0.1", "10.0.0.1")
        b, _, _, _ = await join_once_admitted(srv, "127.0.0.1", "10.0.0.2")
        await post_and_wait(a, "a 1")
        await post_and_wait(a, "a 2")
        m = await answer(b, "b 1")
        check(m["type"] == "error" and m["code"] == "rate_limited", f"a spoofed address got its own bucket: {m}")
        await a.close()
        await b.close()
    finally:
        for s in held:
            s.close()
        srv.cleanup()


async def forwarded_for_from_a_trusted_proxy_counts():
    srv = ChatServer("--trust-proxy", "127.0.0.1", "--trust-proxy", "::ffff:10.9.9.9", "--max-per-ip", "1",
                     "--rate", "1", "--burst", "2").start()
    held = []
    try:
        def status(forwarded, source="127.0.0.1"):
            return upgrade_status(srv.port, source, forwarded, keep=held)

        check(status("10.0.0.1") == 101, "10.0.0.1 refused")
        check(status("10.0.0.2") == 101, "10.0.0.2 refused: clients behind the proxy share a count")
        check(status("10.0.0.1") == 429, "a 2nd connection of 10.0.0.1 admitted")
        check(status("::ffff:10.0.0.1") == 429, "an IPv4-mapped address counted apart from its IPv4 one")
        # Right-most: the proxy appended 5.6.7.8; 1.2.3.4 is what the
        # client claimed.
        check(status("5.6.7.8") == 101, "5.6.7.8 refused")
        check(status("1.2.3.4, 5.6.7.8") == 429, "'1.2.3.4, 5.6.7.8' did not count as 5.6.7.8")
        check(status(["1.2.3.4", "5.6.7.8"]) == 429, "two fields are not one list")
        check(status("1.2.3.4") == 101, "1.2.3.4 refused")
        # Trusted proxies are skipped from the right.
        check(status("10.0.0.3, 10.9.9.9, 127.0.0.1") == 101, "10.0.0.3 via two proxies refused")
        check(status("10.0.0.3") == 429, "the chain did not count as 10.0.0.3")
        # IPv6: one /64 is one client.
        check(status("2001:db8::1") == 101, "2001:db8::1 refused")
        check(status("2001:db8::ffff:2") == 429, "another address of the same /64 admitted")
        check(status("2001:db8:0:1::1") == 101, "the next /64 refused")
        # Left of the chosen entry nothing is looked at.
        check(status("junk, 10.0.0.4") == 101, "client-written junk left of the entry refused")
        # A trusted proxy's own request without the header is the proxy's.
        check(status(None) == 101, "the proxy itself refused")
        check(status(None) == 429, "the proxy itself counted twice")
        # Malformed from a trusted proxy: 400.
        for bad in ("not an address", "10.0.0.5, bogus", "1.2.3.4:80", "[2001:db8::7]", "10.0.0.256",
                    "fe80::1%eth0", "10.0.0.6 10.0.0.7"):
            check(status(bad) == 400, f"malformed X-Forwarded-For {bad!r} from a trusted proxy admitted")
        # Buckets apart: 10.0.0.8 spends its burst, 10.0.0.9 still posts.
        for s in held:
            s.close()
        held.clear()
        a, _, _, _ = await join_once_admitted(srv, "127.0.0.1", "10.0.0.8")
        b, _, _, _ = await join_once_admitted(srv, "127.0.0.1", "10.0.0.9")
        await post_and_wait(a, "a 1")
        await post_and_wait(a, "a 2")
        m = await answer(a, "a 3")
        check(m["type"] == "error" and m["code"] == "rate_limited", f"10.0.0.8 over its burst: {m}")
        await post_and_wait(b, "b has its own bucket")
        await a.close()
        await b.close()
    finally:
        for s in held:
            s.close()
        srv.cleanup()


main([reconnecting_does_not_refill_the_bucket, over_the_rate_is_an_error_and_the_connection_stays,
      a_client_that_keeps_going_is_closed_1008, max_per_ip_refuses_with_429, sixty_four_per_address_by_default,
      forwarded_for_from_an_untrusted_peer_is_ignored, forwarded_for_from_a_trusted_proxy_counts])
