/* The harness behind dsm_test.h: list, filter, fork per case, count. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dsm_test.h"

/* The child's end of the pipe that carries a skip reason to the parent. */
static int dsm_test_reason_fd = -1;

dsm_test_result_t dsm_test_skip(const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    ssize_t unused;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    if (dsm_test_reason_fd >= 0) {
        unused = write(dsm_test_reason_fd, reason, strlen(reason));
        (void)unused;
    }
    return DSM_TEST_SKIP;
}

static void dsm_test_usage(const char *prog)
{
    fprintf(stderr, "usage: %s [-l] [-f WORD]\n"
                    "  -l       list the test cases\n"
                    "  -f WORD  run only cases whose name contains WORD\n", prog);
}

static dsm_test_result_t dsm_test_run_child(const dsm_test_case_t *test, int reason_fd)
{
    const char *unmet;

    dsm_test_reason_fd = reason_fd;
    if (test->unmet_need != NULL && (unmet = test->unmet_need()) != NULL) {
        return dsm_test_skip("%s", unmet);
    }
    return test->run();
}

/* Runs one case in a child; returns its result and fills reason on skip. */
static dsm_test_result_t dsm_test_run_case(const dsm_test_case_t *test, char *reason,
                                           size_t reason_size)
{
    unsigned timeout_s = test->timeout_s ? test->timeout_s : DSM_TEST_DEFAULT_TIMEOUT_S;
    int pipe_fds[2];
    int status;
    ssize_t got;
    pid_t pid;

    reason[0] = '\0';
    fflush(NULL);
    if (pipe(pipe_fds) != 0) {
        snprintf(reason, reason_size, "pipe: %s", strerror(errno));
        return DSM_TEST_FAIL;
    }
    pid = fork();
    if (pid < 0) {
        snprintf(reason, reason_size, "fork: %s", strerror(errno));
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        return DSM_TEST_FAIL;
    }
    if (pid == 0) {
        close(pipe_fds[0]);
        alarm(timeout_s); /* a hung case dies of SIGALRM and is reported */
        _exit((int)dsm_test_run_child(test, pipe_fds[1]));
    }
    close(pipe_fds[1]);
    got = read(pipe_fds[0], reason, reason_size - 1);
    reason[got > 0 ? got : 0] = '\0';
    close(pipe_fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status)) {
        snprintf(reason, reason_size, "%s", WTERMSIG(status) == SIGALRM ?
                 "timed out" : strsignal(WTERMSIG(status)));
        return DSM_TEST_FAIL;
    }
    if (WEXITSTATUS(status) == DSM_TEST_PASS || WEXITSTATUS(status) == DSM_TEST_SKIP) {
        return (dsm_test_result_t)WEXITSTATUS(status);
    }
    return DSM_TEST_FAIL;
}

int dsm_test_main(int argc, char **argv, const dsm_test_case_t *cases, size_t count)
{
    const char *filter = NULL;
    unsigned passed = 0, failed = 0, skipped = 0;
    char reason[512];
    int opt;

    while ((opt = getopt(argc, argv, "lf:h")) != -1) {
        switch (opt) {
        case 'l':
            for (size_t i = 0; i < count; i++) {
                printf("%s\n", cases[i].name);
            }
            return 0;
        case 'f':
            filter = optarg;
            break;
        default:
            dsm_test_usage(argv[0]);
            return opt == 'h' ? 0 : 2;
        }
    }
    for (size_t i = 0; i < count; i++) {
        if (filter != NULL && strstr(cases[i].name, filter) == NULL) {
            continue;
        }
        switch (dsm_test_run_case(&cases[i], reason, sizeof(reason))) {
        case DSM_TEST_PASS:
            printf("PASS %s\n", cases[i].name);
            passed++;
            break;
        case DSM_TEST_SKIP:
            printf("SKIP %s: %s\n", cases[i].name, reason);
            skipped++;
            break;
        default:
            printf("FAIL %s%s%s\n", cases[i].name, reason[0] ? ": " : "", reason);
            failed++;
            break;
        }
        fflush(stdout);
    }
    printf("%u passed, %u failed, %u skipped\n", passed, failed, skipped);
    if (failed > 0) {
        return 1;
    }
    return passed == 0 && skipped > 0 ? DSM_TEST_SKIP : 0;
}
