/* check_retention.c: notification trims its topic logs to the retention: by count per topic
 * and by age, from the start of each topic only, in slices bounded in topics and entries,
 * from its own timer on the loop; a trimmed topic's oldest moves and its head stays, the next
 * entry continues the sequence, and a Replay of what was trimmed is answered "gone, oldest
 * is N". With no retention, nothing is ever trimmed. */
#include "notification.h"
#include "wh_test.h"
#include "whistle/clock.h"
#include "whistle/error.h"
#include "whistle/wlog.h"
#include <check.h>

static char *s_dir;
static char s_buf[2048];
static struct wh_options s_opt;
static struct wh_catalog *s_cat;
static notification_t *s_n;
static wh_service_t *s_svcs[1];
static void *s_zctx, *s_dealer;

static void s_setup(void)
{
    char err[256];
    wh_log_init("check_retention", WH_LOG_WARN);
    s_dir = wh_test_tmpdir();
    ck_assert_ptr_nonnull(s_dir);
    wh_test_options(&s_opt, s_buf, s_dir, "notification");
    s_cat = wh_catalog_load(s_opt.catalog, err, sizeof err);
    ck_assert_msg(s_cat != NULL, "%s", err);
    s_zctx = zmq_ctx_new();
}

static void s_start(int64_t retention_ms, int64_t retention_entries)
{
    s_opt.retention_ms = retention_ms;
    s_opt.retention_entries = retention_entries;
    s_n = notification_new(&s_opt, s_cat);
    ck_assert_ptr_nonnull(s_n);
    s_svcs[0] = notification_service(s_n);
    s_dealer = wh_test_dealer(s_zctx, s_opt.api);
}

static void s_teardown(void)
{
    if (s_dealer) zmq_close(s_dealer);
    s_dealer = NULL;
    zmq_ctx_term(s_zctx);
    notification_destroy(&s_n);
    ck_assert_ptr_null(s_n);
    wh_catalog_destroy(&s_cat);
    wh_test_rmdir(s_dir);
    free(s_dir);
}

/* Appends `n` entries to `topic`, occurred at `at_ms`, and commits them. */
static void s_append(const char *topic, int n, int64_t at_ms)
{
    MDB_txn *txn = wh_service_txn(s_svcs[0]);
    ck_assert_ptr_nonnull(txn);
    for (int i = 0; i < n; i++) {
        Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
        Whistle__V1__CaseUpdated cu = WHISTLE__V1__CASE_UPDATED__INIT;
        env.correlation_id = "C00000001";
        env.occurred_at_ms = at_ms;
        env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_UPDATED;
        env.case_updated = &cu;
        ck_assert_int_eq(wh_service_append(s_svcs[0], txn, topic, &env, NULL), 0);
    }
    wh_service_run_once(s_svcs[0], 0); /* the loop commits the batch, then publishes */
    ck_assert(!wh_store_in_batch(wh_service_store(s_svcs[0])));
}

static void s_head(const char *topic, uint64_t *head, uint64_t *oldest)
{
    wh_store_t *st = wh_service_store(s_svcs[0]);
    MDB_txn *txn;
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(st), NULL, MDB_RDONLY, &txn), 0);
    ck_assert_int_eq(wh_eventlog_head(st, txn, topic, head, oldest), 0);
    mdb_txn_abort(txn);
}

static uint64_t s_oldest(const char *topic)
{
    uint64_t head, oldest;
    s_head(topic, &head, &oldest);
    return oldest;
}

/* One slice, committed. */
static int s_step(int64_t now_ms)
{
    int n = notification_retention_step(notification_retention(s_n), now_ms);
    ck_assert_int_eq(wh_store_commit(wh_service_store(s_svcs[0])), 0);
    return n;
}

static Whistle__V1__Reply *s_replay(const char *topic, uint64_t from)
{
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__Replay rp = WHISTLE__V1__REPLAY__INIT;
    rp.topic = (char *)topic;
    rp.from_seq = from;
    req.request_id = 5;
    req.body_case = WHISTLE__V1__REQUEST__BODY_REPLAY;
    req.replay = &rp;
    Whistle__V1__Reply *r = wh_test_call(s_dealer, s_svcs, 1, &req, 5000);
    ck_assert_ptr_nonnull(r);
    return r;
}

START_TEST(test_by_count_from_the_timer)
{
    s_start(0, 3);
    s_append("dept/cg/", 5, wh_now_ms());
    s_append("dept/cgj/", 2, wh_now_ms());
    s_append("case/C00000001/", 600, wh_now_ms());
    /* the service's own timer trims, nobody calls it */
    ck_assert_msg(WH_TEST_WAIT(s_svcs, 1, 10000,
                               s_oldest("dept/cg/") == 3 && s_oldest("case/C00000001/") == 598),
                  "not trimmed: dept/cg/ oldest %llu",
                  (unsigned long long)s_oldest("dept/cg/"));
    uint64_t head, oldest;
    s_head("dept/cgj/", &head, &oldest);
    ck_assert_uint_eq(oldest, 1); /* within the limit: untouched */
    s_head("dept/cg/", &head, &oldest);
    ck_assert_uint_eq(head, 5);
    ck_assert_uint_eq(notification_retention_deleted(notification_retention(s_n)), 2 + 597);

    /* what was trimmed is gone, explicitly; what is kept is served */
    Whistle__V1__Reply *r = s_replay("dept/cg/", 1);
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_ERROR);
    ck_assert_int_eq(r->error->code, WH_EGONE);
    ck_assert_str_eq(r->error->field, "replay.from_seq");
    ck_assert_uint_eq(r->error->oldest, 3);
    whistle__v1__reply__free_unpacked(r, NULL);
    r = s_replay("dept/cg/", 3);
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_REPLAY);
    ck_assert_uint_eq(r->replay->n_entries, 3);
    ck_assert_uint_eq(r->replay->entries[0]->seq, 3);
    ck_assert_uint_eq(r->replay->oldest, 3);
    ck_assert_uint_eq(r->replay->head, 5);
    whistle__v1__reply__free_unpacked(r, NULL);

    /* the sequence goes on from the head, and the next walk trims again */
    s_append("dept/cg/", 2, wh_now_ms());
    s_head("dept/cg/", &head, &oldest);
    ck_assert_uint_eq(head, 7);
    ck_assert(WH_TEST_WAIT(s_svcs, 1, 10000, s_oldest("dept/cg/") == 5));
}
END_TEST

START_TEST(test_by_age)
{
    s_start(60000, 0);
    int64_t now = wh_now_ms();
    s_append("unit/north/", 4, now - 120000);  /* two minutes old: past the retention */
    s_append("unit/north/", 2, now);
    s_append("grid/g1/", 3, now - 120000);
    ck_assert_int_eq(s_step(now), 7);
    uint64_t head, oldest;
    s_head("unit/north/", &head, &oldest);
    ck_assert_uint_eq(oldest, 5);
    ck_assert_uint_eq(head, 6);
    s_head("grid/g1/", &head, &oldest);
    ck_assert_uint_eq(oldest, 4); /* nothing kept: the next entry to come */
    ck_assert_uint_eq(head, 3);
    /* a new entry on an emptied topic continues its sequence and is served */
    s_append("grid/g1/", 1, now);
    Whistle__V1__Reply *r = s_replay("grid/g1/", 4);
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_REPLAY);
    ck_assert_uint_eq(r->replay->n_entries, 1);
    ck_assert_uint_eq(r->replay->entries[0]->seq, 4);
    whistle__v1__reply__free_unpacked(r, NULL);
    /* a minute later the young ones are old too */
    ck_assert_int_eq(s_step(now + 61000), 3);
    ck_assert_uint_eq(s_oldest("unit/north/"), 7);
}
END_TEST

START_TEST(test_bounded_slices)
{
    s_start(0, 1);
    /* 300 topics of 5 entries: 1200 to delete, more than one slice may visit or delete */
    MDB_txn *txn = wh_service_txn(s_svcs[0]);
    for (int t = 0; t < 300; t++) {
        char topic[32];
        snprintf(topic, sizeof topic, "case/C%08d/", t);
        for (int i = 0; i < 5; i++) {
            Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
            ck_assert_int_eq(wh_service_append(s_svcs[0], txn, topic, &env, NULL), 0);
        }
    }
    wh_service_run_once(s_svcs[0], 0);
    int total = 0, slices = 0, n;
    do {
        n = s_step(wh_now_ms());
        ck_assert_int_ge(n, 0);
        ck_assert_int_le(n, NOTIFICATION_TRIM_BATCH);
        total += n;
        slices++;
    } while (n > 0 && slices < 100);
    ck_assert_int_eq(total, 1200);
    ck_assert_int_ge(slices, 2); /* bounded: one slice could not do it all */
    for (int t = 0; t < 300; t += 37) {
        char topic[32];
        snprintf(topic, sizeof topic, "case/C%08d/", t);
        ck_assert_uint_eq(s_oldest(topic), 5);
    }
}
END_TEST

START_TEST(test_no_retention_keeps_everything)
{
    s_start(0, 0);
    ck_assert_ptr_null(notification_retention(s_n));
    s_append("dept/cg/", 3, 1); /* occurred in 1970 */
    int64_t until = wh_mono_ms() + 1500; /* longer than a retention period */
    while (wh_mono_ms() < until) wh_service_run_once(s_svcs[0], 50);
    ck_assert_uint_eq(s_oldest("dept/cg/"), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("retention");
    TCase *tc = tcase_create("retention");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_by_count_from_the_timer);
    tcase_add_test(tc, test_by_age);
    tcase_add_test(tc, test_bounded_slices);
    tcase_add_test(tc, test_no_retention_keeps_everything);
    suite_add_tcase(s, tc);
    return wh_test_run(s);
}
