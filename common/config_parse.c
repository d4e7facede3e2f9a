/* Value parsers behind every DSM_* variable. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dsm_common.h"
#include "dsm_config_parse.h"

/* Parses an unsigned integer prefix; *end_p points after it. 0 on success. */
static int dsm_config_strtou64(const char *text, char **end_p, uint64_t *value_p)
{
    unsigned long long value;

    while (isspace((unsigned char)*text)) {
        text++;
    }
    if (!isdigit((unsigned char)*text)) {
        return -1;
    }
    errno = 0;
    value = strtoull(text, end_p, 0);
    if (errno != 0) {
        return -1;
    }
    *value_p = value;
    return 0;
}

dsm_status_t dsm_config_parse_u64(const char *name, const char *text, uint64_t min,
                                  uint64_t max, uint64_t *value_p)
{
    uint64_t value;
    char *end;

    if (dsm_config_strtou64(text, &end, &value) != 0 || *end != '\0' || value < min ||
        value > max) {
        dsm_error("%s='%s' is invalid: expected an integer from %" PRIu64 " to %" PRIu64,
                  name, text, min, max);
        return DSM_ERR_CONFIG;
    }
    *value_p = value;
    return DSM_OK;
}

dsm_status_t dsm_config_parse_int(const char *name, const char *text, int min, int max,
                                  int *value_p)
{
    long value;
    char *end;

    errno = 0;
    value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < min || value > max) {
        dsm_error("%s='%s' is invalid: expected an integer from %d to %d", name, text, min,
                  max);
        return DSM_ERR_CONFIG;
    }
    *value_p = (int)value;
    return DSM_OK;
}

/* The multiplier for a size suffix ("", "K", "KiB", "kb", ...), 0 if unknown. */
static uint64_t dsm_config_size_multiplier(const char *suffix)
{
    static const char units[] = "KMGTP";
    const char *unit;

    if (*suffix == '\0' || !strcasecmp(suffix, "B")) {
        return 1;
    }
    unit = strchr(units, toupper((unsigned char)suffix[0]));
    if (unit == NULL || (suffix[1] != '\0' && strcasecmp(suffix + 1, "B") != 0 &&
                         strcasecmp(suffix + 1, "iB") != 0)) {
        return 0;
    }
    return UINT64_C(1) << (10 * (unit - units + 1));
}

dsm_status_t dsm_config_parse_size(const char *name, const char *text, uint64_t min,
                                   uint64_t max, uint64_t *value_p)
{
    uint64_t value, multiplier;
    char *end;

    if (dsm_config_strtou64(text, &end, &value) != 0 ||
        (multiplier = dsm_config_size_multiplier(end)) == 0 ||
        value > UINT64_MAX / multiplier || value * multiplier < min ||
        value * multiplier > max) {
        dsm_error("%s='%s' is invalid: expected a size from %" PRIu64 " to %" PRIu64
                  " bytes, with an optional suffix K, M, G or T", name, text, min, max);
        return DSM_ERR_CONFIG;
    }
    *value_p = value * multiplier;
    return DSM_OK;
}

dsm_status_t dsm_config_parse_bool(const char *name, const char *text, int *value_p)
{
    static const char *const names[] = { "0", "no", "off", "false", "1", "yes", "on", "true" };
    int index;

    for (index = 0; index < (int)(sizeof(names) / sizeof(names[0])); index++) {
        if (!strcasecmp(text, names[index])) {
            *value_p = index >= 4;
            return DSM_OK;
        }
    }
    dsm_error("%s='%s' is invalid: expected 1/0, yes/no, on/off or true/false", name, text);
    return DSM_ERR_CONFIG;
}

dsm_status_t dsm_config_parse_choice(const char *name, const char *text,
                                     const char *const *names, int *index_p)
{
    char accepted[256] = "";
    size_t used = 0;

    for (size_t i = 0; names[i] != NULL; i++) {
        if (!strcasecmp(text, names[i])) {
            *index_p = (int)i;
            return DSM_OK;
        }
    }
    for (size_t i = 0; names[i] != NULL && used < sizeof(accepted); i++) {
        used += (size_t)snprintf(accepted + used, sizeof(accepted) - used, "%s%s",
                                 i ? ", " : "", names[i]);
    }
    dsm_error("%s='%s' is invalid: expected one of %s", name, text, accepted);
    return DSM_ERR_CONFIG;
}

const char *dsm_config_getenv(const char *name)
{
    const char *value = getenv(name);

    return value != NULL && value[0] != '\0' ? value : NULL;
}
