/* ctl.c: whistlectl's per-command help and strict argument parsing (ctl.h). */
#include "ctl.h"
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void ctl_help(const struct ctl_cmd *cmd, FILE *out)
{
    fprintf(out, "Usage: whistlectl [GLOBAL OPTIONS] %s%s%s\n\n%s\n\n%s", cmd->name,
            cmd->synopsis[0] ? " " : "", cmd->synopsis, cmd->summary, cmd->help);
    fprintf(out, "\nGlobal options (before the command): see whistlectl --help.\n");
}

int ctl_usage(const struct ctl_cmd *cmd, const char *fmt, ...)
{
    fprintf(stderr, "whistlectl%s%s: ", cmd->name[0] ? " " : "", cmd->name);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see whistlectl%s%s --help)\n", cmd->name[0] ? " " : "", cmd->name);
    return CTL_EXIT_USAGE;
}

int ctl_getopt(const struct ctl_cmd *cmd, int argc, char **argv, const struct option *opts,
               unsigned char seen[256])
{
    return ctl_getopt_repeat(cmd, argc, argv, opts, seen, NULL);
}

int ctl_getopt_repeat(const struct ctl_cmd *cmd, int argc, char **argv,
                      const struct option *opts, unsigned char seen[256],
                      const char *repeatable)
{
    int idx = -1;
    opterr = 0; /* the messages are ours, naming the command */
    int c = getopt_long(argc, argv, ":h", opts, &idx);
    if (c == -1) return -1;
    if (c == 'h') {
        ctl_help(cmd, stdout);
        return CTL_HELP;
    }
    if (c == '?') {
        if (optopt) ctl_usage(cmd, "unknown option '-%c'", optopt);
        else ctl_usage(cmd, "unknown option '%s'", argv[optind - 1]);
        return CTL_BAD;
    }
    if (c == ':') {
        ctl_usage(cmd, "%s needs a value", argv[optind - 1]);
        return CTL_BAD;
    }
    int repeats = c > 0 && c < 256 && repeatable && strchr(repeatable, c);
    if (c >= 0 && c < 256 && seen[c]++ && !repeats) {
        if (idx >= 0) ctl_usage(cmd, "--%s given twice; give each flag once", opts[idx].name);
        else ctl_usage(cmd, "a flag given twice; give each flag once");
        return CTL_BAD;
    }
    return c;
}

int ctl_args(const struct ctl_cmd *cmd, int argc, char **argv, int min, int max,
             const char *what)
{
    int n = argc - optind;
    if (n < min) return ctl_usage(cmd, "needs %s", what);
    if (n > max) return ctl_usage(cmd, "unexpected argument '%s'", argv[optind + max]);
    return 0;
}

int ctl_number(const struct ctl_cmd *cmd, const char *flag, const char *value, long long min,
               long long max, long long *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(value, &end, 10);
    if (errno || end == value || *end || n < min || n > max)
        return ctl_usage(cmd, "%s must be %lld..%lld, got %s", flag, min, max, value);
    *out = n;
    return 0;
}

int ctl_cells(const char *s)
{
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) == 0x80) continue; /* a continuation byte */
        n += *p < 0x80 ? 1 : 2;
    }
    return n;
}

void ctl_cell(const char *s, int width)
{
    fputs(s, stdout);
    for (int n = ctl_cells(s); n < width; n++) putchar(' ');
}

void ctl_csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}
