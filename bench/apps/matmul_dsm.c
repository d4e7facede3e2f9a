/*
 * matmul_dsm: A, B and C in the arena (default placement, no hints). Node 0
 * writes A and B (not timed); timed: every node computes its block of rows
 * of C (reading its rows of A and all of B through the arena), then a
 * barrier. Node 0 hashes C (not timed).
 * Run: dsmrun -n 2 -- matmul_dsm [n=1024]
 */
#include "apps.h"
#include "dsm.h"

static void check(dsm_status_t status, const char *what)
{
    if (status != DSM_OK) {
        fprintf(stderr, "matmul_dsm: %s: %s\n", what, dsm_strerror(status));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    long n = example_arg(argc, argv, 1, 1024), begin, end;
    size_t bytes = (size_t)(n * n) * sizeof(double);
    double *a, *b, *c, start, elapsed;

    check(dsm_init(NULL), "dsm_init");
    a = dsm_alloc(bytes);
    b = dsm_alloc(bytes);
    c = dsm_alloc(bytes);
    if (a == NULL || b == NULL || c == NULL) {
        check(dsm_last_error(), "dsm_alloc");
    }
    if (dsm_node_id() == 0) {
        for (long i = 0; i < n; i++) {
            for (long j = 0; j < n; j++) {
                a[i * n + j] = matmul_a(i, j);
                b[i * n + j] = matmul_b(i, j);
            }
        }
    }
    apps_rows(n, dsm_node_id(), dsm_num_nodes(), &begin, &end);
    check(dsm_barrier(), "dsm_barrier");
    start = apps_seconds();
    matmul_rows(a, b, c, n, begin, end);
    check(dsm_barrier(), "dsm_barrier");
    elapsed = apps_seconds() - start;
    if (dsm_node_id() == 0) {
        apps_report("matmul", "dsm", n, 1, dsm_num_nodes(), elapsed, apps_hash(c, bytes));
    }
    check(dsm_barrier(), "dsm_barrier");
    dsm_free(c);
    dsm_free(b);
    dsm_free(a);
    check(dsm_finalize(), "dsm_finalize");
    return 0;
}
