/* service.c: the runtime every service shares: loop, store, ROUTER and XPUB, the request
 * dispatch (Ping and Replay served here, the rest handed to the service), heartbeats, signals,
 * and group commit: one write transaction per loop turn, committed in a uv_check handle
 * before any reply or publication of that turn leaves the process. */
#include "service_int.h"
#include "whistle/clock.h"
#include "whistle/cursor.h"
#include "whistle/error.h"
#include "whistle/eventlog.h"
#include "whistle/options.h"
#include "whistle/wlog.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* ---- the after-commit queue ------------------------------------------------------------ */

static void s_on_pending(uv_idle_t *h) { (void)h; }

/* Something waits for the commit: the loop must not block in poll before the check phase
 * runs, or a batch opened from an idle-time drain would wait for the next timer. */
static void s_commit_soon(wh_service_t *svc)
{
    if (!uv_is_active((uv_handle_t *)&svc->pending)) uv_idle_start(&svc->pending, s_on_pending);
}

void wh__service_queue(wh_service_t *svc, wh_sock_t *sock, size_t n, uint8_t **frames,
                       const size_t *lens)
{
    s_commit_soon(svc);
    if (svc->n_out == svc->cap_out) {
        size_t cap = svc->cap_out ? svc->cap_out * 2 : 256;
        struct wh_out *o = realloc(svc->out, cap * sizeof *o);
        if (!o) {
            for (size_t i = 0; i < n; i++) free(frames[i]);
            wh_log_error("out of memory queueing a message; the batch will not be answered");
            wh_store_fail(svc->store);
            return;
        }
        svc->out = o;
        svc->cap_out = cap;
    }
    struct wh_out *o = &svc->out[svc->n_out++];
    o->sock = sock;
    o->n = n;
    for (size_t i = 0; i < n; i++) {
        o->frame[i] = frames[i];
        o->len[i] = lens[i];
    }
}

static void s_flush(wh_service_t *svc, int send)
{
    for (size_t i = 0; i < svc->n_out; i++) {
        struct wh_out *o = &svc->out[i];
        if (send) {
            const void *d[3];
            for (size_t k = 0; k < o->n; k++) d[k] = o->frame[k] ? (void *)o->frame[k] : "";
            if (wh_sock_sendv(o->sock, o->n, d, o->len) != 0)
                wh_log_warn("send on %s dropped: %s", wh_sock_endpoint(o->sock),
                            zmq_strerror(zmq_errno()));
        }
        for (size_t k = 0; k < o->n; k++) free(o->frame[k]);
    }
    svc->n_out = 0;
}

static uint8_t *s_dup(const void *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d && n) memcpy(d, p, n);
    return d;
}

/* ---- group commit ---------------------------------------------------------------------- */

static void s_commit(wh_service_t *svc)
{
    uv_idle_stop(&svc->pending);
    int rc = 0, had_batch = wh_store_in_batch(svc->store);
    if (had_batch) {
        MDB_txn *txn = wh_service_txn(svc);
        for (size_t i = 0; txn && i < svc->n_followers; i++) wh__follower_save(svc->followers[i], txn);
        rc = wh_store_commit(svc->store);
    }
    if (rc == 0) {
        svc->head = svc->batch_head;
        s_flush(svc, 1);
        if (had_batch && svc->cfg.after_commit) svc->cfg.after_commit(svc->cfg.arg, svc);
    } else {
        wh_log_error("batch of %zu message(s) not committed (%s): nothing of it is acknowledged",
                     svc->n_out, wh_strerror(rc));
        svc->batch_head = svc->head;
        s_flush(svc, 0);
    }
    for (size_t i = 0; i < svc->n_followers; i++)
        wh__follower_after_commit(svc->followers[i], rc == 0);
}

static void s_on_check(uv_check_t *h) { s_commit(h->data); }

/* ---- requests -------------------------------------------------------------------------- */

void wh_service_reply(wh_service_t *svc, const struct wh_peer *peer, Whistle__V1__Reply *reply)
{
    reply->request_id = peer->request_id;
    uint8_t *frames[3];
    size_t lens[3], n = 0;
    frames[n] = s_dup(peer->id, peer->id_len);
    lens[n++] = peer->id_len;
    if (peer->delimiter) {
        frames[n] = NULL;
        lens[n++] = 0;
    }
    frames[n] = wh_pack(&reply->base, &lens[n]);
    n++;
    if (!frames[0] || !frames[n - 1]) {
        for (size_t i = 0; i < n; i++) free(frames[i]);
        return;
    }
    wh__service_queue(svc, svc->api, n, frames, lens);
}

void wh_service_error(wh_service_t *svc, const struct wh_peer *peer, int code,
                      const char *field, const char *message, int state)
{
    Whistle__V1__Reply reply = WHISTLE__V1__REPLY__INIT;
    Whistle__V1__Error err = WHISTLE__V1__ERROR__INIT;
    err.code = code;
    err.field = (char *)(field ? field : "");
    err.message = (char *)(message ? message : wh_strerror(code));
    err.state = state;
    reply.body_case = WHISTLE__V1__REPLY__BODY_ERROR;
    reply.error = &err;
    wh_service_reply(svc, peer, &reply);
}

static void s_ping(wh_service_t *svc, const struct wh_peer *peer)
{
    Whistle__V1__Reply reply = WHISTLE__V1__REPLY__INIT;
    Whistle__V1__Pong pong = WHISTLE__V1__PONG__INIT;
    Whistle__V1__Cursor cur[WH_MAX_FOLLOWERS], *curp[WH_MAX_FOLLOWERS];
    pong.service = (char *)svc->cfg.name;
    pong.head = svc->head;
    pong.uptime_ms = wh_mono_ms() - svc->started_ms;
    pong.version = (char *)WHISTLE_VERSION;
    for (size_t i = 0; i < svc->n_followers; i++) {
        whistle__v1__cursor__init(&cur[i]);
        cur[i].upstream = svc->followers[i]->name;
        cur[i].seq = svc->followers[i]->committed;
        cur[i].upstream_head = svc->followers[i]->upstream_head;
        curp[i] = &cur[i];
    }
    pong.n_cursors = svc->n_followers;
    pong.cursors = curp;
    reply.body_case = WHISTLE__V1__REPLY__BODY_PONG;
    reply.pong = &pong;
    wh_service_reply(svc, peer, &reply);
}

struct s_replay_acc {
    Whistle__V1__Envelope **items;
    size_t n;
};

static int s_replay_one(void *arg, uint64_t seq, const void *data, size_t len)
{
    (void)seq;
    struct s_replay_acc *acc = arg;
    Whistle__V1__Envelope *e = wh_envelope_unpack(data, len);
    if (e) acc->items[acc->n++] = e;
    return 0;
}

static void s_replay(wh_service_t *svc, MDB_txn *txn, const struct wh_peer *peer,
                     const Whistle__V1__Replay *rq)
{
    const char *topic = rq->topic && rq->topic[0] ? rq->topic : svc->stream;
    struct wh_field_error fe;
    if (wh_check_string(&fe, "replay.topic", topic, WH_STREAM_MAX, 1)) {
        wh_service_error(svc, peer, fe.code, fe.field, fe.message, 0);
        return;
    }
    if (!wh_service_may_read(svc, &peer->who, topic)) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s %s may not read '%.100s'", wh_kind_name(peer->who.kind),
                 peer->who.code, topic);
        wh_log_warn("replay refused: %s", msg);
        wh_service_error(svc, peer, WH_EFORBIDDEN, "replay.topic", msg, 0);
        return;
    }
    uint64_t head, oldest;
    int rc = wh_eventlog_head(svc->store, txn, topic, &head, &oldest);
    if (rc) {
        wh_service_error(svc, peer, rc, "", "cannot read the log", 0);
        return;
    }
    uint64_t from = rq->from_seq ? rq->from_seq : 1;
    if (oldest && from < oldest) {
        /* trimmed by retention: say so, and where the topic starts now */
        char msg[WH_STREAM_MAX + 96];
        snprintf(msg, sizeof msg, "%s: sequence %llu is gone, oldest is %llu", topic,
                 (unsigned long long)from, (unsigned long long)oldest);
        Whistle__V1__Reply reply = WHISTLE__V1__REPLY__INIT;
        Whistle__V1__Error err = WHISTLE__V1__ERROR__INIT;
        err.code = WH_EGONE;
        err.field = "replay.from_seq";
        err.message = msg;
        err.oldest = oldest;
        reply.body_case = WHISTLE__V1__REPLY__BODY_ERROR;
        reply.error = &err;
        wh_service_reply(svc, peer, &reply);
        return;
    }
    uint32_t max = rq->max && rq->max < WH_REPLAY_BATCH ? rq->max : WH_REPLAY_BATCH;
    Whistle__V1__Envelope *items[WH_REPLAY_BATCH];
    struct s_replay_acc acc = {items, 0};
    if (from <= head) {
        rc = wh_eventlog_read(svc->store, txn, topic, from, max, WH_REPLAY_BYTES, s_replay_one,
                              &acc);
        if (rc < 0) wh_log_error("replay of %s from %llu failed: %s", topic,
                                 (unsigned long long)from, wh_strerror(rc));
    }
    Whistle__V1__Reply reply = WHISTLE__V1__REPLY__INIT;
    Whistle__V1__ReplayReply rr = WHISTLE__V1__REPLAY_REPLY__INIT;
    rr.topic = (char *)topic;
    rr.entries = acc.items;
    rr.n_entries = acc.n;
    rr.head = head;
    rr.oldest = oldest;
    reply.body_case = WHISTLE__V1__REPLY__BODY_REPLAY;
    reply.replay = &rr;
    wh_service_reply(svc, peer, &reply);
    for (size_t i = 0; i < acc.n; i++) whistle__v1__envelope__free_unpacked(items[i], NULL);
}

static void s_on_api(void *arg, wh_sock_t *sock, const struct wh_frames *m)
{
    (void)sock;
    wh_service_t *svc = arg;
    if (m->n < 2 || m->len[0] > sizeof((struct wh_peer *)0)->id) return; /* not a ROUTER peer */
    struct wh_peer peer;
    memset(&peer, 0, sizeof peer);
    memcpy(peer.id, m->data[0], m->len[0]);
    peer.id_len = m->len[0];
    size_t body = 1;
    if (m->n >= 3 && m->len[1] == 0) {
        peer.delimiter = 1;
        body = 2;
    }
    if (svc->auth && (wh_identity_parse(m->user_id, &peer.who) || !peer.who.kind)) {
        /* cannot happen with the ZAP handler in place; refuse rather than trust */
        wh_service_error(svc, &peer, WH_EFORBIDDEN, "request", "this peer has no identity", 0);
        return;
    }
    if (m->truncated || m->n != body + 1) {
        wh_service_error(svc, &peer, WH_EMALFORMED, "request",
                         "a request is one frame (after the routing frames)", 0);
        return;
    }
    if (m->len[body] > WH_MAX_REQUEST_BYTES) {
        char msg[128];
        snprintf(msg, sizeof msg, "request is %zu bytes, at most %d allowed", m->len[body],
                 WH_MAX_REQUEST_BYTES);
        wh_log_warn("refused: %s", msg);
        wh_service_error(svc, &peer, WH_ETOOBIG, "request", msg, 0);
        return;
    }
    Whistle__V1__Request *req = wh_request_unpack(m->data[body], m->len[body]);
    if (!req) {
        wh_log_warn("refused a request of %zu bytes that is not a whistle.v1.Request",
                    m->len[body]);
        wh_service_error(svc, &peer, WH_EMALFORMED, "request",
                         "cannot decode a whistle.v1.Request (truncated or not protobuf)", 0);
        return;
    }
    peer.request_id = req->request_id;
    MDB_txn *txn;
    switch (req->body_case) {
    case WHISTLE__V1__REQUEST__BODY_PING:
        s_ping(svc, &peer);
        break;
    case WHISTLE__V1__REQUEST__BODY_REPLAY:
        if ((txn = wh_service_txn(svc))) s_replay(svc, txn, &peer, req->replay);
        break;
    case WHISTLE__V1__REQUEST__BODY__NOT_SET:
        wh_service_error(svc, &peer, WH_EFIELD, "request.body", "request has no body", 0);
        break;
    default:
        if (!svc->cfg.on_request) {
            wh_service_error(svc, &peer, WH_EUNSUPPORTED, "request.body",
                             "this request is not served by this service", 0);
        } else if ((txn = wh_service_txn(svc))) {
            svc->cfg.on_request(svc->cfg.arg, svc, txn, &peer, req);
        }
        break;
    }
    whistle__v1__request__free_unpacked(req, NULL);
}

/* ---- the own log ----------------------------------------------------------------------- */

int wh_service_append(wh_service_t *svc, MDB_txn *txn, const char *stream,
                      Whistle__V1__Envelope *env, uint64_t *seq_out)
{
    if (!stream) stream = svc->stream;
    char idbuf[96];
    uint64_t seq;
    uint8_t *packed;
    size_t plen;
    int rc = wh_eventlog_append(svc->store, txn, stream, env, idbuf, &seq, &packed, &plen);
    if (rc) return rc;
    if (strcmp(stream, svc->stream) == 0) svc->batch_head = seq;
    uint8_t *frames[2] = {s_dup(stream, strlen(stream)), packed};
    size_t lens[2] = {strlen(stream), plen};
    if (!frames[0]) {
        free(packed);
        return WH_ENOMEM;
    }
    wh__service_queue(svc, svc->events, 2, frames, lens);
    if (seq_out) *seq_out = seq;
    env->event_id = NULL; /* idbuf is ours */
    return 0;
}

/* ---- heartbeat, signals, lifecycle ----------------------------------------------------- */

static void s_on_tick(uv_timer_t *h)
{
    wh_service_t *svc = h->data;
    wh__heartbeat_tick(svc);
    int64_t now = wh_mono_ms();
    for (size_t i = 0; i < svc->n_followers; i++) wh__follower_tick(svc->followers[i], now);
}

static void s_on_signal(uv_signal_t *h, int signum)
{
    wh_service_t *svc = h->data;
    wh_log_info("%s received, stopping after the current batch", strsignal(signum));
    wh_service_stop(svc);
}

/* ---- who may read what ----------------------------------------------------------------- */

int wh_service_keyed(const wh_service_t *svc) { return svc->auth != NULL; }

int wh_service_may_read(const wh_service_t *svc, const struct wh_identity *who,
                        const char *topic)
{
    if (!svc->auth || wh_identity_trusted(who)) return 1;
    if (!who->kind || !svc->cfg.may_read) return 0;
    return svc->cfg.may_read(svc->cfg.arg, who, topic);
}

/* With keys on the XPUB is in ZMQ_XPUB_MANUAL mode: a subscription takes effect only when it
 * is vetted here against the subscriber's identity (its ZAP User-Id travels with it). */
static void s_on_events(void *arg, wh_sock_t *sock, const struct wh_frames *m)
{
    wh_service_t *svc = arg;
    if (m->n != 1 || m->len[0] < 1) return;
    if (!svc->auth) {
        /* XPUB delivers (un)subscriptions: the topics that get a heartbeat of their own */
        wh__heartbeat_subscription(svc, m->data[0], m->len[0]);
        return;
    }
    const uint8_t *d = m->data[0];
    char topic[256];
    size_t tl = m->len[0] - 1 < sizeof topic - 1 ? m->len[0] - 1 : sizeof topic - 1;
    memcpy(topic, d + 1, tl);
    topic[tl] = 0;
    void *zs = wh_sock_zmq(sock);
    if (d[0] == 0) {
        zmq_setsockopt(zs, ZMQ_UNSUBSCRIBE, d + 1, m->len[0] - 1);
        wh__heartbeat_subscription(svc, m->data[0], m->len[0]);
        return;
    }
    if (d[0] != 1) return;
    struct wh_identity who;
    if (wh_identity_parse(m->user_id, &who) == 0 && who.kind &&
        tl == m->len[0] - 1 && wh_utf8_valid(topic, tl) &&
        wh_service_may_read(svc, &who, topic)) {
        zmq_setsockopt(zs, ZMQ_SUBSCRIBE, d + 1, m->len[0] - 1);
        wh__heartbeat_subscription(svc, m->data[0], m->len[0]);
        wh_log_debug("%s %s subscribed to '%s'", wh_kind_name(who.kind), who.code, topic);
    } else {
        wh_log_warn("subscription of %s to '%s' refused: not its topic",
                    m->user_id ? m->user_id : "an unknown peer", topic);
    }
}

void wh_service_config_init(struct wh_service_config *cfg, const char *name,
                            const struct wh_options *o)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->name = name;
    cfg->data_dir = o->data_dir;
    cfg->api_endpoint = o->api;
    cfg->events_endpoint = o->events;
    cfg->heartbeat_ms = o->heartbeat_ms;
    cfg->keys = o->keys;
    cfg->allow = o->allow;
    cfg->service_key = o->service_key;
}

wh_service_t *wh_service_new(const struct wh_service_config *cfg)
{
    wh_service_t *svc = calloc(1, sizeof *svc);
    if (!svc) return NULL;
    svc->cfg = *cfg;
    if (cfg->stream) snprintf(svc->stream, sizeof svc->stream, "%s", cfg->stream);
    else snprintf(svc->stream, sizeof svc->stream, "%s/", cfg->name);
    svc->started_ms = wh_mono_ms();
    uv_loop_init(&svc->loop);
    svc->zctx = zmq_ctx_new();
    svc->store = wh_store_open(cfg->data_dir, cfg->tables);
    if (!svc->store) goto fail;

    MDB_txn *txn;
    if (mdb_txn_begin(wh_store_env(svc->store), NULL, MDB_RDONLY, &txn) == 0) {
        wh_eventlog_head(svc->store, txn, svc->stream, &svc->head, NULL);
        mdb_txn_abort(txn);
    }
    svc->batch_head = svc->head;

    if (cfg->keys) {
        char err[512];
        /* the ZAP handler first: it must be bound before any CURVE peer can connect */
        svc->auth = wh_auth_new(&svc->loop, svc->zctx, cfg->keys, cfg->allow, err, sizeof err);
        if (!svc->auth) {
            wh_log_error("keys: %s", err);
            goto fail;
        }
        if (cfg->service_key &&
            wh_keypair_load(cfg->service_key, 1, &svc->client, err, sizeof err)) {
            wh_log_error("--service-key: %s", err);
            goto fail;
        }
    }
    svc->api = wh_sock_new(&svc->loop, svc->zctx, ZMQ_ROUTER, WH_MAX_WIRE_BYTES, s_on_api, svc);
    svc->events = wh_sock_new(&svc->loop, svc->zctx, ZMQ_XPUB, 4096, s_on_events, svc);
    if (!svc->api || !svc->events) goto fail;
    if (svc->auth) {
        int one = 1;
        if (wh_auth_server(svc->auth, wh_sock_zmq(svc->api)) ||
            wh_auth_server(svc->auth, wh_sock_zmq(svc->events)) ||
            zmq_setsockopt(wh_sock_zmq(svc->events), ZMQ_XPUB_MANUAL, &one, sizeof one))
            goto fail;
    }
    int hwm = WH_EVENTS_HWM, ev_hwm = cfg->events_hwm > 0 ? cfg->events_hwm : WH_EVENTS_HWM;
    zmq_setsockopt(wh_sock_zmq(svc->events), ZMQ_SNDHWM, &ev_hwm, sizeof ev_hwm);
    zmq_setsockopt(wh_sock_zmq(svc->api), ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(wh_sock_zmq(svc->api), ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (wh_sock_bind(svc->api, cfg->api_endpoint) || wh_sock_bind(svc->events, cfg->events_endpoint))
        goto fail;

    uv_idle_init(&svc->loop, &svc->pending);
    uv_check_init(&svc->loop, &svc->commit);
    svc->commit.data = svc;
    uv_check_start(&svc->commit, s_on_check);
    uv_timer_init(&svc->loop, &svc->tick);
    svc->tick.data = svc;
    int hb = cfg->heartbeat_ms > 0 ? cfg->heartbeat_ms : 1000;
    uv_timer_start(&svc->tick, s_on_tick, (uint64_t)hb, (uint64_t)hb);
    uv_timer_init(&svc->loop, &svc->wake);
    uv_signal_init(&svc->loop, &svc->sigterm);
    uv_signal_init(&svc->loop, &svc->sigint);
    svc->sigterm.data = svc->sigint.data = svc;
    uv_signal_start(&svc->sigterm, s_on_signal, SIGTERM);
    uv_signal_start(&svc->sigint, s_on_signal, SIGINT);
    wh_log_info("%s: log head %llu, requests on %s, events on %s, data in %s", cfg->name,
                (unsigned long long)svc->head, wh_sock_endpoint(svc->api),
                wh_sock_endpoint(svc->events), cfg->data_dir);
    return svc;
fail:
    wh_sock_destroy(&svc->api);
    wh_sock_destroy(&svc->events);
    wh_auth_destroy(&svc->auth);
    uv_run(&svc->loop, UV_RUN_NOWAIT);
    uv_loop_close(&svc->loop);
    wh_store_close(&svc->store);
    zmq_ctx_term(svc->zctx);
    free(svc);
    return NULL;
}

static void s_noop_close(uv_handle_t *h) { (void)h; }

void wh_service_destroy(wh_service_t **self_p)
{
    if (!self_p || !*self_p) return;
    wh_service_t *svc = *self_p;
    *self_p = NULL;
    s_commit(svc); /* a batch still open is committed and answered, never half-kept */
    for (size_t i = 0; i < svc->n_followers; i++) wh__follower_destroy(&svc->followers[i]);
    /* give the replies of that last batch a moment to leave (zmq_ctx_term waits for them) */
    int linger = 1000;
    zmq_setsockopt(wh_sock_zmq(svc->api), ZMQ_LINGER, &linger, sizeof linger);
    wh_sock_destroy(&svc->api);
    wh_sock_destroy(&svc->events);
    wh_auth_destroy(&svc->auth);
    uv_close((uv_handle_t *)&svc->commit, s_noop_close);
    uv_close((uv_handle_t *)&svc->pending, s_noop_close);
    uv_close((uv_handle_t *)&svc->tick, s_noop_close);
    uv_close((uv_handle_t *)&svc->wake, s_noop_close);
    uv_close((uv_handle_t *)&svc->sigterm, s_noop_close);
    uv_close((uv_handle_t *)&svc->sigint, s_noop_close);
    uv_run(&svc->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&svc->loop) != 0) wh_log_error("loop closed with handles still open");
    wh_store_close(&svc->store);
    zmq_ctx_term(svc->zctx);
    wh__heartbeat_free(svc);
    free(svc->out);
    free(svc);
}

int wh_service_run(wh_service_t *svc)
{
    while (!svc->stopping) uv_run(&svc->loop, UV_RUN_DEFAULT);
    s_commit(svc);
    return 0;
}

static void s_on_wake(uv_timer_t *h) { (void)h; }

int wh_service_run_once(wh_service_t *svc, int timeout_ms)
{
    uv_timer_start(&svc->wake, s_on_wake, (uint64_t)(timeout_ms > 0 ? timeout_ms : 0), 0);
    uv_run(&svc->loop, UV_RUN_ONCE);
    uv_timer_stop(&svc->wake);
    return 0;
}

void wh_service_stop(wh_service_t *svc)
{
    svc->stopping = 1;
    uv_stop(&svc->loop);
}

MDB_txn *wh_service_txn(wh_service_t *svc)
{
    s_commit_soon(svc);
    return wh_store_txn(svc->store);
}
wh_store_t *wh_service_store(wh_service_t *svc) { return svc->store; }
uv_loop_t *wh_service_loop(wh_service_t *svc) { return &svc->loop; }
const char *wh_service_name(const wh_service_t *svc) { return svc->cfg.name; }
const char *wh_service_api_endpoint(wh_service_t *svc) { return wh_sock_endpoint(svc->api); }
const char *wh_service_events_endpoint(wh_service_t *svc)
{
    return wh_sock_endpoint(svc->events);
}
