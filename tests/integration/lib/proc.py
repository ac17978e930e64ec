"""Starting the programs under test and running async test cases with
bounded time, for the echo/client/interop tests.

Every process started here is killed when its `async with` block ends, on
success or failure, so a failing test never leaves a server behind."""

import asyncio
import os
import re
import sys
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("BUILD", "build")
NODE_MODULES = os.path.join(REPO, "tests", "node_modules")
PEERS = os.path.join(REPO, "tests", "integration", "peers")

# Most steps answer in milliseconds on loopback; this bounds each wait so
# a hang becomes a failure with a message rather than a stuck test run.
STEP_TIMEOUT = 10.0


def binary(name):
    """Path of $BUILD/cws-<name>; exits the test program if it is missing."""
    path = os.path.join(REPO, BUILD, "cws-" + name)  # an absolute BUILD wins
    if not os.access(path, os.X_OK):
        sys.exit(f"missing {path}: build it first (make BUILD={BUILD} examples)")
    return path


class Process:
    """An asyncio subprocess that is always reaped: `async with
    Process(argv) as p` terminates it (then kills it) when the block ends."""

    def __init__(self, argv, stdin=None, env=None):
        self.argv = argv
        self.stdin = stdin
        self.env = env
        self.proc = None

    async def __aenter__(self):
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE if self.stdin is None else self.stdin,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
        )
        return self

    async def __aexit__(self, *exc):
        await self.stop()

    async def stop(self):
        p = self.proc
        if p is None or p.returncode is not None:
            return
        try:
            p.terminate()
            await asyncio.wait_for(p.wait(), 3)
        except (ProcessLookupError, asyncio.TimeoutError):
            try:
                p.kill()
            except ProcessLookupError:
                pass
            await p.wait()

    async def readline(self, timeout=STEP_TIMEOUT):
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        return line.decode("utf-8", "replace").rstrip("\n")

    async def wait(self, timeout=STEP_TIMEOUT):
        """Waits for the exit, leaving stdin as it is (close it first to
        send EOF); returns (status, rest of stdout, stderr as text)."""
        p = self.proc
        out, err, _ = await asyncio.wait_for(
            asyncio.gather(p.stdout.read(), p.stderr.read(), p.wait()), timeout)
        return p.returncode, out, err.decode("utf-8", "replace")


class Server(Process):
    """A server that prints "listening on ws://HOST:PORT" (wss:// when it
    serves TLS) as its first stdout line; .url and .port are known once
    the block is entered."""

    async def __aenter__(self):
        await super().__aenter__()
        try:
            first = await self.readline()
        except asyncio.TimeoutError:
            await self.stop()
            raise AssertionError(f"{self.argv[0]} printed no 'listening on' line")
        m = re.match(r"listening on (wss?://\S+:(\d+))$", first)
        if not m:
            err = (await self.proc.stderr.read(2000)).decode(errors="replace") if self.proc.returncode is not None else ""
            await self.stop()
            raise AssertionError(f"unexpected first line {first!r} {err}")
        self.url, self.port = m.group(1), int(m.group(2))
        return self


def run_cases(cases, timeout=60):
    """Runs each `async def test_*()` in its own event loop, bounded by
    timeout seconds; prints one line per case; returns the exit status."""
    failed = 0
    for case in cases:
        start = time.monotonic()
        try:
            asyncio.run(asyncio.wait_for(case(), timeout))
            print(f"ok   {case.__name__} ({time.monotonic() - start:.2f} s)", flush=True)
        except Exception:  # report every kind of failure, then go on
            failed += 1
            print(f"FAIL {case.__name__}", flush=True)
            traceback.print_exc()
    print(f"{len(cases) - failed} passed, {failed} failed", flush=True)
    return 1 if failed else 0
