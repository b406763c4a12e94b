"""The gateway's Open311 GeoReport v2 routes end to end, with Python's http.client and
xml.etree.ElementTree against a real stack:

- every endpoint in XML parses and uses the spec's element names (discovery, services, a
  service definition, POST requests, GET requests, requests/{id}, tokens/{id}, errors), and
  the JSON twins answer the same ids;
- a POST retried with the same Idempotency-Key answers the same service_request_id and makes
  ONE case (intake's head moves by one); the same key with another description -> 409;
- api_key missing, unknown, or not an integrator's -> 403; an unknown service_code -> 404
  naming it; a malformed form body (a bad %-escape, invalid UTF-8) -> 400 naming the field;
  start_date/end_date over 90 days apart -> 400; a description over 4000 characters -> 400;
- tracking SIGSTOPped: a read answers 503 in Open311's format, never hangs;
- nothing of it reaches the gateway's log at warn or error.
"""
import datetime
import json
import os
import re
import signal
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(__file__))
from whistle_e2e import Cluster  # noqa: E402

APP_KEY = "open311-app-key-0123456789"
DEPT_KEY = "open311-cg-key-0123456789"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def form(**fields):
    return urllib.parse.urlencode(fields).encode()


def xml(body):
    assert isinstance(body, bytes), body
    return ET.fromstring(body)


def names(elem):
    return [child.tag for child in elem]


def error_of(st, hdrs, body, fmt="json"):
    """The one error of an Open311 error document: (code, description)."""
    if fmt == "xml":
        assert hdrs["content-type"].startswith("text/xml"), hdrs
        root = xml(body)
        assert root.tag == "errors" and names(root) == ["error"], body
        err = root.find("error")
        assert names(err) == ["code", "description"], body
        return int(err.findtext("code")), err.findtext("description")
    assert isinstance(body, list) and len(body) == 1, (st, body)
    assert set(body[0]) == {"code", "description"}, body
    return body[0]["code"], body[0]["description"]


def main():
    c = Cluster()
    try:
        keys = os.path.join(c.tmp, "api-keys")
        with open(keys, "w") as f:
            f.write("%s integrator app\n%s department cg\n" % (APP_KEY, DEPT_KEY))
        c.start_all()
        c.start_gateway("--api-keys", keys, "--backend-timeout-ms", "1500", open_=False)

        def post(fields, fmt="json", headers=None, query=""):
            h = dict(FORM)
            h.update(headers or {})
            body = fields if isinstance(fields, bytes) else form(**fields)
            return c.http("POST", "/requests.%s%s" % (fmt, query), body, h)

        report = {"api_key": APP_KEY, "service_code": "m2", "attribute[grid]": "g1",
                  "description": "占道经营 at the east gate", "lat": "30.5", "long": "117.25",
                  "address_string": "东门 1 号", "email": "resident@example.org",
                  "first_name": "Li", "last_name": "Si"}

        # ---- discovery, services, a service definition: XML with the spec's names --------
        st, hdrs, body = c.http("GET", "/discovery.xml")
        assert st == 200 and hdrs["content-type"].startswith("text/xml"), (st, hdrs, body)
        d = xml(body)
        assert d.tag == "discovery", body
        for tag in ("changeset", "contact", "endpoints"):
            assert d.find(tag) is not None, (tag, body)
        ep = d.find("endpoints/endpoint")
        for tag in ("specification", "url", "changeset", "type", "formats"):
            assert ep.find(tag) is not None, (tag, body)
        assert ep.findtext("specification") == "http://wiki.open311.org/GeoReport_v2", body
        assert ep.findtext("url") == "http://127.0.0.1:%d/" % c.gw_port, body
        assert {f.text for f in ep.findall("formats/format")} == {"application/json",
                                                                   "text/xml"}, body
        st, _, dj = c.http("GET", "/discovery.json")
        assert st == 200 and dj["endpoints"][0]["url"] == ep.findtext("url"), dj

        st, _, body = c.http("GET", "/services.xml")
        s = xml(body)
        assert st == 200 and s.tag == "services" and set(names(s)) == {"service"}, body
        for svc in s.findall("service"):
            for tag in ("service_code", "service_name", "description", "metadata", "type",
                        "keywords", "group"):
                assert svc.find(tag) is not None, (tag, body)
            assert svc.findtext("metadata") == "true" and svc.findtext("type") == "realtime"
        codes = [svc.findtext("service_code") for svc in s.findall("service")]
        assert "m2" in codes, codes
        st, _, sj = c.http("GET", "/services.json")
        assert st == 200 and [x["service_code"] for x in sj] == codes, sj

        st, _, body = c.http("GET", "/services/m2.xml")
        sd = xml(body)
        assert st == 200 and sd.tag == "service_definition", body
        assert sd.findtext("service_code") == "m2", body
        grid = [a for a in sd.findall("attributes/attribute") if a.findtext("code") == "grid"]
        assert len(grid) == 1, body
        for tag in ("variable", "code", "datatype", "required", "datatype_description",
                    "order", "description", "values"):
            assert grid[0].find(tag) is not None, (tag, body)
        assert grid[0].findtext("datatype") == "singlevaluelist", body
        assert grid[0].findtext("required") == "true", body
        keys_listed = [v.findtext("key") for v in grid[0].findall("values/value")]
        assert "g1" in keys_listed and all(v.findtext("name")
                                           for v in grid[0].findall("values/value")), body

        # ---- unknown service_code: 404 naming it, in both formats ----------------------
        st, hdrs, body = c.http("GET", "/services/nope.xml")
        code, desc = error_of(st, hdrs, body, "xml")
        assert st == 404 and code == 404 and "service_code" in desc and "nope" in desc, body
        st, hdrs, body = c.http("GET", "/services/nope.json")
        code, desc = error_of(st, hdrs, body)
        assert st == 404 and code == 404 and "service_code" in desc, body
        st, hdrs, body = post(dict(report, service_code="nope"))
        code, desc = error_of(st, hdrs, body)
        assert st == 404 and "service_code" in desc and "nope" in desc, (st, body)
        st, hdrs, body = c.http("GET", "/services/m2.csv")
        assert st == 404, (st, body)

        # ---- POST: the same Idempotency-Key twice -> one case ---------------------------
        head0 = c.ping("intake").head
        idem = {"Idempotency-Key": "open311-e2e-0001"}
        st, hdrs, body = post(report, "xml", idem)
        assert st == 200 and hdrs["content-type"].startswith("text/xml"), (st, body)
        sr = xml(body)
        assert sr.tag == "service_requests" and names(sr) == ["request"], body
        req = sr.find("request")
        assert set(names(req)) >= {"service_request_id", "service_notice"}, body
        cid = req.findtext("service_request_id")
        assert re.fullmatch(r"C\d+", cid or ""), body
        st, _, again = post(report, "json", idem)
        assert st == 200 and again[0]["service_request_id"] == cid, (st, again)
        assert c.ping("intake").head == head0 + 1, (head0, c.ping("intake").head)
        # the same key, another report: 409 in Open311's error format
        st, hdrs, body = post(dict(report, description="something else"), "xml", idem)
        code, desc = error_of(st, hdrs, body, "xml")
        assert st == 409 and code == 409 and "Idempotency-Key" in desc, (st, body)
        assert c.ping("intake").head == head0 + 1
        # without the header: a fresh key each time, so two cases
        st, _, b1 = post(dict(report, description="no header, first"))
        st2, _, b2 = post(dict(report, description="no header, first"))
        assert st == st2 == 200, (b1, b2)
        assert b1[0]["service_request_id"] != b2[0]["service_request_id"], (b1, b2)
        assert c.ping("intake").head == head0 + 3
        # jurisdiction_id from the query string is accepted, another one is not served
        st, _, b3 = post(dict(report, description="with jurisdiction"),
                         query="?jurisdiction_id=testdistrict")
        assert st == 200, b3
        st, hdrs, body = post(dict(report, jurisdiction_id="elsewhere"))
        code, desc = error_of(st, hdrs, body)
        assert st == 404 and "jurisdiction_id" in desc, body
        # the case is whistle's: intake gave it the integrator as its source
        rep = c.get_case(cid)
        assert rep.get_case.case.report.source == "app", rep

        # ---- reads: requests/{id}, tokens/{id}, requests with filters ------------------
        st, _, body = c.http("GET", "/requests/%s.xml" % cid)
        rq = xml(body)
        assert st == 200 and rq.tag == "service_requests" and names(rq) == ["request"], body
        one = rq.find("request")
        for tag in ("service_request_id", "status", "status_notes", "service_name",
                    "service_code", "description", "agency_responsible", "service_notice",
                    "requested_datetime", "updated_datetime", "expected_datetime", "address",
                    "lat", "long", "media_url"):
            assert one.find(tag) is not None, (tag, body)
        assert one.findtext("service_request_id") == cid and one.findtext("status") == "open"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d",
                            one.findtext("requested_datetime")), body
        assert b"resident@example.org" not in body, "contact details are not published"
        st, _, body = c.http("GET", "/tokens/%s.xml" % cid)
        tk = xml(body)
        assert st == 200 and tk.tag == "service_requests", body
        assert tk.findtext("request/service_request_id") == cid and tk.findtext("request/token")
        st, hdrs, body = c.http("GET", "/requests/C99999999.json")
        code, desc = error_of(st, hdrs, body)
        assert st == 404 and "service_request_id" in desc, body
        st, hdrs, body = c.http("GET", "/tokens/C99999999.xml")
        code, desc = error_of(st, hdrs, body, "xml")
        assert st == 404 and "token" in desc, body

        ids = "%s,%s,C99999999" % (cid, b1[0]["service_request_id"])
        st, _, body = c.http("GET", "/requests.xml?service_request_id=" + urllib.parse.quote(ids))
        rs = xml(body)
        assert st == 200 and rs.tag == "service_requests", body
        assert [r.findtext("service_request_id") for r in rs.findall("request")] == \
            [cid, b1[0]["service_request_id"]], body
        st, _, lst = c.http("GET", "/requests.json?status=open&service_code=m2")
        assert st == 200 and cid in [r["service_request_id"] for r in lst], lst
        assert all(r["status"] == "open" and r["service_code"] == "m2" for r in lst), lst
        st, _, lst = c.http("GET", "/requests.json?status=closed")
        assert st == 200 and lst == [], lst
        st, _, lst = c.http("GET", "/requests.json?service_code=m1")
        assert st == 200 and cid not in [r["service_request_id"] for r in lst], lst
        today = datetime.date.today()
        st, hdrs, body = c.http("GET", "/requests.xml?start_date=%s&end_date=%s" % (
            today - datetime.timedelta(days=100), today))
        code, desc = error_of(st, hdrs, body, "xml")
        assert st == 400 and ("start_date" in desc or "end_date" in desc), body
        # an integrator's key reads what it submitted; an unknown key is refused
        st, _, lst = c.http("GET", "/requests.json?api_key=" + APP_KEY)
        assert st == 200 and cid in [r["service_request_id"] for r in lst], lst
        st, hdrs, body = c.http("GET", "/requests.json?api_key=not-a-key-0123456789")
        code, desc = error_of(st, hdrs, body)
        assert st == 403 and "api_key" in desc, body

        # ---- refusals of a POST ---------------------------------------------------------
        no_key = dict(report)
        del no_key["api_key"]
        st, hdrs, body = post(no_key, "xml")
        code, desc = error_of(st, hdrs, body, "xml")
        assert st == 403 and code == 403 and "api_key" in desc, body
        st, hdrs, body = post(dict(report, api_key="not-a-key-0123456789"))
        code, desc = error_of(st, hdrs, body)
        assert st == 403 and "api_key" in desc, body
        st, hdrs, body = post(dict(report, api_key=DEPT_KEY))
        code, desc = error_of(st, hdrs, body)
        assert st == 403 and "api_key" in desc and "integrator" in desc, body
        base = form(**{k: v for k, v in report.items() if k != "description"})
        st, hdrs, body = post(base + b"&description=bad%zzescape")
        code, desc = error_of(st, hdrs, body)
        assert st == 400 and "description" in desc, body
        st, hdrs, body = post(base + b"&description=%ff%fe%fd", "xml")
        code, desc = error_of(st, hdrs, body, "xml")
        assert st == 400 and "description" in desc, body
        st, hdrs, body = post(dict(report, description="长" * 4001))
        code, desc = error_of(st, hdrs, body)
        assert st == 400 and "description" in desc and "4000" in desc, body
        st, _, body = post(dict(report, description="长" * 4000))
        assert st == 200, body
        st, hdrs, body = c.http("POST", "/requests.json", json.dumps(report).encode(),
                                {"Content-Type": "application/json"})
        code, desc = error_of(st, hdrs, body)
        assert st == 400 and "Content-Type" in desc, body
        st, hdrs, body = post(dict(report, colour="red"))
        code, desc = error_of(st, hdrs, body)
        assert st == 400 and "colour" in desc, body
        heads = c.ping("intake").head
        assert heads == head0 + 5, (head0, heads)

        # ---- a read right after a POST finds the case (read your writes) -----------------
        for i in range(20):
            st, _, b = post(dict(report, description="read right after %d" % i))
            assert st == 200, b
            rid = b[0]["service_request_id"]
            st, _, tok = c.http("GET", "/tokens/%s.json" % rid)
            assert st == 200 and tok[0]["service_request_id"] == rid, (i, st, tok)

        # ---- a POST whose case reaches tracking late waits for it, without asking tracking
        # over and over (it was a GetCase every 20 ms: under load, several per report) -----
        def get_cases():
            req = c.pb.Request()
            req.stats.SetInParent()
            rep = c.call("tracking", req)
            assert rep is not None and rep.WhichOneof("body") == "stats", rep
            return sum(m.value for m in rep.stats.metrics if m.name == "whistle_requests_total"
                       and ("type", "get_case") in [(lb.name, lb.value) for lb in m.labels])

        import threading
        got = {}
        before = get_cases()
        h = c.ping("intake").head
        os.kill(c.procs["routing"].pid, signal.SIGSTOP)
        try:
            t = threading.Thread(target=lambda: got.update(
                r=post(dict(report, description="routed late"), headers={"Idempotency-Key": "late-1"})))
            t.start()
            # intake has it (its head moves); tracking cannot until routing runs again
            c.wait(lambda: c.ping("intake").head >= h + 1, what="intake to take the POST")
            # tracking held back this long (the POST waits up to --backend-timeout-ms, 1.5 s):
            # a poll every 20 ms asked tracking ~40 times meanwhile
            time.sleep(0.8)
        finally:
            os.kill(c.procs["routing"].pid, signal.SIGCONT)
        t.join(20)
        st, _, b = got["r"]
        assert st == 200, b
        rid = b[0]["service_request_id"]
        st, _, tok = c.http("GET", "/tokens/%s.json" % rid)
        assert st == 200 and tok[0]["service_request_id"] == rid, (st, tok)
        asked = get_cases() - before - 1  # the /tokens read above asks once
        assert asked <= 10, "tracking was asked %d times for one late case" % asked
        print("a POST routed 0.8 s late: tracking asked %d times for it" % asked)

        # ---- a backend that does not answer: 503 in Open311's format ----------------------
        os.kill(c.procs["tracking"].pid, signal.SIGSTOP)
        try:
            st, hdrs, body = c.http("GET", "/requests/%s.xml" % cid, timeout=20)
            code, desc = error_of(st, hdrs, body, "xml")
            assert st == 503 and code == 503 and "tracking" in desc, body
        finally:
            os.kill(c.procs["tracking"].pid, signal.SIGCONT)
        c.wait(lambda: c.http("GET", "/requests/%s.json" % cid)[0] == 200,
               what="tracking answers again")

        log = c.log("gateway")
        bad = [line for line in log.splitlines() if re.search(r"Z (warn|error) ", line)]
        assert not bad, "the gateway logged:\n" + "\n".join(bad)
        print("open311 over HTTP: documents, idempotency, refusals and 503 as the spec says")
        print("1 passed, 0 failed")
    except BaseException:
        c.fail(names=["intake", "routing", "tracking", "notification", "gateway"])
        raise
    c.close()


if __name__ == "__main__":
    main()
