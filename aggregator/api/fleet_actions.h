#pragma once
// What people do to the fleet from the admin commands and the admin API, as a role:
// acknowledge an alert, send a dead delivery again, accept or waive a drift item, apply or
// remove fleet policies, revoke a host, declare or end a maintenance window. Each answers
// the changed thing's JSON view (aggregator/api/json_views.h), so the CLI prints the same
// whether it acted on the local store or through a remote aggregator's API.
// LocalFleetActions changes a fleet store, each action in one transaction with its audit
// record; the CLI's remote client posts to the admin API, which uses a LocalFleetActions.
//
// Errors: kNotFound for an alert, delivery, host or drift item that does not exist,
// kConflict when the thing is not in a state the action applies to (an alert acknowledged
// already, a delivery that is not dead, drift that resolved), kInvalidInput for a bad request
// (the message names the field), anything else for a failing store or transport.
// Used by one thread at a time.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aggregator/api/fleet_reader.h"
#include "aggregator/api/json_views.h"
#include "aggregator/audit/audit_log.h"
#include "aggregator/maintenance/maintenance_windows.h"
#include "aggregator/policy/policy_apply.h"
#include "aggregator/store/fleet_store.h"
#include "common/base/result.h"

namespace driftwatch::aggregator {

// accept and waive.
struct DecisionRequest {
  std::string host;
  std::string resource;  // "/etc/motd" or KIND:NAME
  std::string reason;
  std::string by;  // who decides
  // waive: exactly one expiry, read on the clock of whoever applies it (the aggregator, for a
  // remote request): a UTC date (2026-12-31) or time (2026-12-31T18:00:00Z), or a duration.
  std::string until;
  std::string forDuration;
};

// policy apply: the policies as read where the command runs (policy_source.h).
struct PolicyUpload {
  std::vector<PolicySource> policies;
  std::string message;  // why
  std::string by;       // who applies
};

// policy remove.
struct PolicyRemoval {
  std::vector<std::string> names;
  std::string message;
  std::string by;
};

// maintenance add: times as given, read on the clock of whoever applies them.
struct MaintenanceRequest {
  std::string selector;     // KEY=VALUE,...; empty: every host
  std::string start;        // a UTC date or time; empty: now
  std::string end;          // a UTC date or time
  std::string forDuration;  // or a duration from the start
  std::string reason;
  std::string by;
};

// The window `request` declares at `nowMs` (without an id); the error names the field as
// `names` says.
Result<MaintenanceWindow> maintenanceWindowOf(const MaintenanceRequest& request, int64_t nowMs,
                                              FieldNames names);

// The waiver's expiry (unix ms) from `until` or `forDuration` at `nowMs`; the error names the
// field as `names` says ("--until" or "until").
Result<int64_t> waiverExpiry(const DecisionRequest& request, int64_t nowMs, FieldNames names);
// A reason or a name given for the record: 1 to `max` bytes, shown safely.
Status checkRecordText(std::string_view text, std::string_view field, size_t max, FieldNames names);

class FleetActions {
 public:
  virtual ~FleetActions() = default;
  // `by`: who takes the alert. Answers the alert as it is now.
  virtual Result<Json> acknowledge(int64_t alertId, const std::string& by) = 0;
  // Answers the delivery, pending again and due now.
  virtual Result<Json> retryDelivery(int64_t deliveryId, const std::string& by) = 0;
  // Answer the drift item as decided.
  virtual Result<Json> accept(const DecisionRequest& request) = 0;
  virtual Result<Json> waive(const DecisionRequest& request) = 0;
  // Answer [{name, version, changed}] and [{name, version, removed}], one per policy.
  virtual Result<Json> applyPolicies(const PolicyUpload& upload) = 0;
  virtual Result<Json> removePolicies(const PolicyRemoval& removal) = 0;
  // Answers {"changed": false when it was revoked already, "host": the host as it is now}.
  virtual Result<Json> revokeHost(const std::string& id, const std::string& by) = 0;
  // Answer the window as declared, and as ended (its end now the time it ended; a window that
  // had not started is dropped).
  virtual Result<Json> addMaintenance(const MaintenanceRequest& request) = 0;
  virtual Result<Json> endMaintenance(int64_t id, const std::string& by) = 0;
};

struct LocalActionOptions {
  // Who the audit trail says acted: "admin" for the CLI on the aggregator's host, the API
  // token's name for a request to the admin API.
  std::string actor = "admin";
  FieldNames names = FieldNames::kFlags;                            // how errors name the fields
  std::chrono::milliseconds alertSettle{std::chrono::seconds(30)};  // alerts.settle
  DriftFlagRules flagRules;
  // Called after an action that may change what the alert dispatcher has to do committed (a
  // resolved alert to announce, a delivery due, held alerts released): a serving aggregator
  // wakes its alert worker rather than letting it find out at its next poll.
  std::function<void()> alertsChanged{};
};

class LocalFleetActions : public FleetActions {
 public:
  using Clock = std::function<int64_t()>;  // unix ms
  LocalFleetActions(const FleetStore& store, AuditLog& audit, LocalActionOptions options,
                    Clock nowMs = {});

  Result<Json> acknowledge(int64_t alertId, const std::string& by) override;
  Result<Json> retryDelivery(int64_t deliveryId, const std::string& by) override;
  Result<Json> accept(const DecisionRequest& request) override;
  Result<Json> waive(const DecisionRequest& request) override;
  Result<Json> applyPolicies(const PolicyUpload& upload) override;
  Result<Json> removePolicies(const PolicyRemoval& removal) override;
  Result<Json> revokeHost(const std::string& id, const std::string& by) override;
  Result<Json> addMaintenance(const MaintenanceRequest& request) override;
  Result<Json> endMaintenance(int64_t id, const std::string& by) override;

 private:
  Result<Json> decide(const DecisionRequest& request, std::optional<int64_t> until);
  void alertsChanged() const;

  const FleetStore& store_;
  AuditLog& audit_;
  LocalActionOptions options_;
  Clock nowMs_;
};

}  // namespace driftwatch::aggregator
