/* tail.h: whistlectl tail, a topic replayed from a sequence and then followed live. */
#ifndef WHISTLECTL_TAIL_H
#define WHISTLECTL_TAIL_H

#include "whistle/client.h"

struct ctl_cmd;

/* What tail takes from whistlectl's global options. */
struct ctl_tail_env {
    int json;              /* one JSON object per entry instead of one line of text */
    int timeout_ms;        /* for each Replay */
    const char *api;       /* notification's ROUTER */
    const char *events;    /* notification's XPUB */
    wh_client_t *(*client)(const char *endpoint); /* a client, keyed when keys are on */
    const struct ctl_cmd *cmd;  /* its entry in whistlectl's command table (help, messages) */
};

/* Runs `tail TOPIC [options]` (argv[0] is "tail"). Returns whistlectl's exit status: 0 done
 * (count reached, idle, or SIGINT/SIGTERM), 1 refused (a sequence that is gone, a cursor
 * file that cannot be written), 2 usage. */
int ctl_tail_run(const struct ctl_tail_env *env, int argc, char **argv);

#endif
