/*
 * jacobi_restart: the Jacobi relaxation of jacobi.c, checkpointed every k
 * sweeps, that resumes from its last image when restarted (docs/checkpoint.md).
 * Its own state (the sweep count) lives in the arena, so the image holds it;
 * dsm_restarted() tells it to skip the initialisation. Node 0 compares the
 * final grid with a serial run of all the sweeps, bit for bit.
 * Run:     dsmrun -n 3 ./jacobi_restart DIR [n=128] [sweeps=40] [k=10] [kill=0]
 * Restart: dsmrun -n 3 --restart DIR ./jacobi_restart DIR [n] [sweeps] [k]
 * kill > 0: once the image of sweep `kill` is on disk, the last node kills
 * itself (SIGKILL), as a failing node would.
 */
#include <signal.h>

#include "example_util.h"
#include "jacobi_grid.h"

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : NULL;
    long n = example_arg(argc, argv, 2, 128), sweeps = example_arg(argc, argv, 3, 40);
    long every = example_arg(argc, argv, 4, 10), kill_at = argc > 5 ? example_arg(argc, argv, 5, 0) : 0;
    long width = n + 2, begin, end, *done;
    double *grid[2];
    int *verdict, ok;

    if (dir == NULL) {
        fprintf(stderr, "usage: %s DIR [n] [sweeps] [k] [kill]\n", argv[0]);
        return 2;
    }
    CHECK_DSM(dsm_init(NULL));
    /* The same allocations in the same order: a restart gives them their contents. */
    grid[0] = example_alloc((size_t)(width * width) * sizeof(double));
    grid[1] = example_alloc((size_t)(width * width) * sizeof(double));
    done = example_alloc(sizeof(*done));
    verdict = example_alloc(sizeof(*verdict));
    example_rows(n, dsm_node_id(), dsm_num_nodes(), &begin, &end);
    if (dsm_restarted()) {
        if (dsm_node_id() == 0) {
            printf("jacobi_restart: resuming after sweep %ld\n", *done);
        }
    } else if (dsm_node_id() == 0) {
        boundary(grid[0], width);
        boundary(grid[1], width);
    }
    CHECK_DSM(dsm_barrier());
    for (long s = *done; s < sweeps; s++) {
        sweep(grid[s % 2], grid[(s + 1) % 2], width, begin + 1, end + 1);
        CHECK_DSM(dsm_barrier());
        if ((s + 1) % every != 0) {
            continue;
        }
        if (dsm_node_id() == 0) {
            *done = s + 1; /* in the arena: part of the image */
        }
        CHECK_DSM(dsm_barrier());
        CHECK_DSM(dsm_checkpoint(dir)); /* returns at the cut; written meanwhile */
        if (s + 1 == kill_at) {
            CHECK_DSM(dsm_checkpoint_wait());
            if (dsm_node_id() == 0) {
                printf("jacobi_restart: image of sweep %ld on disk\n", s + 1);
                fflush(stdout);
            }
            CHECK_DSM(dsm_barrier());
            if (dsm_node_id() == dsm_num_nodes() - 1) {
                raise(SIGKILL);
            }
        }
    }
    CHECK_DSM(dsm_checkpoint_wait());
    if (dsm_node_id() == 0) {
        *verdict = verify("jacobi_restart", grid[sweeps % 2], n, sweeps) ? 1 : -1;
    }
    CHECK_DSM(dsm_barrier());
    ok = *verdict == 1;
    printf("jacobi_restart node %d/%d: %ldx%ld, %ld sweeps: %s\n", dsm_node_id(),
           dsm_num_nodes(), n, n, sweeps, ok ? "verified against the serial run" : "WRONG");
    CHECK_DSM(dsm_finalize());
    return !ok;
}
