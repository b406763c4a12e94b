/* rules.c: the rulebook as a pure function of the catalog: matter -> whistle and departments
 * (an operator's explicit whistle overrides the matter's), grid -> community -> lead unit,
 * whistle -> deadlines, and the community admission list (社区事务准入) for tasks handed down.
 * A resident's order (群众点单: the report's flag, or a matter the catalog marks "order") is
 * led by the grid's community with no department: the community dispatches it itself. */
#include "routing.h"
#include <stdio.h>
#include <string.h>

/* A task handed down to the grid's community: admitted when listed; otherwise it must carry
 * both its authority and its funding (权随责走、费随事转), or it is refused naming what is
 * missing. An admitted task is led by the township or street, with no department. */
static int s_task(const struct wh_catalog *cat, const struct wh_grid *grid,
                  const Whistle__V1__Report *report, int64_t at_ms, struct routing_decision *out)
{
    const Whistle__V1__CommunityTask *t = report->task;
    const struct wh_affair *affair = t->affair && t->affair[0] ? wh_catalog_affair(cat, t->affair)
                                                               : NULL;
    if (!affair) {
        int no_auth = !t->authority_ref || !t->authority_ref[0];
        int no_fund = !t->funding_ref || !t->funding_ref[0];
        if (no_auth || no_fund) {
            out->refused = 1;
            snprintf(out->field, sizeof out->field, "%s",
                     no_auth ? "report.task.authority_ref" : "report.task.funding_ref");
            wh_snprintf_utf8(out->reason, sizeof out->reason,
                     "'%s' is not on the community admission list (社区事务准入), and the task "
                     "carries no %s%s%s (权随责走、费随事转)",
                     t->affair && t->affair[0] ? t->affair : "(unlisted task)",
                     no_auth ? "authority_ref" : "", no_auth && no_fund ? " and no " : "",
                     no_fund ? "funding_ref" : "");
            return 1;
        }
    }
    out->whistle = WHISTLE__V1__WHISTLE__QUICK;
    out->community = grid->community;
    out->lead = grid->community->unit;
    out->lead_code = out->lead->code;
    out->checkin_deadline_ms = at_ms + cat->whistles[out->whistle].checkin_ms;
    out->resolve_deadline_ms = at_ms + cat->whistles[out->whistle].resolve_ms;
    return 0;
}

int routing_rules_route(const struct wh_catalog *cat, const Whistle__V1__Report *report,
                        int64_t at_ms, struct routing_decision *out)
{
    memset(out, 0, sizeof *out);
    const struct wh_grid *grid = report ? wh_catalog_grid(cat, report->grid) : NULL;
    const Whistle__V1__CommunityTask *task = report ? report->task : NULL;
    if (grid && task) return s_task(cat, grid, report, at_ms, out);
    const struct wh_matter *matter = report ? wh_catalog_matter(cat, report->matter) : NULL;
    if (!grid || !matter) {
        /* intake checked both against its catalog; routing's may have changed since */
        out->refused = 1;
        snprintf(out->field, sizeof out->field, "%s", !grid ? "report.grid" : "report.matter");
        wh_snprintf_utf8(out->reason, sizeof out->reason, "%s '%s' is not in routing's catalog",
                 !grid ? "grid" : "matter",
                 report ? (!grid ? report->grid : report->matter) : "");
        return 1;
    }
    out->whistle = report->whistle >= WHISTLE__V1__WHISTLE__QUICK &&
                           report->whistle <= WHISTLE__V1__WHISTLE__TOUGH
                       ? (int)report->whistle
                       : matter->whistle;
    out->community = grid->community;
    out->lead = grid->community->unit;
    /* a resident's order (群众点单): the community leads and dispatches it (社区派单) to a
     * stationed unit or a volunteer; no department is blown */
    out->order = report->order || matter->order;
    out->lead_code = matter->lead_community || out->order ? grid->community->code
                                                          : out->lead->code;
    for (size_t i = 0; i < matter->n_departments && !out->order; i++)
        out->departments[out->n_departments++] = matter->departments[i];
    const struct wh_whistle_rule *rule = &cat->whistles[out->whistle];
    out->checkin_deadline_ms = at_ms + rule->checkin_ms;
    out->resolve_deadline_ms = at_ms + rule->resolve_ms;
    /* 乡街吹哨: the lead reviews first; an order is the community's own (no whistle blown) */
    out->review = matter->review && !out->order;
    if (out->review) out->review_deadline_ms = at_ms + cat->review_ms;
    return 0;
}
