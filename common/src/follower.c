/* follower.c: applies an upstream service's log exactly once and in order.
 *
 * Live entries come on a SUB socket; anything missed (a gap, a restart, an upstream heartbeat
 * showing a head beyond the cursor) is fetched with Replay on a DEALER. An entry is applied
 * only when its seq is cursor + 1, in the batch transaction that also stores the cursor, so
 * at-least-once transport gives an exactly-once effect, across kill -9 too. */
#include "service_int.h"
#include "whistle/clock.h"
#include "whistle/cursor.h"
#include "whistle/error.h"
#include "whistle/wlog.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* Applies `env` if it is the next entry, as a step of the batch. 1 applied (or recorded as
 * not applicable: a decision about this entry, which must never stop the follower), 0 skipped,
 * <0 the batch fails (a storage failure: retried after a pause) or is redone (the entry was
 * refused after it wrote: it comes back by replay and is then passed). */
static int s_apply(struct wh_follower *f, const Whistle__V1__Envelope *env)
{
    if (env->seq != f->cursor + 1 || f->stopped[0] || wh__service_redoing(f->svc)) return 0;
    if (env->seq == f->skip_seq) {
        f->skip_seq = 0;
        f->not_applied++;
        f->cursor = env->seq;
        wh_log_warn("%s%llu (%s) not applicable, passed", f->topic, (unsigned long long)env->seq,
                    env->event_id ? env->event_id : "");
        return 1;
    }
    MDB_txn *txn = wh__service_step_begin(f->svc);
    if (!txn) return WH_ESTORE;
    int rc = wh__service_step_end(f->svc, f->apply(f->arg, f->svc, txn, env));
    if (wh_error_is_storage(rc)) return rc; /* logged once per cause by the commit */
    if (rc && wh__service_redoing(f->svc)) {
        f->skip_seq = env->seq; /* its writes go with this batch; passed when it comes again */
        wh_log_warn("%s%llu (%s) refused after it wrote (%s): the batch is done again without it",
                    f->topic, (unsigned long long)env->seq, env->event_id ? env->event_id : "",
                    wh_errname(rc));
        return rc;
    }
    if (rc) {
        f->not_applied++;
        wh_log_warn("%s%llu (%s) not applicable, passed: %s", f->topic,
                    (unsigned long long)env->seq, env->event_id ? env->event_id : "",
                    wh_strerror(rc));
    }
    f->cursor = env->seq;
    return 1;
}

/* The upstream answered a replay from `from` with a log that ends at `head`, below what this
 * follower had applied when it asked: the upstream was rebuilt or replaced. Applying its new
 * entries would skip or mix them: stop, say so, and wait for an operator. Only a replay reply
 * to the latest request can tell (a heartbeat may be older than entries fetched by replay). */
static void s_check_head(struct wh_follower *f, uint64_t from, uint64_t head)
{
    if (from == 0 || head + 1 >= from || f->stopped[0]) return;
    snprintf(f->stopped, sizeof f->stopped,
             "%s's log ends at %llu but this service applied it up to %llu: %s was rebuilt or "
             "replaced behind this service; restore %s's data, or rebuild this service from it",
             f->name, (unsigned long long)head, (unsigned long long)(from - 1), f->name, f->name);
    wh_log_error("following %s STOPPED: %s", f->name, f->stopped);
}

/* Anything from the upstream shows the link works. After a silence (a partition, the upstream
 * down) what it published meanwhile went with the old connection, and a replay in flight
 * may never be answered: ask again now, not after WH_REPLAY_TIMEOUT_MS. */
static void s_heard(struct wh_follower *f)
{
    int64_t now = wh_mono_ms();
    if (f->silent) {
        wh_log_info("heard from %s again after %lld ms of silence; replaying", f->name,
                    (long long)(now - f->heard_ms));
        f->silent = 0;
        f->replay_sent_ms = 0;
        f->want_replay = 1;
    }
    f->heard_ms = now;
}

int wh__follower_silent(const struct wh_follower *f, int64_t now_mono)
{
    return f->silent || now_mono - f->heard_ms > wh_link_timeout_ms(f->svc->cfg.heartbeat_ms);
}

static void s_on_live(void *arg, wh_sock_t *sock, const struct wh_frames *m)
{
    (void)sock;
    struct wh_follower *f = arg;
    s_heard(f);
    if (m->n != 2) return;
    Whistle__V1__Envelope *env = wh_envelope_unpack(m->data[1], m->len[1]);
    if (!env) {
        wh_log_warn("dropped an undecodable message on %s", f->topic);
        return;
    }
    if (env->payload_case == WHISTLE__V1__ENVELOPE__PAYLOAD_HEARTBEAT) {
        /* a head below the cursor: stale, or the upstream diverged; a replay tells which */
        if (env->heartbeat->head < f->cursor) f->want_replay = 1;
        if (env->heartbeat->head > f->upstream_head) f->upstream_head = env->heartbeat->head;
        if (f->upstream_head > f->cursor) f->want_replay = 1;
    } else {
        if (env->seq > f->upstream_head) f->upstream_head = env->seq;
        if (f->replay_sent_ms == 0 && env->seq == f->cursor + 1) s_apply(f, env);
        else if (env->seq > f->cursor + 1) f->want_replay = 1; /* a gap: fetch what is missing */
    }
    whistle__v1__envelope__free_unpacked(env, NULL);
}

static void s_on_replay(void *arg, wh_sock_t *sock, const struct wh_frames *m)
{
    (void)sock;
    struct wh_follower *f = arg;
    s_heard(f);
    if (m->n != 1) return;
    Whistle__V1__Reply *r = wh_reply_unpack(m->data[0], m->len[0]);
    if (!r) {
        wh_log_warn("dropped an undecodable replay reply from %s", f->name);
        return;
    }
    int latest = r->request_id == f->replay_id && f->replay_sent_ms != 0;
    if (latest) f->replay_sent_ms = 0;
    if (r->body_case == WHISTLE__V1__REPLY__BODY_REPLAY) {
        Whistle__V1__ReplayReply *rr = r->replay;
        if (latest) s_check_head(f, f->replay_from, rr->head);
        if (rr->head > f->upstream_head) f->upstream_head = rr->head;
        for (size_t i = 0; i < rr->n_entries; i++)
            if (s_apply(f, rr->entries[i]) < 0) break;
        if (f->upstream_head > f->cursor) f->want_replay = 1;
    } else if (r->body_case == WHISTLE__V1__REPLY__BODY_ERROR) {
        wh_log_error("replay from %s refused: %s", f->name, r->error->message);
    }
    whistle__v1__reply__free_unpacked(r, NULL);
}

static void s_send_replay(struct wh_follower *f)
{
    if (f->stopped[0] || wh__service_backing_off(f->svc, wh_mono_ms())) return; /* tick retries */
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__Replay rp = WHISTLE__V1__REPLAY__INIT;
    rp.topic = f->topic;
    rp.from_seq = f->cursor + 1;
    rp.max = WH_REPLAY_BATCH;
    req.request_id = ++f->replay_id;
    req.body_case = WHISTLE__V1__REQUEST__BODY_REPLAY;
    req.replay = &rp;
    size_t len;
    uint8_t *buf = wh_pack(&req.base, &len);
    if (!buf) return;
    const void *d[1] = {buf};
    /* ZMQ_IMMEDIATE: fails while the upstream is down; the tick asks again */
    if (wh_sock_sendv(f->req, 1, d, &len) == 0) {
        f->replay_sent_ms = wh_mono_ms();
        f->replay_from = rp.from_seq;
        f->want_replay = 0;
        wh_log_debug("asked %s for replay from %llu", f->name, (unsigned long long)rp.from_seq);
    }
    free(buf);
}

int wh__follower_save(struct wh_follower *f, MDB_txn *txn)
{
    if (f->cursor == f->committed) return 0;
    return wh_cursor_set(wh_service_store(f->svc), txn, f->name, f->cursor);
}

void wh__follower_after_commit(struct wh_follower *f, int committed)
{
    if (committed) {
        f->committed = f->cursor;
    } else {
        /* nothing of the batch was kept: start again from the durable cursor */
        f->cursor = f->committed;
        f->replay_sent_ms = 0;
        f->want_replay = 1;
    }
    if (f->want_replay && f->replay_sent_ms == 0) s_send_replay(f);
}

void wh__follower_yield(struct wh_follower *f)
{
    wh_sock_yield(f->sub);
    wh_sock_yield(f->req);
}

void wh__follower_tick(struct wh_follower *f, int64_t now)
{
    if (!f->silent && wh__follower_silent(f, now)) {
        f->silent = 1; /* heartbeats stopped: a partition, or the upstream is down */
        wh_log_warn("nothing from %s for %lld ms: not caught up until it is heard again", f->name,
                    (long long)(now - f->heard_ms));
    }
    if (f->replay_sent_ms && now - f->replay_sent_ms > WH_REPLAY_TIMEOUT_MS) {
        wh_log_warn("no replay reply from %s within %d ms; asking again", f->name,
                    WH_REPLAY_TIMEOUT_MS);
        f->replay_sent_ms = 0;
        f->want_replay = 1;
    }
    if (f->want_replay && f->replay_sent_ms == 0) s_send_replay(f);
}

void wh__follower_destroy(struct wh_follower **f_p)
{
    if (!*f_p) return;
    wh_sock_destroy(&(*f_p)->sub);
    wh_sock_destroy(&(*f_p)->req);
    free(*f_p);
    *f_p = NULL;
}

int wh_service_follow(wh_service_t *svc, const char *upstream, const char *api_endpoint,
                      const char *events_endpoint, wh_apply_fn apply, void *arg)
{
    if (svc->n_followers == WH_MAX_FOLLOWERS) return WH_EUSAGE;
    struct wh_follower *f = calloc(1, sizeof *f);
    if (!f) return WH_ENOMEM;
    f->svc = svc;
    snprintf(f->name, sizeof f->name, "%s", upstream);
    snprintf(f->topic, sizeof f->topic, "%s/", upstream);
    f->apply = apply;
    f->arg = arg;
    f->sub = wh_sock_new(&svc->loop, svc->zctx, ZMQ_SUB, WH_MAX_WIRE_BYTES, s_on_live, f);
    f->req = wh_sock_new(&svc->loop, svc->zctx, ZMQ_DEALER, 4 * WH_MAX_WIRE_BYTES, s_on_replay, f);
    if (!f->sub || !f->req) goto fail;
    /* this upstream's connections, and the lookups of its name, on an I/O thread of their own
     * (wh_service_new says why) */
    if (wh__io_affinity(wh_sock_zmq(f->sub), WH_IO_FOLLOWER(svc->n_followers)) ||
        wh__io_affinity(wh_sock_zmq(f->req), WH_IO_FOLLOWER(svc->n_followers)))
        goto fail;
    /* what a lagging follower holds of its upstream's live entries (~10 MB); past it they are
     * dropped and fetched again by replay, which the heartbeats' heads trigger */
    int one = 1, hwm = 10000;
    zmq_setsockopt(wh_sock_zmq(f->req), ZMQ_IMMEDIATE, &one, sizeof one);
    zmq_setsockopt(wh_sock_zmq(f->sub), ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(wh_sock_zmq(f->sub), ZMQ_SUBSCRIBE, f->topic, strlen(f->topic));
    /* a silent upstream connection (a partition) is given up by the kernel after a few
     * heartbeats and made again by ZeroMQ (link.c) */
    if (wh_link_watch(wh_sock_zmq(f->sub), svc->cfg.heartbeat_ms) ||
        wh_link_watch(wh_sock_zmq(f->req), svc->cfg.heartbeat_ms))
        goto fail;
    if (svc->auth && !svc->client.secret_key[0]) {
        wh_log_error("keys are on: following %s needs this service's own key pair "
                     "(--service-key)", upstream);
        goto fail;
    }
    if (svc->auth) {
        /* the deployment's services share one server key pair; each follows with its own */
        const char *server = wh_auth_keypair(svc->auth)->public_key;
        if (wh_curve_client(wh_sock_zmq(f->sub), &svc->client, server) ||
            wh_curve_client(wh_sock_zmq(f->req), &svc->client, server))
            goto fail;
    }
    if (wh_sock_connect(f->sub, events_endpoint) || wh_sock_connect(f->req, api_endpoint))
        goto fail;
    MDB_txn *txn;
    if (mdb_txn_begin(wh_store_env(svc->store), NULL, MDB_RDONLY, &txn) != 0) goto fail;
    int rc = wh_cursor_get(svc->store, txn, f->name, &f->cursor);
    mdb_txn_abort(txn);
    if (rc) goto fail;
    f->committed = f->upstream_head = f->cursor;
    f->want_replay = 1;
    f->heard_ms = wh_mono_ms(); /* it has until wh_link_timeout_ms to be heard */
    svc->followers[svc->n_followers++] = f;
    wh_log_info("following %s from %llu (requests %s, events %s)", upstream,
                (unsigned long long)f->cursor, api_endpoint, events_endpoint);
    return 0;
fail:
    wh_sock_destroy(&f->sub);
    wh_sock_destroy(&f->req);
    free(f);
    return WH_EBUS;
}

int wh_service_apply(wh_service_t *svc, const char *upstream, const Whistle__V1__Envelope *env)
{
    for (size_t i = 0; i < svc->n_followers; i++)
        if (strcmp(svc->followers[i]->name, upstream) == 0) return s_apply(svc->followers[i], env);
    return WH_ENOTFOUND;
}

int wh_service_caught_up(const wh_service_t *svc, const char *upstream)
{
    for (size_t i = 0; i < svc->n_followers; i++) {
        const struct wh_follower *f = svc->followers[i];
        if (strcmp(f->name, upstream) == 0)
            return !f->stopped[0] && f->replay_sent_ms == 0 && !f->want_replay &&
                   f->cursor >= f->upstream_head && !wh__follower_silent(f, wh_mono_ms());
    }
    return 0;
}
