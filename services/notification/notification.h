/* notification.h: the way out. Follows tracking's log and fans each case.updated out to
 * topics, each with its own gapless sequence, served live on the XPUB and by Replay{topic}
 * (docs/topics.md is the subscriber's reference):
 *   all/            every event (notification's own log)
 *   case/<id>/      one case
 *   unit/<code>/    the lead township or street
 *   grid/<code>/    the grid of the report
 *   dept/<code>/    every department assigned to the case
 *   district/       every escalation (督办)
 * Grid visit records (visit.logged) go to all/ and grid/<code>/. It delivers topics to
 * registered HTTP endpoints (webhooks.c). It also
 * keeps each topic's entries for the retention (retention.c), then trims them. */
#ifndef WHISTLE_NOTIFICATION_H
#define WHISTLE_NOTIFICATION_H
#include "whistle/catalog.h"
#include "whistle/eventlog.h"
#include "whistle/options.h"
#include "whistle/service.h"

typedef struct notification notification_t;
typedef struct notification_retention notification_retention_t;

/* Opens the store, binds the sockets, follows tracking and, when o->retention_ms or
 * o->retention_entries is set, starts trimming topics. NULL on failure (logged). Takes no
 * ownership of `cat`. */
notification_t *notification_new(const struct wh_options *o, const struct wh_catalog *cat);
/* Stops and frees; safe on NULL; sets *self_p to NULL. */
void notification_destroy(notification_t **self_p);
wh_service_t *notification_service(notification_t *self);
/* The retention in force, NULL when topics are kept for ever. */
notification_retention_t *notification_retention(notification_t *self);

#define NOTIFICATION_MAX_TOPICS 24

/* Fills `topics` (each >= 80 bytes) with the topics event `u` goes to. Returns the count. */
size_t notification_topics(const Whistle__V1__CaseUpdated *u, char topics[][80], size_t max);

/* The topics of a grid visit record: all/ and grid/<code>/. */
size_t notification_visit_topics(const Whistle__V1__VisitLogged *v, char topics[][80], size_t max);
/* ---- webhooks.c: topics POSTed to department systems, from an outbox in LMDB ------------ */

typedef struct notification_webhooks notification_webhooks_t;

/* notification's tables for webhooks: registrations, the outbox, the dead letters, ids. */
#define NOTIFICATION_WEBHOOK_TABLES "webhooks", "outbox", "dead", "hookmeta"

struct notification_webhook_config {
    int attempts;    /* POSTs before a delivery goes to the dead letters */
    int timeout_ms;  /* time limit of one POST */
    int backoff_ms;  /* delay before the first retry; doubled for each next one */
};

/* Whether the peer who asked may receive `topic` (1) or not (0). NULL: everyone may. */
typedef int (*notification_topic_fn)(void *arg, const struct wh_peer *peer, const char *topic);

/* Starts delivering on the service's loop (also what the outbox kept from the last run).
 * Returns NULL on failure (logged). Takes no ownership of `svc`, which must outlive it. */
notification_webhooks_t *notification_webhooks_new(wh_service_t *svc,
                                                   const struct notification_webhook_config *cfg);
/* Stops: POSTs in flight are abandoned (they stay in the outbox). Frees once libuv has
 * closed its handles; call before the service is destroyed. Safe on NULL; sets *self_p NULL. */
void notification_webhooks_destroy(notification_webhooks_t **self_p);
/* In `txn`, the one that appends `env` to topic env->stream as env->seq: queues a delivery
 * of `env` for every webhook registered on that topic. 0 or a storage error (batch failed). */
int notification_webhooks_enqueue(notification_webhooks_t *self, MDB_txn *txn,
                                  const Whistle__V1__Envelope *env);
/* After each durable commit: starts what became due. */
void notification_webhooks_after_commit(notification_webhooks_t *self);
/* Stats: the outbox's depth, the dead letters and the registrations (mdb_stat of their tables
 * in `txn`, committed state; none when NULL) and the POSTs in flight. */
void notification_webhooks_stats(notification_webhooks_t *self, MDB_txn *txn, wh_metrics_t *m);
/* Answers WebhookAdd, WebhookRemove and WebhookList in `txn`; registrations and dead letters
 * of topics `may_see` refuses are neither changed nor shown. */
int notification_webhooks_request(notification_webhooks_t *self, MDB_txn *txn,
                                   const struct wh_peer *peer, const Whistle__V1__Request *req,
                                   notification_topic_fn may_see, void *arg);

/* Delay in ms before the next POST after `attempts` failed ones: base * 2^(attempts-1),
 * capped at one hour, with "equal jitter" from `r` in [0, 1): in [step/2, step). Pure. */
int64_t notification_webhook_backoff(int attempts, int base_ms, double r);
/* Checks a registration; `prefix` names the request ("webhook_add") in err->field. */
int notification_webhook_check(const char *prefix, const char *topic, const char *url,
                               struct wh_field_error *fe);
/* The XPUB's send high-water mark, per subscriber. A subscriber that stops reading gets at
 * most this many messages queued in this process (~1.6 KiB each: ~16 MiB), then its messages
 * are dropped at the mark (not refused: ZMQ_XPUB_NODROP would make a send fail for every
 * subscriber of the topic as soon as one is full), and it recovers them by replay once it sees
 * the gap in the sequence or a heartbeat's head. One that keeps up is never dropped: a batch
 * publishes at most about WH_BATCH_EVENTS (4,096) at once, well under the mark. At 1,000 it
 * was: bursts of a saturated batch dropped 10-15% of a keeping-up subscriber's entries. */
#define NOTIFICATION_EVENTS_HWM 10000

/* ---- retention.c: trimming topic logs to the retention --------------------------------- */

#define NOTIFICATION_RETENTION_PERIOD_MS 1000 /* between slices, unless one hit its budget */
#define NOTIFICATION_TRIM_STREAMS 256         /* topics visited per slice */
#define NOTIFICATION_TRIM_BATCH 1024          /* entries deleted per slice */

/* Trims every topic of `svc` to `keep`, one slice per timer run on the service's loop, the
 * first after `period_ms` (0: NOTIFICATION_RETENTION_PERIOD_MS). NULL on out of memory. */
notification_retention_t *notification_retention_new(wh_service_t *svc,
                                                     const struct wh_retention *keep,
                                                     int period_ms);
/* Stops trimming; the object is freed once the service's loop has closed its timer
 * (wh_service_destroy runs the loop to the end). Safe on NULL; sets *self_p to NULL. */
void notification_retention_destroy(notification_retention_t **self_p);
/* One slice of the walk at wall-clock `now_ms`, in the service's batch transaction (committed
 * by the loop, or by the caller). Returns the entries deleted or a negative error. */
int notification_retention_step(notification_retention_t *self, int64_t now_ms);
/* Entries deleted since the object was made. */
uint64_t notification_retention_deleted(const notification_retention_t *self);

#endif
