# Multi-rank tests: one GoogleTest binary (gst_mpi_tests, sources tests/comm/mpi/*.cpp) run under
# mpirun with 1 to 4 ranks. Only rank 0 prints gtest's output; other ranks print their failures;
# the exit code is non-zero when any rank failed.
file(GLOB GST_MPI_TEST_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/mpi/*.cpp)
add_executable(gst_mpi_tests ${GST_MPI_TEST_SOURCES} ${CMAKE_CURRENT_SOURCE_DIR}/test_support.cpp)
gst_test_target(gst_mpi_tests)
target_link_libraries(gst_mpi_tests PRIVATE gstcore GTest::gtest)

foreach(ranks 1 2 3 4)
  add_test(NAME comm_mpi_np${ranks}
    COMMAND ${MPIEXEC_EXECUTABLE} --allow-run-as-root --oversubscribe -np ${ranks}
      $<TARGET_FILE:gst_mpi_tests>)
  set_tests_properties(comm_mpi_np${ranks} PROPERTIES TIMEOUT 180 LABELS mpi
    ENVIRONMENT "OMP_NUM_THREADS=1")
endforeach()
