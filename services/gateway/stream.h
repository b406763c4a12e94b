/* stream.h: live topics over Server-Sent Events.
 *
 * GET /v1/topics/{topic}/events streams one of notification's topics: `id:` is the topic's
 * seq, `event:` the payload's name, `data:` the Envelope as JSON. The gateway first replays
 * from notification (Replay, on the caller's behalf, so notification's own read rules decide),
 * then follows one SUB on notification's XPUB; an entry is sent only when its seq is the next
 * one, a gap (a seq ahead, or a heartbeat whose head is ahead) is filled by replay: no gap, no
 * duplicate. A stream with nothing to send suspends its connection (MHD_suspend_connection
 * from the content reader) and is resumed when there is; SSE comments are sent as heartbeats,
 * which also show a client gone. A client that does not read holds at most GW_SSE_BUFFER
 * bytes; past that its stream ends and it reconnects with Last-Event-ID. */
#ifndef GATEWAY_STREAM_H
#define GATEWAY_STREAM_H
#include "backend.h"
#include "gateway.h"

/* Unsent bytes one stream may hold before it is ended. */
#define GW_SSE_BUFFER (1024 * 1024)

typedef struct gw_streams gw_streams_t;

/* Subscribes nothing yet: connects a SUB to notification's XPUB `events` (keyed when `key`
 * and `server_public` are given). Heartbeats every `heartbeat_ms`. NULL on failure (logged). */
gw_streams_t *gateway_streams_new(uv_loop_t *loop, void *zctx, const char *events,
                                  const struct wh_keypair *key, const char *server_public,
                                  gw_backend_t *backend, int heartbeat_ms);
/* Closes the SUB and the timer; every stream must have ended (gateway_streams_end_all) and
 * been freed by MHD. Safe on NULL, sets NULL. */
void gateway_streams_destroy(gw_streams_t **self_p);
/* Streams open now. */
size_t gateway_streams_count(const gw_streams_t *self);
/* Ends every stream (stopping): each is resumed and finishes. */
void gateway_streams_end_all(gw_streams_t *self);
/* Answers `r` with a stream of `topic`, starting with the entries of `first` (the answer to a
 * Replay from `next`, or from beyond the head when `live_only`), then what follows. 0, or
 * WH_ENOMEM (r is then answered 503). */
int gateway_streams_open(gw_streams_t *self, struct gw_req *r, const char *topic, uint64_t next,
                         int live_only, const Whistle__V1__ReplayReply *first);

/* Calls `fn(arg)` once, when the first entry (not a heartbeat) of `topic` arrives live, then
 * forgets it (an Open311 POST waiting for its case to reach notification: case/<id>/). The
 * subscription is made now; what was published before it reached notification is not seen
 * (the caller asks once after subscribing, and keeps a slow backstop). 0 or WH_ENOMEM. */
typedef void (*gw_wait_fn)(void *arg);
int gateway_streams_wait(gw_streams_t *self, const char *topic, gw_wait_fn fn, void *arg);
/* Forgets every wait of `arg` (safe when there is none). */
void gateway_streams_unwait(gw_streams_t *self, void *arg);

#endif
