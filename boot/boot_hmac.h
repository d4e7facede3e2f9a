/*
 * SHA-256 and HMAC-SHA256 (FIPS 180-4, RFC 2104), boot_hmac.c: the keyed
 * hash of the dsmrun path's handshake, shared with the white-box tests in
 * tests/boot. Depends on nothing else of boot/.
 */
#ifndef DSM_BOOT_HMAC_H
#define DSM_BOOT_HMAC_H

#include <stddef.h>
#include <stdint.h>

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

#endif /* DSM_BOOT_HMAC_H */
