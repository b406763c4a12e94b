/* notification.h: the way out. Follows tracking's log and fans each case.updated out to
 * topics, each with its own gapless sequence, served live on the XPUB and by Replay{topic}:
 *   all/            every event (notification's own log)
 *   case/<id>/      one case
 *   unit/<code>/    the lead township or street
 *   grid/<code>/    the grid of the report
 *   dept/<code>/    every department assigned to the case
 *   district/       every escalation (督办)
 * Grid visit records (visit.logged) go to all/ and grid/<code>/. It also delivers topics to
 * registered HTTP endpoints (webhooks.c). */
#ifndef WHISTLE_NOTIFICATION_H
#define WHISTLE_NOTIFICATION_H
#include "whistle/catalog.h"
#include "whistle/options.h"
#include "whistle/service.h"

typedef struct notification notification_t;

notification_t *notification_new(const struct wh_options *o, const struct wh_catalog *cat);
void notification_destroy(notification_t **self_p);
wh_service_t *notification_service(notification_t *self);

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
/* Answers WebhookAdd, WebhookRemove and WebhookList in `txn`; registrations and dead letters
 * of topics `may_see` refuses are neither changed nor shown. */
void notification_webhooks_request(notification_webhooks_t *self, MDB_txn *txn,
                                   const struct wh_peer *peer, const Whistle__V1__Request *req,
                                   notification_topic_fn may_see, void *arg);

/* Delay in ms before the next POST after `attempts` failed ones: base * 2^(attempts-1),
 * capped at one hour, with "equal jitter" from `r` in [0, 1): in [step/2, step). Pure. */
int64_t notification_webhook_backoff(int attempts, int base_ms, double r);
/* Checks a registration; `prefix` names the request ("webhook_add") in err->field. */
int notification_webhook_check(const char *prefix, const char *topic, const char *url,
                               struct wh_field_error *fe);

#endif
