/* fuzz_routing.c: routing's request dispatch on a temporary store. The input is one Request
 * frame as a peer would send it on the ROUTER. routing is made once, with its real configuration
 * on ipc:// endpoints in a temporary folder, keys on (the request_id says who asks) and the
 * test catalog. Cases C00000001..4 are reported by intake first. Each input is handled and
 * committed; fuzz_service.h says what is checked. */
#include "fuzz.h"
#include "fuzz_service.h"
#include "routing.h"
#include "whistle/clock.h"
#include <stdio.h>
#include <stdlib.h>

static struct wh_options s_opt;
static struct wh_catalog *s_cat;
static routing_t *s_svc;
static struct wh_fuzz_svc s_f;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[256];
    wh_fuzz_log("routing");
    wh_fuzz_options(&s_opt, "routing");
    wh_fuzz_keys(&s_opt); /* keys on: the request_id says who asks (fuzz_service.h) */
    s_cat = wh_catalog_load(s_opt.catalog, err, sizeof err);
    if (!s_cat || !(s_svc = routing_new(&s_opt, s_cat))) {
        fprintf(stderr, "fuzz_routing: cannot start: %s\n", s_cat ? "see the log" : err);
        abort();
    }
    wh_fuzz_svc_attach(&s_f, routing_service(s_svc));
    wh_fuzz_svc_seed_cases(&s_f, "intake"); /* cases to act on: C00000001.. */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wh_fuzz_svc_request(&s_f, data, size);
    return 0;
}
