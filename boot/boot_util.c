/*
 * Helpers every bootstrap path uses: the gathered result's allocation and
 * release, and DSM_BOOT_TIMEOUT. Kept out of boot.c so that the paths never
 * call into the file that chooses them.
 */
#include <stdlib.h>

#include "boot_int.h"
#include "dsm_common.h"
#include "dsm_config_parse.h"

#define DSM_BOOT_TIMEOUT_DEFAULT_S 60
#define DSM_BOOT_TIMEOUT_MAX_S     86400

dsm_status_t dsm_boot_timeout_ms(int *timeout_ms_p)
{
    const char *text = dsm_config_getenv("DSM_BOOT_TIMEOUT");
    uint64_t seconds = DSM_BOOT_TIMEOUT_DEFAULT_S;
    dsm_status_t status;

    if (text != NULL) {
        status = dsm_config_parse_u64("DSM_BOOT_TIMEOUT", text, 1, DSM_BOOT_TIMEOUT_MAX_S,
                                      &seconds);
        if (status != DSM_OK) {
            return status;
        }
    }
    *timeout_ms_p = (int)seconds * 1000;
    return DSM_OK;
}

dsm_status_t dsm_boot_gathered_alloc(int count, dsm_boot_gathered_t *gathered_p)
{
    dsm_boot_gathered_t gathered;

    gathered.count = count;
    gathered.blobs = calloc((size_t)count, sizeof(*gathered.blobs));
    gathered.sizes = calloc((size_t)count, sizeof(*gathered.sizes));
    if (gathered.blobs == NULL || gathered.sizes == NULL) {
        free(gathered.blobs);
        free(gathered.sizes);
        dsm_error("bootstrap: out of memory for %d gathered blobs", count);
        return DSM_ERR_NO_MEMORY;
    }
    *gathered_p = gathered;
    return DSM_OK;
}

void dsm_boot_gathered_free(dsm_boot_gathered_t *gathered)
{
    if (gathered == NULL || gathered->blobs == NULL) {
        return;
    }
    for (int i = 0; i < gathered->count; i++) {
        free(gathered->blobs[i]);
    }
    free(gathered->blobs);
    free(gathered->sizes);
    gathered->blobs = NULL;
    gathered->sizes = NULL;
    gathered->count = 0;
}
