/* params.c: query strings and JSON bodies into whistle requests; whistle refusals into HTTP
 * statuses and JSON errors. Pure: the tests drive it table by table (tests/gateway). */
#include "params.h"
#include "route.h"
#include "whistle/error.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A refused query argument `key`: the message says what, the field names it. */
static int s_bad(struct wh_field_error *err, const char *key, const char *fmt, const char *v)
{
    wh_field_error_set(err, WH_EFIELD, "query", fmt, v);
    wh_snprintf_utf8(err->field, sizeof err->field, "query.%s", key);
    return WH_EFIELD;
}

int gateway_query_add(struct gw_query *q, const char *key, const char *raw,
                      struct wh_field_error *err)
{
    char name[64];
    long kl = gateway_pct_decode(name, sizeof name, key, strlen(key));
    if (kl <= 0)
        return wh_field_error_set(err, WH_EFIELD, "query",
                                  "a query argument name is empty, too long or badly escaped");
    if (q->n == GW_MAX_ARGS)
        return wh_field_error_set(err, WH_EFIELD, "query", "at most %d query arguments",
                                  GW_MAX_ARGS);
    size_t room = sizeof q->buf - q->used;
    if ((size_t)kl + 1 >= room)
        return wh_field_error_set(err, WH_EFIELD, "query", "the query string is too long");
    char *k = q->buf + q->used;
    memcpy(k, name, (size_t)kl + 1);
    q->used += (size_t)kl + 1;
    room -= (size_t)kl + 1;
    char *v = q->buf + q->used;
    long vl = gateway_pct_decode(v, room, raw ? raw : "", raw ? strlen(raw) : 0);
    if (vl < 0)
        return s_bad(err, k,
                     "'%s' has an invalid %%-escape, an encoded NUL, bytes that are "
                     "not UTF-8, or is too long",
                     k);
    q->used += (size_t)vl + 1;
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->key[i], k) == 0) {
            wh_field_error_set(err, WH_EFIELD, "query", "'%s' is given twice", k);
            wh_snprintf_utf8(err->field, sizeof err->field, "query.%s", k);
            return WH_EFIELD;
        }
    q->key[q->n] = k;
    q->value[q->n] = v;
    q->n++;
    return 0;
}

/* Every argument must be one of `known` (NULL-terminated). */
static int s_only(const struct gw_query *q, const char *const *known, struct wh_field_error *err)
{
    for (size_t i = 0; i < q->n; i++) {
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++)
            ok = strcmp(q->key[i], *k) == 0;
        if (!ok) {
            char list[200] = "";
            for (const char *const *k = known; *k; k++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                         k == known ? "" : ", ", *k);
            wh_field_error_set(err, WH_EFIELD, "query",
                               "unknown argument '%s' (this route takes: %s)", q->key[i],
                               known[0] ? list : "none");
            wh_snprintf_utf8(err->field, sizeof err->field, "query.%s", q->key[i]);
            return WH_EFIELD;
        }
    }
    return 0;
}

static const char *s_get(const struct gw_query *q, const char *key)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->key[i], key) == 0) return q->value[i];
    return NULL;
}

/* "true"/"1"/"" (present without a value) -> 1, "false"/"0" -> 0. */
static int s_bool(const struct gw_query *q, const char *key, protobuf_c_boolean *out,
                  struct wh_field_error *err)
{
    const char *v = s_get(q, key);
    if (!v) return 0;
    if (!v[0] || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        *out = 0;
    else
        return s_bad(err, key, "must be true or false, got '%.64s'", v);
    return 0;
}

/* A catalog code argument ("cg", "g001"), or NULL/"" when absent. */
static int s_code(const struct gw_query *q, const char *key, char **out, struct wh_field_error *err)
{
    const char *v = s_get(q, key);
    if (!v || !v[0]) return 0;
    if (!wh_code_valid(v))
        return s_bad(err, key, "must be a code of 1..32 of [a-z0-9-], got '%.64s'", v);
    *out = (char *)v;
    return 0;
}

int gateway_params_list(const struct gw_query *q, Whistle__V1__ListCases *out,
                        struct wh_field_error *err)
{
    static const char *const known[] = {"state",   "dept",  "grid",  "unit",
                                        "overdue", "after", "limit", NULL};
    int rc = s_only(q, known, err);
    if (rc) return rc;
    const char *v = s_get(q, "state");
    if (v && v[0] && !(out->state = wh_state_parse(v)))
        return s_bad(err, "state",
                     "unknown case state '%.64s' (REPORTED, DISPATCHED, "
                     "IN_PROGRESS, RESOLVED, CLOSED, REOPENED, REFUSED)",
                     v);
    if ((rc = s_code(q, "dept", &out->department, err)) ||
        (rc = s_code(q, "grid", &out->grid, err)) || (rc = s_code(q, "unit", &out->unit, err)) ||
        (rc = s_bool(q, "overdue", &out->overdue, err)))
        return rc;
    v = s_get(q, "after");
    if (v && v[0]) {
        if (strlen(v) > WH_MAX_CODE)
            return s_bad(err, "after", "must be a case id, got '%.64s'", v);
        out->after_case_id = (char *)v;
    }
    v = s_get(q, "limit");
    if (v) {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end || n < 1 || n > 1000)
            return s_bad(err, "limit", "must be 1..1000, got '%.32s'", v);
        out->limit = (uint32_t)n;
    }
    return 0;
}

int gateway_params_figures(const struct gw_query *q, Whistle__V1__Figures *out,
                           struct wh_field_error *err)
{
    static const char *const known[] = {"period", "by", "unit", NULL};
    int rc = s_only(q, known, err);
    if (rc) return rc;
    const char *v = s_get(q, "period");
    if (!v || !v[0])
        return s_bad(err, "period",
                     "is required: an ISO week 2026-W48, a month 2026-11, a "
                     "quarter 2026-Q4 or a year 2026%s",
                     "");
    out->period = (char *)v;
    v = s_get(q, "by");
    if (v && v[0]) out->by = (char *)v;        /* tracking names the groupings it knows */
    return s_code(q, "unit", &out->unit, err); /* a township's own figures by department */
}

int gateway_params_ledger(const struct gw_query *q, Whistle__V1__GridLedger *out,
                          struct wh_field_error *err)
{
    static const char *const known[] = {"period", NULL};
    int rc = s_only(q, known, err);
    if (rc) return rc;
    const char *v = s_get(q, "period");
    if (v && v[0]) out->period = (char *)v; /* tracking parses it; "" = this month */
    return 0;
}

int gateway_params_visits(const struct gw_query *q, Whistle__V1__Visits *out,
                          struct wh_field_error *err)
{
    static const char *const known[] = {"week", "grid", "short", NULL};
    int rc = s_only(q, known, err);
    if (rc) return rc;
    const char *v = s_get(q, "week");
    if (v && v[0]) out->week = (char *)v;
    if ((rc = s_code(q, "grid", &out->grid, err))) return rc;
    return s_bool(q, "short", &out->short_only, err);
}

static int s_seq(const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!v[0] || v[0] < '0' || v[0] > '9') return -1;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end || n >= (1ULL << 62)) return -1;
    *out = n;
    return 0;
}

int gateway_params_stream_from(const struct gw_query *q, const char *last_event_id, uint64_t *from,
                               int *has, struct wh_field_error *err)
{
    static const char *const known[] = {"from_seq", "ticket", NULL}; /* ticket: api.c */
    int rc = s_only(q, known, err);
    if (rc) return rc;
    *has = 0;
    *from = 0;
    uint64_t n;
    if (last_event_id) {
        if (s_seq(last_event_id, &n))
            return wh_field_error_set(err, WH_EFIELD, "last-event-id",
                                      "Last-Event-ID must be the id of an event (a sequence), "
                                      "got '%.32s'",
                                      last_event_id);
        *from = n + 1;
        *has = 1;
        return 0;
    }
    const char *v = s_get(q, "from_seq");
    if (v) {
        if (s_seq(v, &n) || n == 0)
            return s_bad(err, "from_seq", "must be a sequence >= 1, got '%.32s'", v);
        *from = n;
        *has = 1;
    }
    return 0;
}

int gateway_params_none(const struct gw_query *q, struct wh_field_error *err)
{
    static const char *const known[] = {NULL};
    return s_only(q, known, err);
}

/* ---- actions ------------------------------------------------------------------------- */

static const struct {
    const char *verb;
    int action;
} s_verbs[] = {
    {"checkin", WHISTLE__V1__ACTION__CHECKIN},   {"progress", WHISTLE__V1__ACTION__PROGRESS},
    {"complete", WHISTLE__V1__ACTION__COMPLETE}, {"return", WHISTLE__V1__ACTION__RETURN},
    {"assign", WHISTLE__V1__ACTION__ASSIGN},     {"release", WHISTLE__V1__ACTION__RELEASE},
    {"resolve", WHISTLE__V1__ACTION__RESOLVE},   {"verify", WHISTLE__V1__ACTION__VERIFY},
    {"escalate", WHISTLE__V1__ACTION__ESCALATE},
};

int gateway_action_verb(const char *verb)
{
    for (size_t i = 0; i < sizeof s_verbs / sizeof s_verbs[0]; i++)
        if (strcmp(verb, s_verbs[i].verb) == 0) return s_verbs[i].action;
    return 0;
}

static int s_body_field(struct wh_field_error *err, int code, const char *name, const char *what)
{
    wh_field_error_set(err, code, "body", "%s", what);
    wh_snprintf_utf8(err->field, sizeof err->field, "body%s%s", name[0] ? "." : "", name);
    return code;
}

/* A string member of the body, or NULL when absent; WH_EFIELD when not a string. */
static int s_str(json_t *doc, const char *name, char **out, struct wh_field_error *err)
{
    json_t *v = json_object_get(doc, name);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) return s_body_field(err, WH_EFIELD, name, "must be a string");
    *out = (char *)json_string_value(v);
    return 0;
}

void gateway_action_clear(struct gw_action *a)
{
    if (a->doc) json_decref(a->doc);
    memset(a, 0, sizeof *a);
}

int gateway_params_action(const char *verb, const char *case_id, const char *body, size_t len,
                          const struct wh_identity *who, struct gw_action *out,
                          struct wh_field_error *err)
{
    memset(out, 0, sizeof *out);
    whistle__v1__case_action__init(&out->a);
    whistle__v1__escalate__init(&out->e);
    int action = gateway_action_verb(verb);
    if (!action)
        return wh_field_error_set(err, WH_EFIELD, "url",
                                  "unknown action '%.32s' (checkin, "
                                  "progress, complete, return, assign, release, resolve, "
                                  "verify, escalate)",
                                  verb);
    json_error_t je;
    out->doc = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &je) : json_object();
    if (!out->doc) {
        wh_field_error_set(err, WH_EMALFORMED, "body", "not JSON (%s at byte %d)", je.text,
                           je.position);
        return WH_EMALFORMED;
    }
    if (!json_is_object(out->doc)) {
        gateway_action_clear(out);
        return s_body_field(err, WH_EMALFORMED, "", "must be a JSON object");
    }
    static const char *const a_known[] = {"department",      "actor",     "note", "reason",
                                          "from_department", "satisfied", NULL};
    static const char *const e_known[] = {"actor", "to_whistle", "reason", NULL};
    const char *const *known = action == WHISTLE__V1__ACTION__ESCALATE ? e_known : a_known;
    const char *key;
    json_t *val;
    json_object_foreach(out->doc, key, val)
    {
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++)
            ok = strcmp(key, *k) == 0;
        if (!ok) {
            char name[48];
            wh_snprintf_utf8(name, sizeof name, "%s", key);
            gateway_action_clear(out);
            return s_body_field(err, WH_EFIELD, name, "is not a field of this action");
        }
    }
    int rc = 0;
    int is_dept = who && who->kind == WH_KIND_DEPARTMENT;
    int is_unit = who && who->kind == WH_KIND_TOWNSHIP;
    if (action == WHISTLE__V1__ACTION__ESCALATE) {
        out->escalate = 1;
        char *w = NULL;
        out->e.case_id = (char *)case_id;
        if ((rc = s_str(out->doc, "actor", &out->e.actor, err)) ||
            (rc = s_str(out->doc, "to_whistle", &w, err)) ||
            (rc = s_str(out->doc, "reason", &out->e.reason, err)))
            goto fail;
        if (w && w[0] && !(out->e.to_whistle = wh_whistle_parse(w))) {
            rc = s_body_field(err, WH_EFIELD, "to_whistle", "must be QUICK, EMERGENCY or TOUGH");
            goto fail;
        }
        if (!out->e.actor[0] && is_unit) out->e.actor = (char *)who->code;
        return 0;
    }
    Whistle__V1__CaseAction *a = &out->a;
    a->case_id = (char *)case_id;
    a->action = action;
    char *note = NULL, *reason = NULL;
    if ((rc = s_str(out->doc, "department", &a->department, err)) ||
        (rc = s_str(out->doc, "actor", &a->actor, err)) ||
        (rc = s_str(out->doc, "note", &note, err)) ||
        (rc = s_str(out->doc, "reason", &reason, err)) ||
        (rc = s_str(out->doc, "from_department", &a->from_department, err)))
        goto fail;
    if (note && reason) {
        rc = s_body_field(err, WH_EFIELD, "reason", "give either note or reason, not both");
        goto fail;
    }
    a->note = note ? note : reason ? reason : a->note;
    json_t *sat = json_object_get(out->doc, "satisfied");
    if (sat && !json_is_boolean(sat)) {
        rc = s_body_field(err, WH_EFIELD, "satisfied", "must be true or false");
        goto fail;
    }
    if (action == WHISTLE__V1__ACTION__VERIFY && !sat) {
        rc = s_body_field(err, WH_EFIELD, "satisfied", "verify needs satisfied: true or false");
        goto fail;
    }
    a->satisfied = sat && json_is_true(sat);
    int dept_acts = action == WHISTLE__V1__ACTION__CHECKIN ||
                    action == WHISTLE__V1__ACTION__PROGRESS ||
                    action == WHISTLE__V1__ACTION__COMPLETE ||
                    action == WHISTLE__V1__ACTION__RETURN || action == WHISTLE__V1__ACTION__RELEASE;
    if (dept_acts && !a->department[0] && is_dept) a->department = (char *)who->code;
    if (!dept_acts && action != WHISTLE__V1__ACTION__VERIFY && !a->actor[0] && is_unit)
        a->actor = (char *)who->code;
    if (!a->actor[0] && a->department[0]) a->actor = a->department; /* as whistlectl */
    return 0;
fail:
    gateway_action_clear(out);
    return rc;
}

/* ---- refusals -------------------------------------------------------------------------- */

unsigned gateway_http_status(int code)
{
    switch (code) {
    case WH_EFIELD:
    case WH_EMALFORMED:
    case WH_EUSAGE: return 400;
    case WH_EFORBIDDEN: return 403;
    case WH_ENOTFOUND: return 404;
    case WH_ESTATE:
    case WH_ECONFLICT: return 409;
    case WH_EGONE: return 410;
    case WH_ETOOBIG: return 413;
    case WH_ESTORE:
    case WH_EMAPFULL:
    case WH_ENOMEM:
    case WH_EBUSY:
    case WH_EBUS:
    case WH_ETIMEDOUT: return 503;
    case WH_EUNSUPPORTED: return 502;
    default: return 500;
    }
}

json_t *gateway_error_json(int code, const char *field, const char *message, int state,
                           uint64_t oldest)
{
    json_t *e = json_object();
    if (!e) return NULL;
    char f[128], m[1024];
    wh_utf8_sanitize(f, sizeof f, field);
    wh_utf8_sanitize(m, sizeof m, message ? message : wh_strerror(code));
    json_object_set_new(e, "code", json_string(wh_errname(code)));
    json_object_set_new(e, "field", json_string(f));
    json_object_set_new(e, "message", json_string(m));
    if (state) json_object_set_new(e, "state", json_string(wh_state_name(state)));
    if (oldest) json_object_set_new(e, "oldest", json_integer((json_int_t)oldest));
    return json_pack("{s:o}", "error", e);
}
