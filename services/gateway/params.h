/* params.h: HTTP inputs (query strings, JSON bodies) turned into whistle requests, and a
 * whistle refusal turned into an HTTP status and JSON error (pure functions).
 *
 * Query parameters are percent-decoded here (http.c hands them over raw), must be valid UTF-8
 * and known to the route: an unknown or repeated one is refused naming it. JSON bodies are
 * parsed with jansson (which refuses invalid UTF-8 and NUL) and must be objects whose members
 * are the request's own fields; each error names the field as "query.NAME" or "body.NAME". */
#ifndef GATEWAY_PARAMS_H
#define GATEWAY_PARAMS_H
#include "gateway.h"

#define GW_MAX_ARGS 16

/* The decoded query string of one request. Values point into `buf`. */
struct gw_query {
    size_t n;
    const char *key[GW_MAX_ARGS];
    const char *value[GW_MAX_ARGS];
    char buf[4096];
    size_t used;
};

/* Adds one argument as MHD parsed it (`raw` may be NULL: "?overdue"). 0, or WH_EFIELD naming
 * "query.KEY" (a bad escape, not UTF-8, too many or too long arguments). */
int gateway_query_add(struct gw_query *q, const char *key, const char *raw,
                      struct wh_field_error *err);

/* GET /v1/cases?state=&dept=&grid=&unit=&overdue=&after=&limit= -> ListCases (strings point
 * into `q`). 0 or WH_EFIELD. */
int gateway_params_list(const struct gw_query *q, Whistle__V1__ListCases *out,
                        struct wh_field_error *err);
/* GET /v1/figures?period=&by=&unit= */
int gateway_params_figures(const struct gw_query *q, Whistle__V1__Figures *out,
                           struct wh_field_error *err);
/* GET /v1/grids/{grid}/ledger?period= (the grid is the route's: the caller sets out->grid) */
int gateway_params_ledger(const struct gw_query *q, Whistle__V1__GridLedger *out,
                          struct wh_field_error *err);
/* GET /v1/visits?week=&grid=&short= */
int gateway_params_visits(const struct gw_query *q, Whistle__V1__Visits *out,
                          struct wh_field_error *err);
/* Where an event stream starts: `Last-Event-ID: N` (the last entry the client has: from N + 1)
 * wins over `?from_seq=N` (from N). *has = 0 when neither is given (live only). 0 or
 * WH_EFIELD naming "last-event-id" or "query.from_seq". */
int gateway_params_stream_from(const struct gw_query *q, const char *last_event_id, uint64_t *from,
                               int *has, struct wh_field_error *err);
/* Refuses any query argument (routes that take none). */
int gateway_params_none(const struct gw_query *q, struct wh_field_error *err);

/* POST /v1/cases/{id}/{verb}: the request for one action. */
struct gw_action {
    int escalate; /* 1: `e` for routing; 0: `a` for tracking */
    Whistle__V1__CaseAction a;
    Whistle__V1__Escalate e;
    json_t *doc; /* the parsed body; owns the strings of `a` and `e` */
};

/* The Action of a verb ("checkin" -> CHECKIN; "escalate" -> ESCALATE); 0 when unknown. */
int gateway_action_verb(const char *verb);
/* Builds the action `verb` on `case_id` from the JSON `body` (`len` bytes; empty: {}), with
 * the caller `who`'s code as the default department or actor where whistlectl would need the
 * flag. 0 with `out` filled (release with gateway_action_clear), or WH_EFIELD /
 * WH_EMALFORMED naming the field. */
int gateway_params_action(const char *verb, const char *case_id, const char *body, size_t len,
                          const struct wh_identity *who, struct gw_action *out,
                          struct wh_field_error *err);
void gateway_action_clear(struct gw_action *a);

/* The HTTP status of a whistle error code: EFIELD/EMALFORMED/EUSAGE 400, EFORBIDDEN 403,
 * ENOTFOUND 404, ESTATE and ECONFLICT 409, EGONE 410, ETOOBIG 413,
 * ESTORE/EMAPFULL/ENOMEM/EBUSY/EBUS/ETIMEDOUT 503 (try again), EUNSUPPORTED 502,
 * ECATALOG/EINTERNAL and anything else 500. */
unsigned gateway_http_status(int code);
/* {"error":{"code":"ESTATE","field":..,"message":..[,"state":"RESOLVED"][,"oldest":N]}}:
 * a new reference; NULL on out of memory. `state` 0 and `oldest` 0 are left out. */
json_t *gateway_error_json(int code, const char *field, const char *message, int state,
                           uint64_t oldest);

#endif
