/* routing.c: the routing service: applies intake's case.reported through the rulebook and
 * appends case.dispatched / case.refused to its log "routing/".
 * Table "cases": case id -> the packed decision envelope (for escalation to come). */
#include "routing.h"
#include "whistle/error.h"
#include "whistle/wlog.h"
#include <stdlib.h>
#include <string.h>

struct routing {
    wh_service_t *svc;
    const struct wh_catalog *cat;
};

static int s_apply_reported(routing_t *self, MDB_txn *txn, const Whistle__V1__Envelope *in)
{
    const Whistle__V1__CaseReported *cr = in->case_reported;
    struct routing_decision d;
    routing_rules_route(self->cat, cr->report, in->occurred_at_ms, &d);

    Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
    Whistle__V1__CaseDispatched cd = WHISTLE__V1__CASE_DISPATCHED__INIT;
    Whistle__V1__CaseRefused cf = WHISTLE__V1__CASE_REFUSED__INIT;
    char *depts[WH_MATTER_MAX_DEPTS];
    env.correlation_id = cr->case_id;
    env.occurred_at_ms = in->occurred_at_ms; /* decisions are a function of the input */
    if (d.refused) {
        cf.case_id = cr->case_id;
        cf.report = cr->report;
        cf.field = d.field;
        cf.reason = d.reason;
        env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_REFUSED;
        env.case_refused = &cf;
        wh_log_info("%s: refused: %s", cr->case_id, d.reason);
    } else {
        cd.case_id = cr->case_id;
        cd.report = cr->report;
        cd.whistle = d.whistle;
        cd.lead_unit = (char *)d.lead->code;
        cd.community = (char *)d.community->code;
        for (size_t i = 0; i < d.n_departments; i++) depts[i] = (char *)d.departments[i]->code;
        cd.departments = depts;
        cd.n_departments = d.n_departments;
        cd.checkin_deadline_ms = d.checkin_deadline_ms;
        cd.resolve_deadline_ms = d.resolve_deadline_ms;
        env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_DISPATCHED;
        env.case_dispatched = &cd;
        wh_log_debug("%s: %s whistle, lead %s, %zu department(s)", cr->case_id,
                     wh_whistle_name(d.whistle), d.lead->code, d.n_departments);
    }
    uint64_t seq;
    int rc = wh_service_append(self->svc, txn, NULL, &env, &seq);
    if (rc) return rc;
    wh_store_t *st = wh_service_store(self->svc);
    uint8_t v[8];
    wh_be64_put(v, seq);
    return wh_store_put(st, txn, wh_store_dbi(st, "cases"), cr->case_id, strlen(cr->case_id), v,
                        sizeof v);
}

static int s_apply_intake(void *arg, wh_service_t *svc, MDB_txn *txn,
                          const Whistle__V1__Envelope *env)
{
    (void)svc;
    if (env->payload_case != WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_REPORTED ||
        !env->case_reported || !env->case_reported->case_id)
        return 0; /* nothing routing acts on */
    return s_apply_reported(arg, txn, env);
}

routing_t *routing_new(const struct wh_options *o, const struct wh_catalog *cat)
{
    routing_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    static const char *const tables[] = {"cases", NULL};
    struct wh_service_config cfg = {
        .name = "routing",
        .data_dir = o->data_dir,
        .api_endpoint = o->api,
        .events_endpoint = o->events,
        .tables = tables,
        .heartbeat_ms = o->heartbeat_ms,
        .arg = self,
    };
    self->cat = cat;
    self->svc = wh_service_new(&cfg);
    if (!self->svc ||
        wh_service_follow(self->svc, "intake", o->upstream_api[WH_UP_INTAKE],
                          o->upstream_events[WH_UP_INTAKE], s_apply_intake, self)) {
        routing_destroy(&self);
        return NULL;
    }
    return self;
}

void routing_destroy(routing_t **self_p)
{
    if (!self_p || !*self_p) return;
    wh_service_destroy(&(*self_p)->svc);
    free(*self_p);
    *self_p = NULL;
}

wh_service_t *routing_service(routing_t *self) { return self->svc; }
