/* wh_test.h: what the Check suites share: temporary folders, ipc endpoints for in-process
 * services, and a request/reply over a raw DEALER while the services' loops are driven in
 * this thread (wh_service_run_once), with a deadline instead of sleeps. */
#ifndef WHISTLE_TEST_H
#define WHISTLE_TEST_H
#include "whistle/clock.h"
#include "whistle/codec.h"
#include "whistle/options.h"
#include "whistle/service.h"
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

static inline char *wh_test_tmpdir(void)
{
    char *dir = strdup("/tmp/whistle-test-XXXXXX");
    return mkdtemp(dir) ? dir : NULL;
}

static inline int wh_test_rm1(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static inline void wh_test_rmdir(const char *dir)
{
    nftw(dir, wh_test_rm1, 16, FTW_DEPTH | FTW_PHYS);
}

/* Endpoint strings live in `buf` (>= 2048 bytes). Every service's api/events are
 * ipc://<dir>/<name>.api and .ev; data in <dir>/<name>. */
static inline void wh_test_options(struct wh_options *o, char *buf, const char *dir,
                                   const char *name)
{
    static const char *const names[] = {"intake", "routing", "tracking", "notification"};
    memset(o, 0, sizeof *o);
    char *p = buf;
#define WH_T_PUT(dst, ...)                                                                  \
    do {                                                                                    \
        dst = p;                                                                            \
        p += snprintf(p, 200, __VA_ARGS__) + 1;                                             \
    } while (0)
    WH_T_PUT(o->data_dir, "%s/%s", dir, name);
    WH_T_PUT(o->api, "ipc://%s/%s.api", dir, name);
    WH_T_PUT(o->events, "ipc://%s/%s.ev", dir, name);
    for (int i = 0; i < 4; i++) {
        WH_T_PUT(o->upstream_api[i], "ipc://%s/%s.api", dir, names[i]);
        WH_T_PUT(o->upstream_events[i], "ipc://%s/%s.ev", dir, names[i]);
    }
#undef WH_T_PUT
    o->catalog = WHISTLE_SOURCE_DIR "/tests/data/catalog-small.json";
    o->log_level = "warn";
    o->heartbeat_ms = 50;
    o->webhook_attempts = 8;
    o->webhook_timeout_ms = 2000;
    o->webhook_backoff_ms = 50;
}

static inline void *wh_test_dealer(void *zctx, const char *endpoint)
{
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(s, endpoint);
    return s;
}

static inline void wh_test_drive(wh_service_t **svcs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (svcs[i]) wh_service_run_once(svcs[i], 2);
}

/* Sends raw bytes as one frame; waits for one reply frame, driving the services. */
static inline Whistle__V1__Reply *wh_test_raw_call(void *dealer, wh_service_t **svcs, size_t n,
                                                   const void *buf, size_t len, int timeout_ms)
{
    if (zmq_send(dealer, buf, len, 0) < 0) return NULL;
    int64_t deadline = wh_mono_ms() + timeout_ms;
    while (wh_mono_ms() < deadline) {
        wh_test_drive(svcs, n);
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, dealer, ZMQ_DONTWAIT) >= 0) {
            Whistle__V1__Reply *r = wh_reply_unpack(zmq_msg_data(&m), zmq_msg_size(&m));
            zmq_msg_close(&m);
            return r;
        }
        zmq_msg_close(&m);
    }
    return NULL;
}

static inline Whistle__V1__Reply *wh_test_call(void *dealer, wh_service_t **svcs, size_t n,
                                               Whistle__V1__Request *req, int timeout_ms)
{
    size_t len;
    uint8_t *buf = wh_pack(&req->base, &len);
    Whistle__V1__Reply *r = wh_test_raw_call(dealer, svcs, n, buf, len, timeout_ms);
    free(buf);
    return r;
}

/* Runs suite `s` and returns the exit status (0 when every check passed). */
static inline int wh_test_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

/* Drives the services until cond() is true or the deadline passes; returns cond(). */
#define WH_TEST_WAIT(svcs, n, timeout_ms, cond)                                             \
    ({                                                                                      \
        int64_t wh_t_deadline = wh_mono_ms() + (timeout_ms);                                \
        while (!(cond) && wh_mono_ms() < wh_t_deadline) wh_test_drive((svcs), (n));         \
        (cond);                                                                             \
    })

#endif
