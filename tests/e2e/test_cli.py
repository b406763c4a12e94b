"""whistlectl as an operator uses it: every command, --json, exit status 1 with a one-line
reason on refusal, 3 when a service is down, and tail replaying a department topic from a
sequence with no gap and no duplicate."""
import json
import os

from whistle_e2e import BINARY_DIR, SERVICES, Cluster

CTL = os.path.join(BINARY_DIR, "tools", "whistlectl", "whistlectl")


def main():
    c = Cluster()
    ctl = c.ctl

    try:
        assert "  tail " in ctl("--help").stdout
        ctl("nonsense", rc=2)
        ctl("--timeout", "300", "ping", rc=3)   # nothing is running yet
        c.start_all()
        assert ctl("ping").stdout.count(" up ") == 4
        pong = [json.loads(l) for l in ctl("--json", "ping").stdout.splitlines()]
        assert [p["service"] for p in pong] == SERVICES

        cid = ctl("report", "--grid", "g5", "--matter", "m4", "--description", "违章搭建",
                  "--reporter", "r9", "--idempotency-key", "cli-1").stdout.strip()
        assert cid == "C00000001", cid
        again = ctl("report", "--grid", "g5", "--matter", "m4", "--description", "违章搭建",
                    "--reporter", "r9", "--idempotency-key", "cli-1").stdout.strip()
        assert again == "C00000001 (duplicate)", again
        # one meaning per flag: --key after the command is the key pair's flag, refused
        r = ctl("report", "--grid", "g5", "--matter", "m4", "--description", "违章搭建",
                "--reporter", "r9", "--key", "keys/operator.key", rc=2)
        assert "--idempotency-key" in r.stderr and "goes before the command" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        bad = ctl("report", "--grid", "g404", "--matter", "m4", "--description", "x",
                  "--reporter", "r9", rc=1)
        assert "report.grid" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1

        c.wait(lambda: c.ping("notification").head >= 1, what="dispatch to reach notification")
        shown = json.loads(ctl("--json", "show", cid).stdout)
        assert shown["case"]["state"] == "DISPATCHED" and shown["case"]["whistle"] == "TOUGH"
        depts = [a["department"] for a in shown["case"]["assignments"]]
        assert depts == ["cg", "cgj", "scjg"], depts
        r = ctl("resolve", cid, "--as", "south", rc=1)
        assert "IN_PROGRESS" in r.stderr, r.stderr
        for d in depts:
            ctl("checkin", cid, "--dept", d)
        ctl("progress", cid, "--dept", "cg", "--note", "on site")
        for d in depts:
            ctl("complete", cid, "--dept", d)
        ctl("resolve", cid, "--as", "north", rc=1)   # not the lead unit
        assert ctl("resolve", cid, "--as", "south").stdout.split() == [cid, "RESOLVED"]
        ctl("verify", cid, "--as", "r9", rc=2)      # neither --satisfied nor --unsatisfied
        ctl("verify", cid, "--as", "someone-else", "--satisfied", rc=1)
        assert ctl("verify", cid, "--as", "r9", "--satisfied").stdout.split() == [cid, "CLOSED"]
        text = ctl("show", cid).stdout
        assert "CLOSED" in text and text.count("CHECKIN") == 3 and "on site" in text
        ctl("show", "C404", rc=1)

        listed = json.loads(ctl("--json", "list", "--dept", "cgj").stdout)
        assert [x["id"] for x in listed["cases"]] == [cid]
        assert json.loads(ctl("--json", "list", "--dept", "cg").stdout)["cases"][0]["id"] == cid
        assert "cases" in json.loads(ctl("--json", "list", "--state", "DISPATCHED").stdout)
        assert json.loads(ctl("--json", "list", "--state", "DISPATCHED").stdout)["cases"] == []
        ctl("list", "--state", "NOPE", rc=2)

        # tail: dept/cg/ has every event of the case; dept/cgj/ is a different topic
        c.wait(lambda: c.ping("notification").head >= c.ping("tracking").head, what="fan-out")
        n_events = c.ping("tracking").head
        lines = ctl("--json", "tail", "dept/cg/", "--idle-exit", "700").stdout.splitlines()
        got = [json.loads(l) for l in lines]
        assert [e["seq"] for e in got] == list(range(1, n_events + 1)), [e["seq"] for e in got]
        assert all(e["stream"] == "dept/cg/" for e in got)
        part = ctl("--json", "tail", "dept/cgj/", "--from", "3", "--count", "2").stdout.splitlines()
        assert [json.loads(l)["seq"] for l in part] == [3, 4]
        ctl("tail", "dept/cg", rc=2)   # topics end with '/'
        # an operator blows a whistle by hand, and raises one
        e = ctl("report", "--grid", "g1", "--matter", "m1", "--description", "x", "--reporter",
                "r1", "--whistle", "emergency").stdout.strip()
        c.wait(lambda: c.get_case(e).WhichOneof("body") == "get_case", what="dispatch")
        assert json.loads(ctl("--json", "show", e).stdout)["case"]["whistle"] == "EMERGENCY"
        r = ctl("escalate", e, "--as", "south", rc=1)
        assert "escalate.actor" in r.stderr
        out = ctl("escalate", e, "--as", "north", "--reason", "spreading").stdout
        assert out.strip() == "%s EMERGENCY -> TOUGH (added dcs)" % e, out
        c.wait(lambda: "dcs" in ctl("show", e).stdout, what="coordinator on the case")
        # 1+N: return with a reason, moved by the lead; release refused
        ctl("return", e, "--dept", "cg", rc=1)
        ctl("return", e, "--dept", "cg", "--reason", "not ours")
        ctl("assign", e, "--as", "south", "--dept", "scjg", "--from", "cg", rc=1)
        ctl("assign", e, "--as", "north", "--dept", "scjg", "--from", "cg")
        r = ctl("release", e, "--dept", "scjg", rc=1)
        assert "事不完、人不撤" in r.stderr, r.stderr
        shown = json.loads(ctl("--json", "show", e).stdout)
        st = {a["department"]: a["state"] for a in shown["case"]["assignments"]}
        assert st == {"cg": "RELEASED", "dcs": "NOTIFIED", "scjg": "NOTIFIED"}, st
        # 社区事务准入: a listed affair is admitted, an unlisted one without funding refused
        t1 = ctl("report", "--grid", "g3", "--description", "census", "--reporter", "mz-1",
                 "--affair", "a1", "--issuer", "mz").stdout.strip()
        # routing refuses it: report waits for the decision, says why and exits 1
        r2 = ctl("report", "--grid", "g3", "--description", "survey", "--reporter", "mz-1",
                 "--affair", "zz", "--authority", "doc-7", "--issuer", "mz", rc=1)
        t2 = r2.stdout.strip()
        assert "%s was refused by routing: report.task.funding_ref" % t2 in r2.stderr, r2.stderr
        c.wait(lambda: c.get_case(t2).WhichOneof("body") == "get_case", what="task routed")
        assert json.loads(ctl("--json", "show", t1).stdout)["case"]["state"] == "DISPATCHED"
        refused = json.loads(ctl("--json", "show", t2).stdout)
        assert refused["case"]["state"] == "REFUSED"
        assert "report.task.funding_ref" in refused["history"][0]["note"], refused
        # catalog check
        out = ctl("catalog", "check", os.path.join(c.catalog)).stdout
        assert "units        2 (1 townships, 1 streets)" in out, out
        summary = json.loads(ctl("--json", "catalog", "check", os.path.join(
            os.path.dirname(c.catalog), "..", "..", "deploy/catalog/default.json")).stdout)
        assert (summary["townships"], summary["streets"], summary["communities"],
                summary["grids"], summary["matters"], summary["admitted_affairs"]) == \
            (3, 6, 33, 384, 33, 54), summary
        bad = os.path.join(c.tmp, "bad.json")
        with open(c.catalog, encoding="utf-8") as f:
            text = f.read().replace('"departments": ["yjgl"]', '"departments": ["ghost"]', 1)
        with open(bad, "w", encoding="utf-8") as f:
            f.write(text)
        r = ctl("catalog", "check", bad, rc=1)
        line = [i for i, l in enumerate(text.splitlines(), 1) if '"ghost"' in l][0]
        assert "bad.json:%d: " % line in r.stderr and "ghost" in r.stderr, r.stderr
        # health vs liveness: routing with its upstream gone is in trouble (3, text and --json
        # alike) but alive (--alive: 0, what a liveness probe must see so as not to restart it)
        c.stop("intake")
        c.wait(lambda: any(k.silent for k in c.ping("routing").cursors), timeout=30,
               what="routing to find intake silent")
        assert "SILENT" in ctl("ping", "routing", rc=3).stdout
        pong = json.loads(ctl("--json", "ping", "routing", rc=3).stdout)
        assert pong["cursors"][0]["silent"], pong
        ctl("ping", "--alive", "routing", rc=0)
        ctl("--json", "ping", "--alive", "routing", rc=0)
        ctl("--timeout", "300", "ping", "--alive", "intake", rc=3)
        ctl("--timeout", "300", "ping", "--alive", rc=3)  # intake among them
        print("cli: every command, exit codes and tail replay behave")
        print("1 passed, 0 failed")
    except BaseException:
        c.fail()
        raise
    c.close()


if __name__ == "__main__":
    main()
