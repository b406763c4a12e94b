/* visits.c: the grid ledger's visit records (一格一账本). Grid leaders and workers log the
 * hours they spend visiting their grid; the weekly report flags anyone under 5 hours.
 * Table "visits": ISO week NUL grid NUL staff -> be32 minutes that week.
 * Table "visit_log": grid NUL YYYY-MM-DD NUL be64(tracking log seq) -> VisitLogged: each visit
 * with its note (民情), for the grid's book (book.c); kept since the book came (visits logged
 * before it are in the weekly sums only, and in it again after a rebuild). */
#include "tracking.h"
#include "whistle/error.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VISIT_KEYMAX 200

static size_t s_key(uint8_t *key, const char *week, const char *grid, const char *staff)
{
    int n = snprintf((char *)key, VISIT_KEYMAX, "%s%c%s%c%s", week, 0, grid, 0, staff);
    return n > 0 && n < VISIT_KEYMAX ? (size_t)n : VISIT_KEYMAX - 1;
}

int tracking_visits_week_of(const char *date, int64_t today_ms, char *week, size_t len,
                            char *date_out, size_t date_len)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!date || !date[0]) {
        time_t t = (time_t)(today_ms / 1000);
        localtime_r(&t, &tm);
    } else {
        const char *end = strptime(date, "%Y-%m-%d", &tm);
        if (!end || *end) return WH_EFIELD;
        tm.tm_hour = 12;
        tm.tm_isdst = -1;
        time_t t = mktime(&tm);
        if (t == (time_t)-1 || (int64_t)t * 1000 > today_ms + 86400000) return WH_EFIELD;
        localtime_r(&t, &tm);
    }
    strftime(week, len, "%G-W%V", &tm);
    strftime(date_out, date_len, "%Y-%m-%d", &tm);
    return 0;
}

static const char *s_role(const struct wh_grid *g, const char *staff)
{
    if (g->leader && strcmp(g->leader, staff) == 0) return "leader";
    for (int i = 0; i < 3; i++)
        if (g->workers[i] && strcmp(g->workers[i], staff) == 0) return "worker";
    return NULL;
}

int tracking_visits_add(wh_store_t *st, MDB_txn *txn, const char *week, const char *grid,
                        const char *staff, uint32_t minutes, uint32_t *total)
{
    uint8_t key[VISIT_KEYMAX];
    size_t klen = s_key(key, week, grid, staff);
    MDB_dbi dbi = wh_store_dbi(st, "visits");
    MDB_val v;
    uint32_t sum = 0;
    int rc = wh_store_get(st, txn, dbi, key, klen, &v);
    if (rc == 0 && v.mv_size == 4) {
        const uint8_t *p = v.mv_data;
        sum = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    } else if (rc && rc != WH_ENOTFOUND) {
        return rc;
    }
    sum += minutes;
    uint8_t out[4] = {(uint8_t)(sum >> 24), (uint8_t)(sum >> 16), (uint8_t)(sum >> 8), (uint8_t)sum};
    if (total) *total = sum;
    return wh_store_put(st, txn, dbi, key, klen, out, 4);
}

/* grid NUL date NUL be64(seq); the date's prefix alone (seq ignored) when `with_seq` is 0 */
static size_t s_log_key(uint8_t *key, const char *grid, const char *date, uint64_t seq,
                        int with_seq)
{
    int n = snprintf((char *)key, VISIT_KEYMAX - 8, "%s%c%s%c", grid, 0, date, 0);
    size_t len = n > 0 && n < VISIT_KEYMAX - 8 ? (size_t)n : VISIT_KEYMAX - 9;
    if (!with_seq) return len;
    wh_be64_put(key + len, seq);
    return len + 8;
}

int tracking_visits_record(wh_store_t *st, MDB_txn *txn, const Whistle__V1__VisitLogged *v,
                           uint64_t seq)
{
    uint8_t key[VISIT_KEYMAX];
    size_t len;
    uint8_t *buf = wh_pack(&v->base, &len);
    if (!buf) return WH_ENOMEM;
    int rc = wh_store_put(st, txn, wh_store_dbi(st, "visit_log"), key,
                          s_log_key(key, v->grid, v->date, seq, 1), buf, len);
    free(buf);
    return rc;
}

int tracking_visits_each(wh_store_t *st, MDB_txn *txn, const char *grid, const char *from_date,
                         const char *to_date, tracking_visit_fn fn, void *arg)
{
    uint8_t key[VISIT_KEYMAX], prefix[VISIT_KEYMAX];
    size_t klen = s_log_key(key, grid, from_date, 0, 0);
    size_t plen = s_log_key(prefix, grid, "", 0, 0) - 1; /* grid NUL */
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, wh_store_dbi(st, "visit_log"), &cur);
    if (rc) return WH_ESTORE;
    MDB_val k = {klen, key}, v;
    int out = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && out == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < plen + 8 || memcmp(k.mv_data, prefix, plen) != 0) break;
        const char *date = (const char *)k.mv_data + plen;
        if (strncmp(date, to_date, strlen(to_date)) >= 0) break; /* [from, to) */
        Whistle__V1__VisitLogged *vl = whistle__v1__visit_logged__unpack(NULL, v.mv_size,
                                                                       v.mv_data);
        if (!vl) {
            out = WH_ESTORE;
            break;
        }
        out = fn(arg, vl);
        whistle__v1__visit_logged__free_unpacked(vl, NULL);
    }
    mdb_cursor_close(cur);
    if (out) return out;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : WH_ESTORE;
}

int tracking_visits_check(const struct wh_catalog *cat, const Whistle__V1__LogVisit *v,
                          struct wh_field_error *err)
{
    const struct wh_grid *g = v->grid ? wh_catalog_grid(cat, v->grid) : NULL;
    if (!g)
        return wh_field_error_set(err, WH_EFIELD, "log_visit.grid", "unknown grid '%s'",
                                  v->grid ? v->grid : "");
    if (wh_check_string(err, "log_visit.staff", v->staff, WH_MAX_SHORT, 1) ||
        wh_check_string(err, "log_visit.note", v->note, WH_MAX_DESCRIPTION, 0))
        return err->code;
    if (!s_role(g, v->staff))
        return wh_field_error_set(err, WH_EFIELD, "log_visit.staff",
                                  "'%s' is not the leader or a worker of grid %s (leader %s)",
                                  v->staff, g->code, g->leader ? g->leader : "-");
    if (v->minutes < 1 || v->minutes > 1440)
        return wh_field_error_set(err, WH_EFIELD, "log_visit.minutes",
                                  "log_visit.minutes must be 1..1440, got %u", v->minutes);
    return 0;
}

/* One row per staff member of grid `g`; returns rows added. */
static size_t s_grid_rows(wh_store_t *st, MDB_txn *txn, const char *week,
                          const struct wh_grid *g, int short_only, Whistle__V1__VisitRow **rows,
                          size_t n, size_t cap, uint32_t *short_count)
{
    const char *staff[4] = {g->leader, g->workers[0], g->workers[1], g->workers[2]};
    size_t added = 0;
    for (int i = 0; i < 4; i++) {
        if (!staff[i]) continue;
        uint8_t key[VISIT_KEYMAX];
        MDB_val v;
        uint32_t minutes = 0;
        if (wh_store_get(st, txn, wh_store_dbi(st, "visits"), key, s_key(key, week, g->code, staff[i]),
                         &v) == 0 && v.mv_size == 4) {
            const uint8_t *p = v.mv_data;
            minutes = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        }
        int under = minutes < TRACKING_VISIT_MIN_MINUTES;
        if (under) (*short_count)++;
        if ((short_only && !under) || n + added >= cap) continue;
        Whistle__V1__VisitRow *r = calloc(1, sizeof *r);
        whistle__v1__visit_row__init(r);
        r->grid = (char *)g->code;
        r->staff = (char *)staff[i];
        r->role = i == 0 ? "leader" : "worker";
        r->minutes = minutes;
        r->under_minimum = under;
        rows[n + added++] = r;
    }
    return added;
}

int tracking_visits_report(wh_store_t *st, MDB_txn *txn, const struct wh_catalog *cat,
                           const Whistle__V1__Visits *q, Whistle__V1__VisitsReply *out,
                           struct wh_field_error *err)
{
    int64_t from, to;
    if (!q->week || !strstr(q->week, "-W") || tracking_period_parse(q->week, &from, &to))
        return wh_field_error_set(err, WH_EFIELD, "visits.week",
                                  "visits.week must be an ISO week such as 2026-W48");
    const struct wh_grid *one = NULL;
    if (q->grid && q->grid[0] && !(one = wh_catalog_grid(cat, q->grid)))
        return wh_field_error_set(err, WH_EFIELD, "visits.grid", "unknown grid '%s'", q->grid);
    size_t cap = one ? 4 : cat->n_grids * 4;
    out->rows = calloc(cap ? cap : 1, sizeof *out->rows);
    if (!out->rows) return WH_ENOMEM;
    out->week = q->week;
    size_t n = 0;
    for (size_t i = 0; i < cat->n_grids; i++) {
        const struct wh_grid *g = &cat->grids[i];
        if (one && g != one) continue;
        n += s_grid_rows(st, txn, q->week, g, q->short_only, out->rows, n, cap, &out->short_count);
    }
    out->n_rows = n;
    return 0;
}

void tracking_visits_keep(Whistle__V1__VisitsReply *out, const struct wh_identity *who,
                          const struct wh_catalog *cat)
{
    size_t kept = 0;
    uint32_t short_count = 0;
    for (size_t i = 0; i < out->n_rows; i++) {
        Whistle__V1__VisitRow *r = out->rows[i];
        if (!tracking_may_read_grid(who, cat, r->grid)) {
            free(r);
            continue;
        }
        if (r->under_minimum) short_count++;
        out->rows[kept++] = r;
    }
    /* every under-minimum row of a kept grid is listed (short_only lists only those) */
    out->n_rows = kept;
    out->short_count = short_count;
}

void tracking_visits_free(Whistle__V1__VisitsReply *out)
{
    for (size_t i = 0; i < out->n_rows; i++) free(out->rows[i]);
    free(out->rows);
    out->rows = NULL;
    out->n_rows = 0;
}
