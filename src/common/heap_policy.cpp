#include "common/heap_policy.h"

#include <malloc.h>

#include "common/errors.h"

namespace gst {

void keep_freed_memory_in_heap() {
  // M_TRIM_THRESHOLD -1 disables trimming (mallopt(3)); INT_MAX would still trim whenever more
  // than 2 GiB lie free at the top of the heap, which a training step's activations exceed.
  GST_CHECK(mallopt(M_MMAP_MAX, 0) == 1, "mallopt(M_MMAP_MAX, 0) failed");
  GST_CHECK(mallopt(M_TRIM_THRESHOLD, -1) == 1, "mallopt(M_TRIM_THRESHOLD, -1) failed");
}

}  // namespace gst
