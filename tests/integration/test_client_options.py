#!/usr/bin/python3
"""cws-client against real servers, for what its runtime settings give
it: lines far past the 2 MiB it used to stop at (it now sets its socket's
high_water to fit a 16 MiB line), the subprotocol printed by --verbose
(cws_socket_protocol), and a session that ends inside cws_connect_wait
(the server's close in the segment of its 101) reported by close code,
not as a failed connect. The limit itself is tested in test_client.py."""

import os
import socket
import sys
import threading

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from proc import binary, run_cases, STEP_TIMEOUT  # noqa: E402
from echo_peers import ALL, NodePeer, PythonPeer, each_peer, run_client  # noqa: E402

binary("client")  # exits early if it is not built
REPORTING = [PythonPeer, NodePeer]


async def test_line_past_the_old_2_mib_limit_goes_through():
    data = b"w" * (5 << 20) + b"\nafter\n"

    async def check(peer):
        status, out, err = await run_client([peer.url], data, expect=data, timeout=30)
        assert status == 0, f"exit {status}: {err}"
        assert out == data, f"{len(out)} of {len(data)} bytes back"
    await each_peer(ALL, check)


async def test_verbose_prints_the_negotiated_subprotocol():
    async def check(peer):
        status, _, err = await run_client(["--verbose", "--subprotocol", "chat.v1", peer.url], b"x\n")
        assert status == 0, f"exit {status}: {err}"
        assert f"connected to {peer.url}\nsubprotocol: chat.v1\n" in err, err
        assert (await peer.wait_event("open"))["protocol"] == "chat.v1"
    await each_peer(REPORTING, check)

    async def check_none(peer):  # nothing offered: nothing chosen
        status, _, err = await run_client(["-v", peer.url], b"x\n")
        assert status == 0, f"exit {status}: {err}"
        assert f"connected to {peer.url}\nsubprotocol: (none)\n" in err, err
    await each_peer(ALL, check_none)


def one_segment_server(close_payload):
    """A loopback server that answers the handshake with the 101, a text
    message and a close frame in one send; returns (port, thread)."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    lsock.settimeout(STEP_TIMEOUT)

    def serve():
        import base64
        import hashlib
        with lsock:
            conn, _ = lsock.accept()
            with conn:
                conn.settimeout(STEP_TIMEOUT)
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                key = [line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                       if line.lower().startswith(b"sec-websocket-key:")][0]
                accept = base64.b64encode(hashlib.sha1(
                    key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())  # RFC 6455 §1.3
                conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
                             + b"\x81\x0alast words"
                             + bytes([0x88, len(close_payload)]) + close_payload)
                try:  # the client's answer, then the server closes TCP (§7.1.1)
                    conn.recv(4096)
                except OSError:
                    pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return lsock.getsockname()[1], t


async def test_session_over_before_connect_returns_is_reported_by_its_code():
    for payload, status_want, err_want in [(b"\x03\xe8bye", 0, ""),
                                           (b"\x03\xe9going", 1, "code 1001: going")]:
        port, t = one_segment_server(payload)
        status, out, err = await run_client([f"ws://127.0.0.1:{port}/"], b"", timeout=STEP_TIMEOUT)
        t.join(STEP_TIMEOUT)
        assert out == b"last words\n", out
        assert status == status_want, f"exit {status}: {err}"
        assert err_want in err and "cannot connect" not in err, err


if __name__ == "__main__":
    sys.exit(run_cases([v for k, v in list(globals().items()) if k.startswith("test_")]))
