/*
 * Runs as one node of a job (under dsmrun, mpirun, or alone): joins through
 * dsm_boot_init, checks rank and size against what the launcher says,
 * allgathers blobs of varied sizes (0 B to 1 MiB, different on every node)
 * and checks every byte, then barriers. Every node runs the same cases in
 * the same order; each case joins the job afresh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsm_boot.h"
#include "dsm_test.h"

/* The size node `rank` contributes in `round`: 0 B, small, odd, large, 1 MiB. */
static size_t boot_test_blob_size(int rank, int round)
{
    static const size_t sizes[] = {0, 1, 7, 100, 4096, 65537, 1u << 20};
    size_t count = sizeof(sizes) / sizeof(sizes[0]);

    return sizes[((size_t)rank + (size_t)round) % count];
}

/* Content that depends on the rank, the round and the offset. */
static uint8_t boot_test_byte(int rank, int round, size_t offset)
{
    return (uint8_t)(rank * 131 + round * 17 + offset * 7 + (offset >> 8));
}

/* What the launcher says the size is, or -1 when it says nothing. */
static int boot_test_launcher_size(void)
{
    static const char *const vars[] = {"DSM_NNODES", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE"};

    for (size_t i = 0; i < DSM_TEST_ARRAY_SIZE(vars); i++) {
        const char *text = getenv(vars[i]);

        if (text != NULL) {
            return atoi(text);
        }
    }
    return -1;
}

static dsm_test_result_t boot_test_join(void)
{
    dsm_boot_t *boot;
    int expected_size = boot_test_launcher_size();
    const char *rank_text = getenv("DSM_RANK");

    DSM_CHECK(dsm_boot_init(&boot) == DSM_OK);
    DSM_CHECK(dsm_boot_rank(boot) >= 0 && dsm_boot_rank(boot) < dsm_boot_size(boot));
    DSM_CHECKF(expected_size < 0 || dsm_boot_size(boot) == expected_size,
               "size %d, launcher says %d", dsm_boot_size(boot), expected_size);
    if (rank_text != NULL) {
        DSM_CHECK(dsm_boot_rank(boot) == atoi(rank_text));
        DSM_CHECK(strcmp(dsm_boot_method(boot), "dsmrun") == 0);
    } else if (getenv("PMIX_RANK") != NULL) {
        DSM_CHECK(dsm_boot_rank(boot) == atoi(getenv("PMIX_RANK")));
        DSM_CHECK(strcmp(dsm_boot_method(boot), "pmix") == 0);
    }
    DSM_CHECK(dsm_boot_barrier(boot) == DSM_OK);
    dsm_boot_fini(boot);
    return DSM_TEST_PASS;
}

/* One allgather round: contribute, then check every rank's blob byte by byte. */
static dsm_test_result_t boot_test_round(dsm_boot_t *boot, int round)
{
    int rank = dsm_boot_rank(boot), size = dsm_boot_size(boot);
    size_t mine = boot_test_blob_size(rank, round);
    dsm_boot_gathered_t gathered;
    uint8_t *blob = malloc(mine + 1);
    dsm_test_result_t result = DSM_TEST_FAIL;

    DSM_CHECK(blob != NULL);
    for (size_t i = 0; i < mine; i++) {
        blob[i] = boot_test_byte(rank, round, i);
    }
    if (dsm_boot_allgather(boot, blob, mine, &gathered) != DSM_OK) {
        fprintf(stderr, "  round %d: allgather failed\n", round);
        goto out;
    }
    if (gathered.count != size) {
        fprintf(stderr, "  round %d: %d blobs for %d nodes\n", round, gathered.count, size);
        goto out_free;
    }
    for (int r = 0; r < size; r++) {
        const uint8_t *got = gathered.blobs[r];

        if (gathered.sizes[r] != boot_test_blob_size(r, round) || got == NULL) {
            fprintf(stderr, "  round %d: blob of node %d has %zu bytes, expected %zu\n", round,
                    r, gathered.sizes[r], boot_test_blob_size(r, round));
            goto out_free;
        }
        for (size_t i = 0; i < gathered.sizes[r]; i++) {
            if (got[i] != boot_test_byte(r, round, i)) {
                fprintf(stderr, "  round %d: node %d's byte %zu is wrong\n", round, r, i);
                goto out_free;
            }
        }
    }
    result = DSM_TEST_PASS;
out_free:
    dsm_boot_gathered_free(&gathered);
out:
    free(blob);
    return result;
}

static dsm_test_result_t boot_test_allgather_sizes(void)
{
    dsm_boot_t *boot;
    dsm_test_result_t result = DSM_TEST_PASS;

    DSM_CHECK(dsm_boot_init(&boot) == DSM_OK);
    /* Seven rounds: every node contributes every size once. */
    for (int round = 0; round < 7 && result == DSM_TEST_PASS; round++) {
        result = boot_test_round(boot, round);
    }
    if (result == DSM_TEST_PASS && dsm_boot_barrier(boot) != DSM_OK) {
        result = DSM_TEST_FAIL;
    }
    dsm_boot_fini(boot);
    return result;
}

/* Barriers interleaved with allgathers must keep the collectives matched. */
static dsm_test_result_t boot_test_barriers(void)
{
    dsm_boot_t *boot;
    dsm_test_result_t result = DSM_TEST_PASS;

    DSM_CHECK(dsm_boot_init(&boot) == DSM_OK);
    for (int i = 0; i < 20 && result == DSM_TEST_PASS; i++) {
        if (dsm_boot_barrier(boot) != DSM_OK) {
            result = DSM_TEST_FAIL;
        } else if (i % 5 == 0) {
            result = boot_test_round(boot, i);
        }
    }
    dsm_boot_fini(boot);
    return result;
}

int main(int argc, char **argv)
{
    static const dsm_test_case_t cases[] = {
        {"join", NULL, boot_test_join, 0},
        {"allgather_sizes", NULL, boot_test_allgather_sizes, 0},
        {"barriers", NULL, boot_test_barriers, 0},
    };

    return dsm_test_main(argc, argv, cases, DSM_TEST_ARRAY_SIZE(cases));
}
