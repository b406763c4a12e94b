"""A full disk is an answer, not silence (issue 8, points 1 and 3).

intake and routing each keep their LMDB on a small tmpfs of their own. When routing's disk
fills, intake keeps taking reports; routing fails to commit them, says so in Ping
("no space left on device"), logs the cause once (with counts), not once per retry, and backs
off; when space returns it catches up by itself and every case is dispatched once. When
intake's disk fills, every SubmitReport is answered ESTORE naming the cause, Ping still answers
and reports it, nothing of the refused reports is kept, and intake serves again by itself when
space returns. Needs root (mount -t tmpfs); fails loudly without it."""
import errno
import os
import subprocess
import sys
import time

from whistle_e2e import Cluster


def mount_small(path, size="8m"):
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", path], check=True)


def fill(path):
    """Writes a filler file until the disk is full; returns its path."""
    filler = os.path.join(path, "filler")
    buf = b"\0" * 65536
    with open(filler, "wb", buffering=0) as f:
        while True:
            try:
                f.write(buf)
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
                break
        # the last few bytes too: a page-sized write must fail
        while True:
            try:
                f.write(b"\0" * 512)
            except OSError:
                break
    return filler


def dispatched(c):
    pong = c.ping("tracking")
    return pong.head if pong is not None else -1


def main():
    c = Cluster(heartbeat_ms=100)
    disks = {s: os.path.join(c.tmp, "disk-" + s) for s in ("intake", "routing")}
    mounted, ok = [], False
    try:
        for s, d in disks.items():
            mount_small(d)
            mounted.append(d)
            c.args[s] = ["--data", os.path.join(d, "data")]
        c.start_all()
        reps = c.call_many("intake", [c.submit_req("before-%d" % i) for i in range(20)])
        assert all(r.WhichOneof("body") == "submit_report" for r in reps), reps
        c.wait(lambda: dispatched(c) == 20, timeout=20, what="the first 20 cases")

        # ---- routing's disk fills: intake still takes reports, routing says why it waits.
        # LMDB reuses pages freed inside its file, so the first batches may still fit: report
        # in rounds until routing's commits need the disk
        filler = fill(disks["routing"])
        total = 20
        for rnd in range(40):
            reps = c.call_many("intake", [c.submit_req("during-%d-%d" % (rnd, i),
                                                       description="占道经营" * 50)
                                          for i in range(50)])
            assert all(r.WhichOneof("body") == "submit_report" for r in reps), reps
            total += 50
            if "no space left on device" in (c.ping("routing").condition or ""):
                break
            time.sleep(0.2)
        c.wait(lambda: "no space left on device" in (c.ping("routing").condition or ""),
               timeout=20, what="routing's ping to report the full disk")
        c.wait(lambda: c.ping("routing").failed_batches >= 4, timeout=30,
               what="routing to retry a few times")
        pong = c.ping("routing")
        cur = [x for x in pong.cursors if x.upstream == "intake"][0]
        assert cur.seq < total, pong               # nothing of the failed batches kept
        log = c.log("routing")
        lines = [ln for ln in log.splitlines() if "no space left on device" in ln]
        # once per cause (and a reminder a minute), not once per retry: 80,000 lines before
        assert 1 <= len(lines) <= 3, "\n".join(lines[:20])
        os.unlink(filler)
        c.wait(lambda: dispatched(c) == total, timeout=30,
               what="routing to catch up by itself when space returned")
        c.wait(lambda: not c.ping("routing").condition, timeout=10,
               what="routing's condition to clear")
        assert "works again" in c.log("routing"), c.log("routing")[-2000:]

        # ---- intake's disk fills: reports are answered ESTORE with the cause (once the
        # commits need the disk: the first may still fit in pages free inside the file)
        filler = fill(disks["intake"])
        refused, keys = [], 0
        for rnd in range(40):
            batch = ["full-%d" % (keys + i) for i in range(30)]
            keys += 30
            reps = c.call_many("intake", [c.submit_req(k, description="占道经营" * 50)
                                          for k in batch])
            for k, r in zip(batch, reps):
                if r.WhichOneof("body") == "submit_report":
                    total += 1
                    continue
                assert r.error.code == -1007, r                      # ESTORE
                assert "no space left on device" in r.error.message, r
                refused.append(k)
            if refused:
                break
        assert refused, "intake never ran out of space"
        pong = c.ping("intake")
        assert pong is not None and "no space left on device" in pong.condition, pong
        os.unlink(filler)
        # the client retries the refused keys: taken now, each once, as new cases (nothing of
        # them was kept, so none is a duplicate)
        deadline = time.monotonic() + 20
        while True:
            reps = c.call_many("intake", [c.submit_req(k) for k in refused])
            if all(r.WhichOneof("body") == "submit_report" for r in reps):
                break
            assert time.monotonic() < deadline, reps[0]
            time.sleep(0.2)
        assert not any(r.submit_report.duplicate for r in reps), reps
        total += len(refused)
        c.wait(lambda: dispatched(c) == total, timeout=30,
               what="all %d cases dispatched" % total)
        assert not c.ping("intake").condition
        print("ok: full disks answered, reported, logged once and recovered from")
        ok = True
    except BaseException:
        c.fail()
        raise
    finally:
        if ok:
            for name in list(c.procs):
                c.stop(name)
        for d in mounted:
            subprocess.run(["umount", "-l", d], check=False)
    c.close()


if __name__ == "__main__":
    sys.exit(main())
