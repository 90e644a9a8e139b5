#include "aggregator/policy/policy_apply.h"

#include <map>
#include <set>

#include "aggregator/drift/drift_engine.h"
#include "common/base/escape.h"
#include "common/baseline/baseline.h"
#include "common/crypto/sha256.h"
#include "common/policy/policy.h"
#include "common/policy/policy_conflicts.h"

namespace driftwatch::aggregator {
namespace {

// A policy of the set being judged: parsed, with where it comes from.
struct Candidate {
  policy::Policy policy;
  const PolicySource* source = nullptr;   // a policy being applied
  const PolicyVersion* stored = nullptr;  // one already stored and left as it is
};

// Checks one policy being applied; the problems go to `problems`.
std::optional<policy::Policy> check(const PolicySource& src, std::vector<std::string>& problems) {
  auto parsed = policy::parsePolicy(src.text, src.path);
  if (!parsed.ok()) {
    problems.push_back(parsed.error().describe());
    return std::nullopt;
  }
  const bool needsBaseline = [&] {
    for (const auto& rule : parsed->files) {
      if (rule.usesBaseline()) return true;
    }
    return false;
  }();
  if (src.baseline) {
    auto baseline = baseline::parseBaseline(*src.baseline, src.baselinePath);
    if (!baseline.ok()) {
      problems.push_back(baseline.error().describe());
      return std::nullopt;
    }
    if (baseline->policy != parsed->name) {
      problems.push_back(src.baselinePath + ": recorded for policy '" +
                         escapeBytes(baseline->policy) + "', not '" + parsed->name +
                         "' (record it again with `driftwatch-agent baseline`)");
      return std::nullopt;
    }
  } else if (needsBaseline) {
    problems.push_back(src.path + ": rules take their values from a baseline, and there is no " +
                       src.baselinePath + " (record one with `driftwatch-agent baseline --policy " +
                       src.path + " --out " + src.baselinePath + "`)");
    return std::nullopt;
  }
  return std::move(parsed).value();
}

// Whether `path` lies in `directory` (both absolute, as policy sources are stored).
bool isBelow(const std::string& path, const std::string& directory) {
  if (directory.empty()) return false;
  const std::string prefix = directory.back() == '/' ? directory : directory + "/";
  return path.starts_with(prefix);
}

// The version that removes `newest`'s policy.
PolicyVersion removal(const PolicyVersion& newest, const std::string& by,
                      const std::string& message, int64_t now) {
  PolicyVersion v;
  v.name = newest.name;
  v.version = newest.version + 1;
  v.sha256 = "removed";
  v.appliedBy = by;
  v.appliedAt = now;
  v.message = message;
  v.removed = true;
  return v;
}

// Judges the hosts the changed policies select, in the same transaction: the new versions and
// the drift they cause (or resolve) commit together.
struct AuditEntry {
  const std::string& by;
  const std::string& message;
  const std::string& actor;
};

// Judges the fleet under the new versions, adds their audit rows, and commits all of it
// together; the audit log file gets its lines once the commit succeeded.
Status judgeAndCommit(const FleetStore& store, AuditLog& audit,
                      const std::vector<ApplyOutcome>& outcomes, const AuditEntry& entry,
                      int64_t now, DriftListener* listener, sqlite::Transaction& tx) {
  std::set<std::string> changed;
  for (const auto& o : outcomes) {
    if (o.changed) changed.insert(o.name);
  }
  DriftEngine drift(store, listener);
  if (auto s = drift.onPoliciesChanged(changed, now * 1000); !s.ok()) return s;
  std::vector<AuditLog::Staged> lines;
  for (const auto& o : outcomes) {
    if (!o.changed) continue;
    auto line = audit.stage(o.removed ? "policy_removed" : "policy_applied", "", entry.actor,
                            o.name + " version " + std::to_string(o.version) + " by " + entry.by +
                                (entry.message.empty() ? "" : ": " + entry.message));
    if (!line.ok()) return line.error();
    lines.push_back(std::move(*line));
  }
  if (auto s = tx.commit(); !s.ok()) return s;
  for (const auto& line : lines)
    audit.write(line);
  return {};
}

}  // namespace

std::string policyDigest(const std::string& text, const std::optional<std::string>& baseline) {
  Sha256 h;
  h.update(std::to_string(text.size()) + ":");
  h.update(text);
  h.update(baseline ? std::to_string(baseline->size()) + ":" + *baseline : std::string("-"));
  return toHex(h.finish());
}

Result<std::vector<ApplyOutcome>> applyPolicies(const FleetStore& store, AuditLog& audit,
                                                const ApplyRequest& request) {
  if (request.policies.empty())
    return makeError(ErrorCode::kInvalidInput, "no policy to apply", "policy apply");
  // Everything is read inside the write transaction: version numbers and what is pruned must
  // come from the state this apply changes, not from one a concurrent apply replaced.
  auto tx = store.begin();
  if (!tx.ok()) return tx.error();
  auto stored = store.latestPolicies();
  if (!stored.ok()) return stored.error();

  std::vector<std::string> problems;
  std::vector<Candidate> set;
  std::map<std::string, std::string> givenAt;  // name -> path, to refuse a name given twice
  for (const auto& src : request.policies) {
    auto p = check(src, problems);
    if (!p) continue;
    const auto [it, fresh] = givenAt.emplace(p->name, src.path);
    if (!fresh) {
      problems.push_back(src.path + ": policy '" + p->name + "' is also given by " + it->second +
                         " (one file per policy name)");
      continue;
    }
    set.push_back({std::move(*p), &src, nullptr});
  }
  std::vector<const PolicyVersion*> pruned;
  for (const auto& v : *stored) {
    if (givenAt.contains(v.name) || v.removed) continue;
    if (request.prune && v.appliedBy == request.appliedBy &&
        isBelow(v.source, request.pruneDirectory)) {
      pruned.push_back(&v);
      continue;
    }
    auto p = policy::parsePolicy(v.text, v.source);
    if (!p.ok()) {
      // Stored versions were valid when applied; a newer parser may disagree. Then nothing
      // can be checked against it for conflicts, so nothing is applied until a fixed version
      // of it is (given in the same apply, it replaces the stored one and is not read).
      problems.push_back("stored policy '" + v.name + "' version " + std::to_string(v.version) +
                         " no longer parses: " + p.error().describe() +
                         " (apply a fixed version of it)");
      continue;
    }
    set.push_back({std::move(*p), nullptr, &v});
  }
  for (size_t i = 0; i < set.size(); ++i) {
    for (size_t j = i + 1; j < set.size(); ++j) {
      if (!set[i].source && !set[j].source) continue;  // both stored: accepted before
      for (const auto& c : policy::findConflicts(set[i].policy, set[j].policy))
        problems.push_back("conflict: " + c.describe());
    }
  }
  if (!problems.empty()) {
    std::string all;
    for (const auto& p : problems)
      all += (all.empty() ? "" : "\n  ") + p;
    return makeError(ErrorCode::kInvalidInput,
                     std::to_string(problems.size()) +
                         (problems.size() == 1 ? " problem" : " problems") +
                         ", nothing applied:\n  " + all,
                     "policy apply");
  }

  std::map<std::string, const PolicyVersion*> newest;
  for (const auto& v : *stored)
    newest[v.name] = &v;
  std::vector<ApplyOutcome> out;
  for (const auto& c : set) {
    if (!c.source) continue;
    const std::string digest = policyDigest(c.source->text, c.source->baseline);
    const auto before = newest.find(c.policy.name);
    if (before != newest.end() && !before->second->removed && before->second->sha256 == digest) {
      out.push_back({c.policy.name, before->second->version, false, false});
      continue;
    }
    PolicyVersion v;
    v.name = c.policy.name;
    v.version = before == newest.end() ? 1 : before->second->version + 1;
    v.text = c.source->text;
    v.baseline = c.source->baseline;
    v.sha256 = digest;
    v.source = c.source->path;
    v.appliedBy = request.appliedBy;
    v.appliedAt = request.now;
    v.message = request.message;
    v.gitCommit = c.source->gitCommit;
    if (auto s = store.addPolicyVersion(v); !s.ok()) return s.error();
    out.push_back({v.name, v.version, true, false});
  }
  for (const PolicyVersion* gone : pruned) {
    PolicyVersion v = removal(*gone, request.appliedBy, request.message, request.now);
    if (auto s = store.addPolicyVersion(v); !s.ok()) return s.error();
    out.push_back({v.name, v.version, true, true});
  }
  if (auto s =
          judgeAndCommit(store, audit, out, {request.appliedBy, request.message, request.actor},
                         request.now, request.driftListener, *tx);
      !s.ok())
    return s.error();
  return out;
}

Result<std::vector<ApplyOutcome>> removePolicies(const FleetStore& store, AuditLog& audit,
                                                 const std::vector<std::string>& names,
                                                 const std::string& removedBy,
                                                 const std::string& message, int64_t now,
                                                 DriftListener* listener,
                                                 const std::string& actor) {
  if (names.empty())
    return makeError(ErrorCode::kInvalidInput, "no policy to remove", "policy remove");
  auto tx = store.begin();
  if (!tx.ok()) return tx.error();
  auto stored = store.latestPolicies();
  if (!stored.ok()) return stored.error();
  std::map<std::string, const PolicyVersion*> newest;
  for (const auto& v : *stored)
    newest[v.name] = &v;
  std::vector<ApplyOutcome> out;
  std::set<std::string> seen;
  for (const auto& name : names) {
    if (!seen.insert(name).second) continue;
    const auto it = newest.find(name);
    if (it == newest.end() || it->second->removed)
      return makeError(ErrorCode::kNotFound,
                       it == newest.end()
                           ? "no such policy (see `driftwatch-aggregator policy list`)"
                           : "removed already in version " + std::to_string(it->second->version),
                       "policy '" + escapeBytes(name) + "'");
    PolicyVersion v = removal(*it->second, removedBy, message, now);
    if (auto s = store.addPolicyVersion(v); !s.ok()) return s.error();
    out.push_back({v.name, v.version, true, true});
  }
  if (auto s = judgeAndCommit(store, audit, out, {removedBy, message, actor}, now, listener, *tx);
      !s.ok())
    return s.error();
  return out;
}

}  // namespace driftwatch::aggregator
