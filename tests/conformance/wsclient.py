"""A deliberately low-level WebSocket client for the conformance suite.

Standard library only. It speaks RFC 6455 over a raw socket with its own
framing, so a case can send anything: bad RSV bits, reserved opcodes,
unmasked frames, broken UTF-8, frames split at any byte. Reading is strict:
every frame the server sends is checked against RFC 6455 §5 (a server
never masks, control frames are short and whole, no RSV bits without an
extension, a close code is one a peer may send).
"""
import base64
import hashlib
import os
import socket
import struct
import time

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


class Frame:
    def __init__(self, fin, rsv, opcode, payload):
        self.fin, self.rsv, self.opcode, self.payload = fin, rsv, opcode, payload

    def __repr__(self):
        return "Frame(op=%#x fin=%d rsv=%d len=%d)" % (self.opcode, self.fin, self.rsv, len(self.payload))


class WS:
    """One connection to the server under test."""

    def __init__(self, host, port, timeout=5.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False
        self.got_close = None  # the server's close frame payload, once read
        self.pushed = []       # frames read ahead and put back

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
        except (BrokenPipeError, ConnectionResetError):
            # The server has closed; what it sent before still gets read.
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
        except ConnectionResetError:
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
        if rsv:
            raise CaseFailed("server set RSV bits %d without an extension (RFC 6455 §5.2)" % rsv)
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

    def expect_accept(self, status, headers):
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
        if "sec-websocket-extensions" in headers:
            raise CaseFailed("server chose an extension we did not offer (RFC 6455 §4.1)")

    def open(self):
        status, headers, _ = self.handshake()
        self.expect_accept(status, headers)
        return self

    # ---- sending ----
    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, mask=True, chunk=None, length=None):
        self.send(encode_frame(opcode, payload, fin=fin, rsv=rsv, mask=mask, length=length), chunk=chunk)

    def send_message(self, opcode, payload, chunk=None):
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

    def expect_message(self, opcode, payload, timeout=None):
        """The next message (reassembled) must be exactly this one."""
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
