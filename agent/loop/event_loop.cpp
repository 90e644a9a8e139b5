#include "agent/loop/event_loop.h"

#include <exception>

namespace driftwatch::agent {

EventLoop::EventLoop() {
  if (const int rc = uv_loop_init(&loop_); rc != 0) {
    // Only fails on resource exhaustion at start-up; nothing can run without a loop.
    throw std::runtime_error(std::string("cannot start the event loop: ") + uv_strerror(rc));
  }
}

EventLoop::~EventLoop() {
  // Handles are owned by objects destroyed before the loop; anything still open here is closed
  // so that the final run (which lets close callbacks free memory) cannot block.
  uv_walk(
      &loop_,
      [](uv_handle_t* handle, void*) {
        if (!uv_is_closing(handle)) uv_close(handle, nullptr);
      },
      nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
}

void EventLoop::run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
}

void EventLoop::stop() {
  uv_stop(&loop_);
}

void EventLoop::guard(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    if (errorHook_) errorHook_(e.what());
    stop();
  } catch (...) {
    if (errorHook_) errorHook_("unknown exception");
    stop();
  }
}

namespace {

template <typename State>
void closeAndFree(State* state) {
  auto* handle = reinterpret_cast<uv_handle_t*>(&state->handle);
  if (uv_is_closing(handle)) return;
  uv_close(handle, [](uv_handle_t* h) { delete static_cast<State*>(h->data); });
}

}  // namespace

// ---- Timer -------------------------------------------------------------------------------

struct Timer::State {
  uv_timer_t handle{};
  EventLoop* loop;
  std::function<void()> fn;
};

Timer::Timer(EventLoop& loop) : state_(new State{{}, &loop, {}}) {
  uv_timer_init(loop.raw(), &state_->handle);
  state_->handle.data = state_;
}

Timer::~Timer() {
  closeAndFree(state_);
}

void Timer::start(std::chrono::milliseconds delay, std::chrono::milliseconds repeat,
                  std::function<void()> fn) {
  state_->fn = std::move(fn);
  uv_timer_start(
      &state_->handle,
      [](uv_timer_t* h) {
        auto* s = static_cast<State*>(h->data);
        // Copy: the callback may restart this timer and replace fn.
        const auto callback = s->fn;
        s->loop->guard(callback);
      },
      static_cast<uint64_t>(std::max<int64_t>(0, delay.count())),
      static_cast<uint64_t>(std::max<int64_t>(0, repeat.count())));
}

void Timer::stop() {
  uv_timer_stop(&state_->handle);
}

bool Timer::active() const {
  return uv_is_active(reinterpret_cast<const uv_handle_t*>(&state_->handle)) != 0;
}

// ---- SignalWatch -------------------------------------------------------------------------

struct SignalWatch::State {
  uv_signal_t handle{};
  EventLoop* loop;
  std::function<void()> fn;
};

SignalWatch::SignalWatch(EventLoop& loop, int signum, std::function<void()> fn)
    : state_(new State{{}, &loop, std::move(fn)}) {
  uv_signal_init(loop.raw(), &state_->handle);
  state_->handle.data = state_;
  uv_signal_start(
      &state_->handle,
      [](uv_signal_t* h, int) {
        auto* s = static_cast<State*>(h->data);
        s->loop->guard(s->fn);
      },
      signum);
}

SignalWatch::~SignalWatch() {
  closeAndFree(state_);
}

// ---- FdWatch -----------------------------------------------------------------------------

struct FdWatch::State {
  uv_poll_t handle{};
  EventLoop* loop;
  std::function<void(int)> fn;
  bool initialised = false;
};

FdWatch::FdWatch(EventLoop& loop, int fd, std::function<void(int events)> fn)
    : state_(new State{{}, &loop, std::move(fn)}) {
  state_->initialised = uv_poll_init(loop.raw(), &state_->handle, fd) == 0;
  state_->handle.data = state_;
}

FdWatch::~FdWatch() {
  if (state_->initialised) {
    closeAndFree(state_);
  } else {
    delete state_;
  }
}

Status FdWatch::start() {
  if (!state_->initialised)
    return makeError(ErrorCode::kIo, "cannot watch a descriptor with libuv");
  const int rc =
      uv_poll_start(&state_->handle, UV_READABLE, [](uv_poll_t* h, int status, int events) {
        auto* s = static_cast<State*>(h->data);
        s->loop->guard([&] { s->fn(status < 0 ? status : events); });
      });
  if (rc != 0)
    return makeError(ErrorCode::kIo, std::string("cannot poll a descriptor: ") + uv_strerror(rc));
  return {};
}

// ---- Async -------------------------------------------------------------------------------

struct Async::State {
  uv_async_t handle{};
  EventLoop* loop;
  std::function<void()> fn;
};

Async::Async(EventLoop& loop, std::function<void()> fn)
    : state_(new State{{}, &loop, std::move(fn)}) {
  uv_async_init(loop.raw(), &state_->handle, [](uv_async_t* h) {
    auto* s = static_cast<State*>(h->data);
    s->loop->guard(s->fn);
  });
  state_->handle.data = state_;
}

Async::~Async() {
  closeAndFree(state_);
}

void Async::send() {
  uv_async_send(&state_->handle);
}

}  // namespace driftwatch::agent
