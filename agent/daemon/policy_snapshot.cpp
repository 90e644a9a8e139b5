#include "agent/daemon/policy_snapshot.h"

#include <algorithm>

#include "agent/check/check_runner.h"
#include "agent/collectors/root_fs.h"
#include "common/policy/policy_union.h"

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

std::string fleetSourceName(const std::string& name, int64_t version) {
  return "fleet:" + name + "@v" + std::to_string(version);
}

Result<LoadedPolicy> loadPolicyAndBaseline(const AgentConfig& config,
                                           const wire::RuleBundle* fleet) {
  std::vector<policy::PolicySource> sources;
  std::string name;
  if (!config.policy.empty()) {
    auto p = policy::loadPolicy(config.policy);
    if (!p.ok()) return p.error();
    policy::PolicySource local{std::move(p).value(), std::nullopt};
    if (!config.baseline.empty()) {
      auto b = baseline::loadBaseline(config.baseline);
      if (!b.ok()) return b.error();
      local.baseline = std::move(b).value();
    }
    if (auto s = validateBaselineFor(local.policy, local.baseline ? &*local.baseline : nullptr,
                                     config.baseline);
        !s.ok()) {
      return s.error();
    }
    name = local.policy.name;
    sources.push_back(std::move(local));
  }
  if (fleet != nullptr) {
    for (const auto& bundled : fleet->policies) {
      const std::string where = fleetSourceName(bundled.name, bundled.version);
      auto p = policy::parsePolicy(bundled.text, where);
      if (!p.ok()) return p.error();
      if (p->name != bundled.name) {
        return makeError(ErrorCode::kInvalidInput,
                         "the policy text is named '" + p->name + "', not '" + bundled.name + "'",
                         where);
      }
      policy::PolicySource source{std::move(p).value(), std::nullopt};
      if (bundled.baseline) {
        auto b = baseline::parseBaseline(*bundled.baseline, where + " (baseline)");
        if (!b.ok()) return b.error();
        source.baseline = std::move(b).value();
      }
      if (auto s = validateBaselineFor(source.policy, source.baseline ? &*source.baseline : nullptr,
                                       where);
          !s.ok()) {
        return s.error();
      }
      sources.push_back(std::move(source));
    }
    name = name.empty() ? "fleet" : name + "+fleet";
  }
  auto snap = std::make_shared<PolicySnapshot>();
  LoadedPolicy loaded;
  if (sources.size() == 1 && fleet == nullptr) {
    // The local policy alone, exactly as written.
    snap->policy = std::move(sources.front().policy);
    loaded.baseline = std::move(sources.front().baseline);
  } else {
    auto united = policy::unitePolicies(std::move(sources), name);
    if (!united.ok()) return united.error();
    snap->policy = std::move(united->policy);
    loaded.baseline = std::move(united->baseline);
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
