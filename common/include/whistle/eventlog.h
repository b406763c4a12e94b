/* eventlog.h: append-only logs of Envelopes, kept in a service's store.
 *
 * One table holds every stream of a service: key = stream name, NUL, big-endian seq; value =
 * the packed Envelope. The service's own log is one stream ("intake/"); notification keeps one
 * stream per topic ("dept/cg/"). Table "heads" keeps each stream's last and oldest sequence.
 * Appends happen in the caller's transaction, so the entry and the state it records commit
 * together or not at all. Sequences are gapless from 1. */
#ifndef WHISTLE_EVENTLOG_H
#define WHISTLE_EVENTLOG_H
#include "whistle/store.h"
#include <whistle/v1/whistle.pb-c.h>

/* Fills env->stream, seq (head + 1) and event_id (on `event_id_buf`, >= 96 bytes), packs `env`
 * and appends it to `stream`. On success stores the new seq in *seq_out and, when `packed` is
 * not NULL, a malloc'd copy of the packed bytes in *packed / *packed_len (caller frees). */
int wh_eventlog_append(wh_store_t *st, MDB_txn *txn, const char *stream,
                       Whistle__V1__Envelope *env, char *event_id_buf, uint64_t *seq_out,
                       uint8_t **packed, size_t *packed_len);
/* Last sequence of `stream` (0 when empty) and the oldest kept (0 when empty). */
int wh_eventlog_head(wh_store_t *st, MDB_txn *txn, const char *stream, uint64_t *head,
                     uint64_t *oldest);

/* Called for each entry read; return non-zero to stop. `data` is the packed Envelope. */
typedef int (*wh_eventlog_fn)(void *arg, uint64_t seq, const void *data, size_t len);
/* Reads entries of `stream` from `from_seq` on, at most `max` entries and about `max_bytes`
 * (always at least one entry). Returns the number read or a negative error. */
int wh_eventlog_read(wh_store_t *st, MDB_txn *txn, const char *stream, uint64_t from_seq,
                     uint32_t max, size_t max_bytes, wh_eventlog_fn fn, void *arg);

#endif
