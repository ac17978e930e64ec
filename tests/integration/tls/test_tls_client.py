#!/usr/bin/python3
"""cws-client over wss:// (--cafile with the throwaway CA) against TLS
servers that are not ours: Python `websockets.serve(ssl=...)` and Node
`ws` on https.createServer (both report what they saw), and cws-echo
serving TLS. Lines in come back as the same lines out, text and
--binary, a 1 MiB line among 2,000 short ones; the client's close is
1000 and a server's 1001 is reported, and TLS ends with close_notify;
TLS 1.2+ with ALPN http/1.1."""

import asyncio
import base64
import hashlib
import os
import signal
import socket
import ssl
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tlslib  # noqa: E402  (puts tests/integration/lib on the path)
from echo_peers import CwsEchoPeer, NodePeer, PythonPeer, each_peer, run_client  # noqa: E402
from proc import Process, binary, run_cases  # noqa: E402

CERTS = tlslib.certs()
CA = ["--cafile", CERTS["ca"]]


def python_tls():
    return PythonPeer(ssl=tlslib.server_context())


def node_tls():
    return NodePeer(tls=(CERTS["server_cert"], CERTS["server_key"]))


def cws_tls():
    return CwsEchoPeer(args=tlslib.server_args())


REPORTING = [python_tls, node_tls]
ALL = REPORTING + [cws_tls]


def messages(peer):
    return [(e["binary"], e["len"]) for e in peer.events if e["event"] == "message"]


async def test_urls_are_wss():
    async def check(peer):
        assert peer.url.startswith("wss://127.0.0.1:"), peer.url
    await each_peer(ALL, check)


async def test_text_lines_round_trip():
    text = "hello\nwörld 😀\n\nlast\n".encode()

    async def check(peer):
        status, out, err = await run_client([*CA, peer.url + "/tls/path?q=1"], text, expect=text)
        assert status == 0, f"exit {status}: {err}"
        assert out == text, out
        if peer.reports:
            opened = await peer.wait_event("open")
            assert opened["path"] == "/tls/path?q=1", opened
            assert (await peer.wait_event("close"))["code"] == 1000
            assert messages(peer) == [(False, 5), (False, 11), (False, 0), (False, 4)], messages(peer)
    await each_peer(ALL, check)


async def test_binary_lines_round_trip():
    data = b"\x00\x01\xff\xfe not utf-8 \x80\n\xc3\x28\nplain\n"

    async def check(peer):
        status, out, err = await run_client(["--binary", *CA, peer.url], data, expect=data)
        assert status == 0, f"exit {status}: {err}"
        assert out == data, out
        if peer.reports:
            assert messages(peer) == [(True, 16), (True, 2), (True, 5)], messages(peer)
    await each_peer(ALL, check)


async def test_large_and_many_lines():
    data = b"L" * (1 << 20) + b"\n" + b"".join(b"line %d\n" % i for i in range(2000))

    async def check(peer):
        status, out, err = await run_client([*CA, peer.url], data, expect=data, timeout=30)
        assert status == 0, f"exit {status}: {err}"
        assert out == data, f"{len(out)} of {len(data)} bytes back"
        if peer.reports:
            got = messages(peer)
            assert len(got) == 2001 and got[0] == (False, 1 << 20), got[:3]
    await each_peer(ALL, check)


async def test_server_close_1001_is_reported():
    async def check(peer):
        async with Process([binary("client"), *CA, peer.url]) as p:
            p.proc.stdin.write(b"please-close\n")
            status, _, err = await p.wait()
        assert status != 0, "exit status 0 after a 1001 close"
        assert "1001" in err and "going" in err, err
    await each_peer(REPORTING, check)


async def test_sigint_closes_with_1000():
    async def check(peer):
        async with Process([binary("client"), *CA, peer.url]) as p:
            p.proc.stdin.write(b"hi\n")
            assert await p.readline() == "hi"
            p.proc.send_signal(signal.SIGINT)
            status, _, err = await p.wait()
        assert status == 0, f"exit {status}: {err}"
        assert (await peer.wait_event("close"))["code"] == 1000
    await each_peer(REPORTING, check)


async def test_tls_version_and_alpn():
    async with python_tls() as peer:
        status, _, err = await run_client([*CA, peer.url], b"x\n", expect=b"x\n")
        assert status == 0, f"exit {status}: {err}"
        tls = (await peer.wait_event("open")).get("tls")
        assert tls and tls["version"] in ("TLSv1.2", "TLSv1.3"), tls
        assert tls["alpn"] == "http/1.1", f"ALPN {tls['alpn']!r}: cws-client offered no http/1.1"


def one_raw_tls_session(listener, result):
    """Serves one WebSocket session inside TLS by hand: answers the
    upgrade, waits for the client's close frame (masked 1000), answers it,
    then records whether TLS ended with close_notify (recv gives b"") or
    TCP was cut without it (ssl.SSLEOFError)."""
    GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(10)
        s = tlslib.server_context().wrap_socket(conn, server_side=True, suppress_ragged_eofs=False)
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += s.recv(4096)
        key = [ln.split(b":", 1)[1].strip() for ln in buf.split(b"\r\n")
               if ln.lower().startswith(b"sec-websocket-key:")][0]
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        s.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        buf = buf.split(b"\r\n\r\n", 1)[1]
        while len(buf) < 8:  # 88 82 + mask + code: the client's close
            buf += s.recv(4096)
        result["close"] = buf[:2]
        s.sendall(b"\x88\x02\x03\xe8")  # the answer, 1000 (RFC 6455 §5.5.1)
        try:
            result["after"] = s.recv(4096)
        except ssl.SSLEOFError as e:
            result["after"] = e


async def test_client_ends_tls_with_close_notify():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        result = {}
        t = threading.Thread(target=one_raw_tls_session, args=(listener, result), daemon=True)
        t.start()
        url = f"wss://127.0.0.1:{listener.getsockname()[1]}/"
        status, _, err = await run_client([*CA, url], b"")
        await asyncio.to_thread(t.join, 10)
    assert status == 0, f"exit {status}: {err}"
    assert result.get("close") == b"\x88\x82", f"not a masked 2-byte close: {result}"
    assert result.get("after") == b"", f"TLS ended without close_notify: {result.get('after')!r}"


if __name__ == "__main__":
    sys.exit(run_cases([v for k, v in list(globals().items()) if k.startswith("test_")]))
