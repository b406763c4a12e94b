"""The ledger (issue 4) on the real binaries: the verification window closes a resolved case
as verified by default; grid staff verify on the reporter's behalf; overdue cases are listed
from an index, paged; grid visit hours are logged and the weekly report flags anyone under
5 hours; and deleting tracking's data then starting it with --rebuild restores the same ledger
from notification's all/ topic, after which it carries on with no gap and no duplicate."""
import datetime
import os
import shutil
import time

from whistle_e2e import Cluster


def dump(c, ids):
    out = {}
    for cid in ids:
        rep = c.get_case(cid)
        assert rep.WhichOneof("body") == "get_case", rep
        out[cid] = rep.get_case.SerializeToString(deterministic=True)
    return out


def fast_part():
    c = Cluster(catalog="tests/data/catalog-fast.json", heartbeat_ms=50)
    pb = c.pb
    A = pb.Action
    try:
        c.start_all()
        ids = [r.submit_report.case_id for r in c.call_many("intake", [
            c.submit_req("vw-%d" % i, "g1", "m1", reporter="r-%d" % i) for i in range(8)])]
        c.wait(lambda: c.ping("tracking").head >= 8, what="dispatch")
        a, b, rest = ids[0], ids[1], ids[2:]

        def finish(cid):
            for req in (c.action_req(cid, A.CHECKIN, department="cg"),
                        c.action_req(cid, A.COMPLETE, department="cg"),
                        c.action_req(cid, A.RESOLVE, actor="north")):
                rep = c.call("tracking", req)
                assert rep.WhichOneof("body") == "case_action", rep
        finish(a)
        finish(b)
        # b: the grid leader verifies for the resident; a stranger may not
        rep = c.call("tracking", c.action_req(b, A.VERIFY, actor="stranger", satisfied=True))
        assert rep.error.field == "case_action.actor", rep
        rep = c.call("tracking", c.action_req(b, A.VERIFY, actor="王一", satisfied=True))
        assert rep.case_action.case.state == pb.CLOSED, rep
        # a: nobody answers within the window (2 s in this catalog)
        c.wait(lambda: c.get_case(a).get_case.case.state == pb.CLOSED, timeout=20,
               what="verification window to close the case")
        got = c.get_case(a).get_case
        assert got.case.verified_by_default and got.history[-1].by_default, got
        assert got.history[-1].action == A.VERIFY and not got.history[-1].satisfied
        rep = c.call("tracking", c.action_req(a, A.VERIFY, actor="r-0", satisfied=False))
        assert rep.WhichOneof("body") == "error" and rep.error.state == pb.CLOSED, rep
        # the figures count it apart: verified by default, not satisfied
        req = pb.Request()
        req.figures.period = time.strftime("%Y-%m")
        req.figures.by = "township"
        rows = {r.key: r for r in c.call("tracking", req).figures.rows}
        north = rows["north"]
        assert (north.verified, north.satisfied, north.verified_by_default) == (2, 1, 1), north
        assert north.satisfaction_rate == 1.0, north
        # overdue: the six untouched cases are past their check-in deadline (again once the
        # ladder's raise moved it), a and b are not; paged 4 at a time
        def overdue_ids():
            seen, after = [], ""
            while True:
                req = pb.Request()
                req.list_cases.overdue = True
                req.list_cases.limit = 4
                req.list_cases.after_case_id = after
                lr = c.call("tracking", req).list_cases
                seen += [x.id for x in lr.cases]
                if not lr.next_after:
                    return seen
                after = lr.next_after
        c.wait(lambda: sorted(overdue_ids()) == sorted(rest), timeout=30,
               what="the six untouched cases to be overdue")
        got = overdue_ids()
        assert len(got) == len(set(got)) == 6, got
        req = pb.Request()
        req.list_cases.overdue = True
        req.list_cases.unit = "south"
        assert len(c.call("tracking", req).list_cases.cases) == 0
    except BaseException:
        c.fail()
        raise
    c.close()


def visits_and_rebuild():
    c = Cluster()
    pb = c.pb
    A = pb.Action
    try:
        c.start_all()
        today = datetime.date.today()
        week = "%d-W%02d" % today.isocalendar()[:2]

        def visit(grid, staff, minutes, date=""):
            req = pb.Request()
            req.log_visit.grid = grid
            req.log_visit.staff = staff
            req.log_visit.minutes = minutes
            req.log_visit.date = date
            return c.call("tracking", req)
        assert visit("g1", "王一", 180).log_visit.week_minutes == 180
        assert visit("g1", "王一", 150).log_visit.week_minutes == 330
        assert visit("g1", "李二", 60).log_visit.week_minutes == 60
        assert visit("g1", "陈五", 60).error.field == "log_visit.staff"      # g2's leader
        assert visit("g9", "王一", 60).error.field == "log_visit.grid"
        assert visit("g1", "王一", 0).error.field == "log_visit.minutes"
        assert visit("g1", "王一", 30, "2026-13-01").error.field == "log_visit.date"
        future = (today + datetime.timedelta(days=3)).isoformat()
        assert visit("g1", "王一", 30, future).error.field == "log_visit.date"

        def report(grid="", short=False):
            req = pb.Request()
            req.visits.week = week
            req.visits.grid = grid
            req.visits.short_only = short
            return c.call("tracking", req).visits
        v = report("g1")
        rows = {(r.staff, r.role): (r.minutes, r.under_minimum) for r in v.rows}
        assert rows == {("王一", "leader"): (330, False), ("李二", "worker"): (60, True),
                        ("张三", "worker"): (0, True), ("赵四", "worker"): (0, True)}, rows
        everyone = report()
        assert len(everyone.rows) == 24 and everyone.short_count == 23, everyone.short_count
        assert len(report(short=True).rows) == 23

        # cases with every kind of history line
        ids = [r.submit_report.case_id for r in c.call_many("intake", [
            c.submit_req("rb-%d" % i, "g%d" % (i % 6 + 1), "m%d" % (i % 5 + 1),
                         reporter="p%d" % i) for i in range(30)])]
        c.wait(lambda: c.ping("tracking").head >= 30 + 3, what="dispatch")
        for cid in ids[:20]:
            case = c.get_case(cid).get_case.case
            for a in case.assignments:
                c.call("tracking", c.action_req(cid, A.CHECKIN, department=a.department))
                c.call("tracking", c.action_req(cid, A.COMPLETE, department=a.department))
            c.call("tracking", c.action_req(cid, A.RESOLVE, actor=case.lead_unit))
            c.call("tracking", c.action_req(cid, A.VERIFY, actor=case.report.reporter,
                                            satisfied=cid not in ids[:5]))
        c.call("tracking", c.action_req(ids[25], A.RETURN, department="cg", note="not ours"))
        c.wait(lambda: c.ping("notification").head >= c.ping("tracking").head, what="fan-out")
        before = dump(c, ids)
        before_visits = report().SerializeToString(deterministic=True)

        def figures():
            out = []
            for by in ("department", "township", "grid"):
                req = pb.Request()
                req.figures.period = time.strftime("%Y")
                req.figures.by = by
                out.append(c.call("tracking", req).figures.SerializeToString(deterministic=True))
            return out
        before_figures = figures()
        head = c.ping("tracking").head

        c.stop("tracking")
        shutil.rmtree(os.path.join(c.tmp, "tracking"))
        c.start("tracking", "--rebuild")
        c.wait_ping("tracking")
        assert c.ping("tracking").head == head
        assert dump(c, ids) == before, "the rebuilt ledger differs"
        assert report().SerializeToString(deterministic=True) == before_visits
        assert figures() == before_figures, "the rebuilt figures differ"
        req = pb.Request()
        req.list_cases.state = pb.REOPENED
        assert sorted(x.id for x in c.call("tracking", req).list_cases.cases) == sorted(ids[:5])
        # it carries on: the next event is head + 1 everywhere, nothing doubled
        rep = c.call("tracking", c.action_req(ids[29], A.CHECKIN, department="cg" if
                                              "cg" in [a.department for a in c.get_case(ids[29]).get_case.case.assignments]
                                              else c.get_case(ids[29]).get_case.case.assignments[0].department))
        assert rep.WhichOneof("body") == "case_action", rep
        c.wait(lambda: c.ping("notification").head >= head + 1, what="the next event")
        all_ = c.replay_all("notification", "all/")
        assert [e.event_id for e in all_] == ["tracking/%d" % i for i in range(1, head + 2)]
        # a second --rebuild into a non-empty folder is refused
        c.stop("tracking")
        c.start("tracking", "--rebuild")
        c.wait(lambda: c.procs["tracking"].poll() is not None, timeout=10, what="refusal")
        assert c.procs.pop("tracking").returncode == 1
        assert "rebuild only into an empty data folder" in c.log("tracking")
    except BaseException:
        c.fail()
        raise
    c.close()


def main():
    fast_part()
    visits_and_rebuild()
    print("ledger: verification window, grid staff, overdue paging, visits, rebuild")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
