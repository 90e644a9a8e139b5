#pragma once
// Directory watches. Linux watches directories, not files (editors and package managers replace
// files by rename, which only the directory sees), and not recursively: the owner adds one watch
// per directory. Watcher is the interface, so that tests can fake the kernel (a watch limit,
// an overflow); InotifyWatcher is the real one, read through the agent's event loop.
//
// Unlike libuv's own fs_event (which drops the kernel's queue-overflow event on the floor),
// the raw events reach the owner, overflow included: the agent must know when it went blind.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/loop/event_loop.h"
#include "common/base/result.h"
#include "common/base/unique_fd.h"

namespace driftwatch::agent {

struct WatchEvent {
  int wd = -1;        // -1 for IN_Q_OVERFLOW
  uint32_t mask = 0;  // IN_* bits
  std::string name;   // entry name inside the watched directory; empty for the directory itself
};

class Watcher {
 public:
  virtual ~Watcher() = default;
  // Watches the directory open as `dirFd`. Safe from any thread. Errors: kLimit when the
  // kernel refuses more watches (max_user_watches), kNotFound when the directory went away.
  virtual Result<int> addWatch(int dirFd) = 0;
  virtual void removeWatch(int wd) = 0;
};

class InotifyWatcher final : public Watcher {
 public:
  // `handler` runs on the loop thread with every event read in one go.
  using Handler = std::function<void(std::vector<WatchEvent>& events)>;

  static Result<std::unique_ptr<InotifyWatcher>> create(EventLoop& loop, Handler handler);
  ~InotifyWatcher() override;

  Result<int> addWatch(int dirFd) override;
  void removeWatch(int wd) override;

  // The mask every directory watch uses.
  static uint32_t watchMask();

 private:
  InotifyWatcher(UniqueFd fd, EventLoop& loop, Handler handler);
  void drain();

  UniqueFd fd_;
  Handler handler_;
  std::unique_ptr<FdWatch> readable_;
  std::vector<char> buffer_;
};

}  // namespace driftwatch::agent
