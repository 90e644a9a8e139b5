#pragma once
// Records what the daemon observed in its state database: the resource's state, the outbox
// entry for a change, the drift it opens, changes or resolves, the coverage gaps, and the event
// lines that announce all of it. Every method runs inside the caller's transaction and returns
// the first error, so the caller can roll the whole batch back: a change is never stored without
// its outbox entry, nor its drift without its event line. Loop thread only.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/daemon/event_log.h"
#include "agent/daemon/policy_snapshot.h"
#include "agent/store/state_db.h"
#include "common/baseline/baseline.h"
#include "common/compare/identity.h"
#include "common/model/drift.h"
#include "common/model/observation.h"

namespace driftwatch::agent {

// One polled setting: its id, encoded state ("absent" when it does not exist) and drift.
struct SettingResult {
  std::string id;
  std::string state;
  std::optional<model::DriftItem> drift;
};

class StateRecorder {
 public:
  StateRecorder(const StateDb& db, std::string host) : db_(db), host_(std::move(host)) {}

  // A file observation made at `observedAtMs`. Returns whether its state changed. `forceDrift`
  // judges drift even when the state did not change (a rule's own path, a baseline entry).
  Result<bool> recordFile(const PolicySnapshot& snap, const policy::FileRule& rule,
                          const model::FileObservation& obs, int64_t observedAtMs, bool forceDrift,
                          const compare::IdentityResolver& ids);
  // A resource no longer covered by the policy: its state leaves (outbox "unobserved"), its drift
  // is resolved.
  Status forget(const std::string& id, std::string_view why);
  Result<bool> recordSetting(const SettingResult& result, int64_t observedAtMs);
  // Opens, changes or resolves the drift of `id`. A drift item whose only difference is where its
  // rule now sits in the policy file is updated silently.
  Status judge(const std::string& id, const std::optional<model::DriftItem>& item);
  // Judges every stored resource again (after a policy or identity change), streaming; forgets
  // the ones the policy no longer covers.
  Status rejudgeStored(const PolicySnapshot& snap, const compare::IdentityResolver& ids);

  Result<int64_t> openGap(std::string_view kind, std::string_view scope, std::string_view detail,
                          int64_t startedAt);
  // Closing a gap that is closed already does nothing (and says so).
  Result<bool> closeGap(int64_t id);

  Result<std::optional<baseline::BaselineEntry>> baselineFor(const PolicySnapshot& snap,
                                                             const policy::FileRule& rule,
                                                             std::string_view path) const;
  // Outside transactions: puts the baseline in force into the database (its own transaction),
  // unless the same one is there already.
  Status storeBaseline(const baseline::Baseline* baseline);
  // Outside transactions: writes queued event lines and drops them. A failing events file is
  // reported once a minute, not on every line.
  Status flushEvents(EventLog& log);

  const std::string& host() const { return host_; }

 private:
  Status queue(const std::string& line);

  const StateDb& db_;
  std::string host_;
  bool queued_ = true;  // lines may be waiting (from an earlier run too)
  int64_t lastWriteErrorAt_ = 0;
};

}  // namespace driftwatch::agent
