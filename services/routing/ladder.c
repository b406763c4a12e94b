/* ladder.c: the escalation ladder. When a deadline passes with a department not checked in, or
 * the case unresolved, the case climbs one step of the catalog's ladder per expiry: remind,
 * supervise (督办: the district is notified), raise (the whistle goes to TOUGH with new
 * deadlines, and the district coordinators are added). A pure function: the caller stores
 * and logs what it decides. Each assignment has its own check-in deadline: only departments
 * past theirs are late; the next check-in step waits for the earliest still pending. A case
 * in REVIEW climbs the same ladder while its lead has not decided (a raise there only raises
 * the whistle the lead will blow by default). */
#include "routing.h"
#include <stdio.h>
#include <string.h>

static int s_open(int state)
{
    return state == WHISTLE__V1__CASE_STATE__DISPATCHED ||
           state == WHISTLE__V1__CASE_STATE__IN_PROGRESS ||
           state == WHISTLE__V1__CASE_STATE__REOPENED;
}

/* The departments not checked in by their own deadline at `now_ms` (0: the case's), as
 * "cg, scjg" into buf; returns how many. *pending: the earliest deadline of those NOTIFIED
 * and not late yet (0: none). */
static size_t s_laggards(const Whistle__V1__Case *c, int64_t now_ms, char *buf, size_t len,
                         int64_t *pending)
{
    size_t n = 0, used = 0;
    buf[0] = 0;
    *pending = 0;
    for (size_t i = 0; i < c->n_assignments; i++) {
        if (c->assignments[i]->state != WHISTLE__V1__ASSIGNMENT_STATE__NOTIFIED) continue;
        int64_t due = c->assignments[i]->checkin_deadline_ms;
        if (due > now_ms) {
            if (!*pending || due < *pending) *pending = due;
            continue;
        }
        int w = snprintf(buf + used, len - used, "%s%s", n ? ", " : "",
                         c->assignments[i]->department);
        if (w > 0 && (size_t)w < len - used) used += (size_t)w;
        n++;
    }
    return n;
}

static int s_assigned(const Whistle__V1__Case *c, const char *dept)
{
    for (size_t i = 0; i < c->n_assignments; i++)
        if (strcmp(c->assignments[i]->department, dept) == 0) return 1;
    return 0;
}

void routing_ladder_raise(const struct wh_catalog *cat, const Whistle__V1__Case *c, int to,
                          int64_t now_ms, struct routing_step *out)
{
    out->to_whistle = to;
    out->checkin_deadline_ms = now_ms + cat->whistles[to].checkin_ms;
    out->resolve_deadline_ms = now_ms + cat->whistles[to].resolve_ms;
    if (to != WHISTLE__V1__WHISTLE__TOUGH) return;
    for (size_t i = 0; i < cat->n_coordinators; i++)
        if (!s_assigned(c, cat->coordinators[i]->code) && out->n_added < 8)
            out->added[out->n_added++] = cat->coordinators[i];
}

int routing_ladder_next(const struct wh_catalog *cat, const Whistle__V1__Case *c, uint32_t level,
                        int kind, int64_t now_ms, struct routing_step *out)
{
    memset(out, 0, sizeof *out);
    out->to_whistle = c->whistle;
    int review = c->state == WHISTLE__V1__CASE_STATE__REVIEW;
    if (review != (kind == ROUTING_DUE_REVIEW)) return 0; /* decided since */
    if (!review && !s_open(c->state)) return 0; /* resolved, closed or refused: no deadline */
    int whistle = c->whistle ? c->whistle : WHISTLE__V1__WHISTLE__QUICK;
    char names[200];
    if (review) {
        snprintf(out->reason, sizeof out->reason,
                 "review deadline passed: lead %s has not blown the whistle, handed the case "
                 "over or rejected it",
                 c->lead_unit);
        if (level >= cat->n_escalation) return 0;
        out->escalate = 1;
        out->level = level + 1;
        out->step = cat->escalation[level];
        if (strcmp(out->step, "raise") == 0) out->to_whistle = WHISTLE__V1__WHISTLE__TOUGH;
        out->next_kind = out->level >= cat->n_escalation ? 0 : ROUTING_DUE_REVIEW;
        out->next_due_ms = out->next_kind ? now_ms + cat->review_ms : 0;
        return 1;
    }
    if (kind == ROUTING_DUE_CHECKIN) {
        int64_t pending;
        if (s_laggards(c, now_ms, names, sizeof names, &pending) == 0) {
            if (pending) {
                /* nobody late yet: wait for the earliest deadline still pending */
                out->next_kind = ROUTING_DUE_CHECKIN;
                out->next_due_ms = pending;
                return 0;
            }
            /* everyone reported for duty: watch the resolution deadline instead */
            out->next_kind = ROUTING_DUE_RESOLVE;
            out->next_due_ms = c->resolve_deadline_ms > now_ms ? c->resolve_deadline_ms : now_ms;
            return 0;
        }
        snprintf(out->reason, sizeof out->reason, "check-in deadline passed: %s not checked in",
                 names);
    } else {
        snprintf(out->reason, sizeof out->reason, "resolution deadline passed: case is %s",
                 wh_state_name(c->state));
    }
    if (level >= cat->n_escalation) return 0; /* the top of the ladder: nothing more to climb */
    out->escalate = 1;
    out->level = level + 1;
    out->step = cat->escalation[level];
    if (strcmp(out->step, "raise") == 0) {
        routing_ladder_raise(cat, c, WHISTLE__V1__WHISTLE__TOUGH, now_ms, out);
        whistle = WHISTLE__V1__WHISTLE__TOUGH;
    }
    /* the next step comes one check-in period later, or at the new deadline after a raise */
    out->next_kind = kind;
    if (out->checkin_deadline_ms)
        out->next_due_ms = kind == ROUTING_DUE_CHECKIN ? out->checkin_deadline_ms
                                                        : out->resolve_deadline_ms;
    else
        out->next_due_ms = now_ms + cat->whistles[whistle].checkin_ms;
    if (out->level >= cat->n_escalation) out->next_kind = 0, out->next_due_ms = 0;
    return 1;
}
