/* district.c: the --districts file (district.h): parsed and checked with jansson, each
 * district's catalog loaded once to check that it names the district's own code. */
#include "district.h"
#include "whistle/catalog.h"
#include "whistle/codec.h"
#include "whistle/error.h"
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_svc[GW_N_BACKENDS] = {"intake", "routing", "tracking", "notification"};

static int s_fail(char *err, size_t errlen, int code, const char *path, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    wh_snprintf_utf8(err, errlen, "%s: %s", path, msg);
    return code;
}

void gateway_districts_free(struct gw_district_conf *d, size_t n)
{
    if (!d) return;
    for (size_t i = 0; i < n; i++) {
        free(d[i].catalog);
        for (int s = 0; s < GW_N_BACKENDS; s++) {
            free(d[i].api[s]);
            free(d[i].events[s]);
        }
    }
    free(d);
}

/* "districts[i].svc.member": a non-empty string, or absent when !required. */
static int s_endpoint(json_t *svc, const char *member, int required, size_t i, const char *name,
                      char **out, const char *path, char *err, size_t errlen)
{
    json_t *v = svc ? json_object_get(svc, member) : NULL;
    if (!v) {
        if (!required) return 0;
        return s_fail(err, errlen, WH_EFIELD, path, "districts[%zu].%s.%s: required", i, name,
                      member);
    }
    if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > 255)
        return s_fail(err, errlen, WH_EFIELD, path,
                      "districts[%zu].%s.%s: an endpoint string (tcp://HOST:PORT, ipc://PATH)", i,
                      name, member);
    *out = strdup(json_string_value(v));
    return *out ? 0 : s_fail(err, errlen, WH_ENOMEM, path, "out of memory");
}

static int s_one(json_t *d, size_t i, struct gw_district_conf *c, const char *dir, const char *path,
                 char *err, size_t errlen)
{
    if (!json_is_object(d))
        return s_fail(err, errlen, WH_EFIELD, path, "districts[%zu]: an object", i);
    const char *key;
    json_t *val;
    json_object_foreach(d, key, val)
    {
        int known = strcmp(key, "code") == 0 || strcmp(key, "catalog") == 0;
        for (int s = 0; s < GW_N_BACKENDS; s++)
            known |= strcmp(key, s_svc[s]) == 0;
        if (!known)
            return s_fail(err, errlen, WH_EFIELD, path,
                          "districts[%zu].%s: unknown member (code, catalog, intake, routing, "
                          "tracking, notification)",
                          i, key);
    }
    const char *code = json_string_value(json_object_get(d, "code"));
    if (!code || !wh_code_valid(code) || strlen(code) >= sizeof c->code)
        return s_fail(err, errlen, WH_EFIELD, path,
                      "districts[%zu].code: required, 1..32 of [a-z0-9-]", i);
    snprintf(c->code, sizeof c->code, "%s", code);
    const char *cat = json_string_value(json_object_get(d, "catalog"));
    if (!cat || !cat[0])
        return s_fail(err, errlen, WH_EFIELD, path, "districts[%zu].catalog: required (a file)", i);
    size_t len = strlen(dir) + strlen(cat) + 2;
    if (!(c->catalog = malloc(len))) return s_fail(err, errlen, WH_ENOMEM, path, "out of memory");
    if (cat[0] == '/')
        snprintf(c->catalog, len, "%s", cat);
    else
        snprintf(c->catalog, len, "%s/%s", dir, cat);
    for (int s = 0; s < GW_N_BACKENDS; s++) {
        json_t *svc = json_object_get(d, s_svc[s]);
        if (svc && !json_is_object(svc))
            return s_fail(err, errlen, WH_EFIELD, path,
                          "districts[%zu].%s: an object {\"api\": ..., \"events\": ...}", i,
                          s_svc[s]);
        if (svc) {
            json_object_foreach(svc, key, val)
            {
                if (strcmp(key, "api") != 0 && strcmp(key, "events") != 0)
                    return s_fail(err, errlen, WH_EFIELD, path,
                                  "districts[%zu].%s.%s: unknown member (api, events)", i, s_svc[s],
                                  key);
            }
        }
        int rc = s_endpoint(svc, "api", 1, i, s_svc[s], &c->api[s], path, err, errlen);
        if (!rc)
            rc = s_endpoint(svc, "events", s == GW_NOTIFICATION, i, s_svc[s], &c->events[s], path,
                            err, errlen);
        if (rc) return rc;
    }
    char cerr[400];
    struct wh_catalog *wc = wh_catalog_load(c->catalog, cerr, sizeof cerr);
    if (!wc) return s_fail(err, errlen, WH_ECATALOG, path, "districts[%zu].catalog: %s", i, cerr);
    int same = strcmp(wc->district_code, c->code) == 0;
    if (!same)
        s_fail(err, errlen, WH_EFIELD, path,
               "districts[%zu].code: '%s', but its catalog %s is district '%s'", i, c->code,
               c->catalog, wc->district_code);
    wh_catalog_destroy(&wc);
    return same ? 0 : WH_EFIELD;
}

int gateway_districts_load(const char *path, struct gw_district_conf **out, size_t *n, char *err,
                           size_t errlen)
{
    *out = NULL;
    *n = 0;
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!doc) return s_fail(err, errlen, WH_ENOTFOUND, path, "line %d: %s", je.line, je.text);
    int rc = 0;
    struct gw_district_conf *arr = NULL;
    size_t cnt = 0;
    char *copy = strdup(path);
    const char *dir = copy ? dirname(copy) : ".";
    json_t *list = json_object_get(doc, "districts");
    if (!json_is_object(doc) || json_object_size(doc) != 1 || !json_is_array(list) ||
        json_array_size(list) == 0 || json_array_size(list) > GW_MAX_DISTRICTS) {
        rc = s_fail(err, errlen, WH_EFIELD, path,
                    "districts: required, the only member: an array of 1..%d districts",
                    GW_MAX_DISTRICTS);
        goto out;
    }
    if (!(arr = calloc(json_array_size(list), sizeof *arr))) {
        rc = s_fail(err, errlen, WH_ENOMEM, path, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(list) && !rc; i++) {
        cnt++;
        rc = s_one(json_array_get(list, i), i, &arr[i], dir, path, err, errlen);
        for (size_t k = 0; k < i && !rc; k++)
            if (strcmp(arr[k].code, arr[i].code) == 0)
                rc = s_fail(err, errlen, WH_EFIELD, path,
                            "districts[%zu].code: '%s' is districts[%zu]'s too", i, arr[i].code, k);
    }
out:
    free(copy);
    json_decref(doc);
    if (rc) {
        gateway_districts_free(arr, cnt);
        return rc;
    }
    *out = arr;
    *n = cnt;
    return 0;
}
