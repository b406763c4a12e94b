/* gateway.c: the gateway object: its loop, ZeroMQ context, backends, API keys and HTTP
 * daemon; calls on behalf of HTTP callers; a clean stop on SIGTERM. */
#include "gateway.h"
#include "backend.h"
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

struct gateway {
    uv_loop_t loop;
    void *zctx;
    struct gateway_config cfg;
    gw_backend_t *backend;
    gw_keys_t *keys;       /* NULL with --open */
    gw_streams_t *streams; /* the SSE streams and notification's XPUB */
    gw_http_t *http;
    struct wh_catalog *catalog; /* --catalog: Open311's services and grids */
    int64_t catalog_mtime_ms;   /* its file's mtime: Open311's changeset */
    gw_stats_t *stats;          /* its own series (stats.h) */
    gw_tickets_t *tickets;      /* one-time tickets of browsers' event streams (ticket.h) */
    const char *web;            /* the dashboard's folder (web.h), or NULL */
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

const struct wh_catalog *gateway__catalog(const gateway_t *gw)
{
    return gw->catalog;
}

int64_t gateway__catalog_mtime_ms(const gateway_t *gw)
{
    return gw->catalog_mtime_ms;
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

int gateway__key_lookup(const gateway_t *gw, const char *key, struct wh_identity *who)
{
    return gw->keys ? gateway_keys_lookup(gw->keys, key, who) : 0;
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
    int rc = gateway_backend_call(gw->backend, svc, req, s_on_reply, r);
    if (rc == 0) r->waiting++;
    return rc;
}

struct gw_streams *gateway__streams(gateway_t *gw)
{
    return gw->streams;
}

struct gw_stats *gateway__stats(gateway_t *gw)
{
    return gw->stats;
}

struct gw_http *gateway__http(gateway_t *gw)
{
    return gw->http;
}

struct gw_backend *gateway__backend(gateway_t *gw)
{
    return gw->backend;
}

void gateway__forget(gateway_t *gw, struct gw_req *r)
{
    gateway_backend_forget(gw->backend, r);
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
    if (!(gw->catalog = wh_catalog_load(cfg->catalog, err, sizeof err))) {
        wh_log_error("catalog: %s (set --catalog FILE)", err);
        goto fail;
    }
    struct stat st;
    if (stat(cfg->catalog, &st) == 0)
        gw->catalog_mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
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
    gw->backend =
        gateway_backend_new(&gw->loop, gw->zctx, cfg->api, GW_N_BACKENDS, cfg->backend_timeout_ms,
                            keyed ? &kp : NULL, keyed ? server.public_key : NULL);
    if (!gw->backend) goto fail;
    gw->streams =
        gateway_streams_new(&gw->loop, gw->zctx, cfg->events[GW_NOTIFICATION], keyed ? &kp : NULL,
                            keyed ? server.public_key : NULL, gw->backend, cfg->sse_heartbeat_ms);
    if (!gw->streams) goto fail;
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
    if (gw->streams) gateway_streams_end_all(gw->streams);
    /* every suspended request is answered (503) and resumed: MHD must not stop with one */
    if (gw->backend) gateway_backend_fail_all(gw->backend, WH_EBUS);
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
    if (gw->streams) gateway_streams_end_all(gw->streams);
    if (gw->backend) gateway_backend_fail_all(gw->backend, WH_EBUS);
    gateway_http_destroy(&gw->http); /* frees every stream's response */
    gateway_streams_destroy(&gw->streams);
    gateway_backend_destroy(&gw->backend);
    gateway_keys_destroy(&gw->keys);
    wh_catalog_destroy(&gw->catalog);
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
