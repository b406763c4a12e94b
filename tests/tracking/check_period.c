/* check_period.c: assessment periods, table-driven: ISO weeks across year boundaries (2026-W01
 * starts in 2025, 2020 has a week 53 and 2021 has none), months, quarters, years, the local time
 * zone deciding the midnights (Asia/Shanghai, and Europe/Berlin for a DST change inside the
 * period), and everything that is not a period. Expected instants were computed independently
 * (Python's zoneinfo), not with the code under test. */
#include "tracking.h"
#include "wh_test.h"
#include "whistle/error.h"
#include <check.h>
#include <time.h>

static const struct {
    const char *tz;    /* TZ for this row; skipped when its tzdata file is missing */
    const char *spec;
    int rc;
    int64_t from, to;  /* [from, to) in ms since the epoch */
} s_rows[] = {
    /* ISO weeks, UTC */
    {"UTC", "2026-W48", 0, 1795392000000, 1795996800000},  /* 2026-11-23 .. 2026-11-30 */
    {"UTC", "2026-W01", 0, 1766966400000, 1767571200000},  /* 2025-12-29 .. 2026-01-05 */
    {"UTC", "2026-W53", 0, 1798416000000, 1799020800000},  /* 2026 starts on a Thursday */
    {"UTC", "2020-W53", 0, 1609113600000, 1609718400000},  /* leap year starting Wednesday */
    {"UTC", "2021-W01", 0, 1609718400000, 1610323200000},  /* 2021-01-04, right after W53 */
    {"UTC", "2021-W52", 0, 1640563200000, 1641168000000},  /* 2021-12-27 .. 2022-01-03 */
    {"UTC", "2021-W53", WH_EFIELD, 0, 0},                  /* 2021 has 52 weeks */
    {"UTC", "2026-W54", WH_EFIELD, 0, 0},
    {"UTC", "2026-W00", WH_EFIELD, 0, 0},
    {"UTC", "2026-W4", WH_EFIELD, 0, 0},
    {"UTC", "2026-w48", WH_EFIELD, 0, 0},
    /* months, quarters, years */
    {"UTC", "2026-11", 0, 1793491200000, 1796083200000},
    {"UTC", "2026-12", 0, 1796083200000, 1798761600000},   /* into the next year */
    {"UTC", "2024-02", 0, 1706745600000, 1709251200000},   /* 29 days */
    {"UTC", "2026-13", WH_EFIELD, 0, 0},
    {"UTC", "2026-00", WH_EFIELD, 0, 0},
    {"UTC", "2026-1", WH_EFIELD, 0, 0},
    {"UTC", "2026-Q1", 0, 1767225600000, 1775001600000},
    {"UTC", "2026-Q4", 0, 1790812800000, 1798761600000},
    {"UTC", "2026-Q5", WH_EFIELD, 0, 0},
    {"UTC", "2026-Q0", WH_EFIELD, 0, 0},
    {"UTC", "2026", 0, 1767225600000, 1798761600000},
    /* not periods */
    {"UTC", "", WH_EFIELD, 0, 0},
    {"UTC", "26", WH_EFIELD, 0, 0},
    {"UTC", "1969", WH_EFIELD, 0, 0},
    {"UTC", "abcd", WH_EFIELD, 0, 0},
    {"UTC", "2026-", WH_EFIELD, 0, 0},
    {"UTC", "2026/11", WH_EFIELD, 0, 0},
    {"UTC", " 2026", WH_EFIELD, 0, 0},
    {"UTC", "2026-W48x", WH_EFIELD, 0, 0},
    {"UTC", "2026-11-01", WH_EFIELD, 0, 0},
    /* the district's zone decides the midnights */
    {"Asia/Shanghai", "2026-W01", 0, 1766937600000, 1767542400000}, /* 2025-12-29 00:00+08 */
    {"Asia/Shanghai", "2026-11", 0, 1793462400000, 1796054400000},
    {"Europe/Berlin", "2026-03", 0, 1772319600000, 1774994400000},  /* +01 .. +02: 1 h short */
    {"Europe/Berlin", "2026-W13", 0, 1774220400000, 1774821600000}, /* DST starts 03-29 */
};

START_TEST(periods)
{
    char zonefile[128];
    snprintf(zonefile, sizeof zonefile, "/usr/share/zoneinfo/%s", s_rows[_i].tz);
    if (strcmp(s_rows[_i].tz, "UTC") != 0 && access(zonefile, R_OK) != 0) {
        fprintf(stderr, "check_period: %s not installed; row '%s' skipped\n", s_rows[_i].tz,
                s_rows[_i].spec);
        return;
    }
    ck_assert_int_eq(setenv("TZ", s_rows[_i].tz, 1), 0);
    tzset();
    int64_t from = -1, to = -1;
    int rc = tracking_period_parse(s_rows[_i].spec, &from, &to);
    ck_assert_msg(rc == s_rows[_i].rc, "%s '%s': rc %d, want %d", s_rows[_i].tz,
                  s_rows[_i].spec, rc, s_rows[_i].rc);
    if (rc == 0) {
        ck_assert_msg(from == s_rows[_i].from && to == s_rows[_i].to,
                      "%s '%s': [%lld, %lld), want [%lld, %lld)", s_rows[_i].tz, s_rows[_i].spec,
                      (long long)from, (long long)to, (long long)s_rows[_i].from,
                      (long long)s_rows[_i].to);
    } else {
        ck_assert_msg(from == -1 && to == -1, "a refused period leaves the outputs alone");
    }
}
END_TEST

/* Every ISO week of 2015..2035 follows the one before it without a gap, each year's last week
 * ends where the next year's week 1 begins, and exactly 2015, 2020, 2026 and 2032 have 53. */
START_TEST(weeks_tile_the_years)
{
    ck_assert_int_eq(setenv("TZ", "UTC", 1), 0);
    tzset();
    int64_t prev_to = 0, from, to;
    char spec[16];
    for (int y = 2015; y <= 2035; y++) {
        int w;
        for (w = 1; w <= 53; w++) {
            snprintf(spec, sizeof spec, "%04d-W%02d", y, w);
            if (tracking_period_parse(spec, &from, &to)) break;
            ck_assert_int_eq(to - from, 7 * 86400000LL);
            if (prev_to) ck_assert_msg(from == prev_to, "%s does not follow the week before", spec);
            prev_to = to;
        }
        int want = y == 2015 || y == 2020 || y == 2026 || y == 2032 ? 53 : 52;
        ck_assert_msg(w - 1 == want, "%d: %d weeks, want %d", y, w - 1, want);
    }
    ck_assert_int_eq(tracking_period_parse(NULL, &from, &to), WH_EFIELD);
}
END_TEST

/* The bulletins: a period's kind, the one before it, and the ISO weeks it holds (a week belongs
 * to the period holding its Thursday; weeks not begun by `until` are left out). */
START_TEST(previous_and_weeks)
{
    ck_assert_int_eq(setenv("TZ", "UTC", 1), 0);
    tzset();
    static const struct {
        const char *spec, *kind, *prev;
    } rows[] = {
        {"2026-W48", "week", "2026-W47"}, {"2026-W01", "week", "2025-W52"},
        {"2021-W01", "week", "2020-W53"}, {"2026-11", "month", "2026-10"},
        {"2026-01", "month", "2025-12"},  {"2026-Q1", "quarter", "2025-Q4"},
        {"2026-Q4", "quarter", "2026-Q3"}, {"2026", "year", "2025"},
        {"1970", "year", NULL},           {"1970-01", "month", NULL},
        {"2026-13", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char prev[16];
        const char *kind = tracking_period_kind(rows[i].spec);
        ck_assert_msg(rows[i].kind ? kind && strcmp(kind, rows[i].kind) == 0 : !kind, "%s",
                      rows[i].spec);
        int rc = tracking_period_previous(rows[i].spec, prev, sizeof prev);
        if (rows[i].prev) {
            ck_assert_msg(rc == 0, "%s", rows[i].spec);
            ck_assert_str_eq(prev, rows[i].prev);
        } else {
            ck_assert_int_eq(rc, WH_EFIELD);
        }
    }
    char w[60][9];
    int64_t far = INT64_C(4102444800000); /* 2100 */
    /* November 2026: Thursdays 5, 12, 19, 26 -> W45..W48 (W49 starts Nov 30, Thursday Dec 3) */
    ck_assert_uint_eq(tracking_period_weeks("2026-11", far, w, 60), 4);
    ck_assert_str_eq(w[0], "2026-W45");
    ck_assert_str_eq(w[3], "2026-W48");
    /* 2026 has 53 ISO weeks, W53's Thursday being 2026-12-31 */
    ck_assert_uint_eq(tracking_period_weeks("2026", far, w, 60), 53);
    ck_assert_str_eq(w[0], "2026-W01");
    ck_assert_str_eq(w[52], "2026-W53");
    ck_assert_uint_eq(tracking_period_weeks("2026-W48", far, w, 60), 1);
    /* only weeks begun by then: at Sunday 2026-11-22 00:00Z, W45..W47 have, W48 has not */
    ck_assert_uint_eq(tracking_period_weeks("2026-11", INT64_C(1795305600000), w, 60), 3);
    ck_assert_uint_eq(tracking_period_weeks("2026-11", 0, w, 60), 0);
    ck_assert_uint_eq(tracking_period_weeks("2026-11", far, w, 2), 2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tracking period");
    TCase *tc = tcase_create("period");
    tcase_add_loop_test(tc, periods, 0, (int)(sizeof s_rows / sizeof s_rows[0]));
    tcase_add_test(tc, weeks_tile_the_years);
    tcase_add_test(tc, previous_and_weeks);
    suite_add_tcase(s, tc);
    return wh_test_run(s);
}
