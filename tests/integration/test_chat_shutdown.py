#!/usr/bin/env python3
"""cws-chat's graceful shutdown: SIGTERM (and SIGINT) send close 1001 to
every client and the process exits 0, promptly even when a client never
answers; the history written so far is there after the restart."""
import asyncio
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from chatlib import ChatServer, check, closed_with, join, main, post_and_wait  # noqa: E402


async def sigterm_sends_1001_and_exits_0():
    for sig in (signal.SIGTERM, signal.SIGINT):
        srv = ChatServer().start()
        try:
            clients = [(await join(srv))[0] for _ in range(10)]
            await post_and_wait(clients[0], "before the shutdown")
            srv.proc.send_signal(sig)
            codes = await asyncio.gather(*(closed_with(ws) for ws in clients))
            check(all(c == 1001 for c in codes), f"{sig.name}: close codes {codes}")
            rc = srv.proc.wait(10)
            check(rc == 0, f"{sig.name}: exit status {rc}")
            srv.start()
            ws, _, got, _ = await join(srv, since=0)
            check([m["text"] for m in got] == ["before the shutdown"], f"history after {sig.name}: {got}")
            await ws.close()
        finally:
            srv.cleanup()


async def shutdown_does_not_wait_forever_for_a_silent_client():
    srv = ChatServer().start()
    try:
        ws, _, _, _ = await join(srv)
        silent = socket.create_connection(("127.0.0.1", srv.port))
        silent.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        await asyncio.sleep(0.1)
        start = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        check(await closed_with(ws) == 1001, "the polite client got 1001")
        rc = srv.proc.wait(10)
        elapsed = time.monotonic() - start
        check(rc == 0 and elapsed < 6, f"exit {rc} after {elapsed:.1f} s")
        silent.close()
    finally:
        srv.cleanup()


main([sigterm_sends_1001_and_exits_0, shutdown_does_not_wait_forever_for_a_silent_client])
