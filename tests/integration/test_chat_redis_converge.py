#!/usr/bin/env python3
"""cws-chat on Redis (docs/deployment.md): three nodes share one room.
300 clients spread over them, 30 of them on every node posting at once:
every client ends with the same gapless sequence, the same texts in the
same order; a client resuming on another node with since= gets exactly
what it missed; keys under another --redis-prefix are another room.
Also: `--redis` on a cws-chat built without Redis is refused."""
import asyncio
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from chatlib import BINARY, check, main, post, recv_type  # noqa: E402
from redislib import Recorder, RedisServer, join_node, require_redis, shutdown, start_node, stream_entries  # noqa: E402

CLIENTS = 300
POSTERS = 30
POSTS_EACH = 10


async def three_nodes_one_order():
    redis = RedisServer().start()
    nodes = []
    clients = []
    try:
        nodes = [start_node(redis) for _ in range(3)]
        clients = [Recorder(nodes[i % 3]) for i in range(CLIENTS)]
        for i in range(0, CLIENTS, 50):
            await asyncio.gather(*(c.start() for c in clients[i:i + 50]))
        posters = clients[:POSTERS]  # ten on each node

        async def post_all(c, k):
            for j in range(POSTS_EACH):
                await post(c.ws, f"p{k}-{j}")

        start = time.monotonic()
        await asyncio.gather(*(post_all(c, k) for k, c in enumerate(posters)))
        total = POSTERS * POSTS_EACH
        await asyncio.gather(*(c.wait_for(total, timeout=60) for c in clients))
        took = time.monotonic() - start
        print(f"  {total} posts from 3 nodes reached {CLIENTS} clients in {took:.2f} s")
        for c in clients:
            c.check_gapless(total)
        order = [clients[0].texts[s] for s in range(1, total + 1)]
        for c in clients:
            check([c.texts[s] for s in range(1, total + 1)] == order, f"client of node {c.node.port} saw another order")
        # Each poster's own posts, in the order it sent them.
        for k in range(POSTERS):
            mine = [t for t in order if t.startswith(f"p{k}-")]
            check(mine == [f"p{k}-{j}" for j in range(POSTS_EACH)], f"poster {k}'s posts reordered: {mine}")
        stored = stream_entries(redis)
        check([s for s, _, _ in stored] == list(range(1, total + 1)), "the stream is not seqs 1..N")
        check([t for _, t, _ in stored] == order, "the stream's order is not the clients'")

        # A resume on another node gets exactly what it missed.
        ws, hello, replayed, notices = await join_node(nodes[2], since=total - 50, epoch=clients[0].epoch)
        check([m["seq"] for m in replayed] == list(range(total - 49, total + 1)) and not notices,
              f"replay on another node: {[m['seq'] for m in replayed][:5]}... notices {notices}")
        check(hello["seq"] == total, f"hello {hello}")
        await ws.close()
        # A since no node has reached: it waits for the tail a moment
        # (another node may be ahead), then it is a reset.
        start = time.monotonic()
        ws, hello, replayed, notices = await join_node(nodes[1], since=total + 1000, epoch=clients[0].epoch)
        waited = time.monotonic() - start
        check([n["code"] for n in notices] == ["history_reset"] and len(replayed) == 200 and 2.5 < waited < 6,
              f"since ahead of every node: {notices}, {len(replayed)} replayed after {waited:.1f} s")
        await ws.close()
    finally:
        await shutdown(clients, nodes, redis)


async def prefixes_are_separate_rooms():
    redis = RedisServer().start()
    nodes = []
    try:
        a = start_node(redis, prefix="room-a")
        b = start_node(redis, prefix="room-b")
        nodes = [a, b]
        wa, ha, _, _ = await join_node(a)
        wb, hb, _, _ = await join_node(b)
        check(ha["epoch"] != hb["epoch"], "two prefixes share an epoch")
        await post(wa, "only in a")
        m = await recv_type(wa, "message")
        check(m["seq"] == 1, f"{m}")
        await post(wb, "only in b")
        m = await recv_type(wb, "message")
        check(m["seq"] == 1 and m["text"] == "only in b", f"room b saw room a's seq: {m}")
        check([t for _, t, _ in stream_entries(redis, "room-a")] == ["only in a"], "room-a's stream")
        check(redis.command("EXISTS", "cws-chat:log") == 0, "the default prefix was used")
        await wa.close()
        await wb.close()
    finally:
        for n in nodes:
            n.cleanup()
        redis.cleanup()


async def redis_flag_without_redis_build():
    r = subprocess.run([BINARY, "--port", "0", "--redis", "127.0.0.1:1"], capture_output=True, timeout=10)
    if b"built without Redis" in r.stderr or r.returncode == 2:
        check(r.returncode != 0 and b"REDIS=1" in r.stderr, f"exit {r.returncode}: {r.stderr!r}")
    else:
        print("  (build/cws-chat was built with REDIS=1: nothing to refuse)")
    r = subprocess.run([BINARY, "--redis", "no-port"], capture_output=True, timeout=10)
    check(r.returncode == 2 and b"--redis" in r.stderr, f"a bad --redis: exit {r.returncode} {r.stderr!r}")


require_redis()
main([three_nodes_one_order, prefixes_are_separate_rooms, redis_flag_without_redis_build])
