"""The dashboard (issue 12, points 1-3 and 8): the gateway's static files and the stream tickets
over HTTP, then the page in a real browser.

HTTP, from Python:
- GET / and /web/<file>: the files of --web with their content types, no-cache + ETag (304 on
  If-None-Match), vendor/ immutable; CSP 'self' and nosniff; no way out of the folder ('..',
  encoded '/', a dot file, an unknown extension, a symbolic link); a query refused
- the vendored uPlot is byte for byte the npm package pinned in tools/web/package-lock.json
- GET /v1/whoami says who a key is; POST /v1/stream-tickets needs a key; a ticket opens one
  stream once, only the key's own topics, and no other route
Browser (tests/dashboard/dashboard.test.js, playwright-core + /usr/bin/chromium after `npm ci`
in a copy of the folder): sign in, a case reported through the API on the live board within a
second, check in from the page, a department never sees another's case, a township its own
unit, a broken stream resumed with no gap; the assessment (this week's figures by department
beside last week's, 三率 with — for no value, the chart drawn, the CSV download read back, by
township, a month, a township's own); a grid's book (1+3 staff with the week's hours, under 5 h
flagged, a visit's note, its case with dates, open items; a department refused); nothing
fetched from elsewhere, no console error.
Screenshots go to <build>/dashboard-screenshots/ (not committed)."""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from whistle_e2e import BINARY_DIR, SOURCE_DIR, Cluster  # noqa: E402

WEB = os.path.join(SOURCE_DIR, "services", "gateway", "web")
HARNESS = os.path.join(SOURCE_DIR, "tests", "dashboard")
KEYS = {"ops": ("dash-ops-key-0123456789", "operator", "ops"),
        "cg": ("dash-cg-key-0123456789ab", "department", "cg"),
        "yjgl": ("dash-yjgl-key-0123456789", "department", "yjgl"),
        "north": ("dash-north-key-012345678", "township", "north"),
        "app": ("dash-app-key-0123456789a", "integrator", "app")}


def bearer(who):
    return {"Authorization": "Bearer " + KEYS[who][0]}


def uplot_version():
    with open(os.path.join(SOURCE_DIR, "tools", "web", "package-lock.json")) as f:
        return json.load(f)["packages"]["node_modules/uplot"]["version"]


def check_static(c, web):
    v = uplot_version()
    st, h, body = c.http("GET", "/")
    assert st == 200 and h["content-type"] == "text/html; charset=utf-8", (st, h)
    assert "乡街吹哨".encode() in body and b'lang="zh-CN"' in body, body[:200]
    assert ("/web/vendor/uPlot-%s.iife.min.js" % v).encode() in body, "index.html names " + v
    assert h["cache-control"] == "no-cache" and h["etag"].startswith('"'), h
    assert "default-src 'self'" in h["content-security-policy"], h
    assert h["x-content-type-options"] == "nosniff", h
    st, h2, body = c.http("GET", "/", headers={"If-None-Match": h["etag"]})
    assert st == 304 and body == b"", (st, body)
    st, h2, _ = c.http("HEAD", "/web/app.js")
    assert st == 200 and h2["content-type"] == "text/javascript; charset=utf-8", (st, h2)
    st, h2, _ = c.http("GET", "/web/style.css")
    assert st == 200 and h2["content-type"] == "text/css; charset=utf-8", (st, h2)
    st, h2, body = c.http("GET", "/web/vendor/uPlot-%s.iife.min.js" % v)
    assert st == 200 and h2["content-type"].startswith("text/javascript"), (st, h2)
    assert h2["cache-control"] == "public, max-age=31536000, immutable", h2
    with open(os.path.join(web, "vendor", "uPlot-%s.iife.min.js" % v), "rb") as f:
        assert body == f.read()
    print("static files: types, no-cache + ETag (304), vendor/ immutable, CSP, nosniff")

    # nothing outside the folder, nothing but the files meant to be served
    with open(os.path.join(web, ".secret.txt"), "w") as f:
        f.write("not served")
    os.symlink("/etc/passwd", os.path.join(web, "passwd.txt"))
    for path, want in [("/web/..%2F..%2Fgateway.c", 400), ("/web/%2e%2e/web.c", 400),
                       ("/web/../web.c", 400), ("/web/vendor/../app.js", 400),
                       ("/web/.secret.txt", 404), ("/web/passwd.txt", 404),
                       ("/web/index.php", 404), ("/web/nothing.js", 404),
                       ("/web/a%00.js", 400), ("/web/vendor", 404), ("/web/app.js?x=1", 400),
                       ("/web/vendor/x/y.js", 404)]:
        st, _, body = c.http("GET", path)
        assert st == want, (path, st, want, body)
        assert b"root:" not in (body if isinstance(body, bytes) else json.dumps(body).encode())
    st, h, _ = c.http("POST", "/")
    assert st == 405 and h["allow"] == "GET", (st, h)
    print("static files: '..', encoded '/', dot files, links, other types and queries refused")


def check_tickets(c):
    for who in ("ops", "cg", "north"):
        st, _, me = c.http("GET", "/v1/whoami", headers=bearer(who))
        assert st == 200 and me == {"kind": KEYS[who][1], "code": KEYS[who][2], "open": False}, me
    st, _, me = c.http("GET", "/v1/whoami")
    assert st == 200 and me == {"kind": "none", "code": "", "open": False}, (st, me)
    st, h, _ = c.http("GET", "/v1/whoami", headers={"Authorization": "Bearer not-listed-0123456789"})
    assert st == 401 and "www-authenticate" in h, st
    st, _, _ = c.http("POST", "/v1/stream-tickets")
    assert st == 401, st

    def ticket(who):
        st, _, t = c.http("POST", "/v1/stream-tickets", headers=bearer(who))
        assert st == 200 and len(t["ticket"]) == 64 and t["expires_in_ms"] == 30000, t
        return t["ticket"]

    def stream_status(path):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", c.gw_port, timeout=5)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, r.getheader("content-type")
        finally:
            conn.close()

    t = ticket("cg")
    st, ct = stream_status("/v1/topics/dept/cg/events?ticket=" + t)
    assert st == 200 and ct.startswith("text/event-stream"), (st, ct)
    st, _ = stream_status("/v1/topics/dept/cg/events?ticket=" + t)
    assert st == 401, "a ticket opens one stream only, got %d" % st
    st, _ = stream_status("/v1/topics/dept/yjgl/events?ticket=" + ticket("cg"))
    assert st == 403, "cg's ticket on yjgl's topic: %d" % st
    st, _ = stream_status("/v1/topics/all/events?ticket=" + ticket("cg"))
    assert st == 403, st
    st, _ = stream_status("/v1/topics/all/events?ticket=" + ticket("ops") + "&from_seq=1")
    assert st == 200, st
    st, _ = stream_status("/v1/topics/all/events?ticket=" + "0" * 64)
    assert st == 401, st
    st, _, _ = c.http("GET", "/v1/cases?ticket=" + ticket("ops"))
    assert st == 401, "a ticket is for event streams only, got %d" % st
    print("stream tickets: a key needed, one stream each, the key's own topics, streams only")


def check_catalog(c):
    """GET /v1/catalog: the district's names from the gateway's --catalog, for any listed key."""
    with open(c.catalog) as f:
        want = json.load(f)
    st, _, _ = c.http("GET", "/v1/catalog")
    assert st == 401, st
    for who in ("ops", "cg", "north"):
        st, _, cat = c.http("GET", "/v1/catalog", headers=bearer(who))
        assert st == 200, (who, st, cat)
        assert cat["district"] == want["district"], cat["district"]
        assert {u["code"]: u["name"] for u in cat["units"]} == \
            {u["code"]: u["name"] for u in want["units"]}, cat["units"]
        assert {d["code"]: d["name"] for d in cat["departments"]} == \
            {d["code"]: d["name"] for d in want["departments"]}, cat["departments"]
        assert {m["code"]: (m["name"], m["whistle"]) for m in cat["matters"]} == \
            {m["code"]: (m["name"], m["whistle"]) for m in want["matters"]}, cat["matters"]
        assert {g["code"]: g["community"] for g in cat["grids"]} == \
            {g["code"]: g["community"] for g in want["grids"]}, cat["grids"]
        # grid staff and households stay with the grid's ledger, which tracking answers by role
        assert all(set(g) == {"code", "community"} for g in cat["grids"]), cat["grids"][0]
    st, _, _ = c.http("GET", "/v1/catalog?x=1", headers=bearer("ops"))
    assert st == 400, st
    print("GET /v1/catalog: the district's names for any listed key, 401 without one")


def main():
    npm, node = shutil.which("npm"), shutil.which("node")
    assert npm and node, "node and npm are needed (deploy/install-deps.sh installs them)"
    assert os.path.exists("/usr/bin/chromium"), "chromium is needed (deploy/install-deps.sh)"
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout
    assert "Noto Sans CJK" in fonts, "fonts-noto-cjk is needed for Chinese (install-deps.sh)"
    c = Cluster(no_deadlines=True)
    shots = os.path.join(BINARY_DIR, "dashboard-screenshots")
    shutil.rmtree(shots, ignore_errors=True)
    os.makedirs(shots)
    try:
        # the page's folder copied, so the test may add files to it
        web = os.path.join(c.tmp, "web")
        shutil.copytree(WEB, web)
        work = os.path.join(c.tmp, "dashboard")
        shutil.copytree(HARNESS, work, ignore=shutil.ignore_patterns("node_modules"))
        env = dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1")
        out = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=work, env=env,
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, "npm ci failed:\n" + out.stdout + out.stderr
        # the vendored chart library is the pinned npm package's, byte for byte
        v = uplot_version()
        pkg = os.path.join(work, "node_modules", "uplot")
        with open(os.path.join(pkg, "package.json")) as f:
            assert json.load(f)["version"] == v, "tests/dashboard pins another uplot than tools/web"
        for src, dst in [("dist/uPlot.iife.min.js", "uPlot-%s.iife.min.js" % v),
                         ("dist/uPlot.min.css", "uPlot-%s.min.css" % v)]:
            with open(os.path.join(pkg, src), "rb") as a, \
                    open(os.path.join(WEB, "vendor", dst), "rb") as b:
                assert a.read() == b.read(), "web/vendor/%s differs from npm's uplot %s" % (dst, v)
        print("vendor: uPlot %s is the npm package's, byte for byte" % v)

        # a 攻坚哨 that must be checked in within 2.5 s: the push list and the ladder in real
        # time; every other deadline is long (no_deadlines)
        with open(c.catalog) as f:
            cat = json.load(f)
        cat["whistles"]["TOUGH"].update(checkin_ms=2500, resolve_ms=600000)
        with open(c.catalog, "w") as f:
            json.dump(cat, f, ensure_ascii=False)
        keys = os.path.join(c.tmp, "api-keys")
        with open(keys, "w") as f:
            for k, kind, code in KEYS.values():
                f.write("%s %s %s\n" % (k, kind, code))
        c.start_all()
        c.start_gateway("--api-keys", keys, "--web", web, open_=False)
        check_static(c, web)
        check_tickets(c)
        check_catalog(c)
        # 一格一账本: this week 王一 visited 6 h, 李二 1.5 h (flagged), the others none
        c.ctl("visit", "--grid", "g1", "--staff", "王一", "--hours", "6", "--note", "入户走访，收集民情")
        c.ctl("visit", "--grid", "g1", "--staff", "李二", "--minutes", "90")

        env = dict(env, DASH_URL="http://127.0.0.1:%d/" % c.gw_port, DASH_SHOTS=shots,
                   DASH_KEYS=json.dumps({w: k[0] for w, k in KEYS.items()}))
        t0 = time.monotonic()
        out = subprocess.run([node, "dashboard.test.js"], cwd=work, env=env,
                             capture_output=True, text=True, timeout=300)
        print(out.stdout[-6000:])
        assert out.returncode == 0, "the browser test failed:\n" + out.stdout + out.stderr
        assert "dashboard: all checks passed" in out.stdout, out.stdout
        names = sorted(os.listdir(shots))
        assert len(names) >= 12, names
        print("browser: passed in %.1f s; screenshots in %s: %s" % (time.monotonic() - t0, shots,
                                                                    " ".join(names)))
        log = c.log("gateway")
        bad = [ln for ln in log.splitlines() if " warn " in ln or " error " in ln]
        assert not bad, "\n".join(bad)

        # --open (deploy/local/up.sh): no key; the page goes in as an operator, tickets too
        c.stop("gateway")
        c.start_gateway("--web", web)
        st, _, me = c.http("GET", "/v1/whoami")
        assert st == 200 and me == {"kind": "operator", "code": "", "open": True}, me
        st, _, t = c.http("POST", "/v1/stream-tickets")
        assert st == 200, (st, t)
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", c.gw_port, timeout=5)
        conn.request("GET", "/v1/topics/all/events?from_seq=1&ticket=" + t["ticket"])
        r = conn.getresponse()
        lines = [r.readline() for _ in range(3)]  # a comment and a blank line open a stream
        assert r.status == 200 and lines[2].startswith(b"id: 1"), (r.status, lines)
        conn.close()
        print("--open: whoami is an operator, a ticket without a key streams all/")
        print("1 passed, 0 failed")
    except BaseException:
        c.fail(names=["intake", "routing", "tracking", "notification", "gateway"])
        raise
    c.close()


if __name__ == "__main__":
    main()
