"""A subscriber that was offline while 100,000 entries were published gets all of them on
its return, in order, once each, and then follows live.

`whistlectl tail all/ --cursor FILE` reads the first entries and exits (the department
system goes offline, its position in FILE); N reports are pipelined into intake, which makes
N entries on notification's all/; the tail comes back with the same FILE, replays from its
cursor + 1 to the head and goes on live with more reports. Every sequence from the cursor on
must be printed exactly once, in order, each the fan-out of tracking's entry of the same
number. N is the first argument (100,000 in the release pass)."""
import os
import signal
import subprocess
import sys

from whistle_e2e import CTL, Cluster

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
FIRST, LAST = 10, 10


def main():
    c = Cluster(no_deadlines=True)
    env = c.ctl_env()
    cursor = os.path.join(c.tmp, "all.cursor")
    out_path = os.path.join(c.tmp, "tail.out")
    tail = None

    def report(first, n):
        reqs = [c.submit_req("off-%d" % i, "g%d" % (i % 6 + 1), "m%d" % (i % 5 + 1), "事项",
                             "r") for i in range(first, first + n)]
        for r in c.call_many("intake", reqs, window=2000, timeout=600):
            assert r.WhichOneof("body") == "submit_report", r

    def saved():
        try:
            with open(cursor) as f:
                return int(f.read())
        except (OSError, ValueError):
            return 0

    try:
        c.start_all()
        report(0, FIRST)
        c.wait(lambda: c.ping("notification").head >= FIRST, what="the first entries")
        r = subprocess.run([CTL, "tail", "all/", "--cursor", cursor, "--count", str(FIRST)],
                           capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 0 and len(r.stdout.splitlines()) == FIRST, r
        assert saved() == FIRST

        # offline: N entries are published to nobody
        report(FIRST, N)
        c.wait(lambda: c.ping("notification").head >= FIRST + N, timeout=600,
               what="notification to publish %d entries" % N)

        # back: replay from the cursor, then live
        with open(out_path, "w") as out:
            tail = subprocess.Popen([CTL, "tail", "all/", "--cursor", cursor], stdout=out,
                                    stderr=subprocess.PIPE, env=env)
        c.wait(lambda: saved() >= FIRST + N, timeout=600,
               what="the tail to replay %d entries (at %d)" % (N, saved()))
        report(FIRST + N, LAST)
        total = FIRST + N + LAST
        c.wait(lambda: saved() >= total, timeout=120, what="the live entries after the replay")
        tail.send_signal(signal.SIGTERM)
        assert tail.wait(timeout=20) == 0, tail.stderr.read()
        want = FIRST + 1
        with open(out_path) as f:
            for line in f:
                # the first six words are fixed; who, which department and where follow
                stream, seq, _, _, _, event_id = line.split()[:6]
                assert stream == "all/" and int(seq) == want, \
                    "printed %s %s, want all/ %d" % (stream, seq, want)
                assert event_id == "tracking/%d" % want, line
                want += 1
        assert want == total + 1, "printed up to %d, want %d" % (want - 1, total)
        assert saved() == total
        print("offline: %d entries published while the subscriber was away, all received "
              "once and in order, then %d live" % (N, LAST))
        print("1 passed, 0 failed")
    except BaseException:
        if tail and tail.poll() is None:
            tail.kill()
        c.fail(("notification", "tracking"))
        raise
    c.close()


if __name__ == "__main__":
    main()
