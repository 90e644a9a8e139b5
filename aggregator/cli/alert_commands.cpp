// `driftwatch-aggregator alerts ...`: the alert queue and its deliveries, read back, and the two
// things an operator does to them: acknowledge an alert, send a dead delivery again.

#include <iostream>

#include <nlohmann/json.hpp>

#include "aggregator/alert/alert_store.h"
#include "aggregator/audit/audit_log.h"
#include "aggregator/cli/admin_support.h"
#include "aggregator/cli/commands.h"
#include "aggregator/store/fleet_store.h"
#include "common/base/escape.h"

namespace driftwatch::aggregator {
namespace {

using json = nlohmann::ordered_json;

json optionalTime(const std::optional<int64_t>& ms) {
  return ms ? json(utcMs(*ms)) : json(nullptr);
}

json alertJson(const AlertRecord& a) {
  return json{{"id", a.id},
              {"kind", a.kind},
              {"status", a.status},
              {"severity", a.severity},
              {"host", a.host},
              {"resource", a.resource},
              {"policy", a.policy},
              {"rule", a.rule},
              {"summary", a.summary},
              {"created_at", utcMs(a.createdAt)},
              {"fires_at", utcMs(a.firesAt)},
              {"fired_at", optionalTime(a.firedAt)},
              {"notified", a.notified},
              {"acked_by", a.ackedBy.empty() ? json(nullptr) : json(a.ackedBy)},
              {"acked_at", optionalTime(a.ackedAt)},
              {"resolved_at", optionalTime(a.resolvedAt)}};
}

json deliveryJson(const DeliveryRecord& d) {
  return json{{"id", d.id},
              {"status", d.status},
              {"receiver", d.receiver},
              {"notification", d.notification},
              {"event", d.event},
              {"host", d.host},
              {"idempotency_key", d.idempotencyKey},
              {"attempts", d.attempts},
              {"next_attempt_at",
               d.status == kDeliveryPending ? json(utcMs(d.nextAttemptAt)) : json(nullptr)},
              {"last_attempt_at", optionalTime(d.lastAttemptAt)},
              {"last_error", d.lastError.empty() ? json(nullptr) : json(d.lastError)},
              {"delivered_at", optionalTime(d.deliveredAt)},
              {"created_at", utcMs(d.createdAt)}};
}

std::string shortened(const std::string& text, size_t max) {
  const std::string safe = displaySafe(text);
  return safe.size() > max ? safe.substr(0, max - 3) + "..." : safe;
}

}  // namespace

int runAlertsList(const AlertArgs& args) {
  if (auto s = checkFormat(args.common); !s.ok()) return fail(s.error());
  const std::string& st = args.status;
  if (!st.empty() && st != kAlertPending && st != kAlertFiring && st != kAlertAcknowledged &&
      st != kAlertResolved && st != "all")
    return fail(makeError(ErrorCode::kInvalidInput,
                          "must be pending, firing, acknowledged, resolved or all",
                          "--status " + st));
  auto config = loadConfig(args.common);
  if (!config.ok()) return fail(config.error());
  auto store = openExisting(*config);
  if (!store.ok()) return fail(store.error());
  if (!args.host.empty()) {
    if (auto h = findHost(*store, args.host); !h.ok()) return fail(h.error());
  }
  AlertStore alerts(store->database());
  AlertFilter filter;
  filter.status = st == "all" ? "" : st;
  filter.host = args.host;
  auto found = alerts.alerts(filter);
  if (!found.ok()) return fail(found.error());
  std::vector<AlertRecord> shown;
  for (auto& a : *found) {
    // By default, what still needs someone: every alert that is not resolved.
    if (st.empty() && a.status == kAlertResolved) continue;
    shown.push_back(std::move(a));
  }
  if (args.common.format == "json") {
    json out = json::array();
    for (const auto& a : shown)
      out.push_back(alertJson(a));
    printJson(out);
    return kExitOk;
  }
  if (shown.empty()) {
    std::cout << (st.empty() ? "no unresolved alerts" : "no alerts") << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "STATUS", "SEVERITY", "HOST", "SUMMARY", "CREATED", "FIRED", "ACKED BY"}};
  for (const auto& a : shown) {
    rows.push_back({std::to_string(a.id), a.status, a.severity, a.host, shortened(a.summary, 60),
                    utcMs(a.createdAt), a.firedAt ? utcMs(*a.firedAt) : "-",
                    a.ackedBy.empty() ? "-" : a.ackedBy});
  }
  printTable(rows);
  return kExitOk;
}

int runAlertsAck(const AlertArgs& args) {
  auto config = loadConfig(args.common);
  if (!config.ok()) return fail(config.error());
  auto store = openExisting(*config);
  if (!store.ok()) return fail(store.error());
  const std::string by = args.by.empty() ? whoAmI() : displaySafe(args.by);
  if (by.empty() || by.size() > 128) return fail("--by: give a name of 1 to 128 bytes");
  AlertStore alerts(store->database());
  auto acked = alerts.acknowledge(args.id, by, nowMs());
  if (!acked.ok()) return fail(acked.error());
  const std::string id = std::to_string(args.id);
  if (!*acked) {
    auto a = alerts.alert(args.id);
    if (!a.ok()) return fail(a.error());
    if (!*a) return fail("no alert " + id + " (see `driftwatch-aggregator alerts list`)");
    if ((*a)->status == kAlertPending)
      return fail("alert " + id + " is pending: it has not fired yet, there is nothing to ack");
    if ((*a)->status == kAlertAcknowledged)
      return fail("alert " + id + " was acknowledged already, by " + (*a)->ackedBy);
    return fail("alert " + id + " is resolved: its drift is gone");
  }
  auto audit = AuditLog::open(*store, config->auditLog);
  if (!audit.ok()) return fail(audit.error());
  auto a = alerts.alert(args.id);
  audit->record("alert_acknowledged", a.ok() && *a ? (*a)->host : "", "admin",
                "alert " + id + " by " + by);
  std::cout << "alert " << id << " acknowledged by " << by << "\n";
  return kExitOk;
}

int runAlertsDeliveries(const AlertArgs& args) {
  if (auto s = checkFormat(args.common); !s.ok()) return fail(s.error());
  const std::string& st = args.status;
  if (st != kDeliveryDead && st != kDeliveryPending && st != kDeliveryDelivered && st != "all")
    return fail(makeError(ErrorCode::kInvalidInput, "must be dead, pending, delivered or all",
                          "--status " + st));
  auto config = loadConfig(args.common);
  if (!config.ok()) return fail(config.error());
  auto store = openExisting(*config);
  if (!store.ok()) return fail(store.error());
  AlertStore alerts(store->database());
  auto found = alerts.deliveries(st == "all" ? "" : st);
  if (!found.ok()) return fail(found.error());
  if (args.common.format == "json") {
    json out = json::array();
    for (const auto& d : *found)
      out.push_back(deliveryJson(d));
    printJson(out);
    return kExitOk;
  }
  if (found->empty()) {
    std::cout << (st == "all" ? "no deliveries" : "no " + st + " deliveries") << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "STATUS", "RECEIVER", "HOST", "EVENT", "ATTEMPTS", "NEXT ATTEMPT", "LAST ERROR"}};
  for (const auto& d : *found) {
    rows.push_back({std::to_string(d.id), d.status, d.receiver, d.host, d.event,
                    std::to_string(d.attempts),
                    d.status == kDeliveryPending ? utcMs(d.nextAttemptAt) : "-",
                    d.lastError.empty() ? "-" : shortened(d.lastError, 70)});
  }
  printTable(rows);
  return kExitOk;
}

int runAlertsRetry(const AlertArgs& args) {
  auto config = loadConfig(args.common);
  if (!config.ok()) return fail(config.error());
  auto store = openExisting(*config);
  if (!store.ok()) return fail(store.error());
  AlertStore alerts(store->database());
  const std::string id = std::to_string(args.id);
  auto revived = alerts.revive(args.id, nowMs());
  if (!revived.ok()) return fail(revived.error());
  if (!*revived) {
    auto d = alerts.delivery(args.id);
    if (!d.ok()) return fail(d.error());
    if (!*d) return fail("no delivery " + id + " (see `driftwatch-aggregator alerts deliveries`)");
    return fail("delivery " + id + " is " + (*d)->status +
                ", not dead: only dead ones are retried");
  }
  auto audit = AuditLog::open(*store, config->auditLog);
  if (!audit.ok()) return fail(audit.error());
  audit->record("alert_delivery_retried", "", "admin", "delivery " + id + " by " + whoAmI());
  std::cout << "delivery " << id
            << " is pending again; a serving aggregator sends it within a second\n";
  return kExitOk;
}

}  // namespace driftwatch::aggregator
