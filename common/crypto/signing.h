#pragma once
// Ed25519 keys and signatures (OpenSSL EVP): an agent's identity. The private key is kept as
// PKCS#8 PEM, created 0600; the public key travels as its 32 raw bytes. Safe from any thread
// (a key is immutable once made).

#include <memory>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace driftwatch::crypto {

class Ed25519Key {
 public:
  static Result<Ed25519Key> generate();
  static Result<Ed25519Key> fromPem(std::string_view pem, std::string_view where);
  Ed25519Key(Ed25519Key&&) noexcept;
  Ed25519Key& operator=(Ed25519Key&&) noexcept;
  ~Ed25519Key();

  std::string privatePem() const;
  std::string publicKey() const;                     // 32 raw bytes
  std::string sign(std::string_view message) const;  // 64 bytes
  void* raw() const;  // the EVP_PKEY, for TLS contexts and certificates

 private:
  explicit Ed25519Key(void* pkey) : pkey_(pkey) {}
  void* pkey_ = nullptr;
};

// True only for a valid 64-byte signature of `message` by the 32-byte `publicKey`.
bool verifyEd25519(std::string_view publicKey, std::string_view message,
                   std::string_view signature);

// The OpenSSL error queue as text (and cleared), for messages.
std::string opensslError();

}  // namespace driftwatch::crypto
