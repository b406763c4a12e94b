"""社区事务准入 tasks can be finished (issue 11, point 3), with the real binaries and whistlectl
on tests/data/catalog-small.json:

- an admitted task (listed affair a1) goes to the grid's community as an assignment of kind
  community: it checks in, works, completes; the lead street resolves; the issuer verifies;
  it closes with no step of the escalation ladder;
- the issuing department (mz) sees it on its topic dept/mz/, every change of it, and so does
  the community on community/<code>/; a refused task reaches the issuer's topic too;
- an unlisted task admitted on its authority and funding keeps both references, in `show`,
  `--json show` and `tail`."""
import json
import sys

from whistle_e2e import Cluster


def one_line(out):
    return (out.stderr or out.stdout).strip().splitlines()[0]


def main():
    c = Cluster()
    ctl = c.ctl
    try:
        c.start_all()
        tid = ctl("report", "--grid", "g3", "--description", "居民信息登记", "--reporter",
                  "mz-1", "--affair", "a1", "--issuer", "mz").stdout.strip()
        case = json.loads(ctl("--json", "show", tid).stdout)["case"]
        assert case["state"] == "DISPATCHED" and case["lead_unit"] == "south", case
        got = [(a["department"], a.get("kind"), a["state"]) for a in case["assignments"]]
        assert got == [("south-01", "community", "NOTIFIED")], got
        assert "community south-01" in ctl("show", tid).stdout

        # another community, or a department, cannot act on it
        line = one_line(ctl("checkin", tid, "--dept", "south-02", rc=1))
        assert "not assigned" in line, line
        ctl("checkin", tid, "--dept", "south-01")
        ctl("progress", tid, "--dept", "south-01", "--note", "已入户登记 120 户")
        ctl("complete", tid, "--dept", "south-01")
        ctl("resolve", tid, "--as", "south")
        assert ctl("verify", tid, "--as", "mz-1", "--satisfied").stdout.split()[1] == "CLOSED"
        shown = json.loads(ctl("--json", "show", tid).stdout)
        acts = [h["action"] for h in shown["history"]]
        assert acts == ["DISPATCH", "CHECKIN", "PROGRESS", "COMPLETE", "RESOLVE", "VERIFY"], acts
        assert not shown["case"].get("escalation_level"), shown["case"]

        # an unlisted task on its authority and funding: admitted, both references kept
        uid = ctl("report", "--grid", "g5", "--description", "老旧小区加装电梯意愿摸排",
                  "--reporter", "zj-1", "--affair", "zz-lift", "--issuer", "mz", "--authority",
                  "区政办〔2026〕12号", "--funding", "2026-城建-031").stdout.strip()
        text = ctl("show", uid).stdout
        assert "authority 区政办〔2026〕12号" in text and "funding 2026-城建-031" in text, text
        assert "community south-02" in text and "NOTIFIED" in text, text
        task = json.loads(ctl("--json", "show", uid).stdout)["case"]["report"]["task"]
        assert (task["authority_ref"], task["funding_ref"], task["issuer"]) == (
            "区政办〔2026〕12号", "2026-城建-031", "mz"), task
        # a task without its funding is refused; its issuer hears that too
        rid = ctl("report", "--grid", "g4", "--description", "survey", "--reporter", "mz-1",
                  "--affair", "zz", "--authority", "doc-7", "--issuer", "mz", rc=1).stdout.strip()

        c.wait(lambda: c.ping("notification").head >= c.ping("tracking").head, what="fan-out")
        issuer = c.replay_all("notification", "dept/mz/")
        seen = [(e.correlation_id, c.pb.Action.Name(e.case_updated.entry.action))
                for e in issuer]
        assert seen == [(tid, a) for a in acts] + [(uid, "DISPATCH"), (rid, "REFUSE")], seen
        assert [e.correlation_id for e in c.replay_all("notification", "community/south-01/")] \
            == [tid] * len(acts)
        lines = ctl("--json", "tail", "dept/mz/", "--from", str(len(acts) + 1), "--count", "1"
                    ).stdout.splitlines()
        t = json.loads(lines[0])["case_updated"]["case"]["report"]["task"]
        line = ctl("tail", "dept/mz/", "--from", str(len(acts) + 1), "--count", "1").stdout
        assert "task zz-lift issued by mz authority 区政办〔2026〕12号 funding 2026-城建-031" in line, \
            line
        assert t["authority_ref"] == "区政办〔2026〕12号" and t["funding_ref"] == "2026-城建-031", t
    except BaseException:
        c.fail()
        raise
    c.close()
    print("tasks: ok")


if __name__ == "__main__":
    sys.exit(main())
