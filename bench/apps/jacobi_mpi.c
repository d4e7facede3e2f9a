/*
 * jacobi_mpi: MPI two-sided, each rank holds its block of rows plus one halo
 * row above and below, and exchanges halos with MPI_Sendrecv every sweep.
 * The result is gathered at rank 0 (not timed) for the hash.
 * Run: mpirun -np 2 jacobi_mpi [n=2046] [sweeps=1000]
 */
#include <mpi.h>

#include "apps.h"

int main(int argc, char **argv)
{
    long n, sweeps, width, begin, end, rows;
    int rank, size, up, down;
    double *u, *v, *t, start, elapsed;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    n = example_arg(argc, argv, 1, 2046);
    sweeps = example_arg(argc, argv, 2, 1000);
    width = n + 2;
    apps_rows(n, rank, size, &begin, &end);
    rows = end - begin;
    /* local row 0 is global row begin (a halo or the top edge), rows+1 the one below */
    u = calloc((size_t)((rows + 2) * width), sizeof(double));
    v = calloc((size_t)((rows + 2) * width), sizeof(double));
    if (u == NULL || v == NULL) {
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (rank == 0) {
        jacobi_boundary(u, width);
        jacobi_boundary(v, width);
    }
    up = rank > 0 ? rank - 1 : MPI_PROC_NULL;
    down = rank < size - 1 ? rank + 1 : MPI_PROC_NULL;
    MPI_Barrier(MPI_COMM_WORLD);
    start = apps_seconds();
    for (long s = 0; s < sweeps; s++) {
        MPI_Sendrecv(&u[1 * width], (int)width, MPI_DOUBLE, up, 0, &u[(rows + 1) * width],
                     (int)width, MPI_DOUBLE, down, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Sendrecv(&u[rows * width], (int)width, MPI_DOUBLE, down, 1, &u[0], (int)width,
                     MPI_DOUBLE, up, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        jacobi_sweep(u, v, width, 1, rows + 1);
        t = u, u = v, v = t;
    }
    elapsed = apps_seconds() - start;
    {
        /* Gather every rank's interior rows into the full grid at rank 0. */
        size_t bytes = (size_t)(width * width) * sizeof(double);
        double *full = rank == 0 ? calloc(1, bytes) : NULL;
        int *counts = calloc((size_t)size, sizeof(int)), *displs = calloc((size_t)size, sizeof(int));

        for (int r = 0; r < size; r++) {
            long b, e;

            apps_rows(n, r, size, &b, &e);
            counts[r] = (int)((e - b) * width);
            displs[r] = (int)((b + 1) * width);
        }
        MPI_Gatherv(&u[width], (int)(rows * width), MPI_DOUBLE, full, counts, displs, MPI_DOUBLE, 0,
                    MPI_COMM_WORLD);
        if (rank == 0) {
            jacobi_boundary(full, width);
            apps_report("jacobi", "mpi", n, sweeps, size, elapsed, apps_hash(full, bytes));
            free(full);
        }
        free(counts);
        free(displs);
    }
    free(u);
    free(v);
    MPI_Finalize();
    return 0;
}
