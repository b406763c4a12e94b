"""A stack per district, one door for the city (issue 14 point 1): two districts, each its own
four services, data and catalog (testdistrict from catalog-small.json, and "east", the same
catalog under another code), behind ONE whistle-gateway started with --districts FILE.

- start: a --districts file with a district missing its tracking endpoint is refused at start
  with the JSON path named (districts[1].tracking.api);
- routing: an Open311 POST goes to the district its jurisdiction_id names (each district
  numbers its own cases: C00000001 in both, each with its own description); GET
  requests/{id}.json and /v1/cases/{id} answer the named district's case; with several
  districts a missing jurisdiction_id is 400 naming it and listing both, an unknown one 404;
- discovery lists both jurisdictions (JSON and XML);
- keys: a key with a district (its 4th field) reads and acts in its district only (403 in the
  other, also through Open311's api_key), defaults to its district without jurisdiction_id;
  a non-operator key with no district is refused; the city's operator (no district) reads any;
- /v1/figures?period=&by=district: one row per district, its counts the sum of that
  district's own figures by township, its rates recomputed, percentiles null; a district's
  key gets 403;
- a district's failure: kill -9 of east's four services; testdistrict still answers /v1/cases,
  Open311 POST and GET; east answers 503 naming the district; /readyz stays 200 and names east
  as down; the city's figures list east as unavailable and still give testdistrict's row.
"""
import json
import os
import subprocess
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(__file__))
from whistle_e2e import BINARY_DIR, SERVICES, Cluster  # noqa: E402

A, B = "testdistrict", "east"
KEYS = {
    "city": ("city-operator-key-0123456789", "operator city"),
    "a-cg": ("a-district-cg-key-0123456789", "department cg " + A),
    "b-cg": ("b-district-cg-key-0123456789", "department cg " + B),
    "a-app": ("a-district-app-key-012345678", "integrator app " + A),
    "b-app": ("b-district-app-key-012345678", "integrator app " + B),
    "nodist": ("no-district-cg-key-012345678", "department cg"),
}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def bearer(who):
    return {"Authorization": "Bearer " + KEYS[who][0]}


def check(cond, what, *detail):
    if not cond:
        raise AssertionError("FAIL: %s %s" % (what, " ".join(repr(d) for d in detail)))


def post_report(c, jur, app, description, extra=""):
    fields = {"api_key": KEYS[app][0], "service_code": "m2", "attribute[grid]": "g1",
              "description": description, "lat": "30.5", "long": "117.25"}
    if jur is not None:
        fields["jurisdiction_id"] = jur
    return c.http("POST", "/requests.json" + extra, urllib.parse.urlencode(fields).encode(),
                  FORM)


def bad_districts_file(a, b):
    """A --districts file whose second district has no tracking: the gateway must refuse."""
    bad = b.district_entry(B)
    del bad["tracking"]
    path = os.path.join(a.tmp, "districts-bad.json")
    with open(path, "w") as f:
        json.dump({"districts": [a.district_entry(A), bad]}, f)
    out = subprocess.run([os.path.join(BINARY_DIR, "services", "whistle-gateway"),
                          "--http", "127.0.0.1:0", "--open", "--districts", path],
                         capture_output=True, text=True, timeout=30)
    check(out.returncode != 0, "a districts file without districts[1].tracking was taken",
          out.stdout, out.stderr)
    check("districts[1].tracking.api" in out.stdout + out.stderr,
          "the refusal does not name the JSON path", out.stdout, out.stderr)


def main():
    a = Cluster()
    b = None
    try:
        # east: catalog-small under another district code
        with open(a.catalog) as f:
            cat = json.load(f)
        cat["district"] = {"code": B, "name": "东区"}
        east_catalog = os.path.join(a.tmp, "catalog-east.json")
        with open(east_catalog, "w") as f:
            json.dump(cat, f, ensure_ascii=False)
        b = Cluster(catalog=east_catalog)
        bad_districts_file(a, b)

        keys = os.path.join(a.tmp, "api-keys")
        with open(keys, "w") as f:
            for k, rest in KEYS.values():
                f.write("%s %s\n" % (k, rest))
        districts = os.path.join(a.tmp, "districts.json")
        with open(districts, "w") as f:
            json.dump({"districts": [a.district_entry(A), b.district_entry(B)]}, f)
        a.start_all()
        b.start_all()
        a.start_gateway("--api-keys", keys, "--backend-timeout-ms", "1500", open_=False,
                        districts=districts)

        # ---- readiness: both up -------------------------------------------------------------
        st, _, body = a.http("GET", "/readyz")
        check(st == 200 and body["ready"] and body["down"] == [] and
              set(body["districts"]) == {A, B}, "/readyz with both districts up", st, body)

        # ---- discovery lists each jurisdiction ------------------------------------------------
        st, _, body = a.http("GET", "/discovery.json")
        check(st == 200 and [j["jurisdiction_id"] for j in body.get("jurisdictions", [])] ==
              [A, B], "discovery.json jurisdictions", st, body)
        st, _, raw = a.http("GET", "/discovery.xml")
        root = ET.fromstring(raw)
        check([e.findtext("jurisdiction_id") for e in root.findall("jurisdictions/jurisdiction")]
              == [A, B], "discovery.xml jurisdictions", raw)

        # ---- Open311 routing by jurisdiction_id -------------------------------------------------
        st, _, ra = post_report(a, A, "a-app", "西门占道 in " + A)
        check(st == 200, "POST to " + A, st, ra)
        st, _, rb = post_report(a, B, "b-app", "东门占道 in " + B)
        check(st == 200, "POST to " + B, st, rb)
        ida, idb = ra[0]["service_request_id"], rb[0]["service_request_id"]
        check(ida == idb == "C00000001", "each district numbers its own cases", ida, idb)
        for jur, text in ((A, "西门占道 in " + A), (B, "东门占道 in " + B)):
            st, _, got = a.http("GET", "/requests/%s.json?jurisdiction_id=%s" % (ida, jur))
            check(st == 200 and got[0]["description"] == text,
                  "GET requests/C00000001.json of " + jur, st, got)
            st, _, got = a.http("GET", "/v1/cases/%s?jurisdiction_id=%s" % (ida, jur),
                                headers=bearer("city"))
            check(st == 200 and got["case"]["report"]["description"] == text,
                  "/v1/cases/C00000001 of " + jur, st, got)
        st, _, got = post_report(a, None, "a-app", "no jurisdiction")
        check(st == 400 and got[0]["code"] == 400 and "jurisdiction_id" in
              got[0]["description"] and A in got[0]["description"] and
              B in got[0]["description"], "Open311 POST without jurisdiction_id", st, got)
        st, _, got = a.http("GET", "/requests/C00000001.json?jurisdiction_id=west")
        check(st == 404 and "west" in got[0]["description"], "unknown jurisdiction", st, got)
        st, _, got = a.http("GET", "/v1/cases", headers=bearer("city"))
        check(st == 400 and got["error"]["field"] == "query.jurisdiction_id" and
              B in got["error"]["message"], "/v1/cases of the city without jurisdiction_id",
              st, got)
        st, _, got = a.http("GET", "/v1/cases?jurisdiction_id=west", headers=bearer("city"))
        check(st == 404 and "west" in got["error"]["message"], "/v1 unknown jurisdiction",
              st, got)

        # ---- keys tied to a district -----------------------------------------------------------
        a.wait(lambda: a.http("GET", "/v1/cases?jurisdiction_id=" + B,
                              headers=bearer("b-cg"))[2].get("cases"), 30,
               "east's case on cg's list")
        st, _, got = a.http("GET", "/v1/cases", headers=bearer("b-cg"))
        check(st == 200 and [x["report"]["description"] for x in got["cases"]] == ["东门占道 in " + B],
              "east's department key without jurisdiction_id reads east", st, got)
        st, _, got = a.http("GET", "/v1/cases?jurisdiction_id=" + A, headers=bearer("b-cg"))
        check(st == 403 and "east" in got["error"]["message"], "east's key reading " + A,
              st, got)
        st, _, got = a.http("POST", "/v1/cases/C00000001/checkin?jurisdiction_id=" + A, {},
                            headers=bearer("b-cg"))
        check(st == 403, "east's key acting in " + A, st, got)
        st, _, got = a.http("GET", "/v1/cases/C00000001?jurisdiction_id=" + A,
                            headers=bearer("nodist"))
        check(st == 403, "a department key with no district", st, got)
        st, _, got = post_report(a, A, "b-app", "east's integrator posting to " + A)
        check(st == 403 and got[0]["code"] == 403, "east's integrator posting to " + A, st, got)
        st, _, got = a.http("GET", "/requests/C00000001.json?jurisdiction_id=%s&api_key=%s"
                            % (A, KEYS["b-cg"][0]))
        check(st == 403, "east's key reading %s through Open311" % A, st, got)

        # ---- the city's figures ----------------------------------------------------------------
        month = time.strftime("%Y-%m")

        def own(jur):
            st, _, got = a.http("GET", "/v1/figures?period=%s&by=township&jurisdiction_id=%s"
                                % (month, jur), headers=bearer("city"))
            check(st == 200, "a district's own figures", jur, st, got)
            return sum(r.get("dispatched", 0) for r in got.get("rows", []))

        a.wait(lambda: own(A) >= 1 and own(B) >= 1, 30, "both cases dispatched")
        st, _, city = a.http("GET", "/v1/figures?period=%s&by=district" % month,
                             headers=bearer("city"))
        check(st == 200 and city["by"] == "district" and city["unavailable"] == [],
              "city figures", st, city)
        rows = {r["key"]: r for r in city["rows"]}
        check(set(rows) == {A, B}, "one row per district", city)
        for jur in (A, B):
            r = rows[jur]
            check(r["dispatched"] == own(jur) >= 1, "district row sums its own", jur, r)
            check(r["resolution_rate"] == r["resolved"] / r["dispatched"],
                  "resolution rate recomputed", r)
            check(r["checkin_p50_ms"] is None and r["resolve_p90_ms"] is None,
                  "percentiles are not combined", r)
        check(rows[B]["name"] == "东区", "the district's name", rows[B])
        st, _, got = a.http("GET", "/v1/figures?period=%s&by=district" % month,
                            headers=bearer("a-cg"))
        check(st == 403, "a district's key asking the city's figures", st, got)

        # ---- east fails: kill -9 of its four ----------------------------------------------------
        for s in SERVICES:
            b.kill9(s)

        def east_down():
            st, _, got = a.http("GET", "/readyz")
            return st == 200 and got["down"] == [B] and got["districts"][A]["ready"]

        a.wait(east_down, 30, "/readyz naming east as down")
        st, _, got = a.http("GET", "/v1/cases?jurisdiction_id=" + A, headers=bearer("city"))
        check(st == 200 and len(got["cases"]) == 1, A + " still lists its cases", st, got)
        st, _, got = post_report(a, A, "a-app", "after east fell")
        check(st == 200 and got[0]["service_request_id"] == "C00000002",
              A + " still takes Open311 reports", st, got)
        st, _, got = a.http("GET", "/requests/C00000002.json?jurisdiction_id=" + A)
        check(st == 200 and got[0]["description"] == "after east fell",
              A + " still answers Open311 reads", st, got)
        st, _, got = a.http("GET", "/v1/cases?jurisdiction_id=" + B, headers=bearer("city"))
        check(st == 503 and "east" in got["error"]["message"], "east's 503 names it", st, got)
        st, _, got = post_report(a, B, "b-app", "to a fallen district")
        check(st == 503 and "east" in got[0]["description"], "east's Open311 503", st, got)
        st, _, city = a.http("GET", "/v1/figures?period=%s&by=district" % month,
                             headers=bearer("city"), timeout=20)
        check(st == 200 and [r["key"] for r in city["rows"]] == [A] and
              [u["district"] for u in city["unavailable"]] == [B],
              "city figures with east down", st, city)
        print("ok: two districts behind one gateway; east down, testdistrict served")
    except BaseException:
        a.fail(SERVICES + ["gateway"])
        if b:
            b.fail()
        raise
    a.close()
    b.close()


if __name__ == "__main__":
    main()
