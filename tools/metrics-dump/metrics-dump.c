/* metrics-dump.c: asks each service for its Stats and prints them together in the Prometheus
 * text format 0.0.4 (what the gateway serves at /metrics), for an operator without the
 * gateway, a cron job writing a node_exporter textfile, or `promtool check metrics`.
 *
 *   metrics-dump [--key FILE --server-key FILE] [--timeout-ms N] [SERVICE...]
 *
 * SERVICE is intake, routing, tracking or notification (default: all four); each is asked on
 * WHISTLE_<SERVICE>_API (else its default port). Exit 0 when every one answered, 1 when one
 * did not (the others are printed; the missing ones are named on stderr), 2 on bad usage. */
#include "whistle/auth.h"
#include "whistle/client.h"
#include "whistle/error.h"
#include "whistle/metrics.h"
#include "whistle/options.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_all[] = {"intake", "routing", "tracking", "notification"};

static int s_usage(void)
{
    fprintf(stderr, "usage: metrics-dump [--key FILE --server-key FILE] [--timeout-ms N] "
                    "[intake|routing|tracking|notification ...]\n");
    return 2;
}

/* The endpoint of `service`: WHISTLE_<SERVICE>_API, else the default. */
static const char *s_endpoint(const char *service)
{
    char var[64];
    size_t i = 0;
    i += (size_t)snprintf(var, sizeof var, "WHISTLE_");
    for (const char *p = service; *p && i < sizeof var - 5; p++)
        var[i++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    snprintf(var + i, sizeof var - i, "_API");
    const char *ep = getenv(var);
    return ep && ep[0] ? ep : wh_default_api(service);
}

int main(int argc, char **argv)
{
    const char *key_file = getenv("WHISTLE_KEY"), *server_key_file = getenv("WHISTLE_SERVER_KEY");
    int timeout_ms = 5000;
    const char *want[4];
    size_t n_want = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
            key_file = argv[++i];
        } else if (strcmp(argv[i], "--server-key") == 0 && i + 1 < argc) {
            server_key_file = argv[++i];
        } else if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc) {
            timeout_ms = atoi(argv[++i]);
            if (timeout_ms <= 0) return s_usage();
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            s_usage();
            return 0;
        } else {
            size_t k = 0;
            while (k < 4 && strcmp(argv[i], s_all[k]) != 0)
                k++;
            if (k == 4 || n_want == 4) return s_usage();
            want[n_want++] = s_all[k];
        }
    }
    if (n_want == 0)
        for (size_t k = 0; k < 4; k++)
            want[n_want++] = s_all[k];
    if (key_file && !key_file[0]) key_file = NULL;
    if (server_key_file && !server_key_file[0]) server_key_file = NULL;
    struct wh_keypair key, server;
    if (key_file || server_key_file) {
        char err[512];
        if (!key_file || !server_key_file) {
            fprintf(stderr, "metrics-dump: --key and --server-key go together\n");
            return 2;
        }
        if (wh_keypair_load(key_file, 1, &key, err, sizeof err) ||
            wh_keypair_load(server_key_file, 0, &server, err, sizeof err)) {
            fprintf(stderr, "metrics-dump: %s\n", err);
            return 2;
        }
    }

    Whistle__V1__Reply *replies[4] = {NULL};
    const Whistle__V1__StatsReply *stats[4] = {NULL};
    int missing = 0;
    for (size_t i = 0; i < n_want; i++) {
        const char *ep = s_endpoint(want[i]);
        wh_client_t *c =
            key_file ? wh_client_new_keyed(ep, &key, server.public_key) : wh_client_new(ep);
        Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
        Whistle__V1__Stats st = WHISTLE__V1__STATS__INIT;
        req.body_case = WHISTLE__V1__REQUEST__BODY_STATS;
        req.stats = &st;
        int rc = c ? wh_client_call(c, &req, &replies[i], timeout_ms) : WH_EBUS;
        if (rc == 0 && replies[i]->body_case == WHISTLE__V1__REPLY__BODY_STATS) {
            stats[i] = replies[i]->stats;
        } else {
            missing = 1;
            if (rc == 0 && replies[i]->body_case == WHISTLE__V1__REPLY__BODY_ERROR)
                fprintf(stderr, "metrics-dump: %s (%s) refused: %s\n", want[i], ep,
                        replies[i]->error->message);
            else
                fprintf(stderr, "metrics-dump: %s (%s) did not answer: %s\n", want[i], ep,
                        wh_strerror(rc ? rc : WH_EMALFORMED));
        }
        wh_client_destroy(&c);
    }
    size_t len = 0;
    char *text = wh_metrics_render(stats, n_want, &len);
    int out = text && fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : 1;
    free(text);
    for (size_t i = 0; i < n_want; i++)
        if (replies[i]) whistle__v1__reply__free_unpacked(replies[i], NULL);
    return missing || out ? 1 : 0;
}
