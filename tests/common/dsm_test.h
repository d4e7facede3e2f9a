/*
 * A small table-driven test harness, in the manner of the kernel's selftests.
 *
 * A test binary declares a table of cases; each case may name a check that
 * returns why it cannot run here (a missing feature): that is a SKIP with the
 * reason, never a silent pass. Each case runs in a forked child with a time
 * limit, so a crash or a hang fails that case and the run goes on.
 *
 *   prog -l          list the cases
 *   prog -f WORD     run only the cases whose name contains WORD
 *
 * The run ends with "N passed, N failed, N skipped"; the exit code is 0 when
 * nothing failed and at least one case passed, 77 (ctest SKIP_RETURN_CODE)
 * when everything was skipped, 1 otherwise.
 */
#ifndef DSM_TEST_H
#define DSM_TEST_H

#include <stdio.h>

typedef enum {
    DSM_TEST_PASS = 0,
    DSM_TEST_FAIL = 1,
    DSM_TEST_SKIP = 77
} dsm_test_result_t;

typedef struct {
    const char *name;
    /* NULL when the case can always run; else returns NULL or why it cannot. */
    const char *(*unmet_need)(void);
    dsm_test_result_t (*run)(void);
    unsigned timeout_s; /* 0: DSM_TEST_DEFAULT_TIMEOUT_S */
} dsm_test_case_t;

#define DSM_TEST_DEFAULT_TIMEOUT_S 60

int dsm_test_main(int argc, char **argv, const dsm_test_case_t *cases, size_t count);

/* Inside a case: report why the rest cannot run, and return DSM_TEST_SKIP. */
dsm_test_result_t dsm_test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define DSM_TEST_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Fail the case with the condition text and location unless cond holds. */
#define DSM_CHECK(cond)                                                       \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "  check failed at %s:%d: %s\n", __FILE__,        \
                    __LINE__, #cond);                                         \
            return DSM_TEST_FAIL;                                             \
        }                                                                     \
    } while (0)

/* Same, with a formatted explanation. */
#define DSM_CHECKF(cond, ...)                                                 \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "  check failed at %s:%d: %s: ", __FILE__,        \
                    __LINE__, #cond);                                         \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
            return DSM_TEST_FAIL;                                             \
        }                                                                     \
    } while (0)

#endif /* DSM_TEST_H */
