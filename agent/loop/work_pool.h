#pragma once
// A bounded pool of worker threads for blocking work (hashing, walking trees, reading package
// databases), so that the loop thread never waits on the disk. submit() takes the work, run on
// a worker, and a completion, run later on the loop thread. Work must not throw (an exception
// is caught, reported through the loop's error hook, and the completion still runs).
//
// Two lanes: urgent work (a single changed path) is taken first, and background work (full
// scans, which may run for minutes under their budgets) may occupy all threads but one, so a
// change is never stuck behind a scan.
// Created, used and destroyed on the loop thread; stop() joins the workers.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/loop/event_loop.h"

namespace driftwatch::agent {

class WorkPool {
 public:
  enum class Lane { kUrgent, kBackground };

  WorkPool(EventLoop& loop, unsigned threads);
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  void submit(std::function<void()> work, std::function<void()> done, Lane lane = Lane::kUrgent);
  // From a worker thread: runs `fn` on the loop thread soon. Blocks the worker while the loop
  // is far behind, so that a long scan cannot outrun it and pile up memory. Dropped after stop().
  void post(std::function<void()> fn);
  // Runs on the loop thread after each batch of completions.
  void setAfterDrain(std::function<void()> fn) { afterDrain_ = std::move(fn); }
  // Jobs of `lane` submitted and not yet completed on the loop thread.
  size_t inFlight(Lane lane) const { return inFlight_[static_cast<size_t>(lane)]; }
  // Drops queued work that has not started (its completion does not run), waits for running
  // work to finish, and joins the threads.
  void stop();

 private:
  struct Job {
    std::function<void()> work;
    std::function<void()> done;
    Lane lane = Lane::kUrgent;
    bool counted = true;  // a submitted job (false: a post)
  };
  void workerLoop();
  void drainCompletions();

  EventLoop& loop_;
  Async wake_;
  std::vector<std::thread> threads_;
  size_t backgroundLimit_ = 1;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::condition_variable drained_;
  std::deque<Job> urgent_;        // guarded by mutex_
  std::deque<Job> background_;    // guarded by mutex_
  size_t backgroundRunning_ = 0;  // guarded by mutex_
  std::deque<Job> completed_;     // guarded by mutex_
  bool stopping_ = false;         // guarded by mutex_
  size_t inFlight_[2] = {0, 0};   // loop thread only
  std::function<void()> afterDrain_;
};

}  // namespace driftwatch::agent
