#include "common/policy/policy_union.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/policy/policy_conflicts.h"

namespace driftwatch::policy {
namespace {

template <typename T>
void fill(std::optional<T>& into, const std::optional<T>& other) {
  if (!into && other) into = other;
}

// Patterns both ignore lists hold: what either policy observes stays observed.
IgnoreSet commonIgnores(const IgnoreSet& a, const IgnoreSet& b) {
  std::set<std::string> inB;
  for (const auto& g : b.globs())
    inB.insert(g.pattern());
  std::vector<Glob> kept;
  for (const auto& g : a.globs()) {
    if (inB.contains(g.pattern())) kept.push_back(g);
  }
  return IgnoreSet(std::move(kept));
}

void mergeFile(FileRule& into, const FileRule& other) {
  fill(into.type, other.type);
  fill(into.mode, other.mode);
  fill(into.owner, other.owner);
  fill(into.group, other.group);
  fill(into.sha256, other.sha256);
  fill(into.content, other.content);
  fill(into.target, other.target);
  into.baselineAttrs |= other.baselineAttrs;
  if (into.recursive && other.recursive) {
    into.ignore = commonIgnores(into.ignore, other.ignore);
  } else if (other.recursive) {
    into.ignore = other.ignore;  // only the recursive rule's tree has entries to ignore
  }
  into.recursive = into.recursive || other.recursive;
  into.severity = std::max(into.severity, other.severity);
}

void mergeService(ServiceRule& into, const ServiceRule& other) {
  fill(into.enabled, other.enabled);
  fill(into.masked, other.masked);
  into.severity = std::max(into.severity, other.severity);
}

void mergeUser(UserRule& into, const UserRule& other) {
  fill(into.uid, other.uid);
  fill(into.gid, other.gid);
  fill(into.home, other.home);
  fill(into.shell, other.shell);
  fill(into.comment, other.comment);
  into.severity = std::max(into.severity, other.severity);
}

void mergeGroup(GroupRule& into, const GroupRule& other) {
  fill(into.gid, other.gid);
  fill(into.members, other.members);
  into.severity = std::max(into.severity, other.severity);
}

template <typename Rule>
void mergeSeverity(Rule& into, const Rule& other) {
  into.severity = std::max(into.severity, other.severity);
}

// Appends `rules` to `into`, merging a rule into the one already there for the same key.
template <typename Rule, typename Key, typename Merge>
void unite(std::vector<Rule>& into, const std::vector<Rule>& rules, Key key, Merge merge) {
  for (const Rule& r : rules) {
    const auto same = std::find_if(into.begin(), into.end(),
                                   [&](const Rule& existing) { return key(existing) == key(r); });
    if (same == into.end()) {
      into.push_back(r);
    } else {
      merge(*same, r);
    }
  }
}

}  // namespace

Result<UnitedPolicy> unitePolicies(std::vector<PolicySource> sources, std::string name) {
  // Every pair, whatever their selectors: all of them are in force on this host.
  for (size_t i = 0; i < sources.size(); ++i) {
    for (size_t j = i + 1; j < sources.size(); ++j) {
      Policy a = sources[i].policy;
      Policy b = sources[j].policy;
      a.selector.clear();
      b.selector.clear();
      const auto conflicts = findConflicts(a, b);
      if (!conflicts.empty()) {
        return makeError(ErrorCode::kConflict,
                         "policies '" + a.name + "' and '" + b.name +
                             "' want different values: " + conflicts.front().describe(),
                         "policy union");
      }
    }
  }
  UnitedPolicy out;
  out.policy.name = std::move(name);
  out.policy.severity = model::Severity::kMedium;
  std::map<std::string, baseline::BaselineEntry> entries;  // by path; the first policy wins
  for (const PolicySource& source : sources) {
    const Policy& p = source.policy;
    unite(
        out.policy.files, p.files, [](const FileRule& r) { return r.path; }, mergeFile);
    unite(
        out.policy.sysctl, p.sysctl, [](const SysctlRule& r) { return r.key; },
        mergeSeverity<SysctlRule>);
    unite(
        out.policy.packages, p.packages, [](const PackageRule& r) { return r.name; },
        mergeSeverity<PackageRule>);
    unite(
        out.policy.services, p.services, [](const ServiceRule& r) { return r.unit; }, mergeService);
    unite(
        out.policy.users, p.users, [](const UserRule& r) { return r.name; }, mergeUser);
    unite(
        out.policy.groups, p.groups, [](const GroupRule& r) { return r.name; }, mergeGroup);
    if (!source.baseline) continue;
    if (!out.baseline) {
      out.baseline.emplace();
      out.baseline->recordedAt = source.baseline->recordedAt;
      out.baseline->recordedBy = source.baseline->recordedBy;
      out.baseline->recordedOn = source.baseline->recordedOn;
    }
    for (const auto& e : source.baseline->entries)
      entries.emplace(e.path, e);
  }
  if (out.baseline) {
    for (auto& [path, entry] : entries)
      out.baseline->entries.push_back(std::move(entry));
  }
  return out;
}

}  // namespace driftwatch::policy
