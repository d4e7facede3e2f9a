/*
 * Helpers shared by the transport test programs: join the job (bootstrap +
 * transport), wait for events with a bound, an AM-based quiesce that keeps
 * serving peers, and deterministic payload patterns to check contents.
 *
 * Every program runs as one node of a job started by dsmrun or mpirun (or
 * alone: a single-node job).
 */
#ifndef TP_TEST_H
#define TP_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "dsm_test.h"
#include "dsm_tp.h"

/* The AM id the helpers keep for themselves (quiesce); tests use lower ids. */
#define TP_TEST_AM_QUIESCE (DSM_TP_AM_ID_COUNT - 1)

/* Waits in tests are bounded by this (a hang fails, it never blocks ctest). */
#define TP_TEST_WAIT_MS 20000

typedef struct {
    dsm_boot_t *boot;
    dsm_tp_t      *tp;
    int            node;
    int            nnodes;
    int            quiesce_seen[2]; /* by epoch parity: a fast node may be one ahead */
    int            quiesce_epoch;
    int            lost_count;  /* peer-lost callbacks so far */
    int            lost_node;   /* the last node reported lost, -1 */
} tp_test_job_t;

/* Bootstrap and create the transport (handlers may be registered next). */
dsm_status_t tp_test_start(tp_test_job_t *job);
/* Connect every node (collective). */
dsm_status_t tp_test_connect(tp_test_job_t *job);
/* Progress until *flag >= target or TP_TEST_WAIT_MS pass. */
dsm_status_t tp_test_wait_count(tp_test_job_t *job, const int *flag, int target);
/*
 * Collective: tell every node this one is done and progress (serving their
 * requests) until every node has said the same.
 */
dsm_status_t tp_test_quiesce(tp_test_job_t *job);
/* Destroy the transport and leave the job. */
void tp_test_finish(tp_test_job_t *job);

/*
 * Fill / check buf with bytes [start, start + length) of the pattern of seed;
 * check returns the index of the first bad byte in buf, or -1.
 */
void tp_test_fill(void *buf, size_t length, uint32_t seed);
long tp_test_check_at(const void *buf, size_t length, uint32_t seed, size_t start);
#define tp_test_check(buf, length, seed) tp_test_check_at((buf), (length), (seed), 0)

#endif /* TP_TEST_H */
