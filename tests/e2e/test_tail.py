"""whistlectl tail's position: a cursor file read at start and kept up to date, --from over it,
and retention: a position older than what notification keeps is refused with
"gone: oldest is N" (exit 1) unless --from-oldest; with no position, tail starts at the
oldest kept. Then a tail following live with a cursor, stopped by SIGTERM, leaves the cursor
at the last entry it printed."""
import os
import signal
import subprocess
import sys

from whistle_e2e import CTL, Cluster

RETAIN = 20


def main():
    c = Cluster(args={"notification": ["--retention-entries", str(RETAIN)]})
    env = c.ctl_env()
    cursor = os.path.join(c.tmp, "all.cursor")

    ctl = c.ctl

    def seqs(out):
        return [int(line.split()[1]) for line in out.stdout.splitlines()]

    def saved():
        with open(cursor) as f:
            return f.read()

    def report(n, first):
        reqs = [c.submit_req("tail-%d" % i, "g1", "m1", "x", "r") for i in range(first, first + n)]
        for r in c.call_many("intake", reqs):
            assert r.WhichOneof("body") == "submit_report", r

    try:
        c.start_all()
        report(10, 0)
        c.wait(lambda: c.ping("notification").head >= 10, what="10 events on all/")

        # the cursor file: created, read at start, moved after each batch
        assert seqs(ctl("tail", "dept/cg/", "--cursor", cursor, "--count", "4")) == [1, 2, 3, 4]
        assert saved() == "4\n", saved()
        assert seqs(ctl("tail", "dept/cg/", "--cursor", cursor, "--idle-exit", "700")) == \
            list(range(5, 11))
        assert saved() == "10\n"
        assert not os.path.exists(cursor + ".tmp")
        # --from wins over the file, and the file follows
        assert seqs(ctl("tail", "dept/cg/", "--cursor", cursor, "--from", "2", "--count", "1")) == [2]
        assert saved() == "2\n"
        bad = os.path.join(c.tmp, "bad.cursor")
        with open(bad, "w") as f:
            f.write("forty-two\n")
        assert "bad.cursor" in ctl("tail", "dept/cg/", "--cursor", bad, rc=2).stderr
        ctl("tail", "dept/cg/", "--from", "0", rc=2)

        # retention: 40 events, the newest 20 kept on every topic but all/
        report(30, 10)

        def oldest():
            rep = c.replay("notification", "dept/cg/", 1)
            return rep.error.oldest if rep.WhichOneof("body") == "error" else 1
        c.wait(lambda: c.ping("notification").head >= 40 and oldest() == 40 - RETAIN + 1,
               what="dept/cg/ trimmed to its newest %d" % RETAIN)
        # all/ is never trimmed: it is what tracking --rebuild replays
        assert c.replay("notification", "all/", 1).replay.entries[0].seq == 1
        rep = c.replay("notification", "dept/cg/", 3)
        assert rep.error.field == "replay.from_seq" and "oldest is 21" in rep.error.message, rep

        # the cursor (2) is older than what is kept: gone, and the file is left as it was
        r = ctl("tail", "dept/cg/", "--cursor", cursor, rc=1)
        assert "gone: oldest is 21" in r.stderr and r.stdout == "", r.stderr
        assert saved() == "2\n"
        assert "gone: oldest is 21" in ctl("tail", "dept/cg/", "--from", "3", rc=1).stderr
        # --from-oldest: says what is lost, goes on from the oldest
        r = ctl("tail", "dept/cg/", "--cursor", cursor, "--from-oldest", "--idle-exit", "700")
        assert seqs(r) == list(range(21, 41)), seqs(r)
        assert "3..20 are gone" in r.stderr, r.stderr
        assert saved() == "40\n"
        # no position at all: the oldest kept, no complaint
        r = ctl("tail", "dept/cg/", "--count", "2")
        assert seqs(r) == [21, 22] and r.stderr == "", r.stderr

        # live, with a cursor that does not exist yet; SIGTERM leaves it at the last printed
        live_cursor = os.path.join(c.tmp, "live.cursor")
        out_path = os.path.join(c.tmp, "live.out")
        with open(out_path, "w") as out:
            p = subprocess.Popen([CTL, "tail", "dept/cg/", "--cursor", live_cursor], stdout=out,
                                 stderr=subprocess.PIPE, env=env, text=True)

        def printed():
            with open(out_path) as f:
                return [int(line.split()[1]) for line in f if line.strip()]
        c.wait(lambda: printed() == list(range(21, 41)), what="the backlog")
        report(5, 40)
        c.wait(lambda: printed() == list(range(21, 46)), what="5 live entries")
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 0, p.stderr.read()
        with open(live_cursor) as f:
            assert f.read() == "45\n"
        print("tail: cursor file, --from, gone: oldest is N, --from-oldest, live with a cursor")
        print("1 passed, 0 failed")
    except BaseException:
        for s in ("notification", "tracking"):
            sys.stderr.write("---- %s log (tail)\n%s\n" % (s, c.log(s)[-3000:]))
        c.close(keep=True)
        raise
    c.close()


if __name__ == "__main__":
    main()
