/* keys.h: the gateway's bearer API keys: a file of "<key> <kind> <code>" lines, the shape of
 * the CurveZMQ allowlist (a line or a word after the code starting with '#' is a comment),
 * read again when it changes. A key is 20..128 characters of [A-Za-z0-9._~+/=-] (RFC 6750's
 * b64token): `openssl rand -hex 24` makes one. */
#ifndef GATEWAY_KEYS_H
#define GATEWAY_KEYS_H
#include "whistle/auth.h"
#include <stddef.h>
#include <uv.h>

#define GW_KEY_MIN 20
#define GW_KEY_MAX 128

struct gw_key {
    char key[GW_KEY_MAX + 1];
    struct wh_identity who;
};

/* Parses the key file into a malloc'd array (caller frees *out). 0, or WH_ENOTFOUND /
 * WH_EFIELD with `err` = "FILE:LINE: what is wrong". */
int gateway_keys_parse(const char *path, struct gw_key **out, size_t *n, char *err, size_t errlen);

typedef struct gw_keys gw_keys_t;

/* Loads `path` and watches it on `loop` (stat every WH_ALLOW_POLL_MS); a change that does
 * not parse keeps the previous list (logged). NULL with `err` saying what to fix. */
gw_keys_t *gateway_keys_new(uv_loop_t *loop, const char *path, char *err, size_t errlen);
/* Frees once libuv has closed its handle; safe on NULL, sets NULL. */
void gateway_keys_destroy(gw_keys_t **self_p);
/* 1 with `who` filled when `key` is listed, else 0 (compared in constant time per entry). */
int gateway_keys_lookup(const gw_keys_t *self, const char *key, struct wh_identity *who);

#endif
