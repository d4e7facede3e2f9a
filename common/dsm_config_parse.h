/*
 * Parsers for DSM_* configuration values, shared by every layer so that each
 * kind of value is accepted and refused the same way everywhere. Each returns
 * DSM_ERR_CONFIG and logs one error naming the variable and what it accepts;
 * the output is set only on success.
 */
#ifndef DSM_CONFIG_PARSE_H
#define DSM_CONFIG_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "dsm.h"

/* A decimal (or 0x hex) integer in [min, max]. */
dsm_status_t dsm_config_parse_u64(const char *name, const char *text, uint64_t min,
                                  uint64_t max, uint64_t *value_p);

/* A decimal integer, optionally negative, in [min, max]. */
dsm_status_t dsm_config_parse_int(const char *name, const char *text, int min, int max,
                                  int *value_p);

/* A byte count with an optional binary suffix: K, M, G, T (also KiB, KB, k...), in [min, max]. */
dsm_status_t dsm_config_parse_size(const char *name, const char *text, uint64_t min,
                                   uint64_t max, uint64_t *value_p);

/* 1/0, yes/no, on/off, true/false (any case). */
dsm_status_t dsm_config_parse_bool(const char *name, const char *text, int *value_p);

/* One of names (NULL-terminated; exact, any case); the index is returned. */
dsm_status_t dsm_config_parse_choice(const char *name, const char *text,
                                     const char *const *names, int *index_p);

/* The value of the environment variable name, or NULL when unset or empty. */
const char *dsm_config_getenv(const char *name);

#endif /* DSM_CONFIG_PARSE_H */
