/* service_int.h: the parts of a service that service.c and follower.c share (not exported). */
#ifndef WHISTLE_SERVICE_INT_H
#define WHISTLE_SERVICE_INT_H
#include "whistle/service.h"

#define WH_MAX_FOLLOWERS 4
#define WH_REPLAY_BATCH 512
#define WH_REPLAY_BYTES (512 * 1024)
#define WH_REPLAY_TIMEOUT_MS 3000
/* Topics subscribed by name that get a heartbeat of their own; more are served, unannounced. */
#define WH_MAX_SUB_TOPICS 4096
/* The XPUB's default send high-water mark, per subscriber, in messages. */
#define WH_EVENTS_HWM 100000

/* One upstream log this service applies, exactly once and in order. */
struct wh_follower {
    wh_service_t *svc;
    char name[32];            /* upstream service name: the cursor's key */
    char topic[40];           /* "<name>/" */
    wh_sock_t *sub;           /* live entries and heartbeats */
    wh_sock_t *req;           /* DEALER to the upstream's ROUTER, for replay */
    wh_apply_fn apply;
    void *arg;
    uint64_t cursor;          /* last applied, in the open batch or committed */
    uint64_t committed;       /* last applied and committed */
    uint64_t upstream_head;   /* highest sequence heard of */
    int64_t replay_sent_ms;   /* monotonic time of the request in flight, 0 = none */
    int want_replay;          /* ask once the batch is committed */
};

/* Queued send, done after the batch commits. */
struct wh_out {
    wh_sock_t *sock;
    size_t n;
    uint8_t *frame[3];  /* malloc'd (frame[k] may be NULL with len 0 for an empty frame) */
    size_t len[3];
};

struct wh_service {
    struct wh_service_config cfg;
    char stream[64];          /* own log stream, "<name>/" */
    uv_loop_t loop;
    void *zctx;
    wh_store_t *store;
    wh_sock_t *api;           /* ROUTER */
    wh_sock_t *events;        /* XPUB */
    wh_auth_t *auth;          /* keys on: the ZAP handler and server key pair; NULL: off */
    struct wh_keypair client; /* keys on: own key pair, to follow upstreams */
    uv_check_t commit;        /* group commit, after the poll phase */
    uv_idle_t pending;        /* active while a batch or a queued send waits for the commit:
                                 keeps the poll phase from sleeping before it */
    uv_timer_t tick;          /* heartbeat and replay timeouts */
    uv_timer_t wake;          /* run_once timeout */
    uv_signal_t sigterm, sigint;
    struct wh_out *out;
    size_t n_out, cap_out;
    struct wh_follower *followers[WH_MAX_FOLLOWERS];
    size_t n_followers;
    char **subs;              /* topics subscribed by name (heartbeat.c), malloc'd */
    size_t n_subs, cap_subs;
    uint64_t head;            /* committed head of the own stream */
    uint64_t batch_head;      /* head including the open batch */
    int64_t started_ms;
    int stopping;
};

/* follower.c */
void wh__follower_after_commit(struct wh_follower *f, int committed);
void wh__follower_tick(struct wh_follower *f, int64_t now_mono);
int wh__follower_save(struct wh_follower *f, MDB_txn *txn);
void wh__follower_destroy(struct wh_follower **f_p);

/* heartbeat.c */
/* Notes an XPUB (un)subscription message: byte 1 or 0, then the topic. */
void wh__heartbeat_subscription(wh_service_t *svc, const void *msg, size_t len);
/* Heartbeat on the own topic and on every topic subscribed by name, with committed heads. */
void wh__heartbeat_tick(wh_service_t *svc);
void wh__heartbeat_free(wh_service_t *svc);

/* service.c */
void wh__service_queue(wh_service_t *svc, wh_sock_t *sock, size_t n, uint8_t **frames,
                       const size_t *lens);

#endif
