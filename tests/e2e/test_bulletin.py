"""The bulletin (月通报 / 周调度) on the real binaries, in markdown, HTML and CSV.

A scenario through intake, routing and tracking: a case checked in, closed and verified
satisfied (A); a case whose department returned its order with a reason and was released, the
order moved to another department (B); an EMERGENCY case nobody checks in, which the ladder
climbs to 督办 (remind, then supervise) and which stays overdue (C); a case its township raises
by hand after it was checked in (D); grid visits, one of 6 hours and one of 1 hour. Then
`whistlectl bulletin` for this month and this ISO week, district-wide and for one township,
checked section by section: the HTML parsed with Python's html.parser (well nested, one section
per part, the figures in its cells), the CSV with the csv module, the markdown by its headings
and tables; the figures report's rates with no value ("—", an empty CSV cell, a JSON null); the
township's scorecard of `report --by department --unit`; and the refusals naming their field.

The catalog is tests/data/catalog-small.json with a ladder of remind and supervise, an
EMERGENCY check-in of 300 ms and every other deadline a thousand times longer: only case C
meets a deadline while the test runs. Waits are for conditions, with deadlines."""
import csv
import datetime
import html.parser
import io
import json
import os

from whistle_e2e import SOURCE_DIR, Cluster

SECTIONS = ["rankings", "townships", "overdue", "escalations", "missed", "visits"]
UNIT_SECTIONS = ["rankings", "scorecard", "overdue", "escalations", "missed", "visits"]
VOID = {"meta", "br", "hr", "img", "link", "input", "col"}


class Html(html.parser.HTMLParser):
    """Collects the sections (id -> list of table rows, each a list of cell texts) and checks
    that every element is closed in order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.sections, self.order, self.errors = [], {}, [], []
        self.section = None
        self.cell = None
        self.title = ""
        self.h1 = ""

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "section":
            self.section = dict(attrs)["id"]
            self.order.append(self.section)
            self.sections[self.section] = []
        elif tag == "tr" and self.section:
            self.sections[self.section].append([])
        elif tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("</%s> closes %s" % (tag, self.stack[-1:] or "nothing"))
            return
        self.stack.pop()
        if tag in ("td", "th") and self.section:
            self.sections[self.section][-1].append(self.cell)
            self.cell = None
        elif tag == "section":
            self.section = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data
        if self.stack and self.stack[-1] == "title":
            self.title += data
        if self.stack and self.stack[-1] == "h1":
            self.h1 += data


def parse_html(text):
    p = Html()
    p.feed(text)
    p.close()
    assert not p.errors and not p.stack, (p.errors, p.stack)
    assert text.startswith("<!DOCTYPE html>") and "<style>" in text, text[:200]
    assert "<link" not in text and "<script" not in text and "src=" not in text  # self-contained
    tables = {}
    for sid, rows in p.sections.items():
        if rows:
            head = rows[0]
            tables[sid] = [dict(zip(head, r)) for r in rows[1:]]
        else:
            tables[sid] = []
    return p, tables


def parse_csv(text):
    """bulletin CSV: blocks of a header row `section,...` then rows named by their section."""
    blocks, head = {}, None
    for row in csv.reader(io.StringIO(text, newline="")):
        if not row:
            continue
        if row[0] == "section":
            head = row
            continue
        blocks.setdefault(row[0], []).append(dict(zip(head[1:], row[1:])))
    return blocks


def parse_md(text):
    """## headings in order, each with its table rows as dicts (empty list for 无 (none))."""
    out, cur, head = [], None, None
    for line in text.splitlines():
        if line.startswith("## "):
            cur = (line[3:], [])
            out.append(cur)
            head = None
        elif line.startswith("|") and cur is not None:
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            if head is None:
                head = cells
            elif not set(line) <= set("|-"):
                cur[1].append(dict(zip(head, cells)))
    return out


def main():
    c = Cluster()
    pb = c.pb
    A = pb.Action
    with open(os.path.join(SOURCE_DIR, "tests/data/catalog-small.json"), encoding="utf-8") as f:
        cat = json.load(f)
    for name, w in cat["whistles"].items():
        w["checkin_ms"] = 300 if name == "EMERGENCY" else w["checkin_ms"] * 1000
        w["resolve_ms"] *= 1000
    cat["verification_window_ms"] *= 1000
    cat["escalation"] = [{"step": "remind"}, {"step": "supervise"}]
    c.catalog = os.path.join(c.tmp, "catalog.json")
    with open(c.catalog, "w", encoding="utf-8") as f:
        json.dump(cat, f, ensure_ascii=False)
    ctl = c.ctl

    def act(case_id, action, actor="", department="", satisfied=False, note=""):
        rep = c.call("tracking", c.action_req(case_id, action, actor, department, satisfied,
                                              note))
        assert rep is not None and rep.WhichOneof("body") == "case_action", rep

    try:
        c.start_all()
        ids = {}
        for k, grid, matter in (("A", "g1", "m2"), ("B", "g3", "m1"), ("C", "g5", "m3"),
                                ("D", "g2", "m1")):
            rep = c.call("intake", c.submit_req("b-" + k, grid, matter, reporter="r-" + k))
            ids[k] = rep.submit_report.case_id
        for cid in ids.values():
            c.wait(lambda: c.get_case(cid).WhichOneof("body") == "get_case", what="dispatch")
        a, b, cc, d = ids["A"], ids["B"], ids["C"], ids["D"]
        for dept in ("cg", "scjg"):
            act(a, A.CHECKIN, department=dept)
            act(a, A.COMPLETE, department=dept)
        act(a, A.RESOLVE, actor="north")
        act(a, A.VERIFY, actor="r-A", satisfied=True)
        act(b, A.RETURN, department="cg", note="不属本部门职责")
        ctl("assign", b, "--as", "south", "--dept", "scjg", "--from", "cg")
        act(b, A.CHECKIN, department="scjg")
        act(d, A.CHECKIN, department="cg")
        ctl("escalate", d, "--as", "north", "--reason", "群众反映强烈")

        def steps(cid):
            return [e.note.split(":")[0] for e in c.get_case(cid).get_case.history
                    if e.action == A.ESCALATE]
        c.wait(lambda: steps(cc) == ["remind", "supervise"], what="C climbs to supervise")
        c.wait(lambda: steps(d) == ["manual"], what="D raised by hand")
        now = datetime.datetime.now()
        today = now.date().isoformat()
        ctl("visit", "--grid", "g1", "--staff", "王一", "--hours", "6", "--date", today)
        ctl("visit", "--grid", "g1", "--staff", "李二", "--hours", "1", "--date", today)

        month = now.strftime("%Y-%m")
        iso = now.isocalendar()
        week = "%d-W%02d" % (iso[0], iso[1])
        thursday = datetime.date.fromisocalendar(iso[0], iso[1], 4)
        week_in_month = thursday.strftime("%Y-%m") == month
        disp = [e.at_ms for k in ids for e in c.get_case(ids[k]).get_case.history
                if e.action == A.DISPATCH]
        same_month = all(datetime.datetime.fromtimestamp(t / 1000).strftime("%Y-%m") == month
                         for t in disp)

        # ---- the month, district-wide: HTML written to a file ----
        out = os.path.join(c.tmp, "bulletin.html")
        r = ctl("bulletin", "--period", month, "--format", "html", "--out", out)
        assert r.stdout == "", r.stdout
        assert not os.path.exists(out + ".tmp")
        with open(out, encoding="utf-8") as f:
            page, tables = parse_html(f.read())
        assert page.order == SECTIONS, page.order
        assert month in page.title and "月通报" in page.title, page.title
        assert page.h1 == page.title
        ranks = {r["部门 department"]: r for r in tables["rankings"]}
        if same_month:
            assert set(ranks) == {"cg", "scjg", "yjgl", "dcs"}, ranks
            # nothing last month: no previous rank, a new entry
            assert all(r["上期 previous"] == "—" and r["变化 change"] == "新 new"
                       for r in ranks.values()), ranks
            # C: nobody answered the resident: no satisfaction rate, not 0.0%
            assert ranks["yjgl"]["满意率 satisfaction"] == "—", ranks["yjgl"]
            assert ranks["yjgl"]["未按时报到 missed"] == "1", ranks["yjgl"]
            # B: cg returned its order with a reason and was released: not charged
            assert ranks["cg"]["未按时报到 missed"] == "0", ranks["cg"]
            assert ranks["cg"]["响应率 response"] == "100.0%", ranks["cg"]
            towns = {r["乡街 unit"]: r for r in tables["townships"]}
            assert set(towns) == {"north", "south"}, towns
            assert towns["north"]["升级/督办以上 escalations"] == "1 / 1", towns["north"]
            assert towns["south"]["升级/督办以上 escalations"] == "2 / 1", towns["south"]
        overdue = tables["overdue"]
        assert [o["案件 case"] for o in overdue] == [cc], overdue
        assert overdue[0]["未报到 waiting"] == "yjgl" and overdue[0]["期限 deadline"] == \
            "报到 check-in", overdue
        esc = [(e["案件 case"], e["步骤 step"]) for e in tables["escalations"]]
        assert sorted(esc) == sorted([(cc, "督办 supervise"), (d, "手动升哨 manual")]), esc
        missed = {m["部门 department"] for m in tables["missed"]}
        if same_month:
            assert missed == {"yjgl"}, missed
        short = {(s["网格 grid"], s["姓名 staff"]): s for s in tables["visits"]}
        if week_in_month:
            # every week of the month begun so far counts: 王一's 6 hours make this week only
            weeks = short[("g1", "李二")]["不足周数 weeks short"].split(" / ")
            assert weeks[0] == weeks[1], short[("g1", "李二")]
            assert short[("g1", "李二")]["小时 hours"] == "1:00", short
            w1 = ("g1", "王一")
            assert w1 not in short or short[w1]["不足周数 weeks short"] == "%d / %s" % (
                int(weeks[1]) - 1, weeks[1]), short.get(w1)
            assert ("g6", "梁一") in short  # no visit at all

        # ---- the same month as CSV: the same sections and figures ----
        r = ctl("bulletin", "--period", month, "--format", "csv")
        blocks = parse_csv(r.stdout)
        assert list(blocks) == ["bulletin"] + [s for s in SECTIONS if blocks.get(s)] or \
            set(blocks) <= set(["bulletin"] + SECTIONS), list(blocks)
        meta = blocks["bulletin"][0]
        assert meta["period"] == month and meta["kind"] == "month" and "月通报" in meta["title"]
        assert [o["case_id"] for o in blocks["overdue"]] == [cc], blocks["overdue"]
        assert int(blocks["overdue"][0]["overdue_ms"]) >= 0
        assert sorted((e["case_id"], e["step"]) for e in blocks["escalations"]) == \
            sorted([(cc, "supervise"), (d, "manual")]), blocks["escalations"]
        if same_month:
            rows = {r["key"]: r for r in blocks["rankings"]}
            assert rows["yjgl"]["satisfaction_rate"] == "", rows["yjgl"]  # no value: empty
            assert float(rows["cg"]["response_rate"]) == 1.0, rows["cg"]
            assert rows["cg"]["previous_rank"] == "" and rows["cg"]["rank_change"] == ""
            assert [r["key"] for r in blocks["rankings"]] == [r["部门 department"] for r in
                                                               tables["rankings"]]
            assert {m["key"] for m in blocks["missed"]} == {"yjgl"}
        if week_in_month:
            v = {(s["grid"], s["staff"]): s for s in blocks["visits"]}
            assert v[("g1", "李二")]["minutes"] == "60", v[("g1", "李二")]
            assert v[("g1", "李二")]["weeks_short"] == weeks[1], v[("g1", "李二")]

        # ---- the week (周调度) as markdown ----
        r = ctl("bulletin", "--period", week, "--format", "md")
        lines = r.stdout.splitlines()
        assert lines[0].startswith("# ") and week in lines[0] and "周调度" in lines[0], lines[0]
        md = parse_md(r.stdout)
        assert len(md) == 6, [h for h, _ in md]
        heads = [h for h, _ in md]
        assert heads[0].startswith("1. 部门排名") and heads[3].startswith("4. 督办及以上"), heads
        md = dict((h.split(" ")[1], rows) for h, rows in md)
        assert [o["案件 case"] for o in md["超期案件"]] == [cc]
        assert sorted(e["案件 case"] for e in md["督办及以上"]) == sorted([cc, d])
        v = {(s["网格 grid"], s["姓名 staff"]) for s in md["走访不足5小时"]}
        assert ("g1", "李二") in v and ("g1", "王一") not in v, v

        # ---- one township: its cases, its grids, its scorecard ----
        r = ctl("bulletin", "--period", week, "--unit", "north", "--format", "html")
        page, tables = parse_html(r.stdout)
        assert page.order == UNIT_SECTIONS, page.order
        assert "北乡" in page.title
        assert {r["部门 department"] for r in tables["rankings"]} == {"cg", "scjg", "dcs"}
        assert [r["乡街 unit"] for r in tables["scorecard"]] == ["north"], tables["scorecard"]
        assert tables["overdue"] == [], tables["overdue"]
        assert [e["案件 case"] for e in tables["escalations"]] == [d]
        assert {s["网格 grid"] for s in tables["visits"]} <= {"g1", "g2"}, tables["visits"]
        r = ctl("bulletin", "--period", week, "--unit", "south", "--format", "csv")
        blocks = parse_csv(r.stdout)
        assert [e["case_id"] for e in blocks["escalations"]] == [cc]
        assert {r["key"] for r in blocks["rankings"]} == {"cg", "scjg", "yjgl"}
        cg = next(r for r in blocks["rankings"] if r["key"] == "cg")
        assert cg["response_rate"] == "", cg  # its only order there was returned and released

        # ---- report --unit: the departments over one township's cases, then its scorecard ----
        r = ctl("report", "--period", week, "--by", "department", "--unit", "south")
        assert "scorecard of south 南街道" in r.stdout and "to 督办 or above" in r.stdout, r.stdout
        row = next(l for l in r.stdout.splitlines() if l.startswith("cg "))
        assert "—" in row, row  # cg's response rate over south's cases has no value
        js = json.loads(ctl("--json", "report", "--period", week, "--unit", "south").stdout)
        cgj = next(x for x in js["rows"] if x["key"] == "cg")
        assert cgj["response_rate"] is None and cgj["has_response_rate"] is False, cgj
        assert cgj["released"] == 1 and cgj["missed_checkins"] == 0, cgj
        js = json.loads(ctl("--json", "report", "--period", week, "--by", "township",
                            "--unit", "south").stdout)
        assert [x["key"] for x in js["rows"]] == ["south"] and js["rows"][0]["rank"] in (1, 2)
        rows = list(csv.DictReader(io.StringIO(
            ctl("report", "--period", week, "--unit", "south", "--csv").stdout, newline="")))
        assert next(x for x in rows if x["key"] == "cg")["response_rate"] == ""

        # ---- refusals name the field; usage errors exit 2 ----
        r = ctl("bulletin", "--period", month, "--unit", "nowhere", "--format", "md", rc=1)
        assert "bulletin.unit" in r.stderr, r.stderr
        r = ctl("bulletin", "--period", "2026-13", "--format", "md", rc=1)
        assert "bulletin.period" in r.stderr, r.stderr
        r = ctl("report", "--period", month, "--unit", "south-02", rc=1)
        assert "figures.unit" in r.stderr, r.stderr
        ctl("bulletin", "--period", month, rc=2)                       # no --format
        ctl("bulletin", "--period", month, "--format", "pdf", rc=2)
        ctl("bulletin", "--format", "md", rc=2)                        # no --period
        ctl("bulletin", "--period", month, "--format", "md", "--overdue", "0", rc=2)
        assert "--format md|html|csv" in ctl("bulletin", "--help").stdout
        js = json.loads(ctl("--json", "bulletin", "--period", month).stdout)
        assert js["period"] == month and js["kind"] == "month" and js["overdue_total"] == 1, js
        print("bulletin: md, html and csv hold every section of the scenario")
        print("1 passed, 0 failed")
    except BaseException:
        c.fail()
        raise
    c.close()


if __name__ == "__main__":
    main()
