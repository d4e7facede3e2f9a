/*
 * lu: dense LU factorisation without pivoting of an n x n diagonally dominant
 * matrix in B x B blocks, SPLASH-2 LU style (team.h): each block is stored
 * contiguously (B = 32: 8 KiB, two pages), blocks owned 2-D cyclically by a
 * rows x cols grid of participants (apps_grid). Step k: the owner of block
 * (k,k) factors it; barrier; the owners of the blocks of row k and column k
 * solve them against it; barrier; every owner updates its blocks of the
 * trailing matrix from its row and column blocks (read from their owners);
 * barrier. The iterations factor the matrix again from its initial values.
 * Check: L (unit lower) times U times a random vector v against A v (O(n^2)),
 * largest error < 1e-9 of the largest value; the hash is bit-exact across
 * forms and participant counts (each block's arithmetic is the same).
 * Run: dsmrun -n N -- lu_dsm [n=1536] [factorisations=1] [B=32, dividing n]
 *      lu_threads <the same> [threads=2]
 */
#include "team.h"

static double lu_input(long n, long i, long j)
{
    return apps_random((uint64_t)(i * n + j)) + (i == j ? (double)n : 0.0);
}

/* Element (i, j) of the block-contiguous layout. */
static inline long lu_index(long n, long b, long i, long j)
{
    return ((i / b) * (n / b) + j / b) * b * b + (i % b) * b + j % b;
}

static inline double *lu_block(const apps_job_t *job, long bi, long bj)
{
    long b = job->block;

    return (double *)job->array[0] + (bi * (job->n / b) + bj) * b * b;
}

static inline int lu_owner(const apps_team_t *team, long bi, long bj)
{
    int rows, cols;

    apps_grid(team->parts, &rows, &cols);
    return (int)(bi % rows) * cols + (int)(bj % cols);
}

/* The diagonal block in place: unit lower L and upper U. */
static void lu_factor_diag(double *a, long b)
{
    for (long k = 0; k < b; k++) {
        for (long i = k + 1; i < b; i++) {
            a[i * b + k] /= a[k * b + k];
            for (long j = k + 1; j < b; j++) {
                a[i * b + j] -= a[i * b + k] * a[k * b + j];
            }
        }
    }
}

/* A block of row k: blk = L^-1 blk, L the unit lower part of diag. */
static void lu_solve_row(const double *diag, double *blk, long b)
{
    for (long k = 0; k < b; k++) {
        for (long i = k + 1; i < b; i++) {
            for (long j = 0; j < b; j++) {
                blk[i * b + j] -= diag[i * b + k] * blk[k * b + j];
            }
        }
    }
}

/* A block of column k: blk = blk U^-1, U the upper part of diag. */
static void lu_solve_col(const double *diag, double *blk, long b)
{
    for (long i = 0; i < b; i++) {
        for (long k = 0; k < b; k++) {
            blk[i * b + k] /= diag[k * b + k];
            for (long j = k + 1; j < b; j++) {
                blk[i * b + j] -= blk[i * b + k] * diag[k * b + j];
            }
        }
    }
}

/* c -= a x b (B x B blocks, i-k-j order). */
static void lu_update(double *c, const double *a, const double *bk, long b)
{
    for (long i = 0; i < b; i++) {
        for (long k = 0; k < b; k++) {
            double aik = a[i * b + k];

            for (long j = 0; j < b; j++) {
                c[i * b + j] -= aik * bk[k * b + j];
            }
        }
    }
}

static void lu_setup(apps_job_t *job, int parts, int argc, char **argv)
{
    (void)parts;
    job->n = example_arg(argc, argv, 1, 1536);
    job->iters = example_arg(argc, argv, 2, 1);
    job->block = example_arg(argc, argv, 3, 32);
    apps_require(job->n % job->block == 0, "lu", "B must divide n");
    job->arrays = 1;
    job->bytes[0] = (size_t)(job->n * job->n) * sizeof(double);
}

/* Every block this participant owns, from the initial matrix. */
static void lu_init(const apps_job_t *job, apps_team_t *team)
{
    long n = job->n, b = job->block, nb = n / b;

    for (long bi = 0; bi < nb; bi++) {
        for (long bj = 0; bj < nb; bj++) {
            double *blk = lu_block(job, bi, bj);

            if (lu_owner(team, bi, bj) != team->id) {
                continue;
            }
            for (long i = 0; i < b; i++) {
                for (long j = 0; j < b; j++) {
                    blk[i * b + j] = lu_input(n, bi * b + i, bj * b + j);
                }
            }
        }
    }
}

static void lu_factor(const apps_job_t *job, apps_team_t *team)
{
    long b = job->block, nb = job->n / b;

    for (long k = 0; k < nb; k++) {
        const double *diag = lu_block(job, k, k);

        if (lu_owner(team, k, k) == team->id) {
            lu_factor_diag(lu_block(job, k, k), b);
        }
        team->barrier(team);
        for (long m = k + 1; m < nb; m++) {
            if (lu_owner(team, k, m) == team->id) {
                lu_solve_row(diag, lu_block(job, k, m), b);
            }
            if (lu_owner(team, m, k) == team->id) {
                lu_solve_col(diag, lu_block(job, m, k), b);
            }
        }
        team->barrier(team);
        for (long bi = k + 1; bi < nb; bi++) {
            for (long bj = k + 1; bj < nb; bj++) {
                if (lu_owner(team, bi, bj) == team->id) {
                    lu_update(lu_block(job, bi, bj), lu_block(job, bi, k), lu_block(job, k, bj), b);
                }
            }
        }
        team->barrier(team);
    }
}

static void lu_run(const apps_job_t *job, apps_team_t *team)
{
    for (long it = 0; it < job->iters; it++) {
        if (it > 0) {
            /* only this participant reads its blocks before the next barrier */
            lu_init(job, team);
        }
        lu_factor(job, team);
    }
}

/* Freivalds: L (U v) against A v for a random v. */
static bool lu_check(const apps_job_t *job, uint64_t *hash_p)
{
    long n = job->n, b = job->block;
    const double *a = job->array[0];
    double *v = malloc((size_t)n * sizeof(double)), *y = malloc((size_t)n * sizeof(double));
    double *z = malloc((size_t)n * sizeof(double)), *av = malloc((size_t)n * sizeof(double));
    double err = INFINITY;

    if (v != NULL && y != NULL && z != NULL && av != NULL) {
        for (long j = 0; j < n; j++) {
            v[j] = apps_random((uint64_t)(n * n + j)) - 0.5;
        }
        for (long i = 0; i < n; i++) {
            y[i] = av[i] = 0.0;
            for (long j = 0; j < n; j++) {
                av[i] += lu_input(n, i, j) * v[j];
                y[i] += j >= i ? a[lu_index(n, b, i, j)] * v[j] : 0.0;
            }
        }
        for (long i = 0; i < n; i++) {
            z[i] = y[i];
            for (long j = 0; j < i; j++) {
                z[i] += a[lu_index(n, b, i, j)] * y[j];
            }
        }
        err = apps_rel_error(av, z, (size_t)n);
    }
    free(v);
    free(y);
    free(z);
    free(av);
    *hash_p = apps_hash(a, job->bytes[0]);
    if (!(err <= 1e-9)) {
        fprintf(stderr, "lu: L U v differs from A v by %.3g of the largest value\n", err);
        return false;
    }
    return true;
}

const apps_app_t apps_app = { "lu", 3, lu_setup, lu_init, lu_run, lu_check };
