/*
 * Integration tests of tools/dsmrun's own behaviour: --help, bad arguments,
 * the environment each node gets (and the job key never on a command line),
 * --tag-output, a node that fails or is killed stopping the job (and named
 * rather than the survivors that exit 3), SIGTERM to dsmrun stopping
 * everything, SIGINT and SIGQUIT reaching the nodes' own handlers, TERM
 * escalating to KILL, SIGKILL of dsmrun leaving nothing behind (also while it
 * starts the nodes), the oversubscription warning, and --hosts through a
 * stand-in for ssh. After each job, no process carrying the case's marker
 * variable may remain. Every wait is on an event: pipe reads, waitpid, pidfd.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dsm_common.h"
#include "dsm_test.h"

#ifndef BOOT_DSMRUN
#error "BOOT_DSMRUN (path of the dsmrun under test) must be defined"
#endif

#define BOOT_OUT_MAX 65536
/* How long the processes of a stopped job may take to exit, all together: a
 * safety net, never waited for unless something is left behind, and long
 * enough that a loaded machine (a TERM delivered, a wrapper or watcher
 * finishing its last commands) cannot reach it. */
#define BOOT_LEFTOVER_WAIT_MS 30000

typedef struct {
    pid_t  pid;
    int    out_fd, err_fd;
    char   out[BOOT_OUT_MAX], err[BOOT_OUT_MAX];
    size_t out_len, err_len;
    int    exit_code; /* exit status, or 128 + signal */
    char   marker[64];
} boot_run_t;

/* Starts dsmrun with args (NULL-terminated) and a marker variable unique to this run. */
static int boot_run_start(boot_run_t *run, const char *const *args)
{
    const char *argv[32] = {BOOT_DSMRUN};
    int out[2], err[2];
    size_t argc = 1;

    memset(run, 0, sizeof(*run));
    snprintf(run->marker, sizeof(run->marker), "BOOT_DSMRUN_MARKER=%d", (int)getpid());
    for (; args[argc - 1] != NULL && argc < 31; argc++) {
        argv[argc] = args[argc - 1];
    }
    argv[argc] = NULL;
    if (pipe(out) != 0 || pipe(err) != 0) {
        return -1;
    }
    fflush(NULL);
    run->pid = fork();
    if (run->pid < 0) {
        return -1;
    }
    if (run->pid == 0) {
        int null_fd = open("/dev/null", O_RDONLY);

        dup2(null_fd, 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        /* Nothing else of the harness's (its result pipe above all): a case
         * that times out leaving processes behind must not keep the harness
         * waiting for EOF on a pipe they hold. */
        close_range(3, ~0U, 0);
        putenv(run->marker);
        setenv("DSM_BOOT_TIMEOUT", "20", 1);
        execv(BOOT_DSMRUN, (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    run->out_fd = out[0];
    run->err_fd = err[0];
    return 0;
}

/* Reads whatever is available on both pipes (blocking in poll); 0 at EOF of both. */
static int boot_run_pump(boot_run_t *run)
{
    struct pollfd pfds[2] = {{.fd = run->out_fd, .events = POLLIN},
                             {.fd = run->err_fd, .events = POLLIN}};
    char *bufs[2] = {run->out, run->err};
    size_t *lens[2] = {&run->out_len, &run->err_len};
    int *fds[2] = {&run->out_fd, &run->err_fd};

    if (run->out_fd < 0 && run->err_fd < 0) {
        return 0;
    }
    if (poll(pfds, 2, -1) < 0) {
        return errno == EINTR ? 1 : -1;
    }
    for (int i = 0; i < 2; i++) {
        ssize_t got;

        if (*fds[i] < 0 || pfds[i].revents == 0) {
            continue;
        }
        got = read(*fds[i], bufs[i] + *lens[i], BOOT_OUT_MAX - 1 - *lens[i]);
        if (got <= 0) {
            close(*fds[i]);
            *fds[i] = -1;
            continue;
        }
        *lens[i] += (size_t)got;
        bufs[i][*lens[i]] = '\0';
    }
    return 1;
}

static int boot_count(const char *text, const char *needle)
{
    int count = 0;

    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
        count++;
    }
    return count;
}

/* Reads until stdout holds count occurrences of needle; 0 if it ended first. */
static int boot_run_wait_for(boot_run_t *run, const char *needle, int count)
{
    while (boot_count(run->out, needle) < count) {
        if (boot_run_pump(run) <= 0) {
            return 0;
        }
    }
    return 1;
}

/* Reaps dsmrun (once) into exit_code. */
static void boot_run_reap(boot_run_t *run)
{
    int status;

    if (run->pid <= 0) {
        return;
    }
    while (waitpid(run->pid, &status, 0) < 0 && errno == EINTR) {
    }
    run->pid = 0;
    run->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Reads both pipes to EOF and reaps dsmrun. */
static void boot_run_finish(boot_run_t *run)
{
    while (boot_run_pump(run) > 0) {
    }
    boot_run_reap(run);
    fprintf(stderr, "  dsmrun ended with %d\n  stdout: %s\n  stderr: %s\n", run->exit_code,
            run->out, run->err);
}

static int boot_run(boot_run_t *run, const char *const *args)
{
    if (boot_run_start(run, args) != 0) {
        return -1;
    }
    boot_run_finish(run);
    return 0;
}

/* Reads /proc/pid/<what> (NUL-separated) into buf as one string of NUL-joined fields. */
static size_t boot_proc_read(const char *pid, const char *what, char *buf, size_t size)
{
    char path[300];
    ssize_t got;
    int fd;

    snprintf(path, sizeof(path), "/proc/%s/%s", pid, what);
    fd = open(path, O_RDONLY);
    if (fd < 0) {
        return 0;
    }
    got = read(fd, buf, size - 1);
    close(fd);
    return got > 0 ? (size_t)got : 0;
}

static int boot_mem_has(const char *buf, size_t len, const char *needle)
{
    return memmem(buf, len, needle, strlen(needle)) != NULL;
}

/* Milliseconds from now to deadline_ns (dsm_now_ns), 0 once it has passed. */
static int boot_ms_left(uint64_t deadline_ns)
{
    uint64_t now_ns = dsm_now_ns();

    return deadline_ns > now_ns ? (int)((deadline_ns - now_ns) / 1000000) : 0;
}

/* One pass of boot_leftovers: adds to *found_p the processes it found. */
static int boot_leftovers_pass(const char *marker, uint64_t deadline_ns, int *found_p)
{
    static char buf[1 << 16];
    struct dirent *entry;
    int left = 0;
    DIR *proc = opendir("/proc");

    if (proc == NULL) {
        return -1;
    }
    while ((entry = readdir(proc)) != NULL) {
        size_t len;
        int pidfd;
        struct pollfd pfd;

        if (entry->d_name[0] < '1' || entry->d_name[0] > '9' ||
            atoi(entry->d_name) == (int)getpid()) {
            continue;
        }
        len = boot_proc_read(entry->d_name, "environ", buf, sizeof(buf));
        if (!boot_mem_has(buf, len, marker)) {
            continue;
        }
        /* Found one: it may be dying already. Wait for its exit as an event. */
        pidfd = (int)syscall(SYS_pidfd_open, atoi(entry->d_name), 0);
        if (pidfd < 0) {
            continue; /* gone meanwhile */
        }
        (*found_p)++;
        pfd.fd = pidfd;
        pfd.events = POLLIN;
        if (poll(&pfd, 1, boot_ms_left(deadline_ns)) == 0) {
            len = boot_proc_read(entry->d_name, "cmdline", buf, sizeof(buf));
            for (size_t i = 0; i + 1 < len; i++) {
                buf[i] = buf[i] == '\0' ? ' ' : buf[i];
            }
            buf[len] = '\0';
            fprintf(stderr, "  left behind: pid %s: %s\n", entry->d_name, buf);
            syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
            left++;
        }
        close(pidfd);
    }
    closedir(proc);
    return left;
}

/* Number of processes (other than this one) whose environment holds marker
 * and that have not exited BOOT_LEFTOVER_WAIT_MS after the check began (each
 * is waited for through a pidfd, so a dying one costs only its exit); each is
 * named on stderr and killed, so that a failed case leaves nothing to the
 * next. A pass that found any is followed by another: a process may fork
 * after the pass went by its pid (a few passes at most; a fork bomb is not
 * the subject). */
static int boot_leftovers(const char *marker)
{
    uint64_t deadline_ns = dsm_now_ns() + (uint64_t)BOOT_LEFTOVER_WAIT_MS * 1000000;
    int left = 0, found = 1;

    for (int pass = 0; pass < 5 && found > 0; pass++) {
        int pass_left;

        found = 0;
        pass_left = boot_leftovers_pass(marker, deadline_ns, &found);
        if (pass_left < 0) {
            return -1;
        }
        left += pass_left;
    }
    return left;
}

/* Whether any process's command line holds text. */
static int boot_text_in_any_cmdline(const char *text)
{
    static char buf[1 << 16];
    struct dirent *entry;
    int found = 0;
    DIR *proc = opendir("/proc");

    if (proc == NULL) {
        return -1;
    }
    while ((entry = readdir(proc)) != NULL) {
        if (entry->d_name[0] >= '1' && entry->d_name[0] <= '9') {
            size_t len = boot_proc_read(entry->d_name, "cmdline", buf, sizeof(buf));

            if (boot_mem_has(buf, len, text)) {
                fprintf(stderr, "  pid %s has the key on its command line\n", entry->d_name);
                found = 1;
            }
        }
    }
    closedir(proc);
    return found;
}

/* ---------------------------------------------------------------- cases */

static dsm_test_result_t boot_dsmrun_help(void)
{
    static boot_run_t run;
    static const char *const args[] = {"--help", NULL};
    static const char *const topics[] = {"-n, --nnodes", "--hosts", "--tag-output", "--grace",
                                         "--rsh", "--oversubscribe", "DSM_RANK", "DSM_NNODES",
                                         "DSM_COORD", "DSM_JOB_KEY", "SIGINT, SIGQUIT, SIGTERM",
                                         "exited 3", "Exit status"};

    DSM_CHECK(boot_run(&run, args) == 0);
    DSM_CHECK(run.exit_code == 0);
    for (size_t i = 0; i < DSM_TEST_ARRAY_SIZE(topics); i++) {
        DSM_CHECKF(strstr(run.out, topics[i]) != NULL, "--help does not mention %s", topics[i]);
    }
    return DSM_TEST_PASS;
}

static dsm_test_result_t boot_dsmrun_bad_args(void)
{
    static const struct {
        const char *args[8];
        const char *message;
    } bad[] = {
        {{"true", NULL}, "number of nodes is required"},
        {{"-n", NULL}, "-n needs a value"},
        {{"-n", "0", "true", NULL}, "out of range"},
        {{"-n", "-3", "true", NULL}, "is not a number"},
        {{"-n", "abc", "true", NULL}, "'abc' is not a number"},
        {{"-n", "5000", "true", NULL}, "out of range"},
        {{"-n", "2", NULL}, "no program to run"},
        {{"-n", "2", "--", NULL}, "no program to run"},
        {{"-n", "2", "/nonexistent/dsm/program", NULL}, "does not exist"},
        {{"-n", "2", "/dev/null", NULL}, "is not an executable file"},
        {{"-n", "2", BOOT_NOT_EXECUTABLE, NULL}, "is not an executable file"},
        {{"-n", "2", "no-such-program-dsm-xyz", NULL}, "not found in PATH"},
        {{"-n", "2", "--hosts", "no-such-host.invalid", "true", NULL}, "unknown host"},
        {{"-n", "2", "--hosts", "localhost,,localhost", "true", NULL}, "empty host name"},
        {{"-n", "2", "--grace", "soon", "true", NULL}, "not a number of seconds"},
        {{"--frobnicate", NULL}, "unknown option '--frobnicate'"},
    };

    for (size_t i = 0; i < DSM_TEST_ARRAY_SIZE(bad); i++) {
        static boot_run_t run;

        DSM_CHECK(boot_run(&run, bad[i].args) == 0);
        DSM_CHECKF(run.exit_code == 2, "case %zu: exit %d", i, run.exit_code);
        DSM_CHECKF(strstr(run.err, bad[i].message) != NULL, "case %zu: no '%s' in: %s", i,
                   bad[i].message, run.err);
        DSM_CHECKF(strncmp(run.err, "dsmrun: ", 8) == 0, "case %zu: unprefixed error", i);
    }
    return DSM_TEST_PASS;
}

static dsm_test_result_t boot_dsmrun_environment(void)
{
    static boot_run_t run;
    static const char *const args[] = {
        "-n", "3", "--", "/bin/sh", "-c",
        "echo \"node $DSM_RANK of $DSM_NNODES at ${DSM_COORD%:*} key ${#DSM_JOB_KEY}\"", NULL};
    char line[128];

    DSM_CHECK(boot_run(&run, args) == 0);
    DSM_CHECK(run.exit_code == 0);
    for (int rank = 0; rank < 3; rank++) {
        snprintf(line, sizeof(line), "node %d of 3 at 127.0.0.1 key 64\n", rank);
        DSM_CHECKF(strstr(run.out, line) != NULL, "missing: %s", line);
    }
    DSM_CHECK(boot_leftovers(run.marker) == 0);
    return DSM_TEST_PASS;
}

/* The key reaches every node, is the same for all, is fresh per job and is on
 * no process's command line while the job runs; SIGTERM then stops it all. */
static dsm_test_result_t boot_dsmrun_key_and_sigterm(void)
{
    static boot_run_t run, again;
    static const char *const args[] = {
        "-n", "3", "--", "/bin/sh", "-c",
        "echo \"key=$DSM_JOB_KEY;\"; sleep 1000 & wait", NULL};
    char key[80] = "";
    const char *at;

    DSM_CHECK(boot_run_start(&run, args) == 0);
    DSM_CHECK(boot_run_wait_for(&run, ";\n", 3));
    at = strstr(run.out, "key=");
    DSM_CHECK(at != NULL && sscanf(at, "key=%79[0-9a-f];", key) == 1 && strlen(key) == 64);
    DSM_CHECK(boot_count(run.out, key) == 3);
    DSM_CHECK(boot_text_in_any_cmdline(key) == 0);
    DSM_CHECK(kill(run.pid, SIGTERM) == 0);
    boot_run_finish(&run);
    DSM_CHECKF(run.exit_code == 128 + SIGTERM, "exit %d", run.exit_code);
    DSM_CHECK(strstr(run.err, "received SIGTERM") != NULL);
    DSM_CHECK(boot_leftovers(run.marker) == 0);

    /* A second job gets a different key. */
    DSM_CHECK(boot_run_start(&again, args) == 0);
    DSM_CHECK(boot_run_wait_for(&again, ";\n", 3));
    DSM_CHECK(strstr(again.out, key) == NULL);
    DSM_CHECK(kill(again.pid, SIGINT) == 0);
    boot_run_finish(&again);
    DSM_CHECKF(again.exit_code == 128 + SIGINT, "exit %d", again.exit_code);
    DSM_CHECK(boot_leftovers(again.marker) == 0);
    return DSM_TEST_PASS;
}

static dsm_test_result_t boot_dsmrun_tag_output(void)
{
    static boot_run_t run;
    static const char *const args[] = {
        "-n", "2", "--tag-output", "--", "/bin/sh", "-c",
        "echo out$DSM_RANK; echo err$DSM_RANK >&2", NULL};

    DSM_CHECK(boot_run(&run, args) == 0);
    DSM_CHECK(run.exit_code == 0);
    DSM_CHECK(strstr(run.out, "[0] out0\n") != NULL && strstr(run.out, "[1] out1\n") != NULL);
    DSM_CHECK(strstr(run.err, "[0] err0\n") != NULL && strstr(run.err, "[1] err1\n") != NULL);
    DSM_CHECK(strstr(run.out, "err") == NULL);
    return DSM_TEST_PASS;
}

/* Node 1 fails while the others wait: dsmrun names it and stops the rest. */
static dsm_test_result_t boot_dsmrun_node_exit(void)
{
    static boot_run_t run;
    static const char *const args[] = {
        "-n", "3", "--", "/bin/sh", "-c",
        "if [ \"$DSM_RANK\" = 1 ]; then exit 3; fi; sleep 1000 & wait", NULL};

    DSM_CHECK(boot_run(&run, args) == 0);
    DSM_CHECKF(run.exit_code == 3, "exit %d", run.exit_code);
    DSM_CHECK(strstr(run.err, "node 1 (pid") != NULL);
    DSM_CHECK(strstr(run.err, "exited with status 3") != NULL);
    DSM_CHECK(strstr(run.err, "stopping the other 2 node(s)") != NULL);
    DSM_CHECK(boot_leftovers(run.marker) == 0);
    return DSM_TEST_PASS;
}

static dsm_test_result_t boot_dsmrun_node_killed(void)
{
    static boot_run_t run;
    static const char *const args[] = {
        "-n", "3", "--", "/bin/sh", "-c",
        "if [ \"$DSM_RANK\" = 2 ]; then kill -KILL $$; fi; sleep 1000 & wait", NULL};

    DSM_CHECK(boot_run(&run, args) == 0);
    DSM_CHECKF(run.exit_code == 128 + SIGKILL, "exit %d", run.exit_code);
    DSM_CHECK(strstr(run.err, "node 2 (pid") != NULL);
    DSM_CHECK(strstr(run.err, "killed by signal KILL") != NULL);
    DSM_CHECK(boot_leftovers(run.marker) == 0);
    return DSM_TEST_PASS;
}

/* Nodes that ignore TERM are killed after the grace period. */
static dsm_test_result_t boot_dsmrun_term_ignored(void)
{
    static boot_run_t run;
    static const char *const args[] = {
        "-n", "2", "--grace", "1", "--", "/bin/sh", "-c",
        "trap '' TERM; echo ready; exec sleep 1000", NULL};

    DSM_CHECK(boot_run_start(&run, args) == 0);
    /* Both have set the trap: the TERM below is ignored, only KILL ends them. */
    DSM_CHECK(boot_run_wait_for(&run, "ready\n", 2));
    DSM_CHECK(kill(run.pid, SIGTERM) == 0);
    boot_run_finish(&run);
    DSM_CHECKF(run.exit_code == 128 + SIGTERM, "exit %d", run.exit_code);
    DSM_CHECK(boot_leftovers(run.marker) == 0);
    return DSM_TEST_PASS;
}

/* SIGINT, then SIGQUIT, to dsmrun: each node's program starts with neither
 * ignored (its SigIgn), so the shell's trap is set and its handler runs (a
 * line per node) instead of the nodes being killed after the grace period. */
static dsm_test_result_t boot_dsmrun_sigint_handled(void)
{
    static const char *const args[] = {
        "-n", "3", "--", "/bin/sh", "-c",
        "sed -n 's/^SigIgn:[[:space:]]*/sigign=/p' /proc/$$/status;"
        "trap 'echo handled by $DSM_RANK; exit 0' INT QUIT; sleep 1000 & echo ready; wait",
        NULL};
    static const int sigs[] = {SIGINT, SIGQUIT};
    const unsigned long long int_quit = (1ULL << (SIGINT - 1)) | (1ULL << (SIGQUIT - 1));

    for (size_t i = 0; i < DSM_TEST_ARRAY_SIZE(sigs); i++) {
        static boot_run_t run;
        const char *at;
        int nodes_clean = 0;

        DSM_CHECK(boot_run_start(&run, args) == 0);
        DSM_CHECK(boot_run_wait_for(&run, "ready\n", 3));
        for (at = run.out; (at = strstr(at, "sigign=")) != NULL; at++) {
            unsigned long long ignored;

            nodes_clean += sscanf(at, "sigign=%llx", &ignored) == 1 && (ignored & int_quit) == 0;
        }
        DSM_CHECK(kill(run.pid, sigs[i]) == 0);
        boot_run_finish(&run);
        DSM_CHECKF(nodes_clean == 3, "%d of 3 nodes start with SIGINT and SIGQUIT not ignored",
                   nodes_clean);
        DSM_CHECKF(boot_count(run.out, "handled by ") == 3, "%d of 3 handlers ran",
                   boot_count(run.out, "handled by "));
        DSM_CHECKF(run.exit_code == 128 + sigs[i], "exit %d", run.exit_code);
        DSM_CHECK(strstr(run.err, "killed by signal") == NULL);
        DSM_CHECK(boot_leftovers(run.marker) == 0);
    }
    return DSM_TEST_PASS;
}

/* Removes directory path and what it holds (files, FIFOs, empty directories);
 * returns how many entries it held. */
static int boot_dir_remove(const char *path)
{
    struct dirent *entry;
    char entry_path[512];
    int count = 0;
    DIR *dir = opendir(path);

    if (dir == NULL) {
        return -1;
    }
    while ((entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) {
            snprintf(entry_path, sizeof(entry_path), "%s/%s", path, entry->d_name);
            remove(entry_path);
            count++;
        }
    }
    closedir(dir);
    rmdir(path);
    return count;
}

/* SIGKILL to dsmrun, in a TMPDIR of the case's own: its watcher stops every
 * node, wrapper and --tag-output filter (waited for through pidfds, bounded),
 * and dsmrun's temporary directory goes. */
static dsm_test_result_t boot_dsmrun_killed_in(const char *tmp_dir)
{
    static boot_run_t run;
    static const char *const args[] = {
        "-n", "3", "--tag-output", "--", "/bin/sh", "-c", "sleep 1000 & echo ready; wait", NULL};
    int started;

    setenv("TMPDIR", tmp_dir, 1);
    started = boot_run_start(&run, args);
    unsetenv("TMPDIR");
    DSM_CHECK(started == 0);
    DSM_CHECK(boot_run_wait_for(&run, "ready\n", 3));
    DSM_CHECK(kill(run.pid, SIGKILL) == 0);
    boot_run_reap(&run);
    DSM_CHECK(boot_leftovers(run.marker) == 0);
    boot_run_finish(&run);
    DSM_CHECKF(run.exit_code == 128 + SIGKILL, "exit %d", run.exit_code);
    return DSM_TEST_PASS;
}

static dsm_test_result_t boot_dsmrun_killed(void)
{
    static char tmp_dir[] = "/tmp/boot_dsmrun_tmp.XXXXXX";
    dsm_test_result_t result;

    DSM_CHECK(mkdtemp(tmp_dir) != NULL);
    result = boot_dsmrun_killed_in(tmp_dir);
    DSM_CHECKF(boot_dir_remove(tmp_dir) == 0, "dsmrun's temporary directory is left");
    return result;
}

/* SIGKILL to dsmrun while it is still starting nodes: node 3 of 8 sends it as
 * its program starts (its parent is its wrapper, whose parent is dsmrun), so
 * dsmrun dies right after forking a wrapper. Every node that did start must be
 * stopped by the watcher. When dsmrun told the watcher each node's group after
 * the fork, the node that killed it was most often left running (14 rounds of
 * 30 on a loaded 2-CPU machine): dsmrun had not written its group yet. */
static dsm_test_result_t boot_dsmrun_killed_starting(void)
{
    enum { boot_rounds = 10 };
    static const char *const args[] = {
        "-n", "8", "--", "/bin/sh", "-c",
        "if [ \"$DSM_RANK\" = 3 ]; then read -r _ _ _ dsmrun _ </proc/$PPID/stat;"
        " kill -KILL \"$dsmrun\"; fi; sleep 1000 & wait",
        NULL};

    for (int round = 0; round < boot_rounds; round++) {
        static boot_run_t run;

        DSM_CHECK(boot_run_start(&run, args) == 0);
        boot_run_reap(&run);
        DSM_CHECKF(run.exit_code == 128 + SIGKILL, "round %d: exit %d", round, run.exit_code);
        DSM_CHECKF(boot_leftovers(run.marker) == 0, "round %d: nodes left running", round);
        boot_run_finish(&run);
    }
    return DSM_TEST_PASS;
}

/* Node 3 dies of SIGKILL and the others exit 3 at once, as dsm nodes that lose
 * a peer do: each survivor reads a FIFO in fifo_dir whose only writer is node
 * 3, so its EOF comes with node 3's death. The survivors' statuses often reach
 * dsmrun first (about one round in three before the fix); node 3 must be the
 * one named, every round. */
static dsm_test_result_t boot_dsmrun_killed_named_in(const char *fifo_dir)
{
    enum { boot_rounds = 20 };
    static const char *const script =
        "if [ \"$DSM_RANK\" = 3 ]; then exec 3>\"$1/0\" 4>\"$1/1\" 5>\"$1/2\"; kill -KILL $$; fi;"
        "exec <\"$1/$DSM_RANK\"; cat >/dev/null; exit 3";
    const char *args[] = {"-n", "4", "--", "/bin/sh", "-c", script, "sh", fifo_dir, NULL};
    char path[64];

    for (int rank = 0; rank < 3; rank++) {
        snprintf(path, sizeof(path), "%s/%d", fifo_dir, rank);
        DSM_CHECK(mkfifo(path, 0600) == 0);
    }
    for (int round = 0; round < boot_rounds; round++) {
        static boot_run_t run;

        DSM_CHECK(boot_run(&run, args) == 0);
        DSM_CHECKF(run.exit_code == 128 + SIGKILL, "round %d: exit %d", round, run.exit_code);
        DSM_CHECKF(strstr(run.err, "node 3 (pid") != NULL &&
                       strstr(run.err, "killed by signal KILL") != NULL,
                   "round %d: node 3 not named", round);
        DSM_CHECK(strstr(run.err, "exited with status 3") == NULL);
        DSM_CHECK(boot_leftovers(run.marker) == 0);
    }
    return DSM_TEST_PASS;
}

static dsm_test_result_t boot_dsmrun_killed_named(void)
{
    static char fifo_dir[] = "/tmp/boot_dsmrun_fifo.XXXXXX";
    dsm_test_result_t result;

    DSM_CHECK(mkdtemp(fifo_dir) != NULL);
    result = boot_dsmrun_killed_named_in(fifo_dir);
    boot_dir_remove(fifo_dir);
    return result;
}

/* More local nodes than CPUs: one warning line, unless --oversubscribe. */
static dsm_test_result_t boot_dsmrun_oversubscribe(void)
{
    static boot_run_t over, quiet, fits;
    cpu_set_t set;
    char nodes_more[16], nodes_fit[16], warning[96];

    DSM_CHECK(sched_getaffinity(0, sizeof(set), &set) == 0);
    snprintf(nodes_more, sizeof(nodes_more), "%d", CPU_COUNT(&set) + 1);
    snprintf(nodes_fit, sizeof(nodes_fit), "%d", CPU_COUNT(&set));
    snprintf(warning, sizeof(warning), "dsmrun: %d nodes on %d CPUs: nodes share CPUs",
             CPU_COUNT(&set) + 1, CPU_COUNT(&set));
    {
        const char *const args[] = {"-n", nodes_more, "true", NULL};
        const char *const quiet_args[] = {"-n", nodes_more, "--oversubscribe", "true", NULL};
        const char *const fit_args[] = {"-n", nodes_fit, "true", NULL};

        DSM_CHECK(boot_run(&over, args) == 0 && over.exit_code == 0);
        DSM_CHECK(boot_count(over.err, warning) == 1);
        DSM_CHECK(boot_run(&quiet, quiet_args) == 0 && quiet.exit_code == 0);
        DSM_CHECK(strstr(quiet.err, "CPUs") == NULL);
        DSM_CHECK(boot_run(&fits, fit_args) == 0 && fits.exit_code == 0);
        DSM_CHECK(strstr(fits.err, "CPUs") == NULL);
    }
    return DSM_TEST_PASS;
}

/* --hosts through fake_rsh.sh: the real bootstrap across "remote" nodes, the
 * key absent from every remote command line, and a failure stopping them all. */
static dsm_test_result_t boot_dsmrun_hosts(void)
{
    static boot_run_t run, fail;
    static char log_path[] = "/tmp/boot_dsmrun_rsh.XXXXXX";
    static const char *const args[] = {
        "-n", "4", "--hosts", "localhost,127.0.0.1", "--rsh", BOOT_FAKE_RSH, "--",
        BOOT_ALLGATHER, "-f", "allgather", NULL};
    static const char *const fail_args[] = {
        "-n", "3", "--hosts", "localhost", "--rsh", BOOT_FAKE_RSH, "--", "/bin/sh", "-c",
        "echo \"key=$DSM_JOB_KEY;\"; if [ \"$DSM_RANK\" = 2 ]; then exit 4; fi; exec sleep 1000",
        NULL};
    static char log[BOOT_OUT_MAX];
    char key[80] = "";
    const char *at;
    ssize_t got;
    int fd = mkstemp(log_path);

    DSM_CHECK(fd >= 0);
    setenv("FAKE_RSH_LOG", log_path, 1);
    DSM_CHECK(boot_run(&run, args) == 0);
    DSM_CHECKF(run.exit_code == 0, "exit %d", run.exit_code);
    DSM_CHECK(boot_count(run.out, "1 passed, 0 failed, 0 skipped") == 4);
    DSM_CHECK(boot_leftovers(run.marker) == 0);

    DSM_CHECK(boot_run(&fail, fail_args) == 0);
    DSM_CHECKF(fail.exit_code == 4, "exit %d", fail.exit_code);
    DSM_CHECK(strstr(fail.err, "node 2 (pid") != NULL);
    DSM_CHECK(boot_leftovers(fail.marker) == 0);
    at = strstr(fail.out, "key=");
    DSM_CHECK(at != NULL && sscanf(at, "key=%79[0-9a-f];", key) == 1 && strlen(key) == 64);

    got = pread(fd, log, sizeof(log) - 1, 0);
    close(fd);
    unlink(log_path);
    DSM_CHECK(got > 0);
    log[got] = '\0';
    /* Every node of the first job; the second may stop some before they start. */
    DSM_CHECK(boot_count(log, "DSM_RANK=") >= 5);
    DSM_CHECK(strstr(log, key) == NULL);
    return DSM_TEST_PASS;
}

int main(int argc, char **argv)
{
    static const dsm_test_case_t cases[] = {
        {"help", NULL, boot_dsmrun_help, 0},
        {"bad_args", NULL, boot_dsmrun_bad_args, 0},
        {"environment", NULL, boot_dsmrun_environment, 0},
        {"key_and_sigterm", NULL, boot_dsmrun_key_and_sigterm, 0},
        {"tag_output", NULL, boot_dsmrun_tag_output, 0},
        {"node_exit", NULL, boot_dsmrun_node_exit, 0},
        {"node_killed", NULL, boot_dsmrun_node_killed, 0},
        {"term_ignored", NULL, boot_dsmrun_term_ignored, 0},
        {"sigint_handled", NULL, boot_dsmrun_sigint_handled, 0},
        {"dsmrun_killed", NULL, boot_dsmrun_killed, 0},
        {"killed_starting", NULL, boot_dsmrun_killed_starting, 120},
        {"killed_named", NULL, boot_dsmrun_killed_named, 0},
        {"oversubscribe", NULL, boot_dsmrun_oversubscribe, 0},
        {"hosts", NULL, boot_dsmrun_hosts, 120},
    };

    return dsm_test_main(argc, argv, cases, DSM_TEST_ARRAY_SIZE(cases));
}
