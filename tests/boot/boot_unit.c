/*
 * Unit tests of the bootstrap's pure parts: SHA-256 (FIPS 180-4 examples),
 * HMAC-SHA256 (RFC 4231 test cases), frame header and allgather result
 * validation, and the refusal of missing or malformed DSM_* variables (with
 * the variable named in the log and the key's value never printed).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot_tcp.h"
#include "dsm_common.h"
#include "dsm_test.h"

/* ---------------------------------------------------------------- helpers */

static size_t boot_unit_unhex(const char *hex, uint8_t *out, size_t max)
{
    size_t n = strlen(hex) / 2;

    for (size_t i = 0; i < n && i < max; i++) {
        unsigned byte;

        sscanf(hex + 2 * i, "%2x", &byte);
        out[i] = (uint8_t)byte;
    }
    return n;
}

static int boot_unit_digest_is(const uint8_t *digest, const char *hex, size_t len)
{
    uint8_t expect[DSM_BOOT_SHA256_LEN];

    boot_unit_unhex(hex, expect, sizeof(expect));
    return memcmp(digest, expect, len) == 0;
}

/* ---------------------------------------------------------------- SHA-256 and HMAC */

static int boot_unit_sha256_is(const void *data, size_t len, size_t chunk, const char *hex)
{
    dsm_boot_sha256_t ctx;
    uint8_t digest[DSM_BOOT_SHA256_LEN];
    const uint8_t *p = data;

    dsm_boot_sha256_init(&ctx);
    for (size_t done = 0; done < len; done += chunk) {
        dsm_boot_sha256_update(&ctx, p + done, len - done < chunk ? len - done : chunk);
    }
    dsm_boot_sha256_final(&ctx, digest);
    return boot_unit_digest_is(digest, hex, sizeof(digest));
}

static dsm_test_result_t boot_unit_sha256_vectors(void)
{
    static const char two_blocks[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    char *million = malloc(1000000);

    DSM_CHECK(boot_unit_sha256_is("", 0, 1,
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    DSM_CHECK(boot_unit_sha256_is("abc", 3, 3,
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    /* 56 bytes: the padding spills into a second block. Fed whole and byte by byte. */
    for (size_t chunk = 1; chunk <= 56; chunk += 55) {
        DSM_CHECK(boot_unit_sha256_is(two_blocks, strlen(two_blocks), chunk,
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    }
    DSM_CHECK(million != NULL);
    memset(million, 'a', 1000000);
    /* An odd chunk size crosses block boundaries at every offset. */
    DSM_CHECK(boot_unit_sha256_is(million, 1000000, 997,
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
    free(million);
    return DSM_TEST_PASS;
}

typedef struct {
    const char *key_hex;   /* NULL: key_fill repeated key_len times */
    uint8_t     key_fill;
    size_t      key_len;
    const char *data;      /* NULL: data_fill repeated data_len times */
    uint8_t     data_fill;
    size_t      data_len;
    const char *mac_hex;   /* may be truncated (test case 5) */
} boot_unit_hmac_vector_t;

/* RFC 4231 section 4, HMAC-SHA-256 results. */
static const boot_unit_hmac_vector_t boot_unit_rfc4231[] = {
    {NULL, 0x0b, 20, "Hi There", 0, 0,
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    {"4a656665", 0, 4, "what do ya want for nothing?", 0, 0,
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    {NULL, 0xaa, 20, NULL, 0xdd, 50,
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
    {"0102030405060708090a0b0c0d0e0f10111213141516171819", 0, 25, NULL, 0xcd, 50,
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
    {NULL, 0x0c, 20, "Test With Truncation", 0, 0, "a3b6167473100ee06e0c796c2955552b"},
    {NULL, 0xaa, 131, "Test Using Larger Than Block-Size Key - Hash Key First", 0, 0,
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    {NULL, 0xaa, 131,
     "This is a test using a larger than block-size key and a larger than block-size "
     "data. The key needs to be hashed before being used by the HMAC algorithm.", 0, 0,
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
};

static dsm_test_result_t boot_unit_hmac_rfc4231(void)
{
    for (size_t i = 0; i < DSM_TEST_ARRAY_SIZE(boot_unit_rfc4231); i++) {
        const boot_unit_hmac_vector_t *v = &boot_unit_rfc4231[i];
        uint8_t key[131], data[64], mac[DSM_BOOT_SHA256_LEN];
        size_t data_len = v->data != NULL ? strlen(v->data) : v->data_len;
        dsm_boot_span_t parts[2];

        if (v->key_hex != NULL) {
            boot_unit_unhex(v->key_hex, key, sizeof(key));
        } else {
            memset(key, v->key_fill, v->key_len);
        }
        if (v->data == NULL) {
            memset(data, v->data_fill, v->data_len);
        }
        /* Split the message in two parts: the MAC covers their concatenation. */
        parts[0].data = v->data != NULL ? (const void *)v->data : data;
        parts[0].len = data_len / 3;
        parts[1].data = (const uint8_t *)parts[0].data + parts[0].len;
        parts[1].len = data_len - parts[0].len;
        dsm_boot_hmac(key, v->key_len, parts, 2, mac);
        DSM_CHECKF(boot_unit_digest_is(mac, v->mac_hex, strlen(v->mac_hex) / 2),
                   "RFC 4231 test case %zu", i + 1);
    }
    return DSM_TEST_PASS;
}

static dsm_test_result_t boot_unit_equal_ct(void)
{
    uint8_t a[32] = {0}, b[32] = {0};

    DSM_CHECK(dsm_boot_equal_ct(a, b, sizeof(a)));
    b[31] = 1;
    DSM_CHECK(!dsm_boot_equal_ct(a, b, sizeof(a)));
    b[31] = 0, b[0] = 0x80;
    DSM_CHECK(!dsm_boot_equal_ct(a, b, sizeof(a)));
    return DSM_TEST_PASS;
}

/* ---------------------------------------------------------------- frames */

static dsm_test_result_t boot_unit_frame_hdr(void)
{
    uint8_t raw[DSM_BOOT_HDR_LEN];
    dsm_boot_frame_hdr_t hdr;

    dsm_boot_frame_hdr_pack(DSM_BOOT_FRAME_CONTRIB, 1234, raw);
    DSM_CHECK(dsm_boot_frame_hdr_parse(raw, 0, 4096, 3, &hdr) == DSM_OK);
    DSM_CHECK(hdr.type == DSM_BOOT_FRAME_CONTRIB && hdr.len == 1234);
    DSM_CHECK(dsm_boot_frame_hdr_parse(raw, DSM_BOOT_FRAME_CONTRIB, 1234, 3, &hdr) ==
              DSM_OK);
    /* Too long, wrong expected type, unknown types, bad magic. */
    DSM_CHECK(dsm_boot_frame_hdr_parse(raw, 0, 1233, 3, &hdr) == DSM_ERR_MALFORMED);
    DSM_CHECK(dsm_boot_frame_hdr_parse(raw, DSM_BOOT_FRAME_HELLO, 4096, 3, &hdr) ==
              DSM_ERR_MALFORMED);
    dsm_boot_frame_hdr_pack(0, 0, raw);
    DSM_CHECK(dsm_boot_frame_hdr_parse(raw, 0, 4096, -1, &hdr) == DSM_ERR_MALFORMED);
    dsm_boot_frame_hdr_pack(DSM_BOOT_FRAME_TYPE_MAX + 1, 0, raw);
    DSM_CHECK(dsm_boot_frame_hdr_parse(raw, 0, 4096, -1, &hdr) == DSM_ERR_MALFORMED);
    dsm_boot_frame_hdr_pack(DSM_BOOT_FRAME_HELLO, 0, raw);
    raw[0] ^= 0xff;
    DSM_CHECK(dsm_boot_frame_hdr_parse(raw, 0, 4096, -1, &hdr) == DSM_ERR_MALFORMED);
    memcpy(raw, "GET / HTTP/1.0", DSM_BOOT_HDR_LEN);
    DSM_CHECK(dsm_boot_frame_hdr_parse(raw, 0, 4096, -1, &hdr) == DSM_ERR_MALFORMED);
    return DSM_TEST_PASS;
}

static dsm_test_result_t boot_unit_gathered_roundtrip(void)
{
    static const char *const texts[] = {"", "node one", "", "the last node's blob"};
    dsm_boot_gathered_t in, out;
    uint8_t *payload;
    size_t len;

    DSM_CHECK(dsm_boot_gathered_alloc(4, &in) == DSM_OK);
    for (int i = 0; i < 4; i++) {
        in.blobs[i] = strdup(texts[i]);
        in.sizes[i] = strlen(texts[i]);
    }
    DSM_CHECK(dsm_boot_gathered_encode(&in, &payload, &len) == DSM_OK);
    DSM_CHECK(len == 4 + 4 * 8 + strlen(texts[1]) + strlen(texts[3]));
    DSM_CHECK(dsm_boot_gathered_decode(payload, len, 4, &out) == DSM_OK);
    DSM_CHECK(out.count == 4);
    for (int i = 0; i < 4; i++) {
        DSM_CHECK(out.blobs[i] != NULL && out.sizes[i] == strlen(texts[i]));
        DSM_CHECK(memcmp(out.blobs[i], texts[i], out.sizes[i]) == 0);
    }
    dsm_boot_gathered_free(&out);
    dsm_boot_gathered_free(&in);
    free(payload);
    return DSM_TEST_PASS;
}

static void boot_unit_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

/* Every malformed result is refused before any blob is copied. */
static dsm_test_result_t boot_unit_gathered_malformed(void)
{
    uint8_t payload[4 + 2 * 8 + 8] = {0, 0, 0, 2};
    dsm_boot_gathered_t out;

    boot_unit_put_u64(payload + 4, 5);
    boot_unit_put_u64(payload + 12, 3);
    /* Well formed: 5 + 3 bytes of blobs. */
    DSM_CHECK(dsm_boot_gathered_decode(payload, sizeof(payload), 2, &out) == DSM_OK);
    dsm_boot_gathered_free(&out);
    /* Wrong node count, truncated count, truncated size table. */
    DSM_CHECK(dsm_boot_gathered_decode(payload, sizeof(payload), 3, &out) ==
              DSM_ERR_MALFORMED);
    DSM_CHECK(dsm_boot_gathered_decode(payload, 3, 2, &out) == DSM_ERR_MALFORMED);
    DSM_CHECK(dsm_boot_gathered_decode(payload, 12, 2, &out) == DSM_ERR_MALFORMED);
    /* Sizes past the end, short of the end, and one that would overflow the sum. */
    DSM_CHECK(dsm_boot_gathered_decode(payload, sizeof(payload) - 1, 2, &out) ==
              DSM_ERR_MALFORMED);
    boot_unit_put_u64(payload + 12, 2);
    DSM_CHECK(dsm_boot_gathered_decode(payload, sizeof(payload), 2, &out) ==
              DSM_ERR_MALFORMED);
    boot_unit_put_u64(payload + 12, UINT64_MAX - 2);
    DSM_CHECK(dsm_boot_gathered_decode(payload, sizeof(payload), 2, &out) ==
              DSM_ERR_MALFORMED);
    return DSM_TEST_PASS;
}

/* ---------------------------------------------------------------- configuration */

#define BOOT_UNIT_KEY "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

/* Runs dsm_boot_init with the dsmrun variables set as given (NULL: unset),
 * capturing its log; returns the status and the log in log_p (static). */
static dsm_status_t boot_unit_init_with(const char *rank, const char *nnodes, const char *coord,
                                        const char *key, const char *timeout,
                                        const char **log_p)
{
    static char log[4096];
    const char *names[] = {"DSM_RANK", "DSM_NNODES", "DSM_COORD", "DSM_JOB_KEY",
                           "DSM_BOOT_TIMEOUT"};
    const char *values[] = {rank, nnodes, coord, key, timeout};
    int saved_stderr = dup(2), log_fd = memfd_create("boot_unit_log", 0);
    dsm_boot_t *boot = NULL;
    dsm_status_t status;
    ssize_t got;

    for (size_t i = 0; i < DSM_TEST_ARRAY_SIZE(names); i++) {
        if (values[i] != NULL) {
            setenv(names[i], values[i], 1);
        } else {
            unsetenv(names[i]);
        }
    }
    dsm_log_set_level(DSM_LOG_LEVEL_ERROR);
    fflush(stderr);
    dup2(log_fd, 2);
    status = dsm_boot_init(&boot);
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    got = pread(log_fd, log, sizeof(log) - 1, 0);
    log[got > 0 ? got : 0] = '\0';
    close(log_fd);
    if (status == DSM_OK) {
        dsm_boot_fini(boot);
    }
    *log_p = log;
    return status;
}

/* Each bad setting: DSM_ERR_CONFIG, the variable named, the key never shown. */
static dsm_test_result_t boot_unit_config_refused(void)
{
    static const struct {
        const char *rank, *nnodes, *coord, *key, *timeout, *named;
    } bad[] = {
        {NULL, "2", "127.0.0.1:1", BOOT_UNIT_KEY, NULL, "DSM_RANK"},
        {"0", NULL, "127.0.0.1:1", BOOT_UNIT_KEY, NULL, "DSM_NNODES"},
        {"0", "2", NULL, BOOT_UNIT_KEY, NULL, "DSM_COORD"},
        {"0", "2", "127.0.0.1:1", NULL, NULL, "DSM_JOB_KEY"},
        {"x", "2", "127.0.0.1:1", BOOT_UNIT_KEY, NULL, "DSM_RANK"},
        {"2", "2", "127.0.0.1:1", BOOT_UNIT_KEY, NULL, "DSM_RANK"},
        {"-1", "2", "127.0.0.1:1", BOOT_UNIT_KEY, NULL, "DSM_RANK"},
        {"0", "0", "127.0.0.1:1", BOOT_UNIT_KEY, NULL, "DSM_NNODES"},
        {"0", "99999", "127.0.0.1:1", BOOT_UNIT_KEY, NULL, "DSM_NNODES"},
        {"0", "2", "127.0.0.1", BOOT_UNIT_KEY, NULL, "DSM_COORD"},
        {"0", "2", ":80", BOOT_UNIT_KEY, NULL, "DSM_COORD"},
        {"0", "2", "127.0.0.1:0", BOOT_UNIT_KEY, NULL, "DSM_COORD"},
        {"0", "2", "127.0.0.1:65536", BOOT_UNIT_KEY, NULL, "DSM_COORD"},
        {"0", "2", "127.0.0.1:http", BOOT_UNIT_KEY, NULL, "DSM_COORD"},
        {"0", "2", "127.0.0.1:1", "0011223344556677", NULL, "DSM_JOB_KEY"},
        {"0", "2", "127.0.0.1:1", BOOT_UNIT_KEY "0", NULL, "DSM_JOB_KEY"},
        {"0", "2", "127.0.0.1:1", "zz112233445566778899aabbccddeeff", NULL, "DSM_JOB_KEY"},
        {"0", "2", "127.0.0.1:1", BOOT_UNIT_KEY, "0", "DSM_BOOT_TIMEOUT"},
        {"0", "2", "127.0.0.1:1", BOOT_UNIT_KEY, "soon", "DSM_BOOT_TIMEOUT"},
    };

    for (size_t i = 0; i < DSM_TEST_ARRAY_SIZE(bad); i++) {
        const char *log;
        dsm_status_t status = boot_unit_init_with(bad[i].rank, bad[i].nnodes, bad[i].coord,
                                                  bad[i].key, bad[i].timeout, &log);

        DSM_CHECKF(status == DSM_ERR_CONFIG, "setting %zu: %s", i, dsm_strerror(status));
        DSM_CHECKF(strstr(log, bad[i].named) != NULL, "setting %zu: log does not name %s: %s",
                   i, bad[i].named, log);
        DSM_CHECKF(bad[i].key == NULL || strstr(log, bad[i].key) == NULL,
                   "setting %zu: the key appears in the log: %s", i, log);
    }
    return DSM_TEST_PASS;
}

/* A launcher that started several processes without giving dsm a bootstrap
 * (srun without --mpi=pmix) is refused, naming its variable: each process
 * would otherwise run alone and compute its own answer. */
static dsm_test_result_t boot_unit_launcher_without_bootstrap(void)
{
    static const char *const vars[] = {"SLURM_STEP_NUM_TASKS", "PMI_SIZE",
                                       "OMPI_COMM_WORLD_SIZE"};
    const char *log;

    unsetenv("PMIX_RANK");
    for (size_t i = 0; i < DSM_TEST_ARRAY_SIZE(vars); i++) {
        setenv(vars[i], "1", 1);
        DSM_CHECKF(boot_unit_init_with(NULL, NULL, NULL, NULL, NULL, &log) == DSM_OK,
                   "%s=1 is one process", vars[i]);
        setenv(vars[i], "2", 1);
        DSM_CHECKF(boot_unit_init_with(NULL, NULL, NULL, NULL, NULL, &log) == DSM_ERR_CONFIG,
                   "%s=2 was not refused", vars[i]);
        DSM_CHECKF(strstr(log, vars[i]) != NULL && strstr(log, "srun --mpi=pmix") != NULL,
                   "the log does not name %s and the way out: %s", vars[i], log);
        unsetenv(vars[i]);
    }
    return DSM_TEST_PASS;
}

/* A single node needs no peer: DSM_NNODES=1 joins at once; so does no launcher. */
static dsm_test_result_t boot_unit_single_node(void)
{
    const char *log;

    DSM_CHECK(boot_unit_init_with("0", "1", "127.0.0.1:1", BOOT_UNIT_KEY, "5", &log) == DSM_OK);
    unsetenv("PMIX_RANK");
    DSM_CHECK(boot_unit_init_with(NULL, NULL, NULL, NULL, NULL, &log) == DSM_OK);
    return DSM_TEST_PASS;
}

int main(int argc, char **argv)
{
    static const dsm_test_case_t cases[] = {
        {"sha256_vectors", NULL, boot_unit_sha256_vectors, 0},
        {"hmac_rfc4231", NULL, boot_unit_hmac_rfc4231, 0},
        {"equal_ct", NULL, boot_unit_equal_ct, 0},
        {"frame_hdr", NULL, boot_unit_frame_hdr, 0},
        {"gathered_roundtrip", NULL, boot_unit_gathered_roundtrip, 0},
        {"gathered_malformed", NULL, boot_unit_gathered_malformed, 0},
        {"config_refused", NULL, boot_unit_config_refused, 0},
        {"single_node", NULL, boot_unit_single_node, 0},
        {"launcher_without_bootstrap", NULL, boot_unit_launcher_without_bootstrap, 0},
    };

    return dsm_test_main(argc, argv, cases, DSM_TEST_ARRAY_SIZE(cases));
}
