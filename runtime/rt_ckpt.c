/*
 * Checkpoint and restart (docs/design.md §5, "Checkpoint and restart").
 *
 * The cut (service thread, between two barriers, engine quiescent): a page
 * Modified somewhere is saved by the node that holds it; every other page by
 * its home. Either way from this node's memfd, through the landing mapping.
 * Each allocation gets a claim byte per page (dsm_rt_ckpt_zeroed: the kernel
 * zero-fills lazily, so the cost does not follow the allocation's size),
 * unresolved: the cut visits no page. The service thread resolves a claim
 * from the engine's state of the page, which no input has changed yet, before
 * the page's first input (the hook) or when the writer asks
 * (DSM_RT_CKPT_RESOLVE). After the cut the application thread unmaps the
 * whole arena at once (dsm_rt_ckpt_detach: the page tables move, per 2 MiB),
 * so the cut visits no page-table entry either.
 *
 * Copy-before-write: a page's data changes only after an engine input on it
 * at the node that saves it (a write fault, a request reaching the home that
 * will grant it, an invalidation of the owner), or after a write to a page
 * this node holds Modified, which the engine never sees and which, detached,
 * first takes a MINOR fault. So dsm_rt_ckpt_before_input saves the page first
 * if this node must and has not yet, and dsm_rt_ckpt_before_remap saves a
 * detached Modified page, with those after it, before it is mapped again.
 * The writer thread saves the rest in the background, in runs (pwritev).
 * Writer and service thread meet on the claim byte: whoever moves it to BUSY
 * copies the page; the other waits for DONE.
 *
 * Restart: the k-th allocation of the new job takes the image's k-th
 * allocation if the sizes agree. The home of a page in the new job, whatever
 * its placement (the image records none), loads it into its backing segment
 * before the engine's first input on it (every copy elsewhere comes from
 * there), and a loader thread loads the rest whose home it knows; they meet
 * on a state byte per page as above.
 *
 * Threads: the claim and load bytes are atomics; the epoch is created and
 * freed by the service thread (commands CUT and END) while the writer is not
 * running; only the service thread resolves claims; restore regions are
 * added and removed by the service thread under lock, which the loader holds
 * while it loads a page into one of them.
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rt_ckpt.h"

/*
 * A page's claim in the current image. Every claim starts UNRESOLVED (the
 * claim array is zero-filled by the kernel, which costs nothing per page);
 * only the service thread resolves one, from the engine's state of the page,
 * which is still its state at the cut: every engine input on the page is
 * preceded by dsm_rt_ckpt_before_input, which resolves it first.
 */
enum {
    DSM_RT_CLAIM_UNRESOLVED = 0, /* not looked at since the cut                   */
    DSM_RT_CLAIM_OWNER,          /* Modified here at the cut: saved from the arena */
    DSM_RT_CLAIM_HOME,           /* homed here, Modified nowhere: from the backing */
    DSM_RT_CLAIM_NONE,           /* another node saves it                         */
    DSM_RT_CLAIM_BUSY,           /* being copied                                  */
    DSM_RT_CLAIM_DONE
};

/* Pages the writer has resolved per command (DSM_RT_CKPT_RESOLVE): the
 * service thread's time per command stays short (~1024 engine lookups). */
#define DSM_RT_CKPT_RESOLVE_PAGES 1024u

/* A page's load state at restart. */
enum { DSM_RT_LOAD_NONE = 0, DSM_RT_LOAD_BUSY, DSM_RT_LOAD_DONE };

/* An allocation of the image being written. */
typedef struct {
    uint64_t           seq, first_page, npages;
    uint64_t           base;        /* image page of first_page         */
    dsm_rt_placement_t placement;
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
    /* The writer's DSM_RT_CKPT_RESOLVE request: set by the writer before it
     * posts the command, read by the service thread (the command queue's
     * lock orders them). */
    uint64_t              resolve_first, resolve_count;
    pthread_t             writer;
    int                   writer_running; /* joinable; under ckpt->lock        */
    /* Posted once every node has cut (dsm_rt_ckpt_go, after the barrier): a
     * writer started earlier would take a CPU from a node still cutting. */
    sem_t                 go;
    int                   go_posted;   /* application thread                  */
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
    uint64_t             t_prepared;   /* dsm_now_ns at the end of prepare   */

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

static void dsm_rt_ckpt_fail(dsm_rt_ckpt_epoch_t *epoch, dsm_status_t status)
{
    int ok = DSM_OK;

    atomic_compare_exchange_strong(&epoch->status, &ok, (int)status);
}

/* What a page of a hole in the memfd holds. */
static const uint8_t dsm_rt_ckpt_zero_page[DSM_RT_PAGE_SIZE];

/* ---- memory whose cost does not follow its size --------------------------------------- */

/*
 * Zero-filled memory that the kernel clears page by page when first touched,
 * so that a cut costs the same for any image size. Not calloc: once glibc has
 * freed a large block, its mmap threshold rises (up to 32 MiB) and calloc
 * clears heap blocks up to that size itself: the previous image's index made
 * a cut's setup 16 ms at 5 GiB.
 */
static void *dsm_rt_ckpt_zeroed(size_t size)
{
    void *memory = mmap(NULL, size ? size : 1, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    return memory == MAP_FAILED ? NULL : memory;
}

static void dsm_rt_ckpt_zeroed_free(volatile void *memory, size_t size)
{
    if (memory != NULL) {
        munmap((void *)memory, size ? size : 1);
    }
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

/*
 * Whether this node saves page from its backing if nobody holds it Modified:
 * it homes the page, or, under first touch, the page's chunk has no home yet
 * and this node is its manager (the one node that knows: the page is all
 * zeros, in its backing as in every other).
 */
static bool dsm_rt_ckpt_saves_unmodified(const dsm_rt_t *rt, const dsm_rt_placement_t *pl,
                                         uint64_t page)
{
    int home = dsm_rt_placement_home(pl, page);

    return home == rt->node ||
           (home == DSM_RT_HOME_UNKNOWN && dsm_rt_placement_manager(pl, page) == rt->node);
}

/*
 * Service thread: the claim of page from the engine's state and the page's
 * home, both unchanged since the cut (see the enum above): a page Modified
 * here is saved by this node; one it saves unmodified (above) too, unless
 * another node holds it Modified (that node saves it); every other page by
 * another node.
 */
static void dsm_rt_ckpt_resolve(dsm_rt_t *rt, dsm_rt_ckpt_region_t *region, uint64_t page)
{
    _Atomic uint8_t *claim = &region->claim[page - region->first_page];
    uint8_t verdict = DSM_RT_CLAIM_NONE;
    bool holder;

    if (atomic_load_explicit(claim, memory_order_relaxed) != DSM_RT_CLAIM_UNRESOLVED) {
        return;
    }
    if (dsm_coh_engine_node_state(rt->pages.coh, page) == DSM_COH_N_M) {
        verdict = DSM_RT_CLAIM_OWNER;
    } else if (dsm_rt_ckpt_saves_unmodified(rt, &region->placement, page) &&
               dsm_coh_engine_home_state(rt->pages.coh, page, (uint32_t)rt->node, &holder) !=
                   DSM_COH_H_M) {
        verdict = DSM_RT_CLAIM_HOME;
    }
    /* release: the writer that reads the verdict also sees the page as it was
     * at the cut (only this thread resolves: a plain store suffices). */
    atomic_store_explicit(claim, verdict, memory_order_release);
}

/* Service thread: the writer's request, pages [first, first + count) of one region. */
static void dsm_rt_ckpt_resolve_range(dsm_rt_t *rt, dsm_rt_ckpt_epoch_t *epoch)
{
    dsm_rt_ckpt_region_t *region = dsm_rt_ckpt_region_find(epoch, epoch->resolve_first);

    for (uint64_t i = 0; region != NULL && i < epoch->resolve_count; i++) {
        dsm_rt_ckpt_resolve(rt, region, epoch->resolve_first + i);
    }
}

/* Image pages [g, g + count) of region, claimed BUSY by the caller: written,
 * then DONE. A failure is the epoch's; the claims go to DONE whatever happens
 * (nobody may wait for them forever). */
static void dsm_rt_ckpt_run_write(dsm_rt_ckpt_epoch_t *epoch, dsm_rt_ckpt_region_t *region,
                                  uint64_t page, size_t count)
{
    const void *data[DSM_CKPT_RUN_MAX] = { NULL };
    uint64_t g = region->base + (page - region->first_page);

    if (atomic_load(&epoch->status) == DSM_OK) {
        dsm_status_t status;

        /* A page held Modified here and one homed here alike: this node's
         * memfd, through the mapping that never faults; its holes are zeros,
         * not read (a read would allocate them). */
        for (uint64_t p = page; p < page + count;) {
            bool written;
            uint64_t next = dsm_rt_arena_extent(epoch->rt, p, page + count, &written);

            for (; p < next; p++) {
                data[p - page] = written ? dsm_rt_page_landing(epoch->rt, p)
                                         : dsm_rt_ckpt_zero_page;
            }
        }
        status = dsm_ckpt_image_pages_write(epoch->fd, epoch->total_pages, g, data, count,
                                            &epoch->index[g]);
        if (status != DSM_OK) {
            dsm_rt_ckpt_fail(epoch, status);
        }
    }
    for (size_t i = 0; i < count; i++) {
        /* release: the copy is complete before anyone sees DONE. */
        atomic_store_explicit(&region->claim[page + i - region->first_page], DSM_RT_CLAIM_DONE,
                              memory_order_release);
    }
}

/* Wait until whoever holds page's claim BUSY is done with it. */
static void dsm_rt_ckpt_busy_wait(const dsm_rt_ckpt_region_t *region, uint64_t page)
{
    while (atomic_load_explicit(&region->claim[page - region->first_page],
                                memory_order_acquire) == DSM_RT_CLAIM_BUSY) {
        sched_yield();
    }
}

/* Service thread (page resolved): save the page now if this node must and
 * nobody has started; returns once it is saved, by anyone. */
static void dsm_rt_ckpt_save(dsm_rt_ckpt_epoch_t *epoch, dsm_rt_ckpt_region_t *region,
                             uint64_t page)
{
    _Atomic uint8_t *claim = &region->claim[page - region->first_page];
    uint8_t seen = atomic_load_explicit(claim, memory_order_acquire);

    if ((seen == DSM_RT_CLAIM_OWNER || seen == DSM_RT_CLAIM_HOME) &&
        atomic_compare_exchange_strong(claim, &seen, DSM_RT_CLAIM_BUSY)) {
        dsm_rt_ckpt_run_write(epoch, region, page, 1);
        return;
    }
    /* The writer is copying it: the page must not change before it is done. */
    dsm_rt_ckpt_busy_wait(region, page);
}

/*
 * Service thread: pages [page, page + count) of region, which the engine
 * holds Modified here, are about to be mapped writable: those still OWNER
 * are saved first (runs, one pwritev each), those saved already (DONE) join
 * them; the first page the writer is busy with ends the run. Returns how many
 * pages from page on are saved (at least 1: page itself, waited for).
 */
static uint64_t dsm_rt_ckpt_save_run(dsm_rt_t *rt, dsm_rt_ckpt_epoch_t *epoch,
                                     dsm_rt_ckpt_region_t *region, uint64_t page, uint64_t count)
{
    uint64_t end = page + count, next, run_page = page;
    size_t run = 0;

    dsm_rt_ckpt_busy_wait(region, page);
    for (next = page; next < end; next++) {
        _Atomic uint8_t *claim = &region->claim[next - region->first_page];
        uint8_t now;

        dsm_rt_ckpt_resolve(rt, region, next);
        now = atomic_load_explicit(claim, memory_order_acquire);
        if (now == DSM_RT_CLAIM_OWNER &&
            atomic_compare_exchange_strong(claim, &now, DSM_RT_CLAIM_BUSY)) {
            run_page = run == 0 ? next : run_page;
            run++;
            continue;
        }
        if (run > 0) {
            dsm_rt_ckpt_run_write(epoch, region, run_page, run);
            run = 0;
        }
        if (now != DSM_RT_CLAIM_DONE) {
            break; /* the writer has it: mapped by a later fault */
        }
    }
    if (run > 0) {
        dsm_rt_ckpt_run_write(epoch, region, run_page, run);
    }
    return next > page ? next - page : 1;
}

/* Writer: pages [first, first + count) of region, resolved; runs of pages
 * this node saves and nobody took yet, DSM_CKPT_RUN_MAX at most, one
 * pwritev each. */
static void dsm_rt_ckpt_chunk_save(dsm_rt_ckpt_epoch_t *epoch, dsm_rt_ckpt_region_t *region,
                                   uint64_t first, uint64_t count)
{
    uint64_t run_page = first;
    size_t run = 0;

    for (uint64_t page = first; page < first + count; page++) {
        _Atomic uint8_t *claim = &region->claim[page - region->first_page];
        uint8_t now = atomic_load_explicit(claim, memory_order_acquire);
        int taken = (now == DSM_RT_CLAIM_OWNER || now == DSM_RT_CLAIM_HOME) &&
                    atomic_compare_exchange_strong(claim, &now, DSM_RT_CLAIM_BUSY);

        if (run > 0 && (!taken || run == DSM_CKPT_RUN_MAX)) {
            dsm_rt_ckpt_run_write(epoch, region, run_page, run);
            run = 0;
        }
        if (taken) {
            run_page = run == 0 ? page : run_page;
            run++;
        } else if (now == DSM_RT_CLAIM_BUSY) {
            /* The service thread saves it: done before the index is written. */
            dsm_rt_ckpt_busy_wait(region, page);
        }
    }
    if (run > 0) {
        dsm_rt_ckpt_run_write(epoch, region, run_page, run);
    }
}

/* The writer: every page this node saves and no fault has saved yet, chunk
 * by chunk (the service thread resolves each chunk's claims first), then the
 * index and header, fsync. */
static void *dsm_rt_ckpt_writer(void *arg)
{
    dsm_rt_ckpt_epoch_t *epoch = arg;
    dsm_rt_t *rt = epoch->rt;
    dsm_rt_cmd_t cmd = { .type = DSM_RT_CMD_CKPT, .arg = DSM_RT_CKPT_RESOLVE };

    while (sem_wait(&epoch->go) != 0) { /* EINTR */
    }
    /* What the detach moved away is unmapped here, off the cut's pause. */
    dsm_rt_arena_detached_release(rt);

    for (size_t r = 0; r < epoch->count && atomic_load(&epoch->status) == DSM_OK; r++) {
        dsm_rt_ckpt_region_t *region = &epoch->regions[r];
        uint64_t end = region->first_page + region->npages;

        for (uint64_t page = region->first_page;
             page < end && atomic_load(&epoch->status) == DSM_OK;
             page += DSM_RT_CKPT_RESOLVE_PAGES) {
            uint64_t count = end - page < DSM_RT_CKPT_RESOLVE_PAGES ? end - page
                                                                    : DSM_RT_CKPT_RESOLVE_PAGES;
            dsm_status_t status;

            epoch->resolve_first = page;
            epoch->resolve_count = count;
            if ((status = dsm_rt_command(rt, &cmd)) != DSM_OK) {
                dsm_error("checkpoint: the service thread did not resolve pages: %s",
                          dsm_strerror(status));
                dsm_rt_ckpt_fail(epoch, status);
                break;
            }
            dsm_rt_ckpt_chunk_save(epoch, region, page, count);
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
        dsm_rt_ckpt_zeroed_free(epoch->regions[r].claim, epoch->regions[r].npages);
    }
    free(epoch->regions);
    dsm_rt_ckpt_zeroed_free(epoch->index, epoch->total_pages * sizeof(uint64_t));
    sem_destroy(&epoch->go);
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
            .placement = region->placement, .claim = dsm_rt_ckpt_zeroed(region->npages),
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

/* The cut: the image's allocations and their claims, all unresolved, and
 * the writer, which waits for dsm_rt_ckpt_go. No page is visited. */
static dsm_status_t dsm_rt_ckpt_cut(dsm_rt_t *rt)
{
    dsm_rt_ckpt_t *ckpt = rt->ckpt;
    dsm_rt_ckpt_epoch_t *epoch = calloc(1, sizeof(*epoch));
    dsm_status_t status;
    uint64_t t0 = dsm_now_ns();

    if (epoch == NULL) {
        return DSM_ERR_NO_MEMORY;
    }
    epoch->rt = rt;
    epoch->fd = ckpt->fd;
    sem_init(&epoch->go, 0, 0);
    if ((status = dsm_rt_ckpt_regions_take(rt, epoch)) != DSM_OK) {
        goto err;
    }
    epoch->index = dsm_rt_ckpt_zeroed(epoch->total_pages * sizeof(uint64_t));
    if (epoch->index == NULL) {
        status = DSM_ERR_NO_MEMORY;
        goto err;
    }
    dsm_debug("checkpoint cut: %" PRIu64 " pages, setup %.0f us; since prepare (quiesce, "
              "open) %.0f us", epoch->total_pages, (dsm_now_ns() - t0) / 1e3,
              (t0 - ckpt->t_prepared) / 1e3);
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
    } else if (cmd->arg == DSM_RT_CKPT_RESOLVE) {
        /* From the writer: the epoch lives until END, after the writer is joined. */
        dsm_rt_ckpt_resolve_range(rt, ckpt->epoch);
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

void dsm_rt_ckpt_before_input(dsm_rt_t *rt, uint64_t page)
{
    dsm_rt_ckpt_t *ckpt = rt->ckpt;
    dsm_rt_ckpt_region_t *region;
    dsm_rt_restore_t *restore;

    if (ckpt->epoch != NULL && (region = dsm_rt_ckpt_region_find(ckpt->epoch, page)) != NULL) {
        dsm_rt_ckpt_resolve(rt, region, page);
        dsm_rt_ckpt_save(ckpt->epoch, region, page);
    }
    if (ckpt->restore_count != 0 && (restore = dsm_rt_restore_find(ckpt, page)) != NULL &&
        dsm_rt_placement_home(&restore->placement, page) == rt->node) {
        dsm_rt_restore_load(rt, restore, page);
    }
}

void dsm_rt_ckpt_before_home(dsm_rt_t *rt, uint64_t chunk_first, uint64_t count)
{
    dsm_rt_ckpt_epoch_t *epoch = rt->ckpt->epoch;
    dsm_rt_ckpt_region_t *region =
        epoch != NULL ? dsm_rt_ckpt_region_find(epoch, chunk_first) : NULL;
    uint64_t end;

    if (region == NULL) {
        return;
    }
    end = region->first_page + region->npages; /* the last chunk may be short */
    end = chunk_first + count < end ? chunk_first + count : end;
    /* The manager saves the chunk's pages now, while they are still the
     * zeros of the cut: once it has a home, the home writes them, and the
     * nodes of a host share one memfd (rt_arena.c). */
    for (uint64_t page = chunk_first; page < end; page++) {
        dsm_rt_ckpt_resolve(rt, region, page);
        dsm_rt_ckpt_save(epoch, region, page);
    }
}

uint64_t dsm_rt_ckpt_before_remap(dsm_rt_t *rt, uint64_t page, uint64_t count)
{
    dsm_rt_ckpt_epoch_t *epoch = rt->ckpt->epoch;
    dsm_rt_ckpt_region_t *region = epoch != NULL ? dsm_rt_ckpt_region_find(epoch, page) : NULL;

    if (region == NULL) {
        return count; /* saved already, or not in the image being taken */
    }
    return dsm_rt_ckpt_save_run(rt, epoch, region, page, count);
}

dsm_status_t dsm_rt_ckpt_detach(dsm_rt_t *rt)
{
    dsm_rt_ckpt_epoch_t *epoch = rt->ckpt->epoch;
    uint64_t t0 = dsm_now_ns();
    dsm_status_t status;

    if (epoch == NULL) {
        return DSM_OK; /* the cut failed, and said so */
    }
    status = dsm_rt_arena_detach(rt);
    if (status != DSM_OK) {
        /* Pages may be written unsaved from now on: the image is lost. */
        dsm_rt_ckpt_fail(epoch, status);
        return status;
    }
    dsm_debug("checkpoint: the arena detached in %.0f us", (dsm_now_ns() - t0) / 1e3);
    return DSM_OK;
}

/* ---- the steps of dsm_checkpoint and dsm_checkpoint_wait -------------------------------- */

dsm_status_t dsm_rt_ckpt_prepare(dsm_rt_t *rt, const char *dir)
{
    dsm_rt_ckpt_t *ckpt = rt->ckpt;

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
    ckpt->t_prepared = dsm_now_ns();
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

void dsm_rt_ckpt_go(dsm_rt_t *rt)
{
    dsm_rt_ckpt_epoch_t *epoch = rt->ckpt->epoch; /* set by the cut, before its command completed */

    if (epoch != NULL && !epoch->go_posted) {
        epoch->go_posted = 1;
        sem_post(&epoch->go);
    }
}

void dsm_rt_ckpt_writer_join(dsm_rt_t *rt)
{
    dsm_rt_ckpt_t *ckpt = rt->ckpt;

    dsm_rt_ckpt_go(rt); /* (already, but for a dsm_checkpoint cut short) */
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
