"""An operator's first hour with the real whistlectl and scripts (issue 9):

- every command explains itself: `whistlectl COMMAND --help` prints its usage, flags and an
  example, needs no service, and runs nothing; `deploy/local/up.sh --help` prints only its help;
- nothing is silently guessed: an unknown option, a flag given twice, a missing value and a
  stray argument are refused as "whistlectl COMMAND: ..." pointing to COMMAND --help (exit 2);
- refusals a person can act on: one line, the field named once, where valid values are
  listed (`catalog list`), case ids, visit minutes and list pages with their bounds, topics
  that cannot exist or are empty, the same idempotency key with another report (ECONFLICT), a
  keyed service asked without keys (told to pass keys, not "is it running?");
- `keygen DIR/NAME` creates DIR;
- output for people: whistles by name ("TOUGH 攻坚哨"), no label printed empty, dates in list."""
import json
import os
import re
import stat
import subprocess

from whistle_e2e import BINARY_DIR, SOURCE_DIR, Cluster

CTL = os.path.join(BINARY_DIR, "tools", "whistlectl", "whistlectl")


def one_line(out):
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, "want one line on stderr, got:\n" + out.stderr
    return lines[0]


def main():
    c = Cluster()
    ctl = c.ctl
    try:
        # ---- 1. help per command, with nothing running ------------------------------------
        top = ctl("--help").stdout
        commands = re.findall(r"^  ([a-z]+) ", top.split("Commands:")[1].split("\n\n")[0], re.M)
        assert len(commands) >= 19 and "report" in commands and "tail" in commands, commands
        for cmd in commands:
            out = ctl(cmd, "--help")
            assert out.stdout.startswith("Usage: whistlectl [GLOBAL OPTIONS] %s" % cmd), out.stdout
            assert "Example:\n  whistlectl %s" % cmd in out.stdout, (cmd, out.stdout)
            assert out.stderr == "", (cmd, out.stderr)
        assert "--idempotency-key" in ctl("report", "--help").stdout
        assert "default 100" in ctl("list", "--help").stdout
        assert "1..1000" in ctl("list", "--help").stdout

        # ---- 1. unknown, repeated, missing, stray: refused naming the command --------------
        for cmd in commands:
            r = ctl(cmd, "--bogus", rc=2)
            line = one_line(r)
            assert line.startswith("whistlectl %s: unknown option '--bogus'" % cmd), line
            assert "whistlectl %s --help" % cmd in line, line
        line = one_line(ctl("show", "C00000001", "extra", rc=2))
        assert line.startswith("whistlectl show: unexpected argument 'extra'"), line
        line = one_line(ctl("checkin", "C00000001", "--dept", "cg", "--dept", "cgj", rc=2))
        assert "--dept given twice" in line and line.startswith("whistlectl checkin:"), line
        line = one_line(ctl("list", "--limit", rc=2))
        assert "--limit needs a value" in line, line
        line = one_line(ctl("ping", "nosuch", rc=2))
        assert line.startswith("whistlectl ping: unknown service 'nosuch'"), line
        line = one_line(ctl("resolve", "C00000001", "--dept", "cg", "--as", "south", rc=2))
        assert "unknown option '--dept'" in line, line  # resolve is the lead's, by --as
        line = one_line(ctl("catalog", "list", rc=2))
        assert "units, communities, grids, matters, departments, affairs, stationed or " \
            "volunteers" in line, line

        # ---- 3. bounds said before anything is sent -----------------------------------------
        line = one_line(ctl("show", "1", rc=2))
        assert "case ids look like C00000001" in line, line
        line = one_line(ctl("visit", "--grid", "g1", "--staff", "王一", "--hours", "-1", rc=2))
        assert "must be 1..1440" in line and "got -1" in line, line
        line = one_line(ctl("visit", "--grid", "g1", "--staff", "王一", "--minutes", "2000",
                            rc=2))
        assert "--minutes must be 1..1440, got 2000" in line, line
        for bad in ("0", "1001", "ten"):
            line = one_line(ctl("list", "--limit", bad, rc=2))
            assert "--limit must be 1..1000, got %s" % bad in line, line
        line = one_line(ctl("tail", "nope/", rc=2))
        assert "no such topic 'nope/'" in line and "dept/CODE/" in line, line

        # ---- 3. nothing listens / keys on: different advice -------------------------------
        line = one_line(ctl("--timeout", "500", "show", "C00000001", rc=3))
        assert "no tracking listens at" in line and "is it running?" in line, line

        # ---- catalog list -------------------------------------------------------------------
        grids = ctl("catalog", "list", "grids", c.catalog).stdout.splitlines()
        assert [l.split()[0] for l in grids] == ["g%d" % i for i in range(1, 7)], grids
        depts = json.loads(ctl("--json", "catalog", "list", "departments", c.catalog).stdout)
        assert {"cg", "cgj", "scjg"} <= {d["code"] for d in depts}, depts
        units = ctl("catalog", "list", "units", c.catalog).stdout
        assert re.search(r"^north\s+北乡\s+township$", units, re.M), units
        for kind in ("communities", "matters", "affairs"):
            assert ctl("catalog", "list", kind, c.catalog).stdout.strip(), kind
        default = os.path.join(SOURCE_DIR, "deploy", "catalog", "default.json")
        env_ctl = dict(c.ctl_env(), WHISTLE_CATALOG=default)
        out = subprocess.run([CTL, "catalog", "list", "grids"], capture_output=True, text=True,
                             env=env_ctl, timeout=30)
        assert out.returncode == 0 and len(out.stdout.splitlines()) == 384, out.stderr

        # ---- keygen makes its folder ------------------------------------------------------
        kd = os.path.join(c.tmp, "keys", "depts")
        ctl("keygen", os.path.join(kd, "cg"))
        assert os.path.isfile(os.path.join(kd, "cg.key")) and os.path.isfile(os.path.join(kd, "cg.pub"))
        assert stat.S_IMODE(os.stat(kd).st_mode) == 0o700

        # ---- with the services --------------------------------------------------------------
        c.start_all()
        bad = ctl("report", "--grid", "g999", "--matter", "m4", "--description", "x",
                  "--reporter", "r9", rc=1)
        line = one_line(bad)
        assert line.count("report.grid") == 1, line
        assert "unknown grid 'g999'" in line and "whistlectl catalog list grids" in line, line
        cid = ctl("report", "--grid", "g5", "--matter", "m4", "--description", "违章搭建",
                  "--reporter", "r9", "--idempotency-key", "hotline-7").stdout.strip()
        again = ctl("report", "--grid", "g5", "--matter", "m4", "--description", "违章搭建",
                    "--reporter", "r9", "--idempotency-key", "hotline-7").stdout.strip()
        assert again == cid + " (duplicate)", again
        line = one_line(ctl("report", "--grid", "g5", "--matter", "m4", "--description",
                            "another thing", "--reporter", "r9", "--idempotency-key",
                            "hotline-7", rc=1))
        assert "ECONFLICT" in line and "'hotline-7'" in line and cid in line, line
        line = one_line(ctl("show", "C00000404", rc=1))
        assert "C00000404" in line, line

        # tracking refuses a page over its maximum rather than cutting it silently
        req = c.pb.Request()
        req.list_cases.limit = 1001
        rep = c.call("tracking", req)
        assert rep.WhichOneof("body") == "error" and rep.error.field == "list_cases.limit", rep

        c.wait(lambda: c.get_case(cid).WhichOneof("body") == "get_case", what="dispatch")
        shown = ctl("show", cid).stdout
        first = shown.splitlines()[0]
        assert "TOUGH 攻坚哨" in first and "UNSPECIFIED" not in shown, shown
        for line in shown.splitlines():
            assert not re.search(r"\b(lead|community|grid|matter|reporter|via|at)\s*$", line), \
                "an empty field: %r\n%s" % (line, shown)
        listed = ctl("list").stdout
        assert re.search(r"^%s\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+DISPATCHED\s+TOUGH 攻坚哨" % cid,
                         listed, re.M), listed
        # a department the catalog does not have is refused by name, never assigned
        line = one_line(ctl("assign", cid, "--as", "south", "--dept", "nosuchdept", rc=1))
        assert "unknown department 'nosuchdept'" in line, line
        assert "whistlectl catalog list departments" in line, line
        assert "nosuchdept" not in ctl("show", cid).stdout
        # a refused task has no whistle: shown as nothing, never WHISTLE_UNSPECIFIED
        t = ctl("report", "--grid", "g3", "--description", "survey", "--reporter", "mz-1",
                "--affair", "zz", "--authority", "doc-7", "--issuer", "mz", "--no-wait"
                ).stdout.strip()
        c.wait(lambda: c.get_case(t).WhichOneof("body") == "get_case", what="task routed")
        shown = ctl("show", t).stdout
        assert "REFUSED" in shown and "UNSPECIFIED" not in shown, shown
        assert "UNSPECIFIED" not in ctl("list").stdout

        # an empty topic is said to be empty, and followed
        r = ctl("tail", "dept/zz/", "--idle-exit", "300")
        assert "dept/zz/ is empty so far" in r.stderr, r.stderr

        # ---- a keyed service asked without keys -------------------------------------------
        c.stop("intake")
        kd = os.path.join(c.tmp, "k")
        ctl("keygen", os.path.join(kd, "server"))
        ctl("keygen", os.path.join(kd, "operator"))
        with open(os.path.join(kd, "operator.pub")) as f:
            op = [l.split()[1] for l in f if l.startswith("public-key ")][0]
        allow = os.path.join(kd, "allow.txt")
        with open(allow, "w") as f:
            f.write("%s operator operator\n" % op)
        c.extra["intake"] = ["--keys", os.path.join(kd, "server.key"), "--allow", allow]
        c.start("intake")
        pre = ["--key", os.path.join(kd, "operator.key"), "--server-key",
               os.path.join(kd, "server.pub")]
        c.wait(lambda: subprocess.run([CTL] + pre + ["ping", "intake"], capture_output=True,
                                      env=c.ctl_env(), timeout=30).returncode == 0,
               what="keyed intake up")
        line = one_line(ctl("--timeout", "1000", "ping", "intake", rc=3))
        assert "has keys on" in line and "--key" in line and "is it running" not in line, line
        ctl("keygen", os.path.join(kd, "stranger"))
        line = one_line(ctl("--timeout", "1000", "--key", os.path.join(kd, "stranger.key"),
                            "--server-key", os.path.join(kd, "server.pub"), "ping", "intake",
                            rc=3))
        assert "refused our key" in line and "allowlist" in line, line
        line = one_line(ctl("--timeout", "1000", "--key", os.path.join(kd, "operator.key"),
                            "--server-key", os.path.join(kd, "server.pub"), "ping", "routing",
                            rc=3))
        # a keys-off service closes at once; whether its greeting was read first is a race
        assert "keys off" in line and "leave out --key" in line, line

        # ---- up.sh --help prints only its help and runs nothing ---------------------------
        up = os.path.join(SOURCE_DIR, "deploy", "local", "up.sh")
        out = subprocess.run(["bash", up, "--help"], capture_output=True, text=True, timeout=30,
                             env=dict(os.environ, WHISTLE_HOME=os.path.join(c.tmp, "up")))
        assert out.returncode == 0 and out.stdout.startswith("Usage: deploy/local/up.sh"), out
        assert "set -e" not in out.stdout and out.stderr == "", out
        assert not os.path.exists(os.path.join(c.tmp, "up")), "up.sh --help made its data folder"
        out = subprocess.run(["bash", up, "--bogus"], capture_output=True, text=True, timeout=30)
        assert out.returncode == 2 and "up.sh --help" in out.stderr, out

        print("first hour: help per command, strict flags, refusals to act on, people's output")
        print("1 passed, 0 failed")
    except BaseException:
        c.fail()
        raise
    c.close()


if __name__ == "__main__":
    main()
