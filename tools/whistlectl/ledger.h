/* ledger.h: whistlectl ledger, a grid's book (一格一账本) for a period, as text for people,
 * one JSON object, or one CSV. */
#ifndef WHISTLECTL_LEDGER_H
#define WHISTLECTL_LEDGER_H

#include <whistle/v1/whistle.pb-c.h>

struct ctl_cmd;

/* What ledger takes from whistlectl. */
struct ctl_ledger_env {
    int json; /* --json before the command */
    /* Sends `req` to tracking: 0 with *reply set (the caller frees it), or whistlectl's exit
     * status after printing why (a refusal on one line, with the catalog hint). */
    int (*call)(Whistle__V1__Request *req, Whistle__V1__Reply **reply);
    const struct ctl_cmd *cmd; /* its entry in whistlectl's command table */
};

/* Runs `ledger --grid G [--period P] [--json | --csv]` (argv[0] is "ledger"). Returns
 * whistlectl's exit status: 0 printed, 1 refused, 2 usage, 3 no answer. */
int ctl_ledger_run(const struct ctl_ledger_env *env, int argc, char **argv);

#endif
