/* whistlectl: the command line of whistle. Reports, acts on cases, queries, pings and tails
 * topics, talking protobuf to the services' ROUTER and XPUB sockets.
 *
 * Every command is an entry of the table at the end (s_commands): its usage, flags and an
 * example (`whistlectl COMMAND --help`), and a function that parses its arguments strictly
 * (ctl.h): nothing unknown, repeated or left over is ignored.
 *
 * Exit status: 0 done, 1 refused by the service (one line on stderr says why), 2 usage,
 * 3 no answer (service down or unreachable). */
#include "whistle/catalog.h"
#include "whistle/client.h"
#include "whistle/clock.h"
#include "whistle/codec.h"
#include "whistle/error.h"
#include "whistle/json.h"
#include "whistle/options.h"
#include "bulletin.h"
#include "ctl.h"
#include "ledger.h"
#include "tail.h"
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_REFUSED = CTL_EXIT_REFUSED, EXIT_USAGE = CTL_EXIT_USAGE, EXIT_DOWN = CTL_EXIT_DOWN };

/* ListCases: the page when --limit is not given, and the most tracking answers at once. */
#define S_LIST_DEFAULT 100
#define S_LIST_MAX 1000

static struct {
    int json;
    int timeout_ms;
    const char *api[4];
    const char *events[4];
    const char *key_file;         /* --key: our key pair, for a keyed deployment */
    const char *server_key_file;  /* --server-key: the services' public key */
    struct wh_keypair key;
    char server_public[WH_Z85_KEY];
    const char *cmd;              /* the command running, for messages */
} g;

/* A client of `endpoint`, keyed when --key/--server-key were given. */
static wh_client_t *s_client(const char *endpoint)
{
    return g.key_file ? wh_client_new_keyed(endpoint, &g.key, g.server_public)
                      : wh_client_new(endpoint);
}

static const char *const s_services[] = {"intake", "routing", "tracking", "notification"};

static void s_print_json(const ProtobufCMessage *m)
{
    json_t *j = wh_message_to_json(m);
    char *s = json_dumps(j, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(j);
}

static int s_svc_index(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, s_services[i]) == 0) return i;
    return -1;
}

/* Why a call timed out, as what to do about it. */
static void s_no_reply(int svc, int why)
{
    const char *name = s_services[svc], *at = g.api[svc];
    /* without keys, a handshake that does not finish is a service with keys on: it may close
     * before its greeting (naming CURVE) is read, so the mismatch is not always reported */
    if (why == WH_CLIENT_HANDSHAKE_FAILED && !g.key_file) why = WH_CLIENT_KEYS_ON;
    switch (why) {
    case WH_CLIENT_KEYS_ON:
        fprintf(stderr, "whistlectl: %s at %s has keys on (CurveZMQ) and we gave none: pass "
                        "--key NAME.key --server-key server.pub before the command (or set "
                        "WHISTLE_KEY and WHISTLE_SERVER_KEY)\n", name, at);
        break;
    case WH_CLIENT_KEYS_OFF:
        fprintf(stderr, "whistlectl: %s at %s has keys off: leave out --key and --server-key "
                        "(and WHISTLE_KEY, WHISTLE_SERVER_KEY)\n", name, at);
        break;
    case WH_CLIENT_KEY_REFUSED:
        fprintf(stderr, "whistlectl: %s at %s refused our key %s: its public key is not on the "
                        "services' allowlist\n", name, at, g.key_file);
        break;
    case WH_CLIENT_HANDSHAKE_FAILED:
        /* the server may close before its greeting (with the mechanism) is read: a keys-off
         * service and a wrong server key then look the same from here */
        fprintf(stderr, "whistlectl: %s at %s: connected, but the handshake did not finish: the "
                        "service has keys off (leave out --key and --server-key), or --server-key "
                        "is not the services' server.pub\n", name, at);
        break;
    case WH_CLIENT_NO_ANSWER:
        fprintf(stderr, "whistlectl: %s at %s is connected but did not answer within %d ms "
                        "(busy or stopped; see its log, or try --timeout)\n", name, at,
                g.timeout_ms);
        break;
    default:
        fprintf(stderr, "whistlectl: no %s listens at %s (is it running? the endpoint is "
                        "--%s-api or WHISTLE_%s_API)\n", name, at, name,
                svc == 0 ? "INTAKE" : svc == 1 ? "ROUTING" : svc == 2 ? "TRACKING" : "NOTIFICATION");
    }
}

/* Where the valid values of a refused field are listed, or NULL. */
static const char *s_catalog_hint(const char *field)
{
    const char *last = strrchr(field, '.');
    last = last ? last + 1 : field;
    static const struct { const char *field, *kind; } map[] = {
        {"grid", "grids"},          {"matter", "matters"},     {"department", "departments"},
        {"from_department", "departments"}, {"unit", "units"}, {"affair", "affairs"},
        {"community", "communities"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(last, map[i].field) == 0) return map[i].kind;
    return NULL;
}

/* A refusal on one line: the message (naming the field once), and for an unknown catalog
 * code where the valid ones are listed. */
static void s_refused(const Whistle__V1__Error *e)
{
    const char *field = e->field ? e->field : "", *msg = e->message ? e->message : "";
    fprintf(stderr, "whistlectl %s: refused (%s): ", g.cmd, wh_errname(e->code));
    if (field[0] && !strstr(msg, field)) fprintf(stderr, "%s: ", field);
    fputs(msg, stderr);
    const char *kind = s_catalog_hint(field);
    if (kind && (strstr(msg, "unknown") || strstr(msg, "not in the catalog")))
        fprintf(stderr, "; the valid ones: whistlectl catalog list %s", kind);
    if (e->code == WH_ENOTFOUND && strstr(field, "case_id"))
        fprintf(stderr, "; case ids look like C00000001 (whistlectl list shows them)");
    fputc('\n', stderr);
}

/* Sends `req` to service `svc`. Returns 0 with *reply set, or an exit status after printing
 * the reason (refusals are printed and return EXIT_REFUSED with *reply freed). */
static int s_call(int svc, Whistle__V1__Request *req, Whistle__V1__Reply **reply)
{
    *reply = NULL;
    wh_client_t *c = s_client(g.api[svc]);
    if (!c) {
        fprintf(stderr, "whistlectl: cannot connect to %s at %s (is the endpoint right?)\n",
                s_services[svc], g.api[svc]);
        return EXIT_DOWN;
    }
    int rc = wh_client_call(c, req, reply, g.timeout_ms);
    int why = wh_client_why(c);
    wh_client_destroy(&c);
    if (rc == WH_ETIMEDOUT) {
        s_no_reply(svc, why);
        return EXIT_DOWN;
    }
    if (rc) {
        fprintf(stderr, "whistlectl: %s: %s\n", s_services[svc], wh_strerror(rc));
        return EXIT_DOWN;
    }
    if ((*reply)->body_case == WHISTLE__V1__REPLY__BODY_ERROR) {
        if (g.json) s_print_json(&(*reply)->base);
        s_refused((*reply)->error);
        whistle__v1__reply__free_unpacked(*reply, NULL);
        *reply = NULL;
        return EXIT_REFUSED;
    }
    return 0;
}

/* ---- output for people -------------------------------------------------------------------- */

static void s_fmt_time(char *buf, size_t n, int64_t ms)
{
    if (ms <= 0) {
        snprintf(buf, n, "-");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
}

/* "2026-11-29 09:12" (minutes, for tables). */
static void s_fmt_minute(char *buf, size_t n, int64_t ms)
{
    if (ms <= 0) {
        snprintf(buf, n, "-");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M", &tm);
}

/* The whistle as people call it: "QUICK 快捷哨"; "-" when none was blown (a refused case). */
static const char *s_whistle_label(int w)
{
    switch (w) {
    case WHISTLE__V1__WHISTLE__QUICK: return "QUICK 快捷哨";
    case WHISTLE__V1__WHISTLE__EMERGENCY: return "EMERGENCY 应急哨";
    case WHISTLE__V1__WHISTLE__TOUGH: return "TOUGH 攻坚哨";
    default: return "-";
    }
}

/* A state's name, "-" for none. */
static const char *s_state(int s) { return s ? wh_state_name(s) : "-"; }

/* Prints "  LABEL VALUE" only when VALUE is set: no field is printed empty. */
static void s_field(const char *label, const char *value)
{
    if (value && value[0]) printf("  %s %s", label, value);
}

static void s_print_case(const Whistle__V1__Case *c)
{
    char t1[32], t2[32];
    printf("case %s  %s", c->id, s_state(c->state));
    if (c->whistle) printf("  %s", s_whistle_label(c->whistle));
    s_field("lead", c->lead_unit);
    s_field("community", c->community);
    printf("\n");
    const Whistle__V1__Report *r = c->report;
    if (r) {
        printf(" ");
        s_field("grid", r->grid);
        s_field("matter", r->matter);
        s_field("reporter", r->reporter);
        s_field("via", r->source);
        s_field("at", r->location);
        printf("\n");
        if (r->task) {
            printf(" ");
            s_field("task", r->task->affair);
            s_field("issued by", r->task->issuer);
            s_field("authority", r->task->authority_ref);
            s_field("funding", r->task->funding_ref);
            printf("\n");
        }
        if (r->description[0]) printf("  %s\n", r->description);
    }
    s_fmt_time(t1, sizeof t1, r && r->reported_at_ms ? r->reported_at_ms : c->created_at_ms);
    printf("  reported %s", t1);
    if (c->checkin_deadline_ms) {
        s_fmt_time(t1, sizeof t1, c->checkin_deadline_ms);
        printf(", check in by %s", t1);
    }
    if (c->resolve_deadline_ms) {
        s_fmt_time(t2, sizeof t2, c->resolve_deadline_ms);
        printf(", resolve by %s", t2);
    }
    if (c->review_deadline_ms) {
        s_fmt_time(t1, sizeof t1, c->review_deadline_ms);
        printf(", %s reviews it by %s", c->lead_unit, t1);
    }
    if (c->duplicate_of[0]) printf(", a duplicate of %s", c->duplicate_of);
    if (c->reopen_count) printf(", reopened %u time(s)", c->reopen_count);
    if (c->escalation_level) printf(", %u escalation step(s)", c->escalation_level);
    printf("\n");
    for (size_t i = 0; i < c->n_assignments; i++) {
        const Whistle__V1__Assignment *a = c->assignments[i];
        /* who the assignee is: a department, a community (task), a stationed unit, a volunteer */
        const char *kind = !a->kind[0] ? "dept" : strcmp(a->kind, "station") == 0 ? "unit"
                                                                                  : a->kind;
        printf("  %s %-10s %-10s", kind, a->department, wh_assignment_state_name(a->state));
        if (a->state == WHISTLE__V1__ASSIGNMENT_STATE__NOTIFIED && a->checkin_deadline_ms) {
            s_fmt_time(t1, sizeof t1, a->checkin_deadline_ms);
            printf(" check in by %s", t1);
        }
        if (a->checked_in_at_ms) {
            s_fmt_time(t1, sizeof t1, a->checked_in_at_ms);
            printf(" checked in %s", t1);
        }
        if (a->return_reason[0]) printf("  returned: %s", a->return_reason);
        if (a->decline_reason[0]) printf("  declined: %s", a->decline_reason);
        printf("\n");
    }
}

/* The date of a case for a list: when it was reported. */
static int64_t s_case_date(const Whistle__V1__Case *c)
{
    return c->report && c->report->reported_at_ms ? c->report->reported_at_ms : c->created_at_ms;
}



/* A case id looks like C00000001: refuse anything else before asking. */
static int s_case_id(const struct ctl_cmd *cmd, const char *id)
{
    size_t n = strlen(id);
    int ok = n >= 2 && n <= 20 && id[0] == 'C';
    for (size_t i = 1; ok && i < n; i++) ok = id[i] >= '0' && id[i] <= '9';
    if (!ok)
        return ctl_usage(cmd, "'%s' is not a case id; case ids look like C00000001", id);
    return 0;
}

/* A duration as minutes under an hour ("0.5m", "45m"), else h:mm ("26:05"); "-" if none. */
static void s_fmt_duration(char *buf, size_t n, int has, int64_t ms)
{
    if (!has) snprintf(buf, n, "-");
    else if (ms < 600000) snprintf(buf, n, "%.1fm", (double)ms / 60000.0);
    else if (ms < 3600000) snprintf(buf, n, "%lldm", (long long)(ms / 60000));
    else
        snprintf(buf, n, "%lld:%02lld", (long long)(ms / 3600000), (long long)(ms / 60000 % 60));
}

static void s_figures_csv(const Whistle__V1__FiguresReply *fr)
{
    /* RFC 4180: CRLF line ends, header first, the proto's field names */
    printf("key,name,dispatched,checked_in,checked_in_on_time,response_rate,resolved,"
           "resolution_rate,verified,satisfied,verified_by_default,satisfaction_rate,reopened,"
           "escalations,checkin_p50_ms,checkin_p90_ms,resolve_p50_ms,resolve_p90_ms,rank,"
           "score\r\n");
    for (size_t i = 0; i < fr->n_rows; i++) {
        const Whistle__V1__FigureRow *r = fr->rows[i];
        ctl_csv_field(stdout, r->key);
        putchar(',');
        ctl_csv_field(stdout, r->name);
        char rt[4][32]; /* a rate with no value: an empty cell */
        printf(",%u,%u,%u,%s,%u,%s,%u,%u,%u,%s,%u,%u,%" PRId64 ",%" PRId64 ",%" PRId64
               ",%" PRId64 ",%u,%s\r\n",
               r->dispatched, r->checked_in, r->checked_in_on_time,
               ctl_csv_rate(rt[0], sizeof rt[0], r->has_response_rate, r->response_rate),
               r->resolved,
               ctl_csv_rate(rt[1], sizeof rt[1], r->has_resolution_rate, r->resolution_rate),
               r->verified, r->satisfied, r->verified_by_default,
               ctl_csv_rate(rt[2], sizeof rt[2], r->has_satisfaction_rate, r->satisfaction_rate),
               r->reopened, r->escalations, r->checkin_p50_ms, r->checkin_p90_ms,
               r->resolve_p50_ms, r->resolve_p90_ms, r->rank,
               ctl_csv_rate(rt[3], sizeof rt[3], r->has_score, r->score));
    }
}

static void s_figures_table(const Whistle__V1__FiguresReply *fr)
{
    char from[32], to[32];
    s_fmt_time(from, sizeof from, fr->from_ms);
    s_fmt_time(to, sizeof to, fr->to_ms);
    printf("%s by %s: cases dispatched from %s to %s (local time)\n", fr->period, fr->by, from,
           to);
    int kw = 4, nw = 4;
    for (size_t i = 0; i < fr->n_rows; i++) {
        if (ctl_cells(fr->rows[i]->key) > kw) kw = ctl_cells(fr->rows[i]->key);
        if (ctl_cells(fr->rows[i]->name) > nw) nw = ctl_cells(fr->rows[i]->name);
    }
    ctl_cell("key", kw + 2);
    ctl_cell("name", nw + 2);
    printf("%10s %7s %6s %8s %6s %9s %6s %8s %11s %7s %7s %7s %7s %4s\n", "dispatched",
           "on-time", "resp%", "resolved", "resol%", "satisfied", "sat%", "reopened",
           "escalations", "ck-p50", "ck-p90", "rs-p50", "rs-p90", "rank");
    for (size_t i = 0; i < fr->n_rows; i++) {
        const Whistle__V1__FigureRow *r = fr->rows[i];
        char d[4][32];
        s_fmt_duration(d[0], sizeof d[0], r->checked_in > 0, r->checkin_p50_ms);
        s_fmt_duration(d[1], sizeof d[1], r->checked_in > 0, r->checkin_p90_ms);
        s_fmt_duration(d[2], sizeof d[2], r->resolved > 0, r->resolve_p50_ms);
        s_fmt_duration(d[3], sizeof d[3], r->resolved > 0, r->resolve_p90_ms);
        ctl_cell(r->key, kw + 2);
        ctl_cell(r->name, nw + 2);
        char rt[3][16]; /* "—" when a rate has no value */
        ctl_rate(rt[0], sizeof rt[0], r->has_response_rate, r->response_rate);
        ctl_rate(rt[1], sizeof rt[1], r->has_resolution_rate, r->resolution_rate);
        ctl_rate(rt[2], sizeof rt[2], r->has_satisfaction_rate, r->satisfaction_rate);
        printf("%10u %7u %*s %8u %*s %9u %*s %8u %11u %7s %7s %7s %7s %4u\n", r->dispatched,
               r->checked_in_on_time, 6 + (int)strlen(rt[0]) - ctl_cells(rt[0]), rt[0],
               r->resolved, 6 + (int)strlen(rt[1]) - ctl_cells(rt[1]), rt[1], r->satisfied,
               6 + (int)strlen(rt[2]) - ctl_cells(rt[2]), rt[2], r->reopened, r->escalations, d[0],
               d[1], d[2], d[3], r->rank);
    }
    if (fr->n_rows == 0) printf("(no case dispatched in this period)\n");
}

/* By issuer (社区事务准入): the tasks each body handed down to communities, and what became of
 * them; by assignee (单位（党员）接单): the orders and tasks each took. Their own columns. */
static int s_figures_by(const Whistle__V1__FiguresReply *fr, const char *by)
{
    return fr->by && strcmp(fr->by, by) == 0;
}

static void s_figures_issuer_csv(const Whistle__V1__FiguresReply *fr)
{
    printf("key,name,tasks,tasks_admitted,tasks_refused,tasks_unlisted,tasks_completed,"
           "tasks_closed\r\n");
    for (size_t i = 0; i < fr->n_rows; i++) {
        const Whistle__V1__FigureRow *r = fr->rows[i];
        ctl_csv_field(stdout, r->key);
        putchar(',');
        ctl_csv_field(stdout, r->name);
        printf(",%u,%u,%u,%u,%u,%u\r\n", r->tasks, r->tasks_admitted, r->tasks_refused,
               r->tasks_unlisted, r->tasks_completed, r->tasks_closed);
    }
}

static void s_figures_assignee_csv(const Whistle__V1__FiguresReply *fr)
{
    printf("key,name,kind,dispatched,checked_in,checked_in_on_time,declined,completed,"
           "response_rate,resolved,resolution_rate,verified,satisfied,satisfaction_rate,"
           "missed_checkins,checkin_p50_ms,checkin_p90_ms,rank,score\r\n");
    for (size_t i = 0; i < fr->n_rows; i++) {
        const Whistle__V1__FigureRow *r = fr->rows[i];
        char rt[4][32];
        ctl_csv_field(stdout, r->key);
        putchar(',');
        ctl_csv_field(stdout, r->name);
        putchar(',');
        ctl_csv_field(stdout, r->kind);
        printf(",%u,%u,%u,%u,%u,%s,%u,%s,%u,%u,%s,%u,%" PRId64 ",%" PRId64 ",%u,%s\r\n",
               r->dispatched, r->checked_in, r->checked_in_on_time, r->declined, r->completed,
               ctl_csv_rate(rt[0], sizeof rt[0], r->has_response_rate, r->response_rate),
               r->resolved,
               ctl_csv_rate(rt[1], sizeof rt[1], r->has_resolution_rate, r->resolution_rate),
               r->verified, r->satisfied,
               ctl_csv_rate(rt[2], sizeof rt[2], r->has_satisfaction_rate, r->satisfaction_rate),
               r->missed_checkins, r->checkin_p50_ms, r->checkin_p90_ms, r->rank,
               ctl_csv_rate(rt[3], sizeof rt[3], r->has_score, r->score));
    }
}

/* The key and name columns' widths, in display cells. */
static void s_figures_widths(const Whistle__V1__FiguresReply *fr, int *kw, int *nw)
{
    *kw = *nw = 4;
    for (size_t i = 0; i < fr->n_rows; i++) {
        if (ctl_cells(fr->rows[i]->key) > *kw) *kw = ctl_cells(fr->rows[i]->key);
        if (ctl_cells(fr->rows[i]->name) > *nw) *nw = ctl_cells(fr->rows[i]->name);
    }
}

static void s_figures_issuer_table(const Whistle__V1__FiguresReply *fr)
{
    char from[32], to[32];
    int kw, nw;
    s_fmt_time(from, sizeof from, fr->from_ms);
    s_fmt_time(to, sizeof to, fr->to_ms);
    printf("%s by issuer: community tasks handed down from %s to %s (local time)\n", fr->period,
           from, to);
    s_figures_widths(fr, &kw, &nw);
    ctl_cell("key", kw + 2);
    ctl_cell("name", nw + 2);
    printf("%6s %8s %7s %8s %9s %6s\n", "tasks", "admitted", "refused", "unlisted", "completed",
           "closed");
    for (size_t i = 0; i < fr->n_rows; i++) {
        const Whistle__V1__FigureRow *r = fr->rows[i];
        ctl_cell(r->key, kw + 2);
        ctl_cell(r->name, nw + 2);
        printf("%6u %8u %7u %8u %9u %6u\n", r->tasks, r->tasks_admitted, r->tasks_refused,
               r->tasks_unlisted, r->tasks_completed, r->tasks_closed);
    }
    if (fr->n_rows == 0) printf("(no task handed down in this period)\n");
}

static void s_figures_assignee_table(const Whistle__V1__FiguresReply *fr)
{
    char from[32], to[32];
    int kw, nw;
    s_fmt_time(from, sizeof from, fr->from_ms);
    s_fmt_time(to, sizeof to, fr->to_ms);
    printf("%s by assignee: orders and tasks of cases dispatched from %s to %s (local time)\n",
           fr->period, from, to);
    s_figures_widths(fr, &kw, &nw);
    ctl_cell("key", kw + 2);
    ctl_cell("name", nw + 2);
    printf("%-9s %10s %8s %8s %9s %6s %8s %9s %6s %7s %4s\n", "kind", "dispatched", "accepted",
           "declined", "completed", "resp%", "on-time", "satisfied", "sat%", "ck-p50", "rank");
    for (size_t i = 0; i < fr->n_rows; i++) {
        const Whistle__V1__FigureRow *r = fr->rows[i];
        char rt[2][16], d[32];
        ctl_rate(rt[0], sizeof rt[0], r->has_response_rate, r->response_rate);
        ctl_rate(rt[1], sizeof rt[1], r->has_satisfaction_rate, r->satisfaction_rate);
        s_fmt_duration(d, sizeof d, r->checked_in > 0, r->checkin_p50_ms);
        ctl_cell(r->key, kw + 2);
        ctl_cell(r->name, nw + 2);
        printf("%-9s %10u %8u %8u %9u %*s %8u %9u %*s %7s %4u\n", r->kind, r->dispatched,
               r->checked_in, r->declined, r->completed,
               6 + (int)strlen(rt[0]) - ctl_cells(rt[0]), rt[0], r->checked_in_on_time,
               r->satisfied, 6 + (int)strlen(rt[1]) - ctl_cells(rt[1]), rt[1], d, r->rank);
    }
    if (fr->n_rows == 0) printf("(no order or task taken in this period)\n");
}


/* ---- ping ------------------------------------------------------------------------------- */

static int s_ping(const struct ctl_cmd *cmd, int argc, char **argv)
{
    static const struct option opts[] = {{"alive", 0, 0, 'a'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    unsigned char seen[256] = {0};
    int c, alive = 0;
    while ((c = ctl_getopt(cmd, argc, argv, opts, seen)) != -1) {
        if (c == 'a') alive = 1;
        else return c == CTL_HELP ? 0 : EXIT_USAGE;
    }
    int worst = 0;
    int which[4], n = 0;
    for (int i = optind; i < argc; i++) {
        int k = s_svc_index(argv[i]);
        if (k < 0)
            return ctl_usage(cmd, "unknown service '%s' (intake, routing, tracking, "
                                  "notification)", argv[i]);
        for (int j = 0; j < n; j++)
            if (which[j] == k) return ctl_usage(cmd, "'%s' given twice", argv[i]);
        which[n++] = k;
    }
    if (n == 0)
        for (; n < 4; n++) which[n] = n;
    for (int i = 0; i < n; i++) {
        Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
        Whistle__V1__Ping ping = WHISTLE__V1__PING__INIT;
        req.body_case = WHISTLE__V1__REQUEST__BODY_PING;
        req.ping = &ping;
        Whistle__V1__Reply *r;
        int64_t t0 = wh_mono_ms();
        int rc = s_call(which[i], &req, &r);
        if (rc) {
            if (!g.json) printf("%-13s DOWN  %s\n", s_services[which[i]], g.api[which[i]]);
            else printf("{\"service\":\"%s\",\"up\":false}\n", s_services[which[i]]);
            worst = EXIT_DOWN;
            continue;
        }
        Whistle__V1__Pong *p = r->pong;
        /* what is wrong besides answering: an upstream silent, a follower stopped, trouble */
        int wrong = p->condition && p->condition[0];
        for (size_t k = 0; k < p->n_cursors; k++)
            wrong |= p->cursors[k]->silent || (p->cursors[k]->stopped && p->cursors[k]->stopped[0]);
        if (wrong && !alive && worst < EXIT_DOWN) worst = EXIT_DOWN;
        if (g.json) {
            s_print_json(&p->base);
        } else {
            printf("%-13s up    %s  head %" PRIu64 "  uptime %" PRId64 "s  %" PRId64 " ms",
                   p->service, g.api[which[i]], p->head, p->uptime_ms / 1000, wh_mono_ms() - t0);
            for (size_t k = 0; k < p->n_cursors; k++) {
                printf("  %s at %" PRIu64 "/%" PRIu64, p->cursors[k]->upstream, p->cursors[k]->seq,
                       p->cursors[k]->upstream_head);
                if (p->cursors[k]->not_applied)
                    printf(" (%" PRIu64 " not applicable)", p->cursors[k]->not_applied);
                if (p->cursors[k]->silent)
                    printf(" SILENT %" PRId64 " ms", p->cursors[k]->silent_ms);
            }
            printf("\n");
            for (size_t k = 0; k < p->n_cursors; k++)
                if (p->cursors[k]->silent) {
                    printf("%-13s SILENT nothing heard from %s for %" PRId64
                           " ms (a partition, or %s is down): not caught up\n",
                           "", p->cursors[k]->upstream, p->cursors[k]->silent_ms,
                           p->cursors[k]->upstream);
                }
            for (size_t k = 0; k < p->n_cursors; k++)
                if (p->cursors[k]->stopped && p->cursors[k]->stopped[0]) {
                    printf("%-13s STOPPED following %s: %s\n", "", p->cursors[k]->upstream,
                           p->cursors[k]->stopped);
                }
            if (p->condition && p->condition[0]) {
                printf("%-13s TROUBLE %s\n", "", p->condition);
            }
        }
        whistle__v1__reply__free_unpacked(r, NULL);
    }
    return worst;
}

/* ---- report ------------------------------------------------------------------------------ */

/* After intake's acknowledgement: waits (up to --timeout) until tracking holds routing's
 * decision on the case. 0 dispatched (or not known in time: said on stderr), EXIT_REFUSED when
 * routing refused it, with its reason. */
static int s_wait_routed(const char *case_id)
{
    int64_t deadline = wh_mono_ms() + g.timeout_ms;
    wh_client_t *c = s_client(g.api[WH_UP_TRACKING]);
    int rc = 0, known = 0;
    while (c && wh_mono_ms() < deadline) {
        Whistle__V1__GetCase gc = WHISTLE__V1__GET_CASE__INIT;
        gc.case_id = (char *)case_id;
        Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
        req.body_case = WHISTLE__V1__REQUEST__BODY_GET_CASE;
        req.get_case = &gc;
        Whistle__V1__Reply *r = NULL;
        int64_t left = deadline - wh_mono_ms();
        if (wh_client_call(c, &req, &r, (int)(left > 1000 ? 1000 : left > 1 ? left : 1))) continue;
        if (r->body_case == WHISTLE__V1__REPLY__BODY_GET_CASE && r->get_case->case_) {
            const Whistle__V1__CaseReply *cr = r->get_case;
            known = 1;
            if (cr->case_->state == WHISTLE__V1__CASE_STATE__REFUSED) {
                const char *why = cr->n_history ? cr->history[cr->n_history - 1]->note : "";
                fprintf(stderr, "whistlectl report: %s was refused by routing: %s\n", case_id,
                        why[0] ? why : "(no reason given)");
                rc = EXIT_REFUSED;
            }
        } else if (r->body_case == WHISTLE__V1__REPLY__BODY_ERROR &&
                   r->error->code != WH_ENOTFOUND) {
            known = 1; /* not ours to read (keys on): the acknowledgement is what we have */
        }
        whistle__v1__reply__free_unpacked(r, NULL);
        if (known) break;
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
    }
    if (!known)
        fprintf(stderr, "whistlectl report: %s is accepted, but not dispatched within %d ms "
                        "(whistlectl ping shows whether routing and tracking keep up; whistlectl "
                        "show %s later)\n", case_id, g.timeout_ms, case_id);
    wh_client_destroy(&c);
    return rc;
}

static int s_report(const struct ctl_cmd *cmd, int argc, char **argv)
{
    Whistle__V1__Report rep = WHISTLE__V1__REPORT__INIT;
    Whistle__V1__SubmitReport sr = WHISTLE__V1__SUBMIT_REPORT__INIT;
    char key[64];
    static const struct option opts[] = {
        {"grid", 1, 0, 'g'},        {"matter", 1, 0, 'm'},     {"description", 1, 0, 'd'},
        {"reporter", 1, 0, 'r'},    {"location", 1, 0, 'l'},   {"source", 1, 0, 's'},
        {"idempotency-key", 1, 0, 'k'}, {"key", 1, 0, 'K'},    {"help", 0, 0, 'h'},
        {"whistle", 1, 0, 'w'},     {"affair", 1, 0, 'a'},     {"authority", 1, 0, 'A'},
        {"funding", 1, 0, 'F'},     {"issuer", 1, 0, 'I'},     {"no-wait", 0, 0, 'N'},
        {0, 0, 0, 0}};
    int c, no_wait = 0;
    unsigned char seen[256] = {0};
    Whistle__V1__CommunityTask task = WHISTLE__V1__COMMUNITY_TASK__INIT;
    sr.idempotency_key = NULL;
    while ((c = ctl_getopt(cmd, argc, argv, opts, seen)) != -1) {
        switch (c) {
        case 'g': rep.grid = optarg; break;
        case 'm': rep.matter = optarg; break;
        case 'd': rep.description = optarg; break;
        case 'r': rep.reporter = optarg; break;
        case 'l': rep.location = optarg; break;
        case 's': rep.source = optarg; break;
        case 'k': sr.idempotency_key = optarg; break;
        case 'K':
            /* one meaning per flag: --key is the global key pair, never the idempotency key */
            fprintf(stderr, "whistlectl report: --key is the CurveZMQ key pair and goes before "
                            "the command (whistlectl --key FILE --server-key FILE report ...); "
                            "to make a retried report idempotent use --idempotency-key %s\n",
                    optarg);
            return EXIT_USAGE;
        case 'w':
            if (!(rep.whistle = wh_whistle_parse(optarg)))
                return ctl_usage(cmd, "--whistle must be QUICK, EMERGENCY or TOUGH, got '%s'",
                                 optarg);
            break;
        case 'a': task.affair = optarg; rep.task = &task; break;
        case 'A': task.authority_ref = optarg; rep.task = &task; break;
        case 'F': task.funding_ref = optarg; rep.task = &task; break;
        case 'I': task.issuer = optarg; rep.task = &task; break;
        case 'N': no_wait = 1; break;
        case CTL_HELP: return 0;
        default: return EXIT_USAGE;
        }
    }
    if (ctl_args(cmd, argc, argv, 0, 0, "")) return EXIT_USAGE;
    if (!sr.idempotency_key) {
        /* a fresh key per invocation; pass --idempotency-key to make a retry idempotent */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(key, sizeof key, "ctl-%ld-%ld-%d", (long)ts.tv_sec, ts.tv_nsec, (int)getpid());
        sr.idempotency_key = key;
    }
    if (!rep.source[0]) rep.source = "whistlectl";
    sr.report = &rep;
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    req.body_case = WHISTLE__V1__REQUEST__BODY_SUBMIT_REPORT;
    req.submit_report = &sr;
    Whistle__V1__Reply *r;
    int rc = s_call(WH_UP_INTAKE, &req, &r);
    if (rc) return rc;
    if (g.json) s_print_json(&r->submit_report->base);
    else printf("%s%s\n", r->submit_report->case_id, r->submit_report->duplicate ? " (duplicate)" : "");
    fflush(stdout);
    char id[32];
    snprintf(id, sizeof id, "%s", r->submit_report->case_id);
    whistle__v1__reply__free_unpacked(r, NULL);
    return no_wait ? 0 : s_wait_routed(id);
}

/* ---- case actions ------------------------------------------------------------------------- */

static int s_action(const struct ctl_cmd *cmd, int argc, char **argv)
{
    Whistle__V1__CaseAction a = WHISTLE__V1__CASE_ACTION__INIT;
    const int action = cmd->arg;
    /* each action takes its own flags only: a flag it does not use is refused, not ignored */
    const int by_dept = action == WHISTLE__V1__ACTION__CHECKIN ||
                        action == WHISTLE__V1__ACTION__PROGRESS ||
                        action == WHISTLE__V1__ACTION__COMPLETE ||
                        action == WHISTLE__V1__ACTION__RETURN ||
                        action == WHISTLE__V1__ACTION__RELEASE;
    const int is_assign = action == WHISTLE__V1__ACTION__ASSIGN;
    const int is_verify = action == WHISTLE__V1__ACTION__VERIFY;
    const int is_return = action == WHISTLE__V1__ACTION__RETURN;
    /* 社区派单: ORDER --as COMMUNITY --to KIND:CODE; 接单: ACCEPT/DECLINE --as KIND:CODE */
    const int is_order = action == WHISTLE__V1__ACTION__ORDER;
    const int is_answer =
        action == WHISTLE__V1__ACTION__ACCEPT || action == WHISTLE__V1__ACTION__DECLINE;
    const int is_decline = action == WHISTLE__V1__ACTION__DECLINE;
    const char *to = NULL;
    struct option opts[10];
    int n = 0;
    if (by_dept || is_assign) opts[n++] = (struct option){"dept", 1, 0, 'd'};
    if (!by_dept) opts[n++] = (struct option){"as", 1, 0, 'a'};
    if (is_order) opts[n++] = (struct option){"to", 1, 0, 't'};
    if (is_return || is_decline) opts[n++] = (struct option){"reason", 1, 0, 'n'};
    else if (action != WHISTLE__V1__ACTION__RELEASE && !is_assign)
        opts[n++] = (struct option){"note", 1, 0, 'n'};
    if (is_assign) opts[n++] = (struct option){"from", 1, 0, 'f'};
    if (is_verify) {
        opts[n++] = (struct option){"satisfied", 0, 0, 's'};
        opts[n++] = (struct option){"unsatisfied", 0, 0, 'u'};
    }
    opts[n++] = (struct option){"help", 0, 0, 'h'};
    opts[n] = (struct option){0, 0, 0, 0};
    int c, verdict = -1;
    unsigned char seen[256] = {0};
    while ((c = ctl_getopt(cmd, argc, argv, opts, seen)) != -1) {
        switch (c) {
        case 'd': a.department = optarg; break;
        case 'a': a.actor = optarg; break;
        case 'n': a.note = optarg; break;
        case 'f': a.from_department = optarg; break;
        case 't': to = optarg; break;
        case 's':
        case 'u':
            if (verdict >= 0) return ctl_usage(cmd, "--satisfied or --unsatisfied: one of them");
            verdict = c == 's';
            break;
        case CTL_HELP: return 0;
        default: return EXIT_USAGE;
        }
    }
    if (ctl_args(cmd, argc, argv, 1, 1, "a CASE id, such as C00000001")) return EXIT_USAGE;
    a.case_id = argv[optind];
    if (s_case_id(cmd, a.case_id)) return EXIT_USAGE;
    if (by_dept && !a.department[0]) return ctl_usage(cmd, "needs --dept DEPT");
    if (!by_dept && !a.actor[0])
        return ctl_usage(cmd, "needs --as %s", is_verify ? "REPORTER" : "UNIT");
    if (is_assign && !a.department[0]) return ctl_usage(cmd, "needs --dept DEPT");
    /* KIND:CODE, as unit:CODE (a stationed unit, 驻区单位) or volunteer:CODE */
    const char *who = is_order ? to : is_answer ? a.actor : NULL;
    if (is_order && !who) return ctl_usage(cmd, "needs --to unit:CODE or volunteer:CODE");
    if (who) {
        const char *colon = strchr(who, ':');
        size_t kl = colon ? (size_t)(colon - who) : 0;
        if (colon && kl == 4 && strncmp(who, "unit", 4) == 0) a.kind = "station";
        else if (colon && kl == 7 && strncmp(who, "station", 7) == 0) a.kind = "station";
        else if (colon && kl == 9 && strncmp(who, "volunteer", 9) == 0) a.kind = "volunteer";
        if (!a.kind[0] || !colon[1])
            return ctl_usage(cmd, "%s '%s': unit:CODE (a stationed unit) or volunteer:CODE",
                             is_order ? "--to" : "--as", who);
        a.department = (char *)colon + 1;
        if (is_answer) a.actor = (char *)colon + 1;
    }
    if (is_decline && !a.note[0]) return ctl_usage(cmd, "needs --reason TEXT");
    a.action = action;
    if (is_verify) {
        if (verdict < 0) return ctl_usage(cmd, "needs --satisfied or --unsatisfied");
        a.satisfied = verdict;
    }
    if (!a.actor[0] && a.department[0]) a.actor = a.department;
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    req.body_case = WHISTLE__V1__REQUEST__BODY_CASE_ACTION;
    req.case_action = &a;
    Whistle__V1__Reply *r;
    int rc = s_call(WH_UP_TRACKING, &req, &r);
    if (rc) return rc;
    Whistle__V1__Case *cs = r->case_action->case_;
    if (g.json) s_print_json(&cs->base);
    else printf("%s %s\n", cs->id, s_state(cs->state));
    whistle__v1__reply__free_unpacked(r, NULL);
    return 0;
}

static int s_show(const struct ctl_cmd *cmd, int argc, char **argv)
{
    static const struct option opts[] = {{"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    unsigned char seen[256] = {0};
    int c;
    while ((c = ctl_getopt(cmd, argc, argv, opts, seen)) != -1)
        return c == CTL_HELP ? 0 : EXIT_USAGE;
    if (ctl_args(cmd, argc, argv, 1, 1, "a CASE id, such as C00000001")) return EXIT_USAGE;
    if (s_case_id(cmd, argv[optind])) return EXIT_USAGE;
    Whistle__V1__GetCase gc = WHISTLE__V1__GET_CASE__INIT;
    gc.case_id = argv[optind];
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    req.body_case = WHISTLE__V1__REQUEST__BODY_GET_CASE;
    req.get_case = &gc;
    Whistle__V1__Reply *r;
    int rc = s_call(WH_UP_TRACKING, &req, &r);
    if (rc) return rc;
    if (g.json) {
        s_print_json(&r->get_case->base);
    } else {
        s_print_case(r->get_case->case_);
        printf("history:\n");
        for (size_t i = 0; i < r->get_case->n_history; i++) {
            Whistle__V1__HistoryEntry *h = r->get_case->history[i];
            char t[32];
            s_fmt_time(t, sizeof t, h->at_ms);
            printf("  %s  %-9s %-12s %s -> %s", t, wh_action_name(h->action), h->actor,
                   s_state(h->from_state), s_state(h->to_state));
            if (h->department[0] && strcmp(h->department, h->actor) != 0)
                printf("  dept %s", h->department);
            if (h->action == WHISTLE__V1__ACTION__VERIFY)
                printf("  %s", h->by_default ? "closed by default (no answer)"
                                 : h->satisfied ? "satisfied" : "unsatisfied");
            printf("%s%s\n", h->note[0] ? "  " : "", h->note);
        }
    }
    whistle__v1__reply__free_unpacked(r, NULL);
    return 0;
}

static int s_list(const struct ctl_cmd *cmd, int argc, char **argv)
{
    Whistle__V1__ListCases q = WHISTLE__V1__LIST_CASES__INIT;
    static const struct option opts[] = {
        {"state", 1, 0, 's'}, {"dept", 1, 0, 'd'},  {"grid", 1, 0, 'g'},    {"unit", 1, 0, 'u'},
        {"limit", 1, 0, 'l'}, {"after", 1, 0, 'a'}, {"overdue", 0, 0, 'o'}, {"help", 0, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    long long limit;
    unsigned char seen[256] = {0};
    while ((c = ctl_getopt(cmd, argc, argv, opts, seen)) != -1) {
        switch (c) {
        case 's':
            if (!(q.state = wh_state_parse(optarg)))
                return ctl_usage(cmd, "--state: unknown state '%s' (DISPATCHED, IN_PROGRESS, "
                                      "RESOLVED, CLOSED, REOPENED, REFUSED)", optarg);
            break;
        case 'd': q.department = optarg; break;
        case 'g': q.grid = optarg; break;
        case 'u': q.unit = optarg; break;
        case 'l':
            if (ctl_number(cmd, "--limit", optarg, 1, S_LIST_MAX, &limit)) return EXIT_USAGE;
            q.limit = (uint32_t)limit;
            break;
        case 'a':
            if (s_case_id(cmd, optarg)) return EXIT_USAGE;
            q.after_case_id = optarg;
            break;
        case 'o': q.overdue = 1; break;
        case CTL_HELP: return 0;
        default: return EXIT_USAGE;
        }
    }
    if (ctl_args(cmd, argc, argv, 0, 0, "")) return EXIT_USAGE;
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    req.body_case = WHISTLE__V1__REQUEST__BODY_LIST_CASES;
    req.list_cases = &q;
    Whistle__V1__Reply *r;
    int rc = s_call(WH_UP_TRACKING, &req, &r);
    if (rc) return rc;
    Whistle__V1__ListReply *lr = r->list_cases;
    if (g.json) {
        s_print_json(&lr->base);
    } else {
        if (lr->n_cases)
            printf("%-10s %-16s %-11s %-16s %-12s %-8s %-6s %s\n", "case", "reported", "state",
                   "whistle", "lead", "grid", "matter", "departments");
        for (size_t i = 0; i < lr->n_cases; i++) {
            Whistle__V1__Case *cs = lr->cases[i];
            char date[32];
            s_fmt_minute(date, sizeof date, s_case_date(cs));
            printf("%-10s %-16s %-11s ", cs->id, date, s_state(cs->state));
            ctl_cell(s_whistle_label(cs->whistle), 17);
            printf("%-12s %-8s %-6s", cs->lead_unit[0] ? cs->lead_unit : "-",
                   cs->report && cs->report->grid[0] ? cs->report->grid : "-",
                   cs->report && cs->report->matter[0] ? cs->report->matter : "-");
            for (size_t k = 0; k < cs->n_assignments; k++)
                printf(" %s:%s", cs->assignments[k]->department,
                       wh_assignment_state_name(cs->assignments[k]->state));
            printf("\n");
        }
        if (lr->n_cases == 0) printf("(no case matches)\n");
        if (lr->next_after[0]) printf("(more: --after %s)\n", lr->next_after);
    }
    whistle__v1__reply__free_unpacked(r, NULL);
    return 0;
}

static int s_escalate(const struct ctl_cmd *cmd, int argc, char **argv)
{
    Whistle__V1__Escalate e = WHISTLE__V1__ESCALATE__INIT;
    static const struct option opts[] = {{"as", 1, 0, 'a'}, {"whistle", 1, 0, 'w'},
                                         {"reason", 1, 0, 'r'}, {"help", 0, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    unsigned char seen[256] = {0};
    while ((c = ctl_getopt(cmd, argc, argv, opts, seen)) != -1) {
        switch (c) {
        case 'a': e.actor = optarg; break;
        case 'w':
            if (!(e.to_whistle = wh_whistle_parse(optarg)))
                return ctl_usage(cmd, "--whistle must be QUICK, EMERGENCY or TOUGH, got '%s'",
                                 optarg);
            break;
        case 'r': e.reason = optarg; break;
        case CTL_HELP: return 0;
        default: return EXIT_USAGE;
        }
    }
    if (ctl_args(cmd, argc, argv, 1, 1, "a CASE id, such as C00000001")) return EXIT_USAGE;
    if (s_case_id(cmd, argv[optind])) return EXIT_USAGE;
    if (!e.actor[0]) return ctl_usage(cmd, "needs --as UNIT (the case's lead township or street)");
    e.case_id = argv[optind];
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    req.body_case = WHISTLE__V1__REQUEST__BODY_ESCALATE;
    req.escalate = &e;
    Whistle__V1__Reply *r;
    int rc = s_call(WH_UP_ROUTING, &req, &r);
    if (rc) return rc;
    Whistle__V1__CaseEscalated *ev = r->escalate->escalated;
    if (g.json) {
        s_print_json(&ev->base);
    } else {
        printf("%s %s -> %s", ev->case_id, wh_whistle_name(ev->from_whistle),
               wh_whistle_name(ev->to_whistle));
        for (size_t i = 0; i < ev->n_added_departments; i++)
            printf("%s%s", i ? ", " : " (added ", ev->added_departments[i]);
        printf("%s\n", ev->n_added_departments ? ")" : "");
    }
    whistle__v1__reply__free_unpacked(r, NULL);
    return 0;
}

/* 乡街吹哨: the lead township or street decides a case in REVIEW (routing's Blow). */
static int s_blow(const struct ctl_cmd *cmd, int argc, char **argv)
{
    Whistle__V1__Blow b = WHISTLE__V1__BLOW__INIT;
    static const struct option opts[] = {
        {"as", 1, 0, 'a'},     {"whistle", 1, 0, 'w'},      {"dept", 1, 0, 'd'},
        {"to-community", 0, 0, 'c'}, {"reject", 1, 0, 'x'}, {"of", 1, 0, 'o'},
        {"reason", 1, 0, 'r'}, {"help", 0, 0, 'h'},         {0, 0, 0, 0}};
    char *depts[WH_MATTER_MAX_DEPTS];
    int c;
    unsigned char seen[256] = {0};
    while ((c = ctl_getopt_repeat(cmd, argc, argv, opts, seen, "d")) != -1) {
        switch (c) {
        case 'a': b.actor = optarg; break;
        case 'w':
            if (!(b.whistle = wh_whistle_parse(optarg)))
                return ctl_usage(cmd, "--whistle must be QUICK, EMERGENCY or TOUGH, got '%s'",
                                 optarg);
            break;
        case 'd':
            if (b.n_departments == WH_MATTER_MAX_DEPTS)
                return ctl_usage(cmd, "at most %d --dept", WH_MATTER_MAX_DEPTS);
            depts[b.n_departments++] = optarg;
            break;
        case 'c': b.to_community = 1; break;
        case 'x': b.reject = optarg; break;
        case 'o': b.duplicate_of = optarg; break;
        case 'r': b.reason = optarg; break;
        case CTL_HELP: return 0;
        default: return EXIT_USAGE;
        }
    }
    b.departments = depts;
    if (ctl_args(cmd, argc, argv, 1, 1, "a CASE id, such as C00000001")) return EXIT_USAGE;
    if (s_case_id(cmd, argv[optind])) return EXIT_USAGE;
    if (!b.actor[0]) return ctl_usage(cmd, "needs --as UNIT (the case's lead township or street)");
    b.case_id = argv[optind];
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    req.body_case = WHISTLE__V1__REQUEST__BODY_BLOW;
    req.blow = &b;
    Whistle__V1__Reply *r;
    int rc = s_call(WH_UP_ROUTING, &req, &r);
    if (rc) return rc;
    Whistle__V1__ReviewStep *st = r->blow->step;
    if (g.json) {
        s_print_json(&st->base);
    } else if (st->action == WHISTLE__V1__ACTION__REJECT) {
        printf("%s REJECTED (%s%s%s): %s\n", st->case_id, st->reject,
               st->duplicate_of[0] ? " of " : "", st->duplicate_of, st->reason);
    } else {
        printf("%s %s %s", st->case_id,
               st->action == WHISTLE__V1__ACTION__BLOW ? "blew" : "handed to community",
               st->action == WHISTLE__V1__ACTION__BLOW ? wh_whistle_name(st->whistle)
                                                       : st->community);
        for (size_t i = 0; i < st->n_departments; i++)
            printf("%s%s", i ? ", " : " (", st->departments[i]);
        printf("%s\n", st->n_departments ? ")" : "");
    }
    whistle__v1__reply__free_unpacked(r, NULL);
    return 0;
}

/* ---- visits ------------------------------------------------------------------------------- */

static int s_visit(const struct ctl_cmd *cmd, int argc, char **argv)
{
    Whistle__V1__LogVisit v = WHISTLE__V1__LOG_VISIT__INIT;
    static const struct option opts[] = {
        {"grid", 1, 0, 'g'}, {"staff", 1, 0, 's'}, {"hours", 1, 0, 'H'}, {"minutes", 1, 0, 'm'},
        {"date", 1, 0, 'd'}, {"note", 1, 0, 'n'},  {"help", 0, 0, 'h'},  {0, 0, 0, 0}};
    int c;
    long long minutes;
    unsigned char seen[256] = {0};
    while ((c = ctl_getopt(cmd, argc, argv, opts, seen)) != -1) {
        switch (c) {
        case 'g': v.grid = optarg; break;
        case 's': v.staff = optarg; break;
        case 'H': {
            char *end;
            errno = 0;
            double h = strtod(optarg, &end);
            double m = h * 60.0;
            if (errno || end == optarg || *end || !isfinite(h) || m < 0.5 || m >= 1440.5)
                return ctl_usage(cmd, "--hours: a visit must be 1..1440 minutes (up to 24 "
                                      "hours), got %s hours", optarg);
            v.minutes = (uint32_t)(m + 0.5);
            break;
        }
        case 'm':
            if (ctl_number(cmd, "--minutes", optarg, 1, 1440, &minutes)) return EXIT_USAGE;
            v.minutes = (uint32_t)minutes;
            break;
        case 'd': v.date = optarg; break;
        case 'n': v.note = optarg; break;
        case CTL_HELP: return 0;
        default: return EXIT_USAGE;
        }
    }
    if (ctl_args(cmd, argc, argv, 0, 0, "")) return EXIT_USAGE;
    if (seen['H'] && seen['m']) return ctl_usage(cmd, "--hours or --minutes: one of them");
    if (!v.grid[0] || !v.staff[0] || !v.minutes)
        return ctl_usage(cmd, "needs --grid G, --staff NAME and --hours H or --minutes M");
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    req.body_case = WHISTLE__V1__REQUEST__BODY_LOG_VISIT;
    req.log_visit = &v;
    Whistle__V1__Reply *r;
    int rc = s_call(WH_UP_TRACKING, &req, &r);
    if (rc) return rc;
    if (g.json) s_print_json(&r->log_visit->base);
    else printf("%s %s: %u min this week\n", v.grid, v.staff, r->log_visit->week_minutes);
    whistle__v1__reply__free_unpacked(r, NULL);
    return 0;
}

static int s_visits(const struct ctl_cmd *cmd, int argc, char **argv)
{
    Whistle__V1__Visits q = WHISTLE__V1__VISITS__INIT;
    static const struct option opts[] = {{"week", 1, 0, 'w'}, {"grid", 1, 0, 'g'},
                                         {"short", 0, 0, 's'}, {"help", 0, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    unsigned char seen[256] = {0};
    while ((c = ctl_getopt(cmd, argc, argv, opts, seen)) != -1) {
        switch (c) {
        case 'w': q.week = optarg; break;
        case 'g': q.grid = optarg; break;
        case 's': q.short_only = 1; break;
        case CTL_HELP: return 0;
        default: return EXIT_USAGE;
        }
    }
    if (ctl_args(cmd, argc, argv, 0, 0, "")) return EXIT_USAGE;
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    req.body_case = WHISTLE__V1__REQUEST__BODY_VISITS;
    req.visits = &q;
    Whistle__V1__Reply *r;
    int rc = s_call(WH_UP_TRACKING, &req, &r);
    if (rc) return rc;
    Whistle__V1__VisitsReply *vr = r->visits;
    if (g.json) {
        s_print_json(&vr->base);
    } else {
        printf("week %s: %u of the staff under 5 hours\n", vr->week, vr->short_count);
        for (size_t i = 0; i < vr->n_rows; i++)
            printf("%-8s %-6s %-12s %3u:%02u%s\n", vr->rows[i]->grid, vr->rows[i]->role,
                   vr->rows[i]->staff, vr->rows[i]->minutes / 60, vr->rows[i]->minutes % 60,
                   vr->rows[i]->under_minimum ? "  < 5 h" : "");
    }
    whistle__v1__reply__free_unpacked(r, NULL);
    return 0;
}

/* ---- catalog ------------------------------------------------------------------------------ */

/* The catalog the services would load: FILE, else WHISTLE_CATALOG, else the default. */
static struct wh_catalog *s_catalog_load(const struct ctl_cmd *cmd, const char *file)
{
    const char *path = file;
    if (!path) path = getenv("WHISTLE_CATALOG");
    if (!path || !path[0]) path = "deploy/catalog/default.json";
    char err[512];
    struct wh_catalog *cat = wh_catalog_load(path, err, sizeof err);
    if (!cat && !file && access(path, F_OK) != 0)
        fprintf(stderr, "whistlectl %s: no catalog at %s: give its FILE, or set "
                        "WHISTLE_CATALOG to the services' --catalog\n", cmd->name, path);
    else if (!cat)
        fprintf(stderr, "whistlectl %s: catalog refused: %s\n", cmd->name, err);
    return cat;
}

static int s_catalog_check(const struct ctl_cmd *cmd, const char *path)
{
    struct wh_catalog *cat = s_catalog_load(cmd, path);
    if (!cat) return EXIT_REFUSED;
    size_t streets = 0, per[4] = {0};
    for (size_t i = 0; i < cat->n_units; i++) streets += cat->units[i].street;
    for (size_t i = 0; i < cat->n_matters; i++) per[cat->matters[i].whistle]++;
    if (g.json) {
        printf("{\"district\":\"%s\",\"units\":%zu,\"townships\":%zu,\"streets\":%zu,"
               "\"communities\":%zu,\"grids\":%zu,\"departments\":%zu,\"matters\":%zu,"
               "\"quick\":%zu,\"emergency\":%zu,\"tough\":%zu,\"admitted_affairs\":%zu}\n",
               cat->district_code, cat->n_units, cat->n_units - streets, streets,
               cat->n_communities, cat->n_grids, cat->n_departments, cat->n_matters, per[1], per[2],
               per[3], cat->n_affairs);
    } else {
        printf("%s: ok\n", path);
        printf("district     %s (%s)\n", cat->district_name, cat->district_code);
        printf("units        %zu (%zu townships, %zu streets)\n", cat->n_units,
               cat->n_units - streets, streets);
        printf("communities  %zu\ngrids        %zu\ndepartments  %zu\n", cat->n_communities,
               cat->n_grids, cat->n_departments);
        printf("matters      %zu (QUICK %zu, EMERGENCY %zu, TOUGH %zu)\n", cat->n_matters, per[1],
               per[2], per[3]);
        printf("admitted community affairs  %zu\n", cat->n_affairs);
        for (int w = 1; w <= 3; w++)
            printf("%-9s %s: check in within %lld s, resolve within %lld s\n",
                   wh_whistle_name(w), cat->whistles[w].name,
                   (long long)(cat->whistles[w].checkin_ms / 1000),
                   (long long)(cat->whistles[w].resolve_ms / 1000));
        printf("ladder      ");
        for (size_t i = 0; i < cat->n_escalation; i++)
            printf("%s%s", i ? " -> " : " ", cat->escalation[i]);
        printf("\n");
    }
    wh_catalog_destroy(&cat);
    return 0;
}

static void s_json_row(json_t *arr, const char *code, const char *name, const char *k1,
                       const char *v1)
{
    json_t *o = json_pack("{s:s, s:s}", "code", code, "name", name ? name : "");
    if (k1) json_object_set_new(o, k1, json_string(v1 ? v1 : ""));
    json_array_append_new(arr, o);
}

/* One row: code, name, and one more column (`extra`, may be NULL). */
static void s_list_row(json_t *arr, const char *code, const char *name, const char *k1,
                       const char *v1)
{
    if (arr) {
        s_json_row(arr, code, name, k1, v1);
        return;
    }
    ctl_cell(code, 16);
    ctl_cell(name ? name : "", 24);
    if (v1 && v1[0]) fputs(v1, stdout);
    printf("\n");
}

static int s_catalog_list(const struct ctl_cmd *cmd, const char *kind, const char *file)
{
    static const char *const kinds[] = {"units",       "communities", "grids",    "matters",
                                        "departments", "affairs",     "stationed", "volunteers"};
    int k = -1;
    for (int i = 0; i < 8; i++)
        if (strcmp(kind, kinds[i]) == 0) k = i;
    if (k < 0)
        return ctl_usage(cmd, "list what? '%s' is not one of units, communities, grids, matters, "
                              "departments, affairs, stationed, volunteers", kind);
    struct wh_catalog *cat = s_catalog_load(cmd, file);
    if (!cat) return EXIT_REFUSED;
    json_t *arr = g.json ? json_array() : NULL;
    char extra[256];
    switch (k) {
    case 0:
        for (size_t i = 0; i < cat->n_units; i++)
            s_list_row(arr, cat->units[i].code, cat->units[i].name, "kind",
                       cat->units[i].street ? "street" : "township");
        break;
    case 1:
        for (size_t i = 0; i < cat->n_communities; i++)
            s_list_row(arr, cat->communities[i].code, cat->communities[i].name, "unit",
                       cat->communities[i].unit->code);
        break;
    case 2:
        for (size_t i = 0; i < cat->n_grids; i++) {
            const struct wh_grid *gr = &cat->grids[i];
            s_list_row(arr, gr->code, gr->community->name, "community", gr->community->code);
        }
        break;
    case 3:
        for (size_t i = 0; i < cat->n_matters; i++) {
            const struct wh_matter *m = &cat->matters[i];
            size_t n = (size_t)snprintf(extra, sizeof extra, "%s", s_whistle_label(m->whistle));
            for (size_t d = 0; d < m->n_departments && n < sizeof extra; d++)
                n += (size_t)snprintf(extra + n, sizeof extra - n, "%s%s", d ? "," : "  ",
                                      m->departments[d]->code);
            s_list_row(arr, m->code, m->name, "whistle", arr ? wh_whistle_name(m->whistle) : extra);
        }
        break;
    case 4:
        for (size_t i = 0; i < cat->n_departments; i++)
            s_list_row(arr, cat->departments[i].code, cat->departments[i].name, NULL, NULL);
        break;
    case 6: /* 驻区单位: the 大工委 and 大党委 each is a member of */
        for (size_t i = 0; i < cat->n_stations; i++) {
            const struct wh_station *st = &cat->stations[i];
            size_t n = 0;
            extra[0] = 0;
            for (size_t j = 0; j < st->n_streets && n < sizeof extra; j++)
                n += (size_t)snprintf(extra + n, sizeof extra - n, "%s%s", n ? "," : "",
                                      st->streets[j]->code);
            for (size_t j = 0; j < st->n_communities && n < sizeof extra; j++)
                n += (size_t)snprintf(extra + n, sizeof extra - n, "%s%s", n ? "," : "",
                                      st->communities[j]->code);
            s_list_row(arr, st->code, st->name, "member_of", extra);
        }
        break;
    case 7:
        for (size_t i = 0; i < cat->n_volunteers; i++)
            s_list_row(arr, cat->volunteers[i].code, cat->volunteers[i].name, "community",
                       cat->volunteers[i].community->code);
        break;
    case 5:
    default:
        for (size_t i = 0; i < cat->n_affairs; i++)
            s_list_row(arr, cat->affairs[i].code, cat->affairs[i].name, NULL, NULL);
    }
    if (arr) {
        char *s = json_dumps(arr, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(arr);
    }
    wh_catalog_destroy(&cat);
    return 0;
}

static int s_catalog(const struct ctl_cmd *cmd, int argc, char **argv)
{
    static const struct option opts[] = {{"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    unsigned char seen[256] = {0};
    int c;
    while ((c = ctl_getopt(cmd, argc, argv, opts, seen)) != -1)
        return c == CTL_HELP ? 0 : EXIT_USAGE;
    if (ctl_args(cmd, argc, argv, 1, 3, "check FILE, or list KIND [FILE]")) return EXIT_USAGE;
    const char *sub = argv[optind];
    int n = argc - optind;
    if (strcmp(sub, "check") == 0) {
        if (n != 2) return ctl_usage(cmd, n < 2 ? "check needs a FILE" : "check takes one FILE");
        return s_catalog_check(cmd, argv[optind + 1]);
    }
    if (strcmp(sub, "list") == 0) {
        if (n < 2)
            return ctl_usage(cmd, "list needs a KIND: units, communities, grids, matters, "
                                  "departments, affairs, stationed or volunteers");
        return s_catalog_list(cmd, argv[optind + 1], n == 3 ? argv[optind + 2] : NULL);
    }
    return ctl_usage(cmd, "unknown '%s' (check or list)", sub);
}

/* ---- report --period: assessment figures -------------------------------------------------- */

/* 1 if the report command asks for figures (--period) rather than reporting a problem. */
static int s_is_figures(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--period") == 0 || strncmp(argv[i], "--period=", 9) == 0) return 1;
    return 0;
}

static int s_figures(const struct ctl_cmd *cmd, int argc, char **argv)
{
    Whistle__V1__Figures q = WHISTLE__V1__FIGURES__INIT;
    static const struct option opts[] = {{"period", 1, 0, 'p'}, {"by", 1, 0, 'b'},
                                         {"csv", 0, 0, 'c'},    {"json", 0, 0, 'j'},
                                         {"unit", 1, 0, 'u'},   {"help", 0, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c, csv = 0;
    unsigned char seen[256] = {0};
    while ((c = ctl_getopt(cmd, argc, argv, opts, seen)) != -1) {
        switch (c) {
        case 'p': q.period = optarg; break;
        case 'b': q.by = optarg; break;
        case 'u': q.unit = optarg; break;
        case 'c': csv = 1; break;
        case 'j': g.json = 1; break;
        case CTL_HELP: return 0;
        default: return EXIT_USAGE;
        }
    }
    if (ctl_args(cmd, argc, argv, 0, 0, "")) return EXIT_USAGE;
    if (!q.period[0])
        return ctl_usage(cmd, "--period must be an ISO week 2026-W48, a month 2026-11, a "
                              "quarter 2026-Q4 or a year 2026");
    if (csv && g.json) return ctl_usage(cmd, "--csv and --json are two exports; pick one");
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    req.body_case = WHISTLE__V1__REQUEST__BODY_FIGURES;
    req.figures = &q;
    Whistle__V1__Reply *r;
    int rc = s_call(WH_UP_TRACKING, &req, &r);
    if (rc) return rc;
    if (g.json) ctl_figures_json(r->figures);
    else if (csv && s_figures_by(r->figures, "issuer")) s_figures_issuer_csv(r->figures);
    else if (csv && s_figures_by(r->figures, "assignee")) s_figures_assignee_csv(r->figures);
    else if (csv) s_figures_csv(r->figures);
    else if (s_figures_by(r->figures, "issuer")) s_figures_issuer_table(r->figures);
    else if (s_figures_by(r->figures, "assignee")) s_figures_assignee_table(r->figures);
    else s_figures_table(r->figures);
    whistle__v1__reply__free_unpacked(r, NULL);
    if (g.json || csv || !q.unit[0] || strcmp(q.by[0] ? q.by : "department", "department"))
        return 0;
    /* the departments over a township's cases, then the township's own scorecard */
    q.by = "township";
    if ((rc = s_call(WH_UP_TRACKING, &req, &r))) return rc;
    ctl_scorecard_print(stdout, r->figures);
    whistle__v1__reply__free_unpacked(r, NULL);
    return 0;
}

static int s_bulletin(const struct ctl_cmd *cmd, int argc, char **argv)
{
    const struct ctl_bulletin_env env = {g.json, s_call, cmd};
    return ctl_bulletin_run(&env, argc, argv);
}

/* report with --period is the figures; without, a problem reported */
static int s_report_or_figures(const struct ctl_cmd *cmd, int argc, char **argv)
{
    return s_is_figures(argc, argv) ? s_figures(cmd, argc, argv) : s_report(cmd, argc, argv);
}

/* ---- webhooks ---------------------------------------------------------------------------- */

static void s_print_webhooks(const Whistle__V1__WebhookListReply *lr, int dead)
{
    if (g.json) {
        s_print_json(&lr->base);
        return;
    }
    if (!dead) {
        for (size_t i = 0; i < lr->n_webhooks; i++)
            printf("%-20s %s  pending %" PRIu64 "\n", lr->webhooks[i]->topic, lr->webhooks[i]->url,
                   lr->webhooks[i]->pending);
        printf("%zu webhook(s), %" PRIu64 " delivery(ies) pending, %" PRIu64 " dead\n",
               lr->n_webhooks, lr->pending, lr->dead_count);
        return;
    }
    for (size_t i = 0; i < lr->n_dead; i++) {
        const Whistle__V1__WebhookDelivery *d = lr->dead[i];
        printf("%" PRIu64 " %s%" PRIu64 " %s %s attempts %u: %s\n", d->id, d->topic, d->seq,
               d->event_id, d->url, d->attempts, d->last_error);
    }
    printf("%" PRIu64 " dead\n", lr->dead_count);
}

static int s_webhooks(const struct ctl_cmd *cmd, int argc, char **argv)
{
    static const struct option opts[] = {{"limit", 1, 0, 'l'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    unsigned char seen[256] = {0};
    long long limit = 0;
    int c;
    while ((c = ctl_getopt(cmd, argc, argv, opts, seen)) != -1) {
        switch (c) {
        case 'l':
            if (ctl_number(cmd, "--limit", optarg, 1, 1000, &limit)) return EXIT_USAGE;
            break;
        case CTL_HELP: return 0;
        default: return EXIT_USAGE;
        }
    }
    const char *sub = optind < argc ? argv[optind] : "list";
    int n = argc - optind; /* the subcommand and its arguments */
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__WebhookAdd add = WHISTLE__V1__WEBHOOK_ADD__INIT;
    Whistle__V1__WebhookRemove rm = WHISTLE__V1__WEBHOOK_REMOVE__INIT;
    Whistle__V1__WebhookList ls = WHISTLE__V1__WEBHOOK_LIST__INIT;
    if (strcmp(sub, "add") == 0 || strcmp(sub, "remove") == 0) {
        if (n != 3) return ctl_usage(cmd, "%s needs a TOPIC and a URL", sub);
        if (seen['l']) return ctl_usage(cmd, "--limit is for webhooks dead");
        if (sub[0] == 'a') {
            add.topic = argv[optind + 1];
            add.url = argv[optind + 2];
            req.body_case = WHISTLE__V1__REQUEST__BODY_WEBHOOK_ADD;
            req.webhook_add = &add;
        } else {
            rm.topic = argv[optind + 1];
            rm.url = argv[optind + 2];
            req.body_case = WHISTLE__V1__REQUEST__BODY_WEBHOOK_REMOVE;
            req.webhook_remove = &rm;
        }
    } else if (strcmp(sub, "list") == 0 || strcmp(sub, "dead") == 0) {
        ls.dead = sub[0] == 'd';
        if (n > 1) return ctl_usage(cmd, "unexpected argument '%s'", argv[optind + 1]);
        if (seen['l'] && !ls.dead) return ctl_usage(cmd, "--limit is for webhooks dead");
        ls.limit = (uint32_t)limit;
        req.body_case = WHISTLE__V1__REQUEST__BODY_WEBHOOK_LIST;
        req.webhook_list = &ls;
    } else {
        return ctl_usage(cmd, "unknown '%s' (list, add, remove, dead)", sub);
    }
    Whistle__V1__Reply *r;
    int rc = s_call(WH_UP_NOTIFICATION, &req, &r);
    if (rc) return rc;
    s_print_webhooks(r->webhooks, ls.dead);
    whistle__v1__reply__free_unpacked(r, NULL);
    return 0;
}

/* ---- keygen ------------------------------------------------------------------------------ */

/* Makes the folders of `path` (each missing one, mode 0700: key folders hold secrets). */
static int s_mkdirs(const struct ctl_cmd *cmd, const char *path)
{
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return ctl_usage(cmd, "the path is too long");
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0;
    *slash = 0;
    for (char *p = dir + 1; ; p++) {
        int end = *p == 0;
        if (*p != '/' && !end) continue;
        *p = 0;
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "whistlectl keygen: cannot create the folder %s: %s\n", dir,
                    strerror(errno));
            return EXIT_REFUSED;
        }
        if (end) break;
        *p = '/';
    }
    return 0;
}

static int s_keygen(const struct ctl_cmd *cmd, int argc, char **argv)
{
    static const struct option opts[] = {{"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    unsigned char seen[256] = {0};
    int c;
    while ((c = ctl_getopt(cmd, argc, argv, opts, seen)) != -1)
        return c == CTL_HELP ? 0 : EXIT_USAGE;
    if (ctl_args(cmd, argc, argv, 1, 1, "a DIR/NAME for NAME.key and NAME.pub")) return EXIT_USAGE;
    const char *base = argv[optind];
    size_t n = strlen(base);
    if (n == 0 || base[n - 1] == '/')
        return ctl_usage(cmd, "'%s' names a folder; give DIR/NAME (writes NAME.key, NAME.pub)",
                         base);
    int rc = s_mkdirs(cmd, base);
    if (rc) return rc;
    struct wh_keypair kp;
    char err[512];
    if (wh_keypair_generate(base, &kp, err, sizeof err)) {
        fprintf(stderr, "whistlectl keygen: %s\n", err);
        return EXIT_REFUSED;
    }
    if (g.json)
        printf("{\"public_key\":\"%s\",\"key\":\"%s.key\",\"pub\":\"%s.pub\"}\n", kp.public_key,
               base, base);
    else
        printf("%s  (secret: %s.key, public: %s.pub)\n", kp.public_key, base, base);
    return 0;
}

/* ---- tail --------------------------------------------------------------------------------- */

static int s_tail(const struct ctl_cmd *cmd, int argc, char **argv)
{
    const struct ctl_tail_env env = {g.json, g.timeout_ms, g.api[WH_UP_NOTIFICATION],
                                     g.events[WH_UP_NOTIFICATION], s_client, cmd};
    return ctl_tail_run(&env, argc, argv);
}

/* ---- ledger: a grid's book (ledger.c) ------------------------------------------------------ */

static int s_call_tracking(Whistle__V1__Request *req, Whistle__V1__Reply **reply)
{
    return s_call(WH_UP_TRACKING, req, reply);
}

static int s_ledger(const struct ctl_cmd *cmd, int argc, char **argv)
{
    const struct ctl_ledger_env env = {g.json, s_call_tracking, cmd};
    return ctl_ledger_run(&env, argc, argv);
}

/* ---- the commands ------------------------------------------------------------------------- */

#define S_CASE_FLAGS_NOTE "  --note TEXT     a line for the case's history (optional)\n"

static const struct ctl_cmd s_commands[] = {
    {"ping", "[--alive] [SERVICE...]", "Health and log head of each service (all four by default).",
     "SERVICE is intake, routing, tracking or notification. Prints each one's head, uptime and\n"
     "the cursors of what it follows; SILENT, STOPPED or TROUBLE lines say what is wrong.\n"
     "Exit 3 when any is down or in trouble (with --json too).\n\n"
     "  --alive   exit 3 only when a service does not answer: a liveness probe (restart it\n"
     "            if not), where a service whose upstream is down is alive and waits for it\n\n"
     "Example:\n  whistlectl ping\n  whistlectl --json ping tracking\n"
     "  whistlectl --timeout 2000 ping --alive intake\n",
     s_ping, 0},
    {"report",
     "--grid G --matter M --description TEXT --reporter WHO [options]\n"
     "       whistlectl report --period P [--by department|township|grid|assignee|issuer]\n"
     "                         [--unit U] [--csv]",
     "Report a problem (prints the case id); with --period, the assessment figures.",
     "Reporting:\n"
     "  --grid G                the grid (whistlectl catalog list grids)\n"
     "  --matter M              the matter (whistlectl catalog list matters)\n"
     "  --description TEXT      what is wrong (at most 4000 bytes)\n"
     "  --reporter WHO          the resident's or grid worker's id (who verifies it later)\n"
     "  --location L            an address or coordinates\n"
     "  --source S              the channel (default whistlectl; with keys: the key's code)\n"
     "  --whistle W             blow QUICK, EMERGENCY or TOUGH instead of the matter's own\n"
     "  --idempotency-key K     the same K again returns the same case (a safe retry); the\n"
     "                          same K with a different report is refused (ECONFLICT)\n"
     "  --affair A --issuer WHO a task handed down to the grid's community (社区事务准入):\n"
     "                          A from whistlectl catalog list affairs, or an unlisted one\n"
     "  --authority REF --funding REF   with both --authority and --funding\n"
     "  --no-wait               print the case id once intake has it; otherwise wait (up to\n"
     "                          --timeout) for routing's decision: a refusal says why, exit 1\n"
     "Figures (周调度/月通报/季点评/年考核):\n"
     "  --period P              an ISO week 2026-W48, month 2026-11, quarter 2026-Q4, year 2026\n"
     "  --by KIND               department (default), township or grid\n"
     "  --unit U                only the cases township or street U leads; by department,\n"
     "                          followed by U's own scorecard; by township, U's row only\n"
     "  --csv | --json          export (RFC 4180 CSV, or JSON); a rate with no value is \"—\",\n"
     "                          an empty CSV cell, a JSON null\n\n"
     "Example:\n"
     "  whistlectl report --grid g001 --matter m01 --description '占道经营' --reporter r1\n"
     "  whistlectl report --period 2026-11 --by township\n"
     "  whistlectl report --period 2026-11 --by department --unit xinzhou\n",
     s_report_or_figures, 0},
    {"bulletin", "--period P [--unit U] --format md|html|csv [--out FILE] [--overdue N]",
     "The period's bulletin (周调度/月通报/季点评/年考核) as a document to circulate.",
     "  --period P      an ISO week 2026-W48 (周调度), a month 2026-11 (月通报), a quarter\n"
     "                  2026-Q4 (季点评) or a year 2026 (年考核)\n"
     "  --unit U        one township or street: its cases, its grids and its scorecard\n"
     "  --format F      md (markdown), html (one self-contained file) or csv (a block per\n"
     "                  section, the first cell naming it)\n"
     "  --out FILE      write FILE (whole or not at all) instead of standard output\n"
     "  --overdue N     the worst N overdue cases, 1..100 (default 10)\n"
     "Sections: the departments ranked beside the previous period, the townships ranked (or\n"
     "U's scorecard), the worst overdue cases, every escalation to 督办 and above, the\n"
     "departments with missed check-ins, the grid staff under 5 hours a week.\n"
     "\nExample:\n  whistlectl bulletin --period 2026-11 --format html --out 2026-11.html\n",
     s_bulletin, 0},
    {"show", "CASE", "A case: its state, whistle, departments, deadlines and full history.",
     "CASE is a case id such as C00000001 (whistlectl list shows them).\n\n"
     "Example:\n  whistlectl show C00000001\n",
     s_show, 0},
    {"list", "[--state S] [--dept D] [--grid G] [--unit U] [--overdue] [--limit N] [--after CASE]",
     "Cases with their dates, filtered, one page at a time.",
     "  --state S    DISPATCHED, IN_PROGRESS, RESOLVED, CLOSED, REOPENED or REFUSED\n"
     "  --dept D     cases with department D on them\n"
     "  --grid G     cases in grid G\n"
     "  --unit U     cases led by township or street U\n"
     "  --overdue    open cases past the check-in or resolution deadline they must meet next\n"
     "  --limit N    cases per page, 1..1000 (default 100)\n"
     "  --after CASE the next page: the CASE printed after '(more: --after ...)'\n\n"
     "Example:\n  whistlectl list --dept cg --overdue\n",
     s_list, 0},
    {"checkin", "CASE --dept D [--note TEXT]", "A department reports for duty on a case (报到).",
     "  --dept D        the department checking in\n" S_CASE_FLAGS_NOTE
     "\nExample:\n  whistlectl checkin C00000001 --dept cg\n",
     s_action, WHISTLE__V1__ACTION__CHECKIN},
    {"progress", "CASE --dept D [--note TEXT]", "A department logs progress on a case.",
     "  --dept D        the department\n" S_CASE_FLAGS_NOTE
     "\nExample:\n  whistlectl progress C00000001 --dept cg --note '已到现场'\n",
     s_action, WHISTLE__V1__ACTION__PROGRESS},
    {"complete", "CASE --dept D [--note TEXT]", "A department has done its part of a case.",
     "  --dept D        the department\n" S_CASE_FLAGS_NOTE
     "\nExample:\n  whistlectl complete C00000001 --dept cg --note '已清理'\n",
     s_action, WHISTLE__V1__ACTION__COMPLETE},
    {"resolve", "CASE --as UNIT [--note TEXT]",
     "The lead township or street declares a case solved.",
     "  --as UNIT       the case's lead unit\n" S_CASE_FLAGS_NOTE
     "\nExample:\n  whistlectl resolve C00000001 --as xinzhou\n",
     s_action, WHISTLE__V1__ACTION__RESOLVE},
    {"verify", "CASE --as REPORTER --satisfied|--unsatisfied [--note TEXT]",
     "The reporter verifies the result (群众验单); unsatisfied reopens.",
     "  --as REPORTER   the reporter of the case\n"
     "  --satisfied | --unsatisfied\n" S_CASE_FLAGS_NOTE
     "\nExample:\n  whistlectl verify C00000001 --as r1 --satisfied\n",
     s_action, WHISTLE__V1__ACTION__VERIFY},
    {"return", "CASE --dept D --reason TEXT",
     "A department sends its order back with a reason (退单).",
     "  --dept D        the department returning its order\n"
     "  --reason TEXT   why (required)\n"
     "\nExample:\n  whistlectl return C00000001 --dept cg --reason '不属本部门职责'\n",
     s_action, WHISTLE__V1__ACTION__RETURN},
    {"assign", "CASE --as UNIT --dept D [--from DEPT]",
     "The lead unit adds a department or moves a returned order.",
     "  --as UNIT       the case's lead unit\n"
     "  --dept D        the department to assign\n"
     "  --from DEPT     move DEPT's returned order to D\n"
     "\nExample:\n  whistlectl assign C00000001 --as xinzhou --dept scjg --from cg\n",
     s_action, WHISTLE__V1__ACTION__ASSIGN},
    {"release", "CASE --dept D",
     "A department asks to leave a case (事不完、人不撤).",
     "  --dept D        the department\n"
     "\nExample:\n  whistlectl release C00000001 --dept cg\n",
     s_action, WHISTLE__V1__ACTION__RELEASE},
    {"order", "CASE --as COMMUNITY --to unit:CODE|volunteer:CODE [--note TEXT]",
     "The community dispatches a resident's order to a stationed unit or volunteer (社区派单).",
     "  --as COMMUNITY  the community leading the order (群众点单)\n"
     "  --to WHO        unit:CODE (a stationed unit, 驻区单位, on the community's 大党委 or its\n"
     "                  street's 大工委) or volunteer:CODE (a party-member volunteer of the\n"
     "                  community): whistlectl catalog list stationed | volunteers\n" S_CASE_FLAGS_NOTE
     "\nExample:\n  whistlectl order C00000001 --as north-01 --to unit:power\n",
     s_action, WHISTLE__V1__ACTION__ORDER},
    {"accept", "CASE --as unit:CODE|volunteer:CODE [--note TEXT]",
     "A stationed unit or volunteer takes the order dispatched to it (接单).",
     "  --as WHO        unit:CODE or volunteer:CODE, the one the order went to\n" S_CASE_FLAGS_NOTE
     "Then: whistlectl progress|complete CASE --dept CODE, as a department does.\n"
     "\nExample:\n  whistlectl accept C00000001 --as volunteer:pm-n1\n",
     s_action, WHISTLE__V1__ACTION__ACCEPT},
    {"decline", "CASE --as unit:CODE|volunteer:CODE --reason TEXT",
     "A stationed unit or volunteer declines an order; the community dispatches it again.",
     "  --as WHO        unit:CODE or volunteer:CODE, the one the order went to\n"
     "  --reason TEXT   why (required)\n"
     "\nExample:\n  whistlectl decline C00000001 --as unit:power --reason '人手不足'\n",
     s_action, WHISTLE__V1__ACTION__DECLINE},
    {"escalate", "CASE --as UNIT [--whistle QUICK|EMERGENCY|TOUGH] [--reason TEXT]",
     "The lead township or street raises the whistle on a case by hand.",
     "  --as UNIT       the case's lead unit\n"
     "  --whistle W     the whistle to blow (default: TOUGH)\n"
     "  --reason TEXT   why, for the case's history\n"
     "\nExample:\n  whistlectl escalate C00000001 --as xinzhou --reason '群众反映强烈'\n",
     s_escalate, 0},
    {"blow",
     "CASE --as UNIT [--whistle W] [--dept D ...] | --to-community | --reject duplicate --of C "
     "--reason TEXT | --reject not-a-matter --reason TEXT",
     "The lead township or street decides a case in REVIEW (乡街吹哨).",
     "  --as UNIT        the case's lead unit\n"
     "  --whistle W      QUICK, EMERGENCY or TOUGH (default: the matter's)\n"
     "  --dept D         a department to blow for; repeat it for each (default: the matter's)\n"
     "  --to-community   hand the case to the grid's community to handle, no department\n"
     "  --reject WHY     duplicate (with --of CASE) or not-a-matter: the case ends REFUSED\n"
     "  --of CASE        the case it repeats (--reject duplicate)\n"
     "  --reason TEXT    what the reporter reads (required with --reject)\n"
     "\nExample:\n  whistlectl blow C00000001 --as xinzhou --whistle TOUGH --dept cg --dept scjg\n"
     "  whistlectl blow C00000002 --as xinzhou --reject duplicate --of C00000001 "
     "--reason '同一处占道'\n",
     s_blow, 0},
    {"visit", "--grid G --staff NAME (--hours H | --minutes M) [--date YYYY-MM-DD] [--note TEXT]",
     "A grid leader or worker logs a visit to their grid (一格一账本).",
     "  --grid G        the grid\n"
     "  --staff NAME    the leader or worker as the catalog names them\n"
     "  --hours H       hours, e.g. 1.5 (a visit is 1..1440 minutes)\n"
     "  --minutes M     or minutes, 1..1440\n"
     "  --date D        the day (default today)\n"
     "  --note TEXT     what was collected (民情)\n"
     "\nExample:\n  whistlectl visit --grid g001 --staff 张三 --hours 2 --note '走访独居老人'\n",
     s_visit, 0},
    {"ledger", "--grid G [--period P] [--json | --csv]",
     "A grid's book (一格一账本): staff, visits and notes, cases, open items.",
     "  --grid G        the grid (whistlectl catalog list grids)\n"
     "  --period P      an ISO week 2026-W48, month 2026-11, quarter 2026-Q4 or year 2026\n"
     "                  (default: this month)\n"
     "  --json          the book as one JSON object\n"
     "  --csv           one RFC 4180 table, a `section` column (grid, staff, visit, case,\n"
     "                  open) first; each section fills its own columns\n"
     "Sections: the grid's community, township or street and households; its 1+3 staff with\n"
     "the hours and visits of the period; each visit with its note (民情); the cases reported\n"
     "in the grid in the period with their dates; every case of the grid still open.\n"
     "\nExample:\n  whistlectl ledger --grid g001 --period 2026-11\n",
     s_ledger, 0},
    {"visits", "--week 2026-W48 [--grid G] [--short]",
     "The week's visit hours of grid staff, flagged under 5 hours.",
     "  --week W        an ISO week\n"
     "  --grid G        one grid only\n"
     "  --short         only those under 5 hours\n"
     "\nExample:\n  whistlectl visits --week 2026-W48 --short\n",
     s_visits, 0},
    {"tail", "TOPIC [--from SEQ | --cursor FILE] [--from-oldest] [--count N] [--idle-exit MS]",
     "Every entry of a topic once and in order: replayed, then live.",
     "TOPIC is all/, district/, dept/CODE/, unit/CODE/, grid/CODE/, case/ID/, community/CODE/\n"
     "(a community's orders and tasks), station/CODE/ or volunteer/CODE/ (their orders).\n"
     "  --from SEQ     start at SEQ\n"
     "  --cursor FILE  start after the sequence FILE holds, and keep it there: the last\n"
     "                 sequence printed, written atomically after each batch (--from wins)\n"
     "  --from-oldest  when the position is older than the topic's retention, go on from the\n"
     "                 oldest kept instead of exiting with 'gone'\n"
     "  --count N      exit after N entries\n"
     "  --idle-exit MS exit after MS without a new entry\n"
     "Without --from or a cursor, starts at the oldest entry kept.\n"
     "\nExample:\n  whistlectl tail dept/cg/ --cursor cg.cursor\n",
     s_tail, 0},
    {"webhooks", "[list] | add TOPIC URL | remove TOPIC URL | dead [--limit N]",
     "Every entry of a topic POSTed to a department system's URL.",
     "  list                 registrations, pending deliveries (the default)\n"
     "  add TOPIC URL        POST every entry of TOPIC to URL as JSON, retried until 2xx\n"
     "  remove TOPIC URL     stop; pending deliveries are dropped\n"
     "  dead [--limit N]     deliveries given up after the last attempt (N 1..1000, default 100)\n"
     "\nExample:\n  whistlectl webhooks add dept/cg/ http://cg.example:8080/whistle\n",
     s_webhooks, 0},
    {"catalog", "check FILE | list KIND [FILE]",
     "Check a district catalog, or list its codes and names.",
     "  check FILE       validate FILE and print its summary\n"
     "  list KIND [FILE] units, communities, grids, matters, departments, affairs, stationed\n"
     "                   or volunteers of FILE\n"
     "                   (default: $WHISTLE_CATALOG, else deploy/catalog/default.json)\n"
     "\nExample:\n  whistlectl catalog list departments\n",
     s_catalog, 0},
    {"keygen", "DIR/NAME",
     "Make a CurveZMQ key pair: NAME.key (secret) and NAME.pub.",
     "DIR is created (mode 0700) when missing; an existing key is never overwritten.\n"
     "\nExample:\n  whistlectl keygen keys/cg\n",
     s_keygen, 0},
};

#define S_N_COMMANDS (sizeof s_commands / sizeof s_commands[0])

static void s_usage(FILE *out)
{
    fprintf(out, "Usage: whistlectl [GLOBAL OPTIONS] COMMAND [ARGS]\n\nCommands:\n");
    for (size_t i = 0; i < S_N_COMMANDS; i++)
        fprintf(out, "  %-9s %s\n", s_commands[i].name, s_commands[i].summary);
    fprintf(out,
            "\nwhistlectl COMMAND --help shows a command's flags and an example.\n\n"
            "Global options (before the command):\n"
            "  --json            machine-readable output (one JSON object per line for tail)\n"
            "  --timeout MS      how long to wait for a reply (default 5000)\n"
            "  --intake-api E, --routing-api E, --tracking-api E, --notification-api E,\n"
            "  --notification-events E   endpoints (defaults: loopback ports 7100..7131;\n"
            "                    also WHISTLE_INTAKE_API and the like)\n"
            "  --key FILE        our key pair (NAME.key) for a keyed deployment [WHISTLE_KEY]\n"
            "  --server-key FILE the services' public key (server.pub) [WHISTLE_SERVER_KEY]\n"
            "  -h, --help        this text\n\n"
            "Exit status: 0 done, 1 refused (the reason is printed), 2 usage, 3 no answer.\n");
}

int main(int argc, char **argv)
{
    g.timeout_ms = 5000;
    static const char *const upper[] = {"INTAKE", "ROUTING", "TRACKING", "NOTIFICATION"};
    for (int i = 0; i < 4; i++) {
        char var[64];
        snprintf(var, sizeof var, "WHISTLE_%s_API", upper[i]);
        g.api[i] = getenv(var) && getenv(var)[0] ? getenv(var) : wh_default_api(s_services[i]);
        snprintf(var, sizeof var, "WHISTLE_%s_EVENTS", upper[i]);
        g.events[i] = getenv(var) && getenv(var)[0] ? getenv(var) : wh_default_events(s_services[i]);
    }
    static const struct option opts[] = {{"json", 0, 0, 'j'},
                                         {"timeout", 1, 0, 't'},
                                         {"intake-api", 1, 0, 100},
                                         {"routing-api", 1, 0, 101},
                                         {"tracking-api", 1, 0, 102},
                                         {"notification-api", 1, 0, 103},
                                         {"notification-events", 1, 0, 203},
                                         {"key", 1, 0, 'k'},
                                         {"server-key", 1, 0, 's'},
                                         {"help", 0, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    long long timeout;
    static const struct ctl_cmd global = {"", "", "", "", NULL, 0};
    opterr = 0;
    /* "+": stop at the command; its own options are parsed by the command */
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': g.json = 1; break;
        case 't':
            if (ctl_number(&global, "--timeout", optarg, 1, 3600000, &timeout)) return EXIT_USAGE;
            g.timeout_ms = (int)timeout;
            break;
        case 'k': g.key_file = optarg; break;
        case 's': g.server_key_file = optarg; break;
        case 'h': s_usage(stdout); return 0;
        case ':':
            fprintf(stderr, "whistlectl: %s needs a value (see whistlectl --help)\n",
                    argv[optind - 1]);
            return EXIT_USAGE;
        case '?':
            fprintf(stderr, "whistlectl: unknown option '%s' before the command (see "
                            "whistlectl --help)\n", argv[optind - 1]);
            return EXIT_USAGE;
        default:
            if (c >= 100 && c < 104) { g.api[c - 100] = optarg; break; }
            if (c == 203) { g.events[3] = optarg; break; }
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        s_usage(stderr);
        return EXIT_USAGE;
    }
    const struct ctl_cmd *cmd = NULL;
    for (size_t i = 0; i < S_N_COMMANDS && !cmd; i++)
        if (strcmp(argv[optind], s_commands[i].name) == 0) cmd = &s_commands[i];
    if (!cmd) {
        fprintf(stderr, "whistlectl: unknown command '%s' (see whistlectl --help)\n",
                argv[optind]);
        return EXIT_USAGE;
    }
    g.cmd = cmd->name;
    if (!g.key_file && getenv("WHISTLE_KEY") && getenv("WHISTLE_KEY")[0])
        g.key_file = getenv("WHISTLE_KEY");
    if (!g.server_key_file && getenv("WHISTLE_SERVER_KEY") && getenv("WHISTLE_SERVER_KEY")[0])
        g.server_key_file = getenv("WHISTLE_SERVER_KEY");
    if (!g.key_file != !g.server_key_file) {
        fprintf(stderr, "whistlectl: --key and --server-key go together (a keyed deployment "
                        "needs both)\n");
        return EXIT_USAGE;
    }
    /* keygen and catalog talk to no service: they need no keys (keygen makes them) */
    int offline = cmd->run == s_keygen || cmd->run == s_catalog;
    int help = 0;
    for (int i = optind + 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) help = 1;
    if (g.key_file && !offline && !help) {
        char err[512];
        struct wh_keypair server;
        if (wh_keypair_load(g.key_file, 1, &g.key, err, sizeof err) ||
            wh_keypair_load(g.server_key_file, 0, &server, err, sizeof err)) {
            fprintf(stderr, "whistlectl: %s\n", err);
            return EXIT_USAGE;
        }
        memcpy(g.server_public, server.public_key, sizeof g.server_public);
    }
    char **cargv = argv + optind;
    int cargc = argc - optind;
    optind = 0; /* GNU getopt: 0 re-initialises its state for the command's own options */
    return cmd->run(cmd, cargc, cargv);
}
