#pragma once
// The union of several policies in force on one host (the agent's local policy and the fleet
// policies that select it) as one policy and one baseline, so that the daemon's watcher, scans
// and compare engine keep working on a single rule per resource.
//
// Combined the way the aggregator's drift engine combines the policies that select a host: a
// resource named by several policies is judged on every attribute any of them declares, with
// the highest severity, and the first policy in order (local first, then fleet policies by name)
// names the rule; values stated explicitly must agree (findConflicts, as `policy apply` checks
// between fleet policies), otherwise the union is refused. Each rule keeps the policy and
// version it came from in its RuleRef. Two recursive rules on one tree whose ignore lists differ
// keep only the patterns both ignore: the union observes everything either policy observes.
// Baselines: the entries of every policy's baseline; a path two baselines record
// keeps the first policy's entry. Pure functions; safe from any thread.

#include <optional>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/baseline/baseline.h"
#include "common/policy/policy.h"

namespace driftwatch::policy {

struct PolicySource {
  Policy policy;
  std::optional<baseline::Baseline> baseline;
};

struct UnitedPolicy {
  Policy policy;
  std::optional<baseline::Baseline> baseline;  // set when any source has one
};

// `name` becomes the union's policy name. An error names both conflicting rules.
Result<UnitedPolicy> unitePolicies(std::vector<PolicySource> sources, std::string name);

}  // namespace driftwatch::policy
