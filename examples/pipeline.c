/*
 * pipeline: the nodes are the stages of a pipeline over a stream of blocks,
 * synchronised point to point, with no barrier per block. Node 0 fills block
 * b; node k > 0 waits with dsm_wait_until_u64 until node k-1 has published
 * that it finished block b, applies its stage to the block and publishes its
 * own progress. The stages do not commute, so the last node's check of every
 * block (against the same stages run serially) also checks their order.
 * Run: dsmrun -n 4 ./pipeline [blocks]
 */
#include <stdint.h>

#include "example_util.h"

#define WORDS 512 /* one 4 KiB page per block */

typedef struct {
    uint64_t done; /* blocks this node has finished */
    char     pad[4096 - sizeof(uint64_t)]; /* own page: waiting on it sees only this */
} progress_t;

static uint64_t first_stage(long block, int word)
{
    return (uint64_t)block * WORDS + (uint64_t)word;
}

static uint64_t stage(uint64_t value, int node)
{
    return value * 3 + (uint64_t)node;
}

int main(int argc, char **argv)
{
    long blocks = example_arg(argc, argv, 1, 256);
    int me, nodes, ok = 1;
    uint64_t (*data)[WORDS];
    progress_t *progress;

    CHECK_DSM(dsm_init(NULL));
    me = dsm_node_id();
    nodes = dsm_num_nodes();
    data = example_alloc((size_t)blocks * sizeof(*data));
    progress = example_alloc((size_t)nodes * sizeof(*progress));
    CHECK_DSM(dsm_barrier()); /* every node has the allocations: the stream starts */
    for (long b = 0; b < blocks; b++) {
        if (me > 0) {
            CHECK_DSM(dsm_wait_until_u64(&progress[me - 1].done, DSM_CMP_GT, (uint64_t)b));
        }
        for (int w = 0; w < WORDS; w++) {
            data[b][w] = me == 0 ? first_stage(b, w) : stage(data[b][w], me);
        }
        /* Release: the block's stores come before the flag that publishes it
         * (dsm keeps the order of stores; the compiler must keep it too). */
        __atomic_store_n(&progress[me].done, (uint64_t)b + 1, __ATOMIC_RELEASE);
    }
    if (me == nodes - 1) {
        for (long b = 0; b < blocks && ok; b++) {
            for (int w = 0; w < WORDS && ok; w++) {
                uint64_t expect = first_stage(b, w);

                for (int k = 1; k < nodes; k++) {
                    expect = stage(expect, k);
                }
                ok = data[b][w] == expect;
            }
        }
        printf("pipeline: %ld blocks through %d stages: %s\n", blocks, nodes,
               ok ? "every block right" : "WRONG");
    }
    CHECK_DSM(dsm_barrier());
    dsm_free(progress);
    dsm_free(data);
    CHECK_DSM(dsm_finalize());
    return !ok;
}
