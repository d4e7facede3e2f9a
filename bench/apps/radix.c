/*
 * radix: integer radix sort, SPLASH-2 RADIX style (team.h): n 32-bit keys,
 * 4 passes of 8 bits. Each participant owns a block of the source array
 * (apps_rows); per pass it counts its keys' digits into its row of a shared
 * histogram (parts x 256 counts, rows side by side in the same pages),
 * barrier, computes from all rows where its keys of each digit go (the prefix
 * sum across participants), then scatters its keys into the shared
 * destination, every participant writing all over it (write sharing, false
 * sharing at the bucket edges); barrier; source and destination swap. The
 * iterations sort freshly generated keys again (generation timed, O(n)).
 * Check: sorted, and the same multiset as the input (a sum of mixed keys);
 * the hash (of the sorted keys) is the same in every form.
 * Run: dsmrun -n N -- radix_dsm [n=4194304 keys] [sorts=10]
 *      radix_threads <the same> [threads=2]
 */
#include "team.h"

enum { RADIX_BITS = 8, RADIX_DIGITS = 1 << RADIX_BITS, RADIX_PASSES = 32 / RADIX_BITS };

static inline uint32_t radix_input(long i)
{
    return (uint32_t)(apps_mix((uint64_t)i) >> 32);
}

static void radix_setup(apps_job_t *job, int parts, int argc, char **argv)
{
    job->n = example_arg(argc, argv, 1, 4194304);
    job->iters = example_arg(argc, argv, 2, 10);
    job->arrays = 3;
    job->bytes[0] = job->bytes[1] = (size_t)job->n * sizeof(uint32_t);
    job->bytes[2] = (size_t)parts * RADIX_DIGITS * sizeof(uint64_t);
}

static void radix_init(const apps_job_t *job, apps_team_t *team)
{
    uint32_t *keys = job->array[0];
    long begin, end;

    apps_rows(job->n, team->id, team->parts, &begin, &end);
    for (long i = begin; i < end; i++) {
        keys[i] = radix_input(i);
    }
}

/* One pass: keys [begin, end) of src by digit (src >> shift) into dst. */
static void radix_pass(const apps_job_t *job, apps_team_t *team, const uint32_t *src, uint32_t *dst,
                       int shift)
{
    uint64_t *hist = job->array[2], count[RADIX_DIGITS] = { 0 }, next[RADIX_DIGITS], base = 0;
    long begin, end;

    apps_rows(job->n, team->id, team->parts, &begin, &end);
    for (long i = begin; i < end; i++) {
        count[(src[i] >> shift) & (RADIX_DIGITS - 1)]++;
    }
    memcpy(&hist[team->id * RADIX_DIGITS], count, sizeof(count));
    team->barrier(team);
    for (int d = 0; d < RADIX_DIGITS; d++) {
        for (int p = 0; p < team->parts; p++) {
            next[d] = p == team->id ? base : next[d];
            base += hist[p * RADIX_DIGITS + d];
        }
    }
    for (long i = begin; i < end; i++) {
        dst[next[(src[i] >> shift) & (RADIX_DIGITS - 1)]++] = src[i];
    }
    team->barrier(team);
}

static void radix_run(const apps_job_t *job, apps_team_t *team)
{
    uint32_t *keys = job->array[0], *tmp = job->array[1];

    for (long it = 0; it < job->iters; it++) {
        if (it > 0) {
            /* the first pass reads only this participant's keys before its barrier */
            radix_init(job, team);
        }
        for (int pass = 0; pass < RADIX_PASSES; pass++) {
            /* an even number of passes: the sorted keys end in keys */
            radix_pass(job, team, pass % 2 == 0 ? keys : tmp, pass % 2 == 0 ? tmp : keys,
                       pass * RADIX_BITS);
        }
    }
}

static bool radix_check(const apps_job_t *job, uint64_t *hash_p)
{
    const uint32_t *keys = job->array[0];
    uint64_t input_sum = 0, output_sum = 0;
    long unsorted = 0;

    for (long i = 0; i < job->n; i++) {
        input_sum += apps_mix(radix_input(i));
        output_sum += apps_mix(keys[i]);
        unsorted += i > 0 && keys[i - 1] > keys[i];
    }
    *hash_p = apps_hash(keys, job->bytes[0]);
    if (unsorted > 0 || input_sum != output_sum) {
        fprintf(stderr, "radix: %ld keys out of order, %s multiset\n", unsorted,
                input_sum == output_sum ? "same" : "different");
        return false;
    }
    return true;
}

const apps_app_t apps_app = { "radix", 2, radix_setup, radix_init, radix_run, radix_check };
