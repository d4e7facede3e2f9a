/*
 * fft: a 1-D complex FFT of N = n*n points by the six-step algorithm of
 * SPLASH-2 FFT, on n x n matrices a and b of complex doubles (team.h):
 * transpose, row FFTs and twiddle, transpose, row FFTs, transpose. Each
 * participant owns a block of rows (apps_rows) of both matrices and writes
 * only those; each transpose fills its rows from every participant's rows,
 * which is where the data changes hands. The iterations alternate forward
 * and inverse transforms (inverse scaled by 1/N, exact), the result of each
 * the input of the next.
 * Check: the result against an ordinary radix-2 FFT of all N points
 * (odd iterations) or against the input (even), max error < 1e-9 of the
 * largest value; the hash is bit-exact across forms and participant counts.
 * Run: dsmrun -n N -- fft_dsm [n=1024, a power of 2] [transforms=31]
 *      fft_threads <the same> [threads=2]
 */
#include <math.h>

#include "team.h"

typedef struct {
    double re, im;
} fft_complex_t;

static inline fft_complex_t fft_mul(fft_complex_t x, fft_complex_t y)
{
    return (fft_complex_t){ x.re * y.re - x.im * y.im, x.re * y.im + x.im * y.re };
}

/* exp(sign * 2 pi i k / n), the sign -1 of a forward transform. */
static fft_complex_t fft_root(long k, long n, int sign)
{
    double angle = 2.0 * M_PI * (double)k / (double)n;

    return (fft_complex_t){ cos(angle), sign * sin(angle) };
}

static fft_complex_t fft_input(long j)
{
    return (fft_complex_t){ apps_random(2 * (uint64_t)j) - 0.5, apps_random(2 * (uint64_t)j + 1) - 0.5 };
}

/* roots[k] = fft_root(k, n, sign) for k < count (malloc'ed). */
static fft_complex_t *fft_roots(long count, long n, int sign)
{
    fft_complex_t *roots = malloc((size_t)count * sizeof(*roots));

    if (roots == NULL) {
        fprintf(stderr, "fft: out of memory\n");
        exit(1);
    }
    for (long k = 0; k < count; k++) {
        roots[k] = fft_root(k, n, sign);
    }
    return roots;
}

/* In-place iterative radix-2 FFT of x[0..n), roots: fft_roots(n / 2, n, sign). */
static void fft_radix2(fft_complex_t *x, long n, const fft_complex_t *roots)
{
    for (long i = 1, j = 0; i < n; i++) {
        long bit = n >> 1;

        for (; j & bit; bit >>= 1) {
            j ^= bit;
        }
        j |= bit;
        if (i < j) {
            fft_complex_t t = x[i];

            x[i] = x[j];
            x[j] = t;
        }
    }
    for (long len = 2; len <= n; len <<= 1) {
        long half = len / 2, step = n / len;

        for (long i = 0; i < n; i += len) {
            for (long k = 0; k < half; k++) {
                fft_complex_t u = x[i + k], t = fft_mul(roots[k * step], x[i + k + half]);

                x[i + k] = (fft_complex_t){ u.re + t.re, u.im + t.im };
                x[i + k + half] = (fft_complex_t){ u.re - t.re, u.im - t.im };
            }
        }
    }
}

/* Rows [begin, end) of dst = transpose(src) * scale, in tiles of src rows. */
static void fft_transpose(fft_complex_t *dst, const fft_complex_t *src, long n, long begin,
                          long end, double scale)
{
    enum { TILE = 32 };

    for (long j0 = 0; j0 < n; j0 += TILE) {
        long j1 = j0 + TILE < n ? j0 + TILE : n;

        for (long i = begin; i < end; i++) {
            for (long j = j0; j < j1; j++) {
                fft_complex_t v = src[j * n + i];

                dst[i * n + j] = (fft_complex_t){ v.re * scale, v.im * scale };
            }
        }
    }
}

typedef struct {
    fft_complex_t *row_roots; /* n / 2 roots of the row FFTs              */
    fft_complex_t *coarse;    /* w_N^(h n) = w_n^h, h < n                */
    fft_complex_t *fine;      /* w_N^l, l < n: w_N^m = coarse[m / n] fine[m % n] */
} fft_tables_t;

static void fft_tables_init(fft_tables_t *t, long n, int sign)
{
    t->row_roots = fft_roots(n / 2, n, sign);
    t->coarse = fft_roots(n, n, sign);
    t->fine = fft_roots(n, n * n, sign);
}

static void fft_tables_free(fft_tables_t *t)
{
    free(t->row_roots);
    free(t->coarse);
    free(t->fine);
}

/* Row FFTs of rows [begin, end), then, if twiddle, x[r][c] *= w_N^(r c). */
static void fft_rows(fft_complex_t *x, long n, long begin, long end, const fft_tables_t *t,
                     bool twiddle)
{
    for (long r = begin; r < end; r++) {
        fft_radix2(&x[r * n], n, t->row_roots);
        for (long c = 0; twiddle && c < n; c++) {
            long m = r * c; /* < N */

            x[r * n + c] = fft_mul(x[r * n + c], fft_mul(t->coarse[m / n], t->fine[m % n]));
        }
    }
}

static void fft_setup(apps_job_t *job, int parts, int argc, char **argv)
{
    (void)parts;
    job->n = example_arg(argc, argv, 1, 1024);
    job->iters = example_arg(argc, argv, 2, 31);
    apps_require(job->n >= 2 && (job->n & (job->n - 1)) == 0 && job->n <= 8192, "fft",
                 "n must be a power of 2, 2..8192");
    job->arrays = 2;
    job->bytes[0] = job->bytes[1] = (size_t)(job->n * job->n) * sizeof(fft_complex_t);
}

static void fft_init(const apps_job_t *job, apps_team_t *team)
{
    fft_complex_t *a = job->array[0];
    long n = job->n, begin, end;

    apps_rows(n, team->id, team->parts, &begin, &end);
    for (long j = begin * n; j < end * n; j++) {
        a[j] = fft_input(j);
    }
}

static void fft_run(const apps_job_t *job, apps_team_t *team)
{
    long n = job->n, begin, end;
    fft_complex_t *src = job->array[0], *tmp = job->array[1], *swap;
    fft_tables_t forward, inverse;

    apps_rows(n, team->id, team->parts, &begin, &end);
    fft_tables_init(&forward, n, -1);
    fft_tables_init(&inverse, n, 1);
    for (long t = 0; t < job->iters; t++) {
        const fft_tables_t *tables = t % 2 == 0 ? &forward : &inverse;

        fft_transpose(tmp, src, n, begin, end, 1.0);
        fft_rows(tmp, n, begin, end, tables, true);
        team->barrier(team);
        fft_transpose(src, tmp, n, begin, end, 1.0);
        fft_rows(src, n, begin, end, tables, false);
        team->barrier(team);
        fft_transpose(tmp, src, n, begin, end, t % 2 == 0 ? 1.0 : 1.0 / (double)(n * n));
        team->barrier(team);
        swap = src, src = tmp, tmp = swap;
    }
    fft_tables_free(&forward);
    fft_tables_free(&inverse);
}

static bool fft_check(const apps_job_t *job, uint64_t *hash_p)
{
    long N = job->n * job->n;
    const fft_complex_t *result = job->array[job->iters % 2 == 0 ? 0 : 1];
    fft_complex_t *expect = malloc((size_t)N * sizeof(*expect)), *roots = NULL;
    double err;

    if (expect == NULL) {
        return false;
    }
    for (long j = 0; j < N; j++) {
        expect[j] = fft_input(j);
    }
    if (job->iters % 2 == 1) {
        roots = fft_roots(N / 2, N, -1);
        fft_radix2(expect, N, roots);
    }
    err = apps_rel_error(&expect[0].re, &result[0].re, 2 * (size_t)N);
    free(roots);
    free(expect);
    *hash_p = apps_hash(result, (size_t)N * sizeof(*result));
    if (!(err <= 1e-9)) {
        fprintf(stderr, "fft: largest error %.3g of the largest value\n", err);
        return false;
    }
    return true;
}

const apps_app_t apps_app = { "fft", 2, fft_setup, fft_init, fft_run, fft_check };
