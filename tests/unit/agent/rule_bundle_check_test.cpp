#include "agent/uplink/rule_bundle_check.h"

#include <fstream>

#include <doctest/doctest.h>

#include "common/crypto/signing.h"
#include "tests/support/temp_dir.h"

using namespace driftwatch;
using namespace driftwatch::agent;
using namespace driftwatch::testing;

namespace {

const std::string kPolicy = "name: web\nfiles:\n  - path: /etc/motd\n    mode: \"0644\"\n";

// An aggregator's rules key and the bundles it would sign.
struct Signer {
  Signer() {
    auto k = crypto::Ed25519Key::generate();
    REQUIRE(k.ok());
    key.emplace(std::move(k).value());
  }

  std::pair<std::string, std::string> sign(const std::string& host, uint64_t revision) const {
    wire::RuleBundle b;
    b.hostId = host;
    b.revision = revision;
    b.issuedAt = 1'700'000'000'000;
    b.policies.push_back({"web", 3, kPolicy, std::nullopt});
    const std::string bytes = wire::encode(b);
    return {bytes, key->sign(bytes)};
  }

  std::string publicKey() const { return key->publicKey(); }

  std::optional<crypto::Ed25519Key> key;
};

std::string reason(const Result<VerifiedBundle>& r) {
  return r.ok() ? std::string() : r.error().message;
}

}  // namespace

TEST_CASE("a bundle signed by the rules key, for this host, not older, is accepted") {
  const Signer s;
  auto [bytes, sig] = s.sign("web-01-abc123", 7);
  auto v = verifyRuleBundle(bytes, sig, s.publicKey(), "web-01-abc123", 7);
  INFO(reason(v));
  REQUIRE(v.ok());
  CHECK(v->bundle.revision == 7);
  REQUIRE(v->bundle.policies.size() == 1);
  CHECK(v->bundle.policies[0].name == "web");
  CHECK(v->bundle.policies[0].version == 3);
  CHECK(v->bundle.policies[0].text == kPolicy);
}

TEST_CASE("a bundle with one tampered byte is refused before it is parsed") {
  const Signer s;
  auto [bytes, sig] = s.sign("web-01-abc123", 7);
  for (size_t i = 0; i < bytes.size(); i += 7) {
    std::string tampered = bytes;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    const auto v = verifyRuleBundle(tampered, sig, s.publicKey(), "web-01-abc123", 0);
    CHECK_FALSE(v.ok());
    CHECK(reason(v).find("signature") != std::string::npos);
  }
  std::string badSig = sig;
  badSig[10] = static_cast<char>(badSig[10] ^ 0x80);
  CHECK_FALSE(verifyRuleBundle(bytes, badSig, s.publicKey(), "web-01-abc123", 0).ok());
}

TEST_CASE("a bundle signed by another key is refused") {
  const Signer s, attacker;
  auto [bytes, sig] = attacker.sign("web-01-abc123", 9);
  const auto v = verifyRuleBundle(bytes, sig, s.publicKey(), "web-01-abc123", 0);
  CHECK_FALSE(v.ok());
  CHECK(reason(v).find("signature") != std::string::npos);
}

TEST_CASE("another host's bundle is refused, even when properly signed") {
  const Signer s;
  auto [bytes, sig] = s.sign("db-01-def456", 7);
  const auto v = verifyRuleBundle(bytes, sig, s.publicKey(), "web-01-abc123", 0);
  CHECK_FALSE(v.ok());
  CHECK(reason(v).find("db-01-def456") != std::string::npos);
}

TEST_CASE("an older revision than the one in force is refused as a replay") {
  const Signer s;
  auto [bytes, sig] = s.sign("web-01-abc123", 6);
  const auto v = verifyRuleBundle(bytes, sig, s.publicKey(), "web-01-abc123", 7);
  CHECK_FALSE(v.ok());
  CHECK(reason(v).find("older") != std::string::npos);
}

TEST_CASE("an enrollment without a rules key accepts no bundle and says to enroll again") {
  const Signer s;
  auto [bytes, sig] = s.sign("web-01-abc123", 1);
  const auto v = verifyRuleBundle(bytes, sig, "", "web-01-abc123", 0);
  CHECK_FALSE(v.ok());
  CHECK(reason(v).find("enroll the agent again") != std::string::npos);
}

TEST_CASE("the stored bundle is verified again when it is loaded") {
  TempDir dir;
  const Signer s;
  auto [bytes, sig] = s.sign("web-01-abc123", 4);
  auto v = verifyRuleBundle(bytes, sig, s.publicKey(), "web-01-abc123", 0);
  REQUIRE(v.ok());
  REQUIRE(saveFleetRules(dir.path(), *v).ok());

  auto loaded = loadFleetRules(dir.path(), s.publicKey(), "web-01-abc123");
  REQUIRE(loaded.ok());
  REQUIRE(loaded->has_value());
  CHECK((*loaded)->bundle.revision == 4);
  CHECK((*loaded)->bytes == bytes);

  // Another host id (a new enrollment), or a file changed on disk: refused.
  CHECK_FALSE(loadFleetRules(dir.path(), s.publicKey(), "web-02-000000").ok());
  const std::string file = dir.path() + "/" + std::string(kFleetRulesFile);
  std::string content;
  {
    std::ifstream in(file, std::ios::binary);
    content.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t at = content.find("/etc/motd");
  REQUIRE(at != std::string::npos);
  content[at + 1] = 'E';
  std::ofstream(file, std::ios::binary | std::ios::trunc) << content;
  CHECK_FALSE(loadFleetRules(dir.path(), s.publicKey(), "web-01-abc123").ok());

  REQUIRE(removeFleetRules(dir.path()).ok());
  auto none = loadFleetRules(dir.path(), s.publicKey(), "web-01-abc123");
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
}
