/* check_cursor.c: a follower's cursor is 0 until set, reads back what was set, is kept per
 * upstream, and survives commit and reopen (so a restarted service resumes where it was). */
#include "wh_test.h"
#include "whistle/cursor.h"
#include "whistle/error.h"
#include "whistle/wlog.h"
#include <check.h>

static char *s_dir;

static void s_setup(void)
{
    wh_log_init("check_cursor", WH_LOG_WARN);
    s_dir = wh_test_tmpdir();
    ck_assert_ptr_nonnull(s_dir);
}

static void s_teardown(void)
{
    wh_test_rmdir(s_dir);
    free(s_dir);
}

static uint64_t s_get_ro(wh_store_t *st, const char *upstream)
{
    MDB_txn *txn;
    uint64_t seq = 12345;
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(st), NULL, MDB_RDONLY, &txn), 0);
    ck_assert_int_eq(wh_cursor_get(st, txn, upstream, &seq), 0);
    mdb_txn_abort(txn);
    return seq;
}

START_TEST(test_unknown_is_zero)
{
    wh_store_t *st = wh_store_open(s_dir, NULL);
    ck_assert_ptr_nonnull(st);
    ck_assert_uint_eq(s_get_ro(st, "intake"), 0);
    wh_store_close(&st);
}
END_TEST

START_TEST(test_round_trip_and_reopen)
{
    wh_store_t *st = wh_store_open(s_dir, NULL);
    ck_assert_ptr_nonnull(st);
    MDB_txn *txn = wh_store_txn(st);
    uint64_t seq = 0;
    ck_assert_int_eq(wh_cursor_set(st, txn, "intake", 41), 0);
    ck_assert_int_eq(wh_cursor_set(st, txn, "intake", 42), 0);
    ck_assert_int_eq(wh_cursor_set(st, txn, "routing", (uint64_t)1 << 40), 0);
    ck_assert_int_eq(wh_cursor_get(st, txn, "intake", &seq), 0);
    ck_assert_uint_eq(seq, 42);
    /* not visible outside the batch until committed */
    ck_assert_uint_eq(s_get_ro(st, "intake"), 0);
    ck_assert_int_eq(wh_store_commit(st), 0);
    ck_assert_uint_eq(s_get_ro(st, "intake"), 42);
    wh_store_close(&st);

    st = wh_store_open(s_dir, NULL);
    ck_assert_ptr_nonnull(st);
    ck_assert_uint_eq(s_get_ro(st, "intake"), 42);
    ck_assert_uint_eq(s_get_ro(st, "routing"), (uint64_t)1 << 40);
    ck_assert_uint_eq(s_get_ro(st, "tracking"), 0);
    /* a prefix of a known upstream is another upstream */
    ck_assert_uint_eq(s_get_ro(st, "intak"), 0);

    /* a failed batch does not move the cursor */
    txn = wh_store_txn(st);
    ck_assert_int_eq(wh_cursor_set(st, txn, "intake", 99), 0);
    wh_store_fail(st);
    ck_assert_int_lt(wh_store_commit(st), 0);
    ck_assert_uint_eq(s_get_ro(st, "intake"), 42);
    wh_store_close(&st);
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("cursor");
    TCase *tc = tcase_create("cursor");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_add_test(tc, test_unknown_is_zero);
    tcase_add_test(tc, test_round_trip_and_reopen);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return wh_test_run(s_suite()); }
