/* bus.c: ZeroMQ sockets on the libuv loop. The one place that calls zmq_recv: drains each
 * socket until ZMQ_EVENTS has no POLLIN (the ZMQ_FD is edge-triggered), or a bound, and kicks
 * itself through a uv_idle handle when more may be waiting. */
#include "whistle/bus.h"
#include "whistle/error.h"
#include "whistle/wlog.h"
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct wh_sock {
    uv_poll_t poll;     /* watches ZMQ_FD */
    uv_idle_t idle;     /* active while a drain is owed */
    void *zs;           /* the zmq socket */
    wh_sock_fn on_msg;
    void *arg;
    int closing;        /* handles left to close before free */
    int yield;          /* stop the drain after the current message (wh_sock_yield) */
    char endpoint[256]; /* last bound endpoint, resolved */
};

static void s_drain(wh_sock_t *self);

static void s_on_poll(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    s_drain(h->data);
}

static void s_on_idle(uv_idle_t *h)
{
    wh_sock_t *self = h->data;
    uv_idle_stop(&self->idle);
    s_drain(self);
}

void wh_sock_kick(wh_sock_t *self)
{
    if (self && !self->closing) uv_idle_start(&self->idle, s_on_idle);
}

/* Receives one multipart message; 1 if one was read, 0 if none was waiting. */
static int s_recv(wh_sock_t *self)
{
    zmq_msg_t parts[WH_MAX_FRAMES];
    struct wh_frames f;
    memset(&f, 0, sizeof f);
    int more = 1;
    while (more) {
        zmq_msg_t scratch, *m = f.n < WH_MAX_FRAMES ? &parts[f.n] : &scratch;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, self->zs, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(m);
            if (f.n == 0) return 0;
            break; /* a multipart message arrives whole; cannot happen mid-message */
        }
        more = zmq_msg_more(m);
        if (m == &scratch) {
            f.truncated = 1;
            zmq_msg_close(m);
            continue;
        }
        f.data[f.n] = zmq_msg_data(m);
        f.len[f.n] = zmq_msg_size(m);
        f.n++;
    }
    /* with keys on, the ZAP handler named the peer and the frames it sent carry the name
     * (a ROUTER's own routing-id frame does not: look at every frame) */
    for (size_t i = 0; i < f.n && !f.user_id; i++) f.user_id = zmq_msg_gets(&parts[i], "User-Id");
    self->on_msg(self->arg, self, &f);
    for (size_t i = 0; i < f.n; i++) zmq_msg_close(&parts[i]);
    return 1;
}

static void s_drain(wh_sock_t *self)
{
    for (int count = 0; !self->closing; count++) {
        int events = 0;
        size_t sz = sizeof events;
        if (zmq_getsockopt(self->zs, ZMQ_EVENTS, &events, &sz) != 0) return;
        if (!(events & ZMQ_POLLIN)) return;
        if (count >= WH_DRAIN_BOUND || self->yield) {
            self->yield = 0;
            wh_sock_kick(self); /* let the other sockets and the commit have a turn */
            return;
        }
        if (!s_recv(self)) return;
    }
}

wh_sock_t *wh_sock_new(uv_loop_t *loop, void *zctx, int type, long max_msg, wh_sock_fn on_msg,
                       void *arg)
{
    wh_sock_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->zs = zmq_socket(zctx, type);
    if (!self->zs) {
        wh_log_error("bus: zmq_socket: %s", zmq_strerror(zmq_errno()));
        free(self);
        return NULL;
    }
    int linger = 0;
    zmq_setsockopt(self->zs, ZMQ_LINGER, &linger, sizeof linger);
    if (max_msg > 0) {
        int64_t mm = max_msg;
        zmq_setsockopt(self->zs, ZMQ_MAXMSGSIZE, &mm, sizeof mm);
    }
    int fd;
    size_t sz = sizeof fd;
    zmq_getsockopt(self->zs, ZMQ_FD, &fd, &sz);
    self->on_msg = on_msg;
    self->arg = arg;
    uv_poll_init(loop, &self->poll, fd);
    uv_idle_init(loop, &self->idle);
    self->poll.data = self;
    self->idle.data = self;
    uv_poll_start(&self->poll, UV_READABLE, s_on_poll);
    return self;
}

int wh_sock_bind(wh_sock_t *self, const char *endpoint)
{
    if (zmq_bind(self->zs, endpoint) != 0) {
        wh_log_error("bus: cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        return WH_EBUS;
    }
    size_t sz = sizeof self->endpoint;
    zmq_getsockopt(self->zs, ZMQ_LAST_ENDPOINT, self->endpoint, &sz);
    return 0;
}

int wh_sock_connect(wh_sock_t *self, const char *endpoint)
{
    if (zmq_connect(self->zs, endpoint) != 0) {
        wh_log_error("bus: cannot connect to %s: %s", endpoint, zmq_strerror(zmq_errno()));
        return WH_EBUS;
    }
    snprintf(self->endpoint, sizeof self->endpoint, "%s", endpoint);
    return 0;
}

const char *wh_sock_endpoint(wh_sock_t *self) { return self->endpoint; }
void *wh_sock_zmq(wh_sock_t *self) { return self->zs; }

int wh_sock_sendv(wh_sock_t *self, size_t n, const void *const *data, const size_t *len)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0);
        if (zmq_send(self->zs, data[i], len[i], flags) < 0) {
            rc = WH_EBUS;
            break;
        }
    }
    /* sending may consume the fd's edge while messages wait: drain on the next turn */
    wh_sock_kick(self);
    return rc;
}

void wh_sock_yield(wh_sock_t *self)
{
    if (self) self->yield = 1;
}

int wh_sock_sendv_msg(wh_sock_t *self, size_t n, const void *const *data, const size_t *len,
                      zmq_msg_t *last)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (zmq_send(self->zs, data[i], len[i], ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0) {
            rc = WH_EBUS;
            break;
        }
    }
    if (rc == 0 && zmq_msg_send(last, self->zs, ZMQ_DONTWAIT) < 0) rc = WH_EBUS;
    zmq_msg_close(last); /* after a send it is empty; after a failure this frees it */
    wh_sock_kick(self);
    return rc;
}

static void s_on_close(uv_handle_t *h)
{
    wh_sock_t *self = h->data;
    if (--self->closing == 0) free(self);
}

void wh_sock_destroy(wh_sock_t **self_p)
{
    if (!self_p || !*self_p) return;
    wh_sock_t *self = *self_p;
    *self_p = NULL;
    uv_poll_stop(&self->poll);
    uv_idle_stop(&self->idle);
    zmq_close(self->zs);
    self->zs = NULL;
    self->closing = 2;
    uv_close((uv_handle_t *)&self->poll, s_on_close);
    uv_close((uv_handle_t *)&self->idle, s_on_close);
}
