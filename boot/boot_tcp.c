/*
 * The dsmrun bootstrap path: DSM_RANK, DSM_NNODES, DSM_COORD=host:port and
 * DSM_JOB_KEY (hex) from the environment. Node 0 listens on the address
 * DSM_COORD names; every other node connects (retrying with backoff until
 * DSM_BOOT_TIMEOUT), and the two prove to each other that they hold the job
 * key by HMAC over fresh nonces; node 0 drops any connection that does not
 * (and runs the handshakes side by side, so none waits for a stranger).
 * The connections stay open until fini and carry the
 * allgathers (and barriers, which are empty allgathers) through node 0.
 * Wire format and protocol: docs/design.md "### Bootstrap".
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "boot_tcp.h"
#include "dsm_common.h"
#include "dsm_config_parse.h"

/* REFUSE payload: one u32 reason. */
#define DSM_BOOT_REFUSE_KEY    1u /* the other side did not prove the job key */
#define DSM_BOOT_REFUSE_CONFIG 2u /* version, rank or node count do not fit   */
#define DSM_BOOT_REFUSE_LEN    4u

/* Domain-separation labels: a proof made by one role never verifies as the other's. */
static const char dsm_boot_label_coord[] = "dsm-boot-v1 coordinator";
static const char dsm_boot_label_node[]  = "dsm-boot-v1 node";

#define DSM_BOOT_BACKOFF_MIN_MS 10
#define DSM_BOOT_BACKOFF_MAX_MS 500

typedef struct {
    int      rank;
    int      nnodes;
    char     host[256];
    char     port[8];
    uint8_t  key[DSM_BOOT_KEY_MAX];
    size_t   key_len;
    int      timeout_ms;
} dsm_boot_tcp_config_t;

typedef struct {
    dsm_boot_t base;
    int        timeout_ms;
    int       *fds; /* node 0: fds[r] for r = 1..size-1; others: fds[0] = node 0 */
} dsm_boot_tcp_t;

static dsm_status_t dsm_boot_tcp_allgather(dsm_boot_t *boot, const void *blob,
                                           size_t size, dsm_boot_gathered_t *gathered_p);
static dsm_status_t dsm_boot_tcp_barrier(dsm_boot_t *boot);
static void dsm_boot_tcp_fini(dsm_boot_t *boot);

static const dsm_boot_ops_t dsm_boot_tcp_ops = {
    .name      = "dsmrun",
    .allgather = dsm_boot_tcp_allgather,
    .barrier   = dsm_boot_tcp_barrier,
    .fini      = dsm_boot_tcp_fini,
};

/* ---------------------------------------------------------------- encoding */

static void dsm_boot_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static uint32_t dsm_boot_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void dsm_boot_put_u64(uint8_t *p, uint64_t v)
{
    dsm_boot_put_u32(p, (uint32_t)(v >> 32));
    dsm_boot_put_u32(p + 4, (uint32_t)v);
}

static uint64_t dsm_boot_get_u64(const uint8_t *p)
{
    return (uint64_t)dsm_boot_get_u32(p) << 32 | dsm_boot_get_u32(p + 4);
}

void dsm_boot_frame_hdr_pack(uint32_t type, uint32_t len, uint8_t raw_p[DSM_BOOT_HDR_LEN])
{
    dsm_boot_put_u32(raw_p, DSM_BOOT_MAGIC);
    dsm_boot_put_u32(raw_p + 4, type);
    dsm_boot_put_u32(raw_p + 8, len);
}

static const char *dsm_boot_peer_name(int rank, char *buf, size_t size)
{
    if (rank < 0) {
        snprintf(buf, size, "a joining node");
    } else {
        snprintf(buf, size, "node %d", rank);
    }
    return buf;
}

/* A joining connection (rank < 0) is not a member yet: what is wrong with it
 * makes node 0 drop it and go on (a warning); a member's fault ends the job. */
static dsm_log_level_t dsm_boot_peer_level(int rank)
{
    return rank < 0 ? DSM_LOG_LEVEL_WARN : DSM_LOG_LEVEL_ERROR;
}

dsm_status_t dsm_boot_frame_hdr_parse(const uint8_t raw[DSM_BOOT_HDR_LEN],
                                      uint32_t expected_type, uint32_t max_len,
                                      int from_rank, dsm_boot_frame_hdr_t *hdr_p)
{
    uint32_t magic = dsm_boot_get_u32(raw);
    uint32_t type = dsm_boot_get_u32(raw + 4);
    uint32_t len = dsm_boot_get_u32(raw + 8);
    char peer[32];
    dsm_log_level_t level = dsm_boot_peer_level(from_rank);

    dsm_boot_peer_name(from_rank, peer, sizeof(peer));
    if (magic != DSM_BOOT_MAGIC) {
        dsm_log_at(level, "bootstrap: malformed frame from %s: bad magic 0x%08x "
                   "(not a dsm peer?)", peer, magic);
        return DSM_ERR_MALFORMED;
    }
    if (type == 0 || type > DSM_BOOT_FRAME_TYPE_MAX) {
        dsm_log_at(level, "bootstrap: malformed frame from %s: unknown type %u", peer, type);
        return DSM_ERR_MALFORMED;
    }
    if (expected_type != 0 && type != expected_type) {
        dsm_log_at(level, "bootstrap: malformed frame from %s: type %u where %u was expected",
                   peer, type, expected_type);
        return DSM_ERR_MALFORMED;
    }
    if (len > max_len) {
        dsm_log_at(level, "bootstrap: malformed frame from %s: type %u with %u bytes "
                   "(limit %u)", peer, type, len, max_len);
        return DSM_ERR_MALFORMED;
    }
    hdr_p->type = type;
    hdr_p->len = len;
    return DSM_OK;
}

dsm_status_t dsm_boot_gathered_encode(const dsm_boot_gathered_t *gathered,
                                      uint8_t **payload_p, size_t *len_p)
{
    size_t len = 4 + 8 * (size_t)gathered->count;
    uint8_t *payload, *p;

    for (int i = 0; i < gathered->count; i++) {
        len += gathered->sizes[i];
    }
    if (len > DSM_BOOT_MAX_PAYLOAD) {
        dsm_error("bootstrap: allgather result of %zu bytes exceeds the frame limit (%u)", len,
                  DSM_BOOT_MAX_PAYLOAD);
        return DSM_ERR_INVALID_PARAM;
    }
    payload = malloc(len);
    if (payload == NULL) {
        dsm_error("bootstrap: out of memory for a %zu-byte allgather result", len);
        return DSM_ERR_NO_MEMORY;
    }
    dsm_boot_put_u32(payload, (uint32_t)gathered->count);
    p = payload + 4;
    for (int i = 0; i < gathered->count; i++, p += 8) {
        dsm_boot_put_u64(p, gathered->sizes[i]);
    }
    for (int i = 0; i < gathered->count; i++) {
        if (gathered->sizes[i] > 0) {
            memcpy(p, gathered->blobs[i], gathered->sizes[i]);
            p += gathered->sizes[i];
        }
    }
    *payload_p = payload;
    *len_p = len;
    return DSM_OK;
}

/* Checks the table of sizes against the payload before anything is copied. */
static dsm_status_t dsm_boot_gathered_check(const uint8_t *payload, size_t len, int nnodes)
{
    size_t total;
    uint32_t count;

    if (len < 4) {
        dsm_error("bootstrap: malformed allgather result: %zu bytes, no count", len);
        return DSM_ERR_MALFORMED;
    }
    count = dsm_boot_get_u32(payload);
    if (count != (uint32_t)nnodes) {
        dsm_error("bootstrap: malformed allgather result: %u blobs for %d nodes", count, nnodes);
        return DSM_ERR_MALFORMED;
    }
    total = 4 + 8 * (size_t)count;
    if (len < total) {
        dsm_error("bootstrap: malformed allgather result: %zu bytes cannot hold %u sizes", len,
                  count);
        return DSM_ERR_MALFORMED;
    }
    for (uint32_t i = 0; i < count; i++) {
        uint64_t size = dsm_boot_get_u64(payload + 4 + 8 * (size_t)i);

        /* Bounding each size first also keeps the sum from overflowing. */
        if (size > DSM_BOOT_MAX_BLOB || total + size > len) {
            dsm_error("bootstrap: malformed allgather result: blob %u claims %llu bytes, "
                      "beyond the %zu-byte frame", i, (unsigned long long)size, len);
            return DSM_ERR_MALFORMED;
        }
        total += size;
    }
    if (total != len) {
        dsm_error("bootstrap: malformed allgather result: blobs end at %zu of %zu bytes", total,
                  len);
        return DSM_ERR_MALFORMED;
    }
    return DSM_OK;
}

dsm_status_t dsm_boot_gathered_decode(const uint8_t *payload, size_t len, int nnodes,
                                      dsm_boot_gathered_t *gathered_p)
{
    dsm_boot_gathered_t gathered;
    const uint8_t *p;
    dsm_status_t status;

    status = dsm_boot_gathered_check(payload, len, nnodes);
    if (status != DSM_OK) {
        return status;
    }
    status = dsm_boot_gathered_alloc(nnodes, &gathered);
    if (status != DSM_OK) {
        return status;
    }
    p = payload + 4 + 8 * (size_t)nnodes;
    for (int i = 0; i < nnodes; i++) {
        size_t size = (size_t)dsm_boot_get_u64(payload + 4 + 8 * (size_t)i);

        /* One spare byte: a 0-byte blob still gets a non-NULL pointer. */
        gathered.blobs[i] = malloc(size + 1);
        if (gathered.blobs[i] == NULL) {
            dsm_error("bootstrap: out of memory for a %zu-byte blob", size);
            dsm_boot_gathered_free(&gathered);
            return DSM_ERR_NO_MEMORY;
        }
        memcpy(gathered.blobs[i], p, size);
        gathered.sizes[i] = size;
        p += size;
    }
    *gathered_p = gathered;
    return DSM_OK;
}

/* ---------------------------------------------------------------- configuration */

static dsm_status_t dsm_boot_env_get(const char *name, const char **value_p)
{
    const char *value = dsm_config_getenv(name);

    if (value == NULL) {
        dsm_error("bootstrap: %s is not set; the dsmrun path needs DSM_RANK, DSM_NNODES, "
                  "DSM_COORD and DSM_JOB_KEY (dsmrun sets them)", name);
        return DSM_ERR_CONFIG;
    }
    *value_p = value;
    return DSM_OK;
}

static dsm_status_t dsm_boot_env_int(const char *name, uint64_t min, uint64_t max,
                                     int *value_p)
{
    const char *text;
    uint64_t value;
    dsm_status_t status;

    status = dsm_boot_env_get(name, &text);
    if (status == DSM_OK) {
        status = dsm_config_parse_u64(name, text, min, max, &value);
    }
    if (status == DSM_OK) {
        *value_p = (int)value;
    }
    return status;
}

/* "host:port" or "[v6addr]:port"; the port must be numeric. */
static dsm_status_t dsm_boot_env_coord(dsm_boot_tcp_config_t *config)
{
    const char *text, *colon, *host = NULL;
    size_t host_len = 0;
    char *end;
    long port;
    dsm_status_t status;

    status = dsm_boot_env_get("DSM_COORD", &text);
    if (status != DSM_OK) {
        return status;
    }
    colon = strrchr(text, ':');
    if (colon != NULL) {
        host = text;
        host_len = (size_t)(colon - text);
        if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
            host++;
            host_len -= 2;
        }
        errno = 0;
        port = strtol(colon + 1, &end, 10);
    }
    if (colon == NULL || host_len == 0 || host_len >= sizeof(config->host) ||
        colon[1] == '\0' || *end != '\0' || errno != 0 || port < 1 || port > 65535) {
        dsm_error("bootstrap: DSM_COORD='%s' is not host:port (port 1..65535)", text);
        return DSM_ERR_CONFIG;
    }
    memcpy(config->host, host, host_len);
    config->host[host_len] = '\0';
    snprintf(config->port, sizeof(config->port), "%ld", port);
    return DSM_OK;
}

static int dsm_boot_hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* The key's value is never logged, not even when malformed. */
static dsm_status_t dsm_boot_env_key(dsm_boot_tcp_config_t *config)
{
    const char *text;
    size_t digits;
    dsm_status_t status;

    status = dsm_boot_env_get("DSM_JOB_KEY", &text);
    if (status != DSM_OK) {
        return status;
    }
    digits = strlen(text);
    if (digits % 2 != 0 || digits < 2 * DSM_BOOT_KEY_MIN || digits > 2 * DSM_BOOT_KEY_MAX) {
        dsm_error("bootstrap: DSM_JOB_KEY must be an even number of hex digits, %u..%u "
                  "(it has %zu; value not shown)", 2 * DSM_BOOT_KEY_MIN,
                  2 * DSM_BOOT_KEY_MAX, digits);
        return DSM_ERR_CONFIG;
    }
    for (size_t i = 0; i < digits / 2; i++) {
        int hi = dsm_boot_hex_digit(text[2 * i]);
        int lo = dsm_boot_hex_digit(text[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            dsm_error("bootstrap: DSM_JOB_KEY holds a character that is not a hex digit "
                      "(value not shown)");
            return DSM_ERR_CONFIG;
        }
        config->key[i] = (uint8_t)(hi << 4 | lo);
    }
    config->key_len = digits / 2;
    return DSM_OK;
}

static dsm_status_t dsm_boot_tcp_config_read(dsm_boot_tcp_config_t *config_p)
{
    dsm_status_t status;

    status = dsm_boot_env_int("DSM_NNODES", 1, DSM_BOOT_MAX_NODES, &config_p->nnodes);
    if (status == DSM_OK) {
        status = dsm_boot_env_int("DSM_RANK", 0, DSM_BOOT_MAX_NODES - 1, &config_p->rank);
    }
    if (status == DSM_OK && config_p->rank >= config_p->nnodes) {
        dsm_error("bootstrap: DSM_RANK=%d is not below DSM_NNODES=%d", config_p->rank,
                  config_p->nnodes);
        status = DSM_ERR_CONFIG;
    }
    if (status == DSM_OK) {
        status = dsm_boot_env_coord(config_p);
    }
    if (status == DSM_OK) {
        status = dsm_boot_env_key(config_p);
    }
    if (status == DSM_OK) {
        status = dsm_boot_timeout_ms(&config_p->timeout_ms);
    }
    return status;
}

/* ---------------------------------------------------------------- I/O with a deadline */

static struct timespec dsm_boot_deadline(int timeout_ms)
{
    struct timespec deadline;

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    return deadline;
}

/* Milliseconds until deadline, 0 when past it. */
static int dsm_boot_left_ms(const struct timespec *deadline)
{
    struct timespec now;
    long long left;

    clock_gettime(CLOCK_MONOTONIC, &now);
    left = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
           (deadline->tv_nsec - now.tv_nsec) / 1000000;
    return left > 0 ? (int)left : 0;
}

/* Polls fd for events until the deadline: 1 ready, 0 timed out, -1 with errno. */
static int dsm_boot_poll(int fd, short events, const struct timespec *deadline)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    int ready;

    do {
        ready = poll(&pfd, 1, dsm_boot_left_ms(deadline));
    } while (ready < 0 && errno == EINTR);
    return ready;
}

/* Waits until fd is ready for events; DSM_ERR_TIMEOUT when the deadline passes. */
static dsm_status_t dsm_boot_wait(int fd, short events, const struct timespec *deadline,
                                  const char *what, int peer_rank)
{
    char peer[32];
    int ready = dsm_boot_poll(fd, events, deadline);

    if (ready < 0) {
        dsm_error("bootstrap: poll while %s %s: %m", what,
                  dsm_boot_peer_name(peer_rank, peer, sizeof(peer)));
        return dsm_status_from_errno(errno);
    }
    if (ready == 0) {
        dsm_error("bootstrap: timed out while %s %s (DSM_BOOT_TIMEOUT)", what,
                  dsm_boot_peer_name(peer_rank, peer, sizeof(peer)));
        return DSM_ERR_TIMEOUT;
    }
    return DSM_OK;
}

/* Why a send or receive of fd failed (done: its return value, 0 or -1 with errno). */
static dsm_status_t dsm_boot_io_failed(ssize_t done, int sending, int peer_rank)
{
    dsm_log_level_t level = dsm_boot_peer_level(peer_rank);
    char peer[32];

    dsm_boot_peer_name(peer_rank, peer, sizeof(peer));
    if (done == 0) {
        dsm_log_at(level, "bootstrap: %s closed the connection", peer);
        return DSM_ERR_PEER_LOST;
    }
    dsm_log_at(level, "bootstrap: %s %s: %m", sending ? "sending to" : "receiving from", peer);
    return errno == EPIPE || errno == ECONNRESET ? DSM_ERR_PEER_LOST : DSM_ERR_IO;
}

/* Sends (sending) or receives all len bytes at p before the deadline. */
static dsm_status_t dsm_boot_transfer_all(int fd, uint8_t *p, size_t len, int sending,
                                          const struct timespec *deadline, int peer_rank)
{
    ssize_t done;
    dsm_status_t status;

    while (len > 0) {
        status = dsm_boot_wait(fd, sending ? POLLOUT : POLLIN, deadline,
                               sending ? "sending to" : "receiving from", peer_rank);
        if (status != DSM_OK) {
            return status;
        }
        /* MSG_NOSIGNAL: a closed peer is an error status, not a SIGPIPE. */
        done = sending ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
        if (done < 0 && (errno == EAGAIN || errno == EINTR)) {
            continue;
        }
        if (done <= 0) {
            return dsm_boot_io_failed(done, sending, peer_rank);
        }
        p += done;
        len -= (size_t)done;
    }
    return DSM_OK;
}

static dsm_status_t dsm_boot_send_all(int fd, const void *data, size_t len,
                                      const struct timespec *deadline, int peer_rank)
{
    /* The cast drops const only for the shared loop: sending never writes. */
    return dsm_boot_transfer_all(fd, (uint8_t *)(uintptr_t)data, len, 1, deadline,
                                 peer_rank);
}

static dsm_status_t dsm_boot_recv_all(int fd, void *data, size_t len,
                                      const struct timespec *deadline, int peer_rank)
{
    return dsm_boot_transfer_all(fd, data, len, 0, deadline, peer_rank);
}

static dsm_status_t dsm_boot_send_frame(int fd, uint32_t type, const void *payload,
                                        size_t len, const struct timespec *deadline,
                                        int peer_rank)
{
    uint8_t hdr[DSM_BOOT_HDR_LEN];
    dsm_status_t status;

    dsm_boot_frame_hdr_pack(type, (uint32_t)len, hdr);
    status = dsm_boot_send_all(fd, hdr, sizeof(hdr), deadline, peer_rank);
    if (status == DSM_OK && len > 0) {
        status = dsm_boot_send_all(fd, payload, len, deadline, peer_rank);
    }
    return status;
}

static void dsm_boot_refuse_pack(uint32_t reason,
                                 uint8_t frame_p[DSM_BOOT_HDR_LEN + DSM_BOOT_REFUSE_LEN])
{
    dsm_boot_frame_hdr_pack(DSM_BOOT_FRAME_REFUSE, DSM_BOOT_REFUSE_LEN, frame_p);
    dsm_boot_put_u32(frame_p + DSM_BOOT_HDR_LEN, reason);
}

static void dsm_boot_send_refuse(int fd, uint32_t reason, const struct timespec *deadline,
                                 int peer_rank)
{
    uint8_t frame[DSM_BOOT_HDR_LEN + DSM_BOOT_REFUSE_LEN];

    dsm_boot_refuse_pack(reason, frame);
    /* Best effort: the refusal is already logged here; the peer may be gone. */
    (void)dsm_boot_send_all(fd, frame, sizeof(frame), deadline, peer_rank);
}

/* Logs the refusal a peer sent (its REFUSE payload) and returns what it means. */
static dsm_status_t dsm_boot_refused(const uint8_t reason[DSM_BOOT_REFUSE_LEN],
                                     int peer_rank)
{
    dsm_log_level_t level = dsm_boot_peer_level(peer_rank);
    char peer[32];

    dsm_boot_peer_name(peer_rank, peer, sizeof(peer));
    if (dsm_boot_get_u32(reason) == DSM_BOOT_REFUSE_CONFIG) {
        dsm_log_at(level, "bootstrap: refused by %s: version, rank or node count do not fit "
                   "the job (see its log)", peer);
        return DSM_ERR_CONFIG;
    }
    dsm_log_at(level, "bootstrap: refused by %s: job key mismatch (DSM_JOB_KEY differs)", peer);
    return DSM_ERR_AUTH;
}

/*
 * Receives one frame of type expected whose payload is exactly exact_len bytes
 * (or at most max_len when exact_len is 0). A REFUSE instead is reported as the
 * peer's refusal. The payload (with one spare byte, never NULL) is the caller's.
 */
static dsm_status_t dsm_boot_recv_frame(int fd, uint32_t expected, size_t exact_len,
                                        uint32_t max_len, const struct timespec *deadline,
                                        int peer_rank, uint8_t **payload_p, size_t *len_p)
{
    uint8_t raw[DSM_BOOT_HDR_LEN];
    dsm_boot_frame_hdr_t hdr;
    uint8_t *payload;
    char peer[32];
    dsm_status_t status;

    dsm_boot_peer_name(peer_rank, peer, sizeof(peer));
    status = dsm_boot_recv_all(fd, raw, sizeof(raw), deadline, peer_rank);
    if (status != DSM_OK) {
        return status;
    }
    /* A REFUSE may come instead of any frame: allow its length here. */
    status = dsm_boot_frame_hdr_parse(raw, 0, max_len > DSM_BOOT_REFUSE_LEN ? max_len :
                                      DSM_BOOT_REFUSE_LEN, peer_rank, &hdr);
    if (status != DSM_OK) {
        return status;
    }
    if (hdr.type == DSM_BOOT_FRAME_REFUSE && hdr.len == DSM_BOOT_REFUSE_LEN) {
        uint8_t reason[DSM_BOOT_REFUSE_LEN] = {0};

        (void)dsm_boot_recv_all(fd, reason, sizeof(reason), deadline, peer_rank);
        return dsm_boot_refused(reason, peer_rank);
    }
    if (hdr.type != expected || (exact_len != 0 && hdr.len != exact_len) ||
        hdr.len > max_len) {
        dsm_error("bootstrap: malformed frame from %s: type %u with %u bytes where type %u "
                  "was expected", peer, hdr.type, hdr.len, expected);
        return DSM_ERR_MALFORMED;
    }
    payload = malloc((size_t)hdr.len + 1);
    if (payload == NULL) {
        dsm_error("bootstrap: out of memory for a %u-byte frame from %s", hdr.len, peer);
        return DSM_ERR_NO_MEMORY;
    }
    status = dsm_boot_recv_all(fd, payload, hdr.len, deadline, peer_rank);
    if (status != DSM_OK) {
        free(payload);
        return status;
    }
    *payload_p = payload;
    *len_p = hdr.len;
    return DSM_OK;
}

static dsm_status_t dsm_boot_socket_setup(int fd)
{
    int one = 1;

    /* Handshake and collective frames are small and latency-bound. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        dsm_error("bootstrap: configuring a socket: %m");
        return dsm_status_from_errno(errno);
    }
    return DSM_OK;
}

/* ---------------------------------------------------------------- handshake */

static dsm_status_t dsm_boot_nonce(uint8_t nonce_p[DSM_BOOT_NONCE_LEN])
{
    if (getrandom(nonce_p, DSM_BOOT_NONCE_LEN, 0) != (ssize_t)DSM_BOOT_NONCE_LEN) {
        dsm_error("bootstrap: getrandom for a nonce: %m");
        return DSM_ERR_IO;
    }
    return DSM_OK;
}

/* The proof of one role: HMAC(key, label | HELLO payload | node 0's nonce). */
static void dsm_boot_proof(const dsm_boot_tcp_config_t *config, const char *label,
                           const uint8_t *hello, const uint8_t *coord_nonce,
                           uint8_t mac_p[DSM_BOOT_SHA256_LEN])
{
    const dsm_boot_span_t parts[] = {
        {label, strlen(label)},
        {hello, DSM_BOOT_HELLO_LEN},
        {coord_nonce, DSM_BOOT_NONCE_LEN},
    };

    dsm_boot_hmac(config->key, config->key_len, parts, sizeof(parts) / sizeof(parts[0]),
                  mac_p);
}

/* A joining node's side: proves the key and checks node 0's proof. */
static dsm_status_t dsm_boot_handshake_node(int fd, const dsm_boot_tcp_config_t *config,
                                            const struct timespec *deadline)
{
    uint8_t hello[DSM_BOOT_HELLO_LEN], expect[DSM_BOOT_SHA256_LEN];
    uint8_t proof[DSM_BOOT_PROOF_LEN];
    uint8_t *challenge = NULL;
    size_t len;
    dsm_status_t status;

    dsm_boot_put_u32(hello, DSM_BOOT_VERSION);
    dsm_boot_put_u32(hello + 4, (uint32_t)config->rank);
    dsm_boot_put_u32(hello + 8, (uint32_t)config->nnodes);
    status = dsm_boot_nonce(hello + 12);
    if (status == DSM_OK) {
        status = dsm_boot_send_frame(fd, DSM_BOOT_FRAME_HELLO, hello, sizeof(hello),
                                     deadline, 0);
    }
    if (status == DSM_OK) {
        status = dsm_boot_recv_frame(fd, DSM_BOOT_FRAME_CHALLENGE,
                                     DSM_BOOT_CHALLENGE_LEN, DSM_BOOT_CHALLENGE_LEN,
                                     deadline, 0, &challenge, &len);
    }
    if (status != DSM_OK) {
        return status;
    }
    dsm_boot_proof(config, dsm_boot_label_coord, hello, challenge, expect);
    if (!dsm_boot_equal_ct(challenge + DSM_BOOT_NONCE_LEN, expect, sizeof(expect))) {
        dsm_error("bootstrap: refused the coordinator at %s:%s: it did not prove the job key "
                  "(job key mismatch: DSM_JOB_KEY differs)", config->host, config->port);
        dsm_boot_send_refuse(fd, DSM_BOOT_REFUSE_KEY, deadline, 0);
        free(challenge);
        return DSM_ERR_AUTH;
    }
    dsm_boot_proof(config, dsm_boot_label_node, hello, challenge, proof);
    free(challenge);
    return dsm_boot_send_frame(fd, DSM_BOOT_FRAME_PROOF, proof, sizeof(proof), deadline, 0);
}

/* ---------------------------------------------------------------- node 0: joining */

/*
 * Node 0 runs the handshakes of every joining connection side by side, each a
 * small state machine driven by one poll, so that a stranger that is silent or
 * slow holds up no one: it is dropped when its own handshake bound passes.
 * Until a connection has proved the job key it is not a member, and anything
 * wrong with it (garbage, a failed proof, a refusal, a close) drops it with a
 * warning while the join goes on. Once it has proved the key, a rank or node
 * count that does not fit means the job itself was launched wrong: that fails.
 */
#define DSM_BOOT_HANDSHAKE_MS 5000 /* one handshake, from accept to a verified proof */
#define DSM_BOOT_JOIN_SLOTS   64   /* handshakes in progress at once */

typedef enum {
    DSM_BOOT_JOIN_FREE,      /* slot unused */
    DSM_BOOT_JOIN_HELLO,     /* receiving the node's HELLO */
    DSM_BOOT_JOIN_CHALLENGE, /* sending node 0's CHALLENGE */
    DSM_BOOT_JOIN_PROOF,     /* receiving the node's PROOF (or its REFUSE) */
    DSM_BOOT_JOIN_STATE_COUNT
} dsm_boot_join_state_t;

/* One joining connection at node 0. */
typedef struct {
    dsm_boot_join_state_t state;
    int                   fd;
    struct timespec       deadline; /* this handshake's own bound */
    char                  addr[64]; /* the peer's "address:port", for logs */
    /* The frame being received or sent: done of want bytes moved. A received
     * frame's want is the header's length until the header is in. */
    uint8_t               frame[DSM_BOOT_HDR_LEN + DSM_BOOT_CHALLENGE_LEN];
    size_t                done;
    size_t                want;
    uint8_t               hello[DSM_BOOT_HELLO_LEN]; /* the node's, covered by both proofs */
    uint8_t               nonce[DSM_BOOT_NONCE_LEN]; /* node 0's, sent in the CHALLENGE */
} dsm_boot_join_t;

typedef dsm_status_t (*dsm_boot_join_step_t)(dsm_boot_join_t *join,
                                                 const dsm_boot_tcp_config_t *config);

static dsm_status_t dsm_boot_join_hello(dsm_boot_join_t *join,
                                        const dsm_boot_tcp_config_t *config);
static dsm_status_t dsm_boot_join_challenge(dsm_boot_join_t *join,
                                            const dsm_boot_tcp_config_t *config);
static dsm_status_t dsm_boot_join_proof(dsm_boot_join_t *join,
                                        const dsm_boot_tcp_config_t *config);

/*
 * Each state: its name, what poll waits for, the one state it may follow
 * (FREE may follow any), and the step run when the connection is ready:
 * DSM_INPROGRESS when it needs more I/O, DSM_OK once the node proved the key,
 * < 0 (logged) to drop the connection.
 */
static const struct {
    const char           *name;
    short                 events;
    dsm_boot_join_state_t from;
    dsm_boot_join_step_t  step;
} dsm_boot_join_states[DSM_BOOT_JOIN_STATE_COUNT] = {
    [DSM_BOOT_JOIN_FREE]      = {"free", 0, DSM_BOOT_JOIN_FREE, NULL},
    [DSM_BOOT_JOIN_HELLO]     = {"hello", POLLIN, DSM_BOOT_JOIN_FREE,
                                 dsm_boot_join_hello},
    [DSM_BOOT_JOIN_CHALLENGE] = {"challenge", POLLOUT, DSM_BOOT_JOIN_HELLO,
                                 dsm_boot_join_challenge},
    [DSM_BOOT_JOIN_PROOF]     = {"proof", POLLIN, DSM_BOOT_JOIN_CHALLENGE,
                                 dsm_boot_join_proof},
};

static void dsm_boot_join_set(dsm_boot_join_t *join, dsm_boot_join_state_t state)
{
    assert(state == DSM_BOOT_JOIN_FREE || join->state == dsm_boot_join_states[state].from);
    dsm_debug("bootstrap: connection from %s: %s -> %s", join->addr,
              dsm_boot_join_states[join->state].name, dsm_boot_join_states[state].name);
    join->state = state;
}

static void dsm_boot_join_close(dsm_boot_join_t *join)
{
    close(join->fd);
    join->fd = -1;
    dsm_boot_join_set(join, DSM_BOOT_JOIN_FREE);
}

/* "address:port" of a socket address, for logs. */
static void dsm_boot_addr_text(const struct sockaddr *addr, socklen_t len, char *buf,
                               size_t size)
{
    char host[INET6_ADDRSTRLEN], port[8];
    int v6 = addr->sa_family == AF_INET6;

    if (getnameinfo(addr, len, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(buf, size, "an unknown address");
        return;
    }
    snprintf(buf, size, "%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

/* Best effort and never waiting: 16 bytes fit any socket buffer, and a
 * connection about to be closed is owed nothing more. */
static void dsm_boot_join_refuse(const dsm_boot_join_t *join, uint32_t reason)
{
    uint8_t frame[DSM_BOOT_HDR_LEN + DSM_BOOT_REFUSE_LEN];

    dsm_boot_refuse_pack(reason, frame);
    (void)send(join->fd, frame, sizeof(frame), MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Moves bytes of join->frame until want are done: DSM_OK, DSM_INPROGRESS when
 * the socket would block, < 0 (logged) when the peer closed or failed. */
static dsm_status_t dsm_boot_join_io(dsm_boot_join_t *join, int sending)
{
    while (join->done < join->want) {
        uint8_t *p = join->frame + join->done;
        size_t len = join->want - join->done;
        ssize_t moved = sending ? send(join->fd, p, len, MSG_NOSIGNAL) : recv(join->fd, p, len, 0);

        if (moved < 0 && errno == EINTR) {
            continue;
        }
        if (moved < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return DSM_INPROGRESS;
        }
        if (moved <= 0) {
            return dsm_boot_io_failed(moved, sending, -1);
        }
        join->done += (size_t)moved;
    }
    return DSM_OK;
}

/* Receives into join->frame one frame of type expected with exactly len payload
 * bytes; a REFUSE instead is reported as the node's refusal. */
static dsm_status_t dsm_boot_join_recv(dsm_boot_join_t *join, uint32_t expected,
                                       uint32_t len)
{
    dsm_boot_frame_hdr_t hdr;
    dsm_status_t status;

    status = dsm_boot_join_io(join, 0);
    if (status == DSM_OK && join->want == DSM_BOOT_HDR_LEN) {
        /* The header is in: check it before reading the payload it announces. */
        if (dsm_boot_get_u32(join->frame + 4) == DSM_BOOT_FRAME_REFUSE) {
            expected = DSM_BOOT_FRAME_REFUSE;
            len = DSM_BOOT_REFUSE_LEN;
        }
        status = dsm_boot_frame_hdr_parse(join->frame, expected, len, -1, &hdr);
        if (status == DSM_OK && hdr.len != len) {
            dsm_warn("bootstrap: malformed frame from a joining node: type %u with %u bytes "
                     "where %u were expected", hdr.type, hdr.len, len);
            status = DSM_ERR_MALFORMED;
        }
        if (status != DSM_OK) {
            return status;
        }
        join->want += len;
        status = dsm_boot_join_io(join, 0);
    }
    if (status == DSM_OK &&
        dsm_boot_get_u32(join->frame + 4) == DSM_BOOT_FRAME_REFUSE) {
        return dsm_boot_refused(join->frame + DSM_BOOT_HDR_LEN, -1);
    }
    return status;
}

static dsm_status_t dsm_boot_join_hello(dsm_boot_join_t *join,
                                        const dsm_boot_tcp_config_t *config)
{
    uint8_t *challenge = join->frame + DSM_BOOT_HDR_LEN;
    uint32_t version;
    dsm_status_t status;

    status = dsm_boot_join_recv(join, DSM_BOOT_FRAME_HELLO, DSM_BOOT_HELLO_LEN);
    if (status != DSM_OK) {
        return status;
    }
    memcpy(join->hello, join->frame + DSM_BOOT_HDR_LEN, sizeof(join->hello));
    version = dsm_boot_get_u32(join->hello);
    if (version != DSM_BOOT_VERSION) {
        dsm_warn("bootstrap: refused a joining node speaking protocol version %u (this is %u)",
                 version, DSM_BOOT_VERSION);
        dsm_boot_join_refuse(join, DSM_BOOT_REFUSE_CONFIG);
        return DSM_ERR_CONFIG;
    }
    status = dsm_boot_nonce(join->nonce);
    if (status != DSM_OK) {
        return status;
    }
    /* CHALLENGE: node 0's nonce and its proof of the key over this HELLO. */
    dsm_boot_frame_hdr_pack(DSM_BOOT_FRAME_CHALLENGE, DSM_BOOT_CHALLENGE_LEN,
                            join->frame);
    memcpy(challenge, join->nonce, sizeof(join->nonce));
    dsm_boot_proof(config, dsm_boot_label_coord, join->hello, join->nonce,
                   challenge + DSM_BOOT_NONCE_LEN);
    join->done = 0;
    join->want = DSM_BOOT_HDR_LEN + DSM_BOOT_CHALLENGE_LEN;
    dsm_boot_join_set(join, DSM_BOOT_JOIN_CHALLENGE);
    /* A fresh socket has room for it: send now rather than after another poll. */
    return dsm_boot_join_challenge(join, config);
}

static dsm_status_t dsm_boot_join_challenge(dsm_boot_join_t *join,
                                            const dsm_boot_tcp_config_t *config)
{
    dsm_status_t status = dsm_boot_join_io(join, 1);

    (void)config;
    if (status != DSM_OK) {
        return status;
    }
    join->done = 0;
    join->want = DSM_BOOT_HDR_LEN;
    dsm_boot_join_set(join, DSM_BOOT_JOIN_PROOF);
    return DSM_INPROGRESS;
}

static dsm_status_t dsm_boot_join_proof(dsm_boot_join_t *join,
                                        const dsm_boot_tcp_config_t *config)
{
    uint8_t expect[DSM_BOOT_SHA256_LEN];
    dsm_status_t status;

    status = dsm_boot_join_recv(join, DSM_BOOT_FRAME_PROOF, DSM_BOOT_PROOF_LEN);
    if (status != DSM_OK) {
        return status;
    }
    dsm_boot_proof(config, dsm_boot_label_node, join->hello, join->nonce, expect);
    if (!dsm_boot_equal_ct(join->frame + DSM_BOOT_HDR_LEN, expect, sizeof(expect))) {
        dsm_warn("bootstrap: refused a joining node claiming rank %u: it did not prove the "
                 "job key (job key mismatch: DSM_JOB_KEY differs)",
                 dsm_boot_get_u32(join->hello + 4));
        dsm_boot_join_refuse(join, DSM_BOOT_REFUSE_KEY);
        return DSM_ERR_AUTH;
    }
    return DSM_OK;
}

/*
 * The node proved the key, so its rank and node count are trusted now: they
 * must fit the job (DSM_ERR_CONFIG, which fails it, if not). Its connection
 * moves to boot->fds, which doubles as the joined set.
 */
static dsm_status_t dsm_boot_join_admit(dsm_boot_tcp_t *boot, dsm_boot_join_t *join,
                                        int *joined_count_p)
{
    uint32_t rank = dsm_boot_get_u32(join->hello + 4);
    uint32_t nnodes = dsm_boot_get_u32(join->hello + 8);
    int size = boot->base.size;

    if (nnodes != (uint32_t)size || rank == 0 || rank >= nnodes || boot->fds[rank] >= 0) {
        dsm_error("bootstrap: refused node %u of %u: this job has %d nodes%s", rank, nnodes,
                  size, rank > 0 && rank < nnodes && nnodes == (uint32_t)size ?
                  " and that rank has already joined" : "");
        dsm_boot_join_refuse(join, DSM_BOOT_REFUSE_CONFIG);
        return DSM_ERR_CONFIG;
    }
    boot->fds[rank] = join->fd;
    join->fd = -1;
    dsm_boot_join_set(join, DSM_BOOT_JOIN_FREE);
    (*joined_count_p)++;
    dsm_debug("bootstrap: node %u joined (%d of %d)", rank, *joined_count_p, size);
    return DSM_OK;
}

/* Takes one connection's handshake as far as it goes now (ready: poll saw it
 * ready). Fails only when the job must fail; a connection is dropped instead. */
static dsm_status_t dsm_boot_join_advance(dsm_boot_tcp_t *boot, dsm_boot_join_t *join,
                                          const dsm_boot_tcp_config_t *config, int ready,
                                          int *joined_count_p)
{
    dsm_status_t status = DSM_INPROGRESS;

    if (ready) {
        status = dsm_boot_join_states[join->state].step(join, config);
    }
    if (status == DSM_INPROGRESS && dsm_boot_left_ms(&join->deadline) == 0) {
        dsm_warn("bootstrap: the connection from %s did not complete its handshake within "
                 "%d s", join->addr, DSM_BOOT_HANDSHAKE_MS / 1000);
        status = DSM_ERR_TIMEOUT;
    }
    if (status == DSM_INPROGRESS) {
        return DSM_OK;
    }
    if (status == DSM_OK) {
        return dsm_boot_join_admit(boot, join, joined_count_p);
    }
    dsm_warn("bootstrap: dropped the connection from %s; still waiting for the job's nodes",
             join->addr);
    dsm_boot_join_close(join);
    return DSM_OK;
}

/* Accepts waiting connections into free slots; fails only if accepting itself does. */
static dsm_status_t dsm_boot_join_accept(int listen_fd, dsm_boot_join_t *joins,
                                         const struct timespec *deadline)
{
    struct timespec bound = dsm_boot_deadline(DSM_BOOT_HANDSHAKE_MS);

    /* A handshake never outlives the join. */
    if (dsm_boot_left_ms(&bound) > dsm_boot_left_ms(deadline)) {
        bound = *deadline;
    }
    for (int i = 0; i < DSM_BOOT_JOIN_SLOTS; i++) {
        dsm_boot_join_t *join = &joins[i];
        struct sockaddr_storage addr;
        socklen_t addr_len = sizeof(addr);

        if (join->state != DSM_BOOT_JOIN_FREE) {
            continue;
        }
        join->fd = accept4(listen_fd, (struct sockaddr *)&addr, &addr_len, SOCK_CLOEXEC);
        if (join->fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                errno == ECONNABORTED) {
                return DSM_OK; /* nothing (left) to accept: poll says when */
            }
            dsm_error("bootstrap: accept: %m");
            return dsm_status_from_errno(errno);
        }
        dsm_boot_addr_text((struct sockaddr *)&addr, addr_len, join->addr,
                           sizeof(join->addr));
        if (dsm_boot_socket_setup(join->fd) != DSM_OK) {
            close(join->fd);
            join->fd = -1;
            continue;
        }
        join->deadline = bound;
        join->done = 0;
        join->want = DSM_BOOT_HDR_LEN;
        dsm_boot_join_set(join, DSM_BOOT_JOIN_HELLO);
    }
    return DSM_OK;
}

/* Waits for an event on any joining connection or, while a slot is free, the
 * listening socket; at most until the earliest deadline. Returns poll's result. */
static int dsm_boot_join_poll(int listen_fd, const dsm_boot_join_t *joins,
                              struct pollfd pfds[1 + DSM_BOOT_JOIN_SLOTS],
                              const struct timespec *deadline)
{
    int timeout_ms = dsm_boot_left_ms(deadline), free_slots = 0;

    for (int i = 0; i < DSM_BOOT_JOIN_SLOTS; i++) {
        const dsm_boot_join_t *join = &joins[i];
        int left_ms;

        /* poll skips negative fds. */
        pfds[1 + i].fd = join->state == DSM_BOOT_JOIN_FREE ? -1 : join->fd;
        pfds[1 + i].events = dsm_boot_join_states[join->state].events;
        pfds[1 + i].revents = 0;
        if (join->state == DSM_BOOT_JOIN_FREE) {
            free_slots++;
            continue;
        }
        left_ms = dsm_boot_left_ms(&join->deadline);
        timeout_ms = left_ms < timeout_ms ? left_ms : timeout_ms;
    }
    /* With every slot busy, further connections wait in the listen backlog. */
    pfds[0].fd = free_slots > 0 ? listen_fd : -1;
    pfds[0].events = POLLIN;
    pfds[0].revents = 0;
    return poll(pfds, 1 + DSM_BOOT_JOIN_SLOTS, timeout_ms);
}

/* Node 0 gives up on the join: how many came, and which ranks did not. */
static dsm_status_t dsm_boot_join_timed_out(const dsm_boot_tcp_t *boot, int joined_count,
                                            int timeout_ms)
{
    int count = boot->base.size - joined_count, listed = 0;
    char missing[256];
    size_t used;

    used = (size_t)snprintf(missing, sizeof(missing), "%s", count == 1 ? "node" : "nodes");
    for (int r = 1; r < boot->base.size; r++) {
        if (boot->fds[r] >= 0) {
            continue;
        }
        /* A few dozen ranks, then how many more: the line stays readable. */
        if (used + 32 > sizeof(missing)) {
            snprintf(missing + used, sizeof(missing) - used, " and %d more", count - listed);
            break;
        }
        used += (size_t)snprintf(missing + used, sizeof(missing) - used, "%s %d",
                                 listed > 0 ? "," : "", r);
        listed++;
    }
    dsm_error("bootstrap: %d of %d nodes joined within DSM_BOOT_TIMEOUT (%d s); missing: %s",
              joined_count, boot->base.size, timeout_ms / 1000, missing);
    return DSM_ERR_TIMEOUT;
}

/* One listening socket on addr; -1 with errno on failure. */
static int dsm_boot_listen_on(const struct addrinfo *addr, int backlog)
{
    int fd, one = 1, err;

    fd = socket(addr->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -1;
    }
    /* A job started right after another may reuse the port in TIME_WAIT; without
     * the option bind fails and says so. */
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, addr->ai_addr, addr->ai_addrlen) == 0 && listen(fd, backlog) == 0) {
        return fd;
    }
    err = errno;
    close(fd);
    errno = err;
    return -1;
}

/*
 * A host name (not an address, not "localhost") that resolves to loopback on
 * node 0, as Debian's /etc/hosts does with the machine's own name (127.0.1.1),
 * leaves nodes on other hosts unable to connect, and they can only report
 * node 0 unreachable: say why here.
 */
static void dsm_boot_listen_check(const dsm_boot_tcp_config_t *config,
                                  const struct addrinfo *addr, const char *where)
{
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)addr->ai_addr;
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)addr->ai_addr;
    struct in6_addr literal;
    int loopback = addr->ai_family == AF_INET ?
                   ntohl(v4->sin_addr.s_addr) >> 24 == IN_LOOPBACKNET :
                   addr->ai_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);

    if (loopback && strcmp(config->host, "localhost") != 0 &&
        inet_pton(AF_INET, config->host, &literal) != 1 &&
        inet_pton(AF_INET6, config->host, &literal) != 1) {
        dsm_warn("bootstrap: DSM_COORD host '%s' is %s here, a loopback address: nodes on "
                 "other hosts cannot reach node 0 through it", config->host, where);
    }
}

/*
 * Node 0 listens on the address DSM_COORD names (the first of its addresses
 * this host can bind), not the wildcard: a job whose coordinator is 127.0.0.1
 * is reachable from this host only.
 */
static dsm_status_t dsm_boot_listen(const dsm_boot_tcp_config_t *config, int *fd_p)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *addrs, *addr;
    char where[64];
    int fd = -1, err;

    err = getaddrinfo(config->host, config->port, &hints, &addrs);
    if (err != 0) {
        dsm_error("bootstrap: cannot resolve DSM_COORD host '%s': %s", config->host,
                  gai_strerror(err));
        return DSM_ERR_CONFIG;
    }
    for (addr = addrs; addr != NULL; addr = addr->ai_next) {
        fd = dsm_boot_listen_on(addr, config->nnodes);
        if (fd >= 0) {
            break;
        }
        err = errno;
    }
    if (fd < 0) {
        freeaddrinfo(addrs);
        errno = err;
        dsm_error("bootstrap: node 0 cannot listen on DSM_COORD=%s:%s: %m%s", config->host,
                  config->port, err == EADDRNOTAVAIL ? " (not an address of this host)" : "");
        return err == EADDRINUSE ? DSM_ERR_ADDRESS_IN_USE : DSM_ERR_BOOTSTRAP;
    }
    dsm_boot_addr_text(addr->ai_addr, addr->ai_addrlen, where, sizeof(where));
    dsm_boot_listen_check(config, addr, where);
    freeaddrinfo(addrs);
    dsm_debug("bootstrap: node 0 listens on %s for %d nodes", where, config->nnodes - 1);
    *fd_p = fd;
    return DSM_OK;
}

static dsm_status_t dsm_boot_join_coord(dsm_boot_tcp_t *boot,
                                        const dsm_boot_tcp_config_t *config)
{
    struct timespec deadline = dsm_boot_deadline(config->timeout_ms);
    struct pollfd pfds[1 + DSM_BOOT_JOIN_SLOTS];
    dsm_boot_join_t *joins;
    int listen_fd, joined_count = 1;
    dsm_status_t status;

    if (config->nnodes == 1) {
        return DSM_OK; /* nobody to wait for */
    }
    joins = calloc(DSM_BOOT_JOIN_SLOTS, sizeof(*joins));
    if (joins == NULL) {
        dsm_error("bootstrap: out of memory");
        return DSM_ERR_NO_MEMORY;
    }
    status = dsm_boot_listen(config, &listen_fd);
    if (status != DSM_OK) {
        goto out_free;
    }
    while (status == DSM_OK && joined_count < config->nnodes) {
        if (dsm_boot_join_poll(listen_fd, joins, pfds, &deadline) < 0 && errno != EINTR) {
            dsm_error("bootstrap: poll while nodes join: %m");
            status = dsm_status_from_errno(errno);
            break;
        }
        for (int i = 0; i < DSM_BOOT_JOIN_SLOTS && status == DSM_OK; i++) {
            if (joins[i].state != DSM_BOOT_JOIN_FREE) {
                status = dsm_boot_join_advance(boot, &joins[i], config,
                                               pfds[1 + i].revents != 0, &joined_count);
            }
        }
        if (status == DSM_OK && pfds[0].revents != 0) {
            status = dsm_boot_join_accept(listen_fd, joins, &deadline);
        }
        if (status == DSM_OK && joined_count < config->nnodes &&
            dsm_boot_left_ms(&deadline) == 0) {
            status = dsm_boot_join_timed_out(boot, joined_count, config->timeout_ms);
        }
    }
    for (int rank = 1; rank < config->nnodes && status == DSM_OK; rank++) {
        status = dsm_boot_send_frame(boot->fds[rank], DSM_BOOT_FRAME_READY, NULL, 0,
                                     &deadline, rank);
    }
    close(listen_fd);
    /* Handshakes still going are strangers' (or a job that failed): the job no longer listens. */
    for (int i = 0; i < DSM_BOOT_JOIN_SLOTS; i++) {
        if (joins[i].state != DSM_BOOT_JOIN_FREE) {
            dsm_boot_join_close(&joins[i]);
        }
    }
out_free:
    free(joins);
    return status;
}

/* ---------------------------------------------------------------- a node: joining */

/* One non-blocking connect attempt bounded by the deadline; -1 and errno on failure. */
static int dsm_boot_connect_once(const struct addrinfo *addr, const struct timespec *deadline)
{
    struct pollfd pfd;
    socklen_t errlen = sizeof(int);
    int fd, err = 0, ready;

    fd = socket(addr->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, addr->ai_addr, addr->ai_addrlen) == 0) {
        return fd;
    }
    if (errno != EINPROGRESS) {
        goto err_close;
    }
    pfd.fd = fd;
    pfd.events = POLLOUT;
    do {
        ready = poll(&pfd, 1, dsm_boot_left_ms(deadline));
    } while (ready < 0 && errno == EINTR);
    if (ready <= 0) {
        errno = ready == 0 ? ETIMEDOUT : errno;
        goto err_close;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) != 0 || err != 0) {
        errno = err != 0 ? err : errno;
        goto err_close;
    }
    return fd;

err_close:
    err = errno;
    close(fd);
    errno = err;
    return -1;
}

/* Connects to node 0, retrying with exponential backoff until the deadline. */
static dsm_status_t dsm_boot_connect(const dsm_boot_tcp_config_t *config,
                                     const struct timespec *deadline, int *fd_p)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    struct addrinfo *addrs, *addr;
    int backoff_ms = DSM_BOOT_BACKOFF_MIN_MS, fd = -1, err, last_errno = 0;
    int left_ms, nap_ms;
    struct timespec pause;

    err = getaddrinfo(config->host, config->port, &hints, &addrs);
    if (err != 0) {
        dsm_error("bootstrap: cannot resolve DSM_COORD host '%s': %s", config->host,
                  gai_strerror(err));
        return DSM_ERR_CONFIG;
    }
    for (;;) {
        for (addr = addrs; addr != NULL && fd < 0; addr = addr->ai_next) {
            fd = dsm_boot_connect_once(addr, deadline);
            last_errno = fd < 0 ? errno : 0;
        }
        left_ms = dsm_boot_left_ms(deadline);
        if (fd >= 0 || left_ms == 0) {
            break;
        }
        /* Node 0 may not listen yet: back off, doubling, within the deadline. */
        nap_ms = backoff_ms < left_ms ? backoff_ms : left_ms;
        pause.tv_sec = nap_ms / 1000;
        pause.tv_nsec = (long)(nap_ms % 1000) * 1000000L;
        nanosleep(&pause, NULL);
        backoff_ms = backoff_ms * 2 > DSM_BOOT_BACKOFF_MAX_MS ? DSM_BOOT_BACKOFF_MAX_MS :
                                                                  backoff_ms * 2;
    }
    freeaddrinfo(addrs);
    if (fd < 0) {
        dsm_error("bootstrap: node 0 at DSM_COORD=%s:%s unreachable within DSM_BOOT_TIMEOUT "
                  "(%d s): %s", config->host, config->port, config->timeout_ms / 1000,
                  strerror(last_errno));
        return DSM_ERR_BOOTSTRAP;
    }
    *fd_p = fd;
    return DSM_OK;
}

static dsm_status_t dsm_boot_join_node(dsm_boot_tcp_t *boot,
                                       const dsm_boot_tcp_config_t *config)
{
    struct timespec deadline = dsm_boot_deadline(config->timeout_ms);
    uint8_t *ready;
    size_t len;
    int fd;
    dsm_status_t status;

    status = dsm_boot_connect(config, &deadline, &fd);
    if (status != DSM_OK) {
        return status;
    }
    status = dsm_boot_socket_setup(fd);
    if (status == DSM_OK) {
        status = dsm_boot_handshake_node(fd, config, &deadline);
    }
    if (status == DSM_OK) {
        /* READY comes once every other node has joined too. */
        status = dsm_boot_recv_frame(fd, DSM_BOOT_FRAME_READY, 0, 0, &deadline, 0, &ready,
                                     &len);
    }
    if (status != DSM_OK) {
        close(fd);
        return status;
    }
    free(ready);
    boot->fds[0] = fd;
    return DSM_OK;
}

dsm_status_t dsm_boot_tcp_init(dsm_boot_t **boot_p)
{
    dsm_boot_tcp_config_t config;
    dsm_boot_tcp_t *boot;
    dsm_status_t status;

    status = dsm_boot_tcp_config_read(&config);
    if (status != DSM_OK) {
        goto out;
    }
    dsm_log_set_node(config.rank);
    boot = calloc(1, sizeof(*boot));
    if (boot != NULL) {
        boot->fds = malloc(sizeof(*boot->fds) * (size_t)config.nnodes);
    }
    if (boot == NULL || boot->fds == NULL) {
        dsm_error("bootstrap: out of memory");
        free(boot);
        status = DSM_ERR_NO_MEMORY;
        goto out;
    }
    for (int r = 0; r < config.nnodes; r++) {
        boot->fds[r] = -1;
    }
    boot->base.ops = &dsm_boot_tcp_ops;
    boot->base.rank = config.rank;
    boot->base.size = config.nnodes;
    boot->timeout_ms = config.timeout_ms;
    status = config.rank == 0 ? dsm_boot_join_coord(boot, &config) :
                                dsm_boot_join_node(boot, &config);
    if (status != DSM_OK) {
        dsm_boot_tcp_fini(&boot->base);
        goto out;
    }
    *boot_p = &boot->base;
out:
    /* The key lives only as long as the handshake needs it. */
    explicit_bzero(config.key, sizeof(config.key));
    return status;
}

/* ---------------------------------------------------------------- collectives */

static dsm_status_t dsm_boot_tcp_gather_coord(dsm_boot_tcp_t *boot, const void *blob,
                                              size_t size, const struct timespec *deadline,
                                              dsm_boot_gathered_t *gathered_p)
{
    dsm_boot_gathered_t gathered;
    uint8_t *payload;
    size_t len;
    dsm_status_t status;

    status = dsm_boot_gathered_alloc(boot->base.size, &gathered);
    if (status != DSM_OK) {
        return status;
    }
    gathered.blobs[0] = malloc(size + 1);
    if (gathered.blobs[0] == NULL) {
        dsm_error("bootstrap: out of memory for a %zu-byte blob", size);
        status = DSM_ERR_NO_MEMORY;
        goto err_free;
    }
    if (size > 0) {
        memcpy(gathered.blobs[0], blob, size);
    }
    gathered.sizes[0] = size;
    for (int r = 1; r < boot->base.size; r++) {
        status = dsm_boot_recv_frame(boot->fds[r], DSM_BOOT_FRAME_CONTRIB, 0,
                                     DSM_BOOT_MAX_BLOB, deadline, r, &payload, &len);
        if (status != DSM_OK) {
            goto err_free;
        }
        gathered.blobs[r] = payload;
        gathered.sizes[r] = len;
    }
    status = dsm_boot_gathered_encode(&gathered, &payload, &len);
    if (status != DSM_OK) {
        goto err_free;
    }
    for (int r = 1; r < boot->base.size && status == DSM_OK; r++) {
        status = dsm_boot_send_frame(boot->fds[r], DSM_BOOT_FRAME_GATHERED, payload, len,
                                     deadline, r);
    }
    free(payload);
    if (status != DSM_OK) {
        goto err_free;
    }
    *gathered_p = gathered;
    return DSM_OK;

err_free:
    dsm_boot_gathered_free(&gathered);
    return status;
}

static dsm_status_t dsm_boot_tcp_gather_node(dsm_boot_tcp_t *boot, const void *blob,
                                             size_t size, const struct timespec *deadline,
                                             dsm_boot_gathered_t *gathered_p)
{
    uint8_t *payload;
    size_t len;
    dsm_status_t status;

    status = dsm_boot_send_frame(boot->fds[0], DSM_BOOT_FRAME_CONTRIB, blob, size,
                                 deadline, 0);
    if (status != DSM_OK) {
        return status;
    }
    status = dsm_boot_recv_frame(boot->fds[0], DSM_BOOT_FRAME_GATHERED, 0,
                                 DSM_BOOT_MAX_PAYLOAD, deadline, 0, &payload, &len);
    if (status != DSM_OK) {
        return status;
    }
    status = dsm_boot_gathered_decode(payload, len, boot->base.size, gathered_p);
    free(payload);
    return status;
}

static dsm_status_t dsm_boot_tcp_allgather(dsm_boot_t *base, const void *blob,
                                           size_t size, dsm_boot_gathered_t *gathered_p)
{
    dsm_boot_tcp_t *boot = (dsm_boot_tcp_t *)base;
    struct timespec deadline = dsm_boot_deadline(boot->timeout_ms);

    return base->rank == 0 ? dsm_boot_tcp_gather_coord(boot, blob, size, &deadline,
                                                       gathered_p) :
                             dsm_boot_tcp_gather_node(boot, blob, size, &deadline,
                                                      gathered_p);
}

/* A barrier is an allgather of nothing: node 0 answers only when all arrived. */
static dsm_status_t dsm_boot_tcp_barrier(dsm_boot_t *base)
{
    dsm_boot_gathered_t gathered;
    dsm_status_t status;

    status = dsm_boot_tcp_allgather(base, NULL, 0, &gathered);
    if (status == DSM_OK) {
        dsm_boot_gathered_free(&gathered);
    }
    return status;
}

static void dsm_boot_tcp_fini(dsm_boot_t *base)
{
    dsm_boot_tcp_t *boot = (dsm_boot_tcp_t *)base;

    for (int r = 0; r < base->size; r++) {
        if (boot->fds[r] >= 0) {
            close(boot->fds[r]);
        }
    }
    free(boot->fds);
    free(boot);
}
