#pragma once
// Streaming SHA-256 through OpenSSL's EVP interface (which uses the CPU's SHA extensions).
// One Sha256 object per thread; reuse it with reset() to avoid re-allocating the context on
// the hot path of a scan. The digest algorithm is fetched once per process.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace driftwatch {

using Sha256Digest = std::array<uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void reset();
  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  Sha256Digest finish();  // the object must be reset() before the next use

  static Sha256Digest of(std::string_view data);

 private:
  struct Context;
  std::unique_ptr<Context> ctx_;
};

std::string toHex(const Sha256Digest& digest);
// Accepts exactly 64 hex digits (either case).
std::optional<Sha256Digest> sha256FromHex(std::string_view hex);

}  // namespace driftwatch
