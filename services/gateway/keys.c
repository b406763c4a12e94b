/* keys.c: bearer API keys from a file, re-read when it changes (uv_fs_poll, as auth.c does
 * with the CurveZMQ allowlist). */
#include "keys.h"
#include "whistle/codec.h"
#include "whistle/error.h"
#include "whistle/wlog.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gw_keys {
    uv_fs_poll_t watch; /* the file, stat'ed every WH_ALLOW_POLL_MS */
    char *path;
    struct gw_key *keys;
    size_t n;
};

/* A bearer key: GW_KEY_MIN..GW_KEY_MAX of [A-Za-z0-9._~+/=-]; a refusal never repeats it. */
static int s_key_check(const char *k, char *msg, size_t len)
{
    size_t n = strlen(k);
    int ok = n >= GW_KEY_MIN && n <= GW_KEY_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = (k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') ||
             (k[i] >= '0' && k[i] <= '9') || strchr("._~+/=-", k[i]);
    if (!ok)
        snprintf(msg, len, "a key is %d..%d characters of [A-Za-z0-9._~+/=-]", GW_KEY_MIN,
                 GW_KEY_MAX);
    return !ok;
}

struct s_acc {
    struct gw_key *arr;
    size_t n, cap;
};

static int s_key_add(void *arg, const struct wh_key_line *l)
{
    struct s_acc *a = arg;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        struct gw_key *na = realloc(a->arr, cap * sizeof *na);
        if (!na) return WH_ENOMEM;
        a->arr = na;
        a->cap = cap;
    }
    struct gw_key *e = &a->arr[a->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->key, sizeof e->key, "%s", l->key);
    e->who.kind = l->kind;
    snprintf(e->who.code, sizeof e->who.code, "%s", l->code);
    snprintf(e->district, sizeof e->district, "%s", l->extra ? l->extra : "");
    return 0;
}

/* The file as auth.c reads the allowlist (wh_key_file_read), with bearer keys and a district. */
int gateway_keys_parse(const char *path, struct gw_key **out, size_t *n, char *err, size_t errlen)
{
    struct s_acc a = {0};
    int rc = wh_key_file_read(path, s_key_check, "district", s_key_add, &a, err, errlen);
    if (rc) {
        free(a.arr);
        a.arr = NULL;
        a.n = 0;
    }
    *out = a.arr;
    *n = a.n;
    return rc;
}

static void s_on_watch(uv_fs_poll_t *h, int status, const uv_stat_t *prev, const uv_stat_t *curr)
{
    (void)status;
    (void)prev;
    (void)curr;
    gw_keys_t *self = h->data;
    struct gw_key *arr;
    size_t n;
    char err[512];
    if (gateway_keys_parse(self->path, &arr, &n, err, sizeof err) != 0) {
        wh_log_error("API keys not reloaded, the previous ones stay: %s", err);
        return;
    }
    free(self->keys);
    self->keys = arr;
    self->n = n;
    wh_log_info("API keys %s: %zu key(s)", self->path, n);
}

gw_keys_t *gateway_keys_new(uv_loop_t *loop, const char *path, char *err, size_t errlen)
{
    gw_keys_t *self = calloc(1, sizeof *self);
    if (!self || !(self->path = strdup(path))) {
        snprintf(err, errlen, "out of memory");
        free(self);
        return NULL;
    }
    if (gateway_keys_parse(path, &self->keys, &self->n, err, errlen) != 0) {
        free(self->path);
        free(self);
        return NULL;
    }
    uv_fs_poll_init(loop, &self->watch);
    self->watch.data = self;
    if (uv_fs_poll_start(&self->watch, s_on_watch, path, WH_ALLOW_POLL_MS) != 0)
        wh_log_warn("API keys %s: not watched for changes", path);
    return self;
}

static void s_on_close(uv_handle_t *h)
{
    gw_keys_t *self = h->data;
    free(self->keys);
    free(self->path);
    free(self);
}

void gateway_keys_destroy(gw_keys_t **self_p)
{
    if (!self_p || !*self_p) return;
    gw_keys_t *self = *self_p;
    *self_p = NULL;
    uv_fs_poll_stop(&self->watch);
    uv_close((uv_handle_t *)&self->watch, s_on_close);
}

int gateway_keys_lookup(const gw_keys_t *self, const char *key, struct wh_identity *who,
                        char *district, size_t size)
{
    size_t kl = strlen(key);
    int found = 0;
    for (size_t i = 0; i < self->n; i++) {
        const char *k = self->keys[i].key;
        if (strlen(k) != kl) continue;
        unsigned char diff = 0;
        for (size_t j = 0; j < kl; j++)
            diff |= (unsigned char)(k[j] ^ key[j]);
        if (!diff && !found) {
            *who = self->keys[i].who;
            snprintf(district, size, "%s", self->keys[i].district);
            found = 1;
        }
    }
    return found;
}
