/*
 * Private to boot/: what the paths share. boot.c picks a path and calls it
 * through the table below; each path (boot_tcp.c, boot_pmix.c, and the
 * single-node one in boot.c) fills a table and uses the helpers of
 * boot_util.c. Nothing here calls back into boot.c.
 */
#ifndef DSM_BOOT_INT_H
#define DSM_BOOT_INT_H

#include <stddef.h>

#include "dsm_boot.h"

#define DSM_BOOT_MAX_NODES 4096
#define DSM_BOOT_MAX_BLOB  (16u << 20) /* one node's allgather contribution */

/* What each path provides; boot.c dispatches the collectives to it. */
typedef struct {
    const char *name;
    dsm_status_t (*allgather)(dsm_boot_t *boot, const void *blob, size_t size,
                              dsm_boot_gathered_t *gathered_p);
    dsm_status_t (*barrier)(dsm_boot_t *boot);
    void (*fini)(dsm_boot_t *boot);
} dsm_boot_ops_t;

/* Common head of every path's state; each path embeds it first. */
struct dsm_boot {
    const dsm_boot_ops_t *ops;
    int rank;
    int size;
};

/* ---- helpers of every path (boot_util.c) ---- */

/* Allocates an empty result for count ranks (every blob NULL, size 0). */
dsm_status_t dsm_boot_gathered_alloc(int count, dsm_boot_gathered_t *gathered_p);

/* DSM_BOOT_TIMEOUT in milliseconds (default 60 s); DSM_ERR_CONFIG if malformed. */
dsm_status_t dsm_boot_timeout_ms(int *timeout_ms_p);

#endif /* DSM_BOOT_INT_H */
