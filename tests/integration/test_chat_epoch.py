#!/usr/bin/env python3
"""cws-chat epochs: a seq never means two messages (issue 14 point 1).

When the history loses its tail (a torn last record, a power loss in batch
or never mode), the server hands out the lost seqs again for other
messages. A client that saw the old ones and resumes with since=N alone
would skip the new ones without a word (shown below: that is why the epoch
exists). So hello carries the history's epoch, the client sends it back
with /ws?since=N&epoch=E, and one from another epoch gets history_reset and
the recent history. The epoch survives a clean restart and kill -9; it is
renewed when records were cut, when the history ends before the seq it had,
and when the machine restarted after a run whose writes were not all synced
(FILE.epoch's boot id is edited here to stand for a reboot)."""
import os
import re
import signal
import stat
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from chatlib import ChatServer, check, http_get, join, main, post_and_wait  # noqa: E402

OTHER_BOOT = "00000000-0000-4000-8000-000000000000"


async def post_n(srv, prefix, n):
    ws, _, _, _ = await join(srv)
    sent = [await post_and_wait(ws, f"{prefix}{i}") for i in range(n)]
    await ws.close()
    return sent


async def greeting(srv, **kw):
    """(hello, [(seq, text)] replayed, [notice codes]) of one connection."""
    ws, hello, got, notices = await join(srv, **kw)
    await ws.close()
    return hello, [(m["seq"], m["text"]) for m in got], [n["code"] for n in notices]


def epoch_of(hello):
    e = hello.get("epoch")
    check(isinstance(e, str) and re.fullmatch(r"[0-9a-f]{16}", e), f"hello has no epoch: {hello}")
    return e


def epoch_file(srv):
    return srv.history + ".epoch"


def read_epoch_file(srv):
    """FILE.epoch as docs/chat-protocol.md describes it: key value lines."""
    with open(epoch_file(srv)) as f:
        lines = f.read().splitlines()
    check([ln.split(" ")[0] for ln in lines] == ["epoch", "boot", "fsync", "last", "state"], f"epoch file {lines}")
    return dict(ln.split(" ", 1) for ln in lines)


def pretend_reboot(srv):
    """The boot id in FILE.epoch is the kernel's when it was written: a
    different one is what the next start sees after the machine restarted."""
    path = epoch_file(srv)
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(re.sub(r"^boot .*$", "boot " + OTHER_BOOT, text, flags=re.M))


def newest_segment(srv):
    d, base = os.path.split(srv.history)
    names = sorted(n for n in os.listdir(d) if re.fullmatch(re.escape(base) + r"\.[0-9a-f]{16}", n))
    return os.path.join(d, names[-1])


def cut_last_record(srv, torn):
    """Drops the newest record: its last 7 bytes (a torn write, which the
    server detects) or all of it, at a record boundary (what a power loss
    before the sync leaves: nothing to detect in the records)."""
    seg = newest_segment(srv)
    with open(seg, "rb") as f:
        data = f.read()
    cut = len(data) - 7 if torn else data.rstrip(b"\n").rfind(b"\n") + 1
    with open(seg, "r+b") as f:
        f.truncate(cut)


async def check_reset(srv, old_epoch, since, new_text, what):
    """A client of old_epoch resuming after `since` starts over and gets
    the message that now has seq `since`; one of the current epoch resumes
    normally."""
    hello, got, notices = await greeting(srv, since=since, epoch=old_epoch)
    check(notices == ["history_reset"], f"{what}: resuming with the old epoch: notices {notices}, got {got}")
    check((since, new_text) in got, f"{what}: the new message with seq {since} not replayed: {got}")
    _, got, notices = await greeting(srv, since=since, epoch=epoch_of(hello))
    check(notices == [] and got == [], f"{what}: resuming with the new epoch: {notices} {got}")


async def epoch_survives_clean_restart_and_kill_9():
    srv = ChatServer().start()
    try:
        await post_n(srv, "a", 3)
        hello, _, _ = await greeting(srv)
        epoch = epoch_of(hello)
        check(read_epoch_file(srv)["state"] == "running", "state while serving")
        check(stat.S_IMODE(os.stat(epoch_file(srv)).st_mode) == 0o600, "epoch file not 0600")
        check(srv.stop() == 0, "exit status after SIGTERM")
        saved = read_epoch_file(srv)
        check(saved["epoch"] == epoch and saved["state"] == "stopped" and saved["last"] == "3", f"after stop {saved}")
        srv.start()
        hello, got, notices = await greeting(srv, since=3, epoch=epoch)
        check(epoch_of(hello) == epoch, f"epoch changed over a clean restart: {hello}")
        check(got == [] and notices == [], f"resume after a clean restart: {got} {notices}")
        await post_n(srv, "b", 1)
        srv.stop(signal.SIGKILL)  # the page cache has every write: nothing lost
        srv.start()
        hello, got, notices = await greeting(srv, since=3, epoch=epoch)
        check(epoch_of(hello) == epoch, f"epoch changed over kill -9: {hello}")
        check(got == [(4, "b0")] and notices == [], f"resume after kill -9: {got} {notices}")
        # An epoch without since is a fresh client: nothing to forget.
        _, got, notices = await greeting(srv, epoch="0123456789abcdef")
        check(notices == [] and len(got) == 4, f"epoch without since: {got} {notices}")
        check("new epoch" not in srv.stderr().split("\n", 1)[1], "renewed: " + srv.stderr())
    finally:
        srv.cleanup()


async def torn_tail_gets_a_new_epoch():
    srv = ChatServer().start()
    try:
        await post_n(srv, "t", 10)
        hello, _, _ = await greeting(srv)
        old = epoch_of(hello)  # a client saw seq 10 "t9" in this epoch
        srv.stop(signal.SIGKILL)
        cut_last_record(srv, torn=True)
        srv.start()
        err = srv.stderr()
        check("skipping" in err and "new epoch" in err, "no warning or new epoch: " + err)
        await post_n(srv, "new", 1)  # seq 10 again, another message
        # Without the epoch the server cannot tell: since=10 looks caught
        # up, and the new seq 10 is silently skipped.
        _, got, notices = await greeting(srv, since=10)
        check(got == [] and notices == [], f"since=10 alone: {got} {notices}")
        await check_reset(srv, old, 10, "new0", "torn tail")
    finally:
        srv.cleanup()


async def tail_removed_between_clean_runs_gets_a_new_epoch():
    srv = ChatServer().start()
    try:
        await post_n(srv, "r", 4)
        old = epoch_of((await greeting(srv))[0])
        srv.stop()
        cut_last_record(srv, torn=False)  # every record left is intact
        srv.start()
        check("ends at seq 3" in srv.stderr(), "no new epoch for a shorter history: " + srv.stderr())
        await post_n(srv, "new", 1)
        await check_reset(srv, old, 4, "new0", "tail removed")
    finally:
        srv.cleanup()


async def machine_crash_renews_unless_every_write_was_synced():
    # (mode, how the run ended, renewed after a reboot?)
    cases = (("batch", signal.SIGKILL, True), ("batch", signal.SIGTERM, False),
             ("always", signal.SIGKILL, False), ("never", signal.SIGTERM, True))
    for mode, sig, renewed in cases:
        what = f"--fsync {mode}, {signal.Signals(sig).name}, reboot"
        srv = ChatServer("--fsync", mode).start()
        try:
            await post_n(srv, "m", 5)
            old = epoch_of((await greeting(srv))[0])
            srv.stop(sig)
            pretend_reboot(srv)
            if renewed and sig == signal.SIGKILL:
                cut_last_record(srv, torn=False)  # the batch that missed its sync
            srv.start()
            hello, _, _ = await greeting(srv)
            check((epoch_of(hello) != old) == renewed, f"{what}: epoch {old} -> {epoch_of(hello)}")
            if renewed:
                check("machine restarted" in srv.stderr(), f"{what}: " + srv.stderr())
                if sig == signal.SIGKILL:
                    await post_n(srv, "new", 1)
                    await check_reset(srv, old, 5, "new0", what)
            else:
                _, got, notices = await greeting(srv, since=5, epoch=old)
                check(got == [] and notices == [], f"{what}: resume {got} {notices}")
        finally:
            srv.cleanup()


async def hostile_epoch_files():
    srv = ChatServer().start()
    try:
        await post_n(srv, "h", 2)
        old = epoch_of((await greeting(srv))[0])
        srv.stop()
        for junk in (b"", b"epoch " + old.encode() + b"\n", b"x" * 100000,
                     open(epoch_file(srv), "rb").read().replace(b"state stopped", b"state paused"),
                     open(epoch_file(srv), "rb").read() + b"\0"):
            with open(epoch_file(srv), "wb") as f:
                f.write(junk)
            srv.start()
            check("epoch file was malformed" in srv.stderr(), f"{junk[:40]!r}: " + srv.stderr())
            hello, got, notices = await greeting(srv, since=2, epoch=old)
            check(epoch_of(hello) != old and notices == ["history_reset"], f"{junk[:40]!r}: {hello} {notices}")
            old = epoch_of(hello)
            srv.stop()
        # A symlink planted there is replaced, never written through.
        target = os.path.join(srv.tmp, "target")
        with open(target, "w") as f:
            f.write("untouched")
        os.unlink(epoch_file(srv))
        os.symlink(target, epoch_file(srv))
        srv.start()
        check(open(target).read() == "untouched", "wrote through the symlink")
        check(not os.path.islink(epoch_file(srv)), "symlink left in place")
        check("not a regular file" in srv.stderr(), srv.stderr())
    finally:
        srv.cleanup()


async def bad_epoch_parameters_are_refused():
    srv = ChatServer().start()
    try:
        epoch = epoch_of((await greeting(srv))[0])
        for value in ("", "xyz", epoch.upper(), epoch[:15], epoch + "0", "%30" + epoch[1:], epoch[:15] + "g"):
            req = (f"GET /ws?since=1&epoch={value} HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
            status, _, _ = http_get(srv.port, None, raw=req)
            check(status == 400, f"epoch={value!r}: status {status}")
    finally:
        srv.cleanup()


main([epoch_survives_clean_restart_and_kill_9, torn_tail_gets_a_new_epoch,
      tail_removed_between_clean_runs_gets_a_new_epoch, machine_crash_renews_unless_every_write_was_synced,
      hostile_epoch_files, bad_epoch_parameters_are_refused])
