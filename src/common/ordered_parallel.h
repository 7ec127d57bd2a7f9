// Work items produced by a pool of threads and consumed in order by the calling thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace gst {

// produce(i) runs on `workers` threads, at most `window` items ahead of the consumer;
// consume(i, result) runs on the calling thread for i = 0..n-1 in order. The first exception
// from either side stops the pool and is rethrown here after every thread has joined.
template <typename Result, typename Produce, typename Consume>
void ordered_parallel(size_t n, int workers, size_t window, Produce produce, Consume consume) {
  std::mutex mutex;
  std::condition_variable changed;
  size_t next = 0, consumed = 0;
  bool stop = false;
  std::exception_ptr error;
  std::map<size_t, Result> ready;

  auto work = [&] {
    for (;;) {
      size_t i;
      {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return stop || next >= n || next < consumed + window; });
        if (stop || next >= n) return;
        i = next++;
      }
      try {
        Result result = produce(i);
        std::lock_guard<std::mutex> lock(mutex);
        ready.emplace(i, std::move(result));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
        stop = true;
      }
      changed.notify_all();
    }
  };
  std::vector<std::thread> pool;
  for (int w = 0; w < std::max(workers, 1); ++w) pool.emplace_back(work);
  auto halt = [&] {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    changed.notify_all();
    for (auto& t : pool) t.join();
  };
  try {
    for (size_t i = 0; i < n; ++i) {
      Result result;
      {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return error || ready.count(i); });
        if (!ready.count(i)) break;  // a producer failed
        result = std::move(ready.at(i));
        ready.erase(i);
        consumed = i + 1;
      }
      changed.notify_all();
      consume(i, std::move(result));
    }
  } catch (...) {
    halt();
    throw;
  }
  halt();
  if (error) std::rethrow_exception(error);
}

}  // namespace gst
