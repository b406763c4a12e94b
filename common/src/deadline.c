/* deadline.c: due-ordered deadlines in LMDB and one libuv timer for the nearest. Each expiry
 * is a step of the batch: a decision that it does not apply removes the row and nothing else;
 * a storage failure fails the batch, and the timer comes again after a growing pause. */
#include "whistle/deadline.h"
#include "service_int.h"
#include "whistle/clock.h"
#include "whistle/error.h"
#include "whistle/wlog.h"
#include <stdlib.h>
#include <string.h>

#define WH_DEADLINE_BATCH 256

struct wh_deadlines {
    wh_service_t *svc;
    const char *table;
    wh_deadline_fn fire;
    wh_deadline_gate_fn gate;
    void *arg;
    uv_timer_t timer;
    int64_t armed_for;  /* due time the timer is set for; 0 none, -1 waiting on the gate,
                           -2 fired: retrying unless a commit re-arms it */
    int64_t retry_ms;   /* pause before firing again when the firing's batch failed */
    char skip_id[WH_DEADLINE_ID_MAX + 1]; /* refused after it wrote: its row only is removed */
    int64_t skip_due;                     /* ... when it fires again */
};

static size_t s_key(uint8_t *key, int64_t due, const char *id)
{
    size_t n = strlen(id);
    if (n > WH_DEADLINE_ID_MAX) n = WH_DEADLINE_ID_MAX;
    wh_be64_put(key, (uint64_t)due);
    memcpy(key + 8, id, n);
    return 8 + n;
}

int wh_deadlines_move(wh_deadlines_t *self, MDB_txn *txn, const char *id, int64_t old_due,
                      int64_t new_due)
{
    return wh_deadline_row_move(wh_service_store(self->svc), txn, self->table, id, old_due,
                                new_due);
}

int wh_deadline_row_move(wh_store_t *st, MDB_txn *txn, const char *table, const char *id,
                         int64_t old_due, int64_t new_due)
{
    if (old_due == new_due) return 0;
    MDB_dbi dbi = wh_store_dbi(st, table);
    uint8_t key[8 + WH_DEADLINE_ID_MAX];
    int rc = 0;
    if (old_due) {
        rc = wh_store_del(st, txn, dbi, key, s_key(key, old_due, id));
        if (rc == WH_ENOTFOUND) rc = 0;
    }
    if (rc == 0 && new_due) rc = wh_store_put(st, txn, dbi, key, s_key(key, new_due, id), "", 0);
    return rc;
}

static void s_on_timer(uv_timer_t *h)
{
    wh_deadlines_t *self = h->data;
    self->armed_for = 0;
    if (self->gate && !self->gate(self->arg)) {
        /* decide on an up-to-date view only: look again shortly */
        self->armed_for = -1;
        uv_timer_start(&self->timer, s_on_timer, 50, 0);
        return;
    }
    wh_store_t *st = wh_service_store(self->svc);
    MDB_txn *txn = wh_service_txn(self->svc);
    if (!txn) goto retry;
    MDB_dbi dbi = wh_store_dbi(st, self->table);
    int64_t now = wh_now_ms();
    struct {
        char id[WH_DEADLINE_ID_MAX + 1];
        int64_t due;
    } due[WH_DEADLINE_BATCH];
    size_t n = 0;
    MDB_cursor *cur;
    MDB_val k, v;
    if (mdb_cursor_open(txn, dbi, &cur)) goto retry;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0 && n < WH_DEADLINE_BATCH && k.mv_size > 8 &&
           k.mv_size <= 8 + WH_DEADLINE_ID_MAX && (int64_t)wh_be64_get(k.mv_data) <= now) {
        due[n].due = (int64_t)wh_be64_get(k.mv_data);
        memcpy(due[n].id, (const char *)k.mv_data + 8, k.mv_size - 8);
        due[n++].id[k.mv_size - 8] = 0;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    for (size_t i = 0; i < n && !wh__service_redoing(self->svc); i++) {
        if (self->skip_due == due[i].due && strcmp(self->skip_id, due[i].id) == 0) {
            self->skip_due = 0; /* refused after it wrote, last time: its row goes, no more */
            if (wh_error_is_storage(wh_deadlines_move(self, txn, due[i].id, due[i].due, 0))) break;
            continue;
        }
        MDB_txn *step = wh__service_step_begin(self->svc);
        if (!step) break;
        /* the expiry decides first (its callback is told the row is gone), then the row goes:
         * a refusal before any write then leaves nothing to undo */
        rc = self->fire(self->arg, step, due[i].id, due[i].due, now);
        if (rc == 0) rc = wh_deadlines_move(self, step, due[i].id, due[i].due, 0);
        rc = wh__service_step_end(self->svc, rc);
        if (wh_error_is_storage(rc)) break; /* nothing of this firing is kept */
        if (rc && wh__service_redoing(self->svc)) {
            /* it wrote, then was refused: the batch is done again without it; next time it
             * fires, only its row is removed */
            memcpy(self->skip_id, due[i].id, sizeof self->skip_id); /* both NUL-ended */
            self->skip_due = due[i].due;
            wh_log_warn("deadline of %s (%s) refused after it wrote (%s): done again without it",
                        due[i].id, self->table, wh_errname(rc));
            break;
        }
        if (rc) {
            /* a decision: this expiry does not apply; its row goes, nothing else */
            wh_log_warn("deadline of %s (%s) not applicable, removed: %s", due[i].id,
                        self->table, wh_strerror(rc));
            if (wh_error_is_storage(wh_deadlines_move(self, txn, due[i].id, due[i].due, 0)))
                break;
        }
    }
    /* A commit re-arms for what is left; if this batch fails, nothing re-arms it but this. */
retry:
    self->retry_ms = self->retry_ms ? self->retry_ms * 2 : 100;
    if (self->retry_ms > 5000) self->retry_ms = 5000;
    self->armed_for = -2;
    uv_timer_start(&self->timer, s_on_timer, (uint64_t)self->retry_ms, 0);
}

void wh_deadlines_arm(wh_deadlines_t *self)
{
    if (!self) return;
    wh_store_t *st = wh_service_store(self->svc);
    MDB_txn *txn;
    if (mdb_txn_begin(wh_store_env(st), NULL, MDB_RDONLY, &txn)) return;
    MDB_cursor *cur;
    MDB_val k, v;
    int64_t due = 0;
    if (mdb_cursor_open(txn, wh_store_dbi(st, self->table), &cur) == 0) {
        if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 && k.mv_size > 8)
            due = (int64_t)wh_be64_get(k.mv_data);
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    if (self->armed_for == -2) self->retry_ms = 0; /* the firing's batch committed */
    if (due == self->armed_for || self->armed_for == -1) return;
    uv_timer_stop(&self->timer);
    self->armed_for = due;
    if (!due) return;
    int64_t wait = due - wh_now_ms();
    uv_timer_start(&self->timer, s_on_timer, wait > 0 ? (uint64_t)wait : 0, 0);
}

wh_deadlines_t *wh_deadlines_new(wh_service_t *svc, const char *table, wh_deadline_fn fire,
                                 wh_deadline_gate_fn gate, void *arg)
{
    wh_deadlines_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->svc = svc;
    self->table = table;
    self->fire = fire;
    self->gate = gate;
    self->arg = arg;
    uv_timer_init(wh_service_loop(svc), &self->timer);
    self->timer.data = self;
    return self;
}

static void s_on_close(uv_handle_t *h) { free(h->data); }

void wh_deadlines_destroy(wh_deadlines_t **self_p)
{
    if (!self_p || !*self_p) return;
    uv_close((uv_handle_t *)&(*self_p)->timer, s_on_close);
    *self_p = NULL;
}
