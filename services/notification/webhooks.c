/* webhooks.c: delivery of topics to department systems' HTTP endpoints.
 *
 * A registration (table "webhooks": topic NUL url -> Webhook) asks for every entry of a topic.
 * Each entry appended to that topic is put in the outbox (table "outbox": be64(due_ms)
 * be64(id) -> WebhookDelivery, the Envelope inside) in the very transaction that appends it,
 * so a crash can never lose a delivery. Due deliveries are POSTed as JSON with libcurl's multi
 * interface on the service's libuv loop (CURLMOPT_SOCKETFUNCTION -> uv_poll per socket,
 * CURLMOPT_TIMERFUNCTION -> one uv_timer, as curl's multi-uv example does). A 2xx removes the
 * delivery; anything else (an HTTP error, a refused connection, no answer within the timeout)
 * moves it later in the outbox with exponential backoff and jitter, and after the last attempt
 * to the dead letters (table "dead": be64(id) -> WebhookDelivery). Every change to these
 * tables goes through the service's batch transaction, so it is durable before the next step
 * is taken; a delivery whose success was not yet committed is sent again: at least once, and
 * receivers dedupe by X-Whistle-Event-Id. Table "hookmeta" keeps the next delivery id. */
#include "notification.h"
#include "whistle/clock.h"
#include "whistle/error.h"
#include "whistle/json.h"
#include "whistle/wlog.h"
#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_MAX_FLIGHTS 16            /* POSTs in flight at once */
#define S_BACKOFF_CAP_MS 3600000    /* never wait more than an hour between attempts */
/* The registry's key is topic NUL url, and LMDB keys stop at 511 bytes: with topics of at most
 * 80 bytes, a url of at most 400 always fits (checked before anything is written). */
#define S_MAX_URL 400
#define S_KEY_LEN 16                /* be64(due) be64(id) */

/* One POST in flight. */
struct s_flight {
    notification_webhooks_t *owner;
    CURL *easy;
    struct curl_slist *headers;
    uint64_t id;
    uint8_t key[S_KEY_LEN];   /* its outbox key */
    char error[CURL_ERROR_SIZE];
};

/* A socket curl asked us to watch. */
struct s_sock {
    uv_poll_t poll;
    curl_socket_t fd;
    notification_webhooks_t *owner;
    int counted;                 /* closed during destroy: counted in owner->handles */
    struct s_sock *next, *prev;  /* every live one, so destroy can close what curl leaves */
};

struct notification_webhooks {
    wh_service_t *svc;
    struct notification_webhook_config cfg;
    CURLM *multi;
    uv_timer_t curl_timer;   /* CURLMOPT_TIMERFUNCTION */
    uv_timer_t due_timer;    /* the next delivery due in the outbox */
    uv_idle_t flush;         /* keeps the loop from sleeping before a batch we wrote commits */
    struct s_flight *flights[S_MAX_FLIGHTS];
    size_t n_flights;
    struct s_sock *socks;
    uint64_t rand_state;
    int changed;             /* the outbox changed in the open batch: scan after the commit */
    int closing;
    int handles;             /* uv handles still to close */
};

/* ---- pure parts ------------------------------------------------------------------------ */

int64_t notification_webhook_backoff(int attempts, int base_ms, double r)
{
    if (attempts < 1) attempts = 1;
    int64_t d = base_ms > 0 ? base_ms : 1;
    for (int i = 1; i < attempts && d < S_BACKOFF_CAP_MS; i++) d *= 2;
    if (d > S_BACKOFF_CAP_MS) d = S_BACKOFF_CAP_MS;
    if (r < 0) r = 0;
    if (r >= 1) r = 0.999999;
    /* "equal jitter": at least half the step, so retries of many events spread out but never
     * come back sooner than the backoff promises */
    return d / 2 + (int64_t)((double)(d - d / 2) * r);
}

static int s_topic_valid(const char *t)
{
    static const char *const prefixes[] = {"case/", "unit/", "grid/", "dept/"};
    if (strcmp(t, "all/") == 0 || strcmp(t, "district/") == 0) return 1;
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        size_t pl = strlen(prefixes[i]), tl = strlen(t);
        if (strncmp(t, prefixes[i], pl) != 0 || tl < pl + 2 || t[tl - 1] != '/') continue;
        for (size_t k = pl; k < tl - 1; k++)
            if (t[k] == '/' || (unsigned char)t[k] <= ' ') return 0;
        return 1;
    }
    return 0;
}

int notification_webhook_check(const char *prefix, const char *topic, const char *url,
                               struct wh_field_error *fe)
{
    char ft[64], fu[64];
    snprintf(ft, sizeof ft, "%s.topic", prefix);
    snprintf(fu, sizeof fu, "%s.url", prefix);
    if (wh_check_string(fe, ft, topic, 80, 1)) return fe->code;
    if (!s_topic_valid(topic))
        return wh_field_error_set(fe, WH_EFIELD, ft,
                                  "'%s' is not a notification topic (all/, district/, "
                                  "dept/<code>/, unit/<code>/, grid/<code>/, case/<id>/)",
                                  topic);
    if (wh_check_string(fe, fu, url, S_MAX_URL, 1)) return fe->code;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return wh_field_error_set(fe, WH_EFIELD, fu, "a webhook url starts with http:// or "
                                                     "https://");
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return wh_field_error_set(fe, WH_EFIELD, fu,
                                      "a webhook url has no spaces or control characters");
    return 0;
}

/* ---- keys ------------------------------------------------------------------------------ */

static size_t s_reg_key(uint8_t *key, const char *topic, const char *url)
{
    size_t tl = strlen(topic), ul = strlen(url);
    memcpy(key, topic, tl);
    key[tl] = 0;
    memcpy(key + tl + 1, url, ul);
    return tl + 1 + ul;
}

static void s_out_key(uint8_t key[S_KEY_LEN], int64_t due, uint64_t id)
{
    wh_be64_put(key, (uint64_t)(due > 0 ? due : 0));
    wh_be64_put(key + 8, id);
}

static double s_rand01(notification_webhooks_t *self)
{
    /* xorshift64*: jitter needs spread, not secrecy */
    uint64_t x = self->rand_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    self->rand_state = x;
    return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

/* Writes `d` under `key` in `table`. */
static int s_put_delivery(wh_store_t *st, MDB_txn *txn, const char *table, const uint8_t *key,
                          size_t klen, const Whistle__V1__WebhookDelivery *d)
{
    size_t len;
    uint8_t *buf = wh_pack(&d->base, &len);
    if (!buf) return WH_ENOMEM;
    int rc = wh_store_put(st, txn, wh_store_dbi(st, table), key, klen, buf, len);
    free(buf);
    return rc;
}

static int s_next_id(wh_store_t *st, MDB_txn *txn, uint64_t *id)
{
    MDB_dbi meta = wh_store_dbi(st, "hookmeta");
    MDB_val v;
    int rc = wh_store_get(st, txn, meta, "next", 4, &v);
    if (rc && rc != WH_ENOTFOUND) return rc;
    *id = rc == 0 && v.mv_size == 8 ? wh_be64_get(v.mv_data) : 1;
    uint8_t nv[8];
    wh_be64_put(nv, *id + 1);
    return wh_store_put(st, txn, meta, "next", 4, nv, 8);
}

static void s_on_flush(uv_idle_t *h) { uv_idle_stop(h); }

/* The outbox changed in the open batch: keep the loop from sleeping before it commits (the
 * commit runs after the poll phase), and scan again after the commit. */
static void s_mark_changed(notification_webhooks_t *self)
{
    self->changed = 1;
    if (!self->closing) uv_idle_start(&self->flush, s_on_flush);
}

/* ---- enqueue: in the transaction that appends the entry ------------------------------------ */

int notification_webhooks_enqueue(notification_webhooks_t *self, MDB_txn *txn,
                                  const Whistle__V1__Envelope *env)
{
    wh_store_t *st = wh_service_store(self->svc);
    size_t tl = strlen(env->stream);
    if (tl + 1 > 96) return 0; /* longer than any topic a webhook can be registered on */
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, wh_store_dbi(st, "webhooks"), &cur)) {
        wh_store_fail(st);
        return WH_ESTORE;
    }
    MDB_val k = {tl + 1, NULL}, v;
    uint8_t prefix[96];
    memcpy(prefix, env->stream, tl);
    prefix[tl] = 0;
    k.mv_data = prefix;
    int rc = 0, queued = 0, mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    int64_t now = wh_now_ms();
    while (rc == 0 && mrc == 0 && k.mv_size > tl + 1 && memcmp(k.mv_data, prefix, tl + 1) == 0) {
        char url[S_MAX_URL + 1];
        size_t ul = k.mv_size - tl - 1;
        if (ul > S_MAX_URL) ul = S_MAX_URL;
        memcpy(url, (const char *)k.mv_data + tl + 1, ul);
        url[ul] = 0;
        Whistle__V1__WebhookDelivery d = WHISTLE__V1__WEBHOOK_DELIVERY__INIT;
        d.topic = env->stream;
        d.url = url;
        d.event_id = env->event_id;
        d.seq = env->seq;
        d.enqueued_at_ms = d.next_at_ms = now;
        d.envelope = (Whistle__V1__Envelope *)env;
        uint8_t key[S_KEY_LEN];
        rc = s_next_id(st, txn, &d.id);
        if (rc == 0) {
            s_out_key(key, now, d.id);
            rc = s_put_delivery(st, txn, "outbox", key, sizeof key, &d);
        }
        if (rc == 0) {
            queued++;
            wh_log_debug("%s: %s%" PRIu64 " queued for %s (delivery %" PRIu64 ")",
                         env->correlation_id, env->stream, env->seq, url, d.id);
        }
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND) {
        wh_store_fail(st);
        rc = WH_ESTORE;
    }
    if (rc == 0 && queued) self->changed = 1; /* the commit that follows will scan */
    return rc;
}

/* ---- libcurl on the loop ----------------------------------------------------------------- */

static void s_check_done(notification_webhooks_t *self);

static void s_handle_closed(uv_handle_t *h)
{
    notification_webhooks_t *self = h->data;
    if (--self->handles == 0) free(self);
}

static void s_sock_closed(uv_handle_t *h)
{
    struct s_sock *s = h->data;
    notification_webhooks_t *self = s->owner; /* only used when counted: then still alive */
    int counted = s->counted;
    free(s);
    if (counted && --self->handles == 0) free(self);
}

static void s_sock_close(struct s_sock *s)
{
    notification_webhooks_t *self = s->owner;
    if (s->prev) s->prev->next = s->next;
    else self->socks = s->next;
    if (s->next) s->next->prev = s->prev;
    uv_poll_stop(&s->poll);
    /* once destroy has begun, self lives until its last handle is closed */
    s->counted = self->closing;
    if (s->counted) self->handles++;
    uv_close((uv_handle_t *)&s->poll, s_sock_closed);
}

static void s_on_sock(uv_poll_t *h, int status, int events)
{
    struct s_sock *s = h->data;
    notification_webhooks_t *self = s->owner;
    int flags = 0, running;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(self->multi, s->fd, flags, &running);
    s_check_done(self);
}

static int s_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    notification_webhooks_t *self = userp;
    struct s_sock *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(self->multi, fd, NULL);
            s_sock_close(s);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) return -1;
        s->fd = fd;
        s->owner = self;
        if (uv_poll_init_socket(wh_service_loop(self->svc), &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->poll.data = s;
        s->next = self->socks;
        if (self->socks) self->socks->prev = s;
        self->socks = s;
        curl_multi_assign(self->multi, fd, s);
    }
    int events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
    uv_poll_start(&s->poll, events, s_on_sock);
    return 0;
}

static void s_on_curl_timer(uv_timer_t *h)
{
    notification_webhooks_t *self = h->data;
    int running;
    curl_multi_socket_action(self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    s_check_done(self);
}

static int s_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    notification_webhooks_t *self = userp;
    if (self->closing) return 0;
    if (timeout_ms < 0) uv_timer_stop(&self->curl_timer);
    else uv_timer_start(&self->curl_timer, s_on_curl_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static size_t s_discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
    (void)ptr;
    (void)arg;
    return size * nmemb;
}

static void s_flight_free(struct s_flight *f)
{
    if (!f) return;
    if (f->easy) {
        curl_multi_remove_handle(f->owner->multi, f->easy);
        curl_easy_cleanup(f->easy);
    }
    curl_slist_free_all(f->headers);
    free(f);
}

/* Starts the POST of delivery `d` (stored under `key`). 0, or <0 when it could not start. */
static int s_start(notification_webhooks_t *self, const Whistle__V1__WebhookDelivery *d,
                   const uint8_t key[S_KEY_LEN])
{
    struct s_flight *f = calloc(1, sizeof *f);
    if (!f) return WH_ENOMEM;
    f->owner = self;
    f->id = d->id;
    memcpy(f->key, key, S_KEY_LEN);
    char *body = NULL;
    if (d->envelope) {
        json_t *j = wh_message_to_json(&d->envelope->base);
        body = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
    }
    char h[5][200];
    snprintf(h[0], sizeof h[0], "X-Whistle-Event-Id: %.*s", (int)wh_utf8_prefix(d->event_id, 150),
             d->event_id);
    snprintf(h[1], sizeof h[1], "X-Whistle-Topic: %.*s", (int)wh_utf8_prefix(d->topic, 150),
             d->topic);
    snprintf(h[2], sizeof h[2], "X-Whistle-Seq: %" PRIu64, d->seq);
    snprintf(h[3], sizeof h[3], "X-Whistle-Delivery: %" PRIu64, d->id);
    snprintf(h[4], sizeof h[4], "X-Whistle-Attempt: %u", d->attempts + 1);
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
    for (int i = 0; hl && i < 5; i++) {
        struct curl_slist *n = curl_slist_append(hl, h[i]);
        if (!n) {
            curl_slist_free_all(hl);
            hl = NULL;
        }
        hl = n;
    }
    f->headers = hl;
    f->easy = curl_easy_init();
    if (!body || !hl || !f->easy) {
        free(body);
        s_flight_free(f);
        return WH_ENOMEM;
    }
    CURL *e = f->easy;
    curl_easy_setopt(e, CURLOPT_URL, d->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)self->cfg.timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "whistle-notification/" WHISTLE_VERSION);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s_discard);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->error);
    curl_easy_setopt(e, CURLOPT_PRIVATE, f);
    free(body);
    if (curl_multi_add_handle(self->multi, e) != CURLM_OK) {
        s_flight_free(f);
        return WH_ENOMEM;
    }
    self->flights[self->n_flights++] = f;
    wh_log_debug("POST %s: %s%" PRIu64 " (delivery %" PRIu64 ", attempt %u)", d->url, d->topic,
                 d->seq, d->id, d->attempts + 1);
    return 0;
}

/* Records the outcome of a finished POST in the batch: removed from the outbox on success,
 * otherwise moved later, or to the dead letters after the last attempt. */
static void s_finish(notification_webhooks_t *self, struct s_flight *f, int ok,
                     const char *error)
{
    wh_store_t *st = wh_service_store(self->svc);
    s_mark_changed(self); /* whatever happens here, look at the outbox again */
    MDB_txn *txn = wh_service_txn(self->svc);
    if (!txn) return;
    MDB_dbi outbox = wh_store_dbi(st, "outbox");
    MDB_val v;
    if (wh_store_get(st, txn, outbox, f->key, S_KEY_LEN, &v) != 0) return;
    Whistle__V1__WebhookDelivery *d = whistle__v1__webhook_delivery__unpack(NULL, v.mv_size,
                                                                             v.mv_data);
    if (!d) {
        wh_log_error("delivery %" PRIu64 " in the outbox does not decode; dropped", f->id);
        wh_store_del(st, txn, outbox, f->key, S_KEY_LEN);
        return;
    }
    if (wh_store_del(st, txn, outbox, f->key, S_KEY_LEN) != 0) goto out;
    d->attempts++;
    int64_t now = wh_now_ms();
    if (ok) {
        wh_log_debug("%s: %s%" PRIu64 " delivered to %s after %u attempt(s)",
                     d->envelope ? d->envelope->correlation_id : "-", d->topic, d->seq, d->url,
                     d->attempts);
        goto out;
    }
    char *old_error = d->last_error;
    d->last_error = (char *)error;
    if ((int)d->attempts >= self->cfg.attempts) {
        uint8_t dk[8];
        wh_be64_put(dk, d->id);
        d->next_at_ms = 0;
        if (s_put_delivery(st, txn, "dead", dk, sizeof dk, d) == 0)
            wh_log_warn("%s: %s%" PRIu64 " to %s is dead after %u attempts (last: %s)",
                        d->envelope ? d->envelope->correlation_id : "-", d->topic, d->seq,
                        d->url, d->attempts, error);
    } else {
        d->next_at_ms = now + notification_webhook_backoff((int)d->attempts,
                                                           self->cfg.backoff_ms,
                                                           s_rand01(self));
        uint8_t key[S_KEY_LEN];
        s_out_key(key, d->next_at_ms, d->id);
        if (s_put_delivery(st, txn, "outbox", key, sizeof key, d) == 0)
            wh_log_info("%s: %s%" PRIu64 " to %s failed (%s), attempt %u of %d; next in "
                        "%" PRId64 " ms",
                        d->envelope ? d->envelope->correlation_id : "-", d->topic, d->seq,
                        d->url, error, d->attempts, self->cfg.attempts, d->next_at_ms - now);
    }
    d->last_error = old_error;
out:
    whistle__v1__webhook_delivery__free_unpacked(d, NULL);
}

static void s_check_done(notification_webhooks_t *self)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(self->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        char *priv = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        struct s_flight *f = (struct s_flight *)priv;
        CURLcode res = m->data.result;
        if (!f) continue;
        long code = 0;
        char error[CURL_ERROR_SIZE + 64];
        if (res == CURLE_OK) {
            curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &code);
            snprintf(error, sizeof error, "HTTP %ld", code);
        } else if (res == CURLE_OPERATION_TIMEDOUT) {
            snprintf(error, sizeof error, "no answer within %d ms", self->cfg.timeout_ms);
        } else {
            /* curl's message may quote the url and is cut at CURL_ERROR_SIZE: kept as UTF-8 */
            wh_snprintf_utf8(error, sizeof error, "%s",
                             f->error[0] ? f->error : curl_easy_strerror(res));
        }
        for (size_t i = 0; i < self->n_flights; i++)
            if (self->flights[i] == f) {
                self->flights[i] = self->flights[--self->n_flights];
                break;
            }
        if (!self->closing) s_finish(self, f, res == CURLE_OK && code >= 200 && code < 300, error);
        s_flight_free(f); /* removes the handle: m is not used after this */
    }
}

/* ---- the scan: start what is due, arm for the next ----------------------------------------- */

static int s_in_flight(const notification_webhooks_t *self, uint64_t id)
{
    for (size_t i = 0; i < self->n_flights; i++)
        if (self->flights[i]->id == id) return 1;
    return 0;
}

static void s_on_due(uv_timer_t *h);

static void s_scan(notification_webhooks_t *self)
{
    if (self->closing) return;
    wh_store_t *st = wh_service_store(self->svc);
    int own = !wh_store_in_batch(st);
    MDB_txn *txn;
    if (own) {
        if (mdb_txn_begin(wh_store_env(st), NULL, MDB_RDONLY, &txn)) return;
    } else if (!(txn = wh_service_txn(self->svc))) {
        return;
    }
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, wh_store_dbi(st, "outbox"), &cur)) {
        if (own) mdb_txn_abort(txn);
        return;
    }
    int64_t now = wh_now_ms(), next_due = 0;
    int more = 0; /* entries left that no timer will bring back (in flight, or no slot) */
    uint64_t orphans[S_MAX_FLIGHTS];
    uint8_t orphan_keys[S_MAX_FLIGHTS][S_KEY_LEN];
    size_t n_orphans = 0;
    MDB_val k, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != S_KEY_LEN) continue;
        int64_t due = (int64_t)wh_be64_get(k.mv_data);
        uint64_t id = wh_be64_get((const uint8_t *)k.mv_data + 8);
        if (s_in_flight(self, id)) {
            more = 1;
            continue;
        }
        if (due > now || self->n_flights == S_MAX_FLIGHTS) {
            if (due > now) next_due = due;
            else more = 1;
            break;
        }
        Whistle__V1__WebhookDelivery *d =
            whistle__v1__webhook_delivery__unpack(NULL, v.mv_size, v.mv_data);
        if (!d) continue;
        uint8_t rk[96 + S_MAX_URL];
        MDB_val rv;
        int reg = strlen(d->topic) < 96 && strlen(d->url) <= S_MAX_URL
                      ? wh_store_get(st, txn, wh_store_dbi(st, "webhooks"), rk,
                                     s_reg_key(rk, d->topic, d->url), &rv)
                      : WH_ENOTFOUND;
        if (reg == WH_ENOTFOUND) {
            if (n_orphans < S_MAX_FLIGHTS) {
                orphans[n_orphans] = id;
                memcpy(orphan_keys[n_orphans++], k.mv_data, S_KEY_LEN);
            }
        } else if (reg == 0) {
            s_start(self, d, k.mv_data);
        }
        whistle__v1__webhook_delivery__free_unpacked(d, NULL);
    }
    mdb_cursor_close(cur);
    if (own) mdb_txn_abort(txn);
    if (n_orphans && (txn = wh_service_txn(self->svc))) {
        /* the webhook was removed: what it still had pending goes with it */
        for (size_t i = 0; i < n_orphans; i++) {
            wh_store_del(st, txn, wh_store_dbi(st, "outbox"), orphan_keys[i], S_KEY_LEN);
            wh_log_info("delivery %" PRIu64 " dropped: its webhook was removed", orphans[i]);
        }
        s_mark_changed(self);
    }
    uv_timer_stop(&self->due_timer);
    if (next_due) {
        int64_t wait = next_due - wh_now_ms();
        uv_timer_start(&self->due_timer, s_on_due, wait > 0 ? (uint64_t)wait : 0, 0);
    } else if (more) {
        /* completions scan again after their commit; this only covers a batch that failed */
        uv_timer_start(&self->due_timer, s_on_due, 1000, 0);
    }
}

static void s_on_due(uv_timer_t *h) { s_scan(h->data); }

void notification_webhooks_after_commit(notification_webhooks_t *self)
{
    if (!self->changed || self->closing) return;
    self->changed = 0;
    uv_timer_stop(&self->due_timer);
    uv_timer_start(&self->due_timer, s_on_due, 0, 0);
}

void notification_webhooks_stats(notification_webhooks_t *self, MDB_txn *txn, wh_metrics_t *m)
{
    wh_store_t *st = wh_service_store(self->svc);
    static const struct {
        const char *table, *name, *help;
    } tables[] = {
        {"outbox", "whistle_webhook_outbox", "Webhook deliveries waiting in the outbox."},
        {"dead", "whistle_webhook_dead", "Webhook deliveries given up after the last attempt."},
        {"webhooks", "whistle_webhooks", "Webhooks registered."},
    };
    MDB_stat ms;
    for (size_t i = 0; txn && i < sizeof tables / sizeof tables[0]; i++)
        if (mdb_stat(txn, wh_store_dbi(st, tables[i].table), &ms) == 0)
            wh_metrics_add(m, WH_METRIC_GAUGE, tables[i].name, tables[i].help,
                           (double)ms.ms_entries, NULL);
    wh_metrics_add(m, WH_METRIC_GAUGE, "whistle_webhook_in_flight", "Webhook POSTs in flight.",
                   (double)self->n_flights, NULL);
}

/* ---- requests -------------------------------------------------------------------------------- */

/* Counts outbox entries per registration, into `hooks` (matched by topic and url). */
static uint64_t s_count_pending(wh_store_t *st, MDB_txn *txn, Whistle__V1__Webhook **hooks,
                                size_t n)
{
    MDB_cursor *cur;
    MDB_stat ms;
    if (mdb_stat(txn, wh_store_dbi(st, "outbox"), &ms) != 0) return 0;
    if (n == 0 || mdb_cursor_open(txn, wh_store_dbi(st, "outbox"), &cur)) return ms.ms_entries;
    MDB_val k, v;
    for (int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Whistle__V1__WebhookDelivery *d =
            whistle__v1__webhook_delivery__unpack(NULL, v.mv_size, v.mv_data);
        if (!d) continue;
        for (size_t i = 0; i < n; i++)
            if (strcmp(hooks[i]->topic, d->topic) == 0 && strcmp(hooks[i]->url, d->url) == 0)
                hooks[i]->pending++;
        whistle__v1__webhook_delivery__free_unpacked(d, NULL);
    }
    mdb_cursor_close(cur);
    return ms.ms_entries;
}

static int s_list(notification_webhooks_t *self, MDB_txn *txn, const struct wh_peer *peer,
                  int with_dead, uint32_t limit, notification_topic_fn may_see, void *arg)
{
    wh_store_t *st = wh_service_store(self->svc);
    Whistle__V1__WebhookListReply lr = WHISTLE__V1__WEBHOOK_LIST_REPLY__INIT;
    Whistle__V1__Webhook **hooks = NULL;
    Whistle__V1__WebhookDelivery **dead = NULL;
    size_t n = 0, cap = 0, nd = 0;
    MDB_cursor *cur;
    MDB_val k, v;
    if (mdb_cursor_open(txn, wh_store_dbi(st, "webhooks"), &cur) == 0) {
        for (int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
             mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            Whistle__V1__Webhook *w = whistle__v1__webhook__unpack(NULL, v.mv_size, v.mv_data);
            if (!w) continue;
            if (may_see && !may_see(arg, peer, w->topic)) {
                whistle__v1__webhook__free_unpacked(w, NULL);
                continue;
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                Whistle__V1__Webhook **nh = realloc(hooks, cap * sizeof *nh);
                if (!nh) {
                    whistle__v1__webhook__free_unpacked(w, NULL);
                    break;
                }
                hooks = nh;
            }
            w->pending = 0;
            hooks[n++] = w;
        }
        mdb_cursor_close(cur);
    }
    lr.pending = s_count_pending(st, txn, hooks, n);
    MDB_stat ms;
    if (mdb_stat(txn, wh_store_dbi(st, "dead"), &ms) == 0) lr.dead_count = ms.ms_entries;
    if (with_dead && lr.dead_count && mdb_cursor_open(txn, wh_store_dbi(st, "dead"), &cur) == 0) {
        /* the most recent first: ids grow with time */
        size_t max = limit ? limit : 100;
        dead = calloc(max, sizeof *dead);
        for (int mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST); dead && mrc == 0 && nd < max;
             mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
            Whistle__V1__WebhookDelivery *d =
                whistle__v1__webhook_delivery__unpack(NULL, v.mv_size, v.mv_data);
            if (!d) continue;
            if (may_see && !may_see(arg, peer, d->topic)) {
                whistle__v1__webhook_delivery__free_unpacked(d, NULL);
                continue;
            }
            dead[nd++] = d;
        }
        mdb_cursor_close(cur);
    }
    lr.webhooks = hooks;
    lr.n_webhooks = n;
    lr.dead = dead;
    lr.n_dead = nd;
    Whistle__V1__Reply reply = WHISTLE__V1__REPLY__INIT;
    reply.body_case = WHISTLE__V1__REPLY__BODY_WEBHOOKS;
    reply.webhooks = &lr;
    wh_service_reply(self->svc, peer, &reply);
    for (size_t i = 0; i < n; i++) whistle__v1__webhook__free_unpacked(hooks[i], NULL);
    for (size_t i = 0; i < nd; i++) whistle__v1__webhook_delivery__free_unpacked(dead[i], NULL);
    free(hooks);
    free(dead);
    return 0;
}

int notification_webhooks_request(notification_webhooks_t *self, MDB_txn *txn,
                                   const struct wh_peer *peer, const Whistle__V1__Request *req,
                                  notification_topic_fn may_see, void *arg)
{
    wh_service_t *svc = self->svc;
    wh_store_t *st = wh_service_store(svc);
    struct wh_field_error fe;
    if (req->body_case == WHISTLE__V1__REQUEST__BODY_WEBHOOK_LIST) {
        return s_list(self, txn, peer, req->webhook_list->dead, req->webhook_list->limit, may_see,
                      arg);
    }
    int add = req->body_case == WHISTLE__V1__REQUEST__BODY_WEBHOOK_ADD;
    const char *prefix = add ? "webhook_add" : "webhook_remove";
    const char *topic = add ? req->webhook_add->topic : req->webhook_remove->topic;
    const char *url = add ? req->webhook_add->url : req->webhook_remove->url;
    if (notification_webhook_check(prefix, topic, url, &fe)) {
        wh_service_error(svc, peer, fe.code, fe.field, fe.message, 0);
        return 0;
    }
    if (may_see && !may_see(arg, peer, topic)) {
        char msg[160];
        wh_snprintf_utf8(msg, sizeof msg, "this key may not receive topic '%s'", topic);
        char field[64];
        snprintf(field, sizeof field, "%s.topic", prefix);
        wh_service_error(svc, peer, WH_EFORBIDDEN, field, msg, 0);
        return 0;
    }
    uint8_t key[96 + S_MAX_URL];
    size_t klen = s_reg_key(key, topic, url);
    MDB_dbi hooks = wh_store_dbi(st, "webhooks");
    MDB_val v;
    int rc = wh_store_get(st, txn, hooks, key, klen, &v);
    if (rc && rc != WH_ENOTFOUND) return rc; /* the batch fails */
    if (add && rc == WH_ENOTFOUND) {
        Whistle__V1__Webhook w = WHISTLE__V1__WEBHOOK__INIT;
        w.topic = (char *)topic;
        w.url = (char *)url;
        w.created_at_ms = wh_now_ms();
        size_t len;
        uint8_t *buf = wh_pack(&w.base, &len);
        if (!buf) return WH_ENOMEM;
        rc = wh_store_put(st, txn, hooks, key, klen, buf, len);
        free(buf);
        if (rc) return rc;
        wh_log_info("webhook added: %s -> %s", topic, url);
    } else if (!add) {
        if (rc == WH_ENOTFOUND) {
            char msg[200];
            snprintf(msg, sizeof msg, "no webhook for %.*s on %.*s",
                     (int)wh_utf8_prefix(url, 100), url, (int)wh_utf8_prefix(topic, 60), topic);
            wh_service_error(svc, peer, WH_ENOTFOUND, "webhook_remove.url", msg, 0);
            return 0;
        }
        if ((rc = wh_store_del(st, txn, hooks, key, klen))) return rc;
        wh_log_info("webhook removed: %s -> %s", topic, url);
        s_mark_changed(self); /* its pending deliveries are dropped by the next scan */
    }
    return s_list(self, txn, peer, 0, 0, may_see, arg);
}

/* ---- lifecycle ------------------------------------------------------------------------------- */

notification_webhooks_t *notification_webhooks_new(wh_service_t *svc,
                                                   const struct notification_webhook_config *cfg)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        wh_log_error("webhooks: libcurl did not initialise");
        return NULL;
    }
    notification_webhooks_t *self = calloc(1, sizeof *self);
    if (!self) {
        curl_global_cleanup();
        return NULL;
    }
    self->svc = svc;
    self->cfg = *cfg;
    self->rand_state = ((uint64_t)wh_now_ms() << 20) ^ (uint64_t)getpid() ^ 0x9E3779B97F4A7C15ULL;
    self->multi = curl_multi_init();
    if (!self->multi) {
        free(self);
        curl_global_cleanup();
        return NULL;
    }
    curl_multi_setopt(self->multi, CURLMOPT_SOCKETFUNCTION, s_curl_socket);
    curl_multi_setopt(self->multi, CURLMOPT_SOCKETDATA, self);
    curl_multi_setopt(self->multi, CURLMOPT_TIMERFUNCTION, s_curl_timer);
    curl_multi_setopt(self->multi, CURLMOPT_TIMERDATA, self);
    uv_loop_t *loop = wh_service_loop(svc);
    uv_timer_init(loop, &self->curl_timer);
    uv_timer_init(loop, &self->due_timer);
    uv_idle_init(loop, &self->flush);
    self->curl_timer.data = self->due_timer.data = self->flush.data = self;
    /* deliveries left in the outbox by the last run (a crash, a stop) start now */
    uv_timer_start(&self->due_timer, s_on_due, 0, 0);
    wh_log_info("webhooks: %d attempts, %d ms per POST, first retry after %d ms",
                cfg->attempts, cfg->timeout_ms, cfg->backoff_ms);
    return self;
}

void notification_webhooks_destroy(notification_webhooks_t **self_p)
{
    if (!self_p || !*self_p) return;
    notification_webhooks_t *self = *self_p;
    *self_p = NULL;
    self->closing = 1;
    self->handles = 3; /* the timers and the idle below; sockets add themselves */
    /* in flight: never acknowledged, so still in the outbox for the next start */
    while (self->n_flights) s_flight_free(self->flights[--self->n_flights]);
    curl_multi_setopt(self->multi, CURLMOPT_SOCKETFUNCTION, NULL);
    curl_multi_setopt(self->multi, CURLMOPT_TIMERFUNCTION, NULL);
    curl_multi_cleanup(self->multi);
    curl_global_cleanup();
    while (self->socks) s_sock_close(self->socks);
    uv_close((uv_handle_t *)&self->curl_timer, s_handle_closed);
    uv_close((uv_handle_t *)&self->due_timer, s_handle_closed);
    uv_close((uv_handle_t *)&self->flush, s_handle_closed);
}
