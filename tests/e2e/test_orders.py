"""群众点单、社区派单、单位（党员）接单、群众验单 (issue 11, point 2), with the real binaries and
whistlectl, on tests/data/catalog-small.json (matter o1 is an order; stationed units power
(south's 大工委), bank (大党委 of south-02 and north-01), school (north-01); volunteers pm-n1
of north-01, pm-s1 of south-01):

- a resident's order is led by the grid's community, with no department;
- the community dispatches it to a stationed unit, which declines with a reason; one not
  serving the community, or a second while the first has not answered, is refused naming
  the field; the community dispatches again to a volunteer, who accepts, works, completes;
  the community resolves, the resident verifies;
- `show` says who each assignee is and why the unit declined; the unit's, the volunteer's
  and the community's topics carry the order; a report's `order` flag on any matter makes an
  order too."""
import json
import time
import sys

from whistle_e2e import Cluster


def one_line(out):
    return (out.stderr or out.stdout).strip().splitlines()[0]


def actions(c, topic):
    return [c.pb.Action.Name(e.case_updated.entry.action)
            for e in c.replay_all("notification", topic)]


def main():
    c = Cluster()
    ctl = c.ctl
    try:
        c.start_all()
        cid = ctl("report", "--grid", "g1", "--matter", "o1", "--description", "楼道堆物清理",
                  "--reporter", "r7").stdout.strip()
        case = json.loads(ctl("--json", "show", cid).stdout)["case"]
        assert case["state"] == "DISPATCHED" and case["lead_unit"] == "north-01", case
        assert case["report"].get("order") is True and not case.get("assignments"), case

        # refusals name the field: a unit not serving north-01, a volunteer of another
        # community, an unknown code, someone else than the lead, a kind that takes no orders
        line = one_line(ctl("order", cid, "--as", "north-01", "--to", "unit:power", rc=1))
        assert "case_action.department" in line and "大党委" in line, line
        line = one_line(ctl("order", cid, "--as", "north-01", "--to", "volunteer:pm-s1", rc=1))
        assert "case_action.department" in line and "south-01" in line, line
        line = one_line(ctl("order", cid, "--as", "north-01", "--to", "unit:nosuch", rc=1))
        assert "unknown stationed unit 'nosuch'" in line, line
        line = one_line(ctl("order", cid, "--as", "north", "--to", "unit:bank", rc=1))
        assert "case_action.actor" in line, line
        line = one_line(ctl("order", cid, "--as", "north-01", "--to", "dept:cg", rc=2))
        assert "unit:CODE" in line, line

        ctl("order", cid, "--as", "north-01", "--to", "unit:bank", "--note", "请协助清理")
        line = one_line(ctl("order", cid, "--as", "north-01", "--to", "volunteer:pm-n1", rc=1))
        assert "is with station 'bank' (NOTIFIED)" in line, line
        line = one_line(ctl("accept", cid, "--as", "volunteer:pm-n1", rc=1))
        assert "not assigned" in line, line
        line = one_line(ctl("decline", cid, "--as", "unit:bank", rc=2))
        assert "--reason" in line, line
        ctl("decline", cid, "--as", "unit:bank", "--reason", "本周人手不足")
        line = one_line(ctl("accept", cid, "--as", "unit:bank", rc=1))
        assert "DECLINED" in line, line

        # 社区派单 again: to a party-member volunteer, who takes it (接单)
        ctl("order", cid, "--as", "north-01", "--to", "volunteer:pm-n1")
        line = one_line(ctl("resolve", cid, "--as", "north-01", rc=1))
        assert "RESOLVE needs IN_PROGRESS" in line, line
        assert ctl("accept", cid, "--as", "volunteer:pm-n1").stdout.split()[1] == "IN_PROGRESS"
        line = one_line(ctl("resolve", cid, "--as", "north-01", rc=1))
        assert "CHECKED_IN" in line, line
        ctl("progress", cid, "--dept", "pm-n1", "--note", "已到现场")
        ctl("complete", cid, "--dept", "pm-n1", "--note", "已清理")
        ctl("resolve", cid, "--as", "north-01")
        assert ctl("verify", cid, "--as", "r7", "--satisfied").stdout.split()[1] == "CLOSED"

        shown = ctl("show", cid).stdout
        assert "unit bank" in shown and "DECLINED" in shown and "declined: 本周人手不足" in shown, \
            shown
        assert "volunteer pm-n1" in shown and "DONE" in shown, shown
        hist = json.loads(ctl("--json", "show", cid).stdout)["history"]
        got = [(h["action"], h.get("department", "")) for h in hist]
        assert got == [("DISPATCH", ""), ("ORDER", "bank"), ("DECLINE", "bank"),
                       ("ORDER", "pm-n1"), ("ACCEPT", "pm-n1"), ("PROGRESS", "pm-n1"),
                       ("COMPLETE", "pm-n1"), ("RESOLVE", ""), ("VERIFY", "")], got
        assert hist[2]["note"] == "本周人手不足", hist[2]

        # each on its own topic, from the change that brought it on; the community sees all
        c.wait(lambda: c.ping("notification").head >= c.ping("tracking").head, what="fan-out")
        assert actions(c, "station/bank/") == ["ORDER", "DECLINE", "ORDER", "ACCEPT",
                                               "PROGRESS", "COMPLETE", "RESOLVE", "VERIFY"]
        assert actions(c, "volunteer/pm-n1/") == ["ORDER", "ACCEPT", "PROGRESS", "COMPLETE",
                                                  "RESOLVE", "VERIFY"]
        assert actions(c, "community/north-01/") == [h["action"] for h in hist]
        assert c.replay("notification", "dept/bank/", 1).replay.head == 0
        tail = ctl("tail", "volunteer/pm-n1/", "--idle-exit", "300").stdout.splitlines()
        assert tail[0].startswith("volunteer/pm-n1/ 1 %s ORDER" % cid), tail

        # the report's flag makes any matter an order: the community leads, no department
        req = c.submit_req("order-flag", grid="g5", matter="m1", description="帮扶独居老人",
                           reporter="r8")
        req.submit_report.report.order = True
        flagged = c.call("intake", req).submit_report.case_id
        c.wait(lambda: c.get_case(flagged).WhichOneof("body") == "get_case", what="routed")
        fc = c.get_case(flagged).get_case.case
        assert fc.lead_unit == "south-02" and not fc.assignments and fc.report.order, fc
        ctl("order", flagged, "--as", "south-02", "--to", "unit:power")  # south's 大工委
        ctl("accept", flagged, "--as", "unit:power")
        # ordered again after declining: a fresh check-in deadline from the new ORDER, not the
        # one of the first (issue 11 point 4: every (re)assignment has its own)
        again = c.call("intake", c.submit_req("o-again", "g1", "o1", "门前垃圾", "r7")
                       ).submit_report.case_id
        c.wait(lambda: c.get_case(again).WhichOneof("body") == "get_case", what="routed")
        ctl("order", again, "--as", "north-01", "--to", "unit:bank")
        first = c.get_case(again).get_case.case.assignments[0].checkin_deadline_ms
        ctl("decline", again, "--as", "unit:bank", "--reason", "今天不行")
        time.sleep(1.1)
        ctl("order", again, "--as", "north-01", "--to", "unit:bank")
        rep = c.get_case(again).get_case
        second = rep.case.assignments[0].checkin_deadline_ms
        order_at = [h.at_ms for h in rep.history if h.action == c.pb.ORDER][-1]
        assert second == order_at + 60000 and second > first, (first, second, order_at)
        assert [h.checkin_deadline_ms for h in rep.history if h.action == c.pb.ORDER][-1] == second
    except BaseException:
        c.fail()
        raise
    c.close()
    print("orders: ok")


if __name__ == "__main__":
    sys.exit(main())
