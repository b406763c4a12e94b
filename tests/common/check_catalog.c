/* check_catalog.c: the shipped district catalog loads whole and consistent, lookups by code
 * work, and a broken catalog is refused with a message that says where and what. */
#include "wh_test.h"
#include "whistle/catalog.h"
#include "whistle/wlog.h"
#include <check.h>
#include <jansson.h>

#define DEFAULT_CATALOG WHISTLE_SOURCE_DIR "/deploy/catalog/default.json"
#define SMALL_CATALOG WHISTLE_SOURCE_DIR "/tests/data/catalog-small.json"

START_TEST(test_default_catalog)
{
    char err[512] = "";
    struct wh_catalog *c = wh_catalog_load(DEFAULT_CATALOG, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);

    ck_assert_uint_eq(c->n_units, 9);
    size_t streets = 0;
    for (size_t i = 0; i < c->n_units; i++) streets += c->units[i].street ? 1 : 0;
    ck_assert_uint_eq(streets, 6);
    ck_assert_uint_eq(c->n_units - streets, 3);
    ck_assert_uint_eq(c->n_communities, 33);
    ck_assert_uint_eq(c->n_grids, 384);
    ck_assert_uint_eq(c->n_matters, 33);
    ck_assert_uint_eq(c->n_affairs, 54);
    for (int w = WHISTLE__V1__WHISTLE__QUICK; w <= WHISTLE__V1__WHISTLE__TOUGH; w++) {
        ck_assert_ptr_nonnull(c->whistles[w].name);
        ck_assert_int_gt(c->whistles[w].checkin_ms, 0);
        ck_assert_int_gt(c->whistles[w].resolve_ms, 0);
        ck_assert_int_le(c->whistles[w].checkin_ms, c->whistles[w].resolve_ms);
    }

    for (size_t i = 0; i < c->n_grids; i++) {
        const struct wh_grid *g = &c->grids[i];
        ck_assert_ptr_eq(wh_catalog_grid(c, g->code), g);
        ck_assert_ptr_nonnull(g->community);
        ck_assert_ptr_eq(wh_catalog_community(c, g->community->code), g->community);
        ck_assert_ptr_nonnull(g->community->unit);
        ck_assert_ptr_eq(wh_catalog_unit(c, g->community->unit->code), g->community->unit);
        /* 一格一账本: every grid of the default district says its households, about 300 */
        ck_assert_int_ge(g->households, 240);
        ck_assert_int_le(g->households, 360);
    }
    for (size_t i = 0; i < c->n_matters; i++) {
        const struct wh_matter *m = &c->matters[i];
        ck_assert_ptr_eq(wh_catalog_matter(c, m->code), m);
        ck_assert_int_ge(m->whistle, WHISTLE__V1__WHISTLE__QUICK);
        ck_assert_int_le(m->whistle, WHISTLE__V1__WHISTLE__TOUGH);
        ck_assert_uint_ge(m->n_departments, 1);
        for (size_t k = 0; k < m->n_departments; k++)
            ck_assert_ptr_eq(wh_catalog_department(c, m->departments[k]->code), m->departments[k]);
    }
    for (size_t i = 0; i < c->n_affairs; i++)
        ck_assert_ptr_eq(wh_catalog_affair(c, c->affairs[i].code), &c->affairs[i]);
    wh_catalog_destroy(&c);
    ck_assert_ptr_null(c);
    wh_catalog_destroy(&c); /* safe on NULL */
}
END_TEST

START_TEST(test_lookups)
{
    char err[512] = "";
    struct wh_catalog *c = wh_catalog_load(SMALL_CATALOG, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_str_eq(c->district_code, "testdistrict");

    const struct wh_unit *south = wh_catalog_unit(c, "south");
    ck_assert_ptr_nonnull(south);
    ck_assert_int_eq(south->street, 1);
    ck_assert_int_eq(wh_catalog_unit(c, "north")->street, 0);
    const struct wh_community *s2 = wh_catalog_community(c, "south-02");
    ck_assert_ptr_nonnull(s2);
    ck_assert_ptr_eq(s2->unit, south);
    const struct wh_grid *g5 = wh_catalog_grid(c, "g5");
    ck_assert_ptr_nonnull(g5);
    ck_assert_ptr_eq(g5->community, s2);
    ck_assert_str_eq(g5->leader, "林七");
    ck_assert_str_eq(g5->workers[2], "郑十");
    ck_assert_int_eq(g5->households, 331);
    ck_assert_int_eq(wh_catalog_grid(c, "g1")->households, 312);
    ck_assert_str_eq(wh_catalog_department(c, "cgj")->name, "城管监察");
    const struct wh_matter *m4 = wh_catalog_matter(c, "m4");
    ck_assert_ptr_nonnull(m4);
    ck_assert_int_eq(m4->whistle, WHISTLE__V1__WHISTLE__TOUGH);
    ck_assert_uint_eq(m4->n_departments, 3);
    ck_assert_str_eq(m4->departments[0]->code, "cg"); /* in the catalog's order: cg leads */
    ck_assert_str_eq(m4->departments[2]->code, "scjg");
    ck_assert_str_eq(wh_catalog_affair(c, "a2")->name, "低保申请初审");
    ck_assert_int_eq(c->whistles[WHISTLE__V1__WHISTLE__EMERGENCY].checkin_ms, 30000);
    ck_assert_uint_eq(c->n_escalation, 3);
    ck_assert_str_eq(c->escalation[0], "remind");
    ck_assert_uint_eq(c->n_coordinators, 1);
    ck_assert_str_eq(c->coordinators[0]->code, "dcs");

    ck_assert_ptr_null(wh_catalog_unit(c, "west"));
    ck_assert_ptr_null(wh_catalog_community(c, "south-03"));
    ck_assert_ptr_null(wh_catalog_grid(c, "g7"));
    ck_assert_ptr_null(wh_catalog_grid(c, "g"));
    ck_assert_ptr_null(wh_catalog_grid(c, NULL));
    ck_assert_ptr_null(wh_catalog_department(c, "c"));
    ck_assert_ptr_null(wh_catalog_matter(c, "m6"));
    ck_assert_ptr_null(wh_catalog_affair(c, "a9"));
    wh_catalog_destroy(&c);
}
END_TEST

/* ---- broken catalogs -------------------------------------------------------------------- */

static json_t *s_at(json_t *root, const char *array, size_t i)
{
    json_t *o = json_array_get(json_object_get(root, array), i);
    ck_assert_ptr_nonnull(o);
    return o;
}

static void s_none(json_t *root) { (void)root; }
static void s_matter_dept(json_t *root)
{
    json_array_set_new(json_object_get(s_at(root, "matters", 1), "departments"), 1,
                       json_string("nodept"));
}
static void s_community_unit(json_t *root)
{
    json_object_set_new(s_at(root, "communities", 2), "unit", json_string("west"));
}
static void s_grid_twice(json_t *root)
{
    json_array_append_new(json_object_get(root, "grids"), json_deep_copy(s_at(root, "grids", 0)));
}
static void s_matter_whistle(json_t *root)
{
    json_object_set_new(s_at(root, "matters", 0), "whistle", json_string("LOUD"));
}
static void s_whistle_key(json_t *root)
{
    json_t *w = json_object_get(root, "whistles");
    json_object_set(w, "LOUD", json_object_get(w, "QUICK"));
}
static void s_no_emergency(json_t *root)
{
    json_object_del(json_object_get(root, "whistles"), "EMERGENCY");
}
static void s_upper_code(json_t *root)
{
    json_object_set_new(s_at(root, "grids", 3), "code", json_string("G4"));
}
static void s_zero_deadline(json_t *root)
{
    json_object_set_new(json_object_get(json_object_get(root, "whistles"), "TOUGH"),
                        "resolve_ms", json_integer(0));
}
static void s_grid_community(json_t *root)
{
    json_object_set_new(s_at(root, "grids", 4), "community", json_string("south-09"));
}
static void s_coordinator(json_t *root)
{
    json_array_set_new(json_object_get(root, "district_coordinators"), 0, json_string("boss"));
}
static void s_unit_no_name(json_t *root)
{
    json_object_del(s_at(root, "units", 1), "name");
}
static void s_households_negative(json_t *root)
{
    json_object_set_new(s_at(root, "grids", 2), "households", json_integer(-1));
}
static void s_households_string(json_t *root)
{
    json_object_set_new(s_at(root, "grids", 5), "households", json_string("300"));
}
static void s_households_real(json_t *root)
{
    json_object_set_new(s_at(root, "grids", 0), "households", json_real(300.5));
}
static void s_households_huge(json_t *root)
{
    json_object_set_new(s_at(root, "grids", 1), "households", json_integer(100001));
}
static void s_households_null(json_t *root)
{
    json_object_set_new(s_at(root, "grids", 3), "households", json_null());
}

static const struct {
    const char *label;
    void (*mutate)(json_t *root);
    const char *want[3]; /* substrings the message must contain */
} s_broken[] = {
    {"unchanged (control)", s_none, {NULL}},
    {"unknown department in a matter", s_matter_dept, {"matters[1]", "departments[1]", "nodept"}},
    {"unknown unit in a community", s_community_unit, {"communities[2].unit", "west"}},
    {"duplicate grid code", s_grid_twice, {"grids", "'g1'", "twice"}},
    {"bad whistle of a matter", s_matter_whistle, {"matters[0].whistle", "LOUD"}},
    {"unknown whistle name", s_whistle_key, {"whistles.LOUD"}},
    {"missing whistles.EMERGENCY", s_no_emergency, {"whistles.EMERGENCY"}},
    {"code with an uppercase letter", s_upper_code, {"grids[3].code", "G4"}},
    {"zero deadline", s_zero_deadline, {"whistles.TOUGH.resolve_ms"}},
    {"unknown community of a grid", s_grid_community, {"grids[4].community", "south-09"}},
    {"unknown coordinator", s_coordinator, {"district_coordinators[0]", "boss"}},
    {"unit without a name", s_unit_no_name, {"units[1].name"}},
    {"negative households", s_households_negative, {"grids[2].households", "0..100000"}},
    {"households as a string", s_households_string, {"grids[5].households", "integer"}},
    {"households not whole", s_households_real, {"grids[0].households", "integer"}},
    {"households too many", s_households_huge, {"grids[1].households", "0..100000"}},
    {"households null", s_households_null, {"grids[3].households"}},
};

START_TEST(test_broken_table)
{
    json_error_t jerr;
    json_t *root = json_load_file(SMALL_CATALOG, 0, &jerr);
    ck_assert_msg(root != NULL, "%s", jerr.text);
    s_broken[_i].mutate(root);
    char *dir = wh_test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/catalog.json", dir);
    ck_assert_int_eq(json_dump_file(root, path, JSON_INDENT(2)), 0);
    json_decref(root);

    char err[512] = "";
    struct wh_catalog *c = wh_catalog_load(path, err, sizeof err);
    if (!s_broken[_i].want[0]) {
        ck_assert_msg(c != NULL, "%s: %s", s_broken[_i].label, err);
    } else {
        ck_assert_msg(c == NULL, "%s: loaded", s_broken[_i].label);
        ck_assert_msg(err[0] != 0, "%s: empty message", s_broken[_i].label);
        ck_assert_msg(strstr(err, path) != NULL, "%s: message does not name the file: %s",
                      s_broken[_i].label, err);
        for (size_t k = 0; k < 3 && s_broken[_i].want[k]; k++)
            ck_assert_msg(strstr(err, s_broken[_i].want[k]) != NULL, "%s: '%s' not in: %s",
                          s_broken[_i].label, s_broken[_i].want[k], err);
    }
    wh_catalog_destroy(&c);
    wh_test_rmdir(dir);
    free(dir);
}
END_TEST

/* households may be left out (-1: not said) or 0; a grid's book then prints none */
START_TEST(test_households)
{
    json_error_t jerr;
    json_t *root = json_load_file(SMALL_CATALOG, 0, &jerr);
    ck_assert_msg(root != NULL, "%s", jerr.text);
    json_object_del(s_at(root, "grids", 4), "households");
    json_object_set_new(s_at(root, "grids", 3), "households", json_integer(0));
    char *dir = wh_test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/catalog.json", dir);
    ck_assert_int_eq(json_dump_file(root, path, JSON_INDENT(2)), 0);
    json_decref(root);
    char err[512] = "";
    struct wh_catalog *c = wh_catalog_load(path, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(wh_catalog_grid(c, "g5")->households, -1);
    ck_assert_int_eq(wh_catalog_grid(c, "g4")->households, 0);
    ck_assert_int_eq(wh_catalog_grid(c, "g6")->households, 274);
    wh_catalog_destroy(&c);
    wh_test_rmdir(dir);
    free(dir);
}
END_TEST

static const struct {
    const char *label;
    const char *text;
    const char *line; /* ":<line>:" expected after the file name */
} s_syntax[] = {
    {"missing value", "{\n  \"version\": 1,\n  \"district\": ,\n  \"units\": []\n}\n", ":3:"},
    {"unterminated", "{\n  \"version\": 1,\n  \"district\": {\"code\": \"x\"\n", ":4:"},
    {"duplicate key", "{\n  \"version\": 1,\n  \"version\": 1\n}\n", ":3:"},
    {"empty file", "", ":"},
};

START_TEST(test_syntax_error)
{
    char *dir = wh_test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/broken.json", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(s_syntax[_i].text, f);
    fclose(f);

    char err[512] = "", want[600];
    struct wh_catalog *c = wh_catalog_load(path, err, sizeof err);
    ck_assert_msg(c == NULL, "%s: loaded", s_syntax[_i].label);
    snprintf(want, sizeof want, "%s%s", path, s_syntax[_i].line);
    ck_assert_msg(strstr(err, want) != NULL, "%s: '%s' not in: %s", s_syntax[_i].label, want,
                  err);
    wh_test_rmdir(dir);
    free(dir);
}
END_TEST

START_TEST(test_missing_file)
{
    char err[512] = "";
    struct wh_catalog *c = wh_catalog_load("/nonexistent/whistle/catalog.json", err, sizeof err);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/whistle/catalog.json"));
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("catalog");
    TCase *tc = tcase_create("catalog");
    tcase_add_test(tc, test_default_catalog);
    tcase_add_test(tc, test_lookups);
    tcase_add_loop_test(tc, test_broken_table, 0, (int)(sizeof s_broken / sizeof s_broken[0]));
    tcase_add_loop_test(tc, test_syntax_error, 0, (int)(sizeof s_syntax / sizeof s_syntax[0]));
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_households);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    wh_log_init("check_catalog", WH_LOG_WARN);
    return wh_test_run(s_suite());
}
