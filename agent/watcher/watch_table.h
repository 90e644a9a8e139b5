#pragma once
// Which directories are watched: watch descriptor -> directory path, and the directories the
// kernel refused to watch (max_user_watches), which are polled instead. Watches are added from
// scan threads right before a directory is listed and looked up by the loop thread for every
// event, so the table is guarded by a mutex.

#include <cstddef>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent/watcher/watcher.h"

namespace driftwatch::agent {

class WatchTable {
 public:
  explicit WatchTable(Watcher& watcher) : watcher_(watcher) {}

  enum class Outcome { kWatched, kRefused, kFailed };
  // Watches the directory `path`, open as `dirFd`. kRefused: the kernel's watch limit was
  // reached; the directory is recorded as polled. `error` gets the reason on failure.
  Outcome watch(const std::string& path, int dirFd, std::string* error);

  std::optional<std::string> pathOf(int wd) const;
  // After IN_IGNORED: the kernel dropped the watch.
  void forget(int wd);
  // Removes the watches on `path` and below (the directory went away, or left the tree).
  void unwatchUnder(std::string_view path);
  // Removes every watch whose directory `keep` rejects (after a policy reload).
  template <typename Keep>
  void unwatchUnless(Keep keep);

  size_t watchedCount() const;
  // The polled directories that are not below another polled one.
  std::vector<std::string> polledRoots() const;
  size_t polledCount() const;
  // Counts refusals since the last call (the daemon logs the first one loudly).
  size_t takeNewRefusals();

 private:
  Watcher& watcher_;
  mutable std::mutex mutex_;
  std::unordered_map<int, std::string> paths_;  // guarded by mutex_
  std::set<std::string> polled_;                // guarded by mutex_
  size_t newRefusals_ = 0;                      // guarded by mutex_
};

template <typename Keep>
void WatchTable::unwatchUnless(Keep keep) {
  std::lock_guard lock(mutex_);
  for (auto it = paths_.begin(); it != paths_.end();) {
    if (keep(it->second)) {
      ++it;
      continue;
    }
    watcher_.removeWatch(it->first);
    it = paths_.erase(it);
  }
  for (auto it = polled_.begin(); it != polled_.end();) {
    it = keep(*it) ? std::next(it) : polled_.erase(it);
  }
}

}  // namespace driftwatch::agent
