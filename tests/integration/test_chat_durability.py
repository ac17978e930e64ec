#!/usr/bin/env python3
"""cws-chat durability: the history files survive a restart and kill -9
(same history, sequence continues), in every --fsync mode; a truncated or
corrupted record is skipped with a warning and its segment repaired; old
segments are deleted so the files stay bounded; a single-file log of an
older cws-chat is adopted, and records written by another tool from the
documented format are read; every file is created 0600 and a symlink
planted at a new segment's or the repair's path is not followed; a second
server on the same history is refused."""
import os
import re
import signal
import stat
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from chatlib import BINARY, ChatServer, check, join, main, post_and_wait  # noqa: E402


async def post_n(srv, prefix, n):
    ws, _, _, _ = await join(srv)
    for i in range(n):
        await post_and_wait(ws, f"{prefix}{i}")
    await ws.close()


async def history_of(srv):
    ws, hello, got, notices = await join(srv, since=0)
    await ws.close()
    return hello, [(m["seq"], m["text"]) for m in got], notices


def segments(srv):
    """The history's segment files, oldest first: FILE.<16 hex digits>
    next to FILE (docs/chat-protocol.md, Durability)."""
    d, base = os.path.split(srv.history)
    names = sorted(n for n in os.listdir(d) if re.fullmatch(re.escape(base) + r"\.[0-9a-f]{16}", n))
    return [os.path.join(d, n) for n in names]


def records(path):
    with open(path, "rb") as f:
        return f.read().split(b"\n")[:-1]


def all_records(srv):
    return [r for seg in segments(srv) for r in records(seg)]


def record(seq, json_text):
    """One record as docs/chat-protocol.md describes it, written here
    independently of the server's code."""
    body = json_text.encode()
    prefix = b"%016x %08x " % (seq, len(body))
    return prefix + b"%08x " % zlib.crc32(body, zlib.crc32(prefix)) + body + b"\n"


async def restart_keeps_history_and_sequence():
    for mode in ("batch", "always", "never"):
        # One message a segment: every post starts one, synced as the mode says.
        srv = ChatServer("--fsync", mode, "--history-size", "8").start()
        try:
            await post_n(srv, "a", 3)
            check(srv.stop() == 0, "exit status after SIGTERM")
            srv.start()
            hello, got, _ = await history_of(srv)
            check(got == [(1, "a0"), (2, "a1"), (3, "a2")], f"{mode}: history after restart {got}")
            check(hello["seq"] == 3, f"{mode}: hello after restart {hello}")
            await post_n(srv, "b", 1)
            _, got, _ = await history_of(srv)
            check(got[-1] == (4, "b0"), f"{mode}: sequence continues {got}")
        finally:
            srv.cleanup()


async def kill_9_loses_nothing_shown():
    srv = ChatServer().start()
    try:
        await post_n(srv, "k", 20)  # each one seen by its sender before the kill
        srv.stop(signal.SIGKILL)
        srv.start()
        _, got, _ = await history_of(srv)
        check(got == [(i + 1, f"k{i}") for i in range(20)], f"after kill -9: {got}")
        await post_n(srv, "after", 1)
        _, got, _ = await history_of(srv)
        check(got[-1] == (21, "after0"), "sequence continues after kill -9")
        check("warning" not in srv.stderr(), "no warning expected: " + srv.stderr())
    finally:
        srv.cleanup()


async def truncated_last_record_is_skipped_and_cut():
    srv = ChatServer().start()
    try:
        await post_n(srv, "t", 5)
        srv.stop(signal.SIGKILL)
        newest = segments(srv)[-1]
        size = os.path.getsize(newest)
        with open(newest, "r+b") as f:
            f.truncate(size - 7)  # a torn write: the last record lost its tail
        srv.start()
        check("warning" in srv.stderr() and "skipping" in srv.stderr(), "no warning: " + srv.stderr())
        _, got, _ = await history_of(srv)
        check(got == [(i + 1, f"t{i}") for i in range(4)], f"history after truncation {got}")
        check(os.path.getsize(newest) == sum(len(r) + 1 for r in records(newest)), "partial bytes left")
        await post_n(srv, "u", 1)
        _, got, _ = await history_of(srv)
        check(got[-1] == (5, "u0"), f"seq after repair {got[-1]}")
        # Repaired for good: the next start has nothing to say.
        srv.stop()
        before = len(srv.stderr())
        srv.start()
        check("warning" not in srv.stderr()[before:], "still warning after repair")
        _, got, _ = await history_of(srv)
        check(len(got) == 5, "history after the second restart")
    finally:
        srv.cleanup()


async def corrupt_records_are_skipped():
    srv = ChatServer().start()
    try:
        await post_n(srv, "c", 6)
        srv.stop()
        check(len(segments(srv)) == 1, f"six messages in one segment: {segments(srv)}")
        seg = segments(srv)[0]
        recs = records(seg)
        recs[2] = recs[2].replace(b"c2", b"X2")    # a flipped byte mid-file: CRC catches it
        recs[-1] = recs[-1].replace(b"c5", b"c9")  # and in the last record
        with open(seg, "wb") as f:
            f.write(b"\n".join(recs) + b"\n")
        srv.start()
        err = srv.stderr()
        check(err.count("checksum mismatch") == 2, "expected two checksum warnings: " + err)
        _, got, _ = await history_of(srv)
        check([t for _, t in got] == ["c0", "c1", "c3", "c4"], f"history {got}")
        await post_n(srv, "d", 1)
        _, got, _ = await history_of(srv)
        check(got[-1] == (6, "d0"), f"continues after the last good record: {got[-1]}")
        srv.stop()
        before = len(srv.stderr())
        srv.start()
        check("warning" not in srv.stderr()[before:], "the file was not repaired")
        _, got, _ = await history_of(srv)
        check([t for _, t in got] == ["c0", "c1", "c3", "c4", "d0"], f"history after repair {got}")
    finally:
        srv.cleanup()


async def garbage_file_does_not_crash():
    srv = ChatServer()
    try:
        with open(srv.history + ".0000000000000001", "wb") as f:
            f.write(os.urandom(5000) + b"\n" * 3 + b"0" * 100 + b"\n" + os.urandom(100))
        srv.start()
        _, got, _ = await history_of(srv)
        check(got == [], "garbage loaded as history")
        await post_n(srv, "g", 2)
        srv.stop(signal.SIGKILL)
        srv.start()
        _, got, _ = await history_of(srv)
        check(got == [(1, "g0"), (2, "g1")], f"history after garbage {got}")
    finally:
        srv.cleanup()


async def old_segments_are_deleted():
    srv = ChatServer("--history-size", "5", "--rate", "1000", "--burst", "1000").start()
    try:
        await post_n(srv, "m", 23)
        # What is kept plus at most one segment (an eighth of it, at least 1).
        n = len(all_records(srv))
        check(n <= 5 + 2, f"{n} records in the files of a history keeping 5")
        srv.stop(signal.SIGKILL)
        srv.start()
        _, got, notices = await history_of(srv)
        check([s for s, _ in got] == list(range(19, 24)), f"kept after deletions {got}")
        check(notices and notices[0]["code"] == "history_gap", "gap notice for since=0")
        check("warning" not in srv.stderr(), srv.stderr())
    finally:
        srv.cleanup()


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


async def files_are_private_and_symlinks_not_followed():
    # Two records a segment, so new segments are created as we post.
    srv = ChatServer("--history-size", "16", "--rate", "1000", "--burst", "1000")
    old_umask = os.umask(0o022)  # the usual umask: a 0644 request would stay 0644
    try:
        srv.start()
        await post_n(srv, "m", 3)
        for path in segments(srv) + [srv.history + ".lock"]:
            check(mode(path) == 0o600, f"{path} mode {oct(mode(path))}")
        # A file of the same user that the server must never touch, and
        # symlinks to it where the next segments will be created.
        victim = os.path.join(srv.tmp, "victim.txt")
        with open(victim, "w") as f:
            f.write("precious")
        os.chmod(victim, 0o644)
        # Segments [1, 2] and [3] so far: the next one starts at 5.
        check(len(segments(srv)) == 2, f"segments {segments(srv)}")
        os.symlink(victim, srv.history + ".%016x" % 5)
        await post_n(srv, "n", 10)
        _, got, _ = await history_of(srv)
        check([t for _, t in got][-8:] == ["n%d" % i for i in range(2, 10)], f"history {got}")
        for path in segments(srv):
            check(not os.path.islink(path), f"{path} is a symlink")
            check(mode(path) == 0o600, f"{path} mode {oct(mode(path))}")
        # A repair at the next start rewrites a segment through FILE.tmp.
        srv.stop()
        seg = segments(srv)[-2]  # [11, 12]; the newest holds 13 alone
        recs = records(seg)
        check(len(recs) == 2, f"two records a segment: {recs}")
        recs[0] = recs[0].replace(b'"n', b'"X')
        with open(seg, "wb") as f:
            f.write(b"\n".join(recs) + b"\n")
        os.symlink(victim, srv.history + ".tmp")
        srv.start()
        check("checksum mismatch" in srv.stderr() and "repairing" in srv.stderr(), srv.stderr())
        with open(victim) as f:
            check(f.read() == "precious", "the symlink's target was written")
        check(mode(victim) == 0o644, f"the symlink's target changed mode {oct(mode(victim))}")
        check(not os.path.lexists(srv.history + ".tmp"), "the temporary file is left")
        check(len(records(seg)) == 1 and not os.path.islink(seg), "the segment was not rewritten")
        check(mode(seg) == 0o600, f"rewritten segment mode {oct(mode(seg))}")
    finally:
        os.umask(old_umask)
        srv.cleanup()


async def old_single_file_log_is_adopted():
    """A --history FILE written by cws-chat before segments (one file of
    records) becomes the first segment; its records, here made by this
    test from the documented format, are read and the sequence continues."""
    srv = ChatServer()
    try:
        with open(srv.history, "wb") as f:
            for seq in (1, 2, 5):
                f.write(record(seq, '{"type":"message","seq":%d,"time":1,"name":"old","text":"o%d"}' % (seq, seq)))
        srv.start()
        check(not os.path.exists(srv.history), "the old file is still there")
        check("older cws-chat" in srv.stderr() and "warning" not in srv.stderr(), srv.stderr())
        _, got, _ = await history_of(srv)
        check(got == [(1, "o1"), (2, "o2"), (5, "o5")], f"adopted history {got}")
        await post_n(srv, "new", 1)
        srv.stop(signal.SIGKILL)
        srv.start()
        _, got, _ = await history_of(srv)
        check(got[-2:] == [(5, "o5"), (6, "new0")], f"continues after the adopted log: {got}")
        check("warning" not in srv.stderr(), srv.stderr())
    finally:
        srv.cleanup()


async def second_server_on_the_same_file_is_refused():
    srv = ChatServer().start()
    try:
        p = subprocess.run([BINARY, "--port", "0", "--history", srv.history, "--web", srv.web],
                           capture_output=True, timeout=10)
        _, got, _ = await history_of(srv)  # the first one is unharmed
        check(p.returncode != 0 and b"lock" in p.stderr, f"second server: {p.returncode} {p.stderr!r}")
    finally:
        srv.cleanup()


main([restart_keeps_history_and_sequence, kill_9_loses_nothing_shown, truncated_last_record_is_skipped_and_cut,
      corrupt_records_are_skipped, garbage_file_does_not_crash, old_segments_are_deleted,
      files_are_private_and_symlinks_not_followed, old_single_file_log_is_adopted,
      second_server_on_the_same_file_is_refused])
