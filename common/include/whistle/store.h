/* store.h: a service's LMDB environment, its named tables and the batch write transaction.
 *
 * Group commit: the service opens one write transaction per wake-up (wh_store_txn), applies
 * every message of that wake-up in it, and commits durably once (wh_store_commit). A storage
 * failure marks the batch failed: commit then aborts it, so nothing of it is acknowledged.
 * wh_store_writes counts the puts and deletes, so the service can tell whether an input wrote
 * anything before it was refused (see service.h: the error contract). A key LMDB cannot take
 * (longer than mdb_env_get_maxkeysize, 511) is WH_ETOOBIG, a decision about the input, not a
 * failure. The map grows before a batch when it is three quarters full, and again after a
 * batch that hit MDB_MAP_FULL. Stale reader slots of crashed processes are cleared at open
 * (mdb_reader_check). Never opened with a no-sync flag: an acknowledged case survives a crash. */
#ifndef WHISTLE_STORE_H
#define WHISTLE_STORE_H
#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wh_store wh_store_t;

#define WH_STORE_MAX_TABLES 16

/* Opens (creating) the environment in directory `dir` (created if missing) with the given
 * table names (NULL-terminated list, at most WH_STORE_MAX_TABLES; "log", "heads" and "cursors"
 * are always added). Returns NULL and logs why on failure. */
wh_store_t *wh_store_open(const char *dir, const char *const *tables);
/* Aborts any open batch, closes the environment, frees *self_p and sets it to NULL. */
void wh_store_close(wh_store_t **self_p);

/* The table handle for `name`; aborts the process if the table was not declared. */
MDB_dbi wh_store_dbi(const wh_store_t *self, const char *name);
MDB_env *wh_store_env(const wh_store_t *self);

/* The open batch transaction, beginning one if none is open. NULL on failure (the cause is
 * kept: wh_store_cause). */
MDB_txn *wh_store_txn(wh_store_t *self);
/* A read-only transaction on what is committed, for any thread (the environment has
 * MDB_NOTLS): 0 and *txn, or WH_ESTORE / WH_ENOMEM. Until wh_store_read_end the map is not
 * grown (a growth that falls due waits for a later batch), so keep it to one piece of work.
 * Only mdb_* reads and wh_store_dbi may be used in it off the loop thread: the other
 * wh_store_* calls keep the batch's failure state. */
int wh_store_read_begin(wh_store_t *self, MDB_txn **txn);
/* Ends (aborts) a transaction of wh_store_read_begin, on the thread that began it; NULL ok. */
void wh_store_read_end(wh_store_t *self, MDB_txn *txn);
/* 1 if a batch is open. */
int wh_store_in_batch(const wh_store_t *self);
/* Puts and deletes attempted through this store since it opened (wh_store_wrote counts one
 * made with LMDB directly, e.g. mdb_cursor_del). */
uint64_t wh_store_writes(const wh_store_t *self);
void wh_store_wrote(wh_store_t *self);
/* The cause of the last storage failure as a phrase ("commit: no space left on device"), ""
 * when none; wh_store_clear_cause forgets it once the store works again. */
const char *wh_store_cause(const wh_store_t *self);
void wh_store_clear_cause(wh_store_t *self);
/* Commits the open batch durably. 0 on success (also when none is open); WH_EMAPFULL or
 * WH_ESTORE when the batch failed and was aborted: nothing of it may be acknowledged. */
int wh_store_commit(wh_store_t *self);
/* Marks the open batch failed: the next commit aborts it (nothing of it is acknowledged). */
void wh_store_fail(wh_store_t *self);
/* Aborts the open batch, if any. */
void wh_store_abort(wh_store_t *self);

/* Puts, gets and deletes in `txn`. Return 0, WH_ENOTFOUND (get/del), WH_ETOOBIG (a key or
 * value LMDB cannot take: a decision, nothing fails) or a storage error (ESTORE, EMAPFULL,
 * ENOMEM), which marks the batch failed. Values from get are valid until the txn ends. */
int wh_store_put(wh_store_t *self, MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                 const void *val, size_t vlen);
int wh_store_get(wh_store_t *self, MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                 MDB_val *out);
int wh_store_del(wh_store_t *self, MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen);

/* Current map size in bytes (for tests of growth). */
size_t wh_store_mapsize(const wh_store_t *self);

/* Big-endian 64-bit helpers for keys that sort by number. */
void wh_be64_put(uint8_t out[8], uint64_t v);
uint64_t wh_be64_get(const uint8_t in[8]);

#endif
