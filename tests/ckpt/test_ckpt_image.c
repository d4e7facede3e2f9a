/* The checkpoint image format (runtime/rt_ckpt_image.c), without a job. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsm_test.h"
#include "rt_ckpt.h"

#define PAGES 5

static dsm_test_result_t test_crc32c(void)
{
    /* The check value of CRC-32C (RFC 3720), and the same in two pieces. */
    DSM_CHECK(dsm_ckpt_crc32c(0, "123456789", 9) == 0xe3069283u);
    DSM_CHECK(dsm_ckpt_crc32c(dsm_ckpt_crc32c(0, "1234", 4), "56789", 5) == 0xe3069283u);
    return DSM_TEST_PASS;
}

/* An image of one node: pages 0..PAGES-1, page 2 all zeros; written page by
 * page, or (runs) with one dsm_ckpt_image_pages_write from scattered buffers
 * (two pwritev runs around the zero page). */
static dsm_test_result_t image_write(const char *dir, int runs, uint64_t *id_p)
{
    static char pages[PAGES][4096];
    const void *data[DSM_CKPT_RUN_MAX + 1];
    uint64_t index[PAGES], id;
    dsm_ckpt_alloc_t allocs[2] = { { 0, 3, 0 }, { 1, 2, 3 } };
    dsm_ckpt_manifest_t manifest = { .nnodes = 1, .arena_address = 0x200000000000,
                                     .arena_size = 1 << 30, .total_pages = PAGES,
                                     .alloc_count = 2, .allocs = allocs };
    int fd;

    for (int p = 0; p < PAGES; p++) {
        memset(pages[p], p == 2 ? 0 : 'a' + p, sizeof(pages[p]));
    }
    DSM_CHECK(dsm_ckpt_image_prepare(dir, &id) == DSM_OK && id != 0);
    DSM_CHECK(dsm_ckpt_image_node_create(dir, 0, PAGES, &fd) == DSM_OK);
    for (uint64_t g = 0; g < PAGES && !runs; g++) {
        DSM_CHECK(dsm_ckpt_image_page_write(fd, PAGES, g, pages[g], &index[g]) == DSM_OK);
    }
    if (runs) {
        for (int p = 0; p <= (int)DSM_CKPT_RUN_MAX; p++) {
            data[p] = pages[p % PAGES];
        }
        /* More than a run's worth is refused, and writes nothing. */
        DSM_CHECK(dsm_ckpt_image_pages_write(fd, PAGES, 0, data, DSM_CKPT_RUN_MAX + 1, index) ==
                  DSM_ERR_INVALID_PARAM);
        DSM_CHECK(dsm_ckpt_image_pages_write(fd, PAGES, 0, data, 1, index) == DSM_OK);
        DSM_CHECK(dsm_ckpt_image_pages_write(fd, PAGES, 1, data + 1, PAGES - 1, index + 1) ==
                  DSM_OK);
        DSM_CHECK(index[1] == (DSM_CKPT_ENTRY_SAVED | dsm_ckpt_crc32c(0, pages[1], 4096)));
    }
    DSM_CHECK(index[2] == (DSM_CKPT_ENTRY_SAVED | DSM_CKPT_ENTRY_ZERO));
    DSM_CHECK(dsm_ckpt_image_node_finish(fd, index, PAGES, 0, 1, id, DSM_OK) == DSM_OK);
    manifest.id = id;
    DSM_CHECK(dsm_ckpt_image_commit(dir, &manifest) == DSM_OK);
    DSM_CHECK(dsm_ckpt_image_committed_id(dir) == id);
    *id_p = id;
    return DSM_TEST_PASS;
}

static dsm_test_result_t test_roundtrip(void)
{
    char base[] = "/tmp/dsm_ckpt_XXXXXX", dir[64], page[4096];
    dsm_ckpt_image_t *image;
    uint64_t first, second;

    DSM_CHECK(mkdtemp(base) != NULL);
    snprintf(dir, sizeof(dir), "%s/img", base);
    DSM_CHECK(image_write(dir, 0, &first) == DSM_TEST_PASS);
    /* A second commit replaces the first whole, and leaves no temporary; its
     * pages, written in runs, read back as the first's. */
    DSM_CHECK(image_write(dir, 1, &second) == DSM_TEST_PASS && second != first);
    snprintf(page, sizeof(page), "%s.tmp", dir);
    DSM_CHECK(access(page, F_OK) != 0);
    DSM_CHECK(dsm_ckpt_image_open(dir, 2, 0x200000000000, 1 << 30, &image) == DSM_ERR_CONFIG);
    DSM_CHECK(dsm_ckpt_image_open(dir, 1, 0x300000000000, 1 << 30, &image) == DSM_ERR_CONFIG);
    DSM_CHECK(dsm_ckpt_image_open(dir, 1, 0x200000000000, 1 << 30, &image) == DSM_OK);
    DSM_CHECK(image->manifest.alloc_count == 2 && image->manifest.allocs[1].base == 3);
    for (uint64_t g = 0; g < PAGES; g++) {
        memset(page, 0, sizeof(page));
        DSM_CHECK(dsm_ckpt_image_page_read(image, g, page) == DSM_OK);
        DSM_CHECK(page[0] == (g == 2 ? 0 : (char)('a' + g)) && page[4095] == page[0]);
    }
    dsm_ckpt_image_close(image);
    /* One flipped byte of page 4's data: its checksum catches it. */
    snprintf(page, sizeof(page), "%s/node0.img", dir);
    int fd = open(page, O_RDWR);
    DSM_CHECK(fd >= 0);
    DSM_CHECK(pwrite(fd, "z", 1, lseek(fd, 0, SEEK_END) - 100) == 1);
    close(fd);
    DSM_CHECK(dsm_ckpt_image_open(dir, 1, 0x200000000000, 1 << 30, &image) == DSM_OK);
    DSM_CHECK(dsm_ckpt_image_page_read(image, 4, page) == DSM_ERR_MALFORMED);
    dsm_ckpt_image_close(image);
    snprintf(page, sizeof(page), "rm -rf %s", base);
    DSM_CHECK(system(page) == 0);
    return DSM_TEST_PASS;
}

static const dsm_test_case_t cases[] = {
    { "crc32c", NULL, test_crc32c, 0 },
    { "roundtrip", NULL, test_roundtrip, 0 },
};

int main(int argc, char **argv)
{
    return dsm_test_main(argc, argv, cases, DSM_TEST_ARRAY_SIZE(cases));
}
