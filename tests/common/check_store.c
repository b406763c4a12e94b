/* check_store.c: what a service keeps survives close and reopen, a failed batch keeps nothing,
 * the map grows past its initial 64 MiB without losing data, and be64 keys sort by number. */
#include "wh_test.h"
#include "whistle/error.h"
#include "whistle/store.h"
#include "whistle/wlog.h"
#include <check.h>

static char *s_dir;
static char s_db[512];
static const char *const s_tables[] = {"kv", NULL};

static void s_setup(void)
{
    wh_log_init("check_store", WH_LOG_WARN);
    s_dir = wh_test_tmpdir();
    ck_assert_ptr_nonnull(s_dir);
    snprintf(s_db, sizeof s_db, "%s/db", s_dir); /* wh_store_open creates it */
}

static void s_teardown(void)
{
    wh_test_rmdir(s_dir);
    free(s_dir);
}

/* Reads key `k` of table "kv" in a fresh read transaction; returns a malloc'd copy or NULL. */
static char *s_read(wh_store_t *st, const char *k)
{
    MDB_txn *txn;
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(st), NULL, MDB_RDONLY, &txn), 0);
    MDB_val v;
    char *out = NULL;
    int rc = wh_store_get(st, txn, wh_store_dbi(st, "kv"), k, strlen(k), &v);
    if (rc == 0) {
        out = malloc(v.mv_size + 1);
        memcpy(out, v.mv_data, v.mv_size);
        out[v.mv_size] = 0;
    } else {
        ck_assert_int_eq(rc, WH_ENOTFOUND);
    }
    mdb_txn_abort(txn);
    return out;
}

static void s_put(wh_store_t *st, MDB_txn *txn, const char *k, const char *v)
{
    ck_assert_int_eq(wh_store_put(st, txn, wh_store_dbi(st, "kv"), k, strlen(k), v, strlen(v)),
                     0);
}

START_TEST(test_durable_across_close)
{
    wh_store_t *st = wh_store_open(s_db, s_tables);
    ck_assert_ptr_nonnull(st);
    ck_assert_int_eq(wh_store_in_batch(st), 0);
    MDB_txn *txn = wh_store_txn(st);
    ck_assert_ptr_nonnull(txn);
    ck_assert_int_eq(wh_store_in_batch(st), 1);
    ck_assert_ptr_eq(wh_store_txn(st), txn); /* one batch per wake-up */
    MDB_dbi kv = wh_store_dbi(st, "kv");
    s_put(st, txn, "case/1", "\xE5\x8D\xA0\xE9\x81\x93");
    s_put(st, txn, "case/2", "two");
    s_put(st, txn, "case/3", "three");
    s_put(st, txn, "case/3", "three, overwritten");

    MDB_val v;
    ck_assert_int_eq(wh_store_get(st, txn, kv, "case/2", 6, &v), 0);
    ck_assert_uint_eq(v.mv_size, 3);
    ck_assert_int_eq(memcmp(v.mv_data, "two", 3), 0);
    ck_assert_int_eq(wh_store_del(st, txn, kv, "case/2", 6), 0);
    ck_assert_int_eq(wh_store_get(st, txn, kv, "case/2", 6, &v), WH_ENOTFOUND);
    ck_assert_int_eq(wh_store_del(st, txn, kv, "case/9", 6), WH_ENOTFOUND);
    /* a miss is not a failure: the batch still commits */
    ck_assert_int_eq(wh_store_commit(st), 0);
    ck_assert_int_eq(wh_store_in_batch(st), 0);
    ck_assert_int_eq(wh_store_commit(st), 0); /* nothing open: fine */

    wh_store_close(&st);
    ck_assert_ptr_null(st);
    wh_store_close(&st); /* idempotent */

    st = wh_store_open(s_db, s_tables);
    ck_assert_ptr_nonnull(st);
    char *a = s_read(st, "case/1"), *b = s_read(st, "case/2"), *c = s_read(st, "case/3");
    ck_assert_str_eq(a, "\xE5\x8D\xA0\xE9\x81\x93");
    ck_assert_ptr_null(b);
    ck_assert_str_eq(c, "three, overwritten");
    free(a);
    free(c);
    /* the runtime's own tables are always there */
    (void)wh_store_dbi(st, "log");
    (void)wh_store_dbi(st, "heads");
    (void)wh_store_dbi(st, "cursors");
    wh_store_close(&st);
}
END_TEST

START_TEST(test_failed_batch_keeps_nothing)
{
    wh_store_t *st = wh_store_open(s_db, s_tables);
    ck_assert_ptr_nonnull(st);
    s_put(st, wh_store_txn(st), "kept", "yes");
    ck_assert_int_eq(wh_store_commit(st), 0);

    MDB_txn *txn = wh_store_txn(st);
    s_put(st, txn, "lost", "no");
    s_put(st, txn, "kept", "changed");
    wh_store_fail(st);
    int rc = wh_store_commit(st);
    ck_assert_msg(rc < 0, "commit of a failed batch returned %d", rc);
    ck_assert_int_eq(wh_store_in_batch(st), 0);

    char *lost = s_read(st, "lost"), *kept = s_read(st, "kept");
    ck_assert_ptr_null(lost);
    ck_assert_str_eq(kept, "yes");
    free(kept);

    /* the next batch starts clean and commits */
    s_put(st, wh_store_txn(st), "after", "ok");
    ck_assert_int_eq(wh_store_commit(st), 0);
    wh_store_close(&st);

    st = wh_store_open(s_db, s_tables);
    lost = s_read(st, "lost");
    char *after = s_read(st, "after");
    ck_assert_ptr_null(lost);
    ck_assert_str_eq(after, "ok");
    free(after);
    wh_store_close(&st);
}
END_TEST

#define S_VALUE (1024 * 1024)
#define S_VALUES 100   /* 100 MiB, from a 64 MiB map */
#define S_PER_BATCH 8

static void s_fill(uint8_t *v, uint32_t i)
{
    for (size_t k = 0; k < S_VALUE; k += 4) {
        uint32_t w = i * 2654435761u + (uint32_t)k;
        memcpy(v + k, &w, 4);
    }
}

static void s_check_all(wh_store_t *st, uint8_t *want)
{
    MDB_txn *txn;
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(st), NULL, MDB_RDONLY, &txn), 0);
    for (uint32_t i = 0; i < S_VALUES; i++) {
        uint8_t key[8];
        wh_be64_put(key, i);
        MDB_val v;
        ck_assert_int_eq(wh_store_get(st, txn, wh_store_dbi(st, "kv"), key, 8, &v), 0);
        ck_assert_uint_eq(v.mv_size, S_VALUE);
        s_fill(want, i);
        ck_assert_msg(memcmp(v.mv_data, want, S_VALUE) == 0, "value %u differs", i);
    }
    mdb_txn_abort(txn);
}

START_TEST(test_map_grows)
{
    wh_store_t *st = wh_store_open(s_db, s_tables);
    ck_assert_ptr_nonnull(st);
    size_t initial = wh_store_mapsize(st);
    ck_assert_uint_eq(initial, 64UL * 1024 * 1024);
    uint8_t *val = malloc(S_VALUE);
    for (uint32_t i = 0; i < S_VALUES;) {
        MDB_txn *txn = wh_store_txn(st);
        ck_assert_ptr_nonnull(txn);
        for (int k = 0; k < S_PER_BATCH && i < S_VALUES; k++, i++) {
            uint8_t key[8];
            wh_be64_put(key, i);
            s_fill(val, i);
            ck_assert_int_eq(wh_store_put(st, txn, wh_store_dbi(st, "kv"), key, 8, val, S_VALUE),
                             0);
        }
        /* growth happens before a batch, so a batch much smaller than a quarter never fills */
        int rc = wh_store_commit(st);
        ck_assert_msg(rc == 0, "batch ending at value %u: %s (map %zu MiB)", i, wh_strerror(rc),
                      wh_store_mapsize(st) >> 20);
    }
    size_t grown = wh_store_mapsize(st);
    ck_assert_msg(grown > (size_t)S_VALUES * S_VALUE, "map is %zu MiB for %d MiB of data",
                  grown >> 20, S_VALUES);
    s_check_all(st, val);
    wh_store_close(&st);

    /* reopening adopts the grown size: everything is readable and the next batch fits */
    st = wh_store_open(s_db, s_tables);
    ck_assert_ptr_nonnull(st);
    ck_assert_uint_ge(wh_store_mapsize(st), grown);
    s_check_all(st, val);
    s_put(st, wh_store_txn(st), "after-reopen", "ok");
    ck_assert_int_eq(wh_store_commit(st), 0);
    wh_store_close(&st);
    free(val);
}
END_TEST

START_TEST(test_be64_order)
{
    uint8_t one[8], big[8], max[8];
    wh_be64_put(one, 1);
    wh_be64_put(big, 256);
    wh_be64_put(max, UINT64_MAX);
    ck_assert_int_lt(memcmp(one, big, 8), 0);
    ck_assert_int_lt(memcmp(big, max, 8), 0);
    ck_assert_uint_eq(wh_be64_get(one), 1);
    ck_assert_uint_eq(wh_be64_get(big), 256);
    ck_assert_uint_eq(wh_be64_get(max), UINT64_MAX);

    uint8_t b[8];
    static const uint8_t want[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    wh_be64_put(b, 0x0102030405060708ULL);
    ck_assert_mem_eq(b, want, 8);
    ck_assert_uint_eq(wh_be64_get(want), 0x0102030405060708ULL);
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("store");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 100);
    tcase_add_test(tc, test_durable_across_close);
    tcase_add_test(tc, test_failed_batch_keeps_nothing);
    tcase_add_test(tc, test_map_grows);
    tcase_add_test(tc, test_be64_order);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return wh_test_run(s_suite()); }
