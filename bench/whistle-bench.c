/* whistle-bench: end-to-end throughput and latency of the running pipeline (intake -> routing
 * -> tracking -> notification), and the bare baseline the machine allows under the same load:
 * four chained hops of ZeroMQ receive -> durable LMDB group commit -> send, no application
 * logic. A benchmark, not a test: bench/run.sh starts the services and drives this binary.
 *
 * Load: K client threads, each its own DEALER, pipelining requests with a window. Paced mode
 * (--rate R) is open loop: request g is due at t0 + g/R and its latency counts from that
 * scheduled time, so a stalled server is charged for the requests it held back (no
 * coordinated omission). Saturating mode (--rate 0) sends whenever the window allows.
 *
 * Pipeline: a case's ack latency is the SubmitReport reply; its end-to-end latency ends when
 * its DISPATCH is first seen on one of its dept/<code>/ topics (notification's XPUB). At the
 * end every accepted case is checked against notification's durable topics (Replay): exactly
 * once live on each of its departments' topics, or recovered by replay when the live stream
 * dropped it, or missing (a lost case).
 *
 * Baseline (--baseline): hop 1 is a ROUTER (replies after its commit, like intake), hops 2-4
 * PULL; each drains up to 512 messages (WH_DRAIN_BOUND, whistle's bound), puts them in its own
 * LMDB environment in one write transaction, commits durably, then sends them on over tcp
 * loopback. Hop 4 sends to the driver, which measures exactly as for the pipeline. */
#include "whistle/bus.h"
#include "whistle/catalog.h"
#include "whistle/client.h"
#include "whistle/codec.h"
#include "whistle/error.h"
#include "whistle/options.h"
#include "whistle/store.h"
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <lmdb.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define BENCH_MAX_CLIENTS 64
#define BENCH_MAX_WINDOW 4096
#define BENCH_HOPS 4
#define BENCH_COMMIT_BOUND WH_DRAIN_BOUND /* messages per group commit, as whistle's */
#define BENCH_MAX_DEPTS 64                /* dept topics tracked in a 64-bit mask */

struct bench_opts {
    double rate;              /* requests per second; 0 = saturating */
    uint64_t count;           /* requests; 0 = rate * duration */
    double duration_s;        /* paced mode: how long to offer load */
    int clients;              /* client threads, one DEALER each */
    int window;               /* outstanding requests per client */
    int baseline;             /* run the baseline instead of the pipeline */
    const char *intake_api;   /* pipeline entry */
    const char *notif_api;    /* replay of dept topics */
    const char *notif_events; /* live dept topics */
    const char *catalog;      /* grids, matters and departments to use */
    const char *data_dir;     /* baseline: where the four LMDB environments go */
    const char *label;        /* mode name printed in the RESULT line */
    int settle_ms;            /* wait this long without a new dispatch before giving up */
    int reply_timeout_ms;     /* a client gives up after this long without a reply */
    uint64_t skip_live;       /* self-check: ignore every k-th live dispatch (0 = none) */
    const char *http_url;     /* the gateway: reports as Open311 POST requests.json */
    const char *api_key;      /* ... with this api_key */
    const char *alertmanager; /* Alertmanager: reports as alerts, dispatches as webhooks */
    int receiver_port;        /* ... delivered to this port, /<dept> */
};

/* One run: the load, and what was seen of each request and each case. Case index = case
 * number - base (1..n). Per-case arrays are written by one thread each and read after join. */
struct run {
    const struct bench_opts *o;
    struct wh_catalog *cat;
    void *zctx;          /* the driver's context (clients, receiver) */
    char submit_ep[256]; /* where the clients connect */
    char recv_ep[256];   /* baseline: the driver's PULL */
    uint64_t n;          /* requests in this run */
    uint64_t base;       /* case number before the run */
    size_t cap;          /* per-case arrays hold indexes 0..cap-1 */
    size_t payload_len;  /* bytes of a packed SubmitReport request */
    char run_id[32];     /* makes idempotency keys unique across runs */
    int64_t t0;          /* monotonic ns of request 0's schedule */
    int64_t *t_req;      /* per request: scheduled (paced) or actual send time */
    int64_t *t_sub;      /* per case: submit time of its request */
    int64_t *t_ack;      /* per case: reply received */
    int64_t *t_live;     /* per case: first dispatch seen live */
    uint64_t *want_mask; /* per case: dept topics it must reach */
    uint64_t *live_mask; /* per case: dept topics it was seen on live */
    uint64_t *log_mask;  /* per case: dept topics holding it durably (replay) */
    atomic_uint_fast64_t accepted, refused, duplicates, unanswered, out_of_range;
    atomic_uint_fast64_t live_first, live_total, live_dups, live_foreign;
    atomic_int_fast64_t last_live_ns;
    atomic_int clients_done;
    atomic_int stop_recv;
    atomic_int recv_ready;
    char first_error[256]; /* first refusal, for the report */
    pthread_mutex_t lock;  /* guards first_error */
};

static int64_t s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void s_sleep_ns(int64_t ns)
{
    if (ns <= 0) return;
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void s_put_u64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}
static uint64_t s_get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* ---- requests ---------------------------------------------------------------------------- */

/* Packs the SubmitReport of request g into buf. Grids and matters rotate over the catalog. */
static size_t s_pack_submit(const struct run *r, uint64_t g, uint8_t *buf, size_t cap)
{
    const struct wh_grid *grid = &r->cat->grids[g % r->cat->n_grids];
    const struct wh_matter *matter = &r->cat->matters[g % r->cat->n_matters];
    char key[64], desc[200], reporter[32];
    snprintf(key, sizeof key, "bench-%s-%" PRIu64, r->run_id, g);
    snprintf(desc, sizeof desc,
             "bench report %08" PRIu64 ": %s, by the north gate of the market, "
             "third stall from the east",
             g, matter->name);
    snprintf(reporter, sizeof reporter, "resident-%04u", (unsigned)(g % 10000));
    Whistle__V1__Report rep = WHISTLE__V1__REPORT__INIT;
    rep.grid = (char *)grid->code;
    rep.matter = (char *)matter->code;
    rep.description = desc;
    rep.reporter = reporter;
    rep.location = "block 3, unit 2";
    rep.source = "bench";
    Whistle__V1__SubmitReport sr = WHISTLE__V1__SUBMIT_REPORT__INIT;
    sr.idempotency_key = key;
    sr.report = &rep;
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    req.request_id = g + 1;
    req.body_case = WHISTLE__V1__REQUEST__BODY_SUBMIT_REPORT;
    req.submit_report = &sr;
    size_t len = protobuf_c_message_get_packed_size(&req.base);
    if (len > cap) return 0;
    return protobuf_c_message_pack(&req.base, buf);
}

/* The dept topics a matter's case reaches, as a mask over the catalog's departments. */
static uint64_t s_matter_mask(const struct wh_catalog *cat, const struct wh_matter *m)
{
    uint64_t mask = 0;
    for (size_t i = 0; i < m->n_departments; i++)
        for (size_t d = 0; d < cat->n_departments && d < BENCH_MAX_DEPTS; d++)
            if (&cat->departments[d] == m->departments[i]) mask |= 1ull << d;
    return mask;
}

/* "dept/cg/" -> the department's bit, 0 when unknown. */
static uint64_t s_topic_bit(const struct wh_catalog *cat, const char *topic, size_t len)
{
    if (len < 7 || memcmp(topic, "dept/", 5) != 0 || topic[len - 1] != '/') return 0;
    const char *code = topic + 5;
    size_t clen = len - 6;
    for (size_t d = 0; d < cat->n_departments && d < BENCH_MAX_DEPTS; d++)
        if (strlen(cat->departments[d].code) == clen &&
            memcmp(cat->departments[d].code, code, clen) == 0)
            return 1ull << d;
    return 0;
}

static void s_note_error(struct run *r, const char *fmt, const char *a, const char *b)
{
    pthread_mutex_lock(&r->lock);
    if (!r->first_error[0]) snprintf(r->first_error, sizeof r->first_error, fmt, a, b);
    pthread_mutex_unlock(&r->lock);
}

/* A reply to request g gave case number `case_no`. */
static void s_record_ack(struct run *r, uint64_t g, uint64_t case_no, int64_t now)
{
    if (case_no <= r->base || case_no - r->base >= r->cap) {
        atomic_fetch_add(&r->out_of_range, 1);
        return;
    }
    size_t idx = case_no - r->base;
    r->t_sub[idx] = r->t_req[g];
    r->t_ack[idx] = now;
    r->want_mask[idx] =
        r->o->baseline ? 1 : s_matter_mask(r->cat, &r->cat->matters[g % r->cat->n_matters]);
    atomic_fetch_add(&r->accepted, 1);
}

/* Handles one reply frame. Returns the request index it answers, or UINT64_MAX. */
static uint64_t s_on_reply(struct run *r, const void *data, size_t len, int64_t now)
{
    if (r->o->baseline) {
        if (len != 16) return UINT64_MAX;
        uint64_t g = s_get_u64(data), seq = s_get_u64((const uint8_t *)data + 8);
        if (g >= r->n) return UINT64_MAX;
        s_record_ack(r, g, seq, now);
        return g;
    }
    Whistle__V1__Reply *rp = wh_reply_unpack(data, len);
    if (!rp) return UINT64_MAX;
    uint64_t g = rp->request_id - 1;
    if (rp->request_id == 0 || g >= r->n) {
        g = UINT64_MAX;
    } else if (rp->body_case == WHISTLE__V1__REPLY__BODY_ERROR) {
        atomic_fetch_add(&r->refused, 1);
        s_note_error(r, "refused: %s: %s", rp->error->field, rp->error->message);
    } else if (rp->body_case == WHISTLE__V1__REPLY__BODY_SUBMIT_REPORT) {
        const char *id = rp->submit_report->case_id;
        if (rp->submit_report->duplicate)
            atomic_fetch_add(&r->duplicates, 1);
        else if (id && id[0] == 'C')
            s_record_ack(r, g, strtoull(id + 1, NULL, 10), now);
        else
            s_note_error(r, "odd case id '%s'%s", id ? id : "", "");
    }
    whistle__v1__reply__free_unpacked(rp, NULL);
    return g;
}

/* ---- clients ----------------------------------------------------------------------------- */

struct client {
    struct run *r;
    int id;
    uint64_t todo, sent, answered;
};

static void *s_client_main(void *arg)
{
    struct client *c = arg;
    struct run *r = c->r;
    const struct bench_opts *o = r->o;
    void *zs = zmq_socket(r->zctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(zs, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(zs, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(zs, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_connect(zs, r->submit_ep);
    uint8_t buf[2048];
    int64_t last_progress = s_now_ns();
    s_sleep_ns(r->t0 - s_now_ns());
    while (c->answered < c->todo) {
        /* send what is due, as far as the window allows */
        while (c->sent < c->todo && c->sent - c->answered < (uint64_t)o->window) {
            uint64_t g = c->sent * (uint64_t)o->clients + (uint64_t)c->id;
            int64_t now = s_now_ns();
            int64_t due = o->rate > 0 ? r->t0 + (int64_t)((double)g * 1e9 / o->rate) : now;
            if (due > now) break;
            size_t len;
            if (o->baseline) {
                len = r->payload_len;
                memset(buf, 'x', len);
                s_put_u64(buf, g);
            } else {
                len = s_pack_submit(r, g, buf, sizeof buf);
            }
            r->t_req[g] = due;
            if (zmq_send(zs, buf, len, 0) < 0) {
                s_note_error(r, "client send: %s%s", zmq_strerror(zmq_errno()), "");
                goto out;
            }
            c->sent++;
        }
        /* wait for a reply, or until the next request is due */
        long timeout_ms = 200;
        if (o->rate > 0 && c->sent < c->todo && c->sent - c->answered < (uint64_t)o->window) {
            uint64_t g = c->sent * (uint64_t)o->clients + (uint64_t)c->id;
            int64_t wait = r->t0 + (int64_t)((double)g * 1e9 / o->rate) - s_now_ns();
            if (wait < 1000000) {
                /* zmq_poll counts whole milliseconds: sleep the rest, then check replies */
                s_sleep_ns(wait);
                timeout_ms = 0;
            } else {
                timeout_ms = (long)(wait / 1000000);
            }
        }
        zmq_pollitem_t item = {zs, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, timeout_ms) < 0 && zmq_errno() != EINTR) break;
        for (;;) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, zs, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            int64_t now = s_now_ns();
            if (s_on_reply(r, zmq_msg_data(&m), zmq_msg_size(&m), now) != UINT64_MAX) {
                c->answered++;
                last_progress = now;
            }
            zmq_msg_close(&m);
        }
        if (c->sent > c->answered &&
            s_now_ns() - last_progress > (int64_t)o->reply_timeout_ms * 1000000) {
            s_note_error(r, "client gave up: no reply for %s ms%s", "--reply-timeout", "");
            break;
        }
    }
out:
    atomic_fetch_add(&r->unanswered, c->todo - c->answered);
    zmq_close(zs);
    atomic_fetch_add(&r->clients_done, 1);
    return NULL;
}

/* ---- HTTP clients: Open311 through the gateway, or alerts to Alertmanager ----------------- */

#define BENCH_HTTP_BODY 2048
#define BENCH_HTTP_RESP 1024

struct hreq {
    CURL *e;
    uint64_t g;
    char body[BENCH_HTTP_BODY];
    char resp[BENCH_HTTP_RESP];
    size_t rlen;
    struct curl_slist *hdr;
};

static size_t s_http_write(char *p, size_t sz, size_t n, void *u)
{
    struct hreq *h = u;
    size_t k = sz * n, room = sizeof h->resp - 1 - h->rlen;
    memcpy(h->resp + h->rlen, p, k < room ? k : room);
    h->rlen += k < room ? k : room;
    h->resp[h->rlen] = 0;
    return k;
}

/* Appends "&name=value" (value escaped) to body; 0 or -1 when it does not fit. */
static int s_form(CURL *e, char *body, size_t cap, const char *name, const char *value)
{
    char *esc = curl_easy_escape(e, value, 0);
    size_t n = strlen(body);
    int w = snprintf(body + n, cap - n, "%s%s=%s", n ? "&" : "", name, esc ? esc : "");
    curl_free(esc);
    return w < 0 || (size_t)w >= cap - n ? -1 : 0;
}

/* Builds request g on h: an Open311 POST requests.json, or one alert for Alertmanager. */
static int s_http_build(struct run *r, struct hreq *h, uint64_t g)
{
    const struct bench_opts *o = r->o;
    const struct wh_grid *grid = &r->cat->grids[g % r->cat->n_grids];
    const struct wh_matter *matter = &r->cat->matters[g % r->cat->n_matters];
    char url[512], desc[200], reporter[32], key[96];
    snprintf(desc, sizeof desc,
             "bench report %08" PRIu64 ": %s, by the north gate of the market, "
             "third stall from the east",
             g, matter->name);
    snprintf(reporter, sizeof reporter, "resident-%04u", (unsigned)(g % 10000));
    h->g = g;
    h->rlen = 0;
    h->resp[0] = 0;
    h->body[0] = 0;
    curl_slist_free_all(h->hdr);
    h->hdr = NULL;
    if (o->alertmanager) {
        /* one alert per case, a label per department it must reach: routed with continue */
        size_t n = (size_t)snprintf(h->body, sizeof h->body,
                                    "[{\"labels\":{\"alertname\":\"whistle\",\"case\":\"%" PRIu64
                                    "\",\"grid\":\"%s\",\"matter\":\"%s\"",
                                    g + 1, grid->code, matter->code);
        for (size_t i = 0; i < matter->n_departments && n < sizeof h->body; i++)
            n += (size_t)snprintf(h->body + n, sizeof h->body - n, ",\"dept_%s\":\"1\"",
                                  matter->departments[i]->code);
        if (n < sizeof h->body)
            n += (size_t)snprintf(h->body + n, sizeof h->body - n,
                                  "},\"annotations\":{\"description\":\"%s\",\"reporter\":\"%s\"}}]",
                                  desc, reporter);
        if (n >= sizeof h->body) return -1;
        snprintf(url, sizeof url, "%s/api/v2/alerts", o->alertmanager);
        h->hdr = curl_slist_append(h->hdr, "Content-Type: application/json");
    } else {
        if (s_form(h->e, h->body, sizeof h->body, "api_key", o->api_key) ||
            s_form(h->e, h->body, sizeof h->body, "service_code", matter->code) ||
            s_form(h->e, h->body, sizeof h->body, "attribute[grid]", grid->code) ||
            s_form(h->e, h->body, sizeof h->body, "description", desc) ||
            s_form(h->e, h->body, sizeof h->body, "address_string", "block 3, unit 2") ||
            s_form(h->e, h->body, sizeof h->body, "device_id", reporter))
            return -1;
        snprintf(url, sizeof url, "%s/requests.json", o->http_url);
        snprintf(key, sizeof key, "Idempotency-Key: bench-%s-%" PRIu64, r->run_id, g);
        h->hdr = curl_slist_append(h->hdr, key);
    }
    h->hdr = curl_slist_append(h->hdr, "Expect:"); /* no 100-continue round trip */
    curl_easy_setopt(h->e, CURLOPT_URL, url);
    curl_easy_setopt(h->e, CURLOPT_POSTFIELDS, h->body);
    curl_easy_setopt(h->e, CURLOPT_HTTPHEADER, h->hdr);
    return 0;
}

/* One answer: an Open311 [{"service_request_id":"C00000042"}], or Alertmanager's 200. */
static void s_http_done(struct run *r, struct hreq *h, CURLcode res, int64_t now)
{
    long status = 0;
    curl_easy_getinfo(h->e, CURLINFO_RESPONSE_CODE, &status);
    if (res != CURLE_OK || status != 200) {
        atomic_fetch_add(&r->refused, 1);
        char what[64];
        snprintf(what, sizeof what, "%s, HTTP %ld", curl_easy_strerror(res), status);
        s_note_error(r, "refused: %s: %.150s", what, h->resp);
        return;
    }
    if (r->o->alertmanager) {
        s_record_ack(r, h->g, h->g + 1, now);
        return;
    }
    json_error_t je;
    json_t *j = json_loads(h->resp, 0, &je);
    const char *id = json_string_value(json_object_get(json_array_get(j, 0), "service_request_id"));
    if (id && id[0] == 'C') s_record_ack(r, h->g, strtoull(id + 1, NULL, 10), now);
    else s_note_error(r, "odd answer '%.150s'%s", h->resp, "");
    json_decref(j);
}

static void *s_http_client_main(void *arg)
{
    struct client *c = arg;
    struct run *r = c->r;
    const struct bench_opts *o = r->o;
    CURLM *m = curl_multi_init();
    struct hreq *slots = calloc((size_t)o->window, sizeof *slots);
    struct hreq **idle = calloc((size_t)o->window, sizeof *idle);
    int n_idle = 0;
    if (!m || !slots || !idle) goto out;
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)o->window);
    for (int i = 0; i < o->window; i++) {
        slots[i].e = curl_easy_init();
        curl_easy_setopt(slots[i].e, CURLOPT_WRITEFUNCTION, s_http_write);
        curl_easy_setopt(slots[i].e, CURLOPT_WRITEDATA, &slots[i]);
        curl_easy_setopt(slots[i].e, CURLOPT_PRIVATE, &slots[i]);
        curl_easy_setopt(slots[i].e, CURLOPT_TIMEOUT_MS, (long)o->reply_timeout_ms);
        curl_easy_setopt(slots[i].e, CURLOPT_NOSIGNAL, 1L);
        idle[n_idle++] = &slots[i];
    }
    int64_t last_progress = s_now_ns();
    s_sleep_ns(r->t0 - s_now_ns());
    while (c->answered < c->todo) {
        while (c->sent < c->todo && n_idle > 0) {
            uint64_t g = c->sent * (uint64_t)o->clients + (uint64_t)c->id;
            int64_t now = s_now_ns();
            int64_t due = o->rate > 0 ? r->t0 + (int64_t)((double)g * 1e9 / o->rate) : now;
            if (due > now) break;
            struct hreq *h = idle[--n_idle];
            if (s_http_build(r, h, g)) {
                s_note_error(r, "request %s does not fit%s", "body", "");
                goto out;
            }
            r->t_req[g] = due;
            curl_multi_add_handle(m, h->e);
            c->sent++;
        }
        int running;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int q;
        while ((msg = curl_multi_info_read(m, &q))) {
            if (msg->msg != CURLMSG_DONE) continue;
            struct hreq *h;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&h);
            int64_t now = s_now_ns();
            s_http_done(r, h, msg->data.result, now);
            curl_multi_remove_handle(m, h->e);
            idle[n_idle++] = h;
            c->answered++;
            last_progress = now;
        }
        long timeout_ms = 100;
        if (o->rate > 0 && c->sent < c->todo && n_idle > 0) {
            uint64_t g = c->sent * (uint64_t)o->clients + (uint64_t)c->id;
            int64_t wait = r->t0 + (int64_t)((double)g * 1e9 / o->rate) - s_now_ns();
            timeout_ms = wait < 1000000 ? 0 : (long)(wait / 1000000);
            if (wait > 0 && wait < 1000000) s_sleep_ns(wait);
        }
        if (running) curl_multi_poll(m, NULL, 0, (int)timeout_ms, NULL);
        else if (timeout_ms) s_sleep_ns(timeout_ms * 1000000);
        if (c->sent > c->answered &&
            s_now_ns() - last_progress > (int64_t)o->reply_timeout_ms * 1000000) {
            s_note_error(r, "client gave up: no answer for %s ms%s", "--reply-timeout", "");
            break;
        }
    }
out:
    atomic_fetch_add(&r->unanswered, c->todo - c->answered);
    for (int i = 0; slots && i < o->window; i++) {
        if (!slots[i].e) continue;
        curl_multi_remove_handle(m, slots[i].e);
        curl_easy_cleanup(slots[i].e);
        curl_slist_free_all(slots[i].hdr);
    }
    free(slots);
    free(idle);
    if (m) curl_multi_cleanup(m);
    atomic_fetch_add(&r->clients_done, 1);
    return NULL;
}

/* ---- what comes out of the far end ------------------------------------------------------ */

static void s_record_live(struct run *r, uint64_t case_no, uint64_t bit, int64_t now)
{
    if (case_no <= r->base || case_no - r->base >= r->cap || !bit) {
        atomic_fetch_add(&r->live_foreign, 1);
        return;
    }
    size_t idx = case_no - r->base;
    atomic_fetch_add(&r->live_total, 1);
    if (r->live_mask[idx] & bit) {
        atomic_fetch_add(&r->live_dups, 1);
        return;
    }
    r->live_mask[idx] |= bit;
    if (!r->t_live[idx]) {
        r->t_live[idx] = now;
        atomic_fetch_add(&r->live_first, 1);
    }
    atomic_store(&r->last_live_ns, now);
}

/* Pipeline: a SUB on notification's events, subscribed to "dept/". "all/" is subscribed too
 * until notification's first heartbeat arrives on it: subscriptions on one socket reach the
 * XPUB in order, so that heartbeat proves "dept/" is in place before the load starts. */
static void *s_sub_main(void *arg)
{
    struct run *r = arg;
    void *zs = zmq_socket(r->zctx, ZMQ_SUB);
    int zero = 0;
    zmq_setsockopt(zs, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(zs, ZMQ_RCVHWM, &zero, sizeof zero);
    int64_t maxmsg = WH_MAX_WIRE_BYTES;
    zmq_setsockopt(zs, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    zmq_setsockopt(zs, ZMQ_SUBSCRIBE, "dept/", 5);
    zmq_setsockopt(zs, ZMQ_SUBSCRIBE, "all/", 4);
    zmq_connect(zs, r->o->notif_events);
    int handshake = 1;
    int64_t handshake_deadline = s_now_ns() + 5000000000LL;
    uint64_t dispatches = 0;
    while (!atomic_load(&r->stop_recv)) {
        zmq_pollitem_t item = {zs, 0, ZMQ_POLLIN, 0};
        zmq_poll(&item, 1, 100);
        if (handshake && s_now_ns() > handshake_deadline) {
            fprintf(stderr, "whistle-bench: no heartbeat from %s in 5 s; starting anyway\n",
                    r->o->notif_events);
            zmq_setsockopt(zs, ZMQ_UNSUBSCRIBE, "all/", 4);
            handshake = 0;
            atomic_store(&r->recv_ready, 1);
        }
        for (;;) {
            zmq_msg_t t, b;
            zmq_msg_init(&t);
            if (zmq_msg_recv(&t, zs, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&t);
                break;
            }
            int64_t now = s_now_ns();
            zmq_msg_init(&b);
            if (!zmq_msg_more(&t) || zmq_msg_recv(&b, zs, 0) < 0) {
                zmq_msg_close(&t);
                zmq_msg_close(&b);
                continue;
            }
            const char *topic = zmq_msg_data(&t);
            size_t tl = zmq_msg_size(&t);
            if (tl >= 4 && memcmp(topic, "all/", 4) == 0) {
                if (handshake) {
                    zmq_setsockopt(zs, ZMQ_UNSUBSCRIBE, "all/", 4);
                    handshake = 0;
                    atomic_store(&r->recv_ready, 1);
                }
            } else if (tl >= 5 && memcmp(topic, "dept/", 5) == 0) {
                Whistle__V1__Envelope *e = wh_envelope_unpack(zmq_msg_data(&b), zmq_msg_size(&b));
                if (e && e->payload_case == WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_UPDATED &&
                    e->case_updated->entry &&
                    e->case_updated->entry->action == WHISTLE__V1__ACTION__DISPATCH &&
                    e->correlation_id && e->correlation_id[0] == 'C' &&
                    (!r->o->skip_live || ++dispatches % r->o->skip_live != 0))
                    s_record_live(r, strtoull(e->correlation_id + 1, NULL, 10),
                                  s_topic_bit(r->cat, topic, tl), now);
                if (e) whistle__v1__envelope__free_unpacked(e, NULL);
            }
            zmq_msg_close(&t);
            zmq_msg_close(&b);
        }
    }
    zmq_close(zs);
    return NULL;
}

/* Baseline: the driver's PULL, fed by hop 4; each message starts with its case number. */
static void *s_pull_main(void *arg)
{
    struct run *r = arg;
    void *zs = zmq_socket(r->zctx, ZMQ_PULL);
    int zero = 0, hwm = 100000;
    zmq_setsockopt(zs, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(zs, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_bind(zs, "tcp://127.0.0.1:*");
    size_t sz = sizeof r->recv_ep;
    zmq_getsockopt(zs, ZMQ_LAST_ENDPOINT, r->recv_ep, &sz);
    atomic_store(&r->recv_ready, 1);
    while (!atomic_load(&r->stop_recv)) {
        zmq_pollitem_t item = {zs, 0, ZMQ_POLLIN, 0};
        zmq_poll(&item, 1, 100);
        for (;;) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, zs, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            if (zmq_msg_size(&m) >= 8) s_record_live(r, s_get_u64(zmq_msg_data(&m)), 1, s_now_ns());
            zmq_msg_close(&m);
        }
    }
    zmq_close(zs);
    return NULL;
}

/* ---- Alertmanager's far end: one webhook receiver per department ------------------------ */

struct rbuf {
    char *data;
    size_t len, cap;
};

static void s_recv_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                        enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct rbuf *b = *con_cls;
    if (b) free(b->data);
    free(b);
    *con_cls = NULL;
}

/* POST /<dept>: Alertmanager's webhook body; every alert in it reached that department. */
static enum MHD_Result s_recv_access(void *cls, struct MHD_Connection *conn, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_size,
                                     void **con_cls)
{
    (void)method;
    (void)version;
    struct run *r = cls;
    struct rbuf *b = *con_cls;
    if (!b) {
        *con_cls = calloc(1, sizeof *b);
        return *con_cls ? MHD_YES : MHD_NO;
    }
    if (*upload_size) {
        if (b->len + *upload_size + 1 > b->cap) {
            size_t cap = (b->len + *upload_size + 1) * 2;
            char *d = realloc(b->data, cap);
            if (!d) return MHD_NO;
            b->data = d;
            b->cap = cap;
        }
        memcpy(b->data + b->len, upload_data, *upload_size);
        b->len += *upload_size;
        b->data[b->len] = 0;
        *upload_size = 0;
        return MHD_YES;
    }
    int64_t now = s_now_ns();
    char topic[80];
    snprintf(topic, sizeof topic, "dept%s/", url); /* "/cg" -> "dept/cg/" */
    uint64_t bit = s_topic_bit(r->cat, topic, strlen(topic));
    json_error_t je;
    json_t *j = b->data ? json_loads(b->data, 0, &je) : NULL;
    json_t *alerts = json_object_get(j, "alerts"), *a;
    size_t i;
    json_array_foreach(alerts, i, a)
    {
        const char *cs = json_string_value(json_object_get(json_object_get(a, "labels"), "case"));
        if (cs) s_record_live(r, strtoull(cs, NULL, 10), bit, now);
    }
    json_decref(j);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ---- the baseline's hops ---------------------------------------------------------------- */

struct hop {
    int index;  /* 1..4 */
    void *zctx; /* one context (one I/O thread) per hop, as one per service */
    void *in;   /* hop 1: ROUTER; others: PULL */
    void *out;  /* PUSH to the next hop or to the driver */
    char in_ep[256];
    MDB_env *env;
    MDB_dbi dbi;
    uint64_t seq; /* last key written */
    uint64_t batches, msgs;
    int64_t commit_ns; /* time spent in mdb_txn_begin .. mdb_txn_commit */
    atomic_int *stop;
    char err[256];
};

static int s_hop_open(struct hop *h, const char *dir)
{
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        snprintf(h->err, sizeof h->err, "mkdir %.180s: %s", dir, strerror(errno));
        return -1;
    }
    MDB_txn *txn;
    int rc = mdb_env_create(&h->env);
    if (rc == 0) rc = mdb_env_set_mapsize(h->env, (size_t)1 << 32);
    /* durable, as wh_store: no MDB_NOSYNC, no MDB_MAPASYNC */
    if (rc == 0) rc = mdb_env_open(h->env, dir, MDB_NOTLS, 0640);
    if (rc == 0) rc = mdb_txn_begin(h->env, NULL, 0, &txn);
    if (rc == 0) {
        rc = mdb_dbi_open(txn, NULL, 0, &h->dbi);
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    if (rc) snprintf(h->err, sizeof h->err, "lmdb %.180s: %s", dir, mdb_strerror(rc));
    return rc ? -1 : 0;
}

static void *s_hop_main(void *arg)
{
    struct hop *h = arg;
    static const size_t bound = BENCH_COMMIT_BOUND;
    zmq_msg_t *id = calloc(bound, sizeof *id), *body = calloc(bound, sizeof *body);
    if (!id || !body) {
        snprintf(h->err, sizeof h->err, "out of memory");
        goto out;
    }
    while (!atomic_load(h->stop)) {
        zmq_pollitem_t item = {h->in, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 100) <= 0) continue;
        /* drain a batch */
        size_t n = 0;
        while (n < bound) {
            if (h->index == 1) {
                zmq_msg_init(&id[n]);
                if (zmq_msg_recv(&id[n], h->in, ZMQ_DONTWAIT) < 0) {
                    zmq_msg_close(&id[n]);
                    break;
                }
                zmq_msg_init(&body[n]);
                zmq_msg_recv(&body[n], h->in, 0); /* the rest of a multipart is there */
            } else {
                zmq_msg_init(&body[n]);
                if (zmq_msg_recv(&body[n], h->in, ZMQ_DONTWAIT) < 0) {
                    zmq_msg_close(&body[n]);
                    break;
                }
            }
            n++;
        }
        if (n == 0) continue;
        /* one durable write transaction for the batch */
        uint64_t first = h->seq + 1;
        int64_t t_begin = s_now_ns();
        MDB_txn *txn;
        int rc = mdb_txn_begin(h->env, NULL, 0, &txn);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            uint8_t k[8];
            wh_be64_put(k, first + i);
            MDB_val key = {8, k}, val = {zmq_msg_size(&body[i]), zmq_msg_data(&body[i])};
            rc = mdb_put(txn, h->dbi, &key, &val, MDB_APPEND);
        }
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        if (rc) {
            snprintf(h->err, sizeof h->err, "hop %d commit: %s", h->index, mdb_strerror(rc));
            for (size_t i = 0; i < n; i++) {
                if (h->index == 1) zmq_msg_close(&id[i]);
                zmq_msg_close(&body[i]);
            }
            break;
        }
        h->commit_ns += s_now_ns() - t_begin;
        h->seq += n;
        h->batches++;
        h->msgs += n;
        /* after the commit: reply (hop 1) and pass on */
        for (size_t i = 0; i < n; i++) {
            if (h->index == 1) {
                uint8_t ack[16];
                s_put_u64(ack, s_get_u64(zmq_msg_data(&body[i])));
                s_put_u64(ack + 8, first + i);
                zmq_msg_send(&id[i], h->in, ZMQ_SNDMORE);
                zmq_send(h->in, ack, sizeof ack, 0);
                /* forward [case number][request] */
                size_t len = zmq_msg_size(&body[i]);
                zmq_msg_t fwd;
                zmq_msg_init_size(&fwd, 8 + len);
                s_put_u64(zmq_msg_data(&fwd), first + i);
                memcpy((uint8_t *)zmq_msg_data(&fwd) + 8, zmq_msg_data(&body[i]), len);
                zmq_msg_send(&fwd, h->out, 0);
                zmq_msg_close(&body[i]);
            } else {
                zmq_msg_send(&body[i], h->out, 0);
            }
        }
    }
out:
    free(id);
    free(body);
    return NULL;
}

/* ---- statistics -------------------------------------------------------------------------- */

struct lat {
    size_t n;
    double p50, p99, max; /* ms */
};

static int s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place. Percentiles by nearest rank. */
static struct lat s_lat(int64_t *v, size_t n)
{
    struct lat l = {n, 0, 0, 0};
    if (n == 0) return l;
    qsort(v, n, sizeof *v, s_cmp_i64);
    size_t i50 = (n * 50 + 99) / 100, i99 = (n * 99 + 99) / 100;
    l.p50 = (double)v[i50 ? i50 - 1 : 0] / 1e6;
    l.p99 = (double)v[i99 ? i99 - 1 : 0] / 1e6;
    l.max = (double)v[n - 1] / 1e6;
    return l;
}

/* ---- the pipeline's replay check -------------------------------------------------------- */

/* Head of a topic: a Replay from far beyond the head returns no entries, only the head. */
static int s_topic_head(wh_client_t *cl, const char *topic, uint64_t *head)
{
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__Replay rp = WHISTLE__V1__REPLAY__INIT;
    rp.topic = (char *)topic;
    rp.from_seq = (uint64_t)1 << 62;
    rp.max = 1;
    req.body_case = WHISTLE__V1__REQUEST__BODY_REPLAY;
    req.replay = &rp;
    Whistle__V1__Reply *r = NULL;
    int rc = wh_client_call(cl, &req, &r, 10000);
    if (rc) return rc;
    if (r->body_case != WHISTLE__V1__REPLY__BODY_REPLAY)
        rc = WH_EMALFORMED;
    else
        *head = r->replay->head;
    whistle__v1__reply__free_unpacked(r, NULL);
    return rc;
}

/* Reads topic from `from` to its head; marks each DISPATCH of a case of this run. Returns
 * the number of DISPATCH entries read, or a negative error. */
static int64_t s_replay_topic(struct run *r, wh_client_t *cl, const char *topic, uint64_t bit,
                              uint64_t from, uint64_t *foreign, uint64_t *log_dups)
{
    int64_t found = 0;
    for (;;) {
        Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
        Whistle__V1__Replay rp = WHISTLE__V1__REPLAY__INIT;
        rp.topic = (char *)topic;
        rp.from_seq = from;
        rp.max = 512;
        req.body_case = WHISTLE__V1__REQUEST__BODY_REPLAY;
        req.replay = &rp;
        Whistle__V1__Reply *rep = NULL;
        int rc = wh_client_call(cl, &req, &rep, 10000);
        if (rc) return rc;
        if (rep->body_case != WHISTLE__V1__REPLY__BODY_REPLAY) {
            whistle__v1__reply__free_unpacked(rep, NULL);
            return WH_EMALFORMED;
        }
        Whistle__V1__ReplayReply *rr = rep->replay;
        size_t used = 0;
        for (size_t i = 0; i < rr->n_entries; i++) {
            const Whistle__V1__Envelope *e = rr->entries[i];
            if (e->seq < from) continue;
            from = e->seq + 1;
            used++;
            if (e->payload_case != WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_UPDATED ||
                !e->case_updated->entry ||
                e->case_updated->entry->action != WHISTLE__V1__ACTION__DISPATCH ||
                !e->correlation_id || e->correlation_id[0] != 'C')
                continue;
            uint64_t case_no = strtoull(e->correlation_id + 1, NULL, 10);
            if (case_no <= r->base || case_no - r->base >= r->cap) {
                (*foreign)++;
                continue;
            }
            if (r->log_mask[case_no - r->base] & bit) (*log_dups)++;
            r->log_mask[case_no - r->base] |= bit;
            found++;
        }
        uint64_t head = rr->head;
        whistle__v1__reply__free_unpacked(rep, NULL);
        if (used == 0 || from > head) break;
    }
    return found;
}

/* A service's endpoint as whistlectl finds it: WHISTLE_<SERVICE>_API / _EVENTS, or the
 * default loopback port. `kind` is "API" or "EVENTS". */
static const char *s_endpoint(const char *service, const char *kind)
{
    char var[64];
    snprintf(var, sizeof var, "WHISTLE_%s_%s", service, kind);
    for (char *p = var; *p; p++)
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
    const char *v = getenv(var);
    if (v && v[0]) return v;
    return kind[0] == 'A' ? wh_default_api(service) : wh_default_events(service);
}

/* Ping: prints each service's head and cursors (how far behind each hop is). */
static void s_print_pings(void)
{
    static const char *const names[] = {"intake", "routing", "tracking", "notification"};
    for (int i = 0; i < 4; i++) {
        wh_client_t *cl = wh_client_new(s_endpoint(names[i], "API"));
        if (!cl) continue;
        Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
        Whistle__V1__Ping ping = WHISTLE__V1__PING__INIT;
        req.body_case = WHISTLE__V1__REQUEST__BODY_PING;
        req.ping = &ping;
        Whistle__V1__Reply *rep = NULL;
        if (wh_client_call(cl, &req, &rep, 3000) == 0 &&
            rep->body_case == WHISTLE__V1__REPLY__BODY_PONG) {
            printf("  %-13s head %-8" PRIu64, names[i], rep->pong->head);
            for (size_t k = 0; k < rep->pong->n_cursors; k++)
                printf("  %s cursor %" PRIu64, rep->pong->cursors[k]->upstream,
                       rep->pong->cursors[k]->seq);
            printf("\n");
        } else {
            printf("  %-13s no answer\n", names[i]);
        }
        if (rep) whistle__v1__reply__free_unpacked(rep, NULL);
        wh_client_destroy(&cl);
    }
}

/* ---- one run ----------------------------------------------------------------------------- */

/* Runs the clients and waits for the far end. The receiver must be running. */
static void s_drive(struct run *r)
{
    const struct bench_opts *o = r->o;
    struct client cl[BENCH_MAX_CLIENTS];
    pthread_t th[BENCH_MAX_CLIENTS];
    r->t0 = s_now_ns() + 100000000; /* the clients connect in the meantime */
    atomic_store(&r->last_live_ns, r->t0);
    for (int i = 0; i < o->clients; i++) {
        cl[i] = (struct client){r, i, 0, 0, 0};
        cl[i].todo = r->n / (uint64_t)o->clients + ((uint64_t)i < r->n % (uint64_t)o->clients);
        pthread_create(&th[i], NULL, o->http_url || o->alertmanager ? s_http_client_main
                                                                     : s_client_main,
                       &cl[i]);
    }
    int64_t next_print = r->t0 + 1000000000, clients_end = 0;
    for (;;) {
        s_sleep_ns(50000000);
        int64_t now = s_now_ns();
        uint64_t acc = atomic_load(&r->accepted), live = atomic_load(&r->live_first);
        if (now >= next_print) {
            fprintf(stderr, "  %5.1f s  accepted %" PRIu64 "  dispatched (seen) %" PRIu64 "\n",
                    (double)(now - r->t0) / 1e9, acc, live);
            next_print += 1000000000;
        }
        if (atomic_load(&r->clients_done) < o->clients) continue;
        if (!clients_end) clients_end = now;
        if (live >= acc) break;
        int64_t quiet_since = atomic_load(&r->last_live_ns);
        if (quiet_since < clients_end) quiet_since = clients_end;
        if (now - quiet_since > (int64_t)o->settle_ms * 1000000) {
            fprintf(stderr,
                    "whistle-bench: nothing new for %d ms with %" PRIu64
                    " case(s) not seen; stopping\n",
                    o->settle_ms, acc - live);
            break;
        }
    }
    for (int i = 0; i < o->clients; i++)
        pthread_join(th[i], NULL);
}

/* What notification's durable dept topics say about the accepted cases (pipeline only). */
struct check {
    int replayed;             /* 1 when the replay check ran */
    int64_t recovered_cases;  /* never seen live, found by replay */
    int64_t recovered_topics; /* (case, topic) entries found by replay only */
    int64_t missing;          /* accepted, on no dept topic: lost */
    int64_t partial;          /* accepted, on only some of its dept topics */
    uint64_t log_dups;        /* a case twice on one topic */
    uint64_t foreign;         /* entries of cases not of this run */
};

static int s_report(struct run *r, const char *system, const struct check *ck)
{
    const struct bench_opts *o = r->o;
    int64_t *ack = malloc(r->cap * sizeof *ack), *e2e = malloc(r->cap * sizeof *e2e);
    if (!ack || !e2e) return 1;
    size_t na = 0, ne = 0;
    int64_t last_ack = r->t0, last_live = r->t0;
    uint64_t incomplete_live = 0;
    for (size_t i = 1; i < r->cap; i++) {
        if (!r->t_ack[i]) continue;
        ack[na++] = r->t_ack[i] - r->t_sub[i];
        if (r->t_ack[i] > last_ack) last_ack = r->t_ack[i];
        if (r->t_live[i]) {
            e2e[ne++] = r->t_live[i] - r->t_sub[i];
            if (r->t_live[i] > last_live) last_live = r->t_live[i];
        }
        if ((r->live_mask[i] & r->want_mask[i]) != r->want_mask[i]) incomplete_live++;
    }
    struct lat la = s_lat(ack, na), le = s_lat(e2e, ne);
    double ack_s = (double)(last_ack - r->t0) / 1e9, live_s = (double)(last_live - r->t0) / 1e9;
    double ack_tput = ack_s > 0 ? (double)na / ack_s : 0;
    double e2e_tput = live_s > 0 ? (double)ne / live_s : 0;
    uint64_t accepted = atomic_load(&r->accepted);
    /* Exactly once on each topic. Live delivery may drop (the XPUB's high-water mark): the
     * pipeline passes when replay finds what the live stream missed; the baseline has no
     * replay, so it must deliver everything live. */
    int ok = accepted == r->n && atomic_load(&r->live_dups) == 0 &&
             (ck->replayed ? ck->missing == 0 && ck->partial == 0 && ck->log_dups == 0
                           : incomplete_live == 0 && ne == accepted);

    printf("\n%s, %s: %" PRIu64 " reports, %d clients x window %d, %s", system, o->label, r->n,
           o->clients, o->window, o->rate > 0 ? "paced at " : "saturating\n");
    if (o->rate > 0) printf("%.0f/s (latency from the scheduled send time)\n", o->rate);
    printf("  request size       %zu bytes\n", r->payload_len);
    printf("  accepted           %" PRIu64 "  (refused %" PRIu64 ", duplicate %" PRIu64
           ", unanswered %" PRIu64 ", case id out of range %" PRIu64 ")\n",
           accepted, (uint64_t)atomic_load(&r->refused), (uint64_t)atomic_load(&r->duplicates),
           (uint64_t)atomic_load(&r->unanswered), (uint64_t)atomic_load(&r->out_of_range));
    printf("  ack                %.0f/s   p50 %.2f ms  p99 %.2f ms  max %.2f ms\n", ack_tput,
           la.p50, la.p99, la.max);
    printf("  end to end         %.0f/s   p50 %.2f ms  p99 %.2f ms  max %.2f ms  (%zu seen live,"
           " last at %.2f s)\n",
           e2e_tput, le.p50, le.p99, le.max, ne, live_s);
    printf("  live messages      %" PRIu64 " dispatch(es), %" PRIu64 " duplicate(s), %" PRIu64
           " not of this run; %" PRIu64 " case(s) not seen on every topic they should reach\n",
           (uint64_t)atomic_load(&r->live_total), (uint64_t)atomic_load(&r->live_dups),
           (uint64_t)atomic_load(&r->live_foreign), incomplete_live);
    if (ck->replayed)
        printf("  replay check       %" PRId64 " case(s) never seen live but found by replay, "
               "%" PRId64 " topic entr(ies) found by replay only; %" PRId64 " accepted case(s) "
               "on no dept topic, %" PRId64 " on only some of them, %" PRIu64 " twice on one "
               "topic; %" PRIu64 " entries not of this run\n",
               ck->recovered_cases, ck->recovered_topics, ck->missing, ck->partial, ck->log_dups,
               ck->foreign);
    if (r->first_error[0]) printf("  first error        %s\n", r->first_error);
    if (!ok)
        printf("  verdict            INCOMPLETE (see above)\n");
    else if (ck->replayed && ck->recovered_topics)
        printf("  verdict            every accepted case exactly once on each of its topics;"
               " %" PRId64 " case(s) (%" PRId64 " entries) recovered by replay, not live\n",
               ck->recovered_cases, ck->recovered_topics);
    else
        printf("  verdict            every accepted case seen live exactly once on each of its"
               " topics\n");
    printf("RESULT system=%s mode=%s rate=%.0f n=%" PRIu64 " accepted=%" PRIu64
           " ack_tput=%.0f ack_p50=%.3f ack_p99=%.3f ack_max=%.3f e2e_tput=%.0f e2e_p50=%.3f"
           " e2e_p99=%.3f e2e_max=%.3f seen_live=%zu recovered_cases=%" PRId64
           " recovered_entries=%" PRId64 " missing=%" PRId64 " live_dups=%" PRIu64 " ok=%d\n",
           system, o->label, o->rate, r->n, accepted, ack_tput, la.p50, la.p99, la.max, e2e_tput,
           le.p50, le.p99, le.max, ne, ck->recovered_cases, ck->recovered_topics, ck->missing,
           (uint64_t)atomic_load(&r->live_dups), ok);
    fflush(stdout);
    free(ack);
    free(e2e);
    return ok ? 0 : 1;
}

static int s_run_pipeline(struct run *r)
{
    const struct bench_opts *o = r->o;
    /* where this run starts: the intake head and each dept topic's head */
    wh_client_t *in = wh_client_new(o->intake_api), *nt = wh_client_new(o->notif_api);
    uint64_t *heads = calloc(r->cat->n_departments, sizeof *heads);
    int rc = 1;
    if (!in || !nt || !heads) goto out;
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__Ping ping = WHISTLE__V1__PING__INIT;
    req.body_case = WHISTLE__V1__REQUEST__BODY_PING;
    req.ping = &ping;
    Whistle__V1__Reply *rep = NULL;
    if (wh_client_call(in, &req, &rep, 5000) || rep->body_case != WHISTLE__V1__REPLY__BODY_PONG) {
        fprintf(stderr, "whistle-bench: intake at %s does not answer a ping\n", o->intake_api);
        if (rep) whistle__v1__reply__free_unpacked(rep, NULL);
        goto out;
    }
    r->base = rep->pong->head;
    whistle__v1__reply__free_unpacked(rep, NULL);
    char topic[80];
    for (size_t d = 0; d < r->cat->n_departments; d++) {
        snprintf(topic, sizeof topic, "dept/%s/", r->cat->departments[d].code);
        if (s_topic_head(nt, topic, &heads[d])) {
            fprintf(stderr, "whistle-bench: notification at %s does not answer a replay\n",
                    o->notif_api);
            goto out;
        }
    }
    pthread_t sub;
    pthread_create(&sub, NULL, s_sub_main, r);
    while (!atomic_load(&r->recv_ready))
        s_sleep_ns(10000000);
    s_drive(r);
    atomic_store(&r->stop_recv, 1);
    pthread_join(sub, NULL);

    /* every accepted case, against the durable dept topics */
    int64_t read = 0;
    uint64_t foreign = 0, log_dups = 0;
    for (size_t d = 0; d < r->cat->n_departments && d < BENCH_MAX_DEPTS; d++) {
        snprintf(topic, sizeof topic, "dept/%s/", r->cat->departments[d].code);
        int64_t k = s_replay_topic(r, nt, topic, 1ull << d, heads[d] + 1, &foreign, &log_dups);
        if (k < 0) {
            fprintf(stderr, "whistle-bench: replay of %s failed: %s\n", topic, wh_strerror((int)k));
            goto out;
        }
        read += k;
    }
    struct check ck = {1, 0, 0, 0, 0, log_dups, foreign};
    for (size_t i = 1; i < r->cap; i++) {
        if (!r->t_ack[i]) continue;
        uint64_t want = r->want_mask[i], logm = r->log_mask[i], live = r->live_mask[i];
        if (logm == 0)
            ck.missing++;
        else if ((logm & want) != want)
            ck.partial++;
        if (live == 0 && logm) ck.recovered_cases++;
        ck.recovered_topics += __builtin_popcountll(logm & ~live);
    }
    fprintf(stderr, "whistle-bench: replay read %" PRId64 " dispatch entries\n", read);
    printf("\nservices after the run:\n");
    s_print_pings();
    rc = s_report(r, o->http_url ? "whistle-http" : "whistle", &ck);
out:
    free(heads);
    wh_client_destroy(&in);
    wh_client_destroy(&nt);
    return rc;
}

static int s_run_baseline(struct run *r)
{
    const struct bench_opts *o = r->o;
    struct hop hops[BENCH_HOPS];
    pthread_t th[BENCH_HOPS], pull;
    atomic_int stop = 0;
    int rc = 1, started = 0;
    memset(hops, 0, sizeof hops);
    if (mkdir(o->data_dir, 0750) != 0 && errno != EEXIST) {
        fprintf(stderr, "whistle-bench: mkdir %s: %s\n", o->data_dir, strerror(errno));
        return 1;
    }
    pthread_create(&pull, NULL, s_pull_main, r);
    while (!atomic_load(&r->recv_ready))
        s_sleep_ns(1000000);
    /* bind from the last hop back, so each can connect to the next */
    for (int i = BENCH_HOPS - 1; i >= 0; i--) {
        struct hop *h = &hops[i];
        char dir[1024];
        h->index = i + 1;
        h->stop = &stop;
        snprintf(dir, sizeof dir, "%s/hop%d", o->data_dir, h->index);
        if (s_hop_open(h, dir)) {
            fprintf(stderr, "whistle-bench: %s\n", h->err);
            goto out;
        }
        h->zctx = zmq_ctx_new();
        h->in = zmq_socket(h->zctx, h->index == 1 ? ZMQ_ROUTER : ZMQ_PULL);
        h->out = zmq_socket(h->zctx, ZMQ_PUSH);
        int zero = 0, hwm = 100000;
        zmq_setsockopt(h->in, ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(h->out, ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(h->in, ZMQ_RCVHWM, &hwm, sizeof hwm);
        zmq_setsockopt(h->in, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(h->out, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_bind(h->in, "tcp://127.0.0.1:*");
        size_t sz = sizeof h->in_ep;
        zmq_getsockopt(h->in, ZMQ_LAST_ENDPOINT, h->in_ep, &sz);
        zmq_connect(h->out, i == BENCH_HOPS - 1 ? r->recv_ep : hops[i + 1].in_ep);
    }
    snprintf(r->submit_ep, sizeof r->submit_ep, "%s", hops[0].in_ep);
    for (int i = 0; i < BENCH_HOPS; i++)
        pthread_create(&th[i], NULL, s_hop_main, &hops[i]);
    started = 1;
    s_drive(r);
    rc = 0;
out:
    atomic_store(&stop, 1);
    if (started)
        for (int i = 0; i < BENCH_HOPS; i++)
            pthread_join(th[i], NULL);
    atomic_store(&r->stop_recv, 1);
    pthread_join(pull, NULL);
    printf("\nbaseline hops:\n");
    for (int i = 0; i < BENCH_HOPS; i++) {
        struct hop *h = &hops[i];
        if (h->batches)
            printf("  hop %d: %" PRIu64 " msgs in %" PRIu64 " durable commits (%.1f per commit),"
                   " %.3f ms per commit, %.2f s committing in all\n",
                   h->index, h->msgs, h->batches, (double)h->msgs / (double)h->batches,
                   (double)h->commit_ns / 1e6 / (double)h->batches, (double)h->commit_ns / 1e9);
        if (h->err[0]) fprintf(stderr, "whistle-bench: hop %d: %s\n", h->index, h->err);
        if (h->in) zmq_close(h->in);
        if (h->out) zmq_close(h->out);
        if (h->zctx) zmq_ctx_term(h->zctx);
        if (h->env) mdb_env_close(h->env);
    }
    struct check none = {0, 0, 0, 0, 0, 0, 0};
    if (rc == 0) rc = s_report(r, "baseline", &none);
    return rc;
}

static int s_run_alertmanager(struct run *r)
{
    const struct bench_opts *o = r->o;
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t)o->receiver_port, NULL, NULL,
        s_recv_access, r, MHD_OPTION_NOTIFY_COMPLETED, s_recv_done, r,
        MHD_OPTION_CONNECTION_LIMIT, 4096u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "whistle-bench: cannot listen on port %d for Alertmanager's webhooks\n",
                o->receiver_port);
        return 1;
    }
    r->base = 0;
    s_drive(r);
    /* s_drive stops once every case was seen somewhere; Alertmanager delivers each of a case's
     * departments by its own webhook, and there is no replay to find the rest: wait for them
     * until nothing new comes for --settle-ms */
    for (;;) {
        uint64_t incomplete = 0;
        for (size_t i = 1; i < r->cap; i++)
            if (r->t_ack[i] && (r->live_mask[i] & r->want_mask[i]) != r->want_mask[i]) incomplete++;
        if (!incomplete ||
            s_now_ns() - atomic_load(&r->last_live_ns) > (int64_t)o->settle_ms * 1000000)
            break;
        s_sleep_ns(50000000);
    }
    MHD_stop_daemon(d);
    struct check none = {0, 0, 0, 0, 0, 0, 0};
    return s_report(r, "alertmanager", &none);
}

/* ---- main -------------------------------------------------------------------------------- */

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: whistle-bench [OPTIONS]\n\n"
            "Fires reports at a running whistle (intake -> ... -> notification) and measures\n"
            "throughput and latency, ack and end to end (dispatch seen on a dept topic); or,\n"
            "with --baseline, the same load through four bare hops of ZeroMQ receive ->\n"
            "durable LMDB group commit -> send. See bench/run.sh.\n\n"
            "  --rate R            requests/s over all clients, open loop; 0 = saturating\n"
            "                      (default 0)\n"
            "  --count N           requests (default 50000, or rate x duration when paced)\n"
            "  --duration S        paced: seconds of load (default 10)\n"
            "  --clients K         client threads, one DEALER each (default 4)\n"
            "  --window W          outstanding requests per client (default 64)\n"
            "  --baseline          run the baseline instead of the pipeline\n"
            "  --data DIR          baseline: folder for its four LMDB environments (required)\n"
            "  --catalog FILE      grids, matters, departments\n"
            "                      (default deploy/catalog/default.json)\n"
            "  --intake-api E      (default $WHISTLE_INTAKE_API or tcp://127.0.0.1:7100)\n"
            "  --notification-api E     replay (default $WHISTLE_NOTIFICATION_API or :7130)\n"
            "  --notification-events E  live topics ($WHISTLE_NOTIFICATION_EVENTS or :7131)\n"
            "  --label NAME        mode name in the RESULT line (default paced/saturating)\n"
            "  --settle-ms MS      stop waiting for dispatches after MS without one\n"
            "                      (default 10000)\n"
            "  --reply-timeout-ms MS    a client gives up after MS without a reply\n"
            "                      (default 30000)\n"
            "  --skip-live K       self-check of the replay check: ignore every K-th live\n"
            "                      dispatch, as if the subscriber had dropped it\n"
            "  --http URL          submit through the gateway at URL instead: Open311 POST\n"
            "                      requests.json (with --api-key K and an Idempotency-Key);\n"
            "                      dispatches are seen on notification's topics as before\n"
            "  --alertmanager URL  the comparison: each report as an alert POSTed to\n"
            "                      Alertmanager at URL (labels dept_<code>), each dispatch a\n"
            "                      webhook it delivers to --receiver-port P, path /<dept>\n"
            "                      (bench/run.sh writes its configuration)\n\n"
            "Prints a report and one 'RESULT key=value ...' line. Exit 0 when every request was\n"
            "accepted and every case seen exactly once on each of its topics, 1 otherwise.\n");
}

int main(int argc, char **argv)
{
    struct bench_opts o = {
        .rate = 0,
        .duration_s = 10,
        .clients = 4,
        .window = 64,
        .intake_api = s_endpoint("intake", "API"),
        .notif_api = s_endpoint("notification", "API"),
        .notif_events = s_endpoint("notification", "EVENTS"),
        .catalog = "deploy/catalog/default.json",
        .settle_ms = 10000,
        .reply_timeout_ms = 30000,
    };
    static struct option opts[] = {{"rate", 1, 0, 'r'},
                                   {"count", 1, 0, 'n'},
                                   {"duration", 1, 0, 'd'},
                                   {"clients", 1, 0, 'k'},
                                   {"window", 1, 0, 'w'},
                                   {"baseline", 0, 0, 'b'},
                                   {"data", 1, 0, 'D'},
                                   {"catalog", 1, 0, 'c'},
                                   {"intake-api", 1, 0, 'i'},
                                   {"notification-api", 1, 0, 'a'},
                                   {"notification-events", 1, 0, 'e'},
                                   {"label", 1, 0, 'l'},
                                   {"settle-ms", 1, 0, 's'},
                                   {"reply-timeout-ms", 1, 0, 't'},
                                   {"skip-live", 1, 0, 'x'},
                                   {"http", 1, 0, 'H'},
                                   {"api-key", 1, 0, 'K'},
                                   {"alertmanager", 1, 0, 'A'},
                                   {"receiver-port", 1, 0, 'P'},
                                   {"help", 0, 0, 'h'},
                                   {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': o.rate = atof(optarg); break;
        case 'n': o.count = strtoull(optarg, NULL, 10); break;
        case 'd': o.duration_s = atof(optarg); break;
        case 'k': o.clients = atoi(optarg); break;
        case 'w': o.window = atoi(optarg); break;
        case 'b': o.baseline = 1; break;
        case 'D': o.data_dir = optarg; break;
        case 'c': o.catalog = optarg; break;
        case 'i': o.intake_api = optarg; break;
        case 'a': o.notif_api = optarg; break;
        case 'e': o.notif_events = optarg; break;
        case 'l': o.label = optarg; break;
        case 's': o.settle_ms = atoi(optarg); break;
        case 't': o.reply_timeout_ms = atoi(optarg); break;
        case 'x': o.skip_live = strtoull(optarg, NULL, 10); break;
        case 'H': o.http_url = optarg; break;
        case 'K': o.api_key = optarg; break;
        case 'A': o.alertmanager = optarg; break;
        case 'P': o.receiver_port = atoi(optarg); break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    if (o.clients < 1 || o.clients > BENCH_MAX_CLIENTS || o.window < 1 ||
        o.window > BENCH_MAX_WINDOW || o.rate < 0 || (o.baseline && !o.data_dir) ||
        (o.http_url && !o.api_key) || (o.alertmanager && o.receiver_port <= 0) ||
        (!!o.baseline + !!o.http_url + !!o.alertmanager > 1)) {
        s_usage(stderr);
        return 2;
    }
    if (!o.label) o.label = o.rate > 0 ? "paced" : "saturating";

    struct run r;
    memset(&r, 0, sizeof r);
    r.o = &o;
    pthread_mutex_init(&r.lock, NULL);
    char err[512];
    r.cat = wh_catalog_load(o.catalog, err, sizeof err);
    if (!r.cat) {
        fprintf(stderr, "whistle-bench: catalog: %s\n", err);
        return 2;
    }
    if (r.cat->n_grids == 0 || r.cat->n_matters == 0 || r.cat->n_departments > BENCH_MAX_DEPTS) {
        fprintf(stderr,
                "whistle-bench: the catalog needs grids, matters and at most %d "
                "departments\n",
                BENCH_MAX_DEPTS);
        return 2;
    }
    r.n = o.count ? o.count : o.rate > 0 ? (uint64_t)(o.rate * o.duration_s) : 50000;
    r.cap = r.n + 1;
    snprintf(r.run_id, sizeof r.run_id, "%d-%lld", (int)getpid(), (long long)(s_now_ns() / 1000));
    uint8_t probe[2048];
    r.payload_len = s_pack_submit(&r, r.n - 1, probe, sizeof probe);
    r.t_req = calloc(r.n, sizeof *r.t_req);
    r.t_sub = calloc(r.cap, sizeof *r.t_sub);
    r.t_ack = calloc(r.cap, sizeof *r.t_ack);
    r.t_live = calloc(r.cap, sizeof *r.t_live);
    r.want_mask = calloc(r.cap, sizeof *r.want_mask);
    r.live_mask = calloc(r.cap, sizeof *r.live_mask);
    r.log_mask = calloc(r.cap, sizeof *r.log_mask);
    if (!r.t_req || !r.t_sub || !r.t_ack || !r.t_live || !r.want_mask || !r.live_mask ||
        !r.log_mask) {
        fprintf(stderr, "whistle-bench: out of memory\n");
        return 2;
    }
    r.zctx = zmq_ctx_new();
    snprintf(r.submit_ep, sizeof r.submit_ep, "%s", o.intake_api);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = o.baseline ? s_run_baseline(&r)
             : o.alertmanager ? s_run_alertmanager(&r)
                              : s_run_pipeline(&r);
    curl_global_cleanup();
    zmq_ctx_term(r.zctx);
    free(r.t_req);
    free(r.t_sub);
    free(r.t_ack);
    free(r.t_live);
    free(r.want_mask);
    free(r.live_mask);
    free(r.log_mask);
    wh_catalog_destroy(&r.cat);
    pthread_mutex_destroy(&r.lock);
    return rc;
}
