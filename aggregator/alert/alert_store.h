#pragma once
// Data access for alerts, notifications and deliveries, in fleet.db (schema in fleet_store.cpp).
// No rules here: when an alert fires, groups or retries is decided by the alert queue and the
// dispatcher. Works on the connection it is given (FleetStore::database()) and inside the
// caller's transaction; used by one thread at a time, like that connection.
//
// Statuses: an alert is pending (waiting out its settle time), firing (due; notified when its
// severity reaches the threshold), acknowledged (someone took it) or resolved (its drift
// resolved; a pending alert that resolves was never notified). A delivery is pending, delivered
// or dead (failed for good; `alerts retry` sends it again).
//
// Room for what comes next: `kind` tells drift alerts from others (a host gone silent, with an
// empty resource), and a status such as `held` (a maintenance window) needs no new column:
// only pending alerts ever become due.

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/sqlite/database.h"

namespace driftwatch::aggregator {

inline constexpr std::string_view kAlertKindDrift = "drift";
inline constexpr std::string_view kAlertKindHostSilent = "host_silent";  // resource ""

inline constexpr std::string_view kAlertPending = "pending";
inline constexpr std::string_view kAlertFiring = "firing";
inline constexpr std::string_view kAlertAcknowledged = "acknowledged";
inline constexpr std::string_view kAlertResolved = "resolved";

inline constexpr std::string_view kDeliveryPending = "pending";
inline constexpr std::string_view kDeliveryDelivered = "delivered";
inline constexpr std::string_view kDeliveryDead = "dead";

inline constexpr std::string_view kEventFiring = "firing";
inline constexpr std::string_view kEventResolved = "resolved";

struct AlertRecord {
  int64_t id = 0;
  std::string kind = std::string(kAlertKindDrift);
  std::string host;      // host id
  std::string resource;  // "file:/etc/motd"; "" for kinds about a whole host
  std::string severity;
  std::string policy;
  std::string rule;
  std::string summary;
  std::string status;
  int64_t createdAt = 0;  // ms, aggregator clock
  int64_t firesAt = 0;    // when its settle time ends
  std::optional<int64_t> firedAt;
  std::string ackedBy;
  std::optional<int64_t> ackedAt;
  std::optional<int64_t> resolvedAt;
  bool notified = false;         // a firing notification lists it
  bool resolveNotified = false;  // a resolved notification lists it
};

struct AlertFilter {
  std::string status;  // "" for every status; "unresolved" for all but resolved
  std::string host;    // "" for every host
  int64_t limit = std::numeric_limits<int64_t>::max();  // the newest N
};

struct NotificationRecord {
  int64_t id = 0;
  std::string host;
  std::string event;  // firing, resolved
  int64_t createdAt = 0;
  std::string body;  // the JSON snapshot every receiver's message is rendered from
};

struct DeliveryRecord {
  int64_t id = 0;
  int64_t notification = 0;
  std::string receiver;
  std::string idempotencyKey;
  std::string status;
  int64_t attempts = 0;
  int64_t nextAttemptAt = 0;
  std::optional<int64_t> lastAttemptAt;
  std::string lastError;
  std::optional<int64_t> deliveredAt;
  int64_t createdAt = 0;
  // From its notification, for listing.
  std::string host;
  std::string event;
};

class AlertStore {
 public:
  explicit AlertStore(const sqlite::Database& db) : db_(db) {}

  // ---- alerts ----
  Result<int64_t> addAlert(const AlertRecord& alert) const;
  // The unresolved alert of that kind for (host, resource), if any.
  Result<std::optional<AlertRecord>> unresolved(std::string_view kind, std::string_view host,
                                                std::string_view resource) const;
  Result<std::optional<AlertRecord>> alert(int64_t id) const;
  // Severity, policy, rule, summary and fires_at of an existing alert.
  Status updateAlert(const AlertRecord& alert) const;
  Status setStatus(int64_t id, std::string_view status, int64_t at) const;  // fired/resolved at
  Status markNotified(int64_t id, std::string_view event) const;
  // Returns false when there is no alert `id` that is firing.
  Result<bool> acknowledge(int64_t id, std::string_view by, int64_t at) const;
  // Newest first.
  Result<std::vector<AlertRecord>> alerts(const AlertFilter& filter) const;
  // Pending alerts whose settle time ended by `now`, oldest first.
  Result<std::vector<AlertRecord>> due(int64_t now) const;
  // Resolved alerts that were notified as firing and not yet as resolved.
  Result<std::vector<AlertRecord>> resolvedUnannounced() const;
  // The earliest fires_at of the pending alerts.
  Result<std::optional<int64_t>> nextFiresAt() const;

  // ---- notifications and deliveries ----
  Result<int64_t> addNotification(const NotificationRecord& n) const;
  Result<std::optional<NotificationRecord>> notification(int64_t id) const;
  Status addDelivery(const DeliveryRecord& d) const;
  Result<std::optional<DeliveryRecord>> delivery(int64_t id) const;
  // Pending deliveries due by `now` that no older pending delivery of the same receiver and
  // host is ahead of (a host's notifications reach each receiver in order), oldest first.
  Result<std::vector<DeliveryRecord>> dueDeliveries(int64_t now, size_t limit) const;
  // The earliest next attempt of a pending delivery after `after`.
  Result<std::optional<int64_t>> nextAttemptAt(int64_t after) const;
  // Oldest first; status "" for all.
  Result<std::vector<DeliveryRecord>> deliveries(std::string_view status) const;
  // What an attempt did: status, attempts, next_attempt_at, last_attempt_at, last_error,
  // delivered_at.
  Status recordAttempt(const DeliveryRecord& d) const;
  // Moves the next attempt without counting one (rate limit).
  Status postpone(int64_t id, int64_t until) const;
  // Returns false when there is no dead delivery `id`; otherwise it is pending again, due now,
  // with its attempts counted from zero.
  Result<bool> revive(int64_t id, int64_t now) const;
  // The attempts made to `receiver` since `since` (ms), and the oldest of them.
  struct Window {
    int64_t count = 0;
    std::optional<int64_t> oldest;
  };
  Result<Window> attemptsSince(std::string_view receiver, int64_t since) const;

  // ---- counters (for the metrics endpoint) ----
  // Alerts by status, deliveries by status, and the queue depth (deliveries not yet
  // delivered nor dead): cheap aggregate queries on the indexes, safe to call on any scrape.
  Result<std::map<std::string, int64_t>> alertCounts() const;
  Result<std::map<std::string, int64_t>> deliveryCounts() const;
  Result<int64_t> queueDepth() const;

 private:
  Result<sqlite::Statement*> cached(std::string_view sql) const;

  const sqlite::Database& db_;
  mutable sqlite::StatementCache statements_;
};

}  // namespace driftwatch::aggregator
