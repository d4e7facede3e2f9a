/*
 * The runtime's configuration: one table of DSM_* variables, each with its
 * default, its parser and the dsm_config_t field that overrides it.
 * docs/config.md documents the same table.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dsm_common.h"
#include "dsm_config_parse.h"
#include "dsm_rt.h"

/* x86-64 user space ends at 2^47; keep the arena clear of the stack region. */
#define DSM_RT_ADDRESS_LIMIT   (UINT64_C(0x7f0000000000))
#define DSM_RT_ARENA_SIZE_MAX  (UINT64_C(64) << 40) /* 64 TiB */

static const char *const dsm_rt_placement_names[] = { "cyclic", "blocked" };
static const char *const dsm_rt_transport_names[] = { "auto", "shm", "tcp", "rdma" };

typedef dsm_status_t (*dsm_rt_config_parse_fn)(const char *name, const char *text,
                                               dsm_rt_config_t *config);

typedef struct {
    const char            *name;
    const char            *default_text;
    uint64_t               field_bit;   /* the dsm_config_t field that overrides it */
    dsm_rt_config_parse_fn parse;
} dsm_rt_config_entry_t;

static dsm_status_t dsm_rt_parse_arena_size(const char *name, const char *text,
                                            dsm_rt_config_t *config)
{
    uint64_t size;
    dsm_status_t status = dsm_config_parse_size(name, text, DSM_RT_PAGE_SIZE,
                                                DSM_RT_ARENA_SIZE_MAX, &size);

    if (status != DSM_OK) {
        return status;
    }
    if (size % DSM_RT_PAGE_SIZE != 0) {
        dsm_error("%s='%s' is invalid: the arena size must be a multiple of %u bytes", name,
                  text, DSM_RT_PAGE_SIZE);
        return DSM_ERR_CONFIG;
    }
    config->arena_size = size;
    return DSM_OK;
}

static dsm_status_t dsm_rt_parse_arena_address(const char *name, const char *text,
                                               dsm_rt_config_t *config)
{
    uint64_t address;
    dsm_status_t status = dsm_config_parse_u64(name, text, DSM_RT_PAGE_SIZE,
                                               DSM_RT_ADDRESS_LIMIT, &address);

    if (status != DSM_OK) {
        return status;
    }
    if (address % DSM_RT_PAGE_SIZE != 0) {
        dsm_error("%s='%s' is invalid: the arena address must be page-aligned", name, text);
        return DSM_ERR_CONFIG;
    }
    config->arena_address = address;
    return DSM_OK;
}

static dsm_status_t dsm_rt_parse_placement(const char *name, const char *text,
                                           dsm_rt_config_t *config)
{
    int index;
    dsm_status_t status = dsm_config_parse_choice(name, text, dsm_rt_placement_names, 2,
                                                  &index);

    if (status == DSM_OK) {
        config->placement = (dsm_placement_t)index;
    }
    return status;
}

static dsm_status_t dsm_rt_parse_transport(const char *name, const char *text,
                                           dsm_rt_config_t *config)
{
    int index;
    dsm_status_t status = dsm_config_parse_choice(name, text, dsm_rt_transport_names, 4,
                                                  &index);

    if (status == DSM_OK) {
        config->transport = (dsm_rt_transport_t)index;
    }
    return status;
}

static dsm_status_t dsm_rt_parse_spin_us(const char *name, const char *text,
                                         dsm_rt_config_t *config)
{
    uint64_t spin_us;
    dsm_status_t status;

    if (!strcmp(text, "auto")) {
        config->spin_us = DSM_RT_SPIN_US_DEFAULT;
        return DSM_OK;
    }
    status = dsm_config_parse_u64(name, text, 0, DSM_RT_SPIN_US_MAX, &spin_us);

    if (status == DSM_OK) {
        config->spin_us = (unsigned)spin_us;
    }
    return status;
}

static dsm_status_t dsm_rt_parse_readahead(const char *name, const char *text,
                                           dsm_rt_config_t *config)
{
    uint64_t pages;
    dsm_status_t status = dsm_config_parse_u64(name, text, 0, DSM_RT_READAHEAD_MAX, &pages);

    if (status == DSM_OK) {
        config->readahead = (unsigned)pages;
    }
    return status;
}

static dsm_status_t dsm_rt_parse_service_nice(const char *name, const char *text,
                                              dsm_rt_config_t *config)
{
    return dsm_config_parse_int(name, text, -20, 19, &config->service_nice);
}

/* A bad level warns and means warn (docs/config.md): logging must not stop a job. */
static dsm_status_t dsm_rt_parse_log_level(const char *name, const char *text,
                                           dsm_rt_config_t *config)
{
    if (dsm_log_level_parse(text, &config->log_level) != DSM_OK) {
        dsm_warn("%s='%s' is invalid: expected error, warn, info, debug, trace or 0..4; "
                 "using warn", name, text);
        config->log_level = DSM_LOG_LEVEL_WARN;
    }
    return DSM_OK;
}

static dsm_status_t dsm_rt_parse_stats(const char *name, const char *text,
                                       dsm_rt_config_t *config)
{
    return dsm_config_parse_bool(name, text, &config->stats);
}

static const dsm_rt_config_entry_t dsm_rt_config_table[] = {
    { "DSM_ARENA_SIZE", "1G", DSM_CONFIG_FIELD_ARENA_SIZE, dsm_rt_parse_arena_size },
    { "DSM_ARENA_ADDRESS", "0x200000000000", DSM_CONFIG_FIELD_ARENA_ADDRESS,
      dsm_rt_parse_arena_address },
    { "DSM_PLACEMENT", "cyclic", DSM_CONFIG_FIELD_PLACEMENT, dsm_rt_parse_placement },
    { "DSM_TRANSPORT", "auto", DSM_CONFIG_FIELD_TRANSPORT, dsm_rt_parse_transport },
    { "DSM_SPIN_US", "auto", DSM_CONFIG_FIELD_SPIN_US, dsm_rt_parse_spin_us },
    { "DSM_READAHEAD", "64", DSM_CONFIG_FIELD_READAHEAD, dsm_rt_parse_readahead },
    { "DSM_SERVICE_NICE", "-10", DSM_CONFIG_FIELD_SERVICE_NICE, dsm_rt_parse_service_nice },
    { "DSM_LOG_LEVEL", "warn", DSM_CONFIG_FIELD_LOG_LEVEL, dsm_rt_parse_log_level },
    { "DSM_STATS", "0", DSM_CONFIG_FIELD_STATS, dsm_rt_parse_stats },
};

#define DSM_RT_CONFIG_COUNT (sizeof(dsm_rt_config_table) / sizeof(dsm_rt_config_table[0]))

/* The text form of a field set in the caller's dsm_config_t, parsed like the
 * environment so both are checked by the same code. */
static const char *dsm_rt_config_user_text(const dsm_config_t *user, uint64_t bit,
                                           char *buffer, size_t size)
{
    switch (bit) {
    case DSM_CONFIG_FIELD_ARENA_SIZE:
        snprintf(buffer, size, "%" PRIu64, user->arena_size);
        break;
    case DSM_CONFIG_FIELD_ARENA_ADDRESS:
        snprintf(buffer, size, "0x%" PRIx64, user->arena_address);
        break;
    case DSM_CONFIG_FIELD_PLACEMENT:
        snprintf(buffer, size, "%s", (unsigned)user->placement < 2 ?
                 dsm_rt_placement_names[user->placement] : "(invalid)");
        break;
    case DSM_CONFIG_FIELD_TRANSPORT:
        snprintf(buffer, size, "%s", user->transport ? user->transport : "(null)");
        break;
    case DSM_CONFIG_FIELD_SPIN_US:
        snprintf(buffer, size, "%u", user->spin_us);
        break;
    case DSM_CONFIG_FIELD_READAHEAD:
        snprintf(buffer, size, "%u", user->readahead);
        break;
    case DSM_CONFIG_FIELD_SERVICE_NICE:
        snprintf(buffer, size, "%d", user->service_nice);
        break;
    case DSM_CONFIG_FIELD_LOG_LEVEL:
        snprintf(buffer, size, "%d", user->log_level);
        break;
    case DSM_CONFIG_FIELD_STATS:
        snprintf(buffer, size, "%d", user->stats != 0);
        break;
    }
    return buffer;
}

dsm_status_t dsm_rt_config_load(const dsm_config_t *user, dsm_rt_config_t *config_p)
{
    dsm_rt_config_t config;
    uint64_t known_bits = 0;

    memset(&config, 0, sizeof(config));
    for (size_t i = 0; i < DSM_RT_CONFIG_COUNT; i++) {
        const dsm_rt_config_entry_t *entry = &dsm_rt_config_table[i];
        const char *env = dsm_config_getenv(entry->name);
        char user_text[64];
        const char *text = entry->default_text;
        dsm_status_t status;

        known_bits |= entry->field_bit;
        if (user != NULL && (user->field_mask & entry->field_bit)) {
            text = dsm_rt_config_user_text(user, entry->field_bit, user_text,
                                           sizeof(user_text));
        } else if (env != NULL) {
            text = env;
        }
        status = entry->parse(entry->name, text, &config);
        if (status != DSM_OK) {
            return status;
        }
    }
    if (user != NULL && (user->field_mask & ~known_bits)) {
        dsm_error("dsm_config_t.field_mask has unknown bits 0x%" PRIx64,
                  user->field_mask & ~known_bits);
        return DSM_ERR_CONFIG;
    }
    if (config.arena_address + config.arena_size > DSM_RT_ADDRESS_LIMIT) {
        dsm_error("the arena [0x%" PRIx64 ", +%" PRIu64 ") ends beyond the user address space "
                  "(0x%" PRIx64 "): lower DSM_ARENA_ADDRESS or DSM_ARENA_SIZE",
                  config.arena_address, config.arena_size, DSM_RT_ADDRESS_LIMIT);
        return DSM_ERR_CONFIG;
    }
    *config_p = config;
    return DSM_OK;
}

const char *dsm_rt_transport_name(dsm_rt_transport_t transport)
{
    return dsm_rt_transport_names[transport];
}
