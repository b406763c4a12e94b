/* keys.h: the gateway's bearer API keys: a file of "<key> <kind> <code> [<district>]" lines,
 * the shape of the CurveZMQ allowlist (a line or a word after the code or district starting
 * with '#' is a comment), read again when it changes. The optional district ties the key to
 * one district of a city's gateway (--districts): it acts there only. A key without one acts
 * in the gateway's only district, or, with several, is the city's: an operator's only. A key
 * is 20..128 characters of [A-Za-z0-9._~+/=-] (RFC 6750's b64token): `openssl rand -hex 24` makes
 * one. */
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
    char district[33]; /* the district it acts in, or "" (gateway.h: gateway__key_lookup) */
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
/* 1 with `who` and `district` (its district or "", `size` bytes) filled when `key` is listed,
 * else 0 (compared in constant time per entry). */
int gateway_keys_lookup(const gw_keys_t *self, const char *key, struct wh_identity *who,
                        char *district, size_t size);

#endif
