#pragma once
// The offline check: observe a host (live or mounted under a root), compare it with a policy
// and its baseline, and report the drift. Also records baselines and accepts observed values
// into one. These are the jobs behind `driftwatch-agent check|baseline|accept`; the CLI only
// parses arguments and prints.
// Each call is self-contained and blocks its caller (the file scan uses a thread pool inside).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/collectors/file_scanner.h"
#include "agent/collectors/root_fs.h"
#include "common/base/result.h"
#include "common/baseline/baseline.h"
#include "common/model/drift.h"
#include "common/policy/policy.h"

namespace driftwatch::agent {

struct CheckReport {
  std::string policy;                   // policy name
  std::string policyFile;               // as given
  std::optional<std::string> host;      // the observed host's name, when known
  std::string root;                     // "/" or the --root directory
  uint64_t checked = 0;                 // resources examined
  std::vector<model::DriftItem> drift;  // sorted by resource id
  std::vector<std::string> warnings;    // things the user should know that are not drift

  std::array<uint64_t, model::kSeverityCount> countBySeverity() const;
  uint64_t errorCount() const;  // drift items whose actual state could not be fully observed
};

// Checks the baseline belongs to the policy and that the policy has one if it needs it.
Status validateBaselineFor(const policy::Policy& policy, const baseline::Baseline* baseline,
                           const std::string& baselinePath);

Result<CheckReport> runCheck(const policy::Policy& policy, const baseline::Baseline* baseline,
                             const RootFs& root, const ScanOptions& options);

struct RecordedBaseline {
  baseline::Baseline baseline;
  std::vector<std::string> warnings;  // e.g. a rule path that does not exist
};

// Records the attributes each baseline rule asks for, for every resource those rules cover.
// Fails (naming the first few) when entries could not be read: a baseline with holes would
// make every later check report them.
Result<RecordedBaseline> recordBaseline(const policy::Policy& policy, const RootFs& root,
                                        const ScanOptions& options);

struct AcceptOutcome {
  std::vector<std::string> changed;    // resources whose baseline entry changed
  std::vector<std::string> unchanged;  // named but already matching
  std::vector<std::string> notes;      // drift that accept cannot take (explicit policy values)
};

// Takes the observed values of `resources` (or, when empty and `all` is set, of every
// resource that drifts from the baseline) into `baseline`, and appends `record` naming them.
// Refuses resources that no baseline rule covers, naming the rule or the reason.
Result<AcceptOutcome> acceptIntoBaseline(const policy::Policy& policy, baseline::Baseline& baseline,
                                         const RootFs& root, const ScanOptions& options,
                                         const std::vector<model::ResourceId>& resources, bool all,
                                         baseline::AcceptRecord record);

// Who runs this command, for baseline records ("alice", "alice (as root)").
std::string currentUser();

// The observed host's name: the machine's for "/", ROOT/etc/hostname under --root.
std::optional<std::string> observedHostName(const RootFs& root);

}  // namespace driftwatch::agent
