#include "agent/uplink/batch_queue.h"

#include <doctest/doctest.h>

#include "agent/store/state_db.h"
#include "common/crypto/sha256.h"
#include "common/crypto/signing.h"
#include "common/crypto/state_digest.h"
#include "common/sqlite/database.h"
#include "common/wire/codec.h"
#include "tests/support/temp_dir.h"

using namespace driftwatch;
using namespace driftwatch::agent;

namespace {

constexpr std::string_view kHostId = "web-01-3fa2c1";

bool isGone(std::string_view state) {
  return state == "absent" || state == "unobserved";
}

// An agent's state directory with its state database (the daemon's writer connection), its
// key and its batch queue, as the uploader has them.
struct Agent {
  explicit Agent(BatchLimits limits = {}) {
    auto opened = StateDb::openForWriting(dir.at("state"));
    REQUIRE(opened.ok());
    db.emplace(std::move(opened).value());
    auto generated = crypto::Ed25519Key::generate();
    REQUIRE(generated.ok());
    key.emplace(std::move(generated).value());
    reopenQueue(limits);
  }

  void reopenQueue(BatchLimits limits = {}) {
    queue.reset();
    auto opened = BatchQueue::open(dir.at("state"), limits);
    REQUIRE(opened.ok());
    queue.emplace(std::move(opened).value());
  }

  BatchSigner signer() const { return BatchSigner{std::string(kHostId), &*key, "0.1.0"}; }

  // What the recorder does for one observation: the resource row and its outbox entry (with
  // the state it replaces) in one transaction.
  void observe(std::string_view id, std::string_view state) const {
    auto tx = db->begin();
    REQUIRE(tx.ok());
    auto stored = db->resource(id);
    REQUIRE(stored.ok());
    std::optional<std::string> previous;
    if (*stored) previous = (*stored)->state;
    if (isGone(state)) {
      REQUIRE(db->removeResource(id).ok());
    } else {
      REQUIRE(db->putResource(id, state, "", ++clock).ok());
    }
    std::optional<std::string_view> prev;
    if (previous) prev = *previous;
    REQUIRE(db->appendStateChange(id, state, prev, ++clock).ok());
    REQUIRE(tx->commit().ok());
  }

  std::optional<QueuedBatch> next(bool heartbeat = false) {
    auto b = queue->next(signer(), heartbeat);
    REQUIRE(b.ok());
    return *b;
  }

  QueuedBatch nextBatch() {
    auto b = next();
    REQUIRE(b.has_value());
    return *b;
  }

  void ack(const QueuedBatch& b) { REQUIRE(queue->acknowledged(b).ok()); }

  int64_t outboxDepth() const {
    auto n = db->outboxDepth();
    REQUIRE(n.ok());
    return *n;
  }

  std::string stateDigestHex() const {
    auto hex = db->stateDigestHex();
    REQUIRE(hex.ok());
    return *hex;
  }

  UplinkProgress progress() const {
    auto p = queue->progress();
    REQUIRE(p.ok());
    return *p;
  }

  testing::TempDir dir;
  std::optional<StateDb> db;
  std::optional<crypto::Ed25519Key> key;
  std::optional<BatchQueue> queue;
  mutable int64_t clock = 1'700'000'000'000;
};

std::string sha256Bytes(std::string_view data) {
  const auto d = Sha256::of(data);
  return std::string(d.begin(), d.end());
}

std::string hexOf(std::string_view digestBytes) {
  return crypto::StateDigest::fromBytes(digestBytes).hex();
}

// Checks what the aggregator checks first (the signature over the exact bytes), then decodes.
wire::Batch unseal(const QueuedBatch& q, const crypto::Ed25519Key& key) {
  auto sb = wire::decodeSignedBatch(q.signedBytes);
  REQUIRE(sb.ok());
  CHECK(crypto::verifyEd25519(key.publicKey(), sb->batch, sb->signature));
  CHECK(q.digest == sha256Bytes(sb->batch));
  auto b = wire::decodeBatch(sb->batch);
  REQUIRE(b.ok());
  CHECK(b->seq == q.seq);
  CHECK(b->hostId == kHostId);
  CHECK(b->agentVersion == "0.1.0");
  return std::move(b).value();
}

std::vector<std::string> resourcesOf(const wire::Batch& b) {
  std::vector<std::string> out;
  for (const auto& d : b.deltas)
    out.push_back(d.resource);
  return out;
}

}  // namespace

TEST_CASE("after restartChain the first batch is a full snapshot with the exact state digest") {
  Agent agent;
  agent.observe("file:/etc/motd", "present\ttype=file\tmode=0644");
  agent.observe("sysctl:net.ipv4.ip_forward", "present\tvalue=0");
  agent.observe("file:/etc/hosts", "present\ttype=file\tmode=0644");
  agent.observe("sysctl:net.ipv4.ip_forward", "present\tvalue=1");
  REQUIRE(agent.db->appendCoverage("gap-1", R"({"kind":"restart"})", 5).ok());
  REQUIRE(agent.queue->restartChain().ok());
  CHECK(agent.progress().snapshotDue);

  const QueuedBatch q = agent.nextBatch();
  const wire::Batch b = unseal(q, *agent.key);
  CHECK(b.seq == 1);
  CHECK(b.prevDigest.empty());
  REQUIRE(b.snapshot.has_value());
  CHECK(*b.snapshot == wire::SnapshotPart{0, true});
  // The stored resources in id order, with their current states only.
  CHECK(resourcesOf(b) == std::vector<std::string>{"file:/etc/hosts", "file:/etc/motd",
                                                   "sysctl:net.ipv4.ip_forward"});
  CHECK(b.deltas[2].state == "present\tvalue=1");
  REQUIRE(b.coverage.size() == 1);
  CHECK(b.coverage[0].gap == "gap-1");
  CHECK(hexOf(b.stateDigest) == agent.stateDigestHex());
  CHECK(q.stateDigest == b.stateDigest);
  CHECK(q.outboxUpto == 5);  // four changes and the gap
  const UplinkProgress p = agent.progress();
  CHECK_FALSE(p.snapshotDue);
  CHECK(p.queuedBatches == 1);
  CHECK(p.ackedSeq == 0);
}

TEST_CASE("an empty state is a snapshot of nothing, with the zero digest") {
  Agent agent;
  REQUIRE(agent.queue->restartChain().ok());
  const QueuedBatch q = agent.nextBatch();
  const wire::Batch b = unseal(q, *agent.key);
  CHECK(b.deltas.empty());
  REQUIRE(b.snapshot.has_value());
  CHECK(b.snapshot->last);
  CHECK(b.stateDigest == std::string(32, '\0'));
  CHECK(hexOf(b.stateDigest) == agent.stateDigestHex());
}

TEST_CASE("a snapshot over the batch limits comes in chained parts, the last with the digest") {
  Agent agent(BatchLimits{2, 4u << 20});
  for (const char* id : {"file:/a", "file:/b", "file:/c", "file:/d", "file:/e"})
    agent.observe(id, "present\ttype=file");
  REQUIRE(agent.queue->restartChain().ok());

  std::vector<wire::Batch> parts;
  std::vector<QueuedBatch> queued;
  for (int i = 0; i < 3; ++i) {
    const QueuedBatch q = agent.nextBatch();
    // Unanswered, the same part comes again.
    CHECK(agent.nextBatch().signedBytes == q.signedBytes);
    parts.push_back(unseal(q, *agent.key));
    queued.push_back(q);
    agent.ack(q);
  }
  CHECK_FALSE(agent.next().has_value());

  crypto::StateDigest running;
  for (size_t i = 0; i < parts.size(); ++i) {
    CAPTURE(i);
    const wire::Batch& b = parts[i];
    CHECK(b.seq == i + 1);
    REQUIRE(b.snapshot.has_value());
    CHECK(b.snapshot->index == i);
    CHECK(b.snapshot->last == (i == 2));
    CHECK(b.deltas.size() == (i < 2 ? 2u : 1u));
    CHECK(b.prevDigest == (i == 0 ? std::string() : queued[i - 1].digest));
    for (const auto& d : b.deltas)
      running.add(d.resource, d.state);
    CHECK(b.stateDigest == running.bytes());  // each part: the state sent so far
    // Only the last part carries the outbox position and the state the aggregator will hold.
    CHECK(queued[i].outboxUpto == (i == 2 ? 5 : 0));
    CHECK(queued[i].stateDigest.empty() == (i < 2));
  }
  CHECK(hexOf(parts[2].stateDigest) == agent.stateDigestHex());
  CHECK(resourcesOf(parts[0]) == std::vector<std::string>{"file:/a", "file:/b"});
  CHECK(resourcesOf(parts[2]) == std::vector<std::string>{"file:/e"});
  CHECK(agent.outboxDepth() == 0);
  CHECK(agent.progress().ackedState == parts[2].stateDigest);
}

TEST_CASE("a snapshot is also split by bytes") {
  const std::string big = "present\tcontent=" + std::string(300, 'x');
  Agent agent(BatchLimits{20'000, 1000});
  for (const char* id : {"file:/a", "file:/b", "file:/c", "file:/d"})
    agent.observe(id, big);
  REQUIRE(agent.queue->restartChain().ok());
  std::vector<wire::Batch> parts;
  while (auto q = agent.next()) {
    parts.push_back(unseal(*q, *agent.key));
    agent.ack(*q);
    REQUIRE(parts.size() < 10);
  }
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].deltas.size() == 2);
  CHECK(parts[1].deltas.size() == 2);
  CHECK(parts[1].snapshot->last);
  CHECK(hexOf(parts[1].stateDigest) == agent.stateDigestHex());
}

TEST_CASE("after an acknowledgement, changes come as a delta batch continuing the chain") {
  Agent agent;
  agent.observe("file:/etc/motd", "present\ttype=file\tmode=0644");
  agent.observe("file:/etc/issue", "present\ttype=file\tmode=0644");
  agent.observe("user:alice", "present\tuid=1000");
  REQUIRE(agent.queue->restartChain().ok());
  const QueuedBatch snapshot = agent.nextBatch();
  agent.ack(snapshot);
  CHECK(agent.outboxDepth() == 0);
  CHECK_FALSE(agent.next().has_value());  // nothing new, no heartbeat asked

  agent.observe("file:/etc/motd", "present\ttype=file\tmode=0600");  // changed
  agent.observe("user:alice", "absent");                             // gone
  agent.observe("package:nginx", "present\tversion=1.24");           // new
  agent.observe("file:/etc/issue", "unobserved");                    // no longer watched
  CHECK(agent.outboxDepth() == 4);

  const QueuedBatch q = agent.nextBatch();
  const wire::Batch b = unseal(q, *agent.key);
  CHECK(b.seq == 2);
  CHECK(b.prevDigest == snapshot.digest);
  CHECK_FALSE(b.snapshot.has_value());
  CHECK(resourcesOf(b) == std::vector<std::string>{"file:/etc/motd", "user:alice", "package:nginx",
                                                   "file:/etc/issue"});
  CHECK(b.deltas[1].state == "absent");
  CHECK(b.deltas[3].state == "unobserved");
  CHECK(hexOf(b.stateDigest) == agent.stateDigestHex());
  CHECK(q.stateDigest == b.stateDigest);
  CHECK(q.outboxUpto > 0);
  agent.ack(q);
  CHECK(agent.outboxDepth() == 0);
  const UplinkProgress p = agent.progress();
  CHECK(p.ackedSeq == 2);
  CHECK(p.ackedDigest == q.digest);
  CHECK(p.ackedState == b.stateDigest);
  CHECK(p.queuedBatches == 0);

  // And the next link after that.
  agent.observe("package:nginx", "present\tversion=1.26");
  const QueuedBatch q3 = agent.nextBatch();
  const wire::Batch b3 = unseal(q3, *agent.key);
  CHECK(b3.seq == 3);
  CHECK(b3.prevDigest == q.digest);
  CHECK(hexOf(b3.stateDigest) == agent.stateDigestHex());
}

TEST_CASE("a batch not acknowledged is sent again byte for byte, also after a restart") {
  Agent agent;
  agent.observe("file:/etc/motd", "present\ttype=file");
  REQUIRE(agent.queue->restartChain().ok());
  agent.ack(agent.nextBatch());

  agent.observe("file:/etc/motd", "present\ttype=file\tmode=0600");
  const QueuedBatch first = agent.nextBatch();
  // Changes after the batch was built do not alter it.
  agent.observe("file:/etc/hosts", "present\ttype=file");
  const QueuedBatch again = agent.nextBatch();
  CHECK(again.seq == first.seq);
  CHECK(again.signedBytes == first.signedBytes);
  CHECK(again.digest == first.digest);
  CHECK(again.stateDigest == first.stateDigest);
  CHECK(again.outboxUpto == first.outboxUpto);

  agent.reopenQueue();
  const QueuedBatch afterRestart = agent.nextBatch();
  CHECK(afterRestart.signedBytes == first.signedBytes);
  CHECK(agent.progress().queuedBatches == 1);
}

TEST_CASE("an acknowledgement deletes only the outbox entries the batch delivered") {
  Agent agent;
  REQUIRE(agent.queue->restartChain().ok());
  agent.ack(agent.nextBatch());

  agent.observe("file:/a", "present\ttype=file");
  agent.observe("file:/b", "present\ttype=file");
  const QueuedBatch q = agent.nextBatch();
  CHECK(unseal(q, *agent.key).deltas.size() == 2);
  agent.observe("file:/c", "present\ttype=file");
  agent.observe("file:/a", "present\ttype=file\tmode=0600");
  CHECK(agent.outboxDepth() == 4);
  agent.ack(q);
  CHECK(agent.outboxDepth() == 2);

  const QueuedBatch q2 = agent.nextBatch();
  const wire::Batch b2 = unseal(q2, *agent.key);
  CHECK(b2.prevDigest == q.digest);
  CHECK(resourcesOf(b2) == std::vector<std::string>{"file:/c", "file:/a"});
  CHECK(hexOf(b2.stateDigest) == agent.stateDigestHex());
  agent.ack(q2);
  CHECK(agent.outboxDepth() == 0);
}

TEST_CASE("a delta batch stops at its limits and the rest follows in the next one") {
  Agent agent(BatchLimits{3, 4u << 20});
  REQUIRE(agent.queue->restartChain().ok());
  agent.ack(agent.nextBatch());
  for (const char* id : {"file:/a", "file:/b", "file:/c", "file:/d", "file:/e"})
    agent.observe(id, "present\ttype=file");
  const QueuedBatch q1 = agent.nextBatch();
  CHECK(unseal(q1, *agent.key).deltas.size() == 3);
  agent.ack(q1);
  CHECK(agent.outboxDepth() == 2);
  const QueuedBatch q2 = agent.nextBatch();
  const wire::Batch b2 = unseal(q2, *agent.key);
  CHECK(resourcesOf(b2) == std::vector<std::string>{"file:/d", "file:/e"});
  CHECK(hexOf(b2.stateDigest) == agent.stateDigestHex());
}

TEST_CASE("resyncFrom drops unanswered batches and continues with a snapshot") {
  Agent agent;
  agent.observe("file:/a", "present\ttype=file");
  REQUIRE(agent.queue->restartChain().ok());
  agent.ack(agent.nextBatch());
  agent.observe("file:/b", "present\ttype=file");
  const QueuedBatch pending = agent.nextBatch();
  CHECK(agent.progress().queuedBatches == 1);

  const std::string aggregatorHead(32, '\x42');
  REQUIRE(agent.queue->resyncFrom(7, aggregatorHead).ok());
  UplinkProgress p = agent.progress();
  CHECK(p.snapshotDue);
  CHECK(p.queuedBatches == 0);
  CHECK(p.ackedSeq == 7);
  CHECK(p.ackedDigest == aggregatorHead);

  agent.observe("file:/c", "present\ttype=file");
  const QueuedBatch q = agent.nextBatch();
  CHECK(q.signedBytes != pending.signedBytes);
  const wire::Batch b = unseal(q, *agent.key);
  CHECK(b.seq == 8);
  CHECK(b.prevDigest == aggregatorHead);
  REQUIRE(b.snapshot.has_value());
  CHECK(*b.snapshot == wire::SnapshotPart{0, true});
  CHECK(resourcesOf(b) == std::vector<std::string>{"file:/a", "file:/b", "file:/c"});
  CHECK(hexOf(b.stateDigest) == agent.stateDigestHex());
  agent.ack(q);
  CHECK(agent.outboxDepth() == 0);
  p = agent.progress();
  CHECK(p.ackedSeq == 8);
  CHECK(p.ackedState == b.stateDigest);

  // Deltas continue from the snapshot.
  agent.observe("file:/a", "absent");
  const wire::Batch d = unseal(agent.nextBatch(), *agent.key);
  CHECK(d.seq == 9);
  CHECK_FALSE(d.snapshot.has_value());
  CHECK(hexOf(d.stateDigest) == agent.stateDigestHex());
}

TEST_CASE("enforceQuota merges each resource's changes and the digest stays exact") {
  Agent agent;
  agent.observe("file:/etc/a", "present\tmode=0600");
  agent.observe("file:/etc/b", "present\tmode=0600");
  REQUIRE(agent.queue->restartChain().ok());
  agent.ack(agent.nextBatch());

  // A batch in flight keeps its entries as they are.
  agent.observe("file:/etc/a", "present\tmode=0601");
  const QueuedBatch inFlight = agent.nextBatch();

  for (int i = 0; i < 20; ++i) {
    agent.observe("file:/etc/a", "present\tmode=07" + std::to_string(10 + i));
    agent.observe("file:/etc/b", "present\tmode=06" + std::to_string(10 + i));
  }
  agent.observe("file:/tmp/new", "present\ttype=file");  // new, then gone again
  agent.observe("file:/tmp/new", "absent");
  agent.observe("file:/etc/b", "absent");
  agent.observe("file:/etc/c", "present\tmode=0644");
  const int64_t before = agent.outboxDepth();
  CHECK(before == 1 + 40 + 4);

  auto compacted = agent.queue->enforceQuota(2000);
  REQUIRE(compacted.ok());
  CHECK_FALSE(compacted->dropped);
  CHECK(compacted->bytesBefore > 2000);
  CHECK(compacted->bytesAfter <= 2000);
  CHECK(compacted->bytesAfter < compacted->bytesBefore);
  CHECK(compacted->merged == 19 + 1 + 20);  // a: 19 of 20, new: 1 of 2, b: 20 of 21
  CHECK(agent.outboxDepth() == 1 + 4);      // the in-flight entry, a, new, b, c

  // The in-flight batch is unchanged and still acknowledged as it was.
  CHECK(agent.nextBatch().signedBytes == inFlight.signedBytes);
  agent.ack(inFlight);
  const QueuedBatch q = agent.nextBatch();
  const wire::Batch b = unseal(q, *agent.key);
  CHECK(b.prevDigest == inFlight.digest);
  REQUIRE(b.deltas.size() == 4);
  CHECK(resourcesOf(b) ==
        std::vector<std::string>{"file:/etc/a", "file:/tmp/new", "file:/etc/b", "file:/etc/c"});
  CHECK(b.deltas[0].state == "present\tmode=0729");
  CHECK(b.deltas[1].state == "absent");
  CHECK(b.deltas[2].state == "absent");
  CHECK(hexOf(b.stateDigest) == agent.stateDigestHex());
  agent.ack(q);
  CHECK(agent.outboxDepth() == 0);
}

TEST_CASE("enforceQuota well under the quota changes nothing") {
  Agent agent;
  REQUIRE(agent.queue->restartChain().ok());
  agent.ack(agent.nextBatch());
  agent.observe("file:/a", "present\tmode=1");
  agent.observe("file:/a", "present\tmode=2");
  auto r = agent.queue->enforceQuota(1u << 20);
  REQUIRE(r.ok());
  CHECK(r->merged == 0);
  CHECK_FALSE(r->dropped);
  CHECK(agent.outboxDepth() == 2);
}

TEST_CASE("enforceQuota drops the backlog for a snapshot when merging is not enough") {
  Agent agent;
  REQUIRE(agent.queue->restartChain().ok());
  const QueuedBatch first = agent.nextBatch();
  agent.ack(first);
  for (int i = 0; i < 10; ++i)
    agent.observe("file:/f" + std::to_string(i), "present\ttype=file\tsize=" + std::to_string(i));

  auto r = agent.queue->enforceQuota(100);
  REQUIRE(r.ok());
  CHECK(r->merged == 0);
  CHECK(r->dropped);
  CHECK(r->bytesAfter == 0);
  CHECK(agent.outboxDepth() == 0);
  CHECK(agent.progress().snapshotDue);

  const QueuedBatch q = agent.nextBatch();
  const wire::Batch b = unseal(q, *agent.key);
  CHECK(b.seq == 2);
  CHECK(b.prevDigest == first.digest);
  REQUIRE(b.snapshot.has_value());
  CHECK(b.snapshot->last);
  CHECK(b.deltas.size() == 10);
  CHECK(hexOf(b.stateDigest) == agent.stateDigestHex());
}

TEST_CASE("a heartbeat is an empty batch carrying the unchanged state digest") {
  Agent agent;
  agent.observe("file:/etc/motd", "present\ttype=file");
  REQUIRE(agent.queue->restartChain().ok());
  const QueuedBatch snapshot = agent.nextBatch();
  agent.ack(snapshot);
  CHECK_FALSE(agent.next(false).has_value());

  auto hb = agent.next(true);
  REQUIRE(hb.has_value());
  const wire::Batch b = unseal(*hb, *agent.key);
  CHECK(b.seq == 2);
  CHECK(b.prevDigest == snapshot.digest);
  CHECK_FALSE(b.snapshot.has_value());
  CHECK(b.deltas.empty());
  CHECK(b.coverage.empty());
  CHECK(hexOf(b.stateDigest) == agent.stateDigestHex());
  CHECK(hb->outboxUpto == 0);
  agent.ack(*hb);
  CHECK(agent.progress().ackedSeq == 2);
}

TEST_CASE("coverage events travel in delta batches and are deleted when acknowledged") {
  Agent agent;
  REQUIRE(agent.queue->restartChain().ok());
  agent.ack(agent.nextBatch());
  REQUIRE(agent.db->appendCoverage("gap-3", R"({"kind":"overflow","scope":"/etc"})", 77).ok());
  const QueuedBatch q = agent.nextBatch();
  const wire::Batch b = unseal(q, *agent.key);
  CHECK(b.deltas.empty());
  REQUIRE(b.coverage.size() == 1);
  CHECK(b.coverage[0].gap == "gap-3");
  CHECK(b.coverage[0].at == 77);
  CHECK(hexOf(b.stateDigest) == agent.stateDigestHex());
  agent.ack(q);
  CHECK(agent.outboxDepth() == 0);
}

TEST_CASE("dropBacklog keeps entries of an unanswered batch and asks for a snapshot") {
  Agent agent;
  REQUIRE(agent.queue->restartChain().ok());
  agent.ack(agent.nextBatch());
  agent.observe("file:/a", "present\ttype=file");
  const QueuedBatch inFlight = agent.nextBatch();
  agent.observe("file:/b", "present\ttype=file");
  REQUIRE(agent.queue->dropBacklog().ok());
  CHECK(agent.outboxDepth() == 1);
  CHECK(agent.nextBatch().signedBytes == inFlight.signedBytes);
  agent.ack(inFlight);
  const wire::Batch b = unseal(agent.nextBatch(), *agent.key);
  REQUIRE(b.snapshot.has_value());
  CHECK(b.prevDigest == inFlight.digest);
  CHECK(hexOf(b.stateDigest) == agent.stateDigestHex());
}

TEST_CASE("parts of a snapshot that a crash interrupted are dropped when the queue opens") {
  Agent agent(BatchLimits{1, 4u << 20});
  agent.observe("file:/a", "present\ttype=file");
  agent.observe("file:/b", "present\ttype=file");
  REQUIRE(agent.queue->restartChain().ok());
  {
    // What buildSnapshot leaves behind when the process dies between its parts: a part
    // written but not yet marked ready.
    auto raw = sqlite::Database::open(agent.db->path());
    REQUIRE(raw.ok());
    REQUIRE(raw->exec("INSERT INTO uplink_batches (seq, signed, digest, state_digest, outbox_upto, "
                      "ready) VALUES (1, x'00', x'00', x'', 0, 0)")
                .ok());
  }
  agent.reopenQueue(BatchLimits{1, 4u << 20});
  CHECK(agent.progress().queuedBatches == 0);

  // The snapshot is built again from the start, and the stale part never goes out.
  std::vector<wire::Batch> parts;
  while (auto q = agent.next()) {
    parts.push_back(unseal(*q, *agent.key));
    agent.ack(*q);
    REQUIRE(parts.size() < 5);
  }
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].seq == 1);
  CHECK(parts[0].snapshot->index == 0);
  CHECK(parts[1].snapshot->last);
  CHECK(hexOf(parts[1].stateDigest) == agent.stateDigestHex());
}

TEST_CASE("a batch built for an identity the agent no longer has is dropped for a new chain") {
  Agent agent;
  agent.observe("file:/etc/motd", "present\ttype=file\tmode=0644");
  REQUIRE(agent.queue->restartChain().ok());
  const QueuedBatch old = agent.nextBatch();  // signed for kHostId, never answered
  CHECK(old.seq == 1);
  // The agent enrolled again meanwhile: a new host id and key sign from now on.
  auto newKey = crypto::Ed25519Key::generate();
  REQUIRE(newKey.ok());
  const BatchSigner renewed{"web-01-77aa00", &*newKey, "0.1.0"};
  auto b = agent.queue->next(renewed, false);
  REQUIRE(b.ok());
  REQUIRE(b->has_value());
  CHECK((*b)->signedBytes != old.signedBytes);
  auto sb = wire::decodeSignedBatch((*b)->signedBytes);
  REQUIRE(sb.ok());
  CHECK(crypto::verifyEd25519(newKey->publicKey(), sb->batch, sb->signature));
  auto batch = wire::decodeBatch(sb->batch);
  REQUIRE(batch.ok());
  CHECK(batch->hostId == "web-01-77aa00");
  CHECK(batch->seq == 1);
  CHECK(batch->snapshot.has_value());  // a new chain starts with a full snapshot
  CHECK(hexOf(batch->stateDigest) == agent.stateDigestHex());
}

TEST_CASE("snapshot parts left by a build that failed half way are never sent") {
  Agent agent;
  agent.observe("file:/etc/motd", "present\ttype=file\tmode=0644");
  REQUIRE(agent.queue->restartChain().ok());
  {
    // What a build interrupted before its parts were marked ready leaves behind.
    auto db = sqlite::Database::open(agent.dir.at("state") + "/" + std::string(StateDb::kFileName));
    REQUIRE(db.ok());
    REQUIRE(db->exec("INSERT INTO uplink_batches (seq, signed, digest, state_digest, outbox_upto, "
                     "ready) VALUES (1, x'00', x'00', x'00', 0, 0)")
                .ok());
  }
  const QueuedBatch b = agent.nextBatch();  // no primary-key clash with the leftover
  const wire::Batch batch = unseal(b, *agent.key);
  CHECK(batch.seq == 1);
  CHECK(batch.snapshot.has_value());
}
