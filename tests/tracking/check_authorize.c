/* check_authorize.c: with keys on, who may send which case action: a department only as
 * itself, a township only as itself and only the lead's actions, an integrator only VERIFY;
 * services, operators and keys off are not limited. Each refusal names the field. */
#include "tracking.h"
#include "whistle/error.h"
#include "wh_test.h"
#include <check.h>

#define D WH_KIND_DEPARTMENT
#define T WH_KIND_TOWNSHIP
#define I WH_KIND_INTEGRATOR
#define CHECKIN WHISTLE__V1__ACTION__CHECKIN
#define COMPLETE WHISTLE__V1__ACTION__COMPLETE
#define RETURN WHISTLE__V1__ACTION__RETURN
#define RESOLVE WHISTLE__V1__ACTION__RESOLVE
#define ASSIGN WHISTLE__V1__ACTION__ASSIGN
#define VERIFY WHISTLE__V1__ACTION__VERIFY

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
    {T, "north", CHECKIN, "north", "cg", "case_action.action"},
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

int main(void)
{
    Suite *s = suite_create("authorize");
    TCase *tc = tcase_create("actions");
    tcase_add_loop_test(tc, who_may_act, 0, (int)(sizeof s_rows / sizeof s_rows[0]));
    suite_add_tcase(s, tc);
    return wh_test_run(s);
}
