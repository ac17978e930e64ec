"""Slow attackers against the runtime: a client that sends half a frame
and stalls, and 1,000 slowloris connections that never finish their
request. The server must drop them by its deadlines (cws.h, layer 5
"Policies"), keep its memory under a stated bound, and keep serving a
normal client meanwhile (its round trips are printed)."""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import hostile_lib as h  # noqa: E402

MIB = 1024

# A masked text frame header announcing 100 bytes, and 10 of them.
HALF_FRAME = h.frame(0x1, b"s" * 100)[:2 + 4 + 10]


def stalled_client(srv, path, deadline_s, label):
    """Sends half a frame, then neither sends nor reads (so it never
    answers a ping). Returns (seconds until the server ended the TCP
    connection or None, the probe's problem)."""
    with h.Probe(srv.port, path=path) as probe:
        c = h.RawClient(srv.port, path=path)
        c.send(HALF_FRAME)
        start = time.monotonic()
        # Reading would not answer pings; it only notices the end.
        ended = c.ended(deadline_s)
        took = time.monotonic() - start
        c.close()
    print(f"    {label}: the stalled client was dropped after {took:.2f} s" if ended
          else f"    {label}: still connected after {took:.2f} s")
    return (took if ended else None), probe.verdict()


def test_half_frame_stall_dropped_at_pong_deadline():
    # Runtime policy: a peer that does not answer a ping within
    # pong_timeout_ms is dropped, on_close 1006 "no pong before the deadline".
    with h.peer("--ping-interval", "200", "--pong-timeout", "500") as srv:
        base = srv.peak_rss()
        took, problem = stalled_client(srv, "/attack", 5, "ping 200 ms, pong deadline 500 ms")
        closed = srv.wait_close_line("/attack", 2)
        print(f"    server reported {closed}")
        problem = problem or h.memory_line(srv, base, 1 * MIB)
        if took is None:
            return "the stalled client was never dropped"
        if not 0.5 <= took <= 2.5:
            return f"dropped after {took:.2f} s, expected 0.7 s (ping 0.2 s + deadline 0.5 s)"
        if not closed or closed[0] != 1006 or "pong" not in closed[1]:
            return f"the server reported {closed}, expected 1006 naming the pong deadline"
        return problem


def test_half_frame_stall_chat_server():
    # The same against cws-chat, whose pong deadline is the runtime's
    # default (10 s; it only exposes --ping-interval).
    with tempfile.TemporaryDirectory() as tmp:
        with h.example("chat", "--ping-interval", "300", "--history", os.path.join(tmp, "h.log"),
                       "--web", "examples/chat/web") as srv:
            base = srv.peak_rss()
            took, problem = stalled_client(srv, "/ws", 15, "cws-chat --ping-interval 300")
            problem = problem or h.memory_line(srv, base, 2 * MIB)
            if took is None:
                return "the stalled client was never dropped"
            if not 9 <= took <= 13:
                return f"dropped after {took:.2f} s, expected about 10.3 s (ping 0.3 s + 10 s deadline)"
            return problem


def test_thousand_slowloris_dropped_at_handshake_timeout():
    # Runtime policy: a client without a complete request head after
    # handshake_timeout_ms is dropped without an answer.
    count, timeout_ms = 1000, 1000
    h.raise_fd_limit(count * 2 + 200)  # ours, and the server's (inherited)
    with tempfile.TemporaryDirectory() as tmp:
        with h.example("chat", "--handshake-timeout", str(timeout_ms), "--history",
                       os.path.join(tmp, "h.log"), "--web", "examples/chat/web") as srv:
            base = srv.peak_rss()
            with h.Probe(srv.port, path="/ws") as probe:
                # Every tenth one trickles a byte every 200 ms: the
                # deadline covers the whole head, not idle time.
                r = h.slowloris(srv, count,
                                lambda i: f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-{i}: ".encode(),
                                lambda i: b"a" if i % 10 == 0 else None, timeout_ms / 1000 + 5)
            pending, lives, answered = r["pending"], r["lives"], r["answers"]
            print(f"    opened {count} half requests in {r['opened']:.2f} s; server VmRSS with them "
                  f"{r['rss_with_them']} KiB; {r['trickled']} bytes trickled; {len(lives)} dropped, each after "
                  f"{lives[0] if lives else 0:.2f}..{lives[-1] if lives else 0:.2f} s")
            problem = probe.verdict() or h.memory_line(srv, base, 16 * MIB)
            if pending:
                return f"{pending} of {count} slowloris connections were still open"
            if answered:
                return f"{len(answered)} got an answer, e.g. {answered[0][:40]!r}; expected a silent drop"
            if lives[0] < timeout_ms / 1000 * 0.9 or lives[-1] > timeout_ms / 1000 + 2:
                return f"dropped after {lives[0]:.2f}..{lives[-1]:.2f} s, expected about {timeout_ms / 1000} s"
            # The server still accepts and serves a new client afterwards.
            c = h.RawClient(srv.port, path="/ws")
            c.close()
            return problem


if __name__ == "__main__":
    sys.exit(h.run([
        test_half_frame_stall_dropped_at_pong_deadline,
        test_thousand_slowloris_dropped_at_handshake_timeout,
        test_half_frame_stall_chat_server,
    ]))
