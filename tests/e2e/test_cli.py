"""whistlectl as an operator uses it: every command, --json, exit status 1 with a one-line
reason on refusal, 3 when a service is down, and tail replaying a department topic from a
sequence with no gap and no duplicate."""
import json
import os
import subprocess
import sys

from whistle_e2e import BINARY_DIR, SERVICES, Cluster

CTL = os.path.join(BINARY_DIR, "tools", "whistlectl", "whistlectl")


def main():
    c = Cluster()
    env = dict(os.environ)
    for s in SERVICES:
        env["WHISTLE_%s_API" % s.upper()] = c.api(s)
        env["WHISTLE_%s_EVENTS" % s.upper()] = c.events(s)

    def ctl(*args, rc=0):
        out = subprocess.run([CTL] + list(args), capture_output=True, text=True, env=env,
                             timeout=30)
        assert out.returncode == rc, "whistlectl %s: exit %d, want %d\n%s%s" % (
            " ".join(args), out.returncode, rc, out.stdout, out.stderr)
        return out

    try:
        assert "tail TOPIC" in ctl("--help").stdout
        ctl("nonsense", rc=2)
        ctl("--timeout", "300", "ping", rc=3)   # nothing is running yet
        c.start_all()
        assert ctl("ping").stdout.count(" up ") == 4
        pong = [json.loads(l) for l in ctl("--json", "ping").stdout.splitlines()]
        assert [p["service"] for p in pong] == SERVICES

        cid = ctl("report", "--grid", "g5", "--matter", "m4", "--description", "违章搭建",
                  "--reporter", "r9", "--key", "cli-1").stdout.strip()
        assert cid == "C00000001", cid
        again = ctl("report", "--grid", "g5", "--matter", "m4", "--description", "违章搭建",
                    "--reporter", "r9", "--key", "cli-1").stdout.strip()
        assert again == "C00000001 (duplicate)", again
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
        print("cli: every command, exit codes and tail replay behave")
        print("1 passed, 0 failed")
    except BaseException:
        for s in SERVICES:
            sys.stderr.write("---- %s log (tail)\n%s\n" % (s, c.log(s)[-3000:]))
        c.close(keep=True)
        raise
    c.close()


if __name__ == "__main__":
    main()
