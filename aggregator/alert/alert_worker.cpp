#include "aggregator/alert/alert_worker.h"

#include <algorithm>
#include <cerrno>
#include <chrono>

#include <unistd.h>

namespace driftwatch::aggregator {
namespace {

// What other processes commit (an ack, a retry, a policy apply's alerts) is seen this soon.
constexpr int64_t kPollMs = 1000;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::unique_ptr<AlertWorker>> AlertWorker::start(
    const std::string& dataDir, AlertsConfig config, std::function<void(const std::string&)> log) {
  // A CA file that cannot be read would kill every delivery to its receiver: say so at start.
  for (const auto& r : config.receivers) {
    if (!r.caFile.empty() && ::access(r.caFile.c_str(), R_OK) != 0)
      return osError(errno, "alerts.receivers " + r.name + " ca_file: cannot read it", r.caFile);
  }
  auto store = FleetStore::open(dataDir);
  if (!store.ok()) return store.error();
  std::unique_ptr<AlertWorker> worker(
      new AlertWorker(std::move(store).value(), std::move(config), std::move(log)));
  worker->thread_ = std::thread([w = worker.get()] { w->run(); });
  return worker;
}

AlertWorker::AlertWorker(FleetStore store, AlertsConfig config,
                         std::function<void(const std::string&)> log)
    : store_(std::move(store)),
      config_(std::move(config)),
      log_(std::move(log)),
      dispatcher_(store_, config_, sender_, log_) {}

AlertWorker::~AlertWorker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AlertWorker::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  cv_.notify_all();
}

void AlertWorker::run() {
  std::string lastError;
  for (;;) {
    int64_t waitMs = kPollMs;
    // Nothing may leave a thread entry point: a failure is logged (once until it changes) and
    // the round is tried again at the next poll.
    try {
      const int64_t now = nowMs();
      auto next = dispatcher_.step(now);
      if (next.ok()) {
        waitMs = std::clamp<int64_t>(*next - now, 0, kPollMs);
        lastError.clear();
      } else if (next.error().describe() != lastError) {
        lastError = next.error().describe();
        log_("alerts: " + lastError);
      }
    } catch (const std::exception& e) {
      log_(std::string("alerts: internal error: ") + e.what());
    }
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, std::chrono::milliseconds(waitMs), [&] { return woken_ || stopping_; });
    if (stopping_) return;
    woken_ = false;
  }
}

}  // namespace driftwatch::aggregator
