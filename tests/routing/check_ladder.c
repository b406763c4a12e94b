/* check_ladder.c: one step of the catalog's ladder per expiry: remind, supervise, raise (TOUGH,
 * new deadlines, district coordinators added), then nothing more; no step for a case whose
 * departments all checked in, or that is resolved or closed. */
#include "routing.h"
#include "wh_test.h"
#include <check.h>

#define AS(x) WHISTLE__V1__ASSIGNMENT_STATE__##x

static struct wh_catalog *s_cat;
static Whistle__V1__Case s_c;
static Whistle__V1__Assignment s_a[2], *s_ap[2];

static void s_setup(void)
{
    char err[256];
    s_cat = wh_catalog_load(WHISTLE_SOURCE_DIR "/tests/data/catalog-small.json", err, sizeof err);
    ck_assert_msg(s_cat != NULL, "%s", err);
    whistle__v1__case__init(&s_c);
    s_c.id = "C1";
    s_c.state = WHISTLE__V1__CASE_STATE__DISPATCHED;
    s_c.whistle = WHISTLE__V1__WHISTLE__QUICK;
    s_c.lead_unit = "north";
    s_c.resolve_deadline_ms = 600000;
    const char *d[2] = {"cg", "scjg"};
    for (int i = 0; i < 2; i++) {
        whistle__v1__assignment__init(&s_a[i]);
        s_a[i].department = (char *)d[i];
        s_a[i].state = AS(NOTIFIED);
        s_ap[i] = &s_a[i];
    }
    s_c.assignments = s_ap;
    s_c.n_assignments = 2;
}

static void s_teardown(void) { wh_catalog_destroy(&s_cat); }

START_TEST(climbs_one_step_per_expiry)
{
    struct routing_step st;
    s_a[0].state = AS(CHECKED_IN); /* cg reported; scjg did not */
    ck_assert_int_eq(routing_ladder_next(s_cat, &s_c, 0, ROUTING_DUE_CHECKIN, 1000, &st), 1);
    ck_assert_str_eq(st.step, "remind");
    ck_assert_uint_eq(st.level, 1);
    ck_assert_ptr_nonnull(strstr(st.reason, "scjg not checked in"));
    ck_assert_ptr_null(strstr(st.reason, "cg,"));
    ck_assert_int_eq(st.to_whistle, WHISTLE__V1__WHISTLE__QUICK);
    ck_assert_int_eq(st.next_kind, ROUTING_DUE_CHECKIN);
    ck_assert_int_eq(st.next_due_ms, 1000 + 60000); /* one QUICK check-in period later */

    ck_assert_int_eq(routing_ladder_next(s_cat, &s_c, 1, ROUTING_DUE_CHECKIN, 2000, &st), 1);
    ck_assert_str_eq(st.step, "supervise");
    ck_assert_uint_eq(st.n_added, 0);

    ck_assert_int_eq(routing_ladder_next(s_cat, &s_c, 2, ROUTING_DUE_CHECKIN, 3000, &st), 1);
    ck_assert_str_eq(st.step, "raise");
    ck_assert_int_eq(st.to_whistle, WHISTLE__V1__WHISTLE__TOUGH);
    ck_assert_int_eq(st.checkin_deadline_ms, 3000 + 120000);
    ck_assert_int_eq(st.resolve_deadline_ms, 3000 + 1200000);
    ck_assert_uint_eq(st.n_added, 1);
    ck_assert_str_eq(st.added[0]->code, "dcs");
    ck_assert_int_eq(st.next_kind, 0); /* the top of the ladder */

    ck_assert_int_eq(routing_ladder_next(s_cat, &s_c, 3, ROUTING_DUE_CHECKIN, 4000, &st), 0);
}
END_TEST

START_TEST(no_step_when_all_checked_in)
{
    struct routing_step st;
    s_a[0].state = AS(CHECKED_IN);
    s_a[1].state = AS(WORKING);
    ck_assert_int_eq(routing_ladder_next(s_cat, &s_c, 0, ROUTING_DUE_CHECKIN, 1000, &st), 0);
    ck_assert_int_eq(st.next_kind, ROUTING_DUE_RESOLVE);
    ck_assert_int_eq(st.next_due_ms, 600000);
    /* the resolution deadline passes with the case still in progress */
    s_c.state = WHISTLE__V1__CASE_STATE__IN_PROGRESS;
    ck_assert_int_eq(routing_ladder_next(s_cat, &s_c, 0, ROUTING_DUE_RESOLVE, 700000, &st), 1);
    ck_assert_str_eq(st.step, "remind");
    ck_assert_ptr_nonnull(strstr(st.reason, "resolution deadline passed"));
}
END_TEST

START_TEST(no_step_when_resolved_or_closed)
{
    struct routing_step st;
    int states[] = {WHISTLE__V1__CASE_STATE__RESOLVED, WHISTLE__V1__CASE_STATE__CLOSED,
                    WHISTLE__V1__CASE_STATE__REFUSED};
    for (int i = 0; i < 3; i++) {
        s_c.state = states[i];
        ck_assert_int_eq(routing_ladder_next(s_cat, &s_c, 0, ROUTING_DUE_RESOLVE, 1, &st), 0);
        ck_assert_int_eq(st.next_kind, 0);
    }
}
END_TEST

START_TEST(raise_keeps_coordinators_once)
{
    struct routing_step st;
    memset(&st, 0, sizeof st);
    s_a[1].department = "dcs"; /* the coordinator is already on it */
    routing_ladder_raise(s_cat, &s_c, WHISTLE__V1__WHISTLE__TOUGH, 10, &st);
    ck_assert_uint_eq(st.n_added, 0);
    memset(&st, 0, sizeof st);
    routing_ladder_raise(s_cat, &s_c, WHISTLE__V1__WHISTLE__EMERGENCY, 10, &st);
    ck_assert_int_eq(st.checkin_deadline_ms, 10 + 30000);
    ck_assert_uint_eq(st.n_added, 0); /* coordinators come with TOUGH only */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("routing ladder");
    TCase *tc = tcase_create("ladder");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_add_test(tc, climbs_one_step_per_expiry);
    tcase_add_test(tc, no_step_when_all_checked_in);
    tcase_add_test(tc, no_step_when_resolved_or_closed);
    tcase_add_test(tc, raise_keeps_coordinators_once);
    suite_add_tcase(s, tc);
    return wh_test_run(s);
}
