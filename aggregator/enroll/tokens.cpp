#include "aggregator/enroll/tokens.h"

#include <openssl/rand.h>

#include "common/base/escape.h"
#include "common/base/strings.h"
#include "common/crypto/sha256.h"
#include "common/model/labels.h"

namespace driftwatch::aggregator {
namespace {

std::string base64Url(const unsigned char* data, size_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    buffer = (buffer << 8) | data[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(buffer >> bits) & 0x3f];
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << (6 - bits)) & 0x3f];
  return out;
}

}  // namespace

std::string tokenHash(std::string_view token) {
  return toHex(Sha256::of(token));
}

Result<NewToken> createToken(const FleetStore& store, const Labels& labels,
                             std::chrono::seconds ttl, int64_t maxUses, int64_t nowSeconds) {
  unsigned char secret[32];
  if (RAND_bytes(secret, sizeof secret) != 1)
    return makeError(ErrorCode::kInternal, "no randomness for a token");
  NewToken t;
  t.token = "dwt_" + base64Url(secret, sizeof secret);
  const std::string hash = tokenHash(t.token);
  t.record.id = hash.substr(0, 12);
  t.record.labels = labels;
  t.record.createdAt = nowSeconds;
  t.record.expiresAt = nowSeconds + ttl.count();
  t.record.maxUses = maxUses;
  if (auto s = store.addToken(hash, t.record); !s.ok()) return s.error();
  return t;
}

Result<Labels> parseLabels(std::string_view text, std::string_view flag) {
  Labels out;
  if (trim(text).empty()) return out;
  for (const auto part : split(text, ',')) {
    const std::string_view item = trim(part);
    const size_t eq = item.find('=');
    const std::string shown = escapeBytes(item);
    if (eq == std::string_view::npos)
      return makeError(ErrorCode::kInvalidInput, "a label is KEY=VALUE",
                       std::string(flag) + " " + shown);
    const std::string_view key = trim(item.substr(0, eq));
    const std::string_view value = trim(item.substr(eq + 1));
    if (!model::isLabelKey(key)) {
      return makeError(ErrorCode::kInvalidInput,
                       "a label key is 1 to 63 letters, digits or . _ - /",
                       std::string(flag) + " " + shown);
    }
    if (!model::isLabelValue(value))
      return makeError(ErrorCode::kInvalidInput, "a label value is up to 253 printable characters",
                       std::string(flag) + " " + shown);
    if (!out.emplace(std::string(key), std::string(value)).second)
      return makeError(ErrorCode::kInvalidInput, "the label is given twice",
                       std::string(flag) + " " + shown);
  }
  return out;
}

}  // namespace driftwatch::aggregator
