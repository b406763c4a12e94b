/* open311_time.c: Open311's datetimes, W3C-DTF (a profile of ISO 8601). Written in the
 * server's local zone with a numeric offset that has its colon ("+08:00": strftime's %z gives
 * "+0800", which W3C-DTF does not allow); read as a date alone (midnight, local zone) or a
 * date and time with a zone, "Z" or "+hh:mm". */
#include "open311.h"
#include "whistle/error.h"
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int open311_time_format(char *buf, size_t size, int64_t ms)
{
    if (size < 26) return WH_EFIELD;
    int64_t secs = ms / 1000 - (ms % 1000 < 0 ? 1 : 0);
    time_t t = (time_t)secs;
    struct tm tm;
    if (!localtime_r(&t, &tm)) return WH_EFIELD;
    char tmp[64];
    size_t n = strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S%z", &tm);
    /* %z is [+-]hhmm: W3C-DTF wants [+-]hh:mm */
    if (n < 5 || n + 2 > size || (tmp[n - 5] != '+' && tmp[n - 5] != '-')) return WH_EFIELD;
    memcpy(buf, tmp, n - 2);
    buf[n - 2] = ':';
    memcpy(buf + n - 1, tmp + n - 2, 2);
    buf[n + 1] = '\0';
    return 0;
}

/* Reads exactly `n` digits at *p into *out and moves *p past them; 0 or -1. */
static int s_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int s_days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

int open311_time_parse(const char *s, int64_t *ms)
{
    if (!s) return WH_EFIELD;
    const char *p = s;
    int y, mo, d;
    if (s_digits(&p, 4, &y) || *p++ != '-' || s_digits(&p, 2, &mo) || *p++ != '-' ||
        s_digits(&p, 2, &d))
        return WH_EFIELD;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > s_days_in_month(y, mo)) return WH_EFIELD;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_isdst = -1};
    if (*p == '\0') {
        time_t t = mktime(&tm); /* a date alone: midnight where the server is */
        if (t == (time_t)-1) return WH_EFIELD;
        *ms = (int64_t)t * 1000;
        return 0;
    }
    int h, mi, sec = 0, frac_ms = 0;
    if (*p++ != 'T' || s_digits(&p, 2, &h) || *p++ != ':' || s_digits(&p, 2, &mi)) return WH_EFIELD;
    if (*p == ':') {
        p++;
        if (s_digits(&p, 2, &sec)) return WH_EFIELD;
        if (*p == '.') {
            p++;
            if (!isdigit((unsigned char)*p)) return WH_EFIELD;
            for (int i = 0; isdigit((unsigned char)*p); i++, p++)
                if (i < 3) frac_ms += (*p - '0') * (i == 0 ? 100 : i == 1 ? 10 : 1);
        }
    }
    if (h > 23 || mi > 59 || sec > 59) return WH_EFIELD;
    int offset_min = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (s_digits(&p, 2, &oh) || *p++ != ':' || s_digits(&p, 2, &om) || oh > 14 || om > 59)
            return WH_EFIELD;
        offset_min = sign * (oh * 60 + om);
    } else {
        return WH_EFIELD; /* a time needs its zone */
    }
    if (*p != '\0') return WH_EFIELD;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    tm.tm_isdst = 0;
    time_t t = timegm(&tm);
    if (t == (time_t)-1) return WH_EFIELD;
    *ms = ((int64_t)t - (int64_t)offset_min * 60) * 1000 + frac_ms;
    return 0;
}
