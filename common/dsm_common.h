/*
 * common/ - services every layer may use: status conversion, logging, the clock.
 * Lowest layer: includes nothing of dsm but the public header.
 */
#ifndef DSM_COMMON_H
#define DSM_COMMON_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "dsm.h"

/* Log levels, most severe first; DSM_LOG_LEVEL selects the most verbose printed. */
typedef enum {
    DSM_LOG_LEVEL_ERROR = 0,
    DSM_LOG_LEVEL_WARN  = 1,
    DSM_LOG_LEVEL_INFO  = 2,
    DSM_LOG_LEVEL_DEBUG = 3,
    DSM_LOG_LEVEL_TRACE = 4
} dsm_log_level_t;

/* The status that corresponds to an errno value (EEXIST -> DSM_ERR_EXISTS, ...). */
dsm_status_t dsm_status_from_errno(int err);

/* The level names, indexed by level, NULL-terminated. */
extern const char *const dsm_log_level_names[];

/*
 * Parse a log level name ("error", "warn", "info", "debug", "trace") or its
 * number 0..4. Returns DSM_ERR_CONFIG for anything else.
 */
dsm_status_t dsm_log_level_parse(const char *text, dsm_log_level_t *level_p);

/* The current threshold: set by dsm_log_set_level, else DSM_LOG_LEVEL, else warn. */
dsm_log_level_t dsm_log_level(void);
void dsm_log_set_level(dsm_log_level_t level);

/* Tag log lines with this node's id once it is known (-1: unknown). */
void dsm_log_set_node(int node);

/* Write one line to stderr: "dsm[node] level: message". Thread-safe. */
void dsm_log_write(dsm_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void dsm_log_vwrite(dsm_log_level_t level, const char *fmt, va_list ap);

/* Monotonic time (CLOCK_MONOTONIC) in ns: for intervals and deadlines. */
uint64_t dsm_now_ns(void);

/* The integer at the start of a file (e.g. a /proc/sys value), or -1. */
long dsm_file_read_long(const char *path);

/* text as a JSON string: quoted, '"' and '\\' escaped, control characters dropped. */
void dsm_json_write_string(FILE *stream, const char *text);

#define dsm_log_at(level, ...)                                     \
    do {                                                           \
        if ((level) <= dsm_log_level()) {                          \
            dsm_log_write((level), __VA_ARGS__);                   \
        }                                                          \
    } while (0)

#define dsm_error(...) dsm_log_at(DSM_LOG_LEVEL_ERROR, __VA_ARGS__)
#define dsm_warn(...)  dsm_log_at(DSM_LOG_LEVEL_WARN, __VA_ARGS__)
#define dsm_info(...)  dsm_log_at(DSM_LOG_LEVEL_INFO, __VA_ARGS__)
#define dsm_debug(...) dsm_log_at(DSM_LOG_LEVEL_DEBUG, __VA_ARGS__)
#define dsm_trace(...) dsm_log_at(DSM_LOG_LEVEL_TRACE, __VA_ARGS__)

/* Wire formats are little-endian, byte by byte: they never depend on the
 * compiler's struct layout or the host's byte order. (coherence/coh_msg.c
 * keeps its own four: that layer includes nothing of common, test coh_pure.) */
static inline void dsm_le_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void dsm_le_put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static inline void dsm_le_put64(uint8_t *p, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static inline uint16_t dsm_le_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t dsm_le_get32(const uint8_t *p)
{
    uint32_t v = 0;

    for (unsigned i = 0; i < 4; i++) {
        v |= (uint32_t)p[i] << (8 * i);
    }
    return v;
}

static inline uint64_t dsm_le_get64(const uint8_t *p)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < 8; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

#endif /* DSM_COMMON_H */
