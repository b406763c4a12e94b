/* validate.c: the field checks of a SubmitReport. A report that fails here never reaches the
 * log; the reply names the field and says what to fix. */
#include "intake.h"
#include "whistle/error.h"
#include <string.h>

int intake_validate(const struct wh_catalog *cat, const Whistle__V1__SubmitReport *sr,
                    struct wh_field_error *err)
{
    if (wh_check_string(err, "idempotency_key", sr->idempotency_key, WH_MAX_KEY, 1)) return err->code;
    const Whistle__V1__Report *r = sr->report;
    if (!r) return wh_field_error_set(err, WH_EFIELD, "report", "report is required");
    const Whistle__V1__CommunityTask *t = r->task;
    if (wh_check_string(err, "report.grid", r->grid, WH_MAX_CODE, 1) ||
        wh_check_string(err, "report.matter", r->matter, WH_MAX_CODE, t == NULL) ||
        wh_check_string(err, "report.description", r->description,
                        4 * WH_MAX_DESCRIPTION_CHARS, 1) ||
        wh_check_string(err, "report.reporter", r->reporter, WH_MAX_SHORT, 1) ||
        wh_check_string(err, "report.location", r->location, WH_MAX_SHORT, 0) ||
        wh_check_string(err, "report.source", r->source, 64, 0))
        return err->code;
    size_t chars = wh_utf8_chars(r->description);
    if (chars > WH_MAX_DESCRIPTION_CHARS)
        return wh_field_error_set(err, WH_EFIELD, "report.description",
                                  "report.description is %zu characters, at most %d allowed",
                                  chars, WH_MAX_DESCRIPTION_CHARS);
    const Whistle__V1__Contact *ct = r->contact;
    if (ct && (wh_check_string(err, "report.contact.first_name", ct->first_name, WH_MAX_SHORT, 0) ||
               wh_check_string(err, "report.contact.last_name", ct->last_name, WH_MAX_SHORT, 0) ||
               wh_check_string(err, "report.contact.email", ct->email, WH_MAX_SHORT, 0) ||
               wh_check_string(err, "report.contact.phone", ct->phone, WH_MAX_SHORT, 0) ||
               wh_check_string(err, "report.contact.device_id", ct->device_id, WH_MAX_SHORT, 0) ||
               wh_check_string(err, "report.contact.account_id", ct->account_id, WH_MAX_SHORT, 0)))
        return err->code;
    const Whistle__V1__Geo *geo = r->geo;
    if (geo && !(geo->lat >= -90 && geo->lat <= 90))
        return wh_field_error_set(err, WH_EFIELD, "report.geo.lat",
                                  "report.geo.lat must be -90..90 degrees, got %g", geo->lat);
    if (geo && !(geo->lon >= -180 && geo->lon <= 180))
        return wh_field_error_set(err, WH_EFIELD, "report.geo.lon",
                                  "report.geo.lon must be -180..180 degrees, got %g", geo->lon);
    if (wh_check_string(err, "report.media_url", r->media_url, 400, 0)) return err->code;
    if (r->media_url[0] && strncmp(r->media_url, "http://", 7) != 0 &&
        strncmp(r->media_url, "https://", 8) != 0)
        return wh_field_error_set(err, WH_EFIELD, "report.media_url",
                                  "report.media_url must be an http:// or https:// URL");
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
