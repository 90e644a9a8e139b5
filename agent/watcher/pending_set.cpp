#include "agent/watcher/pending_set.h"

#include <algorithm>

namespace driftwatch::agent {

void PendingSet::add(const std::string& path, Scope scope, uint64_t nowMs) {
  auto [it, inserted] = entries_.try_emplace(path, Entry{scope, nowMs, nowMs});
  if (inserted) return;
  it->second.last = nowMs;
  if (scope == Scope::kSubtree) it->second.scope = Scope::kSubtree;
}

uint64_t PendingSet::readyAt(const Entry& e, uint64_t settleMs, uint64_t maxDelayMs) {
  return std::min(e.last + settleMs, e.first + std::max(settleMs, maxDelayMs));
}

std::vector<PendingSet::Item> PendingSet::takeReady(uint64_t nowMs, uint64_t settleMs,
                                                    uint64_t maxDelayMs) {
  std::vector<Item> ready;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (readyAt(it->second, settleMs, maxDelayMs) <= nowMs) {
      ready.push_back({it->first, it->second.scope});
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  // Parents before children: a subtree reconciled first covers the entries below it.
  std::sort(ready.begin(), ready.end(),
            [](const Item& a, const Item& b) { return a.path < b.path; });
  return ready;
}

std::optional<uint64_t> PendingSet::nextReadyAt(uint64_t settleMs, uint64_t maxDelayMs) const {
  std::optional<uint64_t> next;
  for (const auto& [path, e] : entries_) {
    const uint64_t at = readyAt(e, settleMs, maxDelayMs);
    if (!next || at < *next) next = at;
  }
  return next;
}

}  // namespace driftwatch::agent
