/* Unit tests of common/: status strings, errno mapping, config value parsers, name distance,
 * the page map. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "dsm_common.h"
#include "dsm_config_parse.h"
#include "dsm_config_table.h"
#include "dsm_pagemap.h"
#include "dsm_test.h"

static dsm_test_result_t test_status_strings(void)
{
    /* Every status from DSM_INPROGRESS down to the last failure has its own text. */
    for (int status = DSM_INPROGRESS; status >= DSM_ERR_CANCELED; status--) {
        const char *text = dsm_strerror((dsm_status_t)status);

        DSM_CHECKF(text != NULL && strcmp(text, "unknown status") != 0, "status %d", status);
        for (int other = status - 1; other >= DSM_ERR_CANCELED; other--) {
            DSM_CHECKF(strcmp(text, dsm_strerror((dsm_status_t)other)) != 0,
                       "statuses %d and %d share '%s'", status, other, text);
        }
    }
    DSM_CHECK(!strcmp(dsm_strerror((dsm_status_t)(DSM_ERR_CANCELED - 1)), "unknown status"));
    DSM_CHECK(!strcmp(dsm_strerror((dsm_status_t)2), "unknown status"));
    return DSM_TEST_PASS;
}

static dsm_test_result_t test_errno_mapping(void)
{
    DSM_CHECK(dsm_status_from_errno(0) == DSM_OK);
    DSM_CHECK(dsm_status_from_errno(EEXIST) == DSM_ERR_EXISTS);
    DSM_CHECK(dsm_status_from_errno(EAGAIN) == DSM_ERR_AGAIN);
    DSM_CHECK(dsm_status_from_errno(ENOENT) == DSM_ERR_NO_ENTRY);
    DSM_CHECK(dsm_status_from_errno(ENOMEM) == DSM_ERR_NO_MEMORY);
    DSM_CHECK(dsm_status_from_errno(EPERM) == DSM_ERR_PERMISSION);
    DSM_CHECK(dsm_status_from_errno(EIO) == DSM_ERR_IO);
    return DSM_TEST_PASS;
}

static dsm_test_result_t test_parse_u64(void)
{
    uint64_t value = 7;

    DSM_CHECK(dsm_config_parse_u64("X", "42", 0, 100, &value) == DSM_OK && value == 42);
    DSM_CHECK(dsm_config_parse_u64("X", "0x10", 0, 100, &value) == DSM_OK && value == 16);
    value = 7;
    DSM_CHECK(dsm_config_parse_u64("X", "101", 0, 100, &value) == DSM_ERR_CONFIG);
    DSM_CHECK(dsm_config_parse_u64("X", "-1", 0, 100, &value) == DSM_ERR_CONFIG);
    DSM_CHECK(dsm_config_parse_u64("X", "12abc", 0, 100, &value) == DSM_ERR_CONFIG);
    DSM_CHECK(dsm_config_parse_u64("X", "", 0, 100, &value) == DSM_ERR_CONFIG);
    DSM_CHECK(dsm_config_parse_u64("X", "99999999999999999999999", 0, UINT64_MAX, &value) ==
              DSM_ERR_CONFIG);
    DSM_CHECK(value == 7); /* untouched on failure */
    return DSM_TEST_PASS;
}

static dsm_test_result_t test_parse_int(void)
{
    int value = 7;

    DSM_CHECK(dsm_config_parse_int("X", "-10", -20, 19, &value) == DSM_OK && value == -10);
    DSM_CHECK(dsm_config_parse_int("X", "19", -20, 19, &value) == DSM_OK && value == 19);
    value = 7;
    DSM_CHECK(dsm_config_parse_int("X", "-21", -20, 19, &value) == DSM_ERR_CONFIG);
    DSM_CHECK(dsm_config_parse_int("X", "20", -20, 19, &value) == DSM_ERR_CONFIG);
    DSM_CHECK(dsm_config_parse_int("X", "-", -20, 19, &value) == DSM_ERR_CONFIG);
    DSM_CHECK(dsm_config_parse_int("X", "", -20, 19, &value) == DSM_ERR_CONFIG);
    DSM_CHECK(dsm_config_parse_int("X", "5x", -20, 19, &value) == DSM_ERR_CONFIG);
    DSM_CHECK(dsm_config_parse_int("X", "99999999999999999999", -20, 19, &value) ==
              DSM_ERR_CONFIG);
    DSM_CHECK(value == 7); /* untouched on failure */
    return DSM_TEST_PASS;
}

static dsm_test_result_t test_parse_size(void)
{
    uint64_t value = 0;

    DSM_CHECK(dsm_config_parse_size("X", "4096", 1, UINT64_MAX, &value) == DSM_OK &&
              value == 4096);
    DSM_CHECK(dsm_config_parse_size("X", "1G", 1, UINT64_MAX, &value) == DSM_OK &&
              value == (UINT64_C(1) << 30));
    DSM_CHECK(dsm_config_parse_size("X", "2TiB", 1, UINT64_MAX, &value) == DSM_OK &&
              value == (UINT64_C(2) << 40));
    DSM_CHECK(dsm_config_parse_size("X", "64kb", 1, UINT64_MAX, &value) == DSM_OK &&
              value == 65536);
    DSM_CHECK(dsm_config_parse_size("X", "1X", 1, UINT64_MAX, &value) == DSM_ERR_CONFIG);
    DSM_CHECK(dsm_config_parse_size("X", "1Gb2", 1, UINT64_MAX, &value) == DSM_ERR_CONFIG);
    DSM_CHECK(dsm_config_parse_size("X", "17179869184T", 1, UINT64_MAX, &value) ==
              DSM_ERR_CONFIG); /* overflows 64 bits */
    DSM_CHECK(dsm_config_parse_size("X", "2G", 1, UINT64_C(1) << 30, &value) == DSM_ERR_CONFIG);
    return DSM_TEST_PASS;
}

static dsm_test_result_t test_parse_bool_and_choice(void)
{
    static const char *const names[] = { "cyclic", "blocked", NULL };
    int value = -1;

    DSM_CHECK(dsm_config_parse_bool("X", "YES", &value) == DSM_OK && value == 1);
    DSM_CHECK(dsm_config_parse_bool("X", "off", &value) == DSM_OK && value == 0);
    DSM_CHECK(dsm_config_parse_bool("X", "2", &value) == DSM_ERR_CONFIG);
    DSM_CHECK(dsm_config_parse_choice("X", "Blocked", names, &value) == DSM_OK && value == 1);
    DSM_CHECK(dsm_config_parse_choice("X", "cyc", names, &value) == DSM_ERR_CONFIG);
    return DSM_TEST_PASS;
}

static dsm_test_result_t test_config_distance(void)
{
    char long_name[80];

    memset(long_name, 'A', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    DSM_CHECK(dsm_config_distance("DSM_STATS", "DSM_STATS") == 0);
    DSM_CHECK(dsm_config_distance("dsm_stats", "DSM_STATS") == 0);      /* any case     */
    DSM_CHECK(dsm_config_distance("DSM_READAHAED", "DSM_READAHEAD") == 1); /* transposed */
    DSM_CHECK(dsm_config_distance("DSM_STAT", "DSM_STATS") == 1);       /* deleted      */
    DSM_CHECK(dsm_config_distance("kitten", "sitting") == 3);
    DSM_CHECK(dsm_config_distance("", "abc") == 3 && dsm_config_distance("abc", "") == 3);
    DSM_CHECK(dsm_config_distance("ab", "ba") == 1);
    DSM_CHECK(dsm_config_distance("CA", "ABC") == 3); /* restricted: no edit inside a swap */
    DSM_CHECK(dsm_config_distance(long_name, "DSM_STATS") == SIZE_MAX);
    return DSM_TEST_PASS;
}

static dsm_test_result_t test_log_level_parse(void)
{
    dsm_log_level_t level;

    DSM_CHECK(dsm_log_level_parse("debug", &level) == DSM_OK && level == DSM_LOG_LEVEL_DEBUG);
    DSM_CHECK(dsm_log_level_parse("0", &level) == DSM_OK && level == DSM_LOG_LEVEL_ERROR);
    DSM_CHECK(dsm_log_level_parse("5", &level) == DSM_ERR_CONFIG);
    DSM_CHECK(dsm_log_level_parse("loud", &level) == DSM_ERR_CONFIG);
    return DSM_TEST_PASS;
}

/* The page map agrees with a reference array through inserts, overwrites and
 * removals that force growth and backward shifts over wrapped probe runs. */
static dsm_test_result_t test_pagemap_against_reference(void)
{
    enum { KEYS = 5000 };
    static uint64_t reference[KEYS]; /* 0: absent, else value + 1 */
    dsm_pagemap_t map;
    uint64_t state = 12345, value;

    DSM_CHECK(dsm_pagemap_init(&map, 4) == DSM_OK);
    for (int step = 0; step < 200000; step++) {
        uint64_t key;

        state = state * 6364136223846793005ull + 1442695040888963407ull;
        key = (state >> 33) % KEYS;
        if ((state >> 20) & 1) {
            DSM_CHECK(dsm_pagemap_put(&map, key * 4096, (uint64_t)step) == DSM_OK);
            reference[key] = (uint64_t)step + 1;
        } else {
            bool present = dsm_pagemap_take(&map, key * 4096, &value);

            DSM_CHECK(present == (reference[key] != 0));
            DSM_CHECK(!present || value == reference[key] - 1);
            reference[key] = 0;
        }
    }
    for (uint64_t key = 0; key < KEYS; key++) {
        bool present = dsm_pagemap_find(&map, key * 4096, &value);

        DSM_CHECK(present == (reference[key] != 0));
        DSM_CHECK(!present || value == reference[key] - 1);
    }
    dsm_pagemap_clear(&map);
    DSM_CHECK(map.count == 0 && !dsm_pagemap_find(&map, 0, NULL));
    dsm_pagemap_fini(&map);
    return DSM_TEST_PASS;
}

/* A reserve is what may grow (and fail): the insert after it leaves the slot
 * array where it is, so a caller can reserve before changing anything else. */
static dsm_test_result_t test_pagemap_reserve_then_insert(void)
{
    dsm_pagemap_t map;
    uint64_t value;

    DSM_CHECK(dsm_pagemap_init(&map, 0) == DSM_OK);
    for (uint64_t page = 0; page < 1000; page++) {
        const dsm_pagemap_slot_t *slots;

        DSM_CHECK(dsm_pagemap_reserve(&map) == DSM_OK);
        DSM_CHECK((map.count + 1) * 2 <= map.mask + 1);
        slots = map.slots;
        dsm_pagemap_insert(&map, page, page * 3);
        DSM_CHECK(map.slots == slots && map.count == page + 1);
    }
    /* Overwriting an existing key takes no room. */
    dsm_pagemap_insert(&map, 7, 1);
    DSM_CHECK(map.count == 1000 && dsm_pagemap_find(&map, 7, &value) && value == 1);
    dsm_pagemap_fini(&map);
    return DSM_TEST_PASS;
}

static const dsm_test_case_t cases[] = {
    { "status_strings", NULL, test_status_strings, 0 },
    { "errno_mapping", NULL, test_errno_mapping, 0 },
    { "parse_u64", NULL, test_parse_u64, 0 },
    { "parse_int", NULL, test_parse_int, 0 },
    { "parse_size", NULL, test_parse_size, 0 },
    { "parse_bool_and_choice", NULL, test_parse_bool_and_choice, 0 },
    { "log_level_parse", NULL, test_log_level_parse, 0 },
    { "config_distance", NULL, test_config_distance, 0 },
    { "pagemap_against_reference", NULL, test_pagemap_against_reference, 0 },
    { "pagemap_reserve_then_insert", NULL, test_pagemap_reserve_then_insert, 0 },
};

int main(int argc, char **argv)
{
    return dsm_test_main(argc, argv, cases, DSM_TEST_ARRAY_SIZE(cases));
}
