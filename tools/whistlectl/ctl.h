/* ctl.h: what every whistlectl command shares: its entry in the command table (usage, flags
 * and an example, printed by `whistlectl COMMAND --help`), and the strict parsing of its
 * arguments: an unknown option, a flag given twice, a missing value or a stray argument is
 * refused as "whistlectl COMMAND: ..." with a pointer to COMMAND --help. */
#ifndef WHISTLECTL_CTL_H
#define WHISTLECTL_CTL_H

#include <getopt.h>
#include <stdio.h>

enum { CTL_EXIT_REFUSED = 1, CTL_EXIT_USAGE = 2, CTL_EXIT_DOWN = 3 };

/* What ctl_getopt returns besides an option's value and -1 (no more options). */
enum { CTL_HELP = -2, CTL_BAD = -3 };

struct ctl_cmd {
    const char *name;      /* "show" */
    const char *synopsis;  /* "CASE": what follows the name */
    const char *summary;   /* one line for `whistlectl --help` */
    const char *help;      /* the flags and an example, for `whistlectl COMMAND --help` */
    int (*run)(const struct ctl_cmd *cmd, int argc, char **argv);
    int arg;               /* for the case actions: the Action */
};

/* Prints the command's usage, summary and help. */
void ctl_help(const struct ctl_cmd *cmd, FILE *out);

/* getopt_long for a command: the option's value; CTL_HELP after printing the help (exit 0);
 * CTL_BAD after printing why (exit 2): an unknown option, a missing value, or a flag given
 * twice (`seen`, zeroed by the caller, counts each value). -1 when the options are done. */
int ctl_getopt(const struct ctl_cmd *cmd, int argc, char **argv, const struct option *opts,
               unsigned char seen[256]);
/* The same, where the option values in `repeatable` (a string of them, e.g. "d"; NULL: none)
 * may be given more than once: the command marks them so explicitly (blow's --dept). Every
 * other flag given twice is still refused. */
int ctl_getopt_repeat(const struct ctl_cmd *cmd, int argc, char **argv,
                      const struct option *opts, unsigned char seen[256],
                      const char *repeatable);

/* Checks that between `min` and `max` arguments follow the options (argv[optind..]);
 * otherwise prints why and returns CTL_EXIT_USAGE. `what` names them ("a CASE id"). */
int ctl_args(const struct ctl_cmd *cmd, int argc, char **argv, int min, int max,
             const char *what);

/* Prints "whistlectl COMMAND: <message> (see whistlectl COMMAND --help)" and returns
 * CTL_EXIT_USAGE. */
int ctl_usage(const struct ctl_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A whole number for `flag` within min..max; otherwise ctl_usage "FLAG must be MIN..MAX, got
 * V" and CTL_EXIT_USAGE. */
int ctl_number(const struct ctl_cmd *cmd, const char *flag, const char *value, long long min,
               long long max, long long *out);

/* ---- output shared by the commands ---------------------------------------------------- */

/* Display cells of UTF-8 `s`: a CJK character takes two, so tables line up. */
int ctl_cells(const char *s);
/* Prints `s` to stdout padded with spaces to `width` display cells. */
void ctl_cell(const char *s, int width);
/* Writes one CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
void ctl_csv_field(FILE *f, const char *s);

#endif
