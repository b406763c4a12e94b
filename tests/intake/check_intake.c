/* check_intake.c: the front door refuses bad input by field name and keeps serving, never
 * logs a refused report, and gives one case id per idempotency key. */
#include "intake.h"
#include "wh_test.h"
#include "whistle/error.h"
#include "whistle/eventlog.h"
#include <check.h>

static char *s_dir;
static char s_buf[2048];
static struct wh_options s_opt;
static struct wh_catalog *s_cat;
static intake_t *s_intake;
static void *s_zctx, *s_dealer;
static wh_service_t *s_svcs[1];

static void s_setup(void)
{
    char err[256];
    s_dir = wh_test_tmpdir();
    wh_test_options(&s_opt, s_buf, s_dir, "intake");
    s_cat = wh_catalog_load(s_opt.catalog, err, sizeof err);
    ck_assert_msg(s_cat != NULL, "%s", err);
    s_intake = intake_new(&s_opt, s_cat);
    ck_assert_ptr_nonnull(s_intake);
    s_svcs[0] = intake_service(s_intake);
    s_zctx = zmq_ctx_new();
    s_dealer = wh_test_dealer(s_zctx, s_opt.api);
}

static void s_teardown(void)
{
    zmq_close(s_dealer);
    zmq_ctx_term(s_zctx);
    intake_destroy(&s_intake);
    ck_assert_ptr_null(s_intake);
    wh_catalog_destroy(&s_cat);
    wh_test_rmdir(s_dir);
    free(s_dir);
}

static uint64_t s_head(void)
{
    wh_store_t *st = wh_service_store(s_svcs[0]);
    MDB_txn *txn;
    uint64_t head = 0;
    ck_assert_int_eq(mdb_txn_begin(wh_store_env(st), NULL, MDB_RDONLY, &txn), 0);
    wh_eventlog_head(st, txn, "intake/", &head, NULL);
    mdb_txn_abort(txn);
    return head;
}

/* A valid report; tests spoil one field at a time. */
static void s_good(Whistle__V1__SubmitReport *sr, Whistle__V1__Report *r, const char *key)
{
    whistle__v1__submit_report__init(sr);
    whistle__v1__report__init(r);
    r->grid = "g1";
    r->matter = "m2";
    r->description = "占道经营 on the north gate";
    r->reporter = "resident-7";
    sr->idempotency_key = (char *)key;
    sr->report = r;
}

static Whistle__V1__Reply *s_submit(Whistle__V1__SubmitReport *sr)
{
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    req.body_case = WHISTLE__V1__REQUEST__BODY_SUBMIT_REPORT;
    req.submit_report = sr;
    req.request_id = 77;
    Whistle__V1__Reply *r = wh_test_call(s_dealer, s_svcs, 1, &req, 5000);
    ck_assert_msg(r != NULL, "no reply from intake");
    ck_assert_uint_eq(r->request_id, 77);
    return r;
}

START_TEST(accepts_and_deduplicates)
{
    Whistle__V1__SubmitReport sr;
    Whistle__V1__Report rep;
    s_good(&sr, &rep, "key-1");
    Whistle__V1__Reply *a = s_submit(&sr);
    ck_assert_int_eq(a->body_case, WHISTLE__V1__REPLY__BODY_SUBMIT_REPORT);
    ck_assert_str_eq(a->submit_report->case_id, "C00000001");
    ck_assert(!a->submit_report->duplicate);
    /* acknowledged means committed: the entry is in the log when the reply arrives */
    ck_assert_uint_eq(s_head(), 1);
    Whistle__V1__Reply *b = s_submit(&sr);
    ck_assert_str_eq(b->submit_report->case_id, "C00000001");
    ck_assert(b->submit_report->duplicate);
    ck_assert_uint_eq(s_head(), 1);
    s_good(&sr, &rep, "key-2");
    Whistle__V1__Reply *c = s_submit(&sr);
    ck_assert_str_eq(c->submit_report->case_id, "C00000002");
    whistle__v1__reply__free_unpacked(a, NULL);
    whistle__v1__reply__free_unpacked(b, NULL);
    whistle__v1__reply__free_unpacked(c, NULL);
}
END_TEST

/* The same key with another report is refused, naming the key, and writes nothing; the
 * original report under that key is still answered as the duplicate it is. */
START_TEST(same_key_other_report_conflicts)
{
    Whistle__V1__SubmitReport sr;
    Whistle__V1__Report rep;
    s_good(&sr, &rep, "hotline-42");
    Whistle__V1__Reply *a = s_submit(&sr);
    ck_assert_str_eq(a->submit_report->case_id, "C00000001");
    rep.description = "a different problem";
    Whistle__V1__Reply *b = s_submit(&sr);
    ck_assert_int_eq(b->body_case, WHISTLE__V1__REPLY__BODY_ERROR);
    ck_assert_int_eq(b->error->code, WH_ECONFLICT);
    ck_assert_str_eq(b->error->field, "idempotency_key");
    ck_assert_msg(strstr(b->error->message, "hotline-42") && strstr(b->error->message, "C00000001"),
                  "%s", b->error->message);
    ck_assert_uint_eq(s_head(), 1);
    s_good(&sr, &rep, "hotline-42");
    Whistle__V1__Reply *c = s_submit(&sr);
    ck_assert_int_eq(c->body_case, WHISTLE__V1__REPLY__BODY_SUBMIT_REPORT);
    ck_assert(c->submit_report->duplicate);
    ck_assert_str_eq(c->submit_report->case_id, "C00000001");
    whistle__v1__reply__free_unpacked(a, NULL);
    whistle__v1__reply__free_unpacked(b, NULL);
    whistle__v1__reply__free_unpacked(c, NULL);
}
END_TEST

/* Each row spoils one field; the reply must name it, and nothing reaches the log. */
static const struct {
    const char *field;    /* expected Error.field */
    const char *key, *grid, *matter, *description, *reporter;
    int no_report;
} s_bad[] = {
    {"idempotency_key", "", "g1", "m1", "d", "r", 0},
    {"idempotency_key", NULL, "g1", "m1", "d", "r", 0},
    {"report", "k", NULL, NULL, NULL, NULL, 1},
    {"report.grid", "k", "", "m1", "d", "r", 0},
    {"report.grid", "k", "g999", "m1", "d", "r", 0},
    {"report.matter", "k", "g1", "m99", "d", "r", 0},
    {"report.matter", "k", "g1", "", "d", "r", 0},
    {"report.description", "k", "g1", "m1", "", "r", 0},
    {"report.description", "k", "g1", "m1", "bad \xC3\x28 utf8", "r", 0},
    {"report.reporter", "k", "g1", "m1", "d", "", 0},
    {"report.reporter", "k", "g1", "m1", "d", "\xED\xA0\x80", 0},
    {"idempotency_key", "\xFF\xFE", "g1", "m1", "d", "r", 0},
};

START_TEST(refuses_bad_fields)
{
    Whistle__V1__SubmitReport sr = WHISTLE__V1__SUBMIT_REPORT__INIT;
    Whistle__V1__Report rep = WHISTLE__V1__REPORT__INIT;
    sr.idempotency_key = (char *)(s_bad[_i].key ? s_bad[_i].key : "");
    if (!s_bad[_i].no_report) {
        rep.grid = (char *)s_bad[_i].grid;
        rep.matter = (char *)s_bad[_i].matter;
        rep.description = (char *)s_bad[_i].description;
        rep.reporter = (char *)s_bad[_i].reporter;
        sr.report = &rep;
    }
    Whistle__V1__Reply *r = s_submit(&sr);
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_ERROR);
    ck_assert_str_eq(r->error->field, s_bad[_i].field);
    ck_assert_int_eq(r->error->code, WH_EFIELD);
    ck_assert_msg(strlen(r->error->message) > 0, "the error says what to fix");
    whistle__v1__reply__free_unpacked(r, NULL);
    ck_assert_uint_eq(s_head(), 0);
    /* and the service keeps serving */
    Whistle__V1__Report good_rep;
    s_good(&sr, &good_rep, "after-bad");
    r = s_submit(&sr);
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_SUBMIT_REPORT);
    whistle__v1__reply__free_unpacked(r, NULL);
}
END_TEST

START_TEST(community_task_fields)
{
    Whistle__V1__SubmitReport sr;
    Whistle__V1__Report rep;
    Whistle__V1__CommunityTask t = WHISTLE__V1__COMMUNITY_TASK__INIT;
    s_good(&sr, &rep, "task-1");
    rep.matter = ""; /* a task needs no matter */
    rep.task = &t;
    t.affair = "a1";
    Whistle__V1__Reply *r = s_submit(&sr);
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_ERROR);
    ck_assert_str_eq(r->error->field, "report.task.issuer");
    whistle__v1__reply__free_unpacked(r, NULL);
    t.issuer = "mz";
    r = s_submit(&sr);
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_SUBMIT_REPORT);
    whistle__v1__reply__free_unpacked(r, NULL);
    /* without a task, the matter is required again; an out-of-range whistle is refused */
    s_good(&sr, &rep, "task-2");
    rep.matter = "";
    r = s_submit(&sr);
    ck_assert_str_eq(r->error->field, "report.matter");
    whistle__v1__reply__free_unpacked(r, NULL);
    s_good(&sr, &rep, "task-3");
    rep.whistle = 9;
    r = s_submit(&sr);
    ck_assert_str_eq(r->error->field, "report.whistle");
    whistle__v1__reply__free_unpacked(r, NULL);
    ck_assert_uint_eq(s_head(), 1);
}
END_TEST

/* 4000 characters, as Open311 counts them: 4000 Chinese characters (12,000 bytes) are taken,
 * one more is refused, naming the count. */
START_TEST(description_in_characters)
{
    static char zh[3 * (WH_MAX_DESCRIPTION_CHARS + 1) + 1];
    for (int i = 0; i < WH_MAX_DESCRIPTION_CHARS; i++) memcpy(zh + 3 * i, "占", 3);
    Whistle__V1__SubmitReport sr;
    Whistle__V1__Report rep;
    s_good(&sr, &rep, "zh-4000");
    rep.description = zh;
    Whistle__V1__Reply *r = s_submit(&sr);
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_SUBMIT_REPORT);
    whistle__v1__reply__free_unpacked(r, NULL);
    memcpy(zh + 3 * WH_MAX_DESCRIPTION_CHARS, "占", 3);
    s_good(&sr, &rep, "zh-4001");
    rep.description = zh;
    r = s_submit(&sr);
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_ERROR);
    ck_assert_str_eq(r->error->field, "report.description");
    ck_assert_ptr_nonnull(strstr(r->error->message, "4001 characters"));
    whistle__v1__reply__free_unpacked(r, NULL);
    ck_assert_uint_eq(s_head(), 1);
}
END_TEST

/* Contact, coordinates and a photo are kept with the report; bad ones are refused by name. */
START_TEST(contact_geo_media)
{
    Whistle__V1__SubmitReport sr;
    Whistle__V1__Report rep;
    Whistle__V1__Contact ct = WHISTLE__V1__CONTACT__INIT;
    Whistle__V1__Geo geo = WHISTLE__V1__GEO__INIT;
    s_good(&sr, &rep, "geo-1");
    ct.phone = "13800000000";
    ct.first_name = "小明";
    geo.lat = 30.5;
    geo.lon = 117.05;
    rep.contact = &ct;
    rep.geo = &geo;
    rep.media_url = "https://photos.example/1.jpg";
    Whistle__V1__Reply *r = s_submit(&sr);
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_SUBMIT_REPORT);
    whistle__v1__reply__free_unpacked(r, NULL);
    static const struct { double lat, lon; const char *media, *field; } bad[] = {
        {91, 0, "", "report.geo.lat"},
        {0, -181, "", "report.geo.lon"},
        {0, 0, "ftp://x/1.jpg", "report.media_url"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char key[16];
        snprintf(key, sizeof key, "geo-bad-%zu", i);
        s_good(&sr, &rep, key);
        geo.lat = bad[i].lat;
        geo.lon = bad[i].lon;
        rep.geo = &geo;
        rep.media_url = (char *)bad[i].media;
        r = s_submit(&sr);
        ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_ERROR);
        ck_assert_str_eq(r->error->field, bad[i].field);
        whistle__v1__reply__free_unpacked(r, NULL);
    }
    ck_assert_uint_eq(s_head(), 1);
}
END_TEST

START_TEST(description_too_long)
{
    static char big[WH_MAX_DESCRIPTION_CHARS + 2];
    memset(big, 'x', sizeof big - 1);
    Whistle__V1__SubmitReport sr;
    Whistle__V1__Report rep;
    s_good(&sr, &rep, "long");
    rep.description = big;
    Whistle__V1__Reply *r = s_submit(&sr);
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_ERROR);
    ck_assert_str_eq(r->error->field, "report.description");
    ck_assert_ptr_nonnull(strstr(r->error->message, "4000"));
    whistle__v1__reply__free_unpacked(r, NULL);
    ck_assert_uint_eq(s_head(), 0);
}
END_TEST

START_TEST(truncated_and_garbage)
{
    Whistle__V1__SubmitReport sr;
    Whistle__V1__Report rep;
    s_good(&sr, &rep, "trunc");
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    req.body_case = WHISTLE__V1__REQUEST__BODY_SUBMIT_REPORT;
    req.submit_report = &sr;
    size_t len;
    uint8_t *buf = wh_pack(&req.base, &len);
    int refused = 0;
    /* every prefix of a valid request: either refused as malformed or as a field error */
    for (size_t cut = 1; cut < len; cut += 3) {
        Whistle__V1__Reply *r = wh_test_raw_call(s_dealer, s_svcs, 1, buf, cut, 5000);
        ck_assert_msg(r != NULL, "no reply to a %zu-byte prefix", cut);
        ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_ERROR);
        if (strcmp(r->error->field, "request") == 0) refused++;
        whistle__v1__reply__free_unpacked(r, NULL);
    }
    ck_assert_int_gt(refused, 0);
    free(buf);
    const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99};
    Whistle__V1__Reply *r = wh_test_raw_call(s_dealer, s_svcs, 1, garbage, sizeof garbage, 5000);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_ERROR);
    ck_assert_str_eq(r->error->field, "request");
    ck_assert_int_eq(r->error->code, WH_EMALFORMED);
    whistle__v1__reply__free_unpacked(r, NULL);
    ck_assert_uint_eq(s_head(), 0);
    r = s_submit(&sr);
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_SUBMIT_REPORT);
    whistle__v1__reply__free_unpacked(r, NULL);
}
END_TEST

START_TEST(oversized)
{
    /* above the request bound: refused with an error naming "request" */
    size_t n = WH_MAX_REQUEST_BYTES + 100;
    uint8_t *big = calloc(1, n);
    Whistle__V1__Reply *r = wh_test_raw_call(s_dealer, s_svcs, 1, big, n, 5000);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_ERROR);
    ck_assert_str_eq(r->error->field, "request");
    ck_assert_int_eq(r->error->code, WH_ETOOBIG);
    whistle__v1__reply__free_unpacked(r, NULL);
    free(big);
    /* above ZMQ_MAXMSGSIZE: the peer is cut off; another client is still served */
    n = WH_MAX_WIRE_BYTES + 10;
    big = calloc(1, n);
    ck_assert_int_ge(zmq_send(s_dealer, big, n, 0), 0);
    free(big);
    void *other = wh_test_dealer(s_zctx, s_opt.api);
    Whistle__V1__SubmitReport sr;
    Whistle__V1__Report rep;
    s_good(&sr, &rep, "after-huge");
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    req.body_case = WHISTLE__V1__REQUEST__BODY_SUBMIT_REPORT;
    req.submit_report = &sr;
    r = wh_test_call(other, s_svcs, 1, &req, 5000);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->body_case, WHISTLE__V1__REPLY__BODY_SUBMIT_REPORT);
    whistle__v1__reply__free_unpacked(r, NULL);
    zmq_close(other);
    ck_assert_uint_eq(s_head(), 1);
}
END_TEST

START_TEST(unsupported_and_empty)
{
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__Reply *r = wh_test_call(s_dealer, s_svcs, 1, &req, 5000);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->error->field, "request.body");
    whistle__v1__reply__free_unpacked(r, NULL);
    Whistle__V1__GetCase gc = WHISTLE__V1__GET_CASE__INIT;
    gc.case_id = "C00000001";
    req.body_case = WHISTLE__V1__REQUEST__BODY_GET_CASE;
    req.get_case = &gc;
    r = wh_test_call(s_dealer, s_svcs, 1, &req, 5000);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->error->code, WH_EUNSUPPORTED);
    whistle__v1__reply__free_unpacked(r, NULL);
}
END_TEST

START_TEST(survives_restart)
{
    Whistle__V1__SubmitReport sr;
    Whistle__V1__Report rep;
    s_good(&sr, &rep, "restart-key");
    Whistle__V1__Reply *r = s_submit(&sr);
    ck_assert_str_eq(r->submit_report->case_id, "C00000001");
    whistle__v1__reply__free_unpacked(r, NULL);
    zmq_close(s_dealer);
    intake_destroy(&s_intake);
    s_intake = intake_new(&s_opt, s_cat);
    ck_assert_ptr_nonnull(s_intake);
    s_svcs[0] = intake_service(s_intake);
    s_dealer = wh_test_dealer(s_zctx, s_opt.api);
    r = s_submit(&sr);
    ck_assert_str_eq(r->submit_report->case_id, "C00000001");
    ck_assert(r->submit_report->duplicate);
    whistle__v1__reply__free_unpacked(r, NULL);
    s_good(&sr, &rep, "restart-key-2");
    r = s_submit(&sr);
    ck_assert_str_eq(r->submit_report->case_id, "C00000002");
    whistle__v1__reply__free_unpacked(r, NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("intake");
    TCase *tc = tcase_create("submit");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, accepts_and_deduplicates);
    tcase_add_test(tc, same_key_other_report_conflicts);
    tcase_add_loop_test(tc, refuses_bad_fields, 0, (int)(sizeof s_bad / sizeof s_bad[0]));
    tcase_add_test(tc, description_too_long);
    tcase_add_test(tc, description_in_characters);
    tcase_add_test(tc, contact_geo_media);
    tcase_add_test(tc, community_task_fields);
    tcase_add_test(tc, truncated_and_garbage);
    tcase_add_test(tc, oversized);
    tcase_add_test(tc, unsupported_and_empty);
    tcase_add_test(tc, survives_restart);
    suite_add_tcase(s, tc);
    return wh_test_run(s);
}
