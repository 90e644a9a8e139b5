#include "agent/collectors/budget.h"

#include <algorithm>
#include <thread>

#include <time.h>

namespace driftwatch::agent {

void sleepUnlessCancelled(std::chrono::duration<double> duration, const std::atomic<bool>* cancel) {
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::duration_cast<std::chrono::nanoseconds>(duration);
  while (true) {
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) return;
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) return;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(until - now, std::chrono::milliseconds(50)));
  }
}

IoBudget::IoBudget(uint64_t bytesPerSecond, uint64_t burst, const std::atomic<bool>* cancel)
    : rate_(static_cast<double>(bytesPerSecond)),
      burst_(static_cast<double>(std::max<uint64_t>(burst, 1))),
      cancel_(cancel),
      tokens_(burst_),
      refill_(std::chrono::steady_clock::now()) {}

void IoBudget::consume(uint64_t bytes) {
  if (rate_ <= 0) return;
  std::chrono::duration<double> wait{0};
  {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    tokens_ =
        std::min(burst_, tokens_ + rate_ * std::chrono::duration<double>(now - refill_).count());
    refill_ = now;
    tokens_ -= static_cast<double>(bytes);
    // In debt: this caller waits until the debt is paid back; later callers queue behind it.
    if (tokens_ < 0) wait = std::chrono::duration<double>(-tokens_ / rate_);
  }
  if (wait.count() > 0) sleepUnlessCancelled(wait, cancel_);
}

CpuBudget::CpuBudget(double share, const std::atomic<bool>* cancel)
    : share_(share), cancel_(cancel) {}

void CpuBudget::checkpoint() {
  if (share_ <= 0 || share_ >= 1) return;
  struct Window {
    std::chrono::steady_clock::time_point wallStart;
    double cpuStart = -1;
  };
  thread_local Window window;
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  const double cpu = static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  const auto now = std::chrono::steady_clock::now();
  if (window.cpuStart < 0 || now - window.wallStart > std::chrono::seconds(10)) {
    // A fresh window every few seconds, so an idle spell does not bank unlimited credit.
    window = {now, cpu};
    return;
  }
  const double used = cpu - window.cpuStart;
  const double wall = std::chrono::duration<double>(now - window.wallStart).count();
  const double owed = used / share_ - wall;
  if (owed > 0.001) sleepUnlessCancelled(std::chrono::duration<double>(owed), cancel_);
}

}  // namespace driftwatch::agent
