// `driftwatch-aggregator alerts ...`: the alert queue and its deliveries, read back, and the two
// things an operator does to them: acknowledge an alert, send a dead delivery again. Locally or
// through a remote aggregator's admin API (--server), with the same output.

#include <iostream>

#include "aggregator/cli/admin_support.h"
#include "aggregator/cli/commands.h"
#include "common/base/escape.h"

namespace driftwatch::aggregator {
namespace {

std::string shortened(const std::string& text, size_t max) {
  const std::string safe = displaySafe(text);
  return safe.size() > max ? safe.substr(0, max - 3) + "..." : safe;
}

std::string orDash(const std::string& text) {
  return text.empty() ? "-" : text;
}

}  // namespace

int runAlertsList(const AlertArgs& args) {
  AlertQuery query;
  if (!args.status.empty()) query.status = args.status;
  query.host = args.host;
  query.limit = args.limit;
  if (auto s = checkAlertQuery(query, FieldNames::kFlags); !s.ok()) return fail(s.error());
  if (query.limit < 1 || query.limit > 1'000'000) return fail("--limit: give 1 to 1000000");
  auto opened = openReader(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto shown = opened->reader->alerts(query);
  if (!shown.ok()) return fail(shown.error());
  if (args.common.format == "json") {
    printJson(*shown);
    return kExitOk;
  }
  if (shown->empty()) {
    std::cout << (query.status == "unresolved" ? "no unresolved alerts" : "no alerts") << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "STATUS", "SEVERITY", "HOST", "SUMMARY", "CREATED", "FIRED", "ACKED BY"}};
  for (const auto& a : *shown) {
    rows.push_back({a.value("id", Json(0)).dump(), textOf(a, "status"), textOf(a, "severity"),
                    textOf(a, "host"), shortened(textOf(a, "summary"), 60), textOf(a, "created_at"),
                    orDash(textOf(a, "fired_at")), orDash(displaySafe(textOf(a, "acked_by")))});
  }
  printTable(rows);
  return kExitOk;
}

int runAlertsAck(const AlertArgs& args) {
  const std::string by = args.by.empty() ? whoAmI() : args.by;
  if (auto s = checkRecordText(by, "by", 128, FieldNames::kFlags); !s.ok()) return fail(s.error());
  auto opened = openActions(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto acked = opened->actions->acknowledge(args.id, by);
  if (!acked.ok()) return fail(acked.error());
  if (args.common.format == "json") {
    printJson(*acked);
    return kExitOk;
  }
  std::cout << "alert " << args.id << " acknowledged by " << displaySafe(textOf(*acked, "acked_by"))
            << "\n";
  return kExitOk;
}

int runAlertsDeliveries(const AlertArgs& args) {
  if (auto s = checkDeliveryStatus(args.status, FieldNames::kFlags); !s.ok())
    return fail(s.error());
  auto opened = openReader(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto found = opened->reader->deliveries(args.status);
  if (!found.ok()) return fail(found.error());
  if (args.common.format == "json") {
    printJson(*found);
    return kExitOk;
  }
  if (found->empty()) {
    std::cout << (args.status == "all" ? "no deliveries" : "no " + args.status + " deliveries")
              << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "STATUS", "RECEIVER", "HOST", "EVENT", "ATTEMPTS", "NEXT ATTEMPT", "LAST ERROR"}};
  for (const auto& d : *found) {
    rows.push_back({d.value("id", Json(0)).dump(), textOf(d, "status"), textOf(d, "receiver"),
                    textOf(d, "host"), textOf(d, "event"), d.value("attempts", Json(0)).dump(),
                    orDash(textOf(d, "next_attempt_at")),
                    orDash(shortened(textOf(d, "last_error"), 70))});
  }
  printTable(rows);
  return kExitOk;
}

int runAlertsRetry(const AlertArgs& args) {
  auto opened = openActions(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto revived = opened->actions->retryDelivery(args.id, whoAmI());
  if (!revived.ok()) return fail(revived.error());
  if (args.common.format == "json") {
    printJson(*revived);
    return kExitOk;
  }
  std::cout << "delivery " << args.id
            << " is pending again; a serving aggregator sends it within a second\n";
  return kExitOk;
}

}  // namespace driftwatch::aggregator
