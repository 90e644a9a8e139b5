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

// "f67bd3a47473", "f67bd3a47473+dirty", "-"
std::string shortCommit(const std::string& commit) {
  if (commit.empty()) return "-";
  return displaySafe(commit.substr(0, 12)) + (commit.ends_with("+dirty") ? "+dirty" : "");
}

}  // namespace

int runPolicyApply(const PolicyArgs& args) {
  // Read where the command runs: with --server, the files of this machine's checkout go to the
  // aggregator, with the commit they came from.
  auto sources = readPolicySources(args.paths);
  if (!sources.ok()) return fail(sources.error());
  auto opened = openActions(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto outcome = opened->actions->applyPolicies(
      PolicyUpload{.policies = std::move(*sources), .message = args.message, .by = whoAmI()});
  if (!outcome.ok()) return fail(outcome.error());
  if (args.common.format == "json") {
    printJson(*outcome);
    return kExitOk;
  }
  for (const auto& o : *outcome) {
    const std::string version = o.value("version", Json(0)).dump();
    std::cout << textOf(o, "name") << ": "
              << (o.value("changed", false) ? "version " + version + " applied"
                                            : "unchanged (version " + version + ")")
              << "\n";
  }
  return kExitOk;
}

int runPolicyRemove(const PolicyArgs& args) {
  auto opened = openActions(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto outcome = opened->actions->removePolicies(
      PolicyRemoval{.names = args.names, .message = args.message, .by = whoAmI()});
  if (!outcome.ok()) return fail(outcome.error());
  if (args.common.format == "json") {
    printJson(*outcome);
    return kExitOk;
  }
  for (const auto& o : *outcome)
    std::cout << textOf(o, "name") << ": removed (version " << o.value("version", Json(0)).dump()
              << ")\n";
  return kExitOk;
}

int runPolicyList(const CommonArgs& args) {
  auto opened = openReader(args);
  if (!opened.ok()) return fail(opened.error());
  auto latest = opened->reader->policies();
  if (!latest.ok()) return fail(latest.error());
  if (args.format == "json") {
    printJson(*latest);
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
    // A selector that no longer parses is null in the view.
    const std::string selector =
        v.value("selector", Json()).is_object() ? model::labelsText(labelsOf(v, "selector")) : "?";
    rows.push_back({textOf(v, "name"), v.value("version", Json(0)).dump(), selector,
                    textOf(v, "applied_at"), textOf(v, "applied_by"),
                    shortCommit(textOf(v, "git_commit"))});
  }
  printTable(rows);
  return kExitOk;
}

int runPolicyShow(const PolicyArgs& args) {
  auto opened = openReader(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto shown = opened->reader->policy(args.name, args.version);
  if (!shown.ok()) return fail(shown.error());
  if (args.common.format == "json") {
    printJson(*shown);
    return kExitOk;
  }
  // The policy as applied (each line made safe to show: it is the same text unless the file
  // held control bytes).
  const std::string text = textOf(*shown, "text");
  std::cout << text;
  if (!text.empty() && text.back() != '\n') std::cout << "\n";
  return kExitOk;
}

int runPolicyHistory(const PolicyArgs& args) {
  auto opened = openReader(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto versions = opened->reader->policyHistory(args.name);
  if (!versions.ok()) return fail(versions.error());
  if (args.common.format == "json") {
    printJson(*versions);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"VERSION", "APPLIED", "BY", "COMMIT", "MESSAGE"}};
  for (const auto& v : *versions) {
    std::string message = textOf(v, "message");
    message = message.empty() ? "-" : displaySafe(message);
    if (v.value("removed", false)) message = "(removed) " + message;
    rows.push_back({v.value("version", Json(0)).dump(), textOf(v, "applied_at"),
                    textOf(v, "applied_by"), shortCommit(textOf(v, "git_commit")), message});
  }
  printTable(rows);
  return kExitOk;
}

int runPolicyDiff(const PolicyArgs& args) {
  auto opened = openReader(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto diff = opened->reader->policyDiff(PolicyDiffQuery{args.name, args.from, args.to});
  if (!diff.ok()) return fail(diff.error());
  if (args.common.format == "json") {
    printJson(*diff);
    return kExitOk;
  }
  const std::string lines = textOf(*diff, "diff");
  std::cout << "--- " << args.name << " version " << diff->value("from", Json(0)).dump() << "\n+++ "
            << args.name << " version " << diff->value("to", Json(0)).dump() << "\n"
            << (lines.empty() ? "(the policy text is the same)\n" : lines)
            << (diff->value("baseline_changed", false) ? "the baseline changed too\n" : "");
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
