/*
 * matmul_threads: the shared-memory bound, one process, T threads (default 2)
 * each computing a block of rows of C from A and B in private memory.
 * Timed: the compute (A and B initialised before).
 * Run: matmul_threads [n=1024] [threads=2]
 */
#include <pthread.h>

#include "apps.h"

typedef struct {
    const double *a, *b;
    double       *c;
    long          n;
    int           id, threads;
} worker_t;

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    long begin, end;

    apps_rows(w->n, w->id, w->threads, &begin, &end);
    matmul_rows(w->a, w->b, w->c, w->n, begin, end);
    return NULL;
}

int main(int argc, char **argv)
{
    long n = example_arg(argc, argv, 1, 1024);
    int threads = (int)example_arg(argc, argv, 2, 2);
    size_t bytes = (size_t)(n * n) * sizeof(double);
    double *a = malloc(bytes), *b = malloc(bytes), *c = malloc(bytes), start;
    pthread_t tid[threads];
    worker_t w[threads];

    if (a == NULL || b == NULL || c == NULL) {
        return 1;
    }
    for (long i = 0; i < n; i++) {
        for (long j = 0; j < n; j++) {
            a[i * n + j] = matmul_a(i, j);
            b[i * n + j] = matmul_b(i, j);
        }
    }
    start = apps_seconds();
    for (int i = 0; i < threads; i++) {
        w[i] = (worker_t){ a, b, c, n, i, threads };
        pthread_create(&tid[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
    }
    apps_report("matmul", "threads", n, 1, threads, apps_seconds() - start, apps_hash(c, bytes));
    free(a);
    free(b);
    free(c);
    return 0;
}
