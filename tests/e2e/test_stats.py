"""Stats on every service (docs/metrics.md), end to end:
- counters move: N reports answered ok grow intake's whistle_requests_total{type="submit_report",
  outcome="ok"} by exactly N, a refused one its outcome="EFIELD", and every answer is counted,
  Stats and Ping included; tracking's whistle_cases and the followers' cursors follow;
- tools/metrics-dump renders the four services' Stats together and `promtool check metrics`
  (Debian's prometheus) accepts it: valid text format 0.0.4 and no lint problem;
- with keys on, a department may not ask (EFORBIDDEN, request.stats), an operator may, and
  metrics-dump --key/--server-key works."""
import os
import shutil
import subprocess

from whistle_e2e import BINARY_DIR, SERVICES, Cluster

DUMP = os.path.join(BINARY_DIR, "tools", "metrics-dump", "metrics-dump")


def stats(c, name, sock=None):
    """{(family, ((label, value), ...)): value} of a service's StatsReply (histograms: count)."""
    req = c.pb.Request()
    req.stats.SetInParent()
    rep = c.call(name, req, sock=sock)
    assert rep is not None, "no Stats reply from " + name
    assert rep.WhichOneof("body") == "stats", rep
    assert rep.stats.service == name, rep.stats.service
    out = {}
    for m in rep.stats.metrics:
        key = (m.name, tuple(sorted((lb.name, lb.value) for lb in m.labels)))
        assert key not in out, "series %s twice" % (key,)
        out[key] = m.count if m.type == c.pb.METRIC_TYPE_HISTOGRAM else m.value
    return out


def requests(st, type_, outcome):
    return st.get(("whistle_requests_total", (("outcome", outcome), ("type", type_))), 0)


def promtool_check(text):
    """`promtool check metrics` on `text`: (exit status, what it said)."""
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def dump(c, *args):
    return subprocess.run([DUMP] + list(args), capture_output=True, text=True,
                          env=c.ctl_env(), timeout=60)


def counters_move(c):
    pb = c.pb
    n = 25
    before = stats(c, "intake")
    replies = c.call_many("intake", [c.submit_req("stats-%d" % i) for i in range(n)])
    assert all(r.WhichOneof("body") == "submit_report" for r in replies), replies
    bad = c.call("intake", c.submit_req("stats-bad", grid="g999"))
    assert bad.WhichOneof("body") == "error" and bad.error.code == -1001, bad
    after = stats(c, "intake")
    got = requests(after, "submit_report", "ok") - requests(before, "submit_report", "ok")
    assert got == n, "submit_report ok grew by %d, want %d" % (got, n)
    assert requests(after, "submit_report", "EFIELD") - requests(before, "submit_report",
                                                                "EFIELD") == 1
    # the first Stats was answered, and counted, before the second was built
    assert requests(after, "stats", "ok") == requests(before, "stats", "ok") + 1
    assert requests(after, "ping", "ok") >= 1  # start_all's wait_ping
    assert after[("whistle_log_head", (("stream", "intake/"),))] >= n
    assert after[("whistle_commit_duration_seconds", ())] > \
        before[("whistle_commit_duration_seconds", ())]
    # downstream: every case reaches tracking; the followers' cursors and lag say so
    c.wait(lambda: stats(c, "tracking").get(("whistle_cases", (("state", "DISPATCHED"),)), 0)
           == n, timeout=60, what="%d cases DISPATCHED in tracking's whistle_cases" % n)
    c.wait(lambda: stats(c, "notification").get(
        ("whistle_follower_lag", (("upstream", "tracking"),))) == 0, timeout=60,
        what="notification's follower lag 0")
    rt = stats(c, "routing")
    assert rt[("whistle_follower_cursor", (("upstream", "intake"),))] == n, rt
    assert rt[("whistle_deadlines_pending", ())] == n, rt
    # an escalation by hand, counted by step once it is committed
    case_id = replies[0].submit_report.case_id
    lead = c.get_case(case_id).get_case.case.lead_unit
    req = pb.Request()
    req.escalate.case_id = case_id
    req.escalate.actor = lead
    req.escalate.to_whistle = pb.TOUGH
    rep = c.call("routing", req)
    assert rep.WhichOneof("body") == "escalate", rep
    assert stats(c, "routing")[("whistle_escalations_total", (("step", "manual"),))] == 1
    c.wait(lambda: stats(c, "tracking").get(("whistle_cases", (("state", "DISPATCHED"),)), 0)
           == n and stats(c, "notification").get(
               ("whistle_follower_lag", (("upstream", "tracking"),))) == 0,
           timeout=60, what="the escalation through to notification")
    # a webhook, for its gauges
    req = pb.Request()
    req.webhook_add.topic = "district/"
    req.webhook_add.url = "http://127.0.0.1:9/hook"
    assert c.call("notification", req).WhichOneof("body") == "webhooks"
    nt = stats(c, "notification")
    assert nt[("whistle_webhooks", ())] == 1, nt
    assert nt[("whistle_log_streams", ())] > 1, nt  # all/ and the topics
    print("stats: counters move: %d reports, 1 refusal, cases, cursors, escalation" % n)


def promtool(c):
    out = dump(c)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for s in SERVICES:
        assert 'whistle_uptime_seconds{service="%s"}' % s in text, text
    assert 'whistle_requests_total{service="intake",type="submit_report",outcome="ok"} 25' \
        in text, text
    assert 'whistle_escalations_total{service="routing",step="manual"} 1' in text
    assert text.count("# TYPE whistle_requests_total counter\n") == 1, text
    assert text.count("# TYPE whistle_deadlines_pending gauge\n") == 1, text
    rc, said = promtool_check(text)
    assert rc == 0 and not said.strip(), "promtool check metrics: exit %d\n%s\n----\n%s" % (
        rc, said, text)
    # and promtool does catch what it must: the same text with a family split in two
    bad = text + "# TYPE whistle_requests_total counter\n"
    assert promtool_check(bad)[0] != 0, "promtool accepted a second TYPE line"
    # a service that does not answer is named, the others still printed, exit 1
    env_c = c.ctl_env()
    env_c["WHISTLE_ROUTING_API"] = "ipc://%s/nobody.api" % c.tmp
    out = subprocess.run([DUMP, "--timeout-ms", "300"], capture_output=True, text=True,
                         env=env_c, timeout=60)
    assert out.returncode == 1 and "routing" in out.stderr, out
    assert 'service="intake"' in out.stdout and 'service="routing"' not in out.stdout
    print("stats: promtool check metrics passes on four services (%d lines)" %
          text.count("\n"))


def keyed():
    c = Cluster()
    try:
        kd = os.path.join(c.tmp, "keys")
        os.makedirs(kd)
        names = ["server", "operator", "cg"] + SERVICES
        for n in names:
            c.ctl("keygen", os.path.join(kd, n))
        pub = {}
        for n in names:
            with open(os.path.join(kd, n + ".pub")) as f:
                pub[n] = [ln.split()[1] for ln in f if ln.startswith("public-key ")][0]
        allow = os.path.join(kd, "allow.txt")
        with open(allow, "w") as f:
            f.write("%s operator operator\n%s department cg\n" % (pub["operator"], pub["cg"]))
            for s in SERVICES:
                f.write("%s service %s\n" % (pub[s], s))
        for s in SERVICES:
            c.extra[s] = ["--keys", os.path.join(kd, "server.key"), "--allow", allow]
            if s != "intake":
                c.extra[s] += ["--service-key", os.path.join(kd, s + ".key")]
        keyargs = ["--key", os.path.join(kd, "operator.key"),
                   "--server-key", os.path.join(kd, "server.pub")]
        for s in SERVICES:
            c.start(s)
        c.wait(lambda: dump(c, "--timeout-ms", "500", *keyargs).returncode == 0, timeout=30,
               what="metrics-dump with the operator's key")
        out = dump(c, *keyargs)
        assert out.returncode == 0 and 'service="notification"' in out.stdout, out
        # a department's key: refused, naming the request
        cg = ["--key", os.path.join(kd, "cg.key"), "--server-key", os.path.join(kd, "server.pub")]
        out = dump(c, "intake", *cg)
        assert out.returncode == 1 and "refused" in out.stderr, out
        assert "stats are for services and operators" in out.stderr, out.stderr
        print("stats: keys on: an operator reads them, a department is refused")
    except BaseException:
        c.fail()
        raise
    c.close()


def main():
    assert shutil.which("promtool"), "promtool missing: run deploy/install-deps.sh (prometheus)"
    c = Cluster()
    try:
        c.start_all()
        counters_move(c)
        promtool(c)
    except BaseException:
        c.fail()
        raise
    c.close()
    keyed()
    print("3 passed, 0 failed")


if __name__ == "__main__":
    main()
