/*
 * One node of the checkpoint tests (ckpt_restart.sh runs it under dsmrun;
 * public API only). Two allocations; node n writes the pages p of the 64 KiB
 * chunks c with c % N == (n + 1) % N, so at the cut most pages are Modified
 * away from their home (cyclic placement deals the arena's chunks, and both
 * allocations start on a chunk boundary), and the words of the others stay as
 * the home has them.
 *
 *   ckpt_job write DIR   values of generation 1, checkpoint, generation 2
 *                        written at once (while the image is written), wait,
 *                        print "committed", then the last node kills itself
 *   ckpt_job crash DIR   as write, then generation 3 and a second checkpoint,
 *                        and node 0 kills itself before waiting for it
 *   ckpt_job verify DIR  (restarted) every word holds generation 1
 *   ckpt_job nospace DIR the checkpoint must fail: print its error, exit 0
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsm.h"

#define PAGE 4096u
#define CHUNK (16u * PAGE)
static const size_t sizes[] = { 2u << 20, (1u << 20) + PAGE };
#define NALLOCS (sizeof(sizes) / sizeof(sizes[0]))

static uint64_t value(size_t alloc, size_t word, uint64_t gen)
{
    return ((uint64_t)alloc << 56) ^ (word * UINT64_C(0x9E3779B97F4A7C15)) ^ gen;
}

static int mine(size_t word, int node, int nnodes)
{
    return (word * sizeof(uint64_t) / CHUNK) % (size_t)nnodes == (size_t)((node + 1) % nnodes);
}

static void fill(uint64_t *allocs[], uint64_t gen)
{
    for (size_t a = 0; a < NALLOCS; a++) {
        for (size_t w = 0; w < sizes[a] / sizeof(uint64_t); w++) {
            if (mine(w, dsm_node_id(), dsm_num_nodes())) {
                allocs[a][w] = value(a, w, gen);
            }
        }
    }
}

static int check(uint64_t *allocs[], uint64_t gen)
{
    for (size_t a = 0; a < NALLOCS; a++) {
        for (size_t w = 0; w < sizes[a] / sizeof(uint64_t); w++) {
            uint64_t want = value(a, w, gen);

            if (allocs[a][w] != want) {
                fprintf(stderr, "node %d: allocation %zu word %zu is %#llx, expected %#llx\n",
                        dsm_node_id(), a, w, (unsigned long long)allocs[a][w],
                        (unsigned long long)want);
                return 1;
            }
        }
    }
    return 0;
}

static int fail(const char *what, dsm_status_t status)
{
    fprintf(stderr, "node %d: %s: %s\n", dsm_node_id(), what, dsm_strerror(status));
    return 1;
}

int main(int argc, char **argv)
{
    uint64_t *allocs[NALLOCS];
    const char *mode = argc > 2 ? argv[1] : "", *dir = argc > 2 ? argv[2] : "";
    dsm_status_t status;

    if ((status = dsm_init(NULL)) != DSM_OK) {
        return fail("dsm_init", status);
    }
    for (size_t a = 0; a < NALLOCS; a++) {
        if ((allocs[a] = dsm_alloc(sizes[a])) == NULL) {
            return fail("dsm_alloc", dsm_last_error());
        }
    }
    if (!strcmp(mode, "verify")) {
        if (!dsm_restarted()) {
            fprintf(stderr, "node %d: dsm_restarted() is 0\n", dsm_node_id());
            return 1;
        }
        if (check(allocs, 1)) {
            return 1;
        }
        dsm_barrier();
        printf("node %d verified\n", dsm_node_id());
        return dsm_finalize() == DSM_OK ? 0 : 1;
    }
    if (dsm_restarted()) {
        fprintf(stderr, "node %d: dsm_restarted() is 1 in a fresh job\n", dsm_node_id());
        return 1;
    }
    fill(allocs, 1);
    dsm_barrier();
    if ((status = dsm_checkpoint(dir)) != DSM_OK) {
        return fail("dsm_checkpoint", status);
    }
    fill(allocs, 2); /* each page is saved before this write proceeds */
    status = dsm_checkpoint_wait();
    if (!strcmp(mode, "nospace")) {
        printf("node %d: dsm_checkpoint_wait: %s\n", dsm_node_id(), dsm_strerror(status));
        dsm_finalize();
        return status != DSM_OK ? 0 : 1;
    }
    if (status != DSM_OK) {
        return fail("dsm_checkpoint_wait", status);
    }
    dsm_barrier();
    if (check(allocs, 2) == 0 && dsm_node_id() == 0) {
        printf("committed\n");
        fflush(stdout);
    }
    dsm_barrier();
    if (!strcmp(mode, "crash")) {
        fill(allocs, 3);
        if ((status = dsm_checkpoint(dir)) != DSM_OK) {
            return fail("dsm_checkpoint", status);
        }
        if (dsm_node_id() == 0) {
            raise(SIGKILL); /* while the second image is being written */
        }
        fill(allocs, 4);
        dsm_checkpoint_wait(); /* never returns: node 0 is gone */
        return 1;
    }
    if (dsm_node_id() == dsm_num_nodes() - 1) {
        raise(SIGKILL);
    }
    dsm_barrier(); /* the survivors stop here: a node was lost */
    return 1;
}
