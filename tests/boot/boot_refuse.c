/*
 * Integration tests of the dsmrun-path bootstrap's refusals, with the nodes
 * started directly (forked, variables set by hand): node 0 listens on the
 * address DSM_COORD names; a node with the wrong job key fails (DSM_ERR_AUTH)
 * without the key ever being printed, while node 0 drops it and the job forms
 * with the right node; a stranger at the port (garbage, an oversized or
 * out-of-order frame, a failed proof, or silence) is logged and dropped while
 * the real nodes join; a duplicate rank or a node count that does not match
 * ends the join with an error, not a crash; an unreachable coordinator and
 * missing nodes are reported once DSM_BOOT_TIMEOUT passes, naming who is
 * missing. Every wait is for an event (a line in a node's stderr, EOF on it,
 * waitpid); DSM_BOOT_TIMEOUT bounds every node.
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

#include "boot_tcp.h"
#include "dsm_test.h"

#define KEY_A "3f1e6a0c9b8d7e2f4a5b6c7d8e9f00112233445566778899aabbccddeeff0011"
#define KEY_B "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"

typedef struct {
    pid_t pid;
    int   log_fd;      /* read end of the node's stderr */
    char  log[8192];
    size_t log_used;   /* bytes of log read so far */
    int   exit_code;   /* -status of dsm_boot_init, or 128+signal */
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
        dsm_boot_t *boot;
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
        status = dsm_boot_init(&boot);
        if (status == DSM_OK) {
            status = dsm_boot_barrier(boot);
            dsm_boot_fini(boot);
        }
        fflush(NULL);
        _exit(-status);
    }
    close(fds[1]);
    node->log_fd = fds[0];
    node->log_used = 0;
    node->log[0] = '\0';
    return 0;
}

/* Reads more of the node's output: 0 at EOF (or when the buffer is full). */
static int boot_refuse_read_log(boot_refuse_node_t *node)
{
    ssize_t got;

    do {
        got = read(node->log_fd, node->log + node->log_used,
                   sizeof(node->log) - 1 - node->log_used);
    } while (got < 0 && errno == EINTR);
    if (got <= 0) {
        return 0;
    }
    node->log_used += (size_t)got;
    node->log[node->log_used] = '\0';
    return 1;
}

/* Waits until the node's output holds text: 1, or 0 if it ended without it. */
static int boot_refuse_wait_log(boot_refuse_node_t *node, const char *text)
{
    while (strstr(node->log, text) == NULL) {
        if (!boot_refuse_read_log(node)) {
            fprintf(stderr, "  no '%s' in the log of pid %d:\n%s", text, (int)node->pid,
                    node->log);
            return 0;
        }
    }
    return 1;
}

/* Reads the node's output to EOF, then reaps it. */
static void boot_refuse_finish(boot_refuse_node_t *node)
{
    int status;

    while (boot_refuse_read_log(node)) {
    }
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

/* Node 0 of an nnodes job on a free port (*port_p), and a stranger connected to
 * it; returns the stranger's socket, or -1. */
static int boot_refuse_stranger(boot_refuse_node_t *coord, int nnodes, const char *timeout,
                                int *port_p)
{
    int port = boot_refuse_free_port();

    if (port <= 0 || boot_refuse_start(coord, 0, nnodes, port, KEY_A, timeout) != 0) {
        return -1;
    }
    *port_p = port;
    return boot_refuse_connect(port);
}

/*
 * Node 0 of a 2-node job, listening on port, has met a stranger: it must log
 * that it dropped the connection, then form the job with the real node 1
 * (both exit 0), and its log must name the reason (because_of).
 */
static dsm_test_result_t boot_refuse_job_after_drop(boot_refuse_node_t *coord, int port,
                                                    const char *because_of)
{
    boot_refuse_node_t node;

    DSM_CHECK(boot_refuse_wait_log(coord, "dropped"));
    DSM_CHECK(boot_refuse_start(&node, 1, 2, port, KEY_A, "30") == 0);
    boot_refuse_finish(&node);
    boot_refuse_finish(coord);
    DSM_CHECKF(coord->exit_code == 0 && node.exit_code == 0, "node 0 ended with %d, node 1 "
               "with %d", coord->exit_code, node.exit_code);
    DSM_CHECK(strstr(coord->log, because_of) != NULL);
    return DSM_TEST_PASS;
}

/* The wrong-key node fails; node 0 drops it and forms the job with the right one. */
static dsm_test_result_t boot_refuse_wrong_key(void)
{
    boot_refuse_node_t coord, node, right;
    int port = boot_refuse_free_port();

    DSM_CHECK(port > 0);
    DSM_CHECK(boot_refuse_start(&coord, 0, 2, port, KEY_A, "30") == 0);
    DSM_CHECK(boot_refuse_start(&node, 1, 2, port, KEY_B, "30") == 0);
    boot_refuse_finish(&node);
    DSM_CHECKF(node.exit_code == -DSM_ERR_AUTH, "node 1 ended with %d", node.exit_code);
    DSM_CHECK(strstr(node.log, "job key mismatch") != NULL);
    DSM_CHECK(boot_refuse_wait_log(&coord, "dropped"));
    DSM_CHECK(boot_refuse_start(&right, 1, 2, port, KEY_A, "30") == 0);
    boot_refuse_finish(&right);
    boot_refuse_finish(&coord);
    DSM_CHECKF(coord.exit_code == 0 && right.exit_code == 0, "node 0 ended with %d, node 1 "
               "with %d", coord.exit_code, right.exit_code);
    DSM_CHECK(strstr(coord.log, "job key mismatch") != NULL);
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

/* While node 0 of 2 waits for joiners, its listening socket is bound to the
 * address DSM_COORD names (127.0.0.1), not the wildcard: /proc/net/tcp shows
 * it once it listens (polled with a bounded backoff, like the connects). */
static dsm_test_result_t boot_refuse_listen_address(void)
{
    boot_refuse_node_t coord, node;
    int port = boot_refuse_free_port(), found = 0;
    unsigned addr = 0;

    DSM_CHECK(port > 0);
    DSM_CHECK(boot_refuse_start(&coord, 0, 2, port, KEY_A, "30") == 0);
    for (int attempt = 0; attempt < 500 && !found; attempt++) {
        FILE *tcp = fopen("/proc/net/tcp", "r");
        char line[256];
        unsigned local, local_port, state;

        DSM_CHECK(tcp != NULL);
        while (!found && fgets(line, sizeof(line), tcp) != NULL) {
            /* "sl: local_address rem_address st ...", addresses as hex "ADDR:PORT". */
            if (sscanf(line, " %*d: %8X:%4X %*8X:%*4X %2X", &local, &local_port, &state) == 3 &&
                local_port == (unsigned)port && state == 0x0a /* TCP_LISTEN */) {
                addr = local;
                found = 1;
            }
        }
        fclose(tcp);
        if (!found) {
            poll(NULL, 0, 10);
        }
    }
    DSM_CHECK(found);
    /* /proc prints the address as the u32 in memory, that is in network order. */
    DSM_CHECKF(addr == htonl(INADDR_LOOPBACK), "node 0 listens on %08X, not 127.0.0.1", addr);
    DSM_CHECK(boot_refuse_start(&node, 1, 2, port, KEY_A, "30") == 0);
    boot_refuse_finish(&node);
    boot_refuse_finish(&coord);
    DSM_CHECK(coord.exit_code == 0 && node.exit_code == 0);
    return DSM_TEST_PASS;
}

/*
 * A stranger sends raw bytes to node 0 of a 2-node job: node 0 logs why
 * (because_of) and drops it, then the real node joins and the job succeeds.
 */
static dsm_test_result_t boot_refuse_raw(const void *bytes, size_t len, const char *because_of)
{
    boot_refuse_node_t coord;
    int port, fd = boot_refuse_stranger(&coord, 2, "30", &port);
    dsm_test_result_t result;

    DSM_CHECK(fd >= 0);
    DSM_CHECK(write(fd, bytes, len) == (ssize_t)len);
    result = boot_refuse_job_after_drop(&coord, port, because_of);
    close(fd);
    return result;
}

static dsm_test_result_t boot_refuse_garbage(void)
{
    static const char http[] = "GET / HTTP/1.0\r\n\r\n";

    return boot_refuse_raw(http, sizeof(http) - 1, "bad magic");
}

static dsm_test_result_t boot_refuse_huge_hello(void)
{
    uint8_t hdr[DSM_BOOT_HDR_LEN];

    dsm_boot_frame_hdr_pack(DSM_BOOT_FRAME_HELLO, 0xffffffffu, hdr);
    return boot_refuse_raw(hdr, sizeof(hdr), "malformed frame");
}

static dsm_test_result_t boot_refuse_wrong_first_frame(void)
{
    uint8_t frame[DSM_BOOT_HDR_LEN + 4] = {0};

    dsm_boot_frame_hdr_pack(DSM_BOOT_FRAME_CONTRIB, 4, frame);
    return boot_refuse_raw(frame, sizeof(frame), "malformed frame");
}

/* Sends one whole frame, or receives one of exactly len payload bytes: 1 on success. */
static int boot_refuse_send_frame(int fd, uint32_t type, const void *payload, size_t len)
{
    uint8_t frame[DSM_BOOT_HDR_LEN + 64];

    dsm_boot_frame_hdr_pack(type, (uint32_t)len, frame);
    memcpy(frame + DSM_BOOT_HDR_LEN, payload, len);
    return write(fd, frame, DSM_BOOT_HDR_LEN + len) == (ssize_t)(DSM_BOOT_HDR_LEN + len);
}

static int boot_refuse_recv_frame(int fd, uint32_t type, size_t len)
{
    uint8_t frame[DSM_BOOT_HDR_LEN + 64];
    dsm_boot_frame_hdr_t hdr;

    return recv(fd, frame, DSM_BOOT_HDR_LEN + len, MSG_WAITALL) ==
               (ssize_t)(DSM_BOOT_HDR_LEN + len) &&
           dsm_boot_frame_hdr_parse(frame, type, (uint32_t)len, 0, &hdr) == DSM_OK &&
           hdr.len == len;
}

/* A stranger speaks the protocol up to the proof, which it cannot make: node 0
 * refuses it (REFUSE, then the connection closes), drops it and forms the job. */
static dsm_test_result_t boot_refuse_bad_proof(void)
{
    boot_refuse_node_t coord;
    uint8_t hello[DSM_BOOT_HELLO_LEN] = {0}, proof[DSM_BOOT_PROOF_LEN] = {0}, byte;
    int port, fd = boot_refuse_stranger(&coord, 2, "30", &port);
    dsm_test_result_t result;

    DSM_CHECK(fd >= 0);
    hello[3] = DSM_BOOT_VERSION; /* version 1, rank 1 of 2, a zero nonce */
    hello[7] = 1;
    hello[11] = 2;
    DSM_CHECK(boot_refuse_send_frame(fd, DSM_BOOT_FRAME_HELLO, hello, sizeof(hello)));
    DSM_CHECK(boot_refuse_recv_frame(fd, DSM_BOOT_FRAME_CHALLENGE, DSM_BOOT_CHALLENGE_LEN));
    DSM_CHECK(boot_refuse_send_frame(fd, DSM_BOOT_FRAME_PROOF, proof, sizeof(proof)));
    DSM_CHECK(boot_refuse_recv_frame(fd, DSM_BOOT_FRAME_REFUSE, 4));
    DSM_CHECK(recv(fd, &byte, 1, 0) == 0);
    result = boot_refuse_job_after_drop(&coord, port, "did not prove the job key");
    close(fd);
    return result;
}

/*
 * A stranger connects first and then says nothing while the real nodes of a
 * 3-node job join: their handshakes go on beside its, and the job forms long
 * before DSM_BOOT_TIMEOUT. Node 0 closes the stranger's connection when the
 * job has formed, without having waited for its handshake to time out.
 */
static dsm_test_result_t boot_refuse_silent(void)
{
    boot_refuse_node_t coord, nodes[2];
    int port, fd = boot_refuse_stranger(&coord, 3, "20", &port);
    char byte;

    DSM_CHECK(fd >= 0);
    for (int i = 0; i < 2; i++) {
        DSM_CHECK(boot_refuse_start(&nodes[i], i + 1, 3, port, KEY_A, "20") == 0);
    }
    for (int i = 0; i < 2; i++) {
        boot_refuse_finish(&nodes[i]);
    }
    boot_refuse_finish(&coord);
    DSM_CHECKF(coord.exit_code == 0 && nodes[0].exit_code == 0 && nodes[1].exit_code == 0,
               "nodes ended with %d, %d, %d", coord.exit_code, nodes[0].exit_code,
               nodes[1].exit_code);
    DSM_CHECK(strstr(coord.log, "dropped") == NULL);
    DSM_CHECK(read(fd, &byte, 1) == 0);
    close(fd);
    return DSM_TEST_PASS;
}

/* A stranger that stays silent is dropped when its own handshake bound passes
 * (well within DSM_BOOT_TIMEOUT), before the job forms; then the job forms. */
static dsm_test_result_t boot_refuse_silent_dropped(void)
{
    boot_refuse_node_t coord;
    int port, fd = boot_refuse_stranger(&coord, 2, "30", &port);
    char byte;

    DSM_CHECK(fd >= 0);
    DSM_CHECK(boot_refuse_wait_log(&coord, "did not complete its handshake"));
    DSM_CHECK(read(fd, &byte, 1) == 0);
    close(fd);
    return boot_refuse_job_after_drop(&coord, port, "did not complete its handshake");
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
    DSM_CHECK(strstr(coord.log, "1 of 2 nodes joined within DSM_BOOT_TIMEOUT (1 s); "
                     "missing: node 1") != NULL);
    return DSM_TEST_PASS;
}

/* Node 2 of 4 joins, 1 and 3 never come: node 0 names both. */
static dsm_test_result_t boot_refuse_missing_nodes(void)
{
    boot_refuse_node_t coord, node;
    int port = boot_refuse_free_port();

    DSM_CHECK(port > 0);
    /* Debug level: node 0 logs each join, the event this test waits for. */
    setenv("DSM_LOG_LEVEL", "debug", 1);
    DSM_CHECK(boot_refuse_start(&coord, 0, 4, port, KEY_A, "5") == 0);
    unsetenv("DSM_LOG_LEVEL");
    DSM_CHECK(boot_refuse_start(&node, 2, 4, port, KEY_A, "30") == 0);
    DSM_CHECK(boot_refuse_wait_log(&coord, "node 2 joined"));
    boot_refuse_finish(&coord);
    boot_refuse_finish(&node);
    DSM_CHECKF(coord.exit_code == -DSM_ERR_TIMEOUT, "node 0 ended with %d", coord.exit_code);
    DSM_CHECK(strstr(coord.log, "2 of 4 nodes joined within DSM_BOOT_TIMEOUT (5 s); "
                     "missing: nodes 1, 3") != NULL);
    DSM_CHECK(node.exit_code != 0);
    return DSM_TEST_PASS;
}

int main(int argc, char **argv)
{
    static const dsm_test_case_t cases[] = {
        {"listen_address", NULL, boot_refuse_listen_address, 60},
        {"wrong_key", NULL, boot_refuse_wrong_key, 60},
        {"same_key_joins", NULL, boot_refuse_same_key_joins, 30},
        {"garbage", NULL, boot_refuse_garbage, 60},
        {"huge_hello", NULL, boot_refuse_huge_hello, 60},
        {"wrong_first_frame", NULL, boot_refuse_wrong_first_frame, 60},
        {"bad_proof", NULL, boot_refuse_bad_proof, 60},
        {"silent", NULL, boot_refuse_silent, 60},
        {"silent_dropped", NULL, boot_refuse_silent_dropped, 60},
        {"nnodes_mismatch", NULL, boot_refuse_nnodes_mismatch, 30},
        {"duplicate_rank", NULL, boot_refuse_duplicate_rank, 30},
        {"unreachable", NULL, boot_refuse_unreachable, 30},
        {"missing_node", NULL, boot_refuse_missing_node, 30},
        {"missing_nodes", NULL, boot_refuse_missing_nodes, 60},
    };

    return dsm_test_main(argc, argv, cases, DSM_TEST_ARRAY_SIZE(cases));
}
