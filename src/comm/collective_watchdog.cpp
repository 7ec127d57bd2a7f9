#include "comm/collective_watchdog.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>
#include <vector>

#include "common/errors.h"

namespace gst {

namespace {

std::atomic<int64_t> current_step{-1};

constexpr int kStallTag = 7301;
// A fast collective completes within microseconds: spin that long before sleeping between polls,
// so a waiting rank neither adds latency nor burns a core for minutes.
constexpr auto kSpin = std::chrono::microseconds(2000);
constexpr auto kPollSleep = std::chrono::microseconds(200);

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// What a stuck rank tells the others; plain bytes on the wire (every rank runs the same binary).
struct StallNote {
  int64_t step = -1;
  int64_t sequence = 0;
  double waited_s = 0;
  char what[48] = {0};
};

std::string describe(const StallNote& note) {
  return fmt::format("{} (collective #{}) at step {}, waiting {:.1f} s", note.what, note.sequence,
                     note.step, note.waited_s);
}

}  // namespace

void set_watched_step(int64_t step) { current_step.store(step, std::memory_order_relaxed); }
int64_t watched_step() { return current_step.load(std::memory_order_relaxed); }

CollectiveWatchdog::CollectiveWatchdog(MPI_Comm parent, double timeout_s) : timeout_s_(timeout_s) {
  GST_MPI_CHECK(MPI_Comm_dup(parent, &reports_));
  GST_MPI_CHECK(MPI_Comm_set_errhandler(reports_, MPI_ERRORS_RETURN));
  GST_MPI_CHECK(MPI_Comm_rank(reports_, &rank_));
  GST_MPI_CHECK(MPI_Comm_size(reports_, &size_));
}

CollectiveWatchdog::~CollectiveWatchdog() {
  if (reports_ != MPI_COMM_NULL && mpi::running()) MPI_Comm_free(&reports_);
}

void CollectiveWatchdog::wait(MPI_Request* request, const char* what,
                              const std::function<void()>& end_job) {
  wait_until(
      [request] {
        int flag = 0;
        GST_MPI_CHECK(MPI_Test(request, &flag, MPI_STATUS_IGNORE));
        return flag != 0;
      },
      what, end_job);
}

void CollectiveWatchdog::wait_until(const std::function<bool()>& done, const char* what,
                                    const std::function<void()>& end_job) {
  ++sequence_;
  const bool bounded = timeout_s_ > 0 && size_ > 1;
  const Clock::time_point start = Clock::now();
  while (!done()) {
    if (Clock::now() - start < kSpin) continue;
    std::this_thread::sleep_for(kPollSleep);
    if (!bounded) continue;
    int peer_stalled = 0;
    GST_MPI_CHECK(
        MPI_Iprobe(MPI_ANY_SOURCE, kStallTag, reports_, &peer_stalled, MPI_STATUS_IGNORE));
    const double waited = seconds_since(start);
    if (peer_stalled || waited > timeout_s_) {
      report_stall(what, waited);
      end_job();
      std::_Exit(kStalledExitCode);  // end_job does not return; this keeps the contract visible
    }
  }
}

void CollectiveWatchdog::report_stall(const char* what, double waited_s) {
  StallNote mine;
  mine.step = watched_step();
  mine.sequence = sequence_;
  mine.waited_s = waited_s;
  std::snprintf(mine.what, sizeof(mine.what), "%s", what);
  // Sends are never completed: the job ends right after, and eager sends of a few bytes leave at
  // once. Errors are logged, not thrown: the job is ending either way.
  std::vector<MPI_Request> sends;
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    sends.emplace_back();
    if (MPI_Isend(&mine, sizeof(mine), MPI_BYTE, r, kStallTag, reports_, &sends.back()) !=
        MPI_SUCCESS)
      spdlog::error("watchdog: could not send the stall report to rank {}", r);
  }
  // Ranks waiting in a collective answer within a poll; a stalled rank, or one busy outside
  // collectives, never does. Other ranks' timers may start a little later than this one's.
  std::map<int, StallNote> notes{{rank_, mine}};
  const double grace_s = std::clamp(timeout_s_ / 4, 1.0, 5.0);
  const Clock::time_point start = Clock::now();
  while (static_cast<int>(notes.size()) < size_ && seconds_since(start) < grace_s) {
    int flag = 0;
    MPI_Status status;
    if (MPI_Iprobe(MPI_ANY_SOURCE, kStallTag, reports_, &flag, &status) != MPI_SUCCESS) break;
    if (!flag) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    StallNote note;
    if (MPI_Recv(&note, sizeof(note), MPI_BYTE, status.MPI_SOURCE, kStallTag, reports_,
                 MPI_STATUS_IGNORE) != MPI_SUCCESS)
      break;
    note.what[sizeof(note.what) - 1] = 0;
    notes[status.MPI_SOURCE] = note;
  }
  std::vector<int> missing;
  std::string waiting;
  for (int r = 0; r < size_; ++r) {
    auto it = notes.find(r);
    if (it == notes.end()) {
      missing.push_back(r);
    } else {
      waiting += fmt::format("\n  rank {}: in {}", r, describe(it->second));
    }
  }
  const std::string cause =
      waited_s > timeout_s_
          ? fmt::format("{} did not complete within dist.timeout_s = {} s", what, timeout_s_)
          : fmt::format("another rank reported a stall while this one waited in {}", what);
  // One full report, from the lowest rank that took part; the others say only that they stop.
  if (notes.begin()->first != rank_) {
    spdlog::error("watchdog: rank {}: {}; ending the job (stall report on rank {})", rank_, cause,
                  notes.begin()->first);
    return;
  }
  const std::string absent =
      missing.empty()
          ? "none: every rank is waiting, in different collectives (ranks out of step)"
          : fmt::format(
                "rank{} {} (stopped, hung, or busy outside collectives for longer than the "
                "timeout)",
                missing.size() > 1 ? "s" : "", fmt::join(missing, ", "));
  spdlog::error(
      "watchdog: rank {}: {} (step {}). Stall report:{}\n  not arrived: {}\nEnding the job with "
      "exit code {}; the newest complete checkpoint is intact: rerun with --resume auto.",
      rank_, cause, mine.step, waiting, absent, kStalledExitCode);
  spdlog::default_logger()->flush();
}

}  // namespace gst
