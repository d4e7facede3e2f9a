/*
 * The runtime's configuration: the one table of every DSM_* variable dsm
 * knows. A row is all there is to a knob: its default, what it accepts, the
 * dsm_rt_config_t member it sets, the dsm_config_t member that overrides it and
 * its documentation. docs/config.md is printed from it (dsm-info
 * --config-markdown; tests/runtime/config_doc.sh checks the two agree).
 */
#include <inttypes.h>
#include <string.h>

#include "dsm_common.h"
#include "dsm_rt.h"

/* x86-64 user space ends at 2^47; keep the arena clear of the stack region. */
#define DSM_RT_ADDRESS_LIMIT   (UINT64_C(0x7f0000000000))
#define DSM_RT_ARENA_SIZE_MAX  (UINT64_C(64) << 40) /* 64 TiB */

static const char *const dsm_rt_placement_names[] = { "cyclic", "blocked", "first-touch", NULL };
static const char *const dsm_rt_transport_names[] = { "auto", "shm", "tcp", "rdma", NULL };

/* The member of dsm_rt_config_t a row sets, and the dsm_config_t one that overrides it. */
#define DSM_RT_CONFIG_FIELD(member) .field = DSM_CONFIG_SLOT(dsm_rt_config_t, member)
#define DSM_RT_CONFIG_USER(bit, member)                                                  \
    .user_bit = DSM_CONFIG_FIELD_##bit, .user = DSM_CONFIG_SLOT(dsm_config_t, member)

static const dsm_config_var_t dsm_rt_config_vars[] = {
    {
        .name = "DSM_LOG_LEVEL", .default_text = "warn", .type = DSM_CONFIG_TYPE_LOG_LEVEL,
        .choices = dsm_log_level_names,
        DSM_RT_CONFIG_FIELD(log_level), DSM_RT_CONFIG_USER(LOG_LEVEL, log_level),
        .help = "most verbose log level printed to stderr; an unknown value warns and uses "
                "`warn`",
    },
    {
        .name = "DSM_ARENA_SIZE", .default_text = "1G", .type = DSM_CONFIG_TYPE_SIZE,
        .min = DSM_RT_PAGE_SIZE, .max = DSM_RT_ARENA_SIZE_MAX, .multiple = DSM_RT_PAGE_SIZE,
        DSM_RT_CONFIG_FIELD(arena_size), DSM_RT_CONFIG_USER(ARENA_SIZE, arena_size),
        .help = "virtual size of the arena every node maps; costs address space only, memory "
                "is used only by pages touched",
    },
    {
        .name = "DSM_ARENA_ADDRESS", .default_text = "0x200000000000",
        .type = DSM_CONFIG_TYPE_UINT, .min = DSM_RT_PAGE_SIZE, .max = DSM_RT_ADDRESS_LIMIT,
        .multiple = DSM_RT_PAGE_SIZE,
        DSM_RT_CONFIG_FIELD(arena_address), DSM_RT_CONFIG_USER(ARENA_ADDRESS, arena_address),
        .accepted = "a page-aligned address (decimal or `0x` hex); arena must end below "
                    "`0x7f0000000000`",
        .help = "where every node maps the arena (`MAP_FIXED_NOREPLACE`); if the range is "
                "taken on any node, `dsm_init` fails with `DSM_ERR_ADDRESS_IN_USE` naming the "
                "address. The default (32 TiB) lies above AddressSanitizer's shadow memory, "
                "far below where the kernel places ordinary mappings; ThreadSanitizer builds "
                "need an address inside its application ranges",
    },
    {
        .name = "DSM_PLACEMENT", .default_text = "cyclic", .type = DSM_CONFIG_TYPE_CHOICE,
        .choices = dsm_rt_placement_names,
        DSM_RT_CONFIG_FIELD(placement), DSM_RT_CONFIG_USER(PLACEMENT, placement),
        .help = "home of each page: `cyclic` deals the arena's 64 KiB chunks (16 pages) to the "
                "nodes in turn, chunk c at node c mod N; `blocked` splits "
                "each allocation into N contiguous blocks; `first-touch` homes each 64 KiB chunk "
                "at the first node that touches it (as OpenMP codes expect of NUMA memory)",
    },
    {
        .name = "DSM_TRANSPORT", .default_text = "auto", .type = DSM_CONFIG_TYPE_CHOICE,
        .choices = dsm_rt_transport_names,
        DSM_RT_CONFIG_FIELD(transport), DSM_RT_CONFIG_USER(TRANSPORT, transport),
        .help = "the UCX transports used: `auto` is UCX's own choice (and `UCX_TLS` if set), "
                "without tcp when every node shares one host and pid namespace (shared memory "
                "reaches them all; a tcp port is open to every user of the host), `shm` shared "
                "memory between the processes of one host, `tcp`, `rdma` verbs "
                "(InfiniBand/RoCE). Whatever the choice (and whatever `UCX_TLS` says), UCX's "
                "`sysv` transport is never used: its segments are open to the owner's group "
                "(docs/design.md, \"Security and threat model\"). Where the transports "
                "share memory (`auto` on one host, `shm`), the nodes of a host also share "
                "their pages, one memfd, and no page is copied between them (docs/design.md, "
                "\"Nodes on one host share their pages\")",
    },
    {
        .name = "DSM_SPIN_US", .default_text = "auto", .type = DSM_CONFIG_TYPE_UINT,
        .max = DSM_RT_SPIN_US_MAX, .keyword = "auto", .keyword_value = DSM_RT_SPIN_US_DEFAULT,
        DSM_RT_CONFIG_FIELD(spin_us), DSM_RT_CONFIG_USER(SPIN_US, spin_us),
        .help = "microseconds the service thread busy-polls for work before it sleeps in "
                "epoll, while an application thread of this node waits on it (a fault or a "
                "command in flight; with none it sleeps at once) (0: sleep at once). `auto` "
                "is 50 µs (the spin takes the CPU of the node's own blocked thread). On a "
                "host with more nodes than CPUs online the spinning service thread yields "
                "the CPU between polls, since it may hold a CPU that another node's thread "
                "needs; with fewer it does not, since there yielding costs more than it "
                "saves (docs/design.md, \"Threads\")",
    },
    {
        .name = "DSM_READAHEAD", .default_text = "64", .type = DSM_CONFIG_TYPE_UINT,
        .max = DSM_RT_READAHEAD_MAX, .unit = "pages",
        DSM_RT_CONFIG_FIELD(readahead), DSM_RT_CONFIG_USER(READAHEAD, readahead),
        .help = "the most pages requested ahead of a run of faults (0: none). Read misses "
                "a constant stride apart (1 to 64 pages, up or down: a scan, or a matrix "
                "column) request the next 2, 4, 8, ... pages along the stride in the same "
                "allocation that are absent here, read-only, in one burst; any other read miss "
                "closes the window. "
                "Write misses (writes to absent pages) have their own window and request the "
                "absent pages that follow writable, upgrades (writes to read-only pages) "
                "theirs, which upgrades the read-only pages that follow, and a node's first "
                "touches of pages it homes claim the untouched pages that follow. Counted as "
                "`read_ahead`, `write_ahead` and `upgrades_ahead` in the statistics, not as "
                "misses or upgrades (docs/design.md §5)",
    },
    {
        .name = "DSM_SERVICE_NICE", .default_text = "-10", .type = DSM_CONFIG_TYPE_INT,
        .min = -20, .max = 19,
        DSM_RT_CONFIG_FIELD(service_nice), DSM_RT_CONFIG_USER(SERVICE_NICE, service_nice),
        .help = "nice value the service thread asks for. Below the process's own it needs "
                "`CAP_SYS_NICE` or `RLIMIT_NICE`; refused, the thread keeps the process's "
                "value and says so at info level. A higher weight keeps the service thread "
                "ready to preempt an application that computes on its CPU (Jacobi 2046² x "
                "1000, 2 bound nodes: 4.1 s at 0, 3.2 s at -10) at the price of a sleep and "
                "wake per isolated fault (read miss 7 -> 12 µs): `0` for fault-bound codes "
                "(docs/design.md, \"Threads\")",
    },
    {
        .name = "DSM_WRITE_HOLD_US", .default_text = "0", .type = DSM_CONFIG_TYPE_UINT,
        .max = DSM_RT_WRITE_HOLD_US_MAX, .unit = "µs",
        DSM_RT_CONFIG_FIELD(write_hold_us), DSM_RT_CONFIG_USER(WRITE_HOLD_US, write_hold_us),
        .help = "how long a page this node was just granted writable stays here when another "
                "node wants it (0: not at all): the invalidation, downgrade or request that "
                "would take it away is deferred until the hold ends, so a writer finishes its "
                "burst instead of losing the page after one store. A message naming a run "
                "waits for its youngest page; every hold of a node ends at its next call into "
                "dsm (barrier, lock, `dsm_wait_until_u64`, free) (docs/design.md, \"Write "
                "holding\")",
    },
    {
        .name = "DSM_STATS", .default_text = "0", .type = DSM_CONFIG_TYPE_BOOL,
        DSM_RT_CONFIG_FIELD(stats), DSM_RT_CONFIG_USER(STATS, stats),
        .help = "print this node's statistics (misses, upgrades, invalidations, bytes, fault "
                "latency p50/p99) at `dsm_finalize`",
    },
    {
        .name = "DSM_RESTART", .default_text = "", .type = DSM_CONFIG_TYPE_PATH,
        DSM_RT_CONFIG_FIELD(restart_dir), DSM_RT_CONFIG_USER(RESTART_DIR, restart_dir),
        .help = "start from the checkpoint image in this directory (`dsm_checkpoint`; "
                "`dsmrun --restart DIR` sets it): `dsm_init` checks the image (format "
                "version, node count, arena address and size, checksums) and refuses a wrong "
                "or damaged one naming what differs; allocations made in the same order with "
                "the same sizes get their saved contents, loaded lazily; `dsm_restarted()` "
                "returns 1 (docs/checkpoint.md). Empty: a fresh start",
    },
    /* Read by the bootstrap (boot/boot.c, boot_tcp.c) as the node joins. */
    {
        .name = "DSM_RANK", .default_text = "set by `dsmrun`", .type = DSM_CONFIG_TYPE_BOOTSTRAP,
        .accepted = "0 .. `DSM_NNODES`-1",
        .help = "this node's rank. Any of `DSM_RANK`, `DSM_NNODES`, `DSM_COORD`, "
                "`DSM_JOB_KEY` set selects the dsmrun bootstrap, which then needs all four; "
                "with none set, PMIx (`PMIX_RANK`, under mpirun/srun) is used, else a "
                "single-node job",
    },
    {
        .name = "DSM_NNODES", .default_text = "set by `dsmrun`",
        .type = DSM_CONFIG_TYPE_BOOTSTRAP, .accepted = "1 .. 4096",
        .help = "number of nodes in the job",
    },
    {
        .name = "DSM_COORD", .default_text = "set by `dsmrun`", .type = DSM_CONFIG_TYPE_BOOTSTRAP,
        .accepted = "`host:port` or `[ipv6]:port`, port 1..65535",
        .help = "where node 0 listens and the others connect",
    },
    {
        .name = "DSM_JOB_KEY", .default_text = "set by `dsmrun` (64 hex digits from "
                                               "`/dev/urandom`)",
        .type = DSM_CONFIG_TYPE_BOOTSTRAP, .accepted = "32..128 hex digits",
        .help = "the job's secret: a node whose key differs is refused on both sides "
                "(`DSM_ERR_AUTH`). Never logged, never sent; pass it only through the "
                "environment",
    },
    {
        .name = "DSM_BOOT_TIMEOUT", .default_text = "`60`", .type = DSM_CONFIG_TYPE_BOOTSTRAP,
        .accepted = "1 .. 86400 (seconds)",
        .help = "longest a bootstrap step waits: joining (connect retries, every node's "
                "handshake) and each allgather or barrier; under PMIx, the fences' and "
                "gets' `PMIX_TIMEOUT`",
    },
    /* Read by tests/rdma/run.sh on the host that boots the Soft-RoCE guest. */
    {
        .name = "DSM_RDMA_SMP", .default_text = "`2`", .type = DSM_CONFIG_TYPE_RESERVED,
        .help = "vCPUs of the Soft-RoCE test's guest (`tests/rdma/run.sh`, docs/rdma.md)",
    },
    {
        .name = "DSM_RDMA_MEM", .default_text = "`3G`", .type = DSM_CONFIG_TYPE_RESERVED,
        .help = "memory of the Soft-RoCE test's guest (`tests/rdma/run.sh`, docs/rdma.md)",
    },
    {
        .name = "DSM_RDMA_TIMEOUT", .default_text = "`1200`", .type = DSM_CONFIG_TYPE_RESERVED,
        .help = "wall-clock limit in seconds of the Soft-RoCE test's guest "
                "(`tests/rdma/run.sh`, docs/rdma.md)",
    },
};

const dsm_config_table_t dsm_rt_config_table = {
    dsm_rt_config_vars, sizeof(dsm_rt_config_vars) / sizeof(dsm_rt_config_vars[0])
};

dsm_status_t dsm_rt_config_load(const dsm_config_t *user, dsm_rt_config_t *config_p)
{
    dsm_rt_config_t config;
    dsm_status_t status;

    memset(&config, 0, sizeof(config));
    dsm_config_table_check_environment(&dsm_rt_config_table);
    status = dsm_config_table_load(&dsm_rt_config_table, user, &config);
    if (status != DSM_OK) {
        return status;
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
