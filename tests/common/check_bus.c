/* check_bus.c: a zmq socket on the libuv loop delivers every message of a burst larger than
 * the drain bound without blocking the loop (edge-triggered fd, bound, kick), sends replies,
 * cuts over-long multipart messages without losing the next one, and closes every handle. */
#include "whistle/bus.h"
#include "whistle/clock.h"
#include "whistle/wlog.h"
#include "wh_test.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_BURST 2000

struct s_server {
    int received;
    int out_of_order;
    int bad_frames;
    int send_failed;
    int echo;
    size_t last_n;
    int last_truncated;
};

static uv_loop_t s_loop;
static void *s_zctx;
static wh_sock_t *s_router;
static void *s_dealer;
static struct s_server s_srv;

static void s_on_msg(void *arg, wh_sock_t *sock, const struct wh_frames *m)
{
    struct s_server *srv = arg;
    srv->last_n = m->n;
    srv->last_truncated = m->truncated;
    if (m->n != 2 || m->len[1] >= 32) {
        srv->bad_frames++;
        return;
    }
    char body[32];
    memcpy(body, m->data[1], m->len[1]);
    body[m->len[1]] = 0;
    if (atoi(body) != srv->received) srv->out_of_order++;
    srv->received++;
    if (srv->echo && wh_sock_sendv(sock, 2, m->data, m->len) != 0) srv->send_failed++;
}

static void s_setup(void)
{
    wh_log_init("check_bus", WH_LOG_WARN);
    memset(&s_srv, 0, sizeof s_srv);
    ck_assert_int_eq(uv_loop_init(&s_loop), 0);
    s_zctx = zmq_ctx_new();
    ck_assert_ptr_nonnull(s_zctx);
    s_router = wh_sock_new(&s_loop, s_zctx, ZMQ_ROUTER, 0, s_on_msg, &s_srv);
    ck_assert_ptr_nonnull(s_router);
    int hwm = 10 * S_BURST;
    zmq_setsockopt(wh_sock_zmq(s_router), ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(wh_sock_zmq(s_router), ZMQ_SNDHWM, &hwm, sizeof hwm);
    ck_assert_int_eq(wh_sock_bind(s_router, "tcp://127.0.0.1:*"), 0);

    const char *ep = wh_sock_endpoint(s_router);
    ck_assert_msg(strncmp(ep, "tcp://127.0.0.1:", 16) == 0, "endpoint %s", ep);
    int port = atoi(ep + 16);
    ck_assert_msg(port > 0 && port < 65536, "endpoint %s has no port", ep);

    s_dealer = zmq_socket(s_zctx, ZMQ_DEALER);
    int linger = 0, timeo = 5000;
    zmq_setsockopt(s_dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s_dealer, ZMQ_RCVTIMEO, &timeo, sizeof timeo);
    zmq_setsockopt(s_dealer, ZMQ_SNDTIMEO, &timeo, sizeof timeo);
    zmq_setsockopt(s_dealer, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s_dealer, ZMQ_RCVHWM, &hwm, sizeof hwm);
    ck_assert_int_eq(zmq_connect(s_dealer, ep), 0);
}

static void s_teardown(void)
{
    zmq_close(s_dealer);
    wh_sock_destroy(&s_router);
    ck_assert_ptr_null(s_router);
    wh_sock_destroy(&s_router); /* safe on NULL */
    /* the handles close asynchronously: run until nothing is left, then the loop must close */
    int64_t deadline = wh_mono_ms() + 5000;
    while (uv_run(&s_loop, UV_RUN_NOWAIT) != 0 && wh_mono_ms() < deadline) {
    }
    ck_assert_int_eq(uv_loop_close(&s_loop), 0);
    ck_assert_int_eq(zmq_ctx_term(s_zctx), 0);
}

/* Receives every reply waiting on the dealer; checks they come back in order. */
static int s_client_drain(int *replies, int *wrong)
{
    char buf[32];
    int n;
    while ((n = zmq_recv(s_dealer, buf, sizeof buf - 1, ZMQ_DONTWAIT)) >= 0) {
        buf[n] = 0;
        if (atoi(buf) != *replies) (*wrong)++;
        (*replies)++;
    }
    return *replies;
}

static void s_send_burst(void)
{
    for (int i = 0; i < S_BURST; i++) {
        char body[16];
        int n = snprintf(body, sizeof body, "%d", i);
        ck_assert_int_eq(zmq_send(s_dealer, body, (size_t)n, 0), n);
    }
}

START_TEST(test_burst_beyond_bound)
{
    ck_assert_int_gt(S_BURST, 3 * WH_DRAIN_BOUND);
    s_send_burst();
    /* never blocks: if a drain stopped at the bound without a kick, the rest would wait for
     * an edge that does not come and the deadline would pass */
    int64_t deadline = wh_mono_ms() + 10000;
    while (s_srv.received < S_BURST && wh_mono_ms() < deadline) uv_run(&s_loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(s_srv.received, S_BURST);
    ck_assert_int_eq(s_srv.out_of_order, 0);
    ck_assert_int_eq(s_srv.bad_frames, 0);
}
END_TEST

START_TEST(test_echo)
{
    s_srv.echo = 1;
    s_send_burst();
    int replies = 0, wrong = 0;
    int64_t deadline = wh_mono_ms() + 10000;
    while ((s_srv.received < S_BURST || replies < S_BURST) && wh_mono_ms() < deadline) {
        uv_run(&s_loop, UV_RUN_NOWAIT);
        s_client_drain(&replies, &wrong);
    }
    ck_assert_int_eq(s_srv.received, S_BURST);
    ck_assert_int_eq(s_srv.send_failed, 0);
    ck_assert_int_eq(replies, S_BURST);
    ck_assert_int_eq(wrong, 0);

    /* a second round after the loop went quiet: sending must not have eaten an edge */
    s_srv.received = 0;
    replies = 0;
    s_send_burst();
    deadline = wh_mono_ms() + 10000;
    while ((s_srv.received < S_BURST || replies < S_BURST) && wh_mono_ms() < deadline) {
        uv_run(&s_loop, UV_RUN_NOWAIT);
        s_client_drain(&replies, &wrong);
    }
    ck_assert_int_eq(replies, S_BURST);
    ck_assert_int_eq(wrong, 0);
}
END_TEST

START_TEST(test_too_many_frames)
{
    /* 10 frames from the dealer, 11 with the routing id: only WH_MAX_FRAMES are kept */
    for (int i = 0; i < 10; i++) ck_assert_int_eq(zmq_send(s_dealer, "x", 1, ZMQ_SNDMORE), 1);
    ck_assert_int_eq(zmq_send(s_dealer, "x", 1, 0), 1);
    ck_assert_int_eq(zmq_send(s_dealer, "0", 1, 0), 1);
    int64_t deadline = wh_mono_ms() + 5000;
    while (s_srv.received < 1 && wh_mono_ms() < deadline) uv_run(&s_loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(s_srv.bad_frames, 1);
    ck_assert_int_eq(s_srv.received, 1); /* the next message is intact */
    ck_assert_uint_eq(s_srv.last_n, 2);
    ck_assert_int_eq(s_srv.last_truncated, 0);
    ck_assert_int_eq(s_srv.out_of_order, 0);
}
END_TEST

/* Remembers the shape of the one oversize message (bad_frames path records last_n first). */
static void s_on_shape(void *arg, wh_sock_t *sock, const struct wh_frames *m)
{
    (void)sock;
    struct s_server *srv = arg;
    srv->last_n = m->n;
    srv->last_truncated = m->truncated;
    srv->received++;
}

START_TEST(test_truncated_shape)
{
    wh_sock_t *r = wh_sock_new(&s_loop, s_zctx, ZMQ_ROUTER, 0, s_on_shape, &s_srv);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(wh_sock_bind(r, "tcp://127.0.0.1:*"), 0);
    void *d = zmq_socket(s_zctx, ZMQ_DEALER);
    int linger = 0, timeo = 5000;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(d, ZMQ_SNDTIMEO, &timeo, sizeof timeo);
    ck_assert_int_eq(zmq_connect(d, wh_sock_endpoint(r)), 0);
    for (int i = 0; i < 10; i++) ck_assert_int_eq(zmq_send(d, "y", 1, i < 9 ? ZMQ_SNDMORE : 0), 1);
    int64_t deadline = wh_mono_ms() + 5000;
    while (s_srv.received < 1 && wh_mono_ms() < deadline) uv_run(&s_loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(s_srv.received, 1);
    ck_assert_uint_eq(s_srv.last_n, WH_MAX_FRAMES);
    ck_assert_int_eq(s_srv.last_truncated, 1);
    zmq_close(d);
    wh_sock_destroy(&r);
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("bus");
    TCase *tc = tcase_create("bus");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_burst_beyond_bound);
    tcase_add_test(tc, test_echo);
    tcase_add_test(tc, test_too_many_frames);
    tcase_add_test(tc, test_truncated_shape);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return wh_test_run(s_suite()); }
