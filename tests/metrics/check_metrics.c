/* check_metrics.c: the Prometheus text format 0.0.4 of StatsReply: escaping of help and label
 * values (and invalid UTF-8), the shape of a histogram (cumulative buckets, +Inf = count, _sum,
 * _count), one HELP and TYPE per family across services with its series together, names made
 * valid, the renderer's own labels, and series built locally rendered beside decoded ones. */
#include "wh_test.h"
#include "whistle/codec.h"
#include "whistle/metrics.h"
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Renders `n` sets and returns the text (caller frees). */
static char *s_render(wh_metrics_t **sets, size_t n)
{
    const Whistle__V1__StatsReply *r[4];
    for (size_t i = 0; i < n; i++)
        r[i] = wh_metrics_reply(sets[i]);
    size_t len = 0;
    char *text = wh_metrics_render(r, n, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(len, strlen(text));
    return text;
}

START_TEST(test_escaping)
{
    wh_metrics_t *m = wh_metrics_new("in\"ta\\ke");
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(wh_metrics_add(m, WH_METRIC_COUNTER, "x_total", "a \\ back\nslash \"q\"", 3,
                                    "path", "C:\\dir\n\"x\"", NULL),
                     0);
    ck_assert_int_eq(wh_metrics_add(m, WH_METRIC_GAUGE, "y", "bad \xff byte", 1.5, "v",
                                    "\xe4\xb8\xad\xff", NULL),
                     0);
    char *text = s_render(&m, 1);
    ck_assert_str_eq(text, "# HELP x_total a \\\\ back\\nslash \"q\"\n"
                           "# TYPE x_total counter\n"
                           "x_total{service=\"in\\\"ta\\\\ke\",path=\"C:\\\\dir\\n\\\"x\\\"\"} 3\n"
                           "# HELP y bad \xef\xbf\xbd byte\n"
                           "# TYPE y gauge\n"
                           "y{service=\"in\\\"ta\\\\ke\",v=\"\xe4\xb8\xad\xef\xbf\xbd\"} 1.5\n");
    ck_assert(wh_utf8_valid(text, strlen(text)));
    free(text);
    wh_metrics_destroy(&m);
    ck_assert_ptr_null(m);
}
END_TEST

START_TEST(test_histogram)
{
    struct wh_histogram h;
    static const double le[] = {0.25, 0.5, 1};
    wh_histogram_init(&h, le, 3);
    wh_histogram_observe(&h, 0.25); /* a bound is inclusive */
    wh_histogram_observe(&h, 0.25);
    wh_histogram_observe(&h, 0.5);
    wh_histogram_observe(&h, 4); /* above every bound: +Inf only */
    wh_metrics_t *m = wh_metrics_new("routing");
    ck_assert_int_eq(wh_metrics_histogram(m, "commit_seconds", "Commits.", &h, "db", "main", NULL),
                     0);
    char *text = s_render(&m, 1);
    ck_assert_str_eq(text, "# HELP commit_seconds Commits.\n"
                           "# TYPE commit_seconds histogram\n"
                           "commit_seconds_bucket{service=\"routing\",db=\"main\",le=\"0.25\"} 2\n"
                           "commit_seconds_bucket{service=\"routing\",db=\"main\",le=\"0.5\"} 3\n"
                           "commit_seconds_bucket{service=\"routing\",db=\"main\",le=\"1\"} 3\n"
                           "commit_seconds_bucket{service=\"routing\",db=\"main\",le=\"+Inf\"} 4\n"
                           "commit_seconds_sum{service=\"routing\",db=\"main\"} 5\n"
                           "commit_seconds_count{service=\"routing\",db=\"main\"} 4\n");
    free(text);
    wh_metrics_destroy(&m);
}
END_TEST

/* A reply as it comes over the wire: packed by one side, unpacked by the other. */
static Whistle__V1__StatsReply *s_wire(wh_metrics_t *m)
{
    const Whistle__V1__StatsReply *r = wh_metrics_reply(m);
    size_t len = whistle__v1__stats_reply__get_packed_size(r);
    uint8_t *buf = malloc(len ? len : 1);
    whistle__v1__stats_reply__pack(r, buf);
    Whistle__V1__StatsReply *out = whistle__v1__stats_reply__unpack(NULL, len, buf);
    free(buf);
    ck_assert_ptr_nonnull(out);
    return out;
}

START_TEST(test_families_merged)
{
    wh_metrics_t *a = wh_metrics_new("intake"), *b = wh_metrics_new("routing");
    wh_metrics_t *local = wh_metrics_new("gateway");
    wh_metrics_add(a, WH_METRIC_COUNTER, "req_total", "Requests.", 2, "type", "ping", NULL);
    wh_metrics_add(a, WH_METRIC_GAUGE, "head", "Head.", 7, NULL);
    wh_metrics_add(a, WH_METRIC_COUNTER, "req_total", "Requests.", 1, "type", "stats", NULL);
    wh_metrics_add(b, WH_METRIC_GAUGE, "lag", "Lag.", 0, "upstream", "intake", NULL);
    wh_metrics_add(b, WH_METRIC_COUNTER, "req_total", "Other help, ignored.", 5, "type", "ping",
                   NULL);
    wh_metrics_add(b, WH_METRIC_GAUGE, "head", "Head.", 9, NULL);
    /* the gateway's own, built locally, rendered with the services' decoded replies */
    wh_metrics_add(local, WH_METRIC_COUNTER, "http_total", "HTTP.", 4, "route", "/metrics",
                   "status", "200", NULL);
    Whistle__V1__StatsReply *wa = s_wire(a), *wb = s_wire(b);
    const Whistle__V1__StatsReply *r[4] = {wa, NULL, wb, wh_metrics_reply(local)};
    char *text = wh_metrics_render(r, 4, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, "# HELP req_total Requests.\n"
                           "# TYPE req_total counter\n"
                           "req_total{service=\"intake\",type=\"ping\"} 2\n"
                           "req_total{service=\"intake\",type=\"stats\"} 1\n"
                           "req_total{service=\"routing\",type=\"ping\"} 5\n"
                           "# HELP head Head.\n"
                           "# TYPE head gauge\n"
                           "head{service=\"intake\"} 7\n"
                           "head{service=\"routing\"} 9\n"
                           "# HELP lag Lag.\n"
                           "# TYPE lag gauge\n"
                           "lag{service=\"routing\",upstream=\"intake\"} 0\n"
                           "# HELP http_total HTTP.\n"
                           "# TYPE http_total counter\n"
                           "http_total{service=\"gateway\",route=\"/metrics\",status=\"200\"} 4\n");
    free(text);
    whistle__v1__stats_reply__free_unpacked(wa, NULL);
    whistle__v1__stats_reply__free_unpacked(wb, NULL);
    wh_metrics_destroy(&a);
    wh_metrics_destroy(&b);
    wh_metrics_destroy(&local);
}
END_TEST

START_TEST(test_names_labels_values)
{
    wh_metrics_t *m = wh_metrics_new("tracking");
    /* an invalid name is made valid; a leading digit gets a '_' */
    wh_metrics_add(m, WH_METRIC_GAUGE, "bad-name.x", "", 1, NULL);
    wh_metrics_add(m, WH_METRIC_GAUGE, "9lives", "", 1, NULL);
    /* the renderer's labels and reserved ones are dropped, as is a repeated name; a bad label
     * name is made valid */
    wh_metrics_add(m, WH_METRIC_GAUGE, "v", "", 0.1, "service", "spoof", "le", "1", "__x", "y", "a",
                   "1", "a", "2", "b-c", "3", NULL);
    wh_metrics_add(m, WH_METRIC_GAUGE, "v", "", NAN, NULL);
    wh_metrics_add(m, WH_METRIC_GAUGE, "v", "", INFINITY, NULL);
    wh_metrics_add(m, WH_METRIC_GAUGE, "v", "", -INFINITY, NULL);
    wh_metrics_add(m, WH_METRIC_GAUGE, "v", "", 1e20, NULL);
    wh_metrics_add(m, WH_METRIC_GAUGE, "v", "", 18446744073709551615.0, NULL);
    wh_metrics_add(m, WH_METRIC_GAUGE, "v", "", -2.5e-7, NULL);
    /* a series whose type differs from its family's is dropped, not rendered invalid */
    wh_metrics_add(m, WH_METRIC_COUNTER, "v", "", 5, NULL);
    wh_metrics_add(m, WH_METRIC_UNTYPED, "u", "", 2, NULL);
    char *text = s_render(&m, 1);
    ck_assert_str_eq(text, "# HELP bad_name_x \n"
                           "# TYPE bad_name_x gauge\n"
                           "bad_name_x{service=\"tracking\"} 1\n"
                           "# HELP _9lives \n"
                           "# TYPE _9lives gauge\n"
                           "_9lives{service=\"tracking\"} 1\n"
                           "# HELP v \n"
                           "# TYPE v gauge\n"
                           "v{service=\"tracking\",a=\"1\",b_c=\"3\"} 0.1\n"
                           "v{service=\"tracking\"} NaN\n"
                           "v{service=\"tracking\"} +Inf\n"
                           "v{service=\"tracking\"} -Inf\n"
                           "v{service=\"tracking\"} 1e+20\n"
                           "v{service=\"tracking\"} 1.8446744073709552e+19\n"
                           "v{service=\"tracking\"} -2.5e-07\n"
                           "# HELP u \n"
                           "# TYPE u untyped\n"
                           "u{service=\"tracking\"} 2\n");
    free(text);
    wh_metrics_destroy(&m);
}
END_TEST

START_TEST(test_empty)
{
    size_t len = 99;
    char *text = wh_metrics_render(NULL, 0, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(len, 0);
    ck_assert_str_eq(text, "");
    free(text);
    wh_metrics_destroy(NULL);
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("render");
    tcase_add_test(tc, test_escaping);
    tcase_add_test(tc, test_histogram);
    tcase_add_test(tc, test_families_merged);
    tcase_add_test(tc, test_names_labels_values);
    tcase_add_test(tc, test_empty);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return wh_test_run(s_suite());
}
