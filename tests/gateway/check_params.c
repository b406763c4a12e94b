/* check_params.c: HTTP inputs into whistle requests and whistle refusals into HTTP: query
 * arguments (decoded, known to the route, each bound checked, the field named "query.NAME"),
 * action bodies (the request each verb sends, whistlectl's defaults, the caller's code as
 * the default department or actor, refusals named "body.NAME"), and the HTTP status and JSON
 * error of every whistle error code. */
#include "params.h"
#include "wh_test.h"
#include "whistle/error.h"
#include <check.h>
#include <string.h>

/* Fills `q` from "k=v&k2=v2" (raw, as MHD hands arguments over). 0 or the error. */
static int s_query(struct gw_query *q, const char *qs, struct wh_field_error *err)
{
    memset(q, 0, sizeof *q);
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", qs);
    char *save = NULL;
    for (char *kv = strtok_r(buf, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq) *eq = 0;
        int rc = gateway_query_add(q, kv, eq ? eq + 1 : NULL, err);
        if (rc) return rc;
    }
    return 0;
}

static const struct {
    const char *qs;
    const char *field; /* "" accepted */
} s_lists[] = {
    {"", ""},
    {"state=DISPATCHED&dept=cg&grid=g1&unit=north&overdue=true&after=C00000007&limit=50", ""},
    {"overdue", ""},
    {"overdue=0", ""},
    {"limit=1", ""},
    {"limit=1000", ""},
    {"state=NOPE", "query.state"},
    {"state=%00", "query.state"},
    {"dept=CG", "query.dept"},
    {"dept=c%20g", "query.dept"},
    {"grid=g1/../", "query.grid"},
    {"overdue=maybe", "query.overdue"},
    {"limit=0", "query.limit"},
    {"limit=1001", "query.limit"},
    {"limit=-1", "query.limit"},
    {"limit=10x", "query.limit"},
    {"after=C000000000000000000000000000000000000001", "query.after"},
    {"colour=red", "query.colour"},
    {"dept=cg&dept=scjg", "query.dept"},
    {"dept=%ff", "query.dept"},
};

START_TEST(list_query)
{
    struct gw_query q;
    struct wh_field_error err;
    memset(&err, 0, sizeof err);
    Whistle__V1__ListCases l = WHISTLE__V1__LIST_CASES__INIT;
    int rc = s_query(&q, s_lists[_i].qs, &err);
    if (!rc) rc = gateway_params_list(&q, &l, &err);
    if (!s_lists[_i].field[0]) {
        ck_assert_msg(rc == 0, "%s: refused %s: %s", s_lists[_i].qs, err.field, err.message);
    } else {
        ck_assert_int_eq(rc, WH_EFIELD);
        ck_assert_str_eq(err.field, s_lists[_i].field);
        ck_assert(err.message[0]);
    }
}
END_TEST

START_TEST(list_query_values)
{
    struct gw_query q;
    struct wh_field_error err;
    Whistle__V1__ListCases l = WHISTLE__V1__LIST_CASES__INIT;
    ck_assert_int_eq(s_query(&q, "state=in_progress&dept=cg&overdue&limit=7&after=C%30", &err), 0);
    ck_assert_int_eq(gateway_params_list(&q, &l, &err), 0);
    ck_assert_int_eq(l.state, WHISTLE__V1__CASE_STATE__IN_PROGRESS);
    ck_assert_str_eq(l.department, "cg");
    ck_assert(l.overdue);
    ck_assert_uint_eq(l.limit, 7);
    ck_assert_str_eq(l.after_case_id, "C0");
}
END_TEST

START_TEST(figures_and_visits)
{
    struct gw_query q;
    struct wh_field_error err;
    Whistle__V1__Figures f = WHISTLE__V1__FIGURES__INIT;
    ck_assert_int_eq(s_query(&q, "period=2026-W48&by=grid", &err), 0);
    ck_assert_int_eq(gateway_params_figures(&q, &f, &err), 0);
    ck_assert_str_eq(f.period, "2026-W48");
    ck_assert_str_eq(f.by, "grid");
    ck_assert_int_eq(s_query(&q, "by=grid", &err), 0);
    ck_assert_int_eq(gateway_params_figures(&q, &f, &err), WH_EFIELD);
    ck_assert_str_eq(err.field, "query.period");
    Whistle__V1__Figures fu = WHISTLE__V1__FIGURES__INIT;
    ck_assert_int_eq(s_query(&q, "period=2026-11&by=department&unit=north", &err), 0);
    ck_assert_int_eq(gateway_params_figures(&q, &fu, &err), 0);
    ck_assert_str_eq(fu.unit, "north");
    ck_assert_int_eq(s_query(&q, "period=2026-11&unit=North!", &err), 0);
    ck_assert_int_eq(gateway_params_figures(&q, &fu, &err), WH_EFIELD);
    ck_assert_str_eq(err.field, "query.unit");
    Whistle__V1__GridLedger g = WHISTLE__V1__GRID_LEDGER__INIT;
    ck_assert_int_eq(s_query(&q, "period=2026-Q4", &err), 0);
    ck_assert_int_eq(gateway_params_ledger(&q, &g, &err), 0);
    ck_assert_str_eq(g.period, "2026-Q4");
    Whistle__V1__GridLedger g0 = WHISTLE__V1__GRID_LEDGER__INIT;
    ck_assert_int_eq(s_query(&q, "", &err), 0);
    ck_assert_int_eq(gateway_params_ledger(&q, &g0, &err), 0);
    ck_assert_str_eq(g0.period, ""); /* this month */
    ck_assert_int_eq(s_query(&q, "period=2026-11&grid=g2", &err), 0);
    ck_assert_int_eq(gateway_params_ledger(&q, &g0, &err), WH_EFIELD);
    ck_assert_str_eq(err.field, "query.grid");
    Whistle__V1__Visits v = WHISTLE__V1__VISITS__INIT;
    ck_assert_int_eq(s_query(&q, "week=2026-W48&grid=g1&short=1", &err), 0);
    ck_assert_int_eq(gateway_params_visits(&q, &v, &err), 0);
    ck_assert_str_eq(v.week, "2026-W48");
    ck_assert_str_eq(v.grid, "g1");
    ck_assert(v.short_only);
    ck_assert_int_eq(s_query(&q, "week=2026-W48&dept=cg", &err), 0);
    ck_assert_int_eq(gateway_params_visits(&q, &v, &err), WH_EFIELD);
    ck_assert_str_eq(err.field, "query.dept");
    ck_assert_int_eq(s_query(&q, "x=1", &err), 0);
    ck_assert_int_eq(gateway_params_none(&q, &err), WH_EFIELD);
    ck_assert_str_eq(err.field, "query.x");
}
END_TEST

START_TEST(stream_position)
{
    struct gw_query q;
    struct wh_field_error err;
    uint64_t from;
    int has;
    ck_assert_int_eq(s_query(&q, "", &err), 0);
    ck_assert_int_eq(gateway_params_stream_from(&q, NULL, &from, &has, &err), 0);
    ck_assert_int_eq(has, 0);
    ck_assert_int_eq(s_query(&q, "from_seq=5", &err), 0);
    ck_assert_int_eq(gateway_params_stream_from(&q, NULL, &from, &has, &err), 0);
    ck_assert(has && from == 5);
    /* Last-Event-ID is the last one the client has, and wins over the URL it reconnects to */
    ck_assert_int_eq(gateway_params_stream_from(&q, "41", &from, &has, &err), 0);
    ck_assert(has && from == 42);
    ck_assert_int_eq(gateway_params_stream_from(&q, "0", &from, &has, &err), 0);
    ck_assert(has && from == 1);
    ck_assert_int_eq(gateway_params_stream_from(&q, "x", &from, &has, &err), WH_EFIELD);
    ck_assert_str_eq(err.field, "last-event-id");
    ck_assert_int_eq(gateway_params_stream_from(&q, "-1", &from, &has, &err), WH_EFIELD);
    ck_assert_int_eq(gateway_params_stream_from(&q, "", &from, &has, &err), WH_EFIELD);
    const char *bad[] = {
        "from_seq=0", "from_seq=-3", "from_seq=1x", "from_seq=", "from_seq=99999999999999999999",
        "after=3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(s_query(&q, bad[i], &err), 0);
        ck_assert_msg(gateway_params_stream_from(&q, NULL, &from, &has, &err) == WH_EFIELD, "%s",
                      bad[i]);
        ck_assert(strncmp(err.field, "query.", 6) == 0);
    }
}
END_TEST

START_TEST(too_many_arguments)
{
    struct gw_query q;
    struct wh_field_error err;
    char qs[512] = "";
    for (int i = 0; i <= GW_MAX_ARGS; i++)
        snprintf(qs + strlen(qs), sizeof qs - strlen(qs), "%sa%d=1", i ? "&" : "", i);
    ck_assert_int_eq(s_query(&q, qs, &err), WH_EFIELD);
    ck_assert_str_eq(err.field, "query");
}
END_TEST

#define D WH_KIND_DEPARTMENT
#define T WH_KIND_TOWNSHIP
#define O WH_KIND_OPERATOR

static const struct {
    int kind;
    const char *code;
    const char *verb, *body;
    const char *field; /* "" accepted */
    int action;        /* the CaseAction's action, or 0 for escalate */
    const char *department, *actor, *note;
} s_actions[] = {
    {D, "cg", "checkin", "", "", WHISTLE__V1__ACTION__CHECKIN, "cg", "cg", ""},
    {D, "cg", "checkin", "{}", "", WHISTLE__V1__ACTION__CHECKIN, "cg", "cg", ""},
    {D, "cg", "checkin", "{\"department\":\"scjg\"}", "", WHISTLE__V1__ACTION__CHECKIN, "scjg",
     "scjg", ""},
    {D, "cg", "progress", "{\"note\":\"半\"}", "", WHISTLE__V1__ACTION__PROGRESS, "cg", "cg", "半"},
    {D, "cg", "return", "{\"reason\":\"not ours\"}", "", WHISTLE__V1__ACTION__RETURN, "cg", "cg",
     "not ours"},
    {D, "cg", "release", "", "", WHISTLE__V1__ACTION__RELEASE, "cg", "cg", ""},
    {D, "cg", "complete", "{\"note\":null}", "", WHISTLE__V1__ACTION__COMPLETE, "cg", "cg", ""},
    {T, "north", "resolve", "", "", WHISTLE__V1__ACTION__RESOLVE, "", "north", ""},
    {T, "north", "assign", "{\"department\":\"cgj\",\"from_department\":\"cg\"}", "",
     WHISTLE__V1__ACTION__ASSIGN, "cgj", "north", ""},
    {T, "north", "checkin", "", "", WHISTLE__V1__ACTION__CHECKIN, "", "", ""},
    {O, "ops", "verify", "{\"actor\":\"r1\",\"satisfied\":true}", "", WHISTLE__V1__ACTION__VERIFY,
     "", "r1", ""},
    {O, "ops", "verify", "{\"actor\":\"r1\"}", "body.satisfied", 0, NULL, NULL, NULL},
    {O, "ops", "verify", "{\"satisfied\":\"yes\"}", "body.satisfied", 0, NULL, NULL, NULL},
    {O, "ops", "checkin", "{\"department\":7}", "body.department", 0, NULL, NULL, NULL},
    {O, "ops", "checkin", "{\"colour\":\"red\"}", "body.colour", 0, NULL, NULL, NULL},
    {O, "ops", "checkin", "{\"note\":\"a\",\"reason\":\"b\"}", "body.reason", 0, NULL, NULL, NULL},
    {O, "ops", "checkin", "[]", "body", 0, NULL, NULL, NULL},
    {O, "ops", "checkin", "{not json", "body", 0, NULL, NULL, NULL},
    {O, "ops", "checkin", "{\"note\":\"\xff\"}", "body", 0, NULL, NULL, NULL},
    {O, "ops", "checkin", "{\"note\":\"a\",\"note\":\"b\"}", "body", 0, NULL, NULL, NULL},
    {O, "ops", "dance", "", "url", 0, NULL, NULL, NULL},
    {T, "north", "escalate", "{\"to_whistle\":\"TOUGH\",\"reason\":\"久拖\"}", "", 0, NULL, "north",
     NULL},
    {T, "north", "escalate", "{\"to_whistle\":\"LOUD\"}", "body.to_whistle", 0, NULL, NULL, NULL},
    {T, "north", "escalate", "{\"department\":\"cg\"}", "body.department", 0, NULL, NULL, NULL},
};

START_TEST(actions)
{
    struct wh_identity who;
    memset(&who, 0, sizeof who);
    who.kind = s_actions[_i].kind;
    snprintf(who.code, sizeof who.code, "%s", s_actions[_i].code);
    struct gw_action a;
    struct wh_field_error err;
    memset(&err, 0, sizeof err);
    const char *body = s_actions[_i].body;
    int rc =
        gateway_params_action(s_actions[_i].verb, "C00000001", body, strlen(body), &who, &a, &err);
    if (s_actions[_i].field[0]) {
        ck_assert_msg(rc == WH_EFIELD || rc == WH_EMALFORMED, "%s %s: %d", s_actions[_i].verb, body,
                      rc);
        ck_assert_str_eq(err.field, s_actions[_i].field);
        ck_assert_ptr_null(a.doc);
        return;
    }
    ck_assert_msg(rc == 0, "%s %s: refused %s: %s", s_actions[_i].verb, body, err.field,
                  err.message);
    if (s_actions[_i].action) {
        ck_assert(!a.escalate);
        ck_assert_str_eq(a.a.case_id, "C00000001");
        ck_assert_int_eq(a.a.action, s_actions[_i].action);
        ck_assert_str_eq(a.a.department, s_actions[_i].department);
        ck_assert_str_eq(a.a.actor, s_actions[_i].actor);
        ck_assert_str_eq(a.a.note, s_actions[_i].note);
    } else {
        ck_assert(a.escalate);
        ck_assert_str_eq(a.e.case_id, "C00000001");
        ck_assert_str_eq(a.e.actor, s_actions[_i].actor);
        ck_assert_int_eq(a.e.to_whistle, WHISTLE__V1__WHISTLE__TOUGH);
    }
    gateway_action_clear(&a);
}
END_TEST

static const struct {
    int code;
    unsigned status;
} s_statuses[] = {
    {WH_EFIELD, 400},    {WH_EMALFORMED, 400}, {WH_EUSAGE, 400},    {WH_EFORBIDDEN, 403},
    {WH_ENOTFOUND, 404}, {WH_ESTATE, 409},     {WH_ECONFLICT, 409}, {WH_EGONE, 410},
    {WH_ETOOBIG, 413},   {WH_ESTORE, 503},     {WH_EMAPFULL, 503},  {WH_ENOMEM, 503},
    {WH_EBUSY, 503},     {WH_EBUS, 503},       {WH_ETIMEDOUT, 503}, {WH_EUNSUPPORTED, 502},
    {WH_ECATALOG, 500},  {WH_EINTERNAL, 500},  {-1, 500},
};

START_TEST(statuses)
{
    ck_assert_uint_eq(gateway_http_status(s_statuses[_i].code), s_statuses[_i].status);
}
END_TEST

START_TEST(error_json)
{
    json_t *j = gateway_error_json(WH_ESTATE, "case_action.action", "RESOLVE refused: cg not done",
                                   WHISTLE__V1__CASE_STATE__IN_PROGRESS, 0);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_str_eq(s, "{\"error\":{\"code\":\"ESTATE\",\"field\":\"case_action.action\","
                        "\"message\":\"RESOLVE refused: cg not done\",\"state\":\"IN_PROGRESS\"}}");
    free(s);
    json_decref(j);
    /* invalid bytes from a peer never make invalid JSON; oldest for EGONE */
    j = gateway_error_json(WH_EGONE, "replay.from_seq", "gone \xff", 0, 42);
    s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_ptr_nonnull(s);
    ck_assert(strstr(s, "\"oldest\":42"));
    ck_assert(!strstr(s, "\"state\""));
    free(s);
    json_decref(j);
}
END_TEST

#define N_OF(a) ((int)(sizeof a / sizeof a[0]))

int main(void)
{
    Suite *s = suite_create("params");
    TCase *q = tcase_create("query");
    tcase_add_loop_test(q, list_query, 0, N_OF(s_lists));
    tcase_add_test(q, list_query_values);
    tcase_add_test(q, figures_and_visits);
    tcase_add_test(q, too_many_arguments);
    tcase_add_test(q, stream_position);
    suite_add_tcase(s, q);
    TCase *b = tcase_create("body");
    tcase_add_loop_test(b, actions, 0, N_OF(s_actions));
    suite_add_tcase(s, b);
    TCase *e = tcase_create("refusals");
    tcase_add_loop_test(e, statuses, 0, N_OF(s_statuses));
    tcase_add_test(e, error_json);
    suite_add_tcase(s, e);
    return wh_test_run(s);
}
