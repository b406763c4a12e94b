/* authorize.c: who may take which action, and read which case, figure row or grid visit, by
 * the identity a peer's key gives it (keys on).
 *
 * A department acts only on its own assignment and only as itself; a township, street or
 * community resolves and assigns only as itself (whether it leads the case is the machine's
 * question); an integrator relays the resident's verification. Reading follows the same lines:
 * a department reads the cases it is or was assigned to, a township its unit's cases and its
 * grids' (and the departments' figures and the bulletin over its own unit), an integrator the reports it submitted (report.source, which intake sets from its
 * key). Services and operators are not limited, and with keys off nobody is identified and
 * nothing is checked here. Pure functions of the identity, the catalog and the request. */
#include "tracking.h"
#include "whistle/error.h"
#include <string.h>

static int s_is_department_action(int action)
{
    return action == WHISTLE__V1__ACTION__CHECKIN || action == WHISTLE__V1__ACTION__PROGRESS ||
           action == WHISTLE__V1__ACTION__COMPLETE || action == WHISTLE__V1__ACTION__RETURN ||
           action == WHISTLE__V1__ACTION__RELEASE;
}

int tracking_authorize(const struct wh_identity *who, const Whistle__V1__CaseAction *a,
                       struct wh_field_error *err)
{
    if (who->kind == WH_KIND_NONE || wh_identity_trusted(who)) return 0;
    const char *act = wh_action_name(a->action);
    const char *actor = a->actor ? a->actor : "";
    int order_answer =
        a->action == WHISTLE__V1__ACTION__ACCEPT || a->action == WHISTLE__V1__ACTION__DECLINE;
    int work = a->action == WHISTLE__V1__ACTION__PROGRESS ||
               a->action == WHISTLE__V1__ACTION__COMPLETE;
    int as_assignee =
        (who->kind == WH_KIND_TOWNSHIP && (work || a->action == WHISTLE__V1__ACTION__CHECKIN ||
                                           a->action == WHISTLE__V1__ACTION__RETURN)) ||
        ((who->kind == WH_KIND_STATION || who->kind == WH_KIND_VOLUNTEER) &&
         (work || order_answer));
    if (as_assignee) {
        /* a community on the task handed to it; a stationed unit or a volunteer on the order
         * dispatched to it: as itself only (tracking_act_kind makes the machine check that
         * the assignment is of its kind) */
        if (!a->department || strcmp(a->department, who->code) != 0)
            return wh_field_error_set(err, WH_EFORBIDDEN, "case_action.department",
                                      "this key is %s '%s'; it may not act as '%s'",
                                      wh_kind_name(who->kind), who->code,
                                      a->department ? a->department : "");
        if (actor[0] && strcmp(actor, who->code) != 0)
            return wh_field_error_set(err, WH_EFORBIDDEN, "case_action.actor",
                                      "this key is %s '%s'; it may not act as '%s'",
                                      wh_kind_name(who->kind), who->code, actor);
        return 0;
    }
    if (order_answer)
        return wh_field_error_set(err, WH_EFORBIDDEN, "case_action.action",
                                  "%s is a stationed unit's or a volunteer's answer to an order; "
                                  "this key is %s %s",
                                  act, wh_kind_name(who->kind), who->code);
    if (s_is_department_action(a->action)) {
        if (who->kind != WH_KIND_DEPARTMENT)
            return wh_field_error_set(err, WH_EFORBIDDEN, "case_action.action",
                                      "%s is a department's action; this key is %s %s", act,
                                      wh_kind_name(who->kind), who->code);
        if (!a->department || strcmp(a->department, who->code) != 0)
            return wh_field_error_set(err, WH_EFORBIDDEN, "case_action.department",
                                      "this key is department '%s'; it may not act as '%s'",
                                      who->code, a->department ? a->department : "");
        if (actor[0] && strcmp(actor, who->code) != 0)
            return wh_field_error_set(err, WH_EFORBIDDEN, "case_action.actor",
                                      "this key is department '%s'; it may not act as '%s'",
                                      who->code, actor);
        return 0;
    }
    if (a->action == WHISTLE__V1__ACTION__RESOLVE || a->action == WHISTLE__V1__ACTION__ASSIGN ||
        a->action == WHISTLE__V1__ACTION__ORDER) {
        if (who->kind != WH_KIND_TOWNSHIP)
            return wh_field_error_set(err, WH_EFORBIDDEN, "case_action.action",
                                      "%s is the lead unit's action; this key is %s %s", act,
                                      wh_kind_name(who->kind), who->code);
        if (strcmp(actor, who->code) != 0)
            return wh_field_error_set(err, WH_EFORBIDDEN, "case_action.actor",
                                      "this key is township '%s'; it may not act as '%s'",
                                      who->code, actor);
        return 0;
    }
    if (a->action == WHISTLE__V1__ACTION__VERIFY) {
        if (who->kind != WH_KIND_INTEGRATOR)
            return wh_field_error_set(err, WH_EFORBIDDEN, "case_action.action",
                                      "VERIFY comes from the resident, through an integrator's "
                                      "key; this key is %s %s",
                                      wh_kind_name(who->kind), who->code);
        return 0;
    }
    return wh_field_error_set(err, WH_EFORBIDDEN, "case_action.action",
                              "%s is not taken through this endpoint by %s %s", act,
                              wh_kind_name(who->kind), who->code);
}

const char *tracking_act_kind(const struct wh_identity *who)
{
    switch (who->kind) {
    case WH_KIND_DEPARTMENT: return "department";
    case WH_KIND_TOWNSHIP: return "community";
    case WH_KIND_STATION: return "station";
    case WH_KIND_VOLUNTEER: return "volunteer";
    default: return NULL;
    }
}

/* ---- reading ------------------------------------------------------------------------------ */

static int s_unlimited(const struct wh_identity *who)
{
    return who->kind == WH_KIND_NONE || wh_identity_trusted(who);
}

static int s_is(const char *a, const char *code)
{
    return a && code[0] && strcmp(a, code) == 0;
}

int tracking_may_read_grid(const struct wh_identity *who, const struct wh_catalog *cat,
                           const char *grid)
{
    if (s_unlimited(who)) return 1;
    const struct wh_grid *g = cat && grid ? wh_catalog_grid(cat, grid) : NULL;
    return who->kind == WH_KIND_TOWNSHIP && g &&
           (s_is(g->community->code, who->code) || s_is(g->community->unit->code, who->code));
}

int tracking_may_read_case(const struct wh_identity *who, const struct wh_catalog *cat,
                           const Whistle__V1__Case *c)
{
    if (s_unlimited(who)) return 1;
    switch (who->kind) {
    case WH_KIND_DEPARTMENT:
        /* any assignment, whatever its state: a released or returned order was its too */
        for (size_t i = 0; i < c->n_assignments; i++)
            if (s_is(c->assignments[i]->department, who->code)) return 1;
        /* 社区事务准入: the department that handed a task down, admitted or refused */
        return c->report && c->report->task && s_is(c->report->task->issuer, who->code);
    case WH_KIND_STATION:
    case WH_KIND_VOLUNTEER:
        /* the orders dispatched to it, declined ones too */
        for (size_t i = 0; i < c->n_assignments; i++)
            if (s_is(c->assignments[i]->department, who->code) &&
                s_is(c->assignments[i]->kind, wh_kind_name(who->kind)))
                return 1;
        return 0;
    case WH_KIND_TOWNSHIP:
        return s_is(c->lead_unit, who->code) || s_is(c->community, who->code) ||
               (c->report && tracking_may_read_grid(who, cat, c->report->grid));
    case WH_KIND_INTEGRATOR: return c->report && s_is(c->report->source, who->code);
    default: return 0;
    }
}

int tracking_may_list(const struct wh_identity *who, const struct wh_catalog *cat,
                      Whistle__V1__ListCases *q, struct wh_field_error *err)
{
    if (s_unlimited(who)) return 0;
    const char *dept = q->department ? q->department : "";
    const char *unit = q->unit ? q->unit : "";
    const char *grid = q->grid ? q->grid : "";
    if (who->kind == WH_KIND_DEPARTMENT) {
        if (dept[0] && strcmp(dept, who->code) != 0)
            return wh_field_error_set(err, WH_EFORBIDDEN, "list_cases.department",
                                      "this key is department '%s'; it lists its own cases, "
                                      "not those of '%s'",
                                      who->code, dept);
        /* its own cases are exactly its idx_dept rows: that index pages them */
        q->department = (char *)who->code;
        return 0;
    }
    if (who->kind == WH_KIND_TOWNSHIP) {
        const struct wh_community *cm = unit[0] && cat ? wh_catalog_community(cat, unit) : NULL;
        if (unit[0] && strcmp(unit, who->code) != 0 && !(cm && s_is(cm->unit->code, who->code)))
            return wh_field_error_set(err, WH_EFORBIDDEN, "list_cases.unit",
                                      "this key is township '%s'; it may not list the cases of "
                                      "'%s'",
                                      who->code, unit);
        if (grid[0] && !tracking_may_read_grid(who, cat, grid))
            return wh_field_error_set(err, WH_EFORBIDDEN, "list_cases.grid",
                                      "grid '%s' is not one of the grids of township '%s'", grid,
                                      who->code);
        return 0;
    }
    if (who->kind == WH_KIND_INTEGRATOR) return 0; /* what it submitted: filtered per case */
    return wh_field_error_set(err, WH_EFORBIDDEN, "list_cases", "%s %s may not list cases",
                              wh_kind_name(who->kind), who->code);
}

/* "department" (the default), "township", "grid", "assignee", "issuer", or NULL when `by` is
 * none of them. */
static const char *s_by(const char *by)
{
    if (!by || !by[0] || strcmp(by, "department") == 0) return "department";
    if (strcmp(by, "township") == 0) return "township";
    if (strcmp(by, "grid") == 0) return "grid";
    if (strcmp(by, "assignee") == 0) return "assignee";
    if (strcmp(by, "issuer") == 0) return "issuer";
    return NULL;
}

int tracking_may_read_figures(const struct wh_identity *who, const Whistle__V1__Figures *q,
                              struct wh_field_error *err)
{
    if (s_unlimited(who)) return 0;
    const char *by = s_by(q->by);
    const char *unit = q->unit ? q->unit : "";
    if (!by) return 0; /* no grouping at all: the figures refuse it (EFIELD) */
    /* a department its own row by department, and as the issuer of community tasks */
    if (who->kind == WH_KIND_DEPARTMENT &&
        (strcmp(by, "department") == 0 || strcmp(by, "issuer") == 0))
        return 0;
    /* a stationed unit or volunteer its own row of the orders it took */
    if ((who->kind == WH_KIND_STATION || who->kind == WH_KIND_VOLUNTEER) &&
        strcmp(by, "assignee") == 0)
        return 0;
    if (who->kind == WH_KIND_TOWNSHIP) {
        /* 考核监督下放至乡街: a township assesses the departments over its own cases */
        if (unit[0] && strcmp(unit, who->code) != 0)
            return wh_field_error_set(err, WH_EFORBIDDEN, "figures.unit",
                                      "this key is township '%s'; it may ask for its own unit's "
                                      "figures, not those of '%s'",
                                      who->code, unit);
        if ((strcmp(by, "department") != 0 && strcmp(by, "assignee") != 0) || unit[0]) return 0;
        return wh_field_error_set(err, WH_EFORBIDDEN, "figures.unit",
                                  "township %s reads the %s figures over its own cases: give "
                                  "figures.unit '%s'",
                                  who->code, by, who->code);
    }
    return wh_field_error_set(err, WH_EFORBIDDEN, "figures.by",
                              "%s %s may not read the figures by %s (a department reads its own "
                              "row by department, a township its own by township or grid)",
                              wh_kind_name(who->kind), who->code, by);
}

int tracking_may_read_figure_row(const struct wh_identity *who, const struct wh_catalog *cat,
                                 const char *by, const char *key)
{
    if (s_unlimited(who)) return 1;
    const char *b = s_by(by);
    if (!b) return 0;
    if (strcmp(b, "grid") == 0) return tracking_may_read_grid(who, cat, key);
    if (!s_is(key, who->code)) return 0;
    /* by assignee: the stationed unit's or volunteer's own row; by issuer: the issuing
     * department's or unit's own row */
    if (strcmp(b, "assignee") == 0)
        return who->kind == WH_KIND_STATION || who->kind == WH_KIND_VOLUNTEER;
    if (strcmp(b, "issuer") == 0)
        return who->kind == WH_KIND_DEPARTMENT || who->kind == WH_KIND_TOWNSHIP;
    /* by department: the department's own row; by township: the unit's own row */
    int kind = strcmp(b, "department") == 0 ? WH_KIND_DEPARTMENT : WH_KIND_TOWNSHIP;
    return who->kind == kind;
}

int tracking_may_read_visits(const struct wh_identity *who, const struct wh_catalog *cat,
                             const Whistle__V1__Visits *q, struct wh_field_error *err)
{
    if (s_unlimited(who)) return 0;
    const char *grid = q->grid ? q->grid : "";
    if (who->kind != WH_KIND_TOWNSHIP)
        return wh_field_error_set(err, WH_EFORBIDDEN, "visits.grid",
                                  "%s %s may not read grid visits (the grid's township may)",
                                  wh_kind_name(who->kind), who->code);
    /* an unknown grid is the report's to refuse (EFIELD) */
    if (grid[0] && cat && wh_catalog_grid(cat, grid) && !tracking_may_read_grid(who, cat, grid))
        return wh_field_error_set(err, WH_EFORBIDDEN, "visits.grid",
                                  "grid '%s' is not one of the grids of township '%s'", grid,
                                  who->code);
    return 0;
}

int tracking_may_read_book(const struct wh_identity *who, const struct wh_catalog *cat,
                           const Whistle__V1__GridLedger *q, struct wh_field_error *err)
{
    if (s_unlimited(who)) return 0;
    const char *grid = q->grid ? q->grid : "";
    /* a township asking for an unknown grid: the book refuses it (EFIELD, the catalog hint) */
    if (who->kind == WH_KIND_TOWNSHIP && (!cat || !wh_catalog_grid(cat, grid) ||
                                          tracking_may_read_grid(who, cat, grid)))
        return 0;
    if (who->kind == WH_KIND_TOWNSHIP)
        return wh_field_error_set(err, WH_EFORBIDDEN, "grid_ledger.grid",
                                  "grid '%s' is not a grid of '%s' (its community, township or "
                                  "street reads its book)",
                                  grid, who->code);
    return wh_field_error_set(err, WH_EFORBIDDEN, "grid_ledger.grid",
                              "%s %s may not read a grid's book (its community, township or "
                              "street may)",
                              wh_kind_name(who->kind), who->code);
}

int tracking_may_read_bulletin(const struct wh_identity *who, const Whistle__V1__Bulletin *q,
                               struct wh_field_error *err)
{
    if (s_unlimited(who)) return 0;
    const char *unit = q->unit ? q->unit : "";
    if (who->kind != WH_KIND_TOWNSHIP)
        return wh_field_error_set(err, WH_EFORBIDDEN, "bulletin",
                                  "%s %s may not read a bulletin (the district's office, or a "
                                  "township for its own unit, may)",
                                  wh_kind_name(who->kind), who->code);
    if (strcmp(unit, who->code) != 0)
        return wh_field_error_set(err, WH_EFORBIDDEN, "bulletin.unit",
                                  "this key is township '%s'; it may read its own unit's "
                                  "bulletin (bulletin.unit '%s'), not %s%s%s",
                                  who->code, who->code, unit[0] ? "'" : "the district's",
                                  unit, unit[0] ? "'s" : "");
    return 0;
}
