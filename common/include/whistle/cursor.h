/* cursor.h: the last upstream sequence a service applied, stored in its "cursors" table in the
 * same transaction as the state derived from that entry. */
#ifndef WHISTLE_CURSOR_H
#define WHISTLE_CURSOR_H
#include "whistle/store.h"

/* Reads the cursor of `upstream` into *seq (0 when never set). */
int wh_cursor_get(wh_store_t *st, MDB_txn *txn, const char *upstream, uint64_t *seq);
/* Writes the cursor of `upstream`. */
int wh_cursor_set(wh_store_t *st, MDB_txn *txn, const char *upstream, uint64_t seq);

#endif
