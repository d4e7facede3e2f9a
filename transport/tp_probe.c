/* The UCX device probe behind dsm-info: UCT components, memory domains, transports. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ucp/api/ucp.h>
#include <uct/api/uct.h>

#include "dsm_common.h"
#include "dsm_tp_probe.h"

static const char *dsm_tp_probe_kind(uct_device_type_t type)
{
    switch (type) {
    case UCT_DEVICE_TYPE_NET:
        return "network";
    case UCT_DEVICE_TYPE_SHM:
        return "shared memory";
    case UCT_DEVICE_TYPE_ACC:
        return "accelerator";
    default:
        return "loopback";
    }
}

/* Verbs transports (IB, RoCE) live in UCX's "ib" component and carry these names. */
static int dsm_tp_probe_is_rdma(const char *component, const char *tl)
{
    return !strcmp(component, "ib") || !strncmp(tl, "rc", 2) || !strncmp(tl, "dc", 2) ||
           !strncmp(tl, "ud", 2);
}

static dsm_status_t dsm_tp_probe_append(dsm_tp_probe_t *probe, size_t *capacity,
                                        const char *component, const char *md,
                                        const uct_tl_resource_desc_t *tl)
{
    dsm_tp_probe_resource_t *entry;

    if (probe->count == *capacity) {
        size_t grown = *capacity ? 2 * *capacity : 16;
        dsm_tp_probe_resource_t *resources =
            realloc(probe->resources, grown * sizeof(*resources));

        if (resources == NULL) {
            return DSM_ERR_NO_MEMORY;
        }
        probe->resources = resources;
        *capacity = grown;
    }
    entry = &probe->resources[probe->count++];
    snprintf(entry->component, sizeof(entry->component), "%s", component);
    snprintf(entry->md, sizeof(entry->md), "%s", md);
    snprintf(entry->transport, sizeof(entry->transport), "%s", tl->tl_name);
    snprintf(entry->device, sizeof(entry->device), "%s", tl->dev_name);
    entry->kind = dsm_tp_probe_kind(tl->dev_type);
    entry->rdma = dsm_tp_probe_is_rdma(component, tl->tl_name);
    return DSM_OK;
}

/* Open one memory domain and append its transport resources. */
static dsm_status_t dsm_tp_probe_md(dsm_tp_probe_t *probe, size_t *capacity,
                                    uct_component_h component, const char *component_name,
                                    const char *md_name)
{
    uct_tl_resource_desc_t *tls;
    uct_md_config_t *config;
    dsm_status_t status = DSM_OK;
    unsigned tl_count;
    uct_md_h md;

    if (uct_md_config_read(component, NULL, NULL, &config) != UCS_OK) {
        dsm_debug("ucx: cannot read the configuration of %s/%s", component_name, md_name);
        return DSM_OK;
    }
    if (uct_md_open(component, md_name, config, &md) != UCS_OK) {
        dsm_debug("ucx: cannot open memory domain %s/%s", component_name, md_name);
        goto out_config;
    }
    if (uct_md_query_tl_resources(md, &tls, &tl_count) != UCS_OK) {
        dsm_debug("ucx: cannot list the transports of %s/%s", component_name, md_name);
        goto out_md;
    }
    for (unsigned i = 0; i < tl_count && status == DSM_OK; i++) {
        status = dsm_tp_probe_append(probe, capacity, component_name, md_name, &tls[i]);
    }
    uct_release_tl_resource_list(tls);
out_md:
    uct_md_close(md);
out_config:
    uct_config_release(config);
    return status;
}

/* Append every memory domain's resources of one component. */
static dsm_status_t dsm_tp_probe_component(dsm_tp_probe_t *probe, size_t *capacity,
                                           uct_component_h component)
{
    uct_component_attr_t attr = {.field_mask = UCT_COMPONENT_ATTR_FIELD_NAME |
                                               UCT_COMPONENT_ATTR_FIELD_MD_RESOURCE_COUNT};
    dsm_status_t status = DSM_OK;

    if (uct_component_query(component, &attr) != UCS_OK) {
        return DSM_ERR_TRANSPORT;
    }
    if (attr.md_resource_count == 0) {
        return DSM_OK;
    }
    attr.md_resources = calloc(attr.md_resource_count, sizeof(*attr.md_resources));
    if (attr.md_resources == NULL) {
        return DSM_ERR_NO_MEMORY;
    }
    attr.field_mask = UCT_COMPONENT_ATTR_FIELD_MD_RESOURCES;
    if (uct_component_query(component, &attr) != UCS_OK) {
        status = DSM_ERR_TRANSPORT;
    }
    for (unsigned i = 0; i < attr.md_resource_count && status == DSM_OK; i++) {
        status = dsm_tp_probe_md(probe, capacity, component, attr.name,
                                 attr.md_resources[i].md_name);
    }
    free(attr.md_resources);
    return status;
}

dsm_status_t dsm_tp_probe_query(dsm_tp_probe_t *probe_p)
{
    dsm_tp_probe_t probe = {.count = 0, .resources = NULL};
    uct_component_h *components;
    unsigned component_count, major, minor, release;
    dsm_status_t status = DSM_OK;
    size_t capacity = 0;

    ucp_get_version(&major, &minor, &release);
    snprintf(probe.ucx_version, sizeof(probe.ucx_version), "%u.%u.%u", major, minor, release);
    if (uct_query_components(&components, &component_count) != UCS_OK) {
        dsm_error("ucx: cannot list the UCT components");
        return DSM_ERR_TRANSPORT;
    }
    for (unsigned i = 0; i < component_count && status == DSM_OK; i++) {
        status = dsm_tp_probe_component(&probe, &capacity, components[i]);
    }
    uct_release_component_list(components);
    if (status != DSM_OK) {
        dsm_error("ucx: probing transports failed: %s", dsm_strerror(status));
        free(probe.resources);
        return status;
    }
    *probe_p = probe;
    return DSM_OK;
}

void dsm_tp_probe_release(dsm_tp_probe_t *probe)
{
    free(probe->resources);
    probe->resources = NULL;
    probe->count = 0;
}

size_t dsm_tp_probe_rdma_count(const dsm_tp_probe_t *probe)
{
    size_t count = 0;

    for (size_t i = 0; i < probe->count; i++) {
        count += probe->resources[i].rdma != 0;
    }
    return count;
}
