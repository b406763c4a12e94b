/* figures.c: assessment figures (周调度/月通报/季点评/年考核) from tracking's own ledger.
 *
 * The cases dispatched in a period form a cohort: a case belongs to the period when its
 * DISPATCH history line is in [from, to), and everything that happened to it since, even after
 * the period ended, counts for it. Each case is reduced once to its facts (dispatch time, the
 * check-in deadline in force at dispatch, first check-in of each department, whether it is
 * closed and by which resolution, verification, reopening, escalations) and those are added to
 * the row of each department on it, of its lead township or street, or of its grid. Rows are
 * then turned into rates (a rate with no denominator has no value and stays out of the score),
 * nearest-rank percentiles and a ranking. The definitions are in tracking.h and
 * docs/figures.md; the scan reads every case and the history of every dispatched one. */
#include "tracking.h"
#include "whistle/error.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum s_by { S_BY_DEPARTMENT, S_BY_TOWNSHIP, S_BY_GRID, S_BY_ASSIGNEE, S_BY_ISSUER };

/* durations in ms, appended unsorted; sorted once for the percentiles */
struct s_durations {
    int64_t *v;
    size_t n, cap;
};

struct s_row {
    char *key;
    uint32_t dispatched, checked_in, on_time, resolved, verified, satisfied, by_default, reopened,
        escalations, released, missed, supervised;
    uint32_t declined, completed; /* by assignee */
    uint32_t tasks, tasks_admitted, tasks_refused, tasks_unlisted, tasks_completed,
        tasks_closed; /* by issuer */
    char *kind;       /* by assignee: its kind as on the case */
    struct s_durations checkin, resolve;
    double response, resolution, satisfaction, score;
    int has_response, has_resolution, has_satisfaction, has_score;
};

/* rows kept sorted by key (a few hundred at most: departments, units or grids) */
struct s_table {
    struct s_row *rows;
    size_t n, cap;
};

/* What one case contributes, read from its snapshot and its history lines. */
struct s_facts {
    int64_t dispatch_at; /* its DISPATCH line, or BLOW / HAND_OVER after a review */
    int64_t deadline;    /* check-in deadline in force at dispatch */
    int has_checkin;     /* any department checked in */
    int64_t first_checkin;
    int closed;           /* 办结: the case is CLOSED */
    int64_t last_resolve; /* the RESOLVE that closed it */
    int verified, satisfied, by_default, reopened;
    uint32_t escalations, supervised;
    int64_t now; /* when the figures are computed: a deadline passed by then */
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
        free(t->rows[i].kind);
        free(t->rows[i].checkin.v);
        free(t->rows[i].resolve.v);
    }
    free(t->rows);
    memset(t, 0, sizeof *t);
}

int tracking_figures_supervised(const struct wh_catalog *cat, const char *note, char *step,
                                size_t len)
{
    char name[32];
    size_t n = note ? strcspn(note, ":") : 0;
    if (n >= sizeof name) n = sizeof name - 1;
    memcpy(name, note ? note : "", n);
    name[n] = 0;
    if (step && len) snprintf(step, len, "%s", name);
    size_t from = 0, at = cat->n_escalation;
    for (size_t i = 0; i < cat->n_escalation; i++) {
        if (strcmp(cat->escalation[i], "supervise") == 0) from = i;
        if (strcmp(cat->escalation[i], name) == 0) at = i;
    }
    /* a step off the ladder (manual: a whistle raised by hand) is above 督办 */
    return at == cat->n_escalation || at >= from;
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

/* The check-in deadline in force at dispatch: the one the dispatching line says it set (a
 * ledger written since lines carry it). Before that, only an escalation moved a case's
 * deadlines, so a case never escalated still carries routing's own; otherwise it is the
 * dispatch time plus the check-in period of the whistle blown at dispatch, from the catalog. */
static int64_t s_dispatch_deadline(const struct wh_catalog *cat, const Whistle__V1__Case *c,
                                   const Whistle__V1__HistoryEntry *dispatch, uint32_t escalations)
{
    if (dispatch->checkin_deadline_ms) return dispatch->checkin_deadline_ms;
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
            /* a review opening is not the dispatch: the lead's BLOW or HAND_OVER is */
            if (!dispatch && e->to_state != WHISTLE__V1__CASE_STATE__REVIEW) dispatch = e;
            break;
        case WHISTLE__V1__ACTION__BLOW:
        case WHISTLE__V1__ACTION__HAND_OVER:
            if (!dispatch) dispatch = e;
            break;
        case WHISTLE__V1__ACTION__CHECKIN:
        case WHISTLE__V1__ACTION__ACCEPT: /* a stationed unit or volunteer took the order */
            if (!f->has_checkin) f->first_checkin = e->at_ms;
            f->has_checkin = 1;
            break;
        case WHISTLE__V1__ACTION__RESOLVE: f->last_resolve = e->at_ms; break;
        case WHISTLE__V1__ACTION__VERIFY:
            f->verified = 1;
            if (e->by_default)
                f->by_default = 1;
            else if (e->satisfied)
                f->satisfied = 1;
            break;
        case WHISTLE__V1__ACTION__ESCALATE:
            f->escalations++;
            f->supervised += (uint32_t)tracking_figures_supervised(cat, e->note, NULL, 0);
            break;
        default: break;
        }
    }
    if (!dispatch || dispatch->at_ms < from || dispatch->at_ms >= to) return 0;
    f->dispatch_at = dispatch->at_ms;
    f->deadline = s_dispatch_deadline(cat, c, dispatch, f->escalations);
    f->closed = c->state == WHISTLE__V1__CASE_STATE__CLOSED;
    if (f->closed) f->verified = 1;
    f->reopened = c->reopen_count > 0;
    return 1;
}

/* One unit of `dispatched`: a case, or one assignment by department or assignee. */
struct s_unit {
    int64_t assigned_at; /* check-in times count from here */
    int64_t deadline;    /* on time: checked in by this */
    int has_checkin;     /* the first check-in that counts for this row */
    int64_t checkin_at;
    int released; /* an order returned with a reason and moved to another department */
    int declined; /* an order a stationed unit or volunteer declined with a reason */
    int done;     /* the assignment is DONE */
};

/* Adds one case (one assignment by department or assignee) to `r`. A released order is not
 * charged for its check-in either way; a declined one counts as declined only. */
static int s_add(struct s_row *r, const struct s_facts *f, const struct s_unit *u)
{
    int rc = 0;
    r->dispatched++;
    if (u->declined) {
        r->declined++;
        return 0;
    }
    r->completed += (uint32_t)u->done;
    if (u->has_checkin) {
        r->checked_in++;
        rc = s_push(&r->checkin, u->checkin_at - u->assigned_at);
    }
    if (u->released) {
        r->released++;
    } else if (u->has_checkin && u->checkin_at <= u->deadline) {
        r->on_time++;
    } else if (u->has_checkin || f->now > u->deadline) {
        r->missed++; /* late, or the deadline passed with nobody there */
    }
    if (f->closed) {
        r->resolved++;
        if (rc == 0) rc = s_push(&r->resolve, f->last_resolve - f->dispatch_at);
    }
    r->verified += (uint32_t)f->verified;
    r->satisfied += (uint32_t)f->satisfied;
    r->by_default += (uint32_t)f->by_default;
    r->reopened += (uint32_t)f->reopened;
    r->escalations += f->escalations;
    r->supervised += f->supervised;
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

const char *tracking_figures_case_unit(const struct wh_catalog *cat, const Whistle__V1__Case *c)
{
    return s_case_key(cat, c, S_BY_TOWNSHIP);
}

/* 1 when `as` counts by `by`: by department the departments' (kind ""), by assignee the
 * others' (a stationed unit, a volunteer, a community on its task). */
static int s_counts_as(const Whistle__V1__Assignment *as, enum s_by by)
{
    int dept = !as->kind || !as->kind[0];
    return by == S_BY_DEPARTMENT ? dept : !dept;
}

/* The check-in deadline of assignment `as`, (re)assigned at `at`: the one the line that
 * (re)assigned it says it set (ASSIGN of that department; DISPATCH, BLOW, HAND_OVER, or the
 * VERIFY that reopened the case: every department's); else the assignment's own, unless a
 * raise moved it since; else the dispatch's for one assigned at dispatch, or `at` plus the
 * check-in period of the case's whistle for one added later. */
static int64_t s_assignment_deadline(const struct wh_catalog *cat, const Whistle__V1__Case *c,
                                     const Whistle__V1__Assignment *as,
                                     Whistle__V1__HistoryEntry **h, size_t n,
                                     const struct s_facts *f, int64_t at)
{
    int raised = 0;
    for (size_t k = 0; k < n; k++) {
        const Whistle__V1__HistoryEntry *e = h[k];
        if (e->action == WHISTLE__V1__ACTION__ESCALATE && e->at_ms > at) raised = 1;
        if (e->at_ms != at || !e->checkin_deadline_ms) continue;
        int mine = e->department && strcmp(e->department, as->department) == 0;
        switch (e->action) {
        case WHISTLE__V1__ACTION__ASSIGN:
            if (mine) return e->checkin_deadline_ms;
            break;
        case WHISTLE__V1__ACTION__DISPATCH:
        case WHISTLE__V1__ACTION__BLOW:
        case WHISTLE__V1__ACTION__HAND_OVER:
        case WHISTLE__V1__ACTION__VERIFY: return e->checkin_deadline_ms;
        default: break;
        }
    }
    /* one set before this (re)assignment (an order dispatched again) is not its own */
    if (as->checkin_deadline_ms >= at && !raised) return as->checkin_deadline_ms;
    if (at == f->dispatch_at) return f->deadline;
    int w = c->whistle;
    if (w < WHISTLE__V1__WHISTLE__QUICK || w > WHISTLE__V1__WHISTLE__TOUGH)
        w = WHISTLE__V1__WHISTLE__QUICK;
    return at + cat->whistles[w].checkin_ms;
}

static int s_count_case(struct s_table *t, const struct wh_catalog *cat, const Whistle__V1__Case *c,
                        Whistle__V1__HistoryEntry **h, size_t n, const struct s_facts *f,
                        enum s_by by)
{
    if (by == S_BY_TOWNSHIP || by == S_BY_GRID) {
        struct s_row *r = s_row(t, s_case_key(cat, c, by));
        struct s_unit u = {.assigned_at = f->dispatch_at,
                           .deadline = f->deadline,
                           .has_checkin = f->has_checkin,
                           .checkin_at = f->first_checkin};
        return r ? s_add(r, f, &u) : WH_ENOMEM;
    }
    /* machine.c keeps one assignment per department, RELEASED ones included; each is timed
     * from its latest (re)assignment (dispatch, blow, ASSIGN, ORDER, a reopen) */
    for (size_t i = 0; i < c->n_assignments; i++) {
        const Whistle__V1__Assignment *as = c->assignments[i];
        if (!s_counts_as(as, by)) continue;
        const char *dept = as->department;
        struct s_unit u = {0};
        int returned = 0;
        u.assigned_at = as->assigned_at_ms ? as->assigned_at_ms : f->dispatch_at;
        for (size_t k = 0; k < n; k++) {
            if (!h[k]->department || strcmp(h[k]->department, dept) != 0) continue;
            int act = h[k]->action;
            if ((act == WHISTLE__V1__ACTION__CHECKIN || act == WHISTLE__V1__ACTION__ACCEPT) &&
                !u.has_checkin && h[k]->at_ms >= u.assigned_at) {
                u.has_checkin = 1;
                u.checkin_at = h[k]->at_ms;
            }
            if (act == WHISTLE__V1__ACTION__RETURN) returned = 1;
        }
        u.deadline = s_assignment_deadline(cat, c, as, h, n, f, u.assigned_at);
        /* RELEASED after a RETURN: the lead moved the returned order to another department */
        u.released = returned && as->state == WHISTLE__V1__ASSIGNMENT_STATE__RELEASED;
        u.declined = as->state == WHISTLE__V1__ASSIGNMENT_STATE__DECLINED;
        u.done = as->state == WHISTLE__V1__ASSIGNMENT_STATE__DONE;
        struct s_row *r = s_row(t, dept);
        if (!r) return WH_ENOMEM;
        if (by == S_BY_ASSIGNEE && !r->kind && !(r->kind = strdup(as->kind))) return WH_ENOMEM;
        int rc = s_add(r, f, &u);
        if (rc) return rc;
    }
    return 0;
}

/* The township or street of a task: its case's lead, else (a refused task has none) its
 * grid's; "" when neither is known. */
static const char *s_task_unit(const struct wh_catalog *cat, const Whistle__V1__Case *c)
{
    if (c->lead_unit && c->lead_unit[0]) return s_case_key(cat, c, S_BY_TOWNSHIP);
    const struct wh_grid *g = c->report ? wh_catalog_grid(cat, c->report->grid) : NULL;
    return g ? g->community->unit->code : "";
}

/* By issuer: community task `c` (report.task) counts for its issuer when its first line, the
 * DISPATCH that admitted it or the REFUSE, is in [from, to). */
static int s_count_task(struct s_table *t, const struct wh_catalog *cat, const Whistle__V1__Case *c,
                        Whistle__V1__HistoryEntry **h, size_t n, int64_t from, int64_t to)
{
    const Whistle__V1__CommunityTask *task = c->report->task;
    if (n == 0 || h[0]->at_ms < from || h[0]->at_ms >= to) return 0;
    int refused = h[0]->action == WHISTLE__V1__ACTION__REFUSE;
    if (!refused && h[0]->action != WHISTLE__V1__ACTION__DISPATCH) return 0;
    struct s_row *r = s_row(t, task->issuer ? task->issuer : "");
    if (!r) return WH_ENOMEM;
    r->tasks++;
    if (refused) {
        r->tasks_refused++;
        return 0;
    }
    r->tasks_admitted++;
    /* admitted off the list: on its authority and funding (权随责走、费随事转) */
    if (!task->affair || !task->affair[0] || !wh_catalog_affair(cat, task->affair))
        r->tasks_unlisted++;
    for (size_t i = 0; i < c->n_assignments; i++) {
        const Whistle__V1__Assignment *as = c->assignments[i];
        if (as->kind && strcmp(as->kind, "community") == 0 &&
            as->state == WHISTLE__V1__ASSIGNMENT_STATE__DONE) {
            r->tasks_completed++;
            break;
        }
    }
    r->tasks_closed += c->state == WHISTLE__V1__CASE_STATE__CLOSED;
    return 0;
}

/* Reads every case and the history of every one not refused into `t`; with `unit` (not by
 * township), only the cases whose township or street is `unit`. */
static int s_scan(wh_store_t *st, MDB_txn *txn, const struct wh_catalog *cat, int64_t from,
                  int64_t to, int64_t now, enum s_by by, const char *unit, struct s_table *t)
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
        int task = by == S_BY_ISSUER;
        if (task &&
            (!c->report || !c->report->task || (unit && strcmp(s_task_unit(cat, c), unit) != 0))) {
            /* by issuer: tasks only, refused ones included */
        } else if (task || (c->state != WHISTLE__V1__CASE_STATE__REFUSED &&
                            !(unit && strcmp(s_case_key(cat, c, S_BY_TOWNSHIP), unit) != 0))) {
            Whistle__V1__HistoryEntry **h = NULL;
            int n = tracking_ledger_history(st, txn, c->id, &h);
            struct s_facts f;
            if (n < 0)
                rc = n;
            else if (task)
                rc = s_count_task(t, cat, c, h, (size_t)n, from, to);
            else if (s_facts(cat, c, h, (size_t)n, from, to, &f)) {
                f.now = now;
                rc = s_count_case(t, cat, c, h, (size_t)n, &f, by);
            }
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

/* num / den; *has = 0 (no value, 0.0) when den is 0. */
static double s_rate(uint32_t num, uint32_t den, int *has)
{
    *has = den > 0;
    return den ? (double)num / den : 0.0;
}

/* a row with a score first, then score desc, then key asc */
static int s_cmp_rank(const void *a, const void *b)
{
    const struct s_row *x = a, *y = b;
    if (x->has_score != y->has_score) return x->has_score ? -1 : 1;
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
    } else if (by == S_BY_ASSIGNEE || by == S_BY_ISSUER) {
        /* a stationed unit, a volunteer or a community; an issuer: a department or a unit */
        const struct wh_station *s = wh_catalog_station(cat, key);
        const struct wh_volunteer *v = wh_catalog_volunteer(cat, key);
        const struct wh_community *cm = wh_catalog_community(cat, key);
        const struct wh_department *d = wh_catalog_department(cat, key);
        const struct wh_unit *u = wh_catalog_unit(cat, key);
        name = s ? s->name : v ? v->name : cm ? cm->name : d ? d->name : u ? u->name : "";
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
        /* declined orders (by assignee) are out of the rates; an issuer's row has none */
        r->response =
            s_rate(r->on_time, r->dispatched - r->released - r->declined, &r->has_response);
        r->resolution = s_rate(r->resolved, r->dispatched - r->declined, &r->has_resolution);
        r->satisfaction = s_rate(r->satisfied, r->verified - r->by_default, &r->has_satisfaction);
        int present = r->has_response + r->has_resolution + r->has_satisfaction;
        r->has_score = present > 0;
        r->score = present ? (r->response + r->resolution + r->satisfaction) / present : 0.0;
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
        fr->has_response_rate = r->has_response;
        fr->has_resolution_rate = r->has_resolution;
        fr->has_satisfaction_rate = r->has_satisfaction;
        fr->has_score = r->has_score;
        fr->released = r->released;
        fr->missed_checkins = r->missed;
        fr->supervised = r->supervised;
        if (r->kind && !(fr->kind = strdup(r->kind))) return WH_ENOMEM;
        fr->declined = r->declined;
        fr->completed = r->completed;
        fr->tasks = r->tasks;
        fr->tasks_admitted = r->tasks_admitted;
        fr->tasks_refused = r->tasks_refused;
        fr->tasks_unlisted = r->tasks_unlisted;
        fr->tasks_completed = r->tasks_completed;
        fr->tasks_closed = r->tasks_closed;
    }
    return 0;
}

int tracking_figures_compute(wh_store_t *st, MDB_txn *txn, const struct wh_catalog *cat,
                             const Whistle__V1__Figures *q, int64_t now_ms,
                             Whistle__V1__FiguresReply *out, struct wh_field_error *err)
{
    whistle__v1__figures_reply__init(out);
    if (wh_check_string(err, "figures.period", q->period, 16, 1) ||
        wh_check_string(err, "figures.by", q->by, 16, 0) ||
        wh_check_string(err, "figures.unit", q->unit, 64, 0))
        return err->code;
    enum s_by by;
    const char *by_name = q->by && q->by[0] ? q->by : "department";
    if (strcmp(by_name, "department") == 0)
        by = S_BY_DEPARTMENT;
    else if (strcmp(by_name, "township") == 0)
        by = S_BY_TOWNSHIP;
    else if (strcmp(by_name, "grid") == 0)
        by = S_BY_GRID;
    else if (strcmp(by_name, "assignee") == 0)
        by = S_BY_ASSIGNEE;
    else if (strcmp(by_name, "issuer") == 0)
        by = S_BY_ISSUER;
    else
        return wh_field_error_set(err, WH_EFIELD, "figures.by",
                                  "figures.by must be department, township, grid, assignee or "
                                  "issuer, not '%s'",
                                  q->by);
    int64_t from, to;
    if (tracking_period_parse(q->period, &from, &to))
        return wh_field_error_set(err, WH_EFIELD, "figures.period",
                                  "figures.period must be an ISO week (2026-W48), a month "
                                  "(2026-11), a quarter (2026-Q4) or a year (2026), not '%s'",
                                  q->period);
    const char *unit = q->unit && q->unit[0] ? q->unit : NULL;
    if (unit && !wh_catalog_unit(cat, unit)) {
        const struct wh_community *cm = wh_catalog_community(cat, unit);
        if (cm)
            return wh_field_error_set(err, WH_EFIELD, "figures.unit",
                                      "figures.unit '%s' is a community of '%s'; give a township "
                                      "or street",
                                      unit, cm->unit->code);
        return wh_field_error_set(err, WH_EFIELD, "figures.unit",
                                  "figures.unit: unknown unit '%s' (a township or street)", unit);
    }
    struct s_table t = {0};
    /* by township the unit's row is ranked among every township's: scan them all */
    int rc = s_scan(st, txn, cat, from, to, now_ms, by, by == S_BY_TOWNSHIP ? NULL : unit, &t);
    if (rc == 0) {
        out->period = strdup(q->period);
        out->by = strdup(by_name);
        out->from_ms = from;
        out->to_ms = to;
        rc = !out->period || !out->by ? WH_ENOMEM : s_fill(cat, &t, by, out);
    }
    s_table_free(&t);
    if (rc == 0 && unit && by == S_BY_TOWNSHIP) {
        size_t kept = 0;
        for (size_t i = 0; i < out->n_rows; i++) {
            Whistle__V1__FigureRow *fr = out->rows[i];
            if (strcmp(fr->key, unit) == 0) {
                out->rows[kept++] = fr;
                continue;
            }
            free(fr->key);
            free(fr->name);
            if (fr->kind != protobuf_c_empty_string) free(fr->kind);
            free(fr);
        }
        out->n_rows = kept;
    }
    if (rc) {
        tracking_figures_free(out);
        wh_field_error_set(err, rc, "", "figures could not be computed: %s", wh_strerror(rc));
    }
    return rc;
}

void tracking_figures_keep(Whistle__V1__FiguresReply *out, const struct wh_identity *who,
                           const struct wh_catalog *cat, const char *unit)
{
    /* a township reads every department's row over its own cases (考核监督下放至乡街), every
     * assignee's, and every issuer's over the tasks of its communities */
    int own_unit = who->kind == WH_KIND_TOWNSHIP && unit && unit[0] &&
                   strcmp(unit, who->code) == 0 && out->by &&
                   (strcmp(out->by, "department") == 0 || strcmp(out->by, "assignee") == 0 ||
                    strcmp(out->by, "issuer") == 0);
    size_t kept = 0;
    for (size_t i = 0; i < out->n_rows; i++) {
        Whistle__V1__FigureRow *fr = out->rows[i];
        if (own_unit || tracking_may_read_figure_row(who, cat, out->by, fr->key)) {
            out->rows[kept++] = fr;
            continue;
        }
        if (fr->key != protobuf_c_empty_string) free(fr->key);
        if (fr->name != protobuf_c_empty_string) free(fr->name);
        if (fr->kind != protobuf_c_empty_string) free(fr->kind);
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
        if (fr->kind != protobuf_c_empty_string) free(fr->kind);
        free(fr);
    }
    free(out->rows);
    if (out->period != protobuf_c_empty_string) free(out->period);
    if (out->by != protobuf_c_empty_string) free(out->by);
    whistle__v1__figures_reply__init(out);
}
