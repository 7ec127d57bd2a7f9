// The checked-call macro for MPI and the process-wide MPI start-up.
#pragma once

// gst uses MPI's C API only; the deprecated C++ bindings would need another library.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

namespace gst::mpi {

// Throws gst::Error naming the call, the source file name (no directories) and line, this rank and
// MPI's error string.
void check(int code, const char* call, const char* file, int line);

// Initializes MPI once per process (MPI_THREAD_SERIALIZED) and finalizes it at exit.
void ensure_initialized();

// True between MPI_Init and MPI_Finalize.
bool running();

// Rank in MPI_COMM_WORLD, or -1 when MPI is not running.
int world_rank();

}  // namespace gst::mpi

#define GST_MPI_CHECK(call) ::gst::mpi::check((call), #call, __FILE__, __LINE__)
