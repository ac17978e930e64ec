#!/usr/bin/python3
"""Client-role conformance: cws-client against a server that misbehaves
in one way per case (misbehaving_server.py). Each case checks what the
client did: its exit status, its error text, what it printed, and the
close frame it sent (read by the server). Prints OK/FAILED per case and
exits 1 unless every case is OK.

  BUILD=build /usr/bin/python3 tests/conformance/client/run.py [NAME...]
"""

import os
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, HERE)
import misbehaving_server as ms  # noqa: E402

BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))
CASE_TIMEOUT = 20


class Case:
    """name; the server's behaviour; expected client outcome.
    expect: "refused" (handshake failure; error holds the reason text),
    "fail" (the client fails the connection with close_code), "clean",
    "gave_up" (a timeout ends it: check() decides), "abnormal" (1006)."""

    def __init__(self, name, behaviour, expect, error=None, close_code=None, args=(),
                 lines=(), eof_after=None, eof_at_once=False, check=None, hold_ms=None):
        self.name, self.behaviour, self.expect = name, behaviour, expect
        self.error, self.close_code, self.args = error, close_code, list(args)
        self.lines = list(lines)        # stdout lines the client must print
        self.eof_after = eof_after      # close stdin once this line is printed
        self.eof_at_once = eof_at_once  # close stdin right away
        self.check = check              # extra check(server_result, elapsed)
        # Instead of cws-client (which exits, closing TCP, as soon as the
        # close handshake is done): cws_peer hold, which keeps the loop
        # running for hold_ms, to see what the runtime itself does.
        self.hold_ms = hold_ms


def refused(name, error, make, args=()):
    return Case(name, ms.refuse_with(make), "refused", error=error, args=args)


def bad_frame(name, data, code):
    return Case(name, ms.bad_frame_after_handshake(data), "fail", close_code=code)


def gave_up_in_time(result, elapsed):
    t = result.get("client_gave_up_after")
    if not result.get("client_closed_tcp"):
        return "the client never closed TCP"
    # The runtime's default close timeout is 5 s (cws.h, cws_client_config).
    if t is None or not 4.0 <= t <= 8.0:
        return f"gave up after {t} s, expected about 5 s"
    return None


def waited_for_server_fin(result, elapsed):
    # cws.h: "a client waits up to close_timeout for the server's FIN"
    # (RFC 6455 §7.1.1: the server closes TCP first). cws_peer hold runs
    # for 7 s, so a close at its exit would be seen at 7 s.
    t = result.get("client_gave_up_after")
    if not result.get("client_closed_tcp"):
        return "the client never closed TCP"
    if t is None or not 4.0 <= t <= 6.0:
        return f"the runtime closed TCP {t} s after the close handshake, expected about 5 s"
    return None


def closed_tcp_in_time(result, elapsed):
    t = result.get("client_gave_up_after")
    if not result.get("client_closed_tcp"):
        return "the client never closed TCP"
    if t is None or t > 8.0:
        return f"closed TCP after {t} s, expected within the 5 s close timeout"
    return None


CASES = [
    Case("baseline_good_server", ms.good_echo_once, "clean", lines=["hello"], eof_after="hello"),
    # RFC 6455 §4.1: the client MUST fail the connection on each of these.
    refused("wrong_accept", "does not match the key",
            lambda l: l.response(accept=b"dGhlIHNhbXBsZSBub25jZQ==")),
    refused("missing_accept", "Sec-WebSocket-Accept missing",
            lambda l: l.response().replace(b"Sec-WebSocket-Accept", b"X-Not-Accept")),
    refused("status_200", "status is not 101", lambda l: l.response(status="200 OK")),
    refused("status_302", "status is not 101",
            lambda l: l.response(status="302 Found", extra=b"Location: ws://127.0.0.1:1/\r\n")),
    refused("status_400", "status is not 101", lambda l: l.response(status="400 Bad Request")),
    refused("missing_upgrade", "Upgrade lacks", lambda l: l.response(upgrade=False)),
    refused("missing_connection", "Connection lacks", lambda l: l.response(connection=False)),
    refused("subprotocol_not_offered", "subprotocol not offered",
            lambda l: l.response(extra=b"Sec-WebSocket-Protocol: other\r\n"), args=["--subprotocol", "chat"]),
    refused("subprotocol_none_offered", "subprotocol not offered",
            lambda l: l.response(extra=b"Sec-WebSocket-Protocol: chat\r\n")),
    refused("extension_not_offered", "extension not offered",
            lambda l: l.response(extra=b"Sec-WebSocket-Extensions: permessage-deflate\r\n")),
    refused("not_http", "malformed", lambda l: b"SSH-2.0-OpenSSH_9.2\r\n\r\n"),
    # RFC 6455 §5.1: a client MUST close on a masked frame from the server.
    bad_frame("masked_frame", ms.frame(0x1, b"hi", mask=b"\x01\x02\x03\x04"), 1002),
    # §5.2: RSV bits without a negotiated extension, reserved opcodes.
    bad_frame("rsv1_bit", ms.frame(0x1, b"hi", rsv=4), 1002),
    bad_frame("rsv3_bit", ms.frame(0x2, b"hi", rsv=1), 1002),
    bad_frame("reserved_opcode_3", ms.frame(0x3, b"hi"), 1002),
    bad_frame("reserved_opcode_b", ms.frame(0xB, b"hi"), 1002),
    # §5.5: control frames are never fragmented and carry at most 125 bytes.
    bad_frame("fragmented_ping", ms.frame(0x9, b"hi", fin=False), 1002),
    bad_frame("ping_126_bytes", ms.frame(0x9, b"x" * 126), 1002),
    # §5.4: a continuation with no message open; a new message inside one.
    bad_frame("orphan_continuation", ms.frame(0x0, b"hi"), 1002),
    bad_frame("text_inside_fragmented",
              ms.frame(0x1, b"a", fin=False) + ms.frame(0x1, b"b"), 1002),
    # §8.1: text must be UTF-8, also across fragments.
    bad_frame("bad_utf8_text", ms.frame(0x1, b"\xc3\x28"), 1007),
    bad_frame("bad_utf8_across_fragments",
              ms.frame(0x1, b"\xf0\x9f", fin=False) + ms.frame(0x0, b"\x41"), 1007),
    # §7.4: codes that must never be sent; §5.5.1 a reason is UTF-8.
    bad_frame("close_code_1005", ms.close_frame(1005), 1002),
    bad_frame("close_code_999", ms.close_frame(999), 1002),
    bad_frame("close_code_5000", ms.close_frame(5000), 1002),
    bad_frame("close_1_byte_payload", ms.frame(0x8, b"\x03"), 1002),
    bad_frame("close_reason_bad_utf8", ms.close_frame(1000, b"\xff"), 1007),
    # §5.2: "the most significant bit MUST be 0" in a 64-bit length.
    bad_frame("len64_top_bit", b"\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x01", 1002),
    # §4.1 / DESIGN: bytes after the 101 belong to the frame stream.
    Case("frames_in_101_segment", ms.frames_with_101, "clean", lines=["early one", "0102"],
         eof_after="0102"),
    Case("whole_session_in_one_segment", ms.whole_session_in_one_segment, "clean",
         lines=["last words"]),
    # §7.1.1 + the runtime's close timeout: a silent server is given up on.
    Case("server_never_answers_close", ms.never_answers_close, "gave_up", eof_at_once=True,
         close_code=1000, check=gave_up_in_time),
    Case("server_never_closes_tcp", ms.closes_then_lingers, "gave_up", close_code=1000,
         check=closed_tcp_in_time),
    Case("runtime_waits_for_server_fin", ms.closes_then_lingers, "gave_up", close_code=1000,
         check=waited_for_server_fin, hold_ms=7000, lines=["CLOSED 1000 bye"]),
    # §7.1.5: a connection that ends without a close frame is 1006.
    Case("tcp_dropped_without_close", ms.drops_tcp, "abnormal"),
]


def run_case(case, client):
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    lsock.settimeout(10)
    port = lsock.getsockname()[1]
    result, server_error = {}, []

    def serve():
        try:
            conn, _ = lsock.accept()
            result.update(case.behaviour(ms.Link(conn)))
        except Exception as e:  # reported as this case's failure
            server_error.append(repr(e))

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    start = time.monotonic()
    url = f"ws://127.0.0.1:{port}/{case.name}"
    argv = [client, *case.args, url]
    if case.hold_ms:
        sys.path.insert(0, os.path.join(REPO, "tests", "interop"))
        import run_matrix
        argv = [run_matrix.build_peer(), "hold", url, str(case.hold_ms)]
    p = subprocess.Popen(argv,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if case.eof_at_once:
        p.stdin.close()
    out_lines = []
    # Read stdout line by line so stdin can be closed at the right moment.
    for raw in iter(p.stdout.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\n")
        out_lines.append(line)
        if case.eof_after is not None and line == case.eof_after and not p.stdin.closed:
            p.stdin.close()
        if time.monotonic() - start > CASE_TIMEOUT:
            break
    try:
        status = p.wait(max(0.1, CASE_TIMEOUT - (time.monotonic() - start)))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        status = "timeout"
    if not p.stdin.closed:
        p.stdin.close()
    err = p.stderr.read().decode("utf-8", "replace")
    p.stdout.close()
    p.stderr.close()
    t.join(5)
    lsock.close()
    elapsed = time.monotonic() - start
    return judge(case, status, out_lines, err, result, server_error, elapsed)


def judge(case, status, out, err, result, server_error, elapsed):
    """None if the client behaved, else what went wrong."""
    if server_error and case.expect != "refused":
        return f"server side: {server_error[0]} (client status {status}, stderr {err.strip()!r})"
    if case.expect == "refused":
        if status != 1:
            return f"exit status {status}, expected 1"
        if case.error not in err:
            return f"stderr {err.strip()!r} does not name {case.error!r}"
        if out:
            return f"printed {out!r} although the handshake failed"
        rest = result.get("after_response", b"?")
        if rest is None:
            return "the client kept the TCP connection open"
        if rest:
            return f"the client sent {rest[:40]!r} after a refused handshake"
        return None
    if case.expect == "abnormal":
        if status != 1 or "1006" not in err or out:
            return f"exit status {status}, stderr {err.strip()!r}, stdout {out!r}; expected 1 naming 1006"
        return None
    if "close_code" not in result:
        return f"the server got no close frame (client status {status}, stderr {err.strip()!r})"
    if result.get("close_masked") == 0:
        return "the client's close frame was not masked (RFC 6455 §5.3)"
    if case.expect == "fail":
        if result["close_code"] != case.close_code:
            return f"client sent close {result['close_code']}, expected {case.close_code}"
        if status != 1 or f"code {case.close_code}" not in err:
            return f"exit status {status}, stderr {err.strip()!r}; expected 1 naming {case.close_code}"
        if out:
            return f"delivered {out!r} from a bad frame"
        return None
    if case.expect == "clean":
        if out != case.lines:
            return f"printed {out!r}, expected {case.lines!r}"
        if result["close_code"] != 1000 or status != 0:
            return f"close {result['close_code']}, exit status {status}, stderr {err.strip()!r}"
        return None
    if case.expect == "gave_up":
        if result["close_code"] != case.close_code:
            return f"client sent close {result['close_code']}, expected {case.close_code}"
        if status not in (0, 1):
            return f"exit status {status}"
        if case.lines and out != case.lines:
            return f"printed {out!r}, expected {case.lines!r}"
        return case.check(result, elapsed)
    return "unknown expectation"


def main():
    client = os.path.join(BUILD, "cws-client")
    if not os.access(client, os.X_OK):
        sys.exit(f"missing {client}: build it first")
    wanted = set(sys.argv[1:])
    cases = [c for c in CASES if not wanted or c.name in wanted]
    failed = 0
    # Cases are independent and mostly wait: run them all at once, so the
    # run takes as long as the slowest (a 7 s hold).
    results = {}

    def worker(c):
        start = time.monotonic()
        results[c.name] = (run_case(c, client), time.monotonic() - start)

    threads = [threading.Thread(target=worker, args=(c,)) for c in cases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in cases:
        problem, took = results.get(c.name, ("did not run", 0))
        if problem:
            failed += 1
            print(f"FAILED {c.name}: {problem}")
        else:
            print(f"OK     {c.name} ({took:.2f} s)")
    print(f"{len(cases) - failed}/{len(cases)} OK")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
