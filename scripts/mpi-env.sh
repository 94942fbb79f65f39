# Sourced by the scripts: lets `mpirun` start on any machine they run on.
# 4 ranks on 2 cores need oversubscription; as root, OpenMPI refuses to start without consent.
export OMPI_MCA_rmaps_base_oversubscribe=1
if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# One BLAS thread per rank: more only oversubscribes the cores under mpirun (docs/platform.md).
export OPENBLAS_NUM_THREADS=1
