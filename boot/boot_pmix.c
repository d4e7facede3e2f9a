/*
 * The PMIx bootstrap path, for jobs started by a PMIx launcher (mpirun of
 * Open MPI 4.x/5.x, srun --mpi=pmix): rank and size come from PMIx, an
 * allgather is Put + Commit + Fence(collect data) + Get of every rank, a
 * barrier is a Fence without data. No configuration of its own; every wait
 * is bounded by DSM_BOOT_TIMEOUT (PMIX_TIMEOUT).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pmix.h>

#include "boot_pmix.h"
#include "dsm_common.h"

typedef struct {
    dsm_boot_t  base;
    pmix_proc_t self;
    int         timeout_s;
    unsigned    round; /* allgathers so far: each uses its own key */
} dsm_boot_pmix_t;

static dsm_status_t dsm_boot_pmix_allgather(dsm_boot_t *boot, const void *blob,
                                            size_t size, dsm_boot_gathered_t *gathered_p);
static dsm_status_t dsm_boot_pmix_barrier(dsm_boot_t *boot);
static void dsm_boot_pmix_fini(dsm_boot_t *boot);

static const dsm_boot_ops_t dsm_boot_pmix_ops = {
    .name      = "pmix",
    .allgather = dsm_boot_pmix_allgather,
    .barrier   = dsm_boot_pmix_barrier,
    .fini      = dsm_boot_pmix_fini,
};

/* Logs a failed PMIx call once and maps it to a dsm status. */
static dsm_status_t dsm_boot_pmix_fail(const char *call, pmix_status_t rc)
{
    dsm_error("bootstrap: %s failed: %s", call, PMIx_Error_string(rc));
    return rc == PMIX_ERR_TIMEOUT ? DSM_ERR_TIMEOUT : DSM_ERR_BOOTSTRAP;
}

static dsm_status_t dsm_boot_pmix_job_size(const pmix_proc_t *self, int *size_p)
{
    pmix_proc_t job;
    pmix_value_t *value = NULL;
    pmix_status_t rc;
    dsm_status_t status = DSM_OK;

    PMIX_PROC_LOAD(&job, self->nspace, PMIX_RANK_WILDCARD);
    rc = PMIx_Get(&job, PMIX_JOB_SIZE, NULL, 0, &value);
    if (rc != PMIX_SUCCESS) {
        return dsm_boot_pmix_fail("PMIx_Get(PMIX_JOB_SIZE)", rc);
    }
    if (value->type != PMIX_UINT32 || value->data.uint32 < 1 ||
        value->data.uint32 > DSM_BOOT_MAX_NODES || self->rank >= value->data.uint32) {
        dsm_error("bootstrap: PMIx reports an unusable job size (type %d) for rank %u",
                  (int)value->type, self->rank);
        status = DSM_ERR_BOOTSTRAP;
    } else {
        *size_p = (int)value->data.uint32;
    }
    PMIX_VALUE_RELEASE(value);
    return status;
}

dsm_status_t dsm_boot_pmix_init(dsm_boot_t **boot_p)
{
    dsm_boot_pmix_t *boot;
    pmix_status_t rc;
    int timeout_ms;
    dsm_status_t status;

    status = dsm_boot_timeout_ms(&timeout_ms);
    if (status != DSM_OK) {
        return status;
    }
    boot = calloc(1, sizeof(*boot));
    if (boot == NULL) {
        dsm_error("bootstrap: out of memory");
        return DSM_ERR_NO_MEMORY;
    }
    rc = PMIx_Init(&boot->self, NULL, 0);
    if (rc != PMIX_SUCCESS) {
        status = dsm_boot_pmix_fail("PMIx_Init (is the PMIx server of the launcher "
                                       "reachable?)", rc);
        goto err_free;
    }
    status = dsm_boot_pmix_job_size(&boot->self, &boot->base.size);
    if (status != DSM_OK) {
        goto err_finalize;
    }
    boot->base.ops = &dsm_boot_pmix_ops;
    boot->base.rank = (int)boot->self.rank;
    boot->timeout_s = timeout_ms / 1000;
    *boot_p = &boot->base;
    return DSM_OK;

err_finalize:
    PMIx_Finalize(NULL, 0);
err_free:
    free(boot);
    return status;
}

/* Fence over the whole namespace, collecting the put data or not. */
static dsm_status_t dsm_boot_pmix_fence(dsm_boot_pmix_t *boot, bool collect)
{
    pmix_info_t info[2];
    pmix_proc_t all;
    pmix_status_t rc;

    PMIX_PROC_LOAD(&all, boot->self.nspace, PMIX_RANK_WILDCARD);
    PMIX_INFO_LOAD(&info[0], PMIX_COLLECT_DATA, &collect, PMIX_BOOL);
    PMIX_INFO_LOAD(&info[1], PMIX_TIMEOUT, &boot->timeout_s, PMIX_INT);
    rc = PMIx_Fence(&all, 1, info, 2);
    PMIX_INFO_DESTRUCT(&info[0]);
    PMIX_INFO_DESTRUCT(&info[1]);
    if (rc != PMIX_SUCCESS) {
        return dsm_boot_pmix_fail("PMIx_Fence", rc);
    }
    return DSM_OK;
}

static dsm_status_t dsm_boot_pmix_publish(dsm_boot_pmix_t *boot, const char *key,
                                          const void *blob, size_t size)
{
    pmix_value_t value;
    pmix_status_t rc;

    /* PMIx_Put copies the bytes; the cast only satisfies the struct's type. */
    value.type = PMIX_BYTE_OBJECT;
    value.data.bo.bytes = (char *)blob;
    value.data.bo.size = size;
    rc = PMIx_Put(PMIX_GLOBAL, key, &value);
    if (rc != PMIX_SUCCESS) {
        return dsm_boot_pmix_fail("PMIx_Put", rc);
    }
    rc = PMIx_Commit();
    if (rc != PMIX_SUCCESS) {
        return dsm_boot_pmix_fail("PMIx_Commit", rc);
    }
    return dsm_boot_pmix_fence(boot, true);
}

/* Fetches rank's blob for key into gathered, checking its type and size. */
static dsm_status_t dsm_boot_pmix_fetch(dsm_boot_pmix_t *boot, const char *key, int rank,
                                        dsm_boot_gathered_t *gathered)
{
    pmix_value_t *value = NULL;
    pmix_proc_t peer;
    pmix_info_t info;
    pmix_status_t rc;
    dsm_status_t status = DSM_OK;
    size_t size;

    PMIX_PROC_LOAD(&peer, boot->self.nspace, (pmix_rank_t)rank);
    PMIX_INFO_LOAD(&info, PMIX_TIMEOUT, &boot->timeout_s, PMIX_INT);
    rc = PMIx_Get(&peer, key, &info, 1, &value);
    PMIX_INFO_DESTRUCT(&info);
    if (rc != PMIX_SUCCESS) {
        return dsm_boot_pmix_fail("PMIx_Get", rc);
    }
    if (value->type != PMIX_BYTE_OBJECT || value->data.bo.size > DSM_BOOT_MAX_BLOB) {
        dsm_error("bootstrap: malformed PMIx value from node %d: type %d, %zu bytes", rank,
                  (int)value->type, value->type == PMIX_BYTE_OBJECT ? value->data.bo.size : 0);
        status = DSM_ERR_MALFORMED;
        goto out;
    }
    size = value->data.bo.size;
    gathered->blobs[rank] = malloc(size + 1); /* never NULL for a 0-byte blob */
    if (gathered->blobs[rank] == NULL) {
        dsm_error("bootstrap: out of memory for a %zu-byte blob", size);
        status = DSM_ERR_NO_MEMORY;
        goto out;
    }
    if (size > 0) {
        memcpy(gathered->blobs[rank], value->data.bo.bytes, size);
    }
    gathered->sizes[rank] = size;
out:
    PMIX_VALUE_RELEASE(value);
    return status;
}

static dsm_status_t dsm_boot_pmix_allgather(dsm_boot_t *base, const void *blob,
                                            size_t size, dsm_boot_gathered_t *gathered_p)
{
    dsm_boot_pmix_t *boot = (dsm_boot_pmix_t *)base;
    dsm_boot_gathered_t gathered;
    char key[32];
    dsm_status_t status;

    /* A fresh key per round: a value put earlier can never be read as this one. */
    snprintf(key, sizeof(key), "dsm.boot.%u", boot->round++);
    status = dsm_boot_pmix_publish(boot, key, blob, size);
    if (status != DSM_OK) {
        return status;
    }
    status = dsm_boot_gathered_alloc(base->size, &gathered);
    if (status != DSM_OK) {
        return status;
    }
    for (int rank = 0; rank < base->size; rank++) {
        status = dsm_boot_pmix_fetch(boot, key, rank, &gathered);
        if (status != DSM_OK) {
            dsm_boot_gathered_free(&gathered);
            return status;
        }
    }
    *gathered_p = gathered;
    return DSM_OK;
}

static dsm_status_t dsm_boot_pmix_barrier(dsm_boot_t *base)
{
    return dsm_boot_pmix_fence((dsm_boot_pmix_t *)base, false);
}

static void dsm_boot_pmix_fini(dsm_boot_t *base)
{
    pmix_status_t rc = PMIx_Finalize(NULL, 0);

    if (rc != PMIX_SUCCESS) {
        dsm_warn("bootstrap: PMIx_Finalize: %s", PMIx_Error_string(rc));
    }
    free(base);
}
