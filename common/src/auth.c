/* auth.c: CurveZMQ for whistle's endpoints: key files, the allowlist (public key -> identity)
 * and the ZAP handler (RFC 27) on the service's loop, which accepts a CURVE peer only when its
 * key is on the allowlist and names it "<kind>:<code>" in the connection's User-Id. The
 * allowlist is read again whenever its file changes, so an operator adds a department's key
 * without a restart (it is watched: stat'ed every WH_ALLOW_POLL_MS). A reload that removes a key
 * or changes its identity is reported (wh_auth_on_revoke): connections already open keep the
 * User-Id they were given, so the service must make every peer connect again. */
#include "whistle/auth.h"
#include "whistle/bus.h"
#include "whistle/codec.h"
#include "whistle/error.h"
#include "whistle/wlog.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

static const char *const s_kinds[] = {"none",     "department", "township", "integrator",
                                      "service",  "operator",   "station",  "volunteer"};

int wh_kind_parse(const char *s)
{
    for (int i = 1; i < (int)(sizeof s_kinds / sizeof *s_kinds); i++)
        if (s && strcmp(s, s_kinds[i]) == 0) return i;
    return 0;
}

const char *wh_kind_name(int kind)
{
    return kind > 0 && kind < (int)(sizeof s_kinds / sizeof *s_kinds) ? s_kinds[kind] : "none";
}

int wh_identity_parse(const char *user_id, struct wh_identity *out)
{
    memset(out, 0, sizeof *out);
    if (!user_id || !user_id[0]) return 0;
    const char *colon = strchr(user_id, ':');
    char kind[16];
    if (!colon || (size_t)(colon - user_id) >= sizeof kind) return WH_EFIELD;
    memcpy(kind, user_id, (size_t)(colon - user_id));
    kind[colon - user_id] = 0;
    out->kind = wh_kind_parse(kind);
    if (!out->kind || !wh_code_valid(colon + 1)) {
        out->kind = WH_KIND_NONE;
        return WH_EFIELD;
    }
    snprintf(out->code, sizeof out->code, "%s", colon + 1);
    return 0;
}

int wh_identity_trusted(const struct wh_identity *who)
{
    return who->kind == WH_KIND_SERVICE || who->kind == WH_KIND_OPERATOR;
}

/* ---- key files ------------------------------------------------------------------------- */

static int s_z85_valid(const char *s)
{
    if (strlen(s) != 40) return 0;
    uint8_t bin[32];
    return zmq_z85_decode(bin, s) != NULL;
}

/* The value after "public-key"/"secret-key": "<z85>", or CZMQ's = "<z85>". '=' is a Z85
 * digit, so it is a separator only when a space or a quote follows it. */
static char *s_value(char *p)
{
    while (*p == ' ' || *p == '\t') p++;
    if (p[0] == '=' && (p[1] == ' ' || p[1] == '\t' || p[1] == '"')) {
        p++;
        while (*p == ' ' || *p == '\t') p++;
    }
    if (*p == '"') p++;
    size_t n = strlen(p);
    while (n && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '"'))
        p[--n] = 0;
    return p;
}

int wh_keypair_load(const char *path, int need_secret, struct wh_keypair *kp, char *err,
                    size_t errlen)
{
    memset(kp, 0, sizeof *kp);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return WH_ENOTFOUND;
    }
    char line[256];
    int rc = 0, lineno = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '#' || *p == '\n' || *p == 0) continue;
        char *dst = NULL;
        if (strncmp(p, "public-key", 10) == 0) {
            dst = kp->public_key;
            p += 10;
        } else if (strncmp(p, "secret-key", 10) == 0) {
            dst = kp->secret_key;
            p += 10;
        } else {
            continue; /* other lines (CZMQ's "curve", "metadata") carry nothing we need */
        }
        p = s_value(p);
        if (!s_z85_valid(p)) {
            snprintf(err, errlen, "%s:%d: not a 40-character Z85 key", path, lineno);
            rc = WH_EFIELD;
            break;
        }
        memcpy(dst, p, 41);
    }
    fclose(f);
    if (rc) return rc;
    if (need_secret && !kp->secret_key[0]) {
        snprintf(err, errlen, "%s: no secret-key line (is it the .pub file? the .key is needed)",
                 path);
        return WH_EFIELD;
    }
    if (kp->secret_key[0] && !kp->public_key[0] &&
        zmq_curve_public(kp->public_key, kp->secret_key) != 0) {
        snprintf(err, errlen, "%s: cannot derive the public key", path);
        return WH_EFIELD;
    }
    if (!kp->public_key[0]) {
        snprintf(err, errlen, "%s: no public-key line", path);
        return WH_EFIELD;
    }
    return 0;
}

static int s_write(const char *path, mode_t mode, const char *text, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return errno == EEXIST ? WH_EUSAGE : WH_ESTORE;
    }
    size_t n = strlen(text);
    int ok = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
    if (close(fd) != 0) ok = 0;
    if (!ok) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        unlink(path);
        return WH_ESTORE;
    }
    return 0;
}

int wh_keypair_generate(const char *base, struct wh_keypair *kp, char *err, size_t errlen)
{
    char key[4096], pub[4096], text[512];
    if (snprintf(key, sizeof key, "%s.key", base) >= (int)sizeof key) {
        snprintf(err, errlen, "%s: name too long", base);
        return WH_EUSAGE;
    }
    snprintf(pub, sizeof pub, "%s.pub", base);
    if (access(key, F_OK) == 0 || access(pub, F_OK) == 0) {
        snprintf(err, errlen, "%s.key or %s.pub exists already; not overwritten", base, base);
        return WH_EUSAGE;
    }
    if (zmq_curve_keypair(kp->public_key, kp->secret_key) != 0) {
        snprintf(err, errlen, "this libzmq has no CURVE support: %s", zmq_strerror(zmq_errno()));
        return WH_EUSAGE;
    }
    const char *name = strrchr(base, '/') ? strrchr(base, '/') + 1 : base;
    snprintf(text, sizeof text,
             "# whistle CurveZMQ key pair '%s': keep this file secret\n"
             "public-key %s\nsecret-key %s\n",
             name, kp->public_key, kp->secret_key);
    int rc = s_write(key, 0600, text, err, errlen);
    if (rc) return rc;
    snprintf(text, sizeof text,
             "# whistle CurveZMQ public key '%s': give this one out (allowlist, --server-key)\n"
             "public-key %s\n",
             name, kp->public_key);
    rc = s_write(pub, 0644, text, err, errlen);
    if (rc) unlink(key);
    return rc;
}

int wh_curve_client(void *zsock, const struct wh_keypair *mine, const char *server_public)
{
    if (zmq_setsockopt(zsock, ZMQ_CURVE_SERVERKEY, server_public, 40) != 0 ||
        zmq_setsockopt(zsock, ZMQ_CURVE_PUBLICKEY, mine->public_key, 40) != 0 ||
        zmq_setsockopt(zsock, ZMQ_CURVE_SECRETKEY, mine->secret_key, 40) != 0) {
        wh_log_error("CURVE client keys refused: %s", zmq_strerror(zmq_errno()));
        return WH_EBUS;
    }
    return 0;
}

/* ---- the allowlist ------------------------------------------------------------------------ */

/* The keys read so far, to refuse one listed twice. */
struct s_seen {
    char **keys;
    size_t n, cap;
};

static int s_seen_add(struct s_seen *s, const char *key)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **k = realloc(s->keys, cap * sizeof *k);
        if (!k) return WH_ENOMEM;
        s->keys = k;
        s->cap = cap;
    }
    if (!(s->keys[s->n] = strdup(key))) return WH_ENOMEM;
    s->n++;
    return 0;
}

int wh_key_file_read(const char *path, wh_key_check_fn check, const char *extra,
                     wh_key_add_fn add, void *arg, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return WH_ENOTFOUND;
    }
    struct s_seen seen = {0};
    char line[512], msg[160];
    int rc = 0, lineno = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *save = NULL;
        struct wh_key_line l = {0};
        l.key = strtok_r(line, " \t\r\n", &save);
        if (!l.key || l.key[0] == '#') continue;
        const char *kind = strtok_r(NULL, " \t\r\n", &save);
        l.code = strtok_r(NULL, " \t\r\n", &save);
        l.extra = strtok_r(NULL, " \t\r\n", &save);
        const char *more = l.extra && l.extra[0] != '#' ? strtok_r(NULL, " \t\r\n", &save) : NULL;
        if (l.extra && l.extra[0] == '#') l.extra = NULL;
        int extra_bad = l.extra && (!extra || !wh_code_valid(l.extra) || (more && more[0] != '#'));
        if (check(l.key, msg, sizeof msg)) {
            wh_snprintf_utf8(err, errlen, "%s:%d: %s", path, lineno, msg);
            rc = WH_EFIELD;
        } else if (!kind || !(l.kind = wh_kind_parse(kind))) {
            wh_snprintf_utf8(err, errlen,
                             "%s:%d: kind '%s' unknown (department, township, integrator, "
                             "service, operator)",
                             path, lineno, kind ? kind : "");
            rc = WH_EFIELD;
        } else if (!l.code || !wh_code_valid(l.code) || extra_bad) {
            snprintf(err, errlen, "%s:%d: a line is '<key> <kind> <code>%s%s%s', the code%s 1..32 of "
                                  "[a-z0-9-]",
                     path, lineno, extra ? " [<" : "", extra ? extra : "", extra ? ">]" : "",
                     extra ? "s" : "");
            rc = WH_EFIELD;
        } else {
            for (size_t i = 0; i < seen.n && rc == 0; i++)
                if (strcmp(seen.keys[i], l.key) == 0) {
                    snprintf(err, errlen, "%s:%d: key listed twice (first on another line)",
                             path, lineno);
                    rc = WH_EFIELD;
                }
        }
        if (rc == 0 && (s_seen_add(&seen, l.key) || add(arg, &l))) {
            snprintf(err, errlen, "%s: out of memory", path);
            rc = WH_ENOMEM;
        }
    }
    fclose(f);
    for (size_t i = 0; i < seen.n; i++) free(seen.keys[i]);
    free(seen.keys);
    return rc;
}

static int s_allow_check(const char *key, char *msg, size_t len)
{
    if (s_z85_valid(key)) return 0;
    wh_snprintf_utf8(msg, len, "'%.*s' is not a 40-character Z85 public key",
                     (int)wh_utf8_prefix(key, 48), key);
    return 1;
}

struct s_allow_acc {
    struct wh_allow_entry *arr;
    size_t n, cap;
};

static int s_allow_add(void *arg, const struct wh_key_line *l)
{
    struct s_allow_acc *a = arg;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        struct wh_allow_entry *na = realloc(a->arr, cap * sizeof *na);
        if (!na) return WH_ENOMEM;
        a->arr = na;
        a->cap = cap;
    }
    struct wh_allow_entry *e = &a->arr[a->n++];
    memset(e, 0, sizeof *e);
    memcpy(e->key, l->key, WH_Z85_KEY);
    e->who.kind = l->kind;
    snprintf(e->who.code, sizeof e->who.code, "%s", l->code);
    return 0;
}

int wh_allowlist_load(const char *path, struct wh_allow_entry **out, size_t *n, char *err,
                      size_t errlen)
{
    struct s_allow_acc a = {0};
    int rc = wh_key_file_read(path, s_allow_check, NULL, s_allow_add, &a, err, errlen);
    if (rc) {
        free(a.arr);
        a.arr = NULL;
        a.n = 0;
    }
    *out = a.arr;
    *n = a.n;
    return rc;
}

/* ---- the ZAP handler ----------------------------------------------------------------------- */

struct wh_auth {
    struct wh_keypair server;
    char allow_path[4096];
    struct wh_allow_entry *allow;
    size_t n_allow;
    struct timespec allow_mtime;  /* of the file as last read */
    off_t allow_size;
    wh_sock_t *zap;               /* REP on inproc://zeromq.zap.01 */
    uv_fs_poll_t *watch;          /* the allowlist file, stat'ed every WH_ALLOW_POLL_MS */
    int revoked;                  /* a reload removed or changed a key; not reported yet */
    wh_auth_fn on_revoke;         /* told after such a reload; NULL: nobody */
    void *on_revoke_arg;
};

/* 1 when `arr` still lists `e`'s key as the same identity. */
static int s_still_listed(const struct wh_allow_entry *arr, size_t n,
                          const struct wh_allow_entry *e)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(arr[i].key, e->key) == 0)
            return arr[i].who.kind == e->who.kind && strcmp(arr[i].who.code, e->who.code) == 0;
    return 0;
}

/* Reads the allowlist again if its file changed; a bad new version keeps the old one. */
static void s_reload(wh_auth_t *self)
{
    struct stat sb;
    if (stat(self->allow_path, &sb) != 0) return;
    if (sb.st_mtim.tv_sec == self->allow_mtime.tv_sec &&
        sb.st_mtim.tv_nsec == self->allow_mtime.tv_nsec && sb.st_size == self->allow_size)
        return;
    struct wh_allow_entry *arr;
    size_t n;
    char err[512];
    self->allow_mtime = sb.st_mtim;
    self->allow_size = sb.st_size;
    if (wh_allowlist_load(self->allow_path, &arr, &n, err, sizeof err) != 0) {
        wh_log_error("allowlist not reloaded, the previous one stays: %s", err);
        return;
    }
    /* a key gone, or naming someone else now: its open connections keep the old User-Id */
    size_t gone = 0;
    for (size_t i = 0; i < self->n_allow; i++)
        if (!s_still_listed(arr, n, &self->allow[i])) gone++;
    if (gone) self->revoked = 1;
    free(self->allow);
    self->allow = arr;
    self->n_allow = n;
    wh_log_info("allowlist %s: %zu key(s), %zu removed or changed", self->allow_path, n, gone);
}

/* The allowlist file changed (or was replaced): read it, and report a revocation. The ZAP
 * handler may have read it first; its revocation is reported here all the same. */
static void s_on_watch(uv_fs_poll_t *h, int status, const uv_stat_t *prev, const uv_stat_t *curr)
{
    (void)status;
    (void)prev;
    (void)curr;
    wh_auth_t *self = h->data;
    s_reload(self);
    if (self->revoked && self->on_revoke) {
        self->revoked = 0;
        self->on_revoke(self->on_revoke_arg);
    }
}

static void s_free_handle(uv_handle_t *h) { free(h); }

static void s_on_zap(void *arg, wh_sock_t *sock, const struct wh_frames *m)
{
    wh_auth_t *self = arg;
    /* version, request id, domain, address, identity, mechanism, credentials... */
    const char *status = "400", *text = "refused";
    char user[64] = "";
    char mech[16] = "";
    if (m->n >= 6 && m->len[5] < sizeof mech) {
        memcpy(mech, m->data[5], m->len[5]);
        mech[m->len[5]] = 0;
    }
    if (m->n < 6 || m->len[0] != 3 || memcmp(m->data[0], "1.0", 3) != 0) {
        text = "malformed ZAP request";
    } else if (strcmp(mech, "CURVE") != 0 || m->n < 7 || m->len[6] != 32) {
        text = "a CURVE key is required";
        wh_log_warn("refused a %s connection: keys are on", mech[0] ? mech : "?");
    } else {
        char key[WH_Z85_KEY];
        zmq_z85_encode(key, m->data[6], 32);
        s_reload(self);
        const struct wh_allow_entry *e = NULL;
        for (size_t i = 0; i < self->n_allow && !e; i++)
            if (strcmp(self->allow[i].key, key) == 0) e = &self->allow[i];
        if (e) {
            status = "200";
            text = "OK";
            snprintf(user, sizeof user, "%s:%s", wh_kind_name(e->who.kind), e->who.code);
            wh_log_debug("key %.8s... is %s", key, user);
        } else {
            wh_log_warn("refused key %s: not on the allowlist %s", key, self->allow_path);
        }
    }
    const void *d[6] = {"1.0", m->n > 1 ? m->data[1] : "", status, text, user, ""};
    size_t l[6] = {3, m->n > 1 ? m->len[1] : 0, 3, strlen(text), strlen(user), 0};
    if (wh_sock_sendv(sock, 6, d, l) != 0) wh_log_error("ZAP reply not sent");
}

wh_auth_t *wh_auth_new(uv_loop_t *loop, void *zctx, const char *keys_path,
                       const char *allow_path, char *err, size_t errlen)
{
    if (!zmq_has("curve")) {
        snprintf(err, errlen, "this libzmq has no CURVE support; keys cannot be used");
        return NULL;
    }
    if (!allow_path || !allow_path[0]) {
        snprintf(err, errlen, "--keys needs --allow FILE (the allowlist of public keys)");
        return NULL;
    }
    wh_auth_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    snprintf(self->allow_path, sizeof self->allow_path, "%s", allow_path);
    if (wh_keypair_load(keys_path, 1, &self->server, err, errlen) ||
        wh_allowlist_load(allow_path, &self->allow, &self->n_allow, err, errlen))
        goto fail;
    struct stat sb;
    if (stat(allow_path, &sb) == 0) {
        self->allow_mtime = sb.st_mtim;
        self->allow_size = sb.st_size;
    }
    self->zap = wh_sock_new(loop, zctx, ZMQ_REP, 4096, s_on_zap, self);
    if (!self->zap || wh_sock_bind(self->zap, "inproc://zeromq.zap.01")) {
        snprintf(err, errlen, "cannot start the ZAP handler");
        goto fail;
    }
    self->watch = malloc(sizeof *self->watch);
    if (!self->watch || uv_fs_poll_init(loop, self->watch) != 0) {
        free(self->watch);
        self->watch = NULL;
        snprintf(err, errlen, "cannot watch the allowlist %s", allow_path);
        goto fail;
    }
    self->watch->data = self;
    if (uv_fs_poll_start(self->watch, s_on_watch, allow_path, WH_ALLOW_POLL_MS) != 0) {
        snprintf(err, errlen, "cannot watch the allowlist %s", allow_path);
        goto fail;
    }
    wh_log_info("keys on: server key %s, %zu allowed key(s) in %s", self->server.public_key,
                self->n_allow, allow_path);
    return self;
fail:
    if (self->watch) uv_close((uv_handle_t *)self->watch, s_free_handle);
    wh_sock_destroy(&self->zap);
    free(self->allow);
    free(self);
    return NULL;
}

void wh_auth_destroy(wh_auth_t **self_p)
{
    if (!self_p || !*self_p) return;
    wh_auth_t *self = *self_p;
    *self_p = NULL;
    uv_close((uv_handle_t *)self->watch, s_free_handle);
    wh_sock_destroy(&self->zap);
    free(self->allow);
    free(self);
}

int wh_auth_server(wh_auth_t *self, void *zsock)
{
    int one = 1;
    if (zmq_setsockopt(zsock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(zsock, ZMQ_CURVE_SECRETKEY, self->server.secret_key, 40) != 0 ||
        zmq_setsockopt(zsock, ZMQ_ZAP_DOMAIN, "whistle", 7) != 0) {
        wh_log_error("CURVE server keys refused: %s", zmq_strerror(zmq_errno()));
        return WH_EBUS;
    }
    return 0;
}

const struct wh_keypair *wh_auth_keypair(const wh_auth_t *self) { return &self->server; }

void wh_auth_on_revoke(wh_auth_t *self, wh_auth_fn fn, void *arg)
{
    self->on_revoke = fn;
    self->on_revoke_arg = arg;
}
