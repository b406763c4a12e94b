/* district.h: the districts behind one gateway (--districts FILE), read once at start.
 *
 * A city's gateway serves several districts, each its own four services, data and catalog
 * (its own jurisdiction). The file is JSON:
 *
 *   {"districts": [{"code": "yj", "catalog": "yj.json",
 *                   "intake":       {"api": "tcp://...", "events": "tcp://..."},
 *                   "routing":      {"api": "..."}, "tracking": {"api": "..."},
 *                   "notification": {"api": "...", "events": "..."}}, ...]}
 *
 * A relative catalog path is taken from the file's own folder. Every service's "api" and
 * notification's "events" are required (the gateway follows no other XPUB); the code must be
 * the catalog's own district code and appear once. An error names the JSON path
 * ("districts[1].tracking.api: required"). Without --districts the gateway serves one district
 * from its single-district flags, as before. */
#ifndef GATEWAY_DISTRICT_H
#define GATEWAY_DISTRICT_H
#include "gateway.h"
#include <stddef.h>

/* Districts one gateway serves at most. */
#define GW_MAX_DISTRICTS 64

struct gw_district_conf {
    char code[33];               /* the district's code: its Open311 jurisdiction_id */
    char *catalog;               /* its catalog file (resolved against the file's folder) */
    char *api[GW_N_BACKENDS];    /* its services' ROUTERs */
    char *events[GW_N_BACKENDS]; /* their XPUBs (notification's required, the rest optional) */
};

/* Reads `path` into a malloc'd array (free with gateway_districts_free). Checks shape, codes,
 * duplicates and that every catalog loads and names its own code. 0, or WH_ENOTFOUND /
 * WH_EFIELD / WH_ECATALOG with `err` = "FILE: JSON.PATH: what is wrong". */
int gateway_districts_load(const char *path, struct gw_district_conf **out, size_t *n, char *err,
                           size_t errlen);
void gateway_districts_free(struct gw_district_conf *d, size_t n);

#endif
