#include "common/crypto/signing.h"

#include <utility>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

namespace driftwatch::crypto {
namespace {

EVP_PKEY* key(void* p) {
  return static_cast<EVP_PKEY*>(p);
}

}  // namespace

std::string opensslError() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

Result<Ed25519Key> Ed25519Key::generate() {
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (pkey == nullptr)
    return makeError(ErrorCode::kInternal, "cannot create an Ed25519 key: " + opensslError());
  return Ed25519Key(pkey);
}

Result<Ed25519Key> Ed25519Key::fromPem(std::string_view pem, std::string_view where) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (pkey == nullptr) {
    return makeError(ErrorCode::kInvalidInput, "not a PEM private key: " + opensslError(),
                     std::string(where));
  }
  if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(pkey);
    return makeError(ErrorCode::kInvalidInput, "the key is not an Ed25519 key", std::string(where));
  }
  return Ed25519Key(pkey);
}

Ed25519Key::Ed25519Key(Ed25519Key&& other) noexcept : pkey_(std::exchange(other.pkey_, nullptr)) {}

Ed25519Key& Ed25519Key::operator=(Ed25519Key&& other) noexcept {
  if (this != &other) {
    EVP_PKEY_free(key(pkey_));
    pkey_ = std::exchange(other.pkey_, nullptr);
  }
  return *this;
}

Ed25519Key::~Ed25519Key() {
  EVP_PKEY_free(key(pkey_));
}

void* Ed25519Key::raw() const {
  return pkey_;
}

std::string Ed25519Key::privatePem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key(pkey_), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  return pem;
}

std::string Ed25519Key::publicKey() const {
  std::string out(32, '\0');
  size_t len = out.size();
  EVP_PKEY_get_raw_public_key(key(pkey_), reinterpret_cast<unsigned char*>(out.data()), &len);
  out.resize(len);
  return out;
}

std::string Ed25519Key::sign(std::string_view message) const {
  std::string sig(64, '\0');
  size_t len = sig.size();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key(pkey_)) == 1 &&
      EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return {};
  sig.resize(len);
  return sig;
}

bool verifyEd25519(std::string_view publicKey, std::string_view message,
                   std::string_view signature) {
  if (publicKey.size() != 32 || signature.size() != 64) return false;
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(publicKey.data()), 32);
  if (pkey == nullptr) {
    ERR_clear_error();
    return false;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pkey) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  ERR_clear_error();
  return ok;
}

}  // namespace driftwatch::crypto
