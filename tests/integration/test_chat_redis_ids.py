#!/usr/bin/env python3
"""cws-chat on Redis, posts with an id (docs/chat-protocol.md, "Posts
with an id"): the same id posted again on the same connection, after a
reconnect, on another node, or on two nodes at the same moment is stored
once, and the sender gets the stored message back; the ids Redis keeps
are bounded by --history-size (an id whose message was trimmed is free
again); malformed ids get bad_id."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from chatlib import answer, check, main, post_and_wait, post_id  # noqa: E402
from redislib import RedisServer, join_node, require_redis, start_node, stream_entries  # noqa: E402


async def nothing_more(ws, marker_poster):
    """ws gets nothing before the marker posted next."""
    m = await post_and_wait(marker_poster, "marker")
    got = await answer(ws)
    check(got == m, f"got {got} before the marker")


async def stored_once_anywhere():
    redis = RedisServer().start()
    nodes = []
    try:
        nodes = [start_node(redis), start_node(redis)]
        a, _, _, _ = await join_node(nodes[0])
        watcher, _, _, _ = await join_node(nodes[1])
        await post_id(a, "hello", "id-1")
        first = await answer(a)
        check(first["type"] == "message" and first["id"] == "id-1", f"{first}")
        check(await answer(watcher) == first, "the other node's client got another message")
        # Same connection, other text: the stored message, to the sender alone.
        await post_id(a, "hello again", "id-1")
        check(await answer(a) == first, "a retry on the same connection was stored again")
        await nothing_more(watcher, a)
        # After a reconnect, on the same node and on the other one.
        await a.close()
        for node in nodes:
            b, _, _, _ = await join_node(node, since=first["seq"])
            await post_id(b, "hello", "id-1")
            check(await answer(b) == first, f"a retry on node {node.port} was stored again")
            await nothing_more(watcher, b)
            await b.close()
        # The same new id on both nodes at the same moment: one wins.
        c0, _, _, _ = await join_node(nodes[0])
        c1, _, _, _ = await join_node(nodes[1])
        await asyncio.gather(post_id(c0, "race 0", "race"), post_id(c1, "race 1", "race"))
        r0, r1 = await answer(c0), await answer(c1)
        check(r0 == r1 and r0["id"] == "race", f"the race stored two: {r0} {r1}")
        ids = [i for _, _, i in stream_entries(redis)]
        check(ids.count("id-1") == 1 and ids.count("race") == 1, f"stored ids {ids}")
        check(len(ids) == 5, f"expected hello, 3 markers and the race: {ids}")
        check(redis.command("HGET", "cws-chat:ids", "race") == str(r0["seq"]), "the ids hash")
        for ws in (watcher, c0, c1):
            await ws.close()
    finally:
        for n in nodes:
            n.cleanup()
        redis.cleanup()


async def ids_age_out_with_the_history():
    redis = RedisServer().start()
    node = None
    try:
        node = start_node(redis, "--history-size", "5")
        a, _, _, _ = await join_node(node)
        await post_id(a, "old", "aging")
        first = await answer(a)
        for i in range(40):
            await post_id(a, f"push {i}", f"push-{i}")
            await answer(a)
        check(redis.command("XLEN", "cws-chat:log") == 5, "the stream is not trimmed to --history-size")
        check(redis.command("HLEN", "cws-chat:ids") == 5, "the ids hash is not trimmed with the stream")
        await post_id(a, "old", "aging")
        anew = await answer(a)
        check(anew["type"] == "message" and anew["seq"] == first["seq"] + 41, f"a trimmed id was not free: {anew}")
        await post_id(a, "old", "aging")
        check(await answer(a) == anew, "the id stored anew is not recognised")
        # A resume from before the kept history: history_gap, then what is kept.
        b, _, replayed, notices = await join_node(node, since=1)
        check([n["code"] for n in notices] == ["history_gap"] and len(replayed) == 5, f"{notices} {len(replayed)}")
        await b.close()
        for bad in ("", "x" * 65, "a b", 5):
            await post_id(a, "text", bad)
            m = await answer(a)
            check(m["type"] == "error" and m["code"] == "bad_id", f"id {bad!r}: {m}")
        await a.close()
    finally:
        if node:
            node.cleanup()
        redis.cleanup()


require_redis()
main([stored_once_anywhere, ids_age_out_with_the_history])
