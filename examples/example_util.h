/* Helpers shared by the examples: checked dsm calls, argument parsing, row splits. */
#ifndef DSM_EXAMPLE_UTIL_H
#define DSM_EXAMPLE_UTIL_H

#include <stdio.h>
#include <stdlib.h>

#include <dsm.h>

#include "example_arg.h"

/* Abort the example with the failing call and dsm's reason. */
#define CHECK_DSM(call)                                                           \
    do {                                                                          \
        dsm_status_t check_status_ = (call);                                      \
        if (check_status_ != DSM_OK) {                                            \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call,  \
                    dsm_strerror(check_status_));                                 \
            exit(2);                                                              \
        }                                                                         \
    } while (0)

/* dsm_alloc or exit with the reason. */
static inline void *example_alloc(size_t size)
{
    void *p = dsm_alloc(size);

    if (p == NULL) {
        fprintf(stderr, "dsm_alloc(%zu) failed: %s\n", size, dsm_strerror(dsm_last_error()));
        exit(2);
    }
    return p;
}

/* The rows [begin, end) of n rows that node of nnodes owns. */
static inline void example_rows(long n, int node, int nnodes, long *begin_p, long *end_p)
{
    *begin_p = n * node / nnodes;
    *end_p = n * (node + 1) / nnodes;
}

#endif /* DSM_EXAMPLE_UTIL_H */
