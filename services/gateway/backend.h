/* backend.h: the gateway's asynchronous requests to the four services' ROUTERs.
 *
 * One DEALER per service on the loop (bus.c), ZMQ_IMMEDIATE so a send to a service that is
 * not connected fails at once. Each call gets a fresh request_id and waits in a list ordered by
 * its deadline (every call has the same timeout); a reply is matched by request_id, a late one
 * (after its timeout) is dropped. The loop never blocks on a backend. */
#ifndef GATEWAY_BACKEND_H
#define GATEWAY_BACKEND_H
#include "whistle/auth.h"
#include "whistle/metrics.h"
#include <stddef.h>
#include <uv.h>
#include <whistle/v1/whistle.pb-c.h>

typedef struct gw_backend gw_backend_t;

/* The answer to one call: `reply` (borrowed for the call) or NULL with `err` (WH_ETIMEDOUT,
 * or what gateway_backend_fail_all was given). */
typedef void (*gw_backend_fn)(void *arg, int svc, const Whistle__V1__Reply *reply, int err);

/* Connects a DEALER to each of the `n` endpoints in `api` (keyed with `key` towards
 * `server_public` when both are given). NULL on failure (logged). */
gw_backend_t *gateway_backend_new(uv_loop_t *loop, void *zctx, const char *const *api, size_t n,
                                  int timeout_ms, const struct wh_keypair *key,
                                  const char *server_public);
/* Closes the sockets (pending calls are dropped without a callback); safe on NULL, sets NULL. */
void gateway_backend_destroy(gw_backend_t **self_p);
/* Pins a zmq socket's connections (made after this call) to the I/O thread of service `svc`
 * (enum gateway_backend_id) in `zctx`. 0 or WH_EBUS. */
int gateway_io_affinity(void *zctx, void *zsock, int svc);
/* Sends `req` to service `svc` (request_id is set here). 0: `fn(arg, ...)` will be called
 * exactly once, later. WH_EBUS: not sent (the service is not connected), no callback. */
int gateway_backend_call(gw_backend_t *self, int svc, Whistle__V1__Request *req, gw_backend_fn fn,
                         void *arg);
/* The pending calls of `arg` will not call back (their request went away). */
void gateway_backend_forget(gw_backend_t *self, void *arg);
/* Calls back every pending call with `err` now (stopping). */
void gateway_backend_fail_all(gw_backend_t *self, int err);
/* Calls waiting for an answer. */
size_t gateway_backend_pending(const gw_backend_t *self);
/* Appends whistle_gateway_backend_requests_total{backend,outcome} to `m`: every call by
 * service (`names[svc]`) and how it ended: ok, the code of an Error reply (EFIELD, ...),
 * timeout (no reply within the timeout), unsent (the service not connected) or cancelled
 * (stopping). */
void gateway_backend_stats(const gw_backend_t *self, wh_metrics_t *m, const char *const *names);

#endif
