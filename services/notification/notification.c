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
};

static int s_apply_tracking(void *arg, wh_service_t *svc, MDB_txn *txn,
                            const Whistle__V1__Envelope *in)
{
    (void)arg;
    char topics[NOTIFICATION_MAX_TOPICS][80];
    size_t n;
    if (in->payload_case == WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_UPDATED && in->case_updated->case_)
        n = notification_topics(in->case_updated, topics, NOTIFICATION_MAX_TOPICS);
    else if (in->payload_case == WHISTLE__V1__ENVELOPE__PAYLOAD_VISIT_LOGGED && in->visit_logged->grid)
        n = notification_visit_topics(in->visit_logged, topics, NOTIFICATION_MAX_TOPICS);
    else
        return 0;
    for (size_t i = 0; i < n; i++) {
        Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
        env.event_id = in->event_id;
        env.correlation_id = in->correlation_id;
        env.occurred_at_ms = in->occurred_at_ms;
        env.payload_case = in->payload_case;
        if (in->payload_case == WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_UPDATED)
            env.case_updated = in->case_updated;
        else
            env.visit_logged = in->visit_logged;
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
    struct wh_service_config cfg;
    wh_service_config_init(&cfg, "notification", o);
    cfg.stream = "all/";
    cfg.arg = self;
    self->cat = cat;
    self->svc = wh_service_new(&cfg);
    if (!self->svc ||
        wh_service_follow(self->svc, "tracking", o->upstream_api[WH_UP_TRACKING],
                          o->upstream_events[WH_UP_TRACKING], s_apply_tracking, self)) {
        notification_destroy(&self);
        return NULL;
    }
    return self;
}

void notification_destroy(notification_t **self_p)
{
    if (!self_p || !*self_p) return;
    wh_service_destroy(&(*self_p)->svc);
    free(*self_p);
    *self_p = NULL;
}

wh_service_t *notification_service(notification_t *self) { return self->svc; }
