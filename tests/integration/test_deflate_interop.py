#!/usr/bin/python3
"""permessage-deflate (RFC 7692) against Python `websockets`, in both
roles, over real loopback sockets.

  cws-echo --deflate   <- websockets client: the agreement in the 101,
                          echoes of every size class compressed (RSV1 on the
                          wire) or not as --deflate-threshold says, peer
                          fragments, 1000 and 1009 closes, and every offer
                          variant (context takeover, window bits) echoing
                          data whose back-references span each window
  cws-client --deflate -> websockets server: lines in are lines out, -v
                          says whether compression was agreed, the
                          client's own threshold and window are kept
  offer-less peers still work against a --deflate server, and a server
  that declines leaves cws-client uncompressed.

What each frame carried is seen by wrapping the extension's decode():
the frame as read from the socket, before inflating."""

import asyncio
import os
import random
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from proc import Server, binary, run_cases, STEP_TIMEOUT  # noqa: E402
import wscompat  # noqa: E402
import echo_peers  # noqa: E402
from websockets.extensions.permessage_deflate import (  # noqa: E402
    ClientPerMessageDeflateFactory, ServerPerMessageDeflateFactory)
from websockets.frames import Opcode  # noqa: E402

ECHO = binary("echo")
binary("client")  # exits early if it is not built
# RFC 6455 §5.2 length encodings, and 1023/1024 around the thresholds.
SIZES = [0, 1, 125, 126, 1023, 1024, 65535, 65536, 1 << 20]
CLIENT_THRESHOLD = 1024  # cws_deflate_config.threshold 0 (cws-client's)


def text_of(n):
    """A str whose UTF-8 form is exactly n bytes, with 1- to 4-byte characters."""
    s = "aé€😀" * (n // 10)
    return s + "x" * (n - len(s.encode()))


def bytes_of(n, seed=1):
    """Random bytes: incompressible, so deflate's output is stored blocks."""
    return random.Random(seed + n).randbytes(n)


def repeat_probe(seed=5, n=1500, alphabet=None):
    """n random characters (or bytes): sent twice, the second copy is a
    single back-reference into the first message if, and only if, the
    sender keeps its context and its window reaches n bytes back."""
    r = random.Random(seed)
    if alphabet is None:
        return r.randbytes(n)
    return "".join(r.choice(alphabet) for _ in range(n)).encode()


def second_copy_small(nct, window):
    # zlib and cws reach 2**window - 262 bytes back at most.
    return not nct and (1 << window) - 262 >= 1500


def compressible(n):
    line = b"".join(b"cws permessage-deflate line %d\n" % i for i in range(n // 30 + 1))
    return line[:n]


def windowed(seed=7, alphabet=None):
    """Random blocks each followed by a copy of itself, so the only matches
    are at distances 200 .. 30000: a compressor using a larger window than
    agreed (or keeping context it should drop) makes a peer's inflater
    fail ("invalid distance too far back")."""
    r = random.Random(seed)
    out = []
    for d in (200, 400, 1000, 3000, 7000, 15000, 30000):
        block = (r.randbytes(d) if alphabet is None
                 else "".join(r.choice(alphabet) for _ in range(d)).encode())
        out += [block, block]
    return b"".join(out)


# --- seeing frames on the wire --------------------------------------------

def record_frames(ext, log):
    """Wraps ext.decode so that log gets (opcode, rsv1, fin, wire bytes) of
    every data frame as it arrived."""
    decode = ext.decode

    def recording(frame, *, max_size=None):
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            log.append((frame.opcode, frame.rsv1, frame.fin, len(frame.data)))
        return decode(frame, max_size=max_size)
    ext.decode = recording
    return ext


def messages(log):
    """Per message: (first frame's RSV1, wire bytes of all its frames)."""
    out = []
    for opcode, rsv1, _fin, n in log:
        if opcode == Opcode.CONT:
            out[-1] = (out[-1][0], out[-1][1] + n)
        else:
            out.append((rsv1, n))
    return out


class RecordingClientFactory(ClientPerMessageDeflateFactory):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.frames = []

    def process_response_params(self, params, accepted):
        return record_frames(super().process_response_params(params, accepted), self.frames)


class RecordingServerFactory(ServerPerMessageDeflateFactory):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.frames = []

    def process_request_params(self, params, accepted):
        response, ext = super().process_request_params(params, accepted)
        return response, record_frames(ext, self.frames)


def connect_deflate(url, **offer):
    """A websockets client offering permessage-deflate with these
    ClientPerMessageDeflateFactory parameters; .factory has the frames."""
    factory = RecordingClientFactory(**offer)
    conn = wscompat.connect(url, extensions=[factory])
    conn.factory = factory
    return conn, factory


def response_extensions(ws):
    return ws.response_headers.get_all("Sec-WebSocket-Extensions")


async def recv(ws, timeout=STEP_TIMEOUT):
    return await asyncio.wait_for(ws.recv(), timeout)


async def echo_check(ws, msg, what):
    await ws.send(msg)
    got = await recv(ws)
    assert type(got) is type(msg), f"{what}: {type(msg).__name__} came back as {type(got).__name__}"
    assert got == msg, f"{what}: content changed ({len(got)} back, {len(msg)} sent)"


# --- websockets client -> cws-echo --deflate ------------------------------

async def test_offer_accepted_and_every_size_echoed_compressed():
    async with Server([ECHO, "--port", "0", "--deflate"]) as srv:
        conn, f = connect_deflate(srv.url)  # websockets' default offer
        async with conn as ws:
            assert ws.request_headers["Sec-WebSocket-Extensions"] == \
                "permessage-deflate; client_max_window_bits", ws.request_headers
            assert response_extensions(ws) == ["permessage-deflate"], response_extensions(ws)
            kinds = [("text", text_of), ("random binary", bytes_of), ("compressible binary", compressible)]
            sent = []
            for kind, make in kinds:
                for n in SIZES:
                    await echo_check(ws, make(n), f"{kind} {n} B")
                    sent.append((kind, n))
            got = messages(f.frames)
            assert len(got) == len(sent), (len(got), len(sent))
            for (kind, n), (rsv1, wire) in zip(sent, got):
                # --deflate-threshold 0: every echo goes out compressed.
                assert rsv1, f"{kind} {n} B: echo not compressed"
                if kind != "random binary" and n >= 1024:
                    assert wire < n // 2, f"{kind} {n} B: {wire} bytes on the wire"
    print(f"  {len(sent)} echoes, all with RSV1; compressible 1 MiB took "
          f"{got[len(SIZES) * 3 - 1][1]} bytes on the wire")


async def test_threshold_1024_leaves_shorter_echoes_uncompressed():
    async with Server([ECHO, "--port", "0", "--deflate", "--deflate-threshold", "1024"]) as srv:
        conn, f = connect_deflate(srv.url)
        async with conn as ws:
            sizes = [0, 1, 125, 126, 1023, 1024, 1025, 65536, 1 << 20]
            for n in sizes:
                await echo_check(ws, text_of(n), f"text {n} B")
                await echo_check(ws, bytes_of(n), f"binary {n} B")
            got = [rsv1 for rsv1, _ in messages(f.frames)]
            want = [n >= 1024 for n in sizes for _ in (0, 1)]
            assert got == want, f"RSV1 per echo {got}, expected {want}"


async def test_fragmented_compressed_messages_from_the_peer():
    # websockets compresses each fragment with a sync flush, RSV1 on the
    # first only (RFC 7692 §6.1); a ping between fragments is not compressed.
    async with Server([ECHO, "--port", "0", "--deflate"]) as srv:
        conn, _ = connect_deflate(srv.url)
        async with conn as ws:
            parts = [b"ab", b"", compressible(70000), bytes_of(5000), b"d"]
            await ws.send(parts)
            assert await recv(ws) == b"".join(parts)
            await ws.send(["héllo ", "wörld 😀", "", "x" * 3000])
            assert await recv(ws) == "héllo wörld 😀" + "x" * 3000
            # An async iterator: a ping goes out between two fragments.
            pongs = []

            async def with_ping():
                yield "first half, "
                pongs.append(await ws.ping(b"mid-message"))
                yield "second half"
            await ws.send(with_ping())
            assert await recv(ws) == "first half, second half"
            await asyncio.wait_for(pongs[0], STEP_TIMEOUT)
            # The same fragments again: the context carried over still works.
            await ws.send(parts)
            assert await recv(ws) == b"".join(parts)


async def test_close_1000_with_reason():
    async with Server([ECHO, "--port", "0", "--deflate"]) as srv:
        conn, _ = connect_deflate(srv.url)
        ws = await conn
        await echo_check(ws, "before the close", "text")
        await asyncio.wait_for(ws.close(1000, "bye ünïcode"), STEP_TIMEOUT)
        assert ws.close_code == 1000, ws.close_code
        assert ws.close_reason in ("", "bye ünïcode"), repr(ws.close_reason)


async def test_message_inflating_past_max_message_closes_1009():
    async with Server([ECHO, "--port", "0", "--deflate", "--max-message", "65536"]) as srv:
        conn, f = connect_deflate(srv.url)
        async with conn as ws:
            await echo_check(ws, b"\0" * 65536, "65536 zeros (at the limit)")
            await ws.send("a" * (1 << 20))  # about 1 KiB on the wire, 1 MiB inflated
            await asyncio.wait_for(ws.wait_closed(), STEP_TIMEOUT)
            assert ws.close_code == 1009, ws.close_code
        # A bomb: 64 MiB of zeros is some 64 KiB compressed; the server
        # stops at the limit and closes at once.
        conn, _ = connect_deflate(srv.url)
        async with conn as ws:
            try:
                await ws.send(bytes(64 << 20))
            except wscompat.ConnectionClosed:
                pass
            await asyncio.wait_for(ws.wait_closed(), STEP_TIMEOUT)
            assert ws.close_code == 1009, ws.close_code
        conn, _ = connect_deflate(srv.url)  # the server is still serving
        async with conn as ws:
            await echo_check(ws, "still here", "text")


# Offers (ClientPerMessageDeflateFactory parameters). client_max_window_bits=8
# is left out: Python's zlib refuses to compress with a raw window of 8
# ("Invalid initialization option"), on its own side of the connection;
# cws-client covers a window of 8 (test_cws_client_window_and_takeover_variants).
OFFERS = (
    [dict(), dict(client_max_window_bits=None),
     dict(client_no_context_takeover=True), dict(server_no_context_takeover=True),
     dict(client_no_context_takeover=True, server_no_context_takeover=True)]
    + [dict(server_max_window_bits=b) for b in range(8, 16)]
    + [dict(client_max_window_bits=b) for b in range(9, 16)]
    + [dict(server_max_window_bits=9, client_max_window_bits=9,
            server_no_context_takeover=True, client_no_context_takeover=True),
       dict(server_max_window_bits=8, client_max_window_bits=12, client_no_context_takeover=True)]
)


async def test_every_offer_variant_echoes():
    payload = windowed()
    async with Server([ECHO, "--port", "0", "--deflate"]) as srv:
        for offer in OFFERS:
            what = f"offer {offer or 'default'}"
            conn, f = connect_deflate(srv.url, **offer)
            async with conn as ws:
                (ext,) = ws.extensions
                # The agreement, as websockets read it from the 101.
                assert ext.remote_no_context_takeover == offer.get("server_no_context_takeover", False), (what, ext)
                assert ext.remote_max_window_bits == offer.get("server_max_window_bits", 15), (what, ext)
                want_client = offer.get("client_max_window_bits", True)
                assert ext.local_max_window_bits == (15 if want_client in (None, True) else want_client), (what, ext)
                # Each twice: with context takeover the second copy is a
                # back-reference into the first message.
                probe = repeat_probe()
                for msg in (probe, probe, payload, payload, text_of(40000), text_of(40000), b"", "short"):
                    await echo_check(ws, msg, what)
                got = messages(f.frames)
                assert all(rsv1 for rsv1, _ in got), (what, got)
                # The server's context and window, seen in its second copy.
                small = second_copy_small(ext.remote_no_context_takeover, ext.remote_max_window_bits)
                assert (got[1][1] < 100) == small, (what, got[:2])
    print(f"  {len(OFFERS)} offers, each echoing back-references at distances 200 .. 30000")


async def test_offerless_client_and_mixed_clients():
    async with Server([ECHO, "--port", "0", "--deflate"]) as srv:
        async with wscompat.connect(srv.url) as ws:  # offers nothing
            assert response_extensions(ws) == [], response_extensions(ws)
            # websockets fails the connection on an RSV1 frame here, so
            # these coming back means they came uncompressed.
            for n in SIZES:
                await echo_check(ws, text_of(n), f"text {n} B")
                await echo_check(ws, compressible(n), f"binary {n} B")

        async def one(k):
            if k % 3 == 0:
                conn = wscompat.connect(srv.url)
            else:
                conn, _ = connect_deflate(srv.url, server_no_context_takeover=k % 3 == 2,
                                          server_max_window_bits=9 + k % 7)
            async with conn as ws:
                for i in range(30):
                    await ws.send(f"{k}:{i}:" + "z" * (i * 97))
                for i in range(30):
                    assert await recv(ws) == f"{k}:{i}:" + "z" * (i * 97), (k, i)
        await asyncio.gather(*(one(k) for k in range(12)))


# --- cws-client --deflate -> websockets server -----------------------------

class PyServer:
    """A websockets echo server; factory None declines every offer. .offers
    has each request's Sec-WebSocket-Extensions (None: absent)."""

    def __init__(self, factory):
        self.factory = factory
        self.offers = []

    async def _handler(self, ws, path=None):
        self.offers.append(wscompat.request_headers(ws).get("Sec-WebSocket-Extensions"))
        try:
            async for m in ws:
                await ws.send(m)
        except wscompat.ConnectionClosed:
            pass

    async def __aenter__(self):
        kw = {"extensions": [self.factory]} if self.factory else {}
        self.server = await wscompat.serve(self._handler, **kw)
        self.url = f"ws://127.0.0.1:{wscompat.port(self.server)}"
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await asyncio.wait_for(self.server.wait_closed(), STEP_TIMEOUT)


async def run_client(args, lines, timeout=STEP_TIMEOUT):
    """cws-client with the lines as stdin; stdin stays open until all the
    echoes are back (websockets drops those not sent when our close
    arrives). Returns (status, stdout, stderr)."""
    data = b"".join(l + b"\n" for l in lines)
    return await echo_peers.run_client(args, data, expect=data, timeout=timeout)


LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
LINES = [b"", b"x", "wörld 😀 €".encode(), b"y" * 1023, b"y" * 1024,
         compressible(200000).replace(b"\n", b" "), windowed(3, LETTERS)]


async def test_cws_client_against_websockets_server():
    async with PyServer(RecordingServerFactory(compress_settings={"memLevel": 5})) as srv:
        lines = LINES + LINES  # the second copies: context taken over
        status, out, err = await run_client(["-v", "--deflate", srv.url], lines)
        assert status == 0, f"exit {status}: {err}"
        assert out == b"".join(l + b"\n" for l in lines), f"{len(out)} bytes back"
        assert "compression: permessage-deflate" in err, err
        assert srv.offers == ["permessage-deflate; client_max_window_bits"], srv.offers
        got = messages(srv.factory.frames)
        # cws-client keeps the library's default threshold of 1024 bytes.
        assert [rsv1 for rsv1, _ in got] == [len(l) >= CLIENT_THRESHOLD for l in lines], got
        big = len(LINES) - 2
        assert got[big][1] < len(LINES[big]) // 10, f"200 KB line took {got[big][1]} bytes"


# ServerPerMessageDeflateFactory parameters; each is a different answer to
# cws-client's offer ("permessage-deflate; client_max_window_bits").
# server_max_window_bits=8 is left out: the websockets server would have to
# compress with a raw window of 8, which Python's zlib refuses.
SERVER_VARIANTS = [
    dict(server_max_window_bits=10), dict(server_max_window_bits=9),
    dict(client_max_window_bits=9), dict(client_max_window_bits=8),
    dict(client_no_context_takeover=True), dict(server_no_context_takeover=True),
    dict(server_max_window_bits=9, client_max_window_bits=10,
         server_no_context_takeover=True, client_no_context_takeover=True),
]


async def test_cws_client_window_and_takeover_variants():
    probe = repeat_probe(alphabet=LETTERS)
    lines = [probe, probe, windowed(11, LETTERS), windowed(11, LETTERS), "ünï 😀".encode() * 500, b"short"]
    for params in SERVER_VARIANTS:
        async with PyServer(RecordingServerFactory(**params)) as srv:
            status, out, err = await run_client(["-v", "--deflate", srv.url], lines)
            assert status == 0, f"{params}: exit {status}: {err}"
            assert out == b"".join(l + b"\n" for l in lines), f"{params}: {len(out)} bytes back"
            assert "compression: permessage-deflate" in err, (params, err)
            got = messages(srv.factory.frames)
            assert [rsv1 for rsv1, _ in got] == [True] * 5 + [False], (params, got)
            # cws-client's context and window, seen in its second copy.
            small = second_copy_small(params.get("client_no_context_takeover", False),
                                      params.get("client_max_window_bits", 15))
            assert (got[1][1] < 100) == small, (params, got[:2])
    print(f"  {len(SERVER_VARIANTS)} server answers, incl. a client window of 8")


async def test_cws_client_without_flag_offers_nothing():
    async with PyServer(RecordingServerFactory()) as srv:
        status, out, err = await run_client(["-v", srv.url], LINES)
        assert status == 0, f"exit {status}: {err}"
        assert out == b"".join(l + b"\n" for l in LINES)
        assert srv.offers == [None], srv.offers
        # cws-client prints the compression line only with --deflate.
        assert "compression: permessage-deflate" not in err, err
        assert srv.factory.frames == [], "frames went through the extension"


async def test_cws_client_when_the_server_declines():
    async with PyServer(None) as srv:
        status, out, err = await run_client(["-v", "--deflate", srv.url], LINES)
        assert status == 0, f"exit {status}: {err}"
        assert out == b"".join(l + b"\n" for l in LINES)
        assert srv.offers == ["permessage-deflate; client_max_window_bits"], srv.offers
        assert "compression: (none)" in err, err


if __name__ == "__main__":
    sys.exit(run_cases([v for k, v in list(globals().items()) if k.startswith("test_")]))
