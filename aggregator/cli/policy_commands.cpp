// `driftwatch-aggregator policy ...`: the fleet's desired state, applied and read back.

#include <cstdlib>
#include <iostream>

#include <nlohmann/json.hpp>
#include <pwd.h>
#include <unistd.h>

#include "aggregator/alert/alert_queue.h"
#include "aggregator/audit/audit_log.h"
#include "aggregator/cli/admin_support.h"
#include "aggregator/cli/commands.h"
#include "aggregator/policy/line_diff.h"
#include "aggregator/policy/policy_apply.h"
#include "aggregator/policy/policy_lint.h"
#include "aggregator/policy/policy_source.h"
#include "common/base/escape.h"
#include "common/policy/policy.h"

namespace driftwatch::aggregator {
namespace {

using json = nlohmann::ordered_json;

struct Opened {
  AggregatorConfig config;
  FleetStore store;
};

Result<Opened> openStore(const CommonArgs& args) {
  if (auto s = checkFormat(args); !s.ok()) return s.error();
  auto config = loadConfig(args);
  if (!config.ok()) return config.error();
  auto store = openExisting(*config);
  if (!store.ok()) return store.error();
  return Opened{std::move(*config), std::move(*store)};
}

Result<std::vector<PolicyVersion>> historyOf(const FleetStore& store, const std::string& name) {
  auto versions = store.policyHistory(name);
  if (!versions.ok()) return versions.error();
  if (versions->empty()) {
    return makeError(ErrorCode::kNotFound,
                     "no such policy (see `driftwatch-aggregator policy list`)", name);
  }
  return versions;
}

const PolicyVersion* findVersion(const std::vector<PolicyVersion>& versions, long long v) {
  for (const auto& p : versions) {
    if (p.version == v) return &p;
  }
  return nullptr;
}

// "f67bd3a47473", "f67bd3a47473+dirty", "-"
std::string shortCommit(const std::string& commit) {
  if (commit.empty()) return "-";
  return commit.substr(0, 12) + (commit.ends_with("+dirty") ? "+dirty" : "");
}

std::string selectorOf(const PolicyVersion& v) {
  auto parsed = policy::parsePolicy(v.text, v.source);
  return parsed.ok() ? model::labelsText(parsed->selector) : "?";
}

json versionJson(const PolicyVersion& v) {
  auto parsed = policy::parsePolicy(v.text, v.source);
  return json{{"name", v.name},
              {"version", v.version},
              {"selector", parsed.ok() ? json(parsed->selector) : json(nullptr)},
              {"applied_by", v.appliedBy},
              {"applied_at", utc(v.appliedAt)},
              {"message", v.message},
              {"git_commit", v.gitCommit},
              {"source", v.source},
              {"baseline", v.baseline.has_value()},
              {"sha256", v.sha256},
              {"removed", v.removed}};
}

}  // namespace

int runPolicyApply(const PolicyArgs& args) {
  auto opened = openStore(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto sources = readPolicySources(args.paths);
  if (!sources.ok()) return fail(sources.error());
  auto audit = AuditLog::open(opened->store, opened->config.auditLog);
  if (!audit.ok()) return fail(audit.error());
  ApplyRequest request;
  request.policies = std::move(*sources);
  request.appliedBy = whoAmI();
  request.message = args.message;
  request.now = nowSeconds();
  // Drift the new versions open queues alerts in the same transaction; a serving aggregator's
  // dispatcher picks them up.
  AlertQueue alerts(opened->store, opened->config.alerts.settle);
  request.driftListener = &alerts;
  auto outcome = applyPolicies(opened->store, *audit, request);
  if (!outcome.ok()) return fail(outcome.error());
  if (args.common.format == "json") {
    json out = json::array();
    for (const auto& o : *outcome)
      out.push_back({{"name", o.name}, {"version", o.version}, {"changed", o.changed}});
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  for (const auto& o : *outcome) {
    std::cout << o.name << ": "
              << (o.changed ? "version " + std::to_string(o.version) + " applied"
                            : "unchanged (version " + std::to_string(o.version) + ")")
              << "\n";
  }
  return kExitOk;
}

int runPolicyRemove(const PolicyArgs& args) {
  auto opened = openStore(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto audit = AuditLog::open(opened->store, opened->config.auditLog);
  if (!audit.ok()) return fail(audit.error());
  // The drift a removed policy found resolves, and so do its alerts, in the same transaction.
  AlertQueue alerts(opened->store, opened->config.alerts.settle);
  auto outcome = removePolicies(opened->store, *audit, args.names, whoAmI(), args.message,
                                nowSeconds(), &alerts);
  if (!outcome.ok()) return fail(outcome.error());
  if (args.common.format == "json") {
    json out = json::array();
    for (const auto& o : *outcome)
      out.push_back({{"name", o.name}, {"version", o.version}, {"removed", true}});
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  for (const auto& o : *outcome)
    std::cout << o.name << ": removed (version " << o.version << ")\n";
  return kExitOk;
}

int runPolicyList(const CommonArgs& args) {
  auto opened = openStore(args);
  if (!opened.ok()) return fail(opened.error());
  auto latest = opened->store.latestPolicies();
  if (!latest.ok()) return fail(latest.error());
  std::erase_if(*latest, [](const PolicyVersion& v) { return v.removed; });
  if (args.format == "json") {
    json out = json::array();
    for (const auto& v : *latest)
      out.push_back(versionJson(v));
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  if (latest->empty()) {
    std::cout << "no fleet policies yet: apply one with `driftwatch-aggregator policy apply "
                 "FILE.yaml`\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"POLICY", "VERSION", "SELECTOR", "APPLIED", "BY", "COMMIT"}};
  for (const auto& v : *latest) {
    rows.push_back({v.name, std::to_string(v.version), selectorOf(v), utc(v.appliedAt), v.appliedBy,
                    shortCommit(v.gitCommit)});
  }
  printTable(rows);
  return kExitOk;
}

int runPolicyShow(const PolicyArgs& args) {
  auto opened = openStore(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto versions = historyOf(opened->store, args.name);
  if (!versions.ok()) return fail(versions.error());
  const PolicyVersion* v =
      args.version == 0 ? &versions->back() : findVersion(*versions, args.version);
  if (v == nullptr) {
    return fail(args.name + ": no version " + std::to_string(args.version) + " (1 to " +
                std::to_string(versions->back().version) + ")");
  }
  if (v->removed) {
    return fail(args.name + ": version " + std::to_string(v->version) + " removed the policy (by " +
                v->appliedBy + ", " + utc(v->appliedAt) +
                "); name an earlier one with --version (see policy history " + args.name + ")");
  }
  if (args.common.format == "json") {
    json out = versionJson(*v);
    out["text"] = safeLines(v->text);
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  // The policy as applied, byte for byte: it can be saved and applied again.
  std::cout << v->text;
  if (!v->text.empty() && v->text.back() != '\n') std::cout << "\n";
  return kExitOk;
}

int runPolicyHistory(const PolicyArgs& args) {
  auto opened = openStore(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto versions = historyOf(opened->store, args.name);
  if (!versions.ok()) return fail(versions.error());
  if (args.common.format == "json") {
    json out = json::array();
    for (const auto& v : *versions)
      out.push_back(versionJson(v));
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"VERSION", "APPLIED", "BY", "COMMIT", "MESSAGE"}};
  for (const auto& v : *versions) {
    std::string message = v.message.empty() ? "-" : displaySafe(v.message);
    if (v.removed) message = "(removed) " + message;
    rows.push_back({std::to_string(v.version), utc(v.appliedAt), v.appliedBy,
                    shortCommit(v.gitCommit), message});
  }
  printTable(rows);
  return kExitOk;
}

int runPolicyDiff(const PolicyArgs& args) {
  auto opened = openStore(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto versions = historyOf(opened->store, args.name);
  if (!versions.ok()) return fail(versions.error());
  const long long to = args.to == 0 ? versions->back().version : args.to;
  const long long from = args.from == 0 ? to - 1 : args.from;
  const PolicyVersion* a = findVersion(*versions, from);
  const PolicyVersion* b = findVersion(*versions, to);
  if (a == nullptr || b == nullptr) {
    return fail(args.name + ": versions " + std::to_string(from) + " and " + std::to_string(to) +
                " are not both there (1 to " + std::to_string(versions->back().version) +
                "; a policy's first version has nothing before it)");
  }
  auto diff = lineDiff(a->text, b->text);
  if (!diff) return fail(args.name + ": too large to compare line by line; use `policy show`");
  std::string baselineNote;
  if (a->baseline != b->baseline) baselineNote = "the baseline changed too\n";
  if (args.common.format == "json") {
    std::cout << json{{"name", args.name},
                      {"from", from},
                      {"to", to},
                      {"diff", safeLines(*diff)},
                      {"baseline_changed", a->baseline != b->baseline}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  std::cout << "--- " << args.name << " version " << from << "\n+++ " << args.name << " version "
            << to << "\n"
            << (diff->empty() ? "(the policy text is the same)\n" : safeLines(*diff))
            << baselineNote;
  return kExitOk;
}

int runPolicyLint(const PolicyArgs& args) {
  if (auto s = checkFormat(args.common); !s.ok()) return fail(s.error());
  auto sources = readPolicySources(args.paths);
  if (!sources.ok()) return fail(sources.error());
  LintOptions options;
  options.root = args.root;
  std::vector<LintWarning> warnings;
  for (const auto& src : *sources) {
    auto parsed = policy::parsePolicy(src.text, src.path);
    if (!parsed.ok()) return fail(parsed.error());
    for (auto& w : lintPolicy(*parsed, options))
      warnings.push_back(std::move(w));
  }
  if (args.common.format == "json") {
    json out = json::array();
    for (const auto& w : warnings) {
      out.push_back({{"file", w.where.file},
                     {"line", w.where.line},
                     {"column", w.where.column},
                     {"field", w.where.field},
                     {"policy", w.where.policy},
                     {"message", w.message}});
    }
    std::cout << out.dump(2) << "\n";
  } else {
    for (const auto& w : warnings)
      std::cout << "warning: " << safeLines(w.str()) << "\n";
    if (warnings.empty()) std::cout << "no warnings\n";
  }
  return warnings.empty() ? kExitOk : kExitWarnings;
}

}  // namespace driftwatch::aggregator
