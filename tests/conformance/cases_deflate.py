"""permessage-deflate (RFC 7692) cases, against a server with the extension
on (run.py starts the --server command with --deflate-args, "--deflate"
by default: cws-echo then compresses every echo).

    12  echo of compressed messages (Autobahn's group 12): text and binary,
        realistic and random, 16 B to 512 KiB, many in a row (context
        takeover), zlib's block types and flush modes, fragments
    13  the parameters (Autobahn's group 13): the response per §7.1, then
        the server honours it (windows by the distances it uses, no
        context takeover by identical payloads) and reads our window
    14  offers (§5, §7): malformed, unknown, duplicated, out of range ->
        declined (101 without the extension, working uncompressed); the
        first acceptable of several wins; quoted values; split fields
    15  hostile peers: RSV1 where §6.1 forbids it, corrupt DEFLATE data,
        decompression bombs, invalid UTF-8 after inflating, and the
        unusual but valid encodings of §7.2.3 (BFINAL, several blocks,
        empty fragments)

The test peer's codec is Python's zlib (wsclient.PMD); where zlib cannot
produce an encoding (a distance of exactly 2^w, a match on an empty
window), `deflate_fixed` writes a fixed-Huffman block by hand, and
`wsclient.inflate_stats` decodes the server's output bit by bit to see
the distances it used."""
import random
import socket
import time
import zlib

from cases import PREFIX, Context, case  # noqa: F401
from wsclient import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, PMD, TAIL, WS, CaseFailed,
                      NonStrict, check_pmd_response, close_payload, encode_frame, inflate_stats,
                      pmd_offer)

# ---------------------------------------------------------------- helpers


def dws(ctx, deflate=None, extensions=None, timeout=None):
    """A connection to the deflate server; deflate=dict offers the
    extension with those parameters (must be accepted), extensions= sends
    raw offers."""
    ep = ctx.endpoint("deflate")
    if ep is None:
        raise NonStrict("skipped: no server with permessage-deflate (give --deflate-url)")
    ws = WS(ep[0], ep[1], timeout or ctx.timeout)
    return ws.open(deflate=deflate, extensions=extensions)


def dopen(ctx, timeout=None, **offer):
    """dws with an offer that the server must accept."""
    ws = dws(ctx, deflate=offer, timeout=timeout)
    if ws.pmd is None:
        raise CaseFailed("the server declined a valid offer %r (RFC 7692 §5)" % offer)
    return ws


NAMES = ["alice", "bob", "carol", "dmitri", "émilie", "françois", "jürgen", "李雷", "наташа", "zoë"]
ACTIONS = ["login", "logout", "update", "delete", "comment", "like", "share", "subscribe"]


def json_text(n, seed=0):
    """n bytes of JSON-like UTF-8 text (records with repeating keys and
    varying values), cut at a character boundary and padded with spaces."""
    rnd = random.Random(seed)
    parts, size = [], 0
    while size < n:
        rec = ('{"id":%d,"user":"%s","action":"%s","ts":"2024-%02d-%02dT%02d:%02d:%02dZ","score":%.4f,'
               '"tags":[%s],"text":"%s"}' % (
                   rnd.randrange(1 << 30), rnd.choice(NAMES), rnd.choice(ACTIONS), rnd.randint(1, 12),
                   rnd.randint(1, 28), rnd.randint(0, 23), rnd.randint(0, 59), rnd.randint(0, 59),
                   rnd.random(), ",".join('"t%d"' % rnd.randrange(50) for _ in range(rnd.randint(0, 4))),
                   " ".join(rnd.choice(NAMES + ACTIONS) for _ in range(rnd.randint(1, 12))))).encode()
        parts.append(rec + b",\n")
        size += len(rec) + 2
    data = b"".join(parts)[:n]
    while True:
        try:
            data.decode("utf-8")
            break
        except UnicodeDecodeError:
            data = data[:-1]
    return data + b" " * (n - len(data))


def fits(ctx, n):
    """Skips a case whose messages exceed the server's limit (as group 9)."""
    if n > ctx.max_message:
        raise NonStrict("skipped: above the server's message limit %d" % ctx.max_message)


def random_bytes(n, seed=0):
    return random.Random(seed).randbytes(n)


class Echoes:
    """Sends messages and checks their echoes; counts echoes that came
    uncompressed although the server compresses from ctx.deflate_threshold
    bytes (not an RFC violation: a NON-STRICT verdict at the end)."""

    def __init__(self, ctx, ws):
        self.ctx, self.ws, self.plain = ctx, ws, 0
        self.wires = []  # the compressed payload of each echo

    def expect(self, op, data, timeout=None):
        self.ws.expect_message(op, data, timeout=timeout)
        self.wires.append(self.ws.last_wire if self.ws.last_rsv1 else None)
        if not self.ws.last_rsv1 and len(data) >= self.ctx.deflate_threshold:
            self.plain += 1

    def echo(self, op, data, compress=True, timeout=None):
        self.ws.send_message(op, data, compress=compress)
        self.expect(op, data, timeout)

    def finish(self):
        self.ws.close_normally()
        if self.plain:
            raise NonStrict("%d echoes came uncompressed (threshold %d)" % (self.plain, self.ctx.deflate_threshold))


class _Bits:
    """A DEFLATE bit writer (RFC 1951 §3.1.1: data LSB first, Huffman
    codes MSB first)."""

    def __init__(self):
        self.v, self.n = 0, 0

    def put(self, value, n):
        self.v |= value << self.n
        self.n += n

    def code(self, code, n):
        self.put(int(format(code, "0%db" % n)[::-1], 2), n)

    def align(self):
        self.n = (self.n + 7) & ~7

    def bytes(self):
        return self.v.to_bytes((self.n + 7) // 8, "little")


_LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99,
             115, 131, 163, 195, 227, 258]
_LEN_EXTRA = [0] * 8 + [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4 + [5] * 4 + [0]
_DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025,
              1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
_DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12,
               12, 13, 13]


def _fixed_lit(b, sym):
    if sym < 144:
        b.code(0x30 + sym, 8)
    elif sym < 256:
        b.code(0x190 + sym - 144, 9)
    elif sym < 280:
        b.code(sym - 256, 7)
    else:
        b.code(0xC0 + sym - 280, 8)


def deflate_fixed(ops, final=False, flush=True, raw_dist_code=None):
    """One fixed-Huffman block (RFC 1951 §3.2.6) from ops: bytes are
    literals, (length, distance) a match, an int a raw literal/length
    symbol (to write invalid ones). flush=True ends it like a sync flush
    without the tail: an empty stored block header, byte-aligned (the
    receiver's 00 00 ff ff completes it, §7.2.2)."""
    b = _Bits()
    b.put(1 if final else 0, 1)
    b.put(1, 2)
    for op in ops:
        if isinstance(op, (bytes, bytearray)):
            for x in op:
                _fixed_lit(b, x)
        elif isinstance(op, int):
            _fixed_lit(b, op)
            if op > 256:
                b.put(0, _LEN_EXTRA[op - 257] if op - 257 < 29 else 0)
                b.code(raw_dist_code if raw_dist_code is not None else 0, 5)
        else:
            length, dist = op
            i = 28 if length == 258 else max(k for k in range(29) if _LEN_BASE[k] <= length)
            _fixed_lit(b, 257 + i)
            b.put(length - _LEN_BASE[i], _LEN_EXTRA[i])
            j = max(k for k in range(30) if _DIST_BASE[k] <= dist)
            b.code(j, 5)
            b.put(dist - _DIST_BASE[j], _DIST_EXTRA[j])
    _fixed_lit(b, 256)
    if flush and not final:
        b.put(0, 3)
        b.align()
    return b.bytes()


def send_compressed(ws, op, payload, fin=True, rsv=4, chunk=None):
    """Sends an already compressed payload as one frame with RSV1."""
    ws.send(encode_frame(op, payload, fin=fin, rsv=rsv), chunk=chunk)


# ---------------------------------------------------------------- 12 echo
SIZES = [16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072, 524288]


def _count_for(n):
    return 10 if n <= 65536 else (4 if n <= 131072 else 2)


for _i, _n in enumerate(SIZES):
    def _json(ctx, n=_n):
        fits(ctx, n)
        ws = dopen(ctx, timeout=30)
        e = Echoes(ctx, ws)
        for k in range(_count_for(n)):
            e.echo(OP_TEXT, json_text(n, seed=k))
        e.finish()

    def _random(ctx, n=_n):
        fits(ctx, n)
        ws = dopen(ctx, timeout=30)
        e = Echoes(ctx, ws)
        for k in range(_count_for(n)):
            e.echo(OP_BINARY, random_bytes(n, seed=k))
        e.finish()

    def _repeat(ctx, n=_n):
        fits(ctx, n)
        # The same message again and again: with context takeover both
        # sides can send the repeats as a few back references (§7.2.3.2).
        ws = dopen(ctx, timeout=30)
        e = Echoes(ctx, ws)
        data = json_text(n, seed=99)
        for k in range(_count_for(n)):
            e.echo(OP_TEXT, data)
        e.finish()
    case("12.1.%d" % (_i + 1), "%d compressed JSON-like text messages of %d bytes, one connection: "
         "echoed compressed" % (_count_for(_n), _n))(_json)
    case("12.2.%d" % (_i + 1), "%d compressed random binary messages of %d bytes: echoed compressed"
         % (_count_for(_n), _n))(_random)
    case("12.3.%d" % (_i + 1), "the same %d-byte text %d times (context takeover both ways, §7.2.3.2)"
         % (_n, _count_for(_n)))(_repeat)


@case("12.4.1", "1000 pipelined compressed JSON messages of 50-400 bytes: echoes in order (context takeover)")
def _pipelined_small(ctx):
    ws = dopen(ctx, timeout=30)
    rnd = random.Random(7)
    msgs = [json_text(rnd.randint(50, 400), seed=k) for k in range(1000)]
    ws.send(b"".join(encode_frame(OP_TEXT, ws.pmd.compress(m), rsv=4) for m in msgs))
    e = Echoes(ctx, ws)
    for m in msgs:
        e.expect(OP_TEXT, m)
    e.finish()


@case("12.4.2", "200 pipelined compressed binary messages of 4 KiB, half random, half repetitive")
def _pipelined_4k(ctx):
    ws = dopen(ctx, timeout=30)
    msgs = [random_bytes(4096, k) if k % 2 else (b"%05d" % k) * 820 for k in range(200)]
    ws.send(b"".join(encode_frame(OP_BINARY, ws.pmd.compress(m), rsv=4) for m in msgs))
    e = Echoes(ctx, ws)
    for m in msgs:
        e.expect(OP_BINARY, m)
    e.finish()


@case("12.4.3", "compressed and uncompressed messages alternate; uncompressed ones leave the window alone (§7.2.3.2)")
def _alternate(ctx):
    ws = dopen(ctx)
    e = Echoes(ctx, ws)
    for k in range(40):
        data = json_text(300 + 37 * k, seed=k % 5)
        e.echo(OP_TEXT, data, compress=(k % 3 != 1))
    e.finish()


@case("12.4.4", "messages of 0 to 300 bytes, every size, compressed, on one connection")
def _every_size(ctx):
    ws = dopen(ctx, timeout=20)
    e = Echoes(ctx, ws)
    for n in range(301):
        e.echo(OP_BINARY if n % 2 else OP_TEXT, json_text(n, n) if n % 2 == 0 else random_bytes(n, n))
    e.finish()


# zlib's encodings: levels, strategies (stored, fixed, Huffman only, RLE), flush modes.
STRATEGIES = [
    ("level 0: stored blocks only (§7.2.3.3)", dict(level=0)),
    ("level 1", dict(level=1)),
    ("level 9", dict(level=9)),
    ("Z_FIXED: fixed Huffman blocks only", dict(strategy=zlib.Z_FIXED)),
    ("Z_HUFFMAN_ONLY: no matches", dict(strategy=zlib.Z_HUFFMAN_ONLY)),
    ("Z_RLE: distance-1 matches only", dict(strategy=zlib.Z_RLE)),
    ("memLevel 1 (small hash, many blocks)", dict(memlevel=1)),
]
for _i, (_name, _kw) in enumerate(STRATEGIES):
    def _strategy(ctx, kw=_kw):
        fits(ctx, 200000)
        ws = dopen(ctx, timeout=20)
        c = zlib.compressobj(kw.get("level", 6), zlib.DEFLATED, -15, kw.get("memlevel", 8),
                             kw.get("strategy", zlib.Z_DEFAULT_STRATEGY))
        e = Echoes(ctx, ws)
        for k, n in enumerate([10, 1000, 40000, 200000]):
            data = json_text(n, seed=k) if k % 2 == 0 else random_bytes(n // 2, k) + json_text(n // 2, k)
            payload = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
            send_compressed(ws, OP_TEXT if k % 2 == 0 else OP_BINARY, payload[:-4])
            e.expect(OP_TEXT if k % 2 == 0 else OP_BINARY, data)
        e.finish()
    case("12.5.%d" % (_i + 1), "messages compressed by zlib with %s are echoed" % _name)(_strategy)


@case("12.5.8", "zlib full flushes and sync flushes inside a message (several blocks and empty stored blocks)")
def _flushes(ctx):
    ws = dopen(ctx)
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = json_text(20000, 3)
    payload = b""
    for k in range(0, len(data), 3000):
        payload += c.compress(data[k:k + 3000]) + c.flush(zlib.Z_FULL_FLUSH if k % 6000 else zlib.Z_SYNC_FLUSH)
    e = Echoes(ctx, ws)
    send_compressed(ws, OP_TEXT, payload[:-4])
    e.expect(OP_TEXT, data)
    e.finish()


@case("12.5.9", "a message ending in two empty stored blocks: one flush's tail kept, a second flush's stripped")
def _tail_kept(ctx):
    # §7.2.1 strips only the last flush's 00 00 ff ff; an earlier one may
    # stay. The payload ends with the header byte 0x00 of the last empty
    # stored block, completed by the receiver's 00 00 ff ff.
    ws = dopen(ctx)
    e = Echoes(ctx, ws)
    for k in range(5):
        data = json_text(500, k)
        send_compressed(ws, OP_TEXT, ws.pmd.compress(data, strip=False) + b"\x00")
        e.expect(OP_TEXT, data)
    e.finish()


for _i, _frag in enumerate([1, 7, 100, 4096]):
    def _fragmented(ctx, frag=_frag):
        ws = dopen(ctx, timeout=30)
        e = Echoes(ctx, ws)
        for k in range(3):
            data = json_text(30000, k)
            payload = ws.pmd.compress(data)
            frames = [encode_frame(OP_TEXT if j == 0 else OP_CONT, payload[j:j + frag],
                                   fin=j + frag >= len(payload), rsv=4 if j == 0 else 0)
                      for j in range(0, len(payload), frag)]
            ws.send(b"".join(frames))
            e.expect(OP_TEXT, data)
        e.finish()
    case("12.6.%d" % (_i + 1), "compressed 30 KB text in fragments of %d bytes, RSV1 on the first only (§6.1)"
         % _frag)(_fragmented)


@case("12.6.5", "compressed message delivered to TCP byte by byte")
def _bytewise(ctx):
    ws = dopen(ctx, timeout=20)
    e = Echoes(ctx, ws)
    data = json_text(2000, 1)
    send_compressed(ws, OP_TEXT, ws.pmd.compress(data), chunk=1)
    e.expect(OP_TEXT, data)
    e.finish()


@case("12.6.6", "compressed text in 2 fragments, cut at every byte of the compressed payload")
def _every_cut(ctx):
    ws = dopen(ctx, timeout=20)
    e = Echoes(ctx, ws)
    data = "Hello-µ@ßöäüàá-UTF-8!! κόσμε".encode() * 3
    payload = PMD(client_nct=True).compress(data)
    for k in range(len(payload) + 1):
        ws.send(encode_frame(OP_TEXT, payload[:k], fin=False, rsv=4) + encode_frame(OP_CONT, payload[k:]))
        e.expect(OP_TEXT, data)
    e.finish()


@case("12.6.7", "pings between the fragments of a compressed message are answered")
def _pings_between(ctx):
    ws = dopen(ctx)
    data = json_text(5000, 2)
    payload = ws.pmd.compress(data)
    third = len(payload) // 3
    ws.send(encode_frame(OP_TEXT, payload[:third], fin=False, rsv=4) + encode_frame(OP_PING, b"p1") +
            encode_frame(OP_CONT, payload[third:2 * third], fin=False) + encode_frame(OP_PING, b"p2") +
            encode_frame(OP_CONT, payload[2 * third:]))
    ws.expect_pong(b"p1")
    ws.expect_pong(b"p2")
    e = Echoes(ctx, ws)
    e.expect(OP_TEXT, data)
    e.finish()


@case("12.6.8", "large compressed message (4 MiB text) in one frame, then its echo")
def _large(ctx):
    fits(ctx, 4 << 20)
    ws = dopen(ctx, timeout=60)
    data = json_text(4 << 20, 11)
    e = Echoes(ctx, ws)
    e.echo(OP_TEXT, data, timeout=60)
    e.finish()


# ---------------------------------------------------------------- 13 parameters
def _window_probe(bits, seed):
    """Data whose best matches lie just beyond 2^bits (a random block
    repeated after 2^bits bytes of other random data) and well within it
    (JSON): a compressor with a larger window would use the far ones."""
    far = random_bytes(400, seed)
    return far + random_bytes(1 << bits, seed + 1) + far + json_text(6000, seed) + far


def _check_server_window(ctx, ws, bits, msgs, hist_ok):
    """Echoes msgs (compressed) and decodes each echo bit by bit: no
    distance may exceed 2^bits (§7.2.1: the server MUST NOT use a larger
    window), counting into earlier messages unless no context takeover."""
    e = Echoes(ctx, ws)
    hist, maxd = b"", 0
    for op, data in msgs:
        e.echo(op, data)
        if not ws.last_rsv1:
            continue
        out, d, _, _ = inflate_stats(ws.last_wire + TAIL, history=hist if hist_ok else b"")
        if out != data:
            raise CaseFailed("reference inflater disagrees with zlib on the echo")
        maxd = max(maxd, d)
        hist = (hist + data)[-32768:]
    if maxd > (1 << bits):
        raise CaseFailed("the server used a match distance of %d with server_max_window_bits=%d "
                         "(window %d, RFC 7692 §7.2.1)" % (maxd, bits, 1 << bits))
    return e


@case("13.1.1", "bare offer: the response is valid (§7.1) and both directions compress")
def _bare(ctx):
    ws = dopen(ctx)
    e = Echoes(ctx, ws)
    for k in range(20):
        e.echo(OP_TEXT, json_text(700, k))
    e.finish()


for _i, _bits in enumerate(range(8, 16)):
    def _server_bits(ctx, bits=_bits):
        ws = dopen(ctx, timeout=20, server_max_window_bits=bits)
        if ws.pmd.server_bits > bits:
            raise CaseFailed("response window above the offer")
        msgs = [(OP_BINARY, _window_probe(bits, 1)), (OP_TEXT, json_text(20000, 2)),
                (OP_BINARY, _window_probe(bits, 3))]
        _check_server_window(ctx, ws, ws.pmd.server_bits, msgs, not ws.pmd.server_nct).finish()
    case("13.2.%d" % (_i + 1), "server_max_window_bits=%d: echoed in the response with <= %d, and the "
         "server's matches stay within 2^%d (§7.1.2.1, §7.2.1)" % (_bits, _bits, _bits))(_server_bits)

for _i, _bits in enumerate(range(8, 16)):
    def _client_bits(ctx, bits=_bits):
        ws = dopen(ctx, timeout=20, client_max_window_bits=bits)
        # The response may lower our window (or leave it out: then the
        # offered value still binds us). zlib compresses with at least 9
        # bits (see wsclient.PMD): within 256 bytes nonetheless.
        ws.pmd.client_bits = min(ws.pmd.client_bits, bits)
        e = Echoes(ctx, ws)
        for k in range(6):
            e.echo(OP_TEXT if k % 2 else OP_BINARY, json_text(10000, k) if k % 2 else _window_probe(bits, k))
        # A match at exactly the window's size, into this message and
        # into the previous one: the server must keep 2^bits bytes (§7.2.2).
        w = 1 << ws.pmd.client_bits
        block = random_bytes(w, 77)
        send_compressed(ws, OP_BINARY, deflate_fixed([block, (200, w)]))
        e.expect(OP_BINARY, block + block[:200])
        if not ws.pmd.client_nct:
            hist = block + block[:200]
            payload = deflate_fixed([(258, w)])
            send_compressed(ws, OP_BINARY, payload)
            e.expect(OP_BINARY, inflate_stats(payload + TAIL, history=hist)[0])
        e.finish()
    case("13.3.%d" % (_i + 1), "client_max_window_bits=%d: answered with <= %d; the server reads our "
         "window, matches of exactly 2^%d included (§7.1.2.2, §7.2.2)" % (_bits, _bits, _bits))(_client_bits)


@case("13.4.1", "server_no_context_takeover: echoed in the response; identical messages compress identically (§7.1.1.1)")
def _snct(ctx):
    ws = dopen(ctx, server_no_context_takeover=True)
    if not ws.pmd.server_nct:
        raise CaseFailed("server_no_context_takeover offered but not agreed")
    e = Echoes(ctx, ws)
    data = json_text(3000, 5)
    for _ in range(4):
        e.echo(OP_TEXT, data)  # each echo inflates with a fresh window (PMD.decompress)
    wires = [w for w in e.wires if w is not None]
    if len(set(wires)) > 1:
        raise CaseFailed("identical messages compressed differently despite server_no_context_takeover")
    e.finish()


@case("13.4.2", "client_no_context_takeover: accepted; each of our messages is compressed alone")
def _cnct(ctx):
    ws = dopen(ctx, client_no_context_takeover=True)
    e = Echoes(ctx, ws)
    data = json_text(3000, 5)
    for k in range(6):
        e.echo(OP_TEXT, data if k % 2 else json_text(2000, k))
    e.finish()


@case("13.4.3", "both no_context_takeover flags: every message alone in both directions")
def _both_nct(ctx):
    ws = dopen(ctx, client_no_context_takeover=True, server_no_context_takeover=True)
    if not ws.pmd.server_nct:
        raise CaseFailed("server_no_context_takeover offered but not agreed")
    e = Echoes(ctx, ws)
    for k in range(10):
        e.echo(OP_BINARY, random_bytes(100, k) * 20)
    e.finish()


@case("13.4.4", "without client_no_context_takeover the server keeps our window: a message made only of "
      "a reference into the previous one (§7.2.2)")
def _takeover(ctx):
    ws = dopen(ctx)
    if ws.pmd.client_nct:
        raise NonStrict("skipped: the server asked for client_no_context_takeover")
    e = Echoes(ctx, ws)
    first = json_text(1000, 8)
    e.echo(OP_BINARY, first)
    # An uncompressed message between does not touch the window (§7.2.3.2).
    e.echo(OP_TEXT, b"plain in between", compress=False)
    send_compressed(ws, OP_BINARY, deflate_fixed([(258, 1000), (100, 1000)]))
    e.expect(OP_BINARY, first[:358])
    e.finish()


COMBOS = [
    dict(server_no_context_takeover=True, client_no_context_takeover=True, server_max_window_bits=8,
         client_max_window_bits=8),
    dict(server_no_context_takeover=True, server_max_window_bits=9, client_max_window_bits=True),
    dict(client_no_context_takeover=True, server_max_window_bits=12, client_max_window_bits=10),
    dict(server_max_window_bits=15, client_max_window_bits=15),
    dict(client_max_window_bits=True),
    dict(server_max_window_bits=10, client_no_context_takeover=True),
    dict(server_no_context_takeover=True, client_max_window_bits=9),
]
for _i, _offer in enumerate(COMBOS):
    def _combo(ctx, offer=_offer):
        ws = dopen(ctx, timeout=20, **offer)
        p = ws.pmd
        if offer.get("client_max_window_bits") not in (None, True):
            p.client_bits = min(p.client_bits, offer["client_max_window_bits"])
        msgs = []
        for k in range(8):
            msgs.append((OP_TEXT, json_text(2000 + 1500 * k, k % 3)) if k % 2 else
                        (OP_BINARY, _window_probe(p.server_bits, k)))
        e = _check_server_window(ctx, ws, p.server_bits, msgs, not p.server_nct)
        e.finish()
    case("13.5.%d" % (_i + 1), "offer %s: valid response, honoured both ways"
         % "; ".join(k if v is True else "%s=%s" % (k, v) for k, v in _offer.items()))(_combo)


# ---------------------------------------------------------------- 14 offers
# Offers whose header is broken as RFC 6455 §9.1 syntax: RFC 7692 §5 asks
# to decline invalid offers, but says nothing of unparsable headers, so a
# refusal (400) is the right outcome (no compression), only not the exact one.
SYNTAX = {"trailing ';'", "empty parameter between ';'", "unterminated quoted value", "parameter without a name",
          "parameters without ';'", "a malformed element (quoted comma) before a good one"}


def _declined(cid, desc, offers, plain_server=False, syntax=False):
    @case(cid, desc)
    def run(ctx):
        if plain_server:
            ws = WS(ctx.host, ctx.port, ctx.timeout)
        else:
            ep = ctx.endpoint("deflate")
            if ep is None:
                raise NonStrict("skipped: no server with permessage-deflate")
            ws = WS(ep[0], ep[1], ctx.timeout)
        extra = b"".join(b"Sec-WebSocket-Extensions: " + o.encode("latin-1") + b"\r\n" for o in offers)
        status, headers, _ = ws.handshake(extra=extra)
        if status == 400 and syntax:
            raise NonStrict("refused with 400 for a malformed Sec-WebSocket-Extensions (declining is enough)")
        if status != 101:
            raise CaseFailed("answered %d: a bad offer is declined, not refused (RFC 7692 §5, §7)" % status)
        if "sec-websocket-extensions" in headers:
            raise CaseFailed("accepted %r for the offer %r (RFC 7692 §7: decline it)"
                             % (headers["sec-websocket-extensions"], offers))
        ws.expect_accept(status, headers)
        ws.send_message(OP_TEXT, b"uncompressed after a declined offer")
        ws.expect_message(OP_TEXT, b"uncompressed after a declined offer", compressed=False)
        # Without the extension RSV1 means nothing agreed: 1002 (RFC 6455 §5.2).
        ws.send(encode_frame(OP_TEXT, PMD().compress(b"Hello"), rsv=4))
        ws.expect_close({1002})


DECLINED = [
    ("unknown parameter", ["permessage-deflate; foo"]),
    ("unknown parameter with a value", ["permessage-deflate; foo=1"]),
    ("server_no_context_takeover twice", ["permessage-deflate; server_no_context_takeover; server_no_context_takeover"]),
    ("client_no_context_takeover twice", ["permessage-deflate; client_no_context_takeover; client_no_context_takeover"]),
    ("server_max_window_bits twice", ["permessage-deflate; server_max_window_bits=10; server_max_window_bits=10"]),
    ("client_max_window_bits twice", ["permessage-deflate; client_max_window_bits; client_max_window_bits=10"]),
    ("server_max_window_bits without a value", ["permessage-deflate; server_max_window_bits"]),
    ("server_max_window_bits=7", ["permessage-deflate; server_max_window_bits=7"]),
    ("server_max_window_bits=16", ["permessage-deflate; server_max_window_bits=16"]),
    ("server_max_window_bits=08 (leading zero)", ["permessage-deflate; server_max_window_bits=08"]),
    ("server_max_window_bits=0", ["permessage-deflate; server_max_window_bits=0"]),
    ("server_max_window_bits=1a", ["permessage-deflate; server_max_window_bits=1a"]),
    ("server_max_window_bits=\"\" (empty quoted)", ['permessage-deflate; server_max_window_bits=""']),
    ("server_max_window_bits=\"1 0\" (quoted, not a number)", ['permessage-deflate; server_max_window_bits="1 0"']),
    ("client_max_window_bits=7", ["permessage-deflate; client_max_window_bits=7"]),
    ("client_max_window_bits=16", ["permessage-deflate; client_max_window_bits=16"]),
    ("server_no_context_takeover with a value", ["permessage-deflate; server_no_context_takeover=1"]),
    ("client_no_context_takeover with a quoted value", ['permessage-deflate; client_no_context_takeover="x"']),
    ("trailing ';'", ["permessage-deflate;"]),
    ("empty parameter between ';'", ["permessage-deflate; ; server_no_context_takeover"]),
    ("unterminated quoted value", ['permessage-deflate; server_max_window_bits="10']),
    ("parameter without a name", ["permessage-deflate; =10"]),
    ("parameters without ';'", ["permessage-deflate server_no_context_takeover"]),
    ("the name only inside a quoted string", ['x-foo; a="b, permessage-deflate"']),
    ("another extension only", ["x-webkit-deflate-frame"]),
    ("a longer name (permessage-deflate-x)", ["permessage-deflate-x"]),
    ("every offer invalid", ["permessage-deflate; foo, permessage-deflate; server_max_window_bits=5"]),
]
for _i, (_name, _offers) in enumerate(DECLINED):
    _declined("14.1.%d" % (_i + 1), "offer with %s is declined: 101 without the extension, "
              "uncompressed echo works, RSV1 is then 1002 (RFC 7692 §7)" % _name, _offers, syntax=_name in SYNTAX)
_declined("14.1.%d" % (len(DECLINED) + 1), "a valid offer to the server without --deflate is declined "
          "(101 without the extension)", ["permessage-deflate; client_max_window_bits"], plain_server=True)


def _accepted(cid, desc, offers, winner, syntax=False, lenient=False):
    """The server must accept, answering the offer `winner` (a dict, as
    pmd_offer takes): the first acceptable one (RFC 6455 §9.1: offers
    come in order of preference). syntax: the offers hold a malformed
    element (a 400 is NON-STRICT); lenient: accepting is not required by
    the RFC (declining is NON-STRICT)."""
    @case(cid, desc)
    def run(ctx):
        try:
            ws = dws(ctx, extensions=offers)
        except CaseFailed as e:
            if syntax and "answered 400" in str(e):
                raise NonStrict("refused with 400 for a malformed element before a good offer")
            raise
        if ws.pmd is None:
            if lenient:
                ws.close_normally()
                raise NonStrict("declined %r (the RFC does not make parameter names case-insensitive)" % offers)
            raise CaseFailed("declined an acceptable offer in %r" % offers)
        try:
            ws.pmd = check_pmd_response(ws.extensions, winner)
        except CaseFailed as e:
            raise CaseFailed("%s; the response %r does not answer the first acceptable offer %r"
                             % (e, ws.extensions, pmd_offer(**winner)))
        p = ws.pmd
        if winner.get("client_max_window_bits") not in (None, True):
            p.client_bits = min(p.client_bits, winner["client_max_window_bits"])
        e = Echoes(ctx, ws)
        for k in range(4):
            e.echo(OP_TEXT, json_text(1500, k))
        e.finish()


ACCEPTED = [
    ("a bad offer, then a good one: the good one wins",
     ["permessage-deflate; foo, permessage-deflate; server_max_window_bits=10"], dict(server_max_window_bits=10)),
    ("two good offers: the first wins (RFC 6455 §9.1: by preference)",
     ["permessage-deflate; server_max_window_bits=10, permessage-deflate"], dict(server_max_window_bits=10)),
    ("two good offers, the bare one first: it wins (no server_no_context_takeover forced from the second)",
     ["permessage-deflate, permessage-deflate; server_max_window_bits=10; server_no_context_takeover"], {}),
    ("another extension first", ["x-webkit-deflate-frame, permessage-deflate; client_max_window_bits"],
     dict(client_max_window_bits=True)),
    ("offers in two header fields", ["x-foo", "permessage-deflate; server_max_window_bits=11"],
     dict(server_max_window_bits=11)),
    ("a malformed element (quoted comma) before a good one",
     ['permessage-deflate; x="a, b", permessage-deflate; server_max_window_bits=12'], dict(server_max_window_bits=12)),
    ("quoted window value \"10\" (§7.1: quoted values follow the same ABNF)",
     ['permessage-deflate; server_max_window_bits="10"'], dict(server_max_window_bits=10)),
    ("quoted client window value \"9\"", ['permessage-deflate; client_max_window_bits="9"'],
     dict(client_max_window_bits=9)),
    ("quoted-pair inside a value: \"1\\2\" is 12", ['permessage-deflate; server_max_window_bits="1\\2"'],
     dict(server_max_window_bits=12)),
    ("whitespace around ';' and ','", ["x-foo ,permessage-deflate ;server_max_window_bits=13 ; "
                                       "client_no_context_takeover , x-bar"],
     dict(server_max_window_bits=13, client_no_context_takeover=True)),
    ("every parameter at once", ["permessage-deflate; client_no_context_takeover; server_no_context_takeover; "
                                 "client_max_window_bits=10; server_max_window_bits=11"],
     dict(client_no_context_takeover=True, server_no_context_takeover=True, client_max_window_bits=10,
          server_max_window_bits=11)),
    ("client_max_window_bits without a value", ["permessage-deflate; client_max_window_bits"],
     dict(client_max_window_bits=True)),
    ("parameter names in upper case (tokens compare case-insensitively)",
     ["permessage-deflate; SERVER_MAX_WINDOW_BITS=10"], dict(server_max_window_bits=10)),
]
for _i, (_name, _offers, _winner) in enumerate(ACCEPTED):
    _accepted("14.2.%d" % (_i + 1), "%s: accepted with a valid response, compression works" % _name,
              _offers, _winner, syntax=_name in SYNTAX, lenient="upper case" in _name)


# ---------------------------------------------------------------- 15 hostile
def _fails(cid, desc, codes, build, offer=None, timeout=None):
    """build(ws) sends something; the server must close with codes."""
    @case(cid, desc)
    def run(ctx):
        ws = dws(ctx, deflate=offer, timeout=timeout) if offer is not None else dws(ctx)
        if offer is not None and ws.pmd is None:
            raise CaseFailed("the server declined a valid offer")
        build(ws)
        ws.expect_close(codes)


def _hello(ws):
    return ws.pmd.compress(b"Hello") if ws.pmd else PMD().compress(b"Hello")


_fails("15.1.1", "RSV1 on a text frame without an offer: 1002 (RFC 6455 §5.2, RFC 7692 §6)", {1002},
       lambda ws: ws.send(encode_frame(OP_TEXT, _hello(ws), rsv=4)))
_fails("15.1.2", "RSV1 on a binary frame after a message, without an offer: 1002", {1002},
       lambda ws: (ws.send_message(OP_TEXT, b"x"), ws.expect_message(OP_TEXT, b"x"),
                   ws.send(encode_frame(OP_BINARY, _hello(ws), rsv=4))))
_fails("15.2.1", "RSV1 on a continuation of a compressed message: 1002 (§6.1)", {1002},
       lambda ws: ws.send(encode_frame(OP_TEXT, _hello(ws)[:3], fin=False, rsv=4) +
                          encode_frame(OP_CONT, _hello(ws)[3:], rsv=4)), offer={})
_fails("15.2.2", "RSV1 on a continuation of an uncompressed message: 1002 (§6.1)", {1002},
       lambda ws: ws.send(encode_frame(OP_TEXT, b"Hel", fin=False) + encode_frame(OP_CONT, _hello(ws), rsv=4)),
       offer={})
_fails("15.3.1", "RSV1 on a ping: 1002 (§6.1: control frames are never compressed)", {1002},
       lambda ws: ws.send(encode_frame(OP_PING, b"ping", rsv=4)), offer={})
_fails("15.3.2", "RSV1 on a pong: 1002 (§6.1)", {1002},
       lambda ws: ws.send(encode_frame(OP_PONG, b"pong", rsv=4)), offer={})
_fails("15.3.3", "RSV1 on a close: 1002 (§6.1)", {1002},
       lambda ws: ws.send(encode_frame(OP_CLOSE, close_payload(1000), rsv=4)), offer={})
_fails("15.3.4", "RSV1 on a compressed ping between fragments of a compressed message: 1002", {1002},
       lambda ws: ws.send(encode_frame(OP_TEXT, _hello(ws)[:3], fin=False, rsv=4) +
                          encode_frame(OP_PING, PMD().compress(b"p"), rsv=4) + encode_frame(OP_CONT, _hello(ws)[3:])),
       offer={})
_fails("15.3.5", "RSV2 on a text frame with permessage-deflate on: 1002 (RSV2 is not the extension's)", {1002},
       lambda ws: ws.send(encode_frame(OP_TEXT, b"Hello", rsv=2)), offer={})
_fails("15.3.6", "RSV1|RSV3 on a text frame with permessage-deflate on: 1002", {1002},
       lambda ws: ws.send(encode_frame(OP_TEXT, _hello(ws), rsv=5)), offer={})

CORRUPT = [
    ("block type 3 (reserved)", b"\x07\x00"),
    ("a stored block whose LEN and NLEN disagree", b"\x00\x05\x00\x00\x00Hello"),
    ("a match before the first byte (distance 1 on an empty window)", deflate_fixed([(10, 1)])),
    ("a match farther back than the output so far", deflate_fixed([b"abc", (10, 100)])),
    ("literal/length symbol 286 (invalid in a fixed block)", deflate_fixed([b"ab", 286])),
    ("distance symbol 30 (invalid)", deflate_fixed([b"ab", 257], raw_dist_code=30)),
    ("a dynamic block header announcing 288 literal/length codes (HLIT > 29)", b"\x05\xff\xff\xff\xff\x00"),
    ("random bytes", random_bytes(64, 5)),
]
for _i, (_name, _payload) in enumerate(CORRUPT):
    _fails("15.4.%d" % (_i + 1), "compressed text whose DEFLATE data has %s: 1007 (§6.2 and RFC 6455 §7.4.1)"
           % _name, {1007}, lambda ws, p=_payload: ws.send(encode_frame(OP_TEXT, p, rsv=4)),
           offer=dict(client_no_context_takeover=True))


@case("15.4.9", "corrupt data in the third fragment of a compressed message: 1007, nothing echoed")
def _corrupt_late(ctx):
    ws = dopen(ctx)
    good = ws.pmd.compress(json_text(5000, 1))
    ws.send(encode_frame(OP_BINARY, good[:100], fin=False, rsv=4) + encode_frame(OP_CONT, good[100:200], fin=False) +
            encode_frame(OP_CONT, b"\xff\xff\xff\xff\xff\xff"))
    ws.expect_close({1007})


def _bomb_payload(nbytes):
    """Compressed zeros inflating to nbytes, built fast: zlib's output for
    1 MiB of zeros after a sync flush repeats, so a big bomb is one piece
    many times over (about 1 KiB per MiB)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    mib = 1 << 20
    first = c.compress(b"\0" * mib) + c.flush(zlib.Z_SYNC_FLUSH)
    again = c.compress(b"\0" * mib) + c.flush(zlib.Z_SYNC_FLUSH)
    whole, rest = divmod(nbytes, mib)
    if whole == 0:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return (c.compress(b"\0" * rest) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
    out = first + again * (whole - 1)
    if rest:
        out += c.compress(b"\0" * rest) + c.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4]


@case("15.5.1", "decompression bomb in one frame (1 GiB of zeros in ~1 MiB): 1009 within 2 s (§8.1 of RFC 7692)")
def _bomb_one(ctx):
    ws = dopen(ctx, timeout=10)
    payload = _bomb_payload(1 << 30)
    t0 = time.monotonic()
    ws.send(encode_frame(OP_BINARY, payload, rsv=4))
    ws.expect_close({1009}, timeout=10)
    took = time.monotonic() - t0
    if took > 2.0:
        raise CaseFailed("1009 came after %.1f s: the bomb was inflated past the limit?" % took)


@case("15.5.2", "bomb in 64 KiB fragments: 1009 before the fragments past the limit are sent (bounded work)")
def _bomb_fragments(ctx):
    ws = dopen(ctx, timeout=10)
    payload = _bomb_payload(1 << 30)
    frag = 65536
    frames = [encode_frame(OP_BINARY if j == 0 else OP_CONT, payload[j:j + frag], fin=j + frag >= len(payload),
                           rsv=4 if j == 0 else 0) for j in range(0, len(payload), frag)]
    # Each fragment inflates to ~64 MiB: the first one alone crosses a
    # 16 MiB limit. Send enough to cross ctx.max_message, then wait.
    need = max(1, ctx.max_message // (64 << 20) + 1)
    ws.send(b"".join(frames[:need]))
    try:
        ws.expect_close({1009}, timeout=3)
        return
    except CaseFailed as e:
        if "did not close" not in str(e):
            raise
    ws.send(b"".join(frames[need:]))
    ws.expect_close({1009}, timeout=10)
    raise NonStrict("1009 only after the whole bomb was sent")


@case("15.5.3", "inflating to exactly the message limit is fine: echoed (the limit counts inflated bytes)")
def _bomb_exact(ctx):
    if ctx.max_message > (64 << 20):
        raise NonStrict("skipped: limit above 64 MiB")
    ws = dopen(ctx, timeout=60)
    n = ctx.max_message
    ws.send(encode_frame(OP_BINARY, _bomb_payload(n), rsv=4))
    e = Echoes(ctx, ws)
    e.expect(OP_BINARY, b"\0" * n, timeout=60)
    e.finish()


@case("15.5.4", "inflating to one byte over the message limit: 1009 (§7.4.1 of RFC 6455)")
def _bomb_plus_one(ctx):
    ws = dopen(ctx, timeout=30)
    ws.send(encode_frame(OP_BINARY, _bomb_payload(ctx.max_message + 1), rsv=4))
    ws.expect_close({1009}, timeout=30)


@case("15.5.5", "a bomb in a text message (zeros are valid UTF-8): 1009, not 1007")
def _bomb_text(ctx):
    ws = dopen(ctx, timeout=10)
    ws.send(encode_frame(OP_TEXT, _bomb_payload(256 << 20), rsv=4))
    ws.expect_close({1009}, timeout=10)


_fails("15.6.1", "compressed text inflating to invalid UTF-8 (a surrogate): 1007 (RFC 6455 §8.1)", {1007},
       lambda ws: ws.send(encode_frame(OP_TEXT, ws.pmd.compress(PREFIX + b"\xed\xa0\x80 edited"), rsv=4)),
       offer={})
_fails("15.6.2", "compressed text inflating to a truncated UTF-8 sequence at the end: 1007", {1007},
       lambda ws: ws.send(encode_frame(OP_TEXT, ws.pmd.compress(PREFIX + b"\xf0\x90\x80"), rsv=4)),
       offer={})


@case("15.6.3", "compressed text whose payload is not UTF-8 but inflates to UTF-8 is echoed (validate after inflating)")
def _utf8_after(ctx):
    ws = dopen(ctx)
    data = "κόσμε €𝄞".encode() * 50
    payload = ws.pmd.compress(data)
    try:
        payload.decode("utf-8")
        raise CaseFailed("test bug: the compressed payload happens to be UTF-8")
    except UnicodeDecodeError:
        pass
    send_compressed(ws, OP_TEXT, payload)
    e = Echoes(ctx, ws)
    e.expect(OP_TEXT, data)
    e.finish()


@case("15.6.4", "fail-fast: invalid UTF-8 early in a large compressed text, fragmented: 1007 before the rest")
def _utf8_fail_fast(ctx):
    ws = dopen(ctx)
    data = PREFIX + b"\xc0\x80" + json_text(200000, 4)
    payload = ws.pmd.compress(data)
    ws.send(encode_frame(OP_TEXT, payload[:2000], fin=False, rsv=4))
    try:
        ws.expect_close({1007}, timeout=3)
        return
    except CaseFailed as e:
        if "did not close" not in str(e):
            raise
    ws.send(encode_frame(OP_CONT, payload[2000:]))
    ws.expect_close({1007})
    raise NonStrict("1007 only after the whole message (not fail-fast)")


def _echo_raw(cid, desc, op, payloads, expect, offer=None):
    """Sends payloads (already compressed) as messages; each echo must be
    the matching expected message."""
    @case(cid, desc)
    def run(ctx):
        ws = dopen(ctx, **(offer or {}))
        e = Echoes(ctx, ws)
        for p, x in zip(payloads, expect):
            if isinstance(p, list):  # fragments
                ws.send(b"".join(encode_frame(op if j == 0 else OP_CONT, f, fin=j == len(p) - 1,
                                              rsv=4 if j == 0 else 0) for j, f in enumerate(p)))
            else:
                send_compressed(ws, op, p)
            e.expect(op, x)
        e.finish()


_HELLO_FIXED = bytes.fromhex("f248cdc9c90700")
_echo_raw("15.7.1", "RFC 7692 §7.2.3.1 bytes (\"Hello\", one fixed block) are echoed", OP_TEXT,
          [_HELLO_FIXED], [b"Hello"], offer=dict(client_no_context_takeover=True))
_echo_raw("15.7.2", "RFC 7692 §7.2.3.1 in fragments of 3 and 4 bytes", OP_TEXT,
          [[_HELLO_FIXED[:3], _HELLO_FIXED[3:]]], [b"Hello"], offer=dict(client_no_context_takeover=True))
_echo_raw("15.7.3", "RFC 7692 §7.2.3.2: \"Hello\" twice, the second as a reference into the first", OP_TEXT,
          [_HELLO_FIXED, bytes.fromhex("f200110000")], [b"Hello", b"Hello"])
_echo_raw("15.7.4", "RFC 7692 §7.2.3.3: a stored block (no compression)", OP_TEXT,
          [bytes.fromhex("000500faff48656c6c6f00")], [b"Hello"])
_echo_raw("15.7.5", "RFC 7692 §7.2.3.4: a BFINAL block followed by 0x00", OP_TEXT,
          [bytes.fromhex("f348cdc9c9070000")], [b"Hello"])
_echo_raw("15.7.6", "RFC 7692 §7.2.3.5: two blocks in one message", OP_TEXT,
          [bytes.fromhex("f24805000000ffffcac9c90700")], [b"Hello"])
_echo_raw("15.7.7", "RFC 7692 §7.2.3.6: an empty message as the single byte 0x00", OP_TEXT,
          [b"\x00", b"\x00"], [b"", b""])
_echo_raw("15.7.8", "an empty compressed message whose last fragment is empty (§7.2.3.6)", OP_BINARY,
          [[b"", b"\x00", b""], [_HELLO_FIXED, b""]], [b"", b"Hello"])


@case("15.7.9", "BFINAL without the trailing 0x00 (zlib's Z_FINISH), then a message referencing it: the window "
      "survives the final block (§7.2.2: the next message uses the last window)")
def _bfinal_takeover(ctx):
    ws = dopen(ctx)
    if ws.pmd.client_nct:
        raise NonStrict("skipped: the server asked for client_no_context_takeover")
    e = Echoes(ctx, ws)
    first = json_text(2000, 21)
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    send_compressed(ws, OP_BINARY, c.compress(first) + c.flush(zlib.Z_FINISH))
    e.expect(OP_BINARY, first)
    second = first[:1500] + b"tail"
    c = zlib.compressobj(6, zlib.DEFLATED, -15, zdict=first)
    payload = c.compress(second) + c.flush(zlib.Z_SYNC_FLUSH)
    if inflate_stats(payload, history=first)[1] == 0:
        raise CaseFailed("test bug: the second message does not reference the first")
    send_compressed(ws, OP_BINARY, payload[:-4])
    e.expect(OP_BINARY, second)
    e.finish()


@case("15.7.10", "a compressed message from empty fragments, RSV1 on the empty first one")
def _empty_first(ctx):
    ws = dopen(ctx)
    data = json_text(3000, 6)
    p = ws.pmd.compress(data)
    ws.send(encode_frame(OP_TEXT, b"", fin=False, rsv=4) + encode_frame(OP_CONT, b"", fin=False) +
            encode_frame(OP_CONT, p[:10], fin=False) + encode_frame(OP_CONT, b"", fin=False) + encode_frame(OP_CONT, p[10:]))
    e = Echoes(ctx, ws)
    e.expect(OP_TEXT, data)
    e.finish()


@case("15.7.11", "a compressed message, a close in the same write: echo, then the close")
def _then_close(ctx):
    ws = dopen(ctx)
    data = json_text(10000, 9)
    ws.send(encode_frame(OP_TEXT, ws.pmd.compress(data), rsv=4) + encode_frame(OP_CLOSE, close_payload(1000)))
    ws.expect_echo_then_close(OP_TEXT, data, {1000})
