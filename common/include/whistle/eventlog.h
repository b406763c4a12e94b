/* eventlog.h: append-only logs of Envelopes, kept in a service's store.
 *
 * One table holds every stream of a service: key = stream name, NUL, big-endian seq; value =
 * the packed Envelope. The service's own log is one stream ("intake/"); notification keeps one
 * stream per topic ("dept/cg/"). Table "heads" keeps each stream's last and oldest sequence.
 * Appends happen in the caller's transaction, so the entry and the state it records commit
 * together or not at all. Sequences are gapless from 1 and never reused: trimming (retention)
 * deletes entries from the start of a stream only and moves its oldest, never its head, so
 * what is kept is always the gapless range oldest..head. */
#ifndef WHISTLE_EVENTLOG_H
#define WHISTLE_EVENTLOG_H
#include "whistle/store.h"
#include <whistle/v1/whistle.pb-c.h>

/* Longest stream (topic) name, in bytes. */
#define WH_STREAM_MAX 200

/* Fills env->stream, seq (head + 1) and event_id (on `event_id_buf`, >= 96 bytes), packs `env`
 * and appends it to `stream`. On success stores the new seq in *seq_out and, when `packed` is
 * not NULL, a malloc'd copy of the packed bytes in *packed / *packed_len (caller frees). */
int wh_eventlog_append(wh_store_t *st, MDB_txn *txn, const char *stream,
                       Whistle__V1__Envelope *env, char *event_id_buf, uint64_t *seq_out,
                       uint8_t **packed, size_t *packed_len);
/* One entry for many streams (notification's fan-out): the envelope's fields after stream and
 * seq (event_id, correlation_id, occurred_at_ms, the payload) are the same on every stream, so
 * they are checked (UTF-8) and packed once into `body` (malloc'd, caller frees), and each
 * stream's entry is its own stream and seq packed in front of them: field order 1, 2, 3..,
 * the bytes wh_eventlog_append would write. `env->event_id` must be set (an entry named after
 * its stream and seq differs per stream): WH_EFIELD otherwise, or for a string that is not
 * valid UTF-8 (logged with its path). */
int wh_eventlog_body(const Whistle__V1__Envelope *env, uint8_t **body, size_t *body_len);
/* Appends `body` (from wh_eventlog_body) to `stream` as the next entry; *seq_out and, when
 * `packed` is not NULL, a malloc'd copy of the entry's bytes as wh_eventlog_append. */
int wh_eventlog_append_body(wh_store_t *st, MDB_txn *txn, const char *stream,
                            const uint8_t *body, size_t body_len, uint64_t *seq_out,
                            uint8_t **packed, size_t *packed_len);
/* Last sequence of `stream` (0 when never written) and the oldest kept (0 when never written;
 * head + 1 when every entry was trimmed). `oldest` may be NULL. */
int wh_eventlog_head(wh_store_t *st, MDB_txn *txn, const char *stream, uint64_t *head,
                     uint64_t *oldest);

/* Called for each entry read; return non-zero to stop. `data` is the packed Envelope. */
typedef int (*wh_eventlog_fn)(void *arg, uint64_t seq, const void *data, size_t len);
/* Reads entries of `stream` from `from_seq` on, at most `max` entries and about `max_bytes`
 * (always at least one entry). Returns the number read or a negative error. */
int wh_eventlog_read(wh_store_t *st, MDB_txn *txn, const char *stream, uint64_t from_seq,
                     uint32_t max, size_t max_bytes, wh_eventlog_fn fn, void *arg);

/* How much of a stream is kept. 0 in a field: no limit of that kind. */
struct wh_retention {
    int64_t max_age_ms;    /* entries whose occurred_at_ms is older than now - this are trimmed */
    uint64_t max_entries;  /* at most this many of the newest entries are kept */
};

/* Deletes in `txn` the oldest entries of `stream` that `keep` no longer covers at `now_ms`, in
 * sequence order, at most `max` of them, stopping at the first entry kept; then sets the
 * stream's oldest to the first sequence kept (head + 1 when none is). Returns the number
 * deleted (0..max) or a negative error (the batch is then marked failed). */
int wh_eventlog_trim(wh_store_t *st, MDB_txn *txn, const char *stream,
                     const struct wh_retention *keep, int64_t now_ms, uint32_t max);

/* The first stream name (in byte order) after `after` ("" for the first), into `out` (>= 201
 * bytes). 1 found, 0 no more, or a negative error. Walks the "heads" table, so a trimmed
 * stream is still listed. */
int wh_eventlog_next_stream(wh_store_t *st, MDB_txn *txn, const char *after, char *out,
                            size_t outlen);

#endif
