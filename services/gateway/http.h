/* http.h: libmicrohttpd on the gateway's libuv loop, with no thread of its own.
 *
 * MHD runs in its external epoll mode (MHD_USE_EPOLL without an internal thread, and
 * MHD_ALLOW_SUSPEND_RESUME): a uv_poll watches MHD's epoll fd, a uv_timer is re-armed from
 * MHD_get_timeout after every MHD_run. A request whose answer waits on a backend is suspended
 * (MHD_suspend_connection) and resumed when gateway__answer is called (MHD_resume_connection,
 * then MHD_run on the next loop turn).
 *
 * Bounds: at most max_connections connections (MHD stops accepting past it; the kernel's
 * backlog holds the rest), bodies over GW_MAX_BODY get 413, an idle connection is closed after
 * idle_timeout_s (MHD), and a request must arrive whole (headers and body) within
 * request_timeout_ms of its connection opening or of the previous answer on it, or the
 * connection is shut down: a client sending one byte a second holds nothing for long. */
#ifndef GATEWAY_HTTP_H
#define GATEWAY_HTTP_H
#include "gateway.h"

typedef struct gw_http gw_http_t;

struct gw_http_config {
    const char *listen; /* "127.0.0.1:7080", "[::1]:7080", port 0: any */
    unsigned max_connections;
    int request_timeout_ms;
    int idle_timeout_s;
};

/* Starts the daemon on `loop`; every complete request goes to gateway__dispatch(gw, r). NULL
 * on failure (logged with what to fix). */
gw_http_t *gateway_http_new(uv_loop_t *loop, gateway_t *gw, const struct gw_http_config *cfg);
/* Stops the daemon (every suspended request must have been answered: see gateway.c), closes
 * the handles, frees once libuv has closed them; safe on NULL, sets NULL. */
void gateway_http_destroy(gw_http_t **self_p);
/* The bound port. */
unsigned gateway_http_bound_port(const gw_http_t *self);
/* Stops accepting connections (stopping). */
void gateway_http_quiesce(gw_http_t *self);
/* Runs MHD now (after answers were prepared outside its callbacks). */
void gateway_http_run(gw_http_t *self);
/* HTTP connections open now. */
unsigned gateway_http_connections(const gw_http_t *self);

#endif
