/*
 * counter: two shared counters incremented by every node, one under a dsm
 * lock (plain load and store), one with C11 atomic fetch-add on arena memory.
 * Both totals must be exact. Run: dsmrun -n 4 ./counter [increments]
 */
#include <stdatomic.h>
#include <stdint.h>

#include "example_util.h"

typedef struct {
    uint64_t          locked;
    char              pad[4096 - sizeof(uint64_t)]; /* own page: no false sharing */
    _Atomic uint64_t  atomic;
} counters_t;

int main(int argc, char **argv)
{
    long increments = example_arg(argc, argv, 1, 1000);
    counters_t *c;
    dsm_lock_t lock;
    uint64_t expect;
    int ok;

    CHECK_DSM(dsm_init(NULL));
    c = example_alloc(sizeof(*c));
    CHECK_DSM(dsm_lock_create(&lock));
    for (long i = 0; i < increments; i++) {
        CHECK_DSM(dsm_lock_acquire(lock));
        c->locked++;
        CHECK_DSM(dsm_lock_release(lock));
        atomic_fetch_add_explicit(&c->atomic, 1, memory_order_relaxed);
    }
    CHECK_DSM(dsm_barrier());
    expect = (uint64_t)increments * (uint64_t)dsm_num_nodes();
    ok = c->locked == expect && atomic_load(&c->atomic) == expect;
    printf("counter node %d: locked=%llu atomic=%llu expected=%llu: %s\n", dsm_node_id(),
           (unsigned long long)c->locked, (unsigned long long)atomic_load(&c->atomic),
           (unsigned long long)expect, ok ? "exact" : "WRONG");
    dsm_free(c);
    CHECK_DSM(dsm_finalize());
    return !ok;
}
