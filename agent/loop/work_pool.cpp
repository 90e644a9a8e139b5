#include "agent/loop/work_pool.h"

#include <exception>
#include <stdexcept>

namespace driftwatch::agent {

WorkPool::WorkPool(EventLoop& loop, unsigned threads)
    : loop_(loop), wake_(loop, [this] { drainCompletions(); }) {
  if (threads == 0) threads = 1;
  backgroundLimit_ = threads > 1 ? threads - 1 : 1;
  threads_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i)
    threads_.emplace_back([this] { workerLoop(); });
}

WorkPool::~WorkPool() {
  stop();
}

void WorkPool::submit(std::function<void()> work, std::function<void()> done, Lane lane) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    (lane == Lane::kUrgent ? urgent_ : background_)
        .push_back({std::move(work), std::move(done), lane, true});
  }
  ++inFlight_[static_cast<size_t>(lane)];
  ready_.notify_all();
}

void WorkPool::post(std::function<void()> fn) {
  // Few batches in the queue: each can be large, and memory they take is memory the agent
  // keeps (the allocator holds on to peaks).
  constexpr size_t kMaxPending = 8;
  {
    std::unique_lock lock(mutex_);
    drained_.wait(lock, [&] { return stopping_ || completed_.size() < kMaxPending; });
    if (stopping_) return;
    completed_.push_back({nullptr, std::move(fn), Lane::kUrgent, false});
  }
  wake_.send();
}

void WorkPool::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    inFlight_[0] -= urgent_.size();
    inFlight_[1] -= background_.size();
    urgent_.clear();
    background_.clear();
  }
  ready_.notify_all();
  drained_.notify_all();
  for (auto& t : threads_)
    t.join();
  threads_.clear();
}

void WorkPool::workerLoop() {
  while (true) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      const auto takeable = [&] {
        return !urgent_.empty() || (!background_.empty() && backgroundRunning_ < backgroundLimit_);
      };
      ready_.wait(lock, [&] { return stopping_ || takeable(); });
      if (stopping_ && !takeable()) return;
      if (!urgent_.empty()) {
        job = std::move(urgent_.front());
        urgent_.pop_front();
      } else {
        job = std::move(background_.front());
        background_.pop_front();
        ++backgroundRunning_;
      }
    }
    try {
      job.work();
    } catch (const std::exception& e) {
      // Reported on the loop thread with the completion; work is written not to throw.
      job.done = [this, message = std::string(e.what()), done = std::move(job.done)] {
        loop_.guard([&] { throw std::runtime_error("background work failed: " + message); });
        if (done) done();
      };
    } catch (...) {
    }
    {
      std::lock_guard lock(mutex_);
      if (job.lane == Lane::kBackground) --backgroundRunning_;
      completed_.push_back(std::move(job));
    }
    ready_.notify_all();  // a background slot may have freed up
    wake_.send();
  }
}

void WorkPool::drainCompletions() {
  std::deque<Job> done;
  {
    std::lock_guard lock(mutex_);
    done.swap(completed_);
  }
  drained_.notify_all();
  for (auto& job : done) {
    if (job.counted) --inFlight_[static_cast<size_t>(job.lane)];
    if (job.done) job.done();
  }
  if (afterDrain_) afterDrain_();
}

}  // namespace driftwatch::agent
