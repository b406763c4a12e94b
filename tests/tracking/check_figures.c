/* check_figures.c: assessment figures against a scenario computed by hand.
 *
 * Eight cases are written straight into a fresh ledger (tracking_ledger_put and
 * tracking_ledger_history_add, exactly as tracking stores them) with known times, in UTC, the
 * catalog being tests/data/catalog-small.json (QUICK: check in within 60 s, EMERGENCY 30 s,
 * TOUGH 120 s). T0 = 2026-11-23 00:00Z, the first instant of 2026-W48; M = one minute.
 *
 *   C1 g1 lead north   QUICK, dispatched T0 (the week's first instant): cg checks in +30 s (on
 *                      time), scjg +2 min (late); resolved +10 min; verified satisfied. CLOSED.
 *   C2 g3 lead south   QUICK, T0+1h, to scjg; scjg returns, the lead moves the order to cg
 *                      (scjg RELEASED, still counted as dispatched); cg checks in +60 s (on the
 *                      deadline: on time); resolved +30 min; verified unsatisfied (reopened);
 *                      cg checks in again +50 min, resolved again +60 min. RESOLVED.
 *   C3 g5 lead south-02 (a community: counts for south) EMERGENCY, T0+2h, yjgl and cg; remind
 *                      +1 min, raise to TOUGH +2 min (new deadline, dcs added); yjgl checks in
 *                      +90 s: late by the 30 s in force at dispatch, though on time by either
 *                      the raised deadline or TOUGH's 120 s; dcs +150 s; cg never. Open.
 *   C4 g2 lead north   QUICK, T0+3h, cg; the case carries a 10 s deadline (the catalog said so
 *                      then: a case never escalated keeps routing's own), cg checks in +15 s
 *                      (late); resolved +5 min; closed by default (by_default, satisfied set
 *                      too, which must not count as satisfied). CLOSED.
 *   C5 g4              refused at T0+4h. Never counts.
 *   C6 g1 lead north   QUICK, 2026-11-21 10:00Z (November, before W48), scjg checks in +3 min.
 *   C7 g1 lead north   QUICK, 2026-10-31 23:59:59.999Z (one ms before November), cg.
 *   C8 g3 lead south   QUICK, 2026-12-01 00:00Z (November's end: excluded), cg. */
#include "tracking.h"
#include "wh_test.h"
#include "whistle/error.h"
#include "whistle/store.h"
#include <check.h>
#include <time.h>

#define T0 INT64_C(1795392000000)       /* 2026-11-23 00:00Z, 2026-W48 starts */
#define W48_TO INT64_C(1795996800000)   /* 2026-11-30 00:00Z */
#define NOV_FROM INT64_C(1793491200000) /* 2026-11-01 00:00Z */
#define NOV_TO INT64_C(1796083200000)   /* 2026-12-01 00:00Z */
#define S_ INT64_C(1000)
#define M_ INT64_C(60000)
#define H_ INT64_C(3600000)
#define AC(x) WHISTLE__V1__ACTION__##x
#define ST(x) WHISTLE__V1__CASE_STATE__##x
#define AS(x) WHISTLE__V1__ASSIGNMENT_STATE__##x
#define WH(x) WHISTLE__V1__WHISTLE__##x

struct s_line {
    int64_t at;
    int action;
    const char *dept;
    int satisfied, by_default;
    const char *note;
};

struct s_fixture {
    const char *id, *grid, *lead;
    int state, whistle;
    int64_t checkin_deadline;
    uint32_t reopen_count;
    const char *depts[4];
    int dstates[4];
    struct s_line lines[12]; /* ends at action 0 */
};

static const struct s_fixture s_cases[] = {
    {"C00000001", "g1", "north", ST(CLOSED), WH(QUICK), T0 + M_, 0,
     {"cg", "scjg"}, {AS(DONE), AS(DONE)},
     {{T0, AC(DISPATCH), "", 0, 0, "QUICK, lead north, 2 department(s)"},
      {T0 + 30 * S_, AC(CHECKIN), "cg", 0, 0, ""},
      {T0 + 2 * M_, AC(CHECKIN), "scjg", 0, 0, ""},
      {T0 + 5 * M_, AC(COMPLETE), "cg", 0, 0, ""},
      {T0 + 6 * M_, AC(COMPLETE), "scjg", 0, 0, ""},
      {T0 + 10 * M_, AC(RESOLVE), "", 0, 0, ""},
      {T0 + 20 * M_, AC(VERIFY), "", 1, 0, ""}}},
    {"C00000002", "g3", "south", ST(RESOLVED), WH(QUICK), T0 + H_ + M_, 1,
     {"scjg", "cg"}, {AS(RELEASED), AS(DONE)},
     {{T0 + H_, AC(DISPATCH), "", 0, 0, "QUICK, lead south, 1 department(s)"},
      {T0 + H_ + 30 * S_, AC(RETURN), "scjg", 0, 0, "not ours"},
      {T0 + H_ + 48 * S_, AC(ASSIGN), "cg", 0, 0, ""},
      {T0 + H_ + M_, AC(CHECKIN), "cg", 0, 0, ""},
      {T0 + H_ + 20 * M_, AC(COMPLETE), "cg", 0, 0, ""},
      {T0 + H_ + 30 * M_, AC(RESOLVE), "", 0, 0, ""},
      {T0 + H_ + 40 * M_, AC(VERIFY), "", 0, 0, ""},
      {T0 + H_ + 50 * M_, AC(CHECKIN), "cg", 0, 0, ""},
      {T0 + H_ + 55 * M_, AC(COMPLETE), "cg", 0, 0, ""},
      {T0 + H_ + 60 * M_, AC(RESOLVE), "", 0, 0, ""}}},
    {"C00000003", "g5", "south-02", ST(IN_PROGRESS), WH(TOUGH), T0 + 2 * H_ + 2 * M_ + 120 * S_,
     0, {"yjgl", "cg", "dcs"}, {AS(CHECKED_IN), AS(NOTIFIED), AS(CHECKED_IN)},
     {{T0 + 2 * H_, AC(DISPATCH), "", 0, 0, "EMERGENCY, lead south-02, 2 department(s)"},
      {T0 + 2 * H_ + M_, AC(ESCALATE), "", 0, 0, "remind: check-in deadline passed"},
      {T0 + 2 * H_ + 90 * S_, AC(CHECKIN), "yjgl", 0, 0, ""},
      {T0 + 2 * H_ + 2 * M_, AC(ESCALATE), "", 0, 0, "raise: check-in deadline passed"},
      {T0 + 2 * H_ + 150 * S_, AC(CHECKIN), "dcs", 0, 0, ""}}},
    {"C00000004", "g2", "north", ST(CLOSED), WH(QUICK), T0 + 3 * H_ + 10 * S_, 0,
     {"cg"}, {AS(DONE)},
     {{T0 + 3 * H_, AC(DISPATCH), "", 0, 0, "QUICK, lead north, 1 department(s)"},
      {T0 + 3 * H_ + 15 * S_, AC(CHECKIN), "cg", 0, 0, ""},
      {T0 + 3 * H_ + 4 * M_, AC(COMPLETE), "cg", 0, 0, ""},
      {T0 + 3 * H_ + 5 * M_, AC(RESOLVE), "", 0, 0, ""},
      {T0 + 3 * H_ + 15 * M_, AC(VERIFY), "", 1, 1, "no answer within the window"}}},
    {"C00000005", "g4", "", ST(REFUSED), 0, 0, 0, {NULL}, {0},
     {{T0 + 4 * H_, AC(REFUSE), "", 0, 0, "report.task.funding_ref: not admitted"}}},
    {"C00000006", "g1", "north", ST(IN_PROGRESS), WH(QUICK), T0 - 38 * H_ + M_, 0,
     {"scjg"}, {AS(CHECKED_IN)},
     {{T0 - 38 * H_, AC(DISPATCH), "", 0, 0, "QUICK, lead north, 1 department(s)"},
      {T0 - 38 * H_ + 3 * M_, AC(CHECKIN), "scjg", 0, 0, ""}}},
    {"C00000007", "g1", "north", ST(DISPATCHED), WH(QUICK), NOV_FROM - 1 + M_, 0,
     {"cg"}, {AS(NOTIFIED)},
     {{NOV_FROM - 1, AC(DISPATCH), "", 0, 0, "QUICK, lead north, 1 department(s)"}}},
    {"C00000008", "g3", "south", ST(DISPATCHED), WH(QUICK), NOV_TO + M_, 0,
     {"cg"}, {AS(NOTIFIED)},
     {{NOV_TO, AC(DISPATCH), "", 0, 0, "QUICK, lead south, 1 department(s)"}}},
};

/* One expected row; rates as exact fractions of the counts above them. */
struct s_want {
    const char *key, *name;
    uint32_t dispatched, checked_in, on_time, resolved, verified, satisfied, by_default,
        reopened, escalations;
    int64_t ck50, ck90, rs50, rs90;
    double response, resolution, satisfaction, score;
};

static char *s_dir;
static wh_store_t *s_st;
static struct wh_catalog *s_cat;

static void s_write_fixture(MDB_txn *txn, const struct s_fixture *f)
{
    Whistle__V1__Case c = WHISTLE__V1__CASE__INIT;
    Whistle__V1__Report r = WHISTLE__V1__REPORT__INIT;
    Whistle__V1__Assignment as[4], *asp[4];
    r.grid = (char *)f->grid;
    r.matter = "m1";
    r.description = "fixture";
    r.reporter = "r1";
    c.id = (char *)f->id;
    c.report = &r;
    c.state = f->state;
    c.whistle = f->whistle;
    c.lead_unit = (char *)f->lead;
    c.created_at_ms = f->lines[0].at;
    c.checkin_deadline_ms = f->checkin_deadline;
    c.reopen_count = f->reopen_count;
    for (size_t i = 0; i < 4 && f->depts[i]; i++) {
        whistle__v1__assignment__init(&as[i]);
        as[i].department = (char *)f->depts[i];
        as[i].state = f->dstates[i];
        asp[i] = &as[i];
        c.n_assignments = i + 1;
    }
    c.assignments = asp;
    size_t n = 0;
    for (; n < 12 && f->lines[n].action; n++) {
        const struct s_line *l = &f->lines[n];
        Whistle__V1__HistoryEntry e = WHISTLE__V1__HISTORY_ENTRY__INIT;
        e.at_ms = l->at;
        e.action = l->action;
        e.actor = "fixture";
        e.department = (char *)l->dept;
        e.note = (char *)l->note;
        e.satisfied = l->satisfied;
        e.by_default = l->by_default;
        ck_assert_int_eq(tracking_ledger_history_add(s_st, txn, c.id, n + 1, &e), 0);
    }
    c.version = n;
    c.updated_at_ms = f->lines[n - 1].at;
    c.verified_by_default = f->state == ST(CLOSED) && f->lines[n - 1].by_default;
    struct tracking_before none;
    tracking_ledger_before(NULL, &none);
    ck_assert_int_eq(tracking_ledger_put(s_st, txn, &c, &none), 0);
}

static void s_setup(void)
{
    ck_assert_int_eq(setenv("TZ", "UTC", 1), 0);
    tzset();
    s_dir = wh_test_tmpdir();
    ck_assert_ptr_nonnull(s_dir);
    static const char *const tables[] = {TRACKING_TABLES, NULL};
    char db[256], err[256];
    snprintf(db, sizeof db, "%s/tracking", s_dir);
    s_st = wh_store_open(db, tables);
    ck_assert_ptr_nonnull(s_st);
    s_cat = wh_catalog_load(WHISTLE_SOURCE_DIR "/tests/data/catalog-small.json", err, sizeof err);
    ck_assert_msg(s_cat != NULL, "%s", err);
    MDB_txn *txn = wh_store_txn(s_st);
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++)
        s_write_fixture(txn, &s_cases[i]);
    ck_assert_int_eq(wh_store_commit(s_st), 0);
}

static void s_teardown(void)
{
    wh_store_close(&s_st);
    wh_catalog_destroy(&s_cat);
    wh_test_rmdir(s_dir);
    free(s_dir);
}

/* Computes period/by and checks the reply against `want` (in rank order). */
static void s_check(const char *period, const char *by, int64_t from, int64_t to,
                    const struct s_want *want, size_t n_want)
{
    Whistle__V1__Figures q = WHISTLE__V1__FIGURES__INIT;
    Whistle__V1__FiguresReply out;
    struct wh_field_error err;
    q.period = (char *)period;
    q.by = (char *)by;
    MDB_txn *txn = wh_store_txn(s_st);
    int rc = tracking_figures_compute(s_st, txn, s_cat, &q, &out, &err);
    wh_store_abort(s_st);
    ck_assert_msg(rc == 0, "%s by %s: %s", period, by, err.message);
    ck_assert_str_eq(out.period, period);
    ck_assert_str_eq(out.by, by[0] ? by : "department");
    ck_assert_int_eq(out.from_ms, from);
    ck_assert_int_eq(out.to_ms, to);
    ck_assert_msg(out.n_rows == n_want, "%s by %s: %zu rows, want %zu", period, by, out.n_rows,
                  n_want);
    for (size_t i = 0; i < n_want; i++) {
        const Whistle__V1__FigureRow *r = out.rows[i];
        const struct s_want *w = &want[i];
        ck_assert_msg(strcmp(r->key, w->key) == 0, "%s by %s: rank %zu is %s, want %s", period,
                      by, i + 1, r->key, w->key);
        ck_assert_str_eq(r->name, w->name);
        ck_assert_uint_eq(r->rank, i + 1);
        ck_assert_uint_eq(r->dispatched, w->dispatched);
        ck_assert_uint_eq(r->checked_in, w->checked_in);
        ck_assert_uint_eq(r->checked_in_on_time, w->on_time);
        ck_assert_uint_eq(r->resolved, w->resolved);
        ck_assert_uint_eq(r->verified, w->verified);
        ck_assert_uint_eq(r->satisfied, w->satisfied);
        ck_assert_uint_eq(r->verified_by_default, w->by_default);
        ck_assert_uint_eq(r->reopened, w->reopened);
        ck_assert_uint_eq(r->escalations, w->escalations);
        ck_assert_int_eq(r->checkin_p50_ms, w->ck50);
        ck_assert_int_eq(r->checkin_p90_ms, w->ck90);
        ck_assert_int_eq(r->resolve_p50_ms, w->rs50);
        ck_assert_int_eq(r->resolve_p90_ms, w->rs90);
        ck_assert_double_eq_tol(r->response_rate, w->response, 1e-9);
        ck_assert_double_eq_tol(r->resolution_rate, w->resolution, 1e-9);
        ck_assert_double_eq_tol(r->satisfaction_rate, w->satisfaction, 1e-9);
        ck_assert_double_eq_tol(r->score, w->score, 1e-9);
    }
    tracking_figures_free(&out);
    tracking_figures_free(&out); /* idempotent */
}

/* 2026-W48 holds C1..C4 (C5 refused; C6, C7, C8 outside). By department, every assignment:
 *   cg    C1 C2 C3 C4: checked in C1 30 s, C2 60 s, C4 15 s; on time C1, C2 (C4 missed its own
 *         10 s) -> 2/4; resolved C1 10 min, C2 30 min (the first), C4 5 min -> 3/4; verified C1
 *         (satisfied) C2 (not) C4 (by default) -> satisfaction 1/(3-1); reopened C2; 2 ESCALATE
 *         lines (C3). check-in [15,30,60] s: p50 the 2nd, p90 the 3rd; resolve [5,10,30] min.
 *         score (0.5 + 0.75 + 0.5)/3.
 *   scjg  C1 (checked in 120 s, late), C2 (RELEASED, never checked in): 0/2; resolved 2/2;
 *         satisfied 1 of 2 verified; reopened C2. score (0 + 1 + 0.5)/3 = 0.5.
 *   dcs   C3: checked in 150 s, late (30 s at dispatch); nothing else but 2 escalations.
 *   yjgl  C3: checked in 90 s, late (not by TOUGH's 120 s nor the raised deadline). dcs and
 *         yjgl tie at score 0: key order. */
START_TEST(week_by_department)
{
    static const struct s_want want[] = {
        {"cg", "城管", 4, 3, 2, 3, 3, 1, 1, 1, 2, 30 * S_, 60 * S_, 10 * M_, 30 * M_,
         2.0 / 4, 3.0 / 4, 1.0 / 2, (2.0 / 4 + 3.0 / 4 + 1.0 / 2) / 3},
        {"scjg", "市场监管", 2, 1, 0, 2, 2, 1, 0, 1, 0, 120 * S_, 120 * S_, 10 * M_, 30 * M_,
         0, 1, 0.5, 0.5},
        {"dcs", "督查室", 1, 1, 0, 0, 0, 0, 0, 0, 2, 150 * S_, 150 * S_, 0, 0, 0, 0, 0, 0},
        {"yjgl", "应急管理", 1, 1, 0, 0, 0, 0, 0, 0, 2, 90 * S_, 90 * S_, 0, 0, 0, 0, 0, 0},
    };
    s_check("2026-W48", "department", T0, W48_TO, want, 4);
    s_check("2026-W48", "", T0, W48_TO, want, 4); /* department is the default */
}
END_TEST

/* By township, one case each, first check-in of any department:
 *   north  C1 (30 s, on time), C4 (15 s, late by its 10 s): 1/2; resolved 2/2; verified C1
 *          satisfied, C4 by default: 1/(2-1). check-in [15,30] s: p50 the 1st, p90 the 2nd;
 *          resolve [5,10] min. score (0.5 + 1 + 1)/3.
 *   south  C2 (60 s, on time), C3 (yjgl 90 s, late; led by community south-02): 1/2; resolved
 *          C2 30 min: 1/2; verified C2 unsatisfied: 0/1; reopened 1; 2 escalations. */
START_TEST(week_by_township)
{
    static const struct s_want want[] = {
        {"north", "北乡", 2, 2, 1, 2, 2, 1, 1, 0, 0, 15 * S_, 30 * S_, 5 * M_, 10 * M_,
         0.5, 1, 1, 2.5 / 3},
        {"south", "南街道", 2, 2, 1, 1, 1, 0, 0, 1, 2, 60 * S_, 90 * S_, 30 * M_, 30 * M_,
         0.5, 0.5, 0, 1.0 / 3},
    };
    s_check("2026-W48", "township", T0, W48_TO, want, 2);
}
END_TEST

/* By grid: g1 C1 all 1 -> 1; g3 C2 (1 + 1 + 0)/3; g2 C4 late, resolved, only a default
 * verification (satisfaction 0/0 = 0): (0 + 1 + 0)/3; g5 C3: 0. */
START_TEST(week_by_grid)
{
    static const struct s_want want[] = {
        {"g1", "北一社区 王一", 1, 1, 1, 1, 1, 1, 0, 0, 0, 30 * S_, 30 * S_, 10 * M_, 10 * M_,
         1, 1, 1, 1},
        {"g3", "南一社区 吴九", 1, 1, 1, 1, 1, 0, 0, 1, 0, 60 * S_, 60 * S_, 30 * M_, 30 * M_,
         1, 1, 0, 2.0 / 3},
        {"g2", "北一社区 陈五", 1, 1, 0, 1, 1, 0, 1, 0, 0, 15 * S_, 15 * S_, 5 * M_, 5 * M_,
         0, 1, 0, 1.0 / 3},
        {"g5", "南二社区 林七", 1, 1, 0, 0, 0, 0, 0, 0, 2, 90 * S_, 90 * S_, 0, 0, 0, 0, 0, 0},
    };
    s_check("2026-W48", "grid", T0, W48_TO, want, 4);
}
END_TEST

/* November adds C6 (scjg, north, g1: checked in 3 min, late); C7 is a millisecond early and C8
 * exactly at the end: both out.
 *   scjg   C1 C2 C6: on time 0/3; resolved 2/3; satisfaction 1/2; check-in [120,180] s: p50 the
 *          1st, p90 the 2nd. score (0 + 2/3 + 1/2)/3.
 *   north  C1 C4 C6: on time 1/3 (C1); resolved 2/3; satisfaction 1/(2-1); check-in
 *          [15,30,180] s: p50 the 2nd, p90 the 3rd. score (1/3 + 2/3 + 1)/3.
 *   g1     C1 C6: on time 1/2, resolved 1/2, satisfaction 1/1: (0.5 + 0.5 + 1)/3 = 2/3, the
 *          same score as g3 (1 + 1 + 0)/3: key order. */
START_TEST(month)
{
    static const struct s_want dept[] = {
        {"cg", "城管", 4, 3, 2, 3, 3, 1, 1, 1, 2, 30 * S_, 60 * S_, 10 * M_, 30 * M_,
         2.0 / 4, 3.0 / 4, 1.0 / 2, (2.0 / 4 + 3.0 / 4 + 1.0 / 2) / 3},
        {"scjg", "市场监管", 3, 2, 0, 2, 2, 1, 0, 1, 0, 120 * S_, 180 * S_, 10 * M_, 30 * M_,
         0, 2.0 / 3, 0.5, (2.0 / 3 + 0.5) / 3},
        {"dcs", "督查室", 1, 1, 0, 0, 0, 0, 0, 0, 2, 150 * S_, 150 * S_, 0, 0, 0, 0, 0, 0},
        {"yjgl", "应急管理", 1, 1, 0, 0, 0, 0, 0, 0, 2, 90 * S_, 90 * S_, 0, 0, 0, 0, 0, 0},
    };
    s_check("2026-11", "department", NOV_FROM, NOV_TO, dept, 4);
    static const struct s_want town[] = {
        {"north", "北乡", 3, 3, 1, 2, 2, 1, 1, 0, 0, 30 * S_, 180 * S_, 5 * M_, 10 * M_,
         1.0 / 3, 2.0 / 3, 1, (1.0 / 3 + 2.0 / 3 + 1) / 3},
        {"south", "南街道", 2, 2, 1, 1, 1, 0, 0, 1, 2, 60 * S_, 90 * S_, 30 * M_, 30 * M_,
         0.5, 0.5, 0, 1.0 / 3},
    };
    s_check("2026-11", "township", NOV_FROM, NOV_TO, town, 2);
    static const struct s_want grid[] = {
        {"g1", "北一社区 王一", 2, 2, 1, 1, 1, 1, 0, 0, 0, 30 * S_, 180 * S_, 10 * M_, 10 * M_,
         0.5, 0.5, 1, 2.0 / 3},
        {"g3", "南一社区 吴九", 1, 1, 1, 1, 1, 0, 0, 1, 0, 60 * S_, 60 * S_, 30 * M_, 30 * M_,
         1, 1, 0, 2.0 / 3},
        {"g2", "北一社区 陈五", 1, 1, 0, 1, 1, 0, 1, 0, 0, 15 * S_, 15 * S_, 5 * M_, 5 * M_,
         0, 1, 0, 1.0 / 3},
        {"g5", "南二社区 林七", 1, 1, 0, 0, 0, 0, 0, 0, 2, 90 * S_, 90 * S_, 0, 0, 0, 0, 0, 0},
    };
    s_check("2026-11", "grid", NOV_FROM, NOV_TO, grid, 4);
}
END_TEST

/* The year and its last quarter hold every case but the refused one: cg C1 C2 C3 C4 C7 C8,
 * scjg C1 C2 C6. A year with no case has no rows. */
START_TEST(year_quarter_and_empty)
{
    const char *periods[] = {"2026", "2026-Q4"};
    for (int p = 0; p < 2; p++) {
        Whistle__V1__Figures q = WHISTLE__V1__FIGURES__INIT;
        Whistle__V1__FiguresReply out;
        struct wh_field_error err;
        q.period = (char *)periods[p];
        MDB_txn *txn = wh_store_txn(s_st);
        ck_assert_int_eq(tracking_figures_compute(s_st, txn, s_cat, &q, &out, &err), 0);
        wh_store_abort(s_st);
        uint32_t cg = 0, scjg = 0;
        for (size_t i = 0; i < out.n_rows; i++) {
            if (strcmp(out.rows[i]->key, "cg") == 0) cg = out.rows[i]->dispatched;
            if (strcmp(out.rows[i]->key, "scjg") == 0) scjg = out.rows[i]->dispatched;
        }
        ck_assert_uint_eq(out.n_rows, 4);
        ck_assert_uint_eq(cg, 6);
        ck_assert_uint_eq(scjg, 3);
        tracking_figures_free(&out);
    }
    s_check("2025", "township", INT64_C(1735689600000), INT64_C(1767225600000), NULL, 0);
}
END_TEST

/* A bad period or grouping names its field; nothing is left to free but freeing is safe. */
START_TEST(bad_requests_name_the_field)
{
    static const struct {
        const char *period, *by, *field;
    } rows[] = {
        {"2026-W54", "", "figures.period"}, {"2021-W53", "grid", "figures.period"},
        {"2026-13", "", "figures.period"},  {"2026-Q5", "", "figures.period"},
        {"", "", "figures.period"},         {"2026-11", "street", "figures.by"},
        {"2026-11", "Department", "figures.by"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        Whistle__V1__Figures q = WHISTLE__V1__FIGURES__INIT;
        Whistle__V1__FiguresReply out;
        struct wh_field_error err;
        q.period = (char *)rows[i].period;
        q.by = (char *)rows[i].by;
        MDB_txn *txn = wh_store_txn(s_st);
        int rc = tracking_figures_compute(s_st, txn, s_cat, &q, &out, &err);
        wh_store_abort(s_st);
        ck_assert_msg(rc == WH_EFIELD, "'%s' by '%s': rc %d", rows[i].period, rows[i].by, rc);
        ck_assert_str_eq(err.field, rows[i].field);
        ck_assert_msg(err.message[0], "a refusal says why");
        ck_assert_uint_eq(out.n_rows, 0);
        tracking_figures_free(&out);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tracking figures");
    TCase *tc = tcase_create("figures");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_add_test(tc, week_by_department);
    tcase_add_test(tc, week_by_township);
    tcase_add_test(tc, week_by_grid);
    tcase_add_test(tc, month);
    tcase_add_test(tc, year_quarter_and_empty);
    tcase_add_test(tc, bad_requests_name_the_field);
    suite_add_tcase(s, tc);
    return wh_test_run(s);
}
