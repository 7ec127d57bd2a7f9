# The stand-in for a LibTorch that exports its own std::filesystem (library_order_test.cpp).
add_library(gst_fake_filesystem SHARED ${CMAKE_CURRENT_LIST_DIR}/fake_filesystem.cpp)
add_dependencies(gst_tests gst_fake_filesystem)
target_compile_definitions(gst_tests PRIVATE
  GST_FAKE_FILESYSTEM="$<TARGET_FILE:gst_fake_filesystem>")
