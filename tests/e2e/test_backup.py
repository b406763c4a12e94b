"""A district backed up live and restored (issue 14 point 4, docs/deploy.md "Backup and
restore").

A cluster under continuous load (reports pipelined by a thread) is copied by
`tools/backup.sh` in the middle of it, then stopped. A new cluster started from the restored
copies: every service answers Ping, no follower is STOPPED and each catches up; every case
acknowledged before the backup began is in tracking (GetCase) and on notification's all/ and
its departments' topics; the new cluster takes new reports and dispatches them; every log is
gapless from 1 and case ids go on from the restored ones.

And the claims of the doc about order, on copies taken one after the other while the cluster
moves (each copy timed after the follower it matters for has gone past what was copied):
upstream first (intake, routing, tracking, notification) restores a district where every
follower of the chain stops (routing on intake, tracking on routing, notification on tracking); downstream first
without holding routing (notification, tracking, routing, intake) restores one whose routing
stops following tracking, the cycle no order escapes. `backup.sh check` names the follower
that would stop, and `backup.sh restore` refuses such a set and a target that is not empty."""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import whistle_e2e
from whistle_e2e import BINARY_DIR, CTL, SERVICES, SOURCE_DIR, Cluster

TOOL = os.path.join(SOURCE_DIR, "tools", "backup.sh")
HOLD = os.path.join(BINARY_DIR, "tools", "backup", "whistle-hold")
PREFIX = "whistle-backup-test-"


def tool(*args, rc=0, env=None):
    env = dict(env or os.environ, WHISTLE_HOLD=HOLD)
    out = subprocess.run(["bash", TOOL] + list(args), capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == rc, "backup.sh %s: exit %d, want %d\n%s%s" % (
        " ".join(args), out.returncode, rc, out.stdout, out.stderr)
    return out


SLOW_COPY = r"""#!/usr/bin/python3
# mdb_copy as for a big environment: after copying tracking, it takes until routing has
# applied tracking's log past the copied head (at most 3 s: a routing held never does)
import json, os, subprocess, sys, time
rc = subprocess.run([os.environ["BK_REAL_MDB_COPY"]] + sys.argv[1:]).returncode
if rc or not sys.argv[-1].endswith("/tracking"):
    sys.exit(rc)

def ping(name):
    out = subprocess.run([os.environ["BK_CTL"], "--json", "--timeout", "300", "ping", name],
                         capture_output=True, text=True).stdout
    try:
        return json.loads(out)
    except ValueError:
        return None  # a service whose writer is held may not answer in time
head = ping("tracking")["head"]
deadline = time.monotonic() + 3
while time.monotonic() < deadline:
    p = ping("routing")
    if any(c["upstream"] == "tracking" and c["seq"] > head
           for c in (p or {}).get("cursors", [])):
        break
    time.sleep(0.05)
"""


def slow_copy_env(c, work):
    """The environment for backup.sh with SLOW_COPY first on PATH."""
    bindir = os.path.join(work, "bin")
    os.makedirs(bindir)
    path = os.path.join(bindir, "mdb_copy")
    with open(path, "w") as f:
        f.write(SLOW_COPY)
    os.chmod(path, 0o755)
    env = c.ctl_env()
    env.update(BK_REAL_MDB_COPY=shutil.which("mdb_copy"), BK_CTL=CTL,
               PATH=bindir + os.pathsep + env["PATH"])
    return env


def mdb_copy(src_root, dst_root, name):
    os.makedirs(os.path.join(dst_root, name))
    subprocess.run(["mdb_copy", "-c", os.path.join(src_root, name),
                    os.path.join(dst_root, name)], check=True)


def cursor(pong, upstream):
    for c in pong.cursors:
        if c.upstream == upstream:
            return c
    raise AssertionError("%s has no cursor on %s: %s" % (pong.service, upstream, pong))


class Load:
    """Reports pipelined in batches of 20, about 500 a second at most, until stopped; acked maps key -> case id, filled
    as each reply comes (so a key in it was acknowledged before it was read)."""

    def __init__(self, c):
        self.c, self.acked, self.stop, self.error = c, {}, threading.Event(), None
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self.run)
        self.t.start()

    def run(self):
        n = 0
        try:
            while not self.stop.is_set():
                keys = ["bk-%d" % (n + i) for i in range(20)]
                n += 20
                reps = self.c.call_many("intake", [self.c.submit_req(k) for k in keys],
                                        window=20, timeout=60)
                with self.lock:
                    for k, r in zip(keys, reps):
                        assert r.WhichOneof("body") == "submit_report", r
                        self.acked[k] = r.submit_report.case_id
                self.stop.wait(0.04)
        except BaseException as e:  # noqa: B902 - reported by the main thread
            self.error = e

    def ids(self):
        with self.lock:
            return set(self.acked.values())

    def finish(self):
        self.stop.set()
        self.t.join()
        if self.error:
            raise self.error


def wrong_order(c, order, out, waits):
    """Copies c's four environments one at a time in `order` into `out`; before copying a
    service named in `waits`, waits until its follower (waits[name] = (follower, upstream))
    has applied past the head its upstream had once that upstream's copy was finished."""
    os.makedirs(out)
    after = {}
    for name in order:
        if name in waits:
            follower, upstream = waits[name]
            want = after[upstream]
            c.wait(lambda: cursor(c.ping(follower), upstream).seq > want, timeout=60,
                   what="%s to apply %s past %d" % (follower, upstream, want))
        mdb_copy(c.tmp, out, name)
        after[name] = c.ping(name).head


def start_from(copies, label, tracking_alone=False):
    """A new cluster on the copies in `copies` (four folders), started. tracking_alone:
    tracking follows a routing endpoint where nothing listens, so its log stays as copied
    (else it re-derives routing's entries it lacks, and whether routing asks it before or
    after its head has passed routing's cursor is a race)."""
    c = Cluster(no_deadlines=True)
    for s in SERVICES:
        os.makedirs(os.path.join(c.tmp, s))
        shutil.copy(os.path.join(copies, s, "data.mdb"), os.path.join(c.tmp, s, "data.mdb"))
    saved = whistle_e2e.UPSTREAM["tracking"]
    if tracking_alone:
        whistle_e2e.UPSTREAM["tracking"] = ["notification"]
        nowhere = "ipc://%s/nowhere" % c.tmp
        c.args["tracking"] = ["--routing-api", nowhere + ".api",
                              "--routing-events", nowhere + ".ev"]
    try:
        c.start_all()
    finally:
        whistle_e2e.UPSTREAM["tracking"] = saved
    print("%s: started from %s" % (label, copies))
    return c


def expect_stopped(c, want, label):
    """Waits until exactly the follower edges in `want` ((follower, upstream), ...) are
    STOPPED, naming their upstream as rebuilt or replaced."""
    edges = [("routing", "intake"), ("routing", "tracking"), ("tracking", "routing"),
             ("notification", "tracking")]

    def stopped():
        return {(f, u) for f, u in edges if cursor(c.ping(f), u).stopped}
    c.wait(lambda: stopped() == set(want), timeout=20,
           what="%s: exactly %s STOPPED (now %s)" % (label, sorted(want), sorted(stopped())))
    for f, u in want:
        why = cursor(c.ping(f), u).stopped
        assert "rebuilt or replaced" in why and u in why, "%s: %s" % (label, why)
    # ping says so and exits 3
    out = c.ctl("ping", rc=3)
    for f, u in want:
        assert "STOPPED following %s" % u in out.stdout, out.stdout
    print("%s: %s STOPPED as predicted" % (label, ", ".join("%s on %s" % e for e in want)))


def sweep():
    """Folders of earlier runs killed before their cleanup (their pid is gone)."""
    for d in glob.glob(os.path.join(tempfile.gettempdir(), PREFIX + "*")):
        try:
            pid = int(d.rsplit("-", 2)[-2])
            os.kill(pid, 0)
        except (ValueError, IndexError):
            continue
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except PermissionError:
            pass


def main():
    for prog in ("mdb_copy", "mdb_dump"):
        assert shutil.which(prog), "FAIL: %s not found: run deploy/install-deps.sh" % prog
    assert os.access(HOLD, os.X_OK), "FAIL: %s not built" % HOLD
    sweep()
    work = tempfile.mkdtemp(prefix="%s%d-" % (PREFIX, os.getpid()))
    clusters, load = [], None
    try:
        t0 = time.monotonic()
        a = Cluster(no_deadlines=True)
        clusters.append(a)
        a.start_all()
        load = Load(a)
        a.wait(lambda: len(load.acked) >= 300 or load.error, what="300 reports acked")

        # the wrong orders, while the load goes on
        up_first = os.path.join(work, "upstream-first")
        wrong_order(a, ["intake", "routing", "tracking", "notification"], up_first,
                    {"routing": ("routing", "intake"), "tracking": ("tracking", "routing"),
                     "notification": ("notification", "tracking")})
        down_first = os.path.join(work, "downstream-first-no-hold")
        wrong_order(a, ["notification", "tracking", "routing", "intake"], down_first,
                    {"routing": ("routing", "tracking")})

        # the backup, live
        before = load.ids()
        n_before = len(before)
        out = os.path.join(work, "backup")
        t = time.monotonic()
        # tracking's copy made slow: without routing held, routing moves past it meanwhile
        r = tool(a.tmp, out, env=slow_copy_env(a, work))
        took = time.monotonic() - t
        print("backup taken in %.2f s with %d cases acked before it: %s" %
              (took, n_before, r.stdout.strip()))
        a.wait(lambda: len(load.acked) >= n_before + 300 or load.error,
               what="300 more reports acked after the backup")
        load.finish()
        manifest = open(os.path.join(out, "MANIFEST")).read()
        heads = {ln.split()[1]: int(ln.split()[2]) for ln in manifest.splitlines()
                 if ln.startswith("head ")}
        assert heads["intake"] >= n_before, manifest
        for s in SERVICES:
            a.stop(s)
        # a restore onto a district that ran there is refused, nothing touched
        r = tool("restore", out, a.tmp, rc=1)
        assert "is not empty" in r.stderr, r.stderr
        a.close()
        clusters.remove(a)

        # the tool's check names the follower each wrong set would stop
        r = tool("check", up_first, rc=1)
        assert "routing applied intake's log up to" in r.stderr, r.stderr
        assert "tracking applied routing's log up to" in r.stderr, r.stderr
        assert "notification applied tracking's log up to" in r.stderr, r.stderr
        r = tool("check", down_first, rc=1)
        assert "routing applied tracking's log up to" in r.stderr, r.stderr
        assert "tracking applied" not in r.stderr and "notification applied" not in r.stderr
        open(os.path.join(down_first, "MANIFEST"), "w").close()
        r = tool("restore", down_first, os.path.join(work, "nowhere"), rc=1)
        assert "not a consistent set" in r.stderr, r.stderr
        assert not os.path.exists(os.path.join(work, "nowhere", "intake")), "restored anyway"

        # the restore: a new cluster on the copies
        b = Cluster(no_deadlines=True)
        clusters.append(b)
        r = tool("restore", out, b.tmp)
        b.start_all()
        for s in SERVICES:
            assert b.ping(s) is not None, s

        def caught_up():
            p = {s: b.ping(s) for s in SERVICES}
            for s in SERVICES:
                for cur in p[s].cursors:
                    assert not cur.stopped, "FAIL: %s STOPPED: %s" % (s, cur.stopped)
            return (cursor(p["routing"], "intake").seq == p["intake"].head and
                    cursor(p["tracking"], "routing").seq == p["routing"].head and
                    cursor(p["routing"], "tracking").seq == p["tracking"].head and
                    cursor(p["notification"], "tracking").seq == p["tracking"].head)
        b.wait(caught_up, timeout=60, what="every follower caught up, none STOPPED")
        assert b.ping("intake").head == heads["intake"], "intake's head is not the copy's"
        b.ctl("ping")  # exit 0: up, nothing SILENT, STOPPED or in TROUBLE

        def updated_ids(entries):
            return {e.case_updated.case.id for e in entries
                    if e.WhichOneof("payload") == "case_updated"}
        all_ids = updated_ids(b.replay_all("notification", "all/"))
        tr = b.replay_all("tracking")
        missing = [cid for cid in sorted(before) if cid not in all_ids]
        assert not missing, "FAIL: acked before the backup, not on all/: %s" % missing[:5]
        assign = {}
        for e in tr:
            if e.WhichOneof("payload") == "case_updated":
                for asg in e.case_updated.case.assignments:
                    assign.setdefault(asg.department, set()).add(e.case_updated.case.id)
        for cid in sorted(before):
            rep = b.get_case(cid)
            assert rep is not None and rep.WhichOneof("body") == "get_case", \
                "FAIL: %s acked before the backup, not in tracking: %s" % (cid, rep)
            assert rep.get_case.case.assignments, "FAIL: %s not dispatched" % cid
        for dept, want in assign.items():
            got = updated_ids(b.replay_all("notification", "dept/%s/" % dept))
            assert want <= got, "FAIL: dept/%s/ lacks %s" % (dept, sorted(want - got)[:5])
        print("restored: %d cases acked before the backup all in tracking, on all/ and on "
              "their departments' topics; %d in the copy" % (n_before, heads["intake"]))

        # new reports, dispatched, ids and sequences going on
        reps = b.call_many("intake", [b.submit_req("after-%d" % i) for i in range(50)])
        new_ids = [r.submit_report.case_id for r in reps]
        assert not set(new_ids) & set(all_ids), "FAIL: a new case reuses a restored id"
        assert min(new_ids) > max(all_ids), (min(new_ids), max(all_ids))
        b.wait(lambda: all(b.get_case(cid).get_case.case.assignments for cid in new_ids),
               what="the new reports dispatched in tracking")
        b.wait(caught_up, timeout=60, what="every follower caught up after new reports")
        assert set(new_ids) <= updated_ids(b.replay_all("notification", "all/"))
        for s, topic in (("intake", ""), ("routing", ""), ("tracking", ""),
                         ("notification", "all/")):
            entries = b.replay_all(s, topic)  # asserts seq 1, 2, 3, ... without a gap
            assert entries, "FAIL: %s%s is empty" % (s, topic)
            if not topic:
                assert entries[-1].seq == b.ping(s).head, "FAIL: %s's log ends before its head" % s
        assert b.ping("intake").head == heads["intake"] + 50
        print("restored cluster: 50 new reports dispatched, logs gapless, ids from %s" %
              min(new_ids))
        b.close()
        clusters.remove(b)

        # the wrong orders, restored: the followers the doc names stop
        c = start_from(up_first, "upstream first")
        clusters.append(c)
        expect_stopped(c, [("routing", "intake"), ("tracking", "routing"),
                           ("notification", "tracking")],
                       "upstream first")
        c.close()
        clusters.remove(c)
        c = start_from(down_first, "downstream first, routing not held", tracking_alone=True)
        clusters.append(c)
        expect_stopped(c, [("routing", "tracking")], "downstream first, routing not held")
        c.close()
        clusters.remove(c)
        print("1 passed, 0 failed (%.1f s)" % (time.monotonic() - t0))
    except BaseException:
        if load:
            load.stop.set()
        for c in clusters:
            c.fail()
        clusters = []
        raise
    finally:
        for c in clusters:
            c.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
