#!/usr/bin/env python3
"""examples/clock (a worker thread posting the time to the loop with
cws_loop_post): two clients each get the time every second, in ISO 8601,
and SIGTERM closes them with 1001 and ends the program with status 0."""
import asyncio
import os
import re
import signal
import subprocess
import sys

import websockets

BUILD = os.environ.get("BUILD", "build")
EXE = os.path.join(BUILD, "cws-clock")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


async def checks(url, proc):
    a = await websockets.connect(url)
    b = await websockets.connect(url)
    for ws in (a, b):
        got = [await asyncio.wait_for(ws.recv(), 5) for _ in range(2)]
        assert all(STAMP.match(t) for t in got), f"not a time: {got}"
        assert got[0] < got[1], f"the clock did not advance: {got}"
    proc.send_signal(signal.SIGTERM)
    for ws in (a, b):
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed:
            pass
        assert ws.close_code == 1001, f"close code {ws.close_code}"


def main():
    proc = subprocess.Popen([EXE, "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        m = re.match(r"listening on (ws://\S+)", line)
        assert m, f"unexpected first line: {line!r}"
        asyncio.run(checks(m.group(1) + "/", proc))
        rc = proc.wait(timeout=10)
        assert rc == 0, f"exit status {rc}"
    finally:
        if proc.poll() is None:
            proc.kill()
    print("clock example: ok")


if __name__ == "__main__":
    sys.exit(main())
