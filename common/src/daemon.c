/* daemon.c: the shared main() of the four services. */
#include "whistle/daemon.h"
#include "whistle/wlog.h"
#include <stdio.h>

int wh_daemon_main(const struct wh_daemon *d, int argc, char **argv)
{
    struct wh_options o;
    int rc = wh_options_parse(&o, d->name, d->summary, d->upstreams, d->option_sets, argc,
                              argv);
    if (rc) return rc > 0 ? 0 : 2;
    int level = wh_log_parse_level(o.log_level);
    if (level < 0) {
        fprintf(stderr, "whistle-%s: --log-level must be error, warn, info or debug\n", d->name);
        return 2;
    }
    wh_log_init(d->name, level);
    char err[512];
    struct wh_catalog *cat = wh_catalog_load(o.catalog, err, sizeof err);
    if (!cat) {
        wh_log_error("cannot load the catalog: %s (set --catalog FILE)", err);
        return 1;
    }
    wh_log_info("catalog %s: %s, %zu units, %zu communities, %zu grids, %zu departments, "
                "%zu matters, %zu admitted affairs",
                o.catalog, cat->district_name, cat->n_units, cat->n_communities, cat->n_grids,
                cat->n_departments, cat->n_matters, cat->n_affairs);
    void *obj = d->create(&o, cat);
    if (!obj) {
        wh_log_error("%s did not start (see above)", d->name);
        wh_catalog_destroy(&cat);
        return 1;
    }
    wh_service_run(d->service(obj));
    d->destroy(obj);
    wh_catalog_destroy(&cat);
    wh_log_info("stopped");
    return 0;
}
