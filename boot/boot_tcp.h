/*
 * The dsmrun path (boot_tcp.c): its entry for boot.c and its wire format,
 * shared with the white-box tests in tests/boot.
 */
#ifndef DSM_BOOT_TCP_H
#define DSM_BOOT_TCP_H

#include <stddef.h>
#include <stdint.h>

#include "boot_hmac.h"
#include "boot_int.h"

/* Join with the dsmrun variables (DSM_RANK, DSM_NNODES, DSM_COORD, DSM_JOB_KEY). */
dsm_status_t dsm_boot_tcp_init(dsm_boot_t **boot_p);

/* ---- wire format ----
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

#endif /* DSM_BOOT_TCP_H */
