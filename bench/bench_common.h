/*
 * The helper every benchmark binary shares (fabtests / ucx_perftest style):
 * the same options everywhere, a table header printed once, one row per
 * measurement with p50/p99/mean latency in microseconds, MB/s and ops/s, and
 * the ratio to a baseline measured in the same run. --json prints the same
 * rows as one JSON document instead.
 *
 * Common options: -i/--iterations N, -w/--warmup N, -n/--nodes N,
 * -p/--pages N, --json, -h/--help. Anything else of the form --name=value or
 * --name is offered to the benchmark's own option callback.
 */
#ifndef DSM_BENCH_COMMON_H
#define DSM_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "dsm.h"

typedef struct {
    unsigned iterations;
    unsigned warmup;
    unsigned nodes;
    size_t   pages;
    int      json;
} dsm_bench_opts_t;

/* Returns 0 if the option was the benchmark's own and valid, -1 otherwise. */
typedef int (*dsm_bench_extra_option_fn)(const char *name, const char *value, void *arg);

typedef struct {
    size_t count;
    double min_us, p50_us, p99_us, mean_us, max_us;
} dsm_bench_summary_t;

/*
 * Parse argv into opts (which holds the benchmark's defaults on entry).
 * extra may be NULL; usage_extra documents the benchmark's own options.
 * Exits with a message on a bad option, and with 0 after --help.
 */
void dsm_bench_parse(int argc, char **argv, const char *title, const char *usage_extra,
                     dsm_bench_extra_option_fn extra, void *extra_arg, dsm_bench_opts_t *opts);

/* Monotonic time in microseconds. */
double dsm_bench_now_us(void);

/* Sort samples in place and summarize them. count must be > 0. */
void dsm_bench_summarize(double *samples_us, size_t count, dsm_bench_summary_t *summary_p);

/*
 * Record one result row: name, bytes moved per operation (0: none), its
 * summary, and the ratio to its baseline (<= 0: this row is a baseline or has
 * none). Printed at once in table mode (header before the first row), kept
 * for dsm_bench_finish in JSON mode.
 */
void dsm_bench_row(const dsm_bench_opts_t *opts, const char *name, size_t bytes,
                   const dsm_bench_summary_t *summary, double ratio);

/*
 * Summarize count samples (sorted in place) and record them as a row whose
 * ratio is its p50 over baseline's p50 (baseline NULL: no ratio). The
 * summary goes to summary_p unless it is NULL.
 */
void dsm_bench_row_samples(const dsm_bench_opts_t *opts, const char *name, size_t bytes,
                           double *samples, size_t count, const dsm_bench_summary_t *baseline,
                           dsm_bench_summary_t *summary_p);

/* A free-form line: printed in table mode, a "notes" entry in JSON mode. */
void dsm_bench_note(const dsm_bench_opts_t *opts, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Print the JSON document (JSON mode) and release the rows. */
void dsm_bench_finish(const dsm_bench_opts_t *opts);

/* Print the failing call and dsm's reason, then exit 1. */
void dsm_bench_die(const char *what, dsm_status_t status);

#endif /* DSM_BENCH_COMMON_H */
