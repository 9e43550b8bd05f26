// Internal to dist/: the MPI helpers that dist.cpp and data_parallel.cpp share. Includes <mpi.h>,
// so no public header may include this one.
#pragma once

#include <mpi.h>

#include <string_view>

#include "tensor/dtype.h"

namespace nabla::dist::detail {

// Throws nabla::Error "<op>: MPI error: <MPI's text>" unless `code` is MPI_SUCCESS.
void check_mpi(int code, std::string_view op);
// Throws "<op>: call nabla::dist::init() first" before init.
void check_initialized(std::string_view op);
MPI_Datatype mpi_type(DType dtype);

}  // namespace nabla::dist::detail
