/* check_eventlog.c: streams in one table stay apart even when one name begins like another,
 * sequences are gapless from 1, reads honour their bounds, event ids are filled or kept, a
 * failed batch leaves no trace in the log, an envelope with a string that is not valid UTF-8 is
 * refused before any write, and trimming (retention) deletes from the start of one stream only,
 * by count or by age, in bounded steps, moving the oldest but never the head. */
#include "wh_test.h"
#include "whistle/error.h"
#include "whistle/eventlog.h"
#include "whistle/wlog.h"
#include <check.h>

#define CG "dept/cg/"
#define CGJ "dept/cgj/"
#define CG_SUB "dept/cg/sub/" /* has CG as a strict prefix */

static char *s_dir;
static wh_store_t *s_st;

static void s_setup(void)
{
    wh_log_init("check_eventlog", WH_LOG_WARN);
    s_dir = wh_test_tmpdir();
    ck_assert_ptr_nonnull(s_dir);
    s_st = wh_store_open(s_dir, NULL);
    ck_assert_ptr_nonnull(s_st);
}

static void s_teardown(void)
{
    wh_store_close(&s_st);
    wh_test_rmdir(s_dir);
    free(s_dir);
}

/* Appends an entry whose correlation_id is `corr`, occurred at `at_ms`; returns its seq. */
static uint64_t s_append_at(MDB_txn *txn, const char *stream, const char *corr,
                            const char *event_id, int64_t at_ms)
{
    Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
    Whistle__V1__CaseRefused cr = WHISTLE__V1__CASE_REFUSED__INIT;
    cr.case_id = (char *)corr;
    cr.field = "report.grid";
    cr.reason = "unknown grid";
    env.correlation_id = (char *)corr;
    env.event_id = (char *)(event_id ? event_id : "");
    env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_REFUSED;
    env.case_refused = &cr;
    env.occurred_at_ms = at_ms;
    char idbuf[96];
    uint64_t seq = 0;
    uint8_t *packed = NULL;
    size_t plen = 0;
    ck_assert_int_eq(wh_eventlog_append(s_st, txn, stream, &env, idbuf, &seq, &packed, &plen), 0);
    ck_assert_str_eq(env.stream, stream);
    ck_assert_uint_eq(env.seq, seq);
    /* the packed copy handed back is the entry as stored */
    Whistle__V1__Envelope *back = wh_envelope_unpack(packed, plen);
    ck_assert_ptr_nonnull(back);
    ck_assert_uint_eq(back->seq, seq);
    ck_assert_str_eq(back->correlation_id, corr);
    whistle__v1__envelope__free_unpacked(back, NULL);
    free(packed);
    return seq;
}

static uint64_t s_append(MDB_txn *txn, const char *stream, const char *corr, const char *event_id)
{
    return s_append_at(txn, stream, corr, event_id, 0);
}

struct s_read {
    size_t n;
    uint64_t seq[64];
    size_t len[64];
    char stream[64][32];
    char corr[64][32];
    char event_id[64][64];
    size_t stop_after; /* 0: never stop early */
};

static int s_collect(void *arg, uint64_t seq, const void *data, size_t len)
{
    struct s_read *r = arg;
    ck_assert_uint_lt(r->n, 64);
    Whistle__V1__Envelope *env = wh_envelope_unpack(data, len);
    ck_assert_ptr_nonnull(env);
    ck_assert_uint_eq(env->seq, seq);
    r->seq[r->n] = seq;
    r->len[r->n] = len;
    snprintf(r->stream[r->n], sizeof r->stream[0], "%s", env->stream);
    snprintf(r->corr[r->n], sizeof r->corr[0], "%s", env->correlation_id);
    snprintf(r->event_id[r->n], sizeof r->event_id[0], "%s", env->event_id);
    r->n++;
    whistle__v1__envelope__free_unpacked(env, NULL);
    return r->stop_after && r->n >= r->stop_after;
}

static int s_read(MDB_txn *txn, const char *stream, uint64_t from, uint32_t max, size_t max_bytes,
                  struct s_read *r)
{
    memset(r, 0, sizeof *r);
    return wh_eventlog_read(s_st, txn, stream, from, max, max_bytes, s_collect, r);
}

static void s_head(const char *stream, uint64_t *head, uint64_t *oldest)
{
    MDB_txn *txn;
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(s_st), NULL, MDB_RDONLY, &txn), 0);
    ck_assert_int_eq(wh_eventlog_head(s_st, txn, stream, head, oldest), 0);
    mdb_txn_abort(txn);
}

/* cg: 3 entries, cgj: 2, cg/sub/: 2, interleaved in one batch. */
static void s_fill(void)
{
    MDB_txn *txn = wh_store_txn(s_st);
    ck_assert_ptr_nonnull(txn);
    ck_assert_uint_eq(s_append(txn, CG, "cg-1", NULL), 1);
    ck_assert_uint_eq(s_append(txn, CGJ, "cgj-1", NULL), 1);
    ck_assert_uint_eq(s_append(txn, CG_SUB, "sub-1", NULL), 1);
    ck_assert_uint_eq(s_append(txn, CG, "cg-2", "custom-id-2"), 2);
    ck_assert_uint_eq(s_append(txn, CGJ, "cgj-2", NULL), 2);
    ck_assert_uint_eq(s_append(txn, CG, "cg-3", NULL), 3);
    ck_assert_uint_eq(s_append(txn, CG_SUB, "sub-2", NULL), 2);
    ck_assert_int_eq(wh_store_commit(s_st), 0);
}

START_TEST(test_streams_apart)
{
    uint64_t head, oldest;
    s_head(CG, &head, &oldest);
    ck_assert_uint_eq(head, 0);
    ck_assert_uint_eq(oldest, 0);
    s_fill();
    s_head(CG, &head, &oldest);
    ck_assert_uint_eq(head, 3);
    ck_assert_uint_eq(oldest, 1);
    s_head(CGJ, &head, &oldest);
    ck_assert_uint_eq(head, 2);
    ck_assert_uint_eq(oldest, 1);
    s_head(CG_SUB, &head, NULL);
    ck_assert_uint_eq(head, 2);
    s_head("dept/c", &head, NULL);
    ck_assert_uint_eq(head, 0);

    MDB_txn *txn;
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(s_st), NULL, MDB_RDONLY, &txn), 0);
    struct s_read r;
    ck_assert_int_eq(s_read(txn, CG, 0, 100, 1 << 20, &r), 3);
    for (size_t i = 0; i < r.n; i++) {
        char want[32];
        snprintf(want, sizeof want, "cg-%zu", i + 1);
        ck_assert_uint_eq(r.seq[i], i + 1);
        ck_assert_str_eq(r.stream[i], CG);
        ck_assert_str_eq(r.corr[i], want);
    }
    ck_assert_int_eq(s_read(txn, CGJ, 1, 100, 1 << 20, &r), 2);
    ck_assert_str_eq(r.corr[0], "cgj-1");
    ck_assert_str_eq(r.corr[1], "cgj-2");
    ck_assert_int_eq(s_read(txn, CG_SUB, 1, 100, 1 << 20, &r), 2);
    ck_assert_str_eq(r.corr[1], "sub-2");
    /* past the head: nothing, not the next stream's entries */
    ck_assert_int_eq(s_read(txn, CG, 4, 100, 1 << 20, &r), 0);
    ck_assert_int_eq(s_read(txn, CGJ, 3, 100, 1 << 20, &r), 0);
    ck_assert_int_eq(s_read(txn, "dept/c", 1, 100, 1 << 20, &r), 0);
    ck_assert_int_eq(s_read(txn, "dept/cg", 1, 100, 1 << 20, &r), 0);
    mdb_txn_abort(txn);
}
END_TEST

START_TEST(test_read_bounds)
{
    s_fill();
    MDB_txn *txn;
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(s_st), NULL, MDB_RDONLY, &txn), 0);
    struct s_read all, r;
    ck_assert_int_eq(s_read(txn, CG, 1, 100, 1 << 20, &all), 3);

    /* from the middle */
    ck_assert_int_eq(s_read(txn, CG, 2, 100, 1 << 20, &r), 2);
    ck_assert_uint_eq(r.seq[0], 2);
    ck_assert_uint_eq(r.seq[1], 3);
    /* max */
    ck_assert_int_eq(s_read(txn, CG, 1, 2, 1 << 20, &r), 2);
    ck_assert_uint_eq(r.seq[1], 2);
    ck_assert_int_eq(s_read(txn, CG, 3, 1, 1 << 20, &r), 1);
    ck_assert_uint_eq(r.seq[0], 3);
    /* max_bytes: smaller than one entry still lets one through */
    ck_assert_int_eq(s_read(txn, CG, 2, 100, 1, &r), 1);
    ck_assert_uint_eq(r.seq[0], 2);
    /* exactly two entries' bytes: two; one byte less: one */
    ck_assert_int_eq(s_read(txn, CG, 1, 100, all.len[0] + all.len[1], &r), 2);
    ck_assert_int_eq(s_read(txn, CG, 1, 100, all.len[0] + all.len[1] - 1, &r), 1);
    /* the callback stops the read */
    memset(&r, 0, sizeof r);
    r.stop_after = 1;
    ck_assert_int_eq(wh_eventlog_read(s_st, txn, CG, 1, 100, 1 << 20, s_collect, &r), 1);
    mdb_txn_abort(txn);
}
END_TEST

START_TEST(test_event_id)
{
    s_fill();
    MDB_txn *txn;
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(s_st), NULL, MDB_RDONLY, &txn), 0);
    struct s_read r;
    ck_assert_int_eq(s_read(txn, CG, 1, 100, 1 << 20, &r), 3);
    ck_assert_str_eq(r.event_id[0], "dept/cg/1");
    ck_assert_str_eq(r.event_id[1], "custom-id-2"); /* set by the caller: kept */
    ck_assert_str_eq(r.event_id[2], "dept/cg/3");
    ck_assert_int_eq(s_read(txn, CGJ, 2, 100, 1 << 20, &r), 1);
    ck_assert_str_eq(r.event_id[0], "dept/cgj/2");
    mdb_txn_abort(txn);
}
END_TEST

START_TEST(test_failed_batch_leaves_head)
{
    s_fill();
    MDB_txn *txn = wh_store_txn(s_st);
    ck_assert_uint_eq(s_append(txn, CG, "cg-lost-4", NULL), 4);
    ck_assert_uint_eq(s_append(txn, CG, "cg-lost-5", NULL), 5);
    uint64_t head;
    ck_assert_int_eq(wh_eventlog_head(s_st, txn, CG, &head, NULL), 0);
    ck_assert_uint_eq(head, 5); /* visible inside the batch */
    wh_store_fail(s_st);
    ck_assert_int_lt(wh_store_commit(s_st), 0);

    uint64_t oldest;
    s_head(CG, &head, &oldest);
    ck_assert_uint_eq(head, 3);
    ck_assert_uint_eq(oldest, 1);
    MDB_txn *rtxn;
    struct s_read r;
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(s_st), NULL, MDB_RDONLY, &rtxn), 0);
    ck_assert_int_eq(s_read(rtxn, CG, 4, 100, 1 << 20, &r), 0);
    mdb_txn_abort(rtxn);

    /* gapless: the next committed entry takes 4 */
    txn = wh_store_txn(s_st);
    ck_assert_uint_eq(s_append(txn, CG, "cg-4", NULL), 4);
    ck_assert_int_eq(wh_store_commit(s_st), 0);
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(s_st), NULL, MDB_RDONLY, &rtxn), 0);
    ck_assert_int_eq(s_read(rtxn, CG, 4, 100, 1 << 20, &r), 1);
    ck_assert_str_eq(r.corr[0], "cg-4");
    mdb_txn_abort(rtxn);
}
END_TEST

START_TEST(test_bad_stream_name)
{
    MDB_txn *txn = wh_store_txn(s_st);
    Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
    char idbuf[96], longname[256];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    ck_assert_int_eq(wh_eventlog_append(s_st, txn, "", &env, idbuf, NULL, NULL, NULL), WH_EFIELD);
    ck_assert_int_eq(wh_eventlog_append(s_st, txn, longname, &env, idbuf, NULL, NULL, NULL),
                     WH_EFIELD);
    ck_assert_int_eq(wh_store_commit(s_st), 0);
}
END_TEST

/* An envelope with a string that is not valid UTF-8 anywhere in it (here an escalation reason
 * cut mid-character, as a byte-truncating snprintf left it) is refused before anything is
 * written: no entry, no head moved, and the next entry takes the sequence. */
START_TEST(test_invalid_utf8_refused)
{
    s_fill();
    MDB_txn *txn = wh_store_txn(s_st);
    Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
    Whistle__V1__CaseEscalated ce = WHISTLE__V1__CASE_ESCALATED__INIT;
    ce.case_id = "C00000001";
    ce.step = "manual";
    ce.reason = "north raised the whistle to TOUGH: \xE8\xB7\xAF\xE8\xB7"; /* 路 + 2 of 3 */
    env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_ESCALATED;
    env.case_escalated = &ce;
    char idbuf[96];
    uint64_t seq = 99;
    uint8_t *packed = NULL;
    size_t plen = 0;
    ck_assert_int_eq(wh_eventlog_append(s_st, txn, CG, &env, idbuf, &seq, &packed, &plen),
                     WH_EFIELD);
    ck_assert_uint_eq(seq, 99);
    ck_assert_ptr_null(packed);
    /* an invalid stream name is a string of the envelope too */
    ce.reason = "ok";
    ck_assert_int_eq(wh_eventlog_append(s_st, txn, "dept/\xFF/", &env, idbuf, NULL, NULL, NULL),
                     WH_EFIELD);
    uint64_t head;
    ck_assert_int_eq(wh_eventlog_head(s_st, txn, CG, &head, NULL), 0);
    ck_assert_uint_eq(head, 3);
    ck_assert_int_eq(wh_eventlog_head(s_st, txn, "dept/\xFF/", &head, NULL), 0);
    ck_assert_uint_eq(head, 0);
    ck_assert_uint_eq(s_append(txn, CG, "cg-4", NULL), 4);
    ck_assert_int_eq(wh_store_commit(s_st), 0);

    MDB_txn *rtxn;
    struct s_read r;
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(s_st), NULL, MDB_RDONLY, &rtxn), 0);
    ck_assert_int_eq(s_read(rtxn, CG, 4, 100, 1 << 20, &r), 1);
    ck_assert_str_eq(r.corr[0], "cg-4");
    mdb_txn_abort(rtxn);
}
END_TEST

/* One entry for many streams (notification's fan-out): packed once, each stream's entry is
 * byte for byte what wh_eventlog_append would have stored, and what is refused is refused
 * before any write. */
START_TEST(test_body_many_streams)
{
    s_fill();
    MDB_txn *txn = wh_store_txn(s_st);
    Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
    Whistle__V1__CaseEscalated ce = WHISTLE__V1__CASE_ESCALATED__INIT;
    ce.case_id = "C00000007";
    ce.step = "supervise";
    ce.reason = "超时未报到，区级督办";
    env.event_id = "tracking/42";
    env.correlation_id = "C00000007";
    env.occurred_at_ms = 1764400000123;
    env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_ESCALATED;
    env.case_escalated = &ce;
    uint8_t *body = NULL;
    size_t blen = 0;
    ck_assert_int_eq(wh_eventlog_body(&env, &body, &blen), 0);
    const char *streams[] = {CG, CGJ, "case/C00000007/"};
    const uint64_t want_seq[] = {4, 3, 1};
    for (size_t i = 0; i < 3; i++) {
        uint64_t seq = 0;
        uint8_t *packed = NULL;
        size_t plen = 0;
        ck_assert_int_eq(wh_eventlog_append_body(s_st, txn, streams[i], body, blen, &seq,
                                                 &packed, &plen), 0);
        ck_assert_uint_eq(seq, want_seq[i]);
        Whistle__V1__Envelope one = env;
        one.stream = (char *)streams[i];
        one.seq = seq;
        size_t len;
        uint8_t *want = wh_pack(&one.base, &len);
        ck_assert_ptr_nonnull(want);
        ck_assert_uint_eq(plen, len);
        ck_assert_int_eq(memcmp(packed, want, len), 0);
        free(want);
        free(packed);
    }
    /* no event id (it would differ per stream), a string that is not UTF-8, a bad stream */
    env.event_id = "";
    uint8_t *none = (uint8_t *)"x";
    ck_assert_int_eq(wh_eventlog_body(&env, &none, &blen), WH_EFIELD);
    env.event_id = "tracking/43";
    ce.reason = "\xE8\xB7";
    ck_assert_int_eq(wh_eventlog_body(&env, &none, &blen), WH_EFIELD);
    ck_assert_int_eq(wh_eventlog_append_body(s_st, txn, "dept/\xFF/", body, blen, NULL, NULL,
                                             NULL), WH_EFIELD);
    ck_assert_int_eq(wh_eventlog_append_body(s_st, txn, "", body, blen, NULL, NULL, NULL),
                     WH_EFIELD);
    free(body);
    ck_assert_int_eq(wh_store_commit(s_st), 0);

    MDB_txn *rtxn;
    struct s_read r;
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(s_st), NULL, MDB_RDONLY, &rtxn), 0);
    ck_assert_int_eq(s_read(rtxn, CGJ, 1, 100, 1 << 20, &r), 3);
    ck_assert_str_eq(r.stream[2], CGJ);
    ck_assert_str_eq(r.event_id[2], "tracking/42");
    ck_assert_str_eq(r.corr[2], "C00000007");
    ck_assert_int_eq(s_read(rtxn, "dept/\xFF/", 1, 100, 1 << 20, &r), 0);
    mdb_txn_abort(rtxn);
}
END_TEST

/* Trims `stream` in a batch of its own and commits; returns what wh_eventlog_trim returned. */
static int s_trim(const char *stream, int64_t max_age_ms, uint64_t max_entries, int64_t now_ms,
                  uint32_t max)
{
    struct wh_retention keep = {max_age_ms, max_entries};
    MDB_txn *txn = wh_store_txn(s_st);
    ck_assert_ptr_nonnull(txn);
    int n = wh_eventlog_trim(s_st, txn, stream, &keep, now_ms, max);
    ck_assert_int_eq(wh_store_commit(s_st), 0);
    return n;
}

START_TEST(test_trim_by_count)
{
    s_fill();
    ck_assert_int_eq(s_trim(CG, 0, 1, 0, 100), 2);
    uint64_t head, oldest;
    s_head(CG, &head, &oldest);
    ck_assert_uint_eq(head, 3);
    ck_assert_uint_eq(oldest, 3);
    /* the neighbours, one of them a longer name with CG as its prefix, are untouched */
    s_head(CGJ, &head, &oldest);
    ck_assert_uint_eq(oldest, 1);
    s_head(CG_SUB, &head, &oldest);
    ck_assert_uint_eq(oldest, 1);
    MDB_txn *txn;
    struct s_read r;
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(s_st), NULL, MDB_RDONLY, &txn), 0);
    ck_assert_int_eq(s_read(txn, CG, 1, 100, 1 << 20, &r), 1);
    ck_assert_uint_eq(r.seq[0], 3);
    ck_assert_str_eq(r.corr[0], "cg-3");
    ck_assert_int_eq(s_read(txn, CG_SUB, 1, 100, 1 << 20, &r), 2);
    ck_assert_int_eq(s_read(txn, CGJ, 1, 100, 1 << 20, &r), 2);
    mdb_txn_abort(txn);
    /* nothing more to trim; the next append continues the sequence and keeps the oldest */
    ck_assert_int_eq(s_trim(CG, 0, 1, 0, 100), 0);
    txn = wh_store_txn(s_st);
    ck_assert_uint_eq(s_append(txn, CG, "cg-4", NULL), 4);
    ck_assert_int_eq(wh_store_commit(s_st), 0);
    s_head(CG, &head, &oldest);
    ck_assert_uint_eq(head, 4);
    ck_assert_uint_eq(oldest, 3);
}
END_TEST

START_TEST(test_trim_by_age)
{
    MDB_txn *txn = wh_store_txn(s_st);
    for (int i = 1; i <= 5; i++) {
        char corr[16];
        snprintf(corr, sizeof corr, "at-%d", i);
        ck_assert_uint_eq(s_append_at(txn, CG, corr, NULL, 1000 * i), (uint64_t)i);
    }
    ck_assert_int_eq(wh_store_commit(s_st), 0);
    /* kept: younger than 2500 ms at 5000, that is occurred at 2500 or later */
    ck_assert_int_eq(s_trim(CG, 2500, 0, 5000, 100), 2);
    uint64_t head, oldest;
    s_head(CG, &head, &oldest);
    ck_assert_uint_eq(head, 5);
    ck_assert_uint_eq(oldest, 3);
    /* both limits: the count takes entry 3 although it is young enough */
    ck_assert_int_eq(s_trim(CG, 2500, 2, 5000, 100), 1);
    s_head(CG, &head, &oldest);
    ck_assert_uint_eq(oldest, 4);
    /* no limit at all: nothing goes */
    ck_assert_int_eq(s_trim(CG, 0, 0, 1 << 30, 100), 0);
    s_head(CG, &head, &oldest);
    ck_assert_uint_eq(oldest, 4);
}
END_TEST

START_TEST(test_trim_bounded_steps)
{
    MDB_txn *txn = wh_store_txn(s_st);
    for (int i = 1; i <= 10; i++) s_append_at(txn, CG, "x", NULL, i);
    ck_assert_int_eq(wh_store_commit(s_st), 0);
    /* keep 2 of 10, at most 3 per call: 3, 3, then the last 2 of the 8 */
    static const int want_n[] = {3, 3, 2, 0};
    static const uint64_t want_oldest[] = {4, 7, 9, 9};
    uint64_t head, oldest;
    for (int step = 0; step < 4; step++) {
        ck_assert_int_eq(s_trim(CG, 0, 2, 0, 3), want_n[step]);
        s_head(CG, &head, &oldest);
        ck_assert_uint_eq(oldest, want_oldest[step]);
        ck_assert_uint_eq(head, 10);
    }
}
END_TEST

START_TEST(test_trim_everything)
{
    s_fill();
    ck_assert_int_eq(s_trim(CG, 1, 0, 1 << 30, 100), 3);
    uint64_t head, oldest;
    s_head(CG, &head, &oldest);
    ck_assert_uint_eq(head, 3);
    ck_assert_uint_eq(oldest, 4); /* nothing kept: the next one to come */
    MDB_txn *txn;
    struct s_read r;
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(s_st), NULL, MDB_RDONLY, &txn), 0);
    ck_assert_int_eq(s_read(txn, CG, 1, 100, 1 << 20, &r), 0);
    /* the read does not run into the next stream */
    mdb_txn_abort(txn);
    txn = wh_store_txn(s_st);
    ck_assert_uint_eq(s_append(txn, CG, "cg-4", NULL), 4);
    ck_assert_int_eq(wh_store_commit(s_st), 0);
    s_head(CG, &head, &oldest);
    ck_assert_uint_eq(head, 4);
    ck_assert_uint_eq(oldest, 4);
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(s_st), NULL, MDB_RDONLY, &txn), 0);
    ck_assert_int_eq(s_read(txn, CG, 1, 100, 1 << 20, &r), 1);
    ck_assert_str_eq(r.corr[0], "cg-4");
    mdb_txn_abort(txn);
    /* a stream never written has nothing to trim */
    ck_assert_int_eq(s_trim("dept/none/", 1, 1, 1 << 30, 100), 0);
}
END_TEST

START_TEST(test_trim_failed_batch)
{
    s_fill();
    struct wh_retention keep = {0, 1};
    MDB_txn *txn = wh_store_txn(s_st);
    ck_assert_int_eq(wh_eventlog_trim(s_st, txn, CG, &keep, 0, 100), 2);
    wh_store_fail(s_st);
    ck_assert_int_lt(wh_store_commit(s_st), 0);
    uint64_t head, oldest;
    s_head(CG, &head, &oldest);
    ck_assert_uint_eq(oldest, 1);
    struct s_read r;
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(s_st), NULL, MDB_RDONLY, &txn), 0);
    ck_assert_int_eq(s_read(txn, CG, 1, 100, 1 << 20, &r), 3);
    mdb_txn_abort(txn);
}
END_TEST

START_TEST(test_next_stream)
{
    s_fill();
    MDB_txn *txn;
    char name[WH_STREAM_MAX + 1];
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(s_st), NULL, MDB_RDONLY, &txn), 0);
    ck_assert_int_eq(wh_eventlog_next_stream(s_st, txn, "", name, sizeof name), 1);
    ck_assert_str_eq(name, CG);
    ck_assert_int_eq(wh_eventlog_next_stream(s_st, txn, name, name, sizeof name), 1);
    ck_assert_str_eq(name, CG_SUB);
    ck_assert_int_eq(wh_eventlog_next_stream(s_st, txn, name, name, sizeof name), 1);
    ck_assert_str_eq(name, CGJ);
    ck_assert_int_eq(wh_eventlog_next_stream(s_st, txn, name, name, sizeof name), 0);
    /* from a name that is not a stream: the next one after it */
    ck_assert_int_eq(wh_eventlog_next_stream(s_st, txn, "dept/cg/a", name, sizeof name), 1);
    ck_assert_str_eq(name, CG_SUB);
    mdb_txn_abort(txn);
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("eventlog");
    TCase *tc = tcase_create("eventlog");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_add_test(tc, test_streams_apart);
    tcase_add_test(tc, test_read_bounds);
    tcase_add_test(tc, test_event_id);
    tcase_add_test(tc, test_failed_batch_leaves_head);
    tcase_add_test(tc, test_bad_stream_name);
    tcase_add_test(tc, test_invalid_utf8_refused);
    tcase_add_test(tc, test_body_many_streams);
    tcase_add_test(tc, test_trim_by_count);
    tcase_add_test(tc, test_trim_by_age);
    tcase_add_test(tc, test_trim_bounded_steps);
    tcase_add_test(tc, test_trim_everything);
    tcase_add_test(tc, test_trim_failed_batch);
    tcase_add_test(tc, test_next_stream);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return wh_test_run(s_suite()); }
