/* gateway.h: whistle-gateway, the HTTP door to the four services.
 *
 * One process, one libuv loop, no thread of its own: libmicrohttpd runs in its external epoll
 * mode on the loop (http.c), every backend request is an asynchronous DEALER request matched
 * by request_id (backend.c), and an HTTP answer that waits on a backend is suspended until the
 * reply or the timeout comes. The gateway keeps no truth of its own: no store, no tables. It
 * acts for its callers through `Request.on_behalf`, so the services' own rules decide. */
#ifndef GATEWAY_H
#define GATEWAY_H
#include "whistle/auth.h"
#include "whistle/codec.h"
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>
#include <whistle/v1/whistle.pb-c.h>

/* The four services, in the order of whistle's chain. */
enum gateway_backend_id { GW_INTAKE = 0, GW_ROUTING, GW_TRACKING, GW_NOTIFICATION, GW_N_BACKENDS };

/* Largest request body the gateway reads; larger: 413. */
#define GW_MAX_BODY (64 * 1024)

struct gateway_config {
    const char *http;                  /* --http HOST:PORT (default 127.0.0.1:7080) */
    const char *api[GW_N_BACKENDS];    /* --intake-api ...: the services' ROUTERs */
    const char *events[GW_N_BACKENDS]; /* --intake-events ...: their XPUBs */
    unsigned max_connections;          /* --max-connections: concurrent HTTP connections */
    int backend_timeout_ms;            /* --backend-timeout-ms: a backend's answer, else 503 */
    int request_timeout_ms; /* --request-timeout-ms: a whole request must arrive within */
    int idle_timeout_s;     /* --idle-timeout-s: an idle connection is closed after */
    int sse_heartbeat_ms;   /* --sse-heartbeat-ms: a comment on every event stream */
    const char *api_keys;   /* --api-keys FILE: bearer keys '<key> <kind> <code>' */
    int open;               /* --open: no API keys, every caller acts as an operator */
    int metrics_open;       /* --metrics-open: GET /metrics without an API key */
    const char *key;        /* --key FILE: own CurveZMQ key pair (keyed deployments) */
    const char *server_key; /* --server-key FILE: the services' public key */
    const char *log_level;  /* --log-level */
    const char *catalog;    /* --catalog FILE: the district catalog (Open311's services) */
    const char *districts;  /* --districts FILE: several districts (district.h), or NULL */
    const char *web;        /* --web DIR: the dashboard's files (NULL: found, web.h) */
};

/* Parses argv and the WHISTLE_* environment. 1: --help or --version printed; -1: bad usage
 * (printed); 0: run. */
int gateway_options_parse(struct gateway_config *cfg, int argc, char **argv);

typedef struct gateway gateway_t;

/* Creates the loop, the DEALERs and the HTTP daemon. NULL on failure (logged). */
gateway_t *gateway_new(const struct gateway_config *cfg);
/* Answers what waits, closes every handle and frees; safe on NULL, sets NULL. */
void gateway_destroy(gateway_t **self_p);
/* Runs until SIGTERM/SIGINT or gateway_stop. 0 on a clean stop. */
int gateway_run(gateway_t *self);
void gateway_stop(gateway_t *self);
/* The bound HTTP port (useful with port 0). */
unsigned gateway_http_port(const gateway_t *self);

/* ---- shared inside the gateway (gateway__ names) ---------------------------------------- */

struct gw_req;
struct gw_query;
struct gw_route;
typedef void (*gateway_reply_fn)(struct gw_req *r, int svc, const Whistle__V1__Reply *reply,
                                 int err);

/* One HTTP request in flight (MHD's per-request context). */
struct gw_req {
    gateway_t *gw;
    struct gw_http *http; /* the daemon it came through */
    struct MHD_Connection *conn;
    struct gw_conn *c; /* its connection's deadline record */
    char method[12];   /* "GET" ("HEAD" is served as GET) */
    char *path;        /* the raw path, not yet decoded (http.c unescapes nothing) */
    char *body;        /* the request body, NUL-terminated */
    size_t body_len;
    int too_big;      /* the body passed GW_MAX_BODY: answered 413 */
    size_t discarded; /* body bytes dropped after that */
    int dispatched;   /* handed to the API */
    int suspended;    /* MHD_suspend_connection in force */
    int waiting;      /* backend calls not yet answered */
    unsigned status;  /* the prepared answer: status, body, content type */
    char *answer;
    size_t answer_len;
    const char *ctype;
    char hdr_name[32]; /* one extra answer header (Allow, WWW-Authenticate), or "" */
    char hdr_value[96];
    const char *cache;          /* Cache-Control of a buffered answer (NULL: no-store) */
    const char *const *headers; /* more static headers: name, value, ..., NULL; or NULL */
    struct wh_identity who;     /* the caller (kind NONE with --open) */
    int district;               /* the district it is for (index; -1 until chosen, dispatch) */
    char key_district[33];      /* its key's district ("" none: one district, or the city's) */
    int key_elsewhere;          /* its key was listed, but for another district */
    char key[160];              /* its bearer key ("" with --open or a ticket; keys.h) */
    json_t *acc;                /* handler state (readyz collects its answers here) */
    gateway_reply_fn reply_fn;  /* the handler's answer to its backend calls */
    void *resp;                 /* a prepared streaming answer (struct MHD_Response), or NULL */

    const struct gw_route *route; /* the route it matched, or NULL (stats: route "none") */
    uint64_t started_ns;          /* uv_hrtime() when its headers were in */
    void *state;                  /* handler state, freed with the request by state_free */
    void (*state_free)(void *state);
};

/* Prepares the answer (takes `body`; NULL: no body) and resumes the connection if it was
 * suspended. Later answers to the same request are ignored. */
void gateway__answer(struct gw_req *r, unsigned status, json_t *body);
/* The same with a text body of `len` bytes (takes `text`, malloc'd) and its content type. */
void gateway__answer_text(struct gw_req *r, unsigned status, const char *ctype, char *text,
                          size_t len);
/* A JSON error answer: {"error":{"code","field","message"[,"state"]}}. */
void gateway__answer_error(struct gw_req *r, unsigned status, int code, const char *field,
                           const char *message);
/* Handles a request whose headers and body are in: answers it or starts backend calls. */
void gateway__dispatch(gateway_t *gw, struct gw_req *r);
/* The value of a request header, or NULL. */
const char *gateway__header(struct gw_req *r, const char *name);
/* Answers `r` with a stream (200, text/event-stream): MHD calls `read` for more bytes and
 * `free_fn` when the response is done (types as MHD's content reader). 0 or WH_ENOMEM. */
typedef ssize_t (*gateway_read_fn)(void *cls, uint64_t pos, char *buf, size_t max);
int gateway__answer_stream(struct gw_req *r, gateway_read_fn read, void (*free_fn)(void *),
                           void *cls);
/* Runs MHD on the next loop turn (after a connection was resumed outside its callbacks). */
void gateway__http_soon(struct gw_http *http);
/* The event streams (stream.h). */
struct gw_streams *gateway__streams(gateway_t *gw, int district);
/* The gateway's own counters (stats.h), HTTP daemon and backend sockets. */
struct gw_stats *gateway__stats(gateway_t *gw);
struct gw_http *gateway__http(gateway_t *gw);
struct gw_backend *gateway__backend(gateway_t *gw, int district);
/* The request's query arguments, decoded (params.h). 0, or WH_EFIELD naming the argument. */
int gateway__query(struct gw_req *r, struct gw_query *q, struct wh_field_error *err);

/* Sends `req` (request_id is set here; on_behalf from r->who unless trusted or none) to the
 * service `svc` of the request's district (r->district). `fn` is called once: with the reply, or
 * with NULL and WH_ETIMEDOUT after the backend timeout. Returns 0, or WH_EBUS when the service is
 * not connected (fn not called). */
int gateway__call(gateway_t *gw, struct gw_req *r, int svc, Whistle__V1__Request *req,
                  gateway_reply_fn fn);
/* The same to the service `svc` of district `district` (city-level answers ask each). */
int gateway__call_in(gateway_t *gw, struct gw_req *r, int district, int svc,
                     Whistle__V1__Request *req, gateway_reply_fn fn);
/* The calls of `r` will not call back (its connection went away). */
void gateway__forget(gateway_t *gw, struct gw_req *r);
/* The name of a backend ("tracking"). */
const char *gateway__backend_name(int svc);
/* The configuration, the API key check, the loop. */
const struct gateway_config *gateway__config(const gateway_t *gw);
/* The districts: how many, one's code (its jurisdiction_id), the index of a code (-1: none). */
int gateway__n_districts(const gateway_t *gw);
const char *gateway__district_code(const gateway_t *gw, int district);
int gateway__district_find(const gateway_t *gw, const char *code);
/* "district 'east': " before a backend's failure when the gateway serves several, else "". */
const char *gateway__district_where(struct gw_req *r);
/* The district's codes, ", "-separated, into buf (for errors that list them). */
void gateway__district_list(const gateway_t *gw, char *buf, size_t size);
/* A district's catalog (read once at start; a district < 0 is the first) and when its file
 * last changed. */
const struct wh_catalog *gateway__catalog(const gateway_t *gw, int district);
int64_t gateway__catalog_mtime_ms(const gateway_t *gw, int district);
/* The dashboard's folder (web.h), or NULL when there is none. */
const char *gateway__web_dir(const gateway_t *gw);
/* The event streams' one-time tickets (ticket.h). */
struct gw_tickets *gateway__tickets(gateway_t *gw);
/* The gateway's loop (for a handler's timers). */
uv_loop_t *gateway__loop(gateway_t *gw);
/* 1 and `who` filled when `key` is an API key on the list that may act in r's district, else
 * 0. A key with a district (its 4th field) acts in that district only (r->key_district is set
 * to it, and r->key_elsewhere when r is for another); a key without one acts in the only
 * district, or, with several, is the city's and must be an operator's (keys.h). */
int gateway__key_lookup(const gateway_t *gw, struct gw_req *r, const char *key,
                        struct wh_identity *who);
/* 1 when r's caller speaks for the whole city (--open, or an operator key with no district). */
int gateway__city_caller(const gateway_t *gw, const struct gw_req *r);

#endif
