/* bus.h: a ZeroMQ socket watched by the libuv loop.
 *
 * libuv watches ZMQ_FD with uv_poll. The fd is edge-triggered: it signals when ZMQ_EVENTS
 * may have changed, not while messages wait. So on every wake-up the socket is drained until
 * ZMQ_EVENTS has no ZMQ_POLLIN, or until a bound; when the bound is hit, or after this process
 * sends on the socket (which can consume the edge), wh_sock_kick() makes the loop drain it
 * again on its next turn without blocking. */
#ifndef WHISTLE_BUS_H
#define WHISTLE_BUS_H
#include <stddef.h>
#include <uv.h>
#include <zmq.h>

typedef struct wh_sock wh_sock_t;

#define WH_MAX_FRAMES 8

/* One received multipart message: frame pointers valid only during the callback. */
struct wh_frames {
    size_t n;                        /* frames received (at most WH_MAX_FRAMES kept) */
    int truncated;                   /* more than WH_MAX_FRAMES frames: the rest were dropped */
    const char *user_id;             /* the peer's ZAP User-Id ("department:cg"), or NULL */
    const void *data[WH_MAX_FRAMES];
    size_t len[WH_MAX_FRAMES];
};

typedef void (*wh_sock_fn)(void *arg, wh_sock_t *sock, const struct wh_frames *msg);

/* Creates a zmq socket of `type` on `zctx`, with linger 0 and ZMQ_MAXMSGSIZE = max_msg
 * (0: unlimited), and watches it on `loop`. `on_msg` is called for each message received.
 * Returns NULL on failure (logged). */
wh_sock_t *wh_sock_new(uv_loop_t *loop, void *zctx, int type, long max_msg, wh_sock_fn on_msg,
                       void *arg);
/* Binds or connects the socket; 0 or WH_EBUS (logged with the endpoint). */
int wh_sock_bind(wh_sock_t *self, const char *endpoint);
int wh_sock_connect(wh_sock_t *self, const char *endpoint);
/* The bound endpoint (resolves "tcp://127.0.0.1:*" to the real port). */
const char *wh_sock_endpoint(wh_sock_t *self);
/* The underlying zmq socket, for setsockopt and send. */
void *wh_sock_zmq(wh_sock_t *self);
/* Sends `n` frames without blocking. 0, or WH_EBUS when it would block or failed. */
int wh_sock_sendv(wh_sock_t *self, size_t n, const void *const *data, const size_t *len);
/* Drain again on the loop's next turn (after a send, or when the bound was hit). */
void wh_sock_kick(wh_sock_t *self);
/* Stops the drain in progress after the current message and continues it on the next loop
 * turn (after the commit): a batch that holds enough reads no more. */
void wh_sock_yield(wh_sock_t *self);
/* Sends `n` frames copied from `data`, then `last` as the final frame without a copy (ZeroMQ
 * takes it, and calls its free function when done). Non-blocking; 0 or WH_EBUS. */
int wh_sock_sendv_msg(wh_sock_t *self, size_t n, const void *const *data, const size_t *len,
                      zmq_msg_t *last);
/* Stops watching, closes the zmq socket and frees once libuv has closed its handles. */
void wh_sock_destroy(wh_sock_t **self_p);

/* Messages drained per socket per wake-up before yielding to other sockets. */
#define WH_DRAIN_BOUND 512

#endif
