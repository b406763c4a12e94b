/* period.c: the assessment periods (周调度/月通报/季点评/年考核) as half-open time ranges.
 *
 * "2026-W48" is ISO 8601 week 48 (Monday 00:00 to the next Monday; week 1 is the week that
 * holds January 4, so 2026-W01 starts on 2025-12-29 and a year has 53 weeks when it starts on
 * a Thursday, or on a Wednesday in a leap year), "2026-11" a month, "2026-Q4" a quarter and
 * "2026" a year. Boundaries are local midnights, through mktime, so the district's TZ decides
 * them and a DST change inside the period makes it an hour shorter or longer, as it should.
 * The calendar arithmetic (weekdays, week counts) is done on civil dates, independent of TZ.
 * Also for the bulletins: a period's kind, the period before it, and the ISO weeks it holds. */
#include "tracking.h"
#include "whistle/error.h"
#include <stdio.h>
#include <string.h>
#include <time.h>

#define S_YEAR_MIN 1970
#define S_YEAR_MAX 9999

static int s_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar (Howard Hinnant's
 * days_from_civil), m 1..12. */
static long s_days(int y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* 0 = Monday .. 6 = Sunday (1970-01-01 was a Thursday). */
static int s_iso_weekday(int y, int m, int d)
{
    long w = (s_days(y, m, d) + 3) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

static int s_weeks_in_year(int y)
{
    int jan1 = s_iso_weekday(y, 1, 1);
    return jan1 == 3 || (jan1 == 2 && s_leap(y)) ? 53 : 52;
}

/* Local midnight starting day `mday` of month `mon0` (0-based) of year `y`, in ms. Either may be
 * out of range: mktime normalises (day 0 of January is December 31 of the year before). */
static int s_local_midnight(int y, int mon0, int mday, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mon0;
    tm.tm_mday = mday;
    tm.tm_isdst = -1; /* let the zone say whether that midnight is in summer time */
    time_t t = mktime(&tm);
    if (t == (time_t)-1) return WH_EFIELD;
    *out = (int64_t)t * 1000;
    return 0;
}

/* The value of `n` decimal digits at `s`, or -1 if any is not a digit. */
static int s_digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int tracking_period_parse(const char *spec, int64_t *from_ms, int64_t *to_ms)
{
    if (!spec) return WH_EFIELD;
    size_t len = strlen(spec);
    if (len < 4 || len > 8) return WH_EFIELD;
    int y = s_digits(spec, 4);
    if (y < S_YEAR_MIN || y > S_YEAR_MAX) return WH_EFIELD;
    int y1 = y, m1, d1, y2 = y, m2, d2; /* [y1-m1-d1, y2-m2-d2), m 0-based, d may overflow */
    if (len == 4) {
        m1 = 0, d1 = 1, y2 = y + 1, m2 = 0, d2 = 1;
    } else if (spec[4] != '-') {
        return WH_EFIELD;
    } else if (len == 7 && spec[5] == 'Q') {
        int q = s_digits(spec + 6, 1);
        if (q < 1 || q > 4) return WH_EFIELD;
        m1 = 3 * (q - 1), d1 = 1, m2 = 3 * q, d2 = 1;
    } else if (len == 7) {
        int m = s_digits(spec + 5, 2);
        if (m < 1 || m > 12) return WH_EFIELD;
        m1 = m - 1, d1 = 1, m2 = m, d2 = 1;
    } else if (len == 8 && spec[5] == 'W') {
        int w = s_digits(spec + 6, 2);
        if (w < 1 || w > s_weeks_in_year(y)) return WH_EFIELD;
        /* the Monday of week 1 is the Monday on or before January 4 */
        int monday1 = 4 - s_iso_weekday(y, 1, 4);
        m1 = m2 = 0;
        d1 = monday1 + 7 * (w - 1);
        d2 = d1 + 7;
    } else {
        return WH_EFIELD;
    }
    int64_t from, to;
    if (s_local_midnight(y1, m1, d1, &from) || s_local_midnight(y2, m2, d2, &to) || to <= from)
        return WH_EFIELD;
    *from_ms = from;
    *to_ms = to;
    return 0;
}

const char *tracking_period_kind(const char *spec)
{
    int64_t from, to;
    if (tracking_period_parse(spec, &from, &to)) return NULL;
    size_t len = strlen(spec);
    if (len == 4) return "year";
    if (spec[5] == 'Q') return "quarter";
    if (spec[5] == 'W') return "week";
    return "month";
}

int tracking_period_previous(const char *spec, char *out, size_t len)
{
    const char *kind = tracking_period_kind(spec);
    if (!kind) return WH_EFIELD;
    int y = s_digits(spec, 4), n = 0;
    char buf[32];
    if (strcmp(kind, "year") == 0) {
        snprintf(buf, sizeof buf, "%04d", y - 1);
    } else if (strcmp(kind, "quarter") == 0) {
        n = s_digits(spec + 6, 1);
        snprintf(buf, sizeof buf, "%04d-Q%d", n > 1 ? y : y - 1, n > 1 ? n - 1 : 4);
    } else if (strcmp(kind, "week") == 0) {
        n = s_digits(spec + 6, 2);
        snprintf(buf, sizeof buf, "%04d-W%02d", n > 1 ? y : y - 1,
                 n > 1 ? n - 1 : s_weeks_in_year(y - 1));
    } else {
        n = s_digits(spec + 5, 2);
        snprintf(buf, sizeof buf, "%04d-%02d", n > 1 ? y : y - 1, n > 1 ? n - 1 : 12);
    }
    int64_t from, to;
    if (tracking_period_parse(buf, &from, &to) || strlen(buf) >= len) return WH_EFIELD;
    memcpy(out, buf, strlen(buf) + 1);
    return 0;
}

size_t tracking_period_weeks(const char *spec, int64_t until_ms, char (*weeks)[9], size_t max)
{
    int64_t from, to;
    const char *kind = tracking_period_kind(spec);
    if (!kind || tracking_period_parse(spec, &from, &to)) return 0;
    if (strcmp(kind, "week") == 0) {
        if (from > until_ms || max == 0) return 0;
        snprintf(weeks[0], 9, "%s", spec);
        return 1;
    }
    size_t n = 0;
    int y = s_digits(spec, 4);
    for (int wy = y - 1; wy <= y + 1 && n < max; wy++) {
        if (wy < S_YEAR_MIN || wy > S_YEAR_MAX) continue;
        for (int w = 1; w <= s_weeks_in_year(wy) && n < max; w++) {
            char ws[32];
            int64_t wf, wt;
            snprintf(ws, sizeof ws, "%04d-W%02d", wy, w);
            if (tracking_period_parse(ws, &wf, &wt)) continue;
            /* a week belongs to the period holding its Thursday (noon: clear of DST shifts) */
            int64_t thursday = wf + INT64_C(3) * 86400000 + 43200000;
            if (thursday < from || thursday >= to || wf > until_ms) continue;
            memcpy(weeks[n++], ws, 9);
        }
    }
    return n;
}
