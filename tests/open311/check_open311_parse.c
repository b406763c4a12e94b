/* check_open311_parse.c: what Open311 clients send, read into whistle's requests: form
 * bodies and query strings (decoding and its refusals), POST requests into a SubmitReport
 * (every field and every refusal, each naming its field with the spec's status), GET requests
 * into a ListCases and the filters applied to what comes back. */
#include "open311.h"
#include "wh_test.h"
#include "whistle/error.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct wh_catalog *s_cat;

static void s_setup(void)
{
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/deploy/catalog/default.json", WHISTLE_SOURCE_DIR);
    s_cat = wh_catalog_load(path, err, sizeof err);
    ck_assert_msg(s_cat != NULL, "%s", err);
    setenv("TZ", "XXX-08:00", 1);
    tzset();
}

static void s_teardown(void)
{
    wh_catalog_destroy(&s_cat);
}

static void s_decode(struct open311_form *f, const char *s)
{
    struct open311_error err;
    memset(f, 0, sizeof *f);
    int rc = open311_form_decode(f, s, strlen(s), &err);
    ck_assert_msg(rc == 0, "%s: %s", s, err.description);
}

/* ---- form decoding ---------------------------------------------------------------------- */

START_TEST(form_decodes)
{
    struct open311_form f;
    s_decode(&f, "a=1+2&b=%E6%91%8A%20x&&c&attribute%5Bgrid%5D=g1&d=&e=%2B%25&");
    ck_assert_uint_eq(f.n, 6);
    ck_assert_str_eq(open311_form_get(&f, "a"), "1 2");
    ck_assert_str_eq(open311_form_get(&f, "b"), "摊 x");
    ck_assert_str_eq(open311_form_get(&f, "c"), "");
    ck_assert_str_eq(open311_form_get(&f, "attribute[grid]"), "g1");
    ck_assert_str_eq(open311_form_get(&f, "d"), "");
    ck_assert_str_eq(open311_form_get(&f, "e"), "+%");
    ck_assert_ptr_null(open311_form_get(&f, "z"));
    open311_form_clear(&f);
    ck_assert_uint_eq(f.n, 0);
    s_decode(&f, "");
    ck_assert_uint_eq(f.n, 0);
}
END_TEST

static const struct {
    const char *body;
    const char *field;
} s_bad_forms[] = {
    {"a=1&description=50%25%zz", "description"}, /* a '%' without two hex digits */
    {"description=abc%4", "description"},        /* cut at the end */
    {"description=abc%00def", "description"},    /* a NUL would cut the value */
    {"description=%FF%FE", "description"},       /* not UTF-8 */
    {"description=%C0%AF", "description"},       /* an overlong */
    {"description=%ED%A0%80", "description"},    /* a surrogate */
    {"%FF=1", "form"},                           /* a name that is not UTF-8 */
    {"a%zz=1", "form"},
};

START_TEST(form_refusals)
{
    struct open311_form f = {0};
    struct open311_error err;
    const char *body = s_bad_forms[_i].body;
    ck_assert_int_lt(open311_form_decode(&f, body, strlen(body), &err), 0);
    ck_assert_int_eq(err.status, 400);
    ck_assert_str_eq(err.field, s_bad_forms[_i].field);
    ck_assert_uint_eq(f.n, 0);
    ck_assert_ptr_nonnull(strstr(err.description, s_bad_forms[_i].field));
}
END_TEST

START_TEST(form_bounds)
{
    char body[4096] = "";
    for (int i = 0; i <= OPEN311_MAX_PARAMS; i++)
        snprintf(body + strlen(body), sizeof body - strlen(body), "k%d=v&", i);
    struct open311_form f = {0};
    struct open311_error err;
    ck_assert_int_lt(open311_form_decode(&f, body, strlen(body), &err), 0);
    ck_assert_str_eq(err.field, "form");
    /* a raw NUL byte in the body */
    ck_assert_int_lt(open311_form_decode(&f, "a=b\0c", 5, &err), 0);
    ck_assert_str_eq(err.field, "a");
    /* fields added one by one (libmicrohttpd's post processor): the same checks */
    ck_assert_int_eq(open311_form_add(&f, "k", 1, "v", 1, &err), 0);
    ck_assert_int_lt(open311_form_add(&f, "description", 11, "a\xff", 2, &err), 0);
    ck_assert_str_eq(err.field, "description");
    ck_assert_int_lt(open311_form_add(&f, "description", 11, "a\0b", 3, &err), 0);
    ck_assert_uint_eq(f.n, 1);
    open311_form_clear(&f);
}
END_TEST

/* ---- POST requests ---------------------------------------------------------------------- */

static int s_identify(void *arg, const char *api_key, char *code, size_t code_size)
{
    (void)arg;
    if (strcmp(api_key, "k-app") != 0) return 0;
    snprintf(code, code_size, "app");
    return 1;
}

static const char s_ok_body[] =
    "api_key=k-app&service_code=m01&attribute[grid]=%s&lat=30.5&long=117.05"
    "&address_string=%%E4%%BA%%BA%%E6%%B0%%91%%E8%%B7%%AF+12&description=%%E5%%8D%%A0%%E9%%81%%93"
    "&email=a%%40example.org&first_name=Li&last_name=Si&phone=123";

START_TEST(submit_fills_report)
{
    char body[1024];
    snprintf(body, sizeof body, s_ok_body, s_cat->grids[0].code);
    struct open311_form q, f;
    s_decode(&q, "jurisdiction_id=yingjiang");
    s_decode(&f, body);
    struct open311_submit s;
    struct open311_error err;
    int rc = open311_submit_parse(&s, s_cat, &q, &f, "retry-1", s_identify, NULL, &err);
    ck_assert_msg(rc == 0, "%s", err.description);
    ck_assert_ptr_eq(s.sr.report, &s.report);
    ck_assert_str_eq(s.sr.idempotency_key, "app:retry-1");
    ck_assert_str_eq(s.report.grid, s_cat->grids[0].code);
    ck_assert_str_eq(s.report.matter, "m01");
    ck_assert_str_eq(s.report.description, "占道");
    ck_assert_str_eq(s.report.reporter, "a@example.org");
    ck_assert_str_eq(s.report.location, "人民路 12");
    ck_assert_ptr_eq(s.report.geo, &s.geo);
    ck_assert(s.report.geo->lat == 30.5 && s.report.geo->lon == 117.05);
    ck_assert_str_eq(s.report.source, "app");
    ck_assert_ptr_null(s.report.task);
    ck_assert_ptr_eq(s.report.contact, &s.contact);
    ck_assert_str_eq(s.report.contact->first_name, "Li");
    ck_assert_str_eq(s.report.contact->last_name, "Si");
    ck_assert_str_eq(s.report.contact->phone, "123");
    ck_assert_str_eq(s.report.contact->email, "a@example.org");
    ck_assert(s.has_latlon && s.lat == 30.5 && s.lon == 117.05);
    /* what intake will be sent packs and is valid UTF-8 */
    char path[128];
    ck_assert_int_eq(wh_message_utf8_check(&s.sr.base, path, sizeof path), 0);
    open311_submit_clear(&s);
    ck_assert_ptr_null(s.sr.idempotency_key);
    open311_form_clear(&q);
    open311_form_clear(&f);
}
END_TEST

START_TEST(submit_task_for_community_matter)
{
    struct open311_form f;
    char body[1024];
    snprintf(body, sizeof body,
             "api_key=k-app&service_code=m08&attribute[grid]=%s&address_string=x"
             "&description=d&attribute[task_affair]=a01&attribute[task_issuer]=mz",
             s_cat->grids[0].code);
    s_decode(&f, body);
    struct open311_submit s;
    struct open311_error err;
    int rc = open311_submit_parse(&s, s_cat, NULL, &f, "k", s_identify, NULL, &err);
    ck_assert_msg(rc == 0, "%s", err.description);
    ck_assert_ptr_eq(s.report.task, &s.task);
    ck_assert_str_eq(s.task.affair, "a01");
    ck_assert_str_eq(s.task.issuer, "mz");
    ck_assert_str_eq(s.task.authority_ref, "");
    ck_assert_str_eq(s.report.reporter, "app"); /* no contact given: the integrator */
    ck_assert_str_eq(s.report.location, "x");
    open311_submit_clear(&s);
    open311_form_clear(&f);
}
END_TEST

/* 4000 characters of 3 bytes each are accepted (characters, not bytes); 4001 are not */
START_TEST(submit_description_counts_characters)
{
    size_t n = 4001;
    char *body = malloc(n * 9 + 512);
    int len = sprintf(body,
                      "api_key=k-app&service_code=m01&attribute[grid]=%s&lat=1&long=2"
                      "&description=",
                      s_cat->grids[0].code);
    for (size_t i = 0; i < n - 1; i++)
        len += sprintf(body + len, "%%E5%%8D%%A0");
    struct open311_form f;
    s_decode(&f, body);
    struct open311_submit s;
    struct open311_error err;
    int rc = open311_submit_parse(&s, s_cat, NULL, &f, "k", s_identify, NULL, &err);
    ck_assert_msg(rc == 0, "%s", err.description);
    ck_assert_uint_eq(strlen(s.report.description), 12000);
    open311_submit_clear(&s);
    open311_form_clear(&f);
    sprintf(body + len, "x");
    s_decode(&f, body);
    ck_assert_int_eq(open311_submit_parse(&s, s_cat, NULL, &f, "k", s_identify, NULL, &err), -400);
    ck_assert_str_eq(err.field, "description");
    ck_assert_ptr_nonnull(strstr(err.description, "at most 4000 characters, got 4001"));
    open311_form_clear(&f);
    free(body);
}
END_TEST

static const struct {
    const char *query; /* the URL's query string */
    const char *body;  /* %s: a catalog grid */
    const char *key;   /* Idempotency-Key */
    int status;
    const char *field;
} s_refusals[] = {
    {"", "service_code=m01&attribute[grid]=%s&lat=1&long=2&description=d", "k", 403, "api_key"},
    {"", "api_key=nope&service_code=m01&attribute[grid]=%s&lat=1&long=2&description=d", "k", 403,
     "api_key"},
    {"jurisdiction_id=elsewhere",
     "api_key=k-app&service_code=m01&attribute[grid]=%s&lat=1&long=2&description=d", "k", 404,
     "jurisdiction_id"},
    {"", "api_key=k-app&attribute[grid]=%s&lat=1&long=2&description=d", "k", 400, "service_code"},
    {"", "api_key=k-app&service_code=m99&attribute[grid]=%s&lat=1&long=2&description=d", "k", 404,
     "service_code"},
    {"", "api_key=k-app&service_code=m01&attribute[grid]=%s&lat=1&long=2&description=d&x=1", "k",
     400, "x"},
    {"",
     "api_key=k-app&service_code=m01&attribute[grid]=%s&lat=1&long=2&description=d"
     "&attribute[task_issuer]=mz",
     "k", 400, "attribute[task_issuer]"}, /* m01 is not led by the community */
    {"",
     "api_key=k-app&service_code=m01&attribute[grid]=%s&attribute[color]=red&lat=1&long=2"
     "&description=d",
     "k", 400, "attribute[color]"},
    {"", "api_key=k-app&service_code=m01&attribute[grid]=%s&lat=1&description=d", "k", 400, "long"},
    {"", "api_key=k-app&service_code=m01&attribute[grid]=%s&lat=91&long=2&description=d", "k", 400,
     "lat"},
    {"", "api_key=k-app&service_code=m01&attribute[grid]=%s&lat=1&long=east&description=d", "k",
     400, "long"},
    {"", "api_key=k-app&service_code=m01&attribute[grid]=%s&description=d", "k", 400,
     "address_string"},
    {"", "api_key=k-app&service_code=m01&lat=1&long=2&description=d&attribute[grid]=%s9", "k", 400,
     "attribute[grid]"},
    {"", "api_key=k-app&service_code=m01&lat=1&long=2&description=d", "k", 400, "attribute[grid]"},
    {"",
     "api_key=k-app&service_code=m08&attribute[grid]=%s&lat=1&long=2&description=d"
     "&attribute[task_affair]=a01",
     "k", 400, "attribute[task_issuer]"},
    {"",
     "api_key=k-app&service_code=m08&attribute[grid]=%s&lat=1&long=2&description=d"
     "&attribute[task_affair]=zz&attribute[task_issuer]=mz",
     "k", 400, "attribute[task_affair]"},
    {"", "api_key=k-app&service_code=m01&attribute[grid]=%s&lat=1&long=2", "k", 400, "description"},
    {"", "api_key=k-app&service_code=m01&attribute[grid]=%s&lat=1&long=2&description=d", "a b", 400,
     "Idempotency-Key"},
    {"", "api_key=k-app&service_code=m01&attribute[grid]=%s&lat=1&long=2&description=d", "", 400,
     "Idempotency-Key"},
    {"", "api_key=k-app&service_code=m01&attribute[grid]=%s&lat=1&long=2&description=d&lat=3", "k",
     400, "lat"},
    {"service_code=m02",
     "api_key=k-app&service_code=m01&attribute[grid]=%s&lat=1&long=2&description=d", "k", 400,
     "service_code"},
};

START_TEST(submit_refusals)
{
    char body[1024];
    snprintf(body, sizeof body, s_refusals[_i].body, s_cat->grids[0].code);
    struct open311_form q, f;
    s_decode(&q, s_refusals[_i].query);
    s_decode(&f, body);
    struct open311_submit s;
    struct open311_error err;
    int rc = open311_submit_parse(&s, s_cat, &q, &f, s_refusals[_i].key, s_identify, NULL, &err);
    ck_assert_int_eq(rc, -s_refusals[_i].status);
    ck_assert_int_eq(err.status, s_refusals[_i].status);
    ck_assert_str_eq(err.field, s_refusals[_i].field);
    ck_assert_msg(strncmp(err.description, s_refusals[_i].field, strlen(err.field)) == 0,
                  "the description names the field first: %s", err.description);
    ck_assert_ptr_null(s.sr.idempotency_key); /* cleared */
    open311_form_clear(&q);
    open311_form_clear(&f);
}
END_TEST

START_TEST(submit_text_bounds)
{
    char body[2048];
    char long_email[300];
    memset(long_email, 'a', 290);
    long_email[290] = '\0';
    snprintf(body, sizeof body,
             "api_key=k-app&service_code=m01&attribute[grid]=%s&lat=1&long=2&description=d"
             "&email=%s",
             s_cat->grids[0].code, long_email);
    struct open311_form f;
    s_decode(&f, body);
    struct open311_submit s;
    struct open311_error err;
    ck_assert_int_eq(open311_submit_parse(&s, s_cat, NULL, &f, "k", s_identify, NULL, &err), -400);
    ck_assert_str_eq(err.field, "email");
    open311_form_clear(&f);
    /* the address: Report.location's 256 bytes */
    char addr[260];
    memset(addr, 'x', 257);
    addr[257] = '\0';
    snprintf(body, sizeof body,
             "api_key=k-app&service_code=m01&attribute[grid]=%s&lat=1&long=2&description=d"
             "&address_string=%s",
             s_cat->grids[0].code, addr);
    s_decode(&f, body);
    ck_assert_int_eq(open311_submit_parse(&s, s_cat, NULL, &f, "k", s_identify, NULL, &err), -400);
    ck_assert_str_eq(err.field, "address_string");
    open311_form_clear(&f);
}
END_TEST

/* ---- GET requests ----------------------------------------------------------------------- */

#define S_NOW 1777600800000LL /* 2026-05-01T10:00:00+08:00 */
#define S_DAY 86400000LL

START_TEST(query_defaults)
{
    struct open311_form q;
    s_decode(&q, "jurisdiction_id=yingjiang&api_key=whatever");
    struct open311_query out;
    struct open311_error err;
    ck_assert_int_eq(open311_query_parse(&out, s_cat, &q, S_NOW, &err), 0);
    ck_assert_int_eq(out.end_ms, S_NOW);
    ck_assert_int_eq(out.start_ms, S_NOW - 90 * S_DAY);
    ck_assert_uint_eq(out.limit, 1000);
    ck_assert_uint_eq(out.status, OPEN311_STATUS_OPEN | OPEN311_STATUS_CLOSED);
    ck_assert_int_eq(out.list.state, 0);
    ck_assert_uint_gt(out.list.limit, 0);
    ck_assert_uint_eq(out.n_ids, 0);
    ck_assert_uint_eq(out.n_codes, 0);
    open311_query_clear(&out);
    open311_form_clear(&q);
}
END_TEST

START_TEST(query_filters_and_match)
{
    struct open311_form q;
    s_decode(&q, "service_code=m01,m02&status=closed&start_date=2026-04-01"
                 "&end_date=2026-04-30T23:59:59%2B08:00");
    struct open311_query out;
    struct open311_error err;
    ck_assert_int_eq(open311_query_parse(&out, s_cat, &q, S_NOW, &err), 0);
    ck_assert_uint_eq(out.n_codes, 2);
    ck_assert_str_eq(out.codes[1], "m02");
    ck_assert_uint_eq(out.status, OPEN311_STATUS_CLOSED);
    ck_assert_int_eq(out.start_ms, S_NOW - 30 * S_DAY - 10 * 3600000LL);
    ck_assert_int_eq(out.end_ms, S_NOW - 10 * 3600000LL - 1000);

    Whistle__V1__Report r = WHISTLE__V1__REPORT__INIT;
    Whistle__V1__Case c = WHISTLE__V1__CASE__INIT;
    c.report = &r;
    r.matter = "m02";
    c.state = WHISTLE__V1__CASE_STATE__CLOSED;
    c.created_at_ms = S_NOW - 15 * S_DAY;
    ck_assert_int_eq(open311_query_match(&out, &c), 1);
    c.state = WHISTLE__V1__CASE_STATE__REFUSED;
    ck_assert_int_eq(open311_query_match(&out, &c), 1);
    c.state = WHISTLE__V1__CASE_STATE__RESOLVED; /* open: waits for the resident */
    ck_assert_int_eq(open311_query_match(&out, &c), 0);
    c.state = WHISTLE__V1__CASE_STATE__CLOSED;
    r.matter = "m03";
    ck_assert_int_eq(open311_query_match(&out, &c), 0);
    r.matter = "m01";
    c.created_at_ms = S_NOW - 40 * S_DAY;
    ck_assert_int_eq(open311_query_match(&out, &c), 0);
    c.created_at_ms = S_NOW;
    ck_assert_int_eq(open311_query_match(&out, &c), 0);
    open311_query_clear(&out);
    open311_form_clear(&q);

    /* service_request_id overrides every other argument */
    s_decode(&q, "service_request_id=C00000001,%20C00000002&status=open&service_code=m01");
    ck_assert_int_eq(open311_query_parse(&out, s_cat, &q, S_NOW, &err), 0);
    ck_assert_uint_eq(out.n_ids, 2);
    ck_assert_str_eq(out.ids[0], "C00000001");
    ck_assert_str_eq(out.ids[1], "C00000002");
    ck_assert_int_eq(open311_query_match(&out, &c), 1);
    open311_query_clear(&out);
    open311_form_clear(&q);
}
END_TEST

static const struct {
    const char *query;
    int status;
    const char *field;
} s_query_refusals[] = {
    {"start_date=2026-01-01&end_date=2026-04-30", 400, "start_date"}, /* > 90 days */
    {"start_date=2026-01-01", 400, "start_date"},                     /* to now: > 90 days */
    {"start_date=2026-04-30&end_date=2026-04-01", 400, "end_date"},
    {"start_date=yesterday", 400, "start_date"},
    {"end_date=2026-04-01T10:00:00", 400, "end_date"}, /* no zone */
    {"status=pending", 400, "status"},
    {"status=open,closed,open", 400, "status"},
    {"service_code=m99", 400, "service_code"},
    {"service_code=M01", 400, "service_code"},
    {"service_request_id=C1,../etc", 400, "service_request_id"},
    {"service_request_id=C1,,C2", 400, "service_request_id"},
    {"jurisdiction_id=elsewhere", 404, "jurisdiction_id"},
    {"page=2", 400, "page"},
    {"status=open&status=closed", 400, "status"},
};

START_TEST(query_refusals)
{
    struct open311_form q;
    s_decode(&q, s_query_refusals[_i].query);
    struct open311_query out;
    struct open311_error err;
    ck_assert_int_eq(open311_query_parse(&out, s_cat, &q, S_NOW, &err),
                     -s_query_refusals[_i].status);
    ck_assert_str_eq(err.field, s_query_refusals[_i].field);
    ck_assert_msg(strncmp(err.description, err.field, strlen(err.field)) == 0, "%s",
                  err.description);
    ck_assert_uint_eq(out.n_ids + out.n_codes, 0);
    open311_form_clear(&q);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("open311 parse");
    TCase *tc = tcase_create("parse");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_add_test(tc, form_decodes);
    tcase_add_loop_test(tc, form_refusals, 0, (int)(sizeof s_bad_forms / sizeof s_bad_forms[0]));
    tcase_add_test(tc, form_bounds);
    tcase_add_test(tc, submit_fills_report);
    tcase_add_test(tc, submit_task_for_community_matter);
    tcase_add_test(tc, submit_description_counts_characters);
    tcase_add_loop_test(tc, submit_refusals, 0, (int)(sizeof s_refusals / sizeof s_refusals[0]));
    tcase_add_test(tc, submit_text_bounds);
    tcase_add_test(tc, query_defaults);
    tcase_add_test(tc, query_filters_and_match);
    tcase_add_loop_test(tc, query_refusals, 0,
                        (int)(sizeof s_query_refusals / sizeof s_query_refusals[0]));
    suite_add_tcase(s, tc);
    return wh_test_run(s);
}
