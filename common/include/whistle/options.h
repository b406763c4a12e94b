/* options.h: the flags and environment variables every service takes.
 *
 * Each flag has an environment variable (for containers); a flag wins over the variable, the
 * variable over the default. Defaults are the loopback ports of the design. */
#ifndef WHISTLE_OPTIONS_H
#define WHISTLE_OPTIONS_H
#include <stdint.h>

struct wh_options {
    const char *data_dir;      /* --data, WHISTLE_DATA */
    const char *catalog;       /* --catalog, WHISTLE_CATALOG */
    const char *api;           /* --api, WHISTLE_API: this service's ROUTER */
    const char *events;        /* --events, WHISTLE_EVENTS: this service's XPUB */
    const char *upstream_api[4];    /* --intake-api, --routing-api, --tracking-api */
    const char *upstream_events[4]; /* --intake-events, ... */
    const char *log_level;     /* --log-level, WHISTLE_LOG_LEVEL */
    int heartbeat_ms;          /* --heartbeat-ms, WHISTLE_HEARTBEAT_MS */
    int rebuild;               /* --rebuild (tracking): rebuild an empty data folder first */
    /* CurveZMQ (see auth.h); NULL: keys off */
    const char *keys;          /* --keys, WHISTLE_KEYS: the server key pair (NAME.key) */
    const char *allow;         /* --allow, WHISTLE_ALLOW: the allowlist of public keys */
    const char *service_key;   /* --service-key, WHISTLE_SERVICE_KEY: own key to follow upstreams */
    /* notification only: webhook delivery */
    int webhook_attempts;      /* --webhook-attempts: POSTs before a delivery is dead (8) */
    int webhook_timeout_ms;    /* --webhook-timeout-ms: one POST's time limit (10000) */
    int webhook_backoff_ms;    /* --webhook-backoff-ms: first retry delay, doubled each time */
    int64_t retention_ms;      /* --retention-ms, WHISTLE_RETENTION_MS (WH_OPT_RETENTION) */
    int64_t retention_entries; /* --retention-entries, WHISTLE_RETENTION_ENTRIES */
};

/* Flags only some services take. */
enum wh_option_set {
    WH_OPT_RETENTION = 1, /* --retention-ms and --retention-entries (topic logs) */
};

/* Default retention of topic logs: 30 days by age, no limit by count. */
#define WH_DEFAULT_RETENTION_MS (30LL * 24 * 3600 * 1000)

enum wh_upstream { WH_UP_INTAKE = 0, WH_UP_ROUTING, WH_UP_TRACKING, WH_UP_NOTIFICATION };

/* The default ROUTER / XPUB endpoint of a service ("intake" ...). */
const char *wh_default_api(const char *service);
const char *wh_default_events(const char *service);

/* Parses argv for service `name`, whose upstreams are listed in `upstreams` (-1 terminated)
 * and which also takes the flags of `sets` (WH_OPT_..., or 0). Prints --help (with `summary`)
 * and returns 1 when asked; prints the error and returns -1 on bad usage; 0 when the service
 * should run. */
int wh_options_parse(struct wh_options *o, const char *name, const char *summary,
                     const int *upstreams, unsigned sets, int argc, char **argv);

#endif
