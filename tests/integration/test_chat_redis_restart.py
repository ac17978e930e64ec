#!/usr/bin/env python3
"""cws-chat on Redis: Redis killed (SIGKILL) and restarted mid-traffic,
with AOF and appendfsync always. While it is gone the nodes answer posts
with the `storage` error at once (never silence); they reconnect by
themselves and their tails resume where they stopped. Posters retry each
refused post with its id until it is acknowledged: afterwards every post
is stored exactly once, nothing acknowledged is lost, and every client
that stayed connected has every message, gapless."""
import asyncio
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from chatlib import Failure, check, main, recv  # noqa: E402
from redislib import Recorder, RedisServer, join_node, require_redis, shutdown, start_node, stream_entries  # noqa: E402

POSTS = 60


class Poster:
    """Posts POSTS messages one at a time, each with its own id, resending
    a refused one until the chat acknowledges it (its message comes back,
    from the tail or as a retry's answer)."""

    def __init__(self, node, name):
        self.node, self.name = node, name
        self.acked = {}       # id -> seq
        self.refused = 0

    async def run(self):
        ws, _, _, _ = await join_node(self.node)
        for j in range(POSTS):
            pid = f"{self.name}-{j}"
            deadline = time.monotonic() + 30
            while pid not in self.acked:
                if time.monotonic() > deadline:
                    raise Failure(f"{pid} never acknowledged")
                await ws.send(json.dumps({"type": "message", "text": pid, "id": pid}))
                while True:
                    m = await recv(ws, timeout=10)
                    if m["type"] == "message" and m.get("id") == pid:
                        self.acked[pid] = m["seq"]
                        break
                    if m["type"] == "error":
                        check(m["code"] == "storage", f"unexpected error {m}")
                        self.refused += 1
                        await asyncio.sleep(0.05)
                        break
            await asyncio.sleep(0.01)
        await ws.close()


async def redis_restarts_mid_traffic():
    redis = RedisServer().start()
    nodes, clients = [], []
    try:
        nodes = [start_node(redis) for _ in range(2)]
        clients = [Recorder(nodes[i % 2]) for i in range(20)]
        await asyncio.gather(*(c.start() for c in clients))
        posters = [Poster(nodes[i % 2], f"w{i}") for i in range(4)]
        tasks = [asyncio.ensure_future(p.run()) for p in posters]
        await asyncio.sleep(0.4)
        redis.kill()
        down = time.monotonic()
        await asyncio.sleep(1.0)
        redis.start()
        await asyncio.gather(*tasks)
        print(f"  Redis down for {time.monotonic() - down:.1f} s at most; "
              f"{sum(p.refused for p in posters)} posts refused with `storage` meanwhile, then retried")
        check(sum(p.refused for p in posters) > 0, "no post was refused while Redis was down")
        entries = stream_entries(redis)
        total = len(entries)
        ids = [i for _, _, i in entries]
        check(len(ids) == len(set(ids)), f"a post id was stored twice: {sorted(ids)}")
        check(total == 4 * POSTS, f"{total} messages stored, {4 * POSTS} posted")
        check([s for s, _, _ in entries] == list(range(1, total + 1)), "stored seqs are not 1..N")
        for p in posters:
            for pid, seq in p.acked.items():
                check(entries[seq - 1][2] == pid, f"acknowledged {pid} as seq {seq}, Redis holds {entries[seq - 1]}")
        await asyncio.gather(*(c.wait_for(total) for c in clients))
        for c in clients:
            c.check_gapless(total)
        # The nodes serve new clients again, by themselves.
        _, hello, replayed, _ = await join_node(nodes[1], since=0)
        check(hello["seq"] == total and len(replayed) == total, f"after the restart: {hello}, {len(replayed)}")
        for n in nodes:
            check("reconnecting" in n.stderr() and n.stderr().count("connected (epoch") >= 2,
                  f"node did not say it reconnected: {n.stderr()}")
    finally:
        await shutdown(clients, nodes, redis)


async def a_node_starts_before_redis():
    """A node whose Redis is not there yet answers 503 and keeps trying."""
    redis = RedisServer()
    node = None
    try:
        node = start_node(redis)
        from chatlib import http_get
        status, _, _ = http_get(node.port, "/ws", raw=(
            "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
        check(status == 503, f"before Redis: HTTP {status}")
        await asyncio.sleep(0.5)
        redis.start()
        ws, hello, _, _ = await join_node(node, timeout=15)
        check(hello["seq"] == 0, f"{hello}")
        await ws.close()
    finally:
        if node:
            node.cleanup()
        redis.cleanup()


require_redis()
main([redis_restarts_mid_traffic, a_node_starts_before_redis])
