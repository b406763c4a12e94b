/* wlog.h: the service log (lines on stderr), not the event log (see eventlog.h).
 *
 * Each line: time, level, service, then the message; put the case or message id in the
 * message so one case can be followed across four logs. The level is checked before the
 * arguments are evaluated. */
#ifndef WHISTLE_WLOG_H
#define WHISTLE_WLOG_H

enum wh_level { WH_LOG_ERROR = 0, WH_LOG_WARN, WH_LOG_INFO, WH_LOG_DEBUG };

extern int wh_log_level;

/* Sets the service name printed on every line (static storage, not copied). */
void wh_log_init(const char *service, int level);
/* Parses "error|warn|info|debug"; returns the level or -1. */
int wh_log_parse_level(const char *name);
void wh_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define wh_log(level, ...)                                                 \
    do {                                                                   \
        if ((level) <= wh_log_level) wh_log_write((level), __VA_ARGS__);   \
    } while (0)
#define wh_log_error(...) wh_log(WH_LOG_ERROR, __VA_ARGS__)
#define wh_log_warn(...) wh_log(WH_LOG_WARN, __VA_ARGS__)
#define wh_log_info(...) wh_log(WH_LOG_INFO, __VA_ARGS__)
#define wh_log_debug(...) wh_log(WH_LOG_DEBUG, __VA_ARGS__)

#endif
