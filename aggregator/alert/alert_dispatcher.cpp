#include "aggregator/alert/alert_dispatcher.h"

#include <algorithm>
#include <limits>
#include <map>

#include "aggregator/alert/alert_payload.h"
#include "aggregator/alert/alert_queue.h"
#include "aggregator/drift/drift_decisions.h"
#include "aggregator/drift/drift_engine.h"
#include "aggregator/maintenance/maintenance_windows.h"
#include "common/base/time.h"

namespace driftwatch::aggregator {
namespace {

constexpr size_t kDeliveriesPerRound = 64;
constexpr int64_t kMinuteMs = 60'000;

// Alerts of each host, in the order they came.
std::map<std::string, std::vector<AlertRecord>> byHost(std::vector<AlertRecord> alerts) {
  std::map<std::string, std::vector<AlertRecord>> out;
  for (auto& a : alerts)
    out[a.host].push_back(std::move(a));
  return out;
}

}  // namespace

int64_t retryDelayMs(const AlertsConfig& config, int64_t attempts) {
  const int64_t cap = config.retryMax.count();
  int64_t delay = config.retryBase.count();
  for (int64_t i = 1; i < attempts && delay < cap; ++i)
    delay *= 2;
  return std::min(delay, cap);
}

Result<int64_t> AlertDispatcher::step(int64_t now) {
  int64_t next = std::numeric_limits<int64_t>::max();
  if (auto s = housekeeping(now, next); !s.ok()) return s.error();
  if (auto s = queueNotifications(now, next); !s.ok()) return s.error();
  if (auto s = deliver(now, next); !s.ok()) return s.error();
  return next;
}

Status AlertDispatcher::housekeeping(int64_t now, int64_t& next) {
  DriftFilter waived;
  waived.status = std::string(kDriftWaived);
  auto items = store_.driftItems(waived);
  if (!items.ok()) return items.error();
  bool expired = false;
  for (const auto& d : *items) {
    if (!d.waivedUntil) continue;
    if (*d.waivedUntil <= now) {
      expired = true;
    } else {
      next = std::min(next, *d.waivedUntil);
    }
  }
  const bool silence = config_.hostSilentAfter.count() > 0 && now >= nextSilenceCheck_;
  if (silence) {
    // Often enough to alert within a few percent of the threshold, rarely enough to cost
    // nothing: one read of the hosts table.
    nextSilenceCheck_ =
        now + std::clamp<int64_t>(config_.hostSilentAfter.count() / 20, 1'000, 30'000);
  }
  // Not a deadline of its own: the worker runs a round at least every second anyway.
  if (!expired && !silence) return {};

  auto tx = store_.begin();
  if (!tx.ok()) return tx.error();
  if (expired) {
    auto reopened = reopenExpiredWaivers(store_, now);
    if (!reopened.ok()) return reopened.error();
    // The waiver was the settle time: its drift alerts at once.
    AlertQueue queue(store_, config_.settle);
    for (const auto& item : *reopened) {
      if (auto s = queue.opened(item, std::chrono::milliseconds(0), now); !s.ok()) return s;
      if (log_)
        log_("the waiver of " + item.resource + " on " + item.host + " expired: open again");
    }
  }
  if (silence) {
    if (auto s = checkSilence(now); !s.ok()) return s;
  }
  return tx->commit();
}

Status AlertDispatcher::checkSilence(int64_t now) {
  auto stmt = store_.database().prepare("SELECT id, last_seen, revoked_at FROM hosts");
  if (!stmt.ok()) return stmt.error();
  struct Seen {
    std::string id;
    int64_t lastSeen;
    bool revoked;
  };
  std::vector<Seen> hosts;
  while (stmt->step())
    hosts.push_back({stmt->columnText(0), stmt->columnInt(1), !stmt->isNull(2)});
  if (!stmt->status().ok()) return stmt->status().error();
  const int64_t after = config_.hostSilentAfter.count();
  for (const auto& h : hosts) {
    // A host that never reported is waiting for its agent, not silent; a revoked one is gone.
    const bool silent = !h.revoked && h.lastSeen > 0 && now - h.lastSeen >= after;
    auto existing = alerts_.unresolved(kAlertKindHostSilent, h.id, "");
    if (!existing.ok()) return existing.error();
    if (silent && !*existing) {
      AlertRecord a;
      a.kind = std::string(kAlertKindHostSilent);
      a.host = h.id;
      a.severity = "high";
      a.summary =
          "no report since " +
          formatUtc(std::chrono::system_clock::time_point(std::chrono::milliseconds(h.lastSeen))) +
          " (alerts.host_silent_after " + std::to_string(after / 1000) + "s)";
      a.status = std::string(kAlertPending);
      a.createdAt = now;
      a.firesAt = now;
      if (auto id = alerts_.addAlert(a); !id.ok()) return id.error();
    } else if (!silent && *existing) {
      if (auto s = alerts_.setStatus((*existing)->id, kAlertResolved, now); !s.ok()) return s;
    }
  }
  return {};
}

Status AlertDispatcher::queueNotifications(int64_t now, int64_t& next) {
  auto firesAt = alerts_.nextFiresAt();
  if (!firesAt.ok()) return firesAt.error();
  if (*firesAt && **firesAt > now) next = std::min(next, **firesAt);
  // Most rounds find nothing to do: they read, and leave the write lock to the store thread.
  auto unannounced = alerts_.resolvedUnannounced();
  if (!unannounced.ok()) return unannounced.error();
  if ((!*firesAt || **firesAt > now) && unannounced->empty()) return {};

  auto tx = store_.begin();
  if (!tx.ok()) return tx.error();
  const int64_t wait = config_.groupWait.count();

  auto due = alerts_.due(now);
  if (!due.ok()) return due.error();
  std::vector<AlertRecord> notifiable;
  const MaintenanceWindows windows(store_);
  std::map<std::string, std::optional<int64_t>> heldUntil;  // by host, for this round
  for (auto& a : *due) {
    auto held = heldUntil.find(a.host);
    if (held == heldUntil.end()) {
      auto host = store_.host(a.host);
      if (!host.ok()) return host.error();
      auto until = windows.heldUntil(*host ? (*host)->labels : Labels{}, now);
      if (!until.ok()) return until.error();
      held = heldUntil.emplace(a.host, *until).first;
    }
    if (held->second) {
      // A maintenance window holds the host: the alert waits for its end, and fires then only
      // if its drift is still open (a resolved one never notifies).
      a.firesAt = *held->second;
      if (auto s = alerts_.updateAlert(a); !s.ok()) return s;
      next = std::min(next, a.firesAt);
      continue;
    }
    const auto severity = model::parseSeverity(a.severity);
    if (severity && *severity < config_.minSeverity) {
      // Recorded, and visible in `alerts list`, but below the threshold: nobody is told.
      if (auto s = alerts_.setStatus(a.id, kAlertFiring, now); !s.ok()) return s;
      continue;
    }
    notifiable.push_back(std::move(a));
  }
  for (auto& [host, group] : byHost(std::move(notifiable))) {
    // Oldest first: the first alert of the host opened the window.
    const int64_t windowEnd = group.front().firesAt + wait;
    if (now < windowEnd) {
      next = std::min(next, windowEnd);
      continue;
    }
    for (auto& a : group) {
      if (auto s = alerts_.setStatus(a.id, kAlertFiring, now); !s.ok()) return s;
      if (auto s = alerts_.markNotified(a.id, kEventFiring); !s.ok()) return s;
      a.status = std::string(kAlertFiring);
      a.firedAt = now;
    }
    if (auto s = notify(kEventFiring, host, group, now); !s.ok()) return s;
  }

  auto resolved = alerts_.resolvedUnannounced();
  if (!resolved.ok()) return resolved.error();
  for (auto& [host, group] : byHost(std::move(*resolved))) {
    const int64_t windowEnd = group.front().resolvedAt.value_or(now) + wait;
    if (now < windowEnd) {
      next = std::min(next, windowEnd);
      continue;
    }
    for (const auto& a : group) {
      if (auto s = alerts_.markNotified(a.id, kEventResolved); !s.ok()) return s;
    }
    if (auto s = notify(kEventResolved, host, group, now); !s.ok()) return s;
  }

  return tx->commit();
}

Status AlertDispatcher::notify(std::string_view event, const std::string& host,
                               const std::vector<AlertRecord>& alerts, int64_t now) {
  auto record = store_.host(host);
  if (!record.ok()) return record.error();
  NotificationRecord n;
  n.host = host;
  n.event = std::string(event);
  n.createdAt = now;
  n.body = notificationSnapshot(event, host, *record, alerts, now);
  auto id = alerts_.addNotification(n);
  if (!id.ok()) return id.error();
  for (const auto& receiver : config_.receivers) {
    DeliveryRecord d;
    d.notification = *id;
    d.receiver = receiver.name;
    // Stable across retries and restarts (it is stored), unique across notifications and
    // receivers, and across fleet stores created at different times.
    d.idempotencyKey =
        "dw-" + std::to_string(now) + "-" + std::to_string(*id) + "-" + receiver.name;
    d.status = std::string(kDeliveryPending);
    d.nextAttemptAt = now;
    d.createdAt = now;
    if (auto s = alerts_.addDelivery(d); !s.ok()) return s;
  }
  return {};
}

Status AlertDispatcher::deliver(int64_t now, int64_t& next) {
  auto due = alerts_.dueDeliveries(now, kDeliveriesPerRound);
  if (!due.ok()) return due.error();
  for (const auto& d : *due) {
    if (auto s = attempt(d, now); !s.ok()) return s;
  }
  if (due->size() == kDeliveriesPerRound) next = now;  // more are waiting
  auto later = alerts_.nextAttemptAt(now);
  if (!later.ok()) return later.error();
  if (*later) next = std::min(next, **later);
  return {};
}

Status AlertDispatcher::attempt(const DeliveryRecord& d, int64_t now) {
  DeliveryRecord u = d;
  const ReceiverConfig* receiver = config_.receiver(d.receiver);
  if (receiver == nullptr) {
    u.status = std::string(kDeliveryDead);
    u.lastError = "receiver '" + d.receiver +
                  "' is not in alerts.receivers any more; add it back, then `alerts retry " +
                  std::to_string(d.id) + "`";
    if (log_) log_("alert delivery " + std::to_string(d.id) + " is dead: " + u.lastError);
    return alerts_.recordAttempt(u);
  }
  if (receiver->maxPerMinute > 0) {
    auto window = alerts_.attemptsSince(d.receiver, now - kMinuteMs);
    if (!window.ok()) return window.error();
    if (window->count >= receiver->maxPerMinute && window->oldest)
      return alerts_.postpone(d.id, *window->oldest + kMinuteMs);  // delayed, never dropped
  }
  auto n = alerts_.notification(d.notification);
  if (!n.ok()) return n.error();
  if (!*n)
    return makeError(ErrorCode::kInternal, "a delivery without its notification",
                     "delivery " + std::to_string(d.id));
  const SendResult result = sender_.send(*receiver, **n, d);
  u.attempts = d.attempts + 1;
  u.lastAttemptAt = now;
  u.lastError = result.error;
  switch (result.outcome) {
    case SendOutcome::kDelivered:
      u.status = std::string(kDeliveryDelivered);
      u.deliveredAt = now;
      break;
    case SendOutcome::kRetry:
      if (u.attempts >= static_cast<int64_t>(config_.maxAttempts)) {
        u.status = std::string(kDeliveryDead);
      } else {
        u.nextAttemptAt = now + retryDelayMs(config_, u.attempts);
      }
      break;
    case SendOutcome::kPermanent:
      u.status = std::string(kDeliveryDead);
      break;
  }
  if (log_ && result.outcome != SendOutcome::kDelivered) {
    log_("alert delivery " + std::to_string(d.id) + " to " + d.receiver + " failed (attempt " +
         std::to_string(u.attempts) + " of " + std::to_string(config_.maxAttempts) + "): " +
         result.error + (u.status == kDeliveryDead ? "; it is dead (see alerts deliveries)" : ""));
  }
  return alerts_.recordAttempt(u);
}

}  // namespace driftwatch::aggregator
