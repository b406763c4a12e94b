/* routing.c: the routing service. Follows intake's log and decides each report through the
 * rulebook (case.dispatched / case.refused); follows tracking's log to keep a snapshot of each
 * open case; keeps each case's pending deadline in LMDB and fires it from one libuv timer set
 * for the nearest, climbing the ladder (case.escalated); serves manual escalation and the
 * lead's review (乡街吹哨: a matter reviewed first waits in REVIEW until its lead blows the
 * whistle, hands the case to its community or rejects it: review_step).
 *
 * Tables: "cases"      case id -> RoutingCase (snapshot, ladder level, pending deadline)
 *         "deadlines"  be64(due_ms) case id -> ""   (ordered by due time)
 * A deadline is removed in the same transaction that logs what its expiry decided, so a crash
 * or restart never loses one and never fires one twice. */
#include "routing.h"
#include "whistle/clock.h"
#include "whistle/deadline.h"
#include "whistle/error.h"
#include "whistle/wlog.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_STEPS 16 /* escalation steps counted by name; more are counted as "other" */

/* Escalations logged with one step name: committed since start, and in the open batch. */
struct s_step_count {
    char step[32];
    uint64_t committed;
    uint64_t pending;
};

struct routing {
    wh_service_t *svc;
    const struct wh_catalog *cat;
    wh_deadlines_t *deadlines; /* table "deadlines": each open case's pending deadline */
    struct s_step_count steps[S_MAX_STEPS]; /* escalations by step (Stats) */
    size_t n_steps;
};

/* Counts an escalation of the open batch (kept by the commit, forgotten if it is not). */
static void s_count_step(routing_t *self, const char *step)
{
    size_t i = 0;
    while (i < self->n_steps && strcmp(self->steps[i].step, step) != 0) i++;
    if (i == S_MAX_STEPS) {
        i = S_MAX_STEPS - 1; /* the last slot is "other" */
    } else if (i == self->n_steps) {
        /* a new name; the last slot, once reached, counts every name not seen so far */
        const char *name = i == S_MAX_STEPS - 1 ? "other" : step;
        snprintf(self->steps[i].step, sizeof self->steps[i].step, "%s", name);
        self->n_steps++;
    }
    self->steps[i].pending++;
}

/* ---- the routing record of a case ----------------------------------------------------------- */

static int s_load(routing_t *self, MDB_txn *txn, const char *id, Whistle__V1__RoutingCase **out)
{
    wh_store_t *st = wh_service_store(self->svc);
    MDB_val v;
    *out = NULL;
    int rc = wh_store_get(st, txn, wh_store_dbi(st, "cases"), id, strlen(id), &v);
    if (rc) return rc;
    *out = whistle__v1__routing_case__unpack(NULL, v.mv_size, v.mv_data);
    return *out ? 0 : WH_ESTORE;
}

/* Stores `rc` with its deadline moved to (kind, due); due 0 removes it. */
static int s_store(routing_t *self, MDB_txn *txn, Whistle__V1__RoutingCase *r, int kind,
                   int64_t due)
{
    wh_store_t *st = wh_service_store(self->svc);
    int rc = wh_deadlines_move(self->deadlines, txn, r->case_->id, r->due_ms, due);
    r->due_ms = due;
    r->due_kind = due ? (uint32_t)kind : 0;
    if (rc) return rc;
    size_t len;
    uint8_t *buf = wh_pack(&r->base, &len);
    if (!buf) return WH_ENOMEM;
    rc = wh_store_put(st, txn, wh_store_dbi(st, "cases"), r->case_->id, strlen(r->case_->id), buf,
                      len);
    free(buf);
    return rc;
}

/* Logs case.escalated for `step` on case `c`. When `ev_out` is given it receives the event,
 * whose strings borrow from `c`, `step` and `added` (an array of 8 the caller keeps). */
static int s_log_escalation(routing_t *self, MDB_txn *txn, const Whistle__V1__Case *c,
                            const struct routing_step *step, const char *actor,
                            Whistle__V1__CaseEscalated *ev_out, char **added)
{
    char *own[8];
    if (!added) added = own;
    for (size_t i = 0; i < step->n_added; i++) added[i] = (char *)step->added[i]->code;
    Whistle__V1__CaseEscalated ev = WHISTLE__V1__CASE_ESCALATED__INIT;
    ev.case_id = c->id;
    ev.step = (char *)step->step;
    ev.reason = (char *)step->reason;
    ev.level = step->level;
    ev.from_whistle = c->whistle;
    ev.to_whistle = step->to_whistle;
    ev.added_departments = added;
    ev.n_added_departments = step->n_added;
    ev.checkin_deadline_ms = step->checkin_deadline_ms;
    ev.resolve_deadline_ms = step->resolve_deadline_ms;
    ev.actor = (char *)actor;
    Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
    env.correlation_id = c->id;
    env.occurred_at_ms = wh_now_ms();
    env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_ESCALATED;
    env.case_escalated = &ev;
    wh_log_info("%s: escalated: %s (level %u): %s%s", c->id, step->step, step->level,
                step->reason, step->to_whistle != (int)c->whistle ? ", whistle raised" : "");
    int rc = wh_service_append(self->svc, txn, NULL, &env, NULL);
    if (rc == 0) s_count_step(self, step->step);
    if (ev_out) *ev_out = ev;
    return rc;
}

/* What the snapshot learns from an escalation before tracking's update arrives. */
static void s_note_escalation(Whistle__V1__RoutingCase *r, const struct routing_step *step)
{
    r->level = step->level > r->level ? step->level : r->level;
    r->case_->whistle = step->to_whistle;
    if (step->checkin_deadline_ms) r->case_->checkin_deadline_ms = step->checkin_deadline_ms;
    if (step->resolve_deadline_ms) r->case_->resolve_deadline_ms = step->resolve_deadline_ms;
}

/* ---- 乡街吹哨: the lead's review ------------------------------------------------------------- */

/* The matter is reviewed first: the case waits in REVIEW for its lead, watched by the ladder
 * from its review deadline. */
static int s_open_review(routing_t *self, MDB_txn *txn, const Whistle__V1__Envelope *in,
                         const struct routing_decision *d)
{
    const Whistle__V1__CaseReported *cr = in->case_reported;
    char *depts[WH_MATTER_MAX_DEPTS];
    for (size_t i = 0; i < d->n_departments; i++) depts[i] = (char *)d->departments[i]->code;
    Whistle__V1__ReviewStep rs = WHISTLE__V1__REVIEW_STEP__INIT;
    rs.case_id = cr->case_id;
    rs.actor = "routing";
    rs.report = cr->report;
    rs.lead_unit = (char *)d->lead_code;
    rs.community = (char *)d->community->code;
    rs.whistle = d->whistle;
    rs.departments = depts;
    rs.n_departments = d->n_departments;
    rs.review_deadline_ms = d->review_deadline_ms;
    Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
    env.correlation_id = cr->case_id;
    env.occurred_at_ms = in->occurred_at_ms;
    env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_REVIEW_STEP;
    env.review_step = &rs;
    wh_log_debug("%s: review by %s", cr->case_id, d->lead_code);
    int rc = wh_service_append(self->svc, txn, NULL, &env, NULL);
    if (rc) return rc;
    Whistle__V1__Case c = WHISTLE__V1__CASE__INIT;
    c.id = cr->case_id;
    c.report = cr->report;
    c.state = WHISTLE__V1__CASE_STATE__REVIEW;
    c.lead_unit = rs.lead_unit;
    c.community = rs.community;
    c.review_deadline_ms = d->review_deadline_ms;
    Whistle__V1__RoutingCase r = WHISTLE__V1__ROUTING_CASE__INIT;
    r.case_ = &c;
    return s_store(self, txn, &r, ROUTING_DUE_REVIEW, d->review_deadline_ms);
}

/* Answers `peer` with EFIELD etc. and returns 0 (a decision about this request). */
static int s_refuse(routing_t *self, const struct wh_peer *peer, int code, const char *field,
                    int state, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int s_refuse(routing_t *self, const struct wh_peer *peer, int code, const char *field,
                    int state, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    wh_service_error(self->svc, peer, code, field, msg, state);
    return 0;
}

/* Checks what a Blow asks, before any case is read: every refusal names its field. */
static int s_blow_check(routing_t *self, const struct wh_peer *peer, const Whistle__V1__Blow *b)
{
    struct wh_field_error fe;
    if (wh_check_string(&fe, "blow.case_id", b->case_id, 64, 1) ||
        wh_check_string(&fe, "blow.actor", b->actor, WH_MAX_CODE, 1) ||
        wh_check_string(&fe, "blow.reject", b->reject, 32, 0) ||
        wh_check_string(&fe, "blow.duplicate_of", b->duplicate_of, 64, 0) ||
        wh_check_string(&fe, "blow.reason", b->reason, WH_MAX_SHORT, 0))
        return s_refuse(self, peer, fe.code, fe.field, 0, "%s", fe.message), 1;
    const struct wh_identity *who = &peer->who;
    if (who->kind != WH_KIND_NONE && !wh_identity_trusted(who) &&
        (who->kind != WH_KIND_TOWNSHIP || strcmp(who->code, b->actor) != 0))
        return s_refuse(self, peer, WH_EFORBIDDEN, "blow.actor", 0,
                        "this key is %s '%s'; it may not act as '%s'", wh_kind_name(who->kind),
                        who->code, b->actor), 1;
    int reject = b->reject && b->reject[0];
    int dup = reject && strcmp(b->reject, "duplicate") == 0;
    if (reject && !dup && strcmp(b->reject, "not-a-matter") != 0)
        return s_refuse(self, peer, WH_EFIELD, "blow.reject", 0,
                        "blow.reject must be duplicate or not-a-matter, not '%s'", b->reject), 1;
    if (reject && (b->to_community || b->whistle || b->n_departments))
        return s_refuse(self, peer, WH_EFIELD, b->to_community ? "blow.to_community"
                                               : b->whistle    ? "blow.whistle"
                                                               : "blow.departments",
                        0, "a rejected case blows no whistle and goes to nobody"), 1;
    if (dup != (b->duplicate_of && b->duplicate_of[0]))
        return s_refuse(self, peer, WH_EFIELD, "blow.duplicate_of", 0,
                        dup ? "a duplicate names the case it repeats in blow.duplicate_of"
                            : "blow.duplicate_of goes with reject duplicate only"), 1;
    if (dup && strcmp(b->duplicate_of, b->case_id) == 0)
        return s_refuse(self, peer, WH_EFIELD, "blow.duplicate_of", 0,
                        "case %s cannot be a duplicate of itself", b->case_id), 1;
    if (reject && (!b->reason || !b->reason[0]))
        return s_refuse(self, peer, WH_EFIELD, "blow.reason", 0,
                        "a rejection needs its reason in blow.reason: the reporter reads it"), 1;
    if (b->to_community && b->n_departments)
        return s_refuse(self, peer, WH_EFIELD, "blow.departments", 0,
                        "a case handed to its community takes no department"), 1;
    if (b->whistle && (b->whistle < WHISTLE__V1__WHISTLE__QUICK ||
                       b->whistle > WHISTLE__V1__WHISTLE__TOUGH))
        return s_refuse(self, peer, WH_EFIELD, "blow.whistle", 0,
                        "blow.whistle must be QUICK, EMERGENCY or TOUGH"), 1;
    if (b->n_departments > WH_MATTER_MAX_DEPTS)
        return s_refuse(self, peer, WH_EFIELD, "blow.departments", 0,
                        "at most %d departments, got %zu", WH_MATTER_MAX_DEPTS,
                        b->n_departments), 1;
    for (size_t i = 0; i < b->n_departments; i++) {
        if (!wh_catalog_department(self->cat, b->departments[i]))
            return s_refuse(self, peer, WH_EFIELD, "blow.departments", 0,
                            "unknown department '%.*s'",
                            (int)wh_utf8_prefix(b->departments[i], WH_MAX_CODE),
                            b->departments[i]), 1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(b->departments[i], b->departments[j]) == 0)
                return s_refuse(self, peer, WH_EFIELD, "blow.departments", 0,
                                "department '%s' named twice", b->departments[i]), 1;
    }
    return 0;
}

/* The lead decides a case in REVIEW: blows the whistle (BLOW), hands the case to its
 * community (HAND_OVER) or rejects it (REJECT); logged as review_step, which tracking
 * applies. Defaults come from the rulebook: the matter's whistle (or the one the ladder
 * raised during the review) and departments. */
static int s_blow(routing_t *self, MDB_txn *txn, const struct wh_peer *peer,
                  const Whistle__V1__Blow *b)
{
    if (s_blow_check(self, peer, b)) return 0;
    Whistle__V1__RoutingCase *r = NULL;
    int rc = s_load(self, txn, b->case_id, &r);
    if (rc == WH_ENOTFOUND)
        return s_refuse(self, peer, WH_ENOTFOUND, "blow.case_id", 0,
                        "unknown case '%s' (or refused by routing)", b->case_id);
    if (rc) return rc;
    Whistle__V1__Case *c = r->case_;
    int state = c->state;
    int reject = b->reject && b->reject[0];
    int action = reject             ? WHISTLE__V1__ACTION__REJECT
                 : b->to_community ? WHISTLE__V1__ACTION__HAND_OVER
                                   : WHISTLE__V1__ACTION__BLOW;
    struct routing_decision d;
    int64_t now = wh_now_ms();
    routing_rules_route(self->cat, c->report, now, &d);
    Whistle__V1__RoutingCase *other = NULL;
    if (strcmp(b->actor, c->lead_unit) != 0) {
        s_refuse(self, peer, WH_EFORBIDDEN, "blow.actor", state,
                 "only the lead unit '%s' may blow the whistle on %s", c->lead_unit, c->id);
        goto out;
    }
    if (state != WHISTLE__V1__CASE_STATE__REVIEW) {
        s_refuse(self, peer, WH_ESTATE, "blow.case_id", state,
                 "case %s is %s; blow needs REVIEW (the whistle is blown once)", c->id,
                 wh_state_name(state));
        goto out;
    }
    if (reject && b->duplicate_of[0]) {
        rc = s_load(self, txn, b->duplicate_of, &other);
        if (rc == WH_ENOTFOUND) {
            rc = 0;
            s_refuse(self, peer, WH_ENOTFOUND, "blow.duplicate_of", state,
                     "unknown case '%s' (or refused): a duplicate repeats a case routing knows",
                     b->duplicate_of);
            goto out;
        }
        if (rc) goto out;
    }
    if (action == WHISTLE__V1__ACTION__BLOW && !b->n_departments && d.refused) {
        s_refuse(self, peer, WH_EFIELD, "blow.departments", state,
                 "the matter of case %s is no longer in the catalog: name the departments",
                 c->id);
        goto out;
    }
    /* what is blown */
    char *depts[WH_MATTER_MAX_DEPTS];
    size_t n = 0;
    if (action == WHISTLE__V1__ACTION__BLOW) {
        if (b->n_departments)
            for (size_t i = 0; i < b->n_departments; i++) depts[n++] = b->departments[i];
        else
            for (size_t i = 0; i < d.n_departments; i++)
                depts[n++] = (char *)d.departments[i]->code;
    }
    int whistle = b->whistle ? (int)b->whistle
                  : c->whistle ? (int)c->whistle
                  : d.refused  ? WHISTLE__V1__WHISTLE__QUICK
                               : d.whistle;
    const char *community = c->community && c->community[0] ? c->community
                            : d.community                   ? d.community->code
                                                            : "";
    Whistle__V1__ReviewStep rs = WHISTLE__V1__REVIEW_STEP__INIT;
    rs.case_id = c->id;
    rs.action = action;
    rs.actor = b->actor;
    rs.lead_unit = c->lead_unit;
    rs.community = (char *)community;
    rs.reject = b->reject;
    rs.duplicate_of = b->duplicate_of;
    rs.reason = b->reason;
    if (!reject) {
        rs.whistle = whistle;
        rs.departments = depts;
        rs.n_departments = n;
        rs.checkin_deadline_ms = now + self->cat->whistles[whistle].checkin_ms;
        rs.resolve_deadline_ms = now + self->cat->whistles[whistle].resolve_ms;
    }
    Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
    env.correlation_id = c->id;
    env.occurred_at_ms = now;
    env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_REVIEW_STEP;
    env.review_step = &rs;
    if ((rc = wh_service_append(self->svc, txn, NULL, &env, NULL))) goto out;
    wh_log_info("%s: %s by %s%s%s", c->id, wh_action_name(action), b->actor,
                reject ? ": " : "", reject ? b->reject : "");
    /* the snapshot routing watches until tracking's update arrives */
    Whistle__V1__Case nc = *c;
    Whistle__V1__Assignment as[WH_MATTER_MAX_DEPTS], *asp[WH_MATTER_MAX_DEPTS];
    size_t na = action == WHISTLE__V1__ACTION__HAND_OVER ? 1 : n;
    for (size_t i = 0; i < na; i++) {
        whistle__v1__assignment__init(&as[i]);
        as[i].department = action == WHISTLE__V1__ACTION__HAND_OVER ? rs.community : depts[i];
        as[i].state = WHISTLE__V1__ASSIGNMENT_STATE__NOTIFIED;
        as[i].assigned_at_ms = now;
        as[i].checkin_deadline_ms = rs.checkin_deadline_ms;
        asp[i] = &as[i];
    }
    nc.assignments = asp;
    nc.n_assignments = reject ? 0 : na;
    nc.state = reject ? WHISTLE__V1__CASE_STATE__REFUSED : WHISTLE__V1__CASE_STATE__DISPATCHED;
    nc.whistle = rs.whistle;
    nc.checkin_deadline_ms = rs.checkin_deadline_ms;
    nc.resolve_deadline_ms = rs.resolve_deadline_ms;
    nc.review_deadline_ms = 0;
    r->case_ = &nc;
    rc = s_store(self, txn, r, reject ? 0 : ROUTING_DUE_CHECKIN, rs.checkin_deadline_ms);
    r->case_ = c;
    if (rc == 0) {
        Whistle__V1__Reply reply = WHISTLE__V1__REPLY__INIT;
        Whistle__V1__BlowReply br = WHISTLE__V1__BLOW_REPLY__INIT;
        br.step = &rs;
        reply.body_case = WHISTLE__V1__REPLY__BODY_BLOW;
        reply.blow = &br;
        wh_service_reply(self->svc, peer, &reply);
    }
out:
    if (other) whistle__v1__routing_case__free_unpacked(other, NULL);
    whistle__v1__routing_case__free_unpacked(r, NULL);
    return rc;
}

/* ---- intake: dispatch ------------------------------------------------------------------------ */

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
        return wh_service_append(self->svc, txn, NULL, &env, NULL);
    }
    if (d.review) return s_open_review(self, txn, in, &d);
    cd.case_id = cr->case_id;
    cd.report = cr->report;
    Whistle__V1__Report order_report;
    if (d.order && !cr->report->order) {
        /* the matter makes it an order: the case says so, whatever the reporter set */
        order_report = *cr->report;
        order_report.order = 1;
        cd.report = &order_report;
    }
    cd.whistle = d.whistle;
    cd.lead_unit = (char *)d.lead_code;
    cd.community = (char *)d.community->code;
    for (size_t i = 0; i < d.n_departments; i++) depts[i] = (char *)d.departments[i]->code;
    cd.departments = depts;
    cd.n_departments = d.n_departments;
    cd.checkin_deadline_ms = d.checkin_deadline_ms;
    cd.resolve_deadline_ms = d.resolve_deadline_ms;
    env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_DISPATCHED;
    env.case_dispatched = &cd;
    wh_log_debug("%s: %s whistle, lead %s, %zu department(s)", cr->case_id,
                 wh_whistle_name(d.whistle), d.lead_code, d.n_departments);
    int rc = wh_service_append(self->svc, txn, NULL, &env, NULL);
    if (rc) return rc;

    /* the snapshot routing watches until tracking's first update arrives */
    Whistle__V1__Case c = WHISTLE__V1__CASE__INIT;
    Whistle__V1__Assignment as[WH_MATTER_MAX_DEPTS], *asp[WH_MATTER_MAX_DEPTS];
    c.id = cr->case_id;
    c.state = WHISTLE__V1__CASE_STATE__DISPATCHED;
    c.whistle = d.whistle;
    c.lead_unit = cd.lead_unit;
    c.checkin_deadline_ms = d.checkin_deadline_ms;
    c.resolve_deadline_ms = d.resolve_deadline_ms;
    for (size_t i = 0; i < d.n_departments; i++) {
        whistle__v1__assignment__init(&as[i]);
        as[i].department = depts[i];
        as[i].state = WHISTLE__V1__ASSIGNMENT_STATE__NOTIFIED;
        asp[i] = &as[i];
    }
    c.assignments = asp;
    c.n_assignments = d.n_departments;
    Whistle__V1__RoutingCase r = WHISTLE__V1__ROUTING_CASE__INIT;
    r.case_ = &c;
    return s_store(self, txn, &r, ROUTING_DUE_CHECKIN, d.checkin_deadline_ms);
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

/* ---- tracking: what is still outstanding ---------------------------------------------------- */

static int s_apply_tracking(void *arg, wh_service_t *svc, MDB_txn *txn,
                            const Whistle__V1__Envelope *env)
{
    (void)svc;
    routing_t *self = arg;
    if (env->payload_case != WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_UPDATED || !env->case_updated->case_)
        return 0;
    const Whistle__V1__CaseUpdated *u = env->case_updated;
    Whistle__V1__RoutingCase *r = NULL;
    int rc = s_load(self, txn, u->case_->id, &r);
    if (rc == WH_ENOTFOUND) return 0; /* refused: nothing to watch */
    if (rc) return rc;
    /* keep the newer snapshot; keep our own view of the ladder */
    Whistle__V1__Case *old = r->case_;
    r->case_ = u->case_;
    int kind = (int)r->due_kind;
    int64_t due = r->due_ms;
    int state = u->case_->state;
    int action = u->entry ? u->entry->action : 0;
    int64_t at = u->entry ? u->entry->at_ms : env->occurred_at_ms;
    int whistle = u->case_->whistle ? u->case_->whistle : WHISTLE__V1__WHISTLE__QUICK;
    if (state == WHISTLE__V1__CASE_STATE__CLOSED || state == WHISTLE__V1__CASE_STATE__REFUSED) {
        due = 0;
    } else if (state == WHISTLE__V1__CASE_STATE__REOPENED && action == WHISTLE__V1__ACTION__VERIFY) {
        /* every department is back on it: a new check-in period starts, from the fresh
         * deadlines tracking gave each assignment (the case's is the earliest) */
        kind = ROUTING_DUE_CHECKIN;
        due = u->case_->checkin_deadline_ms > at ? u->case_->checkin_deadline_ms
                                                 : at + self->cat->whistles[whistle].checkin_ms;
    } else if ((action == WHISTLE__V1__ACTION__ASSIGN || action == WHISTLE__V1__ACTION__ORDER) &&
               kind == ROUTING_DUE_RESOLVE) {
        kind = ROUTING_DUE_CHECKIN; /* a department was added: it must report for duty */
        due = at + self->cat->whistles[whistle].checkin_ms;
    } else if (state == WHISTLE__V1__CASE_STATE__RESOLVED) {
        due = 0; /* awaiting the resident; reopening re-arms */
    }
    rc = s_store(self, txn, r, kind, due);
    r->case_ = old;
    whistle__v1__routing_case__free_unpacked(r, NULL);
    return rc;
}

/* ---- deadlines ------------------------------------------------------------------------------ */

/* A case's deadline passed (its row is already removed): climb the ladder or move on. */
static int s_fire(void *arg, MDB_txn *txn, const char *id, int64_t due, int64_t now)
{
    (void)due;
    routing_t *self = arg;
    Whistle__V1__RoutingCase *r = NULL;
    int rc = s_load(self, txn, id, &r);
    if (rc == WH_ENOTFOUND) return 0;
    if (rc) return rc;
    r->due_ms = 0; /* gone with the row */
    struct routing_step step;
    int esc = routing_ladder_next(self->cat, r->case_, r->level, (int)r->due_kind, now, &step);
    if (esc) {
        rc = s_log_escalation(self, txn, r->case_, &step, "routing", NULL, NULL);
        s_note_escalation(r, &step);
    }
    if (rc == 0) rc = s_store(self, txn, r, step.next_kind, step.next_due_ms);
    whistle__v1__routing_case__free_unpacked(r, NULL);
    return rc;
}

/* Deadlines are decided on tracking's latest word: wait while its follower is behind. */
static int s_gate(void *arg)
{
    routing_t *self = arg;
    return wh_service_caught_up(self->svc, "tracking");
}

static void s_after_commit(void *arg, wh_service_t *svc)
{
    (void)svc;
    routing_t *self = arg;
    for (size_t i = 0; i < self->n_steps; i++) {
        self->steps[i].committed += self->steps[i].pending;
        self->steps[i].pending = 0;
    }
    wh_deadlines_arm(self->deadlines);
}

/* The batch was not kept: neither were its escalations. */
static void s_after_abort(void *arg, wh_service_t *svc)
{
    (void)svc;
    routing_t *self = arg;
    for (size_t i = 0; i < self->n_steps; i++) self->steps[i].pending = 0;
}

static void s_stats(void *arg, wh_service_t *svc, MDB_txn *txn, wh_metrics_t *m)
{
    routing_t *self = arg;
    MDB_stat ms;
    if (txn && mdb_stat(txn, wh_store_dbi(wh_service_store(svc), "deadlines"), &ms) == 0)
        wh_metrics_add(m, WH_METRIC_GAUGE, "whistle_deadlines_pending",
                       "Deadlines waiting to fire (routing: one per open case).",
                       (double)ms.ms_entries, NULL);
    for (size_t i = 0; i < self->n_steps; i++)
        wh_metrics_add(m, WH_METRIC_COUNTER, "whistle_escalations_total",
                       "Escalations logged since start, by step of the ladder (manual: "
                       "whistlectl escalate).",
                       (double)self->steps[i].committed, "step", self->steps[i].step, NULL);
}

/* ---- manual escalation ------------------------------------------------------------------------ */

static int s_escalate(routing_t *self, MDB_txn *txn, const struct wh_peer *peer,
                      const Whistle__V1__Escalate *e)
{
    wh_service_t *svc = self->svc;
    struct wh_field_error fe;
    if (wh_check_string(&fe, "escalate.case_id", e->case_id, 64, 1) ||
        wh_check_string(&fe, "escalate.actor", e->actor, WH_MAX_CODE, 1) ||
        wh_check_string(&fe, "escalate.reason", e->reason, WH_MAX_SHORT, 0)) {
        wh_service_error(svc, peer, fe.code, fe.field, fe.message, 0);
        return 0;
    }
    const struct wh_identity *who = &peer->who;
    if (who->kind != WH_KIND_NONE && !wh_identity_trusted(who) &&
        (who->kind != WH_KIND_TOWNSHIP || strcmp(who->code, e->actor) != 0)) {
        /* keys on: a township's key blows its own whistles only */
        char m[160];
        snprintf(m, sizeof m, "this key is %s '%s'; it may not act as '%s'",
                 wh_kind_name(who->kind), who->code, e->actor);
        wh_service_error(svc, peer, WH_EFORBIDDEN, "escalate.actor", m, 0);
        return 0;
    }
    int to = e->to_whistle ? (int)e->to_whistle : WHISTLE__V1__WHISTLE__TOUGH;
    if (to < WHISTLE__V1__WHISTLE__QUICK || to > WHISTLE__V1__WHISTLE__TOUGH) {
        wh_service_error(svc, peer, WH_EFIELD, "escalate.to_whistle",
                         "escalate.to_whistle must be QUICK, EMERGENCY or TOUGH", 0);
        return 0;
    }
    Whistle__V1__RoutingCase *r = NULL;
    int rc = s_load(self, txn, e->case_id, &r);
    char msg[256];
    if (rc == WH_ENOTFOUND) {
        snprintf(msg, sizeof msg, "unknown case '%s' (or refused: nothing to escalate)", e->case_id);
        wh_service_error(svc, peer, WH_ENOTFOUND, "escalate.case_id", msg, 0);
        return 0;
    }
    if (rc) return rc;
    Whistle__V1__Case *c = r->case_;
    int state = c->state;
    if (strcmp(e->actor, c->lead_unit) != 0) {
        snprintf(msg, sizeof msg, "only the lead unit '%s' may blow or raise the whistle on %s",
                 c->lead_unit, c->id);
        wh_service_error(svc, peer, WH_EFORBIDDEN, "escalate.actor", msg, state);
    } else if (state != WHISTLE__V1__CASE_STATE__DISPATCHED &&
               state != WHISTLE__V1__CASE_STATE__IN_PROGRESS &&
               state != WHISTLE__V1__CASE_STATE__REOPENED) {
        snprintf(msg, sizeof msg, "case %s is %s; only an open case can be escalated%s", c->id,
                 wh_state_name(state),
                 state == WHISTLE__V1__CASE_STATE__REVIEW
                     ? " (in REVIEW its lead blows the whistle: whistlectl blow)"
                     : "");
        wh_service_error(svc, peer, WH_ESTATE, "escalate.case_id", msg, state);
    } else if ((int)c->whistle == to) {
        snprintf(msg, sizeof msg, "case %s is already on the %s whistle", c->id,
                 wh_whistle_name(to));
        wh_service_error(svc, peer, WH_ESTATE, "escalate.to_whistle", msg, state);
    } else if (to < (int)c->whistle) {
        /* an escalation climbs: it never lowers a whistle */
        snprintf(msg, sizeof msg,
                 "case %s is on the %s whistle; an escalation never lowers it to %s", c->id,
                 wh_whistle_name(c->whistle), wh_whistle_name(to));
        wh_service_error(svc, peer, WH_ESTATE, "escalate.to_whistle", msg, state);
    } else {
        struct routing_step step;
        memset(&step, 0, sizeof step);
        step.escalate = 1;
        step.step = "manual";
        step.level = r->level + 1; /* a step of the ladder, as the ones deadlines climb */
        /* a long reason loses whole characters: a cut one would be stored for ever */
        wh_snprintf_utf8(step.reason, sizeof step.reason, "%s raised the whistle to %s%s%s",
                         e->actor, wh_whistle_name(to), e->reason && e->reason[0] ? ": " : "",
                         e->reason ? e->reason : "");
        routing_ladder_raise(self->cat, c, to, wh_now_ms(), &step);
        Whistle__V1__CaseEscalated ev;
        char *added[8];
        rc = s_log_escalation(self, txn, c, &step, e->actor, &ev, added);
        if (rc == 0) {
            int any_notified = 0;
            for (size_t i = 0; i < c->n_assignments; i++)
                any_notified |= c->assignments[i]->state == WHISTLE__V1__ASSIGNMENT_STATE__NOTIFIED;
            int kind = any_notified || step.n_added ? ROUTING_DUE_CHECKIN : ROUTING_DUE_RESOLVE;
            s_note_escalation(r, &step);
            rc = s_store(self, txn, r, kind,
                         kind == ROUTING_DUE_CHECKIN ? step.checkin_deadline_ms
                                                     : step.resolve_deadline_ms);
        }
        if (rc == 0) {
            Whistle__V1__Reply reply = WHISTLE__V1__REPLY__INIT;
            Whistle__V1__EscalateReply er = WHISTLE__V1__ESCALATE_REPLY__INIT;
            er.escalated = &ev;
            reply.body_case = WHISTLE__V1__REPLY__BODY_ESCALATE;
            reply.escalate = &er;
            wh_service_reply(svc, peer, &reply);
        }
    }
    whistle__v1__routing_case__free_unpacked(r, NULL);
    return rc;
}

static int s_on_request(void *arg, wh_service_t *svc, MDB_txn *txn, const struct wh_peer *peer,
                        const Whistle__V1__Request *req)
{
    if (req->body_case == WHISTLE__V1__REQUEST__BODY_ESCALATE)
        return s_escalate(arg, txn, peer, req->escalate);
    if (req->body_case == WHISTLE__V1__REQUEST__BODY_BLOW) return s_blow(arg, txn, peer, req->blow);
    wh_service_error(svc, peer, WH_EUNSUPPORTED, "request.body",
                     "routing serves Escalate, Blow, Replay and Ping", 0);
    return 0;
}

/* ---- lifecycle --------------------------------------------------------------------------------- */

routing_t *routing_new(const struct wh_options *o, const struct wh_catalog *cat)
{
    routing_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    static const char *const tables[] = {"cases", "deadlines", NULL};
    struct wh_service_config cfg;
    wh_service_config_init(&cfg, "routing", o);
    cfg.tables = tables;
    cfg.on_request = s_on_request;
    cfg.after_commit = s_after_commit;
    cfg.after_abort = s_after_abort;
    cfg.stats = s_stats;
    cfg.arg = self;
    self->cat = cat;
    self->svc = wh_service_new(&cfg);
    if (!self->svc) {
        free(self);
        return NULL;
    }
    self->deadlines = wh_deadlines_new(self->svc, "deadlines", s_fire, s_gate, self);
    if (!self->deadlines ||
        wh_service_follow(self->svc, "intake", o->upstream_api[WH_UP_INTAKE],
                          o->upstream_events[WH_UP_INTAKE], s_apply_intake, self) ||
        wh_service_follow(self->svc, "tracking", o->upstream_api[WH_UP_TRACKING],
                          o->upstream_events[WH_UP_TRACKING], s_apply_tracking, self)) {
        routing_destroy(&self);
        return NULL;
    }
    wh_deadlines_arm(self->deadlines); /* kept in LMDB across restarts: re-arm the nearest */
    return self;
}

void routing_destroy(routing_t **self_p)
{
    if (!self_p || !*self_p) return;
    routing_t *self = *self_p;
    wh_deadlines_destroy(&self->deadlines);
    wh_service_destroy(&self->svc);
    free(self);
    *self_p = NULL;
}

wh_service_t *routing_service(routing_t *self) { return self->svc; }
