/* routing.h: the whistle rulebook. Follows intake's log; for each case.reported, picks the
 * whistle, the lead township or street (the "1": the unit of the report's grid) and the N
 * supporting departments from the catalog, sets the deadlines, and appends case.dispatched
 * (or case.refused) to routing's log. */
#ifndef WHISTLE_ROUTING_H
#define WHISTLE_ROUTING_H
#include "whistle/catalog.h"
#include "whistle/codec.h"
#include "whistle/options.h"
#include "whistle/service.h"

typedef struct routing routing_t;

/* What the rulebook decides for one report. */
struct routing_decision {
    int refused;                        /* 1: the case cannot be dispatched */
    char field[64];                     /* when refused: the field at fault */
    char reason[256];                   /* when refused: why, in one line */
    int whistle;                        /* WHISTLE__V1__WHISTLE__* */
    const struct wh_unit *lead;         /* the township or street of the grid */
    const char *lead_code;              /* who leads (the "1"): that unit, or the community
                                           for a matter the catalog gives to communities */
    const struct wh_community *community;
    int order;                          /* 1: a resident's order (群众点单), led by the
                                           community, no departments */
    const struct wh_department *departments[WH_MATTER_MAX_DEPTS]; /* the "N" */
    size_t n_departments;
    int64_t checkin_deadline_ms;
    int64_t resolve_deadline_ms;
    int review;                         /* 1: the matter is reviewed first: the case waits in
                                           REVIEW for its lead to blow the whistle (乡街吹哨) */
    int64_t review_deadline_ms;         /* when review: the lead decides by then */
};

/* Decides for `report` received at `at_ms`. Pure: same catalog and inputs, same decision
 * (replay rebuilds the same dispatches). Always fills `out`; returns 0, or 1 when refused. */
int routing_rules_route(const struct wh_catalog *cat, const Whistle__V1__Report *report,
                        int64_t at_ms, struct routing_decision *out);

/* ---- ladder.c: escalation --------------------------------------------------------------- */

enum { ROUTING_DUE_CHECKIN = 1, ROUTING_DUE_RESOLVE = 2, ROUTING_DUE_REVIEW = 3 };

/* One decision of the ladder. */
struct routing_step {
    int escalate;            /* 1: emit case.escalated */
    const char *step;        /* remind | supervise | raise | manual */
    char reason[256];
    uint32_t level;          /* steps climbed, this one included */
    int to_whistle;          /* the whistle after this step */
    const struct wh_department *added[8]; /* district coordinators added */
    size_t n_added;
    int64_t checkin_deadline_ms; /* new deadlines; 0 = unchanged */
    int64_t resolve_deadline_ms;
    int next_kind;           /* ROUTING_DUE_*, 0 = no further deadline */
    int64_t next_due_ms;
};

/* Decides what the expiry of a `kind` deadline at `now_ms` means for case `c` (tracking's latest
 * snapshot) that has climbed `level` steps. Returns 1 to escalate, 0 not (out->next_* may still
 * move the deadline). */
int routing_ladder_next(const struct wh_catalog *cat, const Whistle__V1__Case *c, uint32_t level,
                        int kind, int64_t now_ms, struct routing_step *out);
/* Fills `out` for raising `c` to whistle `to` at `now_ms`: new deadlines and, for TOUGH, the
 * district coordinators not already on the case. */
void routing_ladder_raise(const struct wh_catalog *cat, const Whistle__V1__Case *c, int to,
                          int64_t now_ms, struct routing_step *out);

/* Binds o->api/o->events, follows intake (reports) and tracking (what is still outstanding). */
routing_t *routing_new(const struct wh_options *o, const struct wh_catalog *cat);
void routing_destroy(routing_t **self_p);
wh_service_t *routing_service(routing_t *self);

#endif
