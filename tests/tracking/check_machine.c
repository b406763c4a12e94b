/* check_machine.c: every (case state, action) pair of the case state machine, who may act,
 * and that a refused action leaves the case exactly as it was. */
#include "tracking.h"
#include "wh_test.h"
#include "whistle/error.h"
#include <check.h>

#define ST(x) WHISTLE__V1__CASE_STATE__##x
#define AS(x) WHISTLE__V1__ASSIGNMENT_STATE__##x
#define AC(x) WHISTLE__V1__ACTION__##x

struct s_case {
    Whistle__V1__Case c;
    Whistle__V1__Report r;
    Whistle__V1__Assignment a[2];
    Whistle__V1__Assignment *ap[2];
};

/* A case in `state` with departments cg and scjg in `cg` / `scjg` states (REFUSED: none). */
static void s_make(struct s_case *s, int state, int cg, int scjg)
{
    whistle__v1__case__init(&s->c);
    whistle__v1__report__init(&s->r);
    s->r.grid = "g1";
    s->r.matter = "m2";
    s->r.reporter = "r1";
    s->c.id = "C00000009";
    s->c.report = &s->r;
    s->c.state = state;
    s->c.lead_unit = state == ST(REFUSED) ? "" : "north";
    s->c.version = 1;
    const char *d[2] = {"cg", "scjg"};
    int st[2] = {cg, scjg};
    for (int i = 0; i < 2; i++) {
        whistle__v1__assignment__init(&s->a[i]);
        s->a[i].department = (char *)d[i];
        s->a[i].state = st[i];
        s->ap[i] = &s->a[i];
    }
    s->c.assignments = s->ap;
    s->c.n_assignments = state == ST(REFUSED) ? 0 : 2;
}

static const struct {
    int state, cg, scjg; /* the case before */
} s_states[] = {
    {ST(DISPATCHED), AS(NOTIFIED), AS(NOTIFIED)},
    {ST(IN_PROGRESS), AS(CHECKED_IN), AS(NOTIFIED)},
    {ST(RESOLVED), AS(DONE), AS(DONE)},
    {ST(CLOSED), AS(DONE), AS(DONE)},
    {ST(REOPENED), AS(NOTIFIED), AS(NOTIFIED)},
    {ST(REFUSED), 0, 0},
};

static const struct {
    int action;
    const char *actor, *dept, *note;
    int satisfied;
} s_actions[] = {
    {AC(CHECKIN), "cg", "cg", "", 0},   {AC(PROGRESS), "cg", "cg", "", 0},
    {AC(COMPLETE), "cg", "cg", "", 0},  {AC(RESOLVE), "north", "", "", 0},
    {AC(VERIFY), "r1", "", "", 1},      {AC(VERIFY), "r1", "", "", 0},
    {AC(RETURN), "cg", "cg", "not ours", 0}, {AC(ASSIGN), "north", "yjgl", "", 0},
    {AC(RELEASE), "cg", "cg", "", 0},
};
#define N_ACTIONS ((int)(sizeof s_actions / sizeof s_actions[0]))

/* expected[state][action]: resulting case state, or a negative error code */
static const int s_expected[6][9] = {
    /* CHECKIN  PROGRESS  COMPLETE  RESOLVE  VERIFY+  VERIFY-  RETURN  ASSIGN  RELEASE */
    {ST(IN_PROGRESS), WH_ESTATE, WH_ESTATE, WH_ESTATE, WH_ESTATE, WH_ESTATE,          /* DISPATCHED */
     ST(DISPATCHED), ST(DISPATCHED), WH_ESTATE},
    {WH_ESTATE, ST(IN_PROGRESS), ST(IN_PROGRESS), WH_ESTATE, WH_ESTATE, WH_ESTATE,    /* IN_PROGRESS */
     ST(IN_PROGRESS), ST(IN_PROGRESS), WH_ESTATE},
    {WH_ESTATE, WH_ESTATE, WH_ESTATE, WH_ESTATE, ST(CLOSED), ST(REOPENED),            /* RESOLVED */
     WH_ESTATE, WH_ESTATE, WH_ESTATE},
    {WH_ESTATE, WH_ESTATE, WH_ESTATE, WH_ESTATE, WH_ESTATE, WH_ESTATE,                /* CLOSED */
     WH_ESTATE, WH_ESTATE, WH_ESTATE},
    {ST(IN_PROGRESS), WH_ESTATE, WH_ESTATE, WH_ESTATE, WH_ESTATE, WH_ESTATE,          /* REOPENED */
     ST(REOPENED), ST(REOPENED), WH_ESTATE},
    {WH_EFORBIDDEN, WH_EFORBIDDEN, WH_EFORBIDDEN, WH_EFORBIDDEN, WH_ESTATE, WH_ESTATE,/* REFUSED */
     WH_EFORBIDDEN, WH_EFORBIDDEN, WH_EFORBIDDEN},
};

static Whistle__V1__Case *s_heap(int state, int cg, int scjg);

START_TEST(every_state_action_pair)
{
    int si = _i / N_ACTIONS, ai = _i % N_ACTIONS;
    Whistle__V1__Case *c = s_heap(s_states[si].state, s_states[si].cg, s_states[si].scjg);
    Whistle__V1__CaseAction a = WHISTLE__V1__CASE_ACTION__INIT;
    a.case_id = c->id;
    a.action = s_actions[ai].action;
    a.actor = (char *)s_actions[ai].actor;
    a.department = (char *)s_actions[ai].dept;
    a.note = (char *)s_actions[ai].note;
    a.satisfied = s_actions[ai].satisfied;
    size_t before_len, after_len;
    uint8_t *before = wh_pack(&c->base, &before_len);
    Whistle__V1__HistoryEntry e;
    struct wh_field_error err;
    int rc = tracking_machine_act(c, &a, 5000, &e, &err);
    int want = s_expected[si][ai];
    if (want < 0) {
        ck_assert_msg(rc == want, "%s + %s: got %d, want %d", wh_state_name(s_states[si].state),
                      wh_action_name(a.action), rc, want);
        ck_assert_msg(err.message[0] && err.field[0], "a refusal names the field and the reason");
        uint8_t *after = wh_pack(&c->base, &after_len);
        ck_assert_uint_eq(before_len, after_len);
        ck_assert_msg(memcmp(before, after, before_len) == 0, "a refusal changes nothing");
        free(after);
    } else {
        ck_assert_msg(rc == 0, "%s + %s refused: %s", wh_state_name(s_states[si].state),
                      wh_action_name(a.action), err.message);
        ck_assert_int_eq(c->state, want);
        ck_assert_uint_eq(c->version, 2);
        ck_assert_int_eq(c->updated_at_ms, 5000);
        ck_assert_int_eq(e.from_state, s_states[si].state);
        ck_assert_int_eq(e.to_state, want);
        ck_assert_int_eq(e.action, a.action);
    }
    free(before);
    whistle__v1__case__free_unpacked(c, NULL);
}
END_TEST

START_TEST(who_may_act)
{
    struct s_case s;
    Whistle__V1__HistoryEntry e;
    struct wh_field_error err;
    Whistle__V1__CaseAction a = WHISTLE__V1__CASE_ACTION__INIT;
    a.case_id = "C00000009";

    s_make(&s, ST(DISPATCHED), AS(NOTIFIED), AS(NOTIFIED));
    a.action = AC(CHECKIN);
    a.department = "zj"; /* not assigned */
    ck_assert_int_eq(tracking_machine_act(&s.c, &a, 1, &e, &err), WH_EFORBIDDEN);
    ck_assert_str_eq(err.field, "case_action.department");
    a.department = ""; /* missing */
    ck_assert_int_eq(tracking_machine_act(&s.c, &a, 1, &e, &err), WH_EFIELD);

    s_make(&s, ST(IN_PROGRESS), AS(DONE), AS(DONE));
    a.action = AC(RESOLVE);
    a.actor = "south"; /* not the lead */
    ck_assert_int_eq(tracking_machine_act(&s.c, &a, 1, &e, &err), WH_EFORBIDDEN);
    ck_assert_str_eq(err.field, "case_action.actor");
    a.actor = "north";
    ck_assert_int_eq(tracking_machine_act(&s.c, &a, 1, &e, &err), 0);
    ck_assert_int_eq(s.c.state, ST(RESOLVED));

    a.action = AC(VERIFY);
    a.actor = "r2"; /* not the reporter */
    a.satisfied = 1;
    ck_assert_int_eq(tracking_machine_act(&s.c, &a, 1, &e, &err), WH_EFORBIDDEN);
    ck_assert_int_eq(s.c.state, ST(RESOLVED));

    a.action = 99;
    ck_assert_int_eq(tracking_machine_act(&s.c, &a, 1, &e, &err), WH_EFIELD);
}
END_TEST

START_TEST(reopen_puts_every_department_back)
{
    struct s_case s;
    s_make(&s, ST(RESOLVED), AS(DONE), AS(DONE));
    s.a[0].checked_in_at_ms = s.a[1].checked_in_at_ms = 10;
    Whistle__V1__CaseAction a = WHISTLE__V1__CASE_ACTION__INIT;
    a.case_id = s.c.id;
    a.action = AC(VERIFY);
    a.actor = "r1";
    a.satisfied = 0;
    Whistle__V1__HistoryEntry e;
    struct wh_field_error err;
    ck_assert_int_eq(tracking_machine_act(&s.c, &a, 20, &e, &err), 0);
    ck_assert_int_eq(s.c.state, ST(REOPENED));
    ck_assert_uint_eq(s.c.reopen_count, 1);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(s.a[i].state, AS(NOTIFIED));
        ck_assert_int_eq(s.a[i].checked_in_at_ms, 0);
    }
    /* the case cannot be resolved again until every department is done again */
    a.action = AC(CHECKIN);
    a.department = a.actor = "cg";
    ck_assert_int_eq(tracking_machine_act(&s.c, &a, 21, &e, &err), 0);
    a.action = AC(COMPLETE);
    ck_assert_int_eq(tracking_machine_act(&s.c, &a, 22, &e, &err), 0);
    a.action = AC(RESOLVE);
    a.actor = "north";
    a.department = "";
    ck_assert_int_eq(tracking_machine_act(&s.c, &a, 23, &e, &err), WH_ESTATE);
    ck_assert_ptr_nonnull(strstr(err.message, "scjg"));
}
END_TEST

/* A heap-owned copy (as tracking holds cases), so that ASSIGN may add to it. */
static Whistle__V1__Case *s_heap(int state, int cg, int scjg)
{
    struct s_case s;
    s_make(&s, state, cg, scjg);
    size_t len;
    uint8_t *buf = wh_pack(&s.c.base, &len);
    Whistle__V1__Case *c = whistle__v1__case__unpack(NULL, len, buf);
    free(buf);
    return c;
}

static int s_act(Whistle__V1__Case *c, int action, const char *actor, const char *dept,
                 const char *note, const char *from, struct wh_field_error *err)
{
    Whistle__V1__CaseAction a = WHISTLE__V1__CASE_ACTION__INIT;
    a.case_id = c->id;
    a.action = action;
    a.actor = (char *)actor;
    a.department = (char *)dept;
    a.note = (char *)note;
    a.from_department = (char *)from;
    Whistle__V1__HistoryEntry e;
    return tracking_machine_act(c, &a, 100, &e, err);
}

static int s_dept_state(const Whistle__V1__Case *c, const char *dept)
{
    for (size_t i = 0; i < c->n_assignments; i++)
        if (strcmp(c->assignments[i]->department, dept) == 0) return c->assignments[i]->state;
    return -1;
}

/* 1+N: a return once with a reason; the lead rejects it or moves the order; no second
 * return and no release while the case is open (事不完、人不撤). */
START_TEST(return_assign_release)
{
    struct wh_field_error err;
    Whistle__V1__Case *c = s_heap(ST(DISPATCHED), AS(NOTIFIED), AS(NOTIFIED));
    ck_assert_int_eq(s_act(c, AC(RETURN), "cg", "cg", "", "", &err), WH_EFIELD);
    ck_assert_str_eq(err.field, "case_action.note");
    ck_assert_int_eq(s_act(c, AC(RETURN), "cg", "cg", "not ours", "", &err), 0);
    ck_assert_int_eq(s_dept_state(c, "cg"), AS(RETURNED));
    ck_assert_int_eq(s_act(c, AC(CHECKIN), "cg", "cg", "", "", &err), WH_ESTATE);
    /* only the lead assigns */
    ck_assert_int_eq(s_act(c, AC(ASSIGN), "south", "cg", "", "", &err), WH_EFORBIDDEN);
    /* the lead rejects the return: cg is back on it, and may not return again */
    ck_assert_int_eq(s_act(c, AC(ASSIGN), "north", "cg", "", "", &err), 0);
    ck_assert_int_eq(s_dept_state(c, "cg"), AS(NOTIFIED));
    ck_assert_int_eq(s_act(c, AC(RETURN), "cg", "cg", "still not ours", "", &err), WH_ESTATE);
    ck_assert_ptr_nonnull(strstr(err.message, "second return"));
    /* scjg returns; the lead moves its order to yjgl */
    ck_assert_int_eq(s_act(c, AC(RETURN), "scjg", "scjg", "wrong office", "", &err), 0);
    ck_assert_int_eq(s_act(c, AC(ASSIGN), "north", "yjgl", "", "cg", &err), WH_ESTATE);
    ck_assert_str_eq(err.field, "case_action.from_department");
    ck_assert_int_eq(s_act(c, AC(ASSIGN), "north", "yjgl", "", "scjg", &err), 0);
    ck_assert_int_eq(s_dept_state(c, "scjg"), AS(RELEASED));
    ck_assert_int_eq(s_dept_state(c, "yjgl"), AS(NOTIFIED));
    ck_assert_uint_eq(c->n_assignments, 3);
    /* a department already on the case cannot be assigned twice */
    ck_assert_int_eq(s_act(c, AC(ASSIGN), "north", "yjgl", "", "", &err), WH_ESTATE);
    /* the lead adds another department */
    ck_assert_int_eq(s_act(c, AC(ASSIGN), "north", "cgj", "", "", &err), 0);
    ck_assert_uint_eq(c->n_assignments, 4);
    /* nobody leaves an open case */
    ck_assert_int_eq(s_act(c, AC(RELEASE), "cg", "cg", "", "", &err), WH_ESTATE);
    ck_assert_ptr_nonnull(strstr(err.message, "事不完、人不撤"));
    /* resolving needs every department done; the released one does not count */
    const char *on[] = {"cg", "yjgl", "cgj"};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(s_act(c, AC(CHECKIN), on[i], on[i], "", "", &err), 0);
        ck_assert_int_eq(s_act(c, AC(COMPLETE), on[i], on[i], "", "", &err), 0);
    }
    ck_assert_int_eq(s_act(c, AC(RESOLVE), "north", "", "", "", &err), 0);
    ck_assert_int_eq(c->state, ST(RESOLVED));
    /* a reopen puts back every department but the released one */
    Whistle__V1__CaseAction v = WHISTLE__V1__CASE_ACTION__INIT;
    v.case_id = c->id;
    v.action = AC(VERIFY);
    v.actor = "r1";
    Whistle__V1__HistoryEntry e;
    ck_assert_int_eq(tracking_machine_act(c, &v, 200, &e, &err), 0);
    ck_assert_int_eq(s_dept_state(c, "scjg"), AS(RELEASED));
    ck_assert_int_eq(s_dept_state(c, "cgj"), AS(NOTIFIED));
    /* what was added survives the wire (and is freed by free_unpacked under ASan) */
    size_t len;
    uint8_t *buf = wh_pack(&c->base, &len);
    Whistle__V1__Case *back = whistle__v1__case__unpack(NULL, len, buf);
    ck_assert_uint_eq(back->n_assignments, 4);
    ck_assert_str_eq(back->assignments[1]->return_reason, "wrong office");
    whistle__v1__case__free_unpacked(back, NULL);
    free(buf);
    whistle__v1__case__free_unpacked(c, NULL);
}
END_TEST

/* ---- 社区派单: a resident's order led by community north-01, and a community task ------------- */

/* An order case in `state` whose order went to stationed unit "bank" (in `bank` state; 0: not
 * dispatched yet) after volunteer "pm-n1" declined it. Heap-owned, as tracking holds it. */
static Whistle__V1__Case *s_order_case(int state, int bank)
{
    struct s_case s;
    s_make(&s, state, AS(DECLINED), bank);
    s.r.order = 1;
    s.r.matter = "o1";
    s.c.lead_unit = state == ST(REFUSED) ? "" : "north-01";
    s.c.community = "north-01";
    s.a[0].department = "pm-n1";
    s.a[0].kind = "volunteer";
    s.a[0].decline_reason = "away";
    s.a[1].department = "bank";
    s.a[1].kind = "station";
    if (state != ST(REFUSED)) s.c.n_assignments = bank ? 2 : 1;
    size_t len;
    uint8_t *buf = wh_pack(&s.c.base, &len);
    Whistle__V1__Case *c = whistle__v1__case__unpack(NULL, len, buf);
    free(buf);
    return c;
}

static const struct {
    int state, bank; /* the case before */
} s_order_states[] = {
    {ST(DISPATCHED), 0},             /* the community has not dispatched it yet */
    {ST(DISPATCHED), AS(NOTIFIED)},  /* dispatched, not yet answered */
    {ST(IN_PROGRESS), AS(CHECKED_IN)}, /* taken (接单) */
    {ST(RESOLVED), AS(DONE)},
    {ST(CLOSED), AS(DONE)},
    {ST(REOPENED), AS(NOTIFIED)},
    {ST(REFUSED), 0},
};
#define N_ORDER_STATES ((int)(sizeof s_order_states / sizeof s_order_states[0]))

static const struct {
    int action;
    const char *actor, *dept, *kind, *note;
} s_order_actions[] = {
    {AC(ORDER), "north-01", "school", "station", ""},
    {AC(ORDER), "north-01", "pm-n1", "volunteer", ""}, /* again to the one who declined */
    {AC(ACCEPT), "bank", "bank", "", ""},
    {AC(DECLINE), "bank", "bank", "", "no staff"},
    {AC(DECLINE), "bank", "bank", "", ""},               /* no reason */
    {AC(CHECKIN), "bank", "bank", "", ""},               /* a unit takes it with ACCEPT */
    {AC(RETURN), "bank", "bank", "", "not ours"},        /* ... and declines, never returns */
    {AC(COMPLETE), "bank", "bank", "", ""},
    {AC(ACCEPT), "pm-n1", "pm-n1", "", ""},              /* declined: the community decides */
    {AC(RESOLVE), "north-01", "", "", ""},
};
#define N_ORDER_ACTIONS ((int)(sizeof s_order_actions / sizeof s_order_actions[0]))

#define X WH_ESTATE
#define F WH_EFORBIDDEN
#define E WH_EFIELD
/* s_order_expected[state][action]: the case state after, or a negative error code */
static const int s_order_expected[N_ORDER_STATES][N_ORDER_ACTIONS] = {
    /* ORDER school, ORDER pm-n1, ACCEPT, DECLINE, DECLINE-, CHECKIN, RETURN, COMPLETE,
     * ACCEPT pm-n1, RESOLVE */
    {ST(DISPATCHED), ST(DISPATCHED), F, F, F, F, F, F, X, X},                  /* no order */
    {X, X, ST(IN_PROGRESS), ST(DISPATCHED), E, X, X, X, X, X},                 /* NOTIFIED */
    {X, X, X, X, X, X, X, ST(IN_PROGRESS), X, X},                              /* CHECKED_IN */
    {X, X, X, X, X, X, X, X, X, X},                                            /* RESOLVED */
    {X, X, X, X, X, X, X, X, X, X},                                            /* CLOSED */
    {X, X, ST(IN_PROGRESS), ST(REOPENED), E, X, X, X, X, X},                   /* REOPENED */
    {F, F, F, F, F, F, F, F, F, F},                                            /* REFUSED */
};
#undef X
#undef F
#undef E

START_TEST(every_order_state_action_pair)
{
    int si = _i / N_ORDER_ACTIONS, ai = _i % N_ORDER_ACTIONS;
    Whistle__V1__Case *c = s_order_case(s_order_states[si].state, s_order_states[si].bank);
    Whistle__V1__CaseAction a = WHISTLE__V1__CASE_ACTION__INIT;
    a.case_id = c->id;
    a.action = s_order_actions[ai].action;
    a.actor = (char *)s_order_actions[ai].actor;
    a.department = (char *)s_order_actions[ai].dept;
    a.kind = (char *)s_order_actions[ai].kind;
    a.note = (char *)s_order_actions[ai].note;
    size_t before_len, after_len;
    uint8_t *before = wh_pack(&c->base, &before_len);
    Whistle__V1__HistoryEntry e;
    struct wh_field_error err;
    memset(&err, 0, sizeof err);
    int rc = tracking_machine_act(c, &a, 5000, &e, &err);
    int want = s_order_expected[si][ai];
    const char *what = wh_state_name(s_order_states[si].state);
    if (want < 0) {
        ck_assert_msg(rc == want, "%s (bank %d) + %s #%d: got %d (%s), want %d", what,
                      s_order_states[si].bank, wh_action_name(a.action), ai, rc, err.message,
                      want);
        ck_assert_msg(err.message[0] && err.field[0], "a refusal names the field and the reason");
        uint8_t *after = wh_pack(&c->base, &after_len);
        ck_assert_uint_eq(before_len, after_len);
        ck_assert_msg(memcmp(before, after, before_len) == 0, "a refusal changes nothing");
        free(after);
    } else {
        ck_assert_msg(rc == 0, "%s (bank %d) + %s #%d refused: %s", what,
                      s_order_states[si].bank, wh_action_name(a.action), ai, err.message);
        ck_assert_int_eq(c->state, want);
        ck_assert_int_eq(e.action, a.action);
    }
    free(before);
    whistle__v1__case__free_unpacked(c, NULL);
}
END_TEST

/* Dispatched, declined, dispatched again, accepted, completed, resolved; reopened: the one
 * that did it is back on it, the one that declined stays DECLINED. */
START_TEST(order_declined_and_dispatched_again)
{
    Whistle__V1__Case *c = s_order_case(ST(DISPATCHED), 0);
    c->assignments[0]->state = AS(DECLINED);
    struct wh_field_error err;
    Whistle__V1__HistoryEntry e;
    Whistle__V1__CaseAction a = WHISTLE__V1__CASE_ACTION__INIT;
    a.case_id = c->id;
    a.action = AC(ORDER);
    a.actor = "north-01";
    a.department = "bank";
    a.kind = "volunteer"; /* bank is not a volunteer: a new assignment of that kind */
    ck_assert_int_eq(tracking_machine_act(c, &a, 1, &e, &err), 0);
    ck_assert_str_eq(c->assignments[1]->kind, "volunteer");
    ck_assert_int_eq(c->assignments[1]->state, AS(NOTIFIED));
    ck_assert_str_eq(e.department, "bank");
    a.action = AC(DECLINE);
    a.actor = "bank";
    a.kind = "station"; /* as another kind than it is on the case */
    a.note = "no staff";
    ck_assert_int_eq(tracking_machine_act(c, &a, 2, &e, &err), WH_EFORBIDDEN);
    ck_assert_str_eq(err.field, "case_action.kind");
    a.kind = "";
    ck_assert_int_eq(tracking_machine_act(c, &a, 2, &e, &err), 0);
    ck_assert_int_eq(c->assignments[1]->state, AS(DECLINED));
    ck_assert_str_eq(c->assignments[1]->decline_reason, "no staff");
    a.action = AC(ORDER);
    a.actor = "north-01";
    a.department = "pm-n1";
    a.kind = "volunteer";
    a.note = "";
    ck_assert_int_eq(tracking_machine_act(c, &a, 3, &e, &err), 0);
    ck_assert_int_eq(c->assignments[0]->state, AS(NOTIFIED));
    ck_assert_int_eq(c->assignments[0]->assigned_at_ms, 3);
    a.kind = "";
    a.actor = "pm-n1";
    int steps[] = {AC(ACCEPT), AC(COMPLETE)};
    for (int i = 0; i < 2; i++) {
        a.action = steps[i];
        ck_assert_int_eq(tracking_machine_act(c, &a, 4 + i, &e, &err), 0);
    }
    ck_assert_int_eq(c->assignments[0]->checked_in_at_ms, 4);
    a.action = AC(RESOLVE);
    a.actor = "north-01";
    a.department = "";
    ck_assert_int_eq(tracking_machine_act(c, &a, 6, &e, &err), 0);
    ck_assert_int_eq(c->state, ST(RESOLVED));
    a.action = AC(VERIFY);
    a.actor = "r1";
    a.satisfied = 0;
    ck_assert_int_eq(tracking_machine_act(c, &a, 7, &e, &err), 0);
    ck_assert_int_eq(c->state, ST(REOPENED));
    ck_assert_int_eq(c->assignments[0]->state, AS(NOTIFIED));
    ck_assert_int_eq(c->assignments[1]->state, AS(DECLINED));
    whistle__v1__case__free_unpacked(c, NULL);
}
END_TEST

/* ORDER only on an order; a community task's community checks in and completes it. */
START_TEST(task_community_checks_in)
{
    Whistle__V1__Case *c = s_heap(ST(DISPATCHED), AS(NOTIFIED), AS(NOTIFIED));
    struct wh_field_error err;
    Whistle__V1__HistoryEntry e;
    Whistle__V1__CaseAction a = WHISTLE__V1__CASE_ACTION__INIT;
    a.case_id = c->id;
    a.action = AC(ORDER);
    a.actor = "north";
    a.department = "bank";
    a.kind = "station";
    ck_assert_int_eq(tracking_machine_act(c, &a, 1, &e, &err), WH_ESTATE);
    ck_assert_str_eq(err.field, "case_action.action");
    /* scjg's assignment made the community's: it checks in as a community, not a station */
    free(c->assignments[1]->department);
    c->assignments[1]->department = strdup("north-01");
    c->assignments[1]->kind = strdup("community");
    a.action = AC(CHECKIN);
    a.actor = a.department = "north-01";
    a.kind = "station";
    ck_assert_int_eq(tracking_machine_act(c, &a, 2, &e, &err), WH_EFORBIDDEN);
    a.kind = "community";
    ck_assert_int_eq(tracking_machine_act(c, &a, 2, &e, &err), 0);
    ck_assert_int_eq(c->state, ST(IN_PROGRESS));
    a.action = AC(ACCEPT);
    ck_assert_int_eq(tracking_machine_act(c, &a, 3, &e, &err), WH_ESTATE);
    a.action = AC(COMPLETE);
    ck_assert_int_eq(tracking_machine_act(c, &a, 3, &e, &err), 0);
    ck_assert_int_eq(c->assignments[1]->state, AS(DONE));
    whistle__v1__case__free_unpacked(c, NULL);
}
END_TEST

/* 乡街吹哨: a case in REVIEW takes no action but its lead's decision. */
START_TEST(review_refuses_every_action)
{
    const int i = _i;
    Whistle__V1__Case *c = s_heap(ST(REVIEW), AS(NOTIFIED), AS(NOTIFIED));
    for (size_t k = 0; k < c->n_assignments; k++) free(c->assignments[k]->department);
    for (size_t k = 0; k < c->n_assignments; k++) free(c->assignments[k]);
    c->n_assignments = 0; /* nothing blown yet */
    Whistle__V1__CaseAction a = WHISTLE__V1__CASE_ACTION__INIT;
    a.case_id = c->id;
    a.action = s_actions[i].action;
    a.actor = (char *)s_actions[i].actor;
    a.department = (char *)s_actions[i].dept;
    a.note = (char *)s_actions[i].note;
    a.satisfied = s_actions[i].satisfied;
    Whistle__V1__HistoryEntry e;
    struct wh_field_error err;
    ck_assert_int_eq(tracking_machine_act(c, &a, 100, &e, &err), WH_ESTATE);
    ck_assert_str_eq(err.field, "case_action.action");
    ck_assert_int_eq(c->state, ST(REVIEW));
    ck_assert_uint_eq(c->version, 1);
    whistle__v1__case__free_unpacked(c, NULL);
}
END_TEST

/* (state, BLOW | HAND_OVER | REJECT): only REVIEW takes the lead's decision. */
static const int s_review_states[] = {ST(REVIEW),   ST(DISPATCHED), ST(IN_PROGRESS), ST(RESOLVED),
                                      ST(CLOSED),   ST(REOPENED),   ST(REFUSED)};
#define N_REVIEW_STATES ((int)(sizeof s_review_states / sizeof s_review_states[0]))
static const int s_review_actions[] = {AC(BLOW), AC(HAND_OVER), AC(REJECT)};

START_TEST(every_review_state_action_pair)
{
    int st = s_review_states[_i / 3], act = s_review_actions[_i % 3];
    Whistle__V1__Case *c = s_heap(st, AS(NOTIFIED), AS(NOTIFIED));
    if (st == ST(REVIEW)) {
        for (size_t k = 0; k < c->n_assignments; k++) {
            free(c->assignments[k]->department);
            free(c->assignments[k]);
        }
        c->n_assignments = 0;
    }
    if (st == ST(REFUSED)) {
        c->lead_unit = strdup("north"); /* rejected in review: its lead stays */
    }
    char *depts[] = {"cg", "yjgl"};
    Whistle__V1__ReviewStep s = WHISTLE__V1__REVIEW_STEP__INIT;
    s.case_id = c->id;
    s.action = act;
    s.actor = "north";
    s.community = "north-01";
    s.whistle = WHISTLE__V1__WHISTLE__EMERGENCY;
    s.departments = act == AC(BLOW) ? depts : NULL;
    s.n_departments = act == AC(BLOW) ? 2 : 0;
    s.checkin_deadline_ms = 1100;
    s.resolve_deadline_ms = 9100;
    s.reject = act == AC(REJECT) ? "duplicate" : "";
    s.duplicate_of = act == AC(REJECT) ? "C00000001" : "";
    s.reason = "同一处";
    Whistle__V1__HistoryEntry e;
    struct wh_field_error err;
    /* not the lead: refused whatever the state */
    s.actor = "south";
    ck_assert_int_eq(tracking_machine_review(c, &s, 100, &e, &err), WH_EFORBIDDEN);
    ck_assert_str_eq(err.field, "blow.actor");
    s.actor = "north";
    int rc = tracking_machine_review(c, &s, 100, &e, &err);
    if (st != ST(REVIEW)) {
        ck_assert_int_eq(rc, WH_ESTATE);
        ck_assert_str_eq(err.field, "blow.case_id");
        ck_assert_int_eq(c->state, st);
        ck_assert_uint_eq(c->version, 1);
    } else if (act == AC(REJECT)) {
        ck_assert_int_eq(rc, 0);
        ck_assert_int_eq(c->state, ST(REFUSED));
        ck_assert_str_eq(c->duplicate_of, "C00000001");
        ck_assert_uint_eq(c->n_assignments, 0);
        ck_assert_int_eq(e.action, AC(REJECT));
        ck_assert_int_eq(e.from_state, ST(REVIEW));
        ck_assert_int_eq(e.to_state, ST(REFUSED));
    } else {
        ck_assert_int_eq(rc, 0);
        ck_assert_int_eq(c->state, ST(DISPATCHED));
        ck_assert_int_eq(c->whistle, WHISTLE__V1__WHISTLE__EMERGENCY);
        ck_assert_int_eq(c->checkin_deadline_ms, 1100);
        ck_assert_int_eq(e.action, act);
        ck_assert_str_eq(c->lead_unit, "north");
        if (act == AC(BLOW)) {
            ck_assert_uint_eq(c->n_assignments, 2);
            ck_assert_str_eq(c->assignments[1]->department, "yjgl");
            ck_assert_str_eq(c->assignments[1]->kind, "");
        } else {
            ck_assert_uint_eq(c->n_assignments, 1);
            ck_assert_str_eq(c->assignments[0]->department, "north-01");
            ck_assert_str_eq(c->assignments[0]->kind, "community");
        }
        for (size_t k = 0; k < c->n_assignments; k++) {
            ck_assert_int_eq(c->assignments[k]->state, AS(NOTIFIED));
            ck_assert_int_eq(c->assignments[k]->assigned_at_ms, 100);
        }
    }
    whistle__v1__case__free_unpacked(c, NULL);
}
END_TEST

/* Every (re)assignment starts its own check-in period: the machine stamps assigned_at_ms and
 * clears the deadline (tracking sets it from then). */
START_TEST(reassignment_starts_its_own_deadline)
{
    Whistle__V1__Case *c = s_heap(ST(RESOLVED), AS(DONE), AS(DONE));
    for (size_t k = 0; k < c->n_assignments; k++) {
        c->assignments[k]->assigned_at_ms = 10;
        c->assignments[k]->checkin_deadline_ms = 70;
    }
    Whistle__V1__CaseAction a = WHISTLE__V1__CASE_ACTION__INIT;
    a.case_id = c->id;
    a.action = AC(VERIFY);
    a.actor = "r1";
    Whistle__V1__HistoryEntry e;
    struct wh_field_error err;
    ck_assert_int_eq(tracking_machine_act(c, &a, 500, &e, &err), 0);
    ck_assert_int_eq(c->state, ST(REOPENED));
    for (size_t k = 0; k < c->n_assignments; k++) {
        ck_assert_int_eq(c->assignments[k]->assigned_at_ms, 500);
        ck_assert_int_eq(c->assignments[k]->checkin_deadline_ms, 0);
    }
    /* a return rejected (ASSIGN the same department): its deadline starts again too */
    c->assignments[0]->checkin_deadline_ms = 560;
    c->assignments[0]->state = AS(RETURNED);
    a.action = AC(ASSIGN);
    a.actor = "north";
    a.department = "cg";
    ck_assert_int_eq(tracking_machine_act(c, &a, 600, &e, &err), 0);
    ck_assert_int_eq(c->assignments[0]->assigned_at_ms, 600);
    ck_assert_int_eq(c->assignments[0]->checkin_deadline_ms, 0);
    whistle__v1__case__free_unpacked(c, NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tracking machine");
    TCase *tc = tcase_create("machine");
    tcase_add_loop_test(tc, every_state_action_pair, 0, 6 * N_ACTIONS);
    tcase_add_test(tc, who_may_act);
    tcase_add_test(tc, reopen_puts_every_department_back);
    tcase_add_test(tc, return_assign_release);
    tcase_add_loop_test(tc, every_order_state_action_pair, 0, N_ORDER_STATES * N_ORDER_ACTIONS);
    tcase_add_test(tc, order_declined_and_dispatched_again);
    tcase_add_test(tc, task_community_checks_in);
    tcase_add_loop_test(tc, review_refuses_every_action, 0, N_ACTIONS);
    tcase_add_loop_test(tc, every_review_state_action_pair, 0, N_REVIEW_STATES * 3);
    tcase_add_test(tc, reassignment_starts_its_own_deadline);
    suite_add_tcase(s, tc);
    return wh_test_run(s);
}
