/*
 * team_dsm: main() of the dsm form of a team application (team.h): the
 * job's arrays are dsm_alloc'ed (default placement, no hints) in setup's
 * order on every node, its locks are dsm_lock_create'd, the team's barrier
 * and locks are dsm_barrier and dsm_lock_acquire/release. Node 0 times the
 * run between two barriers, checks the result through the arena and reports;
 * it exits 1 on a wrong result (after dsm_finalize, so dsmrun sees it).
 * Run: dsmrun -n N -- <app>_dsm [the app's arguments]
 */
#include "dsm.h"
#include "team.h"

static void team_dsm_check(dsm_status_t status, const char *what)
{
    if (status != DSM_OK) {
        fprintf(stderr, "%s_dsm: %s: %s\n", apps_app.name, what, dsm_strerror(status));
        exit(1);
    }
}

static void team_dsm_barrier(apps_team_t *team)
{
    (void)team;
    team_dsm_check(dsm_barrier(), "dsm_barrier");
}

static void team_dsm_lock(apps_team_t *team, long lock)
{
    const dsm_lock_t *locks = team->impl;

    team_dsm_check(dsm_lock_acquire(locks[lock]), "dsm_lock_acquire");
}

static void team_dsm_unlock(apps_team_t *team, long lock)
{
    const dsm_lock_t *locks = team->impl;

    team_dsm_check(dsm_lock_release(locks[lock]), "dsm_lock_release");
}

int main(int argc, char **argv)
{
    apps_job_t job = { 0 };
    apps_team_t team;
    dsm_lock_t *locks;
    double start, elapsed;
    uint64_t hash;
    bool ok = true;

    team_dsm_check(dsm_init(NULL), "dsm_init");
    apps_app.setup(&job, dsm_num_nodes(), argc, argv);
    for (int k = 0; k < job.arrays; k++) {
        job.array[k] = dsm_alloc(job.bytes[k]);
        if (job.array[k] == NULL) {
            team_dsm_check(dsm_last_error(), "dsm_alloc");
        }
    }
    locks = calloc((size_t)job.locks + 1, sizeof(*locks));
    if (locks == NULL) {
        team_dsm_check(DSM_ERR_NO_MEMORY, "calloc");
    }
    for (long i = 0; i < job.locks; i++) {
        team_dsm_check(dsm_lock_create(&locks[i]), "dsm_lock_create");
    }
    team = (apps_team_t){ dsm_node_id(), dsm_num_nodes(), team_dsm_barrier, team_dsm_lock,
                          team_dsm_unlock, locks };
    apps_app.init(&job, &team);
    team_dsm_barrier(&team);
    start = apps_seconds();
    apps_app.run(&job, &team);
    team_dsm_barrier(&team);
    elapsed = apps_seconds() - start;
    if (team.id == 0) {
        ok = apps_app.check(&job, &hash);
        apps_report(apps_app.name, "dsm", job.n, job.iters, team.parts, elapsed, hash);
        if (!ok) {
            fprintf(stderr, "%s_dsm: wrong result on %d nodes\n", apps_app.name, team.parts);
        }
    }
    team_dsm_barrier(&team);
    for (int k = job.arrays - 1; k >= 0; k--) {
        dsm_free(job.array[k]);
    }
    free(locks);
    team_dsm_check(dsm_finalize(), "dsm_finalize");
    return ok ? 0 : 1;
}
