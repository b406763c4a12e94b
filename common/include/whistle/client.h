/* client.h: a blocking request/reply client for a service's ROUTER (whistlectl, tests,
 * benchmarks). A DEALER socket; replies are matched by request_id, stale ones skipped. */
#ifndef WHISTLE_CLIENT_H
#define WHISTLE_CLIENT_H
#include "whistle/auth.h"
#include <whistle/v1/whistle.pb-c.h>

typedef struct wh_client wh_client_t;

/* Connects to `endpoint`. NULL on failure. */
wh_client_t *wh_client_new(const char *endpoint);
/* Connects to a keyed endpoint with key pair `key` and the server's public key (both copied;
 * NULLs: plain ZeroMQ, as wh_client_new). NULL on failure. */
wh_client_t *wh_client_new_keyed(const char *endpoint, const struct wh_keypair *key,
                                 const char *server_public);
/* Sets up another socket of this client's context (a SUB for tail) with the same keys. */
int wh_client_secure(wh_client_t *self, void *zsock);
void wh_client_destroy(wh_client_t **self_p);
/* Sends `req` (request_id is assigned) and waits up to `timeout_ms` for its reply.
 * 0 with *reply_p set (caller frees with whistle__v1__reply__free_unpacked), or WH_ETIMEDOUT /
 * WH_EBUS / WH_EMALFORMED. After a timeout the socket is reopened so a late reply is dropped. */
int wh_client_call(wh_client_t *self, Whistle__V1__Request *req, Whistle__V1__Reply **reply_p,
                   int timeout_ms);

/* Why the last call timed out, from what the connection went through. */
enum wh_client_why {
    WH_CLIENT_NOT_LISTENING = 1, /* no TCP connection was made: nothing listens there */
    WH_CLIENT_KEYS_ON,           /* the server speaks CurveZMQ and we have no keys */
    WH_CLIENT_KEYS_OFF,          /* we have keys and the server has none */
    WH_CLIENT_KEY_REFUSED,       /* the server refused our key (not on its allowlist) */
    WH_CLIENT_HANDSHAKE_FAILED,  /* connected, the handshake did not finish (a wrong server key) */
    WH_CLIENT_NO_ANSWER,         /* connected and greeted, no reply in time (busy or stopped) */
};
int wh_client_why(const wh_client_t *self);

/* A SUB socket to a service's XPUB, for tailing topics. */
void *wh_client_zmq_ctx(wh_client_t *self);

#endif
