"""Every topic notification serves, checked entry by entry against tracking's log: all/,
case/<id>/, unit/<lead>/, grid/<grid>/, dept/<code>/ for every department on the case, and
district/ for escalations (docs/topics.md). Each topic is its own gapless sequence from 1,
and each entry is tracking's entry as it was (event_id, correlation_id, occurred_at_ms,
CaseUpdated{case, entry}). A subscriber of a topic by name gets heartbeats with that topic's
head."""
import collections
import sys
import time

import zmq

from whistle_e2e import Cluster


def expected_topics(pb, e):
    """The rule of docs/topics.md, written again independently of services/notification."""
    c = e.case_updated.case
    out = ["all/", "case/%s/" % c.id]
    if c.lead_unit:
        out.append("unit/%s/" % c.lead_unit)
    if c.report.grid:
        out.append("grid/%s/" % c.report.grid)
    kinds = {"": "dept", "community": "community", "station": "station", "volunteer": "volunteer"}
    out += ["%s/%s/" % (kinds[a.kind], a.department) for a in c.assignments]
    if c.report.order and c.lead_unit:
        out.append("community/%s/" % c.lead_unit)   # the community sees the orders it leads
    issuer = c.report.task.issuer if c.report.HasField("task") else ""
    if issuer and "dept/%s/" % issuer not in out:
        out.append("dept/%s/" % issuer)             # the department that handed a task down
    if e.case_updated.entry.action == pb.ESCALATE:
        out.append("district/")
    return out


def main():
    c = Cluster()
    pb = c.pb
    A = pb.Action
    try:
        c.start_all()
        reqs = [c.submit_req("t-1", "g1", "m1"), c.submit_req("t-2", "g3", "m2"),
                c.submit_req("t-3", "g5", "m4"), c.submit_req("t-4", "g2", "m3")]
        task = c.submit_req("t-5", "g4", "", "survey", "mz-1")   # unlisted, unfunded: refused
        task.submit_report.report.task.affair = "zz"
        task.submit_report.report.task.authority_ref = "doc-7"
        task.submit_report.report.task.issuer = "mz"
        ids = [r.submit_report.case_id for r in c.call_many("intake", reqs + [task])]
        c.wait(lambda: c.ping("tracking").head >= 5, what="dispatch")
        one, two, three, four, refused = ids
        for req in (c.action_req(one, A.CHECKIN, department="cg"),
                    c.action_req(one, A.COMPLETE, department="cg"),
                    c.action_req(one, A.RESOLVE, actor="north"),
                    c.action_req(one, A.VERIFY, actor="r1", satisfied=False),   # reopened
                    c.action_req(two, A.CHECKIN, department="scjg"),
                    c.action_req(three, A.RETURN, department="cgj")):
            if req.case_action.action == A.RETURN:
                req.case_action.note = "not ours"
            rep = c.call("tracking", req)
            assert rep.WhichOneof("body") == "case_action", rep
        esc = pb.Request()
        esc.escalate.case_id = four
        esc.escalate.actor = "north"
        assert c.call("routing", esc).WhichOneof("body") == "escalate"
        c.wait(lambda: c.ping("tracking").head >= 12, what="every change in tracking")
        c.wait(lambda: c.ping("notification").head >= c.ping("tracking").head, what="fan-out")

        tracking = c.replay_all("tracking")
        assert len(tracking) == 12, len(tracking)
        want = collections.defaultdict(list)
        for e in tracking:
            for t in expected_topics(pb, e):
                want[t].append(e)
        assert {"all/", "district/", "unit/north/", "unit/south/", "grid/g1/", "grid/g4/",
                "dept/cg/", "dept/cgj/", "dept/scjg/", "dept/yjgl/", "dept/dcs/",
                "dept/mz/", "case/%s/" % refused} <= set(want), sorted(want)
        for topic, entries in sorted(want.items()):
            got = c.replay_all("notification", topic)
            assert len(got) == len(entries), "%s: %d entries, want %d" % (
                topic, len(got), len(entries))
            for i, (g, w) in enumerate(zip(got, entries), 1):
                assert g.stream == topic and g.seq == i, (topic, g.stream, g.seq, i)
                assert g.event_id == w.event_id, (topic, i, g.event_id, w.event_id)
                assert (g.correlation_id, g.occurred_at_ms) == (w.correlation_id,
                                                               w.occurred_at_ms)
                assert g.case_updated == w.case_updated, (topic, i)
        # nothing beyond the rule: a department never on a case has an empty topic
        rep = c.replay("notification", "dept/nobody/", 1)
        assert rep.replay.head == 0 and not rep.replay.entries
        district = [e.case_updated.entry.action for e in c.replay_all("notification", "district/")]
        assert district == [A.ESCALATE], district

        # a subscriber of a topic by name hears that topic's head
        sub = c.ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"dept/scjg/")
        sub.connect(c.events("notification"))
        deadline, beat = time.monotonic() + 20, None
        while beat is None and time.monotonic() < deadline:
            if sub.poll(200):
                topic, body = sub.recv_multipart()
                e = pb.Envelope.FromString(body)
                if e.WhichOneof("payload") == "heartbeat":
                    assert topic == b"dept/scjg/" and e.stream == "dept/scjg/" and e.seq == 0
                    beat = e.heartbeat
        sub.close(0)
        assert beat is not None, "no heartbeat on dept/scjg/"
        assert beat.service == "notification" and beat.head == len(want["dept/scjg/"]), beat
        print("topics: %d topics, each gapless and entry for entry tracking's log; named "
              "topics get heartbeats" % len(want))
        print("1 passed, 0 failed")
    except BaseException:
        for s in ("routing", "tracking", "notification"):
            sys.stderr.write("---- %s log (tail)\n%s\n" % (s, c.log(s)[-3000:]))
        c.close(keep=True)
        raise
    c.close()


if __name__ == "__main__":
    main()
