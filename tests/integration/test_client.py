#!/usr/bin/python3
"""cws-client against real servers: Python `websockets`, Node `ws` (both
report what they saw) and our own cws-echo. Lines in come back as the
same lines out; flags reach the server; closes are clean and exit codes
tell the truth."""

import asyncio
import os
import re
import signal
import socket
import sys
import tempfile

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from proc import Process, binary, run_cases, STEP_TIMEOUT  # noqa: E402
from echo_peers import ALL, NodePeer, PythonPeer, each_peer, run_client  # noqa: E402

CLIENT = binary("client")
REPORTING = [PythonPeer, NodePeer]


async def test_lines_in_same_lines_out():
    text = "hello\nwörld 😀\n\nCRLF line\r\n".encode()
    want = "hello\nwörld 😀\n\nCRLF line\n".encode()

    async def check(peer):
        status, out, err = await run_client([peer.url + "/some/path?q=1"], text, expect=want)
        assert status == 0, f"exit {status}: {err}"
        assert out == want, out
        if peer.reports:
            opened = await peer.wait_event("open")
            assert opened["path"] == "/some/path?q=1", opened
            closed = await peer.wait_event("close")
            assert closed["code"] == 1000, closed  # a clean close on EOF
            msgs = [e for e in peer.events if e["event"] == "message"]
            assert [(m["binary"], m["len"]) for m in msgs] == [
                (False, 5), (False, 11), (False, 0), (False, 9)], msgs
    await each_peer(ALL, check)


async def test_last_line_without_newline_is_sent_at_eof():
    async def check(peer):
        status, out, err = await run_client([peer.url], b"one\nno newline")
        assert status == 0, f"exit {status}: {err}"
        if peer.reports:
            assert (await peer.wait_event("close"))["code"] == 1000
        if not peer.drops_after_close:
            assert out == b"one\nno newline\n", out
            if peer.reports:
                msgs = [e["len"] for e in peer.events if e["event"] == "message"]
                assert msgs == [3, 10], msgs
    await each_peer(ALL, check)


async def test_binary_lines_round_trip_raw():
    data = b"\x00\x01\xff\xfe not utf-8 \x80\n\xc3\x28\nplain\n"

    async def check(peer):
        status, out, err = await run_client(["--binary", peer.url], data, expect=data)
        assert status == 0, f"exit {status}: {err}"
        assert out == data, out
        if peer.reports:
            msgs = [e for e in peer.events if e["event"] == "message"]
            assert [m["binary"] for m in msgs] == [True] * 3, msgs
            assert [m["len"] for m in msgs] == [16, 2, 5], msgs
    await each_peer(ALL, check)


async def test_binary_received_prints_as_hex_without_flag():
    async def check(peer):
        status, out, err = await run_client([peer.url], b"please-binary\n", expect=b"0001feff\n")
        assert status == 0, f"exit {status}: {err}"
        assert out == b"0001feff\n", out
    await each_peer(REPORTING, check)


async def test_invalid_utf8_line_is_skipped_in_text_mode():
    async def check(peer):
        status, out, err = await run_client([peer.url], b"ok1\n\xff\xfe\nok2\n", expect=b"ok1\nok2\n")
        assert status == 0, f"exit {status}: {err}"
        assert out == b"ok1\nok2\n", out
        assert "UTF-8" in err, err
    await each_peer([PythonPeer], check)


async def test_subprotocol_is_negotiated():
    async def check(peer):
        status, _, err = await run_client(["--subprotocol", "chat.v1", peer.url], b"x\n")
        assert status == 0, f"exit {status}: {err}"
        opened = await peer.wait_event("open")
        assert opened["headers"].get("sec-websocket-protocol") == "chat.v1", opened
        assert opened["protocol"] == "chat.v1", opened
    await each_peer(REPORTING, check)


async def test_headers_reach_the_server():
    async def check(peer):
        args = ["--header", "X-Test: 42", "--header", "X-Other:a b  c", peer.url]
        status, _, err = await run_client(args, b"x\n")
        assert status == 0, f"exit {status}: {err}"
        headers = (await peer.wait_event("open"))["headers"]
        assert headers.get("x-test") == "42", headers
        assert headers.get("x-other") == "a b  c", headers
    await each_peer(REPORTING, check)


async def test_bad_header_is_refused_before_connecting():
    for bad in ["NoColon", ": empty name", "Bad Name: v", "X-Evil: a\r\nX-Injected: b"]:
        status, _, err = await run_client(["--header", bad, "ws://127.0.0.1:9/"])
        assert status == 2 and "header" in err, (bad, status, err)


async def test_long_line_and_many_lines():
    big = b"L" * (1 << 20)  # arrives in many reads: the partial line waits
    many = b"".join(b"line %d\n" % i for i in range(20000))

    async def check(peer):
        data = big + b"\n" + many
        status, out, err = await run_client([peer.url], data, expect=data, timeout=30)
        assert status == 0, f"exit {status}: {err}"
        assert out == data, f"{len(out)} of {len(data)} bytes back"
    await each_peer(ALL, check)


LINE_LIMIT = 16 << 20  # cws-client --help, docs/examples.md; test_client_options.py


async def test_line_over_the_limit_fails_after_a_clean_close():
    # From a file: the client stops reading mid-input, which would break a pipe.
    with tempfile.TemporaryFile() as f:
        f.write(b"ok\n" + b"y" * (LINE_LIMIT + 1) + b"\n")
        f.seek(0)
        async with NodePeer() as peer:
            async with Process([CLIENT, peer.url], stdin=f) as p:
                status, out, err = await p.wait()
            assert status == 1 and f"longer than {LINE_LIMIT} bytes" in err, (status, err)
            assert out == b"ok\n", out[:100]
            assert (await peer.wait_event("close"))["code"] == 1000


async def test_slow_server_pauses_stdin_instead_of_overflowing():
    # The server takes 2 ms per message and queues at most 4, so TCP fills
    # up; a client reading stdin regardless would pass the runtime's 4 MiB
    # queue limit and be cut off with 1008.
    line = b"s" * (256 << 10) + b"\n"
    data = line * 120
    async with PythonPeer(delay=0.002, max_queue=4) as peer:
        status, out, err = await run_client([peer.url], data, expect=data, timeout=60)
    assert status == 0, f"exit {status}: {err}"
    assert out == data, f"{len(out)} of {len(data)} bytes back"


async def test_stdin_from_a_regular_file():
    # epoll cannot watch a regular file; the client must still read it.
    with tempfile.TemporaryFile() as f:
        f.write(b"from\na file\n")
        f.seek(0)
        async with NodePeer() as peer:  # echoes even after our close is in
            async with Process([CLIENT, peer.url], stdin=f) as p:
                status, out, err = await p.wait()
            assert status == 0, f"exit {status}: {err}"
            assert out == b"from\na file\n", out
            assert (await peer.wait_event("close"))["code"] == 1000


async def test_interactive_each_line_answered_before_eof():
    async def check(peer):
        async with Process([CLIENT, peer.url]) as p:
            for word in ["one", "two", "three"]:
                p.proc.stdin.write(word.encode() + b"\n")
                await p.proc.stdin.drain()
                assert await p.readline() == word
            p.proc.stdin.write(b"partial")  # no newline yet: must not be sent
            await p.proc.stdin.drain()
            await asyncio.sleep(0.2)
            p.proc.stdin.write(b" line\n")
            assert await p.readline() == "partial line"
            p.proc.stdin.close()
            status, _, err = await p.wait()
            assert status == 0, f"exit {status}: {err}"
    await each_peer(ALL, check)


async def test_sigint_closes_cleanly_with_1000():
    async def check(peer):
        async with Process([CLIENT, peer.url]) as p:
            p.proc.stdin.write(b"hi\n")
            assert await p.readline() == "hi"  # open for sure
            p.proc.send_signal(signal.SIGINT)
            status, _, err = await p.wait()
            assert status == 0, f"exit {status}: {err}"
        if peer.reports:
            assert (await peer.wait_event("close"))["code"] == 1000
    await each_peer(ALL, check)


async def test_server_close_with_1001_is_a_failure_with_code_on_stderr():
    async def check(peer):
        async with Process([CLIENT, peer.url]) as p:
            p.proc.stdin.write(b"please-close\n")
            status, _, err = await p.wait()
        assert status != 0, "exit status 0 after a 1001 close"
        assert "1001" in err and "going" in err, err
    await each_peer(REPORTING, check)


async def test_ping_prints_round_trip_times():
    async def check(peer):
        async with Process([CLIENT, "--ping", "0.05", peer.url]) as p:
            for _ in range(3):  # one line per pong, while the session stays open
                line = await asyncio.wait_for(p.proc.stderr.readline(), STEP_TIMEOUT)
                assert re.fullmatch(rb"rtt \d+\.\d{3} ms\n", line), line
            p.proc.stdin.close()
            status, _, err = await p.wait()
        assert status == 0, f"exit {status}: {err}"
    await each_peer(ALL, check)


def closed_port():
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_connect_to_closed_port_fails_with_message():
    url = f"ws://127.0.0.1:{closed_port()}/"
    status, out, err = await run_client([url], b"x\n")
    assert status != 0 and out == b"", (status, out)
    assert "cws-client" in err and url in err, err


async def test_unsupported_url_and_usage():
    status, _, err = await run_client(["wss://127.0.0.1:1/"])
    assert status != 0 and "cws-client" in err, (status, err)
    status, _, err = await run_client([])
    assert status == 2 and "URL" in err, (status, err)
    status, out, _ = await run_client(["--help"])
    assert status == 0 and b"--subprotocol" in out, (status, out)
    status, _, err = await run_client(["--ping", "-1", "ws://127.0.0.1:1/"])
    assert status == 2, (status, err)


if __name__ == "__main__":
    sys.exit(run_cases([v for k, v in list(globals().items()) if k.startswith("test_")]))
