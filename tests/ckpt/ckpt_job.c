/*
 * One node of the checkpoint tests (ckpt_restart.sh runs it under dsmrun;
 * public API only). Two allocations; node n writes the n-th block of pages of
 * the first, and the 64 KiB chunks c of the second with c % N == (n + 1) % N,
 * so at the cut most pages are Modified away from their home (cyclic placement
 * deals the arena's chunks, and both allocations start on a chunk boundary).
 * Every node then reads the second allocation, so its pages are Shared at the
 * cut (saved by their homes from the backing, not by their last writer). The
 * third ("late") is first written after the second cut, chunk by chunk like
 * the second: the image holds zeros for it, and under first-touch placement
 * its chunks have no home at the cut and get one while the image is written.
 *
 *   ckpt_job write DIR   values of generation 1, checkpoint, generation 2
 *                        written at once (while the image is written), wait;
 *                        again: checkpoint (the pages written since the first
 *                        cut are protected again), generation 3 at once,
 *                        wait; print "committed", then the last node kills
 *                        itself
 *   ckpt_job crash DIR   as write, then generation 4 and a third checkpoint,
 *                        and node 0 kills itself before waiting for it
 *   ckpt_job verify DIR  (restarted) every word holds generation 2
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
static const size_t sizes[] = { 16u << 20, (1u << 20) + PAGE, 4u * 4u * CHUNK };
#define NALLOCS (sizeof(sizes) / sizeof(sizes[0]))
#define LATE 2u /* first written in generation 3 */

static uint64_t value(size_t alloc, size_t word, uint64_t gen)
{
    if (alloc == LATE && gen < 3) {
        return 0; /* not written yet */
    }
    return ((uint64_t)alloc << 56) ^ (word * UINT64_C(0x9E3779B97F4A7C15)) ^ gen;
}

/* The first allocation in one block of pages per node (a write fault after
 * the cut saves and unprotects the pages after it at once), the others chunk
 * by chunk in turn. */
static int mine(size_t alloc, size_t word, int node, int nnodes)
{
    size_t page = word * sizeof(uint64_t) / PAGE, pages = sizes[alloc] / PAGE;

    if (alloc == 0) {
        return page * (size_t)nnodes / pages == (size_t)node;
    }
    return (word * sizeof(uint64_t) / CHUNK) % (size_t)nnodes == (size_t)((node + 1) % nnodes);
}

/* Last word first: the writer thread saves from the first page on, so
 * after a cut these writes reach pages it has not saved yet. */
static void fill(uint64_t *allocs[], uint64_t gen)
{
    for (size_t a = NALLOCS; a-- > 0;) {
        for (size_t w = sizes[a] / sizeof(uint64_t); w-- > 0;) {
            if (mine(a, w, dsm_node_id(), dsm_num_nodes()) && (a != LATE || gen >= 3)) {
                allocs[a][w] = value(a, w, gen);
            }
        }
    }
}

static int check_one(uint64_t *allocs[], size_t a, uint64_t gen)
{
    for (size_t w = 0; w < sizes[a] / sizeof(uint64_t); w++) {
        uint64_t want = value(a, w, gen);

        if (allocs[a][w] != want) {
            fprintf(stderr, "node %d: allocation %zu word %zu is %#llx, expected %#llx\n",
                    dsm_node_id(), a, w, (unsigned long long)allocs[a][w],
                    (unsigned long long)want);
            return 1;
        }
    }
    return 0;
}

static int check(uint64_t *allocs[], uint64_t gen)
{
    for (size_t a = 0; a < NALLOCS; a++) {
        if (check_one(allocs, a, gen)) {
            return 1;
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
        if (check(allocs, 2)) {
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
    for (uint64_t gen = 1; gen <= 2; gen++) {
        dsm_barrier();
        /* Every node reads the second allocation before the first cut: its
         * pages are Shared then (written back: the image takes them from
         * their homes' backing), and made writable again after it by the
         * protocol, not by a fault of the cut: the second cut must protect
         * them too. */
        if (gen == 1 && check_one(allocs, 1, gen)) {
            return 1;
        }
        dsm_barrier();
        if ((status = dsm_checkpoint(dir)) != DSM_OK) {
            return fail("dsm_checkpoint", status);
        }
        fill(allocs, gen + 1); /* each page is saved before this write proceeds */
        status = dsm_checkpoint_wait();
        if (!strcmp(mode, "nospace")) {
            printf("node %d: dsm_checkpoint_wait: %s\n", dsm_node_id(), dsm_strerror(status));
            dsm_finalize();
            return status != DSM_OK ? 0 : 1;
        }
        if (status != DSM_OK) {
            return fail("dsm_checkpoint_wait", status);
        }
    }
    /* (Not between the images: reading every page would make them Shared.) */
    dsm_barrier();
    if (check(allocs, 3) != 0) {
        return 1;
    }
    if (dsm_node_id() == 0) {
        printf("committed\n");
        fflush(stdout);
    }
    dsm_barrier();
    if (!strcmp(mode, "crash")) {
        fill(allocs, 4);
        if ((status = dsm_checkpoint(dir)) != DSM_OK) {
            return fail("dsm_checkpoint", status);
        }
        if (dsm_node_id() == 0) {
            raise(SIGKILL); /* while the second image is being written */
        }
        fill(allocs, 5);
        dsm_checkpoint_wait(); /* never returns: node 0 is gone */
        return 1;
    }
    if (dsm_node_id() == dsm_num_nodes() - 1) {
        raise(SIGKILL);
    }
    dsm_barrier(); /* the survivors stop here: a node was lost */
    return 1;
}
