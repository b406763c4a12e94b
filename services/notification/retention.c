/* retention.c: compaction of notification's topic logs. A libuv timer walks every topic
 * (wh_eventlog_next_stream, the "heads" table) a slice at a time and trims each to the
 * retention (wh_eventlog_trim) in the service's batch transaction, which the loop commits
 * like any other batch. A slice visits at most NOTIFICATION_TRIM_STREAMS topics and deletes at
 * most NOTIFICATION_TRIM_BATCH entries, so a long backlog never holds the loop from its
 * requests; the next slice follows soon when this one used its whole deletion budget (a
 * backlog), otherwise one period later, so a district with 100,000 case topics is walked
 * in a few minutes at a few hundred reads a second rather than in a busy loop. Trimming
 * moves a topic's oldest, never its head: a subscriber asking for what was trimmed is told
 * "gone, oldest is N" (service.c). */
#include "notification.h"
#include "whistle/clock.h"
#include "whistle/error.h"
#include "whistle/wlog.h"
#include <stdlib.h>
#include <string.h>

/* Delay before the next slice after one that used its whole deletion budget. */
#define S_SOON_MS 10

struct notification_retention {
    uv_timer_t timer;                /* first: the close callback frees through it */
    wh_service_t *svc;
    struct wh_retention keep;
    int period_ms;
    char next[WH_STREAM_MAX + 1];    /* the walk resumes after this topic ("": from the start) */
    uint64_t pass_deleted;           /* entries deleted in the walk in progress */
    uint64_t deleted;                /* entries deleted since start */
};

int notification_retention_step(notification_retention_t *self, int64_t now_ms)
{
    wh_store_t *st = wh_service_store(self->svc);
    MDB_txn *txn = wh_service_txn(self->svc);
    if (!txn) return WH_ESTORE;
    char name[WH_STREAM_MAX + 1];
    uint32_t budget = NOTIFICATION_TRIM_BATCH;
    int deleted = 0, wrapped = 0;
    for (int visited = 0; visited < NOTIFICATION_TRIM_STREAMS && budget > 0; visited++) {
        int rc = wh_eventlog_next_stream(st, txn, self->next, name, sizeof name);
        if (rc < 0) return rc;
        if (rc == 0) {
            self->next[0] = 0;
            wrapped = 1;
            break;
        }
        /* all/ is kept whole: it is the record of every tracking event that tracking's
         * --rebuild replays; the topics are its copies, trimmed to the retention */
        int n = strcmp(name, "all/") == 0 ? 0
                                           : wh_eventlog_trim(st, txn, name, &self->keep, now_ms,
                                                              budget);
        if (n < 0) return n;
        deleted += n;
        budget -= (uint32_t)n;
        if (budget == 0) break; /* this topic may have more: the next slice starts with it */
        memcpy(self->next, name, strlen(name) + 1);
    }
    self->deleted += (uint64_t)deleted;
    self->pass_deleted += (uint64_t)deleted;
    if (wrapped && self->pass_deleted) {
        wh_log_info("retention: %llu entries older than the retention trimmed from the topics",
                    (unsigned long long)self->pass_deleted);
        self->pass_deleted = 0;
    }
    return deleted;
}

static void s_on_timer(uv_timer_t *h)
{
    notification_retention_t *self = h->data;
    int n = notification_retention_step(self, wh_now_ms());
    if (n < 0) {
        wh_log_error("retention: trimming failed (%s); trying again in %d ms", wh_strerror(n),
                     self->period_ms);
        self->next[0] = 0;
        uv_timer_start(&self->timer, s_on_timer, (uint64_t)self->period_ms, 0);
        return;
    }
    int backlog = n == NOTIFICATION_TRIM_BATCH;
    uv_timer_start(&self->timer, s_on_timer, backlog ? S_SOON_MS : (uint64_t)self->period_ms, 0);
}

notification_retention_t *notification_retention_new(wh_service_t *svc,
                                                     const struct wh_retention *keep,
                                                     int period_ms)
{
    notification_retention_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->svc = svc;
    self->keep = *keep;
    self->period_ms = period_ms > 0 ? period_ms : NOTIFICATION_RETENTION_PERIOD_MS;
    uv_timer_init(wh_service_loop(svc), &self->timer);
    self->timer.data = self;
    uv_timer_start(&self->timer, s_on_timer, (uint64_t)self->period_ms, 0);
    return self;
}

static void s_on_close(uv_handle_t *h) { free(h->data); }

void notification_retention_destroy(notification_retention_t **self_p)
{
    if (!self_p || !*self_p) return;
    uv_close((uv_handle_t *)&(*self_p)->timer, s_on_close);
    *self_p = NULL;
}

uint64_t notification_retention_deleted(const notification_retention_t *self)
{
    return self->deleted;
}
