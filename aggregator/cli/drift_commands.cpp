// `driftwatch-aggregator drift ...`: the drift items the drift engine keeps, read back.

#include <iostream>

#include <nlohmann/json.hpp>

#include "aggregator/cli/admin_support.h"
#include "aggregator/cli/commands.h"
#include "aggregator/store/fleet_store.h"
#include "common/base/escape.h"
#include "common/model/resource.h"

namespace driftwatch::aggregator {
namespace {

using json = nlohmann::ordered_json;

json optionalJson(const std::optional<std::string>& v) {
  return v ? json(*v) : json(nullptr);
}

json driftJson(const DriftRecord& d) {
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
              {"resolved_at", d.resolvedAt ? json(utcMs(*d.resolvedAt)) : json(nullptr)}};
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
  if (args.status != "open" && args.status != "resolved" && args.status != "all")
    return makeError(ErrorCode::kInvalidInput, "must be open, resolved or all",
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
  auto items = store->driftItems(filter);
  if (!items.ok()) return fail(items.error());
  if (args.common.format == "json") {
    json out = json::array();
    for (const auto& d : *items)
      out.push_back(driftJson(d));
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  if (items->empty()) {
    std::cout << (args.status == "open" ? "no open drift" : "no drift items") << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"HOST", "RESOURCE", "STATUS", "DIRECTION",
                                                 "SEVERITY", "POLICY", "ATTRIBUTES", "FIRST SEEN"}};
  for (const auto& d : *items) {
    rows.push_back({d.host, displaySafe(d.resource), d.status, d.direction, d.severity,
                    d.policy + " v" + std::to_string(d.policyVersion), attributesText(d),
                    utcMs(d.firstSeen)});
  }
  printTable(rows);
  return kExitOk;
}

}  // namespace driftwatch::aggregator
