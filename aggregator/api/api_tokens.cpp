#include "aggregator/api/api_tokens.h"

#include <openssl/rand.h>

#include "aggregator/enroll/tokens.h"
#include "common/base/escape.h"

namespace driftwatch::aggregator {
namespace {

constexpr std::string_view kPrefix = "dwa_";
// A last use is written at most this often per token: an API poller must not turn every read
// into a disk flush.
constexpr int64_t kLastUsedResolution = 60;

std::string hexBytes(const unsigned char* data, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0xf];
  }
  return out;
}

ApiTokenRecord readRecord(const sqlite::Statement& s) {
  ApiTokenRecord r;
  r.name = s.columnText(0);
  r.createdAt = s.columnInt(1);
  if (!s.isNull(2)) r.expiresAt = s.columnInt(2);
  if (!s.isNull(3)) r.lastUsedAt = s.columnInt(3);
  r.scope = s.columnText(4);
  return r;
}

// The token from "Bearer T" (the scheme is case-insensitive, RFC 7235), or empty.
std::string_view bearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    const char c = authorization[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != kScheme[i]) return {};
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ')
    token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ')
    token.remove_suffix(1);
  return token;
}

}  // namespace

Status checkApiTokenName(std::string_view name) {
  const auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == '@';
  };
  bool valid = !name.empty() && name.size() <= 64;
  for (const char c : name)
    valid = valid && ok(c);
  if (!valid)
    return makeError(ErrorCode::kInvalidInput, "a token name is 1 to 64 letters, digits or . _ - @",
                     "--name " + escapeBytes(name));
  return {};
}

Status checkApiTokenScope(std::string_view scope) {
  if (scope != kScopeRead && scope != kScopeWrite)
    return makeError(ErrorCode::kInvalidInput,
                     "must be read (the fleet view, /metrics) or write (also ack, retry, accept "
                     "and waive)",
                     "--scope " + escapeBytes(scope));
  return {};
}

Result<NewApiToken> ApiTokens::create(std::string_view name,
                                      std::optional<std::chrono::seconds> ttl, int64_t nowSeconds,
                                      std::string_view scope) const {
  if (auto s = checkApiTokenName(name); !s.ok()) return s.error();
  if (auto s = checkApiTokenScope(scope); !s.ok()) return s.error();
  unsigned char secret[32];
  if (RAND_bytes(secret, sizeof secret) != 1)
    return makeError(ErrorCode::kInternal, "no randomness for an API token");
  NewApiToken t;
  t.token = std::string(kPrefix) + hexBytes(secret, sizeof secret);
  t.record.name = std::string(name);
  t.record.createdAt = nowSeconds;
  t.record.scope = std::string(scope);
  if (ttl) t.record.expiresAt = nowSeconds + ttl->count();

  const sqlite::Database& db = store_.database();
  auto exists = db.prepare("SELECT 1 FROM api_tokens WHERE name = ?");
  if (!exists.ok()) return exists.error();
  exists->bind(1, name);
  if (exists->step())
    return makeError(ErrorCode::kConflict,
                     "an API token by this name exists: revoke it first "
                     "(`driftwatch-aggregator api-token revoke NAME`) or pick another name",
                     "--name " + std::string(name));
  if (!exists->status().ok()) return exists->status().error();
  auto insert = db.prepare(
      "INSERT INTO api_tokens (hash, name, created_at, expires_at, scope) VALUES (?, ?, "
      "?, ?, ?)");
  if (!insert.ok()) return insert.error();
  insert->bind(1, tokenHash(t.token)).bind(2, name).bind(3, nowSeconds).bind(5, scope);
  if (t.record.expiresAt)
    insert->bind(4, *t.record.expiresAt);
  else
    insert->bindNull(4);
  if (auto s = insert->run(); !s.ok()) return s.error();
  return t;
}

Result<std::vector<ApiTokenRecord>> ApiTokens::list() const {
  auto stmt = store_.database().prepare(
      "SELECT name, created_at, expires_at, last_used_at, scope FROM api_tokens ORDER BY name");
  if (!stmt.ok()) return stmt.error();
  std::vector<ApiTokenRecord> out;
  while (stmt->step())
    out.push_back(readRecord(*stmt));
  if (!stmt->status().ok()) return stmt->status().error();
  return out;
}

Result<bool> ApiTokens::revoke(std::string_view name) const {
  auto stmt = store_.database().prepare("DELETE FROM api_tokens WHERE name = ?");
  if (!stmt.ok()) return stmt.error();
  if (auto s = stmt->bind(1, name).run(); !s.ok()) return s.error();
  return store_.database().changes() > 0;
}

Result<std::optional<ApiTokenRecord>> ApiTokens::lookup(std::string_view token) const {
  // Looked up by its hash: the secret is never compared byte by byte.
  auto stmt = store_.database().prepare(
      "SELECT name, created_at, expires_at, last_used_at, scope FROM api_tokens WHERE hash = ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind(1, tokenHash(token));
  if (!stmt->step()) {
    if (!stmt->status().ok()) return stmt->status().error();
    return std::optional<ApiTokenRecord>();
  }
  return std::optional<ApiTokenRecord>(readRecord(*stmt));
}

Result<std::optional<ApiTokenRecord>> ApiTokens::find(std::string_view authorization,
                                                      int64_t nowSeconds) const {
  const std::string_view token = bearerToken(authorization);
  if (token.empty()) return std::optional<ApiTokenRecord>();
  auto record = lookup(token);
  if (!record.ok() || !*record) return record;
  if ((*record)->expiresAt && nowSeconds >= *(*record)->expiresAt)
    return std::optional<ApiTokenRecord>();
  return record;
}

Result<std::variant<ApiTokenRecord, ApiAuthFailure>> ApiTokens::authenticate(
    std::string_view authorization, int64_t nowSeconds) const {
  using Outcome = std::variant<ApiTokenRecord, ApiAuthFailure>;
  if (authorization.empty()) return Outcome(ApiAuthFailure{"no Authorization header"});
  const std::string_view token = bearerToken(authorization);
  if (token.empty()) return Outcome(ApiAuthFailure{"not a Bearer credential"});
  auto found = lookup(token);
  if (!found.ok()) return found.error();
  if (!*found) return Outcome(ApiAuthFailure{"unknown token"});
  ApiTokenRecord record = std::move(**found);
  if (record.expiresAt && nowSeconds >= *record.expiresAt)
    return Outcome(ApiAuthFailure{"expired token " + record.name});
  if (!record.lastUsedAt || nowSeconds - *record.lastUsedAt >= kLastUsedResolution) {
    auto touch = store_.database().prepare("UPDATE api_tokens SET last_used_at = ? WHERE name = ?");
    if (!touch.ok()) return touch.error();
    if (auto s = touch->bind(1, nowSeconds).bind(2, record.name).run(); !s.ok()) return s.error();
    record.lastUsedAt = nowSeconds;
  }
  return Outcome(std::move(record));
}

}  // namespace driftwatch::aggregator
