/*
 * Checkpoint and restart (docs/design.md §5, "Checkpoint and restart";
 * docs/checkpoint.md). Internal to runtime/: rt_ckpt.c takes the cut, saves
 * pages before they change and loads them lazily at restart; rt_ckpt_image.c
 * owns the files of an image.
 *
 * An image is a directory: `manifest` (what the image holds, checksummed) and
 * one file per node, `node<N>.img`: a header, an index of one 64-bit entry per
 * image page (saved here, all zeros, CRC32C of the data) and the data, page g
 * at data offset + g * 4096 (a sparse file: each page is saved by exactly one
 * node). Image pages are the live allocations at the cut, one after the
 * other in allocation order.
 */
#ifndef DSM_RT_CKPT_H
#define DSM_RT_CKPT_H

#include <stdint.h>

#include "dsm_rt.h"

#define DSM_CKPT_VERSION 1u

/* An index entry: CRC32C of the page in the low 32 bits, and these flags. */
#define DSM_CKPT_ENTRY_SAVED (1ull << 63) /* this node's file holds the page */
#define DSM_CKPT_ENTRY_ZERO  (1ull << 62) /* the page is all zeros: no data  */

/* One allocation of an image. */
typedef struct {
    uint64_t seq;        /* its number in the job that saved it            */
    uint64_t npages;
    uint64_t base;       /* image page of its first page                   */
} dsm_ckpt_alloc_t;

/* What an image holds (the manifest). */
typedef struct {
    uint64_t          id;          /* random, the same in every file of the image */
    uint32_t          nnodes;
    uint64_t          arena_address, arena_size;
    uint64_t          total_pages;
    uint64_t          alloc_count;
    dsm_ckpt_alloc_t *allocs;
} dsm_ckpt_manifest_t;

/* ---- rt_ckpt_image.c: the files --------------------------------------------- */

uint32_t dsm_ckpt_crc32c(uint32_t crc, const void *data, size_t length);

/* Node 0, before a cut: an empty temporary directory next to dir (a stale
 * one from a crash removed) holding the new image's id. */
dsm_status_t dsm_ckpt_image_prepare(const char *dir, uint64_t *id_p);
/* Every node, after the barrier that follows prepare: the id node 0 chose. */
dsm_status_t dsm_ckpt_image_id_read(const char *dir, uint64_t *id_p);
/* This node's file in the temporary directory, sized for total_pages. */
dsm_status_t dsm_ckpt_image_node_create(const char *dir, int node, uint64_t total_pages,
                                        int *fd_p);
/* Page g's data (entry_p: its index entry); all-zero pages write nothing. */
dsm_status_t dsm_ckpt_image_page_write(int fd, uint64_t total_pages, uint64_t g,
                                       const void *data, uint64_t *entry_p);
/* The most pages dsm_ckpt_image_pages_write takes at once (1 MiB, dd's bs=1M). */
#define DSM_CKPT_RUN_MAX 256u
/* Image pages g .. g+count-1, page i's data at data[i] (count at most
 * DSM_CKPT_RUN_MAX): runs of non-zero pages in one pwritev each; entries[i]:
 * page i's index entry. The caller keeps the pages unchanged meanwhile
 * (their checksums are computed from the same memory). */
dsm_status_t dsm_ckpt_image_pages_write(int fd, uint64_t total_pages, uint64_t g,
                                        const void *const *data, size_t count,
                                        uint64_t *entries);
/* The index, then the header (status: whether every page this node saves is
 * in), fsync, close. The fd is closed whatever happens. */
dsm_status_t dsm_ckpt_image_node_finish(int fd, const uint64_t *index, uint64_t total_pages,
                                        int node, int nnodes, uint64_t id, dsm_status_t status);
/* Node 0, once every node finished: check every node's header, write the
 * manifest, and put the temporary directory in dir's place atomically (the
 * previous image stays whole until then). */
dsm_status_t dsm_ckpt_image_commit(const char *dir, const dsm_ckpt_manifest_t *manifest);
/* The id of the image committed in dir (0 if none can be read). */
uint64_t dsm_ckpt_image_committed_id(const char *dir);

/* An image opened for restart: the manifest, and each node's file with its
 * index mapped (read lazily: opening costs the same for any image size). */
typedef struct {
    dsm_ckpt_manifest_t manifest;
    int                *fds;
    const uint64_t    **index;
    size_t             *index_bytes;
    uint64_t            data_offset;
    char               *dir;
} dsm_ckpt_image_t;

/* Checks the manifest (version, checksum) against this job (nnodes, arena)
 * and every node file's header; refuses naming what differs. */
dsm_status_t dsm_ckpt_image_open(const char *dir, int nnodes, uint64_t arena_address,
                                 uint64_t arena_size, dsm_ckpt_image_t **image_p);
void dsm_ckpt_image_close(dsm_ckpt_image_t *image);
/* Image page g into dst (4096 bytes, already zero-filled), checksum checked. */
dsm_status_t dsm_ckpt_image_page_read(const dsm_ckpt_image_t *image, uint64_t g, void *dst);

void dsm_ckpt_manifest_free(dsm_ckpt_manifest_t *manifest);

/* ---- rt_ckpt.c: the runtime's side ------------------------------------------- */

/* dsm_init: opens the image named by the configuration, if any. */
dsm_status_t dsm_rt_ckpt_init(dsm_rt_t *rt);
/* After the service thread stopped. Safe on a partly initialised runtime. */
void dsm_rt_ckpt_fini(dsm_rt_t *rt);
int dsm_rt_ckpt_restarted(const dsm_rt_t *rt);

/* Application thread, the steps of dsm_checkpoint (rt_api.c runs the
 * barriers between them): before the first barrier (node 0 prepares the
 * temporary directory), then after it (every node opens its file). */
dsm_status_t dsm_rt_ckpt_prepare(dsm_rt_t *rt, const char *dir);
dsm_status_t dsm_rt_ckpt_open(dsm_rt_t *rt);
/* After the barrier that follows the cut: every node has cut, this node's
 * writer may start. */
void dsm_rt_ckpt_go(dsm_rt_t *rt);
/* Nonzero between dsm_rt_ckpt_prepare and the end of its dsm_checkpoint_wait. */
int dsm_rt_ckpt_pending(const dsm_rt_t *rt);
/* The steps of dsm_checkpoint_wait: this node's writer finished (its status);
 * after a barrier node 0 commits; after another every node learns whether
 * the image was committed. */
dsm_status_t dsm_rt_ckpt_finish(dsm_rt_t *rt);
dsm_status_t dsm_rt_ckpt_commit(dsm_rt_t *rt);
dsm_status_t dsm_rt_ckpt_result(dsm_rt_t *rt, dsm_status_t local, dsm_status_t commit);
/* Application thread: wait until this node's writer is done (dsm_free). */
void dsm_rt_ckpt_writer_join(dsm_rt_t *rt);

/* Service thread: DSM_RT_CMD_CKPT (arg DSM_RT_CKPT_CUT, DSM_RT_CKPT_END, or
 * DSM_RT_CKPT_RESOLVE from the writer: the claims of its next chunk). */
enum { DSM_RT_CKPT_CUT = 0, DSM_RT_CKPT_END = 1, DSM_RT_CKPT_RESOLVE = 2 };
void dsm_rt_ckpt_command(dsm_rt_t *rt, dsm_rt_cmd_t *cmd);

/*
 * Service thread, before an engine input on page (a fault, a request ahead, a
 * message): a page this node must save and has not yet is saved now; at
 * restart, a page this node homes is loaded from the image.
 */
void dsm_rt_ckpt_before_input(dsm_rt_t *rt, uint64_t page);

/*
 * Service thread, before this node learns or decides the first-touch home of
 * the chunk of pages [chunk_first, chunk_first + count): their claims in the
 * image being taken are resolved while the chunk has no home here, as at the
 * cut (its manager saves a chunk nobody had touched; the new home does not).
 */
void dsm_rt_ckpt_before_home(dsm_rt_t *rt, uint64_t chunk_first, uint64_t count);

/*
 * Service thread: pages [page, page + count), which the engine holds
 * Modified here and a cut detached, are about to be mapped writable again
 * (the engine is not told): saved first, if this node saves them in the
 * image being taken. Returns how many of them, from page on, may be mapped
 * (at least 1).
 */
uint64_t dsm_rt_ckpt_before_remap(dsm_rt_t *rt, uint64_t page, uint64_t count);

/*
 * Application thread, after the cut and before the barrier that ends it:
 * unmap the whole arena (dsm_rt_arena_detach), so that the next access to
 * every page is a fault (copy-before-write). A failure fails the image.
 */
dsm_status_t dsm_rt_ckpt_detach(dsm_rt_t *rt);

/* Service thread: an allocation was made (restart: the image's allocation of
 * the same rank and size gives its contents) or is about to be freed. */
void dsm_rt_ckpt_region_added(dsm_rt_t *rt, const dsm_rt_region_t *region);
void dsm_rt_ckpt_region_removed(dsm_rt_t *rt, const dsm_rt_region_t *region);

#endif /* DSM_RT_CKPT_H */
