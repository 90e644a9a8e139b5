#include "agent/store/state_db.h"

#include <cerrno>
#include <chrono>
#include <memory>

#include <sys/stat.h>

#include "common/base/strings.h"
#include "common/crypto/state_digest.h"
#include "common/model/file_attrs_text.h"

namespace driftwatch::agent {
namespace {

// Each entry upgrades the schema by one version; never edit a released entry, add one.
constexpr std::string_view kMigrations[] = {
    R"sql(
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE resources (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  stamp TEXT NOT NULL DEFAULT '',
  observed_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE drift (
  id TEXT PRIMARY KEY,
  item TEXT NOT NULL,
  severity INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_changed INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  resource TEXT NOT NULL,
  payload TEXT NOT NULL
);
CREATE TABLE gaps (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  scope TEXT NOT NULL,
  detail TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER
);
CREATE INDEX gaps_open ON gaps (ended_at);
CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  line TEXT NOT NULL
);
CREATE TABLE scans (
  kind TEXT PRIMARY KEY,
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  entries INTEGER NOT NULL,
  changes INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // 2: the baseline lives here while the daemon runs, not in memory: 100,000 entries would
    // otherwise cost more resident memory than everything else together.
    R"sql(
CREATE TABLE baseline (
  path BLOB PRIMARY KEY,
  attrs TEXT NOT NULL
) WITHOUT ROWID;
)sql",
    // 3: reporting to the aggregator. An outbox entry keeps the digest term of the state it
    // replaced, so a batch can say what the aggregator's copy must add up to; outbox times are
    // milliseconds from here on. Signed batches wait in uplink_batches until answered.
    R"sql(
ALTER TABLE outbox ADD COLUMN prev_term BLOB NOT NULL DEFAULT x'';
CREATE TABLE uplink_batches (
  seq INTEGER PRIMARY KEY,
  signed BLOB NOT NULL,
  digest BLOB NOT NULL,
  state_digest BLOB NOT NULL,
  outbox_upto INTEGER NOT NULL,
  ready INTEGER NOT NULL
);
)sql",
};

std::string dbPath(const std::string& stateDir) {
  return stateDir + "/" + std::string(StateDb::kFileName);
}

// The first id past every id that starts with `prefix`.
std::string prefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff)
    end.pop_back();
  if (!end.empty()) end.back() = static_cast<char>(end.back() + 1);
  return end;
}

// Ends a single-row read: the status, then a reset so the statement holds no read snapshot.
Status finish(sqlite::Statement& stmt) {
  Status s = stmt.status();
  stmt.reset();
  return s;
}

}  // namespace

int64_t unixNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<StateDb> StateDb::openForWriting(const std::string& stateDir) {
  if (::mkdir(stateDir.c_str(), 0700) != 0 && errno != EEXIST) {
    return osError(errno, "cannot create the state directory", stateDir);
  }
  struct stat st {};
  if (::lstat(stateDir.c_str(), &st) != 0)
    return osError(errno, "cannot open the state directory", stateDir);
  if (!S_ISDIR(st.st_mode))
    return makeError(ErrorCode::kInvalidInput, "the state directory is not a directory", stateDir);
  auto db = sqlite::Database::open(dbPath(stateDir));
  if (!db.ok()) return db.error();
  if (auto s = db->migrate(kMigrations); !s.ok()) return s.error();
  return StateDb(std::move(db).value());
}

Result<StateDb> StateDb::openForReading(const std::string& stateDir) {
  sqlite::OpenOptions options;
  options.readOnly = true;
  auto db = sqlite::Database::open(dbPath(stateDir), options);
  if (!db.ok()) return db.error();
  return StateDb(std::move(db).value());
}

Result<sqlite::Statement*> StateDb::cached(std::string_view sql) const {
  return statements_.get(db_, sql);
}

Result<std::optional<StoredResource>> StateDb::resource(std::string_view id) const {
  auto stmt = cached("SELECT state, stamp, observed_at FROM resources WHERE id = ?");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bind(1, id);
  std::optional<StoredResource> out;
  if ((*stmt)->step())
    out = StoredResource{(*stmt)->columnText(0), (*stmt)->columnText(1), (*stmt)->columnInt(2)};
  if (auto s = finish(**stmt); !s.ok()) return s.error();
  return out;
}

Status StateDb::forEachResourceId(std::string_view prefix,
                                  const std::function<void(const std::string&)>& fn) const {
  auto stmt = db_.prepare("SELECT id FROM resources WHERE id >= ? AND id < ? ORDER BY id");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, prefix).bind(2, prefixEnd(prefix));
  while (stmt->step())
    fn(stmt->columnText(0));
  return stmt->status();
}

Status StateDb::forEachResource(
    const std::function<void(const std::string&, const StoredResource&)>& fn) const {
  auto stmt = db_.prepare("SELECT id, state, stamp FROM resources ORDER BY id");
  if (!stmt.ok()) return stmt.error();
  while (stmt->step())
    fn(stmt->columnText(0), StoredResource{stmt->columnText(1), stmt->columnText(2)});
  return stmt->status();
}

Result<std::optional<StoredDrift>> StateDb::drift(std::string_view id) const {
  auto stmt = cached("SELECT item, severity, first_seen, last_changed FROM drift WHERE id = ?");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bind(1, id);
  std::optional<StoredDrift> out;
  if ((*stmt)->step()) {
    out = StoredDrift{std::string(id), (*stmt)->columnText(0),
                      static_cast<int>((*stmt)->columnInt(1)), (*stmt)->columnInt(2),
                      (*stmt)->columnInt(3)};
  }
  if (auto s = finish(**stmt); !s.ok()) return s.error();
  return out;
}

Result<std::vector<StoredDrift>> StateDb::allDrift() const {
  auto stmt =
      db_.prepare("SELECT id, item, severity, first_seen, last_changed FROM drift ORDER BY id");
  if (!stmt.ok()) return stmt.error();
  std::vector<StoredDrift> out;
  while (stmt->step()) {
    out.push_back({stmt->columnText(0), stmt->columnText(1), static_cast<int>(stmt->columnInt(2)),
                   stmt->columnInt(3), stmt->columnInt(4)});
  }
  if (!stmt->status().ok()) return stmt->status().error();
  return out;
}

Result<std::vector<Gap>> StateDb::gaps(bool openOnly, size_t limit) const {
  auto stmt = db_.prepare(
      openOnly
          ? "SELECT id, kind, scope, detail, started_at, ended_at FROM gaps WHERE ended_at IS NULL "
            "ORDER BY id DESC LIMIT ?"
          : "SELECT id, kind, scope, detail, started_at, ended_at FROM gaps ORDER BY id DESC LIMIT "
            "?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, static_cast<int64_t>(limit));
  std::vector<Gap> out;
  while (stmt->step()) {
    Gap g{stmt->columnInt(0),  stmt->columnText(1), stmt->columnText(2),
          stmt->columnText(3), stmt->columnInt(4),  {}};
    if (!stmt->isNull(5)) g.endedAt = stmt->columnInt(5);
    out.push_back(std::move(g));
  }
  if (!stmt->status().ok()) return stmt->status().error();
  return out;
}

Result<std::vector<ScanRecord>> StateDb::scans() const {
  auto stmt = db_.prepare(
      "SELECT kind, started_at, finished_at, entries, changes FROM scans ORDER BY kind");
  if (!stmt.ok()) return stmt.error();
  std::vector<ScanRecord> out;
  while (stmt->step()) {
    out.push_back({stmt->columnText(0), stmt->columnInt(1), stmt->columnInt(2), stmt->columnInt(3),
                   stmt->columnInt(4)});
  }
  if (!stmt->status().ok()) return stmt->status().error();
  return out;
}

Result<int64_t> StateDb::queuedEventCount() const {
  auto stmt = db_.prepare("SELECT count(*) FROM events");
  if (!stmt.ok()) return stmt.error();
  int64_t n = 0;
  if (stmt->step()) n = stmt->columnInt(0);
  if (!stmt->status().ok()) return stmt->status().error();
  return n;
}

Result<int64_t> StateDb::outboxDepth() const {
  auto stmt = db_.prepare("SELECT count(*) FROM outbox");
  if (!stmt.ok()) return stmt.error();
  int64_t n = 0;
  if (stmt->step()) n = stmt->columnInt(0);
  if (!stmt->status().ok()) return stmt->status().error();
  return n;
}

Result<std::optional<std::string>> StateDb::meta(std::string_view key) const {
  auto stmt = cached("SELECT value FROM meta WHERE key = ?");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bind(1, key);
  std::optional<std::string> out;
  if ((*stmt)->step()) out = (*stmt)->columnText(0);
  if (auto s = finish(**stmt); !s.ok()) return s.error();
  return out;
}

Result<sqlite::Transaction> StateDb::begin() const {
  return sqlite::Transaction::begin(db_);
}

Status StateDb::putResource(std::string_view id, std::string_view state, std::string_view stamp,
                            int64_t observedAt) const {
  auto stmt = cached(
      "INSERT INTO resources (id, state, stamp, observed_at) VALUES (?, ?, ?, ?) "
      "ON CONFLICT (id) DO UPDATE SET state = excluded.state, stamp = excluded.stamp, observed_at "
      "= excluded.observed_at");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)->bind(1, id).bind(2, state).bind(3, stamp).bind(4, observedAt).run();
}

Status StateDb::removeResource(std::string_view id) const {
  auto stmt = cached("DELETE FROM resources WHERE id = ?");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)->bind(1, id).run();
}

Status StateDb::appendStateChange(std::string_view resource, std::string_view state,
                                  const std::optional<std::string_view>& previous,
                                  int64_t nowMs) const {
  if (outboxClosed()) return {};
  std::string prevTerm;
  if (previous) {
    const auto term = crypto::StateDigest::term(resource, *previous);
    prevTerm.assign(term.begin(), term.end());
  }
  auto stmt = cached(
      "INSERT INTO outbox (at, kind, resource, payload, prev_term) VALUES (?, 'state', ?, ?, ?)");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)->bind(1, nowMs).bind(2, resource).bind(3, state).bindBlob(4, prevTerm).run();
}

Status StateDb::appendCoverage(std::string_view gap, std::string_view payload,
                               int64_t nowMs) const {
  if (outboxClosed()) return {};
  auto stmt = cached("INSERT INTO outbox (at, kind, resource, payload) VALUES (?, 'gap', ?, ?)");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)->bind(1, nowMs).bind(2, gap).bind(3, payload).run();
}

Result<std::string> StateDb::stateDigestHex() const {
  crypto::StateDigest digest;
  auto stmt = db_.prepare("SELECT id, state FROM resources");
  if (!stmt.ok()) return stmt.error();
  while (stmt->step())
    digest.add(stmt->columnText(0), stmt->columnText(1));
  if (!stmt->status().ok()) return stmt->status().error();
  return digest.hex();
}

Status StateDb::putDrift(const StoredDrift& d) const {
  auto stmt = cached(
      "INSERT INTO drift (id, item, severity, first_seen, last_changed) VALUES (?, ?, ?, ?, ?) "
      "ON CONFLICT (id) DO UPDATE SET item = excluded.item, severity = excluded.severity, "
      "last_changed = excluded.last_changed");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)
      ->bind(1, d.resource)
      .bind(2, d.item)
      .bind(3, int64_t{d.severity})
      .bind(4, d.firstSeen)
      .bind(5, d.lastChanged)
      .run();
}

Status StateDb::removeDrift(std::string_view id) const {
  auto stmt = cached("DELETE FROM drift WHERE id = ?");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)->bind(1, id).run();
}

Result<int64_t> StateDb::openGap(std::string_view kind, std::string_view scope,
                                 std::string_view detail, int64_t startedAt) const {
  auto stmt =
      cached("INSERT INTO gaps (kind, scope, detail, started_at) VALUES (?, ?, ?, ?) RETURNING id");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bind(1, kind).bind(2, scope).bind(3, detail).bind(4, startedAt);
  int64_t id = 0;
  if ((*stmt)->step()) id = (*stmt)->columnInt(0);
  (*stmt)->step();
  if (auto s = finish(**stmt); !s.ok()) return s.error();
  return id;
}

Result<bool> StateDb::closeGap(int64_t id, int64_t endedAt) const {
  auto stmt = cached("UPDATE gaps SET ended_at = ? WHERE id = ? AND ended_at IS NULL");
  if (!stmt.ok()) return stmt.error();
  if (auto s = (*stmt)->bind(1, endedAt).bind(2, id).run(); !s.ok()) return s.error();
  return db_.changes() > 0;
}

Status StateDb::putScan(const ScanRecord& scan) const {
  auto stmt = cached(
      "INSERT INTO scans (kind, started_at, finished_at, entries, changes) VALUES (?, ?, ?, ?, ?) "
      "ON CONFLICT (kind) DO UPDATE SET started_at = excluded.started_at, finished_at = "
      "excluded.finished_at, "
      "entries = excluded.entries, changes = excluded.changes");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)
      ->bind(1, scan.kind)
      .bind(2, scan.startedAt)
      .bind(3, scan.finishedAt)
      .bind(4, scan.entries)
      .bind(5, scan.changes)
      .run();
}

Status StateDb::replaceBaseline(const baseline::Baseline& b) const {
  if (auto s = db_.exec("DELETE FROM baseline"); !s.ok()) return s;
  auto stmt = cached("INSERT INTO baseline (path, attrs) VALUES (?, ?)");
  if (!stmt.ok()) return stmt.error();
  for (const auto& e : b.entries) {
    (*stmt)->reset();
    if (auto s = (*stmt)->bindBlob(1, e.path).bind(2, model::formatFileAttrs(e.attrs)).run();
        !s.ok())
      return s;
  }
  return {};
}

namespace {

Result<baseline::BaselineEntry> entryFromRow(std::string path, std::string_view attrs) {
  baseline::BaselineEntry e;
  e.path = std::move(path);
  if (attrs.empty()) return e;
  for (const auto field : split(attrs, '\t')) {
    if (auto err = model::parseFileAttrField(field, e.attrs)) {
      return makeError(ErrorCode::kInvalidInput,
                       "stored baseline entry is damaged: " + err->message, e.path);
    }
  }
  return e;
}

}  // namespace

Result<std::optional<baseline::BaselineEntry>> StateDb::baselineEntry(std::string_view path) const {
  auto stmt = cached("SELECT attrs FROM baseline WHERE path = ?");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bindBlob(1, path);
  std::optional<std::string> attrs;
  if ((*stmt)->step()) attrs = (*stmt)->columnText(0);
  if (auto s = finish(**stmt); !s.ok()) return s.error();
  if (!attrs) return std::optional<baseline::BaselineEntry>();
  auto e = entryFromRow(std::string(path), *attrs);
  if (!e.ok()) return e.error();
  return std::optional<baseline::BaselineEntry>(std::move(e).value());
}

Status StateDb::forEachBaselineBelow(
    std::string_view root, const std::function<void(const baseline::BaselineEntry&)>& fn) const {
  // Below root: the paths that start with root + "/", contiguous in byte order.
  std::string prefix(root);
  if (prefix != "/") prefix += '/';
  std::string limit = prefix;
  limit.back() = static_cast<char>('/' + 1);
  auto stmt =
      db_.prepare("SELECT path, attrs FROM baseline WHERE path >= ? AND path < ? ORDER BY path");
  if (!stmt.ok()) return stmt.error();
  stmt->bindBlob(1, prefix).bindBlob(2, limit);
  while (stmt->step()) {
    auto e = entryFromRow(stmt->columnText(0), stmt->columnText(1));
    if (!e.ok()) return e.error();
    fn(*e);
  }
  return stmt->status();
}

Status StateDb::queueEvent(std::string_view line) const {
  auto stmt = cached("INSERT INTO events (line) VALUES (?)");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)->bind(1, line).run();
}

Result<std::vector<std::pair<int64_t, std::string>>> StateDb::queuedEvents() const {
  auto stmt = db_.prepare("SELECT seq, line FROM events ORDER BY seq");
  if (!stmt.ok()) return stmt.error();
  std::vector<std::pair<int64_t, std::string>> out;
  while (stmt->step())
    out.emplace_back(stmt->columnInt(0), stmt->columnText(1));
  if (!stmt->status().ok()) return stmt->status().error();
  return out;
}

Status StateDb::dropEventsUpTo(int64_t seq) const {
  auto stmt = cached("DELETE FROM events WHERE seq <= ?");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)->bind(1, seq).run();
}

Status StateDb::removeScan(std::string_view kind) const {
  auto stmt = cached("DELETE FROM scans WHERE kind = ?");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)->bind(1, kind).run();
}

Status StateDb::setMeta(std::string_view key, std::string_view value) const {
  auto stmt = cached(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = "
      "excluded.value");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)->bind(1, key).bind(2, value).run();
}

}  // namespace driftwatch::agent
