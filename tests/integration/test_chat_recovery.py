#!/usr/bin/env python3
"""cws-chat recovery: a client reconnecting with /ws?since=N gets exactly
the messages it missed, in order, without duplicates, before any live
message, even while others keep posting; a replay of 50,000 messages goes
at the reader's pace, whatever --high-water is; a fresh client gets the
recent history; gaps, resets and bad parameters are answered explicitly."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from chatlib import ChatServer, check, connect, join, main, post, post_and_wait, recv  # noqa: E402
from wscompat import NEW_API  # noqa: E402


async def resume_gets_exactly_the_missed_messages_before_live_traffic():
    srv = ChatServer("--rate", "1000", "--burst", "1000").start()
    try:
        poster, _, _, _ = await join(srv)
        for i in range(5):
            await post_and_wait(poster, f"early {i}")
        b, hello, seen, _ = await join(srv)
        check([m["text"] for m in seen] == [f"early {i}" for i in range(5)], "fresh client misses history")
        last = seen[-1]["seq"]
        await b.close()
        for i in range(5):
            await post_and_wait(poster, f"missed {i}")

        # Keep posting while b reconnects: whatever it gets must be one
        # unbroken run of seqs starting right after `last`.
        stop = asyncio.Event()

        async def keep_posting():
            i = 0
            while not stop.is_set():
                await post(poster, f"live {i}")
                i += 1
                await asyncio.sleep(0.002)

        bg = asyncio.ensure_future(keep_posting())
        await asyncio.sleep(0.02)
        b, hello, replayed, notices = await join(srv, since=last)
        check(not notices, f"unexpected notices {notices}")
        check([m["text"] for m in replayed[:5]] == [f"missed {i}" for i in range(5)], "missed messages not first")
        live = []
        while len(live) < 20:
            m = await recv(b)
            if m["type"] == "message":
                live.append(m)
        stop.set()
        await bg
        seqs = [m["seq"] for m in replayed + live]
        check(seqs == list(range(last + 1, last + 1 + len(seqs))), f"gap or duplicate in {seqs}")
        check(all(m["text"].startswith("live") for m in replayed[5:] + live), "order broken")
        await b.close()
        await poster.close()
    finally:
        srv.cleanup()


async def fresh_client_gets_recent_history():
    srv = ChatServer("--rate", "1000", "--burst", "1000").start()
    try:
        a, _, _, _ = await join(srv)
        for i in range(250):
            await post(a, f"m{i}")
        await post_and_wait(a, "m250")
        b, hello, got, notices = await join(srv)
        check(hello["seq"] == 251, f"hello seq {hello}")
        check([m["seq"] for m in got] == list(range(52, 252)), "fresh client should get the last 200")
        check(not notices, "no notice for a fresh client")
        c, _, got, _ = await join(srv, since=0)
        check([m["seq"] for m in got] == list(range(1, 252)), "since=0 gets everything kept")
        d, _, got, _ = await join(srv, since=251)
        check(got == [], "since=last gets nothing")
        for ws in (a, b, c, d):
            await ws.close()
    finally:
        srv.cleanup()


async def gap_when_history_no_longer_kept():
    srv = ChatServer("--history-size", "10", "--rate", "1000", "--burst", "1000").start()
    try:
        a, _, _, _ = await join(srv)
        for i in range(30):
            await post_and_wait(a, f"m{i}")
        b, _, got, notices = await join(srv, since=5)
        check(len(notices) == 1 and notices[0]["code"] == "history_gap", f"notices {notices}")
        check(notices[0]["from"] == 6 and notices[0]["to"] == 20, f"gap range {notices[0]}")
        check([m["seq"] for m in got] == list(range(21, 31)), "should get what is kept")
        c, _, got, notices = await join(srv, since=1000)
        check(len(notices) == 1 and notices[0]["code"] == "history_reset", f"reset notice {notices}")
        check([m["seq"] for m in got] == list(range(21, 31)), "after a reset: the recent history")
        for ws in (a, b, c):
            await ws.close()
    finally:
        srv.cleanup()


async def replay_sends_everything_kept_at_the_readers_pace():
    # The replay used to be capped at half of --high-water (here 32 KiB),
    # the rest skipped with a history_gap notice although the server still
    # had it. It now follows the reader: 50,000 missed messages with a
    # 64 KiB --high-water all arrive, in order, while 300 more are posted
    # meanwhile, and those follow exactly once, in order.
    n = 50000
    srv = ChatServer("--high-water", "65536", "--history-size", str(n + 1000), "--fsync", "never",
                     "--rate", "1000000", "--burst", "1000000").start()
    try:
        a, _, _, _ = await join(srv)
        last = 0

        async def read_own(until):
            nonlocal last
            while last < until:
                m = await recv(a, 30)
                if m["type"] == "message":
                    last = m["seq"]

        for start in range(0, n, 200):  # in rounds, so that its own queue stays under 64 KiB
            for i in range(start, start + 200):
                await post(a, f"m{i}")
            await read_own(start + 200)
        check(last == n, f"the poster saw up to {last}")

        b = await connect(srv, since=0)
        hello = await recv(b)
        check(hello["type"] == "hello" and hello["seq"] == n, f"hello {hello}")

        async def post_live():
            for i in range(300):
                await post(a, f"live{i}")
                await asyncio.sleep(0.001)

        live = asyncio.ensure_future(post_live())
        seqs, texts, synced_at = [], [], None
        while len(seqs) < n + 300:
            m = await recv(b, 30)
            if m["type"] == "message":
                seqs.append(m["seq"])
                texts.append(m["text"])
                if len(seqs) % 5000 == 0:
                    await asyncio.sleep(0.05)  # a reader that takes its time
            elif m["type"] == "synced":
                synced_at = len(seqs)
                check(m["seq"] == seqs[-1], f"synced {m} after seq {seqs[-1]}")
            elif m["type"] == "notice":
                raise AssertionError(f"notice {m}: everything is still kept")
        await live
        check(seqs == list(range(1, n + 301)), "gap, duplicate or reorder in the replay")
        check(texts[:n] == [f"m{i}" for i in range(n)] and texts[n:] == [f"live{i}" for i in range(300)],
              "texts out of order")
        check(synced_at is not None and synced_at >= n, f"synced after {synced_at} messages")
        for ws in (a, b):
            await ws.close()
    finally:
        srv.cleanup()


async def bad_parameters_are_refused():
    srv = ChatServer().start()
    try:
        for since, name in (("abc", None), ("-1", None), ("99999999999999999999999", None),
                            (None, "%zz"), (None, "x" * 40), (None, "a%0Ab"), (None, "a%C2%85b"),
                            (None, "evil%E2%80%AEgnp"), (None, "al%E2%80%8Bice")):
            try:
                ws = await connect(srv, since, name)
                await ws.close()
                raise AssertionError(f"since={since} name={name} accepted")
            except AssertionError:
                raise
            except Exception as e:  # noqa: BLE001 -- the library's "bad status" exception
                status = getattr(getattr(e, "response", None), "status_code", None) if NEW_API \
                    else getattr(e, "status_code", None)
                check(status == 400, f"since={since} name={name}: {e!r}")
    finally:
        srv.cleanup()


main([resume_gets_exactly_the_missed_messages_before_live_traffic, fresh_client_gets_recent_history,
      gap_when_history_no_longer_kept, replay_sends_everything_kept_at_the_readers_pace,
      bad_parameters_are_refused])
