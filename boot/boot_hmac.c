/*
 * SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) for the bootstrap's
 * challenge-response. Small and self-contained so the bootstrap needs no
 * crypto library; checked against the RFC 4231 vectors in tests/boot.
 */
#include <string.h>

#include "boot_hmac.h"

static const uint32_t dsm_boot_sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
};

static uint32_t dsm_boot_rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static void dsm_boot_sha256_block(uint32_t state[8], const uint8_t block[64])
{
    uint32_t w[64], a, b, c, d, e, f, g, h, t1, t2;
    int i;

    for (i = 0; i < 16; i++) {
        w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
               (uint32_t)block[4 * i + 2] << 8 | (uint32_t)block[4 * i + 3];
    }
    for (i = 16; i < 64; i++) {
        uint32_t s0 = dsm_boot_rotr(w[i - 15], 7) ^ dsm_boot_rotr(w[i - 15], 18) ^
                      (w[i - 15] >> 3);
        uint32_t s1 = dsm_boot_rotr(w[i - 2], 17) ^ dsm_boot_rotr(w[i - 2], 19) ^
                      (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = state[0], b = state[1], c = state[2], d = state[3];
    e = state[4], f = state[5], g = state[6], h = state[7];
    for (i = 0; i < 64; i++) {
        t1 = h + (dsm_boot_rotr(e, 6) ^ dsm_boot_rotr(e, 11) ^ dsm_boot_rotr(e, 25)) +
             ((e & f) ^ (~e & g)) + dsm_boot_sha256_k[i] + w[i];
        t2 = (dsm_boot_rotr(a, 2) ^ dsm_boot_rotr(a, 13) ^ dsm_boot_rotr(a, 22)) +
             ((a & b) ^ (a & c) ^ (b & c));
        h = g, g = f, f = e, e = d + t1;
        d = c, c = b, b = a, a = t1 + t2;
    }
    state[0] += a, state[1] += b, state[2] += c, state[3] += d;
    state[4] += e, state[5] += f, state[6] += g, state[7] += h;
}

void dsm_boot_sha256_init(dsm_boot_sha256_t *ctx)
{
    static const uint32_t initial[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

    memcpy(ctx->state, initial, sizeof(initial));
    ctx->total_len = 0;
    ctx->block_len = 0;
}

void dsm_boot_sha256_update(dsm_boot_sha256_t *ctx, const void *data, size_t len)
{
    const uint8_t *bytes = data;

    ctx->total_len += len;
    while (len > 0) {
        size_t take = DSM_BOOT_SHA256_BLOCK - ctx->block_len;

        if (take > len) {
            take = len;
        }
        memcpy(ctx->block + ctx->block_len, bytes, take);
        ctx->block_len += take;
        bytes += take;
        len -= take;
        if (ctx->block_len == DSM_BOOT_SHA256_BLOCK) {
            dsm_boot_sha256_block(ctx->state, ctx->block);
            ctx->block_len = 0;
        }
    }
}

void dsm_boot_sha256_final(dsm_boot_sha256_t *ctx, uint8_t digest_p[DSM_BOOT_SHA256_LEN])
{
    uint64_t bits = ctx->total_len * 8;
    uint8_t pad[DSM_BOOT_SHA256_BLOCK + 8] = {0x80};
    uint8_t length[8];
    size_t pad_len;
    int i;

    /* Pad with 0x80 and zeros up to 56 mod 64, then the bit length. */
    pad_len = (ctx->block_len < 56 ? 56 : 120) - ctx->block_len;
    for (i = 0; i < 8; i++) {
        length[i] = (uint8_t)(bits >> (56 - 8 * i));
    }
    dsm_boot_sha256_update(ctx, pad, pad_len);
    dsm_boot_sha256_update(ctx, length, sizeof(length));
    for (i = 0; i < 8; i++) {
        digest_p[4 * i] = (uint8_t)(ctx->state[i] >> 24);
        digest_p[4 * i + 1] = (uint8_t)(ctx->state[i] >> 16);
        digest_p[4 * i + 2] = (uint8_t)(ctx->state[i] >> 8);
        digest_p[4 * i + 3] = (uint8_t)ctx->state[i];
    }
}

void dsm_boot_hmac(const uint8_t *key, size_t key_len, const dsm_boot_span_t *parts,
                   size_t count, uint8_t mac_p[DSM_BOOT_SHA256_LEN])
{
    uint8_t block_key[DSM_BOOT_SHA256_BLOCK] = {0};
    uint8_t pad[DSM_BOOT_SHA256_BLOCK];
    uint8_t inner[DSM_BOOT_SHA256_LEN];
    dsm_boot_sha256_t ctx;
    size_t i;

    /* A key longer than a block is replaced by its hash (RFC 2104, step 1). */
    if (key_len > DSM_BOOT_SHA256_BLOCK) {
        dsm_boot_sha256_init(&ctx);
        dsm_boot_sha256_update(&ctx, key, key_len);
        dsm_boot_sha256_final(&ctx, block_key);
    } else {
        memcpy(block_key, key, key_len);
    }

    for (i = 0; i < sizeof(pad); i++) {
        pad[i] = block_key[i] ^ 0x36;
    }
    dsm_boot_sha256_init(&ctx);
    dsm_boot_sha256_update(&ctx, pad, sizeof(pad));
    for (i = 0; i < count; i++) {
        dsm_boot_sha256_update(&ctx, parts[i].data, parts[i].len);
    }
    dsm_boot_sha256_final(&ctx, inner);

    for (i = 0; i < sizeof(pad); i++) {
        pad[i] = block_key[i] ^ 0x5c;
    }
    dsm_boot_sha256_init(&ctx);
    dsm_boot_sha256_update(&ctx, pad, sizeof(pad));
    dsm_boot_sha256_update(&ctx, inner, sizeof(inner));
    dsm_boot_sha256_final(&ctx, mac_p);
}

int dsm_boot_equal_ct(const uint8_t *a, const uint8_t *b, size_t len)
{
    uint8_t diff = 0;

    /* Accumulate every difference: the time taken does not reveal where
     * the first mismatching byte is. */
    for (size_t i = 0; i < len; i++) {
        diff |= a[i] ^ b[i];
    }
    return diff == 0;
}
