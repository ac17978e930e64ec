#!/usr/bin/env python3
"""cws-chat post ids (docs/chat-protocol.md, "Posts with an id"): a post
carries a client-chosen id, and its broadcast and replay carry it back; a
post whose id the history still keeps is not stored again: its sender
alone gets the stored message, whether it retries on the same connection,
another one or after a restart; an id is free again once its message has
left the history; malformed ids get bad_id; posts without an id work as
before."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from chatlib import ChatServer, answer, check, join, main, post_and_wait, post_id, recv  # noqa: E402


async def nothing_more(ws, marker_poster):
    """ws gets nothing between now and the marker message posted next."""
    await post_and_wait(marker_poster, "marker")
    m = await answer(ws)
    check(m["type"] == "message" and m["text"] == "marker", f"got {m} before the marker")


async def the_same_id_is_stored_once():
    srv = ChatServer().start()
    try:
        a, _, _, _ = await join(srv)
        watcher, _, _, _ = await join(srv)
        await post_id(a, "hello", "id-1")
        first = await answer(a)
        check(first["type"] == "message" and first["id"] == "id-1" and first["text"] == "hello", f"got {first}")
        check(await answer(watcher) == first, "the broadcast differs from what the sender got")

        # A retry on the same connection: the stored message comes back, to
        # the sender alone, even with other text.
        await post_id(a, "hello again", "id-1")
        again = await answer(a)
        check(again == first, f"retry answered {again}, not the stored {first}")
        await nothing_more(watcher, a)

        # From another connection, after the first one is gone.
        await a.close()
        b, hello, replayed, _ = await join(srv, since=0)
        check([m.get("id") for m in replayed] == ["id-1", None], f"the replay lost the id: {replayed}")
        await post_id(b, "hello", "id-1")
        check(await answer(b) == first, "a retry from another connection was not recognised")
        await nothing_more(watcher, b)
        _, hello, _, _ = await join(srv)
        check(hello["seq"] == first["seq"] + 2, f"more than the two markers was stored: {hello}")
    finally:
        srv.cleanup()


async def a_restart_keeps_the_ids():
    srv = ChatServer().start()
    try:
        a, _, _, _ = await join(srv)
        await post_id(a, "before", "restart-id")
        first = await answer(a)
        await a.close()
        srv.restart()
        b, hello, _, _ = await join(srv)
        await post_id(b, "before", "restart-id")
        check(await answer(b) == first, "after a restart the id was forgotten")
        c, hello2, _, _ = await join(srv)
        check(hello2["seq"] == hello["seq"], "the retry was stored again")
    finally:
        srv.cleanup()


async def ids_age_out_with_the_history():
    srv = ChatServer("--history-size", "3").start()
    try:
        a, _, _, _ = await join(srv)
        await post_id(a, "old", "aging")
        first = await answer(a)
        for i in range(3):
            await post_and_wait(a, f"push {i}")
        await post_id(a, "old", "aging")
        anew = await answer(a)
        check(anew["type"] == "message" and anew["id"] == "aging" and anew["seq"] == first["seq"] + 4,
              f"an id whose message left the history was not stored anew: {anew}")
        # And it is known again from there.
        await post_id(a, "old", "aging")
        check(await answer(a) == anew, "the id stored anew is not recognised")
    finally:
        srv.cleanup()


async def many_ids_come_and_go():
    """Hundreds of ids through a history of 50: each kept one is found,
    each dropped one is free (the table's removals keep lookups right)."""
    srv = ChatServer("--history-size", "50", "--rate", "10000", "--burst", "10000").start()
    try:
        a, _, _, _ = await join(srv)
        seqs = {}
        for i in range(400):
            await post_id(a, f"m{i}", f"many-{i}")
            seqs[i] = (await answer(a))["seq"]
        for i in range(350, 400):
            await post_id(a, "retry", f"many-{i}")
            m = await answer(a)
            check(m["seq"] == seqs[i] and m["text"] == f"m{i}", f"kept id many-{i} not found: {m}")
        await post_id(a, "again", "many-0")
        m = await answer(a)
        check(m["seq"] == 401 and m["text"] == "again", f"a dropped id was not free: {m}")
    finally:
        srv.cleanup()


async def bad_ids_are_refused():
    srv = ChatServer("--rate", "1000", "--burst", "1000").start()
    try:
        a, _, _, _ = await join(srv)
        for bad in ("", "x" * 65, "a b", "caf\u00e9", "tab\there", "\u0001", "\x7f", 5, None, ["x"], {"a": 1}):
            await post_id(a, "text", bad)
            m = await answer(a)
            check(m["type"] == "error" and m["code"] == "bad_id", f"id {bad!r}: {m}")
        longest = "".join(chr(c) for c in range(0x21, 0x61))  # 64 bytes, every kind of printable
        await post_id(a, "text", longest)
        m = await answer(a)
        check(m["type"] == "message" and m["id"] == longest, f"a valid 64-byte id refused: {m}")
        # Without an id a post is what it always was.
        m = await post_and_wait(a, "plain")
        check("id" not in m, f"an id appeared: {m}")
        await post_and_wait(a, "plain")
        _, hello, _, _ = await join(srv)
        check(hello["seq"] == 3, f"posts without id should each be stored: {hello}")
    finally:
        srv.cleanup()


async def a_retry_still_counts_for_the_rate():
    srv = ChatServer("--rate", "1", "--burst", "2").start()
    try:
        a, _, _, _ = await join(srv)
        await post_id(a, "x", "r")
        await answer(a)
        await post_id(a, "x", "r")
        await answer(a)
        await post_id(a, "x", "r")
        m = await answer(a)
        check(m["type"] == "error" and m["code"] == "rate_limited", f"retries escaped the rate: {m}")
    finally:
        srv.cleanup()


main([the_same_id_is_stored_once, a_restart_keeps_the_ids, ids_age_out_with_the_history, many_ids_come_and_go,
      bad_ids_are_refused,
      a_retry_still_counts_for_the_rate])
