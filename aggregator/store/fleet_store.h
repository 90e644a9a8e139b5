#pragma once
// The aggregator's fleet store, in SQLite (WAL) in its data directory (fleet.db): enrolled
// hosts, enrollment tokens (hashed), each host's actual state resource by resource with its
// history, the batches as they were signed, coverage gaps, and the audit trail. Data access
// only: the rules (what a token allows, how a report is checked) live with their handlers.
//
// One FleetStore per thread: the server's store thread holds one, the admin commands open
// their own (WAL lets them run beside a serving aggregator).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/model/labels.h"
#include "common/sqlite/database.h"

namespace driftwatch::aggregator {

using Labels = model::Labels;

struct TokenRecord {
  std::string id;  // a short public handle (never the token itself)
  Labels labels;
  int64_t createdAt = 0;
  int64_t expiresAt = 0;  // unix seconds
  int64_t maxUses = 0;
  int64_t uses = 0;
};

struct HostRecord {
  std::string id;
  std::string name;  // the hostname the agent reported
  Labels labels;
  std::string publicKey;  // Ed25519, 32 bytes
  std::string certFingerprint;
  int64_t enrolledAt = 0;
  int64_t lastSeen = 0;  // 0: never reported
  std::string agentVersion;
  std::string lastAddress;
  uint64_t lastSeq = 0;
  std::string lastDigest;               // SHA-256 of the batch at lastSeq; empty before the first
  std::string stateDigest;              // of the stored resources, 32 bytes
  std::optional<int64_t> snapshotNext;  // next part of a snapshot being staged
  std::optional<int64_t> revokedAt;
  int64_t resourceCount = 0;
  std::optional<int64_t> clockSkewMs;  // the host's clock minus ours; unknown before a report
  int64_t rulesRevision = 0;           // the fleet rules revision its agent last said it holds
};

struct StoredState {
  std::string state;
  int64_t observedAt = 0;
};

struct HistoryRow {
  int64_t id = 0;
  std::string resource;
  std::string state;
  int64_t observedAt = 0;  // agent clock, ms
  uint64_t seq = 0;
  int64_t recordedAt = 0;  // aggregator clock, ms
};

// One coverage event an agent reported: a gap opened (kind, scope, detail, started_at) or
// closed (ended_at), as the JSON the agent sent.
struct CoverageRecord {
  std::string gap;  // the agent's gap id
  std::string payload;
  int64_t at = 0;  // agent clock, ms
  uint64_t seq = 0;
};

// One applied version of a fleet policy, as it was applied.
struct PolicyVersion {
  std::string name;
  int64_t version = 0;                  // 1, 2, ... per name
  std::string text;                     // the policy file's bytes
  std::optional<std::string> baseline;  // its baseline file's bytes, when it has one
  std::string sha256;                   // of text and baseline, to tell an unchanged apply
  std::string source;                   // the path it was applied from
  std::string appliedBy;
  int64_t appliedAt = 0;  // unix seconds
  std::string message;
  std::string gitCommit;  // "" outside a git checkout; "+dirty" when the file had changes
  bool removed = false;   // this version removes the policy (no text); applying it again adds one
};

// One attribute of a drift item; nullopt: no value (absent, or could not be observed).
struct DriftAttribute {
  std::string name;
  std::optional<std::string> desired;
  std::optional<std::string> actual;
};

// A drift item as stored: one per host and resource (see docs/aggregator.md, "Drift").
struct DriftRecord {
  std::string host;
  std::string resource;  // "file:/etc/motd"
  std::string policy;    // the policy whose rule found it
  int64_t policyVersion = 0;
  std::string rule;    // where the rule was written: "web.yaml:4:5 (files[0])"
  std::string change;  // modified, added, removed
  std::vector<DriftAttribute> attributes;
  std::string error;  // why the actual state could not be fully observed; "" when it could
  std::string severity;
  std::string driftType;  // configuration
  std::string direction;  // managed, definition
  std::string status;     // open, accepted, waived, resolved
  int64_t firstSeen = 0;  // ms, aggregator clock; reset when a resolved item opens again
  int64_t lastSeen = 0;
  std::optional<int64_t> resolvedAt;
  // The decision on an accepted or waived item: why, who, when (ms), until when (waived, ms),
  // and the attributes as they were accepted (the actual values that are now the host's).
  std::string reason;
  std::string decidedBy;
  std::optional<int64_t> decidedAt;
  std::optional<int64_t> waivedUntil;
  std::vector<DriftAttribute> accepted;
  int64_t reopened = 0;  // how often it came back after it had resolved
};

// Which drift items to list; an empty field matches everything.
struct DriftFilter {
  std::string host;
  std::string status;  // one status, or "active": open, accepted or waived
  std::string severity;
  std::string direction;
  std::string policy;
};

struct AuditRecord {
  int64_t at = 0;  // ms
  std::string event;
  std::string host;
  std::string peer;
  std::string detail;
};

class FleetStore {
 public:
  static constexpr std::string_view kFileName = "fleet.db";

  static Result<FleetStore> open(const std::string& dataDir);

  Result<sqlite::Transaction> begin() const;
  // A unit inside the open transaction, undone alone unless released.
  Result<sqlite::Savepoint> savepoint() const;
  // Whether the database answers (for health checks).
  Status ping() const;

  // ---- tokens ----
  Status addToken(std::string_view hash, const TokenRecord& token) const;
  Result<std::optional<TokenRecord>> token(std::string_view hash) const;
  Result<std::vector<TokenRecord>> tokens() const;
  Status countTokenUse(std::string_view hash) const;

  // ---- hosts ----
  Status addHost(const HostRecord& host) const;
  Result<std::optional<HostRecord>> host(std::string_view id) const;
  Result<std::vector<HostRecord>> hosts() const;
  Result<bool> hostWithKeyExists(std::string_view publicKey) const;
  // Returns false when there is no such host or it was revoked already.
  Result<bool> revokeHost(std::string_view id, int64_t at) const;
  // Records the fleet rules revision the host's agent says it holds (0: none of ours).
  Status setRulesRevision(std::string_view id, int64_t revision) const;
  Status touchHost(std::string_view id, int64_t lastSeen, std::string_view address) const;
  Status advanceChain(const HostRecord& host) const;  // lastSeq, lastDigest, stateDigest, ...

  // ---- actual state ----
  Result<std::optional<StoredState>> resource(std::string_view host,
                                              std::string_view resource) const;
  Status putResource(std::string_view host, std::string_view resource, std::string_view state,
                     int64_t observedAt, uint64_t seq) const;
  Status removeResource(std::string_view host, std::string_view resource) const;
  Status forEachResource(
      std::string_view host,
      const std::function<void(const std::string&, const StoredState&)>& fn) const;
  // Only the resources whose name starts with `prefix` ("file:/etc/", "user:"), in order.
  Status forEachResourceWithPrefix(
      std::string_view host, std::string_view prefix,
      const std::function<void(const std::string&, const StoredState&)>& fn) const;
  Status appendHistory(std::string_view host, std::string_view resource, std::string_view state,
                       int64_t observedAt, uint64_t seq, int64_t recordedAt) const;
  Result<std::vector<HistoryRow>> history(std::string_view host, std::string_view resource,
                                          size_t limit) const;

  // ---- snapshots being staged ----
  Status clearStaging(std::string_view host) const;
  Status stage(std::string_view host, std::string_view resource, std::string_view state,
               int64_t observedAt) const;
  Status forEachStaged(std::string_view host,
                       const std::function<void(const std::string&, const StoredState&)>& fn) const;

  // ---- batches and coverage ----
  Result<std::optional<std::string>> batchDigest(std::string_view host, uint64_t seq) const;
  Status addBatch(std::string_view host, uint64_t seq, std::string_view digest,
                  std::string_view batch, std::string_view signature, int64_t receivedAt,
                  int64_t deltas) const;
  Result<int64_t> batchCount(std::string_view host) const;
  Status addCoverage(std::string_view host, std::string_view gap, std::string_view payload,
                     int64_t at, uint64_t seq) const;
  Result<std::vector<CoverageRecord>> coverage(std::string_view host) const;

  // ---- fleet policies ----
  Status addPolicyVersion(const PolicyVersion& version) const;
  // The newest version of every policy, by name, removals included (see PolicyVersion::removed).
  Result<std::vector<PolicyVersion>> latestPolicies() const;
  // Every version of one policy, oldest first.
  Result<std::vector<PolicyVersion>> policyHistory(std::string_view name) const;
  // The newest version number of every policy that is not removed, by name, without reading
  // the texts.
  Result<std::map<std::string, int64_t>> policyHeads() const;
  // The fleet rules revision: how many policy versions have been stored. It only grows, so an
  // agent that holds this revision has been sent every version there is.
  Result<int64_t> rulesRevision() const;
  Result<std::optional<PolicyVersion>> policyVersion(std::string_view name, int64_t version) const;

  // ---- drift ----
  // Inserts or replaces the item for (record.host, record.resource).
  Status putDrift(const DriftRecord& record) const;
  Result<std::optional<DriftRecord>> drift(std::string_view host, std::string_view resource) const;
  // Whether the host has any open, accepted or waived item (a cheap test before judging a host
  // no policy selects: those items can only resolve).
  Result<bool> hasActiveDrift(std::string_view host) const;
  // Returns false when there is no open, accepted or waived item for that host and resource.
  // A decision (accepted, waived) ends with the item: the audit trail keeps it.
  Result<bool> resolveDrift(std::string_view host, std::string_view resource, int64_t at) const;
  // Ordered by host, then resource.
  Result<std::vector<DriftRecord>> driftItems(const DriftFilter& filter) const;

  // ---- audit ----
  Status addAudit(const AuditRecord& record) const;
  Result<std::vector<AuditRecord>> audit(size_t limit) const;

  const std::string& path() const { return db_.path(); }
  // The connection itself, for the modules that keep their own tables in fleet.db (alerts,
  // API tokens, ...): their data access lives beside them, their schema in kMigrations here,
  // and they share this connection's transactions.
  const sqlite::Database& database() const { return db_; }

 private:
  explicit FleetStore(sqlite::Database db) : db_(std::move(db)) {}
  Result<sqlite::Statement*> cached(std::string_view sql) const;
  // Resource states of a host from "resources" or "staging", by resource.
  Status forEachIn(std::string_view table, std::string_view host,
                   const std::function<void(const std::string&, const StoredState&)>& fn) const;

  sqlite::Database db_;
  mutable sqlite::StatementCache statements_;
};

std::string labelsToJson(const Labels& labels);
Labels labelsFromJson(std::string_view json);

}  // namespace driftwatch::aggregator
