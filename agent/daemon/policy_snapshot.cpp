#include "agent/daemon/policy_snapshot.h"

#include <algorithm>

#include "agent/check/check_runner.h"
#include "agent/collectors/root_fs.h"

namespace driftwatch::agent {

bool PolicySnapshot::coversSetting(const model::ResourceId& id) const {
  const auto named = [&](const auto& rules, auto field) {
    return std::any_of(rules.begin(), rules.end(),
                       [&](const auto& r) { return r.*field == id.name; });
  };
  switch (id.kind) {
    case model::ResourceKind::kSysctl:
      return named(policy.sysctl, &policy::SysctlRule::key);
    case model::ResourceKind::kPackage:
      return named(policy.packages, &policy::PackageRule::name);
    case model::ResourceKind::kService:
      return named(policy.services, &policy::ServiceRule::unit);
    case model::ResourceKind::kUser:
      return named(policy.users, &policy::UserRule::name);
    case model::ResourceKind::kGroup:
      return named(policy.groups, &policy::GroupRule::name);
    case model::ResourceKind::kFile:
      return false;
  }
  return false;
}

Result<LoadedPolicy> loadPolicyAndBaseline(const AgentConfig& config) {
  auto snap = std::make_shared<PolicySnapshot>();
  auto p = policy::loadPolicy(config.policy);
  if (!p.ok()) return p.error();
  snap->policy = std::move(p).value();
  LoadedPolicy loaded;
  if (!config.baseline.empty()) {
    auto b = baseline::loadBaseline(config.baseline);
    if (!b.ok()) return b.error();
    loaded.baseline = std::move(b).value();
  }
  if (auto s = validateBaselineFor(snap->policy, loaded.baseline ? &*loaded.baseline : nullptr,
                                   config.baseline);
      !s.ok()) {
    return s.error();
  }
  snap->hasBaseline = loaded.baseline.has_value();
  snap->index = std::make_unique<policy::FileRuleIndex>(snap->policy.files);
  for (const auto& rule : snap->policy.files) {
    for (std::string_view dir = rule.path; dir != "/";) {
      dir = dirName(dir);
      snap->ruleAncestors.emplace(dir);
    }
  }
  loaded.snapshot = std::move(snap);
  return loaded;
}

}  // namespace driftwatch::agent
