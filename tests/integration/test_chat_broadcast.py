#!/usr/bin/env python3
"""cws-chat relays: 200 concurrent clients, one of them posting, every
client receives every message exactly once, in order, with increasing
sequence numbers; joins and leaves in presence batches; names; the sender
sees its own."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from chatlib import ChatServer, check, join, main, post, presence_count, recv, recv_type, until_online  # noqa: E402

CLIENTS = 200
MESSAGES = 50


async def two_hundred_clients_receive_everything_in_order():
    srv = ChatServer("--rate", "1000", "--burst", "1000", "--max-per-ip", "0").start()  # 200 from one address
    try:
        joined = await asyncio.gather(*(join(srv) for _ in range(CLIENTS)))
        socks = [j[0] for j in joined]
        check(max(j[1]["online"] for j in joined) == CLIENTS, "online count never reached 200")
        sender = socks[0]

        async def collect(ws):
            got = []
            while len(got) < MESSAGES:
                m = await recv(ws)
                if m["type"] == "message":
                    got.append(m)
            return got

        readers = [asyncio.ensure_future(collect(ws)) for ws in socks]
        for i in range(MESSAGES):
            await post(sender, f"message {i}")
        results = await asyncio.gather(*readers)
        for got in results:
            check([m["text"] for m in got] == [f"message {i}" for i in range(MESSAGES)], "order or content differs")
            seqs = [m["seq"] for m in got]
            check(seqs == list(range(seqs[0], seqs[0] + MESSAGES)), f"seqs not consecutive: {seqs[:5]}...")
            check(all(m["name"] == "anonymous" for m in got), "unnamed sender not shown as anonymous")
        # Everybody got the same seqs.
        check(len({tuple(m["seq"] for m in got) for got in results}) == 1, "clients disagree on seqs")
        await asyncio.gather(*(ws.close() for ws in socks))
    finally:
        srv.cleanup()


async def names_and_presence_batches():
    srv = ChatServer().start()
    try:
        a, hello, _, _ = await join(srv, name="ann%C3%A9e")
        check(hello["name"] == "année", f"name from the query: {hello}")
        m = await recv_type(a, "presence")
        check(m["joined"] == ["année"] and m["online"] == 1 and m["left"] == [], f"own join in a batch: {m}")
        b, _, _, _ = await join(srv)
        m = await recv_type(a, "presence")
        check(m["joined"] == ["anonymous"] and m["online"] == 2, f"presence batch: {m}")
        await b.send('{"type":"name","name":"  bob  "}')
        m = await recv_type(a, "rename")
        check(m["from"] == "anonymous" and m["name"] == "bob", f"rename notice: {m}")
        await post(b, "from bob")
        m = await recv_type(a, "message")
        check(m["name"] == "bob" and m["text"] == "from bob", f"relayed: {m}")
        m = await recv_type(b, "message")
        check(m["text"] == "from bob", "the sender gets its own message too")
        await b.close()
        m = await recv_type(a, "presence")
        check(m["left"] == ["bob"] and m["joined"] == [] and m["online"] == 1, f"leave in a batch: {m}")

        # 30 at once: a batch or two, not 30 messages; 20 names at most in
        # one, the rest counted.
        crowd = await asyncio.gather(*(join(srv, name=f"c{i}") for i in range(30)))
        batches = []
        while sum(presence_count(m, "joined") for m in batches) < 30:
            batches.append(await recv_type(a, "presence"))
        check(len(batches) <= 3, f"30 joins came in {len(batches)} presence messages")
        check(all(len(m["joined"]) <= 20 for m in batches), f"a batch names more than 20: {batches}")
        check(batches[-1]["online"] == 31, f"online after the crowd: {batches[-1]}")
        await asyncio.gather(*(ws.close() for ws, _, _, _ in crowd))
        m = await until_online(a, 1)
        await a.close()
    finally:
        srv.cleanup()


main([two_hundred_clients_receive_everything_in_order, names_and_presence_batches])
