#include "common/wire/codec.h"

#include <doctest/doctest.h>

using namespace driftwatch;
using namespace driftwatch::wire;

namespace {

std::string bytes32(char fill) {
  return std::string(32, fill);
}

Batch sampleBatch() {
  Batch b;
  b.hostId = "web-01-3fa2c1";
  b.seq = 7;
  b.prevDigest = bytes32('\x01');
  b.stateDigest = bytes32('\xfe');
  b.snapshot = SnapshotPart{2, true};
  b.deltas = {{"file:/etc/motd", "present\ttype=file\tmode=0644", 1700000000123},
              {"sysctl:net.ipv4.ip_forward", "present\tvalue=1", 1700000000456},
              {"file:/tmp/a\\x0ab", "absent", 1700000000789}};
  b.coverage = {{"gap-1", R"({"kind":"overflow","scope":"*"})", 1700000000001}};
  b.agentVersion = "0.1.0";
  b.sentAt = 1700000001000;
  return b;
}

// decodeBatch of `b`, which must fail; returns the error.
Error refusedBatch(const Batch& b) {
  auto decoded = decodeBatch(encode(b));
  REQUIRE_FALSE(decoded.ok());
  return decoded.error();
}

}  // namespace

TEST_CASE("a batch survives encode and decode field by field") {
  const Batch b = sampleBatch();
  auto d = decodeBatch(encode(b));
  REQUIRE(d.ok());
  CHECK(d->hostId == b.hostId);
  CHECK(d->seq == 7);
  CHECK(d->prevDigest == b.prevDigest);
  CHECK(d->stateDigest == b.stateDigest);
  REQUIRE(d->snapshot.has_value());
  CHECK(*d->snapshot == SnapshotPart{2, true});
  REQUIRE(d->deltas.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(d->deltas[i].resource == b.deltas[i].resource);
    CHECK(d->deltas[i].state == b.deltas[i].state);
    CHECK(d->deltas[i].observedAt == b.deltas[i].observedAt);
  }
  REQUIRE(d->coverage.size() == 1);
  CHECK(d->coverage[0].gap == "gap-1");
  CHECK(d->coverage[0].payload == b.coverage[0].payload);
  CHECK(d->coverage[0].at == 1700000000001);
  CHECK(d->agentVersion == "0.1.0");
  CHECK(d->sentAt == 1700000001000);
  // Encoding is deterministic: what the agent signs is what it sends again.
  CHECK(encode(*d) == encode(b));
}

TEST_CASE("a delta batch has no snapshot part, and seq 1 may have no previous digest") {
  Batch b = sampleBatch();
  b.snapshot.reset();
  b.seq = 1;
  b.prevDigest.clear();
  auto d = decodeBatch(encode(b));
  REQUIRE(d.ok());
  CHECK_FALSE(d->snapshot.has_value());
  CHECK(d->prevDigest.empty());
  // Part 0 that is not the last still counts as a snapshot part.
  b.snapshot = SnapshotPart{0, false};
  d = decodeBatch(encode(b));
  REQUIRE(d.ok());
  REQUIRE(d->snapshot.has_value());
  CHECK(*d->snapshot == SnapshotPart{0, false});
}

TEST_CASE("signed batches, enrollment messages and report responses round trip") {
  const std::string batchBytes = encode(sampleBatch());
  const std::string signature(64, '\x5a');
  auto sb = decodeSignedBatch(encode(SignedBatch{batchBytes, signature}));
  REQUIRE(sb.ok());
  CHECK(sb->batch == batchBytes);
  CHECK(sb->signature == signature);

  EnrollStatement st{"dwt_secret", std::string(32, '\x07'), "web-01.example.org", "0.1.0", 42};
  auto std2 = decodeEnrollStatement(encode(st));
  REQUIRE(std2.ok());
  CHECK(std2->token == "dwt_secret");
  CHECK(std2->publicKey == st.publicKey);
  CHECK(std2->hostname == "web-01.example.org");
  CHECK(std2->agentVersion == "0.1.0");
  CHECK(std2->requestedAt == 42);

  EnrollRequest req{encode(st), std::string(64, '\x09')};
  auto req2 = decodeEnrollRequest(encode(req));
  REQUIRE(req2.ok());
  CHECK(req2->statement == req.statement);
  CHECK(req2->signature == req.signature);

  EnrollResponse resp{
      "web-01-3fa2c1", "CLIENT PEM", "CA PEM", {{"role", "web"}, {"dc", "fra"}}, bytes32('\x44')};
  auto resp2 = decodeEnrollResponse(encode(resp));
  REQUIRE(resp2.ok());
  CHECK(resp2->hostId == resp.hostId);
  CHECK(resp2->clientCertPem == "CLIENT PEM");
  CHECK(resp2->caCertPem == "CA PEM");
  CHECK(resp2->labels == resp.labels);
  CHECK(resp2->rulesPublicKey == resp.rulesPublicKey);
  // An older aggregator sends no rules key; a key of another length is malformed.
  resp.rulesPublicKey.clear();
  REQUIRE(decodeEnrollResponse(encode(resp)).ok());
  CHECK(decodeEnrollResponse(encode(resp))->rulesPublicKey.empty());
  resp.rulesPublicKey = "short";
  CHECK_FALSE(decodeEnrollResponse(encode(resp)).ok());

  for (const auto status :
       {ReportStatus::kAccepted, ReportStatus::kResync, ReportStatus::kRefused}) {
    ReportResponse r{status, 12, bytes32('\x33'), "because", 1700000000000};
    auto r2 = decodeReportResponse(encode(r));
    REQUIRE(r2.ok());
    CHECK(r2->status == status);
    CHECK(r2->ackedSeq == 12);
    CHECK(r2->ackedDigest == r.ackedDigest);
    CHECK(r2->reason == "because");
    CHECK(r2->serverTime == 1700000000000);
  }
  // Before the first batch there is no acknowledged digest.
  auto empty = decodeReportResponse(encode(ReportResponse{ReportStatus::kResync, 0, "", "", 0}));
  REQUIRE(empty.ok());
  CHECK(empty->ackedDigest.empty());
}

TEST_CASE("states made of tab-separated escaped fields are accepted") {
  Batch b = sampleBatch();
  b.deltas = {{"file:/etc/ssh/sshd_config",
               "present\ttype=file\tmode=0600\towner=root\tsha256=ab12\tpath=/x\\x09y", 1},
              {"package:openssh-server", "present\tversion=1:9.6p1-3\tstate=installed", 2},
              {"user:www-data", "unobserved", 3},
              {"file:/etc/caf\xc3\xa9", "present\tcomment=caf\xc3\xa9", 4}};
  auto d = decodeBatch(encode(b));
  REQUIRE(d.ok());
  REQUIRE(d->deltas.size() == 4);
  CHECK(d->deltas[0].state == b.deltas[0].state);
  CHECK(d->deltas[3].resource == "file:/etc/caf\xc3\xa9");
}

TEST_CASE("a resource id not in canonical form is refused, naming the delta") {
  Batch b = sampleBatch();
  // "\x41" unescapes to 'A', so the canonical form is "file:/etc/A".
  b.deltas[1].resource = "file:/etc/\\x41";
  Error e = refusedBatch(b);
  CHECK(e.code == ErrorCode::kInvalidInput);
  CHECK(e.where == "deltas[1].resource");
  CHECK(e.message.find("canonical") != std::string::npos);

  for (const std::string bad :
       {"no-kind", "disk:/dev/sda", "file:", "file:/tmp/\\", "file:/a\tb"}) {
    CAPTURE(bad);
    b.deltas[1].resource = bad;
    CHECK(refusedBatch(b).where == "deltas[1].resource");
  }
}

TEST_CASE("a state with control characters or empty fields is refused, naming the delta") {
  Batch b = sampleBatch();
  for (const std::string& bad :
       {std::string("present\ttype=file\x1b[31m"), std::string("present\nmode=0644"),
        std::string("present\x7f"), std::string("present\0x", 9), std::string("present\t"),
        std::string("\tpresent"), std::string("present\t\ttype=file"), std::string(""),
        std::string("bidi\xe2\x80\xae")}) {
    CAPTURE(bad);
    b.deltas[2].state = bad;
    const Error e = refusedBatch(b);
    CHECK(e.where == "deltas[2].state");
    CHECK(e.message.find("tab-separated") != std::string::npos);
  }
  // Invalid UTF-8 does not get through either (Protobuf itself refuses it in a string field).
  b.deltas[2].state = "caf\xc3";
  CHECK_FALSE(decodeBatch(encode(b)).ok());
}

TEST_CASE("digests must have 32 bytes") {
  Batch b = sampleBatch();
  b.stateDigest = std::string(31, '\x01');
  CHECK(refusedBatch(b).where == "state_digest");
  b.stateDigest.clear();
  CHECK(refusedBatch(b).where == "state_digest");
  b = sampleBatch();
  b.prevDigest = std::string(31, '\x01');
  CHECK(refusedBatch(b).where == "prev_digest");
  b.prevDigest = std::string(33, '\x01');
  CHECK(refusedBatch(b).where == "prev_digest");
  // Only seq 1 may go without a previous digest.
  b.prevDigest.clear();
  CHECK(refusedBatch(b).where == "prev_digest");
  b.seq = 1;
  CHECK(decodeBatch(encode(b)).ok());

  ReportResponse r{ReportStatus::kAccepted, 3, std::string(31, '\x01'), "", 0};
  auto decoded = decodeReportResponse(encode(r));
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().where == "acked_digest");
}

TEST_CASE("a batch without host id or with seq 0 is refused") {
  Batch b = sampleBatch();
  b.hostId.clear();
  CHECK(refusedBatch(b).where == "host_id");
  b.hostId = std::string(129, 'h');
  CHECK(refusedBatch(b).where == "host_id");
  b = sampleBatch();
  b.seq = 0;
  CHECK(refusedBatch(b).where == "seq");
  b = sampleBatch();
  b.agentVersion = std::string(65, 'v');
  CHECK(refusedBatch(b).where == "agent_version");
}

TEST_CASE("fields past their limits are refused") {
  Batch b = sampleBatch();
  b.deltas[0].state = "present\tcontent=" + std::string(kMaxFieldBytes, 'x');
  CHECK(refusedBatch(b).where == "deltas[0]");
  b = sampleBatch();
  b.deltas[0].resource = "file:/" + std::string(kMaxFieldBytes, 'x');
  CHECK(refusedBatch(b).where == "deltas[0]");
  b = sampleBatch();
  b.coverage[0].payload = "bad\x01payload";
  CHECK(refusedBatch(b).where == "coverage[0]");
  b.coverage[0].payload = "{}";
  b.coverage[0].gap = std::string(65, 'g');
  CHECK(refusedBatch(b).where == "coverage[0]");
}

TEST_CASE("input larger than the body limit is refused before it is parsed") {
  // Valid protobuf (one long agent_version field) that is just over the limit: the size check
  // must come first, and say so.
  Batch b = sampleBatch();
  b.agentVersion = std::string(kMaxBodyBytes, 'v');
  const std::string big = encode(b);
  REQUIRE(big.size() > kMaxBodyBytes);
  auto d = decodeBatch(big);
  REQUIRE_FALSE(d.ok());
  CHECK(d.error().where == "Batch");
  CHECK(d.error().message.find("larger than") != std::string::npos);

  auto sb = decodeSignedBatch(std::string(kMaxBodyBytes + 1, '\0'));
  REQUIRE_FALSE(sb.ok());
  CHECK(sb.error().message.find("larger than") != std::string::npos);

  auto enroll = decodeEnrollRequest(std::string(kMaxEnrollBytes + 1, '\0'));
  REQUIRE_FALSE(enroll.ok());
  CHECK(enroll.error().message.find("64 KiB") != std::string::npos);
}

TEST_CASE("garbage bytes are refused as malformed messages") {
  const std::string garbage[] = {
      std::string("\x00", 1),                          // field number 0
      std::string("\xff\xff\xff\xff\xff", 5),          // a tag varint that never ends
      std::string("\x32\x7f", 2),                      // a delta longer than the input
      std::string("\x0a\x05web", 4),                   // a host id cut short
      std::string("\x0f\x01\x02\x03", 4),              // wire type 7 does not exist
      std::string("not a protobuf message at all\n"),  // text
  };
  for (const auto& g : garbage) {
    CAPTURE(g);
    auto d = decodeBatch(g);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().code == ErrorCode::kInvalidInput);
    CHECK_FALSE(d.error().describe().empty());
    CHECK_FALSE(decodeSignedBatch(g).ok());
    CHECK_FALSE(decodeEnrollRequest(g).ok());
    CHECK_FALSE(decodeReportResponse(g).ok());
  }
  auto d = decodeBatch(garbage[0]);
  REQUIRE_FALSE(d.ok());
  CHECK(d.error().message == "not a valid Batch message");
}

TEST_CASE("envelopes check their own fields") {
  auto sb = decodeSignedBatch(encode(SignedBatch{"x", std::string(63, 's')}));
  REQUIRE_FALSE(sb.ok());
  CHECK(sb.error().where == "signature");
  sb = decodeSignedBatch(encode(SignedBatch{"", std::string(64, 's')}));
  REQUIRE_FALSE(sb.ok());
  CHECK(sb.error().where == "batch");

  auto req = decodeEnrollRequest(encode(EnrollRequest{"x", std::string(65, 's')}));
  REQUIRE_FALSE(req.ok());
  CHECK(req.error().where == "signature");

  EnrollStatement st{"dwt_x", std::string(31, 'k'), "h", "v", 0};
  auto s = decodeEnrollStatement(encode(st));
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().where == "public_key");
  st.publicKey = std::string(32, 'k');
  st.token.clear();
  s = decodeEnrollStatement(encode(st));
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().where == "token");

  auto resp = decodeEnrollResponse(encode(EnrollResponse{}));
  REQUIRE_FALSE(resp.ok());
  CHECK(resp.error().where == "host_id");

  // STATUS_UNSPECIFIED (0) and a number the enum does not have.
  for (const std::string& raw : {std::string("\x08\x00", 2), std::string("\x08\x07", 2)}) {
    auto r = decodeReportResponse(raw);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().where == "status");
  }
}

TEST_CASE("rules messages round-trip, and a bundle is checked field by field") {
  const RulesRequest req{"web-01-3fa2c1", 42};
  auto req2 = decodeRulesRequest(encode(req));
  REQUIRE(req2.ok());
  CHECK(req2->hostId == "web-01-3fa2c1");
  CHECK(req2->haveRevision == 42);
  CHECK_FALSE(decodeRulesRequest(encode(RulesRequest{"", 1})).ok());

  RuleBundle b;
  b.hostId = "web-01-3fa2c1";
  b.revision = 7;
  b.issuedAt = 1'700'000'000'000;
  b.policies.push_back({"web", 2, "name: web\n", std::nullopt});
  b.policies.push_back({"etc", 1, "name: etc\n", std::string("@format\t1\n")});
  auto b2 = decodeRuleBundle(encode(b));
  REQUIRE(b2.ok());
  CHECK(b2->hostId == b.hostId);
  CHECK(b2->revision == 7);
  CHECK(b2->issuedAt == b.issuedAt);
  REQUIRE(b2->policies.size() == 2);
  CHECK_FALSE(b2->policies[0].baseline.has_value());
  CHECK(b2->policies[1].baseline == "@format\t1\n");

  RuleBundle bad = b;
  bad.revision = 0;
  CHECK_FALSE(decodeRuleBundle(encode(bad)).ok());
  bad = b;
  bad.policies[0].version = 0;
  CHECK_FALSE(decodeRuleBundle(encode(bad)).ok());
  bad = b;
  bad.policies[0].name = "bad\x1bname";
  CHECK_FALSE(decodeRuleBundle(encode(bad)).ok());

  RulesResponse unchanged;
  unchanged.status = RulesStatus::kUnchanged;
  unchanged.revision = 7;
  auto u2 = decodeRulesResponse(encode(unchanged));
  REQUIRE(u2.ok());
  CHECK(u2->status == RulesStatus::kUnchanged);
  CHECK(u2->revision == 7);
  RulesResponse bundle{RulesStatus::kBundle, encode(b), std::string(64, 's'), 7};
  REQUIRE(decodeRulesResponse(encode(bundle)).ok());
  bundle.signature = "short";
  CHECK_FALSE(decodeRulesResponse(encode(bundle)).ok());
  CHECK_FALSE(decodeRulesResponse("garbage that is not a message").ok());
}
