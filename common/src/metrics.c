/* metrics.c: series of counters, gauges and histograms built as whistle.v1.Metric (every
 * string and array malloc'd, so protobuf-c's free_unpacked frees a whole set), and the
 * Prometheus text format 0.0.4 of several StatsReply together: one HELP and TYPE per family
 * across services, a service label on every series, escaping as the format says. */
#include "whistle/metrics.h"
#include "whistle/codec.h"
#include "whistle/error.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- histograms -------------------------------------------------------------------------- */

void wh_histogram_init(struct wh_histogram *h, const double *le, size_t n)
{
    memset(h, 0, sizeof *h);
    h->n = n < WH_HISTOGRAM_MAX ? n : WH_HISTOGRAM_MAX;
    memcpy(h->le, le, h->n * sizeof *le);
}

void wh_histogram_observe(struct wh_histogram *h, double v)
{
    for (size_t i = 0; i < h->n; i++) {
        if (v <= h->le[i]) {
            h->in[i]++;
            break;
        }
    }
    h->sum += v;
    h->count++;
}

/* ---- building ---------------------------------------------------------------------------- */

struct wh_metrics {
    Whistle__V1__StatsReply reply; /* every pointer in it malloc'd */
    size_t cap;                    /* of reply.metrics */
    int incomplete;                /* an add failed for lack of memory */
};

wh_metrics_t *wh_metrics_new(const char *service)
{
    wh_metrics_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    whistle__v1__stats_reply__init(&self->reply);
    if (!(self->reply.service = strdup(service ? service : ""))) {
        free(self);
        return NULL;
    }
    return self;
}

void wh_metrics_destroy(wh_metrics_t **self_p)
{
    if (!self_p || !*self_p) return;
    wh_metrics_t *self = *self_p;
    *self_p = NULL;
    for (size_t i = 0; i < self->reply.n_metrics; i++)
        whistle__v1__metric__free_unpacked(self->reply.metrics[i], NULL);
    free(self->reply.metrics);
    free(self->reply.service);
    free(self);
}

const Whistle__V1__StatsReply *wh_metrics_reply(const wh_metrics_t *self)
{
    return &self->reply;
}
int wh_metrics_incomplete(const wh_metrics_t *self)
{
    return self->incomplete;
}

/* A new series with its name, help, type and labels (NULL-terminated pairs in `ap`); NULL on
 * out-of-memory. Freed with whistle__v1__metric__free_unpacked. */
static Whistle__V1__Metric *s_series(int type, const char *name, const char *help, va_list ap)
{
    Whistle__V1__Metric *m = malloc(sizeof *m);
    if (!m) return NULL;
    whistle__v1__metric__init(m);
    m->type = type;
    if (!(m->name = strdup(name)) || !(m->help = strdup(help ? help : ""))) goto fail;
    va_list count;
    va_copy(count, ap);
    size_t n = 0;
    while (va_arg(count, const char *)) {
        (void)va_arg(count, const char *);
        n++;
    }
    va_end(count);
    if (n && !(m->labels = calloc(n, sizeof *m->labels))) goto fail;
    for (size_t i = 0; i < n; i++) {
        const char *k = va_arg(ap, const char *), *v = va_arg(ap, const char *);
        Whistle__V1__MetricLabel *l = malloc(sizeof *l);
        if (!l) goto fail;
        whistle__v1__metric_label__init(l);
        m->labels[m->n_labels++] = l;
        if (!(l->name = strdup(k)) || !(l->value = strdup(v ? v : ""))) goto fail;
    }
    return m;
fail:
    whistle__v1__metric__free_unpacked(m, NULL);
    return NULL;
}

/* Takes `m` (NULL: out of memory) into the set. */
static int s_push(wh_metrics_t *self, Whistle__V1__Metric *m)
{
    if (m && self->reply.n_metrics == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 32;
        Whistle__V1__Metric **a = realloc(self->reply.metrics, cap * sizeof *a);
        if (a) {
            self->reply.metrics = a;
            self->cap = cap;
        } else {
            whistle__v1__metric__free_unpacked(m, NULL);
            m = NULL;
        }
    }
    if (!m) {
        self->incomplete = 1;
        return WH_ENOMEM;
    }
    self->reply.metrics[self->reply.n_metrics++] = m;
    return 0;
}

int wh_metrics_add(wh_metrics_t *self, int type, const char *name, const char *help, double value,
                   ...)
{
    if (self->incomplete) return WH_ENOMEM;
    va_list ap;
    va_start(ap, value);
    Whistle__V1__Metric *m = s_series(type, name, help, ap);
    va_end(ap);
    if (m) m->value = value;
    return s_push(self, m);
}

int wh_metrics_histogram(wh_metrics_t *self, const char *name, const char *help,
                         const struct wh_histogram *h, ...)
{
    if (self->incomplete) return WH_ENOMEM;
    va_list ap;
    va_start(ap, h);
    Whistle__V1__Metric *m = s_series(WH_METRIC_HISTOGRAM, name, help, ap);
    va_end(ap);
    if (m && h->n && !(m->buckets = calloc(h->n, sizeof *m->buckets))) {
        whistle__v1__metric__free_unpacked(m, NULL);
        m = NULL;
    }
    uint64_t below = 0;
    for (size_t i = 0; m && i < h->n; i++) {
        Whistle__V1__MetricBucket *b = malloc(sizeof *b);
        if (!b) {
            whistle__v1__metric__free_unpacked(m, NULL);
            m = NULL;
            break;
        }
        whistle__v1__metric_bucket__init(b);
        below += h->in[i];
        b->le = h->le[i];
        b->count = below;
        m->buckets[m->n_buckets++] = b;
    }
    if (m) {
        m->sum = h->sum;
        m->count = h->count;
    }
    return s_push(self, m);
}

/* ---- rendering --------------------------------------------------------------------------- */

/* A value as the format writes it (Go's ParseFloat reads it back exactly), in `out`. */
static void s_numstr(char out[40], double v)
{
    if (isnan(v)) {
        strcpy(out, "NaN");
    } else if (isinf(v)) {
        strcpy(out, v > 0 ? "+Inf" : "-Inf");
    } else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        snprintf(out, 40, "%.0f", v);
    } else {
        for (int p = 6; p <= 17; p++) { /* the shortest that reads back the same */
            snprintf(out, 40, "%.*g", p, v);
            if (strtod(out, NULL) == v) break;
        }
    }
}

static void s_num(FILE *f, double v)
{
    char buf[40];
    s_numstr(buf, v);
    fputs(buf, f);
}

/* A metric (colons allowed) or label name: each byte outside [a-zA-Z0-9_:] becomes '_', and
 * a leading digit gets a '_' before it. Writes at most size-1 bytes. */
static void s_name(char *out, size_t size, const char *in, int colons)
{
    size_t o = 0;
    if (in[0] >= '0' && in[0] <= '9' && o + 1 < size) out[o++] = '_';
    for (const char *p = in; *p && o + 1 < size; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || (colons && c == ':');
        out[o++] = ok ? c : '_';
    }
    out[o] = 0;
}

/* Help (quote 0) or a label value (quote 1), escaped: backslash, newline and, in a label
 * value, the double quote. Invalid UTF-8 is written as U+FFFD first. */
static void s_escaped(FILE *f, const char *s, int quote)
{
    char *fixed = NULL;
    size_t len = strlen(s);
    if (!wh_utf8_valid(s, len)) {
        size_t size = len * 3 + 1;
        if ((fixed = malloc(size))) {
            wh_utf8_sanitize(fixed, size, s);
            s = fixed;
        } else {
            s = "";
        }
    }
    for (const char *p = s; *p; p++) {
        if (*p == '\\')
            fputs("\\\\", f);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (quote && *p == '"')
            fputs("\\\"", f);
        else
            fputc(*p, f);
    }
    free(fixed);
}

static const char *s_type_name(int type)
{
    switch (type) {
    case WH_METRIC_COUNTER: return "counter";
    case WH_METRIC_GAUGE: return "gauge";
    case WH_METRIC_HISTOGRAM: return "histogram";
    default: return "untyped";
    }
}

/* Whether a series' label is written: not the renderer's own, not reserved, not repeated. */
static int s_label_kept(const Whistle__V1__Metric *m, size_t i, const char *name)
{
    if (!name[0] || strcmp(name, "service") == 0 || strcmp(name, "le") == 0 ||
        strncmp(name, "__", 2) == 0)
        return 0;
    for (size_t j = 0; j < i; j++) {
        char prev[128];
        s_name(prev, sizeof prev, m->labels[j]->name, 0);
        if (strcmp(prev, name) == 0) return 0;
    }
    return 1;
}

/* `{service="...",labels...[,le="..."]}` */
static void s_labels(FILE *f, const char *service, const Whistle__V1__Metric *m, const char *le)
{
    fputs("{service=\"", f);
    s_escaped(f, service, 1);
    fputc('"', f);
    for (size_t i = 0; i < m->n_labels; i++) {
        char name[128];
        s_name(name, sizeof name, m->labels[i]->name, 0);
        if (!s_label_kept(m, i, name)) continue;
        fprintf(f, ",%s=\"", name);
        s_escaped(f, m->labels[i]->value, 1);
        fputc('"', f);
    }
    if (le) fprintf(f, ",le=\"%s\"", le);
    fputc('}', f);
}

/* One series of family `name`. */
static void s_series_write(FILE *f, const char *name, const char *service,
                           const Whistle__V1__Metric *m)
{
    if (m->type != WH_METRIC_HISTOGRAM) {
        fputs(name, f);
        s_labels(f, service, m, NULL);
        fputc(' ', f);
        s_num(f, m->value);
        fputc('\n', f);
        return;
    }
    double last = -INFINITY;
    for (size_t i = 0; i < m->n_buckets; i++) {
        const Whistle__V1__MetricBucket *b = m->buckets[i];
        /* ascending bounds only; +Inf is written from count below */
        if (isnan(b->le) || isinf(b->le) || b->le <= last) continue;
        last = b->le;
        char le[40];
        s_numstr(le, b->le);
        fprintf(f, "%s_bucket", name);
        s_labels(f, service, m, le);
        fprintf(f, " %llu\n", (unsigned long long)b->count);
    }
    fprintf(f, "%s_bucket", name);
    s_labels(f, service, m, "+Inf");
    fprintf(f, " %llu\n", (unsigned long long)m->count);
    fprintf(f, "%s_sum", name);
    s_labels(f, service, m, NULL);
    fputc(' ', f);
    s_num(f, m->sum);
    fputc('\n', f);
    fprintf(f, "%s_count", name);
    s_labels(f, service, m, NULL);
    fprintf(f, " %llu\n", (unsigned long long)m->count);
}

/* One family: its name (valid), type and help from its first series. */
struct s_family {
    char name[160];
    int type;
    const char *help;
};

char *wh_metrics_render(const Whistle__V1__StatsReply *const *replies, size_t n, size_t *len_out)
{
    char *text = NULL;
    size_t len = 0, total = 0, nf = 0;
    for (size_t r = 0; r < n; r++)
        if (replies[r]) total += replies[r]->n_metrics;
    struct s_family *fam = calloc(total ? total : 1, sizeof *fam);
    size_t *of = calloc(total ? total : 1, sizeof *of); /* each series' family */
    FILE *f = fam && of ? open_memstream(&text, &len) : NULL;
    if (!f) goto out;
    /* the families in the order they first appear */
    for (size_t r = 0, k = 0; r < n; r++) {
        if (!replies[r]) continue;
        for (size_t i = 0; i < replies[r]->n_metrics; i++, k++) {
            const Whistle__V1__Metric *m = replies[r]->metrics[i];
            char name[sizeof fam->name];
            s_name(name, sizeof name, m->name ? m->name : "", 1);
            size_t j = 0;
            while (j < nf && strcmp(fam[j].name, name) != 0)
                j++;
            if (j == nf) {
                memcpy(fam[nf].name, name, sizeof name);
                fam[nf].type = m->type;
                fam[nf].help = m->help ? m->help : "";
                nf++;
            }
            of[k] = j;
        }
    }
    for (size_t j = 0; j < nf; j++) {
        if (!fam[j].name[0]) continue; /* a series without a name */
        fprintf(f, "# HELP %s ", fam[j].name);
        s_escaped(f, fam[j].help, 0);
        fprintf(f, "\n# TYPE %s %s\n", fam[j].name, s_type_name(fam[j].type));
        for (size_t r = 0, k = 0; r < n; r++) {
            if (!replies[r]) continue;
            const char *service = replies[r]->service ? replies[r]->service : "";
            for (size_t i = 0; i < replies[r]->n_metrics; i++, k++) {
                const Whistle__V1__Metric *m = replies[r]->metrics[i];
                if (of[k] == j && (int)m->type == fam[j].type)
                    s_series_write(f, fam[j].name, service, m);
            }
        }
    }
    if (fclose(f) != 0) {
        free(text);
        text = NULL;
    }
    f = NULL;
out:
    free(fam);
    free(of);
    if (text && len_out) *len_out = len;
    return text;
}
