/* bulletin.c: the bulletin of a period (周调度/月通报/季点评/年考核), read in one transaction.
 *
 * A district office circulates, for a week, month, quarter or year: the departments' and the
 * townships' rankings beside the previous period's, the worst overdue cases, every escalation
 * step to 督办 (supervise) and above taken in the period, and the grid staff under 5 hours in
 * a week of it. Everything is read here, in the batch's transaction, so the sections agree
 * with each other; whistlectl only lays it out (markdown, HTML, CSV). The figures come from
 * figures.c, the overdue cases from the ledger's idx_due, the hours from visits.c; the
 * escalations are the ESCALATE history lines dated in the period. With a unit, only the cases
 * that unit leads (its communities' included) and its grids. */
#include "tracking.h"
#include "whistle/error.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_OVERDUE_DEFAULT 10
#define S_OVERDUE_MAX 100
#define S_ESCALATIONS_MAX 1000
#define S_WEEKS_MAX 60 /* a year has 53 ISO weeks */

static char *s_dup(const char *s)
{
    return strdup(s ? s : "");
}

/* Figures of `period` by `by` over `unit` into a new reply (*out); a refusal is a bug here
 * (the period and unit were checked) and is returned as it is. */
static int s_figures(wh_store_t *st, MDB_txn *txn, const struct wh_catalog *cat, const char *period,
                     const char *by, const char *unit, int64_t now, Whistle__V1__FiguresReply **out,
                     struct wh_field_error *err)
{
    Whistle__V1__Figures q = WHISTLE__V1__FIGURES__INIT;
    q.period = (char *)period;
    q.by = (char *)by;
    q.unit = (char *)unit;
    *out = malloc(sizeof **out);
    if (!*out) return WH_ENOMEM;
    return tracking_figures_compute(st, txn, cat, &q, now, *out, err);
}

struct s_unit_filter {
    const struct wh_catalog *cat;
    const char *unit; /* NULL: every case */
};

static int s_keep_unit(const void *arg, const Whistle__V1__Case *c)
{
    const struct s_unit_filter *f = arg;
    return !f->unit || strcmp(tracking_figures_case_unit(f->cat, c), f->unit) == 0;
}

/* The worst `limit` open cases past their deadline at `now` (idx_due: the longest overdue
 * first), counting them all. */
static int s_overdue(wh_store_t *st, MDB_txn *txn, const struct s_unit_filter *f, int64_t now,
                     size_t limit, Whistle__V1__BulletinReply *out)
{
    Whistle__V1__ListCases q = WHISTLE__V1__LIST_CASES__INIT;
    char after[64] = "", next[64];
    q.overdue = 1;
    q.limit = TRACKING_LIST_MAX;
    out->overdue = calloc(limit ? limit : 1, sizeof *out->overdue);
    if (!out->overdue) return WH_ENOMEM;
    int rc = 0;
    do {
        Whistle__V1__Case **cases = NULL;
        size_t n = 0;
        q.after_case_id = after;
        rc = tracking_ledger_list(st, txn, &q, now, s_keep_unit, f, &cases, &n, next);
        for (size_t i = 0; i < n; i++) {
            const Whistle__V1__Case *c = cases[i];
            out->overdue_total++;
            if (rc || out->n_overdue >= limit) continue;
            Whistle__V1__BulletinOverdue *o = calloc(1, sizeof *o);
            if (!o) {
                rc = WH_ENOMEM;
                continue;
            }
            whistle__v1__bulletin_overdue__init(o);
            out->overdue[out->n_overdue++] = o;
            o->case_id = s_dup(c->id);
            o->lead_unit = s_dup(c->lead_unit);
            o->grid = s_dup(c->report ? c->report->grid : "");
            o->matter = s_dup(c->report ? c->report->matter : "");
            o->whistle = c->whistle;
            o->state = c->state;
            o->due_ms = tracking_ledger_due(c);
            for (size_t k = 0; k < c->n_assignments; k++)
                if (c->assignments[k]->state == WHISTLE__V1__ASSIGNMENT_STATE__NOTIFIED)
                    o->checkin = 1;
            o->waiting = o->checkin ? calloc(c->n_assignments, sizeof *o->waiting) : NULL;
            for (size_t k = 0; o->waiting && k < c->n_assignments; k++)
                if (c->assignments[k]->state == WHISTLE__V1__ASSIGNMENT_STATE__NOTIFIED)
                    o->waiting[o->n_waiting++] = s_dup(c->assignments[k]->department);
            if (!o->case_id || !o->lead_unit || !o->grid || !o->matter ||
                (o->checkin && !o->waiting))
                rc = WH_ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
            whistle__v1__case__free_unpacked(cases[i], NULL);
        free(cases);
        snprintf(after, sizeof after, "%s", next);
    } while (rc == 0 && after[0]);
    return rc;
}

static int s_cmp_escalation(const void *a, const void *b)
{
    const Whistle__V1__BulletinEscalation *x = *(Whistle__V1__BulletinEscalation *const *)a;
    const Whistle__V1__BulletinEscalation *y = *(Whistle__V1__BulletinEscalation *const *)b;
    if (x->at_ms != y->at_ms) return x->at_ms < y->at_ms ? -1 : 1;
    return strcmp(x->case_id, y->case_id);
}

/* Adds the escalation line `e` of case `c` to out (kept: the first S_ESCALATIONS_MAX read). */
static int s_add_escalation(const struct wh_catalog *cat, const Whistle__V1__Case *c,
                            const Whistle__V1__HistoryEntry *e, Whistle__V1__BulletinReply *out,
                            size_t *cap)
{
    char step[32];
    if (!tracking_figures_supervised(cat, e->note, step, sizeof step)) return 0;
    out->escalations_total++;
    if (out->n_escalations >= S_ESCALATIONS_MAX) return 0;
    if (out->n_escalations == *cap) {
        size_t n = *cap ? *cap * 2 : 32;
        void *p = realloc(out->escalations, n * sizeof *out->escalations);
        if (!p) return WH_ENOMEM;
        out->escalations = p;
        *cap = n;
    }
    Whistle__V1__BulletinEscalation *x = calloc(1, sizeof *x);
    if (!x) return WH_ENOMEM;
    whistle__v1__bulletin_escalation__init(x);
    out->escalations[out->n_escalations++] = x;
    const char *note = e->note ? e->note : "";
    const char *reason = note + strlen(step);
    if (reason[0] == ':') reason++;
    if (reason[0] == ' ') reason++;
    x->case_id = s_dup(c->id);
    x->at_ms = e->at_ms;
    x->step = s_dup(step);
    x->actor = s_dup(e->actor);
    x->reason = s_dup(reason);
    x->lead_unit = s_dup(c->lead_unit);
    x->grid = s_dup(c->report ? c->report->grid : "");
    x->whistle = c->whistle;
    x->state = c->state;
    if (!x->case_id || !x->step || !x->actor || !x->reason || !x->lead_unit || !x->grid)
        return WH_ENOMEM;
    return 0;
}

/* Every ESCALATE line at 督办 or above dated in [from, to), of the unit's cases. */
static int s_escalations(wh_store_t *st, MDB_txn *txn, const struct s_unit_filter *f, int64_t from,
                         int64_t to, Whistle__V1__BulletinReply *out)
{
    MDB_cursor *cur;
    MDB_val k, v;
    size_t cap = 0;
    if (mdb_cursor_open(txn, wh_store_dbi(st, "cases"), &cur)) return WH_ESTORE;
    int rc = 0, mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; rc == 0 && mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Whistle__V1__Case *c = whistle__v1__case__unpack(NULL, v.mv_size, v.mv_data);
        if (!c) {
            rc = WH_ESTORE;
            break;
        }
        if (c->state != WHISTLE__V1__CASE_STATE__REFUSED && s_keep_unit(f, c)) {
            Whistle__V1__HistoryEntry **h = NULL;
            int n = tracking_ledger_history(st, txn, c->id, &h);
            if (n < 0) rc = n;
            for (int i = 0; i < n; i++) {
                if (rc == 0 && h[i]->action == WHISTLE__V1__ACTION__ESCALATE &&
                    h[i]->at_ms >= from && h[i]->at_ms < to)
                    rc = s_add_escalation(f->cat, c, h[i], out, &cap);
                whistle__v1__history_entry__free_unpacked(h[i], NULL);
            }
            free(h);
        }
        whistle__v1__case__free_unpacked(c, NULL);
    }
    mdb_cursor_close(cur);
    if (rc == 0 && mrc != MDB_NOTFOUND) rc = WH_ESTORE;
    if (rc == 0 && out->n_escalations)
        qsort(out->escalations, out->n_escalations, sizeof *out->escalations, s_cmp_escalation);
    return rc;
}

/* Grid staff under 5 hours in at least one ISO week of the period begun by `now`. The weekly
 * reports list every grid's staff in the catalog's order, so row i of every week is the same
 * person. */
static int s_short_staff(wh_store_t *st, MDB_txn *txn, const struct wh_catalog *cat,
                         const Whistle__V1__Bulletin *q, int64_t now,
                         Whistle__V1__BulletinReply *out)
{
    char weeks[S_WEEKS_MAX][9];
    size_t n_weeks = tracking_period_weeks(q->period, now, weeks, S_WEEKS_MAX);
    size_t n_staff = cat->n_grids * 4;
    uint32_t *minutes = calloc(n_staff ? n_staff : 1, sizeof *minutes);
    uint32_t *shorts = calloc(n_staff ? n_staff : 1, sizeof *shorts);
    Whistle__V1__VisitRow **who = calloc(n_staff ? n_staff : 1, sizeof *who);
    Whistle__V1__VisitsReply first = WHISTLE__V1__VISITS_REPLY__INIT;
    int rc = minutes && shorts && who ? 0 : WH_ENOMEM;
    size_t rows = 0;
    out->weeks = (uint32_t)n_weeks;
    for (size_t w = 0; rc == 0 && w < n_weeks; w++) {
        Whistle__V1__Visits vq = WHISTLE__V1__VISITS__INIT;
        Whistle__V1__VisitsReply vr = WHISTLE__V1__VISITS_REPLY__INIT;
        struct wh_field_error fe;
        vq.week = weeks[w];
        rc = tracking_visits_report(st, txn, cat, &vq, &vr, &fe);
        for (size_t i = 0; rc == 0 && i < vr.n_rows && i < n_staff; i++) {
            minutes[i] += vr.rows[i]->minutes;
            shorts[i] += vr.rows[i]->under_minimum;
        }
        if (w == 0 && rc == 0) {
            first = vr; /* its rows name each person (strings from the catalog) */
            rows = vr.n_rows < n_staff ? vr.n_rows : n_staff;
            for (size_t i = 0; i < rows; i++)
                who[i] = vr.rows[i];
        } else {
            tracking_visits_free(&vr);
        }
    }
    size_t n = 0;
    for (size_t i = 0; i < rows; i++)
        n += shorts[i] > 0;
    if (rc == 0 && n && !(out->short_staff = calloc(n, sizeof *out->short_staff))) rc = WH_ENOMEM;
    for (size_t i = 0; rc == 0 && i < rows; i++) {
        const struct wh_grid *g = wh_catalog_grid(cat, who[i]->grid);
        if (!shorts[i] || !g) continue;
        if (q->unit && q->unit[0] && strcmp(g->community->unit->code, q->unit) != 0) continue;
        Whistle__V1__BulletinShortStaff *s = calloc(1, sizeof *s);
        if (!s) {
            rc = WH_ENOMEM;
            break;
        }
        whistle__v1__bulletin_short_staff__init(s);
        out->short_staff[out->n_short_staff++] = s;
        s->grid = s_dup(who[i]->grid);
        s->staff = s_dup(who[i]->staff);
        s->role = s_dup(who[i]->role);
        s->community = s_dup(g->community->name);
        s->weeks_short = shorts[i];
        s->weeks = (uint32_t)n_weeks;
        s->minutes = minutes[i];
        if (!s->grid || !s->staff || !s->role || !s->community) rc = WH_ENOMEM;
    }
    tracking_visits_free(&first);
    free(minutes);
    free(shorts);
    free(who);
    return rc;
}

int tracking_bulletin_compute(wh_store_t *st, MDB_txn *txn, const struct wh_catalog *cat,
                              const Whistle__V1__Bulletin *q, int64_t now_ms,
                              Whistle__V1__BulletinReply *out, struct wh_field_error *err)
{
    whistle__v1__bulletin_reply__init(out);
    if (wh_check_string(err, "bulletin.period", q->period, 16, 1) ||
        wh_check_string(err, "bulletin.unit", q->unit, 64, 0))
        return err->code;
    int64_t from, to;
    const char *kind = tracking_period_kind(q->period);
    if (!kind || tracking_period_parse(q->period, &from, &to))
        return wh_field_error_set(err, WH_EFIELD, "bulletin.period",
                                  "bulletin.period must be an ISO week (2026-W48), a month "
                                  "(2026-11), a quarter (2026-Q4) or a year (2026), not '%s'",
                                  q->period);
    const char *unit = q->unit && q->unit[0] ? q->unit : NULL;
    const struct wh_unit *u = unit ? wh_catalog_unit(cat, unit) : NULL;
    if (unit && !u)
        return wh_field_error_set(err, WH_EFIELD, "bulletin.unit",
                                  "bulletin.unit: unknown unit '%s' (a township or street: "
                                  "whistlectl catalog list units)",
                                  unit);
    if (q->overdue_limit > S_OVERDUE_MAX)
        return wh_field_error_set(err, WH_EFIELD, "bulletin.overdue_limit",
                                  "bulletin.overdue_limit must be 0..%d, not %u", S_OVERDUE_MAX,
                                  q->overdue_limit);
    char prev[16] = "";
    int has_prev = tracking_period_previous(q->period, prev, sizeof prev) == 0;
    out->period = s_dup(q->period);
    out->kind = s_dup(kind);
    out->previous_period = s_dup(prev);
    out->unit = s_dup(unit);
    out->unit_name = s_dup(u ? u->name : "");
    out->district_name = s_dup(cat->district_name);
    out->from_ms = from;
    out->to_ms = to;
    out->as_of_ms = now_ms;
    int rc = 0;
    if (!out->period || !out->kind || !out->previous_period || !out->unit || !out->unit_name ||
        !out->district_name)
        rc = WH_ENOMEM;
    if (rc == 0)
        rc = s_figures(st, txn, cat, q->period, "department", unit, now_ms, &out->departments, err);
    if (rc == 0)
        rc = s_figures(st, txn, cat, q->period, "township", unit, now_ms, &out->townships, err);
    if (rc == 0 && has_prev)
        rc = s_figures(st, txn, cat, prev, "department", unit, now_ms, &out->departments_previous,
                       err);
    if (rc == 0 && has_prev)
        rc = s_figures(st, txn, cat, prev, "township", unit, now_ms, &out->townships_previous, err);
    struct s_unit_filter f = {cat, unit};
    if (rc == 0)
        rc = s_overdue(st, txn, &f, now_ms, q->overdue_limit ? q->overdue_limit : S_OVERDUE_DEFAULT,
                       out);
    if (rc == 0) rc = s_escalations(st, txn, &f, from, to, out);
    if (rc == 0) rc = s_short_staff(st, txn, cat, q, now_ms, out);
    if (rc) {
        tracking_bulletin_free(out);
        if (rc != WH_EFIELD)
            wh_field_error_set(err, rc, "", "the bulletin could not be made: %s", wh_strerror(rc));
    }
    return rc;
}

static void s_free_figures(Whistle__V1__FiguresReply **f)
{
    if (!*f) return;
    tracking_figures_free(*f);
    free(*f);
    *f = NULL;
}

void tracking_bulletin_free(Whistle__V1__BulletinReply *out)
{
    if (!out) return;
    s_free_figures(&out->departments);
    s_free_figures(&out->departments_previous);
    s_free_figures(&out->townships);
    s_free_figures(&out->townships_previous);
    for (size_t i = 0; i < out->n_overdue; i++) {
        Whistle__V1__BulletinOverdue *o = out->overdue[i];
        free(o->case_id);
        free(o->lead_unit);
        free(o->grid);
        free(o->matter);
        for (size_t k = 0; k < o->n_waiting; k++)
            free(o->waiting[k]);
        free(o->waiting);
        free(o);
    }
    free(out->overdue);
    for (size_t i = 0; i < out->n_escalations; i++) {
        Whistle__V1__BulletinEscalation *x = out->escalations[i];
        free(x->case_id);
        free(x->step);
        free(x->actor);
        free(x->reason);
        free(x->lead_unit);
        free(x->grid);
        free(x);
    }
    free(out->escalations);
    for (size_t i = 0; i < out->n_short_staff; i++) {
        Whistle__V1__BulletinShortStaff *s = out->short_staff[i];
        free(s->grid);
        free(s->staff);
        free(s->role);
        free(s->community);
        free(s);
    }
    free(out->short_staff);
    const char **strs[] = {
        (const char **)&out->period,          (const char **)&out->kind,
        (const char **)&out->previous_period, (const char **)&out->unit,
        (const char **)&out->unit_name,       (const char **)&out->district_name};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (*strs[i] != protobuf_c_empty_string) free((char *)*strs[i]);
    whistle__v1__bulletin_reply__init(out);
}
