/*
 * The Jacobi relaxation shared by jacobi.c and jacobi_restart.c: a 5-point
 * stencil on an (n+2) x (n+2) grid whose top edge is 1.0, the rest 0.0, and
 * the serial run node 0 compares the shared result with, bit for bit.
 */
#ifndef DSM_JACOBI_GRID_H
#define DSM_JACOBI_GRID_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void boundary(double *grid, long width)
{
    for (long j = 0; j < width; j++) {
        grid[j] = 1.0; /* top edge */
    }
}

static void sweep(const double *src, double *dst, long width, long begin, long end)
{
    for (long i = begin; i < end; i++) {
        for (long j = 1; j < width - 1; j++) {
            dst[i * width + j] = 0.25 * (src[(i - 1) * width + j] + src[(i + 1) * width + j] +
                                         src[i * width + j - 1] + src[i * width + j + 1]);
        }
    }
}

/* Node 0: the serial computation of every sweep, compared with the shared
 * result; program names the example in the out-of-memory message. */
static int verify(const char *program, const double *shared, long n, long sweeps)
{
    long width = n + 2;
    size_t bytes = (size_t)(width * width) * sizeof(double);
    double *a = calloc(1, bytes), *b = calloc(1, bytes), *t;
    int same;

    if (a == NULL || b == NULL) {
        fprintf(stderr, "%s: out of memory for the serial check\n", program);
        exit(2);
    }
    boundary(a, width);
    boundary(b, width);
    for (long s = 0; s < sweeps; s++) {
        sweep(a, b, width, 1, n + 1);
        t = a, a = b, b = t;
    }
    same = memcmp(a, shared, bytes) == 0;
    free(a);
    free(b);
    return same;
}

#endif
