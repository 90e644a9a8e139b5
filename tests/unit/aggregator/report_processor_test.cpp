#include "aggregator/report/report_processor.h"

#include <map>
#include <memory>

#include <doctest/doctest.h>

#include "common/crypto/sha256.h"
#include "common/crypto/signing.h"
#include "common/crypto/state_digest.h"
#include "common/wire/codec.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/aggregator/store_fixture.h"
#include "tests/unit/aggregator/test_agent.h"

using namespace driftwatch;
using namespace driftwatch::aggregator;
using namespace driftwatch::testing;

namespace {

// An aggregator's fleet store, audit trail and report processor in a temporary data directory.
struct Fleet : testing::StoreFixture {
  Fleet() { processor.emplace(*store, *audit); }

  TestAgent enroll(const std::string& id) const {
    TestAgent agent{id, newKey(), {}, 0, {}};
    HostRecord h;
    h.id = id;
    h.name = id + ".example.org";
    h.publicKey = agent.key->publicKey();
    h.certFingerprint = "sha256:" + std::string(64, '0');
    h.enrolledAt = 1'700'000'000;
    REQUIRE(store->addHost(h).ok());
    return agent;
  }

  static PeerIdentity peerOf(const TestAgent& agent) {
    return PeerIdentity{"127.0.0.1:51234", true, agent.hostId, agent.key->publicKey()};
  }

  HttpResponse send(const std::string& body, const PeerIdentity& peer,
                    std::optional<int64_t> sentAt = std::nullopt, int64_t receivedAt = 0) {
    return processor->handle(
        HttpRequest{"POST", "/v1/report", kProtobufType, body, peer, sentAt, receivedAt});
  }

  wire::ReportResponse report(const TestAgent& agent, const std::string& body,
                              int httpStatus = 200) {
    const HttpResponse r = send(body, peerOf(agent));
    CHECK(r.status == httpStatus);
    CHECK(r.contentType == kProtobufType);
    auto decoded = wire::decodeReportResponse(r.body);
    REQUIRE(decoded.ok());
    return *decoded;
  }

  HostRecord host(const std::string& id) const {
    auto h = store->host(id);
    REQUIRE(h.ok());
    REQUIRE(h->has_value());
    return **h;
  }

  State resources(const std::string& id) const {
    State out;
    REQUIRE(store
                ->forEachResource(
                    id, [&](const std::string& r, const StoredState& s) { out[r] = s.state; })
                .ok());
    return out;
  }

  std::vector<HistoryRow> history(const std::string& id) const {
    auto h = store->history(id, "", 10'000);
    REQUIRE(h.ok());
    return *h;
  }

  int64_t batches(const std::string& id) const {
    auto n = store->batchCount(id);
    REQUIRE(n.ok());
    return *n;
  }

  std::vector<AuditRecord> auditTrail() const {
    auto a = store->audit(1000);
    REQUIRE(a.ok());
    return *a;
  }

  std::optional<ReportProcessor> processor;
};

const State kInitial = {
    {"file:/etc/motd", "present\ttype=file\tmode=0644"},
    {"file:/etc/hosts", "present\ttype=file\tmode=0644"},
    {"sysctl:net.ipv4.ip_forward", "present\tvalue=0"},
};

// Everything stored about a host, to show that a refused or resynced report changed nothing.
struct Stored {
  State resources;
  size_t history = 0;
  int64_t batches = 0;
  uint64_t lastSeq = 0;
  std::string lastDigest;
  std::string stateDigest;
  bool operator==(const Stored&) const = default;
};

Stored storedOf(const Fleet& fleet, const std::string& id) {
  const HostRecord h = fleet.host(id);
  return Stored{fleet.resources(id), fleet.history(id).size(),
                fleet.batches(id),   h.lastSeq,
                h.lastDigest,        h.stateDigest};
}

}  // namespace

TEST_CASE("a one-part snapshot at seq 1 is accepted and becomes the host's state") {
  Fleet fleet;
  TestAgent agent = fleet.enroll("web-01-3fa2c1");
  const auto parts = agent.snapshot(kInitial, 100);
  REQUIRE(parts.size() == 1);

  const wire::ReportResponse r = fleet.report(agent, parts[0]);
  CHECK(r.status == wire::ReportStatus::kAccepted);
  CHECK(r.ackedSeq == 1);
  CHECK(r.ackedDigest == agent.head);
  CHECK(r.serverTime > 0);

  CHECK(fleet.resources(agent.hostId) == kInitial);
  const auto history = fleet.history(agent.hostId);
  REQUIRE(history.size() == 3);
  for (const auto& row : history) {
    CHECK(row.seq == 1);
    CHECK(kInitial.at(row.resource) == row.state);
    CHECK(row.observedAt == 2000);
  }
  const HostRecord h = fleet.host(agent.hostId);
  CHECK(h.lastSeq == 1);
  CHECK(h.lastDigest == agent.head);
  CHECK(h.stateDigest == digestOf(kInitial));
  CHECK_FALSE(h.snapshotNext.has_value());
  CHECK(h.agentVersion == "0.1.0");
  CHECK(h.lastAddress == "127.0.0.1:51234");
  CHECK(h.lastSeen > 0);
  CHECK(h.resourceCount == 3);
  CHECK(fleet.batches(agent.hostId) == 1);
}

TEST_CASE("a multi-part snapshot is staged and applied only with its last part") {
  Fleet fleet;
  TestAgent agent = fleet.enroll("web-01-3fa2c1");
  State full = kInitial;
  full["user:alice"] = "present\tuid=1000";
  full["package:nginx"] = "present\tversion=1.24";
  const auto parts = agent.snapshot(full, 2);
  REQUIRE(parts.size() == 3);

  for (size_t i = 0; i < 2; ++i) {
    const wire::ReportResponse r = fleet.report(agent, parts[i]);
    CHECK(r.status == wire::ReportStatus::kAccepted);
    CHECK(r.ackedSeq == i + 1);
    // Nobody sees a partial host.
    CHECK(fleet.resources(agent.hostId).empty());
    CHECK(fleet.history(agent.hostId).empty());
    CHECK(fleet.host(agent.hostId).snapshotNext == static_cast<int64_t>(i + 1));
  }
  const wire::ReportResponse last = fleet.report(agent, parts[2]);
  CHECK(last.status == wire::ReportStatus::kAccepted);
  CHECK(last.ackedSeq == 3);
  CHECK(last.ackedDigest == agent.head);
  CHECK(fleet.resources(agent.hostId) == full);
  CHECK(fleet.history(agent.hostId).size() == 5);
  const HostRecord h = fleet.host(agent.hostId);
  CHECK(h.lastSeq == 3);
  CHECK(h.stateDigest == digestOf(full));
  CHECK_FALSE(h.snapshotNext.has_value());
  CHECK(fleet.batches(agent.hostId) == 3);
}

TEST_CASE("a later snapshot replaces the host's state: history only for what changed") {
  Fleet fleet;
  TestAgent agent = fleet.enroll("web-01-3fa2c1");
  REQUIRE(fleet.report(agent, agent.snapshot(kInitial, 100)[0]).status ==
          wire::ReportStatus::kAccepted);
  REQUIRE(fleet.history(agent.hostId).size() == 3);

  State next = kInitial;
  next.erase("file:/etc/hosts");                             // gone
  next["sysctl:net.ipv4.ip_forward"] = "present\tvalue=1";   // changed
  next["service:ssh.service"] = "present\tenabled=enabled";  // new; motd unchanged
  for (const auto& part : agent.snapshot(next, 2))
    CHECK(fleet.report(agent, part).status == wire::ReportStatus::kAccepted);

  CHECK(fleet.resources(agent.hostId) == next);
  const auto history = fleet.history(agent.hostId);
  REQUIRE(history.size() == 3 + 3);
  std::map<std::string, std::string> added;
  for (size_t i = 3; i < history.size(); ++i)
    added[history[i].resource] = history[i].state;
  CHECK(added ==
        std::map<std::string, std::string>{{"file:/etc/hosts", "absent"},
                                           {"service:ssh.service", "present\tenabled=enabled"},
                                           {"sysctl:net.ipv4.ip_forward", "present\tvalue=1"}});
  CHECK(fleet.host(agent.hostId).stateDigest == digestOf(next));
}

TEST_CASE("a delta batch after the snapshot is applied with its history") {
  Fleet fleet;
  TestAgent agent = fleet.enroll("web-01-3fa2c1");
  REQUIRE(fleet.report(agent, agent.snapshot(kInitial, 100)[0]).status ==
          wire::ReportStatus::kAccepted);
  const std::string body = agent.delta({{"file:/etc/motd", "present\ttype=file\tmode=0600"},
                                        {"file:/etc/hosts", "absent"},
                                        {"user:bob", "present\tuid=1001"},
                                        {"package:telnetd", "unobserved"}});
  const wire::ReportResponse r = fleet.report(agent, body);
  CHECK(r.status == wire::ReportStatus::kAccepted);
  CHECK(r.ackedSeq == 2);
  CHECK(r.ackedDigest == agent.head);
  CHECK(fleet.resources(agent.hostId) == agent.state);
  CHECK(fleet.resources(agent.hostId).count("file:/etc/hosts") == 0);
  const auto history = fleet.history(agent.hostId);
  // package:telnetd was never there: "unobserved" changes nothing and leaves no history row.
  REQUIRE(history.size() == 3 + 3);
  for (const auto& row : history)
    CHECK(row.resource != "package:telnetd");
  CHECK(history[3].resource == "file:/etc/motd");
  CHECK(history[3].state == "present\ttype=file\tmode=0600");
  CHECK(history[3].seq == 2);
  CHECK(history[4].state == "absent");
  const HostRecord h = fleet.host(agent.hostId);
  CHECK(h.lastSeq == 2);
  CHECK(h.lastDigest == agent.head);
  CHECK(h.stateDigest == digestOf(agent.state));
  CHECK(fleet.batches(agent.hostId) == 2);

  // An empty batch (a heartbeat) is a link of the chain too.
  CHECK(fleet.report(agent, agent.delta({})).status == wire::ReportStatus::kAccepted);
  CHECK(fleet.host(agent.hostId).lastSeq == 3);
  CHECK(fleet.history(agent.hostId).size() == 6);
}

TEST_CASE("a replay of a stored batch is acknowledged without being applied again") {
  Fleet fleet;
  TestAgent agent = fleet.enroll("web-01-3fa2c1");
  const std::string first = agent.snapshot(kInitial, 100)[0];
  REQUIRE(fleet.report(agent, first).status == wire::ReportStatus::kAccepted);
  const std::string body = agent.delta({{"file:/etc/motd", "present\ttype=file\tmode=0600"}});
  REQUIRE(fleet.report(agent, body).status == wire::ReportStatus::kAccepted);
  const Stored before = storedOf(fleet, agent.hostId);

  // The answer was lost; the agent sends the same bytes again.
  const wire::ReportResponse again = fleet.report(agent, body);
  CHECK(again.status == wire::ReportStatus::kAccepted);
  CHECK(again.ackedSeq == 2);
  CHECK(again.ackedDigest == agent.head);
  CHECK(storedOf(fleet, agent.hostId) == before);
  const auto trail = fleet.auditTrail();
  REQUIRE_FALSE(trail.empty());
  CHECK(trail.back().event == "replay_ignored");
  CHECK(trail.back().host == agent.hostId);
  CHECK(trail.back().detail.find("seq 2") != std::string::npos);

  // An older batch too: the answer names the current head.
  const wire::ReportResponse old = fleet.report(agent, first);
  CHECK(old.status == wire::ReportStatus::kAccepted);
  CHECK(old.ackedSeq == 2);
  CHECK(storedOf(fleet, agent.hostId) == before);
  CHECK(fleet.auditTrail().back().event == "replay_ignored");
}

TEST_CASE("a gap in the chain asks for a resync from the stored head") {
  Fleet fleet;
  TestAgent agent = fleet.enroll("web-01-3fa2c1");
  REQUIRE(fleet.report(agent, agent.snapshot(kInitial, 100)[0]).status ==
          wire::ReportStatus::kAccepted);
  const std::string head = agent.head;
  const Stored before = storedOf(fleet, agent.hostId);
  (void)agent.delta({{"file:/etc/motd", "absent"}});  // seq 2: lost on the way
  const std::string third = agent.delta({{"user:carol", "present\tuid=1002"}});

  const wire::ReportResponse r = fleet.report(agent, third);
  CHECK(r.status == wire::ReportStatus::kResync);
  CHECK(r.ackedSeq == 1);
  CHECK(r.ackedDigest == head);
  CHECK(r.reason.find("gap") != std::string::npos);
  CHECK(storedOf(fleet, agent.hostId) == before);
  CHECK(fleet.auditTrail().back().event == "resync_requested");
}

TEST_CASE("other bytes under a sequence number already used are a fork: resync") {
  Fleet fleet;
  TestAgent agent = fleet.enroll("web-01-3fa2c1");
  REQUIRE(fleet.report(agent, agent.snapshot(kInitial, 100)[0]).status ==
          wire::ReportStatus::kAccepted);
  TestAgent fork = agent;  // the same chain, copied before it diverges
  REQUIRE(fleet.report(agent, agent.delta({{"file:/etc/motd", "absent"}})).status ==
          wire::ReportStatus::kAccepted);
  const Stored before = storedOf(fleet, agent.hostId);

  const std::string other = fork.delta({{"file:/etc/hosts", "absent"}});  // also seq 2
  const wire::ReportResponse r = fleet.report(fork, other);
  CHECK(r.status == wire::ReportStatus::kResync);
  CHECK(r.ackedSeq == 2);
  CHECK(r.ackedDigest == agent.head);
  CHECK(storedOf(fleet, agent.hostId) == before);
  const auto trail = fleet.auditTrail();
  CHECK(trail.back().event == "resync_requested");
  CHECK(trail.back().detail.find("fork") != std::string::npos);
}

TEST_CASE("a batch that does not continue the previous digest asks for a resync") {
  Fleet fleet;
  TestAgent agent = fleet.enroll("web-01-3fa2c1");
  REQUIRE(fleet.report(agent, agent.snapshot(kInitial, 100)[0]).status ==
          wire::ReportStatus::kAccepted);
  const Stored before = storedOf(fleet, agent.hostId);
  agent.head = std::string(32, '\x13');  // the agent lost track of its chain
  const wire::ReportResponse r = fleet.report(agent, agent.delta({{"file:/etc/motd", "absent"}}));
  CHECK(r.status == wire::ReportStatus::kResync);
  CHECK(r.ackedSeq == 1);
  CHECK(r.reason.find("previous digest") != std::string::npos);
  CHECK(storedOf(fleet, agent.hostId) == before);
}

TEST_CASE("a state digest that differs from the aggregator's copy stores nothing: resync") {
  Fleet fleet;
  TestAgent agent = fleet.enroll("web-01-3fa2c1");
  REQUIRE(fleet.report(agent, agent.snapshot(kInitial, 100)[0]).status ==
          wire::ReportStatus::kAccepted);
  const std::string head = agent.head;
  const Stored before = storedOf(fleet, agent.hostId);

  SUBCASE("a delta batch") {
    wire::Batch b = agent.next();
    b.deltas.push_back({"file:/etc/motd", "present\ttype=file\tmode=0600", 1});
    State claimed = kInitial;  // the agent claims a state the batch does not lead to
    claimed["file:/etc/motd"] = "present\ttype=file\tmode=0600";
    claimed["user:mallory"] = "present\tuid=0";
    b.stateDigest = digestOf(claimed);
    const wire::ReportResponse r = fleet.report(agent, agent.seal(b));
    CHECK(r.status == wire::ReportStatus::kResync);
    CHECK(r.ackedSeq == 1);
    CHECK(r.ackedDigest == head);
    CHECK(r.reason == "state digest mismatch");
  }
  SUBCASE("a snapshot") {
    wire::Batch b = agent.next();
    b.snapshot = wire::SnapshotPart{0, true};
    b.deltas.push_back({"file:/etc/motd", "present\ttype=file", 1});
    b.stateDigest = digestOf(kInitial);
    const wire::ReportResponse r = fleet.report(agent, agent.seal(b));
    CHECK(r.status == wire::ReportStatus::kResync);
    CHECK(r.ackedSeq == 1);
    CHECK(r.reason == "state digest mismatch");
  }
  CHECK(storedOf(fleet, agent.hostId) == before);
  CHECK(fleet.resources(agent.hostId) == kInitial);
  const auto trail = fleet.auditTrail();
  CHECK(trail.back().event == "resync_requested");
  CHECK(trail.back().detail.find("state digest") != std::string::npos);
}

TEST_CASE("after a resync, a snapshot continuing the stored chain is accepted") {
  Fleet fleet;
  TestAgent agent = fleet.enroll("web-01-3fa2c1");
  REQUIRE(fleet.report(agent, agent.snapshot(kInitial, 100)[0]).status ==
          wire::ReportStatus::kAccepted);
  (void)agent.delta({{"file:/etc/motd", "absent"}});  // lost
  const wire::ReportResponse resync =
      fleet.report(agent, agent.delta({{"file:/etc/hosts", "absent"}}));
  REQUIRE(resync.status == wire::ReportStatus::kResync);

  agent.seq = resync.ackedSeq;
  agent.head = resync.ackedDigest;
  const auto parts = agent.snapshot(agent.state, 100);
  const wire::ReportResponse r = fleet.report(agent, parts[0]);
  CHECK(r.status == wire::ReportStatus::kAccepted);
  CHECK(r.ackedSeq == 2);
  CHECK(fleet.resources(agent.hostId) == agent.state);
  CHECK(fleet.host(agent.hostId).stateDigest == digestOf(agent.state));
}

TEST_CASE("snapshot parts out of order, or a delta inside a snapshot, ask for a resync") {
  Fleet fleet;
  TestAgent agent = fleet.enroll("web-01-3fa2c1");
  REQUIRE(fleet.report(agent, agent.snapshot(kInitial, 100)[0]).status ==
          wire::ReportStatus::kAccepted);
  const Stored before = storedOf(fleet, agent.hostId);

  SUBCASE("part 1 without part 0") {
    wire::Batch b = agent.next();
    b.snapshot = wire::SnapshotPart{1, true};
    b.stateDigest = digestOf({});
    const wire::ReportResponse r = fleet.report(agent, agent.seal(b));
    CHECK(r.status == wire::ReportStatus::kResync);
    CHECK(r.reason == "snapshot part out of order");
    CHECK(storedOf(fleet, agent.hostId) == before);
  }
  SUBCASE("a delta batch after part 0") {
    TestAgent snapshotting = agent;
    const auto parts = snapshotting.snapshot(kInitial, 2);
    REQUIRE(parts.size() == 2);
    REQUIRE(fleet.report(agent, parts[0]).status == wire::ReportStatus::kAccepted);
    // The delta continues the chain right after part 0.
    agent.seq = 2;
    agent.head = sha256Bytes(wire::decodeSignedBatch(parts[0])->batch);
    const wire::ReportResponse r = fleet.report(agent, agent.delta({{"user:x", "absent"}}));
    CHECK(r.status == wire::ReportStatus::kResync);
    CHECK(r.reason == "a snapshot was left unfinished");
    CHECK(r.ackedSeq == 2);
    CHECK(fleet.resources(agent.hostId) == kInitial);
  }
}

TEST_CASE("reports that fail authentication are refused, audited, and store nothing") {
  Fleet fleet;
  TestAgent agent = fleet.enroll("web-01-3fa2c1");
  TestAgent other = fleet.enroll("db-01-77aa00");
  REQUIRE(fleet.report(agent, agent.snapshot(kInitial, 100)[0]).status ==
          wire::ReportStatus::kAccepted);
  const Stored before = storedOf(fleet, agent.hostId);
  const Stored otherBefore = storedOf(fleet, other.hostId);
  const size_t auditBefore = fleet.auditTrail().size();

  PeerIdentity peer = Fleet::peerOf(agent);
  std::string body;
  int expectedStatus = 403;
  std::string expectedAudit;
  std::string expectedHost = agent.hostId;

  SUBCASE("a bad signature") {
    TestAgent copy = agent;  // so that the chain of `agent` stays as stored
    const std::string good = copy.delta({{"file:/etc/motd", "absent"}});
    auto sb = wire::decodeSignedBatch(good);
    REQUIRE(sb.ok());
    sb->signature[5] ^= 0x01;
    body = wire::encode(*sb);
    expectedAudit = "bad signature";
  }
  SUBCASE("bytes changed after signing") {
    TestAgent copy = agent;
    auto sb = wire::decodeSignedBatch(copy.delta({{"file:/etc/motd", "absent"}}));
    REQUIRE(sb.ok());
    wire::Batch b = *wire::decodeBatch(sb->batch);
    b.deltas[0].state = "present\ttype=file\tmode=0777";
    sb->batch = wire::encode(b);
    body = wire::encode(*sb);
    expectedAudit = "bad signature";
  }
  SUBCASE("signed with another host's key") {
    TestAgent forged{agent.hostId, other.key, agent.state, agent.seq, agent.head};
    body = forged.delta({{"file:/etc/motd", "absent"}});
    expectedAudit = "bad signature";
  }
  SUBCASE("a batch for another host, over that host's own certificate") {
    // The other host signs a batch that claims to be from `agent`.
    TestAgent forged{agent.hostId, other.key, agent.state, agent.seq, agent.head};
    body = forged.delta({{"file:/etc/motd", "absent"}});
    peer = PeerIdentity{"127.0.0.1:51234", true, other.hostId, other.key->publicKey()};
    expectedAudit = "batch for another host";
    expectedHost = other.hostId;
  }
  SUBCASE("no client certificate") {
    TestAgent copy = agent;
    body = copy.delta({{"file:/etc/motd", "absent"}});
    peer = PeerIdentity{"127.0.0.1:51234", false, "", ""};
    expectedStatus = 401;
    expectedAudit = "no client certificate";
    expectedHost = "";
  }
  SUBCASE("a certificate for a host that is not enrolled") {
    TestAgent stranger{"ghost-000000", newKey(), {}, 0, {}};
    body = stranger.snapshot(kInitial, 100)[0];
    peer = Fleet::peerOf(stranger);
    expectedAudit = "unknown host";
    expectedHost = "ghost-000000";
  }
  SUBCASE("a revoked host") {
    auto revoked = fleet.store->revokeHost(agent.hostId, 1'700'000'100);
    REQUIRE(revoked.ok());
    REQUIRE(*revoked);
    TestAgent copy = agent;
    body = copy.delta({{"file:/etc/motd", "absent"}});
    expectedAudit = "revoked";
  }
  SUBCASE("a certificate key that differs from the enrolled key") {
    // A certificate for this host id with another key (and a batch signed with that key).
    TestAgent impostor{agent.hostId, newKey(), agent.state, agent.seq, agent.head};
    body = impostor.delta({{"file:/etc/motd", "absent"}});
    peer = Fleet::peerOf(impostor);
    expectedAudit = "differs from the enrolled key";
  }
  SUBCASE("a malformed body") {
    body = "certainly not a SignedBatch";
    expectedStatus = 400;
    expectedAudit = "malformed";
  }
  SUBCASE("a signed batch that does not decode") {
    wire::Batch b = agent.next();
    b.stateDigest = std::string(31, '\x01');
    const std::string bytes = wire::encode(b);
    body = wire::encode(wire::SignedBatch{bytes, agent.key->sign(bytes)});
    expectedStatus = 400;
    expectedAudit = "state_digest";
  }

  const HttpResponse response = fleet.send(body, peer);
  CHECK(response.status == expectedStatus);
  auto r = wire::decodeReportResponse(response.body);
  REQUIRE(r.ok());
  CHECK(r->status == wire::ReportStatus::kRefused);
  CHECK_FALSE(r->reason.empty());
  CHECK(r->ackedSeq == 0);

  CHECK(storedOf(fleet, agent.hostId) == before);
  CHECK(storedOf(fleet, other.hostId) == otherBefore);
  auto ghost = fleet.store->host("ghost-000000");
  REQUIRE(ghost.ok());
  CHECK_FALSE(ghost->has_value());
  CHECK(fleet.resources("ghost-000000").empty());

  const auto trail = fleet.auditTrail();
  REQUIRE(trail.size() == auditBefore + 1);
  CHECK(trail.back().event == "report_refused");
  CHECK(trail.back().host == expectedHost);
  CHECK(trail.back().peer == "127.0.0.1:51234");
  CHECK(trail.back().detail.find(expectedAudit) != std::string::npos);
}

TEST_CASE("each accepted report measures the host's clock skew from when it was sent") {
  Fleet fleet;
  TestAgent agent = fleet.enroll("web-01-3fa2c1");
  CHECK_FALSE(fleet.host(agent.hostId).clockSkewMs.has_value());
  const int64_t arrived = 1'800'000'000'000;
  const HttpResponse ahead =
      fleet.send(agent.snapshot(kInitial, 100)[0], Fleet::peerOf(agent), arrived + 1500, arrived);
  REQUIRE(ahead.status == 200);
  CHECK(fleet.host(agent.hostId).clockSkewMs == 1500);
  const HttpResponse behind =
      fleet.send(agent.delta({}), Fleet::peerOf(agent), arrived - 250, arrived);
  REQUIRE(behind.status == 200);
  CHECK(fleet.host(agent.hostId).clockSkewMs == -250);
  // A client that does not say when it sent leaves the last measurement.
  REQUIRE(fleet.send(agent.delta({}), Fleet::peerOf(agent)).status == 200);
  CHECK(fleet.host(agent.hostId).clockSkewMs == -250);
}

TEST_CASE("reports handled as one group: each is judged alone, all commit together") {
  Fleet fleet;
  TestAgent web = fleet.enroll("web-01-3fa2c1");
  TestAgent db = fleet.enroll("db-01-77aa01");
  TestAgent bad = fleet.enroll("bad-01-000001");
  const std::string webSnap = web.snapshot(kInitial, 100)[0];
  const std::string webDelta = web.delta({{"file:/etc/motd", "present\ttype=file\tmode=0600"}});
  const std::string dbSnap = db.snapshot(kInitial, 100)[0];
  // bad's first batch claims a state its deltas do not lead to: resync, nothing of it kept.
  wire::Batch lie = bad.next();
  lie.snapshot = wire::SnapshotPart{0, true};
  lie.deltas.push_back({"file:/etc/motd", "present\ttype=file", 1});
  lie.stateDigest = digestOf(kInitial);
  const std::string badSnap = bad.seal(lie);
  const std::string tampered = [&] {
    std::string body = db.delta({{"user:mallory", "present\tuid=0"}});
    body[body.size() / 2] ^= 0x01;
    return body;
  }();

  const auto request = [](const std::string& body, const TestAgent& a) {
    return HttpRequest{"POST", "/v1/report", kProtobufType, body, Fleet::peerOf(a), {}, 0};
  };
  // Two batches of one host in one group: the second sees the first's chain head.
  const HttpRequest r1 = request(webSnap, web), r2 = request(webDelta, web),
                    r3 = request(badSnap, bad), r4 = request(dbSnap, db),
                    r5 = request(tampered, db);
  const HttpRequest* group[] = {&r1, &r2, &r3, &r4, &r5};
  const auto answers = fleet.processor->handleMany(group);
  REQUIRE(answers.size() == 5);
  const auto statusOf = [](const HttpResponse& r) {
    auto decoded = wire::decodeReportResponse(r.body);
    REQUIRE(decoded.ok());
    return decoded->status;
  };
  CHECK(statusOf(answers[0]) == wire::ReportStatus::kAccepted);
  CHECK(statusOf(answers[1]) == wire::ReportStatus::kAccepted);
  CHECK(statusOf(answers[2]) == wire::ReportStatus::kResync);
  CHECK(statusOf(answers[3]) == wire::ReportStatus::kAccepted);
  CHECK(answers[4].status != 200);
  CHECK(statusOf(answers[4]) == wire::ReportStatus::kRefused);

  CHECK(fleet.host(web.hostId).lastSeq == 2);
  CHECK(fleet.resources(web.hostId) == web.state);
  CHECK(fleet.host(db.hostId).lastSeq == 1);
  CHECK(fleet.resources(db.hostId) == kInitial);
  CHECK(fleet.host(bad.hostId).lastSeq == 0);
  CHECK(fleet.resources(bad.hostId).empty());
  CHECK(fleet.batches(bad.hostId) == 0);
  // The refusal and the resync are on the audit trail, committed with the group.
  bool sawResync = false, sawRefusal = false;
  for (const auto& a : fleet.auditTrail()) {
    sawResync = sawResync || (a.event == "resync_requested" && a.host == bad.hostId);
    sawRefusal = sawRefusal || (a.event == "report_refused" && a.host == db.hostId);
  }
  CHECK(sawResync);
  CHECK(sawRefusal);
}
