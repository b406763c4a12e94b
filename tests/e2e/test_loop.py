"""1,000 cases through the whole loop on the real binaries: report -> dispatch -> every
department checks in and completes -> the lead resolves -> the reporter verifies; every fifth
case is first found unsatisfied and reopened with every department back on it. Each case must
end CLOSED exactly once with its full history, and every topic must carry it gaplessly."""
import collections
import sys

from whistle_e2e import Cluster

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
GRIDS = ["g1", "g2", "g3", "g4", "g5", "g6"]
MATTERS = ["m1", "m2", "m3", "m4", "m5"]


def main():
    c = Cluster()
    pb = c.pb
    A = pb.Action
    try:
        c.start_all()
        reqs = [c.submit_req("loop-%d" % i, GRIDS[i % 6], MATTERS[i % 5],
                             "事项 %d" % i, "resident-%d" % i) for i in range(N)]
        reps = c.call_many("intake", reqs)
        ids = [r.submit_report.case_id for r in reps]
        assert len(set(ids)) == N, "every report gets its own case id"
        c.wait(lambda: c.ping("tracking").head >= N, what="tracking to open every case")

        cases = {}
        for cid in ids:
            rep = c.get_case(cid)
            assert rep.WhichOneof("body") == "get_case", rep
            assert rep.get_case.case.state == pb.DISPATCHED
            cases[cid] = rep.get_case.case

        def round_of_work(selected):
            depts = {cid: [a.department for a in cases[cid].assignments] for cid in selected}
            for action in (A.CHECKIN, A.COMPLETE):
                reqs = [c.action_req(cid, action, department=d)
                        for cid in selected for d in depts[cid]]
                for r in c.call_many("tracking", reqs):
                    assert r.WhichOneof("body") == "case_action", r
            reqs = [c.action_req(cid, A.RESOLVE, actor=cases[cid].lead_unit) for cid in selected]
            for r in c.call_many("tracking", reqs):
                assert r.case_action.case.state == pb.RESOLVED, r

        round_of_work(ids)
        reopen = ids[::5]
        reqs = [c.action_req(cid, A.VERIFY, actor=cases[cid].report.reporter, satisfied=False)
                for cid in reopen]
        for r in c.call_many("tracking", reqs):
            case = r.case_action.case
            assert case.state == pb.REOPENED and case.reopen_count == 1, r
            assert all(a.state == pb.NOTIFIED for a in case.assignments), "all back on it"
        round_of_work(reopen)
        reqs = [c.action_req(cid, A.VERIFY, actor=cases[cid].report.reporter, satisfied=True)
                for cid in ids]
        for r in c.call_many("tracking", reqs):
            assert r.case_action.case.state == pb.CLOSED, r
        # a closed case takes no more verification
        r = c.call("tracking", c.action_req(ids[0], A.VERIFY, actor=cases[ids[0]].report.reporter,
                                            satisfied=True))
        assert r.WhichOneof("body") == "error" and r.error.state == pb.CLOSED, r

        # full history, closed exactly once
        reopened = set(reopen)
        histories = {}
        for cid in ids:
            rep = c.get_case(cid).get_case
            n_dept = len(rep.case.assignments)
            acts = [h.action for h in rep.history]
            one = [A.CHECKIN] * n_dept + [A.COMPLETE] * n_dept + [A.RESOLVE]
            want = [A.DISPATCH] + one
            if cid in reopened:
                want += [A.VERIFY] + one
            want += [A.VERIFY]
            assert acts == want, "%s history %s, want %s" % (cid, acts, want)
            assert sum(1 for h in rep.history if h.to_state == pb.CLOSED) == 1
            assert rep.case.state == pb.CLOSED
            assert rep.case.version == len(rep.history)
            histories[cid] = rep.history

        # notification: every event on all/, each case's topic and each department's topic
        c.wait(lambda: c.ping("notification").head >= c.ping("tracking").head,
               what="notification to catch up")
        total = sum(len(h) for h in histories.values())
        all_entries = c.replay_all("notification", "all/")
        assert len(all_entries) == total == c.ping("tracking").head, (len(all_entries), total)
        for cid in ids[:50] + ids[-50:]:
            topic = c.replay_all("notification", "case/%s/" % cid)
            assert [e.case_updated.entry.action for e in topic] == \
                [h.action for h in histories[cid]], cid
        per_dept = collections.defaultdict(collections.Counter)
        for cid in ids:
            for a in cases[cid].assignments:
                per_dept[a.department][cid] = 1
        for dept, want in per_dept.items():
            seen = collections.Counter()
            for e in c.replay_all("notification", "dept/%s/" % dept):
                if e.case_updated.entry.action == A.DISPATCH:
                    seen[e.correlation_id] += 1
            assert seen == want, "dept/%s/: dispatch seen %d, want %d" % (
                dept, sum(seen.values()), sum(want.values()))
        print("loop: %d cases closed exactly once, %d reopened, %d events on all/" %
              (N, len(reopen), total))
        print("1 passed, 0 failed")
    except BaseException:
        for s in ("intake", "routing", "tracking", "notification"):
            sys.stderr.write("---- %s log (tail)\n%s\n" % (s, c.log(s)[-3000:]))
        c.close(keep=True)
        raise
    c.close()


if __name__ == "__main__":
    main()
