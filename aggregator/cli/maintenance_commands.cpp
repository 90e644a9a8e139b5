// `driftwatch-aggregator maintenance add|list|end`: declared windows that hold alerts.

#include <iostream>

#include <nlohmann/json.hpp>

#include "aggregator/audit/audit_log.h"
#include "aggregator/cli/admin_support.h"
#include "aggregator/cli/commands.h"
#include "aggregator/enroll/tokens.h"
#include "aggregator/maintenance/maintenance_windows.h"
#include "common/base/escape.h"
#include "common/base/time.h"
#include "common/base/units.h"
#include "common/model/labels.h"

namespace driftwatch::aggregator {
namespace {

using json = nlohmann::ordered_json;

json windowJson(const MaintenanceWindow& w, int64_t now) {
  return json{{"id", w.id},
              {"selector", w.selector},
              {"starts_at", utcMs(w.startsAt)},
              {"ends_at", utcMs(w.endsAt)},
              {"active", w.startsAt <= now && now < w.endsAt},
              {"reason", w.reason},
              {"created_by", w.createdBy},
              {"created_at", utcMs(w.createdAt)}};
}

// A time given as a UTC date or time; the error names the flag.
Result<int64_t> timeArgument(const std::string& flag, const std::string& text) {
  if (const auto t = parseUtc(text)) return *t;
  return makeError(ErrorCode::kInvalidInput,
                   "not a UTC date (2026-12-31) or time (2026-12-31T22:00:00Z)",
                   flag + " " + displaySafe(text));
}

}  // namespace

int runMaintenanceAdd(const MaintenanceArgs& args) {
  if (auto s = checkFormat(args.common); !s.ok()) return fail(s.error());
  auto selector = parseLabels(args.selector, "--selector");
  if (!selector.ok()) return fail(selector.error());
  const int64_t now = nowMs();
  MaintenanceWindow w;
  w.selector = *selector;
  w.startsAt = now;
  if (!args.start.empty()) {
    auto start = timeArgument("--start", args.start);
    if (!start.ok()) return fail(start.error());
    w.startsAt = *start;
  }
  if (args.end.empty() == args.forDuration.empty())
    return fail("give exactly one end for the window: --end TIME or --for DURATION (like 2h)");
  if (!args.end.empty()) {
    auto end = timeArgument("--end", args.end);
    if (!end.ok()) return fail(end.error());
    w.endsAt = *end;
  } else {
    const auto d = parseDuration(args.forDuration);
    if (!d || d->count() < 1000)
      return fail("--for " + displaySafe(args.forDuration) +
                  ": not a duration of at least 1s (like 30m, 2h)");
    w.endsAt = w.startsAt + d->count();
  }
  w.reason = args.reason;
  w.createdBy = args.by.empty() ? whoAmI() : args.by;
  w.createdAt = now;

  if (w.endsAt <= w.startsAt)
    return fail(args.end.empty() ? "--for must be longer than 0"
                                 : "--end " + displaySafe(args.end) + ": must come after --start");
  if (w.endsAt <= now) return fail("--end " + displaySafe(args.end) + ": is in the past");

  auto config = loadConfig(args.common);
  if (!config.ok()) return fail(config.error());
  auto store = openExisting(*config);
  if (!store.ok()) return fail(store.error());
  auto audit = AuditLog::open(*store, config->auditLog);
  if (!audit.ok()) return fail(audit.error());
  auto tx = store->begin();
  if (!tx.ok()) return fail(tx.error());
  auto added = MaintenanceWindows(*store).add(w, now);
  if (!added.ok()) return fail(added.error());
  audit->record("maintenance_added", "", "admin",
                "window " + std::to_string(added->id) + " for " +
                    model::labelsText(added->selector) + " from " + utcMs(added->startsAt) +
                    " to " + utcMs(added->endsAt) + " by " + displaySafe(added->createdBy) + ": " +
                    displaySafe(added->reason));
  if (auto s = tx->commit(); !s.ok()) return fail(s.error());
  if (args.common.format == "json") {
    std::cout << windowJson(*added, now).dump(2) << "\n";
    return kExitOk;
  }
  std::cout << "maintenance window " << added->id << " for "
            << (added->selector.empty() ? "every host" : model::labelsText(added->selector))
            << " from " << utcMs(added->startsAt) << " to " << utcMs(added->endsAt) << "\n";
  return kExitOk;
}

int runMaintenanceList(const MaintenanceArgs& args) {
  if (auto s = checkFormat(args.common); !s.ok()) return fail(s.error());
  auto config = loadConfig(args.common);
  if (!config.ok()) return fail(config.error());
  auto store = openExisting(*config);
  if (!store.ok()) return fail(store.error());
  const int64_t now = nowMs();
  auto windows = MaintenanceWindows(*store).list(now, args.all);
  if (!windows.ok()) return fail(windows.error());
  if (args.common.format == "json") {
    json out = json::array();
    for (const auto& w : *windows)
      out.push_back(windowJson(w, now));
    std::cout << out.dump(2) << "\n";
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
    const std::string state = now < w.startsAt ? "upcoming" : now < w.endsAt ? "active" : "over";
    rows.push_back({std::to_string(w.id), model::labelsText(w.selector), utcMs(w.startsAt),
                    utcMs(w.endsAt), state, displaySafe(w.createdBy), displaySafe(w.reason)});
  }
  printTable(rows);
  return kExitOk;
}

int runMaintenanceEnd(const MaintenanceArgs& args) {
  auto config = loadConfig(args.common);
  if (!config.ok()) return fail(config.error());
  auto store = openExisting(*config);
  if (!store.ok()) return fail(store.error());
  auto audit = AuditLog::open(*store, config->auditLog);
  if (!audit.ok()) return fail(audit.error());
  auto tx = store->begin();
  if (!tx.ok()) return fail(tx.error());
  auto ended = MaintenanceWindows(*store).end(args.id, nowMs());
  if (!ended.ok()) return fail(ended.error());
  if (!*ended)
    return fail("no current or upcoming maintenance window " + std::to_string(args.id) +
                " (see `driftwatch-aggregator maintenance list`)");
  audit->record("maintenance_ended", "", "admin",
                "window " + std::to_string(args.id) + " by " +
                    (args.by.empty() ? whoAmI() : displaySafe(args.by)));
  if (auto s = tx->commit(); !s.ok()) return fail(s.error());
  std::cout << "maintenance window " << args.id << " ended\n";
  return kExitOk;
}

}  // namespace driftwatch::aggregator
