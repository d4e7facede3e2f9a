/* The VMAs of this process that cover a range, from /proc/self/maps. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dsm_common.h"
#include "dsm_uffd.h"

dsm_status_t dsm_uffd_range_vmas(const void *addr, size_t len, size_t *count_p)
{
    unsigned long lo, hi, start = (unsigned long)(uintptr_t)addr, end = start + len;
    char line[512];
    size_t count = 0;
    FILE *maps = fopen("/proc/self/maps", "re");

    if (maps == NULL) {
        int err = errno; /* possible at vm.max_map_count: fopen needs memory */

        dsm_debug("/proc/self/maps: %s", strerror(err));
        return dsm_status_from_errno(err);
    }
    while (fgets(line, sizeof(line), maps) != NULL) {
        /* a line longer than the buffer continues without a range: sscanf fails on it */
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo < end && hi > start) {
            count++;
        }
    }
    fclose(maps);
    *count_p = count;
    return DSM_OK;
}
