/* main.c: whistle-routing. */
#include "routing.h"
#include "whistle/daemon.h"

static void *s_create(const struct wh_options *o, const struct wh_catalog *c)
{
    return routing_new(o, c);
}
static wh_service_t *s_service(void *obj) { return routing_service(obj); }
static void s_destroy(void *obj)
{
    routing_t *self = obj;
    routing_destroy(&self);
}

int main(int argc, char **argv)
{
    static const int ups[] = {WH_UP_INTAKE, WH_UP_TRACKING, -1};
    const struct wh_daemon d = {
        "routing",
        "The whistle rulebook: follows intake's log and, for each reported case, picks the\n"
        "whistle, the lead township or street and the supporting departments from the\n"
        "catalog, sets the deadlines and publishes case.dispatched.",
        ups, s_create, s_service, s_destroy, 0};
    return wh_daemon_main(&d, argc, argv);
}
