#include "agent/watcher/watch_table.h"

#include <algorithm>
#include <utility>

#include "common/base/paths.h"

namespace driftwatch::agent {

WatchTable::Outcome WatchTable::watch(const std::string& path, int dirFd, std::string* error) {
  std::lock_guard lock(mutex_);
  auto wd = watcher_.addWatch(dirFd);
  if (!wd.ok()) {
    if (error != nullptr) *error = wd.error().message;
    if (wd.error().code == ErrorCode::kLimit) {
      polled_.insert(path);
      ++newRefusals_;
      return Outcome::kRefused;
    }
    return Outcome::kFailed;
  }
  // The same inode gives the same descriptor: a renamed directory just gets its new path.
  paths_[*wd] = path;
  polled_.erase(path);
  return Outcome::kWatched;
}

std::optional<std::string> WatchTable::pathOf(int wd) const {
  std::lock_guard lock(mutex_);
  const auto it = paths_.find(wd);
  if (it == paths_.end()) return std::nullopt;
  return it->second;
}

void WatchTable::forget(int wd) {
  std::lock_guard lock(mutex_);
  paths_.erase(wd);
}

void WatchTable::unwatchUnder(std::string_view path) {
  std::lock_guard lock(mutex_);
  for (auto it = paths_.begin(); it != paths_.end();) {
    if (isAtOrBelow(path, it->second)) {
      watcher_.removeWatch(it->first);
      it = paths_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = polled_.begin(); it != polled_.end();) {
    it = isAtOrBelow(path, *it) ? polled_.erase(it) : std::next(it);
  }
}

size_t WatchTable::watchedCount() const {
  std::lock_guard lock(mutex_);
  return paths_.size();
}

std::vector<std::string> WatchTable::polledRoots() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> roots;
  for (const auto& p : polled_) {
    const bool covered = std::any_of(roots.begin(), roots.end(),
                                     [&](const std::string& r) { return isAtOrBelow(r, p); });
    if (!covered) roots.push_back(p);
  }
  return roots;
}

size_t WatchTable::polledCount() const {
  std::lock_guard lock(mutex_);
  return polled_.size();
}

size_t WatchTable::takeNewRefusals() {
  std::lock_guard lock(mutex_);
  return std::exchange(newRefusals_, 0);
}

}  // namespace driftwatch::agent
