/*
 * Internals of the bootstrap (boot_*.c), shared by its files and by the
 * white-box tests in tests/boot: the keyed hash, the dsmrun-path wire format,
 * and the table of operations each path provides.
 */
#ifndef DSM_BOOT_INT_H
#define DSM_BOOT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "dsm_boot.h"

/* ---- SHA-256 and HMAC-SHA256 (FIPS 180-4, RFC 2104), boot_hmac.c ---- */

#define DSM_BOOT_SHA256_LEN 32
#define DSM_BOOT_SHA256_BLOCK 64

typedef struct {
    uint32_t state[8];
    uint64_t total_len;                         /* bytes hashed so far */
    uint8_t  block[DSM_BOOT_SHA256_BLOCK];
    size_t   block_len;                         /* bytes waiting in block */
} dsm_boot_sha256_t;

void dsm_boot_sha256_init(dsm_boot_sha256_t *ctx);
void dsm_boot_sha256_update(dsm_boot_sha256_t *ctx, const void *data, size_t len);
void dsm_boot_sha256_final(dsm_boot_sha256_t *ctx, uint8_t digest_p[DSM_BOOT_SHA256_LEN]);

/* HMAC-SHA256 over the concatenation of parts[0..count-1]. */
typedef struct {
    const void *data;
    size_t      len;
} dsm_boot_span_t;

void dsm_boot_hmac(const uint8_t *key, size_t key_len, const dsm_boot_span_t *parts,
                   size_t count, uint8_t mac_p[DSM_BOOT_SHA256_LEN]);

/* Compares in time independent of where a and b differ. Returns 1 if equal. */
int dsm_boot_equal_ct(const uint8_t *a, const uint8_t *b, size_t len);

/* ---- dsmrun path wire format (boot_tcp.c) ----
 *
 * Every frame: magic (u32), type (u32), payload length (u32), payload.
 * Integers are big-endian. See docs/design.md "### Bootstrap".
 */
#define DSM_BOOT_MAGIC        0x44534d42u /* "DSMB" */
#define DSM_BOOT_VERSION      1u
#define DSM_BOOT_HDR_LEN      12u
#define DSM_BOOT_NONCE_LEN    32u
#define DSM_BOOT_KEY_MIN      16u          /* bytes: DSM_JOB_KEY has >= 32 hex digits */
#define DSM_BOOT_KEY_MAX      64u
#define DSM_BOOT_MAX_NODES    4096
#define DSM_BOOT_MAX_BLOB     (16u << 20)  /* one node's allgather contribution */
#define DSM_BOOT_MAX_PAYLOAD  (256u << 20) /* any frame */

typedef enum {
    DSM_BOOT_FRAME_HELLO     = 1, /* node -> 0: version, rank, nnodes, nonce      */
    DSM_BOOT_FRAME_CHALLENGE = 2, /* 0 -> node: nonce, proof of the key by node 0 */
    DSM_BOOT_FRAME_PROOF     = 3, /* node -> 0: proof of the key by the node      */
    DSM_BOOT_FRAME_REFUSE    = 4, /* either way: the other side failed the proof  */
    DSM_BOOT_FRAME_READY     = 5, /* 0 -> node: every node has joined             */
    DSM_BOOT_FRAME_CONTRIB   = 6, /* node -> 0: one allgather blob                */
    DSM_BOOT_FRAME_GATHERED  = 7, /* 0 -> node: every blob, in rank order         */
    DSM_BOOT_FRAME_TYPE_MAX  = 7
} dsm_boot_frame_type_t;

/* HELLO payload: version u32, rank u32, nnodes u32, nonce. */
#define DSM_BOOT_HELLO_LEN    (12u + DSM_BOOT_NONCE_LEN)
/* CHALLENGE payload: nonce, mac. PROOF payload: mac. */
#define DSM_BOOT_CHALLENGE_LEN (DSM_BOOT_NONCE_LEN + DSM_BOOT_SHA256_LEN)
#define DSM_BOOT_PROOF_LEN    DSM_BOOT_SHA256_LEN

typedef struct {
    uint32_t type;
    uint32_t len;
} dsm_boot_frame_hdr_t;

/*
 * Checks a received header: magic, known type, expected type (0: any) and
 * a length within max_len. DSM_ERR_MALFORMED (logged, naming from_rank) if not.
 */
dsm_status_t dsm_boot_frame_hdr_parse(const uint8_t raw[DSM_BOOT_HDR_LEN],
                                      uint32_t expected_type, uint32_t max_len,
                                      int from_rank, dsm_boot_frame_hdr_t *hdr_p);
void dsm_boot_frame_hdr_pack(uint32_t type, uint32_t len, uint8_t raw_p[DSM_BOOT_HDR_LEN]);

/*
 * GATHERED payload: count u32, then count sizes (u64), then the blobs back to
 * back. Decoding checks that count equals nnodes, each size is within
 * DSM_BOOT_MAX_BLOB and the sizes add up to exactly the payload length.
 */
dsm_status_t dsm_boot_gathered_encode(const dsm_boot_gathered_t *gathered,
                                      uint8_t **payload_p, size_t *len_p);
dsm_status_t dsm_boot_gathered_decode(const uint8_t *payload, size_t len, int nnodes,
                                      dsm_boot_gathered_t *gathered_p);

/* Allocates an empty result for count ranks (every blob NULL, size 0). */
dsm_status_t dsm_boot_gathered_alloc(int count, dsm_boot_gathered_t *gathered_p);

/* ---- the two paths, behind one table (boot.c dispatches) ---- */

typedef struct {
    const char *name;
    dsm_status_t (*allgather)(dsm_boot_t *boot, const void *blob, size_t size,
                              dsm_boot_gathered_t *gathered_p);
    dsm_status_t (*barrier)(dsm_boot_t *boot);
    void (*fini)(dsm_boot_t *boot);
} dsm_boot_ops_t;

/* Common head of every path's state; each path embeds it first. */
struct dsm_boot {
    const dsm_boot_ops_t *ops;
    int rank;
    int size;
};

/* Join with the dsmrun variables (boot_tcp.c). */
dsm_status_t dsm_boot_tcp_init(dsm_boot_t **boot_p);
/* Join through PMIx (boot_pmix.c, present when built with libpmix). */
dsm_status_t dsm_boot_pmix_init(dsm_boot_t **boot_p);

/* DSM_BOOT_TIMEOUT in milliseconds (default 60 s); DSM_ERR_CONFIG if malformed. */
dsm_status_t dsm_boot_timeout_ms(int *timeout_ms_p);

#endif /* DSM_BOOT_INT_H */
