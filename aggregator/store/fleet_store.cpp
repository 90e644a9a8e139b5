#include "aggregator/store/fleet_store.h"

#include <cerrno>

#include <nlohmann/json.hpp>
#include <sys/stat.h>

namespace driftwatch::aggregator {
namespace {

// Each entry upgrades the schema by one version; never edit a released entry, add one.
constexpr std::string_view kMigrations[] = {
    R"sql(
CREATE TABLE tokens (
  hash TEXT PRIMARY KEY,
  id TEXT NOT NULL,
  labels TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  max_uses INTEGER NOT NULL,
  uses INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE hosts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  labels TEXT NOT NULL,
  public_key BLOB NOT NULL UNIQUE,
  cert_fingerprint TEXT NOT NULL,
  enrolled_at INTEGER NOT NULL,
  last_seen INTEGER NOT NULL DEFAULT 0,
  agent_version TEXT NOT NULL DEFAULT '',
  last_address TEXT NOT NULL DEFAULT '',
  last_seq INTEGER NOT NULL DEFAULT 0,
  last_digest BLOB NOT NULL DEFAULT x'',
  state_digest BLOB NOT NULL DEFAULT x'',
  snapshot_next INTEGER,
  revoked_at INTEGER
) WITHOUT ROWID;
CREATE TABLE resources (
  host TEXT NOT NULL,
  resource TEXT NOT NULL,
  state TEXT NOT NULL,
  observed_at INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (host, resource)
) WITHOUT ROWID;
CREATE TABLE history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  host TEXT NOT NULL,
  resource TEXT NOT NULL,
  state TEXT NOT NULL,
  observed_at INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  recorded_at INTEGER NOT NULL
);
CREATE INDEX history_by_resource ON history (host, resource, id);
CREATE TABLE staging (
  host TEXT NOT NULL,
  resource TEXT NOT NULL,
  state TEXT NOT NULL,
  observed_at INTEGER NOT NULL,
  PRIMARY KEY (host, resource)
) WITHOUT ROWID;
CREATE TABLE batches (
  host TEXT NOT NULL,
  seq INTEGER NOT NULL,
  digest BLOB NOT NULL,
  batch BLOB NOT NULL,
  signature BLOB NOT NULL,
  received_at INTEGER NOT NULL,
  deltas INTEGER NOT NULL,
  PRIMARY KEY (host, seq)
) WITHOUT ROWID;
CREATE TABLE coverage (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  host TEXT NOT NULL,
  gap TEXT NOT NULL,
  payload TEXT NOT NULL,
  at INTEGER NOT NULL,
  seq INTEGER NOT NULL
);
CREATE INDEX coverage_by_host ON coverage (host, gap);
CREATE TABLE audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  event TEXT NOT NULL,
  host TEXT NOT NULL,
  peer TEXT NOT NULL,
  detail TEXT NOT NULL
);
)sql",
    // Fleet policies: every applied version is kept, as text, with who applied it and why.
    R"sql(
CREATE TABLE policy_versions (
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  text BLOB NOT NULL,
  baseline BLOB,
  sha256 TEXT NOT NULL,
  source TEXT NOT NULL,
  applied_by TEXT NOT NULL,
  applied_at INTEGER NOT NULL,
  message TEXT NOT NULL,
  git_commit TEXT NOT NULL,
  PRIMARY KEY (name, version)
) WITHOUT ROWID;
)sql",
    // Each host's clock skew (its clock minus ours, ms), measured on every accepted report.
    R"sql(
ALTER TABLE hosts ADD COLUMN clock_skew_ms INTEGER;
)sql",
    // Drift items: one row per host and resource, kept after it resolves so that a reopened
    // item is the same row (with a new first_seen) and the fleet view can show what resolved.
    R"sql(
CREATE TABLE drift (
  host TEXT NOT NULL,
  resource TEXT NOT NULL,
  policy TEXT NOT NULL,
  policy_version INTEGER NOT NULL,
  rule TEXT NOT NULL,
  change TEXT NOT NULL,
  attributes TEXT NOT NULL,
  error TEXT NOT NULL,
  severity TEXT NOT NULL,
  drift_type TEXT NOT NULL,
  direction TEXT NOT NULL,
  status TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  resolved_at INTEGER,
  PRIMARY KEY (host, resource)
) WITHOUT ROWID;
CREATE INDEX drift_by_status ON drift (status, host);
CREATE INDEX drift_by_policy ON drift (policy, status);
)sql",
    // Decisions on drift (accepted into the desired state, or waived until a date), and how
    // often an item came back after it resolved (recurring drift).
    R"sql(
ALTER TABLE drift ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE drift ADD COLUMN decided_by TEXT NOT NULL DEFAULT '';
ALTER TABLE drift ADD COLUMN decided_at INTEGER;
ALTER TABLE drift ADD COLUMN waived_until INTEGER;
ALTER TABLE drift ADD COLUMN accepted TEXT NOT NULL DEFAULT '[]';
ALTER TABLE drift ADD COLUMN reopened INTEGER NOT NULL DEFAULT 0;
)sql",
    // A removed policy is a version too: who removed it, when and why stay in its history.
    R"sql(
ALTER TABLE policy_versions ADD COLUMN removed INTEGER NOT NULL DEFAULT 0;
)sql",
    // Maintenance windows (aggregator/maintenance): drift is recorded, its alerts held.
    R"sql(
CREATE TABLE maintenance_windows (
  id INTEGER PRIMARY KEY,
  selector TEXT NOT NULL,
  starts_at INTEGER NOT NULL,
  ends_at INTEGER NOT NULL,
  reason TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX maintenance_by_end ON maintenance_windows (ends_at);
)sql",
    // Alerts (aggregator/alert/alert_store.h): at most one unresolved alert per kind, host and
    // resource; the notifications that list them, as sent; one delivery per notification and
    // receiver, with its idempotency key and retry state.
    R"sql(
CREATE TABLE alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  host TEXT NOT NULL,
  resource TEXT NOT NULL,
  severity TEXT NOT NULL,
  policy TEXT NOT NULL,
  rule TEXT NOT NULL,
  summary TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  fires_at INTEGER NOT NULL,
  fired_at INTEGER,
  acked_by TEXT,
  acked_at INTEGER,
  resolved_at INTEGER,
  notified INTEGER NOT NULL DEFAULT 0,
  resolve_notified INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX alerts_unresolved ON alerts (kind, host, resource) WHERE status != 'resolved';
CREATE INDEX alerts_by_status ON alerts (status, fires_at);
CREATE TABLE notifications (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  host TEXT NOT NULL,
  event TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE TABLE deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  notification INTEGER NOT NULL REFERENCES notifications (id),
  receiver TEXT NOT NULL,
  idempotency_key TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_attempt_at INTEGER,
  last_error TEXT NOT NULL DEFAULT '',
  delivered_at INTEGER,
  created_at INTEGER NOT NULL,
  UNIQUE (notification, receiver)
);
CREATE INDEX deliveries_by_status ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_by_receiver ON deliveries (receiver, last_attempt_at);
)sql",
    // Admin API tokens (aggregator/api/api_tokens): only a hash of each secret, by name.
    R"sql(
CREATE TABLE api_tokens (
  hash TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  last_used_at INTEGER
) WITHOUT ROWID;
-- /metrics counts and rates accepted reports by time without reading the batches themselves.
CREATE INDEX batches_by_time ON batches (received_at, deltas);
)sql",
    // What an API token may do: read the fleet, or also act on it (ack, retry, accept, waive).
    // Tokens made before scopes existed keep reading only.
    R"sql(
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'read';
)sql",
    // The fleet rules revision each host's agent holds (drift_engine.h: until it holds the
    // newest, a resource it never reported is not yet observed, not absent).
    R"sql(
ALTER TABLE hosts ADD COLUMN rules_revision INTEGER NOT NULL DEFAULT 0;
)sql",
};

constexpr std::string_view kHostColumns =
    "h.id, h.name, h.labels, h.public_key, h.cert_fingerprint, h.enrolled_at, h.last_seen, "
    "h.agent_version, h.last_address, h.last_seq, h.last_digest, h.state_digest, "
    "h.snapshot_next, h.revoked_at, (SELECT count(*) FROM resources r WHERE r.host = h.id), "
    "h.clock_skew_ms, h.rules_revision";

HostRecord readHost(const sqlite::Statement& s) {
  HostRecord h;
  h.id = s.columnText(0);
  h.name = s.columnText(1);
  h.labels = labelsFromJson(s.columnText(2));
  h.publicKey = s.columnText(3);
  h.certFingerprint = s.columnText(4);
  h.enrolledAt = s.columnInt(5);
  h.lastSeen = s.columnInt(6);
  h.agentVersion = s.columnText(7);
  h.lastAddress = s.columnText(8);
  h.lastSeq = static_cast<uint64_t>(s.columnInt(9));
  h.lastDigest = s.columnText(10);
  h.stateDigest = s.columnText(11);
  if (!s.isNull(12)) h.snapshotNext = s.columnInt(12);
  if (!s.isNull(13)) h.revokedAt = s.columnInt(13);
  h.resourceCount = s.columnInt(14);
  if (!s.isNull(15)) h.clockSkewMs = s.columnInt(15);
  h.rulesRevision = s.columnInt(16);
  return h;
}

TokenRecord readToken(const sqlite::Statement& s) {
  return TokenRecord{s.columnText(0), labelsFromJson(s.columnText(1)),
                     s.columnInt(2),  s.columnInt(3),
                     s.columnInt(4),  s.columnInt(5)};
}

Status finish(sqlite::Statement& stmt) {
  Status s = stmt.status();
  stmt.reset();
  return s;
}

}  // namespace

std::string labelsToJson(const Labels& labels) {
  return nlohmann::json(labels).dump();
}

Labels labelsFromJson(std::string_view text) {
  Labels out;
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return out;
  for (const auto& [k, v] : j.items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

Result<FleetStore> FleetStore::open(const std::string& dataDir) {
  if (::mkdir(dataDir.c_str(), 0700) != 0 && errno != EEXIST)
    return osError(errno, "cannot create the data directory", dataDir);
  struct stat st {};
  if (::stat(dataDir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return makeError(ErrorCode::kInvalidInput, "the data directory is not a directory", dataDir);
  sqlite::OpenOptions options;
  options.cacheKiB = 16 * 1024;
  // An ACCEPTED report lets the agent delete what it sent: the commit must survive a power cut.
  options.durableCommits = true;
  auto db = sqlite::Database::open(dataDir + "/" + std::string(kFileName), options);
  if (!db.ok()) return db.error();
  if (auto s = db->migrate(kMigrations); !s.ok()) return s.error();
  return FleetStore(std::move(db).value());
}

Result<sqlite::Statement*> FleetStore::cached(std::string_view sql) const {
  return statements_.get(db_, sql);
}

Result<sqlite::Transaction> FleetStore::begin() const {
  return sqlite::Transaction::begin(db_);
}

Result<sqlite::Savepoint> FleetStore::savepoint() const {
  return sqlite::Savepoint::begin(db_);
}

Status FleetStore::ping() const {
  return db_.exec("SELECT 1");
}

// ---- tokens ------------------------------------------------------------------------------

Status FleetStore::addToken(std::string_view hash, const TokenRecord& t) const {
  auto stmt = cached(
      "INSERT INTO tokens (hash, id, labels, created_at, expires_at, max_uses) VALUES (?, ?, ?, "
      "?, ?, ?)");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)
      ->bind(1, hash)
      .bind(2, t.id)
      .bind(3, labelsToJson(t.labels))
      .bind(4, t.createdAt)
      .bind(5, t.expiresAt)
      .bind(6, t.maxUses)
      .run();
}

Result<std::optional<TokenRecord>> FleetStore::token(std::string_view hash) const {
  auto stmt = cached(
      "SELECT id, labels, created_at, expires_at, max_uses, uses FROM tokens WHERE hash = ?");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bind(1, hash);
  std::optional<TokenRecord> out;
  if ((*stmt)->step()) out = readToken(**stmt);
  if (auto s = finish(**stmt); !s.ok()) return s.error();
  return out;
}

Result<std::vector<TokenRecord>> FleetStore::tokens() const {
  auto stmt = db_.prepare(
      "SELECT id, labels, created_at, expires_at, max_uses, uses FROM tokens ORDER BY created_at, "
      "id");
  if (!stmt.ok()) return stmt.error();
  std::vector<TokenRecord> out;
  while (stmt->step())
    out.push_back(readToken(*stmt));
  if (!stmt->status().ok()) return stmt->status().error();
  return out;
}

Status FleetStore::countTokenUse(std::string_view hash) const {
  auto stmt = cached("UPDATE tokens SET uses = uses + 1 WHERE hash = ?");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)->bind(1, hash).run();
}

// ---- hosts -------------------------------------------------------------------------------

Status FleetStore::addHost(const HostRecord& h) const {
  auto stmt = cached(
      "INSERT INTO hosts (id, name, labels, public_key, cert_fingerprint, enrolled_at, "
      "agent_version) VALUES (?, ?, ?, ?, ?, ?, ?)");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)
      ->bind(1, h.id)
      .bind(2, h.name)
      .bind(3, labelsToJson(h.labels))
      .bindBlob(4, h.publicKey)
      .bind(5, h.certFingerprint)
      .bind(6, h.enrolledAt)
      .bind(7, h.agentVersion)
      .run();
}

Result<std::optional<HostRecord>> FleetStore::host(std::string_view id) const {
  auto stmt = cached("SELECT " + std::string(kHostColumns) + " FROM hosts h WHERE h.id = ?");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bind(1, id);
  std::optional<HostRecord> out;
  if ((*stmt)->step()) out = readHost(**stmt);
  if (auto s = finish(**stmt); !s.ok()) return s.error();
  return out;
}

Result<std::vector<HostRecord>> FleetStore::hosts() const {
  auto stmt = db_.prepare("SELECT " + std::string(kHostColumns) + " FROM hosts h ORDER BY h.id");
  if (!stmt.ok()) return stmt.error();
  std::vector<HostRecord> out;
  while (stmt->step())
    out.push_back(readHost(*stmt));
  if (!stmt->status().ok()) return stmt->status().error();
  return out;
}

Result<bool> FleetStore::hostWithKeyExists(std::string_view publicKey) const {
  auto stmt = cached("SELECT 1 FROM hosts WHERE public_key = ?");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bindBlob(1, publicKey);
  const bool found = (*stmt)->step();
  if (auto s = finish(**stmt); !s.ok()) return s.error();
  return found;
}

Result<bool> FleetStore::revokeHost(std::string_view id, int64_t at) const {
  auto stmt = cached("UPDATE hosts SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL");
  if (!stmt.ok()) return stmt.error();
  if (auto s = (*stmt)->bind(1, at).bind(2, id).run(); !s.ok()) return s.error();
  return db_.changes() > 0;
}

Status FleetStore::setRulesRevision(std::string_view id, int64_t revision) const {
  auto stmt = cached("UPDATE hosts SET rules_revision = ? WHERE id = ?");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)->bind(1, revision).bind(2, id).run();
}

Status FleetStore::touchHost(std::string_view id, int64_t lastSeen,
                             std::string_view address) const {
  auto stmt = cached("UPDATE hosts SET last_seen = ?, last_address = ? WHERE id = ?");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)->bind(1, lastSeen).bind(2, address).bind(3, id).run();
}

Status FleetStore::advanceChain(const HostRecord& h) const {
  auto stmt = cached(
      "UPDATE hosts SET last_seq = ?, last_digest = ?, state_digest = ?, snapshot_next = ?, "
      "agent_version = ?, last_seen = ?, last_address = ?, clock_skew_ms = ? WHERE id = ?");
  if (!stmt.ok()) return stmt.error();
  auto& s = **stmt;
  s.bind(1, static_cast<int64_t>(h.lastSeq)).bindBlob(2, h.lastDigest).bindBlob(3, h.stateDigest);
  if (h.snapshotNext) {
    s.bind(4, *h.snapshotNext);
  } else {
    s.bindNull(4);
  }
  s.bind(5, h.agentVersion).bind(6, h.lastSeen).bind(7, h.lastAddress);
  if (h.clockSkewMs) {
    s.bind(8, *h.clockSkewMs);
  } else {
    s.bindNull(8);
  }
  return s.bind(9, h.id).run();
}

// ---- actual state ------------------------------------------------------------------------

Result<std::optional<StoredState>> FleetStore::resource(std::string_view host,
                                                        std::string_view resource) const {
  auto stmt = cached("SELECT state, observed_at FROM resources WHERE host = ? AND resource = ?");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bind(1, host).bind(2, resource);
  std::optional<StoredState> out;
  if ((*stmt)->step()) out = StoredState{(*stmt)->columnText(0), (*stmt)->columnInt(1)};
  if (auto s = finish(**stmt); !s.ok()) return s.error();
  return out;
}

Status FleetStore::putResource(std::string_view host, std::string_view resource,
                               std::string_view state, int64_t observedAt, uint64_t seq) const {
  auto stmt = cached(
      "INSERT INTO resources (host, resource, state, observed_at, seq) VALUES (?, ?, ?, ?, ?) ON "
      "CONFLICT (host, resource) DO UPDATE SET state = excluded.state, observed_at = "
      "excluded.observed_at, seq = excluded.seq");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)
      ->bind(1, host)
      .bind(2, resource)
      .bind(3, state)
      .bind(4, observedAt)
      .bind(5, static_cast<int64_t>(seq))
      .run();
}

Status FleetStore::removeResource(std::string_view host, std::string_view resource) const {
  auto stmt = cached("DELETE FROM resources WHERE host = ? AND resource = ?");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)->bind(1, host).bind(2, resource).run();
}

Status FleetStore::forEachResource(
    std::string_view host,
    const std::function<void(const std::string&, const StoredState&)>& fn) const {
  return forEachIn("resources", host, fn);
}

Status FleetStore::forEachResourceWithPrefix(
    std::string_view host, std::string_view prefix,
    const std::function<void(const std::string&, const StoredState&)>& fn) const {
  // A range on the primary key (BINARY collation compares bytes), so that the index is used:
  // [prefix, prefix with its last byte raised).
  std::string upper(prefix);
  while (!upper.empty() && static_cast<unsigned char>(upper.back()) == 0xff)
    upper.pop_back();
  if (!upper.empty())
    upper.back() = static_cast<char>(static_cast<unsigned char>(upper.back()) + 1);
  auto stmt = db_.prepare(
      "SELECT resource, state, observed_at FROM resources WHERE host = ?1 AND resource >= ?2 AND "
      "(?3 = '' OR resource < ?3) ORDER BY resource");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, host).bind(2, prefix).bind(3, upper);
  while (stmt->step())
    fn(stmt->columnText(0), StoredState{stmt->columnText(1), stmt->columnInt(2)});
  return stmt->status();
}

Status FleetStore::forEachIn(
    std::string_view table, std::string_view host,
    const std::function<void(const std::string&, const StoredState&)>& fn) const {
  auto stmt = db_.prepare("SELECT resource, state, observed_at FROM " + std::string(table) +
                          " WHERE host = ? ORDER BY resource");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, host);
  while (stmt->step())
    fn(stmt->columnText(0), StoredState{stmt->columnText(1), stmt->columnInt(2)});
  return stmt->status();
}

Status FleetStore::appendHistory(std::string_view host, std::string_view resource,
                                 std::string_view state, int64_t observedAt, uint64_t seq,
                                 int64_t recordedAt) const {
  auto stmt = cached(
      "INSERT INTO history (host, resource, state, observed_at, seq, recorded_at) VALUES (?, ?, "
      "?, ?, ?, ?)");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)
      ->bind(1, host)
      .bind(2, resource)
      .bind(3, state)
      .bind(4, observedAt)
      .bind(5, static_cast<int64_t>(seq))
      .bind(6, recordedAt)
      .run();
}

Result<std::vector<HistoryRow>> FleetStore::history(std::string_view host,
                                                    std::string_view resource, size_t limit) const {
  // The newest `limit` rows, returned oldest first.
  auto stmt = db_.prepare(
      "SELECT id, resource, state, observed_at, seq, recorded_at FROM (SELECT * FROM history "
      "WHERE host = ?1 AND (?2 = '' OR resource = ?2) ORDER BY id DESC LIMIT ?3) ORDER BY id");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, host).bind(2, resource).bind(3, static_cast<int64_t>(limit));
  std::vector<HistoryRow> out;
  while (stmt->step()) {
    out.push_back({stmt->columnInt(0), stmt->columnText(1), stmt->columnText(2), stmt->columnInt(3),
                   static_cast<uint64_t>(stmt->columnInt(4)), stmt->columnInt(5)});
  }
  if (!stmt->status().ok()) return stmt->status().error();
  return out;
}

// ---- snapshots being staged --------------------------------------------------------------

Status FleetStore::clearStaging(std::string_view host) const {
  auto stmt = cached("DELETE FROM staging WHERE host = ?");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)->bind(1, host).run();
}

Status FleetStore::stage(std::string_view host, std::string_view resource, std::string_view state,
                         int64_t observedAt) const {
  auto stmt = cached(
      "INSERT INTO staging (host, resource, state, observed_at) VALUES (?, ?, ?, ?) ON CONFLICT "
      "(host, resource) DO UPDATE SET state = excluded.state, observed_at = excluded.observed_at");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)->bind(1, host).bind(2, resource).bind(3, state).bind(4, observedAt).run();
}

Status FleetStore::forEachStaged(
    std::string_view host,
    const std::function<void(const std::string&, const StoredState&)>& fn) const {
  return forEachIn("staging", host, fn);
}

// ---- batches and coverage ----------------------------------------------------------------

Result<std::optional<std::string>> FleetStore::batchDigest(std::string_view host,
                                                           uint64_t seq) const {
  auto stmt = cached("SELECT digest FROM batches WHERE host = ? AND seq = ?");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bind(1, host).bind(2, static_cast<int64_t>(seq));
  std::optional<std::string> out;
  if ((*stmt)->step()) out = (*stmt)->columnText(0);
  if (auto s = finish(**stmt); !s.ok()) return s.error();
  return out;
}

Status FleetStore::addBatch(std::string_view host, uint64_t seq, std::string_view digest,
                            std::string_view batch, std::string_view signature, int64_t receivedAt,
                            int64_t deltas) const {
  auto stmt = cached(
      "INSERT INTO batches (host, seq, digest, batch, signature, received_at, deltas) VALUES (?, "
      "?, ?, ?, ?, ?, ?) ON CONFLICT (host, seq) DO UPDATE SET digest = excluded.digest, batch = "
      "excluded.batch, signature = excluded.signature, received_at = excluded.received_at, "
      "deltas = excluded.deltas");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)
      ->bind(1, host)
      .bind(2, static_cast<int64_t>(seq))
      .bindBlob(3, digest)
      .bindBlob(4, batch)
      .bindBlob(5, signature)
      .bind(6, receivedAt)
      .bind(7, deltas)
      .run();
}

Result<int64_t> FleetStore::batchCount(std::string_view host) const {
  auto stmt = cached("SELECT count(*) FROM batches WHERE host = ?");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bind(1, host);
  int64_t n = 0;
  if ((*stmt)->step()) n = (*stmt)->columnInt(0);
  if (auto s = finish(**stmt); !s.ok()) return s.error();
  return n;
}

Status FleetStore::addCoverage(std::string_view host, std::string_view gap,
                               std::string_view payload, int64_t at, uint64_t seq) const {
  auto stmt = cached("INSERT INTO coverage (host, gap, payload, at, seq) VALUES (?, ?, ?, ?, ?)");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)
      ->bind(1, host)
      .bind(2, gap)
      .bind(3, payload)
      .bind(4, at)
      .bind(5, static_cast<int64_t>(seq))
      .run();
}

// ---- audit -------------------------------------------------------------------------------

Status FleetStore::addAudit(const AuditRecord& r) const {
  auto stmt = cached("INSERT INTO audit (at, event, host, peer, detail) VALUES (?, ?, ?, ?, ?)");
  if (!stmt.ok()) return stmt.error();
  return (*stmt)
      ->bind(1, r.at)
      .bind(2, r.event)
      .bind(3, r.host)
      .bind(4, r.peer)
      .bind(5, r.detail)
      .run();
}

Result<std::vector<AuditRecord>> FleetStore::audit(size_t limit) const {
  auto stmt = db_.prepare(
      "SELECT at, event, host, peer, detail FROM (SELECT * FROM audit ORDER BY id DESC LIMIT ?) "
      "ORDER BY id");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, static_cast<int64_t>(limit));
  std::vector<AuditRecord> out;
  while (stmt->step()) {
    out.push_back({stmt->columnInt(0), stmt->columnText(1), stmt->columnText(2),
                   stmt->columnText(3), stmt->columnText(4)});
  }
  if (!stmt->status().ok()) return stmt->status().error();
  return out;
}

namespace {

PolicyVersion policyVersionFrom(const sqlite::Statement& st) {
  PolicyVersion v;
  v.name = st.columnText(0);
  v.version = st.columnInt(1);
  v.text = st.columnText(2);
  if (!st.isNull(3)) v.baseline = st.columnText(3);
  v.sha256 = st.columnText(4);
  v.source = st.columnText(5);
  v.appliedBy = st.columnText(6);
  v.appliedAt = st.columnInt(7);
  v.message = st.columnText(8);
  v.gitCommit = st.columnText(9);
  v.removed = st.columnInt(10) != 0;
  return v;
}

constexpr std::string_view kPolicyColumns =
    "name, version, text, baseline, sha256, source, applied_by, applied_at, message, git_commit, "
    "removed";

}  // namespace

Status FleetStore::addPolicyVersion(const PolicyVersion& v) const {
  auto stmt = cached(
      "INSERT INTO policy_versions (name, version, text, baseline, sha256, source, applied_by, "
      "applied_at, message, git_commit, removed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bind(1, v.name).bind(2, v.version).bindBlob(3, v.text);
  if (v.baseline) {
    (*stmt)->bindBlob(4, *v.baseline);
  } else {
    (*stmt)->bindNull(4);
  }
  return (*stmt)
      ->bind(5, v.sha256)
      .bind(6, v.source)
      .bind(7, v.appliedBy)
      .bind(8, v.appliedAt)
      .bind(9, v.message)
      .bind(10, v.gitCommit)
      .bind(11, int64_t{v.removed})
      .run();
}

Result<std::vector<PolicyVersion>> FleetStore::latestPolicies() const {
  auto stmt = db_.prepare("SELECT " + std::string(kPolicyColumns) +
                          " FROM policy_versions p WHERE version = (SELECT max(version) FROM "
                          "policy_versions WHERE name = p.name) ORDER BY name");
  if (!stmt.ok()) return stmt.error();
  std::vector<PolicyVersion> out;
  while (stmt->step())
    out.push_back(policyVersionFrom(*stmt));
  if (!stmt->status().ok()) return stmt->status().error();
  return out;
}

Result<std::vector<PolicyVersion>> FleetStore::policyHistory(std::string_view name) const {
  auto stmt = db_.prepare("SELECT " + std::string(kPolicyColumns) +
                          " FROM policy_versions WHERE name = ? ORDER BY version");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, name);
  std::vector<PolicyVersion> out;
  while (stmt->step())
    out.push_back(policyVersionFrom(*stmt));
  if (!stmt->status().ok()) return stmt->status().error();
  return out;
}

Result<std::vector<CoverageRecord>> FleetStore::coverage(std::string_view host) const {
  auto stmt = db_.prepare("SELECT gap, payload, at, seq FROM coverage WHERE host = ? ORDER BY id");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, host);
  std::vector<CoverageRecord> out;
  while (stmt->step()) {
    out.push_back({stmt->columnText(0), stmt->columnText(1), stmt->columnInt(2),
                   static_cast<uint64_t>(stmt->columnInt(3))});
  }
  if (!stmt->status().ok()) return stmt->status().error();
  return out;
}

Result<std::map<std::string, int64_t>> FleetStore::policyHeads() const {
  // With max(), SQLite takes the bare column `removed` from the row that has the maximum.
  auto stmt = cached("SELECT name, max(version), removed FROM policy_versions GROUP BY name");
  if (!stmt.ok()) return stmt.error();
  std::map<std::string, int64_t> out;
  while ((*stmt)->step()) {
    if ((*stmt)->columnInt(2) == 0) out.emplace((*stmt)->columnText(0), (*stmt)->columnInt(1));
  }
  if (auto s = finish(**stmt); !s.ok()) return s.error();
  return out;
}

Result<int64_t> FleetStore::rulesRevision() const {
  auto stmt = cached("SELECT count(*) FROM policy_versions");
  if (!stmt.ok()) return stmt.error();
  const int64_t count = (*stmt)->step() ? (*stmt)->columnInt(0) : 0;
  if (auto s = finish(**stmt); !s.ok()) return s.error();
  return count;
}

Result<std::optional<PolicyVersion>> FleetStore::policyVersion(std::string_view name,
                                                               int64_t version) const {
  auto stmt = db_.prepare("SELECT " + std::string(kPolicyColumns) +
                          " FROM policy_versions WHERE name = ? AND version = ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, name).bind(2, version);
  std::optional<PolicyVersion> out;
  if (stmt->step()) out = policyVersionFrom(*stmt);
  if (!stmt->status().ok()) return stmt->status().error();
  return out;
}

// ---- drift -------------------------------------------------------------------------------

namespace {

constexpr std::string_view kDriftColumns =
    "host, resource, policy, policy_version, rule, change, attributes, error, severity, "
    "drift_type, direction, status, first_seen, last_seen, resolved_at, reason, decided_by, "
    "decided_at, waived_until, accepted, reopened";

nlohmann::json optionalJson(const std::optional<std::string>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

std::string attributesToJson(const std::vector<DriftAttribute>& attributes) {
  auto out = nlohmann::json::array();
  for (const auto& a : attributes) {
    out.push_back({{"name", a.name},
                   {"desired", optionalJson(a.desired)},
                   {"actual", optionalJson(a.actual)}});
  }
  // Values are raw bytes (a symlink target may be anything): replaced, never thrown on.
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<DriftAttribute> attributesFromJson(std::string_view text) {
  std::vector<DriftAttribute> out;
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array()) return out;
  const auto optional = [](const nlohmann::json& v) -> std::optional<std::string> {
    if (v.is_string()) return v.get<std::string>();
    return std::nullopt;
  };
  for (const auto& a : j) {
    if (!a.is_object() || !a.contains("name") || !a["name"].is_string()) continue;
    DriftAttribute attr;
    attr.name = a["name"].get<std::string>();
    if (a.contains("desired")) attr.desired = optional(a["desired"]);
    if (a.contains("actual")) attr.actual = optional(a["actual"]);
    out.push_back(std::move(attr));
  }
  return out;
}

DriftRecord readDrift(const sqlite::Statement& s) {
  DriftRecord d;
  d.host = s.columnText(0);
  d.resource = s.columnText(1);
  d.policy = s.columnText(2);
  d.policyVersion = s.columnInt(3);
  d.rule = s.columnText(4);
  d.change = s.columnText(5);
  d.attributes = attributesFromJson(s.columnText(6));
  d.error = s.columnText(7);
  d.severity = s.columnText(8);
  d.driftType = s.columnText(9);
  d.direction = s.columnText(10);
  d.status = s.columnText(11);
  d.firstSeen = s.columnInt(12);
  d.lastSeen = s.columnInt(13);
  if (!s.isNull(14)) d.resolvedAt = s.columnInt(14);
  d.reason = s.columnText(15);
  d.decidedBy = s.columnText(16);
  if (!s.isNull(17)) d.decidedAt = s.columnInt(17);
  if (!s.isNull(18)) d.waivedUntil = s.columnInt(18);
  d.accepted = attributesFromJson(s.columnText(19));
  d.reopened = s.columnInt(20);
  return d;
}

}  // namespace

Status FleetStore::putDrift(const DriftRecord& d) const {
  auto stmt = cached("INSERT OR REPLACE INTO drift (" + std::string(kDriftColumns) +
                     ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!stmt.ok()) return stmt.error();
  auto& s = **stmt;
  s.bind(1, d.host)
      .bind(2, d.resource)
      .bind(3, d.policy)
      .bind(4, d.policyVersion)
      .bind(5, d.rule)
      .bind(6, d.change)
      .bind(7, attributesToJson(d.attributes))
      .bind(8, d.error)
      .bind(9, d.severity)
      .bind(10, d.driftType)
      .bind(11, d.direction)
      .bind(12, d.status)
      .bind(13, d.firstSeen)
      .bind(14, d.lastSeen);
  const auto bindOptional = [&s](int index, const std::optional<int64_t>& v) {
    if (v) {
      s.bind(index, *v);
    } else {
      s.bindNull(index);
    }
  };
  bindOptional(15, d.resolvedAt);
  s.bind(16, d.reason).bind(17, d.decidedBy);
  bindOptional(18, d.decidedAt);
  bindOptional(19, d.waivedUntil);
  s.bind(20, attributesToJson(d.accepted)).bind(21, d.reopened);
  return s.run();
}

Result<std::optional<DriftRecord>> FleetStore::drift(std::string_view host,
                                                     std::string_view resource) const {
  auto stmt = cached("SELECT " + std::string(kDriftColumns) +
                     " FROM drift WHERE host = ? AND resource = ?");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bind(1, host).bind(2, resource);
  std::optional<DriftRecord> out;
  if ((*stmt)->step()) out = readDrift(**stmt);
  if (auto s = finish(**stmt); !s.ok()) return s.error();
  return out;
}

Result<bool> FleetStore::hasActiveDrift(std::string_view host) const {
  auto stmt = cached(
      "SELECT 1 FROM drift WHERE status IN ('open', 'accepted', 'waived') AND host = ? LIMIT 1");
  if (!stmt.ok()) return stmt.error();
  (*stmt)->bind(1, host);
  const bool found = (*stmt)->step();
  if (auto s = finish(**stmt); !s.ok()) return s.error();
  return found;
}

Result<bool> FleetStore::resolveDrift(std::string_view host, std::string_view resource,
                                      int64_t at) const {
  auto stmt = cached(
      "UPDATE drift SET status = 'resolved', resolved_at = ?, reason = '', decided_by = '', "
      "decided_at = NULL, waived_until = NULL, accepted = '[]' WHERE host = ? AND resource = ? AND "
      "status IN ('open', 'accepted', 'waived')");
  if (!stmt.ok()) return stmt.error();
  if (auto s = (*stmt)->bind(1, at).bind(2, host).bind(3, resource).run(); !s.ok())
    return s.error();
  return db_.changes() > 0;
}

Result<std::vector<DriftRecord>> FleetStore::driftItems(const DriftFilter& f) const {
  auto stmt = db_.prepare("SELECT " + std::string(kDriftColumns) +
                          " FROM drift WHERE (?1 = '' OR host = ?1) AND (?2 = '' OR status = ?2 OR "
                          "(?2 = 'active' AND status IN ('open', 'accepted', 'waived'))) "
                          "AND (?3 = '' OR severity = ?3) AND (?4 = '' OR direction = ?4) AND "
                          "(?5 = '' OR policy = ?5) ORDER BY host, resource");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, f.host)
      .bind(2, f.status)
      .bind(3, f.severity)
      .bind(4, f.direction)
      .bind(5, f.policy);
  std::vector<DriftRecord> out;
  while (stmt->step())
    out.push_back(readDrift(*stmt));
  if (!stmt->status().ok()) return stmt->status().error();
  return out;
}

}  // namespace driftwatch::aggregator
