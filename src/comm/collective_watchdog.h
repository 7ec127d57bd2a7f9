// Bounds the waits of one MPI communicator's collectives: a collective that does not complete
// within dist.timeout_s ends the whole job with a stall report naming the ranks that had not
// arrived, and exit code kStalledExitCode.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "comm/communicator.h"  // kStalledExitCode, watched_step()
#include "comm/mpi_check.h"

namespace gst {

class CollectiveWatchdog {
 public:
  // `parent`: the communicator whose collectives are watched; a private duplicate of it carries
  // stall reports. timeout_s <= 0: waits are unbounded.
  CollectiveWatchdog(MPI_Comm parent, double timeout_s);
  ~CollectiveWatchdog();
  CollectiveWatchdog(const CollectiveWatchdog&) = delete;
  CollectiveWatchdog& operator=(const CollectiveWatchdog&) = delete;

  // Completes `request` (a started non-blocking collective named `what`). Past the timeout, or
  // when another rank reports a stall, it runs the stall report and then `end_job` (which must
  // not return; it aborts the job with kStalledExitCode).
  void wait(MPI_Request* request, const char* what, const std::function<void()>& end_job);
  // The same for a collective of another library: `done()` polls it (and throws on its errors).
  void wait_until(const std::function<bool()>& done, const char* what,
                  const std::function<void()>& end_job);
  double timeout_s() const { return timeout_s_; }

 private:
  // Tells every other rank that this one is stuck in `what`, listens for their reports for a
  // grace period and logs who was waiting where and who never reported.
  void report_stall(const char* what, double waited_s);

  MPI_Comm reports_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  double timeout_s_ = 0;
  int64_t sequence_ = 0;  // collectives waited on so far, named in reports
};

}  // namespace gst
