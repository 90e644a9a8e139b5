#include "aggregator/cli/remote_api.h"

#include "aggregator/api/query_string.h"
#include "common/base/escape.h"
#include "common/net/https_client.h"

namespace driftwatch::aggregator {
namespace {

// Fleet views can be large (every drift item of a big fleet), but not unbounded.
constexpr size_t kMaxReplyBytes = 256u << 20;

struct ServerUrl {
  std::string host;
  std::string port;
};

Result<ServerUrl> parseServerUrl(std::string_view url) {
  const auto bad = [&](std::string_view why) {
    return makeError(ErrorCode::kInvalidInput,
                     std::string(why) + " (like https://fleet.example.net:8443)",
                     "--server " + escapeBytes(url));
  };
  constexpr std::string_view kScheme = "https://";
  if (!url.starts_with(kScheme)) return bad("the admin API speaks HTTPS only: use https://");
  std::string_view rest = url.substr(kScheme.size());
  if (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos)
    return bad("give the server only, without a path");
  ServerUrl out;
  std::string_view port;
  if (rest.starts_with('[')) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("an IPv6 address needs its closing ']'");
    out.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (!rest.empty() && rest.front() != ':') return bad("':PORT' must follow the address");
    if (!rest.empty()) port = rest.substr(1);
  } else {
    const size_t colon = rest.find(':');
    out.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  if (out.host.empty()) return bad("no host name");
  if (port.empty()) port = "443";
  for (const char c : port) {
    if (c < '0' || c > '9') return bad("the port must be a number");
  }
  if (port.size() > 5 || std::stoi(std::string(port)) > 65535 || std::stoi(std::string(port)) == 0)
    return bad("the port must be 1 to 65535");
  out.port = std::string(port);
  return out;
}

class RemoteAdminApi : public FleetReader, public FleetActions {
 public:
  RemoteAdminApi(net::HttpsClientOptions client, std::string server, std::string token)
      : client_(std::move(client)), server_(std::move(server)), token_(std::move(token)) {}

  Result<Json> hosts() override { return get("/api/v1/hosts"); }
  Result<Json> host(const std::string& id) override {
    return get("/api/v1/hosts/" + percentEncode(id));
  }
  Result<Json> history(const HistoryQuery& q) override {
    std::string target =
        "/api/v1/hosts/" + percentEncode(q.host) + "/history?limit=" + std::to_string(q.limit);
    if (!q.resource.empty()) target += "&resource=" + percentEncode(q.resource);
    return get(target);
  }
  Result<Json> gaps(const std::string& host) override {
    return get("/api/v1/hosts/" + percentEncode(host) + "/gaps");
  }
  Result<Json> drift(const DriftQuery& q) override {
    std::string target = "/api/v1/drift?status=" + percentEncode(q.status);
    if (!q.host.empty()) target += "&host=" + percentEncode(q.host);
    if (q.label) target += "&label=" + percentEncode(q.label->first + "=" + q.label->second);
    if (!q.severity.empty()) target += "&severity=" + percentEncode(q.severity);
    if (!q.direction.empty()) target += "&direction=" + percentEncode(q.direction);
    // Milliseconds: parseDuration on the server reads "1500ms" exactly.
    if (q.creep) target += "&creep=true";
    if (q.recurring) target += "&recurring=true";
    if (q.minAge) target += "&min_age=" + std::to_string(q.minAge->count()) + "ms";
    return get(target);
  }
  Result<Json> policies() override { return get("/api/v1/policies"); }
  Result<Json> policy(const std::string& name, int64_t version) override {
    std::string target = "/api/v1/policies/" + percentEncode(name);
    if (version != 0) target += "?version=" + std::to_string(version);
    return get(target);
  }
  Result<Json> policyHistory(const std::string& name) override {
    return get("/api/v1/policies/" + percentEncode(name) + "/history");
  }
  Result<Json> policyDiff(const PolicyDiffQuery& q) override {
    std::string target = "/api/v1/policies/" + percentEncode(q.name) + "/diff";
    std::string sep = "?";
    if (q.from != 0) {
      target += sep + "from=" + std::to_string(q.from);
      sep = "&";
    }
    if (q.to != 0) target += sep + "to=" + std::to_string(q.to);
    return get(target);
  }
  Result<Json> audit(int64_t limit) override {
    return get("/api/v1/audit?limit=" + std::to_string(limit));
  }
  Result<Json> alerts(const AlertQuery& q) override {
    std::string target =
        "/api/v1/alerts?status=" + percentEncode(q.status) + "&limit=" + std::to_string(q.limit);
    if (!q.host.empty()) target += "&host=" + percentEncode(q.host);
    return get(target);
  }
  Result<Json> alert(int64_t id) override { return get("/api/v1/alerts/" + std::to_string(id)); }
  Result<Json> deliveries(const std::string& status) override {
    return get("/api/v1/deliveries?status=" + percentEncode(status));
  }

  Result<Json> acknowledge(int64_t alertId, const std::string& by) override {
    return post("/api/v1/alerts/" + std::to_string(alertId) + "/ack", Json{{"by", by}});
  }
  Result<Json> retryDelivery(int64_t deliveryId, const std::string& by) override {
    return post("/api/v1/deliveries/" + std::to_string(deliveryId) + "/retry", Json{{"by", by}});
  }
  Result<Json> accept(const DecisionRequest& r) override {
    return post(
        "/api/v1/drift/accept",
        Json{{"host", r.host}, {"resource", r.resource}, {"reason", r.reason}, {"by", r.by}});
  }
  Result<Json> waive(const DecisionRequest& r) override {
    Json body{{"host", r.host}, {"resource", r.resource}, {"reason", r.reason}, {"by", r.by}};
    // The expiry as given: a duration counts from the aggregator's clock, not this host's.
    if (!r.until.empty()) body["until"] = r.until;
    if (!r.forDuration.empty()) body["for"] = r.forDuration;
    return post("/api/v1/drift/waive", body);
  }
  Result<Json> applyPolicies(const PolicyUpload& upload) override {
    Json policies = Json::array();
    for (const auto& p : upload.policies) {
      // Sent as JSON text, which is UTF-8: anything else would arrive changed, and a policy must
      // be stored byte for byte as it was tested.
      if (!isValidUtf8(p.text))
        return makeError(ErrorCode::kInvalidInput,
                         "not UTF-8: --server sends policies as text; convert the file to UTF-8",
                         displaySafe(p.path));
      if (p.baseline && !isValidUtf8(*p.baseline))
        return makeError(ErrorCode::kInvalidInput,
                         "not UTF-8: --server sends baselines as text; convert the file to UTF-8",
                         displaySafe(p.baselinePath));
      policies.push_back({{"path", p.path},
                          {"text", p.text},
                          {"baseline_path", p.baselinePath},
                          {"baseline", p.baseline ? Json(*p.baseline) : Json(nullptr)},
                          {"git_commit", p.gitCommit}});
    }
    return post(
        "/api/v1/policies",
        Json{{"policies", std::move(policies)}, {"message", upload.message}, {"by", upload.by}});
  }
  Result<Json> maintenance(bool all) override {
    return get(std::string("/api/v1/maintenance?all=") + (all ? "true" : "false"));
  }
  Result<Json> addMaintenance(const MaintenanceRequest& r) override {
    Json body{{"selector", r.selector}, {"reason", r.reason}, {"by", r.by}};
    // Times as given: "now" and a duration are read on the aggregator's clock.
    if (!r.start.empty()) body["start"] = r.start;
    if (!r.end.empty()) body["end"] = r.end;
    if (!r.forDuration.empty()) body["for"] = r.forDuration;
    return post("/api/v1/maintenance", body);
  }
  Result<Json> endMaintenance(int64_t id, const std::string& by) override {
    return post("/api/v1/maintenance/" + std::to_string(id) + "/end", Json{{"by", by}});
  }
  Result<Json> revokeHost(const std::string& id, const std::string& by) override {
    return post("/api/v1/hosts/" + percentEncode(id) + "/revoke", Json{{"by", by}});
  }
  Result<Json> removePolicies(const PolicyRemoval& removal) override {
    return post("/api/v1/policies/remove",
                Json{{"names", removal.names}, {"message", removal.message}, {"by", removal.by}});
  }

 private:
  Result<Json> get(const std::string& target) { return call("GET", target, ""); }
  Result<Json> post(const std::string& target, const Json& body) {
    // Free text that is not UTF-8 (a --reason from a legacy terminal) is sent with U+FFFD in its
    // place rather than failing the command; policy text was checked above.
    return call("POST", target, body.dump(-1, ' ', false, Json::error_handler_t::replace));
  }

  Result<Json> call(std::string_view method, const std::string& target,
                    const std::string& content) {
    auto reply =
        client_.request(method, target, content, content.empty() ? "" : "application/json",
                        {{"Authorization", "Bearer " + token_}, {"Accept", "application/json"}});
    if (!reply.ok()) return reply.error();
    const Json body = Json::parse(reply->body, nullptr, false);
    if (reply->status == 200) {
      if (body.is_discarded())
        return makeError(ErrorCode::kIo, "the server's answer is not JSON", server_);
      return body;
    }
    std::string message = "HTTP " + std::to_string(reply->status);
    if (!body.is_discarded() && body.is_object() && body.contains("error") &&
        body["error"].is_string())
      message = safeLines(body["error"].get<std::string>());
    switch (reply->status) {
      case 400:
        return makeError(ErrorCode::kInvalidInput, message);
      case 404:
        return makeError(ErrorCode::kNotFound, message);
      case 409:
        return makeError(ErrorCode::kConflict, message);
      case 401:
        return makeError(ErrorCode::kPermission,
                         message + " (check --token, --token-file or DRIFTWATCH_TOKEN)", server_);
      case 403:
        return makeError(ErrorCode::kPermission, message, server_);
      default:
        return makeError(ErrorCode::kIo, message, server_);
    }
  }

  net::HttpsClient client_;
  std::string server_;
  std::string token_;
};

Result<std::unique_ptr<RemoteAdminApi>> openRemote(const RemoteOptions& options) {
  auto url = parseServerUrl(options.server);
  if (!url.ok()) return url.error();
  if (options.token.empty())
    return makeError(ErrorCode::kInvalidInput,
                     "--server needs an API token: --token-file FILE, DRIFTWATCH_TOKEN or --token "
                     "(create one with `driftwatch-aggregator api-token create` on the server)");
  net::HttpsClientOptions client;
  client.host = url->host;
  client.port = url->port;
  client.pinnedCaFingerprint = options.caFingerprint;
  client.caPem = options.caPem;
  client.userAgent = "driftwatch-aggregator";
  client.maxReplyBytes = kMaxReplyBytes;
  std::string shown = options.server;
  while (shown.ends_with('/'))
    shown.pop_back();
  return std::make_unique<RemoteAdminApi>(std::move(client), shown, options.token);
}

}  // namespace

Result<std::unique_ptr<FleetReader>> openRemoteReader(const RemoteOptions& options) {
  auto api = openRemote(options);
  if (!api.ok()) return api.error();
  return std::unique_ptr<FleetReader>(std::move(*api));
}

Result<std::unique_ptr<FleetActions>> openRemoteActions(const RemoteOptions& options) {
  auto api = openRemote(options);
  if (!api.ok()) return api.error();
  return std::unique_ptr<FleetActions>(std::move(*api));
}

}  // namespace driftwatch::aggregator
