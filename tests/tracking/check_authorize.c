/* check_authorize.c: with keys on, who may send which case action: a department only as
 * itself, a township only as itself and only the lead's actions, an integrator only VERIFY;
 * and who may read which case, list, figures row, grid visit and grid book: a department the
 * cases it is or was on, a township its unit's and its grids' (a grid's book: its community,
 * township or street only), an integrator what it submitted.
 * Services, operators and keys off are not limited. Each refusal names the field. */
#include "tracking.h"
#include "whistle/error.h"
#include "wh_test.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define D WH_KIND_DEPARTMENT
#define T WH_KIND_TOWNSHIP
#define I WH_KIND_INTEGRATOR
#define CHECKIN WHISTLE__V1__ACTION__CHECKIN
#define COMPLETE WHISTLE__V1__ACTION__COMPLETE
#define RETURN WHISTLE__V1__ACTION__RETURN
#define RESOLVE WHISTLE__V1__ACTION__RESOLVE
#define ASSIGN WHISTLE__V1__ACTION__ASSIGN
#define VERIFY WHISTLE__V1__ACTION__VERIFY
#define PROGRESS WHISTLE__V1__ACTION__PROGRESS
#define ORDER WHISTLE__V1__ACTION__ORDER
#define ACCEPT WHISTLE__V1__ACTION__ACCEPT
#define DECLINE WHISTLE__V1__ACTION__DECLINE

static const struct {
    int kind;
    const char *code;
    int action;
    const char *actor, *department;
    const char *field; /* "" allowed */
} s_rows[] = {
    {D, "cg", CHECKIN, "cg", "cg", ""},
    {D, "cg", CHECKIN, "", "cg", ""},
    {D, "cg", COMPLETE, "cg", "cg", ""},
    {D, "cg", RETURN, "cg", "cg", ""},
    {D, "cg", CHECKIN, "cg", "cgj", "case_action.department"},
    {D, "cg", CHECKIN, "cgj", "cgj", "case_action.department"},
    {D, "cg", CHECKIN, "cgj", "cg", "case_action.actor"},
    {D, "cg", CHECKIN, "", "", "case_action.department"},
    {D, "cg", RESOLVE, "cg", "", "case_action.action"},
    {D, "cg", ASSIGN, "north", "cg", "case_action.action"},
    {D, "cg", VERIFY, "r1", "", "case_action.action"},
    {T, "north", RESOLVE, "north", "", ""},
    {T, "north", ASSIGN, "north", "cg", ""},
    {T, "north", RESOLVE, "south", "", "case_action.actor"},
    {T, "north", RESOLVE, "", "", "case_action.actor"},
    /* a township-kind key checks in only as itself: a community on the task handed to it
     * (the machine then checks the assignment is of kind community) */
    {T, "north", CHECKIN, "north", "cg", "case_action.department"},
    {T, "north-01", CHECKIN, "north-01", "north-01", ""},
    {T, "north-01", COMPLETE, "", "north-01", ""},
    {T, "north-01", ORDER, "north-01", "power", ""},
    {T, "north-01", ORDER, "north", "power", "case_action.actor"},
    {T, "north-01", ACCEPT, "north-01", "north-01", "case_action.action"},
    {WH_KIND_STATION, "power", ACCEPT, "power", "power", ""},
    {WH_KIND_STATION, "power", DECLINE, "", "power", ""},
    {WH_KIND_STATION, "power", COMPLETE, "power", "power", ""},
    {WH_KIND_STATION, "power", ACCEPT, "bank", "bank", "case_action.department"},
    {WH_KIND_STATION, "power", ACCEPT, "bank", "power", "case_action.actor"},
    {WH_KIND_STATION, "power", CHECKIN, "power", "power", "case_action.action"},
    {WH_KIND_STATION, "power", ORDER, "power", "power", "case_action.action"},
    {WH_KIND_VOLUNTEER, "pm-n1", DECLINE, "pm-n1", "pm-n1", ""},
    {WH_KIND_VOLUNTEER, "pm-n1", PROGRESS, "pm-n1", "pm-n1", ""},
    {WH_KIND_VOLUNTEER, "pm-n1", RESOLVE, "pm-n1", "", "case_action.action"},
    {D, "cg", ACCEPT, "cg", "cg", "case_action.action"},
    {D, "cg", ORDER, "cg", "cg", "case_action.action"},
    {T, "north", VERIFY, "r1", "", "case_action.action"},
    {I, "app", VERIFY, "r1", "", ""},
    {I, "app", CHECKIN, "cg", "cg", "case_action.action"},
    {I, "app", RESOLVE, "north", "", "case_action.action"},
    {WH_KIND_SERVICE, "routing", RESOLVE, "south", "", ""},
    {WH_KIND_OPERATOR, "ops", CHECKIN, "x", "cgj", ""},
    {WH_KIND_NONE, "", CHECKIN, "x", "cgj", ""},
};

START_TEST(who_may_act)
{
    struct wh_identity who = {.kind = s_rows[_i].kind};
    snprintf(who.code, sizeof who.code, "%s", s_rows[_i].code);
    Whistle__V1__CaseAction a = WHISTLE__V1__CASE_ACTION__INIT;
    a.case_id = "C00000001";
    a.action = s_rows[_i].action;
    a.actor = (char *)s_rows[_i].actor;
    a.department = (char *)s_rows[_i].department;
    struct wh_field_error fe;
    memset(&fe, 0, sizeof fe);
    int rc = tracking_authorize(&who, &a, &fe);
    if (!s_rows[_i].field[0]) {
        ck_assert_msg(rc == 0, "row %d refused: %s", _i, fe.message);
    } else {
        ck_assert_msg(rc == WH_EFORBIDDEN, "row %d allowed", _i);
        ck_assert_str_eq(fe.field, s_rows[_i].field);
        ck_assert(fe.message[0]);
    }
}
END_TEST

/* ---- reading: which case, list, figures row and grid visit a key may read ------------------ */

static struct wh_catalog *s_cat;

static void s_cat_load(void)
{
    char err[512];
    s_cat = wh_catalog_load(WHISTLE_SOURCE_DIR "/tests/data/catalog-small.json", err, sizeof err);
    ck_assert_msg(s_cat != NULL, "%s", err);
}

static void s_cat_free(void)
{
    wh_catalog_destroy(&s_cat);
}

static struct wh_identity s_who(int kind, const char *code)
{
    struct wh_identity who = {.kind = kind};
    snprintf(who.code, sizeof who.code, "%s", code);
    return who;
}

#define NOTIFIED WHISTLE__V1__ASSIGNMENT_STATE__NOTIFIED
#define RELEASED WHISTLE__V1__ASSIGNMENT_STATE__RELEASED
#define RETURNED WHISTLE__V1__ASSIGNMENT_STATE__RETURNED
#define DONE WHISTLE__V1__ASSIGNMENT_STATE__DONE

/* The cases of the table (catalog-small: g1, g2 in north-01 of north; g3 in south-01 and g5
 * in south-02 of south). */
static const struct {
    const char *grid, *lead, *community, *source;
    const char *dept[2];
    int dept_state[2];
} s_cases[] = {
    /* K0: north leads, cg notified, scjg released; submitted by app */
    {"g1", "north", "north-01", "app", {"cg", "scjg"}, {NOTIFIED, RELEASED}},
    /* K1: south leads, cgj returned its order; from the hotline */
    {"g3", "south", "south-01", "hotline", {"cgj", NULL}, {RETURNED, 0}},
    /* K2: led by the community north-01 (a matter with "lead": "community"); no source */
    {"g2", "north-01", "north-01", "", {"yjgl", NULL}, {DONE, 0}},
    /* K3: refused by routing: no lead, no community, no department; submitted by app */
    {"g5", "", "", "app", {NULL, NULL}, {0, 0}},
};

static const struct {
    int kind;
    const char *code;
    int k;   /* s_cases[k] */
    int may; /* expected */
} s_reads[] = {
    {D, "cg", 0, 1},
    {D, "scjg", 0, 1},
    {D, "cgj", 0, 0},
    {D, "cgj", 1, 1},
    {D, "cg", 1, 0},
    {D, "yjgl", 2, 1},
    {D, "cg", 3, 0},
    {D, "north", 0, 0},
    {T, "north", 0, 1},
    {T, "north", 1, 0},
    {T, "north", 2, 1},
    {T, "south", 1, 1},
    {T, "south", 0, 0},
    {T, "south", 3, 1},
    {T, "north", 3, 0},
    {T, "north-01", 0, 1},
    {T, "north-01", 2, 1},
    {T, "north-01", 1, 0},
    {T, "south-01", 1, 1},
    {T, "south-02", 1, 0},
    {T, "south-02", 3, 1},
    {T, "cg", 0, 0},
    {I, "app", 0, 1},
    {I, "app", 1, 0},
    {I, "hotline", 1, 1},
    {I, "app", 3, 1},
    {I, "app", 2, 0},
    {I, "north", 0, 0},
    {WH_KIND_SERVICE, "routing", 1, 1},
    {WH_KIND_OPERATOR, "ops", 2, 1},
    {WH_KIND_NONE, "", 1, 1},
};

START_TEST(who_may_read_a_case)
{
    int k = s_reads[_i].k;
    Whistle__V1__Report r = WHISTLE__V1__REPORT__INIT;
    r.grid = (char *)s_cases[k].grid;
    r.source = (char *)s_cases[k].source;
    Whistle__V1__Case c = WHISTLE__V1__CASE__INIT;
    Whistle__V1__Assignment as[2], *asp[2];
    c.id = "C00000001";
    c.report = &r;
    c.lead_unit = (char *)s_cases[k].lead;
    c.community = (char *)s_cases[k].community;
    for (int i = 0; i < 2 && s_cases[k].dept[i]; i++) {
        whistle__v1__assignment__init(&as[i]);
        as[i].department = (char *)s_cases[k].dept[i];
        as[i].state = s_cases[k].dept_state[i];
        asp[i] = &as[i];
        c.n_assignments++;
    }
    c.assignments = asp;
    struct wh_identity who = s_who(s_reads[_i].kind, s_reads[_i].code);
    ck_assert_msg(tracking_may_read_case(&who, s_cat, &c) == s_reads[_i].may,
                  "row %d: %s %s on K%d", _i, wh_kind_name(who.kind), who.code, k);
}
END_TEST

static const struct {
    int kind;
    const char *code;
    const char *dept, *unit, *grid;
    const char *field;    /* "" allowed */
    const char *dept_out; /* the department filter after narrowing */
} s_lists[] = {
    {D, "cg", "", "", "", "", "cg"},
    {D, "cg", "cg", "", "", "", "cg"},
    {D, "cg", "cgj", "", "", "list_cases.department", "cgj"},
    {D, "cg", "", "north", "g3", "", "cg"},
    {T, "north", "", "", "", "", ""},
    {T, "north", "", "north", "", "", ""},
    {T, "north", "", "north-01", "", "", ""},
    {T, "north", "", "south", "", "list_cases.unit", ""},
    {T, "north", "", "south-01", "", "list_cases.unit", ""},
    {T, "north", "", "", "g1", "", ""},
    {T, "north", "", "", "g3", "list_cases.grid", ""},
    {T, "north", "", "", "nosuch", "list_cases.grid", ""},
    {T, "north", "cg", "", "", "", "cg"},
    {T, "north-01", "", "north", "", "list_cases.unit", ""},
    {T, "north-01", "", "north-01", "g2", "", ""},
    {I, "app", "", "", "", "", ""},
    {I, "app", "cg", "south", "g3", "", "cg"},
    {WH_KIND_OPERATOR, "ops", "cgj", "south", "g3", "", "cgj"},
    {WH_KIND_NONE, "", "cgj", "", "", "", "cgj"},
};

START_TEST(who_may_list)
{
    Whistle__V1__ListCases q = WHISTLE__V1__LIST_CASES__INIT;
    q.department = (char *)s_lists[_i].dept;
    q.unit = (char *)s_lists[_i].unit;
    q.grid = (char *)s_lists[_i].grid;
    struct wh_identity who = s_who(s_lists[_i].kind, s_lists[_i].code);
    struct wh_field_error fe;
    memset(&fe, 0, sizeof fe);
    int rc = tracking_may_list(&who, s_cat, &q, &fe);
    if (!s_lists[_i].field[0]) {
        ck_assert_msg(rc == 0, "row %d refused: %s", _i, fe.message);
        ck_assert_str_eq(q.department, s_lists[_i].dept_out);
    } else {
        ck_assert_msg(rc == WH_EFORBIDDEN, "row %d allowed", _i);
        ck_assert_str_eq(fe.field, s_lists[_i].field);
        ck_assert(fe.message[0]);
    }
}
END_TEST

static const struct {
    int kind;
    const char *code, *by;
    const char *field; /* "" allowed */
} s_figures[] = {
    {D, "cg", "", ""},
    {D, "cg", "department", ""},
    {D, "cg", "township", "figures.by"},
    {D, "cg", "grid", "figures.by"},
    {D, "cg", "weekly", ""}, /* not a grouping: the figures answer EFIELD */
    {T, "north", "township", ""},
    {T, "north", "grid", ""},
    {T, "north", "", "figures.unit"},
    {T, "north", "department", "figures.unit"}, /* by department: over its own unit only */
    {I, "app", "department", "figures.by"},
    {I, "app", "grid", "figures.by"},
    /* by issuer: a department (or unit) its own row as the issuer of community tasks */
    {D, "cg", "issuer", ""},
    {T, "north", "issuer", ""},
    {I, "app", "issuer", "figures.by"},
    /* by assignee: a stationed unit or volunteer its own row; a township over its own unit */
    {WH_KIND_STATION, "school", "assignee", ""},
    {WH_KIND_VOLUNTEER, "pm-n1", "assignee", ""},
    {WH_KIND_STATION, "school", "department", "figures.by"},
    {D, "cg", "assignee", "figures.by"},
    {T, "north", "assignee", "figures.unit"},
    {WH_KIND_OPERATOR, "ops", "issuer", ""},
    {WH_KIND_OPERATOR, "ops", "township", ""},
    {WH_KIND_NONE, "", "grid", ""},
};

START_TEST(who_may_read_figures)
{
    Whistle__V1__Figures q = WHISTLE__V1__FIGURES__INIT;
    q.period = "2026-W48";
    q.by = (char *)s_figures[_i].by;
    struct wh_identity who = s_who(s_figures[_i].kind, s_figures[_i].code);
    struct wh_field_error fe;
    memset(&fe, 0, sizeof fe);
    int rc = tracking_may_read_figures(&who, &q, &fe);
    if (!s_figures[_i].field[0]) {
        ck_assert_msg(rc == 0, "row %d refused: %s", _i, fe.message);
    } else {
        ck_assert_msg(rc == WH_EFORBIDDEN, "row %d allowed", _i);
        ck_assert_str_eq(fe.field, s_figures[_i].field);
    }
}
END_TEST

static const struct {
    int kind;
    const char *code, *by, *key;
    int may;
} s_rows_seen[] = {
    {D, "cg", "department", "cg", 1},
    {D, "cg", "department", "cgj", 0},
    {D, "cg", "", "cg", 1},
    {D, "cg", "township", "cg", 0},
    {T, "north", "township", "north", 1},
    {T, "north", "township", "south", 0},
    {T, "north", "grid", "g1", 1},
    {T, "north", "grid", "g3", 0},
    {T, "north-01", "township", "north", 0},
    {T, "north-01", "grid", "g2", 1},
    {T, "south", "grid", "g5", 1},
    {T, "north", "department", "north", 0},
    {I, "app", "department", "app", 0},
    {D, "cg", "issuer", "cg", 1},
    {D, "cg", "issuer", "mz", 0},
    {T, "north", "issuer", "north", 1},
    {WH_KIND_STATION, "school", "assignee", "school", 1},
    {WH_KIND_STATION, "school", "assignee", "bank", 0},
    {WH_KIND_VOLUNTEER, "pm-n1", "assignee", "pm-n1", 1},
    {D, "cg", "assignee", "cg", 0},
    {WH_KIND_OPERATOR, "ops", "issuer", "mz", 1},
    {WH_KIND_OPERATOR, "ops", "grid", "g3", 1},
    {WH_KIND_NONE, "", "department", "cgj", 1},
};

START_TEST(which_figure_rows)
{
    struct wh_identity who = s_who(s_rows_seen[_i].kind, s_rows_seen[_i].code);
    ck_assert_msg(tracking_may_read_figure_row(&who, s_cat, s_rows_seen[_i].by,
                                               s_rows_seen[_i].key) == s_rows_seen[_i].may,
                  "row %d", _i);
}
END_TEST

static const struct {
    int kind;
    const char *code, *grid;
    const char *field; /* "" allowed */
} s_visits[] = {
    {D, "cg", "", "visits.grid"},
    {D, "cg", "g1", "visits.grid"},
    {I, "app", "g1", "visits.grid"},
    {T, "north", "", ""},
    {T, "north", "g1", ""},
    {T, "north", "g3", "visits.grid"},
    {T, "north", "nosuch", ""},
    {T, "south-02", "g5", ""},
    {T, "south-02", "g3", "visits.grid"},
    {WH_KIND_OPERATOR, "ops", "g3", ""},
    {WH_KIND_NONE, "", "", ""},
};

START_TEST(who_may_read_visits)
{
    Whistle__V1__Visits q = WHISTLE__V1__VISITS__INIT;
    q.week = "2026-W48";
    q.grid = (char *)s_visits[_i].grid;
    struct wh_identity who = s_who(s_visits[_i].kind, s_visits[_i].code);
    struct wh_field_error fe;
    memset(&fe, 0, sizeof fe);
    int rc = tracking_may_read_visits(&who, s_cat, &q, &fe);
    if (!s_visits[_i].field[0]) {
        ck_assert_msg(rc == 0, "row %d refused: %s", _i, fe.message);
    } else {
        ck_assert_msg(rc == WH_EFORBIDDEN, "row %d allowed", _i);
        ck_assert_str_eq(fe.field, s_visits[_i].field);
    }
}
END_TEST

/* A grid's book (GridLedger): its community, township or street, and the unlimited. */
static const struct {
    int kind;
    const char *code, *grid;
    const char *field; /* "" allowed */
} s_books[] = {
    {T, "north", "g1", ""},          /* g1's township */
    {T, "north-01", "g2", ""},       /* g2's community */
    {T, "south", "g5", ""},          /* g5's street */
    {T, "south-02", "g5", ""},
    {T, "north", "g3", "grid_ledger.grid"},
    {T, "south-01", "g5", "grid_ledger.grid"}, /* another community of the same street */
    {T, "north", "nosuch", ""},      /* the book says it is unknown (EFIELD, the hint) */
    {D, "cg", "g1", "grid_ledger.grid"},
    {I, "app", "g1", "grid_ledger.grid"},
    {WH_KIND_OPERATOR, "ops", "g3", ""},
    {WH_KIND_SERVICE, "gateway", "g3", ""},
    {WH_KIND_NONE, "", "g3", ""},
};

START_TEST(who_may_read_a_book)
{
    Whistle__V1__GridLedger q = WHISTLE__V1__GRID_LEDGER__INIT;
    q.grid = (char *)s_books[_i].grid;
    struct wh_identity who = s_who(s_books[_i].kind, s_books[_i].code);
    struct wh_field_error fe;
    memset(&fe, 0, sizeof fe);
    int rc = tracking_may_read_book(&who, s_cat, &q, &fe);
    if (!s_books[_i].field[0]) {
        ck_assert_msg(rc == 0, "row %d refused: %s", _i, fe.message);
    } else {
        ck_assert_msg(rc == WH_EFORBIDDEN, "row %d allowed", _i);
        ck_assert_str_eq(fe.field, s_books[_i].field);
    }
}
END_TEST

/* A township's visit report keeps its grids' rows and counts only their short staff. */
START_TEST(visit_rows_kept)
{
    static const struct {
        const char *grid;
        int under;
    } in[] = {{"g1", 1}, {"g3", 1}, {"g1", 0}, {"g2", 1}, {"g5", 1}};
    Whistle__V1__VisitsReply vr = WHISTLE__V1__VISITS_REPLY__INIT;
    vr.rows = calloc(5, sizeof *vr.rows);
    for (size_t i = 0; i < 5; i++) {
        vr.rows[i] = calloc(1, sizeof *vr.rows[i]);
        whistle__v1__visit_row__init(vr.rows[i]);
        vr.rows[i]->grid = (char *)in[i].grid;
        vr.rows[i]->under_minimum = in[i].under;
    }
    vr.n_rows = 5;
    vr.short_count = 4;
    struct wh_identity north = s_who(T, "north");
    tracking_visits_keep(&vr, &north, s_cat);
    ck_assert_uint_eq(vr.n_rows, 3);
    ck_assert_str_eq(vr.rows[0]->grid, "g1");
    ck_assert_str_eq(vr.rows[1]->grid, "g1");
    ck_assert_str_eq(vr.rows[2]->grid, "g2");
    ck_assert_uint_eq(vr.short_count, 2);
    struct wh_identity ops = s_who(WH_KIND_OPERATOR, "ops");
    tracking_visits_keep(&vr, &ops, s_cat);
    ck_assert_uint_eq(vr.n_rows, 3);
    tracking_visits_free(&vr);
}
END_TEST

/* A department's figures keep its own row, with its rank among all. */
START_TEST(figure_rows_kept)
{
    static const char *const keys[] = {"cgj", "cg", "scjg"};
    Whistle__V1__FiguresReply fr = WHISTLE__V1__FIGURES_REPLY__INIT;
    fr.by = strdup("department");
    fr.period = strdup("2026-W48");
    fr.rows = calloc(3, sizeof *fr.rows);
    for (size_t i = 0; i < 3; i++) {
        fr.rows[i] = calloc(1, sizeof *fr.rows[i]);
        whistle__v1__figure_row__init(fr.rows[i]);
        fr.rows[i]->key = strdup(keys[i]);
        fr.rows[i]->name = strdup(keys[i]);
        fr.rows[i]->rank = (uint32_t)i + 1;
    }
    fr.n_rows = 3;
    struct wh_identity cg = s_who(D, "cg");
    tracking_figures_keep(&fr, &cg, s_cat, NULL);
    ck_assert_uint_eq(fr.n_rows, 1);
    ck_assert_str_eq(fr.rows[0]->key, "cg");
    ck_assert_uint_eq(fr.rows[0]->rank, 2);
    tracking_figures_free(&fr);
}
END_TEST

/* A township asking by department over its own unit sees every department's row (考核监督下放至
 * 乡街); a department still only its own. */
START_TEST(figure_rows_kept_for_own_unit)
{
    static const char *const keys[] = {"cgj", "cg", "scjg"};
    for (int who_i = 0; who_i < 2; who_i++) {
        Whistle__V1__FiguresReply fr = WHISTLE__V1__FIGURES_REPLY__INIT;
        fr.by = strdup("department");
        fr.period = strdup("2026-W48");
        fr.rows = calloc(3, sizeof *fr.rows);
        for (size_t i = 0; i < 3; i++) {
            fr.rows[i] = calloc(1, sizeof *fr.rows[i]);
            whistle__v1__figure_row__init(fr.rows[i]);
            fr.rows[i]->key = strdup(keys[i]);
            fr.rows[i]->name = strdup(keys[i]);
        }
        fr.n_rows = 3;
        struct wh_identity who = who_i == 0 ? s_who(T, "north") : s_who(D, "cg");
        tracking_figures_keep(&fr, &who, s_cat, "north");
        ck_assert_uint_eq(fr.n_rows, who_i == 0 ? 3 : 1);
        tracking_figures_free(&fr);
    }
}
END_TEST

/* figures.unit with keys: a township names only its own unit. */
static const struct {
    int kind;
    const char *code, *by, *unit;
    const char *field; /* "" allowed */
} s_figures_unit[] = {
    {T, "north", "department", "north", ""},
    {T, "north", "department", "south", "figures.unit"},
    {T, "north", "township", "north", ""},
    {T, "north", "township", "south", "figures.unit"},
    {T, "north", "grid", "south", "figures.unit"},
    {T, "north-01", "department", "north", "figures.unit"},
    {D, "cg", "department", "north", ""},
    {D, "cg", "township", "north", "figures.by"},
    {I, "app", "department", "north", "figures.by"},
    {WH_KIND_OPERATOR, "ops", "department", "south", ""},
    {WH_KIND_NONE, "", "department", "south", ""},
};

START_TEST(who_may_read_figures_of_a_unit)
{
    Whistle__V1__Figures q = WHISTLE__V1__FIGURES__INIT;
    q.period = "2026-W48";
    q.by = (char *)s_figures_unit[_i].by;
    q.unit = (char *)s_figures_unit[_i].unit;
    struct wh_identity who = s_who(s_figures_unit[_i].kind, s_figures_unit[_i].code);
    struct wh_field_error fe;
    memset(&fe, 0, sizeof fe);
    int rc = tracking_may_read_figures(&who, &q, &fe);
    if (!s_figures_unit[_i].field[0]) {
        ck_assert_msg(rc == 0, "row %d refused: %s", _i, fe.message);
    } else {
        ck_assert_msg(rc == WH_EFORBIDDEN, "row %d allowed", _i);
        ck_assert_str_eq(fe.field, s_figures_unit[_i].field);
    }
}
END_TEST

/* The bulletin: the district's office (operator, keys off) any; a township its own unit. */
static const struct {
    int kind;
    const char *code, *unit;
    const char *field; /* "" allowed */
} s_bulletins[] = {
    {T, "north", "north", ""},
    {T, "north", "south", "bulletin.unit"},
    {T, "north", "", "bulletin.unit"},
    {T, "north-01", "north", "bulletin.unit"},
    {D, "cg", "", "bulletin"},
    {D, "cg", "north", "bulletin"},
    {I, "app", "", "bulletin"},
    {WH_KIND_OPERATOR, "ops", "", ""},
    {WH_KIND_OPERATOR, "ops", "south", ""},
    {WH_KIND_NONE, "", "", ""},
};

START_TEST(who_may_read_a_bulletin)
{
    Whistle__V1__Bulletin q = WHISTLE__V1__BULLETIN__INIT;
    q.period = "2026-11";
    q.unit = (char *)s_bulletins[_i].unit;
    struct wh_identity who = s_who(s_bulletins[_i].kind, s_bulletins[_i].code);
    struct wh_field_error fe;
    memset(&fe, 0, sizeof fe);
    int rc = tracking_may_read_bulletin(&who, &q, &fe);
    if (!s_bulletins[_i].field[0]) {
        ck_assert_msg(rc == 0, "row %d refused: %s", _i, fe.message);
    } else {
        ck_assert_msg(rc == WH_EFORBIDDEN, "row %d allowed", _i);
        ck_assert_str_eq(fe.field, s_bulletins[_i].field);
    }
}
END_TEST

#define N_OF(a) ((int)(sizeof a / sizeof a[0]))

int main(void)
{
    Suite *s = suite_create("authorize");
    TCase *tc = tcase_create("actions");
    tcase_add_loop_test(tc, who_may_act, 0, (int)(sizeof s_rows / sizeof s_rows[0]));
    suite_add_tcase(s, tc);
    TCase *rd = tcase_create("reading");
    tcase_add_unchecked_fixture(rd, s_cat_load, s_cat_free);
    tcase_add_loop_test(rd, who_may_read_a_case, 0, N_OF(s_reads));
    tcase_add_loop_test(rd, who_may_list, 0, N_OF(s_lists));
    tcase_add_loop_test(rd, who_may_read_figures, 0, N_OF(s_figures));
    tcase_add_loop_test(rd, which_figure_rows, 0, N_OF(s_rows_seen));
    tcase_add_loop_test(rd, who_may_read_visits, 0, N_OF(s_visits));
    tcase_add_loop_test(rd, who_may_read_a_book, 0, N_OF(s_books));
    tcase_add_test(rd, visit_rows_kept);
    tcase_add_test(rd, figure_rows_kept);
    tcase_add_test(rd, figure_rows_kept_for_own_unit);
    tcase_add_loop_test(rd, who_may_read_figures_of_a_unit, 0, N_OF(s_figures_unit));
    tcase_add_loop_test(rd, who_may_read_a_bulletin, 0, N_OF(s_bulletins));
    suite_add_tcase(s, rd);
    return wh_test_run(s);
}
