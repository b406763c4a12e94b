"""GET /metrics on whistle-gateway, end to end: the four services and the gateway as five
processes, the gateway with bearer API keys (docs/metrics.md, "The gateway").

- who may read: no key 401, a department's key 403, an operator's or a service's key 200;
  with --metrics-open, anyone;
- the answer is the Prometheus text format 0.0.4 (its content type), holds every service's
  series and the gateway's own, and `promtool check metrics` (Debian's prometheus) passes on it;
- a request to a route moves its counter (route pattern, method, status) and its duration
  histogram by exactly one, a refused one its status; the scrape before is counted once; the
  backend calls by service and outcome move as the requests made them; an open event stream
  and its connection show in the gauges;
- a stopped service: /metrics still answers 200, whistle_gateway_backend_up{backend=...} 0
  for it and 1 for the others, none of its series, promtool still passes; back up once it is
  started again."""
import http.client
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from whistle_e2e import SERVICES, Cluster  # noqa: E402

KEYS = {
    "ops": ("op-key-0123456789abcdef", "operator", "ops"),
    "prom": ("prom-key-0123456789abcdef", "service", "prometheus"),
    "cg": ("cg-key-0123456789abcdef", "department", "cg"),
}
CTYPE = "text/plain; version=0.0.4; charset=utf-8"
LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def bearer(who):
    return {"Authorization": "Bearer " + KEYS[who][0]}


def parse(text):
    """{(name, frozenset of (label, value))): value} of an exposition; asserts every line is
    a comment or a sample."""
    out = {}
    for ln in text.splitlines():
        if not ln or ln.startswith("#"):
            continue
        m = LINE.match(ln)
        assert m, "not a sample line: %r" % ln
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        key = (m.group(1), labels)
        assert key not in out, "series twice: %r" % ln
        out[key] = float(m.group(3))
    return out


def get(series, name, **labels):
    return series.get((name, frozenset(labels.items())), 0.0)


def scrape(c, who="ops"):
    st, h, body = c.http("GET", "/metrics", headers=bearer(who) if who else {})
    assert st == 200, (st, body)
    assert h.get("content-type") == CTYPE, h
    text = body.decode("utf-8")
    return text, parse(text)


def promtool_check(text):
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0 and not (p.stdout + p.stderr).strip(), \
        "promtool check metrics: exit %d\n%s\n----\n%s" % (p.returncode, p.stdout + p.stderr,
                                                           text)


def test_access(c):
    st, h, body = c.http("GET", "/metrics")
    assert st == 401 and h.get("www-authenticate", "").startswith("Bearer"), (st, body)
    st, _, body = c.http("GET", "/metrics", headers=bearer("cg"))
    assert st == 403 and body["error"]["field"] == "authorization", (st, body)
    for who in ("ops", "prom"):
        scrape(c, who)
    st, _, body = c.http("GET", "/metrics?x=1", headers=bearer("ops"))
    assert st == 400 and body["error"]["field"] == "query.x", (st, body)
    print("metrics: no key 401, a department 403, operator and service keys 200")


def test_promtool(c):
    text, s = scrape(c)
    for svc in SERVICES + ["gateway"]:
        assert get(s, "whistle_uptime_seconds", service=svc) > 0, (svc, text)
    for svc in SERVICES:
        assert get(s, "whistle_gateway_backend_up", service="gateway", backend=svc) == 1, text
    assert get(s, "whistle_requests_total", service="intake", type="submit_report",
               outcome="ok") >= 1, text
    assert text.count("# TYPE whistle_uptime_seconds gauge\n") == 1, text
    assert "# TYPE whistle_gateway_http_request_duration_seconds histogram\n" in text, text
    promtool_check(text)
    print("metrics: promtool check metrics passes on the five processes (%d lines)" %
          text.count("\n"))


def test_counters_move(c, cid):
    def req_total(s, route, method, status):
        return get(s, "whistle_gateway_http_requests_total", service="gateway", route=route,
                   method=method, status=str(status))

    def took(s, route, method):
        return get(s, "whistle_gateway_http_request_duration_seconds_count", service="gateway",
                   route=route, method=method)

    def backend(s, svc, outcome):
        return get(s, "whistle_gateway_backend_requests_total", service="gateway", backend=svc,
                   outcome=outcome)

    _, a = scrape(c)
    st, _, _ = c.http("GET", "/v1/cases/" + cid, headers=bearer("ops"))
    assert st == 200, st
    _, b = scrape(c)
    assert req_total(b, "/v1/cases/{}", "GET", 200) - req_total(a, "/v1/cases/{}", "GET", 200) \
        == 1, (a, b)
    assert took(b, "/v1/cases/{}", "GET") - took(a, "/v1/cases/{}", "GET") == 1
    # the scrape before this one is counted once, after its answer
    assert req_total(b, "/metrics", "GET", 200) - req_total(a, "/metrics", "GET", 200) == 1
    # tracking: the GetCase and the second scrape's Stats
    assert backend(b, "tracking", "ok") - backend(a, "tracking", "ok") == 2, (a, b)
    assert backend(b, "intake", "ok") - backend(a, "intake", "ok") == 1, (a, b)

    # refused ones: by their status, and by the service's error code
    st, _, _ = c.http("GET", "/v1/cases/C99999999", headers=bearer("ops"))
    assert st == 404, st
    st, _, _ = c.http("GET", "/v1/cases")
    assert st == 401, st
    st, _, _ = c.http("GET", "/no/such/route")
    assert st == 404, st
    _, d = scrape(c)
    assert req_total(d, "/v1/cases/{}", "GET", 404) - req_total(b, "/v1/cases/{}", "GET", 404) \
        == 1
    assert req_total(d, "/v1/cases/{}", "GET", 200) == req_total(b, "/v1/cases/{}", "GET", 200)
    assert req_total(d, "/v1/cases", "GET", 401) - req_total(b, "/v1/cases", "GET", 401) == 1
    assert req_total(d, "none", "any", 404) - req_total(b, "none", "any", 404) == 1
    assert backend(d, "tracking", "ENOTFOUND") - backend(b, "tracking", "ENOTFOUND") == 1, d

    # an event stream open: the stream and its connection in the gauges
    conn = http.client.HTTPConnection("127.0.0.1", c.gw_port, timeout=10)
    try:
        conn.request("GET", "/v1/topics/all/events", headers=bearer("ops"))
        resp = conn.getresponse()
        assert resp.status == 200, resp.status
        assert resp.readline().startswith(b": whistle"), "no stream opening comment"
        _, e = scrape(c)
        assert get(e, "whistle_gateway_sse_streams", service="gateway") == 1, e
        assert get(e, "whistle_gateway_http_connections", service="gateway") >= 2, e
    finally:
        conn.close()
    c.wait(lambda: get(scrape(c)[1], "whistle_gateway_sse_streams", service="gateway") == 0,
           timeout=30, what="the event stream closed in whistle_gateway_sse_streams")
    print("metrics: one request moves its route's counter and histogram by one")


def test_service_down(c):
    c.stop("routing")
    text, s = scrape(c)
    assert get(s, "whistle_gateway_backend_up", service="gateway", backend="routing") == 0, text
    for svc in ("intake", "tracking", "notification"):
        assert get(s, "whistle_gateway_backend_up", service="gateway", backend=svc) == 1, text
    assert 'service="routing"' not in text, text
    assert get(s, "whistle_uptime_seconds", service="intake") > 0
    promtool_check(text)
    c.start("routing")
    c.wait_ping("routing")
    c.wait(lambda: get(scrape(c)[1], "whistle_gateway_backend_up", service="gateway",
                       backend="routing") == 1, timeout=30, what="routing up again in /metrics")
    print("metrics: routing stopped: up 0, left out, /metrics answers and passes promtool")


def test_metrics_open(c, keys):
    c.stop("gateway")
    c.start_gateway("--api-keys", keys, "--metrics-open", open_=False)
    # a gateway just started may scrape before its DEALER to intake has connected (a slow,
    # sanitized run): without a key, /metrics answers, and intake shows up once connected
    c.wait(lambda: get(scrape(c, who=None)[1], "whistle_gateway_backend_up", service="gateway",
                       backend="intake") == 1, timeout=30, what="/metrics without a key")
    st, _, _ = c.http("GET", "/v1/cases")
    assert st == 401, st  # only /metrics is opened
    print("metrics: --metrics-open: /metrics without a key, the API still needs one")


def main():
    c = Cluster()
    ok = False
    try:
        c.start_all()
        keys = os.path.join(c.tmp, "api-keys.txt")
        with open(keys, "w") as f:
            for k, kind, code in KEYS.values():
                f.write("%s %s %s\n" % (k, kind, code))
        c.start_gateway("--api-keys", keys, "--backend-timeout-ms", "2000",
                        "--sse-heartbeat-ms", "500", open_=False)
        rep = c.call("intake", c.submit_req("metrics-1"))
        assert rep.WhichOneof("body") == "submit_report", rep
        cid = rep.submit_report.case_id
        c.wait(lambda: c.http("GET", "/v1/cases/" + cid, headers=bearer("ops"))[0] == 200,
               timeout=30, what="%s in tracking" % cid)
        test_access(c)
        test_promtool(c)
        test_counters_move(c, cid)
        test_service_down(c)
        test_metrics_open(c, keys)
        ok = True
        print("gateway_metrics: PASS")
    finally:
        c.close(keep=not ok)
        if not ok:
            print("kept", c.tmp)


if __name__ == "__main__":
    main()
