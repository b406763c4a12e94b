/* open311_submit.c: a POST requests (GeoReport v2 "POST Service Request") read into intake's
 * SubmitReport. The api_key is mapped to an integrator by the caller's callback; every other
 * field is checked against the catalog here, before anything is sent, and each refusal names
 * the Open311 field with the status the spec gives (403 api_key, 404 service_code and
 * jurisdiction_id, 400 the rest). The resident's names, email, phone and ids go into
 * Report.contact, lat/long into Report.geo, address_string into Report.location. */
#include "open311.h"
#include "whistle/codec.h"
#include "whistle/error.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every field of the spec's POST Service Request; attribute[...] is checked apart. */
static const char *const s_known[] = {
    "api_key",        "jurisdiction_id", "service_code", "lat",         "long",
    "address_string", "address_id",      "email",        "device_id",   "account_id",
    "first_name",     "last_name",       "phone",        "description", "media_url",
};

static int s_known_field(const char *key)
{
    for (size_t i = 0; i < sizeof s_known / sizeof s_known[0]; i++)
        if (strcmp(key, s_known[i]) == 0) return 1;
    return strncmp(key, "attribute[", 10) == 0;
}

/* A field given twice in one form, or in both the query and the body with different values. */
static int s_repeats(const struct open311_form *query, const struct open311_form *body,
                     struct open311_error *err)
{
    const struct open311_form *forms[2] = {query, body};
    for (int f = 0; f < 2; f++)
        for (size_t i = 0; forms[f] && i < forms[f]->n; i++)
            for (size_t j = i + 1; j < forms[f]->n; j++)
                if (strcmp(forms[f]->params[i].key, forms[f]->params[j].key) == 0)
                    return open311_error_set(err, 400, forms[f]->params[i].key,
                                             "%s: given more than once (one value expected)",
                                             forms[f]->params[i].key);
    for (size_t i = 0; query && body && i < query->n; i++) {
        const char *b = open311_form_get(body, query->params[i].key);
        if (b && strcmp(b, query->params[i].value) != 0)
            return open311_error_set(err, 400, query->params[i].key,
                                     "%s: the query string and the body give different values",
                                     query->params[i].key);
    }
    return 0;
}

/* The value of `key` from the body, else the query; NULL when absent, "" counts as absent. */
static const char *s_get(const struct open311_form *query, const struct open311_form *body,
                         const char *key)
{
    const char *v = open311_form_get(body, key);
    if (!v) v = open311_form_get(query, key);
    return v && v[0] ? v : NULL;
}

/* A copy `out` owns; NULL on out of memory. */
static char *s_own(struct open311_submit *out, const char *s)
{
    if (out->n_strings >= sizeof out->strings / sizeof out->strings[0]) return NULL;
    char *c = strdup(s ? s : "");
    if (c) out->strings[out->n_strings++] = c;
    return c;
}

static size_t s_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

static int s_number(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v) || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* Text at most `max` bytes (the bound intake applies), else a 400 naming `field`. */
static int s_bounded(const char *field, const char *v, size_t max, struct open311_error *err)
{
    if (v && strlen(v) > max)
        return open311_error_set(err, 400, field, "%s: at most %zu bytes, got %zu", field, max,
                                 strlen(v));
    return 0;
}

static int s_key_ok(const char *k)
{
    size_t n = k ? strlen(k) : 0;
    if (n < 1 || n > 96) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)k[i] < 0x21 || (unsigned char)k[i] > 0x7e) return 0;
    return 1;
}

void open311_submit_clear(struct open311_submit *s)
{
    for (size_t i = 0; i < s->n_strings; i++)
        free(s->strings[i]);
    memset(s, 0, sizeof *s);
}

/* Checks, in the order the header says; 0 or a negative number with `err`. */
static int s_parse(struct open311_submit *out, const struct wh_catalog *cat,
                   const struct open311_form *query, const struct open311_form *body,
                   const char *idempotency_key, open311_identify_fn identify, void *arg,
                   struct open311_error *err)
{
    int rc;
    if ((rc = s_repeats(query, body, err))) return rc;
    const char *api_key = s_get(query, body, "api_key");
    if (!api_key)
        return open311_error_set(err, 403, "api_key",
                                 "api_key: required (the key this jurisdiction gave you)");
    if (!identify || identify(arg, api_key, out->source, sizeof out->source) != 1 ||
        !out->source[0])
        return open311_error_set(err, 403, "api_key", "api_key: not a key this service knows");
    const char *jur = s_get(query, body, "jurisdiction_id");
    if (jur && strcmp(jur, cat->district_code) != 0)
        return open311_error_set(err, 404, "jurisdiction_id",
                                 "jurisdiction_id: '%s' is not served here (this is '%s')", jur,
                                 cat->district_code);
    const char *code = s_get(query, body, "service_code");
    if (!code)
        return open311_error_set(err, 400, "service_code",
                                 "service_code: required (services.json lists them)");
    const struct wh_matter *m = wh_catalog_matter(cat, code);
    if (!m)
        return open311_error_set(err, 404, "service_code",
                                 "service_code: no service '%s' (services.json lists them)", code);
    const struct open311_form *forms[2] = {query, body};
    for (int f = 0; f < 2; f++) {
        for (size_t i = 0; forms[f] && i < forms[f]->n; i++) {
            const char *k = forms[f]->params[i].key;
            if (!s_known_field(k))
                return open311_error_set(err, 400, k,
                                         "%s: not a field of POST requests (GeoReport v2)", k);
            if (strncmp(k, "attribute[", 10) != 0) continue;
            int task = strcmp(k, "attribute[task_affair]") == 0 ||
                       strcmp(k, "attribute[task_authority_ref]") == 0 ||
                       strcmp(k, "attribute[task_funding_ref]") == 0 ||
                       strcmp(k, "attribute[task_issuer]") == 0;
            if (strcmp(k, "attribute[grid]") != 0 && !(task && m->lead_community))
                return open311_error_set(err, 400, k,
                                         "%s: service '%s' has no such attribute "
                                         "(services/%s.json lists them)",
                                         k, m->code, m->code);
        }
    }
    const char *lat = s_get(query, body, "lat"), *lon = s_get(query, body, "long");
    if (!lat != !lon)
        return open311_error_set(err, 400, lat ? "long" : "lat",
                                 "%s: lat and long go together (both or neither)",
                                 lat ? "long" : "lat");
    if (lat) {
        if (s_number(lat, -90, 90, &out->lat))
            return open311_error_set(err, 400, "lat",
                                     "lat: a latitude in decimal degrees, -90..90 (WGS84)");
        if (s_number(lon, -180, 180, &out->lon))
            return open311_error_set(err, 400, "long",
                                     "long: a longitude in decimal degrees, -180..180 (WGS84)");
        out->has_latlon = 1;
    }
    const char *address = s_get(query, body, "address_string");
    if (!address) address = s_get(query, body, "address_id");
    if (!address && !lat)
        return open311_error_set(err, 400, "address_string",
                                 "address_string: required when lat and long are not given "
                                 "(one of them says where)");
    const char *grid = s_get(query, body, "attribute[grid]");
    if (!grid)
        return open311_error_set(err, 400, "attribute[grid]",
                                 "attribute[grid]: required: the grid (网格) where it is "
                                 "(services/%s.json lists them)",
                                 m->code);
    if (!wh_catalog_grid(cat, grid))
        return open311_error_set(err, 400, "attribute[grid]",
                                 "attribute[grid]: no grid '%s' (services/%s.json lists them)",
                                 grid, m->code);
    const char *affair = s_get(query, body, "attribute[task_affair]");
    const char *authority = s_get(query, body, "attribute[task_authority_ref]");
    const char *funding = s_get(query, body, "attribute[task_funding_ref]");
    const char *issuer = s_get(query, body, "attribute[task_issuer]");
    int has_task = affair || authority || funding || issuer;
    if (has_task && !issuer)
        return open311_error_set(err, 400, "attribute[task_issuer]",
                                 "attribute[task_issuer]: required with any task_ attribute "
                                 "(who hands the task down)");
    if (affair && !wh_catalog_affair(cat, affair))
        return open311_error_set(err, 400, "attribute[task_affair]",
                                 "attribute[task_affair]: no community affair '%s' "
                                 "(services/%s.json lists them)",
                                 affair, m->code);
    const char *desc = s_get(query, body, "description");
    if (!desc)
        return open311_error_set(err, 400, "description",
                                 "description: required: what is wrong, 1..%d characters",
                                 OPEN311_MAX_DESCRIPTION_CHARS);
    if (!wh_utf8_valid(desc, strlen(desc)))
        return open311_error_set(err, 400, "description", "description: not valid UTF-8");
    if (s_chars(desc) > OPEN311_MAX_DESCRIPTION_CHARS)
        return open311_error_set(err, 400, "description",
                                 "description: at most %d characters, got %zu",
                                 OPEN311_MAX_DESCRIPTION_CHARS, s_chars(desc));
    static const char *const shorts[] = {"email",     "phone",      "first_name", "last_name",
                                         "device_id", "account_id", "media_url"};
    for (size_t i = 0; i < sizeof shorts / sizeof shorts[0]; i++)
        if ((rc = s_bounded(shorts[i], s_get(query, body, shorts[i]), WH_MAX_SHORT, err)))
            return rc;
    if ((rc = s_bounded("attribute[task_authority_ref]", authority, WH_MAX_SHORT, err)) ||
        (rc = s_bounded("attribute[task_funding_ref]", funding, WH_MAX_SHORT, err)) ||
        (rc = s_bounded("attribute[task_issuer]", issuer, WH_MAX_SHORT, err)))
        return rc;
    if (!s_key_ok(idempotency_key))
        return open311_error_set(err, 400, "Idempotency-Key",
                                 "Idempotency-Key: 1..96 printable ASCII characters, no spaces");

    /* where: the address in location, the coordinates in geo */
    if ((rc = s_bounded("address_string", address, WH_MAX_SHORT, err))) return rc;
    const char *location = address ? address : "";
    /* who reported: the first contact the resident gave, else the integrator itself */
    const char *first = s_get(query, body, "first_name"), *last = s_get(query, body, "last_name");
    char name[WH_MAX_SHORT * 2 + 2] = "";
    if (first || last)
        snprintf(name, sizeof name, "%s%s%s", first ? first : "", first && last ? " " : "",
                 last ? last : "");
    const char *reporter = s_get(query, body, "email");
    if (!reporter) reporter = s_get(query, body, "phone");
    if (!reporter) reporter = s_get(query, body, "account_id");
    if (!reporter) reporter = s_get(query, body, "device_id");
    if (!reporter && name[0]) reporter = name;
    if (!reporter) reporter = out->source;
    if (strlen(reporter) > WH_MAX_SHORT) /* only first and last name together can be */
        return open311_error_set(err, 400, "last_name",
                                 "last_name: first_name, a space and last_name: at most %d "
                                 "bytes together",
                                 WH_MAX_SHORT);
    char key[160];
    snprintf(key, sizeof key, "%s:%s", out->source, idempotency_key);

    whistle__v1__submit_report__init(&out->sr);
    whistle__v1__report__init(&out->report);
    whistle__v1__community_task__init(&out->task);
    out->sr.report = &out->report;
    if (!(out->sr.idempotency_key = s_own(out, key)) || !(out->report.grid = s_own(out, grid)) ||
        !(out->report.matter = s_own(out, m->code)) ||
        !(out->report.description = s_own(out, desc)) ||
        !(out->report.reporter = s_own(out, reporter)) ||
        !(out->report.location = s_own(out, location)) ||
        !(out->report.source = s_own(out, out->source)))
        goto oom;
    if (has_task) {
        out->report.task = &out->task;
        if (!(out->task.affair = s_own(out, affair)) ||
            !(out->task.authority_ref = s_own(out, authority)) ||
            !(out->task.funding_ref = s_own(out, funding)) ||
            !(out->task.issuer = s_own(out, issuer)))
            goto oom;
    }
    whistle__v1__contact__init(&out->contact);
    whistle__v1__geo__init(&out->geo);
    char **contact[] = {&out->contact.first_name, &out->contact.last_name,
                        &out->contact.email,      &out->contact.phone,
                        &out->contact.device_id,  &out->contact.account_id};
    static const char *const contact_keys[] = {"first_name", "last_name",  "email",
                                               "phone",      "device_id", "account_id"};
    for (size_t i = 0; i < sizeof contact / sizeof contact[0]; i++) {
        const char *v = s_get(query, body, contact_keys[i]);
        if (!v) continue;
        if (!(*contact[i] = s_own(out, v))) goto oom;
        out->report.contact = &out->contact;
    }
    const char *media = s_get(query, body, "media_url");
    if (media && strncmp(media, "http://", 7) != 0 && strncmp(media, "https://", 8) != 0)
        return open311_error_set(err, 400, "media_url",
                                 "media_url: an http:// or https:// URL of the photo");
    if (media && !(out->report.media_url = s_own(out, media))) goto oom;
    if (out->has_latlon) {
        out->geo.lat = out->lat;
        out->geo.lon = out->lon;
        out->report.geo = &out->geo;
    }
    return 0;
oom:
    return open311_error_set(err, 500, "", "out of memory");
}

int open311_submit_parse(struct open311_submit *out, const struct wh_catalog *cat,
                         const struct open311_form *query, const struct open311_form *body,
                         const char *idempotency_key, open311_identify_fn identify, void *arg,
                         struct open311_error *err)
{
    memset(out, 0, sizeof *out);
    int rc = s_parse(out, cat, query, body, idempotency_key, identify, arg, err);
    if (rc) open311_submit_clear(out);
    return rc;
}
