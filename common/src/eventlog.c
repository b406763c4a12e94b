/* eventlog.c: the append-only Envelope logs of a service (one table, many streams) and the
 * "heads" table that keeps each stream's last and oldest sequence. */
#include "whistle/eventlog.h"
#include "whistle/codec.h"
#include "whistle/error.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WH_STREAM_MAX 200

/* key = stream NUL be64(seq) */
static size_t s_key(uint8_t *key, const char *stream, uint64_t seq)
{
    size_t n = strlen(stream);
    memcpy(key, stream, n);
    key[n] = 0;
    wh_be64_put(key + n + 1, seq);
    return n + 9;
}

int wh_eventlog_head(wh_store_t *st, MDB_txn *txn, const char *stream, uint64_t *head,
                     uint64_t *oldest)
{
    MDB_val v;
    *head = 0;
    if (oldest) *oldest = 0;
    int rc = wh_store_get(st, txn, wh_store_dbi(st, "heads"), stream, strlen(stream), &v);
    if (rc == WH_ENOTFOUND) return 0;
    if (rc) return rc;
    if (v.mv_size != 16) return WH_ESTORE;
    *head = wh_be64_get(v.mv_data);
    if (oldest) *oldest = wh_be64_get((const uint8_t *)v.mv_data + 8);
    return 0;
}

int wh_eventlog_append(wh_store_t *st, MDB_txn *txn, const char *stream,
                       Whistle__V1__Envelope *env, char *event_id_buf, uint64_t *seq_out,
                       uint8_t **packed, size_t *packed_len)
{
    size_t slen = strlen(stream);
    if (slen == 0 || slen > WH_STREAM_MAX) return WH_EFIELD;
    uint64_t head, oldest;
    int rc = wh_eventlog_head(st, txn, stream, &head, &oldest);
    if (rc) return rc;
    uint64_t seq = head + 1;
    env->stream = (char *)stream;
    env->seq = seq;
    snprintf(event_id_buf, 96, "%.80s%llu", stream, (unsigned long long)seq);
    if (!env->event_id || !env->event_id[0] || env->event_id == protobuf_c_empty_string)
        env->event_id = event_id_buf;

    size_t len;
    uint8_t *buf = wh_pack(&env->base, &len);
    if (!buf) return WH_ENOMEM;
    uint8_t key[WH_STREAM_MAX + 9];
    size_t klen = s_key(key, stream, seq);
    rc = wh_store_put(st, txn, wh_store_dbi(st, "log"), key, klen, buf, len);
    if (rc == 0) {
        uint8_t hv[16];
        wh_be64_put(hv, seq);
        wh_be64_put(hv + 8, oldest ? oldest : seq);
        rc = wh_store_put(st, txn, wh_store_dbi(st, "heads"), stream, slen, hv, sizeof hv);
    }
    if (rc == 0 && packed) {
        *packed = buf;
        *packed_len = len;
    } else {
        free(buf);
    }
    if (rc == 0 && seq_out) *seq_out = seq;
    return rc;
}

int wh_eventlog_read(wh_store_t *st, MDB_txn *txn, const char *stream, uint64_t from_seq,
                     uint32_t max, size_t max_bytes, wh_eventlog_fn fn, void *arg)
{
    size_t slen = strlen(stream);
    if (slen == 0 || slen > WH_STREAM_MAX) return WH_EFIELD;
    if (from_seq == 0) from_seq = 1;
    uint8_t key[WH_STREAM_MAX + 9];
    MDB_val k = {s_key(key, stream, from_seq), key}, v;
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, wh_store_dbi(st, "log"), &cur) != 0) return WH_ESTORE;
    int n = 0;
    size_t bytes = 0;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && (uint32_t)n < max) {
        if (k.mv_size != slen + 9 || memcmp(k.mv_data, stream, slen) != 0 ||
            ((const uint8_t *)k.mv_data)[slen] != 0)
            break;  /* past this stream */
        if (n > 0 && bytes + v.mv_size > max_bytes) break;
        uint64_t seq = wh_be64_get((const uint8_t *)k.mv_data + slen + 1);
        n++;
        bytes += v.mv_size;
        if (fn(arg, seq, v.mv_data, v.mv_size)) break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) return WH_ESTORE;
    return n;
}
