/*
 * dsm-info - can dsm run on this host, and if not, why.
 *
 * Prints the kernel version, every userfaultfd feature (present / missing,
 * required / optional / unused for dsm), whether this user may use
 * userfaultfd and what to do if not, the locked-memory limit, whether the
 * service thread may take its nice value, the UCX version with the transports
 * and devices UCX sees (RDMA devices called out), and the hwloc topology.
 * Exit 0 when dsm can run; otherwise 1 with a one-line reason on stderr.
 * --config-markdown prints the table of DSM_* variables that docs/config.md holds.
 *
 *   dsm-info [--json | --config-markdown | --help]
 */
#include <errno.h>
#include <fcntl.h>
#include <hwloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "dsm_common.h"
#include "dsm_rt.h"
#include "dsm_tp_probe.h"
#include "dsm_uffd.h"

#define INFO_SYSCTL "/proc/sys/vm/unprivileged_userfaultfd"
#define INFO_DEVICE "/dev/userfaultfd"

typedef struct {
    struct utsname   uts;
    /* userfaultfd */
    dsm_status_t     uffd_status;  /* of dsm_uffd_probe */
    dsm_uffd_probe_t uffd;
    long             sysctl;       /* vm.unprivileged_userfaultfd, -1: unreadable */
    int              device_exists;
    struct stat      device_stat;
    int              device_openable;
    int              privileged;   /* euid 0 */
    /* UCX */
    dsm_status_t     ucx_status;
    dsm_tp_probe_t   ucx;
    /* hwloc */
    int              topo_ok;
    int              packages, cores, pus, numa_nodes;
    /* verdict */
    const char      *cannot_run;   /* NULL: dsm can run */
    char             reason[256];
} info_t;

static void info_gather_uffd(info_t *info)
{
    int fd;

    info->uffd_status = dsm_uffd_probe(&info->uffd);
    info->sysctl = dsm_file_read_long(INFO_SYSCTL);
    info->privileged = geteuid() == 0;
    info->device_exists = stat(INFO_DEVICE, &info->device_stat) == 0;
    fd = open(INFO_DEVICE, O_RDWR | O_CLOEXEC);
    info->device_openable = fd >= 0;
    if (fd >= 0) {
        close(fd);
    }
}

static void info_gather_topology(info_t *info)
{
    hwloc_topology_t topology;

    if (hwloc_topology_init(&topology) != 0) {
        return;
    }
    if (hwloc_topology_load(topology) == 0) {
        info->topo_ok    = 1;
        info->packages   = hwloc_get_nbobjs_by_type(topology, HWLOC_OBJ_PACKAGE);
        info->cores      = hwloc_get_nbobjs_by_type(topology, HWLOC_OBJ_CORE);
        info->pus        = hwloc_get_nbobjs_by_type(topology, HWLOC_OBJ_PU);
        info->numa_nodes = hwloc_get_nbobjs_by_type(topology, HWLOC_OBJ_NUMANODE);
    }
    hwloc_topology_destroy(topology);
}

/* Transports that can connect two processes (not the loopback "self"). */
static size_t info_usable_transports(const info_t *info)
{
    size_t count = 0;

    for (size_t i = 0; i < info->ucx.count; i++) {
        count += strcmp(info->ucx.resources[i].kind, "loopback") != 0;
    }
    return count;
}

/* The first reason dsm cannot run here, or NULL. */
static void info_decide(info_t *info)
{
    const dsm_uffd_feature_t *missing;

    if (info->uffd_status != DSM_OK) {
        snprintf(info->reason, sizeof(info->reason), "cannot open a userfaultfd (%s)",
                 dsm_strerror(info->uffd_status));
    } else if (info->uffd.origin == DSM_UFFD_ORIGIN_USER_MODE_ONLY) {
        snprintf(info->reason, sizeof(info->reason),
                 "this user may only open user-mode-only userfaultfds (read(2) into the arena "
                 "would fail): set vm.unprivileged_userfaultfd=1 or grant rw on %s", INFO_DEVICE);
    } else if ((missing = dsm_uffd_probe_missing_required(&info->uffd)) != NULL) {
        snprintf(info->reason, sizeof(info->reason),
                 "the kernel lacks UFFD_FEATURE_%s (needed for %s)", missing->name, missing->why);
    } else if (info->ucx_status != DSM_OK) {
        snprintf(info->reason, sizeof(info->reason), "UCX cannot be queried (%s)",
                 dsm_strerror(info->ucx_status));
    } else if (info_usable_transports(info) == 0) {
        snprintf(info->reason, sizeof(info->reason),
                 "UCX offers no shared-memory or network transport");
    } else {
        info->cannot_run = NULL;
        return;
    }
    info->cannot_run = info->reason;
}

/* What this user should do to get a kernel-mode userfaultfd, or NULL. */
static const char *info_permission_advice(const info_t *info)
{
    if (info->uffd_status == DSM_OK && info->uffd.origin != DSM_UFFD_ORIGIN_USER_MODE_ONLY) {
        return NULL;
    }
    return "run 'sysctl -w vm.unprivileged_userfaultfd=1' (as root; add it to "
           "/etc/sysctl.d/ to keep it), or give this user read/write access to "
           INFO_DEVICE " (e.g. a udev rule with GROUP= and MODE=0660)";
}

/* RLIMIT_MEMLOCK as "unlimited" or "N KiB". */
static const char *info_limit_text(rlim_t limit, char *buffer, size_t size)
{
    if (limit == RLIM_INFINITY) {
        return "unlimited";
    }
    snprintf(buffer, size, "%llu KiB", (unsigned long long)(limit / 1024));
    return buffer;
}

/* RDMA registration pins memory: the locked-memory limit decides how much. */
static void info_print_memlock(void)
{
    struct rlimit limit;
    char soft[32], hard[32];

    if (getrlimit(RLIMIT_MEMLOCK, &limit) != 0) {
        return;
    }
    printf("  locked memory (ulimit -l): soft %s, hard %s%s\n",
           info_limit_text(limit.rlim_cur, soft, sizeof(soft)),
           info_limit_text(limit.rlim_max, hard, sizeof(hard)),
           limit.rlim_max == RLIM_INFINITY ? ""
           : geteuid() == 0 ? " (root: CAP_IPC_LOCK lifts it)"
                            : " (over RDMA, registration needs it large: see docs/rdma.md)");
}

/*
 * The service thread asks for nice DSM_SERVICE_NICE (docs/config.md): try it on
 * this thread, then put the thread's value back (raising it is always allowed).
 */
static void info_print_service_nice(void)
{
    dsm_rt_config_t config;
    pid_t tid = (pid_t)syscall(SYS_gettid);
    int before, allowed;

    if (dsm_rt_config_load(NULL, &config) != DSM_OK) {
        return; /* the parser said why */
    }
    errno = 0;
    before = getpriority(PRIO_PROCESS, (id_t)tid);
    if (errno != 0) {
        return;
    }
    allowed = setpriority(PRIO_PROCESS, (id_t)tid, config.service_nice) == 0;
    if (allowed) {
        setpriority(PRIO_PROCESS, (id_t)tid, before);
    }
    printf("  service thread nice %d (DSM_SERVICE_NICE): %s\n", config.service_nice,
           allowed ? "allowed"
                   : "not allowed: needs CAP_SYS_NICE or a larger RLIMIT_NICE (ulimit -e); "
                     "dsm runs, but a computing node answers requests later");
}

/* Whether any user may handle kernel-mode faults: the sysctl, or a world-rw device. */
static const char *info_unprivileged(const info_t *info)
{
    if (info->sysctl == 1) {
        return "allowed (vm.unprivileged_userfaultfd=1)";
    }
    if (info->device_exists && (info->device_stat.st_mode & 0006) == 0006) {
        return "allowed (" INFO_DEVICE " is world read/write)";
    }
    if (info->device_exists && (info->device_stat.st_mode & 0060) == 0060) {
        return "only members of the group of " INFO_DEVICE;
    }
    return "not allowed (user-mode-only userfaultfds, which dsm does not use)";
}

static const char *info_yes_no(int value)
{
    return value ? "yes" : "no";
}

/* ---- text ------------------------------------------------------------------ */

static void info_print_text(const info_t *info)
{
    const char *advice = info_permission_advice(info);

    printf("kernel: %s %s %s (%s)\n", info->uts.sysname, info->uts.release, info->uts.machine,
           info->uts.version);

    printf("\nuserfaultfd:\n");
    if (info->uffd_status != DSM_OK) {
        printf("  cannot open: %s\n", dsm_strerror(info->uffd_status));
    } else {
        printf("  opened via %s\n", dsm_uffd_origin_name(info->uffd.origin));
        printf("  %-20s %-8s %-9s %s\n", "feature", "kernel", "dsm", "why");
        for (size_t i = 0; i < DSM_UFFD_FEATURE_COUNT; i++) {
            const dsm_uffd_feature_t *f = &info->uffd.features[i];

            printf("  %-20s %-8s %-9s %s\n", f->name, f->present ? "present" : "MISSING",
                   dsm_uffd_need_name(f->need), f->why);
        }
        printf("  %-20s %-8s %-9s %s\n", "CONTINUE_MODE_WP", info->uffd.continue_wp ? "works" : "no",
               "optional", "map a page read-only in one step (Linux 6.5); without it every miss "
               "takes its page writable");
    }

    printf("\npermissions:\n");
    printf("  effective user: uid %u%s\n", (unsigned)geteuid(),
           info->privileged ? " (root: always allowed)" : "");
    if (info->sysctl < 0) {
        printf("  vm.unprivileged_userfaultfd: unreadable\n");
    } else {
        printf("  vm.unprivileged_userfaultfd: %ld\n", info->sysctl);
    }
    if (info->device_exists) {
        printf("  %s: mode %04o, owner uid %u gid %u, openable by this user: %s\n", INFO_DEVICE,
               (unsigned)(info->device_stat.st_mode & 07777), (unsigned)info->device_stat.st_uid,
               (unsigned)info->device_stat.st_gid, info_yes_no(info->device_openable));
    } else {
        printf("  %s: absent (kernel older than 6.1)\n", INFO_DEVICE);
    }
    printf("  unprivileged users: %s\n", info_unprivileged(info));
    printf("  kernel-mode faults (read(2) into the arena) for this user: %s\n",
           info_yes_no(advice == NULL));
    if (advice != NULL) {
        printf("  to allow: %s\n", advice);
    }
    info_print_memlock();
    info_print_service_nice();

    printf("\nUCX:\n");
    if (info->ucx_status != DSM_OK) {
        printf("  cannot be queried: %s\n", dsm_strerror(info->ucx_status));
    } else {
        printf("  version %s\n", info->ucx.ucx_version);
        printf("  %-10s %-12s %-10s %-20s %s\n", "component", "md", "transport", "device", "kind");
        for (size_t i = 0; i < info->ucx.count; i++) {
            const dsm_tp_probe_resource_t *r = &info->ucx.resources[i];

            printf("  %-10s %-12s %-10s %-20s %s%s\n", r->component, r->md, r->transport,
                   r->device, r->kind, r->rdma ? ", RDMA" : "");
        }
        if (dsm_tp_probe_rdma_count(&info->ucx) == 0) {
            printf("  RDMA devices: none (dsm uses shared memory within a host, TCP between hosts)\n");
        } else {
            printf("  RDMA devices:");
            for (size_t i = 0; i < info->ucx.count; i++) {
                if (info->ucx.resources[i].rdma) {
                    printf(" %s/%s", info->ucx.resources[i].transport,
                           info->ucx.resources[i].device);
                }
            }
            printf("\n");
        }
    }

    printf("\ntopology (hwloc):\n");
    if (info->topo_ok) {
        printf("  %d package(s), %d core(s), %d PU(s), %d NUMA node(s)\n", info->packages,
               info->cores, info->pus, info->numa_nodes);
    } else {
        printf("  unavailable\n");
    }

    printf("\n%s%s\n", info->cannot_run ? "dsm cannot run here: " : "dsm can run on this host",
           info->cannot_run ? info->cannot_run : "");
}

/* ---- JSON ------------------------------------------------------------------- */

static void json_key_string(const char *key, const char *value, const char *after)
{
    printf("\"%s\": ", key);
    if (value != NULL) {
        dsm_json_write_string(stdout, value);
    } else {
        printf("null");
    }
    printf("%s", after);
}

static void info_print_json_uffd(const info_t *info)
{
    const char *advice = info_permission_advice(info);

    printf("  \"userfaultfd\": {");
    json_key_string("status", dsm_strerror(info->uffd_status), ", ");
    json_key_string("opened_via",
                    info->uffd_status == DSM_OK ? dsm_uffd_origin_name(info->uffd.origin) : NULL,
                    ", ");
    printf("\"features\": [");
    for (size_t i = 0; info->uffd_status == DSM_OK && i < DSM_UFFD_FEATURE_COUNT; i++) {
        const dsm_uffd_feature_t *f = &info->uffd.features[i];

        printf("%s\n    {", i ? "," : "");
        json_key_string("name", f->name, ", ");
        printf("\"present\": %s, ", f->present ? "true" : "false");
        json_key_string("need", dsm_uffd_need_name(f->need), ", ");
        json_key_string("why", f->why, "}");
    }
    printf("], \"continue_wp\": %s},\n",
           info->uffd_status == DSM_OK && info->uffd.continue_wp ? "true" : "false");

    printf("  \"permissions\": {\"euid\": %u, \"unprivileged_userfaultfd\": %ld, ",
           (unsigned)geteuid(), info->sysctl);
    printf("\"device_exists\": %s, ", info->device_exists ? "true" : "false");
    if (info->device_exists) {
        printf("\"device_mode\": \"%04o\", ", (unsigned)(info->device_stat.st_mode & 07777));
    }
    printf("\"device_openable\": %s, ", info->device_openable ? "true" : "false");
    json_key_string("unprivileged_users", info_unprivileged(info), ", ");
    printf("\"kernel_mode_faults\": %s, ", advice == NULL ? "true" : "false");
    json_key_string("advice", advice, "},\n");
}

static void info_print_json(const info_t *info)
{
    printf("{\n  \"kernel\": {");
    json_key_string("sysname", info->uts.sysname, ", ");
    json_key_string("release", info->uts.release, ", ");
    json_key_string("version", info->uts.version, ", ");
    json_key_string("machine", info->uts.machine, "},\n");
    info_print_json_uffd(info);

    printf("  \"ucx\": {");
    json_key_string("status", dsm_strerror(info->ucx_status), ", ");
    json_key_string("version", info->ucx_status == DSM_OK ? info->ucx.ucx_version : NULL, ", ");
    printf("\"rdma_devices\": %zu, \"resources\": [",
           info->ucx_status == DSM_OK ? dsm_tp_probe_rdma_count(&info->ucx) : 0);
    for (size_t i = 0; info->ucx_status == DSM_OK && i < info->ucx.count; i++) {
        const dsm_tp_probe_resource_t *r = &info->ucx.resources[i];

        printf("%s\n    {", i ? "," : "");
        json_key_string("component", r->component, ", ");
        json_key_string("md", r->md, ", ");
        json_key_string("transport", r->transport, ", ");
        json_key_string("device", r->device, ", ");
        json_key_string("kind", r->kind, ", ");
        printf("\"rdma\": %s}", r->rdma ? "true" : "false");
    }
    printf("]},\n");

    if (info->topo_ok) {
        printf("  \"topology\": {\"packages\": %d, \"cores\": %d, \"pus\": %d, "
               "\"numa_nodes\": %d},\n", info->packages, info->cores, info->pus,
               info->numa_nodes);
    } else {
        printf("  \"topology\": null,\n");
    }
    printf("  \"can_run\": %s, ", info->cannot_run ? "false" : "true");
    json_key_string("reason", info->cannot_run, "\n}\n");
}

static void usage(FILE *out)
{
    fputs("usage: dsm-info [--json | --config-markdown | --help]\n"
          "\n"
          "Says whether dsm can run on this host, and if not, why: the kernel version,\n"
          "every userfaultfd feature (present or missing; required, optional or unused\n"
          "by dsm), whether this user may open a userfaultfd and what to change if not,\n"
          "the locked-memory limit (RDMA verbs pin memory), whether the service thread\n"
          "may raise its priority, the UCX version with the transports and devices it\n"
          "sees (RDMA devices called out), and the CPU topology (hwloc).\n"
          "\n"
          "Options:\n"
          "  --json             the same as one JSON document\n"
          "  --config-markdown  the table of every DSM_* variable (docs/config.md)\n"
          "  -h, --help         this text\n"
          "\n"
          "Exit status: 0 when dsm can run here; 1 with a one-line reason on stderr\n"
          "when it cannot; 2 for a bad option.\n", out);
}

int main(int argc, char **argv)
{
    info_t info;
    int json = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--config-markdown")) {
            dsm_config_table_print_markdown(&dsm_rt_config_table, stdout);
            return 0;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    memset(&info, 0, sizeof(info));
    if (uname(&info.uts) != 0) {
        fprintf(stderr, "dsm-info: uname: %s\n", strerror(errno));
        return 1;
    }
    info_gather_uffd(&info);
    info.ucx_status = dsm_tp_probe_query(&info.ucx);
    info_gather_topology(&info);
    info_decide(&info);

    if (json) {
        info_print_json(&info);
    } else {
        info_print_text(&info);
    }
    if (info.ucx_status == DSM_OK) {
        dsm_tp_probe_release(&info.ucx);
    }
    if (info.cannot_run != NULL) {
        fprintf(stderr, "dsm-info: dsm cannot run here: %s\n", info.cannot_run);
        return 1;
    }
    return 0;
}
