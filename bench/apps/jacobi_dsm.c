/*
 * jacobi_dsm: both grids in the arena (default placement, no hints), each
 * node sweeps its block of rows, dsm_barrier between sweeps. Node 0 hashes
 * the final grid (not timed) by reading it through the arena.
 * Run: dsmrun -n 2 -- jacobi_dsm [n=2046] [sweeps=1000]
 */
#include "apps.h"
#include "dsm.h"

static void check(dsm_status_t status, const char *what)
{
    if (status != DSM_OK) {
        fprintf(stderr, "jacobi_dsm: %s: %s\n", what, dsm_strerror(status));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    long n = example_arg(argc, argv, 1, 2046), sweeps = example_arg(argc, argv, 2, 1000);
    long width = n + 2, begin, end;
    size_t bytes = (size_t)(width * width) * sizeof(double);
    double *u, *v, *t, start, elapsed;

    check(dsm_init(NULL), "dsm_init");
    u = dsm_alloc(bytes);
    v = dsm_alloc(bytes);
    if (u == NULL || v == NULL) {
        check(dsm_last_error(), "dsm_alloc");
    }
    apps_rows(n, dsm_node_id(), dsm_num_nodes(), &begin, &end);
    if (dsm_node_id() == 0) {
        jacobi_boundary(u, width);
        jacobi_boundary(v, width);
    }
    check(dsm_barrier(), "dsm_barrier");
    start = apps_seconds();
    for (long s = 0; s < sweeps; s++) {
        jacobi_sweep(u, v, width, begin + 1, end + 1);
        check(dsm_barrier(), "dsm_barrier");
        t = u, u = v, v = t;
    }
    elapsed = apps_seconds() - start;
    if (dsm_node_id() == 0) {
        apps_report("jacobi", "dsm", n, sweeps, dsm_num_nodes(), elapsed, apps_hash(u, bytes));
    }
    check(dsm_barrier(), "dsm_barrier");
    dsm_free(v);
    dsm_free(u);
    check(dsm_finalize(), "dsm_finalize");
    return 0;
}
