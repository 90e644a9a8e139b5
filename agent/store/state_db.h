#pragma once
// The agent's local state, in SQLite (WAL) in its state directory: the last observed state of
// every resource, the current drift, the outbox of state changes waiting to be sent, the
// coverage gaps (when the agent could not see) and the last scans. A state change, its outbox
// entry and the drift it opens or resolves are written in one transaction: once the agent
// considers a change observed, it is on disk, and a crash can neither lose it nor report it
// twice.
//
// One StateDb per thread: the loop thread holds the writer; a scan job opens its own
// read-only connection (WAL lets it read beside the writer).

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/baseline/baseline.h"
#include "common/sqlite/database.h"

namespace driftwatch::agent {

struct StoredResource {
  std::string state;       // model::encodeState text
  std::string stamp;       // files: stat data for quick rescans; empty otherwise
  int64_t observedAt = 0;  // milliseconds since the epoch when the state was observed
};

struct StoredDrift {
  std::string resource;
  std::string item;  // JSON of the drift item
  int severity = 0;
  int64_t firstSeen = 0;
  int64_t lastChanged = 0;
};

struct Gap {
  int64_t id = 0;
  std::string kind;   // restart, overflow, watch_refused
  std::string scope;  // a path, or "*" for everything watched
  std::string detail;
  int64_t startedAt = 0;
  std::optional<int64_t> endedAt;  // open while empty
};

struct ScanRecord {
  std::string kind;  // quick, deep, settings, startup
  int64_t startedAt = 0;
  int64_t finishedAt = 0;
  int64_t entries = 0;
  int64_t changes = 0;
};

class StateDb {
 public:
  static constexpr std::string_view kFileName = "state.db";

  // Opens (creating and migrating) STATE_DIR/state.db for writing.
  static Result<StateDb> openForWriting(const std::string& stateDir);
  // Opens an existing database read-only (status, scan jobs).
  static Result<StateDb> openForReading(const std::string& stateDir);

  // ---- reads ----
  Result<std::optional<StoredResource>> resource(std::string_view id) const;
  // Ids of stored resources whose id starts with `prefix`, in order.
  Status forEachResourceId(std::string_view prefix,
                           const std::function<void(const std::string&)>& fn) const;
  Status forEachResource(
      const std::function<void(const std::string& id, const StoredResource&)>& fn) const;
  Result<std::optional<StoredDrift>> drift(std::string_view id) const;
  Result<std::vector<StoredDrift>> allDrift() const;
  Result<std::vector<Gap>> gaps(bool openOnly, size_t limit) const;
  Result<std::vector<ScanRecord>> scans() const;
  Result<int64_t> outboxDepth() const;
  Result<int64_t> queuedEventCount() const;
  Result<std::optional<std::string>> meta(std::string_view key) const;

  // ---- writes (inside a transaction) ----
  Result<sqlite::Transaction> begin() const;
  Status putResource(std::string_view id, std::string_view state, std::string_view stamp,
                     int64_t now) const;
  Status removeResource(std::string_view id) const;
  // A resource's new state (or "absent", "unobserved") on its way to the aggregator, with the
  // state it replaces (none when new): what the batch's state digest is computed from.
  Status appendStateChange(std::string_view resource, std::string_view state,
                           const std::optional<std::string_view>& previous, int64_t nowMs) const;
  // A coverage gap opened or closed: `payload` is its JSON.
  Status appendCoverage(std::string_view gap, std::string_view payload, int64_t nowMs) const;
  // While `*open` is false (an agent that is not enrolled), the two appends above keep nothing:
  // the first report after enrollment is a full snapshot anyway, and writing every change of a
  // 100,000-file initial scan only to drop it a minute later cost disk writes and idle CPU.
  // The flag may be flipped from another thread. Default: always kept.
  void setOutboxGate(const std::atomic<bool>* open) { outboxGate_ = open; }
  // The digest of every stored resource (see common/crypto/state_digest.h).
  Result<std::string> stateDigestHex() const;
  Status putDrift(const StoredDrift& drift) const;
  Status removeDrift(std::string_view id) const;
  Result<int64_t> openGap(std::string_view kind, std::string_view scope, std::string_view detail,
                          int64_t startedAt) const;
  // Returns whether the gap was open (closing a closed gap changes nothing).
  Result<bool> closeGap(int64_t id, int64_t endedAt) const;
  Status putScan(const ScanRecord& scan) const;
  Status removeScan(std::string_view kind) const;
  Status setMeta(std::string_view key, std::string_view value) const;
  // The baseline in force (replaced as a whole inside the caller's transaction), looked up per
  // path instead of held in memory.
  Status replaceBaseline(const baseline::Baseline& baseline) const;
  Result<std::optional<baseline::BaselineEntry>> baselineEntry(std::string_view path) const;
  Status forEachBaselineBelow(std::string_view root,
                              const std::function<void(const baseline::BaselineEntry&)>& fn) const;
  // Local event lines (drift opened/resolved, gaps), queued in the transaction that causes them
  // and dropped once written out: none is lost to a crash between the two.
  Status queueEvent(std::string_view line) const;
  Result<std::vector<std::pair<int64_t, std::string>>> queuedEvents() const;
  Status dropEventsUpTo(int64_t seq) const;

  const std::string& path() const { return db_.path(); }

 private:
  explicit StateDb(sqlite::Database db) : db_(std::move(db)) {}
  Result<sqlite::Statement*> cached(std::string_view sql) const;

  bool outboxClosed() const { return outboxGate_ != nullptr && !outboxGate_->load(); }

  sqlite::Database db_;
  mutable sqlite::StatementCache statements_;
  const std::atomic<bool>* outboxGate_ = nullptr;
};

// Wall-clock seconds since the epoch: what the state records as times (observations: ms).
int64_t unixNow();
int64_t unixNowMs();

}  // namespace driftwatch::agent
