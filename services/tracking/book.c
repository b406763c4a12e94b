/* book.c: a grid's book (一格一账本) for a period, read in one transaction of tracking's own
 * tables: who serves the grid (the catalog's community, township or street, households and
 * 1+3 staff), the visits of the period with what was collected on them (visit_log, visits.c),
 * the cases reported in the grid in the period with the dates their history gives, and every
 * case of the grid still open. Read only; answered by tracking.c (GridLedger). */
#include "tracking.h"
#include "whistle/error.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What each listed row costs against the budget besides its strings. */
#define S_ROW_COST 64

/* A case of the grid that belongs in the book: reported in the period, or open now. */
struct s_pick {
    char *id;
    int64_t reported;
    int in_period;
    int open;
};

struct s_book {
    const struct wh_grid *grid;
    Whistle__V1__LedgerReply *out;
    size_t budget;     /* bytes of text still to list */
    size_t cap_visits; /* out->visits allocated */
    int week;          /* the period is an ISO week: staff under 5 hours are flagged */
};

static int s_open(int state)
{
    return state != WHISTLE__V1__CASE_STATE__CLOSED && state != WHISTLE__V1__CASE_STATE__REFUSED &&
           state != WHISTLE__V1__CASE_STATE__CASE_STATE_UNSPECIFIED;
}

static int64_t s_reported(const Whistle__V1__Case *c)
{
    return c->report && c->report->reported_at_ms ? c->report->reported_at_ms : c->created_at_ms;
}

static void s_date(char *buf, size_t n, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d", &tm);
}

static char *s_dup(const char *s)
{
    return strdup(s ? s : "");
}

static void s_case_free(Whistle__V1__LedgerCase *lc)
{
    if (!lc) return;
    free(lc->case_id);
    free(lc->matter);
    free(lc->matter_name);
    free(lc->description);
    free(lc->location);
    free(lc->refused_reason);
    for (size_t i = 0; i < lc->n_departments; i++)
        free(lc->departments[i]);
    free(lc->departments);
    free(lc);
}

/* The book's row of case `c` with the dates of its history `h`; NULL on out-of-memory. */
static Whistle__V1__LedgerCase *s_case_row(const struct wh_catalog *cat, const Whistle__V1__Case *c,
                                           Whistle__V1__HistoryEntry **h, int n)
{
    Whistle__V1__LedgerCase *lc = calloc(1, sizeof *lc);
    if (!lc) return NULL;
    whistle__v1__ledger_case__init(lc);
    const Whistle__V1__Report *r = c->report;
    const struct wh_matter *m = r ? wh_catalog_matter(cat, r->matter) : NULL;
    lc->state = c->state;
    lc->whistle = c->whistle;
    lc->reported_at_ms = s_reported(c);
    lc->open = s_open(c->state);
    lc->due_ms = lc->open ? tracking_ledger_due(c) : 0;
    lc->reopen_count = c->reopen_count;
    lc->verified_by_default = c->verified_by_default;
    const char *refused = "";
    for (int i = 0; i < n; i++) {
        const Whistle__V1__HistoryEntry *e = h[i];
        if (e->action == WHISTLE__V1__ACTION__DISPATCH && !lc->dispatched_at_ms)
            lc->dispatched_at_ms = e->at_ms;
        if (e->action == WHISTLE__V1__ACTION__RESOLVE) lc->resolved_at_ms = e->at_ms;
        if (e->action == WHISTLE__V1__ACTION__REFUSE) {
            refused = e->note ? e->note : "";
            lc->closed_at_ms = e->at_ms;
        }
        if (c->state == WHISTLE__V1__CASE_STATE__CLOSED &&
            e->to_state == WHISTLE__V1__CASE_STATE__CLOSED)
            lc->closed_at_ms = e->at_ms; /* the last line that closed it */
    }
    lc->case_id = s_dup(c->id);
    lc->matter = s_dup(r ? r->matter : "");
    lc->matter_name = s_dup(m ? m->name : "");
    lc->description = s_dup(r ? r->description : "");
    lc->location = s_dup(r ? r->location : "");
    lc->refused_reason = s_dup(c->state == WHISTLE__V1__CASE_STATE__REFUSED ? refused : "");
    lc->departments = calloc(c->n_assignments ? c->n_assignments : 1, sizeof *lc->departments);
    int ok = lc->case_id && lc->matter && lc->matter_name && lc->description && lc->location &&
             lc->refused_reason && lc->departments;
    for (size_t i = 0; ok && i < c->n_assignments; i++) {
        if (!(lc->departments[i] = s_dup(c->assignments[i]->department)))
            ok = 0;
        else
            lc->n_departments++;
    }
    if (!ok) {
        s_case_free(lc);
        return NULL;
    }
    return lc;
}

static size_t s_case_cost(const Whistle__V1__LedgerCase *lc)
{
    size_t n = S_ROW_COST + strlen(lc->case_id) + strlen(lc->matter) + strlen(lc->matter_name) +
               strlen(lc->description) + strlen(lc->location) + strlen(lc->refused_reason);
    for (size_t i = 0; i < lc->n_departments; i++)
        n += strlen(lc->departments[i]) + 2;
    return n;
}

static int s_cmp_pick(const void *a, const void *b)
{
    const struct s_pick *x = a, *y = b;
    if (x->reported != y->reported) return x->reported < y->reported ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* Pass 1: the grid's cases that belong in the book (idx_grid: grid NUL id), unsorted. */
static int s_pick_cases(wh_store_t *st, MDB_txn *txn, const char *grid, int64_t from, int64_t to,
                        struct s_pick **picks, size_t *n)
{
    size_t glen = strlen(grid), cap = 0;
    uint8_t key[WH_MAX_CODE + 2];
    if (glen > WH_MAX_CODE) return 0;
    memcpy(key, grid, glen);
    key[glen] = 0;
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, wh_store_dbi(st, "idx_grid"), &cur)) return WH_ESTORE;
    MDB_val k = {glen + 1, key}, v;
    int rc, out = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && out == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= glen + 1 || memcmp(k.mv_data, key, glen + 1) != 0) break;
        char id[80];
        size_t idlen = k.mv_size - glen - 1;
        if (idlen >= sizeof id) continue;
        memcpy(id, (const char *)k.mv_data + glen + 1, idlen);
        id[idlen] = 0;
        Whistle__V1__Case *c = NULL;
        out = tracking_ledger_get(st, txn, id, &c);
        if (out == WH_ENOTFOUND) {
            out = 0;
            continue;
        }
        if (out) break;
        int64_t reported = s_reported(c);
        int in_period = reported >= from && reported < to, open = s_open(c->state);
        whistle__v1__case__free_unpacked(c, NULL);
        if (!in_period && !open) continue;
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct s_pick *p = realloc(*picks, ncap * sizeof *p);
            if (!p) {
                out = WH_ENOMEM;
                break;
            }
            *picks = p;
            cap = ncap;
        }
        struct s_pick *p = &(*picks)[*n];
        if (!(p->id = strdup(id))) {
            out = WH_ENOMEM;
            break;
        }
        p->reported = reported;
        p->in_period = in_period;
        p->open = open;
        (*n)++;
    }
    mdb_cursor_close(cur);
    if (out) return out;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : WH_ESTORE;
}

/* Pass 2: the rows, oldest reported first, as long as the budget lasts. */
static int s_list_cases(struct s_book *b, wh_store_t *st, MDB_txn *txn,
                        const struct wh_catalog *cat, struct s_pick *picks, size_t n)
{
    Whistle__V1__LedgerReply *out = b->out;
    size_t in_period = 0, open = 0;
    for (size_t i = 0; i < n; i++) {
        in_period += picks[i].in_period;
        open += picks[i].open;
    }
    out->cases = calloc(in_period ? in_period : 1, sizeof *out->cases);
    out->open = calloc(open ? open : 1, sizeof *out->open);
    if (!out->cases || !out->open) return WH_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        Whistle__V1__Case *c = NULL;
        int rc = tracking_ledger_get(st, txn, picks[i].id, &c);
        if (rc) return rc;
        Whistle__V1__HistoryEntry **h = NULL;
        int nh = tracking_ledger_history(st, txn, c->id, &h);
        rc = nh < 0 ? nh : 0;
        for (int pass = 0; rc == 0 && pass < 2; pass++) {
            if (!(pass == 0 ? picks[i].in_period : picks[i].open)) continue;
            Whistle__V1__LedgerCase *lc = s_case_row(cat, c, h, nh);
            if (!lc) {
                rc = WH_ENOMEM;
                break;
            }
            size_t cost = s_case_cost(lc);
            if (cost > b->budget) {
                s_case_free(lc);
                if (pass == 0)
                    out->cases_not_listed++;
                else
                    out->open_not_listed++;
                continue;
            }
            b->budget -= cost;
            if (pass == 0)
                out->cases[out->n_cases++] = lc;
            else
                out->open[out->n_open++] = lc;
        }
        for (int k = 0; k < nh; k++)
            whistle__v1__history_entry__free_unpacked(h[k], NULL);
        free(h);
        whistle__v1__case__free_unpacked(c, NULL);
        if (rc) return rc;
    }
    return 0;
}

static const char *s_role(const struct wh_grid *g, const char *staff)
{
    if (g->leader && strcmp(g->leader, staff) == 0) return "leader";
    for (int i = 0; i < 3; i++)
        if (g->workers[i] && strcmp(g->workers[i], staff) == 0) return "worker";
    return "";
}

static void s_visit_free(Whistle__V1__VisitRow *r)
{
    if (!r) return;
    free(r->staff);
    free(r->date);
    free(r->note);
    free(r);
}

/* One visit of the period: counted for its staff member, listed while the budget lasts. */
static int s_on_visit(void *arg, const Whistle__V1__VisitLogged *v)
{
    struct s_book *b = arg;
    Whistle__V1__LedgerReply *out = b->out;
    for (size_t i = 0; i < out->n_staff; i++) {
        if (strcmp(out->staff[i]->staff, v->staff) != 0) continue;
        out->staff[i]->minutes += v->minutes;
        out->staff[i]->visits++;
    }
    size_t cost = S_ROW_COST + strlen(v->staff) + strlen(v->note) + strlen(v->date);
    if (cost > b->budget) {
        out->visits_not_listed++;
        return 0;
    }
    if (out->n_visits == b->cap_visits) {
        size_t ncap = b->cap_visits ? b->cap_visits * 2 : 64;
        Whistle__V1__VisitRow **p = realloc(out->visits, ncap * sizeof *p);
        if (!p) return WH_ENOMEM;
        out->visits = p;
        b->cap_visits = ncap;
    }
    Whistle__V1__VisitRow *r = calloc(1, sizeof *r);
    if (!r) return WH_ENOMEM;
    whistle__v1__visit_row__init(r);
    r->grid = (char *)b->grid->code;
    r->role = (char *)s_role(b->grid, v->staff);
    r->minutes = v->minutes;
    r->visits = 1;
    r->staff = s_dup(v->staff);
    r->date = s_dup(v->date);
    r->note = s_dup(v->note);
    if (!r->staff || !r->date || !r->note) {
        s_visit_free(r);
        return WH_ENOMEM;
    }
    b->budget -= cost;
    out->visits[out->n_visits++] = r;
    return 0;
}

/* The 1+3, leader first, each with no visit yet. */
static int s_staff(struct s_book *b)
{
    const struct wh_grid *g = b->grid;
    const char *staff[4] = {g->leader, g->workers[0], g->workers[1], g->workers[2]};
    Whistle__V1__LedgerReply *out = b->out;
    out->staff = calloc(4, sizeof *out->staff);
    if (!out->staff) return WH_ENOMEM;
    for (int i = 0; i < 4; i++) {
        if (!staff[i]) continue;
        Whistle__V1__VisitRow *r = calloc(1, sizeof *r);
        if (!r) return WH_ENOMEM;
        whistle__v1__visit_row__init(r);
        r->grid = (char *)g->code;
        r->staff = (char *)staff[i];
        r->role = i == 0 ? "leader" : "worker";
        out->staff[out->n_staff++] = r;
    }
    return 0;
}

int tracking_book_compute(wh_store_t *st, MDB_txn *txn, const struct wh_catalog *cat,
                          const Whistle__V1__GridLedger *q, int64_t now_ms,
                          Whistle__V1__LedgerReply *out, struct wh_field_error *err)
{
    whistle__v1__ledger_reply__init(out);
    out->period = NULL; /* ours once set: tracking_book_free frees it */
    struct s_pick *picks = NULL;
    size_t n_picks = 0;
    int rc = 0;
    char period[16];
    int64_t from = 0, to = 0;
    if (wh_check_string(err, "grid_ledger.grid", q->grid, WH_MAX_CODE, 1) ||
        wh_check_string(err, "grid_ledger.period", q->period, 15, 0))
        return err->code;
    const struct wh_grid *g = wh_catalog_grid(cat, q->grid);
    if (!g)
        return wh_field_error_set(err, WH_EFIELD, "grid_ledger.grid", "unknown grid '%s'", q->grid);
    if (q->period && q->period[0]) {
        snprintf(period, sizeof period, "%s", q->period);
    } else {
        time_t t = (time_t)(now_ms / 1000);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(period, sizeof period, "%Y-%m", &tm);
    }
    if (tracking_period_parse(period, &from, &to))
        return wh_field_error_set(err, WH_EFIELD, "grid_ledger.period",
                                  "grid_ledger.period must be an ISO week 2026-W48, a month "
                                  "2026-11, a quarter 2026-Q4 or a year 2026, got '%s'",
                                  period);
    struct s_book b = {g, out, TRACKING_BOOK_BUDGET, 0, strstr(period, "-W") != NULL};
    if (!(out->period = strdup(period))) goto oom;
    out->grid = (char *)g->code;
    out->from_ms = from;
    out->to_ms = to;
    out->community = (char *)g->community->code;
    out->community_name = (char *)g->community->name;
    out->unit = (char *)g->community->unit->code;
    out->unit_name = (char *)g->community->unit->name;
    out->street = g->community->unit->street;
    out->households = g->households >= 0 ? (int32_t)g->households : -1;
    if ((rc = s_staff(&b))) goto out;
    if ((rc = s_pick_cases(st, txn, g->code, from, to, &picks, &n_picks))) goto out;
    if (n_picks) qsort(picks, n_picks, sizeof *picks, s_cmp_pick);
    if ((rc = s_list_cases(&b, st, txn, cat, picks, n_picks))) goto out;
    char from_date[16], to_date[16];
    s_date(from_date, sizeof from_date, from);
    s_date(to_date, sizeof to_date, to);
    if ((rc = tracking_visits_each(st, txn, g->code, from_date, to_date, s_on_visit, &b))) goto out;
    for (size_t i = 0; b.week && i < out->n_staff; i++)
        out->staff[i]->under_minimum = out->staff[i]->minutes < TRACKING_VISIT_MIN_MINUTES;
    goto out;
oom:
    rc = WH_ENOMEM;
out:
    for (size_t i = 0; i < n_picks; i++)
        free(picks[i].id);
    free(picks);
    if (rc) wh_field_error_set(err, rc, "grid_ledger", "%s", wh_strerror(rc));
    return rc;
}

void tracking_book_free(Whistle__V1__LedgerReply *out)
{
    free(out->period);
    for (size_t i = 0; i < out->n_staff; i++)
        free(out->staff[i]);
    free(out->staff);
    for (size_t i = 0; i < out->n_visits; i++)
        s_visit_free(out->visits[i]);
    free(out->visits);
    for (size_t i = 0; i < out->n_cases; i++)
        s_case_free(out->cases[i]);
    free(out->cases);
    for (size_t i = 0; i < out->n_open; i++)
        s_case_free(out->open[i]);
    free(out->open);
    whistle__v1__ledger_reply__init(out);
}
