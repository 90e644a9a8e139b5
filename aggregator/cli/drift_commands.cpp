// `driftwatch-aggregator drift list`, `accept` and `waive`: the drift items the drift engine
// keeps, read back, and the decisions people take on them.

#include <algorithm>
#include <iostream>

#include <nlohmann/json.hpp>

#include "aggregator/audit/audit_log.h"
#include "aggregator/cli/admin_support.h"
#include "aggregator/cli/commands.h"
#include "aggregator/drift/drift_decisions.h"
#include "aggregator/drift/drift_engine.h"
#include "aggregator/store/fleet_store.h"
#include "common/base/escape.h"
#include "common/base/time.h"
#include "common/base/units.h"
#include "common/model/resource.h"

namespace driftwatch::aggregator {
namespace {

using json = nlohmann::ordered_json;

json optionalJson(const std::optional<std::string>& v) {
  return v ? json(*v) : json(nullptr);
}

// The flags that make anti-patterns visible: drift nobody fixes or decides (creep), and drift
// that keeps coming back after it resolved (a fix that did not remove the cause).
struct DriftFlags {
  bool creep = false;
  bool recurring = false;
};

DriftFlags flagsOf(const DriftRecord& d, const AggregatorConfig& config, int64_t now) {
  return DriftFlags{d.status == kDriftOpen && now - d.firstSeen >= config.creepAfter.count(),
                    d.reopened >= config.recurringAfter};
}

json decisionJson(const DriftRecord& d) {
  if (!d.decidedAt) return nullptr;
  return json{{"reason", d.reason},
              {"by", d.decidedBy},
              {"at", utcMs(*d.decidedAt)},
              {"until", d.waivedUntil ? json(utcMs(*d.waivedUntil)) : json(nullptr)}};
}

json driftJson(const DriftRecord& d, const DriftFlags& flags) {
  json attributes = json::array();
  for (const auto& a : d.attributes) {
    attributes.push_back({{"name", a.name},
                          {"desired", optionalJson(a.desired)},
                          {"actual", optionalJson(a.actual)}});
  }
  return json{{"host", d.host},
              {"resource", d.resource},
              {"status", d.status},
              {"direction", d.direction},
              {"severity", d.severity},
              {"drift_type", d.driftType},
              {"change", d.change},
              {"attributes", std::move(attributes)},
              {"error", d.error.empty() ? json(nullptr) : json(d.error)},
              {"policy", d.policy},
              {"policy_version", d.policyVersion},
              {"rule", d.rule},
              {"first_seen", utcMs(d.firstSeen)},
              {"last_seen", utcMs(d.lastSeen)},
              {"resolved_at", d.resolvedAt ? json(utcMs(*d.resolvedAt)) : json(nullptr)},
              {"decision", decisionJson(d)},
              {"reopened", d.reopened},
              {"creep", flags.creep},
              {"recurring", flags.recurring}};
}

// "mode 0644->0600, sha256 ab12..->-"; values shortened so that a row fits a terminal.
std::string attributesText(const DriftRecord& d) {
  const auto value = [](const std::optional<std::string>& v) {
    if (!v) return std::string("-");
    const std::string safe = displaySafe(*v);
    return safe.size() > 16 ? safe.substr(0, 12) + "..." : safe;
  };
  std::string out;
  for (const auto& a : d.attributes)
    out += (out.empty() ? "" : ", ") + a.name + " " + value(a.desired) + "->" + value(a.actual);
  if (!d.error.empty()) out += (out.empty() ? "" : ", ") + std::string("error");
  return out.empty() ? "-" : out;
}

Status checkFilter(const DriftArgs& args) {
  static constexpr std::string_view kStatuses[] = {"open",     "accepted", "waived",
                                                   "resolved", "active",   "all"};
  if (std::find(std::begin(kStatuses), std::end(kStatuses), args.status) == std::end(kStatuses))
    return makeError(ErrorCode::kInvalidInput,
                     "must be open, accepted, waived, resolved, active (all but resolved) or all",
                     "--status " + args.status);
  if (!args.severity.empty() && !model::parseSeverity(args.severity))
    return makeError(ErrorCode::kInvalidInput, "must be low, medium, high or critical",
                     "--severity " + args.severity);
  if (!args.direction.empty() && args.direction != "managed" && args.direction != "definition")
    return makeError(ErrorCode::kInvalidInput, "must be managed or definition",
                     "--direction " + args.direction);
  return {};
}

}  // namespace

int runDriftList(const DriftArgs& args) {
  if (auto s = checkFormat(args.common); !s.ok()) return fail(s.error());
  if (auto s = checkFilter(args); !s.ok()) return fail(s.error());
  auto config = loadConfig(args.common);
  if (!config.ok()) return fail(config.error());
  auto store = openExisting(*config);
  if (!store.ok()) return fail(store.error());
  DriftFilter filter;
  filter.host = args.host;
  filter.status = args.status == "all" ? "" : args.status;
  filter.severity = args.severity;
  filter.direction = args.direction;
  auto found = store->driftItems(filter);
  if (!found.ok()) return fail(found.error());
  const int64_t now = nowMs();
  std::vector<std::pair<DriftRecord, DriftFlags>> items;
  for (auto& d : *found) {
    const DriftFlags flags = flagsOf(d, *config, now);
    if ((args.creep && !flags.creep) || (args.recurring && !flags.recurring)) continue;
    items.emplace_back(std::move(d), flags);
  }
  if (args.common.format == "json") {
    json out = json::array();
    for (const auto& [d, flags] : items)
      out.push_back(driftJson(d, flags));
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  if (items.empty()) {
    std::cout << (args.status == "open" ? "no open drift" : "no drift items") << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"HOST", "RESOURCE", "STATUS", "DIRECTION",
                                                 "SEVERITY", "POLICY", "ATTRIBUTES", "FIRST SEEN",
                                                 "FLAGS"}};
  for (const auto& [d, flags] : items) {
    std::string shownFlags = flags.creep ? "creep" : "";
    if (flags.recurring) shownFlags += (shownFlags.empty() ? "" : ",") + std::string("recurring");
    std::string status = d.status;
    if (d.status == kDriftWaived && d.waivedUntil) status += " until " + utcMs(*d.waivedUntil);
    rows.push_back({d.host, displaySafe(d.resource), status, d.direction, d.severity,
                    d.policy + " v" + std::to_string(d.policyVersion), attributesText(d),
                    utcMs(d.firstSeen), shownFlags.empty() ? "-" : shownFlags});
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
  auto audit = AuditLog::open(*store, config->auditLog);
  if (!audit.ok()) return fail(audit.error());
  std::string detail = std::string(verb) + " " + *resource + " by " + decision.by;
  if (until) detail += " until " + utcMs(*until);
  audit->record(std::string("drift_") + std::string(verb == "accept" ? "accepted" : "waived"),
                host->id, "admin", detail + ": " + displaySafe(args.reason));
  if (auto s = tx->commit(); !s.ok()) return fail(s.error());
  if (args.common.format == "json") {
    std::cout << driftJson(*decided, flagsOf(*decided, *config, decision.at))
                     .dump(2, ' ', false, json::error_handler_t::replace)
              << "\n";
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
