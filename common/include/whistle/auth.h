/* auth.h: CurveZMQ keys on whistle's endpoints: key files, the allowlist that maps a public
 * key to an identity, and the ZAP handler that applies it.
 *
 * With keys on, every external socket of a service is a CURVE server. A peer connects with its
 * own key pair and the server's public key; the ZAP handler (a REP socket on
 * inproc://zeromq.zap.01, on the service's loop) accepts only keys on the allowlist and gives
 * the connection the User-Id "<kind>:<code>" ("department:cg"), which every message from that
 * peer carries (zmq_msg_gets "User-Id"), subscriptions on an XPUB included. Any other
 * mechanism (NULL) never completes its handshake, and an unknown key is answered 400: such a
 * peer receives nothing.
 *
 * Key files: NAME.key holds "public-key <z85>" and "secret-key <z85>" lines (mode 0600),
 * NAME.pub the public line only. The allowlist has one "<z85 public key> <kind> <code>" per
 * line (a line or a word after the code that starts with '#' is a comment); it is read again
 * when the file changes, and a key removed (or given another identity) is reported to the
 * service, which makes every peer connect again (wh_auth_on_revoke). */
#ifndef WHISTLE_AUTH_H
#define WHISTLE_AUTH_H
#include <stddef.h>
#include <uv.h>

/* Who a peer is. kind WH_KIND_NONE: keys are off, the peer is not identified. */
enum wh_kind {
    WH_KIND_NONE = 0,
    WH_KIND_DEPARTMENT,  /* a district department: acts and reads as itself only */
    WH_KIND_TOWNSHIP,    /* a township, street or community: the lead unit of its cases */
    WH_KIND_INTEGRATOR,  /* an app, hotline or sensor: submits reports, relays verifications */
    WH_KIND_SERVICE,     /* one of whistle's services, following another */
    WH_KIND_OPERATOR,    /* the district's operators (whistlectl): anything */
    WH_KIND_STATION,     /* a unit stationed in the district (驻区单位): answers its orders */
    WH_KIND_VOLUNTEER,   /* a party-member volunteer: answers its orders */
};

struct wh_identity {
    int kind;        /* enum wh_kind */
    char code[40];   /* "cg", "north", "intake" */
};

#define WH_Z85_KEY 41 /* 40 characters and NUL */

struct wh_keypair {
    char public_key[WH_Z85_KEY];
    char secret_key[WH_Z85_KEY];  /* "" when only the public key was read */
};

/* "department" -> WH_KIND_DEPARTMENT; 0 when unknown. */
int wh_kind_parse(const char *s);
/* WH_KIND_DEPARTMENT -> "department"; "none" for 0. Never NULL. */
const char *wh_kind_name(int kind);
/* Parses a ZAP User-Id ("department:cg"); NULL or "" gives kind NONE. 0, or WH_EFIELD. */
int wh_identity_parse(const char *user_id, struct wh_identity *out);
/* 1 for service and operator identities, whose requests are not limited. */
int wh_identity_trusted(const struct wh_identity *who);

/* Reads a key file (NAME.key, or NAME.pub when `need_secret` is 0). The public key is derived
 * from the secret when the file has only the latter. 0, or WH_EFIELD / WH_ENOTFOUND with
 * `err` saying which file and what is wrong. */
int wh_keypair_load(const char *path, int need_secret, struct wh_keypair *kp, char *err,
                    size_t errlen);
/* Creates a new key pair as `base`.key (mode 0600) and `base`.pub. Refuses to overwrite.
 * 0, or WH_EUSAGE / WH_ESTORE with `err` saying why. */
int wh_keypair_generate(const char *base, struct wh_keypair *kp, char *err, size_t errlen);

/* Sets `zsock` up as a CURVE client with key pair `mine` towards `server_public`. 0 or WH_EBUS. */
int wh_curve_client(void *zsock, const struct wh_keypair *mine, const char *server_public);

/* ---- key files: the allowlist here, the gateway's bearer keys ----------------------------- */

/* One line of a key file: '<key> <kind> <code> [<extra>]'. A line, or a word after the code,
 * that starts with '#' is a comment ('#' is a Z85 digit: never at the start of a word after
 * the key). */
struct wh_key_line {
    const char *key;
    enum wh_kind kind;
    const char *code;
    const char *extra; /* the optional 4th word (a code), or NULL */
};
/* 0 when `key` may be a key of this file, else a phrase of what is wrong in `msg` (that must
 * not repeat a secret key). */
typedef int (*wh_key_check_fn)(const char *key, char *msg, size_t len);
/* Takes a checked line (copies what it keeps); 0 or WH_ENOMEM. */
typedef int (*wh_key_add_fn)(void *arg, const struct wh_key_line *line);
/* Reads the key file `path`: each line's key checked by `check`, its kind known, its code a
 * code, no key twice, a 4th word only when `extra` names it (then a code: "district"); each
 * line handed to `add`. 0, WH_ENOTFOUND (cannot open), WH_ENOMEM, or WH_EFIELD with `err` =
 * "FILE:LINE: what is wrong". */
int wh_key_file_read(const char *path, wh_key_check_fn check, const char *extra,
                     wh_key_add_fn add, void *arg, char *err, size_t errlen);

/* ---- the allowlist ---------------------------------------------------------------------- */

struct wh_allow_entry {
    char key[WH_Z85_KEY];
    struct wh_identity who;
};

/* Parses an allowlist file into a malloc'd array (*out, *n; caller frees *out). On an error
 * returns WH_EFIELD with `err` = "FILE:LINE: what is wrong". */
int wh_allowlist_load(const char *path, struct wh_allow_entry **out, size_t *n, char *err,
                      size_t errlen);

/* ---- the ZAP handler and the server side ---------------------------------------------- */

typedef struct wh_auth wh_auth_t;

/* Loads the server key pair `keys_path` and the allowlist `allow_path`, and starts the ZAP
 * handler in `zctx` on `loop` (before any server socket of that context is bound). NULL with
 * `err` saying what to fix. */
wh_auth_t *wh_auth_new(uv_loop_t *loop, void *zctx, const char *keys_path,
                       const char *allow_path, char *err, size_t errlen);
/* Stops the handler, frees once libuv has closed its handles; safe on NULL, sets NULL. */
void wh_auth_destroy(wh_auth_t **self_p);
/* Makes `zsock` a CURVE server with the server key pair (call before bind). 0 or WH_EBUS. */
int wh_auth_server(wh_auth_t *self, void *zsock);
/* The server's key pair (its public key is what clients need). */
const struct wh_keypair *wh_auth_keypair(const wh_auth_t *self);

/* How often the allowlist file is stat'ed for a change, in ms. */
#define WH_ALLOW_POLL_MS 500

typedef void (*wh_auth_fn)(void *arg);
/* Calls `fn(arg)` on the loop after a reload of the allowlist that removed a key or changed
 * the identity of one (a key added calls nothing): open connections keep the User-Id the ZAP
 * handler gave them, so the caller makes every peer connect and be vetted again. */
void wh_auth_on_revoke(wh_auth_t *self, wh_auth_fn fn, void *arg);

#endif
