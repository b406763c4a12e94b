/* catalog.c: loads the district catalog (JSON, through jansson), resolves and checks every
 * reference, and answers lookups by code (sorted arrays, binary search). */
#include "whistle/catalog.h"
#include "whistle/codec.h"
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <whistle/v1/whistle.pb-c.h>

struct s_ctx {
    char *err;
    size_t errlen;
};

static int s_fail(struct s_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int s_fail(struct s_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* A required string member `key` of `obj`, reported as path.key when missing. */
static const char *s_str(struct s_ctx *c, json_t *obj, const char *path, const char *key,
                         int is_code)
{
    json_t *v = json_object_get(obj, key);
    const char *s = json_string_value(v);
    if (!s || !s[0]) {
        s_fail(c, "%s.%s: a non-empty string is required", path, key);
        return NULL;
    }
    if (is_code && !wh_code_valid(s)) {
        s_fail(c, "%s.%s: '%s' is not a code (1..32 of a-z, 0-9, '-')", path, key, s);
        return NULL;
    }
    if (!is_code && !wh_utf8_valid(s, strlen(s))) {
        s_fail(c, "%s.%s: not valid UTF-8", path, key);
        return NULL;
    }
    return s;
}

static json_t *s_array(struct s_ctx *c, json_t *root, const char *key, size_t *n)
{
    json_t *a = json_object_get(root, key);
    if (!json_is_array(a)) {
        s_fail(c, "%s: an array is required", key);
        return NULL;
    }
    *n = json_array_size(a);
    return a;
}

/* Every item type starts with `const char *code`, so one comparator sorts them all. */
static int s_cmp_code(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const void *s_find(const void *base, size_t n, size_t size, const char *code)
{
    if (!code || !base) return NULL;
    return bsearch(&code, base, n, size, s_cmp_code);
}

static int s_sort_unique(struct s_ctx *c, const char *what, void *base, size_t n, size_t size)
{
    if (n == 0) return 0;
    qsort(base, n, size, s_cmp_code);
    for (size_t i = 1; i < n; i++) {
        const char *a = *(const char *const *)((char *)base + (i - 1) * size);
        const char *b = *(const char *const *)((char *)base + i * size);
        if (strcmp(a, b) == 0) return s_fail(c, "%s: code '%s' appears twice", what, b);
    }
    return 0;
}

#define FIND(arr, n, code) s_find((arr), (n), sizeof *(arr), (code))

static int s_load_whistles(struct s_ctx *c, struct wh_catalog *cat, json_t *root)
{
    json_t *w = json_object_get(root, "whistles");
    if (!json_is_object(w)) return s_fail(c, "whistles: an object is required");
    for (int k = WHISTLE__V1__WHISTLE__QUICK; k <= WHISTLE__V1__WHISTLE__TOUGH; k++) {
        const char *name = wh_whistle_name(k);
        json_t *r = json_object_get(w, name);
        char path[64];
        snprintf(path, sizeof path, "whistles.%s", name);
        if (!json_is_object(r)) return s_fail(c, "%s: an object is required", path);
        struct wh_whistle_rule *rule = &cat->whistles[k];
        if (!(rule->name = s_str(c, r, path, "name", 0))) return -1;
        json_t *ci = json_object_get(r, "checkin_ms"), *re = json_object_get(r, "resolve_ms");
        if (!json_is_integer(ci) || json_integer_value(ci) <= 0)
            return s_fail(c, "%s.checkin_ms: a positive integer is required", path);
        if (!json_is_integer(re) || json_integer_value(re) <= 0)
            return s_fail(c, "%s.resolve_ms: a positive integer is required", path);
        rule->checkin_ms = json_integer_value(ci);
        rule->resolve_ms = json_integer_value(re);
    }
    const char *key;
    json_t *val;
    json_object_foreach(w, key, val)
    {
        (void)val;
        if (!wh_whistle_parse(key) || strcmp(wh_whistle_name(wh_whistle_parse(key)), key) != 0)
            return s_fail(c, "whistles.%s: unknown whistle (QUICK, EMERGENCY or TOUGH)", key);
    }
    json_t *vw = json_object_get(root, "verification_window_ms");
    if (!json_is_integer(vw) || json_integer_value(vw) <= 0)
        return s_fail(c, "verification_window_ms: a positive integer is required");
    cat->verification_window_ms = json_integer_value(vw);
    json_t *rv = json_object_get(root, "review_ms");
    if (rv && (!json_is_integer(rv) || json_integer_value(rv) <= 0))
        return s_fail(c, "review_ms: a positive integer is required (or leave it out)");
    cat->review_ms = rv ? json_integer_value(rv)
                        : cat->whistles[WHISTLE__V1__WHISTLE__QUICK].checkin_ms;
    return 0;
}

static int s_load_units(struct s_ctx *c, struct wh_catalog *cat, json_t *root)
{
    json_t *a = s_array(c, root, "units", &cat->n_units);
    if (!a) return -1;
    cat->units = calloc(cat->n_units + 1, sizeof *cat->units);
    for (size_t i = 0; i < cat->n_units; i++) {
        char path[64];
        snprintf(path, sizeof path, "units[%zu]", i);
        json_t *o = json_array_get(a, i);
        struct wh_unit *u = &cat->units[i];
        if (!(u->code = s_str(c, o, path, "code", 1)) || !(u->name = s_str(c, o, path, "name", 0)))
            return -1;
        const char *kind = s_str(c, o, path, "kind", 0);
        if (!kind) return -1;
        if (strcmp(kind, "street") != 0 && strcmp(kind, "township") != 0)
            return s_fail(c, "%s.kind: '%s' is neither 'township' nor 'street'", path, kind);
        u->street = strcmp(kind, "street") == 0;
    }
    return s_sort_unique(c, "units", cat->units, cat->n_units, sizeof *cat->units);
}

static int s_load_communities(struct s_ctx *c, struct wh_catalog *cat, json_t *root)
{
    json_t *a = s_array(c, root, "communities", &cat->n_communities);
    if (!a) return -1;
    cat->communities = calloc(cat->n_communities + 1, sizeof *cat->communities);
    for (size_t i = 0; i < cat->n_communities; i++) {
        char path[64];
        snprintf(path, sizeof path, "communities[%zu]", i);
        json_t *o = json_array_get(a, i);
        struct wh_community *m = &cat->communities[i];
        const char *unit;
        if (!(m->code = s_str(c, o, path, "code", 1)) ||
            !(m->name = s_str(c, o, path, "name", 0)) || !(unit = s_str(c, o, path, "unit", 1)))
            return -1;
        if (!(m->unit = FIND(cat->units, cat->n_units, unit)))
            return s_fail(c, "%s.unit: unknown unit '%s'", path, unit);
    }
    return s_sort_unique(c, "communities", cat->communities, cat->n_communities,
                         sizeof *cat->communities);
}

static int s_load_grids(struct s_ctx *c, struct wh_catalog *cat, json_t *root)
{
    json_t *a = s_array(c, root, "grids", &cat->n_grids);
    if (!a) return -1;
    cat->grids = calloc(cat->n_grids + 1, sizeof *cat->grids);
    for (size_t i = 0; i < cat->n_grids; i++) {
        char path[64];
        snprintf(path, sizeof path, "grids[%zu]", i);
        json_t *o = json_array_get(a, i);
        struct wh_grid *g = &cat->grids[i];
        const char *comm;
        if (!(g->code = s_str(c, o, path, "code", 1)) ||
            !(comm = s_str(c, o, path, "community", 1)))
            return -1;
        if (!(g->community = FIND(cat->communities, cat->n_communities, comm)))
            return s_fail(c, "%s.community: unknown community '%s'", path, comm);
        g->households = -1;
        json_t *hh = json_object_get(o, "households");
        if (hh && (!json_is_integer(hh) || json_integer_value(hh) < 0 ||
                   json_integer_value(hh) > WH_GRID_MAX_HOUSEHOLDS))
            return s_fail(c, "%s.households: an integer 0..%d is required (or leave it out)",
                          path, WH_GRID_MAX_HOUSEHOLDS);
        if (hh) g->households = json_integer_value(hh);
        g->leader = json_string_value(json_object_get(o, "leader"));
        json_t *w = json_object_get(o, "workers");
        for (size_t k = 0; k < 3 && k < json_array_size(w); k++)
            g->workers[k] = json_string_value(json_array_get(w, k));
    }
    return s_sort_unique(c, "grids", cat->grids, cat->n_grids, sizeof *cat->grids);
}

static int s_load_departments(struct s_ctx *c, struct wh_catalog *cat, json_t *root)
{
    json_t *a = s_array(c, root, "departments", &cat->n_departments);
    if (!a) return -1;
    cat->departments = calloc(cat->n_departments + 1, sizeof *cat->departments);
    for (size_t i = 0; i < cat->n_departments; i++) {
        char path[64];
        snprintf(path, sizeof path, "departments[%zu]", i);
        json_t *o = json_array_get(a, i);
        struct wh_department *d = &cat->departments[i];
        if (!(d->code = s_str(c, o, path, "code", 1)) || !(d->name = s_str(c, o, path, "name", 0)))
            return -1;
    }
    if (s_sort_unique(c, "departments", cat->departments, cat->n_departments,
                      sizeof *cat->departments))
        return -1;
    json_t *co = json_object_get(root, "district_coordinators");
    for (size_t i = 0; i < json_array_size(co); i++) {
        const char *code = json_string_value(json_array_get(co, i));
        const struct wh_department *d = FIND(cat->departments, cat->n_departments, code);
        if (!d)
            return s_fail(c, "district_coordinators[%zu]: unknown department '%s'", i,
                          code ? code : "(not a string)");
        if (cat->n_coordinators < 8) cat->coordinators[cat->n_coordinators++] = d;
    }
    return 0;
}

static int s_load_matters(struct s_ctx *c, struct wh_catalog *cat, json_t *root)
{
    json_t *a = s_array(c, root, "matters", &cat->n_matters);
    if (!a) return -1;
    cat->matters = calloc(cat->n_matters + 1, sizeof *cat->matters);
    for (size_t i = 0; i < cat->n_matters; i++) {
        char path[64];
        snprintf(path, sizeof path, "matters[%zu]", i);
        json_t *o = json_array_get(a, i);
        struct wh_matter *m = &cat->matters[i];
        const char *w;
        if (!(m->code = s_str(c, o, path, "code", 1)) ||
            !(m->name = s_str(c, o, path, "name", 0)) || !(w = s_str(c, o, path, "whistle", 0)))
            return -1;
        m->whistle = wh_whistle_parse(w);
        if (!m->whistle || strcmp(wh_whistle_name(m->whistle), w) != 0)
            return s_fail(c, "%s.whistle: '%s' is not QUICK, EMERGENCY or TOUGH", path, w);
        json_t *lead = json_object_get(o, "lead");
        if (lead) {
            const char *l = json_string_value(lead);
            if (!l || (strcmp(l, "unit") != 0 && strcmp(l, "community") != 0))
                return s_fail(c, "%s.lead: must be \"unit\" (the township or street) or "
                                 "\"community\"", path);
            m->lead_community = strcmp(l, "community") == 0;
        }
        json_t *review = json_object_get(o, "review");
        if (review && !json_is_boolean(review))
            return s_fail(c, "%s.review: true or false is required", path);
        m->review = review && json_is_true(review);
        json_t *order = json_object_get(o, "order");
        if (order && !json_is_boolean(order))
            return s_fail(c, "%s.order: true or false is required (or leave it out)", path);
        m->order = order && json_is_true(order);
        json_t *ds = json_object_get(o, "departments");
        if (m->order && (!ds || (json_is_array(ds) && json_array_size(ds) == 0))) continue;
        if (m->order)
            return s_fail(c, "%s.departments: a resident's order (\"order\": true) has none: "
                             "its community dispatches it to a stationed unit or a volunteer",
                          path);
        if (!json_is_array(ds) || json_array_size(ds) == 0)
            return s_fail(c, "%s.departments: a non-empty array is required", path);
        if (json_array_size(ds) > WH_MATTER_MAX_DEPTS)
            return s_fail(c, "%s.departments: at most %d departments", path, WH_MATTER_MAX_DEPTS);
        for (size_t k = 0; k < json_array_size(ds); k++) {
            const char *code = json_string_value(json_array_get(ds, k));
            const struct wh_department *d = FIND(cat->departments, cat->n_departments, code);
            if (!d)
                return s_fail(c, "%s.departments[%zu]: unknown department '%s'", path, k,
                              code ? code : "(not a string)");
            for (size_t j = 0; j < m->n_departments; j++)
                if (m->departments[j] == d)
                    return s_fail(c, "%s.departments[%zu]: '%s' listed twice", path, k, code);
            m->departments[m->n_departments++] = d;
        }
    }
    return s_sort_unique(c, "matters", cat->matters, cat->n_matters, sizeof *cat->matters);
}

static int s_load_affairs(struct s_ctx *c, struct wh_catalog *cat, json_t *root)
{
    json_t *a = s_array(c, root, "community_affairs", &cat->n_affairs);
    if (!a) return -1;
    cat->affairs = calloc(cat->n_affairs + 1, sizeof *cat->affairs);
    for (size_t i = 0; i < cat->n_affairs; i++) {
        char path[64];
        snprintf(path, sizeof path, "community_affairs[%zu]", i);
        json_t *o = json_array_get(a, i);
        struct wh_affair *f = &cat->affairs[i];
        if (!(f->code = s_str(c, o, path, "code", 1)) || !(f->name = s_str(c, o, path, "name", 0)))
            return -1;
    }
    return s_sort_unique(c, "community_affairs", cat->affairs, cat->n_affairs,
                         sizeof *cat->affairs);
}

/* Optional "stationed": units stationed in the district, each a member of streets' 大工委
 * ("streets": unit codes) and communities' 大党委 ("communities"), at least one of them. */
static int s_load_stations(struct s_ctx *c, struct wh_catalog *cat, json_t *root)
{
    json_t *a = json_object_get(root, "stationed");
    if (a && !json_is_array(a)) return s_fail(c, "stationed: an array is required");
    cat->n_stations = json_array_size(a);
    cat->stations = calloc(cat->n_stations + 1, sizeof *cat->stations);
    for (size_t i = 0; i < cat->n_stations; i++) {
        char path[64];
        snprintf(path, sizeof path, "stationed[%zu]", i);
        json_t *o = json_array_get(a, i);
        struct wh_station *st = &cat->stations[i];
        if (!(st->code = s_str(c, o, path, "code", 1)) ||
            !(st->name = s_str(c, o, path, "name", 0)))
            return -1;
        json_t *su = json_object_get(o, "streets"), *co = json_object_get(o, "communities");
        if ((su && !json_is_array(su)) || (co && !json_is_array(co)))
            return s_fail(c, "%s: streets and communities are arrays of codes", path);
        if (json_array_size(su) > WH_STATION_MAX_MEMBERSHIPS ||
            json_array_size(co) > WH_STATION_MAX_MEMBERSHIPS)
            return s_fail(c, "%s: at most %d streets and %d communities", path,
                          WH_STATION_MAX_MEMBERSHIPS, WH_STATION_MAX_MEMBERSHIPS);
        if (json_array_size(su) + json_array_size(co) == 0)
            return s_fail(c, "%s: a member of at least one street's 大工委 (streets) or "
                             "community's 大党委 (communities)", path);
        for (size_t k = 0; k < json_array_size(su); k++) {
            const char *code = json_string_value(json_array_get(su, k));
            const struct wh_unit *u = FIND(cat->units, cat->n_units, code);
            if (!u)
                return s_fail(c, "%s.streets[%zu]: unknown unit '%s'", path, k,
                              code ? code : "(not a string)");
            st->streets[st->n_streets++] = u;
        }
        for (size_t k = 0; k < json_array_size(co); k++) {
            const char *code = json_string_value(json_array_get(co, k));
            const struct wh_community *m = FIND(cat->communities, cat->n_communities, code);
            if (!m)
                return s_fail(c, "%s.communities[%zu]: unknown community '%s'", path, k,
                              code ? code : "(not a string)");
            st->communities[st->n_communities++] = m;
        }
    }
    return s_sort_unique(c, "stationed", cat->stations, cat->n_stations, sizeof *cat->stations);
}

/* Optional "volunteers": party-member volunteers, each of one community. */
static int s_load_volunteers(struct s_ctx *c, struct wh_catalog *cat, json_t *root)
{
    json_t *a = json_object_get(root, "volunteers");
    if (a && !json_is_array(a)) return s_fail(c, "volunteers: an array is required");
    cat->n_volunteers = json_array_size(a);
    cat->volunteers = calloc(cat->n_volunteers + 1, sizeof *cat->volunteers);
    for (size_t i = 0; i < cat->n_volunteers; i++) {
        char path[64];
        snprintf(path, sizeof path, "volunteers[%zu]", i);
        json_t *o = json_array_get(a, i);
        struct wh_volunteer *v = &cat->volunteers[i];
        const char *comm;
        if (!(v->code = s_str(c, o, path, "code", 1)) ||
            !(v->name = s_str(c, o, path, "name", 0)) ||
            !(comm = s_str(c, o, path, "community", 1)))
            return -1;
        if (!(v->community = FIND(cat->communities, cat->n_communities, comm)))
            return s_fail(c, "%s.community: unknown community '%s'", path, comm);
    }
    if (s_sort_unique(c, "volunteers", cat->volunteers, cat->n_volunteers,
                      sizeof *cat->volunteers))
        return -1;
    /* one code names one assignee: a case's assignments are found by code */
    for (size_t i = 0; i < cat->n_volunteers; i++) {
        const char *code = cat->volunteers[i].code;
        if (FIND(cat->stations, cat->n_stations, code) ||
            FIND(cat->departments, cat->n_departments, code) ||
            FIND(cat->communities, cat->n_communities, code))
            return s_fail(c, "volunteers: code '%s' is also a department's, a community's or "
                             "a stationed unit's", code);
    }
    for (size_t i = 0; i < cat->n_stations; i++)
        if (FIND(cat->departments, cat->n_departments, cat->stations[i].code) ||
            FIND(cat->communities, cat->n_communities, cat->stations[i].code))
            return s_fail(c, "stationed: code '%s' is also a department's or a community's",
                          cat->stations[i].code);
    return 0;
}

static int s_load_escalation(struct s_ctx *c, struct wh_catalog *cat, json_t *root)
{
    json_t *a = json_object_get(root, "escalation");
    if (!a) return 0;
    if (!json_is_array(a)) return s_fail(c, "escalation: an array is required");
    for (size_t i = 0; i < json_array_size(a) && i < 8; i++) {
        char path[64];
        snprintf(path, sizeof path, "escalation[%zu]", i);
        const char *step = s_str(c, json_array_get(a, i), path, "step", 1);
        if (!step) return -1;
        if (strcmp(step, "remind") && strcmp(step, "supervise") && strcmp(step, "raise"))
            return s_fail(c, "%s.step: '%s' is not remind, supervise or raise", path, step);
        cat->escalation[cat->n_escalation++] = step;
    }
    return 0;
}

/* The line of the file where the value quoted in `msg` ('x') stands, so an operator can go
 * straight to it: the first occurrence of "x", or the second for a code that appears twice.
 * 0 when it cannot be found. */
static int s_line_of(const char *path, const char *msg)
{
    const char *q1 = strchr(msg, '\'');
    const char *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
    if (!q1 || !q2 || q2 - q1 > 64) return 0;
    char needle[72];
    snprintf(needle, sizeof needle, "\"%.*s\"", (int)(q2 - q1 - 1), q1 + 1);
    int want = strstr(msg, "appears twice") ? 2 : 1, seen = 0, line = 1, found = 0;
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char buf[4096];
    while (!found && fgets(buf, sizeof buf, f)) {
        for (const char *p = buf; (p = strstr(p, needle)); p += strlen(needle))
            if (++seen == want) {
                found = line;
                break;
            }
        if (strchr(buf, '\n')) line++;
    }
    fclose(f);
    return found;
}

struct wh_catalog *wh_catalog_load(const char *path, char *err, size_t errlen)
{
    struct s_ctx c = {err, errlen};
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    struct wh_catalog *cat = calloc(1, sizeof *cat);
    cat->json = root;
    json_t *d = json_object_get(root, "district");
    if (!json_is_object(root) || !json_is_object(d)) {
        s_fail(&c, "district: an object with code and name is required");
        goto fail;
    }
    json_t *ver = json_object_get(root, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
        s_fail(&c, "version: 1 is required");
        goto fail;
    }
    if (!(cat->district_code = s_str(&c, d, "district", "code", 1)) ||
        !(cat->district_name = s_str(&c, d, "district", "name", 0)) ||
        s_load_whistles(&c, cat, root) || s_load_units(&c, cat, root) ||
        s_load_communities(&c, cat, root) || s_load_grids(&c, cat, root) ||
        s_load_departments(&c, cat, root) || s_load_matters(&c, cat, root) ||
        s_load_affairs(&c, cat, root) || s_load_stations(&c, cat, root) ||
        s_load_volunteers(&c, cat, root) || s_load_escalation(&c, cat, root))
        goto fail;
    return cat;
fail:
    {
        /* prefix file and line, as a compiler does, so an operator goes straight to it */
        char tmp[512];
        int line = s_line_of(path, err);
        if (line) snprintf(tmp, sizeof tmp, "%s:%d: %s", path, line, err);
        else snprintf(tmp, sizeof tmp, "%s: %s", path, err);
        snprintf(err, errlen, "%s", tmp);
    }
    wh_catalog_destroy(&cat);
    return NULL;
}

void wh_catalog_destroy(struct wh_catalog **self_p)
{
    if (!self_p || !*self_p) return;
    struct wh_catalog *cat = *self_p;
    free(cat->units);
    free(cat->communities);
    free(cat->grids);
    free(cat->departments);
    free(cat->matters);
    free(cat->affairs);
    free(cat->stations);
    free(cat->volunteers);
    json_decref(cat->json);
    free(cat);
    *self_p = NULL;
}

const struct wh_unit *wh_catalog_unit(const struct wh_catalog *c, const char *code)
{
    return FIND(c->units, c->n_units, code);
}
const struct wh_community *wh_catalog_community(const struct wh_catalog *c, const char *code)
{
    return FIND(c->communities, c->n_communities, code);
}
const struct wh_grid *wh_catalog_grid(const struct wh_catalog *c, const char *code)
{
    return FIND(c->grids, c->n_grids, code);
}
const struct wh_department *wh_catalog_department(const struct wh_catalog *c, const char *code)
{
    return FIND(c->departments, c->n_departments, code);
}
const struct wh_matter *wh_catalog_matter(const struct wh_catalog *c, const char *code)
{
    return FIND(c->matters, c->n_matters, code);
}
const struct wh_affair *wh_catalog_affair(const struct wh_catalog *c, const char *code)
{
    return FIND(c->affairs, c->n_affairs, code);
}
const struct wh_station *wh_catalog_station(const struct wh_catalog *c, const char *code)
{
    return FIND(c->stations, c->n_stations, code);
}
const struct wh_volunteer *wh_catalog_volunteer(const struct wh_catalog *c, const char *code)
{
    return FIND(c->volunteers, c->n_volunteers, code);
}

int wh_catalog_station_serves(const struct wh_station *s, const struct wh_community *community)
{
    if (!s || !community) return 0;
    for (size_t i = 0; i < s->n_communities; i++)
        if (s->communities[i] == community) return 1;
    for (size_t i = 0; i < s->n_streets; i++)
        if (s->streets[i] == community->unit) return 1;
    return 0;
}
