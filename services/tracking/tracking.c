/* tracking.c: the tracking service: opens cases from routing's log, serves actions and
 * queries, closes resolved cases nobody verified within the window, and appends case.updated
 * (the case after the change and its history line) to its log "tracking/" in the same
 * transaction as the change (s_change: the one way a case changes). */
#include "tracking.h"
#include "whistle/clock.h"
#include "whistle/deadline.h"
#include "whistle/error.h"
#include "whistle/wlog.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_STATES 9 /* CaseState values */

struct tracking {
    wh_service_t *svc;
    const struct wh_catalog *cat;
    wh_deadlines_t *verify; /* table "verify_due": resolved cases awaiting the resident */
    /* cases by state (Stats), without a scan per request: counted from idx_state once at
     * start, then moved by every change (s_change) in `moved`, kept by the commit */
    int64_t by_state[S_STATES];
    int64_t moved[S_STATES];  /* ... the open batch's changes, forgotten if it is not kept */
};

/* Counts the cases of each state from idx_state (key: state byte, NUL, id), once at start. */
static void s_count_states(tracking_t *self)
{
    wh_store_t *st = wh_service_store(self->svc);
    MDB_txn *txn;
    MDB_cursor *cur;
    if (mdb_txn_begin(wh_store_env(st), NULL, MDB_RDONLY, &txn)) return;
    if (mdb_cursor_open(txn, wh_store_dbi(st, "idx_state"), &cur) == 0) {
        MDB_val k, v;
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            uint8_t state = k.mv_size ? *(const uint8_t *)k.mv_data : 0;
            if (state < S_STATES) self->by_state[state]++;
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
}

static void s_stats(void *arg, wh_service_t *svc, MDB_txn *txn, wh_metrics_t *m)
{
    tracking_t *self = arg;
    for (int s = 1; s < S_STATES; s++)
        wh_metrics_add(m, WH_METRIC_GAUGE, "whistle_cases",
                       "Cases in the ledger by state (open: DISPATCHED, IN_PROGRESS, RESOLVED, "
                       "REOPENED).",
                       (double)self->by_state[s], "state", wh_state_name(s), NULL);
    MDB_stat ms;
    if (txn && mdb_stat(txn, wh_store_dbi(wh_service_store(svc), "verify_due"), &ms) == 0)
        wh_metrics_add(m, WH_METRIC_GAUGE, "whistle_deadlines_pending",
                       "Deadlines waiting to fire (tracking: resolved cases awaiting the "
                       "resident).",
                       (double)ms.ms_entries, NULL);
}

/* The batch was not kept: neither were its changes of state. */
static void s_after_abort(void *arg, wh_service_t *svc)
{
    (void)svc;
    tracking_t *self = arg;
    memset(self->moved, 0, sizeof self->moved);
}

/* Keeps the verification window right: opened when a case becomes RESOLVED, gone otherwise. */
static void s_verify_window(tracking_t *self, Whistle__V1__Case *c, int64_t now)
{
    if (c->state == WHISTLE__V1__CASE_STATE__RESOLVED) {
        if (!c->verify_deadline_ms) c->verify_deadline_ms = now + self->cat->verification_window_ms;
    } else {
        c->verify_deadline_ms = 0;
    }
}

/* Every assignment has its own check-in deadline, from the moment it was (re)assigned (the
 * machine clears it then): set here from the case's whistle. The case's check-in deadline is
 * the earliest of those still NOTIFIED; a reopened case also gets a fresh resolution deadline.
 * A line that (re)assigns says the deadline it set (entry->checkin_deadline_ms). */
static void s_deadlines(tracking_t *self, Whistle__V1__Case *c, Whistle__V1__HistoryEntry *e)
{
    int w = c->whistle >= WHISTLE__V1__WHISTLE__QUICK && c->whistle <= WHISTLE__V1__WHISTLE__TOUGH
                ? (int)c->whistle
                : WHISTLE__V1__WHISTLE__QUICK;
    const struct wh_whistle_rule *rule = &self->cat->whistles[w];
    int64_t first = 0, mine = 0;
    for (size_t i = 0; i < c->n_assignments; i++) {
        Whistle__V1__Assignment *as = c->assignments[i];
        if (as->state != WHISTLE__V1__ASSIGNMENT_STATE__NOTIFIED) continue;
        if (!as->checkin_deadline_ms)
            as->checkin_deadline_ms = (as->assigned_at_ms ? as->assigned_at_ms : e->at_ms) +
                                      rule->checkin_ms;
        if (!first || as->checkin_deadline_ms < first) first = as->checkin_deadline_ms;
        if (e->department && strcmp(e->department, as->department) == 0)
            mine = as->checkin_deadline_ms;
    }
    if (first) c->checkin_deadline_ms = first;
    int reopened = e->action == WHISTLE__V1__ACTION__VERIFY &&
                   c->state == WHISTLE__V1__CASE_STATE__REOPENED;
    if (reopened) c->resolve_deadline_ms = e->at_ms + rule->resolve_ms;
    if (e->action == WHISTLE__V1__ACTION__ASSIGN || e->action == WHISTLE__V1__ACTION__ORDER)
        e->checkin_deadline_ms = mine;
    else if (reopened || e->action == WHISTLE__V1__ACTION__DISPATCH ||
             e->action == WHISTLE__V1__ACTION__BLOW || e->action == WHISTLE__V1__ACTION__HAND_OVER)
        e->checkin_deadline_ms = first;
}

/* Records a change of `c` (the ledger, its indexes, its history line) and logs case.updated. */
static int s_change(tracking_t *self, MDB_txn *txn, Whistle__V1__Case *c,
                    const struct tracking_before *before, Whistle__V1__HistoryEntry *entry,
                    uint64_t routing_seq)
{
    wh_store_t *st = wh_service_store(self->svc);
    s_verify_window(self, c, entry->at_ms);
    s_deadlines(self, c, entry);
    int rc = tracking_ledger_put(st, txn, c, before);
    if (rc == 0) rc = tracking_ledger_history_add(st, txn, c->id, c->version, entry);
    if (rc) return rc;
    if (before->state != (int)c->state) {
        /* it wrote: if it is undone, the whole batch is (s_after_abort) */
        if (before->state > 0 && before->state < S_STATES) self->moved[before->state]--;
        if ((int)c->state > 0 && (int)c->state < S_STATES) self->moved[c->state]++;
    }
    Whistle__V1__CaseUpdated cu = WHISTLE__V1__CASE_UPDATED__INIT;
    cu.case_ = c;
    cu.entry = entry;
    cu.routing_seq = routing_seq;
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
            as[i].checkin_deadline_ms = cd->checkin_deadline_ms;
            asp[i] = &as[i];
        }
        if (cd->report && cd->report->task && cd->community && cd->community[0] &&
            n < WH_MATTER_MAX_DEPTS) {
            /* 社区事务准入: an admitted task is the community's to do; it checks in on it and
             * completes it like a department */
            whistle__v1__assignment__init(&as[n]);
            as[n].department = cd->community;
            as[n].kind = "community";
            as[n].state = WHISTLE__V1__ASSIGNMENT_STATE__NOTIFIED;
            as[n].assigned_at_ms = env->occurred_at_ms;
            as[n].checkin_deadline_ms = cd->checkin_deadline_ms;
            asp[n] = &as[n];
            n++;
        }
        c.assignments = asp;
        c.n_assignments = n;
        entry.action = WHISTLE__V1__ACTION__DISPATCH;
        if (cd->report && cd->report->task)
            snprintf(note, sizeof note, "%s, lead %s, task handed to community %s",
                     wh_whistle_name(cd->whistle), cd->lead_unit, cd->community);
        else if (cd->report && cd->report->order)
            snprintf(note, sizeof note, "%s, order led by community %s (群众点单)",
                     wh_whistle_name(cd->whistle), cd->lead_unit);
        else
            snprintf(note, sizeof note, "%s, lead %s, %zu department(s)",
                     wh_whistle_name(cd->whistle), cd->lead_unit, n);
    } else {
        c.report = cf->report;
        c.state = WHISTLE__V1__CASE_STATE__REFUSED;
        c.lead_unit = "";
        c.community = "";
        entry.action = WHISTLE__V1__ACTION__REFUSE;
        wh_snprintf_utf8(note, sizeof note, "%s: %s", cf->field, cf->reason);
    }
    entry.to_state = c.state;
    entry.note = note;
    struct tracking_before none;
    tracking_ledger_before(NULL, &none);
    return s_change(self, txn, &c, &none, &entry, env->seq);
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
    struct tracking_before before;
    tracking_ledger_before(c, &before);
    if (from == WHISTLE__V1__CASE_STATE__CLOSED || from == WHISTLE__V1__CASE_STATE__REFUSED) {
        /* decided on a snapshot older than the closing: nothing left to escalate */
        whistle__v1__case__free_unpacked(c, NULL);
        return 0;
    }
    if (ce->to_whistle) c->whistle = ce->to_whistle;
    if (ce->checkin_deadline_ms) c->checkin_deadline_ms = ce->checkin_deadline_ms;
    /* a raise gives every department still to check in the new whistle's deadline */
    for (size_t i = 0; ce->checkin_deadline_ms && i < c->n_assignments; i++)
        if (c->assignments[i]->state == WHISTLE__V1__ASSIGNMENT_STATE__NOTIFIED)
            c->assignments[i]->checkin_deadline_ms = ce->checkin_deadline_ms;
    if (ce->resolve_deadline_ms) c->resolve_deadline_ms = ce->resolve_deadline_ms;
    c->escalation_level = ce->level;
    /* 事不完、人不撤 caps a case's departments: a coordinator that does not fit is a decision
     * about that coordinator, said in the history line, never a reason to drop the raise */
    char skipped[160] = "";
    for (size_t i = 0; i < ce->n_added_departments && rc == 0; i++) {
        rc = tracking_machine_add_department(c, ce->added_departments[i], env->occurred_at_ms);
        if (rc == WH_ESTATE) {
            size_t n = strlen(skipped);
            if (n + strlen(ce->added_departments[i]) + 3 < sizeof skipped)
                snprintf(skipped + n, sizeof skipped - n, "%s%s", n ? ", " : "",
                         ce->added_departments[i]);
            rc = 0;
        }
    }
    char note[512];
    wh_snprintf_utf8(note, sizeof note, "%s: %s", ce->step, ce->reason);
    if (skipped[0]) {
        size_t n = strlen(note);
        if (n + 96 + strlen(skipped) < sizeof note)
            wh_snprintf_utf8(note + n, sizeof note - n,
                             " (not added, the case has its %d departments: %s)",
                             TRACKING_MAX_ASSIGNMENTS, skipped);
        wh_log_warn("%s: escalation could not add %s: the case has its %d departments", c->id,
                    skipped, TRACKING_MAX_ASSIGNMENTS);
    }
    Whistle__V1__HistoryEntry entry = WHISTLE__V1__HISTORY_ENTRY__INIT;
    entry.at_ms = env->occurred_at_ms;
    entry.action = WHISTLE__V1__ACTION__ESCALATE;
    entry.actor = ce->actor;
    entry.checkin_deadline_ms = ce->checkin_deadline_ms;
    entry.from_state = from;
    entry.to_state = c->state;
    entry.note = note;
    c->version++;
    c->updated_at_ms = env->occurred_at_ms;
    if (rc == 0) rc = s_change(self, txn, c, &before, &entry, env->seq);
    if (rc == 0)
        wh_log_info("%s: escalated (%s, level %u): %s", c->id, ce->step, ce->level, ce->reason);
    whistle__v1__case__free_unpacked(c, NULL);
    return rc;
}

/* 乡街吹哨: routing opened a review (the case waits in REVIEW for its lead), or the lead
 * decided it (BLOW, HAND_OVER, REJECT: tracking_machine_review). */
static int s_review(tracking_t *self, MDB_txn *txn, const Whistle__V1__Envelope *env)
{
    wh_store_t *st = wh_service_store(self->svc);
    const Whistle__V1__ReviewStep *rs = env->review_step;
    Whistle__V1__Case *c = NULL;
    char note[600];
    int rc = tracking_ledger_get(st, txn, rs->case_id, &c);
    if (rc && rc != WH_ENOTFOUND) return rc;
    Whistle__V1__HistoryEntry entry = WHISTLE__V1__HISTORY_ENTRY__INIT;
    struct tracking_before before;
    if (rs->action == WHISTLE__V1__ACTION__ACTION_UNSPECIFIED) {
        if (c) {
            whistle__v1__case__free_unpacked(c, NULL);
            wh_log_warn("%s: already open; %s ignored", rs->case_id, env->event_id);
            return 0;
        }
        Whistle__V1__Case nc = WHISTLE__V1__CASE__INIT;
        nc.id = rs->case_id;
        nc.report = rs->report;
        nc.state = WHISTLE__V1__CASE_STATE__REVIEW;
        nc.lead_unit = rs->lead_unit;
        nc.community = rs->community;
        nc.created_at_ms = nc.updated_at_ms = env->occurred_at_ms;
        nc.version = 1;
        nc.review_deadline_ms = rs->review_deadline_ms;
        entry.at_ms = env->occurred_at_ms;
        entry.action = WHISTLE__V1__ACTION__DISPATCH;
        entry.actor = "routing";
        entry.from_state = WHISTLE__V1__CASE_STATE__REPORTED;
        entry.to_state = nc.state;
        snprintf(note, sizeof note,
                 "review: lead %s blows the whistle (the matter's: %s, %zu department(s)), hands "
                 "it to its community or rejects it",
                 rs->lead_unit, wh_whistle_name(rs->whistle), rs->n_departments);
        entry.note = note;
        tracking_ledger_before(NULL, &before);
        return s_change(self, txn, &nc, &before, &entry, env->seq);
    }
    if (!c) {
        wh_log_warn("%s: review step %s for an unknown case ignored", rs->case_id, env->event_id);
        return 0;
    }
    tracking_ledger_before(c, &before);
    struct wh_field_error fe;
    rc = tracking_machine_review(c, rs, env->occurred_at_ms, &entry, &fe);
    if (rc == WH_ENOMEM) goto out;
    if (rc) {
        /* decided on routing's older snapshot: a decision about this entry, not a failure */
        wh_log_warn("%s: %s %s ignored: %s", c->id, wh_action_name(rs->action), env->event_id,
                    fe.message);
        rc = 0;
        goto out;
    }
    const char *r = rs->reason && rs->reason[0] ? rs->reason : "";
    if (rs->action == WHISTLE__V1__ACTION__BLOW)
        wh_snprintf_utf8(note, sizeof note, "%s, lead %s, %zu department(s), blown by %s%s%s",
                         wh_whistle_name(rs->whistle), c->lead_unit, rs->n_departments,
                         rs->actor, r[0] ? ": " : "", r);
    else if (rs->action == WHISTLE__V1__ACTION__HAND_OVER)
        wh_snprintf_utf8(note, sizeof note, "%s, lead %s, handed to community %s%s%s",
                         wh_whistle_name(rs->whistle), c->lead_unit, rs->community,
                         r[0] ? ": " : "", r);
    else if (rs->duplicate_of && rs->duplicate_of[0])
        wh_snprintf_utf8(note, sizeof note, "rejected by %s: a duplicate of case %s: %s",
                         rs->actor, rs->duplicate_of, r);
    else
        wh_snprintf_utf8(note, sizeof note, "rejected by %s: not a matter for the system: %s",
                         rs->actor, r);
    entry.note = note;
    rc = s_change(self, txn, c, &before, &entry, env->seq);
    if (rc == 0)
        wh_log_info("%s: %s by %s: REVIEW -> %s", c->id, wh_action_name(rs->action), rs->actor,
                    wh_state_name(c->state));
out:
    whistle__v1__case__free_unpacked(c, NULL);
    return rc;
}

static int s_apply_routing(void *arg, wh_service_t *svc, MDB_txn *txn,
                           const Whistle__V1__Envelope *env)
{
    (void)svc;
    if (env->payload_case == WHISTLE__V1__ENVELOPE__PAYLOAD_REVIEW_STEP &&
        env->review_step->case_id)
        return s_review(arg, txn, env);
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

/* 1 when `actor` is the leader or a worker of the case's grid (may verify for the reporter). */
static int s_grid_staff(tracking_t *self, const Whistle__V1__Case *c, const char *actor)
{
    const struct wh_grid *g = c->report ? wh_catalog_grid(self->cat, c->report->grid) : NULL;
    if (!g || !actor || !actor[0]) return 0;
    if (g->leader && strcmp(g->leader, actor) == 0) return 1;
    for (int i = 0; i < 3; i++)
        if (g->workers[i] && strcmp(g->workers[i], actor) == 0) return 1;
    return 0;
}

/* ORDER: the one the community dispatches to is in the catalog and serves it: a volunteer of
 * that community, or a stationed unit on its 大党委 or its street's 大工委. 0 or WH_EFIELD. */
static int s_order_check(tracking_t *self, const Whistle__V1__Case *c,
                         const Whistle__V1__CaseAction *a, struct wh_field_error *fe)
{
    const char *kind = a->kind ? a->kind : "", *code = a->department ? a->department : "";
    if (!kind[0] || !code[0]) return 0; /* the machine names what is missing */
    const struct wh_community *cm = wh_catalog_community(self->cat, c->community);
    if (strcmp(kind, "station") == 0) {
        const struct wh_station *s = wh_catalog_station(self->cat, code);
        if (!s)
            return wh_field_error_set(fe, WH_EFIELD, "case_action.department",
                                      "unknown stationed unit '%s'", code);
        if (!wh_catalog_station_serves(s, cm))
            return wh_field_error_set(fe, WH_EFIELD, "case_action.department",
                                      "stationed unit '%s' is on neither the 大党委 of community "
                                      "'%s' nor the 大工委 of its street",
                                      code, c->community);
    } else if (strcmp(kind, "volunteer") == 0) {
        const struct wh_volunteer *v = wh_catalog_volunteer(self->cat, code);
        if (!v)
            return wh_field_error_set(fe, WH_EFIELD, "case_action.department",
                                      "unknown volunteer '%s'", code);
        if (v->community != cm)
            return wh_field_error_set(fe, WH_EFIELD, "case_action.department",
                                      "volunteer '%s' is of community '%s', not '%s'", code,
                                      v->community->code, c->community);
    }
    return 0;
}

/* A resolved case nobody verified within the window closes, marked verified by default. */
static int s_verify_expired(void *arg, MDB_txn *txn, const char *id, int64_t due, int64_t now)
{
    (void)due;
    tracking_t *self = arg;
    wh_store_t *st = wh_service_store(self->svc);
    Whistle__V1__Case *c = NULL;
    int rc = tracking_ledger_get(st, txn, id, &c);
    if (rc == WH_ENOTFOUND) return 0;
    if (rc) return rc;
    if (c->state == WHISTLE__V1__CASE_STATE__RESOLVED) {
        struct tracking_before before;
        tracking_ledger_before(c, &before);
        before.verify = 0; /* the row is already gone */
        Whistle__V1__HistoryEntry entry = WHISTLE__V1__HISTORY_ENTRY__INIT;
        entry.at_ms = now;
        entry.action = WHISTLE__V1__ACTION__VERIFY;
        entry.actor = "tracking";
        entry.from_state = c->state;
        entry.to_state = WHISTLE__V1__CASE_STATE__CLOSED;
        entry.by_default = 1;
        entry.note = "no answer within the verification window: verified by default";
        c->state = WHISTLE__V1__CASE_STATE__CLOSED;
        c->verified_by_default = 1;
        c->version++;
        c->updated_at_ms = now;
        rc = s_change(self, txn, c, &before, &entry, 0);
        if (rc == 0) wh_log_info("%s: closed, verified by default", c->id);
    }
    whistle__v1__case__free_unpacked(c, NULL);
    return rc;
}

static void s_after_commit(void *arg, wh_service_t *svc)
{
    (void)svc;
    tracking_t *self = arg;
    for (int s = 0; s < S_STATES; s++) self->by_state[s] += self->moved[s];
    memset(self->moved, 0, sizeof self->moved);
    wh_deadlines_arm(self->verify);
}

static int s_action(tracking_t *self, MDB_txn *txn, const struct wh_peer *peer,
                    const Whistle__V1__CaseAction *a)
{
    wh_service_t *svc = self->svc;
    wh_store_t *st = wh_service_store(svc);
    struct wh_field_error fe;
    if (wh_check_string(&fe, "case_action.case_id", a->case_id, 64, 1) ||
        wh_check_string(&fe, "case_action.actor", a->actor, WH_MAX_SHORT, 0) ||
        wh_check_string(&fe, "case_action.department", a->department, WH_MAX_CODE, 0) ||
        wh_check_string(&fe, "case_action.kind", a->kind, WH_MAX_CODE, 0) ||
        wh_check_string(&fe, "case_action.note", a->note, WH_MAX_DESCRIPTION, 0)) {
        wh_service_error(svc, peer, fe.code, fe.field, fe.message, 0);
        return 0;
    }
    if (tracking_authorize(&peer->who, a, &fe)) {
        wh_log_warn("%s: %s refused: %s", a->case_id, wh_action_name(a->action), fe.message);
        wh_service_error(svc, peer, fe.code, fe.field, fe.message, 0);
        return 0;
    }
    Whistle__V1__Case *c = NULL;
    int rc = tracking_ledger_get(st, txn, a->case_id, &c);
    if (rc == WH_ENOTFOUND) {
        char msg[128];
        snprintf(msg, sizeof msg, "unknown case '%s'", a->case_id);
        wh_service_error(svc, peer, WH_ENOTFOUND, "case_action.case_id", msg, 0);
        return 0;
    }
    if (rc) return rc; /* storage failure: the batch fails, and is answered ESTORE */
    int old_state = c->state;
    struct tracking_before before;
    tracking_ledger_before(c, &before);
    Whistle__V1__HistoryEntry entry;
    Whistle__V1__CaseAction act = *a;
    const char *own_kind = tracking_act_kind(&peer->who);
    if (own_kind && a->action != WHISTLE__V1__ACTION__ORDER)
        act.kind = (char *)own_kind; /* keys on: its own assignment, of its own kind */
    if (a->action == WHISTLE__V1__ACTION__ORDER && s_order_check(self, c, a, &fe))
        rc = fe.code;
    else if (a->action == WHISTLE__V1__ACTION__ASSIGN && a->department && a->department[0] &&
             !wh_catalog_department(self->cat, a->department))
        rc = wh_field_error_set(&fe, WH_EFIELD, "case_action.department",
                                "unknown department '%s' (not in the catalog)", a->department);
    else
        rc = tracking_machine_act_as(c, &act, s_grid_staff(self, c, a->actor), wh_now_ms(),
                                     &entry, &fe);
    if (rc) {
        wh_log_info("%s: %s refused: %s", c->id, wh_action_name(a->action), fe.message);
        wh_service_error(svc, peer, rc, fe.field, fe.message, c->state);
        rc = 0; /* answered */
    } else if ((rc = s_change(self, txn, c, &before, &entry, 0)) == 0) {
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
    return rc;
}

static int s_get(tracking_t *self, MDB_txn *txn, const struct wh_peer *peer,
                 const Whistle__V1__GetCase *g)
{
    wh_store_t *st = wh_service_store(self->svc);
    Whistle__V1__Case *c = NULL;
    int rc = g->case_id && g->case_id[0] ? tracking_ledger_get(st, txn, g->case_id, &c)
                                          : WH_ENOTFOUND;
    if (rc && rc != WH_ENOTFOUND) return rc;
    if (rc) {
        char msg[128];
        snprintf(msg, sizeof msg, "unknown case '%.*s'", (int)wh_utf8_prefix(g->case_id, 64),
                 g->case_id ? g->case_id : "");
        wh_service_error(self->svc, peer, WH_ENOTFOUND, "get_case.case_id", msg, 0);
        return 0;
    }
    if (!tracking_may_read_case(&peer->who, self->cat, c)) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s %s may not read case %s", wh_kind_name(peer->who.kind),
                 peer->who.code, c->id);
        wh_log_warn("get refused: %s", msg);
        wh_service_error(self->svc, peer, WH_EFORBIDDEN, "get_case.case_id", msg, 0);
        whistle__v1__case__free_unpacked(c, NULL);
        return 0;
    }
    Whistle__V1__HistoryEntry **h = NULL;
    int n = tracking_ledger_history(st, txn, c->id, &h);
    if (n < 0) {
        whistle__v1__case__free_unpacked(c, NULL);
        return n;
    }
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
    return 0;
}

/* Who lists: keeps only the cases that peer may read (authorize.c). */
struct s_reader {
    const struct wh_identity *who;
    const struct wh_catalog *cat;
};

static int s_may_read(const void *arg, const Whistle__V1__Case *c)
{
    const struct s_reader *rd = arg;
    return tracking_may_read_case(rd->who, rd->cat, c);
}

static int s_list(tracking_t *self, MDB_txn *txn, const struct wh_peer *peer,
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
        return 0;
    }
    if (q->limit > TRACKING_LIST_MAX) {
        wh_field_error_set(&fe, WH_EFIELD, "list_cases.limit",
                           "list_cases.limit must be 0..%d (0: a page of %d), got %u",
                           TRACKING_LIST_MAX, TRACKING_LIST_PAGE, q->limit);
        wh_service_error(self->svc, peer, fe.code, fe.field, fe.message, 0);
        return 0;
    }
    Whistle__V1__ListCases mine = *q; /* a department's narrowed to its own cases */
    if (tracking_may_list(&peer->who, self->cat, &mine, &fe)) {
        wh_log_warn("list refused: %s", fe.message);
        wh_service_error(self->svc, peer, fe.code, fe.field, fe.message, 0);
        return 0;
    }
    struct s_reader rd = {&peer->who, self->cat};
    int rc = tracking_ledger_list(wh_service_store(self->svc), txn, &mine, wh_now_ms(),
                                  s_may_read, &rd, &cases, &n, next);
    if (rc) return rc;
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
    return 0;
}

/* 一格一账本: a grid leader or worker logs a visit; logged as visit.logged too. */
static int s_log_visit(tracking_t *self, MDB_txn *txn, const struct wh_peer *peer,
                       const Whistle__V1__LogVisit *v)
{
    wh_service_t *svc = self->svc;
    struct wh_field_error fe;
    char week[16], date[16];
    if (peer->who.kind == WH_KIND_DEPARTMENT) {
        /* keys on: visits come from the grid staff's app (an integrator) or their township */
        wh_service_error(svc, peer, WH_EFORBIDDEN, "log_visit.staff",
                         "a department's key may not log grid visits", 0);
        return 0;
    }
    if (tracking_visits_check(self->cat, v, &fe)) {
        wh_service_error(svc, peer, fe.code, fe.field, fe.message, 0);
        return 0;
    }
    if (tracking_visits_week_of(v->date, wh_now_ms(), week, sizeof week, date, sizeof date)) {
        wh_service_error(svc, peer, WH_EFIELD, "log_visit.date",
                         "log_visit.date must be YYYY-MM-DD, not in the future", 0);
        return 0;
    }
    uint32_t total = 0;
    int rc = tracking_visits_add(wh_service_store(svc), txn, week, v->grid, v->staff, v->minutes,
                                 &total);
    if (rc) return rc;
    Whistle__V1__VisitLogged ev = WHISTLE__V1__VISIT_LOGGED__INIT;
    ev.grid = v->grid;
    ev.staff = v->staff;
    ev.minutes = v->minutes;
    ev.date = date;
    ev.week = week;
    ev.note = v->note;
    Whistle__V1__Envelope env = WHISTLE__V1__ENVELOPE__INIT;
    env.correlation_id = v->grid;
    env.occurred_at_ms = wh_now_ms();
    env.payload_case = WHISTLE__V1__ENVELOPE__PAYLOAD_VISIT_LOGGED;
    env.visit_logged = &ev;
    uint64_t seq = 0;
    if ((rc = wh_service_append(svc, txn, NULL, &env, &seq)) ||
        (rc = tracking_visits_record(wh_service_store(svc), txn, &ev, seq)))
        return rc;
    Whistle__V1__Reply reply = WHISTLE__V1__REPLY__INIT;
    Whistle__V1__LogVisitReply lr = WHISTLE__V1__LOG_VISIT_REPLY__INIT;
    lr.week_minutes = total;
    reply.body_case = WHISTLE__V1__REPLY__BODY_LOG_VISIT;
    reply.log_visit = &lr;
    wh_service_reply(svc, peer, &reply);
    return 0;
}

static int s_visits(tracking_t *self, MDB_txn *txn, const struct wh_peer *peer,
                    const Whistle__V1__Visits *q)
{
    struct wh_field_error fe;
    Whistle__V1__VisitsReply vr = WHISTLE__V1__VISITS_REPLY__INIT;
    if (tracking_may_read_visits(&peer->who, self->cat, q, &fe)) {
        wh_service_error(self->svc, peer, fe.code, fe.field, fe.message, 0);
        return 0;
    }
    int rc = tracking_visits_report(wh_service_store(self->svc), txn, self->cat, q, &vr, &fe);
    if (rc == WH_EFIELD) {
        wh_service_error(self->svc, peer, fe.code, fe.field, fe.message, 0);
        return 0;
    }
    if (rc == 0) {
        tracking_visits_keep(&vr, &peer->who, self->cat);
        Whistle__V1__Reply reply = WHISTLE__V1__REPLY__INIT;
        reply.body_case = WHISTLE__V1__REPLY__BODY_VISITS;
        reply.visits = &vr;
        wh_service_reply(self->svc, peer, &reply);
    }
    tracking_visits_free(&vr);
    return rc;
}

/* Assessment figures: a scan of every case, so computed off the loop in a read transaction
 * of their own (wh_service_read_async), while commits and heartbeats go on (see figures.c). */
struct s_figures_job {
    const struct wh_catalog *cat;
    Whistle__V1__Figures q;    /* the request's, its strings copied (the request is freed) */
    int64_t now_ms;
    Whistle__V1__FiguresReply fr;
    struct wh_field_error fe;
};

static void s_figures_job_free(struct s_figures_job *j)
{
    if (!j) return;
    free(j->q.period);
    free(j->q.by);
    free(j->q.unit);
    free(j);
}

/* On a thread of the pool: reads only (the ledger in `rtxn`, the catalog). */
static int s_figures_work(void *arg, wh_store_t *st, MDB_txn *rtxn)
{
    struct s_figures_job *j = arg;
    return tracking_figures_compute(st, rtxn, j->cat, &j->q, j->now_ms, &j->fr, &j->fe);
}

static void s_figures_done(void *arg, wh_service_t *svc, const struct wh_peer *peer, int rc)
{
    struct s_figures_job *j = arg;
    Whistle__V1__Reply reply = WHISTLE__V1__REPLY__INIT;
    Whistle__V1__Error err = WHISTLE__V1__ERROR__INIT;
    if (rc == 0) {
        tracking_figures_keep(&j->fr, &peer->who, j->cat, j->q.unit);
        reply.body_case = WHISTLE__V1__REPLY__BODY_FIGURES;
        reply.figures = &j->fr;
    } else {
        if (wh_error_is_storage(rc) && !j->fe.message[0])
            wh_field_error_set(&j->fe, rc, "", "figures could not be read: %s", wh_strerror(rc));
        if (wh_error_is_storage(rc))
            wh_log_error("figures %s: %s", j->q.period, j->fe.message);
        err.code = rc;
        err.field = j->fe.field;
        err.message = j->fe.message;
        reply.body_case = WHISTLE__V1__REPLY__BODY_ERROR;
        reply.error = &err;
    }
    wh_service_answer(svc, peer, &reply);
    tracking_figures_free(&j->fr);
    s_figures_job_free(j);
}

static char *s_strdup0(const char *s) { return strdup(s ? s : ""); }

static int s_figures(tracking_t *self, const struct wh_peer *peer, const Whistle__V1__Figures *q)
{
    struct wh_field_error fe;
    if (tracking_may_read_figures(&peer->who, q, &fe)) {
        wh_service_error(self->svc, peer, fe.code, fe.field, fe.message, 0);
        return 0;
    }
    struct s_figures_job *j = calloc(1, sizeof *j);
    if (!j) return WH_ENOMEM;
    whistle__v1__figures__init(&j->q);
    j->cat = self->cat;
    j->now_ms = wh_now_ms();
    j->q.period = s_strdup0(q->period);
    j->q.by = s_strdup0(q->by);
    j->q.unit = s_strdup0(q->unit);
    if (!j->q.period || !j->q.by || !j->q.unit) {
        s_figures_job_free(j);
        return WH_ENOMEM;
    }
    int rc = wh_service_read_async(self->svc, peer, s_figures_work, s_figures_done, j);
    if (rc) s_figures_job_free(j);
    return rc == WH_EBUSY ? 0 : rc;
}

/* The bulletin of a period: everything of it read in this batch's txn (see bulletin.c). */
static int s_bulletin(tracking_t *self, MDB_txn *txn, const struct wh_peer *peer,
                      const Whistle__V1__Bulletin *q)
{
    Whistle__V1__BulletinReply br;
    struct wh_field_error fe;
    if (tracking_may_read_bulletin(&peer->who, q, &fe)) {
        wh_service_error(self->svc, peer, fe.code, fe.field, fe.message, 0);
        return 0;
    }
    int rc = tracking_bulletin_compute(wh_service_store(self->svc), txn, self->cat, q,
                                       wh_now_ms(), &br, &fe);
    if (wh_error_is_storage(rc)) return rc;
    if (rc) {
        wh_service_error(self->svc, peer, fe.code, fe.field, fe.message, 0);
        return 0;
    }
    Whistle__V1__Reply reply = WHISTLE__V1__REPLY__INIT;
    reply.body_case = WHISTLE__V1__REPLY__BODY_BULLETIN;
    reply.bulletin = &br;
    wh_service_reply(self->svc, peer, &reply);
    tracking_bulletin_free(&br);
    return 0;
}

/* 一格一账本: a grid's book for a period, read in this batch's txn (see book.c). */
static int s_book(tracking_t *self, MDB_txn *txn, const struct wh_peer *peer,
                  const Whistle__V1__GridLedger *q)
{
    Whistle__V1__LedgerReply lr;
    struct wh_field_error fe;
    if (tracking_may_read_book(&peer->who, self->cat, q, &fe)) {
        wh_log_warn("grid ledger refused: %s", fe.message);
        wh_service_error(self->svc, peer, fe.code, fe.field, fe.message, 0);
        return 0;
    }
    int rc = tracking_book_compute(wh_service_store(self->svc), txn, self->cat, q, wh_now_ms(),
                                   &lr, &fe);
    if (rc && !wh_error_is_storage(rc)) {
        wh_service_error(self->svc, peer, fe.code, fe.field, fe.message, 0);
        rc = 0;
    } else if (rc == 0) {
        Whistle__V1__Reply reply = WHISTLE__V1__REPLY__INIT;
        reply.body_case = WHISTLE__V1__REPLY__BODY_GRID_LEDGER;
        reply.grid_ledger = &lr;
        wh_service_reply(self->svc, peer, &reply);
    }
    tracking_book_free(&lr);
    return rc;
}

static int s_on_request(void *arg, wh_service_t *svc, MDB_txn *txn, const struct wh_peer *peer,
                        const Whistle__V1__Request *req)
{
    tracking_t *self = arg;
    switch (req->body_case) {
    case WHISTLE__V1__REQUEST__BODY_CASE_ACTION: return s_action(self, txn, peer, req->case_action);
    case WHISTLE__V1__REQUEST__BODY_GET_CASE: return s_get(self, txn, peer, req->get_case);
    case WHISTLE__V1__REQUEST__BODY_LIST_CASES: return s_list(self, txn, peer, req->list_cases);
    case WHISTLE__V1__REQUEST__BODY_LOG_VISIT: return s_log_visit(self, txn, peer, req->log_visit);
    case WHISTLE__V1__REQUEST__BODY_VISITS: return s_visits(self, txn, peer, req->visits);
    case WHISTLE__V1__REQUEST__BODY_FIGURES: return s_figures(self, peer, req->figures);
    case WHISTLE__V1__REQUEST__BODY_GRID_LEDGER: return s_book(self, txn, peer, req->grid_ledger);
    case WHISTLE__V1__REQUEST__BODY_BULLETIN: return s_bulletin(self, txn, peer, req->bulletin);
    default:
        wh_service_error(svc, peer, WH_EUNSUPPORTED, "request.body",
                         "tracking serves CaseAction, GetCase, ListCases, LogVisit, Visits, "
                         "Figures, Bulletin, GridLedger, Replay and Ping", 0);
        return 0;
    }
}

tracking_t *tracking_new(const struct wh_options *o, const struct wh_catalog *cat)
{
    if (o->rebuild && tracking_rebuild(o)) {
        wh_log_error("rebuild failed (see above); not starting");
        return NULL;
    }
    tracking_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    static const char *const tables[] = {TRACKING_TABLES, NULL};
    struct wh_service_config cfg;
    wh_service_config_init(&cfg, "tracking", o);
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
    s_count_states(self);
    self->verify = wh_deadlines_new(self->svc, "verify_due", s_verify_expired, NULL, self);
    if (!self->verify ||
        wh_service_follow(self->svc, "routing", o->upstream_api[WH_UP_ROUTING],
                          o->upstream_events[WH_UP_ROUTING], s_apply_routing, self)) {
        tracking_destroy(&self);
        return NULL;
    }
    wh_deadlines_arm(self->verify);
    return self;
}

void tracking_destroy(tracking_t **self_p)
{
    if (!self_p || !*self_p) return;
    wh_deadlines_destroy(&(*self_p)->verify);
    wh_service_destroy(&(*self_p)->svc);
    free(*self_p);
    *self_p = NULL;
}

wh_service_t *tracking_service(tracking_t *self) { return self->svc; }
