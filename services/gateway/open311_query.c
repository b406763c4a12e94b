/* open311_query.c: a GET requests query (GeoReport v2 "GET Service Requests") read into what
 * the gateway asks tracking (a ListCases page, or GetCase per service_request_id) and the
 * filters it applies to the cases that come back: ListCases filters by one state, grid, unit
 * or department, while Open311 filters by lists of matters, a date range and open/closed.
 * The spec's defaults: the last 90 days, at most 1000 requests, a range at most 90 days. */
#include "open311.h"
#include "whistle/error.h"
#include <stdlib.h>
#include <string.h>

#define S_DAY_MS 86400000LL
/* ListCases page the gateway asks for while filtering (tracking's own maximum is larger) */
#define S_PAGE 500

void open311_query_clear(struct open311_query *q)
{
    for (size_t i = 0; i < q->n_ids; i++)
        free(q->ids[i]);
    for (size_t i = 0; i < q->n_codes; i++)
        free(q->codes[i]);
    free(q->ids);
    free(q->codes);
    memset(q, 0, sizeof *q);
}

static int s_id_ok(const char *s, size_t n)
{
    if (n < 1 || n > 64) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

/* Splits the comma list `v` into a new array of strings, each checked by `ok` (n = its length);
 * `what` names the field in a refusal. 0 or a negative number with `err`. */
static int s_list(const char *field, const char *v, size_t max, int (*ok)(const char *, size_t),
                  char ***out, size_t *n_out, struct open311_error *err)
{
    size_t n = 1;
    for (const char *p = v; *p; p++)
        if (*p == ',') n++;
    if (n > max)
        return open311_error_set(err, 400, field, "%s: at most %zu values, got %zu", field, max, n);
    char **a = calloc(n, sizeof *a);
    if (!a) return open311_error_set(err, 500, "", "out of memory");
    *out = a;
    *n_out = 0;
    for (const char *p = v;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        while (len && *p == ' ')
            p++, len--; /* "a, b" */
        while (len && p[len - 1] == ' ')
            len--;
        if (!ok(p, len))
            return open311_error_set(err, 400, field, "%s: '%.*s' is not a valid value", field,
                                     (int)(len > 64 ? 64 : len), p);
        if (!(a[(*n_out)++] = strndup(p, len)))
            return open311_error_set(err, 500, "", "out of memory");
        if (!c) break;
        p = c + 1;
    }
    return 0;
}

static int s_code_ok(const char *s, size_t n)
{
    if (n < 1 || n > 32) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

static int s_status_ok(const char *s, size_t n)
{
    return (n == 4 && strncmp(s, "open", 4) == 0) || (n == 6 && strncmp(s, "closed", 6) == 0);
}

static int s_parse(struct open311_query *out, const struct wh_catalog *cat,
                   const struct open311_form *query, int64_t now_ms, struct open311_error *err)
{
    static const char *const known[] = {
        "service_request_id", "service_code", "start_date", "end_date", "status",
        "jurisdiction_id",    "api_key"};
    int rc;
    for (size_t i = 0; query && i < query->n; i++) {
        const char *k = query->params[i].key;
        size_t j = 0;
        while (j < sizeof known / sizeof known[0] && strcmp(k, known[j]) != 0)
            j++;
        if (j == sizeof known / sizeof known[0])
            return open311_error_set(err, 400, k, "%s: not a field of GET requests (GeoReport v2)",
                                     k);
        for (size_t l = i + 1; l < query->n; l++)
            if (strcmp(k, query->params[l].key) == 0)
                return open311_error_set(err, 400, k,
                                         "%s: given more than once (use one comma-separated "
                                         "list)",
                                         k);
    }
    whistle__v1__list_cases__init(&out->list);
    out->list.limit = S_PAGE;
    out->limit = OPEN311_MAX_RESULTS;
    out->status = OPEN311_STATUS_OPEN | OPEN311_STATUS_CLOSED;
    const char *jur = open311_form_get(query, "jurisdiction_id");
    if (jur && jur[0] && strcmp(jur, cat->district_code) != 0)
        return open311_error_set(err, 404, "jurisdiction_id",
                                 "jurisdiction_id: '%s' is not served here (this is '%s')", jur,
                                 cat->district_code);
    const char *ids = open311_form_get(query, "service_request_id");
    if (ids && ids[0])
        return s_list("service_request_id", ids, OPEN311_MAX_RESULTS, s_id_ok, &out->ids,
                      &out->n_ids, err); /* overrides every other argument */
    const char *codes = open311_form_get(query, "service_code");
    if (codes && codes[0]) {
        if ((rc = s_list("service_code", codes, 256, s_code_ok, &out->codes, &out->n_codes, err)))
            return rc;
        for (size_t i = 0; i < out->n_codes; i++)
            if (!wh_catalog_matter(cat, out->codes[i]))
                return open311_error_set(err, 400, "service_code",
                                         "service_code: no service '%s' (services.json lists "
                                         "them)",
                                         out->codes[i]);
    }
    const char *status = open311_form_get(query, "status");
    if (status && status[0]) {
        char **st = NULL;
        size_t n = 0;
        rc = s_list("status", status, 2, s_status_ok, &st, &n, err);
        out->status = 0;
        for (size_t i = 0; i < n; i++) {
            out->status |= strcmp(st[i], "open") == 0 ? OPEN311_STATUS_OPEN : OPEN311_STATUS_CLOSED;
            free(st[i]);
        }
        free(st);
        if (rc) {
            if (err->status == 400)
                open311_error_set(err, 400, "status", "status: open, closed or both (open,closed)");
            return rc;
        }
    }
    const char *start = open311_form_get(query, "start_date");
    const char *end = open311_form_get(query, "end_date");
    out->end_ms = now_ms;
    if (end && end[0] && open311_time_parse(end, &out->end_ms))
        return open311_error_set(err, 400, "end_date",
                                 "end_date: a W3C datetime with a zone, e.g. "
                                 "2026-05-01T00:00:00+08:00 (or a date, 2026-05-01)");
    out->start_ms = out->end_ms - OPEN311_MAX_DAYS * S_DAY_MS;
    if (start && start[0] && open311_time_parse(start, &out->start_ms))
        return open311_error_set(err, 400, "start_date",
                                 "start_date: a W3C datetime with a zone, e.g. "
                                 "2026-05-01T00:00:00+08:00 (or a date, 2026-05-01)");
    if (out->end_ms < out->start_ms)
        return open311_error_set(err, 400, "end_date", "end_date: before start_date");
    if (out->end_ms - out->start_ms > OPEN311_MAX_DAYS * S_DAY_MS)
        return open311_error_set(err, 400, start && start[0] ? "start_date" : "end_date",
                                 "%s: start_date and end_date may be at most %d days apart%s",
                                 start && start[0] ? "start_date" : "end_date", OPEN311_MAX_DAYS,
                                 end && end[0] ? "" : " (end_date defaults to now)");
    return 0;
}

int open311_query_parse(struct open311_query *out, const struct wh_catalog *cat,
                        const struct open311_form *query, int64_t now_ms, struct open311_error *err)
{
    memset(out, 0, sizeof *out);
    int rc = s_parse(out, cat, query, now_ms, err);
    if (rc) open311_query_clear(out);
    return rc;
}

int open311_query_match(const struct open311_query *q, const Whistle__V1__Case *c)
{
    if (!c) return 0;
    if (q->n_ids) return 1;
    if (c->created_at_ms < q->start_ms || c->created_at_ms > q->end_ms) return 0;
    unsigned st = strcmp(open311_status(c->state), "closed") == 0 ? OPEN311_STATUS_CLOSED
                                                                  : OPEN311_STATUS_OPEN;
    if (!(q->status & st)) return 0;
    if (!q->n_codes) return 1;
    const char *matter = c->report && c->report->matter ? c->report->matter : "";
    for (size_t i = 0; i < q->n_codes; i++)
        if (strcmp(q->codes[i], matter) == 0) return 1;
    return 0;
}
