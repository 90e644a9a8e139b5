#pragma once
// Paths that changed and wait out the settle window. A burst of events on one path (a file
// written in ten chunks, an editor's write-rename dance) becomes one observation once the path
// has been quiet for `settle`, or has waited `maxDelay` under continuous churn so that a file
// rewritten forever is still observed. A path that changed as a directory tree (created, moved
// in, deleted) is kept as a subtree, which wins over a plain entry for the same path.
// Time is passed in (milliseconds), so tests drive it without a clock. Loop thread only.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace driftwatch::agent {

class PendingSet {
 public:
  enum class Scope : uint8_t { kEntry, kSubtree };
  struct Item {
    std::string path;
    Scope scope = Scope::kEntry;
  };

  void add(const std::string& path, Scope scope, uint64_t nowMs);
  // Removes and returns the items ready at `nowMs`, at most `limit`, skipping (and keeping) those
  // `canTake` refuses (a path still being observed).
  template <typename CanTake>
  std::vector<Item> takeReady(uint64_t nowMs, uint64_t settleMs, uint64_t maxDelayMs, size_t limit,
                              CanTake canTake);
  std::vector<Item> takeReady(uint64_t nowMs, uint64_t settleMs, uint64_t maxDelayMs) {
    return takeReady(nowMs, settleMs, maxDelayMs, static_cast<size_t>(-1),
                     [](const std::string&) { return true; });
  }
  // When the next item becomes ready, if any is pending.
  std::optional<uint64_t> nextReadyAt(uint64_t settleMs, uint64_t maxDelayMs) const;
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    Scope scope;
    uint64_t first;
    uint64_t last;
  };
  static uint64_t readyAt(const Entry& e, uint64_t settleMs, uint64_t maxDelayMs);
  std::unordered_map<std::string, Entry> entries_;
};

template <typename CanTake>
std::vector<PendingSet::Item> PendingSet::takeReady(uint64_t nowMs, uint64_t settleMs,
                                                    uint64_t maxDelayMs, size_t limit,
                                                    CanTake canTake) {
  std::vector<Item> ready;
  for (auto it = entries_.begin(); it != entries_.end() && ready.size() < limit;) {
    if (readyAt(it->second, settleMs, maxDelayMs) <= nowMs && canTake(it->first)) {
      ready.push_back({it->first, it->second.scope});
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  // Parents before children: a subtree handled first covers the entries below it.
  std::sort(ready.begin(), ready.end(),
            [](const Item& a, const Item& b) { return a.path < b.path; });
  return ready;
}

}  // namespace driftwatch::agent
