/* check_service.c: the shared runtime end to end, in one thread: a reply leaves only after its
 * log entry is committed; a follower applies an upstream log exactly once and in order, and
 * after a restart catches up from its stored cursor; Ping reports heads and cursors; a bad
 * request gets an Error naming the field and the service keeps serving; an Error echoing a
 * peer's bytes is valid UTF-8; Replay past the head
 * returns nothing and the head, and before the oldest kept says it is gone and where the log
 * starts; every topic subscribed by name gets a heartbeat with its own head; a heavy read
 * (wh_service_read_async) holds up neither commits nor Ping, is answered after them with what
 * it read, even across a failed batch, is bounded in number, and is waited for at shutdown.
 * Two wh_service_t ("up" and "down") on ipc:// endpoints in a
 * mkdtemp folder, driven alternately with wh_service_run_once. */
#include "wh_test.h"
#include "whistle/cursor.h"
#include "whistle/error.h"
#include "whistle/eventlog.h"
#include "whistle/wlog.h"
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>

#define S_MAX_REQ 1024

/* "up": answers SubmitReport by appending a CaseReported to its log. */
struct s_up {
    uint64_t seq_of[S_MAX_REQ]; /* request_id -> seq appended for it (0: none) */
    int handled;
};

/* "down": follows "up", recording each case id in its table "seen". */
struct s_down {
    uint64_t applied;     /* entries applied since this process (re)started */
    uint64_t first_seq;   /* seq of the first applied */
    uint64_t last_seq;
    int out_of_order;
    int duplicates;       /* a case id already in "seen" */
    int wrong_payload;
};

static char *s_dir;
static char s_up_api[256], s_up_ev[256], s_up_data[256];
static char s_down_api[256], s_down_ev[256], s_down_data[256];
static const char *const s_down_tables[] = {"seen", NULL};
static struct s_up s_upst;
static struct s_down s_downst;
static wh_service_t *s_svcs[2]; /* [0] up, [1] down */
static void *s_zctx, *s_dealer_up, *s_dealer_down, *s_sub;

/* ---- a heavy read, held on a gate the test opens ---------------------------------------- */

static pthread_mutex_t s_gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_gate_cv = PTHREAD_COND_INITIALIZER;
static int s_gate_open;
static atomic_int s_reads_started;

struct s_read_job {
    uint64_t head; /* up's head as its read transaction saw it */
    int rc;
};

/* Waits (10 s at most: a read run on the loop must fail the test, not hang it) for the gate,
 * then reads up's committed head in its own transaction. */
static int s_read_work(void *arg, wh_store_t *st, MDB_txn *rtxn)
{
    struct s_read_job *j = arg;
    MDB_val k = {3, "up/"}, v;
    j->rc = mdb_get(rtxn, wh_store_dbi(st, "heads"), &k, &v);
    atomic_fetch_add(&s_reads_started, 1);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&s_gate_mu);
    while (!s_gate_open && pthread_cond_timedwait(&s_gate_cv, &s_gate_mu, &until) == 0) {
    }
    pthread_mutex_unlock(&s_gate_mu);
    uint64_t head = 0;
    if (wh_eventlog_head(st, rtxn, "up/", &head, NULL) == 0) j->head = head;
    return 0;
}

/* Answers "head=<n>" in FiguresReply.period. */
static void s_read_done(void *arg, wh_service_t *svc, const struct wh_peer *peer, int rc)
{
    struct s_read_job *j = arg;
    char period[32];
    snprintf(period, sizeof period, "head=%llu", (unsigned long long)j->head);
    Whistle__V1__Reply reply = WHISTLE__V1__REPLY__INIT;
    Whistle__V1__FiguresReply fr = WHISTLE__V1__FIGURES_REPLY__INIT;
    if (rc == 0) {
        fr.period = period;
        reply.body_case = WHISTLE__V1__REPLY__BODY_FIGURES;
        reply.figures = &fr;
        wh_service_answer(svc, peer, &reply);
    }
    /* rc != 0 is left unanswered: the runtime must answer EINTERNAL */
    free(j);
}

static void s_gate(int open)
{
    pthread_mutex_lock(&s_gate_mu);
    s_gate_open = open;
    pthread_cond_broadcast(&s_gate_cv);
    pthread_mutex_unlock(&s_gate_mu);
}

static int s_up_on_request(void *arg, wh_service_t *svc, MDB_txn *txn,
                           const struct wh_peer *peer, const Whistle__V1__Request *req)
{
    struct s_up *up = arg;
    if (req->body_case == WHISTLE__V1__REQUEST__BODY_FIGURES) {
        struct s_read_job *j = calloc(1, sizeof *j);
        if (!j) return WH_ENOMEM;
        int rc = wh_service_read_async(svc, peer, s_read_work, s_read_done, j);
        if (rc) free(j);
        return rc == WH_EBUSY ? 0 : rc;
    }
    if (req->body_case == WHISTLE__V1__REQUEST__BODY_GET_CASE) {
        /* echoes the peer's bytes as they came: wh_service_error makes them valid UTF-8 */
        const char *id = req->get_case->case_id;
        wh_service_error(svc, peer, WH_ENOTFOUND, id, id, 0);
        return 0;
    }
    if (req->body_case != WHISTLE__V1__REQUEST__BODY_SUBMIT_REPORT) {
        wh_service_error(svc, peer, WH_EUNSUPPORTED, "request.body", "only SubmitReport", 0);
        return 0;
    }
    const Whistle__V1__SubmitReport *sr = req->submit_report;
    struct wh_field_error fe;
    if (wh_check_string(&fe, "idempotency_key", sr->idempotency_key, WH_MAX_KEY, 1)) {
        wh_service_error(svc, peer, fe.code, fe.field, fe.message, 0);
        return 0;
    }
    Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
    Whistle__V1__CaseReported cr = WHISTLE__V1__CASE_REPORTED__INIT;
    cr.case_id = sr->idempotency_key;
    cr.idempotency_key = sr->idempotency_key;
    cr.report = sr->report;
    env.correlation_id = sr->idempotency_key;
    env.occurred_at_ms = wh_now_ms();
    env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_REPORTED;
    env.case_reported = &cr;
    uint64_t seq = 0;
    /* "named-" keys name the own stream instead of passing NULL: the same log; "side-" keys
     * go to a second stream, as notification's topics do */
    const char *stream = strncmp(sr->idempotency_key, "named-", 6) == 0 ? "up/"
                         : strncmp(sr->idempotency_key, "side-", 5) == 0 ? "side/"
                                                                         : NULL;
    int rc = wh_service_append(svc, txn, stream, &env, &seq);
    if (rc) {
        wh_service_error(svc, peer, rc, "", "cannot append", 0);
        return 0;
    }
    /* decisions after a write: "undo-" refuses, "mute-" forgets to answer (a handler bug) */
    if (strncmp(sr->idempotency_key, "undo-", 5) == 0) return WH_EFIELD;
    if (strncmp(sr->idempotency_key, "mute-", 5) == 0) return 0;
    /* a storage failure after the append, as a full disk would cause */
    if (strncmp(sr->idempotency_key, "fail-", 5) == 0) wh_store_fail(wh_service_store(svc));
    if (req->request_id < S_MAX_REQ) up->seq_of[req->request_id] = seq;
    up->handled++;
    Whistle__V1__Reply reply = WHISTLE__V1__REPLY__INIT;
    Whistle__V1__SubmitReportReply srr = WHISTLE__V1__SUBMIT_REPORT_REPLY__INIT;
    srr.case_id = sr->idempotency_key;
    reply.body_case = WHISTLE__V1__REPLY__BODY_SUBMIT_REPORT;
    reply.submit_report = &srr;
    wh_service_reply(svc, peer, &reply);
    return 0;
}

static int s_down_apply(void *arg, wh_service_t *svc, MDB_txn *txn,
                        const Whistle__V1__Envelope *env)
{
    struct s_down *d = arg;
    if (env->payload_case != WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_REPORTED) {
        d->wrong_payload++;
        return 0;
    }
    if (d->applied == 0) d->first_seq = env->seq;
    else if (env->seq != d->last_seq + 1) d->out_of_order++;
    d->last_seq = env->seq;
    wh_store_t *st = wh_service_store(svc);
    MDB_dbi seen = wh_store_dbi(st, "seen");
    const char *id = env->case_reported->case_id;
    MDB_val v;
    if (wh_store_get(st, txn, seen, id, strlen(id), &v) == 0) d->duplicates++;
    uint8_t b[8];
    wh_be64_put(b, env->seq);
    int rc = wh_store_put(st, txn, seen, id, strlen(id), b, sizeof b);
    /* a decision about this entry, after a write: it must be undone and the follower go on */
    if (rc == 0 && strncmp(id, "poison-", 7) == 0) return WH_EFIELD;
    if (rc == 0) d->applied++;
    return rc;
}

static void s_up_new(void)
{
    struct wh_service_config cfg = {
        .name = "up",
        .data_dir = s_up_data,
        .api_endpoint = s_up_api,
        .events_endpoint = s_up_ev,
        .heartbeat_ms = 50,
        .on_request = s_up_on_request,
        .arg = &s_upst,
    };
    s_svcs[0] = wh_service_new(&cfg);
    ck_assert_ptr_nonnull(s_svcs[0]);
    ck_assert_str_eq(wh_service_api_endpoint(s_svcs[0]), s_up_api);
}

static void s_down_new(void)
{
    struct wh_service_config cfg = {
        .name = "down",
        .data_dir = s_down_data,
        .api_endpoint = s_down_api,
        .events_endpoint = s_down_ev,
        .tables = s_down_tables,
        .heartbeat_ms = 50,
    };
    memset(&s_downst, 0, sizeof s_downst);
    s_svcs[1] = wh_service_new(&cfg);
    ck_assert_ptr_nonnull(s_svcs[1]);
    ck_assert_int_eq(wh_service_follow(s_svcs[1], "up", s_up_api, s_up_ev, s_down_apply,
                                       &s_downst),
                     0);
}

static void *s_dealer(const char *endpoint)
{
    void *d = wh_test_dealer(s_zctx, endpoint);
    int timeo = 5000;
    zmq_setsockopt(d, ZMQ_RCVTIMEO, &timeo, sizeof timeo);
    zmq_setsockopt(d, ZMQ_SNDTIMEO, &timeo, sizeof timeo);
    return d;
}

static void s_setup(void)
{
    wh_log_init("check_service", WH_LOG_ERROR);
    memset(&s_upst, 0, sizeof s_upst);
    s_dir = wh_test_tmpdir();
    ck_assert_ptr_nonnull(s_dir);
    snprintf(s_up_api, sizeof s_up_api, "ipc://%s/up.api", s_dir);
    snprintf(s_up_ev, sizeof s_up_ev, "ipc://%s/up.ev", s_dir);
    snprintf(s_up_data, sizeof s_up_data, "%s/up", s_dir);
    snprintf(s_down_api, sizeof s_down_api, "ipc://%s/down.api", s_dir);
    snprintf(s_down_ev, sizeof s_down_ev, "ipc://%s/down.ev", s_dir);
    snprintf(s_down_data, sizeof s_down_data, "%s/down", s_dir);
    s_up_new();
    s_svcs[1] = NULL;
    s_zctx = zmq_ctx_new();
    s_dealer_up = s_dealer(s_up_api);
    s_dealer_down = NULL;
}

static void s_teardown(void)
{
    if (s_sub) zmq_close(s_sub);
    s_sub = NULL;
    if (s_dealer_down) zmq_close(s_dealer_down);
    zmq_close(s_dealer_up);
    zmq_ctx_term(s_zctx);
    wh_service_destroy(&s_svcs[1]);
    wh_service_destroy(&s_svcs[0]);
    ck_assert_ptr_null(s_svcs[0]);
    wh_service_destroy(&s_svcs[0]); /* safe on NULL */
    wh_test_rmdir(s_dir);
    free(s_dir);
}

static void s_drive(void)
{
    for (size_t i = 0; i < 2; i++)
        if (s_svcs[i]) wh_service_run_once(s_svcs[i], 10);
}

/* ---- reading the stores from the test ---------------------------------------------------- */

static uint64_t s_committed_head(wh_service_t *svc, const char *stream)
{
    wh_store_t *st = wh_service_store(svc);
    MDB_txn *txn;
    uint64_t head = 0;
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(st), NULL, MDB_RDONLY, &txn), 0);
    ck_assert_int_eq(wh_eventlog_head(st, txn, stream, &head, NULL), 0);
    mdb_txn_abort(txn);
    return head;
}

struct s_one {
    int n;
    char corr[64];
};

static int s_one_entry(void *arg, uint64_t seq, const void *data, size_t len)
{
    (void)seq;
    struct s_one *o = arg;
    Whistle__V1__Envelope *env = wh_envelope_unpack(data, len);
    if (env) {
        snprintf(o->corr, sizeof o->corr, "%s", env->correlation_id);
        whistle__v1__envelope__free_unpacked(env, NULL);
    }
    o->n++;
    return 1;
}

/* The committed correlation id of up's entry `seq`, into `out`; 0 if there is none. */
static int s_committed_entry(uint64_t seq, char *out, size_t outlen)
{
    wh_store_t *st = wh_service_store(s_svcs[0]);
    MDB_txn *txn;
    struct s_one o = {0, ""};
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(st), NULL, MDB_RDONLY, &txn), 0);
    int n = wh_eventlog_read(st, txn, "up/", seq, 1, 1 << 20, s_one_entry, &o);
    mdb_txn_abort(txn);
    snprintf(out, outlen, "%s", o.corr);
    return n == 1 && o.n == 1;
}

/* Entries in down's "seen" table, as committed. */
static size_t s_seen_count(void)
{
    if (!s_svcs[1]) return 0;
    wh_store_t *st = wh_service_store(s_svcs[1]);
    MDB_txn *txn;
    MDB_stat ms;
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(st), NULL, MDB_RDONLY, &txn), 0);
    ck_assert_int_eq(mdb_stat(txn, wh_store_dbi(st, "seen"), &ms), 0);
    mdb_txn_abort(txn);
    return ms.ms_entries;
}

/* Each of case-0001..case-<n> is in "seen" with the seq it was logged at. */
static void s_check_seen(int n)
{
    wh_store_t *st = wh_service_store(s_svcs[1]);
    MDB_txn *txn;
    uint64_t cursor = 0;
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(st), NULL, MDB_RDONLY, &txn), 0);
    for (int i = 1; i <= n; i++) {
        char id[32];
        snprintf(id, sizeof id, "case-%04d", i);
        MDB_val v;
        ck_assert_msg(wh_store_get(st, txn, wh_store_dbi(st, "seen"), id, strlen(id), &v) == 0,
                      "%s was never applied", id);
        ck_assert_uint_eq(v.mv_size, 8);
        ck_assert_uint_eq(wh_be64_get(v.mv_data), (uint64_t)i);
    }
    ck_assert_int_eq(wh_cursor_get(st, txn, "up", &cursor), 0);
    ck_assert_uint_eq(cursor, (uint64_t)n);
    mdb_txn_abort(txn);
}

/* ---- requests ---------------------------------------------------------------------------- */

static void s_send_submit(void *dealer, uint64_t request_id)
{
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__SubmitReport sr = WHISTLE__V1__SUBMIT_REPORT__INIT;
    Whistle__V1__Report r = WHISTLE__V1__REPORT__INIT;
    char key[32];
    snprintf(key, sizeof key, "case-%04llu", (unsigned long long)request_id);
    r.grid = "g1";
    r.matter = "m1";
    r.description = "占道经营 at the north gate";
    r.reporter = "resident-1";
    sr.idempotency_key = key;
    sr.report = &r;
    req.request_id = request_id;
    req.body_case = WHISTLE__V1__REQUEST__BODY_SUBMIT_REPORT;
    req.submit_report = &sr;
    size_t len;
    uint8_t *buf = wh_pack(&req.base, &len);
    ck_assert_int_eq(zmq_send(dealer, buf, len, 0), (int)len);
    free(buf);
}

/* Sends SubmitReport first..last on one dealer at once, then drives the services until every
 * reply is in. Each reply must find its entry already committed in up's log. */
static void s_submit_all(uint64_t first, uint64_t last)
{
    static int got[S_MAX_REQ];
    ck_assert_uint_lt(last, S_MAX_REQ);
    memset(got, 0, sizeof got);
    for (uint64_t id = first; id <= last; id++) s_send_submit(s_dealer_up, id);
    uint64_t want = last - first + 1, replies = 0;
    int64_t deadline = wh_mono_ms() + 20000;
    while (replies < want && wh_mono_ms() < deadline) {
        s_drive();
        zmq_msg_t m;
        zmq_msg_init(&m);
        while (zmq_msg_recv(&m, s_dealer_up, ZMQ_DONTWAIT) >= 0) {
            Whistle__V1__Reply *r = wh_reply_unpack(zmq_msg_data(&m), zmq_msg_size(&m));
            ck_assert_ptr_nonnull(r);
            ck_assert_msg(r->body_case == WHISTLE__V1__REPLY__BODY_SUBMIT_REPORT,
                          "reply %llu: body %d", (unsigned long long)r->request_id,
                          r->body_case);
            uint64_t id = r->request_id;
            ck_assert_msg(id >= first && id <= last && !got[id], "unexpected reply %llu",
                          (unsigned long long)id);
            got[id] = 1;
            char key[32], corr[64];
            snprintf(key, sizeof key, "case-%04llu", (unsigned long long)id);
            ck_assert_str_eq(r->submit_report->case_id, key);
            /* group commit: the reply left only after its entry was durable */
            uint64_t seq = s_upst.seq_of[id];
            ck_assert_uint_gt(seq, 0);
            ck_assert_uint_ge(s_committed_head(s_svcs[0], "up/"), seq);
            ck_assert_msg(s_committed_entry(seq, corr, sizeof corr), "entry %llu not in the log",
                          (unsigned long long)seq);
            ck_assert_str_eq(corr, key);
            whistle__v1__reply__free_unpacked(r, NULL);
            replies++;
        }
        zmq_msg_close(&m);
    }
    ck_assert_uint_eq(replies, want);
}

static Whistle__V1__Reply *s_ping(void *dealer)
{
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__Ping ping = WHISTLE__V1__PING__INIT;
    req.request_id = 9001;
    req.body_case = WHISTLE__V1__REQUEST__BODY_PING;
    req.ping = &ping;
    Whistle__V1__Reply *r = wh_test_call(dealer, s_svcs, 2, &req, 5000);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->request_id, 9001);
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_PONG);
    return r;
}

/* Drives until down's Ping shows cursor == n and upstream head == n. */
static int s_down_caught_up(uint64_t n)
{
    Whistle__V1__Reply *r = s_ping(s_dealer_down);
    int ok = r->pong->n_cursors == 1 && r->pong->cursors[0]->seq == n &&
             r->pong->cursors[0]->upstream_head == n;
    whistle__v1__reply__free_unpacked(r, NULL);
    return ok;
}

/* ---- tests ------------------------------------------------------------------------------- */

START_TEST(test_commit_follow_restart)
{
    s_down_new();
    s_dealer_down = s_dealer(s_down_api);

    /* (a) 300 requests: every reply after its entry is committed */
    s_submit_all(1, 300);
    ck_assert_int_eq(s_upst.handled, 300);
    ck_assert_uint_eq(s_committed_head(s_svcs[0], "up/"), 300);

    /* (b) down applies all 300, exactly once, in order */
    ck_assert_msg(WH_TEST_WAIT(s_svcs, 2, 10000, s_seen_count() == 300),
                  "down saw %zu of 300", s_seen_count());
    ck_assert_msg(WH_TEST_WAIT(s_svcs, 2, 10000, s_down_caught_up(300)), "cursor not at 300");
    /* a few heartbeats later (each one can trigger a replay), still nothing applied twice */
    int64_t until = wh_mono_ms() + 250;
    while (wh_mono_ms() < until) s_drive();
    ck_assert_uint_eq(s_downst.applied, 300);
    ck_assert_uint_eq(s_downst.first_seq, 1);
    ck_assert_uint_eq(s_downst.last_seq, 300);
    ck_assert_int_eq(s_downst.out_of_order, 0);
    ck_assert_int_eq(s_downst.duplicates, 0);
    ck_assert_int_eq(s_downst.wrong_payload, 0);
    ck_assert_uint_eq(s_seen_count(), 300);
    s_check_seen(300);

    /* (c) down goes away, up logs 200 more, down comes back on the same folder */
    zmq_close(s_dealer_down);
    s_dealer_down = NULL;
    wh_service_destroy(&s_svcs[1]);
    ck_assert_ptr_null(s_svcs[1]);
    s_submit_all(301, 500);
    ck_assert_uint_eq(s_committed_head(s_svcs[0], "up/"), 500);
    s_down_new();
    s_dealer_down = s_dealer(s_down_api);
    ck_assert_uint_eq(s_seen_count(), 300); /* kept across the restart */
    ck_assert_msg(WH_TEST_WAIT(s_svcs, 2, 10000, s_seen_count() == 500),
                  "down saw %zu of 500", s_seen_count());
    ck_assert_msg(WH_TEST_WAIT(s_svcs, 2, 10000, s_down_caught_up(500)), "cursor not at 500");
    until = wh_mono_ms() + 250;
    while (wh_mono_ms() < until) s_drive();
    ck_assert_uint_eq(s_downst.applied, 200); /* resumed from its cursor, no replay of 1..300 */
    ck_assert_uint_eq(s_downst.first_seq, 301);
    ck_assert_uint_eq(s_downst.last_seq, 500);
    ck_assert_int_eq(s_downst.out_of_order, 0);
    ck_assert_int_eq(s_downst.duplicates, 0);
    ck_assert_uint_eq(s_seen_count(), 500);
    s_check_seen(500);

    /* (d) Ping: heads and the follower's cursor */
    Whistle__V1__Reply *r = s_ping(s_dealer_up);
    ck_assert_str_eq(r->pong->service, "up");
    ck_assert_uint_eq(r->pong->head, 500);
    ck_assert_uint_eq(r->pong->n_cursors, 0);
    ck_assert_str_eq(r->pong->version, WHISTLE_VERSION);
    whistle__v1__reply__free_unpacked(r, NULL);
    r = s_ping(s_dealer_down);
    ck_assert_str_eq(r->pong->service, "down");
    ck_assert_uint_eq(r->pong->head, 0); /* down logs nothing of its own */
    ck_assert_uint_eq(r->pong->n_cursors, 1);
    ck_assert_str_eq(r->pong->cursors[0]->upstream, "up");
    ck_assert_uint_eq(r->pong->cursors[0]->seq, 500);
    ck_assert_uint_eq(r->pong->cursors[0]->upstream_head, 500);
    whistle__v1__reply__free_unpacked(r, NULL);
}
END_TEST

/* Sends raw bytes to up and expects an Error naming `field` with `code`. */
static void s_expect_error(const void *buf, size_t len, int code, const char *field)
{
    Whistle__V1__Reply *r = wh_test_raw_call(s_dealer_up, s_svcs, 2, buf, len, 5000);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_ERROR);
    ck_assert_int_eq(r->error->code, code);
    ck_assert_str_eq(r->error->field, field);
    ck_assert_str_ne(r->error->message, "");
    whistle__v1__reply__free_unpacked(r, NULL);
}

START_TEST(test_bad_requests_keep_serving)
{
    s_submit_all(1, 3);

    /* (e) garbage: not a Request */
    static const uint8_t garbage[] = {0x0F, 0xFF, 0xFF, 0xFF, 0x13, 0x37, 0x00, 0x52, 0x7F};
    ck_assert_ptr_null(wh_request_unpack(garbage, sizeof garbage)); /* really undecodable */
    s_expect_error(garbage, sizeof garbage, WH_EMALFORMED, "request");

    /* a Request without a body */
    Whistle__V1__Request empty = WHISTLE__V1__REQUEST__INIT;
    empty.request_id = 5;
    size_t len;
    uint8_t *buf = wh_pack(&empty.base, &len);
    s_expect_error(buf, len, WH_EFIELD, "request.body");
    free(buf);

    /* larger than a request may be */
    size_t big = WH_MAX_REQUEST_BYTES + 1;
    uint8_t *huge = calloc(1, big);
    s_expect_error(huge, big, WH_ETOOBIG, "request");
    free(huge);

    /* a handler's own field error */
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__SubmitReport sr = WHISTLE__V1__SUBMIT_REPORT__INIT;
    req.body_case = WHISTLE__V1__REQUEST__BODY_SUBMIT_REPORT;
    req.submit_report = &sr;
    buf = wh_pack(&req.base, &len);
    s_expect_error(buf, len, WH_EFIELD, "idempotency_key");
    free(buf);

    /* nothing of the above was logged, and the service still serves */
    ck_assert_uint_eq(s_committed_head(s_svcs[0], "up/"), 3);
    s_submit_all(4, 5);
    ck_assert_uint_eq(s_committed_head(s_svcs[0], "up/"), 5);
}
END_TEST

/* Error.field and Error.message echo a peer's bytes: what is not UTF-8 leaves as U+FFFD
 * (Google's protobuf refuses a reply with an invalid string). */
START_TEST(test_error_is_utf8)
{
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__GetCase g = WHISTLE__V1__GET_CASE__INIT;
    g.case_id = "C-\xFF\xE5\x8D-\xE8\xB7\xAF"; /* a bad byte, a cut character, then 路 */
    req.request_id = 9;
    req.body_case = WHISTLE__V1__REQUEST__BODY_GET_CASE;
    req.get_case = &g;
    Whistle__V1__Reply *r = wh_test_call(s_dealer_up, s_svcs, 2, &req, 5000);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_ERROR);
    ck_assert_int_eq(r->error->code, WH_ENOTFOUND);
    ck_assert_str_eq(r->error->message, "C-\xEF\xBF\xBD\xEF\xBF\xBD-\xE8\xB7\xAF");
    ck_assert_str_eq(r->error->field, "C-\xEF\xBF\xBD\xEF\xBF\xBD-\xE8\xB7\xAF");
    whistle__v1__reply__free_unpacked(r, NULL);
    /* valid text is left as it is */
    g.case_id = "\xE8\xB7\xAF-7";
    r = wh_test_call(s_dealer_up, s_svcs, 2, &req, 5000);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->error->message, "\xE8\xB7\xAF-7");
    whistle__v1__reply__free_unpacked(r, NULL);
}
END_TEST

START_TEST(test_failed_batch_not_acknowledged)
{
    s_submit_all(1, 2);
    /* the handler appends and replies, then the batch fails to commit */
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__SubmitReport sr = WHISTLE__V1__SUBMIT_REPORT__INIT;
    req.request_id = 3;
    req.body_case = WHISTLE__V1__REQUEST__BODY_SUBMIT_REPORT;
    req.submit_report = &sr;
    sr.idempotency_key = "fail-3";
    size_t len;
    uint8_t *buf = wh_pack(&req.base, &len);
    ck_assert_int_eq(zmq_send(s_dealer_up, buf, len, 0), (int)len);
    free(buf);
    ck_assert(WH_TEST_WAIT(s_svcs, 2, 5000, s_upst.handled == 3));
    ck_assert_uint_eq(s_upst.seq_of[3], 3);

    /* a failed commit is an answer, not silence: ESTORE, saying nothing was kept */
    Whistle__V1__Reply *r = NULL;
    int64_t deadline = wh_mono_ms() + 5000;
    while (!r && wh_mono_ms() < deadline) {
        wh_test_drive(s_svcs, 2);
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s_dealer_up, ZMQ_DONTWAIT) >= 0)
            r = wh_reply_unpack(zmq_msg_data(&m), zmq_msg_size(&m));
        zmq_msg_close(&m);
    }
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->request_id, 3);
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_ERROR);
    ck_assert_int_eq(r->error->code, WH_ESTORE);
    ck_assert_msg(strstr(r->error->message, "nothing of this request was kept"), "%s",
                  r->error->message);
    whistle__v1__reply__free_unpacked(r, NULL);

    /* Ping still answers, and says what is wrong until a batch commits again */
    r = s_ping(s_dealer_up);
    ck_assert_msg(strstr(r->pong->condition, "storage"), "condition '%s'", r->pong->condition);
    ck_assert_uint_eq(r->pong->failed_batches, 1);
    ck_assert_uint_eq(r->pong->head, 2);
    whistle__v1__reply__free_unpacked(r, NULL);
    ck_assert_uint_eq(s_committed_head(s_svcs[0], "up/"), 2);
    char corr[64];
    ck_assert_int_eq(s_committed_entry(3, corr, sizeof corr), 0);

    /* the log stays gapless: the next entry takes 3 */
    s_submit_all(4, 4);
    ck_assert_uint_eq(s_upst.seq_of[4], 3);
    ck_assert_uint_eq(s_committed_head(s_svcs[0], "up/"), 3);
}
END_TEST

/* Sends SubmitReport with `key` as request `id` and returns its reply (driving both). */
static Whistle__V1__Reply *s_submit_key(uint64_t id, const char *key)
{
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__SubmitReport sr = WHISTLE__V1__SUBMIT_REPORT__INIT;
    req.request_id = id;
    req.body_case = WHISTLE__V1__REQUEST__BODY_SUBMIT_REPORT;
    req.submit_report = &sr;
    sr.idempotency_key = (char *)key;
    Whistle__V1__Reply *r = wh_test_call(s_dealer_up, s_svcs, 2, &req, 5000);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->request_id, id);
    return r;
}

START_TEST(test_decisions_undo_one_input)
{
    s_down_new();
    s_dealer_down = s_dealer(s_down_api);
    s_submit_all(1, 2);
    /* a handler that appended, then refused: answered with its code, its entry undone */
    Whistle__V1__Reply *r = s_submit_key(3, "undo-3");
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_ERROR);
    ck_assert_int_eq(r->error->code, WH_EFIELD);
    ck_assert_str_eq(r->error->field, "request");
    whistle__v1__reply__free_unpacked(r, NULL);
    /* a handler that appended and never answered: EINTERNAL, undone too */
    r = s_submit_key(3, "mute-3");
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_ERROR);
    ck_assert_int_eq(r->error->code, WH_EINTERNAL);
    whistle__v1__reply__free_unpacked(r, NULL);
    ck_assert_uint_eq(s_committed_head(s_svcs[0], "up/"), 2);
    s_submit_all(3, 3); /* gapless: the next entry takes 3 */
    ck_assert_uint_eq(s_upst.seq_of[3], 3);

    /* an upstream entry the follower decides does not apply: undone, counted, passed */
    r = s_submit_key(4, "poison-4");
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_SUBMIT_REPORT);
    whistle__v1__reply__free_unpacked(r, NULL);
    s_submit_all(5, 6);
    ck_assert_msg(WH_TEST_WAIT(s_svcs, 2, 10000, s_down_caught_up(6)), "cursor not at 6");
    ck_assert_uint_eq(s_seen_count(), 5); /* case-0001..3, 5 and 6: not poison-4 */
    r = s_ping(s_dealer_down);
    ck_assert_uint_eq(r->pong->cursors[0]->not_applied, 1);
    ck_assert_str_eq(r->pong->cursors[0]->stopped, "");
    ck_assert_str_eq(r->pong->condition, "");
    whistle__v1__reply__free_unpacked(r, NULL);
}
END_TEST

START_TEST(test_append_own_stream_by_name)
{
    s_submit_all(1, 1);
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__SubmitReport sr = WHISTLE__V1__SUBMIT_REPORT__INIT;
    req.request_id = 2;
    req.body_case = WHISTLE__V1__REQUEST__BODY_SUBMIT_REPORT;
    req.submit_report = &sr;
    sr.idempotency_key = "named-2";
    Whistle__V1__Reply *r = wh_test_call(s_dealer_up, s_svcs, 2, &req, 5000);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_SUBMIT_REPORT);
    whistle__v1__reply__free_unpacked(r, NULL);
    ck_assert_uint_eq(s_upst.seq_of[2], 2);
    ck_assert_uint_eq(s_committed_head(s_svcs[0], "up/"), 2);
    /* Ping (and the heartbeats followers rely on) must report the committed head */
    r = s_ping(s_dealer_up);
    uint64_t head = r->pong->head;
    whistle__v1__reply__free_unpacked(r, NULL);
    ck_assert_uint_eq(head, 2);
}
END_TEST

static Whistle__V1__Reply *s_replay(const char *topic, uint64_t from, uint32_t max)
{
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__Replay rp = WHISTLE__V1__REPLAY__INIT;
    rp.topic = (char *)topic;
    rp.from_seq = from;
    rp.max = max;
    req.request_id = 77;
    req.body_case = WHISTLE__V1__REQUEST__BODY_REPLAY;
    req.replay = &rp;
    Whistle__V1__Reply *r = wh_test_call(s_dealer_up, s_svcs, 2, &req, 5000);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->request_id, 77);
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_REPLAY);
    return r;
}

START_TEST(test_replay)
{
    s_submit_all(1, 20);

    /* (f) beyond the head: no entries, and the head */
    Whistle__V1__Reply *r = s_replay("", 30, 0);
    ck_assert_str_eq(r->replay->topic, "up/");
    ck_assert_uint_eq(r->replay->n_entries, 0);
    ck_assert_uint_eq(r->replay->head, 20);
    ck_assert_uint_eq(r->replay->oldest, 1);
    whistle__v1__reply__free_unpacked(r, NULL);
    r = s_replay("up/", 21, 5);
    ck_assert_uint_eq(r->replay->n_entries, 0);
    ck_assert_uint_eq(r->replay->head, 20);
    whistle__v1__reply__free_unpacked(r, NULL);

    /* the tail, bounded by max */
    r = s_replay("up/", 18, 2);
    ck_assert_uint_eq(r->replay->n_entries, 2);
    ck_assert_uint_eq(r->replay->entries[0]->seq, 18);
    ck_assert_uint_eq(r->replay->entries[1]->seq, 19);
    ck_assert_str_eq(r->replay->entries[1]->correlation_id, "case-0019");
    ck_assert_str_eq(r->replay->entries[1]->event_id, "up/19");
    whistle__v1__reply__free_unpacked(r, NULL);

    /* a topic up does not have: empty, head 0 */
    r = s_replay("nothing/", 1, 0);
    ck_assert_uint_eq(r->replay->n_entries, 0);
    ck_assert_uint_eq(r->replay->head, 0);
    whistle__v1__reply__free_unpacked(r, NULL);
}
END_TEST

START_TEST(test_replay_gone)
{
    s_submit_all(1, 20);
    /* retention took 1..15 */
    wh_store_t *st = wh_service_store(s_svcs[0]);
    struct wh_retention keep = {0, 5};
    ck_assert_int_eq(wh_eventlog_trim(st, wh_service_txn(s_svcs[0]), "up/", &keep, 0, 100), 15);
    ck_assert_int_eq(wh_store_commit(st), 0);

    static const uint64_t gone[] = {0, 1, 15};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
        Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
        Whistle__V1__Replay rp = WHISTLE__V1__REPLAY__INIT;
        rp.from_seq = gone[i];
        req.request_id = 78;
        req.body_case = WHISTLE__V1__REQUEST__BODY_REPLAY;
        req.replay = &rp;
        Whistle__V1__Reply *r = wh_test_call(s_dealer_up, s_svcs, 2, &req, 5000);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_ERROR);
        ck_assert_int_eq(r->error->code, WH_EGONE);
        ck_assert_str_eq(r->error->field, "replay.from_seq");
        ck_assert_uint_eq(r->error->oldest, 16);
        ck_assert_ptr_nonnull(strstr(r->error->message, "oldest is 16"));
        whistle__v1__reply__free_unpacked(r, NULL);
    }
    Whistle__V1__Reply *r = s_replay("up/", 16, 0);
    ck_assert_uint_eq(r->replay->n_entries, 5);
    ck_assert_uint_eq(r->replay->entries[0]->seq, 16);
    ck_assert_uint_eq(r->replay->oldest, 16);
    ck_assert_uint_eq(r->replay->head, 20);
    whistle__v1__reply__free_unpacked(r, NULL);
}
END_TEST

/* Heartbeats received on a SUB, by topic. */
struct s_beats {
    uint64_t side, side_head, nothing, up, dept;
    uint64_t side_since_nothing; /* side/ heartbeats since the last nothing/ one */
    uint64_t quiet_runs;         /* nothing/ heartbeats in a row with no side/ one between */
};

static void s_recv_beats(void *sub, struct s_beats *b)
{
    for (;;) {
        zmq_msg_t t, m;
        zmq_msg_init(&t);
        zmq_msg_init(&m);
        if (zmq_msg_recv(&t, sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&t);
            zmq_msg_close(&m);
            return;
        }
        ck_assert(zmq_msg_more(&t));
        ck_assert_int_ge(zmq_msg_recv(&m, sub, 0), 0);
        Whistle__V1__Envelope *e = wh_envelope_unpack(zmq_msg_data(&m), zmq_msg_size(&m));
        ck_assert_ptr_nonnull(e);
        ck_assert_uint_eq(zmq_msg_size(&t), strlen(e->stream));
        ck_assert(memcmp(zmq_msg_data(&t), e->stream, zmq_msg_size(&t)) == 0);
        if (e->payload_case == WHISTLE__V1__ENVELOPE__PAYLOAD_HEARTBEAT) {
            ck_assert_uint_eq(e->seq, 0);
            ck_assert_str_eq(e->heartbeat->service, "up");
            if (strcmp(e->stream, "side/") == 0) {
                b->side++;
                b->side_head = e->heartbeat->head;
                b->side_since_nothing++;
            } else if (strcmp(e->stream, "nothing/") == 0 || strcmp(e->stream, "dept/") == 0) {
                ck_assert_uint_eq(e->heartbeat->head, 0);
                if (e->stream[0] == 'd') {
                    b->dept++;
                    whistle__v1__envelope__free_unpacked(e, NULL);
                    zmq_msg_close(&t);
                    zmq_msg_close(&m);
                    continue;
                }
                b->nothing++;
                b->quiet_runs = b->side_since_nothing ? 0 : b->quiet_runs + 1;
                b->side_since_nothing = 0;
            } else {
                ck_assert_str_eq(e->stream, "up/");
                b->up++;
            }
        }
        whistle__v1__envelope__free_unpacked(e, NULL);
        zmq_msg_close(&t);
        zmq_msg_close(&m);
    }
}

#define S_BEATS_WAIT(sub, b, cond)                                                          \
    ({                                                                                      \
        int64_t s_bw_deadline = wh_mono_ms() + 5000;                                        \
        while (!(cond) && wh_mono_ms() < s_bw_deadline) {                                   \
            s_drive();                                                                      \
            s_recv_beats((sub), (b));                                                       \
        }                                                                                   \
        (cond);                                                                             \
    })

START_TEST(test_topic_heartbeats)
{
    void *sub = s_sub = zmq_socket(s_zctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    /* "" sees whatever up sends (and, not being a topic name, gets no heartbeat of its own:
     * one on stream "" would fail the checks above); the names ending in '/' are what up
     * learns to beat on, with head 0 while nothing is in them */
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "side/", 5);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "nothing/", 8);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "dept/", 5);
    ck_assert_int_eq(zmq_connect(sub, s_up_ev), 0);
    struct s_beats b;
    memset(&b, 0, sizeof b);

    /* a topic with nothing in it yet beats with head 0 */
    ck_assert(S_BEATS_WAIT(sub, &b, b.side >= 1 && b.nothing >= 1 && b.up >= 1 && b.dept >= 1));
    ck_assert_uint_eq(b.side_head, 0);

    /* two entries on side/: its heartbeat carries its own head, not up/'s */
    s_submit_all(1, 1);
    for (uint64_t id = 2; id <= 3; id++) {
        Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
        Whistle__V1__SubmitReport sr = WHISTLE__V1__SUBMIT_REPORT__INIT;
        char key[16];
        snprintf(key, sizeof key, "side-%llu", (unsigned long long)id);
        sr.idempotency_key = key;
        req.request_id = id;
        req.body_case = WHISTLE__V1__REQUEST__BODY_SUBMIT_REPORT;
        req.submit_report = &sr;
        Whistle__V1__Reply *r = wh_test_call(s_dealer_up, s_svcs, 2, &req, 5000);
        ck_assert_ptr_nonnull(r);
        whistle__v1__reply__free_unpacked(r, NULL);
    }
    ck_assert(S_BEATS_WAIT(sub, &b, b.side_head == 2));
    ck_assert_uint_eq(s_committed_head(s_svcs[0], "up/"), 1);

    /* unsubscribed: side/ beats stop (the "" subscription would still show them), the others
     * go on: three nothing/ heartbeats in a row with no side/ one between */
    zmq_setsockopt(sub, ZMQ_UNSUBSCRIBE, "side/", 5);
    ck_assert_msg(S_BEATS_WAIT(sub, &b, b.quiet_runs >= 3), "side/ heartbeats did not stop");
}
END_TEST

static void s_send_figures(uint64_t id)
{
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__Figures f = WHISTLE__V1__FIGURES__INIT;
    f.period = "2026";
    req.request_id = id;
    req.body_case = WHISTLE__V1__REQUEST__BODY_FIGURES;
    req.figures = &f;
    size_t len;
    uint8_t *buf = wh_pack(&req.base, &len);
    ck_assert_int_eq(zmq_send(s_dealer_up, buf, len, 0), (int)len);
    free(buf);
}

/* The next reply on up's dealer, driving up; NULL after 5 s. */
static Whistle__V1__Reply *s_next_reply(void)
{
    Whistle__V1__Reply *r = NULL;
    int64_t deadline = wh_mono_ms() + 5000;
    while (!r && wh_mono_ms() < deadline) {
        wh_test_drive(s_svcs, 2);
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s_dealer_up, ZMQ_DONTWAIT) >= 0)
            r = wh_reply_unpack(zmq_msg_data(&m), zmq_msg_size(&m));
        zmq_msg_close(&m);
    }
    return r;
}

/* whistle_requests_total{type="figures",outcome} from up's Stats. */
static double s_figures_count(const char *outcome)
{
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__Stats st = WHISTLE__V1__STATS__INIT;
    req.request_id = 9002;
    req.body_case = WHISTLE__V1__REQUEST__BODY_STATS;
    req.stats = &st;
    Whistle__V1__Reply *r = wh_test_call(s_dealer_up, s_svcs, 2, &req, 5000);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_STATS);
    double n = 0;
    for (size_t i = 0; i < r->stats->n_metrics; i++) {
        const Whistle__V1__Metric *m = r->stats->metrics[i];
        if (strcmp(m->name, "whistle_requests_total") != 0) continue;
        int type = 0, out = 0;
        for (size_t l = 0; l < m->n_labels; l++) {
            type |= !strcmp(m->labels[l]->name, "type") && !strcmp(m->labels[l]->value, "figures");
            out |= !strcmp(m->labels[l]->name, "outcome") && !strcmp(m->labels[l]->value, outcome);
        }
        if (type && out) n += m->value;
    }
    whistle__v1__reply__free_unpacked(r, NULL);
    return n;
}

/* A heavy read runs off the loop: while it is held, a batch fails and is answered, another
 * commits and is answered, Ping answers; it is then answered with what its own read
 * transaction saw (the head when it began), its request untouched by the failed batch. */
START_TEST(test_read_off_loop)
{
    s_gate(0);
    atomic_store(&s_reads_started, 0);
    s_submit_all(1, 2);
    /* the read and a request that fails its batch, sent together: most often read in one
     * turn, so in one batch, whose failure must not answer the read */
    s_send_figures(100);
    /* the failed batch is answered ESTORE while the read is held; the read is not */
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__SubmitReport sr = WHISTLE__V1__SUBMIT_REPORT__INIT;
    req.request_id = 3;
    req.body_case = WHISTLE__V1__REQUEST__BODY_SUBMIT_REPORT;
    req.submit_report = &sr;
    sr.idempotency_key = "fail-3";
    size_t len;
    uint8_t *buf = wh_pack(&req.base, &len);
    ck_assert_int_eq(zmq_send(s_dealer_up, buf, len, 0), (int)len);
    free(buf);
    ck_assert_msg(WH_TEST_WAIT(s_svcs, 2, 5000, atomic_load(&s_reads_started) == 1),
                  "FAIL: the read did not start");
    Whistle__V1__Reply *r = s_next_reply();
    ck_assert_ptr_nonnull(r);
    ck_assert_msg(r->request_id == 3 && r->body_case == WHISTLE__V1__REPLY__BODY_ERROR &&
                      r->error->code == WH_ESTORE,
                  "FAIL: expected request 3 answered ESTORE first, got reply %llu body %d (the read "
                  "answered by the batch, or on the loop before it)",
                  (unsigned long long)r->request_id, r->body_case);
    whistle__v1__reply__free_unpacked(r, NULL);

    /* a commit while the read is held: answered (s_submit_all takes only its own replies) */
    s_submit_all(4, 4);
    ck_assert_uint_eq(s_committed_head(s_svcs[0], "up/"), 3);
    /* and Ping answers before the read (s_ping takes the next reply, a Pong) */
    r = s_ping(s_dealer_up);
    ck_assert_uint_eq(r->pong->head, 3);
    whistle__v1__reply__free_unpacked(r, NULL);

    /* three more fill the bound; the next is answered EBUSY at once */
    for (uint64_t id = 101; id <= 104; id++) s_send_figures(id);
    r = s_next_reply();
    ck_assert_ptr_nonnull(r);
    ck_assert_msg(r->request_id == 104 && r->body_case == WHISTLE__V1__REPLY__BODY_ERROR &&
                      r->error->code == WH_EBUSY,
                  "FAIL: the read past the bound was not answered EBUSY (reply %llu, body %d)",
                  (unsigned long long)r->request_id, r->body_case);
    ck_assert_msg(strstr(r->error->message, "heavy reads"), "%s", r->error->message);
    whistle__v1__reply__free_unpacked(r, NULL);

    /* opened: each read answered once, with what its own snapshot held */
    s_gate(1);
    int got[5] = {0};
    for (int i = 0; i < 4; i++) {
        r = s_next_reply();
        ck_assert_msg(r != NULL, "FAIL: %d of 4 reads answered", i);
        ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_FIGURES);
        ck_assert(r->request_id >= 100 && r->request_id <= 103 && !got[r->request_id - 100]);
        got[r->request_id - 100] = 1;
        /* 100 began before entry 3 was committed; the others after */
        ck_assert_str_eq(r->figures->period, r->request_id == 100 ? "head=2" : "head=3");
        whistle__v1__reply__free_unpacked(r, NULL);
    }
    /* counted in Stats like every answer */
    ck_assert_int_eq((int)s_figures_count("ok"), 4);
    ck_assert_int_eq((int)s_figures_count("EBUSY"), 1);

    /* a read in flight at shutdown is waited for and answered (ASan: nothing freed early) */
    s_send_figures(105);
    ck_assert(WH_TEST_WAIT(s_svcs, 2, 5000, atomic_load(&s_reads_started) == 5));
    wh_service_destroy(&s_svcs[0]);
    r = s_next_reply();
    ck_assert_msg(r && r->request_id == 105 && r->body_case == WHISTLE__V1__REPLY__BODY_FIGURES,
                  "FAIL: the read in flight at shutdown was not answered");
    whistle__v1__reply__free_unpacked(r, NULL);
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("service");
    TCase *tc = tcase_create("service");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 100);
    tcase_add_test(tc, test_commit_follow_restart);
    tcase_add_test(tc, test_bad_requests_keep_serving);
    tcase_add_test(tc, test_error_is_utf8);
    tcase_add_test(tc, test_failed_batch_not_acknowledged);
    tcase_add_test(tc, test_decisions_undo_one_input);
    tcase_add_test(tc, test_append_own_stream_by_name);
    tcase_add_test(tc, test_replay);
    tcase_add_test(tc, test_replay_gone);
    tcase_add_test(tc, test_topic_heartbeats);
    tcase_add_test(tc, test_read_off_loop);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return wh_test_run(s_suite()); }
