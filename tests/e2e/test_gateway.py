"""whistle-gateway end to end: a real stack and the gateway in front of it, driven with
Python's http.client and raw sockets.

- /healthz, /readyz (503 naming the service while one is stopped, 200 again after)
- the JSON API with bearer keys: report (ZeroMQ) -> dispatch -> checkin -> progress ->
  complete -> resolve (409 first, naming field and state) -> verify, list, escalate,
  figures (a township's by department with unit=), visits, a grid's book (GET
  /v1/grids/{grid}/ledger: its township reads it, a department 403, an unknown grid 400); a
  department key acting as another department -> 403; no key / an unknown
  key -> 401; a key added to the file works without a restart
- bad input: 413, malformed and unknown-field bodies, unknown route 404, a '..' and a NUL in
  the URL, a raw NUL byte; nothing of it reaches the gateway's log
- a service SIGSTOPped: 503 ETIMEDOUT within the backend timeout, never a hang
- a slowloris client (one byte a second) is cut while others are answered
- 1,000 concurrent connections answered; past --max-connections a client waits for a slot
"""
import datetime
import os
import resource
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from whistle_e2e import Cluster  # noqa: E402

KEYS = {
    "ops": ("op-key-0123456789abcdef", "operator", "ops"),
    "cg": ("cg-key-0123456789abcdef", "department", "cg"),
    "scjg": ("scjg-key-0123456789abcdef", "department", "scjg"),
    "north": ("north-key-0123456789abcdef", "township", "north"),
    "app": ("app-key-0123456789abcdef", "integrator", "app"),
}


def bearer(who):
    return {"Authorization": "Bearer " + KEYS[who][0]}


def raw(port, data, timeout=10.0):
    """Sends raw bytes, returns everything answered until the server closes or goes quiet."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out:
                head, _, rest = out.partition(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        if len(rest) >= int(line.split(b":")[1]):
                            return out
        return out
    finally:
        s.close()


def status_of(resp):
    return int(resp.split(b" ", 2)[1]) if resp.startswith(b"HTTP/1.") else None


def write_keys(path, names):
    with open(path + ".tmp", "w") as f:
        f.write("# the gateway's API keys\n")
        for n in names:
            k, kind, code = KEYS[n]
            f.write("%s %s %s\n" % (k, kind, code))
    os.replace(path + ".tmp", path)


def submit(c, key):
    rep = c.call("intake", c.submit_req(key, grid="g1", matter="m2"))
    assert rep is not None and rep.WhichOneof("body") == "submit_report", rep
    return rep.submit_report.case_id


def wait_dispatched(c, cid):
    def ok():
        st, _, body = c.http("GET", "/v1/cases/" + cid, headers=bearer("ops"))
        return st == 200 and body["case"]["state"] == "DISPATCHED"
    c.wait(ok, timeout=30, what="%s dispatched" % cid)


def post(c, who, cid, verb, body=None):
    return c.http("POST", "/v1/cases/%s/%s" % (cid, verb), body=body if body is not None else {},
                  headers=bearer(who))


def test_health(c):
    st, _, body = c.http("GET", "/healthz")
    assert st == 200 and body == {"status": "ok"}, (st, body)
    c.wait(lambda: c.http("GET", "/readyz")[0] == 200, timeout=20, what="readyz 200")
    st, _, body = c.http("GET", "/readyz")
    assert body["ready"] is True and set(body["services"]) == {
        "intake", "routing", "tracking", "notification"}, body
    c.stop("tracking")
    st, _, body = c.http("GET", "/readyz")
    assert st == 503 and body["ready"] is False, (st, body)
    assert body["services"]["tracking"] != "ok" and body["services"]["intake"] == "ok", body
    c.start("tracking")
    c.wait_ping("tracking")
    c.wait(lambda: c.http("GET", "/readyz")[0] == 200, timeout=20, what="readyz 200 again")
    print("health: ok")


def test_auth(c, keys_path):
    st, h, body = c.http("GET", "/v1/cases")
    assert st == 401 and body["error"]["field"] == "authorization", (st, body)
    assert h.get("www-authenticate", "").startswith("Bearer"), h
    st, _, body = c.http("GET", "/v1/cases", headers={"Authorization": "Bearer nope-not-a-key-at-all"})
    assert st == 401, (st, body)
    # a key added to the file is honoured without a restart
    st, _, _ = c.http("GET", "/v1/cases", headers=bearer("app"))
    assert st == 401, st
    write_keys(keys_path, list(KEYS))
    c.wait(lambda: c.http("GET", "/v1/cases", headers=bearer("app"))[0] == 200, timeout=10,
           what="the new key to be read")
    print("auth: ok")


def test_flow(c):
    cid = submit(c, "gw-flow-1")
    wait_dispatched(c, cid)
    # a department acts as itself only: 403 naming the field, nothing changed
    st, _, body = post(c, "cg", cid, "checkin", {"department": "scjg"})
    assert st == 403 and body["error"]["code"] == "EFORBIDDEN", (st, body)
    assert body["error"]["field"] == "case_action.department", body
    st, _, body = post(c, "cg", cid, "checkin", {"department": "cg", "actor": "scjg"})
    assert st == 403 and body["error"]["field"] == "case_action.actor", (st, body)
    st, _, body = post(c, "cg", cid, "resolve", {"actor": "north"})
    assert st == 403, (st, body)
    # the department defaults to the key's own code
    st, _, body = post(c, "cg", cid, "checkin")
    assert st == 200 and body["case"]["state"] == "IN_PROGRESS", (st, body)
    st, _, body = post(c, "scjg", cid, "checkin", {"note": "on our way"})
    assert st == 200, (st, body)
    st, _, body = post(c, "cg", cid, "progress", {"note": "half done"})
    assert st == 200, (st, body)
    st, _, body = post(c, "cg", cid, "complete")
    assert st == 200, (st, body)
    # the lead resolves only when every department is done: 409 with the field and the state
    st, _, body = post(c, "north", cid, "resolve")
    assert st == 409, (st, body)
    e = body["error"]
    assert e["code"] == "ESTATE" and e["field"] and e["state"] == "IN_PROGRESS", e
    st, _, body = post(c, "scjg", cid, "complete")
    assert st == 200, (st, body)
    st, _, body = post(c, "north", cid, "resolve", {"note": "done"})
    assert st == 200 and body["case"]["state"] == "RESOLVED", (st, body)
    st, _, body = post(c, "ops", cid, "verify", {"actor": "r1"})
    assert st == 400 and body["error"]["field"] == "body.satisfied", (st, body)
    st, _, body = post(c, "ops", cid, "verify", {"actor": "r1", "satisfied": True})
    assert st == 200 and body["case"]["state"] == "CLOSED", (st, body)
    st, _, body = post(c, "cg", cid, "checkin")
    assert st == 409 and body["error"]["state"] == "CLOSED", (st, body)
    # reads
    st, _, body = c.http("GET", "/v1/cases/" + cid, headers=bearer("cg"))
    assert st == 200 and body["case"]["id"] == cid and len(body["history"]) >= 7, (st, body)
    st, _, body = c.http("GET", "/v1/cases?dept=cg&limit=10", headers=bearer("cg"))
    assert st == 200 and cid in [x["id"] for x in body["cases"]], (st, body)
    st, _, body = c.http("GET", "/v1/cases?dept=scjg", headers=bearer("cg"))
    assert st == 403 and body["error"]["field"] == "list_cases.department", (st, body)
    st, _, body = c.http("GET", "/v1/cases/C99999999", headers=bearer("ops"))
    assert st == 404 and body["error"]["code"] == "ENOTFOUND", (st, body)
    st, _, body = c.http("GET", "/v1/cases?state=CLOSED&overdue=false", headers=bearer("ops"))
    assert st == 200 and cid in [x["id"] for x in body["cases"]], (st, body)
    # escalate goes to routing, from the lead only
    cid2 = submit(c, "gw-flow-2")
    wait_dispatched(c, cid2)
    st, _, body = post(c, "cg", cid2, "escalate", {"actor": "north"})
    assert st == 403 and body["error"]["code"] == "EFORBIDDEN", (st, body)
    st, _, body = post(c, "north", cid2, "escalate", {"to_whistle": "TOUGH", "reason": "久拖未决"})
    assert st == 200 and body["escalated"]["to_whistle"] == "TOUGH", (st, body)
    st, _, body = post(c, "north", cid2, "escalate", {"to_whistle": "LOUD"})
    assert st == 400 and body["error"]["field"] == "body.to_whistle", (st, body)
    # figures and visits
    y, w, _ = datetime.date.today().isocalendar()
    week = "%d-W%02d" % (y, w)
    st, _, body = c.http("GET", "/v1/figures?period=%s&by=department" % week, headers=bearer("ops"))
    assert st == 200 and any(r["key"] == "cg" for r in body["rows"]), (st, body)
    st, _, body = c.http("GET", "/v1/figures?period=%s&by=grid" % week, headers=bearer("cg"))
    assert st == 403 and body["error"]["field"] == "figures.by", (st, body)
    st, _, body = c.http("GET", "/v1/figures", headers=bearer("ops"))
    assert st == 400 and body["error"]["field"] == "query.period", (st, body)
    st, _, body = c.http("GET", "/v1/visits?week=%s&grid=g1" % week, headers=bearer("north"))
    assert st == 200, (st, body)
    st, _, body = c.http("GET", "/v1/visits?week=%s" % week, headers=bearer("cg"))
    assert st == 403 and body["error"]["field"] == "visits.grid", (st, body)
    # 一格一账本: GridLedger on the caller's behalf (its township reads it, a department not)
    st, _, body = c.http("GET", "/v1/grids/g1/ledger?period=%s" % week, headers=bearer("north"))
    assert st == 200 and body["grid"] == "g1" and body["unit"] == "north", (st, body)
    assert [s["staff"] for s in body["staff"]] == ["王一", "李二", "张三", "赵四"], body["staff"]
    assert cid in [x["case_id"] for x in body["cases"]], (cid, body["cases"])
    st, _, body = c.http("GET", "/v1/grids/g1/ledger", headers=bearer("ops"))
    assert st == 200 and body["period"], (st, body)  # this month's
    st, _, body = c.http("GET", "/v1/grids/g1/ledger", headers=bearer("cg"))
    assert st == 403 and body["error"]["field"] == "grid_ledger.grid", (st, body)
    st, _, body = c.http("GET", "/v1/grids/nowhere/ledger", headers=bearer("ops"))
    assert st == 400 and body["error"]["field"] == "grid_ledger.grid", (st, body)
    st, _, body = c.http("GET", "/v1/grids/g1/ledger?week=1", headers=bearer("ops"))
    assert st == 400 and body["error"]["field"] == "query.week", (st, body)
    st, _, body = c.http("GET", "/v1/figures?period=%s&by=department&unit=north" % week,
                         headers=bearer("north"))
    assert st == 200 and body["by"] == "department", (st, body)
    print("flow: ok (%s, %s)" % (cid, cid2))
    return cid


def test_bad_input(c, cid):
    port = c.gw_port
    st, _, body = c.http("POST", "/v1/cases/%s/progress" % cid, body=b"x" * (64 * 1024 + 1),
                         headers=bearer("cg"))
    assert st == 413 and body["error"]["code"] == "ETOOBIG", (st, body)
    # chunked, without a Content-Length: read, bounded, then refused
    chunk = b"x" * 70000
    resp = raw(port, b"POST /v1/cases/%s/progress HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
               % (cid.encode(), KEYS["cg"][0].encode(), len(chunk), chunk))
    assert status_of(resp) == 413, resp[:300]
    st, _, body = c.http("POST", "/v1/cases/%s/progress" % cid, body=b"{not json",
                         headers=bearer("cg"))
    assert st == 400 and body["error"]["code"] == "EMALFORMED", (st, body)
    st, _, body = c.http("POST", "/v1/cases/%s/progress" % cid, body=b'{"note":"\xff"}',
                         headers=bearer("cg"))
    assert st == 400 and body["error"]["field"] == "body", (st, body)
    st, _, body = c.http("POST", "/v1/cases/%s/progress" % cid, body={"colour": "red"},
                         headers=bearer("cg"))
    assert st == 400 and body["error"]["field"] == "body.colour", (st, body)
    st, _, body = c.http("POST", "/v1/cases/%s/dance" % cid, body={}, headers=bearer("cg"))
    assert st == 400 and body["error"]["field"] == "url", (st, body)
    st, _, body = c.http("GET", "/v1/cases?limit=0", headers=bearer("ops"))
    assert st == 400 and body["error"]["field"] == "query.limit", (st, body)
    st, _, body = c.http("GET", "/v1/cases?colour=red", headers=bearer("ops"))
    assert st == 400 and body["error"]["field"] == "query.colour", (st, body)
    st, _, body = c.http("GET", "/v1/nothing-here", headers=bearer("ops"))
    assert st == 404 and body["error"]["code"] == "ENOTFOUND", (st, body)
    st, h, body = c.http("DELETE", "/v1/cases", headers=bearer("ops"))
    assert st == 405 and h.get("allow") == "GET", (st, h, body)
    for path in (b"/v1/../v1/cases", b"/v1/cases/%2e%2e", b"/v1/cases/C%00001", b"/v1/cases?state=%00",
                 b"/v1/cases/%zz", b"/v1/cases/%ff%fe"):
        resp = raw(port, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                   + KEYS["ops"][0].encode() + b"\r\nConnection: close\r\n\r\n")
        assert status_of(resp) == 400, (path, resp[:300])
        assert b'"EFIELD"' in resp, (path, resp[:300])
    # a raw NUL byte in the request line: libmicrohttpd 0.9.75 ends the URL there; the rest
    # is never seen, the shortened path is checked and answered like any other (a 4xx)
    resp = raw(port, b"GET /v1/cases/C\x0000001 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
               + KEYS["ops"][0].encode() + b"\r\nConnection: close\r\n\r\n", timeout=5)
    assert status_of(resp) is None or 400 <= status_of(resp) < 500, resp[:300]
    st, _, _ = c.http("GET", "/healthz")
    assert st == 200
    print("bad input: ok")


def test_timeout(c):
    c.procs["tracking"].send_signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        st, _, body = c.http("GET", "/v1/cases/C00000001", headers=bearer("ops"), timeout=30)
        took = time.monotonic() - t0
        assert st == 503 and body["error"]["code"] == "ETIMEDOUT", (st, body)
        assert "tracking" in body["error"]["message"], body
        st, _, body = c.http("GET", "/readyz", timeout=30)
        assert st == 503 and body["services"]["tracking"] != "ok", (st, body)
        st, _, _ = c.http("GET", "/healthz")
        assert st == 200
    finally:
        c.procs["tracking"].send_signal(signal.SIGCONT)
    c.wait(lambda: c.http("GET", "/readyz")[0] == 200, timeout=20, what="readyz after SIGCONT")
    print("backend timeout: 503 after %.1f s" % took)


def test_slowloris(c):
    """One byte a second: the connection is cut at the request deadline, others answered."""
    s = socket.create_connection(("127.0.0.1", c.gw_port), timeout=2)
    req = b"GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Pad: " + b"a" * 200
    cut, sent = False, 0
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and sent < len(req):
            try:
                s.sendall(req[sent:sent + 1])
                sent += 1
            except OSError:
                cut = True
                break
            st, _, _ = c.http("GET", "/healthz", timeout=5)
            assert st == 200
            s.settimeout(1.0)
            try:
                if s.recv(100) == b"":
                    cut = True
                    break
            except socket.timeout:
                pass
            except OSError:
                cut = True
                break
    finally:
        s.close()
    assert cut, "a client sending one byte a second was not cut (%d bytes sent)" % sent
    print("slowloris: cut after %d bytes" % sent)


def test_connections(c):
    """A second gateway: 1,000 concurrent connections answered; the next one waits for a slot."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    main_port, main_proc = c.gw_port, c.procs.pop("gateway")
    c.start_gateway("--max-connections", "1000", "--request-timeout-ms", "120000",
                    "--idle-timeout-s", "120")
    port = c.gw_port
    socks = []
    try:
        for _ in range(1000):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            socks.append(s)
        for s in socks:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        for s in socks:
            data = b""
            while b'{"status":"ok"}' not in data:
                chunk = s.recv(4096)
                assert chunk, "a connection was closed before its answer"
                data += chunk
            assert data.startswith(b"HTTP/1.1 200"), data[:100]
        # all 1,000 are held open (keep-alive): the 1,001st waits in the backlog
        extra = socket.create_connection(("127.0.0.1", port), timeout=30)
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        extra.settimeout(1.0)
        try:
            early = extra.recv(4096)
        except socket.timeout:
            early = b""
        assert early == b"", "answered past --max-connections: %r" % early[:100]
        for s in socks[:10]:
            s.close()
        del socks[:10]
        extra.settimeout(30)
        data = b""
        while b'{"status":"ok"}' not in data:
            chunk = extra.recv(4096)
            assert chunk, "the waiting connection was closed"
            data += chunk
        extra.close()
    finally:
        for s in socks:
            s.close()
        c.stop("gateway")
        c.procs["gateway"], c.gw_port = main_proc, main_port
    print("connections: 1,000 answered, the next one waited for a slot")


def main():
    c = Cluster(no_deadlines=True)
    keys_path = os.path.join(c.tmp, "api-keys.txt")
    write_keys(keys_path, [k for k in KEYS if k != "app"])
    try:
        c.start_all()
        c.start_gateway("--api-keys", keys_path, "--backend-timeout-ms", "1500",
                        "--request-timeout-ms", "3000", open_=False)
        test_health(c)
        test_auth(c, keys_path)
        cid = test_flow(c)
        test_bad_input(c, cid)
        test_timeout(c)
        test_slowloris(c)
        test_connections(c)
        # refused input never reaches the log
        bad = [line for line in c.log("gateway").splitlines()
               if " warn " in line or " error " in line]
        assert not bad, "the gateway logged:\n" + "\n".join(bad)
    except BaseException:
        c.fail(["gateway", "tracking", "routing"])
        raise
    c.close()
    print("ok")


if __name__ == "__main__":
    main()
