/* bulletin.c: whistlectl bulletin, the period's 周调度 / 月通报 / 季点评 / 年考核 as a document a
 * district office circulates, and the figures' cells report --period shares with it.
 *
 * Tracking reads everything in one transaction (the Bulletin request: the rankings of the
 * period and of the one before, the overdue cases, the escalations to 督办 and above, the grid
 * staff under 5 hours), so the sections agree with each other. Here it is laid out once as a
 * list of tables (a title, columns, rows of cells) and written in one of three forms:
 * markdown, one self-contained HTML file (inline CSS, every text escaped), or CSV (one block
 * per section: a header row `section,...`, then rows whose first cell is the section's id; a
 * blank line between blocks). A rate with no value is "—", an empty CSV cell. */
#include "bulletin.h"
#include "ctl.h"
#include "whistle/json.h"
#include "whistle/options.h"
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_NONE "—"
#define S_MAX_COLS 12

/* ---- shared with report --period --------------------------------------------------------- */

const char *ctl_rate(char *buf, size_t n, int has, double rate)
{
    if (has)
        snprintf(buf, n, "%.1f%%", 100.0 * rate);
    else
        snprintf(buf, n, "%s", S_NONE);
    return buf;
}

const char *ctl_score(char *buf, size_t n, int has, double score)
{
    if (has)
        snprintf(buf, n, "%.1f", 100.0 * score);
    else
        snprintf(buf, n, "%s", S_NONE);
    return buf;
}

const char *ctl_csv_rate(char *buf, size_t n, int has, double rate)
{
    if (has)
        snprintf(buf, n, "%.6f", rate);
    else if (n)
        buf[0] = 0;
    return buf;
}

/* Sets each rate (and the score) of a row object with no value to null. */
static void s_json_nulls(json_t *row, const Whistle__V1__FigureRow *r)
{
    if (!r->has_response_rate) json_object_set_new(row, "response_rate", json_null());
    if (!r->has_resolution_rate) json_object_set_new(row, "resolution_rate", json_null());
    if (!r->has_satisfaction_rate) json_object_set_new(row, "satisfaction_rate", json_null());
    if (!r->has_score) json_object_set_new(row, "score", json_null());
}

static void s_json_figures_nulls(json_t *o, const Whistle__V1__FiguresReply *fr)
{
    json_t *rows = o ? json_object_get(o, "rows") : NULL;
    for (size_t i = 0; fr && rows && i < fr->n_rows && i < json_array_size(rows); i++)
        s_json_nulls(json_array_get(rows, i), fr->rows[i]);
}

static void s_json_print(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    printf("%s\n", s ? s : "null");
    free(s);
}

void ctl_figures_json(const Whistle__V1__FiguresReply *fr)
{
    json_t *j = wh_message_to_json(&fr->base);
    s_json_figures_nulls(j, fr);
    s_json_print(j);
    json_decref(j);
}

void ctl_scorecard_print(FILE *out, const Whistle__V1__FiguresReply *town)
{
    char a[16], b[16], c[16], d[16];
    if (!town || town->n_rows == 0) {
        fprintf(out, "\nscorecard: no case of this unit was dispatched in %s\n",
                town ? town->period : "");
        return;
    }
    const Whistle__V1__FigureRow *r = town->rows[0];
    fprintf(out, "\nscorecard of %s %s, %s: rank %u among the townships and streets, score %s\n",
            r->key, r->name, town->period, r->rank, ctl_score(d, sizeof d, r->has_score, r->score));
    fprintf(out,
            "  response %s (%u of %u on time)  resolution %s (%u of %u closed)  "
            "satisfaction %s (%u of %u answered)\n",
            ctl_rate(a, sizeof a, r->has_response_rate, r->response_rate), r->checked_in_on_time,
            r->dispatched, ctl_rate(b, sizeof b, r->has_resolution_rate, r->resolution_rate),
            r->resolved, r->dispatched,
            ctl_rate(c, sizeof c, r->has_satisfaction_rate, r->satisfaction_rate), r->satisfied,
            r->verified - r->verified_by_default);
    fprintf(out, "  escalations %u (%u to 督办 or above)  missed check-ins %u  reopened %u\n",
            r->escalations, r->supervised, r->missed_checkins, r->reopened);
}

/* ---- the document: tables of cells ------------------------------------------------------- */

struct s_cell {
    char *text; /* as people read it */
    char *csv;  /* for CSV when it differs (a rate as a fraction, "" for none); NULL: text */
};

struct s_table {
    const char *id; /* the section's id: HTML id, CSV first cell */
    char *title;    /* "部门排名 (rankings)" */
    char *note;     /* a line under the title, or NULL */
    const char *cols[S_MAX_COLS];
    const char *csv_cols[S_MAX_COLS]; /* CSV header names */
    size_t n_cols;
    struct s_cell *cells; /* n_rows * n_cols */
    size_t n_rows, cap;
};

struct s_doc {
    char *title;
    char *meta[6]; /* lines under the title */
    size_t n_meta;
    struct s_table tables[8];
    size_t n_tables;
    int oom;
};

static char *s_printf(struct s_doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *s_printf(struct s_doc *d, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s) vsnprintf(s, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    va_end(ap);
    if (!s) d->oom = 1;
    return s;
}

/* A new table: `cols` alternates people's header and CSV header, NULL-terminated. */
static struct s_table *s_table(struct s_doc *d, const char *id, char *title, ...)
{
    struct s_table *t = &d->tables[d->n_tables++];
    memset(t, 0, sizeof *t);
    t->id = id;
    t->title = title;
    va_list ap;
    va_start(ap, title);
    const char *c;
    while ((c = va_arg(ap, const char *)) && t->n_cols < S_MAX_COLS) {
        t->cols[t->n_cols] = c;
        t->csv_cols[t->n_cols++] = va_arg(ap, const char *);
    }
    va_end(ap);
    return t;
}

/* Appends a row of n_cols cells: pairs (text, csv) where csv may be NULL. */
static void s_row(struct s_doc *d, struct s_table *t, ...)
{
    if (t->n_rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        void *p = realloc(t->cells, cap * t->n_cols * sizeof *t->cells);
        if (!p) {
            d->oom = 1;
            return;
        }
        t->cells = p;
        t->cap = cap;
    }
    struct s_cell *row = &t->cells[t->n_rows * t->n_cols];
    va_list ap;
    va_start(ap, t);
    for (size_t i = 0; i < t->n_cols; i++) {
        const char *text = va_arg(ap, const char *), *csv = va_arg(ap, const char *);
        row[i].text = strdup(text ? text : "");
        row[i].csv = csv ? strdup(csv) : NULL;
        if (!row[i].text || (csv && !row[i].csv)) d->oom = 1;
    }
    va_end(ap);
    t->n_rows++;
}

static void s_doc_free(struct s_doc *d)
{
    free(d->title);
    for (size_t i = 0; i < d->n_meta; i++)
        free(d->meta[i]);
    for (size_t k = 0; k < d->n_tables; k++) {
        struct s_table *t = &d->tables[k];
        for (size_t i = 0; i < t->n_rows * t->n_cols; i++) {
            free(t->cells[i].text);
            free(t->cells[i].csv);
        }
        free(t->cells);
        free(t->title);
        free(t->note);
    }
}

/* ---- what goes in it ----------------------------------------------------------------------- */

static const char *s_title_of(const char *kind)
{
    if (strcmp(kind, "week") == 0) return "周调度";
    if (strcmp(kind, "quarter") == 0) return "季点评";
    if (strcmp(kind, "year") == 0) return "年考核";
    return "月通报";
}

static void s_time(char *buf, size_t n, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M", &tm);
}

/* "3天4小时" style, as "3d 04:05" (days, hours:minutes). */
static void s_span(char *buf, size_t n, int64_t ms)
{
    if (ms < 0) ms = 0;
    int64_t m = ms / 60000;
    if (m >= 1440)
        snprintf(buf, n, "%" PRId64 "d %02" PRId64 ":%02" PRId64, m / 1440, m / 60 % 24, m % 60);
    else
        snprintf(buf, n, "%02" PRId64 ":%02" PRId64, m / 60, m % 60);
}

static const Whistle__V1__FigureRow *s_find(const Whistle__V1__FiguresReply *fr, const char *key)
{
    for (size_t i = 0; fr && i < fr->n_rows; i++)
        if (strcmp(fr->rows[i]->key, key) == 0) return fr->rows[i];
    return NULL;
}

/* A ranking: each row beside its rank and score of the previous period, and the change. */
static void s_ranking(struct s_doc *d, struct s_table *t, const Whistle__V1__FiguresReply *cur,
                      const Whistle__V1__FiguresReply *prev, int townships)
{
    for (size_t i = 0; cur && i < cur->n_rows; i++) {
        const Whistle__V1__FigureRow *r = cur->rows[i], *p = s_find(prev, r->key);
        char rank[16], prank[16], chg[32], resp[16], resol[16], sat[16], sc[16], psc[16];
        char cresp[32], cresol[32], csat[32], csc[32], cpsc[32], disp[16], extra[32], cchg[16];
        snprintf(rank, sizeof rank, "%u", r->rank);
        if (p)
            snprintf(prank, sizeof prank, "%u", p->rank);
        else
            snprintf(prank, sizeof prank, "%s", S_NONE);
        if (!p)
            snprintf(chg, sizeof chg, "新 new");
        else if (p->rank > r->rank)
            snprintf(chg, sizeof chg, "↑%u", p->rank - r->rank);
        else if (p->rank < r->rank)
            snprintf(chg, sizeof chg, "↓%u", r->rank - p->rank);
        else
            snprintf(chg, sizeof chg, "=");
        /* CSV: places gained since the previous period (negative: lost), "" when new */
        if (p)
            snprintf(cchg, sizeof cchg, "%d", (int)p->rank - (int)r->rank);
        else
            cchg[0] = 0;
        snprintf(disp, sizeof disp, "%u", r->dispatched);
        if (townships)
            snprintf(extra, sizeof extra, "%u / %u", r->escalations, r->supervised);
        else
            snprintf(extra, sizeof extra, "%u", r->missed_checkins);
        s_row(d, t, rank, NULL, prank, p ? prank : "", chg, cchg, r->key, NULL, r->name, NULL, disp,
              NULL, ctl_rate(resp, sizeof resp, r->has_response_rate, r->response_rate),
              ctl_csv_rate(cresp, sizeof cresp, r->has_response_rate, r->response_rate),
              ctl_rate(resol, sizeof resol, r->has_resolution_rate, r->resolution_rate),
              ctl_csv_rate(cresol, sizeof cresol, r->has_resolution_rate, r->resolution_rate),
              ctl_rate(sat, sizeof sat, r->has_satisfaction_rate, r->satisfaction_rate),
              ctl_csv_rate(csat, sizeof csat, r->has_satisfaction_rate, r->satisfaction_rate),
              ctl_score(sc, sizeof sc, r->has_score, r->score),
              ctl_csv_rate(csc, sizeof csc, r->has_score, r->score),
              ctl_score(psc, sizeof psc, p && p->has_score, p ? p->score : 0),
              ctl_csv_rate(cpsc, sizeof cpsc, p && p->has_score, p ? p->score : 0), extra, NULL);
    }
}

static const char *s_step_label(const char *step)
{
    if (strcmp(step, "supervise") == 0) return "督办 supervise";
    if (strcmp(step, "raise") == 0) return "升哨 raise";
    if (strcmp(step, "manual") == 0) return "手动升哨 manual";
    return step;
}

static const char *s_whistle_label(int w)
{
    switch (w) {
    case WHISTLE__V1__WHISTLE__QUICK: return "快捷哨 QUICK";
    case WHISTLE__V1__WHISTLE__EMERGENCY: return "应急哨 EMERGENCY";
    case WHISTLE__V1__WHISTLE__TOUGH: return "攻坚哨 TOUGH";
    default: return S_NONE;
    }
}

static void s_compose(struct s_doc *d, const Whistle__V1__BulletinReply *b)
{
    char t1[32], t2[32], t3[32];
    int unit = b->unit && b->unit[0];
    d->title = s_printf(d, "%s%s %s %s", b->district_name, unit ? b->unit_name : "", b->period,
                        s_title_of(b->kind));
    s_time(t1, sizeof t1, b->from_ms);
    s_time(t2, sizeof t2, b->to_ms);
    s_time(t3, sizeof t3, b->as_of_ms);
    d->meta[d->n_meta++] =
        s_printf(d, "期间 period: %s, cases dispatched from %s to %s", b->period, t1, t2);
    d->meta[d->n_meta++] = s_printf(d, "上期 previous period: %s",
                                    b->previous_period[0] ? b->previous_period : S_NONE);
    d->meta[d->n_meta++] = s_printf(d, "统计时间 as of: %s", t3);
    if (unit) d->meta[d->n_meta++] = s_printf(d, "乡街 unit: %s %s", b->unit, b->unit_name);

    struct s_table *t = s_table(
        d, "rankings",
        s_printf(d, "部门排名 Departments ranked%s", unit ? " (over this unit's cases)" : ""),
        "名次 rank", "rank", "上期 previous", "previous_rank", "变化 change", "rank_change",
        "部门 department", "key", "名称 name", "name", "派单 dispatched", "dispatched",
        "响应率 response", "response_rate", "办结率 resolution", "resolution_rate",
        "满意率 satisfaction", "satisfaction_rate", "得分 score", "score",
        "上期得分 previous score", "previous_score", "未按时报到 missed", "missed_checkins", NULL);
    s_ranking(d, t, b->departments, b->departments_previous, 0);

    t = s_table(d, unit ? "scorecard" : "townships",
                s_printf(d, "%s",
                         unit ? "本乡街成绩 The unit's scorecard (ranked among all)"
                              : "乡街排名 Townships and streets ranked"),
                "名次 rank", "rank", "上期 previous", "previous_rank", "变化 change", "rank_change",
                "乡街 unit", "key", "名称 name", "name", "派单 dispatched", "dispatched",
                "响应率 response", "response_rate", "办结率 resolution", "resolution_rate",
                "满意率 satisfaction", "satisfaction_rate", "得分 score", "score",
                "上期得分 previous score", "previous_score", "升级/督办以上 escalations",
                "escalations_supervised", NULL);
    s_ranking(d, t, b->townships, b->townships_previous, 1);

    t = s_table(d, "overdue", s_printf(d, "超期案件 Overdue cases, the longest first"), "案件 case",
                "case_id", "牵头 lead", "lead_unit", "网格 grid", "grid", "事项 matter", "matter",
                "哨 whistle", "whistle", "状态 state", "state", "期限 deadline", "deadline",
                "到期 due", "due", "超期 overdue by", "overdue_ms", "未报到 waiting", "waiting",
                NULL);
    t->note = s_printf(d, "%u open case(s) past their deadline as of %s; %zu listed",
                       b->overdue_total, t3, b->n_overdue);
    for (size_t i = 0; i < b->n_overdue; i++) {
        const Whistle__V1__BulletinOverdue *o = b->overdue[i];
        char due[32], by[32], cby[32], wait[256] = "";
        s_time(due, sizeof due, o->due_ms);
        s_span(by, sizeof by, b->as_of_ms - o->due_ms);
        snprintf(cby, sizeof cby, "%" PRId64, b->as_of_ms - o->due_ms);
        for (size_t k = 0; k < o->n_waiting; k++) {
            size_t n = strlen(wait);
            snprintf(wait + n, sizeof wait - n, "%s%s", k ? " " : "", o->waiting[k]);
        }
        s_row(d, t, o->case_id, NULL, o->lead_unit, NULL, o->grid, NULL, o->matter, NULL,
              s_whistle_label(o->whistle), wh_whistle_name(o->whistle), wh_state_name(o->state),
              NULL, o->checkin ? "报到 check-in" : "办结 resolution",
              o->checkin ? "checkin" : "resolution", due, NULL, by, cby, wait, NULL);
    }

    t = s_table(d, "escalations", s_printf(d, "督办及以上 Escalations to 督办 and above"),
                "时间 at", "at", "案件 case", "case_id", "步骤 step", "step", "发起 actor", "actor",
                "牵头 lead", "lead_unit", "网格 grid", "grid", "现哨 whistle now", "whistle",
                "状态 state", "state", "原因 reason", "reason", NULL);
    t->note = s_printf(d, "%u step(s) in the period%s", b->escalations_total,
                       b->escalations_total > b->n_escalations ? "; the first 1,000 listed" : "");
    for (size_t i = 0; i < b->n_escalations; i++) {
        const Whistle__V1__BulletinEscalation *x = b->escalations[i];
        char at[32];
        s_time(at, sizeof at, x->at_ms);
        s_row(d, t, at, NULL, x->case_id, NULL, s_step_label(x->step), x->step, x->actor, NULL,
              x->lead_unit, NULL, x->grid, NULL, s_whistle_label(x->whistle),
              wh_whistle_name(x->whistle), wh_state_name(x->state), NULL, x->reason, NULL);
    }

    t = s_table(d, "missed", s_printf(d, "未按时报到的部门 Departments with missed check-ins"),
                "部门 department", "key", "名称 name", "name", "未按时报到 missed",
                "missed_checkins", "派单 dispatched", "dispatched", "退单改派 released", "released",
                "响应率 response", "response_rate", NULL);
    for (size_t i = 0; b->departments && i < b->departments->n_rows; i++) {
        const Whistle__V1__FigureRow *r = b->departments->rows[i];
        if (!r->missed_checkins) continue;
        char m[16], n[16], rel[16], resp[16], cresp[32];
        snprintf(m, sizeof m, "%u", r->missed_checkins);
        snprintf(n, sizeof n, "%u", r->dispatched);
        snprintf(rel, sizeof rel, "%u", r->released);
        s_row(d, t, r->key, NULL, r->name, NULL, m, NULL, n, NULL, rel, NULL,
              ctl_rate(resp, sizeof resp, r->has_response_rate, r->response_rate),
              ctl_csv_rate(cresp, sizeof cresp, r->has_response_rate, r->response_rate));
    }

    t = s_table(d, "visits", s_printf(d, "走访不足5小时 Grid staff under 5 hours a week"),
                "网格 grid", "grid", "社区 community", "community", "姓名 staff", "staff",
                "角色 role", "role", "不足周数 weeks short", "weeks_short", "小时 hours", "minutes",
                NULL);
    t->note = s_printf(d, "%u ISO week(s) of the period begun by %s counted", b->weeks, t3);
    for (size_t i = 0; i < b->n_short_staff; i++) {
        const Whistle__V1__BulletinShortStaff *s = b->short_staff[i];
        char w[32], h[32], cm[16];
        snprintf(w, sizeof w, "%u / %u", s->weeks_short, s->weeks);
        snprintf(h, sizeof h, "%u:%02u", s->minutes / 60, s->minutes % 60);
        snprintf(cm, sizeof cm, "%u", s->minutes);
        char ws[16];
        snprintf(ws, sizeof ws, "%u", s->weeks_short);
        s_row(d, t, s->grid, NULL, s->community, NULL, s->staff, NULL,
              strcmp(s->role, "leader") == 0 ? "网格长 leader" : "网格员 worker", s->role, w, ws, h,
              cm);
    }
}

/* ---- the three forms ------------------------------------------------------------------------- */

static void s_md_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n' || *s == '\r')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
}

static void s_write_md(FILE *f, const struct s_doc *d)
{
    fprintf(f, "# %s\n\n", d->title);
    for (size_t i = 0; i < d->n_meta; i++)
        fprintf(f, "- %s\n", d->meta[i]);
    for (size_t k = 0; k < d->n_tables; k++) {
        const struct s_table *t = &d->tables[k];
        fprintf(f, "\n## %zu. %s\n\n", k + 1, t->title);
        if (t->note) fprintf(f, "%s\n\n", t->note);
        if (t->n_rows == 0) {
            fprintf(f, "无 (none)\n");
            continue;
        }
        for (size_t c = 0; c < t->n_cols; c++)
            fprintf(f, "| %s ", t->cols[c]);
        fprintf(f, "|\n");
        for (size_t c = 0; c < t->n_cols; c++)
            fprintf(f, "|---");
        fprintf(f, "|\n");
        for (size_t r = 0; r < t->n_rows; r++) {
            for (size_t c = 0; c < t->n_cols; c++) {
                fputs("| ", f);
                s_md_text(f, t->cells[r * t->n_cols + c].text);
                fputc(' ', f);
            }
            fprintf(f, "|\n");
        }
    }
}

static void s_html_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

static void s_write_html(FILE *f, const struct s_doc *d)
{
    fputs("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n<title>", f);
    s_html_text(f, d->title);
    fputs("</title>\n<style>\n"
          "body{font-family:\"Noto Sans CJK SC\",\"Microsoft YaHei\",sans-serif;margin:2em;"
          "color:#222}\n"
          "h1{font-size:1.6em;border-bottom:3px solid #b22;padding-bottom:.3em}\n"
          "h2{font-size:1.2em;margin-top:1.6em;color:#b22}\n"
          "table{border-collapse:collapse;margin:.5em 0;font-size:.9em}\n"
          "th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left}\n"
          "th{background:#f3e9e9}\n"
          "tr:nth-child(even) td{background:#fafafa}\n"
          ".meta{color:#555;margin:.1em 0}\n.note{color:#555}\n.none{color:#888}\n"
          "@media print{body{margin:0}}\n"
          "</style>\n</head>\n<body>\n<h1>",
          f);
    s_html_text(f, d->title);
    fputs("</h1>\n", f);
    for (size_t i = 0; i < d->n_meta; i++) {
        fputs("<p class=\"meta\">", f);
        s_html_text(f, d->meta[i]);
        fputs("</p>\n", f);
    }
    for (size_t k = 0; k < d->n_tables; k++) {
        const struct s_table *t = &d->tables[k];
        fprintf(f, "<section id=\"%s\">\n<h2>%zu. ", t->id, k + 1);
        s_html_text(f, t->title);
        fputs("</h2>\n", f);
        if (t->note) {
            fputs("<p class=\"note\">", f);
            s_html_text(f, t->note);
            fputs("</p>\n", f);
        }
        if (t->n_rows == 0) {
            fputs("<p class=\"none\">无 (none)</p>\n</section>\n", f);
            continue;
        }
        fputs("<table>\n<thead><tr>", f);
        for (size_t c = 0; c < t->n_cols; c++) {
            fputs("<th>", f);
            s_html_text(f, t->cols[c]);
            fputs("</th>", f);
        }
        fputs("</tr></thead>\n<tbody>\n", f);
        for (size_t r = 0; r < t->n_rows; r++) {
            fputs("<tr>", f);
            for (size_t c = 0; c < t->n_cols; c++) {
                fputs("<td>", f);
                s_html_text(f, t->cells[r * t->n_cols + c].text);
                fputs("</td>", f);
            }
            fputs("</tr>\n", f);
        }
        fputs("</tbody>\n</table>\n</section>\n", f);
    }
    fputs("</body>\n</html>\n", f);
}


static void s_write_csv(FILE *f, const struct s_doc *d, const Whistle__V1__BulletinReply *b)
{
    char t1[32], t2[32], t3[32];
    s_time(t1, sizeof t1, b->from_ms);
    s_time(t2, sizeof t2, b->to_ms);
    s_time(t3, sizeof t3, b->as_of_ms);
    fputs("section,title,period,kind,from,to,as_of,previous_period,unit\r\nbulletin,", f);
    ctl_csv_field(f, d->title);
    fprintf(f, ",%s,%s,%s,%s,%s,%s,", b->period, b->kind, t1, t2, t3, b->previous_period);
    ctl_csv_field(f, b->unit);
    fputs("\r\n", f);
    for (size_t k = 0; k < d->n_tables; k++) {
        const struct s_table *t = &d->tables[k];
        fputs("\r\nsection", f);
        for (size_t c = 0; c < t->n_cols; c++)
            fprintf(f, ",%s", t->csv_cols[c]);
        fputs("\r\n", f);
        for (size_t r = 0; r < t->n_rows; r++) {
            fputs(t->id, f);
            for (size_t c = 0; c < t->n_cols; c++) {
                const struct s_cell *cell = &t->cells[r * t->n_cols + c];
                fputc(',', f);
                ctl_csv_field(f, cell->csv ? cell->csv : cell->text);
            }
            fputs("\r\n", f);
        }
    }
}

/* ---- the command ----------------------------------------------------------------------------- */

static void s_json(const Whistle__V1__BulletinReply *b)
{
    json_t *j = wh_message_to_json(&b->base);
    s_json_figures_nulls(json_object_get(j, "departments"), b->departments);
    s_json_figures_nulls(json_object_get(j, "departments_previous"), b->departments_previous);
    s_json_figures_nulls(json_object_get(j, "townships"), b->townships);
    s_json_figures_nulls(json_object_get(j, "townships_previous"), b->townships_previous);
    s_json_print(j);
    json_decref(j);
}

int ctl_bulletin_run(const struct ctl_bulletin_env *env, int argc, char **argv)
{
    const struct ctl_cmd *cmd = env->cmd;
    Whistle__V1__Bulletin q = WHISTLE__V1__BULLETIN__INIT;
    static const struct option opts[] = {
        {"period", 1, 0, 'p'},  {"unit", 1, 0, 'u'}, {"format", 1, 0, 'f'}, {"out", 1, 0, 'o'},
        {"overdue", 1, 0, 'n'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    unsigned char seen[256] = {0};
    const char *format = NULL, *out = NULL;
    long long n;
    int c;
    while ((c = ctl_getopt(cmd, argc, argv, opts, seen)) != -1) {
        switch (c) {
        case 'p': q.period = optarg; break;
        case 'u': q.unit = optarg; break;
        case 'f': format = optarg; break;
        case 'o': out = optarg; break;
        case 'n':
            if (ctl_number(cmd, "--overdue", optarg, 1, 100, &n)) return CTL_EXIT_USAGE;
            q.overdue_limit = (uint32_t)n;
            break;
        case CTL_HELP: return 0;
        default: return CTL_EXIT_USAGE;
        }
    }
    if (ctl_args(cmd, argc, argv, 0, 0, "")) return CTL_EXIT_USAGE;
    if (!q.period[0])
        return ctl_usage(cmd, "needs --period: an ISO week 2026-W48 (周调度), a month 2026-11 "
                              "(月通报), a quarter 2026-Q4 (季点评) or a year 2026 (年考核)");
    int fmt = -1;
    if (format && strcmp(format, "md") == 0)
        fmt = 0;
    else if (format && strcmp(format, "html") == 0)
        fmt = 1;
    else if (format && strcmp(format, "csv") == 0)
        fmt = 2;
    if (!env->json && fmt < 0)
        return ctl_usage(cmd, "--format must be md, html or csv%s%s%s", format ? ", got '" : "",
                         format ? format : "", format ? "'" : "");
    if (env->json && format) return ctl_usage(cmd, "--json and --format are two outputs; pick one");
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    req.body_case = WHISTLE__V1__REQUEST__BODY_BULLETIN;
    req.bulletin = &q;
    Whistle__V1__Reply *r;
    int rc = env->call(WH_UP_TRACKING, &req, &r);
    if (rc) return rc;
    if (env->json) {
        s_json(r->bulletin);
        whistle__v1__reply__free_unpacked(r, NULL);
        return 0;
    }
    struct s_doc d;
    memset(&d, 0, sizeof d);
    s_compose(&d, r->bulletin);
    if (d.oom) {
        fprintf(stderr, "whistlectl bulletin: out of memory\n");
        rc = CTL_EXIT_REFUSED;
        goto out;
    }
    char tmp[4096];
    FILE *f = stdout;
    if (out) {
        /* written whole or not at all: a temporary file renamed over FILE */
        snprintf(tmp, sizeof tmp, "%s.tmp", out);
        if (!(f = fopen(tmp, "w"))) {
            fprintf(stderr, "whistlectl bulletin: cannot write %s: %s\n", tmp, strerror(errno));
            rc = CTL_EXIT_REFUSED;
            goto out;
        }
    }
    if (fmt == 0)
        s_write_md(f, &d);
    else if (fmt == 1)
        s_write_html(f, &d);
    else
        s_write_csv(f, &d, r->bulletin);
    if (out) {
        int bad = ferror(f);
        if (fclose(f) || bad || rename(tmp, out)) {
            fprintf(stderr, "whistlectl bulletin: cannot write %s: %s\n", out, strerror(errno));
            remove(tmp);
            rc = CTL_EXIT_REFUSED;
            goto out;
        }
    } else {
        fflush(stdout);
    }
out:
    s_doc_free(&d);
    whistle__v1__reply__free_unpacked(r, NULL);
    return rc;
}
