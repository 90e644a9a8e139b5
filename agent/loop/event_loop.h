#pragma once
// The agent's event loop: libuv underneath, with RAII handles whose callbacks are
// std::functions. One thread runs the loop and owns everything its callbacks touch; other
// threads talk to it only through Async::send(). A callback must not throw: if one does, the
// exception is logged through the loop's error hook and the loop stops, so that no exception
// ever unwinds through libuv.
//
// Handles are created and destroyed on the loop thread. Destroying a handle closes it
// (uv_close); the memory is freed once libuv has let go of it.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <uv.h>

#include "common/base/result.h"

namespace driftwatch::agent {

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  uv_loop_t* raw() { return &loop_; }
  // Runs until stop() or until no handle is active.
  void run();
  void stop();
  // Milliseconds of the loop's monotonic clock (updated once per loop iteration).
  uint64_t nowMs() const { return uv_now(&loop_); }

  // Called with a description when a callback threw; the loop then stops.
  void setErrorHook(std::function<void(const std::string&)> hook) { errorHook_ = std::move(hook); }

  // Runs `fn`, turning an exception into a stop of the loop (used by every handle).
  void guard(const std::function<void()>& fn);

 private:
  uv_loop_t loop_{};
  std::function<void(const std::string&)> errorHook_;
};

class Timer {
 public:
  explicit Timer(EventLoop& loop);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Fires once after `delay`, then every `repeat` if it is not zero. Restarting replaces the
  // previous schedule.
  void start(std::chrono::milliseconds delay, std::chrono::milliseconds repeat,
             std::function<void()> fn);
  void stop();
  bool active() const;

 private:
  struct State;
  State* state_;  // owned; freed in the uv_close callback
};

class SignalWatch {
 public:
  SignalWatch(EventLoop& loop, int signum, std::function<void()> fn);
  ~SignalWatch();
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

 private:
  struct State;
  State* state_;
};

// Readiness of a file descriptor (the inotify descriptor).
class FdWatch {
 public:
  // `fn` gets uv's event bits; a negative status is passed as events < 0.
  FdWatch(EventLoop& loop, int fd, std::function<void(int events)> fn);
  ~FdWatch();
  FdWatch(const FdWatch&) = delete;
  FdWatch& operator=(const FdWatch&) = delete;
  Status start();

 private:
  struct State;
  State* state_;
};

// Wakes the loop from any thread; sends coalesce (one callback may follow several sends).
class Async {
 public:
  Async(EventLoop& loop, std::function<void()> fn);
  ~Async();
  Async(const Async&) = delete;
  Async& operator=(const Async&) = delete;
  void send();  // any thread

 private:
  struct State;
  State* state_;
};

}  // namespace driftwatch::agent
