/* check_heartbeat.c: a topic's heartbeat cannot be silenced by another peer. With keys on the
 * XPUB is in ZMQ_XPUB_MANUAL mode and passes up every pipe's (un)subscription: a refused peer
 * that subscribes to dept/cg/ and then unsubscribes (or a second cg subscriber that leaves)
 * must not stop the heartbeats the first cg subscriber relies on to notice lost entries. */
#include "wh_test.h"
#include "whistle/auth.h"
#include "whistle/clock.h"
#include <check.h>
#include <string.h>

static char *s_dir;
static wh_service_t *s_svc;
static void *s_zctx;
static struct wh_keypair s_server, s_cg, s_scjg;

/* A department reads its own topic only. */
static int s_may_read(void *arg, const struct wh_identity *who, const char *topic)
{
    (void)arg;
    char own[64];
    snprintf(own, sizeof own, "dept/%s/", who->code);
    return who->kind == WH_KIND_DEPARTMENT && strcmp(topic, own) == 0;
}

static void s_setup(void)
{
    s_dir = wh_test_tmpdir();
    ck_assert_ptr_nonnull(s_dir);
    char base[512], keys[600], allow[600], err[512], data[600], api[600], ev[600];
    snprintf(base, sizeof base, "%s/server", s_dir);
    ck_assert_int_eq(wh_keypair_generate(base, &s_server, err, sizeof err), 0);
    snprintf(keys, sizeof keys, "%s.key", base);
    snprintf(base, sizeof base, "%s/cg", s_dir);
    ck_assert_int_eq(wh_keypair_generate(base, &s_cg, err, sizeof err), 0);
    snprintf(base, sizeof base, "%s/scjg", s_dir);
    ck_assert_int_eq(wh_keypair_generate(base, &s_scjg, err, sizeof err), 0);
    snprintf(allow, sizeof allow, "%s/allow.txt", s_dir);
    FILE *f = fopen(allow, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%s department cg\n%s department scjg\n", s_cg.public_key, s_scjg.public_key);
    fclose(f);
    snprintf(data, sizeof data, "%s/data", s_dir);
    snprintf(api, sizeof api, "ipc://%s/h.api", s_dir);
    snprintf(ev, sizeof ev, "ipc://%s/h.ev", s_dir);
    struct wh_service_config cfg = {.name = "hb", .data_dir = data, .api_endpoint = api,
                                    .events_endpoint = ev, .heartbeat_ms = 30,
                                    .may_read = s_may_read, .keys = keys, .allow = allow};
    s_svc = wh_service_new(&cfg);
    ck_assert_ptr_nonnull(s_svc);
    s_zctx = zmq_ctx_new();
}

static void s_teardown(void)
{
    zmq_ctx_term(s_zctx);
    wh_service_destroy(&s_svc);
    wh_test_rmdir(s_dir);
    free(s_dir);
}

static void *s_sub(const struct wh_keypair *kp, const char *topic)
{
    void *s = zmq_socket(s_zctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    ck_assert_int_eq(wh_curve_client(s, kp, s_server.public_key), 0);
    ck_assert_int_eq(zmq_connect(s, wh_service_events_endpoint(s_svc)), 0);
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, strlen(topic));
    return s;
}

/* Drives the service for `ms` and counts the heartbeats `sub` receives on `topic`. */
static int s_beats(void *sub, const char *topic, int ms)
{
    int n = 0;
    int64_t until = wh_mono_ms() + ms;
    while (wh_mono_ms() < until) {
        wh_service_run_once(s_svc, 5);
        for (;;) {
            zmq_msg_t t, b;
            zmq_msg_init(&t);
            zmq_msg_init(&b);
            if (zmq_msg_recv(&t, sub, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&t);
                zmq_msg_close(&b);
                break;
            }
            ck_assert(zmq_msg_more(&t));
            ck_assert_int_ge(zmq_msg_recv(&b, sub, 0), 0);
            Whistle__V1__Envelope *e = wh_envelope_unpack(zmq_msg_data(&b), zmq_msg_size(&b));
            ck_assert_ptr_nonnull(e);
            if (zmq_msg_size(&t) == strlen(topic) &&
                memcmp(zmq_msg_data(&t), topic, strlen(topic)) == 0 &&
                e->payload_case == WHISTLE__V1__ENVELOPE__PAYLOAD_HEARTBEAT)
                n++;
            whistle__v1__envelope__free_unpacked(e, NULL);
            zmq_msg_close(&t);
            zmq_msg_close(&b);
        }
    }
    return n;
}

START_TEST(refused_peer_cannot_silence)
{
    void *cg = s_sub(&s_cg, "dept/cg/");
    ck_assert_msg(s_beats(cg, "dept/cg/", 400) > 0, "cg never got a heartbeat on its topic");
    /* scjg asks for cg's topic (refused), then takes the request back and leaves */
    void *intruder = s_sub(&s_scjg, "dept/cg/");
    s_beats(cg, "dept/cg/", 200);
    zmq_setsockopt(intruder, ZMQ_UNSUBSCRIBE, "dept/cg/", 8);
    s_beats(cg, "dept/cg/", 200);
    zmq_close(intruder);
    s_beats(cg, "dept/cg/", 200);
    /* heartbeat every 30 ms: a few hundred ms must bring several */
    ck_assert_msg(s_beats(cg, "dept/cg/", 600) >= 3, "a refused peer silenced cg's heartbeats");
    zmq_close(cg);
}
END_TEST

START_TEST(second_subscriber_leaving_keeps_beats)
{
    void *a = s_sub(&s_cg, "dept/cg/");
    void *b = s_sub(&s_cg, "dept/cg/");
    ck_assert(s_beats(a, "dept/cg/", 400) > 0);
    ck_assert(s_beats(b, "dept/cg/", 200) > 0);
    zmq_setsockopt(b, ZMQ_UNSUBSCRIBE, "dept/cg/", 8);
    s_beats(a, "dept/cg/", 200);
    zmq_close(b);
    s_beats(a, "dept/cg/", 200);
    ck_assert_msg(s_beats(a, "dept/cg/", 600) >= 3, "one subscriber leaving silenced the other");
    zmq_close(a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("heartbeat");
    TCase *tc = tcase_create("xpub_manual");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, refused_peer_cannot_silence);
    tcase_add_test(tc, second_subscriber_leaving_keeps_beats);
    suite_add_tcase(s, tc);
    return wh_test_run(s);
}
