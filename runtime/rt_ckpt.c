/*
 * Checkpoint and restart (docs/design.md §5, "Checkpoint and restart").
 *
 * The cut (service thread, between two barriers, engine quiescent): a page
 * Modified somewhere is saved by the node that holds it, from its arena; every
 * other page by its home, from its backing segment. Each allocation gets a
 * claim byte per page (calloc: the kernel zero-fills lazily, so the cost does
 * not follow the allocation's size); the only pages visited are the engine's
 * Modified entries: this node's own are marked OWNER, those homed here but
 * Modified elsewhere SKIP; then each allocation is write-protected (one ioctl).
 *
 * Copy-before-write: a page's data changes only after an engine input on it
 * at the node that saves it (a write fault, a request reaching the home that
 * will grant it, an invalidation of the owner), or after a write fault on an
 * OWNER page, which the engine never sees. So dsm_rt_ckpt_before_input saves
 * the page first if this node must and has not yet. The writer thread saves
 * the rest in the background. Writer and service thread meet on the claim
 * byte: whoever moves it to BUSY copies the page; the other waits for DONE.
 *
 * Restart: the k-th allocation of the new job takes the image's k-th
 * allocation if the sizes agree. The home of a page loads it into its backing
 * segment before the engine's first input on it (every copy elsewhere comes
 * from there), and a loader thread loads the rest; they meet on a state byte
 * per page as above.
 *
 * Threads: the claim and load bytes are atomics; the epoch is created and
 * freed by the service thread (commands CUT and END) while the writer is not
 * running; restore regions are added and removed by the service thread under
 * lock, which the loader holds while it loads a page into one of them.
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_ckpt.h"

/* A page's claim in the current image. */
enum {
    DSM_RT_CLAIM_PENDING = 0, /* this node saves it if it homes it          */
    DSM_RT_CLAIM_OWNER,       /* Modified here at the cut: saved from the arena */
    DSM_RT_CLAIM_SKIP,        /* homed here, Modified elsewhere: not ours    */
    DSM_RT_CLAIM_BUSY,        /* being copied                                */
    DSM_RT_CLAIM_DONE
};

/* A page's load state at restart. */
enum { DSM_RT_LOAD_NONE = 0, DSM_RT_LOAD_BUSY, DSM_RT_LOAD_DONE };

/* An allocation of the image being written. */
typedef struct {
    uint64_t           seq, first_page, npages;
    uint64_t           base;        /* image page of first_page         */
    dsm_rt_placement_t placement;
    char              *backing;     /* this node's segment               */
    _Atomic uint8_t   *claim;       /* per page                          */
} dsm_rt_ckpt_region_t;

/* One image being written: from the cut to dsm_checkpoint_wait. */
typedef struct {
    dsm_rt_t             *rt;
    int                   fd;
    uint64_t              total_pages;
    uint64_t             *index;       /* this node's entries, per image page */
    dsm_rt_ckpt_region_t *regions;     /* sorted by first_page               */
    size_t                count;
    _Atomic int           status;      /* first failure, DSM_OK while none    */
    pthread_t             writer;
    int                   writer_running; /* joinable; under ckpt->lock        */
} dsm_rt_ckpt_epoch_t;

/* An allocation of the new job that takes an image allocation's contents. */
typedef struct {
    uint64_t           first_page, npages, base;
    dsm_rt_placement_t placement;
    char              *backing;
    _Atomic uint8_t   *state;          /* per page: DSM_RT_LOAD_*           */
    uint64_t           cursor;         /* the loader's next page; under lock */
    int                live;           /* under lock                        */
} dsm_rt_restore_t;

typedef struct dsm_rt_ckpt {
    /* The image being taken (application thread, rt_api.c's order). */
    char                *dir;
    uint64_t             id;
    int                  pending;
    dsm_status_t         prepared;     /* the steps before the cut          */
    int                  fd;           /* this node's file until the cut    */
    dsm_ckpt_manifest_t  manifest;     /* node 0 commits it                 */
    dsm_rt_ckpt_epoch_t *epoch;        /* service thread: CUT to END        */

    /* Restart. */
    dsm_ckpt_image_t    *image;
    uint64_t             next_alloc;   /* image allocation the next dsm_alloc takes */
    pthread_mutex_t      lock;
    pthread_cond_t       changed;      /* a region to load, one loaded, stop */
    dsm_rt_restore_t   **restores;
    size_t               restore_count, restore_capacity;
    pthread_t            loader;
    int                  loader_running, stopping;
} dsm_rt_ckpt_t;

/* ---- where a page's data is ------------------------------------------------------ */

/*
 * The one place that says where this node reads a page it saves: the arena
 * (a page it holds Modified) or its backing segment (a page it homes).
 */
static const void *dsm_rt_ckpt_page_data(const dsm_rt_t *rt, const dsm_rt_ckpt_region_t *region,
                                         uint64_t page, int from_arena)
{
    if (from_arena) {
        return dsm_rt_page_address(rt, page);
    }
    return region->backing + (page - region->first_page) * DSM_RT_PAGE_SIZE;
}

static void dsm_rt_ckpt_fail(dsm_rt_ckpt_epoch_t *epoch, dsm_status_t status)
{
    int ok = DSM_OK;

    atomic_compare_exchange_strong(&epoch->status, &ok, (int)status);
}

/* ---- saving a page ------------------------------------------------------------------ */

static dsm_rt_ckpt_region_t *dsm_rt_ckpt_region_find(dsm_rt_ckpt_epoch_t *epoch, uint64_t page)
{
    size_t low = 0, high = epoch->count;

    while (low < high) {
        size_t mid = low + (high - low) / 2;
        dsm_rt_ckpt_region_t *region = &epoch->regions[mid];

        if (page < region->first_page) {
            high = mid;
        } else if (page >= region->first_page + region->npages) {
            low = mid + 1;
        } else {
            return region;
        }
    }
    return NULL;
}

/* Whether this node saves the page whose claim is claim. */
static int dsm_rt_ckpt_ours(const dsm_rt_t *rt, const dsm_rt_ckpt_region_t *region,
                            uint64_t page, uint8_t claim)
{
    return claim == DSM_RT_CLAIM_OWNER ||
           (claim == DSM_RT_CLAIM_PENDING &&
            dsm_rt_placement_home(&region->placement, page) == rt->node);
}

/* Save page if this node must and nobody has started: the caller that moves
 * its claim to BUSY copies it. Returns once the page is saved (by anyone). */
static void dsm_rt_ckpt_save(dsm_rt_ckpt_epoch_t *epoch, dsm_rt_ckpt_region_t *region,
                             uint64_t page)
{
    _Atomic uint8_t *claim = &region->claim[page - region->first_page];
    uint8_t seen = atomic_load_explicit(claim, memory_order_acquire);
    uint64_t g = region->base + (page - region->first_page);
    uint64_t entry;

    if (dsm_rt_ckpt_ours(epoch->rt, region, page, seen) &&
        atomic_compare_exchange_strong(claim, &seen, DSM_RT_CLAIM_BUSY)) {
        if (atomic_load(&epoch->status) == DSM_OK) {
            const void *data = dsm_rt_ckpt_page_data(epoch->rt, region, page,
                                                     seen == DSM_RT_CLAIM_OWNER);
            dsm_status_t status = dsm_ckpt_image_page_write(epoch->fd, epoch->total_pages, g,
                                                            data, &entry);

            if (status == DSM_OK) {
                epoch->index[g] = entry;
            } else {
                dsm_rt_ckpt_fail(epoch, status);
            }
        }
        /* release: the copy is complete before anyone sees DONE. */
        atomic_store_explicit(claim, DSM_RT_CLAIM_DONE, memory_order_release);
        return;
    }
    /* The other thread is copying it: the page must not change before it is done. */
    while (atomic_load_explicit(claim, memory_order_acquire) == DSM_RT_CLAIM_BUSY) {
        sched_yield();
    }
}

/* The writer: every page this node saves and no fault has saved yet, then
 * the index and header, fsync. */
static void *dsm_rt_ckpt_writer(void *arg)
{
    dsm_rt_ckpt_epoch_t *epoch = arg;
    const dsm_rt_t *rt = epoch->rt;

    for (size_t r = 0; r < epoch->count && atomic_load(&epoch->status) == DSM_OK; r++) {
        dsm_rt_ckpt_region_t *region = &epoch->regions[r];

        for (uint64_t page = region->first_page; page < region->first_page + region->npages;
             page++) {
            dsm_rt_ckpt_save(epoch, region, page);
        }
    }
    atomic_store(&epoch->status,
                 dsm_ckpt_image_node_finish(epoch->fd, epoch->index, epoch->total_pages,
                                            rt->node, rt->nnodes, rt->ckpt->id,
                                            atomic_load(&epoch->status)));
    epoch->fd = -1;
    return NULL;
}

/* ---- the cut (service thread) ------------------------------------------------------- */

static void dsm_rt_ckpt_epoch_free(dsm_rt_ckpt_epoch_t *epoch)
{
    if (epoch == NULL) {
        return;
    }
    for (size_t r = 0; r < epoch->count; r++) {
        free((void *)epoch->regions[r].claim);
    }
    free(epoch->regions);
    free(epoch->index);
    free(epoch);
}

/* The live allocations, numbered in image order (allocation order). */
static dsm_status_t dsm_rt_ckpt_regions_take(dsm_rt_t *rt, dsm_rt_ckpt_epoch_t *epoch)
{
    dsm_rt_ckpt_t *ckpt = rt->ckpt;
    size_t count = rt->alloc.count;

    epoch->regions = calloc(count ? count : 1, sizeof(*epoch->regions));
    ckpt->manifest.allocs = calloc(count ? count : 1, sizeof(dsm_ckpt_alloc_t));
    if (epoch->regions == NULL || ckpt->manifest.allocs == NULL) {
        return DSM_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < count; i++) {
        const dsm_rt_region_t *region = &rt->alloc.regions[i];

        epoch->regions[i] = (dsm_rt_ckpt_region_t){
            .seq = region->seq, .first_page = region->first_page, .npages = region->npages,
            .placement = region->placement, .backing = dsm_tp_mem_address(region->backing),
            .claim = calloc(region->npages, 1),
        };
        epoch->count++;
        if (epoch->regions[i].claim == NULL) {
            return DSM_ERR_NO_MEMORY;
        }
    }
    /* Image order: by sequence number (the table is by address). */
    for (size_t done = 0; done < count; done++) {
        dsm_rt_ckpt_region_t *next = NULL;

        for (size_t i = 0; i < count; i++) {
            dsm_rt_ckpt_region_t *region = &epoch->regions[i];

            if (region->seq >= (done ? ckpt->manifest.allocs[done - 1].seq + 1 : 0) &&
                (next == NULL || region->seq < next->seq)) {
                next = region;
            }
        }
        next->base = epoch->total_pages;
        ckpt->manifest.allocs[done] = (dsm_ckpt_alloc_t){ next->seq, next->npages, next->base };
        epoch->total_pages += next->npages;
    }
    ckpt->manifest.alloc_count = count;
    ckpt->manifest.total_pages = epoch->total_pages;
    return DSM_OK;
}

/* The engine's Modified entries: this node's own are saved from its arena,
 * those homed here and Modified elsewhere by their owner. */
static void dsm_rt_ckpt_mark(void *arg, uint64_t page, bool here)
{
    dsm_rt_ckpt_epoch_t *epoch = arg;
    dsm_rt_ckpt_region_t *region = dsm_rt_ckpt_region_find(epoch, page);

    if (region != NULL) {
        atomic_store(&region->claim[page - region->first_page],
                     here ? DSM_RT_CLAIM_OWNER : DSM_RT_CLAIM_SKIP);
    }
}

/*
 * Write-protect every allocation, one ioctl each: only the pages Modified
 * here were writable, and the kernel visits present pages only, so this
 * costs what protecting those pages one run at a time would, without
 * collecting and sorting them (pages held read-only stay so; absent pages
 * are installed later as the engine says).
 */
static dsm_status_t dsm_rt_ckpt_protect(dsm_rt_t *rt, const dsm_rt_ckpt_epoch_t *epoch)
{
    for (size_t r = 0; r < epoch->count; r++) {
        const dsm_rt_ckpt_region_t *region = &epoch->regions[r];
        dsm_status_t status = dsm_uffd_wp_set(&rt->uffd,
                                              dsm_rt_page_address(rt, region->first_page),
                                              region->npages * DSM_RT_PAGE_SIZE);

        if (status != DSM_OK) {
            dsm_error("checkpoint: write-protecting allocation %" PRIu64 " failed: %s",
                      region->seq, dsm_strerror(status));
            return status;
        }
    }
    return DSM_OK;
}

static dsm_status_t dsm_rt_ckpt_cut(dsm_rt_t *rt)
{
    dsm_rt_ckpt_t *ckpt = rt->ckpt;
    dsm_rt_ckpt_epoch_t *epoch = calloc(1, sizeof(*epoch));
    dsm_status_t status;

    if (epoch == NULL) {
        return DSM_ERR_NO_MEMORY;
    }
    epoch->rt = rt;
    epoch->fd = ckpt->fd;
    if ((status = dsm_rt_ckpt_regions_take(rt, epoch)) != DSM_OK) {
        goto err;
    }
    epoch->index = calloc(epoch->total_pages ? epoch->total_pages : 1, sizeof(uint64_t));
    if (epoch->index == NULL) {
        status = DSM_ERR_NO_MEMORY;
        goto err;
    }
    dsm_coh_engine_modified_foreach(rt->pages.coh, dsm_rt_ckpt_mark, epoch);
    if ((status = dsm_rt_ckpt_protect(rt, epoch)) != DSM_OK) {
        goto err;
    }
    if (pthread_create(&epoch->writer, NULL, dsm_rt_ckpt_writer, epoch) != 0) {
        dsm_error("checkpoint: cannot start the writer thread");
        status = DSM_ERR_NO_MEMORY;
        goto err;
    }
    epoch->writer_running = 1;
    ckpt->fd = -1; /* the writer's now */
    ckpt->epoch = epoch;
    return DSM_OK;

err:
    /* Pages already protected fault once and are let go (dsm_rt_ckpt_before_input). */
    epoch->fd = -1;
    dsm_rt_ckpt_epoch_free(epoch);
    return status;
}

void dsm_rt_ckpt_command(dsm_rt_t *rt, dsm_rt_cmd_t *cmd)
{
    dsm_rt_ckpt_t *ckpt = rt->ckpt;
    dsm_status_t status = DSM_OK;

    if (cmd->arg == DSM_RT_CKPT_CUT) {
        status = ckpt->fd >= 0 ? dsm_rt_ckpt_cut(rt) : ckpt->prepared;
    } else {
        /* The writer was joined: nothing reads the epoch any more. */
        dsm_rt_ckpt_epoch_free(ckpt->epoch);
        ckpt->epoch = NULL;
    }
    dsm_rt_command_complete(cmd, status);
}

/* ---- restart: loading pages ------------------------------------------------------------ */

static void dsm_rt_restore_load(dsm_rt_t *rt, dsm_rt_restore_t *restore, uint64_t page)
{
    _Atomic uint8_t *state = &restore->state[page - restore->first_page];
    uint8_t seen = DSM_RT_LOAD_NONE;

    if (atomic_load_explicit(state, memory_order_acquire) == DSM_RT_LOAD_DONE) {
        return;
    }
    if (atomic_compare_exchange_strong(state, &seen, DSM_RT_LOAD_BUSY)) {
        char *dst = restore->backing + (page - restore->first_page) * DSM_RT_PAGE_SIZE;
        dsm_status_t status = dsm_ckpt_image_page_read(rt->ckpt->image,
                                                       restore->base + (page - restore->first_page),
                                                       dst);

        if (status != DSM_OK) {
            dsm_rt_fatal(rt, status, "restart: page %" PRIu64 " cannot be loaded from the image",
                         page);
        }
        /* release: the data is in before anyone sees DONE. */
        atomic_store_explicit(state, DSM_RT_LOAD_DONE, memory_order_release);
        return;
    }
    while (atomic_load_explicit(state, memory_order_acquire) != DSM_RT_LOAD_DONE) {
        sched_yield();
    }
}

/* Service thread: only it changes the list, so it reads it without the lock. */
static dsm_rt_restore_t *dsm_rt_restore_find(const dsm_rt_ckpt_t *ckpt, uint64_t page)
{
    for (size_t i = 0; i < ckpt->restore_count; i++) {
        dsm_rt_restore_t *restore = ckpt->restores[i];

        if (restore->live && page >= restore->first_page &&
            page < restore->first_page + restore->npages) {
            return restore;
        }
    }
    return NULL;
}

/* The next page the loader should load, with the lock held; NULL: none. */
static dsm_rt_restore_t *dsm_rt_restore_next(dsm_rt_ckpt_t *ckpt)
{
    for (size_t i = 0; i < ckpt->restore_count; i++) {
        dsm_rt_restore_t *restore = ckpt->restores[i];

        if (restore->live && restore->cursor < restore->npages) {
            return restore;
        }
    }
    return NULL;
}

/* The background stream: every page this node homes in every restored
 * allocation, in order, until all are loaded or the runtime stops. */
static void *dsm_rt_restore_loader(void *arg)
{
    dsm_rt_t *rt = arg;
    dsm_rt_ckpt_t *ckpt = rt->ckpt;

    pthread_mutex_lock(&ckpt->lock);
    for (;;) {
        dsm_rt_restore_t *restore;
        uint64_t page;

        while (!ckpt->stopping && (restore = dsm_rt_restore_next(ckpt)) == NULL) {
            pthread_cond_wait(&ckpt->changed, &ckpt->lock);
        }
        if (ckpt->stopping) {
            break;
        }
        /* Under the lock: the allocation cannot be freed meanwhile. */
        page = restore->first_page + restore->cursor;
        if (dsm_rt_placement_home(&restore->placement, page) == rt->node) {
            dsm_rt_restore_load(rt, restore, page);
        }
        if (++restore->cursor == restore->npages) {
            pthread_cond_broadcast(&ckpt->changed);
        }
    }
    pthread_mutex_unlock(&ckpt->lock);
    return NULL;
}

/* Application thread: until every restored allocation is loaded (a
 * checkpoint reads the backing segments). */
static void dsm_rt_restore_wait(dsm_rt_ckpt_t *ckpt)
{
    pthread_mutex_lock(&ckpt->lock);
    while (dsm_rt_restore_next(ckpt) != NULL) {
        pthread_cond_wait(&ckpt->changed, &ckpt->lock);
    }
    pthread_mutex_unlock(&ckpt->lock);
}

void dsm_rt_ckpt_region_added(dsm_rt_t *rt, const dsm_rt_region_t *region)
{
    dsm_rt_ckpt_t *ckpt = rt->ckpt;
    const dsm_ckpt_alloc_t *saved;
    dsm_rt_restore_t *restore;

    if (ckpt->image == NULL || ckpt->next_alloc >= ckpt->image->manifest.alloc_count ||
        region->backing == NULL) {
        return;
    }
    saved = &ckpt->image->manifest.allocs[ckpt->next_alloc++];
    if (saved->npages != region->npages) {
        dsm_warn("restart: allocation %" PRIu64 " has %" PRIu64 " pages, the image's has %"
                 PRIu64 ": it starts zero-filled", ckpt->next_alloc - 1, region->npages,
                 saved->npages);
        return;
    }
    restore = calloc(1, sizeof(*restore));
    if (restore == NULL || (restore->state = calloc(region->npages, 1)) == NULL) {
        dsm_rt_fatal(rt, DSM_ERR_NO_MEMORY, "restart: out of memory for an allocation's state");
    }
    *restore = (dsm_rt_restore_t){ .first_page = region->first_page, .npages = region->npages,
                                   .base = saved->base, .placement = region->placement,
                                   .backing = dsm_tp_mem_address(region->backing),
                                   .state = restore->state, .live = 1 };
    pthread_mutex_lock(&ckpt->lock);
    if (ckpt->restore_count == ckpt->restore_capacity) {
        size_t capacity = ckpt->restore_capacity ? 2 * ckpt->restore_capacity : 8;
        dsm_rt_restore_t **grown = realloc(ckpt->restores, capacity * sizeof(*grown));

        if (grown == NULL) {
            dsm_rt_fatal(rt, DSM_ERR_NO_MEMORY, "restart: out of memory for an allocation");
        }
        ckpt->restores = grown;
        ckpt->restore_capacity = capacity;
    }
    ckpt->restores[ckpt->restore_count++] = restore;
    pthread_cond_broadcast(&ckpt->changed);
    pthread_mutex_unlock(&ckpt->lock);
}

void dsm_rt_ckpt_region_removed(dsm_rt_t *rt, const dsm_rt_region_t *region)
{
    dsm_rt_ckpt_t *ckpt = rt->ckpt;
    dsm_rt_restore_t *restore = dsm_rt_restore_find(ckpt, region->first_page);

    if (restore == NULL) {
        return;
    }
    pthread_mutex_lock(&ckpt->lock);
    restore->live = 0;
    pthread_cond_broadcast(&ckpt->changed);
    pthread_mutex_unlock(&ckpt->lock);
}

/* ---- the hook before every engine input ---------------------------------------------- */

int dsm_rt_ckpt_before_input(dsm_rt_t *rt, uint64_t page, int wp_fault,
                             dsm_coh_node_state_t state)
{
    dsm_rt_ckpt_t *ckpt = rt->ckpt;
    dsm_rt_ckpt_region_t *region;
    dsm_rt_restore_t *restore;
    dsm_status_t status;

    if (ckpt->epoch != NULL && (region = dsm_rt_ckpt_region_find(ckpt->epoch, page)) != NULL) {
        dsm_rt_ckpt_save(ckpt->epoch, region, page);
    }
    if (ckpt->restore_count != 0 && (restore = dsm_rt_restore_find(ckpt, page)) != NULL &&
        dsm_rt_placement_home(&restore->placement, page) == rt->node) {
        dsm_rt_restore_load(rt, restore, page);
    }
    if (!wp_fault || state != DSM_COH_N_M) {
        return 0;
    }
    /* The engine holds the page writable: the protection is the cut's, and
     * the page is saved (above, or by the writer). Lifting it wakes the writer. */
    status = dsm_uffd_wp_clear(&rt->uffd, dsm_rt_page_address(rt, page), DSM_RT_PAGE_SIZE, 0);
    if (status != DSM_OK) {
        dsm_rt_fatal(rt, status, "checkpoint: lifting the write protection of page %" PRIu64
                     " failed: %s", page, dsm_strerror(status));
    }
    return 1;
}

/* ---- the steps of dsm_checkpoint and dsm_checkpoint_wait -------------------------------- */

/*
 * A restarted job loads each page at its home, found by placement
 * arithmetic. First-touch homes are decided at run time, by whichever node
 * touches a chunk first, and differ from one job to the next: checkpoint and
 * restart are refused under first touch, on every node alike (the
 * configuration is the same everywhere).
 */
static dsm_status_t dsm_rt_ckpt_placement_check(const dsm_rt_t *rt, const char *what)
{
    if (rt->config.placement == DSM_PLACEMENT_FIRST_TOUCH) {
        dsm_error("%s needs DSM_PLACEMENT=cyclic or blocked: first-touch homes are decided "
                  "at run time and are not in the image", what);
        return DSM_ERR_CONFIG;
    }
    return DSM_OK;
}

dsm_status_t dsm_rt_ckpt_prepare(dsm_rt_t *rt, const char *dir)
{
    dsm_rt_ckpt_t *ckpt = rt->ckpt;
    dsm_status_t status = dsm_rt_ckpt_placement_check(rt, "dsm_checkpoint");

    if (status != DSM_OK) {
        return status;
    }
    dsm_rt_restore_wait(ckpt);
    ckpt->pending = 1;
    ckpt->id = 0;
    ckpt->prepared = DSM_OK;
    dsm_ckpt_manifest_free(&ckpt->manifest);
    free(ckpt->dir);
    ckpt->dir = strdup(dir);
    if (ckpt->dir == NULL) {
        ckpt->prepared = DSM_ERR_NO_MEMORY;
    } else if (rt->node == 0) {
        ckpt->prepared = dsm_ckpt_image_prepare(dir, &ckpt->id);
    }
    return ckpt->prepared;
}

dsm_status_t dsm_rt_ckpt_open(dsm_rt_t *rt)
{
    dsm_rt_ckpt_t *ckpt = rt->ckpt;
    uint64_t total_pages = 0;

    if (ckpt->prepared != DSM_OK) {
        return ckpt->prepared;
    }
    if (rt->node != 0) {
        ckpt->prepared = dsm_ckpt_image_id_read(ckpt->dir, &ckpt->id);
    }
    /* The file's size is set now and its index written at the end: the
     * allocations cannot change in between (dsm_checkpoint is collective). */
    for (size_t i = 0; i < rt->alloc.count; i++) {
        total_pages += rt->alloc.regions[i].npages;
    }
    if (ckpt->prepared == DSM_OK) {
        ckpt->prepared = dsm_ckpt_image_node_create(ckpt->dir, rt->node, total_pages,
                                                    &ckpt->fd);
    }
    ckpt->manifest.id = ckpt->id;
    ckpt->manifest.nnodes = (uint32_t)rt->nnodes;
    ckpt->manifest.arena_address = rt->config.arena_address;
    ckpt->manifest.arena_size = rt->config.arena_size;
    return ckpt->prepared;
}

int dsm_rt_ckpt_pending(const dsm_rt_t *rt)
{
    return rt->ckpt->pending;
}

void dsm_rt_ckpt_writer_join(dsm_rt_t *rt)
{
    dsm_rt_ckpt_t *ckpt = rt->ckpt;

    pthread_mutex_lock(&ckpt->lock);
    if (ckpt->epoch != NULL && ckpt->epoch->writer_running) {
        pthread_join(ckpt->epoch->writer, NULL);
        ckpt->epoch->writer_running = 0;
    }
    pthread_mutex_unlock(&ckpt->lock);
}

dsm_status_t dsm_rt_ckpt_finish(dsm_rt_t *rt)
{
    dsm_rt_ckpt_t *ckpt = rt->ckpt;
    dsm_rt_cmd_t cmd = { .type = DSM_RT_CMD_CKPT, .arg = DSM_RT_CKPT_END };
    dsm_status_t status;

    if (ckpt->epoch == NULL) {
        return ckpt->prepared != DSM_OK ? ckpt->prepared : DSM_ERR_STATE;
    }
    dsm_rt_ckpt_writer_join(rt);
    status = (dsm_status_t)atomic_load(&ckpt->epoch->status);
    dsm_rt_command(rt, &cmd);
    return status;
}

dsm_status_t dsm_rt_ckpt_commit(dsm_rt_t *rt)
{
    dsm_rt_ckpt_t *ckpt = rt->ckpt;

    if (rt->node != 0) {
        return DSM_OK;
    }
    if (ckpt->prepared != DSM_OK) {
        return ckpt->prepared;
    }
    return dsm_ckpt_image_commit(ckpt->dir, &ckpt->manifest);
}

dsm_status_t dsm_rt_ckpt_result(dsm_rt_t *rt, dsm_status_t local, dsm_status_t commit)
{
    dsm_rt_ckpt_t *ckpt = rt->ckpt;
    dsm_status_t status = local != DSM_OK ? local : commit;

    if (status == DSM_OK && rt->node != 0 && dsm_ckpt_image_committed_id(ckpt->dir) != ckpt->id) {
        dsm_error("checkpoint into %s was not committed (node 0's log says why)", ckpt->dir);
        status = DSM_ERR_IO;
    }
    ckpt->pending = 0;
    return status;
}

/* ---- life cycle ------------------------------------------------------------------------- */

int dsm_rt_ckpt_restarted(const dsm_rt_t *rt)
{
    return rt->ckpt->image != NULL;
}

dsm_status_t dsm_rt_ckpt_init(dsm_rt_t *rt)
{
    dsm_rt_ckpt_t *ckpt = calloc(1, sizeof(*ckpt));
    dsm_status_t status;

    if (ckpt == NULL) {
        return DSM_ERR_NO_MEMORY;
    }
    ckpt->fd = -1;
    pthread_mutex_init(&ckpt->lock, NULL);
    pthread_cond_init(&ckpt->changed, NULL);
    rt->ckpt = ckpt;
    if (rt->config.restart_dir == NULL) {
        return DSM_OK;
    }
    status = dsm_rt_ckpt_placement_check(rt, "a restart (DSM_RESTART)");
    if (status != DSM_OK) {
        return status;
    }
    status = dsm_ckpt_image_open(rt->config.restart_dir, rt->nnodes, rt->config.arena_address,
                                 rt->config.arena_size, &ckpt->image);
    if (status != DSM_OK) {
        return status;
    }
    if (pthread_create(&ckpt->loader, NULL, dsm_rt_restore_loader, rt) != 0) {
        dsm_error("restart: cannot start the loader thread");
        return DSM_ERR_NO_MEMORY;
    }
    ckpt->loader_running = 1;
    dsm_info("restarting from the image in %s (%" PRIu64 " allocations, %" PRIu64 " pages)",
             rt->config.restart_dir, ckpt->image->manifest.alloc_count,
             ckpt->image->manifest.total_pages);
    return DSM_OK;
}

void dsm_rt_ckpt_fini(dsm_rt_t *rt)
{
    dsm_rt_ckpt_t *ckpt = rt->ckpt;

    if (ckpt == NULL) {
        return;
    }
    dsm_rt_ckpt_writer_join(rt);
    if (ckpt->loader_running) {
        pthread_mutex_lock(&ckpt->lock);
        ckpt->stopping = 1;
        pthread_cond_broadcast(&ckpt->changed);
        pthread_mutex_unlock(&ckpt->lock);
        pthread_join(ckpt->loader, NULL);
    }
    if (ckpt->epoch != NULL && ckpt->epoch->fd >= 0) {
        close(ckpt->epoch->fd);
    }
    dsm_rt_ckpt_epoch_free(ckpt->epoch);
    if (ckpt->fd >= 0) {
        close(ckpt->fd);
    }
    for (size_t i = 0; i < ckpt->restore_count; i++) {
        free((void *)ckpt->restores[i]->state);
        free(ckpt->restores[i]);
    }
    free(ckpt->restores);
    dsm_ckpt_image_close(ckpt->image);
    dsm_ckpt_manifest_free(&ckpt->manifest);
    free(ckpt->dir);
    pthread_cond_destroy(&ckpt->changed);
    pthread_mutex_destroy(&ckpt->lock);
    free(ckpt);
    rt->ckpt = NULL;
}
