/* web.h: the dashboard's static files (the folder services/gateway/web/ of the tree, installed
 * as share/whistle/web/), served from --web DIR: GET / is index.html, GET /web/<file> and
 * /web/vendor/<file> the rest. Only names of [A-Za-z0-9._-] not starting with '.', with a
 * known extension, regular files (no symbolic link followed), at most GW_WEB_MAX bytes; the
 * route's URL checks (route.h) have already refused '..', encoded '/' and bad escapes.
 *
 * Caching: vendor/ files carry their version in their name (uPlot-1.6.32.min.js) and are
 * `immutable` for a year; the page's own files are `no-cache` with an ETag (size and mtime),
 * so a browser revalidates them (304) and sees a new release at once. Every answer has
 * `X-Content-Type-Options: nosniff` and a Content-Security-Policy allowing only this origin:
 * the page fetches nothing from elsewhere. */
#ifndef GATEWAY_WEB_H
#define GATEWAY_WEB_H
#include "route.h"

#define GW_WEB_MAX (4 * 1024 * 1024)

/* The content type served for file `name` by its extension, or NULL: not served. */
const char *gateway_web_type(const char *name);
/* 1 when `name` (one path segment) may be served: allowed characters, no leading '.', a known
 * type. */
int gateway_web_name_ok(const char *name);
/* The folder the files come from: `flag` when given (NULL when it holds no index.html), else
 * the first of `installed` and "services/gateway/web" (from the tree) holding index.html, else
 * NULL. */
const char *gateway_web_dir(const char *flag, const char *installed);
/* The route handler (GET /, /web/{}, /web/vendor/{}). */
void gateway_web_serve(gateway_t *gw, struct gw_req *r, const struct gw_match *m);

#endif
