/* rules.c: the rulebook as a pure function of the catalog: matter -> whistle and departments,
 * grid -> community -> lead unit, whistle -> deadlines. */
#include "routing.h"
#include <stdio.h>
#include <string.h>

int routing_rules_route(const struct wh_catalog *cat, const Whistle__V1__Report *report,
                        int64_t at_ms, struct routing_decision *out)
{
    memset(out, 0, sizeof *out);
    const struct wh_grid *grid = report ? wh_catalog_grid(cat, report->grid) : NULL;
    const struct wh_matter *matter = report ? wh_catalog_matter(cat, report->matter) : NULL;
    if (!grid || !matter) {
        /* intake checked both against its catalog; routing's may have changed since */
        out->refused = 1;
        snprintf(out->field, sizeof out->field, "%s", !grid ? "report.grid" : "report.matter");
        snprintf(out->reason, sizeof out->reason, "%s '%s' is not in routing's catalog",
                 !grid ? "grid" : "matter",
                 report ? (!grid ? report->grid : report->matter) : "");
        return 1;
    }
    out->whistle = matter->whistle;
    out->community = grid->community;
    out->lead = grid->community->unit;
    for (size_t i = 0; i < matter->n_departments; i++)
        out->departments[out->n_departments++] = matter->departments[i];
    const struct wh_whistle_rule *rule = &cat->whistles[matter->whistle];
    out->checkin_deadline_ms = at_ms + rule->checkin_ms;
    out->resolve_deadline_ms = at_ms + rule->resolve_ms;
    return 0;
}
