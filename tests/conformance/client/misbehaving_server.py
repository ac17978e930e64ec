"""A WebSocket server that breaks RFC 6455 on purpose, one way per case,
to test the client role of cws. Raw sockets and the stdlib only: nothing
here may "fix" what it sends.

Each behaviour is a function taking a Link (the accepted connection, the
client's request already read) and returning what the server saw."""

import base64
import hashlib
import socket
import struct
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3


class Link:
    """The server's end of one connection."""

    def __init__(self, sock, timeout=10.0):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buf = b""
        self.request = self._read_head()
        self.key = b""
        for line in self.request.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-key":
                self.key = value.strip()

    def _read_head(self):
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("client closed during its request")
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        return head

    def accept_value(self):
        return base64.b64encode(hashlib.sha1(self.key + GUID).digest())

    def response(self, status="101 Switching Protocols", upgrade=True, connection=True,
                 accept=None, extra=b""):
        """A handshake response head with the parts a case may break."""
        lines = [b"HTTP/1.1 " + status.encode()]
        if upgrade:
            lines.append(b"Upgrade: websocket")
        if connection:
            lines.append(b"Connection: Upgrade")
        lines.append(b"Sec-WebSocket-Accept: " + (accept if accept is not None else self.accept_value()))
        head = b"\r\n".join(lines) + b"\r\n" + extra + b"\r\n"
        return head

    def send(self, data):
        self.sock.sendall(data)

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_frame(self):
        """The client's next frame: (fin, opcode, masked, payload)."""
        b0, b1 = self._need(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._need(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._need(8))[0]
        key = self._need(4) if b1 & 0x80 else b"\0\0\0\0"
        data = bytes(c ^ key[i % 4] for i, c in enumerate(self._need(n)))
        return b0 >> 7, b0 & 0x0F, b1 >> 7, data

    def read_close(self):
        """Reads frames until the client's close; returns (code, reason,
        masked) or raises EOFError if the TCP connection ends first."""
        while True:
            _, op, masked, data = self.read_frame()
            if op == 0x8:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                return code, data[2:].decode("utf-8", "replace"), masked

    def drained_to_eof(self, timeout):
        """Bytes the client sent until it closed TCP (None if it did not
        within timeout)."""
        self.sock.settimeout(timeout)
        got = self.buf
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return got
                got += chunk
        except ConnectionResetError:
            return got  # an RST also ends the connection
        except socket.timeout:
            return None


def frame(opcode, payload=b"", fin=True, rsv=0, mask=None, length=None):
    """A server frame built by hand; length overrides the encoded length."""
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload) if length is None else length
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        head += mask
    return head + payload


def close_frame(code, reason=b""):
    return frame(0x8, struct.pack("!H", code) + reason)


# ---------------------------------------------------------------- cases
# Handshake refusals: the client must not open, must not send a frame,
# and must drop the TCP connection.

def refuse_with(make_response):
    def behaviour(link):
        link.send(make_response(link))
        rest = link.drained_to_eof(5)
        return {"after_response": rest}
    return behaviour


# After a good handshake: send one bad frame, then read the client's close
# and answer it like a well-behaved server would.

def bad_frame_after_handshake(data):
    def behaviour(link):
        link.send(link.response())
        link.send(data)
        code, reason, masked = link.read_close()
        link.send(close_frame(code) if code not in (1005, 1006) else frame(0x8))
        link.sock.close()
        return {"close_code": code, "close_reason": reason, "close_masked": masked}
    return behaviour


def frames_with_101(link):
    """The 101 and two messages in one send (one TCP segment on loopback):
    the client must deliver both, then close cleanly on EOF."""
    link.send(link.response() + frame(0x1, b"early one") + frame(0x2, b"\x01\x02"))
    code, reason, masked = link.read_close()
    link.send(close_frame(code))
    link.sock.close()
    return {"close_code": code, "close_masked": masked}


def good_echo_once(link):
    """A well-behaved server: the baseline that proves the harness."""
    link.send(link.response() + frame(0x1, b"hello"))
    code, reason, masked = link.read_close()
    link.send(close_frame(code))
    link.sock.close()
    return {"close_code": code, "close_masked": masked}


def never_answers_close(link):
    """Reads the client's close and then stays silent with TCP open: the
    client must give up on its own after its close timeout."""
    link.send(link.response())
    code, _, _ = link.read_close()
    start = time.monotonic()
    rest = link.drained_to_eof(15)
    return {"close_code": code, "client_gave_up_after": time.monotonic() - start,
            "client_closed_tcp": rest is not None}


def closes_then_lingers(link):
    """Starts the close handshake, reads the client's answer, then keeps
    TCP open: RFC 6455 §7.1.1 has the server close TCP first, so the
    client waits for that, but only up to its close timeout."""
    link.send(link.response() + close_frame(1000, b"bye"))
    code, _, masked = link.read_close()
    start = time.monotonic()
    rest = link.drained_to_eof(15)
    return {"close_code": code, "close_masked": masked,
            "client_gave_up_after": time.monotonic() - start, "client_closed_tcp": rest is not None}


def drops_tcp(link):
    """Ends TCP right after the 101, with no close frame (§7.1.5: 1006)."""
    link.send(link.response())
    time.sleep(0.1)
    link.sock.close()
    return {"dropped": True}


def whole_session_in_one_segment(link):
    """The 101, a message, the server's close and its FIN, all at once:
    the client must deliver the message and answer the close although the
    connection ends before it could send anything."""
    link.send(link.response() + frame(0x1, b"last words") + close_frame(1000, b"bye"))
    link.sock.shutdown(socket.SHUT_WR)
    code, _, masked = link.read_close()
    link.sock.close()
    return {"close_code": code, "close_masked": masked}
