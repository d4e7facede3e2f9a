/*
 * hello: every node writes its own slot of a shared array, a barrier, then
 * every node checks every slot. Exits 0 only if all slots are right.
 * Run: dsmrun -n 4 ./hello
 */
#include <stdint.h>

#include "example_util.h"

#define SLOT_WORDS 8

int main(void)
{
    int me, n, errors = 0;
    uint64_t *slots;

    CHECK_DSM(dsm_init(NULL));
    me = dsm_node_id();
    n = dsm_num_nodes();
    slots = example_alloc((size_t)n * SLOT_WORDS * sizeof(*slots));
    for (int w = 0; w < SLOT_WORDS; w++) {
        slots[me * SLOT_WORDS + w] = 1000u * (uint64_t)me + (uint64_t)w;
    }
    CHECK_DSM(dsm_barrier());
    for (int node = 0; node < n; node++) {
        for (int w = 0; w < SLOT_WORDS; w++) {
            errors += slots[node * SLOT_WORDS + w] != 1000u * (uint64_t)node + (uint64_t)w;
        }
    }
    printf("hello from node %d of %d: %s\n", me, n, errors ? "WRONG" : "all slots verified");
    dsm_free(slots);
    CHECK_DSM(dsm_finalize());
    return errors != 0;
}
