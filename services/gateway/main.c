/* main.c: whistle-gateway. */
#include "gateway.h"
#include "whistle/wlog.h"
#include <stdio.h>
#include <sys/resource.h>

int main(int argc, char **argv)
{
    struct gateway_config cfg;
    int rc = gateway_options_parse(&cfg, argc, argv);
    if (rc) return rc > 0 ? 0 : 2;
    int level = wh_log_parse_level(cfg.log_level);
    if (level < 0) {
        fprintf(stderr, "whistle-gateway: --log-level must be error, warn, info or debug\n");
        return 2;
    }
    wh_log_init("gateway", level);
    /* one descriptor per HTTP connection: take what the hard limit allows */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    gateway_t *gw = gateway_new(&cfg);
    if (!gw) {
        wh_log_error("gateway did not start (see above)");
        return 1;
    }
    gateway_run(gw);
    gateway_destroy(&gw);
    wh_log_info("stopped");
    return 0;
}
