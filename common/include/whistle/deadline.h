/* deadline.h: deadlines kept in a service's LMDB and fired from one libuv timer.
 *
 * A table ordered by due time (key be64(due_ms) + id). One uv_timer is set for the nearest
 * (wh_deadlines_arm, after every commit and at start). When it fires, every row due by now is
 * removed and handed to the callback in the batch transaction, so what the expiry decides and
 * the removal commit together: a restart re-arms from the table, a crash never loses a
 * deadline nor fires one twice. */
#ifndef WHISTLE_DEADLINE_H
#define WHISTLE_DEADLINE_H
#include "whistle/service.h"

typedef struct wh_deadlines wh_deadlines_t;

/* Called for each expired row, as a step of the batch, before its row is removed with what it
 * decided (treat the row as gone). 0; a storage error that fails the batch (the expiry comes
 * again); or a decision that it does not apply (its row alone is removed). */
typedef int (*wh_deadline_fn)(void *arg, MDB_txn *txn, const char *id, int64_t due_ms,
                              int64_t now_ms);
/* Returns 1 when deadlines may fire now (e.g. an upstream follower has caught up). */
typedef int (*wh_deadline_gate_fn)(void *arg);

/* Uses table `table` (declared in the service's config) of `svc`. `gate` may be NULL. */
wh_deadlines_t *wh_deadlines_new(wh_service_t *svc, const char *table, wh_deadline_fn fire,
                                 wh_deadline_gate_fn gate, void *arg);
/* Closes the timer and frees; safe on NULL. Call before wh_service_destroy. */
void wh_deadlines_destroy(wh_deadlines_t **self_p);
/* Moves the deadline of `id` from `old_due` (0: none) to `new_due` (0: none) in `txn`. */
int wh_deadlines_move(wh_deadlines_t *self, MDB_txn *txn, const char *id, int64_t old_due,
                      int64_t new_due);
/* The same move on any store without a timer (for offline rebuilds). */
int wh_deadline_row_move(wh_store_t *st, MDB_txn *txn, const char *table, const char *id,
                         int64_t old_due, int64_t new_due);
/* Sets the timer for the nearest deadline. */
void wh_deadlines_arm(wh_deadlines_t *self);

/* Ids longer than this are cut in keys. */
#define WH_DEADLINE_ID_MAX 64

#endif
