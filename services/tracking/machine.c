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
 *   refused, and so is a second return (事不完、人不撤). */
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
        return 0;
    }
    return s_add_assignment(c, a->department, now);
}

/* CHECKIN, PROGRESS, COMPLETE, RETURN, RELEASE: a department acting on its own assignment. */
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
        as_state == WHISTLE__V1__ASSIGNMENT_STATE__RELEASED)
        return wh_field_error_set(err, WH_ESTATE, "case_action.action",
                                  "department '%s' is %s on case %s; the lead unit '%s' decides "
                                  "what happens to the order",
                                  a->department, wh_assignment_state_name(as_state), c->id,
                                  c->lead_unit);
    switch (a->action) {
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
    switch (a->action) {
    case WHISTLE__V1__ACTION__CHECKIN:
    case WHISTLE__V1__ACTION__PROGRESS:
    case WHISTLE__V1__ACTION__COMPLETE:
    case WHISTLE__V1__ACTION__RETURN:
    case WHISTLE__V1__ACTION__RELEASE:
        rc = s_department_act(c, a, now, err);
        break;
    case WHISTLE__V1__ACTION__ASSIGN:
        rc = s_assign(c, a, now, err);
        break;
    case WHISTLE__V1__ACTION__RESOLVE:
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
        for (size_t i = 0; i < c->n_assignments; i++) {
            int st = c->assignments[i]->state;
            if (st != WHISTLE__V1__ASSIGNMENT_STATE__DONE &&
                st != WHISTLE__V1__ASSIGNMENT_STATE__RELEASED) {
                rc = wh_field_error_set(err, WH_ESTATE, "case_action.action",
                                        "department '%s' is %s on case %s; RESOLVE needs every "
                                        "department DONE (事不完、人不撤)",
                                        c->assignments[i]->department,
                                        wh_assignment_state_name(c->assignments[i]->state),
                                        c->id);
                break;
            }
        }
        if (rc == 0) c->state = WHISTLE__V1__CASE_STATE__RESOLVED;
        break;
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
                if (c->assignments[i]->state == WHISTLE__V1__ASSIGNMENT_STATE__RELEASED) continue;
                c->assignments[i]->state = WHISTLE__V1__ASSIGNMENT_STATE__NOTIFIED;
                c->assignments[i]->checked_in_at_ms = 0;
                c->assignments[i]->done_at_ms = 0;
            }
        }
        break;
    default:
        rc = wh_field_error_set(err, WH_EFIELD, "case_action.action",
                                "case_action.action must be CHECKIN, PROGRESS, COMPLETE, RETURN, "
                                "RELEASE, ASSIGN, RESOLVE or VERIFY");
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
