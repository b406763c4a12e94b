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
 *   C8 g3 lead south   QUICK, 2026-12-01 00:00Z (November's end: excluded), cg.
 *   C9 g4 lead south   QUICK, 2026-11-10 00:00Z (November, before W48), scjg and cg: scjg checks
 *                      in +20 s, cg +40 s (both on time); resolved +10 min; verified
 *                      unsatisfied (reopened); cg checks in again. IN_PROGRESS: resolved once,
 *                      reopened and open again, so not 办结.
 *
 * Figures are computed at S_NOW, when every check-in deadline has passed: C3's cg never checked
 * in and is charged a missed check-in; C2's scjg returned its order with a reason and was
 * released: it is not charged, and its response rate leaves it out. 办结 (resolved) counts the
 * CLOSED cases only (C1, C4): C2 awaits the resident again, C9 is open again. A rate with no
 * denominator (satisfaction with nobody verified but by default) has no value and is left out
 * of the score. The ladder is remind, supervise, raise: C3's raise is a step above 督办.
 *
 * December (D0 = 2026-12-01 01:00Z), the new order flow: assignments with a kind and their own
 * assigned_at / check-in deadline, lines saying the deadline they set.
 *   C10 g1 lead north  QUICK, D0, yjgl (checks in +30 s); the lead ASSIGNs dcs at +10 min (its
 *                      own deadline +11 min), dcs checks in +10 min 40 s: on time, 40 s from its
 *                      own assignment (late by the dispatch's +1 min). Resolved +20 min,
 *                      verified satisfied. CLOSED.
 *   C12 g1 order led by community north-01 (群众点单): ORDERed to volunteer pm-n1, who declines;
 *                      then to station school (+5 min, its deadline +6 min), which ACCEPTs 30 s
 *                      later, completes; resolved, verified satisfied. CLOSED. No department.
 *   C13 g3 task of issuer mz, unlisted (no affair: on authority and funding), admitted to
 *                      community south-01 at D0+2h; it checks in +20 s, completes; closed by
 *                      default.
 *   C14 g4 task of mz, affair a1 (listed), admitted at D0+3h; south-01 never checks in. Open.
 *   C15 task of mz refused at D0+4h; C16 task of cg refused at D0+5h; C17 task of mz refused
 *                      in November (not December's).
 *   C18 g2 lead north  reviewed: the review opens at D0+6h (a DISPATCH line into REVIEW), the
 *                      lead BLOWs at D0+7h with yjgl (deadline +1 min); yjgl checks in +50 s.
 *                      Dispatched at the BLOW, timed from it.
 *   C19 g2 lead north  still in REVIEW: not dispatched, counts nowhere.
 *
 * Off the loop: the same ledger served by a running tracking; libuv's thread pool is held busy
 * by the test, so a Figures request is certainly still waiting for its read when an upstream
 * entry is applied and committed and when Ping is answered; once the pool is let go, its
 * answer is what a computation on the committed ledger gives. */
#include "tracking.h"
#include "wh_test.h"
#include "whistle/error.h"
#include "whistle/store.h"
#include "whistle/clock.h"
#include "whistle/options.h"
#include "whistle/service.h"
#include "whistle/wlog.h"
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <uv.h>
#include <zmq.h>

#define T0 INT64_C(1795392000000)       /* 2026-11-23 00:00Z, 2026-W48 starts */
#define W48_TO INT64_C(1795996800000)   /* 2026-11-30 00:00Z */
#define NOV_FROM INT64_C(1793491200000) /* 2026-11-01 00:00Z */
#define NOV_TO INT64_C(1796083200000)   /* 2026-12-01 00:00Z */
#define S_NOW INT64_C(1798761600000)  /* 2027-01-01 00:00Z: every deadline has passed */
#define N9 (NOV_FROM + 9 * 24 * H_)      /* 2026-11-10 00:00Z */
#define D0 (NOV_TO + H_)                 /* 2026-12-01 01:00Z */
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
    int64_t deadline; /* the check-in deadline the line set (0: none, an older ledger) */
};

struct s_fixture {
    const char *id, *grid, *lead;
    int state, whistle;
    int64_t checkin_deadline;
    uint32_t reopen_count;
    const char *depts[4];
    int dstates[4];
    struct s_line lines[12]; /* ends at action 0 */
    /* the new order flow (0 / NULL in the older fixtures): each assignment's kind, when it
     * was (re)assigned and its own check-in deadline; a task's issuer and affair; an order */
    const char *kinds[4];
    int64_t assigned[4], as_deadline[4];
    const char *issuer, *affair;
    int order;
};

/* the older fixtures leave the new order flow's fields out: zero, as an older ledger's */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
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
    {"C00000009", "g4", "south", ST(IN_PROGRESS), WH(QUICK), N9 + M_, 1,
     {"scjg", "cg"}, {AS(NOTIFIED), AS(CHECKED_IN)},
     {{N9, AC(DISPATCH), "", 0, 0, "QUICK, lead south, 2 department(s)"},
      {N9 + 20 * S_, AC(CHECKIN), "scjg", 0, 0, ""},
      {N9 + 40 * S_, AC(CHECKIN), "cg", 0, 0, ""},
      {N9 + 5 * M_, AC(COMPLETE), "scjg", 0, 0, ""},
      {N9 + 6 * M_, AC(COMPLETE), "cg", 0, 0, ""},
      {N9 + 10 * M_, AC(RESOLVE), "", 0, 0, ""},
      {N9 + 15 * M_, AC(VERIFY), "", 0, 0, ""},
      {N9 + 20 * M_, AC(CHECKIN), "cg", 0, 0, ""}}},
    /* December, the new order flow (see the scenario above) */
    {"C00000010", "g1", "north", ST(CLOSED), WH(QUICK), D0 + 11 * M_, 0,
     {"yjgl", "dcs"}, {AS(DONE), AS(DONE)},
     {{D0, AC(DISPATCH), "", 0, 0, "QUICK, lead north, 1 department(s)", D0 + M_},
      {D0 + 30 * S_, AC(CHECKIN), "yjgl", 0, 0, ""},
      {D0 + 10 * M_, AC(ASSIGN), "dcs", 0, 0, "", D0 + 11 * M_},
      {D0 + 10 * M_ + 40 * S_, AC(CHECKIN), "dcs", 0, 0, ""},
      {D0 + 15 * M_, AC(COMPLETE), "yjgl", 0, 0, ""},
      {D0 + 16 * M_, AC(COMPLETE), "dcs", 0, 0, ""},
      {D0 + 20 * M_, AC(RESOLVE), "", 0, 0, ""},
      {D0 + 30 * M_, AC(VERIFY), "", 1, 0, ""}},
     {NULL, NULL}, {D0, D0 + 10 * M_}, {D0 + M_, D0 + 11 * M_}},
    {"C00000012", "g1", "north-01", ST(CLOSED), WH(QUICK), D0 + H_ + 6 * M_, 0,
     {"pm-n1", "school"}, {AS(DECLINED), AS(DONE)},
     {{D0 + H_, AC(DISPATCH), "", 0, 0, "QUICK, order led by community north-01 (群众点单)"},
      {D0 + H_ + M_, AC(ORDER), "pm-n1", 0, 0, ""},
      {D0 + H_ + 2 * M_, AC(DECLINE), "pm-n1", 0, 0, "away this week"},
      {D0 + H_ + 5 * M_, AC(ORDER), "school", 0, 0, ""},
      {D0 + H_ + 5 * M_ + 30 * S_, AC(ACCEPT), "school", 0, 0, ""},
      {D0 + H_ + 20 * M_, AC(COMPLETE), "school", 0, 0, ""},
      {D0 + H_ + 25 * M_, AC(RESOLVE), "", 0, 0, ""},
      {D0 + H_ + 40 * M_, AC(VERIFY), "", 1, 0, ""}},
     {"volunteer", "station"}, {D0 + H_ + M_, D0 + H_ + 5 * M_},
     {D0 + H_ + 2 * M_, D0 + H_ + 6 * M_}, NULL, NULL, 1},
    {"C00000013", "g3", "south", ST(CLOSED), WH(QUICK), D0 + 2 * H_ + M_, 0,
     {"south-01"}, {AS(DONE)},
     {{D0 + 2 * H_, AC(DISPATCH), "", 0, 0, "QUICK, lead south, task handed to community "
                                            "south-01", D0 + 2 * H_ + M_},
      {D0 + 2 * H_ + 20 * S_, AC(CHECKIN), "south-01", 0, 0, ""},
      {D0 + 2 * H_ + 5 * M_, AC(COMPLETE), "south-01", 0, 0, ""},
      {D0 + 2 * H_ + 6 * M_, AC(RESOLVE), "", 0, 0, ""},
      {D0 + 2 * H_ + 16 * M_, AC(VERIFY), "", 1, 1, "no answer within the window"}},
     {"community"}, {D0 + 2 * H_}, {D0 + 2 * H_ + M_}, "mz", "", 0},
    {"C00000014", "g4", "south", ST(DISPATCHED), WH(QUICK), D0 + 3 * H_ + M_, 0,
     {"south-01"}, {AS(NOTIFIED)},
     {{D0 + 3 * H_, AC(DISPATCH), "", 0, 0, "QUICK, lead south, task handed to community "
                                            "south-01", D0 + 3 * H_ + M_}},
     {"community"}, {D0 + 3 * H_}, {D0 + 3 * H_ + M_}, "mz", "a1", 0},
    {"C00000015", "g4", "", ST(REFUSED), 0, 0, 0, {NULL}, {0},
     {{D0 + 4 * H_, AC(REFUSE), "", 0, 0, "report.task.affair: 'zz' is not admitted"}},
     {NULL}, {0}, {0}, "mz", "zz", 0},
    {"C00000016", "g1", "", ST(REFUSED), 0, 0, 0, {NULL}, {0},
     {{D0 + 5 * H_, AC(REFUSE), "", 0, 0, "report.task.funding_ref: required"}},
     {NULL}, {0}, {0}, "cg", "", 0},
    {"C00000017", "g4", "", ST(REFUSED), 0, 0, 0, {NULL}, {0},
     {{N9 + H_, AC(REFUSE), "", 0, 0, "report.task.affair: 'zz' is not admitted"}},
     {NULL}, {0}, {0}, "mz", "zz", 0},
    {"C00000018", "g2", "north", ST(IN_PROGRESS), WH(QUICK), D0 + 7 * H_ + M_, 0,
     {"yjgl"}, {AS(CHECKED_IN)},
     {{D0 + 6 * H_, AC(DISPATCH), "", 0, 0, "review: lead north blows the whistle", 0},
      {D0 + 7 * H_, AC(BLOW), "", 0, 0, "", D0 + 7 * H_ + M_},
      {D0 + 7 * H_ + 50 * S_, AC(CHECKIN), "yjgl", 0, 0, ""}},
     {NULL}, {D0 + 7 * H_}, {D0 + 7 * H_ + M_}},
    {"C00000019", "g2", "north", ST(REVIEW), 0, 0, 0, {NULL}, {0},
     {{D0 + 8 * H_, AC(DISPATCH), "", 0, 0, "review: lead north blows the whistle"}}},
};
#pragma GCC diagnostic pop

/* Rates with no value (a 0 denominator), as bits of s_want.none. */
#define NO_RESP 1
#define NO_RESOL 2
#define NO_SAT 4
#define NO_SCORE 8

/* One expected row; rates as exact fractions of the counts above them. */
struct s_want {
    const char *key, *name;
    uint32_t dispatched, checked_in, on_time, resolved, verified, satisfied, by_default,
        reopened, escalations;
    int64_t ck50, ck90, rs50, rs90;
    double response, resolution, satisfaction, score;
    uint32_t released, missed, supervised;
    unsigned none; /* NO_* */
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
    Whistle__V1__CommunityTask task = WHISTLE__V1__COMMUNITY_TASK__INIT;
    if (f->issuer) {
        task.issuer = (char *)f->issuer;
        task.affair = (char *)(f->affair ? f->affair : "");
        r.task = &task;
    }
    r.order = f->order;
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
        if (f->kinds[i]) as[i].kind = (char *)f->kinds[i];
        as[i].assigned_at_ms = f->assigned[i];
        as[i].checkin_deadline_ms = f->as_deadline[i];
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
        e.checkin_deadline_ms = l->deadline;
        /* a review opening: tracking's DISPATCH line into REVIEW */
        if (l->action == AC(DISPATCH) && l->note && strncmp(l->note, "review:", 7) == 0)
            e.to_state = ST(REVIEW);
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
static void s_check_unit(const char *period, const char *by, const char *unit, int64_t from,
                         int64_t to, const struct s_want *want, size_t n_want, uint32_t rank0)
{
    Whistle__V1__Figures q = WHISTLE__V1__FIGURES__INIT;
    Whistle__V1__FiguresReply out;
    struct wh_field_error err;
    q.period = (char *)period;
    q.by = (char *)by;
    q.unit = (char *)unit;
    MDB_txn *txn = wh_store_txn(s_st);
    int rc = tracking_figures_compute(s_st, txn, s_cat, &q, S_NOW, &out, &err);
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
        ck_assert_uint_eq(r->rank, rank0 + i + 1);
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
        ck_assert_msg(r->released == w->released && r->missed_checkins == w->missed &&
                          r->supervised == w->supervised,
                      "%s by %s: %s released %u missed %u supervised %u, want %u %u %u", period,
                      by, r->key, r->released, r->missed_checkins, r->supervised, w->released,
                      w->missed, w->supervised);
        ck_assert_msg(r->has_response_rate == !(w->none & NO_RESP) &&
                          r->has_resolution_rate == !(w->none & NO_RESOL) &&
                          r->has_satisfaction_rate == !(w->none & NO_SAT) &&
                          r->has_score == !(w->none & NO_SCORE),
                      "%s by %s: %s has rates %d %d %d score %d, want none 0x%x", period, by,
                      r->key, r->has_response_rate, r->has_resolution_rate,
                      r->has_satisfaction_rate, r->has_score, w->none);
    }
    tracking_figures_free(&out);
    tracking_figures_free(&out); /* idempotent */
}

static void s_check(const char *period, const char *by, int64_t from, int64_t to,
                    const struct s_want *want, size_t n_want)
{
    s_check_unit(period, by, "", from, to, want, n_want, 0);
}

/* 2026-W48 holds C1..C4 (C5 refused; C6..C9 outside). By department, every assignment:
 *   cg    C1 C2 C3 C4: checked in C1 30 s, C2 60 s, C4 15 s; on time C1, C2 -> 2/4; missed C3
 *         (never: the deadline passed) and C4 (late by its own 10 s). 办结 C1 (10 min) and C4
 *         (5 min), not C2 (RESOLVED again, awaiting the resident) -> 2/4; verified C1
 *         (satisfied) C2 (not) C4 (by default) -> satisfaction 1/(3-1); reopened C2; 2 ESCALATE
 *         lines (C3), 1 of them above 督办 (raise). check-in [15,30,60] s: p50 the 2nd, p90 the
 *         3rd; resolve [5,10] min. score (0.5 + 0.5 + 0.5)/3 = 0.5 (was 0.583 counting C2's
 *         RESOLVE line as done).
 *   scjg  C1 (checked in 120 s, late: missed), C2 (returned with a reason, RELEASED: not
 *         charged) -> response 0/(2-1); 办结 C1 only: 1/2; satisfied 1 of 2 verified; reopened
 *         C2. score (0 + 0.5 + 0.5)/3.
 *   dcs   C3: checked in 150 s, late (30 s at dispatch); nobody verified: satisfaction has no
 *         value, score = (0 + 0)/2. yjgl the same at 90 s (late by EMERGENCY's 30 s, though on
 *         time by TOUGH's 120 s or the raised deadline). They tie at 0: key order. */
START_TEST(week_by_department)
{
    static const struct s_want want[] = {
        {"cg", "城管", 4, 3, 2, 2, 3, 1, 1, 1, 2, 30 * S_, 60 * S_, 5 * M_, 10 * M_,
         2.0 / 4, 2.0 / 4, 1.0 / 2, 0.5, 0, 2, 1, 0},
        {"scjg", "市场监管", 2, 1, 0, 1, 2, 1, 0, 1, 0, 120 * S_, 120 * S_, 10 * M_, 10 * M_,
         0, 0.5, 0.5, 1.0 / 3, 1, 1, 0, 0},
        {"dcs", "督查室", 1, 1, 0, 0, 0, 0, 0, 0, 2, 150 * S_, 150 * S_, 0, 0, 0, 0, 0, 0,
         0, 1, 1, NO_SAT},
        {"yjgl", "应急管理", 1, 1, 0, 0, 0, 0, 0, 0, 2, 90 * S_, 90 * S_, 0, 0, 0, 0, 0, 0,
         0, 1, 1, NO_SAT},
    };
    s_check("2026-W48", "department", T0, W48_TO, want, 4);
    s_check("2026-W48", "", T0, W48_TO, want, 4); /* department is the default */
}
END_TEST

/* By township, one case each, first check-in of any department:
 *   north  C1 (30 s, on time), C4 (15 s, late: missed): 1/2; 办结 C1, C4: 2/2; verified C1
 *          satisfied, C4 by default: 1/(2-1). check-in [15,30] s: p50 the 1st, p90 the 2nd;
 *          resolve [5,10] min. score (0.5 + 1 + 1)/3.
 *   south  C2 (60 s, on time), C3 (yjgl 90 s, late; led by community south-02): 1/2; 办结
 *          none (C2 RESOLVED again awaits the resident): 0/2; verified C2 unsatisfied: 0/1;
 *          reopened 1; 2 escalations, 1 above 督办. score (0.5 + 0 + 0)/3. */
START_TEST(week_by_township)
{
    static const struct s_want want[] = {
        {"north", "北乡", 2, 2, 1, 2, 2, 1, 1, 0, 0, 15 * S_, 30 * S_, 5 * M_, 10 * M_,
         0.5, 1, 1, 2.5 / 3, 0, 1, 0, 0},
        {"south", "南街道", 2, 2, 1, 0, 1, 0, 0, 1, 2, 60 * S_, 90 * S_, 0, 0,
         0.5, 0, 0, 0.5 / 3, 0, 1, 1, 0},
    };
    s_check("2026-W48", "township", T0, W48_TO, want, 2);
}
END_TEST

/* By grid: g1 C1 all 1 -> 1; g2 C4 late, closed, only a default verification: satisfaction has
 * no value (was 0/0 = 0 and pulled g2 below g3), score (0 + 1)/2 = 0.5; g3 C2 on time, not
 * 办结, unsatisfied: (1 + 0 + 0)/3; g5 C3: (0 + 0)/2. */
START_TEST(week_by_grid)
{
    static const struct s_want want[] = {
        {"g1", "北一社区 王一", 1, 1, 1, 1, 1, 1, 0, 0, 0, 30 * S_, 30 * S_, 10 * M_, 10 * M_,
         1, 1, 1, 1, 0, 0, 0, 0},
        {"g2", "北一社区 陈五", 1, 1, 0, 1, 1, 0, 1, 0, 0, 15 * S_, 15 * S_, 5 * M_, 5 * M_,
         0, 1, 0, 0.5, 0, 1, 0, NO_SAT},
        {"g3", "南一社区 吴九", 1, 1, 1, 0, 1, 0, 0, 1, 0, 60 * S_, 60 * S_, 0, 0,
         1, 0, 0, 1.0 / 3, 0, 0, 0, 0},
        {"g5", "南二社区 林七", 1, 1, 0, 0, 0, 0, 0, 0, 2, 90 * S_, 90 * S_, 0, 0, 0, 0, 0, 0,
         0, 1, 1, NO_SAT},
    };
    s_check("2026-W48", "grid", T0, W48_TO, want, 4);
}
END_TEST

/* November adds C6 (scjg, north, g1: checked in 3 min, late) and C9 (south, g4: scjg and cg on
 * time, resolved, reopened, open again); C7 is a millisecond early and C8 exactly at the end.
 *   cg     C1 C2 C3 C4 C9: on time C1 C2 C9 3/5; missed C3 C4; 办结 C1 C4 2/5 (C9 resolved
 *          once but open again); verified C1 C2 C4 C9, by default C4: satisfied 1/3; reopened
 *          C2 C9. check-in [15,30,40,60] s: p50 the 2nd, p90 the 4th. score (3/5 + 2/5 +
 *          1/3)/3.
 *   scjg   C1 (late) C2 (released) C6 (late) C9 (on time): response 1/(4-1) (1/4 if the
 *          released order were charged); 办结 C1 1/4; satisfied 1/3; check-in [20,120,180] s.
 *          score (1/3 + 1/4 + 1/3)/3.
 *   north  C1 C4 C6: on time 1/3; 办结 2/3; satisfaction 1/(2-1). score (1/3 + 2/3 + 1)/3.
 *   south  C2 C3 C9: on time C2 C9 2/3; 办结 0/3; satisfaction 0/2. score (2/3)/3.
 *   g1     C1 C6: (1/2 + 1/2 + 1)/3 = 2/3; g2 0.5; g3 and g4 tie at 1/3: key order; g5 0. */
START_TEST(month)
{
    static const struct s_want dept[] = {
        {"cg", "城管", 5, 4, 3, 2, 4, 1, 1, 2, 2, 30 * S_, 60 * S_, 5 * M_, 10 * M_,
         3.0 / 5, 2.0 / 5, 1.0 / 3, (3.0 / 5 + 2.0 / 5 + 1.0 / 3) / 3, 0, 2, 1, 0},
        {"scjg", "市场监管", 4, 3, 1, 1, 3, 1, 0, 2, 0, 120 * S_, 180 * S_, 10 * M_, 10 * M_,
         1.0 / 3, 1.0 / 4, 1.0 / 3, (1.0 / 3 + 1.0 / 4 + 1.0 / 3) / 3, 1, 2, 0, 0},
        {"dcs", "督查室", 1, 1, 0, 0, 0, 0, 0, 0, 2, 150 * S_, 150 * S_, 0, 0, 0, 0, 0, 0,
         0, 1, 1, NO_SAT},
        {"yjgl", "应急管理", 1, 1, 0, 0, 0, 0, 0, 0, 2, 90 * S_, 90 * S_, 0, 0, 0, 0, 0, 0,
         0, 1, 1, NO_SAT},
    };
    s_check("2026-11", "department", NOV_FROM, NOV_TO, dept, 4);
    static const struct s_want town[] = {
        {"north", "北乡", 3, 3, 1, 2, 2, 1, 1, 0, 0, 30 * S_, 180 * S_, 5 * M_, 10 * M_,
         1.0 / 3, 2.0 / 3, 1, (1.0 / 3 + 2.0 / 3 + 1) / 3, 0, 2, 0, 0},
        {"south", "南街道", 3, 3, 2, 0, 2, 0, 0, 2, 2, 60 * S_, 90 * S_, 0, 0,
         2.0 / 3, 0, 0, 2.0 / 9, 0, 1, 1, 0},
    };
    s_check("2026-11", "township", NOV_FROM, NOV_TO, town, 2);
    static const struct s_want grid[] = {
        {"g1", "北一社区 王一", 2, 2, 1, 1, 1, 1, 0, 0, 0, 30 * S_, 180 * S_, 10 * M_, 10 * M_,
         0.5, 0.5, 1, 2.0 / 3, 0, 1, 0, 0},
        {"g2", "北一社区 陈五", 1, 1, 0, 1, 1, 0, 1, 0, 0, 15 * S_, 15 * S_, 5 * M_, 5 * M_,
         0, 1, 0, 0.5, 0, 1, 0, NO_SAT},
        {"g3", "南一社区 吴九", 1, 1, 1, 0, 1, 0, 0, 1, 0, 60 * S_, 60 * S_, 0, 0,
         1, 0, 0, 1.0 / 3, 0, 0, 0, 0},
        {"g4", "南一社区 朱三", 1, 1, 1, 0, 1, 0, 0, 1, 0, 20 * S_, 20 * S_, 0, 0,
         1, 0, 0, 1.0 / 3, 0, 0, 0, 0},
        {"g5", "南二社区 林七", 1, 1, 0, 0, 0, 0, 0, 0, 2, 90 * S_, 90 * S_, 0, 0, 0, 0, 0, 0,
         0, 1, 1, NO_SAT},
    };
    s_check("2026-11", "grid", NOV_FROM, NOV_TO, grid, 5);
}
END_TEST

/* figures.unit (考核监督下放至乡街): W48 over south's cases (C2, and C3 led by its community
 * south-02):
 *   cg    C2 (60 s, on time) C3 (never: missed): 1/2; 办结 0/2; satisfaction 0/1; score 1/6.
 *   dcs   C3: (0 + 0)/2 = 0.
 *   scjg  C2 only, returned and released: no response rate at all (0/0), 办结 0/1,
 *         satisfaction 0/1: score (0 + 0)/2 = 0, ranked by key among the zeros.
 *   yjgl  C3: 0.
 * By township with a unit: only its row, with its rank among every township's (south is 2nd).
 * By grid: north's grids only. */
START_TEST(unit)
{
    static const struct s_want dept[] = {
        {"cg", "城管", 2, 1, 1, 0, 1, 0, 0, 1, 2, 60 * S_, 60 * S_, 0, 0,
         0.5, 0, 0, 0.5 / 3, 0, 1, 1, 0},
        {"dcs", "督查室", 1, 1, 0, 0, 0, 0, 0, 0, 2, 150 * S_, 150 * S_, 0, 0, 0, 0, 0, 0,
         0, 1, 1, NO_SAT},
        {"scjg", "市场监管", 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
         1, 0, 0, NO_RESP},
        {"yjgl", "应急管理", 1, 1, 0, 0, 0, 0, 0, 0, 2, 90 * S_, 90 * S_, 0, 0, 0, 0, 0, 0,
         0, 1, 1, NO_SAT},
    };
    s_check_unit("2026-W48", "department", "south", T0, W48_TO, dept, 4, 0);
    static const struct s_want town[] = {
        {"south", "南街道", 2, 2, 1, 0, 1, 0, 0, 1, 2, 60 * S_, 90 * S_, 0, 0,
         0.5, 0, 0, 0.5 / 3, 0, 1, 1, 0},
    };
    s_check_unit("2026-W48", "township", "south", T0, W48_TO, town, 1, 1);
    static const struct s_want grid[] = {
        {"g1", "北一社区 王一", 1, 1, 1, 1, 1, 1, 0, 0, 0, 30 * S_, 30 * S_, 10 * M_, 10 * M_,
         1, 1, 1, 1, 0, 0, 0, 0},
        {"g2", "北一社区 陈五", 1, 1, 0, 1, 1, 0, 1, 0, 0, 15 * S_, 15 * S_, 5 * M_, 5 * M_,
         0, 1, 0, 0.5, 0, 1, 0, NO_SAT},
    };
    s_check_unit("2026-W48", "grid", "north", T0, W48_TO, grid, 2, 0);
}
END_TEST

/* The year and its last quarter hold every case but the refused one: cg C1 C2 C3 C4 C7 C8 C9,
 * scjg C1 C2 C6 C9. A year with no case has no rows. */
START_TEST(year_quarter_and_empty)
{
    const char *periods[] = {"2026", "2026-Q4"};
    for (int p = 0; p < 2; p++) {
        Whistle__V1__Figures q = WHISTLE__V1__FIGURES__INIT;
        Whistle__V1__FiguresReply out;
        struct wh_field_error err;
        q.period = (char *)periods[p];
        MDB_txn *txn = wh_store_txn(s_st);
        ck_assert_int_eq(tracking_figures_compute(s_st, txn, s_cat, &q, S_NOW, &out, &err), 0);
        wh_store_abort(s_st);
        uint32_t cg = 0, scjg = 0;
        for (size_t i = 0; i < out.n_rows; i++) {
            if (strcmp(out.rows[i]->key, "cg") == 0) cg = out.rows[i]->dispatched;
            if (strcmp(out.rows[i]->key, "scjg") == 0) scjg = out.rows[i]->dispatched;
        }
        ck_assert_uint_eq(out.n_rows, 4);
        ck_assert_uint_eq(cg, 7);
        ck_assert_uint_eq(scjg, 4);
        tracking_figures_free(&out);
    }
    s_check("2025", "township", INT64_C(1735689600000), INT64_C(1767225600000), NULL, 0);
}
END_TEST

/* December by department: departments only (C12's station and volunteer, C13/C14's community
 * are not department rows), each assignment timed from its own (re)assignment:
 *   dcs   C10: added at +10 min, checked in 40 s later by its own +11 min: on time (the
 *         dispatch's +1 min would make it late, 640 s); closed (20 min), satisfied: score 1.
 *   yjgl  C10 (30 s) and C18 (50 s from the BLOW, not 1 h 50 s from the review's opening): both
 *         on time; 办结 C10 only; satisfied 1/1: score (1 + 0.5 + 1)/3.
 *   cg    C8 (2026-12-01 00:00Z): never checked in, missed: (0 + 0)/2 = 0.
 * By township: north holds C10, C12 (led by north-01) and C18, not C19 still in REVIEW. */
START_TEST(december_own_assignments)
{
    static const struct s_want want[] = {
        {"dcs", "督查室", 1, 1, 1, 1, 1, 1, 0, 0, 0, 40 * S_, 40 * S_, 20 * M_, 20 * M_,
         1, 1, 1, 1, 0, 0, 0, 0},
        {"yjgl", "应急管理", 2, 2, 2, 1, 1, 1, 0, 0, 0, 30 * S_, 50 * S_, 20 * M_, 20 * M_,
         1, 0.5, 1, 2.5 / 3, 0, 0, 0, 0},
        {"cg", "城管", 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, NO_SAT},
    };
    s_check("2026-12", "department", NOV_TO, INT64_C(1798761600000), want, 3);
    Whistle__V1__Figures q = WHISTLE__V1__FIGURES__INIT;
    Whistle__V1__FiguresReply out;
    struct wh_field_error err;
    q.period = "2026-12";
    q.by = "township";
    MDB_txn *txn = wh_store_txn(s_st);
    ck_assert_int_eq(tracking_figures_compute(s_st, txn, s_cat, &q, S_NOW, &out, &err), 0);
    wh_store_abort(s_st);
    uint32_t north = 0;
    for (size_t i = 0; i < out.n_rows; i++)
        if (strcmp(out.rows[i]->key, "north") == 0) north = out.rows[i]->dispatched;
    ck_assert_uint_eq(north, 3);
    tracking_figures_free(&out);
}
END_TEST

/* Checks the assignee-only fields of `r`. */
static void s_check_assignee(const Whistle__V1__FigureRow *r, const char *key, const char *kind,
                             uint32_t declined, uint32_t completed)
{
    ck_assert_str_eq(r->key, key);
    ck_assert_str_eq(r->kind, kind);
    ck_assert_uint_eq(r->declined, declined);
    ck_assert_uint_eq(r->completed, completed);
}

/* December by assignee (单位（党员）接单): the stationed units, volunteers and communities on
 * their orders and tasks:
 *   school    C12: ordered at +5 min, accepted 30 s later (its own deadline +6 min): on time;
 *             completed; closed, satisfied: score 1.
 *   south-01  C13 (checked in 20 s, on time, completed, closed by default) and C14 (never:
 *             missed): response 1/2, 办结 1/2, satisfaction none: score 0.5.
 *   pm-n1     C12, declined with a reason: dispatched 1, declined 1, out of every rate: no
 *             score, ranked last. */
START_TEST(december_by_assignee)
{
    static const struct s_want want[] = {
        {"school", "第一中学", 1, 1, 1, 1, 1, 1, 0, 0, 0, 30 * S_, 30 * S_, 25 * M_, 25 * M_,
         1, 1, 1, 1, 0, 0, 0, 0},
        {"south-01", "南一社区", 2, 1, 1, 1, 1, 0, 1, 0, 0, 20 * S_, 20 * S_, 6 * M_, 6 * M_,
         0.5, 0.5, 0, 0.5, 0, 1, 0, NO_SAT},
        {"pm-n1", "党员志愿者王明", 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
         NO_RESP | NO_RESOL | NO_SAT | NO_SCORE},
    };
    s_check("2026-12", "assignee", NOV_TO, INT64_C(1798761600000), want, 3);
    Whistle__V1__Figures q = WHISTLE__V1__FIGURES__INIT;
    Whistle__V1__FiguresReply out;
    struct wh_field_error err;
    q.period = "2026-12";
    q.by = "assignee";
    MDB_txn *txn = wh_store_txn(s_st);
    ck_assert_int_eq(tracking_figures_compute(s_st, txn, s_cat, &q, S_NOW, &out, &err), 0);
    wh_store_abort(s_st);
    ck_assert_uint_eq(out.n_rows, 3);
    s_check_assignee(out.rows[0], "school", "station", 0, 1);
    s_check_assignee(out.rows[1], "south-01", "community", 0, 1);
    s_check_assignee(out.rows[2], "pm-n1", "volunteer", 1, 0);
    tracking_figures_free(&out);
}
END_TEST

/* December by issuer (社区事务准入), a task counted when its first line is in the period:
 *   cg  C16 refused: tasks 1, refused 1.
 *   mz  C13 (admitted unlisted, completed by south-01, closed), C14 (admitted, listed a1, open),
 *       C15 (refused); C17 was refused in November. tasks 3, admitted 2, refused 1, unlisted 1,
 *       completed 1, closed 1.
 * No rates: ranked by key. With unit north: only cg's task (C16, grid g1); unit south: mz's. */
START_TEST(december_by_issuer)
{
    static const struct {
        const char *unit;
        size_t n;
        struct {
            const char *key, *name;
            uint32_t tasks, admitted, refused, unlisted, completed, closed;
        } rows[2];
    } cases[] = {
        {"", 2, {{"cg", "城管", 1, 0, 1, 0, 0, 0}, {"mz", "", 3, 2, 1, 1, 1, 1}}},
        {"north", 1, {{"cg", "城管", 1, 0, 1, 0, 0, 0}}},
        {"south", 1, {{"mz", "", 3, 2, 1, 1, 1, 1}}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        Whistle__V1__Figures q = WHISTLE__V1__FIGURES__INIT;
        Whistle__V1__FiguresReply out;
        struct wh_field_error err;
        q.period = "2026-12";
        q.by = "issuer";
        q.unit = (char *)cases[k].unit;
        MDB_txn *txn = wh_store_txn(s_st);
        int rc = tracking_figures_compute(s_st, txn, s_cat, &q, S_NOW, &out, &err);
        wh_store_abort(s_st);
        ck_assert_msg(rc == 0, "by issuer: %s", err.message);
        ck_assert_str_eq(out.by, "issuer");
        ck_assert_uint_eq(out.n_rows, cases[k].n);
        for (size_t i = 0; i < cases[k].n; i++) {
            const Whistle__V1__FigureRow *r = out.rows[i];
            ck_assert_str_eq(r->key, cases[k].rows[i].key);
            ck_assert_str_eq(r->name, cases[k].rows[i].name);
            ck_assert_uint_eq(r->rank, i + 1);
            ck_assert_uint_eq(r->tasks, cases[k].rows[i].tasks);
            ck_assert_uint_eq(r->tasks_admitted, cases[k].rows[i].admitted);
            ck_assert_uint_eq(r->tasks_refused, cases[k].rows[i].refused);
            ck_assert_uint_eq(r->tasks_unlisted, cases[k].rows[i].unlisted);
            ck_assert_uint_eq(r->tasks_completed, cases[k].rows[i].completed);
            ck_assert_uint_eq(r->tasks_closed, cases[k].rows[i].closed);
            ck_assert(!r->has_score);
        }
        tracking_figures_free(&out);
    }
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
        {"2026-11", "department", "figures.unit"}, /* unit "nowhere" */
        {"2026-11", "grid", "figures.unit"},       /* unit "south-02", a community */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        Whistle__V1__Figures q = WHISTLE__V1__FIGURES__INIT;
        Whistle__V1__FiguresReply out;
        struct wh_field_error err;
        q.period = (char *)rows[i].period;
        q.by = (char *)rows[i].by;
        if (strcmp(rows[i].field, "figures.unit") == 0)
            q.unit = strcmp(rows[i].by, "grid") == 0 ? "south-02" : "nowhere";
        MDB_txn *txn = wh_store_txn(s_st);
        int rc = tracking_figures_compute(s_st, txn, s_cat, &q, S_NOW, &out, &err);
        wh_store_abort(s_st);
        ck_assert_msg(rc == WH_EFIELD, "'%s' by '%s': rc %d", rows[i].period, rows[i].by, rc);
        ck_assert_str_eq(err.field, rows[i].field);
        ck_assert_msg(err.message[0], "a refusal says why");
        ck_assert_uint_eq(out.n_rows, 0);
        tracking_figures_free(&out);
    }
}
END_TEST

/* ---- Figures off the loop ------------------------------------------------------------------ */

static pthread_mutex_t s_pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_pool_cv = PTHREAD_COND_INITIALIZER;
static int s_pool_free;
static atomic_int s_pool_held;

/* Holds a thread of libuv's pool until the test lets go (60 s at most). */
static void s_hold(uv_work_t *w)
{
    (void)w;
    atomic_fetch_add(&s_pool_held, 1);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 60;
    pthread_mutex_lock(&s_pool_mu);
    while (!s_pool_free && pthread_cond_timedwait(&s_pool_cv, &s_pool_mu, &until) == 0) {
    }
    pthread_mutex_unlock(&s_pool_mu);
}

static void s_held(uv_work_t *w, int status)
{
    (void)w;
    (void)status;
}

static void s_pool_let_go(void)
{
    pthread_mutex_lock(&s_pool_mu);
    s_pool_free = 1;
    pthread_cond_broadcast(&s_pool_cv);
    pthread_mutex_unlock(&s_pool_mu);
}

static Whistle__V1__Reply *s_recv(void *dealer, wh_service_t *svc)
{
    Whistle__V1__Reply *r = NULL;
    int64_t deadline = wh_mono_ms() + 10000;
    while (!r && wh_mono_ms() < deadline) {
        wh_service_run_once(svc, 2);
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, dealer, ZMQ_DONTWAIT) >= 0)
            r = wh_reply_unpack(zmq_msg_data(&m), zmq_msg_size(&m));
        zmq_msg_close(&m);
    }
    return r;
}

static void s_send(void *dealer, Whistle__V1__Request *req)
{
    size_t len;
    uint8_t *buf = wh_pack(&req->base, &len);
    ck_assert_int_eq(zmq_send(dealer, buf, len, 0), (int)len);
    free(buf);
}

START_TEST(figures_off_the_loop)
{
    wh_log_init("check_figures", WH_LOG_ERROR);
    char data[256], api[256], ev[256], rapi[256], rev[256];
    snprintf(data, sizeof data, "%s/tracking", s_dir);
    snprintf(api, sizeof api, "ipc://%s/t.api", s_dir);
    snprintf(ev, sizeof ev, "ipc://%s/t.ev", s_dir);
    snprintf(rapi, sizeof rapi, "ipc://%s/r.api", s_dir);
    snprintf(rev, sizeof rev, "ipc://%s/r.ev", s_dir);
    wh_store_close(&s_st); /* tracking opens it now */
    struct wh_options o = {0};
    o.data_dir = data;
    o.api = api;
    o.events = ev;
    o.upstream_api[WH_UP_ROUTING] = rapi;
    o.upstream_events[WH_UP_ROUTING] = rev;
    o.heartbeat_ms = 50;
    tracking_t *t = tracking_new(&o, s_cat);
    ck_assert_ptr_nonnull(t);
    wh_service_t *svc = tracking_service(t);

    /* every thread of libuv's pool held (the pool is the process's, whichever loop) */
    ck_assert_int_eq(setenv("UV_THREADPOOL_SIZE", "4", 1), 0);
    uv_loop_t loop;
    uv_work_t hold[4];
    uv_loop_init(&loop);
    s_pool_free = 0;
    for (int i = 0; i < 4; i++) uv_queue_work(&loop, &hold[i], s_hold, s_held);
    int64_t deadline = wh_mono_ms() + 10000;
    while (atomic_load(&s_pool_held) < 4 && wh_mono_ms() < deadline) uv_sleep(1);
    ck_assert_int_eq(atomic_load(&s_pool_held), 4);

    void *zctx = zmq_ctx_new();
    void *dealer = wh_test_dealer(zctx, api);
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__Figures fq = WHISTLE__V1__FIGURES__INIT;
    fq.period = "2026";
    req.request_id = 1;
    req.body_case = WHISTLE__V1__REQUEST__BODY_FIGURES;
    req.figures = &fq;
    s_send(dealer, &req);
    /* handled: its read waits for a thread (on the loop, its answer would come here) */
    Whistle__V1__Reply *a = NULL;
    deadline = wh_mono_ms() + 5000;
    while (!wh_service_reads_in_flight(svc) && wh_mono_ms() < deadline) {
        wh_service_run_once(svc, 2);
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (!a && zmq_msg_recv(&m, dealer, ZMQ_DONTWAIT) >= 0)
            a = wh_reply_unpack(zmq_msg_data(&m), zmq_msg_size(&m));
        zmq_msg_close(&m);
        if (a) break;
    }
    if (a) s_pool_let_go();
    ck_assert_msg(!a, "FAIL: figures answered on the loop, before anything else could run");
    ck_assert_int_eq(wh_service_reads_in_flight(svc), 1);

    /* routing dispatches a case meanwhile: applied and committed at once */
    Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
    Whistle__V1__CaseDispatched cd = WHISTLE__V1__CASE_DISPATCHED__INIT;
    Whistle__V1__Report r = WHISTLE__V1__REPORT__INIT;
    char *depts[] = {"cg"};
    r.grid = "g1";
    r.matter = "m1";
    r.description = "占道经营";
    r.reporter = "resident-7";
    cd.case_id = "C00000050";
    cd.report = &r;
    cd.whistle = WHISTLE__V1__WHISTLE__QUICK;
    cd.lead_unit = "north";
    cd.departments = depts;
    cd.n_departments = 1;
    cd.checkin_deadline_ms = wh_now_ms() + 60000;
    cd.resolve_deadline_ms = wh_now_ms() + 600000;
    env.stream = "routing/";
    env.seq = 1;
    env.event_id = "";
    env.correlation_id = "C00000050";
    env.occurred_at_ms = wh_now_ms();
    env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_DISPATCHED;
    env.case_dispatched = &cd;
    ck_assert_int_eq(wh_service_apply(svc, "routing", &env), 1);
    wh_service_commit(svc);
    {
        MDB_txn *txn;
        Whistle__V1__Case *c = NULL;
        wh_store_t *st = wh_service_store(svc);
        ck_assert_int_eq(mdb_txn_begin(wh_store_env(st), NULL, MDB_RDONLY, &txn), 0);
        ck_assert_msg(tracking_ledger_get(st, txn, "C00000050", &c) == 0,
                      "FAIL: the dispatched case was not committed while figures were pending");
        whistle__v1__case__free_unpacked(c, NULL);
        mdb_txn_abort(txn);
    }

    /* and Ping is answered before the figures */
    Whistle__V1__Request ping = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__Ping pb = WHISTLE__V1__PING__INIT;
    ping.request_id = 2;
    ping.body_case = WHISTLE__V1__REQUEST__BODY_PING;
    ping.ping = &pb;
    s_send(dealer, &ping);
    a = s_recv(dealer, svc);
    ck_assert_ptr_nonnull(a);
    ck_assert_msg(a->request_id == 2 && a->body_case == WHISTLE__V1__REPLY__BODY_PONG,
                  "FAIL: reply %llu (body %d) came before the Pong",
                  (unsigned long long)a->request_id, a->body_case);
    ck_assert_uint_eq(a->pong->cursors[0]->seq, 1);
    whistle__v1__reply__free_unpacked(a, NULL);

    /* let the pool go: the figures are those of the committed ledger, the new case included */
    s_pool_let_go();
    a = s_recv(dealer, svc);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->request_id, 1);
    ck_assert_msg(a->body_case == WHISTLE__V1__REPLY__BODY_FIGURES, "FAIL: body %d: %s",
                  a->body_case,
                  a->body_case == WHISTLE__V1__REPLY__BODY_ERROR ? a->error->message : "");
    Whistle__V1__FiguresReply want;
    struct wh_field_error fe;
    {
        wh_store_t *st = wh_service_store(svc);
        MDB_txn *txn;
        ck_assert_int_eq(mdb_txn_begin(wh_store_env(st), NULL, MDB_RDONLY, &txn), 0);
        ck_assert_int_eq(tracking_figures_compute(st, txn, s_cat, &fq, wh_now_ms(), &want, &fe),
                         0);
        mdb_txn_abort(txn);
    }
    size_t la, lw;
    uint8_t *ba = wh_pack(&a->figures->base, &la), *bw = wh_pack(&want.base, &lw);
    ck_assert_msg(la == lw && memcmp(ba, bw, la) == 0,
                  "FAIL: the figures answered differ from those computed on the ledger");
    uint32_t cg = 0;
    for (size_t i = 0; i < a->figures->n_rows; i++)
        if (strcmp(a->figures->rows[i]->key, "cg") == 0) cg = a->figures->rows[i]->dispatched;
    ck_assert_uint_ge(cg, 5); /* C1..C4 and C50 at least */
    free(ba);
    free(bw);
    tracking_figures_free(&want);
    whistle__v1__reply__free_unpacked(a, NULL);

    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    zmq_close(dealer);
    zmq_ctx_term(zctx);
    tracking_destroy(&t);
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
    tcase_add_test(tc, unit);
    tcase_add_test(tc, year_quarter_and_empty);
    tcase_add_test(tc, bad_requests_name_the_field);
    tcase_add_test(tc, december_own_assignments);
    tcase_add_test(tc, december_by_assignee);
    tcase_add_test(tc, december_by_issuer);
    tcase_add_test(tc, figures_off_the_loop);
    suite_add_tcase(s, tc);
    return wh_test_run(s);
}
