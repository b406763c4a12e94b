/* cursor.c: per-upstream cursors in the "cursors" table (upstream name -> be64 seq). */
#include "whistle/cursor.h"
#include "whistle/error.h"
#include <string.h>

int wh_cursor_get(wh_store_t *st, MDB_txn *txn, const char *upstream, uint64_t *seq)
{
    MDB_val v;
    *seq = 0;
    int rc = wh_store_get(st, txn, wh_store_dbi(st, "cursors"), upstream, strlen(upstream), &v);
    if (rc == WH_ENOTFOUND) return 0;
    if (rc) return rc;
    if (v.mv_size != 8) return WH_ESTORE;
    *seq = wh_be64_get(v.mv_data);
    return 0;
}

int wh_cursor_set(wh_store_t *st, MDB_txn *txn, const char *upstream, uint64_t seq)
{
    uint8_t v[8];
    wh_be64_put(v, seq);
    return wh_store_put(st, txn, wh_store_dbi(st, "cursors"), upstream, strlen(upstream), v, 8);
}
