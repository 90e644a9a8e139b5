#pragma once
// Enrollment tokens: one-time (or N-time) secrets an admin hands to a new host. Only a SHA-256
// of a token is stored; the token itself is shown once, by `token create`. Each carries the
// labels the host gets, an expiry and a use limit.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "aggregator/store/fleet_store.h"
#include "common/base/result.h"

namespace driftwatch::aggregator {

struct NewToken {
  std::string token;  // the secret: "dwt_" and 43 URL-safe characters
  TokenRecord record;
};

Result<NewToken> createToken(const FleetStore& store, const Labels& labels,
                             std::chrono::seconds ttl, int64_t maxUses, int64_t nowSeconds);

// The key a token is stored under.
std::string tokenHash(std::string_view token);

// "role=web,dc=fra": keys of letters, digits and . _ - / (up to 63), values of printable text
// without commas (up to 253). The error names the label.
Result<Labels> parseLabels(std::string_view text, std::string_view flag = "--labels");

}  // namespace driftwatch::aggregator
