/*
 * Integration tests of the dsmrun-path bootstrap's refusals, with the nodes
 * started directly (forked, variables set by hand): a wrong job key is refused
 * on both sides without the key ever being printed; a malformed frame, a
 * duplicate rank or a node count that does not match ends the join with an
 * error, not a crash; an unreachable coordinator is reported once
 * DSM_BOOT_TIMEOUT passes. Every wait is for an event (EOF on a node's
 * stderr, waitpid); DSM_BOOT_TIMEOUT bounds every node.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot_int.h"
#include "dsm_test.h"

#define KEY_A "3f1e6a0c9b8d7e2f4a5b6c7d8e9f00112233445566778899aabbccddeeff0011"
#define KEY_B "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"

typedef struct {
    pid_t pid;
    int   log_fd;      /* read end of the node's stderr */
    char  log[8192];
    int   exit_code;   /* -status of dsm_tp_boot_init, or 128+signal */
} boot_refuse_node_t;

/* A port nothing listens on right now: bound, read back, released. */
static int boot_refuse_free_port(void)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0) {
        port = ntohs(addr.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

/* Forks a node that joins with these variables, barriers once and exits with
 * -status (0 on success). Its stderr is captured. */
static int boot_refuse_start(boot_refuse_node_t *node, int rank, int nnodes, int port,
                             const char *key, const char *timeout_s)
{
    char text[32];
    int fds[2];

    if (pipe(fds) != 0) {
        return -1;
    }
    fflush(NULL);
    node->pid = fork();
    if (node->pid < 0) {
        return -1;
    }
    if (node->pid == 0) {
        dsm_tp_boot_t *boot;
        dsm_status_t status;

        close(fds[0]);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        snprintf(text, sizeof(text), "%d", rank);
        setenv("DSM_RANK", text, 1);
        snprintf(text, sizeof(text), "%d", nnodes);
        setenv("DSM_NNODES", text, 1);
        snprintf(text, sizeof(text), "127.0.0.1:%d", port);
        setenv("DSM_COORD", text, 1);
        setenv("DSM_JOB_KEY", key, 1);
        setenv("DSM_BOOT_TIMEOUT", timeout_s, 1);
        status = dsm_tp_boot_init(&boot);
        if (status == DSM_OK) {
            status = dsm_tp_boot_barrier(boot);
            dsm_tp_boot_fini(boot);
        }
        fflush(NULL);
        _exit(-status);
    }
    close(fds[1]);
    node->log_fd = fds[0];
    return 0;
}

/* Reads the node's output to EOF, then reaps it. */
static void boot_refuse_finish(boot_refuse_node_t *node)
{
    size_t used = 0;
    ssize_t got;
    int status;

    while ((got = read(node->log_fd, node->log + used, sizeof(node->log) - 1 - used)) > 0 ||
           (got < 0 && errno == EINTR)) {
        used += got > 0 ? (size_t)got : 0;
    }
    node->log[used] = '\0';
    close(node->log_fd);
    while (waitpid(node->pid, &status, 0) < 0 && errno == EINTR) {
    }
    node->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    fprintf(stderr, "  node pid %d ended with %d; its log:\n%s", (int)node->pid,
            node->exit_code, node->log);
}

/* Connects to 127.0.0.1:port, retrying while node 0 is not listening yet. */
static int boot_refuse_connect(int port)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

    for (int attempt = 0; attempt < 500; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        if (fd < 0) {
            return -1;
        }
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
            return fd;
        }
        close(fd);
        poll(NULL, 0, 10); /* bounded backoff: 500 x 10 ms while node 0 starts */
    }
    return -1;
}

static dsm_test_result_t boot_refuse_wrong_key(void)
{
    boot_refuse_node_t coord, node;
    int port = boot_refuse_free_port();

    DSM_CHECK(port > 0);
    DSM_CHECK(boot_refuse_start(&coord, 0, 2, port, KEY_A, "10") == 0);
    DSM_CHECK(boot_refuse_start(&node, 1, 2, port, KEY_B, "10") == 0);
    boot_refuse_finish(&node);
    boot_refuse_finish(&coord);
    DSM_CHECKF(coord.exit_code == -DSM_ERR_AUTH, "node 0 ended with %d", coord.exit_code);
    DSM_CHECKF(node.exit_code == -DSM_ERR_AUTH, "node 1 ended with %d", node.exit_code);
    DSM_CHECK(strstr(coord.log, "job key mismatch") != NULL);
    DSM_CHECK(strstr(node.log, "job key mismatch") != NULL);
    /* Neither key, nor its first half, is ever printed. */
    for (int i = 0; i < 2; i++) {
        const char *log = i == 0 ? coord.log : node.log;

        DSM_CHECK(strstr(log, KEY_A) == NULL && strstr(log, KEY_B) == NULL);
        DSM_CHECK(strstr(log, "3f1e6a0c9b8d7e2f") == NULL && strstr(log, "c0ffee00c0ffee00") == NULL);
    }
    return DSM_TEST_PASS;
}

/* The right key on both sides joins: the refusal above is about the key. */
static dsm_test_result_t boot_refuse_same_key_joins(void)
{
    boot_refuse_node_t coord, node;
    int port = boot_refuse_free_port();

    DSM_CHECK(port > 0);
    DSM_CHECK(boot_refuse_start(&coord, 0, 2, port, KEY_A, "10") == 0);
    DSM_CHECK(boot_refuse_start(&node, 1, 2, port, KEY_A, "10") == 0);
    boot_refuse_finish(&node);
    boot_refuse_finish(&coord);
    DSM_CHECK(coord.exit_code == 0 && node.exit_code == 0);
    return DSM_TEST_PASS;
}

/* Sends raw bytes to node 0 as a joining node and checks it ends malformed. */
static dsm_test_result_t boot_refuse_raw(const void *bytes, size_t len)
{
    boot_refuse_node_t coord;
    int port = boot_refuse_free_port(), fd;

    DSM_CHECK(port > 0);
    DSM_CHECK(boot_refuse_start(&coord, 0, 2, port, KEY_A, "10") == 0);
    fd = boot_refuse_connect(port);
    DSM_CHECK(fd >= 0);
    DSM_CHECK(write(fd, bytes, len) == (ssize_t)len);
    boot_refuse_finish(&coord);
    close(fd);
    DSM_CHECKF(coord.exit_code == -DSM_ERR_MALFORMED, "node 0 ended with %d", coord.exit_code);
    DSM_CHECK(strstr(coord.log, "malformed frame") != NULL);
    return DSM_TEST_PASS;
}

static dsm_test_result_t boot_refuse_garbage(void)
{
    static const char http[] = "GET / HTTP/1.0\r\n\r\n";

    return boot_refuse_raw(http, sizeof(http) - 1);
}

static dsm_test_result_t boot_refuse_huge_hello(void)
{
    uint8_t hdr[DSM_TP_BOOT_HDR_LEN];

    dsm_tp_boot_frame_hdr_pack(DSM_TP_BOOT_FRAME_HELLO, 0xffffffffu, hdr);
    return boot_refuse_raw(hdr, sizeof(hdr));
}

static dsm_test_result_t boot_refuse_wrong_first_frame(void)
{
    uint8_t frame[DSM_TP_BOOT_HDR_LEN + 4] = {0};

    dsm_tp_boot_frame_hdr_pack(DSM_TP_BOOT_FRAME_CONTRIB, 4, frame);
    return boot_refuse_raw(frame, sizeof(frame));
}

static dsm_test_result_t boot_refuse_nnodes_mismatch(void)
{
    boot_refuse_node_t coord, node;
    int port = boot_refuse_free_port();

    DSM_CHECK(port > 0);
    DSM_CHECK(boot_refuse_start(&coord, 0, 2, port, KEY_A, "10") == 0);
    DSM_CHECK(boot_refuse_start(&node, 1, 3, port, KEY_A, "10") == 0);
    boot_refuse_finish(&node);
    boot_refuse_finish(&coord);
    DSM_CHECK(coord.exit_code == -DSM_ERR_CONFIG && node.exit_code == -DSM_ERR_CONFIG);
    DSM_CHECK(strstr(coord.log, "this job has 2 nodes") != NULL);
    return DSM_TEST_PASS;
}

static dsm_test_result_t boot_refuse_duplicate_rank(void)
{
    boot_refuse_node_t coord, first, second;
    int port = boot_refuse_free_port();

    DSM_CHECK(port > 0);
    DSM_CHECK(boot_refuse_start(&coord, 0, 3, port, KEY_A, "10") == 0);
    DSM_CHECK(boot_refuse_start(&first, 1, 3, port, KEY_A, "10") == 0);
    DSM_CHECK(boot_refuse_start(&second, 1, 3, port, KEY_A, "10") == 0);
    boot_refuse_finish(&first);
    boot_refuse_finish(&second);
    boot_refuse_finish(&coord);
    DSM_CHECKF(coord.exit_code == -DSM_ERR_CONFIG, "node 0 ended with %d", coord.exit_code);
    DSM_CHECK(strstr(coord.log, "already joined") != NULL);
    /* One duplicate was refused; the other lost node 0 before the job formed. */
    DSM_CHECK(first.exit_code != 0 && second.exit_code != 0);
    DSM_CHECK(first.exit_code == -DSM_ERR_CONFIG || second.exit_code == -DSM_ERR_CONFIG);
    return DSM_TEST_PASS;
}

static dsm_test_result_t boot_refuse_unreachable(void)
{
    boot_refuse_node_t node;
    int port = boot_refuse_free_port();

    DSM_CHECK(port > 0);
    DSM_CHECK(boot_refuse_start(&node, 1, 2, port, KEY_A, "1") == 0);
    boot_refuse_finish(&node);
    DSM_CHECKF(node.exit_code == -DSM_ERR_BOOTSTRAP, "node 1 ended with %d", node.exit_code);
    DSM_CHECK(strstr(node.log, "DSM_COORD") != NULL && strstr(node.log, "unreachable") != NULL);
    return DSM_TEST_PASS;
}

/* Node 0 alone in a job of 2 gives up after DSM_BOOT_TIMEOUT, counting who came. */
static dsm_test_result_t boot_refuse_missing_node(void)
{
    boot_refuse_node_t coord;
    int port = boot_refuse_free_port();

    DSM_CHECK(port > 0);
    DSM_CHECK(boot_refuse_start(&coord, 0, 2, port, KEY_A, "1") == 0);
    boot_refuse_finish(&coord);
    DSM_CHECKF(coord.exit_code == -DSM_ERR_TIMEOUT, "node 0 ended with %d", coord.exit_code);
    DSM_CHECK(strstr(coord.log, "1 of 2 nodes joined within DSM_BOOT_TIMEOUT") != NULL);
    return DSM_TEST_PASS;
}

int main(int argc, char **argv)
{
    static const dsm_test_case_t cases[] = {
        {"wrong_key", NULL, boot_refuse_wrong_key, 30},
        {"same_key_joins", NULL, boot_refuse_same_key_joins, 30},
        {"garbage", NULL, boot_refuse_garbage, 30},
        {"huge_hello", NULL, boot_refuse_huge_hello, 30},
        {"wrong_first_frame", NULL, boot_refuse_wrong_first_frame, 30},
        {"nnodes_mismatch", NULL, boot_refuse_nnodes_mismatch, 30},
        {"duplicate_rank", NULL, boot_refuse_duplicate_rank, 30},
        {"unreachable", NULL, boot_refuse_unreachable, 30},
        {"missing_node", NULL, boot_refuse_missing_node, 30},
    };

    return dsm_test_main(argc, argv, cases, DSM_TEST_ARRAY_SIZE(cases));
}
