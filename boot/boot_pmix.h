/*
 * The PMIx path (boot_pmix.c, built when libpmix is found): its entry for
 * boot.c.
 */
#ifndef DSM_BOOT_PMIX_H
#define DSM_BOOT_PMIX_H

#include "boot_int.h"

/* Join through PMIx (PMIX_RANK and PMIX_NAMESPACE set by the launcher). */
dsm_status_t dsm_boot_pmix_init(dsm_boot_t **boot_p);

#endif /* DSM_BOOT_PMIX_H */
