/* eventlog.c: the append-only Envelope logs of a service (one table, many streams), the
 * "heads" table that keeps each stream's last and oldest sequence, and trimming from the
 * start of a stream for retention. */
#include "whistle/eventlog.h"
#include "whistle/codec.h"
#include "whistle/error.h"
#include "whistle/wlog.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* key = stream NUL be64(seq) */
static size_t s_key(uint8_t *key, const char *stream, uint64_t seq)
{
    size_t n = strlen(stream);
    memcpy(key, stream, n);
    key[n] = 0;
    wh_be64_put(key + n + 1, seq);
    return n + 9;
}

/* Stores the packed entry `buf` (takes it) as `seq` of `stream` and moves the stream's head;
 * hands `buf` back in *packed when asked, else frees it. */
static int s_put(wh_store_t *st, MDB_txn *txn, const char *stream, uint64_t seq, uint64_t oldest,
                 uint8_t *buf, size_t len, uint64_t *seq_out, uint8_t **packed,
                 size_t *packed_len)
{
    uint8_t key[WH_STREAM_MAX + 9];
    size_t klen = s_key(key, stream, seq);
    int rc = wh_store_put(st, txn, wh_store_dbi(st, "log"), key, klen, buf, len);
    if (rc == 0) {
        uint8_t hv[16];
        wh_be64_put(hv, seq);
        wh_be64_put(hv + 8, oldest ? oldest : seq);
        rc = wh_store_put(st, txn, wh_store_dbi(st, "heads"), stream, strlen(stream), hv,
                          sizeof hv);
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
    snprintf(event_id_buf, 96, "%.*s%llu", (int)wh_utf8_prefix(stream, 80), stream,
             (unsigned long long)seq);
    if (!env->event_id || !env->event_id[0] || env->event_id == protobuf_c_empty_string)
        env->event_id = event_id_buf;
    /* an invalid string would be kept for ever and refused by every reader that checks
     * (Google's protobuf refuses the whole replay page): refused here, before any write */
    char path[128];
    if (wh_message_utf8_check(&env->base, path, sizeof path)) {
        wh_log_error("%s: refusing to append %s: %s is not valid UTF-8", stream,
                     env->event_id, path);
        return WH_EFIELD;
    }

    size_t len;
    uint8_t *buf = wh_pack(&env->base, &len);
    if (!buf) return WH_ENOMEM;
    return s_put(st, txn, stream, seq, oldest, buf, len, seq_out, packed, packed_len);
}

int wh_eventlog_body(const Whistle__V1__Envelope *env, uint8_t **body, size_t *body_len)
{
    if (!env->event_id || !env->event_id[0]) return WH_EFIELD;
    Whistle__V1__Envelope b = *env;
    b.stream = (char *)protobuf_c_empty_string; /* proto3: an empty string and 0 are not */
    b.seq = 0;                                  /* written, so what is packed is fields 3.. */
    char path[128];
    if (wh_message_utf8_check(&b.base, path, sizeof path)) {
        wh_log_error("refusing to append %s: %s is not valid UTF-8", env->event_id, path);
        return WH_EFIELD;
    }
    *body = wh_pack(&b.base, body_len);
    return *body ? 0 : WH_ENOMEM;
}

int wh_eventlog_append_body(wh_store_t *st, MDB_txn *txn, const char *stream,
                            const uint8_t *body, size_t body_len, uint64_t *seq_out,
                            uint8_t **packed, size_t *packed_len)
{
    size_t slen = strlen(stream);
    if (slen == 0 || slen > WH_STREAM_MAX || !wh_utf8_valid(stream, slen)) return WH_EFIELD;
    uint64_t head, oldest;
    int rc = wh_eventlog_head(st, txn, stream, &head, &oldest);
    if (rc) return rc;
    uint64_t seq = head + 1;
    /* fields 1 and 2, packed by protobuf-c as for any envelope, then the shared fields */
    Whistle__V1__Envelope h = WHISTLE__V1__ENVELOPE__INIT;
    h.stream = (char *)stream;
    h.seq = seq;
    size_t hlen = protobuf_c_message_get_packed_size(&h.base);
    uint8_t *buf = malloc(hlen + body_len);
    if (!buf) return WH_ENOMEM;
    protobuf_c_message_pack(&h.base, buf);
    memcpy(buf + hlen, body, body_len);
    return s_put(st, txn, stream, seq, oldest, buf, hlen + body_len, seq_out, packed,
                 packed_len);
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

/* 1 when the entry `seq` with packed value `v` is no longer covered by `keep`. */
static int s_expired(const struct wh_retention *keep, int64_t now_ms, uint64_t seq,
                     uint64_t head, const MDB_val *v)
{
    if (keep->max_entries && head - seq + 1 > keep->max_entries) return 1;
    if (keep->max_age_ms <= 0) return 0;
    Whistle__V1__Envelope *env = wh_envelope_unpack(v->mv_data, v->mv_size);
    if (!env) return 0; /* cannot tell its age: kept until the count limit takes it */
    int old = env->occurred_at_ms < now_ms - keep->max_age_ms;
    whistle__v1__envelope__free_unpacked(env, NULL);
    return old;
}

int wh_eventlog_trim(wh_store_t *st, MDB_txn *txn, const char *stream,
                     const struct wh_retention *keep, int64_t now_ms, uint32_t max)
{
    size_t slen = strlen(stream);
    if (slen == 0 || slen > WH_STREAM_MAX) return WH_EFIELD;
    uint64_t head, oldest;
    int rc = wh_eventlog_head(st, txn, stream, &head, &oldest);
    if (rc || head == 0) return rc;
    if (oldest == 0) oldest = 1;
    MDB_cursor *cur;
    rc = mdb_cursor_open(txn, wh_store_dbi(st, "log"), &cur);
    if (rc != 0) {
        wh_store_fail(st);
        return WH_ESTORE;
    }
    uint8_t key[WH_STREAM_MAX + 9];
    uint64_t seq = oldest;
    uint32_t n = 0;
    for (; seq <= head && n < max; seq++) {
        MDB_val k = {s_key(key, stream, seq), key}, v;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
        if (rc == MDB_NOTFOUND) { /* not there: nothing to delete, the range still starts after */
            rc = 0;
            continue;
        }
        if (rc != 0) break;
        if (!s_expired(keep, now_ms, seq, head, &v)) break;
        wh_store_wrote(st);
        if ((rc = mdb_cursor_del(cur, 0)) != 0) break;
        n++;
    }
    mdb_cursor_close(cur);
    if (rc != 0) {
        wh_store_fail(st);
        return WH_ESTORE;
    }
    if (seq != oldest) {
        uint8_t hv[16];
        wh_be64_put(hv, head);
        wh_be64_put(hv + 8, seq);
        rc = wh_store_put(st, txn, wh_store_dbi(st, "heads"), stream, slen, hv, sizeof hv);
        if (rc) return rc;
    }
    return (int)n;
}

int wh_eventlog_next_stream(wh_store_t *st, MDB_txn *txn, const char *after, char *out,
                            size_t outlen)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, wh_store_dbi(st, "heads"), &cur) != 0) return WH_ESTORE;
    size_t alen = strlen(after);
    MDB_val k = {alen, (void *)after}, v;
    int rc = alen ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
                  : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    if (rc == 0 && k.mv_size == alen && memcmp(k.mv_data, after, alen) == 0)
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT); /* strictly after */
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc != 0) return WH_ESTORE;
    if (k.mv_size >= outlen) return WH_EFIELD;
    memcpy(out, k.mv_data, k.mv_size);
    out[k.mv_size] = 0;
    return 1;
}
