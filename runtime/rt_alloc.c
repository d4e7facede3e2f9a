/*
 * Collective allocations: the table of them (sorted by first page), and
 * dsm_alloc and dsm_free on the service thread.
 *
 * Every node runs the same allocations in the same order, so every node picks
 * the same range of the arena by itself (first fit). What must travel is each
 * node's backing segment key (address, length, rkey): every node sends its key
 * to every other node as an active message tagged with the allocation's
 * sequence number, and the allocation completes on a node once it holds all N
 * keys. This is an exchange, not a blocking collective: the service thread
 * keeps serving faults and messages meanwhile, so a node still working on the
 * previous phase (possibly waiting for a page from a node that is already
 * allocating) is never stuck behind it. A key that arrives before this node
 * has started the allocation waits in a list until it does.
 *
 * A node that cannot map its backing sends an empty key instead: every node
 * then sees the failure, and all roll the allocation back alike.
 *
 * A backing segment is the allocation's range of this node's landing mapping
 * (rt_arena.c), registered with the transport: a home serves its pages from
 * the memory it maps itself, allocated lazily, so a 64 GiB allocation costs
 * only the pages used. (UCX-allocated memory would make RMA over shared
 * memory faster, but UCX 1.13 populates a posix segment in full, fails sysv
 * segments beyond the shm limits, and leaves /dev/shm files behind when a node
 * is killed: see docs/design.md.)
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "dsm_rt.h"
#include "rt_ckpt.h"

/* The active message header: the allocation's sequence number, little-endian. */
#define DSM_RT_KEY_HEADER_SIZE 8u

static void dsm_rt_key_header_encode(uint64_t seq, uint8_t *bytes)
{
    dsm_le_put64(bytes, seq);
}

static uint64_t dsm_rt_key_header_decode(const uint8_t *bytes)
{
    return dsm_le_get64(bytes);
}

/* ---- the table -------------------------------------------------------------- */

/* Index of the first region whose end is beyond page (binary search). */
static size_t dsm_rt_region_lower_bound(const dsm_rt_t *rt, uint64_t page)
{
    size_t low = 0, high = rt->alloc.count;

    while (low < high) {
        size_t mid = low + (high - low) / 2;
        const dsm_rt_region_t *region = &rt->alloc.regions[mid];

        if (region->first_page + region->npages <= page) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    return low;
}

const dsm_rt_region_t *dsm_rt_region_find(const dsm_rt_t *rt, uint64_t page)
{
    size_t index = dsm_rt_region_lower_bound(rt, page);

    if (index < rt->alloc.count && rt->alloc.regions[index].first_page <= page) {
        return &rt->alloc.regions[index];
    }
    return NULL;
}

/*
 * First fit over the sorted table. Every node runs the same allocations in
 * the same order, so every node picks the same range without messages.
 */
static dsm_status_t dsm_rt_region_place(const dsm_rt_t *rt, uint64_t npages,
                                        uint64_t *first_p, size_t *index_p)
{
    uint64_t candidate = 0;

    for (size_t i = 0; i <= rt->alloc.count; i++) {
        uint64_t limit = i < rt->alloc.count ? rt->alloc.regions[i].first_page : rt->arena.pages;

        if (limit >= candidate && limit - candidate >= npages) {
            *first_p = candidate;
            *index_p = i;
            return DSM_OK;
        }
        if (i < rt->alloc.count) {
            candidate = rt->alloc.regions[i].first_page + rt->alloc.regions[i].npages;
        }
    }
    return DSM_ERR_NO_SPACE;
}

static dsm_status_t dsm_rt_region_insert(dsm_rt_t *rt, size_t index,
                                         const dsm_rt_region_t *region)
{
    if (rt->alloc.count == rt->alloc.capacity) {
        size_t capacity = rt->alloc.capacity ? 2 * rt->alloc.capacity : 16;
        dsm_rt_region_t *regions = realloc(rt->alloc.regions, capacity * sizeof(*regions));

        if (regions == NULL) {
            return DSM_ERR_NO_MEMORY;
        }
        rt->alloc.regions = regions;
        rt->alloc.capacity = capacity;
    }
    memmove(&rt->alloc.regions[index + 1], &rt->alloc.regions[index],
            (rt->alloc.count - index) * sizeof(*rt->alloc.regions));
    rt->alloc.regions[index] = *region;
    rt->alloc.count++;
    return DSM_OK;
}

static void dsm_rt_region_remove(dsm_rt_t *rt, size_t index)
{
    rt->alloc.count--;
    memmove(&rt->alloc.regions[index], &rt->alloc.regions[index + 1],
            (rt->alloc.count - index) * sizeof(*rt->alloc.regions));
}

/* The allocation with sequence number seq, or NULL. */
static dsm_rt_region_t *dsm_rt_region_by_seq(dsm_rt_t *rt, uint64_t seq)
{
    for (size_t i = 0; i < rt->alloc.count; i++) {
        if (rt->alloc.regions[i].seq == seq) {
            return &rt->alloc.regions[i];
        }
    }
    return NULL;
}

/* ---- backing segments --------------------------------------------------------- */

/*
 * This node's backing of an allocation is its own pages: the allocation's
 * range of the landing mapping, registered with the transport, so a remote
 * get reads (and a write-back's put writes) the page cache the home maps in
 * its arena. Nothing is allocated: a page exists once written or read.
 */
static dsm_status_t dsm_rt_backing_map(dsm_rt_t *rt, dsm_rt_region_t *region)
{
    return dsm_tp_mem_map(rt->tp, dsm_rt_page_landing(rt, region->first_page),
                          region->npages * DSM_RT_PAGE_SIZE, &region->backing);
}

static void dsm_rt_backing_unmap(dsm_rt_region_t *region)
{
    if (region->backing != NULL) {
        dsm_tp_mem_unmap(region->backing);
        region->backing = NULL;
    }
}

/* Everything an allocation holds; the region stays in the table. */
static void dsm_rt_region_release(dsm_rt_region_t *region)
{
    dsm_tp_rmem_free(region->rmem);
    region->rmem = NULL;
    dsm_rt_backing_unmap(region);
    dsm_rt_placement_chunks_free(&region->placement);
    dsm_rt_migratory_free(region);
    free(region->key);
    region->key = NULL;
}

/* ---- the key exchange ------------------------------------------------------------ */

/* Record node's key (size 0: node failed to make its segment). */
static void dsm_rt_key_record(dsm_rt_t *rt, dsm_rt_region_t *region, int node,
                              const void *key, size_t size)
{
    if (size == 0) {
        region->failed = 1;
    } else if (!region->failed && region->rmem != NULL &&
               dsm_tp_rmem_set(rt->tp, region->rmem, node, key, size) != DSM_OK) {
        region->failed = 1;
    }
    region->keys_missing--;
}

/* Complete the allocation's command once every node's key (or failure) is in. */
static void dsm_rt_region_try_complete(dsm_rt_t *rt, uint64_t seq)
{
    dsm_rt_region_t *region = dsm_rt_region_by_seq(rt, seq);
    dsm_rt_cmd_t *cmd;

    if (region == NULL || region->keys_missing > 0 || region->waiting == NULL) {
        return;
    }
    cmd = region->waiting;
    region->waiting = NULL;
    if (region->failed) {
        dsm_error("dsm_alloc(%" PRIu64 "): a node could not make its backing segment",
                  cmd->arg);
        dsm_rt_ckpt_region_removed(rt, region);
        dsm_rt_region_release(region);
        dsm_rt_region_remove(rt, (size_t)(region - rt->alloc.regions));
        dsm_rt_command_complete(cmd, DSM_ERR_NO_MEMORY);
        return;
    }
    cmd->result = (uint64_t)(uintptr_t)dsm_rt_page_address(rt, region->first_page);
    dsm_rt_command_complete(cmd, DSM_OK);
}

/* Keys that arrived before this node started their allocation. */
static void dsm_rt_key_stash(dsm_rt_t *rt, uint64_t seq, int node, const void *key,
                             size_t size)
{
    dsm_rt_early_key_t *early = malloc(sizeof(*early) + size);

    if (early == NULL) {
        dsm_rt_fatal(rt, DSM_ERR_NO_MEMORY, "out of memory keeping an allocation key");
    }
    early->seq = seq;
    early->node = node;
    early->size = size;
    memcpy(early->key, key, size);
    early->next = rt->alloc.early_keys;
    rt->alloc.early_keys = early;
}

static void dsm_rt_key_unstash(dsm_rt_t *rt, dsm_rt_region_t *region)
{
    dsm_rt_early_key_t **link = &rt->alloc.early_keys;

    while (*link != NULL) {
        dsm_rt_early_key_t *early = *link;

        if (early->seq == region->seq) {
            *link = early->next;
            dsm_rt_key_record(rt, region, early->node, early->key, early->size);
            free(early);
        } else {
            link = &early->next;
        }
    }
}

static void dsm_rt_key_am(void *arg, int src_node, const void *header, size_t header_len,
                          const void *data, size_t length)
{
    dsm_rt_t *rt = arg;
    dsm_rt_region_t *region;
    uint64_t seq;

    if (header_len != DSM_RT_KEY_HEADER_SIZE || src_node == rt->node) {
        rt->alloc.malformed++;
        dsm_warn("dropped a malformed allocation key from node %d", src_node);
        return;
    }
    seq = dsm_rt_key_header_decode(header);
    if (seq >= rt->alloc.seq) {
        dsm_rt_key_stash(rt, seq, src_node, data, length);
        return;
    }
    region = dsm_rt_region_by_seq(rt, seq);
    if (region == NULL || region->keys_missing == 0) {
        rt->alloc.malformed++;
        dsm_warn("dropped an allocation key from node %d for allocation %" PRIu64
                 " that is not being made", src_node, seq);
        return;
    }
    dsm_rt_key_record(rt, region, src_node, data, length);
    dsm_rt_region_try_complete(rt, seq);
}

/* Send this node's key (or an empty one after a failure) to every other node. */
static void dsm_rt_key_publish(dsm_rt_t *rt, dsm_rt_region_t *region)
{
    uint8_t header[DSM_RT_KEY_HEADER_SIZE];

    dsm_rt_key_header_encode(region->seq, header);
    for (int node = 0; node < rt->nnodes; node++) {
        dsm_status_t status;

        if (node == rt->node) {
            continue;
        }
        /* region->key stays valid until the allocation is freed, long after
         * the sends complete. */
        status = dsm_tp_am_send(rt->tp, node, DSM_RT_AM_REGION, header, sizeof(header),
                                region->key, region->key_size, NULL, NULL);
        if (status != DSM_OK && status != DSM_INPROGRESS) {
            dsm_rt_fatal(rt, status,
                         "sending an allocation key to node %d failed: %s", node,
                         dsm_strerror(status));
        }
    }
}

/* Map the backing and describe it; on failure the region is marked failed. */
static void dsm_rt_region_prepare(dsm_rt_t *rt, dsm_rt_region_t *region)
{
    if (dsm_rt_placement_chunks_make(&region->placement) != DSM_OK ||
        dsm_rt_migratory_make(region) != DSM_OK ||
        dsm_rt_backing_map(rt, region) != DSM_OK ||
        dsm_tp_rmem_create(rt->tp, &region->rmem) != DSM_OK ||
        dsm_tp_mem_pack(rt->tp, region->backing, &region->key, &region->key_size) != DSM_OK ||
        dsm_tp_rmem_set(rt->tp, region->rmem, rt->node, region->key, region->key_size) !=
            DSM_OK) {
        region->failed = 1;
        region->key_size = 0; /* tells the others */
    }
}

void dsm_rt_region_alloc_start(dsm_rt_t *rt, dsm_rt_cmd_t *cmd)
{
    /* Rounded up without adding PAGE_SIZE - 1 first: that wraps to 0 pages for
     * the largest sizes, and first fit would accept the empty range. */
    uint64_t npages = cmd->arg / DSM_RT_PAGE_SIZE + (cmd->arg % DSM_RT_PAGE_SIZE != 0);
    dsm_rt_region_t region = { .seq = rt->alloc.seq };
    size_t index;
    dsm_status_t status;

    if (cmd->arg == 0) {
        dsm_rt_command_complete(cmd, DSM_ERR_INVALID_PARAM);
        return;
    }
    status = dsm_rt_region_place(rt, npages, &region.first_page, &index);
    if (status != DSM_OK) {
        /* Every node reaches the same verdict: nothing to exchange. */
        dsm_debug("dsm_alloc(%" PRIu64 "): no free range of %" PRIu64 " pages in the arena",
                  cmd->arg, npages);
        dsm_rt_command_complete(cmd, status);
        return;
    }
    region.npages = npages;
    region.placement = (dsm_rt_placement_t){ rt->config.placement, region.first_page, npages,
                                             rt->nnodes, NULL };
    region.keys_missing = (unsigned)rt->nnodes - 1;
    region.waiting = cmd;
    dsm_rt_region_prepare(rt, &region);
    /* In the table (and so known to the engine) before any peer can hold our
     * key and ask for one of its pages. */
    if (dsm_rt_region_insert(rt, index, &region) != DSM_OK) {
        dsm_rt_fatal(rt, DSM_ERR_NO_MEMORY, "out of memory for the allocation table");
    }
    rt->alloc.seq++;
    /* Restart: its contents come from the image; before the key leaves, so
     * before any request for one of its pages can arrive. */
    dsm_rt_ckpt_region_added(rt, &rt->alloc.regions[index]);
    dsm_rt_key_publish(rt, &rt->alloc.regions[index]);
    dsm_rt_key_unstash(rt, &rt->alloc.regions[index]);
    dsm_rt_region_try_complete(rt, region.seq);
}

const dsm_rt_region_t *dsm_rt_region_at(const dsm_rt_t *rt, uint64_t address)
{
    uint64_t page;
    size_t index;

    if (address < rt->arena.base || (address - rt->arena.base) % DSM_RT_PAGE_SIZE != 0 ||
        (page = (address - rt->arena.base) / DSM_RT_PAGE_SIZE) >= rt->arena.pages) {
        return NULL;
    }
    index = dsm_rt_region_lower_bound(rt, page);
    if (index >= rt->alloc.count || rt->alloc.regions[index].first_page != page) {
        return NULL;
    }
    return &rt->alloc.regions[index];
}

dsm_status_t dsm_rt_region_release_freed(dsm_rt_t *rt, uint64_t address)
{
    const dsm_rt_region_t *region = dsm_rt_region_at(rt, address);
    size_t index;
    uint64_t first_page, npages;
    dsm_status_t status;

    if (region == NULL) {
        return DSM_ERR_INVALID_PARAM;
    }
    index = (size_t)(region - rt->alloc.regions);
    first_page = region->first_page;
    npages = region->npages;
    dsm_rt_ckpt_region_removed(rt, region); /* restart: the loader leaves it alone */
    dsm_rt_region_release(&rt->alloc.regions[index]);
    dsm_rt_region_remove(rt, index);
    status = dsm_rt_arena_release(rt, first_page, npages);
    if (status != DSM_OK) { /* the next allocation there would see this one's data */
        dsm_rt_fatal(rt, status, "dsm_free could not release the allocation's pages");
    }
    return DSM_OK;
}

void dsm_rt_alloc_fini(dsm_rt_t *rt)
{
    for (size_t i = 0; i < rt->alloc.count; i++) {
        dsm_rt_region_release(&rt->alloc.regions[i]);
    }
    free(rt->alloc.regions);
    rt->alloc.regions = NULL;
    rt->alloc.count = rt->alloc.capacity = 0;
    while (rt->alloc.early_keys != NULL) {
        dsm_rt_early_key_t *early = rt->alloc.early_keys;

        rt->alloc.early_keys = early->next;
        free(early);
    }
}

dsm_status_t dsm_rt_alloc_init(dsm_rt_t *rt)
{
    return dsm_tp_am_register(rt->tp, DSM_RT_AM_REGION, dsm_rt_key_am, rt);
}

void dsm_rt_alloc_stats(const dsm_rt_t *rt, dsm_stats_t *stats_p)
{
    stats_p->malformed_messages += rt->alloc.malformed;
}
