/* rebuild.c: rebuilds tracking's data from notification's all/ topic, which holds every event
 * tracking ever logged, in order, each with its origin event id ("tracking/42"). Each event
 * carries the case as it was after the change and its history line, so replaying them in order
 * restores the ledger, the indexes, the visit hours and notes, tracking's own log (same
 * sequences, so every downstream cursor stays valid) and the cursor on routing. Runs before the service
 * starts, on an empty data folder only, and only when no downstream has applied more of
 * tracking's log than all/ holds: those entries exist nowhere else, and a rebuilt tracking
 * would give their sequences to other events (routing would stop, see follower.c). */
#include "tracking.h"
#include "whistle/auth.h"
#include "whistle/client.h"
#include "whistle/cursor.h"
#include "whistle/error.h"
#include "whistle/eventlog.h"
#include "whistle/wlog.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_apply(wh_store_t *st, MDB_txn *txn, const Whistle__V1__Envelope *e,
                   uint64_t origin, uint64_t *routing_seq)
{
    int rc = 0;
    if (e->payload_case == WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_UPDATED && e->case_updated->case_) {
        const Whistle__V1__CaseUpdated *u = e->case_updated;
        Whistle__V1__Case *old = NULL;
        rc = tracking_ledger_get(st, txn, u->case_->id, &old);
        if (rc && rc != WH_ENOTFOUND) return rc;
        struct tracking_before before;
        tracking_ledger_before(old, &before);
        if (old) whistle__v1__case__free_unpacked(old, NULL);
        rc = tracking_ledger_put(st, txn, u->case_, &before);
        if (rc == 0 && u->entry)
            rc = tracking_ledger_history_add(st, txn, u->case_->id, u->case_->version, u->entry);
        if (u->routing_seq > *routing_seq) *routing_seq = u->routing_seq;
    } else if (e->payload_case == WHISTLE__V1__ENVELOPE__PAYLOAD_VISIT_LOGGED) {
        const Whistle__V1__VisitLogged *v = e->visit_logged;
        rc = tracking_visits_add(st, txn, v->week, v->grid, v->staff, v->minutes, NULL);
        if (rc == 0) rc = tracking_visits_record(st, txn, v, origin); /* with its note */
    }
    return rc;
}

/* A client to `api`, keyed like the service's followers when keys are on. */
static wh_client_t *s_client(const struct wh_options *o, const char *api)
{
    if (!o->keys || !o->keys[0]) return wh_client_new(api);
    struct wh_keypair server, mine;
    char err[256];
    if (wh_keypair_load(o->keys, 0, &server, err, sizeof err) ||
        !o->service_key || wh_keypair_load(o->service_key, 1, &mine, err, sizeof err)) {
        wh_log_error("rebuild: keys on, but no usable --service-key: %s",
                     o->service_key ? err : "--service-key is required with --keys");
        return NULL;
    }
    return wh_client_new_keyed(api, &mine, server.public_key);
}

/* How far the service at upstream `which` has applied tracking's log (its Ping's cursor). */
static int s_cursor_of(const struct wh_options *o, int which, const char *name, uint64_t *seq)
{
    wh_client_t *cl = s_client(o, o->upstream_api[which]);
    if (!cl) return WH_EBUS;
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__Ping ping = WHISTLE__V1__PING__INIT;
    req.body_case = WHISTLE__V1__REQUEST__BODY_PING;
    req.ping = &ping;
    Whistle__V1__Reply *r = NULL;
    int rc = wh_client_call(cl, &req, &r, 5000);
    wh_client_destroy(&cl);
    if (rc || r->body_case != WHISTLE__V1__REPLY__BODY_PONG) {
        wh_log_error("rebuild: %s at %s does not answer: start it first (how far it applied "
                     "tracking's log decides whether a rebuild is safe)", name,
                     o->upstream_api[which]);
        if (r) whistle__v1__reply__free_unpacked(r, NULL);
        return WH_EBUS;
    }
    *seq = 0;
    for (size_t i = 0; i < r->pong->n_cursors; i++)
        if (strcmp(r->pong->cursors[i]->upstream, "tracking") == 0)
            *seq = r->pong->cursors[i]->seq;
    whistle__v1__reply__free_unpacked(r, NULL);
    return 0;
}

int tracking_rebuild(const struct wh_options *o)
{
    const char *data_dir = o->data_dir;
    const char *notification_api = o->upstream_api[WH_UP_NOTIFICATION];
    static const char *const tables[] = {TRACKING_TABLES, NULL};
    wh_store_t *st = wh_store_open(data_dir, tables);
    if (!st) return WH_ESTORE;
    wh_client_t *cl = NULL;
    uint64_t head = 0, routing_seq = 0;
    int rc = 0;
    MDB_txn *txn = wh_store_txn(st);
    if (!txn || wh_eventlog_head(st, txn, "tracking/", &head, NULL)) {
        rc = WH_ESTORE;
        goto out;
    }
    wh_store_abort(st);
    if (head) {
        wh_log_error("rebuild: %s already holds %" PRIu64 " events; rebuild only into an empty "
                     "data folder", data_dir, head);
        rc = WH_ESTATE;
        goto out;
    }
    uint64_t kept = 0, applied = 0;
    if ((rc = s_cursor_of(o, WH_UP_NOTIFICATION, "notification", &kept)) ||
        (rc = s_cursor_of(o, WH_UP_ROUTING, "routing", &applied)))
        goto out;
    if (applied > kept) {
        wh_log_error("rebuild: refused: routing has applied tracking's log up to %" PRIu64
                     " but notification's all/ holds it only up to %" PRIu64 "; entries %" PRIu64
                     "..%" PRIu64 " exist nowhere else, and a rebuilt tracking would give their "
                     "sequences to other events. Restore tracking's data folder from a backup "
                     "instead", applied, kept, kept + 1, applied);
        rc = WH_ESTATE;
        goto out;
    }
    cl = s_client(o, notification_api);
    if (!cl) {
        rc = WH_EBUS;
        goto out;
    }
    wh_log_info("rebuild: replaying notification's all/ from %s into %s", notification_api,
                data_dir);
    for (;;) {
        Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
        Whistle__V1__Replay rp = WHISTLE__V1__REPLAY__INIT;
        rp.topic = "all/";
        rp.from_seq = head + 1;
        rp.max = 512;
        req.body_case = WHISTLE__V1__REQUEST__BODY_REPLAY;
        req.replay = &rp;
        Whistle__V1__Reply *r = NULL;
        rc = wh_client_call(cl, &req, &r, 10000);
        if (rc) {
            wh_log_error("rebuild: no replay from notification at %s: %s", notification_api,
                         wh_strerror(rc));
            goto out;
        }
        if (r->body_case != WHISTLE__V1__REPLY__BODY_REPLAY) {
            wh_log_error("rebuild: notification refused: %s",
                         r->body_case == WHISTLE__V1__REPLY__BODY_ERROR ? r->error->message : "?");
            whistle__v1__reply__free_unpacked(r, NULL);
            rc = WH_EGONE;
            goto out;
        }
        Whistle__V1__ReplayReply *rr = r->replay;
        txn = wh_store_txn(st);
        for (size_t i = 0; txn && rc == 0 && i < rr->n_entries; i++) {
            Whistle__V1__Envelope *e = rr->entries[i];
            unsigned long long origin = 0;
            if (sscanf(e->event_id, "tracking/%llu", &origin) != 1 || origin != head + 1) {
                wh_log_error("rebuild: all/ entry %" PRIu64 " is %s, expected tracking/%" PRIu64
                             " (was all/ trimmed?)", e->seq, e->event_id, head + 1);
                rc = WH_EGONE;
                break;
            }
            rc = s_apply(st, txn, e, origin, &routing_seq);
            if (rc == 0) {
                /* the same entry, at the same sequence, in tracking's own log */
                char idbuf[96];
                Whistle__V1__Envelope copy = *e;
                uint64_t seq = 0;
                rc = wh_eventlog_append(st, txn, "tracking/", &copy, idbuf, &seq, NULL, NULL);
                if (rc == 0 && seq != origin) rc = WH_ESTORE;
                head = seq;
            }
        }
        if (rc == 0 && txn) rc = wh_cursor_set(st, txn, "routing", routing_seq);
        int done = rr->n_entries == 0 || head >= rr->head;
        whistle__v1__reply__free_unpacked(r, NULL);
        if (rc) {
            wh_store_abort(st);
            goto out;
        }
        if ((rc = wh_store_commit(st))) goto out;
        if (done) break;
    }
    wh_log_info("rebuild: %" PRIu64 " events restored, routing cursor at %" PRIu64, head,
                routing_seq);
out:
    wh_client_destroy(&cl);
    wh_store_close(&st);
    return rc;
}
