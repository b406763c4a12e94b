/* wlog.c: one line per event on stderr, with time, level and service, always valid UTF-8. */
#include "whistle/wlog.h"
#include "whistle/codec.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

int wh_log_level = WH_LOG_INFO;
static const char *s_service = "whistle";
static const char *const s_names[] = {"error", "warn", "info", "debug"};

void wh_log_init(const char *service, int level)
{
    s_service = service;
    if (level >= 0) wh_log_level = level;
}

int wh_log_parse_level(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, s_names[i]) == 0) return i;
    return -1;
}

void wh_log_write(int level, const char *fmt, ...)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %-5s %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(tv.tv_usec / 1000), s_names[level & 3], s_service);
    va_list ap;
    va_start(ap, fmt);
    /* valid UTF-8 whatever the arguments: a long line loses whole characters, a peer's
     * invalid bytes show as '?' */
    if (n > 0 && (size_t)n < sizeof line)
        wh_vsnprintf_utf8(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    /* one write per line so the lines of concurrent processes do not interleave */
    fprintf(stderr, "%s\n", line);
}
