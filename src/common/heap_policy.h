// The process-wide heap policy that the training and eval loops need for speed.
#pragma once

namespace gst {

// Call first thing in main, before any tensor is made:
// glibc keeps freed memory in the heap (no mmap for large blocks, no trimming): a step frees and
// reallocates the same gigabytes, and every page handed back to the kernel is faulted in and
// zeroed again on the next step. Peak RSS is unchanged; memory is only not returned early.
void keep_freed_memory_in_heap();

}  // namespace gst
