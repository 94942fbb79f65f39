// The bf16 gradient exchange's cost against the bytes it saves (train --exchange bf16): the
// median time of an in-place allreduce of N gradient floats, fp32 (MPI_SUM on MPI_FLOAT) against
// bf16 (round to nearest even, a blocking sum of MPI_UINT16_T with the user-defined bf16 sum,
// widen back), and of the rounding and widening alone. The bf16 code is
// lstm-dist's own (Sources/CMPI/shim.h, Sources/CBF16Exchange), vectorised as SwiftPM's build
// vectorises it (gcc needs -O3 for that). Rank 0 prints one line per size, the slower rank's
// medians. Across two hosts: scripts/two-hosts.sh -- ./bench-exchange-op.
//
//   mpicc -O3 -ISources/CBF16Exchange/include -o bench-exchange-op scripts/bench-exchange-op.c
//   mpirun -n 2 ./bench-exchange-op [REPEATS]
#include "../Sources/CMPI/shim.h"
#include "../Sources/CBF16Exchange/bf16_exchange.c"
#include <stdio.h>
#include <stdlib.h>

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *times, int n) {
    qsort(times, n, sizeof *times, compare);
    return times[n / 2];
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int repeats = argc > 1 ? atoi(argv[1]) : 30;
    MPI_Op bf16_sum;
    lstm_mpi_bf16_sum_create(&bf16_sum);
    const long sizes[] = {1 << 16, 1 << 18, 1 << 20, 1 << 22};  // floats: 256 KB to 16 MB of fp32
    double *fp32 = malloc(repeats * sizeof *fp32), *bf16 = malloc(repeats * sizeof *bf16), *convert = malloc(repeats * sizeof *convert);
    if (rank == 0) printf("%d ranks, median of %d; fp32 allreduce | bf16: round + allreduce with the bf16 op + widen | of which rounding and widening\n", size, repeats);
    for (int s = 0; s < 4; s++) {
        long n = sizes[s];
        float *gradient = malloc(n * sizeof *gradient), *work = malloc(n * sizeof *work);
        uint16_t *half = malloc(n * sizeof *half);
        for (long k = 0; k < n; k++) gradient[k] = (float)((k * 2654435761u % 1000003) / 1000003.0 - 0.5) * (rank + 1);
        for (int r = 0; r < repeats + 2; r++) {
            memcpy(work, gradient, n * sizeof *work);
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, work, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            double t1 = MPI_Wtime();
            MPI_Barrier(MPI_COMM_WORLD);
            double t2 = MPI_Wtime();
            lstm_bf16_from_float(gradient, half, n);
            double t3 = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, half, (int)n, MPI_UINT16_T, bf16_sum, MPI_COMM_WORLD);
            double t4 = MPI_Wtime();
            lstm_float_from_bf16(half, work, n);
            double t5 = MPI_Wtime();
            if (r >= 2) {
                fp32[r - 2] = t1 - t0;
                bf16[r - 2] = t5 - t2;
                convert[r - 2] = (t3 - t2) + (t5 - t4);
            }
        }
        double local[3] = {median(fp32, repeats), median(bf16, repeats), median(convert, repeats)}, worst[3];
        MPI_Reduce(local, worst, 3, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        if (rank == 0)
            printf("%6.2f MB fp32: fp32 %7.3f ms | bf16 %7.3f ms (%.2fx) | round+widen %6.3f ms\n", n * 4 / 1e6, worst[0] * 1e3,
                   worst[1] * 1e3, worst[0] / worst[1], worst[2] * 1e3);
        free(gradient);
        free(work);
        free(half);
    }
    MPI_Op_free(&bf16_sum);
    MPI_Finalize();
    return 0;
}
