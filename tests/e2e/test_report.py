"""Assessment figures on the real binaries: a few cases driven through intake, routing and
tracking (checked in, resolved, verified satisfied and not, reopened, raised by hand, refused),
with 办结 (resolved) counting the closed cases only and a rate with no denominator carried as no
value (a JSON null, an empty CSV cell, "—" in the table) and left out of the score,
then `whistlectl report --period` for this month, this ISO week and this year, by department,
township and grid, as --json, as --csv (parsed with Python's csv module: RFC 4180, with a
department name holding a comma and quotes) and as a table; and the errors that name
figures.period and figures.by.

The catalog is tests/data/catalog-small.json with every deadline a thousand times longer, so no
deadline passes while the test runs and the ladder adds nothing of its own. Counts are checked
against the scenario; on-time check-ins and p50/p90 against the times tracking recorded (never
against the clock). Services run with TZ=Asia/Shanghai when it is installed: the district's
zone decides where a period starts."""
import csv
import datetime
import io
import json
import math
import os
import time

from whistle_e2e import BINARY_DIR, SOURCE_DIR, Cluster

CTL = os.path.join(BINARY_DIR, "tools", "whistlectl", "whistlectl")
CG_NAME = '城管, "综合执法"'

# case -> what happened to it; grid, township (m3 is led by its community, south-02 -> south)
SCENARIO = {
    "A": dict(grid="g1", matter="m2", town="north", depts=["cg", "scjg"], checked=["cg", "scjg"],
              resolved=True, verified=True, satisfied=True, reopened=False, escalations=0,
              closed=True),
    "B": dict(grid="g3", matter="m1", town="south", depts=["cg"], checked=["cg"],
              resolved=True, verified=True, satisfied=False, reopened=True, escalations=0,
              closed=False),
    "D": dict(grid="g2", matter="m1", town="north", depts=["cg"], checked=["cg"],
              resolved=True, verified=False, satisfied=False, reopened=False, escalations=0,
              closed=False),
    "F": dict(grid="g5", matter="m3", town="south", depts=["yjgl", "dcs"], checked=["yjgl"],
              resolved=False, verified=False, satisfied=False, reopened=False, escalations=1,
              closed=False),
}


def local_ms(d):
    return int(time.mktime((d.year, d.month, d.day, 0, 0, 0, 0, 0, -1))) * 1000


def nearest_rank(values, pct):
    if not values:
        return 0
    values = sorted(values)
    return values[math.ceil(len(values) * pct / 100) - 1]


def main():
    if os.path.exists("/usr/share/zoneinfo/Asia/Shanghai"):
        os.environ["TZ"] = "Asia/Shanghai"
        time.tzset()
    c = Cluster()
    pb = c.pb
    A = pb.Action
    with open(os.path.join(SOURCE_DIR, "tests/data/catalog-small.json"), encoding="utf-8") as f:
        cat = json.load(f)
    for w in cat["whistles"].values():
        w["checkin_ms"] *= 1000
        w["resolve_ms"] *= 1000
    cat["verification_window_ms"] *= 1000
    next(m for m in cat["matters"] if m["code"] == "m3")["lead"] = "community"
    next(d for d in cat["departments"] if d["code"] == "cg")["name"] = CG_NAME
    c.catalog = os.path.join(c.tmp, "catalog.json")
    with open(c.catalog, "w", encoding="utf-8") as f:
        json.dump(cat, f, ensure_ascii=False)
    ctl = c.ctl

    def act(case_id, action, actor="", department="", satisfied=False):
        rep = c.call("tracking", c.action_req(case_id, action, actor, department, satisfied))
        assert rep is not None and rep.WhichOneof("body") == "case_action", rep

    try:
        c.start_all()
        ids = {}
        for k, s in SCENARIO.items():
            rep = c.call("intake", c.submit_req("report-" + k, s["grid"], s["matter"],
                                                reporter="r-" + k))
            ids[k] = rep.submit_report.case_id
        refused = pb.Request()
        refused.submit_report.idempotency_key = "report-E"
        t = refused.submit_report.report
        t.grid, t.description, t.reporter = "g3", "survey", "mz-1"
        t.task.affair, t.task.authority_ref, t.task.issuer = "zz", "doc-7", "mz"
        ids["E"] = c.call("intake", refused).submit_report.case_id
        for cid in ids.values():
            c.wait(lambda: c.get_case(cid).WhichOneof("body") == "get_case", what="routing")
        assert c.get_case(ids["E"]).get_case.case.state == pb.REFUSED

        a, b, d, f = ids["A"], ids["B"], ids["D"], ids["F"]
        for dept in ("cg", "scjg"):
            act(a, A.CHECKIN, department=dept)
            act(a, A.COMPLETE, department=dept)
        act(a, A.RESOLVE, actor="north")
        act(a, A.VERIFY, actor="r-A", satisfied=True)
        act(b, A.CHECKIN, department="cg")
        act(b, A.COMPLETE, department="cg")
        act(b, A.RESOLVE, actor="south")
        act(b, A.VERIFY, actor="r-B", satisfied=False)
        act(b, A.CHECKIN, department="cg")
        act(b, A.COMPLETE, department="cg")
        act(b, A.RESOLVE, actor="south")
        act(d, A.CHECKIN, department="cg")
        act(d, A.COMPLETE, department="cg")
        act(d, A.RESOLVE, actor="north")
        ctl("escalate", f, "--as", "south-02", "--reason", "gas smell spreading")
        c.wait(lambda: len(c.get_case(f).get_case.case.assignments) == 2, what="dcs on case F")
        act(f, A.CHECKIN, department="yjgl")

        # what tracking recorded: dispatch times, deadlines in force at dispatch, check-ins
        rec = {}
        for k in SCENARIO:
            got = c.get_case(ids[k]).get_case
            h = list(got.history)
            disp = next(e for e in h if e.action == A.DISPATCH)
            escalated = any(e.action == A.ESCALATE for e in h)
            whistle = disp.note.split(",")[0]
            deadline = (disp.at_ms + cat["whistles"][whistle]["checkin_ms"] if escalated
                        else got.case.checkin_deadline_ms)
            first = {}
            for e in h:
                if e.action == A.CHECKIN:
                    first.setdefault(e.department, e.at_ms)
            # by department each assignment is timed from its latest (re)assignment: a reopen
            # gives every department a fresh one, with the deadline its VERIFY line set
            reopen = [e for e in h if e.action == A.VERIFY and e.to_state == pb.REOPENED]
            since = reopen[-1].at_ms if reopen else disp.at_ms
            own = {}
            for e in h:
                if e.action == A.CHECKIN and e.at_ms >= since:
                    own.setdefault(e.department, e.at_ms)
            res = [e.at_ms for e in h if e.action == A.RESOLVE]
            assert len([e for e in h if e.action == A.ESCALATE]) == SCENARIO[k]["escalations"]
            assert sorted(first) == sorted(SCENARIO[k]["checked"]), (k, first)
            rec[k] = dict(at=disp.at_ms, deadline=deadline, first=first, own=own, since=since,
                          own_deadline=reopen[-1].checkin_deadline_ms if reopen else deadline,
                          any=min(first.values()) if first else None,
                          resolve=res[-1] - disp.at_ms if res else None)
        assert rec["F"]["deadline"] == rec["F"]["at"] + cat["whistles"]["EMERGENCY"]["checkin_ms"]

        def expected(by, frm, to):
            rows = {}
            for k, s in SCENARIO.items():
                r = rec[k]
                if not frm <= r["at"] < to:
                    continue
                keys = s["depts"] if by == "department" else [s["town" if by == "township"
                                                                 else "grid"]]
                for key in keys:
                    ck = r["own"].get(key) if by == "department" else r["any"]
                    at = r["since"] if by == "department" else r["at"]
                    due = r["own_deadline"] if by == "department" else r["deadline"]
                    x = rows.setdefault(key, dict(dispatched=0, checked_in=0, on_time=0,
                                                  resolved=0, verified=0, satisfied=0,
                                                  reopened=0, escalations=0, ck=[], rs=[]))
                    x["dispatched"] += 1
                    if ck is not None:
                        x["checked_in"] += 1
                        x["on_time"] += ck <= due
                        x["ck"].append(ck - at)
                    if s["closed"]:  # 办结: closed, with the resolution that held
                        x["resolved"] += 1
                        x["rs"].append(r["resolve"])
                    for n in ("verified", "satisfied", "reopened"):
                        x[n] += s[n]
                    x["escalations"] += s["escalations"]
            return rows

        def check(rows, want, by):
            assert sorted(r["key"] for r in rows) == sorted(want), (by, rows)
            for r in rows:
                w = want[r["key"]]
                for n in ("dispatched", "checked_in", "resolved", "verified", "satisfied",
                          "reopened", "escalations"):
                    assert int(r[n]) == w[n], (by, r["key"], n, r[n], w[n])
                assert int(r["checked_in_on_time"]) == w["on_time"], (by, r)
                assert int(r["verified_by_default"]) == 0, r
                assert abs(float(r["resolution_rate"]) - w["resolved"] / w["dispatched"]) < 1e-6
                assert abs(float(r["response_rate"]) - w["on_time"] / w["dispatched"]) < 1e-6
                if w["verified"]:
                    sat = w["satisfied"] / w["verified"]
                    assert abs(float(r["satisfaction_rate"]) - sat) < 1e-6, (by, r)
                else:  # nobody answered: no value, not 0.0%
                    assert r["satisfaction_rate"] in (None, ""), (by, r)
                rates = [w["on_time"] / w["dispatched"], w["resolved"] / w["dispatched"]] + (
                    [w["satisfied"] / w["verified"]] if w["verified"] else [])
                assert abs(float(r["score"]) - sum(rates) / len(rates)) < 1e-6, (by, r, rates)
                assert int(r["checkin_p50_ms"]) == nearest_rank(w["ck"], 50), (by, r, w)
                assert int(r["checkin_p90_ms"]) == nearest_rank(w["ck"], 90), (by, r, w)
                assert int(r["resolve_p50_ms"]) == nearest_rank(w["rs"], 50), (by, r, w)
                assert int(r["resolve_p90_ms"]) == nearest_rank(w["rs"], 90), (by, r, w)
            # ranked by score, then key
            order = sorted(rows, key=lambda r: (-float(r["score"]), r["key"]))
            assert [r["key"] for r in rows] == [r["key"] for r in order], (by, rows)
            assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1)), rows

        today = datetime.datetime.fromtimestamp(rec["A"]["at"] / 1000).date()
        iso = today.isocalendar()
        nxt_month = datetime.date(today.year + today.month // 12, today.month % 12 + 1, 1)
        monday = datetime.date.fromisocalendar(iso[0], iso[1], 1)
        periods = [
            (today.strftime("%Y-%m"), local_ms(today.replace(day=1)), local_ms(nxt_month)),
            ("%d-W%02d" % (iso[0], iso[1]), local_ms(monday),
             local_ms(monday + datetime.timedelta(days=7))),
            ("%d" % today.year, local_ms(datetime.date(today.year, 1, 1)),
             local_ms(datetime.date(today.year + 1, 1, 1))),
        ]
        for period, frm, to in periods:
            for by in ("department", "township", "grid"):
                rep = json.loads(ctl("--json", "report", "--period", period, "--by", by).stdout)
                assert (rep["period"], rep["by"], rep["from_ms"], rep["to_ms"]) == \
                    (period, by, frm, to), rep
                want = expected(by, frm, to)
                check(rep["rows"], want, by)
                rows = list(csv.DictReader(io.StringIO(
                    ctl("report", "--period", period, "--by", by, "--csv").stdout, newline="")))
                check(rows, want, by)
                assert [r["name"] for r in rows] == [r["name"] for r in rep["rows"]]
                if by == "department" and "cg" in want:
                    assert next(r for r in rows if r["key"] == "cg")["name"] == CG_NAME
                if by == "township" and "south" in want:
                    assert next(r for r in rows if r["key"] == "south")["name"] == "南街道"
        month = periods[0][0]
        # this month holds every case (a month boundary between the reports would split them)
        if all(periods[0][1] <= r["at"] < periods[0][2] for r in rec.values()):
            rep = json.loads(ctl("--json", "report", "--period", month).stdout)
            got = {r["key"]: r["dispatched"] for r in rep["rows"]}
            assert got == {"cg": 3, "scjg": 1, "yjgl": 1, "dcs": 1}, got

        # the same reply decoded by Google's protobuf, straight off the wire
        req = pb.Request()
        req.figures.period = month
        req.figures.by = "township"
        rep = c.call("tracking", req)
        assert rep.WhichOneof("body") == "figures", rep
        js = json.loads(ctl("--json", "report", "--period", month, "--by", "township").stdout)
        assert [(r.key, r.name, r.dispatched, r.rank) for r in rep.figures.rows] == \
            [(r["key"], r["name"], r["dispatched"], r["rank"]) for r in js["rows"]]

        # the table: a header and one line per key, in rank order
        text = ctl("report", "--period", month).stdout.splitlines()
        assert text[0].startswith(month + " by department"), text
        assert "dispatched" in text[1] and "resp%" in text[1] and "rank" in text[1], text
        assert [l.split()[0] for l in text[2:]] == [r["key"] for r in json.loads(
            ctl("--json", "report", "--period", month).stdout)["rows"]], text
        assert "(no case" in ctl("report", "--period", "2001-W01").stdout

        # refusals name the field; usage errors exit 2
        r = ctl("report", "--period", "2021-W53", rc=1)
        assert "figures.period" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        r = ctl("report", "--period", month, "--by", "street", rc=1)
        assert "figures.by" in r.stderr, r.stderr
        ctl("report", "--period", rc=2)
        ctl("report", "--period", month, "--grid", "g1", rc=2)
        ctl("--json", "report", "--period", month, "--csv", rc=2)
        assert "report --period P" in ctl("report", "--help").stdout
        print("report: figures by department, township and grid agree with the scenario")
        print("1 passed, 0 failed")
    except BaseException:
        c.fail()
        raise
    c.close()


if __name__ == "__main__":
    main()
