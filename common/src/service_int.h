/* service_int.h: the parts of a service that service.c and follower.c share (not exported). */
#ifndef WHISTLE_SERVICE_INT_H
#define WHISTLE_SERVICE_INT_H
#include "whistle/service.h"
#include "whistle/link.h"
#include "whistle/metrics.h"

#define WH_MAX_FOLLOWERS 4
/* The I/O threads of a service's ZeroMQ context (see wh_service_new): thread WH_IO_OWN carries
 * the service's own ROUTER and XPUB, follower i (in the order wh_service_follow was called)
 * thread WH_IO_FOLLOWER(i), so no upstream's name resolution ever holds up another's. */
#define WH_IO_OWN 0
#define WH_IO_FOLLOWER(i) (1 + (i))
#define WH_IO_THREADS (1 + WH_MAX_FOLLOWERS)
#define WH_REPLAY_BATCH 512
#define WH_REPLAY_BYTES (512 * 1024)
#define WH_REPLAY_TIMEOUT_MS 3000
/* Topics subscribed by name that get a heartbeat of their own; more are served, unannounced. */
#define WH_MAX_SUB_TOPICS 4096
/* The XPUB's default send high-water mark, per subscriber, in messages: what a stalled
 * subscriber can hold of the service's memory (10,000 x a typical 0.6 KiB envelope ~ 6 MiB;
 * it catches up by replay). */
#define WH_EVENTS_HWM 10000
/* The ROUTER's high-water marks, per peer, in messages. */
#define WH_API_HWM 10000
/* Bytes of replies one peer may have queued and unread; past it a request is answered EBUSY
 * (a small error) instead. Counted exactly: each reply is handed to ZeroMQ without a copy and
 * its free callback, run when ZeroMQ has written or dropped it, gives the bytes back. */
#define WH_PEER_QUEUE_BYTES (8u * 1024 * 1024)
/* Bytes of replies and publications one batch may hold before the ROUTER stops reading and the
 * batch commits. */
#define WH_BATCH_BYTES (32u * 1024 * 1024)
/* Publications one batch may queue before it stops reading every input and commits: what one
 * pass of sends puts in front of a subscriber at once. Kept well under the XPUB's high-water
 * mark (one more input may add a replay page's fan-out: 512 entries x ~6 topics), so a
 * subscriber that keeps up is never dropped by a burst, only one that stops reading. */
#define WH_BATCH_EVENTS 4096
/* Retry of a failed batch's upstream work: from this, doubling, to WH_RETRY_MAX_MS. */
#define WH_RETRY_MIN_MS 100
#define WH_RETRY_MAX_MS 5000
/* While storage keeps failing for one cause, a reminder line at most this often. */
#define WH_FAIL_LOG_MS 60000

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
    uint64_t not_applied;     /* entries recorded as not applicable since start */
    uint64_t skip_seq;        /* refused after it wrote: not applicable when it comes again */
    uint64_t replay_id;       /* request id of the latest replay request */
    uint64_t replay_from;     /* ... and the sequence it asked from */
    char stopped[512];        /* "" or why the follower stopped (its upstream diverged) */
    int64_t heard_ms;         /* monotonic time anything (entry, heartbeat, reply) last came */
    int silent;               /* silent past wh_link_timeout_ms: replay when heard again */
};

/* What a queued send depends on. */
enum wh_out_kind {
    WH_OUT_EVENT,  /* a publication of the batch: sent only if the batch commits */
    WH_OUT_REPLY,  /* an answer decided in the batch: sent only if it commits */
    WH_OUT_REFUSAL,/* a refusal decided in the batch: sent only if it commits (the state it was
                      decided on may be undone); kept when its own step is undone */
    WH_OUT_FIXED,  /* independent of the batch (Ping, "storage failed"): always sent */
};

/* Queued send, done after the batch commits. */
struct wh_out {
    wh_sock_t *sock;
    int kind;           /* enum wh_out_kind */
    struct wh_peerq *q; /* a reply: its peer, whose queued bytes count it; else NULL */
    size_t n;
    uint8_t *frame[3];  /* malloc'd (frame[k] may be NULL with len 0 for an empty frame) */
    size_t len[3];
    int req;            /* a reply: the Request's body case it answers (0: unknown) ... */
    int code;           /* ... and its outcome (0 or the Error's code): counted when sent */
};

/* A request of the open batch: answered ESTORE if the batch fails; run again if the batch is
 * redone (see wh__service_step_end), or, if it is the input that was refused after writing,
 * answered with its refusal. */
struct wh_batch_req {
    struct wh_peer peer;
    uint8_t *frame;           /* the Request as received, malloc'd */
    size_t len;
    int body;                 /* the Request's body case (Stats: requests by type) */
    int poisoned;             /* refused after it wrote: not run again */
    int async;                /* answered by a read off the loop: neither ESTORE nor run again */
    int code;                 /* ... its code */
    struct wh_out refusal;    /* ... and the refusal it queued (n 0: none) */
};

/* Answers sent, by request type and outcome (whistle_requests_total). */
struct wh_reqcount {
    int req;                  /* Request body case, 0: unknown (undecodable, no body) */
    int code;                 /* 0: ok, else the Error's code */
    uint64_t n;
};

/* Bytes of replies queued in ZeroMQ for one ROUTER peer (see WH_PEER_QUEUE_BYTES). */
struct wh_peerq {
    uint8_t id[256];
    size_t id_len;
    _Atomic size_t bytes;     /* added here, given back by the free callback (I/O thread) */
    struct wh_peerq *next;
    int warned;               /* logged once per overflow episode */
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
    uv_timer_t retry;         /* after a failed batch: the followers ask again */
    uv_signal_t sigterm, sigint;
    struct wh_out *out;
    size_t n_out, cap_out;
    size_t out_bytes;         /* bytes queued in this batch (bounded by WH_BATCH_BYTES) */
    size_t out_events;        /* publications queued in this batch (WH_BATCH_EVENTS) */
    struct wh_batch_req *reqs; /* requests answered from this batch */
    size_t n_reqs, cap_reqs;
    int redo;                 /* an input wrote, then was refused: the batch is done again
                                 without it (its writes are then undone) */
    uint64_t step_writes;     /* the store's write count when the open step began */
    size_t step_mark;         /* n_out when the open step began */
    int step_answers;         /* answers queued by the open step's request */
    int in_request;           /* the open step is a request (answers are counted) */
    uint64_t step_head;       /* batch_head when the open step began */
    struct wh_peerq *peerq[64]; /* ROUTER peers with replies queued, by hash of their id */
    /* storage failures: logged once per cause, with counts, and retried with backoff */
    char fail_cause[160];     /* the cause being reported, "" when healthy */
    uint64_t failed_batches;  /* since start */
    uint64_t fail_run;        /* consecutive failed batches for fail_cause */
    int64_t fail_since_ms;    /* monotonic time of the first of them */
    int64_t fail_logged_ms;   /* when it was last logged */
    int64_t retry_ms;         /* current backoff, 0 when healthy */
    int64_t retry_at_ms;      /* followers ask again no sooner than this */
    struct wh_follower *followers[WH_MAX_FOLLOWERS];
    size_t n_followers;
    char **subs;              /* topics subscribed by name (heartbeat.c), malloc'd */
    uint32_t *sub_refs;       /* ... and how many vetted subscriptions each has */
    size_t n_subs, cap_subs;
    uint64_t head;            /* committed head of the own stream */
    uint64_t batch_head;      /* head including the open batch */
    int64_t started_ms;
    int stopping;
    /* Stats (docs/metrics.md) */
    int cur_req;              /* body case of the request being answered: tags its replies */
    struct wh_reqcount *reqcounts; /* answers sent, by type and outcome, malloc'd */
    size_t n_reqcounts, cap_reqcounts;
    struct wh_histogram commit_time; /* durable commits, in seconds (their count: commits) */
    uint64_t published;       /* publications of log entries handed to the XPUB */
    uint64_t publish_failed;  /* ... and those zmq_send refused */
    /* reads off the loop (wh_service_read_async) */
    int n_reads;              /* in flight: work queued or running, done not yet run */
    int read_answers;         /* answers given by the done callback running now */
};

/* follower.c */
void wh__follower_after_commit(struct wh_follower *f, int committed);
void wh__follower_tick(struct wh_follower *f, int64_t now_mono);
/* Stops reading the upstream's live entries and replay pages until the batch is committed. */
void wh__follower_yield(struct wh_follower *f);
int wh__follower_save(struct wh_follower *f, MDB_txn *txn);
void wh__follower_destroy(struct wh_follower **f_p);
/* 1 when nothing came from the upstream for longer than wh_link_timeout_ms (a partition, the
 * upstream down): the follower is not caught up. */
int wh__follower_silent(const struct wh_follower *f, int64_t now_mono);

/* heartbeat.c */
/* Notes an XPUB (un)subscription message: byte 1 or 0, then the topic. */
void wh__heartbeat_subscription(wh_service_t *svc, const void *msg, size_t len);
/* Heartbeat on the own topic and on every topic subscribed by name, with committed heads. */
void wh__heartbeat_tick(wh_service_t *svc);
void wh__heartbeat_free(wh_service_t *svc);

/* service.c */
void wh__service_queue(wh_service_t *svc, wh_sock_t *sock, int kind, size_t n, uint8_t **frames,
                       const size_t *lens);
/* Opens a step for one input, in the batch's txn. NULL: storage failure. */
MDB_txn *wh__service_step_begin(wh_service_t *svc);
/* Ends the step with the input's result `rc` and returns it: 0 keeps it; a storage error fails
 * the batch; any other code is a decision about the input: what it queued is dropped (its
 * refusals kept), and if it wrote anything the batch is redone without it at the commit
 * (wh__service_redoing is then 1: the caller remembers which input to leave out). */
int wh__service_step_end(wh_service_t *svc, int rc);
/* 1 when the open batch will be redone: inputs wait for the redo (requests are kept and run
 * again, upstream entries come back by replay, expiries by their timer). */
int wh__service_redoing(const wh_service_t *svc);
/* 1 while followers and timers must wait before retrying after a failed batch. */
int wh__service_backing_off(const wh_service_t *svc, int64_t now_mono);

/* Puts the connections a zmq socket binds or connects after this call on I/O thread `thread`
 * of its context (ZMQ_AFFINITY). 0 or WH_EBUS. */
int wh__io_affinity(void *zsock, int thread);

#endif
