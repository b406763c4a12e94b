/* fuzz_tracking_apply.c: tracking's follower apply. The input is one Envelope as routing would
 * publish it; tracking is made once (real configuration, ipc:// endpoints in a temporary folder,
 * the test catalog, and cases C00000001.. dispatched by routing), and each input is applied as the
 * follower's next entry (its seq is set to the cursor + 1) and committed: it must be applied or
 * recorded as not applicable, never fail the batch (fuzz_service.h says what else is checked). */
#include "fuzz.h"
#include "fuzz_service.h"
#include "tracking.h"
#include "whistle/clock.h"
#include <stdio.h>
#include <stdlib.h>

static struct wh_options s_opt;
static struct wh_catalog *s_cat;
static tracking_t *s_svc;
static struct wh_fuzz_svc s_f;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[256];
    wh_fuzz_log("tracking");
    wh_fuzz_options(&s_opt, "tracking");
    s_cat = wh_catalog_load(s_opt.catalog, err, sizeof err);
    if (!s_cat || !(s_svc = tracking_new(&s_opt, s_cat))) {
        fprintf(stderr, "fuzz_tracking_apply: cannot start: %s\n", s_cat ? "see the log" : err);
        abort();
    }
    wh_fuzz_svc_attach(&s_f, tracking_service(s_svc));
    wh_fuzz_svc_seed_cases(&s_f, "routing"); /* cases to act on: C00000001.. */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Whistle__V1__Envelope *env = wh_envelope_unpack(data, size);
    if (!env) return 0; /* the follower drops what does not decode (fuzz_codec covers it) */
    wh_fuzz_svc_apply(&s_f, "routing", 0, env);
    whistle__v1__envelope__free_unpacked(env, NULL);
    return 0;
}
