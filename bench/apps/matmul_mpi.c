/*
 * matmul_mpi: MPI two-sided. Rank 0 holds A and B; timed: A's row blocks
 * scattered (MPI_Scatterv), B broadcast (MPI_Bcast), each rank computes its
 * rows of C, C gathered at rank 0 (MPI_Gatherv).
 * Run: mpirun -np 2 matmul_mpi [n=1024]
 */
#include <mpi.h>

#include "apps.h"

int main(int argc, char **argv)
{
    long n, begin, end, rows;
    int rank, size, *counts, *displs;
    double *a = NULL, *b, *c = NULL, *my_a, *my_c, start, elapsed;
    size_t bytes;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    n = example_arg(argc, argv, 1, 1024);
    bytes = (size_t)(n * n) * sizeof(double);
    apps_rows(n, rank, size, &begin, &end);
    rows = end - begin;
    b = malloc(bytes);
    my_a = malloc((size_t)(rows * n) * sizeof(double));
    my_c = malloc((size_t)(rows * n) * sizeof(double));
    counts = calloc((size_t)size, sizeof(int));
    displs = calloc((size_t)size, sizeof(int));
    if (b == NULL || my_a == NULL || my_c == NULL || counts == NULL || displs == NULL) {
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (int r = 0; r < size; r++) {
        long rb, re;

        apps_rows(n, r, size, &rb, &re);
        counts[r] = (int)((re - rb) * n);
        displs[r] = (int)(rb * n);
    }
    if (rank == 0) {
        a = malloc(bytes);
        c = malloc(bytes);
        if (a == NULL || c == NULL) {
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        for (long i = 0; i < n; i++) {
            for (long j = 0; j < n; j++) {
                a[i * n + j] = matmul_a(i, j);
                b[i * n + j] = matmul_b(i, j);
            }
        }
    }
    MPI_Barrier(MPI_COMM_WORLD);
    start = apps_seconds();
    MPI_Scatterv(a, counts, displs, MPI_DOUBLE, my_a, (int)(rows * n), MPI_DOUBLE, 0,
                 MPI_COMM_WORLD);
    MPI_Bcast(b, (int)(n * n), MPI_DOUBLE, 0, MPI_COMM_WORLD);
    /* my_a holds rows [begin, end): compute them as rows [0, rows) of my_c */
    matmul_rows(my_a, b, my_c, n, 0, rows);
    MPI_Gatherv(my_c, (int)(rows * n), MPI_DOUBLE, c, counts, displs, MPI_DOUBLE, 0,
                MPI_COMM_WORLD);
    elapsed = apps_seconds() - start;
    if (rank == 0) {
        apps_report("matmul", "mpi", n, 1, size, elapsed, apps_hash(c, bytes));
        free(a);
        free(c);
    }
    free(b);
    free(my_a);
    free(my_c);
    free(counts);
    free(displs);
    MPI_Finalize();
    return 0;
}
