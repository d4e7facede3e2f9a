/*
 * jacobi: 2-D 5-point Jacobi relaxation on an (n+2) x (n+2) grid in the
 * arena (fixed boundary: top edge 1.0, the rest 0.0), interior rows split
 * across nodes, a barrier between sweeps. Node 0 repeats the computation
 * serially in private memory and compares bit for bit; every node exits 0
 * only if the result matches.
 * Run: dsmrun -n 4 ./jacobi [n=256] [sweeps=100]
 */
#include <time.h>

#include "example_util.h"
#include "jacobi_grid.h"

static double seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
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
        *verdict = verify("jacobi", u, n, sweeps) ? 1 : -1;
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
