/* error.h: whistle's error codes, one table feeding the enum and wh_strerror().
 *
 * Functions return 0 on success and a negative code on failure. zmq's -1/errno and LMDB's
 * codes are converted once, where they are called (store.c, bus.c). */
#ifndef WHISTLE_ERROR_H
#define WHISTLE_ERROR_H

#define WH_ERRNO_MAP(X)                                                    \
    X(EFIELD, -1001, "invalid field")                                      \
    X(ENOTFOUND, -1002, "not found")                                       \
    X(ESTATE, -1003, "not allowed in this state")                          \
    X(EFORBIDDEN, -1004, "not allowed for this actor")                     \
    X(EMALFORMED, -1005, "malformed message")                              \
    X(ETOOBIG, -1006, "message too large")                                 \
    X(ESTORE, -1007, "storage error")                                      \
    X(EMAPFULL, -1008, "storage map full")                                 \
    X(EBUS, -1009, "messaging error")                                      \
    X(ENOMEM, -1010, "out of memory")                                      \
    X(EUNSUPPORTED, -1011, "request not served by this service")           \
    X(ETIMEDOUT, -1012, "timed out")                                       \
    X(ECATALOG, -1013, "catalog error")                                    \
    X(EGONE, -1014, "older than what is kept")                             \
    X(EUSAGE, -1015, "usage error")                                        \
    X(EBUSY, -1016, "too many unread replies")                             \
    X(EINTERNAL, -1017, "internal error")                                  \
    X(ECONFLICT, -1018, "conflicts with an earlier request")

enum wh_errno {
    WH_OK = 0,
#define WH_ERR_ENUM(name, val, msg) WH_##name = val,
    WH_ERRNO_MAP(WH_ERR_ENUM)
#undef WH_ERR_ENUM
};

/* 1 when `code` is a storage failure (ESTORE, EMAPFULL, ENOMEM): the batch that met it fails
 * and is retried. Every other negative code is a decision about one input: that input is
 * refused (or recorded as not applicable) and the batch goes on. */
int wh_error_is_storage(int code);

/* Returns a static description of a whistle error code; never NULL. */
const char *wh_strerror(int code);
/* Returns the short name of a code ("EFIELD"); never NULL. */
const char *wh_errname(int code);

#endif
