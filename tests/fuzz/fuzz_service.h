/* fuzz_service.h: driving one in-process service from a fuzzer, and the upstream entries and
 * requests the seed generator and the targets share.
 *
 * A target makes its service once (LLVMFuzzerInitialize) and attaches a wh_fuzz_svc: a DEALER
 * on the service's ROUTER (with a fixed routing id, so a request handed to wh_service_handle
 * "from" that peer is answered to it) and a SUB on its XPUB. Per input it hands one Request
 * frame to the dispatch (wh_fuzz_svc_request) or one Envelope to a follower's apply
 * (wh_fuzz_svc_apply), commits, and checks what an outsider would see:
 *   - every request is answered exactly once, with its request_id;
 *   - every string in a reply and in every published envelope is valid UTF-8;
 *   - an upstream entry is applied or recorded as not applicable, never a storage failure
 *     (which would fail the batch and retry the same entry for ever).
 * A violation prints what it saw and aborts, so libFuzzer keeps the input. */
#ifndef WHISTLE_FUZZ_SERVICE_H
#define WHISTLE_FUZZ_SERVICE_H
#include "whistle/service.h"
#include <stddef.h>
#include <stdint.h>

struct wh_fuzz_svc {
    wh_service_t *svc;    /* the service under test (not owned) */
    void *zctx;           /* the client side's ZeroMQ context */
    void *dealer;         /* on the service's ROUTER, routing id "fuzz" */
    void *sub;            /* on the service's XPUB, every topic */
    struct wh_peer peer;  /* the DEALER as the ROUTER knows it */
    uint64_t marker;      /* request_id of the Ping sent after an input */
    uint64_t next_seq[4]; /* per follower (wh_fuzz_svc_apply's `slot`): the next seq to apply */
};

/* Turns keys on in `o` (call before the service is made): a server key pair, a key for the
 * service's followers and one for the fuzzer's own sockets, made in the fuzz folder, and an
 * allowlist of the last two. The fuzzer then says who asks each request (see WH_FUZZ_AS). */
void wh_fuzz_keys(struct wh_options *o);

/* With keys on, the identity a request is handled as is picked by its request_id % 8, so a
 * mutation of the id changes who asks: */
enum {
    WH_FUZZ_AS_OPERATOR = 0, /* operator:ops */
    WH_FUZZ_AS_SERVICE,      /* service:routing */
    WH_FUZZ_AS_CG,           /* department:cg */
    WH_FUZZ_AS_SCJG,         /* department:scjg */
    WH_FUZZ_AS_NORTH,        /* township:north */
    WH_FUZZ_AS_SOUTH,        /* township:south */
    WH_FUZZ_AS_APP,          /* integrator:app */
    WH_FUZZ_AS_YJGL,         /* department:yjgl */
};
/* A request_id (the n-th) that is handled as `who` (WH_FUZZ_AS_...). */
#define WH_FUZZ_AS(who, n) ((uint64_t)(n)*8 + (who))

/* Connects to `svc`'s endpoints and waits (driving its loop, with a deadline) until a Ping is
 * answered and the subscription is in place. Aborts when it cannot. */
void wh_fuzz_svc_attach(struct wh_fuzz_svc *f, wh_service_t *svc);

/* Hands `data` to the dispatch as one request frame, then a Ping, commits, and checks the
 * answers (above). */
void wh_fuzz_svc_request(struct wh_fuzz_svc *f, const uint8_t *data, size_t size);

/* Applies `env` as follower `upstream` (its next seq in next_seq[slot], which this moves),
 * commits, and checks. Returns wh_service_apply's result. */
int wh_fuzz_svc_apply(struct wh_fuzz_svc *f, const char *upstream, int slot,
                      Whistle__V1__Envelope *env);

/* Checks every string of `m` (nested messages and repeated fields included) is valid UTF-8;
 * the first that is not is named in `where` (>= 128 bytes). 1 valid, 0 not. */
int wh_fuzz_utf8_deep(const ProtobufCMessage *m, char *where, size_t len);

/* ---- shared inputs (seed corpus and the targets' starting state) ------------------------ */

/* Applies cases C00000001..WH_FUZZ_CASES as `upstream` announces them ("intake":
 * case.reported, "routing": case.dispatched) through its follower (slot 0), so a target has
 * cases to act on; aborts if one cannot be made. */
void wh_fuzz_svc_seed_cases(struct wh_fuzz_svc *f, const char *upstream);

/* How many cases the builders below know: C00000001 .. C0000000<WH_FUZZ_CASES>. */
#define WH_FUZZ_CASES 4

/* Packs intake's case.reported of case n (1-based) at `at_ms`. Caller frees. */
uint8_t *wh_fuzz_reported(int n, int64_t at_ms, size_t *len);
/* Packs routing's case.dispatched of case n (n % 4 == 0: a case.refused) at `at_ms`. */
uint8_t *wh_fuzz_dispatched(int n, int64_t at_ms, size_t *len);
/* Packs routing's case.escalated of case n ("raise" to TOUGH, a coordinator added). */
uint8_t *wh_fuzz_escalated(int n, int64_t at_ms, size_t *len);
/* Packs tracking's case.updated of case n after action `action` (Whistle__V1__Action). */
uint8_t *wh_fuzz_updated(int n, int action, int64_t at_ms, size_t *len);
/* Packs tracking's visit.logged. */
uint8_t *wh_fuzz_visit(int n, int64_t at_ms, size_t *len);

/* Calls `emit(arg, name, bytes, len)` for every seed request of `service` ("intake", ...):
 * every kind of request it serves, valid, plus Ping and Replay. */
void wh_fuzz_requests(const char *service,
                      void (*emit)(void *, const char *, const uint8_t *, size_t), void *arg);

#endif
