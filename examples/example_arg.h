/* Command-line arguments of the examples and of bench/apps: one parser for both. */
#ifndef DSM_EXAMPLE_ARG_H
#define DSM_EXAMPLE_ARG_H

#include <stdio.h>
#include <stdlib.h>

/* argv[index] as a positive integer, or fallback when absent; exits on junk. */
static inline long example_arg(int argc, char **argv, int index, long fallback)
{
    char *end;
    long value;

    if (index >= argc) {
        return fallback;
    }
    value = strtol(argv[index], &end, 10);
    if (*argv[index] == '\0' || *end != '\0' || value <= 0) {
        fprintf(stderr, "%s: argument %d must be a positive integer, got '%s'\n", argv[0],
                index, argv[index]);
        exit(2);
    }
    return value;
}

#endif /* DSM_EXAMPLE_ARG_H */
