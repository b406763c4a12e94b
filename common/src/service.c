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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static void s_reply_kind(wh_service_t *svc, const struct wh_peer *peer,
                         Whistle__V1__Reply *reply, int kind);
static void s_error_now(wh_service_t *svc, const struct wh_peer *peer, int code,
                        const char *field, const char *message);

/* ---- the after-commit queue ------------------------------------------------------------ */

static void s_on_pending(uv_idle_t *h) { (void)h; }

/* Something waits for the commit: the loop must not block in poll before the check phase
 * runs, or a batch opened from an idle-time drain would wait for the next timer. */
static void s_commit_soon(wh_service_t *svc)
{
    if (!uv_is_active((uv_handle_t *)&svc->pending)) uv_idle_start(&svc->pending, s_on_pending);
}

/* A reply that will not be handed to ZeroMQ from the queue gives its bytes back to its peer. */
static void s_out_uncount(struct wh_out *o)
{
    if (o->q && o->n) atomic_fetch_sub(&o->q->bytes, o->len[o->n - 1]);
    o->q = NULL;
}

/* Frees a queued send. */
static void s_out_free(struct wh_out *o)
{
    s_out_uncount(o);
    for (size_t k = 0; k < o->n; k++) free(o->frame[k]);
    o->n = 0;
}

static struct wh_peerq *s_peerq(wh_service_t *svc, const uint8_t *id, size_t n, int create);

void wh__service_queue(wh_service_t *svc, wh_sock_t *sock, int kind, size_t n, uint8_t **frames,
                       const size_t *lens)
{
    s_commit_soon(svc);
    if (svc->n_out == svc->cap_out) {
        size_t cap = svc->cap_out ? svc->cap_out * 2 : 256;
        struct wh_out *o = realloc(svc->out, cap * sizeof *o);
        if (!o) {
            for (size_t i = 0; i < n; i++) free(frames[i]);
            wh_store_fail(svc->store); /* an answer that cannot be queued: nothing is kept */
            return;
        }
        svc->out = o;
        svc->cap_out = cap;
    }
    struct wh_out *o = &svc->out[svc->n_out++];
    o->sock = sock;
    o->kind = kind;
    o->n = n;
    o->req = o->code = 0;
    /* a reply counts against its peer's bound from now until ZeroMQ frees it */
    o->q = sock == svc->api ? s_peerq(svc, frames[0], lens[0], 1) : NULL;
    if (o->q) atomic_fetch_add(&o->q->bytes, lens[n - 1]);
    for (size_t i = 0; i < n; i++) {
        o->frame[i] = frames[i];
        o->len[i] = lens[i];
        svc->out_bytes += lens[i];
    }
    /* the batch holds enough: stop reading requests until it is committed */
    if (svc->out_bytes > WH_BATCH_BYTES) wh_sock_yield(svc->api);
    /* enough publications for one pass: stop reading anything that appends */
    if (sock == svc->events && ++svc->out_events == WH_BATCH_EVENTS) {
        wh_sock_yield(svc->api);
        for (size_t i = 0; i < svc->n_followers; i++) wh__follower_yield(svc->followers[i]);
    }
}

/* ---- what one ROUTER peer has queued and unread (WH_PEER_QUEUE_BYTES) -------------------- */

struct s_sent {
    struct wh_peerq *q;
    size_t len;
};

static size_t s_hash(const uint8_t *id, size_t n)
{
    size_t h = 5381;
    for (size_t i = 0; i < n; i++) h = h * 33 + id[i];
    return h % (sizeof((wh_service_t *)0)->peerq / sizeof(struct wh_peerq *));
}

static struct wh_peerq *s_peerq(wh_service_t *svc, const uint8_t *id, size_t n, int create)
{
    struct wh_peerq **slot = &svc->peerq[s_hash(id, n)];
    for (struct wh_peerq *q = *slot; q; q = q->next)
        if (q->id_len == n && memcmp(q->id, id, n) == 0) return q;
    if (!create || n > sizeof((struct wh_peerq *)0)->id) return NULL;
    struct wh_peerq *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    memcpy(q->id, id, n);
    q->id_len = n;
    atomic_init(&q->bytes, 0);
    q->next = *slot;
    *slot = q;
    return q;
}

/* ZeroMQ is done with a reply (written or dropped, e.g. when its peer left): runs on ZeroMQ's
 * I/O thread, so it touches nothing but the frame and the peer's atomic count. */
static void s_sent_free(void *data, void *hint)
{
    struct s_sent *s = hint;
    atomic_fetch_sub(&s->q->bytes, s->len);
    free(s);
    free(data);
}

/* Forgets peers with nothing queued (their replies all written, or dropped when they left),
 * and gives the heap back to the system after a large release. */
static void s_peerq_sweep(wh_service_t *svc, int all)
{
    int overflowed = 0;
    for (size_t i = 0; i < sizeof svc->peerq / sizeof svc->peerq[0]; i++) {
        struct wh_peerq **pp = &svc->peerq[i];
        while (*pp) {
            struct wh_peerq *q = *pp;
            if (all || atomic_load(&q->bytes) == 0) {
                overflowed |= q->warned;
                *pp = q->next;
                free(q);
            } else {
                pp = &q->next;
            }
        }
    }
#ifdef __GLIBC__
    /* a peer that overflowed has gone or read its replies: give its megabytes back */
    if (overflowed) malloc_trim(0);
#else
    (void)overflowed;
#endif
}

/* 1 when the peer `id` may be sent `len` more bytes of replies. */
static int s_peer_has_room(wh_service_t *svc, const uint8_t *id, size_t n, size_t len)
{
    struct wh_peerq *q = s_peerq(svc, id, n, 0);
    return !q || atomic_load(&q->bytes) + len <= WH_PEER_QUEUE_BYTES;
}

/* Sends a reply (routing id, [delimiter,] body) handing the body to ZeroMQ without a copy;
 * the peer's queued bytes are counted until ZeroMQ lets go of it. Takes the frames. */
static int s_send_reply(struct wh_out *o)
{
    size_t body = o->n - 1;
    struct wh_peerq *q = o->q;
    struct s_sent *sent = q ? malloc(sizeof *sent) : NULL;
    if (!sent) {
        const void *d[3];
        for (size_t k = 0; k < o->n; k++) d[k] = o->frame[k] ? (void *)o->frame[k] : "";
        int rc = wh_sock_sendv(o->sock, o->n, d, o->len);
        s_out_free(o);
        return rc;
    }
    sent->q = q;
    sent->len = o->len[body];
    o->q = NULL; /* its bytes are given back by s_sent_free now */
    zmq_msg_t msg;
    zmq_msg_init_data(&msg, o->frame[body] ? (void *)o->frame[body] : malloc(1), o->len[body],
                      s_sent_free, sent);
    o->frame[body] = NULL;
    const void *d[2];
    for (size_t k = 0; k < body; k++) d[k] = o->frame[k] ? (void *)o->frame[k] : "";
    int rc = wh_sock_sendv_msg(o->sock, body, d, o->len, &msg);
    s_out_free(o);
    return rc;
}

/* Counts an answer sent (whistle_requests_total). Out of memory: not counted. */
static void s_count(wh_service_t *svc, int req, int code)
{
    for (size_t i = 0; i < svc->n_reqcounts; i++) {
        if (svc->reqcounts[i].req == req && svc->reqcounts[i].code == code) {
            svc->reqcounts[i].n++;
            return;
        }
    }
    if (svc->n_reqcounts == svc->cap_reqcounts) {
        size_t cap = svc->cap_reqcounts ? svc->cap_reqcounts * 2 : 32;
        struct wh_reqcount *a = realloc(svc->reqcounts, cap * sizeof *a);
        if (!a) return;
        svc->reqcounts = a;
        svc->cap_reqcounts = cap;
    }
    svc->reqcounts[svc->n_reqcounts++] = (struct wh_reqcount){req, code, 1};
}

/* After the commit: sends what the batch decided (send = 1), or, when it failed, only what
 * does not depend on it (Ping, "storage failed" answers). */
static void s_flush(wh_service_t *svc, int send)
{
    for (size_t i = 0; i < svc->n_out; i++) {
        struct wh_out *o = &svc->out[i];
        if (!send && o->kind != WH_OUT_FIXED) {
            s_out_free(o);
            continue;
        }
        if (o->sock == svc->api) s_count(svc, o->req, o->code);
        int rc = o->sock == svc->api ? s_send_reply(o) : 0;
        if (o->sock != svc->api) {
            const void *d[3];
            for (size_t k = 0; k < o->n; k++) d[k] = o->frame[k] ? (void *)o->frame[k] : "";
            rc = wh_sock_sendv(o->sock, o->n, d, o->len);
            s_out_free(o);
            if (rc == 0) svc->published++;
            else svc->publish_failed++;
        }
        if (rc != 0)
            wh_log_warn("send on %s dropped: %s", wh_sock_endpoint(o->sock),
                        zmq_strerror(zmq_errno()));
    }
    svc->n_out = 0;
    svc->out_bytes = 0;
    svc->out_events = 0;
}

static uint8_t *s_dup(const void *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d && n) memcpy(d, p, n);
    return d;
}

/* ---- steps: one input, all or nothing ---------------------------------------------------
 *
 * Every input (a request, an upstream entry, an expiry) runs as a step of the batch. A
 * decision about it (a refusal, "not applicable") drops what it queued, keeps its refusal and
 * lets the batch go on. Most decisions come before any write; one that comes after (a string
 * the log refuses, a handler that did not answer) cannot be undone inside the batch's txn, so
 * the whole batch is aborted at the commit and done again without that input: its requests
 * are kept and run again, upstream entries come back by replay, expiries by their timer.
 * LMDB's nested transactions would undo it in place, but each costs a 3 MB allocation: nearly
 * free with glibc, a millisecond with AddressSanitizer, for every input. */

MDB_txn *wh__service_step_begin(wh_service_t *svc)
{
    s_commit_soon(svc);
    svc->step_mark = svc->n_out;
    svc->step_answers = 0;
    svc->step_head = svc->batch_head;
    svc->step_writes = wh_store_writes(svc->store);
    return wh_store_txn(svc->store);
}

int wh__service_step_end(wh_service_t *svc, int rc)
{
    if (rc == 0) return 0;
    if (wh_error_is_storage(rc)) {
        wh_store_fail(svc->store);
        return rc;
    }
    if (wh_store_writes(svc->store) != svc->step_writes) svc->redo = 1;
    /* a decision about this input: drop what it queued, but keep its refusal */
    size_t keep = svc->step_mark;
    for (size_t i = svc->step_mark; i < svc->n_out; i++) {
        struct wh_out *o = &svc->out[i];
        if (o->kind == WH_OUT_REFUSAL) {
            svc->out[keep++] = *o;
        } else {
            for (size_t k = 0; k < o->n; k++) svc->out_bytes -= o->len[k];
            if (o->sock == svc->events) svc->out_events--;
            s_out_free(o);
        }
    }
    svc->n_out = keep;
    svc->batch_head = svc->step_head;
    return rc;
}

int wh__service_redoing(const wh_service_t *svc) { return svc->redo; }

int wh__service_backing_off(const wh_service_t *svc, int64_t now)
{
    return svc->retry_at_ms && now < svc->retry_at_ms;
}

/* ---- group commit ---------------------------------------------------------------------- */

/* What a request of a failed batch is told: nothing of it was kept, it may retry. */
static void s_storage_msg(char *msg, size_t size, const char *cause)
{
    snprintf(msg, size, "storage failure (%s): nothing of this request was kept; retry",
             cause[0] ? cause : "unknown cause");
}

/* Answers every request of a failed batch. */
static void s_answer_failed(wh_service_t *svc, const char *cause)
{
    char msg[256];
    s_storage_msg(msg, sizeof msg, cause);
    for (size_t i = 0; i < svc->n_reqs; i++) {
        if (svc->reqs[i].async) continue; /* answered by its read, which no batch holds */
        svc->cur_req = svc->reqs[i].body;
        s_error_now(svc, &svc->reqs[i].peer, WH_ESTORE, "", msg);
    }
}

static void s_on_retry(uv_timer_t *h);

/* A failed batch: logged once per cause with counts, retried with a growing pause. */
static void s_failed(wh_service_t *svc, int rc)
{
    int64_t now = wh_mono_ms();
    const char *cause = wh_store_cause(svc->store);
    if (!cause[0]) cause = wh_strerror(rc);
    svc->failed_batches++;
    svc->retry_ms = svc->retry_ms ? svc->retry_ms * 2 : WH_RETRY_MIN_MS;
    if (svc->retry_ms > WH_RETRY_MAX_MS) svc->retry_ms = WH_RETRY_MAX_MS;
    svc->retry_at_ms = now + svc->retry_ms;
    uv_timer_start(&svc->retry, s_on_retry, (uint64_t)svc->retry_ms, 0);
    if (strcmp(cause, svc->fail_cause) != 0) {
        if (svc->fail_cause[0] && svc->fail_run > 1)
            wh_log_error("storage: %llu failed batch(es) for '%s' before this one",
                         (unsigned long long)svc->fail_run, svc->fail_cause);
        snprintf(svc->fail_cause, sizeof svc->fail_cause, "%s", cause);
        svc->fail_run = 1;
        svc->fail_since_ms = svc->fail_logged_ms = now;
        wh_log_error("storage failure: %s; the batch (%zu request(s)) is not kept: requests are "
                     "answered ESTORE, upstream entries retried (every %lld ms at most)",
                     cause, svc->n_reqs, (long long)WH_RETRY_MAX_MS);
    } else {
        svc->fail_run++;
        if (now - svc->fail_logged_ms >= WH_FAIL_LOG_MS) {
            svc->fail_logged_ms = now;
            wh_log_error("storage still failing: %s (%llu failed batches in %lld s)", cause,
                         (unsigned long long)svc->fail_run,
                         (long long)((now - svc->fail_since_ms) / 1000));
        }
    }
}

static void s_on_retry(uv_timer_t *h)
{
    wh_service_t *svc = h->data;
    int64_t now = wh_mono_ms();
    for (size_t i = 0; i < svc->n_followers; i++) wh__follower_tick(svc->followers[i], now);
}

static void s_recovered(wh_service_t *svc)
{
    if (svc->fail_cause[0])
        wh_log_warn("storage works again after %llu failed batch(es) in %lld s (%s)",
                    (unsigned long long)svc->fail_run,
                    (long long)((wh_mono_ms() - svc->fail_since_ms) / 1000), svc->fail_cause);
    svc->fail_cause[0] = 0;
    svc->fail_run = 0;
    svc->retry_ms = 0;
    svc->retry_at_ms = 0;
    wh_store_clear_cause(svc->store);
}

static void s_redo(wh_service_t *svc);
static void s_reqs_clear(wh_service_t *svc);
static void s_answer_refused(wh_service_t *svc);

static void s_commit(wh_service_t *svc)
{
    uv_idle_stop(&svc->pending);
    while (svc->redo) s_redo(svc);
    int rc = 0, had_batch = wh_store_in_batch(svc->store);
    if (had_batch) {
        MDB_txn *txn = wh_service_txn(svc);
        for (size_t i = 0; txn && i < svc->n_followers; i++) wh__follower_save(svc->followers[i], txn);
        uint64_t t0 = uv_hrtime();
        rc = wh_store_commit(svc->store);
        /* LMDB's commit writes the pages and fdatasyncs (twice): this is mostly sync time */
        if (rc == 0) wh_histogram_observe(&svc->commit_time, (double)(uv_hrtime() - t0) / 1e9);
    }
    if (rc == 0) {
        svc->head = svc->batch_head;
        s_answer_refused(svc);
        s_flush(svc, 1);
        if (had_batch) s_recovered(svc);
        if (had_batch && svc->cfg.after_commit) svc->cfg.after_commit(svc->cfg.arg, svc);
    } else {
        s_failed(svc, rc);
        if (svc->cfg.after_abort) svc->cfg.after_abort(svc->cfg.arg, svc);
        svc->batch_head = svc->head;
        s_answer_failed(svc, svc->fail_cause);
        s_flush(svc, 0);
    }
    s_reqs_clear(svc);
    for (size_t i = 0; i < svc->n_followers; i++)
        wh__follower_after_commit(svc->followers[i], rc == 0);
}

static void s_on_check(uv_check_t *h) { s_commit(h->data); }

/* ---- requests -------------------------------------------------------------------------- */

/* Queues the packed reply `msg` (a Reply, or a message of the same wire form) to `peer`;
 * `code` is the error it carries (0: none). */
static void s_reply_packed(wh_service_t *svc, const struct wh_peer *peer,
                           const ProtobufCMessage *msg, int kind, int code)
{
    uint8_t *frames[3];
    size_t lens[3], n = 0;
    frames[n] = s_dup(peer->id, peer->id_len);
    lens[n++] = peer->id_len;
    if (peer->delimiter) {
        frames[n] = NULL;
        lens[n++] = 0;
    }
    frames[n] = wh_pack(msg, &lens[n]);
    n++;
    if (!frames[0] || !frames[n - 1]) {
        for (size_t i = 0; i < n; i++) free(frames[i]);
        wh_store_fail(svc->store); /* an answer that cannot be made: nothing is kept */
        return;
    }
    size_t before = svc->n_out;
    wh__service_queue(svc, svc->api, kind, n, frames, lens);
    if (svc->n_out > before) {
        /* what it answers and how, counted when it is sent */
        svc->out[before].req = svc->cur_req;
        svc->out[before].code = code;
    }
}

static void s_reply_kind(wh_service_t *svc, const struct wh_peer *peer,
                         Whistle__V1__Reply *reply, int kind)
{
    reply->request_id = peer->request_id;
    s_reply_packed(svc, peer, &reply->base, kind,
                   reply->body_case == WHISTLE__V1__REPLY__BODY_ERROR ? reply->error->code : 0);
}

void wh_service_reply(wh_service_t *svc, const struct wh_peer *peer, Whistle__V1__Reply *reply)
{
    int refusal = reply->body_case == WHISTLE__V1__REPLY__BODY_ERROR;
    if (svc->in_request) svc->step_answers++;
    s_reply_kind(svc, peer, reply, refusal ? WH_OUT_REFUSAL : WH_OUT_REPLY);
}

void wh_service_error(wh_service_t *svc, const struct wh_peer *peer, int code,
                      const char *field, const char *message, int state)
{
    Whistle__V1__Reply reply = WHISTLE__V1__REPLY__INIT;
    Whistle__V1__Error err = WHISTLE__V1__ERROR__INIT;
    /* field and message may echo a peer's bytes: what is not valid UTF-8 becomes U+FFFD, or
     * the peer's protobuf (Google's refuses invalid strings) could not read the answer */
    char f[128], m[1024];
    if (!field) field = "";
    if (!message) message = wh_strerror(code);
    if (!wh_utf8_valid(field, strlen(field))) {
        wh_utf8_sanitize(f, sizeof f, field);
        field = f;
    }
    if (!wh_utf8_valid(message, strlen(message))) {
        wh_utf8_sanitize(m, sizeof m, message);
        message = m;
    }
    err.code = code;
    err.field = (char *)field;
    err.message = (char *)message;
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
        cur[i].not_applied = svc->followers[i]->not_applied;
        cur[i].stopped = svc->followers[i]->stopped;
        cur[i].silent_ms = wh_mono_ms() - svc->followers[i]->heard_ms;
        cur[i].silent = wh__follower_silent(svc->followers[i], wh_mono_ms());
        curp[i] = &cur[i];
    }
    pong.n_cursors = svc->n_followers;
    pong.cursors = curp;
    char condition[320];
    pong.failed_batches = svc->failed_batches;
    if (svc->fail_cause[0]) {
        snprintf(condition, sizeof condition,
                 "storage: %s (%llu failed batch(es) in %lld s); requests are answered ESTORE "
                 "and work resumes by itself when storage does",
                 svc->fail_cause, (unsigned long long)svc->fail_run,
                 (long long)((wh_mono_ms() - svc->fail_since_ms) / 1000));
        pong.condition = condition;
    }
    reply.body_case = WHISTLE__V1__REPLY__BODY_PONG;
    reply.pong = &pong;
    s_reply_kind(svc, peer, &reply, WH_OUT_FIXED); /* Ping answers even when storage fails */
}

/* ---- Stats: the runtime's series, then the service's (docs/metrics.md) ------------------ */

static const char *s_req_name(int req)
{
    const ProtobufCFieldDescriptor *fd =
        req > 0 ? protobuf_c_message_descriptor_get_field(&whistle__v1__request__descriptor,
                                                           (unsigned)req)
                : NULL;
    return fd ? fd->name : "unknown";
}

/* Entries and streams in the log tables (mdb_stat: no scan), when `txn` is open. */
static void s_stats_log(wh_service_t *svc, MDB_txn *txn, wh_metrics_t *m)
{
    wh_metrics_add(m, WH_METRIC_GAUGE, "whistle_log_head",
                   "Last sequence committed to the service's own log.", (double)svc->head,
                   "stream", svc->stream, NULL);
    MDB_stat st;
    if (txn && mdb_stat(txn, wh_store_dbi(svc->store, "heads"), &st) == 0)
        wh_metrics_add(m, WH_METRIC_GAUGE, "whistle_log_streams",
                       "Log streams (for notification: topics) this service keeps.",
                       (double)st.ms_entries, NULL);
    if (txn && mdb_stat(txn, wh_store_dbi(svc->store, "log"), &st) == 0)
        wh_metrics_add(m, WH_METRIC_GAUGE, "whistle_log_entries",
                       "Log entries kept, every stream together (after retention).",
                       (double)st.ms_entries, NULL);
}

static void s_stats_followers(wh_service_t *svc, wh_metrics_t *m)
{
    int64_t now = wh_mono_ms();
    for (size_t i = 0; i < svc->n_followers; i++) {
        const struct wh_follower *f = svc->followers[i];
        uint64_t lag = f->upstream_head > f->committed ? f->upstream_head - f->committed : 0;
        wh_metrics_add(m, WH_METRIC_GAUGE, "whistle_follower_cursor",
                       "Last upstream sequence applied and committed.", (double)f->committed,
                       "upstream", f->name, NULL);
        wh_metrics_add(m, WH_METRIC_GAUGE, "whistle_follower_lag",
                       "Upstream head heard of minus the committed cursor.", (double)lag,
                       "upstream", f->name, NULL);
        wh_metrics_add(m, WH_METRIC_COUNTER, "whistle_follower_not_applied_total",
                       "Upstream entries recorded as not applicable since start.",
                       (double)f->not_applied, "upstream", f->name, NULL);
        wh_metrics_add(m, WH_METRIC_GAUGE, "whistle_follower_silent",
                       "1 while nothing was heard from the upstream for longer than the link "
                       "timeout.",
                       wh__follower_silent(f, now) ? 1 : 0, "upstream", f->name, NULL);
        wh_metrics_add(m, WH_METRIC_GAUGE, "whistle_follower_stopped",
                       "1 when the follower stopped because its upstream diverged.",
                       f->stopped[0] ? 1 : 0, "upstream", f->name, NULL);
    }
}

/* Served like Ping, outside the batch; with keys on, to services and operators only. */
static void s_stats(wh_service_t *svc, const struct wh_peer *peer)
{
    if (svc->auth && !wh_identity_trusted(&peer->who)) {
        s_error_now(svc, peer, WH_EFORBIDDEN, "request.stats",
                    "stats are for services and operators");
        return;
    }
    wh_metrics_t *m = wh_metrics_new(svc->cfg.name);
    if (!m) {
        s_error_now(svc, peer, WH_ENOMEM, "request.stats", "out of memory");
        return;
    }
    for (size_t i = 0; i < svc->n_reqcounts; i++) {
        const struct wh_reqcount *c = &svc->reqcounts[i];
        wh_metrics_add(m, WH_METRIC_COUNTER, "whistle_requests_total",
                       "Requests answered, by request type and outcome (ok or the error code).",
                       (double)c->n, "type", s_req_name(c->req), "outcome",
                       c->code ? wh_errname(c->code) : "ok", NULL);
    }
    wh_metrics_histogram(m, "whistle_commit_duration_seconds",
                         "Durable commits of a batch (LMDB's commit with its fdatasyncs); "
                         "_count is the commits.",
                         &svc->commit_time, NULL);
    wh_metrics_add(m, WH_METRIC_COUNTER, "whistle_failed_batches_total",
                   "Batches not kept (a storage failure) since start.",
                   (double)svc->failed_batches, NULL);
    wh_metrics_add(m, WH_METRIC_GAUGE, "whistle_storage_failing",
                   "1 while storage fails (requests are answered ESTORE).",
                   svc->fail_cause[0] ? 1 : 0, NULL);
    wh_metrics_add(m, WH_METRIC_COUNTER, "whistle_xpub_published_total",
                   "Log entries handed to the XPUB for subscribers.", (double)svc->published,
                   NULL);
    wh_metrics_add(m, WH_METRIC_COUNTER, "whistle_xpub_send_failed_total",
                   "Log entries the XPUB refused to take (a subscriber's own drops at its "
                   "high-water mark are silent in libzmq and not counted).",
                   (double)svc->publish_failed, NULL);
    wh_metrics_add(m, WH_METRIC_GAUGE, "whistle_uptime_seconds",
                   "Seconds since the service started.",
                   (double)(wh_mono_ms() - svc->started_ms) / 1000.0, NULL);
    wh_metrics_add(m, WH_METRIC_GAUGE, "whistle_build_info", "Always 1; the version as a label.",
                   1, "version", WHISTLE_VERSION, NULL);
    s_stats_followers(svc, m);
    /* what is committed, in a read transaction of its own (MDB_NOTLS: beside the batch's) */
    MDB_txn *txn = NULL;
    if (mdb_txn_begin(wh_store_env(svc->store), NULL, MDB_RDONLY, &txn) != 0) txn = NULL;
    s_stats_log(svc, txn, m);
    if (svc->cfg.stats) svc->cfg.stats(svc->cfg.arg, svc, txn, m);
    if (txn) mdb_txn_abort(txn);
    Whistle__V1__Reply reply = WHISTLE__V1__REPLY__INIT;
    reply.body_case = WHISTLE__V1__REPLY__BODY_STATS;
    reply.stats = (Whistle__V1__StatsReply *)wh_metrics_reply(m);
    s_reply_kind(svc, peer, &reply, WH_OUT_FIXED);
    wh_metrics_destroy(&m);
}

struct s_replay_acc {
    ProtobufCBinaryData *items;
    size_t n;
};

/* An entry as the log stores it: checked when it was appended, sent as it is. The bytes are
 * LMDB's, good until the next write of the batch: the page is packed before that. */
static int s_replay_one(void *arg, uint64_t seq, const void *data, size_t len)
{
    (void)seq;
    struct s_replay_acc *acc = arg;
    acc->items[acc->n].data = (uint8_t *)data;
    acc->items[acc->n++].len = len;
    return 0;
}

static int s_replay(wh_service_t *svc, MDB_txn *txn, const struct wh_peer *peer,
                     const Whistle__V1__Replay *rq)
{
    const char *topic = rq->topic && rq->topic[0] ? rq->topic : svc->stream;
    struct wh_field_error fe;
    if (wh_check_string(&fe, "replay.topic", topic, WH_STREAM_MAX, 1)) {
        wh_service_error(svc, peer, fe.code, fe.field, fe.message, 0);
        return 0;
    }
    if (!wh_service_may_read(svc, &peer->who, topic)) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s %s may not read '%.*s'", wh_kind_name(peer->who.kind),
                 peer->who.code, (int)wh_utf8_prefix(topic, 100), topic);
        wh_log_warn("replay refused: %s", msg);
        wh_service_error(svc, peer, WH_EFORBIDDEN, "replay.topic", msg, 0);
        return 0;
    }
    uint64_t head, oldest;
    int rc = wh_eventlog_head(svc->store, txn, topic, &head, &oldest);
    if (rc) return rc; /* a storage failure: the batch fails, the request is answered ESTORE */
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
        return 0;
    }
    uint32_t max = rq->max && rq->max < WH_REPLAY_BATCH ? rq->max : WH_REPLAY_BATCH;
    ProtobufCBinaryData items[WH_REPLAY_BATCH];
    struct s_replay_acc acc = {items, 0};
    if (from <= head) {
        rc = wh_eventlog_read(svc->store, txn, topic, from, max, WH_REPLAY_BYTES, s_replay_one,
                              &acc);
        if (rc < 0) wh_log_error("replay of %s from %llu failed: %s", topic,
                                 (unsigned long long)from, wh_strerror(rc));
    }
    /* Reply { request_id, replay: ReplayReply { topic, entries, head, oldest } } in its wire
     * twins (whistle.proto, ReplyPacked): the entries' bytes go in as the log holds them */
    Whistle__V1__ReplayReplyPacked rr = WHISTLE__V1__REPLAY_REPLY_PACKED__INIT;
    rr.topic = (char *)topic;
    rr.entries = acc.items;
    rr.n_entries = acc.n;
    rr.head = head;
    rr.oldest = oldest;
    Whistle__V1__ReplyPacked reply = WHISTLE__V1__REPLY_PACKED__INIT;
    reply.request_id = peer->request_id;
    reply.replay.data = wh_pack(&rr.base, &reply.replay.len);
    if (!reply.replay.data) return WH_ENOMEM;
    if (svc->in_request) svc->step_answers++;
    s_reply_packed(svc, peer, &reply.base, WH_OUT_REPLY, 0);
    free(reply.replay.data);
    return 0;
}

/* Remembers a request of the batch (a copy of its frame): answered ESTORE if the batch fails,
 * run again if it is redone. NULL when it cannot be kept (the batch then fails). */
static struct wh_batch_req *s_batch_req(wh_service_t *svc, const struct wh_peer *peer,
                                        const void *frame, size_t len)
{
    if (svc->n_reqs == svc->cap_reqs) {
        size_t cap = svc->cap_reqs ? svc->cap_reqs * 2 : 64;
        struct wh_batch_req *r = realloc(svc->reqs, cap * sizeof *r);
        if (!r) goto fail;
        svc->reqs = r;
        svc->cap_reqs = cap;
    }
    struct wh_batch_req *r = &svc->reqs[svc->n_reqs];
    memset(r, 0, sizeof *r);
    r->peer = *peer;
    r->body = svc->cur_req;
    if (!(r->frame = s_dup(frame, len))) goto fail;
    r->len = len;
    svc->n_reqs++;
    return r;
fail:
    wh_store_fail(svc->store);
    return NULL;
}

/* After the commit of a redone batch: the requests refused after they wrote get their
 * refusal (the one they queued, or their code). */
static void s_answer_refused(wh_service_t *svc)
{
    for (size_t i = 0; i < svc->n_reqs; i++) {
        struct wh_batch_req *r = &svc->reqs[i];
        if (!r->poisoned) continue;
        svc->cur_req = r->body;
        if (r->refusal.n) {
            size_t before = svc->n_out;
            wh__service_queue(svc, r->refusal.sock, WH_OUT_REFUSAL, r->refusal.n,
                              r->refusal.frame, r->refusal.len);
            if (svc->n_out > before) {
                svc->out[before].req = r->refusal.req;
                svc->out[before].code = r->refusal.code;
            }
            r->refusal.n = 0; /* the queue owns the frames now */
        } else {
            svc->in_request = 0;
            wh_service_error(svc, &r->peer, r->code, "request", wh_strerror(r->code), 0);
        }
    }
}

static void s_reqs_clear(wh_service_t *svc)
{
    for (size_t i = 0; i < svc->n_reqs; i++) {
        free(svc->reqs[i].frame);
        s_out_free(&svc->reqs[i].refusal);
    }
    svc->n_reqs = 0;
}

static void s_request(wh_service_t *svc, const struct wh_peer *peer,
                      const Whistle__V1__Request *req, const void *frame, size_t len);

/* The batch is done again without the input that wrote and was then refused: everything of it
 * is aborted, its requests run again (that one is answered its refusal), and the followers
 * replay from their durable cursors (leaving out the entry they were told to). */
static void s_redo(wh_service_t *svc)
{
    svc->redo = 0;
    wh_store_abort(svc->store);
    if (svc->cfg.after_abort) svc->cfg.after_abort(svc->cfg.arg, svc);
    svc->batch_head = svc->head;
    s_flush(svc, 0);
    for (size_t i = 0; i < svc->n_followers; i++) wh__follower_after_commit(svc->followers[i], 0);
    struct wh_batch_req *reqs = svc->reqs;
    size_t n = svc->n_reqs;
    svc->reqs = NULL;
    svc->n_reqs = svc->cap_reqs = 0;
    wh_log_warn("a batch of %zu request(s) is done again without an input refused after it "
                "wrote", n);
    for (size_t i = 0; i < n; i++) {
        struct wh_batch_req *r = &reqs[i];
        if (r->async) continue; /* its read is in flight and will answer it */
        if (!r->poisoned) {
            wh_service_handle(svc, &r->peer, r->frame, r->len);
            continue;
        }
        /* still refused in the new batch; answered when that one commits (s_answer_refused) */
        struct wh_batch_req *again = s_batch_req(svc, &r->peer, r->frame, r->len);
        if (!again) continue;
        again->poisoned = 1;
        again->body = r->body;
        again->code = r->code;
        again->refusal = r->refusal;
        r->refusal.n = 0;
    }
    for (size_t i = 0; i < n; i++) {
        free(reqs[i].frame);
        s_out_free(&reqs[i].refusal);
    }
    free(reqs);
}

/* Answers a request on its own, outside the batch (Ping, refusals before any work). */
static void s_error_now(wh_service_t *svc, const struct wh_peer *peer, int code,
                        const char *field, const char *message)
{
    Whistle__V1__Reply reply = WHISTLE__V1__REPLY__INIT;
    Whistle__V1__Error err = WHISTLE__V1__ERROR__INIT;
    err.code = code;
    err.field = (char *)field;
    err.message = (char *)message;
    reply.body_case = WHISTLE__V1__REPLY__BODY_ERROR;
    reply.error = &err;
    s_reply_kind(svc, peer, &reply, WH_OUT_FIXED);
}

/* Runs one request as a step of the batch: answered exactly once, or the batch fails (and the
 * request is then answered ESTORE), or the batch is redone (and it is run again). */
static void s_request(wh_service_t *svc, const struct wh_peer *peer,
                      const Whistle__V1__Request *req, const void *frame, size_t len)
{
    if (req->body_case == WHISTLE__V1__REQUEST__BODY_PING) {
        s_ping(svc, peer);
        return;
    }
    if (req->body_case == WHISTLE__V1__REQUEST__BODY_STATS) {
        s_stats(svc, peer);
        return;
    }
    if (req->body_case == WHISTLE__V1__REQUEST__BODY__NOT_SET) {
        s_error_now(svc, peer, WH_EFIELD, "request.body", "request has no body");
        return;
    }
    if (req->body_case != WHISTLE__V1__REQUEST__BODY_REPLAY && !svc->cfg.on_request) {
        s_error_now(svc, peer, WH_EUNSUPPORTED, "request.body",
                    "this request is not served by this service");
        return;
    }
    if (!s_peer_has_room(svc, peer->id, peer->id_len, 1)) {
        struct wh_peerq *q = s_peerq(svc, peer->id, peer->id_len, 0);
        if (q && !q->warned) {
            q->warned = 1;
            wh_log_warn("a peer has %zu bytes of replies unread; its requests are answered "
                        "EBUSY until it reads them", atomic_load(&q->bytes));
        }
        char msg[160];
        snprintf(msg, sizeof msg,
                 "%zu bytes of replies to you are unread (at most %u): read them, then ask again",
                 q ? atomic_load(&q->bytes) : (size_t)0, WH_PEER_QUEUE_BYTES);
        s_error_now(svc, peer, WH_EBUSY, "request", msg);
        return;
    }
    MDB_txn *txn = wh__service_step_begin(svc);
    if (!txn) {
        char msg[256];
        s_storage_msg(msg, sizeof msg, wh_store_cause(svc->store));
        s_error_now(svc, peer, WH_ESTORE, "", msg);
        return;
    }
    struct wh_batch_req *rec = s_batch_req(svc, peer, frame, len);
    if (!rec) return; /* the batch fails and is answered ESTORE */
    svc->in_request = 1;
    int rc = req->body_case == WHISTLE__V1__REQUEST__BODY_REPLAY
                 ? s_replay(svc, txn, peer, req->replay)
                 : svc->cfg.on_request(svc->cfg.arg, svc, txn, peer, req);
    svc->in_request = 0;
    if (rc == 0 && svc->step_answers != 1) {
        /* a handler bug: never leave a client waiting, never keep what it half did */
        wh_log_error("request %llu (body %d) answered %d times: %s", (unsigned long long)
                     peer->request_id, (int)req->body_case, svc->step_answers,
                     svc->step_answers ? "extra answers sent" : "its work is undone");
        if (svc->step_answers == 0) rc = WH_EINTERNAL;
    }
    size_t mark = svc->step_mark;
    rc = wh__service_step_end(svc, rc);
    if (!rc || wh_error_is_storage(rc)) return;
    if (svc->redo) {
        /* it wrote, then was refused: the batch is redone without it; its answer waits */
        rec = &svc->reqs[svc->n_reqs - 1];
        rec->poisoned = 1;
        rec->code = rc;
        if (svc->n_out > mark) {
            rec->refusal = svc->out[mark]; /* its first refusal; any other is dropped */
            s_out_uncount(&rec->refusal);
            for (size_t i = mark + 1; i < svc->n_out; i++) s_out_free(&svc->out[i]);
            svc->n_out = mark;
        }
        wh_log_warn("request %llu refused after it wrote (%s): the batch is done again without it",
                    (unsigned long long)peer->request_id, wh_errname(rc));
        return;
    }
    /* refused: its refusal is what the step kept; none kept, say the code */
    if (svc->n_out == mark) wh_service_error(svc, peer, rc, "request", wh_strerror(rc), 0);
}

static void s_on_api(void *arg, wh_sock_t *sock, const struct wh_frames *m)
{
    (void)sock;
    wh_service_t *svc = arg;
    if (m->n < 2 || m->len[0] > sizeof((struct wh_peer *)0)->id) return; /* not a ROUTER peer */
    svc->cur_req = 0; /* what it asks is not known before it is decoded */
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
        s_error_now(svc, &peer, WH_EFORBIDDEN, "request", "this peer has no identity");
        return;
    }
    if (m->truncated || m->n != body + 1) {
        s_error_now(svc, &peer, WH_EMALFORMED, "request",
                    "a request is one frame (after the routing frames)");
        return;
    }
    if (m->len[body] > WH_MAX_REQUEST_BYTES) {
        char msg[128];
        snprintf(msg, sizeof msg, "request is %zu bytes, at most %d allowed", m->len[body],
                 WH_MAX_REQUEST_BYTES);
        wh_log_warn("refused: %s", msg);
        s_error_now(svc, &peer, WH_ETOOBIG, "request", msg);
        return;
    }
    wh_service_handle(svc, &peer, m->data[body], m->len[body]);
}

void wh_service_handle(wh_service_t *svc, const struct wh_peer *peer, const void *frame,
                       size_t len)
{
    if (svc->redo) {
        /* this batch is done again at its commit: the request runs then */
        s_commit_soon(svc);
        s_batch_req(svc, peer, frame, len);
        return;
    }
    svc->cur_req = 0;
    Whistle__V1__Request *req = wh_request_unpack(frame, len);
    if (req) svc->cur_req = (int)req->body_case;
    if (!req) {
        wh_log_warn("refused a request of %zu bytes that is not a whistle.v1.Request", len);
        s_error_now(svc, peer, WH_EMALFORMED, "request",
                    "cannot decode a whistle.v1.Request (truncated or not protobuf)");
        return;
    }
    struct wh_peer p = *peer;
    p.request_id = req->request_id;
    if (req->on_behalf && req->on_behalf[0]) {
        /* a trusted peer (the gateway) acts for its caller; the rules then apply to the
         * caller's identity, here in the one place every request passes */
        struct wh_identity as;
        if (svc->auth && !wh_identity_trusted(&peer->who)) {
            s_error_now(svc, &p, WH_EFORBIDDEN, "request.on_behalf",
                        "only a service or operator key may act on behalf of another");
        } else if (wh_identity_parse(req->on_behalf, &as) || !as.kind) {
            s_error_now(svc, &p, WH_EFIELD, "request.on_behalf",
                        "on_behalf is 'kind:code' (department:cg, township:north, ...)");
        } else {
            p.who = as;
            s_request(svc, &p, req, frame, len);
        }
        whistle__v1__request__free_unpacked(req, NULL);
        return;
    }
    s_request(svc, &p, req, frame, len);
    whistle__v1__request__free_unpacked(req, NULL);
}

/* ---- reads off the loop ---------------------------------------------------------------
 *
 * A heavy read (figures over a year of cases) would hold the loop for seconds: no commit, no
 * answer, no heartbeat. It runs instead on libuv's thread pool in a read transaction of its
 * own (the environment has MDB_NOTLS: a reader slot is not tied to a thread), beside the
 * batch's write transaction, and is answered from the loop when it is done. Its answer
 * belongs to no batch: it is queued as WH_OUT_FIXED, sent at the end of the turn whatever
 * the batch does, and its request is left out of the batch's ESTORE answers and redo. */

struct s_read {
    uv_work_t work;           /* work.data: this */
    wh_service_t *svc;
    struct wh_peer peer;      /* a copy: routing id, request_id, identity */
    int req;                  /* the Request's body case (Stats) */
    wh_read_fn fn;
    wh_read_done_fn done;
    void *arg;
    int rc;                   /* fn's result, or why it could not run */
};

/* On a thread of the pool: only the store's thread-safe read calls and fn. */
static void s_read_work(uv_work_t *w)
{
    struct s_read *r = w->data;
    wh_store_t *st = r->svc->store;
    MDB_txn *txn;
    r->rc = wh_store_read_begin(st, &txn);
    if (r->rc) return;
    r->rc = r->fn(r->arg, st, txn);
    wh_store_read_end(st, txn);
}

/* Back on the loop. */
static void s_read_after(uv_work_t *w, int status)
{
    struct s_read *r = w->data;
    wh_service_t *svc = r->svc;
    if (status == UV_ECANCELED) r->rc = WH_EINTERNAL;
    svc->n_reads--;
    svc->cur_req = r->req;
    svc->read_answers = 0;
    r->done(r->arg, svc, &r->peer, r->rc);
    if (svc->read_answers == 0) {
        wh_log_error("read for request %llu was not answered: answering EINTERNAL",
                     (unsigned long long)r->peer.request_id);
        s_error_now(svc, &r->peer, WH_EINTERNAL, "request", "the read was not answered");
    }
    free(r);
}

int wh_service_read_async(wh_service_t *svc, const struct wh_peer *peer, wh_read_fn work,
                          wh_read_done_fn done, void *arg)
{
    if (svc->n_reads >= WH_READS_IN_FLIGHT) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "%d heavy reads (figures, bulletins) are running, the most at once: ask again "
                 "in a moment", svc->n_reads);
        s_error_now(svc, peer, WH_EBUSY, "request", msg);
        if (svc->in_request) {
            svc->step_answers++;
            if (svc->n_reqs) svc->reqs[svc->n_reqs - 1].async = 1; /* answered, for good */
        }
        return WH_EBUSY;
    }
    struct s_read *r = calloc(1, sizeof *r);
    if (!r) return WH_ENOMEM;
    r->work.data = r;
    r->svc = svc;
    r->peer = *peer;
    r->req = svc->cur_req;
    r->fn = work;
    r->done = done;
    r->arg = arg;
    if (uv_queue_work(&svc->loop, &r->work, s_read_work, s_read_after) != 0) {
        free(r);
        return WH_ENOMEM;
    }
    svc->n_reads++;
    if (svc->in_request) {
        /* answered, later and outside the batch: its request is no longer the batch's */
        svc->step_answers++;
        if (svc->n_reqs) svc->reqs[svc->n_reqs - 1].async = 1;
    }
    return 0;
}

int wh_service_reads_in_flight(const wh_service_t *svc) { return svc->n_reads; }

void wh_service_answer(wh_service_t *svc, const struct wh_peer *peer, Whistle__V1__Reply *reply)
{
    svc->read_answers++;
    s_reply_kind(svc, peer, reply, WH_OUT_FIXED);
}

/* ---- the own log ----------------------------------------------------------------------- */

/* An entry just appended to `stream`: its publication queued for after the commit (takes
 * `packed`). */
static int s_appended(wh_service_t *svc, const char *stream, uint64_t seq, uint8_t *packed,
                      size_t plen)
{
    if (strcmp(stream, svc->stream) == 0) svc->batch_head = seq;
    uint8_t *frames[2] = {s_dup(stream, strlen(stream)), packed};
    size_t lens[2] = {strlen(stream), plen};
    if (!frames[0]) {
        free(packed);
        return WH_ENOMEM;
    }
    wh__service_queue(svc, svc->events, WH_OUT_EVENT, 2, frames, lens);
    return 0;
}

int wh_service_append(wh_service_t *svc, MDB_txn *txn, const char *stream,
                      Whistle__V1__Envelope *env, uint64_t *seq_out)
{
    if (!stream) stream = svc->stream;
    char idbuf[96];
    uint64_t seq;
    uint8_t *packed;
    size_t plen;
    int rc = wh_eventlog_append(svc->store, txn, stream, env, idbuf, &seq, &packed, &plen);
    env->event_id = NULL; /* idbuf is ours */
    if (rc || (rc = s_appended(svc, stream, seq, packed, plen))) return rc;
    if (seq_out) *seq_out = seq;
    return 0;
}

int wh_service_append_body(wh_service_t *svc, MDB_txn *txn, const char *stream,
                           const uint8_t *body, size_t body_len, uint64_t *seq_out)
{
    if (!stream) stream = svc->stream;
    uint64_t seq;
    uint8_t *packed;
    size_t plen;
    int rc = wh_eventlog_append_body(svc->store, txn, stream, body, body_len, &seq, &packed,
                                     &plen);
    if (rc || (rc = s_appended(svc, stream, seq, packed, plen))) return rc;
    if (seq_out) *seq_out = seq;
    return 0;
}

/* ---- heartbeat, signals, lifecycle ----------------------------------------------------- */

static void s_on_tick(uv_timer_t *h)
{
    wh_service_t *svc = h->data;
    wh__heartbeat_tick(svc);
    s_peerq_sweep(svc, 0);
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
    /* keys off, the peer is not identified: anything; an identity (a key, or on_behalf with
     * keys off) meets the service's rule */
    if ((!svc->auth && who->kind == WH_KIND_NONE) || wh_identity_trusted(who)) return 1;
    if (!who->kind || !svc->cfg.may_read) return 0;
    return svc->cfg.may_read(svc->cfg.arg, who, topic);
}

/* The allowlist lost a key or changed one's identity (auth.c). Open connections keep the
 * User-Id their handshake gave them, and ZeroMQ cannot drop one peer of a ROUTER or XPUB; but
 * zmq_unbind ends every session accepted through that endpoint (libzmq 4.3). So both endpoints
 * are unbound and bound again: every peer reconnects (a SUB re-sends its subscriptions) and
 * meets the ZAP handler with the new list; a removed key gets nothing more. A reply still
 * queued for a peer at that instant is lost with its session: the client asks again. */
static void s_on_revoke(void *arg)
{
    wh_service_t *svc = arg;
    wh_sock_t *socks[2] = {svc->api, svc->events};
    for (int i = 0; i < 2; i++) {
        char ep[256];
        snprintf(ep, sizeof ep, "%s", wh_sock_endpoint(socks[i]));
        if (zmq_unbind(wh_sock_zmq(socks[i]), ep) != 0)
            wh_log_error("allowlist: cannot unbind %s to cut removed keys: %s", ep,
                         zmq_strerror(zmq_errno()));
        else if (wh_sock_bind(socks[i], ep) != 0)
            wh_log_error("allowlist: %s not bound again after cutting removed keys", ep);
    }
    wh_log_warn("allowlist: a key was removed or changed: every connection cut, to be vetted "
                "again");
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
        /* Without a User-Id it is the XPUB's own, for a vetted subscription of a pipe that
         * closed; with one, it counts only if that peer could have been vetted for it: a
         * refused peer's unsubscription never silences the topic's heartbeat for others. */
        struct wh_identity who;
        if (!m->user_id || (wh_identity_parse(m->user_id, &who) == 0 && who.kind &&
                            tl == m->len[0] - 1 && wh_service_may_read(svc, &who, topic)))
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
    static const double commit_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                       0.05,   0.1,   0.25,   0.5,   1,    2.5};
    wh_histogram_init(&svc->commit_time, commit_le, sizeof commit_le / sizeof commit_le[0]);
    uv_loop_init(&svc->loop);
    /* Upstreams are named (tcp://tracking:7121) and libzmq resolves a connecting socket's name
     * with a blocking getaddrinfo in the I/O thread that runs its session, at every reconnect.
     * Behind a resolver that does not answer (Swarm and Kubernetes publish a task's name only
     * once it is healthy; a silent resolver takes timeout x attempts, 10 s by default, per
     * lookup) that thread is stuck for as long as the name does not resolve: with libzmq's one
     * I/O thread the service's own ROUTER and XPUB, which run their accepted connections on
     * it, answered nothing, not even the health check's Ping, and the orchestrator restarted
     * the service for ever (issue 14). So the context has one I/O thread for the service's own
     * endpoints and one per follower (ZMQ_IO_THREADS, set before the first socket; each socket
     * pinned by ZMQ_AFFINITY before it binds or connects: a bound socket's accepted sessions,
     * and a connecting socket's session and its lookups, run on a thread of its affinity): a
     * name that hangs holds up only the follower that needs it (its SUB and DEALER are useless
     * until it resolves anyway), never the service's answers nor its other upstreams.
     * Resolving names ourselves off the loop (uv_getaddrinfo) and connecting by address was
     * the other way: but libzmq looks the name up again at every reconnect, which is how a
     * task that comes back elsewhere with a new address is found; connecting by address would
     * need our own watching of disconnections and re-resolution, ZeroMQ's job done twice. The
     * cost: four more threads (one per possible follower; unused ones only wait), and a
     * SIGTERM during hung lookups is carried out when they end (zmq_ctx_term joins the
     * threads; the last batch is committed before). */
    svc->zctx = zmq_ctx_new();
    if (!svc->zctx) {
        wh_log_error("zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
        uv_loop_close(&svc->loop);
        free(svc);
        return NULL;
    }
    if (zmq_ctx_set(svc->zctx, ZMQ_IO_THREADS, WH_IO_THREADS) != 0) {
        wh_log_error("zmq_ctx_set ZMQ_IO_THREADS %d: %s", WH_IO_THREADS,
                     zmq_strerror(zmq_errno()));
        goto fail;
    }
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
    /* the service's own answers on their own I/O thread, whatever its upstreams' names do (the
     * ZAP handler is inproc: no I/O thread carries it, these sessions ask it) */
    if (wh__io_affinity(wh_sock_zmq(svc->api), WH_IO_OWN) ||
        wh__io_affinity(wh_sock_zmq(svc->events), WH_IO_OWN))
        goto fail;
    if (svc->auth) {
        int one = 1;
        if (wh_auth_server(svc->auth, wh_sock_zmq(svc->api)) ||
            wh_auth_server(svc->auth, wh_sock_zmq(svc->events)) ||
            zmq_setsockopt(wh_sock_zmq(svc->events), ZMQ_XPUB_MANUAL, &one, sizeof one))
            goto fail;
    }
    int hwm = WH_EVENTS_HWM, ev_hwm = cfg->events_hwm > 0 ? cfg->events_hwm : WH_EVENTS_HWM;
    zmq_setsockopt(wh_sock_zmq(svc->events), ZMQ_SNDHWM, &ev_hwm, sizeof ev_hwm);
    hwm = WH_API_HWM;
    zmq_setsockopt(wh_sock_zmq(svc->api), ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(wh_sock_zmq(svc->api), ZMQ_RCVHWM, &hwm, sizeof hwm);
    /* a peer gone silent (a partition, a host gone) is given up after a few heartbeats */
    if (wh_link_watch(wh_sock_zmq(svc->api), cfg->heartbeat_ms) ||
        wh_link_watch(wh_sock_zmq(svc->events), cfg->heartbeat_ms))
        goto fail;
    if (wh_sock_bind(svc->api, cfg->api_endpoint) || wh_sock_bind(svc->events, cfg->events_endpoint))
        goto fail;
    if (svc->auth) wh_auth_on_revoke(svc->auth, s_on_revoke, svc);

    uv_idle_init(&svc->loop, &svc->pending);
    uv_check_init(&svc->loop, &svc->commit);
    svc->commit.data = svc;
    uv_check_start(&svc->commit, s_on_check);
    uv_timer_init(&svc->loop, &svc->tick);
    svc->tick.data = svc;
    int hb = cfg->heartbeat_ms > 0 ? cfg->heartbeat_ms : 1000;
    uv_timer_start(&svc->tick, s_on_tick, (uint64_t)hb, (uint64_t)hb);
    uv_timer_init(&svc->loop, &svc->wake);
    uv_timer_init(&svc->loop, &svc->retry);
    svc->retry.data = svc;
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

int wh__io_affinity(void *zsock, int thread)
{
    uint64_t mask = (uint64_t)1 << thread;
    if (zmq_setsockopt(zsock, ZMQ_AFFINITY, &mask, sizeof mask) != 0) {
        wh_log_error("ZMQ_AFFINITY %d: %s", thread, zmq_strerror(zmq_errno()));
        return WH_EBUS;
    }
    return 0;
}

static void s_noop_close(uv_handle_t *h) { (void)h; }

void wh_service_destroy(wh_service_t **self_p)
{
    if (!self_p || !*self_p) return;
    wh_service_t *svc = *self_p;
    *self_p = NULL;
    /* reads in flight finish and are answered while the sockets are still there: no late
     * callback ever sees a freed service */
    while (svc->n_reads > 0) uv_run(&svc->loop, UV_RUN_ONCE);
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
    uv_close((uv_handle_t *)&svc->retry, s_noop_close);
    uv_close((uv_handle_t *)&svc->sigterm, s_noop_close);
    uv_close((uv_handle_t *)&svc->sigint, s_noop_close);
    uv_run(&svc->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&svc->loop) != 0) wh_log_error("loop closed with handles still open");
    wh_store_close(&svc->store);
    zmq_ctx_term(svc->zctx); /* every queued reply has been freed now */
    s_peerq_sweep(svc, 1);
    wh__heartbeat_free(svc);
    free(svc->out);
    s_reqs_clear(svc);
    free(svc->reqs);
    free(svc->reqcounts);
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

void wh_service_commit(wh_service_t *svc) { s_commit(svc); }

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
