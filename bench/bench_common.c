/* Options, timing, statistics and output shared by every benchmark. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "dsm_common.h"

typedef struct {
    char                name[96];
    size_t              bytes;
    dsm_bench_summary_t summary;
    double              ratio;
} dsm_bench_row_t;

static const char *dsm_bench_title = "";
static dsm_bench_row_t *dsm_bench_rows;
static size_t dsm_bench_row_count, dsm_bench_row_capacity;
static char **dsm_bench_notes;
static size_t dsm_bench_note_count;
static int dsm_bench_header_printed;

static void dsm_bench_usage(const char *prog, const char *title, const char *usage_extra)
{
    printf("%s - %s\n"
           "usage: %s [options]\n"
           "  -i, --iterations N   measured iterations\n"
           "  -w, --warmup N       warm-up iterations (not measured)\n"
           "  -n, --nodes N        nodes (processes), where the benchmark uses several\n"
           "  -p, --pages N        pages, where the benchmark uses a region\n"
           "      --json           print the results as one JSON document\n"
           "  -h, --help           this text\n%s",
           prog, title, prog, usage_extra ? usage_extra : "");
}

static unsigned long dsm_bench_parse_count(const char *prog, const char *name, const char *text)
{
    char *end;
    unsigned long value;

    errno = 0;
    value = strtoul(text, &end, 10);
    if (errno != 0 || *text == '\0' || *end != '\0' || text[0] == '-') {
        fprintf(stderr, "%s: %s expects a non-negative integer, got '%s'\n", prog, name, text);
        exit(2);
    }
    return value;
}

/* The value of a short option given as "-x N" or a long one as "--x=N" / "--x N". */
static const char *dsm_bench_option_value(int argc, char **argv, int *i, const char *eq)
{
    if (eq != NULL) {
        return eq + 1;
    }
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value\n", argv[0], argv[*i]);
        exit(2);
    }
    return argv[++*i];
}

void dsm_bench_parse(int argc, char **argv, const char *title, const char *usage_extra,
                     dsm_bench_extra_option_fn extra, void *extra_arg, dsm_bench_opts_t *opts)
{
    dsm_bench_title = title;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        char name[64];

        snprintf(name, sizeof(name), "%.*s", (int)name_len, arg);
        if (!strcmp(name, "-h") || !strcmp(name, "--help")) {
            dsm_bench_usage(argv[0], title, usage_extra);
            exit(0);
        } else if (!strcmp(name, "-i") || !strcmp(name, "--iterations")) {
            opts->iterations = (unsigned)dsm_bench_parse_count(
                argv[0], name, dsm_bench_option_value(argc, argv, &i, eq));
        } else if (!strcmp(name, "-w") || !strcmp(name, "--warmup")) {
            opts->warmup = (unsigned)dsm_bench_parse_count(
                argv[0], name, dsm_bench_option_value(argc, argv, &i, eq));
        } else if (!strcmp(name, "-n") || !strcmp(name, "--nodes")) {
            opts->nodes = (unsigned)dsm_bench_parse_count(
                argv[0], name, dsm_bench_option_value(argc, argv, &i, eq));
        } else if (!strcmp(name, "-p") || !strcmp(name, "--pages")) {
            opts->pages = dsm_bench_parse_count(argv[0], name,
                                                dsm_bench_option_value(argc, argv, &i, eq));
        } else if (!strcmp(name, "--json")) {
            opts->json = 1;
        } else if (extra == NULL || strncmp(name, "--", 2) != 0 ||
                   extra(name + 2, eq ? eq + 1 : NULL, extra_arg) != 0) {
            fprintf(stderr, "%s: unknown or invalid option '%s' (see --help)\n", argv[0], arg);
            exit(2);
        }
    }
    if (opts->iterations == 0) {
        fprintf(stderr, "%s: --iterations must be at least 1\n", argv[0]);
        exit(2);
    }
}

void dsm_bench_die(const char *what, dsm_status_t status)
{
    fprintf(stderr, "bench: %s: %s\n", what, dsm_strerror(status));
    exit(1);
}

double dsm_bench_now_us(void)
{
    return (double)dsm_now_ns() / 1e3;
}

static int dsm_bench_compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples. */
static double dsm_bench_percentile(const double *sorted, size_t count, double pct)
{
    size_t rank = (size_t)(pct / 100.0 * (double)count + 0.999999);

    if (rank == 0) {
        rank = 1;
    }
    return sorted[(rank > count ? count : rank) - 1];
}

void dsm_bench_summarize(double *samples_us, size_t count, dsm_bench_summary_t *summary_p)
{
    double sum = 0;

    qsort(samples_us, count, sizeof(*samples_us), dsm_bench_compare_double);
    for (size_t i = 0; i < count; i++) {
        sum += samples_us[i];
    }
    summary_p->count   = count;
    summary_p->min_us  = samples_us[0];
    summary_p->p50_us  = dsm_bench_percentile(samples_us, count, 50);
    summary_p->p99_us  = dsm_bench_percentile(samples_us, count, 99);
    summary_p->mean_us = sum / (double)count;
    summary_p->max_us  = samples_us[count - 1];
}

static double dsm_bench_mb_per_s(size_t bytes, const dsm_bench_summary_t *s)
{
    return s->mean_us > 0 ? (double)bytes / s->mean_us : 0; /* bytes/µs == MB/s */
}

static double dsm_bench_ops_per_s(const dsm_bench_summary_t *s)
{
    return s->mean_us > 0 ? 1e6 / s->mean_us : 0;
}

static void dsm_bench_print_table_row(const dsm_bench_row_t *row)
{
    const dsm_bench_summary_t *s = &row->summary;

    if (!dsm_bench_header_printed) {
        printf("# %s\n", dsm_bench_title);
        printf("%-40s %10s %8s %10s %10s %10s %10s %12s %8s\n", "name", "bytes", "iters",
               "p50_us", "p99_us", "mean_us", "MB/s", "ops/s", "ratio");
        dsm_bench_header_printed = 1;
    }
    printf("%-40s %10zu %8zu %10.2f %10.2f %10.2f %10.1f %12.0f ", row->name, row->bytes,
           s->count, s->p50_us, s->p99_us, s->mean_us, dsm_bench_mb_per_s(row->bytes, s),
           dsm_bench_ops_per_s(s));
    if (row->ratio > 0) {
        printf("%7.2fx\n", row->ratio);
    } else {
        printf("%8s\n", "-");
    }
    fflush(stdout);
}

void dsm_bench_row(const dsm_bench_opts_t *opts, const char *name, size_t bytes,
                   const dsm_bench_summary_t *summary, double ratio)
{
    dsm_bench_row_t row = { .bytes = bytes, .summary = *summary, .ratio = ratio };

    snprintf(row.name, sizeof(row.name), "%s", name);
    if (!opts->json) {
        dsm_bench_print_table_row(&row);
        return;
    }
    if (dsm_bench_row_count == dsm_bench_row_capacity) {
        size_t capacity = dsm_bench_row_capacity ? 2 * dsm_bench_row_capacity : 16;
        dsm_bench_row_t *rows = realloc(dsm_bench_rows, capacity * sizeof(*rows));

        if (rows == NULL) {
            fprintf(stderr, "bench: out of memory for result rows\n");
            exit(1);
        }
        dsm_bench_rows = rows;
        dsm_bench_row_capacity = capacity;
    }
    dsm_bench_rows[dsm_bench_row_count++] = row;
}

void dsm_bench_row_samples(const dsm_bench_opts_t *opts, const char *name, size_t bytes,
                           double *samples, size_t count, const dsm_bench_summary_t *baseline,
                           dsm_bench_summary_t *summary_p)
{
    dsm_bench_summary_t summary;

    dsm_bench_summarize(samples, count, &summary);
    dsm_bench_row(opts, name, bytes, &summary,
                  baseline != NULL ? summary.p50_us / baseline->p50_us : 0);
    if (summary_p != NULL) {
        *summary_p = summary;
    }
}

void dsm_bench_note(const dsm_bench_opts_t *opts, const char *fmt, ...)
{
    char text[512];
    char **notes;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (!opts->json) {
        printf("# %s\n", text);
        fflush(stdout);
        return;
    }
    notes = realloc(dsm_bench_notes, (dsm_bench_note_count + 1) * sizeof(*notes));
    if (notes == NULL || (notes[dsm_bench_note_count] = strdup(text)) == NULL) {
        fprintf(stderr, "bench: out of memory for notes\n");
        exit(1);
    }
    dsm_bench_notes = notes;
    dsm_bench_note_count++;
}

void dsm_bench_finish(const dsm_bench_opts_t *opts)
{
    if (opts->json) {
        printf("{\"benchmark\": ");
        dsm_json_write_string(stdout, dsm_bench_title);
        printf(", \"rows\": [");
        for (size_t i = 0; i < dsm_bench_row_count; i++) {
            const dsm_bench_row_t *row = &dsm_bench_rows[i];
            const dsm_bench_summary_t *s = &row->summary;

            printf("%s\n  {\"name\": ", i ? "," : "");
            dsm_json_write_string(stdout, row->name);
            printf(", \"bytes\": %zu, \"iterations\": %zu, \"min_us\": %.3f, \"p50_us\": %.3f, "
                   "\"p99_us\": %.3f, \"mean_us\": %.3f, \"max_us\": %.3f, \"mb_per_s\": %.3f, "
                   "\"ops_per_s\": %.1f, \"ratio\": %.4f}",
                   row->bytes, s->count, s->min_us, s->p50_us, s->p99_us, s->mean_us, s->max_us,
                   dsm_bench_mb_per_s(row->bytes, s), dsm_bench_ops_per_s(s),
                   row->ratio > 0 ? row->ratio : 0.0);
        }
        printf("\n], \"notes\": [");
        for (size_t i = 0; i < dsm_bench_note_count; i++) {
            printf("%s\n  ", i ? "," : "");
            dsm_json_write_string(stdout, dsm_bench_notes[i]);
            free(dsm_bench_notes[i]);
        }
        printf("\n]}\n");
    }
    free(dsm_bench_rows);
    free(dsm_bench_notes);
    dsm_bench_rows = NULL;
    dsm_bench_notes = NULL;
    dsm_bench_row_count = dsm_bench_row_capacity = dsm_bench_note_count = 0;
}
