/* options.c: the flags and environment variables every service takes, and --help. */
#include "whistle/options.h"
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_names[] = {"intake", "routing", "tracking", "notification"};
static const char *const s_api[] = {"tcp://127.0.0.1:7100", "tcp://127.0.0.1:7110",
                                    "tcp://127.0.0.1:7120", "tcp://127.0.0.1:7130"};
static const char *const s_events[] = {"tcp://127.0.0.1:7101", "tcp://127.0.0.1:7111",
                                       "tcp://127.0.0.1:7121", "tcp://127.0.0.1:7131"};

static int s_index(const char *service)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(service, s_names[i]) == 0) return i;
    return -1;
}

const char *wh_default_api(const char *service)
{
    int i = s_index(service);
    return i < 0 ? NULL : s_api[i];
}

const char *wh_default_events(const char *service)
{
    int i = s_index(service);
    return i < 0 ? NULL : s_events[i];
}

/* The value of WHISTLE_<NAME> (name upper-cased, '-' -> '_'), or `def`. */
static const char *s_env(const char *name, const char *def)
{
    char var[64] = "WHISTLE_";
    size_t n = strlen(var);
    for (size_t i = 0; name[i] && n < sizeof var - 1; i++)
        var[n++] = (char)(name[i] == '-' ? '_' : (name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]));
    var[n] = 0;
    const char *v = getenv(var);
    return v && v[0] ? v : def;
}

static void s_help(const char *name, const char *summary, const int *ups, unsigned sets)
{
    int me = s_index(name);
    printf("Usage: whistle-%s [OPTIONS]\n\n%s\n\nOptions (each also read from the environment "
           "variable in brackets):\n",
           name, summary);
    printf("  --data DIR          LMDB data folder [WHISTLE_DATA] (default: data/%s)\n", name);
    printf("  --catalog FILE      district catalog, JSON [WHISTLE_CATALOG]\n"
           "                      (default: deploy/catalog/default.json)\n");
    printf("  --api ENDPOINT      requests, ROUTER bind [WHISTLE_API] (default: %s)\n", s_api[me]);
    printf("  --events ENDPOINT   event stream, XPUB bind [WHISTLE_EVENTS] (default: %s)\n",
           s_events[me]);
    for (const int *u = ups; u && *u >= 0; u++) {
        printf("  --%s-api ENDPOINT    %s's requests [WHISTLE_%s_API] (default: %s)\n",
               s_names[*u], s_names[*u], *u == 0 ? "INTAKE" : *u == 1 ? "ROUTING" : *u == 2 ? "TRACKING" : "NOTIFICATION", s_api[*u]);
        printf("  --%s-events ENDPOINT %s's events [WHISTLE_%s_EVENTS] (default: %s)\n",
               s_names[*u], s_names[*u], *u == 0 ? "INTAKE" : *u == 1 ? "ROUTING" : *u == 2 ? "TRACKING" : "NOTIFICATION", s_events[*u]);
    }
    printf("  --heartbeat-ms N    heartbeat period [WHISTLE_HEARTBEAT_MS] (default: 1000)\n");
    if (strcmp(name, "tracking") == 0)
        printf("  --rebuild           first rebuild an empty --data folder from notification's\n"
               "                      all/ topic (after losing tracking's data)\n");
    if (strcmp(name, "notification") == 0)
        printf("  --webhook-attempts N     POSTs of one event before it goes to the dead letters\n"
               "                      [WHISTLE_WEBHOOK_ATTEMPTS] (default: 8)\n"
               "  --webhook-timeout-ms N   time limit of one POST [WHISTLE_WEBHOOK_TIMEOUT_MS]\n"
               "                      (default: 10000)\n"
               "  --webhook-backoff-ms N   delay before the first retry, doubled for each next\n"
               "                      one (capped at 1 h), with jitter [WHISTLE_WEBHOOK_BACKOFF_MS]\n"
               "                      (default: 1000)\n");
    printf("  --keys FILE         CurveZMQ on: the server key pair (NAME.key from `whistlectl\n"
           "                      keygen`) [WHISTLE_KEYS] (default: off, plain ZeroMQ)\n"
           "  --allow FILE        with --keys: the allowlist, lines '<public key> <kind> <code>'\n"
           "                      (kind: department, township, integrator, service, operator);\n"
           "                      read again when it changes [WHISTLE_ALLOW]\n");
    if (ups && *ups >= 0)
        printf("  --service-key FILE  with --keys: this service's own key pair, listed in the\n"
               "                      allowlist as 'service %s', to follow its upstreams\n"
               "                      [WHISTLE_SERVICE_KEY]\n", name);
    if (sets & WH_OPT_RETENTION)
        printf("  --retention-ms N    keep each topic's entries N ms after they occurred, 0 for\n"
               "                      ever [WHISTLE_RETENTION_MS] (default: %lld, 30 days)\n"
               "  --retention-entries N  keep at most the N newest entries of each topic, 0 for\n"
               "                      no limit [WHISTLE_RETENTION_ENTRIES] (default: 0)\n",
               (long long)WH_DEFAULT_RETENTION_MS);
    printf("  --log-level LEVEL   error, warn, info or debug [WHISTLE_LOG_LEVEL] (default: info)\n");
    printf("  -h, --help          this text\n  --version           print the version\n\n");
    printf("Stops cleanly on SIGTERM or SIGINT: the batch in hand is committed and answered.\n");
}

/* Parses a count or duration >= 0 into *out; prints what is wrong naming `flag` and returns -1
 * when `v` is not one. */
static int s_nonneg(const char *name, const char *flag, const char *v, int64_t *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < 0) {
        fprintf(stderr, "whistle-%s: %s must be a whole number >= 0 (0: no limit), not '%s'\n",
                name, flag, v);
        return -1;
    }
    *out = n;
    return 0;
}

int wh_options_parse(struct wh_options *o, const char *name, const char *summary,
                     const int *upstreams, unsigned sets, int argc, char **argv)
{
    static char data_default[64];
    int me = s_index(name);
    snprintf(data_default, sizeof data_default, "data/%s", name);
    memset(o, 0, sizeof *o);
    o->data_dir = s_env("data", data_default);
    o->catalog = s_env("catalog", "deploy/catalog/default.json");
    o->api = s_env("api", s_api[me]);
    o->events = s_env("events", s_events[me]);
    o->log_level = s_env("log-level", "info");
    o->heartbeat_ms = atoi(s_env("heartbeat-ms", "1000"));
    o->keys = s_env("keys", NULL);
    o->allow = s_env("allow", NULL);
    o->service_key = s_env("service-key", NULL);
    o->webhook_attempts = atoi(s_env("webhook-attempts", "8"));
    o->webhook_timeout_ms = atoi(s_env("webhook-timeout-ms", "10000"));
    o->webhook_backoff_ms = atoi(s_env("webhook-backoff-ms", "1000"));
    for (int i = 0; i < 4; i++) {
        char k[40];
        snprintf(k, sizeof k, "%s-api", s_names[i]);
        o->upstream_api[i] = s_env(k, s_api[i]);
        snprintf(k, sizeof k, "%s-events", s_names[i]);
        o->upstream_events[i] = s_env(k, s_events[i]);
    }
    const char *ret_ms = s_env("retention-ms", NULL), *ret_n = s_env("retention-entries", NULL);
    int ret_ms_flag = 0, ret_n_flag = 0;
    enum { O_DATA = 256, O_CATALOG, O_API, O_EVENTS, O_LOG, O_HB, O_VERSION, O_WH_ATTEMPTS,
           O_WH_TIMEOUT, O_WH_BACKOFF, O_KEYS, O_ALLOW, O_SKEY, O_REBUILD, O_RET_MS, O_RET_N,
           O_UP = 300 };
    struct option opts[32] = {
        {"keys", required_argument, 0, O_KEYS},   {"allow", required_argument, 0, O_ALLOW},
        {"service-key", required_argument, 0, O_SKEY},
        {"data", required_argument, 0, O_DATA},   {"catalog", required_argument, 0, O_CATALOG},
        {"api", required_argument, 0, O_API},     {"events", required_argument, 0, O_EVENTS},
        {"log-level", required_argument, 0, O_LOG}, {"heartbeat-ms", required_argument, 0, O_HB},
        {"help", no_argument, 0, 'h'},            {"version", no_argument, 0, O_VERSION},
    };
    static char upnames[8][40];
    size_t n = 11;
    if (strcmp(name, "tracking") == 0)
        opts[n++] = (struct option){"rebuild", no_argument, 0, O_REBUILD};
    for (const int *u = upstreams; u && *u >= 0; u++) {
        snprintf(upnames[2 * *u], 40, "%s-api", s_names[*u]);
        snprintf(upnames[2 * *u + 1], 40, "%s-events", s_names[*u]);
        opts[n++] = (struct option){upnames[2 * *u], required_argument, 0, O_UP + 2 * *u};
        opts[n++] = (struct option){upnames[2 * *u + 1], required_argument, 0, O_UP + 2 * *u + 1};
    }
    if (strcmp(name, "notification") == 0) {
        opts[n++] = (struct option){"webhook-attempts", required_argument, 0, O_WH_ATTEMPTS};
        opts[n++] = (struct option){"webhook-timeout-ms", required_argument, 0, O_WH_TIMEOUT};
        opts[n++] = (struct option){"webhook-backoff-ms", required_argument, 0, O_WH_BACKOFF};
    }
    if (sets & WH_OPT_RETENTION) {
        opts[n++] = (struct option){"retention-ms", required_argument, 0, O_RET_MS};
        opts[n++] = (struct option){"retention-entries", required_argument, 0, O_RET_N};
    }
    opts[n] = (struct option){0, 0, 0, 0};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_DATA: o->data_dir = optarg; break;
        case O_CATALOG: o->catalog = optarg; break;
        case O_API: o->api = optarg; break;
        case O_EVENTS: o->events = optarg; break;
        case O_LOG: o->log_level = optarg; break;
        case O_HB: o->heartbeat_ms = atoi(optarg); break;
        case O_KEYS: o->keys = optarg; break;
        case O_ALLOW: o->allow = optarg; break;
        case O_SKEY: o->service_key = optarg; break;
        case O_WH_ATTEMPTS: o->webhook_attempts = atoi(optarg); break;
        case O_WH_TIMEOUT: o->webhook_timeout_ms = atoi(optarg); break;
        case O_WH_BACKOFF: o->webhook_backoff_ms = atoi(optarg); break;
        case O_RET_MS: ret_ms = optarg; ret_ms_flag = 1; break;
        case O_RET_N: ret_n = optarg; ret_n_flag = 1; break;
        case 'h': s_help(name, summary, upstreams, sets); return 1;
        case O_VERSION: printf("whistle-%s %s\n", name, WHISTLE_VERSION); return 1;
        case O_REBUILD: o->rebuild = 1; break;
        default:
            if (c >= O_UP && c < O_UP + 8) {
                int k = c - O_UP;
                if (k % 2 == 0) o->upstream_api[k / 2] = optarg;
                else o->upstream_events[k / 2] = optarg;
                break;
            }
            fprintf(stderr, "whistle-%s: see --help for the options\n", name);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "whistle-%s: unexpected argument '%s' (see --help)\n", name, argv[optind]);
        return -1;
    }
    if (o->heartbeat_ms <= 0) {
        fprintf(stderr, "whistle-%s: --heartbeat-ms must be a positive number\n", name);
        return -1;
    }
    if (o->keys && !o->allow) {
        fprintf(stderr, "whistle-%s: --keys needs --allow FILE (the allowlist)\n", name);
        return -1;
    }
    if (o->keys && upstreams && *upstreams >= 0 && !o->service_key) {
        fprintf(stderr, "whistle-%s: with --keys, --service-key FILE (this service's own key "
                        "pair, 'service %s' in the allowlist) is needed to follow upstreams\n",
                name, name);
        return -1;
    }
    if (o->webhook_attempts <= 0 || o->webhook_timeout_ms <= 0 || o->webhook_backoff_ms <= 0) {
        fprintf(stderr, "whistle-%s: --webhook-attempts, --webhook-timeout-ms and "
                        "--webhook-backoff-ms must be positive numbers\n", name);
        return -1;
    }
    o->retention_ms = WH_DEFAULT_RETENTION_MS;
    if (sets & WH_OPT_RETENTION) {
        /* the error names where the value came from: the flag, or the variable */
        if (ret_ms && s_nonneg(name, ret_ms_flag ? "--retention-ms" : "WHISTLE_RETENTION_MS",
                               ret_ms, &o->retention_ms))
            return -1;
        if (ret_n && s_nonneg(name, ret_n_flag ? "--retention-entries"
                                               : "WHISTLE_RETENTION_ENTRIES",
                              ret_n, &o->retention_entries))
            return -1;
    }
    return 0;
}
