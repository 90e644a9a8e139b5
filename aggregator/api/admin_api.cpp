#include "aggregator/api/admin_api.h"

#include <chrono>

#include "aggregator/api/query_string.h"
#include "aggregator/api/request_body.h"
#include "common/base/escape.h"
#include "common/base/units.h"

namespace driftwatch::aggregator {
namespace {

constexpr std::string_view kJsonType = "application/json";
constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";
// Admin answers hold the fleet's configuration: no cache may keep them.
constexpr std::string_view kNoStore = "no-store";
constexpr int64_t kMaxLimit = 1'000'000;

int64_t systemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

HttpResponse json(int status, const Json& body, HttpHeaders extra = {}) {
  extra.emplace_back("Cache-Control", kNoStore);
  return HttpResponse(status, std::string(kJsonType), dumpJson(body) + "\n", std::move(extra));
}

HttpResponse errorResponse(int status, std::string_view message, HttpHeaders extra = {}) {
  // Line breaks stay: an apply refused for several problems lists one per line.
  return json(status, Json{{"error", safeLines(message)}}, std::move(extra));
}

int statusOf(const Error& e) {
  switch (e.code) {
    case ErrorCode::kInvalidInput:
      return 400;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kLimit:
      return 422;
    default:
      return 500;
  }
}

HttpResponse answer(const Result<Json>& view) {
  if (!view.ok()) return errorResponse(statusOf(view.error()), view.error().describe());
  return json(200, *view);
}

HttpResponse failed(const Error& e) {
  return errorResponse(statusOf(e), e.describe());
}

bool isApiPath(std::string_view path) {
  return path == "/api" || path.starts_with("/api/");
}

// The POST endpoints: /api/v1/alerts/ID/ack, /api/v1/deliveries/ID/retry, /api/v1/hosts/ID/revoke,
// /api/v1/maintenance/ID/end, /api/v1/drift/accept and /api/v1/drift/waive; /api/v1/policies,
// /api/v1/policies/remove and /api/v1/maintenance when posted to (a GET of them reads the
// policies, the policy named "remove", the windows).
bool isAction(const std::vector<std::string>& seg, std::string_view method) {
  if (seg.size() < 3 || seg[0] != "api" || seg[1] != "v1") return false;
  if (seg[2] == "policies")
    return method == "POST" && (seg.size() == 3 || (seg.size() == 4 && seg[3] == "remove"));
  if (seg[2] == "maintenance" && seg.size() == 3) return method == "POST";
  if (seg.size() < 4) return false;
  if (seg.size() == 5)
    return (seg[2] == "alerts" && seg[4] == "ack") ||
           (seg[2] == "deliveries" && seg[4] == "retry") ||
           (seg[2] == "hosts" && seg[4] == "revoke") ||
           (seg[2] == "maintenance" && seg[4] == "end");
  return seg.size() == 4 && seg[2] == "drift" && (seg[3] == "accept" || seg[3] == "waive");
}

// An alert's or delivery's id in a path: a positive decimal number.
std::optional<int64_t> idOf(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t id = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    id = id * 10 + (c - '0');
  }
  return id > 0 ? std::optional<int64_t>(id) : std::nullopt;
}

}  // namespace

AdminApi::AdminApi(FleetStore& store, AuditLog& audit, const Metrics& metrics,
                   AdminApiOptions options, LocalFleetReader::Clock nowMs)
    : store_(store),
      audit_(audit),
      options_(options),
      metrics_(metrics),
      tokens_(store),
      reader_(store, options.flagRules, nowMs),
      nowMs_(nowMs ? std::move(nowMs) : LocalFleetReader::Clock(systemNowMs)) {}

bool AdminApi::takesUpload(std::string_view method, std::string_view target) {
  return method == "POST" && target.substr(0, target.find('?')) == "/api/v1/policies";
}

bool AdminApi::serves(std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  return isApiPath(path) || path == "/metrics" || path == "/";
}

HttpResponse AdminApi::handle(const HttpRequest& request) {
  const std::string_view path =
      std::string_view(request.target).substr(0, request.target.find('?'));
  if (path == "/") {
    if (request.method != "GET") return errorResponse(405, "use GET", {{"Allow", "GET"}});
    return page_.serve(request.ifNoneMatch);
  }
  // Credentials first: an unauthenticated client learns nothing, not even which paths exist.
  auto auth = tokens_.authenticate(request.authorization, nowMs_() / 1000);
  if (!auth.ok()) return failed(auth.error());
  if (const auto* refused = std::get_if<ApiAuthFailure>(&*auth)) {
    const std::string shownPath = displaySafe(path.substr(0, 200));
    audit_.recordUnauthenticated(
        "api_auth_failed", request.peer.address,
        refused->reason + " for " + displaySafe(request.method.substr(0, 16)) + " " + shownPath);
    const bool presented = !request.authorization.empty();
    const std::string challenge = presented ? R"(Bearer realm="driftwatch", error="invalid_token")"
                                            : R"(Bearer realm="driftwatch")";
    return errorResponse(401,
                         presented ? "the API token is not valid (unknown, revoked or expired)"
                                   : "an API token is required: Authorization: Bearer TOKEN "
                                     "(create one with `driftwatch-aggregator api-token create`)",
                         {{"WWW-Authenticate", challenge}});
  }
  return route(request, std::get<ApiTokenRecord>(*auth));
}

HttpResponse AdminApi::route(const HttpRequest& request, const ApiTokenRecord& token) {
  auto target = parseTarget(request.target);
  if (!target.ok()) return failed(target.error());
  const auto& seg = target->segments;
  if (isAction(seg, request.method)) {
    if (request.method != "POST") return errorResponse(405, "use POST", {{"Allow", "POST"}});
    return act(request, token, *target);
  }
  if (request.method != "GET") return errorResponse(405, "use GET", {{"Allow", "GET"}});
  const auto params = [&](std::initializer_list<std::string_view> allowed) {
    return QueryParameters::parse(target->query, allowed);
  };
  const auto notFound = [] {
    return errorResponse(404, "no such endpoint (see docs/aggregator.md, \"Admin API\")");
  };

  if (seg.size() == 1 && seg[0] == "metrics") {
    if (auto q = params({}); !q.ok()) return failed(q.error());
    auto text = metrics_.render(nowMs_());
    if (!text.ok()) return failed(text.error());
    return HttpResponse(200, std::string(kMetricsType), std::move(*text),
                        {{"Cache-Control", std::string(kNoStore)}});
  }
  if (seg.size() < 3 || seg[0] != "api" || seg[1] != "v1") return notFound();
  const std::string& collection = seg[2];
  const size_t n = seg.size();

  if (collection == "hosts") {
    if (n == 3) {
      if (auto q = params({}); !q.ok()) return failed(q.error());
      return answer(reader_.hosts());
    }
    const std::string& id = seg[3];
    if (n == 4) {
      if (auto q = params({}); !q.ok()) return failed(q.error());
      return answer(reader_.host(id));
    }
    if (n == 5 && seg[4] == "history") {
      auto q = params({"resource", "limit"});
      if (!q.ok()) return failed(q.error());
      auto limit = q->number("limit", 100, 1, kMaxLimit);
      if (!limit.ok()) return failed(limit.error());
      return answer(reader_.history(HistoryQuery{id, q->get("resource").value_or(""), *limit}));
    }
    if (n == 5 && seg[4] == "gaps") {
      if (auto q = params({}); !q.ok()) return failed(q.error());
      return answer(reader_.gaps(id));
    }
    return notFound();
  }

  if (collection == "drift" && n == 3) {
    auto q = params(
        {"host", "label", "severity", "status", "direction", "min_age", "creep", "recurring"});
    if (!q.ok()) return failed(q.error());
    DriftQuery drift;
    drift.host = q->get("host").value_or("");
    drift.status = q->get("status").value_or("open");
    drift.severity = q->get("severity").value_or("");
    drift.direction = q->get("direction").value_or("");
    for (const auto& [name, flag] :
         {std::pair<const char*, bool*>{"creep", &drift.creep},
          std::pair<const char*, bool*>{"recurring", &drift.recurring}}) {
      const auto text = q->get(name);
      if (!text) continue;
      if (*text != "true" && *text != "false")
        return errorResponse(
            400, std::string(name) + "=" + escapeBytes(*text) + ": must be true or false");
      *flag = *text == "true";
    }
    if (auto label = q->get("label")) {
      auto parsed = parseLabelFilter(*label, FieldNames::kQueryParameters);
      if (!parsed.ok()) return failed(parsed.error());
      drift.label = std::move(*parsed);
    }
    if (auto minAge = q->get("min_age")) {
      drift.minAge = parseDuration(*minAge);
      if (!drift.minAge)
        return errorResponse(
            400, "min_age=" + escapeBytes(*minAge) + ": not a duration (like 30m, 12h, 7d)");
    }
    if (auto s = checkDriftQuery(drift, FieldNames::kQueryParameters); !s.ok())
      return failed(s.error());
    return answer(reader_.drift(drift));
  }

  if (collection == "policies") {
    if (n == 3) {
      if (auto q = params({}); !q.ok()) return failed(q.error());
      return answer(reader_.policies());
    }
    const std::string& name = seg[3];
    if (n == 4) {
      auto q = params({"version"});
      if (!q.ok()) return failed(q.error());
      auto version = q->number("version", 0, 1, kMaxLimit * 1000);
      if (!version.ok()) return failed(version.error());
      return answer(reader_.policy(name, *version));
    }
    if (n == 5 && seg[4] == "history") {
      if (auto q = params({}); !q.ok()) return failed(q.error());
      return answer(reader_.policyHistory(name));
    }
    if (n == 5 && seg[4] == "diff") {
      auto q = params({"from", "to"});
      if (!q.ok()) return failed(q.error());
      auto from = q->number("from", 0, 1, kMaxLimit * 1000);
      if (!from.ok()) return failed(from.error());
      auto to = q->number("to", 0, 1, kMaxLimit * 1000);
      if (!to.ok()) return failed(to.error());
      return answer(reader_.policyDiff(PolicyDiffQuery{name, *from, *to}));
    }
    return notFound();
  }

  if (collection == "alerts") {
    if (n == 3) {
      auto q = params({"status", "host", "limit"});
      if (!q.ok()) return failed(q.error());
      AlertQuery alerts;
      alerts.status = q->get("status").value_or("unresolved");
      alerts.host = q->get("host").value_or("");
      auto limit = q->number("limit", 1000, 1, kMaxLimit);
      if (!limit.ok()) return failed(limit.error());
      alerts.limit = *limit;
      return answer(reader_.alerts(alerts));
    }
    if (n == 4) {
      if (auto q = params({}); !q.ok()) return failed(q.error());
      const auto id = idOf(seg[3]);
      if (!id) return errorResponse(404, "an alert id is a number (see GET /api/v1/alerts)");
      return answer(reader_.alert(*id));
    }
    return notFound();
  }

  if (collection == "deliveries" && n == 3) {
    auto q = params({"status"});
    if (!q.ok()) return failed(q.error());
    return answer(reader_.deliveries(q->get("status").value_or("dead")));
  }

  if (collection == "maintenance" && n == 3) {
    auto q = params({"all"});
    if (!q.ok()) return failed(q.error());
    const auto all = q->get("all").value_or("false");
    if (all != "true" && all != "false")
      return errorResponse(400, "all=" + escapeBytes(all) + ": must be true or false");
    return answer(reader_.maintenance(all == "true"));
  }

  if (collection == "audit" && n == 3) {
    auto q = params({"limit"});
    if (!q.ok()) return failed(q.error());
    auto limit = q->number("limit", 100, 1, kMaxLimit);
    if (!limit.ok()) return failed(limit.error());
    return answer(reader_.audit(*limit));
  }
  return notFound();
}

HttpResponse AdminApi::act(const HttpRequest& request, const ApiTokenRecord& token,
                           const RequestTarget& target) {
  const auto& seg = target.segments;
  const std::string shownPath = displaySafe(request.target.substr(0, 200));
  if (token.scope != kScopeWrite) {
    audit_.recordLimited("api_write_refused", "", request.peer.address,
                         "read-only API token " + token.name + " for POST " + shownPath);
    return errorResponse(403, "API token " + token.name +
                                  " may only read: acting on the fleet needs a token created with "
                                  "`driftwatch-aggregator api-token create --scope write`");
  }
  if (!target.query.empty())
    return errorResponse(400, "this endpoint takes its fields in a JSON body, not the query");
  LocalActionOptions options;
  options.actor = "API token " + token.name + " from " + request.peer.address;
  options.names = FieldNames::kQueryParameters;
  options.alertSettle = options_.alertSettle;
  options.flagRules = options_.flagRules;
  options.alertsChanged = options_.alertsChanged;
  LocalFleetActions actions(store_, audit_, std::move(options), nowMs_);

  if (seg[2] == "maintenance") {
    if (seg.size() == 3) {
      auto body = RequestBody::parse(request.contentType, request.body,
                                     {"selector", "start", "end", "for", "reason", "by"});
      if (!body.ok()) return failed(body.error());
      if (!body->get("reason")) return errorResponse(400, "reason: required (a JSON string field)");
      return answer(
          actions.addMaintenance(MaintenanceRequest{.selector = body->value("selector"),
                                                    .start = body->value("start"),
                                                    .end = body->value("end"),
                                                    .forDuration = body->value("for"),
                                                    .reason = body->value("reason"),
                                                    .by = body->value("by", token.name)}));
    }
    const auto id = idOf(seg[3]);
    if (!id) return errorResponse(404, "a window id is a number (see GET /api/v1/maintenance)");
    auto body = RequestBody::parse(request.contentType, request.body, {"by"});
    if (!body.ok()) return failed(body.error());
    return answer(actions.endMaintenance(*id, body->value("by", token.name)));
  }
  if (seg[2] == "hosts") {
    auto body = RequestBody::parse(request.contentType, request.body, {"by"});
    if (!body.ok()) return failed(body.error());
    return answer(actions.revokeHost(seg[3], body->value("by", token.name)));
  }
  if (seg[2] == "policies") {
    if (seg.size() == 3) {
      auto upload = parsePolicyUpload(request.contentType, request.body, token.name);
      if (!upload.ok()) return failed(upload.error());
      return answer(actions.applyPolicies(*upload));
    }
    auto removal = parsePolicyRemoval(request.contentType, request.body, token.name);
    if (!removal.ok()) return failed(removal.error());
    return answer(actions.removePolicies(*removal));
  }
  if (seg[2] == "alerts" || seg[2] == "deliveries") {
    const auto id = idOf(seg[3]);
    if (!id)
      return errorResponse(404, seg[2] == "alerts"
                                    ? "an alert id is a number (see GET /api/v1/alerts)"
                                    : "a delivery id is a number (see GET /api/v1/deliveries)");
    auto body = RequestBody::parse(request.contentType, request.body, {"by"});
    if (!body.ok()) return failed(body.error());
    const std::string by = body->value("by", token.name);
    return answer(seg[2] == "alerts" ? actions.acknowledge(*id, by)
                                     : actions.retryDelivery(*id, by));
  }
  const bool waive = seg[3] == "waive";
  auto body = waive ? RequestBody::parse(request.contentType, request.body,
                                         {"host", "resource", "reason", "by", "until", "for"})
                    : RequestBody::parse(request.contentType, request.body,
                                         {"host", "resource", "reason", "by"});
  if (!body.ok()) return failed(body.error());
  for (const char* required : {"host", "resource", "reason"}) {
    if (!body->get(required))
      return errorResponse(400, std::string(required) + ": required (a JSON string field)");
  }
  DecisionRequest decision{.host = body->value("host"),
                           .resource = body->value("resource"),
                           .reason = body->value("reason"),
                           .by = body->value("by", token.name),
                           .until = body->value("until"),
                           .forDuration = body->value("for")};
  return answer(waive ? actions.waive(decision) : actions.accept(decision));
}

}  // namespace driftwatch::aggregator
