/*
 * The shared-memory applications of bench/apps/ (fft, lu, radix, redblack,
 * nbody) are written once, against a team: parts participants numbered
 * 0..parts-1 that share the job's arrays and call barrier, lock and unlock.
 * team_dsm.c makes the team out of dsm nodes (dsm_alloc, dsm_barrier,
 * dsm_lock_*), team_threads.c out of pthreads in one process (calloc,
 * pthread_barrier_t, pthread_mutex_t), and each provides main(). So both forms
 * of an application run the same arithmetic with the same split, by
 * construction; only the memory and the synchronisation differ.
 *
 * A run: setup (arguments, array sizes, lock count), on every participant
 * init (not timed) and run (timed, between two barriers), then check on
 * participant 0 alone (not timed): it verifies the result against its own
 * serial computation and returns the result hash of the report line.
 */
#ifndef DSM_BENCH_TEAM_H
#define DSM_BENCH_TEAM_H

#include <math.h>
#include <stdbool.h>

#include "apps.h"

#define APPS_MAX_ARRAYS 4

typedef struct apps_team apps_team_t;

struct apps_team {
    int   id, parts;
    void (*barrier)(apps_team_t *team);
    void (*lock)(apps_team_t *team, long lock);
    void (*unlock)(apps_team_t *team, long lock);
    void *impl; /* the form's own state */
};

/* What setup decides and every participant reads; arrays are zero-filled. */
typedef struct {
    long   n, iters, block; /* the size, the iterations, an app-specific third argument */
    size_t bytes[APPS_MAX_ARRAYS];
    void  *array[APPS_MAX_ARRAYS];
    int    arrays;
    long   locks;
} apps_job_t;

typedef struct {
    const char *name;
    int         args; /* command-line arguments of the app; the threads form's count follows */
    /* Reads argv (example_arg) into job: sizes, iterations, arrays, locks; exits on a bad size. */
    void (*setup)(apps_job_t *job, int parts, int argc, char **argv);
    void (*init)(const apps_job_t *job, apps_team_t *team);
    void (*run)(const apps_job_t *job, apps_team_t *team);
    /* true when the result is right; *hash_p: the result hash of the report line. */
    bool (*check)(const apps_job_t *job, uint64_t *hash_p);
} apps_app_t;

/* Each application file defines it; team_dsm.c and team_threads.c run it. */
extern const apps_app_t apps_app;

static inline void apps_team_serial_sync(apps_team_t *team)
{
    (void)team;
}

static inline void apps_team_serial_lock(apps_team_t *team, long lock)
{
    (void)team, (void)lock;
}

/* A team of one (no synchronisation), for the serial reference runs of checks. */
static inline apps_team_t apps_team_serial(void)
{
    return (apps_team_t){ 0, 1, apps_team_serial_sync, apps_team_serial_lock,
                          apps_team_serial_lock, NULL };
}

/* *copy_p: job with private zero-filled arrays of the same sizes; false if out of memory. */
static inline bool apps_job_copy(const apps_job_t *job, apps_job_t *copy_p)
{
    *copy_p = *job;
    for (int k = 0; k < job->arrays; k++) {
        copy_p->array[k] = calloc(1, job->bytes[k]);
        if (copy_p->array[k] == NULL) {
            while (k-- > 0) {
                free(copy_p->array[k]);
            }
            return false;
        }
    }
    return true;
}

static inline void apps_job_copy_free(apps_job_t *copy)
{
    for (int k = 0; k < copy->arrays; k++) {
        free(copy->array[k]);
    }
}

/*
 * The largest difference of a and b relative to the largest |a|, over count
 * values; infinite when a value is not a number.
 */
static inline double apps_rel_error(const double *a, const double *b, size_t count)
{
    double err = 0.0, scale = 0.0;

    for (size_t i = 0; i < count; i++) {
        double d = a[i] > b[i] ? a[i] - b[i] : b[i] - a[i], m = a[i] > 0 ? a[i] : -a[i];

        if (d != d) {
            return (double)INFINITY;
        }
        err = d > err ? d : err;
        scale = m > scale ? m : scale;
    }
    return scale > 0 ? err / scale : err;
}

/* rows x cols = parts, rows the largest divisor of parts not above its square root. */
static inline void apps_grid(int parts, int *rows_p, int *cols_p)
{
    int rows = 1;

    for (int r = 1; r * r <= parts; r++) {
        rows = parts % r == 0 ? r : rows;
    }
    *rows_p = rows;
    *cols_p = parts / rows;
}

/* Exits with a message when a size argument is unusable. */
static inline void apps_require(bool ok, const char *app, const char *what)
{
    if (!ok) {
        fprintf(stderr, "%s: %s\n", app, what);
        exit(2);
    }
}

/* Reproducible pseudo-random bits from an index (SplitMix64's finaliser). */
static inline uint64_t apps_mix(uint64_t index)
{
    uint64_t z = index * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e5f5ull;

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A reproducible value in [0, 1) from an index. */
static inline double apps_random(uint64_t index)
{
    return (double)(apps_mix(index) >> 11) * 0x1p-53;
}

#endif /* DSM_BENCH_TEAM_H */
