# The fuzz targets' harnesses also run in the normal build: fuzz_regression_test feeds them every
# seed and regression input (no clang needed). The libFuzzer binaries: tests/fuzz/CMakeLists.txt.
target_sources(gst_tests PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/fuzz_target.cpp ${CMAKE_CURRENT_LIST_DIR}/npz_target.cpp
  ${CMAKE_CURRENT_LIST_DIR}/config_target.cpp ${CMAKE_CURRENT_LIST_DIR}/manifest_target.cpp
  ${CMAKE_CURRENT_LIST_DIR}/shard_target.cpp ${CMAKE_CURRENT_LIST_DIR}/checkpoint_target.cpp)
target_compile_definitions(gst_tests PRIVATE GST_FUZZ_DATA_DIR="${CMAKE_CURRENT_LIST_DIR}")
