// `driftwatch-aggregator drift list`, `accept` and `waive`: the drift items the drift engine
// keeps, read back, and the decisions people take on them, locally or through a remote
// aggregator's admin API (--server).

#include <algorithm>
#include <iostream>

#include "aggregator/cli/admin_support.h"
#include "aggregator/cli/commands.h"
#include "aggregator/drift/drift_decisions.h"
#include "aggregator/drift/drift_engine.h"
#include "common/base/escape.h"
#include "common/base/units.h"

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

// What accept and waive share: the decision, locally (one transaction with its audit record) or
// through the admin API, and the item as stored afterwards.
int decide(const DecisionArgs& args, bool waive) {
  if (auto s = checkFormat(args.common); !s.ok()) return fail(s.error());
  DecisionRequest request{.host = args.host,
                          .resource = args.resource,
                          .reason = args.reason,
                          .by = args.by.empty() ? whoAmI() : args.by,
                          .until = args.until,
                          .forDuration = args.forDuration};
  // What can be checked here is, before any connection, so that errors name the flags in
  // either mode (a remote aggregator still reads a duration on its own clock).
  if (auto r = resourceArgument(request.resource); !r.ok()) return fail(r.error());
  if (auto c = checkRecordText(request.reason, "reason", 1024, FieldNames::kFlags); !c.ok())
    return fail(c.error());
  if (auto c = checkRecordText(request.by, "by", 128, FieldNames::kFlags); !c.ok())
    return fail(c.error());
  if (waive) {
    if (auto until = waiverExpiry(request, nowMs(), FieldNames::kFlags); !until.ok())
      return fail(until.error());
  }
  auto opened = openActions(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto decided = waive ? opened->actions->waive(request) : opened->actions->accept(request);
  if (!decided.ok()) return fail(decided.error());
  if (args.common.format == "json") {
    printJson(*decided);
    return kExitOk;
  }
  std::cout << textOf(*decided, "status") << ": " << displaySafe(textOf(*decided, "resource"))
            << " on " << textOf(*decided, "host");
  const Json decision = decided->value("decision", Json());
  if (decision.is_object()) {
    if (const std::string until = textOf(decision, "until"); !until.empty())
      std::cout << " until " << until;
    std::cout << " (" << displaySafe(textOf(decision, "reason")) << ")";
  }
  std::cout << "\n";
  return kExitOk;
}

}  // namespace

int runAccept(const DecisionArgs& args) {
  return decide(args, false);
}

int runWaive(const DecisionArgs& args) {
  return decide(args, true);
}

}  // namespace driftwatch::aggregator
