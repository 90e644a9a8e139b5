#include "aggregator/api/fleet_actions.h"

#include <algorithm>

#include "aggregator/alert/alert_queue.h"
#include "aggregator/alert/alert_store.h"
#include "aggregator/drift/drift_decisions.h"
#include "aggregator/enroll/tokens.h"
#include "common/base/escape.h"
#include "common/base/time.h"
#include "common/base/units.h"
#include "common/model/labels.h"

namespace driftwatch::aggregator {
namespace {

std::string fieldName(std::string_view field, FieldNames names) {
  return names == FieldNames::kFlags ? "--" + std::string(field) : std::string(field);
}

int64_t systemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Status checkRecordText(std::string_view text, std::string_view field, size_t max,
                       FieldNames names) {
  bool blank = true;
  for (const char c : text)
    blank = blank && (c == ' ' || c == '\t' || c == '\n' || c == '\r');
  if (blank || text.size() > max)
    return makeError(ErrorCode::kInvalidInput,
                     "give 1 to " + std::to_string(max) + " bytes for the record",
                     fieldName(field, names));
  return {};
}

Result<int64_t> waiverExpiry(const DecisionRequest& request, int64_t nowMs, FieldNames names) {
  const std::string until = fieldName("until", names);
  const std::string forName = fieldName("for", names);
  if (request.until.empty() == request.forDuration.empty())
    return makeError(ErrorCode::kInvalidInput, "give exactly one expiry for the waiver: " + until +
                                                   " DATE (like 2026-12-31) or " + forName +
                                                   " DURATION (like 30d)");
  if (!request.until.empty()) {
    const auto at = parseUtc(request.until);
    if (!at)
      return makeError(ErrorCode::kInvalidInput,
                       "not a UTC date (2026-12-31) or time (2026-12-31T18:00:00Z)",
                       until + " " + displaySafe(request.until));
    if (*at <= nowMs)
      return makeError(ErrorCode::kInvalidInput, "is in the past",
                       until + " " + displaySafe(request.until));
    return *at;
  }
  const auto d = parseDuration(request.forDuration);
  if (!d || d->count() < 1000)
    return makeError(ErrorCode::kInvalidInput, "not a duration of at least 1s (like 12h, 30d)",
                     forName + " " + displaySafe(request.forDuration));
  return nowMs + d->count();
}

Result<MaintenanceWindow> maintenanceWindowOf(const MaintenanceRequest& request, int64_t nowMs,
                                              FieldNames names) {
  const auto timeOf = [&](std::string_view field, const std::string& text) -> Result<int64_t> {
    if (const auto t = parseUtc(text)) return *t;
    return makeError(ErrorCode::kInvalidInput,
                     "not a UTC date (2026-12-31) or time (2026-12-31T22:00:00Z)",
                     fieldName(field, names) + " " + displaySafe(text));
  };
  auto selector = parseLabels(request.selector, fieldName("selector", names));
  if (!selector.ok()) return selector.error();
  if (auto s = checkRecordText(request.reason, "reason", 1024, names); !s.ok()) return s.error();
  if (auto s = checkRecordText(request.by, "by", 128, names); !s.ok()) return s.error();
  MaintenanceWindow w;
  w.selector = std::move(*selector);
  w.startsAt = nowMs;
  if (!request.start.empty()) {
    auto start = timeOf("start", request.start);
    if (!start.ok()) return start.error();
    if (*start <= 0)
      return makeError(ErrorCode::kInvalidInput, "must be after 1970",
                       fieldName("start", names) + " " + displaySafe(request.start));
    w.startsAt = *start;
  }
  const std::string end = fieldName("end", names);
  const std::string forName = fieldName("for", names);
  if (request.end.empty() == request.forDuration.empty())
    return makeError(ErrorCode::kInvalidInput, "give exactly one end for the window: " + end +
                                                   " TIME or " + forName + " DURATION (like 2h)");
  if (!request.end.empty()) {
    auto at = timeOf("end", request.end);
    if (!at.ok()) return at.error();
    w.endsAt = *at;
    if (w.endsAt <= w.startsAt)
      return makeError(ErrorCode::kInvalidInput,
                       "must come after " + fieldName("start", names) + " (now, when not given)",
                       end + " " + displaySafe(request.end));
    if (w.endsAt <= nowMs)
      return makeError(ErrorCode::kInvalidInput, "is in the past",
                       end + " " + displaySafe(request.end));
  } else {
    const auto d = parseDuration(request.forDuration);
    if (!d || d->count() < 1000)
      return makeError(ErrorCode::kInvalidInput, "not a duration of at least 1s (like 30m, 2h)",
                       forName + " " + displaySafe(request.forDuration));
    w.endsAt = w.startsAt + d->count();
    if (w.endsAt <= nowMs)
      return makeError(ErrorCode::kInvalidInput, "the window would be over already",
                       forName + " " + displaySafe(request.forDuration));
  }
  w.reason = displaySafe(request.reason);
  w.createdBy = displaySafe(request.by);
  w.createdAt = nowMs;
  return w;
}

LocalFleetActions::LocalFleetActions(const FleetStore& store, AuditLog& audit,
                                     LocalActionOptions options, Clock nowMs)
    : store_(store),
      audit_(audit),
      options_(std::move(options)),
      nowMs_(nowMs ? std::move(nowMs) : Clock(systemNowMs)) {}

Result<Json> LocalFleetActions::acknowledge(int64_t alertId, const std::string& by) {
  if (auto s = checkRecordText(by, "by", 128, options_.names); !s.ok()) return s.error();
  const std::string who = displaySafe(by);
  const std::string id = std::to_string(alertId);
  AlertStore alerts(store_.database());
  auto tx = store_.begin();
  if (!tx.ok()) return tx.error();
  auto acked = alerts.acknowledge(alertId, who, nowMs_());
  if (!acked.ok()) return acked.error();
  auto a = alerts.alert(alertId);
  if (!a.ok()) return a.error();
  if (!*a)
    return makeError(ErrorCode::kNotFound,
                     "no alert " + id + " (see `driftwatch-aggregator alerts list`)");
  if (!*acked) {
    if ((*a)->status == kAlertPending)
      return makeError(ErrorCode::kConflict, "alert " + id +
                                                 " is pending: it has not fired yet, there is "
                                                 "nothing to acknowledge");
    if ((*a)->status == kAlertAcknowledged)
      return makeError(ErrorCode::kConflict,
                       "alert " + id + " was acknowledged already, by " + (*a)->ackedBy);
    return makeError(ErrorCode::kConflict, "alert " + id + " is resolved: its drift is gone");
  }
  const auto line =
      audit_.stage("alert_acknowledged", (*a)->host, options_.actor, "alert " + id + " by " + who);
  if (!line.ok()) return line.error();
  if (auto s = tx->commit(); !s.ok()) return s.error();
  audit_.write(*line);
  return alertJson(**a);
}

Result<Json> LocalFleetActions::retryDelivery(int64_t deliveryId, const std::string& by) {
  if (auto s = checkRecordText(by, "by", 128, options_.names); !s.ok()) return s.error();
  const std::string id = std::to_string(deliveryId);
  AlertStore alerts(store_.database());
  auto tx = store_.begin();
  if (!tx.ok()) return tx.error();
  auto revived = alerts.revive(deliveryId, nowMs_());
  if (!revived.ok()) return revived.error();
  auto d = alerts.delivery(deliveryId);
  if (!d.ok()) return d.error();
  if (!*d)
    return makeError(ErrorCode::kNotFound,
                     "no delivery " + id + " (see `driftwatch-aggregator alerts deliveries`)");
  if (!*revived)
    return makeError(ErrorCode::kConflict, "delivery " + id + " is " + (*d)->status +
                                               ", not dead: only dead ones are retried");
  const auto line = audit_.stage("alert_delivery_retried", (*d)->host, options_.actor,
                                 "delivery " + id + " by " + displaySafe(by));
  if (!line.ok()) return line.error();
  if (auto s = tx->commit(); !s.ok()) return s.error();
  audit_.write(*line);
  alertsChanged();
  return deliveryJson(**d);
}

void LocalFleetActions::alertsChanged() const {
  if (options_.alertsChanged) options_.alertsChanged();
}

Result<Json> LocalFleetActions::accept(const DecisionRequest& request) {
  return decide(request, std::nullopt);
}

Result<Json> LocalFleetActions::waive(const DecisionRequest& request) {
  auto until = waiverExpiry(request, nowMs_(), options_.names);
  if (!until.ok()) return until.error();
  return decide(request, *until);
}

Result<Json> LocalFleetActions::decide(const DecisionRequest& request,
                                       std::optional<int64_t> until) {
  if (auto s = checkRecordText(request.reason, "reason", 1024, options_.names); !s.ok())
    return s.error();
  if (auto s = checkRecordText(request.by, "by", 128, options_.names); !s.ok()) return s.error();
  auto resource = resourceArgument(request.resource);
  if (!resource.ok()) return resource.error();
  if (auto host = findHost(store_, request.host); !host.ok()) return host.error();
  const DriftDecision decision{.host = request.host,
                               .resource = *resource,
                               .reason = displaySafe(request.reason),
                               .by = displaySafe(request.by),
                               .at = nowMs_(),
                               .until = until};
  auto tx = store_.begin();
  if (!tx.ok()) return tx.error();
  auto decided = until ? waiveDrift(store_, decision) : acceptDrift(store_, decision);
  if (!decided.ok()) return decided.error();
  // A decided item alerts no more: its alert resolves with the decision (and a firing one is
  // announced as resolved). When the decision ends (the host moves on, the waiver expires) the
  // drift alerts again.
  AlertQueue alerts(store_, options_.alertSettle);
  if (auto s = alerts.resolved(decision.host, *resource, decision.at); !s.ok()) return s.error();
  std::string detail = std::string(until ? "waive " : "accept ") + *resource + " by " + decision.by;
  if (until) detail += " until " + utcMsText(*until);
  const auto line = audit_.stage(until ? "drift_waived" : "drift_accepted", decision.host,
                                 options_.actor, detail + ": " + decision.reason);
  if (!line.ok()) return line.error();
  if (auto s = tx->commit(); !s.ok()) return s.error();
  audit_.write(*line);
  alertsChanged();
  return driftJson(*decided, driftFlags(*decided, options_.flagRules, decision.at));
}

Result<Json> LocalFleetActions::applyPolicies(const PolicyUpload& upload) {
  if (auto s = checkRecordText(upload.by, "by", 128, options_.names); !s.ok()) return s.error();
  // Drift the new versions open queues alerts in the same transaction; the dispatcher picks
  // them up.
  AlertQueue alerts(store_, options_.alertSettle);
  const ApplyRequest request{.policies = upload.policies,
                             .appliedBy = displaySafe(upload.by),
                             .message = upload.message,
                             .now = nowMs_() / 1000,
                             .driftListener = &alerts,
                             .actor = options_.actor};
  auto outcome = aggregator::applyPolicies(store_, audit_, request);
  if (!outcome.ok()) return outcome.error();
  alertsChanged();
  Json out = Json::array();
  for (const auto& o : *outcome)
    out.push_back({{"name", o.name}, {"version", o.version}, {"changed", o.changed}});
  return out;
}

Result<Json> LocalFleetActions::removePolicies(const PolicyRemoval& removal) {
  if (auto s = checkRecordText(removal.by, "by", 128, options_.names); !s.ok()) return s.error();
  // The drift a removed policy found resolves, and so do its alerts, in the same transaction.
  AlertQueue alerts(store_, options_.alertSettle);
  auto outcome =
      aggregator::removePolicies(store_, audit_, removal.names, displaySafe(removal.by),
                                 removal.message, nowMs_() / 1000, &alerts, options_.actor);
  if (!outcome.ok()) return outcome.error();
  alertsChanged();
  Json out = Json::array();
  for (const auto& o : *outcome)
    out.push_back({{"name", o.name}, {"version", o.version}, {"removed", true}});
  return out;
}

Result<Json> LocalFleetActions::revokeHost(const std::string& id, const std::string& by) {
  if (auto s = checkRecordText(by, "by", 128, options_.names); !s.ok()) return s.error();
  if (auto h = findHost(store_, id); !h.ok()) return h.error();
  auto tx = store_.begin();
  if (!tx.ok()) return tx.error();
  auto revoked = store_.revokeHost(id, nowMs_() / 1000);
  if (!revoked.ok()) return revoked.error();
  std::optional<AuditLog::Staged> line;
  if (*revoked) {
    auto staged = audit_.stage("host_revoked", id, options_.actor, "revoked by " + displaySafe(by));
    if (!staged.ok()) return staged.error();
    line = std::move(*staged);
  }
  if (auto s = tx->commit(); !s.ok()) return s.error();
  if (line) audit_.write(*line);
  auto host = findHost(store_, id);
  if (!host.ok()) return host.error();
  return Json{{"changed", *revoked}, {"host", hostJson(*host)}};
}

Result<Json> LocalFleetActions::addMaintenance(const MaintenanceRequest& request) {
  const int64_t now = nowMs_();
  auto window = maintenanceWindowOf(request, now, options_.names);
  if (!window.ok()) return window.error();
  auto tx = store_.begin();
  if (!tx.ok()) return tx.error();
  auto added = MaintenanceWindows(store_).add(std::move(*window), now);
  if (!added.ok()) return added.error();
  const auto line = audit_.stage(
      "maintenance_added", "", options_.actor,
      "window " + std::to_string(added->id) + " for " + model::labelsText(added->selector) +
          " from " + utcMsText(added->startsAt) + " to " + utcMsText(added->endsAt) + " by " +
          added->createdBy + ": " + added->reason);
  if (!line.ok()) return line.error();
  if (auto s = tx->commit(); !s.ok()) return s.error();
  audit_.write(*line);
  return maintenanceJson(*added, now);
}

Result<Json> LocalFleetActions::endMaintenance(int64_t id, const std::string& by) {
  if (auto s = checkRecordText(by, "by", 128, options_.names); !s.ok()) return s.error();
  const int64_t now = nowMs_();
  MaintenanceWindows windows(store_);
  auto tx = store_.begin();
  if (!tx.ok()) return tx.error();
  // As it was, for the answer: an upcoming window is dropped, not shortened.
  auto before = windows.list(now, false);
  if (!before.ok()) return before.error();
  std::optional<MaintenanceWindow> window;
  for (auto& w : *before) {
    if (w.id == id) window = std::move(w);
  }
  auto ended = windows.end(id, now);
  if (!ended.ok()) return ended.error();
  if (!*ended || !window)
    return makeError(ErrorCode::kNotFound, "no current or upcoming maintenance window " +
                                               std::to_string(id) +
                                               " (see `driftwatch-aggregator maintenance list`)");
  const auto line = audit_.stage("maintenance_ended", "", options_.actor,
                                 "window " + std::to_string(id) + " by " + displaySafe(by));
  if (!line.ok()) return line.error();
  if (auto s = tx->commit(); !s.ok()) return s.error();
  audit_.write(*line);
  alertsChanged();  // held alerts are due now
  window->endsAt = std::max(window->startsAt, now);
  return maintenanceJson(*window, now);
}

}  // namespace driftwatch::aggregator
