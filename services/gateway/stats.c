/* stats.c: the gateway's own series (answers by route and status, their durations) and
 * GET /metrics: the four services' Stats gathered in parallel and rendered with the gateway's
 * own as one Prometheus exposition. */
#include "stats.h"
#include "backend.h"
#include "http.h"
#include "params.h"
#include "stream.h"
#include "whistle/clock.h"
#include "whistle/error.h"
#include "whistle/wlog.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Seconds from a request's headers to its answer: 1 ms to 10 s. */
static const double s_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                  0.25,  0.5,    1,     2.5,  5,     10};

/* Answers of one route (or none) with one status. */
struct s_count {
    size_t route; /* index in the table; n_routes: none */
    unsigned status;
    uint64_t n;
};

struct gw_stats {
    const struct gw_route *routes;
    size_t n_routes;
    struct wh_histogram *took; /* n_routes + 1: per route, then none */
    struct s_count *counts;    /* by (route, status), in the order first seen */
    size_t n_counts, cap;
    int64_t started_ms; /* wh_mono_ms at start */
};

gw_stats_t *gateway_stats_new(const struct gw_route *routes, size_t n_routes)
{
    gw_stats_t *self = calloc(1, sizeof *self);
    if (!self || !(self->took = calloc(n_routes + 1, sizeof *self->took))) {
        free(self);
        return NULL;
    }
    self->routes = routes;
    self->n_routes = n_routes;
    for (size_t i = 0; i <= n_routes; i++)
        wh_histogram_init(&self->took[i], s_bounds, sizeof s_bounds / sizeof s_bounds[0]);
    self->started_ms = wh_mono_ms();
    return self;
}

void gateway_stats_destroy(gw_stats_t **self_p)
{
    if (!self_p || !*self_p) return;
    gw_stats_t *self = *self_p;
    *self_p = NULL;
    free(self->took);
    free(self->counts);
    free(self);
}

void gateway_stats_answer(gw_stats_t *self, const struct gw_route *route, unsigned status,
                          double seconds)
{
    if (!self) return;
    size_t k = self->n_routes;
    if (route && route >= self->routes && route < self->routes + self->n_routes)
        k = (size_t)(route - self->routes);
    wh_histogram_observe(&self->took[k], seconds);
    for (size_t i = 0; i < self->n_counts; i++)
        if (self->counts[i].route == k && self->counts[i].status == status) {
            self->counts[i].n++;
            return;
        }
    if (self->n_counts == self->cap) {
        size_t cap = self->cap ? 2 * self->cap : 32;
        struct s_count *c = realloc(self->counts, cap * sizeof *c);
        if (!c) return; /* not counted: out of memory */
        self->counts = c;
        self->cap = cap;
    }
    self->counts[self->n_counts++] = (struct s_count){k, status, 1};
}

/* The labels of route index `k`: its pattern and method, or "none" and "any". */
static void s_route_labels(const gw_stats_t *self, size_t k, const char **route,
                           const char **method)
{
    *route = k < self->n_routes ? self->routes[k].pattern : "none";
    *method = k < self->n_routes ? self->routes[k].method : "any";
}

void gateway_stats_add(const gw_stats_t *self, wh_metrics_t *m)
{
    const char *route, *method;
    for (size_t i = 0; i < self->n_counts; i++) {
        char status[16];
        snprintf(status, sizeof status, "%u", self->counts[i].status);
        s_route_labels(self, self->counts[i].route, &route, &method);
        wh_metrics_add(m, WH_METRIC_COUNTER, "whistle_gateway_http_requests_total",
                       "HTTP answers the gateway queued, by route (its pattern; none: no route "
                       "or refused before routing), the route's method, and status.",
                       (double)self->counts[i].n, "route", route, "method", method, "status",
                       status, NULL);
    }
    for (size_t k = 0; k <= self->n_routes; k++) {
        if (!self->took[k].count) continue;
        s_route_labels(self, k, &route, &method);
        wh_metrics_histogram(m, "whistle_gateway_http_request_duration_seconds",
                             "Time from a request's headers to its answer being queued (for an "
                             "event stream: to its first page), by route.",
                             &self->took[k], "route", route, "method", method, NULL);
    }
    wh_metrics_add(m, WH_METRIC_GAUGE, "whistle_uptime_seconds",
                   "Seconds since the service started.",
                   (double)(wh_mono_ms() - self->started_ms) / 1000.0, NULL);
    wh_metrics_add(m, WH_METRIC_GAUGE, "whistle_build_info", "Always 1; the version as a label.", 1,
                   "version", WHISTLE_VERSION, NULL);
}

/* ---- GET /metrics ------------------------------------------------------------------------ */

/* One scrape: the services' Stats as they come (copies: a reply is only borrowed). */
struct s_scrape {
    Whistle__V1__StatsReply *got[GW_N_BACKENDS];
    char why[GW_N_BACKENDS][96]; /* why a service is left out, for the log */
};

static void s_scrape_free(void *arg)
{
    struct s_scrape *s = arg;
    for (int i = 0; i < GW_N_BACKENDS; i++)
        if (s->got[i]) whistle__v1__stats_reply__free_unpacked(s->got[i], NULL);
    free(s);
}

/* A copy of `in` that outlives its reply (packed, then unpacked). NULL on out of memory. */
static Whistle__V1__StatsReply *s_copy(const Whistle__V1__StatsReply *in)
{
    size_t len = whistle__v1__stats_reply__get_packed_size(in);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) return NULL;
    whistle__v1__stats_reply__pack(in, buf);
    Whistle__V1__StatsReply *out = whistle__v1__stats_reply__unpack(NULL, len, buf);
    free(buf);
    return out;
}

/* Every service answered or was given up on: render and answer. */
/* Streams open, in every district. */
static double s_streams(gateway_t *gw)
{
    size_t n = 0;
    for (int i = 0; i < gateway__n_districts(gw); i++)
        n += gateway_streams_count(gateway__streams(gw, i));
    return (double)n;
}

static void s_render(struct gw_req *r)
{
    gateway_t *gw = r->gw;
    struct s_scrape *s = r->state;
    wh_metrics_t *m = wh_metrics_new("gateway");
    if (!m) {
        gateway__answer_error(r, 503, WH_ENOMEM, "", "out of memory; try again");
        return;
    }
    gateway_stats_add(gateway__stats(gw), m);
    wh_metrics_add(m, WH_METRIC_GAUGE, "whistle_gateway_http_connections", "HTTP connections open.",
                   (double)gateway_http_connections(gateway__http(gw)), NULL);
    wh_metrics_add(m, WH_METRIC_GAUGE, "whistle_gateway_sse_streams",
                   "Server-Sent Event streams open (GET /v1/topics/.../events).",
                   (double)s_streams(gw), NULL);
    static const char *const names[GW_N_BACKENDS] = {"intake", "routing", "tracking",
                                                     "notification"};
    gateway_backend_stats(gateway__backend(gw, r->district), m, names);
    for (int i = 0; i < GW_N_BACKENDS; i++) {
        wh_metrics_add(m, WH_METRIC_GAUGE, "whistle_gateway_backend_up",
                       "1 when the service answered this scrape's Stats (its series are "
                       "included), 0 when it did not (left out).",
                       s->got[i] ? 1 : 0, "backend", names[i], NULL);
        if (!s->got[i]) wh_log_debug("/metrics: %s left out: %s", names[i], s->why[i]);
    }
    const Whistle__V1__StatsReply *all[GW_N_BACKENDS + 1];
    for (int i = 0; i < GW_N_BACKENDS; i++)
        all[i] = s->got[i];
    all[GW_N_BACKENDS] = wh_metrics_incomplete(m) ? NULL : wh_metrics_reply(m);
    size_t len = 0;
    char *text = wh_metrics_render(all, GW_N_BACKENDS + 1, &len);
    wh_metrics_destroy(&m);
    if (!text) {
        gateway__answer_error(r, 503, WH_ENOMEM, "", "out of memory; try again");
        return;
    }
    gateway__answer_text(r, 200, WH_METRICS_CONTENT_TYPE, text, len);
}

static void s_on_stats(struct gw_req *r, int svc, const Whistle__V1__Reply *reply, int err)
{
    struct s_scrape *s = r->state;
    if (reply && reply->body_case == WHISTLE__V1__REPLY__BODY_STATS) {
        if (!(s->got[svc] = s_copy(reply->stats)))
            snprintf(s->why[svc], sizeof s->why[svc], "out of memory");
    } else if (reply && reply->body_case == WHISTLE__V1__REPLY__BODY_ERROR) {
        snprintf(s->why[svc], sizeof s->why[svc], "%s: %s", wh_errname(reply->error->code),
                 reply->error->message ? reply->error->message : "");
    } else {
        snprintf(s->why[svc], sizeof s->why[svc], "%s", reply ? "another reply" : wh_strerror(err));
    }
    if (r->waiting == 0) s_render(r);
}

void gateway_stats_serve(gateway_t *gw, struct gw_req *r, const struct gw_match *m)
{
    (void)m;
    struct gw_query q;
    struct wh_field_error err;
    if (gateway__query(r, &q, &err) || gateway_params_none(&q, &err)) {
        gateway__answer(r, gateway_http_status(err.code),
                        gateway_error_json(err.code, err.field, err.message, 0, 0));
        return;
    }
    /* the services' rule for Stats, applied here: the gateway asks with its own key */
    if (r->who.kind != WH_KIND_NONE && !wh_identity_trusted(&r->who)) {
        gateway__answer_error(r, 403, WH_EFORBIDDEN, "authorization",
                              "/metrics is for operator and service keys");
        return;
    }
    struct s_scrape *s = calloc(1, sizeof *s);
    if (!s) {
        gateway__answer_error(r, 503, WH_ENOMEM, "", "out of memory; try again");
        return;
    }
    r->state = s;
    r->state_free = s_scrape_free;
    for (int svc = 0; svc < GW_N_BACKENDS; svc++) {
        Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
        Whistle__V1__Stats st = WHISTLE__V1__STATS__INIT;
        req.body_case = WHISTLE__V1__REQUEST__BODY_STATS;
        req.stats = &st;
        int rc = gateway__call(gw, r, svc, &req, s_on_stats);
        if (rc) snprintf(s->why[svc], sizeof s->why[svc], "not connected (%s)", wh_errname(rc));
    }
    if (r->waiting == 0) s_render(r);
}
