#include "aggregator/alert/alert_store.h"

namespace driftwatch::aggregator {
namespace {

constexpr std::string_view kAlertColumns =
    "id, kind, host, resource, severity, policy, rule, summary, status, created_at, fires_at, "
    "fired_at, acked_by, acked_at, resolved_at, notified, resolve_notified";

constexpr std::string_view kDeliveryColumns =
    "d.id, d.notification, d.receiver, d.idempotency_key, d.status, d.attempts, "
    "d.next_attempt_at, d.last_attempt_at, d.last_error, d.delivered_at, d.created_at, n.host, "
    "n.event";

std::optional<int64_t> optionalInt(const sqlite::Statement& s, int column) {
  if (s.isNull(column)) return std::nullopt;
  return s.columnInt(column);
}

AlertRecord readAlert(const sqlite::Statement& s) {
  AlertRecord a;
  a.id = s.columnInt(0);
  a.kind = s.columnText(1);
  a.host = s.columnText(2);
  a.resource = s.columnText(3);
  a.severity = s.columnText(4);
  a.policy = s.columnText(5);
  a.rule = s.columnText(6);
  a.summary = s.columnText(7);
  a.status = s.columnText(8);
  a.createdAt = s.columnInt(9);
  a.firesAt = s.columnInt(10);
  a.firedAt = optionalInt(s, 11);
  a.ackedBy = s.isNull(12) ? std::string() : s.columnText(12);
  a.ackedAt = optionalInt(s, 13);
  a.resolvedAt = optionalInt(s, 14);
  a.notified = s.columnInt(15) != 0;
  a.resolveNotified = s.columnInt(16) != 0;
  return a;
}

DeliveryRecord readDelivery(const sqlite::Statement& s) {
  DeliveryRecord d;
  d.id = s.columnInt(0);
  d.notification = s.columnInt(1);
  d.receiver = s.columnText(2);
  d.idempotencyKey = s.columnText(3);
  d.status = s.columnText(4);
  d.attempts = s.columnInt(5);
  d.nextAttemptAt = s.columnInt(6);
  d.lastAttemptAt = optionalInt(s, 7);
  d.lastError = s.columnText(8);
  d.deliveredAt = optionalInt(s, 9);
  d.createdAt = s.columnInt(10);
  d.host = s.columnText(11);
  d.event = s.columnText(12);
  return d;
}

template <typename T, typename Read>
Result<std::vector<T>> readAll(sqlite::Statement& s, Read read) {
  std::vector<T> out;
  while (s.step())
    out.push_back(read(s));
  Status st = s.status();
  s.reset();
  if (!st.ok()) return st.error();
  return out;
}

template <typename T, typename Read>
Result<std::optional<T>> readOne(sqlite::Statement& s, Read read) {
  std::optional<T> out;
  if (s.step()) out = read(s);
  Status st = s.status();
  s.reset();
  if (!st.ok()) return st.error();
  return out;
}

Result<std::optional<int64_t>> readMin(sqlite::Statement& s) {
  std::optional<int64_t> out;
  if (s.step() && !s.isNull(0)) out = s.columnInt(0);
  Status st = s.status();
  s.reset();
  if (!st.ok()) return st.error();
  return out;
}

Result<std::map<std::string, int64_t>> counts(sqlite::Statement& s) {
  std::map<std::string, int64_t> out;
  while (s.step())
    out[s.columnText(0)] = s.columnInt(1);
  Status st = s.status();
  s.reset();
  if (!st.ok()) return st.error();
  return out;
}

}  // namespace

Result<sqlite::Statement*> AlertStore::cached(std::string_view sql) const {
  return statements_.get(db_, sql);
}

// ---- alerts ------------------------------------------------------------------------------

Result<int64_t> AlertStore::addAlert(const AlertRecord& a) const {
  auto stmt = cached(
      "INSERT INTO alerts (kind, host, resource, severity, policy, rule, summary, status, "
      "created_at, fires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id");
  if (!stmt.ok()) return stmt.error();
  auto& s = **stmt;
  s.bind(1, a.kind)
      .bind(2, a.host)
      .bind(3, a.resource)
      .bind(4, a.severity)
      .bind(5, a.policy)
      .bind(6, a.rule)
      .bind(7, a.summary)
      .bind(8, a.status)
      .bind(9, a.createdAt)
      .bind(10, a.firesAt);
  auto id = readMin(s);
  if (!id.ok()) return id.error();
  if (!*id) return makeError(ErrorCode::kInternal, "no id for the new alert", db_.path());
  return **id;
}

Result<std::optional<AlertRecord>> AlertStore::unresolved(std::string_view kind,
                                                          std::string_view host,
                                                          std::string_view resource) const {
  auto stmt = cached("SELECT " + std::string(kAlertColumns) +
                     " FROM alerts WHERE kind = ? AND host = ? AND resource = ? AND status != "
                     "'resolved'");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bind(1, kind).bind(2, host).bind(3, resource);
  return readOne<AlertRecord>(**stmt, readAlert);
}

Result<std::optional<AlertRecord>> AlertStore::alert(int64_t id) const {
  auto stmt = cached("SELECT " + std::string(kAlertColumns) + " FROM alerts WHERE id = ?");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bind(1, id);
  return readOne<AlertRecord>(**stmt, readAlert);
}

Status AlertStore::updateAlert(const AlertRecord& a) const {
  auto stmt = cached(
      "UPDATE alerts SET severity = ?, policy = ?, rule = ?, summary = ?, fires_at = ? WHERE id "
      "= ?");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)
      ->bind(1, a.severity)
      .bind(2, a.policy)
      .bind(3, a.rule)
      .bind(4, a.summary)
      .bind(5, a.firesAt)
      .bind(6, a.id)
      .run();
}

Status AlertStore::setStatus(int64_t id, std::string_view status, int64_t at) const {
  if (status == kAlertFiring) {
    auto stmt = cached("UPDATE alerts SET status = 'firing', fired_at = ? WHERE id = ?");
    if (!stmt.ok()) return stmt.error();
    return (*stmt)->bind(1, at).bind(2, id).run();
  }
  if (status == kAlertResolved) {
    auto stmt = cached("UPDATE alerts SET status = 'resolved', resolved_at = ? WHERE id = ?");
    if (!stmt.ok()) return stmt.error();
    return (*stmt)->bind(1, at).bind(2, id).run();
  }
  return makeError(ErrorCode::kInternal, "no such transition: " + std::string(status));
}

Status AlertStore::markNotified(int64_t id, std::string_view event) const {
  auto stmt = cached(event == kEventFiring ? "UPDATE alerts SET notified = 1 WHERE id = ?"
                                           : "UPDATE alerts SET resolve_notified = 1 WHERE id = ?");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)->bind(1, id).run();
}

Result<bool> AlertStore::acknowledge(int64_t id, std::string_view by, int64_t at) const {
  auto stmt = cached(
      "UPDATE alerts SET status = 'acknowledged', acked_by = ?, acked_at = ? WHERE id = ? AND "
      "status = 'firing'");
  if (!stmt.ok()) return stmt.error();
  if (auto s = (*stmt)->bind(1, by).bind(2, at).bind(3, id).run(); !s.ok()) return s.error();
  return db_.changes() > 0;
}

Result<std::vector<AlertRecord>> AlertStore::alerts(const AlertFilter& f) const {
  auto stmt =
      cached("SELECT " + std::string(kAlertColumns) +
             " FROM alerts WHERE (?1 = '' OR status = ?1 OR (?1 = 'unresolved' AND status != "
             "'resolved')) AND (?2 = '' OR host = ?2) ORDER BY id DESC LIMIT ?3");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bind(1, f.status).bind(2, f.host).bind(3, f.limit);
  return readAll<AlertRecord>(**stmt, readAlert);
}

Result<std::vector<AlertRecord>> AlertStore::due(int64_t now) const {
  auto stmt = cached("SELECT " + std::string(kAlertColumns) +
                     " FROM alerts WHERE status = 'pending' AND fires_at <= ? ORDER BY fires_at, "
                     "id");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bind(1, now);
  return readAll<AlertRecord>(**stmt, readAlert);
}

Result<std::vector<AlertRecord>> AlertStore::resolvedUnannounced() const {
  auto stmt = cached("SELECT " + std::string(kAlertColumns) +
                     " FROM alerts WHERE status = 'resolved' AND notified = 1 AND "
                     "resolve_notified = 0 ORDER BY resolved_at, id");
  if (!stmt.ok()) return stmt.error();
  return readAll<AlertRecord>(**stmt, readAlert);
}

Result<std::optional<int64_t>> AlertStore::nextFiresAt() const {
  auto stmt = cached("SELECT min(fires_at) FROM alerts WHERE status = 'pending'");
  if (!stmt.ok()) return stmt.error();
  return readMin(**stmt);
}

// ---- notifications and deliveries --------------------------------------------------------

Result<int64_t> AlertStore::addNotification(const NotificationRecord& n) const {
  auto stmt = cached(
      "INSERT INTO notifications (host, event, created_at, body) VALUES (?, ?, ?, ?) RETURNING "
      "id");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bind(1, n.host).bind(2, n.event).bind(3, n.createdAt).bind(4, n.body);
  auto id = readMin(**stmt);
  if (!id.ok()) return id.error();
  if (!*id) return makeError(ErrorCode::kInternal, "no id for the new notification", db_.path());
  return **id;
}

Result<std::optional<NotificationRecord>> AlertStore::notification(int64_t id) const {
  auto stmt = cached("SELECT id, host, event, created_at, body FROM notifications WHERE id = ?");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bind(1, id);
  return readOne<NotificationRecord>(**stmt, [](const sqlite::Statement& s) {
    return NotificationRecord{s.columnInt(0), s.columnText(1), s.columnText(2), s.columnInt(3),
                              s.columnText(4)};
  });
}

Status AlertStore::addDelivery(const DeliveryRecord& d) const {
  auto stmt = cached(
      "INSERT INTO deliveries (notification, receiver, idempotency_key, status, next_attempt_at, "
      "created_at) VALUES (?, ?, ?, ?, ?, ?)");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)
      ->bind(1, d.notification)
      .bind(2, d.receiver)
      .bind(3, d.idempotencyKey)
      .bind(4, d.status)
      .bind(5, d.nextAttemptAt)
      .bind(6, d.createdAt)
      .run();
}

Result<std::optional<DeliveryRecord>> AlertStore::delivery(int64_t id) const {
  auto stmt = cached("SELECT " + std::string(kDeliveryColumns) +
                     " FROM deliveries d JOIN notifications n ON n.id = d.notification WHERE d.id "
                     "= ?");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bind(1, id);
  return readOne<DeliveryRecord>(**stmt, readDelivery);
}

Result<std::vector<DeliveryRecord>> AlertStore::dueDeliveries(int64_t now, size_t limit) const {
  auto stmt = cached(
      "SELECT " + std::string(kDeliveryColumns) +
      " FROM deliveries d JOIN notifications n ON n.id = d.notification WHERE d.status = "
      "'pending' AND d.next_attempt_at <= ?1 AND NOT EXISTS (SELECT 1 FROM deliveries e JOIN "
      "notifications m ON m.id = e.notification WHERE e.status = 'pending' AND e.receiver = "
      "d.receiver AND m.host = n.host AND e.id < d.id) ORDER BY d.next_attempt_at, d.id LIMIT ?2");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bind(1, now).bind(2, static_cast<int64_t>(limit));
  return readAll<DeliveryRecord>(**stmt, readDelivery);
}

Result<std::optional<int64_t>> AlertStore::nextAttemptAt(int64_t after) const {
  auto stmt = cached(
      "SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending' AND next_attempt_at > "
      "?");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bind(1, after);
  return readMin(**stmt);
}

Result<std::vector<DeliveryRecord>> AlertStore::deliveries(std::string_view status) const {
  auto stmt = cached("SELECT " + std::string(kDeliveryColumns) +
                     " FROM deliveries d JOIN notifications n ON n.id = d.notification WHERE (?1 "
                     "= '' OR d.status = ?1) ORDER BY d.id");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bind(1, status);
  return readAll<DeliveryRecord>(**stmt, readDelivery);
}

Status AlertStore::recordAttempt(const DeliveryRecord& d) const {
  auto stmt = cached(
      "UPDATE deliveries SET status = ?, attempts = ?, next_attempt_at = ?, last_attempt_at = ?, "
      "last_error = ?, delivered_at = ? WHERE id = ?");
  if (!stmt.ok()) return stmt.error();
  auto& s = **stmt;
  s.bind(1, d.status).bind(2, d.attempts).bind(3, d.nextAttemptAt).bind(5, d.lastError);
  if (d.lastAttemptAt) {
    s.bind(4, *d.lastAttemptAt);
  } else {
    s.bindNull(4);
  }
  if (d.deliveredAt) {
    s.bind(6, *d.deliveredAt);
  } else {
    s.bindNull(6);
  }
  return s.bind(7, d.id).run();
}

Status AlertStore::postpone(int64_t id, int64_t until) const {
  auto stmt = cached("UPDATE deliveries SET next_attempt_at = ? WHERE id = ?");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)->bind(1, until).bind(2, id).run();
}

Result<bool> AlertStore::revive(int64_t id, int64_t now) const {
  auto stmt = cached(
      "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ? WHERE id = ? "
      "AND status = 'dead'");
  if (!stmt.ok()) return stmt.error();
  if (auto s = (*stmt)->bind(1, now).bind(2, id).run(); !s.ok()) return s.error();
  return db_.changes() > 0;
}

Result<AlertStore::Window> AlertStore::attemptsSince(std::string_view receiver,
                                                     int64_t since) const {
  auto stmt = cached(
      "SELECT count(*), min(last_attempt_at) FROM deliveries WHERE receiver = ? AND "
      "last_attempt_at > ?");
  if (!stmt.ok()) return stmt.error();
  auto& s = **stmt;
  s.bind(1, receiver).bind(2, since);
  Window w;
  if (s.step()) {
    w.count = s.columnInt(0);
    w.oldest = optionalInt(s, 1);
  }
  Status st = s.status();
  s.reset();
  if (!st.ok()) return st.error();
  return w;
}

// ---- counters ----------------------------------------------------------------------------

Result<std::map<std::string, int64_t>> AlertStore::alertCounts() const {
  auto stmt = cached("SELECT status, count(*) FROM alerts GROUP BY status");
  if (!stmt.ok()) return stmt.error();
  return counts(**stmt);
}

Result<std::map<std::string, int64_t>> AlertStore::deliveryCounts() const {
  auto stmt = cached("SELECT status, count(*) FROM deliveries GROUP BY status");
  if (!stmt.ok()) return stmt.error();
  return counts(**stmt);
}

Result<int64_t> AlertStore::queueDepth() const {
  auto stmt = cached("SELECT count(*) FROM deliveries WHERE status = 'pending'");
  if (!stmt.ok()) return stmt.error();
  auto n = readMin(**stmt);
  if (!n.ok()) return n.error();
  return n->value_or(0);
}

}  // namespace driftwatch::aggregator
