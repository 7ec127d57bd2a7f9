// The world communicator of gst_mpi_tests: every test in that binary runs on all ranks at once.
#pragma once

#include "dist/mpi_communicator.h"

namespace gst::testing {

MpiCommunicator& world();

}  // namespace gst::testing
