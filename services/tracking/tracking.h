/* tracking.h: the ledger. Follows routing's log to open cases, takes department and resident
 * actions (check-in, progress, complete, resolve, verify) with a reply that says exactly why an
 * action is refused, appends case.updated to tracking's log, and answers queries. */
#ifndef WHISTLE_TRACKING_H
#define WHISTLE_TRACKING_H
#include "whistle/catalog.h"
#include "whistle/codec.h"
#include "whistle/options.h"
#include "whistle/service.h"

typedef struct tracking tracking_t;

tracking_t *tracking_new(const struct wh_options *o, const struct wh_catalog *cat);
void tracking_destroy(tracking_t **self_p);
wh_service_t *tracking_service(tracking_t *self);

/* ---- machine.c: the case state machine, the one place transitions are decided ---------- */

/* Applies action `a` to case `c` at `now_ms`. `c` must be heap-owned as protobuf-c unpacks
 * it: ASSIGN may add an assignment. On success updates `c` (state, assignments,
 * version, updated_at), fills `entry` (strings point into `a` or `c`) and returns 0. On refusal
 * leaves `c` unchanged and returns WH_ESTATE / WH_EFORBIDDEN / WH_EFIELD with `err` saying why
 * (err->field names the request field). */
int tracking_machine_act(Whistle__V1__Case *c, const Whistle__V1__CaseAction *a, int64_t now_ms,
                         Whistle__V1__HistoryEntry *entry, struct wh_field_error *err);

/* Adds `dept` as a NOTIFIED assignment unless it is on the case already (escalation adds
 * district coordinators this way). `c` must be heap-owned as protobuf-c unpacks it. */
int tracking_machine_add_department(Whistle__V1__Case *c, const char *dept, int64_t now_ms);

/* ---- authorize.c: who may take which action (keys on) ------------------------------------ */

/* Whether the peer `who` may send action `a`: 0, or WH_EFORBIDDEN with err->field naming the
 * request field that does not match the key (case_action.department, .actor or .action).
 * Always 0 for kind NONE (keys off), services and operators. */
int tracking_authorize(const struct wh_identity *who, const Whistle__V1__CaseAction *a,
                       struct wh_field_error *err);

/* ---- ledger.c: cases, history and indexes in tracking's LMDB ----------------------------- */

/* Reads case `id` (caller frees with whistle__v1__case__free_unpacked). WH_ENOTFOUND if none. */
int tracking_ledger_get(wh_store_t *st, MDB_txn *txn, const char *id, Whistle__V1__Case **out);
/* Writes `c` and keeps the indexes right; `old_state` is its state before (0 when new). */
int tracking_ledger_put(wh_store_t *st, MDB_txn *txn, const Whistle__V1__Case *c, int old_state);
/* Indexes every department of `c` (idempotent; for departments added after opening). */
int tracking_ledger_index_departments(wh_store_t *st, MDB_txn *txn, const Whistle__V1__Case *c);
/* Appends `entry` as line `n` (1-based) of the case's history. */
int tracking_ledger_history_add(wh_store_t *st, MDB_txn *txn, const char *id, uint64_t n,
                                const Whistle__V1__HistoryEntry *entry);
/* Reads the whole history of `id` into a malloc'd array (free each with
 * whistle__v1__history_entry__free_unpacked, then the array). Returns the count or < 0. */
int tracking_ledger_history(wh_store_t *st, MDB_txn *txn, const char *id,
                            Whistle__V1__HistoryEntry ***out);
/* Lists cases matching `q` in id order, from an index when a filter is given. Fills a malloc'd
 * array of unpacked cases (*out, *n) and next_after (>= 32 bytes, "" when no more). */
int tracking_ledger_list(wh_store_t *st, MDB_txn *txn, const Whistle__V1__ListCases *q,
                         Whistle__V1__Case ***out, size_t *n, char *next_after);

#define TRACKING_TABLES "cases", "history", "idx_state", "idx_dept", "idx_grid", "idx_unit"

#endif
