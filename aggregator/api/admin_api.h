#pragma once
// The admin REST API (GET /api/v1/...) and GET /metrics, on the agents' port. Admins and
// scrapers authenticate with a bearer API token (aggregator/api/api_tokens.h), not a client
// certificate; a refusal is a 401 with WWW-Authenticate and an audit record (never the token).
// Answers are the JSON views the admin commands print (aggregator/api/json_views.h), read
// through a LocalFleetReader; errors are {"error": "..."} with 400 (naming the bad parameter),
// 401, 404 or 405. Every byte of a request is hostile: targets are parsed strictly
// (aggregator/api/query_string.h). Runs on the store thread, like every handler.
//
// GET / is the fleet view (aggregator/api/web_page.h): the page itself holds no fleet data and
// is served without a token; it asks for one and then reads this API like any client.
//
// Endpoints: docs/aggregator.md, "Admin API".

#include <string_view>

#include "aggregator/api/api_tokens.h"
#include "aggregator/api/fleet_reader.h"
#include "aggregator/api/metrics.h"
#include "aggregator/api/web_page.h"
#include "aggregator/audit/audit_log.h"
#include "aggregator/http/messages.h"

namespace driftwatch::aggregator {

// The largest request body the admin endpoints accept: they are all GETs.
inline constexpr size_t kMaxAdminBodyBytes = 4 * 1024;

class AdminApi {
 public:
  AdminApi(FleetStore& store, AuditLog& audit, const Metrics& metrics,
           DriftFlagRules flagRules = {}, LocalFleetReader::Clock nowMs = {});

  // Whether `target` is one of this API's (the rest belongs to the agents' endpoints).
  static bool serves(std::string_view target);
  HttpResponse handle(const HttpRequest& request);

 private:
  HttpResponse route(const HttpRequest& request);

  AuditLog& audit_;
  const Metrics& metrics_;
  ApiTokens tokens_;
  LocalFleetReader reader_;
  LocalFleetReader::Clock nowMs_;
  WebPage page_;
};

}  // namespace driftwatch::aggregator
