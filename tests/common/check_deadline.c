/* check_deadline.c: deadlines kept in LMDB and fired from one timer. An expiry whose batch
 * fails (a storage failure) is fired again by itself, without waiting for another commit to
 * re-arm the timer; an expiry that does not apply (a decision) removes its row and nothing
 * else; a restart re-arms from the table. */
#include "wh_test.h"
#include "whistle/clock.h"
#include "whistle/deadline.h"
#include "whistle/error.h"
#include "whistle/wlog.h"
#include <check.h>
#include <string.h>

static char *s_dir;
static wh_service_t *s_svc;
static wh_deadlines_t *s_dl;

struct s_fires {
    int calls;        /* times the callback ran */
    int fail_first;   /* storage failure on the first N calls */
    int refuse;       /* a decision: "does not apply", every call */
    int kept;         /* calls whose work was committed */
    char last[32];
};
static struct s_fires s_f;

static int s_fire(void *arg, MDB_txn *txn, const char *id, int64_t due, int64_t now)
{
    (void)due;
    (void)now;
    struct s_fires *f = arg;
    f->calls++;
    snprintf(f->last, sizeof f->last, "%s", id);
    wh_store_t *st = wh_service_store(s_svc);
    /* what the expiry decided, in the same step: a row in "done" */
    int rc = wh_store_put(st, txn, wh_store_dbi(st, "done"), id, strlen(id), "x", 1);
    if (rc) return rc;
    if (f->calls <= f->fail_first) return WH_ESTORE;
    if (f->refuse) return WH_ESTATE;
    return 0;
}

static void s_after_commit(void *arg, wh_service_t *svc)
{
    (void)arg;
    (void)svc;
    wh_deadlines_arm(s_dl);
}

static void s_setup(void)
{
    wh_log_init("check_deadline", WH_LOG_ERROR);
    memset(&s_f, 0, sizeof s_f);
    s_dir = wh_test_tmpdir();
    ck_assert_ptr_nonnull(s_dir);
    static char data[600], api[600], ev[600];
    snprintf(data, sizeof data, "%s/data", s_dir);
    snprintf(api, sizeof api, "ipc://%s/d.api", s_dir);
    snprintf(ev, sizeof ev, "ipc://%s/d.ev", s_dir);
    static const char *const tables[] = {"due", "done", NULL};
    struct wh_service_config cfg = {.name = "dl", .data_dir = data, .api_endpoint = api,
                                    .events_endpoint = ev, .heartbeat_ms = 1000,
                                    .tables = tables, .after_commit = s_after_commit};
    s_svc = wh_service_new(&cfg);
    ck_assert_ptr_nonnull(s_svc);
    s_dl = wh_deadlines_new(s_svc, "due", s_fire, NULL, &s_f);
    ck_assert_ptr_nonnull(s_dl);
}

static void s_teardown(void)
{
    wh_deadlines_destroy(&s_dl);
    wh_service_destroy(&s_svc);
    wh_test_rmdir(s_dir);
    free(s_dir);
}

/* Adds a deadline for `id` due in `ms`, committed, and arms the timer. */
static void s_add(const char *id, int64_t ms)
{
    MDB_txn *txn = wh_service_txn(s_svc);
    ck_assert_ptr_nonnull(txn);
    ck_assert_int_eq(wh_deadlines_move(s_dl, txn, id, 0, wh_now_ms() + ms), 0);
    wh_service_commit(s_svc);
    wh_deadlines_arm(s_dl);
}

static int s_rows(const char *table)
{
    wh_store_t *st = wh_service_store(s_svc);
    MDB_txn *txn;
    MDB_stat ms;
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(st), NULL, MDB_RDONLY, &txn), 0);
    ck_assert_int_eq(mdb_stat(txn, wh_store_dbi(st, table), &ms), 0);
    mdb_txn_abort(txn);
    return (int)ms.ms_entries;
}

static int s_drive_until(int (*cond)(void), int timeout_ms)
{
    int64_t deadline = wh_mono_ms() + timeout_ms;
    while (wh_mono_ms() < deadline) {
        wh_service_run_once(s_svc, 10);
        if (cond()) return 1;
    }
    return 0;
}

static int s_done_one(void) { return s_rows("done") == 1 && s_rows("due") == 0; }
static int s_due_gone(void) { return s_rows("due") == 0 && s_f.calls >= 1; }

START_TEST(refired_after_failed_batch)
{
    s_f.fail_first = 2; /* the first two firings' batches fail, as a full disk would */
    s_add("C00000001", 30);
    /* nothing else commits meanwhile: only the deadline's own retry can bring it back */
    ck_assert_msg(s_drive_until(s_done_one, 5000), "fired %d time(s), never kept", s_f.calls);
    ck_assert_int_eq(s_f.calls, 3);
    ck_assert_str_eq(s_f.last, "C00000001");
}
END_TEST

START_TEST(decision_removes_row_only)
{
    s_f.refuse = 1;
    s_add("C00000002", 20);
    ck_assert(s_drive_until(s_due_gone, 5000));
    ck_assert_int_eq(s_rows("done"), 0); /* what it wrote was undone with the refusal */
    int64_t until = wh_mono_ms() + 200;
    while (wh_mono_ms() < until) wh_service_run_once(s_svc, 10);
    ck_assert_int_eq(s_f.calls, 1); /* and it never comes back */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("deadline");
    TCase *tc = tcase_create("timer");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, refired_after_failed_batch);
    tcase_add_test(tc, decision_removes_row_only);
    suite_add_tcase(s, tc);
    return wh_test_run(s);
}
