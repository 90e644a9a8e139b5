#include "common/crypto/pki.h"

#include <ctime>

#include <doctest/doctest.h>

#include "common/crypto/signing.h"

using namespace driftwatch;
using namespace driftwatch::crypto;

namespace {

KeyAndCert newCa(std::string_view name = "driftwatch fleet CA", int days = 3650) {
  auto ca = createCa(name, days);
  REQUIRE(ca.ok());
  return std::move(ca).value();
}

bool isLowerHex(std::string_view s) {
  for (const char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("a new CA is self-signed, named, and valid for the days asked") {
  const KeyAndCert ca = newCa("driftwatch fleet CA", 30);
  CHECK(ca.certPem.rfind("-----BEGIN CERTIFICATE-----", 0) == 0);
  CHECK(ca.keyPem.find("PRIVATE KEY-----") != std::string::npos);
  CHECK(signedBy(ca.certPem, ca.certPem));
  auto info = inspectCert(ca.certPem);
  REQUIRE(info.ok());
  CHECK(info->commonName == "driftwatch fleet CA");
  CHECK(info->publicKeyRaw.empty());  // ECDSA, not Ed25519
  const int64_t expected = static_cast<int64_t>(std::time(nullptr)) + 30 * 86400;
  CHECK(info->notAfter > expected - 120);
  CHECK(info->notAfter < expected + 120);
  // Two CAs are two different keys.
  const KeyAndCert other = newCa();
  CHECK(other.keyPem != ca.keyPem);
  CHECK_FALSE(signedBy(ca.certPem, other.certPem));
}

TEST_CASE("a fingerprint is sha256: and 64 lowercase hex digits, stable for one certificate") {
  const KeyAndCert ca = newCa();
  auto fp = certFingerprint(ca.certPem);
  REQUIRE(fp.ok());
  REQUIRE(fp->size() == 7 + 64);
  CHECK(fp->rfind("sha256:", 0) == 0);
  CHECK(isLowerHex(fp->substr(7)));
  CHECK(*certFingerprint(ca.certPem) == *fp);
  CHECK(*certFingerprint(newCa().certPem) != *fp);
  auto bad = certFingerprint("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::kInvalidInput);
  CHECK_FALSE(certFingerprint("").ok());
  CHECK_FALSE(inspectCert("garbage").ok());
}

TEST_CASE("a server certificate is signed by the CA and issued for its names only") {
  const KeyAndCert ca = newCa();
  auto server = issueServerCert(ca, {"agg.example.org", "127.0.0.1", "::1"}, 30);
  REQUIRE(server.ok());
  CHECK(signedBy(server->certPem, ca.certPem));
  CHECK(inspectCert(server->certPem)->commonName == "agg.example.org");
  CHECK(verifyServerCert(server->certPem, ca.certPem, "agg.example.org").ok());
  CHECK(verifyServerCert(server->certPem, ca.certPem, "AGG.example.org").ok());  // DNS: any case
  CHECK(verifyServerCert(server->certPem, ca.certPem, "127.0.0.1").ok());
  CHECK(verifyServerCert(server->certPem, ca.certPem, "::1").ok());

  for (const char* wrong :
       {"other.example.org", "example.org", "x.agg.example.org", "10.0.0.1", "127.0.0.2", "::2"}) {
    const std::string shown = wrong;
    CAPTURE(shown);
    auto s = verifyServerCert(server->certPem, ca.certPem, wrong);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message.find("not issued for " + std::string(wrong)) != std::string::npos);
  }
  // An IP address given as a name is matched as an address, not as a DNS name.
  auto byName = issueServerCert(ca, {"agg"}, 30);
  REQUIRE(byName.ok());
  CHECK(verifyServerCert(byName->certPem, ca.certPem, "agg").ok());
  CHECK_FALSE(verifyServerCert(byName->certPem, ca.certPem, "127.0.0.1").ok());
}

TEST_CASE("a server certificate without names is for localhost") {
  const KeyAndCert ca = newCa();
  auto server = issueServerCert(ca, {}, 30);
  REQUIRE(server.ok());
  CHECK(inspectCert(server->certPem)->commonName == "driftwatch-aggregator");
  CHECK(verifyServerCert(server->certPem, ca.certPem, "localhost").ok());
  CHECK_FALSE(verifyServerCert(server->certPem, ca.certPem, "driftwatch-aggregator").ok());
}

TEST_CASE("a server certificate of another CA, or no certificate, is refused") {
  const KeyAndCert ca = newCa();
  const KeyAndCert rogue = newCa("driftwatch fleet CA");  // same name, another key
  auto forged = issueServerCert(rogue, {"agg.example.org"}, 30);
  REQUIRE(forged.ok());
  CHECK_FALSE(signedBy(forged->certPem, ca.certPem));
  auto s = verifyServerCert(forged->certPem, ca.certPem, "agg.example.org");
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message.find("not signed by the pinned CA") != std::string::npos);

  s = verifyServerCert("", ca.certPem, "agg.example.org");
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message.find("no usable certificate") != std::string::npos);
  CHECK_FALSE(signedBy(forged->certPem, "not a CA"));
  CHECK_FALSE(signedBy("not a cert", ca.certPem));
}

TEST_CASE("a client certificate carries the host's Ed25519 key and id") {
  const KeyAndCert ca = newCa();
  auto key = Ed25519Key::generate();
  REQUIRE(key.ok());
  auto cert = issueClientCert(ca, key->publicKey(), "web-01-3fa2c1", 10);
  REQUIRE(cert.ok());
  CHECK(signedBy(*cert, ca.certPem));
  CHECK_FALSE(signedBy(*cert, newCa().certPem));
  auto info = inspectCert(*cert);
  REQUIRE(info.ok());
  CHECK(info->commonName == "web-01-3fa2c1");
  CHECK(info->publicKeyRaw == key->publicKey());
  const int64_t expected = static_cast<int64_t>(std::time(nullptr)) + 10 * 86400;
  CHECK(info->notAfter > expected - 120);
  CHECK(info->notAfter < expected + 120);

  // Each issue is a new certificate (a random serial), even for the same key and host.
  auto again = issueClientCert(ca, key->publicKey(), "web-01-3fa2c1", 10);
  REQUIRE(again.ok());
  CHECK(*certFingerprint(*again) != *certFingerprint(*cert));
}

TEST_CASE("a client certificate needs a valid Ed25519 public key and a readable CA") {
  const KeyAndCert ca = newCa();
  auto shortKey = issueClientCert(ca, std::string(31, 'k'), "h-000000", 10);
  REQUIRE_FALSE(shortKey.ok());
  CHECK(shortKey.error().code == ErrorCode::kInvalidInput);
  CHECK_FALSE(issueClientCert(ca, "", "h-000000", 10).ok());

  auto key = Ed25519Key::generate();
  REQUIRE(key.ok());
  KeyAndCert broken = ca;
  broken.keyPem = "not a key";
  CHECK_FALSE(issueClientCert(broken, key->publicKey(), "h-000000", 10).ok());
  CHECK_FALSE(issueServerCert(broken, {"agg"}, 10).ok());
}
