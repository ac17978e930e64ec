"""The Python `websockets` side of the interop matrix (run with
/usr/bin/python3: Debian's python3-websockets).

  py_peer.py serve [--deflate]           peer server (see cws_peer.c for the
                                         path protocol); prints "listening on
                                         ws://HOST:PORT", then "CLOSE path
                                         code reason" per ended connection;
                                         --deflate: accepts permessage-deflate
  py_peer.py client ECHO_URL CTRL_URL [DEFLATE_URL]
                                         the client checklist; prints
                                         "CHECK name ok|fail detail" lines
                                         (with DEFLATE_URL, also "deflate")
"""

import asyncio
import os
import random
import sys

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration", "lib"))
import wscompat  # noqa: E402

STEP = 10
PING = b"interop-ping"
SIZES = [(0, "0"), (1, "1"), (125, "125"), (65536, "64K"), (4 << 20, "4M")]


def text_of(n):
    """A str whose UTF-8 form is n bytes, with 1- to 4-byte characters."""
    s = "a\u00e9\u20ac\U0001F600" * (n // 10)
    return s + "x" * (n - len(s.encode()))


def bytes_of(n):
    """n bytes of a fixed pseudo-random sequence (every byte value)."""
    return random.Random(n).randbytes(n)


def report(name, ok, detail=""):
    print(f"CHECK {name} {'ok' if ok else 'fail'} {detail}", flush=True)


async def check_deflate(deflate_base):
    """permessage-deflate offered and agreed; a compressible text and an
    incompressible binary of 64 KiB echo."""
    try:
        async with wscompat.connect(deflate_base + "/echo", compression="deflate") as ws:
            agreed = [e.name for e in ws.extensions]
            if agreed != ["permessage-deflate"]:
                report("deflate", False, f"agreed {agreed}")
                return
            for sent in (text_of(65536), bytes_of(65536)):
                await ws.send(sent)
                got = await asyncio.wait_for(ws.recv(), STEP)
                if type(got) is not type(sent) or got != sent:
                    report("deflate", False, f"{type(sent).__name__} echo: got {type(got).__name__} of {len(got)}")
                    return
            report("deflate", True, "agreed; 64 KiB text and binary echoed")
    except Exception as e:
        report("deflate", False, repr(e))


async def run_client(echo_base, base, deflate_base=None):
    async with wscompat.connect(echo_base + "/echo") as ws:
        for kind, make in (("text", text_of), ("binary", bytes_of)):
            for n, label in SIZES:
                sent = make(n)
                try:
                    await ws.send(sent)
                    got = await asyncio.wait_for(ws.recv(), STEP)
                    report(f"{kind}_{label}", type(got) is type(sent) and got == sent,
                           f"got {type(got).__name__} of {len(got)}")
                except Exception as e:  # any failure is this cell's
                    report(f"{kind}_{label}", False, repr(e))
        try:
            # The waiter resolves only for a pong carrying the same payload.
            waiter = await ws.ping(PING)
            await asyncio.wait_for(waiter, STEP)
            report("ping_out", True)
        except Exception as e:
            report("ping_out", False, repr(e))

    async with wscompat.connect(base + "/ping-me") as ws:
        try:
            got = await asyncio.wait_for(ws.recv(), STEP)
            report("ping_in", got == "pong:" + PING.decode(), f"server saw {got!r}")
        except Exception as e:
            report("ping_in", False, repr(e))

    ws = await wscompat.connect(base + "/close-1000")
    await asyncio.wait_for(ws.close(1000, "client bye"), STEP)
    report("close_1000", ws.close_code == 1000, f"client saw {ws.close_code} {ws.close_reason}")

    ws = await wscompat.connect(base + "/close-4001")
    try:
        await asyncio.wait_for(ws.wait_closed(), STEP)
    finally:
        report("close_4001", ws.close_code == 4001 and ws.close_reason == "server bye",
               f"client saw {ws.close_code} {ws.close_reason}")
    if deflate_base:
        await check_deflate(deflate_base)


async def handler(ws, path=None):
    path = wscompat.request_path(ws)
    try:
        if path == "/ping-me":
            waiter = await ws.ping(PING)
            await asyncio.wait_for(waiter, STEP)
            await ws.send("pong:" + PING.decode())
        elif path == "/close-4001":
            await ws.close(4001, "server bye")
        async for m in ws:
            await ws.send(m)
    except Exception:
        pass
    finally:
        await ws.wait_closed()
        print(f"CLOSE {path} {ws.close_code} {ws.close_reason}", flush=True)


async def serve(deflate):
    async with wscompat.serve(handler, compression="deflate" if deflate else None) as server:
        print(f"listening on ws://127.0.0.1:{wscompat.port(server)}", flush=True)
        await asyncio.Future()


def main():
    if len(sys.argv) in (4, 5) and sys.argv[1] == "client":
        asyncio.run(run_client(*sys.argv[2:]))
    elif sys.argv[1:] in (["serve"], ["serve", "--deflate"]):
        asyncio.run(serve(len(sys.argv) == 3))
    else:
        sys.exit("usage: py_peer.py client ECHO_URL CTRL_URL [DEFLATE_URL] | py_peer.py serve [--deflate]")


if __name__ == "__main__":
    main()
