/* fuzz_service.c: the fuzzers' side of an in-process service (fuzz_service.h): a DEALER and a
 * SUB attached to it, one input handed to the dispatch or to a follower's apply, and the checks
 * of what comes out; and the valid upstream entries and requests the seed corpus and the
 * targets' starting state are made of, packed with the real encoder. */
#include "fuzz_service.h"
#include "fuzz.h"
#include "whistle/clock.h"
#include "whistle/codec.h"
#include "whistle/cursor.h"
#include "whistle/error.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_WAIT_MS 10000 /* for an answer that is already sent: only a stuck service misses it */
#define S_ROUTING_ID "fuzz"

static void s_fail(const char *what, const char *detail)
{
    wh_fuzz_say(what, detail);
    abort();
}

/* A string that is not UTF-8 in what the service sent: fatal, unless WHISTLE_FUZZ_UTF8=warn
 * (to look past a known finding for others), which prints the first one and goes on. */
static void s_utf8_fail(const char *what, const char *where)
{
    static int mode = -1, told;
    if (mode < 0) {
        const char *e = getenv("WHISTLE_FUZZ_UTF8");
        mode = e && strcmp(e, "warn") == 0;
    }
    if (!mode) s_fail(what, where);
    if (!told++) {
        char d[256];
        snprintf(d, sizeof d, "%s (WHISTLE_FUZZ_UTF8=warn: going on)", where);
        wh_fuzz_say(what, d);
    }
}

/* ---- UTF-8 of every string, by descriptor ---------------------------------------------- */

static int s_utf8_field(const ProtobufCFieldDescriptor *fd, const ProtobufCMessage *m, char *where,
                        size_t len)
{
    const char *base = (const char *)m;
    if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t which;
        memcpy(&which, base + fd->quantifier_offset, sizeof which);
        if (which != fd->id) return 1;
    }
    size_t n = 1;
    const void *const *items = (const void *const *)(base + fd->offset);
    if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
        memcpy(&n, base + fd->quantifier_offset, sizeof n);
        memcpy(&items, base + fd->offset, sizeof items);
    }
    for (size_t i = 0; i < n; i++) {
        const void *v = items[i];
        if (!v) continue;
        if (fd->type == PROTOBUF_C_TYPE_STRING) {
            const char *s = v;
            if (!wh_utf8_valid(s, strlen(s))) {
                snprintf(where, len, "%s.%s[%zu] = \"%.60s\"", m->descriptor->short_name, fd->name,
                         i, s);
                return 0;
            }
        } else if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
            if (!wh_fuzz_utf8_deep(v, where, len)) return 0;
        }
    }
    return 1;
}

int wh_fuzz_utf8_deep(const ProtobufCMessage *m, char *where, size_t len)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[i];
        if (fd->type != PROTOBUF_C_TYPE_STRING && fd->type != PROTOBUF_C_TYPE_MESSAGE) continue;
        if (!s_utf8_field(fd, m, where, len)) return 0;
    }
    return 1;
}

/* ---- keys ------------------------------------------------------------------------------- */

static struct wh_keypair s_server, s_client; /* s_client: the fuzzer's DEALER and SUB */

static const struct wh_identity s_as[8] = {
    {WH_KIND_OPERATOR, "ops"},    {WH_KIND_SERVICE, "routing"}, {WH_KIND_DEPARTMENT, "cg"},
    {WH_KIND_DEPARTMENT, "scjg"}, {WH_KIND_TOWNSHIP, "north"},  {WH_KIND_TOWNSHIP, "south"},
    {WH_KIND_INTEGRATOR, "app"},  {WH_KIND_DEPARTMENT, "yjgl"},
};

void wh_fuzz_keys(struct wh_options *o)
{
    static char server[600], service[600], allow[600];
    char base[600], err[512], text[256];
    struct wh_keypair svc_kp;
    const char *dir = wh_fuzz_dir();
    snprintf(base, sizeof base, "%s/server", dir);
    snprintf(server, sizeof server, "%s.key", base);
    if (wh_keypair_generate(base, &s_server, err, sizeof err)) s_fail("keygen", err);
    snprintf(base, sizeof base, "%s/service", dir);
    snprintf(service, sizeof service, "%s.key", base);
    if (wh_keypair_generate(base, &svc_kp, err, sizeof err)) s_fail("keygen", err);
    snprintf(base, sizeof base, "%s/fuzzer", dir);
    if (wh_keypair_generate(base, &s_client, err, sizeof err)) s_fail("keygen", err);
    snprintf(text, sizeof text, "%s service routing\n%s operator fuzz\n", svc_kp.public_key,
             s_client.public_key);
    snprintf(allow, sizeof allow, "%s",
             wh_fuzz_file("allow.txt", (const uint8_t *)text, strlen(text)));
    o->keys = server;
    o->allow = allow;
    o->service_key = service;
}

/* ---- attaching ------------------------------------------------------------------------- */

static void s_ping(struct wh_fuzz_svc *f, uint64_t id, int direct)
{
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__Ping ping = WHISTLE__V1__PING__INIT;
    req.request_id = id;
    req.body_case = WHISTLE__V1__REQUEST__BODY_PING;
    req.ping = &ping;
    size_t len;
    uint8_t *buf = wh_pack(&req.base, &len);
    if (!buf) s_fail("out of memory", NULL);
    if (direct)
        wh_service_handle(f->svc, &f->peer, buf, len);
    else if (zmq_send(f->dealer, buf, len, 0) < 0)
        s_fail("cannot send a ping", zmq_strerror(zmq_errno()));
    free(buf);
}

/* Every published envelope received so far: valid protobuf, valid UTF-8. */
static void s_drain_events(struct wh_fuzz_svc *f)
{
    for (;;) {
        zmq_msg_t topic, body;
        zmq_msg_init(&topic);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&topic, f->sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&topic);
            zmq_msg_close(&body);
            return;
        }
        if (!zmq_msg_more(&topic) || zmq_msg_recv(&body, f->sub, 0) < 0)
            s_fail("a publication is not two frames", NULL);
        Whistle__V1__Envelope *env = wh_envelope_unpack(zmq_msg_data(&body), zmq_msg_size(&body));
        if (!env) s_fail("a published envelope does not decode", NULL);
        char where[160];
        if (!wh_fuzz_utf8_deep(&env->base, where, sizeof where))
            s_utf8_fail("a published envelope has a string that is not UTF-8", where);
        if (!wh_utf8_valid(zmq_msg_data(&topic), zmq_msg_size(&topic)))
            s_utf8_fail("a topic that is not UTF-8", "");
        whistle__v1__envelope__free_unpacked(env, NULL);
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
    }
}

void wh_fuzz_svc_attach(struct wh_fuzz_svc *f, wh_service_t *svc)
{
    memset(f, 0, sizeof *f);
    f->svc = svc;
    f->zctx = zmq_ctx_new();
    f->dealer = zmq_socket(f->zctx, ZMQ_DEALER);
    f->sub = zmq_socket(f->zctx, ZMQ_SUB);
    int zero = 0;
    zmq_setsockopt(f->dealer, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(f->sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(f->dealer, ZMQ_ROUTING_ID, S_ROUTING_ID, strlen(S_ROUTING_ID));
    zmq_setsockopt(f->sub, ZMQ_SUBSCRIBE, "", 0);
    if (wh_service_keyed(svc) && (wh_curve_client(f->dealer, &s_client, s_server.public_key) ||
                                  wh_curve_client(f->sub, &s_client, s_server.public_key)))
        s_fail("cannot set CURVE keys on the fuzzer's sockets", NULL);
    if (zmq_connect(f->dealer, wh_service_api_endpoint(svc)) ||
        zmq_connect(f->sub, wh_service_events_endpoint(svc)))
        s_fail("cannot connect to the service", zmq_strerror(zmq_errno()));
    memcpy(f->peer.id, S_ROUTING_ID, strlen(S_ROUTING_ID));
    f->peer.id_len = strlen(S_ROUTING_ID);
    if (wh_service_keyed(svc)) f->peer.who = s_as[WH_FUZZ_AS_OPERATOR];
    /* a Ping over the wire: the ROUTER knows the DEALER once it is answered */
    s_ping(f, 1, 0);
    int64_t deadline = wh_mono_ms() + S_WAIT_MS;
    int answered = 0;
    while (!answered && wh_mono_ms() < deadline) {
        wh_service_run_once(svc, 5);
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, f->dealer, ZMQ_DONTWAIT) >= 0) answered = 1;
        zmq_msg_close(&m);
    }
    if (!answered) s_fail("the service did not answer a ping", NULL);
    /* the XPUB vets subscriptions on the service's loop: wait for the first heartbeat */
    int heard = 0;
    while (!heard && wh_mono_ms() < deadline) {
        wh_service_run_once(svc, 5);
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, f->sub, ZMQ_DONTWAIT) >= 0) {
            while (zmq_msg_more(&m))
                zmq_msg_recv(&m, f->sub, 0);
            heard = 1;
        }
        zmq_msg_close(&m);
    }
    if (!heard) s_fail("no heartbeat on the service's XPUB", NULL);
}

/* Reads replies until the marker Ping's; returns how many came before it. `want_id` is the
 * request_id the answer must carry (when the request decoded). */
static int s_answers(struct wh_fuzz_svc *f, int check_id, uint64_t want_id)
{
    int n = 0;
    int64_t deadline = wh_mono_ms() + S_WAIT_MS;
    for (;;) {
        zmq_pollitem_t it = {f->dealer, 0, ZMQ_POLLIN, 0};
        int64_t left = deadline - wh_mono_ms();
        if (left <= 0 || zmq_poll(&it, 1, (long)left) <= 0)
            s_fail("the marker Ping after the input was not answered", NULL);
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, f->dealer, 0) < 0) s_fail("recv", zmq_strerror(zmq_errno()));
        if (zmq_msg_more(&m)) s_fail("a reply of more than one frame", NULL);
        Whistle__V1__Reply *r = wh_reply_unpack(zmq_msg_data(&m), zmq_msg_size(&m));
        zmq_msg_close(&m);
        if (!r) s_fail("a reply that does not decode", NULL);
        char where[160];
        if (!wh_fuzz_utf8_deep(&r->base, where, sizeof where))
            s_utf8_fail("a reply has a string that is not UTF-8", where);
        int is_marker = r->request_id == f->marker && r->body_case == WHISTLE__V1__REPLY__BODY_PONG;
        if (!is_marker) {
            n++;
            if (check_id && r->request_id != want_id) {
                char d[96];
                snprintf(d, sizeof d, "request_id %llu, the request's was %llu",
                         (unsigned long long)r->request_id, (unsigned long long)want_id);
                s_fail("an answer with another request_id", d);
            }
        }
        whistle__v1__reply__free_unpacked(r, NULL);
        if (is_marker) return n;
    }
}

void wh_fuzz_svc_request(struct wh_fuzz_svc *f, const uint8_t *data, size_t size)
{
    Whistle__V1__Request *req = wh_request_unpack(data, size);
    uint64_t id = req ? req->request_id : 0;
    if (req) whistle__v1__request__free_unpacked(req, NULL);
    /* a marker the input does not use */
    f->marker = id == UINT64_MAX ? UINT64_MAX - 1 : UINT64_MAX;
    if (wh_service_keyed(f->svc)) f->peer.who = s_as[id % 8];
    wh_service_handle(f->svc, &f->peer, data, size);
    f->peer.who = s_as[WH_FUZZ_AS_OPERATOR];
    /* a heavy read (Figures) is answered off the loop (wh_service_read_async): let it finish
     * and be answered before the marker, so "exactly once" still counts it */
    while (wh_service_reads_in_flight(f->svc) > 0) wh_service_run_once(f->svc, 10);
    s_ping(f, f->marker, 1);
    wh_service_commit(f->svc);
    int n = s_answers(f, req != NULL, id);
    if (n != 1) {
        char d[64];
        snprintf(d, sizeof d, "%d answers", n);
        s_fail("a request was not answered exactly once", d);
    }
    s_drain_events(f);
}

int wh_fuzz_svc_apply(struct wh_fuzz_svc *f, const char *upstream, int slot,
                      Whistle__V1__Envelope *env)
{
    if (!f->next_seq[slot]) {
        /* the stored cursor, as the follower loaded it at start */
        wh_store_t *st = wh_service_store(f->svc);
        MDB_txn *txn;
        uint64_t cur = 0;
        if (mdb_txn_begin(wh_store_env(st), NULL, MDB_RDONLY, &txn) == 0) {
            wh_cursor_get(st, txn, upstream, &cur);
            mdb_txn_abort(txn);
        }
        f->next_seq[slot] = cur + 1;
    }
    env->seq = f->next_seq[slot];
    int rc = wh_service_apply(f->svc, upstream, env);
    if (rc < 0 && !wh_error_is_storage(rc)) {
        /* refused after it wrote: the batch is done again without it at the commit, and
         * when the entry comes again (by replay) it is passed as not applicable */
        wh_service_commit(f->svc);
        rc = wh_service_apply(f->svc, upstream, env);
        if (rc != 1) s_fail("an entry refused after it wrote was not passed on its retry",
                            upstream);
    }
    if (rc < 0) {
        char d[160];
        snprintf(d, sizeof d,
                 "%s entry %llu: %d (a storage failure: the batch fails and the "
                 "follower retries this entry for ever)",
                 upstream, (unsigned long long)env->seq, rc);
        s_fail("an upstream entry failed its batch", d);
    }
    if (rc == 0) s_fail("the follower skipped its next entry (stopped?)", upstream);
    f->next_seq[slot]++;
    wh_service_commit(f->svc);
    /* Ping over the service's own dispatch: still answering after the entry */
    f->marker = UINT64_MAX;
    s_ping(f, f->marker, 1);
    wh_service_commit(f->svc);
    if (s_answers(f, 0, 0) != 0) s_fail("replies nobody asked for", NULL);
    s_drain_events(f);
    return rc;
}

/* ---- shared inputs ----------------------------------------------------------------------- */

/* Case n's report: grids, matters and reporters of tests/data/catalog-small.json. */
static void s_report(Whistle__V1__Report *r, int n)
{
    static const char *const grids[] = {"g1", "g3", "g5", "g2"};
    static const char *const matters[] = {"m2", "m4", "m3", "m1"};
    whistle__v1__report__init(r);
    r->grid = (char *)grids[(n - 1) % 4];
    r->matter = (char *)matters[(n - 1) % 4];
    r->description = "占道经营 at the north gate, 食品摊贩";
    r->reporter = "resident-7";
    r->location = "北门";
    r->source = "app";
}

static void s_case_id(char *buf, size_t len, int n)
{
    snprintf(buf, len, "C%08d", n);
}

static uint8_t *s_pack_env(Whistle__V1__Envelope *env, const char *stream, const char *cid,
                           int64_t at_ms, size_t *len)
{
    env->stream = (char *)stream;
    env->seq = 1;
    env->event_id = "";
    env->correlation_id = (char *)cid;
    env->occurred_at_ms = at_ms;
    uint8_t *b = wh_pack(&env->base, len);
    if (!b) s_fail("out of memory", NULL);
    return b;
}

uint8_t *wh_fuzz_reported(int n, int64_t at_ms, size_t *len)
{
    char cid[16], key[32];
    s_case_id(cid, sizeof cid, n);
    snprintf(key, sizeof key, "key-%d", n);
    Whistle__V1__Report r;
    s_report(&r, n);
    Whistle__V1__CaseReported cr = WHISTLE__V1__CASE_REPORTED__INIT;
    cr.case_id = cid;
    cr.report = &r;
    cr.idempotency_key = key;
    Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
    env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_REPORTED;
    env.case_reported = &cr;
    return s_pack_env(&env, "intake/", cid, at_ms, len);
}

static const struct {
    const char *lead, *community;
    const char *depts[3];
    size_t n;
    int whistle;
} s_route[] = {
    {"north", "north-01", {"cg", "scjg"}, 2, WHISTLE__V1__WHISTLE__QUICK},
    {"south", "south-01", {"cg", "cgj", "scjg"}, 3, WHISTLE__V1__WHISTLE__TOUGH},
    {"south", "south-02", {"yjgl"}, 1, WHISTLE__V1__WHISTLE__EMERGENCY},
    {"north", "north-01", {"cg"}, 1, WHISTLE__V1__WHISTLE__QUICK},
};

uint8_t *wh_fuzz_dispatched(int n, int64_t at_ms, size_t *len)
{
    char cid[16];
    s_case_id(cid, sizeof cid, n);
    Whistle__V1__Report r;
    s_report(&r, n);
    Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
    Whistle__V1__CaseDispatched cd = WHISTLE__V1__CASE_DISPATCHED__INIT;
    Whistle__V1__CaseRefused cf = WHISTLE__V1__CASE_REFUSED__INIT;
    int k = (n - 1) % 4;
    if (n % 4 == 0) {
        cf.case_id = cid;
        cf.report = &r;
        cf.field = "report.task.funding_ref";
        cf.reason = "an unlisted community task needs its funding";
        env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_REFUSED;
        env.case_refused = &cf;
    } else {
        cd.case_id = cid;
        cd.report = &r;
        cd.whistle = s_route[k].whistle;
        cd.lead_unit = (char *)s_route[k].lead;
        cd.community = (char *)s_route[k].community;
        cd.departments = (char **)s_route[k].depts;
        cd.n_departments = s_route[k].n;
        cd.checkin_deadline_ms = at_ms + 60000;
        cd.resolve_deadline_ms = at_ms + 600000;
        env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_DISPATCHED;
        env.case_dispatched = &cd;
    }
    return s_pack_env(&env, "routing/", cid, at_ms, len);
}

uint8_t *wh_fuzz_escalated(int n, int64_t at_ms, size_t *len)
{
    char cid[16];
    s_case_id(cid, sizeof cid, n);
    static char *added[] = {"dcs"};
    Whistle__V1__CaseEscalated ce = WHISTLE__V1__CASE_ESCALATED__INIT;
    ce.case_id = cid;
    ce.step = "raise";
    ce.reason = "check-in deadline passed: cg not checked in (报到超时)";
    ce.level = 3;
    ce.from_whistle = WHISTLE__V1__WHISTLE__QUICK;
    ce.to_whistle = WHISTLE__V1__WHISTLE__TOUGH;
    ce.added_departments = added;
    ce.n_added_departments = 1;
    ce.checkin_deadline_ms = at_ms + 120000;
    ce.resolve_deadline_ms = at_ms + 1200000;
    ce.actor = "routing";
    Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
    env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_ESCALATED;
    env.case_escalated = &ce;
    return s_pack_env(&env, "routing/", cid, at_ms, len);
}

uint8_t *wh_fuzz_updated(int n, int action, int64_t at_ms, size_t *len)
{
    char cid[16];
    s_case_id(cid, sizeof cid, n);
    int k = (n - 1) % 4;
    Whistle__V1__Report r;
    s_report(&r, n);
    Whistle__V1__Assignment as[3], *asp[3];
    for (size_t i = 0; i < s_route[k].n; i++) {
        whistle__v1__assignment__init(&as[i]);
        as[i].department = (char *)s_route[k].depts[i];
        as[i].state = i == 0 && action != WHISTLE__V1__ACTION__DISPATCH
                          ? WHISTLE__V1__ASSIGNMENT_STATE__CHECKED_IN
                          : WHISTLE__V1__ASSIGNMENT_STATE__NOTIFIED;
        as[i].assigned_at_ms = at_ms - 1000;
        asp[i] = &as[i];
    }
    Whistle__V1__Case c = WHISTLE__V1__CASE__INIT;
    c.id = cid;
    c.report = &r;
    c.state = action == WHISTLE__V1__ACTION__DISPATCH  ? WHISTLE__V1__CASE_STATE__DISPATCHED
              : action == WHISTLE__V1__ACTION__RESOLVE ? WHISTLE__V1__CASE_STATE__RESOLVED
              : action == WHISTLE__V1__ACTION__VERIFY  ? WHISTLE__V1__CASE_STATE__CLOSED
                                                       : WHISTLE__V1__CASE_STATE__IN_PROGRESS;
    c.whistle = s_route[k].whistle;
    c.lead_unit = (char *)s_route[k].lead;
    c.community = (char *)s_route[k].community;
    c.assignments = asp;
    c.n_assignments = s_route[k].n;
    c.created_at_ms = at_ms - 1000;
    c.updated_at_ms = at_ms;
    c.checkin_deadline_ms = at_ms + 60000;
    c.resolve_deadline_ms = at_ms + 600000;
    c.version = (uint64_t)action;
    c.escalation_level = action == WHISTLE__V1__ACTION__ESCALATE ? 1 : 0;
    Whistle__V1__HistoryEntry h = WHISTLE__V1__HISTORY_ENTRY__INIT;
    h.at_ms = at_ms;
    h.action = action;
    h.actor = action == WHISTLE__V1__ACTION__VERIFY ? "resident-7" : (char *)s_route[k].depts[0];
    h.department = (char *)s_route[k].depts[0];
    h.from_state = WHISTLE__V1__CASE_STATE__DISPATCHED;
    h.to_state = c.state;
    h.note = "已到场 on site";
    h.satisfied = action == WHISTLE__V1__ACTION__VERIFY;
    Whistle__V1__CaseUpdated u = WHISTLE__V1__CASE_UPDATED__INIT;
    u.case_ = &c;
    u.entry = &h;
    u.routing_seq = action == WHISTLE__V1__ACTION__DISPATCH ? (uint64_t)n : 0;
    Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
    env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_UPDATED;
    env.case_updated = &u;
    return s_pack_env(&env, "tracking/", cid, at_ms, len);
}

uint8_t *wh_fuzz_visit(int n, int64_t at_ms, size_t *len)
{
    Whistle__V1__VisitLogged v = WHISTLE__V1__VISIT_LOGGED__INIT;
    v.grid = n % 2 ? "g1" : "g3";
    v.staff = n % 2 ? "王一" : "徐十";
    v.minutes = 90;
    v.date = "2026-11-23";
    v.week = "2026-W48";
    v.note = "走访 visits";
    Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
    env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_VISIT_LOGGED;
    env.visit_logged = &v;
    return s_pack_env(&env, "tracking/", "", at_ms, len);
}

/* ---- seed requests ------------------------------------------------------------------------ */

typedef void (*s_emit_fn)(void *, const char *, const uint8_t *, size_t);

static void s_emit_req(s_emit_fn emit, void *arg, const char *name, Whistle__V1__Request *req)
{
    size_t len;
    uint8_t *b = wh_pack(&req->base, &len);
    if (!b) s_fail("out of memory", NULL);
    emit(arg, name, b, len);
    free(b);
}

static void s_common(const char *topic, s_emit_fn emit, void *arg)
{
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__Ping ping = WHISTLE__V1__PING__INIT;
    req.request_id = WH_FUZZ_AS(WH_FUZZ_AS_OPERATOR, 1);
    req.body_case = WHISTLE__V1__REQUEST__BODY_PING;
    req.ping = &ping;
    s_emit_req(emit, arg, "ping", &req);
    Whistle__V1__Replay rp = WHISTLE__V1__REPLAY__INIT;
    rp.topic = (char *)topic;
    rp.from_seq = 1;
    rp.max = 10;
    req.body_case = WHISTLE__V1__REQUEST__BODY_REPLAY;
    req.replay = &rp;
    s_emit_req(emit, arg, "replay", &req);
    rp.from_seq = 0;
    rp.max = 0;
    s_emit_req(emit, arg, "replay-all", &req);
}

static void s_intake(s_emit_fn emit, void *arg)
{
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__SubmitReport sr = WHISTLE__V1__SUBMIT_REPORT__INIT;
    Whistle__V1__Report r;
    s_report(&r, 1);
    sr.idempotency_key = "seed-1";
    sr.report = &r;
    req.request_id = WH_FUZZ_AS(WH_FUZZ_AS_APP, 1);
    req.body_case = WHISTLE__V1__REQUEST__BODY_SUBMIT_REPORT;
    req.submit_report = &sr;
    s_emit_req(emit, arg, "submit", &req);
    r.whistle = WHISTLE__V1__WHISTLE__EMERGENCY;
    r.reported_at_ms = 1764000000000;
    s_emit_req(emit, arg, "submit-whistle", &req);
    Whistle__V1__CommunityTask t = WHISTLE__V1__COMMUNITY_TASK__INIT;
    t.affair = "a1";
    t.issuer = "mz";
    r.whistle = 0;
    r.matter = "";
    r.task = &t;
    s_emit_req(emit, arg, "submit-task", &req);
    t.affair = "";
    t.authority_ref = "区政发〔2026〕12号";
    t.funding_ref = "2026-budget-7";
    s_emit_req(emit, arg, "submit-task-unlisted", &req);
}

static void s_routing(s_emit_fn emit, void *arg)
{
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__Escalate e = WHISTLE__V1__ESCALATE__INIT;
    e.case_id = "C00000001";
    e.actor = "north";
    e.reason = "居民反映强烈 residents insist";
    req.request_id = WH_FUZZ_AS(WH_FUZZ_AS_NORTH, 1);
    req.body_case = WHISTLE__V1__REQUEST__BODY_ESCALATE;
    req.escalate = &e;
    s_emit_req(emit, arg, "escalate", &req);
    e.case_id = "C00000002";
    e.actor = "south";
    req.request_id = WH_FUZZ_AS(WH_FUZZ_AS_SOUTH, 1);
    e.to_whistle = WHISTLE__V1__WHISTLE__EMERGENCY;
    s_emit_req(emit, arg, "escalate-emergency", &req);
}

static void s_tracking(s_emit_fn emit, void *arg)
{
    static const struct {
        const char *name;
        int action;
        const char *actor, *department, *note, *from;
        int satisfied, as;
    } acts[] = {
        {"checkin", WHISTLE__V1__ACTION__CHECKIN, "cg", "cg", "", "", 0, WH_FUZZ_AS_CG},
        {"progress", WHISTLE__V1__ACTION__PROGRESS, "cg", "cg", "清理中 clearing", "", 0,
         WH_FUZZ_AS_CG},
        {"complete", WHISTLE__V1__ACTION__COMPLETE, "cg", "cg", "done", "", 0, WH_FUZZ_AS_CG},
        {"resolve", WHISTLE__V1__ACTION__RESOLVE, "north", "", "resolved", "", 0, WH_FUZZ_AS_NORTH},
        {"verify", WHISTLE__V1__ACTION__VERIFY, "resident-7", "", "", "", 1, WH_FUZZ_AS_APP},
        {"verify-unsatisfied", WHISTLE__V1__ACTION__VERIFY, "resident-7", "", "还在", "", 0,
         WH_FUZZ_AS_OPERATOR},
        {"return", WHISTLE__V1__ACTION__RETURN, "scjg", "scjg", "不属于本部门职责", "", 0,
         WH_FUZZ_AS_SCJG},
        {"assign", WHISTLE__V1__ACTION__ASSIGN, "north", "cgj", "", "", 0, WH_FUZZ_AS_NORTH},
        {"assign-move", WHISTLE__V1__ACTION__ASSIGN, "north", "cgj", "", "scjg", 0,
         WH_FUZZ_AS_NORTH},
        {"release", WHISTLE__V1__ACTION__RELEASE, "cg", "cg", "", "", 0, WH_FUZZ_AS_CG},
    };
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        Whistle__V1__CaseAction a = WHISTLE__V1__CASE_ACTION__INIT;
        a.case_id = "C00000001";
        a.action = acts[i].action;
        a.actor = (char *)acts[i].actor;
        a.department = (char *)acts[i].department;
        a.note = (char *)acts[i].note;
        a.from_department = (char *)acts[i].from;
        a.satisfied = acts[i].satisfied;
        req.request_id = WH_FUZZ_AS(acts[i].as, 1);
        req.body_case = WHISTLE__V1__REQUEST__BODY_CASE_ACTION;
        req.case_action = &a;
        char name[48];
        snprintf(name, sizeof name, "action-%s", acts[i].name);
        s_emit_req(emit, arg, name, &req);
    }
    Whistle__V1__GetCase g = WHISTLE__V1__GET_CASE__INIT;
    g.case_id = "C00000002";
    req.request_id = WH_FUZZ_AS(WH_FUZZ_AS_SOUTH, 1);
    req.body_case = WHISTLE__V1__REQUEST__BODY_GET_CASE;
    req.get_case = &g;
    s_emit_req(emit, arg, "get", &req);
    req.request_id = WH_FUZZ_AS(WH_FUZZ_AS_CG, 1);
    s_emit_req(emit, arg, "get-as-department", &req);
    Whistle__V1__ListCases l = WHISTLE__V1__LIST_CASES__INIT;
    req.body_case = WHISTLE__V1__REQUEST__BODY_LIST_CASES;
    req.list_cases = &l;
    s_emit_req(emit, arg, "list", &req);
    l.state = WHISTLE__V1__CASE_STATE__DISPATCHED;
    l.department = "cg";
    l.limit = 2;
    req.request_id = WH_FUZZ_AS(WH_FUZZ_AS_CG, 2);
    s_emit_req(emit, arg, "list-state-dept", &req);
    l.state = 0;
    l.department = "";
    l.grid = "g1";
    l.unit = "north";
    l.after_case_id = "C00000001";
    req.request_id = WH_FUZZ_AS(WH_FUZZ_AS_NORTH, 2);
    s_emit_req(emit, arg, "list-grid-unit", &req);
    Whistle__V1__ListCases lo = WHISTLE__V1__LIST_CASES__INIT;
    lo.overdue = 1;
    req.list_cases = &lo;
    s_emit_req(emit, arg, "list-overdue", &req);
    Whistle__V1__LogVisit v = WHISTLE__V1__LOG_VISIT__INIT;
    v.grid = "g1";
    v.staff = "王一";
    v.minutes = 120;
    v.date = "2026-11-23";
    v.note = "入户走访";
    req.body_case = WHISTLE__V1__REQUEST__BODY_LOG_VISIT;
    req.log_visit = &v;
    req.request_id = WH_FUZZ_AS(WH_FUZZ_AS_NORTH, 3);
    s_emit_req(emit, arg, "visit", &req);
    v.date = "";
    s_emit_req(emit, arg, "visit-today", &req);
    Whistle__V1__Visits vs = WHISTLE__V1__VISITS__INIT;
    vs.week = "2026-W48";
    vs.grid = "g1";
    vs.short_only = 1;
    req.body_case = WHISTLE__V1__REQUEST__BODY_VISITS;
    req.visits = &vs;
    s_emit_req(emit, arg, "visits", &req);
    static const char *const periods[][2] = {
        {"2026-W48", "department"}, {"2026-11", "township"}, {"2026-Q4", "grid"}, {"2026", ""}};
    for (size_t i = 0; i < 4; i++) {
        Whistle__V1__Figures fq = WHISTLE__V1__FIGURES__INIT;
        fq.period = (char *)periods[i][0];
        fq.by = (char *)periods[i][1];
        req.body_case = WHISTLE__V1__REQUEST__BODY_FIGURES;
        req.figures = &fq;
        char name[48];
        req.request_id = WH_FUZZ_AS(i == 0 ? WH_FUZZ_AS_CG : WH_FUZZ_AS_OPERATOR, 3 + i);
        snprintf(name, sizeof name, "figures-%zu", i);
        s_emit_req(emit, arg, name, &req);
    }
}

static void s_notification(s_emit_fn emit, void *arg)
{
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    req.request_id = WH_FUZZ_AS(WH_FUZZ_AS_OPERATOR, 2);
    static const char *const topics[] = {"all/",     "case/C00000001/", "unit/north/",
                                         "grid/g1/", "dept/cg/",        "district/"};
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++) {
        Whistle__V1__Replay rp = WHISTLE__V1__REPLAY__INIT;
        rp.topic = (char *)topics[i];
        rp.from_seq = 1;
        req.body_case = WHISTLE__V1__REQUEST__BODY_REPLAY;
        req.replay = &rp;
        char name[48];
        req.request_id = WH_FUZZ_AS(i == 4 ? WH_FUZZ_AS_CG : WH_FUZZ_AS_OPERATOR, 2 + i);
        snprintf(name, sizeof name, "replay-topic-%zu", i);
        s_emit_req(emit, arg, name, &req);
    }
    Whistle__V1__WebhookAdd wa = WHISTLE__V1__WEBHOOK_ADD__INIT;
    wa.topic = "dept/cg/";
    wa.url = "http://127.0.0.1:9/hook";
    req.request_id = WH_FUZZ_AS(WH_FUZZ_AS_CG, 9);
    req.body_case = WHISTLE__V1__REQUEST__BODY_WEBHOOK_ADD;
    req.webhook_add = &wa;
    s_emit_req(emit, arg, "webhook-add", &req);
    wa.topic = "district/";
    wa.url = "https://example.org/whistle?x=1";
    s_emit_req(emit, arg, "webhook-add-https", &req);
    Whistle__V1__WebhookRemove wr = WHISTLE__V1__WEBHOOK_REMOVE__INIT;
    wr.topic = "dept/cg/";
    wr.url = "http://127.0.0.1:9/hook";
    req.body_case = WHISTLE__V1__REQUEST__BODY_WEBHOOK_REMOVE;
    req.webhook_remove = &wr;
    s_emit_req(emit, arg, "webhook-remove", &req);
    Whistle__V1__WebhookList wl = WHISTLE__V1__WEBHOOK_LIST__INIT;
    wl.dead = 1;
    wl.limit = 5;
    req.body_case = WHISTLE__V1__REQUEST__BODY_WEBHOOK_LIST;
    req.webhook_list = &wl;
    s_emit_req(emit, arg, "webhook-list", &req);
}

void wh_fuzz_requests(const char *service, s_emit_fn emit, void *arg)
{
    char topic[32];
    snprintf(topic, sizeof topic, "%s/", service);
    s_common(topic, emit, arg);
    if (strcmp(service, "intake") == 0) s_intake(emit, arg);
    if (strcmp(service, "routing") == 0) s_routing(emit, arg);
    if (strcmp(service, "tracking") == 0) s_tracking(emit, arg);
    if (strcmp(service, "notification") == 0) s_notification(emit, arg);
}

void wh_fuzz_svc_seed_cases(struct wh_fuzz_svc *f, const char *upstream)
{
    int64_t now = wh_now_ms();
    int reported = strcmp(upstream, "intake") == 0;
    for (int n = 1; n <= WH_FUZZ_CASES; n++) {
        size_t len;
        uint8_t *b = reported ? wh_fuzz_reported(n, now, &len) : wh_fuzz_dispatched(n, now, &len);
        Whistle__V1__Envelope *env = b ? wh_envelope_unpack(b, len) : NULL;
        free(b);
        if (!env) abort();
        wh_fuzz_svc_apply(f, upstream, 0, env);
        whistle__v1__envelope__free_unpacked(env, NULL);
    }
}
