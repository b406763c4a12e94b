"""examples/department.py, a department system in Python (pyzmq, Google's protoc classes),
against the real binaries: it checks in on every case dispatched to its department, those
dispatched before it first started, those dispatched while it was stopped (it comes back
from its cursor file, and applies nothing of its first run again), a case the lead assigns
to it meanwhile, and those dispatched while it follows live; it checks in once per case,
never acts for another department, and its cursor ends at the head of its topic."""
import os
import signal
import subprocess
import sys

from whistle_e2e import SOURCE_DIR, Cluster

EXAMPLE = os.path.join(SOURCE_DIR, "examples", "department.py")
MATTERS = ["m1", "m2", "m3", "m4", "m5"]   # cg is on m1, m2, m4, m5 (catalog-small.json)


def main():
    c = Cluster()
    pb = c.pb
    env = c.ctl_env()
    env["PYTHONPATH"] = os.path.join(c.tmp, "py")   # the classes whistle_e2e generated
    cursor = os.path.join(c.tmp, "cg.cursor")
    out_path = os.path.join(c.tmp, "cg.out")
    dept = None

    def start():
        out = open(out_path, "a")
        p = subprocess.Popen([sys.executable, EXAMPLE, "--dept", "cg", "--cursor", cursor],
                             stdout=out, stderr=subprocess.STDOUT, env=env)
        out.close()
        return p

    def stop(p):
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=20) == 0, open(out_path).read()

    def report(first, n):
        reqs = [c.submit_req("dept-%d" % i, "g%d" % (i % 6 + 1), MATTERS[i % 5], "事项",
                             "r-%d" % i) for i in range(first, first + n)]
        return [r.submit_report.case_id for r in c.call_many("intake", reqs)]

    def assignment(cid, d):
        case = c.get_case(cid).get_case.case
        return next((a for a in case.assignments if a.department == d), None)

    def all_cg_checked_in(ids):
        for cid in ids:
            rep = c.get_case(cid)
            if rep.WhichOneof("body") != "get_case":
                return False
            a = next((a for a in rep.get_case.case.assignments if a.department == "cg"), None)
            if a is not None and a.state != pb.CHECKED_IN:
                return False
        return True

    try:
        c.start_all()
        first = report(0, 20)
        dept = start()
        c.wait(lambda: all_cg_checked_in(first), timeout=60, what="cg to check in on 20 cases")
        stop(dept)

        # while it is away: 30 more cases, and the lead puts cg on a gas leak (m3: yjgl only)
        second = report(20, 30)
        gas = next(cid for cid, m in zip(second, [MATTERS[i % 5] for i in range(20, 50)])
                   if m == "m3")
        c.wait(lambda: c.get_case(gas).WhichOneof("body") == "get_case", what="dispatch")
        req = c.action_req(gas, pb.ASSIGN, actor=c.get_case(gas).get_case.case.lead_unit,
                           department="cg")
        assert c.call("tracking", req).WhichOneof("body") == "case_action"
        c.wait(lambda: c.ping("notification").head >= c.ping("tracking").head, what="fan-out")

        dept = start()
        c.wait(lambda: all_cg_checked_in(first + second) and
               assignment(gas, "cg").state == pb.CHECKED_IN, timeout=60,
               what="cg to catch up from its cursor")
        # and now live: it is caught up and following
        third = report(50, 10)
        c.wait(lambda: all_cg_checked_in(third), timeout=60, what="cg to check in live")
        second += third
        c.wait(lambda: c.ping("notification").head >= c.ping("tracking").head, what="fan-out")
        head = c.replay("notification", "dept/cg/", 1 << 40).replay.head

        def at_head():
            try:
                with open(cursor) as f:
                    return int(f.read()) == head
            except (OSError, ValueError):
                return False
        c.wait(at_head, what="the cursor to reach dept/cg/'s head %d" % head)
        stop(dept)
        dept = None

        cg_cases, cg_first = 0, 0
        for cid in first + second:
            rep = c.get_case(cid).get_case
            on_cg = any(a.department == "cg" for a in rep.case.assignments)
            checkins = [h for h in rep.history if h.action == pb.CHECKIN]
            assert all(h.department == "cg" for h in checkins), (cid, checkins)
            assert len(checkins) == (1 if on_cg else 0), (cid, len(checkins))
            cg_cases += on_cg
            cg_first += on_cg and cid in first
            for a in rep.case.assignments:   # the others are theirs to check in
                assert a.department == "cg" or a.state == pb.NOTIFIED, (cid, a)
        out = open(out_path).read()
        assert out.count(" checked in (dept/cg/") == cg_cases, out
        # the second run resumed after its cursor: nothing of the first run applied again
        starts = [l for l in out.splitlines() if l.startswith("department cg on dept/cg/ from ")]
        assert len(starts) == 2 and starts[0].endswith(" from 1") and \
            not starts[1].endswith(" from 1"), starts
        assert "already" not in out, out
        print("department: cg checked in on all %d of its cases, %d of them dispatched while "
              "it was away or following live, once each" % (cg_cases, cg_cases - cg_first))
        print("1 passed, 0 failed")
    except BaseException:
        if dept and dept.poll() is None:
            dept.kill()
        if os.path.exists(out_path):
            sys.stderr.write("---- department.py output\n%s\n" % open(out_path).read()[-3000:])
        for s in ("tracking", "notification"):
            sys.stderr.write("---- %s log (tail)\n%s\n" % (s, c.log(s)[-3000:]))
        c.close(keep=True)
        raise
    c.close()


if __name__ == "__main__":
    main()
