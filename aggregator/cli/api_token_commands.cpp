// `driftwatch-aggregator api-token ...`: bearer tokens for the admin API and /metrics.

#include <chrono>
#include <iostream>

#include "aggregator/api/api_tokens.h"
#include "aggregator/audit/audit_log.h"
#include "aggregator/cli/admin_support.h"
#include "aggregator/cli/commands.h"
#include "common/base/units.h"

namespace driftwatch::aggregator {
namespace {

std::string optionalTime(const std::optional<int64_t>& seconds, const char* none) {
  return seconds ? utc(*seconds) : std::string(none);
}

}  // namespace

int runApiTokenCreate(const ApiTokenArgs& args) {
  if (auto s = checkApiTokenName(args.name); !s.ok()) return fail(s.error());
  if (auto s = checkApiTokenScope(args.scope); !s.ok()) return fail(s.error());
  std::optional<std::chrono::seconds> ttl;
  if (!args.ttl.empty()) {
    const auto parsed = parseDuration(args.ttl);
    if (!parsed || parsed->count() < 1000)
      return fail("--ttl " + args.ttl + ": not a duration of at least 1s (like 12h, 90d)");
    ttl = std::chrono::duration_cast<std::chrono::seconds>(*parsed);
  }
  auto opened = openAdminStore(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto token = ApiTokens(opened->store).create(args.name, ttl, nowSeconds(), args.scope);
  if (!token.ok()) return fail(token.error());
  auto audit = AuditLog::open(opened->store, opened->config.auditLog);
  if (audit.ok()) {
    audit->record("api_token_created", "", "admin",
                  "API token " + args.name + " (" + args.scope + "), expires " +
                      optionalTime(token->record.expiresAt, "never"));
  }
  if (args.common.format == "json") {
    printJson(Json{{"token", token->token},
                   {"name", token->record.name},
                   {"scope", token->record.scope},
                   {"created_at", utc(token->record.createdAt)},
                   {"expires_at", token->record.expiresAt ? Json(utc(*token->record.expiresAt))
                                                          : Json(nullptr)}});
  } else {
    // Alone on stdout, so that `... > token-file` keeps it and nothing else.
    std::cout << token->token << "\n";
  }
  return kExitOk;
}

int runApiTokenList(const CommonArgs& args) {
  auto opened = openAdminStore(args);
  if (!opened.ok()) return fail(opened.error());
  auto tokens = ApiTokens(opened->store).list();
  if (!tokens.ok()) return fail(tokens.error());
  const int64_t now = nowSeconds();
  const auto stateOf = [&](const ApiTokenRecord& t) {
    return t.expiresAt && now >= *t.expiresAt ? "expired" : "usable";
  };
  if (args.format == "json") {
    Json out = Json::array();
    for (const auto& t : *tokens) {
      out.push_back({{"name", t.name},
                     {"scope", t.scope},
                     {"created_at", utc(t.createdAt)},
                     {"expires_at", t.expiresAt ? Json(utc(*t.expiresAt)) : Json(nullptr)},
                     {"last_used_at", t.lastUsedAt ? Json(utc(*t.lastUsedAt)) : Json(nullptr)},
                     {"state", stateOf(t)}});
    }
    printJson(out);
    return kExitOk;
  }
  if (tokens->empty()) {
    std::cout << "no API tokens: create one with `driftwatch-aggregator api-token create --name "
                 "NAME`\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "SCOPE", "CREATED", "EXPIRES", "LAST USED", "STATE"}};
  for (const auto& t : *tokens) {
    rows.push_back({t.name, t.scope, utc(t.createdAt), optionalTime(t.expiresAt, "never"),
                    optionalTime(t.lastUsedAt, "never"), stateOf(t)});
  }
  printTable(rows);
  return kExitOk;
}

int runApiTokenRevoke(const ApiTokenArgs& args) {
  if (auto s = checkApiTokenName(args.name); !s.ok()) return fail(s.error());
  auto opened = openAdminStore(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto revoked = ApiTokens(opened->store).revoke(args.name);
  if (!revoked.ok()) return fail(revoked.error());
  if (!*revoked)
    return fail("no API token named " + args.name +
                " (see `driftwatch-aggregator api-token list`)");
  auto audit = AuditLog::open(opened->store, opened->config.auditLog);
  if (audit.ok()) audit->record("api_token_revoked", "", "admin", "API token " + args.name);
  std::cout << "revoked API token " << args.name << ": requests with it are refused from now on\n";
  return kExitOk;
}

}  // namespace driftwatch::aggregator
