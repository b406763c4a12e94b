"""Seen, not guessed (issue 11, point 9), with the real whistlectl:

- `show` names the department an action concerns when another actor took it (the lead
  assigning a department), the report's channel and place, a return's reason, how a case was
  verified;
- `tail` says who acted, on which department, and for a dispatch where it went, from which
  channel and place;
- `tail` into a pipe writes each line as it comes (a department's script reads it live);
- `report` waits for routing's decision: a refusal is said with its reason, exit 1;
  `--no-wait` prints the id at once."""
import os
import select
import subprocess
import time

from whistle_e2e import BINARY_DIR, Cluster

CTL = os.path.join(BINARY_DIR, "tools", "whistlectl", "whistlectl")


def main():
    c = Cluster()
    ctl = c.ctl
    try:
        c.start_all()
        # a department's script reading tail through a pipe, started before anything happens
        live = subprocess.Popen([CTL, "tail", "dept/cg/"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, env=c.ctl_env())
        cid = ctl("report", "--grid", "g5", "--matter", "m4", "--description", "违章搭建",
                  "--reporter", "r9", "--location", "人民路 12 号", "--source", "hotline"
                  ).stdout.strip()
        # the first line arrives while tail still runs: line by line, not at exit
        deadline = time.monotonic() + 20
        fd, raw = live.stdout.fileno(), b""
        while b"\n" not in raw and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.2)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                raw += chunk
        got = raw.decode("utf-8", "replace")
        assert live.poll() is None, "tail exited"
        line = got.splitlines()[0] if "\n" in got else got
        assert line.startswith("dept/cg/ 1 %s DISPATCH DISPATCHED" % cid), repr(got)
        assert " to cg,cgj,scjg" in line and " via hotline" in line and " at 人民路 12 号" in line, line
        live.terminate()
        live.wait(timeout=10)

        ctl("checkin", cid, "--dept", "cg")
        ctl("return", cid, "--dept", "cgj", "--reason", "不属本部门")
        ctl("assign", cid, "--as", "south", "--dept", "yjgl", "--from", "cgj")
        shown = ctl("show", cid).stdout
        assert "via hotline" in shown and "at 人民路 12 号" in shown, shown
        assert "returned: 不属本部门" in shown, shown
        assign = [l for l in shown.splitlines() if " ASSIGN " in l]
        assert assign and "south" in assign[0] and "dept yjgl" in assign[0], shown
        checkin = [l for l in shown.splitlines() if " CHECKIN " in l]
        assert checkin and "dept" not in checkin[0].split("->")[1], checkin  # actor is the dept

        lines = ctl("tail", "case/%s/" % cid, "--idle-exit", "500").stdout.splitlines()
        acts = {l.split()[3]: l for l in lines}
        assert " by cg" in acts["CHECKIN"], lines
        assert " by cgj" in acts["RETURN"], lines
        assert " by south dept yjgl" in acts["ASSIGN"], lines

        # report waits for routing: a refused task says why and exits 1
        r = ctl("report", "--grid", "g3", "--description", "survey", "--reporter", "mz-1",
                "--affair", "zz", "--authority", "doc-7", "--issuer", "mz", rc=1)
        t = r.stdout.strip()
        assert t.startswith("C") and "refused by routing" in r.stderr, (r.stdout, r.stderr)
        assert "funding_ref" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        # --no-wait: the id as soon as intake has it, even with routing stopped
        c.stop("routing")
        t0 = time.monotonic()
        n = ctl("--timeout", "3000", "report", "--grid", "g1", "--matter", "m1",
                "--description", "x", "--reporter", "r1", "--no-wait")
        assert n.stdout.strip().startswith("C") and n.stderr == "", n
        assert time.monotonic() - t0 < 2.5, "--no-wait waited"
        # without it, an accepted report that routing does not decide is said, exit 0
        w = ctl("--timeout", "1000", "report", "--grid", "g1", "--matter", "m1",
                "--description", "y", "--reporter", "r1")
        assert "accepted, but not dispatched within 1000 ms" in w.stderr, w.stderr
        print("seen: show and tail name departments, channels and places; tail into a pipe "
              "line by line; report says a refusal")
        print("1 passed, 0 failed")
    except BaseException:
        c.fail()
        raise
    c.close()


if __name__ == "__main__":
    main()
