/* check_route.c: the gateway's route table and URL checks: which method and path reach which
 * route with which captures, 404 and 405 (with Allow), and every path refused before a
 * handler: invalid or truncated %-escapes, an encoded NUL, bytes that are not UTF-8, control
 * characters, an encoded '/', and '.' or '..' segments. */
#include "route.h"
#include "wh_test.h"
#include "whistle/error.h"
#include <check.h>
#include <string.h>

static const struct {
    const char *method, *path;
    int rc;              /* GW_ROUTE_..., or WH_EFIELD */
    const char *pattern; /* the route matched (rc OK) */
    const char *p0, *p1; /* captures */
    const char *allow;   /* rc METHOD */
} s_rows[] = {
    {"GET", "/healthz", GW_ROUTE_OK, "/healthz", NULL, NULL, NULL},
    {"HEAD", "/healthz", GW_ROUTE_OK, "/healthz", NULL, NULL, NULL},
    {"GET", "/readyz", GW_ROUTE_OK, "/readyz", NULL, NULL, NULL},
    {"GET", "/v1/cases", GW_ROUTE_OK, "/v1/cases", NULL, NULL, NULL},
    {"GET", "/v1/cases/C00000001", GW_ROUTE_OK, "/v1/cases/{}", "C00000001", NULL, NULL},
    {"GET", "/v1/cases/C%30%30000001", GW_ROUTE_OK, "/v1/cases/{}", "C00000001", NULL, NULL},
    {"POST", "/v1/cases/C00000001/checkin", GW_ROUTE_OK, "/v1/cases/{}/{}", "C00000001", "checkin",
     NULL},
    {"POST", "/v1/cases/C1/escalate", GW_ROUTE_OK, "/v1/cases/{}/{}", "C1", "escalate", NULL},
    {"GET", "/v1/figures", GW_ROUTE_OK, "/v1/figures", NULL, NULL, NULL},
    {"GET", "/v1/visits", GW_ROUTE_OK, "/v1/visits", NULL, NULL, NULL},
    {"GET", "/v1/grids/g1/ledger", GW_ROUTE_OK, "/v1/grids/{}/ledger", "g1", NULL, NULL},
    {"POST", "/v1/grids/g1/ledger", GW_ROUTE_METHOD, NULL, NULL, NULL, "GET"},
    {"GET", "/v1/grids/g1", GW_ROUTE_NONE, NULL, NULL, NULL, NULL},
    {"GET", "/v1/grids/..%2Fg1/ledger", WH_EFIELD, NULL, NULL, NULL, NULL},
    {"GET", "/v1/topics/all/events", GW_ROUTE_OK, "/v1/topics/{}/events", "all", NULL, NULL},
    {"GET", "/v1/topics/dept/cg/events", GW_ROUTE_OK, "/v1/topics/{}/{}/events", "dept", "cg",
     NULL},
    {"GET", "/v1/topics/dept%2Fcg/events", WH_EFIELD, NULL, NULL, NULL, NULL},
    {"GET", "/v1/topics/dept/../events", WH_EFIELD, NULL, NULL, NULL, NULL},
    {"POST", "/v1/topics/all/events", GW_ROUTE_METHOD, NULL, NULL, NULL, "GET"},
    /* the dashboard (web.c): one file name a segment, nothing deeper */
    {"GET", "/", GW_ROUTE_OK, "/", NULL, NULL, NULL},
    {"HEAD", "/", GW_ROUTE_OK, "/", NULL, NULL, NULL},
    {"POST", "/", GW_ROUTE_METHOD, NULL, NULL, NULL, "GET"},
    {"GET", "/web/app.js", GW_ROUTE_OK, "/web/{}", "app.js", NULL, NULL},
    {"GET", "/web/vendor/uPlot.js", GW_ROUTE_OK, "/web/vendor/{}", "uPlot.js", NULL, NULL},
    {"GET", "/web/vendor", GW_ROUTE_OK, "/web/{}", "vendor", NULL, NULL}, /* web.c: 404 */
    {"GET", "/web/", GW_ROUTE_NONE, NULL, NULL, NULL, NULL},
    {"GET", "/web/vendor/a/b.js", GW_ROUTE_NONE, NULL, NULL, NULL, NULL},
    {"GET", "/web/..%2F..%2Fetc", WH_EFIELD, NULL, NULL, NULL, NULL},
    {"GET", "/web/vendor/../app.js", WH_EFIELD, NULL, NULL, NULL, NULL},
    {"GET", "/web/%2e%2e", WH_EFIELD, NULL, NULL, NULL, NULL},
    {"GET", "/v1/whoami", GW_ROUTE_OK, "/v1/whoami", NULL, NULL, NULL},
    {"POST", "/v1/stream-tickets", GW_ROUTE_OK, "/v1/stream-tickets", NULL, NULL, NULL},
    {"GET", "/v1/stream-tickets", GW_ROUTE_METHOD, NULL, NULL, NULL, "POST"},
    {"GET", "/v1", GW_ROUTE_NONE, NULL, NULL, NULL, NULL},
    {"GET", "/v1/cases/", GW_ROUTE_NONE, NULL, NULL, NULL, NULL},
    {"GET", "/v1//cases", GW_ROUTE_NONE, NULL, NULL, NULL, NULL},
    {"GET", "/v1/cases/C1/checkin/more", GW_ROUTE_NONE, NULL, NULL, NULL, NULL},
    {"GET", "/metrics", GW_ROUTE_OK, "/metrics", NULL, NULL, NULL},
    {"POST", "/metrics", GW_ROUTE_METHOD, NULL, NULL, NULL, "GET"},
    {"GET", "/metrics/x", GW_ROUTE_NONE, NULL, NULL, NULL, NULL},
    {"GET", "/a/b/c/d/e/f/g/h/i/j", GW_ROUTE_NONE, NULL, NULL, NULL, NULL},
    {"POST", "/v1/cases", GW_ROUTE_METHOD, NULL, NULL, NULL, "GET"},
    {"DELETE", "/healthz", GW_ROUTE_METHOD, NULL, NULL, NULL, "GET"},
    {"GET", "/v1/cases/C1/checkin", GW_ROUTE_METHOD, NULL, NULL, NULL, "POST"},
    {"GET", "v1/cases", WH_EFIELD, NULL, NULL, NULL, NULL},
    {"GET", "/v1/../v1/cases", WH_EFIELD, NULL, NULL, NULL, NULL},
    {"GET", "/v1/cases/..", WH_EFIELD, NULL, NULL, NULL, NULL},
    {"GET", "/v1/./cases", WH_EFIELD, NULL, NULL, NULL, NULL},
    {"GET", "/v1/cases/%2e%2e", WH_EFIELD, NULL, NULL, NULL, NULL},
    {"GET", "/v1/cases/%2E", WH_EFIELD, NULL, NULL, NULL, NULL},
    {"GET", "/v1/cases/C%00001", WH_EFIELD, NULL, NULL, NULL, NULL},
    {"GET", "/v1/cases/C%2F1", WH_EFIELD, NULL, NULL, NULL, NULL},
    {"GET", "/v1/cases/C%5c1", WH_EFIELD, NULL, NULL, NULL, NULL},
    {"GET", "/v1/cases/C%0a1", WH_EFIELD, NULL, NULL, NULL, NULL},
    {"GET", "/v1/cases/C%7f", WH_EFIELD, NULL, NULL, NULL, NULL},
    {"GET", "/v1/cases/%zz", WH_EFIELD, NULL, NULL, NULL, NULL},
    {"GET", "/v1/cases/%4", WH_EFIELD, NULL, NULL, NULL, NULL},
    {"GET", "/v1/cases/%", WH_EFIELD, NULL, NULL, NULL, NULL},
    {"GET", "/v1/cases/%ff%fe", WH_EFIELD, NULL, NULL, NULL, NULL},
    {"GET", "/v1/cases/\xc3\x28", WH_EFIELD, NULL, NULL, NULL, NULL},
    {"GET", "/v1/cases/%e5%8d%97", GW_ROUTE_OK, "/v1/cases/{}", "\xe5\x8d\x97", NULL, NULL},
    /* Open311 at the root: the format is part of the last segment */
    {"GET", "/discovery.xml", GW_ROUTE_OK, "/discovery.xml", NULL, NULL, NULL},
    {"GET", "/services/m01.json", GW_ROUTE_OK, "/services/{}", "m01.json", NULL, NULL},
    {"POST", "/requests.json", GW_ROUTE_OK, "/requests.json", NULL, NULL, NULL},
    {"GET", "/requests/C00000001.xml", GW_ROUTE_OK, "/requests/{}", "C00000001.xml", NULL, NULL},
    {"GET", "/tokens/C00000001.json", GW_ROUTE_OK, "/tokens/{}", "C00000001.json", NULL, NULL},
    {"DELETE", "/requests.xml", GW_ROUTE_METHOD, NULL, NULL, NULL, "GET, POST"},
    {"POST", "/services.json", GW_ROUTE_METHOD, NULL, NULL, NULL, "GET"},
    {"GET", "/requests.csv", GW_ROUTE_NONE, NULL, NULL, NULL, NULL},
};

START_TEST(routes)
{
    struct gw_match m;
    struct wh_field_error err;
    memset(&err, 0, sizeof err);
    int rc = gateway_route_match(gateway_api_routes, gateway_api_n_routes, s_rows[_i].method,
                                 s_rows[_i].path, &m, &err);
    ck_assert_msg(rc == s_rows[_i].rc, "%s %s: %d, want %d", s_rows[_i].method, s_rows[_i].path, rc,
                  s_rows[_i].rc);
    if (rc == GW_ROUTE_OK) {
        ck_assert_str_eq(m.route->pattern, s_rows[_i].pattern);
        if (s_rows[_i].p0) ck_assert_str_eq(m.param[0], s_rows[_i].p0);
        if (s_rows[_i].p1) ck_assert_str_eq(m.param[1], s_rows[_i].p1);
        ck_assert_uint_eq(m.n, (s_rows[_i].p0 != NULL) + (s_rows[_i].p1 != NULL));
    } else if (rc == GW_ROUTE_METHOD) {
        ck_assert_str_eq(m.allow, s_rows[_i].allow);
    } else if (rc == WH_EFIELD) {
        ck_assert_str_eq(err.field, "url");
        ck_assert(err.message[0]);
    }
}
END_TEST

START_TEST(pct_decode)
{
    char out[16];
    ck_assert_int_eq(gateway_pct_decode(out, sizeof out, "a%20b+c", 7), 5);
    ck_assert_str_eq(out, "a b+c");
    ck_assert_int_eq(gateway_pct_decode(out, sizeof out, "", 0), 0);
    ck_assert_int_eq(gateway_pct_decode(out, sizeof out, "%00", 3), -1);
    ck_assert_int_eq(gateway_pct_decode(out, sizeof out, "%0", 2), -1);
    ck_assert_int_eq(gateway_pct_decode(out, sizeof out, "%g0", 3), -1);
    ck_assert_int_eq(gateway_pct_decode(out, sizeof out, "%c3%28", 6), -1); /* not UTF-8 */
    ck_assert_int_eq(gateway_pct_decode(out, 4, "abcd", 4), -1);            /* does not fit */
    ck_assert_int_eq(gateway_pct_decode(out, 5, "abcd", 4), 4);
}
END_TEST

/* A table with two methods on one path, as the Open311 routes will have. */
static void s_nop(gateway_t *gw, struct gw_req *r, const struct gw_match *m)
{
    (void)gw;
    (void)r;
    (void)m;
}

START_TEST(allow_lists_every_method)
{
    static const struct gw_route t[] = {
        {"GET", "/requests.json", s_nop, 0},
        {"POST", "/requests.json", s_nop, 0},
    };
    struct gw_match m;
    struct wh_field_error err;
    ck_assert_int_eq(gateway_route_match(t, 2, "PUT", "/requests.json", &m, &err), GW_ROUTE_METHOD);
    ck_assert_str_eq(m.allow, "GET, POST");
    ck_assert_int_eq(gateway_route_match(t, 2, "POST", "/requests.json", &m, &err), GW_ROUTE_OK);
    ck_assert_ptr_eq(m.route, &t[1]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("route");
    TCase *tc = tcase_create("match");
    tcase_add_loop_test(tc, routes, 0, (int)(sizeof s_rows / sizeof s_rows[0]));
    tcase_add_test(tc, pct_decode);
    tcase_add_test(tc, allow_lists_every_method);
    suite_add_tcase(s, tc);
    return wh_test_run(s);
}
