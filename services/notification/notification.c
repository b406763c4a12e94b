/* notification.c: the notification service: appends each case.updated from tracking to every
 * topic it concerns, in the transaction that moves its cursor, then publishes them. The entry
 * keeps the origin event_id ("tracking/42") so a subscriber of several topics can tell one
 * event seen twice. In that same transaction each entry is queued for the webhooks registered
 * on its topic, so an appended entry is never without its deliveries. */
#include "notification.h"
#include "whistle/error.h"
#include "whistle/wlog.h"
#include <stdlib.h>
#include <string.h>

struct notification {
    wh_service_t *svc;
    const struct wh_catalog *cat;
    notification_webhooks_t *hooks;
    notification_retention_t *retention; /* NULL: topics kept for ever */
};

static int s_apply_tracking(void *arg, wh_service_t *svc, MDB_txn *txn,
                            const Whistle__V1__Envelope *in)
{
    notification_t *self = arg;
    char topics[NOTIFICATION_MAX_TOPICS][80];
    size_t n;
    if (in->payload_case == WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_UPDATED && in->case_updated->case_)
        n = notification_topics(in->case_updated, topics, NOTIFICATION_MAX_TOPICS);
    else if (in->payload_case == WHISTLE__V1__ENVELOPE__PAYLOAD_VISIT_LOGGED && in->visit_logged->grid)
        n = notification_visit_topics(in->visit_logged, topics, NOTIFICATION_MAX_TOPICS);
    else
        return 0;
    Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
    env.event_id = in->event_id;
    env.correlation_id = in->correlation_id;
    env.occurred_at_ms = in->occurred_at_ms;
    env.payload_case = in->payload_case;
    if (in->payload_case == WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_UPDATED)
        env.case_updated = in->case_updated;
    else
        env.visit_logged = in->visit_logged;
    /* the entry is the same on every topic but for its stream and seq: checked and packed once */
    uint8_t *body = NULL;
    size_t blen = 0;
    int rc = wh_eventlog_body(&env, &body, &blen);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        /* all/ is the service's own log: pass NULL so it counts as the head */
        rc = wh_service_append_body(svc, txn, i == 0 ? NULL : topics[i], body, blen, &env.seq);
        env.stream = topics[i];
        if (rc == 0) rc = notification_webhooks_enqueue(self->hooks, txn, &env);
    }
    free(body);
    return rc;
}

/* Keys on: which topics a department, township or integrator may read. A department its own
 * dept/<code>/; a township, street or community its unit/<code>/, community/<code>/ and the
 * grid/<g>/ of its grids; a stationed unit its station/<code>/, a volunteer its
 * volunteer/<code>/. district/, all/ and case/ are for services and operators (checked before this). */
static int s_may_read(void *arg, const struct wh_identity *who, const char *topic)
{
    notification_t *self = arg;
    char want[80];
    switch (who->kind) {
    case WH_KIND_DEPARTMENT:
        snprintf(want, sizeof want, "dept/%s/", who->code);
        return strcmp(topic, want) == 0;
    case WH_KIND_STATION:
        snprintf(want, sizeof want, "station/%s/", who->code);
        return strcmp(topic, want) == 0;
    case WH_KIND_VOLUNTEER:
        snprintf(want, sizeof want, "volunteer/%s/", who->code);
        return strcmp(topic, want) == 0;
    case WH_KIND_TOWNSHIP: {
        snprintf(want, sizeof want, "unit/%s/", who->code);
        if (strcmp(topic, want) == 0) return 1;
        snprintf(want, sizeof want, "community/%s/", who->code);
        if (strcmp(topic, want) == 0) return 1;
        size_t tl = strlen(topic);
        if (strncmp(topic, "grid/", 5) != 0 || tl < 7 || tl > 70 || topic[tl - 1] != '/')
            return 0;
        char grid[72];
        memcpy(grid, topic + 5, tl - 6);
        grid[tl - 6] = 0;
        const struct wh_grid *g = wh_catalog_grid(self->cat, grid);
        return g && (strcmp(g->community->code, who->code) == 0 ||
                     strcmp(g->community->unit->code, who->code) == 0);
    }
    default:
        return 0;
    }
}

static int s_peer_may_read(void *arg, const struct wh_peer *peer, const char *topic)
{
    notification_t *self = arg;
    return wh_service_may_read(self->svc, &peer->who, topic);
}

static int s_on_request(void *arg, wh_service_t *svc, MDB_txn *txn, const struct wh_peer *peer,
                        const Whistle__V1__Request *req)
{
    notification_t *self = arg;
    switch (req->body_case) {
    case WHISTLE__V1__REQUEST__BODY_WEBHOOK_ADD:
    case WHISTLE__V1__REQUEST__BODY_WEBHOOK_REMOVE:
    case WHISTLE__V1__REQUEST__BODY_WEBHOOK_LIST:
        return notification_webhooks_request(self->hooks, txn, peer, req, s_peer_may_read, self);
    default:
        wh_service_error(svc, peer, WH_EUNSUPPORTED, "request.body",
                         "notification serves Replay, Ping and the webhook requests", 0);
        return 0;
    }
}

static void s_after_commit(void *arg, wh_service_t *svc)
{
    (void)svc;
    notification_t *self = arg;
    if (self->hooks) notification_webhooks_after_commit(self->hooks);
}

/* Stats beyond the runtime's: webhooks, retention (the topic count and the entries kept are
 * the runtime's whistle_log_streams and whistle_log_entries: no series per topic). */
static void s_stats(void *arg, wh_service_t *svc, MDB_txn *txn, wh_metrics_t *m)
{
    (void)svc;
    notification_t *self = arg;
    if (self->hooks) notification_webhooks_stats(self->hooks, txn, m);
    if (self->retention)
        wh_metrics_add(m, WH_METRIC_COUNTER, "whistle_retention_deleted_total",
                       "Topic entries deleted by retention since start.",
                       (double)notification_retention_deleted(self->retention), NULL);
}

notification_t *notification_new(const struct wh_options *o, const struct wh_catalog *cat)
{
    notification_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    static const char *const tables[] = {NOTIFICATION_WEBHOOK_TABLES, NULL};
    struct wh_service_config cfg;
    wh_service_config_init(&cfg, "notification", o);
    cfg.stream = "all/";
    cfg.tables = tables;
    cfg.on_request = s_on_request;
    cfg.after_commit = s_after_commit;
    cfg.may_read = s_may_read;
    cfg.stats = s_stats;
    cfg.events_hwm = NOTIFICATION_EVENTS_HWM;
    cfg.arg = self;
    struct notification_webhook_config hc = {o->webhook_attempts, o->webhook_timeout_ms,
                                             o->webhook_backoff_ms};
    self->cat = cat;
    self->svc = wh_service_new(&cfg);
    if (self->svc) self->hooks = notification_webhooks_new(self->svc, &hc);
    if (!self->svc || !self->hooks ||
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
    notification_webhooks_destroy(&(*self_p)->hooks);
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
