#include <mpi.h>

// OpenMPI's handles and constants are macros over C globals, which Swift cannot import.
static inline MPI_Comm lstm_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype lstm_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype lstm_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype lstm_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Op lstm_mpi_sum(void) { return MPI_SUM; }
static inline void *lstm_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Errhandler lstm_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
