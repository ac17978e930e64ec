#!/usr/bin/env python3
"""cws-chat on Redis: kill -9 of one node mid-traffic loses nothing that
was stored. Three nodes; posters on two of them post without pause; the
third is killed with SIGKILL; its clients reconnect to the other nodes
with since= and epoch=, and every client ends with every message once,
in order, gapless, as in the stream in Redis."""
import asyncio
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from chatlib import check, main  # noqa: E402
from redislib import (Recorder, RedisServer, keep_posting, require_redis, shutdown, start_node,  # noqa: E402
                      stored_count, stream_entries)

PER_NODE = 30


async def kill_one_node_mid_traffic():
    redis = RedisServer().start()
    nodes, clients = [], []
    try:
        nodes = [start_node(redis) for _ in range(3)]
        clients = [Recorder(nodes[i % 3]) for i in range(3 * PER_NODE)]
        await asyncio.gather(*(c.start() for c in clients))
        posters = [c for c in clients if c.node is not nodes[2]][:6]
        stop = asyncio.Event()
        sent = [0]
        tasks = [asyncio.ensure_future(keep_posting(c.ws, f"k{k}", stop, sent, 0.005)) for k, c in enumerate(posters)]
        await asyncio.sleep(0.5)
        victims = [c for c in clients if c.node is nodes[2]]
        os.kill(nodes[2].pid, signal.SIGKILL)
        nodes[2].proc.wait()
        before = min(v.last for v in victims)
        await asyncio.sleep(0.2)  # traffic goes on without them
        # They notice the drop (1006) and resume on the others.
        for k, v in enumerate(victims):
            await asyncio.wait_for(v.task, 10)
        await asyncio.gather(*(v.resume(nodes[k % 2]) for k, v in enumerate(victims)))
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*tasks)
        # The posters' nodes lived: every post they sent is stored, once.
        total = await stored_count(redis, sent[0])
        check(total == sent[0] and total > before + 50, f"{total} stored of {sent[0]} posts")
        await asyncio.gather(*(c.wait_for(total) for c in clients))
        for c in clients:
            c.check_gapless(total)
        texts = [t for _, t, _ in stream_entries(redis)]
        for c in clients:
            check([c.texts[s] for s in range(c.base + 1, total + 1)] == texts[c.base:], "texts differ from Redis")
        print(f"  {total} messages; {len(victims)} clients resumed on other nodes after kill -9 at seq ~{before}")
    finally:
        await shutdown(clients, nodes, redis)


async def resumes_race_live_traffic():
    """Clients hop from node to node with since= while others post: the
    replay read from Redis and the live tail overlap; the hand-over must
    drop neither nor repeat anything."""
    redis = RedisServer().start()
    nodes, clients = [], []
    try:
        nodes = [start_node(redis) for _ in range(2)]
        clients = [Recorder(nodes[i % 2]) for i in range(24)]
        await asyncio.gather(*(c.start() for c in clients))
        posters, hoppers = clients[:4], clients[4:]
        stop = asyncio.Event()
        sent = [0]

        async def hop(c, k):
            for r in range(10):
                await c.close()
                await c.resume(nodes[(k + r + 1) % 2])
                await asyncio.sleep(0.02)

        tasks = [asyncio.ensure_future(keep_posting(c.ws, f"h{k}", stop, sent, 0.01)) for k, c in enumerate(posters)]
        await asyncio.gather(*(hop(c, k) for k, c in enumerate(hoppers)))
        stop.set()
        await asyncio.gather(*tasks)
        total = await stored_count(redis, sent[0])
        check(total == sent[0], f"{total} stored of {sent[0]}")
        await asyncio.gather(*(c.wait_for(total) for c in clients))
        for c in clients:
            c.check_gapless(total)
        print(f"  {len(hoppers)} clients hopped 10 times each during {total} posts")
    finally:
        await shutdown(clients, nodes, redis)


require_redis()
main([kill_one_node_mid_traffic, resumes_race_live_traffic])
