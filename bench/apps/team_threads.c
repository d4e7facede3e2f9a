/*
 * team_threads: main() of the threads form of a team application (team.h),
 * the shared-memory bound: one process, T threads (default 2; the argument
 * after the app's own), the job's arrays calloc'ed, the team's barrier a
 * pthread_barrier_t and its locks pthread mutexes. Thread 0 times the run
 * between two barriers; after the join the main thread checks the result and
 * reports, and exits 1 on a wrong result.
 * Run: <app>_threads [the app's arguments] [threads=2]
 */
#include <pthread.h>

#include "team.h"

typedef struct {
    pthread_barrier_t barrier;
    pthread_mutex_t  *mutexes;
} team_threads_t;

typedef struct {
    const apps_job_t *job;
    apps_team_t       team;
    double            elapsed; /* thread 0's */
} team_threads_worker_t;

static void team_threads_barrier(apps_team_t *team)
{
    team_threads_t *shared = team->impl;

    pthread_barrier_wait(&shared->barrier);
}

static void team_threads_lock(apps_team_t *team, long lock)
{
    team_threads_t *shared = team->impl;

    pthread_mutex_lock(&shared->mutexes[lock]);
}

static void team_threads_unlock(apps_team_t *team, long lock)
{
    team_threads_t *shared = team->impl;

    pthread_mutex_unlock(&shared->mutexes[lock]);
}

static void *team_threads_worker_main(void *arg)
{
    team_threads_worker_t *w = arg;
    double start;

    apps_app.init(w->job, &w->team);
    team_threads_barrier(&w->team);
    start = apps_seconds();
    apps_app.run(w->job, &w->team);
    team_threads_barrier(&w->team);
    w->elapsed = apps_seconds() - start;
    return NULL;
}

int main(int argc, char **argv)
{
    apps_job_t job = { 0 };
    team_threads_t shared;
    int threads = (int)example_arg(argc, argv, apps_app.args + 1, 2);
    pthread_t tid[threads];
    team_threads_worker_t w[threads];
    uint64_t hash;
    bool ok;

    apps_app.setup(&job, threads, argc, argv);
    for (int k = 0; k < job.arrays; k++) {
        job.array[k] = calloc(1, job.bytes[k]);
        if (job.array[k] == NULL) {
            fprintf(stderr, "%s_threads: out of memory\n", apps_app.name);
            return 1;
        }
    }
    shared.mutexes = calloc((size_t)job.locks + 1, sizeof(*shared.mutexes));
    if (shared.mutexes == NULL) {
        fprintf(stderr, "%s_threads: out of memory\n", apps_app.name);
        return 1;
    }
    for (long i = 0; i < job.locks; i++) {
        pthread_mutex_init(&shared.mutexes[i], NULL);
    }
    pthread_barrier_init(&shared.barrier, NULL, (unsigned)threads);
    for (int i = 0; i < threads; i++) {
        w[i] = (team_threads_worker_t){ &job,
                                        { i, threads, team_threads_barrier, team_threads_lock,
                                          team_threads_unlock, &shared },
                                        0.0 };
        pthread_create(&tid[i], NULL, team_threads_worker_main, &w[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
    }
    ok = apps_app.check(&job, &hash);
    apps_report(apps_app.name, "threads", job.n, job.iters, threads, w[0].elapsed, hash);
    if (!ok) {
        fprintf(stderr, "%s_threads: wrong result with %d threads\n", apps_app.name, threads);
    }
    pthread_barrier_destroy(&shared.barrier);
    for (long i = 0; i < job.locks; i++) {
        pthread_mutex_destroy(&shared.mutexes[i]);
    }
    free(shared.mutexes);
    for (int k = 0; k < job.arrays; k++) {
        free(job.array[k]);
    }
    return ok ? 0 : 1;
}
