/*
 * matmul: C = A x B for n x n doubles in the arena. Node 0 fills A and B,
 * every node computes its block of rows of C, node 0 checks C against a
 * serial product in private memory (bit for bit: same order of operations).
 * Run: dsmrun -n 4 ./matmul [n=128]
 */
#include <string.h>

#include "example_util.h"

static void multiply_rows(const double *a, const double *b, double *c, long n, long begin,
                          long end)
{
    for (long i = begin; i < end; i++) {
        for (long j = 0; j < n; j++) {
            double sum = 0;

            for (long k = 0; k < n; k++) {
                sum += a[i * n + k] * b[k * n + j];
            }
            c[i * n + j] = sum;
        }
    }
}

static int verify(const double *a, const double *b, const double *c, long n)
{
    double *serial = malloc((size_t)(n * n) * sizeof(double));
    int same;

    if (serial == NULL) {
        fprintf(stderr, "matmul: out of memory for the serial check\n");
        exit(2);
    }
    multiply_rows(a, b, serial, n, 0, n);
    same = memcmp(serial, c, (size_t)(n * n) * sizeof(double)) == 0;
    free(serial);
    return same;
}

int main(int argc, char **argv)
{
    long n = example_arg(argc, argv, 1, 128), begin, end;
    size_t bytes = (size_t)(n * n) * sizeof(double);
    double *a, *b, *c;
    int *verdict, ok;

    CHECK_DSM(dsm_init(NULL));
    a = example_alloc(bytes);
    b = example_alloc(bytes);
    c = example_alloc(bytes);
    verdict = example_alloc(sizeof(*verdict));
    if (dsm_node_id() == 0) {
        for (long i = 0; i < n * n; i++) {
            a[i] = (double)(i % 17) - 8.0;
            b[i] = (double)(i % 13) * 0.5;
        }
    }
    CHECK_DSM(dsm_barrier());
    example_rows(n, dsm_node_id(), dsm_num_nodes(), &begin, &end);
    multiply_rows(a, b, c, n, begin, end);
    CHECK_DSM(dsm_barrier());
    if (dsm_node_id() == 0) {
        *verdict = verify(a, b, c, n) ? 1 : -1;
    }
    CHECK_DSM(dsm_barrier());
    ok = *verdict == 1;
    printf("matmul node %d/%d: %ldx%ld, rows %ld..%ld: %s\n", dsm_node_id(), dsm_num_nodes(),
           n, n, begin, end - 1, ok ? "verified against the serial product" : "WRONG");
    dsm_free(verdict);
    dsm_free(c);
    dsm_free(b);
    dsm_free(a);
    CHECK_DSM(dsm_finalize());
    return !ok;
}
