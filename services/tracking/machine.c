/* machine.c: the case state machine. Every transition of a case and of its assignments is
 * decided here and nowhere else; every refusal says the state and the reason.
 *
 *   DISPATCHED  --checkin-->  IN_PROGRESS  --resolve (lead, all done)-->  RESOLVED
 *   RESOLVED    --verify satisfied-->  CLOSED
 *   RESOLVED    --verify unsatisfied-->  REOPENED (every department back to NOTIFIED)
 *   REOPENED    --checkin-->  IN_PROGRESS
 *   assignment: NOTIFIED --checkin--> CHECKED_IN --progress--> WORKING --complete--> DONE
 *   1+N: a department may return its order once, with a reason (RETURNED); the lead then
 *   rejects the return (ASSIGN the same department: back to NOTIFIED) or moves the order
 *   (ASSIGN another, from_department: the returned one is RELEASED). The lead may add a
 *   department at any time the case is open. No department leaves an open case: RELEASE is
 *   refused, and so is a second return (事不完、人不撤).
 *   社区派单: a resident's order (report.order) is led by its community, which dispatches it
 *   (ORDER) to one stationed unit or one volunteer at a time; that one takes it (ACCEPT:
 *   CHECKED_IN) or declines it with a reason (DECLINE: DECLINED, and the community orders
 *   again), then works and completes it like a department. A community task (社区事务准入)
 *   is an assignment of kind community: it checks in and completes like a department.
 *   REVIEW (the matter is reviewed first): no action but the lead's decision, which routing
 *   takes and logs (tracking_machine_review): BLOW --> DISPATCHED with the departments blown,
 *   HAND_OVER --> DISPATCHED with the grid's community as the one assignee (kind community),
 *   REJECT --> REFUSED (a duplicate of another case, or not a matter for the system).
 *   Every (re)assignment (dispatch, ASSIGN, reopen) clears the assignment's check-in deadline
 *   and stamps assigned_at_ms: tracking sets the deadline from then (its own, 1+N each). */
#include "tracking.h"
#include "whistle/error.h"
#include <stdlib.h>
#include <string.h>


static Whistle__V1__Assignment *s_assignment(Whistle__V1__Case *c, const char *dept)
{
    for (size_t i = 0; i < c->n_assignments; i++)
        if (strcmp(c->assignments[i]->department, dept) == 0) return c->assignments[i];
    return NULL;
}

/* 1 for a stationed unit's or volunteer's assignment: it takes orders (ACCEPT, DECLINE). */
static int s_takes_orders(const Whistle__V1__Assignment *as)
{
    return as->kind && (strcmp(as->kind, "station") == 0 || strcmp(as->kind, "volunteer") == 0);
}

static int s_is_order(const Whistle__V1__Case *c) { return c->report && c->report->order; }

static int s_state_err(struct wh_field_error *err, const Whistle__V1__Case *c, const char *action,
                       const char *needs)
{
    return wh_field_error_set(err, WH_ESTATE, "case_action.action",
                              "case %s is %s; %s needs %s", c->id, wh_state_name(c->state),
                              action, needs);
}

/* Appends a NOTIFIED assignment for `dept`. The case must be heap-owned as protobuf-c unpacks
 * it (system allocator), since whistle__v1__case__free_unpacked frees what is added here. */
static int s_add_assignment(Whistle__V1__Case *c, const char *dept, int64_t now)
{
    Whistle__V1__Assignment **arr = realloc(c->assignments, (c->n_assignments + 1) * sizeof *arr);
    if (!arr) return WH_ENOMEM;
    c->assignments = arr;
    Whistle__V1__Assignment *as = malloc(sizeof *as);
    char *d = strdup(dept);
    if (!as || !d) {
        free(as);
        free(d);
        return WH_ENOMEM;
    }
    whistle__v1__assignment__init(as);
    as->department = d;
    as->state = WHISTLE__V1__ASSIGNMENT_STATE__NOTIFIED;
    as->assigned_at_ms = now;
    arr[c->n_assignments++] = as;
    return 0;
}

int tracking_machine_add_department(Whistle__V1__Case *c, const char *dept, int64_t now)
{
    if (s_assignment(c, dept)) return 0;
    if (c->n_assignments >= TRACKING_MAX_ASSIGNMENTS) return WH_ESTATE;
    return s_add_assignment(c, dept, now);
}

/* ASSIGN: the lead adds a department, rejects a return, or moves a returned order. */
static int s_assign(Whistle__V1__Case *c, const Whistle__V1__CaseAction *a, int64_t now,
                    struct wh_field_error *err)
{
    if (!a->actor || strcmp(a->actor, c->lead_unit) != 0)
        return wh_field_error_set(err, WH_EFORBIDDEN, "case_action.actor",
                                  "only the lead unit '%s' may assign departments to case %s",
                                  c->lead_unit, c->id);
    int cs = c->state;
    if (cs != WHISTLE__V1__CASE_STATE__DISPATCHED && cs != WHISTLE__V1__CASE_STATE__IN_PROGRESS &&
        cs != WHISTLE__V1__CASE_STATE__REOPENED)
        return s_state_err(err, c, "ASSIGN", "DISPATCHED, IN_PROGRESS or REOPENED");
    if (!a->department || !a->department[0])
        return wh_field_error_set(err, WH_EFIELD, "case_action.department",
                                  "case_action.department (the department to assign) is required");
    Whistle__V1__Assignment *from = NULL;
    if (a->from_department && a->from_department[0]) {
        from = s_assignment(c, a->from_department);
        if (!from || from->state != WHISTLE__V1__ASSIGNMENT_STATE__RETURNED)
            return wh_field_error_set(err, WH_ESTATE, "case_action.from_department",
                                      "department '%s' has no returned order on case %s to move",
                                      a->from_department, c->id);
        if (strcmp(a->from_department, a->department) == 0)
            return wh_field_error_set(err, WH_EFIELD, "case_action.department",
                                      "moving an order needs another department");
    }
    Whistle__V1__Assignment *to = s_assignment(c, a->department);
    if (to && to->state != WHISTLE__V1__ASSIGNMENT_STATE__RETURNED &&
        to->state != WHISTLE__V1__ASSIGNMENT_STATE__RELEASED)
        return wh_field_error_set(err, WH_ESTATE, "case_action.department",
                                  "department '%s' is already on case %s (%s)", a->department,
                                  c->id, wh_assignment_state_name(to->state));
    if (!to && c->n_assignments >= TRACKING_MAX_ASSIGNMENTS)
        return wh_field_error_set(err, WH_ESTATE, "case_action.department",
                                  "case %s has %d departments, the most it can take", c->id,
                                  TRACKING_MAX_ASSIGNMENTS);
    /* every check is done: now change */
    if (from) from->state = WHISTLE__V1__ASSIGNMENT_STATE__RELEASED;
    if (to) {
        to->state = WHISTLE__V1__ASSIGNMENT_STATE__NOTIFIED;
        to->checked_in_at_ms = to->done_at_ms = 0;
        to->assigned_at_ms = now;
        to->checkin_deadline_ms = 0; /* its own, from now (tracking sets it) */
        return 0;
    }
    return s_add_assignment(c, a->department, now);
}

/* ORDER: the community leading a resident's order dispatches it to a stationed unit or a
 * volunteer (社区派单); one at a time: the one before must have declined it. Whether the code
 * is in the catalog and serves this community is tracking's question (tracking.c). */
static int s_order(Whistle__V1__Case *c, const Whistle__V1__CaseAction *a, int64_t now,
                   struct wh_field_error *err)
{
    if (!a->actor || strcmp(a->actor, c->lead_unit) != 0)
        return wh_field_error_set(err, WH_EFORBIDDEN, "case_action.actor",
                                  "only the lead '%s' may dispatch the order of case %s",
                                  c->lead_unit, c->id);
    if (!s_is_order(c))
        return wh_field_error_set(err, WH_ESTATE, "case_action.action",
                                  "case %s is not a resident's order (群众点单); ORDER needs one",
                                  c->id);
    int cs = c->state;
    if (cs != WHISTLE__V1__CASE_STATE__DISPATCHED && cs != WHISTLE__V1__CASE_STATE__IN_PROGRESS &&
        cs != WHISTLE__V1__CASE_STATE__REOPENED)
        return s_state_err(err, c, "ORDER", "DISPATCHED, IN_PROGRESS or REOPENED");
    if (!a->kind || (strcmp(a->kind, "station") != 0 && strcmp(a->kind, "volunteer") != 0))
        return wh_field_error_set(err, WH_EFIELD, "case_action.kind",
                                  "case_action.kind must be station (a stationed unit) or "
                                  "volunteer (a party-member volunteer)");
    if (!a->department || !a->department[0])
        return wh_field_error_set(err, WH_EFIELD, "case_action.department",
                                  "case_action.department (the %s to dispatch to) is required",
                                  a->kind);
    for (size_t i = 0; i < c->n_assignments; i++) {
        const Whistle__V1__Assignment *o = c->assignments[i];
        if (!s_takes_orders(o) || o->state == WHISTLE__V1__ASSIGNMENT_STATE__DECLINED ||
            o->state == WHISTLE__V1__ASSIGNMENT_STATE__RELEASED)
            continue;
        return wh_field_error_set(err, WH_ESTATE, "case_action.department",
                                  "the order of case %s is with %s '%s' (%s); it must decline "
                                  "it before it goes to another",
                                  c->id, o->kind, o->department,
                                  wh_assignment_state_name(o->state));
    }
    Whistle__V1__Assignment *to = s_assignment(c, a->department);
    if (to && (!s_takes_orders(to) || strcmp(to->kind, a->kind) != 0))
        return wh_field_error_set(err, WH_EFIELD, "case_action.department",
                                  "'%s' is on case %s as %s, not as %s", a->department, c->id,
                                  to->kind[0] ? to->kind : "department", a->kind);
    if (!to && c->n_assignments >= TRACKING_MAX_ASSIGNMENTS)
        return wh_field_error_set(err, WH_ESTATE, "case_action.department",
                                  "case %s has %d assignments, the most it can take", c->id,
                                  TRACKING_MAX_ASSIGNMENTS);
    if (to) {
        /* it declined before; the community asks it again, with a deadline from now */
        to->state = WHISTLE__V1__ASSIGNMENT_STATE__NOTIFIED;
        to->checked_in_at_ms = to->done_at_ms = 0;
        to->assigned_at_ms = now;
        to->checkin_deadline_ms = 0; /* its own, from now (tracking sets it) */
        return 0;
    }
    int rc = s_add_assignment(c, a->department, now);
    if (rc) return rc;
    Whistle__V1__Assignment *as = c->assignments[c->n_assignments - 1];
    if (!(as->kind = strdup(a->kind))) return WH_ENOMEM;
    return 0;
}

/* CHECKIN, PROGRESS, COMPLETE, RETURN, RELEASE: a department acting on its own assignment;
 * ACCEPT, DECLINE: a stationed unit or volunteer on the order dispatched to it. */
static int s_department_act(Whistle__V1__Case *c, const Whistle__V1__CaseAction *a, int64_t now,
                            struct wh_field_error *err)
{
    const char *act = wh_action_name(a->action);
    if (!a->department || !a->department[0])
        return wh_field_error_set(err, WH_EFIELD, "case_action.department",
                                  "case_action.department is required for %s", act);
    Whistle__V1__Assignment *as = s_assignment(c, a->department);
    if (!as)
        return wh_field_error_set(err, WH_EFORBIDDEN, "case_action.department",
                                  "department '%s' is not assigned to case %s", a->department,
                                  c->id);
    const char *want = a->kind && strcmp(a->kind, "department") != 0 ? a->kind : "";
    if (a->kind && a->kind[0] && strcmp(want, as->kind ? as->kind : "") != 0)
        return wh_field_error_set(err, WH_EFORBIDDEN, "case_action.kind",
                                  "'%s' is on case %s as %s, not as %s", a->department, c->id,
                                  as->kind && as->kind[0] ? as->kind : "department", a->kind);
    int takes_orders = s_takes_orders(as);
    int order_act = a->action == WHISTLE__V1__ACTION__ACCEPT ||
                    a->action == WHISTLE__V1__ACTION__DECLINE;
    if (order_act && !takes_orders)
        return wh_field_error_set(err, WH_ESTATE, "case_action.action",
                                  "'%s' is on case %s as a %s; %s is a stationed unit's or a "
                                  "volunteer's answer to an order (CHECKIN, RETURN instead)",
                                  a->department, c->id,
                                  as->kind && as->kind[0] ? as->kind : "department", act);
    if (takes_orders && (a->action == WHISTLE__V1__ACTION__CHECKIN ||
                         a->action == WHISTLE__V1__ACTION__RETURN))
        return wh_field_error_set(err, WH_ESTATE, "case_action.action",
                                  "'%s' takes the order of case %s with ACCEPT or DECLINE, not %s",
                                  a->department, c->id, act);
    int cs = c->state;
    int open = cs == WHISTLE__V1__CASE_STATE__DISPATCHED ||
               cs == WHISTLE__V1__CASE_STATE__IN_PROGRESS ||
               cs == WHISTLE__V1__CASE_STATE__REOPENED;
    if (!open && a->action != WHISTLE__V1__ACTION__RELEASE)
        return s_state_err(err, c, act, "DISPATCHED, IN_PROGRESS or REOPENED");
    int as_state = as->state;
    if (a->action == WHISTLE__V1__ACTION__RELEASE && cs == WHISTLE__V1__CASE_STATE__CLOSED)
        return wh_field_error_set(err, WH_ESTATE, "case_action.action",
                                  "case %s is CLOSED: every department was released with it",
                                  c->id);
    if (a->action == WHISTLE__V1__ACTION__RELEASE)
        return wh_field_error_set(err, WH_ESTATE, "case_action.action",
                                  "case %s is %s: department '%s' stays on it until it is closed "
                                  "(事不完、人不撤)",
                                  c->id, wh_state_name(c->state), a->department);
    if (as_state == WHISTLE__V1__ASSIGNMENT_STATE__RETURNED ||
        as_state == WHISTLE__V1__ASSIGNMENT_STATE__RELEASED ||
        as_state == WHISTLE__V1__ASSIGNMENT_STATE__DECLINED)
        return wh_field_error_set(err, WH_ESTATE, "case_action.action",
                                  "'%s' is %s on case %s; the lead '%s' decides "
                                  "what happens to the order",
                                  a->department, wh_assignment_state_name(as_state), c->id,
                                  c->lead_unit);
    switch (a->action) {
    case WHISTLE__V1__ACTION__ACCEPT:
    case WHISTLE__V1__ACTION__DECLINE:
        if (as_state != WHISTLE__V1__ASSIGNMENT_STATE__NOTIFIED)
            return wh_field_error_set(err, WH_ESTATE, "case_action.action",
                                      "'%s' is %s on case %s; %s needs NOTIFIED (an order not "
                                      "yet answered)",
                                      a->department, wh_assignment_state_name(as_state), c->id,
                                      act);
        if (a->action == WHISTLE__V1__ACTION__ACCEPT) {
            as->state = WHISTLE__V1__ASSIGNMENT_STATE__CHECKED_IN;
            as->checked_in_at_ms = now;
            c->state = WHISTLE__V1__CASE_STATE__IN_PROGRESS;
            return 0;
        }
        if (!a->note || !a->note[0])
            return wh_field_error_set(err, WH_EFIELD, "case_action.note",
                                      "declining an order needs its reason in case_action.note");
        as->state = WHISTLE__V1__ASSIGNMENT_STATE__DECLINED;
        if (as->decline_reason != protobuf_c_empty_string) free(as->decline_reason);
        as->decline_reason = strdup(a->note);
        return 0;
    case WHISTLE__V1__ACTION__RETURN:
        if (!a->note || !a->note[0])
            return wh_field_error_set(err, WH_EFIELD, "case_action.note",
                                      "a return (退单) needs its reason in case_action.note");
        if (as->returns >= 1)
            return wh_field_error_set(err, WH_ESTATE, "case_action.action",
                                      "department '%s' already returned case %s once; a second "
                                      "return is refused (事不完、人不撤)",
                                      a->department, c->id);
        if (as_state == WHISTLE__V1__ASSIGNMENT_STATE__DONE)
            return wh_field_error_set(err, WH_ESTATE, "case_action.action",
                                      "department '%s' is DONE on case %s; nothing to return",
                                      a->department, c->id);
        as->state = WHISTLE__V1__ASSIGNMENT_STATE__RETURNED;
        as->returns++;
        if (as->return_reason != protobuf_c_empty_string) free(as->return_reason);
        as->return_reason = strdup(a->note);
        return 0;
    case WHISTLE__V1__ACTION__CHECKIN:
        if (as_state != WHISTLE__V1__ASSIGNMENT_STATE__NOTIFIED)
            return wh_field_error_set(err, WH_ESTATE, "case_action.action",
                                      "department '%s' is %s on case %s; CHECKIN needs NOTIFIED",
                                      a->department, wh_assignment_state_name(as_state), c->id);
        as->state = WHISTLE__V1__ASSIGNMENT_STATE__CHECKED_IN;
        as->checked_in_at_ms = now;
        c->state = WHISTLE__V1__CASE_STATE__IN_PROGRESS;
        return 0;
    case WHISTLE__V1__ACTION__PROGRESS:
    case WHISTLE__V1__ACTION__COMPLETE:
        if (as_state != WHISTLE__V1__ASSIGNMENT_STATE__CHECKED_IN &&
            as_state != WHISTLE__V1__ASSIGNMENT_STATE__WORKING)
            return wh_field_error_set(err, WH_ESTATE, "case_action.action",
                                      "department '%s' is %s on case %s; %s needs CHECKED_IN or "
                                      "WORKING (check in first)",
                                      a->department, wh_assignment_state_name(as_state), c->id,
                                      act);
        if (a->action == WHISTLE__V1__ACTION__PROGRESS) {
            as->state = WHISTLE__V1__ASSIGNMENT_STATE__WORKING;
        } else {
            as->state = WHISTLE__V1__ASSIGNMENT_STATE__DONE;
            as->done_at_ms = now;
        }
        return 0;
    default:
        return WH_EFIELD;
    }
}

int tracking_machine_act(Whistle__V1__Case *c, const Whistle__V1__CaseAction *a, int64_t now,
                         Whistle__V1__HistoryEntry *entry, struct wh_field_error *err)
{
    return tracking_machine_act_as(c, a, 0, now, entry, err);
}

int tracking_machine_act_as(Whistle__V1__Case *c, const Whistle__V1__CaseAction *a,
                            int grid_staff, int64_t now, Whistle__V1__HistoryEntry *entry,
                            struct wh_field_error *err)
{
    /* work on copies so that a refusal leaves the case as it was */
    Whistle__V1__Case saved = *c;
    Whistle__V1__Assignment saved_as[TRACKING_MAX_ASSIGNMENTS];
    size_t n_as = c->n_assignments < TRACKING_MAX_ASSIGNMENTS ? c->n_assignments : TRACKING_MAX_ASSIGNMENTS;
    for (size_t i = 0; i < n_as; i++) saved_as[i] = *c->assignments[i];

    int from = c->state, rc = 0;
    if (from == WHISTLE__V1__CASE_STATE__REVIEW)
        return wh_field_error_set(err, WH_ESTATE, "case_action.action",
                                  "case %s is REVIEW: its lead '%s' blows the whistle, hands it "
                                  "to its community or rejects it first (whistlectl blow)",
                                  c->id, c->lead_unit);
    switch (a->action) {
    case WHISTLE__V1__ACTION__CHECKIN:
    case WHISTLE__V1__ACTION__PROGRESS:
    case WHISTLE__V1__ACTION__COMPLETE:
    case WHISTLE__V1__ACTION__RETURN:
    case WHISTLE__V1__ACTION__RELEASE:
    case WHISTLE__V1__ACTION__ACCEPT:
    case WHISTLE__V1__ACTION__DECLINE:
        rc = s_department_act(c, a, now, err);
        break;
    case WHISTLE__V1__ACTION__ORDER:
        rc = s_order(c, a, now, err);
        break;
    case WHISTLE__V1__ACTION__ASSIGN:
        rc = s_assign(c, a, now, err);
        break;
    case WHISTLE__V1__ACTION__RESOLVE: {
        if (!a->actor || strcmp(a->actor, c->lead_unit) != 0) {
            rc = wh_field_error_set(err, WH_EFORBIDDEN, "case_action.actor",
                                    "only the lead unit '%s' may resolve case %s", c->lead_unit,
                                    c->id);
            break;
        }
        if (c->state != WHISTLE__V1__CASE_STATE__IN_PROGRESS) {
            rc = s_state_err(err, c, "RESOLVE", "IN_PROGRESS");
            break;
        }
        int done = 0;
        for (size_t i = 0; i < c->n_assignments; i++) {
            int st = c->assignments[i]->state;
            done += st == WHISTLE__V1__ASSIGNMENT_STATE__DONE;
            if (st != WHISTLE__V1__ASSIGNMENT_STATE__DONE &&
                st != WHISTLE__V1__ASSIGNMENT_STATE__RELEASED &&
                st != WHISTLE__V1__ASSIGNMENT_STATE__DECLINED) {
                rc = wh_field_error_set(err, WH_ESTATE, "case_action.action",
                                        "department '%s' is %s on case %s; RESOLVE needs every "
                                        "department DONE (事不完、人不撤)",
                                        c->assignments[i]->department,
                                        wh_assignment_state_name(c->assignments[i]->state),
                                        c->id);
                break;
            }
        }
        if (rc == 0 && s_is_order(c) && !done)
            rc = wh_field_error_set(err, WH_ESTATE, "case_action.action",
                                    "the order of case %s is done by nobody yet; RESOLVE needs "
                                    "the stationed unit or volunteer that took it DONE",
                                    c->id);
        if (rc == 0) c->state = WHISTLE__V1__CASE_STATE__RESOLVED;
        break;
    }
    case WHISTLE__V1__ACTION__VERIFY:
        if (!grid_staff && (!a->actor || !c->report || strcmp(a->actor, c->report->reporter) != 0)) {
            rc = wh_field_error_set(err, WH_EFORBIDDEN, "case_action.actor",
                                    "only the reporter of case %s, or the staff of grid %s on "
                                    "their behalf, may verify it",
                                    c->id, c->report ? c->report->grid : "?");
            break;
        }
        if (c->state != WHISTLE__V1__CASE_STATE__RESOLVED) {
            rc = s_state_err(err, c, "VERIFY", "RESOLVED");
            break;
        }
        c->verify_deadline_ms = 0;
        if (a->satisfied) {
            c->state = WHISTLE__V1__CASE_STATE__CLOSED;
        } else {
            c->state = WHISTLE__V1__CASE_STATE__REOPENED;
            c->reopen_count++;
            for (size_t i = 0; i < c->n_assignments; i++) {
                if (c->assignments[i]->state == WHISTLE__V1__ASSIGNMENT_STATE__RELEASED ||
                    c->assignments[i]->state == WHISTLE__V1__ASSIGNMENT_STATE__DECLINED)
                    continue;
                c->assignments[i]->state = WHISTLE__V1__ASSIGNMENT_STATE__NOTIFIED;
                c->assignments[i]->checked_in_at_ms = 0;
                c->assignments[i]->done_at_ms = 0;
                /* reassigned now: a fresh check-in deadline from now (tracking sets it) */
                c->assignments[i]->assigned_at_ms = now;
                c->assignments[i]->checkin_deadline_ms = 0;
            }
        }
        break;
    default:
        rc = wh_field_error_set(err, WH_EFIELD, "case_action.action",
                                "case_action.action must be CHECKIN, PROGRESS, COMPLETE, RETURN, "
                                "RELEASE, ASSIGN, RESOLVE, VERIFY, ORDER, ACCEPT or DECLINE");
        break;
    }
    if (rc) {
        *c = saved;
        for (size_t i = 0; i < n_as; i++) *c->assignments[i] = saved_as[i];
        return rc;
    }
    c->version++;
    c->updated_at_ms = now;
    whistle__v1__history_entry__init(entry);
    entry->at_ms = now;
    entry->action = a->action;
    entry->actor = a->actor && a->actor[0] ? a->actor : a->department;
    entry->department = a->department;
    entry->from_state = from;
    entry->to_state = c->state;
    entry->note = a->note;
    entry->satisfied = a->action == WHISTLE__V1__ACTION__VERIFY && a->satisfied;
    return 0;
}

int tracking_machine_review(Whistle__V1__Case *c, const Whistle__V1__ReviewStep *s, int64_t now,
                            Whistle__V1__HistoryEntry *entry, struct wh_field_error *err)
{
    const char *act = wh_action_name(s->action);
    if (s->action != WHISTLE__V1__ACTION__BLOW && s->action != WHISTLE__V1__ACTION__HAND_OVER &&
        s->action != WHISTLE__V1__ACTION__REJECT)
        return wh_field_error_set(err, WH_EFIELD, "review_step.action",
                                  "a review is decided by BLOW, HAND_OVER or REJECT, not %s", act);
    if (!s->actor || !c->lead_unit || strcmp(s->actor, c->lead_unit) != 0)
        return wh_field_error_set(err, WH_EFORBIDDEN, "blow.actor",
                                  "only the lead unit '%s' may decide the review of case %s",
                                  c->lead_unit ? c->lead_unit : "", c->id);
    if (c->state != WHISTLE__V1__CASE_STATE__REVIEW)
        return wh_field_error_set(err, WH_ESTATE, "blow.case_id", "case %s is %s; %s needs REVIEW",
                                  c->id, wh_state_name(c->state), act);
    int from = c->state;
    if (s->action == WHISTLE__V1__ACTION__REJECT) {
        if (s->duplicate_of && s->duplicate_of[0]) {
            char *dup = strdup(s->duplicate_of);
            if (!dup) return WH_ENOMEM;
            if (c->duplicate_of && c->duplicate_of != protobuf_c_empty_string)
                free(c->duplicate_of);
            c->duplicate_of = dup;
        }
        c->state = WHISTLE__V1__CASE_STATE__REFUSED;
    } else {
        int blow = s->action == WHISTLE__V1__ACTION__BLOW;
        size_t n = blow ? s->n_departments : 1;
        if (!blow && (!s->community || !s->community[0]))
            return wh_field_error_set(err, WH_EFIELD, "blow.to_community",
                                      "case %s has no community to hand it to", c->id);
        if (c->n_assignments + n > TRACKING_MAX_ASSIGNMENTS)
            return wh_field_error_set(err, WH_EFIELD, "blow.departments",
                                      "a case takes at most %d departments",
                                      TRACKING_MAX_ASSIGNMENTS);
        size_t before = c->n_assignments;
        for (size_t i = 0; i < n; i++) {
            int rc = tracking_machine_add_department(c, blow ? s->departments[i] : s->community,
                                                     now);
            if (rc) return rc; /* out of memory: the batch fails */
        }
        if (!blow && c->n_assignments > before) {
            char *kind = strdup("community");
            if (!kind) return WH_ENOMEM;
            c->assignments[c->n_assignments - 1]->kind = kind;
        }
        c->whistle = s->whistle;
        c->checkin_deadline_ms = s->checkin_deadline_ms;
        c->resolve_deadline_ms = s->resolve_deadline_ms;
        c->state = WHISTLE__V1__CASE_STATE__DISPATCHED;
    }
    c->review_deadline_ms = 0;
    c->version++;
    c->updated_at_ms = now;
    whistle__v1__history_entry__init(entry);
    entry->at_ms = now;
    entry->action = s->action;
    entry->actor = s->actor;
    entry->from_state = from;
    entry->to_state = c->state;
    entry->note = s->reason;
    return 0;
}
