/* check_rules.c: the rulebook. A report's matter decides the whistle and the N departments,
 * its grid decides the lead township or street, the whistle decides the deadlines. */
#include "routing.h"
#include "wh_test.h"
#include <check.h>
#include <jansson.h>
#include <whistle/v1/whistle.pb-c.h>

static struct wh_catalog *s_load(const char *rel)
{
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/%s", WHISTLE_SOURCE_DIR, rel);
    struct wh_catalog *c = wh_catalog_load(path, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    return c;
}

/* Hand-written expectations for the small test catalog. */
static const struct {
    const char *grid, *matter;
    int whistle;
    const char *lead;
    const char *depts; /* space separated, in catalog order */
    int64_t checkin_ms, resolve_ms;
} s_small[] = {
    {"g1", "m1", WHISTLE__V1__WHISTLE__QUICK, "north", "cg", 60000, 600000},
    {"g2", "m2", WHISTLE__V1__WHISTLE__QUICK, "north", "cg scjg", 60000, 600000},
    {"g3", "m3", WHISTLE__V1__WHISTLE__EMERGENCY, "south", "yjgl", 30000, 300000},
    {"g5", "m4", WHISTLE__V1__WHISTLE__TOUGH, "south", "cg cgj scjg", 120000, 1200000},
    {"g6", "m5", WHISTLE__V1__WHISTLE__EMERGENCY, "south", "yjgl cg", 30000, 300000},
};

START_TEST(small_catalog_table)
{
    struct wh_catalog *cat = s_load("tests/data/catalog-small.json");
    Whistle__V1__Report r = WHISTLE__V1__REPORT__INIT;
    r.grid = (char *)s_small[_i].grid;
    r.matter = (char *)s_small[_i].matter;
    struct routing_decision d;
    ck_assert_int_eq(routing_rules_route(cat, &r, 1000, &d), 0);
    ck_assert_int_eq(d.whistle, s_small[_i].whistle);
    ck_assert_str_eq(d.lead->code, s_small[_i].lead);
    ck_assert_str_eq(d.lead_code, s_small[_i].lead);
    char got[128] = "";
    for (size_t k = 0; k < d.n_departments; k++) {
        if (k) strcat(got, " ");
        strcat(got, d.departments[k]->code);
    }
    ck_assert_str_eq(got, s_small[_i].depts);
    ck_assert_int_eq(d.checkin_deadline_ms, 1000 + s_small[_i].checkin_ms);
    ck_assert_int_eq(d.resolve_deadline_ms, 1000 + s_small[_i].resolve_ms);
    wh_catalog_destroy(&cat);
}
END_TEST

START_TEST(refuses_unknown_codes)
{
    struct wh_catalog *cat = s_load("tests/data/catalog-small.json");
    Whistle__V1__Report r = WHISTLE__V1__REPORT__INIT;
    struct routing_decision d;
    r.grid = "g404";
    r.matter = "m1";
    ck_assert_int_eq(routing_rules_route(cat, &r, 0, &d), 1);
    ck_assert_str_eq(d.field, "report.grid");
    r.grid = "g1";
    r.matter = "m404";
    ck_assert_int_eq(routing_rules_route(cat, &r, 0, &d), 1);
    ck_assert_str_eq(d.field, "report.matter");
    ck_assert_ptr_nonnull(strstr(d.reason, "m404"));
    wh_catalog_destroy(&cat);
}
END_TEST

/* Every matter of the default catalog routes, with the whistle and departments the catalog
 * file gives it (read here independently with jansson), and every grid leads to its township. */
START_TEST(default_catalog_every_matter)
{
    struct wh_catalog *cat = s_load("deploy/catalog/default.json");
    json_error_t jerr;
    json_t *root = json_load_file(WHISTLE_SOURCE_DIR "/deploy/catalog/default.json", 0, &jerr);
    ck_assert_ptr_nonnull(root);
    json_t *matters = json_object_get(root, "matters");
    ck_assert_int_eq(json_array_size(matters), 33);
    int per_whistle[4] = {0};
    for (size_t i = 0; i < json_array_size(matters); i++) {
        json_t *m = json_array_get(matters, i);
        Whistle__V1__Report r = WHISTLE__V1__REPORT__INIT;
        r.grid = "g200";
        r.matter = (char *)json_string_value(json_object_get(m, "code"));
        struct routing_decision d;
        ck_assert_int_eq(routing_rules_route(cat, &r, 0, &d), 0);
        ck_assert_str_eq(wh_whistle_name(d.whistle),
                         json_string_value(json_object_get(m, "whistle")));
        json_t *ds = json_object_get(m, "departments");
        ck_assert_uint_eq(d.n_departments, json_array_size(ds));
        for (size_t k = 0; k < d.n_departments; k++)
            ck_assert_str_eq(d.departments[k]->code, json_string_value(json_array_get(ds, k)));
        ck_assert_int_eq(d.checkin_deadline_ms, cat->whistles[d.whistle].checkin_ms);
        /* the "1": the township or street of the grid, or its community when the matter says */
        const char *lead = json_string_value(json_object_get(m, "lead"));
        ck_assert_ptr_nonnull(lead);
        ck_assert_str_eq(d.lead_code, strcmp(lead, "community") == 0 ? d.community->code
                                                                      : d.lead->code);
        per_whistle[d.whistle]++;
    }
    /* the seed's three whistles are all in use */
    ck_assert_int_gt(per_whistle[WHISTLE__V1__WHISTLE__QUICK], 0);
    ck_assert_int_gt(per_whistle[WHISTLE__V1__WHISTLE__EMERGENCY], 0);
    ck_assert_int_gt(per_whistle[WHISTLE__V1__WHISTLE__TOUGH], 0);
    json_t *grids = json_object_get(root, "grids");
    ck_assert_int_eq(json_array_size(grids), 384);
    for (size_t i = 0; i < json_array_size(grids); i++) {
        json_t *g = json_array_get(grids, i);
        Whistle__V1__Report r = WHISTLE__V1__REPORT__INIT;
        r.grid = (char *)json_string_value(json_object_get(g, "code"));
        r.matter = "m01";
        struct routing_decision d;
        ck_assert_int_eq(routing_rules_route(cat, &r, 0, &d), 0);
        ck_assert_str_eq(d.community->code, json_string_value(json_object_get(g, "community")));
        ck_assert_ptr_eq(d.lead, wh_catalog_community(cat, d.community->code)->unit);
    }
    json_decref(root);
    wh_catalog_destroy(&cat);
}
END_TEST

START_TEST(operator_whistle_overrides)
{
    struct wh_catalog *cat = s_load("tests/data/catalog-small.json");
    Whistle__V1__Report r = WHISTLE__V1__REPORT__INIT;
    r.grid = "g1";
    r.matter = "m1"; /* QUICK by default */
    r.whistle = WHISTLE__V1__WHISTLE__EMERGENCY;
    struct routing_decision d;
    ck_assert_int_eq(routing_rules_route(cat, &r, 0, &d), 0);
    ck_assert_int_eq(d.whistle, WHISTLE__V1__WHISTLE__EMERGENCY);
    ck_assert_int_eq(d.checkin_deadline_ms, 30000); /* EMERGENCY's, not QUICK's */
    ck_assert_str_eq(d.departments[0]->code, "cg");
    wh_catalog_destroy(&cat);
}
END_TEST

/* 社区事务准入: listed affairs pass; others need both authority and funding. */
static const struct {
    const char *affair, *authority, *funding;
    int refused;
    const char *field;
} s_tasks[] = {
    {"a1", "", "", 0, ""},
    {"a3", "", "", 0, ""},
    {"zz-survey", "", "", 1, "report.task.authority_ref"},
    {"", "", "", 1, "report.task.authority_ref"},
    {"zz-survey", "doc-2026-7", "", 1, "report.task.funding_ref"},
    {"zz-survey", "", "budget-12", 1, "report.task.authority_ref"},
    {"zz-survey", "doc-2026-7", "budget-12", 0, ""},
    {"", "doc-2026-7", "budget-12", 0, ""},
};

START_TEST(admission_list)
{
    struct wh_catalog *cat = s_load("tests/data/catalog-small.json");
    Whistle__V1__Report r = WHISTLE__V1__REPORT__INIT;
    Whistle__V1__CommunityTask t = WHISTLE__V1__COMMUNITY_TASK__INIT;
    r.grid = "g3";
    r.matter = "";
    t.affair = (char *)s_tasks[_i].affair;
    t.authority_ref = (char *)s_tasks[_i].authority;
    t.funding_ref = (char *)s_tasks[_i].funding;
    t.issuer = "mz";
    r.task = &t;
    struct routing_decision d;
    ck_assert_int_eq(routing_rules_route(cat, &r, 0, &d), s_tasks[_i].refused);
    if (s_tasks[_i].refused) {
        ck_assert_str_eq(d.field, s_tasks[_i].field);
        ck_assert_ptr_nonnull(strstr(d.reason, "权随责走、费随事转"));
        if (!s_tasks[_i].authority[0] && !s_tasks[_i].funding[0])
            ck_assert_ptr_nonnull(strstr(d.reason, "authority_ref and no funding_ref"));
    } else {
        ck_assert_str_eq(d.lead->code, "south");
        ck_assert_uint_eq(d.n_departments, 0);
    }
    wh_catalog_destroy(&cat);
}
END_TEST

/* Rules are data: a new department and matter in the file route with no code change. */
START_TEST(alternative_catalog)
{
    json_error_t jerr;
    json_t *root = json_load_file(WHISTLE_SOURCE_DIR "/tests/data/catalog-small.json", 0, &jerr);
    ck_assert_ptr_nonnull(root);
    json_array_append_new(json_object_get(root, "departments"),
                          json_pack("{s:s, s:s}", "code", "lyj", "name", "林业局"));
    json_array_append_new(json_object_get(root, "matters"),
                          json_pack("{s:s, s:s, s:s, s:[s,s]}", "code", "m9", "name", "毁林",
                                    "whistle", "TOUGH", "departments", "lyj", "cg"));
    json_object_set_new(json_object_get(json_object_get(root, "whistles"), "TOUGH"), "checkin_ms",
                        json_integer(777));
    char *dir = wh_test_tmpdir(), path[256];
    snprintf(path, sizeof path, "%s/alt.json", dir);
    ck_assert_int_eq(json_dump_file(root, path, JSON_INDENT(2)), 0);
    char err[256];
    struct wh_catalog *cat = wh_catalog_load(path, err, sizeof err);
    ck_assert_msg(cat != NULL, "%s", err);
    Whistle__V1__Report r = WHISTLE__V1__REPORT__INIT;
    r.grid = "g2";
    r.matter = "m9";
    struct routing_decision d;
    ck_assert_int_eq(routing_rules_route(cat, &r, 1, &d), 0);
    ck_assert_int_eq(d.whistle, WHISTLE__V1__WHISTLE__TOUGH);
    ck_assert_str_eq(d.departments[0]->code, "lyj");
    ck_assert_int_eq(d.checkin_deadline_ms, 778);
    wh_catalog_destroy(&cat);
    /* and one that names an unknown department is refused with its line */
    json_array_append_new(json_object_get(root, "matters"),
                          json_pack("{s:s, s:s, s:s, s:[s]}", "code", "m10", "name", "x",
                                    "whistle", "QUICK", "departments", "ghost"));
    ck_assert_int_eq(json_dump_file(root, path, JSON_INDENT(2)), 0);
    ck_assert_ptr_null(wh_catalog_load(path, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "unknown department 'ghost'"));
    ck_assert_msg(strstr(err, "alt.json:") && err[strlen(path)] == ':' &&
                      err[strlen(path) + 1] >= '1' && err[strlen(path) + 1] <= '9',
                  "error has the line: %s", err);
    json_decref(root);
    wh_test_rmdir(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("routing rules");
    TCase *tc = tcase_create("rules");
    tcase_add_loop_test(tc, small_catalog_table, 0, (int)(sizeof s_small / sizeof s_small[0]));
    tcase_add_test(tc, refuses_unknown_codes);
    tcase_add_test(tc, default_catalog_every_matter);
    tcase_add_test(tc, operator_whistle_overrides);
    tcase_add_loop_test(tc, admission_list, 0, (int)(sizeof s_tasks / sizeof s_tasks[0]));
    tcase_add_test(tc, alternative_catalog);
    suite_add_tcase(s, tc);
    return wh_test_run(s);
}
