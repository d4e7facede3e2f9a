/*
 * nbody: time steps of n particles under softened gravity, SPLASH-2
 * WATER-NSQUARED style (team.h). Positions, velocities and forces are shared
 * arrays (3 doubles a particle), the potential energy one shared word. Each
 * participant owns a block of particles (apps_rows) and computes the pairs of
 * each of its particles i with the n/2 particles that follow it (cyclically),
 * accumulating both sides into a private array; then it adds that array into
 * the shared forces block by block, each block of particles under its own
 * lock (starting at its own block), and its energy under the last lock;
 * barrier; it moves its particles (velocity, then position; forces zeroed
 * for the next step but the last); barrier.
 * Check: against a serial run of the same steps, positions, velocities,
 * forces and energy within 1e-9 of the largest value (the order of the
 * additions under the locks varies), and total momentum (zero at start)
 * within 1e-9 of the sum of |velocity|. The hash is of the results rounded to
 * float, so it is the same in every form unless a rounding lands on an edge.
 * Run: dsmrun -n N -- nbody_dsm [n=4096] [steps=20] [particles per lock=64]
 *      nbody_threads <the same> [threads=2]
 */
#include "team.h"

enum { NBODY_POS, NBODY_VEL, NBODY_FORCE, NBODY_ENERGY };

#define NBODY_DT   1e-3
#define NBODY_EPS2 1e-2 /* softening: no pair force above 1 / (2 n eps^3) */

static void nbody_setup(apps_job_t *job, int parts, int argc, char **argv)
{
    (void)parts;
    job->n = example_arg(argc, argv, 1, 4096);
    job->iters = example_arg(argc, argv, 2, 20);
    job->block = example_arg(argc, argv, 3, 64);
    apps_require(job->n >= 2, "nbody", "n must be at least 2");
    job->arrays = 4;
    job->bytes[NBODY_POS] = job->bytes[NBODY_VEL] = job->bytes[NBODY_FORCE] =
        (size_t)job->n * 3 * sizeof(double);
    job->bytes[NBODY_ENERGY] = sizeof(double);
    /* one lock per block of particles, then the energy's */
    job->locks = (job->n + job->block - 1) / job->block + 1;
}

static void nbody_init(const apps_job_t *job, apps_team_t *team)
{
    double *pos = job->array[NBODY_POS];
    long begin, end;

    apps_rows(job->n, team->id, team->parts, &begin, &end);
    for (long i = 3 * begin; i < 3 * end; i++) {
        pos[i] = apps_random((uint64_t)i);
    }
}

/* The pairs of particles [begin, end) into force (zeroed first); returns their energy. */
static double nbody_pairs(const apps_job_t *job, long begin, long end, double *force)
{
    const double *pos = job->array[NBODY_POS];
    long n = job->n;
    double energy = 0.0, inv_n = 1.0 / (double)n;

    memset(force, 0, (size_t)n * 3 * sizeof(double));
    for (long i = begin; i < end; i++) {
        /* i and i + n/2 meet twice when n is even: the lower one takes that pair */
        long last = n % 2 == 0 && i >= n / 2 ? n / 2 - 1 : n / 2;

        for (long k = 1; k <= last; k++) {
            long j = (i + k) % n;
            double d[3], r2 = NBODY_EPS2, inv_r, s;

            for (int c = 0; c < 3; c++) {
                d[c] = pos[3 * j + c] - pos[3 * i + c];
                r2 += d[c] * d[c];
            }
            inv_r = 1.0 / sqrt(r2);
            s = inv_n * inv_r * inv_r * inv_r;
            energy -= inv_n * inv_r;
            for (int c = 0; c < 3; c++) {
                force[3 * i + c] += s * d[c];
                force[3 * j + c] -= s * d[c];
            }
        }
    }
    return energy;
}

static void nbody_run(const apps_job_t *job, apps_team_t *team)
{
    double *vel = job->array[NBODY_VEL], *pos = job->array[NBODY_POS];
    double *shared = job->array[NBODY_FORCE], *energy = job->array[NBODY_ENERGY];
    long n = job->n, blocks = job->locks - 1, begin, end;
    double *force = malloc((size_t)n * 3 * sizeof(double)), mine;

    if (force == NULL) {
        fprintf(stderr, "nbody: out of memory\n");
        exit(1);
    }
    apps_rows(n, team->id, team->parts, &begin, &end);
    for (long step = 0; step < job->iters; step++) {
        mine = nbody_pairs(job, begin, end, force);
        for (long b = 0; b < blocks; b++) {
            long block = (begin / job->block + b) % blocks, last = (block + 1) * job->block;

            team->lock(team, block);
            for (long i = 3 * block * job->block; i < 3 * (last < n ? last : n); i++) {
                shared[i] += force[i];
            }
            team->unlock(team, block);
        }
        team->lock(team, blocks);
        *energy += mine;
        team->unlock(team, blocks);
        team->barrier(team);
        for (long i = 3 * begin; i < 3 * end; i++) {
            vel[i] += NBODY_DT * shared[i];
            pos[i] += NBODY_DT * vel[i];
            shared[i] = step + 1 < job->iters ? 0.0 : shared[i];
        }
        team->barrier(team);
    }
    free(force);
}

/* Hash of the arrays rounded to float: equal for results within a float's rounding. */
static uint64_t nbody_hash(const apps_job_t *job)
{
    uint64_t hash = 0;

    for (int k = 0; k < job->arrays; k++) {
        const double *values = job->array[k];
        size_t count = job->bytes[k] / sizeof(double);
        float *rounded = malloc(count * sizeof(float));

        if (rounded == NULL) {
            return 0;
        }
        for (size_t i = 0; i < count; i++) {
            rounded[i] = (float)values[i];
        }
        hash ^= apps_hash(rounded, count * sizeof(float)) + (uint64_t)k;
        free(rounded);
    }
    return hash;
}

static bool nbody_check(const apps_job_t *job, uint64_t *hash_p)
{
    apps_team_t serial_team = apps_team_serial();
    apps_job_t serial;
    const double *vel = job->array[NBODY_VEL];
    double err = 0.0, momentum[3] = { 0.0, 0.0, 0.0 }, speed = 0.0, drift;

    *hash_p = nbody_hash(job);
    if (!apps_job_copy(job, &serial)) {
        return false;
    }
    nbody_init(&serial, &serial_team);
    nbody_run(&serial, &serial_team);
    for (int k = 0; k < job->arrays; k++) {
        double e = apps_rel_error(serial.array[k], job->array[k], job->bytes[k] / sizeof(double));

        err = e > err ? e : err;
    }
    apps_job_copy_free(&serial);
    for (long i = 0; i < 3 * job->n; i++) {
        momentum[i % 3] += vel[i];
        speed += fabs(vel[i]);
    }
    drift = sqrt(momentum[0] * momentum[0] + momentum[1] * momentum[1] + momentum[2] * momentum[2]);
    if (!(err <= 1e-9) || !(drift <= 1e-9 * speed)) {
        fprintf(stderr, "nbody: largest difference from a serial run %.3g, momentum %.3g of %.3g\n",
                err, drift, speed);
        return false;
    }
    return true;
}

const apps_app_t apps_app = { "nbody", 3, nbody_setup, nbody_init, nbody_run, nbody_check };
