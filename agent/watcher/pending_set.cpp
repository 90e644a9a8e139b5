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

std::optional<uint64_t> PendingSet::nextReadyAt(uint64_t settleMs, uint64_t maxDelayMs) const {
  std::optional<uint64_t> next;
  for (const auto& [path, e] : entries_) {
    const uint64_t at = readyAt(e, settleMs, maxDelayMs);
    if (!next || at < *next) next = at;
  }
  return next;
}

}  // namespace driftwatch::agent
