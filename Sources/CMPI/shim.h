#include <mpi.h>
#include <stdint.h>

// OpenMPI's handles and constants are macros over C globals, which Swift cannot import.
static inline MPI_Comm lstm_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype lstm_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype lstm_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype lstm_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype lstm_mpi_uint16(void) { return MPI_UINT16_T; }
static inline MPI_Op lstm_mpi_sum(void) { return MPI_SUM; }
static inline void *lstm_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Errhandler lstm_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline MPI_Request lstm_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *lstm_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }

// The user-defined MPI operation of `train --exchange bf16`: inout[k] = bf16(fp32(in[k]) +
// fp32(inout[k])), each reduction step rounding its sum back to bf16 (as PyTorch's
// bf16_compress_hook's allreduce does). The loop is CBF16Exchange's, vectorised there.
void lstm_bf16_add(const uint16_t *addend, uint16_t *sum, long count);

static void lstm_bf16_sum(void *in, void *inout, int *length, MPI_Datatype *type) {
    (void)type;
    lstm_bf16_add((const uint16_t *)in, (uint16_t *)inout, *length);
}

/// Creates the commutative bf16 sum over MPI_UINT16_T elements.
static inline int lstm_mpi_bf16_sum_create(MPI_Op *op) { return MPI_Op_create(lstm_bf16_sum, 1, op); }
