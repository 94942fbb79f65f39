#include <mpi.h>
#include <stdint.h>
#include <string.h>

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

// bfloat16 (the top half of an IEEE float) for gradients that cross the network at half the bytes.
// Rounded to nearest, ties to even; NaN stays a (quiet) NaN; a finite value above bf16's largest
// rounds to infinity, as IEEE rounding does. Plain loops over integers: the compiler vectorises them.
static inline uint16_t lstm_bf16_round(float value) {
    uint32_t bits;
    memcpy(&bits, &value, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40u);
    return (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

static inline float lstm_bf16_widen(uint16_t value) {
    uint32_t bits = (uint32_t)value << 16;
    float result;
    memcpy(&result, &bits, 4);
    return result;
}

static inline void lstm_bf16_from_float(const float *source, uint16_t *target, long count) {
    for (long k = 0; k < count; k++) target[k] = lstm_bf16_round(source[k]);
}

static inline void lstm_float_from_bf16(const uint16_t *source, float *target, long count) {
    for (long k = 0; k < count; k++) target[k] = lstm_bf16_widen(source[k]);
}

// The user-defined MPI operation: inout[k] = bf16(fp32(in[k]) + fp32(inout[k])), each reduction
// step rounding its sum back to bf16 (as PyTorch's bf16_compress_hook's allreduce does).
static void lstm_bf16_sum(void *in, void *inout, int *length, MPI_Datatype *type) {
    (void)type;
    const uint16_t *a = (const uint16_t *)in;
    uint16_t *b = (uint16_t *)inout;
    for (int k = 0; k < *length; k++) b[k] = lstm_bf16_round(lstm_bf16_widen(a[k]) + lstm_bf16_widen(b[k]));
}

/// Creates the commutative bf16 sum over MPI_UINT16_T elements.
static inline int lstm_mpi_bf16_sum_create(MPI_Op *op) { return MPI_Op_create(lstm_bf16_sum, 1, op); }
