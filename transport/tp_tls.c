/* DSM_TRANSPORT's names in UCX's terms: only the transport layer knows UCX. */
#include <stdlib.h>
#include <string.h>

#include "dsm_common.h"
#include "dsm_tp.h"

static const struct {
    const char *transport;
    const char *tls; /* NULL: UCX's own choice */
} dsm_tp_tls_table[] = {
    {"auto", NULL},
    {"shm", "sm,self"},
    {"tcp", "tcp,self"},
    {"rdma", "rc,ud,self"},
};

dsm_status_t dsm_tp_tls_for(const char *transport, const char **tls_p)
{
    const char *user = getenv("UCX_TLS");

    for (size_t i = 0; i < sizeof(dsm_tp_tls_table) / sizeof(dsm_tp_tls_table[0]); i++) {
        if (strcmp(dsm_tp_tls_table[i].transport, transport) != 0) {
            continue;
        }
        if (user != NULL && dsm_tp_tls_table[i].tls != NULL) {
            dsm_info("UCX_TLS=%s is set and wins over DSM_TRANSPORT=%s", user, transport);
            *tls_p = NULL;
        } else {
            *tls_p = dsm_tp_tls_table[i].tls;
        }
        return DSM_OK;
    }
    dsm_error("transport: DSM_TRANSPORT=%s is none of auto, shm, tcp, rdma", transport);
    return DSM_ERR_INVALID_PARAM;
}
