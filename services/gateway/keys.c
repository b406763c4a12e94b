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

static int s_key_valid(const char *k)
{
    size_t n = strlen(k);
    if (n < GW_KEY_MIN || n > GW_KEY_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("._~+/=-", c)))
            return 0;
    }
    return 1;
}

int gateway_keys_parse(const char *path, struct gw_key **out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return WH_ENOTFOUND;
    }
    struct gw_key *arr = NULL;
    size_t cap = 0, cnt = 0;
    char line[512];
    int rc = 0, lineno = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *save = NULL;
        char *key = strtok_r(line, " \t\r\n", &save);
        if (!key || key[0] == '#') continue;
        char *kind = strtok_r(NULL, " \t\r\n", &save);
        char *code = strtok_r(NULL, " \t\r\n", &save);
        char *district = strtok_r(NULL, " \t\r\n", &save);
        char *extra = district && district[0] != '#' ? strtok_r(NULL, " \t\r\n", &save) : NULL;
        if (district && district[0] == '#') district = NULL;
        struct gw_key e;
        memset(&e, 0, sizeof e);
        if (!s_key_valid(key)) {
            snprintf(err, errlen, "%s:%d: a key is %d..%d characters of [A-Za-z0-9._~+/=-]", path,
                     lineno, GW_KEY_MIN, GW_KEY_MAX);
            rc = WH_EFIELD;
        } else if (!kind || !(e.who.kind = wh_kind_parse(kind))) {
            wh_snprintf_utf8(err, errlen,
                             "%s:%d: kind '%s' unknown (department, township, "
                             "integrator, service, operator)",
                             path, lineno, kind ? kind : "");
            rc = WH_EFIELD;
        } else if (!code || !wh_code_valid(code) || (extra && extra[0] != '#') ||
                   (district && !wh_code_valid(district))) {
            snprintf(err, errlen,
                     "%s:%d: a line is '<key> <kind> <code> [<district>]', the codes 1..32 of "
                     "[a-z0-9-]",
                     path, lineno);
            rc = WH_EFIELD;
        } else {
            for (size_t i = 0; i < cnt; i++)
                if (strcmp(arr[i].key, key) == 0) {
                    snprintf(err, errlen, "%s:%d: key listed twice", path, lineno);
                    rc = WH_EFIELD;
                }
        }
        if (rc) break;
        snprintf(e.key, sizeof e.key, "%s", key);
        snprintf(e.who.code, sizeof e.who.code, "%s", code);
        snprintf(e.district, sizeof e.district, "%s", district ? district : "");
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            struct gw_key *na = realloc(arr, cap * sizeof *na);
            if (!na) {
                snprintf(err, errlen, "%s: out of memory", path);
                rc = WH_ENOMEM;
                break;
            }
            arr = na;
        }
        arr[cnt++] = e;
    }
    fclose(f);
    if (rc) {
        free(arr);
        return rc;
    }
    *out = arr;
    *n = cnt;
    return 0;
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
