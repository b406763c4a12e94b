/* whistle-query: read latencies of tracking with a full ledger (issue 13, "a million cases").
 * A benchmark, not a test: bench/million.sh loads the cases and drives this binary.
 *
 * One client, one request at a time (a person at a screen, a department's system), so each
 * latency is the service's alone: GetCase of random case ids C00000001..C<n>, pages of
 * ListCases (any state, and one department's, paged with after_case_id), and Figures for a
 * period. Prints count, p50, p99 and max for each, in milliseconds. */
#include "whistle/client.h"
#include "whistle/codec.h"
#include "whistle/error.h"
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int s_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void s_print(const char *what, int64_t *ns, size_t n, size_t failed)
{
    if (n == 0) {
        printf("%-28s none answered (%zu failed)\n", what, failed);
        return;
    }
    qsort(ns, n, sizeof *ns, s_cmp);
    printf("%-28s %6zu  p50 %8.3f ms  p99 %8.3f ms  max %8.3f ms  (%zu failed)\n", what, n,
           ns[n / 2] / 1e6, ns[(n * 99) / 100] / 1e6, ns[n - 1] / 1e6, failed);
}

/* Sends `req` and records its latency when the answer is not an error. */
static int s_timed(wh_client_t *c, Whistle__V1__Request *req, int64_t *out, Whistle__V1__Reply **rep)
{
    int64_t t0 = s_now_ns();
    int rc = wh_client_call(c, req, rep, 30000);
    *out = s_now_ns() - t0;
    if (rc) return rc;
    if ((*rep)->body_case == WHISTLE__V1__REPLY__BODY_ERROR) {
        fprintf(stderr, "whistle-query: %s\n", (*rep)->error->message);
        whistle__v1__reply__free_unpacked(*rep, NULL);
        *rep = NULL;
        return WH_EFIELD;
    }
    return 0;
}

static void s_usage(FILE *f)
{
    fprintf(f, "usage: whistle-query --tracking-api EP --cases N [--samples K] [--department D]\n"
               "                     [--period P]...\n"
               "GetCase of K random ids of C00000001..N, K pages of ListCases (100 each, any\n"
               "state; and of department D), then Figures for each --period (by department),\n"
               "one request at a time; p50/p99/max in ms.\n");
}

int main(int argc, char **argv)
{
    const char *ep = NULL, *dept = "cg";
    const char *periods[8];
    size_t n_periods = 0;
    long cases = 0, samples = 2000;
    static const struct option opts[] = {{"tracking-api", 1, 0, 't'}, {"cases", 1, 0, 'n'},
                                         {"samples", 1, 0, 's'},      {"department", 1, 0, 'd'},
                                         {"period", 1, 0, 'p'},       {"help", 0, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't': ep = optarg; break;
        case 'n': cases = atol(optarg); break;
        case 's': samples = atol(optarg); break;
        case 'd': dept = optarg; break;
        case 'p':
            if (n_periods < 8) periods[n_periods++] = optarg;
            break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    if (!ep || cases <= 0 || samples <= 0) {
        s_usage(stderr);
        return 2;
    }
    wh_client_t *cl = wh_client_new(ep);
    if (!cl) return 1;
    int64_t *lat = calloc((size_t)samples, sizeof *lat);
    if (!lat) return 1;
    srand(42);

    size_t n = 0, failed = 0;
    for (long i = 0; i < samples; i++) {
        char id[32];
        snprintf(id, sizeof id, "C%08ld", 1 + (long)((double)rand() / RAND_MAX * (cases - 1)));
        Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
        Whistle__V1__GetCase gc = WHISTLE__V1__GET_CASE__INIT;
        gc.case_id = id;
        req.body_case = WHISTLE__V1__REQUEST__BODY_GET_CASE;
        req.get_case = &gc;
        Whistle__V1__Reply *rep = NULL;
        if (s_timed(cl, &req, &lat[n], &rep) == 0) {
            n++;
            whistle__v1__reply__free_unpacked(rep, NULL);
        } else {
            failed++;
        }
    }
    s_print("GetCase (random id)", lat, n, failed);

    for (int by_dept = 0; by_dept < 2; by_dept++) {
        char after[64] = "";
        n = failed = 0;
        for (long i = 0; i < samples; i++) {
            Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
            Whistle__V1__ListCases lc = WHISTLE__V1__LIST_CASES__INIT;
            lc.limit = 100;
            lc.after_case_id = after;
            if (by_dept) lc.department = (char *)dept;
            req.body_case = WHISTLE__V1__REQUEST__BODY_LIST_CASES;
            req.list_cases = &lc;
            Whistle__V1__Reply *rep = NULL;
            if (s_timed(cl, &req, &lat[n], &rep) != 0) {
                failed++;
                continue;
            }
            n++;
            const char *next = rep->list_cases ? rep->list_cases->next_after : "";
            snprintf(after, sizeof after, "%s", next ? next : "");
            whistle__v1__reply__free_unpacked(rep, NULL);
        }
        s_print(by_dept ? "ListCases page (department)" : "ListCases page (any)", lat, n, failed);
    }

    for (size_t p = 0; p < n_periods; p++) {
        Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
        Whistle__V1__Figures fg = WHISTLE__V1__FIGURES__INIT;
        fg.period = (char *)periods[p];
        fg.by = "department";
        req.body_case = WHISTLE__V1__REQUEST__BODY_FIGURES;
        req.figures = &fg;
        Whistle__V1__Reply *rep = NULL;
        int64_t ns = 0;
        char what[64];
        snprintf(what, sizeof what, "Figures %s", periods[p]);
        int rc = s_timed(cl, &req, &ns, &rep);
        s_print(what, &ns, rc == 0 ? 1 : 0, rc == 0 ? 0 : 1);
        if (rep) whistle__v1__reply__free_unpacked(rep, NULL);
    }
    free(lat);
    wh_client_destroy(&cl);
    return 0;
}
