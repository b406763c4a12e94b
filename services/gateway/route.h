/* route.h: the gateway's route table and URL checks (pure functions).
 *
 * A route is a method, a pattern of '/'-separated segments where "{}" captures one segment,
 * and a handler. The path is checked and percent-decoded segment by segment before it is
 * matched: an invalid escape, an encoded NUL, a byte sequence that is not UTF-8, a control
 * character, or a "." or ".." segment is refused (400, field "url") before any handler. */
#ifndef GATEWAY_ROUTE_H
#define GATEWAY_ROUTE_H
#include "gateway.h"
#include <stddef.h>

struct gw_match;
typedef void (*gw_handler_fn)(gateway_t *gw, struct gw_req *r, const struct gw_match *m);

enum gw_route_flag {
    GW_ROUTE_PUBLIC = 1,   /* answered without an API key (health checks) */
    GW_ROUTE_METRICS = 2,  /* public with --metrics-open, else an API key (GET /metrics) */
    GW_ROUTE_TICKET = 4,   /* also ?ticket= instead of a bearer key (event streams, ticket.h) */
    GW_ROUTE_CITY = 8,     /* answers for the whole gateway: needs no jurisdiction_id */
    GW_ROUTE_OPEN311 = 16, /* takes Open311's jurisdiction_id itself (query or form body) */
};

struct gw_route {
    const char *method;  /* "GET", "POST" */
    const char *pattern; /* "/v1/cases/{}/{}" */
    gw_handler_fn handle;
    unsigned flags; /* GW_ROUTE_... */
};

#define GW_MAX_PARAMS 4
#define GW_PARAM_MAX 256

struct gw_match {
    const struct gw_route *route;            /* the matched route */
    size_t n;                                /* captured segments */
    char param[GW_MAX_PARAMS][GW_PARAM_MAX]; /* each decoded, valid UTF-8 */
    char allow[64];                          /* on GW_ROUTE_METHOD: the methods the path takes */
};

enum gw_route_result {
    GW_ROUTE_OK = 0,
    GW_ROUTE_NONE = 1,   /* no route has this path: 404 */
    GW_ROUTE_METHOD = 2, /* the path exists, not with this method: 405 (m->allow) */
};

/* Matches `method` ("HEAD" counts as "GET") and the raw `path` (no query string) against the
 * `n` routes of `table`. GW_ROUTE_OK with `m` filled, GW_ROUTE_NONE, GW_ROUTE_METHOD, or
 * WH_EFIELD with `err` naming "url" when the path is refused. */
int gateway_route_match(const struct gw_route *table, size_t n, const char *method,
                        const char *path, struct gw_match *m, struct wh_field_error *err);

/* Percent-decodes src[0..len) into `dst` (`size` bytes, NUL-terminated); '+' stays '+'.
 * Returns the decoded length, or -1 on an invalid or truncated escape, an encoded NUL, a
 * result that is not valid UTF-8 or does not fit. */
long gateway_pct_decode(char *dst, size_t size, const char *src, size_t len);

/* The API's routes (api.c). */
extern const struct gw_route gateway_api_routes[];
extern const size_t gateway_api_n_routes;

#endif
