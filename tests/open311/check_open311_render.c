/* check_open311_render.c: every Open311 document, in both formats. The XML is read back by a
 * real parser (libxml2: a document that is not well formed is NULL) and each element's
 * children are compared, in order, with the GeoReport v2 element names; the JSON is read back
 * by jansson and its keys compared the same way. Datetimes are W3C with a "+hh:mm" zone. */
#include "open311.h"
#include "wh_test.h"
#include "whistle/error.h"
#include <check.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct wh_catalog *s_load(const char *rel)
{
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/%s", WHISTLE_SOURCE_DIR, rel);
    struct wh_catalog *c = wh_catalog_load(path, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    return c;
}

/* A fixed zone east of UTC, so the offsets below are known (POSIX TZ: sign inverted). */
static void s_zone(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

/* ---- readers of what was rendered ------------------------------------------------------- */

static xmlDocPtr s_xml(const struct open311_buf *b)
{
    ck_assert_ptr_nonnull(b->data);
    ck_assert_msg(strncmp(b->data, "<?xml version=\"1.0\" encoding=\"utf-8\"?>", 38) == 0,
                  "XML declaration: %.60s", b->data);
    xmlDocPtr d = xmlReadMemory(b->data, (int)b->len, "open311.xml", "UTF-8",
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    ck_assert_msg(d != NULL, "not well-formed XML: %s", b->data);
    return d;
}

static xmlNodePtr s_child(xmlNodePtr n, const char *name)
{
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0) return c;
    ck_abort_msg("no <%s> in <%s>", name, n ? (const char *)n->name : "?");
    return NULL;
}

/* The element children of `n` are exactly `names` (NULL-terminated), in order. */
static void s_xml_fields(xmlNodePtr n, const char *const *names)
{
    size_t i = 0;
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        ck_assert_msg(names[i] != NULL, "<%s> has an extra <%s>", n->name, c->name);
        ck_assert_str_eq((const char *)c->name, names[i]);
        i++;
    }
    ck_assert_msg(names[i] == NULL, "<%s> lacks <%s>", n->name, names[i]);
}

/* The text of child `name` of `n` (static buffer). */
static const char *s_xml_text(xmlNodePtr n, const char *name)
{
    static char buf[8192];
    xmlChar *t = xmlNodeGetContent(s_child(n, name));
    snprintf(buf, sizeof buf, "%s", t ? (const char *)t : "");
    xmlFree(t);
    return buf;
}

static json_t *s_json(const struct open311_buf *b)
{
    json_error_t e;
    json_t *j = json_loadb(b->data, b->len, 0, &e);
    ck_assert_msg(j != NULL, "not JSON (%s): %s", e.text, b->data);
    return j;
}

static void s_json_fields(json_t *o, const char *const *names)
{
    ck_assert(json_is_object(o));
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        ck_assert_msg(names[i] != NULL, "extra key %s", k);
        ck_assert_str_eq(k, names[i]);
        i++;
    }
    ck_assert_msg(names[i] == NULL, "lacks key %s", names[i]);
}

static void s_render(struct open311_buf *b)
{
    open311_buf_free(b);
}

/* ---- the spec's element names ----------------------------------------------------------- */

static const char *const s_discovery[] = {"changeset", "contact", "endpoints", NULL};
static const char *const s_discovery_key[] = {"changeset", "contact", "key_service", "endpoints",
                                              NULL};
static const char *const s_endpoint[] = {"specification", "url",     "changeset",
                                         "type",          "formats", NULL};
static const char *const s_service_fields[] = {
    "service_code", "service_name", "description", "metadata", "type", "keywords", "group", NULL};
static const char *const s_definition[] = {"service_code", "attributes", NULL};
static const char *const s_attribute_list[] = {
    "variable", "code",        "datatype", "required", "datatype_description",
    "order",    "description", "values",   NULL};
static const char *const s_attribute_text[] = {
    "variable", "code",        "datatype", "required", "datatype_description",
    "order",    "description", NULL};
static const char *const s_value[] = {"key", "name", NULL};
static const char *const s_request[] = {"service_request_id",
                                        "status",
                                        "status_notes",
                                        "service_name",
                                        "service_code",
                                        "description",
                                        "agency_responsible",
                                        "service_notice",
                                        "requested_datetime",
                                        "updated_datetime",
                                        "expected_datetime",
                                        "address",
                                        "address_id",
                                        "zipcode",
                                        "lat",
                                        "long",
                                        "media_url",
                                        NULL};
static const char *const s_submitted[] = {"service_request_id", "service_notice", "account_id",
                                          NULL};
static const char *const s_token[] = {"service_request_id", "token", NULL};
static const char *const s_error[] = {"code", "description", NULL};

/* ---- tests ------------------------------------------------------------------------------ */

START_TEST(time_format_has_colon_zone)
{
    char t[40];
    s_zone("XXX-08:00"); /* UTC+8 */
    ck_assert_int_eq(open311_time_format(t, sizeof t, 0), 0);
    ck_assert_str_eq(t, "1970-01-01T08:00:00+08:00");
    ck_assert_int_eq(open311_time_format(t, sizeof t, 1777600800123LL), 0);
    ck_assert_str_eq(t, "2026-05-01T10:00:00+08:00");
    s_zone("YYY+05:30"); /* UTC-5:30 */
    ck_assert_int_eq(open311_time_format(t, sizeof t, 0), 0);
    ck_assert_str_eq(t, "1969-12-31T18:30:00-05:30");
    ck_assert_int_eq(open311_time_format(t, 10, 0), WH_EFIELD);
    s_zone("XXX-08:00");
}
END_TEST

static const struct {
    const char *s;
    int ok;
    int64_t ms;
} s_times[] = {
    {"2026-05-01T10:00:00+08:00", 1, 1777600800000LL},
    {"2026-05-01T02:00:00Z", 1, 1777600800000LL},
    {"2026-05-01T02:00Z", 1, 1777600800000LL},
    {"2026-05-01T01:30:00.250-00:30", 1, 1777600800250LL},
    {"2026-05-01", 1, 1777564800000LL}, /* midnight at +08:00 */
    {"2026-05-01T10:00:00", 0, 0},      /* a time needs its zone */
    {"2026-05-01T10:00:00+0800", 0, 0}, /* W3C writes the colon */
    {"2026-02-30", 0, 0},
    {"2026-13-01", 0, 0},
    {"2026-05-01T24:00:00Z", 0, 0},
    {"2026-05-01T10:00:00Zjunk", 0, 0},
    {"tomorrow", 0, 0},
    {"", 0, 0},
};

START_TEST(time_parse_table)
{
    s_zone("XXX-08:00");
    int64_t ms = -1;
    int rc = open311_time_parse(s_times[_i].s, &ms);
    ck_assert_msg((rc == 0) == s_times[_i].ok, "%s: rc %d", s_times[_i].s, rc);
    if (s_times[_i].ok) ck_assert_int_eq(ms, s_times[_i].ms);
}
END_TEST

START_TEST(discovery_both_formats)
{
    s_zone("XXX-08:00");
    struct wh_catalog *cat = s_load("tests/data/catalog-small.json");
    struct open311_site site = {.url = "http://127.0.0.1:7080/open311/v2/",
                                .changeset_ms = 1777600800000LL};
    struct open311_buf b = {0};
    ck_assert_int_eq(open311_render_discovery(&b, OPEN311_XML, cat, &site), 0);
    xmlDocPtr d = s_xml(&b);
    xmlNodePtr root = xmlDocGetRootElement(d);
    ck_assert_str_eq((const char *)root->name, "discovery");
    s_xml_fields(root, s_discovery);
    ck_assert_str_eq(s_xml_text(root, "changeset"), "2026-05-01T10:00:00+08:00");
    ck_assert_str_eq(s_xml_text(root, "contact"), "测试区");
    xmlNodePtr ep = s_child(s_child(root, "endpoints"), "endpoint");
    s_xml_fields(ep, s_endpoint);
    ck_assert_str_eq(s_xml_text(ep, "specification"), "http://wiki.open311.org/GeoReport_v2");
    ck_assert_str_eq(s_xml_text(ep, "url"), site.url);
    ck_assert_str_eq(s_xml_text(ep, "type"), "production");
    static const char *const formats[] = {"format", "format", NULL};
    s_xml_fields(s_child(ep, "formats"), formats);
    xmlFreeDoc(d);
    s_render(&b);

    site.contact = "hotline 12345";
    site.key_service = "ask the district office";
    ck_assert_int_eq(open311_render_discovery(&b, OPEN311_JSON, cat, &site), 0);
    json_t *j = s_json(&b);
    s_json_fields(j, s_discovery_key);
    ck_assert_str_eq(json_string_value(json_object_get(j, "contact")), "hotline 12345");
    json_t *jep = json_array_get(json_object_get(j, "endpoints"), 0);
    s_json_fields(jep, s_endpoint);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(jep, "formats"), 0)),
                     "application/json");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(jep, "formats"), 1)),
                     "text/xml");
    json_decref(j);
    s_render(&b);
    wh_catalog_destroy(&cat);
}
END_TEST

START_TEST(services_one_per_matter)
{
    struct wh_catalog *cat = s_load("tests/data/catalog-small.json");
    struct open311_buf b = {0};
    ck_assert_int_eq(open311_render_services(&b, OPEN311_XML, cat), 0);
    xmlDocPtr d = s_xml(&b);
    xmlNodePtr root = xmlDocGetRootElement(d);
    ck_assert_str_eq((const char *)root->name, "services");
    size_t n = 0;
    for (xmlNodePtr c = root->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        ck_assert_str_eq((const char *)c->name, "service");
        s_xml_fields(c, s_service_fields);
        ck_assert_str_eq(s_xml_text(c, "service_code"), cat->matters[n].code);
        ck_assert_str_eq(s_xml_text(c, "service_name"), cat->matters[n].name);
        ck_assert_str_eq(s_xml_text(c, "metadata"), "true");
        ck_assert_str_eq(s_xml_text(c, "type"), "realtime");
        ck_assert_str_eq(s_xml_text(c, "group"), cat->whistles[cat->matters[n].whistle].name);
        n++;
    }
    ck_assert_uint_eq(n, cat->n_matters);
    xmlFreeDoc(d);
    s_render(&b);

    ck_assert_int_eq(open311_render_services(&b, OPEN311_JSON, cat), 0);
    json_t *j = s_json(&b);
    ck_assert_uint_eq(json_array_size(j), cat->n_matters);
    json_t *m2 = json_array_get(j, 1);
    s_json_fields(m2, s_service_fields);
    ck_assert_str_eq(json_string_value(json_object_get(m2, "service_code")), "m2");
    ck_assert(json_is_true(json_object_get(m2, "metadata")));
    ck_assert_str_eq(json_string_value(json_object_get(m2, "group")), "快捷哨");
    /* derived from the catalog: the departments are keywords, the deadlines in the text */
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(m2, "keywords")), "市场监管"));
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(m2, "description")), "within 1 min"));
    json_decref(j);
    s_render(&b);
    wh_catalog_destroy(&cat);
}
END_TEST

START_TEST(definition_grid_and_task_attributes)
{
    struct wh_catalog *cat = s_load("deploy/catalog/default.json");
    struct open311_buf b = {0};
    struct open311_error err;
    /* m01 is led by the township: the grid alone */
    ck_assert_int_eq(open311_render_service_definition(&b, OPEN311_XML, cat, "m01", &err), 0);
    xmlDocPtr d = s_xml(&b);
    xmlNodePtr root = xmlDocGetRootElement(d);
    ck_assert_str_eq((const char *)root->name, "service_definition");
    s_xml_fields(root, s_definition);
    xmlNodePtr attrs = s_child(root, "attributes");
    static const char *const one[] = {"attribute", NULL};
    s_xml_fields(attrs, one);
    xmlNodePtr grid = s_child(attrs, "attribute");
    s_xml_fields(grid, s_attribute_list);
    ck_assert_str_eq(s_xml_text(grid, "code"), "grid");
    ck_assert_str_eq(s_xml_text(grid, "datatype"), "singlevaluelist");
    ck_assert_str_eq(s_xml_text(grid, "required"), "true");
    size_t n = 0;
    for (xmlNodePtr v = s_child(grid, "values")->children; v; v = v->next) {
        if (v->type != XML_ELEMENT_NODE) continue;
        ck_assert_str_eq((const char *)v->name, "value");
        s_xml_fields(v, s_value);
        ck_assert_str_eq(s_xml_text(v, "key"), cat->grids[n].code);
        n++;
    }
    ck_assert_uint_eq(n, cat->n_grids);
    xmlFreeDoc(d);
    s_render(&b);

    /* m08 is led by the community: the task handed down can be described too */
    ck_assert_int_eq(open311_render_service_definition(&b, OPEN311_JSON, cat, "m08", &err), 0);
    json_t *j = s_json(&b);
    s_json_fields(j, s_definition);
    json_t *a = json_object_get(j, "attributes");
    ck_assert_uint_eq(json_array_size(a), 5);
    static const char *const codes[] = {"grid", "task_affair", "task_authority_ref",
                                        "task_funding_ref", "task_issuer"};
    for (size_t i = 0; i < 5; i++) {
        json_t *at = json_array_get(a, i);
        s_json_fields(at, i < 2 ? s_attribute_list : s_attribute_text);
        ck_assert_str_eq(json_string_value(json_object_get(at, "code")), codes[i]);
        ck_assert_int_eq(json_integer_value(json_object_get(at, "order")), (json_int_t)i + 1);
        ck_assert(json_is_boolean(json_object_get(at, "required")));
    }
    ck_assert_uint_eq(json_array_size(json_object_get(json_array_get(a, 1), "values")),
                      cat->n_affairs);
    json_decref(j);
    s_render(&b);

    /* an unknown code: nothing written, a 404 naming service_code */
    ck_assert_int_eq(open311_render_service_definition(&b, OPEN311_JSON, cat, "m99", &err), -404);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_int_eq(err.status, 404);
    ck_assert_str_eq(err.field, "service_code");
    ck_assert_ptr_nonnull(strstr(err.description, "'m99'"));
    wh_catalog_destroy(&cat);
}
END_TEST

/* A case as tracking holds it, IN_PROGRESS with two departments (one released). */
struct s_case {
    Whistle__V1__Case c;
    Whistle__V1__Report r;
    Whistle__V1__Geo g;
    Whistle__V1__Assignment a[3];
    Whistle__V1__Assignment *ap[3];
    Whistle__V1__HistoryEntry h;
};

static void s_case_init(struct s_case *k)
{
    whistle__v1__case__init(&k->c);
    whistle__v1__report__init(&k->r);
    k->r.grid = "g1";
    k->r.matter = "m2";
    k->r.description = "摊贩 <占道> & \"烟\" 'x'\r\nline\x01";
    k->r.reporter = "a@example.org";
    k->r.location = "人民路 12 号";
    whistle__v1__geo__init(&k->g);
    k->g.lat = 30.5;
    k->g.lon = 117.05;
    k->r.geo = &k->g;
    k->r.media_url = "https://photos.example/42.jpg";
    k->r.source = "app";
    k->c.id = "C00000042";
    k->c.report = &k->r;
    k->c.state = WHISTLE__V1__CASE_STATE__IN_PROGRESS;
    k->c.whistle = WHISTLE__V1__WHISTLE__QUICK;
    k->c.lead_unit = "north";
    k->c.community = "north-01";
    static const char *const depts[] = {"cg", "scjg", "cgj"};
    for (int i = 0; i < 3; i++) {
        whistle__v1__assignment__init(&k->a[i]);
        k->a[i].department = (char *)depts[i];
        k->a[i].state = i == 2 ? WHISTLE__V1__ASSIGNMENT_STATE__RELEASED
                               : WHISTLE__V1__ASSIGNMENT_STATE__CHECKED_IN;
        k->ap[i] = &k->a[i];
    }
    k->c.assignments = k->ap;
    k->c.n_assignments = 3;
    k->c.created_at_ms = 1777600800000LL;
    k->c.updated_at_ms = 1777600860000LL;
    k->c.resolve_deadline_ms = 1777601400000LL;
    whistle__v1__history_entry__init(&k->h);
    k->h.action = WHISTLE__V1__ACTION__CHECKIN;
    k->h.actor = "cg";
    k->h.department = "cg";
    k->h.from_state = WHISTLE__V1__CASE_STATE__DISPATCHED;
    k->h.to_state = WHISTLE__V1__CASE_STATE__IN_PROGRESS;
    k->h.note = "on site";
}

START_TEST(request_record_xml)
{
    s_zone("XXX-08:00");
    struct wh_catalog *cat = s_load("tests/data/catalog-small.json");
    struct s_case k;
    s_case_init(&k);
    Whistle__V1__HistoryEntry *hist[] = {&k.h};
    Whistle__V1__CaseReply cr = WHISTLE__V1__CASE_REPLY__INIT;
    cr.case_ = &k.c;
    cr.history = hist;
    cr.n_history = 1;
    struct open311_buf b = {0};
    ck_assert_int_eq(open311_render_case_reply(&b, OPEN311_XML, cat, &cr), 0);
    xmlDocPtr d = s_xml(&b);
    xmlNodePtr root = xmlDocGetRootElement(d);
    ck_assert_str_eq((const char *)root->name, "service_requests");
    static const char *const one[] = {"request", NULL};
    s_xml_fields(root, one);
    xmlNodePtr r = s_child(root, "request");
    s_xml_fields(r, s_request);
    ck_assert_str_eq(s_xml_text(r, "service_request_id"), "C00000042");
    ck_assert_str_eq(s_xml_text(r, "status"), "open");
    ck_assert_str_eq(s_xml_text(r, "status_notes"),
                     "CHECKIN by cg (cg): DISPATCHED -> IN_PROGRESS: on site");
    ck_assert_str_eq(s_xml_text(r, "service_name"), "食品摊贩投诉");
    ck_assert_str_eq(s_xml_text(r, "service_code"), "m2");
    /* markup characters escaped, CR kept, a control character replaced: read back exactly */
    ck_assert_str_eq(s_xml_text(r, "description"), "摊贩 <占道> & \"烟\" 'x'\r\nline\xEF\xBF\xBD");
    ck_assert_str_eq(s_xml_text(r, "agency_responsible"), "北乡; 城管, 市场监管");
    ck_assert_ptr_nonnull(strstr(s_xml_text(r, "service_notice"), "快捷哨"));
    ck_assert_str_eq(s_xml_text(r, "requested_datetime"), "2026-05-01T10:00:00+08:00");
    ck_assert_str_eq(s_xml_text(r, "updated_datetime"), "2026-05-01T10:01:00+08:00");
    ck_assert_str_eq(s_xml_text(r, "expected_datetime"), "2026-05-01T10:10:00+08:00");
    ck_assert_str_eq(s_xml_text(r, "address"), "人民路 12 号");
    ck_assert_str_eq(s_xml_text(r, "lat"), "30.5");
    ck_assert_str_eq(s_xml_text(r, "long"), "117.05");
    ck_assert_str_eq(s_xml_text(r, "media_url"), "https://photos.example/42.jpg");
    xmlFreeDoc(d);
    s_render(&b);
    wh_catalog_destroy(&cat);
}
END_TEST

/* status from the state: closed = CLOSED, REFUSED; all else open */
static const struct {
    int state;
    const char *status;
} s_states[] = {
    {WHISTLE__V1__CASE_STATE__REPORTED, "open"},    {WHISTLE__V1__CASE_STATE__DISPATCHED, "open"},
    {WHISTLE__V1__CASE_STATE__IN_PROGRESS, "open"}, {WHISTLE__V1__CASE_STATE__RESOLVED, "open"},
    {WHISTLE__V1__CASE_STATE__REOPENED, "open"},    {WHISTLE__V1__CASE_STATE__CLOSED, "closed"},
    {WHISTLE__V1__CASE_STATE__REFUSED, "closed"},
};

START_TEST(request_list_json)
{
    s_zone("XXX-08:00");
    struct wh_catalog *cat = s_load("tests/data/catalog-small.json");
    struct s_case k[2];
    s_case_init(&k[0]);
    s_case_init(&k[1]);
    k[0].c.state = s_states[_i].state;
    k[1].r.location = ""; /* coordinates alone */
    k[1].g.lat = 31.25;
    k[1].g.lon = -0.5;
    k[1].c.resolve_deadline_ms = 0;     /* no deadline: null */
    struct open311_request_item items[] = {{&k[0].c, NULL}, {&k[1].c, &k[1].h}};
    struct open311_buf b = {0};
    ck_assert_int_eq(open311_render_requests(&b, OPEN311_JSON, cat, items, 2), 0);
    json_t *j = s_json(&b);
    ck_assert_uint_eq(json_array_size(j), 2);
    json_t *r0 = json_array_get(j, 0), *r1 = json_array_get(j, 1);
    s_json_fields(r0, s_request);
    s_json_fields(r1, s_request);
    ck_assert_str_eq(json_string_value(json_object_get(r0, "status")), s_states[_i].status);
    /* no history line known: the state alone */
    ck_assert_str_eq(json_string_value(json_object_get(r0, "status_notes")),
                     wh_state_name(s_states[_i].state));
    ck_assert_str_eq(json_string_value(json_object_get(r0, "expected_datetime")),
                     "2026-05-01T10:10:00+08:00");
    ck_assert(json_is_null(json_object_get(r1, "expected_datetime")));
    ck_assert(json_is_null(json_object_get(r1, "address")));
    ck_assert(json_real_value(json_object_get(r1, "lat")) == 31.25);
    ck_assert(json_real_value(json_object_get(r1, "long")) == -0.5);
    ck_assert_str_eq(json_string_value(json_object_get(r0, "description")), k[0].r.description);
    json_decref(j);
    s_render(&b);
    wh_catalog_destroy(&cat);
}
END_TEST

START_TEST(submitted_token_error)
{
    struct wh_catalog *cat = s_load("tests/data/catalog-small.json");
    struct open311_buf b = {0};
    ck_assert_int_eq(open311_render_submitted(&b, OPEN311_XML, cat, "C00000007", "m3"), 0);
    xmlDocPtr d = s_xml(&b);
    xmlNodePtr root = xmlDocGetRootElement(d);
    ck_assert_str_eq((const char *)root->name, "service_requests");
    xmlNodePtr r = s_child(root, "request");
    s_xml_fields(r, s_submitted);
    ck_assert_str_eq(s_xml_text(r, "service_request_id"), "C00000007");
    ck_assert_ptr_nonnull(strstr(s_xml_text(r, "service_notice"), "应急哨"));
    xmlFreeDoc(d);
    s_render(&b);
    ck_assert_int_eq(open311_render_submitted(&b, OPEN311_JSON, cat, "C00000007", "m3"), 0);
    json_t *j = s_json(&b);
    s_json_fields(json_array_get(j, 0), s_submitted);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "service_request_id")),
                     "C00000007");
    json_decref(j);
    s_render(&b);

    ck_assert_int_eq(open311_render_token(&b, OPEN311_XML, "C00000007", "C00000007"), 0);
    d = s_xml(&b);
    root = xmlDocGetRootElement(d);
    ck_assert_str_eq((const char *)root->name, "service_requests");
    s_xml_fields(s_child(root, "request"), s_token);
    xmlFreeDoc(d);
    s_render(&b);
    ck_assert_int_eq(open311_render_token(&b, OPEN311_JSON, "C00000007", "C00000007"), 0);
    j = s_json(&b);
    s_json_fields(json_array_get(j, 0), s_token);
    json_decref(j);
    s_render(&b);

    struct open311_error err;
    open311_error_set(&err, 400, "attribute[grid]", "attribute[grid]: no grid '<g9>'");
    ck_assert_int_eq(open311_render_error(&b, OPEN311_XML, &err), 0);
    d = s_xml(&b);
    root = xmlDocGetRootElement(d);
    ck_assert_str_eq((const char *)root->name, "errors");
    static const char *const one[] = {"error", NULL};
    s_xml_fields(root, one);
    xmlNodePtr e = s_child(root, "error");
    s_xml_fields(e, s_error);
    ck_assert_str_eq(s_xml_text(e, "code"), "400");
    ck_assert_str_eq(s_xml_text(e, "description"), "attribute[grid]: no grid '<g9>'");
    xmlFreeDoc(d);
    s_render(&b);
    ck_assert_int_eq(open311_render_error(&b, OPEN311_JSON, &err), 0);
    ck_assert_str_eq(b.data,
                     "[{\"code\":400,\"description\":\"attribute[grid]: no grid '<g9>'\"}]");
    s_render(&b);
    wh_catalog_destroy(&cat);
}
END_TEST

static const struct {
    int code;
    const char *field, *message;
    int status;
    const char *o_field, *description;
} s_replies[] = {
    {WH_EFIELD, "report.grid", "report.grid: unknown grid 'g9' (not in the catalog)", 400,
     "attribute[grid]", "attribute[grid]: unknown grid 'g9' (not in the catalog)"},
    {WH_EFORBIDDEN, "report.source", "not yours", 403, "api_key", "api_key: not yours"},
    {WH_ENOTFOUND, "get_case.case_id", "no case C9", 404, "service_request_id",
     "service_request_id: no case C9"},
    {WH_ESTORE, "", "storage failure", 503, "", "storage failure"},
    {WH_EBUSY, "", "", 503, "", "too many unread replies"},
    {WH_ESTATE, "case_action.action", "CLOSED", 409, "case_action.action",
     "case_action.action: CLOSED"},
    {WH_EINTERNAL, "", "oops", 500, "", "oops"},
};

START_TEST(error_from_reply_table)
{
    Whistle__V1__Error e = WHISTLE__V1__ERROR__INIT;
    e.code = s_replies[_i].code;
    e.field = (char *)s_replies[_i].field;
    e.message = (char *)s_replies[_i].message;
    struct open311_error err;
    open311_error_from_reply(&err, &e);
    ck_assert_int_eq(err.status, s_replies[_i].status);
    ck_assert_str_eq(err.field, s_replies[_i].o_field);
    ck_assert_str_eq(err.description, s_replies[_i].description);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("open311 render");
    TCase *tc = tcase_create("render");
    tcase_add_test(tc, time_format_has_colon_zone);
    tcase_add_loop_test(tc, time_parse_table, 0, (int)(sizeof s_times / sizeof s_times[0]));
    tcase_add_test(tc, discovery_both_formats);
    tcase_add_test(tc, services_one_per_matter);
    tcase_add_test(tc, definition_grid_and_task_attributes);
    tcase_add_test(tc, request_record_xml);
    tcase_add_loop_test(tc, request_list_json, 0, (int)(sizeof s_states / sizeof s_states[0]));
    tcase_add_test(tc, submitted_token_error);
    tcase_add_loop_test(tc, error_from_reply_table, 0,
                        (int)(sizeof s_replies / sizeof s_replies[0]));
    suite_add_tcase(s, tc);
    int rc = wh_test_run(s);
    xmlCleanupParser();
    return rc;
}
