/*
 * transport/ UCX configuration that the job's safety needs, applied to the
 * configuration read from the environment before the context is created
 * (docs/design.md, "Security and threat model"):
 *
 *  - never the sysv transport: UCX 1.13 creates its SysV segments (receive
 *    queues, and memory it allocates, such as the runtime's staging buffer)
 *    with mode 0660, hard-coded in uct/sm/mm/sysv, so any user of the
 *    owner's group could attach them and read or write page contents. posix
 *    (files of mode 0600, unlinked at once and shared through /proc/PID/fd,
 *    which needs ptrace rights over the process) and cma (process_vm_readv,
 *    the same rights) stay private to the user.
 *  - a job whose nodes all share this host's network namespace lets UCX's
 *    tcp transport listen on loopback only, not on every interface.
 *  - keepalive fast enough to report a lost peer within seconds.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tp_ucx.h"

/* UCX's own default (20 s) is too slow to report a lost peer within seconds. */
#define DSM_TP_KEEPALIVE_DEFAULT "1s"

/* UCX 1.13's transport aliases that include sysv, and the rest of each. */
static const struct {
    const char *alias;
    const char *without_sysv;
} dsm_tp_sysv_aliases[] = {
    { "mm",  "posix,xpmem" },
    { "sm",  "posix,xpmem,knem,cma" },
    { "shm", "posix,xpmem,knem,cma" },
};

/* Transports of those lists that need a kernel module: UCX warns at every start
 * about a transport named explicitly that it cannot open, so one whose device is
 * absent is left out of the spelled-out list, as UCX's alias would leave it. */
static const struct {
    const char *name;
    const char *device;
} dsm_tp_module_transports[] = {
    { "xpmem", "/dev/xpmem" },
    { "knem",  "/dev/knem" },
};

static int dsm_tp_transport_present(const char *name)
{
    for (size_t i = 0; i < sizeof(dsm_tp_module_transports) /
                               sizeof(dsm_tp_module_transports[0]); i++) {
        if (strcmp(name, dsm_tp_module_transports[i].name) == 0) {
            return access(dsm_tp_module_transports[i].device, F_OK) == 0;
        }
    }
    return 1;
}

/* Append text (and a comma before it unless out is empty) to out. */
static void dsm_tp_list_append(char *out, const char *text)
{
    if (out[0] != '\0') {
        strcat(out, ",");
    }
    strcat(out, text);
}

/* Append an alias's spelled-out list to out, without the transports absent here. */
static void dsm_tp_list_append_present(char *out, const char *list)
{
    char item[32];

    for (const char *p = list; *p != '\0';) {
        size_t len = strcspn(p, ",");

        if (len < sizeof(item)) {
            memcpy(item, p, len);
            item[len] = '\0';
            if (dsm_tp_transport_present(item)) {
                dsm_tp_list_append(out, item);
            }
        }
        p += len + (p[len] == ',');
    }
}

/* Nonzero if the comma-separated list names item. */
static int dsm_tp_list_has(const char *list, const char *item)
{
    size_t len = strlen(item);

    for (const char *p = list; p != NULL; p = strchr(p, ',')) {
        p += *p == ',';
        if (strncmp(p, item, len) == 0 && (p[len] == ',' || p[len] == '\0')) {
            return 1;
        }
    }
    return 0;
}

/*
 * The UCX_TLS value tls (a list, "all", or "^list") without sysv, in a
 * malloc'd string; NULL when out of memory. Aliases that include sysv are
 * spelled out without it.
 */
static char *dsm_tp_tls_without_sysv(const char *tls)
{
    /* An alias grows at most tenfold ("sm" -> 20 characters). */
    char *out = malloc(10 * strlen(tls) + sizeof(",sysv")), *copy, *save = NULL;

    if (out == NULL) {
        return NULL;
    }
    out[0] = '\0';
    if (tls[0] == '^') {
        strcpy(out, tls);
        if (!dsm_tp_list_has(tls + 1, "sysv")) {
            strcat(out, ",sysv");
        }
        return out;
    }
    if (dsm_tp_list_has(tls, "all")) {
        strcpy(out, "^sysv");
        return out;
    }
    copy = strdup(tls);
    if (copy == NULL) {
        free(out);
        return NULL;
    }
    for (char *item = strtok_r(copy, ",", &save); item != NULL;
         item = strtok_r(NULL, ",", &save)) {
        const char *spelled_out = NULL;

        if (strcmp(item, "sysv") == 0) {
            continue;
        }
        for (size_t i = 0; i < sizeof(dsm_tp_sysv_aliases) / sizeof(dsm_tp_sysv_aliases[0]);
             i++) {
            if (strcmp(item, dsm_tp_sysv_aliases[i].alias) == 0) {
                spelled_out = dsm_tp_sysv_aliases[i].without_sysv;
            }
        }
        if (spelled_out != NULL) {
            dsm_tp_list_append_present(out, spelled_out);
        } else {
            dsm_tp_list_append(out, item);
        }
    }
    free(copy);
    return out;
}

/* Nonzero if every node shares this node's kernel and pid namespace. */
static int dsm_tp_job_in_shared_memory(const dsm_tp_t *tp)
{
    for (int i = 0; i < tp->nnodes; i++) {
        if (!dsm_tp_identity_same_host(&tp->identities[tp->node], &tp->identities[i])) {
            return 0;
        }
    }
    return 1;
}

/*
 * Set UCX_TLS: the caller's choice (or the user's) without sysv. Left to
 * UCX, all transports but sysv, and not tcp either when shared memory
 * reaches every node: a tcp port, even on loopback, is open to every user of
 * the host, and UCX's software RMA over it serves the get and put requests
 * of whoever connects.
 */
static dsm_status_t dsm_tp_config_tls(dsm_tp_t *tp, ucp_config_t *config, char **tls_p)
{
    const char *asked = tp->config.tls != NULL ? tp->config.tls : getenv("UCX_TLS");
    const char *all = dsm_tp_job_in_shared_memory(tp) ? "^tcp" : "all";
    char *tls = dsm_tp_tls_without_sysv(asked != NULL ? asked : all);
    ucs_status_t status;

    if (tls == NULL) {
        dsm_error("transport: out of memory");
        return DSM_ERR_NO_MEMORY;
    }
    if (tls[0] == '\0') {
        dsm_error("transport: UCX transports \"%s\" leave none once sysv is excluded (its "
                  "segments are open to the owner's group)", asked);
        goto err_config;
    }
    if (asked != NULL && strcmp(asked, tls) != 0) {
        dsm_info("transport: UCX transports \"%s\" used as \"%s\": sysv segments are open to "
                 "the owner's group", asked, tls);
    }
    status = ucp_config_modify(config, "TLS", tls);
    if (status != UCS_OK) {
        dsm_error("transport: UCX transports \"%s\" refused: %s", tls, ucs_status_string(status));
        goto err_config;
    }
    *tls_p = tls;
    return DSM_OK;

err_config:
    free(tls);
    return DSM_ERR_CONFIG;
}

/* Nonzero if UCX_TLS value tls lets UCX use its tcp transport. */
static int dsm_tp_tls_has_tcp(const char *tls)
{
    return tls[0] == '^' ? !dsm_tp_list_has(tls + 1, "tcp") : dsm_tp_list_has(tls, "tcp");
}

int dsm_tp_tls_shares_memory(const char *tls)
{
    static const char *const shared[] = { "all", "sm", "shm", "posix", "sysv", "cma", "xpmem",
                                          "knem" };
    const char *list = tls != NULL ? tls : getenv("UCX_TLS");

    if (list == NULL || *list == '\0') {
        return 1;
    }
    if (list[0] == '^') {
        return !dsm_tp_list_has(list + 1, "all") && !dsm_tp_list_has(list + 1, "sm") &&
               !dsm_tp_list_has(list + 1, "shm");
    }
    for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++) {
        if (dsm_tp_list_has(list, shared[i])) {
            return 1;
        }
    }
    return 0;
}

/* Nonzero if every node shares this node's kernel and network namespace. */
static int dsm_tp_job_on_loopback(const dsm_tp_t *tp)
{
    for (int i = 0; i < tp->nnodes; i++) {
        if (!dsm_tp_identity_same_net(&tp->identities[tp->node], &tp->identities[i])) {
            return 0;
        }
    }
    return 1;
}

dsm_status_t dsm_tp_config_apply(dsm_tp_t *tp, ucp_config_t *config)
{
    ucs_status_t ucs_status;
    dsm_status_t status;
    char *tls;

    status = dsm_tp_config_tls(tp, config, &tls);
    if (status != DSM_OK) {
        return status;
    }
    /* The user's device list is more specific; without tcp nothing listens. */
    if (getenv("UCX_NET_DEVICES") == NULL && dsm_tp_tls_has_tcp(tls) &&
        dsm_tp_job_on_loopback(tp)) {
        ucs_status = ucp_config_modify(config, "NET_DEVICES", "lo");
        if (ucs_status != UCS_OK) {
            dsm_error("transport: UCX network devices \"lo\" refused: %s",
                      ucs_status_string(ucs_status));
            free(tls);
            return DSM_ERR_CONFIG;
        }
        dsm_debug("transport: every node is on this host: UCX network devices \"lo\"");
    }
    free(tls);
    if (getenv("UCX_KEEPALIVE_INTERVAL") == NULL) {
        ucs_status = ucp_config_modify(config, "KEEPALIVE_INTERVAL", DSM_TP_KEEPALIVE_DEFAULT);
        if (ucs_status != UCS_OK) {
            dsm_warn("transport: keepalive interval not set: %s", ucs_status_string(ucs_status));
        }
    }
    return DSM_OK;
}
