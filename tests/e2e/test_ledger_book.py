"""一格一账本 as one book (issue 11, point 8) on the real binaries: `whistlectl ledger --grid G
[--period P]` for a grid with visits (one with a note holding a comma and quotes, one without,
one last month, one in another grid) and cases reported there (one closed after its whole
flow, one still open, one in another grid): the text, the --json object and the --csv table
checked exactly against what tracking recorded (dates from each case's history, never from
the clock); this ISO week flags the staff under 5 hours; last month lists last month's visit
and no case but the same open item; the default period is this month; an unknown grid is
refused with the catalog hint, a bad period names grid_ledger.period, bad flags are usage
errors; and after `whistle-tracking --rebuild` the book is the same, notes included.

The catalog is tests/data/catalog-small.json (g1: north-01 北一社区 of north 北乡, 312
households) with every deadline a thousand times longer, so nothing escalates and no open
case becomes overdue while the test runs. Services run with TZ=Asia/Shanghai when it is
installed."""
import csv
import datetime
import io
import json
import os
import shutil
import subprocess
import sys
import time

from whistle_e2e import CTL, Cluster

NOTE = '走访独居老人, 反映"路灯"不亮'


def local_ms(d):
    return int(time.mktime((d.year, d.month, d.day, 0, 0, 0, 0, 0, -1))) * 1000


def minute(ms):
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ms / 1000))


def second(ms):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000)) if ms else ""


def month_range(d):
    first = d.replace(day=1)
    nxt = (first + datetime.timedelta(days=32)).replace(day=1)
    return first, nxt


def case_dates(c, cid):
    """The LedgerCase tracking should list for `cid`, from GetCase and its history."""
    rep = c.get_case(cid).get_case
    k, h = rep.case, rep.history
    pb = c.pb
    d = {"case_id": k.id, "state": pb.CaseState.Name(k.state),
         "whistle": pb.Whistle.Name(k.whistle), "matter": k.report.matter,
         "matter_name": "占道经营", "description": k.report.description,
         "location": k.report.location,
         "reported_at_ms": k.report.reported_at_ms or k.created_at_ms,
         "dispatched_at_ms": next(e.at_ms for e in h if e.action == pb.DISPATCH),
         "resolved_at_ms": max([e.at_ms for e in h if e.action == pb.RESOLVE] or [0]),
         "closed_at_ms": max([e.at_ms for e in h if e.to_state == pb.CLOSED] or [0]),
         "open": k.state not in (pb.CLOSED, pb.REFUSED),
         "due_ms": 0, "departments": [a.department for a in k.assignments],
         "reopen_count": k.reopen_count, "verified_by_default": k.verified_by_default,
         "refused_reason": ""}
    if d["open"]:
        notified = any(a.state == pb.NOTIFIED for a in k.assignments)
        d["due_ms"] = k.checkin_deadline_ms if notified else k.resolve_deadline_ms
    return d


def text_case(d):
    lines = ["  %s  %s  QUICK 快捷哨  %s %s" % (d["case_id"], d["state"], d["matter"],
                                             d["matter_name"])]
    parts = ["reported " + minute(d["reported_at_ms"]),
             "dispatched " + minute(d["dispatched_at_ms"])]
    if d["resolved_at_ms"]:
        parts.append("resolved " + minute(d["resolved_at_ms"]))
    if d["closed_at_ms"]:
        parts.append("closed " + minute(d["closed_at_ms"]))
    if d["open"]:
        parts.append("due " + minute(d["due_ms"]))
    lines.append("    " + ", ".join(parts))
    lines.append("    departments " + ", ".join(d["departments"]))
    if d["location"]:
        lines.append("    at " + d["location"])
    lines.append("    " + d["description"])
    return lines


def csv_case(section, d):
    return [section, "g1", "", "", "", "", "", "", "", "", "", d["case_id"], d["state"],
            d["whistle"], d["matter"], second(d["reported_at_ms"]),
            second(d["dispatched_at_ms"]), second(d["resolved_at_ms"]),
            second(d["closed_at_ms"]), second(d["due_ms"] if d["open"] else 0),
            " ".join(d["departments"]), d["description"]]


def main():
    if os.path.exists("/usr/share/zoneinfo/Asia/Shanghai"):
        os.environ["TZ"] = "Asia/Shanghai"
        time.tzset()
    c = Cluster(no_deadlines=True)
    pb = c.pb
    A = pb.Action
    try:
        c.start_all()
        today = datetime.date.today()
        month = today.strftime("%Y-%m")
        first, nxt = month_range(today)
        before = today - datetime.timedelta(days=40)   # always last month or earlier
        last_month = before.strftime("%Y-%m")
        week = "%d-W%02d" % today.isocalendar()[:2]

        # visits: two in g1 today (one note with a comma and quotes), one in g1 40 days ago,
        # one in g2
        c.ctl("visit", "--grid", "g1", "--staff", "王一", "--hours", "2", "--note", NOTE)
        c.ctl("visit", "--grid", "g1", "--staff", "李二", "--minutes", "90")
        c.ctl("visit", "--grid", "g1", "--staff", "王一", "--minutes", "45", "--date",
              before.isoformat(), "--note", "上月走访")
        c.ctl("visit", "--grid", "g2", "--staff", "陈五", "--minutes", "60", "--note", "别的网格")

        # cases: A (g1) closed after its whole flow, B (g1) open, C in g2
        def submit(key, grid, description, reporter, location=""):
            req = c.submit_req(key, grid, "m1", description, reporter)
            req.submit_report.report.location = location
            return c.call("intake", req).submit_report.case_id
        a = submit("book-a", "g1", '占道经营, 堵住"消防通道"', "r1")
        b = submit("book-b", "g1", "摊位占用人行道", "r2", "北一路3号")
        other = submit("book-c", "g2", "别的网格的案件", "r3")
        for cid in (a, b, other):
            c.wait(lambda cid=cid: c.get_case(cid).WhichOneof("body") == "get_case",
                   what="dispatch of " + cid)
        for act in (c.action_req(a, A.CHECKIN, department="cg"),
                    c.action_req(a, A.COMPLETE, department="cg"),
                    c.action_req(a, A.RESOLVE, actor="north"),
                    c.action_req(a, A.VERIFY, actor="r1", satisfied=True),
                    c.action_req(b, A.CHECKIN, department="cg")):
            rep = c.call("tracking", act)
            assert rep.WhichOneof("body") == "case_action", rep
        da, db = case_dates(c, a), case_dates(c, b)
        assert da["state"] == "CLOSED" and db["state"] == "IN_PROGRESS", (da, db)

        # ---- --json: one object, every field
        out = c.ctl("ledger", "--grid", "g1", "--period", month, "--json").stdout
        assert out.count("\n") == 1, out
        got = json.loads(out)

        def staff(name, role, minutes, visits, under=False):
            return {"grid": "g1", "staff": name, "role": role, "minutes": minutes,
                    "under_minimum": under, "date": "", "note": "", "visits": visits}

        def visit(name, role, minutes, date, note):
            return {"grid": "g1", "staff": name, "role": role, "minutes": minutes,
                    "under_minimum": False, "date": date, "note": note, "visits": 1}
        want = {"grid": "g1", "period": month, "from_ms": local_ms(first),
                "to_ms": local_ms(nxt), "community": "north-01", "community_name": "北一社区",
                "unit": "north", "unit_name": "北乡", "street": False, "households": 312,
                "staff": [staff("王一", "leader", 120, 1), staff("李二", "worker", 90, 1),
                          staff("张三", "worker", 0, 0), staff("赵四", "worker", 0, 0)],
                "visits": [visit("王一", "leader", 120, today.isoformat(), NOTE),
                           visit("李二", "worker", 90, today.isoformat(), "")],
                "cases": [da, db], "open": [db], "visits_not_listed": 0,
                "cases_not_listed": 0, "open_not_listed": 0}
        assert got == want, "json:\n%s\nwant:\n%s" % (got, want)

        # ---- text for people
        out = c.ctl("ledger", "--grid", "g1", "--period", month).stdout
        last = nxt - datetime.timedelta(days=1)
        lines = ["一格一账本 grid g1, %s (%s to %s)" % (month, first.isoformat(),
                                                     last.isoformat()),
                 "  community north-01 北一社区, township north 北乡, 312 households",
                 "",
                 "staff (1+3): 2 visit(s), 3:30 in the period",
                 "  leader  王一    2:00  1 visit(s)",
                 "  worker  李二    1:30  1 visit(s)",
                 "  worker  张三    0:00",
                 "  worker  赵四    0:00",
                 "",
                 "visits (2)",
                 "  %s  王一    2:00  %s" % (today.isoformat(), NOTE),
                 "  %s  李二    1:30" % today.isoformat(),
                 "",
                 "cases reported (2): 1 open, 1 closed or refused"]
        lines += text_case(da) + text_case(db)
        lines += ["", "open items (1): open now, whenever reported"] + text_case(db)
        want_text = "\n".join(lines) + "\n"
        assert out == want_text, "text:\n%s\nwant:\n%s" % (out, want_text)

        # ---- --csv: one RFC 4180 table with a section column
        proc = subprocess.run([CTL, "ledger", "--grid", "g1", "--period", month, "--csv"],
                              capture_output=True, env=c.ctl_env(), timeout=60)
        assert proc.returncode == 0, proc.stderr
        raw = proc.stdout.decode("utf-8")   # bytes: CRLF as written
        assert raw.endswith("\r\n") and "\n" not in raw.replace("\r\n", ""), repr(raw[:200])
        assert '"走访独居老人, 反映""路灯""不亮"' in raw, raw
        rows = list(csv.reader(io.StringIO(raw, newline="")))
        header = ["section", "grid", "period", "community", "unit", "households", "staff",
                  "role", "visits", "minutes", "date", "case_id", "state", "whistle", "matter",
                  "reported", "dispatched", "resolved", "closed", "due", "departments", "note"]
        e = [""] * 3
        want_rows = [header,
                     ["grid", "g1", month, "north-01", "north", "312"] + [""] * 16,
                     ["staff", "g1"] + e + ["", "王一", "leader", "1", "120"] + [""] * 12,
                     ["staff", "g1"] + e + ["", "李二", "worker", "1", "90"] + [""] * 12,
                     ["staff", "g1"] + e + ["", "张三", "worker", "0", "0"] + [""] * 12,
                     ["staff", "g1"] + e + ["", "赵四", "worker", "0", "0"] + [""] * 12,
                     ["visit", "g1"] + e + ["", "王一", "leader", "", "120", today.isoformat()]
                     + [""] * 10 + [NOTE],
                     ["visit", "g1"] + e + ["", "李二", "worker", "", "90", today.isoformat()]
                     + [""] * 11,
                     csv_case("case", da), csv_case("case", db), csv_case("open", db)]
        assert rows == want_rows, "csv:\n%s\nwant:\n%s" % (rows, want_rows)

        # ---- this ISO week: the same visits, every staff member under 5 hours
        wk = json.loads(c.ctl("ledger", "--grid", "g1", "--period", week, "--json").stdout)
        assert wk["period"] == week
        assert [(s["staff"], s["minutes"], s["under_minimum"]) for s in wk["staff"]] == [
            ("王一", 120, True), ("李二", 90, True), ("张三", 0, True), ("赵四", 0, True)], wk
        assert [v["note"] for v in wk["visits"]] == [NOTE, ""], wk["visits"]

        # ---- last month: its visit, no case reported then, the same open item
        lm = json.loads(c.ctl("ledger", "--grid", "g1", "--period", last_month,
                              "--json").stdout)
        assert [(v["staff"], v["minutes"], v["date"], v["note"]) for v in lm["visits"]] == [
            ("王一", 45, before.isoformat(), "上月走访")], lm["visits"]
        assert lm["staff"][0]["minutes"] == 45 and lm["staff"][0]["under_minimum"] is False
        assert lm["cases"] == [] and lm["open"] == [db], lm
        txt = c.ctl("ledger", "--grid", "g1", "--period", last_month).stdout
        assert "\ncases reported (0): 0 open, 0 closed or refused\n\nopen items (1)" in txt, txt

        # ---- the default period is this month (global --json works too)
        dflt = json.loads(c.ctl("ledger", "--grid", "g1", pre=("--json",)).stdout)
        assert dflt["period"] == month and dflt == got, dflt

        # ---- refusals and usage
        bad = c.ctl("ledger", "--grid", "g99", rc=1)
        assert bad.stderr == ("whistlectl ledger: refused (EFIELD): grid_ledger.grid: unknown "
                              "grid 'g99'; the valid ones: whistlectl catalog list grids\n"), \
            bad.stderr
        bad = c.ctl("ledger", "--grid", "g1", "--period", "2026-13", rc=1)
        assert "grid_ledger.period" in bad.stderr and "2026-13" in bad.stderr, bad.stderr
        assert "needs --grid" in c.ctl("ledger", rc=2).stderr
        assert "pick one" in c.ctl("ledger", "--grid", "g1", "--csv", "--json", rc=2).stderr
        c.ctl("ledger", "--grid", "g1", "--grid", "g2", rc=2)
        c.ctl("ledger", "--grid", "g1", "extra", rc=2)
        assert "Example" in c.ctl("ledger", "--help").stdout

        # ---- a rebuilt tracking keeps the same book, the notes included
        c.wait(lambda: c.ping("notification").head >= c.ping("tracking").head, what="fan-out")
        c.stop("tracking")
        shutil.rmtree(os.path.join(c.tmp, "tracking"))
        c.start("tracking", "--rebuild")
        c.wait_ping("tracking")
        again = json.loads(c.ctl("ledger", "--grid", "g1", "--period", month, "--json").stdout)
        assert again == got, "rebuilt book differs:\n%s\n%s" % (again, got)
        again = json.loads(c.ctl("ledger", "--grid", "g1", "--period", last_month,
                                 "--json").stdout)
        assert again == lm, "rebuilt book of last month differs"
    except BaseException:
        c.fail()
        raise
    c.close()
    print("ledger book: ok")


if __name__ == "__main__":
    sys.exit(main())
