#include "agent/uplink/batch_queue.h"

#include <chrono>

#include "agent/store/state_db.h"
#include "common/crypto/sha256.h"
#include "common/crypto/signing.h"
#include "common/crypto/state_digest.h"
#include "common/wire/codec.h"

namespace driftwatch::agent {
namespace {

constexpr std::string_view kAckedSeq = "uplink.acked_seq";
constexpr std::string_view kAckedDigest = "uplink.acked_digest";
constexpr std::string_view kAckedState = "uplink.acked_state";
constexpr std::string_view kSnapshotDue = "uplink.snapshot_due";

// What a delta or snapshot entry costs on the wire besides its text (field tags, lengths, the
// observed time): enough to keep a batch under its byte limit.
constexpr size_t kEntryOverhead = 24;

std::string bytesOf(const Sha256Digest& d) {
  return std::string(d.begin(), d.end());
}

std::string hexOf(std::string_view bytes) {
  if (bytes.size() != 32) return {};
  Sha256Digest d{};
  std::copy(bytes.begin(), bytes.end(), d.begin());
  return toHex(d);
}

std::string bytesFromHex(std::string_view hex) {
  const auto d = sha256FromHex(hex);
  return d ? bytesOf(*d) : std::string();
}

bool isGone(std::string_view state) {
  return state == "absent" || state == "unobserved";
}

std::array<uint8_t, 32> termFromBytes(std::string_view bytes) {
  std::array<uint8_t, 32> t{};
  if (bytes.size() == t.size()) std::copy(bytes.begin(), bytes.end(), t.begin());
  return t;
}

Result<std::optional<std::string>> readMeta(const sqlite::Database& db, std::string_view key) {
  auto stmt = db.prepare("SELECT value FROM meta WHERE key = ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, key);
  std::optional<std::string> out;
  if (stmt->step()) out = stmt->columnText(0);
  if (!stmt->status().ok()) return stmt->status().error();
  return out;
}

// Signs a batch and wraps it for the queue.
QueuedBatch seal(const wire::Batch& batch, const BatchSigner& signer, std::string stateDigest,
                 int64_t outboxUpto) {
  const std::string bytes = wire::encode(batch);
  QueuedBatch out;
  out.seq = batch.seq;
  out.digest = bytesOf(Sha256::of(bytes));
  out.signedBytes = wire::encode(wire::SignedBatch{bytes, signer.key->sign(bytes)});
  out.stateDigest = std::move(stateDigest);
  out.outboxUpto = outboxUpto;
  return out;
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<BatchQueue> BatchQueue::open(const std::string& stateDir, BatchLimits limits) {
  // The writer migrates the schema when this runs before the daemon's own connection does.
  auto state = StateDb::openForWriting(stateDir);
  if (!state.ok()) return state.error();
  auto writer = sqlite::Database::open(state->path());
  if (!writer.ok()) return writer.error();
  sqlite::OpenOptions readOnly;
  readOnly.readOnly = true;
  auto reader = sqlite::Database::open(state->path(), readOnly);
  if (!reader.ok()) return reader.error();
  BatchQueue queue(std::move(writer).value(), std::move(reader).value(), limits);
  // Parts of a snapshot that a crash interrupted are never sent: the snapshot is built again.
  if (auto s = queue.writer_.exec("DELETE FROM uplink_batches WHERE ready = 0"); !s.ok())
    return s.error();
  return queue;
}

Status BatchQueue::setMeta(std::string_view key, std::string_view value) const {
  auto stmt = writer_.prepare(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = "
      "excluded.value");
  if (!stmt.ok()) return stmt.error();
  return stmt->bind(1, key).bind(2, value).run();
}

Result<UplinkProgress> BatchQueue::progress() const {
  UplinkProgress p;
  auto seq = readMeta(writer_, kAckedSeq);
  auto digest = readMeta(writer_, kAckedDigest);
  auto state = readMeta(writer_, kAckedState);
  auto due = readMeta(writer_, kSnapshotDue);
  for (const auto* r : {&seq, &digest, &state, &due}) {
    if (!r->ok()) return r->error();
  }
  if (*seq) p.ackedSeq = std::stoull(**seq);
  if (*digest) p.ackedDigest = bytesFromHex(**digest);
  if (*state) p.ackedState = bytesFromHex(**state);
  p.snapshotDue = !*due || **due != "0";
  auto count = writer_.prepare("SELECT count(*) FROM uplink_batches WHERE ready = 1");
  if (!count.ok()) return count.error();
  if (count->step()) p.queuedBatches = count->columnInt(0);
  if (!count->status().ok()) return count->status().error();
  return p;
}

Status BatchQueue::noteContact(bool ok, std::string_view error) {
  const std::string now = std::to_string(nowMs() / 1000);
  if (ok) {
    if (auto s = setMeta("uplink.last_contact", now); !s.ok()) return s;
    return setMeta("uplink.last_error", "");
  }
  if (auto s = setMeta("uplink.last_error", error); !s.ok()) return s;
  return setMeta("uplink.last_error_at", now);
}

std::string BatchQueue::signedFor(const QueuedBatch& batch) {
  auto envelope = wire::decodeSignedBatch(batch.signedBytes);
  if (!envelope.ok()) return {};
  auto decoded = wire::decodeBatch(envelope->batch);
  return decoded.ok() ? decoded->hostId : std::string();
}

Result<std::optional<QueuedBatch>> BatchQueue::oldestQueued() const {
  auto stmt = writer_.prepare(
      "SELECT seq, signed, digest, state_digest, outbox_upto FROM uplink_batches WHERE ready = 1 "
      "ORDER BY seq LIMIT 1");
  if (!stmt.ok()) return stmt.error();
  std::optional<QueuedBatch> out;
  if (stmt->step()) {
    out = QueuedBatch{static_cast<uint64_t>(stmt->columnInt(0)), stmt->columnText(1),
                      stmt->columnText(2), stmt->columnText(3), stmt->columnInt(4)};
  }
  if (!stmt->status().ok()) return stmt->status().error();
  return out;
}

Status BatchQueue::store(const QueuedBatch& b, bool ready) const {
  auto stmt = writer_.prepare(
      "INSERT INTO uplink_batches (seq, signed, digest, state_digest, outbox_upto, ready) VALUES "
      "(?, ?, ?, ?, ?, ?)");
  if (!stmt.ok()) return stmt.error();
  return stmt->bind(1, static_cast<int64_t>(b.seq))
      .bindBlob(2, b.signedBytes)
      .bindBlob(3, b.digest)
      .bindBlob(4, b.stateDigest)
      .bind(5, b.outboxUpto)
      .bind(6, int64_t{ready ? 1 : 0})
      .run();
}

Result<std::optional<QueuedBatch>> BatchQueue::next(const BatchSigner& signer, bool heartbeat) {
  auto queued = oldestQueued();
  if (!queued.ok()) return queued;
  if (*queued) {
    if (signedFor(**queued) == signer.hostId) return queued;
    // Built for an identity this agent no longer has (it enrolled again while the batch was
    // being built or waited): the aggregator would refuse it forever. The new identity starts
    // its own chain.
    if (auto s = restartChain(); !s.ok()) return s.error();
  }
  auto at = progress();
  if (!at.ok()) return at.error();
  if (at->snapshotDue) return buildSnapshot(signer, *at);
  return buildDeltas(signer, *at, heartbeat);
}

Result<std::optional<QueuedBatch>> BatchQueue::buildSnapshot(const BatchSigner& signer,
                                                             const UplinkProgress& at) {
  // Parts of a snapshot whose build failed half way are never sent: start clean.
  if (auto s = writer_.exec("DELETE FROM uplink_batches WHERE ready = 0"); !s.ok())
    return s.error();
  // One read transaction sees the resources and the outbox as of one moment: entries up to
  // `upto` are what the snapshot carries; later entries continue from it.
  auto readTx = sqlite::Transaction::beginRead(reader_);
  if (!readTx.ok()) return readTx.error();
  int64_t upto = 0;
  {
    auto stmt = reader_.prepare("SELECT coalesce(max(seq), 0) FROM outbox");
    if (!stmt.ok()) return stmt.error();
    if (stmt->step()) upto = stmt->columnInt(0);
    if (!stmt->status().ok()) return stmt->status().error();
  }
  std::vector<wire::CoverageEvent> coverage;
  {
    auto stmt = reader_.prepare(
        "SELECT resource, payload, at FROM outbox WHERE kind = 'gap' AND seq <= ? ORDER BY seq");
    if (!stmt.ok()) return stmt.error();
    stmt->bind(1, upto);
    while (stmt->step())
      coverage.push_back({stmt->columnText(0), stmt->columnText(1), stmt->columnInt(2)});
    if (!stmt->status().ok()) return stmt->status().error();
  }

  crypto::StateDigest total;
  wire::Batch part;
  part.hostId = signer.hostId;
  part.agentVersion = signer.agentVersion;
  part.seq = at.ackedSeq + 1;
  part.prevDigest = at.ackedDigest;
  part.snapshot = wire::SnapshotPart{0, false};
  size_t partBytes = 0;
  std::optional<QueuedBatch> first;
  // Writes a full part (not the last) and starts the next one.
  const auto flush = [&]() -> Status {
    part.stateDigest = total.bytes();
    part.sentAt = nowMs();
    QueuedBatch sealed = seal(part, signer, "", 0);
    if (auto s = store(sealed, false); !s.ok()) return s;
    if (!first) first = sealed;
    part.prevDigest = sealed.digest;
    part.seq += 1;
    part.snapshot->index += 1;
    part.deltas.clear();
    part.coverage.clear();
    partBytes = 0;
    return {};
  };
  for (auto& c : coverage) {
    if (part.coverage.size() >= wire::kMaxCoverage) {
      if (auto s = flush(); !s.ok()) return s.error();
    }
    partBytes += c.gap.size() + c.payload.size() + kEntryOverhead;
    part.coverage.push_back(std::move(c));
  }
  auto stmt = reader_.prepare("SELECT id, state, observed_at FROM resources ORDER BY id");
  if (!stmt.ok()) return stmt.error();
  while (stmt->step()) {
    wire::Delta d{stmt->columnText(0), stmt->columnText(1), stmt->columnInt(2)};
    const size_t cost = d.resource.size() + d.state.size() + kEntryOverhead;
    if (part.deltas.size() >= limits_.maxDeltas ||
        (partBytes + cost > limits_.maxBytes && !part.deltas.empty())) {
      if (auto s = flush(); !s.ok()) return s.error();
    }
    total.add(d.resource, d.state);
    partBytes += cost;
    part.deltas.push_back(std::move(d));
  }
  if (!stmt->status().ok()) return stmt->status().error();
  stmt = sqlite::Statement();
  if (auto s = readTx->commit(); !s.ok()) return s.error();

  part.snapshot->last = true;
  part.stateDigest = total.bytes();
  part.sentAt = nowMs();
  QueuedBatch last = seal(part, signer, total.bytes(), upto);
  if (!first) first = last;
  auto tx = sqlite::Transaction::begin(writer_);
  if (!tx.ok()) return tx.error();
  if (auto s = store(last, true); !s.ok()) return s.error();
  if (auto s = writer_.exec("UPDATE uplink_batches SET ready = 1 WHERE ready = 0"); !s.ok())
    return s.error();
  if (auto s = setMeta(kSnapshotDue, "0"); !s.ok()) return s.error();
  if (auto s = tx->commit(); !s.ok()) return s.error();
  return first;
}

Result<std::optional<QueuedBatch>> BatchQueue::buildDeltas(const BatchSigner& signer,
                                                           const UplinkProgress& at,
                                                           bool heartbeat) {
  wire::Batch batch;
  batch.hostId = signer.hostId;
  batch.agentVersion = signer.agentVersion;
  batch.seq = at.ackedSeq + 1;
  batch.prevDigest = at.ackedDigest;
  crypto::StateDigest digest = crypto::StateDigest::fromBytes(at.ackedState);
  int64_t upto = 0;
  size_t bytes = 0;
  auto stmt = writer_.prepare(
      "SELECT seq, at, kind, resource, payload, prev_term FROM outbox ORDER BY seq LIMIT ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, static_cast<int64_t>(limits_.maxDeltas));
  while (stmt->step()) {
    std::string resource = stmt->columnText(3);
    std::string payload = stmt->columnText(4);
    const size_t cost = resource.size() + payload.size() + kEntryOverhead;
    if (bytes + cost > limits_.maxBytes && upto != 0) break;
    if (batch.coverage.size() >= wire::kMaxCoverage) break;
    bytes += cost;
    upto = stmt->columnInt(0);
    const int64_t when = stmt->columnInt(1);
    if (stmt->columnText(2) == "gap") {
      batch.coverage.push_back({std::move(resource), std::move(payload), when});
      continue;
    }
    const std::string prevTerm = stmt->columnText(5);
    if (!prevTerm.empty()) digest.subtractTerm(termFromBytes(prevTerm));
    if (!isGone(payload)) digest.add(resource, payload);
    batch.deltas.push_back({std::move(resource), std::move(payload), when});
  }
  if (!stmt->status().ok()) return stmt->status().error();
  if (upto == 0 && !heartbeat) return std::optional<QueuedBatch>();
  batch.stateDigest = digest.bytes();
  batch.sentAt = nowMs();
  QueuedBatch sealed = seal(batch, signer, digest.bytes(), upto);
  if (auto s = store(sealed, true); !s.ok()) return s.error();
  return std::optional<QueuedBatch>(std::move(sealed));
}

Status BatchQueue::acknowledged(const QueuedBatch& b) {
  auto tx = sqlite::Transaction::begin(writer_);
  if (!tx.ok()) return tx.error();
  auto del = writer_.prepare("DELETE FROM uplink_batches WHERE seq = ?");
  if (!del.ok()) return del.error();
  if (auto s = del->bind(1, static_cast<int64_t>(b.seq)).run(); !s.ok()) return s;
  if (b.outboxUpto > 0) {
    auto drop = writer_.prepare("DELETE FROM outbox WHERE seq <= ?");
    if (!drop.ok()) return drop.error();
    if (auto s = drop->bind(1, b.outboxUpto).run(); !s.ok()) return s;
  }
  if (auto s = setMeta(kAckedSeq, std::to_string(b.seq)); !s.ok()) return s;
  if (auto s = setMeta(kAckedDigest, hexOf(b.digest)); !s.ok()) return s;
  if (!b.stateDigest.empty()) {
    if (auto s = setMeta(kAckedState, hexOf(b.stateDigest)); !s.ok()) return s;
  }
  return tx->commit();
}

Status BatchQueue::resyncFrom(uint64_t ackedSeq, const std::string& ackedDigest) {
  auto tx = sqlite::Transaction::begin(writer_);
  if (!tx.ok()) return tx.error();
  if (auto s = writer_.exec("DELETE FROM uplink_batches"); !s.ok()) return s;
  if (auto s = setMeta(kAckedSeq, std::to_string(ackedSeq)); !s.ok()) return s;
  if (auto s = setMeta(kAckedDigest, hexOf(ackedDigest)); !s.ok()) return s;
  if (auto s = setMeta(kSnapshotDue, "1"); !s.ok()) return s;
  return tx->commit();
}

Status BatchQueue::restartChain() {
  auto tx = sqlite::Transaction::begin(writer_);
  if (!tx.ok()) return tx.error();
  if (auto s = writer_.exec("DELETE FROM uplink_batches"); !s.ok()) return s;
  // A new identity starts with no history with the aggregator, errors included.
  for (std::string_view key :
       {kAckedSeq, kAckedDigest, kAckedState, std::string_view("uplink.last_error"),
        std::string_view("uplink.last_error_at")}) {
    auto del = writer_.prepare("DELETE FROM meta WHERE key = ?");
    if (!del.ok()) return del.error();
    if (auto s = del->bind(1, key).run(); !s.ok()) return s;
  }
  if (auto s = setMeta(kSnapshotDue, "1"); !s.ok()) return s;
  return tx->commit();
}

Result<int64_t> BatchQueue::highestQueuedOutboxSeq() const {
  auto stmt = writer_.prepare("SELECT coalesce(max(outbox_upto), 0) FROM uplink_batches");
  if (!stmt.ok()) return stmt.error();
  int64_t upto = 0;
  if (stmt->step()) upto = stmt->columnInt(0);
  if (!stmt->status().ok()) return stmt->status().error();
  return upto;
}

Status BatchQueue::waitForWriters() {
  auto tx = sqlite::Transaction::begin(writer_);
  if (!tx.ok()) return tx.error();
  return tx->commit();
}

Status BatchQueue::dropBacklog(bool keepCoverage) {
  auto tx = sqlite::Transaction::begin(writer_);
  if (!tx.ok()) return tx.error();
  auto upto = highestQueuedOutboxSeq();
  if (!upto.ok()) return upto.error();
  auto del = writer_.prepare(keepCoverage ? "DELETE FROM outbox WHERE seq > ? AND kind = 'state'"
                                          : "DELETE FROM outbox WHERE seq > ?");
  if (!del.ok()) return del.error();
  if (auto s = del->bind(1, *upto).run(); !s.ok()) return s;
  if (auto s = setMeta(kSnapshotDue, "1"); !s.ok()) return s;
  return tx->commit();
}

Result<uint64_t> BatchQueue::outboxBytes() const {
  auto stmt = writer_.prepare(
      "SELECT coalesce(sum(length(resource) + length(payload) + length(prev_term) + 32), 0) FROM "
      "outbox");
  if (!stmt.ok()) return stmt.error();
  uint64_t bytes = 0;
  if (stmt->step()) bytes = static_cast<uint64_t>(stmt->columnInt(0));
  if (!stmt->status().ok()) return stmt->status().error();
  return bytes;
}

Result<CompactionResult> BatchQueue::enforceQuota(uint64_t quotaBytes) {
  CompactionResult result;
  // The exact size (one scan of the outbox, every 30 s): no cheap bound on an entry's size is
  // tight enough to skip it safely, and the quota must hold.
  auto before = outboxBytes();
  if (!before.ok()) return before.error();
  result.bytesBefore = result.bytesAfter = *before;
  if (*before <= quotaBytes) return result;

  auto tx = sqlite::Transaction::begin(writer_);
  if (!tx.ok()) return tx.error();
  auto upto = highestQueuedOutboxSeq();
  if (!upto.ok()) return upto.error();
  // The latest entry of each resource takes over the previous state of its earliest one; the
  // others go. Entries already in a batch stay as they are.
  auto merge = writer_.prepare(R"sql(
WITH span AS (
  SELECT resource, min(seq) AS first, max(seq) AS last FROM outbox
  WHERE kind = 'state' AND seq > ?1 GROUP BY resource HAVING count(*) > 1)
UPDATE outbox SET prev_term = (
  SELECT o.prev_term FROM outbox o JOIN span ON o.seq = span.first WHERE span.last = outbox.seq)
WHERE seq IN (SELECT last FROM span))sql");
  if (!merge.ok()) return merge.error();
  if (auto s = merge->bind(1, *upto).run(); !s.ok()) return s.error();
  auto drop = writer_.prepare(R"sql(
DELETE FROM outbox WHERE kind = 'state' AND seq > ?1 AND seq NOT IN (
  SELECT max(seq) FROM outbox WHERE kind = 'state' AND seq > ?1 GROUP BY resource))sql");
  if (!drop.ok()) return drop.error();
  if (auto s = drop->bind(1, *upto).run(); !s.ok()) return s.error();
  result.merged = writer_.changes();
  if (auto s = tx->commit(); !s.ok()) return s.error();

  auto after = outboxBytes();
  if (!after.ok()) return after.error();
  result.bytesAfter = *after;
  if (*after > quotaBytes) {
    // One latest state per resource is still too much: a full snapshot carries the same states
    // from the resources table without keeping them twice.
    // The snapshot replaces the state changes; the coverage gaps of the outage are kept,
    // since they say when this host could not be watched.
    if (auto s = dropBacklog(true); !s.ok()) return s.error();
    result.dropped = true;
    auto dropped = outboxBytes();
    if (!dropped.ok()) return dropped.error();
    result.bytesAfter = *dropped;
  }
  return result;
}

}  // namespace driftwatch::agent
