#include "agent/check/check_runner.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>

#include <pwd.h>
#include <unistd.h>

#include "agent/collectors/account_collector.h"
#include "agent/collectors/dpkg_collector.h"
#include "agent/collectors/sysctl_collector.h"
#include "agent/collectors/systemd_collector.h"
#include "common/base/escape.h"
#include "common/base/paths.h"
#include "common/base/strings.h"
#include "common/base/time.h"
#include "common/compare/compare.h"
#include "common/compare/identity.h"
#include "common/model/file_attrs_text.h"
#include "common/policy/file_rule_index.h"

namespace driftwatch::agent {

using baseline::Baseline;
using baseline::BaselineEntry;
using model::Attr;
using model::DriftItem;
using model::FileObservation;
using model::FileType;
using model::Presence;
using model::ResourceId;
using model::ResourceKind;
using policy::FileRule;

std::array<uint64_t, model::kSeverityCount> CheckReport::countBySeverity() const {
  std::array<uint64_t, model::kSeverityCount> counts{};
  for (const auto& item : drift)
    ++counts[static_cast<size_t>(item.severity)];
  return counts;
}

uint64_t CheckReport::errorCount() const {
  return static_cast<uint64_t>(std::count_if(drift.begin(), drift.end(),
                                             [](const DriftItem& d) { return !d.error.empty(); }));
}

std::optional<std::string> observedHostName(const RootFs& root) {
  if (root.isLiveHost()) {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) == 0) return std::string(name);
    return std::nullopt;
  }
  auto text = root.readFile("/etc/hostname", 4096);
  if (!text.ok()) return std::nullopt;
  const std::string_view first = trim(split(*text, '\n').front());
  if (first.empty()) return std::nullopt;
  return std::string(first);
}

Status validateBaselineFor(const policy::Policy& policy, const Baseline* baseline,
                           const std::string& baselinePath) {
  if (baseline == nullptr) {
    for (const FileRule& rule : policy.files) {
      if (rule.usesBaseline()) {
        return makeError(ErrorCode::kInvalidInput,
                         "the rule for " + escapeBytes(rule.path) + " at " + rule.where.str() +
                             " takes its desired values from a baseline: pass --baseline FILE "
                             "(record one with `driftwatch-agent baseline`)");
      }
    }
    return {};
  }
  if (!baseline->policy.empty() && baseline->policy != policy.name) {
    return makeError(ErrorCode::kConflict,
                     "this baseline was recorded for policy '" + escapeBytes(baseline->policy) +
                         "', not '" + policy.name +
                         "'; pass the matching baseline or record a new one",
                     baselinePath);
  }
  return {};
}

namespace {

struct HostFacts {
  AccountDatabase accounts;
  compare::IdentityTable identities;
};

HostFacts loadHostFacts(const RootFs& root) {
  HostFacts facts;
  facts.accounts = loadAccounts(root);
  for (const auto& u : facts.accounts.users)
    facts.identities.addUser(u.name, u.uid);
  for (const auto& g : facts.accounts.groups)
    facts.identities.addGroup(g.name, g.gid);
  return facts;
}

std::vector<const FileRule*> fileRules(const policy::Policy& policy, bool baselineOnly) {
  std::vector<const FileRule*> rules;
  for (const FileRule& rule : policy.files) {
    if (!baselineOnly || rule.usesBaseline()) rules.push_back(&rule);
  }
  return rules;
}

// A directory whose entries were not observed, why, and under which rule.
struct UnseenDir {
  std::string reason;
  const FileRule* rule = nullptr;
};
using UnseenDirs = std::map<std::string, UnseenDir>;

// The nearest directory above `path` whose entries were not observed, or nullptr.
const UnseenDirs::value_type* unseenAncestor(const UnseenDirs& dirs, std::string_view path) {
  std::string_view ancestor = path;
  while (ancestor.size() > 1) {
    ancestor = dirName(ancestor);
    if (const auto it = dirs.find(std::string(ancestor)); it != dirs.end()) return &*it;
  }
  return nullptr;
}

// Compares every observed file as it arrives (on scanner threads) and remembers which
// baseline entries it saw, so that the ones never seen can be reported as removed.
class CompareSink final : public FileObservationSink {
 public:
  CompareSink(const Baseline* baseline, const compare::IdentityResolver& ids)
      : baseline_(baseline), ids_(ids) {
    if (baseline_ != nullptr) {
      seen_ = std::make_unique<std::atomic<bool>[]>(baseline_->entries.size());
    }
  }

  void onFile(const FileRule& rule, FileObservation&& obs) override {
    const BaselineEntry* base = nullptr;
    if (baseline_ != nullptr && rule.usesBaseline()) {
      base = baseline_->find(obs.path);
      if (base != nullptr)
        seen_[static_cast<size_t>(base - baseline_->entries.data())].store(
            true, std::memory_order_relaxed);
    }
    checked_.fetch_add(1, std::memory_order_relaxed);
    if (auto item = compare::compareFile(rule, base, obs, ids_)) {
      std::lock_guard lock(mutex_);
      drift_.push_back(std::move(*item));
    }
  }

  void onListingError(const FileRule& rule, std::string_view path,
                      const std::string& error) override {
    std::lock_guard lock(mutex_);
    unlisted_.emplace(std::string(path), UnseenDir{error, &rule});
  }

  void onNotDescended(const FileRule& rule, std::string_view path,
                      const std::string& reason) override {
    std::lock_guard lock(mutex_);
    notDescended_.emplace(std::string(path), UnseenDir{reason, &rule});
  }

  // After the scan (single-threaded): baseline entries of `rule` that were never observed.
  void reportUnseen(const FileRule& rule, const policy::FileRuleIndex& index) {
    if (baseline_ == nullptr || !rule.recursive) return;
    for (const BaselineEntry& entry : baseline_->below(rule.path)) {
      const size_t i = static_cast<size_t>(&entry - baseline_->entries.data());
      if (seen_[i].load(std::memory_order_relaxed)) continue;
      const bool isDir =
          model::has(entry.attrs.mask, Attr::kType) && entry.attrs.type == FileType::kDir;
      if (index.ownerOf(entry.path, isDir) != &rule) continue;  // ignored, or another rule's
      // Below a pseudo file system the scan did not enter on purpose: not drift.
      if (unseenAncestor(notDescended_, entry.path) != nullptr) continue;
      checked_.fetch_add(1, std::memory_order_relaxed);
      if (const auto* dir = unseenAncestor(unlisted_, entry.path)) {
        DriftItem item;
        item.id = ResourceId{ResourceKind::kFile, entry.path};
        item.change = model::Change::kModified;
        item.severity = rule.severity;
        item.rule = rule.where;
        item.attributes.push_back({Attr::kEnsure, std::string("present"), std::nullopt});
        item.error = "not observed: " + escapeBytes(dir->first) + " could not be listed";
        drift_.push_back(std::move(item));
        continue;
      }
      FileObservation gone;
      gone.path = entry.path;
      gone.presence = Presence::kAbsent;
      if (auto item = compare::compareFile(rule, &entry, gone, ids_))
        drift_.push_back(std::move(*item));
    }
  }

  // Directories that could not be listed become drift with their error (merged into an
  // existing item for the same directory, if any).
  void reportListingErrors() {
    for (const auto& dir : unlisted_) {
      const std::string& path = dir.first;
      const auto it = std::find_if(drift_.begin(), drift_.end(), [&](const DriftItem& d) {
        return d.id.kind == ResourceKind::kFile && d.id.name == path;
      });
      const std::string message = "cannot list its entries: " + dir.second.reason;
      if (it != drift_.end()) {
        it->error = it->error.empty() ? message : it->error + "; " + message;
        continue;
      }
      const FileRule* rule = dir.second.rule;
      DriftItem item;
      item.id = ResourceId{ResourceKind::kFile, path};
      item.change = model::Change::kModified;
      item.severity = rule->severity;
      item.rule = rule->where;
      item.error = message;
      drift_.push_back(std::move(item));
    }
  }

  std::vector<DriftItem> takeDrift() { return std::move(drift_); }
  std::vector<std::string> notDescendedWarnings() const {
    std::vector<std::string> out;
    for (const auto& [path, dir] : notDescended_)
      out.push_back(escapeBytes(path) + ": " + dir.reason);
    return out;
  }
  uint64_t checked() const { return checked_.load(); }

 private:
  const Baseline* baseline_;
  const compare::IdentityResolver& ids_;
  std::unique_ptr<std::atomic<bool>[]> seen_;
  std::atomic<uint64_t> checked_{0};
  std::mutex mutex_;
  std::vector<DriftItem> drift_;  // guarded by mutex_ during the scan
  UnseenDirs unlisted_;           // guarded by mutex_ during the scan: could not be listed
  UnseenDirs notDescended_;       // guarded by mutex_ during the scan: pseudo file systems
};

size_t countStaleEntries(const Baseline& baseline, const policy::FileRuleIndex& index) {
  size_t stale = 0;
  for (const BaselineEntry& e : baseline.entries) {
    const bool isDir = model::has(e.attrs.mask, Attr::kType) && e.attrs.type == FileType::kDir;
    const FileRule* owner = index.ownerOf(e.path, isDir);
    if (owner == nullptr || !owner->usesBaseline()) ++stale;
  }
  return stale;
}

void checkOtherKinds(const policy::Policy& policy, const RootFs& root, const HostFacts& facts,
                     CheckReport& report) {
  for (const auto& rule : policy.sysctl) {
    if (auto item = compare::compareSysctl(rule, observeSysctl(root, rule.key)))
      report.drift.push_back(std::move(*item));
  }
  if (!policy.packages.empty()) {
    auto db = loadDpkgDatabase(root);
    for (const auto& rule : policy.packages) {
      model::PackageObservation obs;
      if (db.ok()) {
        obs = observePackage(*db, rule.name);
      } else {
        obs.name = rule.name;
        obs.error = db.error().describe();
      }
      if (auto item = compare::comparePackage(rule, obs)) report.drift.push_back(std::move(*item));
    }
    if (db.ok())
      report.warnings.insert(report.warnings.end(), db->warnings.begin(), db->warnings.end());
  }
  if (!policy.services.empty()) {
    const auto units = SystemdUnitTable::load(root);
    for (const auto& rule : policy.services) {
      if (auto item = compare::compareService(rule, units.observe(rule.unit)))
        report.drift.push_back(std::move(*item));
    }
  }
  for (const auto& rule : policy.users) {
    if (auto item = compare::compareUser(rule, observeUser(facts.accounts, rule.name))) {
      report.drift.push_back(std::move(*item));
    }
  }
  for (const auto& rule : policy.groups) {
    if (auto item = compare::compareGroup(rule, observeGroup(facts.accounts, rule.name))) {
      report.drift.push_back(std::move(*item));
    }
  }
  report.checked += policy.sysctl.size() + policy.packages.size() + policy.services.size() +
                    policy.users.size() + policy.groups.size();
  if (!policy.users.empty() || !policy.groups.empty()) {
    report.warnings.insert(report.warnings.end(), facts.accounts.warnings.begin(),
                           facts.accounts.warnings.end());
  }
}

// The baseline entry for an observed file, with the attributes `rule` keeps (and always the
// type, which tells how to read the others).
BaselineEntry entryFor(const FileObservation& obs, const FileRule& rule) {
  BaselineEntry entry;
  entry.path = obs.path;
  entry.attrs = obs.attrs;
  entry.attrs.mask = (obs.attrs.mask & rule.baselineAttrs) | model::bit(Attr::kType);
  if (!model::has(entry.attrs.mask, Attr::kTarget)) entry.attrs.target.clear();
  return entry;
}

bool sameEntry(const BaselineEntry& a, const BaselineEntry& b) {
  return model::formatFileAttrs(a.attrs) == model::formatFileAttrs(b.attrs);
}

// Why an observation cannot go into a baseline, or "" when it can.
std::string unrecordable(const FileObservation& obs, const FileRule& rule) {
  if (obs.presence == Presence::kUnknown) return obs.error;
  if ((obs.failed & rule.baselineAttrs) != 0) return obs.error;
  return {};
}

class RecordSink final : public FileObservationSink {
 public:
  void onFile(const FileRule& rule, FileObservation&& obs) override {
    std::lock_guard lock(mutex_);
    if (obs.presence == Presence::kAbsent) {
      if (obs.path == rule.path) {
        warnings_.push_back(escapeBytes(rule.path) + " (" + rule.where.str() +
                            ") does not exist: recorded as absent");
      }
      return;
    }
    if (auto why = unrecordable(obs, rule); !why.empty()) {
      problems_.push_back(escapeBytes(obs.path) + ": " + why);
      return;
    }
    entries_.push_back(entryFor(obs, rule));
  }

  void onListingError(const FileRule&, std::string_view path, const std::string& error) override {
    std::lock_guard lock(mutex_);
    problems_.push_back(escapeBytes(path) + ": " + error);
  }

  void onNotDescended(const FileRule&, std::string_view path, const std::string& reason) override {
    std::lock_guard lock(mutex_);
    warnings_.push_back(escapeBytes(path) + ": " + reason);
  }

  std::vector<BaselineEntry> entries_;
  std::vector<std::string> problems_;
  std::vector<std::string> warnings_;

 private:
  std::mutex mutex_;
};

}  // namespace

// Who runs this command, for the record: the account name of the effective uid on the machine
// running driftwatch (and the sudo user behind it, if any).
std::string currentUser() {
  std::string user = "uid " + std::to_string(::geteuid());
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buffer[4096];
  if (::getpwuid_r(::geteuid(), &pw, buffer, sizeof buffer, &found) == 0 && found != nullptr) {
    user = found->pw_name;
  }
  if (const char* sudo = ::getenv("SUDO_USER"); sudo != nullptr && *sudo != '\0' && user != sudo) {
    user = std::string(sudo) + " (as " + user + ")";
  }
  return user;
}

Result<CheckReport> runCheck(const policy::Policy& policy, const Baseline* baseline,
                             const RootFs& root, const ScanOptions& options) {
  if (auto s = validateBaselineFor(policy, baseline, ""); !s.ok()) return s.error();
  CheckReport report;
  report.policy = policy.name;
  report.policyFile = policy.file;
  report.root = root.rootPath();
  report.host = observedHostName(root);

  const HostFacts facts = loadHostFacts(root);
  const policy::FileRuleIndex index(policy.files);
  CompareSink sink(baseline, facts.identities);
  FileScanner scanner(root, index, options);
  const auto rules = fileRules(policy, false);
  scanner.scan(rules, sink);
  for (const FileRule* rule : rules)
    sink.reportUnseen(*rule, index);
  sink.reportListingErrors();
  report.drift = sink.takeDrift();
  report.checked += sink.checked();
  report.warnings = sink.notDescendedWarnings();

  checkOtherKinds(policy, root, facts, report);

  if (baseline != nullptr) {
    if (const size_t stale = countStaleEntries(*baseline, index); stale > 0) {
      report.warnings.push_back(
          std::to_string(stale) +
          " baseline entries are not covered by any baseline rule of the policy "
          "(left from an earlier policy?); record the baseline again to drop them");
    }
  }
  std::sort(report.drift.begin(), report.drift.end(),
            [](const DriftItem& a, const DriftItem& b) { return a.id < b.id; });
  return report;
}

Result<RecordedBaseline> recordBaseline(const policy::Policy& policy, const RootFs& root,
                                        const ScanOptions& options) {
  const auto rules = fileRules(policy, true);
  if (rules.empty()) {
    return makeError(ErrorCode::kInvalidInput,
                     "no rule of this policy takes values from a baseline (every file rule sets "
                     "explicit values), so there is nothing to record",
                     policy.file);
  }
  const policy::FileRuleIndex index(policy.files);
  RecordSink sink;
  FileScanner scanner(root, index, options);
  scanner.scan(rules, sink);
  if (!sink.problems_.empty()) {
    std::sort(sink.problems_.begin(), sink.problems_.end());
    std::string message = std::to_string(sink.problems_.size()) +
                          " entries could not be read, so the baseline would have holes; run as a "
                          "user that can read them, or `ignore` them in the policy. First ones:";
    for (size_t i = 0; i < std::min<size_t>(5, sink.problems_.size()); ++i) {
      message += "\n  " + sink.problems_[i];
    }
    return makeError(ErrorCode::kPermission, message);
  }
  RecordedBaseline result;
  Baseline& b = result.baseline;
  b.policy = policy.name;
  b.recordedAt = formatUtc(std::chrono::system_clock::now());
  b.recordedBy = currentUser();
  b.recordedOn = observedHostName(root).value_or("");
  b.entries = std::move(sink.entries_);
  b.sortEntries();
  result.warnings = std::move(sink.warnings_);
  std::sort(result.warnings.begin(), result.warnings.end());
  return result;
}

Result<AcceptOutcome> acceptIntoBaseline(const policy::Policy& policy, Baseline& baseline,
                                         const RootFs& root, const ScanOptions& options,
                                         const std::vector<ResourceId>& resources, bool all,
                                         baseline::AcceptRecord record) {
  const HostFacts facts = loadHostFacts(root);
  const policy::FileRuleIndex index(policy.files);
  FileScanner scanner(root, index, options);

  std::vector<ResourceId> targets = resources;
  if (all) {
    auto report = runCheck(policy, &baseline, root, options);
    if (!report.ok()) return report.error();
    for (const DriftItem& item : report->drift) {
      if (item.id.kind != ResourceKind::kFile) continue;
      const FileRule* owner = index.ownerOf(item.id.name, false);
      if (owner == nullptr) owner = index.ownerOf(item.id.name, true);
      if (owner != nullptr && owner->usesBaseline()) targets.push_back(item.id);
    }
  }
  std::sort(targets.begin(), targets.end());
  targets.erase(std::unique(targets.begin(), targets.end()), targets.end());

  AcceptOutcome outcome;
  for (const ResourceId& id : targets) {
    const std::string shown = id.str();
    if (id.kind != ResourceKind::kFile) {
      return makeError(
          ErrorCode::kInvalidInput,
          std::string(model::kindName(id.kind)) +
              " values are set in the policy, not taken from a baseline: edit the policy instead",
          shown);
    }
    auto normalized = normalizeAbsolutePath(id.name);
    if (!normalized.ok() || *normalized != id.name) {
      return makeError(ErrorCode::kInvalidInput,
                       "write the path absolute and plain, as the check prints it", shown);
    }
    const FileRule* rule = index.ownerOf(id.name, false);
    if (rule == nullptr) rule = index.ownerOf(id.name, true);
    if (rule == nullptr) {
      return makeError(
          ErrorCode::kInvalidInput,
          "no file rule of policy '" + policy.name + "' covers it (or its rule ignores it)", shown);
    }
    if (!rule->usesBaseline()) {
      return makeError(
          ErrorCode::kInvalidInput,
          "its rule at " + rule->where.str() +
              " sets explicit values, which live in the policy: edit the policy instead",
          shown);
    }
    FileObservation obs = scanner.observe(id.name, *rule);
    const bool isDir = obs.presence == Presence::kPresent && obs.attrs.type == FileType::kDir;
    if (index.ownerOf(id.name, isDir) != rule) {
      return makeError(ErrorCode::kInvalidInput, "its rule " + rule->where.str() + " ignores it",
                       shown);
    }
    if (auto why = unrecordable(obs, *rule); !why.empty()) {
      return makeError(ErrorCode::kPermission, "cannot observe it to accept it: " + why, shown);
    }
    const BaselineEntry* old = baseline.find(id.name);
    bool changed = false;
    if (obs.presence == Presence::kAbsent) {
      changed = baseline.erase(id.name);
    } else {
      BaselineEntry entry = entryFor(obs, *rule);
      changed = old == nullptr || !sameEntry(*old, entry);
      if (changed) baseline.upsert(std::move(entry));
    }
    (changed ? outcome.changed : outcome.unchanged).push_back(shown);
    // Only real changes go on the record: it is an audit trail.
    if (changed) record.resources.push_back(id);
    // What still drifts is set explicitly by the policy; accept cannot take it.
    if (auto rest = compare::compareFile(*rule, baseline.find(id.name), obs, facts.identities)) {
      std::string attrs;
      for (const auto& a : rest->attributes)
        attrs += (attrs.empty() ? "" : ", ") + std::string(model::attrName(a.attr));
      outcome.notes.push_back(shown + " still drifts on " + attrs + ": the policy sets it at " +
                              rule->where.str());
    }
  }
  if (record.resources.empty()) return outcome;
  if (baseline.policy.empty()) baseline.policy = policy.name;
  baseline.accepts.push_back(std::move(record));
  return outcome;
}

}  // namespace driftwatch::agent
