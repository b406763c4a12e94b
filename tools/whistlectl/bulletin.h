/* bulletin.h: whistlectl bulletin, the period's 周调度 / 月通报 / 季点评 / 年考核 as a document
 * (markdown, one self-contained HTML file, or CSV), and the figures' cells it shares with
 * report --period: a rate with no value is "—" in a table, an empty CSV cell, a JSON null. */
#ifndef WHISTLECTL_BULLETIN_H
#define WHISTLECTL_BULLETIN_H

#include "whistle/codec.h"
#include <stdio.h>

struct ctl_cmd;

/* What bulletin takes from whistlectl. */
struct ctl_bulletin_env {
    int json; /* --json: the BulletinReply as JSON instead of a document */
    /* sends `req` to service `svc` (WH_UP_*): 0 with *reply, or an exit status after printing
     * why (whistlectl's s_call) */
    int (*call)(int svc, Whistle__V1__Request *req, Whistle__V1__Reply **reply);
    const struct ctl_cmd *cmd; /* its entry in the command table (help, messages) */
};

/* Runs `bulletin --period P [--unit U] --format md|html|csv [--out FILE] [--overdue N]`
 * (argv[0] is "bulletin"). Returns whistlectl's exit status: 0 written, 1 refused (or FILE
 * could not be written), 2 usage, 3 no answer. */
int ctl_bulletin_run(const struct ctl_bulletin_env *env, int argc, char **argv);

/* A rate as people read it: "57.1%", or "—" when it has no value. Returns buf. */
const char *ctl_rate(char *buf, size_t n, int has, double rate);
/* A score out of 100 ("83.3"), or "—" when the row has none. Returns buf. */
const char *ctl_score(char *buf, size_t n, int has, double score);
/* A rate for CSV: "%.6f", or "" (an empty cell) when it has no value. Returns buf. */
const char *ctl_csv_rate(char *buf, size_t n, int has, double rate);
/* Prints `fr` as one line of JSON, a rate or score with no value as null. */
void ctl_figures_json(const Whistle__V1__FiguresReply *fr);
/* Prints the scorecard of the one row of `town` (figures by township for one unit): its rank
 * among the townships, rates, escalations. */
void ctl_scorecard_print(FILE *out, const Whistle__V1__FiguresReply *town);

#endif
