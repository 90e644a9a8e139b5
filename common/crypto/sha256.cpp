#include "common/crypto/sha256.h"

#include <cstdio>
#include <cstdlib>

#include <openssl/evp.h>

namespace driftwatch {
namespace {

// Fetching the implementation once avoids a provider lookup per file (measurable on trees of
// small files). The EVP_MD lives for the whole process.
const EVP_MD* sha256Md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) {
    std::fputs("driftwatch: OpenSSL has no SHA256 implementation\n", stderr);
    std::abort();
  }
  return md;
}

[[noreturn]] void digestFailure() {
  // EVP digest calls fail only on allocation failure or a broken OpenSSL install; there is no
  // meaningful way to carry on hashing.
  std::fputs("driftwatch: OpenSSL SHA-256 failed\n", stderr);
  std::abort();
}

}  // namespace

struct Sha256::Context {
  EVP_MD_CTX* ctx = nullptr;
  ~Context() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : ctx_(std::make_unique<Context>()) {
  ctx_->ctx = EVP_MD_CTX_new();
  if (ctx_->ctx == nullptr) digestFailure();
  reset();
}

Sha256::~Sha256() = default;

void Sha256::reset() {
  if (EVP_DigestInit_ex2(ctx_->ctx, sha256Md(), nullptr) != 1) digestFailure();
}

void Sha256::update(const void* data, size_t size) {
  if (size == 0) return;
  if (EVP_DigestUpdate(ctx_->ctx, data, size) != 1) digestFailure();
}

Sha256Digest Sha256::finish() {
  Sha256Digest digest{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_->ctx, digest.data(), &len) != 1 || len != digest.size()) {
    digestFailure();
  }
  return digest;
}

Sha256Digest Sha256::of(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

std::string toHex(const Sha256Digest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (const uint8_t b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 0x0f];
  }
  return out;
}

std::optional<Sha256Digest> sha256FromHex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  // A table instead of three range tests a character: baselines decode one digest a file.
  static constexpr auto kNibble = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    for (int c = '0'; c <= '9'; ++c)
      t[static_cast<size_t>(c)] = static_cast<int8_t>(c - '0');
    for (int c = 'a'; c <= 'f'; ++c)
      t[static_cast<size_t>(c)] = static_cast<int8_t>(c - 'a' + 10);
    for (int c = 'A'; c <= 'F'; ++c)
      t[static_cast<size_t>(c)] = static_cast<int8_t>(c - 'A' + 10);
    return t;
  }();
  Sha256Digest digest{};
  int bad = 0;
  for (size_t i = 0; i < 32; ++i) {
    const int hi = kNibble[static_cast<uint8_t>(hex[2 * i])];
    const int lo = kNibble[static_cast<uint8_t>(hex[2 * i + 1])];
    bad |= hi | lo;  // negative when either is not a hex digit
    digest[i] = static_cast<uint8_t>((static_cast<unsigned>(hi) << 4) | static_cast<unsigned>(lo));
  }
  if (bad < 0) return std::nullopt;
  return digest;
}

}  // namespace driftwatch
