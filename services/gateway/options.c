/* options.c: whistle-gateway's flags, their WHISTLE_* variables, and --help. */
#include "whistle/options.h"
#include "gateway.h"
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_svc[GW_N_BACKENDS] = {"intake", "routing", "tracking", "notification"};

/* WHISTLE_<NAME> ('-' -> '_', upper case), or `def`. */
static const char *s_env(const char *name, const char *def)
{
    char var[64] = "WHISTLE_";
    size_t n = strlen(var);
    for (size_t i = 0; name[i] && n < sizeof var - 1; i++)
        var[n++] = name[i] == '-'                       ? '_'
                   : (name[i] >= 'a' && name[i] <= 'z') ? name[i] - 32
                                                        : name[i];
    var[n] = 0;
    const char *v = getenv(var);
    return v && v[0] ? v : def;
}

static void s_help(void)
{
    printf("Usage: whistle-gateway [OPTIONS]\n\n"
           "The HTTP door to whistle: health (/healthz, /readyz), /metrics (Prometheus) and\n"
           "the JSON API (/v1/cases, /v1/figures, /v1/visits, /v1/topics/TOPIC/events as\n"
           "Server-Sent Events), translated into the four services' own requests and topics.\n"
           "Keeps no data of its own.\n\n"
           "Open311 GeoReport v2 at the root: /discovery.json, /services.json,\n"
           "/services/CODE.json, /requests.json, /requests/ID.json, /tokens/ID.json and their\n"
           ".xml twins (docs/open311.md).\n\n"
           "Options (each also read from the environment variable in brackets):\n"
           "  --http HOST:PORT        listen address [WHISTLE_HTTP] (default: 127.0.0.1:7080)\n"
           "  --catalog FILE          district catalog, JSON: Open311's services and grids\n"
           "                          [WHISTLE_CATALOG] (default: deploy/catalog/default.json)\n"
           "  --districts FILE        several districts behind this gateway, JSON: each one's\n"
           "                          code, catalog and four services' endpoints, instead of\n"
           "                          --catalog and --SERVICE-api/-events [WHISTLE_DISTRICTS]\n"
           "                          (docs/architecture.md, \"Several districts\")\n"
           "  --api-keys FILE         bearer API keys, lines '<key> <kind> <code>' (kind:\n"
           "                          department, township, integrator, service, operator);\n"
           "                          read again when it changes [WHISTLE_API_KEYS]; a 4th\n"
           "                          field, a district's code, ties a key to that district\n"
           "  --open                  no API keys: every caller acts as an operator (local\n"
           "                          development only) [WHISTLE_OPEN=1]\n"
           "                          One of --api-keys and --open is required.\n"
           "  --web DIR               the dashboard's files, served at / [WHISTLE_WEB]\n"
           "                          (default: " WHISTLE_WEB_DIR " when it is there,\n"
           "                          else services/gateway/web from the tree)\n"
           "  --metrics-open          GET /metrics without an API key (a scraper on a private\n"
           "                          network); else it takes an operator or service key\n"
           "                          [WHISTLE_METRICS_OPEN=1]\n");
    static const char *const up[GW_N_BACKENDS] = {"INTAKE", "ROUTING", "TRACKING", "NOTIFICATION"};
    for (int i = 0; i < GW_N_BACKENDS; i++) {
        char a[40], e[40];
        snprintf(a, sizeof a, "--%s-api ENDPOINT", s_svc[i]);
        snprintf(e, sizeof e, "--%s-events ENDPOINT", s_svc[i]);
        printf("  %-22s  %s's requests [WHISTLE_%s_API]\n"
               "                          (default: %s)\n"
               "  %-22s  %s's events [WHISTLE_%s_EVENTS]\n"
               "                          (default: %s)\n",
               a, s_svc[i], up[i], wh_default_api(s_svc[i]), e, s_svc[i], up[i],
               wh_default_events(s_svc[i]));
    }
    printf(
        "  --max-connections N     concurrent HTTP connections; more wait in the kernel's\n"
        "                          backlog [WHISTLE_MAX_CONNECTIONS] (default: 1000)\n"
        "  --backend-timeout-ms N  a service's answer, else 503 [WHISTLE_BACKEND_TIMEOUT_MS]\n"
        "                          (default: 5000)\n"
        "  --request-timeout-ms N  a request must arrive whole within N ms of its connection\n"
        "                          or the previous answer, else the connection is closed\n"
        "                          [WHISTLE_REQUEST_TIMEOUT_MS] (default: 10000)\n"
        "  --idle-timeout-s N      an idle connection is closed after N s\n"
        "                          [WHISTLE_IDLE_TIMEOUT_S] (default: 30)\n"
        "  --sse-heartbeat-ms N    an SSE comment on every event stream each N ms (shows a\n"
        "                          client gone) [WHISTLE_SSE_HEARTBEAT_MS] (default: 15000)\n"
        "  --key FILE              keyed deployments: the gateway's own key pair, listed as\n"
        "                          'service gateway' in the services' allowlist [WHISTLE_KEY]\n"
        "  --server-key FILE       the services' public key (server.pub) [WHISTLE_SERVER_KEY]\n"
        "  --log-level LEVEL       error, warn, info or debug [WHISTLE_LOG_LEVEL] (default: info)\n"
        "  -h, --help              this text\n  --version               print the version\n\n"
        "Stops cleanly on SIGTERM or SIGINT: requests waiting on a service are answered 503.\n");
}

static int s_positive(const char *flag, const char *v, long max, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 1 || n > max) {
        fprintf(stderr, "whistle-gateway: %s must be 1..%ld, got '%s'\n", flag, max, v);
        return -1;
    }
    *out = n;
    return 0;
}

int gateway_options_parse(struct gateway_config *c, int argc, char **argv)
{
    memset(c, 0, sizeof *c);
    c->http = s_env("http", "127.0.0.1:7080");
    c->api_keys = s_env("api-keys", NULL);
    c->open = strcmp(s_env("open", "0"), "1") == 0;
    c->metrics_open = strcmp(s_env("metrics-open", "0"), "1") == 0;
    c->key = s_env("key", NULL);
    c->server_key = s_env("server-key", NULL);
    c->log_level = s_env("log-level", "info");
    c->catalog = s_env("catalog", "deploy/catalog/default.json");
    c->web = s_env("web", NULL);
    c->districts = s_env("districts", NULL);
    int single = 0; /* a single-district flag was given on the command line */
    const char *maxc = s_env("max-connections", "1000"), *bto = s_env("backend-timeout-ms", "5000");
    const char *rto = s_env("request-timeout-ms", "10000"), *ito = s_env("idle-timeout-s", "30");
    const char *sse = s_env("sse-heartbeat-ms", "15000");
    static char names[2 * GW_N_BACKENDS][32];
    for (int i = 0; i < GW_N_BACKENDS; i++) {
        snprintf(names[2 * i], 32, "%s-api", s_svc[i]);
        snprintf(names[2 * i + 1], 32, "%s-events", s_svc[i]);
        c->api[i] = s_env(names[2 * i], wh_default_api(s_svc[i]));
        c->events[i] = s_env(names[2 * i + 1], wh_default_events(s_svc[i]));
    }
    enum {
        O_HTTP = 256,
        O_KEYS,
        O_OPEN,
        O_KEY,
        O_SKEY,
        O_LOG,
        O_MAXC,
        O_BTO,
        O_RTO,
        O_ITO,
        O_VERSION,
        O_SSE,
        O_METRICS_OPEN,
        O_CATALOG,
        O_WEB,
        O_DISTRICTS,
        O_UP = 300
    };
    struct option opts[32] = {
        {"http", required_argument, 0, O_HTTP},
        {"api-keys", required_argument, 0, O_KEYS},
        {"open", no_argument, 0, O_OPEN},
        {"key", required_argument, 0, O_KEY},
        {"server-key", required_argument, 0, O_SKEY},
        {"log-level", required_argument, 0, O_LOG},
        {"max-connections", required_argument, 0, O_MAXC},
        {"backend-timeout-ms", required_argument, 0, O_BTO},
        {"request-timeout-ms", required_argument, 0, O_RTO},
        {"idle-timeout-s", required_argument, 0, O_ITO},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, O_VERSION},
        {"sse-heartbeat-ms", required_argument, 0, O_SSE},
        {"metrics-open", no_argument, 0, O_METRICS_OPEN},
        {"catalog", required_argument, 0, O_CATALOG},
        {"web", required_argument, 0, O_WEB},
        {"districts", required_argument, 0, O_DISTRICTS},
    };
    size_t n = 17;
    for (int i = 0; i < 2 * GW_N_BACKENDS; i++)
        opts[n++] = (struct option){names[i], required_argument, 0, O_UP + i};
    opts[n] = (struct option){0, 0, 0, 0};
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case O_HTTP: c->http = optarg; break;
        case O_KEYS: c->api_keys = optarg; break;
        case O_OPEN: c->open = 1; break;
        case O_METRICS_OPEN: c->metrics_open = 1; break;
        case O_CATALOG:
            c->catalog = optarg;
            single = 1;
            break;
        case O_DISTRICTS: c->districts = optarg; break;
        case O_WEB: c->web = optarg; break;
        case O_KEY: c->key = optarg; break;
        case O_SKEY: c->server_key = optarg; break;
        case O_LOG: c->log_level = optarg; break;
        case O_MAXC: maxc = optarg; break;
        case O_BTO: bto = optarg; break;
        case O_RTO: rto = optarg; break;
        case O_ITO: ito = optarg; break;
        case O_SSE: sse = optarg; break;
        case 'h': s_help(); return 1;
        case O_VERSION: printf("whistle-gateway %s\n", WHISTLE_VERSION); return 1;
        default:
            if (ch >= O_UP && ch < O_UP + 2 * GW_N_BACKENDS) {
                int k = ch - O_UP;
                single = 1;
                if (k % 2 == 0)
                    c->api[k / 2] = optarg;
                else
                    c->events[k / 2] = optarg;
                break;
            }
            fprintf(stderr, "whistle-gateway: see --help for the options\n");
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "whistle-gateway: unexpected argument '%s' (see --help)\n", argv[optind]);
        return -1;
    }
    long v;
    if (s_positive("--max-connections", maxc, 100000, &v)) return -1;
    c->max_connections = (unsigned)v;
    if (s_positive("--backend-timeout-ms", bto, 600000, &v)) return -1;
    c->backend_timeout_ms = (int)v;
    if (s_positive("--request-timeout-ms", rto, 600000, &v)) return -1;
    c->request_timeout_ms = (int)v;
    if (s_positive("--idle-timeout-s", ito, 86400, &v)) return -1;
    c->idle_timeout_s = (int)v;
    if (s_positive("--sse-heartbeat-ms", sse, 3600000, &v)) return -1;
    c->sse_heartbeat_ms = (int)v;
    if (!c->api_keys == !c->open) {
        fprintf(stderr,
                "whistle-gateway: give --api-keys FILE (callers identified by bearer "
                "keys) or --open (no keys, local development only), not %s\n",
                c->open ? "both" : "neither");
        return -1;
    }
    if (c->districts && single) {
        fprintf(stderr, "whistle-gateway: --districts FILE names each district's catalog and "
                        "services: give it without --catalog and --SERVICE-api/-events\n");
        return -1;
    }
    if (!c->key != !c->server_key) {
        fprintf(stderr, "whistle-gateway: a keyed deployment needs both --key FILE and "
                        "--server-key FILE\n");
        return -1;
    }
    return 0;
}
