/* open311_routes.h: the gateway's Open311 GeoReport v2 routes, at the root of its URL space:
 * /discovery.{json,xml}, /services.{json,xml}, /services/{code}.{json,xml},
 * GET and POST /requests.{json,xml}, /requests/{id}.{json,xml}, /tokens/{id}.{json,xml}.
 * Each handler reads the request with the pure functions of open311.h, asks the service that
 * owns the answer on the caller's behalf, and answers with the spec's documents and errors.
 * The rows themselves are in api.c's gateway_api_routes (GW_ROUTE_PUBLIC: Open311 callers
 * are identified by their api_key, not by a bearer header). */
#ifndef GATEWAY_OPEN311_ROUTES_H
#define GATEWAY_OPEN311_ROUTES_H
#include "route.h"

/* GET discovery.{fmt} */
void gateway_open311_discovery(gateway_t *gw, struct gw_req *r, const struct gw_match *m);
/* GET services.{fmt} */
void gateway_open311_services(gateway_t *gw, struct gw_req *r, const struct gw_match *m);
/* GET services/{code}.{fmt} */
void gateway_open311_definition(gateway_t *gw, struct gw_req *r, const struct gw_match *m);
/* POST requests.{fmt}: SubmitReport to intake, answered once intake committed it */
void gateway_open311_submit(gateway_t *gw, struct gw_req *r, const struct gw_match *m);
/* GET requests.{fmt}: GetCase per service_request_id, or ListCases pages filtered */
void gateway_open311_requests(gateway_t *gw, struct gw_req *r, const struct gw_match *m);
/* GET requests/{id}.{fmt} */
void gateway_open311_request(gateway_t *gw, struct gw_req *r, const struct gw_match *m);
/* GET tokens/{token}.{fmt} */
void gateway_open311_token(gateway_t *gw, struct gw_req *r, const struct gw_match *m);

#endif
