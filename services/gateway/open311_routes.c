/* open311_routes.c: Open311 GeoReport v2 on the gateway: each endpoint's HTTP request read
 * with open311.h's pure functions, turned into requests to intake (POST requests) and
 * tracking (every read), made on behalf of the caller, and answered with the spec's documents
 * and errors in the format the URL names (.json or .xml).
 *
 * Who the caller is: POST requests needs an api_key that the --api-keys file lists as an
 * integrator ('<key> integrator <code>'); the report is submitted as that integrator. Reads
 * take an optional api_key (or a bearer header) and are then made as that key; without one
 * they are the public reads of the spec, made by the gateway itself. With --open no key file
 * exists: any api_key is taken, as the integrator "open311".
 *
 * A POST is answered with the case id only after intake's reply (intake replies after its
 * durable commit), and once tracking holds the case (or the backend timeout passed), so
 * that a read right after the POST finds it. */
#include "open311_routes.h"
#include "open311.h"
#include "stream.h"
#include "whistle/eventlog.h"
#include "whistle/catalog.h"
#include "whistle/clock.h"
#include "whistle/codec.h"
#include "whistle/error.h"
#include "whistle/wlog.h"
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The integrator a POST is submitted as with --open (no key file). */
#define S_OPEN_INTEGRATOR "open311"
/* A POST answers once tracking holds the new case (a read right after it finds the case): it
 * waits for the case's first entry on notification's case/<id>/ topic (notification has it
 * only once tracking does), asking tracking once after subscribing; this slow ask is only the
 * backstop for an entry published before the subscription reached notification. It was a
 * poll of tracking every 20 ms: under load several GetCase per report on tracking's loop. */
#define S_POLL_MS 250

/* A packed CaseReply kept for the answer. */
struct s_kept {
    uint8_t *buf;
    size_t len;
};

/* One Open311 request's state (gw_req.state). */
struct s_state {
    gateway_t *gw;
    struct gw_req *r;
    enum open311_format fmt;
    /* POST requests */
    char case_id[64];
    char service_code[128];
    int64_t wait_until_ms; /* tracking is asked for the case until then */
    uv_timer_t *timer;     /* between two asks; closed (and freed) with the state */
    gw_streams_t *waiting; /* the case/<id>/ wait is on these streams (unwaited when freed) */
    int answered;          /* the POST is answered: a late reply or entry does nothing */
    /* GET requests */
    struct open311_query q;
    size_t next_id;                 /* with ids: the next one to ask */
    char after[64];                 /* without: the next page starts after this case */
    struct s_kept *kept;            /* the cases to answer, oldest first (a ring) */
    size_t cap, n_kept, first_kept; /* its size, how many, where the oldest is */
    /* tokens */
    char token[GW_PARAM_MAX];
};

static void s_timer_closed(uv_handle_t *h)
{
    free(h);
}

static void s_state_free(void *arg)
{
    struct s_state *s = arg;
    if (!s) return;
    if (s->waiting) gateway_streams_unwait(s->waiting, s);
    if (s->timer) {
        uv_timer_stop(s->timer);
        uv_close((uv_handle_t *)s->timer, s_timer_closed);
    }
    for (size_t i = 0; i < s->n_kept; i++)
        free(s->kept[(s->first_kept + i) % s->cap].buf);
    free(s->kept);
    open311_query_clear(&s->q);
    free(s);
}

static struct s_state *s_state(gateway_t *gw, struct gw_req *r, enum open311_format fmt)
{
    struct s_state *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->gw = gw;
    s->r = r;
    s->fmt = fmt;
    r->state = s;
    r->state_free = s_state_free;
    return s;
}

/* ---- answers ----------------------------------------------------------------------------- */

/* Answers with the document in `b` (taken). */
static void s_answer(struct gw_req *r, unsigned status, enum open311_format fmt,
                     struct open311_buf *b)
{
    gateway__answer_text(r, status, open311_format_content_type(fmt), b->data, b->len);
    memset(b, 0, sizeof *b);
}

/* Answers with the spec's error document for `err`. */
static void s_error(struct gw_req *r, enum open311_format fmt, const struct open311_error *err)
{
    struct open311_buf b = {0};
    unsigned status = err->status >= 400 && err->status <= 599 ? (unsigned)err->status : 500;
    if (open311_render_error(&b, fmt, err)) {
        open311_buf_free(&b);
        gateway__answer_text(r, 500, NULL, NULL, 0);
        return;
    }
    s_answer(r, status, fmt, &b);
}

static void s_errorf(struct gw_req *r, enum open311_format fmt, int status, const char *field,
                     const char *msg)
{
    struct open311_error err;
    open311_error_set(&err, status, field, "%s", msg);
    s_error(r, fmt, &err);
}

/* A document rendered (rc 0) or out of memory. */
static void s_rendered(struct gw_req *r, enum open311_format fmt, int rc, struct open311_buf *b)
{
    if (rc) {
        open311_buf_free(b);
        s_errorf(r, fmt, 500, "", "out of memory; try again");
        return;
    }
    s_answer(r, 200, fmt, b);
}

/* The backend did not answer, or refused: the Open311 error. 1 when answered so. */
static int s_refused(struct gw_req *r, enum open311_format fmt, int svc,
                     const Whistle__V1__Reply *reply, int err)
{
    if (!reply) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s%s did not answer within %d ms; try again",
                 gateway__district_where(r), gateway__backend_name(svc),
                 gateway__config(r->gw)->backend_timeout_ms);
        (void)err;
        s_errorf(r, fmt, 503, "", msg);
        return 1;
    }
    if (reply->body_case == WHISTLE__V1__REPLY__BODY_ERROR) {
        struct open311_error e;
        open311_error_from_reply(&e, reply->error);
        s_error(r, fmt, &e);
        return 1;
    }
    return 0;
}

/* A request the service would not take (not connected, out of memory). */
static void s_unsent(struct gw_req *r, enum open311_format fmt, int svc)
{
    char msg[160];
    snprintf(msg, sizeof msg,
             "%s%s is not reachable (not running, or not connected yet); try again",
             gateway__district_where(r), gateway__backend_name(svc));
    s_errorf(r, fmt, 503, "", msg);
}

/* ---- the request's format, query and caller ---------------------------------------------- */

/* The format the URL names: the pattern's own extension, or the one of its captured last
 * segment ("C00000001.json"), which is cut off `name`. 0 when neither is json nor xml. */
static enum open311_format s_format(const struct gw_match *m, char *name, size_t size)
{
    const char *pat = m->route->pattern;
    size_t plen = strlen(pat);
    name[0] = 0;
    if (plen >= 2 && strcmp(pat + plen - 2, "{}") == 0) {
        const char *seg = m->param[m->n - 1];
        const char *dot = strrchr(seg, '.');
        if (!dot || dot == seg || (size_t)(dot - seg) >= size) return 0;
        snprintf(name, size, "%.*s", (int)(dot - seg), seg);
        return open311_format_parse(dot + 1);
    }
    const char *dot = strrchr(pat, '.');
    return dot ? open311_format_parse(dot + 1) : 0;
}

/* Collects MHD's (raw: the gateway unescapes nothing) query arguments as a query string. */
struct s_raw {
    struct open311_buf b;
    int rc;
};

static enum MHD_Result s_raw_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    struct s_raw *a = cls;
    if (a->b.len && (a->rc = open311_buf_append(&a->b, "&", 1))) return MHD_NO;
    if ((a->rc = open311_buf_append(&a->b, key, strlen(key)))) return MHD_NO;
    if (value && ((a->rc = open311_buf_append(&a->b, "=", 1)) ||
                  (a->rc = open311_buf_append(&a->b, value, strlen(value)))))
        return MHD_NO;
    return MHD_YES;
}

/* The query string decoded as a form (each field checked: escapes, NUL, UTF-8). */
static int s_query(struct gw_req *r, struct open311_form *q, struct open311_error *err)
{
    struct s_raw a = {{0}, 0};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, s_raw_arg, &a);
    int rc = a.rc ? open311_error_set(err, 500, "", "out of memory; try again")
                  : open311_form_decode(q, a.b.data ? a.b.data : "", a.b.len, err);
    open311_buf_free(&a.b);
    return rc;
}

/* Who reads: a bearer key, else the query's api_key, else nobody (the public reads, made by
 * the gateway). 0, or a negative number with `err` (403: a key this gateway does not know). */
static int s_reader(gateway_t *gw, struct gw_req *r, const struct open311_form *q,
                    struct open311_error *err)
{
    if (gateway__config(gw)->open) return 0;
    const char *h = gateway__header(r, "Authorization");
    const char *key = NULL, *field = "api_key";
    if (h && strncmp(h, "Bearer ", 7) == 0) {
        key = h + 7;
        while (*key == ' ')
            key++;
        field = "Authorization";
    } else {
        key = open311_form_get(q, "api_key");
    }
    if (!key || !key[0]) return 0;
    if (!gateway__key_lookup(gw, r, key, &r->who))
        return r->key_elsewhere
                   ? open311_error_set(err, 403, field, "%s: this key is not for jurisdiction '%s'",
                                       field, gateway__district_code(gw, r->district))
                   : open311_error_set(err, 403, field, "%s: not a key this service knows", field);
    return 0;
}

/* The district the request is for: its jurisdiction_id (the query's, else the body's), which
 * sets r->district. With one district a missing one is that district and a wrong one is left
 * to the checks that refuse it as before; with several, an unknown one is 404 and a missing
 * one 400, both listing the jurisdictions served, unless `city` (discovery: all of them). */
static int s_jurisdiction(gateway_t *gw, struct gw_req *r, const struct open311_form *q,
                          const struct open311_form *body, int city, struct open311_error *err)
{
    const char *jur = open311_form_get(q, "jurisdiction_id");
    if ((!jur || !jur[0]) && body) jur = open311_form_get(body, "jurisdiction_id");
    int n = gateway__n_districts(gw);
    char list[400];
    gateway__district_list(gw, list, sizeof list);
    r->district = 0;
    if (jur && jur[0]) {
        int d = gateway__district_find(gw, jur);
        if (d < 0 && n > 1)
            return open311_error_set(err, 404, "jurisdiction_id",
                                     "jurisdiction_id: '%s' is not served here (these are: %s)",
                                     jur, list);
        r->district = d < 0 ? 0 : d;
        return 0;
    }
    if (n > 1 && !city)
        return open311_error_set(err, 400, "jurisdiction_id",
                                 "jurisdiction_id: required, this gateway serves several "
                                 "jurisdictions (%s)",
                                 list);
    return 0;
}

/* Routes whose only arguments are jurisdiction_id and api_key: both checked, the caller set. */
static int s_plain_query_city(gateway_t *gw, struct gw_req *r, int city, struct open311_error *err)
{
    struct open311_form q = {0};
    int rc = s_query(r, &q, err);
    if (!rc) rc = s_jurisdiction(gw, r, &q, NULL, city, err);
    if (rc) {
        open311_form_clear(&q);
        return rc;
    }
    const struct wh_catalog *cat = gateway__catalog(gw, r->district);
    for (size_t i = 0; i < q.n && !rc; i++) {
        const char *k = q.params[i].key, *v = q.params[i].value;
        if (strcmp(k, "jurisdiction_id") == 0) {
            if (v[0] && strcmp(v, cat->district_code) != 0)
                rc = open311_error_set(err, 404, k, "%s: '%s' is not served here (this is '%s')", k,
                                       v, cat->district_code);
        } else if (strcmp(k, "api_key") != 0) {
            rc = open311_error_set(err, 400, k,
                                   "%s: not an argument of this endpoint (jurisdiction_id and "
                                   "api_key are)",
                                   k);
        }
    }
    if (!rc) rc = s_reader(gw, r, &q, err);
    open311_form_clear(&q);
    return rc;
}

static int s_plain_query(gateway_t *gw, struct gw_req *r, struct open311_error *err)
{
    return s_plain_query_city(gw, r, 0, err);
}

/* The format, or a 404 answered (in JSON: the URL names no format). */
static enum open311_format s_fmt_or_404(struct gw_req *r, const struct gw_match *m, char *name,
                                        size_t size)
{
    enum open311_format f = s_format(m, name, size);
    if (!f)
        s_errorf(r, OPEN311_JSON, 404, "format",
                 "format: this endpoint answers in .json or .xml (e.g. services.json)");
    return f;
}

/* ---- discovery, services, a service definition ------------------------------------------- */

/* The base URL clients use: the Host they asked, when it is a plain host[:port]. */
static void s_base_url(gateway_t *gw, struct gw_req *r, char *url, size_t size)
{
    const char *host = gateway__header(r, "Host");
    int ok = host && host[0] && strlen(host) < 200;
    for (const char *p = host; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             *p == '.' || *p == '-' || *p == ':' || *p == '[' || *p == ']';
    if (ok)
        snprintf(url, size, "http://%s/", host);
    else
        snprintf(url, size, "http://%s/", gateway__config(gw)->http);
}

void gateway_open311_discovery(gateway_t *gw, struct gw_req *r, const struct gw_match *m)
{
    char name[8], url[256];
    enum open311_format f = s_fmt_or_404(r, m, name, sizeof name);
    struct open311_error err;
    if (!f) return;
    if (s_plain_query_city(gw, r, 1, &err)) {
        s_error(r, f, &err);
        return;
    }
    s_base_url(gw, r, url, sizeof url);
    /* the jurisdictions served: every district's, or the one asked for */
    int n = gateway__n_districts(gw);
    const struct wh_catalog *cats[64];
    size_t n_cats = 0;
    int64_t changeset = 0;
    for (int i = 0; i < n && n_cats < 64; i++) {
        cats[n_cats++] = gateway__catalog(gw, i);
        if (gateway__catalog_mtime_ms(gw, i) > changeset)
            changeset = gateway__catalog_mtime_ms(gw, i);
    }
    struct open311_site site = {
        url, NULL, NULL, changeset, n > 1 ? cats : NULL, n > 1 ? n_cats : 0};
    struct open311_buf b = {0};
    s_rendered(r, f, open311_render_discovery(&b, f, gateway__catalog(gw, r->district), &site), &b);
}

void gateway_open311_services(gateway_t *gw, struct gw_req *r, const struct gw_match *m)
{
    char name[8];
    enum open311_format f = s_fmt_or_404(r, m, name, sizeof name);
    struct open311_error err;
    if (!f) return;
    if (s_plain_query(gw, r, &err)) {
        s_error(r, f, &err);
        return;
    }
    struct open311_buf b = {0};
    s_rendered(r, f, open311_render_services(&b, f, gateway__catalog(gw, r->district)), &b);
}

void gateway_open311_definition(gateway_t *gw, struct gw_req *r, const struct gw_match *m)
{
    char code[GW_PARAM_MAX];
    enum open311_format f = s_fmt_or_404(r, m, code, sizeof code);
    struct open311_error err;
    if (!f) return;
    if (s_plain_query(gw, r, &err)) {
        s_error(r, f, &err);
        return;
    }
    struct open311_buf b = {0};
    int rc =
        open311_render_service_definition(&b, f, gateway__catalog(gw, r->district), code, &err);
    if (rc == -404) {
        open311_buf_free(&b);
        s_error(r, f, &err);
        return;
    }
    s_rendered(r, f, rc, &b);
}

/* ---- POST requests ------------------------------------------------------------------------ */

struct s_ident {
    gateway_t *gw;
    struct gw_req *r;
    int wrong_kind; /* the key is known, but not an integrator's */
};

/* open311_identify_fn: the key file's integrator; with --open, any key. */
static int s_identify(void *arg, const char *api_key, char *code, size_t size)
{
    struct s_ident *id = arg;
    if (gateway__config(id->gw)->open) {
        snprintf(code, size, "%s", S_OPEN_INTEGRATOR);
        return 1;
    }
    struct wh_identity who;
    if (!gateway__key_lookup(id->gw, id->r, api_key, &who)) return 0;
    if (who.kind != WH_KIND_INTEGRATOR) {
        id->wrong_kind = 1;
        return 0;
    }
    id->r->who = who; /* the report is submitted on behalf of this integrator */
    snprintf(code, size, "%s", who.code);
    return 1;
}

static void s_submitted(struct s_state *s)
{
    if (s->answered) return;
    s->answered = 1;
    if (s->waiting) {
        gateway_streams_unwait(s->waiting, s);
        s->waiting = NULL;
    }
    struct open311_buf b = {0};
    s_rendered(s->r, s->fmt,
               open311_render_submitted(&b, s->fmt, gateway__catalog(s->gw, s->r->district),
                                        s->case_id, s->service_code),
               &b);
}

static void s_ask_tracking(struct s_state *s);

/* The case's first entry reached notification: tracking holds it. */
static void s_on_case_entry(void *arg)
{
    struct s_state *s = arg;
    s->waiting = NULL; /* the wait is spent */
    s_submitted(s);
}

static void s_on_poll_timer(uv_timer_t *t)
{
    struct s_state *s = t->data;
    if (!s->answered) s_ask_tracking(s);
}

static void s_on_tracking(struct gw_req *r, int svc, const Whistle__V1__Reply *reply, int err)
{
    (void)svc;
    (void)err;
    struct s_state *s = r->state;
    if (s->answered) return;
    int missing = reply && reply->body_case == WHISTLE__V1__REPLY__BODY_ERROR &&
                  reply->error->code == WH_ENOTFOUND;
    if (missing && wh_mono_ms() < s->wait_until_ms) {
        if (!s->timer) {
            s->timer = malloc(sizeof *s->timer);
            if (!s->timer || uv_timer_init(gateway__loop(s->gw), s->timer)) {
                free(s->timer);
                s->timer = NULL;
                s_submitted(s);
                return;
            }
            s->timer->data = s;
        }
        uv_timer_start(s->timer, s_on_poll_timer, S_POLL_MS, 0);
        return;
    }
    /* held by tracking, or not within the wait: the case is durable in intake either way */
    s_submitted(s);
}

/* Asks tracking for the new case (a read right after the POST should find it). */
static void s_ask_tracking(struct s_state *s)
{
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__GetCase g = WHISTLE__V1__GET_CASE__INIT;
    g.case_id = s->case_id;
    req.body_case = WHISTLE__V1__REQUEST__BODY_GET_CASE;
    req.get_case = &g;
    if (gateway__call(s->gw, s->r, GW_TRACKING, &req, s_on_tracking)) s_submitted(s);
}

static void s_on_submit(struct gw_req *r, int svc, const Whistle__V1__Reply *reply, int err)
{
    struct s_state *s = r->state;
    if (s_refused(r, s->fmt, svc, reply, err)) return;
    if (reply->body_case != WHISTLE__V1__REPLY__BODY_SUBMIT_REPORT ||
        !reply->submit_report->case_id) {
        s_errorf(r, s->fmt, 502, "", "intake answered another request");
        return;
    }
    snprintf(s->case_id, sizeof s->case_id, "%s", reply->submit_report->case_id);
    s->wait_until_ms = wh_mono_ms() + gateway__config(s->gw)->backend_timeout_ms;
    /* subscribed before asking: an entry published after tracking says "not yet" is seen */
    char topic[WH_STREAM_MAX + 1];
    gw_streams_t *st = gateway__streams(s->gw, r->district);
    snprintf(topic, sizeof topic, "case/%s/", s->case_id);
    if (st && gateway_streams_wait(st, topic, s_on_case_entry, s) == 0) s->waiting = st;
    s_ask_tracking(s);
}

/* A fresh idempotency key for a POST without an Idempotency-Key header. */
static int s_fresh_key(char *key, size_t size)
{
    unsigned char rnd[16];
    if (uv_random(NULL, NULL, rnd, sizeof rnd, 0, NULL)) return -1;
    int n = snprintf(key, size, "gw-");
    for (size_t i = 0; i < sizeof rnd && (size_t)n + 2 < size; i++)
        n += snprintf(key + n, size - (size_t)n, "%02x", rnd[i]);
    return 0;
}

/* The body's media type is form-urlencoded (or not given). */
static int s_form_type(struct gw_req *r)
{
    const char *ct = gateway__header(r, "Content-Type");
    static const char form[] = "application/x-www-form-urlencoded";
    if (!ct) return 1;
    while (*ct == ' ')
        ct++;
    return strncasecmp(ct, form, sizeof form - 1) == 0 &&
           (ct[sizeof form - 1] == 0 || ct[sizeof form - 1] == ';' || ct[sizeof form - 1] == ' ');
}

void gateway_open311_submit(gateway_t *gw, struct gw_req *r, const struct gw_match *m)
{
    char name[8], fresh[64];
    enum open311_format f = s_fmt_or_404(r, m, name, sizeof name);
    if (!f) return;
    struct open311_error err;
    struct open311_form q = {0}, body = {0};
    struct open311_submit sub;
    struct s_ident id = {gw, r, 0};
    if (!s_form_type(r)) {
        s_errorf(r, f, 400, "Content-Type",
                 "Content-Type: POST requests takes an application/x-www-form-urlencoded body");
        return;
    }
    if (s_query(r, &q, &err) ||
        open311_form_decode(&body, r->body ? r->body : "", r->body_len, &err) ||
        s_jurisdiction(gw, r, &q, &body, 0, &err))
        goto refused;
    const char *key = gateway__header(r, "Idempotency-Key");
    if (!key) {
        if (s_fresh_key(fresh, sizeof fresh)) {
            open311_error_set(&err, 503, "", "no random bytes for an idempotency key; try again");
            goto refused;
        }
        key = fresh;
    }
    if (open311_submit_parse(&sub, gateway__catalog(gw, r->district), &q, &body, key, s_identify,
                             &id, &err)) {
        if (id.wrong_kind && err.status == 403)
            open311_error_set(&err, 403, "api_key",
                              "api_key: this key is not an integrator's; POST requests takes an "
                              "integrator's key");
        goto refused;
    }
    struct s_state *s = s_state(gw, r, f);
    if (!s) {
        open311_submit_clear(&sub);
        open311_error_set(&err, 503, "", "out of memory; try again");
        goto refused;
    }
    snprintf(s->service_code, sizeof s->service_code, "%s", sub.report.matter);
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    req.body_case = WHISTLE__V1__REQUEST__BODY_SUBMIT_REPORT;
    req.submit_report = &sub.sr;
    if (gateway__call(gw, r, GW_INTAKE, &req, s_on_submit)) s_unsent(r, f, GW_INTAKE);
    open311_submit_clear(&sub);
    open311_form_clear(&q);
    open311_form_clear(&body);
    return;
refused:
    open311_form_clear(&q);
    open311_form_clear(&body);
    s_error(r, f, &err);
}

/* ---- GET requests ------------------------------------------------------------------------- */

/* Keeps `c` (with its last history line, if any) for the answer; the oldest goes when full. */
static int s_keep(struct s_state *s, const Whistle__V1__Case *c, size_t n_history,
                  Whistle__V1__HistoryEntry **history)
{
    Whistle__V1__CaseReply cr = WHISTLE__V1__CASE_REPLY__INIT;
    cr.case_ = (Whistle__V1__Case *)c;
    cr.n_history = n_history ? 1 : 0;
    cr.history = n_history ? &history[n_history - 1] : NULL;
    struct s_kept k;
    if (!(k.buf = wh_pack(&cr.base, &k.len))) return WH_ENOMEM;
    if (s->n_kept == s->cap) {
        free(s->kept[s->first_kept].buf);
        s->kept[s->first_kept] = k;
        s->first_kept = (s->first_kept + 1) % s->cap;
        return 0;
    }
    s->kept[(s->first_kept + s->n_kept++) % s->cap] = k;
    return 0;
}

/* Renders every kept case, oldest first. */
static void s_answer_kept(struct s_state *s)
{
    Whistle__V1__CaseReply **cr = calloc(s->n_kept + 1, sizeof *cr);
    struct open311_request_item *items = calloc(s->n_kept + 1, sizeof *items);
    size_t n = 0;
    int rc = cr && items ? 0 : WH_ENOMEM;
    for (size_t i = 0; i < s->n_kept && !rc; i++) {
        const struct s_kept *k = &s->kept[(s->first_kept + i) % s->cap];
        if (!(cr[n] = whistle__v1__case_reply__unpack(NULL, k->len, k->buf)) || !cr[n]->case_) {
            rc = WH_ENOMEM;
            break;
        }
        items[n].c = cr[n]->case_;
        items[n].last = cr[n]->n_history ? cr[n]->history[0] : NULL;
        n++;
    }
    struct open311_buf b = {0};
    if (!rc)
        rc = open311_render_requests(&b, s->fmt, gateway__catalog(s->gw, s->r->district), items, n);
    for (size_t i = 0; cr && i <= n; i++)
        if (cr[i]) whistle__v1__case_reply__free_unpacked(cr[i], NULL);
    free(cr);
    free(items);
    s_rendered(s->r, s->fmt, rc, &b);
}

static void s_next_id(struct s_state *s);

static void s_on_id(struct gw_req *r, int svc, const Whistle__V1__Reply *reply, int err)
{
    struct s_state *s = r->state;
    /* an unknown id, or another's that this caller may not read, is left out */
    if (reply && reply->body_case == WHISTLE__V1__REPLY__BODY_ERROR &&
        (reply->error->code == WH_ENOTFOUND || reply->error->code == WH_EFORBIDDEN)) {
        s_next_id(s);
        return;
    }
    if (s_refused(r, s->fmt, svc, reply, err)) return;
    const Whistle__V1__CaseReply *cr = reply->get_case;
    if (reply->body_case != WHISTLE__V1__REPLY__BODY_GET_CASE || !cr->case_) {
        s_errorf(r, s->fmt, 502, "", "tracking answered another request");
        return;
    }
    if (s_keep(s, cr->case_, cr->n_history, cr->history)) {
        s_errorf(r, s->fmt, 503, "", "out of memory; try again");
        return;
    }
    s_next_id(s);
}

/* GetCase for the next service_request_id, one at a time, in the order given. */
static void s_next_id(struct s_state *s)
{
    if (s->next_id == s->q.n_ids) {
        s_answer_kept(s);
        return;
    }
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__GetCase g = WHISTLE__V1__GET_CASE__INIT;
    g.case_id = s->q.ids[s->next_id++];
    req.body_case = WHISTLE__V1__REQUEST__BODY_GET_CASE;
    req.get_case = &g;
    if (gateway__call(s->gw, s->r, GW_TRACKING, &req, s_on_id)) s_unsent(s->r, s->fmt, GW_TRACKING);
}

static void s_next_page(struct s_state *s);

static void s_on_page(struct gw_req *r, int svc, const Whistle__V1__Reply *reply, int err)
{
    struct s_state *s = r->state;
    if (s_refused(r, s->fmt, svc, reply, err)) return;
    if (reply->body_case != WHISTLE__V1__REPLY__BODY_LIST_CASES) {
        s_errorf(r, s->fmt, 502, "", "tracking answered another request");
        return;
    }
    const Whistle__V1__ListReply *l = reply->list_cases;
    for (size_t i = 0; i < l->n_cases; i++) {
        if (!open311_query_match(&s->q, l->cases[i])) continue;
        if (s_keep(s, l->cases[i], 0, NULL)) {
            s_errorf(r, s->fmt, 503, "", "out of memory; try again");
            return;
        }
    }
    if (!l->next_after || !l->next_after[0] || strlen(l->next_after) >= sizeof s->after) {
        s_answer_kept(s);
        return;
    }
    snprintf(s->after, sizeof s->after, "%s", l->next_after);
    s_next_page(s);
}

/* The next ListCases page; the filters tracking cannot apply are applied to what comes. */
static void s_next_page(struct s_state *s)
{
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    s->q.list.after_case_id = s->after;
    req.body_case = WHISTLE__V1__REQUEST__BODY_LIST_CASES;
    req.list_cases = &s->q.list;
    if (gateway__call(s->gw, s->r, GW_TRACKING, &req, s_on_page))
        s_unsent(s->r, s->fmt, GW_TRACKING);
}

void gateway_open311_requests(gateway_t *gw, struct gw_req *r, const struct gw_match *m)
{
    char name[8];
    enum open311_format f = s_fmt_or_404(r, m, name, sizeof name);
    if (!f) return;
    struct open311_error err;
    struct open311_form q = {0};
    struct s_state *s = s_state(gw, r, f);
    if (!s) {
        s_errorf(r, f, 503, "", "out of memory; try again");
        return;
    }
    if (s_query(r, &q, &err) || s_jurisdiction(gw, r, &q, NULL, 0, &err) ||
        s_reader(gw, r, &q, &err) ||
        open311_query_parse(&s->q, gateway__catalog(gw, r->district), &q, wh_now_ms(), &err)) {
        open311_form_clear(&q);
        s_error(r, f, &err);
        return;
    }
    open311_form_clear(&q);
    s->cap = s->q.ids ? (s->q.n_ids ? s->q.n_ids : 1) : (s->q.limit ? s->q.limit : 1);
    if (!(s->kept = calloc(s->cap, sizeof *s->kept))) {
        s_errorf(r, f, 503, "", "out of memory; try again");
        return;
    }
    if (s->q.ids)
        s_next_id(s);
    else
        s_next_page(s);
}

/* ---- GET requests/{id}, tokens/{token} ----------------------------------------------------- */

static void s_on_request(struct gw_req *r, int svc, const Whistle__V1__Reply *reply, int err)
{
    struct s_state *s = r->state;
    if (s_refused(r, s->fmt, svc, reply, err)) return;
    if (reply->body_case != WHISTLE__V1__REPLY__BODY_GET_CASE || !reply->get_case->case_) {
        s_errorf(r, s->fmt, 502, "", "tracking answered another request");
        return;
    }
    struct open311_buf b = {0};
    s_rendered(r, s->fmt,
               open311_render_case_reply(&b, s->fmt, gateway__catalog(s->gw, s->r->district),
                                         reply->get_case),
               &b);
}

static void s_on_token(struct gw_req *r, int svc, const Whistle__V1__Reply *reply, int err)
{
    struct s_state *s = r->state;
    if (reply && reply->body_case == WHISTLE__V1__REPLY__BODY_ERROR &&
        reply->error->code == WH_ENOTFOUND) {
        struct open311_error e;
        open311_error_set(&e, 404, "token", "token: no service request has token '%s'", s->token);
        s_error(r, s->fmt, &e);
        return;
    }
    if (s_refused(r, s->fmt, svc, reply, err)) return;
    if (reply->body_case != WHISTLE__V1__REPLY__BODY_GET_CASE || !reply->get_case->case_) {
        s_errorf(r, s->fmt, 502, "", "tracking answered another request");
        return;
    }
    struct open311_buf b = {0};
    s_rendered(r, s->fmt, open311_render_token(&b, s->fmt, s->token, reply->get_case->case_->id),
               &b);
}

/* GetCase for the URL's {id} (a service_request_id, or a token: the same thing here). */
static void s_get_one(gateway_t *gw, struct gw_req *r, const struct gw_match *m,
                      gateway_reply_fn fn)
{
    char id[GW_PARAM_MAX];
    enum open311_format f = s_fmt_or_404(r, m, id, sizeof id);
    if (!f) return;
    struct open311_error err;
    if (s_plain_query(gw, r, &err)) {
        s_error(r, f, &err);
        return;
    }
    struct s_state *s = s_state(gw, r, f);
    if (!s) {
        s_errorf(r, f, 503, "", "out of memory; try again");
        return;
    }
    snprintf(s->token, sizeof s->token, "%s", id);
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__GetCase g = WHISTLE__V1__GET_CASE__INIT;
    g.case_id = s->token;
    req.body_case = WHISTLE__V1__REQUEST__BODY_GET_CASE;
    req.get_case = &g;
    if (gateway__call(gw, r, GW_TRACKING, &req, fn)) s_unsent(r, f, GW_TRACKING);
}

void gateway_open311_request(gateway_t *gw, struct gw_req *r, const struct gw_match *m)
{
    s_get_one(gw, r, m, s_on_request);
}

void gateway_open311_token(gateway_t *gw, struct gw_req *r, const struct gw_match *m)
{
    s_get_one(gw, r, m, s_on_token);
}
