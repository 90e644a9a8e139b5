// The report channel under attack, end to end: the real aggregator on 127.0.0.1, a real agent
// that reported, and a raw client that sends what an attacker would: a replay of a stored
// batch, a batch altered after signing, one signed with another host's key, one for another
// host, a plaintext request and a request without a client certificate. Each is refused (the
// replay acknowledged without effect), nothing is stored, and the audit trail says so.

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/crypto/sha256.h"
#include "common/crypto/signing.h"
#include "common/sqlite/database.h"
#include "tests/e2e/agent_harness.h"
#include "tests/e2e/daemon_harness.h"
#include "tests/e2e/fleet_harness.h"

using namespace driftwatch;
using namespace driftwatch::testing;
using nlohmann::json;

namespace {

struct StoredBatch {
  std::string batch;
  std::string signature;
};

// The newest batch the aggregator stored for `host`, exactly as it was signed.
StoredBatch newestBatch(const Aggregator& agg, const std::string& host) {
  sqlite::OpenOptions readOnly;
  readOnly.readOnly = true;
  readOnly.create = false;
  auto db = sqlite::Database::open(agg.dataDir() + "/fleet.db", readOnly);
  REQUIRE(db.ok());
  auto st = db->prepare("SELECT batch, signature FROM batches WHERE host = ? ORDER BY seq DESC");
  REQUIRE(st.ok());
  st->bind(1, host);
  REQUIRE(st->step());
  return {st->columnText(0), st->columnText(1)};
}

std::string signedWith(const crypto::Ed25519Key& key, const std::string& batch) {
  return wire::encode(wire::SignedBatch{batch, key.sign(batch)});
}

crypto::Ed25519Key keyOf(const RawReporter& reporter) {
  auto key = crypto::Ed25519Key::fromPem(reporter.identity().keyPem, "identity.key");
  REQUIRE(key.ok());
  return std::move(*key);
}

// What must not change when a report is refused.
struct Footprint {
  json host;
  size_t history = 0;
  bool operator==(const Footprint&) const = default;
};

Footprint footprint(const Aggregator& agg, const std::string& host) {
  json h = agg.host(host);
  h.erase("last_report");  // contact is recorded even for a refused report
  h.erase("last_address");
  return {h, agg.history(host).size()};
}

size_t audited(const Aggregator& agg, const std::string& event, const std::string& detail) {
  size_t n = 0;
  for (const auto& a : agg.audit(event))
    n += a["detail"].get<std::string>().find(detail) != std::string::npos ? 1 : 0;
  return n;
}

// A plain TCP connection that speaks HTTP/1.1 without TLS; what the server answered.
std::string plaintextExchange(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string reply;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0)
    reply.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return reply;
}

}  // namespace

TEST_CASE("fleet: replayed, tampered, foreign-key, misaddressed, plaintext and cert-less reports") {
  TempDir work;
  work.write("root/etc/motd", "welcome\n");
  work.write("p.yaml", "name: fleet\nfiles:\n  - path: /etc\n    recursive: true\n");
  recordBaseline(work, work.at("root"));
  Aggregator agg(work);
  agg.start();
  INFO("aggregator stderr:\n" << agg.stderrText());
  REQUIRE(enrollAgent(agg, work.at("state"), agg.createToken()).exitCode == 0);
  REQUIRE(enrollAgent(agg, work.at("other"), agg.createToken()).exitCode == 0);
  RawReporter agentA(work.at("state"));
  RawReporter agentB(work.at("other"));
  const std::string hostA = agentA.identity().hostId;
  const std::string hostB = agentB.identity().hostId;

  // The real agent reports until the aggregator holds its state, then stops.
  {
    AgentDaemon daemon(work, work.at("root"), "batch_delay: 50ms\nretry_max: 1s\n");
    daemon.start();
    REQUIRE(waitFor([&] {
      const auto s = agentStatus(work.at("state"));
      return s["uplink"]["in_sync"] == true;
    }));
    daemon.signal(SIGTERM);
    REQUIRE(daemon.wait(std::chrono::seconds(30)) == 0);
  }
  const Footprint before = footprint(agg, hostA);
  const Footprint beforeB = footprint(agg, hostB);
  REQUIRE(before.host["seq"].get<int>() >= 1);
  REQUIRE(before.history >= 1);

  // The stored bytes are the signed bytes: the signature verifies with the enrolled key.
  const StoredBatch stored = newestBatch(agg, hostA);
  const auto keyA = keyOf(agentA);
  const auto keyB = keyOf(agentB);
  CHECK(crypto::verifyEd25519(keyA.publicKey(), stored.batch, stored.signature));

  // The next link of A's chain, well formed: what an attacker would like to get applied.
  auto forged = wire::decodeBatch(stored.batch);
  REQUIRE(forged.ok());
  const auto prev = Sha256::of(stored.batch);
  forged->prevDigest.assign(prev.begin(), prev.end());
  forged->seq += 1;
  forged->snapshot.reset();
  forged->deltas = {{"file:/etc/shadow", "present\ttype=file\tmode=0644\towner=0\tgroup=0", 1}};
  const std::string forgedBytes = wire::encode(*forged);

  SUBCASE("a replayed batch is acknowledged without being applied again") {
    const auto reply = agentA.post(wire::encode(wire::SignedBatch{stored.batch, stored.signature}));
    CHECK(reply.status == 200);
    const auto r = RawReporter::decode(reply);
    CHECK(r.status == wire::ReportStatus::kAccepted);
    CHECK(r.ackedSeq == before.host["seq"].get<uint64_t>());
    CHECK(audited(agg, "replay_ignored", "already applied") == 1);
  }
  SUBCASE("a batch altered after it was signed") {
    const auto reply = agentA.post(wire::encode(wire::SignedBatch{forgedBytes, stored.signature}));
    CHECK(reply.status == 403);
    CHECK(RawReporter::decode(reply).status == wire::ReportStatus::kRefused);
    CHECK(audited(agg, "report_refused", "bad signature") == 1);
  }
  SUBCASE("a batch signed with another host's key") {
    const auto reply = agentA.post(signedWith(keyB, forgedBytes));
    CHECK(reply.status == 403);
    CHECK(audited(agg, "report_refused", "bad signature") == 1);
  }
  SUBCASE("a host sending a batch for another host") {
    // B's certificate and B's own signature, but A's host id and chain.
    const auto reply = agentB.post(signedWith(keyB, forgedBytes));
    CHECK(reply.status == 403);
    CHECK(RawReporter::decode(reply).reason.find("another host") != std::string::npos);
    CHECK(audited(agg, "report_refused", "batch for another host") == 1);
    CHECK(footprint(agg, hostB) == beforeB);
  }
  SUBCASE("a plaintext connection") {
    const std::string body = wire::encode(wire::SignedBatch{forgedBytes, keyA.sign(forgedBytes)});
    const std::string reply =
        plaintextExchange(agg.port(),
                          "POST /v1/report HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                          "application/x-protobuf\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body);
    CHECK(reply.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(reply.find("HTTPS only") != std::string::npos);
    CHECK(audited(agg, "connection_refused", "plaintext") == 1);
  }
  SUBCASE("a client without a certificate") {
    const auto reply = agentA.post(signedWith(keyA, forgedBytes), false);
    CHECK(reply.status == 401);
    CHECK(audited(agg, "report_refused", "no client certificate") == 1);
    // Without a certificate only small bodies are read at all: the server answers 413 after
    // the headers and closes, which the client may see as a reset while it is still sending.
    const auto big = agentA.tryPost(std::string(256 * 1024, 'x'), false);
    CHECK((!big.ok() || big->status == 413));
  }
  SUBCASE("malformed bytes from an enrolled host") {
    const auto reply = agentA.post("\x0a\xff\xff\xff\xff\x0f garbage");
    CHECK(reply.status == 400);
    CHECK(audited(agg, "report_refused", "malformed") == 1);
  }

  CHECK(footprint(agg, hostA) == before);
  for (const auto& row : agg.history(hostA))
    CHECK(row["resource"] != "file:/etc/shadow");
  // The audit log file has the same records as the store.
  CHECK(agg.auditFile().size() == agg.audit().size());
}

TEST_CASE("fleet: the aggregator never speaks below TLS 1.2 and by default only TLS 1.3") {
  TempDir work;
  Aggregator agg(work);
  agg.start();
  const std::string target = "127.0.0.1:" + std::to_string(agg.port());
  ProcessOptions quit;
  quit.timeout = std::chrono::seconds(30);
  quit.input = "Q\n";
  const auto tls12 =
      runProcess({"/usr/bin/openssl", "s_client", "-connect", target, "-tls1_2"}, quit);
  CHECK(tls12.exitCode != 0);
  const auto tls13 =
      runProcess({"/usr/bin/openssl", "s_client", "-connect", target, "-tls1_3"}, quit);
  INFO("s_client: " << tls13.out << tls13.err);
  CHECK(tls13.exitCode == 0);
  CHECK(tls13.out.find("TLSv1.3") != std::string::npos);
}

TEST_CASE("fleet: one address cannot hold every connection") {
  TempDir work;
  Aggregator agg(work);
  work.write("agg/aggregator.yaml",
             "data_dir: " + agg.dataDir() + "\nmax_connections_per_address: 2\n");
  agg.start();
  const auto connectIdle = [&] {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(agg.port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    return fd;
  };
  // Two idle connections (saying nothing) take this address's share...
  const int first = connectIdle();
  const int second = connectIdle();
  // ...so the third is closed at once: a read sees the end without waiting for a timeout.
  const int third = connectIdle();
  timeval timeout{10, 0};
  ::setsockopt(third, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  char byte;
  CHECK(::read(third, &byte, 1) == 0);
  ::close(third);
  // Once one goes, the address may connect again: a real request gets through.
  ::close(first);
  const std::string reply = [&] {
    std::string r;
    REQUIRE(waitFor([&] {
      r = plaintextExchange(agg.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
      return !r.empty();
    }));
    return r;
  }();
  CHECK(reply.rfind("HTTP/1.1 400", 0) == 0);  // the plaintext refusal: served, not dropped
  ::close(second);
}
