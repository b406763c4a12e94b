/* client.c: blocking request/reply to a service's ROUTER through a DEALER socket.
 *
 * A socket monitor (an inproc PAIR) records what the connection went through, so that a call
 * that times out can say why: nothing listens, the server expects keys we do not have (or has
 * none), our key is not on its allowlist, or it is connected and simply did not answer. */
#include "whistle/client.h"
#include "whistle/clock.h"
#include "whistle/codec.h"
#include "whistle/error.h"
#include "whistle/link.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct wh_client {
    void *zctx;
    void *zs;
    char endpoint[256];
    uint64_t next_id;
    int keyed;
    struct wh_keypair key;
    char server_public[WH_Z85_KEY];
    void *mon;           /* PAIR on the DEALER's monitor */
    unsigned opened;     /* how many times the DEALER was opened (names the monitor) */
    unsigned events;     /* ZMQ_EVENT_* seen since the DEALER was opened */
    unsigned protocol;   /* the value of the last HANDSHAKE_FAILED_PROTOCOL */
    int why;             /* enum wh_client_why of the last timeout */
};

#define S_MONITORED                                                                   \
    (ZMQ_EVENT_CONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | \
     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)

/* Reads the monitor's pending events (two frames each: u16 event + u32 value, endpoint). */
static void s_monitor_drain(wh_client_t *self)
{
    while (self->mon) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, self->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        if (zmq_msg_size(&m) >= 6) {
            const uint8_t *d = zmq_msg_data(&m);
            uint16_t ev;
            uint32_t value;
            memcpy(&ev, d, 2);
            memcpy(&value, d + 2, 4);
            self->events |= ev;
            if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) self->protocol = value;
        }
        int more = zmq_msg_more(&m);
        zmq_msg_close(&m);
        if (more) { /* the endpoint frame */
            zmq_msg_init(&m);
            zmq_msg_recv(&m, self->mon, ZMQ_DONTWAIT);
            zmq_msg_close(&m);
        }
    }
}

static void s_close(wh_client_t *self)
{
    if (self->zs) {
        zmq_socket_monitor(self->zs, NULL, 0);
        zmq_close(self->zs);
        self->zs = NULL;
    }
    if (self->mon) {
        zmq_close(self->mon);
        self->mon = NULL;
    }
}

int wh_client_secure(wh_client_t *self, void *zsock)
{
    return self->keyed ? wh_curve_client(zsock, &self->key, self->server_public) : 0;
}

static int s_open(wh_client_t *self)
{
    self->zs = zmq_socket(self->zctx, ZMQ_DEALER);
    if (!self->zs) return WH_EBUS;
    int linger = 0;
    int64_t max = 16 * WH_MAX_WIRE_BYTES;
    zmq_setsockopt(self->zs, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(self->zs, ZMQ_MAXMSGSIZE, &max, sizeof max);
    if (wh_client_secure(self, self->zs)) return WH_EBUS;
    /* the services' default heartbeat: a partitioned connection is cut and made again
     * within seconds, so a later call is not lost in it (link.c) */
    if (wh_link_watch(self->zs, WH_LINK_HEARTBEAT_MS)) return WH_EBUS;
    char addr[64];
    snprintf(addr, sizeof addr, "inproc://wh-client-monitor-%u", ++self->opened);
    self->events = self->protocol = 0;
    if (zmq_socket_monitor(self->zs, addr, S_MONITORED) == 0) {
        self->mon = zmq_socket(self->zctx, ZMQ_PAIR);
        if (self->mon) {
            zmq_setsockopt(self->mon, ZMQ_LINGER, &linger, sizeof linger);
            if (zmq_connect(self->mon, addr) != 0) {
                zmq_close(self->mon);
                self->mon = NULL;
            }
        }
    }
    return zmq_connect(self->zs, self->endpoint) == 0 ? 0 : WH_EBUS;
}

wh_client_t *wh_client_new(const char *endpoint)
{
    return wh_client_new_keyed(endpoint, NULL, NULL);
}

wh_client_t *wh_client_new_keyed(const char *endpoint, const struct wh_keypair *key,
                                 const char *server_public)
{
    wh_client_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    if (key && server_public) {
        self->keyed = 1;
        self->key = *key;
        snprintf(self->server_public, sizeof self->server_public, "%s", server_public);
    }
    self->zctx = zmq_ctx_new();
    snprintf(self->endpoint, sizeof self->endpoint, "%s", endpoint);
    self->next_id = (uint64_t)wh_now_ms() << 16;
    if (s_open(self) != 0) {
        wh_client_destroy(&self);
        return NULL;
    }
    return self;
}

void wh_client_destroy(wh_client_t **self_p)
{
    if (!self_p || !*self_p) return;
    wh_client_t *self = *self_p;
    s_close(self);
    zmq_ctx_term(self->zctx);
    free(self);
    *self_p = NULL;
}

void *wh_client_zmq_ctx(wh_client_t *self) { return self->zctx; }

int wh_client_call(wh_client_t *self, Whistle__V1__Request *req, Whistle__V1__Reply **reply_p,
                   int timeout_ms)
{
    *reply_p = NULL;
    req->request_id = ++self->next_id;
    size_t len;
    uint8_t *buf = wh_pack(&req->base, &len);
    if (!buf) return WH_ENOMEM;
    int rc = zmq_send(self->zs, buf, len, 0);
    free(buf);
    if (rc < 0) return WH_EBUS;
    int64_t deadline = wh_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - wh_mono_ms();
        if (left <= 0) break;
        zmq_pollitem_t item = {self->zs, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, (long)left) < 0) return WH_EBUS;
        if (!(item.revents & ZMQ_POLLIN)) continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, self->zs, 0) < 0) {
            zmq_msg_close(&m);
            return WH_EBUS;
        }
        Whistle__V1__Reply *r = wh_reply_unpack(zmq_msg_data(&m), zmq_msg_size(&m));
        zmq_msg_close(&m);
        if (!r) return WH_EMALFORMED;
        if (r->request_id == req->request_id) {
            *reply_p = r;
            return 0;
        }
        whistle__v1__reply__free_unpacked(r, NULL); /* a late reply to an earlier call */
    }
    s_monitor_drain(self);
    unsigned ev = self->events;
    if (ev & ZMQ_EVENT_HANDSHAKE_SUCCEEDED) self->why = WH_CLIENT_NO_ANSWER;
    else if (ev & ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) self->why = WH_CLIENT_KEY_REFUSED;
    else if (ev & (ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL))
        self->why = self->protocol == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
                        ? (self->keyed ? WH_CLIENT_KEYS_OFF : WH_CLIENT_KEYS_ON)
                        : WH_CLIENT_HANDSHAKE_FAILED;
    else if (ev & ZMQ_EVENT_CONNECTED) self->why = WH_CLIENT_HANDSHAKE_FAILED;
    else self->why = WH_CLIENT_NOT_LISTENING;
    /* reopen so that the late reply of this call cannot be taken for another */
    s_close(self);
    s_open(self);
    return WH_ETIMEDOUT;
}

int wh_client_why(const wh_client_t *self) { return self->why; }
