/* stream.c: Server-Sent Event streams of notification's topics: replay, then live, in order,
 * exactly once per connection; heartbeats as SSE comments. */
#include "stream.h"
#include "whistle/bus.h"
#include "whistle/codec.h"
#include "whistle/error.h"
#include "whistle/eventlog.h"
#include "whistle/json.h"
#include "whistle/link.h"
#include "whistle/wlog.h"
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_REPLAY_MAX 512

struct gw_stream {
    struct gw_stream *prev, *next; /* every stream */
    gw_streams_t *owner;
    struct gw_http *http;
    struct MHD_Connection *conn;
    char topic[WH_STREAM_MAX + 1];
    struct wh_identity who; /* replays are made on its behalf */
    uint64_t want;          /* the next seq to send */
    int replaying;          /* a Replay in flight */
    int again;              /* replay once the one in flight is answered */
    int suspended;          /* suspended from the content reader */
    int ended;              /* finish once the buffer is sent */
    char *buf;              /* unsent bytes: buf[off..len) */
    size_t len, off, cap;
};

struct s_sub {
    struct s_sub *next;
    char topic[WH_STREAM_MAX + 1];
    int count; /* streams of this topic */
};

/* One gateway_streams_wait. */
struct s_waiter {
    struct s_waiter *next;
    char topic[WH_STREAM_MAX + 1];
    gw_wait_fn fn;
    void *arg;
};

struct gw_streams {
    wh_sock_t *sub; /* notification's XPUB */
    struct s_waiter *waiters;
    uv_timer_t heartbeat;
    gw_backend_t *backend;
    struct gw_stream *all;
    size_t n_all; /* streams open (in `all`) */
    struct s_sub *subs;
    int heartbeat_ms;
};

static void s_wake(struct gw_stream *s)
{
    if (!s->suspended) return;
    s->suspended = 0;
    MHD_resume_connection(s->conn);
    gateway__http_soon(s->http);
}

/* Appends bytes; a client that holds GW_SSE_BUFFER unread bytes is cut off. */
static void s_put(struct gw_stream *s, const char *data, size_t n)
{
    if (s->ended) return;
    if (s->len - s->off + n > GW_SSE_BUFFER) {
        wh_log_debug("SSE %s: the client does not read; stream ended", s->topic);
        s->ended = 1;
        s_wake(s);
        return;
    }
    if (s->off && s->off == s->len) s->off = s->len = 0;
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n)
            cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b) {
            s->ended = 1;
            s_wake(s);
            return;
        }
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s_wake(s);
}

static void s_emit(struct gw_stream *s, const Whistle__V1__Envelope *env)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(env->base.descriptor, env->payload_case);
    json_t *j = wh_message_to_json(&env->base);
    char *data = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!data) return;
    char head[160];
    int n = snprintf(head, sizeof head, "id: %llu\nevent: %s\ndata: ", (unsigned long long)env->seq,
                     f ? f->name : "entry");
    s_put(s, head, (size_t)n);
    s_put(s, data, strlen(data));
    s_put(s, "\n\n", 2);
    free(data);
    s->want = env->seq + 1;
}

/* An error in the stream (the position is gone, the caller may no longer read): said as an
 * `error` event, then the stream ends. */
static void s_fail(struct gw_stream *s, const Whistle__V1__Error *e)
{
    char line[600];
    snprintf(line, sizeof line, "event: error\ndata: {\"code\":\"%s\",\"oldest\":%llu}\n\n",
             wh_errname(e->code), (unsigned long long)e->oldest);
    s_put(s, line, strlen(line));
    s->ended = 1;
    s_wake(s);
}

static void s_replay(struct gw_stream *s);

static void s_on_replay(void *arg, int svc, const Whistle__V1__Reply *reply, int err)
{
    (void)svc;
    (void)err;
    struct gw_stream *s = arg;
    s->replaying = 0;
    if (!reply) {
        s->again = 1; /* no answer in time: the next heartbeat asks again */
        return;
    }
    if (reply->body_case == WHISTLE__V1__REPLY__BODY_ERROR) {
        s_fail(s, reply->error);
        return;
    }
    if (reply->body_case != WHISTLE__V1__REPLY__BODY_REPLAY) return;
    const Whistle__V1__ReplayReply *rr = reply->replay;
    for (size_t i = 0; i < rr->n_entries; i++)
        if (rr->entries[i]->seq == s->want) s_emit(s, rr->entries[i]);
    if (rr->head >= s->want || s->again) {
        s->again = 0;
        s_replay(s); /* more to fetch, or a live entry came while this one was in flight */
    }
}

static void s_replay(struct gw_stream *s)
{
    if (s->replaying || s->ended) {
        s->again = 1;
        return;
    }
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__Replay rp = WHISTLE__V1__REPLAY__INIT;
    char as[64] = "";
    if (s->who.kind != WH_KIND_NONE && !wh_identity_trusted(&s->who))
        snprintf(as, sizeof as, "%s:%s", wh_kind_name(s->who.kind), s->who.code);
    req.on_behalf = as;
    rp.topic = s->topic;
    rp.from_seq = s->want;
    rp.max = S_REPLAY_MAX;
    req.body_case = WHISTLE__V1__REQUEST__BODY_REPLAY;
    req.replay = &rp;
    if (gateway_backend_call(s->owner->backend, GW_NOTIFICATION, &req, s_on_replay, s) == 0)
        s->replaying = 1;
    else
        s->again = 1; /* notification not connected: the next heartbeat asks again */
}

static void s_subscribe(gw_streams_t *self, const char *topic, int delta);

/* The waits of this topic, for an entry of it: taken off the list, then called (a callback
 * may add or remove waits). */
static void s_wake_waiters(gw_streams_t *self, const struct wh_frames *m)
{
    struct s_waiter *due = NULL, **pp = &self->waiters;
    while (*pp) {
        struct s_waiter *w = *pp;
        if (strlen(w->topic) == m->len[0] && memcmp(w->topic, m->data[0], m->len[0]) == 0) {
            *pp = w->next;
            w->next = due;
            due = w;
        } else {
            pp = &w->next;
        }
    }
    while (due) {
        struct s_waiter *w = due;
        due = w->next;
        s_subscribe(self, w->topic, -1);
        w->fn(w->arg);
        free(w);
    }
}

static void s_on_live(void *arg, wh_sock_t *sock, const struct wh_frames *m)
{
    (void)sock;
    gw_streams_t *self = arg;
    if (m->n != 2) return;
    Whistle__V1__Envelope *env = wh_envelope_unpack(m->data[1], m->len[1]);
    if (!env) return;
    if (self->waiters && env->payload_case != WHISTLE__V1__ENVELOPE__PAYLOAD_HEARTBEAT)
        s_wake_waiters(self, m);
    for (struct gw_stream *s = self->all; s; s = s->next) {
        if (s->ended || strlen(s->topic) != m->len[0] || memcmp(s->topic, m->data[0], m->len[0]))
            continue;
        if (env->payload_case == WHISTLE__V1__ENVELOPE__PAYLOAD_HEARTBEAT) {
            if (env->heartbeat->head >= s->want) s_replay(s);
        } else if (s->replaying) {
            if (env->seq >= s->want) s->again = 1; /* the replay in flight may end before it */
        } else if (env->seq == s->want) {
            s_emit(s, env);
        } else if (env->seq > s->want) {
            s_replay(s); /* a gap: what is missing comes by replay */
        }
    }
    whistle__v1__envelope__free_unpacked(env, NULL);
}

static void s_on_heartbeat(uv_timer_t *h)
{
    gw_streams_t *self = h->data;
    static const char beat[] = ": heartbeat\n\n";
    for (struct gw_stream *s = self->all; s; s = s->next) {
        if (s->again && !s->replaying) {
            s->again = 0;
            s_replay(s);
        }
        s_put(s, beat, sizeof beat - 1);
    }
}

static void s_subscribe(gw_streams_t *self, const char *topic, int delta)
{
    struct s_sub **pp = &self->subs, *p;
    for (p = *pp; p && strcmp(p->topic, topic) != 0; pp = &p->next, p = *pp) {
    }
    if (!p && delta > 0) {
        if (!(p = calloc(1, sizeof *p))) return;
        snprintf(p->topic, sizeof p->topic, "%s", topic);
        p->next = self->subs;
        self->subs = p;
    }
    if (!p) return;
    p->count += delta;
    void *zs = wh_sock_zmq(self->sub);
    if (delta > 0 && p->count == 1) zmq_setsockopt(zs, ZMQ_SUBSCRIBE, topic, strlen(topic));
    if (p->count <= 0) {
        zmq_setsockopt(zs, ZMQ_UNSUBSCRIBE, topic, strlen(topic));
        for (pp = &self->subs; *pp != p; pp = &(*pp)->next) {
        }
        *pp = p->next;
        free(p);
    }
}

static ssize_t s_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct gw_stream *s = cls;
    if (s->len > s->off) {
        size_t n = s->len - s->off < max ? s->len - s->off : max;
        memcpy(buf, s->buf + s->off, n);
        s->off += n;
        return (ssize_t)n;
    }
    if (s->ended) return MHD_CONTENT_READER_END_OF_STREAM;
    /* nothing to send: wait, without MHD polling the reader again */
    s->suspended = 1;
    MHD_suspend_connection(s->conn);
    return 0;
}

static void s_free(void *cls)
{
    struct gw_stream *s = cls;
    gw_streams_t *self = s->owner;
    if (s->prev)
        s->prev->next = s->next;
    else
        self->all = s->next;
    if (s->next) s->next->prev = s->prev;
    self->n_all--;
    gateway_backend_forget(self->backend, s);
    s_subscribe(self, s->topic, -1);
    free(s->buf);
    free(s);
}

int gateway_streams_open(gw_streams_t *self, struct gw_req *r, const char *topic, uint64_t next,
                         int live_only, const Whistle__V1__ReplayReply *first)
{
    struct gw_stream *s = calloc(1, sizeof *s);
    if (!s) return WH_ENOMEM;
    s->owner = self;
    s->http = r->http;
    s->conn = r->conn;
    s->who = r->who;
    snprintf(s->topic, sizeof s->topic, "%s", topic);
    s->want = live_only ? first->head + 1 : next;
    s->next = self->all;
    if (s->next) s->next->prev = s;
    self->all = s;
    self->n_all++;
    s_subscribe(self, topic, +1);
    /* a comment first, so the client sees the stream open before any entry */
    s_put(s, ": whistle\n\n", 11);
    if (!live_only) {
        for (size_t i = 0; i < first->n_entries; i++)
            if (first->entries[i]->seq == s->want) s_emit(s, first->entries[i]);
        if (first->head >= s->want) s_replay(s);
    }
    if (gateway__answer_stream(r, s_read, s_free, s)) {
        s_free(s);
        return WH_ENOMEM;
    }
    return 0;
}

gw_streams_t *gateway_streams_new(uv_loop_t *loop, void *zctx, const char *events,
                                  const struct wh_keypair *key, const char *server_public,
                                  gw_backend_t *backend, int heartbeat_ms)
{
    gw_streams_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->backend = backend;
    self->heartbeat_ms = heartbeat_ms;
    self->sub = wh_sock_new(loop, zctx, ZMQ_SUB, WH_MAX_WIRE_BYTES, s_on_live, self);
    if (!self->sub) goto fail;
    void *zs = wh_sock_zmq(self->sub);
    int hwm = 10000;
    zmq_setsockopt(zs, ZMQ_RCVHWM, &hwm, sizeof hwm);
    /* on notification's I/O thread, like the calls to it (backend.c) */
    if (gateway_io_affinity(zctx, zs, GW_NOTIFICATION) || wh_link_watch(zs, 0) ||
        (key && server_public && wh_curve_client(zs, key, server_public)) ||
        wh_sock_connect(self->sub, events))
        goto fail;
    uv_timer_init(loop, &self->heartbeat);
    self->heartbeat.data = self;
    uv_timer_start(&self->heartbeat, s_on_heartbeat, (uint64_t)heartbeat_ms,
                   (uint64_t)heartbeat_ms);
    return self;
fail:
    wh_sock_destroy(&self->sub);
    free(self);
    return NULL;
}

int gateway_streams_wait(gw_streams_t *self, const char *topic, gw_wait_fn fn, void *arg)
{
    struct s_waiter *w = calloc(1, sizeof *w);
    if (!w) return WH_ENOMEM;
    snprintf(w->topic, sizeof w->topic, "%s", topic);
    w->fn = fn;
    w->arg = arg;
    w->next = self->waiters;
    self->waiters = w;
    s_subscribe(self, w->topic, +1);
    return 0;
}

void gateway_streams_unwait(gw_streams_t *self, void *arg)
{
    struct s_waiter **pp = &self->waiters;
    while (*pp) {
        struct s_waiter *w = *pp;
        if (w->arg == arg) {
            *pp = w->next;
            s_subscribe(self, w->topic, -1);
            free(w);
        } else {
            pp = &w->next;
        }
    }
}

size_t gateway_streams_count(const gw_streams_t *self)
{
    return self->n_all;
}

void gateway_streams_end_all(gw_streams_t *self)
{
    for (struct gw_stream *s = self->all; s; s = s->next) {
        s->ended = 1;
        s_wake(s);
    }
}

static void s_on_close(uv_handle_t *h)
{
    free(h->data);
}

void gateway_streams_destroy(gw_streams_t **self_p)
{
    if (!self_p || !*self_p) return;
    gw_streams_t *self = *self_p;
    *self_p = NULL;
    while (self->all)
        s_free(self->all); /* MHD has let go of them, or never will */
    while (self->waiters) {
        struct s_waiter *w = self->waiters;
        self->waiters = w->next;
        free(w);
    }
    wh_sock_destroy(&self->sub);
    uv_timer_stop(&self->heartbeat);
    uv_close((uv_handle_t *)&self->heartbeat, s_on_close);
}
