/* Logging to stderr, one line per call, threshold from DSM_LOG_LEVEL. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsm_common.h"
#include "dsm_config_parse.h"

const char *const dsm_log_level_names[] = {
    [DSM_LOG_LEVEL_ERROR] = "error",
    [DSM_LOG_LEVEL_WARN]  = "warn",
    [DSM_LOG_LEVEL_INFO]  = "info",
    [DSM_LOG_LEVEL_DEBUG] = "debug",
    [DSM_LOG_LEVEL_TRACE] = "trace",
    NULL
};
#define DSM_LOG_LEVEL_COUNT (sizeof(dsm_log_level_names) / sizeof(dsm_log_level_names[0]) - 1)

/* -1 until first use: the environment is read once, lazily. Relaxed: a racing
 * first read by two threads parses the same variable twice, harmlessly. */
static atomic_int dsm_log_threshold = -1;
static atomic_int dsm_log_node = -1;

dsm_status_t dsm_log_level_parse(const char *text, dsm_log_level_t *level_p)
{
    char *end;
    long number;

    for (size_t i = 0; i < DSM_LOG_LEVEL_COUNT; i++) {
        if (strcmp(text, dsm_log_level_names[i]) == 0) {
            *level_p = (dsm_log_level_t)i;
            return DSM_OK;
        }
    }
    number = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || number < 0 || number >= (long)DSM_LOG_LEVEL_COUNT) {
        return DSM_ERR_CONFIG;
    }
    *level_p = (dsm_log_level_t)number;
    return DSM_OK;
}

dsm_log_level_t dsm_log_level(void)
{
    int threshold = atomic_load_explicit(&dsm_log_threshold, memory_order_relaxed);
    dsm_log_level_t level = DSM_LOG_LEVEL_WARN;
    const char *text;

    if (threshold >= 0) {
        return (dsm_log_level_t)threshold;
    }
    /* A bad value means warn, as in the configuration table (runtime/config.c);
     * the table's load reports it, once, so this early read stays silent. */
    text = dsm_config_getenv("DSM_LOG_LEVEL");
    if (text != NULL && dsm_log_level_parse(text, &level) != DSM_OK) {
        level = DSM_LOG_LEVEL_WARN;
    }
    atomic_store_explicit(&dsm_log_threshold, (int)level, memory_order_relaxed);
    return level;
}

void dsm_log_set_level(dsm_log_level_t level)
{
    atomic_store_explicit(&dsm_log_threshold, (int)level, memory_order_relaxed);
}

void dsm_log_set_node(int node)
{
    atomic_store_explicit(&dsm_log_node, node, memory_order_relaxed);
}

void dsm_log_vwrite(dsm_log_level_t level, const char *fmt, va_list ap)
{
    char line[1024];
    int node = atomic_load_explicit(&dsm_log_node, memory_order_relaxed);
    int prefix;
    const char *name = (size_t)level < DSM_LOG_LEVEL_COUNT ? dsm_log_level_names[level] : "?";

    if (node >= 0) {
        prefix = snprintf(line, sizeof(line), "dsm[%d] %s: ", node, name);
    } else {
        prefix = snprintf(line, sizeof(line), "dsm %s: ", name);
    }
    vsnprintf(line + prefix, sizeof(line) - (size_t)prefix, fmt, ap);
    /* One fprintf per line: stdio locks the stream, so lines never interleave. */
    fprintf(stderr, "%s\n", line);
}

void dsm_log_write(dsm_log_level_t level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    dsm_log_vwrite(level, fmt, ap);
    va_end(ap);
}
