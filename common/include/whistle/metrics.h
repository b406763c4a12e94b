/* metrics.h: counters, gauges and histograms as whistle.v1.Metric series (the body of a
 * StatsReply, built by a service or by any caller for its own metrics), and their rendering
 * in the Prometheus text format 0.0.4 with a `service` label on every series.
 *
 * A family is every series of one name, across every reply rendered together: it gets one
 * HELP and one TYPE line (from its first series) and its series are written together, so
 * `promtool check metrics` reads four services' replies as one exposition. docs/metrics.md
 * lists the families whistle exports. */
#ifndef WHISTLE_METRICS_H
#define WHISTLE_METRICS_H
#include <stddef.h>
#include <stdint.h>
#include <whistle/v1/whistle.pb-c.h>

#define WH_METRIC_UNTYPED WHISTLE__V1__METRIC_TYPE__METRIC_TYPE_UNSPECIFIED
#define WH_METRIC_COUNTER WHISTLE__V1__METRIC_TYPE__METRIC_TYPE_COUNTER
#define WH_METRIC_GAUGE WHISTLE__V1__METRIC_TYPE__METRIC_TYPE_GAUGE
#define WH_METRIC_HISTOGRAM WHISTLE__V1__METRIC_TYPE__METRIC_TYPE_HISTOGRAM

/* ---- histograms kept in memory ----------------------------------------------------------- */

#define WH_HISTOGRAM_MAX 16

/* Observations counted in fixed buckets (a plain value struct; zero it, then init). */
struct wh_histogram {
    size_t n;                      /* bounds in use */
    double le[WH_HISTOGRAM_MAX];   /* upper bounds, ascending (the +Inf bucket is implied) */
    uint64_t in[WH_HISTOGRAM_MAX]; /* observations in (le[i-1], le[i]]: not cumulative */
    double sum;                    /* of every observation */
    uint64_t count;                /* every observation, also those above the last bound */
};

/* Sets the bounds (at most WH_HISTOGRAM_MAX, ascending) and clears the counts. */
void wh_histogram_init(struct wh_histogram *h, const double *le, size_t n);
/* Counts one observation of `v`. */
void wh_histogram_observe(struct wh_histogram *h, double v);

/* ---- building series --------------------------------------------------------------------- */

typedef struct wh_metrics wh_metrics_t;

/* An empty set of series for `service` (copied). NULL on out-of-memory. */
wh_metrics_t *wh_metrics_new(const char *service);
/* Frees *self_p and every series; safe on NULL; sets *self_p to NULL. */
void wh_metrics_destroy(wh_metrics_t **self_p);

/* Appends a series of a counter or gauge (`type`: WH_METRIC_*) with its labels given as
 * name, value pairs of strings ending with NULL (all copied). 0, or WH_ENOMEM (the set is then
 * marked incomplete and later calls do nothing). */
int wh_metrics_add(wh_metrics_t *self, int type, const char *name, const char *help, double value,
                   ...) __attribute__((sentinel));
/* Appends a series of a histogram from `h` (copied), labels as for wh_metrics_add. */
int wh_metrics_histogram(wh_metrics_t *self, const char *name, const char *help,
                         const struct wh_histogram *h, ...) __attribute__((sentinel));
/* The series so far as a StatsReply, owned by `self` (valid until the next add or destroy). */
const Whistle__V1__StatsReply *wh_metrics_reply(const wh_metrics_t *self);
/* 1 when an add failed for lack of memory (the reply lacks series). */
int wh_metrics_incomplete(const wh_metrics_t *self);

/* ---- the Prometheus text format ---------------------------------------------------------- */

/* The content type of what wh_metrics_render writes. */
#define WH_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Renders `n` replies (NULL entries skipped) as one exposition in the text format 0.0.4:
 * every series gets the label service="<reply's service>" first; label values and help are
 * escaped (and invalid UTF-8 replaced); names that are not valid get '_' for each bad byte;
 * the labels "service", "le" and "__*" of a series are dropped (they are the renderer's or
 * reserved), as is a repeated label name; a histogram is written as _bucket{le=...} series
 * (cumulative, ascending, ending with le="+Inf" = count), _sum and _count; a series whose type
 * differs from its family's first is dropped. Returns a malloc'd NUL-terminated text (caller
 * frees) and its length in *len_out (may be NULL), or NULL on out-of-memory. */
char *wh_metrics_render(const Whistle__V1__StatsReply *const *replies, size_t n, size_t *len_out);

#endif
