"""Every assignment has its own deadlines (issue 11, point 4), on the real binaries: a
department added late (ASSIGN) gets a check-in deadline from its own assignment, and the ladder
does not charge it before then; a reopened case shows and enforces fresh deadlines, so
`list --overdue` does not list it at once."""
import json
import os
import tempfile
import time

from whistle_e2e import SOURCE_DIR, Cluster

CHECKIN_MS = 3000


def deadline_catalog():
    with open(os.path.join(SOURCE_DIR, "tests/data/catalog-small.json")) as f:
        cat = json.load(f)
    cat["whistles"]["QUICK"]["checkin_ms"] = CHECKIN_MS
    cat["whistles"]["QUICK"]["resolve_ms"] = 600000
    path = os.path.join(tempfile.mkdtemp(prefix="whistle-deadlines-"), "catalog.json")
    with open(path, "w") as f:
        json.dump(cat, f, ensure_ascii=False)
    return path


def main():
    c = Cluster(catalog=deadline_catalog(), heartbeat_ms=50)
    pb = c.pb
    A = pb.Action
    try:
        c.start_all()
        late, reo = [r.submit_report.case_id for r in c.call_many("intake", [
            c.submit_req("dl-late", "g1", "m2", reporter="rl"),
            c.submit_req("dl-reopen", "g2", "m1", reporter="rr")])]

        def case(cid):
            return c.get_case(cid).get_case

        def ok(req):
            rep = c.call("tracking", req)
            assert rep.WhichOneof("body") == "case_action", rep
            return rep.case_action.case

        for cid in (late, reo):
            c.wait(lambda: case(cid).case.state == pb.DISPATCHED, what="dispatch")

        # a department added late: its own deadline, from its own assignment
        for d in ("cg", "scjg"):
            ok(c.action_req(late, A.CHECKIN, department=d))
        ok(c.action_req(late, A.ASSIGN, actor="north", department="yjgl"))
        got = case(late)
        assign = [h for h in got.history if h.action == A.ASSIGN][-1]
        yjgl = [x for x in got.case.assignments if x.department == "yjgl"][0]
        assert yjgl.assigned_at_ms == assign.at_ms, (yjgl, assign)
        assert yjgl.checkin_deadline_ms == assign.at_ms + CHECKIN_MS, (yjgl, assign)
        assert assign.checkin_deadline_ms == yjgl.checkin_deadline_ms, assign
        assert got.case.checkin_deadline_ms == yjgl.checkin_deadline_ms, got.case

        # the ladder charges yjgl at its own deadline, not at the case's first one
        def esc(cid):
            return [x for x in c.replay_all("routing")
                    if x.WhichOneof("payload") == "case_escalated"
                    and x.case_escalated.case_id == cid]
        c.wait(lambda: len(esc(late)) >= 1, timeout=30, what="yjgl to be reminded")
        first = esc(late)[0]
        assert "yjgl" in first.case_escalated.reason, first
        assert first.occurred_at_ms >= yjgl.checkin_deadline_ms, (first, yjgl)

        # reopen after the first check-in deadline passed: fresh deadlines, not overdue
        for d in ("cg",):
            ok(c.action_req(reo, A.CHECKIN, department=d))
            ok(c.action_req(reo, A.COMPLETE, department=d))
        ok(c.action_req(reo, A.RESOLVE, actor="north"))
        old = case(reo).case.checkin_deadline_ms
        c.wait(lambda: int(time.time() * 1000) > old + 100, timeout=30,
               what="the first check-in deadline to pass")
        ok(c.action_req(reo, A.VERIFY, actor="rr", satisfied=False))
        got = case(reo)
        at = got.history[-1].at_ms
        assert got.case.state == pb.REOPENED
        assert got.case.checkin_deadline_ms == at + CHECKIN_MS, (got.case, at)
        assert got.case.resolve_deadline_ms > at, got.case
        assert all(x.checkin_deadline_ms == at + CHECKIN_MS and x.assigned_at_ms == at
                   for x in got.case.assignments), got.case
        overdue = c.ctl("list", "--overdue").stdout
        if int(time.time() * 1000) < got.case.checkin_deadline_ms:
            assert reo not in overdue, overdue
        # and enforced: once the fresh deadline passes, it is overdue
        c.wait(lambda: reo in c.ctl("list", "--overdue").stdout, timeout=30,
               what="the reopened case to be overdue at its fresh deadline")
        print("deadlines: a late ASSIGN and a reopen each get their own check-in deadline")
        print("1 passed, 0 failed")
    except BaseException:
        c.fail()
        raise
    c.close()


if __name__ == "__main__":
    main()
