/* open311.h: Open311 GeoReport v2 as pure functions over the catalog and tracking's cases,
 * for the gateway's request handlers: the documents (discovery, services, a service
 * definition, service requests, a POST's answer, tokens, errors) rendered as JSON or XML with
 * the spec's element names into a growable buffer; an application/x-www-form-urlencoded body
 * or query decoded into fields; a POST requests body turned into intake's SubmitReport; a GET
 * requests query turned into tracking's ListCases plus the filters the gateway applies to
 * what comes back; W3C datetimes with a zone. No I/O, no loop, no globals: the gateway owns
 * the HTTP, the backends and the API keys. docs/open311.md says how each field maps.
 *
 * Names: open311_<concept>_<verb>, the concepts being buf, form, time, render, submit, query
 * and error. Every function that can fail returns 0 or a negative whistle code (WH_ENOMEM),
 * or, for input, fills a struct open311_error with the HTTP status and a description naming
 * the Open311 field. */
#ifndef WHISTLE_GATEWAY_OPEN311_H
#define WHISTLE_GATEWAY_OPEN311_H
#include "whistle/catalog.h"
#include <stddef.h>
#include <stdint.h>
#include <whistle/v1/whistle.pb-c.h>

/* The spec's "specification" of a GeoReport v2 endpoint (discovery; node-open311 matches it). */
#define OPEN311_SPECIFICATION "http://wiki.open311.org/GeoReport_v2"
/* Spec defaults of GET requests: the last 90 days, at most 1000 requests. */
#define OPEN311_MAX_DAYS 90
#define OPEN311_MAX_RESULTS 1000
/* At most this many fields in one form (body or query); more is a 400 naming the form. */
#define OPEN311_MAX_PARAMS 64
/* description: at most this many characters (not bytes); the spec's limit. */
#define OPEN311_MAX_DESCRIPTION_CHARS 4000

enum open311_format {
    OPEN311_JSON = 1, /* application/json */
    OPEN311_XML = 2,  /* text/xml */
};

/* "json" -> OPEN311_JSON, "xml" -> OPEN311_XML, anything else 0 (the gateway answers 404). */
int open311_format_parse(const char *ext);
/* The Content-Type to answer with ("application/json; charset=utf-8", "text/xml; ..."). */
const char *open311_format_content_type(enum open311_format f);

/* ---- growable buffer ------------------------------------------------------------------- */

struct open311_buf {
    char *data; /* NUL-terminated once anything was written; caller frees (open311_buf_free) */
    size_t len; /* bytes written, without the NUL */
    size_t cap; /* bytes allocated */
};

/* Appends `len` bytes; 0 or WH_ENOMEM (the buffer then keeps what it had). */
int open311_buf_append(struct open311_buf *b, const char *s, size_t len);
/* Frees the data and zeroes *b; safe on a zeroed buffer. */
void open311_buf_free(struct open311_buf *b);

/* ---- errors ---------------------------------------------------------------------------- */

/* What to answer instead of a document: the HTTP status (400, 403, 404, 413, 409, 503, ...),
 * the Open311 field at fault ("attribute[grid]", "" for the whole request) and one line that
 * names it and says what to fix (valid UTF-8). Rendered by open311_render_error. */
struct open311_error {
    int status;            /* HTTP status; also the "code" of the spec's error document */
    char field[64];        /* Open311 field, "" when none */
    char description[512]; /* one line, names the field, says what was expected */
};

/* Fills `err`; returns -status (a negative number, for `return open311_error_set(...)`). */
int open311_error_set(struct open311_error *err, int status, const char *field, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));
/* A backend's refusal (Reply.error) as an Open311 error: EFIELD 400, EFORBIDDEN 403, ENOTFOUND
 * 404, ETOOBIG 413, ESTATE and ECONFLICT 409, EBUSY/ETIMEDOUT/storage 503, else 500; the
 * whistle field is named as Open311 names it (report.grid -> attribute[grid],
 * report.matter -> service_code, report.description -> description, idempotency_key ->
 * Idempotency-Key). */
void open311_error_from_reply(struct open311_error *err, const Whistle__V1__Error *e);

/* ---- W3C datetimes --------------------------------------------------------------------- */

/* Writes `ms` (Unix epoch ms) in the server's local zone as W3C-DTF with seconds and a
 * numeric zone, "2026-05-01T10:00:00+08:00" (never a bare +0800). 0 or WH_EFIELD when the
 * time cannot be represented or `size` < 26. */
int open311_time_format(char *buf, size_t size, int64_t ms);
/* Parses a W3C-DTF datetime: "YYYY-MM-DD" (midnight, server's local zone) or
 * "YYYY-MM-DDThh:mm[:ss[.fff]]" followed by "Z" or "+hh:mm"/"-hh:mm" (a zone is required
 * with a time). 0 and *ms, or WH_EFIELD. */
int open311_time_parse(const char *s, int64_t *ms);

/* ---- form-urlencoded fields ------------------------------------------------------------ */

struct open311_param {
    char *key;        /* decoded, valid UTF-8, NUL-terminated */
    char *value;      /* decoded, valid UTF-8 without NUL, NUL-terminated */
    size_t value_len; /* bytes of value */
};

/* The fields of a query string or a form body, in order. Owns its strings. */
struct open311_form {
    struct open311_param *params;
    size_t n;
};

/* Decodes application/x-www-form-urlencoded `data[0..len)` (a body, or a query string
 * without its '?') into `out` (zeroed by the caller, cleared on failure). '&' separates
 * fields, the first '=' a key from its value ("key" alone is an empty value); '+' is a space
 * and %XX a byte, decoded by uriparser. Refused with 400: a '%' not followed by two hex
 * digits, a %00, bytes that are not UTF-8 (each naming the field), more than
 * OPEN311_MAX_PARAMS fields; WH_ENOMEM on out of memory (err->status 500). */
int open311_form_decode(struct open311_form *out, const char *data, size_t len,
                        struct open311_error *err);
/* Adds one decoded field (for a gateway that decodes with libmicrohttpd's post processor):
 * the same checks (UTF-8, no NUL, the count) as open311_form_decode. */
int open311_form_add(struct open311_form *f, const char *key, size_t key_len, const char *value,
                     size_t value_len, struct open311_error *err);
/* The value of `key`, NULL when absent (the first one; parsers refuse repeats). */
const char *open311_form_get(const struct open311_form *f, const char *key);
/* Frees every field and zeroes *f; safe on a zeroed form. */
void open311_form_clear(struct open311_form *f);

/* ---- documents ------------------------------------------------------------------------- */

/* Where this endpoint is and who runs it, for the discovery document. */
struct open311_site {
    const char *url;         /* the GeoReport v2 base URL clients use, ending in '/' */
    const char *contact;     /* NULL: the catalog's district.contact, else the district name */
    const char *key_service; /* how to get an api_key; NULL: the catalog's, else omitted */
    int64_t changeset_ms;    /* when the catalog last changed (its file's mtime) */
    /* a city's gateway: the jurisdictions it serves (each district's catalog), listed in
     * discovery as "jurisdictions": [{"jurisdiction_id", "name"}]; NULL/0: none listed */
    const struct wh_catalog *const *jurisdictions;
    size_t n_jurisdictions;
};

/* One service request to render: a case, and its last history line when known (GetCase
 * gives it; a ListCases page does not: status_notes then says the state only). */
struct open311_request_item {
    const Whistle__V1__Case *c;            /* required */
    const Whistle__V1__HistoryEntry *last; /* NULL when unknown */
};

/* Each appends one whole document to `out` (which may hold something already, e.g. nothing).
 * 0, or WH_ENOMEM (out then holds a partial document: discard it). */
int open311_render_discovery(struct open311_buf *out, enum open311_format f,
                             const struct wh_catalog *cat, const struct open311_site *site);
int open311_render_services(struct open311_buf *out, enum open311_format f,
                            const struct wh_catalog *cat);
/* An unknown `service_code`: nothing is written, `err` is a 404 naming service_code and the
 * return is -404. */
int open311_render_service_definition(struct open311_buf *out, enum open311_format f,
                                      const struct wh_catalog *cat, const char *service_code,
                                      struct open311_error *err);
/* GET requests and GET requests/{id}: <service_requests><request>... in the order given. */
int open311_render_requests(struct open311_buf *out, enum open311_format f,
                            const struct wh_catalog *cat, const struct open311_request_item *items,
                            size_t n);
/* The same for one GetCase reply (its last history line becomes status_notes). */
int open311_render_case_reply(struct open311_buf *out, enum open311_format f,
                              const struct wh_catalog *cat, const Whistle__V1__CaseReply *r);
/* The answer to a POST once intake committed: service_request_id = case id, service_notice
 * from the matter's whistle, account_id empty. */
int open311_render_submitted(struct open311_buf *out, enum open311_format f,
                             const struct wh_catalog *cat, const char *case_id,
                             const char *service_code);
/* GET tokens/{token}: whistle's services are realtime, so a token is the case id itself; the
 * gateway checks the case exists (GetCase) and renders {service_request_id, token}. */
int open311_render_token(struct open311_buf *out, enum open311_format f, const char *token,
                         const char *case_id);
/* The spec's error document: [{"code":400,"description":"..."}] or
 * <errors><error><code>400</code><description>...</description></error></errors>. */
int open311_render_error(struct open311_buf *out, enum open311_format f,
                         const struct open311_error *err);

/* "open" or "closed" for a CaseState: closed = CLOSED, REFUSED; every other state is open
 * (RESOLVED too: it waits for the resident's verification and may be reopened). */
const char *open311_status(int case_state);

/* ---- POST requests -> SubmitReport ----------------------------------------------------- */

/* Maps an api_key to the integrator it belongs to: 1 and its code in `code` (at most
 * `code_size` - 1 bytes) when known, 0 when not (the POST is answered 403). */
typedef int (*open311_identify_fn)(void *arg, const char *api_key, char *code, size_t code_size);

/* A POST requests turned into intake's request. `sr` points into the rest of the struct and
 * the strings it owns: send it while the struct lives. */
struct open311_submit {
    Whistle__V1__SubmitReport sr;    /* idempotency_key = "<integrator>:<Idempotency-Key>" */
    Whistle__V1__Report report;      /* grid, matter, description, reporter, location, source */
    Whistle__V1__CommunityTask task; /* set (report.task) when a task_* attribute was given */
    char source[65];                 /* the integrator the api_key maps to (report.source) */
    Whistle__V1__Contact contact;    /* report.contact, when any contact field was given */
    Whistle__V1__Geo geo;            /* report.geo, when has_latlon */
    double lat, lon;
    int has_latlon;
    char *strings[20]; /* the Report strings this struct owns (the gateway logs none of them) */
    size_t n_strings;
};

/* Reads a POST requests: `query` (the URL's query string: jurisdiction_id, api_key) and `body`
 * (the form) together; a field repeated, or in both with different values, is refused.
 * `idempotency_key` is the Idempotency-Key header, or a fresh unique key of the gateway's own
 * when the request has none (1..96 bytes of printable ASCII). reported_at_ms stays 0 (intake's
 * time). Checks, in order:
 * api_key present and known (403), jurisdiction_id (if given) = the catalog's district code (404),
 * service_code known (404), only known fields (400 naming the first unknown), lat/long both or
 * neither and in range, lat/long or address_string (or address_id) present, attribute[grid] present
 * and a catalog grid, task_* attributes only for a matter led by the community (and task_issuer
 * with any of them, task_affair from the catalog), description present, at most 4000 characters
 * (valid UTF-8), every text within intake's bounds. 0 with `out` filled (free it with
 * open311_submit_clear), or a negative number with `err` filled and `out` cleared. */
int open311_submit_parse(struct open311_submit *out, const struct wh_catalog *cat,
                         const struct open311_form *query, const struct open311_form *body,
                         const char *idempotency_key, open311_identify_fn identify, void *arg,
                         struct open311_error *err);
/* Frees what `s` owns and zeroes it; safe on a zeroed struct. */
void open311_submit_clear(struct open311_submit *s);

/* ---- GET requests -> ListCases + filters ----------------------------------------------- */

#define OPEN311_STATUS_OPEN 1u
#define OPEN311_STATUS_CLOSED 2u

/* A GET requests query. With ids: GetCase each id (in the order given; an unknown one is left
 * out) and apply nothing else (the spec: service_request_id overrides every other argument).
 * Without: page through tracking with `list` (list.after_case_id = the previous page's
 * next_after) until it ends, keep the cases open311_query_match accepts, and answer the
 * last `limit` of them (the newest, ids grow with time). */
struct open311_query {
    Whistle__V1__ListCases list; /* state is ANY (status is filtered after), limit a page */
    char **ids;                  /* service_request_id list; NULL when not given */
    size_t n_ids;
    char **codes; /* service_code list (matters); none = any */
    size_t n_codes;
    int64_t start_ms, end_ms; /* requested_datetime (Case.created_at_ms) in [start, end] */
    unsigned status;          /* OPEN311_STATUS_* bits; both when not given */
    size_t limit;             /* OPEN311_MAX_RESULTS */
};

/* Reads `query` at `now_ms`: service_request_id (comma list of case ids, at most 1000),
 * service_code (comma list of catalog matters), start_date / end_date (W3C; defaults: end =
 * now, start = end - 90 days; refused when end < start or they are more than 90 days apart),
 * status (comma list of open, closed), jurisdiction_id (the district code), api_key
 * (ignored: reads are the gateway's), nothing else (400 naming an unknown field). 0 with
 * `out` filled (open311_query_clear), or a negative number with `err` filled. */
int open311_query_parse(struct open311_query *out, const struct wh_catalog *cat,
                        const struct open311_form *query, int64_t now_ms,
                        struct open311_error *err);
/* 1 when `c` passes the query's filters (service_code, the date range, status), else 0. */
int open311_query_match(const struct open311_query *q, const Whistle__V1__Case *c);
/* Frees what `q` owns and zeroes it; safe on a zeroed struct. */
void open311_query_clear(struct open311_query *q);

#endif
