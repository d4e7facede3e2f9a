/*
 * jacobi_threads: the shared-memory bound, one process, T threads (default 2)
 * over private memory, a pthread barrier between sweeps.
 * Run: jacobi_threads [n=2046] [sweeps=1000] [threads=2]
 */
#include <pthread.h>

#include "apps.h"

typedef struct {
    double            *u, *v;
    long               n, sweeps;
    int                id, threads;
    pthread_barrier_t *barrier;
} worker_t;

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    long width = w->n + 2, begin, end;
    double *u = w->u, *v = w->v, *t;

    apps_rows(w->n, w->id, w->threads, &begin, &end);
    for (long s = 0; s < w->sweeps; s++) {
        jacobi_sweep(u, v, width, begin + 1, end + 1);
        pthread_barrier_wait(w->barrier);
        t = u, u = v, v = t;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    long n = example_arg(argc, argv, 1, 2046), sweeps = example_arg(argc, argv, 2, 1000);
    int threads = (int)example_arg(argc, argv, 3, 2);
    long width = n + 2;
    size_t bytes = (size_t)(width * width) * sizeof(double);
    double *u = calloc(1, bytes), *v = calloc(1, bytes), start;
    pthread_t tid[threads];
    worker_t w[threads];
    pthread_barrier_t barrier;

    if (u == NULL || v == NULL) {
        return 1;
    }
    jacobi_boundary(u, width);
    jacobi_boundary(v, width);
    pthread_barrier_init(&barrier, NULL, (unsigned)threads);
    start = apps_seconds();
    for (int i = 0; i < threads; i++) {
        w[i] = (worker_t){ u, v, n, sweeps, i, threads, &barrier };
        pthread_create(&tid[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
    }
    apps_report("jacobi", "threads", n, sweeps, threads, apps_seconds() - start,
                apps_hash(sweeps % 2 ? v : u, bytes));
    free(u);
    free(v);
    return 0;
}
