/*
 * A dsm job that pauses while it holds everything a node shares with its
 * peers: arena pages written and fetched across nodes (RMA through the
 * staging buffer), messages both ways, every endpoint wired up. While it
 * waits, tp_exposure.sh looks at it from outside (its shared memory, files,
 * listening sockets) and as another user.
 *
 * With TP_EXPOSURE_DIR set, each node writes "rank pid" to the FIFO
 * $TP_EXPOSURE_DIR/ready and blocks opening $TP_EXPOSURE_DIR/go until the
 * script opens it for writing. Exits 0 when every page read back is right.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsm.h"

#define PAGES_PER_NODE 16
#define PAGE_WORDS     (4096 / sizeof(uint64_t))

/* Block until the script has looked (it opens go for writing when done). */
static int exposure_hold(int me)
{
    const char *dir = getenv("TP_EXPOSURE_DIR");
    char path[4096];
    FILE *ready;
    int go;

    if (dir == NULL) {
        return 0;
    }
    snprintf(path, sizeof(path), "%s/ready", dir);
    ready = fopen(path, "w");
    if (ready == NULL) {
        perror(path);
        return -1;
    }
    fprintf(ready, "%d %d\n", me, (int)getpid());
    fclose(ready);
    snprintf(path, sizeof(path), "%s/go", dir);
    go = open(path, O_RDONLY | O_CLOEXEC);
    if (go < 0) {
        perror(path);
        return -1;
    }
    close(go);
    return 0;
}

int main(void)
{
    int me, n, errors = 0;
    uint64_t *pages;
    size_t words;

    if (dsm_init(NULL) != DSM_OK) {
        return 1;
    }
    me    = dsm_node_id();
    n     = dsm_num_nodes();
    words = (size_t)n * PAGES_PER_NODE * PAGE_WORDS;
    pages = dsm_alloc(words * sizeof(*pages));
    if (pages == NULL) {
        return 1;
    }
    for (size_t w = (size_t)me * PAGES_PER_NODE * PAGE_WORDS;
         w < (size_t)(me + 1) * PAGES_PER_NODE * PAGE_WORDS; w++) {
        pages[w] = 0x5ec0de0000000000ull + w;
    }
    dsm_barrier();
    for (size_t w = 0; w < words; w++) {
        errors += pages[w] != 0x5ec0de0000000000ull + w;
    }
    dsm_barrier();
    if (exposure_hold(me) != 0) {
        return 1;
    }
    dsm_barrier();
    printf("node %d of %d: %s\n", me, n, errors ? "WRONG" : "all pages verified");
    dsm_free(pages);
    return dsm_finalize() != DSM_OK || errors != 0;
}
