/*
 * redblack: red-black Gauss-Seidel on an (n+2) x (n+2) grid (team.h): top
 * edge 1.0, left edge 0.5, the rest 0.0; a point (i, j) is red when i + j is
 * even. The participants form a rows x cols grid of blocks (apps_grid, cols
 * >= rows: 2 participants split the columns), so partition edges include
 * columns, each row of which lies in its own page. An iteration: every
 * participant updates the red points of its block, barrier, the black ones,
 * barrier. A colour's points read only the other colour, so the result does
 * not depend on the split.
 * Check: bit for bit equal to a serial run of the same sweeps (hash the same
 * in every form and participant count). The defaults take about 1 s with 2
 * threads here; the dsm form, which moves the pages of the column edges at
 * every colour, takes some ten times longer.
 * Run: dsmrun -n N -- redblack_dsm [n=2046] [iterations=200]
 *      redblack_threads <the same> [threads=2]
 */
#include "team.h"

static void redblack_setup(apps_job_t *job, int parts, int argc, char **argv)
{
    (void)parts;
    job->n = example_arg(argc, argv, 1, 2046);
    job->iters = example_arg(argc, argv, 2, 200);
    job->arrays = 1;
    job->bytes[0] = (size_t)((job->n + 2) * (job->n + 2)) * sizeof(double);
}

/* The boundary; participant 0 writes it. */
static void redblack_init(const apps_job_t *job, apps_team_t *team)
{
    double *u = job->array[0];
    long width = job->n + 2;

    if (team->id != 0) {
        return;
    }
    for (long i = 1; i < width; i++) {
        u[i * width] = 0.5;
    }
    for (long j = 0; j < width; j++) {
        u[j] = 1.0;
    }
}

/* The points of colour (0 red, 1 black) in rows [r0, r1) x columns [c0, c1). */
static void redblack_sweep(double *u, long width, long r0, long r1, long c0, long c1, long colour)
{
    for (long i = r0; i < r1; i++) {
        for (long j = c0 + ((i + c0 + colour) & 1); j < c1; j += 2) {
            u[i * width + j] = 0.25 * (u[(i - 1) * width + j] + u[(i + 1) * width + j] +
                                       u[i * width + j - 1] + u[i * width + j + 1]);
        }
    }
}

static void redblack_run(const apps_job_t *job, apps_team_t *team)
{
    long r0, r1, c0, c1;
    int rows, cols;

    apps_grid(team->parts, &rows, &cols);
    apps_rows(job->n, team->id / cols, rows, &r0, &r1);
    apps_rows(job->n, team->id % cols, cols, &c0, &c1);
    for (long it = 0; it < job->iters; it++) {
        for (long colour = 0; colour < 2; colour++) {
            redblack_sweep(job->array[0], job->n + 2, r0 + 1, r1 + 1, c0 + 1, c1 + 1, colour);
            team->barrier(team);
        }
    }
}

static bool redblack_check(const apps_job_t *job, uint64_t *hash_p)
{
    apps_team_t serial_team = apps_team_serial();
    apps_job_t serial;
    bool same;

    *hash_p = apps_hash(job->array[0], job->bytes[0]);
    if (!apps_job_copy(job, &serial)) {
        return false;
    }
    redblack_init(&serial, &serial_team);
    redblack_run(&serial, &serial_team);
    same = memcmp(serial.array[0], job->array[0], job->bytes[0]) == 0;
    apps_job_copy_free(&serial);
    if (!same) {
        fprintf(stderr, "redblack: the grid differs from a serial run's\n");
    }
    return same;
}

const apps_app_t apps_app = { "redblack", 2, redblack_setup, redblack_init, redblack_run,
                              redblack_check };
