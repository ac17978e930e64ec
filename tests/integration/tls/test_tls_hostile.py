#!/usr/bin/python3
"""Hostile peers against cws-echo --tls-cert/--tls-key. While each attack
goes on a normal wss:// client (hostile_lib.Probe, echo mode) must get
every echo within 1 s, the server must stay up and its memory (VmHWM,
the peak RSS, from /proc) stay under the bound each case states:
  - garbage instead of a ClientHello (random bytes, a TLS record of
    random bytes, a cleartext HTTP upgrade, a real hello followed by
    garbage): each connection dropped at once, never a 101;
  - a handshake that stalls after a real ClientHello, one that stalls
    after the TLS handshake and one that spends most of the deadline on
    TLS: dropped at --handshake-timeout counted from the accept;
  - 1,000 slowloris TLS connections (nothing, or part of a ClientHello,
    some trickling a byte every 200 ms), four rounds: all dropped at the
    handshake timeout, and the last two cost little more than the second;
  - a client that completes TLS and the upgrade, then sends 1 MiB
    messages and never reads an echo: closed with 1008 once its queue
    passes --high-water."""

import os
import socket
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tlslib  # noqa: E402  (puts tests/integration/lib on the path)
import hostile_lib as h  # noqa: E402

MIB = 1024  # in KiB, as /proc reports
HANDSHAKE_MS = 1000


def tls_echo(*args):
    return h.example("echo", *tlslib.server_args(), *args)


def probe(srv):
    return h.Probe(srv.port, path="/probe", limit=1.0, ssl_context=tlslib.client_context(), echo=True)


def client_hello():
    """The first flight of a real TLS client (Python's OpenSSL): a
    complete ClientHello record, captured through a memory BIO."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    assert hello[:1] == b"\x16" and len(hello) > 100, hello[:16]
    return hello


def until_end(sock, limit):
    """Reads until the server ends the connection: (seconds, bytes
    received), seconds None if it was still open after limit."""
    sock.settimeout(limit)
    start, got = time.monotonic(), b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
            sock.settimeout(max(0.01, limit - (time.monotonic() - start)))
    except ConnectionResetError:
        pass
    except socket.timeout:
        return None, got
    return time.monotonic() - start, got


def test_garbage_instead_of_client_hello():
    # Bound: 4 MiB. Each connection is gone before the next one opens;
    # a few KiB of OpenSSL state each, freed.
    hello = client_hello()
    # Random, but never the start of something that could still be valid
    # and longer than what is sent: the server then rightly waits for the
    # rest until the handshake timeout. A first byte with the high bit set
    # and a third byte of 1 is an SSLv2-style ClientHello header (up to
    # 32 KiB long); a record whose handshake message says it is longer
    # than the record is continued in the next one.
    kinds = [
        ("random bytes", lambda port: b"\x00" + os.urandom(4095)),
        ("a TLS record of random bytes",
         lambda port: b"\x16\x03\x01\x40\x00" + b"\x01\x00\x3f\xfc" + os.urandom(0x3ffc)),
        ("a cleartext HTTP upgrade", lambda port: h.upgrade_request(port, "/")),
        ("a ClientHello, then garbage", lambda port: hello + os.urandom(2048)),
    ]
    with tls_echo("--handshake-timeout", "10000") as srv:
        base = srv.peak_rss()
        problems = []
        with probe(srv) as p:
            for name, make in kinds:
                took = []
                for _ in range(50):
                    with socket.create_connection(("127.0.0.1", srv.port), 5) as s:
                        try:
                            s.sendall(make(srv.port))
                        except (BrokenPipeError, ConnectionResetError):
                            pass  # dropped while we were still sending
                        t, got = until_end(s, 3)
                    if t is None:
                        problems.append(f"{name}: still open after 3 s (the handshake timeout is 10 s)")
                        break
                    if b"HTTP/1.1 101" in got or b"HTTP/1.1 101" in got.upper():
                        problems.append(f"{name}: answered with a 101")
                        break
                    took.append(t)
                if took:
                    print(f"    {name}: 50 connections, each dropped within {max(took) * 1000:.0f} ms")
        problem = p.verdict() or h.memory_line(srv, base, 4 * MIB)
        return problems[0] if problems else problem


def stalled(srv, before_tls, after):
    """Connects, waits before_tls seconds, then: "hello" sends a real
    ClientHello and stalls; "tls" completes the TLS handshake and stalls;
    "head" completes it and sends half an upgrade request. Returns
    (seconds from connect to the drop or None, bytes of TLS seen)."""
    raw = socket.create_connection(("127.0.0.1", srv.port), 5)
    start = time.monotonic()
    time.sleep(before_tls)
    if after == "hello":
        raw.sendall(client_hello())
        t, got = until_end(raw, 5)
        raw.close()
        return (None if t is None else time.monotonic() - start), got
    s = tlslib.client_context().wrap_socket(raw, server_hostname="localhost")
    if after == "head":
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
    try:
        t, got = until_end(s, 5)
    except ssl.SSLError:  # an alert or a cut record: the server ended it
        t, got = 0, b""
    s.close()
    return (None if t is None else time.monotonic() - start), got


def test_stalled_handshakes_dropped_at_the_handshake_timeout():
    # Bound: 2 MiB, three connections at a time.
    with tls_echo("--handshake-timeout", str(HANDSHAKE_MS)) as srv:
        base = srv.peak_rss()
        problems = []
        with probe(srv) as p:
            limit = HANDSHAKE_MS / 1000
            for before, after, what in ((0, "hello", "a ClientHello, then nothing"),
                                        (0, "tls", "the TLS handshake, then nothing"),
                                        (0.6, "head", "0.6 s idle, TLS, half a request head")):
                took, got = stalled(srv, before, after)
                print(f"    {what}: dropped after {took if took is None else round(took, 2)} s")
                if after == "hello" and got[:1] != b"\x16":
                    problems.append(f"{what}: no ServerHello came back ({got[:8]!r})")
                if took is None:
                    problems.append(f"{what}: never dropped")
                elif not limit * 0.9 <= took <= limit + 0.45:
                    problems.append(f"{what}: dropped after {took:.2f} s, expected {limit} s after the accept")
        problem = p.verdict() or h.memory_line(srv, base, 2 * MIB)
        return problems[0] if problems else problem


def test_thousand_slowloris_tls_connections_four_times():
    # Bound: 64 MiB for 1,000 open connections, 64 KiB each: mid-handshake
    # OpenSSL holds the SSL object and a record buffer of 16 KiB and some
    # (about 35 KiB a connection measured with OpenSSL 3.0); twice that is
    # the ceiling. Leaks: the heap's peak settles over a few rounds (by up
    # to 7 MiB from the second round on, measured), so rounds 3 and 4 may
    # raise the second round's peak by at most 10 MiB together (5 KiB a
    # connection; a leaked SSL object with its record buffer is over
    # 20 KiB, 40 MiB in two rounds).
    count = 1000
    h.raise_fd_limit(count * 2 + 200)  # ours, and the server's (inherited)
    hello = client_hello()
    limit = HANDSHAKE_MS / 1000

    def opening(i):
        return hello[:60 + i % 200] if i % 2 else b""  # half a hello, or nothing

    def trickle(i):
        return b"\x00" if i % 20 == 1 else None  # more of the hello, never all of it

    with tls_echo("--handshake-timeout", str(HANDSHAKE_MS)) as srv:
        base = srv.peak_rss()
        peaks, problems = [], []
        with probe(srv) as p:
            for rnd in (1, 2, 3, 4):
                r = h.slowloris(srv, count, opening, trickle, limit + 5)
                lives = r["lives"]
                peaks.append(srv.peak_rss())
                print(f"    round {rnd}: opened {count} in {r['opened']:.2f} s, VmRSS with them "
                      f"{r['rss_with_them']} KiB, {r['trickled']} bytes trickled, {len(lives)} dropped after "
                      f"{lives[0] if lives else 0:.2f}..{lives[-1] if lives else 0:.2f} s; peak {peaks[-1]} KiB")
                if r["pending"]:
                    problems.append(f"round {rnd}: {r['pending']} of {count} still open after {limit + 5} s")
                elif lives[0] < limit * 0.9 or lives[-1] > limit + 2:
                    problems.append(f"round {rnd}: dropped after {lives[0]:.2f}..{lives[-1]:.2f} s, expected {limit} s")
                # A partial hello gets nothing back; a TLS alert is allowed.
                odd = [a[:16] for a in r["answers"] if a[:1] != b"\x15"]
                if odd:
                    problems.append(f"round {rnd}: {len(odd)} got an answer, e.g. {odd[0]!r}")
        problem = p.verdict() or h.memory_line(srv, base, 64 * MIB)
        if not problems and not problem and peaks[3] > peaks[1] + 10 * MIB:
            problem = f"rounds 3 and 4 raised the peak from {peaks[1]} to {peaks[3]} KiB: a leak?"
        return problems[0] if problems else problem


def test_client_that_never_reads_is_closed_at_high_water():
    # Bound: 8 MiB. The server holds at most --high-water (256 KiB) of
    # echoes plus the message it is reading (1 MiB) and OpenSSL's record
    # buffers; the client offers 32 MiB, which a server that queued
    # without limit would hold. (Once it has closed, the server reads and
    # discards until the close timeout, RFC 6455 §5.5.1, so the sends need
    # not fail: the 1008 close frame behind the echoes tells.)
    msg = h.frame(0x2, os.urandom(1 << 20))
    with tls_echo("--high-water", "262144", "--max-message", str(1 << 20)) as srv:
        base = srv.peak_rss()
        result = {}

        def flood():
            c = h.RawClient(srv.port, rcvbuf=4096, ssl_context=tlslib.client_context())
            c.sock.settimeout(10)
            sent, start = 0, time.monotonic()
            try:
                while sent < 32 << 20:
                    c.sock.sendall(msg)
                    sent += len(msg)
                result["end"] = "sent"
            except socket.timeout:
                result["end"] = "blocked"  # the close frame below decides
            except OSError as e:  # also ssl.SSLError: dropped
                result["end"] = repr(e)
            result["sent"], result["took"] = sent, time.monotonic() - start
            # Now read what came back: echoes, then the close.
            result["close"] = c.read_until_close(10)
            c.close()

        with probe(srv) as p:
            t = threading.Thread(target=flood, daemon=True)
            t.start()
            t.join(40)
        code, seen, how = result.get("close", (None, [], "flood did not finish"))
        print(f"    the non-reader sent {result.get('sent', 0) >> 20} MiB in {result.get('took', 0):.2f} s "
              f"({result.get('end')}); then read {len(seen)} echoes and {how} {code or ''}")
        problem = p.verdict() or h.memory_line(srv, base, 8 * MIB)
        if code != 1008:
            return f"no close 1008 for the client that never reads: {how} {code}"
        return problem


if __name__ == "__main__":
    sys.exit(h.run([
        test_garbage_instead_of_client_hello,
        test_stalled_handshakes_dropped_at_the_handshake_timeout,
        test_thousand_slowloris_tls_connections_four_times,
        test_client_that_never_reads_is_closed_at_high_water,
    ]))
