#include "aggregator/enroll/enrollment.h"

#include <ctime>
#include <regex>

#include <doctest/doctest.h>

#include "aggregator/enroll/tokens.h"
#include "common/crypto/sha256.h"
#include "common/crypto/signing.h"
#include "common/wire/codec.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/aggregator/store_fixture.h"

using namespace driftwatch;
using namespace driftwatch::aggregator;
using namespace std::chrono_literals;

namespace {

int64_t now() {
  return static_cast<int64_t>(std::time(nullptr));
}

crypto::Ed25519Key newKey() {
  auto key = crypto::Ed25519Key::generate();
  REQUIRE(key.ok());
  return std::move(key).value();
}

// An enrollment request for `key`, signed by `signer` (the same key, unless a test forges it).
std::string enrollBody(std::string_view token, const crypto::Ed25519Key& key,
                       const crypto::Ed25519Key& signer,
                       std::string_view hostname = "Web-01.example.org") {
  const std::string statement = wire::encode(wire::EnrollStatement{
      std::string(token), key.publicKey(), std::string(hostname), "0.1.0", now()});
  return wire::encode(wire::EnrollRequest{statement, signer.sign(statement)});
}

std::string enrollBody(std::string_view token, const crypto::Ed25519Key& key) {
  return enrollBody(token, key, key);
}

// A fleet store, its audit trail, a real fleet CA and the enrollment service over them.
struct Enrollment : testing::StoreFixture {
  Enrollment() {
    auto created = crypto::createCa("driftwatch fleet CA", 3650);
    REQUIRE(created.ok());
    ca = *created;
    auto key = crypto::Ed25519Key::generate();
    REQUIRE(key.ok());
    rulesPublicKey = key->publicKey();
    service.emplace(*store, *audit, ca, 30, rulesPublicKey);
  }

  NewToken token(const Labels& labels = {}, int64_t maxUses = 1, std::chrono::seconds ttl = 24h,
                 int64_t createdAt = now()) const {
    auto t = createToken(*store, labels, ttl, maxUses, createdAt);
    REQUIRE(t.ok());
    return *t;
  }

  HttpResponse handle(const std::string& body) {
    return service->handle(HttpRequest{"POST", "/v1/enroll", kProtobufType, body,
                                       PeerIdentity{"10.0.0.7:40000", false, "", ""}, std::nullopt,
                                       0});
  }

  std::vector<HostRecord> hosts() const {
    auto h = store->hosts();
    REQUIRE(h.ok());
    return *h;
  }

  int64_t uses(const NewToken& t) const {
    auto record = store->token(tokenHash(t.token));
    REQUIRE(record.ok());
    REQUIRE(record->has_value());
    return (*record)->uses;
  }

  AuditRecord lastAudit() const {
    auto a = store->audit(1);
    REQUIRE(a.ok());
    REQUIRE(a->size() == 1);
    return a->front();
  }

  crypto::KeyAndCert ca;
  std::string rulesPublicKey;
  std::optional<EnrollmentService> service;
};

bool isHostId(const std::string& id, const std::string& base) {
  return std::regex_match(id, std::regex(base + "-[0-9a-f]{6}"));
}

}  // namespace

TEST_CASE("a valid token enrolls the host and issues a certificate for its key") {
  Enrollment e;
  const NewToken t = e.token({{"role", "web"}, {"dc", "fra"}});
  const crypto::Ed25519Key key = newKey();
  const HttpResponse r = e.handle(enrollBody(t.token, key));
  REQUIRE(r.status == 200);
  CHECK(r.contentType == kProtobufType);
  auto response = wire::decodeEnrollResponse(r.body);
  REQUIRE(response.ok());
  CHECK(isHostId(response->hostId, "web-01"));
  CHECK(response->labels == Labels{{"role", "web"}, {"dc", "fra"}});
  CHECK(response->caCertPem == e.ca.certPem);
  // The key that signs this host's rule bundles travels only in this pinned answer.
  CHECK(response->rulesPublicKey == e.rulesPublicKey);

  // The certificate: signed by the fleet CA, for this host id and this key.
  CHECK(crypto::signedBy(response->clientCertPem, e.ca.certPem));
  auto info = crypto::inspectCert(response->clientCertPem);
  REQUIRE(info.ok());
  CHECK(info->commonName == response->hostId);
  CHECK(info->publicKeyRaw == key.publicKey());
  CHECK(info->notAfter > now() + 29 * 86400);
  CHECK(info->notAfter < now() + 31 * 86400);

  const auto hosts = e.hosts();
  REQUIRE(hosts.size() == 1);
  const HostRecord& h = hosts[0];
  CHECK(h.id == response->hostId);
  CHECK(h.name == "Web-01.example.org");
  CHECK(h.labels == response->labels);
  CHECK(h.publicKey == key.publicKey());
  CHECK(h.certFingerprint == *crypto::certFingerprint(response->clientCertPem));
  CHECK(h.agentVersion == "0.1.0");
  CHECK(h.enrolledAt >= now() - 60);
  CHECK(h.lastSeq == 0);
  CHECK_FALSE(h.revokedAt.has_value());
  CHECK(e.uses(t) == 1);

  const AuditRecord a = e.lastAudit();
  CHECK(a.event == "host_enrolled");
  CHECK(a.host == h.id);
  CHECK(a.peer == "10.0.0.7:40000");
  CHECK(a.detail.find("token " + t.record.id) != std::string::npos);
  // The secret itself is never recorded.
  CHECK(a.detail.find(t.token) == std::string::npos);
  CHECK(e.dir.read("audit.log").find(t.token) == std::string::npos);
  CHECK(e.dir.read("audit.log").find("host_enrolled") != std::string::npos);
}

TEST_CASE("a token enrolls as many hosts as it allows, then is used up") {
  Enrollment e;
  const NewToken t = e.token({}, 2);
  CHECK(e.handle(enrollBody(t.token, newKey())).status == 200);
  CHECK(e.handle(enrollBody(t.token, newKey())).status == 200);
  CHECK(e.uses(t) == 2);

  const HttpResponse r = e.handle(enrollBody(t.token, newKey()));
  CHECK(r.status == 403);
  CHECK(r.body.find("used up") != std::string::npos);
  CHECK(e.hosts().size() == 2);
  CHECK(e.uses(t) == 2);
  const AuditRecord a = e.lastAudit();
  CHECK(a.event == "enroll_refused");
  CHECK(a.detail.find("used up") != std::string::npos);
}

TEST_CASE("an expired token is refused") {
  Enrollment e;
  // Created two days ago, valid for one.
  const NewToken t = e.token({}, 5, 24h, now() - 2 * 86400);
  const HttpResponse r = e.handle(enrollBody(t.token, newKey()));
  CHECK(r.status == 403);
  CHECK(r.body.find("expired") != std::string::npos);
  CHECK(e.hosts().empty());
  CHECK(e.uses(t) == 0);
  CHECK(e.lastAudit().event == "enroll_refused");
  CHECK(e.lastAudit().detail.find("expired") != std::string::npos);
}

TEST_CASE("an unknown token is refused") {
  Enrollment e;
  const NewToken t = e.token();
  const HttpResponse r = e.handle(enrollBody(t.token + "x", newKey()));
  CHECK(r.status == 403);
  CHECK(r.body.find("unknown enrollment token") != std::string::npos);
  CHECK(e.hosts().empty());
  CHECK(e.uses(t) == 0);
  CHECK(e.lastAudit().detail == "unknown token");
}

TEST_CASE("a statement not signed by the key it presents is refused before the token is spent") {
  Enrollment e;
  const NewToken t = e.token();
  const crypto::Ed25519Key key = newKey();
  const HttpResponse r = e.handle(enrollBody(t.token, key, newKey()));
  CHECK(r.status == 400);
  CHECK(r.body.find("not signed by the key") != std::string::npos);
  CHECK(e.hosts().empty());
  CHECK(e.uses(t) == 0);
  CHECK(e.lastAudit().event == "enroll_refused");

  // The statement changed after signing.
  const std::string statement =
      wire::encode(wire::EnrollStatement{t.token, key.publicKey(), "web-02", "0.1.0", now()});
  std::string signature = key.sign(statement);
  const std::string tampered =
      wire::encode(wire::EnrollStatement{t.token, key.publicKey(), "web-03", "0.1.0", now()});
  CHECK(e.handle(wire::encode(wire::EnrollRequest{tampered, signature})).status == 400);
  CHECK(e.hosts().empty());
  CHECK(e.uses(t) == 0);
}

TEST_CASE("a key that is enrolled already is refused") {
  Enrollment e;
  const NewToken t = e.token({}, 5);
  const crypto::Ed25519Key key = newKey();
  REQUIRE(e.handle(enrollBody(t.token, key)).status == 200);
  const HttpResponse r = e.handle(enrollBody(t.token, key, key, "other-name"));
  CHECK(r.status == 409);
  CHECK(r.body.find("enrolled already") != std::string::npos);
  CHECK(e.hosts().size() == 1);
  CHECK(e.uses(t) == 1);
  CHECK(e.lastAudit().event == "enroll_refused");
}

TEST_CASE("a malformed enrollment request is refused") {
  Enrollment e;
  const NewToken t = e.token();
  CHECK(e.handle("garbage").status == 400);
  // A statement with a key of the wrong size.
  const std::string statement =
      wire::encode(wire::EnrollStatement{t.token, std::string(31, 'k'), "h", "v", 0});
  const HttpResponse r =
      e.handle(wire::encode(wire::EnrollRequest{statement, std::string(64, 's')}));
  CHECK(r.status == 400);
  CHECK(r.body.find("public_key") != std::string::npos);
  CHECK(e.hosts().empty());
  CHECK(e.uses(t) == 0);
}

TEST_CASE("a host name that is not display-safe is stored escaped") {
  Enrollment e;
  const NewToken t = e.token();
  const crypto::Ed25519Key key = newKey();
  // A terminal escape in the reported host name (valid UTF-8, so it passes the codec).
  const HttpResponse r = e.handle(enrollBody(t.token, key, key, "evil\x1b[2Jhost"));
  REQUIRE(r.status == 200);
  const auto hosts = e.hosts();
  REQUIRE(hosts.size() == 1);
  CHECK(hosts[0].name.find('\x1b') == std::string::npos);
  CHECK(isHostId(hosts[0].id, "evil-2jhost"));
}

TEST_CASE("tokens are random secrets stored only as their hash") {
  Enrollment e;
  const NewToken a = e.token({{"role", "db"}}, 3, 1h, 1'700'000'000);
  const NewToken b = e.token();
  CHECK(a.token != b.token);
  CHECK(std::regex_match(a.token, std::regex("dwt_[A-Za-z0-9_-]{43}")));
  CHECK(tokenHash(a.token) == toHex(Sha256::of(a.token)));
  CHECK(a.record.id == tokenHash(a.token).substr(0, 12));
  CHECK(a.record.expiresAt == 1'700'000'000 + 3600);
  CHECK(a.record.maxUses == 3);

  auto stored = e.store->token(tokenHash(a.token));
  REQUIRE(stored.ok());
  REQUIRE(stored->has_value());
  CHECK((*stored)->id == a.record.id);
  CHECK((*stored)->labels == Labels{{"role", "db"}});
  CHECK((*stored)->expiresAt == a.record.expiresAt);
  CHECK((*stored)->uses == 0);
  auto byToken = e.store->token(a.token);  // the secret is not a key of the store
  REQUIRE(byToken.ok());
  CHECK_FALSE(byToken->has_value());
}

TEST_CASE("labels parse from KEY=VALUE lists") {
  auto l = parseLabels("role=web,dc=fra");
  REQUIRE(l.ok());
  CHECK(*l == Labels{{"role", "web"}, {"dc", "fra"}});
  l = parseLabels(" role = web , team/owner=ops.sre_1 ");
  REQUIRE(l.ok());
  CHECK(*l == Labels{{"role", "web"}, {"team/owner", "ops.sre_1"}});
  l = parseLabels("");
  REQUIRE(l.ok());
  CHECK(l->empty());
  l = parseLabels("note=caf\xc3\xa9 au lait");
  REQUIRE(l.ok());
  CHECK(l->at("note") == "caf\xc3\xa9 au lait");
}

TEST_CASE("label mistakes name the label") {
  const auto err = [](std::string_view text) {
    auto l = parseLabels(text);
    if (l.ok()) FAIL("expected an error for " << text);
    return l.error();
  };
  Error e = err("role=web,dc");
  CHECK(e.where == "--labels dc");
  CHECK(e.message.find("KEY=VALUE") != std::string::npos);
  e = err("role=web,bad key=x");
  CHECK(e.where == "--labels bad key=x");
  CHECK(e.message.find("label key") != std::string::npos);
  CHECK(err("=x").where == "--labels =x");
  CHECK(err(std::string(64, 'k') + "=v").message.find("1 to 63") != std::string::npos);
  CHECK(parseLabels(std::string(63, 'k') + "=v").ok());
  e =
      err("role=a\x01"
          "b");
  CHECK(e.where == "--labels role=a\\x01b");
  CHECK(e.message.find("label value") != std::string::npos);
  CHECK(err("path=c:\\temp").message.find("label value") != std::string::npos);
  CHECK(err("v=" + std::string(254, 'x')).message.find("253") != std::string::npos);
  e = err("role=web,role=db");
  CHECK(e.where == "--labels role=db");
  CHECK(e.message.find("twice") != std::string::npos);
}

TEST_CASE("a host id is the short host name in lowercase with a random suffix") {
  CHECK(isHostId(makeHostId("Web-01.example.org"), "web-01"));
  CHECK(isHostId(makeHostId("db_primary"), "db-primary"));
  CHECK(isHostId(makeHostId("--a  b--"), "a-b"));
  CHECK(isHostId(makeHostId("caf\xc3\xa9"), "caf"));
  CHECK(isHostId(makeHostId(""), "host"));
  CHECK(isHostId(makeHostId(".example.org"), "host"));
  CHECK(isHostId(makeHostId("***"), "host"));
  CHECK(isHostId(makeHostId(std::string(100, 'a')), std::string(40, 'a')));
  // Two hosts of one name stay apart.
  CHECK(makeHostId("web") != makeHostId("web"));
}
