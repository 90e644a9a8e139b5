#pragma once
// The worker side of the daemon's observations. A subtree scan walks a path for a rule (watching
// every directory right before listing it), compares each entry with the stored state through
// the shared reader, and hands what differs to the loop in batches; stored entries the walk did
// not meet, and baseline entries never seen, are checked with a fresh lstat and proposed as gone.
// Nothing here writes the database: the loop records, and drops any proposal older than what
// it already recorded for the same path. Runs on work-pool threads.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/collectors/budget.h"
#include "agent/collectors/file_scanner.h"
#include "agent/collectors/root_fs.h"
#include "agent/daemon/policy_snapshot.h"
#include "agent/daemon/state_reader.h"
#include "agent/watcher/watch_table.h"
#include "common/model/observation.h"

namespace driftwatch::agent {

// A proposed observation of one path.
struct Candidate {
  model::FileObservation obs;
  const policy::FileRule* rule = nullptr;  // nullptr: no rule covers the path any more
  int64_t observedAtMs = 0;
  bool forceDrift = false;  // judge drift even if the state is unchanged
};

// What scan jobs share; all of it is safe to use from any thread.
struct ScanContext {
  const RootFs& root;
  StateReader& reader;
  WatchTable& watches;
  IoBudget* io = nullptr;  // throttle full scans only
  CpuBudget* cpu = nullptr;
  const std::atomic<bool>* cancel = nullptr;
  uint64_t maxHashBytes = 0;
};

struct ScanRequest {
  std::shared_ptr<const PolicySnapshot> snapshot;
  const policy::FileRule* rule = nullptr;
  std::string path;        // the rule's path, or a directory below it
  bool deep = false;       // rehash every file
  bool throttled = false;  // honour the I/O and CPU budgets
};

struct ScanOutcome {
  int64_t entries = 0;
  bool rootPresent = false;
  bool cancelled = false;
  std::vector<std::string> notes;  // listing errors, pseudo file systems left out
};

// Walks `request.path`; `deliver` gets batches of candidates (it may block).
ScanOutcome scanSubtree(const ScanRequest& request, const ScanContext& context,
                        const std::function<void(std::vector<Candidate>&&)>& deliver);

// Observes one path (an event): hashes only what the stored stat data cannot vouch for.
Candidate observePath(const std::shared_ptr<const PolicySnapshot>& snapshot,
                      const std::string& path, const ScanContext& context);

}  // namespace driftwatch::agent
