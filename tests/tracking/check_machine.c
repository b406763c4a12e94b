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

int main(void)
{
    Suite *s = suite_create("tracking machine");
    TCase *tc = tcase_create("machine");
    tcase_add_loop_test(tc, every_state_action_pair, 0, 6 * N_ACTIONS);
    tcase_add_test(tc, who_may_act);
    tcase_add_test(tc, reopen_puts_every_department_back);
    tcase_add_test(tc, return_assign_release);
    suite_add_tcase(s, tc);
    return wh_test_run(s);
}
