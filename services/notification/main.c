/* main.c: whistle-notification. */
#include "notification.h"
#include "whistle/daemon.h"

static void *s_create(const struct wh_options *o, const struct wh_catalog *c)
{
    return notification_new(o, c);
}
static wh_service_t *s_service(void *obj) { return notification_service(obj); }
static void s_destroy(void *obj)
{
    notification_t *self = obj;
    notification_destroy(&self);
}

int main(int argc, char **argv)
{
    static const int ups[] = {WH_UP_TRACKING, -1};
    const struct wh_daemon d = {
        "notification",
        "The way out: follows tracking's log and fans each case event out to the topics\n"
        "all/, case/<id>/, unit/<code>/, grid/<code>/, dept/<code>/ and district/, each with\n"
        "its own gapless sequence, live on the event socket and by replay from any sequence\n"
        "still kept (see --retention-ms). docs/topics.md says what each topic carries.",
        ups, s_create, s_service, s_destroy, WH_OPT_RETENTION};
    return wh_daemon_main(&d, argc, argv);
}
