/* check_stats.c: the gateway's own series: answers counted by route pattern (a row of the
 * table, never the raw path) and status, one series per pair, "none" for answers given before
 * a route matched (or a route of another table); durations as a histogram by route; and the
 * series rendered in the Prometheus text format with service="gateway". */
#include "stats.h"
#include "wh_test.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>

static void s_nop(gateway_t *gw, struct gw_req *r, const struct gw_match *m)
{
    (void)gw;
    (void)r;
    (void)m;
}

static const struct gw_route s_table[] = {
    {"GET", "/v1/cases/{}", s_nop, 0},
    {"POST", "/v1/cases/{}/{}", s_nop, 0},
    {"GET", "/metrics", s_nop, GW_ROUTE_METRICS},
};

/* The gateway's series rendered alone. Caller frees. */
static char *s_render(const gw_stats_t *st)
{
    wh_metrics_t *m = wh_metrics_new("gateway");
    ck_assert_ptr_nonnull(m);
    gateway_stats_add(st, m);
    const Whistle__V1__StatsReply *r[1] = {wh_metrics_reply(m)};
    char *text = wh_metrics_render(r, 1, NULL);
    ck_assert_ptr_nonnull(text);
    wh_metrics_destroy(&m);
    return text;
}

static void s_has(const char *text, const char *line)
{
    ck_assert_msg(strstr(text, line) != NULL, "missing: %s\n----\n%s", line, text);
}

START_TEST(counts_by_route_and_status)
{
    gw_stats_t *st = gateway_stats_new(s_table, 3);
    ck_assert_ptr_nonnull(st);
    gateway_stats_answer(st, &s_table[0], 200, 0.002);
    gateway_stats_answer(st, &s_table[0], 200, 0.004);
    gateway_stats_answer(st, &s_table[0], 404, 0.001);
    gateway_stats_answer(st, &s_table[1], 409, 0.02);
    gateway_stats_answer(st, NULL, 404, 0.0001);
    gateway_stats_answer(st, NULL, 413, 0.0001);
    static const struct gw_route other = {"GET", "/elsewhere", s_nop, 0};
    gateway_stats_answer(st, &other, 200, 0.0001); /* not a row of the table: none */
    char *text = s_render(st);
    s_has(text, "whistle_gateway_http_requests_total{service=\"gateway\",route=\"/v1/cases/{}\","
                "method=\"GET\",status=\"200\"} 2\n");
    s_has(text, "whistle_gateway_http_requests_total{service=\"gateway\",route=\"/v1/cases/{}\","
                "method=\"GET\",status=\"404\"} 1\n");
    s_has(text, "whistle_gateway_http_requests_total{service=\"gateway\",route=\"/v1/cases/{}/{}"
                "\",method=\"POST\",status=\"409\"} 1\n");
    s_has(text, "whistle_gateway_http_requests_total{service=\"gateway\",route=\"none\","
                "method=\"any\",status=\"404\"} 1\n");
    s_has(text, "whistle_gateway_http_requests_total{service=\"gateway\",route=\"none\","
                "method=\"any\",status=\"200\"} 1\n");
    /* durations: 0.002 and 0.004 and 0.001 under /v1/cases/{} */
    s_has(text, "whistle_gateway_http_request_duration_seconds_bucket{service=\"gateway\","
                "route=\"/v1/cases/{}\",method=\"GET\",le=\"0.001\"} 1\n");
    s_has(text, "whistle_gateway_http_request_duration_seconds_bucket{service=\"gateway\","
                "route=\"/v1/cases/{}\",method=\"GET\",le=\"0.0025\"} 2\n");
    s_has(text, "whistle_gateway_http_request_duration_seconds_count{service=\"gateway\","
                "route=\"/v1/cases/{}\",method=\"GET\"} 3\n");
    s_has(text, "whistle_gateway_http_request_duration_seconds_count{service=\"gateway\","
                "route=\"none\",method=\"any\"} 3\n");
    /* a route never answered has no series */
    ck_assert_ptr_null(strstr(text, "route=\"/metrics\""));
    /* one family header each */
    s_has(text, "# TYPE whistle_gateway_http_requests_total counter\n");
    s_has(text, "# TYPE whistle_gateway_http_request_duration_seconds histogram\n");
    s_has(text, "whistle_build_info{service=\"gateway\",version=");
    free(text);
    gateway_stats_destroy(&st);
    ck_assert_ptr_null(st);
    gateway_stats_destroy(&st);
}
END_TEST

START_TEST(many_statuses)
{
    /* every status of every route: one series per pair, none lost */
    gw_stats_t *st = gateway_stats_new(s_table, 3);
    for (unsigned status = 100; status < 600; status++)
        for (size_t k = 0; k < 3; k++)
            gateway_stats_answer(st, &s_table[k], status, 0.01);
    char *text = s_render(st);
    s_has(text, "route=\"/metrics\",method=\"GET\",status=\"599\"} 1\n");
    s_has(text, "route=\"/v1/cases/{}\",method=\"GET\",status=\"100\"} 1\n");
    s_has(text, "whistle_gateway_http_request_duration_seconds_count{service=\"gateway\","
                "route=\"/v1/cases/{}/{}\",method=\"POST\"} 500\n");
    free(text);
    gateway_stats_destroy(&st);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("series");
    tcase_add_test(tc, counts_by_route_and_status);
    tcase_add_test(tc, many_statuses);
    suite_add_tcase(s, tc);
    return wh_test_run(s);
}
