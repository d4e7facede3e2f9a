/*
 * jacobi: 2-D 5-point Jacobi relaxation on an (n+2) x (n+2) grid in the
 * arena (fixed boundary: top edge 1.0, the rest 0.0), interior rows split
 * across nodes, a barrier between sweeps. Node 0 repeats the computation
 * serially in private memory and compares bit for bit; every node exits 0
 * only if the result matches.
 * Run: dsmrun -n 4 ./jacobi [n=256] [sweeps=100]
 */
#include <string.h>
#include <time.h>

#include "example_util.h"

static void boundary(double *grid, long width)
{
    for (long j = 0; j < width; j++) {
        grid[j] = 1.0; /* top edge */
    }
}

/* One sweep of rows [begin, end) (interior rows are 1..n) from src into dst. */
static void sweep(const double *src, double *dst, long width, long begin, long end)
{
    for (long i = begin; i < end; i++) {
        for (long j = 1; j < width - 1; j++) {
            dst[i * width + j] = 0.25 * (src[(i - 1) * width + j] + src[(i + 1) * width + j] +
                                         src[i * width + j - 1] + src[i * width + j + 1]);
        }
    }
}

static double seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Node 0: the serial computation, compared with the shared result. */
static int verify(const double *shared, long n, long sweeps)
{
    long width = n + 2;
    size_t bytes = (size_t)(width * width) * sizeof(double);
    double *a = calloc(1, bytes), *b = calloc(1, bytes), *t;
    int same;

    if (a == NULL || b == NULL) {
        fprintf(stderr, "jacobi: out of memory for the serial check\n");
        exit(2);
    }
    boundary(a, width);
    boundary(b, width);
    for (long s = 0; s < sweeps; s++) {
        sweep(a, b, width, 1, n + 1);
        t = a, a = b, b = t;
    }
    same = memcmp(a, shared, bytes) == 0;
    free(a);
    free(b);
    return same;
}

int main(int argc, char **argv)
{
    long n = example_arg(argc, argv, 1, 256);
    long sweeps = example_arg(argc, argv, 2, 100);
    long width = n + 2, begin, end;
    double *u, *v, *t, start, elapsed, heat = 0;
    int *verdict;

    CHECK_DSM(dsm_init(NULL));
    u = example_alloc((size_t)(width * width) * sizeof(double));
    v = example_alloc((size_t)(width * width) * sizeof(double));
    verdict = example_alloc(sizeof(*verdict));
    example_rows(n, dsm_node_id(), dsm_num_nodes(), &begin, &end);
    if (dsm_node_id() == 0) {
        boundary(u, width);
        boundary(v, width);
    }
    CHECK_DSM(dsm_barrier());
    start = seconds();
    for (long s = 0; s < sweeps; s++) {
        sweep(u, v, width, begin + 1, end + 1);
        CHECK_DSM(dsm_barrier());
        t = u, u = v, v = t;
    }
    elapsed = seconds() - start;
    if (dsm_node_id() == 0) {
        *verdict = verify(u, n, sweeps) ? 1 : -1;
    }
    CHECK_DSM(dsm_barrier());
    for (long i = begin + 1; i <= end; i++) { /* the heat in this node's rows */
        for (long j = 1; j <= n; j++) {
            heat += u[i * width + j];
        }
    }
    printf("jacobi node %d/%d: %ldx%ld, %ld sweeps, rows %ld..%ld, %.3f s, heat %.6g: %s\n",
           dsm_node_id(), dsm_num_nodes(), n, n, sweeps, begin + 1, end, elapsed, heat,
           *verdict == 1 ? "verified against the serial run" : "WRONG");
    int ok = *verdict == 1;
    dsm_free(verdict);
    dsm_free(v);
    dsm_free(u);
    CHECK_DSM(dsm_finalize());
    return !ok;
}
