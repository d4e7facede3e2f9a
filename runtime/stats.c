/* Fault latency histogram. */
#include "dsm_rt.h"

static unsigned dsm_rt_hist_bucket(uint64_t ns)
{
    unsigned log2, sub;

    if (ns < DSM_RT_HIST_SUB) {
        return (unsigned)ns;
    }
    log2 = 63u - (unsigned)__builtin_clzll(ns);
    /* The 3 bits below the leading one select the sub-bucket. */
    sub = (unsigned)(ns >> (log2 - 3)) & (DSM_RT_HIST_SUB - 1);
    return (log2 - 2) * DSM_RT_HIST_SUB + sub;
}

/* The upper bound (ns) of a bucket: the value reported for its samples. */
static double dsm_rt_hist_bucket_limit_ns(unsigned bucket)
{
    unsigned log2 = bucket / DSM_RT_HIST_SUB + 2;
    unsigned sub = bucket % DSM_RT_HIST_SUB;

    if (bucket < DSM_RT_HIST_SUB) {
        return (double)bucket + 1;
    }
    return (double)(UINT64_C(1) << log2) * (1.0 + (sub + 1) / (double)DSM_RT_HIST_SUB);
}

void dsm_rt_hist_add(dsm_rt_hist_t *hist, uint64_t ns)
{
    hist->counts[dsm_rt_hist_bucket(ns)]++;
    hist->total++;
}

double dsm_rt_hist_percentile_us(const dsm_rt_hist_t *hist, double pct)
{
    uint64_t rank, seen = 0;

    if (hist->total == 0) {
        return 0;
    }
    rank = (uint64_t)(pct / 100.0 * (double)hist->total + 0.5);
    rank = rank == 0 ? 1 : rank;
    for (unsigned bucket = 0; bucket < DSM_RT_HIST_BUCKETS; bucket++) {
        seen += hist->counts[bucket];
        if (seen >= rank) {
            return dsm_rt_hist_bucket_limit_ns(bucket) / 1000.0;
        }
    }
    return 0;
}
