"""The conformance cases, grouped and numbered like the Autobahn|Testsuite
fuzzing client's (1 framing, 2 ping/pong, 3 reserved bits, 4 reserved
opcodes, 5 fragmentation, 6 UTF-8, 7 close, 9 large and many messages,
10 misc) plus H, the opening handshake. Each case is a function of a
Context; it returns normally for OK and raises NonStrict or CaseFailed.
Every expectation cites the RFC 6455 section it comes from."""
import os
import socket
import struct
import time

from wsclient import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, WS, CaseFailed,
                      Closed, EchoMissing, NonStrict, close_payload, encode_frame)

CASES = []


def case(cid, desc):
    def register(fn):
        CASES.append((cid, desc, fn))
        return fn
    return register


def text_of(n):
    """n bytes of ASCII text."""
    return (b"0123456789abcdefghijklmnopqrstuvwxyz" * (n // 36 + 1))[:n]


def binary_of(n):
    """n bytes covering every byte value."""
    return (bytes(range(256)) * (n // 256 + 1))[:n]


class Context:
    """Where the cases connect. `servers(name)` gives (host, port) of a
    variant of the server under test, started on first use by run.py:
    "deflate" (permessage-deflate on, every echo compressed) for groups
    12-15 (cases_deflate.py); None when there is none."""

    def __init__(self, host, port, max_message, timeout=5.0, servers=None, deflate_threshold=0):
        self.host, self.port, self.max_message, self.timeout = host, port, max_message, timeout
        self.servers = servers
        self.deflate_threshold = deflate_threshold  # the deflate server's: smaller echoes may go plain

    def endpoint(self, name):
        return self.servers(name) if self.servers else None

    def connect(self, timeout=None):
        return WS(self.host, self.port, timeout or self.timeout).open()

    def raw(self, timeout=None):
        return WS(self.host, self.port, timeout or self.timeout)


# ---------------------------------------------------------------- 1 framing
LENGTHS = [0, 125, 126, 127, 128, 65535, 65536]

for _i, _n in enumerate(LENGTHS):
    def _text_len(ctx, n=_n):
        ws = ctx.connect()
        ws.send_message(OP_TEXT, text_of(n))
        ws.expect_message(OP_TEXT, text_of(n))
        ws.close_normally()

    def _binary_len(ctx, n=_n):
        ws = ctx.connect()
        ws.send_message(OP_BINARY, binary_of(n))
        ws.expect_message(OP_BINARY, binary_of(n))
        ws.close_normally()
    case("1.1.%d" % (_i + 1), "text message of %d bytes is echoed (§5.2 length forms)" % _n)(_text_len)
    case("1.2.%d" % (_i + 1), "binary message of %d bytes is echoed (§5.2 length forms)" % _n)(_binary_len)

for _i, (_op, _n) in enumerate([(OP_TEXT, 0), (OP_TEXT, 125), (OP_TEXT, 126), (OP_BINARY, 127),
                                 (OP_BINARY, 65535), (OP_BINARY, 65536)]):
    def _bytewise(ctx, op=_op, n=_n):
        ws = ctx.connect(timeout=20)
        data = text_of(n) if op == OP_TEXT else binary_of(n)
        ws.send_frame(op, data, chunk=1)
        ws.expect_message(op, data)
        ws.close_normally()
    case("1.3.%d" % (_i + 1), "%s message of %d bytes delivered byte by byte is echoed (§5.2)"
         % ("text" if _op == OP_TEXT else "binary", _n))(_bytewise)


@case("1.4.1", "two messages in one TCP segment are both echoed, in order")
def _two_in_one(ctx):
    ws = ctx.connect()
    ws.send(encode_frame(OP_TEXT, b"first") + encode_frame(OP_BINARY, b"\x00second"))
    ws.expect_message(OP_TEXT, b"first")
    ws.expect_message(OP_BINARY, b"\x00second")
    ws.close_normally()


# ---------------------------------------------------------------- 2 ping/pong
def _ping_case(cid, desc, payload, chunk=None):
    @case(cid, desc)
    def run(ctx):
        ws = ctx.connect()
        ws.send_frame(OP_PING, payload, chunk=chunk)
        ws.expect_pong(payload)
        ws.close_normally()


_ping_case("2.1", "ping without payload gets a pong without payload (§5.5.2, §5.5.3)", b"")
_ping_case("2.2", "ping with a text payload gets a pong with the same payload (§5.5.3)", b"Hello, world!")
_ping_case("2.3", "ping with a binary payload gets the same payload back (§5.5.3)", bytes([0, 255, 254, 253, 252, 251]))
_ping_case("2.4", "ping with a 125-byte payload (the maximum) gets a pong (§5.5)", binary_of(125))
_ping_case("2.6", "125-byte ping delivered byte by byte gets a pong (§5.5.3)", binary_of(125), chunk=1)


@case("2.5", "ping with a 126-byte payload fails the connection with 1002 (§5.5)")
def _ping_126(ctx):
    ws = ctx.connect()
    ws.send_frame(OP_PING, binary_of(126))
    ws.expect_close({1002})


@case("2.7", "unsolicited pong without payload is ignored (§5.5.3)")
def _pong_unsolicited(ctx):
    ws = ctx.connect()
    ws.send_frame(OP_PONG, b"")
    ws.expect_nothing()
    ws.close_normally()


@case("2.8", "unsolicited pong with payload is ignored (§5.5.3)")
def _pong_unsolicited_payload(ctx):
    ws = ctx.connect()
    ws.send_frame(OP_PONG, b"unsolicited pong payload")
    ws.expect_nothing()
    ws.close_normally()


@case("2.9", "unsolicited pong, then a ping: only the ping is answered (§5.5.3)")
def _pong_then_ping(ctx):
    ws = ctx.connect()
    ws.send_frame(OP_PONG, b"unsolicited")
    ws.send_frame(OP_PING, b"ping payload")
    ws.expect_pong(b"ping payload")
    ws.close_normally()


def _ping_storm(ctx, count, one_write):
    ws = ctx.connect(timeout=15)
    payloads = [("payload-%d" % i).encode() for i in range(count)]
    frames = [encode_frame(OP_PING, p) for p in payloads]
    if one_write:
        ws.send(b"".join(frames))
    else:
        for f in frames:
            ws.send(f)
    # §5.5.3: a pong may answer only the most recent of several pings, so
    # the pongs must be an in-order subsequence ending with the last one.
    i = 0
    while True:
        try:
            f = ws.next_frame()
        except Closed:
            raise CaseFailed("connection closed during the ping storm")
        if f.opcode != OP_PONG:
            raise CaseFailed("expected pongs, got %r" % f)
        while i < count and payloads[i] != f.payload:
            i += 1
        if i == count:
            raise CaseFailed("pong with a payload no ping had, or out of order")
        if i == count - 1:
            break
        i += 1
    ws.close_normally()


case("2.10", "10 pings sent one by one: pongs in order, the last one answered (§5.5.3)")(
    lambda ctx: _ping_storm(ctx, 10, False))
case("2.11", "1000 pings in one write (a ping storm): pongs in order, the last one answered")(
    lambda ctx: _ping_storm(ctx, 1000, True))


# ---------------------------------------------------------------- 3 reserved bits
def _rsv_case(cid, rsv, op, before=None, after=None):
    @case(cid, "RSV=%d on a %s frame fails the connection with 1002 (§5.2)"
          % (rsv, {OP_TEXT: "text", OP_BINARY: "binary", OP_PING: "ping", OP_CLOSE: "close"}[op]))
    def run(ctx):
        ws = ctx.connect()
        if before:
            ws.send_frame(OP_TEXT, before)
            ws.expect_message(OP_TEXT, before)
        payload = close_payload(1000) if op == OP_CLOSE else b"Hello"
        batch = encode_frame(op, payload, rsv=rsv)
        if after:
            batch += encode_frame(OP_PING, after)
        ws.send(batch)
        ws.expect_close({1002})


_rsv_case("3.1", 1, OP_TEXT)
_rsv_case("3.2", 2, OP_TEXT, before=b"Hello")
_rsv_case("3.3", 3, OP_TEXT, before=b"Hello", after=b"after")
_rsv_case("3.4", 4, OP_TEXT, after=b"after")
_rsv_case("3.5", 5, OP_BINARY)
_rsv_case("3.6", 6, OP_PING)
_rsv_case("3.7", 7, OP_CLOSE)


# ---------------------------------------------------------------- 4 reserved opcodes
for _i, _op in enumerate([3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF]):
    for _j, (_payload, _before) in enumerate([(b"", False), (b"reserved", True)]):
        def _reserved_op(ctx, op=_op, payload=_payload, before=_before):
            ws = ctx.connect()
            if before:
                ws.send_frame(OP_TEXT, b"Hello")
                ws.expect_message(OP_TEXT, b"Hello")
            ws.send(encode_frame(op, payload) + encode_frame(OP_PING, b"after"))
            ws.expect_close({1002})
        case("4.%d.%d" % (1 if _op < 8 else 2, (_i % 5) * 2 + _j + 1),
             "reserved %s opcode %#x%s fails the connection with 1002 (§5.2)"
             % ("data" if _op < 8 else "control", _op, " with payload, after a message" if _before else ""))(_reserved_op)


# ---------------------------------------------------------------- 5 fragmentation
@case("5.1", "fragmented ping fails the connection with 1002 (§5.5)")
def _frag_ping(ctx):
    ws = ctx.connect()
    ws.send(encode_frame(OP_PING, b"frag", fin=False) + encode_frame(OP_CONT, b"ment"))
    ws.expect_close({1002})


@case("5.2", "fragmented pong fails the connection with 1002 (§5.5)")
def _frag_pong(ctx):
    ws = ctx.connect()
    ws.send(encode_frame(OP_PONG, b"frag", fin=False) + encode_frame(OP_CONT, b"ment"))
    ws.expect_close({1002})


def _fragments_case(cid, desc, op, parts, chunk=None, between=None, separate=False):
    @case(cid, desc)
    def run(ctx):
        ws = ctx.connect(timeout=20)
        out = b""
        for k, p in enumerate(parts):
            out += encode_frame(op if k == 0 else OP_CONT, p, fin=(k == len(parts) - 1))
            if between is not None and k < len(parts) - 1:
                out += encode_frame(OP_PING, between)
            if separate:
                ws.send(out, chunk=chunk)
                out = b""
                time.sleep(0.005)
        ws.send(out, chunk=chunk)
        if between is not None:
            for _ in range(len(parts) - 1):
                ws.expect_pong(between)
        ws.expect_message(op, b"".join(parts))
        ws.close_normally()


_fragments_case("5.3", "text in 2 fragments is echoed (§5.4)", OP_TEXT, [b"fragment1", b"fragment2"])
_fragments_case("5.4", "text in 2 fragments, each in its own TCP segment (§5.4)", OP_TEXT,
                [b"fragment1", b"fragment2"], separate=True)
_fragments_case("5.5", "text in 2 fragments delivered byte by byte (§5.4)", OP_TEXT,
                [b"fragment1", b"fragment2"], chunk=1)
_fragments_case("5.6", "ping between two text fragments is answered, then the text echoed (§5.4, §5.5)",
                OP_TEXT, [b"fragment1", b"fragment2"], between=b"ping between")
_fragments_case("5.7", "ping between fragments, all delivered byte by byte (§5.4)", OP_TEXT,
                [b"fragment1", b"fragment2"], between=b"ping between", chunk=1)
_fragments_case("5.8", "binary in 3 fragments with pings between, separate segments (§5.4)", OP_BINARY,
                [b"\x00\x01", b"\x02\x03", b"\x04"], between=b"", separate=True)
_fragments_case("5.16", "text in 100 one-byte fragments is echoed (§5.4)", OP_TEXT,
                [bytes([0x61 + i % 26]) for i in range(100)])
_fragments_case("5.17", "text from empty fragments and a 1-byte last one (§5.4)", OP_TEXT,
                [b"", b"", b"x"])
_fragments_case("5.18", "binary in 1000 one-byte fragments in one write (§5.4)", OP_BINARY,
                [bytes([i & 0xFF]) for i in range(1000)])
_fragments_case("5.19", "text in 10 fragments with a ping between each (§5.4)", OP_TEXT,
                [b"fragment%d" % i for i in range(10)], between=b"pongme")


def _frag_error(cid, desc, frames):
    @case(cid, desc)
    def run(ctx):
        ws = ctx.connect()
        ws.send(b"".join(encode_frame(*f[:2], fin=f[2]) for f in frames) + encode_frame(OP_PING, b"after"))
        ws.expect_close({1002})


_frag_error("5.9", "orphan continuation with FIN fails the connection with 1002 (§5.4)",
            [(OP_CONT, b"orphan", True)])
_frag_error("5.10", "orphan continuation without FIN fails with 1002 (§5.4)",
            [(OP_CONT, b"orphan", False)])
_frag_error("5.11", "orphan continuation, then a text message: 1002 (§5.4)",
            [(OP_CONT, b"orphan", True), (OP_TEXT, b"Hello", True)])
_frag_error("5.12", "text start, then a complete text message inside it: 1002 (§5.4)",
            [(OP_TEXT, b"start", False), (OP_TEXT, b"nested", True)])
_frag_error("5.13", "text start, then a binary start inside it: 1002 (§5.4)",
            [(OP_TEXT, b"start", False), (OP_BINARY, b"nested", False)])
_frag_error("5.15", "two text fragments, then a fresh text start: 1002 (§5.4)",
            [(OP_TEXT, b"one", False), (OP_CONT, b"two", False), (OP_TEXT, b"three", False)])


@case("5.14", "complete text, then an orphan continuation: echo, then 1002 (§5.4)")
def _whole_then_orphan(ctx):
    ws = ctx.connect()
    ws.send(encode_frame(OP_TEXT, b"whole") + encode_frame(OP_CONT, b"orphan"))
    ws.expect_echo_then_close(OP_TEXT, b"whole", {1002})


# ---------------------------------------------------------------- 6 UTF-8
VALID_TEXTS = [
    "Hello-µ@ßöäüàá-UTF-8!!".encode("utf-8"),
    "κόσμε".encode("utf-8"),
    "a\U0001F600b\u20ac\u0800\U0010FFFF".encode("utf-8"),
]

for _i, _t in enumerate(VALID_TEXTS):
    def _every_split(ctx, t=_t):
        # One message per split point, all on one connection (§5.4, §8.1:
        # a fragment boundary may cut a character).
        ws = ctx.connect()
        for k in range(len(t) + 1):
            ws.send(encode_frame(OP_TEXT, t[:k], fin=False) + encode_frame(OP_CONT, t[k:]))
            ws.expect_message(OP_TEXT, t)
        ws.close_normally()

    def _byte_fragments(ctx, t=_t):
        ws = ctx.connect()
        ws.send(b"".join(encode_frame(OP_TEXT if k == 0 else OP_CONT, t[k:k + 1], fin=k == len(t) - 1)
                         for k in range(len(t))))
        ws.expect_message(OP_TEXT, t)
        ws.close_normally()

    def _byte_tcp(ctx, t=_t):
        ws = ctx.connect()
        ws.send_frame(OP_TEXT, t, chunk=1)
        ws.expect_message(OP_TEXT, t)
        ws.close_normally()
    case("6.1.%d" % (_i + 1), "valid text %r split in 2 fragments at every byte position is echoed (§8.1)"
         % _t.decode())(_every_split)
    case("6.2.%d" % (_i + 1), "valid text %r in one fragment per byte is echoed (§8.1)" % _t.decode())(_byte_fragments)
    case("6.3.%d" % (_i + 1), "valid text %r delivered byte by byte is echoed (§8.1)" % _t.decode())(_byte_tcp)

# Every class of invalid UTF-8 (RFC 3629 §3, §4).
INVALID = [
    ("lone continuation byte 80", b"\x80"),
    ("lone continuation byte BF", b"\xbf"),
    ("overlong 2-byte NUL C0 80", b"\xc0\x80"),
    ("overlong 2-byte C1 BF", b"\xc1\xbf"),
    ("overlong 3-byte E0 80 80", b"\xe0\x80\x80"),
    ("overlong 3-byte E0 9F BF", b"\xe0\x9f\xbf"),
    ("overlong 4-byte F0 80 80 80", b"\xf0\x80\x80\x80"),
    ("overlong 4-byte F0 8F BF BF", b"\xf0\x8f\xbf\xbf"),
    ("high surrogate U+D800", b"\xed\xa0\x80"),
    ("low surrogate U+DFFF", b"\xed\xbf\xbf"),
    ("surrogate pair D800 DC00", b"\xed\xa0\x80\xed\xb0\x80"),
    ("above U+10FFFF: F4 90 80 80", b"\xf4\x90\x80\x80"),
    ("above U+10FFFF: F7 BF BF BF", b"\xf7\xbf\xbf\xbf"),
    ("byte F5", b"\xf5"),
    ("byte F8 (5-byte form)", b"\xf8\x88\x80\x80\x80"),
    ("byte FC (6-byte form)", b"\xfc\x84\x80\x80\x80\x80"),
    ("byte FE", b"\xfe"),
    ("byte FF", b"\xff"),
    ("2-byte lead, then ASCII", b"\xc2\x41"),
    ("3-byte lead, 1 continuation, then ASCII", b"\xe1\x80\x41"),
    ("4-byte lead, 2 continuations, then ASCII", b"\xf0\x90\x80\x41"),
    ("message ends after a 2-byte lead", b"\xc2"),
    ("message ends inside a 3-byte sequence", b"\xe1\x80"),
    ("message ends inside a 4-byte sequence", b"\xf0\x90\x80"),
]
PREFIX = "κόσμε".encode("utf-8")

for _i, (_name, _bad) in enumerate(INVALID):
    _ends = _name.startswith("message ends")
    _msg = PREFIX + _bad + (b"" if _ends else b"-edited")

    def _invalid_single(ctx, msg=_msg):
        ws = ctx.connect()
        ws.send_frame(OP_TEXT, msg)
        ws.expect_close({1007})

    def _invalid_split(ctx, msg=_msg, cut=len(PREFIX) + max(1, len(_bad) // 2)):
        # Fragments cut inside the bad sequence (or right after it).
        ws = ctx.connect()
        ws.send(encode_frame(OP_TEXT, msg[:cut], fin=False) + encode_frame(OP_CONT, msg[cut:]))
        ws.expect_close({1007})
    case("6.4.%d" % (_i + 1), "invalid UTF-8 (%s) in a text message: close 1007 (§8.1)" % _name)(_invalid_single)
    case("6.5.%d" % (_i + 1), "invalid UTF-8 (%s) cut across fragments: close 1007 (§8.1)" % _name)(_invalid_split)


def _fail_fast(ws, first, rest, wait=3.0):
    """Sends `first`; the server must close with 1007 before `rest` (the
    message's later bytes) is sent. A 1007 only after the rest is
    NON-STRICT (the right code, but not fail-fast)."""
    ws.send(first)
    try:
        ws.expect_close({1007}, timeout=wait)
        return
    except CaseFailed as e:
        if "did not close" not in str(e):
            raise
    ws.send(rest)
    ws.expect_close({1007})
    raise NonStrict("closed with 1007 only after the whole message (not fail-fast, RFC 6455 §8.1)")


@case("6.6.1", "fail-fast: invalid UTF-8 in the first of 3 fragments closes with 1007 before the rest is sent")
def _ff_first_fragment(ctx):
    ws = ctx.connect()
    _fail_fast(ws, encode_frame(OP_TEXT, PREFIX + b"\xed\xa0\x80" + b"edited", fin=False),
               encode_frame(OP_CONT, b"second", fin=False) + encode_frame(OP_CONT, b"third"))


@case("6.6.2", "fail-fast: bad sequence cut at a fragment boundary (F4 | 90) closes with 1007 before fragment 3")
def _ff_boundary(ctx):
    ws = ctx.connect()
    _fail_fast(ws, encode_frame(OP_TEXT, PREFIX + b"\xf4", fin=False) + encode_frame(OP_CONT, b"\x90\x80\x80", fin=False),
               encode_frame(OP_CONT, b"third"))


@case("6.6.3", "fail-fast: invalid UTF-8 early in one large frame closes with 1007 before the frame is complete")
def _ff_inside_frame(ctx):
    ws = ctx.connect()
    payload = PREFIX + b"\xc0\x80" + text_of(8192)
    frame = encode_frame(OP_TEXT, payload)
    _fail_fast(ws, frame[:64], frame[64:])


@case("6.6.4", "fail-fast: a byte that can never appear (FF) in the first fragment closes with 1007 before the rest")
def _ff_ff(ctx):
    ws = ctx.connect()
    _fail_fast(ws, encode_frame(OP_TEXT, b"\xff", fin=False), encode_frame(OP_CONT, b"rest"))


BOUNDARY_CODE_POINTS = [0x0, 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFD, 0xFFFE, 0xFFFF,
                        0x10000, 0x10FFFF]
for _i, _cp in enumerate(BOUNDARY_CODE_POINTS):
    def _boundary(ctx, cp=_cp):
        t = ("<" + chr(cp) + ">").encode("utf-8")
        ws = ctx.connect()
        ws.send_frame(OP_TEXT, t)
        ws.expect_message(OP_TEXT, t)
        ws.close_normally()
    case("6.7.%d" % (_i + 1), "boundary code point U+%04X is valid text and echoed (RFC 3629)" % _cp)(_boundary)


# ---------------------------------------------------------------- 7 close
@case("7.1.1", "close 1000: the server answers with a close and drops TCP (§5.5.1, §7.1.1)")
def _close_normal(ctx):
    ctx.connect().close_normally()


@case("7.1.2", "a second close after ours is ignored; the handshake completes (§5.5.1)")
def _close_twice(ctx):
    ws = ctx.connect()
    ws.send(encode_frame(OP_CLOSE, close_payload(1000)) + encode_frame(OP_CLOSE, close_payload(1001)))
    ws.expect_close({1000})


@case("7.1.3", "a ping after our close gets no pong (§5.5.1: nothing after close)")
def _ping_after_close(ctx):
    ws = ctx.connect()
    ws.send(encode_frame(OP_CLOSE, close_payload(1000)) + encode_frame(OP_PING, b"late"))
    ws.expect_close({1000})


@case("7.1.4", "a text message after our close is not echoed (§5.5.1)")
def _text_after_close(ctx):
    ws = ctx.connect()
    ws.send(encode_frame(OP_CLOSE, close_payload(1000)) + encode_frame(OP_TEXT, b"late"))
    ws.expect_close({1000})


@case("7.1.5", "close in the middle of a fragmented message is answered (§5.4: control between fragments)")
def _close_mid_message(ctx):
    ws = ctx.connect()
    ws.send(encode_frame(OP_TEXT, b"fragment", fin=False) + encode_frame(OP_CLOSE, close_payload(1000)))
    ws.expect_close({1000})


@case("7.1.6", "256 KiB of text, then a close in the same write: echo first, then close (§7.1.2)")
def _big_then_close(ctx):
    ws = ctx.connect(timeout=15)
    t = text_of(256 * 1024)
    ws.send(encode_frame(OP_TEXT, t) + encode_frame(OP_CLOSE, close_payload(1000)))
    ws.expect_echo_then_close(OP_TEXT, t, {1000})


@case("7.3.1", "close without payload is answered (with no code, or 1000) (§5.5.1, §7.1.5)")
def _close_empty(ctx):
    ws = ctx.connect()
    ws.send_frame(OP_CLOSE, b"")
    ws.expect_close({None, 1000})


@case("7.3.2", "close with a 1-byte payload fails the connection with 1002 (§5.5.1)")
def _close_one_byte(ctx):
    ws = ctx.connect()
    ws.send_frame(OP_CLOSE, b"\x03")
    ws.expect_close({1002})


@case("7.3.3", "close 1000 with a reason is answered (§5.5.1)")
def _close_reason(ctx):
    ws = ctx.connect()
    ws.send_close(1000, "Hello World!")
    ws.expect_close({1000})


@case("7.3.4", "close 1000 with a 123-byte reason (125 in all) is answered (§5.5)")
def _close_reason_max(ctx):
    ws = ctx.connect()
    ws.send_close(1000, "*" * 123)
    ws.expect_close({1000})


@case("7.3.5", "close 1000 with a 124-byte reason (126 in all) fails with 1002 (§5.5)")
def _close_reason_too_long(ctx):
    ws = ctx.connect()
    ws.send_close(1000, "*" * 124)
    ws.expect_close({1002})


@case("7.5.1", "close reason with invalid UTF-8 fails the connection with 1007 (§5.5.1, §8.1)")
def _close_bad_utf8(ctx):
    ws = ctx.connect()
    ws.send_frame(OP_CLOSE, struct.pack("!H", 1000) + PREFIX + b"\xed\xa0\x80")
    ws.expect_close({1007})


VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]
for _i, _code in enumerate(VALID_CODES):
    def _valid_code(ctx, code=_code):
        ws = ctx.connect()
        ws.send_close(code, "reason")
        ws.expect_close({code, 1000})
    case("7.7.%d" % (_i + 1), "close with valid code %d is answered with it (or 1000) (§7.4)" % _code)(_valid_code)

INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
for _i, _code in enumerate(INVALID_CODES):
    def _invalid_code(ctx, code=_code):
        ws = ctx.connect()
        ws.send_close(code)
        ws.expect_close({1002})
    case("7.9.%d" % (_i + 1), "close with invalid code %d fails the connection with 1002 (§7.4)" % _code)(_invalid_code)


# ---------------------------------------------------------------- 9 large and many
SIZES = [64 * 1024, 256 * 1024, 1 << 20, 4 << 20, 16 << 20]
for _i, _n in enumerate(SIZES):
    for _j, _op in enumerate([OP_TEXT, OP_BINARY]):
        def _large(ctx, n=_n, op=_op):
            if n > ctx.max_message:
                raise NonStrict("skipped: above the server's message limit %d" % ctx.max_message)
            data = text_of(n) if op == OP_TEXT else binary_of(n)
            ws = ctx.connect(timeout=60)
            ws.send_frame(op, data)
            ws.expect_message(op, data)
            ws.close_normally()
        case("9.%d.%d" % (_j + 1, _i + 1), "%s message of %d bytes is echoed"
             % ("text" if _op == OP_TEXT else "binary", _n))(_large)

for _i, _frag in enumerate([64, 256, 1024, 4096, 65536, 1 << 20]):
    def _fragmented_large(ctx, frag=_frag):
        data = binary_of(4 << 20)
        ws = ctx.connect(timeout=60)
        ws.send(b"".join(encode_frame(OP_BINARY if k == 0 else OP_CONT, data[k:k + frag],
                                      fin=k + frag >= len(data)) for k in range(0, len(data), frag)))
        ws.expect_message(OP_BINARY, data)
        ws.close_normally()
    case("9.3.%d" % (_i + 1), "4 MiB binary message in fragments of %d bytes is echoed (§5.4)" % _frag)(_fragmented_large)

for _i, _chunk in enumerate([64, 1024, 65536]):
    def _chopped(ctx, chunk=_chunk):
        data = text_of(1 << 20)
        ws = ctx.connect(timeout=60)
        ws.send_frame(OP_TEXT, data, chunk=chunk)
        ws.expect_message(OP_TEXT, data)
        ws.close_normally()
    case("9.5.%d" % (_i + 1), "1 MiB text message written %d bytes at a time is echoed" % _chunk)(_chopped)

for _i, (_op, _size) in enumerate([(OP_TEXT, 10), (OP_BINARY, 1024), (OP_TEXT, 16 * 1024)]):
    def _pipelined(ctx, op=_op, size=_size):
        ws = ctx.connect(timeout=60)
        msgs = [(b"%06d" % k + (text_of(size) if op == OP_TEXT else binary_of(size)))[:max(size, 6)]
                for k in range(1000)]
        ws.send(b"".join(encode_frame(op, m) for m in msgs))
        for m in msgs:
            ws.expect_message(op, m)
        ws.close_normally()
    case("9.7.%d" % (_i + 1), "1000 pipelined %s messages of %d bytes are echoed in order"
         % ("text" if _op == OP_TEXT else "binary", _size))(_pipelined)


# ---------------------------------------------------------------- 10 misc
@case("10.1.1", "unmasked frame from a client fails the connection with 1002 (§5.1)")
def _unmasked(ctx):
    ws = ctx.connect()
    ws.send_frame(OP_TEXT, b"Hello", mask=False)
    ws.expect_close({1002})


@case("10.1.2", "unmasked ping from a client fails the connection with 1002 (§5.1)")
def _unmasked_ping(ctx):
    ws = ctx.connect()
    ws.send_frame(OP_PING, b"Hello", mask=False)
    ws.expect_close({1002})


@case("10.2.1", "a frame announcing one byte more than the message limit: close 1009 (§7.4.1)")
def _too_big_frame(ctx):
    ws = ctx.connect(timeout=60)
    n = ctx.max_message + 1
    frame = encode_frame(OP_BINARY, b"\x00" * 1024, length=n)
    # The limit is known from the header: the close should not need the payload.
    try:
        ws.send(frame)
        ws.expect_close({1009}, timeout=3.0)
        return
    except CaseFailed as e:
        if "did not close" not in str(e):
            raise
    ws.send(b"\x00" * (n - 1024), chunk=1 << 20)
    ws.expect_close({1009}, timeout=60)


@case("10.2.2", "a fragmented message growing past the limit: close 1009 (§7.4.1)")
def _too_big_message(ctx):
    ws = ctx.connect(timeout=60)
    half = ctx.max_message // 2 + 1
    data = binary_of(half)
    ws.send(encode_frame(OP_BINARY, data, fin=False) + encode_frame(OP_CONT, data))
    ws.expect_close({1009}, timeout=60)


@case("10.3.1", "64-bit payload length with the top bit set fails with 1002 (§5.2)")
def _top_bit(ctx):
    ws = ctx.connect()
    key = os.urandom(4)
    ws.send(struct.pack("!BBQ", 0x82, 0x80 | 127, (1 << 63) | 5) + key + b"Hello")
    ws.expect_close({1002})


@case("10.4.1", "text, ping and close in one write: echo and pong (any order), then the close")
def _mixed_batch(ctx):
    ws = ctx.connect()
    ws.send(encode_frame(OP_TEXT, b"one") + encode_frame(OP_PING, b"two") + encode_frame(OP_CLOSE, close_payload(1000)))
    try:
        ws.expect_unordered((OP_TEXT, b"one"), [b"two"])
    except EchoMissing:
        ws.expect_close({1000})
        raise NonStrict("close answered before the echo of the message sent before it")
    ws.expect_close({1000})


@case("10.5.1", "a pong between fragments is ignored and the message echoed (§5.4, §5.5.3)")
def _pong_between(ctx):
    ws = ctx.connect()
    ws.send(encode_frame(OP_TEXT, b"frag", fin=False) + encode_frame(OP_PONG, b"x") + encode_frame(OP_CONT, b"ment"))
    ws.expect_message(OP_TEXT, b"fragment")
    ws.close_normally()


# ---------------------------------------------------------------- H handshake
def _request(host, port, method=b"GET", version=b"HTTP/1.1", drop=(), extra=b"", key=None, ws_version=b"13"):
    import base64
    key = key if key is not None else base64.b64encode(os.urandom(16))
    fields = [(b"Host", ("%s:%d" % (host, port)).encode()), (b"Upgrade", b"websocket"),
              (b"Connection", b"Upgrade"), (b"Sec-WebSocket-Key", key),
              (b"Sec-WebSocket-Version", ws_version)]
    head = method + b" / " + version + b"\r\n"
    for name, value in fields:
        if name not in drop:
            head += name + b": " + value + b"\r\n"
    return head + extra + b"\r\n"


def _refusal(cid, desc, statuses, check=None, **kw):
    @case(cid, desc)
    def run(ctx):
        ws = ctx.raw()
        try:
            status, headers, _ = ws.handshake(raw=_request(ctx.host, ctx.port, **kw))
        except CaseFailed as e:
            if "closed before" in str(e):
                raise NonStrict("connection closed without an HTTP status (expected %s)" % sorted(statuses))
            raise
        if status == 101:
            raise CaseFailed("invalid handshake accepted with 101 (expected %s)" % sorted(statuses))
        if status not in statuses:
            raise NonStrict("refused with %d, expected %s" % (status, sorted(statuses)))
        if check:
            check(headers)
        ws.shutdown()


def _has_version_13(headers):
    # RFC 6455 §4.2.2: a 426 names the versions the server speaks.
    if "13" not in [v.strip() for v in headers.get("sec-websocket-version", "").split(",")]:
        raise CaseFailed("426 without Sec-WebSocket-Version: 13 (RFC 6455 §4.2.2)")


@case("H.1", "a valid handshake gets 101 with the right Sec-WebSocket-Accept (§4.2.2), then echo works")
def _hs_valid(ctx):
    ws = ctx.connect()
    ws.send_frame(OP_TEXT, b"after handshake")
    ws.expect_message(OP_TEXT, b"after handshake")
    ws.close_normally()


_refusal("H.2", "missing Host: 400 (§4.1, RFC 7230 §5.4)", {400}, drop=(b"Host",))
_refusal("H.3", "missing Upgrade: 400, or 426 Upgrade Required (§4.2.1; RFC 7231 §6.5.15)", {400, 426},
         drop=(b"Upgrade",))
_refusal("H.4", "missing Connection: 400, or 426 Upgrade Required (§4.2.1; RFC 7231 §6.5.15)", {400, 426},
         drop=(b"Connection",))
_refusal("H.5", "missing Sec-WebSocket-Key: 400 (§4.2.1)", {400}, drop=(b"Sec-WebSocket-Key",))
_refusal("H.6", "Sec-WebSocket-Key of 15 bytes: 400 (§4.1: 16 bytes)", {400}, key=b"AAAAAAAAAAAAAAAAAAAA")
_refusal("H.7", "Sec-WebSocket-Key of 17 bytes: 400 (§4.1: 16 bytes)", {400}, key=b"AAAAAAAAAAAAAAAAAAAAAAA=")
_refusal("H.8", "Sec-WebSocket-Version 8: 426 with Sec-WebSocket-Version: 13 (§4.2.2)", {426},
         check=_has_version_13, ws_version=b"8")
_refusal("H.9", "POST upgrade request: 405 (§4.1: the method must be GET)", {405}, method=b"POST")
_refusal("H.10", "request head over any sane limit (300 fields, 300 KiB): 431 (RFC 6585 §5)", {431},
         extra=b"".join(b"X-Filler-%d: %s\r\n" % (k, b"x" * 1000) for k in range(300)))
_refusal("H.11", "HTTP/1.0 upgrade request: 400 (§4.1: HTTP/1.1 or higher)", {400}, version=b"HTTP/1.0")
_refusal("H.12", "missing Sec-WebSocket-Version: 400 or 426 (§4.2.1, §4.4)", {400, 426},
         drop=(b"Sec-WebSocket-Version",))


@case("H.13", "the request delivered byte by byte gets 101 (§4.2.1)")
def _hs_bytewise(ctx):
    ws = ctx.raw()
    status, headers, _ = ws.handshake(chunk=1)
    ws.expect_accept(status, headers)
    ws.close_normally()


@case("H.14", "the request in three segments with pauses gets 101")
def _hs_split(ctx):
    ws = ctx.raw()
    req = _request(ctx.host, ctx.port, key=b"dGhlIHNhbXBsZSBub25jZQ==")
    ws.key = b"dGhlIHNhbXBsZSBub25jZQ=="
    for part in (req[:10], req[10:50], req[50:]):
        ws.send(part)
        time.sleep(0.05)
    status, headers, _ = ws.read_response_head()
    ws.expect_accept(status, headers)
    ws.close_normally()


@case("H.15", "a text frame in the same segment as the request is echoed after the 101 (§4.2.1)")
def _hs_with_frame(ctx):
    ws = ctx.raw()
    ws.key = b"dGhlIHNhbXBsZSBub25jZQ=="
    ws.send(_request(ctx.host, ctx.port, key=ws.key) + encode_frame(OP_TEXT, b"early bird") +
            encode_frame(OP_PING, b"early ping"))
    status, headers, _ = ws.read_response_head()
    ws.expect_accept(status, headers)
    ws.expect_unordered((OP_TEXT, b"early bird"), [b"early ping"])
    ws.close_normally()


@case("H.16", "header names and tokens are case-insensitive, Connection is a list (§4.2.1)")
def _hs_case(ctx):
    ws = ctx.raw()
    ws.key = b"dGhlIHNhbXBsZSBub25jZQ=="
    ws.send(b"GET /chat?x=1 HTTP/1.1\r\nhost: h\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n"
            b"sec-websocket-key: " + ws.key + b"\r\nsec-websocket-version: 13\r\n\r\n")
    status, headers, _ = ws.read_response_head()
    ws.expect_accept(status, headers)
    ws.close_normally()
