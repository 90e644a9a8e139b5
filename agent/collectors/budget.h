#pragma once
// Resource budgets for background scanning, so a rescan never hogs the host:
//  - IoBudget: a token bucket of bytes per second shared by every scanning thread (reads wait
//    when the bucket is empty; a small burst passes at once so single changes stay prompt);
//  - CpuBudget: a duty cycle per thread; after each piece of work, a thread that used more
//    CPU than its share of the wall-clock time since it started sleeps the difference.
// Both are safe from any thread. A budget of zero means unlimited. Waits end early when the
// cancel flag is set.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>

namespace driftwatch::agent {

class IoBudget {
 public:
  // `bytesPerSecond` 0: unlimited. `burst` bytes may pass without waiting.
  IoBudget(uint64_t bytesPerSecond, uint64_t burst, const std::atomic<bool>* cancel = nullptr);
  // Takes `bytes` from the bucket, sleeping the calling thread until they are available.
  void consume(uint64_t bytes);

 private:
  const double rate_;
  const double burst_;
  const std::atomic<bool>* cancel_;
  std::mutex mutex_;
  double tokens_;                                 // guarded by mutex_
  std::chrono::steady_clock::time_point refill_;  // guarded by mutex_
};

class CpuBudget {
 public:
  // `share` of one core, in (0, 1]; 1 or more: unlimited.
  explicit CpuBudget(double share, const std::atomic<bool>* cancel = nullptr);
  // Called by a scanning thread between pieces of work.
  void checkpoint();

 private:
  const double share_;
  const std::atomic<bool>* cancel_;
};

// Sleeps `duration` in short slices, returning early once `cancel` is set (shutdown must not
// wait for a throttled scan).
void sleepUnlessCancelled(std::chrono::duration<double> duration, const std::atomic<bool>* cancel);

}  // namespace driftwatch::agent
