/* tracking.c: the tracking service: opens cases from routing's log, serves actions and
 * queries, and appends case.updated (the case after the change and its history line) to its
 * log "tracking/" in the same transaction as the change. */
#include "tracking.h"
#include "whistle/clock.h"
#include "whistle/error.h"
#include "whistle/wlog.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tracking {
    wh_service_t *svc;
    const struct wh_catalog *cat;
};

static int s_emit(tracking_t *self, MDB_txn *txn, Whistle__V1__Case *c,
                  Whistle__V1__HistoryEntry *entry)
{
    wh_store_t *st = wh_service_store(self->svc);
    int rc = tracking_ledger_history_add(st, txn, c->id, c->version, entry);
    if (rc) return rc;
    Whistle__V1__CaseUpdated cu = WHISTLE__V1__CASE_UPDATED__INIT;
    cu.case_ = c;
    cu.entry = entry;
    Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
    env.correlation_id = c->id;
    env.occurred_at_ms = entry->at_ms;
    env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_UPDATED;
    env.case_updated = &cu;
    return wh_service_append(self->svc, txn, NULL, &env, NULL);
}

/* A case opened by routing: dispatched to its departments, or refused. */
static int s_open_case(tracking_t *self, MDB_txn *txn, const Whistle__V1__Envelope *env)
{
    wh_store_t *st = wh_service_store(self->svc);
    /* payload is a oneof: the members share one pointer, so pick by payload_case */
    int dispatched = env->payload_case == WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_DISPATCHED;
    const Whistle__V1__CaseDispatched *cd = dispatched ? env->case_dispatched : NULL;
    const Whistle__V1__CaseRefused *cf = dispatched ? NULL : env->case_refused;
    const char *id = cd ? cd->case_id : cf->case_id;
    Whistle__V1__Case *existing = NULL;
    if (tracking_ledger_get(st, txn, id, &existing) == 0) {
        whistle__v1__case__free_unpacked(existing, NULL);
        wh_log_warn("%s: already open; %s ignored", id, env->event_id);
        return 0;
    }
    Whistle__V1__Case c = WHISTLE__V1__CASE__INIT;
    Whistle__V1__Assignment as[WH_MATTER_MAX_DEPTS], *asp[WH_MATTER_MAX_DEPTS];
    Whistle__V1__HistoryEntry entry = WHISTLE__V1__HISTORY_ENTRY__INIT;
    char note[300];
    c.id = (char *)id;
    c.created_at_ms = c.updated_at_ms = env->occurred_at_ms;
    c.version = 1;
    entry.at_ms = env->occurred_at_ms;
    entry.actor = "routing";
    entry.from_state = WHISTLE__V1__CASE_STATE__REPORTED;
    if (cd) {
        c.report = cd->report;
        c.state = WHISTLE__V1__CASE_STATE__DISPATCHED;
        c.whistle = cd->whistle;
        c.lead_unit = cd->lead_unit;
        c.community = cd->community;
        c.checkin_deadline_ms = cd->checkin_deadline_ms;
        c.resolve_deadline_ms = cd->resolve_deadline_ms;
        size_t n = cd->n_departments < WH_MATTER_MAX_DEPTS ? cd->n_departments : WH_MATTER_MAX_DEPTS;
        for (size_t i = 0; i < n; i++) {
            whistle__v1__assignment__init(&as[i]);
            as[i].department = cd->departments[i];
            as[i].state = WHISTLE__V1__ASSIGNMENT_STATE__NOTIFIED;
            as[i].assigned_at_ms = env->occurred_at_ms;
            asp[i] = &as[i];
        }
        c.assignments = asp;
        c.n_assignments = n;
        entry.action = WHISTLE__V1__ACTION__DISPATCH;
        snprintf(note, sizeof note, "%s, lead %s, %zu department(s)",
                 wh_whistle_name(cd->whistle), cd->lead_unit, n);
    } else {
        c.report = cf->report;
        c.state = WHISTLE__V1__CASE_STATE__REFUSED;
        c.lead_unit = "";
        c.community = "";
        entry.action = WHISTLE__V1__ACTION__REFUSE;
        snprintf(note, sizeof note, "%s: %s", cf->field, cf->reason);
    }
    entry.to_state = c.state;
    entry.note = note;
    int rc = tracking_ledger_put(st, txn, &c, 0);
    if (rc == 0) rc = s_emit(self, txn, &c, &entry);
    return rc;
}

/* Routing climbed the ladder (or an operator raised the whistle): new whistle, deadlines and
 * district coordinators on the case, and a history line saying which step and why. */
static int s_escalated(tracking_t *self, MDB_txn *txn, const Whistle__V1__Envelope *env)
{
    wh_store_t *st = wh_service_store(self->svc);
    const Whistle__V1__CaseEscalated *ce = env->case_escalated;
    Whistle__V1__Case *c = NULL;
    int rc = tracking_ledger_get(st, txn, ce->case_id, &c);
    if (rc == WH_ENOTFOUND) {
        wh_log_warn("%s: escalation %s for an unknown case ignored", ce->case_id, env->event_id);
        return 0;
    }
    if (rc) return rc;
    int from = c->state;
    if (from == WHISTLE__V1__CASE_STATE__CLOSED || from == WHISTLE__V1__CASE_STATE__REFUSED) {
        /* decided on a snapshot older than the closing: nothing left to escalate */
        whistle__v1__case__free_unpacked(c, NULL);
        return 0;
    }
    if (ce->to_whistle) c->whistle = ce->to_whistle;
    if (ce->checkin_deadline_ms) c->checkin_deadline_ms = ce->checkin_deadline_ms;
    if (ce->resolve_deadline_ms) c->resolve_deadline_ms = ce->resolve_deadline_ms;
    c->escalation_level = ce->level;
    for (size_t i = 0; i < ce->n_added_departments && rc == 0; i++)
        rc = tracking_machine_add_department(c, ce->added_departments[i], env->occurred_at_ms);
    char note[512];
    snprintf(note, sizeof note, "%s: %s", ce->step, ce->reason);
    Whistle__V1__HistoryEntry entry = WHISTLE__V1__HISTORY_ENTRY__INIT;
    entry.at_ms = env->occurred_at_ms;
    entry.action = WHISTLE__V1__ACTION__ESCALATE;
    entry.actor = ce->actor;
    entry.from_state = from;
    entry.to_state = c->state;
    entry.note = note;
    c->version++;
    c->updated_at_ms = env->occurred_at_ms;
    if (rc == 0) rc = tracking_ledger_put(st, txn, c, from);
    if (rc == 0) rc = tracking_ledger_index_departments(st, txn, c);
    if (rc == 0) rc = s_emit(self, txn, c, &entry);
    if (rc == 0)
        wh_log_info("%s: escalated (%s, level %u): %s", c->id, ce->step, ce->level, ce->reason);
    whistle__v1__case__free_unpacked(c, NULL);
    return rc;
}

static int s_apply_routing(void *arg, wh_service_t *svc, MDB_txn *txn,
                           const Whistle__V1__Envelope *env)
{
    (void)svc;
    if (env->payload_case == WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_ESCALATED &&
        env->case_escalated->case_id)
        return s_escalated(arg, txn, env);
    if ((env->payload_case == WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_DISPATCHED &&
         env->case_dispatched->case_id) ||
        (env->payload_case == WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_REFUSED &&
         env->case_refused->case_id))
        return s_open_case(arg, txn, env);
    return 0;
}

static void s_action(tracking_t *self, MDB_txn *txn, const struct wh_peer *peer,
                     const Whistle__V1__CaseAction *a)
{
    wh_service_t *svc = self->svc;
    wh_store_t *st = wh_service_store(svc);
    struct wh_field_error fe;
    if (wh_check_string(&fe, "case_action.case_id", a->case_id, 64, 1) ||
        wh_check_string(&fe, "case_action.actor", a->actor, WH_MAX_SHORT, 0) ||
        wh_check_string(&fe, "case_action.department", a->department, WH_MAX_CODE, 0) ||
        wh_check_string(&fe, "case_action.note", a->note, WH_MAX_DESCRIPTION, 0)) {
        wh_service_error(svc, peer, fe.code, fe.field, fe.message, 0);
        return;
    }
    if (tracking_authorize(&peer->who, a, &fe)) {
        wh_log_warn("%s: %s refused: %s", a->case_id, wh_action_name(a->action), fe.message);
        wh_service_error(svc, peer, fe.code, fe.field, fe.message, 0);
        return;
    }
    Whistle__V1__Case *c = NULL;
    int rc = tracking_ledger_get(st, txn, a->case_id, &c);
    if (rc == WH_ENOTFOUND) {
        char msg[128];
        snprintf(msg, sizeof msg, "unknown case '%s'", a->case_id);
        wh_service_error(svc, peer, WH_ENOTFOUND, "case_action.case_id", msg, 0);
        return;
    }
    if (rc) return; /* storage failure: the batch fails, nothing is answered */
    int old_state = c->state;
    Whistle__V1__HistoryEntry entry;
    rc = tracking_machine_act(c, a, wh_now_ms(), &entry, &fe);
    if (rc) {
        wh_log_info("%s: %s refused: %s", c->id, wh_action_name(a->action), fe.message);
        wh_service_error(svc, peer, rc, fe.field, fe.message, c->state);
    } else if (tracking_ledger_put(st, txn, c, old_state) == 0 &&
               tracking_ledger_index_departments(st, txn, c) == 0 &&
               s_emit(self, txn, c, &entry) == 0) {
        wh_log_info("%s: %s by %s: %s -> %s", c->id, wh_action_name(a->action), entry.actor,
                    wh_state_name(old_state), wh_state_name(c->state));
        Whistle__V1__Reply reply = WHISTLE__V1__REPLY__INIT;
        Whistle__V1__ActionReply ar = WHISTLE__V1__ACTION_REPLY__INIT;
        ar.case_ = c;
        reply.body_case = WHISTLE__V1__REPLY__BODY_CASE_ACTION;
        reply.case_action = &ar;
        wh_service_reply(svc, peer, &reply);
    }
    whistle__v1__case__free_unpacked(c, NULL);
}

static void s_get(tracking_t *self, MDB_txn *txn, const struct wh_peer *peer,
                  const Whistle__V1__GetCase *g)
{
    wh_store_t *st = wh_service_store(self->svc);
    Whistle__V1__Case *c = NULL;
    if (!g->case_id || !g->case_id[0] || tracking_ledger_get(st, txn, g->case_id, &c) != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "unknown case '%.64s'", g->case_id ? g->case_id : "");
        wh_service_error(self->svc, peer, WH_ENOTFOUND, "get_case.case_id", msg, 0);
        return;
    }
    Whistle__V1__HistoryEntry **h = NULL;
    int n = tracking_ledger_history(st, txn, c->id, &h);
    Whistle__V1__Reply reply = WHISTLE__V1__REPLY__INIT;
    Whistle__V1__CaseReply cr = WHISTLE__V1__CASE_REPLY__INIT;
    cr.case_ = c;
    cr.history = h;
    cr.n_history = n > 0 ? (size_t)n : 0;
    reply.body_case = WHISTLE__V1__REPLY__BODY_GET_CASE;
    reply.get_case = &cr;
    wh_service_reply(self->svc, peer, &reply);
    for (int i = 0; i < n; i++) whistle__v1__history_entry__free_unpacked(h[i], NULL);
    free(h);
    whistle__v1__case__free_unpacked(c, NULL);
}

static void s_list(tracking_t *self, MDB_txn *txn, const struct wh_peer *peer,
                   const Whistle__V1__ListCases *q)
{
    Whistle__V1__Case **cases = NULL;
    size_t n = 0;
    char next[32];
    struct wh_field_error fe;
    if (wh_check_string(&fe, "list_cases.department", q->department, WH_MAX_CODE, 0) ||
        wh_check_string(&fe, "list_cases.grid", q->grid, WH_MAX_CODE, 0) ||
        wh_check_string(&fe, "list_cases.unit", q->unit, WH_MAX_CODE, 0) ||
        wh_check_string(&fe, "list_cases.after_case_id", q->after_case_id, 64, 0)) {
        wh_service_error(self->svc, peer, fe.code, fe.field, fe.message, 0);
        return;
    }
    if (tracking_ledger_list(wh_service_store(self->svc), txn, q, &cases, &n, next)) return;
    Whistle__V1__Reply reply = WHISTLE__V1__REPLY__INIT;
    Whistle__V1__ListReply lr = WHISTLE__V1__LIST_REPLY__INIT;
    lr.cases = cases;
    lr.n_cases = n;
    lr.next_after = next;
    reply.body_case = WHISTLE__V1__REPLY__BODY_LIST_CASES;
    reply.list_cases = &lr;
    wh_service_reply(self->svc, peer, &reply);
    for (size_t i = 0; i < n; i++) whistle__v1__case__free_unpacked(cases[i], NULL);
    free(cases);
}

static void s_on_request(void *arg, wh_service_t *svc, MDB_txn *txn, const struct wh_peer *peer,
                         const Whistle__V1__Request *req)
{
    tracking_t *self = arg;
    switch (req->body_case) {
    case WHISTLE__V1__REQUEST__BODY_CASE_ACTION: s_action(self, txn, peer, req->case_action); break;
    case WHISTLE__V1__REQUEST__BODY_GET_CASE: s_get(self, txn, peer, req->get_case); break;
    case WHISTLE__V1__REQUEST__BODY_LIST_CASES: s_list(self, txn, peer, req->list_cases); break;
    default:
        wh_service_error(svc, peer, WH_EUNSUPPORTED, "request.body",
                         "tracking serves CaseAction, GetCase, ListCases, Replay and Ping", 0);
    }
}

tracking_t *tracking_new(const struct wh_options *o, const struct wh_catalog *cat)
{
    tracking_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    static const char *const tables[] = {TRACKING_TABLES, NULL};
    struct wh_service_config cfg = {
        .name = "tracking",
        .data_dir = o->data_dir,
        .api_endpoint = o->api,
        .events_endpoint = o->events,
        .tables = tables,
        .heartbeat_ms = o->heartbeat_ms,
        .keys = o->keys,
        .allow = o->allow,
        .service_key = o->service_key,
        .on_request = s_on_request,
        .arg = self,
    };
    self->cat = cat;
    self->svc = wh_service_new(&cfg);
    if (!self->svc ||
        wh_service_follow(self->svc, "routing", o->upstream_api[WH_UP_ROUTING],
                          o->upstream_events[WH_UP_ROUTING], s_apply_routing, self)) {
        tracking_destroy(&self);
        return NULL;
    }
    return self;
}

void tracking_destroy(tracking_t **self_p)
{
    if (!self_p || !*self_p) return;
    wh_service_destroy(&(*self_p)->svc);
    free(*self_p);
    *self_p = NULL;
}

wh_service_t *tracking_service(tracking_t *self) { return self->svc; }
