"""A deliberately low-level WebSocket client for the conformance suite.

Standard library only. It speaks RFC 6455 over a raw socket with its own
framing, so a case can send anything: bad RSV bits, reserved opcodes,
unmasked frames, broken UTF-8, frames split at any byte. Reading is strict:
every frame the server sends is checked against RFC 6455 §5 (a server
never masks, control frames are short and whole, no RSV bits without an
extension, a close code is one a peer may send).

permessage-deflate (RFC 7692): `WS.open(deflate=OFFER)` offers the
extension, checks the response against §7.1 and keeps the agreement in
`ws.pmd` (a `PMD`, the test peer's codec on Python's zlib: raw DEFLATE,
sync flush, the 00 00 ff ff tail stripped and put back, §7.2). Then RSV1
is allowed on the first frame of a data message only (§6.1), and
`expect_message` inflates compressed echoes.
"""
import base64
import hashlib
import os
import re
import socket
import ssl
import struct
import time
import zlib

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA


class CaseFailed(Exception):
    """The server did something the RFC forbids, or not what the case wants."""


class NonStrict(Exception):
    """The right outcome, but not exactly the expected one (e.g. TCP was
    dropped where a close frame with a given code was expected)."""


class EchoMissing(CaseFailed):
    """A control frame (close, pong) came where an echo was expected."""


class Closed(Exception):
    """The TCP connection ended (EOF or reset) while we were reading."""


def mask_bytes(key, data):
    """XOR data with the 4-byte key (RFC 6455 §5.3); fast for megabytes."""
    n = len(data)
    if n == 0:
        return b""
    reps = (key * (n // 4 + 1))[:n]
    x = int.from_bytes(data, "little") ^ int.from_bytes(reps, "little")
    return x.to_bytes(n, "little")


def encode_frame(opcode, payload=b"", fin=True, rsv=0, mask=True, key=None, length=None):
    """One frame. `length` overrides the announced payload length (to lie);
    mask=False sends an unmasked frame (a protocol error from a client)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n <= 0xFFFF:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4) if key is None else key
    return head + key + mask_bytes(key, payload)


def close_payload(code=None, reason=b""):
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode("utf-8")
    return struct.pack("!H", code) + reason


def valid_close_code(code):
    """Codes a peer may put in a close frame (RFC 6455 §7.4, IANA registry)."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


TAIL = b"\x00\x00\xff\xff"  # the sync flush's empty stored block (RFC 7692 §7.2.1)


def parse_extensions(value):
    """A Sec-WebSocket-Extensions value (RFC 6455 §9.1) as a list of
    (name, [(param, value or None)]); quoted values are unescaped. Raises
    ValueError on broken syntax."""
    tchar = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
    out, i, n = [], 0, len(value)

    def ows():
        nonlocal i
        while i < n and value[i] in " \t":
            i += 1

    def token():
        nonlocal i
        m = tchar.match(value, i)
        if not m:
            raise ValueError("token expected at %d in %r" % (i, value))
        i = m.end()
        return m.group(0)

    while True:
        ows()
        name, params = token(), []
        while True:
            ows()
            if i == n or value[i] == ",":
                break
            if value[i] != ";":
                raise ValueError("';' or ',' expected at %d in %r" % (i, value))
            i += 1
            ows()
            pname, pval = token(), None
            ows()
            if i < n and value[i] == "=":
                i += 1
                ows()
                if i < n and value[i] == '"':
                    i += 1
                    buf = ""
                    while True:
                        if i >= n:
                            raise ValueError("unterminated quoted string in %r" % value)
                        ch = value[i]
                        i += 1
                        if ch == '"':
                            break
                        if ch == "\\":
                            if i >= n:
                                raise ValueError("bad quoted-pair in %r" % value)
                            ch = value[i]
                            i += 1
                        buf += ch
                    pval = buf
                else:
                    pval = token()
            params.append((pname, pval))
        out.append((name, params))
        if i == n:
            return out
        i += 1  # the ','


def window_value(v):
    """A window-bits value as RFC 7692 §7.1.2 defines it (1*DIGIT, 8..15,
    no leading zero), or None."""
    if v is None or not re.fullmatch(r"[1-9][0-9]*", v) or not 8 <= int(v) <= 15:
        return None
    return int(v)


class PMD:
    """The agreed permessage-deflate parameters and the client's codec.

    The client compresses with zlib. zlib refuses a raw window of 8 bits
    (deflateInit2 turns 8 into 9 only for zlib-wrapped streams, and
    rejects it for raw ones since 1.2.9), so client_max_window_bits=8 is
    honoured with a 9-bit zlib window: zlib never emits a distance over
    2^wbits - 262 (MAX_DIST), i.e. 250 with 9 bits, within 256."""

    def __init__(self, server_nct=False, client_nct=False, server_bits=15, client_bits=15, level=6):
        self.server_nct, self.client_nct = server_nct, client_nct
        self.server_bits, self.client_bits = server_bits, client_bits
        self.level = level
        self.comp = None
        self.decomp = None

    def compress(self, data, fresh=None, flush=zlib.Z_SYNC_FLUSH, strip=True):
        """A message's payload: raw DEFLATE with a sync flush, the tail
        removed (§7.2.1). Context is taken over unless client_no_context_
        takeover was agreed (or fresh=True)."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        if fresh is None:
            fresh = self.client_nct
        if self.comp is None or fresh:
            self.comp = zlib.compressobj(self.level, zlib.DEFLATED, -max(9, self.client_bits), 9)
        out = self.comp.compress(data) + self.comp.flush(flush)
        if flush == zlib.Z_FINISH:
            self.comp = None
        if strip and out.endswith(TAIL):
            out = out[:-4]
        return out

    def decompress(self, payload):
        """Inflates a compressed message from the server (§7.2.2) with the
        agreed window; a fresh window per message when server_no_context_
        takeover was agreed, so a server that took over anyway fails here."""
        if self.decomp is None or self.server_nct:
            self.decomp = zlib.decompressobj(-self.server_bits)
        try:
            return self.decomp.decompress(payload + TAIL)
        except zlib.error as e:
            raise CaseFailed("server's compressed message does not inflate: %s" % e)


def pmd_offer(**kw):
    """An offer string: pmd_offer(server_no_context_takeover=True,
    client_max_window_bits=10); True means the parameter without value."""
    parts = ["permessage-deflate"]
    for k, v in kw.items():
        if v is False or v is None:
            continue
        parts.append(k if v is True else "%s=%s" % (k, v))
    return "; ".join(parts)


def check_pmd_response(value, offer):
    """Checks a server's Sec-WebSocket-Extensions against our single offer
    (RFC 7692 §7.1, §5) and returns the agreed PMD. `offer` is a dict of
    what we offered (parameter name -> True or the value), or None when
    the offers were sent raw (then only §7's own rules are checked)."""
    try:
        exts = parse_extensions(value)
    except ValueError as e:
        raise CaseFailed("malformed Sec-WebSocket-Extensions in the 101: %s (RFC 6455 §9.1)" % e)
    if len(exts) != 1 or exts[0][0].lower() != "permessage-deflate":
        raise CaseFailed("the 101 accepts %r; we offered one permessage-deflate (RFC 6455 §9.1)" % value)
    seen = {}
    for name, val in exts[0][1]:
        name = name.lower()
        if name in seen:
            raise CaseFailed("parameter %s twice in the response (RFC 7692 §7)" % name)
        seen[name] = val
    for name, val in seen.items():
        if name in ("server_no_context_takeover", "client_no_context_takeover"):
            if val is not None:
                raise CaseFailed("%s with a value in the response (RFC 7692 §7.1.1)" % name)
        elif name in ("server_max_window_bits", "client_max_window_bits"):
            if window_value(val) is None:
                raise CaseFailed("%s=%r in the response (RFC 7692 §7.1.2)" % (name, val))
        else:
            raise CaseFailed("unknown parameter %s in the response (RFC 7692 §7)" % name)
    agreed = PMD(server_nct="server_no_context_takeover" in seen,
                 client_nct="client_no_context_takeover" in seen,
                 server_bits=int(seen.get("server_max_window_bits", 15)),
                 client_bits=int(seen.get("client_max_window_bits", 15)))
    if offer is None:
        return agreed
    # §7.1.1.1: server_no_context_takeover, offered, must be echoed.
    if offer.get("server_no_context_takeover") and "server_no_context_takeover" not in seen:
        raise CaseFailed("server_no_context_takeover offered but not in the response (RFC 7692 §7.1.1.1)")
    # §7.1.2.1: server_max_window_bits, offered, comes back with <= the value.
    if "server_max_window_bits" in offer:
        if "server_max_window_bits" not in seen:
            raise CaseFailed("server_max_window_bits offered but not in the response (RFC 7692 §7.1.2.1)")
        if int(seen["server_max_window_bits"]) > int(offer["server_max_window_bits"]):
            raise CaseFailed("server_max_window_bits=%s above the offered %s (RFC 7692 §7.1.2.1)"
                             % (seen["server_max_window_bits"], offer["server_max_window_bits"]))
    # §7.1.2.2: client_max_window_bits only if offered, and not above the offer.
    if "client_max_window_bits" in seen:
        if "client_max_window_bits" not in offer:
            raise CaseFailed("client_max_window_bits in the response without an offer (RFC 7692 §7.1.2.2)")
        ov = offer["client_max_window_bits"]
        if ov is not True and int(seen["client_max_window_bits"]) > int(ov):
            raise CaseFailed("client_max_window_bits=%s above the offered %s (RFC 7692 §7.1.2.2)"
                             % (seen["client_max_window_bits"], ov))
    return agreed


# ---- a reference inflater (RFC 1951), to see what zlib does not show ----
_LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99,
             115, 131, 163, 195, 227, 258]
_LEN_EXTRA = [0] * 8 + [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4 + [5] * 4 + [0]
_DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025,
              1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
_DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12,
               12, 13, 13]
_CLEN_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]


def _huffman(lengths):
    """Canonical code (RFC 1951 §3.2.2) as {(length, code): symbol}."""
    count = [0] * 16
    for n in lengths:
        count[n] += 1
    count[0] = 0
    code, nxt = 0, [0] * 16
    for bits in range(1, 16):
        code = (code + count[bits - 1]) << 1
        nxt[bits] = code
    table = {}
    for sym, n in enumerate(lengths):
        if n:
            table[(n, nxt[n])] = sym
            nxt[n] += 1
    return table


def inflate_stats(data, history=b""):
    """Decodes a raw DEFLATE stream bit by bit. Returns (output, largest
    match distance, number of blocks, whether a final block ended it).
    `history`: the window of earlier messages (context takeover). Slow:
    for messages of some KiB. Raises ValueError on corrupt data; stops at
    the end of the input or of the final block."""
    pos = [0]
    nbits = 8 * len(data)

    def bits(n):
        v = 0
        for k in range(n):
            if pos[0] >= nbits:
                raise EOFError()
            v |= ((data[pos[0] >> 3] >> (pos[0] & 7)) & 1) << k
            pos[0] += 1
        return v

    def decode(table):
        code = length = 0
        while True:
            if pos[0] >= nbits:
                raise EOFError()
            code = (code << 1) | ((data[pos[0] >> 3] >> (pos[0] & 7)) & 1)
            pos[0] += 1
            length += 1
            sym = table.get((length, code))
            if sym is not None:
                return sym
            if length > 15:
                raise ValueError("bad Huffman code")

    out = bytearray(history)
    start, maxd, blocks, final = len(history), 0, 0, False
    fixed_lit = _huffman([8] * 144 + [9] * 112 + [7] * 24 + [8] * 8)
    fixed_dist = _huffman([5] * 30)
    try:
        while not final:
            final = bool(bits(1))
            btype = bits(2)
            blocks += 1
            if btype == 0:
                pos[0] = (pos[0] + 7) & ~7
                ln, nln = bits(16), bits(16)
                if ln != (~nln & 0xFFFF):
                    raise ValueError("stored block LEN/NLEN mismatch")
                for _ in range(ln):
                    out.append(bits(8))
                continue
            if btype == 3:
                raise ValueError("block type 3")
            if btype == 1:
                lit, dist = fixed_lit, fixed_dist
            else:
                hlit, hdist, hclen = bits(5) + 257, bits(5) + 1, bits(4) + 4
                cl = [0] * 19
                for k in range(hclen):
                    cl[_CLEN_ORDER[k]] = bits(3)
                cltab = _huffman(cl)
                lens = []
                while len(lens) < hlit + hdist:
                    sym = decode(cltab)
                    if sym < 16:
                        lens.append(sym)
                    elif sym == 16:
                        lens += [lens[-1]] * (3 + bits(2))
                    elif sym == 17:
                        lens += [0] * (3 + bits(3))
                    else:
                        lens += [0] * (11 + bits(7))
                lit, dist = _huffman(lens[:hlit]), _huffman(lens[hlit:])
            while True:
                sym = decode(lit)
                if sym < 256:
                    out.append(sym)
                elif sym == 256:
                    break
                else:
                    n = _LEN_BASE[sym - 257] + bits(_LEN_EXTRA[sym - 257])
                    ds = decode(dist)
                    d = _DIST_BASE[ds] + bits(_DIST_EXTRA[ds])
                    if d > len(out):
                        raise ValueError("distance %d before the start" % d)
                    maxd = max(maxd, d)
                    for _ in range(n):
                        out.append(out[-d])
    except EOFError:
        pass
    return bytes(out[start:]), maxd, blocks, final


class Frame:
    def __init__(self, fin, rsv, opcode, payload):
        self.fin, self.rsv, self.opcode, self.payload = fin, rsv, opcode, payload

    def __repr__(self):
        return "Frame(op=%#x fin=%d rsv=%d len=%d)" % (self.opcode, self.fin, self.rsv, len(self.payload))


# An ssl.SSLContext to speak wss:// (run.py --tls/--cafile), or None for ws://.
TLS_CONTEXT = None
# How the server's end of the connection shows, over TCP and inside TLS.
PEER_GONE = (BrokenPipeError, ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError)


class WS:
    """One connection to the server under test."""

    def __init__(self, host, port, timeout=5.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if TLS_CONTEXT is not None:
            self.sock = TLS_CONTEXT.wrap_socket(self.sock, server_hostname=host)
        self.buf = b""
        self.eof = False
        self.got_close = None  # the server's close frame payload, once read
        self.pushed = []       # frames read ahead and put back
        self.pmd = None        # the permessage-deflate agreement, once open
        self.extensions = None # the 101's Sec-WebSocket-Extensions, if any
        self.last_rsv1 = False      # the last expect_message's RSV1
        self.last_wire = b""        # ... and its payload as sent

    # ---- raw I/O ----
    def send(self, data, chunk=None, delay=0.0):
        """Sends bytes; chunk=n writes them n bytes per write (n=1: byte by byte)."""
        try:
            if not chunk:
                self.sock.sendall(data)
                return
            for i in range(0, len(data), chunk):
                self.sock.sendall(data[i:i + chunk])
                if delay:
                    time.sleep(delay)
        except PEER_GONE + (ssl.SSLError,):
            # The server has closed; what it sent before still gets read.
            # (Inside TLS, a write after a failed one fails too, e.g. with
            # BAD_LENGTH, as a TCP write after EPIPE does.)
            pass

    def _fill(self, deadline):
        if self.eof:
            raise Closed()
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 20)
        except PEER_GONE:
            data = b""
        if not data:
            self.eof = True
            raise Closed()
        self.buf += data

    def _take(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_frame(self, timeout=None):
        """The next frame, checked against RFC 6455 §5. Raises Closed on
        EOF and socket.timeout when nothing comes."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        b0, b1 = self._take(2, deadline)
        fin, rsv, op = b0 >> 7, (b0 >> 4) & 7, b0 & 15
        masked, n = b1 >> 7, b1 & 127
        if n == 126:
            n = struct.unpack("!H", self._take(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._take(8, deadline))[0]
        if masked:
            raise CaseFailed("server sent a masked frame (RFC 6455 §5.1)")
        if rsv and (rsv != 4 or self.pmd is None):
            raise CaseFailed("server set RSV bits %d without an extension (RFC 6455 §5.2)" % rsv)
        if rsv and (op >= 8 or op == OP_CONT):
            raise CaseFailed("server set RSV1 on a %s frame (RFC 7692 §6.1)"
                             % ("control" if op >= 8 else "continuation"))
        if op in (3, 4, 5, 6, 7) or op > 10:
            raise CaseFailed("server sent reserved opcode %#x (RFC 6455 §5.2)" % op)
        if op >= 8 and (not fin or n > 125):
            raise CaseFailed("server sent a fragmented or long control frame (RFC 6455 §5.5)")
        payload = self._take(n, deadline)
        if op == OP_CLOSE:
            if len(payload) == 1:
                raise CaseFailed("server's close frame has a 1-byte payload (RFC 6455 §5.5.1)")
            if len(payload) >= 2:
                code = struct.unpack("!H", payload[:2])[0]
                if not valid_close_code(code):
                    raise CaseFailed("server sent close code %d (RFC 6455 §7.4)" % code)
                try:
                    payload[2:].decode("utf-8")
                except UnicodeDecodeError:
                    raise CaseFailed("server's close reason is not UTF-8 (RFC 6455 §5.5.1)")
            self.got_close = payload
        return Frame(fin, rsv, op, payload)

    # ---- handshake ----
    def handshake(self, path="/", extra=b"", raw=None, chunk=None):
        """Sends the opening handshake (or `raw` bytes instead) and reads
        the response head. Returns (status, headers dict lower-cased, head)."""
        key = base64.b64encode(os.urandom(16))
        if raw is None:
            raw = (b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + self.host.encode() + b":" +
                   str(self.port).encode() + b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n" + extra + b"\r\n")
        self.key = key
        self.send(raw, chunk=chunk)
        return self.read_response_head()

    def read_response_head(self, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while b"\r\n\r\n" not in self.buf:
            try:
                self._fill(deadline)
            except Closed:
                raise CaseFailed("connection closed before a complete HTTP response")
            if len(self.buf) > 65536:
                raise CaseFailed("HTTP response head too long")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise CaseFailed("bad status line %r" % lines[0])
        headers = {}
        for line in lines[1:]:
            if ":" not in line:
                raise CaseFailed("bad header line %r" % line)
            k, v = line.split(":", 1)
            k = k.strip().lower()
            headers[k] = headers[k] + ", " + v.strip() if k in headers else v.strip()
        return int(parts[1]), headers, head

    def expect_accept(self, status, headers, offer=False):
        """Checks a 101 answer to our key (RFC 6455 §4.1, §4.2.2)."""
        if status != 101:
            raise CaseFailed("handshake answered %d, not 101" % status)
        want = base64.b64encode(hashlib.sha1(self.key + GUID).digest()).decode()
        if headers.get("sec-websocket-accept") != want:
            raise CaseFailed("wrong Sec-WebSocket-Accept %r" % headers.get("sec-websocket-accept"))
        if "websocket" not in [t.strip().lower() for t in headers.get("upgrade", "").split(",")]:
            raise CaseFailed("101 without Upgrade: websocket")
        if "upgrade" not in [t.strip().lower() for t in headers.get("connection", "").split(",")]:
            raise CaseFailed("101 without Connection: Upgrade")
        ext = headers.get("sec-websocket-extensions")
        self.extensions = ext
        if ext is not None and offer is False:
            raise CaseFailed("server chose an extension we did not offer (RFC 6455 §4.1)")
        if ext is not None:
            self.pmd = check_pmd_response(ext, offer)

    def open(self, deflate=None, extensions=None):
        """Handshake; deflate=dict offers permessage-deflate with those
        parameters (see pmd_offer). extensions=raw header value(s) sends
        them as they are (a list: one field each); the response is then
        checked against `deflate` if given, else against a bare offer."""
        extra = b""
        if deflate is not None and extensions is None:
            extensions = pmd_offer(**deflate)
        if extensions is not None:
            for v in ([extensions] if isinstance(extensions, str) else extensions):
                extra += b"Sec-WebSocket-Extensions: " + v.encode("latin-1") + b"\r\n"
        status, headers, _ = self.handshake(extra=extra)
        # Raw offers: the case checks the response against them itself.
        self.expect_accept(status, headers, offer=(deflate if deflate is not None else
                                                   (None if extensions is not None else False)))
        return self

    # ---- sending ----
    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, mask=True, chunk=None, length=None):
        self.send(encode_frame(opcode, payload, fin=fin, rsv=rsv, mask=mask, length=length), chunk=chunk)

    def send_message(self, opcode, payload, chunk=None, compress=False):
        """One message in one frame; compress=True deflates it (RSV1)."""
        if compress:
            self.send_frame(opcode, self.pmd.compress(payload), rsv=4, chunk=chunk)
        else:
            self.send_frame(opcode, payload, chunk=chunk)

    def send_close(self, code=None, reason=b""):
        self.send_frame(OP_CLOSE, close_payload(code, reason))

    # ---- expectations ----
    def next_frame(self, timeout=None):
        """The next frame; pings from the server are answered and skipped."""
        if self.pushed:
            return self.pushed.pop()
        while True:
            try:
                f = self.read_frame(timeout)
            except socket.timeout:
                raise CaseFailed("timed out waiting for the server")
            except Closed:
                raise
            if f.opcode == OP_PING:
                self.send_frame(OP_PONG, f.payload)
                continue
            return f

    def expect_message(self, opcode, payload, timeout=None, compressed=None):
        """The next message (reassembled, inflated if it came with RSV1)
        must be exactly this one. compressed=True/False: it must (not)
        come compressed."""
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        try:
            f = self.next_frame(timeout)
            if f.opcode != opcode:
                if f.opcode >= 8:
                    self.pushed.append(f)  # the caller may accept it (see echo_missing)
                    raise EchoMissing("expected a message with opcode %#x, got %r" % (opcode, f))
                raise CaseFailed("expected a message with opcode %#x, got %r" % (opcode, f))
            data = [f.payload]
            first_rsv = f.rsv
            while not f.fin:
                f = self.next_frame(timeout)
                if f.opcode >= 8:
                    raise CaseFailed("unexpected control frame %r inside the echo" % f)
                if f.opcode != OP_CONT:
                    raise CaseFailed("server started a new message inside a fragmented one (RFC 6455 §5.4)")
                data.append(f.payload)
        except Closed:
            raise CaseFailed("connection closed instead of the echo of a %d-byte message" % len(payload))
        got = b"".join(data)
        self.last_rsv1, self.last_wire = bool(first_rsv & 4), got
        if compressed is True and not self.last_rsv1:
            raise CaseFailed("the echo of a %d-byte message came uncompressed (RSV1 unset)" % len(payload))
        if compressed is False and self.last_rsv1:
            raise CaseFailed("the echo of a %d-byte message came compressed" % len(payload))
        if self.last_rsv1:
            got = self.pmd.decompress(got)
        if opcode == OP_TEXT:
            try:
                got.decode("utf-8")
            except UnicodeDecodeError:
                raise CaseFailed("server sent invalid UTF-8 in a text message (RFC 6455 §8.1)")
        if got != payload:
            raise CaseFailed("echo differs: sent %d bytes, got %d" % (len(payload), len(got)))

    def expect_echo_then_close(self, opcode, payload, codes):
        """The echo of a message sent together with a close, then the close.
        A server that answers the close before its application echoes
        (an asynchronous echo) obeys RFC 6455 §5.5.1 (no data after our
        close): NON-STRICT, as in Autobahn."""
        try:
            self.expect_message(opcode, payload)
        except EchoMissing:
            self.expect_close(codes)
            raise NonStrict("close answered before the echo of the message sent before it")
        self.expect_close(codes)

    def expect_unordered(self, message, pongs):
        """A message echo and pongs in any order: §5.5.2 lets a pong go out
        as soon as practical, so it may overtake the echo of a message that
        was sent before the ping."""
        opcode, payload = message
        pongs = list(pongs)
        while True:
            try:
                self.expect_message(opcode, payload)
                break
            except EchoMissing:
                if self.pushed[-1].opcode == OP_CLOSE:
                    raise  # the caller decides about a close instead of the echo
                f = self.pushed.pop()
                if f.opcode != OP_PONG or f.payload not in pongs:
                    raise CaseFailed("expected the echo or a pong, got %r" % f)
                pongs.remove(f.payload)
        for p in pongs:
            self.expect_pong(p)

    def expect_pong(self, payload, timeout=None):
        try:
            f = self.next_frame(timeout)
        except Closed:
            raise CaseFailed("connection closed instead of a pong")
        if f.opcode != OP_PONG:
            raise CaseFailed("expected a pong, got %r" % f)
        if f.payload != payload:
            raise CaseFailed("pong payload differs from the ping's (RFC 6455 §5.5.3)")

    def expect_nothing(self, timeout=0.3):
        """Nothing may arrive for a while (e.g. after an unsolicited pong)."""
        try:
            f = self.read_frame(timeout)
        except socket.timeout:
            return
        except Closed:
            raise CaseFailed("connection closed unexpectedly")
        raise CaseFailed("unexpected frame %r" % f)

    def expect_close(self, codes, timeout=None, allow_data=False):
        """The server must close with one of `codes` (None in the set: a
        close frame without a code). Answers the close and waits for the
        TCP close. A dropped connection without a close frame, or a close
        with another code, is NON-STRICT; data frames where none is
        allowed, or no close at all, is FAILED."""
        codes = set(codes)
        try:
            while True:
                try:
                    f = self.next_frame(timeout)
                except CaseFailed as e:
                    if "timed out" in str(e):
                        raise CaseFailed("server did not close the connection (expected close %s)"
                                         % sorted(c for c in codes if c is not None))
                    raise
                if f.opcode == OP_CLOSE:
                    break
                if f.opcode == OP_PONG or allow_data:
                    continue
                raise CaseFailed("expected a close, got %r" % f)
        except Closed:
            raise NonStrict("TCP closed without a close frame (expected close %s)"
                            % sorted(c for c in codes if c is not None))
        code = struct.unpack("!H", f.payload[:2])[0] if len(f.payload) >= 2 else None
        # Answer the close (RFC 6455 §5.5.1), then the server drops TCP first (§7.1.1).
        self.send_close(code if code is not None else None)
        self.expect_tcp_close()
        if code not in codes:
            raise NonStrict("closed with %s, expected %s" % (code, sorted(c for c in codes if c is not None)))
        return code

    def expect_tcp_close(self, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        try:
            while True:
                self._fill(deadline)
                # Bytes after the close frame are a violation (§5.5.1).
                if self.buf:
                    raise CaseFailed("server sent %d bytes after its close frame" % len(self.buf))
        except Closed:
            return
        except socket.timeout:
            raise CaseFailed("server did not close TCP after the close handshake (RFC 6455 §7.1.1)")

    def close_normally(self):
        """Ends a case that went well: close 1000, expect the echo."""
        self.send_close(1000)
        self.expect_close({1000})

    def shutdown(self):
        try:
            self.sock.close()
        except OSError:
            pass
