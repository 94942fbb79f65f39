/* Allreduce time against bytes, for the scaling model (scripts/scaling_model.py, docs/scaling.md).
 *
 *   allreduce-sweep BYTES...
 *
 * For each size, an in-place MPI_FLOAT sum over MPI_COMM_WORLD: one warm-up call, then as many
 * timed calls as fit in about a second (3 to 50, decided by rank 0 from the warm-up and
 * broadcast, so every rank calls the same number of times), each started after a barrier and,
 * with SWEEP_GAP_MS set, after that much idle time (fewer calls then: ~2 s of gaps per size).
 * Rank 0 prints one line per size: "BYTES MEDIAN_S MIN_S CALLS". The sum is checked (a broken
 * transport must not look like a fast one): exit 1 on a wrong value.
 *
 * Run it through scripts/two-hosts.sh --rate RATE to measure a shaped link; scripts/
 * bench-multihost.sh does.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    /* SWEEP_GAP_MS: idle time before each call, as training's compute leaves between exchanges
       (TCP restarts slow start on a connection idle for longer than its retransmit timeout). */
    const char *gap_text = getenv("SWEEP_GAP_MS");
    double gap = gap_text ? atof(gap_text) / 1000 : 0;
    struct timespec pause = {(time_t)gap, (long)((gap - (double)(time_t)gap) * 1e9)};
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    for (int arg = 1; arg < argc; arg++) {
        long bytes = atol(argv[arg]);
        long count = bytes / 4 > 0 ? bytes / 4 : 1;
        float *buffer = malloc((size_t)count * sizeof(float));
        if (!buffer) { fprintf(stderr, "allreduce-sweep: cannot allocate %ld bytes\n", bytes); MPI_Abort(MPI_COMM_WORLD, 1); }
        for (long i = 0; i < count; i++) buffer[i] = 1.0f;
        MPI_Barrier(MPI_COMM_WORLD);
        double start = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, buffer, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        double warm = MPI_Wtime() - start;
        if (buffer[0] != (float)size || buffer[count - 1] != (float)size) {
            fprintf(stderr, "rank %d: allreduce sum %g, expected %d\n", rank, buffer[0], size);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        int calls = warm > 0 ? (int)(1.0 / warm) : 50;
        if (gap > 0 && calls > (int)(2.0 / gap)) calls = (int)(2.0 / gap); /* at most ~2 s of idling per size */
        calls = calls < 3 ? 3 : calls > 50 ? 50 : calls;
        MPI_Bcast(&calls, 1, MPI_INT, 0, MPI_COMM_WORLD);
        double *times = malloc((size_t)calls * sizeof(double));
        for (int call = 0; call < calls; call++) {
            for (long i = 0; i < count; i++) buffer[i] = 1.0f;
            if (gap > 0) nanosleep(&pause, NULL);
            MPI_Barrier(MPI_COMM_WORLD);
            start = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, buffer, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            times[call] = MPI_Wtime() - start;
            if (buffer[count - 1] != (float)size) {
                fprintf(stderr, "rank %d: allreduce sum %g, expected %d\n", rank, buffer[count - 1], size);
                MPI_Abort(MPI_COMM_WORLD, 1);
            }
        }
        qsort(times, (size_t)calls, sizeof(double), compare);
        if (rank == 0) {
            printf("%ld %.9f %.9f %d\n", count * 4, times[calls / 2], times[0], calls);
            fflush(stdout);
        }
        free(times);
        free(buffer);
    }
    MPI_Finalize();
    return 0;
}
