/* main.c: whistle-tracking. */
#include "tracking.h"
#include "whistle/daemon.h"

static void *s_create(const struct wh_options *o, const struct wh_catalog *c)
{
    return tracking_new(o, c);
}
static wh_service_t *s_service(void *obj) { return tracking_service(obj); }
static void s_destroy(void *obj)
{
    tracking_t *self = obj;
    tracking_destroy(&self);
}

int main(int argc, char **argv)
{
    static const int ups[] = {WH_UP_ROUTING, WH_UP_NOTIFICATION, -1};
    const struct wh_daemon d = {
        "tracking",
        "The ledger: follows routing's log to open cases, takes check-in, progress, complete,\n"
        "resolve and verify with a reply that says why a refused action is refused, and\n"
        "answers show and list queries. With --rebuild, an empty data folder is first rebuilt\n"
        "from notification's all/ topic (--notification-api).",
        ups, s_create, s_service, s_destroy, 0};
    return wh_daemon_main(&d, argc, argv);
}
