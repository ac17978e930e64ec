#!/usr/bin/env python3
"""cws-chat durability: the history file survives a restart and kill -9
(same history, sequence continues), in every --fsync mode; a truncated or
corrupted record is skipped with a warning and the file repaired; the file
is compacted; the file and its rewrite are created 0600 and a symlink
planted at the rewrite's path is not followed; a second server on the same
file is refused."""
import os
import signal
import stat
import subprocess
import sys

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


def records(path):
    with open(path, "rb") as f:
        return f.read().split(b"\n")[:-1]


async def restart_keeps_history_and_sequence():
    for mode in ("batch", "always", "never"):
        srv = ChatServer("--fsync", mode).start()
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
        size = os.path.getsize(srv.history)
        with open(srv.history, "r+b") as f:
            f.truncate(size - 7)  # a torn write: the last record lost its tail
        srv.start()
        check("warning" in srv.stderr() and "skipping" in srv.stderr(), "no warning: " + srv.stderr())
        _, got, _ = await history_of(srv)
        check(got == [(i + 1, f"t{i}") for i in range(4)], f"history after truncation {got}")
        check(os.path.getsize(srv.history) == sum(len(r) + 1 for r in records(srv.history)), "partial bytes left")
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
        recs = records(srv.history)
        recs[2] = recs[2].replace(b"c2", b"X2")    # a flipped byte mid-file: CRC catches it
        recs[-1] = recs[-1].replace(b"c5", b"c9")  # and in the last record
        with open(srv.history, "wb") as f:
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
        with open(srv.history, "wb") as f:
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


async def file_is_compacted():
    srv = ChatServer("--history-size", "5", "--rate", "1000", "--burst", "1000").start()
    try:
        await post_n(srv, "m", 23)
        n = len(records(srv.history))
        check(n <= 10, f"{n} records in a file keeping 5")
        srv.stop(signal.SIGKILL)
        srv.start()
        _, got, notices = await history_of(srv)
        check([s for s, _ in got] == list(range(19, 24)), f"kept after compaction {got}")
        check(notices and notices[0]["code"] == "history_gap", "gap notice for since=0")
        check("warning" not in srv.stderr(), srv.stderr())
    finally:
        srv.cleanup()


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


async def files_are_private_and_symlinks_not_followed():
    srv = ChatServer("--history-size", "5", "--rate", "1000", "--burst", "1000")
    old_umask = os.umask(0o022)  # the usual umask: a 0644 request would stay 0644
    try:
        srv.start()
        await post_n(srv, "m", 3)
        check(mode(srv.history) == 0o600, f"history file mode {oct(mode(srv.history))}")
        # A file of the same user that the rewrite must never touch, and a
        # symlink to it where the rewrite is made.
        victim = os.path.join(srv.tmp, "victim.txt")
        with open(victim, "w") as f:
            f.write("precious")
        os.chmod(victim, 0o644)
        os.symlink(victim, srv.history + ".tmp")
        await post_n(srv, "n", 10)  # past 2 x 5 records: compacted
        check(len(records(srv.history)) <= 10, "the file was compacted")
        with open(victim) as f:
            check(f.read() == "precious", "the symlink's target was written")
        check(mode(victim) == 0o644, f"the symlink's target changed mode {oct(mode(victim))}")
        check(not os.path.lexists(srv.history + ".tmp"), "the temporary file is left")
        check(not os.path.islink(srv.history), "the history file is a symlink")
        check(mode(srv.history) == 0o600, f"compacted history mode {oct(mode(srv.history))}")
        check("warning" not in srv.stderr(), srv.stderr())
    finally:
        os.umask(old_umask)
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
      corrupt_records_are_skipped, garbage_file_does_not_crash, file_is_compacted,
      files_are_private_and_symlinks_not_followed, second_server_on_the_same_file_is_refused])
