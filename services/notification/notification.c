/* notification.c: the notification service: appends each case.updated from tracking to every
 * topic it concerns, in the transaction that moves its cursor, then publishes them. The entry
 * keeps the origin event_id ("tracking/42") so a subscriber of several topics can tell one
 * event seen twice. */
#include "notification.h"
#include "whistle/error.h"
#include "whistle/wlog.h"
#include <stdlib.h>
#include <string.h>

struct notification {
    wh_service_t *svc;
    const struct wh_catalog *cat;
    notification_retention_t *retention; /* NULL: topics kept for ever */
};

static int s_apply_tracking(void *arg, wh_service_t *svc, MDB_txn *txn,
                            const Whistle__V1__Envelope *in)
{
    (void)arg;
    if (in->payload_case != WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_UPDATED || !in->case_updated->case_)
        return 0;
    char topics[NOTIFICATION_MAX_TOPICS][80];
    size_t n = notification_topics(in->case_updated, topics, NOTIFICATION_MAX_TOPICS);
    for (size_t i = 0; i < n; i++) {
        Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
        env.event_id = in->event_id;
        env.correlation_id = in->correlation_id;
        env.occurred_at_ms = in->occurred_at_ms;
        env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_UPDATED;
        env.case_updated = in->case_updated;
        /* all/ is the service's own log: pass NULL so it counts as the head */
        int rc = wh_service_append(svc, txn, i == 0 ? NULL : topics[i], &env, NULL);
        if (rc) return rc;
    }
    return 0;
}

notification_t *notification_new(const struct wh_options *o, const struct wh_catalog *cat)
{
    notification_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    struct wh_service_config cfg = {
        .name = "notification",
        .stream = "all/",
        .data_dir = o->data_dir,
        .api_endpoint = o->api,
        .events_endpoint = o->events,
        .heartbeat_ms = o->heartbeat_ms,
        .events_hwm = NOTIFICATION_EVENTS_HWM,
        .arg = self,
    };
    self->cat = cat;
    self->svc = wh_service_new(&cfg);
    if (!self->svc ||
        wh_service_follow(self->svc, "tracking", o->upstream_api[WH_UP_TRACKING],
                          o->upstream_events[WH_UP_TRACKING], s_apply_tracking, self)) {
        notification_destroy(&self);
        return NULL;
    }
    struct wh_retention keep = {o->retention_ms, (uint64_t)o->retention_entries};
    if (keep.max_age_ms || keep.max_entries) {
        self->retention = notification_retention_new(self->svc, &keep, 0);
        if (!self->retention) {
            notification_destroy(&self);
            return NULL;
        }
        wh_log_info("retention: topic entries kept %lld ms after they occurred%s, at most %lld "
                    "per topic%s", (long long)o->retention_ms,
                    o->retention_ms ? "" : " (0: for ever)", (long long)o->retention_entries,
                    o->retention_entries ? "" : " (0: no limit)");
    } else {
        wh_log_info("retention: none, topics are kept for ever");
    }
    return self;
}

void notification_destroy(notification_t **self_p)
{
    if (!self_p || !*self_p) return;
    notification_retention_destroy(&(*self_p)->retention); /* freed by the loop run below */
    wh_service_destroy(&(*self_p)->svc);
    free(*self_p);
    *self_p = NULL;
}

wh_service_t *notification_service(notification_t *self) { return self->svc; }
notification_retention_t *notification_retention(notification_t *self)
{
    return self->retention;
}
