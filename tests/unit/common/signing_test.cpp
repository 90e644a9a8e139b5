#include "common/crypto/signing.h"

#include <doctest/doctest.h>

#include "common/crypto/pki.h"

using namespace driftwatch;
using namespace driftwatch::crypto;
using namespace std::string_literals;

namespace {

Ed25519Key newKey() {
  auto key = Ed25519Key::generate();
  REQUIRE(key.ok());
  return std::move(key).value();
}

}  // namespace

TEST_CASE("a signature verifies for its message and key only") {
  const Ed25519Key key = newKey();
  const std::string message = "the exact bytes of a batch\0with a NUL"s;
  const std::string sig = key.sign(message);
  REQUIRE(sig.size() == 64);
  REQUIRE(key.publicKey().size() == 32);
  CHECK(verifyEd25519(key.publicKey(), message, sig));

  std::string tampered = message;
  tampered[3] ^= 0x01;
  CHECK_FALSE(verifyEd25519(key.publicKey(), tampered, sig));
  CHECK_FALSE(verifyEd25519(key.publicKey(), message + "x", sig));
  CHECK_FALSE(verifyEd25519(key.publicKey(), "", sig));

  std::string badSig = sig;
  badSig[10] ^= 0x40;
  CHECK_FALSE(verifyEd25519(key.publicKey(), message, badSig));

  const Ed25519Key other = newKey();
  CHECK(other.publicKey() != key.publicKey());
  CHECK_FALSE(verifyEd25519(other.publicKey(), message, sig));
  CHECK(verifyEd25519(other.publicKey(), message, other.sign(message)));
}

TEST_CASE("keys and signatures of the wrong size never verify") {
  const Ed25519Key key = newKey();
  const std::string sig = key.sign("m");
  CHECK_FALSE(verifyEd25519(key.publicKey().substr(0, 31), "m", sig));
  CHECK_FALSE(verifyEd25519(key.publicKey() + "x", "m", sig));
  CHECK_FALSE(verifyEd25519(key.publicKey(), "m", sig.substr(0, 63)));
  CHECK_FALSE(verifyEd25519(key.publicKey(), "m", sig + "x"));
  CHECK_FALSE(verifyEd25519("", "m", ""));
  CHECK_FALSE(verifyEd25519(std::string(32, '\0'), "m", std::string(64, '\0')));
}

TEST_CASE("Ed25519 signatures are deterministic") {
  const Ed25519Key key = newKey();
  CHECK(key.sign("same message") == key.sign("same message"));
  CHECK(key.sign("same message") != key.sign("other message"));
}

TEST_CASE("a key survives its PEM form, and what is not an Ed25519 key is refused") {
  const Ed25519Key key = newKey();
  const std::string pem = key.privatePem();
  CHECK(pem.rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);
  auto again = Ed25519Key::fromPem(pem, "agent.key");
  REQUIRE(again.ok());
  CHECK(again->publicKey() == key.publicKey());
  CHECK(verifyEd25519(key.publicKey(), "m", again->sign("m")));

  auto garbage = Ed25519Key::fromPem("not a key", "/etc/driftwatch/agent.key");
  REQUIRE_FALSE(garbage.ok());
  CHECK(garbage.error().code == ErrorCode::kInvalidInput);
  CHECK(garbage.error().where == "/etc/driftwatch/agent.key");

  // A PEM private key of another type (the CA's ECDSA key) is not an agent key.
  auto ca = createCa("test CA", 1);
  REQUIRE(ca.ok());
  auto ec = Ed25519Key::fromPem(ca->keyPem, "ca.key");
  REQUIRE_FALSE(ec.ok());
  CHECK(ec.error().message.find("not an Ed25519 key") != std::string::npos);
}

TEST_CASE("a moved key keeps signing, and the moved-from key is empty") {
  Ed25519Key key = newKey();
  const std::string pub = key.publicKey();
  Ed25519Key moved = std::move(key);
  CHECK(moved.publicKey() == pub);
  CHECK(moved.raw() != nullptr);
  CHECK(key.raw() == nullptr);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  Ed25519Key other = newKey();
  other = std::move(moved);
  CHECK(other.publicKey() == pub);
  CHECK(verifyEd25519(pub, "m", other.sign("m")));
}
