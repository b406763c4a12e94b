/* whistlectl: the command line of whistle. Reports, acts on cases, queries, pings and tails
 * topics, talking protobuf to the services' ROUTER and XPUB sockets.
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
#include "tail.h"
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_DOWN = 3 };

static struct {
    int json;
    int timeout_ms;
    const char *api[4];
    const char *events[4];
    const char *key_file;         /* --key: our key pair, for a keyed deployment */
    const char *server_key_file;  /* --server-key: the services' public key */
    struct wh_keypair key;
    char server_public[WH_Z85_KEY];
} g;

/* A client of `endpoint`, keyed when --key/--server-key were given. */
static wh_client_t *s_client(const char *endpoint)
{
    return g.key_file ? wh_client_new_keyed(endpoint, &g.key, g.server_public)
                      : wh_client_new(endpoint);
}

static const char *const s_services[] = {"intake", "routing", "tracking", "notification"};

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: whistlectl [GLOBAL OPTIONS] COMMAND [ARGS]\n\n"
            "Commands:\n"
            "  ping [SERVICE...]                    health and log head of each service\n"
            "  report --grid G --matter M --description TEXT --reporter WHO\n"
            "         [--location L] [--source S] [--idempotency-key K] [--whistle W]\n"
            "         [--affair A | --authority REF --funding REF] --issuer WHO\n"
            "                                       (--affair/--authority: a task handed down to\n"
            "                                       the grid's community, 社区事务准入)\n"
            "                                       report a problem; prints the case id\n"
            "  report --period P [--by department|township|grid] [--csv]\n"
            "                                       assessment figures for an ISO week 2026-W48,\n"
            "                                       month 2026-11, quarter 2026-Q4 or year 2026:\n"
            "                                       dispatched, on time, resolved, satisfied (三率),\n"
            "                                       p50/p90 times and the ranking; --csv (RFC 4180)\n"
            "                                       or --json to export\n"
            "  checkin CASE --dept D [--note N]     a department reports for duty (报到)\n"
            "  progress CASE --dept D [--note N]    a department logs progress\n"
            "  complete CASE --dept D [--note N]    a department has done its part\n"
            "  resolve CASE --as UNIT [--note N]    the lead unit declares the case solved\n"
            "  return CASE --dept D --reason R      a department sends its order back (退单), once\n"
            "  assign CASE --as UNIT --dept D [--from DEPT]\n"
            "                                       the lead adds a department, rejects a return,\n"
            "                                       or moves DEPT's returned order to D\n"
            "  release CASE --dept D                a department asks to leave (refused while the\n"
            "                                       case is open: 事不完、人不撤)\n"
            "  escalate CASE --as UNIT [--whistle QUICK|EMERGENCY|TOUGH] [--reason R]\n"
            "                                       the lead township raises the whistle by hand\n"
            "  catalog check FILE                   validate a catalog and print its summary\n"
            "  verify CASE --as REPORTER --satisfied|--unsatisfied [--note N]\n"
            "                                       the reporter verifies (群众验单)\n"
            "  show CASE                            state, assignments and full history\n"
            "  list [--state S] [--dept D] [--grid G] [--unit U] [--overdue] [--limit N]\n"
            "       [--after CASE]                  cases from tracking's indexes, paged\n"
            "  visit --grid G --staff NAME (--hours H | --minutes M) [--date YYYY-MM-DD] [--note N]\n"
            "                                       a grid leader or worker logs a visit\n"
            "  visits --week 2026-W48 [--grid G] [--short]\n"
            "                                       weekly visit hours, flagged under 5 hours\n"
            "  tail TOPIC [--from SEQ | --cursor FILE] [--from-oldest] [--count N]\n"
            "         [--idle-exit MS]              replay TOPIC (e.g. dept/cg/) from SEQ, or\n"
            "                                       after the last sequence FILE holds (kept up\n"
            "                                       to date), then follow it live, with no gap;\n"
            "                                       'gone: oldest is N' (exit 1) when SEQ is past\n"
            "                                       the retention, unless --from-oldest\n"
            "  webhooks [list]                      webhook registrations, pending deliveries\n"
            "  webhooks add TOPIC URL               POST every entry of TOPIC to URL (JSON)\n"
            "  webhooks remove TOPIC URL            stop; pending deliveries are dropped\n"
            "  webhooks dead [--limit N]            deliveries given up after the last attempt\n"
            "  keygen DIR/NAME                      a CurveZMQ key pair: NAME.key (secret, mode\n"
            "                                       0600) and NAME.pub (for the allowlist)\n\n"
            "Global options:\n"
            "  --json            machine-readable output (one JSON object per line for tail)\n"
            "  --timeout MS      how long to wait for a reply (default 5000)\n"
            "  --intake-api E, --routing-api E, --tracking-api E, --notification-api E,\n"
            "  --notification-events E   endpoints (defaults: loopback ports 7100..7131;\n"
            "                    also WHISTLE_INTAKE_API and the like)\n"
            "  --key FILE        our key pair (NAME.key) for a keyed deployment [WHISTLE_KEY]\n"
            "  --server-key FILE the services' public key (server.pub) [WHISTLE_SERVER_KEY]\n"
            "  -h, --help        this text; COMMAND --help for one command\n\n"
            "Exit status: 0 done, 1 refused (the reason is printed), 2 usage, 3 no answer.\n");
}

static void s_print_json(const ProtobufCMessage *m)
{
    json_t *j = wh_message_to_json(m);
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII * 0);
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

/* Sends `req` to service `svc`. Returns 0 with *reply set, or an exit status after printing
 * the reason (refusals are printed and return EXIT_REFUSED with *reply freed). */
static int s_call(int svc, Whistle__V1__Request *req, Whistle__V1__Reply **reply)
{
    *reply = NULL;
    wh_client_t *c = s_client(g.api[svc]);
    if (!c) {
        fprintf(stderr, "whistlectl: cannot connect to %s at %s\n", s_services[svc], g.api[svc]);
        return EXIT_DOWN;
    }
    int rc = wh_client_call(c, req, reply, g.timeout_ms);
    wh_client_destroy(&c);
    if (rc == WH_ETIMEDOUT) {
        fprintf(stderr, "whistlectl: no reply from %s at %s within %d ms (is it running?)\n",
                s_services[svc], g.api[svc], g.timeout_ms);
        return EXIT_DOWN;
    }
    if (rc) {
        fprintf(stderr, "whistlectl: %s: %s\n", s_services[svc], wh_strerror(rc));
        return EXIT_DOWN;
    }
    if ((*reply)->body_case == WHISTLE__V1__REPLY__BODY_ERROR) {
        Whistle__V1__Error *e = (*reply)->error;
        if (g.json) s_print_json(&(*reply)->base);
        fprintf(stderr, "whistlectl: refused: %s%s%s\n", e->field[0] ? e->field : "",
                e->field[0] ? ": " : "", e->message);
        whistle__v1__reply__free_unpacked(*reply, NULL);
        *reply = NULL;
        return EXIT_REFUSED;
    }
    return 0;
}

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

/* ---- ping ------------------------------------------------------------------------------- */

static int s_ping(int argc, char **argv)
{
    int worst = 0;
    int which[4], n = 0;
    for (int i = 1; i < argc; i++) {
        int k = s_svc_index(argv[i]);
        if (k < 0) {
            fprintf(stderr, "whistlectl: ping: unknown service '%s'\n", argv[i]);
            return EXIT_USAGE;
        }
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
                    if (worst < EXIT_DOWN) worst = EXIT_DOWN;
                }
            for (size_t k = 0; k < p->n_cursors; k++)
                if (p->cursors[k]->stopped && p->cursors[k]->stopped[0]) {
                    printf("%-13s STOPPED following %s: %s\n", "", p->cursors[k]->upstream,
                           p->cursors[k]->stopped);
                    if (worst < EXIT_DOWN) worst = EXIT_DOWN;
                }
            if (p->condition && p->condition[0]) {
                printf("%-13s TROUBLE %s\n", "", p->condition);
                if (worst < EXIT_DOWN) worst = EXIT_DOWN;
            }
        }
        whistle__v1__reply__free_unpacked(r, NULL);
    }
    return worst;
}

/* ---- report ------------------------------------------------------------------------------ */

static int s_report(int argc, char **argv)
{
    Whistle__V1__Report rep = WHISTLE__V1__REPORT__INIT;
    Whistle__V1__SubmitReport sr = WHISTLE__V1__SUBMIT_REPORT__INIT;
    char key[64];
    static struct option opts[] = {{"grid", 1, 0, 'g'},     {"matter", 1, 0, 'm'},
                                   {"description", 1, 0, 'd'}, {"reporter", 1, 0, 'r'},
                                   {"location", 1, 0, 'l'}, {"source", 1, 0, 's'},
                                   {"idempotency-key", 1, 0, 'k'}, {"key", 1, 0, 'K'},
                                   {"help", 0, 0, 'h'},
                                   {"whistle", 1, 0, 'w'},  {"affair", 1, 0, 'a'},
                                   {"authority", 1, 0, 'A'}, {"funding", 1, 0, 'F'},
                                   {"issuer", 1, 0, 'I'},   {0, 0, 0, 0}};
    int c;
    Whistle__V1__CommunityTask task = WHISTLE__V1__COMMUNITY_TASK__INIT;
    sr.idempotency_key = NULL;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
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
            if (!(rep.whistle = wh_whistle_parse(optarg))) {
                fprintf(stderr, "whistlectl: --whistle must be QUICK, EMERGENCY or TOUGH\n");
                return EXIT_USAGE;
            }
            break;
        case 'a': task.affair = optarg; rep.task = &task; break;
        case 'A': task.authority_ref = optarg; rep.task = &task; break;
        case 'F': task.funding_ref = optarg; rep.task = &task; break;
        case 'I': task.issuer = optarg; rep.task = &task; break;
        case 'h': s_usage(stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
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
    whistle__v1__reply__free_unpacked(r, NULL);
    return 0;
}

/* ---- case output ------------------------------------------------------------------------- */

static void s_print_case(const Whistle__V1__Case *c)
{
    char t1[32], t2[32];
    printf("case %s  %s  %s whistle  lead %s  community %s\n", c->id, wh_state_name(c->state),
           wh_whistle_name(c->whistle), c->lead_unit, c->community);
    if (c->report)
        printf("  grid %s  matter %s  reporter %s\n  %s\n", c->report->grid, c->report->matter,
               c->report->reporter, c->report->description);
    s_fmt_time(t1, sizeof t1, c->checkin_deadline_ms);
    s_fmt_time(t2, sizeof t2, c->resolve_deadline_ms);
    printf("  check in by %s, resolve by %s, reopened %u time(s)\n", t1, t2, c->reopen_count);
    for (size_t i = 0; i < c->n_assignments; i++) {
        s_fmt_time(t1, sizeof t1, c->assignments[i]->checked_in_at_ms);
        printf("  dept %-10s %-10s checked in %s\n", c->assignments[i]->department,
               wh_assignment_state_name(c->assignments[i]->state), t1);
    }
}

static int s_action(int action, int argc, char **argv)
{
    Whistle__V1__CaseAction a = WHISTLE__V1__CASE_ACTION__INIT;
    static struct option opts[] = {{"dept", 1, 0, 'd'},      {"as", 1, 0, 'a'},
                                   {"note", 1, 0, 'n'},      {"reason", 1, 0, 'n'},
                                   {"from", 1, 0, 'f'},      {"satisfied", 0, 0, 's'},
                                   {"unsatisfied", 0, 0, 'u'}, {"help", 0, 0, 'h'},
                                   {0, 0, 0, 0}};
    int c, verdict = -1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': a.department = optarg; break;
        case 'a': a.actor = optarg; break;
        case 'n': a.note = optarg; break;
        case 'f': a.from_department = optarg; break;
        case 's': verdict = 1; break;
        case 'u': verdict = 0; break;
        case 'h': s_usage(stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "whistlectl: %s needs a CASE id\n", argv[0]);
        return EXIT_USAGE;
    }
    a.case_id = argv[optind];
    a.action = action;
    if (action == WHISTLE__V1__ACTION__VERIFY) {
        if (verdict < 0) {
            fprintf(stderr, "whistlectl: verify needs --satisfied or --unsatisfied\n");
            return EXIT_USAGE;
        }
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
    else printf("%s %s\n", cs->id, wh_state_name(cs->state));
    whistle__v1__reply__free_unpacked(r, NULL);
    return 0;
}

static int s_show(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "whistlectl: show needs a CASE id\n");
        return EXIT_USAGE;
    }
    Whistle__V1__GetCase gc = WHISTLE__V1__GET_CASE__INIT;
    gc.case_id = argv[1];
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
            printf("  %s  %-9s %-12s %s -> %s%s%s\n", t, wh_action_name(h->action), h->actor,
                   wh_state_name(h->from_state), wh_state_name(h->to_state),
                   h->note[0] ? "  " : "", h->note);
        }
    }
    whistle__v1__reply__free_unpacked(r, NULL);
    return 0;
}

static int s_list(int argc, char **argv)
{
    Whistle__V1__ListCases q = WHISTLE__V1__LIST_CASES__INIT;
    static struct option opts[] = {{"state", 1, 0, 's'}, {"dept", 1, 0, 'd'}, {"grid", 1, 0, 'g'},
                                   {"unit", 1, 0, 'u'},  {"limit", 1, 0, 'l'}, {"after", 1, 0, 'a'},
                                   {"overdue", 0, 0, 'o'}, {"help", 0, 0, 'h'},  {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (!(q.state = wh_state_parse(optarg))) {
                fprintf(stderr, "whistlectl: --state: unknown state '%s' (DISPATCHED, "
                                "IN_PROGRESS, RESOLVED, CLOSED, REOPENED, REFUSED)\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'd': q.department = optarg; break;
        case 'g': q.grid = optarg; break;
        case 'u': q.unit = optarg; break;
        case 'l': q.limit = (uint32_t)atoi(optarg); break;
        case 'a': q.after_case_id = optarg; break;
        case 'o': q.overdue = 1; break;
        case 'h': s_usage(stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
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
        for (size_t i = 0; i < lr->n_cases; i++) {
            Whistle__V1__Case *cs = lr->cases[i];
            printf("%-10s %-11s %-9s %-12s %-6s %-5s", cs->id, wh_state_name(cs->state),
                   wh_whistle_name(cs->whistle), cs->lead_unit, cs->report ? cs->report->grid : "",
                   cs->report ? cs->report->matter : "");
            for (size_t k = 0; k < cs->n_assignments; k++)
                printf(" %s:%s", cs->assignments[k]->department,
                       wh_assignment_state_name(cs->assignments[k]->state));
            printf("\n");
        }
        if (lr->next_after[0]) printf("(more: --after %s)\n", lr->next_after);
    }
    whistle__v1__reply__free_unpacked(r, NULL);
    return 0;
}

static int s_escalate(int argc, char **argv)
{
    Whistle__V1__Escalate e = WHISTLE__V1__ESCALATE__INIT;
    static struct option opts[] = {{"as", 1, 0, 'a'}, {"whistle", 1, 0, 'w'}, {"reason", 1, 0, 'r'},
                                   {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'a': e.actor = optarg; break;
        case 'w':
            if (!(e.to_whistle = wh_whistle_parse(optarg))) {
                fprintf(stderr, "whistlectl: --whistle must be QUICK, EMERGENCY or TOUGH\n");
                return EXIT_USAGE;
            }
            break;
        case 'r': e.reason = optarg; break;
        case 'h': s_usage(stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (optind >= argc || !e.actor[0]) {
        fprintf(stderr, "whistlectl: escalate needs a CASE id and --as UNIT\n");
        return EXIT_USAGE;
    }
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

static int s_visit(int argc, char **argv)
{
    Whistle__V1__LogVisit v = WHISTLE__V1__LOG_VISIT__INIT;
    static struct option opts[] = {{"grid", 1, 0, 'g'}, {"staff", 1, 0, 's'}, {"hours", 1, 0, 'H'},
                                   {"minutes", 1, 0, 'm'}, {"date", 1, 0, 'd'}, {"note", 1, 0, 'n'},
                                   {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'g': v.grid = optarg; break;
        case 's': v.staff = optarg; break;
        case 'H': v.minutes = (uint32_t)(atof(optarg) * 60 + 0.5); break;
        case 'm': v.minutes = (uint32_t)atoi(optarg); break;
        case 'd': v.date = optarg; break;
        case 'n': v.note = optarg; break;
        case 'h': s_usage(stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
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

static int s_visits(int argc, char **argv)
{
    Whistle__V1__Visits q = WHISTLE__V1__VISITS__INIT;
    static struct option opts[] = {{"week", 1, 0, 'w'}, {"grid", 1, 0, 'g'}, {"short", 0, 0, 's'},
                                   {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'w': q.week = optarg; break;
        case 'g': q.grid = optarg; break;
        case 's': q.short_only = 1; break;
        case 'h': s_usage(stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
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

static int s_catalog(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "check") != 0) {
        fprintf(stderr, "whistlectl: usage: catalog check FILE\n");
        return EXIT_USAGE;
    }
    char err[512];
    struct wh_catalog *cat = wh_catalog_load(argv[2], err, sizeof err);
    if (!cat) {
        fprintf(stderr, "whistlectl: catalog refused: %s\n", err);
        return EXIT_REFUSED;
    }
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
        printf("%s: ok\n", argv[2]);
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

/* ---- report --period: assessment figures -------------------------------------------------- */

/* Columns are counted in display cells: a CJK name takes two per character, not three bytes. */
static int s_cells(const char *s)
{
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) == 0x80) continue; /* a continuation byte */
        n += *p < 0x80 ? 1 : 2;
    }
    return n;
}

static void s_cell(const char *s, int width)
{
    fputs(s, stdout);
    for (int n = s_cells(s); n < width; n++) putchar(' ');
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

/* One CSV field, quoted (RFC 4180) when it holds a comma, a quote or a line break. */
static void s_csv_field(const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
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
        s_csv_field(r->key);
        putchar(',');
        s_csv_field(r->name);
        printf(",%u,%u,%u,%.6f,%u,%.6f,%u,%u,%u,%.6f,%u,%u,%" PRId64 ",%" PRId64 ",%" PRId64
               ",%" PRId64 ",%u,%.6f\r\n",
               r->dispatched, r->checked_in, r->checked_in_on_time, r->response_rate, r->resolved,
               r->resolution_rate, r->verified, r->satisfied, r->verified_by_default,
               r->satisfaction_rate, r->reopened, r->escalations, r->checkin_p50_ms,
               r->checkin_p90_ms, r->resolve_p50_ms, r->resolve_p90_ms, r->rank, r->score);
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
        if (s_cells(fr->rows[i]->key) > kw) kw = s_cells(fr->rows[i]->key);
        if (s_cells(fr->rows[i]->name) > nw) nw = s_cells(fr->rows[i]->name);
    }
    s_cell("key", kw + 2);
    s_cell("name", nw + 2);
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
        s_cell(r->key, kw + 2);
        s_cell(r->name, nw + 2);
        printf("%10u %7u %5.1f%% %8u %5.1f%% %9u %5.1f%% %8u %11u %7s %7s %7s %7s %4u\n",
               r->dispatched, r->checked_in_on_time, 100.0 * r->response_rate, r->resolved,
               100.0 * r->resolution_rate, r->satisfied, 100.0 * r->satisfaction_rate,
               r->reopened, r->escalations, d[0], d[1], d[2], d[3], r->rank);
    }
    if (fr->n_rows == 0) printf("(no case dispatched in this period)\n");
}

/* 1 if the report command asks for figures (--period) rather than reporting a problem. */
static int s_is_figures(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--period") == 0 || strncmp(argv[i], "--period=", 9) == 0) return 1;
    return 0;
}

static int s_figures(int argc, char **argv)
{
    Whistle__V1__Figures q = WHISTLE__V1__FIGURES__INIT;
    static struct option opts[] = {{"period", 1, 0, 'p'}, {"by", 1, 0, 'b'}, {"csv", 0, 0, 'c'},
                                   {"json", 0, 0, 'j'},   {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c, csv = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': q.period = optarg; break;
        case 'b': q.by = optarg; break;
        case 'c': csv = 1; break;
        case 'j': g.json = 1; break;
        case 'h': s_usage(stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (optind < argc || !q.period[0]) {
        fprintf(stderr, "whistlectl: report --period 2026-W48|2026-11|2026-Q4|2026 "
                        "[--by department|township|grid] [--csv]\n");
        return EXIT_USAGE;
    }
    if (csv && g.json) {
        fprintf(stderr, "whistlectl: report: --csv and --json are two exports; pick one\n");
        return EXIT_USAGE;
    }
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    req.body_case = WHISTLE__V1__REQUEST__BODY_FIGURES;
    req.figures = &q;
    Whistle__V1__Reply *r;
    int rc = s_call(WH_UP_TRACKING, &req, &r);
    if (rc) return rc;
    if (g.json) s_print_json(&r->figures->base);
    else if (csv) s_figures_csv(r->figures);
    else s_figures_table(r->figures);
    whistle__v1__reply__free_unpacked(r, NULL);
    return 0;
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

static int s_webhooks(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "list";
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__WebhookAdd add = WHISTLE__V1__WEBHOOK_ADD__INIT;
    Whistle__V1__WebhookRemove rm = WHISTLE__V1__WEBHOOK_REMOVE__INIT;
    Whistle__V1__WebhookList ls = WHISTLE__V1__WEBHOOK_LIST__INIT;
    if (strcmp(sub, "add") == 0 || strcmp(sub, "remove") == 0) {
        if (argc != 4) {
            fprintf(stderr, "whistlectl: usage: webhooks %s TOPIC URL\n", sub);
            return EXIT_USAGE;
        }
        if (sub[0] == 'a') {
            add.topic = argv[2];
            add.url = argv[3];
            req.body_case = WHISTLE__V1__REQUEST__BODY_WEBHOOK_ADD;
            req.webhook_add = &add;
        } else {
            rm.topic = argv[2];
            rm.url = argv[3];
            req.body_case = WHISTLE__V1__REQUEST__BODY_WEBHOOK_REMOVE;
            req.webhook_remove = &rm;
        }
    } else if (strcmp(sub, "list") == 0 || strcmp(sub, "dead") == 0) {
        ls.dead = sub[0] == 'd';
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
                ls.limit = (uint32_t)atoi(argv[++i]);
            } else {
                fprintf(stderr, "whistlectl: usage: webhooks %s%s\n", sub,
                        ls.dead ? " [--limit N]" : "");
                return EXIT_USAGE;
            }
        }
        req.body_case = WHISTLE__V1__REQUEST__BODY_WEBHOOK_LIST;
        req.webhook_list = &ls;
    } else if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        s_usage(stdout);
        return 0;
    } else {
        fprintf(stderr, "whistlectl: webhooks: unknown '%s' (list, add, remove, dead)\n", sub);
        return EXIT_USAGE;
    }
    Whistle__V1__Reply *r;
    int rc = s_call(WH_UP_NOTIFICATION, &req, &r);
    if (rc) return rc;
    s_print_webhooks(r->webhooks, ls.dead);
    whistle__v1__reply__free_unpacked(r, NULL);
    return 0;
}

/* ---- keygen ------------------------------------------------------------------------------ */

static int s_keygen(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "whistlectl: usage: keygen DIR/NAME (writes NAME.key and NAME.pub)\n");
        return EXIT_USAGE;
    }
    struct wh_keypair kp;
    char err[512];
    if (wh_keypair_generate(argv[1], &kp, err, sizeof err)) {
        fprintf(stderr, "whistlectl: keygen: %s\n", err);
        return EXIT_REFUSED;
    }
    if (g.json)
        printf("{\"public_key\":\"%s\",\"key\":\"%s.key\",\"pub\":\"%s.pub\"}\n",
               kp.public_key, argv[1], argv[1]);
    else
        printf("%s  (secret: %s.key, public: %s.pub)\n", kp.public_key, argv[1], argv[1]);
    return 0;
}

int main(int argc, char **argv)
{
    g.timeout_ms = 5000;
    for (int i = 0; i < 4; i++) {
        char var[64];
        snprintf(var, sizeof var, "WHISTLE_%s_API", i == 0 ? "INTAKE" : i == 1 ? "ROUTING" : i == 2 ? "TRACKING" : "NOTIFICATION");
        g.api[i] = getenv(var) && getenv(var)[0] ? getenv(var) : wh_default_api(s_services[i]);
        snprintf(var, sizeof var, "WHISTLE_%s_EVENTS", i == 0 ? "INTAKE" : i == 1 ? "ROUTING" : i == 2 ? "TRACKING" : "NOTIFICATION");
        g.events[i] = getenv(var) && getenv(var)[0] ? getenv(var) : wh_default_events(s_services[i]);
    }
    static struct option opts[] = {{"json", 0, 0, 'j'},
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
    /* "+": stop at the command; its own options are parsed by the command */
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': g.json = 1; break;
        case 't': g.timeout_ms = atoi(optarg); break;
        case 'k': g.key_file = optarg; break;
        case 's': g.server_key_file = optarg; break;
        case 'h': s_usage(stdout); return 0;
        default:
            if (c >= 100 && c < 104) { g.api[c - 100] = optarg; break; }
            if (c == 203) { g.events[3] = optarg; break; }
            s_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        s_usage(stderr);
        return EXIT_USAGE;
    }
    if (g.timeout_ms <= 0) {
        fprintf(stderr, "whistlectl: --timeout must be a positive number of milliseconds\n");
        return EXIT_USAGE;
    }
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
    int offline = strcmp(argv[optind], "keygen") == 0 || strcmp(argv[optind], "catalog") == 0;
    if (g.key_file && !offline) {
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
    const char *cmd = cargv[0];
    optind = 0; /* GNU getopt: 0 re-initialises its state for the command's own options */
    if (strcmp(cmd, "ping") == 0) return s_ping(cargc, cargv);
    if (strcmp(cmd, "report") == 0 && s_is_figures(cargc, cargv)) return s_figures(cargc, cargv);
    if (strcmp(cmd, "report") == 0) return s_report(cargc, cargv);
    if (strcmp(cmd, "checkin") == 0) return s_action(WHISTLE__V1__ACTION__CHECKIN, cargc, cargv);
    if (strcmp(cmd, "progress") == 0) return s_action(WHISTLE__V1__ACTION__PROGRESS, cargc, cargv);
    if (strcmp(cmd, "complete") == 0) return s_action(WHISTLE__V1__ACTION__COMPLETE, cargc, cargv);
    if (strcmp(cmd, "resolve") == 0) return s_action(WHISTLE__V1__ACTION__RESOLVE, cargc, cargv);
    if (strcmp(cmd, "verify") == 0) return s_action(WHISTLE__V1__ACTION__VERIFY, cargc, cargv);
    if (strcmp(cmd, "return") == 0) return s_action(WHISTLE__V1__ACTION__RETURN, cargc, cargv);
    if (strcmp(cmd, "assign") == 0) return s_action(WHISTLE__V1__ACTION__ASSIGN, cargc, cargv);
    if (strcmp(cmd, "release") == 0) return s_action(WHISTLE__V1__ACTION__RELEASE, cargc, cargv);
    if (strcmp(cmd, "escalate") == 0) return s_escalate(cargc, cargv);
    if (strcmp(cmd, "catalog") == 0) return s_catalog(cargc, cargv);
    if (strcmp(cmd, "visit") == 0) return s_visit(cargc, cargv);
    if (strcmp(cmd, "visits") == 0) return s_visits(cargc, cargv);
    if (strcmp(cmd, "show") == 0) return s_show(cargc, cargv);
    if (strcmp(cmd, "list") == 0) return s_list(cargc, cargv);
    if (strcmp(cmd, "tail") == 0) {
        const struct ctl_tail_env env = {g.json, g.timeout_ms, g.api[WH_UP_NOTIFICATION],
                                         g.events[WH_UP_NOTIFICATION], s_client};
        return ctl_tail_run(&env, cargc, cargv);
    }
    if (strcmp(cmd, "webhooks") == 0) return s_webhooks(cargc, cargv);
    if (strcmp(cmd, "keygen") == 0) return s_keygen(cargc, cargv);
    fprintf(stderr, "whistlectl: unknown command '%s' (see whistlectl --help)\n", cmd);
    return EXIT_USAGE;
}
