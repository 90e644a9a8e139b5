#include "aggregator/maintenance/maintenance_windows.h"

#include "common/base/strings.h"
#include "common/model/labels.h"

namespace driftwatch::aggregator {
namespace {

constexpr std::string_view kColumns =
    "id, selector, starts_at, ends_at, reason, created_by, created_at";

MaintenanceWindow readWindow(const sqlite::Statement& s) {
  MaintenanceWindow w;
  w.id = s.columnInt(0);
  w.selector = labelsFromJson(s.columnText(1));
  w.startsAt = s.columnInt(2);
  w.endsAt = s.columnInt(3);
  w.reason = s.columnText(4);
  w.createdBy = s.columnText(5);
  w.createdAt = s.columnInt(6);
  return w;
}

}  // namespace

Result<MaintenanceWindow> MaintenanceWindows::add(MaintenanceWindow w, int64_t now) const {
  if (trim(w.reason).empty())
    return makeError(ErrorCode::kInvalidInput, "give the reason with --reason",
                     "maintenance window");
  if (w.endsAt <= w.startsAt)
    return makeError(ErrorCode::kInvalidInput, "its end must come after its start",
                     "maintenance window");
  if (w.endsAt <= now)
    return makeError(ErrorCode::kInvalidInput, "it would be over already: its end is in the past",
                     "maintenance window");
  const auto& db = store_.database();
  auto stmt = db.prepare(
      "INSERT INTO maintenance_windows (selector, starts_at, ends_at, reason, created_by, "
      "created_at) VALUES (?, ?, ?, ?, ?, ?)");
  if (!stmt.ok()) return stmt.error();
  if (auto s = stmt->bind(1, labelsToJson(w.selector))
                   .bind(2, w.startsAt)
                   .bind(3, w.endsAt)
                   .bind(4, w.reason)
                   .bind(5, w.createdBy)
                   .bind(6, w.createdAt)
                   .run();
      !s.ok())
    return s.error();
  auto id = db.prepare("SELECT last_insert_rowid()");
  if (!id.ok()) return id.error();
  if (!id->step())
    return id->status().ok() ? makeError(ErrorCode::kInternal, "no row id") : id->status().error();
  w.id = id->columnInt(0);
  return w;
}

Result<bool> MaintenanceWindows::end(int64_t id, int64_t now) const {
  const auto& db = store_.database();
  // A window that has not started is dropped; a current one ends now.
  auto drop = db.prepare("DELETE FROM maintenance_windows WHERE id = ? AND starts_at > ?");
  if (!drop.ok()) return drop.error();
  if (auto s = drop->bind(1, id).bind(2, now).run(); !s.ok()) return s.error();
  if (db.changes() > 0) return true;
  auto stop = db.prepare("UPDATE maintenance_windows SET ends_at = ? WHERE id = ? AND ends_at > ?");
  if (!stop.ok()) return stop.error();
  if (auto s = stop->bind(1, now).bind(2, id).bind(3, now).run(); !s.ok()) return s.error();
  return db.changes() > 0;
}

Result<std::vector<MaintenanceWindow>> MaintenanceWindows::list(int64_t now, bool all) const {
  auto stmt = store_.database().prepare("SELECT " + std::string(kColumns) +
                                        " FROM maintenance_windows WHERE ?1 OR ends_at > ?2 "
                                        "ORDER BY starts_at, id");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, int64_t{all}).bind(2, now);
  std::vector<MaintenanceWindow> out;
  while (stmt->step())
    out.push_back(readWindow(*stmt));
  if (!stmt->status().ok()) return stmt->status().error();
  return out;
}

Result<std::optional<int64_t>> MaintenanceWindows::heldUntil(const Labels& hostLabels,
                                                             int64_t now) const {
  auto stmt =
      store_.database().prepare("SELECT " + std::string(kColumns) +
                                " FROM maintenance_windows WHERE starts_at <= ?1 AND ends_at > ?1");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, now);
  std::optional<int64_t> until;
  while (stmt->step()) {
    const MaintenanceWindow w = readWindow(*stmt);
    if (model::selects(w.selector, hostLabels) && (!until || w.endsAt > *until)) until = w.endsAt;
  }
  if (!stmt->status().ok()) return stmt->status().error();
  return until;
}

}  // namespace driftwatch::aggregator
