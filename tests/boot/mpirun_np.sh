#!/bin/sh
# mpirun_np.sh N program [args...]: runs program as N processes under Open MPI's
# mpirun, which gives each one a PMIx server (the bootstrap's PMIx path).
# Exits 77 (ctest's skip) with the reason when mpirun is not installed.
n=$1
shift
if ! command -v mpirun >/dev/null 2>&1; then
    echo "SKIP: mpirun not found in PATH (install openmpi-bin for the PMIx path)"
    exit 77
fi
# Variables of the dsmrun path would take precedence over PMIx: drop them.
unset DSM_RANK DSM_NNODES DSM_COORD DSM_JOB_KEY
exec mpirun --allow-run-as-root --oversubscribe -np "$n" "$@"
