#pragma once
// Admin API tokens: bearer secrets for the admin REST API and /metrics, one per name (a person
// or a scraper). Only a SHA-256 of a token is stored, so the table leaks nothing usable; a
// token is shown once, by `api-token create`. A request is authenticated by looking its token's
// hash up, never by comparing secrets, so the time it takes says nothing about stored tokens.
// Data access on the fleet store's connection (table api_tokens); used by one thread at a time.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "aggregator/store/fleet_store.h"
#include "common/base/result.h"

namespace driftwatch::aggregator {

// What a token may do: kScopeRead reads the fleet (the GET endpoints and /metrics);
// kScopeWrite also acts on it (the POST endpoints: ack, retry, accept, waive).
inline constexpr std::string_view kScopeRead = "read";
inline constexpr std::string_view kScopeWrite = "write";

struct ApiTokenRecord {
  std::string name;
  std::string scope = std::string(kScopeRead);
  int64_t createdAt = 0;              // unix seconds
  std::optional<int64_t> expiresAt;   // nullopt: never
  std::optional<int64_t> lastUsedAt;  // nullopt: never used
};

struct NewApiToken {
  std::string token;  // the secret: "dwa_" and 64 hex digits
  ApiTokenRecord record;
};

// Why a request's credentials were refused; never holds the token.
struct ApiAuthFailure {
  std::string reason;
};

class ApiTokens {
 public:
  explicit ApiTokens(const FleetStore& store) : store_(store) {}

  // `ttl` nullopt: the token does not expire. A name in use is an error (revoke it first).
  Result<NewApiToken> create(std::string_view name, std::optional<std::chrono::seconds> ttl,
                             int64_t nowSeconds, std::string_view scope = kScopeRead) const;
  Result<std::vector<ApiTokenRecord>> list() const;
  // False when there is no token by that name.
  Result<bool> revoke(std::string_view name) const;

  // The token's record when `authorization` is "Bearer T" for a known, unexpired T (and its
  // last use is recorded), else why not. A store failure is an error.
  Result<std::variant<ApiTokenRecord, ApiAuthFailure>> authenticate(std::string_view authorization,
                                                                    int64_t nowSeconds) const;
  // The record of a known, unexpired token in `authorization`, without recording a use.
  Result<std::optional<ApiTokenRecord>> find(std::string_view authorization,
                                             int64_t nowSeconds) const;

 private:
  // The record of `token` (the secret itself), expired or not.
  Result<std::optional<ApiTokenRecord>> lookup(std::string_view token) const;

  const FleetStore& store_;
};

// kScopeRead or kScopeWrite; the error names --scope.
Status checkApiTokenScope(std::string_view scope);
// A token name: 1 to 64 letters, digits or . _ - @ (a person, a service); the error names it.
Status checkApiTokenName(std::string_view name);

}  // namespace driftwatch::aggregator
