/* check_webhooks.c: the webhook outbox: backoff stays within its bounds, registrations are
 * refused by field name, an entry is queued only for the webhooks of its own topic (dept/cg/
 * is not dept/cgj/), in the caller's transaction (an aborted batch leaves no delivery), and
 * removing a webhook drops what it had pending. */
#include "notification.h"
#include "wh_test.h"
#include "whistle/error.h"
#include <check.h>

START_TEST(backoff_bounds)
{
    static const struct {
        int attempts, base;
        int64_t lo, hi; /* [lo, hi) */
    } t[] = {
        {1, 1000, 500, 1000},         {2, 1000, 1000, 2000},      {3, 1000, 2000, 4000},
        {8, 1000, 64000, 128000},     {0, 1000, 500, 1000},       {40, 1000, 1800000, 3600000},
        {1, 50, 25, 50},              {4, 50, 200, 400},
    };
    static const double r[] = {0.0, 0.25, 0.5, 0.999999};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        for (size_t k = 0; k < sizeof r / sizeof r[0]; k++) {
            int64_t d = notification_webhook_backoff(t[i].attempts, t[i].base, r[k]);
            ck_assert_msg(d >= t[i].lo && d < t[i].hi, "attempts %d base %d r %g: %lld",
                          t[i].attempts, t[i].base, r[k], (long long)d);
        }
    /* jitter spreads: the two ends of r differ */
    ck_assert_int_lt(notification_webhook_backoff(5, 1000, 0.0),
                     notification_webhook_backoff(5, 1000, 0.9));
}
END_TEST

static const struct {
    const char *topic, *url, *field; /* field "" = accepted */
} s_regs[] = {
    {"dept/cg/", "http://127.0.0.1:8080/hook", ""},
    {"all/", "https://dept.example/whistle", ""},
    {"district/", "http://h/", ""},
    {"case/C00000001/", "http://h/", ""},
    {"dept/cg", "http://h/", "webhook_add.topic"},
    {"dept//", "http://h/", "webhook_add.topic"},
    {"dept/a/b/", "http://h/", "webhook_add.topic"},
    {"nope/x/", "http://h/", "webhook_add.topic"},
    {"", "http://h/", "webhook_add.topic"},
    {"dept/cg/", "", "webhook_add.url"},
    {"dept/cg/", "ftp://h/", "webhook_add.url"},
    {"dept/cg/", "http://h/a b", "webhook_add.url"},
    {"dept/cg/", "http://h/\x01", "webhook_add.url"},
    {"dept/cg/", "http://h/\xff", "webhook_add.url"},
};

START_TEST(registration_fields)
{
    struct wh_field_error fe;
    int rc = notification_webhook_check("webhook_add", s_regs[_i].topic, s_regs[_i].url, &fe);
    if (!s_regs[_i].field[0]) {
        ck_assert_msg(rc == 0, "%s %s refused: %s", s_regs[_i].topic, s_regs[_i].url,
                      fe.message);
    } else {
        ck_assert_int_eq(rc, WH_EFIELD);
        ck_assert_str_eq(fe.field, s_regs[_i].field);
        ck_assert(fe.message[0]);
    }
}
END_TEST

/* ---- the outbox, on a service of its own ---------------------------------------------- */

static char *s_dir;
static char s_data[512], s_api[512], s_ev[512];
static wh_service_t *s_svc;
static notification_webhooks_t *s_hooks;

static void s_setup(void)
{
    static const char *const tables[] = {NOTIFICATION_WEBHOOK_TABLES, NULL};
    s_dir = wh_test_tmpdir();
    snprintf(s_data, sizeof s_data, "%s/n", s_dir);
    snprintf(s_api, sizeof s_api, "ipc://%s/n.api", s_dir);
    snprintf(s_ev, sizeof s_ev, "ipc://%s/n.ev", s_dir);
    struct wh_service_config cfg = {.name = "notification", .stream = "all/",
                                    .data_dir = s_data, .api_endpoint = s_api,
                                    .events_endpoint = s_ev, .tables = tables,
                                    .heartbeat_ms = 50};
    s_svc = wh_service_new(&cfg);
    ck_assert_ptr_nonnull(s_svc);
    /* a long backoff: nothing is retried while the test looks at the outbox */
    struct notification_webhook_config hc = {3, 1000, 3600000};
    s_hooks = notification_webhooks_new(s_svc, &hc);
    ck_assert_ptr_nonnull(s_hooks);
}

static void s_teardown(void)
{
    notification_webhooks_destroy(&s_hooks);
    ck_assert_ptr_null(s_hooks);
    wh_service_destroy(&s_svc);
    wh_test_rmdir(s_dir);
    free(s_dir);
}

static size_t s_entries(const char *table)
{
    MDB_txn *txn;
    MDB_stat ms;
    wh_store_t *st = wh_service_store(s_svc);
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(st), NULL, MDB_RDONLY, &txn), 0);
    ck_assert_int_eq(mdb_stat(txn, wh_store_dbi(st, table), &ms), 0);
    mdb_txn_abort(txn);
    return ms.ms_entries;
}

static void s_request(int add, const char *topic, const char *url)
{
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__WebhookAdd a = WHISTLE__V1__WEBHOOK_ADD__INIT;
    Whistle__V1__WebhookRemove r = WHISTLE__V1__WEBHOOK_REMOVE__INIT;
    if (add) {
        a.topic = (char *)topic;
        a.url = (char *)url;
        req.body_case = WHISTLE__V1__REQUEST__BODY_WEBHOOK_ADD;
        req.webhook_add = &a;
    } else {
        r.topic = (char *)topic;
        r.url = (char *)url;
        req.body_case = WHISTLE__V1__REQUEST__BODY_WEBHOOK_REMOVE;
        req.webhook_remove = &r;
    }
    struct wh_peer peer = {.id = "p", .id_len = 1};
    notification_webhooks_request(s_hooks, wh_service_txn(s_svc), &peer, &req, NULL, NULL);
    ck_assert_int_eq(wh_store_commit(wh_service_store(s_svc)), 0);
}

/* Queues one entry of `topic` in a batch; commits it or aborts it. */
static void s_enqueue(const char *topic, uint64_t seq, int commit)
{
    Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
    Whistle__V1__Heartbeat hb = WHISTLE__V1__HEARTBEAT__INIT;
    env.stream = (char *)topic;
    env.seq = seq;
    env.event_id = "tracking/1";
    env.correlation_id = "C00000001";
    env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_HEARTBEAT;
    env.heartbeat = &hb;
    ck_assert_int_eq(notification_webhooks_enqueue(s_hooks, wh_service_txn(s_svc), &env), 0);
    if (commit) ck_assert_int_eq(wh_store_commit(wh_service_store(s_svc)), 0);
    else wh_store_abort(wh_service_store(s_svc));
}

START_TEST(queued_per_topic_in_the_callers_txn)
{
    /* nobody listens: nothing queued */
    s_enqueue("dept/cg/", 1, 1);
    ck_assert_uint_eq(s_entries("outbox"), 0);
    /* port 9 on loopback: nothing answers, the POST fails fast and waits an hour to retry */
    s_request(1, "dept/cg/", "http://127.0.0.1:9/a");
    s_request(1, "dept/cg/", "http://127.0.0.1:9/b");
    s_request(1, "dept/cg/", "http://127.0.0.1:9/a"); /* idempotent */
    s_request(1, "dept/cgj/", "http://127.0.0.1:9/c");
    ck_assert_uint_eq(s_entries("webhooks"), 3);
    s_enqueue("dept/cg/", 2, 1);
    ck_assert_uint_eq(s_entries("outbox"), 2); /* a and b, not c */
    s_enqueue("dept/cgj/", 1, 0);              /* aborted with its batch */
    ck_assert_uint_eq(s_entries("outbox"), 2);
    s_enqueue("dept/c/", 1, 1);                /* a prefix of neither topic */
    ck_assert_uint_eq(s_entries("outbox"), 2);
    /* removing a webhook drops what it had pending, the others stay */
    s_request(0, "dept/cg/", "http://127.0.0.1:9/a");
    wh_service_t *svcs[1] = {s_svc};
    ck_assert(WH_TEST_WAIT(svcs, 1, 5000, s_entries("outbox") == 1));
    /* the other stays queued for its next attempt, an hour away: not dead */
    ck_assert_uint_eq(s_entries("dead"), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("webhooks");
    TCase *pure = tcase_create("pure");
    tcase_add_test(pure, backoff_bounds);
    tcase_add_loop_test(pure, registration_fields, 0, (int)(sizeof s_regs / sizeof s_regs[0]));
    suite_add_tcase(s, pure);
    TCase *tc = tcase_create("outbox");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, queued_per_topic_in_the_callers_txn);
    suite_add_tcase(s, tc);
    return wh_test_run(s);
}
