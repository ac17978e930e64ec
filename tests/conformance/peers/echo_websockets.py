"""Echo server on Python `websockets` (Debian python3-websockets), to check
the conformance suite against an independent implementation. Same limit as
cws-echo (16 MiB), no compression unless --deflate (then websockets'
default permessage-deflate), no keepalive pings. Prints
"listening on ws://HOST:PORT". Run with /usr/bin/python3."""
import asyncio
import sys

import websockets


async def echo(ws, path=None):
    try:
        async for message in ws:
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass


async def main():
    server = await websockets.serve(echo, "127.0.0.1", 0, max_size=16 << 20, max_queue=None,
                                    compression="deflate" if "--deflate" in sys.argv else None, ping_interval=None)
    port = server.sockets[0].getsockname()[1]
    print("listening on ws://127.0.0.1:%d" % port, flush=True)
    await asyncio.Future()


asyncio.run(main())
