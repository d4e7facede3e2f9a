/*
 * Bootstrap dispatch: picks the path that joins the job and forwards the
 * collectives to it. Precedence (docs/design.md "### Bootstrap"):
 *  1. any DSM_RANK/DSM_NNODES/DSM_COORD/DSM_JOB_KEY set -> the dsmrun path
 *     (explicit variables win; a partial set is a configuration error);
 *  2. else PMIX_RANK and PMIX_NAMESPACE set -> PMIx;
 *  3. else a single-node job (rank 0 of 1), with a warning, so that a
 *     program started by hand still runs.
 */
#include <stdlib.h>
#include <string.h>

#include "boot_int.h"
#include "boot_pmix.h"
#include "boot_tcp.h"
#include "dsm_common.h"

static const char *const dsm_boot_dsmrun_vars[] = {
    "DSM_RANK", "DSM_NNODES", "DSM_COORD", "DSM_JOB_KEY",
};

static dsm_status_t dsm_boot_single_allgather(dsm_boot_t *boot, const void *blob,
                                              size_t size,
                                              dsm_boot_gathered_t *gathered_p);
static dsm_status_t dsm_boot_single_barrier(dsm_boot_t *boot);
static void dsm_boot_single_fini(dsm_boot_t *boot);

static const dsm_boot_ops_t dsm_boot_single_ops = {
    .name      = "single",
    .allgather = dsm_boot_single_allgather,
    .barrier   = dsm_boot_single_barrier,
    .fini      = dsm_boot_single_fini,
};

static dsm_status_t dsm_boot_single_allgather(dsm_boot_t *boot, const void *blob,
                                              size_t size,
                                              dsm_boot_gathered_t *gathered_p)
{
    dsm_boot_gathered_t gathered;
    dsm_status_t status;

    status = dsm_boot_gathered_alloc(boot->size, &gathered);
    if (status != DSM_OK) {
        return status;
    }
    /* malloc(0) may return NULL; one spare byte keeps "NULL = failure". */
    gathered.blobs[0] = malloc(size + 1);
    if (gathered.blobs[0] == NULL) {
        dsm_boot_gathered_free(&gathered);
        dsm_error("bootstrap: out of memory for a %zu-byte blob", size);
        return DSM_ERR_NO_MEMORY;
    }
    if (size > 0) {
        memcpy(gathered.blobs[0], blob, size);
    }
    gathered.sizes[0] = size;
    *gathered_p = gathered;
    return DSM_OK;
}

static dsm_status_t dsm_boot_single_barrier(dsm_boot_t *boot)
{
    (void)boot;
    return DSM_OK;
}

static void dsm_boot_single_fini(dsm_boot_t *boot)
{
    free(boot);
}

static dsm_status_t dsm_boot_single_init(dsm_boot_t **boot_p)
{
    dsm_boot_t *boot = calloc(1, sizeof(*boot));

    if (boot == NULL) {
        dsm_error("bootstrap: out of memory");
        return DSM_ERR_NO_MEMORY;
    }
    boot->ops = &dsm_boot_single_ops;
    boot->rank = 0;
    boot->size = 1;
    dsm_warn("bootstrap: neither DSM_RANK (dsmrun) nor PMIX_RANK (mpirun, srun) is set: "
             "running as a single-node job");
    *boot_p = boot;
    return DSM_OK;
}

/*
 * Variables by which launchers that did not give dsm a bootstrap say how many
 * processes they started: srun without --mpi=pmix, a PMI-1/2 launcher, an MPI
 * launcher without PMIx. With more than one, running each process as its own
 * single-node job would silently compute N separate answers.
 */
static const char *const dsm_boot_launcher_size_vars[] = {
    "SLURM_STEP_NUM_TASKS", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE",
};

/* DSM_ERR_CONFIG, naming the launcher's variable, if it started several processes. */
static dsm_status_t dsm_boot_check_alone(void)
{
    for (size_t i = 0; i < sizeof(dsm_boot_launcher_size_vars) /
                               sizeof(dsm_boot_launcher_size_vars[0]); i++) {
        const char *value = getenv(dsm_boot_launcher_size_vars[i]);

        if (value != NULL && strtol(value, NULL, 10) > 1) {
            dsm_error("bootstrap: %s=%s says the launcher started several processes, but "
                      "none of dsmrun's or PMIx's variables is set: under Slurm use "
                      "srun --mpi=pmix, else start the job with dsmrun or mpirun",
                      dsm_boot_launcher_size_vars[i], value);
            return DSM_ERR_CONFIG;
        }
    }
    return DSM_OK;
}

static int dsm_boot_any_dsmrun_var(void)
{
    for (size_t i = 0; i < sizeof(dsm_boot_dsmrun_vars) / sizeof(dsm_boot_dsmrun_vars[0]);
         i++) {
        if (getenv(dsm_boot_dsmrun_vars[i]) != NULL) {
            return 1;
        }
    }
    return 0;
}

dsm_status_t dsm_boot_init(dsm_boot_t **boot_p)
{
    dsm_boot_t *boot;
    dsm_status_t status;

    if (dsm_boot_any_dsmrun_var()) {
        status = dsm_boot_tcp_init(&boot);
    } else if (getenv("PMIX_RANK") != NULL && getenv("PMIX_NAMESPACE") != NULL) {
#if DSM_HAVE_PMIX
        status = dsm_boot_pmix_init(&boot);
#else
        dsm_error("bootstrap: started by a PMIx launcher (PMIX_RANK is set) but dsm was "
                  "built without libpmix; rebuild with libpmix-dev or start with dsmrun");
        status = DSM_ERR_UNSUPPORTED;
#endif
    } else {
        status = dsm_boot_check_alone();
        if (status == DSM_OK) {
            status = dsm_boot_single_init(&boot);
        }
    }
    if (status != DSM_OK) {
        return status;
    }
    dsm_log_set_node(boot->rank);
    dsm_info("bootstrap: joined as node %d of %d via %s", boot->rank, boot->size,
             boot->ops->name);
    *boot_p = boot;
    return DSM_OK;
}

int dsm_boot_rank(const dsm_boot_t *boot)
{
    return boot->rank;
}

int dsm_boot_size(const dsm_boot_t *boot)
{
    return boot->size;
}

const char *dsm_boot_method(const dsm_boot_t *boot)
{
    return boot->ops->name;
}

dsm_status_t dsm_boot_allgather(dsm_boot_t *boot, const void *blob, size_t size,
                                dsm_boot_gathered_t *gathered_p)
{
    if (size > DSM_BOOT_MAX_BLOB || (blob == NULL && size > 0)) {
        dsm_error("bootstrap: allgather of %zu bytes refused (limit %u bytes)", size,
                  DSM_BOOT_MAX_BLOB);
        return DSM_ERR_INVALID_PARAM;
    }
    return boot->ops->allgather(boot, blob, size, gathered_p);
}

dsm_status_t dsm_boot_barrier(dsm_boot_t *boot)
{
    return boot->ops->barrier(boot);
}

void dsm_boot_fini(dsm_boot_t *boot)
{
    if (boot != NULL) {
        boot->ops->fini(boot);
    }
}
