// `driftwatch-aggregator drift list`, `accept` and `waive`: the drift items the drift engine
// keeps, read back, and the decisions people take on them.

#include <algorithm>
#include <iostream>

#include "aggregator/alert/alert_queue.h"
#include "aggregator/audit/audit_log.h"
#include "aggregator/cli/admin_support.h"
#include "aggregator/cli/commands.h"
#include "aggregator/drift/drift_decisions.h"
#include "aggregator/drift/drift_engine.h"
#include "common/base/escape.h"
#include "common/base/time.h"
#include "common/base/units.h"
#include "common/model/resource.h"

namespace driftwatch::aggregator {
namespace {

// "mode 0644->0600, sha256 ab12..->-"; values shortened so that a row fits a terminal.
std::string attributesText(const Json& d) {
  const auto value = [](const Json& v) {
    if (!v.is_string()) return std::string("-");
    const std::string safe = displaySafe(v.get<std::string>());
    return safe.size() > 16 ? safe.substr(0, 12) + "..." : safe;
  };
  std::string out;
  if (const auto it = d.find("attributes"); it != d.end() && it->is_array()) {
    for (const auto& a : *it) {
      out += (out.empty() ? "" : ", ") + textOf(a, "name") + " " +
             value(a.value("desired", Json())) + "->" + value(a.value("actual", Json()));
    }
  }
  if (d.value("error", Json()).is_string()) out += (out.empty() ? "" : ", ") + std::string("error");
  return out.empty() ? "-" : out;
}

}  // namespace

int runDriftList(const DriftArgs& args) {
  DriftQuery query;
  query.host = args.host;
  query.status = args.status;
  query.severity = args.severity;
  query.direction = args.direction;
  query.creep = args.creep;
  query.recurring = args.recurring;
  if (!args.label.empty()) {
    auto label = parseLabelFilter(args.label, FieldNames::kFlags);
    if (!label.ok()) return fail(label.error());
    query.label = std::move(*label);
  }
  if (!args.minAge.empty()) {
    query.minAge = parseDuration(args.minAge);
    if (!query.minAge)
      return fail("--min-age " + escapeBytes(args.minAge) + ": not a duration (like 30m, 12h, 7d)");
  }
  if (auto s = checkDriftQuery(query, FieldNames::kFlags); !s.ok()) return fail(s.error());
  auto opened = openReader(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto items = opened->reader->drift(query);
  if (!items.ok()) return fail(items.error());
  if (args.common.format == "json") {
    printJson(*items);
    return kExitOk;
  }
  if (items->empty()) {
    std::cout << (args.status == "open" ? "no open drift" : "no drift items") << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"HOST", "RESOURCE", "STATUS", "DIRECTION",
                                                 "SEVERITY", "POLICY", "ATTRIBUTES", "FIRST SEEN",
                                                 "FLAGS"}};
  for (const auto& d : *items) {
    std::string shownFlags = d.value("creep", false) ? "creep" : "";
    if (d.value("recurring", false))
      shownFlags += (shownFlags.empty() ? "" : ",") + std::string("recurring");
    std::string status = textOf(d, "status");
    const Json decision = d.value("decision", Json());
    if (textOf(d, "status") == kDriftWaived && decision.is_object() &&
        decision.value("until", Json()).is_string())
      status += " until " + decision["until"].get<std::string>();
    rows.push_back({textOf(d, "host"), displaySafe(textOf(d, "resource")), status,
                    textOf(d, "direction"), textOf(d, "severity"),
                    textOf(d, "policy") + " v" + d.value("policy_version", Json(0)).dump(),
                    attributesText(d), textOf(d, "first_seen"),
                    shownFlags.empty() ? "-" : shownFlags});
  }
  printTable(rows);
  return kExitOk;
}

namespace {

// What accept and waive share: checks, the decision in one transaction with its audit record,
// and the item as stored afterwards.
int decide(const DecisionArgs& args, std::string_view verb, std::optional<int64_t> until,
           Result<DriftRecord> (*apply)(const FleetStore&, const DriftDecision&)) {
  auto resource = resourceArgument(args.resource);
  if (!resource.ok()) return fail(resource.error());
  auto config = loadConfig(args.common);
  if (!config.ok()) return fail(config.error());
  auto store = openExisting(*config);
  if (!store.ok()) return fail(store.error());
  auto host = findHost(*store, args.host);
  if (!host.ok()) return fail(host.error());
  DriftDecision decision{host->id, *resource, args.reason, args.by.empty() ? whoAmI() : args.by,
                         nowMs(),  until};
  auto tx = store->begin();
  if (!tx.ok()) return fail(tx.error());
  auto decided = apply(*store, decision);
  if (!decided.ok()) return fail(decided.error());
  // A decided item alerts no more: its alert resolves with the decision (and a firing one is
  // announced as resolved). When the decision ends (the host moves on, the waiver expires) the
  // drift alerts again.
  AlertQueue alerts(*store, config->alerts.settle);
  if (auto s = alerts.resolved(host->id, *resource, decision.at); !s.ok()) return fail(s.error());
  auto audit = AuditLog::open(*store, config->auditLog);
  if (!audit.ok()) return fail(audit.error());
  std::string detail = std::string(verb) + " " + *resource + " by " + decision.by;
  if (until) detail += " until " + utcMs(*until);
  audit->record(std::string("drift_") + std::string(verb == "accept" ? "accepted" : "waived"),
                host->id, "admin", detail + ": " + displaySafe(args.reason));
  if (auto s = tx->commit(); !s.ok()) return fail(s.error());
  if (args.common.format == "json") {
    printJson(driftJson(*decided, driftFlags(*decided, flagRulesOf(*config), decision.at)));
    return kExitOk;
  }
  std::cout << decided->status << ": " << displaySafe(*resource) << " on " << host->id;
  if (until) std::cout << " until " << utcMs(*until);
  std::cout << " (" << displaySafe(args.reason) << ")\n";
  return kExitOk;
}

}  // namespace

int runAccept(const DecisionArgs& args) {
  if (auto s = checkFormat(args.common); !s.ok()) return fail(s.error());
  return decide(args, "accept", std::nullopt, acceptDrift);
}

int runWaive(const DecisionArgs& args) {
  if (auto s = checkFormat(args.common); !s.ok()) return fail(s.error());
  if (args.until.empty() == args.forDuration.empty())
    return fail(
        "give exactly one expiry for the waiver: --until DATE (like 2026-12-31) or --for DURATION "
        "(like 30d)");
  std::optional<int64_t> until;
  if (!args.until.empty()) {
    until = parseUtc(args.until);
    if (!until)
      return fail("--until " + displaySafe(args.until) +
                  ": not a UTC date (2026-12-31) or time (2026-12-31T18:00:00Z)");
    if (*until <= nowMs()) return fail("--until " + displaySafe(args.until) + ": is in the past");
  } else {
    const auto d = parseDuration(args.forDuration);
    if (!d || d->count() < 1000)
      return fail("--for " + displaySafe(args.forDuration) +
                  ": not a duration of at least 1s (like 12h, 30d)");
    until = nowMs() + d->count();
  }
  return decide(args, "waive", until, waiveDrift);
}

}  // namespace driftwatch::aggregator
