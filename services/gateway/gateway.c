/* gateway.c: the gateway object: its loop, ZeroMQ context, backends, API keys and HTTP
 * daemon; calls on behalf of HTTP callers; a clean stop on SIGTERM. */
#include "gateway.h"
#include "backend.h"
#include "district.h"
#include "http.h"
#include "keys.h"
#include "stats.h"
#include "stream.h"
#include "ticket.h"
#include "web.h"
#include "whistle/catalog.h"
#include "whistle/error.h"
#include "whistle/wlog.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

static const char *const s_names[GW_N_BACKENDS] = {"intake", "routing", "tracking", "notification"};

/* One district behind the gateway: its catalog and its own connections to its four. */
struct gw_district {
    char code[33];              /* its catalog's district code: its jurisdiction_id */
    struct wh_catalog *catalog; /* Open311's services and grids */
    int64_t catalog_mtime_ms;   /* its file's mtime: Open311's changeset */
    gw_backend_t *backend;      /* DEALERs to its four services */
    gw_streams_t *streams;      /* the SSE streams and its notification's XPUB */
};

struct gateway {
    uv_loop_t loop;
    void *zctx;
    struct gateway_config cfg;
    struct gw_district *d; /* --districts, or the one of the single-district flags */
    int n_d;
    gw_keys_t *keys; /* NULL with --open */
    gw_http_t *http;
    gw_stats_t *stats;     /* its own series (stats.h) */
    gw_tickets_t *tickets; /* one-time tickets of browsers' event streams (ticket.h) */
    const char *web;       /* the dashboard's folder (web.h), or NULL */
    uv_signal_t sigterm, sigint;
    int stopping;
};

const char *gateway__backend_name(int svc)
{
    return svc >= 0 && svc < GW_N_BACKENDS ? s_names[svc] : "?";
}

const struct gateway_config *gateway__config(const gateway_t *gw)
{
    return &gw->cfg;
}

static int s_d(const gateway_t *gw, int district)
{
    return district >= 0 && district < gw->n_d ? district : 0;
}

int gateway__n_districts(const gateway_t *gw)
{
    return gw->n_d;
}

const char *gateway__district_code(const gateway_t *gw, int district)
{
    return gw->d[s_d(gw, district)].code;
}

int gateway__district_find(const gateway_t *gw, const char *code)
{
    for (int i = 0; i < gw->n_d; i++)
        if (strcmp(gw->d[i].code, code) == 0) return i;
    return -1;
}

const char *gateway__district_where(struct gw_req *r)
{
    static char buf[64]; /* one loop thread: used at once by the caller's snprintf */
    if (r->gw->n_d == 1) return "";
    snprintf(buf, sizeof buf, "district '%s': ", r->gw->d[s_d(r->gw, r->district)].code);
    return buf;
}

void gateway__district_list(const gateway_t *gw, char *buf, size_t size)
{
    buf[0] = 0;
    for (int i = 0; i < gw->n_d; i++) {
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, "%s%s", i ? ", " : "", gw->d[i].code);
    }
}

const struct wh_catalog *gateway__catalog(const gateway_t *gw, int district)
{
    return gw->d[s_d(gw, district)].catalog;
}

int64_t gateway__catalog_mtime_ms(const gateway_t *gw, int district)
{
    return gw->d[s_d(gw, district)].catalog_mtime_ms;
}

const char *gateway__web_dir(const gateway_t *gw)
{
    return gw->web;
}

struct gw_tickets *gateway__tickets(gateway_t *gw)
{
    return gw->tickets;
}

uv_loop_t *gateway__loop(gateway_t *gw)
{
    return &gw->loop;
}

int gateway__key_lookup(const gateway_t *gw, struct gw_req *r, const char *key,
                        struct wh_identity *who)
{
    struct wh_identity w;
    char kd[sizeof r->key_district];
    if (!gw->keys || !gateway_keys_lookup(gw->keys, key, &w, kd, sizeof kd)) return 0;
    snprintf(r->key_district, sizeof r->key_district, "%s", kd);
    int ok;
    if (kd[0]) /* a district's key: there only (before a district is chosen: to choose it) */
        ok = r->district < 0 ? gateway__district_find(gw, kd) >= 0
                             : strcmp(kd, gw->d[s_d(gw, r->district)].code) == 0;
    else /* the only district's, or the city's: an operator's */
        ok = gw->n_d == 1 || w.kind == WH_KIND_OPERATOR;
    if (!ok) {
        r->key_elsewhere = 1;
        return 0;
    }
    *who = w;
    return 1;
}

int gateway__city_caller(const gateway_t *gw, const struct gw_req *r)
{
    if (gw->cfg.open) return 1;
    return r->who.kind == WH_KIND_OPERATOR && !r->key_district[0];
}

static void s_on_reply(void *arg, int svc, const Whistle__V1__Reply *reply, int err)
{
    struct gw_req *r = arg;
    /* every call of one request answers to the same handler function */
    r->waiting--;
    r->reply_fn(r, svc, reply, err);
}

int gateway__call(gateway_t *gw, struct gw_req *r, int svc, Whistle__V1__Request *req,
                  gateway_reply_fn fn)
{
    char as[64];
    if (r->who.kind != WH_KIND_NONE && !wh_identity_trusted(&r->who)) {
        snprintf(as, sizeof as, "%s:%s", wh_kind_name(r->who.kind), r->who.code);
        req->on_behalf = as; /* packed before this returns */
    }
    r->reply_fn = fn;
    int rc = gateway_backend_call(gw->d[s_d(gw, r->district)].backend, svc, req, s_on_reply, r);
    if (rc == 0) r->waiting++;
    return rc;
}

int gateway__call_in(gateway_t *gw, struct gw_req *r, int district, int svc,
                     Whistle__V1__Request *req, gateway_reply_fn fn)
{
    int saved = r->district;
    r->district = s_d(gw, district);
    int rc = gateway__call(gw, r, svc, req, fn);
    r->district = saved;
    return rc;
}

struct gw_streams *gateway__streams(gateway_t *gw, int district)
{
    return gw->d[s_d(gw, district)].streams;
}

struct gw_stats *gateway__stats(gateway_t *gw)
{
    return gw->stats;
}

struct gw_http *gateway__http(gateway_t *gw)
{
    return gw->http;
}

struct gw_backend *gateway__backend(gateway_t *gw, int district)
{
    return gw->d[s_d(gw, district)].backend;
}

void gateway__forget(gateway_t *gw, struct gw_req *r)
{
    for (int i = 0; i < gw->n_d; i++)
        gateway_backend_forget(gw->d[i].backend, r);
}

/* Loads the districts: --districts FILE, or one from the single-district flags. 0 or -1. */
static int s_districts(gateway_t *gw, const struct gateway_config *cfg, const struct wh_keypair *kp,
                       const char *server_public)
{
    char err[512];
    struct gw_district_conf one, *dc = &one;
    size_t n = 1;
    memset(&one, 0, sizeof one);
    if (cfg->districts) {
        if (gateway_districts_load(cfg->districts, &dc, &n, err, sizeof err)) {
            wh_log_error("districts: %s", err);
            return -1;
        }
    } else {
        one.catalog = (char *)cfg->catalog;
        for (int s = 0; s < GW_N_BACKENDS; s++) {
            one.api[s] = (char *)cfg->api[s];
            one.events[s] = (char *)cfg->events[s];
        }
    }
    int rc = 0;
    if (!(gw->d = calloc(n, sizeof *gw->d))) rc = -1;
    for (size_t i = 0; i < n && !rc; i++) {
        struct gw_district *d = &gw->d[i];
        gw->n_d++;
        if (!(d->catalog = wh_catalog_load(dc[i].catalog, err, sizeof err))) {
            wh_log_error("catalog: %s (set --catalog FILE)", err);
            rc = -1;
            break;
        }
        snprintf(d->code, sizeof d->code, "%s", d->catalog->district_code);
        struct stat st;
        if (stat(dc[i].catalog, &st) == 0)
            d->catalog_mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
        d->backend = gateway_backend_new(&gw->loop, gw->zctx, (const char *const *)dc[i].api,
                                         GW_N_BACKENDS, cfg->backend_timeout_ms, kp, server_public);
        if (d->backend)
            d->streams = gateway_streams_new(&gw->loop, gw->zctx, dc[i].events[GW_NOTIFICATION], kp,
                                             server_public, d->backend, cfg->sse_heartbeat_ms);
        if (!d->backend || !d->streams)
            rc = -1;
        else if (cfg->districts)
            wh_log_info("district %s: backends %s %s %s %s, events %s", d->code, dc[i].api[0],
                        dc[i].api[1], dc[i].api[2], dc[i].api[3], dc[i].events[GW_NOTIFICATION]);
    }
    if (dc != &one) gateway_districts_free(dc, n);
    return rc;
}

static void s_on_signal(uv_signal_t *h, int signum)
{
    gateway_t *gw = h->data;
    wh_log_info("%s received, stopping", strsignal(signum));
    gateway_stop(gw);
}

gateway_t *gateway_new(const struct gateway_config *cfg)
{
    gateway_t *gw = calloc(1, sizeof *gw);
    if (!gw) return NULL;
    gw->cfg = *cfg;
    if (!(gw->stats = gateway_stats_new(gateway_api_routes, gateway_api_n_routes))) {
        free(gw);
        return NULL;
    }
    if (!(gw->tickets = gateway_tickets_new())) {
        gateway_stats_destroy(&gw->stats);
        free(gw);
        return NULL;
    }
    uv_loop_init(&gw->loop);
    gw->zctx = zmq_ctx_new();
    /* one I/O thread per backend service (backend.c pins each service's sockets to its own):
     * libzmq looks a backend's name up with a blocking getaddrinfo in the I/O thread of its
     * connection, at every reconnect, so one service whose name hangs in the resolver (a task
     * not yet in Swarm's or Kubernetes' DNS behind a silent resolver) must not hold up the
     * calls to the others (common/src/service.c says more) */
    if (!gw->zctx || zmq_ctx_set(gw->zctx, ZMQ_IO_THREADS, GW_N_BACKENDS) != 0) {
        wh_log_error("ZeroMQ context: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    char err[512];
    struct wh_keypair kp, server;
    int keyed = cfg->key && cfg->server_key;
    if (keyed && (wh_keypair_load(cfg->key, 1, &kp, err, sizeof err) ||
                  wh_keypair_load(cfg->server_key, 0, &server, err, sizeof err))) {
        wh_log_error("%s", err);
        goto fail;
    }
    if (cfg->api_keys &&
        !(gw->keys = gateway_keys_new(&gw->loop, cfg->api_keys, err, sizeof err))) {
        wh_log_error("API keys: %s (set --api-keys FILE)", err);
        goto fail;
    }
    gw->web = gateway_web_dir(cfg->web, WHISTLE_WEB_DIR);
    if (cfg->web && !gw->web) {
        wh_log_error("--web %s: no index.html there (the dashboard's folder: "
                     "services/gateway/web in the tree)",
                     cfg->web);
        goto fail;
    }
    if (gw->web)
        wh_log_info("dashboard: files from %s, at /", gw->web);
    else
        wh_log_info("dashboard: no folder found (%s, services/gateway/web): GET / answers 404; "
                    "give --web DIR",
                    WHISTLE_WEB_DIR);
    if (s_districts(gw, cfg, keyed ? &kp : NULL, keyed ? server.public_key : NULL)) goto fail;
    struct gw_http_config hc = {cfg->http, cfg->max_connections, cfg->request_timeout_ms,
                                cfg->idle_timeout_s};
    if (!(gw->http = gateway_http_new(&gw->loop, gw, &hc))) goto fail;
    uv_signal_init(&gw->loop, &gw->sigterm);
    uv_signal_init(&gw->loop, &gw->sigint);
    gw->sigterm.data = gw->sigint.data = gw;
    uv_signal_start(&gw->sigterm, s_on_signal, SIGTERM);
    uv_signal_start(&gw->sigint, s_on_signal, SIGINT);
    signal(SIGPIPE, SIG_IGN);
    const char *h = cfg->http;
    const char *colon = strrchr(h, ':');
    if (cfg->districts)
        wh_log_info("listening on http://%.*s:%u (%s; %d districts, timeout %d ms)",
                    (int)(colon - h), h, gateway_http_bound_port(gw->http),
                    gw->keys ? "API keys required" : "open: no API keys", gw->n_d,
                    cfg->backend_timeout_ms);
    else
        wh_log_info("listening on http://%.*s:%u (%s; backends %s %s %s %s, timeout %d ms)",
                    (int)(colon - h), h, gateway_http_bound_port(gw->http),
                    gw->keys ? "API keys required" : "open: no API keys", cfg->api[0], cfg->api[1],
                    cfg->api[2], cfg->api[3], cfg->backend_timeout_ms);
    return gw;
fail:
    gateway_destroy(&gw);
    return NULL;
}

unsigned gateway_http_port(const gateway_t *gw)
{
    return gateway_http_bound_port(gw->http);
}

void gateway_stop(gateway_t *gw)
{
    if (gw->stopping) return;
    gw->stopping = 1;
    if (gw->http) gateway_http_quiesce(gw->http);
    for (int i = 0; i < gw->n_d; i++)
        if (gw->d[i].streams) gateway_streams_end_all(gw->d[i].streams);
    /* every suspended request is answered (503) and resumed: MHD must not stop with one */
    for (int i = 0; i < gw->n_d; i++)
        if (gw->d[i].backend) gateway_backend_fail_all(gw->d[i].backend, WH_EBUS);
    if (gw->http) gateway_http_run(gw->http);
    uv_stop(&gw->loop);
}

int gateway_run(gateway_t *gw)
{
    uv_run(&gw->loop, UV_RUN_DEFAULT);
    return 0;
}

static void s_walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

void gateway_destroy(gateway_t **self_p)
{
    if (!self_p || !*self_p) return;
    gateway_t *gw = *self_p;
    *self_p = NULL;
    for (int i = 0; i < gw->n_d; i++) {
        if (gw->d[i].streams) gateway_streams_end_all(gw->d[i].streams);
        if (gw->d[i].backend) gateway_backend_fail_all(gw->d[i].backend, WH_EBUS);
    }
    gateway_http_destroy(&gw->http); /* frees every stream's response */
    for (int i = 0; i < gw->n_d; i++) {
        gateway_streams_destroy(&gw->d[i].streams);
        gateway_backend_destroy(&gw->d[i].backend);
        wh_catalog_destroy(&gw->d[i].catalog);
    }
    free(gw->d);
    gateway_keys_destroy(&gw->keys);
    if (gw->sigterm.loop) {
        uv_close((uv_handle_t *)&gw->sigterm, NULL);
        uv_close((uv_handle_t *)&gw->sigint, NULL);
    }
    uv_run(&gw->loop, UV_RUN_NOWAIT);
    uv_walk(&gw->loop, s_walk_close, NULL);
    uv_run(&gw->loop, UV_RUN_DEFAULT);
    uv_loop_close(&gw->loop);
    if (gw->zctx) zmq_ctx_term(gw->zctx);
    gateway_stats_destroy(&gw->stats);
    gateway_tickets_destroy(&gw->tickets);
    free(gw);
}
