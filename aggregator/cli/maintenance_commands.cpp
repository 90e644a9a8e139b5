// `driftwatch-aggregator maintenance add|list|end`: declared windows that hold alerts, locally
// or through a remote aggregator's admin API (--server).

#include <iostream>

#include "aggregator/cli/admin_support.h"
#include "aggregator/cli/commands.h"
#include "common/base/escape.h"
#include "common/model/labels.h"

namespace driftwatch::aggregator {

int runMaintenanceAdd(const MaintenanceArgs& args) {
  if (auto s = checkFormat(args.common); !s.ok()) return fail(s.error());
  const MaintenanceRequest request{.selector = args.selector,
                                   .start = args.start,
                                   .end = args.end,
                                   .forDuration = args.forDuration,
                                   .reason = args.reason,
                                   .by = args.by.empty() ? whoAmI() : args.by};
  // Checked here first so that errors name the flags in either mode; a remote aggregator reads
  // "now" and the duration on its own clock.
  if (auto w = maintenanceWindowOf(request, nowMs(), FieldNames::kFlags); !w.ok())
    return fail(w.error());
  auto opened = openActions(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto added = opened->actions->addMaintenance(request);
  if (!added.ok()) return fail(added.error());
  if (args.common.format == "json") {
    printJson(*added);
    return kExitOk;
  }
  const model::Labels selector = labelsOf(*added, "selector");
  std::cout << "maintenance window " << added->value("id", Json(0)).dump() << " for "
            << (selector.empty() ? "every host" : model::labelsText(selector)) << " from "
            << textOf(*added, "starts_at") << " to " << textOf(*added, "ends_at") << "\n";
  return kExitOk;
}

int runMaintenanceList(const MaintenanceArgs& args) {
  auto opened = openReader(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto windows = opened->reader->maintenance(args.all);
  if (!windows.ok()) return fail(windows.error());
  if (args.common.format == "json") {
    printJson(*windows);
    return kExitOk;
  }
  if (windows->empty()) {
    std::cout << (args.all ? "no maintenance windows"
                           : "no current or upcoming maintenance windows")
              << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "HOSTS", "STARTS", "ENDS", "STATE", "BY", "REASON"}};
  for (const auto& w : *windows) {
    // The state as the aggregator's clock sees it.
    rows.push_back({w.value("id", Json(0)).dump(), model::labelsText(labelsOf(w, "selector")),
                    textOf(w, "starts_at"), textOf(w, "ends_at"), textOf(w, "state"),
                    displaySafe(textOf(w, "created_by")), displaySafe(textOf(w, "reason"))});
  }
  printTable(rows);
  return kExitOk;
}

int runMaintenanceEnd(const MaintenanceArgs& args) {
  const std::string by = args.by.empty() ? whoAmI() : args.by;
  if (auto s = checkRecordText(by, "by", 128, FieldNames::kFlags); !s.ok()) return fail(s.error());
  auto opened = openActions(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto ended = opened->actions->endMaintenance(args.id, by);
  if (!ended.ok()) return fail(ended.error());
  std::cout << "maintenance window " << args.id << " ended\n";
  return kExitOk;
}

}  // namespace driftwatch::aggregator
