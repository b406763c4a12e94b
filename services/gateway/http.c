/* http.c: libmicrohttpd driven from the libuv loop (external epoll mode), request bodies and
 * their bound, suspended answers, and the per-connection request deadline. */
#include "http.h"
#include "params.h"
#include "stats.h"
#include "whistle/clock.h"
#include "whistle/error.h"
#include "whistle/wlog.h"
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Body bytes read and dropped after GW_MAX_BODY before the connection is closed instead. */
#define S_DISCARD_MAX (1024 * 1024)
/* How often connections are checked against their request deadline. */
#define S_SWEEP_MS 200

/* One TCP connection (MHD's socket context): its request deadline. */
struct gw_conn {
    struct gw_conn *prev, *next;
    int fd;
    int64_t deadline; /* wh_mono_ms by which the request must be in whole; 0: none */
};

struct gw_http {
    gateway_t *gw;
    struct MHD_Daemon *d;
    uv_poll_t poll;   /* MHD's epoll fd */
    uv_timer_t timer; /* MHD_get_timeout, or 0 after a resume */
    uv_timer_t sweep; /* request deadlines */
    struct gw_conn *conns;
    int request_timeout_ms;
    unsigned max_connections;
    int in_mhd;  /* inside MHD_run: a resume waits for the next turn */
    int closing; /* handles left to close */
    unsigned port;
};

static void s_run(gw_http_t *self);

static void s_on_timer(uv_timer_t *h)
{
    s_run(h->data);
}

static void s_on_poll(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    s_run(h->data);
}

static unsigned s_connections(const gw_http_t *self)
{
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(self->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return di ? di->num_connections : 0;
}

static void s_run(gw_http_t *self)
{
    if (!self->d) return;
    self->in_mhd = 1;
    unsigned before = s_connections(self);
    MHD_run(self->d);
    /* at the connection limit MHD takes its listening socket out of its epoll set, and puts
     * it back only at the start of a later MHD_run: when this run closed connections, run
     * again, or a client waiting in the backlog would wait for the next timeout */
    if (before >= self->max_connections && s_connections(self) < before) MHD_run(self->d);
    self->in_mhd = 0;
    MHD_UNSIGNED_LONG_LONG t;
    if (MHD_get_timeout(self->d, &t) == MHD_YES)
        uv_timer_start(&self->timer, s_on_timer, t > INT_MAX ? INT_MAX : t, 0);
    else
        uv_timer_stop(&self->timer);
}

void gateway_http_run(gw_http_t *self)
{
    s_run(self);
}

unsigned gateway_http_connections(const gw_http_t *self)
{
    return self->d ? s_connections(self) : 0;
}

static void s_on_sweep(uv_timer_t *h)
{
    gw_http_t *self = h->data;
    int64_t now = wh_mono_ms();
    for (struct gw_conn *c = self->conns; c; c = c->next)
        if (c->deadline && now >= c->deadline) {
            /* MHD cannot answer a request it has not parsed: end the connection. shutdown()
             * leaves the fd to MHD, which sees the end on its next read and closes it. */
            c->deadline = 0;
            shutdown(c->fd, SHUT_RDWR);
            wh_log_debug("a connection did not send its request within %d ms: closed",
                         self->request_timeout_ms);
        }
}

static void s_notify_conn(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    gw_http_t *self = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct gw_conn *c = calloc(1, sizeof *c);
        if (!c) return;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c->fd = ci ? ci->connect_fd : -1;
        c->deadline = wh_mono_ms() + self->request_timeout_ms;
        c->next = self->conns;
        if (c->next) c->next->prev = c;
        self->conns = c;
        *socket_context = c;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct gw_conn *c = *socket_context;
        if (!c) return;
        if (c->prev)
            c->prev->next = c->next;
        else
            self->conns = c->next;
        if (c->next) c->next->prev = c->prev;
        free(c);
        *socket_context = NULL;
    }
}

static struct gw_conn *s_conn(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void s_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                        enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    gw_http_t *self = cls;
    struct gw_req *r = *con_cls;
    struct gw_conn *c = s_conn(conn);
    if (c) c->deadline = wh_mono_ms() + self->request_timeout_ms; /* for the next request */
    if (!r) return;
    *con_cls = NULL;
    if (r->waiting) gateway__forget(self->gw, r);
    if (r->state_free) r->state_free(r->state);
    if (r->resp) MHD_destroy_response(r->resp); /* never queued: frees its stream */
    json_decref(r->acc);
    free(r->path);
    free(r->body);
    free(r->answer);
    free(r);
}

/* Counts an answer queued (stats.h). */
static enum MHD_Result s_counted(struct gw_req *r, enum MHD_Result rc)
{
    if (rc == MHD_YES)
        gateway_stats_answer(gateway__stats(r->gw), r->route, r->status,
                             (double)(uv_hrtime() - r->started_ns) / 1e9);
    return rc;
}

/* Queues the prepared answer. */
static enum MHD_Result s_queue(struct gw_req *r)
{
    if (r->resp) {
        enum MHD_Result rc = MHD_queue_response(r->conn, r->status, r->resp);
        MHD_destroy_response(r->resp); /* MHD keeps its own reference */
        r->resp = NULL;
        return s_counted(r, rc);
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        r->answer_len, r->answer, r->answer ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    r->answer = NULL; /* MHD frees it */
    if (r->ctype) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype);
    if (r->hdr_name[0]) MHD_add_response_header(resp, r->hdr_name, r->hdr_value);
    MHD_add_response_header(resp, "Cache-Control", r->cache ? r->cache : "no-store");
    for (size_t i = 0; r->headers && r->headers[i] && r->headers[i + 1]; i += 2)
        MHD_add_response_header(resp, r->headers[i], r->headers[i + 1]);
    enum MHD_Result rc = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    return s_counted(r, rc);
}

void gateway__http_soon(gw_http_t *self)
{
    /* MHD_run on the next loop turn: not from inside one of MHD's own callbacks */
    if (self->d) uv_timer_start(&self->timer, s_on_timer, 0, 0);
}

static void s_resume(struct gw_req *r)
{
    if (!r->suspended) return;
    r->suspended = 0;
    MHD_resume_connection(r->conn);
    if (!r->http->in_mhd) gateway__http_soon(r->http);
}

void gateway__answer(struct gw_req *r, unsigned status, json_t *body)
{
    if (r->status) {
        json_decref(body);
        return;
    }
    r->status = status;
    if (body) {
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        size_t n = text ? strlen(text) : 0;
        r->answer = text ? realloc(text, n + 2) : NULL;
        if (r->answer) {
            r->answer[n] = '\n';
            r->answer[n + 1] = 0;
            r->answer_len = n + 1;
        } else {
            free(text);
            r->status = 500;
        }
        r->ctype = "application/json; charset=utf-8";
    }
    s_resume(r);
}

void gateway__answer_text(struct gw_req *r, unsigned status, const char *ctype, char *text,
                          size_t len)
{
    if (r->status) {
        free(text);
        return;
    }
    r->status = status;
    r->answer = text;
    r->answer_len = text ? len : 0;
    r->ctype = ctype;
    s_resume(r);
}

int gateway__answer_stream(struct gw_req *r, gateway_read_fn read, void (*free_fn)(void *),
                           void *cls)
{
    if (r->status) return WH_EUSAGE;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read, cls, free_fn);
    if (!resp) return WH_ENOMEM;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    r->resp = resp;
    r->status = 200;
    s_resume(r);
    return 0;
}

void gateway__answer_error(struct gw_req *r, unsigned status, int code, const char *field,
                           const char *message)
{
    gateway__answer(r, status, gateway_error_json(code, field, message, 0, 0));
}

const char *gateway__header(struct gw_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

struct s_args {
    struct gw_query *q;
    struct wh_field_error *err;
    int rc;
};

static enum MHD_Result s_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    struct s_args *a = cls;
    /* the district the request is for: chosen by gateway__dispatch, no route's own argument */
    if (strcmp(key, "jurisdiction_id") == 0) return MHD_YES;
    a->rc = gateway_query_add(a->q, key, value, a->err);
    return a->rc ? MHD_NO : MHD_YES;
}

int gateway__query(struct gw_req *r, struct gw_query *q, struct wh_field_error *err)
{
    memset(q, 0, sizeof *q);
    struct s_args a = {q, err, 0};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, s_arg, &a);
    return a.rc;
}

static enum MHD_Result s_access(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload,
                                size_t *upload_size, void **con_cls)
{
    (void)version;
    gw_http_t *self = cls;
    struct gw_req *r = *con_cls;
    if (!r) {
        /* the headers are in */
        r = calloc(1, sizeof *r);
        if (!r || !(r->path = strdup(url))) {
            free(r);
            return MHD_NO;
        }
        r->gw = self->gw;
        r->http = self;
        r->conn = conn;
        r->started_ns = uv_hrtime();
        r->c = s_conn(conn);
        snprintf(r->method, sizeof r->method, "%s", method);
        *con_cls = r;
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > GW_MAX_BODY) {
            /* answered before the body is read: MHD drops the rest and closes */
            char msg[96];
            snprintf(msg, sizeof msg, "a request body is at most %d bytes", GW_MAX_BODY);
            gateway__answer_error(r, 413, WH_ETOOBIG, "body", msg);
            return s_queue(r);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (r->too_big || r->body_len + n > GW_MAX_BODY) {
            r->too_big = 1;
            r->discarded += n;
            return r->discarded > S_DISCARD_MAX ? MHD_NO : MHD_YES;
        }
        char *b = realloc(r->body, r->body_len + n + 1);
        if (!b) return MHD_NO;
        memcpy(b + r->body_len, upload, n);
        r->body = b;
        r->body_len += n;
        r->body[r->body_len] = 0;
        return MHD_YES;
    }
    /* the request is in whole */
    if (r->c) r->c->deadline = 0;
    if (r->status) return s_queue(r);
    if (r->too_big) {
        char msg[96];
        snprintf(msg, sizeof msg, "a request body is at most %d bytes", GW_MAX_BODY);
        gateway__answer_error(r, 413, WH_ETOOBIG, "body", msg);
        return s_queue(r);
    }
    if (!r->dispatched) {
        r->dispatched = 1;
        gateway__dispatch(self->gw, r);
        if (r->status) return s_queue(r);
    }
    if (!r->waiting) {
        gateway__answer_error(r, 500, WH_EINTERNAL, "", "the request was not answered");
        return s_queue(r);
    }
    r->suspended = 1;
    MHD_suspend_connection(conn);
    return MHD_YES;
}

/* Leaves the URL and arguments as the client sent them: route.c and params.c decode them,
 * and refuse what MHD's own decoding would let through (an encoded NUL). */
static size_t s_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    return strlen(s);
}

static void s_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    if (wh_log_level < WH_LOG_DEBUG) return;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = 0;
    wh_log_debug("http: %s", line);
}

/* "HOST:PORT" or "[V6]:PORT" -> an address. 0, or -1 with `err`. */
static int s_resolve(const char *listen, struct sockaddr_storage *ss, socklen_t *len, int *v6,
                     char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host) {
        snprintf(err, errlen, "--http '%s' is not HOST:PORT", listen);
        return -1;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = 0;
    char *h = host;
    if (h[0] == '[' && h[strlen(h) - 1] == ']') {
        h[strlen(h) - 1] = 0;
        h++;
    }
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo(h, colon + 1, &hints, &ai);
    if (rc || !ai) {
        snprintf(err, errlen, "--http '%s': %s", listen, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    *v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    return 0;
}

gw_http_t *gateway_http_new(uv_loop_t *loop, gateway_t *gw, const struct gw_http_config *cfg)
{
    gw_http_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->gw = gw;
    self->request_timeout_ms = cfg->request_timeout_ms;
    self->max_connections = cfg->max_connections;
    struct sockaddr_storage ss;
    socklen_t sl;
    int v6 = 0;
    char err[300];
    if (s_resolve(cfg->listen, &ss, &sl, &v6, err, sizeof err)) {
        wh_log_error("%s", err);
        free(self);
        return NULL;
    }
    unsigned flags =
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    self->d = MHD_start_daemon(
        flags, 0, NULL, NULL, s_access, self, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg->idle_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
        MHD_OPTION_NOTIFY_COMPLETED, s_completed, self, MHD_OPTION_NOTIFY_CONNECTION, s_notify_conn,
        self, MHD_OPTION_UNESCAPE_CALLBACK, s_unescape, self, MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log,
        self, MHD_OPTION_END);
    if (!self->d) {
        wh_log_error("cannot listen on http://%s (in use, or not an address of this host: set "
                     "--http HOST:PORT)",
                     cfg->listen);
        free(self);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(self->d, MHD_DAEMON_INFO_EPOLL_FD);
    const union MHD_DaemonInfo *pi = MHD_get_daemon_info(self->d, MHD_DAEMON_INFO_BIND_PORT);
    self->port = pi ? pi->port : 0;
    uv_poll_init(loop, &self->poll, di->epoll_fd);
    uv_timer_init(loop, &self->timer);
    uv_timer_init(loop, &self->sweep);
    self->poll.data = self->timer.data = self->sweep.data = self;
    uv_poll_start(&self->poll, UV_READABLE, s_on_poll);
    uv_timer_start(&self->sweep, s_on_sweep, S_SWEEP_MS, S_SWEEP_MS);
    s_run(self);
    return self;
}

unsigned gateway_http_bound_port(const gw_http_t *self)
{
    return self->port;
}

void gateway_http_quiesce(gw_http_t *self)
{
    if (!self->d) return;
    MHD_socket s = MHD_quiesce_daemon(self->d);
    if (s != MHD_INVALID_SOCKET) close(s);
}

static void s_on_close(uv_handle_t *h)
{
    gw_http_t *self = h->data;
    if (--self->closing == 0) free(self);
}

void gateway_http_destroy(gw_http_t **self_p)
{
    if (!self_p || !*self_p) return;
    gw_http_t *self = *self_p;
    *self_p = NULL;
    uv_poll_stop(&self->poll);
    if (self->d) MHD_stop_daemon(self->d);
    self->d = NULL;
    self->closing = 3;
    uv_close((uv_handle_t *)&self->poll, s_on_close);
    uv_close((uv_handle_t *)&self->timer, s_on_close);
    uv_close((uv_handle_t *)&self->sweep, s_on_close);
}
