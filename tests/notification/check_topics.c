/* check_topics.c: which topics a case event goes to, table-driven: every event to all/ and to
 * its case, to the lead unit and the grid when the case has them, to every department on the
 * case whatever its assignment state, and escalations to district/ as well; never beyond the
 * caller's bound. */
#include "notification.h"
#include "wh_test.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct s_case {
    const char *name;
    const char *lead;          /* "" for none */
    const char *grid;          /* "" for none; NULL: no report at all */
    const char *depts[4];      /* NULL-terminated */
    int action;
    const char *want[10];      /* NULL-terminated, in order */
};

static const struct s_case s_table[] = {
    {"dispatch", "south", "g5", {"cg", "scjg", NULL}, WHISTLE__V1__ACTION__DISPATCH,
     {"all/", "case/C00000007/", "unit/south/", "grid/g5/", "dept/cg/", "dept/scjg/", NULL}},
    {"checkin goes to every department, not only the actor's", "south", "g5",
     {"cg", "scjg", NULL}, WHISTLE__V1__ACTION__CHECKIN,
     {"all/", "case/C00000007/", "unit/south/", "grid/g5/", "dept/cg/", "dept/scjg/", NULL}},
    {"escalation also to district/", "north", "g1", {"yjgl", "dcs", NULL},
     WHISTLE__V1__ACTION__ESCALATE,
     {"all/", "case/C00000007/", "unit/north/", "grid/g1/", "dept/yjgl/", "dept/dcs/",
      "district/", NULL}},
    {"refused: no lead, no departments", "", "g2", {NULL}, WHISTLE__V1__ACTION__REFUSE,
     {"all/", "case/C00000007/", "grid/g2/", NULL}},
    {"no report: no grid topic", "north", NULL, {"cg", NULL}, WHISTLE__V1__ACTION__VERIFY,
     {"all/", "case/C00000007/", "unit/north/", "dept/cg/", NULL}},
};

START_TEST(test_table)
{
    const struct s_case *t = &s_table[_i];
    Whistle__V1__Case c = WHISTLE__V1__CASE__INIT;
    Whistle__V1__Report rep = WHISTLE__V1__REPORT__INIT;
    Whistle__V1__HistoryEntry h = WHISTLE__V1__HISTORY_ENTRY__INIT;
    Whistle__V1__CaseUpdated u = WHISTLE__V1__CASE_UPDATED__INIT;
    Whistle__V1__Assignment as[4], *asp[4];
    c.id = "C00000007";
    c.lead_unit = (char *)t->lead;
    if (t->grid) {
        rep.grid = (char *)t->grid;
        c.report = &rep;
    }
    size_t n = 0;
    for (; t->depts[n]; n++) {
        whistle__v1__assignment__init(&as[n]);
        as[n].department = (char *)t->depts[n];
        as[n].state = n % 2 ? WHISTLE__V1__ASSIGNMENT_STATE__RELEASED
                            : WHISTLE__V1__ASSIGNMENT_STATE__NOTIFIED;
        asp[n] = &as[n];
    }
    c.assignments = asp;
    c.n_assignments = n;
    h.action = t->action;
    u.case_ = &c;
    u.entry = &h;
    char topics[NOTIFICATION_MAX_TOPICS][80];
    size_t got = notification_topics(&u, topics, NOTIFICATION_MAX_TOPICS);
    size_t want = 0;
    while (t->want[want]) want++;
    ck_assert_msg(got == want, "%s: %zu topics, want %zu", t->name, got, want);
    for (size_t i = 0; i < got; i++) {
        ck_assert_msg(strcmp(topics[i], t->want[i]) == 0, "%s: topic %zu is %s, want %s",
                      t->name, i, topics[i], t->want[i]);
        ck_assert_int_eq(topics[i][strlen(topics[i]) - 1], '/'); /* no prefix clash */
    }
}
END_TEST

START_TEST(test_bound)
{
    Whistle__V1__Case c = WHISTLE__V1__CASE__INIT;
    Whistle__V1__CaseUpdated u = WHISTLE__V1__CASE_UPDATED__INIT;
    Whistle__V1__Assignment as[40], *asp[40];
    char names[40][8];
    for (int i = 0; i < 40; i++) {
        whistle__v1__assignment__init(&as[i]);
        snprintf(names[i], sizeof names[i], "d%d", i);
        as[i].department = names[i];
        asp[i] = &as[i];
    }
    c.id = "C1";
    c.lead_unit = "north";
    c.assignments = asp;
    c.n_assignments = 40;
    u.case_ = &c;
    char topics[NOTIFICATION_MAX_TOPICS][80];
    ck_assert_uint_eq(notification_topics(&u, topics, NOTIFICATION_MAX_TOPICS),
                      NOTIFICATION_MAX_TOPICS);
    ck_assert_uint_eq(notification_topics(&u, topics, 2), 2);
    ck_assert_str_eq(topics[1], "case/C1/");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("topics");
    TCase *tc = tcase_create("topics");
    tcase_add_loop_test(tc, test_table, 0, (int)(sizeof s_table / sizeof s_table[0]));
    tcase_add_test(tc, test_bound);
    suite_add_tcase(s, tc);
    return wh_test_run(s);
}
