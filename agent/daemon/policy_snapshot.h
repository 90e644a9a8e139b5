#pragma once
// What the daemon enforces right now: the policy and the rule index built on it, replaced as a
// whole on reload and shared read-only with work in flight (a job keeps the snapshot it started
// with). The baseline is loaded with it, then handed to the state database and dropped from
// memory (a 100,000-entry baseline would outweigh everything else the daemon keeps).
//
// The policy in force is the union (common/policy/policy_union.h) of the local policy, when the
// config names one, and the fleet policies of the verified rule bundle, when the agent holds one:
// one rule per resource, each remembering its policy and version ("fleet:web@v3" as its file).

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "agent/daemon/agent_config.h"
#include "common/base/result.h"
#include "common/baseline/baseline.h"
#include "common/model/resource.h"
#include "common/policy/file_rule_index.h"
#include "common/policy/policy.h"
#include "common/wire/codec.h"

namespace driftwatch::agent {

struct PolicySnapshot {
  policy::Policy policy;
  bool hasBaseline = false;
  std::unique_ptr<policy::FileRuleIndex> index;
  std::unordered_set<std::string> ruleAncestors;  // every directory above some rule's path

  const policy::FileRule* ownerOf(std::string_view path, bool isDir) const {
    return index->ownerOf(path, isDir);
  }
  // True when `path` lies on the way to a rule's path: a directory whose changes can create,
  // move or delete a rule's root.
  bool leadsToRule(std::string_view path) const {
    return ruleAncestors.contains(std::string(path));
  }
  // True when a sysctl, package, service, user or group rule names this resource.
  bool coversSetting(const model::ResourceId& id) const;
};

struct LoadedPolicy {
  std::shared_ptr<const PolicySnapshot> snapshot;
  std::optional<baseline::Baseline> baseline;  // to be stored, then dropped
};

// Loads and validates the policy and the baseline named by the config (when it names one) and
// unites them with the policies of `fleet` (may be null). An error names the policy at fault.
Result<LoadedPolicy> loadPolicyAndBaseline(const AgentConfig& config,
                                           const wire::RuleBundle* fleet);

// The name rules of a fleet policy carry as their file: "fleet:NAME@vVERSION".
std::string fleetSourceName(const std::string& name, int64_t version);

}  // namespace driftwatch::agent
