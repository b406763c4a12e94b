/* open311_render.c: the GeoReport v2 documents. Each is built once as a jansson tree with the
 * spec's field names in the spec's order, then written either as JSON (jansson) or as XML
 * (here: elements named as the fields, an array as a wrapper element whose items take the
 * singular name, "endpoints" -> <endpoint>, "attributes" -> <attribute>; null as an empty
 * element), so the two formats cannot disagree. What whistle does not hold is derived from
 * the catalog: a matter's description and keywords (or the catalog's optional "description"
 * and "keywords" of a matter), its group (the whistle's name), the grid list, the deadlines
 * behind service_notice; the district's optional "contact" and "key_service". */
#include "open311.h"
#include "whistle/codec.h"
#include "whistle/error.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- jansson helpers ------------------------------------------------------------------- */

/* A JSON string of `s` (NULL -> null); bytes that are not UTF-8 become U+FFFD. */
static json_t *s_str(const char *s)
{
    if (!s) return json_null();
    json_t *j = json_string(s);
    if (j) return j;
    size_t n = strlen(s) * 3 + 1;
    char *clean = malloc(n);
    if (!clean) return NULL;
    wh_utf8_sanitize(clean, n, s);
    j = json_string(clean);
    free(clean);
    return j;
}

static json_t *s_time(int64_t ms)
{
    char t[40];
    if (ms <= 0 || open311_time_format(t, sizeof t, ms) != 0) return json_null();
    return json_string(t);
}

/* json_object_set_new that remembers a failure in *ok instead of leaking. */
static void s_set(json_t *o, const char *key, json_t *v, int *ok)
{
    if (!o || !v || json_object_set_new(o, key, v) != 0) *ok = 0;
}

static void s_push(json_t *a, json_t *v, int *ok)
{
    if (!a || !v || json_array_append_new(a, v) != 0) *ok = 0;
}

/* "2 h", "3 d", "30 min" */
static void s_duration(char *buf, size_t size, int64_t ms)
{
    if (ms > 0 && ms % 86400000 == 0)
        snprintf(buf, size, "%lld d", (long long)(ms / 86400000));
    else if (ms > 0 && ms % 3600000 == 0)
        snprintf(buf, size, "%lld h", (long long)(ms / 3600000));
    else if (ms > 0 && ms % 60000 == 0)
        snprintf(buf, size, "%lld min", (long long)(ms / 60000));
    else
        snprintf(buf, size, "%lld s", (long long)(ms / 1000));
}

/* The catalog's own JSON object of matter `code` (for its optional keys), or NULL. */
static json_t *s_matter_json(const struct wh_catalog *cat, const char *code)
{
    json_t *a = cat->json ? json_object_get((json_t *)cat->json, "matters") : NULL;
    size_t i;
    json_t *m;
    json_array_foreach(a, i, m)
    {
        const char *c = json_string_value(json_object_get(m, "code"));
        if (c && strcmp(c, code) == 0) return m;
    }
    return NULL;
}

static const char *s_district_key(const struct wh_catalog *cat, const char *key)
{
    json_t *d = cat->json ? json_object_get((json_t *)cat->json, "district") : NULL;
    return json_string_value(json_object_get(d, key));
}

/* ---- writers --------------------------------------------------------------------------- */

static int s_json_cb(const char *s, size_t len, void *arg)
{
    return open311_buf_append(arg, s, len) == 0 ? 0 : -1;
}

/* XML text: the five entities escaped; characters XML 1.0 forbids (controls but tab, LF and
 * CR, U+FFFE, U+FFFF) become U+FFFD; CR as &#13; so it survives a parser's normalisation. */
static int s_xml_text(struct open311_buf *b, const char *s, size_t len)
{
    size_t start = 0; /* the run s[start..i) needs no escaping: written in one go */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        size_t skip = 1;
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        case '\r': rep = "&#13;"; break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n') {
                rep = "\xEF\xBF\xBD";
            } else if (c == 0xEF && i + 2 < len && (unsigned char)s[i + 1] == 0xBF &&
                       ((unsigned char)s[i + 2] == 0xBE || (unsigned char)s[i + 2] == 0xBF)) {
                rep = "\xEF\xBF\xBD";
                skip = 3;
            }
        }
        if (!rep) continue;
        if (open311_buf_append(b, s + start, i - start) || open311_buf_append(b, rep, strlen(rep)))
            return WH_ENOMEM;
        i += skip - 1;
        start = i + 1;
    }
    return open311_buf_append(b, s + start, len - start);
}

static const char *s_item_name(const char *array_name)
{
    static const char *const map[][2] = {
        {"endpoints", "endpoint"},       {"formats", "format"}, {"jurisdictions", "jurisdiction"},
        {"attributes", "attribute"},     {"values", "value"},   {"services", "service"},
        {"service_requests", "request"}, {"errors", "error"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(array_name, map[i][0]) == 0) return map[i][1];
    return "item";
}

static int s_xml_value(struct open311_buf *b, const char *name, json_t *v)
{
    int rc = 0;
    size_t nlen = strlen(name);
    if ((rc = open311_buf_append(b, "<", 1)) || (rc = open311_buf_append(b, name, nlen)) ||
        (rc = open311_buf_append(b, ">", 1)))
        return rc;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *child;
        json_object_foreach(v, key, child)
        {
            if ((rc = s_xml_value(b, key, child))) return rc;
        }
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *child;
        const char *item = s_item_name(name);
        json_array_foreach(v, i, child)
        {
            if ((rc = s_xml_value(b, item, child))) return rc;
        }
        break;
    }
    case JSON_STRING: rc = s_xml_text(b, json_string_value(v), json_string_length(v)); break;
    case JSON_TRUE: rc = open311_buf_append(b, "true", 4); break;
    case JSON_FALSE: rc = open311_buf_append(b, "false", 5); break;
    case JSON_INTEGER:
    case JSON_REAL: {
        char num[64];
        int n = json_is_integer(v)
                    ? snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v))
                    : snprintf(num, sizeof num, "%.10g", json_real_value(v));
        rc = open311_buf_append(b, num, (size_t)n);
        break;
    }
    case JSON_NULL: break;
    }
    if (rc || (rc = open311_buf_append(b, "</", 2)) || (rc = open311_buf_append(b, name, nlen)) ||
        (rc = open311_buf_append(b, ">", 1)))
        return rc;
    return 0;
}

/* Writes `doc` (consumed) as JSON or as XML under <root>; WH_ENOMEM when `ok` is 0 (a piece
 * of the tree could not be built) or the buffer could not grow. */
static int s_emit(struct open311_buf *out, enum open311_format f, const char *root, json_t *doc,
                  int ok)
{
    int rc = WH_ENOMEM;
    if (!doc || !ok) goto out;
    if (f == OPEN311_XML) {
        static const char decl[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";
        if (open311_buf_append(out, decl, sizeof decl - 1) || s_xml_value(out, root, doc) ||
            open311_buf_append(out, "\n", 1))
            goto out;
    } else {
        if (json_dump_callback(doc, s_json_cb, out, JSON_COMPACT | JSON_REAL_PRECISION(10)))
            goto out;
    }
    rc = 0;
out:
    json_decref(doc);
    return rc;
}

/* ---- documents ------------------------------------------------------------------------- */

int open311_render_discovery(struct open311_buf *out, enum open311_format f,
                             const struct wh_catalog *cat, const struct open311_site *site)
{
    int ok = 1;
    const char *contact = site->contact ? site->contact : s_district_key(cat, "contact");
    const char *key_service =
        site->key_service ? site->key_service : s_district_key(cat, "key_service");
    json_t *doc = json_object(), *endpoints = json_array(), *ep = json_object(),
           *formats = json_array();
    s_set(doc, "changeset", s_time(site->changeset_ms), &ok);
    s_set(doc, "contact", s_str(contact ? contact : cat->district_name), &ok);
    if (key_service) s_set(doc, "key_service", s_str(key_service), &ok);
    s_set(ep, "specification", json_string(OPEN311_SPECIFICATION), &ok);
    s_set(ep, "url", s_str(site->url), &ok);
    s_set(ep, "changeset", s_time(site->changeset_ms), &ok);
    s_set(ep, "type", json_string("production"), &ok);
    s_push(formats, json_string("application/json"), &ok);
    s_push(formats, json_string("text/xml"), &ok);
    s_set(ep, "formats", formats, &ok);
    s_push(endpoints, ep, &ok);
    s_set(doc, "endpoints", endpoints, &ok);
    if (site->n_jurisdictions) {
        json_t *jl = json_array();
        for (size_t i = 0; i < site->n_jurisdictions; i++) {
            const struct wh_catalog *c = site->jurisdictions[i];
            json_t *j = json_object();
            s_set(j, "jurisdiction_id", s_str(c->district_code), &ok);
            s_set(j, "name", s_str(c->district_name), &ok);
            s_push(jl, j, &ok);
        }
        s_set(doc, "jurisdictions", jl, &ok);
    }
    return s_emit(out, f, "discovery", doc, ok);
}

/* The departments of `m` by name, joined by `sep`. */
static void s_departments(char *buf, size_t size, const struct wh_matter *m, const char *sep)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < m->n_departments && used < size; i++) {
        int n = wh_snprintf_utf8(buf + used, size - used, "%s%s", i ? sep : "",
                                 m->departments[i]->name);
        if (n < 0) break;
        used += (size_t)n;
    }
}

static json_t *s_service(const struct wh_catalog *cat, const struct wh_matter *m, int *ok)
{
    const struct wh_whistle_rule *rule = &cat->whistles[m->whistle];
    json_t *mj = s_matter_json(cat, m->code);
    const char *desc = json_string_value(json_object_get(mj, "description"));
    json_t *kw = json_object_get(mj, "keywords");
    char depts[1024], text[2048], keywords[1024], ci[32], re[32];
    s_departments(depts, sizeof depts, m, "、");
    s_duration(ci, sizeof ci, rule->checkin_ms);
    s_duration(re, sizeof re, rule->resolve_ms);
    if (!desc) {
        wh_snprintf_utf8(text, sizeof text,
                         "%s: %s (%s), led by the %s with %s; departments check in within %s, "
                         "resolved within %s",
                         m->name, rule->name, wh_whistle_name(m->whistle),
                         m->lead_community ? "community" : "township or street",
                         m->n_departments ? depts : "no department", ci, re);
        desc = text;
    }
    if (json_is_string(kw)) {
        wh_snprintf_utf8(keywords, sizeof keywords, "%s", json_string_value(kw));
    } else if (json_is_array(kw)) {
        size_t i, used = 0;
        json_t *k;
        keywords[0] = '\0';
        json_array_foreach(kw, i, k)
        {
            if (!json_is_string(k) || used >= sizeof keywords) continue;
            int n = wh_snprintf_utf8(keywords + used, sizeof keywords - used, "%s%s",
                                     used ? ", " : "", json_string_value(k));
            if (n > 0) used += (size_t)n;
        }
    } else {
        s_departments(depts, sizeof depts, m, ", ");
        wh_snprintf_utf8(keywords, sizeof keywords, "%s, %s%s%s", m->name, rule->name,
                         m->n_departments ? ", " : "", depts);
    }
    json_t *s = json_object();
    s_set(s, "service_code", s_str(m->code), ok);
    s_set(s, "service_name", s_str(m->name), ok);
    s_set(s, "description", s_str(desc), ok);
    s_set(s, "metadata", json_true(), ok);
    s_set(s, "type", json_string("realtime"), ok);
    s_set(s, "keywords", s_str(keywords), ok);
    s_set(s, "group", s_str(rule->name), ok);
    return s;
}

int open311_render_services(struct open311_buf *out, enum open311_format f,
                            const struct wh_catalog *cat)
{
    int ok = 1;
    json_t *doc = json_array();
    for (size_t i = 0; i < cat->n_matters; i++)
        s_push(doc, s_service(cat, &cat->matters[i], &ok), &ok);
    return s_emit(out, f, "services", doc, ok);
}

static json_t *s_attribute(const char *code, const char *datatype, int required, int order,
                           const char *datatype_description, const char *description, int *ok)
{
    json_t *a = json_object();
    s_set(a, "variable", json_true(), ok);
    s_set(a, "code", json_string(code), ok);
    s_set(a, "datatype", json_string(datatype), ok);
    s_set(a, "required", json_boolean(required), ok);
    s_set(a, "datatype_description", s_str(datatype_description), ok);
    s_set(a, "order", json_integer(order), ok);
    s_set(a, "description", s_str(description), ok);
    return a;
}

static json_t *s_value(const char *key, const char *name, int *ok)
{
    json_t *v = json_object();
    s_set(v, "key", s_str(key), ok);
    s_set(v, "name", s_str(name), ok);
    return v;
}

int open311_render_service_definition(struct open311_buf *out, enum open311_format f,
                                      const struct wh_catalog *cat, const char *service_code,
                                      struct open311_error *err)
{
    const struct wh_matter *m = service_code ? wh_catalog_matter(cat, service_code) : NULL;
    if (!m)
        return open311_error_set(err, 404, "service_code",
                                 "service_code: no service '%s' (services.json lists them)",
                                 service_code ? service_code : "");
    int ok = 1;
    json_t *doc = json_object(), *attrs = json_array(), *values = json_array();
    s_set(doc, "service_code", s_str(m->code), &ok);
    json_t *grid =
        s_attribute("grid", "singlevaluelist", 1, 1, "one of the grid codes listed in values",
                    "网格 grid: where the problem is", &ok);
    for (size_t i = 0; i < cat->n_grids; i++) {
        const struct wh_grid *g = &cat->grids[i];
        char name[256];
        wh_snprintf_utf8(name, sizeof name, "%s %s (%s)", g->code, g->community->name,
                         g->community->unit->name);
        s_push(values, s_value(g->code, name, &ok), &ok);
    }
    s_set(grid, "values", values, &ok);
    s_push(attrs, grid, &ok);
    if (m->lead_community) {
        /* a task handed down to the community (社区事务准入): Report.task */
        json_t *affair = s_attribute(
            "task_affair", "singlevaluelist", 0, 2,
            "one of the admitted community affairs listed in values, or empty for an unlisted "
            "task",
            "社区事务准入: the admitted community affair this task is (an unlisted task needs "
            "task_authority_ref and task_funding_ref)",
            &ok);
        json_t *avalues = json_array();
        for (size_t i = 0; i < cat->n_affairs; i++)
            s_push(avalues, s_value(cat->affairs[i].code, cat->affairs[i].name, &ok), &ok);
        s_set(affair, "values", avalues, &ok);
        s_push(attrs, affair, &ok);
        s_push(attrs,
               s_attribute("task_authority_ref", "string", 0, 3, "text, at most 256 bytes",
                           "权随责走: the document that grants the authority (required for an "
                           "unlisted task)",
                           &ok),
               &ok);
        s_push(attrs,
               s_attribute("task_funding_ref", "string", 0, 4, "text, at most 256 bytes",
                           "费随事转: the budget line that funds it (required for an unlisted "
                           "task)",
                           &ok),
               &ok);
        s_push(attrs,
               s_attribute("task_issuer", "string", 0, 5, "a department or unit code",
                           "who hands the task down (required with any task_ attribute)", &ok),
               &ok);
    }
    s_set(doc, "attributes", attrs, &ok);
    return s_emit(out, f, "service_definition", doc, ok);
}

/* "快捷哨 (QUICK): departments check in within 2 h; resolved within 3 d" */
static void s_notice(char *buf, size_t size, const struct wh_catalog *cat, int whistle)
{
    if (whistle < WHISTLE__V1__WHISTLE__QUICK || whistle > WHISTLE__V1__WHISTLE__TOUGH) {
        buf[0] = '\0';
        return;
    }
    const struct wh_whistle_rule *rule = &cat->whistles[whistle];
    char ci[32], re[32];
    s_duration(ci, sizeof ci, rule->checkin_ms);
    s_duration(re, sizeof re, rule->resolve_ms);
    wh_snprintf_utf8(buf, size, "%s (%s): departments check in within %s; resolved within %s",
                     rule->name, wh_whistle_name(whistle), ci, re);
}

static json_t *s_request(const struct wh_catalog *cat, const struct open311_request_item *it,
                         int *ok)
{
    const Whistle__V1__Case *c = it->c;
    const Whistle__V1__Report *r = c->report;
    const char *matter_code = r && r->matter ? r->matter : "";
    const struct wh_matter *m = wh_catalog_matter(cat, matter_code);
    const Whistle__V1__CommunityTask *task = r ? r->task : NULL;
    const struct wh_affair *affair =
        task && task->affair && task->affair[0] ? wh_catalog_affair(cat, task->affair) : NULL;
    char notes[1024], agency[1024], notice[256];
    const Whistle__V1__HistoryEntry *h = it->last;
    if (h)
        wh_snprintf_utf8(notes, sizeof notes, "%s by %s%s%s%s: %s -> %s%s%s",
                         wh_action_name(h->action), h->actor, h->department[0] ? " (" : "",
                         h->department, h->department[0] ? ")" : "", wh_state_name(h->from_state),
                         wh_state_name(h->to_state), h->note[0] ? ": " : "", h->note);
    else
        wh_snprintf_utf8(notes, sizeof notes, "%s", wh_state_name(c->state));
    /* agency_responsible: the lead unit (or community), then every department still on it */
    const struct wh_unit *u = wh_catalog_unit(cat, c->lead_unit);
    const struct wh_community *cm = u ? NULL : wh_catalog_community(cat, c->lead_unit);
    size_t used = 0;
    int n = wh_snprintf_utf8(agency, sizeof agency, "%s",
                             u    ? u->name
                             : cm ? cm->name
                                  : c->lead_unit);
    used = n > 0 ? (size_t)n : 0;
    for (size_t i = 0, k = 0; i < c->n_assignments && used < sizeof agency; i++) {
        const Whistle__V1__Assignment *a = c->assignments[i];
        if (a->state == WHISTLE__V1__ASSIGNMENT_STATE__RELEASED) continue;
        const struct wh_department *d = wh_catalog_department(cat, a->department);
        n = wh_snprintf_utf8(agency + used, sizeof agency - used, "%s%s",
                             k++    ? ", "
                             : used ? "; "
                                    : "",
                             d ? d->name : a->department);
        if (n > 0) used += (size_t)n;
    }
    s_notice(notice, sizeof notice, cat, c->whistle);
    const Whistle__V1__Geo *geo = r ? r->geo : NULL;
    const char *addr = r && r->location ? r->location : "";
    const char *service_name = m ? m->name : affair ? affair->name : matter_code;

    json_t *o = json_object();
    s_set(o, "service_request_id", s_str(c->id), ok);
    s_set(o, "status", json_string(open311_status(c->state)), ok);
    s_set(o, "status_notes", s_str(notes), ok);
    s_set(o, "service_name", s_str(service_name), ok);
    s_set(o, "service_code", s_str(matter_code), ok);
    s_set(o, "description", s_str(r ? r->description : ""), ok);
    s_set(o, "agency_responsible", s_str(agency), ok);
    s_set(o, "service_notice", notice[0] ? s_str(notice) : json_null(), ok);
    s_set(o, "requested_datetime", s_time(c->created_at_ms), ok);
    s_set(o, "updated_datetime", s_time(c->updated_at_ms), ok);
    s_set(o, "expected_datetime", s_time(c->resolve_deadline_ms), ok);
    s_set(o, "address", addr[0] ? s_str(addr) : json_null(), ok);
    s_set(o, "address_id", json_null(), ok);
    s_set(o, "zipcode", json_null(), ok);
    s_set(o, "lat", geo ? json_real(geo->lat) : json_null(), ok);
    s_set(o, "long", geo ? json_real(geo->lon) : json_null(), ok);
    s_set(o, "media_url", s_str(r && r->media_url ? r->media_url : ""), ok);
    return o;
}

int open311_render_requests(struct open311_buf *out, enum open311_format f,
                            const struct wh_catalog *cat, const struct open311_request_item *items,
                            size_t n)
{
    int ok = 1;
    json_t *doc = json_array();
    for (size_t i = 0; i < n; i++)
        if (items[i].c) s_push(doc, s_request(cat, &items[i], &ok), &ok);
    return s_emit(out, f, "service_requests", doc, ok);
}

int open311_render_case_reply(struct open311_buf *out, enum open311_format f,
                              const struct wh_catalog *cat, const Whistle__V1__CaseReply *r)
{
    struct open311_request_item it = {
        .c = r ? r->case_ : NULL,
        .last = r && r->n_history ? r->history[r->n_history - 1] : NULL,
    };
    return open311_render_requests(out, f, cat, &it, it.c ? 1 : 0);
}

int open311_render_submitted(struct open311_buf *out, enum open311_format f,
                             const struct wh_catalog *cat, const char *case_id,
                             const char *service_code)
{
    int ok = 1;
    const struct wh_matter *m = service_code ? wh_catalog_matter(cat, service_code) : NULL;
    char notice[256] = "";
    if (m) s_notice(notice, sizeof notice, cat, m->whistle);
    json_t *doc = json_array(), *o = json_object();
    s_set(o, "service_request_id", s_str(case_id), &ok);
    s_set(o, "service_notice", notice[0] ? s_str(notice) : json_null(), &ok);
    s_set(o, "account_id", json_null(), &ok);
    s_push(doc, o, &ok);
    return s_emit(out, f, "service_requests", doc, ok);
}

int open311_render_token(struct open311_buf *out, enum open311_format f, const char *token,
                         const char *case_id)
{
    int ok = 1;
    json_t *doc = json_array(), *o = json_object();
    s_set(o, "service_request_id", s_str(case_id), &ok);
    s_set(o, "token", s_str(token), &ok);
    s_push(doc, o, &ok);
    return s_emit(out, f, "service_requests", doc, ok);
}

int open311_render_error(struct open311_buf *out, enum open311_format f,
                         const struct open311_error *err)
{
    int ok = 1;
    json_t *doc = json_array(), *o = json_object();
    s_set(o, "code", json_integer(err->status), &ok);
    s_set(o, "description", s_str(err->description), &ok);
    s_push(doc, o, &ok);
    return s_emit(out, f, "errors", doc, ok);
}
