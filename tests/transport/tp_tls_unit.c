/* Unit test of dsm_tp_tls_for: DSM_TRANSPORT's names in UCX_TLS terms. */
#include <stdlib.h>
#include <string.h>

#include "dsm_tp.h"
#include "dsm_test.h"

/* tls_for(transport) gives want (NULL: UCX's own choice). */
static int tp_tls_is(const char *transport, const char *want)
{
    const char *tls = "unset";

    if (dsm_tp_tls_for(transport, &tls) != DSM_OK) {
        return 0;
    }
    return want == NULL ? tls == NULL : tls != NULL && strcmp(tls, want) == 0;
}

static dsm_test_result_t test_tls_names(void)
{
    const char *tls = "unset";

    unsetenv("UCX_TLS");
    DSM_CHECK(tp_tls_is("auto", NULL));
    DSM_CHECK(tp_tls_is("shm", "sm,self"));
    DSM_CHECK(tp_tls_is("tcp", "tcp,self"));
    DSM_CHECK(tp_tls_is("rdma", "rc,ud,self"));
    DSM_CHECK(dsm_tp_tls_for("carrier-pigeon", &tls) == DSM_ERR_INVALID_PARAM);
    DSM_CHECK(strcmp(tls, "unset") == 0);
    return DSM_TEST_PASS;
}

static dsm_test_result_t test_tls_user_wins(void)
{
    setenv("UCX_TLS", "posix,self", 1);
    DSM_CHECK(tp_tls_is("auto", NULL));
    DSM_CHECK(tp_tls_is("tcp", NULL));
    DSM_CHECK(tp_tls_is("rdma", NULL));
    unsetenv("UCX_TLS");
    return DSM_TEST_PASS;
}

static dsm_test_result_t test_tls_shares_memory(void)
{
    unsetenv("UCX_TLS");
    DSM_CHECK(dsm_tp_tls_shares_memory(NULL));             /* UCX's own choice */
    DSM_CHECK(dsm_tp_tls_shares_memory("sm,self"));
    DSM_CHECK(dsm_tp_tls_shares_memory("tcp,cma"));
    DSM_CHECK(dsm_tp_tls_shares_memory("^tcp"));
    DSM_CHECK(!dsm_tp_tls_shares_memory("tcp,self"));
    DSM_CHECK(!dsm_tp_tls_shares_memory("rc,ud,self"));
    DSM_CHECK(!dsm_tp_tls_shares_memory("^sm"));
    DSM_CHECK(!dsm_tp_tls_shares_memory("smx,sm_x"));     /* whole names only */
    setenv("UCX_TLS", "tcp,self", 1);
    DSM_CHECK(!dsm_tp_tls_shares_memory(NULL));            /* the environment's */
    DSM_CHECK(dsm_tp_tls_shares_memory("sm,self"));        /* a config's wins */
    unsetenv("UCX_TLS");
    return DSM_TEST_PASS;
}

static const dsm_test_case_t cases[] = {
    { "tls_names", NULL, test_tls_names, 0 },
    { "tls_user_wins", NULL, test_tls_user_wins, 0 },
    { "tls_shares_memory", NULL, test_tls_shares_memory, 0 },
};

int main(int argc, char **argv)
{
    return dsm_test_main(argc, argv, cases, DSM_TEST_ARRAY_SIZE(cases));
}
