/* daemon.h: the body every service's main() shares: options, log level, catalog, create,
 * run until SIGTERM, destroy. Keeps each main.c a dozen lines. */
#ifndef WHISTLE_DAEMON_H
#define WHISTLE_DAEMON_H
#include "whistle/catalog.h"
#include "whistle/options.h"
#include "whistle/service.h"

struct wh_daemon {
    const char *name;      /* "intake" */
    const char *summary;   /* one paragraph for --help */
    const int *upstreams;  /* WH_UP_..., -1 terminated */
    /* Creates the service object; NULL on failure (logged). */
    void *(*create)(const struct wh_options *o, const struct wh_catalog *cat);
    wh_service_t *(*service)(void *obj);
    void (*destroy)(void *obj);
    unsigned option_sets;  /* WH_OPT_... flags this service takes besides the common ones */
};

/* Parses argv, loads the catalog, creates, runs and destroys. Returns the exit status:
 * 0 clean stop or --help, 2 bad usage, 1 failure to start (with a line saying what to fix). */
int wh_daemon_main(const struct wh_daemon *d, int argc, char **argv);

#endif
