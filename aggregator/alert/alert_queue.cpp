#include "aggregator/alert/alert_queue.h"

#include <utility>

#include "common/base/escape.h"

namespace driftwatch::aggregator {
namespace {

std::string shortValue(const std::optional<std::string>& v) {
  if (!v) return "-";
  const std::string safe = displaySafe(*v);
  return safe.size() > 24 ? safe.substr(0, 20) + "..." : safe;
}

void describe(AlertRecord& alert, const DriftRecord& item) {
  alert.severity = item.severity;
  alert.policy = item.policy;
  alert.rule = item.rule;
  alert.summary = driftSummary(item);
}

}  // namespace

std::string driftSummary(const DriftRecord& item) {
  std::string out = displaySafe(item.resource) + " " + item.change;
  std::string attrs;
  for (const auto& a : item.attributes) {
    if (attrs.size() > 200) {
      attrs += ", ...";
      break;
    }
    attrs += (attrs.empty() ? "" : ", ") + a.name + " " + shortValue(a.desired) + "->" +
             shortValue(a.actual);
  }
  if (!attrs.empty()) out += ": " + attrs;
  if (!item.error.empty()) out += " (not fully observed)";
  return out;
}

Status AlertQueue::opened(const DriftRecord& item, std::optional<std::chrono::milliseconds> settle,
                          int64_t now) {
  const int64_t firesAt = now + settle.value_or(defaultSettle_).count();
  auto existing = alerts_.unresolved(kAlertKindDrift, item.host, item.resource);
  if (!existing.ok()) return existing.error();
  changed_ = true;
  if (*existing) {
    // An alert the drift table no longer matched (the item was replaced while its alert stayed
    // unresolved): the same episode as far as anyone was told, so it is kept, not doubled.
    AlertRecord alert = **existing;
    describe(alert, item);
    return alerts_.updateAlert(alert);
  }
  AlertRecord alert;
  alert.host = item.host;
  alert.resource = item.resource;
  alert.status = std::string(kAlertPending);
  alert.createdAt = now;
  alert.firesAt = firesAt;
  describe(alert, item);
  auto id = alerts_.addAlert(alert);
  if (!id.ok()) return id.error();
  return {};
}

Status AlertQueue::stillOpen(const DriftRecord& item, bool observed, int64_t now) {
  auto existing = alerts_.unresolved(kAlertKindDrift, item.host, item.resource);
  if (!existing.ok()) return existing.error();
  // Drift that was open before alerting existed (or whose alert was lost): it starts now.
  if (!*existing) return opened(item, std::nullopt, now);
  AlertRecord alert = **existing;
  describe(alert, item);
  if (observed && alert.status == kAlertPending && alert.firesAt > now) {
    alert.firesAt = now;  // seen again: it is not a flap
    changed_ = true;
  }
  return alerts_.updateAlert(alert);
}

Status AlertQueue::resolved(const std::string& host, const std::string& resource, int64_t now) {
  auto existing = alerts_.unresolved(kAlertKindDrift, host, resource);
  if (!existing.ok()) return existing.error();
  if (!*existing) return {};
  changed_ = true;
  return alerts_.setStatus((*existing)->id, kAlertResolved, now);
}

}  // namespace driftwatch::aggregator
