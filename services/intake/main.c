/* main.c: whistle-intake. */
#include "intake.h"
#include "whistle/daemon.h"

static void *s_create(const struct wh_options *o, const struct wh_catalog *c)
{
    return intake_new(o, c);
}
static wh_service_t *s_service(void *obj) { return intake_service(obj); }
static void s_destroy(void *obj)
{
    intake_t *self = obj;
    intake_destroy(&self);
}

int main(int argc, char **argv)
{
    static const int ups[] = {-1};
    const struct wh_daemon d = {
        "intake",
        "The front door for reports: validates each SubmitReport, deduplicates it by its\n"
        "idempotency key, gives it a case id and replies only once it is durably stored.",
        ups, s_create, s_service, s_destroy, 0};
    return wh_daemon_main(&d, argc, argv);
}
