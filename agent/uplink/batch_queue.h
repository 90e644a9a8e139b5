#pragma once
// The agent's side of the report chain: turns the outbox into signed batches and applies the
// aggregator's answers, all in the state database so that a crash anywhere neither loses a
// change nor sends one twice.
//
// A batch is built once, stored with its signature (uplink_batches), and sent as the same bytes
// until the aggregator answers: a retry after a lost answer is a replay that the aggregator
// acknowledges without applying it again. Outbox entries are deleted only in the transaction
// that records the acknowledgement. The first report after enrollment, and any resync, is a
// full snapshot of the stored resources, split into parts that the aggregator applies at once.
//
// Each batch carries the digest of the agent's state after it: the acknowledged digest plus,
// for every change in the batch, the new state's term minus the replaced state's term (kept in
// the outbox entry). Compaction merges a resource's changes into one entry that replaces the
// first one's previous state, so the sum telescopes and stays exact.
//
// Used by one thread (the uploader's); it opens its own connections to the state database.

#include <cstdint>
#include <optional>
#include <string>

#include "common/base/result.h"
#include "common/sqlite/database.h"

namespace driftwatch::crypto {
class Ed25519Key;
}

namespace driftwatch::agent {

struct QueuedBatch {
  uint64_t seq = 0;
  std::string signedBytes;  // a serialized SignedBatch, sent as is
  std::string digest;       // SHA-256 of the Batch bytes
  std::string stateDigest;  // 32 bytes; empty on a snapshot part other than the last
  int64_t outboxUpto = 0;   // outbox entries up to this seq are delivered with the batch
};

struct UplinkProgress {
  uint64_t ackedSeq = 0;
  std::string ackedDigest;  // 32 bytes, empty before the first acknowledgement
  std::string ackedState;   // the state digest the aggregator holds, 32 bytes or empty
  bool snapshotDue = false;
  int64_t queuedBatches = 0;
};

struct BatchLimits {
  size_t maxDeltas = 20'000;
  size_t maxBytes = 4u << 20;
};

// Who signs: the enrolled host id and its key.
struct BatchSigner {
  std::string hostId;
  const crypto::Ed25519Key* key = nullptr;
  std::string agentVersion;
};

struct CompactionResult {
  uint64_t bytesBefore = 0;
  uint64_t bytesAfter = 0;
  int64_t merged = 0;    // entries folded into a later entry for the same resource
  bool dropped = false;  // still over quota: the backlog was dropped for a full snapshot
};

class BatchQueue {
 public:
  static Result<BatchQueue> open(const std::string& stateDir, BatchLimits limits = {});

  // The next batch to send: the oldest unanswered one, else a new one (a full snapshot when
  // one is due, otherwise the oldest outbox entries). With nothing to send: an empty batch
  // when `heartbeat`, else nullopt.
  Result<std::optional<QueuedBatch>> next(const BatchSigner& signer, bool heartbeat);

  // The aggregator committed `batch` (ACCEPTED with its seq and digest).
  Status acknowledged(const QueuedBatch& batch);
  // The aggregator asked for a resync from its last batch: unanswered batches are dropped and
  // the next batch is a full snapshot continuing its chain.
  Status resyncFrom(uint64_t ackedSeq, const std::string& ackedDigest);
  // A new enrollment: a new chain, starting with a full snapshot.
  Status restartChain();
  // Not enrolled: nothing in the outbox will be sent one by one (the first report is a full
  // snapshot), so the backlog is dropped; `keepCoverage` keeps its coverage gaps, which the
  // snapshot carries.
  Status dropBacklog(bool keepCoverage = false);
  // Returns once no other connection holds a write transaction on the state database (an
  // empty BEGIN IMMEDIATE ... COMMIT): what the daemon's loop was writing is then committed.
  Status waitForWriters();
  // Keeps the outbox within `quotaBytes`: merges each resource's changes into its latest, and
  // if that is not enough, drops the backlog (but its coverage gaps) for a full snapshot.
  // Entries in unanswered batches are left alone.
  Result<CompactionResult> enforceQuota(uint64_t quotaBytes);

  Result<UplinkProgress> progress() const;
  // The last exchange with the aggregator, for `status`: a success clears the last error.
  Status noteContact(bool ok, std::string_view error);

 private:
  BatchQueue(sqlite::Database writer, sqlite::Database reader, BatchLimits limits)
      : writer_(std::move(writer)), reader_(std::move(reader)), limits_(limits) {}
  Result<std::optional<QueuedBatch>> oldestQueued() const;
  // The host id a stored batch was built for; "" when it does not decode.
  static std::string signedFor(const QueuedBatch& batch);
  Result<std::optional<QueuedBatch>> buildSnapshot(const BatchSigner& signer,
                                                   const UplinkProgress& at);
  Result<std::optional<QueuedBatch>> buildDeltas(const BatchSigner& signer,
                                                 const UplinkProgress& at, bool heartbeat);
  Status store(const QueuedBatch& batch, bool ready) const;
  Status setMeta(std::string_view key, std::string_view value) const;
  Result<uint64_t> outboxBytes() const;
  Result<int64_t> highestQueuedOutboxSeq() const;

  sqlite::Database writer_;
  sqlite::Database reader_;  // snapshots read through it while parts are written
  BatchLimits limits_;
};

}  // namespace driftwatch::agent
