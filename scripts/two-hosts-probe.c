/* A tiny MPI job for scripts/two-hosts.sh --self-test and scripts/multihost-failure-check.sh.
 *
 *   two-hosts-probe            every rank prints its host, one allreduce is checked, exit 0
 *   two-hosts-probe SECONDS    then 1 MB allreduces for that long, rank 0 printing one line a
 *                              second: a job that is busy on the link when a fault is injected
 *
 * Exits 1 when an allreduce returns a wrong sum (a broken transport must not look like success).
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

enum { COUNT = 1 << 18 }; /* 1 MB of floats: large enough that TCP carries real traffic */

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size, length;
    char host[MPI_MAX_PROCESSOR_NAME];
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Get_processor_name(host, &length);
    printf("rank %d/%d on %s\n", rank, size, host);
    fflush(stdout);

    static float buffer[COUNT];
    double seconds = argc > 1 ? atof(argv[1]) : 0;
    double start = MPI_Wtime(), lastPrint = start;
    long rounds = 0;
    int more;
    do {
        for (int i = 0; i < COUNT; i++) buffer[i] = (float)(rank + 1);
        MPI_Allreduce(MPI_IN_PLACE, buffer, COUNT, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        /* 1 + 2 + ... + size, exact in float for any realistic size */
        float expected = (float)size * (float)(size + 1) / 2;
        if (buffer[0] != expected || buffer[COUNT - 1] != expected) {
            fprintf(stderr, "rank %d: allreduce sum %g, expected %g\n", rank, buffer[0], expected);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        rounds++;
        double now = MPI_Wtime();
        if (rank == 0 && seconds > 0 && now - lastPrint >= 1) {
            printf("%.0f s: %ld allreduces of 1 MB\n", now - start, rounds);
            fflush(stdout);
            lastPrint = now;
        }
        /* rank 0's clock decides, so every rank runs the same number of allreduces */
        more = MPI_Wtime() - start < seconds;
        MPI_Bcast(&more, 1, MPI_INT, 0, MPI_COMM_WORLD);
    } while (more);

    if (rank == 0) printf("allreduce ok: %d ranks, %ld rounds\n", size, rounds);
    MPI_Finalize();
    return 0;
}
