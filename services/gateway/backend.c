/* backend.c: asynchronous DEALER requests to the services, matched by request_id, each with a
 * deadline; one libuv timer for the nearest deadline. */
#include "backend.h"
#include "whistle/bus.h"
#include "whistle/clock.h"
#include "whistle/codec.h"
#include "whistle/error.h"
#include "whistle/link.h"
#include "whistle/wlog.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define S_MAX_BACKENDS 8

/* How a call ended (gateway_backend_stats): these, then an Error reply's code by number. */
enum { S_OK = 0, S_TIMEOUT, S_UNSENT, S_CANCELLED, S_OTHER, S_CODE0 };
/* whistle's codes are -1001 ... (error.h): room for them all */
#define S_N_CODES 32
#define S_OUTCOMES (S_CODE0 + S_N_CODES)

struct gw_call {
    struct gw_call *prev, *next;
    uint64_t id; /* the request_id sent */
    int svc;
    int64_t deadline; /* wh_mono_ms */
    gw_backend_fn fn; /* NULL once forgotten */
    void *arg;
};

struct s_slot {
    gw_backend_t *self;
    int svc;
};

struct gw_backend {
    wh_sock_t *sock[S_MAX_BACKENDS];
    struct s_slot slot[S_MAX_BACKENDS];
    size_t n;
    uv_timer_t timer;            /* the nearest deadline */
    struct gw_call *head, *tail; /* in deadline order */
    size_t pending;
    uint64_t next_id;
    int timeout_ms;
    uint64_t outcome[S_MAX_BACKENDS][S_OUTCOMES]; /* calls by service and how they ended */
};

/* The outcome of a reply: S_OK, or its Error's code. */
static int s_outcome(const Whistle__V1__Reply *r)
{
    if (r->body_case != WHISTLE__V1__REPLY__BODY_ERROR) return S_OK;
    int k = -1000 - (int)r->error->code;
    return k >= 1 && k <= S_N_CODES ? S_CODE0 + k - 1 : S_OTHER;
}

static void s_unlink(gw_backend_t *self, struct gw_call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        self->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        self->tail = c->prev;
    self->pending--;
}

static void s_on_timer(uv_timer_t *h);

static void s_arm(gw_backend_t *self)
{
    if (!self->head) {
        uv_timer_stop(&self->timer);
        return;
    }
    int64_t wait = self->head->deadline - wh_mono_ms();
    uv_timer_start(&self->timer, s_on_timer, wait > 0 ? (uint64_t)wait : 0, 0);
}

static void s_on_timer(uv_timer_t *h)
{
    gw_backend_t *self = h->data;
    int64_t now = wh_mono_ms();
    while (self->head && self->head->deadline <= now) {
        struct gw_call *c = self->head;
        s_unlink(self, c);
        self->outcome[c->svc][S_TIMEOUT]++;
        if (c->fn) c->fn(c->arg, c->svc, NULL, WH_ETIMEDOUT);
        free(c);
    }
    s_arm(self);
}

static void s_on_reply(void *arg, wh_sock_t *sock, const struct wh_frames *m)
{
    (void)sock;
    struct s_slot *slot = arg;
    gw_backend_t *self = slot->self;
    if (m->n != 1) return;
    Whistle__V1__Reply *r = wh_reply_unpack(m->data[0], m->len[0]);
    if (!r) {
        wh_log_warn("dropped an undecodable reply from %d", slot->svc);
        return;
    }
    struct gw_call *c = self->head;
    while (c && c->id != r->request_id)
        c = c->next;
    if (c && c->svc == slot->svc) {
        s_unlink(self, c);
        self->outcome[c->svc][s_outcome(r)]++;
        if (c->fn) c->fn(c->arg, c->svc, r, 0);
        free(c);
        s_arm(self);
    }
    whistle__v1__reply__free_unpacked(r, NULL);
}

gw_backend_t *gateway_backend_new(uv_loop_t *loop, void *zctx, const char *const *api, size_t n,
                                  int timeout_ms, const struct wh_keypair *key,
                                  const char *server_public)
{
    if (n > S_MAX_BACKENDS) return NULL;
    gw_backend_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->timeout_ms = timeout_ms;
    self->next_id = ((uint64_t)time(NULL) << 20) ^ (uint64_t)wh_mono_ms();
    uv_timer_init(loop, &self->timer);
    self->timer.data = self;
    for (size_t i = 0; i < n; i++) {
        self->slot[i] = (struct s_slot){self, (int)i};
        self->sock[i] =
            wh_sock_new(loop, zctx, ZMQ_DEALER, 4 * WH_MAX_WIRE_BYTES, s_on_reply, &self->slot[i]);
        self->n = i + 1;
        if (!self->sock[i]) goto fail;
        void *zs = wh_sock_zmq(self->sock[i]);
        int one = 1;
        zmq_setsockopt(zs, ZMQ_IMMEDIATE, &one, sizeof one);
        /* each service's connection, and the lookups of its name, on an I/O thread of its own
         * (gateway.c makes one per service): a name that hangs stalls only its own calls */
        if (gateway_io_affinity(zctx, zs, (int)i)) goto fail;
        if (wh_link_watch(zs, 0)) goto fail;
        if (key && server_public && wh_curve_client(zs, key, server_public)) goto fail;
        if (wh_sock_connect(self->sock[i], api[i])) goto fail;
    }
    return self;
fail:
    gateway_backend_destroy(&self);
    return NULL;
}

int gateway_io_affinity(void *zctx, void *zsock, int svc)
{
    int threads = zmq_ctx_get(zctx, ZMQ_IO_THREADS);
    uint64_t mask = (uint64_t)1 << (threads > 1 ? svc % threads : 0);
    if (zmq_setsockopt(zsock, ZMQ_AFFINITY, &mask, sizeof mask) != 0) {
        wh_log_error("ZMQ_AFFINITY: %s", zmq_strerror(zmq_errno()));
        return WH_EBUS;
    }
    return 0;
}

static void s_on_close(uv_handle_t *h)
{
    free(h->data);
}

void gateway_backend_destroy(gw_backend_t **self_p)
{
    if (!self_p || !*self_p) return;
    gw_backend_t *self = *self_p;
    *self_p = NULL;
    while (self->head) {
        struct gw_call *c = self->head;
        s_unlink(self, c);
        free(c);
    }
    for (size_t i = 0; i < self->n; i++)
        wh_sock_destroy(&self->sock[i]);
    uv_timer_stop(&self->timer);
    uv_close((uv_handle_t *)&self->timer, s_on_close);
}

int gateway_backend_call(gw_backend_t *self, int svc, Whistle__V1__Request *req, gw_backend_fn fn,
                         void *arg)
{
    if (svc < 0 || (size_t)svc >= self->n) return WH_EUSAGE;
    struct gw_call *c = calloc(1, sizeof *c);
    if (!c) return WH_ENOMEM;
    req->request_id = c->id = ++self->next_id;
    size_t len;
    uint8_t *buf = wh_pack(&req->base, &len);
    if (!buf) {
        free(c);
        return WH_ENOMEM;
    }
    const void *d[1] = {buf};
    int rc = wh_sock_sendv(self->sock[svc], 1, d, &len);
    free(buf);
    if (rc) {
        free(c);
        self->outcome[svc][S_UNSENT]++;
        return WH_EBUS;
    }
    c->svc = svc;
    c->fn = fn;
    c->arg = arg;
    c->deadline = wh_mono_ms() + self->timeout_ms;
    c->prev = self->tail;
    if (self->tail)
        self->tail->next = c;
    else
        self->head = c;
    self->tail = c;
    self->pending++;
    if (self->head == c) s_arm(self);
    return 0;
}

void gateway_backend_forget(gw_backend_t *self, void *arg)
{
    for (struct gw_call *c = self->head; c; c = c->next)
        if (c->arg == arg) c->fn = NULL;
}

void gateway_backend_fail_all(gw_backend_t *self, int err)
{
    while (self->head) {
        struct gw_call *c = self->head;
        s_unlink(self, c);
        self->outcome[c->svc][S_CANCELLED]++;
        if (c->fn) c->fn(c->arg, c->svc, NULL, err);
        free(c);
    }
    uv_timer_stop(&self->timer);
}

size_t gateway_backend_pending(const gw_backend_t *self)
{
    return self->pending;
}

void gateway_backend_stats(const gw_backend_t *self, wh_metrics_t *m, const char *const *names)
{
    static const char *const fixed[S_CODE0] = {"ok", "timeout", "unsent", "cancelled", "other"};
    for (size_t svc = 0; svc < self->n; svc++)
        for (int k = 0; k < S_OUTCOMES; k++) {
            /* ok, timeout and unsent always, so a rate() sees them from the first scrape */
            if (!self->outcome[svc][k] && k > S_UNSENT) continue;
            wh_metrics_add(m, WH_METRIC_COUNTER, "whistle_gateway_backend_requests_total",
                           "Requests the gateway sent to a service, by how they ended (ok, "
                           "the error code of the reply, timeout, unsent, cancelled).",
                           (double)self->outcome[svc][k], "backend", names[svc], "outcome",
                           k < S_CODE0 ? fixed[k] : wh_errname(-1000 - (k - S_CODE0 + 1)), NULL);
        }
}
