/* ledger.c: whistlectl ledger: one grid's book (一格一账本) for a period, asked of tracking in
 * one GridLedger request (one transaction: the sections agree with each other) and printed
 * three ways:
 *   text    a header per section (the grid, staff, visits, cases reported, open items), local
 *           dates, and no field printed empty;
 *   --json  the LedgerReply as one JSON object;
 *   --csv   one RFC 4180 table (CRLF, header first) with a `section` column: grid, staff,
 *           visit, case, open; each section fills its own columns and leaves the others
 *           empty (s_csv_header lists them). Times are local "YYYY-MM-DD HH:MM:SS". */
#include "ledger.h"
#include "ctl.h"
#include "whistle/codec.h"
#include "whistle/json.h"
#include <getopt.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- shared ----------------------------------------------------------------------------- */

static void s_fmt(char *buf, size_t n, int64_t ms, const char *fmt)
{
    buf[0] = 0;
    if (ms <= 0) return;
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, n, fmt, &tm);
}



static const char *s_whistle(int w)
{
    switch (w) {
    case WHISTLE__V1__WHISTLE__QUICK: return "QUICK 快捷哨";
    case WHISTLE__V1__WHISTLE__EMERGENCY: return "EMERGENCY 应急哨";
    case WHISTLE__V1__WHISTLE__TOUGH: return "TOUGH 攻坚哨";
    default: return NULL; /* none blown (refused) */
    }
}

/* ---- text ------------------------------------------------------------------------------- */

static void s_text_case(const Whistle__V1__LedgerCase *c, int64_t now_ms)
{
    char t[32];
    printf("  %s  %s", c->case_id, wh_state_name(c->state));
    if (s_whistle(c->whistle)) printf("  %s", s_whistle(c->whistle));
    printf("  %s", c->matter);
    if (c->matter_name[0]) printf(" %s", c->matter_name);
    printf("\n   ");
    static const struct {
        const char *label;
        size_t offset;
    } dates[] = {
        {"reported", offsetof(Whistle__V1__LedgerCase, reported_at_ms)},
        {"dispatched", offsetof(Whistle__V1__LedgerCase, dispatched_at_ms)},
        {"resolved", offsetof(Whistle__V1__LedgerCase, resolved_at_ms)},
        {"closed", offsetof(Whistle__V1__LedgerCase, closed_at_ms)},
    };
    const char *sep = " ";
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        int64_t ms = *(const int64_t *)((const char *)c + dates[i].offset);
        if (ms <= 0) continue;
        const char *label = dates[i].label;
        if (i == 3 && c->state == WHISTLE__V1__CASE_STATE__REFUSED) label = "refused";
        s_fmt(t, sizeof t, ms, "%Y-%m-%d %H:%M");
        printf("%s%s %s", sep, label, t);
        sep = ", ";
    }
    if (c->open && c->due_ms > 0) {
        s_fmt(t, sizeof t, c->due_ms, "%Y-%m-%d %H:%M");
        printf("%sdue %s%s", sep, t, c->due_ms < now_ms ? " (overdue)" : "");
    }
    if (c->verified_by_default) printf(" (verified by default: no answer)");
    if (c->reopen_count) printf(", reopened %u time(s)", c->reopen_count);
    printf("\n");
    if (c->n_departments) {
        printf("    departments");
        for (size_t i = 0; i < c->n_departments; i++)
            printf("%s %s", i ? "," : "", c->departments[i]);
        printf("\n");
    }
    if (c->location[0]) printf("    at %s\n", c->location);
    if (c->description[0]) printf("    %s\n", c->description);
    if (c->refused_reason[0]) printf("    refused: %s\n", c->refused_reason);
}

static void s_text(const Whistle__V1__LedgerReply *r)
{
    char from[16], last[16];
    int64_t now_ms = (int64_t)time(NULL) * 1000;
    s_fmt(from, sizeof from, r->from_ms, "%Y-%m-%d");
    s_fmt(last, sizeof last, r->to_ms - 1, "%Y-%m-%d");
    printf("一格一账本 grid %s, %s (%s to %s)\n", r->grid, r->period, from, last);
    printf("  community %s %s, %s %s %s", r->community, r->community_name,
           r->street ? "street" : "township", r->unit, r->unit_name);
    if (r->households >= 0) printf(", %d households", r->households);
    printf("\n");

    uint32_t visits = 0, minutes = 0;
    int w = 4;
    for (size_t i = 0; i < r->n_staff; i++) {
        visits += r->staff[i]->visits;
        minutes += r->staff[i]->minutes;
        if (ctl_cells(r->staff[i]->staff) > w) w = ctl_cells(r->staff[i]->staff);
    }
    printf("\nstaff (1+%zu): %u visit(s), %u:%02u in the period\n", r->n_staff ? r->n_staff - 1 : 0,
           visits, minutes / 60, minutes % 60);
    for (size_t i = 0; i < r->n_staff; i++) {
        const Whistle__V1__VisitRow *s = r->staff[i];
        printf("  %-6s  ", s->role);
        ctl_cell(s->staff, w + 2);
        printf("%3u:%02u", s->minutes / 60, s->minutes % 60);
        if (s->visits) printf("  %u visit(s)", s->visits);
        if (s->under_minimum) printf("  < 5 h");
        printf("\n");
    }

    printf("\nvisits (%zu)\n", r->n_visits);
    for (size_t i = 0; i < r->n_visits; i++) {
        const Whistle__V1__VisitRow *v = r->visits[i];
        printf("  %s  ", v->date);
        ctl_cell(v->staff, w + 2);
        printf("%3u:%02u", v->minutes / 60, v->minutes % 60);
        if (v->note[0]) printf("  %s", v->note);
        printf("\n");
    }
    if (r->visits_not_listed)
        printf("  (%u more visit(s) not listed: ask a shorter --period)\n", r->visits_not_listed);

    size_t open = 0;
    for (size_t i = 0; i < r->n_cases; i++)
        open += r->cases[i]->open;
    printf("\ncases reported (%zu): %zu open, %zu closed or refused\n", r->n_cases, open,
           r->n_cases - open);
    for (size_t i = 0; i < r->n_cases; i++)
        s_text_case(r->cases[i], now_ms);
    if (r->cases_not_listed)
        printf("  (%u more case(s) not listed: ask a shorter --period)\n", r->cases_not_listed);

    printf("\nopen items (%zu): open now, whenever reported\n", r->n_open);
    for (size_t i = 0; i < r->n_open; i++)
        s_text_case(r->open[i], now_ms);
    if (r->open_not_listed) printf("  (%u more open case(s) not listed)\n", r->open_not_listed);
}

/* ---- csv -------------------------------------------------------------------------------- */

enum {
    C_SECTION,
    C_GRID,
    C_PERIOD,
    C_COMMUNITY,
    C_UNIT,
    C_HOUSEHOLDS,
    C_STAFF,
    C_ROLE,
    C_VISITS,
    C_MINUTES,
    C_DATE,
    C_CASE,
    C_STATE,
    C_WHISTLE,
    C_MATTER,
    C_REPORTED,
    C_DISPATCHED,
    C_RESOLVED,
    C_CLOSED,
    C_DUE,
    C_DEPARTMENTS,
    C_NOTE,
    C_N
};

static const char *const s_csv_header[C_N] = {
    "section", "grid",    "period",      "community", "unit",       "households",
    "staff",   "role",    "visits",      "minutes",   "date",       "case_id",
    "state",   "whistle", "matter",      "reported",  "dispatched", "resolved",
    "closed",  "due",     "departments", "note"};


/* One row: `cols` holds C_N strings (NULL = empty). Frees nothing. */
static void s_csv_row(char *cols[C_N])
{
    for (int i = 0; i < C_N; i++) {
        if (i) putchar(',');
        if (cols[i]) ctl_csv_field(stdout, cols[i]);
    }
    fputs("\r\n", stdout);
}

static void s_csv_case(const char *section, const char *grid, const Whistle__V1__LedgerCase *c)
{
    char *cols[C_N] = {0};
    char t[5][32], deps[16 * 34] = "";
    cols[C_SECTION] = (char *)section;
    cols[C_GRID] = (char *)grid;
    cols[C_CASE] = c->case_id;
    cols[C_STATE] = (char *)wh_state_name(c->state);
    cols[C_WHISTLE] = c->whistle ? (char *)wh_whistle_name(c->whistle) : NULL;
    cols[C_MATTER] = c->matter;
    int64_t ms[5] = {c->reported_at_ms, c->dispatched_at_ms, c->resolved_at_ms, c->closed_at_ms,
                     c->open ? c->due_ms : 0};
    for (int i = 0; i < 5; i++) {
        s_fmt(t[i], sizeof t[i], ms[i], "%Y-%m-%d %H:%M:%S");
        cols[C_REPORTED + i] = t[i][0] ? t[i] : NULL;
    }
    for (size_t i = 0; i < c->n_departments; i++) {
        size_t n = strlen(deps);
        snprintf(deps + n, sizeof deps - n, "%s%s", i ? " " : "", c->departments[i]);
    }
    cols[C_DEPARTMENTS] = deps;
    cols[C_NOTE] = c->state == WHISTLE__V1__CASE_STATE__REFUSED && c->refused_reason[0]
                       ? c->refused_reason
                       : c->description;
    s_csv_row(cols);
}

static void s_csv(const Whistle__V1__LedgerReply *r)
{
    char *cols[C_N];
    for (int i = 0; i < C_N; i++)
        cols[i] = (char *)s_csv_header[i];
    s_csv_row(cols);

    char hh[16], n1[16], n2[16];
    memset(cols, 0, sizeof cols);
    cols[C_SECTION] = "grid";
    cols[C_GRID] = r->grid;
    cols[C_PERIOD] = r->period;
    cols[C_COMMUNITY] = r->community;
    cols[C_UNIT] = r->unit;
    snprintf(hh, sizeof hh, "%d", r->households);
    cols[C_HOUSEHOLDS] = r->households >= 0 ? hh : NULL;
    s_csv_row(cols);

    for (size_t i = 0; i < r->n_staff; i++) {
        const Whistle__V1__VisitRow *s = r->staff[i];
        memset(cols, 0, sizeof cols);
        cols[C_SECTION] = "staff";
        cols[C_GRID] = r->grid;
        cols[C_STAFF] = s->staff;
        cols[C_ROLE] = s->role;
        snprintf(n1, sizeof n1, "%u", s->visits);
        snprintf(n2, sizeof n2, "%u", s->minutes);
        cols[C_VISITS] = n1;
        cols[C_MINUTES] = n2;
        cols[C_NOTE] = s->under_minimum ? "under 5 hours" : NULL;
        s_csv_row(cols);
    }
    for (size_t i = 0; i < r->n_visits; i++) {
        const Whistle__V1__VisitRow *v = r->visits[i];
        memset(cols, 0, sizeof cols);
        cols[C_SECTION] = "visit";
        cols[C_GRID] = r->grid;
        cols[C_STAFF] = v->staff;
        cols[C_ROLE] = v->role;
        snprintf(n2, sizeof n2, "%u", v->minutes);
        cols[C_MINUTES] = n2;
        cols[C_DATE] = v->date;
        cols[C_NOTE] = v->note;
        s_csv_row(cols);
    }
    for (size_t i = 0; i < r->n_cases; i++)
        s_csv_case("case", r->grid, r->cases[i]);
    for (size_t i = 0; i < r->n_open; i++)
        s_csv_case("open", r->grid, r->open[i]);
}

/* ---- the command ------------------------------------------------------------------------ */

int ctl_ledger_run(const struct ctl_ledger_env *env, int argc, char **argv)
{
    const struct ctl_cmd *cmd = env->cmd;
    Whistle__V1__GridLedger q = WHISTLE__V1__GRID_LEDGER__INIT;
    static const struct option opts[] = {{"grid", 1, 0, 'g'}, {"period", 1, 0, 'p'},
                                         {"json", 0, 0, 'j'}, {"csv", 0, 0, 'c'},
                                         {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c, json = env->json, csv = 0;
    unsigned char seen[256] = {0};
    while ((c = ctl_getopt(cmd, argc, argv, opts, seen)) != -1) {
        switch (c) {
        case 'g': q.grid = optarg; break;
        case 'p': q.period = optarg; break;
        case 'j': json = 1; break;
        case 'c': csv = 1; break;
        case CTL_HELP: return 0;
        default: return CTL_EXIT_USAGE;
        }
    }
    if (ctl_args(cmd, argc, argv, 0, 0, "")) return CTL_EXIT_USAGE;
    if (!q.grid[0]) return ctl_usage(cmd, "needs --grid G (whistlectl catalog list grids)");
    if (seen['p'] && !q.period[0])
        return ctl_usage(cmd, "--period must be an ISO week 2026-W48, a month 2026-11, a "
                              "quarter 2026-Q4 or a year 2026 (leave it out: this month)");
    if (csv && json) return ctl_usage(cmd, "--csv and --json are two exports; pick one");
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    req.body_case = WHISTLE__V1__REQUEST__BODY_GRID_LEDGER;
    req.grid_ledger = &q;
    Whistle__V1__Reply *r = NULL;
    int rc = env->call(&req, &r);
    if (rc) return rc;
    if (r->body_case != WHISTLE__V1__REPLY__BODY_GRID_LEDGER) {
        fprintf(stderr, "whistlectl ledger: tracking answered something else than the book\n");
        whistle__v1__reply__free_unpacked(r, NULL);
        return CTL_EXIT_DOWN;
    }
    if (json) {
        json_t *j = wh_message_to_json(&r->grid_ledger->base);
        char *s = json_dumps(j, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(j);
    } else if (csv) {
        s_csv(r->grid_ledger);
    } else {
        s_text(r->grid_ledger);
    }
    whistle__v1__reply__free_unpacked(r, NULL);
    return 0;
}
