/* Unit tests of runtime/ pieces that need no job: configuration, placement. */
#include <stdlib.h>
#include <string.h>

#include "dsm_rt.h"
#include "dsm_test.h"

static dsm_test_result_t test_config_defaults(void)
{
    dsm_rt_config_t config;

    unsetenv("DSM_ARENA_SIZE");
    unsetenv("DSM_PLACEMENT");
    DSM_CHECK(dsm_rt_config_load(NULL, &config) == DSM_OK);
    DSM_CHECK(config.arena_size == (UINT64_C(1) << 30));
    DSM_CHECK(config.placement == DSM_PLACEMENT_CYCLIC);
    DSM_CHECK(config.transport == DSM_RT_TRANSPORT_AUTO);
    DSM_CHECK(config.stats == 0);
    DSM_CHECK(config.spin_us == DSM_RT_SPIN_US_DEFAULT); /* auto */
    DSM_CHECK(config.readahead == 64);
    DSM_CHECK(config.service_nice == -10);
    setenv("DSM_SPIN_US", "20", 1);
    DSM_CHECK(dsm_rt_config_load(NULL, &config) == DSM_OK && config.spin_us == 20);
    unsetenv("DSM_SPIN_US");
    return DSM_TEST_PASS;
}

static dsm_test_result_t test_config_environment(void)
{
    dsm_rt_config_t config;

    setenv("DSM_ARENA_SIZE", "1T", 1);
    setenv("DSM_PLACEMENT", "blocked", 1);
    setenv("DSM_TRANSPORT", "tcp", 1);
    setenv("DSM_STATS", "yes", 1);
    setenv("DSM_READAHEAD", "0", 1);
    setenv("DSM_SERVICE_NICE", "5", 1);
    DSM_CHECK(dsm_rt_config_load(NULL, &config) == DSM_OK);
    DSM_CHECK(config.readahead == 0 && config.service_nice == 5);
    unsetenv("DSM_READAHEAD");
    unsetenv("DSM_SERVICE_NICE");
    DSM_CHECK(config.arena_size == (UINT64_C(1) << 40));
    DSM_CHECK(config.placement == DSM_PLACEMENT_BLOCKED);
    DSM_CHECK(config.transport == DSM_RT_TRANSPORT_TCP);
    DSM_CHECK(config.stats == 1);
    return DSM_TEST_PASS;
}

static dsm_test_result_t test_config_bad_values(void)
{
    static const char *const bad[][2] = {
        { "DSM_ARENA_SIZE", "12345" },      /* not a page multiple */
        { "DSM_ARENA_SIZE", "1P" },         /* beyond the maximum  */
        { "DSM_ARENA_SIZE", "lots" },
        { "DSM_ARENA_ADDRESS", "0x1001" },  /* not page-aligned    */
        { "DSM_ARENA_ADDRESS", "0x7f0000001000" }, /* beyond user space */
        { "DSM_ARENA_SIZE", "4095" },
        { "DSM_PLACEMENT", "random" },
        { "DSM_TRANSPORT", "carrier-pigeon" },
        { "DSM_SPIN_US", "-5" },
        { "DSM_SPIN_US", "autox" },
        { "DSM_SPIN_US", "1000001" },
        { "DSM_STATS", "maybe" },
        { "DSM_READAHEAD", "65" },          /* beyond the maximum  */
        { "DSM_SERVICE_NICE", "-21" },
        { "DSM_SERVICE_NICE", "low" },
        { "DSM_WRITE_HOLD_US", "10001" },   /* beyond the maximum  */
    };
    dsm_rt_config_t config;

    for (size_t i = 0; i < DSM_TEST_ARRAY_SIZE(bad); i++) {
        setenv(bad[i][0], bad[i][1], 1);
        DSM_CHECKF(dsm_rt_config_load(NULL, &config) == DSM_ERR_CONFIG, "%s=%s accepted",
                   bad[i][0], bad[i][1]);
        unsetenv(bad[i][0]);
    }
    /* An arena that would end beyond user space. */
    setenv("DSM_ARENA_ADDRESS", "0x7e0000000000", 1);
    setenv("DSM_ARENA_SIZE", "32T", 1);
    DSM_CHECK(dsm_rt_config_load(NULL, &config) == DSM_ERR_CONFIG);
    return DSM_TEST_PASS;
}

static dsm_test_result_t test_config_struct_wins(void)
{
    dsm_config_t user = { .field_mask = DSM_CONFIG_FIELD_ARENA_SIZE | DSM_CONFIG_FIELD_TRANSPORT,
                          .arena_size = 1 << 20, .transport = "shm" };
    dsm_rt_config_t config;

    setenv("DSM_ARENA_SIZE", "2G", 1);
    DSM_CHECK(dsm_rt_config_load(&user, &config) == DSM_OK);
    DSM_CHECK(config.arena_size == 1 << 20);
    DSM_CHECK(config.transport == DSM_RT_TRANSPORT_SHM);
    user.transport = "bogus";
    DSM_CHECK(dsm_rt_config_load(&user, &config) == DSM_ERR_CONFIG);
    user.transport = "shm";
    user.field_mask |= UINT64_C(1) << 40;
    DSM_CHECK(dsm_rt_config_load(&user, &config) == DSM_ERR_CONFIG);
    return DSM_TEST_PASS;
}

/* A bad DSM_LOG_LEVEL warns and means warn, from the environment or the struct
 * (docs/config.md): it used to fail dsm_init after log.c had said "using warn". */
static dsm_test_result_t test_config_log_level_bad_warns(void)
{
    dsm_config_t user = { .field_mask = DSM_CONFIG_FIELD_LOG_LEVEL, .log_level = 7 };
    dsm_rt_config_t config;

    setenv("DSM_LOG_LEVEL", "loud", 1);
    DSM_CHECK(dsm_rt_config_load(NULL, &config) == DSM_OK);
    DSM_CHECK(config.log_level == DSM_LOG_LEVEL_WARN);
    DSM_CHECK(dsm_log_level() == DSM_LOG_LEVEL_WARN);
    setenv("DSM_LOG_LEVEL", "debug", 1);
    DSM_CHECK(dsm_rt_config_load(NULL, &config) == DSM_OK);
    DSM_CHECK(config.log_level == DSM_LOG_LEVEL_DEBUG);
    DSM_CHECK(dsm_rt_config_load(&user, &config) == DSM_OK);
    DSM_CHECK(config.log_level == DSM_LOG_LEVEL_WARN);
    user.log_level = 0;
    DSM_CHECK(dsm_rt_config_load(&user, &config) == DSM_OK);
    DSM_CHECK(config.log_level == DSM_LOG_LEVEL_ERROR);
    unsetenv("DSM_LOG_LEVEL");
    return DSM_TEST_PASS;
}

/* Every kind of dsm_config_t member goes through its row's parser. */
static dsm_test_result_t test_config_struct_each_field(void)
{
    dsm_config_t user = {
        .field_mask = DSM_CONFIG_FIELD_ARENA_SIZE | DSM_CONFIG_FIELD_ARENA_ADDRESS |
                      DSM_CONFIG_FIELD_PLACEMENT | DSM_CONFIG_FIELD_TRANSPORT |
                      DSM_CONFIG_FIELD_SPIN_US | DSM_CONFIG_FIELD_LOG_LEVEL |
                      DSM_CONFIG_FIELD_STATS | DSM_CONFIG_FIELD_READAHEAD |
                      DSM_CONFIG_FIELD_SERVICE_NICE | DSM_CONFIG_FIELD_RESTART_DIR |
                      DSM_CONFIG_FIELD_WRITE_HOLD_US,
        .arena_size = UINT64_C(1) << 32, .arena_address = UINT64_C(0x300000000000),
        .placement = DSM_PLACEMENT_BLOCKED, .transport = "RDMA", .spin_us = 7,
        .log_level = 3, .stats = 2, .readahead = 9, .service_nice = 4,
        .restart_dir = "/images/run1", .write_hold_us = 150,
    };
    dsm_rt_config_t config;

    DSM_CHECK(dsm_rt_config_load(&user, &config) == DSM_OK);
    DSM_CHECK(config.arena_size == UINT64_C(1) << 32);
    DSM_CHECK(config.arena_address == UINT64_C(0x300000000000));
    DSM_CHECK(config.placement == DSM_PLACEMENT_BLOCKED);
    DSM_CHECK(config.transport == DSM_RT_TRANSPORT_RDMA);
    DSM_CHECK(config.spin_us == 7 && config.readahead == 9 && config.service_nice == 4);
    DSM_CHECK(config.log_level == DSM_LOG_LEVEL_DEBUG && config.stats == 1);
    DSM_CHECK(config.restart_dir != NULL && !strcmp(config.restart_dir, "/images/run1"));
    DSM_CHECK(config.write_hold_us == 150);
    user.restart_dir = ""; /* a path type: empty means none */
    DSM_CHECK(dsm_rt_config_load(&user, &config) == DSM_OK && config.restart_dir == NULL);
    user.placement = (dsm_placement_t)7;
    DSM_CHECK(dsm_rt_config_load(&user, &config) == DSM_ERR_CONFIG);
    user.placement = DSM_PLACEMENT_CYCLIC;
    user.transport = NULL;
    DSM_CHECK(dsm_rt_config_load(&user, &config) == DSM_ERR_CONFIG);
    user.transport = "tcp";
    user.spin_us = UINT32_MAX;
    DSM_CHECK(dsm_rt_config_load(&user, &config) == DSM_ERR_CONFIG);
    user.spin_us = 0;
    user.service_nice = -21;
    DSM_CHECK(dsm_rt_config_load(&user, &config) == DSM_ERR_CONFIG);
    user.service_nice = 0;
    user.write_hold_us = 10001;
    DSM_CHECK(dsm_rt_config_load(&user, &config) == DSM_ERR_CONFIG);
    user.write_hold_us = 0;
    user.arena_address = 0x1001;
    DSM_CHECK(dsm_rt_config_load(&user, &config) == DSM_ERR_CONFIG);
    return DSM_TEST_PASS;
}

/* The rows are well-formed: the loader and the docs rely on it. */
static dsm_test_result_t test_config_table_rows(void)
{
    const dsm_config_table_t *table = &dsm_rt_config_table;
    uint64_t bits = 0;

    for (size_t i = 0; i < table->count; i++) {
        const dsm_config_var_t *var = &table->vars[i];
        int loaded = var->type != DSM_CONFIG_TYPE_BOOTSTRAP &&
                     var->type != DSM_CONFIG_TYPE_RESERVED;

        DSM_CHECKF(!strncmp(var->name, "DSM_", 4), "%s", var->name);
        DSM_CHECKF(var->default_text != NULL && var->help != NULL, "%s", var->name);
        for (size_t j = 0; j < i; j++) {
            DSM_CHECKF(strcmp(var->name, table->vars[j].name) != 0, "%s twice", var->name);
        }
        DSM_CHECKF(!loaded || var->field.size == sizeof(uint64_t) ||
                   var->field.size == sizeof(int), "%s", var->name);
        DSM_CHECKF(!var->user_bit || var->user.is_string ||
                   var->user.size == sizeof(uint64_t) || var->user.size == sizeof(int),
                   "%s", var->name);
        DSM_CHECKF((bits & var->user_bit) == 0, "%s: bit shared", var->name);
        bits |= var->user_bit;
        DSM_CHECKF(var->type != DSM_CONFIG_TYPE_BOOTSTRAP || var->accepted != NULL,
                   "%s: the type cannot say what it accepts", var->name);
        DSM_CHECKF((var->type != DSM_CONFIG_TYPE_CHOICE &&
                    var->type != DSM_CONFIG_TYPE_LOG_LEVEL) || var->choices != NULL,
                   "%s: choices", var->name);
    }
    /* Every dsm_config_t field has its row. */
    DSM_CHECK(bits == ((uint64_t)DSM_CONFIG_FIELD_WRITE_HOLD_US << 1) - 1);
    return DSM_TEST_PASS;
}

static dsm_test_result_t test_config_suggest(void)
{
    const dsm_config_table_t *table = &dsm_rt_config_table;
    const char *s;

    DSM_CHECK((s = dsm_config_table_suggest(table, "DSM_READAHAED")) != NULL &&
              !strcmp(s, "DSM_READAHEAD"));
    DSM_CHECK((s = dsm_config_table_suggest(table, "DSM_ARENASIZE")) != NULL &&
              !strcmp(s, "DSM_ARENA_SIZE"));
    DSM_CHECK((s = dsm_config_table_suggest(table, "DSM_Stats")) != NULL &&
              !strcmp(s, "DSM_STATS"));
    DSM_CHECK((s = dsm_config_table_suggest(table, "DSM_BOOT_TIMOUT")) != NULL &&
              !strcmp(s, "DSM_BOOT_TIMEOUT"));
    DSM_CHECK((s = dsm_config_table_suggest(table, "DSM_NODES")) != NULL &&
              !strcmp(s, "DSM_NNODES"));
    DSM_CHECK(dsm_config_table_suggest(table, "DSM_QWERTY") == NULL);
    DSM_CHECK(dsm_config_table_suggest(table, "DSM_X") == NULL);
    DSM_CHECK(dsm_config_table_suggest(table, "DSM_FOO") == NULL);
    return DSM_TEST_PASS;
}

/* Every page has one home among the nodes: cyclic deals the arena's chunks in
 * turn (the pages of a chunk share a home), blocked gives each node one
 * contiguous block of ceil(npages / nnodes) pages, for awkward sizes. */
static dsm_test_result_t test_placement_homes(void)
{
    static const dsm_placement_t policies[] = { DSM_PLACEMENT_CYCLIC, DSM_PLACEMENT_BLOCKED };

    for (size_t p = 0; p < 2; p++) {
        for (int nnodes = 1; nnodes <= 9; nnodes++) {
            for (uint64_t first = 0; first < 40; first += 13) {
                for (uint64_t npages = 1; npages <= 70; npages++) {
                    dsm_rt_placement_t pl = { policies[p], first, npages, nnodes, NULL };
                    uint64_t block = (npages + (uint64_t)nnodes - 1) / (uint64_t)nnodes;

                    for (uint64_t page = first; page < first + npages; page++) {
                        int home = dsm_rt_placement_home(&pl, page);
                        uint64_t want = policies[p] == DSM_PLACEMENT_CYCLIC
                                            ? page / DSM_RT_CHUNK_PAGES % (uint64_t)nnodes
                                            : (page - first) / block;

                        DSM_CHECKF(home >= 0 && home < nnodes && (uint64_t)home == want,
                                   "policy %zu, %d nodes, page %llu of [%llu, +%llu): home %d", p,
                                   nnodes, (unsigned long long)page, (unsigned long long)first,
                                   (unsigned long long)npages, home);
                    }
                }
            }
        }
    }
    return DSM_TEST_PASS;
}

/* FIFO order survives wrap-around and growth with elements in flight. */
static dsm_test_result_t test_fifo_order(void)
{
    dsm_rt_fifo_t fifo;
    uint64_t next_in = 0, next_out = 0, value;

    dsm_rt_fifo_init(&fifo, sizeof(uint64_t));
    DSM_CHECK(!dsm_rt_fifo_pop(&fifo, &value));
    for (int round = 0; round < 1000; round++) {
        for (int i = 0; i < round % 37; i++, next_in++) {
            DSM_CHECK(dsm_rt_fifo_push(&fifo, &next_in) == DSM_OK);
        }
        for (int i = 0; i < round % 23 && dsm_rt_fifo_pop(&fifo, &value); i++, next_out++) {
            DSM_CHECKF(value == next_out, "popped %llu, want %llu", (unsigned long long)value,
                       (unsigned long long)next_out);
        }
    }
    while (dsm_rt_fifo_pop(&fifo, &value)) {
        DSM_CHECK(value == next_out++);
    }
    DSM_CHECK(next_out == next_in);
    dsm_rt_fifo_fini(&fifo);
    return DSM_TEST_PASS;
}

static dsm_test_result_t test_hist_percentiles(void)
{
    static dsm_rt_hist_t hist;
    double p50, p99;

    DSM_CHECK(dsm_rt_hist_percentile_us(&hist, 50) == 0);
    /* 1..10000 µs uniformly: p50 ~ 5000 µs, p99 ~ 9900 µs, within one bucket (12.5 %). */
    for (uint64_t us = 1; us <= 10000; us++) {
        dsm_rt_hist_add(&hist, us * 1000);
    }
    p50 = dsm_rt_hist_percentile_us(&hist, 50);
    p99 = dsm_rt_hist_percentile_us(&hist, 99);
    DSM_CHECKF(p50 >= 5000 && p50 <= 5000 * 1.126, "p50 %.1f", p50);
    DSM_CHECKF(p99 >= 9900 && p99 <= 9900 * 1.126, "p99 %.1f", p99);
    dsm_rt_hist_add(&hist, 0);
    dsm_rt_hist_add(&hist, UINT64_MAX);
    DSM_CHECK(hist.total == 10002);
    return DSM_TEST_PASS;
}

static const dsm_test_case_t cases[] = {
    { "fifo_order", NULL, test_fifo_order, 0 },
    { "hist_percentiles", NULL, test_hist_percentiles, 0 },
    { "config_defaults", NULL, test_config_defaults, 0 },
    { "config_environment", NULL, test_config_environment, 0 },
    { "config_bad_values", NULL, test_config_bad_values, 0 },
    { "config_struct_wins", NULL, test_config_struct_wins, 0 },
    { "config_log_level_bad_warns", NULL, test_config_log_level_bad_warns, 0 },
    { "config_struct_each_field", NULL, test_config_struct_each_field, 0 },
    { "config_table_rows", NULL, test_config_table_rows, 0 },
    { "config_suggest", NULL, test_config_suggest, 0 },
    { "placement_homes", NULL, test_placement_homes, 0 },
};

int main(int argc, char **argv)
{
    return dsm_test_main(argc, argv, cases, DSM_TEST_ARRAY_SIZE(cases));
}
