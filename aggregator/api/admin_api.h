#pragma once
// The admin REST API (/api/v1/...) and GET /metrics, on the agents' port. Admins and scrapers
// authenticate with a bearer API token (aggregator/api/api_tokens.h), not a client
// certificate; a refusal is a 401 with WWW-Authenticate and an audit record (never the token).
// GETs read the fleet through a LocalFleetReader; POSTs act on it (ack an alert, retry a
// delivery, accept or waive drift) through a LocalFleetActions, and need a token with the
// write scope (else 403). Answers are the JSON views the admin commands print
// (aggregator/api/json_views.h); errors are {"error": "..."} with 400 (naming the bad
// parameter or field), 401, 403, 404, 405 or 409 (the thing is not in a state the action
// applies to). Every byte of a request is hostile: targets and bodies are parsed strictly
// (aggregator/api/query_string.h, request_body.h). Runs on the store thread, like every
// handler.
//
// GET / is the fleet view (aggregator/api/web_page.h): the page itself holds no fleet data and
// is served without a token; it asks for one and then reads this API like any client.
//
// Endpoints: docs/aggregator.md, "Admin API".

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "aggregator/api/api_tokens.h"
#include "aggregator/api/fleet_actions.h"
#include "aggregator/api/fleet_reader.h"
#include "aggregator/api/metrics.h"
#include "aggregator/api/query_string.h"
#include "aggregator/api/web_page.h"
#include "aggregator/audit/audit_log.h"
#include "aggregator/http/messages.h"

namespace driftwatch::aggregator {

// The largest request body the admin endpoints accept: a few short fields (request_body.h);
// a policy upload (POST /api/v1/policies, takesUpload()) with a write token may carry a whole
// checkout: each text up to kMaxPolicyUploadBytes, JSON-escaped.
inline constexpr size_t kMaxAdminBodyBytes = 16 * 1024;
inline constexpr size_t kMaxAdminUploadBytes = 32u << 20;

struct AdminApiOptions {
  DriftFlagRules flagRules;                                         // creep_after, ...
  std::chrono::milliseconds alertSettle{std::chrono::seconds(30)};  // alerts.settle
  std::function<void()> alertsChanged{};                            // see LocalActionOptions
};

class AdminApi {
 public:
  AdminApi(FleetStore& store, AuditLog& audit, const Metrics& metrics, AdminApiOptions options = {},
           LocalFleetReader::Clock nowMs = {});

  // Whether `target` is one of this API's (the rest belongs to the agents' endpoints).
  static bool serves(std::string_view target);
  // Whether a request is a policy upload, which may have a large body.
  static bool takesUpload(std::string_view method, std::string_view target);
  HttpResponse handle(const HttpRequest& request);

 private:
  HttpResponse route(const HttpRequest& request, const ApiTokenRecord& token);
  HttpResponse act(const HttpRequest& request, const ApiTokenRecord& token,
                   const RequestTarget& target);

  FleetStore& store_;
  AuditLog& audit_;
  AdminApiOptions options_;
  const Metrics& metrics_;
  ApiTokens tokens_;
  LocalFleetReader reader_;
  LocalFleetReader::Clock nowMs_;
  WebPage page_;
};

}  // namespace driftwatch::aggregator
