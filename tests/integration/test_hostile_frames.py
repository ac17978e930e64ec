"""Hostile frames against the runtime (cws-echo, and cws_peer serve where
the server's own close code must be read): absurd lengths, a message in
10,000 fragments and one that never ends, a ping flood. In each the attacker ends with the
documented code, the server's memory stays under a stated bound, and a
normal client keeps getting pongs meanwhile (its round trips are printed)."""

import os
import socket
import struct
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import hostile_lib as h  # noqa: E402

MIB = 1024


def refused_header(length, want, label):
    """A binary frame header declaring `length` bytes and no payload: the
    server must answer `want` at once (it cannot have waited for, or
    allocated, the payload) and close TCP."""
    with h.example("echo") as srv:
        base = srv.peak_rss()
        with h.Probe(srv.port) as probe:
            c = h.RawClient(srv.port)
            start = time.monotonic()
            c.send(h.frame(0x2, length=length))
            code, seen, how = c.read_until_close(3)
            took = time.monotonic() - start
            ended = c.ended(3)
            c.close()
            time.sleep(0.3)
        print(f"    {label}: close {code} after {took * 1000:.1f} ms ({how}); TCP closed: {ended}")
        problem = probe.verdict() or h.memory_line(srv, base, 1 * MIB)
        if code != want:
            return f"got {how} with close code {code}, expected {want}"
        if not ended:
            return "the server kept the TCP connection open after its close"
        return problem


def test_length_2_63_minus_1_refused_1009():
    # RFC 6455 §5.2 allows 63-bit lengths; cws refuses any frame over
    # max_frame_size (16 MiB by default) with 1009 (§7.4.1) from the header.
    return refused_header(2**63 - 1, 1009, "length 2^63-1")


def test_length_just_over_the_limit_refused_1009():
    return refused_header((16 << 20) + 1, 1009, "length 16 MiB + 1")


def test_length_top_bit_refused_1002():
    # §5.2: "the most significant bit MUST be 0".
    return refused_header(2**63 + 5, 1002, "length with the top bit set")


def read_message(c, timeout):
    """Reassembles the server's next data message: (opcode, payload)."""
    c.sock.settimeout(timeout)
    fin, op, data = c.read_frame()
    parts = [data]
    while not fin:
        fin, _, data = c.read_frame()
        parts.append(data)
    return op, b"".join(parts)


def fragments(count, payload_each):
    """One text message as `count` masked frames."""
    out = [h.frame(0x1, payload_each, fin=False)]
    out += [h.frame(0x0, payload_each, fin=False)] * (count - 2)
    out.append(h.frame(0x0, payload_each, fin=True))
    return b"".join(out)


def test_ten_thousand_one_byte_fragments_accepted():
    # §5.4: any number of fragments is a valid message; the reassembly
    # must cost the message's size, not a per-fragment overhead.
    with h.example("echo") as srv:
        base = srv.peak_rss()
        with h.Probe(srv.port) as probe:
            c = h.RawClient(srv.port)
            start = time.monotonic()
            c.send(fragments(10000, b"a"))
            op, data = read_message(c, 10)
            print(f"    10,000 fragments echoed as one message in {(time.monotonic() - start) * 1000:.0f} ms")
            c.send(h.frame(0x8, struct.pack("!H", 1000)))
            code, _, _ = c.read_until_close(3)
            c.close()
        problem = probe.verdict() or h.memory_line(srv, base, 2 * MIB)
        if op != 0x1 or data != b"a" * 10000:
            return f"echo was opcode {op} with {len(data)} bytes"
        if code != 1000:
            return f"the close answer was {code}"
        return problem


def test_ten_thousand_empty_fragments_accepted():
    with h.example("echo") as srv:
        base = srv.peak_rss()
        with h.Probe(srv.port) as probe:
            c = h.RawClient(srv.port)
            c.send(h.frame(0x2, b"x", fin=False) + h.frame(0x0, b"", fin=False) * 9998 + h.frame(0x0, b"y"))
            op, data = read_message(c, 10)
            c.close()
        problem = probe.verdict() or h.memory_line(srv, base, 2 * MIB)
        if op != 0x2 or data != b"xy":
            return f"echo was opcode {op} with {data[:20]!r}"
        return problem


def test_endless_empty_fragments_refused_1009():
    # Empty continuations add no bytes: max_fragments (65536) ends them.
    with h.example("echo") as srv:
        with h.Probe(srv.port) as probe:
            c = h.RawClient(srv.port)
            try:
                c.send(h.frame(0x2, b"x", fin=False) + h.frame(0x0, b"", fin=False) * 70000)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may close before taking every byte
            code, seen, how = c.read_until_close(5)
            c.close()
        problem = probe.verdict()
        if code != 1009:
            return f"ended with {how} {code}, expected close 1009"
        return problem


def test_fragments_over_max_message_refused_1009():
    # The limit holds for the sum of the fragments (§10.4), not per frame.
    with h.example("echo", "--max-message", "4096") as srv:
        base = srv.peak_rss()
        with h.Probe(srv.port) as probe:
            c = h.RawClient(srv.port)
            try:
                c.send(fragments(10000, b"a"))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may close before taking every byte
            code, seen, how = c.read_until_close(5)
            c.close()
        problem = probe.verdict() or h.memory_line(srv, base, 2 * MIB)
        print(f"    ended with {how} {code} after {len(seen)} frames")
        if code != 1009:
            return f"ended with {how} {code}, expected close 1009"
        if seen:
            return f"the server sent {seen[:3]} before refusing"
        return problem


def test_ping_flood_answered():
    # §5.5.2: every ping gets a pong with the same payload. 20,000 pings
    # of 125 bytes as fast as the socket takes them, read concurrently.
    count = 20000
    with h.example("echo") as srv:
        base = srv.peak_rss()
        with h.Probe(srv.port) as probe:
            c = h.RawClient(srv.port)
            got, bad, ended = [0], [], []

            def reader():
                try:
                    c.sock.settimeout(15)
                    while got[0] < count:
                        _, op, data = c.read_frame()
                        if op == 0x8:
                            ended.append(struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005)
                            return
                        if op != 0xA or data[:8] != struct.pack("!Q", got[0]):
                            bad.append((op, data[:8]))
                            return
                        got[0] += 1
                except Exception as e:  # reported below
                    ended.append(repr(e))

            t = threading.Thread(target=reader)
            t.start()
            start = time.monotonic()
            batch = []
            for i in range(count):
                batch.append(h.frame(0x9, struct.pack("!Q", i) + b"p" * 117))
                if len(batch) == 500:
                    c.send(b"".join(batch))
                    batch = []
            t.join(20)
            took = time.monotonic() - start
            c.close()
        print(f"    {got[0]} of {count} pongs in {took:.2f} s")
        problem = probe.verdict() or h.memory_line(srv, base, 8 * MIB)
        if bad:
            return f"pong {got[0]} was wrong: {bad[0]}"
        if got[0] != count:
            # The runtime documents only one way out: 1008 at the high-water mark.
            if ended and ended[0] == 1008:
                return problem
            return f"only {got[0]} pongs, then {ended}"
        return problem


def test_ping_flood_never_read_closed_1008():
    # The same flood from a client that never reads its pongs: they queue
    # up like any output, so the high-water policy ends it with 1008.
    high_water = 64 * 1024
    with h.peer("--high-water", str(high_water)) as srv:
        base = srv.peak_rss()
        with h.Probe(srv.port) as probe:
            c = h.RawClient(srv.port, rcvbuf=4096)
            ping = h.frame(0x9, b"p" * 125) * 500
            c.sock.settimeout(0.5)
            start, sent = time.monotonic(), 0
            while time.monotonic() - start < 20 and not srv.wait_close_line("/attack", 0):
                try:
                    c.sock.sendall(ping)
                    sent += 500
                except (BrokenPipeError, ConnectionResetError):
                    break
                except socket.timeout:
                    pass
            closed = srv.wait_close_line("/attack", 5)
            ended = c.ended(5)
            c.close()
        print(f"    {sent} pings sent; server closed the socket with {closed} after "
              f"{time.monotonic() - start:.2f} s; TCP ended: {ended}")
        problem = probe.verdict() or h.memory_line(srv, base, 8 * MIB)
        if not closed or closed[0] != 1008:
            return f"the server reported {closed}, expected 1008"
        if not ended:
            return "the TCP connection was not dropped"
        return problem


def test_never_reading_client_closed_at_high_water():
    # cws.h: a socket whose queue passes high_water because its peer does
    # not read is closed with 1008 and dropped within min(close timeout,
    # 1 s). The attacker sends 1 KiB messages to an echo and never reads.
    high_water = 256 * 1024
    with h.peer("--high-water", str(high_water), "--max-message", "4096") as srv:
        base = srv.peak_rss()
        with h.Probe(srv.port) as probe:
            c = h.RawClient(srv.port, rcvbuf=4096)
            msg = h.frame(0x2, b"z" * 1024)
            sent, start, dropped = 0, time.monotonic(), None
            c.sock.settimeout(0.5)
            while time.monotonic() - start < 20:
                try:
                    c.sock.sendall(msg * 64)
                    sent += 64 * 1024
                except (BrokenPipeError, ConnectionResetError) as e:
                    dropped = type(e).__name__
                    break
                except socket.timeout:
                    # Our send is stuck: both kernels' buffers are full.
                    if srv.wait_close_line("/attack", 0):
                        break
            closed = srv.wait_close_line("/attack", 5)
            took = time.monotonic() - start
            ended = c.ended(5)
            c.close()
        print(f"    sent {sent // 1024} KiB; server closed the socket with {closed} after {took:.2f} s "
              f"({dropped or 'send blocked'}); TCP ended: {ended}")
        problem = probe.verdict() or h.memory_line(srv, base, 8 * MIB)
        if not closed or closed[0] != 1008:
            return f"the server reported {closed}, expected 1008"
        if not ended:
            return "the TCP connection was not dropped"
        return problem


def test_never_reading_chat_client_dropped():
    # The same policy through cws-chat's --high-water: the attacker sends
    # binary messages (each answered with a JSON error) and never reads
    # the answers. cws-chat does not report close codes, so this checks
    # that the connection is dropped and the server stays small.
    with tempfile.TemporaryDirectory() as tmp:
        with h.example("chat", "--high-water", "16384", "--rate", "1000000", "--burst", "1000000",
                       "--history", os.path.join(tmp, "h.log"), "--web", "examples/chat/web") as srv:
            base = srv.peak_rss()
            with h.Probe(srv.port, path="/ws") as probe:
                c = h.RawClient(srv.port, path="/ws", rcvbuf=4096)
                msg = h.frame(0x2, b"b" * 16) * 1000
                c.sock.settimeout(0.5)
                start, sent, how = time.monotonic(), 0, "still open"
                while time.monotonic() - start < 20:
                    try:
                        c.sock.sendall(msg)
                        sent += 1000
                    except (BrokenPipeError, ConnectionResetError) as e:
                        how = type(e).__name__
                        break
                    except socket.timeout:
                        pass  # the server stopped reading us: it is closing
                ended = how != "still open" or c.ended(5)
                took = time.monotonic() - start
                c.close()
            print(f"    {sent} messages sent; connection ended: {ended} ({how}) after {took:.2f} s")
            problem = probe.verdict() or h.memory_line(srv, base, 8 * MIB)
            if not ended:
                return "the never-reading client was not dropped"
            return problem


if __name__ == "__main__":
    sys.exit(h.run([
        test_length_2_63_minus_1_refused_1009,
        test_length_just_over_the_limit_refused_1009,
        test_length_top_bit_refused_1002,
        test_ten_thousand_one_byte_fragments_accepted,
        test_ten_thousand_empty_fragments_accepted,
        test_endless_empty_fragments_refused_1009,
        test_fragments_over_max_message_refused_1009,
        test_ping_flood_answered,
        test_ping_flood_never_read_closed_1008,
        test_never_reading_client_closed_at_high_water,
        test_never_reading_chat_client_dropped,
    ]))
