#pragma once
// The alert queue: turns what the drift engine reconciles into alerts, on the store thread and
// inside the engine's transaction (it opens none of its own), so an alert exists exactly when
// the drift that caused it was committed.
//
// - Drift that opens queues one pending alert per (host, resource), due when its settle time
//   ends (the rule's `settle`, else `alerts.settle`). A reopened item gets a new alert.
// - Drift judged again from a later report of the host (a second observation) is due at once.
// - Changed drift updates its alert (severity, rule, summary); it does not notify again.
// - Drift that resolves resolves its alert: silently while it was pending (a flap alerts
//   nothing), otherwise the dispatcher announces the resolution.
//
// Not thread-safe: one per store thread, like the FleetStore whose connection it writes on.

#include <chrono>
#include <functional>

#include "aggregator/alert/alert_store.h"
#include "aggregator/drift/drift_listener.h"

namespace driftwatch::aggregator {

// "file:/etc/motd modified: mode 0644->0600, owner root->www" (values shortened, made safe).
std::string driftSummary(const DriftRecord& item);

class AlertQueue : public DriftListener {
 public:
  AlertQueue(const FleetStore& store, std::chrono::milliseconds defaultSettle)
      : alerts_(store.database()), defaultSettle_(defaultSettle) {}

  Status opened(const DriftRecord& item, std::optional<std::chrono::milliseconds> settle,
                int64_t now) override;
  Status stillOpen(const DriftRecord& item, bool observed, int64_t now) override;
  Status resolved(const std::string& host, const std::string& resource, int64_t now) override;

  // Whether anything was queued or resolved since the last call (the caller wakes the
  // dispatcher once its transaction committed).
  bool takeChanged() { return std::exchange(changed_, false); }

 private:
  AlertStore alerts_;
  std::chrono::milliseconds defaultSettle_;
  bool changed_ = false;
};

}  // namespace driftwatch::aggregator
