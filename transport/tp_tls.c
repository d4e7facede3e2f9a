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

/* Whether the comma-separated list names one of names. */
static int dsm_tp_tls_names_any(const char *list, const char *const *names, size_t count)
{
    size_t length;

    for (; *list != '\0'; list += length + (list[length] == ',')) {
        length = strcspn(list, ",");
        for (size_t i = 0; i < count; i++) {
            if (strlen(names[i]) == length && strncmp(list, names[i], length) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

int dsm_tp_tls_shares_memory(const char *tls)
{
    static const char *const shared[] = { "all", "sm", "shm", "posix", "sysv", "cma", "xpmem",
                                          "knem" };
    static const char *const whole[] = { "all", "sm", "shm" };
    const char *list = tls != NULL ? tls : getenv("UCX_TLS");

    if (list == NULL || *list == '\0') {
        return 1;
    }
    if (*list == '^') {
        return !dsm_tp_tls_names_any(list + 1, whole, sizeof(whole) / sizeof(whole[0]));
    }
    return dsm_tp_tls_names_any(list, shared, sizeof(shared) / sizeof(shared[0]));
}

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
