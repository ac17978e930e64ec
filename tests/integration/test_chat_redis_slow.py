#!/usr/bin/env python3
"""cws-chat on Redis: a client that stops reading on one node does not
hold back anyone: the other clients of its node and of the other node
get every message while it is stuck; it is dropped at --high-water
(close 1008, which a client that does not read sees as 1006, as
docs/chat-protocol.md says) and resumes with since= on the other node,
missing nothing."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from chatlib import ConnectionClosed, check, connect, main, post, recv  # noqa: E402
from redislib import Recorder, RedisServer, join_node, require_redis, shutdown, start_node  # noqa: E402

HIGH_WATER = 256 * 1024
TEXT = "z" * 4000


async def a_stalled_reader_is_dropped_and_resumes():
    redis = RedisServer().start()
    nodes, clients = [], []
    slow = None
    try:
        nodes = [start_node(redis, "--high-water", str(HIGH_WATER)), start_node(redis)]
        # max_queue=1: the client library stops reading the socket as soon
        # as one message waits unread.
        slow = await connect(nodes[0], max_queue=1)
        hello = await recv(slow)
        check(hello["type"] == "hello", f"{hello}")
        check((await recv(slow))["type"] == "synced", "no synced")
        clients = [Recorder(nodes[i % 2]) for i in range(10)]
        await asyncio.gather(*(c.start() for c in clients))
        poster = clients[1]  # on the other node
        total = 0
        # 2000 messages of 4 KB: 8 MB, 32 times the slow one's high water.
        for batch in range(40):
            for _ in range(50):
                total += 1
                await post(poster.ws, f"{total} {TEXT}")
            await asyncio.gather(*(c.wait_for(total) for c in clients))
        for c in clients:
            c.check_gapless(total)
        got = []
        try:
            while True:
                m = await recv(slow, timeout=10)
                if m["type"] == "message":
                    got.append(m["seq"])
        except ConnectionClosed:
            pass
        check(slow.close_code in (1006, 1008), f"the stalled client was closed with {slow.close_code}")
        check(len(got) < total // 2, f"the stalled client got {len(got)} of {total}: it was not held back")
        check(got == list(range(1, len(got) + 1)), "what it got before the drop has gaps")
        # It resumes on the other node and misses nothing.
        last = got[-1] if got else 0
        ws, _, replayed, notices = await join_node(nodes[1], since=last, epoch=hello["epoch"])
        seqs = [m["seq"] for m in replayed]
        while seqs[-1:] != [total]:
            m = await recv(ws)
            if m["type"] == "message":
                seqs.append(m["seq"])
        check(seqs == list(range(last + 1, total + 1)) and not notices, f"resume: {seqs[:3]}... {notices}")
        await ws.close()
        print(f"  the stalled client got {len(got)} of {total} before its drop ({slow.close_code}), the rest on resume")
    finally:
        await shutdown(clients, nodes, redis)


require_redis()
main([a_stalled_reader_is_dropped_and_resumes])
