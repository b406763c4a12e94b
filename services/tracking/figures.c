/* figures.c: assessment figures (周调度/月通报/季点评/年考核) from tracking's own ledger.
 *
 * The cases dispatched in a period form a cohort: a case belongs to the period when its
 * DISPATCH history line is in [from, to), and everything that happened to it since, even after
 * the period ended, counts for it. Each case is reduced once to its facts (dispatch time, the
 * check-in deadline in force at dispatch, first check-in of each department, first resolution,
 * verification, reopening, escalations) and those are added to the row of each department on
 * it, of its lead township or street, or of its grid. Rows are then turned into rates,
 * nearest-rank percentiles and a ranking. The definitions are in tracking.h and
 * docs/figures.md; the scan reads every case and the history of every dispatched one. */
#include "tracking.h"
#include "whistle/error.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum s_by { S_BY_DEPARTMENT, S_BY_TOWNSHIP, S_BY_GRID };

/* durations in ms, appended unsorted; sorted once for the percentiles */
struct s_durations {
    int64_t *v;
    size_t n, cap;
};

struct s_row {
    char *key;
    uint32_t dispatched, checked_in, on_time, resolved, verified, satisfied, by_default, reopened,
        escalations;
    struct s_durations checkin, resolve;
    double response, resolution, satisfaction, score;
};

/* rows kept sorted by key (a few hundred at most: departments, units or grids) */
struct s_table {
    struct s_row *rows;
    size_t n, cap;
};

/* What one case contributes, read from its snapshot and its history lines. */
struct s_facts {
    int64_t dispatch_at;
    int64_t deadline; /* check-in deadline in force at dispatch */
    int has_checkin;  /* any department checked in */
    int64_t first_checkin;
    int has_resolve;
    int64_t first_resolve;
    int verified, satisfied, by_default, reopened;
    uint32_t escalations;
};

static int s_push(struct s_durations *d, int64_t v)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        int64_t *p = realloc(d->v, cap * sizeof *p);
        if (!p) return WH_ENOMEM;
        d->v = p;
        d->cap = cap;
    }
    d->v[d->n++] = v < 0 ? 0 : v; /* before dispatch can only be clock skew between hosts */
    return 0;
}

static int s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest rank: the ceil(pct/100 * n)-th smallest, 0 when there is none. */
static int64_t s_percentile(const struct s_durations *d, unsigned pct)
{
    if (d->n == 0) return 0;
    size_t rank = (d->n * pct + 99) / 100; /* >= 1 for n >= 1 */
    return d->v[rank - 1];
}

/* The row for `key`, inserted in key order when new; NULL on out of memory. */
static struct s_row *s_row(struct s_table *t, const char *key)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(t->rows[mid].key, key);
        if (c == 0) return &t->rows[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 32;
        struct s_row *p = realloc(t->rows, cap * sizeof *p);
        if (!p) return NULL;
        t->rows = p;
        t->cap = cap;
    }
    char *k = strdup(key);
    if (!k) return NULL;
    memmove(&t->rows[lo + 1], &t->rows[lo], (t->n - lo) * sizeof *t->rows);
    memset(&t->rows[lo], 0, sizeof *t->rows);
    t->rows[lo].key = k;
    t->n++;
    return &t->rows[lo];
}

static void s_table_free(struct s_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->rows[i].key);
        free(t->rows[i].checkin.v);
        free(t->rows[i].resolve.v);
    }
    free(t->rows);
    memset(t, 0, sizeof *t);
}

/* The whistle named at the start of the DISPATCH line's note ("QUICK, lead north, ..."), as
 * tracking writes it from CaseDispatched.whistle; 0 when the note names none. */
static int s_note_whistle(const char *note)
{
    char name[16];
    size_t n = note ? strcspn(note, ",") : 0;
    if (n == 0 || n >= sizeof name) return 0;
    memcpy(name, note, n);
    name[n] = 0;
    return wh_whistle_parse(name);
}

/* The check-in deadline in force at dispatch. Only an escalation moves a case's deadlines, so
 * a case never escalated still carries routing's own; otherwise it is the dispatch time plus
 * the check-in period of the whistle blown at dispatch, from the catalog. */
static int64_t s_dispatch_deadline(const struct wh_catalog *cat, const Whistle__V1__Case *c,
                                   const Whistle__V1__HistoryEntry *dispatch, uint32_t escalations)
{
    if (escalations == 0 && c->checkin_deadline_ms) return c->checkin_deadline_ms;
    int w = s_note_whistle(dispatch->note);
    if (!w) w = c->whistle;
    if (w < WHISTLE__V1__WHISTLE__QUICK || w > WHISTLE__V1__WHISTLE__TOUGH)
        w = WHISTLE__V1__WHISTLE__QUICK;
    return dispatch->at_ms + cat->whistles[w].checkin_ms;
}

/* Reduces case `c` and its history to its facts; 1 if it belongs to [from, to), else 0. */
static int s_facts(const struct wh_catalog *cat, const Whistle__V1__Case *c,
                   Whistle__V1__HistoryEntry **h, size_t n, int64_t from, int64_t to,
                   struct s_facts *f)
{
    const Whistle__V1__HistoryEntry *dispatch = NULL;
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i < n; i++) {
        const Whistle__V1__HistoryEntry *e = h[i];
        switch (e->action) {
        case WHISTLE__V1__ACTION__DISPATCH:
            if (!dispatch) dispatch = e;
            break;
        case WHISTLE__V1__ACTION__CHECKIN:
            if (!f->has_checkin) f->first_checkin = e->at_ms;
            f->has_checkin = 1;
            break;
        case WHISTLE__V1__ACTION__RESOLVE:
            if (!f->has_resolve) f->first_resolve = e->at_ms;
            f->has_resolve = 1;
            break;
        case WHISTLE__V1__ACTION__VERIFY:
            f->verified = 1;
            if (e->by_default)
                f->by_default = 1;
            else if (e->satisfied)
                f->satisfied = 1;
            break;
        case WHISTLE__V1__ACTION__ESCALATE: f->escalations++; break;
        default: break;
        }
    }
    if (!dispatch || dispatch->at_ms < from || dispatch->at_ms >= to) return 0;
    f->dispatch_at = dispatch->at_ms;
    f->deadline = s_dispatch_deadline(cat, c, dispatch, f->escalations);
    if (c->state == WHISTLE__V1__CASE_STATE__CLOSED) f->verified = 1;
    f->reopened = c->reopen_count > 0;
    return 1;
}

/* Adds one case (one assignment when by department) to `r`. has_checkin/checkin_at: the first
 * check-in that counts for this row. */
static int s_add(struct s_row *r, const struct s_facts *f, int has_checkin, int64_t checkin_at)
{
    int rc = 0;
    r->dispatched++;
    if (has_checkin) {
        r->checked_in++;
        if (checkin_at <= f->deadline) r->on_time++;
        rc = s_push(&r->checkin, checkin_at - f->dispatch_at);
    }
    if (f->has_resolve) {
        r->resolved++;
        if (rc == 0) rc = s_push(&r->resolve, f->first_resolve - f->dispatch_at);
    }
    r->verified += (uint32_t)f->verified;
    r->satisfied += (uint32_t)f->satisfied;
    r->by_default += (uint32_t)f->by_default;
    r->reopened += (uint32_t)f->reopened;
    r->escalations += f->escalations;
    return rc;
}

/* The key of case `c` for a township or grid row. A community leading a case (a matter with
 * "lead": "community") counts for its township or street. */
static const char *s_case_key(const struct wh_catalog *cat, const Whistle__V1__Case *c,
                              enum s_by by)
{
    if (by == S_BY_GRID) return c->report && c->report->grid ? c->report->grid : "";
    const char *lead = c->lead_unit ? c->lead_unit : "";
    if (wh_catalog_unit(cat, lead)) return lead;
    const struct wh_community *cm = wh_catalog_community(cat, lead);
    return cm ? cm->unit->code : lead; /* gone from the catalog: keep the code as it was */
}

static int s_count_case(struct s_table *t, const struct wh_catalog *cat, const Whistle__V1__Case *c,
                        Whistle__V1__HistoryEntry **h, size_t n, const struct s_facts *f,
                        enum s_by by)
{
    if (by != S_BY_DEPARTMENT) {
        struct s_row *r = s_row(t, s_case_key(cat, c, by));
        return r ? s_add(r, f, f->has_checkin, f->first_checkin) : WH_ENOMEM;
    }
    /* machine.c keeps one assignment per department, RELEASED ones included */
    for (size_t i = 0; i < c->n_assignments; i++) {
        const char *dept = c->assignments[i]->department;
        int has = 0;
        int64_t at = 0;
        for (size_t k = 0; k < n && !has; k++) {
            if (h[k]->action == WHISTLE__V1__ACTION__CHECKIN && h[k]->department &&
                strcmp(h[k]->department, dept) == 0) {
                has = 1;
                at = h[k]->at_ms;
            }
        }
        struct s_row *r = s_row(t, dept);
        if (!r) return WH_ENOMEM;
        int rc = s_add(r, f, has, at);
        if (rc) return rc;
    }
    return 0;
}

/* Reads every case and the history of every one not refused into `t`. */
static int s_scan(wh_store_t *st, MDB_txn *txn, const struct wh_catalog *cat, int64_t from,
                  int64_t to, enum s_by by, struct s_table *t)
{
    MDB_cursor *cur;
    MDB_val k, v;
    if (mdb_cursor_open(txn, wh_store_dbi(st, "cases"), &cur)) return WH_ESTORE;
    int rc = 0, mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; rc == 0 && mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Whistle__V1__Case *c = whistle__v1__case__unpack(NULL, v.mv_size, v.mv_data);
        if (!c) {
            rc = WH_ESTORE;
            break;
        }
        if (c->state != WHISTLE__V1__CASE_STATE__REFUSED) {
            Whistle__V1__HistoryEntry **h = NULL;
            int n = tracking_ledger_history(st, txn, c->id, &h);
            struct s_facts f;
            if (n < 0)
                rc = n;
            else if (s_facts(cat, c, h, (size_t)n, from, to, &f))
                rc = s_count_case(t, cat, c, h, (size_t)n, &f, by);
            for (int i = 0; i < n; i++)
                whistle__v1__history_entry__free_unpacked(h[i], NULL);
            free(h);
        }
        whistle__v1__case__free_unpacked(c, NULL);
    }
    mdb_cursor_close(cur);
    if (rc == 0 && mrc != MDB_NOTFOUND) rc = WH_ESTORE;
    return rc;
}

static double s_rate(uint32_t num, uint32_t den)
{
    return den ? (double)num / den : 0.0;
}

/* score desc, then key asc */
static int s_cmp_rank(const void *a, const void *b)
{
    const struct s_row *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* The row's name from the catalog: the department's or unit's name; a grid has none of its
 * own, so its community's name and its leader ("北一社区 王一"). "" when not in the catalog. */
static char *s_name(const struct wh_catalog *cat, const char *key, enum s_by by)
{
    const char *name = "";
    char buf[256];
    if (by == S_BY_DEPARTMENT) {
        const struct wh_department *d = wh_catalog_department(cat, key);
        if (d) name = d->name;
    } else if (by == S_BY_TOWNSHIP) {
        const struct wh_unit *u = wh_catalog_unit(cat, key);
        if (u) name = u->name;
    } else {
        const struct wh_grid *g = wh_catalog_grid(cat, key);
        if (g) {
            snprintf(buf, sizeof buf, "%s %s", g->community->name, g->leader ? g->leader : "");
            name = buf;
        }
    }
    return strdup(name);
}

static int s_fill(const struct wh_catalog *cat, struct s_table *t, enum s_by by,
                  Whistle__V1__FiguresReply *out)
{
    for (size_t i = 0; i < t->n; i++) {
        struct s_row *r = &t->rows[i];
        r->response = s_rate(r->on_time, r->dispatched);
        r->resolution = s_rate(r->resolved, r->dispatched);
        r->satisfaction = s_rate(r->satisfied, r->verified - r->by_default);
        r->score = (r->response + r->resolution + r->satisfaction) / 3.0;
        if (r->checkin.n) qsort(r->checkin.v, r->checkin.n, sizeof *r->checkin.v, s_cmp_i64);
        if (r->resolve.n) qsort(r->resolve.v, r->resolve.n, sizeof *r->resolve.v, s_cmp_i64);
    }
    if (t->n) qsort(t->rows, t->n, sizeof *t->rows, s_cmp_rank);
    if (t->n && !(out->rows = calloc(t->n, sizeof *out->rows))) return WH_ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        const struct s_row *r = &t->rows[i];
        Whistle__V1__FigureRow *fr = malloc(sizeof *fr);
        if (!fr) return WH_ENOMEM;
        whistle__v1__figure_row__init(fr);
        out->rows[out->n_rows++] = fr;
        fr->key = strdup(r->key);
        fr->name = s_name(cat, r->key, by);
        if (!fr->key || !fr->name) return WH_ENOMEM;
        fr->dispatched = r->dispatched;
        fr->checked_in = r->checked_in;
        fr->checked_in_on_time = r->on_time;
        fr->response_rate = r->response;
        fr->resolved = r->resolved;
        fr->resolution_rate = r->resolution;
        fr->verified = r->verified;
        fr->satisfied = r->satisfied;
        fr->verified_by_default = r->by_default;
        fr->satisfaction_rate = r->satisfaction;
        fr->reopened = r->reopened;
        fr->escalations = r->escalations;
        fr->checkin_p50_ms = s_percentile(&r->checkin, 50);
        fr->checkin_p90_ms = s_percentile(&r->checkin, 90);
        fr->resolve_p50_ms = s_percentile(&r->resolve, 50);
        fr->resolve_p90_ms = s_percentile(&r->resolve, 90);
        fr->rank = (uint32_t)(i + 1);
        fr->score = r->score;
    }
    return 0;
}

int tracking_figures_compute(wh_store_t *st, MDB_txn *txn, const struct wh_catalog *cat,
                             const Whistle__V1__Figures *q, Whistle__V1__FiguresReply *out,
                             struct wh_field_error *err)
{
    whistle__v1__figures_reply__init(out);
    if (wh_check_string(err, "figures.period", q->period, 16, 1) ||
        wh_check_string(err, "figures.by", q->by, 16, 0))
        return err->code;
    enum s_by by;
    const char *by_name = q->by && q->by[0] ? q->by : "department";
    if (strcmp(by_name, "department") == 0)
        by = S_BY_DEPARTMENT;
    else if (strcmp(by_name, "township") == 0)
        by = S_BY_TOWNSHIP;
    else if (strcmp(by_name, "grid") == 0)
        by = S_BY_GRID;
    else
        return wh_field_error_set(err, WH_EFIELD, "figures.by",
                                  "figures.by must be department, township or grid, not '%s'",
                                  q->by);
    int64_t from, to;
    if (tracking_period_parse(q->period, &from, &to))
        return wh_field_error_set(err, WH_EFIELD, "figures.period",
                                  "figures.period must be an ISO week (2026-W48), a month "
                                  "(2026-11), a quarter (2026-Q4) or a year (2026), not '%s'",
                                  q->period);
    struct s_table t = {0};
    int rc = s_scan(st, txn, cat, from, to, by, &t);
    if (rc == 0) {
        out->period = strdup(q->period);
        out->by = strdup(by_name);
        out->from_ms = from;
        out->to_ms = to;
        rc = !out->period || !out->by ? WH_ENOMEM : s_fill(cat, &t, by, out);
    }
    s_table_free(&t);
    if (rc) {
        tracking_figures_free(out);
        wh_field_error_set(err, rc, "", "figures could not be computed: %s", wh_strerror(rc));
    }
    return rc;
}

void tracking_figures_keep(Whistle__V1__FiguresReply *out, const struct wh_identity *who,
                           const struct wh_catalog *cat)
{
    size_t kept = 0;
    for (size_t i = 0; i < out->n_rows; i++) {
        Whistle__V1__FigureRow *fr = out->rows[i];
        if (tracking_may_read_figure_row(who, cat, out->by, fr->key)) {
            out->rows[kept++] = fr;
            continue;
        }
        if (fr->key != protobuf_c_empty_string) free(fr->key);
        if (fr->name != protobuf_c_empty_string) free(fr->name);
        free(fr);
    }
    out->n_rows = kept;
}

void tracking_figures_free(Whistle__V1__FiguresReply *out)
{
    if (!out) return;
    for (size_t i = 0; i < out->n_rows; i++) {
        Whistle__V1__FigureRow *fr = out->rows[i];
        if (fr->key != protobuf_c_empty_string) free(fr->key);
        if (fr->name != protobuf_c_empty_string) free(fr->name);
        free(fr);
    }
    free(out->rows);
    if (out->period != protobuf_c_empty_string) free(out->period);
    if (out->by != protobuf_c_empty_string) free(out->by);
    whistle__v1__figures_reply__init(out);
}
