/* tracking.h: the ledger. Follows routing's log to open cases, takes department and resident
 * actions (check-in, progress, complete, resolve, verify) with a reply that says exactly why an
 * action is refused, appends case.updated to tracking's log, and answers queries. */
#ifndef WHISTLE_TRACKING_H
#define WHISTLE_TRACKING_H
#include "whistle/catalog.h"
#include "whistle/codec.h"
#include "whistle/options.h"
#include "whistle/service.h"

/* The most departments one case can hold (the 1+N and every one added since). */
#define TRACKING_MAX_ASSIGNMENTS 16
/* ListCases: the page when no limit is given, and the largest page asked for (more: EFIELD). */
#define TRACKING_LIST_PAGE 100
#define TRACKING_LIST_MAX 1000

typedef struct tracking tracking_t;

tracking_t *tracking_new(const struct wh_options *o, const struct wh_catalog *cat);
void tracking_destroy(tracking_t **self_p);
wh_service_t *tracking_service(tracking_t *self);

/* ---- machine.c: the case state machine, the one place transitions are decided ---------- */

/* Applies action `a` to case `c` at `now_ms`. `c` must be heap-owned as protobuf-c unpacks
 * it: ASSIGN may add an assignment. On success updates `c` (state, assignments,
 * version, updated_at), fills `entry` (strings point into `a` or `c`) and returns 0. On refusal
 * leaves `c` unchanged and returns WH_ESTATE / WH_EFORBIDDEN / WH_EFIELD with `err` saying why
 * (err->field names the request field). */
int tracking_machine_act(Whistle__V1__Case *c, const Whistle__V1__CaseAction *a, int64_t now_ms,
                         Whistle__V1__HistoryEntry *entry, struct wh_field_error *err);
/* The same, where `grid_staff` says the actor is one of the case's grid leader or workers, who
 * may verify on the reporter's behalf (群众验单 through the grid). */
int tracking_machine_act_as(Whistle__V1__Case *c, const Whistle__V1__CaseAction *a,
                            int grid_staff, int64_t now_ms, Whistle__V1__HistoryEntry *entry,
                            struct wh_field_error *err);

/* Applies the lead's decision on a case in REVIEW (routing's review_step: BLOW, HAND_OVER or
 * REJECT) at `now_ms`; `c` heap-owned as above. BLOW: DISPATCHED with s->departments,
 * whistle and deadlines; HAND_OVER: DISPATCHED with s->community as the one assignment, of
 * kind "community"; REJECT: REFUSED (duplicate_of kept). Fills `entry` (note = s->reason) and
 * returns 0; on refusal (not REVIEW, not the lead) leaves `c` unchanged and fills `err`. */
int tracking_machine_review(Whistle__V1__Case *c, const Whistle__V1__ReviewStep *s, int64_t now_ms,
                            Whistle__V1__HistoryEntry *entry, struct wh_field_error *err);

/* Adds `dept` as a NOTIFIED assignment unless it is on the case already (escalation adds
 * district coordinators this way). `c` must be heap-owned as protobuf-c unpacks it. */
int tracking_machine_add_department(Whistle__V1__Case *c, const char *dept, int64_t now_ms);

/* ---- authorize.c: who may take which action (keys on) ------------------------------------ */

/* Whether the peer `who` may send action `a`: 0, or WH_EFORBIDDEN with err->field naming the
 * request field that does not match the key (case_action.department, .actor or .action).
 * Always 0 for kind NONE (keys off), services and operators. */
int tracking_authorize(const struct wh_identity *who, const Whistle__V1__CaseAction *a,
                       struct wh_field_error *err);
/* The assignment kind a keyed peer acts as on its own assignment ("department", "community"
 * for a township-kind key, "station", "volunteer"); NULL for the others. tracking.c puts it in
 * case_action.kind so the machine refuses an assignment of another kind. */
const char *tracking_act_kind(const struct wh_identity *who);

/* Reading (keys on). Kind NONE (keys off), services and operators read everything. */

/* Whether `who` may read case `c` (GetCase, ListCases): 1 or 0. A department: a case it is or
 * was assigned to (any assignment, whatever its state); a township, street or community: a
 * case it leads (lead_unit), of its community, or in one of its grids; an integrator: a case
 * whose report.source is its code. `cat` maps grids to communities and units (NULL: only
 * lead_unit and community are compared). */
int tracking_may_read_case(const struct wh_identity *who, const struct wh_catalog *cat,
                           const Whistle__V1__Case *c);
/* 1 when `grid` is a grid of township/community `who` (its community or its unit). */
int tracking_may_read_grid(const struct wh_identity *who, const struct wh_catalog *cat,
                           const char *grid);
/* ListCases: 0, or WH_EFORBIDDEN naming the filter that names what `who` may not read
 * (list_cases.department for another department, .unit / .grid for another township's). A
 * department's query is narrowed in place to its own code (q->department points into `who`);
 * the rest of the list is filtered case by case with tracking_may_read_case. */
int tracking_may_list(const struct wh_identity *who, const struct wh_catalog *cat,
                      Whistle__V1__ListCases *q, struct wh_field_error *err);
/* Figures: 0, or WH_EFORBIDDEN naming figures.by: a department reads by department, a
 * township by township or grid, or by department over its own cases (figures.unit its own
 * code; another's unit, or none by department: figures.unit), an integrator not at all. */
int tracking_may_read_figures(const struct wh_identity *who, const Whistle__V1__Figures *q,
                              struct wh_field_error *err);
/* Whether `who` may see the figures row `key` grouped `by`: its own department or unit, or
 * one of its grids. */
int tracking_may_read_figure_row(const struct wh_identity *who, const struct wh_catalog *cat,
                                 const char *by, const char *key);
/* Visits: 0, or WH_EFORBIDDEN naming visits.grid: only a township reads, its own grids. */
int tracking_may_read_visits(const struct wh_identity *who, const struct wh_catalog *cat,
                             const Whistle__V1__Visits *q, struct wh_field_error *err);
/* A grid's book (GridLedger): 0, or WH_EFORBIDDEN naming grid_ledger.grid: the grid's
 * community, township or street reads it (tracking_may_read_grid); departments and
 * integrators do not. An unknown grid is the book's to refuse (EFIELD). */
int tracking_may_read_book(const struct wh_identity *who, const struct wh_catalog *cat,
                           const Whistle__V1__GridLedger *q, struct wh_field_error *err);

/* Bulletin: 0, or WH_EFORBIDDEN: a township only for its own unit (bulletin.unit), a
 * department or integrator not at all (bulletin). */
int tracking_may_read_bulletin(const struct wh_identity *who, const Whistle__V1__Bulletin *q,
                               struct wh_field_error *err);

/* ---- ledger.c: cases, history and indexes in tracking's LMDB ----------------------------- */

/* Reads case `id` (caller frees with whistle__v1__case__free_unpacked). WH_ENOTFOUND if none. */
int tracking_ledger_get(wh_store_t *st, MDB_txn *txn, const char *id, Whistle__V1__Case **out);
/* What the indexes knew of a case before a change (all zero for a new case). */
struct tracking_before {
    int state;       /* CaseState */
    int64_t due;     /* tracking_ledger_due() */
    int64_t verify;  /* verify_deadline_ms */
};
void tracking_ledger_before(const Whistle__V1__Case *c, struct tracking_before *b);
/* The deadline an open case must meet next: the review's in REVIEW, check-in while a
 * department is NOTIFIED (the earliest of theirs), then resolution; 0 when not open. */
int64_t tracking_ledger_due(const Whistle__V1__Case *c);
/* Writes `c` and keeps every index and its verification-window row right. */
int tracking_ledger_put(wh_store_t *st, MDB_txn *txn, const Whistle__V1__Case *c,
                        const struct tracking_before *before);
/* Appends `entry` as line `n` (1-based) of the case's history. */
int tracking_ledger_history_add(wh_store_t *st, MDB_txn *txn, const char *id, uint64_t n,
                                const Whistle__V1__HistoryEntry *entry);
/* Reads the whole history of `id` into a malloc'd array (free each with
 * whistle__v1__history_entry__free_unpacked, then the array). Returns the count or < 0. */
int tracking_ledger_history(wh_store_t *st, MDB_txn *txn, const char *id,
                            Whistle__V1__HistoryEntry ***out);
/* Whether a listed case is kept (who may read it): 1 or 0. */
typedef int (*tracking_keep_fn)(const void *arg, const Whistle__V1__Case *c);
/* Lists cases matching `q` in id order, from an index when a filter is given (q->overdue:
 * open cases past their deadline at `now_ms`, most overdue first), skipping those `keep`
 * rejects (NULL: none) before they count against the limit, so next_after stays exact. Fills
 * a malloc'd array of unpacked cases (*out, *n) and next_after (>= 32 bytes, "" when no
 * more). */
int tracking_ledger_list(wh_store_t *st, MDB_txn *txn, const Whistle__V1__ListCases *q,
                         int64_t now_ms, tracking_keep_fn keep, const void *keep_arg,
                         Whistle__V1__Case ***out, size_t *n, char *next_after);

/* ---- rebuild.c ---------------------------------------------------------------------------- */

/* Rebuilds the empty tracking data folder o->data_dir from notification's all/ topic (at
 * o->upstream_api[notification], keyed with o->service_key when o->keys is set): ledger,
 * indexes, visits, tracking's own log and the routing cursor. 0, WH_ESTATE when the folder is
 * not empty, WH_EGONE when all/ no longer starts at tracking/1, or a transport or storage
 * error. */
int tracking_rebuild(const struct wh_options *o);

/* ---- visits.c: the grid ledger's visit hours ------------------------------------------- */

#define TRACKING_VISIT_MIN_MINUTES 300 /* 5 hours a week (网格员每周下沉走访不少于5小时) */

/* Checks a LogVisit against the catalog: known grid, one of its staff, 1..1440 minutes. */
int tracking_visits_check(const struct wh_catalog *cat, const Whistle__V1__LogVisit *v,
                          struct wh_field_error *err);
/* The ISO week ("2026-W48") and normalised date of `date` (YYYY-MM-DD, "" = today), local
 * time; WH_EFIELD when malformed or in the future. */
int tracking_visits_week_of(const char *date, int64_t today_ms, char *week, size_t len,
                            char *date_out, size_t date_len);
/* Adds `minutes` to staff's week in grid; *total gets the week's sum. */
int tracking_visits_add(wh_store_t *st, MDB_txn *txn, const char *week, const char *grid,
                        const char *staff, uint32_t minutes, uint32_t *total);
/* Fills `out` with every staff member's minutes that week (free with tracking_visits_free). */
int tracking_visits_report(wh_store_t *st, MDB_txn *txn, const struct wh_catalog *cat,
                           const Whistle__V1__Visits *q, Whistle__V1__VisitsReply *out,
                           struct wh_field_error *err);
void tracking_visits_free(Whistle__V1__VisitsReply *out);
/* Drops the rows of grids `who` may not read (tracking_may_read_grid) and recounts
 * short_count over the rows kept. */
void tracking_visits_keep(Whistle__V1__VisitsReply *out, const struct wh_identity *who,
                          const struct wh_catalog *cat);
/* Keeps visit `v` (logged as tracking's log entry `seq`) with its note in "visit_log". */
int tracking_visits_record(wh_store_t *st, MDB_txn *txn, const Whistle__V1__VisitLogged *v,
                           uint64_t seq);
/* Called with each visit kept; non-zero stops the walk and is returned. */
typedef int (*tracking_visit_fn)(void *arg, const Whistle__V1__VisitLogged *v);
/* Walks the visits of `grid` dated [from_date, to_date) (YYYY-MM-DD) in date order, then in
 * the order they were logged. 0, what `fn` returned, or WH_ESTORE. */
int tracking_visits_each(wh_store_t *st, MDB_txn *txn, const char *grid, const char *from_date,
                         const char *to_date, tracking_visit_fn fn, void *arg);

/* ---- book.c: a grid's book (一格一账本) ----------------------------------------------------
 *
 * One grid for a period (q->period as tracking_period_parse, "" = the month of now_ms): its
 * community, township or street and households (catalog); its 1+3 staff with the minutes and
 * visits of the period; each visit dated in it with its note (visit_log); the cases of the grid
 * reported in it (report.reported_at_ms, else the case's created_at_ms), with the dates of
 * their DISPATCH, last RESOLVE and closing (the VERIFY that closed, or the REFUSE); and every
 * case of the grid open now (neither CLOSED nor REFUSED), whenever reported. Rows past
 * TRACKING_BOOK_BUDGET bytes of text are counted in *_not_listed instead. O(cases of the grid
 * + their history + visits of the period), in one txn. */
#define TRACKING_BOOK_BUDGET (8u << 20)
/* Fills `out` (initialised here; the caller frees with tracking_book_free, also after a
 * failure). 0, WH_EFIELD with err->field grid_ledger.grid or .period, or a storage error. */
int tracking_book_compute(wh_store_t *st, MDB_txn *txn, const struct wh_catalog *cat,
                          const Whistle__V1__GridLedger *q, int64_t now_ms,
                          Whistle__V1__LedgerReply *out, struct wh_field_error *err);
void tracking_book_free(Whistle__V1__LedgerReply *out);

#define TRACKING_TABLES                                                                     \
    "cases", "history", "idx_state", "idx_dept", "idx_grid", "idx_unit", "idx_due", "verify_due", \
        "visits", "visit_log"
/* ---- period.c: assessment periods -------------------------------------------------------- */

/* Parses an assessment period into [*from_ms, *to_ms) in the process's local time zone (TZ):
 * an ISO 8601 week "2026-W48" (Monday 00:00 to the next Monday; week 1 holds January 4), a
 * month "2026-11", a quarter "2026-Q4" or a year "2026" (years 1970..9999). Returns 0, or
 * WH_EFIELD for anything else ("2026-W54", "2021-W53", "2026-13", "2026-Q5", "2026-w48")
 * and leaves the outputs untouched. */
int tracking_period_parse(const char *spec, int64_t *from_ms, int64_t *to_ms);

/* The kind of an assessment period that tracking_period_parse accepts: "week", "month",
 * "quarter" or "year"; NULL when it is none. */
const char *tracking_period_kind(const char *spec);
/* The period before `spec`, of the same kind, into `out` ("2026-W01" -> "2025-W53" when 2025
 * has 53 weeks, "2026-01" -> "2025-12", "2026-Q1" -> "2025-Q4", "2026" -> "2025"). 0, or
 * WH_EFIELD when `spec` is no period or the one before is before 1970. */
int tracking_period_previous(const char *spec, char *out, size_t len);
/* The ISO weeks ("2026-W48", NUL-terminated) of period `spec` that began by `until_ms`: a week
 * belongs to the month, quarter or year that holds its Thursday (as ISO 8601 puts a week in its
 * year); a week is its own. Writes at most `max`; returns how many. */
size_t tracking_period_weeks(const char *spec, int64_t until_ms, char (*weeks)[9], size_t max);

/* ---- figures.c: assessment figures (周调度/月通报/季点评/年考核) --------------------------
 *
 * The cases of a period: those whose DISPATCH history line is in [from, to) of q->period (see
 * tracking_period_parse); refused cases never count. q->unit (a township or street): by
 * department or grid only the cases whose lead is that unit or one of its communities; by
 * township only that unit's row, ranked among all. Everything that happened to such a case
 * since, also after the period, counts for it (a cohort: recent periods still move).
 *   by department  one row per department (assignment kind "") assigned to such a case
 *                  (RELEASED and RETURNED included); dispatched = assignments; checked_in =
 *                  with a CHECKIN line of that department at or after its assigned_at_ms;
 *                  check-in time = that CHECKIN - assigned_at_ms; on time against the
 *                  deadline the (re)assigning line set (docs/figures.md).
 *   by assignee    the same for the other kinds (station, volunteer, community; ACCEPT is
 *                  their check-in); declined orders count in `declined` only.
 *   by issuer      community tasks whose first line (DISPATCH or REFUSE) is in the period,
 *                  per report.task.issuer: tasks, admitted, refused, unlisted, completed,
 *                  closed; no rates. A case's dispatch is its DISPATCH line, or the BLOW or
 *                  HAND_OVER after a review; a case in REVIEW counts nowhere.
 *   by township    the case's lead unit (a leading community counts for its unit); by grid:
 *                  report.grid. dispatched = cases; checked_in = the case has a CHECKIN line;
 *                  check-in time = the first CHECKIN of any department - DISPATCH.
 *   on time        that first CHECKIN at <= the check-in deadline in force at dispatch: the
 *                  case's checkin_deadline_ms when it has no ESCALATE line (only escalations
 *                  move deadlines), else DISPATCH at + the catalog's checkin_ms of the whistle
 *                  named at the start of the DISPATCH note (the one routing blew).
 *   released       by department: the assignment is RELEASED and the department has a RETURN
 *                  line (returned with a reason, moved away): neither on time nor missed.
 *   missed         not released, not checked in on time, and checked in late or the deadline
 *                  passed by now_ms.
 *   per case, added to every row the case counts for: resolved (办结) = the case is CLOSED
 *   (resolve time = its last RESOLVE - DISPATCH); verified = a VERIFY line of any verdict, or
 *   CLOSED; verified_by_default = a VERIFY line with by_default; satisfied = a VERIFY line
 *   with satisfied and not by_default; reopened = reopen_count > 0; escalations = ESCALATE
 *   lines, supervised = those at 督办 or above (tracking_figures_supervised).
 *   response = on_time / (dispatched - released), resolution = resolved / dispatched,
 *   satisfaction = satisfied / (verified - verified_by_default); a rate whose denominator is 0
 *   has no value (has_* false, 0.0); score = the mean of the rates with a value, none when no
 *   rate has one; rows ranked 1.. with a score first, by score desc, then key asc. p50/p90:
 *   nearest rank (the ceil(0.5 n)-th and ceil(0.9 n)-th smallest duration), 0 when none; a
 *   negative duration (clock skew) counts as 0.
 * Reads every case and the history of every case not refused in `txn`: O(ledger). */

/* Computes the figures asked by `q` at `now_ms` into `out` (initialised here; strings and
 * rows are malloc'd: the caller frees with tracking_figures_free, also after a failure). `cat`
 * (not NULL) gives names, units of communities, check-in periods and the ladder. Returns 0,
 * WH_EFIELD with err->field "figures.period", "figures.by" or "figures.unit", or a storage /
 * memory error; `err` is filled on every failure. */
int tracking_figures_compute(wh_store_t *st, MDB_txn *txn, const struct wh_catalog *cat,
                             const Whistle__V1__Figures *q, int64_t now_ms,
                             Whistle__V1__FiguresReply *out, struct wh_field_error *err);
/* Whether the ESCALATE history line with `note` ("supervise: ...") is a step at 督办 or above:
 * a step of the catalog's ladder from "supervise" on (every step when the ladder has none), or
 * a step off the ladder ("manual"). Copies the step's name into `step` when not NULL. */
/* The township or street case `c` counts for: its lead unit, or the unit of the community
 * leading it (its code as it was when gone from the catalog). */
const char *tracking_figures_case_unit(const struct wh_catalog *cat, const Whistle__V1__Case *c);
int tracking_figures_supervised(const struct wh_catalog *cat, const char *note, char *step,
                                size_t len);
/* Frees what tracking_figures_compute put into `out` and re-initialises it; safe to repeat. */
void tracking_figures_free(Whistle__V1__FiguresReply *out);
/* Drops the rows `who` may not see (tracking_may_read_figure_row; a township asking by
 * department for its own `unit` sees every row); the rows kept keep their rank among all. */
void tracking_figures_keep(Whistle__V1__FiguresReply *out, const struct wh_identity *who,
                           const struct wh_catalog *cat, const char *unit);

/* ---- bulletin.c: the bulletin of a period (周调度/月通报/季点评/年考核) ----------------------- */

/* Reads everything of Bulletin `q` at `now_ms` in `txn` into `out` (initialised here; the
 * caller frees with tracking_bulletin_free, also after a failure): figures by department and
 * by township for the period and the one before, the worst overdue cases, every escalation
 * step to 督办 and above taken in the period, and the grid staff under 5 hours in a week of
 * the period. Returns 0, WH_EFIELD (bulletin.period, bulletin.unit, bulletin.overdue_limit)
 * with `err`, or a storage / memory error. */
int tracking_bulletin_compute(wh_store_t *st, MDB_txn *txn, const struct wh_catalog *cat,
                              const Whistle__V1__Bulletin *q, int64_t now_ms,
                              Whistle__V1__BulletinReply *out, struct wh_field_error *err);
void tracking_bulletin_free(Whistle__V1__BulletinReply *out);


#endif
