"""乡街吹哨 is the township's act (issue 11, point 1), on the real binaries: a matter the catalog
marks "review" waits in REVIEW until its lead township blows the whistle (`whistlectl blow`, a
chosen whistle and repeated --dept), hands it to its community, or rejects it as a duplicate or
not a matter, with a reason the reporter reads in show and tail; a review deadline passing
climbs the ladder; a manual escalation never lowers a whistle and counts as a ladder step."""
import json
import os
import tempfile

from whistle_e2e import SOURCE_DIR, Cluster


def review_catalog():
    with open(os.path.join(SOURCE_DIR, "tests/data/catalog-small.json")) as f:
        cat = json.load(f)
    for m in cat["matters"]:
        if m["code"] == "m1":
            m["review"] = True
    cat["review_ms"] = 1500
    for w in cat["whistles"].values():  # only the review deadline is short here
        w["checkin_ms"] *= 100
        w["resolve_ms"] *= 100
    path = os.path.join(tempfile.mkdtemp(prefix="whistle-review-"), "catalog-review.json")
    with open(path, "w") as f:
        json.dump(cat, f, ensure_ascii=False)
    return path


def main():
    c = Cluster(catalog=review_catalog(), heartbeat_ms=50)
    pb = c.pb
    ctl = c.ctl
    try:
        c.start_all()

        def report(key, grid="g1"):
            return ctl("report", "--grid", grid, "--matter", "m1", "--description", "占道经营",
                       "--reporter", "r-" + key, "--idempotency-key", key).stdout.split()[0]

        def case(cid):
            return c.get_case(cid).get_case

        a, b, d, e, n = (report(k) for k in ("rv-a", "rv-b", "rv-d", "rv-e", "rv-n"))
        for cid in (a, b, d, e, n):
            c.wait(lambda: case(cid).case.state == pb.REVIEW, what="%s in REVIEW" % cid)
        ca = case(a).case
        assert ca.lead_unit == "north" and len(ca.assignments) == 0 and ca.review_deadline_ms, ca
        assert "reviews it by" in ctl("show", a).stdout

        # nothing happens to a case in review but its lead's decision
        rep = c.call("tracking", c.action_req(a, pb.CHECKIN, department="cg"))
        assert rep.error.field == "case_action.action" and rep.error.state == pb.REVIEW, rep
        r = ctl("blow", a, "--as", "south", rc=1)
        assert "blow.actor" in r.stderr, r.stderr
        r = ctl("blow", a, "--as", "north", "--dept", "nosuch", rc=1)
        assert "blow.departments" in r.stderr, r.stderr
        r = ctl("blow", a, "--as", "north", "--whistle", "QUICK", "--whistle", "TOUGH", rc=2)
        assert "given twice" in r.stderr, r.stderr  # only --dept repeats

        # blow: a chosen whistle with its N departments
        out = ctl("blow", a, "--as", "north", "--whistle", "EMERGENCY", "--dept", "cg",
                  "--dept", "scjg").stdout
        assert "blew EMERGENCY" in out and "cg, scjg" in out, out
        c.wait(lambda: case(a).case.state == pb.DISPATCHED, what="the blow to reach tracking")
        got = case(a)
        assert got.case.whistle == pb.EMERGENCY, got.case
        assert [x.department for x in got.case.assignments] == ["cg", "scjg"], got.case
        assert all(x.checkin_deadline_ms > 0 for x in got.case.assignments), got.case
        last = got.history[-1]
        assert last.action == pb.BLOW and last.actor == "north", last
        assert last.from_state == pb.REVIEW and last.to_state == pb.DISPATCHED, last
        r = ctl("blow", a, "--as", "north", rc=1)
        assert "blow.case_id" in r.stderr and "DISPATCHED" in r.stderr, r.stderr
        c.wait(lambda: any(x.correlation_id == a for x in c.replay_all("notification",
                                                                       "dept/scjg/")),
               what="scjg to see the whistle blown")
        rep = c.call("tracking", c.action_req(a, pb.CHECKIN, department="cg"))
        assert rep.WhichOneof("body") == "case_action", rep

        # reject as a duplicate: the reporter reads why, in show and in tail
        r = ctl("blow", b, "--as", "north", "--reject", "duplicate", "--reason", "x", rc=1)
        assert "blow.duplicate_of" in r.stderr, r.stderr
        ctl("blow", b, "--as", "north", "--reject", "duplicate", "--of", a,
            "--reason", "同一处占道，已派单")
        c.wait(lambda: case(b).case.state == pb.REFUSED, what="the rejection to reach tracking")
        got = case(b)
        assert got.case.duplicate_of == a and got.history[-1].action == pb.REJECT, got
        assert "同一处占道，已派单" in got.history[-1].note and a in got.history[-1].note
        shown = ctl("show", b).stdout
        assert "同一处占道，已派单" in shown and "duplicate of " + a in shown, shown
        # the ladder may have reminded the lead meanwhile (a slow run): wait for the rejection
        # on the case's topic, however many entries came before it
        c.wait(lambda: any(e.case_updated.entry.action == pb.REJECT
                           for e in c.replay_all("notification", "case/%s/" % b)),
               what="the rejection on the case's topic")
        tail = ctl("tail", "case/%s/" % b, "--from", "1", "--idle-exit", "500").stdout
        assert "同一处占道，已派单" in tail, tail

        # reject as not a matter for the system
        ctl("blow", n, "--as", "north", "--reject", "not-a-matter", "--reason", "私人纠纷")
        c.wait(lambda: case(n).case.state == pb.REFUSED, what="not-a-matter")
        assert "not a matter for the system: 私人纠纷" in case(n).history[-1].note

        # hand it to the community: its one assignee, no department
        ctl("blow", d, "--as", "north", "--to-community")
        c.wait(lambda: case(d).case.state == pb.DISPATCHED, what="the hand-over")
        got = case(d)
        assert [(x.department, x.kind) for x in got.case.assignments] == \
            [("north-01", "community")], got.case
        assert got.history[-1].action == pb.HAND_OVER

        # the review deadline passes with e undecided: the ladder reminds
        def esc(cid):
            return [x.case_escalated for x in c.replay_all("routing")
                    if x.WhichOneof("payload") == "case_escalated"
                    and x.case_escalated.case_id == cid]
        c.wait(lambda: len(esc(e)) >= 1, timeout=30, what="the ladder to remind the reviewer")
        first = esc(e)[0]
        assert first.step == "remind" and "review deadline passed" in first.reason, first
        c.wait(lambda: case(e).case.escalation_level >= 1, what="tracking to record it")
        assert case(e).case.state == pb.REVIEW

        # a manual escalation never lowers a whistle, and is a step of the ladder
        before = case(a).case.escalation_level
        req = pb.Request()
        req.escalate.case_id = a
        req.escalate.actor = "north"
        req.escalate.to_whistle = pb.QUICK
        rep = c.call("routing", req)
        assert rep.error.field == "escalate.to_whistle" and "lower" in rep.error.message, rep
        req.escalate.to_whistle = pb.TOUGH
        rep = c.call("routing", req)
        assert rep.escalate.escalated.level == before + 1, (before, rep)
        c.wait(lambda: case(a).case.escalation_level == before + 1, what="level + 1")
        print("review: blow, reject (duplicate, not-a-matter), hand-over, review ladder, "
              "no lowering")
        print("1 passed, 0 failed")
    except BaseException:
        c.fail()
        raise
    c.close()


if __name__ == "__main__":
    main()
