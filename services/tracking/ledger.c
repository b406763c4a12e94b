/* ledger.c: tracking's tables.
 *   cases      id -> Case
 *   history    id NUL be64(n) -> HistoryEntry
 *   idx_state  state byte, id -> ""      (cases by state, kept right on every change)
 *   idx_dept   dept NUL id -> ""         (written when the case opens)
 *   idx_grid   grid NUL id -> ""
 *   idx_unit   unit NUL id -> ""
 *   idx_due    be64(due) id -> ""     (open cases by the deadline they must meet next: overdue)
 *   verify_due be64(due) id -> ""     (resolved cases awaiting the resident: wh_deadlines) */
#include "tracking.h"
#include "whistle/deadline.h"
#include "whistle/error.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEYMAX 160

static size_t s_pair(uint8_t *key, const char *prefix, const char *id)
{
    size_t a = strlen(prefix), b = strlen(id);
    if (a + b + 1 > KEYMAX) b = KEYMAX - a - 1;
    memcpy(key, prefix, a);
    key[a] = 0;
    memcpy(key + a + 1, id, b);
    return a + 1 + b;
}

int tracking_ledger_get(wh_store_t *st, MDB_txn *txn, const char *id, Whistle__V1__Case **out)
{
    MDB_val v;
    *out = NULL;
    int rc = wh_store_get(st, txn, wh_store_dbi(st, "cases"), id, strlen(id), &v);
    if (rc) return rc;
    *out = whistle__v1__case__unpack(NULL, v.mv_size, v.mv_data);
    return *out ? 0 : WH_ESTORE;
}

static int s_index(wh_store_t *st, MDB_txn *txn, const char *table, const char *prefix,
                   const char *id)
{
    uint8_t key[KEYMAX];
    size_t n = s_pair(key, prefix ? prefix : "", id);
    return wh_store_put(st, txn, wh_store_dbi(st, table), key, n, "", 0);
}

int64_t tracking_ledger_due(const Whistle__V1__Case *c)
{
    int st = c->state;
    if (st == WHISTLE__V1__CASE_STATE__REVIEW) return c->review_deadline_ms;
    if (st != WHISTLE__V1__CASE_STATE__DISPATCHED && st != WHISTLE__V1__CASE_STATE__IN_PROGRESS &&
        st != WHISTLE__V1__CASE_STATE__REOPENED)
        return 0;
    for (size_t i = 0; i < c->n_assignments; i++)
        if (c->assignments[i]->state == WHISTLE__V1__ASSIGNMENT_STATE__NOTIFIED)
            return c->checkin_deadline_ms;
    return c->resolve_deadline_ms;
}

void tracking_ledger_before(const Whistle__V1__Case *c, struct tracking_before *b)
{
    memset(b, 0, sizeof *b);
    if (!c) return;
    b->state = c->state;
    b->due = tracking_ledger_due(c);
    b->verify = c->verify_deadline_ms;
}

static size_t s_due_key(uint8_t *key, int64_t due, const char *id)
{
    size_t n = strlen(id) < 64 ? strlen(id) : 64;
    wh_be64_put(key, (uint64_t)due);
    memcpy(key + 8, id, n);
    return 8 + n;
}

int tracking_ledger_put(wh_store_t *st, MDB_txn *txn, const Whistle__V1__Case *c,
                        const struct tracking_before *before)
{
    size_t len;
    uint8_t *buf = wh_pack(&c->base, &len);
    if (!buf) return WH_ENOMEM;
    int rc = wh_store_put(st, txn, wh_store_dbi(st, "cases"), c->id, strlen(c->id), buf, len);
    free(buf);
    if (rc) return rc;
    uint8_t key[KEYMAX];
    if (before->state != (int)c->state) {
        char s[2] = {0, 0};
        if (before->state) {
            s[0] = (char)before->state;
            rc = wh_store_del(st, txn, wh_store_dbi(st, "idx_state"), key, s_pair(key, s, c->id));
            if (rc && rc != WH_ENOTFOUND) return rc;
        } else {
            /* a new case: the indexes that never change */
            if (c->report && (rc = s_index(st, txn, "idx_grid", c->report->grid, c->id))) return rc;
            if ((rc = s_index(st, txn, "idx_unit", c->lead_unit, c->id))) return rc;
        }
        s[0] = (char)c->state;
        if ((rc = s_index(st, txn, "idx_state", s, c->id))) return rc;
    }
    /* departments can join later (ASSIGN, escalation): index every one, idempotently */
    for (size_t i = 0; i < c->n_assignments; i++)
        if ((rc = s_index(st, txn, "idx_dept", c->assignments[i]->department, c->id))) return rc;
    int64_t due = tracking_ledger_due(c);
    if (due != before->due) {
        MDB_dbi dbi = wh_store_dbi(st, "idx_due");
        if (before->due) {
            rc = wh_store_del(st, txn, dbi, key, s_due_key(key, before->due, c->id));
            if (rc && rc != WH_ENOTFOUND) return rc;
        }
        if (due && (rc = wh_store_put(st, txn, dbi, key, s_due_key(key, due, c->id), "", 0)))
            return rc;
    }
    return wh_deadline_row_move(st, txn, "verify_due", c->id, before->verify,
                                c->verify_deadline_ms);
}

int tracking_ledger_history_add(wh_store_t *st, MDB_txn *txn, const char *id, uint64_t n,
                                const Whistle__V1__HistoryEntry *entry)
{
    uint8_t key[KEYMAX + 8];
    size_t k = s_pair(key, id, "");
    wh_be64_put(key + k, n);
    size_t len;
    uint8_t *buf = wh_pack(&entry->base, &len);
    if (!buf) return WH_ENOMEM;
    int rc = wh_store_put(st, txn, wh_store_dbi(st, "history"), key, k + 8, buf, len);
    free(buf);
    return rc;
}

int tracking_ledger_history(wh_store_t *st, MDB_txn *txn, const char *id,
                            Whistle__V1__HistoryEntry ***out)
{
    uint8_t key[KEYMAX + 8];
    size_t k = s_pair(key, id, "");
    MDB_val mk = {k, key}, mv;
    MDB_cursor *cur;
    *out = NULL;
    if (mdb_cursor_open(txn, wh_store_dbi(st, "history"), &cur)) return WH_ESTORE;
    size_t n = 0, cap = 0;
    Whistle__V1__HistoryEntry **arr = NULL;
    int rc = mdb_cursor_get(cur, &mk, &mv, MDB_SET_RANGE);
    while (rc == 0 && mk.mv_size == k + 8 && memcmp(mk.mv_data, key, k) == 0) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            void *p = realloc(arr, cap * sizeof *arr);
            if (!p) break;
            arr = p;
        }
        Whistle__V1__HistoryEntry *e =
            whistle__v1__history_entry__unpack(NULL, mv.mv_size, mv.mv_data);
        if (e) arr[n++] = e;
        rc = mdb_cursor_get(cur, &mk, &mv, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    *out = arr;
    return (int)n;
}

static int s_matches(const Whistle__V1__Case *c, const Whistle__V1__ListCases *q,
                     tracking_keep_fn keep, const void *keep_arg)
{
    if (keep && !keep(keep_arg, c)) return 0;
    if (q->state && (int)c->state != (int)q->state) return 0;
    if (q->unit && q->unit[0] && strcmp(c->lead_unit, q->unit) != 0) return 0;
    if (q->grid && q->grid[0] && (!c->report || strcmp(c->report->grid, q->grid) != 0)) return 0;
    if (q->department && q->department[0]) {
        size_t i;
        for (i = 0; i < c->n_assignments; i++)
            if (strcmp(c->assignments[i]->department, q->department) == 0) break;
        if (i == c->n_assignments) return 0;
    }
    return 1;
}

/* Open cases past their deadline at `now`, most overdue first, from idx_due. */
static int s_list_overdue(wh_store_t *st, MDB_txn *txn, const Whistle__V1__ListCases *q,
                          int64_t now, tracking_keep_fn keep, const void *keep_arg,
                          Whistle__V1__Case **arr, size_t limit, size_t *n_out, char *next_after)
{
    uint8_t key[KEYMAX];
    MDB_val mk = {0, key}, mv;
    int after_given = q->after_case_id && q->after_case_id[0];
    if (after_given) {
        /* resume at the page's last case: its key is (its due, its id) */
        Whistle__V1__Case *last = NULL;
        if (tracking_ledger_get(st, txn, q->after_case_id, &last) == 0) {
            mk.mv_size = s_due_key(key, tracking_ledger_due(last), last->id);
            whistle__v1__case__free_unpacked(last, NULL);
        }
    }
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, wh_store_dbi(st, "idx_due"), &cur)) return WH_ESTORE;
    size_t n = 0;
    int rc = mk.mv_size ? mdb_cursor_get(cur, &mk, &mv, MDB_SET_RANGE)
                        : mdb_cursor_get(cur, &mk, &mv, MDB_FIRST);
    while (rc == 0 && mk.mv_size > 8 && (int64_t)wh_be64_get(mk.mv_data) <= now) {
        char id[72];
        memcpy(id, (const char *)mk.mv_data + 8, mk.mv_size - 8);
        id[mk.mv_size - 8] = 0;
        Whistle__V1__Case *c = NULL;
        if (!(after_given && strcmp(id, q->after_case_id) == 0) &&
            tracking_ledger_get(st, txn, id, &c) == 0) {
            int match = s_matches(c, q, keep, keep_arg);
            if (match && n == limit) {
                whistle__v1__case__free_unpacked(c, NULL);
                snprintf(next_after, 32, "%s", arr[n - 1]->id);
                break;
            }
            if (match) arr[n++] = c;
            else whistle__v1__case__free_unpacked(c, NULL);
        }
        rc = mdb_cursor_get(cur, &mk, &mv, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    *n_out = n;
    return 0;
}

int tracking_ledger_list(wh_store_t *st, MDB_txn *txn, const Whistle__V1__ListCases *q,
                         int64_t now, tracking_keep_fn keep, const void *keep_arg,
                         Whistle__V1__Case ***out, size_t *n_out, char *next_after)
{
    /* pick the narrowest index the query names; the other filters are checked per case */
    const char *table = "cases";
    char prefix[KEYMAX] = "";
    int has_prefix = 0;
    if (q->department && q->department[0]) {
        table = "idx_dept";
        snprintf(prefix, sizeof prefix, "%s", q->department);
        has_prefix = 1;
    } else if (q->grid && q->grid[0]) {
        table = "idx_grid";
        snprintf(prefix, sizeof prefix, "%s", q->grid);
        has_prefix = 1;
    } else if (q->unit && q->unit[0]) {
        table = "idx_unit";
        snprintf(prefix, sizeof prefix, "%s", q->unit);
        has_prefix = 1;
    } else if (q->state) {
        table = "idx_state";
        prefix[0] = (char)q->state;
        prefix[1] = 0;
        has_prefix = 1;
    }
    size_t limit = q->limit ? (q->limit > TRACKING_LIST_MAX ? TRACKING_LIST_MAX : q->limit)
                             : TRACKING_LIST_PAGE;
    if (q->overdue) {
        Whistle__V1__Case **arr = calloc(limit, sizeof *arr);
        *out = arr;
        *n_out = 0;
        next_after[0] = 0;
        if (!arr) return WH_ENOMEM;
        return s_list_overdue(st, txn, q, now, keep, keep_arg, arr, limit, n_out, next_after);
    }
    uint8_t key[KEYMAX];
    size_t plen = has_prefix ? strlen(prefix) + 1 : 0;
    size_t klen;
    if (has_prefix) klen = s_pair(key, prefix, q->after_case_id ? q->after_case_id : "");
    else {
        klen = q->after_case_id ? strlen(q->after_case_id) : 0;
        memcpy(key, q->after_case_id ? q->after_case_id : "", klen);
    }
    MDB_val mk = {klen, key}, mv;
    MDB_cursor *cur;
    *out = NULL;
    *n_out = 0;
    next_after[0] = 0;
    if (mdb_cursor_open(txn, wh_store_dbi(st, table), &cur)) return WH_ESTORE;
    Whistle__V1__Case **arr = calloc(limit, sizeof *arr);
    if (!arr) {
        mdb_cursor_close(cur);
        return WH_ENOMEM;
    }
    size_t n = 0;
    int rc = klen ? mdb_cursor_get(cur, &mk, &mv, MDB_SET_RANGE)
                  : mdb_cursor_get(cur, &mk, &mv, MDB_FIRST);
    int after_given = q->after_case_id && q->after_case_id[0];
    while (rc == 0) {
        if (has_prefix && (mk.mv_size < plen || memcmp(mk.mv_data, key, plen) != 0)) break;
        char id[64];
        size_t idlen = mk.mv_size - plen < sizeof id - 1 ? mk.mv_size - plen : sizeof id - 1;
        memcpy(id, (const char *)mk.mv_data + plen, idlen);
        id[idlen] = 0;
        if (!(after_given && strcmp(id, q->after_case_id) == 0)) {
            Whistle__V1__Case *c = NULL;
            if (tracking_ledger_get(st, txn, id, &c) == 0) {
                if (s_matches(c, q, keep, keep_arg)) {
                    if (n == limit) {
                        whistle__v1__case__free_unpacked(c, NULL);
                        snprintf(next_after, 32, "%s", arr[n - 1]->id);
                        break;
                    }
                    arr[n++] = c;
                } else {
                    whistle__v1__case__free_unpacked(c, NULL);
                }
            }
        }
        rc = mdb_cursor_get(cur, &mk, &mv, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    *out = arr;
    *n_out = n;
    return 0;
}
