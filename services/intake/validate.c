/* validate.c: the field checks of a SubmitReport. A report that fails here never reaches the
 * log; the reply names the field and says what to fix. */
#include "intake.h"
#include "whistle/error.h"

int intake_validate(const struct wh_catalog *cat, const Whistle__V1__SubmitReport *sr,
                    struct wh_field_error *err)
{
    if (wh_check_string(err, "idempotency_key", sr->idempotency_key, WH_MAX_KEY, 1)) return err->code;
    const Whistle__V1__Report *r = sr->report;
    if (!r) return wh_field_error_set(err, WH_EFIELD, "report", "report is required");
    const Whistle__V1__CommunityTask *t = r->task;
    if (wh_check_string(err, "report.grid", r->grid, WH_MAX_CODE, 1) ||
        wh_check_string(err, "report.matter", r->matter, WH_MAX_CODE, t == NULL) ||
        wh_check_string(err, "report.description", r->description, WH_MAX_DESCRIPTION, 1) ||
        wh_check_string(err, "report.reporter", r->reporter, WH_MAX_SHORT, 1) ||
        wh_check_string(err, "report.location", r->location, WH_MAX_SHORT, 0) ||
        wh_check_string(err, "report.source", r->source, 64, 0))
        return err->code;
    if (!wh_catalog_grid(cat, r->grid))
        return wh_field_error_set(err, WH_EFIELD, "report.grid",
                                  "report.grid: unknown grid '%s' (not in the catalog)", r->grid);
    if (t && (wh_check_string(err, "report.task.affair", t->affair, WH_MAX_CODE, 0) ||
              wh_check_string(err, "report.task.authority_ref", t->authority_ref, WH_MAX_SHORT, 0) ||
              wh_check_string(err, "report.task.funding_ref", t->funding_ref, WH_MAX_SHORT, 0) ||
              wh_check_string(err, "report.task.issuer", t->issuer, WH_MAX_SHORT, 1)))
        return err->code;
    if (r->whistle < 0 || r->whistle > WHISTLE__V1__WHISTLE__TOUGH)
        return wh_field_error_set(err, WH_EFIELD, "report.whistle",
                                  "report.whistle must be QUICK, EMERGENCY or TOUGH (or unset)");
    if (r->matter[0] && !wh_catalog_matter(cat, r->matter))
        return wh_field_error_set(err, WH_EFIELD, "report.matter",
                                  "report.matter: unknown matter '%s' (not in the catalog)",
                                  r->matter);
    if (r->reported_at_ms < 0)
        return wh_field_error_set(err, WH_EFIELD, "report.reported_at_ms",
                                  "report.reported_at_ms must not be negative");
    return 0;
}
