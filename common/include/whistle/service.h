/* service.h: what the four services share: one libuv loop, one LMDB store, a ROUTER for
 * requests (commands, queries, replay, ping) and an XPUB for the live event stream, heartbeats,
 * followers of upstream logs, and group commit. Ping and Stats (counters and gauges, rendered
 * by metrics.h) are answered by the runtime for every service, outside the batch.
 *
 * Heartbeats: every heartbeat_ms, Heartbeat{service, head} on the own topic, and on every other
 * topic a subscriber asked for by name (a name ending in '/') with that topic's head, so any
 * subscriber learns within one tick that it missed entries and replays them.
 *
 * Group commit: message handlers run inside the batch write transaction (wh_service_txn).
 * Replies and publications they produce are queued; once the loop has drained every readable
 * socket, a uv_check handle commits the batch durably and only then sends them. A batch that
 * fails is aborted and its queue dropped: nothing is acknowledged that was not committed.
 *
 * Heavy reads (period figures over every case) run off the loop (wh_service_read_async): on
 * libuv's thread pool, in a read transaction of their own, answered when done, so commits,
 * answers and heartbeats go on meanwhile. */
#ifndef WHISTLE_SERVICE_H
#define WHISTLE_SERVICE_H
#include "whistle/auth.h"
#include "whistle/bus.h"
#include "whistle/catalog.h"
#include "whistle/codec.h"
#include "whistle/metrics.h"
#include "whistle/store.h"
#include <lmdb.h>
#include <uv.h>
#include <whistle/v1/whistle.pb-c.h>

typedef struct wh_service wh_service_t;

/* Who asked: enough to send the reply back through the ROUTER. */
struct wh_peer {
    uint8_t id[256];   /* ZeroMQ routing id */
    size_t id_len;
    int delimiter;     /* the peer is a REQ socket: echo the empty frame */
    uint64_t request_id;
    struct wh_identity who; /* with keys on, who the peer's key says it is (else kind NONE) */
};

/* Handles one request in `txn`, a step of the batch (a nested transaction of its own).
 * The error contract:
 * - 0: answered exactly once, with wh_service_reply or wh_service_error (a refusal decided
 *   before any write); the answer is sent after the batch commits.
 * - a storage error (wh_error_is_storage: ESTORE, EMAPFULL, ENOMEM): the batch fails and is
 *   not kept; every request in it is answered ESTORE. Nothing else is answered.
 * - any other negative code: a decision about this request: everything it wrote and
 *   published is undone, and it is answered with the refusal it queued, or else with that
 *   code (field "request").
 * A handler that returns 0 without answering is a bug: its work is undone and it is answered
 * EINTERNAL. */
typedef int (*wh_request_fn)(void *arg, wh_service_t *svc, MDB_txn *txn,
                             const struct wh_peer *peer, const Whistle__V1__Request *req);
/* Whether `who` may read `topic` (its Replay and its subscriptions on the XPUB): 1 or 0.
 * Asked only with keys on and for identities that are not trusted (service, operator). */
typedef int (*wh_topic_fn)(void *arg, const struct wh_identity *who, const char *topic);
/* Applies one upstream entry in `txn`, a step of the batch. 0: applied. A storage error
 * (wh_error_is_storage): the batch fails and the entry is applied again after a pause that
 * grows while the failure lasts. Any other negative code: a decision that the entry does not
 * apply: its writes are undone, it is logged and counted (Pong's not_applied), and the cursor
 * moves past it: one entry can never stop a follower. */
typedef int (*wh_apply_fn)(void *arg, wh_service_t *svc, MDB_txn *txn,
                           const Whistle__V1__Envelope *env);

/* Appends the service's own series to `m` for a Stats request (docs/metrics.md), after the
 * runtime's. `txn` is a read-only transaction on what is committed (NULL if none could be
 * opened). Runs outside the batch, like Ping: read, never write; keep it cheap (counts from
 * mdb_stat or kept in memory, never a scan of a large table). */
typedef void (*wh_stats_fn)(void *arg, wh_service_t *svc, MDB_txn *txn, wh_metrics_t *m);

struct wh_service_config {
    const char *name;           /* "intake"; also the log stream "intake/" unless `stream` */
    const char *stream;         /* the service's own log stream; NULL: "<name>/" */
    const char *data_dir;       /* LMDB environment directory */
    const char *api_endpoint;   /* ROUTER bind, e.g. "tcp://127.0.0.1:7100" */
    const char *events_endpoint;/* XPUB bind */
    const char *const *tables;  /* the service's own tables, NULL-terminated */
    int heartbeat_ms;           /* 0: 1000 */
    int events_hwm;             /* XPUB send high-water mark per subscriber; 0: 100000 */
    wh_request_fn on_request;   /* requests other than Ping, Stats and Replay */
    void (*after_commit)(void *arg, wh_service_t *svc); /* after each durable commit; NULL ok */
    void (*after_abort)(void *arg, wh_service_t *svc); /* a batch was not kept (failed, or
                                                           undone to be done again); NULL ok */
    wh_stats_fn stats;          /* the service's own series for Stats; NULL: none */
    wh_topic_fn may_read;       /* NULL: only services and operators read logs and topics */
    const char *keys;           /* CurveZMQ server key pair file; NULL: keys off */
    const char *allow;          /* the allowlist (required with keys) */
    const char *service_key;    /* own key pair for following upstreams (with keys) */
    void *arg;
};

struct wh_options;
/* Fills the fields of `cfg` that come from the command line (data folder, endpoints,
 * heartbeat) and the name; the rest is zeroed for the caller to set. */
void wh_service_config_init(struct wh_service_config *cfg, const char *name,
                            const struct wh_options *o);

/* Creates the loop, store and sockets. NULL on failure (logged with what to fix). */
wh_service_t *wh_service_new(const struct wh_service_config *cfg);
/* Closes every handle and frees; safe on NULL. */
void wh_service_destroy(wh_service_t **self_p);

/* Follows `upstream` ("intake"): subscribes to its topic ("intake/") on `events_endpoint`, asks
 * its `api_endpoint` for replay from the stored cursor, and calls `apply` for each entry
 * exactly once, in order, in the batch that stores the cursor. Call before run. */
int wh_service_follow(wh_service_t *self, const char *upstream, const char *api_endpoint,
                      const char *events_endpoint, wh_apply_fn apply, void *arg);

/* 1 when keys are on: every peer has an identity and requests are vetted. */
int wh_service_keyed(const wh_service_t *self);
/* Whether the peer `who` may read `topic`: 1 for services and operators, and with keys off
 * for a peer without an identity; otherwise the service's may_read decides (an identity
 * given by Request.on_behalf with keys off included). */
int wh_service_may_read(const wh_service_t *self, const struct wh_identity *who,
                        const char *topic);

/* 1 when the follower of `upstream` has applied everything its upstream announced, has no
 * replay in flight and has heard from it within wh_link_timeout_ms (a silent upstream, behind
 * a partition or down, is unknown, not caught up): decisions taken now rest on an up-to-date
 * view. */
int wh_service_caught_up(const wh_service_t *self, const char *upstream);

/* Runs until SIGTERM/SIGINT or wh_service_stop. 0 on a clean stop. */
int wh_service_run(wh_service_t *self);
/* Runs one loop turn, blocking at most `timeout_ms` (tests drive the loop this way). */
int wh_service_run_once(wh_service_t *self, int timeout_ms);
void wh_service_stop(wh_service_t *self);

/* The batch transaction (opened on first use). NULL on storage failure. */
MDB_txn *wh_service_txn(wh_service_t *self);
wh_store_t *wh_service_store(wh_service_t *self);
uv_loop_t *wh_service_loop(wh_service_t *self);
const char *wh_service_name(const wh_service_t *self);
/* The bound endpoints (with real ports when bound to ":*"). */
const char *wh_service_api_endpoint(wh_service_t *self);
const char *wh_service_events_endpoint(wh_service_t *self);

/* Appends `env` to `stream` (NULL: the service's own log) in `txn`, and queues its publication
 * on the XPUB (topic = stream) for after the commit. Sets env->stream, seq, event_id. */
int wh_service_append(wh_service_t *self, MDB_txn *txn, const char *stream,
                      Whistle__V1__Envelope *env, uint64_t *seq_out);
/* The same for an entry packed once for many streams (wh_eventlog_body). */
int wh_service_append_body(wh_service_t *self, MDB_txn *txn, const char *stream,
                           const uint8_t *body, size_t body_len, uint64_t *seq_out);
/* Queues `reply` (request_id set from `peer`) for after the commit. */
void wh_service_reply(wh_service_t *self, const struct wh_peer *peer, Whistle__V1__Reply *reply);
/* Handles one request frame as if it had come from `peer` on the ROUTER (tests and fuzzers
 * drive the dispatch without sockets); the answer is queued and sent after the commit. */
void wh_service_handle(wh_service_t *self, const struct wh_peer *peer, const void *frame,
                       size_t len);
/* Applies `env` as the follower of `upstream` does with a live entry (only when its seq is the
 * follower's cursor + 1). 1 applied or recorded as not applicable, 0 skipped, <0 the batch
 * failed. For tests and fuzzers. */
int wh_service_apply(wh_service_t *self, const char *upstream, const Whistle__V1__Envelope *env);
/* Commits the open batch now and sends what it decided, as the end of a loop turn does. */
void wh_service_commit(wh_service_t *self);

/* A heavy read, run on a thread of libuv's pool in `rtxn`, a read-only transaction on what is
 * committed (begun and ended around it by the runtime). It may only read: mdb_* calls,
 * wh_store_dbi, the catalog; never the service, never a wh_store_* call that records a
 * failure. Returns 0 or a code that `done` sees. */
typedef int (*wh_read_fn)(void *arg, wh_store_t *store, MDB_txn *rtxn);
/* Then, on the loop thread: answers `peer` exactly once with wh_service_answer (else the
 * runtime answers EINTERNAL) and frees `arg`. `rc` is work's result, or WH_ESTORE / WH_ENOMEM
 * when its read transaction could not begin (work did not run). */
typedef void (*wh_read_done_fn)(void *arg, wh_service_t *svc, const struct wh_peer *peer,
                                int rc);

/* Most reads in flight at once; past it a read is answered EBUSY at once. */
#define WH_READS_IN_FLIGHT 4

/* Answers the request of `peer` later, from `work` run off the loop then `done` on it (see
 * wh_read_fn). Called by a request handler as its answer (it then returns what this returns):
 * the request leaves the batch: a failed or redone batch neither answers it nor runs it again,
 * and its answer is sent whatever becomes of any batch, counted in Stats and against the
 * peer's queue bound like every answer. 0: `done` will run (shutdown waits for reads in
 * flight). WH_EBUSY: WH_READS_IN_FLIGHT are in flight; the request is already answered EBUSY.
 * WH_ENOMEM: nothing is answered (returned by the handler, the batch fails). On either the
 * caller keeps `arg`, and its handler returns 0 after WH_EBUSY. */
int wh_service_read_async(wh_service_t *self, const struct wh_peer *peer, wh_read_fn work,
                          wh_read_done_fn done, void *arg);
/* Reads in flight (queued or running, not yet answered). */
int wh_service_reads_in_flight(const wh_service_t *self);
/* From a wh_read_done_fn: sends `reply` (request_id set from `peer`) at the end of this loop
 * turn, whatever becomes of the batch. */
void wh_service_answer(wh_service_t *self, const struct wh_peer *peer, Whistle__V1__Reply *reply);

/* Queues an Error reply naming `field`. */
void wh_service_error(wh_service_t *self, const struct wh_peer *peer, int code,
                      const char *field, const char *message, int state);

#endif
