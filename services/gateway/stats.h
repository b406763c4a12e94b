/* stats.h: the gateway's own series and GET /metrics.
 *
 * The gateway counts the answers it queues by route (the route's pattern, never the raw path:
 * the number of series is bounded by the route table) and status, and their time from the
 * request's headers to the answer as a histogram by route. GET /metrics asks the four
 * services for their Stats at once (asynchronously, each with the backend timeout), adds the
 * gateway's own series (answers, durations, open connections, event streams, backend calls by
 * service and outcome, and whistle_gateway_backend_up per service: 0 for one that did not
 * answer, whose series are then left out) and answers the Prometheus text format 0.0.4
 * (wh_metrics_render). docs/metrics.md lists the families. */
#ifndef GATEWAY_STATS_H
#define GATEWAY_STATS_H
#include "gateway.h"
#include "route.h"
#include "whistle/metrics.h"

typedef struct gw_stats gw_stats_t;

/* Counters for the `n_routes` rows of `routes` (the API's table). NULL on out of memory. */
gw_stats_t *gateway_stats_new(const struct gw_route *routes, size_t n_routes);
/* Frees *self_p; safe on NULL, sets NULL. */
void gateway_stats_destroy(gw_stats_t **self_p);
/* Counts one answer queued: the route it matched (NULL: none, or not a row of the table), its
 * HTTP status, and the seconds since its headers were in. */
void gateway_stats_answer(gw_stats_t *self, const struct gw_route *route, unsigned status,
                          double seconds);
/* Appends the gateway's HTTP series (answers by route and status, their durations, uptime and
 * build) to `m`. */
void gateway_stats_add(const gw_stats_t *self, wh_metrics_t *m);

/* GET /metrics (a handler of the route table): operators' and services' keys only, or anyone
 * with --metrics-open (the route's flag GW_ROUTE_METRICS). */
void gateway_stats_serve(gateway_t *gw, struct gw_req *r, const struct gw_match *m);

#endif
