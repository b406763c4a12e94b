/* api.c: the gateway's routes: health, readiness and the JSON API (/v1/...), each turned into
 * one request to the service that owns the answer, made on behalf of the caller's API key. To
 * add routes, add rows to gateway_api_routes. */
#include "keys.h"
#include "open311_routes.h"
#include "params.h"
#include "route.h"
#include "stats.h"
#include "stream.h"
#include "ticket.h"
#include "web.h"
#include "whistle/catalog.h"
#include "whistle/clock.h"
#include "whistle/codec.h"
#include "whistle/error.h"
#include "whistle/eventlog.h"
#include "whistle/json.h"
#include "whistle/wlog.h"
#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows of the city's figures sorted at most (one per district: district.h allows 64). */
#define GW_MAX_DISTRICTS_SORT 64

/* ---- answers from the backends ----------------------------------------------------------- */

/* The backend did not answer, or refused: the matching HTTP error. 1 when answered so. */
static int s_refused(struct gw_req *r, int svc, const Whistle__V1__Reply *reply, int err)
{
    char msg[160];
    if (!reply) {
        snprintf(msg, sizeof msg, "%s%s did not answer within %d ms; try again",
                 gateway__district_where(r), gateway__backend_name(svc),
                 gateway__config(r->gw)->backend_timeout_ms);
        gateway__answer(r, 503, gateway_error_json(err ? err : WH_ETIMEDOUT, "", msg, 0, 0));
        return 1;
    }
    if (reply->body_case == WHISTLE__V1__REPLY__BODY_ERROR) {
        const Whistle__V1__Error *e = reply->error;
        gateway__answer(r, gateway_http_status(e->code),
                        gateway_error_json(e->code, e->field, e->message, e->state, e->oldest));
        return 1;
    }
    return 0;
}

/* A request the service would not take (not connected, out of memory). */
static void s_unsent(struct gw_req *r, int svc, int rc)
{
    char msg[160];
    snprintf(msg, sizeof msg,
             "%s%s is not reachable (not running, or not connected yet); try again",
             gateway__district_where(r), gateway__backend_name(svc));
    gateway__answer(r, 503, gateway_error_json(rc, "", msg, 0, 0));
}

/* The reply's body as JSON (the set member of its oneof), 200. */
static void s_on_body(struct gw_req *r, int svc, const Whistle__V1__Reply *reply, int err)
{
    if (s_refused(r, svc, reply, err)) return;
    json_t *all = wh_message_to_json(&reply->base);
    json_t *body = NULL;
    const char *key;
    json_t *val;
    json_object_foreach(all, key, val)
    {
        if (strcmp(key, "request_id") != 0) body = json_incref(val);
    }
    json_decref(all);
    gateway__answer(r, body ? 200 : 502,
                    body ? body : gateway_error_json(WH_EINTERNAL, "", "an empty reply", 0, 0));
}

static void s_call(gateway_t *gw, struct gw_req *r, int svc, Whistle__V1__Request *req)
{
    int rc = gateway__call(gw, r, svc, req, s_on_body);
    if (rc) s_unsent(r, svc, rc);
}

/* Refuses a request with `err` (a decision about its input: 400 unless the code says). */
static void s_bad(struct gw_req *r, const struct wh_field_error *err)
{
    gateway__answer(r, gateway_http_status(err->code),
                    gateway_error_json(err->code, err->field, err->message, 0, 0));
}

/* ---- health ----------------------------------------------------------------------------- */

static void s_healthz(gateway_t *gw, struct gw_req *r, const struct gw_match *m)
{
    (void)gw;
    (void)m;
    gateway__answer(r, 200, json_pack("{s:s}", "status", "ok"));
}

/* With one district: 200 once its four answer ping, as ever. With several (a city's gateway):
 * each district is asked in turn, the body says each one's services and which are down, and
 * the gateway is ready (200) while any district is: it is the door of those still serving. */
static void s_readyz_district(gateway_t *gw, struct gw_req *r);

static void s_readyz_done(struct gw_req *r)
{
    gateway_t *gw = r->gw;
    json_t *cur = json_object_get(r->acc, "cur");
    int ready = 1;
    const char *key;
    json_t *val;
    json_object_foreach(cur, key, val)
    {
        if (strcmp(json_string_value(val), "ok") != 0) ready = 0;
    }
    if (gateway__n_districts(gw) == 1) {
        json_t *body = json_pack("{s:b,s:O}", "ready", ready, "services", cur);
        gateway__answer(r, ready ? 200 : 503, body);
        return;
    }
    int i = (int)json_integer_value(json_object_get(r->acc, "i"));
    const char *code = gateway__district_code(gw, i);
    json_object_set_new(json_object_get(r->acc, "districts"), code,
                        json_pack("{s:b,s:O}", "ready", ready, "services", cur));
    if (!ready) json_array_append_new(json_object_get(r->acc, "down"), json_string(code));
    if (++i < gateway__n_districts(gw)) {
        json_object_set_new(r->acc, "i", json_integer(i));
        s_readyz_district(gw, r);
        return;
    }
    json_t *down = json_object_get(r->acc, "down");
    int any = json_array_size(down) < (size_t)gateway__n_districts(gw);
    gateway__answer(r, any ? 200 : 503,
                    json_pack("{s:b,s:O,s:O}", "ready", any, "districts",
                              json_object_get(r->acc, "districts"), "down", down));
}

static void s_on_ping(struct gw_req *r, int svc, const Whistle__V1__Reply *reply, int err)
{
    (void)err;
    char msg[96];
    if (reply && reply->body_case == WHISTLE__V1__REPLY__BODY_PONG)
        snprintf(msg, sizeof msg, "ok");
    else
        snprintf(msg, sizeof msg, "no answer to ping within %d ms",
                 gateway__config(r->gw)->backend_timeout_ms);
    json_object_set_new(json_object_get(r->acc, "cur"), gateway__backend_name(svc),
                        json_string(msg));
    if (r->waiting == 0) s_readyz_done(r);
}

static void s_readyz_district(gateway_t *gw, struct gw_req *r)
{
    int i = (int)json_integer_value(json_object_get(r->acc, "i"));
    json_t *cur = json_object();
    json_object_set_new(r->acc, "cur", cur);
    for (int svc = 0; svc < GW_N_BACKENDS; svc++) {
        Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
        Whistle__V1__Ping ping = WHISTLE__V1__PING__INIT;
        req.body_case = WHISTLE__V1__REQUEST__BODY_PING;
        req.ping = &ping;
        if (gateway__call_in(gw, r, i, svc, &req, s_on_ping))
            json_object_set_new(cur, gateway__backend_name(svc), json_string("not connected"));
    }
    if (r->waiting == 0) s_readyz_done(r);
}

static void s_readyz(gateway_t *gw, struct gw_req *r, const struct gw_match *m)
{
    (void)m;
    r->acc = json_pack("{s:i,s:{},s:[]}", "i", 0, "districts", "down");
    s_readyz_district(gw, r);
}

/* ---- the JSON API ------------------------------------------------------------------------ */

static int s_no_query(struct gw_req *r)
{
    struct gw_query q;
    struct wh_field_error err;
    if (gateway__query(r, &q, &err) || gateway_params_none(&q, &err)) {
        s_bad(r, &err);
        return -1;
    }
    return 0;
}

static void s_case(gateway_t *gw, struct gw_req *r, const struct gw_match *m)
{
    if (s_no_query(r)) return;
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__GetCase g = WHISTLE__V1__GET_CASE__INIT;
    g.case_id = (char *)m->param[0];
    req.body_case = WHISTLE__V1__REQUEST__BODY_GET_CASE;
    req.get_case = &g;
    s_call(gw, r, GW_TRACKING, &req);
}

static void s_cases(gateway_t *gw, struct gw_req *r, const struct gw_match *m)
{
    (void)m;
    struct gw_query q;
    struct wh_field_error err;
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__ListCases l = WHISTLE__V1__LIST_CASES__INIT;
    if (gateway__query(r, &q, &err) || gateway_params_list(&q, &l, &err)) {
        s_bad(r, &err);
        return;
    }
    req.body_case = WHISTLE__V1__REQUEST__BODY_LIST_CASES;
    req.list_cases = &l;
    s_call(gw, r, GW_TRACKING, &req);
}

static void s_action(gateway_t *gw, struct gw_req *r, const struct gw_match *m)
{
    if (s_no_query(r)) return;
    struct gw_action a;
    struct wh_field_error err;
    if (gateway_params_action(m->param[1], m->param[0], r->body ? r->body : "", r->body_len,
                              &r->who, &a, &err)) {
        s_bad(r, &err);
        return;
    }
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    if (a.escalate) {
        req.body_case = WHISTLE__V1__REQUEST__BODY_ESCALATE;
        req.escalate = &a.e;
    } else {
        req.body_case = WHISTLE__V1__REQUEST__BODY_CASE_ACTION;
        req.case_action = &a.a;
    }
    s_call(gw, r, a.escalate ? GW_ROUTING : GW_TRACKING, &req);
    gateway_action_clear(&a);
}

/* ---- the city's figures: /v1/figures?period=&by=district ---------------------------------
 *
 * Each district's tracking is asked, in turn, for its figures by township (every case of a
 * district counts under exactly one township or street); its rows' counts are summed into one
 * row per district and the rates recomputed from those sums by the rules of FigureRow
 * (response = on time / (dispatched - released), resolution = resolved / dispatched,
 * satisfaction = satisfied / (verified - by default)); score is the mean of the rates that have
 * a value, rank by score. Percentiles (check-in and resolve p50/p90) cannot be combined from
 * the townships' own percentiles, so they are null. A district that does not answer is listed
 * under "unavailable" with why; the others are answered. */

static const char *const s_sums[] = {
    "dispatched",  "checked_in", "checked_in_on_time",  "resolved",
    "verified",    "satisfied",  "verified_by_default", "reopened",
    "escalations", "released",   "missed_checkins",     "supervised",
    NULL};

static uint32_t s_row_count(const Whistle__V1__FigureRow *row, int k)
{
    const uint32_t v[] = {
        row->dispatched,  row->checked_in, row->checked_in_on_time,  row->resolved,
        row->verified,    row->satisfied,  row->verified_by_default, row->reopened,
        row->escalations, row->released,   row->missed_checkins,     row->supervised};
    return v[k];
}

static void s_city_next(gateway_t *gw, struct gw_req *r);

/* A rate: num / den, or null when den is 0 (no value: left out of the score). */
static json_t *s_rate(json_int_t num, json_int_t den, double *sum, int *n)
{
    if (den <= 0) return json_null();
    double v = (double)num / (double)den;
    *sum += v;
    (*n)++;
    return json_real(v);
}

static void s_on_city_figures(struct gw_req *r, int svc, const Whistle__V1__Reply *reply, int err)
{
    (void)svc;
    gateway_t *gw = r->gw;
    int i = (int)json_integer_value(json_object_get(r->acc, "i"));
    const char *code = gateway__district_code(gw, i);
    if (!reply || reply->body_case != WHISTLE__V1__REPLY__BODY_FIGURES) {
        char why[200];
        if (!reply && err == WH_EBUS)
            snprintf(why, sizeof why, "tracking is not reachable (not running, or not connected)");
        else if (!reply)
            snprintf(why, sizeof why, "tracking did not answer within %d ms",
                     gateway__config(gw)->backend_timeout_ms);

        else if (reply->body_case == WHISTLE__V1__REPLY__BODY_ERROR)
            wh_snprintf_utf8(why, sizeof why, "%s: %s", wh_errname(reply->error->code),
                             reply->error->message ? reply->error->message : "");
        else
            snprintf(why, sizeof why, "tracking answered another request");
        /* a refusal of the request itself (a bad period) is the caller's, not the district's */
        if (reply && reply->body_case == WHISTLE__V1__REPLY__BODY_ERROR &&
            gateway_http_status(reply->error->code) < 500) {
            const Whistle__V1__Error *e = reply->error;
            gateway__answer(r, gateway_http_status(e->code),
                            gateway_error_json(e->code, e->field, e->message, 0, 0));
            return;
        }
        json_array_append_new(json_object_get(r->acc, "unavailable"),
                              json_pack("{s:s,s:s}", "district", code, "reason", why));
    } else {
        const Whistle__V1__FiguresReply *f = reply->figures;
        json_int_t c[sizeof s_sums / sizeof s_sums[0]] = {0};
        for (size_t k = 0; k < f->n_rows; k++)
            for (int j = 0; s_sums[j]; j++)
                c[j] += s_row_count(f->rows[k], j);
        json_t *row =
            json_pack("{s:s,s:s}", "key", code, "name", gateway__catalog(gw, i)->district_name);
        for (int j = 0; s_sums[j]; j++)
            json_object_set_new(row, s_sums[j], json_integer(c[j]));
        double sum = 0;
        int n = 0;
        /* indexes into s_sums: 0 dispatched, 2 on time, 3 resolved, 4 verified, 5 satisfied,
         * 6 verified by default, 9 released */
        json_object_set_new(row, "response_rate", s_rate(c[2], c[0] - c[9], &sum, &n));
        json_object_set_new(row, "resolution_rate", s_rate(c[3], c[0], &sum, &n));
        json_object_set_new(row, "satisfaction_rate", s_rate(c[5], c[4] - c[6], &sum, &n));
        json_object_set_new(row, "score", n ? json_real(sum / n) : json_null());
        json_object_set_new(row, "checkin_p50_ms", json_null());
        json_object_set_new(row, "checkin_p90_ms", json_null());
        json_object_set_new(row, "resolve_p50_ms", json_null());
        json_object_set_new(row, "resolve_p90_ms", json_null());
        json_array_append_new(json_object_get(r->acc, "rows"), row);
        if (!json_object_get(r->acc, "from_ms")) {
            json_object_set_new(r->acc, "from_ms", json_integer(f->from_ms));
            json_object_set_new(r->acc, "to_ms", json_integer(f->to_ms));
        }
    }
    json_object_set_new(r->acc, "i", json_integer(i + 1));
    s_city_next(gw, r);
}

static int s_by_score(const void *a, const void *b)
{
    json_t *x = json_object_get(*(json_t *const *)a, "score");
    json_t *y = json_object_get(*(json_t *const *)b, "score");
    if (json_is_null(x) || json_is_null(y)) return json_is_null(x) - json_is_null(y);
    double dx = json_real_value(x), dy = json_real_value(y);
    return dx < dy ? 1 : dx > dy ? -1 : 0;
}

static void s_city_next(gateway_t *gw, struct gw_req *r)
{
    int i = (int)json_integer_value(json_object_get(r->acc, "i"));
    if (i < gateway__n_districts(gw)) {
        Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
        Whistle__V1__Figures f = WHISTLE__V1__FIGURES__INIT;
        f.period = (char *)json_string_value(json_object_get(r->acc, "period"));
        f.by = "township";
        req.body_case = WHISTLE__V1__REQUEST__BODY_FIGURES;
        req.figures = &f;
        int rc = gateway__call_in(gw, r, i, GW_TRACKING, &req, s_on_city_figures);
        if (rc) s_on_city_figures(r, GW_TRACKING, NULL, rc);
        return;
    }
    json_t *rows = json_object_get(r->acc, "rows");
    size_t n = json_array_size(rows);
    json_t *sorted[GW_MAX_DISTRICTS_SORT];
    for (size_t k = 0; k < n && k < GW_MAX_DISTRICTS_SORT; k++)
        sorted[k] = json_array_get(rows, k);
    if (n > GW_MAX_DISTRICTS_SORT) n = GW_MAX_DISTRICTS_SORT;
    qsort(sorted, n, sizeof sorted[0], s_by_score);
    json_t *out = json_array();
    for (size_t k = 0; k < n; k++) {
        json_object_set_new(sorted[k], "rank", json_integer((json_int_t)k + 1));
        json_array_append(out, sorted[k]);
    }
    json_t *from = json_object_get(r->acc, "from_ms"), *to = json_object_get(r->acc, "to_ms");
    gateway__answer(r, 200,
                    json_pack("{s:O,s:s,s:O,s:O,s:o,s:O,s:s}", "period",
                              json_object_get(r->acc, "period"), "by", "district", "from_ms",
                              from ? from : json_null(), "to_ms", to ? to : json_null(), "rows",
                              out, "unavailable", json_object_get(r->acc, "unavailable"),
                              "percentiles",
                              "not combinable from the districts' own: null (ask a district's "
                              "/v1/figures for its p50 and p90)"));
}

static void s_figures(gateway_t *gw, struct gw_req *r, const struct gw_match *m)
{
    (void)m;
    struct gw_query q;
    struct wh_field_error err;
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__Figures f = WHISTLE__V1__FIGURES__INIT;
    if (gateway__query(r, &q, &err) || gateway_params_figures(&q, &f, &err)) {
        s_bad(r, &err);
        return;
    }
    if (f.by && strcmp(f.by, "district") == 0) {
        if (f.unit && f.unit[0]) {
            gateway__answer_error(r, 400, WH_EFIELD, "query.unit",
                                  "by=district is the whole city's: it takes no unit");
            return;
        }
        if (!gateway__city_caller(gw, r)) {
            gateway__answer_error(r, 403, WH_EFORBIDDEN, "query.by",
                                  "by=district: the city's figures are for an operator key of "
                                  "the city (one with no district)");
            return;
        }
        r->acc =
            json_pack("{s:s,s:i,s:[],s:[]}", "period", f.period, "i", 0, "rows", "unavailable");
        s_city_next(gw, r);
        return;
    }
    req.body_case = WHISTLE__V1__REQUEST__BODY_FIGURES;
    req.figures = &f;
    s_call(gw, r, GW_TRACKING, &req);
}

static void s_visits(gateway_t *gw, struct gw_req *r, const struct gw_match *m)
{
    (void)m;
    struct gw_query q;
    struct wh_field_error err;
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__Visits v = WHISTLE__V1__VISITS__INIT;
    if (gateway__query(r, &q, &err) || gateway_params_visits(&q, &v, &err)) {
        s_bad(r, &err);
        return;
    }
    req.body_case = WHISTLE__V1__REQUEST__BODY_VISITS;
    req.visits = &v;
    s_call(gw, r, GW_TRACKING, &req);
}

/* GET /v1/grids/{grid}/ledger?period=: 一格一账本, one grid's book (tracking's GridLedger; its
 * community, township or street and the district read it, tracking decides) */
static void s_ledger(gateway_t *gw, struct gw_req *r, const struct gw_match *m)
{
    struct gw_query q;
    struct wh_field_error err;
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__GridLedger g = WHISTLE__V1__GRID_LEDGER__INIT;
    if (gateway__query(r, &q, &err) || gateway_params_ledger(&q, &g, &err)) {
        s_bad(r, &err);
        return;
    }
    g.grid = (char *)m->param[0];
    req.body_case = WHISTLE__V1__REQUEST__BODY_GRID_LEDGER;
    req.grid_ledger = &g;
    s_call(gw, r, GW_TRACKING, &req);
}

/* ---- the caller and its stream tickets (the dashboard) ------------------------------------ */

static int s_identify(gateway_t *gw, struct gw_req *r);

/* GET /v1/whoami: the identity of the caller's key, so a page knows what to show. Public: no
 * key at all is "none" (a page learns whether the gateway is --open without a 401); a key
 * that is not listed is 401 as anywhere. */
static void s_whoami(gateway_t *gw, struct gw_req *r, const struct gw_match *m)
{
    (void)m;
    if (s_no_query(r)) return;
    int open = gateway__config(gw)->open;
    if (!open && !gateway__header(r, "Authorization")) {
        gateway__answer(r, 200, json_pack("{s:s,s:s,s:b}", "kind", "none", "code", "", "open", 0));
        return;
    }
    if (s_identify(gw, r)) return;
    gateway__answer(r, 200,
                    json_pack("{s:s,s:s,s:b}", "kind",
                              open ? "operator" : wh_kind_name(r->who.kind), "code",
                              open ? "" : r->who.code, "open", open));
}

/* POST /v1/stream-tickets: a one-time ticket for an event stream (ticket.h). */
static void s_ticket(gateway_t *gw, struct gw_req *r, const struct gw_match *m)
{
    (void)m;
    if (s_no_query(r)) return;
    char t[GW_TICKET_LEN + 1];
    int rc = gateway_tickets_issue(gateway__tickets(gw), r->key, wh_mono_ms(), t);
    if (rc) {
        gateway__answer_error(r, 503, rc, "",
                              rc == WH_EBUSY ? "too many unused stream tickets; try again"
                                             : "no random bytes for a ticket; try again");
        return;
    }
    gateway__answer(r, 200, json_pack("{s:s,s:i}", "ticket", t, "expires_in_ms", GW_TICKET_TTL_MS));
}

/* GET /v1/catalog: the district's names, so a page shows 新洲乡 and 城管 rather than codes:
 * units, communities, grids (with their community), departments, matters (with whistle and
 * departments) and whistles, from the gateway's --catalog. Any listed key: a department reads
 * the same district structure the others do; grid staff, volunteers and households are left
 * to the grid's ledger, which tracking answers by role. */
static void s_catalog(gateway_t *gw, struct gw_req *r, const struct gw_match *m)
{
    (void)m;
    if (s_no_query(r)) return;
    const struct wh_catalog *c = gateway__catalog(gw, r->district);
    json_t *units = json_array(), *communities = json_array(), *grids = json_array();
    json_t *depts = json_array(), *matters = json_array(), *whistles = json_array();
    for (size_t i = 0; i < c->n_units; i++)
        json_array_append_new(units, json_pack("{s:s,s:s,s:s}", "code", c->units[i].code, "name",
                                               c->units[i].name, "kind",
                                               c->units[i].street ? "street" : "township"));
    for (size_t i = 0; i < c->n_communities; i++)
        json_array_append_new(
            communities, json_pack("{s:s,s:s,s:s}", "code", c->communities[i].code, "name",
                                   c->communities[i].name, "unit", c->communities[i].unit->code));
    for (size_t i = 0; i < c->n_grids; i++)
        json_array_append_new(grids, json_pack("{s:s,s:s}", "code", c->grids[i].code, "community",
                                               c->grids[i].community->code));
    for (size_t i = 0; i < c->n_departments; i++)
        json_array_append_new(depts, json_pack("{s:s,s:s}", "code", c->departments[i].code, "name",
                                               c->departments[i].name));
    for (size_t i = 0; i < c->n_matters; i++) {
        const struct wh_matter *mt = &c->matters[i];
        json_t *md = json_array();
        for (size_t k = 0; k < mt->n_departments; k++)
            json_array_append_new(md, json_string(mt->departments[k]->code));
        json_array_append_new(matters, json_pack("{s:s,s:s,s:s,s:o}", "code", mt->code, "name",
                                                 mt->name, "whistle", wh_whistle_name(mt->whistle),
                                                 "departments", md));
    }
    for (int w = 1; w < 4; w++)
        if (c->whistles[w].name)
            json_array_append_new(whistles, json_pack("{s:s,s:s}", "code", wh_whistle_name(w),
                                                      "name", c->whistles[w].name));
    gateway__answer(r, 200,
                    json_pack("{s:{s:s,s:s},s:o,s:o,s:o,s:o,s:o,s:o}", "district", "code",
                              c->district_code, "name", c->district_name, "units", units,
                              "communities", communities, "grids", grids, "departments", depts,
                              "matters", matters, "whistles", whistles));
}

/* ---- live topics (SSE) ----------------------------------------------------------------- */

static void s_on_first(struct gw_req *r, int svc, const Whistle__V1__Reply *reply, int err)
{
    if (s_refused(r, svc, reply, err)) return;
    if (reply->body_case != WHISTLE__V1__REPLY__BODY_REPLAY) {
        gateway__answer_error(r, 502, WH_EINTERNAL, "", "notification answered another request");
        return;
    }
    const char *topic = json_string_value(json_object_get(r->acc, "topic"));
    uint64_t next = (uint64_t)json_integer_value(json_object_get(r->acc, "next"));
    int live = json_is_true(json_object_get(r->acc, "live"));
    if (gateway_streams_open(gateway__streams(r->gw, r->district), r, topic, next, live,
                             reply->replay))
        gateway__answer_error(r, 503, WH_ENOMEM, "", "out of memory; try again");
}

static void s_topic(gateway_t *gw, struct gw_req *r, const struct gw_match *m)
{
    char topic[WH_STREAM_MAX + 1];
    int n = m->n == 1 ? snprintf(topic, sizeof topic, "%s/", m->param[0])
                      : snprintf(topic, sizeof topic, "%s/%s/", m->param[0], m->param[1]);
    struct wh_field_error err;
    if (n < 0 || (size_t)n >= sizeof topic) {
        wh_field_error_set(&err, WH_EFIELD, "url", "a topic is at most %d bytes", WH_STREAM_MAX);
        s_bad(r, &err);
        return;
    }
    struct gw_query q;
    uint64_t from;
    int has;
    if (gateway__query(r, &q, &err) ||
        gateway_params_stream_from(&q, gateway__header(r, "Last-Event-ID"), &from, &has, &err)) {
        s_bad(r, &err);
        return;
    }
    /* the first page is asked on the caller's behalf: notification's rules decide who reads */
    r->acc = json_pack("{s:s,s:I,s:b}", "topic", topic, "next", (json_int_t)from, "live", !has);
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__Replay rp = WHISTLE__V1__REPLAY__INIT;
    rp.topic = topic;
    rp.from_seq = has ? from : UINT64_MAX; /* beyond the head: just the head */
    rp.max = 512;
    req.body_case = WHISTLE__V1__REQUEST__BODY_REPLAY;
    req.replay = &rp;
    int rc = gateway__call(gw, r, GW_NOTIFICATION, &req, s_on_first);
    if (rc) s_unsent(r, GW_NOTIFICATION, rc);
}

const struct gw_route gateway_api_routes[] = {
    {"GET", "/healthz", s_healthz, GW_ROUTE_PUBLIC | GW_ROUTE_CITY},
    {"GET", "/readyz", s_readyz, GW_ROUTE_PUBLIC | GW_ROUTE_CITY},
    {"GET", "/metrics", gateway_stats_serve, GW_ROUTE_METRICS | GW_ROUTE_CITY}, /* stats.c */
    /* the dashboard (web.c): static files; it signs in with an API key of its own */
    {"GET", "/", gateway_web_serve, GW_ROUTE_PUBLIC | GW_ROUTE_CITY},
    {"GET", "/web/{}", gateway_web_serve, GW_ROUTE_PUBLIC | GW_ROUTE_CITY},
    {"GET", "/web/vendor/{}", gateway_web_serve, GW_ROUTE_PUBLIC | GW_ROUTE_CITY},
    {"GET", "/v1/whoami", s_whoami,
     GW_ROUTE_PUBLIC | GW_ROUTE_CITY}, /* identifies the caller itself */
    {"POST", "/v1/stream-tickets", s_ticket, GW_ROUTE_CITY},
    {"GET", "/v1/cases", s_cases, 0},
    {"GET", "/v1/cases/{}", s_case, 0},
    {"POST", "/v1/cases/{}/{}", s_action, 0},
    {"GET", "/v1/figures", s_figures, 0},
    {"GET", "/v1/visits", s_visits, 0},
    {"GET", "/v1/grids/{}/ledger", s_ledger, 0},
    {"GET", "/v1/catalog", s_catalog, 0},
    {"GET", "/v1/topics/{}/events", s_topic, GW_ROUTE_TICKET},    /* all/, district/ */
    {"GET", "/v1/topics/{}/{}/events", s_topic, GW_ROUTE_TICKET}, /* dept/cg/, case/C1/, ... */
    /* Open311 GeoReport v2 (open311_routes.c): callers identified by api_key, not bearer */
    {"GET", "/discovery.json", gateway_open311_discovery, GW_ROUTE_PUBLIC | GW_ROUTE_OPEN311},
    {"GET", "/discovery.xml", gateway_open311_discovery, GW_ROUTE_PUBLIC | GW_ROUTE_OPEN311},
    {"GET", "/services.json", gateway_open311_services, GW_ROUTE_PUBLIC | GW_ROUTE_OPEN311},
    {"GET", "/services.xml", gateway_open311_services, GW_ROUTE_PUBLIC | GW_ROUTE_OPEN311},
    {"GET", "/services/{}", gateway_open311_definition,
     GW_ROUTE_PUBLIC | GW_ROUTE_OPEN311}, /* {code}.{fmt} */
    {"GET", "/requests.json", gateway_open311_requests, GW_ROUTE_PUBLIC | GW_ROUTE_OPEN311},
    {"GET", "/requests.xml", gateway_open311_requests, GW_ROUTE_PUBLIC | GW_ROUTE_OPEN311},
    {"POST", "/requests.json", gateway_open311_submit, GW_ROUTE_PUBLIC | GW_ROUTE_OPEN311},
    {"POST", "/requests.xml", gateway_open311_submit, GW_ROUTE_PUBLIC | GW_ROUTE_OPEN311},
    {"GET", "/requests/{}", gateway_open311_request,
     GW_ROUTE_PUBLIC | GW_ROUTE_OPEN311}, /* {id}.{fmt} */
    {"GET", "/tokens/{}", gateway_open311_token,
     GW_ROUTE_PUBLIC | GW_ROUTE_OPEN311}, /* {token}.{fmt} */
};
const size_t gateway_api_n_routes = sizeof gateway_api_routes / sizeof gateway_api_routes[0];

/* ---- dispatch ----------------------------------------------------------------------------- */

/* A stream's ?ticket= (ticket.h) instead of a bearer key: spent here. 0, or -1 answered 401. */
static int s_identify_ticket(gateway_t *gw, struct gw_req *r, const char *ticket)
{
    char key[GW_KEY_MAX + 1];
    int ok = gateway_tickets_redeem(gateway__tickets(gw), ticket, wh_mono_ms(), key, sizeof key);
    if (ok && !gateway__config(gw)->open && !gateway__key_lookup(gw, r, key, &r->who)) ok = 0;
    if (!ok) {
        snprintf(r->hdr_name, sizeof r->hdr_name, "WWW-Authenticate");
        snprintf(r->hdr_value, sizeof r->hdr_value,
                 "Bearer realm=\"whistle\", error=\"invalid_token\"");
        gateway__answer_error(r, 401, WH_EFORBIDDEN, "query.ticket",
                              "this stream ticket is unknown, used or expired (or its key was "
                              "removed): ask POST /v1/stream-tickets for another");
        return -1;
    }
    return 0;
}

/* Who the caller is: its bearer key's identity. 0, or -1 when answered 401. */
static int s_identify(gateway_t *gw, struct gw_req *r)
{
    const char *h = gateway__header(r, "Authorization");
    const char *ticket = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "ticket");
    if (ticket && (r->route->flags & GW_ROUTE_TICKET) && !h)
        return s_identify_ticket(gw, r, ticket);
    if (gateway__config(gw)->open) return 0;
    snprintf(r->hdr_name, sizeof r->hdr_name, "WWW-Authenticate");
    if (!h || strncmp(h, "Bearer ", 7) != 0) {
        snprintf(r->hdr_value, sizeof r->hdr_value, "Bearer realm=\"whistle\"");
        gateway__answer_error(r, 401, WH_EFORBIDDEN, "authorization",
                              "an API key is needed: Authorization: Bearer <key>");
        return -1;
    }
    const char *key = h + 7;
    while (*key == ' ')
        key++;
    if (!gateway__key_lookup(gw, r, key, &r->who)) {
        if (r->key_elsewhere) {
            /* listed, but not for this district: it can never read or act in another */
            r->hdr_name[0] = 0;
            char msg[200];
            if (r->key_district[0])
                snprintf(msg, sizeof msg, "this API key is district '%s''s, not '%s''s",
                         r->key_district, gateway__district_code(gw, r->district));
            else
                snprintf(msg, sizeof msg,
                         "this API key names no district: with several, only an operator's "
                         "acts for the whole city (add its district as a 4th field)");
            gateway__answer_error(r, 403, WH_EFORBIDDEN, "authorization", msg);
            return -1;
        }
        snprintf(r->hdr_value, sizeof r->hdr_value,
                 "Bearer realm=\"whistle\", error=\"invalid_token\"");
        gateway__answer_error(r, 401, WH_EFORBIDDEN, "authorization", "this API key is not known");
        return -1;
    }
    snprintf(r->key, sizeof r->key, "%s", key); /* listed: at most GW_KEY_MAX */
    r->hdr_name[0] = 0;
    return 0;
}

/* The district a JSON API request is for: its ?jurisdiction_id= (404 when not served here).
 * Unset (-1) without one: s_choose_default decides once the caller is known. 0 or -1. */
static int s_choose(gateway_t *gw, struct gw_req *r)
{
    const char *jur =
        MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "jurisdiction_id");
    r->district = -1;
    if (!jur || !jur[0]) return 0;
    char code[64], list[400], msg[600];
    long n = gateway_pct_decode(code, sizeof code, jur, strlen(jur));
    int d = n > 0 ? gateway__district_find(gw, code) : -1;
    if (d >= 0) {
        r->district = d;
        return 0;
    }
    gateway__district_list(gw, list, sizeof list);
    wh_snprintf_utf8(msg, sizeof msg, "jurisdiction_id: '%s' is not served here (%s: %s)",
                     n > 0 ? code : "?", gateway__n_districts(gw) > 1 ? "these are" : "this is",
                     list);
    gateway__answer_error(r, 404, WH_ENOTFOUND, "query.jurisdiction_id", msg);
    return -1;
}

/* No jurisdiction_id: the only district; or the caller's key's; or, for a route of the whole
 * city (and /v1/figures?by=district), none needed; else 400 listing them. 0 or -1. */
static int s_choose_default(gateway_t *gw, struct gw_req *r)
{
    if (r->district >= 0) return 0;
    if (gateway__n_districts(gw) == 1) {
        r->district = 0;
        return 0;
    }
    if (r->key_district[0]) {
        r->district = gateway__district_find(gw, r->key_district);
        if (r->district >= 0) return 0;
    }
    const char *by = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "by");
    if ((r->route->flags & GW_ROUTE_CITY) ||
        (r->route->handle == s_figures && by && strcmp(by, "district") == 0)) {
        r->district = 0; /* what a city route asks a district for, it asks the first */
        return 0;
    }
    char list[400], msg[600];
    gateway__district_list(gw, list, sizeof list);
    snprintf(msg, sizeof msg,
             "jurisdiction_id: required, this gateway serves several districts (%s)", list);
    gateway__answer_error(r, 400, WH_EFIELD, "query.jurisdiction_id", msg);
    return -1;
}

void gateway__dispatch(gateway_t *gw, struct gw_req *r)
{
    struct gw_match m;
    struct wh_field_error err;
    int rc =
        gateway_route_match(gateway_api_routes, gateway_api_n_routes, r->method, r->path, &m, &err);
    if (rc == GW_ROUTE_NONE) {
        gateway__answer_error(r, 404, WH_ENOTFOUND, "url", "no such route");
        return;
    }
    if (rc == GW_ROUTE_METHOD) {
        snprintf(r->hdr_name, sizeof r->hdr_name, "Allow");
        snprintf(r->hdr_value, sizeof r->hdr_value, "%s", m.allow);
        char msg[128];
        snprintf(msg, sizeof msg, "this route takes %s", m.allow);
        gateway__answer_error(r, 405, WH_EUSAGE, "method", msg);
        return;
    }
    if (rc) {
        s_bad(r, &err);
        return;
    }
    r->route = m.route;
    int public = (m.route->flags & GW_ROUTE_PUBLIC) ||
                 ((m.route->flags & GW_ROUTE_METRICS) && gateway__config(gw)->metrics_open);
    if (!(m.route->flags & GW_ROUTE_OPEN311) && s_choose(gw, r)) return;
    if (!public && s_identify(gw, r)) return;
    if (!(m.route->flags & GW_ROUTE_OPEN311) && s_choose_default(gw, r)) return;
    m.route->handle(gw, r, &m);
}
